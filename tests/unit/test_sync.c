/*
 * sync_instance on real repositories: the git part (gitops_sync(),
 * gitops_sync_recover() in tools/git/sync.c) checked against what git's
 * own CLI makes (`git rebase`, `git merge-tree`), the all-or-nothing rule
 * on a conflict (refs, index bytes, files byte-identical), the finishing of
 * a sync killed between the branch move and the checkout, and the core's
 * refusals (tools/core/sync.c). The shell runs git, in tests only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "db/queries.h"
#include "tools/core/context.h"
#include "tools/core/instance.h"
#include "tools/core/sync.h"
#include "tools/git/git.h"

typedef struct fixture {
    char root[PATH_MAX]; /* realpath of the mkdtemp folder */
    char repo[PATH_MAX]; /* root/repo: the main worktree */
    char head[41];       /* main's head at the start */
    grove_ctx *ctx;
    instance_created inst; /* a work instance on grove/work-7-a1, base main */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char tmp[] = "/tmp/grove-test-sync-XXXXXX";
    ctx_options o = {0};
    instance_spec spec = {0};
    grove_err err = GROVE_ERR_INIT;
    char *head;

    if (!f || !mkdtemp(tmp) || !realpath(tmp, f->root))
        return -1;
    snprintf(f->repo, sizeof(f->repo), "%s/repo", f->root);
    if (unit_sh("set -e; git init -q -b main '%s'; cd '%s';"
                "git config user.name Grove; git config user.email grove@example.invalid;"
                "printf '1\\n2\\n3\\n4\\n5\\n6\\n7\\n8\\n9\\n' > a.txt; printf 'b\\n' > b.txt;"
                "git add -A; git commit -qm init",
                f->repo, f->repo) != 0)
        return -1;
    head = unit_sh_out("git -C '%s' rev-parse HEAD", f->repo);
    if (!head)
        return -1;
    snprintf(f->head, sizeof(f->head), "%s", head);
    free(head);
    unsetenv("GROVE_WORKTREES");
    unsetenv("GROVE_DB");
    unsetenv("GROVE_INSTANCE_ID");
    unsetenv("GROVE_AGENT_COMMAND");
    unsetenv("GROVE_BRANCH_PREFIX");
    o.repo = f->repo;
    o.migrate = 1;
    if (ctx_open(&f->ctx, &o, &err) != 0) {
        fprintf(stderr, "ctx_open: %s\n", err.msg);
        return -1;
    }
    spec.type = "work";
    spec.issue.number = 7;
    spec.base_branch = "main";
    spec.base_commit = f->head;
    spec.start_commit = f->head;
    spec.prompt = "sync me";
    if (instance_create(f->ctx, &spec, NULL, &f->inst, &err) != 0) {
        fprintf(stderr, "instance_create: %s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    instance_created_free(&f->inst);
    ctx_free(f->ctx);
    unit_rmrf(f->root);
    free(f);
    return 0;
}

static const char *wt(const fixture *f)
{
    return f->inst.instance.worktree_path;
}

static const char *id(const fixture *f)
{
    return f->inst.instance.id;
}

/* Runs a shell command, failing the test when it fails. */
#define SH(...) assert_int_equal(unit_sh(__VA_ARGS__), 0)

/* The instance's branch: three commits (x.txt; line 2 of a.txt; y.txt). */
static void branch_commits(const fixture *f, const char *line2)
{
    SH("set -e; cd '%s'; printf 'x\\n' > x.txt; git add x.txt;"
       "GIT_AUTHOR_NAME=Ada GIT_AUTHOR_EMAIL=ada@example.invalid "
       "GIT_AUTHOR_DATE='2020-01-02T03:04:05+0100' git commit -qm 'add x' -m 'body of x';"
       "sed -i 's/^2$/%s/' a.txt; git commit -qam 'change line 2';"
       "printf 'y\\n' > y.txt; git add y.txt; git commit -qm 'add y'",
       wt(f), line2);
}

/* The base moves: line 8 of a.txt and a new file, or line 2 when `line2` is given. */
static void base_moves(const fixture *f, const char *line2)
{
    if (line2)
        SH("set -e; cd '%s'; sed -i 's/^2$/%s/' a.txt; git commit -qam 'base line 2'", f->repo,
           line2);
    else
        SH("set -e; cd '%s'; sed -i 's/^8$/eight/' a.txt; git commit -qam 'base line 8';"
           "printf 'z\\n' > z.txt; git add z.txt; git commit -qm 'base adds z'",
           f->repo);
}

static char *out(const char *fmt, const char *a, const char *b)
{
    char *s = unit_sh_out(fmt, a, b);

    assert_non_null(s);
    return s;
}

static int run_sync(fixture *f, gitops_sync_strategy strategy, gitops_sync_result *res,
                    grove_err *err)
{
    gitops_sync_opts o = {0};

    o.name = id(f);
    o.worktree = wt(f);
    o.branch = f->inst.instance.branch_name;
    o.base = "main";
    o.strategy = strategy;
    return gitops_sync(f->ctx->repo, &o, res, err);
}

/* The worktree is clean and on `sha`, and no sync journal is left. */
static void expect_worktree_at(const fixture *f, const char *sha)
{
    char *head = out("git -C '%s' rev-parse HEAD%s", wt(f), "");
    char *status = out("git -C '%s' status --porcelain%s", wt(f), "");
    char journal[PATH_MAX + 64];
    struct stat st;

    assert_string_equal(head, sha);
    assert_string_equal(status, "");
    snprintf(journal, sizeof(journal), "%s/.git/grove/syncing/%s", f->repo, id(f));
    assert_int_not_equal(lstat(journal, &st), 0);
    free(head);
    free(status);
}

/* ---- the git part ---------------------------------------------------------- */

static void test_up_to_date(void **state)
{
    fixture *f = *state;
    gitops_sync_result res;
    grove_err err = GROVE_ERR_INIT;
    char *before, *after;

    branch_commits(f, "two");
    before = out("cd '%s' && git for-each-ref && git reflog --all | wc -l && ls -l --full-time "
                 ".git/worktrees/*/index%s",
                 f->repo, "");
    if (run_sync(f, GITOPS_SYNC_REBASE, &res, &err) != 0)
        fail_msg("sync: %s", err.msg);
    assert_true(res.synced);
    assert_string_equal(res.old_head, res.new_head);
    assert_string_equal(res.base_head, f->head);
    assert_int_equal(res.nconflicting, 0);
    after = out("cd '%s' && git for-each-ref && git reflog --all | wc -l && ls -l --full-time "
                ".git/worktrees/*/index%s",
                f->repo, "");
    assert_string_equal(before, after); /* nothing written */
    gitops_sync_result_free(&res);
    free(before);
    free(after);
}

/* The log of `range` as git sees it: tree, author, author date, raw message of each commit. */
static char *log_of(const fixture *f, const char *range)
{
    return out("git -C '%s' log --reverse --format='%%T|%%an <%%ae> %%ad|%%B' %s", f->repo, range);
}

static void test_rebase_matches_git(void **state)
{
    fixture *f = *state;
    gitops_sync_result res;
    grove_err err = GROVE_ERR_INIT;
    char *mine, *gits, *committer, *parent, *base;

    branch_commits(f, "two");
    base_moves(f, NULL);
    /* What git's own rebase makes of the same commits, on a copy of the branch. */
    SH("set -e; cd '%s'; git branch ref grove/work-7-a1; git worktree add -q ../ref-wt ref;"
       "cd ../ref-wt; git rebase -q main",
       f->repo);
    if (run_sync(f, GITOPS_SYNC_REBASE, &res, &err) != 0)
        fail_msg("sync: %s", err.msg);
    assert_true(res.synced);
    assert_int_equal(res.replayed, 3);
    assert_string_not_equal(res.old_head, res.new_head);
    base = out("git -C '%s' rev-parse main%s", f->repo, "");
    assert_string_equal(res.base_head, base);
    mine = log_of(f, "main..grove/work-7-a1");
    gits = log_of(f, "main..ref");
    assert_string_equal(mine, gits); /* same trees, authors, dates and messages, in order */
    assert_non_null(strstr(mine, "Ada <ada@example.invalid>"));
    assert_non_null(strstr(mine, "body of x"));
    /* Committer: the repository's user; the first new commit sits on the base head. */
    committer = out("git -C '%s' log -1 --format=%%cn%s grove/work-7-a1", f->repo, "");
    assert_string_equal(committer, "Grove");
    parent = out("git -C '%s' rev-parse grove/work-7-a1~3%s", f->repo, "");
    assert_string_equal(parent, base);
    expect_worktree_at(f, res.new_head);
    assert_int_equal(unit_sh("cd '%s' && grep -qx eight a.txt && test -f z.txt && grep -qx two "
                             "a.txt",
                             wt(f)),
                     0);
    /* The old commits stay reachable from the branch's reflog. */
    assert_int_equal(unit_sh("git -C '%s' reflog show grove/work-7-a1 | grep -q 'grove "
                             "sync_instance: rebase onto main'",
                             f->repo),
                     0);
    gitops_sync_result_free(&res);
    /* A second sync changes nothing. */
    if (run_sync(f, GITOPS_SYNC_REBASE, &res, &err) != 0)
        fail_msg("second sync: %s", err.msg);
    assert_true(res.synced);
    assert_string_equal(res.old_head, res.new_head);
    gitops_sync_result_free(&res);
    free(mine);
    free(gits);
    free(committer);
    free(parent);
    free(base);
}

/* A branch holding a merge with a change of its own ("evil"): skipped, as by `git rebase`. */
static void test_rebase_skips_merges(void **state)
{
    fixture *f = *state;
    gitops_sync_result res;
    grove_err err = GROVE_ERR_INIT;
    char *mine, *gits;

    branch_commits(f, "two");
    base_moves(f, NULL);
    SH("set -e; cd '%s'; git merge -q --no-commit main; printf 'evil\\n' > evil.txt;"
       "git add evil.txt; git commit -qm 'merge main'; printf 'w\\n' > w.txt; git add w.txt;"
       "git commit -qm 'after the merge'; cd '%s'; printf 'q\\n' > q.txt; git add q.txt;"
       "git commit -qm 'base adds q'; git branch ref grove/work-7-a1;"
       "git worktree add -q ../ref-wt ref; cd ../ref-wt; git rebase -q main",
       wt(f), f->repo);
    if (run_sync(f, GITOPS_SYNC_REBASE, &res, &err) != 0)
        fail_msg("sync: %s", err.msg);
    assert_true(res.synced);
    mine = log_of(f, "main..grove/work-7-a1");
    gits = log_of(f, "main..ref");
    assert_string_equal(mine, gits);
    assert_int_equal(unit_sh("test ! -e '%s/evil.txt'", wt(f)), 0);
    expect_worktree_at(f, res.new_head);
    gitops_sync_result_free(&res);
    free(mine);
    free(gits);
}

static void test_merge_matches_git(void **state)
{
    fixture *f = *state;
    gitops_sync_result res;
    grove_err err = GROVE_ERR_INIT;
    char *tree, *gits, *parents, *msg, *expect;

    branch_commits(f, "two");
    base_moves(f, NULL);
    gits = out("git -C '%s' merge-tree --write-tree grove/work-7-a1 main%s", f->repo, "");
    if (run_sync(f, GITOPS_SYNC_MERGE, &res, &err) != 0)
        fail_msg("sync: %s", err.msg);
    assert_true(res.synced);
    tree = out("git -C '%s' rev-parse grove/work-7-a1^{tree}%s", f->repo, "");
    assert_string_equal(tree, gits);
    parents = out("git -C '%s' log -1 --format=%%P%s grove/work-7-a1", f->repo, "");
    expect = malloc(100);
    assert_non_null(expect);
    snprintf(expect, 100, "%s %s", res.old_head, res.base_head);
    assert_string_equal(parents, expect);
    msg = out("git -C '%s' log -1 --format=%%B%s grove/work-7-a1", f->repo, "");
    assert_string_equal(msg, "Merge branch 'main' into grove/work-7-a1");
    expect_worktree_at(f, res.new_head);
    gitops_sync_result_free(&res);
    free(tree);
    free(gits);
    free(parents);
    free(msg);
    free(expect);
}

static void test_fast_forward(void **state)
{
    fixture *f = *state;
    gitops_sync_result res;
    grove_err err = GROVE_ERR_INIT;

    base_moves(f, NULL);
    if (run_sync(f, GITOPS_SYNC_MERGE, &res, &err) != 0)
        fail_msg("sync: %s", err.msg);
    assert_true(res.synced);
    assert_string_equal(res.new_head, res.base_head);
    expect_worktree_at(f, res.base_head);
    gitops_sync_result_free(&res);
}

/* Refs, reflogs, the worktree's index bytes, its files and git's state folders. */
static char *snapshot(const fixture *f)
{
    return out("set -e; cd '%s'; git for-each-ref; git reflog --all; "
               "sha256sum .git/worktrees/*/index .git/worktrees/*/HEAD; "
               "find .git -name 'rebase-*' -o -name 'MERGE_*' -o -name 'CHERRY_PICK*' -o -path "
               "'*/syncing/*'; cd '%s'; find . -path ./.git -prune -o -type f -print0 | sort -z | "
               "xargs -0 sha256sum; ls -la --full-time",
               f->repo, wt(f));
}

static void test_conflict_changes_nothing(void **state)
{
    fixture *f = *state;
    gitops_sync_strategy strategies[] = {GITOPS_SYNC_REBASE, GITOPS_SYNC_MERGE};
    size_t i;

    branch_commits(f, "mine");
    base_moves(f, NULL);
    base_moves(f, "theirs"); /* the 2nd of the branch's 3 commits conflicts */
    for (i = 0; i < 2; i++) {
        gitops_sync_result res;
        grove_err err = GROVE_ERR_INIT;
        char *before = snapshot(f), *after;

        if (run_sync(f, strategies[i], &res, &err) != 0)
            fail_msg("sync: %s", err.msg);
        assert_false(res.synced);
        assert_int_equal(res.nconflicting, 1);
        assert_string_equal(res.conflicting[0], "a.txt");
        assert_string_equal(res.old_head, res.new_head);
        after = snapshot(f);
        assert_string_equal(before, after);
        gitops_sync_result_free(&res);
        free(before);
        free(after);
    }
}

/* Stops the sync process where the stage names, as a kill -9 would. */
static void die_at(void *arg, const char *stage)
{
    if (strcmp(stage, (const char *)arg) == 0)
        _exit(42);
}

/* Runs a rebase in a child process that dies at `stage`. */
static void sync_killed_at(fixture *f, const char *stage)
{
    pid_t pid = fork();
    int status = 0;

    assert_true(pid >= 0);
    if (pid == 0) {
        gitops_sync_opts o = {0};
        gitops_sync_result res;
        grove_err err = GROVE_ERR_INIT;

        o.name = id(f);
        o.worktree = wt(f);
        o.branch = f->inst.instance.branch_name;
        o.base = "main";
        o.stage = die_at;
        o.stage_arg = (void *)stage;
        gitops_sync(f->ctx->repo, &o, &res, &err);
        _exit(1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 42);
}

static void test_killed_then_finished(void **state)
{
    fixture *f = *state;
    const char *stages[] = {"computed", "journal-written", "ref-moved", "checked-out"};
    size_t i;

    branch_commits(f, "two");
    for (i = 0; i < 4; i++) {
        gitops_sync_result res;
        grove_err err = GROVE_ERR_INIT;
        char *old = out("git -C '%s' rev-parse grove/work-7-a1%s", f->repo, ""), *now;
        int finished = -1;

        SH("set -e; cd '%s'; printf 'z\\n' > z%zu.txt; git add -A; git commit -qm 'base %zu'",
           f->repo, i, i);
        sync_killed_at(f, stages[i]);
        now = out("git -C '%s' rev-parse grove/work-7-a1%s", f->repo, "");
        if (i < 2)
            assert_string_equal(now, old); /* killed before the move: the old state */
        else
            assert_string_not_equal(now, old);
        if (gitops_sync_recover(f->ctx->repo, id(f), wt(f), &finished, &err) != 0)
            fail_msg("recover after '%s': %s", stages[i], err.msg);
        assert_int_equal(finished, i >= 2);
        expect_worktree_at(f, now);
        if (run_sync(f, GITOPS_SYNC_REBASE, &res, &err) != 0)
            fail_msg("sync after '%s': %s", stages[i], err.msg);
        assert_true(res.synced);
        expect_worktree_at(f, res.new_head);
        gitops_sync_result_free(&res);
        free(old);
        free(now);
    }
}

static void test_killed_then_edited_is_refused(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    int finished = -1;
    char *content;

    branch_commits(f, "two");
    base_moves(f, NULL);
    sync_killed_at(f, "ref-moved");
    /* Somebody edits a file the sync changes before it is finished: never overwritten. */
    SH("printf 'my work\\n' > '%s/z.txt'", wt(f));
    assert_int_equal(gitops_sync_recover(f->ctx->repo, id(f), wt(f), &finished, &err), -1);
    assert_int_equal(err.code, GROVE_ECONFLICT);
    assert_non_null(strstr(err.msg, "z.txt"));
    assert_int_equal(finished, 0);
    content = out("cat '%s/z.txt'%s", wt(f), "");
    assert_string_equal(content, "my work");
    free(content);
}

/* ---- the core: refusals ---------------------------------------------------- */

static void test_dirty_refused(void **state)
{
    fixture *f = *state;
    sync_result r;
    grove_err err = GROVE_ERR_INIT;
    char *before, *after;

    branch_commits(f, "two");
    base_moves(f, NULL);
    SH("cd '%s' && printf 'edit\\n' >> b.txt && printf 'new\\n' > new.txt", wt(f));
    before = snapshot(f);
    assert_int_equal(sync_instance(f->ctx, id(f), NULL, &r, NULL, &err), -1);
    assert_int_equal(err.code, GROVE_ECONFLICT);
    assert_non_null(strstr(err.msg, "b.txt"));
    assert_non_null(strstr(err.msg, "new.txt"));
    assert_non_null(strstr(err.msg, "commit or stash"));
    after = snapshot(f);
    assert_string_equal(before, after);
    free(before);
    free(after);
    /* Staged only, too. */
    SH("cd '%s' && git add b.txt new.txt", wt(f));
    assert_int_equal(sync_instance(f->ctx, id(f), "merge", &r, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "uncommitted changes"));
}

static void test_base_branch_deleted(void **state)
{
    fixture *f = *state;
    sync_result r;
    grove_err err = GROVE_ERR_INIT;

    SH("git -C '%s' branch -m main trunk", f->repo);
    assert_int_equal(sync_instance(f->ctx, id(f), NULL, &r, NULL, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_non_null(strstr(err.msg, "base branch 'main' no longer exists"));
}

static void test_unknown_and_gone(void **state)
{
    fixture *f = *state;
    sync_result r;
    grove_err err = GROVE_ERR_INIT;

    assert_int_equal(sync_instance(f->ctx, "work-a99", NULL, &r, NULL, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_int_equal(sync_instance(f->ctx, id(f), "squash", &r, NULL, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    SH("git -C '%s' worktree remove --force '%s'", f->repo, wt(f));
    assert_int_equal(sync_instance(f->ctx, id(f), NULL, &r, NULL, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_non_null(strstr(err.msg, "is gone"));
}

static void test_core_result(void **state)
{
    fixture *f = *state;
    sync_result r;
    grove_err err = GROVE_ERR_INIT;

    branch_commits(f, "two");
    base_moves(f, NULL);
    if (sync_instance(f->ctx, id(f), NULL, &r, NULL, &err) != 0)
        fail_msg("sync_instance: %s", err.msg);
    assert_true(r.synced);
    assert_string_equal(r.strategy, "rebase");
    assert_int_equal(r.nconflicting, 0);
    expect_worktree_at(f, r.new_head);
    sync_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_up_to_date, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebase_matches_git, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebase_skips_merges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merge_matches_git, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fast_forward, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflict_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_then_finished, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_then_edited_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dirty_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_base_branch_deleted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_and_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_core_result, setup, teardown),
    };
    return unit_run_git_tests("sync", tests, sizeof(tests) / sizeof(tests[0]));
}
