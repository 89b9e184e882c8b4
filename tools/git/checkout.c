/*
 * checkout: writes the files of a new worktree from several threads.
 *
 * libgit2 1.5.1 checks out on one thread; git's CLI writes files from
 * `checkout.workers` processes. Here the tree is walked once on the calling
 * thread (names checked, folders made), then N threads, each with its own
 * git_repository handle (libgit2 objects are not shared between threads),
 * take files in index order from a shared counter, read and filter each
 * blob (attributes of the commit being checked out, so the result does not
 * depend on which .gitattributes was written first) and write it with
 * O_EXCL | O_NOFOLLOW, each run of files of one folder through that
 * folder's descriptor. The index gets the stat data of every file, so that
 * `git status` needs to read none of them; the calling thread adds each run
 * to it, in order, as soon as the run is written, between runs of its own,
 * and writes it once at the end.
 *
 * When the main checkout has HEAD at the commit being checked out and no
 * filter can apply, a file whose copy there is provably the blob (its index
 * entry has the blob and mode, is not racily clean, and the file still has
 * the entry's stat data, checked on the opened descriptor before and after)
 * is cloned from it with FICLONE where the file system can (xfs with
 * reflink, btrfs): its extents are shared, nothing is inflated or written.
 * Elsewhere the first refused clone turns cloning off for the job.
 *
 * A tree with a name that is not plainly harmless on this system (".git" in
 * any spelling, NTFS 8.3 or stream forms, ':' or '\') is left to libgit2's
 * own checkout, which refuses or handles it with its full rules.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <git2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/git/git.h"

#define MAX_WORKERS       8
#define DEFAULT_THRESHOLD 100 /* git's checkout.thresholdForParallelism */
#define CHUNK_MAX         64  /* files a thread takes at once, at most */

typedef struct co_file {
    char *path; /* relative, '/'-separated; owned */
    git_oid id;
    git_filemode_t mode; /* GIT_FILEMODE_COMMIT: a submodule folder, made before the files */
    int done;            /* written ahead of the others (.gitattributes) */
    struct stat st;      /* filled by the writer */
    int clone;           /* the main checkout's copy may be cloned if its stat is still `src` */
    git_index_entry src; /* its stat data in the main checkout's index (path not set) */
} co_file;

typedef struct co_job {
    const char *root; /* worktree folder; borrowed */
    git_oid commit;
    int rootfd;
    int symlinks;       /* core.symlinks */
    int filters;        /* 0: no filter can apply to any file (see filters_possible()) */
    int has_attributes; /* the tree holds a .gitattributes */
    int srcfd;          /* the main checkout's folder when files may be cloned from it; else -1 */
    atomic_int cloning; /* 1 until a clone fails as unsupported (then no file tries again) */
    co_file *files;
    size_t nfiles, cap;
    char **dirs; /* folders in walk order (parents first); owned */
    size_t ndirs, dcap;
    int unusual;    /* a name we leave to libgit2 */
    size_t *chunks; /* start of each run of files in one folder; chunks[nchunks] == nfiles */
    size_t nchunks;
    atomic_size_t next;              /* the next chunk to take */
    _Atomic(unsigned char) *written; /* per run: 1 once its files have their stat data; owned */
    git_index *idx;                  /* the worktree's index, filled by the calling thread; owned */
    size_t indexed;                  /* runs in idx so far (calling thread only) */
    atomic_int failed;
    pthread_mutex_t mu;
    grove_err err; /* the first failure, under mu */
} co_job;

/* Records the first failure of any thread; the others stop at their next file. */
static void job_fail(co_job *j, grove_code code, const char *what, const char *path, int errnum)
{
    const git_error *ge = git_error_last();

    pthread_mutex_lock(&j->mu);
    if (!atomic_load(&j->failed)) {
        if (errnum)
            grove_fail(&j->err, code, "checkout of '%s': cannot %s '%s': %s", j->root, what, path,
                       strerror(errnum));
        else
            grove_fail(&j->err, code, "checkout of '%s': cannot %s '%s': %s", j->root, what, path,
                       ge && ge->message ? ge->message : "unknown libgit2 error");
        atomic_store(&j->failed, 1);
    }
    pthread_mutex_unlock(&j->mu);
}

/*
 * 1 when a tree entry name is harmless here: not "." or "..", no ".git" in
 * the spellings git and libgit2 treat as ".git" (any case, trailing dots or
 * spaces, "git~1"), no ':' or '\' (NTFS streams, separators elsewhere).
 */
static int name_plain(const char *name, int is_link)
{
    size_t len = strlen(name);

    if (len == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return 0;
    if (strpbrk(name, ":\\"))
        return 0;
    while (len > 0 && (name[len - 1] == '.' || name[len - 1] == ' '))
        len--;
    if (len == 4 && strncasecmp(name, ".git", 4) == 0)
        return 0;
    if (strncasecmp(name, "git~", 4) == 0)
        return 0;
    /* .gitmodules and friends must not be symlinks (CVE-2018-11235): libgit2 decides. */
    if (is_link && strncasecmp(name, ".git", 4) == 0)
        return 0;
    return 1;
}

static int dir_add(co_job *j, char *path)
{
    if (j->ndirs == j->dcap) {
        size_t cap = j->dcap ? j->dcap * 2 : 64;
        char **grown = realloc(j->dirs, cap * sizeof(*grown));

        if (!grown)
            return -1;
        j->dirs = grown;
        j->dcap = cap;
    }
    j->dirs[j->ndirs++] = path;
    return 0;
}

static int file_add(co_job *j, char *path, const git_oid *id, git_filemode_t mode)
{
    if (j->nfiles == j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 256;
        co_file *grown = realloc(j->files, cap * sizeof(*grown));

        if (!grown)
            return -1;
        j->files = grown;
        j->cap = cap;
    }
    memset(&j->files[j->nfiles], 0, sizeof(j->files[0]));
    j->files[j->nfiles].path = path;
    git_oid_cpy(&j->files[j->nfiles].id, id);
    j->files[j->nfiles].mode = mode;
    j->nfiles++;
    return 0;
}

/* git_tree_walk callback (pre-order, which is index order for full paths). */
static int walk_cb(const char *root, const git_tree_entry *entry, void *payload)
{
    co_job *j = payload;
    const char *name = git_tree_entry_name(entry);
    git_filemode_t mode = git_tree_entry_filemode(entry);
    char *path;

    if (!name_plain(name, mode == GIT_FILEMODE_LINK)) {
        j->unusual = 1;
        return GIT_EUSER;
    }
    path = grove_asprintf("%s%s", root, name);
    if (!path)
        return -1;
    switch (mode) {
    case GIT_FILEMODE_TREE:
        if (dir_add(j, path) != 0)
            break;
        return 0;
    case GIT_FILEMODE_COMMIT: /* a submodule: an empty folder, as git makes */
    case GIT_FILEMODE_BLOB:
    case GIT_FILEMODE_BLOB_EXECUTABLE:
    case GIT_FILEMODE_LINK:
        if (strcmp(name, ".gitattributes") == 0)
            j->has_attributes = 1;
        if (file_add(j, path, git_tree_entry_id(entry), mode) != 0)
            break;
        return 0;
    default:
        free(path);
        j->unusual = 1;
        return GIT_EUSER;
    }
    free(path);
    return -1;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* 1 when `st` is still the file whose stat data the main checkout's index recorded in `e`. */
static int stat_same(const struct stat *st, const git_index_entry *e)
{
    return S_ISREG(st->st_mode) && (uint32_t)st->st_dev == e->dev &&
           (uint32_t)st->st_ino == e->ino && st->st_size >= 0 &&
           (uint64_t)st->st_size == (uint64_t)e->file_size &&
           (int64_t)st->st_mtim.tv_sec == (int64_t)e->mtime.seconds &&
           (uint32_t)st->st_mtim.tv_nsec == e->mtime.nanoseconds &&
           (int64_t)st->st_ctim.tv_sec == (int64_t)e->ctime.seconds &&
           (uint32_t)st->st_ctim.tv_nsec == e->ctime.nanoseconds &&
           !!(st->st_mode & S_IXUSR) == (e->mode == GIT_FILEMODE_BLOB_EXECUTABLE);
}

/*
 * Makes f by cloning (FICLONE: shared extents, no data read or written) the
 * main checkout's copy, which clone_plan() found recorded clean with f's
 * blob and mode. The copy must still be that file: same device, inode, size,
 * mtime and ctime as its index entry, looked at on the opened descriptor
 * before the clone and again after it (a write in between changes mtime and
 * ctime, as the entry is not racily clean); and the blob must have the size
 * of the file (no filter changed it when it was written). The copy is opened
 * without a look first: O_NONBLOCK, so that a FIFO or device put there
 * cannot block us, O_NOFOLLOW, and nothing is done with it unless fstat
 * shows it is a regular file with the entry's stat data. `ddir` and `sdir`
 * are f's folder in the new worktree and in the main checkout, `name` its
 * name there. 0: cloned; 1: not cloned, nothing left behind, write f the
 * usual way; -1: failed.
 */
static int clone_one(co_job *j, git_odb *odb, int ddir, int sdir, const char *name, co_file *f)
{
    struct stat st;
    size_t size;
    git_object_t type;
    int src = -1, dst = -1, rc = 1;

    if (!odb || sdir < 0 || git_odb_read_header(&size, &type, odb, &f->id) < 0 ||
        type != GIT_OBJECT_BLOB || (uint64_t)size != (uint64_t)f->src.file_size) {
        git_error_clear();
        return 1;
    }
    src = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (src < 0 || fstat(src, &st) != 0 || !stat_same(&st, &f->src))
        goto done;
    dst = openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                 f->mode == GIT_FILEMODE_BLOB_EXECUTABLE ? 0777 : 0666);
    if (dst < 0) {
        job_fail(j, GROVE_EIO, "create", f->path, errno);
        rc = -1;
        goto done;
    }
    if (ioctl(dst, FICLONE, src) != 0) {
        if (errno == EOPNOTSUPP || errno == EXDEV || errno == EINVAL || errno == ENOTTY ||
            errno == ENOSYS || errno == EPERM)
            atomic_store(&j->cloning, 0); /* this file system (or pair) cannot: stop trying */
    } else if (fstat(src, &st) == 0 && stat_same(&st, &f->src) && fstat(dst, &f->st) == 0) {
        rc = 0;
    }
done:
    if (src >= 0)
        close(src);
    if (dst >= 0 && close(dst) != 0 && rc == 0) {
        job_fail(j, GROVE_EIO, "write", f->path, errno);
        rc = -1;
    }
    if (dst >= 0 && rc == 1 && unlinkat(ddir, name, 0) != 0) {
        job_fail(j, GROVE_EIO, "remove", f->path, errno);
        rc = -1;
    }
    return rc;
}

/*
 * Writes one file or link, named `name` in folder `ddir` of the worktree
 * (`sdir`: that folder in the main checkout, or -1); 0, or -1 with the job
 * failed.
 */
static int write_one(co_job *j, git_repository *repo, git_odb *odb, int ddir, int sdir,
                     const char *name, co_file *f)
{
    git_blob *blob = NULL;
    git_filter_list *fl = NULL;
    git_filter_options fo;
    git_buf buf = {0};
    const char *data;
    size_t len;
    int fd = -1, rc = -1;

    if (f->clone && atomic_load(&j->cloning)) {
        rc = clone_one(j, odb, ddir, sdir, name, f);
        if (rc <= 0)
            return rc;
        rc = -1;
    }
    if (git_blob_lookup(&blob, repo, &f->id) < 0) {
        job_fail(j, GROVE_EGIT, "read", f->path, 0);
        return -1;
    }
    data = git_blob_rawcontent(blob);
    len = (size_t)git_blob_rawsize(blob);
    if (f->mode == GIT_FILEMODE_LINK && j->symlinks) {
        char *target = strndup(data, len);

        if (!target) {
            job_fail(j, GROVE_ENOMEM, "link", f->path, ENOMEM);
            goto done;
        }
        if (symlinkat(target, ddir, name) != 0 ||
            fstatat(ddir, name, &f->st, AT_SYMLINK_NOFOLLOW) != 0) {
            job_fail(j, GROVE_EIO, "create link", f->path, errno);
            free(target);
            goto done;
        }
        free(target);
        rc = 0;
        goto done;
    }
    if (j->filters && f->mode != GIT_FILEMODE_LINK) {
        memset(&fo, 0, sizeof(fo));
        fo.version = GIT_FILTER_OPTIONS_VERSION;
        fo.flags = GIT_FILTER_ATTRIBUTES_FROM_COMMIT;
        git_oid_cpy(&fo.attr_commit_id, &j->commit);
        if (git_filter_list_load_ext(&fl, repo, blob, f->path, GIT_FILTER_TO_WORKTREE, &fo) < 0) {
            job_fail(j, GROVE_EGIT, "load the filters for", f->path, 0);
            goto done;
        }
        if (fl) {
            if (git_filter_list_apply_to_blob(&buf, fl, blob) < 0) {
                job_fail(j, GROVE_EGIT, "filter", f->path, 0);
                goto done;
            }
            data = buf.ptr;
            len = buf.size;
        }
    }
    fd = openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                f->mode == GIT_FILEMODE_BLOB_EXECUTABLE ? 0777 : 0666);
    if (fd < 0) {
        job_fail(j, GROVE_EIO, "create", f->path, errno);
        goto done;
    }
    if (write_all(fd, data, len) != 0 || fstat(fd, &f->st) != 0) {
        job_fail(j, GROVE_EIO, "write", f->path, errno);
        goto done;
    }
    rc = 0;
done:
    if (fd >= 0 && close(fd) != 0 && rc == 0) {
        job_fail(j, GROVE_EIO, "write", f->path, errno);
        rc = -1;
    }
    git_buf_dispose(&buf);
    git_filter_list_free(fl);
    git_blob_free(blob);
    return rc;
}

/*
 * Splits the files into runs of one folder each (CHUNK_MAX at most). Threads
 * take whole runs: two threads creating files in one folder at once contend
 * for its lock in the kernel, which here made file creation twice as slow.
 */
static int chunks_make(co_job *j)
{
    size_t i, start = 0, n = 0;

    j->chunks = malloc((j->nfiles + 1) * sizeof(*j->chunks));
    if (!j->chunks)
        return -1;
    for (i = 0; i < j->nfiles; i++) {
        const char *a = j->files[i].path, *b = i ? j->files[i - 1].path : NULL;
        const char *sa = strrchr(a, '/'), *sb = b ? strrchr(b, '/') : NULL;
        size_t la = sa ? (size_t)(sa - a) : 0, lb = sb ? (size_t)(sb - b) : 0;

        if (i == 0 || la != lb || strncmp(a, b, la) != 0 || i - start >= CHUNK_MAX) {
            j->chunks[n++] = i;
            start = i;
        }
    }
    j->chunks[n] = j->nfiles;
    j->nchunks = n;
    j->written = malloc((n ? n : 1) * sizeof(*j->written));
    if (!j->written)
        return -1;
    for (i = 0; i < n; i++)
        atomic_init(&j->written[i], 0);
    return 0;
}

/*
 * Adds to j->idx, in order, the runs whose files are all written, up to the
 * first that is not. The calling thread does this between its own runs, so
 * that the index is mostly built while the other threads still write files.
 * 0, or -1 with the job failed.
 */
static int index_runs(co_job *j)
{
    while (j->indexed < j->nchunks &&
           atomic_load_explicit(&j->written[j->indexed], memory_order_acquire)) {
        size_t i;

        for (i = j->chunks[j->indexed]; i < j->chunks[j->indexed + 1]; i++) {
            const co_file *f = &j->files[i];
            git_index_entry e;

            memset(&e, 0, sizeof(e));
            e.ctime.seconds = (int32_t)f->st.st_ctim.tv_sec;
            e.ctime.nanoseconds = (uint32_t)f->st.st_ctim.tv_nsec;
            e.mtime.seconds = (int32_t)f->st.st_mtim.tv_sec;
            e.mtime.nanoseconds = (uint32_t)f->st.st_mtim.tv_nsec;
            e.dev = (uint32_t)f->st.st_dev;
            e.ino = (uint32_t)f->st.st_ino;
            e.mode = f->mode;
            e.uid = (uint32_t)f->st.st_uid;
            e.gid = (uint32_t)f->st.st_gid;
            e.file_size = (uint32_t)f->st.st_size;
            git_oid_cpy(&e.id, &f->id);
            e.path = f->path; /* a submodule keeps a zero stat: git records none */
            if (git_index_add(j->idx, &e) < 0) {
                job_fail(j, GROVE_EGIT, "write the index of", j->root, 0);
                return -1;
            }
        }
        j->indexed++;
    }
    return 0;
}

/* Adds the runs not added yet (all are written now) and writes the index. */
static int index_write(co_job *j)
{
    if (index_runs(j) != 0)
        return -1;
    if (j->indexed != j->nchunks || git_index_write(j->idx) < 0) {
        job_fail(j, GROVE_EGIT, "write the index of", j->root, 0);
        return -1;
    }
    return 0;
}

/*
 * Opens the folder of the run of files starting at `first` in the worktree
 * (*ddir) and, when one of them may be cloned, in the main checkout (*sdir,
 * else -1): the files are then opened by their name alone, without walking
 * their path again for each. A top-level run uses the job's descriptors
 * (*owned 0). 0, or -1 with the job failed.
 */
static int run_dirs(co_job *j, const co_file *first, size_t n, int *ddir, int *sdir, int *owned)
{
    const char *slash = strrchr(first->path, '/');
    char *dir;
    size_t i;
    int clone = 0;

    for (i = 0; i < n && !clone; i++)
        clone = first[i].clone && !first[i].done;
    clone = clone && atomic_load(&j->cloning);
    *owned = slash != NULL;
    if (!slash) {
        *ddir = j->rootfd;
        *sdir = clone ? j->srcfd : -1;
        return 0;
    }
    dir = strndup(first->path, (size_t)(slash - first->path)); /* owned here */
    if (!dir) {
        job_fail(j, GROVE_ENOMEM, "open folder", first->path, ENOMEM);
        return -1;
    }
    *ddir = openat(j->rootfd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    *sdir = -1;
    if (*ddir < 0) {
        job_fail(j, GROVE_EIO, "open folder", dir, errno);
        free(dir);
        return -1;
    }
    if (clone) /* not there or not a folder now: no clone from it */
        *sdir = openat(j->srcfd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    free(dir);
    return 0;
}

/*
 * Takes runs of files from the shared counter until none is left or one
 * failed. The calling thread (`indexer`) adds the written runs to the index
 * as it goes.
 */
static void drain(co_job *j, git_repository *repo, int indexer)
{
    git_odb *odb = NULL;
    size_t c, i;

    if (j->srcfd >= 0 && git_repository_odb(&odb, repo) < 0) {
        git_error_clear();
        odb = NULL; /* no clones from this thread */
    }

    while (!atomic_load(&j->failed) && (c = atomic_fetch_add(&j->next, 1)) < j->nchunks) {
        int ddir, sdir, owned, rc = 0;

        if (run_dirs(j, &j->files[j->chunks[c]], j->chunks[c + 1] - j->chunks[c], &ddir, &sdir,
                     &owned) != 0)
            break;
        for (i = j->chunks[c]; i < j->chunks[c + 1] && rc == 0; i++) {
            co_file *f = &j->files[i];
            const char *slash = strrchr(f->path, '/');

            if (f->done || f->mode == GIT_FILEMODE_COMMIT)
                continue;
            rc = write_one(j, repo, odb, ddir, sdir, slash ? slash + 1 : f->path, f);
        }
        if (owned) {
            close(ddir);
            if (sdir >= 0)
                close(sdir);
        }
        if (rc != 0)
            break;
        atomic_store_explicit(&j->written[c], 1, memory_order_release);
        if (indexer && index_runs(j) != 0)
            break;
    }
    git_odb_free(odb);
}

static void *worker_main(void *arg)
{
    co_job *j = arg;
    git_repository *repo = NULL;

    if (git_repository_open(&repo, j->root) < 0) {
        job_fail(j, GROVE_EGIT, "open the repository of", j->root, 0);
        return NULL;
    }
    drain(j, repo, 0);
    git_repository_free(repo);
    return NULL;
}

/* Reads an integer from the repository config; `def` when unset. */
static int config_int(git_config *cfg, const char *key, int def)
{
    int32_t v;

    if (cfg && git_config_get_int32(&v, cfg, key) == 0)
        return v;
    git_error_clear();
    return def;
}

/*
 * checkout.workers as git reads it (< 1: one per core) when set; unset, two
 * per core: a thread spends most of its time blocked in the kernel creating
 * files, and on 2 cores 4 threads wrote a 4,000-file tree in 1.83 s against
 * 2.15 s for 2 (medians of 6 interleaved runs). At most MAX_WORKERS; one
 * below checkout.thresholdForParallelism files.
 */
static unsigned workers_for(git_config *cfg, size_t nfiles)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int w = config_int(cfg, "checkout.workers", INT_MIN);
    int threshold = config_int(cfg, "checkout.thresholdForParallelism", DEFAULT_THRESHOLD);

    if (cores < 1)
        cores = 1;
    if (w == INT_MIN)
        w = cores >= MAX_WORKERS ? MAX_WORKERS : 2 * (int)cores;
    else if (w < 1)
        w = cores >= MAX_WORKERS ? MAX_WORKERS : (int)cores;
    if (w > MAX_WORKERS)
        w = MAX_WORKERS;
    if (threshold < 0 || nfiles < (size_t)threshold)
        w = 1;
    if ((size_t)w > nfiles)
        w = nfiles > 0 ? (int)nfiles : 1;
    return (unsigned)w;
}

/* 1 when a file exists at dir/name for any dir of a libgit2 search path ("a:b"). */
static int in_search_path(int level, const char *name)
{
    git_buf paths = {0};
    const char *p, *end;
    int found = 0;

    if (git_libgit2_opts(GIT_OPT_GET_SEARCH_PATH, level, &paths) < 0) {
        git_error_clear();
        return 1; /* unknown: assume it may */
    }
    for (p = paths.ptr; p && *p && !found; p = *end ? end + 1 : end) {
        char *file;
        struct stat st;

        end = strchr(p, ':');
        if (!end)
            end = p + strlen(p);
        if (end == p)
            continue;
        file = grove_asprintf("%.*s/%s", (int)(end - p), p, name);
        found = !file || stat(file, &st) == 0;
        free(file);
    }
    git_buf_dispose(&paths);
    return found;
}

/* 1 when `path` exists, or when it cannot be told. */
static int may_exist(char *path)
{
    struct stat st;
    int r = !path || stat(path, &st) == 0 || errno != ENOENT;

    free(path);
    return r;
}

/* 1 for a top-level or nested .gitattributes, which is written before the rest. */
static int is_attributes(const char *path)
{
    const char *slash = strrchr(path, '/');

    return strcmp(slash ? slash + 1 : path, ".gitattributes") == 0;
}

/*
 * 1 when a .gitattributes of the tree may turn on a checkout filter: it
 * mentions, in any case, one of the attributes libgit2's filters read
 * (text, eol, crlf, ident, filter; working-tree-encoding too, to be safe).
 * A macro ("[attr]name ...") can only set what its definition names, and
 * the built-in "binary" only unsets text, so a file that never spells any
 * of these words sets none of them (the Linux tree's say "*.c diff=cpp").
 * One that cannot be read counts as mentioning them.
 */
static int attributes_may_filter(co_job *j, git_repository *repo)
{
    static const char *const words[] = {"text", "eol", "crlf", "ident", "filter", "encoding"};
    size_t i, k, n;

    for (i = 0; i < j->nfiles; i++) {
        const co_file *f = &j->files[i];
        git_blob *blob = NULL;
        char *low;
        const char *data;
        int hit = 0;

        if (f->mode == GIT_FILEMODE_COMMIT || !is_attributes(f->path))
            continue;
        if (f->mode == GIT_FILEMODE_LINK || git_blob_lookup(&blob, repo, &f->id) < 0) {
            git_error_clear();
            return 1;
        }
        data = git_blob_rawcontent(blob);
        n = (size_t)git_blob_rawsize(blob);
        low = malloc(n + 1); /* owned here */
        if (!low) {
            git_blob_free(blob);
            return 1;
        }
        for (k = 0; k < n; k++)
            low[k] = (char)((data[k] >= 'A' && data[k] <= 'Z') ? data[k] - 'A' + 'a' : data[k]);
        for (k = 0; k < sizeof(words) / sizeof(words[0]) && !hit; k++)
            hit = memmem(low, n, words[k], strlen(words[k])) != NULL;
        free(low);
        git_blob_free(blob);
        if (hit)
            return 1;
    }
    return 0;
}

/*
 * 0 only when no checkout filter can apply to any file: no .gitattributes
 * of the tree names a filter attribute (attributes_may_filter), no other
 * attributes file exists anywhere libgit2 reads one (the repository's
 * info/attributes, core.attributesFile or the global and XDG defaults, the
 * system gitattributes), and core.autocrlf is not true. No filter attribute
 * is then set for any path; libgit2's filters (crlf, ident) need one or
 * autocrlf to act. Loading the filters of a path costs some 35 system calls
 * (each parent's .gitattributes is looked for): a tree that needs none is
 * written without asking.
 */
static int filters_possible(co_job *j, git_repository *repo, git_config *cfg)
{
    git_buf attr_file = {0};
    int autocrlf = 0, rc;

    if (j->has_attributes && attributes_may_filter(j, repo))
        return 1;
    rc = git_config_get_bool(&autocrlf, cfg, "core.autocrlf");
    if (rc == 0 && autocrlf)
        return 1;
    if (rc < 0 && rc != GIT_ENOTFOUND) { /* "input" converts on commit only; else unsure */
        const char *v = NULL;
        int input = git_config_get_string(&v, cfg, "core.autocrlf") == 0 && v &&
                    strcasecmp(v, "input") == 0;

        if (!input)
            return 1;
    }
    git_error_clear();
    if (git_config_get_path(&attr_file, cfg, "core.attributesFile") == 0) {
        int r = may_exist(grove_strdup(attr_file.ptr));

        git_buf_dispose(&attr_file);
        if (r)
            return 1;
    }
    git_error_clear();
    return may_exist(grove_asprintf("%s/info/attributes", git_repository_path(repo))) ||
           may_exist(grove_asprintf("%s/info/attributes", git_repository_commondir(repo))) ||
           in_search_path(GIT_CONFIG_LEVEL_XDG, "attributes") ||
           in_search_path(GIT_CONFIG_LEVEL_GLOBAL, ".config/git/attributes") ||
           in_search_path(GIT_CONFIG_LEVEL_SYSTEM, "gitattributes");
}

/* 1 when the main checkout holds no .gitattributes at `dir` ("" for the top) but a clean tracked
 * one. */
static int attributes_clean(co_job *j, const char *dir)
{
    char *path = grove_asprintf("%s%s.gitattributes", dir, *dir ? "/" : "");
    struct stat st;
    size_t i;
    int ok = 0;

    if (!path)
        return 0;
    if (fstatat(j->srcfd, path, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        ok = errno == ENOENT;
    } else {
        for (i = 0; i < j->nfiles && !ok; i++)
            ok = strcmp(j->files[i].path, path) == 0 && j->files[i].clone &&
                 stat_same(&st, &j->files[i].src);
    }
    free(path);
    return ok;
}

/* 1 when index entry `e` of the main checkout may be cloned for `f` (see clone_plan()). */
static int entry_clonable(const co_file *f, const git_index_entry *e, const struct timespec *itime)
{
    if (!e || e->mode != f->mode || !git_oid_equal(&e->id, &f->id))
        return 0;
    if ((e->flags & GIT_INDEX_ENTRY_VALID) ||
        (e->flags_extended & (GIT_INDEX_ENTRY_SKIP_WORKTREE | GIT_INDEX_ENTRY_INTENT_TO_ADD)))
        return 0; /* assume-unchanged, not in the checkout, or not staged yet */
    /*
     * Racily clean as git reads it (built without USE_NSEC, as Debian's is):
     * modified in the second the index was written or later, a change made
     * after the stat data was taken may not show in it.
     */
    if ((int64_t)e->mtime.seconds >= (int64_t)itime->tv_sec)
        return 0;
    return e->file_size > 0 || e->mtime.seconds != 0; /* a zero entry: git smudged it */
}

/*
 * The main checkout's index, read on a thread of its own while the calling
 * thread walks the tree and makes the folders (reading 50,000 entries takes
 * some 40 ms). Filled only when the main checkout has a work tree and HEAD
 * at the commit being checked out, and the index was not rewritten while it
 * was read.
 */
typedef struct main_index {
    char *commondir; /* the repository's common folder; owned */
    git_oid commit;
    git_repository *main; /* the main checkout; owned, NULL when not usable */
    git_index *idx;       /* its index; owned, NULL when not usable */
    struct stat at;       /* the index file's stat data when read */
} main_index;

static void *main_index_read(void *arg)
{
    main_index *m = arg;
    git_oid head;
    char *ipath = NULL;
    struct stat before;

    if (!m->commondir ||
        git_repository_open_ext(&m->main, m->commondir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0)
        goto out;
    if (git_repository_is_bare(m->main) || !git_repository_workdir(m->main) ||
        git_reference_name_to_id(&head, m->main, "HEAD") < 0 || !git_oid_equal(&head, &m->commit))
        goto out;
    ipath = grove_asprintf("%sindex", git_repository_path(m->main));
    if (!ipath || stat(ipath, &before) != 0 || git_index_open(&m->idx, ipath) < 0 ||
        stat(ipath, &m->at) != 0 || before.st_ino != m->at.st_ino ||
        before.st_size != m->at.st_size || before.st_mtim.tv_sec != m->at.st_mtim.tv_sec ||
        before.st_mtim.tv_nsec != m->at.st_mtim.tv_nsec) {
        git_index_free(m->idx); /* rewritten while read: no clone */
        m->idx = NULL;
    }
out:
    git_error_clear();
    free(ipath);
    return NULL;
}

/*
 * When the main checkout has HEAD at the commit being checked out and no
 * filter can apply (j->filters is 0: the files are the blobs as they are),
 * marks each regular file whose entry in the main checkout's index (`m`,
 * see main_index_read()) has the same blob and mode and is not racily
 * clean; clone_one() then clones it if the file still has that entry's stat
 * data. Sets j->srcfd. Any doubt (a bare repository, an index being
 * rewritten, an untracked or changed .gitattributes in the main checkout)
 * means no clone at all.
 */
static void clone_plan(co_job *j, const main_index *m)
{
    size_t i, n = 0;

    if (j->filters || !m->idx)
        goto out;
    for (i = 0; i < j->nfiles; i++) {
        co_file *f = &j->files[i];
        const git_index_entry *e;

        if (f->mode != GIT_FILEMODE_BLOB && f->mode != GIT_FILEMODE_BLOB_EXECUTABLE)
            continue;
        e = git_index_get_bypath(m->idx, f->path, 0);
        if (!entry_clonable(f, e, &m->at.st_mtim))
            continue;
        f->src = *e;
        f->src.path = NULL;
        f->clone = 1;
        n++;
    }
    if (n == 0)
        goto out;
    j->srcfd = open(git_repository_workdir(m->main), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (j->srcfd < 0)
        goto out;
    /* The files were written with the attributes of the main checkout's folders. */
    n = attributes_clean(j, "");
    for (i = 0; i < j->ndirs && n; i++)
        n = attributes_clean(j, j->dirs[i]);
    if (!n) {
        close(j->srcfd);
        j->srcfd = -1;
    }
out:
    if (j->srcfd < 0)
        for (i = 0; i < j->nfiles; i++)
            j->files[i].clone = 0;
    atomic_store(&j->cloning, j->srcfd >= 0);
    git_error_clear();
}

static void job_free(co_job *j)
{
    size_t i;

    for (i = 0; i < j->nfiles; i++)
        free(j->files[i].path);
    for (i = 0; i < j->ndirs; i++)
        free(j->dirs[i]);
    free(j->files);
    free(j->dirs);
    free(j->chunks);
    free(j->written);
    git_index_free(j->idx);
    if (j->rootfd >= 0)
        close(j->rootfd);
    if (j->srcfd >= 0)
        close(j->srcfd);
    pthread_mutex_destroy(&j->mu);
}

/* libgit2's own checkout of the worktree's HEAD (no index on disk yet: a first checkout). */
static int checkout_libgit2(git_repository *repo, const char *root, grove_err *err)
{
    git_checkout_options opts;
    const git_error *ge;

    git_error_clear();
    if (git_checkout_options_init(&opts, GIT_CHECKOUT_OPTIONS_VERSION) == 0 &&
        git_checkout_head(repo, &opts) == 0)
        return 0;
    ge = git_error_last();
    return grove_fail(err, GROVE_EGIT, "checkout of '%s' failed: %s", root,
                      ge && ge->message ? ge->message : "unknown libgit2 error");
}

/* Makes the folders, parents first; the worktree folder holds only .git so far. */
static int dirs_make(co_job *j)
{
    size_t i;

    for (i = 0; i < j->ndirs; i++) {
        if (mkdirat(j->rootfd, j->dirs[i], 0777) != 0) {
            job_fail(j, GROVE_EIO, "create folder", j->dirs[i], errno);
            return -1;
        }
    }
    for (i = 0; i < j->nfiles; i++) {
        if (j->files[i].mode == GIT_FILEMODE_COMMIT &&
            mkdirat(j->rootfd, j->files[i].path, 0777) != 0) {
            job_fail(j, GROVE_EIO, "create folder", j->files[i].path, errno);
            return -1;
        }
    }
    return 0;
}

int gitops_checkout_new(const char *root, const char *sha, unsigned *workers_used, grove_err *err)
{
    co_job j;
    git_repository *repo = NULL;
    git_commit *commit = NULL;
    git_tree *tree = NULL;
    git_config *cfg = NULL;
    pthread_t tids[MAX_WORKERS], reader;
    main_index m;
    unsigned nthreads = 0, workers, t;
    size_t i;
    int rc = -1, sym = 1, reading = 0;

    memset(&j, 0, sizeof(j));
    memset(&m, 0, sizeof(m));
    j.root = root;
    j.rootfd = -1;
    j.srcfd = -1;
    atomic_init(&j.cloning, 0);
    atomic_init(&j.next, 0);
    atomic_init(&j.failed, 0);
    pthread_mutex_init(&j.mu, NULL);
    if (workers_used)
        *workers_used = 0;

    git_error_clear();
    if (git_repository_open(&repo, root) < 0) {
        job_fail(&j, GROVE_EGIT, "open the repository of", root, 0);
        goto done;
    }
    if (git_oid_fromstr(&j.commit, sha) < 0 || git_commit_lookup(&commit, repo, &j.commit) < 0 ||
        git_commit_tree(&tree, commit) < 0) {
        job_fail(&j, GROVE_EGIT, "read commit", sha, 0);
        goto done;
    }
    /* The main checkout's index is read meanwhile (see clone_plan()). */
    m.commondir = grove_strdup(git_repository_commondir(repo));
    git_oid_cpy(&m.commit, &j.commit);
    reading = pthread_create(&reader, NULL, main_index_read, &m) == 0;
    if (git_repository_config_snapshot(&cfg, repo) < 0) {
        job_fail(&j, GROVE_EGIT, "read the config of", root, 0);
        goto done;
    }
    if (git_config_get_bool(&sym, cfg, "core.symlinks") < 0)
        sym = 1;
    git_error_clear();
    j.symlinks = sym;

    if (git_tree_walk(tree, GIT_TREEWALK_PRE, walk_cb, &j) < 0) {
        if (j.unusual) {
            rc = checkout_libgit2(repo, root, err);
            goto out;
        }
        job_fail(&j, GROVE_EGIT, "read the tree of", sha, 0);
        goto done;
    }
    j.rootfd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (j.rootfd < 0) {
        job_fail(&j, GROVE_EIO, "open folder", root, errno);
        goto done;
    }
    if (dirs_make(&j) != 0)
        goto done;
    j.filters = filters_possible(&j, repo, cfg);
    if (reading)
        pthread_join(reader, NULL);
    else
        main_index_read(&m);
    reading = 0;
    clone_plan(&j, &m);
    if (chunks_make(&j) != 0) {
        job_fail(&j, GROVE_ENOMEM, "plan", root, ENOMEM);
        goto done;
    }
    /* Attribute files first: the filters of the others may read them from the folder. */
    for (i = 0; i < j.nfiles; i++) {
        if (j.files[i].mode != GIT_FILEMODE_COMMIT && is_attributes(j.files[i].path)) {
            if (write_one(&j, repo, NULL, j.rootfd, -1, j.files[i].path, &j.files[i]) != 0)
                goto done;
            j.files[i].done = 1;
        }
    }
    if (git_repository_index(&j.idx, repo) < 0 || git_index_clear(j.idx) < 0) {
        job_fail(&j, GROVE_EGIT, "write the index of", root, 0);
        goto done;
    }
    workers = workers_for(cfg, j.nfiles);
    for (t = 1; t < workers; t++) {
        if (pthread_create(&tids[nthreads], NULL, worker_main, &j) != 0)
            break; /* fewer threads: the rest is done by those running */
        nthreads++;
    }
    if (workers_used)
        *workers_used = nthreads + 1;
    drain(&j, repo, 1);
    for (t = 0; t < nthreads; t++)
        pthread_join(tids[t], NULL);
    if (atomic_load(&j.failed))
        goto done;
    if (index_write(&j) != 0)
        goto done;
    rc = 0;
done:
    if (rc != 0 && err)
        *err = j.err;
out:
    if (reading)
        pthread_join(reader, NULL);
    git_index_free(m.idx);
    git_repository_free(m.main);
    free(m.commondir);
    git_index_free(j.idx); /* before its repository */
    j.idx = NULL;
    git_config_free(cfg);
    git_tree_free(tree);
    git_commit_free(commit);
    git_repository_free(repo);
    job_free(&j);
    return rc;
}
