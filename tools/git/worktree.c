/*
 * worktree: creating, removing, listing and pruning linked worktrees, each
 * step that races with other processes under the repo lock.
 */
#include "tools/git/git_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- worktree folders and admin dirs ----------------------------------- */

/*
 * Removes worktree folder `path` like remove_tree(), its `.git` file last:
 * until the folder is gone or empty, what is left of it still says whose
 * worktree it is (folder_is_ours()), so an interrupted removal is
 * recognised and finished later. A missing path is success.
 */
static int remove_worktree_folder(const char *path)
{
    struct dirent *de;
    char *gitfile;
    DIR *d;
    int fd, rc = 0;

    fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        char *child;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            strcmp(de->d_name, ".git") == 0)
            continue;
        child = grove_asprintf("%s/%s", path, de->d_name);
        if (!child || remove_tree(child) != 0)
            rc = -1;
        free(child);
    }
    closedir(d);
    if (rc != 0)
        return -1;
    gitfile = grove_asprintf("%s/.git", path);
    if (!gitfile || remove_tree(gitfile) != 0) {
        free(gitfile);
        return -1;
    }
    free(gitfile);
    return rmdir(path) == 0 || errno == ENOENT ? 0 : -1;
}

static char *admin_dir(const gitops_repo *r, const char *name)
{
    return grove_asprintf("%s/worktrees/%s", r->common_dir, name);
}

/*
 * 1 when `dir` is a real folder (not a symlink) whose `.git` file says
 * "gitdir: <this repository's common dir>/worktrees/<name>", else 0. Only
 * such a folder is ever deleted by us: it is the worktree git registered.
 */
static int folder_is_ours(const gitops_repo *r, const char *dir, const char *name)
{
    char buf[PATH_MAX + 16];
    char *gitfile = NULL, *target = NULL, *parent_real = NULL, *want_parent = NULL;
    char *slash;
    struct stat st;
    int ours = 0;

    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return 0;
    gitfile = grove_asprintf("%s/.git", dir);
    if (!gitfile || lstat(gitfile, &st) != 0 || !S_ISREG(st.st_mode))
        goto done;
    if (read_small_file(gitfile, buf, sizeof(buf)) != 0 || strncmp(buf, "gitdir:", 7) != 0)
        goto done;
    {
        const char *t = buf + 7;
        size_t len;

        while (*t == ' ' || *t == '\t')
            t++;
        target = t[0] == '/' ? grove_strdup(t) : grove_asprintf("%s/%s", dir, t);
        if (!target)
            goto done;
        len = strlen(target);
        while (len > 1 && target[len - 1] == '/')
            target[--len] = '\0';
    }
    /* Compare <realpath of its parent>/<its last component> with ours. */
    slash = strrchr(target, '/');
    if (!slash || strcmp(slash + 1, name) != 0)
        goto done;
    *slash = '\0';
    parent_real = real_path(*target ? target : "/");
    want_parent = grove_asprintf("%s/worktrees", r->common_dir);
    if (!parent_real || !want_parent)
        goto done;
    ours = strcmp(parent_real, want_parent) == 0;
done:
    free(gitfile);
    free(target);
    free(parent_real);
    free(want_parent);
    return ours;
}

/*
 * 1 when `dir` is a real folder that holds nothing but a `.git` file cut
 * short while git_worktree_add wrote it (empty, or the start of "gitdir:
 * <common dir>/worktrees/<name>"): what an add killed at that moment
 * leaves. Nothing else was ever in it.
 */
static int folder_is_stub(const gitops_repo *r, const char *dir, const char *name)
{
    char buf[PATH_MAX + 32];
    char *gitfile = NULL, *want = NULL;
    struct dirent *de;
    struct stat st;
    DIR *d;
    int entries = 0, stub = 0;

    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || !(d = opendir(dir)))
        return 0;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            entries += strcmp(de->d_name, ".git") == 0 ? 1 : 2;
    closedir(d);
    gitfile = grove_asprintf("%s/.git", dir);
    want = grove_asprintf("gitdir: %s/worktrees/%s", r->common_dir, name);
    if (entries == 1 && gitfile && want && lstat(gitfile, &st) == 0 && S_ISREG(st.st_mode) &&
        read_small_file(gitfile, buf, sizeof(buf)) == 0)
        stub = strncmp(want, buf, strlen(buf)) == 0;
    free(gitfile);
    free(want);
    return stub;
}

/* 1 when the admin dir `admin` has the files libgit2 needs to open the worktree. */
static int admin_complete(const char *admin)
{
    static const char *const need[] = {"commondir", "gitdir", "HEAD"};
    size_t i;

    for (i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
        char *f = grove_asprintf("%s/%s", admin, need[i]);
        int ok = f && path_exists(f);

        free(f);
        if (!ok)
            return 0;
    }
    return 1;
}

/*
 * Deletes the incomplete admin dirs that creations killed inside
 * git_worktree_add left in <common>/worktrees (caller holds the repo lock).
 * libgit2 1.5.1 lists such a folder but cannot open it, and then reports
 * every branch as "already checked out" (bugs A and B in the notes), so
 * they go before each add. Only those of dead creations (their journals
 * stay for `grove gc`, which removes the rest).
 */
static void dead_admin_dirs_remove(gitops_repo *r)
{
    char *dir = grove_asprintf("%s/grove/creating", r->common_dir);
    struct dirent *de;
    DIR *d = dir ? opendir(dir) : NULL;

    while (d && (de = readdir(d)) != NULL) {
        char *admin;

        if (!name_valid(de->d_name) || journal_state(r, de->d_name, NULL, NULL) != 0)
            continue;
        admin = admin_dir(r, de->d_name);
        if (admin && path_exists(admin) && !admin_complete(admin)) {
            if (remove_tree(admin) == 0)
                log_info("removed '%s', left by an interrupted worktree creation", admin);
            else
                log_warn("cannot remove '%s': %s", admin, strerror(errno));
        }
        free(admin);
    }
    if (d)
        closedir(d);
    free(dir);
}

/* ---- worktree creation ------------------------------------------------- */

/*
 * Removes what a failed or abandoned add of worktree `name` at `path` left:
 * the admin dir (which did not exist before: checked under the lock) and
 * the folder when it is ours, or empty and made by libgit2 (`made_by_add`).
 */
static void create_debris_remove(gitops_repo *r, const char *name, const char *path,
                                 int made_by_add)
{
    char *admin = admin_dir(r, name);

    if (folder_is_ours(r, path, name)) {
        if (remove_worktree_folder(path) != 0)
            log_warn("cannot remove folder '%s': %s", path, strerror(errno));
    } else if (made_by_add) {
        (void)rmdir(path); /* only when empty */
    }
    if (admin && remove_tree(admin) != 0)
        log_warn("cannot remove folder '%s': %s", admin, strerror(errno));
    free(admin);
}

static int write_lock_reason(gitops_repo *r, const char *name, const char *reason, grove_err *err)
{
    char *file = grove_asprintf("%s/worktrees/%s/locked", r->common_dir, name);
    size_t len = strlen(reason), off = 0;
    int fd, rc = 0;

    if (!file)
        return grove_nomem(err);
    fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        rc = grove_fail(err, GROVE_EIO, "cannot write '%s': %s", file, strerror(errno));
        free(file);
        return rc;
    }
    while (off < len) {
        ssize_t n = write(fd, reason + off, len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = grove_fail(err, GROVE_EIO, "cannot write '%s': %s", file, strerror(errno));
            break;
        }
        off += (size_t)n;
    }
    if (close(fd) != 0 && rc == 0)
        rc = grove_fail(err, GROVE_EIO, "cannot write '%s': %s", file, strerror(errno));
    free(file);
    return rc;
}

/*
 * Creates the missing parents of `path` (absolute). *first_made gets the
 * topmost folder this created (malloc'd), or NULL when all existed.
 */
static int make_parents(const char *path, char **first_made, grove_err *err)
{
    char *parent = grove_strdup(path);
    char *slash, *top = NULL;
    int rc = 0;

    *first_made = NULL;
    if (!parent)
        return grove_nomem(err);
    slash = strrchr(parent, '/');
    if (!slash || slash == parent || (*slash = '\0', path_exists(parent))) {
        free(parent);
        return 0;
    }
    /* The topmost missing ancestor: walk up while the folder above is missing too. */
    top = grove_strdup(parent);
    while (top && (slash = strrchr(top, '/')) != NULL && slash != top) {
        *slash = '\0';
        if (path_exists(top)) {
            *slash = '/';
            break;
        }
    }
    if (!top) {
        free(parent);
        return grove_nomem(err);
    }
    rc = grove_mkdirs(parent, 0777, err);
    if (rc == 0)
        *first_made = top;
    else
        free(top);
    free(parent);
    return rc;
}

/* Removes the folders make_parents() made, from `path`'s parent up to `top`, while empty. */
static void remove_parents(const char *path, const char *top)
{
    char *p = grove_strdup(path);
    size_t top_len = top ? strlen(top) : 0;
    char *slash;

    if (!p || !top) {
        free(p);
        return;
    }
    while ((slash = strrchr(p, '/')) != NULL && slash != p) {
        *slash = '\0';
        if (strlen(p) < top_len || strncmp(p, top, top_len) != 0 || rmdir(p) != 0)
            break;
    }
    free(p);
}

/*
 * git_worktree_add, retried when it fails with libgit2 1.5.1's false
 * "reference is already checked out" or on a lock (both happen before it
 * writes anything, but whatever a failed attempt left is removed before the
 * next). On failure *add_rc holds libgit2's code; the error is filled.
 */
static int worktree_add_retry(gitops_repo *r, const char *name, const char *path,
                              git_reference *branch_ref, int *add_rc, grove_err *err)
{
    git_worktree_add_options opts;
    char none[] = ".git/grove-no-such-path", *no_path[] = {none};
    int attempt;

    *add_rc = 0;
    git_error_clear();
    if (git_worktree_add_options_init(&opts, GIT_WORKTREE_ADD_OPTIONS_VERSION) < 0)
        return fail_git(err, GROVE_EGIT, "cannot set up options for worktree '%s'", name);
    opts.lock = 1;
    opts.ref = branch_ref;
    /*
     * Only the admin dir, .git file and HEAD: gitops_checkout_new() writes
     * the files from several threads. Without an index on disk its libgit2
     * fallback is a first checkout, like the one git_worktree_add makes.
     * git_worktree_add runs a checkout even with GIT_CHECKOUT_NONE: a dry
     * run that still reads every tree of the commit (47 ms on a 50,000-file
     * tree). Limited to one exact path that no tree can hold (a name inside
     * ".git"), it reads none.
     */
    opts.checkout_options.checkout_strategy =
        GIT_CHECKOUT_NONE | GIT_CHECKOUT_DONT_WRITE_INDEX | GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH;
    opts.checkout_options.paths.strings = no_path;
    opts.checkout_options.paths.count = 1;

    for (attempt = 1;; attempt++) {
        git_worktree *wt = NULL;
        int rc, retryable;

        git_error_clear();
        rc = git_worktree_add(&wt, r->repo, name, path, &opts);
        if (rc == 0) {
            git_worktree_free(wt);
            return 0;
        }
        *add_rc = rc;
        retryable = rc == GIT_ELOCKED || last_message_has("already checked out") ||
                    last_message_has("lock");
        if (rc == GIT_EEXISTS) {
            /* Only the folder can exist: the admin dir was checked under the lock. */
            return fail_git(err, GROVE_ECONFLICT, "path '%s' already exists", path);
        }
        if (!retryable || attempt >= RETRIES) {
            if (last_message_has("already checked out"))
                return fail_git(err, GROVE_EGIT,
                                "cannot add worktree '%s' (stray folders in '%s/worktrees' "
                                "cause this in libgit2 1.5.1; 'git worktree prune' clears them)",
                                name, r->common_dir);
            return fail_git(err, GROVE_EGIT, "cannot add worktree '%s' at '%s'", name, path);
        }
        create_debris_remove(r, name, path, 1);
        sleep_ms(RETRY_MS * attempt);
    }
}

int gitops_worktree_create(gitops_repo *r, const char *name, const char *path, const char *branch,
                           const char *sha, gitops_stage_fn stage, void *stage_arg, grove_err *err)
{
    git_oid oid;
    git_commit *commit = NULL;
    git_reference *branch_ref = NULL, *existing = NULL;
    char *admin = NULL, *parents_made = NULL;
    int lock_fd = -1, rc = -1, lrc, branch_made = 0, add_rc = 0, journalled = 0, attempt;
    grove_err cleanup_err = GROVE_ERR_INIT;

    if (!name_valid(name))
        return grove_fail(err, GROVE_EINVAL,
                          "invalid worktree name '%s': use letters, digits, '.', '_' and '-', "
                          "not starting with '.'",
                          name ? name : "");
    if (!abs_path_valid(path))
        return grove_fail(err, GROVE_EINVAL,
                          "worktree path '%s' must be absolute, without '.' or '..'",
                          path ? path : "");
    if (!gitops_branch_name_valid(branch))
        return grove_fail(err, GROVE_EINVAL, "invalid branch name '%s'", branch ? branch : "");
    if (!sha || strlen(sha) != GIT_OID_HEXSZ || git_oid_fromstr(&oid, sha) < 0)
        return grove_fail(err, GROVE_EINVAL, "invalid commit '%s': expected 40 hex digits",
                          sha ? sha : "");
    git_error_clear();
    lrc = git_commit_lookup(&commit, r->repo, &oid);
    if (lrc == GIT_ENOTFOUND)
        return grove_fail(err, GROVE_ENOTFOUND, "commit '%s' not found", sha);
    if (lrc < 0)
        return fail_git(err, GROVE_EINVAL, "'%s' is not a commit", sha);

    admin = admin_dir(r, name);
    if (!admin) {
        rc = grove_nomem(err);
        goto done;
    }
    if (repo_lock(r, &lock_fd, err) != 0)
        goto done;

    /* Conflicts: checked under the lock; nothing has been changed yet. */
    if (path_exists(path)) {
        rc = grove_fail(err, GROVE_ECONFLICT, "path '%s' already exists", path);
        goto done;
    }
    if (errno != ENOENT) {
        rc = grove_fail(err, GROVE_EIO, "cannot use path '%s': %s", path, strerror(errno));
        goto done;
    }
    git_error_clear();
    lrc = git_branch_lookup(&existing, r->repo, branch, GIT_BRANCH_LOCAL);
    if (lrc == 0) {
        rc = grove_fail(err, GROVE_ECONFLICT, "branch '%s' already exists", branch);
        goto done;
    }
    if (lrc != GIT_ENOTFOUND) {
        rc = fail_git(err, GROVE_EGIT, "cannot look up branch '%s'", branch);
        goto done;
    }
    if (path_exists(admin)) {
        rc = grove_fail(err, GROVE_ECONFLICT,
                        "worktree '%s' already exists (admin folder '%s'; 'git worktree prune' "
                        "removes a stale one)",
                        name, admin);
        goto done;
    }
    /* From here on a crash leaves a journal that `grove gc` undoes. */
    if (journal_begin(r, name, branch, path, err) != 0)
        goto done;
    journalled = 1;
    dead_admin_dirs_remove(r);
    if (make_parents(path, &parents_made, err) != 0)
        goto done;

    for (attempt = 1;; attempt++) {
        git_error_clear();
        lrc = git_branch_create(&branch_ref, r->repo, branch, commit, 0);
        if (lrc == GIT_EEXISTS) {
            rc = grove_fail(err, GROVE_ECONFLICT, "branch '%s' already exists", branch);
            goto done;
        }
        if (lrc >= 0)
            break;
        /*
         * A lock on the ref under our repo lock: git itself is writing it,
         * or a killed process left its lock file. Either way the name is
         * not usable now: GROVE_ECONFLICT lets the caller take another.
         */
        if (lrc == GIT_ELOCKED || last_message_has("lock")) {
            if (attempt < RETRIES) {
                sleep_ms(RETRY_MS * attempt);
                continue;
            }
            rc = fail_git(err, GROVE_ECONFLICT, "branch '%s' is locked", branch);
            goto done;
        }
        rc = fail_git(err, GROVE_EGIT, "cannot create branch '%s'", branch);
        goto done;
    }
    branch_made = 1;
    if (stage)
        stage(stage_arg, "branch created");

    if (worktree_add_retry(r, name, path, branch_ref, &add_rc, err) != 0)
        goto done;
    /* opts.lock made an empty "locked" file; give it git's own reason. */
    if (write_lock_reason(r, name, "initializing", err) != 0)
        goto done;
    /*
     * The files are written without the repo lock, so that other processes
     * add and remove worktrees meanwhile: this one is registered, locked
     * "initializing" and journalled (gc leaves it alone while this process
     * holds the journal, and undoes it if this process dies).
     */
    repo_unlock(lock_fd);
    lock_fd = -1;
    if (gitops_checkout_new(path, sha, NULL, err) != 0) {
        if (repo_lock(r, &lock_fd, &cleanup_err) != 0) {
            /* Left to gc, which finds the journal of a dead creation. */
            log_warn("cannot undo worktree '%s' now: %s", name, cleanup_err.msg);
            journal_release(r, name);
            journalled = 0;
            branch_made = 0;
        }
        goto done;
    }
    rc = 0;
done:
    if (rc != 0 && branch_made) {
        /* The folder is ours to remove unless add failed because it already existed. */
        create_debris_remove(r, name, path, add_rc != GIT_EEXISTS);
        git_reference_free(branch_ref);
        branch_ref = NULL;
        if (branch_delete(r, branch, &cleanup_err) != 0)
            log_warn("cannot remove branch '%s' after a failed create: %s", branch,
                     cleanup_err.msg);
    }
    if (rc != 0)
        remove_parents(path, parents_made);
    if (rc != 0 && journalled)
        journal_end(r, name);
    repo_unlock(lock_fd);
    if (rc == 0 && stage)
        stage(stage_arg, "checked out");
    git_reference_free(existing);
    git_reference_free(branch_ref);
    git_commit_free(commit);
    free(parents_made);
    free(admin);
    return rc;
}

int gitops_worktree_unlock(gitops_repo *r, const char *name, grove_err *err)
{
    git_worktree *wt = NULL;
    int lock_fd = -1, rc = -1;

    if (!name_valid(name))
        return grove_fail(err, GROVE_EINVAL, "invalid worktree name '%s'", name ? name : "");
    if (repo_lock(r, &lock_fd, err) != 0)
        return -1;
    git_error_clear();
    if (git_worktree_lookup(&wt, r->repo, name) < 0) {
        rc = grove_fail(err, GROVE_ENOTFOUND, "worktree '%s' not found", name);
        goto done;
    }
    git_error_clear();
    if (git_worktree_unlock(wt) < 0) { /* 1: was not locked, fine */
        rc = fail_git(err, GROVE_EGIT, "cannot unlock worktree '%s'", name);
        goto done;
    }
    rc = 0;
done:
    /*
     * The instance is recorded: its creation is over even when the lock
     * could not go (gc removes an "initializing" lock that has a row).
     */
    journal_end(r, name);
    repo_unlock(lock_fd);
    git_worktree_free(wt);
    return rc;
}

/* ---- worktree removal -------------------------------------------------- */

static char *admin_worktree_folder(const char *admin);

/*
 * Removes worktree `name` under the repo lock, so that wherever a crash
 * stops it, gitops_removal_finish() (grove gc) completes it:
 *   1. a removal journal, <common>/grove/removing/<name>, names the branch
 *      and the folder;
 *   2. the admin dir is renamed out of <common>/worktrees at once (an entry
 *      that libgit2 1.5.1 lists but cannot open makes every later
 *      git_worktree_add fail with a false "reference is already checked
 *      out": bugs A and B in the notes; none is ever left there);
 *   3. the folder goes, its .git file last (what is left of it stays
 *      recognisably ours); 4. the branch; 5. the moved admin dir, the
 *      journal and the creation journal, if any.
 * worktree_remove_locked() takes the folder the admin dir names, else
 * `folder_hint` (may be NULL); worktree_remove_at() exactly `folder` (NULL:
 * none). Either deletes it only when its .git points to this worktree, or
 * when it is empty.
 */
int worktree_remove_locked(gitops_repo *r, const char *name, const char *folder_hint,
                           const char *branch, grove_err *err)
{
    char *admin = admin_dir(r, name), *moved = journal_removal_path(r, name, ".admin");
    char *folder = NULL;
    struct stat st;
    int rc = -1;

    if (!admin || !moved) {
        rc = grove_nomem(err);
        goto done;
    }
    folder = admin_worktree_folder(lstat(admin, &st) == 0 && S_ISDIR(st.st_mode) ? admin : moved);
    if (!folder && folder_hint && !(folder = grove_strdup(folder_hint))) {
        rc = grove_nomem(err);
        goto done;
    }
    rc = worktree_remove_at(r, name, folder, branch, err);
done:
    free(folder);
    free(moved);
    free(admin);
    return rc;
}

int worktree_remove_at(gitops_repo *r, const char *name, const char *folder, const char *branch,
                       grove_err *err)
{
    char *admin = admin_dir(r, name);
    char *journal = journal_removal_path(r, name, ""),
         *moved = journal_removal_path(r, name, ".admin");
    grove_err jerr = GROVE_ERR_INIT;
    struct stat st;
    int rc = -1, have_admin, journaled = 1;

    if (!admin || !journal || !moved) {
        rc = grove_nomem(err);
        goto done;
    }
    have_admin = lstat(admin, &st) == 0 && S_ISDIR(st.st_mode);
    /* Its folder was made with the repo lock (journal_dirs_make). */
    if (journal_write_two_lines(journal, branch ? branch : "", folder ? folder : "", &jerr) != 0) {
        /* No room for the journal (a full disk, a read-only folder): remove all the same. */
        log_warn("removing worktree '%s' without a journal (%s): a crash now may leave debris",
                 name, jerr.msg[0] ? jerr.msg : strerror(errno));
        journaled = 0;
    } else if (have_admin && (remove_tree(moved) != 0 || rename(admin, moved) != 0)) {
        rc = grove_fail(err, GROVE_EIO, "cannot move '%s' aside: %s", admin, strerror(errno));
        goto done;
    }
    if (folder && (folder_is_ours(r, folder, name) || folder_is_stub(r, folder, name))) {
        if (remove_worktree_folder(folder) != 0) {
            rc = grove_fail(err, GROVE_EIO, "cannot remove folder '%s': %s", folder,
                            strerror(errno));
            goto done;
        }
    } else if (folder && rmdir(folder) != 0 && errno != ENOENT && path_exists(folder)) {
        log_warn("left folder '%s': its .git does not point to worktree '%s'", folder, name);
    }
    /* Without a journal the admin dir is still in place: it goes before the branch can. */
    if (!journaled && remove_tree(admin) != 0) {
        rc = grove_fail(err, GROVE_EIO, "cannot remove folder '%s': %s", admin, strerror(errno));
        goto done;
    }
    if (branch && branch_delete(r, branch, err) != 0)
        goto done;
    if (journaled && remove_tree(moved) != 0) {
        rc = grove_fail(err, GROVE_EIO, "cannot remove folder '%s': %s", moved, strerror(errno));
        goto done;
    }
    if (journaled && unlink(journal) != 0 && errno != ENOENT) {
        rc = grove_fail(err, GROVE_EIO, "cannot remove '%s': %s", journal, strerror(errno));
        goto done;
    }
    journal_end(r, name);
    rc = 0;
done:
    free(moved);
    free(journal);
    free(admin);
    return rc;
}

int gitops_worktree_remove(gitops_repo *r, const char *name, const char *branch, grove_err *err)
{
    int lock_fd = -1, rc;

    if (!name_valid(name))
        return grove_fail(err, GROVE_EINVAL, "invalid worktree name '%s'", name ? name : "");
    if (branch && !gitops_branch_name_valid(branch))
        return grove_fail(err, GROVE_EINVAL, "invalid branch name '%s'", branch);
    if (repo_lock(r, &lock_fd, err) != 0)
        return -1;
    rc = worktree_remove_locked(r, name, NULL, branch, err);
    repo_unlock(lock_fd);
    return rc;
}

/* ---- removal of an instance's worktree, resolved and checked ---------- */

/* realpath of the folder holding `path` (malloc'd); NULL when it does not resolve. */
static char *parent_real_path(const char *path)
{
    char *copy = grove_strdup(path), *slash, *real = NULL;

    if (!copy)
        return NULL;
    slash = strrchr(copy, '/');
    if (slash) {
        *slash = '\0';
        real = real_path(*copy ? copy : "/");
    }
    free(copy);
    return real;
}

/*
 * Gathers the facts (repo lock held or not) and decides; *out filled on
 * success. Every string the facts point to is owned here and freed.
 */
static int removal_resolve(gitops_repo *r, const char *name, const char *recorded, const char *base,
                           gitops_removal_target *out, grove_err *err)
{
    gitops_removal_facts f;
    char *admin = NULL, *moved = NULL, *base_real = NULL, *rec_parent = NULL, *rec_real = NULL,
         *git_path = NULL, *git_real = NULL; /* owned here; the facts borrow them */
    struct stat st;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    memset(&f, 0, sizeof(f));
    f.name = name;
    f.recorded = recorded;
    f.base = base;
    f.main_real = r->workdir;
    f.common_real = r->common_dir;
    if (!name_valid(name)) /* decided below; no admin path is made of it */
        goto decide;
    if (!(admin = admin_dir(r, name)) || !(moved = journal_removal_path(r, name, ".admin"))) {
        rc = grove_nomem(err);
        goto done;
    }
    f.base_real = base_real = base ? real_path(base) : NULL;
    if (recorded && recorded[0] == '/') {
        f.recorded_parent_real = rec_parent = parent_real_path(recorded);
        f.recorded_present = lstat(recorded, &st) == 0;
        f.recorded_is_link = f.recorded_present && S_ISLNK(st.st_mode);
        f.recorded_real = rec_real = real_path(recorded);
    }
    /* git's record: its admin dir, else the one an interrupted removal moved aside. */
    if (lstat(admin, &st) == 0 && S_ISDIR(st.st_mode)) {
        f.git_record = 1;
        git_path = admin_worktree_folder(admin);
    } else if (lstat(moved, &st) == 0 && S_ISDIR(st.st_mode)) {
        f.git_record = 1;
        git_path = admin_worktree_folder(moved);
    }
    if (git_path) {
        f.git_path = git_path;
        f.git_present = lstat(git_path, &st) == 0;
        f.git_is_link = f.git_present && S_ISLNK(st.st_mode);
        f.git_real = git_real = real_path(git_path);
        f.git_folder_ours = git_real && folder_is_ours(r, git_real, name);
    }
decide:
    if (gitops_removal_decide(&out->plan, &f, err) != 0)
        goto done;
    if (out->plan.action == GITOPS_REMOVAL_FOLDER) {
        if (lstat(out->plan.folder, &st) != 0 || !S_ISDIR(st.st_mode)) {
            rc = grove_fail(err, GROVE_ECONFLICT,
                            "worktree folder '%s' changed while it was checked; try again",
                            out->plan.folder);
            goto done;
        }
        out->dev = (unsigned long long)st.st_dev;
        out->ino = (unsigned long long)st.st_ino;
    }
    if (!(out->name = grove_strdup(name)) || !(out->recorded = grove_strdup(recorded)) ||
        (base && !(out->base = grove_strdup(base)))) {
        rc = grove_nomem(err);
        goto done;
    }
    rc = 0;
done:
    if (rc != 0)
        gitops_removal_target_free(out);
    free(admin);
    free(moved);
    free(base_real);
    free(rec_parent);
    free(rec_real);
    free(git_path);
    free(git_real);
    return rc;
}

int gitops_removal_resolve(gitops_repo *r, const char *name, const char *recorded, const char *base,
                           gitops_removal_target *out, grove_err *err)
{
    return removal_resolve(r, name, recorded, base, out, err);
}

void gitops_removal_target_free(gitops_removal_target *t)
{
    if (!t)
        return;
    free(t->name);
    free(t->recorded);
    free(t->base);
    memset(t, 0, sizeof(*t));
}

int gitops_worktree_remove_target(gitops_repo *r, const gitops_removal_target *t,
                                  const char *branch, grove_err *err)
{
    gitops_removal_target now; /* owned: the facts again, under the lock */
    int lock_fd = -1, rc = -1;

    memset(&now, 0, sizeof(now));
    if (!t || !t->name || !name_valid(t->name))
        return grove_fail(err, GROVE_EINVAL, "invalid worktree name '%s'",
                          t && t->name ? t->name : "");
    if (t->plan.action != GITOPS_REMOVAL_FOLDER && t->plan.action != GITOPS_REMOVAL_RECORD)
        return grove_fail(err, GROVE_EINVAL, "worktree '%s': no removal was allowed", t->name);
    if (branch && !gitops_branch_name_valid(branch))
        return grove_fail(err, GROVE_EINVAL, "invalid branch name '%s'", branch);
    if (repo_lock(r, &lock_fd, err) != 0)
        return -1;
    /* Checked again where nothing of git's can change: a swap since the check is caught. */
    if (removal_resolve(r, t->name, t->recorded, t->base, &now, err) != 0)
        goto done;
    if (now.plan.action != t->plan.action || strcmp(now.plan.folder, t->plan.folder) != 0 ||
        now.dev != t->dev || now.ino != t->ino) {
        rc = grove_fail(err, GROVE_ECONFLICT,
                        "the worktree folder of '%s' changed since it was checked ('%s'): "
                        "nothing removed; look at it and try again",
                        t->name, t->plan.folder[0] ? t->plan.folder : t->recorded);
        goto done;
    }
    rc = worktree_remove_at(
        r, t->name, t->plan.action == GITOPS_REMOVAL_FOLDER ? t->plan.folder : NULL, branch, err);
done:
    gitops_removal_target_free(&now);
    repo_unlock(lock_fd);
    return rc;
}

/* ---- worktree list and prune ------------------------------------------- */

/*
 * The folder of the worktree whose admin dir is `admin`, from its `gitdir`
 * file ("<folder>/.git"), malloc'd; NULL when unreadable or not absolute.
 */
static char *admin_worktree_folder(const char *admin)
{
    char buf[PATH_MAX + 16];
    char *file = grove_asprintf("%s/gitdir", admin);
    size_t len;
    int rrc;

    if (!file)
        return NULL;
    rrc = read_small_file(file, buf, sizeof(buf));
    free(file);
    if (rrc != 0 || buf[0] != '/')
        return NULL;
    len = strlen(buf);
    if (len > 5 && strcmp(buf + len - 5, "/.git") == 0)
        buf[len - 5] = '\0';
    return grove_strdup(buf);
}

/* Fills `wi` for admin dir <common>/worktrees/<name>. -1 only when out of memory. */
int worktree_info_read(const gitops_repo *r, const char *name, gitops_worktree_info *wi)
{
    char buf[PATH_MAX + 16];
    char *admin = admin_dir(r, name);
    char *file = NULL;
    struct stat st;
    int rc = -1;

    memset(wi, 0, sizeof(*wi));
    if (!admin || !(wi->name = grove_strdup(name)))
        goto done;
    wi->path = admin_worktree_folder(admin);
    wi->folder_exists = wi->path && stat(wi->path, &st) == 0 && S_ISDIR(st.st_mode);

    if (!(file = grove_asprintf("%s/HEAD", admin)))
        goto done;
    if (read_small_file(file, buf, sizeof(buf)) == 0 && strncmp(buf, "ref:", 4) == 0) {
        const char *v = buf + 4;

        while (*v == ' ' || *v == '\t')
            v++;
        if (strncmp(v, "refs/heads/", 11) == 0 && v[11] && !(wi->branch = grove_strdup(v + 11)))
            goto done;
    }
    free(file);

    if (!(file = grove_asprintf("%s/locked", admin)))
        goto done;
    if (lstat(file, &st) == 0) {
        if (read_small_file(file, buf, sizeof(buf)) != 0)
            buf[0] = '\0';
        if (!(wi->lock_reason = grove_strdup(buf)))
            goto done;
    }
    rc = 0;
done:
    free(file);
    free(admin);
    return rc;
}

static int cmp_worktree_info(const void *a, const void *b)
{
    return strcmp(((const gitops_worktree_info *)a)->name, ((const gitops_worktree_info *)b)->name);
}

int gitops_worktree_list(gitops_repo *r, gitops_worktree_info **out, size_t *n, grove_err *err)
{
    char *wts = grove_asprintf("%s/worktrees", r->common_dir);
    gitops_worktree_info *list = NULL;
    size_t count = 0, cap = 0;
    struct dirent *de;
    DIR *d = NULL;
    int rc = -1;

    *out = NULL;
    *n = 0;
    if (!wts)
        return grove_nomem(err);
    d = opendir(wts);
    if (!d) {
        if (errno == ENOENT) {
            free(wts);
            return 0;
        }
        rc = grove_fail(err, GROVE_EIO, "cannot read folder '%s': %s", wts, strerror(errno));
        goto done;
    }
    for (;;) {
        struct stat st;
        char *entry;
        int is_dir;

        errno = 0;
        de = readdir(d);
        if (!de) {
            if (errno != 0) {
                rc =
                    grove_fail(err, GROVE_EIO, "cannot read folder '%s': %s", wts, strerror(errno));
                goto done;
            }
            break;
        }
        if (de->d_name[0] == '.')
            continue;
        entry = grove_asprintf("%s/%s", wts, de->d_name);
        if (!entry) {
            rc = grove_nomem(err);
            goto done;
        }
        is_dir = lstat(entry, &st) == 0 && S_ISDIR(st.st_mode);
        free(entry);
        if (!is_dir)
            continue;
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            gitops_worktree_info *grown = realloc(list, ncap * sizeof(*list));

            if (!grown) {
                rc = grove_nomem(err);
                goto done;
            }
            list = grown;
            cap = ncap;
        }
        if (worktree_info_read(r, de->d_name, &list[count]) != 0) {
            gitops_worktree_list_free(list, count + 1);
            list = NULL;
            count = 0;
            rc = grove_nomem(err);
            goto done;
        }
        count++;
    }
    if (count > 1)
        qsort(list, count, sizeof(*list), cmp_worktree_info);
    *out = list;
    *n = count;
    list = NULL;
    count = 0;
    rc = 0;
done:
    gitops_worktree_list_free(list, count);
    if (d)
        closedir(d);
    free(wts);
    return rc;
}

void gitops_worktree_list_free(gitops_worktree_info *list, size_t n)
{
    size_t i;

    if (!list)
        return;
    for (i = 0; i < n; i++) {
        free(list[i].name);
        free(list[i].path);
        free(list[i].branch);
        free(list[i].lock_reason);
    }
    free(list);
}

int gitops_worktree_prune_stale(gitops_repo *r, const char *name, grove_err *err)
{
    char *admin = NULL, *folder = NULL, *locked = NULL;
    struct stat st;
    int lock_fd = -1, rc = -1;

    if (!name_valid(name))
        return grove_fail(err, GROVE_EINVAL, "invalid worktree name '%s'", name ? name : "");
    admin = admin_dir(r, name);
    locked = admin ? grove_asprintf("%s/locked", admin) : NULL;
    if (!admin || !locked) {
        rc = grove_nomem(err);
        goto done;
    }
    if (repo_lock(r, &lock_fd, err) != 0)
        goto done;
    if (lstat(admin, &st) != 0 || !S_ISDIR(st.st_mode)) {
        rc = grove_fail(err, GROVE_ENOTFOUND, "worktree '%s' not found", name);
        goto done;
    }
    folder = admin_worktree_folder(admin);
    if (folder && stat(folder, &st) == 0) {
        rc = grove_fail(err, GROVE_ECONFLICT, "worktree '%s' still has its folder at '%s'", name,
                        folder);
        goto done;
    }
    if (folder && errno != ENOENT && errno != ENOTDIR) {
        rc = grove_fail(err, GROVE_EIO, "cannot check folder '%s' of worktree '%s': %s", folder,
                        name, strerror(errno));
        goto done;
    }
    if (lstat(locked, &st) == 0) {
        char reason[1024];

        if (read_small_file(locked, reason, sizeof(reason)) != 0)
            reason[0] = '\0';
        rc = grove_fail(err, GROVE_ECONFLICT, "worktree '%s' is locked%s%s%s: not pruned", name,
                        reason[0] ? " ('" : "", reason, reason[0] ? "')" : "");
        goto done;
    }
    /*
     * Moved aside first, like a removal: a half-deleted entry would break
     * git_worktree_add. Its folder is gone (checked above): none is deleted.
     */
    rc = worktree_remove_at(r, name, NULL, NULL, err);
done:
    repo_unlock(lock_fd);
    free(folder);
    free(locked);
    free(admin);
    return rc;
}
