/*
 * fsync_shadow: an LD_PRELOAD shim for tests/stress/durability.py's power-cut
 * simulation. After every successful fsync() or fdatasync() of a file whose
 * name ends in ".db" or ".db-wal", it copies the whole file into the folder
 * GROVE_SHADOW_DIR (same base name, written to a temporary name and renamed),
 * holding an exclusive flock on GROVE_SHADOW_DIR/lock meanwhile. The shadow
 * folder is then what a disk that kept nothing but fsynced data would hold
 * after a power cut: the test copies it, under the same lock, at random
 * moments and opens the copy. (A pessimistic disk: a real one may keep some
 * unsynced writes too; SQLite must cope with both.)
 *
 * Test code only: not part of grove. Errors are reported on stderr and
 * abort the process (the test then fails).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

typedef int (*sync_fn)(int);

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void die(const char *what, const char *path)
{
    fprintf(stderr, "fsync_shadow: %s %s: %s\n", what, path, strerror(errno));
    abort();
}

/* Copies the file open as fd into dir/<base name of path> (whole file, from offset 0). */
static void shadow(int fd, const char *path, const char *dir)
{
    const char *base = strrchr(path, '/');
    char tmp[PATH_MAX], dst[PATH_MAX], lock[PATH_MAX], buf[1 << 16];
    int out, lk;
    off_t off = 0;
    ssize_t n;

    base = base ? base + 1 : path;
    snprintf(tmp, sizeof(tmp), "%s/.%s.%d.tmp", dir, base, (int)getpid());
    snprintf(dst, sizeof(dst), "%s/%s", dir, base);
    snprintf(lock, sizeof(lock), "%s/lock", dir);
    if ((lk = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
        die("open", lock);
    while (flock(lk, LOCK_EX) != 0)
        if (errno != EINTR)
            die("flock", lock);
    if ((out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
        die("open", tmp);
    while ((n = pread(fd, buf, sizeof(buf), off)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("pread", path);
        }
        if (write(out, buf, (size_t)n) != n)
            die("write", tmp);
        off += n;
    }
    if (close(out) != 0)
        die("close", tmp);
    if (rename(tmp, dst) != 0)
        die("rename", dst);
    close(lk); /* releases the lock */
}

static int after_sync(int fd, int rc)
{
    const char *dir = getenv("GROVE_SHADOW_DIR");
    char link[64], path[PATH_MAX];
    ssize_t n;
    int saved = errno;

    if (rc != 0 || !dir || !*dir)
        return rc;
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, path, sizeof(path) - 1);
    if (n > 0) {
        path[n] = '\0';
        if (ends_with(path, ".db") || ends_with(path, ".db-wal"))
            shadow(fd, path, dir);
    }
    errno = saved;
    return rc;
}

int fsync(int fd)
{
    static sync_fn real;

    if (!real)
        real = (sync_fn)dlsym(RTLD_NEXT, "fsync");
    return after_sync(fd, real(fd));
}

int fdatasync(int fd)
{
    static sync_fn real;

    if (!real)
        real = (sync_fn)dlsym(RTLD_NEXT, "fdatasync");
    return after_sync(fd, real(fd));
}
