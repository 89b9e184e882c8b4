/*
 * include: .worktreeinclude, the gitignored files of the main worktree that
 * a new worktree gets a copy of (gitops_copy_worktreeinclude()).
 */
#include "tools/git/git_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- .worktreeinclude -------------------------------------------------- */

#define INCLUDE_FILE     ".worktreeinclude"
#define INCLUDE_FILE_MAX (256 * 1024) /* bytes */
#define COPY_BUF         (128 * 1024)

/* One line of .worktreeinclude. */
typedef struct wti_pattern {
    char *glob;    /* without the leading '!' or '/' and the trailing '/' */
    int negate;    /* '!' */
    int dir_only;  /* trailing '/' */
    int from_root; /* leading '/' or a '/' inside: matched against the whole path */
} wti_pattern;

typedef struct wti_rules {
    wti_pattern *p;
    size_t n;
} wti_rules;

/* A top-level entry to copy, relative to the worktree root, no trailing '/'. */
typedef struct wti_cand {
    char *rel;
} wti_cand;

typedef struct wti_copy {
    const gitops_repo *r;
    const char *dest;
    const wti_rules *rules;
    git_index *index; /* of the main worktree: tracked paths are never copied */
    char *buf;        /* COPY_BUF bytes */
    char rel[PATH_MAX];
} wti_copy;

static void wti_rules_free(wti_rules *rules)
{
    size_t i;

    for (i = 0; i < rules->n; i++)
        free(rules->p[i].glob);
    free(rules->p);
    rules->p = NULL;
    rules->n = 0;
}

/*
 * 1 when `rel` is a relative path whose components are all non-empty and
 * neither "." nor "..", and that does not start with ".git".
 */
static int rel_path_safe(const char *rel)
{
    const char *p = rel;

    if (!rel || !*rel || rel[0] == '/' || strlen(rel) >= PATH_MAX)
        return 0;
    if (strncmp(rel, ".git", 4) == 0 && (rel[4] == '\0' || rel[4] == '/'))
        return 0;
    for (;;) {
        size_t len = strcspn(p, "/");

        if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            return 0;
        if (p[len] == '\0')
            return 1;
        p += len + 1;
    }
}

/* Parses one line (NUL-terminated, no '\n') into rules; blank lines and comments add nothing. */
static int wti_parse_line(wti_rules *rules, char *line, size_t lineno, grove_err *err)
{
    wti_pattern pat = {NULL, 0, 0, 0};
    size_t len = strlen(line);
    char *s = line;
    wti_pattern *grown;

    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
        s[--len] = '\0';
    if (len == 0 || s[0] == '#')
        return 0;
    if (s[0] == '!') {
        pat.negate = 1;
        s++;
    } else if (s[0] == '\\' && (s[1] == '#' || s[1] == '!')) {
        s++; /* "\#x", "\!x": a literal first character */
    }
    if (s[0] == '/') {
        pat.from_root = 1;
        s++;
    }
    len = strlen(s);
    if (len > 0 && s[len - 1] == '/') {
        pat.dir_only = 1;
        while (len > 0 && s[len - 1] == '/')
            s[--len] = '\0';
    }
    if (len == 0)
        return 0;
    if (strchr(s, '/'))
        pat.from_root = 1;
    if (pat.from_root && !rel_path_safe(s)) {
        log_warn("%s line %zu: pattern '%s' ignored: it leaves the worktree or names .git",
                 INCLUDE_FILE, lineno, s);
        return 0;
    }
    if (!(pat.glob = grove_strdup(s)))
        return grove_nomem(err);
    grown = realloc(rules->p, (rules->n + 1) * sizeof(*rules->p));
    if (!grown) {
        free(pat.glob);
        return grove_nomem(err);
    }
    rules->p = grown;
    rules->p[rules->n++] = pat;
    return 0;
}

/*
 * Reads <main worktree>/.worktreeinclude into rules. 1 when there is none,
 * 0 when read (possibly without any pattern), -1 on error.
 */
static int wti_rules_read(const gitops_repo *r, wti_rules *rules, grove_err *err)
{
    char *file = grove_asprintf("%s/%s", r->workdir, INCLUDE_FILE);
    char *text = NULL, *line, *next;
    struct stat st;
    size_t len = 0, lineno = 0;
    int fd = -1, rc = -1;

    rules->p = NULL;
    rules->n = 0;
    if (!file)
        return grove_nomem(err);
    fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        rc = 1;
        goto done;
    }
    if (fd < 0 && errno == ELOOP) {
        rc = grove_fail(err, GROVE_EINVAL, "'%s' is a symbolic link: not read", file);
        goto done;
    }
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = grove_fail(err, GROVE_EIO, "cannot read '%s': %s", file, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > INCLUDE_FILE_MAX) {
        rc = grove_fail(err, GROVE_EINVAL, "'%s' is not a regular file of at most %d bytes", file,
                        INCLUDE_FILE_MAX);
        goto done;
    }
    text = malloc((size_t)st.st_size + 1);
    if (!text) {
        rc = grove_nomem(err);
        goto done;
    }
    while (len < (size_t)st.st_size) {
        ssize_t n = read(fd, text + len, (size_t)st.st_size - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = grove_fail(err, GROVE_EIO, "cannot read '%s': %s", file, strerror(errno));
            goto done;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    text[len] = '\0';
    for (line = text; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (wti_parse_line(rules, line, ++lineno, err) != 0)
            goto done;
    }
    rc = 0;
done:
    if (rc < 0)
        wti_rules_free(rules);
    if (fd >= 0)
        close(fd);
    free(text);
    free(file);
    return rc;
}

/* What the last pattern matching `rel` itself says: 1 include, 0 exclude, -1 none matches. */
static int wti_decide_self(const wti_rules *rules, const char *rel, int is_dir)
{
    const char *slash = strrchr(rel, '/');
    const char *base = slash ? slash + 1 : rel;
    int decision = -1;
    size_t i;

    for (i = 0; i < rules->n; i++) {
        const wti_pattern *p = &rules->p[i];
        int miss;

        if (p->dir_only && !is_dir)
            continue;
        miss = p->from_root ? fnmatch(p->glob, rel, FNM_PATHNAME) : fnmatch(p->glob, base, 0);
        if (!miss)
            decision = p->negate ? 0 : 1;
    }
    return decision;
}

/*
 * 1 when `rel` is to be copied: the nearest of `rel` and its parent folders
 * that some pattern matches decides, by its last matching pattern (so
 * "secrets/" takes the folder with everything in it and a later
 * "!secrets/ca.pem" leaves that one file out).
 */
static int wti_included(const wti_rules *rules, const char *rel, int is_dir)
{
    char path[PATH_MAX];
    char *slash;

    snprintf(path, sizeof(path), "%s", rel);
    for (;;) {
        int d = wti_decide_self(rules, path, is_dir);

        if (d >= 0)
            return d;
        slash = strrchr(path, '/');
        if (!slash)
            return 0;
        *slash = '\0';
        is_dir = 1;
    }
}

/* 1 when `rel` is in the main worktree's index (any stage): tracked, never copied. */
static int wti_tracked(const wti_copy *c, const char *rel)
{
    size_t pos;

    return git_index_find(&pos, c->index, rel) == 0;
}

static int wti_copy_node(wti_copy *c, int sfd, int dfd, const char *name, int top, grove_err *err);

/* Copies regular file `name` (its mode and times too); 1 copied, 0 skipped, -1 error. */
static int wti_copy_file(wti_copy *c, int sfd, int dfd, const char *name, const struct stat *st,
                         grove_err *err)
{
    struct timespec times[2];
    off_t total = 0;
    int in = -1, out = -1, rc = -1, use_cfr = 1;

    in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0) {
        if (errno == ENOENT || errno == ELOOP)
            return 0; /* vanished or replaced meanwhile */
        return grove_fail(err, GROVE_EIO, "cannot read '%s/%s': %s", c->r->workdir, c->rel,
                          strerror(errno));
    }
    out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0) {
        int e = errno;

        close(in);
        if (e != EEXIST)
            return grove_fail(err, GROVE_EIO, "cannot create '%s/%s': %s", c->dest, c->rel,
                              strerror(e));
        log_warn("not copying '%s': it already exists in '%s'", c->rel, c->dest);
        return 0;
    }
    for (;;) {
        ssize_t n;

        if (use_cfr) {
            n = copy_file_range(in, NULL, out, NULL, COPY_BUF, 0);
            if (n < 0 && errno != EINTR) {
                if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
                    goto io_error;
                use_cfr = 0; /* not here: plain reads and writes from where it stopped */
                continue;
            }
            if (n == 0 && total < st->st_size) {
                use_cfr = 0; /* some file systems report 0 early (procfs, some FUSE) */
                continue;
            }
        } else {
            n = read(in, c->buf, COPY_BUF);
            if (n > 0) {
                ssize_t off = 0;

                while (off < n) {
                    ssize_t w = write(out, c->buf + off, (size_t)(n - off));

                    if (w < 0 && errno == EINTR)
                        continue;
                    if (w < 0)
                        goto io_error;
                    off += w;
                }
            } else if (n < 0 && errno != EINTR) {
                goto io_error;
            }
        }
        if (n == 0)
            break;
        if (n > 0)
            total += n;
    }
    times[0] = st->st_atim;
    times[1] = st->st_mtim;
    if (fchmod(out, st->st_mode & 0777) != 0 || futimens(out, times) != 0)
        goto io_error;
    if (close(out) != 0) {
        out = -1;
        goto io_error;
    }
    close(in);
    return 1;
io_error:
    rc = grove_fail(err, GROVE_EIO, "cannot copy '%s' to '%s': %s", c->rel, c->dest,
                    strerror(errno));
    if (out >= 0)
        close(out);
    close(in);
    (void)unlinkat(dfd, name, 0);
    return rc;
}

static int wti_copy_symlink(wti_copy *c, int sfd, int dfd, const char *name, grove_err *err)
{
    char target[PATH_MAX];
    ssize_t n = readlinkat(sfd, name, target, sizeof(target));

    if (n < 0 && errno == ENOENT)
        return 0;
    if (n < 0)
        return grove_fail(err, GROVE_EIO, "cannot read link '%s/%s': %s", c->r->workdir, c->rel,
                          strerror(errno));
    if ((size_t)n >= sizeof(target)) {
        log_warn("not copying link '%s': its target is too long", c->rel);
        return 0;
    }
    target[n] = '\0';
    if (symlinkat(target, dfd, name) == 0)
        return 1;
    if (errno == EEXIST) {
        log_warn("not copying '%s': it already exists in '%s'", c->rel, c->dest);
        return 0;
    }
    return grove_fail(err, GROVE_EIO, "cannot create link '%s/%s': %s", c->dest, c->rel,
                      strerror(errno));
}

/* Copies folder `name` and what it holds (an existing folder in dest is filled, not replaced). */
static int wti_copy_dir(wti_copy *c, int sfd, int dfd, const char *name, const struct stat *st,
                        grove_err *err)
{
    DIR *dir = NULL;
    struct dirent *de;
    size_t rel_len = strlen(c->rel);
    int s2 = -1, d2 = -1, created, any = 0, rc = -1;

    s2 = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (s2 < 0) {
        if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR)
            return 0;
        return grove_fail(err, GROVE_EIO, "cannot read folder '%s/%s': %s", c->r->workdir, c->rel,
                          strerror(errno));
    }
    created = mkdirat(dfd, name, 0700) == 0;
    if (!created && errno != EEXIST) {
        rc = grove_fail(err, GROVE_EIO, "cannot create folder '%s/%s': %s", c->dest, c->rel,
                        strerror(errno));
        goto done;
    }
    d2 = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (d2 < 0) {
        if (errno == ELOOP || errno == ENOTDIR) {
            log_warn("not copying '%s': it exists in '%s' and is not a folder", c->rel, c->dest);
            rc = 0;
        } else {
            rc = grove_fail(err, GROVE_EIO, "cannot open folder '%s/%s': %s", c->dest, c->rel,
                            strerror(errno));
        }
        goto done;
    }
    dir = fdopendir(s2);
    if (!dir) {
        rc = grove_fail(err, GROVE_EIO, "cannot read folder '%s/%s': %s", c->r->workdir, c->rel,
                        strerror(errno));
        goto done;
    }
    s2 = -1; /* owned by dir now */
    for (;;) {
        int crc;

        errno = 0;
        de = readdir(dir);
        if (!de) {
            if (errno != 0) {
                rc = grove_fail(err, GROVE_EIO, "cannot read folder '%s/%s': %s", c->r->workdir,
                                c->rel, strerror(errno));
                goto done;
            }
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (rel_len + 1 + strlen(de->d_name) >= sizeof(c->rel)) {
            log_warn("not copying '%s/%s': path too long", c->rel, de->d_name);
            continue;
        }
        c->rel[rel_len] = '/';
        strcpy(c->rel + rel_len + 1, de->d_name);
        crc = wti_copy_node(c, dirfd(dir), d2, de->d_name, 0, err);
        c->rel[rel_len] = '\0';
        if (crc < 0)
            goto done;
        any |= crc;
    }
    if (created && fchmod(d2, st->st_mode & 0777) != 0) {
        rc = grove_fail(err, GROVE_EIO, "cannot set the mode of '%s/%s': %s", c->dest, c->rel,
                        strerror(errno));
        goto done;
    }
    rc = created || any;
done:
    if (dir)
        closedir(dir);
    if (s2 >= 0)
        close(s2);
    if (d2 >= 0)
        close(d2);
    return rc;
}

/*
 * Copies entry `name` of source folder `sfd` (c->rel is its path) into dest
 * folder `dfd`. Below a top-level entry, the patterns decide again (a
 * negation may leave something out) and tracked paths are skipped.
 * 1 when something was copied, 0 when nothing was, -1 on error.
 */
static int wti_copy_node(wti_copy *c, int sfd, int dfd, const char *name, int top, grove_err *err)
{
    struct stat st;

    if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT)
            return 0;
        return grove_fail(err, GROVE_EIO, "cannot read '%s/%s': %s", c->r->workdir, c->rel,
                          strerror(errno));
    }
    if (wti_tracked(c, c->rel))
        return 0;
    if (!top && !wti_included(c->rules, c->rel, S_ISDIR(st.st_mode)))
        return 0;
    if (S_ISREG(st.st_mode))
        return wti_copy_file(c, sfd, dfd, name, &st, err);
    if (S_ISLNK(st.st_mode))
        return wti_copy_symlink(c, sfd, dfd, name, err);
    if (S_ISDIR(st.st_mode))
        return wti_copy_dir(c, sfd, dfd, name, &st, err);
    log_warn("not copying '%s': not a file, folder or symbolic link", c->rel);
    return 0;
}

/*
 * Copies top-level candidate `rel`: opens its parent folders on both sides
 * without following a symbolic link anywhere (creating missing ones in dest
 * with the source's mode plus owner rwx), then copies the entry.
 */
static int wti_copy_top(wti_copy *c, int src_root, int dst_root, const char *rel, grove_err *err)
{
    char parts[PATH_MAX];
    char *comp, *slash;
    int sfd, dfd, rc = -1;

    snprintf(parts, sizeof(parts), "%s", rel);
    snprintf(c->rel, sizeof(c->rel), "%s", rel);
    sfd = dup(src_root);
    dfd = dup(dst_root);
    if (sfd < 0 || dfd < 0) {
        rc = grove_fail(err, GROVE_EIO, "cannot open folders: %s", strerror(errno));
        goto done;
    }
    for (comp = parts; (slash = strchr(comp, '/')) != NULL; comp = slash + 1) {
        struct stat st;
        int ns, nd;

        *slash = '\0';
        ns = openat(sfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (ns < 0) {
            int e = errno;

            if (e == ELOOP || e == ENOTDIR) /* a link: never followed */
                log_warn("not copying '%s': '%s' in '%s' is not a folder", rel, comp,
                         c->r->workdir);
            if (e == ENOENT || e == ELOOP || e == ENOTDIR) {
                rc = 0;
                goto done;
            }
            rc = grove_fail(err, GROVE_EIO, "cannot open folder of '%s/%s': %s", c->r->workdir, rel,
                            strerror(e));
            goto done;
        }
        close(sfd);
        sfd = ns;
        if (fstat(sfd, &st) != 0) {
            rc = grove_fail(err, GROVE_EIO, "cannot read folder of '%s/%s': %s", c->r->workdir, rel,
                            strerror(errno));
            goto done;
        }
        if (mkdirat(dfd, comp, (st.st_mode & 0777) | S_IRWXU) != 0 && errno != EEXIST) {
            rc = grove_fail(err, GROVE_EIO, "cannot create folder for '%s/%s': %s", c->dest, rel,
                            strerror(errno));
            goto done;
        }
        nd = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (nd < 0) {
            if (errno == ELOOP || errno == ENOTDIR) {
                log_warn("not copying '%s': '%s' in '%s' is not a folder", rel, comp, c->dest);
                rc = 0;
                goto done;
            }
            rc = grove_fail(err, GROVE_EIO, "cannot open folder for '%s/%s': %s", c->dest, rel,
                            strerror(errno));
            goto done;
        }
        close(dfd);
        dfd = nd;
    }
    rc = wti_copy_node(c, sfd, dfd, comp, 1, err);
done:
    if (sfd >= 0)
        close(sfd);
    if (dfd >= 0)
        close(dfd);
    return rc;
}

static int wti_cand_add(wti_cand **cands, size_t *n, const char *rel, grove_err *err)
{
    wti_cand *grown = realloc(*cands, (*n + 1) * sizeof(**cands));

    if (!grown)
        return grove_nomem(err);
    *cands = grown;
    if (!(grown[*n].rel = grove_strdup(rel)))
        return grove_nomem(err);
    (*n)++;
    return 0;
}

/* 1 when `a` is `b` or a folder above it. */
static int path_covers(const char *a, const char *b)
{
    size_t n = strlen(a);

    return strncmp(a, b, n) == 0 && (b[n] == '\0' || b[n] == '/');
}

/*
 * Top-level candidates: the ignored entries of the main worktree that the
 * rules include (ignored folders come whole, as "dir/", untracked folders
 * are looked into), then the literal paths of patterns with a '/' that
 * exist and are ignored (inside an ignored folder the status does not
 * enter). A candidate inside another one is dropped.
 */
static int wti_candidates(wti_copy *c, wti_cand **cands, size_t *n, grove_err *err)
{
    git_status_options opts;
    git_status_list *list = NULL;
    size_t i, j, count;
    int rc = -1;

    *cands = NULL;
    *n = 0;
    git_error_clear();
    if (git_status_options_init(&opts, GIT_STATUS_OPTIONS_VERSION) < 0)
        return fail_git(err, GROVE_EGIT, "cannot set up status options");
    opts.show = GIT_STATUS_SHOW_WORKDIR_ONLY;
    opts.flags = GIT_STATUS_OPT_INCLUDE_IGNORED | GIT_STATUS_OPT_INCLUDE_UNTRACKED |
                 GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS | GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
    git_error_clear();
    if (git_status_list_new(&list, c->r->repo, &opts) < 0)
        return fail_git(err, GROVE_EGIT, "cannot read the status of '%s'", c->r->workdir);
    count = git_status_list_entrycount(list);
    for (i = 0; i < count; i++) {
        const git_status_entry *e = git_status_byindex(list, i);
        const git_diff_delta *d = e ? e->index_to_workdir : NULL;
        const char *p = d ? (d->new_file.path ? d->new_file.path : d->old_file.path) : NULL;
        char rel[PATH_MAX];
        size_t len;
        int is_dir = 0;

        if (!p || !(e->status & GIT_STATUS_IGNORED))
            continue;
        snprintf(rel, sizeof(rel), "%s", p);
        len = strlen(rel);
        while (len > 0 && rel[len - 1] == '/') {
            rel[--len] = '\0';
            is_dir = 1;
        }
        if (rel_path_safe(rel) && wti_included(c->rules, rel, is_dir) == 1 &&
            wti_cand_add(cands, n, rel, err) != 0)
            goto done;
    }
    for (i = 0; i < c->rules->n; i++) {
        const wti_pattern *pat = &c->rules->p[i];
        char path[PATH_MAX * 2];
        struct stat st;
        int ignored = 0;

        if (pat->negate || !pat->from_root || strpbrk(pat->glob, "*?[\\"))
            continue;
        for (j = 0; j < *n && !path_covers((*cands)[j].rel, pat->glob); j++)
            ;
        if (j < *n)
            continue;
        snprintf(path, sizeof(path), "%s/%s", c->r->workdir, pat->glob);
        if (lstat(path, &st) != 0 || (pat->dir_only && !S_ISDIR(st.st_mode)))
            continue;
        git_error_clear();
        if (git_ignore_path_is_ignored(&ignored, c->r->repo, pat->glob) < 0) {
            rc = fail_git(err, GROVE_EGIT, "cannot check whether '%s' is ignored", pat->glob);
            goto done;
        }
        if (ignored && wti_included(c->rules, pat->glob, S_ISDIR(st.st_mode)) == 1 &&
            wti_cand_add(cands, n, pat->glob, err) != 0)
            goto done;
    }
    /* Drop candidates inside (or equal to) an earlier or enclosing one. */
    for (i = 0; i < *n; i++) {
        for (j = 0; j < *n; j++) {
            if (j == i || !(*cands)[j].rel)
                continue;
            if (path_covers((*cands)[j].rel, (*cands)[i].rel) &&
                (strcmp((*cands)[j].rel, (*cands)[i].rel) != 0 || j < i)) {
                free((*cands)[i].rel);
                (*cands)[i].rel = NULL;
                break;
            }
        }
    }
    rc = 0;
done:
    git_status_list_free(list);
    return rc;
}

int gitops_copy_worktreeinclude(gitops_repo *r, const char *dest, size_t *copied, grove_err *err)
{
    wti_rules rules = {NULL, 0};
    wti_copy c;
    wti_cand *cands = NULL;
    size_t n = 0, i, done_count = 0;
    char *dest_real = NULL;
    int src_root = -1, dst_root = -1, rc = -1, rrc;

    if (copied)
        *copied = 0;
    memset(&c, 0, sizeof(c));
    if (!abs_path_valid(dest))
        return grove_fail(err, GROVE_EINVAL,
                          "destination '%s' must be absolute, without '.' or '..'",
                          dest ? dest : "");
    rrc = wti_rules_read(r, &rules, err);
    if (rrc != 0)
        return rrc > 0 ? 0 : -1;
    dst_root = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dst_root < 0) {
        rc = grove_fail(err, errno == ENOENT ? GROVE_ENOTFOUND : GROVE_EIO,
                        "cannot open destination '%s': %s", dest, strerror(errno));
        goto done;
    }
    dest_real = real_path(dest);
    if (dest_real && strcmp(dest_real, r->workdir) == 0) {
        rc = grove_fail(err, GROVE_EINVAL, "destination '%s' is the main worktree itself", dest);
        goto done;
    }
    src_root = open(r->workdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (src_root < 0) {
        rc = grove_fail(err, GROVE_EIO, "cannot open '%s': %s", r->workdir, strerror(errno));
        goto done;
    }
    c.r = r;
    c.dest = dest;
    c.rules = &rules;
    c.buf = malloc(COPY_BUF);
    if (!c.buf) {
        rc = grove_nomem(err);
        goto done;
    }
    git_error_clear();
    if (git_repository_index(&c.index, r->repo) < 0 || git_index_read(c.index, 0) < 0) {
        rc = fail_git(err, GROVE_EGIT, "cannot read the index of '%s'", r->workdir);
        goto done;
    }
    if (rules.n > 0 && wti_candidates(&c, &cands, &n, err) != 0)
        goto done;
    for (i = 0; i < n; i++) {
        int crc;

        if (!cands[i].rel)
            continue;
        crc = wti_copy_top(&c, src_root, dst_root, cands[i].rel, err);
        if (crc < 0)
            goto done;
        if (crc > 0) {
            done_count++;
            log_debug("copied '%s' into '%s' (%s)", cands[i].rel, dest, INCLUDE_FILE);
        }
    }
    rc = 0;
done:
    if (copied)
        *copied = done_count;
    for (i = 0; i < n; i++)
        free(cands[i].rel);
    free(cands);
    git_index_free(c.index);
    free(c.buf);
    free(dest_real);
    if (src_root >= 0)
        close(src_root);
    if (dst_root >= 0)
        close(dst_root);
    wti_rules_free(&rules);
    return rc;
}
