/* unit: what the unit tests share (see unit.h). */
#include "tests/unit/unit.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <git2.h>

#include "db/migrate.h"
#include "tools/core/context.h"
#include "tools/core/instance.h"

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

void unit_rmrf(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static unit_db *make(void)
{
    unit_db *f = calloc(1, sizeof(*f));

    if (!f)
        return NULL;
    snprintf(f->dir, sizeof(f->dir), "/tmp/grove-unit-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return NULL;
    }
    snprintf(f->path, sizeof(f->path), "%s/grove.db", f->dir);
    return f;
}

int unit_db_setup_bare(void **state)
{
    unit_db *f = make();

    *state = f;
    return f ? 0 : -1;
}

int unit_db_setup(void **state)
{
    grove_err err = GROVE_ERR_INIT;
    unit_db *f = make();

    if (!f)
        return -1;
    if (migrate_open(&f->db, f->path, &err) != 0) {
        fprintf(stderr, "migrate_open: %s\n", err.msg);
        unit_rmrf(f->dir);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

int unit_db_teardown(void **state)
{
    unit_db *f = *state;

    if (!f)
        return 0;
    db_close(f->db);
    unit_rmrf(f->dir);
    free(f);
    return 0;
}

void unit_sql(sqlite3 *sq, const char *sql)
{
    char *msg = NULL;

    if (sqlite3_exec(sq, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
}

long long unit_query_int(sqlite3 *sq, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long v = -1;

    if (sqlite3_prepare_v2(sq, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(sq));
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

char *unit_query_text(sqlite3 *sq, const char *sql)
{
    sqlite3_stmt *st = NULL;
    char *v = NULL;

    if (sqlite3_prepare_v2(sq, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(sq));
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return v;
}

int unit_sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    int st;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    st = system(cmd);
    return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

char *unit_sh_out(const char *fmt, ...)
{
    char cmd[4096];
    char *buf = NULL;
    size_t len = 0, cap = 0;
    va_list ap;
    FILE *p;
    int c;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    p = popen(cmd, "r");
    assert_non_null(p);
    while ((c = fgetc(p)) != EOF) {
        if (len + 2 > cap) {
            cap = cap ? cap * 2 : 256;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        buf[len++] = (char)c;
    }
    pclose(p);
    if (!buf)
        buf = calloc(1, 1);
    assert_non_null(buf);
    buf[len] = '\0';
    while (len > 0 && buf[len - 1] == '\n')
        buf[--len] = '\0';
    return buf;
}

int unit_run_git_tests(const char *name, const struct CMUnitTest *tests, size_t n)
{
    char home[] = "/tmp/grove-unit-home-XXXXXX";
    int failed;

    if (!mkdtemp(home))
        return 1;
    setenv("HOME", home, 1);
    unsetenv("XDG_CONFIG_HOME");
    setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
    unsetenv("GIT_DIR");
    unsetenv("GIT_WORK_TREE");
    git_libgit2_init();
    failed = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
    git_libgit2_shutdown();
    unit_rmrf(home);
    return failed;
}

unit_repo *unit_repo_new(const char *name, const char *files)
{
    unit_repo *r = calloc(1, sizeof(*r));
    char tmp[128];
    ctx_options o = {0};
    grove_err err = GROVE_ERR_INIT;

    snprintf(tmp, sizeof(tmp), "/tmp/grove-test-%s-XXXXXX", name);
    if (!r || !mkdtemp(tmp) || !realpath(tmp, r->root)) {
        free(r);
        return NULL;
    }
    snprintf(r->repo, sizeof(r->repo), "%s/repo", r->root);
    if (unit_sh("git init -q -b main '%s' && cd '%s' && %s && git add -A && git -c user.name=t "
                "-c user.email=t@example.com commit -q -m init",
                r->repo, r->repo, files) != 0)
        goto fail;
    unsetenv("GROVE_WORKTREES");
    unsetenv("GROVE_DB");
    unsetenv("GROVE_INSTANCE_ID");
    unsetenv("GROVE_AGENT_COMMAND");
    unsetenv("GROVE_BRANCH_PREFIX");
    o.repo = r->repo;
    o.migrate = 1;
    if (ctx_open(&r->ctx, &o, &err) != 0) {
        fprintf(stderr, "ctx_open: %s\n", err.msg);
        goto fail;
    }
    return r;
fail:
    unit_rmrf(r->root);
    free(r);
    return NULL;
}

void unit_repo_free(unit_repo *r)
{
    if (!r)
        return;
    ctx_free(r->ctx);
    unit_rmrf(r->root);
    free(r);
}

void unit_repo_work(unit_repo *r, int issue)
{
    grove_err err = GROVE_ERR_INIT;
    instance_spec spec = {0};
    instance_created c;
    char *head = unit_sh_out("git -C '%s' rev-parse main", r->repo);

    spec.type = "work";
    spec.issue.number = issue;
    spec.base_branch = "main";
    spec.base_commit = head;
    spec.start_commit = head;
    spec.prompt = "do it";
    if (instance_create(r->ctx, &spec, NULL, &c, &err) != 0)
        fail_msg("instance_create: %s", err.msg);
    instance_created_free(&c);
    free(head);
}

/* Same files, modes and link targets in both folders (.git aside); the index matches HEAD. */
void unit_expect_same_tree(const char *got, const char *want)
{
    char *a, *b, *s;

    assert_int_equal(unit_sh("diff -r --no-dereference -x .git '%s' '%s'", got, want), 0);
    a = unit_sh_out(
        "cd '%s' && find . -path ./.git -prune -o -printf '%%y %%m %%s %%p %%l\\n' | sort", got);
    b = unit_sh_out(
        "cd '%s' && find . -path ./.git -prune -o -printf '%%y %%m %%s %%p %%l\\n' | sort", want);
    assert_string_equal(a, b);
    free(a);
    free(b);
    s = unit_sh_out("git -C '%s' status --porcelain --ignore-submodules=none 2>&1", got);
    assert_string_equal(s, "");
    free(s);
    s = unit_sh_out("git -C '%s' status --porcelain --ignore-submodules=none 2>&1", want);
    assert_string_equal(s, "");
    free(s);
    /* Same index entries (mode, id, stage, path) and no file differs from its entry. */
    a = unit_sh_out("git -C '%s' ls-files --stage", got);
    b = unit_sh_out("git -C '%s' ls-files --stage", want);
    assert_string_equal(a, b);
    free(a);
    free(b);
    s = unit_sh_out("git -C '%s' diff-files 2>&1; git -C '%s' diff-files 2>&1", got, want);
    assert_string_equal(s, "");
    free(s);
    assert_int_equal(unit_sh("git -C '%s' diff-index --cached --quiet HEAD", got), 0);
    /* Every entry's stat data is recorded: nothing needs refreshing. */
    s = unit_sh_out("git -C '%s' update-index --refresh 2>&1; echo rc=$?", got);
    assert_string_equal(s, "rc=0");
    free(s);
}
