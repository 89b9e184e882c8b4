/*
 * land: putting an instance's branch into a target branch (land_instance),
 * computed in memory and moved with a compare-and-swap, journalled so that
 * a killed land is finished or dropped by the next one or by `grove gc`.
 *
 * The new target commit is made from commit objects alone (git_merge_commits,
 * git_cherrypick_commit: an index in memory, then tree and commit objects
 * written to the object database, which references nothing). Only then,
 * under the repo lock: the worktree that has the target checked out is
 * checked to be clean, a journal is written to <common>/grove/landing/<hex
 * of the branch name> (branch, old commit, new commit, that worktree, the
 * instance), the ref moves only if it still points at the old commit
 * (git_reference_create_matching), that worktree's index and files are
 * brought from the old commit to the new one (only the changed paths; it
 * was clean), and the journal goes. A journal found later (its land was
 * killed; lands run under the lock to the end) is finished: ref still at
 * the old commit: dropped; at the new one: the worktree is brought up to it
 * when its index still holds the old tree.
 */
#include "tools/git/git_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void gitops_land_paths_free(char **paths, size_t n)
{
    size_t i;

    for (i = 0; paths && i < n; i++)
        free(paths[i]);
    free(paths);
}

void gitops_land_result_free(gitops_land_result *r)
{
    if (!r)
        return;
    gitops_land_paths_free(r->conflicts, r->nconflicts);
    memset(r, 0, sizeof(*r));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The conflicted paths of `idx`, sorted and unique, into *paths (malloc'd array of *n). */
static int conflicts_collect(git_index *idx, char ***paths, size_t *n, grove_err *err)
{
    git_index_conflict_iterator *it = NULL;
    const git_index_entry *anc, *ours, *theirs;
    char **v = NULL; /* owned until handed to *paths */
    size_t cnt = 0, cap = 0, i, w;
    int rc = -1, g;

    *paths = NULL;
    *n = 0;
    git_error_clear();
    if (git_index_conflict_iterator_new(&it, idx) != 0) {
        fail_git(err, GROVE_EGIT, "cannot list the conflicts");
        goto done;
    }
    while ((g = git_index_conflict_next(&anc, &ours, &theirs, it)) == 0) {
        const char *p = ours ? ours->path : theirs ? theirs->path : anc ? anc->path : NULL;

        if (!p)
            continue;
        if (cnt == cap) {
            char **grown = realloc(v, (cap ? cap * 2 : 8) * sizeof(*v));

            if (!grown) {
                grove_nomem(err);
                goto done;
            }
            v = grown;
            cap = cap ? cap * 2 : 8;
        }
        if (!(v[cnt] = grove_strdup(p))) {
            grove_nomem(err);
            goto done;
        }
        cnt++;
    }
    if (g != GIT_ITEROVER) {
        fail_git(err, GROVE_EGIT, "cannot list the conflicts");
        goto done;
    }
    if (cnt)
        qsort(v, cnt, sizeof(*v), cmp_str);
    for (i = 0, w = 0; i < cnt; i++) {
        if (w && strcmp(v[w - 1], v[i]) == 0) {
            free(v[i]);
            continue;
        }
        v[w++] = v[i];
    }
    *paths = v;
    *n = w;
    v = NULL;
    cnt = 0;
    rc = 0;
done:
    gitops_land_paths_free(v, cnt);
    git_index_conflict_iterator_free(it);
    return rc;
}

/* The user's signature (user.name, user.email), else "grove <grove@localhost>". */
static int signature_get(git_repository *repo, git_signature **out, grove_err *err)
{
    if (git_signature_default(out, repo) == 0)
        return 0;
    git_error_clear();
    if (git_signature_now(out, "grove", "grove@localhost") == 0)
        return 0;
    return fail_git(err, GROVE_EGIT, "cannot make a commit signature");
}

static int commit_lookup_hex(git_repository *repo, const char *hex, git_commit **out,
                             grove_err *err)
{
    git_oid id;

    *out = NULL;
    if (!hex || strlen(hex) != 40 || git_oid_fromstr(&id, hex) != 0)
        return grove_fail(err, GROVE_EINVAL, "'%s' is not a commit id", hex ? hex : "");
    git_error_clear();
    if (git_commit_lookup(out, repo, &id) != 0)
        return fail_git(err, GROVE_ENOTFOUND, "commit %.12s not found", hex);
    return 0;
}

/* Replays the commits of `head` not in `onto` onto it (rebase); see gitops_land_compute(). */
static int land_rebase(gitops_repo *r, const gitops_land_spec *s, git_commit *onto_in,
                       git_commit *head, gitops_land_result *out, git_oid *new_id, grove_err *err)
{
    git_repository *repo = r->repo;
    git_merge_options mopts;
    git_revwalk *walk = NULL;
    git_oid *ids = NULL; /* owned: the commits to replay, oldest first */
    size_t nids = 0, cap = 0, i, made = 0;
    git_commit *onto = NULL; /* owned: the commit replayed onto so far */
    git_commit *c = NULL;    /* owned: the commit being replayed */
    git_index *idx = NULL;   /* owned: one cherry-pick in memory */
    git_tree *tree = NULL;
    git_signature *sig = NULL;
    git_oid id, tree_id;
    int rc = -1;

    git_merge_options_init(&mopts, GIT_MERGE_OPTIONS_VERSION);
    git_error_clear();
    if (git_revwalk_new(&walk, repo) != 0 ||
        git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_REVERSE) != 0 ||
        git_revwalk_push(walk, git_commit_id(head)) != 0 ||
        git_revwalk_hide(walk, git_commit_id(onto_in)) != 0) {
        fail_git(err, GROVE_EGIT, "cannot list the commits of '%s'", s->label);
        goto done;
    }
    while (git_revwalk_next(&id, walk) == 0) {
        if (nids == cap) {
            git_oid *grown = realloc(ids, (cap ? cap * 2 : 16) * sizeof(*ids));

            if (!grown) {
                grove_nomem(err);
                goto done;
            }
            ids = grown;
            cap = cap ? cap * 2 : 16;
        }
        git_oid_cpy(&ids[nids++], &id);
    }
    for (i = 0; i < nids; i++) {
        git_commit_free(c);
        c = NULL;
        if (git_commit_lookup(&c, repo, &ids[i]) != 0) {
            fail_git(err, GROVE_EGIT, "cannot read a commit of '%s'", s->label);
            goto done;
        }
        if (git_commit_parentcount(c) > 1) {
            char hex[41];

            git_oid_tostr(hex, sizeof(hex), &ids[i]);
            grove_fail(err, GROVE_ECONFLICT,
                       "cannot land '%s' with strategy rebase: its commit %.12s is a merge "
                       "commit, which a rebase cannot replay; use strategy squash or merge",
                       s->label, hex);
            goto done;
        }
    }
    /* Nothing new on the target since the branch started: a rebase is a fast-forward. */
    if (git_graph_descendant_of(repo, git_commit_id(head), git_commit_id(onto_in)) == 1) {
        git_oid_cpy(new_id, git_commit_id(head));
        rc = 0;
        goto done;
    }
    if (signature_get(repo, &sig, err) != 0)
        goto done;
    if (git_commit_dup(&onto, onto_in) != 0) {
        fail_git(err, GROVE_EGIT, "cannot read the target commit");
        goto done;
    }
    for (i = 0; i < nids; i++) {
        git_commit_free(c);
        c = NULL;
        git_index_free(idx);
        idx = NULL;
        git_tree_free(tree);
        tree = NULL;
        git_error_clear();
        if (git_commit_lookup(&c, repo, &ids[i]) != 0 ||
            git_cherrypick_commit(&idx, repo, c, onto, 0, &mopts) != 0) {
            fail_git(err, GROVE_EGIT, "cannot replay a commit of '%s' in memory", s->label);
            goto done;
        }
        if (git_index_has_conflicts(idx)) {
            rc = conflicts_collect(idx, &out->conflicts, &out->nconflicts, err);
            goto done;
        }
        if (git_index_write_tree_to(&tree_id, idx, repo) != 0 ||
            git_tree_lookup(&tree, repo, &tree_id) != 0) {
            fail_git(err, GROVE_EGIT, "cannot write the tree of a replayed commit");
            goto done;
        }
        /* A commit whose changes are already on the target is dropped, as git rebase does. */
        if (git_oid_equal(&tree_id, git_commit_tree_id(onto)))
            continue;
        if (git_commit_create(&id, repo, NULL, git_commit_author(c), sig,
                              git_commit_message_encoding(c), git_commit_message(c), tree, 1,
                              (const git_commit **)&onto) != 0) {
            fail_git(err, GROVE_EGIT, "cannot write a replayed commit");
            goto done;
        }
        git_commit_free(onto);
        onto = NULL;
        if (git_commit_lookup(&onto, repo, &id) != 0) {
            fail_git(err, GROVE_EGIT, "cannot read a replayed commit");
            goto done;
        }
        made++;
    }
    if (!made) {
        grove_fail(err, GROVE_ECONFLICT, "nothing to land: the changes of '%s' are already in '%s'",
                   s->label, s->into);
        goto done;
    }
    git_oid_cpy(new_id, git_commit_id(onto));
    rc = 0;
done:
    git_signature_free(sig);
    git_tree_free(tree);
    git_index_free(idx);
    git_commit_free(c);
    git_commit_free(onto);
    git_revwalk_free(walk);
    free(ids);
    return rc;
}

static int cmp_str_key(const void *key, const void *elem)
{
    return strcmp((const char *)key, *(char *const *)elem);
}

/* 1 when a path of the sorted set is a folder of another one ("d" and "d/f"); -1: no memory. */
static int paths_nest(const gitops_paths *p)
{
    size_t i;

    for (i = 0; i < p->n; i++) {
        const char *slash;

        for (slash = strchr(p->v[i], '/'); slash; slash = strchr(slash + 1, '/')) {
            char *dir = strndup(p->v[i], (size_t)(slash - p->v[i]));
            int found;

            if (!dir)
                return -1;
            found = bsearch(dir, p->v, p->n, sizeof(*p->v), cmp_str_key) != NULL;
            free(dir);
            if (found)
                return 1;
        }
    }
    return 0;
}

/* Where graft() takes the new entries from: a merged index, else a tree. */
typedef struct graft_src {
    git_index *merged;
    git_tree *tree;
} graft_src;

/* The entry of `src` at `path` into *id and *mode: 1, or 0 when it has none; -1 on error. */
static int graft_entry(const graft_src *src, const char *path, git_oid *id, git_filemode_t *mode,
                       grove_err *err)
{
    git_tree_entry *te = NULL;
    int g;

    if (src->merged) {
        const git_index_entry *e = git_index_get_bypath(src->merged, path, 0);

        if (!e)
            return 0;
        git_oid_cpy(id, &e->id);
        *mode = (git_filemode_t)e->mode;
        return 1;
    }
    git_error_clear();
    g = git_tree_entry_bypath(&te, src->tree, path);
    if (g == GIT_ENOTFOUND) {
        git_error_clear();
        return 0;
    }
    if (g < 0)
        return fail_git(err, GROVE_EGIT, "cannot read '%s' in a tree", path);
    git_oid_cpy(id, git_tree_entry_id(te));
    *mode = git_tree_entry_filemode(te);
    git_tree_entry_free(te);
    return 1;
}

/*
 * `tree` (NULL: empty) with the paths v[lo..hi) (sorted, sharing the first
 * `plen` bytes: the folder this tree is) set to their entry in `src`, or
 * removed when it has none: *out gets the new tree, *empty 1 when it has no
 * entries (then *out is not written). Only the folders on those paths are
 * read and written. A file where a folder of the paths is: 1 (the caller
 * merges the whole trees instead).
 */
static int graft(git_repository *repo, git_tree *tree, const graft_src *src, char **v, size_t lo,
                 size_t hi, size_t plen, git_oid *out, int *empty, grove_err *err)
{
    git_treebuilder *bld = NULL;
    size_t i = lo;
    int rc = -1;

    *empty = 0;
    git_error_clear();
    if (git_treebuilder_new(&bld, repo, tree) < 0) {
        fail_git(err, GROVE_EGIT, "cannot build the merged tree");
        goto done;
    }
    while (i < hi) {
        const char *rest = v[i] + plen, *slash = strchr(rest, '/');

        if (!slash) { /* a file of this folder */
            const git_tree_entry *had = git_treebuilder_get(bld, rest);
            git_oid id = {{0}};
            git_filemode_t mode = GIT_FILEMODE_BLOB;
            int g, found;

            if (had && git_tree_entry_type(had) == GIT_OBJECT_TREE) {
                rc = 1;
                goto done;
            }
            if ((found = graft_entry(src, v[i], &id, &mode, err)) < 0)
                goto done;
            git_error_clear();
            g = found ? git_treebuilder_insert(NULL, bld, rest, &id, mode)
                : had ? git_treebuilder_remove(bld, rest)
                      : 0;
            if (g < 0) {
                fail_git(err, GROVE_EGIT, "cannot build the merged tree at '%s'", v[i]);
                goto done;
            }
            i++;
        } else { /* the paths in folder rest[0..len) */
            size_t len = (size_t)(slash - rest), j = i;
            char *name = strndup(rest, len);
            const git_tree_entry *had = name ? git_treebuilder_get(bld, name) : NULL;
            git_tree *sub = NULL;
            git_oid sub_id;
            int sub_empty = 0, g;

            if (!name) {
                grove_nomem(err);
                goto done;
            }
            while (j < hi && strncmp(v[j] + plen, rest, len + 1) == 0)
                j++;
            git_error_clear();
            if (had && (git_tree_entry_type(had) != GIT_OBJECT_TREE ||
                        git_tree_lookup(&sub, repo, git_tree_entry_id(had)) < 0)) {
                free(name);
                if (git_tree_entry_type(had) != GIT_OBJECT_TREE) {
                    rc = 1;
                    goto done;
                }
                fail_git(err, GROVE_EGIT, "cannot read a folder of the target");
                goto done;
            }
            g = graft(repo, sub, src, v, i, j, plen + len + 1, &sub_id, &sub_empty, err);
            git_tree_free(sub);
            git_error_clear();
            if (g == 0 && (sub_empty ? had && git_treebuilder_remove(bld, name) < 0
                                     : git_treebuilder_insert(NULL, bld, name, &sub_id,
                                                              GIT_FILEMODE_TREE) < 0))
                g = fail_git(err, GROVE_EGIT, "cannot build the merged tree at '%s'", v[i]);
            free(name);
            if (g != 0) {
                rc = g;
                goto done;
            }
            i = j;
        }
    }
    git_error_clear();
    if (plen > 0 && git_treebuilder_entrycount(bld) == 0)
        *empty = 1;
    else if (git_treebuilder_write(out, bld) < 0) {
        fail_git(err, GROVE_EGIT, "cannot write the merged tree");
        goto done;
    }
    rc = 0;
done:
    git_treebuilder_free(bld);
    return rc;
}

/* Copies the objects of `merged`'s entries that `to` lacks from the odb of `from`. */
static int copy_blobs(git_repository *from, git_repository *to, git_index *merged, grove_err *err)
{
    git_odb *src = NULL, *dst = NULL;
    size_t i, n = git_index_entrycount(merged);
    int rc = -1;

    git_error_clear();
    if (git_repository_odb(&src, from) < 0 || git_repository_odb(&dst, to) < 0) {
        fail_git(err, GROVE_EGIT, "cannot open the object database");
        goto done;
    }
    for (i = 0; i < n; i++) {
        const git_index_entry *e = git_index_get_byindex(merged, i);
        git_odb_object *o = NULL;
        git_oid id;

        if (!e || git_odb_exists(dst, &e->id))
            continue;
        git_error_clear();
        if (git_odb_read(&o, src, &e->id) < 0 ||
            git_odb_write(&id, dst, git_odb_object_data(o), git_odb_object_size(o),
                          git_odb_object_type(o)) < 0) {
            git_odb_object_free(o);
            fail_git(err, GROVE_EGIT, "cannot write the merged file '%s'", e->path);
            goto done;
        }
        git_odb_object_free(o);
    }
    rc = 0;
done:
    git_odb_free(src);
    git_odb_free(dst);
    return rc;
}

/* The paths in both sorted sets a and b into *out (gitops_paths_free()). */
static int paths_both(const gitops_paths *a, const gitops_paths *b, gitops_paths *out,
                      grove_err *err)
{
    size_t i = 0, j = 0;

    memset(out, 0, sizeof(*out));
    if (!(out->v = calloc((a->n < b->n ? a->n : b->n) + 1, sizeof(*out->v))))
        return grove_nomem(err);
    while (i < a->n && j < b->n) {
        int c = strcmp(a->v[i], b->v[j]);

        if (c == 0 && !(out->v[out->n++] = grove_strdup(a->v[i]))) {
            gitops_paths_free(out);
            return grove_nomem(err);
        }
        i += c <= 0;
        j += c >= 0;
    }
    return 0;
}

/*
 * The merge of `head` into `target` over their one merge base `base`, on
 * the paths either side changed since (conflicts_merge_cut(), in memory),
 * grafted onto the target's tree: the tree git_merge_commits() makes,
 * reading and writing only the changed folders. *tree_id gets it, or
 * out->conflicts the conflicting paths. Returns 1 (nothing done) when a
 * file on one side is a folder on the other: the caller merges the whole
 * trees then.
 */
static int land_merge_cut(gitops_repo *r, const git_oid *base, git_commit *target, git_commit *head,
                          git_oid *tree_id, gitops_land_result *out, grove_err *err)
{
    gitops_conflicts *cs = NULL; /* owned */
    git_repository *mem;         /* borrowed from cs */
    git_commit *bc = NULL;
    git_tree *t_base = NULL, *t_target = NULL, *t_head = NULL;
    gitops_paths ca = {0}, cb = {0}, keep = {0};
    git_index *merged = NULL;
    int rc = -1;

    git_error_clear();
    if (git_commit_lookup(&bc, r->repo, base) < 0 || git_commit_tree(&t_base, bc) < 0 ||
        git_commit_tree(&t_target, target) < 0 || git_commit_tree(&t_head, head) < 0) {
        fail_git(err, GROVE_EGIT, "cannot read the trees to merge");
        goto done;
    }
    if (tree_changed_paths(r->repo, t_base, t_target, &ca, err) != 0 ||
        tree_changed_paths(r->repo, t_base, t_head, &cb, err) != 0 ||
        paths_union(&ca, &cb, &keep, err) != 0)
        goto done;
    if ((rc = paths_nest(&keep)) != 0) {
        if (rc < 0)
            grove_nomem(err);
        goto done;
    }
    rc = -1;
    {
        gitops_paths both = {0};
        int same = 0;

        /* No path both changed, or only the same way: head's changes onto the target. */
        if (paths_both(&ca, &cb, &both, err) != 0 ||
            (both.n > 0 && (same = paths_same_edit(t_base, t_target, t_head, &both, err)) < 0)) {
            gitops_paths_free(&both);
            goto done;
        }
        if (both.n == 0 || same) {
            graft_src src = {NULL, t_head};

            gitops_paths_free(&both);
            rc = graft(r->repo, t_target, &src, cb.v, 0, cb.n, 0, tree_id, &(int){0}, err);
            goto done;
        }
        gitops_paths_free(&both);
    }
    if (gitops_conflicts_open(r, &cs, err) != 0 ||
        conflicts_merge_cut(cs, base, git_commit_id(target), git_commit_id(head), &keep, &merged,
                            err) != 0)
        goto done;
    mem = conflicts_repo(cs);
    if (git_index_has_conflicts(merged)) {
        rc = conflicts_collect(merged, &out->conflicts, &out->nconflicts, err);
        goto done;
    }
    if (copy_blobs(mem, r->repo, merged, err) != 0)
        goto done;
    {
        graft_src src = {merged, NULL};

        rc = graft(r->repo, t_target, &src, keep.v, 0, keep.n, 0, tree_id, &(int){0}, err);
    }
done:
    git_index_free(merged);
    gitops_conflicts_close(cs);
    gitops_paths_free(&ca);
    gitops_paths_free(&cb);
    gitops_paths_free(&keep);
    git_tree_free(t_base);
    git_tree_free(t_target);
    git_tree_free(t_head);
    git_commit_free(bc);
    return rc;
}

/*
 * The tree of merging `head` into `target` (what git_merge_commits() with
 * default options makes) into *tree_id, or the conflicting paths into out.
 * The fastest way that gives the same tree: when the target has not moved
 * since the branch started (it is an ancestor of head), head's tree; with
 * one merge base, the merge of the changed paths (land_merge_cut()); else
 * (several merge bases, none, a file against a folder) the whole merge.
 */
static int land_merge_tree(gitops_repo *r, const gitops_land_spec *s, git_commit *target,
                           git_commit *head, git_oid *tree_id, gitops_land_result *out,
                           grove_err *err)
{
    git_merge_options mopts;
    git_oidarray bases = {0};
    git_index *idx = NULL;
    int rc = -1, g;

    if (git_graph_descendant_of(r->repo, git_commit_id(head), git_commit_id(target)) == 1) {
        git_oid_cpy(tree_id, git_commit_tree_id(head));
        return 0;
    }
    git_error_clear();
    g = git_merge_bases(&bases, r->repo, git_commit_id(target), git_commit_id(head));
    if (g == 0 && bases.count == 1) {
        g = land_merge_cut(r, &bases.ids[0], target, head, tree_id, out, err);
        if (g <= 0) {
            rc = g;
            goto done;
        }
    }
    git_error_clear();
    git_merge_options_init(&mopts, GIT_MERGE_OPTIONS_VERSION);
    if (git_merge_commits(&idx, r->repo, target, head, &mopts) != 0) {
        fail_git(err, GROVE_EGIT, "cannot merge '%s' into '%s' in memory", s->label, s->into);
        goto done;
    }
    if (git_index_has_conflicts(idx)) {
        rc = conflicts_collect(idx, &out->conflicts, &out->nconflicts, err);
        goto done;
    }
    if (git_index_write_tree_to(tree_id, idx, r->repo) != 0) {
        fail_git(err, GROVE_EGIT, "cannot write the merged tree");
        goto done;
    }
    rc = 0;
done:
    git_index_free(idx);
    git_oidarray_free(&bases);
    return rc;
}

int gitops_land_compute(gitops_repo *r, const gitops_land_spec *s, gitops_land_result *out,
                        grove_err *err)
{
    git_repository *repo = r->repo;
    git_merge_options mopts;
    git_commit *target = NULL, *head = NULL; /* owned */
    git_index *idx = NULL;                   /* owned: the merge in memory */
    git_tree *tree = NULL;
    git_signature *sig = NULL;
    git_oid target_id, tree_id, new_id;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    git_merge_options_init(&mopts, GIT_MERGE_OPTIONS_VERSION);
    if (branch_commit_oid(r, s->into, &target_id, err) != 0)
        goto done;
    git_oid_tostr(out->old_into, sizeof(out->old_into), &target_id);
    if (commit_lookup_hex(repo, s->head, &head, err) != 0)
        goto done;
    git_error_clear();
    if (git_commit_lookup(&target, repo, &target_id) != 0) {
        fail_git(err, GROVE_EGIT, "cannot read the head of '%s'", s->into);
        goto done;
    }
    if (git_oid_equal(&target_id, git_commit_id(head)) ||
        git_graph_descendant_of(repo, &target_id, git_commit_id(head)) == 1) {
        grove_fail(err, GROVE_ECONFLICT,
                   "nothing to land: '%s' has no commits that '%s' lacks (its head %.12s is "
                   "already in '%s'); commit your work first",
                   s->label, s->into, s->head, s->into);
        goto done;
    }
    switch (s->strategy) {
    case GITOPS_LAND_FAST_FORWARD:
        if (git_graph_descendant_of(repo, git_commit_id(head), &target_id) != 1) {
            grove_fail(err, GROVE_ECONFLICT,
                       "cannot fast-forward '%s' to '%s': '%s' has moved since the branch "
                       "started (its head %.12s is not an ancestor of %.12s); run sync_instance "
                       "first, or land with strategy squash or merge",
                       s->into, s->label, s->into, out->old_into, s->head);
            goto done;
        }
        git_oid_cpy(&new_id, git_commit_id(head));
        break;
    case GITOPS_LAND_REBASE:
        if (land_rebase(r, s, target, head, out, &new_id, err) != 0)
            goto done;
        if (out->nconflicts) {
            rc = 0;
            goto done;
        }
        break;
    case GITOPS_LAND_SQUASH:
    case GITOPS_LAND_MERGE: {
        const git_commit *parents[2];

        parents[0] = target;
        parents[1] = head;
        if (land_merge_tree(r, s, target, head, &tree_id, out, err) != 0)
            goto done;
        if (out->nconflicts) {
            rc = 0;
            goto done;
        }
        git_error_clear();
        if (git_tree_lookup(&tree, repo, &tree_id) != 0) {
            fail_git(err, GROVE_EGIT, "cannot write the merged tree");
            goto done;
        }
        if (s->strategy == GITOPS_LAND_SQUASH &&
            git_oid_equal(&tree_id, git_commit_tree_id(target))) {
            grove_fail(err, GROVE_ECONFLICT,
                       "nothing to land: the changes of '%s' are already in '%s'", s->label,
                       s->into);
            goto done;
        }
        if (signature_get(repo, &sig, err) != 0)
            goto done;
        git_error_clear();
        if (git_commit_create(&new_id, repo, NULL, sig, sig, NULL, s->message, tree,
                              s->strategy == GITOPS_LAND_MERGE ? 2 : 1, parents) != 0) {
            fail_git(err, GROVE_EGIT, "cannot write the new commit of '%s'", s->into);
            goto done;
        }
        break;
    }
    default:
        grove_fail(err, GROVE_EINVAL, "unknown land strategy");
        goto done;
    }
    git_oid_tostr(out->new_into, sizeof(out->new_into), &new_id);
    rc = 0;
done:
    if (rc != 0)
        gitops_land_result_free(out);
    git_signature_free(sig);
    git_tree_free(tree);
    git_index_free(idx);
    git_commit_free(head);
    git_commit_free(target);
    return rc;
}

/* ---- the worktree that has the target checked out ------------------------- */

int gitops_branch_checkout_path(gitops_repo *r, const char *branch, char **path, grove_err *err)
{
    gitops_worktree_info *wts = NULL;
    git_reference *head = NULL;
    char *refname = grove_asprintf("refs/heads/%s", branch);
    size_t nwts = 0, i;
    int rc = -1;

    *path = NULL;
    if (!refname) {
        grove_nomem(err);
        goto done;
    }
    /* The main worktree: its HEAD, a symbolic ref (unborn or detached: not this branch). */
    if (git_reference_lookup(&head, r->repo, "HEAD") == 0 &&
        git_reference_type(head) == GIT_REFERENCE_SYMBOLIC &&
        strcmp(git_reference_symbolic_target(head), refname) == 0) {
        if (!(*path = grove_strdup(r->workdir)))
            grove_nomem(err);
        rc = *path ? 0 : -1;
        goto done;
    }
    git_error_clear();
    if (gitops_worktree_list(r, &wts, &nwts, err) != 0)
        goto done;
    for (i = 0; i < nwts; i++) {
        if (!wts[i].branch || strcmp(wts[i].branch, branch) != 0 || !wts[i].path ||
            !wts[i].folder_exists)
            continue;
        if (!(*path = grove_strdup(wts[i].path))) {
            grove_nomem(err);
            goto done;
        }
        break;
    }
    rc = 0;
done:
    gitops_worktree_list_free(wts, nwts);
    git_reference_free(head);
    free(refname);
    return rc;
}

/* gitops_land_check_checkout() on the worktree `wr` (at `path`) opened already. */
static int land_check_checkout_repo(git_repository *wr, const char *path, const char *into,
                                    grove_err *err)
{
    gitops_state st = {0};
    char files[1024];
    int rc = -1;

    if (worktree_dirty_files(wr, path, &st, err) != 0)
        goto done;
    if (st.ndirty == 0) {
        rc = 0;
        goto done;
    }
    grove_list_text(st.dirty_files, st.ndirty, 8, files, sizeof(files));
    grove_fail(err, GROVE_ECONFLICT,
               "cannot land into '%s': it is checked out in '%s', which has uncommitted changes: "
               "%s; commit or stash them there (landing updates that checkout's files), then "
               "land again",
               into, path, files);
done:
    gitops_state_free(&st);
    return rc;
}

int gitops_land_check_checkout(const char *path, const char *into, grove_err *err)
{
    git_repository *wr = NULL; /* owned */
    int rc;

    if (open_worktree_path(&wr, path, err) != 0)
        return -1;
    rc = land_check_checkout_repo(wr, path, into, err);
    git_repository_free(wr);
    return rc;
}

/*
 * Brings the worktree at `path`, which has `into` checked out, from commit
 * `old_hex` to `new_hex` (the ref has moved already): when its index holds
 * the old tree, a safe checkout of the new commit with the old tree as
 * baseline, limited to the paths the two trees differ in (a file that is
 * not as the old commit has it is a conflict and stops the checkout before
 * it writes anything). An index that holds the new tree already: nothing to
 * do. A worktree on another branch now: nothing to do.
 */
static int land_checkout_update_repo(git_repository *wr, const char *path, const char *into,
                                     const char *old_hex, const char *new_hex, grove_err *err)
{
    git_checkout_options co;
    git_reference *head = NULL;
    git_index *idx = NULL;
    git_commit *oldc = NULL, *newc = NULL;
    git_tree *old_tree = NULL, *new_tree = NULL;
    gitops_paths changed = {0}; /* the paths old and new differ in */
    char *refname = grove_asprintf("refs/heads/%s", into);
    git_oid idx_tree;
    int rc = -1;

    git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
    if (!refname) {
        grove_nomem(err);
        goto done;
    }
    git_error_clear();
    if (git_reference_lookup(&head, wr, "HEAD") != 0 ||
        git_reference_type(head) != GIT_REFERENCE_SYMBOLIC ||
        strcmp(git_reference_symbolic_target(head), refname) != 0) {
        git_error_clear();
        rc = 0; /* not on `into` any more: nothing of ours to update */
        goto done;
    }
    if (commit_lookup_hex(wr, old_hex, &oldc, err) != 0 ||
        commit_lookup_hex(wr, new_hex, &newc, err) != 0)
        goto done;
    /*
     * The index `wr` has read (the clean check read it under the same lock),
     * read again only when the file changed since: the check below holds
     * either way.
     */
    if (git_repository_index(&idx, wr) != 0 || git_index_read(idx, 0) != 0) {
        fail_git(err, GROVE_EGIT, "cannot read the index of '%s'", path);
        goto done;
    }
    if (git_index_has_conflicts(idx)) {
        grove_fail(err, GROVE_ECONFLICT, "the index of '%s' has conflicts: left as it is", path);
        goto done;
    }
    if (git_index_write_tree(&idx_tree, idx) != 0) {
        fail_git(err, GROVE_EGIT, "cannot read the index of '%s'", path);
        goto done;
    }
    if (git_oid_equal(&idx_tree, git_commit_tree_id(newc))) {
        rc = 0;
        goto done;
    }
    if (!git_oid_equal(&idx_tree, git_commit_tree_id(oldc))) {
        grove_fail(err, GROVE_ECONFLICT,
                   "the index of '%s' holds neither %.12s nor %.12s: its files were left as they "
                   "are; run `git status` there",
                   path, old_hex, new_hex);
        goto done;
    }
    if (git_commit_tree(&old_tree, oldc) != 0 || git_commit_tree(&new_tree, newc) != 0) {
        fail_git(err, GROVE_EGIT, "cannot read commits %.12s and %.12s", old_hex, new_hex);
        goto done;
    }
    /*
     * Only the paths the two trees differ in: the others are as the old
     * commit has them in the index and (it was clean) in the files, and stay.
     * Without a list, libgit2 would compare every file of the worktree.
     */
    if (tree_changed_paths(wr, old_tree, new_tree, &changed, err) != 0)
        goto done;
    /*
     * The checkout updates `idx` (the repository's index, which it re-reads
     * only when the file changed) but does not write it: that is done below,
     * once, with the cache tree made valid again. The checkout invalidates
     * the cache tree along the paths it writes; left so, the next land's
     * clean check (worktree_dirty_files) and the check above would compare
     * HEAD's trees with the index entry by entry. `git commit` leaves it
     * valid too. The subtrees still valid are reused; the rest are the new
     * commit's trees, which exist already (nothing new is written to the
     * object database).
     */
    co.checkout_strategy =
        GIT_CHECKOUT_SAFE | GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH | GIT_CHECKOUT_DONT_WRITE_INDEX;
    co.baseline = old_tree;
    co.paths.strings = changed.v;
    co.paths.count = changed.n;
    git_error_clear();
    if (git_checkout_tree(wr, (const git_object *)newc, &co) != 0) {
        fail_git(err, GROVE_ECONFLICT, "cannot update the files of '%s' to %.12s", path, new_hex);
        goto done;
    }
    if (git_index_write_tree(&idx_tree, idx) != 0 || git_index_write(idx) != 0) {
        fail_git(err, GROVE_EGIT, "cannot write the index of '%s'", path);
        goto done;
    }
    rc = 0;
done:
    gitops_paths_free(&changed);
    git_tree_free(new_tree);
    git_tree_free(old_tree);
    git_commit_free(oldc);
    git_commit_free(newc);
    git_index_free(idx);
    git_reference_free(head);
    free(refname);
    return rc;
}

/* land_checkout_update_repo() on the worktree at `path`, opened here. */
static int land_checkout_update(const char *path, const char *into, const char *old_hex,
                                const char *new_hex, grove_err *err)
{
    git_repository *wr = NULL; /* owned: the worktree's repository */
    int rc;

    git_error_clear();
    if (git_repository_open(&wr, path) != 0)
        return fail_git(err, GROVE_EGIT, "cannot open the worktree '%s'", path);
    rc = land_checkout_update_repo(wr, path, into, old_hex, new_hex, err);
    git_repository_free(wr);
    return rc;
}

/* ---- the landing journal ---------------------------------------------------- */

/* <common>/grove/landing (made with the repo lock held). */
static char *landing_dir(const gitops_repo *r)
{
    return grove_asprintf("%s/grove/landing", r->common_dir);
}

/* <common>/grove/landing/<hex of the branch name>: branch names hold '/'. */
static char *landing_file(const gitops_repo *r, const char *into)
{
    char hex[2 * 256 + 1];
    size_t i, len = strlen(into);

    if (len > 255)
        return NULL;
    for (i = 0; i < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", (unsigned char)into[i]);
    hex[2 * len] = '\0';
    return grove_asprintf("%s/grove/landing/%s", r->common_dir, hex);
}

/* A journal's lines. */
typedef struct land_journal {
    char into[256];
    char old_hex[41];
    char new_hex[41];
    char checkout[PATH_MAX]; /* "" when none */
    char tag[256];
} land_journal;

/* Writes `j` to `file` atomically (a tmp file renamed into place), mode 0600. */
static int land_journal_write(const char *file, const land_journal *j, grove_err *err)
{
    char *tmp = grove_asprintf("%s.tmp", file);
    char *text = grove_asprintf("%s\n%s\n%s\n%s\n%s\n", j->into, j->old_hex, j->new_hex,
                                j->checkout[0] ? j->checkout : "-", j->tag);
    size_t len, off = 0;
    int fd = -1, rc = -1;

    if (!tmp || !text) {
        grove_nomem(err);
        goto done;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        grove_fail(err, GROVE_EIO, "cannot write '%s': %s", tmp, strerror(errno));
        goto done;
    }
    len = strlen(text);
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        off += (size_t)n;
    }
    if (off < len || fsync(fd) != 0 || close(fd) != 0 || rename(tmp, file) != 0) {
        grove_fail(err, GROVE_EIO, "cannot write the landing journal '%s': %s", file,
                   strerror(errno));
        if (off < len)
            close(fd);
        unlink(tmp);
        fd = -1;
        goto done;
    }
    fd = -1;
    rc = 0;
done:
    free(tmp);
    free(text);
    return rc;
}

/* Reads the journal at `file`; -1 when it is missing or malformed. */
static int land_journal_read(const char *file, land_journal *j)
{
    char buf[PATH_MAX + 1024];
    char *line[5], *p;
    int k;

    memset(j, 0, sizeof(*j));
    if (read_small_file(file, buf, sizeof(buf)) != 0)
        return -1;
    p = buf;
    for (k = 0; k < 5; k++) {
        char *nl = strchr(p, '\n');

        line[k] = p;
        if (!nl && k < 4)
            return -1;
        if (nl) {
            *nl = '\0';
            p = nl + 1;
        }
    }
    if (strlen(line[1]) != 40 || strlen(line[2]) != 40 || !line[0][0])
        return -1;
    snprintf(j->into, sizeof(j->into), "%s", line[0]);
    snprintf(j->old_hex, sizeof(j->old_hex), "%s", line[1]);
    snprintf(j->new_hex, sizeof(j->new_hex), "%s", line[2]);
    if (strcmp(line[3], "-") != 0)
        snprintf(j->checkout, sizeof(j->checkout), "%s", line[3]);
    snprintf(j->tag, sizeof(j->tag), "%s", line[4]);
    return 0;
}

/* The commit refs/heads/<into> points at, as hex; "" when the branch is gone. */
static void ref_hex(gitops_repo *r, const char *into, char hex[41])
{
    git_oid id;
    grove_err ignore = GROVE_ERR_INIT;

    hex[0] = '\0';
    if (branch_commit_oid(r, into, &id, &ignore) == 0)
        git_oid_tostr(hex, 41, &id);
}

/*
 * Finishes the land journal at `file` (repo lock held); fills *rec. The
 * journal is gone afterwards, whatever happened to the worktree (which is
 * reported in rec->note).
 */
static int land_journal_finish(gitops_repo *r, const char *file, gitops_land_recovered *rec,
                               grove_err *err)
{
    land_journal j;
    char now[41];
    grove_err cerr = GROVE_ERR_INIT;

    memset(rec, 0, sizeof(*rec));
    if (land_journal_read(file, &j) != 0) {
        unlink(file); /* a journal is written whole (renamed): this is not ours */
        return 0;
    }
    ref_hex(r, j.into, now);
    if (!(rec->into = grove_strdup(j.into)) || !(rec->tag = grove_strdup(j.tag)))
        return grove_nomem(err);
    snprintf(rec->new_into, sizeof(rec->new_into), "%s", j.new_hex);
    if (strcmp(now, j.new_hex) == 0) {
        rec->landed = 1;
        if (j.checkout[0] &&
            land_checkout_update(j.checkout, j.into, j.old_hex, j.new_hex, &cerr) != 0)
            rec->note = grove_strdup(cerr.msg);
    } else if (now[0] && strcmp(now, j.old_hex) != 0) {
        git_oid a, b;

        /* Moved on since: landed when the new commit is in what it points at now. */
        if (git_oid_fromstr(&a, now) == 0 && git_oid_fromstr(&b, j.new_hex) == 0 &&
            git_graph_descendant_of(r->repo, &a, &b) == 1)
            rec->landed = 1;
        git_error_clear();
    }
    unlink(file);
    return 0;
}

void gitops_land_recovered_free(gitops_land_recovered *v, size_t n)
{
    size_t i;

    for (i = 0; v && i < n; i++) {
        free(v[i].into);
        free(v[i].tag);
        free(v[i].note);
    }
    free(v);
}

/* gitops_land_recover() with the repo lock held. */
static int land_recover_locked(gitops_repo *r, const char *into, gitops_land_recovered **out,
                               size_t *n, grove_err *err)
{
    char *dir = landing_dir(r); /* owned */
    DIR *d = NULL;
    struct dirent *e;
    size_t cap = 0;
    int rc = -1;

    if (!dir) {
        grove_nomem(err);
        goto done;
    }
    if (!(d = opendir(dir))) {
        rc = errno == ENOENT
                 ? 0
                 : grove_fail(err, GROVE_EIO, "cannot read '%s': %s", dir, strerror(errno));
        goto done;
    }
    while ((e = readdir(d)) != NULL) {
        char *file, *want = NULL;
        size_t len = strlen(e->d_name);
        int mine;

        if (e->d_name[0] == '.')
            continue;
        if (!(file = grove_asprintf("%s/%s", dir, e->d_name))) {
            grove_nomem(err);
            goto done;
        }
        if (len > 4 && strcmp(e->d_name + len - 4, ".tmp") == 0) {
            unlink(file); /* a journal never renamed into place: its land moved nothing */
            free(file);
            continue;
        }
        want = into ? landing_file(r, into) : NULL;
        mine = !into || (want && strcmp(want, file) == 0);
        free(want);
        if (mine) {
            if (*n == cap) {
                gitops_land_recovered *grown = realloc(*out, (cap ? cap * 2 : 4) * sizeof(**out));

                if (!grown) {
                    free(file);
                    grove_nomem(err);
                    goto done;
                }
                *out = grown;
                cap = cap ? cap * 2 : 4;
            }
            if (land_journal_finish(r, file, &(*out)[*n], err) != 0) {
                (*n)++;
                free(file);
                goto done;
            }
            if ((*out)[*n].into)
                (*n)++;
        }
        free(file);
    }
    rc = 0;
done:
    if (d)
        closedir(d);
    free(dir);
    return rc;
}

int gitops_land_recover(gitops_repo *r, const char *into, gitops_land_recovered **out, size_t *n,
                        grove_err *err)
{
    int fd = -1, rc;

    *out = NULL;
    *n = 0;
    if (repo_lock(r, &fd, err) != 0)
        return -1;
    rc = land_recover_locked(r, into, out, n, err);
    repo_unlock(fd);
    if (rc != 0) {
        gitops_land_recovered_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* ---- the move ----------------------------------------------------------------- */

/* gitops_land_move_spec.check on its thread: its result and its error. */
typedef struct move_check {
    const gitops_land_move_spec *m;
    grove_err err;
    int rc;
} move_check;

static void *move_check_run(void *arg)
{
    move_check *c = arg;

    c->rc = c->m->check(c->m->check_arg, &c->err);
    return NULL;
}

/*
 * Under the lock, before anything moves: m->check and the clean check of
 * m->checkout (opened into *wr, which the update reuses). They read
 * different worktrees (separate repository handles, as libgit2 wants for
 * threads), so m->check runs on a second thread meanwhile; alone (no
 * checkout, a libgit2 without threads, no thread to be had) it runs here.
 */
static int move_checks(const gitops_land_move_spec *m, git_repository **wr, grove_err *err)
{
    move_check c = {m, GROVE_ERR_INIT, 0};
    pthread_t th;
    int threaded = 0, rc = 0;

    if (m->check && m->checkout && (git_libgit2_features() & GIT_FEATURE_THREADS))
        threaded = pthread_create(&th, NULL, move_check_run, &c) == 0;
    if (m->check && !threaded && (c.rc = m->check(m->check_arg, &c.err)) != 0) {
        *err = c.err;
        return -1;
    }
    if (m->checkout && (open_worktree_path(wr, m->checkout, err) != 0 ||
                        land_check_checkout_repo(*wr, m->checkout, m->into, err) != 0))
        rc = -1;
    if (threaded)
        pthread_join(th, NULL);
    if (c.rc != 0) {
        *err = c.err;
        return -1;
    }
    return rc;
}

int gitops_land_move(gitops_repo *r, const gitops_land_move_spec *m, int *raced, grove_err *err)
{
    land_journal j;
    git_reference *ref = NULL;
    git_repository *wr = NULL; /* owned: the worktree that has m->into checked out */
    char *dir = landing_dir(r), *file = landing_file(r, m->into);
    char *refname = grove_asprintf("refs/heads/%s", m->into);
    char *logmsg = grove_asprintf("grove land_instance: %s", m->tag);
    char now[41];
    git_oid old_id, new_id;
    grove_err cerr = GROVE_ERR_INIT;
    int fd = -1, rc = -1, journalled = 0, g;

    *raced = 0;
    if (!dir || !file || !refname || !logmsg) {
        grove_nomem(err);
        goto done;
    }
    if (git_oid_fromstr(&old_id, m->old_into) != 0 || git_oid_fromstr(&new_id, m->new_into) != 0) {
        grove_fail(err, GROVE_EINVAL, "bad commit id");
        goto done;
    }
    if (repo_lock(r, &fd, err) != 0)
        goto done;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        grove_fail(err, GROVE_EIO, "cannot create folder '%s': %s", dir, strerror(errno));
        goto done;
    }
    /*
     * Checked again under the lock, before anything moves; the same handle
     * updates its files below (its index is read once).
     */
    if (move_checks(m, &wr, err) != 0)
        goto done;
    ref_hex(r, m->into, now);
    if (strcmp(now, m->old_into) != 0) {
        *raced = 1;
        grove_fail(err, GROVE_ECONFLICT, "'%s' moved meanwhile (from %.12s to %.12s)", m->into,
                   m->old_into, now[0] ? now : "nothing: the branch is gone");
        goto done;
    }
    memset(&j, 0, sizeof(j));
    snprintf(j.into, sizeof(j.into), "%s", m->into);
    snprintf(j.old_hex, sizeof(j.old_hex), "%s", m->old_into);
    snprintf(j.new_hex, sizeof(j.new_hex), "%s", m->new_into);
    snprintf(j.checkout, sizeof(j.checkout), "%s", m->checkout ? m->checkout : "");
    snprintf(j.tag, sizeof(j.tag), "%s", m->tag);
    if (land_journal_write(file, &j, err) != 0)
        goto done;
    journalled = 1;
    if (m->stage)
        m->stage(m->stage_arg, "journal-written");
    git_error_clear();
    if ((g = git_reference_create_matching(&ref, r->repo, refname, &new_id, 1, &old_id, logmsg)) !=
        0) {
        if (g == GIT_EMODIFIED) {
            *raced = 1;
            fail_git(err, GROVE_ECONFLICT, "'%s' moved meanwhile", m->into);
        } else {
            fail_git(err, GROVE_EGIT, "cannot move '%s' to %.12s", m->into, m->new_into);
        }
        goto done;
    }
    if (m->stage)
        m->stage(m->stage_arg, "ref-moved");
    if (wr &&
        land_checkout_update_repo(wr, m->checkout, m->into, m->old_into, m->new_into, &cerr) != 0)
        log_warn("landed into '%s', but its checkout '%s' was not updated: %s", m->into,
                 m->checkout, cerr.msg);
    if (m->stage)
        m->stage(m->stage_arg, "checked-out");
    rc = 0;
done:
    if (journalled)
        unlink(file); /* moved and checked out, or nothing moved */
    if (fd >= 0)
        repo_unlock(fd);
    git_repository_free(wr);
    git_reference_free(ref);
    free(dir);
    free(file);
    free(refname);
    free(logmsg);
    return rc;
}
