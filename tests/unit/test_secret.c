/*
 * tools/base/secret.c: sealing and opening values with the key in
 * $XDG_CONFIG_HOME/grove/key. Each test gets a fresh mkdtemp folder as
 * XDG_CONFIG_HOME (and HOME), so the key starts missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <git2.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db/queries.h"
#include "tools/core/context.h"
#include "tools/base/secret.h"

#define PLAIN "ghp_PlainTextTokenForGroveTests_0123456789"

typedef struct fixture {
    char root[PATH_MAX]; /* mkdtemp folder */
    char cfg[PATH_MAX];  /* root/cfg: XDG_CONFIG_HOME */
    char dir[PATH_MAX];  /* cfg/grove */
    char key[PATH_MAX];  /* cfg/grove/key */
} fixture;

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb;
    (void)f;
    return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    char tmpl[] = "/tmp/grove-test-secret-XXXXXX";

    assert_non_null(fx);
    assert_non_null(mkdtemp(tmpl));
    assert_non_null(realpath(tmpl, fx->root));
    snprintf(fx->cfg, sizeof(fx->cfg), "%s/cfg", fx->root);
    snprintf(fx->dir, sizeof(fx->dir), "%s/grove", fx->cfg);
    snprintf(fx->key, sizeof(fx->key), "%s/key", fx->dir);
    setenv("XDG_CONFIG_HOME", fx->cfg, 1);
    setenv("HOME", fx->root, 1);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;

    nftw(fx->root, rm_cb, 32, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

/* Seals `plain`, asserting success; malloc'd sealed text. */
static char *seal(const char *plain)
{
    grove_err err = GROVE_ERR_INIT;
    char *out = NULL;

    if (secret_seal(plain, &out, &err) != 0)
        fail_msg("seal: %s", err.msg);
    assert_non_null(out);
    return out;
}

/* secret_open must fail with EINVAL and a message that does not leak PLAIN. */
static void expect_open_fails(const char *sealed, const char *needle)
{
    grove_err err = GROVE_ERR_INIT;
    char *out = (char *)"untouched";

    assert_int_equal(secret_open(sealed, &out, &err), -1);
    assert_null(out);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_null(strstr(err.msg, PLAIN));
    assert_null(strstr(err.msg, "PlainText"));
    if (needle && !strstr(err.msg, needle))
        fail_msg("message '%s' lacks '%s'", err.msg, needle);
}

static void write_key(const char *path, const unsigned char *bytes, size_t n, mode_t mode)
{
    int fd;

    unlink(path);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bytes, n), (ssize_t)n);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

static size_t file_bytes(const char *path, unsigned char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    ssize_t n;

    assert_true(fd >= 0);
    n = read(fd, buf, cap);
    close(fd);
    assert_true(n >= 0);
    return (size_t)n;
}

static void test_round_trip(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    char *sealed, *plain = NULL, *big;
    size_t i;

    (void)fx;
    sealed = seal(PLAIN);
    assert_true(strncmp(sealed, "sb1:", 4) == 0);
    assert_null(strstr(sealed, PLAIN));
    /* nonce (24) + MAC (16) + text, base64: 4 * ceil(n / 3) characters. */
    assert_int_equal(strlen(sealed), 4 + 4 * ((24 + 16 + strlen(PLAIN) + 2) / 3));
    if (secret_open(sealed, &plain, &err) != 0)
        fail_msg("open: %s", err.msg);
    assert_string_equal(plain, PLAIN);
    secret_free(plain);
    free(sealed);

    /* UTF-8 and an empty value survive too. */
    sealed = seal("p\xc3\xa4ss w\xc3\xb6rd \xe2\x9c\x93");
    assert_int_equal(secret_open(sealed, &plain, &err), 0);
    assert_string_equal(plain, "p\xc3\xa4ss w\xc3\xb6rd \xe2\x9c\x93");
    secret_free(plain);
    free(sealed);
    sealed = seal("");
    assert_int_equal(secret_open(sealed, &plain, &err), 0);
    assert_string_equal(plain, "");
    secret_free(plain);
    free(sealed);

    /* 64 KiB, the most `config set --secret` takes. */
    big = malloc(64 * 1024 + 1);
    assert_non_null(big);
    for (i = 0; i < 64 * 1024; i++)
        big[i] = (char)('a' + i % 26);
    big[64 * 1024] = '\0';
    sealed = seal(big);
    assert_int_equal(secret_open(sealed, &plain, &err), 0);
    assert_string_equal(plain, big);
    secret_free(plain);
    free(sealed);
    free(big);

    secret_free(NULL);
    assert_int_equal(secret_seal(NULL, &sealed, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
}

static void test_key_file(void **state)
{
    fixture *fx = *state;
    unsigned char k1[64], k2[64];
    struct stat st;
    char *path, *sealed;

    path = secret_key_path();
    assert_string_equal(path, fx->key);
    free(path);
    assert_int_equal(lstat(fx->key, &st), -1); /* made on first use only */

    sealed = seal(PLAIN);
    free(sealed);
    assert_int_equal(lstat(fx->key, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_size, 32);
    assert_int_equal(lstat(fx->dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0700);
    /* No temporary file left beside it. */
    {
        char *ls = NULL;
        size_t len = 0;
        FILE *p;
        char cmd[PATH_MAX + 32];

        snprintf(cmd, sizeof(cmd), "ls -A '%s'", fx->dir);
        p = popen(cmd, "r");
        assert_non_null(p);
        assert_true(getdelim(&ls, &len, '\0', p) > 0);
        pclose(p);
        assert_string_equal(ls, "key\n");
        free(ls);
    }

    /* The key is reused, not remade. */
    assert_int_equal(file_bytes(fx->key, k1, sizeof(k1)), 32);
    sealed = seal("again");
    free(sealed);
    assert_int_equal(file_bytes(fx->key, k2, sizeof(k2)), 32);
    assert_memory_equal(k1, k2, 32);

    /* Without XDG_CONFIG_HOME (or with a relative one): ~/.config/grove/key. */
    unsetenv("XDG_CONFIG_HOME");
    path = secret_key_path();
    assert_non_null(path);
    assert_true(strncmp(path, fx->root, strlen(fx->root)) == 0);
    assert_string_equal(path + strlen(fx->root), "/.config/grove/key");
    free(path);
    setenv("XDG_CONFIG_HOME", "relative/cfg", 1);
    path = secret_key_path();
    assert_string_equal(path + strlen(fx->root), "/.config/grove/key");
    free(path);
    unsetenv("HOME");
    unsetenv("XDG_CONFIG_HOME");
    assert_null(secret_key_path());
    {
        grove_err err = GROVE_ERR_INIT;

        assert_int_equal(secret_seal(PLAIN, &sealed, &err), -1);
        assert_int_equal(err.code, GROVE_EINVAL);
    }
    setenv("XDG_CONFIG_HOME", fx->cfg, 1);
    setenv("HOME", fx->root, 1);
}

static void test_nonce_is_random(void **state)
{
    grove_err err = GROVE_ERR_INIT;
    char *a = seal(PLAIN), *b = seal(PLAIN), *pa = NULL, *pb = NULL;

    (void)state;
    assert_string_not_equal(a, b);
    /* Not even the nonce (the first 24 bytes = 32 base64 characters) repeats. */
    assert_true(strncmp(a + 4, b + 4, 32) != 0);
    assert_int_equal(secret_open(a, &pa, &err), 0);
    assert_int_equal(secret_open(b, &pb, &err), 0);
    assert_string_equal(pa, PLAIN);
    assert_string_equal(pb, PLAIN);
    secret_free(pa);
    secret_free(pb);
    free(a);
    free(b);
}

static void test_tampered_and_garbage(void **state)
{
    char *sealed = seal(PLAIN);
    char *t = strdup(sealed);
    size_t n = strlen(t), i;

    (void)state;
    assert_non_null(t);
    /* One character changed anywhere in the nonce, the MAC or the text. */
    for (i = 4; i < n; i += 7) {
        char saved = t[i];

        if (saved == '=')
            continue;
        t[i] = saved == 'A' ? 'B' : 'A';
        expect_open_fails(t, "cannot decrypt");
        t[i] = saved;
    }
    /* Cut short, and with a byte more. */
    t[n - 8] = '\0';
    expect_open_fails(t, NULL);
    free(t);
    t = malloc(n + 8);
    assert_non_null(t);
    snprintf(t, n + 8, "%.*sAAAA", (int)(n - 2), sealed);
    expect_open_fails(t, NULL);
    free(t);

    expect_open_fails("", "not in a known format");
    expect_open_fails(PLAIN, "not in a known format");
    expect_open_fails("sb2:AAAA", "not in a known format");
    expect_open_fails("sb1:", "damaged");
    expect_open_fails("sb1:AAAA", "damaged");
    expect_open_fails("sb1:!!!not base64!!!", "damaged");
    expect_open_fails("sb1:" PLAIN, NULL);
    expect_open_fails(NULL, NULL);

    /* The real one still opens. */
    {
        grove_err err = GROVE_ERR_INIT;
        char *plain = NULL;

        assert_int_equal(secret_open(sealed, &plain, &err), 0);
        assert_string_equal(plain, PLAIN);
        secret_free(plain);
    }
    free(sealed);
}

static void test_wrong_or_missing_key(void **state)
{
    fixture *fx = *state;
    unsigned char other[32];
    grove_err err = GROVE_ERR_INIT;
    char *sealed = seal(PLAIN), *plain = NULL;
    struct stat st;
    size_t i;

    /* Another key of the right shape: decryption fails. */
    for (i = 0; i < sizeof(other); i++)
        other[i] = (unsigned char)(i * 7 + 1);
    write_key(fx->key, other, sizeof(other), 0600);
    expect_open_fails(sealed, "another key");

    /* No key at all: fails, and opening does not make a new one. */
    assert_int_equal(unlink(fx->key), 0);
    expect_open_fails(sealed, "is missing");
    assert_int_equal(lstat(fx->key, &st), -1);
    assert_int_equal(errno, ENOENT);

    /* Sealing makes a new key; the old value stays unreadable. */
    free(sealed);
    sealed = seal("fresh");
    assert_int_equal(secret_open(sealed, &plain, &err), 0);
    assert_string_equal(plain, "fresh");
    secret_free(plain);
    free(sealed);
}

/* A value sealed under one XDG_CONFIG_HOME does not open under another. */
static void test_sealed_by_another_key(void **state)
{
    fixture *fx = *state;
    char other[PATH_MAX + 8];
    grove_err err = GROVE_ERR_INIT;
    char *a, *b, *plain = NULL;

    a = seal(PLAIN);
    snprintf(other, sizeof(other), "%s/cfg2", fx->root);
    setenv("XDG_CONFIG_HOME", other, 1);
    b = seal(PLAIN);
    expect_open_fails(a, "cannot decrypt");
    assert_int_equal(secret_open(b, &plain, &err), 0);
    assert_string_equal(plain, PLAIN);
    secret_free(plain);
    setenv("XDG_CONFIG_HOME", fx->cfg, 1);
    expect_open_fails(b, "cannot decrypt");
    assert_int_equal(secret_open(a, &plain, &err), 0);
    assert_string_equal(plain, PLAIN);
    secret_free(plain);
    free(a);
    free(b);
}

/* Key files we must not use: each refused by seal and open, and left as it was. */
static void test_bad_key_files(void **state)
{
    fixture *fx = *state;
    unsigned char good[32], got[64];
    grove_err err = GROVE_ERR_INIT;
    char *sealed = seal(PLAIN), *out = NULL, target[PATH_MAX + 8];
    struct stat st;

    assert_int_equal(file_bytes(fx->key, good, sizeof(good)), 32);

    /* Group-readable, then world-readable. */
    assert_int_equal(chmod(fx->key, 0640), 0);
    expect_open_fails(sealed, "must be mode 0600");
    assert_int_equal(secret_seal("x", &out, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_non_null(strstr(err.msg, "must be mode 0600"));
    assert_non_null(strstr(err.msg, fx->key));
    assert_null(out);
    assert_int_equal(chmod(fx->key, 0604), 0);
    expect_open_fails(sealed, "must be mode 0600");
    assert_int_equal(lstat(fx->key, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0604); /* not "fixed" behind the user's back */
    assert_int_equal(file_bytes(fx->key, got, sizeof(got)), 32);
    assert_memory_equal(got, good, 32);

    /* Too short and too long. */
    write_key(fx->key, good, 31, 0600);
    expect_open_fails(sealed, "exactly 32 bytes");
    assert_int_equal(secret_seal("x", &out, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_int_equal(file_bytes(fx->key, got, sizeof(got)), 31);
    memcpy(got, good, 32);
    got[32] = '\n';
    write_key(fx->key, got, 33, 0600);
    expect_open_fails(sealed, "exactly 32 bytes");

    /* A symbolic link to a good key, and a folder. */
    snprintf(target, sizeof(target), "%s/real-key", fx->root);
    write_key(target, good, 32, 0600);
    assert_int_equal(unlink(fx->key), 0);
    assert_int_equal(symlink(target, fx->key), 0);
    expect_open_fails(sealed, "symbolic link");
    assert_int_equal(secret_seal("x", &out, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_int_equal(unlink(fx->key), 0);
    assert_int_equal(mkdir(fx->key, 0700), 0);
    expect_open_fails(sealed, "not a regular file");
    assert_int_equal(rmdir(fx->key), 0);

    /* The good key back: the value opens again. */
    write_key(fx->key, good, 32, 0600);
    assert_int_equal(secret_open(sealed, &out, &err), 0);
    assert_string_equal(out, PLAIN);
    secret_free(out);
    free(sealed);
}

/* Processes sealing at once with no key yet: one key wins, every value opens with it. */
static void test_concurrent_first_use(void **state)
{
    fixture *fx = *state;
    enum { PROCS = 8 };
    pid_t pids[PROCS];
    char file[PATH_MAX + 16];
    int i;

    for (i = 0; i < PROCS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            grove_err err = GROVE_ERR_INIT;
            char *sealed = NULL;
            FILE *f;

            if (secret_seal(PLAIN, &sealed, &err) != 0) {
                fprintf(stderr, "child %d: %s\n", i, err.msg);
                _exit(1);
            }
            snprintf(file, sizeof(file), "%s/sealed-%d", fx->root, i);
            f = fopen(file, "w");
            if (!f || fputs(sealed, f) < 0 || fclose(f) != 0)
                _exit(2);
            free(sealed);
            _exit(0);
        }
    }
    for (i = 0; i < PROCS; i++) {
        int st = 0;

        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    for (i = 0; i < PROCS; i++) {
        char buf[512];
        grove_err err = GROVE_ERR_INIT;
        char *plain = NULL;
        FILE *f;

        snprintf(file, sizeof(file), "%s/sealed-%d", fx->root, i);
        f = fopen(file, "r");
        assert_non_null(f);
        assert_non_null(fgets(buf, sizeof(buf), f));
        fclose(f);
        if (secret_open(buf, &plain, &err) != 0)
            fail_msg("value of child %d: %s", i, err.msg);
        assert_string_equal(plain, PLAIN);
        secret_free(plain);
    }
}

/* ctx_github_token: GITHUB_TOKEN, then GH_TOKEN, then the secret config github.token. */
static void test_github_token(void **state)
{
    fixture *fx = *state;
    char repo[PATH_MAX + 8], cmd[PATH_MAX + 64];
    ctx_options o = {0};
    grove_ctx *ctx = NULL;
    grove_err err = GROVE_ERR_INIT;
    char *sealed, *t;

    snprintf(repo, sizeof(repo), "%s/repo", fx->root);
    snprintf(cmd, sizeof(cmd), "git init -q '%s'", repo);
    assert_int_equal(system(cmd), 0);
    o.repo = repo;
    o.migrate = 1;
    if (ctx_open(&ctx, &o, &err) != 0)
        fail_msg("ctx_open: %s", err.msg);
    unsetenv("GITHUB_TOKEN");
    unsetenv("GH_TOKEN");
    assert_null(ctx_github_token(ctx));

    /* The stored secret, decrypted. */
    sealed = seal(PLAIN);
    assert_int_equal(db_config_set(ctx->db, "github.token", sealed, 1, &err), 0);
    free(sealed);
    t = ctx_github_token(ctx);
    assert_non_null(t);
    assert_string_equal(t, PLAIN);
    secret_free(t);

    /* The environment wins: GITHUB_TOKEN, then GH_TOKEN; empty ones do not count. */
    setenv("GH_TOKEN", "from-gh", 1);
    setenv("GITHUB_TOKEN", "", 1);
    t = ctx_github_token(ctx);
    assert_string_equal(t, "from-gh");
    secret_free(t);
    setenv("GITHUB_TOKEN", "from-github", 1);
    t = ctx_github_token(ctx);
    assert_string_equal(t, "from-github");
    secret_free(t);
    unsetenv("GITHUB_TOKEN");
    unsetenv("GH_TOKEN");

    /* Sealed with a key that is gone: no token (a warning on stderr, without the value). */
    assert_int_equal(unlink(fx->key), 0);
    assert_null(ctx_github_token(ctx));
    assert_int_equal(db_config_set(ctx->db, "github.token", "sb1:garbage", 1, &err), 0);
    assert_null(ctx_github_token(ctx));
    /* Stored in the clear (config set without --secret): used, with a warning. */
    assert_int_equal(db_config_set(ctx->db, "github.token", "clear-token", 0, &err), 0);
    t = ctx_github_token(ctx);
    assert_string_equal(t, "clear-token");
    secret_free(t);
    ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nonce_is_random, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered_and_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_or_missing_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sealed_by_another_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_key_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_first_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_github_token, setup, teardown),
    };
    int failed;

    umask(022);
    setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
    unsetenv("GROVE_DB");
    unsetenv("GROVE_REPO");
    unsetenv("GROVE_WORKTREES");
    git_libgit2_init();
    failed = cmocka_run_group_tests(tests, NULL, NULL);
    git_libgit2_shutdown();
    return failed;
}
