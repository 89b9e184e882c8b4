/*
 * state: what a worktree holds (HEAD, status, ahead/behind), diff stats
 * between commits and what removing a worktree and its branch would lose.
 */
#include "tools/git/git_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- worktree state ---------------------------------------------------- */

int open_worktree_path(git_repository **out, const char *path, grove_err *err)
{
    struct stat st;
    int rc;

    *out = NULL;
    if (!path || !*path)
        return grove_fail(err, GROVE_EINVAL, "worktree path is empty");
    if (stat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return grove_fail(err, GROVE_ENOTFOUND, "worktree '%s' not found", path);
        return grove_fail(err, GROVE_EIO, "cannot use worktree '%s': %s", path, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode))
        return grove_fail(err, GROVE_ENOTFOUND, "worktree '%s' is not a folder", path);
    git_error_clear();
    rc = git_repository_open_ext(out, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
    if (rc == GIT_ENOTFOUND)
        return grove_fail(err, GROVE_ENOTFOUND, "'%s' is not a git worktree", path);
    if (rc < 0)
        return fail_git(err, GROVE_EGIT, "cannot open worktree '%s'", path);
    return 0;
}

int worktree_head_oid(git_repository *repo, const char *path, git_oid *oid, grove_err *err)
{
    int rc;

    git_error_clear();
    rc = git_reference_name_to_id(oid, repo, "HEAD");
    if (rc == GIT_ENOTFOUND)
        return grove_fail(err, GROVE_ENOTFOUND, "HEAD of '%s' has no commit yet", path);
    if (rc < 0)
        return fail_git(err, GROVE_EGIT, "cannot read HEAD of '%s'", path);
    return 0;
}

int gitops_worktree_head(const char *path, char sha[41], grove_err *err)
{
    git_repository *repo = NULL;
    git_oid oid;
    int rc;

    sha[0] = '\0';
    if (open_worktree_path(&repo, path, err) != 0)
        return -1;
    rc = worktree_head_oid(repo, path, &oid, err);
    if (rc == 0)
        git_oid_tostr(sha, 41, &oid);
    git_repository_free(repo);
    return rc;
}

static void wt_cache_drop(gitops_repo *r)
{
    git_repository_free(r->wt_repo);
    r->wt_repo = NULL;
    free(r->wt_path);
    r->wt_path = NULL;
}

int gitops_worktree_head_cached(gitops_repo *r, const char *path, char sha[41], grove_err *err)
{
    git_repository *repo = NULL;
    struct stat st;
    char *dotgit = path && *path ? grove_asprintf("%s/.git", path) : NULL;
    int same;

    sha[0] = '\0';
    if (!dotgit || stat(dotgit, &st) != 0) { /* gone (or odd): the uncached path says why */
        free(dotgit);
        wt_cache_drop(r);
        return gitops_worktree_head(path, sha, err);
    }
    free(dotgit);
    /* A worktree removed and made again at the same path has a new .git file. */
    same = r->wt_repo && strcmp(r->wt_path, path) == 0 && st.st_dev == r->wt_dotgit.st_dev &&
           st.st_ino == r->wt_dotgit.st_ino && st.st_mtim.tv_sec == r->wt_dotgit.st_mtim.tv_sec &&
           st.st_mtim.tv_nsec == r->wt_dotgit.st_mtim.tv_nsec;
    if (!same) {
        wt_cache_drop(r);
        if (open_worktree_path(&repo, path, err) != 0)
            return -1;
        if (!(r->wt_path = strdup(path))) {
            git_repository_free(repo);
            return grove_nomem(err);
        }
        r->wt_repo = repo;
        r->wt_dotgit = st;
    }
    /* HEAD and its ref are read from disk unless inotify saw no change of them since the last
     * reading (statcache.c); nothing stale comes from the handle. */
    if (statcache_head(r, r->wt_repo, path, !same, sha, err) != 0) {
        wt_cache_drop(r);
        return same ? gitops_worktree_head(path, sha, err) : -1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * 1 when the index `idx` of `repo` certainly holds HEAD's tree: its cache
 * tree (git's TREE extension, which `git commit` leaves valid) records a
 * root tree id, and that id is HEAD's tree. Nothing is read but HEAD's
 * commit: the root id is asked of git_index_write_tree_to() with an object
 * database that has no backend, which answers from a valid cache tree and
 * fails (writing nothing) without one. 0 when not known: conflicts, no
 * valid cache tree, no HEAD commit, or a different tree.
 */
static int index_holds_head(git_repository *repo, git_index *idx)
{
    git_odb *none = NULL;           /* owned by scratch once wrapped */
    git_repository *scratch = NULL; /* owned */
    git_commit *head = NULL;        /* owned */
    git_oid id, root;
    int same = 0;

    if (git_index_has_conflicts(idx) || git_reference_name_to_id(&id, repo, "HEAD") < 0 ||
        git_commit_lookup(&head, repo, &id) < 0 || git_odb_new(&none) < 0)
        goto done;
    if (git_repository_wrap_odb(&scratch, none) < 0)
        goto done;
    if (git_index_write_tree_to(&root, idx, scratch) == 0)
        same = git_oid_equal(&root, git_commit_tree_id(head));
done:
    git_error_clear();
    git_repository_free(scratch);
    git_odb_free(none); /* the repository holds its own reference */
    git_commit_free(head);
    return same;
}

int worktree_dirty_files(git_repository *repo, const char *path, gitops_state *out, grove_err *err)
{
    git_status_options opts;
    git_status_list *list = NULL;
    git_index *idx = NULL; /* owned: the repository's index, read once here */
    const char **paths = NULL;
    size_t i, n, count = 0;
    int rc = -1;

    git_error_clear();
    if (git_status_options_init(&opts, GIT_STATUS_OPTIONS_VERSION) < 0)
        return fail_git(err, GROVE_EGIT, "cannot set up status options");
    /*
     * The index is read (or, for a handle that read it before, re-read when
     * the file changed) once, and the status uses that same copy
     * (NO_REFRESH): when its cache tree shows it holds HEAD's tree, only the
     * files are compared with it, not HEAD's trees with it entry by entry.
     */
    if (git_repository_index(&idx, repo) < 0 || git_index_read(idx, 0) < 0)
        return fail_git(err, GROVE_EGIT, "cannot read the index of '%s'", path);
    opts.show = index_holds_head(repo, idx) ? GIT_STATUS_SHOW_WORKDIR_ONLY
                                            : GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
    /* Untracked folders stay one "dir/" entry, as in `git status --porcelain`. */
    opts.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_NO_REFRESH;
    git_error_clear();
    if (git_status_list_new(&list, repo, &opts) < 0) {
        git_index_free(idx);
        return fail_git(err, GROVE_EGIT, "cannot read the status of '%s'", path);
    }
    git_index_free(idx);
    n = git_status_list_entrycount(list);
    paths = calloc(n * 4 + 1, sizeof(*paths)); /* two deltas, two paths each */
    if (!paths) {
        rc = grove_nomem(err);
        goto done;
    }
    for (i = 0; i < n; i++) {
        const git_status_entry *e = git_status_byindex(list, i);
        const git_diff_delta *ds[2];
        size_t k;

        if (!e || e->status == GIT_STATUS_CURRENT || (e->status & GIT_STATUS_IGNORED))
            continue;
        ds[0] = e->head_to_index;
        ds[1] = e->index_to_workdir;
        for (k = 0; k < 2; k++) {
            const git_diff_delta *d = ds[k];

            if (!d)
                continue;
            if (d->new_file.path)
                paths[count++] = d->new_file.path;
            if (d->old_file.path &&
                (!d->new_file.path || strcmp(d->old_file.path, d->new_file.path) != 0))
                paths[count++] = d->old_file.path;
        }
    }
    if (count > 0)
        qsort(paths, count, sizeof(*paths), cmp_str);
    if (!(out->dirty_files = calloc(count + 1, sizeof(*out->dirty_files)))) {
        rc = grove_nomem(err);
        goto done;
    }
    for (i = 0; i < count; i++) {
        if (i > 0 && strcmp(paths[i], paths[i - 1]) == 0)
            continue;
        if (!(out->dirty_files[out->ndirty] = strdup(paths[i]))) {
            rc = grove_nomem(err);
            goto done;
        }
        out->ndirty++;
    }
    rc = 0;
done:
    free(paths);
    git_status_list_free(list);
    return rc;
}

static int hex_valid(const char *s)
{
    size_t i, n = s ? strlen(s) : 0;

    if (n < 4 || n > GIT_OID_HEXSZ)
        return 0;
    for (i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

void gitops_state_free(gitops_state *s)
{
    size_t i;

    for (i = 0; s->dirty_files && i < s->ndirty; i++)
        free(s->dirty_files[i]);
    free(s->dirty_files);
    memset(s, 0, sizeof(*s));
}

int gitops_worktree_state(const char *path, const char *base_commit, gitops_state *out,
                          grove_err *err)
{
    git_repository *repo = NULL;
    git_object *base = NULL;
    git_oid head;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (open_worktree_path(&repo, path, err) != 0)
        return -1;
    if (worktree_head_oid(repo, path, &head, err) != 0)
        goto done;
    git_oid_tostr(out->head, sizeof(out->head), &head);

    if (base_commit) {
        int lrc;

        if (!hex_valid(base_commit)) {
            rc = grove_fail(err, GROVE_EINVAL, "invalid base commit '%s'", base_commit);
            goto done;
        }
        git_error_clear();
        lrc = git_revparse_single(&base, repo, base_commit);
        if (lrc == 0) {
            git_object *peeled = NULL;

            lrc = git_object_peel(&peeled, base, GIT_OBJECT_COMMIT);
            git_object_free(base);
            base = peeled;
        }
        if (lrc == GIT_ENOTFOUND) {
            rc = grove_fail(err, GROVE_ENOTFOUND, "base commit '%s' not found", base_commit);
            goto done;
        }
        if (lrc < 0) {
            rc = fail_git(err, GROVE_EGIT, "cannot resolve base commit '%s'", base_commit);
            goto done;
        }
        git_error_clear();
        if (git_graph_ahead_behind(&out->ahead, &out->behind, repo, &head, git_object_id(base)) <
            0) {
            rc = fail_git(err, GROVE_EGIT, "cannot compare '%s' with base commit '%s'", path,
                          base_commit);
            goto done;
        }
    }

    if (worktree_dirty_files(repo, path, out, err) != 0)
        goto done;
    rc = 0;
done:
    if (rc != 0)
        gitops_state_free(out);
    git_object_free(base);
    git_repository_free(repo);
    return rc;
}

/* ---- commits and diffs ------------------------------------------------- */

int lookup_commit_hex(git_repository *repo, const char *hex, const char *what, git_commit **out,
                      grove_err *err)
{
    git_oid oid;
    int rc;

    *out = NULL;
    if (!hex_valid(hex))
        return grove_fail(err, GROVE_EINVAL, "invalid %s '%s': expected 4 to 40 hex digits", what,
                          hex ? hex : "");
    git_error_clear();
    if (git_oid_fromstrn(&oid, hex, strlen(hex)) < 0)
        return fail_git(err, GROVE_EINVAL, "invalid %s '%s'", what, hex);
    git_error_clear();
    rc = git_commit_lookup_prefix(out, repo, &oid, strlen(hex));
    if (rc == GIT_ENOTFOUND) /* also an object that is not a commit */
        return grove_fail(err, GROVE_ENOTFOUND, "%s '%s' not found", what, hex);
    if (rc == GIT_EAMBIGUOUS)
        return grove_fail(err, GROVE_EINVAL, "%s '%s' is ambiguous: give more hex digits", what,
                          hex);
    if (rc < 0)
        return fail_git(err, GROVE_EGIT, "cannot look up %s '%s'", what, hex);
    return 0;
}

int gitops_diff_stat_between(gitops_repo *r, const char *from, const char *to,
                             gitops_diff_stat *out, grove_err *err)
{
    git_commit *c_from = NULL, *c_to = NULL;
    git_tree *t_from = NULL, *t_to = NULL;
    git_diff *diff = NULL;
    git_diff_stats *stats = NULL;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (lookup_commit_hex(r->repo, from, "commit", &c_from, err) != 0 ||
        lookup_commit_hex(r->repo, to, "commit", &c_to, err) != 0)
        goto done;
    git_error_clear();
    if (git_commit_tree(&t_from, c_from) < 0 || git_commit_tree(&t_to, c_to) < 0) {
        rc = fail_git(err, GROVE_EGIT, "cannot read the trees of commits '%s' and '%s'", from, to);
        goto done;
    }
    git_error_clear();
    if (git_diff_tree_to_tree(&diff, r->repo, t_from, t_to, NULL) < 0 ||
        git_diff_get_stats(&stats, diff) < 0) {
        rc = fail_git(err, GROVE_EGIT, "cannot diff commits '%s' and '%s'", from, to);
        goto done;
    }
    out->files_changed = (long long)git_diff_stats_files_changed(stats);
    out->insertions = (long long)git_diff_stats_insertions(stats);
    out->deletions = (long long)git_diff_stats_deletions(stats);
    rc = 0;
done:
    git_diff_stats_free(stats);
    git_diff_free(diff);
    git_tree_free(t_from);
    git_tree_free(t_to);
    git_commit_free(c_from);
    git_commit_free(c_to);
    return rc;
}

/* ---- removal loss ------------------------------------------------------ */

/* Number of paths `git status --porcelain` lists for the worktree at `path`; 0 when it is gone. */
static int dirty_count(const char *path, size_t *count, grove_err *err)
{
    git_repository *repo = NULL;
    gitops_state files = {0};
    struct stat st;
    int rc = -1;

    *count = 0;
    if (!path || (stat(path, &st) != 0 && (errno == ENOENT || errno == ENOTDIR)))
        return 0;
    if (open_worktree_path(&repo, path, err) != 0)
        return -1;
    if (worktree_dirty_files(repo, path, &files, err) != 0)
        goto done;
    *count = files.ndirty;
    rc = 0;
done:
    gitops_state_free(&files);
    git_repository_free(repo);
    return rc;
}

/*
 * Hides from `walk` the commits of every reference matching `glob` except
 * `keep` (a full reference name, may be NULL). References that do not lead
 * to a commit (a dangling origin/HEAD, a tag of a tree) hide nothing.
 */
static int hide_refs(git_revwalk *walk, git_repository *repo, const char *glob, const char *keep,
                     grove_err *err)
{
    git_reference_iterator *it = NULL;
    git_reference *ref = NULL;
    int rc = 0, nrc;

    git_error_clear();
    if (git_reference_iterator_glob_new(&it, repo, glob) < 0)
        return fail_git(err, GROVE_EGIT, "cannot list references '%s'", glob);
    while (rc == 0 && (nrc = git_reference_next(&ref, it)) == 0) {
        git_object *obj = NULL;

        if ((!keep || strcmp(git_reference_name(ref), keep) != 0) &&
            git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT) == 0) {
            git_error_clear();
            if (git_revwalk_hide(walk, git_object_id(obj)) < 0)
                rc = fail_git(err, GROVE_EGIT, "cannot walk history from '%s'",
                              git_reference_name(ref));
        }
        git_object_free(obj);
        git_reference_free(ref);
        ref = NULL;
    }
    if (rc == 0 && nrc != GIT_ITEROVER)
        rc = fail_git(err, GROVE_EGIT, "cannot list references '%s'", glob);
    git_reference_iterator_free(it);
    return rc;
}

int gitops_removal_loss(gitops_repo *r, const char *path, const char *branch,
                        const char *base_commit, gitops_loss *out, grove_err *err)
{
    git_revwalk *walk = NULL;
    git_commit *base = NULL;
    git_oid tip, oid;
    char *keep = NULL;
    size_t unique = 0;
    int rc = -1, nrc;

    memset(out, 0, sizeof(*out));
    if (branch_commit_oid(r, branch, &tip, err) != 0)
        return -1;
    if (base_commit && lookup_commit_hex(r->repo, base_commit, "base commit", &base, err) != 0)
        return -1;
    keep = grove_asprintf("refs/heads/%s", branch);
    if (!keep) {
        rc = grove_nomem(err);
        goto done;
    }
    git_error_clear();
    if (git_revwalk_new(&walk, r->repo) < 0 || git_revwalk_push(walk, &tip) < 0) {
        rc = fail_git(err, GROVE_EGIT, "cannot walk the history of branch '%s'", branch);
        goto done;
    }
    if (hide_refs(walk, r->repo, "refs/remotes/*", NULL, err) != 0 ||
        hide_refs(walk, r->repo, "refs/heads/*", keep, err) != 0)
        goto done;
    git_error_clear();
    if (base && git_revwalk_hide(walk, git_commit_id(base)) < 0) {
        rc = fail_git(err, GROVE_EGIT, "cannot walk history from base commit '%s'", base_commit);
        goto done;
    }
    git_error_clear();
    while ((nrc = git_revwalk_next(&oid, walk)) == 0)
        unique++;
    if (nrc != GIT_ITEROVER) {
        rc = fail_git(err, GROVE_EGIT, "cannot walk the history of branch '%s'", branch);
        goto done;
    }
    if (dirty_count(path, &out->dirty_files, err) != 0)
        goto done;
    out->unique_commits = unique;
    rc = 0;
done:
    if (rc != 0)
        memset(out, 0, sizeof(*out));
    git_revwalk_free(walk);
    git_commit_free(base);
    free(keep);
    return rc;
}

/* ---- merged into the base ----------------------------------------------- */

/* 1 when commit `a` is `b` or an ancestor of it, 0 when not, -1 (err set) when git fails. */
static int is_ancestor_or_same(git_repository *repo, const git_oid *a, const git_oid *b,
                               grove_err *err)
{
    int rc;

    if (git_oid_equal(a, b))
        return 1;
    git_error_clear();
    rc = git_graph_descendant_of(repo, b, a);
    if (rc < 0)
        return fail_git(err, GROVE_EGIT, "cannot compare the histories of two commits");
    return rc;
}

/*
 * *same = 1 when merging `tip` into `base` (from their merge base) has no
 * conflict and gives exactly `base`'s tree. Unrelated histories: 0.
 */
static int merge_changes_nothing(git_repository *repo, const git_oid *tip, const git_oid *base,
                                 int *same, grove_err *err)
{
    git_commit *c_mb = NULL, *c_tip = NULL, *c_base = NULL; /* owned, freed at done */
    git_tree *t_mb = NULL, *t_tip = NULL, *t_base = NULL;   /* owned, freed at done */
    git_index *merged = NULL;                               /* owned: the merge, in memory */
    git_diff *diff = NULL;                                  /* owned */
    git_merge_options mo;
    git_oid mb;
    int rc = -1, nrc;

    *same = 0;
    git_error_clear();
    nrc = git_merge_base(&mb, repo, tip, base);
    if (nrc == GIT_ENOTFOUND)
        return 0; /* no common history: its changes cannot be "already there" */
    if (nrc < 0)
        return fail_git(err, GROVE_EGIT, "cannot find the merge base of a branch and its base");
    git_error_clear();
    if (git_commit_lookup(&c_mb, repo, &mb) < 0 || git_commit_lookup(&c_tip, repo, tip) < 0 ||
        git_commit_lookup(&c_base, repo, base) < 0 || git_commit_tree(&t_mb, c_mb) < 0 ||
        git_commit_tree(&t_tip, c_tip) < 0 || git_commit_tree(&t_base, c_base) < 0) {
        fail_git(err, GROVE_EGIT, "cannot read the commits to merge");
        goto done;
    }
    git_error_clear();
    if (git_merge_options_init(&mo, GIT_MERGE_OPTIONS_VERSION) < 0 ||
        git_merge_trees(&merged, repo, t_mb, t_base, t_tip, &mo) < 0) {
        fail_git(err, GROVE_EGIT, "cannot merge a branch into its base in memory");
        goto done;
    }
    if (!git_index_has_conflicts(merged)) {
        /* Compared entry by entry (ids and modes): no tree object is written. */
        git_error_clear();
        if (git_diff_tree_to_index(&diff, repo, t_base, merged, NULL) < 0) {
            fail_git(err, GROVE_EGIT, "cannot compare the merge with the base");
            goto done;
        }
        *same = git_diff_num_deltas(diff) == 0;
    }
    rc = 0;
done:
    git_diff_free(diff);
    git_index_free(merged);
    git_tree_free(t_mb);
    git_tree_free(t_tip);
    git_tree_free(t_base);
    git_commit_free(c_mb);
    git_commit_free(c_tip);
    git_commit_free(c_base);
    return rc;
}

int gitops_branch_merged(gitops_repo *r, const char *branch, const char *base_branch,
                         const char *base_commit, gitops_merged *out, grove_err *err)
{
    git_commit *start = NULL; /* owned: base_commit, freed at done */
    git_oid tip, base;
    char base_sha[41];
    int rc = -1, anc, same = 0;

    memset(out, 0, sizeof(*out));
    if (branch_commit_oid(r, branch, &tip, err) != 0)
        return -1;
    if (gitops_resolve_branch(r, base_branch, base_sha, err) != 0)
        return -1;
    git_error_clear();
    if (git_oid_fromstr(&base, base_sha) < 0)
        return fail_git(err, GROVE_EGIT, "cannot read the head of base branch '%s'", base_branch);
    if (base_commit && lookup_commit_hex(r->repo, base_commit, "base commit", &start, err) != 0)
        return -1;
    git_oid_tostr(out->head, sizeof(out->head), &tip);
    memcpy(out->base_head, base_sha, sizeof(out->base_head));
    out->own_commits = 1;
    if (start) {
        anc = is_ancestor_or_same(r->repo, &tip, git_commit_id(start), err);
        if (anc < 0)
            goto done;
        out->own_commits = !anc;
    }
    if (!out->own_commits) {
        rc = 0;
        goto done;
    }
    anc = is_ancestor_or_same(r->repo, &tip, &base, err);
    if (anc < 0)
        goto done;
    if (anc) {
        out->how = GITOPS_MERGED_ANCESTOR;
    } else {
        if (merge_changes_nothing(r->repo, &tip, &base, &same, err) != 0)
            goto done;
        if (same)
            out->how = GITOPS_MERGED_TREE;
    }
    rc = 0;
done:
    if (rc != 0)
        memset(out, 0, sizeof(*out));
    git_commit_free(start);
    return rc;
}
