/*
 * branch: branch deletion (by hand: libgit2 1.5.1's git_branch_delete
 * misreports and leaks), branches by prefix and branch heads.
 */
#include "tools/git/git_internal.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- branch deletion --------------------------------------------------- */

/* 1 when the file holds "refs/heads/<branch>" (optionally after "ref: "). */
static int file_names_branch(const char *file, const char *branch)
{
    char buf[PATH_MAX];
    const char *v = buf;

    if (read_small_file(file, buf, sizeof(buf)) != 0)
        return 0;
    if (strncmp(v, "ref:", 4) == 0) {
        v += 4;
        while (*v == ' ' || *v == '\t')
            v++;
    }
    return strncmp(v, "refs/heads/", 11) == 0 && strcmp(v + 11, branch) == 0;
}

/* 1 when the git dir `gitdir` has `branch` checked out (HEAD, or a rebase in progress). */
static int gitdir_on_branch(const char *gitdir, const char *branch)
{
    static const char *const files[] = {"HEAD", "rebase-merge/head-name", "rebase-apply/head-name"};
    size_t i;

    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char *f = grove_asprintf("%s/%s", gitdir, files[i]);
        int on = f && file_names_branch(f, branch);

        free(f);
        if (on)
            return 1;
    }
    return 0;
}

/*
 * Whether `branch` is checked out in the main worktree or a linked one, read
 * from the HEAD files as the git CLI does; `where` gets that worktree's
 * folder. (libgit2 1.5.1's own check, git_branch_is_checked_out, answers yes
 * whenever <common>/worktrees holds a folder that is not a complete worktree
 * entry: notes, bugs A and B.)
 */
static int branch_checked_out(const gitops_repo *r, const char *branch, char *where, size_t cap)
{
    char *wts;
    DIR *d;
    struct dirent *de;
    int found = 0;

    if (gitdir_on_branch(r->common_dir, branch)) {
        snprintf(where, cap, "%s", r->workdir);
        return 1;
    }
    wts = grove_asprintf("%s/worktrees", r->common_dir);
    if (!wts || !(d = opendir(wts))) {
        free(wts);
        return 0;
    }
    while (!found && (de = readdir(d)) != NULL) {
        char *gd, *gitdir_file;

        if (de->d_name[0] == '.')
            continue;
        gd = grove_asprintf("%s/%s", wts, de->d_name);
        found = gd && gitdir_on_branch(gd, branch);
        gitdir_file = found ? grove_asprintf("%s/gitdir", gd) : NULL;
        if (found) {
            char buf[PATH_MAX];
            size_t len;

            if (gitdir_file && read_small_file(gitdir_file, buf, sizeof(buf)) == 0 &&
                (len = strlen(buf)) > 5 && strcmp(buf + len - 5, "/.git") == 0)
                buf[len - 5] = '\0';
            else
                snprintf(buf, sizeof(buf), "%s", gd);
            snprintf(where, cap, "%s", buf);
        }
        free(gitdir_file);
        free(gd);
    }
    closedir(d);
    free(wts);
    return found;
}

/*
 * Drops the repository-local config section [branch "<branch>"], as
 * git_branch_delete does. No regular expression matching that can fail: in
 * libgit2 1.5.1 every failed match leaks its pcre2 match data (~20 KiB).
 * -1 when a config write failed (a lock held by someone else).
 */
static int branch_config_remove(gitops_repo *r, const char *branch)
{
    git_config *cfg = NULL, *local = NULL;
    git_config_iterator *it = NULL;
    git_config_entry *e;
    char *prefix = grove_asprintf("branch.%s.", branch);
    char **names = NULL;
    size_t n = 0, cap = 0, i, plen;
    int rc = -1;

    if (!prefix)
        return -1;
    plen = strlen(prefix);
    git_error_clear();
    if (git_repository_config(&cfg, r->repo) < 0 ||
        git_config_open_level(&local, cfg, GIT_CONFIG_LEVEL_LOCAL) < 0 ||
        git_config_iterator_new(&it, local) < 0)
        goto done;
    while (git_config_next(&e, it) == 0) {
        if (strncmp(e->name, prefix, plen) != 0 || strchr(e->name + plen, '.'))
            continue;
        for (i = 0; i < n && strcmp(names[i], e->name) != 0; i++)
            ;
        if (i < n)
            continue;
        if (n == cap) {
            char **grown = realloc(names, (cap ? cap * 2 : 8) * sizeof(*names));

            if (!grown)
                goto done;
            names = grown;
            cap = cap ? cap * 2 : 8;
        }
        if (!(names[n] = grove_strdup(e->name)))
            goto done;
        n++;
    }
    git_config_iterator_free(it);
    it = NULL;
    for (i = 0; i < n; i++) {
        git_error_clear();
        /* ".*" always matches, so no match data is leaked. */
        if (git_config_delete_multivar(local, names[i], ".*") < 0)
            goto done;
    }
    rc = 0;
done:
    for (i = 0; i < n; i++)
        free(names[i]);
    free(names);
    git_config_iterator_free(it);
    git_config_free(local);
    git_config_free(cfg);
    free(prefix);
    return rc;
}

/*
 * Deletes local branch `branch` and its config section; a missing branch is
 * success, one checked out in any worktree is GROVE_ECONFLICT. This is what
 * git_branch_delete does, done by hand because in libgit2 1.5.1 that
 * function gives false "current HEAD of a linked repository" refusals (bug
 * B in the notes) and leaks pcre2 match data for every config entry it
 * scans. Retries on lock contention (refs or config.lock). The caller holds
 * the repo lock.
 */
int branch_delete(gitops_repo *r, const char *branch, grove_err *err)
{
    char where[PATH_MAX];
    int attempt;

    for (attempt = 1;; attempt++) {
        git_reference *ref = NULL;
        int rc;

        git_error_clear();
        rc = git_branch_lookup(&ref, r->repo, branch, GIT_BRANCH_LOCAL);
        if (rc == GIT_ENOTFOUND)
            break;
        if (rc < 0)
            return fail_git(err, GROVE_EGIT, "cannot look up branch '%s'", branch);
        if (branch_checked_out(r, branch, where, sizeof(where))) {
            git_reference_free(ref);
            return grove_fail(err, GROVE_ECONFLICT, "branch '%s' is checked out at '%s'", branch,
                              where);
        }
        git_error_clear();
        rc = git_reference_delete(ref);
        git_reference_free(ref);
        if (rc == 0 || rc == GIT_ENOTFOUND)
            break;
        if ((rc == GIT_ELOCKED || last_message_has("lock")) && attempt < RETRIES) {
            sleep_ms(RETRY_MS * attempt);
            continue;
        }
        return fail_git(err, GROVE_EGIT, "cannot delete branch '%s'", branch);
    }
    for (attempt = 1;; attempt++) {
        if (branch_config_remove(r, branch) == 0)
            return 0;
        if (attempt >= RETRIES) {
            /* The branch is gone; only its settings stayed behind. */
            const git_error *ge = git_error_last();

            log_warn("cannot remove the config of deleted branch '%s': %s", branch,
                     ge && ge->message ? ge->message : "unknown error");
            return 0;
        }
        sleep_ms(RETRY_MS * attempt);
    }
}

/* ---- branches by prefix ------------------------------------------------- */

int gitops_branch_list(gitops_repo *r, const char *prefix, char ***out, size_t *n, grove_err *err)
{
    git_reference_iterator *it = NULL;
    git_reference *ref = NULL;
    char *want = grove_asprintf("refs/heads/%s", prefix ? prefix : "");
    char **names = NULL;
    size_t count = 0, cap = 0, wlen;
    int rc = -1, nrc;

    *out = NULL;
    *n = 0;
    if (!want)
        return grove_nomem(err);
    wlen = strlen(want);
    git_error_clear();
    if (git_reference_iterator_new(&it, r->repo) < 0) {
        rc = fail_git(err, GROVE_EGIT, "cannot list branches");
        goto done;
    }
    while ((nrc = git_reference_next(&ref, it)) == 0) {
        const char *name = git_reference_name(ref);

        if (strncmp(name, want, wlen) == 0) {
            if (count == cap) {
                char **grown = realloc(names, (cap ? cap * 2 : 16) * sizeof(*names));

                if (!grown) {
                    git_reference_free(ref);
                    rc = grove_nomem(err);
                    goto done;
                }
                names = grown;
                cap = cap ? cap * 2 : 16;
            }
            if (!(names[count] = grove_strdup(name + 11))) {
                git_reference_free(ref);
                rc = grove_nomem(err);
                goto done;
            }
            count++;
        }
        git_reference_free(ref);
        ref = NULL;
    }
    if (nrc != GIT_ITEROVER) {
        rc = fail_git(err, GROVE_EGIT, "cannot list branches");
        goto done;
    }
    *out = names;
    *n = count;
    names = NULL;
    count = 0;
    rc = 0;
done:
    gitops_branch_list_free(names, count);
    git_reference_iterator_free(it);
    free(want);
    return rc;
}

void gitops_branch_list_free(char **names, size_t n)
{
    size_t i;

    for (i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

/* 1 when a creation journal (of a running or an interrupted creation) names `branch`. */
static int branch_in_journal(const gitops_repo *r, const char *branch)
{
    char *dir = grove_asprintf("%s/grove/creating", r->common_dir);
    struct dirent *de;
    DIR *d = dir ? opendir(dir) : NULL;
    int found = 0;

    while (d && !found && (de = readdir(d)) != NULL) {
        char *jb = NULL;

        if (!name_valid(de->d_name))
            continue;
        (void)journal_state(r, de->d_name, &jb, NULL);
        found = jb && strcmp(jb, branch) == 0;
        free(jb);
    }
    if (d)
        closedir(d);
    free(dir);
    return found;
}

int gitops_branch_delete_unused(gitops_repo *r, const char *branch, grove_err *err)
{
    char where[PATH_MAX];
    int lock_fd = -1, rc = -1;

    if (!gitops_branch_name_valid(branch))
        return grove_fail(err, GROVE_EINVAL, "invalid branch name '%s'", branch ? branch : "");
    if (repo_lock(r, &lock_fd, err) != 0)
        return -1;
    if (branch_checked_out(r, branch, where, sizeof(where)))
        rc = grove_fail(err, GROVE_ECONFLICT, "branch '%s' is checked out at '%s'", branch, where);
    else if (branch_in_journal(r, branch))
        rc = grove_fail(err, GROVE_ECONFLICT, "branch '%s' belongs to a worktree being created",
                        branch);
    else
        rc = branch_delete(r, branch, err);
    repo_unlock(lock_fd);
    return rc;
}

/* ---- branch heads ------------------------------------------------------ */

/* The commit local branch `branch` (refs/heads/<branch>) points at. */
int branch_commit_oid(gitops_repo *r, const char *branch, git_oid *oid, grove_err *err)
{
    git_reference *ref = NULL;
    git_object *obj = NULL;
    int rc;

    if (!branch || !*branch)
        return grove_fail(err, GROVE_EINVAL, "branch name is empty");
    git_error_clear();
    rc = git_branch_lookup(&ref, r->repo, branch, GIT_BRANCH_LOCAL);
    if (rc == GIT_ENOTFOUND || rc == GIT_EINVALIDSPEC)
        return grove_fail(err, GROVE_ENOTFOUND, "branch '%s' not found", branch);
    if (rc < 0)
        return fail_git(err, GROVE_EGIT, "cannot look up branch '%s'", branch);
    git_error_clear();
    rc = git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT);
    git_reference_free(ref);
    if (rc < 0)
        return fail_git(err, GROVE_EGIT, "cannot resolve branch '%s' to a commit", branch);
    git_oid_cpy(oid, git_object_id(obj));
    git_object_free(obj);
    return 0;
}

int gitops_branch_head(gitops_repo *r, const char *branch, char sha[41], grove_err *err)
{
    git_oid oid;

    sha[0] = '\0';
    if (branch_commit_oid(r, branch, &oid, err) != 0)
        return -1;
    git_oid_tostr(sha, 41, &oid);
    return 0;
}
