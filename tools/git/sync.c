/*
 * sync: brings a base branch's head into a branch checked out in a linked
 * worktree, by rebase or merge, computed in memory and applied all at once
 * (see gitops_sync() in git.h).
 *
 * Crash safety. The only state that is neither before nor after is the one
 * between the branch's move and the end of the worktree's checkout; the
 * sync journal <common>/grove/syncing/<name> ("<old> <new>\n<branch>\n",
 * written before the move, removed after the checkout) names it, and
 * gitops_sync_recover() finishes it. Killed before the journal or with the
 * branch not yet moved: the old state. Killed after the checkout: the new
 * state with a journal that the next recover removes.
 */
#include "tools/git/git_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A growing list of malloc'd strings. */
typedef struct str_list {
    char **items; /* owned, with each string */
    size_t n, cap;
} str_list;

static int list_add(str_list *l, const char *s)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **grown = realloc(l->items, (cap + 1) * sizeof(*grown));

        if (!grown)
            return -1;
        l->items = grown;
        l->cap = cap;
    }
    if (!(l->items[l->n] = strdup(s)))
        return -1;
    l->n++;
    l->items[l->n] = NULL;
    return 0;
}

static void list_free(str_list *l)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    memset(l, 0, sizeof(*l));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts the list and drops repeated strings. */
static void list_sort_unique(str_list *l)
{
    size_t i, k = 0;

    if (l->n == 0)
        return;
    qsort(l->items, l->n, sizeof(*l->items), cmp_str);
    for (i = 0; i < l->n; i++) {
        if (k > 0 && strcmp(l->items[i], l->items[k - 1]) == 0) {
            free(l->items[i]);
            continue;
        }
        l->items[k++] = l->items[i];
    }
    l->n = k;
    l->items[k] = NULL;
}

static int list_has(const str_list *l, const char *s)
{
    return l->n > 0 && bsearch(&s, l->items, l->n, sizeof(*l->items), cmp_str) != NULL;
}

void gitops_sync_result_free(gitops_sync_result *res)
{
    size_t i;

    if (!res)
        return;
    for (i = 0; res->conflicting && i < res->nconflicting; i++)
        free(res->conflicting[i]);
    free(res->conflicting);
    memset(res, 0, sizeof(*res));
}

static void stage(const gitops_sync_opts *o, const char *what)
{
    if (o->stage)
        o->stage(o->stage_arg, what);
}

/* <common dir>/grove/syncing/<name> (malloc'd); the folder is made when `make`. */
static char *journal_sync_path(const gitops_repo *r, const char *name, int make)
{
    if (make) {
        char *dir = grove_asprintf("%s/grove/syncing", r->common_dir); /* owned: freed here */

        if (dir && mkdir(dir, 0700) != 0 && errno != EEXIST)
            log_warn("cannot create folder '%s': %s", dir, strerror(errno));
        free(dir);
    }
    return grove_asprintf("%s/grove/syncing/%s", r->common_dir, name);
}

/* Opens the worktree at `path` (no search upwards) and checks that it is on `branch`. */
static int open_worktree_on(git_repository **out, const char *path, const char *branch,
                            grove_err *err)
{
    git_reference *head = NULL; /* owned: freed at done */
    const char *target;
    int rc = -1;

    *out = NULL;
    if (!path || !path_exists(path))
        return grove_fail(err, GROVE_ENOTFOUND, "worktree '%s' not found", path ? path : "?");
    git_error_clear();
    if (git_repository_open_ext(out, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0)
        return fail_git(err, GROVE_EGIT, "cannot open worktree '%s'", path);
    git_error_clear();
    if (git_reference_lookup(&head, *out, "HEAD") < 0) {
        fail_git(err, GROVE_EGIT, "cannot read HEAD of '%s'", path);
        goto done;
    }
    target = git_reference_symbolic_target(head);
    if (!target || strncmp(target, "refs/heads/", 11) != 0 || strcmp(target + 11, branch) != 0) {
        grove_fail(err, GROVE_ECONFLICT,
                   "the worktree '%s' is not on branch '%s' (HEAD is %s): check out '%s' there "
                   "first",
                   path, branch, target ? target : "detached", branch);
        goto done;
    }
    rc = 0;
done:
    git_reference_free(head);
    if (rc != 0) {
        git_repository_free(*out);
        *out = NULL;
    }
    return rc;
}

/* The paths `git status` lists for `wt` (untracked folders in full when `recurse`). */
static int status_paths(git_repository *wt, const char *path, int recurse, str_list *out,
                        grove_err *err)
{
    git_status_options so;
    git_status_list *list = NULL; /* owned: freed at done */
    size_t i, n;
    int rc = -1;

    git_error_clear();
    if (git_status_options_init(&so, GIT_STATUS_OPTIONS_VERSION) < 0)
        return fail_git(err, GROVE_EGIT, "cannot set up status options");
    so.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
    so.flags =
        GIT_STATUS_OPT_INCLUDE_UNTRACKED | (recurse ? GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS : 0);
    git_error_clear();
    if (git_status_list_new(&list, wt, &so) < 0)
        return fail_git(err, GROVE_EGIT, "cannot read the status of '%s'", path);
    n = git_status_list_entrycount(list);
    for (i = 0; i < n; i++) {
        const git_status_entry *e = git_status_byindex(list, i);
        const git_diff_delta *d;

        if (!e || e->status == GIT_STATUS_CURRENT || (e->status & GIT_STATUS_IGNORED))
            continue;
        d = e->index_to_workdir ? e->index_to_workdir : e->head_to_index;
        if (d && list_add(out, d->new_file.path ? d->new_file.path : d->old_file.path) != 0) {
            rc = grove_nomem(err);
            goto done;
        }
        d = e->head_to_index;
        if (d && d->old_file.path && list_add(out, d->old_file.path) != 0) {
            rc = grove_nomem(err);
            goto done;
        }
    }
    list_sort_unique(out);
    rc = 0;
done:
    git_status_list_free(list);
    return rc;
}

/* The paths of the conflicts in merged index `idx`, sorted, into out. */
static int conflict_paths(git_index *idx, str_list *out, grove_err *err)
{
    git_index_conflict_iterator *it = NULL; /* owned: freed at done */
    const git_index_entry *anc, *ours, *theirs;
    int nrc, rc = -1;

    git_error_clear();
    if (git_index_conflict_iterator_new(&it, idx) < 0)
        return fail_git(err, GROVE_EGIT, "cannot list the conflicts");
    while ((nrc = git_index_conflict_next(&anc, &ours, &theirs, it)) == 0) {
        const char *p = ours ? ours->path : theirs ? theirs->path : anc ? anc->path : NULL;

        if (p && list_add(out, p) != 0) {
            rc = grove_nomem(err);
            goto done;
        }
    }
    if (nrc != GIT_ITEROVER) {
        rc = fail_git(err, GROVE_EGIT, "cannot list the conflicts");
        goto done;
    }
    list_sort_unique(out);
    rc = 0;
done:
    git_index_conflict_iterator_free(it);
    return rc;
}

/*
 * Merges the trees of ancestor, ours and theirs. Clean: *tree_out gets the
 * result's tree id (written to the odb) and *clean 1. Conflicts: *clean 0 and
 * `conflicts` the paths.
 */
static int merge_step(git_repository *repo, const git_tree *anc, const git_tree *ours,
                      const git_tree *theirs, git_oid *tree_out, int *clean, str_list *conflicts,
                      grove_err *err)
{
    git_merge_options mo;
    git_index *idx = NULL; /* owned: the merged index, freed at done */
    int rc = -1;

    *clean = 0;
    git_error_clear();
    if (git_merge_options_init(&mo, GIT_MERGE_OPTIONS_VERSION) < 0)
        return fail_git(err, GROVE_EGIT, "cannot set up merge options");
    git_error_clear();
    if (git_merge_trees(&idx, repo, anc, ours, theirs, &mo) < 0)
        return fail_git(err, GROVE_EGIT, "cannot merge trees");
    if (git_index_has_conflicts(idx)) {
        rc = conflict_paths(idx, conflicts, err);
        goto done;
    }
    git_error_clear();
    if (git_index_write_tree_to(tree_out, idx, repo) < 0) {
        rc = fail_git(err, GROVE_EGIT, "cannot write the merged tree");
        goto done;
    }
    *clean = 1;
    rc = 0;
done:
    git_index_free(idx);
    return rc;
}

/* The committer: the repository's user.name/user.email, else `fallback`'s name, both now. */
static int committer_for(git_repository *repo, const git_signature *fallback, git_signature **out,
                         grove_err *err)
{
    git_error_clear();
    if (git_signature_default(out, repo) == 0)
        return 0;
    git_error_clear();
    if (git_signature_now(out, fallback->name, fallback->email) < 0)
        return fail_git(err, GROVE_EGIT, "cannot make a committer signature");
    return 0;
}

/*
 * Replays the commits of `head` that `base` does not reach onto `base`, in
 * memory. Clean: *new_head the last new commit. A conflict: *clean 0.
 */
static int rebase_compute(git_repository *repo, const git_oid *head, const git_oid *base,
                          git_oid *new_head, int *clean, size_t *replayed, str_list *conflicts,
                          grove_err *err)
{
    /* All owned: each step's objects are freed at the next step and at done. */
    git_revwalk *walk = NULL;
    git_commit *c = NULL, *parent = NULL, *onto = NULL;
    git_tree *anc = NULL, *ours = NULL, *theirs = NULL, *merged = NULL;
    git_signature *committer = NULL;
    git_oid oid, tree_id;
    int nrc, rc = -1;

    *clean = 1;
    *replayed = 0;
    git_oid_cpy(new_head, base);
    git_error_clear();
    if (git_revwalk_new(&walk, repo) < 0 ||
        git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_REVERSE) < 0 ||
        git_revwalk_push(walk, head) < 0 || git_revwalk_hide(walk, base) < 0)
        return fail_git(err, GROVE_EGIT, "cannot walk the commits to replay");
    while ((nrc = git_revwalk_next(&oid, walk)) == 0) {
        const git_commit *parents[1];
        int was_empty;

        git_commit_free(c);
        git_commit_free(parent);
        git_commit_free(onto);
        git_tree_free(anc);
        git_tree_free(ours);
        git_tree_free(theirs);
        git_signature_free(committer);
        c = parent = onto = NULL;
        anc = ours = theirs = NULL;
        committer = NULL;
        git_error_clear();
        if (git_commit_lookup(&c, repo, &oid) < 0) {
            fail_git(err, GROVE_EGIT, "cannot read a commit to replay");
            goto done;
        }
        if (git_commit_parentcount(c) != 1) /* merges are skipped, as by `git rebase` */
            continue;
        git_error_clear();
        if (git_commit_parent(&parent, c, 0) < 0 || git_commit_tree(&anc, parent) < 0 ||
            git_commit_tree(&theirs, c) < 0 || git_commit_lookup(&onto, repo, new_head) < 0 ||
            git_commit_tree(&ours, onto) < 0) {
            fail_git(err, GROVE_EGIT, "cannot read the trees of a commit to replay");
            goto done;
        }
        if (merge_step(repo, anc, ours, theirs, &tree_id, clean, conflicts, err) != 0)
            goto done;
        if (!*clean) {
            rc = 0;
            goto done;
        }
        was_empty = git_oid_equal(git_tree_id(anc), git_tree_id(theirs));
        if (!was_empty && git_oid_equal(&tree_id, git_tree_id(ours)))
            continue; /* its change is in the base already: dropped, as by `git rebase` */
        git_tree_free(merged);
        merged = NULL;
        git_error_clear();
        if (git_tree_lookup(&merged, repo, &tree_id) < 0) {
            fail_git(err, GROVE_EGIT, "cannot read the merged tree");
            goto done;
        }
        if (committer_for(repo, git_commit_committer(c), &committer, err) != 0)
            goto done;
        parents[0] = onto;
        git_error_clear();
        if (git_commit_create(new_head, repo, NULL, git_commit_author(c), committer,
                              git_commit_message_encoding(c), git_commit_message_raw(c), merged, 1,
                              parents) < 0) {
            fail_git(err, GROVE_EGIT, "cannot write a replayed commit");
            goto done;
        }
        (*replayed)++;
    }
    if (nrc != GIT_ITEROVER) {
        fail_git(err, GROVE_EGIT, "cannot walk the commits to replay");
        goto done;
    }
    rc = 0;
done:
    git_signature_free(committer);
    git_tree_free(merged);
    git_tree_free(anc);
    git_tree_free(ours);
    git_tree_free(theirs);
    git_commit_free(onto);
    git_commit_free(parent);
    git_commit_free(c);
    git_revwalk_free(walk);
    return rc;
}

/* One merge commit of `head` and `base` (merge base `mb`), in memory. */
static int merge_compute(git_repository *repo, const gitops_sync_opts *o, const git_oid *head,
                         const git_oid *base, const git_oid *mb, git_oid *new_head, int *clean,
                         str_list *conflicts, grove_err *err)
{
    /* All owned: freed at done. */
    git_commit *ch = NULL, *cb = NULL, *cm = NULL;
    git_tree *th = NULL, *tb = NULL, *tm = NULL, *merged = NULL;
    git_signature *sig = NULL;
    git_oid tree_id;
    char *message = NULL;
    int rc = -1;

    git_error_clear();
    if (git_commit_lookup(&ch, repo, head) < 0 || git_commit_lookup(&cb, repo, base) < 0 ||
        git_commit_lookup(&cm, repo, mb) < 0 || git_commit_tree(&th, ch) < 0 ||
        git_commit_tree(&tb, cb) < 0 || git_commit_tree(&tm, cm) < 0) {
        fail_git(err, GROVE_EGIT, "cannot read the commits to merge");
        goto done;
    }
    if (merge_step(repo, tm, th, tb, &tree_id, clean, conflicts, err) != 0)
        goto done;
    if (!*clean) {
        rc = 0;
        goto done;
    }
    message = grove_asprintf("Merge branch '%s' into %s\n", o->base, o->branch);
    if (!message) {
        grove_nomem(err);
        goto done;
    }
    git_error_clear();
    if (git_tree_lookup(&merged, repo, &tree_id) < 0) {
        fail_git(err, GROVE_EGIT, "cannot read the merged tree");
        goto done;
    }
    if (committer_for(repo, git_commit_committer(ch), &sig, err) != 0)
        goto done;
    {
        const git_commit *parents[2] = {ch, cb};

        git_error_clear();
        if (git_commit_create(new_head, repo, NULL, sig, sig, NULL, message, merged, 2, parents) <
            0) {
            fail_git(err, GROVE_EGIT, "cannot write the merge commit");
            goto done;
        }
    }
    rc = 0;
done:
    free(message);
    git_signature_free(sig);
    git_tree_free(merged);
    git_tree_free(th);
    git_tree_free(tb);
    git_tree_free(tm);
    git_commit_free(ch);
    git_commit_free(cb);
    git_commit_free(cm);
    return rc;
}

/* The tree of commit `id`. */
static int commit_tree_of(git_repository *repo, const git_oid *id, git_tree **out, grove_err *err)
{
    git_commit *c = NULL; /* owned: freed here */
    int rc;

    *out = NULL;
    git_error_clear();
    rc = git_commit_lookup(&c, repo, id) < 0 || git_commit_tree(out, c) < 0 ? -1 : 0;
    git_commit_free(c);
    if (rc != 0)
        return fail_git(err, GROVE_EGIT, "cannot read the tree of a commit");
    return 0;
}

/*
 * Updates the files and index of `wt` from tree `from` to tree `to`.
 * paths NULL: a safe checkout with `from` as baseline (a file that differs
 * from it is not overwritten: failure). Else a forced checkout of exactly
 * those paths (recovery, after checking them).
 */
static int checkout_trees(git_repository *wt, const char *path, git_tree *from, git_tree *to,
                          const str_list *paths, grove_err *err)
{
    git_checkout_options co;

    git_error_clear();
    if (git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION) < 0)
        return fail_git(err, GROVE_EGIT, "cannot set up checkout options");
    co.baseline = from;
    if (paths) {
        co.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH;
        co.paths.strings = paths->items;
        co.paths.count = paths->n;
    } else {
        co.checkout_strategy = GIT_CHECKOUT_SAFE;
    }
    git_error_clear();
    if (git_checkout_tree(wt, (const git_object *)to, &co) < 0)
        return fail_git(err, GROVE_EGIT, "cannot update the files of '%s'", path);
    return 0;
}

/* Reads the journal: *old, *new and the branch (malloc'd). 0 read, 1 none, -1 unreadable. */
static int journal_sync_read(const char *file, git_oid *old, git_oid *new, char **branch)
{
    char *one = NULL, *two = NULL; /* owned: freed at done (two moves to *branch) */
    int rc = -1;

    *branch = NULL;
    if (!path_exists(file))
        return 1;
    if (journal_read_two_lines(file, &one, &two) != 0 || !one || !two || strlen(one) != 81 ||
        one[40] != ' ' || git_oid_fromstrn(old, one, 40) < 0 ||
        git_oid_fromstrn(new, one + 41, 40) < 0)
        goto done;
    *branch = two;
    two = NULL;
    rc = 0;
done:
    free(one);
    free(two);
    return rc;
}

/*
 * 1 when the file `rel` of `wt` holds blob `a` or blob `b` (NULL: the file
 * is absent on that side), else 0; -1 on failure.
 */
static int content_is(git_repository *wt, const char *root, const char *rel, const git_oid *a,
                      const git_oid *b)
{
    char full[PATH_MAX];
    struct stat st;
    git_oid id;

    if ((size_t)snprintf(full, sizeof(full), "%s/%s", root, rel) >= sizeof(full))
        return -1;
    if (lstat(full, &st) != 0)
        return (errno == ENOENT || errno == ENOTDIR) && (!a || !b) ? 1 : 0;
    if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlink(full, target, sizeof(target));

        if (n < 0 || (size_t)n >= sizeof(target) ||
            git_odb_hash(&id, target, (size_t)n, GIT_OBJECT_BLOB) < 0)
            return 0;
    } else if (!S_ISREG(st.st_mode) ||
               git_repository_hashfile(&id, wt, rel, GIT_OBJECT_BLOB, NULL) < 0) {
        return 0;
    }
    return (a && git_oid_equal(&id, a)) || (b && git_oid_equal(&id, b));
}

/*
 * The branch moved to `new` but the files of `wt` may still be (partly)
 * the old tree's: checks that every path that differs from `new` is one the
 * sync changes and holds the old or the new content, then writes the new
 * content of exactly those paths. Repo lock held.
 */
static int finish_checkout(git_repository *wt, const char *root, const git_oid *old,
                           const git_oid *new, grove_err *err)
{
    /* All owned: freed at done. */
    git_tree *told = NULL, *tnew = NULL;
    git_diff *diff = NULL;
    str_list changed = {0}, dirty = {0}, bad = {0};
    size_t i, n;
    int rc = -1;

    if (commit_tree_of(wt, old, &told, err) != 0 || commit_tree_of(wt, new, &tnew, err) != 0)
        goto done;
    git_error_clear();
    if (git_diff_tree_to_tree(&diff, wt, told, tnew, NULL) < 0) {
        fail_git(err, GROVE_EGIT, "cannot compare the trees of the interrupted sync");
        goto done;
    }
    n = git_diff_num_deltas(diff);
    for (i = 0; i < n; i++) {
        const git_diff_delta *d = git_diff_get_delta(diff, i);
        const git_oid *a = d->status == GIT_DELTA_ADDED ? NULL : &d->old_file.id;
        const git_oid *b = d->status == GIT_DELTA_DELETED ? NULL : &d->new_file.id;
        int ok;

        if (list_add(&changed, d->new_file.path) != 0) {
            grove_nomem(err);
            goto done;
        }
        ok = content_is(wt, root, d->new_file.path, a, b);
        if (ok != 1 && list_add(&bad, d->new_file.path) != 0) {
            grove_nomem(err);
            goto done;
        }
    }
    list_sort_unique(&changed);
    if (status_paths(wt, root, 1, &dirty, err) != 0)
        goto done;
    for (i = 0; i < dirty.n; i++)
        if (!list_has(&changed, dirty.items[i]) && list_add(&bad, dirty.items[i]) != 0) {
            grove_nomem(err);
            goto done;
        }
    if (bad.n > 0) {
        char files[1024];

        list_sort_unique(&bad);
        grove_list_text(bad.items, bad.n, 8, files, sizeof(files));
        grove_fail(err, GROVE_ECONFLICT,
                   "a sync of '%s' was interrupted after its branch moved, and these files have "
                   "changed since: %s; grove leaves them alone: commit them (or restore them with "
                   "'git checkout HEAD -- <file>'), then delete the journal in "
                   "<git dir>/grove/syncing",
                   root, files);
        goto done;
    }
    if (dirty.n > 0 && checkout_trees(wt, root, told, tnew, &changed, err) != 0)
        goto done;
    rc = 0;
done:
    list_free(&changed);
    list_free(&dirty);
    list_free(&bad);
    git_diff_free(diff);
    git_tree_free(told);
    git_tree_free(tnew);
    return rc;
}

/* gitops_sync_recover() with the repo lock held. */
static int recover_locked(gitops_repo *r, const char *name, const char *worktree, int *finished,
                          grove_err *err)
{
    /* wt, file, branch and tmp owned: freed at done. */
    git_repository *wt = NULL;
    git_oid old, new, cur;
    char *file = journal_sync_path(r, name, 0), *branch = NULL, *tmp = NULL;
    char hex[GIT_OID_HEXSZ + 1];
    int jrc, rc = -1;

    if (!file || !(tmp = grove_asprintf("%s.tmp", file))) {
        rc = grove_nomem(err);
        goto done;
    }
    unlink(tmp); /* a journal half written: the move it was for never happened */
    jrc = journal_sync_read(file, &old, &new, &branch);
    if (jrc == 1) {
        rc = 0;
        goto done;
    }
    if (jrc < 0 || !gitops_branch_name_valid(branch)) {
        grove_fail(err, GROVE_ECONFLICT,
                   "the sync journal '%s' cannot be read: check that the worktree '%s' is on the "
                   "commit you expect, then delete the journal",
                   file, worktree);
        goto done;
    }
    if (branch_commit_oid(r, branch, &cur, err) != 0)
        goto done;
    if (git_oid_equal(&cur, &old)) { /* killed before the move: nothing changed */
        unlink(file);
        rc = 0;
        goto done;
    }
    if (!git_oid_equal(&cur, &new)) {
        grove_fail(err, GROVE_ECONFLICT,
                   "a sync of '%s' was interrupted, and its branch '%s' has moved since (now %s): "
                   "check the worktree's files with 'git status', then delete the journal '%s'",
                   worktree, branch, git_oid_tostr(hex, sizeof(hex), &cur), file);
        goto done;
    }
    if (open_worktree_on(&wt, worktree, branch, err) != 0 ||
        finish_checkout(wt, worktree, &old, &new, err) != 0)
        goto done;
    if (unlink(file) != 0 && errno != ENOENT) {
        grove_fail(err, GROVE_EIO, "cannot remove the sync journal '%s': %s", file,
                   strerror(errno));
        goto done;
    }
    *finished = 1;
    rc = 0;
done:
    git_repository_free(wt);
    free(branch);
    free(tmp);
    free(file);
    return rc;
}

int gitops_sync_recover(gitops_repo *r, const char *name, const char *worktree, int *finished,
                        grove_err *err)
{
    char *file; /* owned: freed below */
    int fd, rc, there;

    *finished = 0;
    if (!name_valid(name))
        return grove_fail(err, GROVE_EINVAL, "invalid worktree name '%s'", name ? name : "");
    if (!(file = journal_sync_path(r, name, 0)))
        return grove_nomem(err);
    there = path_exists(file);
    free(file);
    if (!there) /* the common case, without taking the lock */
        return 0;
    if (repo_lock(r, &fd, err) != 0)
        return -1;
    rc = recover_locked(r, name, worktree, finished, err);
    repo_unlock(fd);
    return rc;
}

/*
 * Moves the branch from out->old_head to out->new_head and updates the
 * worktree, journalled, under the repo lock.
 */
static int apply_locked(gitops_repo *r, const gitops_sync_opts *o, const git_oid *old,
                        const git_oid *new, grove_err *err)
{
    /* All owned: freed at done. */
    git_repository *wt = NULL;
    git_reference *ref = NULL;
    git_tree *told = NULL, *tnew = NULL;
    str_list dirty = {0};
    char *file = journal_sync_path(r, o->name, 1), *refname = NULL, *msg = NULL;
    char hold[GIT_OID_HEXSZ + 1], hnew[GIT_OID_HEXSZ + 1], line[2 * GIT_OID_HEXSZ + 2];
    int rc = -1, grc, moved = 0;

    git_oid_tostr(hold, sizeof(hold), old);
    git_oid_tostr(hnew, sizeof(hnew), new);
    refname = grove_asprintf("refs/heads/%s", o->branch);
    msg = grove_asprintf("grove sync_instance: %s onto %s",
                         o->strategy == GITOPS_SYNC_MERGE ? "merge" : "rebase", o->base);
    if (!file || !refname || !msg) {
        grove_nomem(err);
        goto done;
    }
    /* What was checked before the lock may have changed: the worktree, and the branch. */
    if (open_worktree_on(&wt, o->worktree, o->branch, err) != 0 ||
        status_paths(wt, o->worktree, 0, &dirty, err) != 0)
        goto done;
    if (dirty.n > 0) {
        char files[1024];

        grove_list_text(dirty.items, dirty.n, 8, files, sizeof(files));
        grove_fail(err, GROVE_ECONFLICT,
                   "the worktree '%s' changed during the sync (%s): nothing was changed; commit "
                   "or stash, then sync again",
                   o->worktree, files);
        goto done;
    }
    /* Trees of the worktree's own handle: libgit2 checks out only its repository's objects. */
    if (commit_tree_of(wt, old, &told, err) != 0 || commit_tree_of(wt, new, &tnew, err) != 0)
        goto done;
    snprintf(line, sizeof(line), "%s %s", hold, hnew);
    if (journal_write_two_lines(file, line, o->branch, err) != 0)
        goto done;
    stage(o, "journal-written");
    git_error_clear();
    grc = git_reference_create_matching(&ref, r->repo, refname, new, 1, old, msg);
    if (grc == GIT_EMODIFIED) {
        grove_fail(err, GROVE_ECONFLICT,
                   "branch '%s' moved while it was being synced: nothing was changed; sync again",
                   o->branch);
        goto done;
    }
    if (grc < 0) {
        fail_git(err, GROVE_EGIT, "cannot move branch '%s'", o->branch);
        goto done;
    }
    moved = 1;
    stage(o, "ref-moved");
    if (checkout_trees(wt, o->worktree, told, tnew, NULL, err) != 0) {
        char why[sizeof(err->msg)];

        snprintf(why, sizeof(why), "%s", err->msg);
        grove_fail(err, err->code,
                   "branch '%s' moved to %s, but the files of '%s' could not all be updated "
                   "(%s); fix that and call sync_instance again: it finishes the update",
                   o->branch, hnew, o->worktree, why);
        goto done;
    }
    stage(o, "checked-out");
    rc = 0;
done:
    if (file && (rc == 0 || !moved))
        unlink(file); /* kept only for a move whose checkout failed: recover finishes it */
    list_free(&dirty);
    git_tree_free(told);
    git_tree_free(tnew);
    git_reference_free(ref);
    git_repository_free(wt);
    free(file);
    free(refname);
    free(msg);
    return rc;
}

int gitops_sync(gitops_repo *r, const gitops_sync_opts *o, gitops_sync_result *out, grove_err *err)
{
    git_oid old, base, mb, new;
    str_list conflicts = {0}; /* owned: moved into out->conflicting, else freed at done */
    int clean = 1, fd = -1, rc = -1, grc;
    char sha[41];

    memset(out, 0, sizeof(*out));
    if (!name_valid(o->name)) {
        grove_fail(err, GROVE_EINVAL, "invalid worktree name '%s'", o->name ? o->name : "");
        goto done;
    }
    if (branch_commit_oid(r, o->branch, &old, err) != 0 ||
        gitops_resolve_branch(r, o->base, sha, err) != 0)
        goto done;
    git_error_clear();
    if (git_oid_fromstr(&base, sha) < 0) {
        fail_git(err, GROVE_EGIT, "cannot read the head of '%s'", o->base);
        goto done;
    }
    git_oid_tostr(out->old_head, sizeof(out->old_head), &old);
    git_oid_tostr(out->base_head, sizeof(out->base_head), &base);
    memcpy(out->new_head, out->old_head, sizeof(out->new_head));

    /* Up to date: the base head is the branch head or one of its ancestors. */
    if (git_oid_equal(&old, &base) || git_graph_descendant_of(r->repo, &old, &base) == 1) {
        out->synced = 1;
        rc = 0;
        goto done;
    }
    git_error_clear();
    grc = git_merge_base(&mb, r->repo, &old, &base);
    if (grc == GIT_ENOTFOUND) {
        grove_fail(err, GROVE_ECONFLICT,
                   "branch '%s' and '%s' have no common history: nothing to sync onto", o->branch,
                   o->base);
        goto done;
    }
    if (grc < 0) {
        fail_git(err, GROVE_EGIT, "cannot find the merge base of '%s' and '%s'", o->branch,
                 o->base);
        goto done;
    }
    if (git_oid_equal(&mb, &old)) { /* no commits of its own: a fast-forward */
        git_oid_cpy(&new, &base);
    } else if (o->strategy == GITOPS_SYNC_MERGE) {
        if (merge_compute(r->repo, o, &old, &base, &mb, &new, &clean, &conflicts, err) != 0)
            goto done;
    } else if (rebase_compute(r->repo, &old, &base, &new, &clean, &out->replayed, &conflicts,
                              err) != 0) {
        goto done;
    }
    if (!clean) {
        out->conflicting = conflicts.items;
        out->nconflicting = conflicts.n;
        memset(&conflicts, 0, sizeof(conflicts));
        rc = 0;
        goto done;
    }
    stage(o, "computed");
    if (repo_lock(r, &fd, err) != 0)
        goto done;
    if (apply_locked(r, o, &old, &new, err) != 0)
        goto done;
    git_oid_tostr(out->new_head, sizeof(out->new_head), &new);
    out->synced = 1;
    rc = 0;
done:
    repo_unlock(fd);
    list_free(&conflicts);
    if (rc != 0)
        gitops_sync_result_free(out);
    return rc;
}
