/*
 * conflicts: which paths two commits both change, and which of them a merge
 * could not resolve, computed in memory (CONTRACT §6).
 *
 * Nothing on disk changes: no worktree, index file or reference is read for
 * writing. git_merge_trees() writes the blob of every file it merges
 * cleanly into the object database; the session's repository handle has an
 * in-memory object store (libgit2's mempack) in front of the disk, so those
 * blobs go there and are dropped after each merge. (libgit2 "freshens" an
 * object that already exists on disk, which updates that file's mtime.)
 *
 * Speed: the paths each head changes since a merge base are computed once
 * per (merge base, head) and kept; the merge runs only when both sides
 * changed a common path (or a file on one side where the other has a
 * folder), since without that there is nothing it could fail to resolve,
 * and then on trees cut down to the paths either side changed (made in the
 * mempack too): a merge of whole trees walks every file of the repository.
 */
#include "tools/git/git_internal.h"

#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>
#include <stdlib.h>
#include <string.h>

/* The paths `head` changes since `base` (the zero id: the empty tree). */
typedef struct changed_set {
    git_oid base;
    git_oid head;
    gitops_paths paths;
} changed_set;

struct gitops_conflicts {
    git_repository *repo;    /* owned: its own handle, with the mempack in front */
    git_odb_backend *memory; /* owned by repo's odb: the mempack */
    changed_set **sets;      /* owned, nsets of them, each owned (pointers to them are kept) */
    size_t nsets;
};

void gitops_paths_free(gitops_paths *p)
{
    size_t i;

    if (!p)
        return;
    for (i = 0; p->v && i < p->n; i++)
        free(p->v[i]);
    free(p->v);
    memset(p, 0, sizeof(*p));
}

void gitops_merge_check_free(gitops_merge_check *m)
{
    if (!m)
        return;
    gitops_paths_free(&m->overlapping);
    gitops_paths_free(&m->conflicting);
    memset(m, 0, sizeof(*m));
}

void gitops_conflicts_close(gitops_conflicts *s)
{
    size_t i;

    if (!s)
        return;
    for (i = 0; i < s->nsets; i++) {
        gitops_paths_free(&s->sets[i]->paths);
        free(s->sets[i]);
    }
    free(s->sets);
    git_repository_free(s->repo); /* frees the odb, which frees the mempack */
    free(s);
}

int gitops_conflicts_open(gitops_repo *r, gitops_conflicts **out, grove_err *err)
{
    gitops_conflicts *s = calloc(1, sizeof(*s)); /* owned: goes to *out */
    git_odb *odb = NULL;
    git_odb_backend *mem = NULL;
    int rc = -1;

    *out = NULL;
    if (!s)
        return grove_nomem(err);
    git_error_clear();
    if (git_repository_open_ext(&s->repo, r->common_dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
        rc = fail_git(err, GROVE_EGIT, "cannot open repository '%s'", r->common_dir);
        goto done;
    }
    git_error_clear();
    if (git_repository_odb(&odb, s->repo) < 0 || git_mempack_new(&mem) < 0) {
        rc = fail_git(err, GROVE_EGIT, "cannot set up an in-memory object store");
        goto done;
    }
    /* Highest priority: the first backend that can write gets every write. */
    git_error_clear();
    if (git_odb_add_backend(odb, mem, 1000) < 0) {
        mem->free(mem);
        rc = fail_git(err, GROVE_EGIT, "cannot set up an in-memory object store");
        goto done;
    }
    s->memory = mem;
    *out = s;
    s = NULL;
    rc = 0;
done:
    git_odb_free(odb);
    gitops_conflicts_close(s);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts the n borrowed strings of v and copies the distinct ones into *out. */
static int paths_from(const char **v, size_t n, gitops_paths *out, grove_err *err)
{
    size_t i;

    memset(out, 0, sizeof(*out));
    if (n > 0)
        qsort(v, n, sizeof(*v), cmp_str);
    if (!(out->v = calloc(n + 1, sizeof(*out->v)))) /* owned by *out */
        return grove_nomem(err);
    for (i = 0; i < n; i++) {
        if (i > 0 && strcmp(v[i], v[i - 1]) == 0)
            continue;
        if (!(out->v[out->n] = strdup(v[i]))) { /* owned by *out */
            gitops_paths_free(out);
            return grove_nomem(err);
        }
        out->n++;
    }
    return 0;
}

static int hex_oid(const char *hex, git_oid *oid, grove_err *err)
{
    git_error_clear();
    if (!hex || strlen(hex) != GIT_OID_HEXSZ || git_oid_fromstr(oid, hex) < 0)
        return grove_fail(err, GROVE_EINVAL, "invalid commit id '%s': expected 40 hex digits",
                          hex ? hex : "");
    return 0;
}

/* The tree of commit `oid`; a missing commit is GROVE_ENOTFOUND. */
static int commit_tree(git_repository *repo, const git_oid *oid, git_tree **out, grove_err *err)
{
    git_commit *c = NULL;
    char hex[41];
    int rc;

    *out = NULL;
    git_oid_tostr(hex, sizeof(hex), oid);
    git_error_clear();
    rc = git_commit_lookup(&c, repo, oid);
    if (rc == GIT_ENOTFOUND)
        return grove_fail(err, GROVE_ENOTFOUND, "commit '%s' not found", hex);
    if (rc < 0)
        return fail_git(err, GROVE_EGIT, "cannot read commit '%s'", hex);
    git_error_clear();
    rc = git_commit_tree(out, c);
    git_commit_free(c);
    if (rc < 0)
        return fail_git(err, GROVE_EGIT, "cannot read the tree of commit '%s'", hex);
    return 0;
}

/* The paths `head` changes since `base` (zero: the empty tree), from the cache or computed. */
static int changed_paths(gitops_conflicts *s, const git_oid *base, const git_oid *head,
                         const gitops_paths **out, grove_err *err)
{
    git_tree *t_base = NULL, *t_head = NULL;
    changed_set **sets, *set = NULL; /* set: owned here until it joins s->sets */
    size_t i;
    int rc = -1;

    *out = NULL;
    for (i = 0; i < s->nsets; i++)
        if (git_oid_equal(&s->sets[i]->base, base) && git_oid_equal(&s->sets[i]->head, head)) {
            *out = &s->sets[i]->paths;
            return 0;
        }
    if ((!git_oid_is_zero(base) && commit_tree(s->repo, base, &t_base, err) != 0) ||
        commit_tree(s->repo, head, &t_head, err) != 0)
        goto done;
    sets = realloc(s->sets, (s->nsets + 1) * sizeof(*sets)); /* owned by s */
    if (!sets || !(set = calloc(1, sizeof(*set)))) {
        if (sets)
            s->sets = sets;
        rc = grove_nomem(err);
        goto done;
    }
    s->sets = sets;
    git_oid_cpy(&set->base, base);
    git_oid_cpy(&set->head, head);
    /* Only which paths differ (object ids): unchanged folders are not walked. */
    if (tree_changed_paths(s->repo, t_base, t_head, &set->paths, err) != 0)
        goto done;
    s->sets[s->nsets++] = set;
    *out = &set->paths;
    set = NULL;
    rc = 0;
done:
    free(set);
    git_tree_free(t_base);
    git_tree_free(t_head);
    return rc;
}

/* 1 when `dir` names a folder that holds `path` ("d" and "d/f"). */
static int holds(const char *dir, const char *path)
{
    size_t n = strlen(dir);

    return strncmp(dir, path, n) == 0 && path[n] == '/';
}

/*
 * The paths in both sorted sets into *out; *clash is 1 when a path of one
 * side is a folder of the other's (a file/folder clash that a merge must
 * also look at).
 */
static int paths_overlap(const gitops_paths *a, const gitops_paths *b, gitops_paths *out,
                         int *clash, grove_err *err)
{
    const char **v = calloc((a->n < b->n ? a->n : b->n) + 1, sizeof(*v)); /* owned here */
    size_t i = 0, j = 0, n = 0;
    int rc;

    *clash = 0;
    if (!v)
        return grove_nomem(err);
    while (i < a->n && j < b->n) {
        int c = strcmp(a->v[i], b->v[j]);

        if (c == 0) {
            v[n++] = a->v[i];
            i++;
            j++;
            continue;
        }
        /* "d" sorts before "d/f", and anything between them starts with "d" too. */
        if (c < 0 ? holds(a->v[i], b->v[j]) : holds(b->v[j], a->v[i]))
            *clash = 1;
        if (c < 0)
            i++;
        else
            j++;
    }
    rc = paths_from(v, n, out, err);
    free(v);
    return rc;
}

/* Every path of a conflict in `index`, sorted and unique, into *out. */
static int conflict_paths(git_index *index, gitops_paths *out, grove_err *err)
{
    git_index_conflict_iterator *it = NULL;
    const git_index_entry *anc, *ours, *theirs;
    const char **v = NULL; /* borrowed from index */
    size_t n = 0, cap = 0;
    int rc = -1, nrc;

    memset(out, 0, sizeof(*out));
    git_error_clear();
    if (git_index_conflict_iterator_new(&it, index) < 0)
        return fail_git(err, GROVE_EGIT, "cannot list the conflicts of a merge");
    while ((nrc = git_index_conflict_next(&anc, &ours, &theirs, it)) == 0) {
        const git_index_entry *e[3] = {anc, ours, theirs};
        size_t k;

        if (n + 3 > cap) {
            const char **nv = realloc(v, (cap * 2 + 8) * sizeof(*v)); /* owned here */

            if (!nv) {
                rc = grove_nomem(err);
                goto done;
            }
            v = nv;
            cap = cap * 2 + 8;
        }
        for (k = 0; k < 3; k++)
            if (e[k] && e[k]->path)
                v[n++] = e[k]->path;
    }
    if (nrc != GIT_ITEROVER) {
        rc = fail_git(err, GROVE_EGIT, "cannot list the conflicts of a merge");
        goto done;
    }
    rc = paths_from(v, n, out, err);
done:
    free(v);
    git_index_conflict_iterator_free(it);
    return rc;
}

/* Adds to `index` the entry of `tree` at `path`, if it has a file (or link, or submodule) there. */
static int prune_add(git_index *index, git_tree *tree, const char *path, grove_err *err)
{
    git_tree_entry *te = NULL;
    git_index_entry e;
    int rc;

    git_error_clear();
    rc = git_tree_entry_bypath(&te, tree, path);
    if (rc == GIT_ENOTFOUND)
        return 0;
    if (rc < 0)
        return fail_git(err, GROVE_EGIT, "cannot read '%s' in a tree", path);
    rc = 0;
    /* A folder here is a file on the other side: the paths below it are in the union too. */
    if (git_tree_entry_type(te) != GIT_OBJECT_TREE) {
        memset(&e, 0, sizeof(e));
        e.mode = (uint32_t)git_tree_entry_filemode(te);
        git_oid_cpy(&e.id, git_tree_entry_id(te));
        e.path = path;
        git_error_clear();
        if (git_index_add(index, &e) < 0)
            rc = fail_git(err, GROVE_EGIT, "cannot stage '%s' in memory", path);
    }
    git_tree_entry_free(te);
    return rc;
}

/*
 * *out: `tree` cut down to the paths `keep` (sorted; written to the
 * mempack). Every other path is the same in the merge base and both heads,
 * so a merge of the cut trees leaves the same conflicts as one of the whole
 * trees, and its rename detection sees the same deleted and added files;
 * it costs the changed paths instead of the whole repository.
 */
static int prune_tree(gitops_conflicts *s, git_tree *tree, const gitops_paths *keep, git_tree **out,
                      grove_err *err)
{
    git_index *index = NULL;
    git_oid oid;
    size_t i;
    int rc = -1;

    *out = NULL;
    git_error_clear();
    if (git_index_new(&index) < 0)
        return fail_git(err, GROVE_EGIT, "cannot make an index in memory");
    for (i = 0; i < keep->n; i++)
        if (prune_add(index, tree, keep->v[i], err) != 0)
            goto done;
    git_error_clear();
    if (git_index_write_tree_to(&oid, index, s->repo) < 0 ||
        git_tree_lookup(out, s->repo, &oid) < 0) {
        rc = fail_git(err, GROVE_EGIT, "cannot make a tree in memory");
        goto done;
    }
    rc = 0;
done:
    git_index_free(index);
    return rc;
}

int paths_union(const gitops_paths *a, const gitops_paths *b, gitops_paths *out, grove_err *err)
{
    const char **v = calloc(a->n + b->n + 1, sizeof(*v)); /* owned here; borrowed strings */
    size_t i = 0, j = 0, n = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!v)
        return grove_nomem(err);
    while (i < a->n || j < b->n) {
        int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->v[i], b->v[j]);

        v[n++] = c <= 0 ? a->v[i] : b->v[j];
        i += c <= 0;
        j += c >= 0;
    }
    rc = paths_from(v, n, out, err);
    free(v);
    return rc;
}

git_repository *conflicts_repo(gitops_conflicts *s)
{
    return s->repo;
}

void conflicts_forget(gitops_conflicts *s)
{
    git_mempack_reset(s->memory);
}

int conflicts_merge_cut(gitops_conflicts *s, const git_oid *base, const git_oid *a,
                        const git_oid *b, const gitops_paths *keep, git_index **out, grove_err *err)
{
    git_tree *t_base = NULL, *t_a = NULL, *t_b = NULL;
    git_tree *p_base = NULL, *p_a = NULL, *p_b = NULL;
    git_merge_options opts;
    int rc = -1;

    *out = NULL;
    if ((!git_oid_is_zero(base) && commit_tree(s->repo, base, &t_base, err) != 0) ||
        commit_tree(s->repo, a, &t_a, err) != 0 || commit_tree(s->repo, b, &t_b, err) != 0)
        goto done;
    if ((t_base && prune_tree(s, t_base, keep, &p_base, err) != 0) ||
        prune_tree(s, t_a, keep, &p_a, err) != 0 || prune_tree(s, t_b, keep, &p_b, err) != 0)
        goto done;
    git_error_clear();
    if (git_merge_options_init(&opts, GIT_MERGE_OPTIONS_VERSION) < 0 ||
        git_merge_trees(out, s->repo, p_base, p_a, p_b, &opts) < 0) {
        rc = fail_git(err, GROVE_EGIT, "cannot merge the trees");
        goto done;
    }
    rc = 0;
done:
    git_tree_free(p_base);
    git_tree_free(p_a);
    git_tree_free(p_b);
    git_tree_free(t_base);
    git_tree_free(t_a);
    git_tree_free(t_b);
    return rc;
}

/*
 * The paths git_merge_trees() leaves in conflict when merging `a` and `b`
 * over `base`, which changed the paths ca and cb since.
 */
static int merge_conflicts(gitops_conflicts *s, const git_oid *base, const git_oid *a,
                           const git_oid *b, const gitops_paths *ca, const gitops_paths *cb,
                           gitops_paths *out, grove_err *err)
{
    gitops_paths keep = {0};
    git_index *index = NULL;
    int rc = -1;

    if (paths_union(ca, cb, &keep, err) != 0 ||
        conflicts_merge_cut(s, base, a, b, &keep, &index, err) != 0)
        goto done;
    rc = git_index_has_conflicts(index) ? conflict_paths(index, out, err) : 0;
done:
    git_index_free(index);
    gitops_paths_free(&keep);
    /* The cut trees and the blobs of cleanly merged files went to memory: let them go. */
    conflicts_forget(s);
    return rc;
}

/* paths_same_edit() of the trees of commits base (zero: none), a and b. */
static int same_edit(gitops_conflicts *s, const git_oid *base, const git_oid *a, const git_oid *b,
                     const gitops_paths *both, grove_err *err)
{
    git_tree *t_base = NULL, *t_a = NULL, *t_b = NULL;
    int rc = -1;

    if ((git_oid_is_zero(base) || commit_tree(s->repo, base, &t_base, err) == 0) &&
        commit_tree(s->repo, a, &t_a, err) == 0 && commit_tree(s->repo, b, &t_b, err) == 0)
        rc = paths_same_edit(t_base, t_a, t_b, both, err);
    git_tree_free(t_base);
    git_tree_free(t_a);
    git_tree_free(t_b);
    return rc;
}

int gitops_conflicts_check(gitops_conflicts *s, const char *a, const char *b,
                           gitops_merge_check *out, grove_err *err)
{
    git_oid oa, ob, base;
    const gitops_paths *ca, *cb;
    int rc, clash = 0, same = 0;

    memset(out, 0, sizeof(*out));
    if (hex_oid(a, &oa, err) != 0 || hex_oid(b, &ob, err) != 0)
        return -1;
    git_error_clear();
    rc = git_merge_base(&base, s->repo, &oa, &ob);
    if (rc == GIT_ENOTFOUND) {
        memset(&base, 0, sizeof(base)); /* no common history: both sides changed from nothing */
    } else if (rc < 0) {
        return fail_git(err, GROVE_EGIT, "cannot find the merge base of '%s' and '%s'", a, b);
    } else {
        git_oid_tostr(out->merge_base, sizeof(out->merge_base), &base);
    }
    if (changed_paths(s, &base, &oa, &ca, err) != 0 || changed_paths(s, &base, &ob, &cb, err) != 0)
        return -1;
    if (paths_overlap(ca, cb, &out->overlapping, &clash, err) != 0)
        return -1;
    /* Paths both changed the same way (a squash of one into the other) leave nothing to merge. */
    if (!clash && out->overlapping.n > 0 &&
        (same = same_edit(s, &base, &oa, &ob, &out->overlapping, err)) < 0) {
        gitops_merge_check_free(out);
        return -1;
    }
    if ((clash || (out->overlapping.n > 0 && !same)) &&
        merge_conflicts(s, &base, &oa, &ob, ca, cb, &out->conflicting, err) != 0) {
        gitops_merge_check_free(out);
        return -1;
    }
    return 0;
}

int gitops_conflicts_behind(gitops_conflicts *s, const char *head, const char *upstream,
                            size_t *behind, grove_err *err)
{
    git_oid oh, ou;
    size_t ahead = 0;

    *behind = 0;
    if (hex_oid(head, &oh, err) != 0 || hex_oid(upstream, &ou, err) != 0)
        return -1;
    git_error_clear();
    if (git_graph_ahead_behind(&ahead, behind, s->repo, &oh, &ou) < 0)
        return fail_git(err, GROVE_EGIT, "cannot compare commit '%s' with '%s'", head, upstream);
    return 0;
}
