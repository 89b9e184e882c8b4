/*
 * test_clone: gitops_checkout_new() clones (FICLONE) the files of the main
 * checkout that are provably unchanged, on a file system that can: an xfs
 * image with reflink, loop-mounted. Needs root, mkfs.xfs and loop devices;
 * without them the test is skipped (exit 77, said on stderr).
 *
 * Every worktree is compared with git's own (`git worktree add`) of the
 * same commit: same files, modes, contents and index. Whether a file was
 * cloned is read from its extents (FIEMAP_EXTENT_SHARED), so the tests fail
 * if the clone path is off and also if a file that must be written is
 * cloned instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/unit.h"
#include "tools/git/git.h"

static char g_mnt[PATH_MAX]; /* the mounted xfs image; the tests' folders are made in it */

typedef struct fixture {
    char root[PATH_MAX]; /* <mnt>/t-XXXXXX, removed by the teardown */
    char repo[PATH_MAX]; /* <root>/repo: the main checkout */
    char sha[41];        /* its HEAD: the commit every test checks out */
} fixture;

/*
 * The files of the commit: a few folders of text, an executable, an empty
 * file, a link and 1 MB of random bytes; modified 10 s ago (c/racy.txt 5 s
 * ago) as far as their mtime says, so that no index entry is racily clean.
 */
static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    char *s;

    assert_non_null(fx);
    snprintf(fx->root, sizeof(fx->root), "%s/t-XXXXXX", g_mnt);
    assert_non_null(mkdtemp(fx->root));
    snprintf(fx->repo, sizeof(fx->repo), "%s/repo", fx->root);
    assert_int_equal(
        unit_sh("set -e; git init -q -b main '%s'; cd '%s';"
                "git config user.name Grove; git config user.email grove@example.invalid;"
                "mkdir -p a/b c; for i in $(seq 1 40); do printf 'file %%s\\n' $i > a/f$i.txt;"
                "printf 'deep %%s\\n' $i > a/b/d$i.txt; done;"
                "for n in same size staged link other; do printf '%%s: 0123456789\\n' $n > "
                "c/$n.txt; done;"
                "printf '#!/bin/sh\\necho hi\\n' > run.sh; chmod 755 run.sh; : > empty;"
                "ln -s a/f1.txt lnk; head -c 1048576 /dev/urandom > big.raw;"
                "printf 'racy: 0123456789\\n' > c/racy.txt; now=$(date +%%s);"
                "find . -path ./.git -prune -o -print0 | xargs -0 touch -h -d @$((now - 10));"
                "touch -d @$((now - 5)) c/racy.txt; git add -A; git commit -qm first",
                fx->repo, fx->repo),
        0);
    s = unit_sh_out("git -C '%s' rev-parse HEAD", fx->repo);
    assert_int_equal(strlen(s), 40);
    memcpy(fx->sha, s, 41);
    free(s);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;

    unit_rmrf(fx->root);
    free(fx);
    return 0;
}

/* 1 when a extent of the file is shared with another file (a clone), 0 if none, -1 on error. */
static int shared(const char *path)
{
    union {
        struct fiemap fm;
        char buf[sizeof(struct fiemap) + 32 * sizeof(struct fiemap_extent)];
    } u;
    unsigned i;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), r = 0;

    if (fd < 0)
        return -1;
    memset(&u, 0, sizeof(u));
    u.fm.fm_length = FIEMAP_MAX_OFFSET;
    u.fm.fm_flags = FIEMAP_FLAG_SYNC;
    u.fm.fm_extent_count = 32;
    if (ioctl(fd, FS_IOC_FIEMAP, &u.fm) != 0)
        r = -1;
    for (i = 0; r == 0 && i < u.fm.fm_mapped_extents; i++)
        r = (u.fm.fm_extents[i].fe_flags & FIEMAP_EXTENT_SHARED) != 0;
    close(fd);
    return r;
}

static int shared_at(const char *root, const char *rel)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    return shared(path);
}

/* grove's worktree `name` of fx->sha and git's (`name`-git); both paths out. */
static void checkout_both(fixture *fx, const char *name, char got[PATH_MAX], char want[PATH_MAX])
{
    grove_err err = GROVE_ERR_INIT;

    snprintf(got, PATH_MAX, "%s/%s", fx->root, name);
    snprintf(want, PATH_MAX, "%s/%s-git", fx->root, name);
    assert_int_equal(unit_sh("git -C '%s' worktree add -q --no-checkout --detach '%s' %s", fx->repo,
                             got, fx->sha),
                     0);
    if (gitops_checkout_new(got, fx->sha, NULL, &err) != 0)
        fail_msg("checkout: %s", err.msg);
    assert_int_equal(
        unit_sh("git -C '%s' worktree add -q --detach '%s' %s", fx->repo, want, fx->sha), 0);
    unit_expect_same_tree(got, want);
}

/* A clean main checkout at the commit: every non-empty regular file is a clone. */
static void test_clone_clean(void **state)
{
    fixture *fx = *state;
    char got[PATH_MAX], want[PATH_MAX], *list, *p, *nl;
    int n = 0;

    checkout_both(fx, "w", got, want);
    list = unit_sh_out("cd '%s' && find . -path ./.git -prune -o -type f -size +0 -printf '%%P\\n'",
                       got);
    for (p = list; *p; p = nl ? nl + 1 : p + strlen(p)) {
        nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        if (shared_at(got, p) != 1)
            fail_msg("'%s' was not cloned", p);
        assert_int_equal(shared_at(want, p), 0); /* git wrote its own */
        n++;
    }
    free(list);
    assert_int_equal(n, 88);
    assert_int_equal(shared_at(got, "empty"), 0);
    assert_int_equal(unit_sh("test -L '%s/lnk'", got), 0);
}

/* Files whose copy in the main checkout is not provably the blob are written, not cloned. */
static void test_clone_not_changed(void **state)
{
    fixture *fx = *state;
    char got[PATH_MAX], want[PATH_MAX], *s;
    static const char *const written[] = {"c/same.txt", "c/size.txt", "c/staged.txt", "c/link.txt",
                                          "c/racy.txt"};
    size_t i;

    assert_int_equal(
        unit_sh("set -e; cd '%s';"
                /* same size, mtime put back to the nanosecond: only ctime tells */
                "cp -p c/same.txt ../stamp; printf 'same: abcdefghij\\n' > c/same.txt;"
                "touch -r ../stamp c/same.txt;"
                "printf 'more\\n' >> c/size.txt;"
                "printf 'staged: 9876543210\\n' > c/staged.txt; touch -d @$(($(date +%%s) - 8)) "
                "c/staged.txt; git add c/staged.txt;" /* clean, but another blob */
                "rm c/link.txt; ln -s other.txt c/link.txt;"
                /* the index written in the second racy.txt was: racily clean */
                "touch -r c/racy.txt .git/index",
                fx->repo),
        0);
    checkout_both(fx, "w", got, want);
    for (i = 0; i < sizeof(written) / sizeof(written[0]); i++) {
        if (shared_at(got, written[i]) != 0)
            fail_msg("'%s' was cloned", written[i]);
        s = unit_sh_out("git -C '%s' cat-file -p %s:%s | cmp - '%s/%s' && echo same", fx->repo,
                        fx->sha, written[i], got, written[i]);
        assert_string_equal(s, "same");
        free(s);
    }
    assert_int_equal(unit_sh("test -f '%s/c/link.txt' && ! test -L '%s/c/link.txt'", got, got), 0);
    /* the others still are clones */
    assert_int_equal(shared_at(got, "a/b/d7.txt"), 1);
    assert_int_equal(shared_at(got, "big.raw"), 1);
    assert_int_equal(shared_at(got, "c/other.txt"), 1);
}

/*
 * A FIFO and a folder where the main checkout had files: the copy is opened
 * without a look first (O_NONBLOCK), so the FIFO must not block the
 * checkout (the test would hang), and neither is cloned: both get the blob.
 */
static void test_clone_not_a_file(void **state)
{
    fixture *fx = *state;
    char got[PATH_MAX], want[PATH_MAX], *s;
    static const char *const written[] = {"c/other.txt", "c/same.txt"};
    size_t i;

    assert_int_equal(unit_sh("set -e; cd '%s'; rm c/other.txt c/same.txt; mkfifo c/other.txt;"
                             "mkdir c/same.txt",
                             fx->repo),
                     0);
    checkout_both(fx, "w", got, want);
    for (i = 0; i < sizeof(written) / sizeof(written[0]); i++) {
        assert_int_equal(shared_at(got, written[i]), 0);
        s = unit_sh_out("git -C '%s' cat-file -p %s:%s | cmp - '%s/%s' && echo same", fx->repo,
                        fx->sha, written[i], got, written[i]);
        assert_string_equal(s, "same");
        free(s);
    }
    assert_int_equal(shared_at(got, "c/size.txt"), 1);
}

/* The main checkout at another commit: nothing is cloned, even files the two share. */
static void test_clone_other_commit(void **state)
{
    fixture *fx = *state;
    char got[PATH_MAX], want[PATH_MAX];

    assert_int_equal(unit_sh("set -e; cd '%s'; printf 'new\\n' > a/f2.txt;"
                             "git commit -qam second",
                             fx->repo),
                     0);
    checkout_both(fx, "w", got, want);
    assert_int_equal(shared_at(got, "a/f1.txt"), 0);
    assert_int_equal(shared_at(got, "big.raw"), 0);
    assert_int_equal(unit_sh("grep -qx 'file 2' '%s/a/f2.txt'", got), 0);
}

/* A .gitattributes in the main checkout that the commit lacks: its files may be filtered. */
static void test_clone_untracked_attributes(void **state)
{
    fixture *fx = *state;
    char got[PATH_MAX], want[PATH_MAX];

    assert_int_equal(unit_sh("printf '*.txt ident\\n' > '%s/a/b/.gitattributes'", fx->repo), 0);
    checkout_both(fx, "w", got, want);
    assert_int_equal(shared_at(got, "a/f1.txt"), 0);
    assert_int_equal(shared_at(got, "big.raw"), 0);
}

/* A file written with a filter that is off now (autocrlf then): clean to git, not the blob. */
static void test_clone_filtered_before(void **state)
{
    fixture *fx = *state;
    char got[PATH_MAX], want[PATH_MAX];

    assert_int_equal(unit_sh("set -e; cd '%s'; git config core.autocrlf true; rm a/f1.txt;"
                             "git checkout -- a/f1.txt; touch -d @$(($(date +%%s) - 8)) a/f1.txt;"
                             "git update-index --refresh; git config --unset core.autocrlf;"
                             "git diff-files --quiet; od -c a/f1.txt | grep -q '\\r'",
                             fx->repo),
                     0);
    checkout_both(fx, "w", got, want);
    assert_int_equal(shared_at(got, "a/f1.txt"), 0);
    assert_int_equal(shared_at(got, "a/f2.txt"), 1);
}

/* 0 when an xfs image with reflink is mounted at g_mnt (in a fresh folder under /tmp). */
static int mount_xfs(char dir[PATH_MAX])
{
    if (geteuid() != 0) {
        fprintf(stderr, "test_clone: skipped: not root (loop mounts need it)\n");
        return -1;
    }
    if (unit_sh("command -v mkfs.xfs >/dev/null 2>&1") != 0) {
        fprintf(stderr, "test_clone: skipped: no mkfs.xfs (apt-get install xfsprogs)\n");
        return -1;
    }
    snprintf(dir, PATH_MAX, "/tmp/grove-test-clone-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(g_mnt, sizeof(g_mnt), "%s/mnt", dir);
    if (unit_sh("set -e; cd '%s'; truncate -s 512M x.img; mkfs.xfs -q -m reflink=1 x.img;"
                "mkdir mnt; mount -o loop x.img mnt",
                dir) != 0) {
        fprintf(stderr, "test_clone: skipped: cannot make and loop-mount an xfs image\n");
        unit_rmrf(dir);
        return -1;
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_clone_clean, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clone_not_changed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clone_not_a_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clone_other_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clone_untracked_attributes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clone_filtered_before, setup, teardown),
    };
    char dir[PATH_MAX];
    int failed;

    if (mount_xfs(dir) != 0)
        return 77;
    failed = unit_run_git_tests("clone", tests, sizeof(tests) / sizeof(tests[0]));
    if (unit_sh("umount '%s' || umount -l '%s'", g_mnt, g_mnt) != 0)
        fprintf(stderr, "test_clone: cannot unmount %s\n", g_mnt);
    unit_rmrf(dir);
    return failed ? 1 : 0;
}
