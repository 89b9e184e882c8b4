/*
 * repo: opening the repository, the layer's error messages (fail_git()),
 * small file helpers, the advisory repo lock and initialising libgit2
 * (gitops_lib_init()). See git.h for the
 * contracts, git_internal.h for what the layer's files share and
 * ../shared/LIBGIT2-NOTES.md for the libgit2 behaviour the workarounds in
 * this folder are for.
 */
#include "tools/git/git_internal.h"
#include "tools/git/lazy_git2.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NAME_MAX_GR 128

/* ---- errors ------------------------------------------------------------ */

/*
 * Like grove_fail(), then appends libgit2's last message (if any) made one
 * line: control characters become spaces, a trailing period goes, and a
 * capitalised first word ("Cannot ...") is lowercased.
 */
int fail_git(grove_err *err, grove_code code, const char *fmt, ...)
{
    const git_error *ge = git_error_last();
    va_list ap;
    size_t n;

    if (!err)
        return -1;
    va_start(ap, fmt);
    grove_vfail(err, code, fmt, ap);
    va_end(ap);
    n = strlen(err->msg);
    if (ge && ge->message && *ge->message && n + 3 < sizeof(err->msg)) {
        char *m = err->msg + n + 2;
        size_t len;

        memcpy(err->msg + n, ": ", 2);
        snprintf(m, sizeof(err->msg) - n - 2, "%s", ge->message);
        grove_one_line(m);
        len = strlen(m);
        while (len > 0 && m[len - 1] == '.')
            m[--len] = '\0';
        if (isupper((unsigned char)m[0]) && islower((unsigned char)m[1]))
            m[0] = (char)tolower((unsigned char)m[0]);
        grove_utf8_sanitize(m); /* libgit2's messages may hold raw file names */
    }
    return -1;
}

int last_message_has(const char *needle)
{
    const git_error *ge = git_error_last();

    return ge && ge->message && strstr(ge->message, needle) != NULL;
}

void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- small file helpers ------------------------------------------------ */

int path_exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

/* realpath() without a trailing slash; NULL with errno set on failure. */
char *real_path(const char *path)
{
    char *p = realpath(path, NULL);
    size_t n;

    if (!p)
        return NULL;
    n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    return p;
}

static int rm_entry(const char *fpath, const struct stat *sb, int typeflag, struct FTW *ftwbuf)
{
    (void)sb;
    (void)ftwbuf;
    if (typeflag == FTW_DP || typeflag == FTW_D)
        return rmdir(fpath) == 0 || errno == ENOENT ? 0 : -1;
    return unlink(fpath) == 0 || errno == ENOENT ? 0 : -1;
}

/*
 * rm -rf `path`: depth first, never following symbolic links (a link is
 * removed, not what it points to) and never crossing into another mount.
 * A missing path is success.
 */
int remove_tree(const char *path)
{
    struct stat st;

    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path);
    return nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* Reads at most `cap - 1` bytes of a regular file (no symlink) into buf. */
int read_small_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    size_t len = 0;

    if (fd < 0)
        return -1;
    while (len + 1 < cap) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
        buf[--len] = '\0';
    return 0;
}

/* 1 when `name` is one path component of [A-Za-z0-9._-], not starting with '.'. */
int name_valid(const char *name)
{
    size_t i, n;

    if (!name || !*name || name[0] == '.')
        return 0;
    n = strlen(name);
    if (n > NAME_MAX_GR)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];

        if (!isalnum(c) && c != '.' && c != '_' && c != '-')
            return 0;
    }
    return 1;
}

/* 1 when `path` is absolute and has no "." or ".." component. */
int abs_path_valid(const char *path)
{
    const char *p;

    if (!path || path[0] != '/' || strlen(path) >= PATH_MAX)
        return 0;
    for (p = path; *p;) {
        size_t len;

        while (*p == '/')
            p++;
        len = strcspn(p, "/");
        if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            return 0;
        p += len;
    }
    return 1;
}

/* ---- the advisory lock ----------------------------------------------------- */

/*
 * Makes both journal folders, <common>/grove/creating and grove/removing,
 * at once, the first time grove takes the repo lock: a removal must never
 * find its folder missing after <common>/grove became read-only (a removal
 * without its journal cannot be finished after a crash). Failures are left
 * to journal_begin() and worktree_remove_locked(), which report or work around them.
 */
static void journal_dirs_make(const gitops_repo *r)
{
    static const char *const subs[] = {"creating", "removing"};
    size_t i;

    for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        char *d = grove_asprintf("%s/grove/%s", r->common_dir, subs[i]);

        if (d && mkdir(d, 0700) != 0 && errno != EEXIST)
            log_warn("cannot create folder '%s': %s", d, strerror(errno));
        free(d);
    }
}

/*
 * Takes the exclusive flock on <common dir>/grove/git.lock (folder 0700, file
 * 0600) and pre-creates <common dir>/worktrees. *fd_out is closed by
 * repo_unlock(). flock() locks belong to the open file description, so two
 * threads or processes each calling this exclude each other; do not call it
 * twice in one call chain (it would wait for itself).
 */
int repo_lock(const gitops_repo *r, int *fd_out, grove_err *err)
{
    char *dir = grove_asprintf("%s/grove", r->common_dir);
    char *file = grove_asprintf("%s/grove/git.lock", r->common_dir);
    char *wts = grove_asprintf("%s/worktrees", r->common_dir);
    int fd = -1, rc = -1;

    *fd_out = -1;
    if (!dir || !file || !wts) {
        rc = grove_nomem(err);
        goto done;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        rc = grove_fail(err, GROVE_EIO, "cannot create folder '%s': %s", dir, strerror(errno));
        goto done;
    }
    journal_dirs_make(r);
    fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rc = grove_fail(err, GROVE_EIO, "cannot open lock file '%s': %s", file, strerror(errno));
        goto done;
    }
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            rc = grove_fail(err, GROVE_EIO, "cannot lock '%s': %s", file, strerror(errno));
            close(fd);
            fd = -1;
            goto done;
        }
    }
    /* libgit2 makes this folder with an exclusive mkdir on the first add. */
    if (mkdir(wts, 0777) != 0 && errno != EEXIST) {
        rc = grove_fail(err, GROVE_EIO, "cannot create folder '%s': %s", wts, strerror(errno));
        close(fd);
        fd = -1;
        goto done;
    }
    *fd_out = fd;
    rc = 0;
done:
    free(dir);
    free(file);
    free(wts);
    return rc;
}

void repo_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the flock */
}

/* ---- repository -------------------------------------------------------- */

int gitops_in_worktree(const char *path)
{
    git_repository *repo = NULL;
    int yes;

    git_error_clear();
    if (!path || git_repository_open_ext(&repo, path, 0, NULL) < 0) {
        git_error_clear();
        return 0;
    }
    yes = !git_repository_is_bare(repo) && git_repository_workdir(repo) != NULL;
    git_repository_free(repo);
    return yes;
}

int gitops_repo_open(gitops_repo **out, const char *path, grove_err *err)
{
    const char *where = path ? path : ".";
    git_repository *repo = NULL, *main_repo = NULL;
    gitops_repo *r = NULL;
    int rc;

    *out = NULL;
    git_error_clear();
    rc = git_repository_open_ext(&repo, where, 0, NULL);
    if (rc == GIT_ENOTFOUND)
        return grove_fail(err, GROVE_ENOTFOUND, "no git repository at or above '%s'", where);
    if (rc < 0)
        return fail_git(err, GROVE_EGIT, "cannot open repository '%s'", where);

    if (git_repository_is_worktree(repo)) {
        /* A linked worktree: open the main repository through its common dir. */
        git_error_clear();
        rc = git_repository_open(&main_repo, git_repository_commondir(repo));
        if (rc < 0) {
            fail_git(err, GROVE_EGIT, "cannot open the main repository of '%s'", where);
            git_repository_free(repo);
            return -1;
        }
        git_repository_free(repo);
        repo = main_repo;
    }
    if (git_repository_is_bare(repo) || !git_repository_workdir(repo)) {
        char *gd = path ? NULL : real_path(git_repository_path(repo));

        grove_fail(err, GROVE_EINVAL, "repository '%s' has no working directory", gd ? gd : where);
        free(gd);
        git_repository_free(repo);
        return -1;
    }

    r = calloc(1, sizeof(*r));
    if (!r) {
        git_repository_free(repo);
        return grove_nomem(err);
    }
    r->repo = repo;
    r->workdir = real_path(git_repository_workdir(repo));
    if (!r->workdir) {
        grove_fail(err, GROVE_EIO, "cannot resolve '%s': %s", git_repository_workdir(repo),
                   strerror(errno));
        gitops_repo_free(r);
        return -1;
    }
    r->common_dir = real_path(git_repository_commondir(repo));
    if (!r->common_dir) {
        grove_fail(err, GROVE_EIO, "cannot resolve '%s': %s", git_repository_commondir(repo),
                   strerror(errno));
        gitops_repo_free(r);
        return -1;
    }
    *out = r;
    return 0;
}

void gitops_repo_free(gitops_repo *r)
{
    size_t i;

    if (!r)
        return;
    /* Unfinished creations stay journalled: gc finds them once the locks are released. */
    for (i = 0; i < r->njournals; i++) {
        close(r->journals[i].fd);
        free(r->journals[i].name);
    }
    free(r->journals);
    git_repository_free(r->wt_repo);
    free(r->wt_path);
    statcache_free(r->statcache);
    git_repository_free(r->repo);
    free(r->workdir);
    free(r->common_dir);
    free(r);
}

const char *gitops_workdir(const gitops_repo *r)
{
    return r->workdir;
}

const char *gitops_common_dir(const gitops_repo *r)
{
    return r->common_dir;
}

int gitops_branch_name_valid(const char *name)
{
    int valid = 0;

    if (!name || !*name)
        return 0;
    if (git_branch_name_is_valid(&valid, name) < 0)
        return 0;
    return valid ? 1 : 0;
}

int gitops_head_branch(gitops_repo *r, char **out, grove_err *err)
{
    git_reference *head = NULL;
    const char *name = NULL;
    int rc;

    *out = NULL;
    git_error_clear();
    rc = git_repository_head_unborn(r->repo);
    if (rc == 1)
        return grove_fail(err, GROVE_ENOTFOUND, "HEAD of '%s' has no commit yet", r->workdir);
    rc = git_repository_head_detached(r->repo);
    if (rc == 1)
        return grove_fail(err, GROVE_ECONFLICT, "HEAD of '%s' is detached: no branch", r->workdir);
    git_error_clear();
    if (rc < 0 || git_repository_head(&head, r->repo) < 0)
        return fail_git(err, GROVE_EGIT, "cannot read HEAD of '%s'", r->workdir);
    git_error_clear();
    if (git_branch_name(&name, head) < 0) {
        fail_git(err, GROVE_EGIT, "cannot read the branch of HEAD in '%s'", r->workdir);
        git_reference_free(head);
        return -1;
    }
    *out = grove_strdup(name);
    git_reference_free(head);
    if (!*out)
        return grove_nomem(err);
    return 0;
}

/* Commit a reference points to, as 40 hex digits. */
static int ref_commit_sha(git_reference *ref, char sha[41], grove_err *err, const char *what)
{
    git_object *obj = NULL;

    git_error_clear();
    if (git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT) < 0)
        return fail_git(err, GROVE_EGIT, "cannot resolve '%s' to a commit", what);
    git_oid_tostr(sha, 41, git_object_id(obj));
    git_object_free(obj);
    return 0;
}

int gitops_resolve_branch(gitops_repo *r, const char *branch, char sha[41], grove_err *err)
{
    static const git_branch_t kinds[] = {GIT_BRANCH_LOCAL, GIT_BRANCH_REMOTE};
    size_t i;

    sha[0] = '\0';
    if (!branch || !*branch)
        return grove_fail(err, GROVE_EINVAL, "base branch is empty");
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        git_reference *ref = NULL;
        int rc;

        git_error_clear();
        rc = git_branch_lookup(&ref, r->repo, branch, kinds[i]);
        if (rc == 0) {
            rc = ref_commit_sha(ref, sha, err, branch);
            git_reference_free(ref);
            return rc;
        }
        if (rc != GIT_ENOTFOUND && rc != GIT_EINVALIDSPEC)
            return fail_git(err, GROVE_EGIT, "cannot look up branch '%s'", branch);
    }
    return grove_fail(err, GROVE_ENOTFOUND, "base branch '%s' not found", branch);
}

/* ---- libgit2 itself ---------------------------------------------------- */

/*
 * git_libgit2_init() calls libssh2_init(0). libssh2 1.10 built on OpenSSL
 * (Debian 12) then runs ENGINE_load_builtin_engines() and
 * ENGINE_register_all_complete(): OpenSSL reads openssl.cnf and sets up its
 * hardware engines, which faults in 1.6 MB of libcrypto and takes about a
 * millisecond, for SSH pushes that most processes never make. Since OpenSSL
 * 1.1 that set-up is optional (OpenSSL initialises itself on first use, with
 * its default providers), so libssh2 is initialised first with
 * LIBSSH2_INIT_NO_CRYPTO; libgit2's own libssh2_init() then only counts.
 * Only when libssh2 (found through libgit2, so no link dependency) uses
 * OpenSSL 1.1 or later: the libgcrypt and mbedTLS back ends need their init.
 */
int gitops_lib_init(grove_err *err)
{
    static int done;
    char why[512];

    if (lazy_git2_load(why, sizeof(why)) != 0)
        return grove_fail(err, GROVE_EGIT, "%s", why);
    if (!done) {
        void *ssh2 = dlopen("libssh2.so.1", RTLD_LAZY | RTLD_NOLOAD);
        int (*ssh2_init)(int) = NULL;
        void *fn;

        done = 1;
        /* dlsym() on a handle searches the library and its dependencies. */
        if (ssh2 && dlsym(ssh2, "OPENSSL_init_crypto") && (fn = dlsym(ssh2, "libssh2_init")))
            memcpy(&ssh2_init, &fn, sizeof(fn)); /* POSIX: same representation */
        if (ssh2_init)
            ssh2_init(0x0001); /* LIBSSH2_INIT_NO_CRYPTO; never undone: process-wide */
        if (ssh2)
            dlclose(ssh2);
    }
    if (git_libgit2_init() < 0) {
        const git_error *e = git_error_last();

        return grove_fail(err, GROVE_EGIT, "cannot initialise libgit2: %s",
                          e && e->message ? e->message : "unknown error");
    }
    /*
     * libgit2 hashes every object it reads to check it against its id (git
     * does not: it checks objects in fsck and when fetching). With SHA-1
     * collision detection that was a third of the instructions of a
     * land_instance on 5,000 files (its trees and blobs are read, some more
     * than once): objects are read as git reads them.
     */
    if (git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0) < 0) {
        const git_error *e = git_error_last();

        return grove_fail(err, GROVE_EGIT, "cannot set up libgit2: %s",
                          e && e->message ? e->message : "unknown error");
    }
    return 0;
}

void gitops_lib_shutdown(void)
{
    git_libgit2_shutdown();
}
