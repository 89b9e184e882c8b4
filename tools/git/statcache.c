/*
 * statcache: gitops_worktree_state() answers kept by a long-lived process
 * (grove serve) until something they depend on changes, told by inotify.
 *
 * What an answer depends on, and is watched for (IN_MODIFY, IN_ATTRIB,
 * IN_CLOSE_WRITE, IN_CREATE, IN_DELETE, IN_MOVED_*, the folder's own removal
 * or move):
 *   - every folder of the worktree (its files, .gitignore files, the .git file);
 *   - the worktree's git folder (HEAD, index), the common folder's packed-refs,
 *     config and info/, the file of the branch HEAD names;
 *   - the global and XDG git configuration, ignore and attributes files and
 *     core.excludesFile;
 * a missing file is watched for through the nearest folder that exists.
 *
 * Why no answer is stale: the kernel queues an inotify event inside the very
 * system call that changes the file, before it returns. Every call first reads
 * the queue (non-blocking) and drops the answers the events touch; a change
 * made before the call was asked for is therefore always seen. Folders are
 * watched before the status is taken, so a change during the status leaves an
 * event that drops the new answer at the next call.
 *
 * HEAD's commit alone (statcache_head(), for log_checkpoint) is kept the same
 * way in entries of its own, which watch only the worktree's HEAD, the file of
 * the branch it names and packed-refs: a file edited in the worktree leaves it.
 *
 * Falls back to the full status every call when inotify is unavailable, and for
 * a worktree with more than SC_MAX_DIRS folders or whose watches the kernel
 * refuses (max_user_watches); the queue overflowing drops every answer. At
 * most SC_ENTRIES worktrees are watched (least recently used goes). Not seen
 * (as by every inotify user): writes through a shared mmap, a file changed
 * through a hard link outside the worktree, network file systems changed from
 * another machine.
 */
#include "tools/git/git_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#define SC_ENTRIES  4    /* worktrees watched at once */
#define SC_HEADS    4    /* worktrees whose HEAD alone is watched at once (after those) */
#define SC_MAX_DIRS 8192 /* folders watched per worktree; more: no cache for it */
#define SC_BACKOFF  64   /* calls before watching a refused worktree again */

#define SC_MASK                                                                                    \
    (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_DELETE_SELF |             \
     IN_MOVED_FROM | IN_MOVED_TO | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)

/* One watched folder for one entry: events in it (named `name`, or any when NULL) drop it. */
typedef struct sc_watch {
    int wd;
    int entry;  /* index into gitops_statcache.e */
    char *name; /* owned; NULL: any name */
} sc_watch;

typedef struct sc_entry {
    char *path;         /* owned; NULL: a free slot */
    char *base;         /* owned; the base commit the answer was computed with, or NULL */
    int valid;          /* state is the current answer */
    int refused;        /* watches failed: calls until the next try */
    unsigned long used; /* last use, for LRU */
    gitops_state state; /* owned; a HEAD entry has only state.head */
} sc_entry;

struct gitops_statcache {
    int fd;                            /* the inotify descriptor; -1: caching off */
    sc_entry e[SC_ENTRIES + SC_HEADS]; /* statuses, then HEADs */
    sc_watch *w;                       /* owned; sorted by wd after each rebuild */
    size_t nw, cap;
    unsigned long tick;
    size_t hits, misses;           /* for tests and the curious */
    size_t head_hits, head_misses; /* ... of statcache_head() */
};

static int cmp_wd(const void *a, const void *b)
{
    const sc_watch *x = a, *y = b;

    return (x->wd > y->wd) - (x->wd < y->wd);
}

gitops_statcache *statcache_new(void)
{
    gitops_statcache *c = calloc(1, sizeof(*c)); /* owned by the caller: statcache_free() */

    if (!c)
        return NULL;
    c->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (c->fd < 0)
        log_debug("worktree status is not cached: inotify: %s", strerror(errno));
    return c;
}

static void entry_clear(sc_entry *e)
{
    free(e->path);
    free(e->base);
    gitops_state_free(&e->state);
    memset(e, 0, sizeof(*e));
}

/* 1 when some watch other than those of `skip` uses wd. */
static int wd_used(const gitops_statcache *c, int wd, int skip)
{
    size_t i;

    for (i = 0; i < c->nw; i++)
        if (c->w[i].wd == wd && c->w[i].entry != skip)
            return 1;
    return 0;
}

/* Forgets entry k's watches; the kernel's go when no other entry shares them. */
static void watches_drop(gitops_statcache *c, int k)
{
    size_t i, n = 0;

    for (i = 0; i < c->nw; i++) {
        if (c->w[i].entry != k)
            continue;
        if (!wd_used(c, c->w[i].wd, k))
            inotify_rm_watch(c->fd, c->w[i].wd); /* gone already (IN_IGNORED): EINVAL */
        free(c->w[i].name);
        c->w[i].wd = -1;
    }
    for (i = 0; i < c->nw; i++)
        if (c->w[i].wd != -1)
            c->w[n++] = c->w[i];
    c->nw = n;
}

void statcache_free(gitops_statcache *c)
{
    size_t i;

    if (!c)
        return;
    for (i = 0; i < c->nw; i++)
        free(c->w[i].name);
    free(c->w);
    for (i = 0; i < SC_ENTRIES + SC_HEADS; i++)
        entry_clear(&c->e[i]);
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}

/* Watches folder `dir` for entry k (events named `name`, any when NULL). 0, or an errno. */
static int watch_add(gitops_statcache *c, int k, const char *dir, const char *name)
{
    int wd = inotify_add_watch(c->fd, dir, SC_MASK);
    char *copy = NULL; /* owned by the watch */

    if (wd < 0)
        return errno ? errno : EIO;
    if (name && !(copy = strdup(name)))
        return ENOMEM;
    if (c->nw == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        sc_watch *v = realloc(c->w, cap * sizeof(*v)); /* owned by c */

        if (!v) {
            free(copy);
            return ENOMEM;
        }
        c->w = v;
        c->cap = cap;
    }
    c->w[c->nw].wd = wd;
    c->w[c->nw].entry = k;
    c->w[c->nw].name = copy;
    c->nw++;
    return 0;
}

/*
 * Watches for a change of the file at `file` (absolute): its folder, for its
 * name; when the folder is missing, the nearest existing folder above, for the
 * next name down. 0, or an errno.
 */
static int watch_file(gitops_statcache *c, int k, const char *file)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(file, '/');
    size_t n;
    int rc;

    if (!slash || slash == file || (n = (size_t)(slash - file)) >= sizeof(dir))
        return 0; /* "/x" or too long: nothing sensible to watch */
    memcpy(dir, file, n);
    dir[n] = '\0';
    rc = watch_add(c, k, dir, slash + 1);
    if (rc == ENOENT || rc == ENOTDIR)
        return watch_file(c, k, dir);
    return rc;
}

/*
 * Watches every folder under `dir` (a worktree folder; not .git) for entry k.
 * Each folder is read to its end and closed before its subfolders are visited
 * (their names kept meanwhile): one directory stream (32 KiB) open at a time.
 */
static int watch_tree(gitops_statcache *c, int k, char *dir, size_t len, size_t *ndirs)
{
    DIR *d;
    struct dirent *de;
    char *names = NULL, *p; /* owned: the subfolders' names, each NUL-terminated */
    size_t used = 0, cap = 0;
    int rc;

    if (++*ndirs > SC_MAX_DIRS)
        return E2BIG;
    if ((rc = watch_add(c, k, dir, NULL)) != 0)
        return rc == ENOENT || rc == ENOTDIR ? 0 : rc; /* removed meanwhile: its parent saw it */
    if (!(d = opendir(dir)))
        return errno == ENOENT || errno == ENOTDIR ? 0 : errno;
    while (rc == 0 && (de = readdir(d))) {
        size_t nl = strlen(de->d_name);
        int isdir = de->d_type == DT_DIR;

        /* git never looks into .git (the worktree's, a nested repository's) */
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            strcmp(de->d_name, ".git") == 0)
            continue;
        if (len + 1 + nl >= PATH_MAX) {
            rc = ENAMETOOLONG;
            break;
        }
        if (de->d_type == DT_UNKNOWN) {
            struct stat st;

            dir[len] = '/';
            memcpy(dir + len + 1, de->d_name, nl + 1);
            isdir = lstat(dir, &st) == 0 && S_ISDIR(st.st_mode);
            dir[len] = '\0';
        }
        if (!isdir)
            continue;
        if (used + nl + 1 > cap) {
            size_t ncap = cap ? cap * 2 : 256;
            char *v;

            while (ncap < used + nl + 1)
                ncap *= 2;
            if (!(v = realloc(names, ncap))) {
                rc = ENOMEM;
                break;
            }
            names = v;
            cap = ncap;
        }
        memcpy(names + used, de->d_name, nl + 1);
        used += nl + 1;
    }
    closedir(d);
    for (p = names; rc == 0 && p && p < names + used; p += strlen(p) + 1) {
        size_t nl = strlen(p);

        dir[len] = '/';
        memcpy(dir + len + 1, p, nl + 1);
        rc = watch_tree(c, k, dir, len + 1 + nl, ndirs);
        dir[len] = '\0';
    }
    free(names);
    return rc;
}

/* The configuration, ignore and attributes files outside the repository that libgit2 reads. */
static int watch_user_files(gitops_statcache *c, int k, git_repository *repo)
{
    const char *home = getenv("HOME"), *xdg = getenv("XDG_CONFIG_HOME");
    const char *xdg_names[] = {"config", "ignore", "attributes"};
    git_config *cfg = NULL;
    git_buf buf = {0};
    char *f;
    size_t i;
    int rc = 0;

    if (home && *home) {
        if (!(f = grove_asprintf("%s/.gitconfig", home)))
            return ENOMEM;
        rc = watch_file(c, k, f);
        free(f);
    }
    for (i = 0; rc == 0 && i < sizeof(xdg_names) / sizeof(*xdg_names); i++) {
        if (xdg && *xdg)
            f = grove_asprintf("%s/git/%s", xdg, xdg_names[i]);
        else if (home && *home)
            f = grove_asprintf("%s/.config/git/%s", home, xdg_names[i]);
        else
            break;
        if (!f)
            return ENOMEM;
        rc = watch_file(c, k, f);
        free(f);
    }
    if (rc == 0)
        rc = watch_file(c, k, "/etc/gitconfig");
    git_error_clear();
    if (rc == 0 && git_repository_config_snapshot(&cfg, repo) == 0) {
        const char *keys[] = {"core.excludesfile", "core.attributesfile"};

        for (i = 0; rc == 0 && i < 2; i++) {
            git_error_clear();
            if (git_config_get_path(&buf, cfg, keys[i]) == 0 && buf.ptr && buf.ptr[0] == '/')
                rc = watch_file(c, k, buf.ptr);
            git_buf_dispose(&buf);
        }
        git_config_free(cfg);
    }
    git_error_clear();
    return rc;
}

/* The repository files the status and HEAD read: see the top of this file. */
/*
 * Watches what HEAD's commit depends on for entry k: the worktree's git folder
 * (for `gitdir_name`, any name when NULL), packed-refs and the file of the
 * branch HEAD names. *cn is the length of the common folder's path without its
 * trailing slash. 0, or an errno.
 */
static int watch_head(gitops_statcache *c, int k, git_repository *repo, const char *gitdir_name,
                      int *cn)
{
    const char *gitdir = git_repository_path(repo), *common = git_repository_commondir(repo);
    git_reference *head = NULL;
    char *f = NULL; /* owned, each path in turn */
    int gn, rc;

    if (!gitdir || !common)
        return EINVAL;
    /* libgit2 gives both with a trailing slash */
    gn = (int)strlen(gitdir);
    gn -= gn > 1 && gitdir[gn - 1] == '/';
    *cn = (int)strlen(common);
    *cn -= *cn > 1 && common[*cn - 1] == '/';
    if (!(f = grove_asprintf("%.*s", gn, gitdir)))
        return ENOMEM;
    rc = watch_add(c, k, f, gitdir_name);
    free(f);
    if (rc == 0 && (f = grove_asprintf("%.*s/packed-refs", *cn, common)) == NULL)
        rc = ENOMEM;
    if (rc == 0) {
        rc = watch_file(c, k, f);
        free(f);
    }
    git_error_clear();
    if (rc == 0 && git_reference_lookup(&head, repo, "HEAD") == 0 &&
        git_reference_type(head) == GIT_REFERENCE_SYMBOLIC) {
        const char *target = git_reference_symbolic_target(head); /* refs/heads/... */

        if (target && (f = grove_asprintf("%.*s/%s", *cn, common, target))) {
            rc = watch_file(c, k, f);
            free(f);
        } else {
            rc = ENOMEM;
        }
    }
    git_reference_free(head);
    git_error_clear();
    return rc;
}

static int watch_git_files(gitops_statcache *c, int k, git_repository *repo)
{
    const char *common = git_repository_commondir(repo);
    const char *common_names[] = {"config", "config.worktree", "info"};
    char *f = NULL; /* owned, each path in turn */
    size_t i;
    int cn = 0, rc;

    /* HEAD, index, config.worktree of a linked worktree: any name in its git folder */
    rc = watch_head(c, k, repo, NULL, &cn);
    for (i = 0; rc == 0 && i < sizeof(common_names) / sizeof(*common_names); i++) {
        if (!(f = grove_asprintf("%.*s/%s", cn, common, common_names[i])))
            return ENOMEM;
        rc = watch_file(c, k, f);
        if (rc == 0 && strcmp(common_names[i], "info") == 0) {
            rc = watch_add(c, k, f, NULL); /* info/exclude, info/attributes */
            if (rc == ENOENT || rc == ENOTDIR)
                rc = 0; /* none: its creation is seen in the common folder */
        }
        free(f);
    }
    return rc;
}

/*
 * Watches everything entry k's answer depends on, replacing its watches. 0, or
 * an errno (then entry k has no watches).
 */
static int watches_rebuild(gitops_statcache *c, int k, const char *path)
{
    git_repository *repo = NULL;
    char dir[PATH_MAX];
    size_t ndirs = 0, len = strlen(path), i, n;
    int *old = NULL; /* owned: the kernel watches entry k had */
    size_t nold = 0;
    int rc;

    if (!(old = malloc((c->nw + 1) * sizeof(*old))))
        return ENOMEM;
    for (i = 0; i < c->nw; i++)
        if (c->w[i].entry == k)
            old[nold++] = c->w[i].wd;
    /* Forget the records, keep the kernel's watches (re-adding returns the same wd). */
    for (i = 0, n = 0; i < c->nw; i++) {
        if (c->w[i].entry == k)
            free(c->w[i].name);
        else
            c->w[n++] = c->w[i];
    }
    c->nw = n;
    rc = len < sizeof(dir) ? 0 : ENAMETOOLONG;
    if (rc == 0) {
        memcpy(dir, path, len + 1);
        rc = watch_tree(c, k, dir, len, &ndirs);
    }
    git_error_clear();
    if (rc == 0 && git_repository_open_ext(&repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0)
        rc = ENOENT;
    if (rc == 0)
        rc = watch_git_files(c, k, repo);
    if (rc == 0)
        rc = watch_user_files(c, k, repo);
    git_repository_free(repo);
    if (rc != 0)
        watches_drop(c, k);
    /* Kernel watches no record uses any more (a folder moved out of the worktree) go. */
    for (i = 0; i < nold; i++)
        if (!wd_used(c, old[i], -1))
            inotify_rm_watch(c->fd, old[i]);
    free(old);
    if (c->nw > 1)
        qsort(c->w, c->nw, sizeof(*c->w), cmp_wd);
    return rc;
}

static void drop_all(gitops_statcache *c)
{
    size_t i;

    for (i = 0; i < SC_ENTRIES + SC_HEADS; i++)
        c->e[i].valid = 0;
}

/* Reads every queued event and drops the answers they touch. */
static void drain(gitops_statcache *c)
{
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t got;

    for (;;) {
        char *p;

        got = read(c->fd, buf, sizeof(buf));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            if (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
                drop_all(c); /* cannot tell what changed */
            return;
        }
        for (p = buf; p < buf + got;) {
            const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
            sc_watch key = {.wd = ev->wd};
            sc_watch *w;

            p += sizeof(*ev) + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {
                drop_all(c);
                continue;
            }
            w = c->nw ? bsearch(&key, c->w, c->nw, sizeof(*c->w), cmp_wd) : NULL;
            if (!w)
                continue;
            while (w > c->w && w[-1].wd == ev->wd)
                w--;
            for (; w < c->w + c->nw && w->wd == ev->wd; w++)
                if (!w->name || !ev->len || (ev->mask & (IN_IGNORED | IN_DELETE_SELF)) ||
                    strcmp(w->name, ev->name) == 0)
                    c->e[w->entry].valid = 0;
        }
    }
}

static int state_copy(gitops_state *out, const gitops_state *in, grove_err *err)
{
    size_t i;

    memset(out, 0, sizeof(*out));
    memcpy(out->head, in->head, sizeof(out->head));
    out->ahead = in->ahead;
    out->behind = in->behind;
    if (!(out->dirty_files = calloc(in->ndirty + 1, sizeof(*out->dirty_files))))
        return grove_nomem(err);
    for (i = 0; i < in->ndirty; i++) {
        if (!(out->dirty_files[i] = strdup(in->dirty_files[i]))) {
            gitops_state_free(out);
            return grove_nomem(err);
        }
        out->ndirty++;
    }
    return 0;
}

static int same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* The slot for `path` among entries [from, to): its own, a free one or the least recently used
 * (emptied). */
static int entry_for(gitops_statcache *c, const char *path, int from, int to)
{
    int i, lru = from;

    for (i = from; i < to; i++)
        if (c->e[i].path && strcmp(c->e[i].path, path) == 0)
            return i;
    for (i = from; i < to; i++) {
        if (!c->e[i].path)
            return i;
        if (c->e[i].used < c->e[lru].used)
            lru = i;
    }
    watches_drop(c, lru);
    entry_clear(&c->e[lru]);
    return lru;
}

int gitops_worktree_state_cached(gitops_repo *r, const char *path, const char *base_commit,
                                 gitops_state *out, grove_err *err)
{
    gitops_statcache *c;
    sc_entry *e;
    int k, rc, wrc = -1;

    memset(out, 0, sizeof(*out));
    if (r && !r->statcache)
        r->statcache = statcache_new(); /* owned by r; NULL (no memory): no cache */
    c = r ? r->statcache : NULL;
    if (!c || c->fd < 0 || !path || !*path)
        return gitops_worktree_state(path, base_commit, out, err);
    drain(c);
    k = entry_for(c, path, 0, SC_ENTRIES);
    e = &c->e[k];
    e->used = ++c->tick;
    if (e->valid && same_str(e->base, base_commit)) {
        c->hits++;
        return state_copy(out, &e->state, err);
    }
    c->misses++;
    e->valid = 0;
    gitops_state_free(&e->state);
    if (!e->path && !(e->path = strdup(path)))
        return grove_nomem(err);
    if (!same_str(e->base, base_commit)) {
        free(e->base);
        e->base = NULL;
        if (base_commit && !(e->base = strdup(base_commit)))
            return grove_nomem(err);
    }
    if (e->refused > 0) {
        e->refused--;
    } else {
        /* Watch first, then read: a change during the reading leaves an event. */
        wrc = watches_rebuild(c, k, path);
        if (wrc != 0) {
            log_debug("worktree '%s': status not cached: %s", path,
                      wrc == E2BIG ? "too many folders" : strerror(wrc));
            e->refused = SC_BACKOFF;
        }
    }
    rc = gitops_worktree_state(path, base_commit, out, err);
    if (rc != 0) {
        watches_drop(c, k);
        entry_clear(e);
        return rc;
    }
    if (wrc == 0) {
        if (state_copy(&e->state, out, err) != 0) {
            gitops_state_free(out);
            return -1;
        }
        e->valid = 1;
    }
    return 0;
}

int statcache_head(gitops_repo *r, git_repository *wt, const char *path, int reopened, char sha[41],
                   grove_err *err)
{
    gitops_statcache *c;
    sc_entry *e;
    git_oid oid;
    int k, cn, wrc;

    if (r && !r->statcache)
        r->statcache = statcache_new(); /* owned by r; NULL (no memory): no cache */
    c = r ? r->statcache : NULL;
    if (!c || c->fd < 0) {
        if (worktree_head_oid(wt, path, &oid, err) != 0)
            return -1;
        git_oid_tostr(sha, 41, &oid);
        return 0;
    }
    drain(c);
    k = entry_for(c, path, SC_ENTRIES, SC_ENTRIES + SC_HEADS);
    e = &c->e[k];
    e->used = ++c->tick;
    if (e->valid && !reopened) {
        c->head_hits++;
        memcpy(sha, e->state.head, 41);
        return 0;
    }
    c->head_misses++;
    e->valid = 0;
    if (!e->path && !(e->path = strdup(path)))
        return grove_nomem(err);
    /* Watch first, then read: a change during the reading leaves an event. */
    watches_drop(c, k);
    wrc = watch_head(c, k, wt, "HEAD", &cn);
    if (c->nw > 1)
        qsort(c->w, c->nw, sizeof(*c->w), cmp_wd);
    if (worktree_head_oid(wt, path, &oid, err) != 0) {
        watches_drop(c, k);
        entry_clear(e);
        return -1;
    }
    git_oid_tostr(sha, 41, &oid);
    if (wrc == 0) {
        memcpy(e->state.head, sha, 41);
        e->valid = 1;
    } else {
        log_debug("worktree '%s': HEAD not cached: %s", path, strerror(wrc));
        watches_drop(c, k);
    }
    return 0;
}

void gitops_worktree_head_counts(const gitops_repo *r, size_t *hits, size_t *misses)
{
    const gitops_statcache *c = r ? r->statcache : NULL;

    *hits = c ? c->head_hits : 0;
    *misses = c ? c->head_misses : 0;
}

void gitops_worktree_state_counts(const gitops_repo *r, size_t *hits, size_t *misses)
{
    const gitops_statcache *c = r ? r->statcache : NULL;

    *hits = c ? c->hits : 0;
    *misses = c ? c->misses : 0;
}
