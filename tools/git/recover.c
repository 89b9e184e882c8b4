/*
 * recover: interrupted creations and removals, as `grove gc` lists,
 * completes and undoes them (see "Crash recovery" in git.h).
 */
#include "tools/git/git_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- interrupted removals ---------------------------------------------- */

/*
 * Deletes the lock file of branch `branch` that a killed grove process left
 * (caller holds the repo lock and knows that the process is gone: every
 * grove ref write runs under that lock).
 */
static void stale_ref_lock_remove(gitops_repo *r, const char *branch)
{
    char *lock = grove_asprintf("%s/refs/heads/%s.lock", r->common_dir, branch);

    if (lock && unlink(lock) == 0)
        log_info("removed the stale lock file '%s'", lock);
    free(lock);
}

int gitops_removal_finish(gitops_repo *r, const char *name, grove_err *err)
{
    char *journal = NULL, *branch = NULL, *folder = NULL;
    int lock_fd = -1, rc = -1;

    if (!name_valid(name))
        return grove_fail(err, GROVE_EINVAL, "invalid worktree name '%s'", name ? name : "");
    journal = journal_removal_path(r, name, "");
    if (!journal)
        return grove_nomem(err);
    if (repo_lock(r, &lock_fd, err) != 0)
        goto done;
    /* Removals run under the repo lock to the end: whoever wrote the journal is gone. */
    if (journal_read_two_lines(journal, &branch, &folder) != 0) {
        rc = grove_fail(err, GROVE_ENOTFOUND, "worktree '%s' has no interrupted removal", name);
        goto done;
    }
    if (branch && !gitops_branch_name_valid(branch)) {
        log_warn("worktree '%s': '%s' names no valid branch; the worktree goes, no branch", name,
                 branch);
        free(branch);
        branch = NULL;
    }
    if (branch)
        stale_ref_lock_remove(r, branch);
    /*
     * Exactly the folder the journal names, the one checked before the
     * removal began (none when it names none): git's record, moved aside
     * meanwhile, is not read again for it.
     */
    rc = worktree_remove_at(r, name, folder && folder[0] == '/' ? folder : NULL, branch, err);
done:
    repo_unlock(lock_fd);
    free(journal);
    free(branch);
    free(folder);
    return rc;
}

/* ---- interrupted creations --------------------------------------------- */

static int interrupted_add(gitops_interrupted **list, size_t *n, const char *name, char *branch,
                           char *path, int alive, int removal)
{
    gitops_interrupted *grown = realloc(*list, (*n + 1) * sizeof(**list));

    if (!grown) {
        free(branch);
        free(path);
        return -1;
    }
    *list = grown;
    grown[*n].name = grove_strdup(name);
    grown[*n].branch = branch;
    grown[*n].path = path;
    grown[*n].alive = alive;
    grown[*n].removal = removal;
    grown[*n].setup_pgid = 0;
    grown[*n].setup_start = 0;
    if (!grown[*n].name) {
        free(branch);
        free(path);
        return -1;
    }
    (*n)++;
    return 0;
}

int gitops_interrupted_list(gitops_repo *r, gitops_interrupted **out, size_t *n, grove_err *err)
{
    gitops_interrupted *list = NULL;
    gitops_worktree_info *wts = NULL;
    size_t count = 0, nwts = 0, i, k;
    char *dir = grove_asprintf("%s/grove/creating", r->common_dir);
    struct dirent *de;
    DIR *d = NULL;
    int lock_fd = -1, rc = -1;

    *out = NULL;
    *n = 0;
    if (!dir)
        return grove_nomem(err);
    if (repo_lock(r, &lock_fd, err) != 0)
        goto done;
    d = opendir(dir);
    if (!d && errno != ENOENT) {
        rc = grove_fail(err, GROVE_EIO, "cannot read folder '%s': %s", dir, strerror(errno));
        goto done;
    }
    while (d && (de = readdir(d)) != NULL) {
        char *branch = NULL, *path = NULL;
        int state;

        if (!name_valid(de->d_name))
            continue;
        state = journal_state(r, de->d_name, &branch, &path);
        if (state < 0) {
            free(branch);
            free(path);
            continue;
        }
        if (interrupted_add(&list, &count, de->d_name, branch, path, state, 0) != 0) {
            rc = grove_nomem(err);
            goto done;
        }
        {
            char *file = journal_path(r, de->d_name);

            if (file)
                list[count - 1].setup_pgid = journal_setup_read(file, &list[count - 1].setup_start);
            free(file);
        }
    }
    /* Worktrees locked "initializing" with no journal: an older grove's, or a lost unlock. */
    if (gitops_worktree_list(r, &wts, &nwts, err) != 0)
        goto done;
    for (i = 0; i < nwts; i++) {
        char *branch = NULL, *path = NULL;

        if (!wts[i].lock_reason || strcmp(wts[i].lock_reason, "initializing") != 0)
            continue;
        for (k = 0; k < count && strcmp(list[k].name, wts[i].name) != 0; k++)
            ;
        if (k < count)
            continue;
        if ((wts[i].branch && !(branch = grove_strdup(wts[i].branch))) ||
            (wts[i].path && !(path = grove_strdup(wts[i].path))) ||
            interrupted_add(&list, &count, wts[i].name, branch, path, 0, 0) != 0) {
            rc = grove_nomem(err);
            goto done;
        }
    }
    /* Removal journals: removals run under the repo lock, so these are all interrupted. */
    if (d)
        closedir(d);
    free(dir);
    dir = grove_asprintf("%s/grove/removing", r->common_dir);
    d = dir ? opendir(dir) : NULL;
    while (d && (de = readdir(d)) != NULL) {
        char *branch = NULL, *path = NULL, *file;
        size_t len = strlen(de->d_name);

        if (!name_valid(de->d_name) || (len > 6 && strcmp(de->d_name + len - 6, ".admin") == 0) ||
            (len > 4 && strcmp(de->d_name + len - 4, ".tmp") == 0))
            continue; /* the moved admin dir, a journal being written */
        file = journal_removal_path(r, de->d_name, "");
        if (!file || journal_read_two_lines(file, &branch, &path) != 0) {
            free(file);
            continue;
        }
        free(file);
        if (interrupted_add(&list, &count, de->d_name, branch, path, 0, 1) != 0) {
            rc = grove_nomem(err);
            goto done;
        }
    }
    *out = list;
    *n = count;
    list = NULL;
    count = 0;
    rc = 0;
done:
    repo_unlock(lock_fd);
    if (d)
        closedir(d);
    gitops_worktree_list_free(wts, nwts);
    gitops_interrupted_list_free(list, count);
    free(dir);
    return rc;
}

int gitops_journals_tidy(gitops_repo *r, grove_err *err)
{
    static const char *const subs[] = {"creating", "removing"};
    int lock_fd = -1;
    size_t i;

    if (repo_lock(r, &lock_fd, err) != 0)
        return -1;
    for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        char *dir = grove_asprintf("%s/grove/%s", r->common_dir, subs[i]);
        struct dirent *de;
        DIR *d = dir ? opendir(dir) : NULL;

        while (d && (de = readdir(d)) != NULL) {
            size_t len = strlen(de->d_name);
            char *f;

            /* Journals are written under the repo lock: a ".tmp" seen under it is stale. */
            if (len <= 4 || strcmp(de->d_name + len - 4, ".tmp") != 0)
                continue;
            f = grove_asprintf("%s/%s", dir, de->d_name);
            if (f && unlink(f) == 0)
                log_info("removed '%s', left by an interrupted grove process", f);
            free(f);
        }
        if (d)
            closedir(d);
        free(dir);
    }
    repo_unlock(lock_fd);
    return 0;
}

void gitops_interrupted_list_free(gitops_interrupted *list, size_t n)
{
    size_t i;

    for (i = 0; list && i < n; i++) {
        free(list[i].name);
        free(list[i].branch);
        free(list[i].path);
    }
    free(list);
}

int gitops_interrupted_complete(gitops_repo *r, const char *name, grove_err *err)
{
    char reason[256];
    char *locked;
    int lock_fd = -1, rc = -1;

    if (!name_valid(name))
        return grove_fail(err, GROVE_EINVAL, "invalid worktree name '%s'", name ? name : "");
    locked = grove_asprintf("%s/worktrees/%s/locked", r->common_dir, name);
    if (!locked)
        return grove_nomem(err);
    if (repo_lock(r, &lock_fd, err) != 0)
        goto done;
    if (journal_state(r, name, NULL, NULL) == 1) {
        rc = grove_fail(err, GROVE_ECONFLICT,
                        "worktree '%s' is being created by a running grove process", name);
        goto done;
    }
    if (read_small_file(locked, reason, sizeof(reason)) == 0 &&
        strcmp(reason, "initializing") == 0 && unlink(locked) != 0 && errno != ENOENT) {
        rc = grove_fail(err, GROVE_EIO, "cannot unlock worktree '%s': %s", name, strerror(errno));
        goto done;
    }
    journal_end(r, name);
    rc = 0;
done:
    repo_unlock(lock_fd);
    free(locked);
    return rc;
}

int gitops_interrupted_undo(gitops_repo *r, const char *name, int keep_branch, grove_err *err)
{
    gitops_worktree_info wi;
    char *branch = NULL, *path = NULL;
    int lock_fd = -1, rc = -1, state;

    memset(&wi, 0, sizeof(wi));
    if (!name_valid(name))
        return grove_fail(err, GROVE_EINVAL, "invalid worktree name '%s'", name ? name : "");
    if (repo_lock(r, &lock_fd, err) != 0)
        return -1;
    state = journal_state(r, name, &branch, &path);
    if (state == 1) {
        rc = grove_fail(err, GROVE_ECONFLICT,
                        "worktree '%s' is being created by a running grove process", name);
        goto done;
    }
    if (state < 0) {
        /* No journal: only a worktree locked "initializing" qualifies. */
        if (worktree_info_read(r, name, &wi) != 0) {
            rc = grove_nomem(err);
            goto done;
        }
        if (!wi.lock_reason || strcmp(wi.lock_reason, "initializing") != 0) {
            rc =
                grove_fail(err, GROVE_ENOTFOUND, "worktree '%s' has no interrupted creation", name);
            goto done;
        }
        branch = wi.branch;
        path = wi.path;
        wi.branch = wi.path = NULL;
    }
    if (branch && !gitops_branch_name_valid(branch)) {
        free(branch);
        branch = NULL;
    }
    if (branch)
        stale_ref_lock_remove(r, branch);
    rc = worktree_remove_locked(r, name, path, keep_branch ? NULL : branch, err);
done:
    repo_unlock(lock_fd);
    free(wi.name);
    free(wi.branch);
    free(wi.path);
    free(wi.lock_reason);
    free(branch);
    free(path);
    return rc;
}
