/*
 * The git layer (tools/git/) against real repositories: each test makes one
 * with the git CLI in a fresh mkdtemp folder, drives gitops_* and checks the
 * result with the CLI (`git worktree list --porcelain`,
 * `git status --porcelain`, ...).
 * The shell is used here, in tests only, to run git.
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
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "tools/git/git.h"

typedef struct fixture {
    char root[PATH_MAX]; /* realpath of the mkdtemp folder */
    char repo[PATH_MAX]; /* root/repo: main worktree */
    char c1[41];         /* main~1 */
    char c2[41];         /* main */
    gitops_repo *r;
    pid_t server; /* a test server to stop in teardown (when a test failed before it did), or 0 */
} fixture;

/* ---- helpers ------------------------------------------------------------ */

static int exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int exists(const char *fmt, ...)
{
    char path[PATH_MAX];
    struct stat st;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    return lstat(path, &st) == 0;
}

static char *read_file(const char *path)
{
    char buf[4096];
    int fd = open(path, O_RDONLY);
    ssize_t n;

    if (fd < 0)
        return NULL;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0)
        return NULL;
    buf[n] = '\0';
    return strdup(buf);
}

/*
 * The block of `git worktree list --porcelain` for the worktree at `path`
 * (malloc'd, "" when it is not listed).
 */
static char *worktree_block(const fixture *fx, const char *path)
{
    char *all = unit_sh_out("git -C '%s' worktree list --porcelain", fx->repo);
    char head[PATH_MAX + 16];
    char *start, *end, *block;

    snprintf(head, sizeof(head), "worktree %s\n", path);
    start = strstr(all, head);
    if (!start) {
        free(all);
        return strdup("");
    }
    end = strstr(start, "\n\n");
    block = end ? strndup(start, (size_t)(end - start)) : strdup(start);
    free(all);
    return block;
}

static int worktree_count(const fixture *fx)
{
    char *n = unit_sh_out("git -C '%s' worktree list --porcelain | grep -c '^worktree '", fx->repo);
    int v = atoi(n);

    free(n);
    return v;
}

static int branch_exists(const fixture *fx, const char *branch)
{
    return unit_sh("git -C '%s' rev-parse -q --verify 'refs/heads/%s' >/dev/null", fx->repo,
                   branch) == 0;
}

static int ref_count(const fixture *fx)
{
    char *n = unit_sh_out("git -C '%s' for-each-ref | wc -l", fx->repo);
    int v = atoi(n);

    free(n);
    return v;
}

static void rev_parse(const fixture *fx, const char *dir, const char *rev, char out[41])
{
    char *s = unit_sh_out("git -C '%s' rev-parse '%s'", dir ? dir : fx->repo, rev);

    assert_int_equal(strlen(s), 40);
    memcpy(out, s, 41);
    free(s);
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    char tmpl[] = "/tmp/grove-test-git-XXXXXX";
    grove_err err = GROVE_ERR_INIT;

    assert_non_null(fx);
    assert_non_null(mkdtemp(tmpl));
    assert_non_null(realpath(tmpl, fx->root));
    snprintf(fx->repo, sizeof(fx->repo), "%s/repo", fx->root);
    assert_int_equal(
        unit_sh("set -e; git init -q -b main '%s'; cd '%s';"
                "git config user.name Grove; git config user.email grove@example.invalid;"
                "printf 'one\\n' > a.txt; mkdir src; printf 'int x;\\n' > src/b.c;"
                "printf '*.log\\n' > .gitignore; git add -A; git commit -qm first;"
                "printf 'two\\n' >> a.txt; git commit -qam second",
                fx->repo, fx->repo),
        0);
    rev_parse(fx, NULL, "main~1", fx->c1);
    rev_parse(fx, NULL, "main", fx->c2);
    if (gitops_repo_open(&fx->r, fx->repo, &err) != 0)
        fail_msg("open: %s", err.msg);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;

    if (fx->server > 0) { /* it holds the test's stdout: meson would wait for it */
        kill(fx->server, SIGKILL);
        waitpid(fx->server, NULL, 0);
    }
    gitops_repo_free(fx->r);
    unit_rmrf(fx->root);
    free(fx);
    return 0;
}

/* ---- open, HEAD, branches ---------------------------------------------------- */

static void expect_main(const fixture *fx, const char *path)
{
    gitops_repo *r = NULL;
    grove_err err = GROVE_ERR_INIT;
    char common[PATH_MAX + 8];

    if (gitops_repo_open(&r, path, &err) != 0)
        fail_msg("open '%s': %s", path ? path : "(cwd)", err.msg);
    snprintf(common, sizeof(common), "%s/.git", fx->repo);
    assert_string_equal(gitops_workdir(r), fx->repo);
    assert_string_equal(gitops_common_dir(r), common);
    gitops_repo_free(r);
}

static void test_open_main_and_linked(void **state)
{
    fixture *fx = *state;
    char path[PATH_MAX], cwd[PATH_MAX];

    expect_main(fx, fx->repo);
    snprintf(path, sizeof(path), "%s/src", fx->repo);
    expect_main(fx, path);

    /* From inside a linked worktree made by the CLI: still the main worktree. */
    snprintf(path, sizeof(path), "%s/cli-wt", fx->root);
    assert_int_equal(unit_sh("git -C '%s' worktree add -q -b cli '%s' 2>/dev/null", fx->repo, path),
                     0);
    expect_main(fx, path);
    snprintf(path, sizeof(path), "%s/cli-wt/src", fx->root);
    expect_main(fx, path);

    /* NULL: the working directory. */
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(path), 0);
    expect_main(fx, NULL);
    assert_int_equal(chdir(fx->repo), 0);
    expect_main(fx, NULL);
    assert_int_equal(chdir(cwd), 0);

    gitops_repo_free(NULL);
}

static void test_open_refused(void **state)
{
    fixture *fx = *state;
    gitops_repo *r = NULL;
    grove_err err = GROVE_ERR_INIT;
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/bare.git", fx->root);
    assert_int_equal(unit_sh("git init -q --bare '%s'", path), 0);
    assert_int_equal(gitops_repo_open(&r, path, &err), -1);
    assert_null(r);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_non_null(strstr(err.msg, "has no working directory"));
    assert_non_null(strstr(err.msg, path));

    /* Not a repository at all (the temp root is outside any repository). */
    assert_int_equal(gitops_repo_open(&r, fx->root, &err), -1);
    assert_null(r);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
}

static void test_head_branch(void **state)
{
    fixture *fx = *state;
    gitops_repo *r = NULL;
    grove_err err = GROVE_ERR_INIT;
    char *name = NULL;
    char path[PATH_MAX];

    assert_int_equal(gitops_head_branch(fx->r, &name, &err), 0);
    assert_string_equal(name, "main");
    free(name);

    assert_int_equal(unit_sh("git -C '%s' checkout -q -b topic", fx->repo), 0);
    assert_int_equal(gitops_head_branch(fx->r, &name, &err), 0);
    assert_string_equal(name, "topic");
    free(name);

    assert_int_equal(unit_sh("git -C '%s' checkout -q --detach", fx->repo), 0);
    name = NULL;
    assert_int_equal(gitops_head_branch(fx->r, &name, &err), -1);
    assert_null(name);
    assert_int_equal(err.code, GROVE_ECONFLICT);
    assert_int_equal(unit_sh("git -C '%s' checkout -q main", fx->repo), 0);

    /* Unborn HEAD: no commit yet. */
    snprintf(path, sizeof(path), "%s/empty", fx->root);
    assert_int_equal(unit_sh("git init -q -b main '%s'", path), 0);
    assert_int_equal(gitops_repo_open(&r, path, &err), 0);
    assert_int_equal(gitops_head_branch(r, &name, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    gitops_repo_free(r);
}

static void test_resolve_branch(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    char sha[41];

    assert_int_equal(gitops_resolve_branch(fx->r, "main", sha, &err), 0);
    assert_string_equal(sha, fx->c2);
    assert_int_equal(unit_sh("git -C '%s' branch feature main~1", fx->repo), 0);
    assert_int_equal(gitops_resolve_branch(fx->r, "feature", sha, &err), 0);
    assert_string_equal(sha, fx->c1);

    /* Remote-tracking branches, fetched from a real bare remote. */
    assert_int_equal(unit_sh("set -e; git clone -q --bare '%s' '%s/origin.git';"
                             "git -C '%s/origin.git' branch remote-only %s;"
                             "git -C '%s' remote add origin '%s/origin.git';"
                             "git -C '%s' fetch -q origin",
                             fx->repo, fx->root, fx->root, fx->c1, fx->repo, fx->root, fx->repo),
                     0);
    assert_int_equal(gitops_resolve_branch(fx->r, "origin/remote-only", sha, &err), 0);
    assert_string_equal(sha, fx->c1);
    assert_int_equal(gitops_resolve_branch(fx->r, "origin/main", sha, &err), 0);
    assert_string_equal(sha, fx->c2);
    /* A local branch wins over a remote-tracking one of the same name. */
    assert_int_equal(unit_sh("git -C '%s' branch origin/main main~1 2>/dev/null", fx->repo), 0);
    assert_int_equal(gitops_resolve_branch(fx->r, "origin/main", sha, &err), 0);
    assert_string_equal(sha, fx->c1);

    assert_int_equal(gitops_resolve_branch(fx->r, "nope", sha, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_string_equal(err.msg, "base branch 'nope' not found");
    assert_int_equal(gitops_resolve_branch(fx->r, "bad..name", sha, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_int_equal(gitops_resolve_branch(fx->r, "", sha, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
}

static void test_branch_name_valid(void **state)
{
    (void)state;
    assert_int_equal(gitops_branch_name_valid("grove/work-a1"), 1);
    assert_int_equal(gitops_branch_name_valid("main"), 1);
    assert_int_equal(gitops_branch_name_valid("bad..name"), 0);
    assert_int_equal(gitops_branch_name_valid("-x"), 0);
    assert_int_equal(gitops_branch_name_valid("a b"), 0);
    assert_int_equal(gitops_branch_name_valid("a~1"), 0);
    assert_int_equal(gitops_branch_name_valid("x.lock"), 0);
    assert_int_equal(gitops_branch_name_valid("HEAD"), 0);
    assert_int_equal(gitops_branch_name_valid(""), 0);
    assert_int_equal(gitops_branch_name_valid(NULL), 0);
}

/* ---- create / unlock ---------------------------------------------------------- */

typedef struct stages {
    char log[256];
    const char *mkdir_on_branch; /* when set: create this folder at "branch created" */
} stages;

static void record_stage(void *arg, const char *stage)
{
    stages *s = arg;

    strncat(s->log, stage, sizeof(s->log) - strlen(s->log) - 2);
    strcat(s->log, ";");
    if (s->mkdir_on_branch && strcmp(stage, "branch created") == 0) {
        char file[PATH_MAX + 16];
        FILE *f;

        assert_int_equal(mkdir(s->mkdir_on_branch, 0755), 0);
        snprintf(file, sizeof(file), "%s/keep.txt", s->mkdir_on_branch);
        f = fopen(file, "w");
        assert_non_null(f);
        fputs("someone else's\n", f);
        fclose(f);
    }
}

static void create_ok(fixture *fx, const char *name, const char *path, const char *branch,
                      const char *sha)
{
    grove_err err = GROVE_ERR_INIT;

    if (gitops_worktree_create(fx->r, name, path, branch, sha, NULL, NULL, &err) != 0)
        fail_msg("create '%s': %s", name, err.msg);
}

static void test_create_and_unlock(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    stages st = {{0}, NULL};
    char path[PATH_MAX], file[PATH_MAX + 16], sha[41];
    char *block, *s;

    snprintf(path, sizeof(path), "%s/wts/deep/w1", fx->root); /* parents missing */
    if (gitops_worktree_create(fx->r, "w1", path, "grove/w1", fx->c1, record_stage, &st, &err) != 0)
        fail_msg("create: %s", err.msg);
    assert_string_equal(st.log, "branch created;checked out;");

    /* Registered and locked with git's own reason, on the new branch. */
    block = worktree_block(fx, path);
    assert_non_null(strstr(block, "\nbranch refs/heads/grove/w1"));
    assert_non_null(strstr(block, "\nlocked initializing"));
    assert_non_null(strstr(block, fx->c1));
    free(block);
    assert_true(exists("%s/.git/worktrees/w1/locked", fx->repo));

    /* Files really checked out, at the first commit. */
    snprintf(file, sizeof(file), "%s/a.txt", path);
    s = read_file(file);
    assert_non_null(s);
    assert_string_equal(s, "one\n");
    free(s);
    assert_true(exists("%s/src/b.c", path));
    assert_true(exists("%s/.gitignore", path));
    s = unit_sh_out("git -C '%s' status --porcelain", path);
    assert_string_equal(s, "");
    free(s);
    s = unit_sh_out("git -C '%s' symbolic-ref HEAD", path);
    assert_string_equal(s, "refs/heads/grove/w1");
    free(s);
    rev_parse(fx, NULL, "grove/w1", sha);
    assert_string_equal(sha, fx->c1);
    assert_int_equal(gitops_worktree_head(path, sha, &err), 0);
    assert_string_equal(sha, fx->c1);

    /* The main worktree is untouched. */
    s = unit_sh_out("git -C '%s' status --porcelain", fx->repo);
    assert_string_equal(s, "");
    free(s);
    s = unit_sh_out("git -C '%s' symbolic-ref HEAD", fx->repo);
    assert_string_equal(s, "refs/heads/main");
    free(s);
    rev_parse(fx, NULL, "HEAD", sha);
    assert_string_equal(sha, fx->c2);

    /* Unlock: no longer locked; unlocking again is fine; unknown names are not. */
    assert_int_equal(gitops_worktree_unlock(fx->r, "w1", &err), 0);
    block = worktree_block(fx, path);
    assert_non_null(strstr(block, "branch refs/heads/grove/w1"));
    assert_null(strstr(block, "locked"));
    free(block);
    assert_int_equal(gitops_worktree_unlock(fx->r, "w1", &err), 0);
    assert_int_equal(gitops_worktree_unlock(fx->r, "nope", &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);

    /* A second worktree beside it works too (worktrees/ already exists). */
    snprintf(path, sizeof(path), "%s/wts/w2", fx->root);
    create_ok(fx, "w2", path, "grove/w2", fx->c2);
    assert_int_equal(worktree_count(fx), 3);
}

static void test_create_conflicts(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    char path[PATH_MAX], sha[41];
    int refs;

    /* Branch exists: conflict, branch not moved, nothing made. */
    assert_int_equal(unit_sh("git -C '%s' branch grove/dup", fx->repo), 0);
    refs = ref_count(fx);
    snprintf(path, sizeof(path), "%s/wt-dup", fx->root);
    assert_int_equal(
        gitops_worktree_create(fx->r, "dup", path, "grove/dup", fx->c1, NULL, NULL, &err), -1);
    assert_int_equal(err.code, GROVE_ECONFLICT);
    assert_string_equal(err.msg, "branch 'grove/dup' already exists");
    rev_parse(fx, NULL, "grove/dup", sha);
    assert_string_equal(sha, fx->c2);
    assert_false(exists("%s", path));
    assert_false(exists("%s/.git/worktrees/dup", fx->repo));

    /* Path exists (even empty): conflict, no branch, no admin dir. */
    snprintf(path, sizeof(path), "%s/wt-exists", fx->root);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(
        gitops_worktree_create(fx->r, "ex", path, "grove/ex", fx->c1, NULL, NULL, &err), -1);
    assert_int_equal(err.code, GROVE_ECONFLICT);
    assert_non_null(strstr(err.msg, "already exists"));
    assert_false(branch_exists(fx, "grove/ex"));
    assert_false(exists("%s/.git/worktrees/ex", fx->repo));
    assert_true(exists("%s", path));

    /* A leftover admin dir of that name: conflict too. */
    assert_int_equal(unit_sh("mkdir -p '%s/.git/worktrees/ghost'", fx->repo), 0);
    snprintf(path, sizeof(path), "%s/wt-ghost", fx->root);
    assert_int_equal(
        gitops_worktree_create(fx->r, "ghost", path, "grove/ghost", fx->c1, NULL, NULL, &err), -1);
    assert_int_equal(err.code, GROVE_ECONFLICT);
    assert_false(branch_exists(fx, "grove/ghost"));
    assert_false(exists("%s", path));
    assert_int_equal(unit_sh("rmdir '%s/.git/worktrees/ghost'", fx->repo), 0);

    /* Bad arguments. */
    snprintf(path, sizeof(path), "%s/wt-bad", fx->root);
    assert_int_equal(
        gitops_worktree_create(fx->r, "a/b", path, "grove/a", fx->c1, NULL, NULL, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_int_equal(
        gitops_worktree_create(fx->r, ".hidden", path, "grove/a", fx->c1, NULL, NULL, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_int_equal(gitops_worktree_create(fx->r, "", path, "grove/a", fx->c1, NULL, NULL, &err),
                     -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_int_equal(
        gitops_worktree_create(fx->r, "a", "rel/path", "grove/a", fx->c1, NULL, NULL, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_int_equal(
        gitops_worktree_create(fx->r, "a", "/tmp/x/../y", "grove/a", fx->c1, NULL, NULL, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_int_equal(
        gitops_worktree_create(fx->r, "a", path, "bad..name", fx->c1, NULL, NULL, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_int_equal(gitops_worktree_create(fx->r, "a", path, "grove/a", "zzz", NULL, NULL, &err),
                     -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_int_equal(gitops_worktree_create(fx->r, "a", path, "grove/a",
                                            "0123456789abcdef0123456789abcdef01234567", NULL, NULL,
                                            &err),
                     -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_false(exists("%s", path));
    assert_false(exists("%s/.git/worktrees/a", fx->repo));
    assert_int_equal(ref_count(fx), refs);
    assert_int_equal(worktree_count(fx), 1);
}

/* The folder appears after the branch was made: the branch is taken back, the folder kept. */
static void test_create_race_on_path(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    stages st = {{0}, NULL};
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/raced", fx->root);
    st.mkdir_on_branch = path;
    assert_int_equal(gitops_worktree_create(fx->r, "raced", path, "grove/raced", fx->c1,
                                            record_stage, &st, &err),
                     -1);
    assert_int_equal(err.code, GROVE_ECONFLICT);
    assert_string_equal(st.log, "branch created;");
    assert_false(branch_exists(fx, "grove/raced"));
    assert_false(exists("%s/.git/worktrees/raced", fx->repo));
    assert_true(exists("%s/keep.txt", path)); /* not ours: left alone */
    assert_int_equal(worktree_count(fx), 1);
}

/*
 * Stray folders in .git/worktrees make libgit2 1.5.1 report every branch as
 * checked out (notes, bugs A and B): create fails after the branch was made
 * and must leave nothing behind (libgit2's own branch deletion would refuse
 * with the same false answer). Branch deletion in remove still works, and
 * still refuses a branch that really is checked out. Once the strays are
 * pruned, create works.
 */
static void test_stray_admin_folders(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    char path[PATH_MAX];
    char *s;
    int refs;

    /* Two, so that bug A keeps one of them in libgit2's worktree list. */
    assert_int_equal(unit_sh("mkdir -p '%s/.git/worktrees/stray1' '%s/.git/worktrees/stray2'",
                             fx->repo, fx->repo),
                     0);
    refs = ref_count(fx);

    snprintf(path, sizeof(path), "%s/wts/s1", fx->root);
    assert_int_equal(
        gitops_worktree_create(fx->r, "s1", path, "grove/s1", fx->c1, NULL, NULL, &err), -1);
    assert_int_equal(err.code, GROVE_EGIT);
    assert_non_null(strstr(err.msg, "already checked out"));
    assert_null(strchr(err.msg, '\n'));
    assert_false(branch_exists(fx, "grove/s1"));
    assert_false(exists("%s/.git/worktrees/s1", fx->repo));
    assert_false(exists("%s", path));
    assert_false(exists("%s/wts", fx->root)); /* the parent it made, too */
    assert_int_equal(ref_count(fx), refs);

    /* Remove deletes a branch (and its config) despite the false answer... */
    assert_int_equal(unit_sh("git -C '%s' branch grove/gone && "
                             "git -C '%s' config branch.grove/gone.remote origin && "
                             "git -C '%s' config branch.grove/gone.merge refs/heads/x",
                             fx->repo, fx->repo, fx->repo),
                     0);
    if (gitops_worktree_remove(fx->r, "never", "grove/gone", &err) != 0)
        fail_msg("remove: %s", err.msg);
    assert_false(branch_exists(fx, "grove/gone"));
    s = unit_sh_out("git -C '%s' config --get-regexp '^branch\\.grove/gone\\.'", fx->repo);
    assert_string_equal(s, "");
    free(s);
    /* ...but not one that is checked out (in a CLI worktree, or the main one). */
    snprintf(path, sizeof(path), "%s/cli-wt", fx->root);
    assert_int_equal(
        unit_sh("git -C '%s' worktree add -q -b cli-b '%s' 2>/dev/null", fx->repo, path), 0);
    assert_int_equal(gitops_worktree_remove(fx->r, "never", "cli-b", &err), -1);
    assert_int_equal(err.code, GROVE_ECONFLICT);
    assert_true(branch_exists(fx, "cli-b"));
    assert_int_equal(gitops_worktree_remove(fx->r, "never", "main", &err), -1);
    assert_int_equal(err.code, GROVE_ECONFLICT);
    assert_true(branch_exists(fx, "main"));

    assert_int_equal(unit_sh("git -C '%s' worktree prune", fx->repo), 0);
    assert_false(exists("%s/.git/worktrees/stray1", fx->repo));
    snprintf(path, sizeof(path), "%s/wts/s1", fx->root);
    create_ok(fx, "s1", path, "grove/s1", fx->c1);
    assert_true(exists("%s/a.txt", path));
    assert_int_equal(gitops_worktree_remove(fx->r, "s1", "grove/s1", &err), 0);
    assert_false(branch_exists(fx, "grove/s1"));
}

/* ---- remove ------------------------------------------------------------------- */

static void test_remove(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    char path[PATH_MAX];
    char *block;

    /* Locked (never unlocked) and dirty: removed anyway, with its branch. */
    snprintf(path, sizeof(path), "%s/wts/rm1", fx->root);
    create_ok(fx, "rm1", path, "grove/rm1", fx->c2);
    assert_int_equal(unit_sh("cd '%s' && echo x >> a.txt && echo y > untracked.txt && mkdir d && "
                             "echo z > d/f",
                             path),
                     0);
    assert_int_equal(worktree_count(fx), 2);
    if (gitops_worktree_remove(fx->r, "rm1", "grove/rm1", &err) != 0)
        fail_msg("remove: %s", err.msg);
    assert_false(exists("%s", path));
    assert_false(exists("%s/.git/worktrees/rm1", fx->repo));
    assert_false(branch_exists(fx, "grove/rm1"));
    assert_int_equal(unit_sh("git -C '%s' reflog exists refs/heads/grove/rm1", fx->repo), 1);
    block = worktree_block(fx, path);
    assert_string_equal(block, "");
    free(block);
    assert_int_equal(worktree_count(fx), 1);

    /* Twice, and never made: fine. */
    assert_int_equal(gitops_worktree_remove(fx->r, "rm1", "grove/rm1", &err), 0);
    assert_int_equal(gitops_worktree_remove(fx->r, "never", NULL, &err), 0);

    /* Made by the CLI: removed the same way. */
    snprintf(path, sizeof(path), "%s/cli-wt", fx->root);
    assert_int_equal(
        unit_sh("git -C '%s' worktree add -q -b cli-b '%s' 2>/dev/null", fx->repo, path), 0);
    assert_int_equal(gitops_worktree_remove(fx->r, "cli-wt", "cli-b", &err), 0);
    assert_false(exists("%s", path));
    assert_false(branch_exists(fx, "cli-b"));
    assert_int_equal(worktree_count(fx), 1);

    /* Without a branch: the branch stays. */
    snprintf(path, sizeof(path), "%s/wts/keep-branch", fx->root);
    create_ok(fx, "keep-branch", path, "grove/keep", fx->c1);
    assert_int_equal(gitops_worktree_remove(fx->r, "keep-branch", NULL, &err), 0);
    assert_false(exists("%s", path));
    assert_true(branch_exists(fx, "grove/keep"));

    assert_int_equal(gitops_worktree_remove(fx->r, "../x", NULL, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
}

static void test_remove_foreign_and_broken(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    char path[PATH_MAX], file[PATH_MAX + 16];
    FILE *f;

    /* The folder's .git points elsewhere: registration and branch go, the folder stays. */
    snprintf(path, sizeof(path), "%s/wts/rm2", fx->root);
    create_ok(fx, "rm2", path, "grove/rm2", fx->c2);
    snprintf(file, sizeof(file), "%s/.git", path);
    f = fopen(file, "w");
    assert_non_null(f);
    fputs("gitdir: /nonexistent/.git/worktrees/rm2\n", f);
    fclose(f);
    assert_int_equal(gitops_worktree_remove(fx->r, "rm2", "grove/rm2", &err), 0);
    assert_false(exists("%s/.git/worktrees/rm2", fx->repo));
    assert_false(branch_exists(fx, "grove/rm2"));
    assert_true(exists("%s/a.txt", path));

    /* The admin dir is damaged (libgit2 cannot look it up): both still go. */
    snprintf(path, sizeof(path), "%s/wts/rm3", fx->root);
    create_ok(fx, "rm3", path, "grove/rm3", fx->c2);
    assert_int_equal(unit_sh("rm '%s/.git/worktrees/rm3/commondir'", fx->repo), 0);
    assert_int_equal(gitops_worktree_remove(fx->r, "rm3", "grove/rm3", &err), 0);
    assert_false(exists("%s", path));
    assert_false(exists("%s/.git/worktrees/rm3", fx->repo));
    assert_false(branch_exists(fx, "grove/rm3"));

    /* Its folder was deleted by hand: the admin dir and branch still go. */
    snprintf(path, sizeof(path), "%s/wts/rm4", fx->root);
    create_ok(fx, "rm4", path, "grove/rm4", fx->c2);
    unit_rmrf(path);
    assert_int_equal(gitops_worktree_remove(fx->r, "rm4", "grove/rm4", &err), 0);
    assert_false(exists("%s/.git/worktrees/rm4", fx->repo));
    assert_false(branch_exists(fx, "grove/rm4"));
    assert_int_equal(worktree_count(fx), 1);

    /* A branch checked out in the main worktree is not deleted. */
    assert_int_equal(gitops_worktree_remove(fx->r, "nothing", "main", &err), -1);
    assert_int_equal(err.code, GROVE_ECONFLICT);
    assert_non_null(strstr(err.msg, "'main'"));
    assert_true(branch_exists(fx, "main"));
}

/* ---- state ---------------------------------------------------------------------- */

/* gitops_worktree_head_cached() answers as gitops_worktree_head() does while worktrees change. */
static void test_head_cached(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    char path[PATH_MAX], other[PATH_MAX], sha[41], want[41];
    size_t hits, misses, h0, m0;

    snprintf(path, sizeof(path), "%s/wts/hc", fx->root);
    snprintf(other, sizeof(other), "%s/wts/hc2", fx->root);
    create_ok(fx, "hc", path, "grove/hc", fx->c1);
    create_ok(fx, "hc2", other, "grove/hc2", fx->c2);
    assert_int_equal(gitops_worktree_head_cached(fx->r, path, sha, &err), 0);
    assert_string_equal(sha, fx->c1);
    /* A commit in the worktree: the kept handle reads the new HEAD. */
    assert_int_equal(
        unit_sh("cd '%s' && echo x > hc.txt && git add hc.txt && git commit -qm hc", path), 0);
    assert_int_equal(gitops_worktree_head(path, want, &err), 0);
    assert_string_not_equal(want, fx->c1);
    assert_int_equal(gitops_worktree_head_cached(fx->r, path, sha, &err), 0);
    assert_string_equal(sha, want);
    /* Nothing changed: answered without reading HEAD. */
    gitops_worktree_head_counts(fx->r, &h0, &m0);
    assert_int_equal(gitops_worktree_head_cached(fx->r, path, sha, &err), 0);
    assert_string_equal(sha, want);
    gitops_worktree_head_counts(fx->r, &hits, &misses);
    assert_int_equal(hits, h0 + 1);
    assert_int_equal(misses, m0);
    /* Each way HEAD's commit can change is seen at the next call: */
    /* the branch file rewritten in place (same size) */
    assert_int_equal(
        unit_sh("printf '%%s\\n' %s > '%s/.git/refs/heads/grove/hc'", fx->c2, fx->repo), 0);
    assert_int_equal(gitops_worktree_head_cached(fx->r, path, sha, &err), 0);
    assert_string_equal(sha, fx->c2);
    /* HEAD names another branch */
    assert_int_equal(unit_sh("cd '%s' && git checkout -q -b hc-other %s", path, fx->c1), 0);
    assert_int_equal(gitops_worktree_head_cached(fx->r, path, sha, &err), 0);
    assert_string_equal(sha, fx->c1);
    /* the branch only in packed-refs, then packed-refs rewritten */
    assert_int_equal(unit_sh("cd '%s' && git pack-refs --all", fx->repo), 0);
    assert_int_equal(gitops_worktree_head_cached(fx->r, path, sha, &err), 0);
    assert_string_equal(sha, fx->c1);
    assert_int_equal(unit_sh("sed -i 's/^%s refs\\/heads\\/hc-other$/%s refs\\/heads\\/hc-other/' "
                             "'%s/.git/packed-refs'",
                             fx->c1, fx->c2, fx->repo),
                     0);
    rev_parse(fx, path, "HEAD", want);
    assert_string_equal(want, fx->c2);
    assert_int_equal(gitops_worktree_head_cached(fx->r, path, sha, &err), 0);
    assert_string_equal(sha, fx->c2);
    /* a detached HEAD */
    assert_int_equal(unit_sh("cd '%s' && git checkout -q --detach %s", path, fx->c1), 0);
    assert_int_equal(gitops_worktree_head_cached(fx->r, path, sha, &err), 0);
    assert_string_equal(sha, fx->c1);
    assert_int_equal(unit_sh("cd '%s' && git checkout -q grove/hc", path), 0);
    rev_parse(fx, path, "HEAD", want);
    assert_int_equal(gitops_worktree_head_cached(fx->r, path, sha, &err), 0);
    assert_string_equal(sha, want);
    /* Another worktree, and back. */
    assert_int_equal(gitops_worktree_head_cached(fx->r, other, sha, &err), 0);
    assert_string_equal(sha, fx->c2);
    assert_int_equal(gitops_worktree_head_cached(fx->r, path, sha, &err), 0);
    assert_string_equal(sha, want);
    /* The folder replaced by another worktree (the old admin folder still there): its HEAD. */
    assert_int_equal(unit_sh("rm -rf '%s'", path), 0);
    create_ok(fx, "hc3", path, "grove/hc3", fx->c2);
    assert_int_equal(gitops_worktree_head_cached(fx->r, path, sha, &err), 0);
    assert_string_equal(sha, fx->c2);
    /* Gone: the error of the uncached call. */
    assert_int_equal(unit_sh("rm -rf '%s'", path), 0);
    assert_int_equal(gitops_worktree_head_cached(fx->r, path, sha, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_int_equal(gitops_worktree_head_cached(fx->r, "/nonexistent/grove/wt", sha, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
}

/* The cached state: answered from the cache until something changes, then read again. */
static void test_state_cached(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    char path[PATH_MAX], sha[41];
    gitops_state st = {0};
    size_t hits, misses, h0, m0, i;

    snprintf(path, sizeof(path), "%s/wts/sc", fx->root);
    create_ok(fx, "sc", path, "grove/sc", fx->c1);

    assert_int_equal(gitops_worktree_state_cached(fx->r, path, fx->c1, &st, &err), 0);
    assert_int_equal(st.ndirty, 0);
    gitops_state_free(&st);
    gitops_worktree_state_counts(fx->r, &h0, &m0);
    assert_int_equal(h0, 0);
    assert_int_equal(m0, 1);
    /* Nothing changed: from the cache, the same answer. */
    assert_int_equal(gitops_worktree_state_cached(fx->r, path, fx->c1, &st, &err), 0);
    assert_string_equal(st.head, fx->c1);
    assert_int_equal(st.ndirty, 0);
    gitops_state_free(&st);
    gitops_worktree_state_counts(fx->r, &hits, &misses);
    assert_int_equal(hits, 1);
    assert_int_equal(misses, 1);
    /* Another base commit is another answer. */
    assert_int_equal(gitops_worktree_state_cached(fx->r, path, fx->c2, &st, &err), 0);
    assert_int_equal(st.behind, 1);
    gitops_state_free(&st);
    /* An edit in a subfolder, then a commit: each seen at the next call. */
    assert_int_equal(unit_sh("echo z >> '%s/src/b.c'", path), 0);
    assert_int_equal(gitops_worktree_state_cached(fx->r, path, fx->c2, &st, &err), 0);
    assert_int_equal(st.ndirty, 1);
    assert_string_equal(st.dirty_files[0], "src/b.c");
    gitops_state_free(&st);
    assert_int_equal(unit_sh("cd '%s' && git commit -qam four", path), 0);
    rev_parse(fx, path, "HEAD", sha);
    assert_int_equal(gitops_worktree_state_cached(fx->r, path, fx->c2, &st, &err), 0);
    assert_int_equal(st.ndirty, 0);
    assert_string_equal(st.head, sha);
    assert_int_equal(st.ahead, 1);
    gitops_state_free(&st);
    /* More worktrees than the cache keeps (4), in turn: every answer right. */
    {
        char more[6][PATH_MAX];
        size_t added[6] = {0};

        for (i = 0; i < 6; i++)
            snprintf(more[i], sizeof(more[i]), "%s/wts/sc%zu", fx->root, i + 3);
        for (i = 0; i < 6; i++) {
            char name[16], branch[32];

            snprintf(name, sizeof(name), "sc%zu", i + 3);
            snprintf(branch, sizeof(branch), "grove/sc%zu", i + 3);
            create_ok(fx, name, more[i], branch, fx->c1);
        }
        for (i = 0; i < 36; i++) {
            size_t k = (i * 5) % 6;

            if (i % 4 == 0) {
                assert_int_equal(unit_sh("echo %zu > '%s/u%zu.txt'", i, more[k], i), 0);
                added[k]++;
            }
            assert_int_equal(gitops_worktree_state_cached(fx->r, more[k], NULL, &st, &err), 0);
            assert_int_equal(st.ndirty, added[k]);
            gitops_state_free(&st);
        }
    }
    /* Gone: the error of the uncached call, and nothing kept. */
    assert_int_equal(unit_sh("rm -rf '%s'", path), 0);
    assert_int_equal(gitops_worktree_state_cached(fx->r, path, NULL, &st, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_null(st.dirty_files);
}

static void test_state(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    char path[PATH_MAX], sha[41];
    gitops_state st = {0};
    char *porcelain, *joined;
    size_t i;

    snprintf(path, sizeof(path), "%s/wts/st", fx->root);
    create_ok(fx, "st", path, "grove/st", fx->c1);
    assert_int_equal(gitops_worktree_unlock(fx->r, "st", &err), 0);

    assert_int_equal(gitops_worktree_state(path, fx->c1, &st, &err), 0);
    assert_string_equal(st.head, fx->c1);
    assert_int_equal(st.ahead, 0);
    assert_int_equal(st.behind, 0);
    assert_int_equal(st.ndirty, 0);
    gitops_state_free(&st);

    /* One commit in the worktree: ahead 1; base at a later main commit: behind 1. */
    assert_int_equal(unit_sh("cd '%s' && echo new > new.txt && git add new.txt && "
                             "git commit -qm third",
                             path),
                     0);
    rev_parse(fx, path, "HEAD", sha);
    assert_int_equal(gitops_worktree_state(path, fx->c1, &st, &err), 0);
    assert_string_equal(st.head, sha);
    assert_int_equal(st.ahead, 1);
    assert_int_equal(st.behind, 0);
    gitops_state_free(&st);
    assert_int_equal(gitops_worktree_state(path, fx->c2, &st, &err), 0);
    assert_int_equal(st.ahead, 1);
    assert_int_equal(st.behind, 1);
    gitops_state_free(&st);
    assert_int_equal(gitops_worktree_state(path, NULL, &st, &err), 0);
    assert_int_equal(st.ahead, 0);
    assert_int_equal(st.behind, 0);
    gitops_state_free(&st);
    {
        char want[41];

        rev_parse(fx, path, "HEAD", want);
        assert_int_equal(gitops_worktree_head(path, sha, &err), 0);
        assert_string_equal(sha, want);
    }

    /* Modified, staged, deleted, untracked file and folder; ignored files not listed. */
    assert_int_equal(
        unit_sh("set -e; cd '%s'; echo more >> a.txt; echo y >> src/b.c; git add src/b.c;"
                "echo s > staged.txt; git add staged.txt; rm new.txt; echo u > u.txt;"
                "mkdir -p newdir/inner; echo 1 > newdir/x.txt; echo 2 > newdir/inner/y;"
                "echo log > debug.log; mkdir logs; echo l > logs/a.log",
                path),
        0);
    assert_int_equal(gitops_worktree_state(path, fx->c1, &st, &err), 0);
    {
        static const char *const want[] = {"a.txt",   "new.txt",    "newdir/",
                                           "src/b.c", "staged.txt", "u.txt"};
        assert_int_equal(st.ndirty, sizeof(want) / sizeof(want[0]));
        for (i = 0; i < st.ndirty; i++)
            assert_string_equal(st.dirty_files[i], want[i]);

        /* Exactly what the CLI lists. */
        porcelain = unit_sh_out("git -C '%s' status --porcelain | cut -c4- | LC_ALL=C sort", path);
        joined = calloc(1, 4096);
        assert_non_null(joined);
        for (i = 0; i < st.ndirty; i++) {
            if (i)
                strcat(joined, "\n");
            strcat(joined, st.dirty_files[i]);
        }
        assert_string_equal(joined, porcelain);
        free(joined);
        free(porcelain);
    }
    gitops_state_free(&st);

    /* Errors: nothing is left in the state. */
    assert_int_equal(
        gitops_worktree_state(path, "0123456789abcdef0123456789abcdef01234567", &st, &err), -1);
    assert_null(st.dirty_files);
    assert_int_equal(st.ndirty, 0);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_non_null(strstr(err.msg, "0123456789abcdef0123456789abcdef01234567"));
    assert_int_equal(gitops_worktree_state(path, "main", &st, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_int_equal(gitops_worktree_state("/nonexistent/grove/wt", NULL, &st, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_int_equal(gitops_worktree_head("/nonexistent/grove/wt", sha, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    /* A plain folder (inside the main worktree) is not mistaken for its parent repo. */
    snprintf(path, sizeof(path), "%s/src", fx->repo);
    assert_int_equal(gitops_worktree_head(path, sha, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
}

/* The dirty files of `path` against what `git status --porcelain` lists there. */
static void expect_status_as_cli(const char *path, size_t n)
{
    grove_err err = GROVE_ERR_INIT;
    gitops_state st = {0};
    char *porcelain, joined[4096] = "";
    size_t i;

    assert_int_equal(gitops_worktree_state(path, NULL, &st, &err), 0);
    assert_int_equal(st.ndirty, n);
    for (i = 0; i < st.ndirty; i++) {
        if (i)
            strcat(joined, "\n");
        strcat(joined, st.dirty_files[i]);
    }
    porcelain = unit_sh_out("git -C '%s' status --porcelain | cut -c4- | LC_ALL=C sort", path);
    assert_string_equal(joined, porcelain);
    free(porcelain);
    gitops_state_free(&st);
}

/*
 * The status trusts the index's cache tree (git's TREE extension) only for
 * the tree it names: an index whose valid cache tree is another commit's
 * (after `git reset --soft`) lists that commit's changes as staged, and the
 * files are still compared with the index.
 */
static void test_state_cache_tree(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/wts/ct", fx->root);
    create_ok(fx, "ct", path, "grove/ct", fx->c1);
    assert_int_equal(gitops_worktree_unlock(fx->r, "ct", &err), 0);
    /* A commit leaves the cache tree valid: clean. */
    assert_int_equal(unit_sh("cd '%s' && echo one >> a.txt && echo n > n.txt && git add -A && "
                             "git commit -qm one",
                             path),
                     0);
    expect_status_as_cli(path, 0);
    /* HEAD back one commit, index (and its valid cache tree) and files as they were. */
    assert_int_equal(unit_sh("cd '%s' && git reset -q --soft HEAD~1", path), 0);
    expect_status_as_cli(path, 2);
    assert_int_equal(unit_sh("cd '%s' && git commit -qm again && echo two >> a.txt", path), 0);
    expect_status_as_cli(path, 1);
    /* Same size and mode, other content, written in the same second as the index. */
    assert_int_equal(unit_sh("cd '%s' && git checkout -q a.txt && git commit -q --allow-empty "
                             "-m e && sed -i 's/one/eno/' a.txt",
                             path),
                     0);
    expect_status_as_cli(path, 1);
}

/* ---- diff stat, branch head ------------------------------------------------------ */

/* What the CLI says: files, insertions, deletions of `git diff --no-renames a b`. */
static void cli_diff_stat(const fixture *fx, const char *a, const char *b, gitops_diff_stat *want)
{
    char *s =
        unit_sh_out("git -C '%s' diff --no-renames --numstat %s %s | "
                    "awk '{f++; if ($1 != \"-\") {i += $1; d += $2}} END {print f+0, i+0, d+0}'",
                    fx->repo, a, b);

    assert_int_equal(
        sscanf(s, "%lld %lld %lld", &want->files_changed, &want->insertions, &want->deletions), 3);
    free(s);
}

static void expect_diff_stat(const fixture *fx, const char *a, const char *b)
{
    gitops_diff_stat got, want;
    grove_err err = GROVE_ERR_INIT;

    if (gitops_diff_stat_between(fx->r, a, b, &got, &err) != 0)
        fail_msg("diff stat %s %s: %s", a, b, err.msg);
    cli_diff_stat(fx, a, b, &want);
    assert_int_equal(got.files_changed, want.files_changed);
    assert_int_equal(got.insertions, want.insertions);
    assert_int_equal(got.deletions, want.deletions);
}

static void test_diff_stat(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    gitops_diff_stat st;
    char c3[41], blob[41], prefix[8];
    char *s;

    /* main~1 -> main: one line added to a.txt. */
    assert_int_equal(gitops_diff_stat_between(fx->r, fx->c1, fx->c2, &st, &err), 0);
    assert_int_equal(st.files_changed, 1);
    assert_int_equal(st.insertions, 1);
    assert_int_equal(st.deletions, 0);
    /* Backwards: the line is deleted. */
    assert_int_equal(gitops_diff_stat_between(fx->r, fx->c2, fx->c1, &st, &err), 0);
    assert_int_equal(st.files_changed, 1);
    assert_int_equal(st.insertions, 0);
    assert_int_equal(st.deletions, 1);
    /* Same commit: nothing. A 7-digit prefix works. */
    memcpy(prefix, fx->c1, 7);
    prefix[7] = '\0';
    assert_int_equal(gitops_diff_stat_between(fx->r, prefix, fx->c1, &st, &err), 0);
    assert_int_equal(st.files_changed + st.insertions + st.deletions, 0);

    /* Edits, a deleted file, new files, a binary file and a mode change: as the CLI counts. */
    assert_int_equal(
        unit_sh("set -e; cd '%s'; git checkout -q -b big;"
                "printf 'uno\\ntwo\\nthree\\nfour\\n' > a.txt; git rm -q src/b.c;"
                "printf 'x\\ny\\nz\\n' > n1.txt; mkdir -p d/e; printf 'q\\n' > d/e/n2.txt;"
                "printf '\\000\\001\\002bin' > blob.bin; chmod +x .gitignore;"
                "git add -A; git commit -qm big; git checkout -q main",
                fx->repo),
        0);
    rev_parse(fx, NULL, "big", c3);
    expect_diff_stat(fx, fx->c2, c3);
    expect_diff_stat(fx, c3, fx->c1);
    expect_diff_stat(fx, fx->c1, c3);
    assert_int_equal(gitops_diff_stat_between(fx->r, fx->c2, c3, &st, &err), 0);
    assert_int_equal(st.files_changed, 6);      /* a.txt, src/b.c, n1, n2, blob.bin, .gitignore */
    assert_int_equal(st.insertions, 3 + 3 + 1); /* uno, three, four; n1.txt; n2.txt */
    assert_int_equal(st.deletions, 1 + 1);      /* one; src/b.c */

    /* Unknown commit: not found, named; not a commit or not hex: refused. */
    st.files_changed = 99;
    assert_int_equal(gitops_diff_stat_between(
                         fx->r, fx->c1, "0123456789abcdef0123456789abcdef01234567", &st, &err),
                     -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_string_equal(err.msg, "commit '0123456789abcdef0123456789abcdef01234567' not found");
    assert_int_equal(st.files_changed, 0);
    assert_int_equal(gitops_diff_stat_between(fx->r, "deadbeef", fx->c1, &st, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_non_null(strstr(err.msg, "'deadbeef'"));
    s = unit_sh_out("git -C '%s' rev-parse main:a.txt", fx->repo);
    snprintf(blob, sizeof(blob), "%s", s);
    free(s);
    assert_int_equal(gitops_diff_stat_between(fx->r, fx->c1, blob, &st, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_int_equal(gitops_diff_stat_between(fx->r, "main", fx->c1, &st, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_int_equal(gitops_diff_stat_between(fx->r, fx->c1, NULL, &st, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
}

static void test_branch_head(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    char sha[41];

    assert_int_equal(gitops_branch_head(fx->r, "main", sha, &err), 0);
    assert_string_equal(sha, fx->c2);
    assert_int_equal(unit_sh("git -C '%s' branch grove/x main~1", fx->repo), 0);
    assert_int_equal(gitops_branch_head(fx->r, "grove/x", sha, &err), 0);
    assert_string_equal(sha, fx->c1);
    /* Follows the branch as it moves. */
    assert_int_equal(unit_sh("git -C '%s' branch -f grove/x main", fx->repo), 0);
    assert_int_equal(gitops_branch_head(fx->r, "grove/x", sha, &err), 0);
    assert_string_equal(sha, fx->c2);

    /* Local branches only: a remote-tracking one or a tag is not a branch here. */
    assert_int_equal(unit_sh("git -C '%s' update-ref refs/remotes/origin/only %s && "
                             "git -C '%s' tag v1 %s",
                             fx->repo, fx->c1, fx->repo, fx->c1),
                     0);
    assert_int_equal(gitops_branch_head(fx->r, "origin/only", sha, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_string_equal(sha, "");
    assert_int_equal(gitops_branch_head(fx->r, "v1", sha, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_int_equal(gitops_branch_head(fx->r, "nope", sha, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_string_equal(err.msg, "branch 'nope' not found");
    assert_int_equal(gitops_branch_head(fx->r, "bad..name", sha, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_int_equal(gitops_branch_head(fx->r, "", sha, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
}

/* ---- removal loss ------------------------------------------------------------------ */

static void expect_loss(const fixture *fx, const char *path, const char *branch, const char *base,
                        size_t dirty, size_t unique)
{
    grove_err err = GROVE_ERR_INIT;
    gitops_loss loss = {99, 99};

    if (gitops_removal_loss(fx->r, path, branch, base, &loss, &err) != 0)
        fail_msg("removal loss of '%s': %s", branch, err.msg);
    assert_int_equal(loss.dirty_files, dirty);
    assert_int_equal(loss.unique_commits, unique);
}

static void test_removal_loss(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    gitops_loss loss;
    char path[PATH_MAX], head[41];
    char *s;

    snprintf(path, sizeof(path), "%s/wts/loss", fx->root);
    create_ok(fx, "loss", path, "grove/loss", fx->c1);
    assert_int_equal(gitops_worktree_unlock(fx->r, "loss", &err), 0);

    /* Fresh branch at its base: nothing to lose. */
    expect_loss(fx, path, "grove/loss", fx->c1, 0, 0);
    expect_loss(fx, path, "grove/loss", NULL, 0, 0);

    /* Commits made in the worktree exist nowhere else. */
    assert_int_equal(
        unit_sh("cd '%s' && echo 1 > n1.txt && git add n1.txt && git commit -qm n1", path), 0);
    expect_loss(fx, path, "grove/loss", fx->c1, 0, 1);
    expect_loss(fx, path, "grove/loss", NULL, 0, 1);
    assert_int_equal(
        unit_sh("cd '%s' && echo 2 > n2.txt && git add n2.txt && git commit -qm n2", path), 0);
    expect_loss(fx, path, "grove/loss", fx->c2, 0, 2);
    /* base_commit hides what it reaches. */
    rev_parse(fx, path, "HEAD~1", head);
    expect_loss(fx, path, "grove/loss", head, 0, 1);

    /*
     * Pushed to a bare remote and fetched: refs/remotes/origin/grove/loss has them.
     * A dangling origin/HEAD and a ref to a blob must not get in the way.
     */
    assert_int_equal(
        unit_sh("set -e; git init -q --bare '%s/origin.git';"
                "git -C '%s' remote add origin '%s/origin.git';"
                "git -C '%s' push -q origin grove/loss 2>/dev/null;"
                "git -C '%s' fetch -q origin;"
                "git -C '%s' rev-parse -q --verify refs/remotes/origin/grove/loss >/dev/null;"
                "git -C '%s' symbolic-ref refs/remotes/origin/HEAD "
                "refs/remotes/origin/gone;"
                "git -C '%s' update-ref refs/remotes/origin/blob $(git -C '%s' rev-parse "
                "main:a.txt)",
                fx->root, fx->repo, fx->root, path, fx->repo, fx->repo, fx->repo, fx->repo,
                fx->repo),
        0);
    expect_loss(fx, path, "grove/loss", fx->c1, 0, 0);
    expect_loss(fx, path, "grove/loss", NULL, 0, 0);

    /* One more local commit: 1; another local branch holding it: 0 again. */
    assert_int_equal(
        unit_sh("cd '%s' && echo 3 > n3.txt && git add n3.txt && git commit -qm n3", path), 0);
    expect_loss(fx, path, "grove/loss", fx->c1, 0, 1);
    assert_int_equal(unit_sh("git -C '%s' branch keep grove/loss", fx->repo), 0);
    expect_loss(fx, path, "grove/loss", fx->c1, 0, 0);
    assert_int_equal(unit_sh("git -C '%s' branch -q -D keep", fx->repo), 0);
    expect_loss(fx, path, "grove/loss", fx->c1, 0, 1);

    /* Uncommitted work: a modified and an untracked file; ignored ones do not count. */
    assert_int_equal(
        unit_sh("cd '%s' && echo more >> a.txt && echo u > u.txt && echo l > x.log", path), 0);
    expect_loss(fx, path, "grove/loss", fx->c1, 2, 1);
    s = unit_sh_out("git -C '%s' status --porcelain | wc -l", path);
    assert_string_equal(s, "2");
    free(s);

    /* The folder is gone: no uncommitted work, the commits still count. */
    unit_rmrf(path);
    expect_loss(fx, path, "grove/loss", fx->c1, 0, 1);
    expect_loss(fx, NULL, "grove/loss", fx->c1, 0, 1);

    /* Errors. */
    loss.dirty_files = loss.unique_commits = 7;
    assert_int_equal(gitops_removal_loss(fx->r, path, "grove/nope", NULL, &loss, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_string_equal(err.msg, "branch 'grove/nope' not found");
    assert_int_equal(loss.dirty_files + loss.unique_commits, 0);
    assert_int_equal(gitops_removal_loss(fx->r, path, "grove/loss",
                                         "0123456789abcdef0123456789abcdef01234567", &loss, &err),
                     -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_non_null(strstr(err.msg, "0123456789abcdef0123456789abcdef01234567"));
    assert_int_equal(gitops_removal_loss(fx->r, path, "grove/loss", "HEAD", &loss, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
}

/* ---- merged into the base -------------------------------------------------------------- */

static void expect_merged(const fixture *fx, const char *branch, const char *base,
                          const char *base_commit, gitops_merged_how how, int own)
{
    grove_err err = GROVE_ERR_INIT;
    gitops_merged m;
    char head[41], base_head[41];

    if (gitops_branch_merged(fx->r, branch, base, base_commit, &m, &err) != 0)
        fail_msg("gitops_branch_merged(%s, %s): %s", branch, base, err.msg);
    if ((int)m.how != (int)how || m.own_commits != own)
        fail_msg("%s into %s: how %d own %d, expected how %d own %d", branch, base, (int)m.how,
                 m.own_commits, (int)how, own);
    rev_parse(fx, NULL, branch, head);
    rev_parse(fx, NULL, base, base_head);
    assert_string_equal(m.head, head);
    assert_string_equal(m.base_head, base_head);
}

/* A branch `branch` from main with one commit adding `file`; main checked out again. */
static void branch_with_commit(const fixture *fx, const char *branch, const char *file)
{
    assert_int_equal(unit_sh("set -e; cd '%s'; git checkout -q -b '%s' main; echo '%s' > '%s';"
                             "git add '%s'; git commit -qm '%s'; git checkout -q main",
                             fx->repo, branch, file, file, file, file),
                     0);
}

static void test_branch_merged(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    gitops_merged m;
    char start[41], *before, *after;

    /* No commits of its own: at its base commit, or behind it. Never "merged". */
    assert_int_equal(unit_sh("git -C '%s' branch grove/fresh main", fx->repo), 0);
    expect_merged(fx, "grove/fresh", "main", fx->c2, GITOPS_MERGED_NO, 0);
    assert_int_equal(unit_sh("git -C '%s' branch grove/behind main~1", fx->repo), 0);
    expect_merged(fx, "grove/behind", "main", fx->c2, GITOPS_MERGED_NO, 0);
    /* Without a base commit it has its "own" commit only when it is not in the base. */
    expect_merged(fx, "grove/fresh", "main", NULL, GITOPS_MERGED_ANCESTOR, 1);

    /* Fast-forward merged: an ancestor of (here: equal to) the base head. */
    branch_with_commit(fx, "grove/ff", "ff.txt");
    expect_merged(fx, "grove/ff", "main", fx->c2, GITOPS_MERGED_NO, 1);
    assert_int_equal(unit_sh("git -C '%s' merge -q --ff-only grove/ff", fx->repo), 0);
    expect_merged(fx, "grove/ff", "main", fx->c2, GITOPS_MERGED_ANCESTOR, 1);
    rev_parse(fx, NULL, "main", start);

    /* Squash-merged (two commits into one), and more work on main since: by tree. */
    branch_with_commit(fx, "grove/sq", "s1.txt");
    assert_int_equal(unit_sh("set -e; cd '%s'; git checkout -q grove/sq; echo x > s2.txt;"
                             "git add s2.txt; git commit -qm s2; git checkout -q main",
                             fx->repo),
                     0);
    expect_merged(fx, "grove/sq", "main", start, GITOPS_MERGED_NO, 1);
    assert_int_equal(unit_sh("set -e; cd '%s'; git merge -q --squash grove/sq >/dev/null;"
                             "git commit -qm squashed; echo m > later.txt; git add later.txt;"
                             "git commit -qm later",
                             fx->repo),
                     0);
    before = unit_sh_out("git -C '%s' count-objects | cut -d' ' -f1", fx->repo);
    expect_merged(fx, "grove/sq", "main", start, GITOPS_MERGED_TREE, 1);
    after = unit_sh_out("git -C '%s' count-objects | cut -d' ' -f1", fx->repo);
    assert_string_equal(before, after); /* in memory: no object written */
    free(before);
    free(after);

    /* Cherry-picked (as a rebase-and-merge does): by tree. */
    branch_with_commit(fx, "grove/cp", "cp.txt");
    /* main moves first: a pick onto the same parent in the same second is the same commit */
    assert_int_equal(unit_sh("set -e; cd '%s'; echo n > cp-base.txt; git add cp-base.txt;"
                             "git commit -qm 'main moves'; git cherry-pick grove/cp >/dev/null",
                             fx->repo),
                     0);
    expect_merged(fx, "grove/cp", "main", start, GITOPS_MERGED_TREE, 1);

    /* Squash-merged, then the base undid part of it: not merged. */
    branch_with_commit(fx, "grove/undone", "u.txt");
    assert_int_equal(unit_sh("set -e; cd '%s'; git merge -q --squash grove/undone >/dev/null;"
                             "git commit -qm squashed; git rm -q u.txt; git commit -qm undo",
                             fx->repo),
                     0);
    expect_merged(fx, "grove/undone", "main", start, GITOPS_MERGED_NO, 1);

    /* A conflict with the base: not merged. */
    assert_int_equal(unit_sh("set -e; cd '%s'; git checkout -q -b grove/cf main;"
                             "echo theirs > a.txt; git commit -qam cf; git checkout -q main;"
                             "echo ours > a.txt; git commit -qam ours",
                             fx->repo),
                     0);
    expect_merged(fx, "grove/cf", "main", start, GITOPS_MERGED_NO, 1);

    /* Unrelated history: not merged. */
    assert_int_equal(unit_sh("set -e; cd '%s'; git checkout -q --orphan grove/alien;"
                             "git commit -qm alien; git checkout -q -f main",
                             fx->repo),
                     0);
    expect_merged(fx, "grove/alien", "main", NULL, GITOPS_MERGED_NO, 1);

    /* Errors: unknown branch or base. */
    assert_int_equal(gitops_branch_merged(fx->r, "grove/nope", "main", NULL, &m, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_string_equal(err.msg, "branch 'grove/nope' not found");
    assert_int_equal(gitops_branch_merged(fx->r, "grove/ff", "nope", NULL, &m, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_string_equal(err.msg, "base branch 'nope' not found");
    assert_int_equal(m.how, GITOPS_MERGED_NO);
}

/* ---- .worktreeinclude ---------------------------------------------------------------- */

static void write_text(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

/* dest/rel is a copy of src/rel: same type, content (or link target) and permission bits. */
static void expect_same(const char *src, const char *dest, const char *rel)
{
    char a[PATH_MAX], b[PATH_MAX];
    struct stat sa, sb;

    snprintf(a, sizeof(a), "%s/%s", src, rel);
    snprintf(b, sizeof(b), "%s/%s", dest, rel);
    assert_int_equal(lstat(a, &sa), 0);
    if (lstat(b, &sb) != 0)
        fail_msg("'%s' was not copied", rel);
    assert_int_equal(sa.st_mode & (S_IFMT | 0777), sb.st_mode & (S_IFMT | 0777));
    if (S_ISREG(sa.st_mode)) {
        char *ca = read_file(a), *cb = read_file(b);

        assert_non_null(ca);
        assert_non_null(cb);
        assert_string_equal(ca, cb);
        free(ca);
        free(cb);
        assert_int_equal(sa.st_mtim.tv_sec, sb.st_mtim.tv_sec);
    } else if (S_ISLNK(sa.st_mode)) {
        char ta[PATH_MAX] = {0}, tb[PATH_MAX] = {0};

        assert_true(readlink(a, ta, sizeof(ta) - 1) > 0);
        assert_true(readlink(b, tb, sizeof(tb) - 1) > 0);
        assert_string_equal(ta, tb);
    }
}

static void expect_content(const char *dir, const char *rel, const char *want)
{
    char path[PATH_MAX];
    char *s;

    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    s = read_file(path);
    if (!s)
        fail_msg("'%s' missing", path);
    assert_string_equal(s, want);
    free(s);
}

/* Makes a worktree `name` at root/wts/<name> on the main worktree's current HEAD. */
static void new_worktree(fixture *fx, const char *name, char *path, size_t cap)
{
    grove_err err = GROVE_ERR_INIT;
    char head[41], branch[64];

    rev_parse(fx, NULL, "HEAD", head);
    snprintf(path, cap, "%s/wts/%s", fx->root, name);
    snprintf(branch, sizeof(branch), "grove/%s", name);
    create_ok(fx, name, path, branch, head);
    assert_int_equal(gitops_worktree_unlock(fx->r, name, &err), 0);
}

static void test_copy_worktreeinclude(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    char path[PATH_MAX], file[PATH_MAX + 32];
    size_t copied = 99;
    char *s;

    /* Tracked: .gitignore, sub/tracked.txt and (forced) .env.example. */
    assert_int_equal(unit_sh("set -e; cd '%s';"
                             "printf '.env*\\nnode_modules/\\nbuild/\\nsecrets/\\n' > .gitignore;"
                             "mkdir -p sub node_modules secrets build;"
                             "echo tracked > sub/tracked.txt; echo committed > .env.example;"
                             "git add .gitignore sub/tracked.txt; git add -f .env.example;"
                             "git commit -qm ignores",
                             fx->repo),
                     0);
    snprintf(file, sizeof(file), "%s/.env", fx->repo);
    write_text(file, "TOKEN=1\n", 0600);
    snprintf(file, sizeof(file), "%s/.env.local", fx->repo);
    write_text(file, "LOCAL=1\n", 0644);
    snprintf(file, sizeof(file), "%s/sub/.env", fx->repo);
    write_text(file, "SUB=1\n", 0640);
    snprintf(file, sizeof(file), "%s/node_modules/x.js", fx->repo);
    write_text(file, "x\n", 0644);
    snprintf(file, sizeof(file), "%s/build/out.o", fx->repo);
    write_text(file, "o\n", 0755);
    snprintf(file, sizeof(file), "%s/secrets/key.txt", fx->repo);
    write_text(file, "KEY\n", 0400);
    assert_int_equal(chmod(file, 0400), 0);
    snprintf(file, sizeof(file), "%s/secrets", fx->repo);
    assert_int_equal(chmod(file, 0750), 0);
    snprintf(file, sizeof(file), "%s/.env.example", fx->repo);
    write_text(file, "modified in main\n", 0644); /* tracked: must not be copied */
    snprintf(file, sizeof(file), "%s/.worktreeinclude", fx->repo);
    write_text(file, "# comment\n.env*\n!.env.local\nsecrets/\n", 0644);

    new_worktree(fx, "inc", path, sizeof(path));
    if (gitops_copy_worktreeinclude(fx->r, path, &copied, &err) != 0)
        fail_msg("copy: %s", err.msg);
    assert_int_equal(copied, 3); /* .env, sub/.env, secrets/ */
    expect_same(fx->repo, path, ".env");
    expect_same(fx->repo, path, "sub/.env");
    expect_same(fx->repo, path, "secrets");
    expect_same(fx->repo, path, "secrets/key.txt");
    assert_false(exists("%s/.env.local", path));
    assert_false(exists("%s/node_modules", path));
    assert_false(exists("%s/build", path));
    assert_false(exists("%s/.worktreeinclude", path));
    expect_content(path, ".env.example", "committed\n");
    expect_content(path, "sub/tracked.txt", "tracked\n");
    /* Only ignored files came: git sees a clean worktree. */
    s = unit_sh_out("git -C '%s' status --porcelain", path);
    assert_string_equal(s, "");
    free(s);
    s = unit_sh_out("git -C '%s' status --porcelain --ignored | LC_ALL=C sort | tr '\\n' ' '",
                    path);
    assert_string_equal(s, "!! .env !! secrets/ !! sub/.env ");
    free(s);

    /* Again: what exists is not overwritten, nothing counts as copied. */
    snprintf(file, sizeof(file), "%s/.env", fx->repo);
    write_text(file, "TOKEN=2\n", 0600);
    assert_int_equal(gitops_copy_worktreeinclude(fx->r, path, &copied, &err), 0);
    assert_int_equal(copied, 0);
    expect_content(path, ".env", "TOKEN=1\n");

    /* No .worktreeinclude: nothing to do. */
    snprintf(file, sizeof(file), "%s/.worktreeinclude", fx->repo);
    assert_int_equal(unlink(file), 0);
    new_worktree(fx, "noinc", path, sizeof(path));
    copied = 99;
    assert_int_equal(gitops_copy_worktreeinclude(fx->r, path, &copied, &err), 0);
    assert_int_equal(copied, 0);
    assert_false(exists("%s/.env", path));
    assert_int_equal(gitops_copy_worktreeinclude(fx->r, path, NULL, &err), 0);

    /* Only comments and blank lines: nothing either. */
    write_text(file, "# nothing\n\n   \n", 0644);
    assert_int_equal(gitops_copy_worktreeinclude(fx->r, path, &copied, &err), 0);
    assert_int_equal(copied, 0);
    assert_false(exists("%s/.env", path));

    /* Bad destinations. */
    assert_int_equal(gitops_copy_worktreeinclude(fx->r, "relative/x", &copied, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_int_equal(gitops_copy_worktreeinclude(fx->r, fx->repo, &copied, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    snprintf(path, sizeof(path), "%s/wts/none", fx->root);
    assert_int_equal(gitops_copy_worktreeinclude(fx->r, path, &copied, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);

    snprintf(file, sizeof(file), "%s/secrets", fx->repo);
    assert_int_equal(chmod(file, 0700), 0);
}

/*
 * Symbolic links (copied as links, never followed out of either worktree), a
 * literal path inside an ignored folder, a negation inside an included
 * folder, untracked folders, modes, read-only folders, existing files.
 */
static void test_copy_worktreeinclude_edges(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    char path[PATH_MAX], file[PATH_MAX + 32], out1[PATH_MAX], out2[PATH_MAX];
    size_t copied = 99;
    struct stat st;
    char *s;

    snprintf(out1, sizeof(out1), "%s/outside1", fx->root);
    snprintf(out2, sizeof(out2), "%s/outside2", fx->root);
    assert_int_equal(unit_sh("set -e; mkdir '%s' '%s'; echo outside > '%s/.env'", out1, out2, out1),
                     0);
    assert_int_equal(
        unit_sh("set -e; cd '%s';"
                "printf 'config/\\ncache/\\nlinks/\\n*.local\\n.env\\nro/\\n' > .gitignore;"
                "git add .gitignore; git commit -qm ignores;"
                "mkdir config cache links deep deep/er other ro;"
                "echo app > config/app.json; echo secret > config/secret.json;"
                "echo small > cache/small.txt; echo big > cache/big.bin;"
                "ln -s ../a.txt links/in; ln -s /etc/passwd links/out; ln -s '%s' evil;"
                "echo keep > keep.local; printf '#!/bin/sh\\n' > tool.local; chmod 755 tool.local;"
                "echo notes > deep/notes.txt; echo deep > deep/er/.env; echo other > other/.env;"
                "echo ro > ro/f; chmod 555 ro",
                fx->repo, out1),
        0);
    snprintf(file, sizeof(file), "%s/.worktreeinclude", fx->repo);
    write_text(file,
               "config/secret.json\ncache/\n!cache/big.bin\n/links/\n*.local  \r\n"
               "evil/.env\n.env\nro/\n../outside1/.env\n/.git/config\n",
               0644);

    new_worktree(fx, "edge", path, sizeof(path));
    /* In the new worktree, "other" is a link to a folder outside, and keep.local exists. */
    snprintf(file, sizeof(file), "%s/other", path);
    assert_int_equal(symlink(out2, file), 0);
    snprintf(file, sizeof(file), "%s/keep.local", path);
    write_text(file, "mine\n", 0644);

    if (gitops_copy_worktreeinclude(fx->r, path, &copied, &err) != 0)
        fail_msg("copy: %s", err.msg);
    /* config/secret.json, cache/, links/, tool.local, deep/er/.env, ro/ */
    assert_int_equal(copied, 6);

    /* A literal path inside an ignored folder, without the rest of it. */
    expect_same(fx->repo, path, "config/secret.json");
    assert_false(exists("%s/config/app.json", path));
    /* A negation inside an included folder. */
    expect_same(fx->repo, path, "cache/small.txt");
    assert_false(exists("%s/cache/big.bin", path));
    /* Links stay links, even one pointing out of the worktree. */
    expect_same(fx->repo, path, "links/in");
    expect_same(fx->repo, path, "links/out");
    /* Modes; an existing file is kept. */
    expect_same(fx->repo, path, "tool.local");
    expect_content(path, "keep.local", "mine\n");
    /* Ignored files in an untracked folder; its untracked files are not ignored: not copied. */
    expect_same(fx->repo, path, "deep/er/.env");
    assert_false(exists("%s/deep/notes.txt", path));
    /* A read-only folder is filled, then gets its mode. */
    expect_same(fx->repo, path, "ro");
    expect_same(fx->repo, path, "ro/f");
    /* Never through a link: not out of the main worktree, not out of the new one. */
    assert_false(exists("%s/evil", path));
    assert_false(exists("%s/.env", out2));
    s = unit_sh_out("ls -A '%s'", out2);
    assert_string_equal(s, "");
    free(s);
    /* Nothing above the worktree, nothing from .git. */
    assert_false(exists("%s/wts/outside1", fx->root));
    assert_int_equal(lstat(path, &st), 0);
    snprintf(file, sizeof(file), "%s/.git", path);
    assert_int_equal(lstat(file, &st), 0);
    assert_true(S_ISREG(st.st_mode));

    snprintf(file, sizeof(file), "%s/ro", path);
    assert_int_equal(chmod(file, 0755), 0);
    snprintf(file, sizeof(file), "%s/ro", fx->repo);
    assert_int_equal(chmod(file, 0755), 0);

    /* A .worktreeinclude that is a link is not read. */
    snprintf(file, sizeof(file), "%s/.worktreeinclude", fx->repo);
    assert_int_equal(unlink(file), 0);
    assert_int_equal(symlink("/etc/hostname", file), 0);
    assert_int_equal(gitops_copy_worktreeinclude(fx->r, path, &copied, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_int_equal(copied, 0);
}

/* ---- worktree list, prune ------------------------------------------------------------ */

static void test_worktree_list_and_prune(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    gitops_worktree_info *list = NULL;
    char pa[PATH_MAX], pb[PATH_MAX], pc[PATH_MAX], file[PATH_MAX + 32];
    size_t n = 99;
    char *block;

    /* No worktrees folder yet: an empty list. */
    assert_false(exists("%s/.git/worktrees", fx->repo));
    assert_int_equal(gitops_worktree_list(fx->r, &list, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_null(list);
    gitops_worktree_list_free(NULL, 0);

    snprintf(pb, sizeof(pb), "%s/wts/b-wt", fx->root);
    create_ok(fx, "b-wt", pb, "grove/b", fx->c1); /* stays locked "initializing" */
    snprintf(pa, sizeof(pa), "%s/wts/a-wt", fx->root);
    create_ok(fx, "a-wt", pa, "grove/a", fx->c2);
    assert_int_equal(gitops_worktree_unlock(fx->r, "a-wt", &err), 0);
    snprintf(pc, sizeof(pc), "%s/c-wt", fx->root);
    assert_int_equal(unit_sh("git -C '%s' worktree add -q --detach '%s' 2>/dev/null && "
                             "git -C '%s' worktree lock c-wt",
                             fx->repo, pc, fx->repo),
                     0);
    /* A stray folder and a stray file in .git/worktrees. */
    assert_int_equal(unit_sh("mkdir '%s/.git/worktrees/stray' && touch '%s/.git/worktrees/file'",
                             fx->repo, fx->repo),
                     0);

    assert_int_equal(gitops_worktree_list(fx->r, &list, &n, &err), 0);
    assert_int_equal(n, 4);
    assert_string_equal(list[0].name, "a-wt");
    assert_string_equal(list[0].path, pa);
    assert_string_equal(list[0].branch, "grove/a");
    assert_null(list[0].lock_reason);
    assert_int_equal(list[0].folder_exists, 1);
    assert_string_equal(list[1].name, "b-wt");
    assert_string_equal(list[1].path, pb);
    assert_string_equal(list[1].branch, "grove/b");
    assert_string_equal(list[1].lock_reason, "initializing");
    assert_int_equal(list[1].folder_exists, 1);
    assert_string_equal(list[2].name, "c-wt");
    assert_string_equal(list[2].path, pc);
    assert_null(list[2].branch); /* detached */
    assert_string_equal(list[2].lock_reason, "");
    assert_int_equal(list[2].folder_exists, 1);
    assert_string_equal(list[3].name, "stray");
    assert_null(list[3].path);
    assert_null(list[3].branch);
    assert_null(list[3].lock_reason);
    assert_int_equal(list[3].folder_exists, 0);
    gitops_worktree_list_free(list, n);

    /* A folder deleted by hand: listed with folder_exists 0, then pruned. */
    unit_rmrf(pa);
    assert_int_equal(gitops_worktree_list(fx->r, &list, &n, &err), 0);
    assert_int_equal(n, 4);
    assert_string_equal(list[0].name, "a-wt");
    assert_string_equal(list[0].path, pa);
    assert_int_equal(list[0].folder_exists, 0);
    assert_int_equal(list[1].folder_exists, 1);
    gitops_worktree_list_free(list, n);
    block = worktree_block(fx, pa);
    assert_non_null(strstr(block, "prunable"));
    free(block);
    if (gitops_worktree_prune_stale(fx->r, "a-wt", &err) != 0)
        fail_msg("prune: %s", err.msg);
    block = worktree_block(fx, pa);
    assert_string_equal(block, "");
    free(block);
    assert_false(exists("%s/.git/worktrees/a-wt", fx->repo));
    assert_true(branch_exists(fx, "grove/a")); /* only the entry goes */
    assert_int_equal(gitops_worktree_prune_stale(fx->r, "a-wt", &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_string_equal(err.msg, "worktree 'a-wt' not found");

    /* Its folder still exists: refused, nothing changed. */
    assert_int_equal(gitops_worktree_prune_stale(fx->r, "c-wt", &err), -1);
    assert_int_equal(err.code, GROVE_ECONFLICT);
    snprintf(file, sizeof(file), "worktree 'c-wt' still has its folder at '%s'", pc);
    assert_string_equal(err.msg, file);
    assert_true(exists("%s/.git/worktrees/c-wt", fx->repo));

    /* Gone but locked: refused until unlocked. */
    unit_rmrf(pb);
    assert_int_equal(gitops_worktree_prune_stale(fx->r, "b-wt", &err), -1);
    assert_int_equal(err.code, GROVE_ECONFLICT);
    assert_non_null(strstr(err.msg, "locked"));
    assert_non_null(strstr(err.msg, "initializing"));
    assert_true(exists("%s/.git/worktrees/b-wt", fx->repo));
    assert_int_equal(gitops_worktree_unlock(fx->r, "b-wt", &err), 0);
    assert_int_equal(gitops_worktree_prune_stale(fx->r, "b-wt", &err), 0);
    assert_false(exists("%s/.git/worktrees/b-wt", fx->repo));

    /* A stray folder without a gitdir file has no folder: pruned. */
    assert_int_equal(gitops_worktree_prune_stale(fx->r, "stray", &err), 0);
    assert_false(exists("%s/.git/worktrees/stray", fx->repo));
    assert_int_equal(gitops_worktree_prune_stale(fx->r, "../x", &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_int_equal(gitops_worktree_prune_stale(fx->r, "file", &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);

    assert_int_equal(gitops_worktree_list(fx->r, &list, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].name, "c-wt");
    gitops_worktree_list_free(list, n);
    assert_int_equal(worktree_count(fx), 2); /* main and c-wt, for the CLI too */
}

/* ---- concurrency ----------------------------------------------------------------- */

#define PROCS 4
#define EACH  3

static void run_children(fixture *fx, int removing)
{
    pid_t pids[PROCS];
    int i, j;

    for (i = 0; i < PROCS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            gitops_repo *r = NULL;
            grove_err err = GROVE_ERR_INIT;
            int failures = 0;

            if (gitops_repo_open(&r, fx->repo, &err) != 0) {
                fprintf(stderr, "child %d: %s\n", i, err.msg);
                _exit(100);
            }
            for (j = 0; j < EACH; j++) {
                char name[32], branch[64], path[PATH_MAX];
                int rc;

                snprintf(name, sizeof(name), "c%d-%d", i, j);
                snprintf(branch, sizeof(branch), "grove/%s", name);
                snprintf(path, sizeof(path), "%s/wts/%s", fx->root, name);
                if (removing) {
                    rc = gitops_worktree_remove(r, name, branch, &err);
                } else {
                    rc = gitops_worktree_create(r, name, path, branch, fx->c2, NULL, NULL, &err);
                    if (rc == 0)
                        rc = gitops_worktree_unlock(r, name, &err);
                }
                if (rc != 0) {
                    fprintf(stderr, "child %d %s: %s\n", i, name, err.msg);
                    failures++;
                }
            }
            gitops_repo_free(r);
            _exit(failures);
        }
    }
    for (i = 0; i < PROCS; i++) {
        int st = 0;

        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
}

static void test_concurrent(void **state)
{
    fixture *fx = *state;
    char *s;
    int i, j;

    run_children(fx, 0);
    assert_int_equal(worktree_count(fx), 1 + PROCS * EACH);
    for (i = 0; i < PROCS; i++) {
        for (j = 0; j < EACH; j++) {
            char path[PATH_MAX];
            char *block;

            snprintf(path, sizeof(path), "%s/wts/c%d-%d", fx->root, i, j);
            assert_true(exists("%s/a.txt", path));
            assert_true(exists("%s/src/b.c", path));
            block = worktree_block(fx, path);
            assert_non_null(strstr(block, "branch refs/heads/grove/c"));
            assert_null(strstr(block, "locked"));
            free(block);
        }
    }
    s = unit_sh_out("git -C '%s' status --porcelain", fx->repo);
    assert_string_equal(s, "");
    free(s);

    run_children(fx, 1);
    assert_int_equal(worktree_count(fx), 1);
    s = unit_sh_out("git -C '%s' for-each-ref refs/heads/grove", fx->repo);
    assert_string_equal(s, "");
    free(s);
    s = unit_sh_out("ls -A '%s/.git/worktrees'", fx->repo);
    assert_string_equal(s, "");
    free(s);
}

/* ---- remotes and push -------------------------------------------------------------- */

#define PUSH_TOKEN "ghp_GROVEtestTOKEN0123456789abcdef"

typedef struct progress_seen {
    unsigned calls;
    unsigned max_total;
    unsigned last_current;
} progress_seen;

static void on_progress(void *arg, unsigned current, unsigned total, size_t bytes)
{
    progress_seen *p = arg;

    (void)bytes;
    p->calls++;
    if (total > p->max_total)
        p->max_total = total;
    p->last_current = current;
}

/* root/origin.git (bare) as remote origin; branch grove/push = main + 2 commits. */
static void make_origin(const fixture *fx, char branch_sha[41])
{
    assert_int_equal(unit_sh("set -e; git init -q --bare '%s/origin.git';"
                             "git -C '%s' remote add origin '%s/origin.git';"
                             "cd '%s'; git checkout -q -b grove/push;"
                             "printf 'p1\\n' > p.txt; git add p.txt; git commit -qm p1;"
                             "printf 'p2\\n' >> p.txt; git commit -qam p2; git checkout -q main",
                             fx->root, fx->repo, fx->root, fx->repo),
                     0);
    rev_parse(fx, NULL, "refs/heads/grove/push", branch_sha);
}

static char *bare_ref(const fixture *fx, const char *bare, const char *ref)
{
    return unit_sh_out("git --git-dir='%s/%s' rev-parse -q --verify '%s' 2>/dev/null", fx->root,
                       bare, ref);
}

static void test_remote_url(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    char sha[41], want[PATH_MAX + 16];
    char *url = (char *)"untouched";

    make_origin(fx, sha);
    assert_int_equal(gitops_remote_url(fx->r, "origin", &url, &err), 0);
    snprintf(want, sizeof(want), "%s/origin.git", fx->root);
    assert_string_equal(url, want);
    free(url);

    url = (char *)"untouched";
    assert_int_equal(gitops_remote_url(fx->r, "nope", &url, &err), -1);
    assert_null(url);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_string_equal(err.msg, "remote 'nope' not found");
    assert_int_equal(gitops_remote_url(fx->r, "", &url, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_int_equal(gitops_remote_url(fx->r, "bad name", &url, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);

    /* url.<base>.insteadOf rewrites as in git: the longest matching prefix wins. */
    assert_int_equal(
        unit_sh("set -e; cd '%s'; git config url.'%s/'.insteadOf short:;"
                "git config url.'%s/deeper/'.insteadOf short:x/;"
                "git remote add ins short:origin.git; git remote add ins2 short:x/y.git",
                fx->repo, fx->root, fx->root),
        0);
    assert_int_equal(gitops_remote_url(fx->r, "ins", &url, &err), 0);
    assert_string_equal(url, want);
    free(url);
    assert_int_equal(gitops_remote_url(fx->r, "ins2", &url, &err), 0);
    snprintf(want, sizeof(want), "%s/deeper/y.git", fx->root);
    assert_string_equal(url, want);
    free(url);
}

/* Where a push goes: pushurl, else url after pushInsteadOf, else url after insteadOf. */
static void test_push_urls(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    gitops_push_opts o = {0};
    char sha[41];
    char *s;

    make_origin(fx, sha);
    assert_int_equal(
        unit_sh("set -e; cd '%s'; for b in a b c; do git init -q --bare ../$b.git; done;"
                "git config url.'%s/'.insteadOf short:;"
                "git config url.'file://%s/b'.pushInsteadOf short:a;"
                "git remote add viainstead short:a.git;"
                "git remote add viapush short:a.git;"
                "git remote add withpushurl '%s/a.git';"
                "git config remote.withpushurl.pushurl short:c.git",
                fx->repo, fx->root, fx->root, fx->root),
        0);
    o.branch = "grove/push";
    /* viainstead and viapush are the same remote config: pushInsteadOf wins for pushes. */
    o.remote = "viapush";
    if (gitops_push(fx->r, &o, &err) != 0)
        fail_msg("push: %s", err.msg);
    s = bare_ref(fx, "b.git", "refs/heads/grove/push");
    assert_string_equal(s, sha);
    free(s);
    s = bare_ref(fx, "a.git", "refs/heads/grove/push");
    assert_string_equal(s, "");
    free(s);
    /* Its fetch URL is still the insteadOf one. */
    assert_int_equal(gitops_remote_url(fx->r, "viainstead", &s, &err), 0);
    {
        char want[PATH_MAX + 16];

        snprintf(want, sizeof(want), "%s/a.git", fx->root);
        assert_string_equal(s, want);
    }
    free(s);
    o.remote = "withpushurl";
    if (gitops_push(fx->r, &o, &err) != 0)
        fail_msg("push: %s", err.msg);
    s = bare_ref(fx, "c.git", "refs/heads/grove/push");
    assert_string_equal(s, sha);
    free(s);
    s = bare_ref(fx, "a.git", "refs/heads/grove/push");
    assert_string_equal(s, "");
    free(s);
    s = unit_sh_out("git -C '%s' rev-parse refs/remotes/withpushurl/grove/push", fx->repo);
    assert_string_equal(s, sha);
    free(s);
}

static void test_push(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    gitops_push_opts o = {0};
    progress_seen seen = {0, 0, 0};
    char sha[41], amended[41];
    char *s;

    make_origin(fx, sha);
    o.remote = "origin";
    o.branch = "grove/push";
    o.progress = on_progress;
    o.progress_arg = &seen;
    if (gitops_push(fx->r, &o, &err) != 0)
        fail_msg("push: %s", err.msg);
    s = bare_ref(fx, "origin.git", "refs/heads/grove/push");
    assert_string_equal(s, sha);
    free(s);
    /* The remote-tracking ref follows, as after `git push`. */
    s = unit_sh_out("git -C '%s' rev-parse refs/remotes/origin/grove/push", fx->repo);
    assert_string_equal(s, sha);
    free(s);
    /* Objects were sent: every commit of the branch (4), with trees and blobs. */
    assert_true(seen.calls > 0);
    assert_true(seen.max_total > 0);
    assert_int_equal(seen.last_current, seen.max_total);
    s = unit_sh_out("git --git-dir='%s/origin.git' rev-list --count refs/heads/grove/push",
                    fx->root);
    assert_string_equal(s, "4");
    free(s);
    /* The bare repository is intact for git itself. */
    assert_int_equal(
        unit_sh("git --git-dir='%s/origin.git' fsck --no-progress 2>/dev/null", fx->root), 0);

    /* Pushing again with nothing new is fine. */
    if (gitops_push(fx->r, &o, &err) != 0)
        fail_msg("push again: %s", err.msg);

    /* New commit: a fast-forward. */
    assert_int_equal(unit_sh("set -e; cd '%s'; git checkout -q grove/push; printf 'p3\\n' >> p.txt;"
                             "git commit -qam p3; git checkout -q main",
                             fx->repo),
                     0);
    rev_parse(fx, NULL, "refs/heads/grove/push", sha);
    o.progress = NULL;
    if (gitops_push(fx->r, &o, &err) != 0)
        fail_msg("fast-forward push: %s", err.msg);
    s = bare_ref(fx, "origin.git", "refs/heads/grove/push");
    assert_string_equal(s, sha);
    free(s);

    /* Amended: not a fast-forward, refused, and the remote keeps its commit. */
    assert_int_equal(unit_sh("set -e; cd '%s'; git checkout -q grove/push;"
                             "git commit -q --amend -m p3-amended; git checkout -q main",
                             fx->repo),
                     0);
    rev_parse(fx, NULL, "refs/heads/grove/push", amended);
    assert_string_not_equal(amended, sha);
    assert_int_equal(gitops_push(fx->r, &o, &err), -1);
    assert_int_equal(err.code, GROVE_ECONFLICT);
    assert_non_null(strstr(err.msg, "non-fast-forward"));
    assert_non_null(strstr(err.msg, "refs/heads/grove/push"));
    s = bare_ref(fx, "origin.git", "refs/heads/grove/push");
    assert_string_equal(s, sha);
    free(s);
    s = unit_sh_out("git -C '%s' rev-parse refs/remotes/origin/grove/push", fx->repo);
    assert_string_equal(s, sha);
    free(s);
}

/* Someone else pushed first: the remote has a commit this repository has never seen. */
static void test_push_remote_moved(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    gitops_push_opts o = {0};
    char sha[41];
    char *theirs, *s;

    make_origin(fx, sha);
    o.remote = "origin";
    o.branch = "grove/push";
    if (gitops_push(fx->r, &o, &err) != 0)
        fail_msg("push: %s", err.msg);
    assert_int_equal(
        unit_sh("set -e; git clone -q '%s/origin.git' '%s/other' 2>/dev/null; cd '%s/other';"
                "git config user.name O; git config user.email o@example.invalid;"
                "git checkout -q grove/push; printf 'theirs\\n' > t.txt; git add t.txt;"
                "git commit -qm theirs; git push -q origin grove/push 2>/dev/null",
                fx->root, fx->root, fx->root),
        0);
    theirs = bare_ref(fx, "origin.git", "refs/heads/grove/push");
    assert_string_not_equal(theirs, sha);
    assert_int_equal(
        unit_sh("set -e; cd '%s'; git checkout -q grove/push; printf 'mine\\n' > m.txt;"
                "git add m.txt; git commit -qm mine; git checkout -q main",
                fx->repo),
        0);
    assert_int_equal(gitops_push(fx->r, &o, &err), -1);
    assert_int_equal(err.code, GROVE_ECONFLICT);
    assert_non_null(strstr(err.msg, "refs/heads/grove/push"));
    s = bare_ref(fx, "origin.git", "refs/heads/grove/push");
    assert_string_equal(s, theirs);
    free(s);
    free(theirs);
}

static void test_push_file_url_and_errors(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    gitops_push_opts o = {0};
    char sha[41];
    char *s;

    make_origin(fx, sha);
    /* A file:// URL, and a remote without a fetch refspec: the tracking ref is still set. */
    assert_int_equal(unit_sh("set -e; git init -q --bare '%s/up.git';"
                             "git -C '%s' config remote.up.url 'file://%s/up.git'",
                             fx->root, fx->repo, fx->root),
                     0);
    o.remote = "up";
    o.branch = "main";
    if (gitops_push(fx->r, &o, &err) != 0)
        fail_msg("file:// push: %s", err.msg);
    s = bare_ref(fx, "up.git", "refs/heads/main");
    assert_string_equal(s, fx->c2);
    free(s);
    s = bare_ref(fx, "up.git", "refs/heads/grove/push");
    assert_string_equal(s, ""); /* only the one branch */
    free(s);
    s = unit_sh_out("git -C '%s' rev-parse refs/remotes/up/main", fx->repo);
    assert_string_equal(s, fx->c2);
    free(s);

    /* Unknown branch, unknown remote, empty names. */
    o.remote = "origin";
    o.branch = "grove/none";
    assert_int_equal(gitops_push(fx->r, &o, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_string_equal(err.msg, "branch 'grove/none' not found");
    o.branch = "main";
    o.remote = "nowhere";
    assert_int_equal(gitops_push(fx->r, &o, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_string_equal(err.msg, "remote 'nowhere' not found");
    o.remote = "";
    assert_int_equal(gitops_push(fx->r, &o, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    /* Nothing reached origin. */
    s = bare_ref(fx, "origin.git", "refs/heads/main");
    assert_string_equal(s, "");
    free(s);
}

/* A TCP port on 127.0.0.1 that nothing listens on (bound, then closed). */
static int closed_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    assert_true(fd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static void test_push_transport_errors_hide_token(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    gitops_push_opts o = {0};
    char sha[41];
    int port = closed_port();

    make_origin(fx, sha);
    assert_int_equal(
        unit_sh("set -e; cd '%s';"
                "git remote add web 'https://127.0.0.1:%d/o/r.git';"
                "git remote add userinfo 'https://x-access-token:%s@127.0.0.1:%d/o/r.git';"
                "git remote add gone '%s/gone/%s/r.git'",
                fx->repo, port, PUSH_TOKEN, port, fx->root, PUSH_TOKEN),
        0);
    o.branch = "grove/push";
    o.token = PUSH_TOKEN;

    o.remote = "web";
    assert_int_equal(gitops_push(fx->r, &o, &err), -1);
    assert_int_equal(err.code, GROVE_EIO);
    assert_non_null(strstr(err.msg, "cannot push 'grove/push' to 'web' at 'https://127.0.0.1:"));
    assert_null(strstr(err.msg, PUSH_TOKEN));

    /* libgit2 may echo a URL with its password: that part is scrubbed. */
    o.remote = "userinfo";
    assert_int_equal(gitops_push(fx->r, &o, &err), -1);
    assert_int_equal(err.code, GROVE_EIO);
    assert_null(strstr(err.msg, PUSH_TOKEN));
    assert_null(strstr(err.msg, "ghp_GROVE"));
    assert_non_null(strstr(err.msg, "'https://***@127.0.0.1:"));

    /* A path that contains the token, which libgit2 does echo: scrubbed to "***". */
    o.remote = "gone";
    assert_int_equal(gitops_push(fx->r, &o, &err), -1);
    assert_int_equal(err.code, GROVE_EIO);
    assert_null(strstr(err.msg, PUSH_TOKEN));
    assert_null(strstr(err.msg, "ghp_GROVE"));
    assert_non_null(strstr(err.msg, "/gone/***/r.git' does not exist"));
}

/*
 * An http server on `host` that answers every request with 401 and logs
 * each Authorization header it receives to `log`; its port is written to
 * `portfile`. Returns its pid.
 */
static pid_t start_401_server(const char *host, const char *portfile, const char *log)
{
    static const char script[] =
        "import http.server, os, sys\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        with open(sys.argv[2], 'a') as f:\n"
        "            f.write(str(self.headers.get('Authorization')) + '\\n')\n"
        "        self.send_response(401)\n"
        "        self.send_header('WWW-Authenticate', 'Basic realm=\"grove\"')\n"
        "        self.send_header('Content-Length', '0')\n"
        "        self.end_headers()\n"
        "    do_POST = do_GET\n"
        "    def log_message(self, *a):\n"
        "        pass\n"
        "s = http.server.HTTPServer((sys.argv[3], 0), H)\n"
        "open(sys.argv[1] + '.tmp', 'w').write(str(s.server_address[1]))\n"
        "os.rename(sys.argv[1] + '.tmp', sys.argv[1])\n"
        "s.serve_forever()\n";
    pid_t pid = fork();
    int i;

    assert_true(pid >= 0);
    if (pid == 0) {
        execlp("python3", "python3", "-c", script, portfile, log, host, (char *)NULL);
        _exit(127);
    }
    for (i = 0; i < 500 && !exists("%s", portfile); i++)
        usleep(10000);
    assert_true(exists("%s", portfile));
    return pid;
}

static void test_push_credentials_refused(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    gitops_push_opts o = {0};
    char sha[41], portfile[PATH_MAX], log[PATH_MAX];
    char *port, *auth, *tries;
    pid_t srv;
    int st;

    make_origin(fx, sha);
    snprintf(portfile, sizeof(portfile), "%s/port", fx->root);
    snprintf(log, sizeof(log), "%s/auth.log", fx->root);
    fx->server = srv = start_401_server("127.0.0.1", portfile, log);
    port = read_file(portfile);
    assert_non_null(port);
    assert_int_equal(
        unit_sh("git -C '%s' remote add web 'http://127.0.0.1:%s/o/r.git'", fx->repo, port), 0);
    o.remote = "web";
    o.branch = "grove/push";
    o.token = PUSH_TOKEN;
    /* A host that is neither github.com nor the API's: the token is not offered. */
    o.token_host = "ghe.example.com";
    assert_int_equal(gitops_push(fx->r, &o, &err), -1);
    auth = unit_sh_out("grep -vc '^None$' '%s'", log);
    assert_string_equal(auth, "0");
    free(auth);
    assert_int_equal(unlink(log), 0);
    /* The API's host (here the loopback test server) gets it. */
    o.token_host = "127.0.0.1";
    assert_int_equal(gitops_push(fx->r, &o, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_non_null(strstr(err.msg, "the remote refused the credentials: "));
    assert_null(strstr(err.msg, PUSH_TOKEN));
    /* The token went as the password of user x-access-token; a bounded number of times. */
    auth = unit_sh_out("grep -c \"^Basic $(printf 'x-access-token:%s' | base64 -w0)$\" '%s'",
                       PUSH_TOKEN, log);
    assert_true(atoi(auth) >= 1 && atoi(auth) <= 3);
    tries = unit_sh_out("wc -l < '%s'", log);
    assert_true(atoi(tries) <= 5);
    free(auth);
    free(tries);

    /* Without a token: refused too, and the message says none was given. */
    o.token = NULL;
    assert_int_equal(gitops_push(fx->r, &o, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_non_null(strstr(err.msg, "no token was given"));
    kill(srv, SIGTERM);
    assert_int_equal(waitpid(srv, &st, 0), srv);
    fx->server = 0;
    free(port);

    /* Plain http to another host: the token is not sent in clear text. */
    assert_int_equal(unlink(portfile), 0);
    assert_int_equal(unlink(log), 0);
    fx->server = srv = start_401_server("127.0.0.2", portfile, log);
    port = read_file(portfile);
    assert_non_null(port);
    assert_int_equal(
        unit_sh("git -C '%s' remote add plain 'http://127.0.0.2:%s/o/r.git'", fx->repo, port), 0);
    o.remote = "plain";
    o.token = PUSH_TOKEN;
    o.token_host = "127.0.0.2"; /* even the API's host: never in clear text over a network */
    assert_int_equal(gitops_push(fx->r, &o, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    auth = unit_sh_out("grep -vc '^None$' '%s'", log);
    assert_string_equal(auth, "0");
    free(auth);
    auth = unit_sh_out("grep -c '^None$' '%s'", log);
    assert_true(atoi(auth) >= 1);
    free(auth);
    kill(srv, SIGTERM);
    assert_int_equal(waitpid(srv, &st, 0), srv);
    fx->server = 0;
    free(port);
}

/* ---- parallel checkout (tools/git/checkout.c) ---------------------------------- */

/*
 * A commit that exercises every kind of entry and filter: eol attributes at
 * two levels, ident, binary, text forced on binary content, exec bits,
 * relative and absolute symlinks, a submodule, empty and large files, odd
 * but valid names, and enough files (300) to use several threads.
 */
static void rich_commit(fixture *fx, char sha[41])
{
    assert_int_equal(
        unit_sh("set -e; cd '%s';"
                "printf '*.crlf text eol=crlf\\n*.id ident\\n*.bin binary\\nforced.dat text "
                "eol=crlf\\n'"
                " > .gitattributes;"
                "mkdir -p sub/deep many; printf '*.txt text eol=crlf\\n' > sub/.gitattributes;"
                "printf 'a\\nb\\n' > x.crlf; printf 'line\\n$Id$\\n' > f.id;"
                "printf 'z\\n\\000\\n\\r\\n' > data.bin; printf 'p\\000q\\nr\\n' > forced.dat;"
                "printf 'l1\\nl2\\n' > sub/deep/t.txt; printf 'top\\n' > top.txt;"
                "printf '#!/bin/sh\\necho hi\\n' > run.sh; chmod 755 run.sh;"
                "ln -s a.txt rel-link; ln -s /nonexistent/abs abs-link; ln -s ../top.txt sub/up;"
                ": > empty; printf 'x' > 'name with spaces.txt'; printf 'u' > \"$(printf "
                "'f\\303\\274r')\";"
                "head -c 1048576 /dev/urandom > big.raw;"
                "for i in $(seq 1 300); do printf 'file %%s\\n' $i > many/f$i.txt; done;"
                "git config core.safecrlf false; git add -A;"
                "git update-index --add --cacheinfo 160000,%s,mod;"
                "git commit -qm rich",
                fx->repo, fx->c1),
        0);
    rev_parse(fx, NULL, "HEAD", sha);
}

/* The stat data of `path` in the index of worktree `root` is that of the file itself. */
static void expect_index_stat(const char *root, const char *path)
{
    git_repository *repo = NULL;
    git_index *idx = NULL;
    const git_index_entry *e;
    char full[PATH_MAX];
    struct stat st;

    assert_int_equal(git_repository_open(&repo, root), 0);
    assert_int_equal(git_repository_index(&idx, repo), 0);
    e = git_index_get_bypath(idx, path, 0);
    assert_non_null(e);
    snprintf(full, sizeof(full), "%s/%s", root, path);
    assert_int_equal(lstat(full, &st), 0);
    assert_int_equal(e->ino, (uint32_t)st.st_ino);
    assert_int_equal(e->file_size, (uint32_t)st.st_size);
    assert_int_equal(e->mtime.seconds, (int32_t)st.st_mtim.tv_sec);
    assert_int_equal(e->mtime.nanoseconds, (uint32_t)st.st_mtim.tv_nsec);
    git_index_free(idx);
    git_repository_free(repo);
}

static void test_checkout_matches_git(void **state)
{
    fixture *fx = *state;
    char sha[41], path[PATH_MAX], ref[PATH_MAX], *s;

    rich_commit(fx, sha);
    snprintf(path, sizeof(path), "%s/wts/g", fx->root);
    snprintf(ref, sizeof(ref), "%s/wts/ref", fx->root);
    create_ok(fx, "g", path, "grove/g", sha);
    assert_int_equal(unit_sh("git -C '%s' worktree add -q --detach '%s' %s", fx->repo, ref, sha),
                     0);
    unit_expect_same_tree(path, ref);
    /* The filters ran: CRLF where asked (both levels, forced on binary), ident expanded. */
    s = unit_sh_out("od -An -c '%s/sub/deep/t.txt' | tr -d ' '", path);
    assert_string_equal(s, "l1\\r\\nl2\\r\\n");
    free(s);
    s = unit_sh_out("od -An -c '%s/forced.dat' | tr -d ' '", path);
    assert_string_equal(s, "p\\0q\\r\\nr\\r\\n");
    free(s);
    s = unit_sh_out("grep -c '^[$]Id: [0-9a-f]\\{40\\} [$]$' '%s/f.id'", path);
    assert_string_equal(s, "1");
    free(s);
    s = unit_sh_out("readlink '%s/abs-link'", path);
    assert_string_equal(s, "/nonexistent/abs");
    free(s);
    expect_index_stat(path, "sub/deep/t.txt");
    expect_index_stat(path, "rel-link");
    expect_index_stat(path, "many/f300.txt");
}

/* A worktree that git made without a checkout, filled by gitops_checkout_new(). */
static void checkout_into(fixture *fx, const char *name, const char *sha, unsigned *workers,
                          grove_err *err, int *rc, char path[PATH_MAX])
{
    snprintf(path, PATH_MAX, "%s/wts/%s", fx->root, name);
    assert_int_equal(
        unit_sh("git -C '%s' worktree add -q --no-checkout --detach '%s' %s", fx->repo, path, sha),
        0);
    assert_false(exists("%s/.git/worktrees/%s/index", fx->repo, name));
    *rc = gitops_checkout_new(path, sha, workers, err);
}

static void test_checkout_workers(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    char sha[41], path[PATH_MAX], ref[PATH_MAX];
    unsigned workers = 0;
    int rc;

    rich_commit(fx, sha);
    snprintf(ref, sizeof(ref), "%s/wts/ref", fx->root);
    assert_int_equal(unit_sh("git -C '%s' worktree add -q --detach '%s' %s", fx->repo, ref, sha),
                     0);

    /* Unset: two per core, at most 8. */
    checkout_into(fx, "wdef", sha, &workers, &err, &rc, path);
    if (rc != 0)
        fail_msg("checkout: %s", err.msg);
    assert_int_equal(workers, sysconf(_SC_NPROCESSORS_ONLN) >= 4
                                  ? 8
                                  : 2 * (unsigned)sysconf(_SC_NPROCESSORS_ONLN));
    unit_expect_same_tree(path, ref);

    /* git's settings are honoured: 3 workers; then one below the threshold. */
    assert_int_equal(unit_sh("git -C '%s' config checkout.workers 3", fx->repo), 0);
    checkout_into(fx, "w3", sha, &workers, &err, &rc, path);
    if (rc != 0)
        fail_msg("checkout: %s", err.msg);
    assert_int_equal(workers, 3);
    unit_expect_same_tree(path, ref);

    assert_int_equal(unit_sh("git -C '%s' config checkout.thresholdForParallelism 1000", fx->repo),
                     0);
    checkout_into(fx, "w1", sha, &workers, &err, &rc, path);
    assert_int_equal(rc, 0);
    assert_int_equal(workers, 1);
    unit_expect_same_tree(path, ref);

    /* core.symlinks=false: links become files holding the target, like git makes them. */
    assert_int_equal(unit_sh("git -C '%s' config core.symlinks false", fx->repo), 0);
    checkout_into(fx, "nolinks", sha, &workers, &err, &rc, path);
    assert_int_equal(rc, 0);
    assert_int_equal(unit_sh("test -f '%s/rel-link' && ! test -L '%s/rel-link' && "
                             "test \"$(cat '%s/rel-link')\" = a.txt",
                             path, path, path),
                     0);
}

static void test_checkout_unusual_names(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    char sha[41], path[PATH_MAX], ref[PATH_MAX], *s;
    unsigned workers = 9;
    int rc;

    /* A valid name with ':' is left to libgit2, which checks it out the same way. */
    assert_int_equal(unit_sh("set -e; cd '%s'; printf 'c' > 'a:b'; mkdir d; printf 'd' > 'd/x:y';"
                             "git add -A; git commit -qm colon",
                             fx->repo),
                     0);
    rev_parse(fx, NULL, "HEAD", sha);
    snprintf(ref, sizeof(ref), "%s/wts/ref", fx->root);
    assert_int_equal(unit_sh("git -C '%s' worktree add -q --detach '%s' %s", fx->repo, ref, sha),
                     0);
    checkout_into(fx, "colon", sha, &workers, &err, &rc, path);
    if (rc != 0)
        fail_msg("checkout: %s", err.msg);
    assert_int_equal(workers, 0);
    unit_expect_same_tree(path, ref);

    /* A commit with a ".GIT" folder (made with plumbing: git add refuses it) is refused. */
    s = unit_sh_out(
        "set -e; cd '%s'; b=$(printf 'evil\\n' | git hash-object -w --stdin);"
        "t1=$(printf '100644 blob %%s\\tconfig\\n' $b | git mktree);"
        "t2=$(printf '040000 tree %%s\\t.GIT\\n100644 blob %%s\\tok.txt\\n' $t1 $b | git mktree);"
        "git commit-tree -m evil $t2",
        fx->repo);
    assert_int_equal(strlen(s), 40);
    snprintf(path, sizeof(path), "%s/wts/evil", fx->root);
    assert_int_equal(gitops_worktree_create(fx->r, "evil", path, "grove/evil", s, NULL, NULL, &err),
                     -1);
    assert_true(err.msg[0] != '\0');
    assert_false(exists("%s", path));
    assert_false(branch_exists(fx, "grove/evil"));
    assert_false(exists("%s/.git/worktrees/evil", fx->repo));
    free(s);
}

/* A failure while writing (a folder where a file goes) is reported and the caller cleans up. */
static void test_checkout_write_failure(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    char sha[41], path[PATH_MAX];

    rich_commit(fx, sha);
    snprintf(path, sizeof(path), "%s/wts/full", fx->root);
    assert_int_equal(
        unit_sh("git -C '%s' worktree add -q --no-checkout --detach '%s' %s", fx->repo, path, sha),
        0);
    assert_int_equal(unit_sh("mkdir '%s/top.txt'", path), 0);
    assert_int_equal(gitops_checkout_new(path, sha, NULL, &err), -1);
    assert_int_equal(err.code, GROVE_EIO);
    assert_non_null(strstr(err.msg, "'top.txt'"));
    assert_non_null(strstr(err.msg, "File exists"));
    assert_false(exists("%s/.git/worktrees/full/index", fx->repo));
}

/*
 * The files are written without the repo lock: while a child process checks
 * out 4,000 files, this process takes the lock, sees the creation alive
 * (gc leaves it alone) and adds a worktree of its own.
 */
static void test_checkout_outside_lock(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    gitops_interrupted *list = NULL;
    char sha[41], path[PATH_MAX], lockfile[PATH_MAX + 32], other[PATH_MAX];
    size_t n = 0, i;
    int fd, st, seen = 0, tries;
    pid_t pid;

    assert_int_equal(unit_sh("set -e; cd '%s'; mkdir big; for d in $(seq 1 40); do mkdir big/d$d;"
                             "for f in $(seq 1 100); do echo $d $f > big/d$d/f$f; done; done;"
                             "git add -A; git commit -qm big",
                             fx->repo),
                     0);
    rev_parse(fx, NULL, "HEAD", sha);
    snprintf(path, sizeof(path), "%s/wts/slow", fx->root);
    snprintf(lockfile, sizeof(lockfile), "%s/.git/grove/git.lock", fx->repo);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        gitops_repo *r = NULL;

        if (gitops_repo_open(&r, fx->repo, &err) != 0 ||
            gitops_worktree_create(r, "slow", path, "grove/slow", sha, NULL, NULL, &err) != 0)
            _exit(1);
        gitops_repo_free(r);
        _exit(0);
    }
    /* Wait until files are being written: some folders made, no index yet. */
    for (tries = 0; tries < 200000 && !seen; tries++) {
        if (exists("%s/big/d1", path) && !exists("%s/.git/worktrees/slow/index", fx->repo))
            seen = 1;
        else
            usleep(50);
    }
    if (!seen)
        fail_msg("the checkout was never seen in progress");
    fd = open(lockfile, O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    close(fd);
    /* gc's view: a creation in progress, alive. */
    assert_int_equal(gitops_interrupted_list(fx->r, &list, &n, &err), 0);
    for (i = 0; i < n && strcmp(list[i].name, "slow") != 0; i++)
        ;
    assert_true(i < n);
    assert_int_equal(list[i].alive, 1);
    gitops_interrupted_list_free(list, n);
    /* Meanwhile another worktree can be added. */
    snprintf(other, sizeof(other), "%s/wts/meanwhile", fx->root);
    create_ok(fx, "meanwhile", other, "grove/meanwhile", fx->c1);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(unit_sh("git -C '%s' status --porcelain | grep -q .", path), 1);
    assert_true(exists("%s/big/d40/f100", path));
}

/* Killed while its files are written: gc's view is a dead creation, and undoing it leaves nothing.
 */
static void test_checkout_killed(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    gitops_interrupted *list = NULL;
    char sha[41], path[PATH_MAX];
    size_t n = 0, i;
    int st, seen = 0, tries;
    pid_t pid;

    assert_int_equal(unit_sh("set -e; cd '%s'; mkdir big; for d in $(seq 1 40); do mkdir big/d$d;"
                             "for f in $(seq 1 100); do echo $d $f > big/d$d/f$f; done; done;"
                             "git add -A; git commit -qm big",
                             fx->repo),
                     0);
    rev_parse(fx, NULL, "HEAD", sha);
    snprintf(path, sizeof(path), "%s/wts/killed", fx->root);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        gitops_repo *r = NULL;

        if (gitops_repo_open(&r, fx->repo, &err) != 0 ||
            gitops_worktree_create(r, "killed", path, "grove/killed", sha, NULL, NULL, &err) != 0)
            _exit(1);
        _exit(0);
    }
    for (tries = 0; tries < 200000 && !seen; tries++) {
        if (exists("%s/big/d2", path) && !exists("%s/.git/worktrees/killed/index", fx->repo))
            seen = 1;
        else
            usleep(50);
    }
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!seen)
        fail_msg("the checkout was never seen in progress");
    assert_true(WIFSIGNALED(st));
    assert_int_equal(gitops_interrupted_list(fx->r, &list, &n, &err), 0);
    for (i = 0; i < n && strcmp(list[i].name, "killed") != 0; i++)
        ;
    assert_true(i < n);
    assert_int_equal(list[i].alive, 0);
    gitops_interrupted_list_free(list, n);
    if (gitops_interrupted_undo(fx->r, "killed", 0, &err) != 0)
        fail_msg("undo: %s", err.msg);
    assert_false(exists("%s", path));
    assert_false(branch_exists(fx, "grove/killed"));
    assert_false(exists("%s/.git/worktrees/killed", fx->repo));
    assert_false(exists("%s/.git/grove/creating/killed", fx->repo));
    assert_int_equal(worktree_count(fx), 1);
}

/*
 * Without any .gitattributes in the tree, filters still apply when
 * core.autocrlf is true or an attributes file exists outside the tree
 * (info/attributes, core.attributesFile): the result is git's every time.
 */
static void test_checkout_filter_sources(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    char sha[41], path[PATH_MAX], ref[PATH_MAX], *s;
    unsigned workers = 0;
    int rc;

    assert_int_equal(
        unit_sh("set -e; cd '%s'; mkdir many; for i in $(seq 1 150); do "
                "printf 'l1\\nl2 $Id$\\n' > many/f$i.txt; done; git add -A; git commit -qm m",
                fx->repo),
        0);
    rev_parse(fx, NULL, "HEAD", sha);

    /* No source at all: files as committed. */
    checkout_into(fx, "plain", sha, &workers, &err, &rc, path);
    if (rc != 0)
        fail_msg("checkout: %s", err.msg);
    s = unit_sh_out("od -An -c '%s/many/f7.txt' | tr -d ' \\n'", path);
    assert_string_equal(s, "l1\\nl2$Id$\\n");
    free(s);

    /* core.autocrlf=true: CRLF, like git. */
    assert_int_equal(unit_sh("git -C '%s' config core.autocrlf true", fx->repo), 0);
    snprintf(ref, sizeof(ref), "%s/wts/ref-crlf", fx->root);
    assert_int_equal(unit_sh("git -C '%s' worktree add -q --detach '%s' %s", fx->repo, ref, sha),
                     0);
    checkout_into(fx, "crlf", sha, &workers, &err, &rc, path);
    assert_int_equal(rc, 0);
    unit_expect_same_tree(path, ref);
    s = unit_sh_out("od -An -c '%s/many/f7.txt' | tr -d ' \\n'", path);
    assert_string_equal(s, "l1\\r\\nl2$Id$\\r\\n");
    free(s);
    assert_int_equal(unit_sh("git -C '%s' config --unset core.autocrlf", fx->repo), 0);

    /* The repository's info/attributes. */
    assert_int_equal(unit_sh("mkdir -p '%s/.git/info' && printf 'f7.txt ident\\n' > "
                             "'%s/.git/info/attributes'",
                             fx->repo, fx->repo),
                     0);
    snprintf(ref, sizeof(ref), "%s/wts/ref-info", fx->root);
    assert_int_equal(unit_sh("git -C '%s' worktree add -q --detach '%s' %s", fx->repo, ref, sha),
                     0);
    checkout_into(fx, "info", sha, &workers, &err, &rc, path);
    assert_int_equal(rc, 0);
    unit_expect_same_tree(path, ref);
    assert_int_equal(unit_sh("grep -q 'Id: [0-9a-f]\\{40\\} ' '%s/many/f7.txt'", path), 0);
    assert_int_equal(unit_sh("rm '%s/.git/info/attributes'", fx->repo), 0);

    /* core.attributesFile. */
    assert_int_equal(unit_sh("printf '*.txt eol=crlf\\n' > '%s/attrs' && "
                             "git -C '%s' config core.attributesFile '%s/attrs'",
                             fx->root, fx->repo, fx->root),
                     0);
    snprintf(ref, sizeof(ref), "%s/wts/ref-cfg", fx->root);
    assert_int_equal(unit_sh("git -C '%s' worktree add -q --detach '%s' %s", fx->repo, ref, sha),
                     0);
    checkout_into(fx, "cfg", sha, &workers, &err, &rc, path);
    assert_int_equal(rc, 0);
    unit_expect_same_tree(path, ref);
    s = unit_sh_out("od -An -c '%s/many/f7.txt' | tr -d ' \\n'", path);
    assert_string_equal(s, "l1\\r\\nl2$Id$\\r\\n");
    free(s);
}

/*
 * A packed repository, as a clone has: whole blobs, deltas and loose
 * objects. Its .gitattributes names no filter attribute, so no filter is
 * loaded. Both commits are checked out and compared with git's own
 * worktrees: the older one is mostly deltas after `git repack`, the newer
 * one adds loose blobs; exec bits that change between commits, links to
 * files, folders and absolute paths, a folder holding only a link, a
 * submodule, empty files and a 300 KB random file.
 */
static void packed_commits(fixture *fx, char old_sha[41], char new_sha[41])
{
    assert_int_equal(
        unit_sh("set -e; cd '%s';"
                "printf '*.c diff=cpp\\n*.h diff=cpp\\n' > .gitattributes;"
                "for d in a a/b a/b/c a/b/c/d e f; do mkdir -p $d;"
                "  for i in $(seq 1 60); do"
                "    seq 1 $((i * i * 7)) | sed \"s|^|$d $i |\" > $d/f$i.c; done; done;"
                "for i in $(seq 1 5); do printf '#!/bin/sh\\necho %%s\\n' $i > e/run$i.sh;"
                "  chmod 755 e/run$i.sh; done;"
                ": > empty; : > a/b/empty-exec; chmod 755 a/b/empty-exec;"
                "head -c 300000 /dev/urandom > f/big.raw;"
                "ln -s f1.c a/link; ln -s ../../e a/b/dirlink; ln -s /nonexistent/abs abs-link;"
                "mkdir -p only-link; ln -s ../empty only-link/l;"
                "git add -A; git update-index --add --cacheinfo 160000,%s,mod;"
                "git commit -qm packed-old;"
                "for d in a a/b/c e; do for i in $(seq 1 60 | sed -n 'p;n'); do"
                "  echo changed >> $d/f$i.c; done; done;"
                "chmod 644 e/run2.sh; chmod 755 a/f3.c; rm a/link; ln -s f2.c a/link;"
                "git commit -qam packed-mid; git repack -adq;"
                "echo loose >> a/b/c/d/f9.c; echo new > f/new.h; git add -A;"
                "git commit -qm packed-new",
                fx->repo, fx->c1),
        0);
    rev_parse(fx, NULL, "HEAD~2", old_sha);
    rev_parse(fx, NULL, "HEAD", new_sha);
}

static void test_checkout_packed(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    char old_sha[41], new_sha[41], path[PATH_MAX], ref[PATH_MAX], *s;
    int rc;
    unsigned workers = 0;

    packed_commits(fx, old_sha, new_sha);

    snprintf(path, sizeof(path), "%s/wts/old", fx->root);
    snprintf(ref, sizeof(ref), "%s/wts/ref-old", fx->root);
    create_ok(fx, "old", path, "grove/old", old_sha);
    assert_int_equal(
        unit_sh("git -C '%s' worktree add -q --detach '%s' %s", fx->repo, ref, old_sha), 0);
    unit_expect_same_tree(path, ref);

    snprintf(path, sizeof(path), "%s/wts/new", fx->root);
    snprintf(ref, sizeof(ref), "%s/wts/ref-new", fx->root);
    create_ok(fx, "new", path, "grove/new", new_sha);
    assert_int_equal(
        unit_sh("git -C '%s' worktree add -q --detach '%s' %s", fx->repo, ref, new_sha), 0);
    unit_expect_same_tree(path, ref);
    s = unit_sh_out("stat -c '%%a %%F' '%s/e/run1.sh' '%s/e/run2.sh' '%s/a/link' '%s/wts/old/mod'",
                    path, path, path, fx->root);
    assert_string_equal(s, "755 regular file\n644 regular file\n777 symbolic link\n755 directory");
    free(s);
    expect_index_stat(path, "f/big.raw");
    expect_index_stat(path, "a/link");

    /* A filter attribute in a nested .gitattributes turns the filters (and libgit2) back on. */
    assert_int_equal(unit_sh("set -e; cd '%s'; printf '*.h text eol=crlf\\n' > f/.gitattributes;"
                             "git add -A; git commit -qm crlf",
                             fx->repo),
                     0);
    rev_parse(fx, NULL, "HEAD", new_sha);
    snprintf(ref, sizeof(ref), "%s/wts/ref-crlf", fx->root);
    assert_int_equal(
        unit_sh("git -C '%s' worktree add -q --detach '%s' %s", fx->repo, ref, new_sha), 0);
    checkout_into(fx, "crlf", new_sha, &workers, &err, &rc, path);
    if (rc != 0)
        fail_msg("checkout: %s", err.msg);
    unit_expect_same_tree(path, ref);
    s = unit_sh_out("od -An -c '%s/f/new.h' | tr -d ' \n'", path);
    assert_string_equal(s, "new\\r\\n");
    free(s);

    /* A blob whose data is damaged in the pack: the checkout fails rather than write it. */
    assert_int_equal(
        unit_sh("set -e; cd '%s/.git/objects/pack'; p=$(ls pack-*.pack); chmod u+w $p;"
                "id=$(git -C '%s' rev-parse %s:f/big.raw);"
                "off=$(git verify-pack -v pack-*.idx | awk -v id=$id '$1 == id {print $5}');"
                "printf 'XXXXXXXX' | dd of=$p bs=1 seek=$((off + 150000)) conv=notrunc "
                "status=none",
                fx->repo, fx->repo, old_sha),
        0);
    checkout_into(fx, "damaged", old_sha, &workers, &err, &rc, path);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err.msg, "f/big.raw"));
}

/* ---- removal of an instance's worktree: the decision and its re-check --------------- */

/* Facts of a normal removal of /t/wts/w1, each test changing one. */
static gitops_removal_facts facts_normal(void)
{
    gitops_removal_facts f;

    memset(&f, 0, sizeof(f));
    f.name = "w1";
    f.recorded = "/t/wts/w1";
    f.base = "/t/wts";
    f.base_real = "/t/wts";
    f.main_real = "/t/repo";
    f.common_real = "/t/repo/.git";
    f.recorded_parent_real = "/t/wts";
    f.recorded_real = "/t/wts/w1";
    f.recorded_present = 1;
    f.git_record = 1;
    f.git_path = "/t/wts/w1";
    f.git_real = "/t/wts/w1";
    f.git_present = 1;
    f.git_folder_ours = 1;
    return f;
}

static void decide_refused(const gitops_removal_facts *f, const char *says)
{
    gitops_removal_plan p;
    grove_err err = GROVE_ERR_INIT;

    assert_int_equal(gitops_removal_decide(&p, f, &err), -1);
    assert_int_equal(p.action, GITOPS_REMOVAL_REFUSE);
    if (!strstr(err.msg, says))
        fail_msg("expected '%s' in: %s", says, err.msg);
}

static void test_removal_decide(void **state)
{
    gitops_removal_facts f;
    gitops_removal_plan p;
    grove_err err = GROVE_ERR_INIT;

    (void)state;
    f = facts_normal();
    assert_int_equal(gitops_removal_decide(&p, &f, &err), 0);
    assert_int_equal(p.action, GITOPS_REMOVAL_FOLDER);
    assert_string_equal(p.folder, "/t/wts/w1");

    /* Nothing on disk anywhere: git's entry and the branch only. */
    f.recorded_present = 0;
    f.recorded_real = NULL;
    f.git_present = 0;
    f.git_real = NULL;
    assert_int_equal(gitops_removal_decide(&p, &f, &err), 0);
    assert_int_equal(p.action, GITOPS_REMOVAL_RECORD);
    assert_string_equal(p.folder, "");
    f.git_record = 0;
    f.git_path = NULL;
    assert_int_equal(gitops_removal_decide(&p, &f, &err), 0);
    assert_int_equal(p.action, GITOPS_REMOVAL_RECORD);

    /* Moved (git worktree move) outside the base, or inside it. */
    f = facts_normal();
    f.recorded_present = 0;
    f.recorded_real = NULL;
    f.git_path = f.git_real = "/t/elsewhere";
    decide_refused(&f, "git worktree move '/t/elsewhere' '/t/wts/w1'");
    f.git_path = f.git_real = "/t/wts/w2";
    decide_refused(&f, "not even with force");
    /* ...and a link left in its place. */
    f.recorded_present = 1;
    f.recorded_is_link = 1;
    f.recorded_real = "/t/wts/w2";
    decide_refused(&f, "symbolic link");
    f.recorded_real = "/t/elsewhere";
    decide_refused(&f, "not inside the worktrees folder");

    /* The recorded folder outside the base, or the main worktree. */
    f = facts_normal();
    f.recorded = f.recorded_real = f.git_path = f.git_real = "/t/repo";
    f.recorded_parent_real = "/t";
    decide_refused(&f, "not inside the worktrees folder");
    f.base_real = "/t";
    decide_refused(&f, "main worktree");
    f = facts_normal();
    f.recorded_parent_real = "/t/other"; /* a symlink in the recorded path */
    decide_refused(&f, "not inside the worktrees folder");
    f = facts_normal();
    f.recorded = "/t/wts/..";
    decide_refused(&f, "not inside the worktrees folder");
    f = facts_normal();
    f.base_real = NULL;
    decide_refused(&f, "does not resolve");

    /* git's record: missing, unreadable, elsewhere, a link, not pointing back. */
    f = facts_normal();
    f.git_record = 0;
    f.git_path = f.git_real = NULL;
    f.git_present = 0;
    decide_refused(&f, "git has no record");
    f.git_record = 1;
    decide_refused(&f, "git worktree repair");
    f = facts_normal();
    f.git_present = 0;
    f.git_real = NULL;
    f.git_path = "/t/gone";
    decide_refused(&f, "'/t/gone'");
    f = facts_normal();
    f.git_is_link = 1;
    decide_refused(&f, "not even with force");
    f = facts_normal();
    f.git_folder_ours = 0;
    decide_refused(&f, "does not point to git's record");
    f = facts_normal();
    f.name = "../x";
    decide_refused(&f, "invalid worktree name");
}

/* A swap between the check and the removal is caught: nothing is deleted. */
static void test_removal_target_rechecked(void **state)
{
    fixture *fx = *state;
    grove_err err = GROVE_ERR_INIT;
    gitops_removal_target t;
    char base[PATH_MAX + 8], path[PATH_MAX + 16], moved[PATH_MAX + 16];

    snprintf(base, sizeof(base), "%s/wts", fx->root);
    snprintf(path, sizeof(path), "%s/wts/rt1", fx->root);
    snprintf(moved, sizeof(moved), "%s/wts/rt1-moved", fx->root);
    create_ok(fx, "rt1", path, "grove/rt1", fx->c2);
    assert_int_equal(gitops_worktree_unlock(fx->r, "rt1", &err),
                     0); /* git worktree move needs it */
    if (gitops_removal_resolve(fx->r, "rt1", path, base, &t, &err) != 0)
        fail_msg("resolve: %s", err.msg);
    assert_int_equal(t.plan.action, GITOPS_REMOVAL_FOLDER);
    assert_string_equal(t.plan.folder, path);
    /*
     * Swapped for a copy (another folder at the same path, whose .git points
     * back to the same record: every fact but its identity is the same).
     */
    assert_int_equal(unit_sh("mv '%s' '%s' && cp -a '%s' '%s' && echo precious > '%s/p.txt'", path,
                             moved, moved, path, path),
                     0);
    assert_int_equal(gitops_worktree_remove_target(fx->r, &t, "grove/rt1", &err), -1);
    assert_int_equal(err.code, GROVE_ECONFLICT);
    assert_non_null(strstr(err.msg, "changed since it was checked"));
    assert_true(exists("%s/p.txt", path));
    assert_true(exists("%s/a.txt", moved));
    assert_true(branch_exists(fx, "grove/rt1"));
    gitops_removal_target_free(&t);
    /* Moved too: git's record names the new place; the check refuses. */
    assert_int_equal(
        unit_sh("rm -rf '%s' && git -C '%s' worktree move '%s' '%s'", moved, fx->repo, path, moved),
        0);
    assert_int_equal(gitops_removal_resolve(fx->r, "rt1", path, base, &t, &err), -1);
    assert_non_null(strstr(err.msg, "git worktree move"));
    assert_true(exists("%s/p.txt", moved));
    /* Moved back: resolved again, removed. */
    assert_int_equal(unit_sh("git -C '%s' worktree move '%s' '%s'", fx->repo, moved, path), 0);
    if (gitops_removal_resolve(fx->r, "rt1", path, base, &t, &err) != 0)
        fail_msg("resolve: %s", err.msg);
    assert_int_equal(gitops_worktree_remove_target(fx->r, &t, "grove/rt1", &err), 0);
    assert_false(exists("%s", path));
    assert_false(branch_exists(fx, "grove/rt1"));
    gitops_removal_target_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_main_and_linked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_branch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolve_branch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_branch_merged, setup, teardown),
        cmocka_unit_test(test_branch_name_valid),
        cmocka_unit_test_setup_teardown(test_create_and_unlock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkout_matches_git, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkout_workers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkout_unusual_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkout_filter_sources, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkout_packed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkout_write_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkout_outside_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkout_killed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_race_on_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stray_admin_folders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_foreign_and_broken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_cache_tree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_cached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_cached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_diff_stat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_branch_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removal_loss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_worktreeinclude, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_worktreeinclude_edges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worktree_list_and_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remote_url, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_urls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_remote_moved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_file_url_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_transport_errors_hide_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_credentials_refused, setup, teardown),
        cmocka_unit_test(test_removal_decide),
        cmocka_unit_test_setup_teardown(test_removal_target_rechecked, setup, teardown),
    };
    return unit_run_git_tests("git", tests, sizeof(tests) / sizeof(tests[0]));
}
