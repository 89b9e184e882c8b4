/*
 * Unit tests of the core (tools/core/) on a real git repository and a real
 * SQLite database: instance creation and its undo, setup reports,
 * reconciliation of dead agents, and gc's removal policy for orphaned
 * worktrees.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <git2.h>
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
#include "tools/agents/agent.h"
#include "tools/core/context.h"
#include "tools/core/feedback.h"
#include "tools/core/gc.h"
#include "tools/core/instance.h"
#include "tools/core/limits.h"
#include "tools/core/terminate.h"

typedef struct fixture {
    char root[PATH_MAX]; /* realpath of the mkdtemp folder */
    char repo[PATH_MAX]; /* root/repo: the main worktree */
    char head[41];       /* main's head */
    grove_ctx *ctx;
    pid_t child; /* a live "agent" process to kill in teardown, or 0 */
} fixture;

static int is_dir(const char *path)
{
    struct stat sb;

    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* 1 when branch `name` exists in the fixture's repository. */
static int has_branch(const fixture *f, const char *name)
{
    return unit_sh("git -C '%s' show-ref --verify --quiet 'refs/heads/%s'", f->repo, name) == 0;
}

static int row_exists(const fixture *f, const char *id)
{
    grove_err err = GROVE_ERR_INIT;
    grove_instance inst;
    int found = db_instance_get(f->ctx->db, id, &inst, &err) == 0;

    db_instance_free(&inst);
    return found;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char tmp[] = "/tmp/grove-test-core-XXXXXX", sock[64];
    ctx_options o = {0};
    grove_err err = GROVE_ERR_INIT;
    FILE *p;

    if (!f || !mkdtemp(tmp) || !realpath(tmp, f->root))
        return -1;
    snprintf(f->repo, sizeof(f->repo), "%s/repo", f->root);
    if (unit_sh("git init -q -b main '%s' && cd '%s' && echo hello > a.txt && git add a.txt && "
                "git -c user.name=t -c user.email=t@example.com commit -q -m init",
                f->repo, f->repo) != 0)
        return -1;
    snprintf(sock, sizeof(sock), "grove-test-core-%d", (int)getpid());
    setenv("GROVE_TMUX_SOCKET", sock, 1);
    unsetenv("GROVE_WORKTREES");
    unsetenv("GROVE_DB");
    unsetenv("GROVE_INSTANCE_ID");
    unsetenv("GROVE_AGENT_COMMAND");
    unsetenv("GROVE_BRANCH_PREFIX");
    {
        char cmd[PATH_MAX + 64];

        snprintf(cmd, sizeof(cmd), "git -C '%s' rev-parse HEAD", f->repo);
        p = popen(cmd, "r");
        if (!p || !fgets(f->head, sizeof(f->head), p))
            return -1;
        pclose(p);
    }
    o.repo = f->repo;
    o.migrate = 1;
    if (ctx_open(&f->ctx, &o, &err) != 0) {
        fprintf(stderr, "ctx_open: %s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    if (f->child > 0) {
        kill(f->child, SIGKILL); /* also when an assertion failed before the test did */
        waitpid(f->child, NULL, 0);
    }
    ctx_free(f->ctx);
    unit_rmrf(f->root);
    free(f);
    return 0;
}

/* A work instance for issue 7 from main's head; fails the test when it cannot be made. */
static void create(fixture *f, instance_created *out)
{
    grove_err err = GROVE_ERR_INIT;
    instance_spec spec = {0};

    spec.type = "work";
    spec.issue.number = 7;
    spec.base_branch = "main";
    spec.base_commit = f->head;
    spec.start_commit = f->head;
    spec.prompt = "do it";
    if (instance_create(f->ctx, &spec, NULL, out, &err) != 0)
        fail_msg("instance_create: %s", err.msg);
}

/* ---- creation ------------------------------------------------------------ */

static void test_create_makes_worktree_branch_row(void **state)
{
    fixture *f = *state;
    instance_created c;
    char path[PATH_MAX];

    create(f, &c);
    assert_string_equal(c.instance.id, "work-7-a1");
    assert_string_equal(c.instance.status, "running");
    assert_string_equal(c.instance.branch_name, "grove/work-7-a1");
    assert_int_equal(c.instance.issue_number, 7);
    assert_string_equal(c.instance.base_commit, f->head);
    assert_int_equal(c.setup.ran, 0);
    snprintf(path, sizeof(path), "%s/repo.worktrees/work-7-a1", f->root);
    assert_string_equal(c.instance.worktree_path, path);
    assert_true(is_dir(path));
    assert_true(has_branch(f, "grove/work-7-a1"));
    assert_true(row_exists(f, "work-7-a1"));
    /* Unlocked once recorded: git lists it without the "initializing" lock. */
    assert_int_equal(unit_sh("git -C '%s' worktree list --porcelain | grep -q '^locked'", f->repo),
                     1);
    instance_created_free(&c);

    /* The next one takes the next number. */
    create(f, &c);
    assert_string_equal(c.instance.id, "work-7-a2");
    instance_created_free(&c);
}

static void test_create_failure_leaves_nothing(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    instance_spec spec = {0};
    instance_created c;
    char path[PATH_MAX];

    /* The row's insert fails after the worktree and branch were made: an unknown parent. */
    spec.type = "work";
    spec.issue.number = 8;
    spec.base_branch = "main";
    spec.base_commit = f->head;
    spec.start_commit = f->head;
    spec.parent_id = "ghost";
    spec.relationship = "created_fork";
    assert_int_equal(instance_create(f->ctx, &spec, NULL, &c, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_null(c.instance.id);
    snprintf(path, sizeof(path), "%s/repo.worktrees/work-8-a1", f->root);
    assert_false(is_dir(path));
    assert_false(has_branch(f, "grove/work-8-a1"));
    assert_false(row_exists(f, "work-8-a1"));
    assert_int_equal(
        unit_sh("test -z \"$(git -C '%s' worktree list --porcelain | grep work-8)\"", f->repo), 0);

    /* A branch name git refuses: nothing is made at all. */
    spec.parent_id = NULL;
    spec.relationship = NULL;
    spec.issue.number = 0;
    snprintf(spec.issue.beads, sizeof(spec.issue.beads), "bad..id");
    assert_int_equal(instance_create(f->ctx, &spec, NULL, &c, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_false(has_branch(f, "grove/work-bad..id-a1"));
}

static void test_create_reports_setup(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    instance_created c;
    json_t *meta = NULL;

    /* A failing setup command does not fail the creation: it is reported. */
    assert_int_equal(db_config_set(f->ctx->db, "worktrees.setup_command",
                                   "[\"sh\", \"-c\", \"echo setting up; exit 3\"]", 0, &err),
                     0);
    create(f, &c);
    assert_int_equal(c.setup.ran, 1);
    assert_int_equal(c.setup.exit_code, 3);
    assert_null(c.setup.error);
    assert_non_null(strstr(c.setup.log, "/logs/work-7-a1.log"));
    assert_true(row_exists(f, "work-7-a1"));
    assert_int_equal(db_instance_metadata(f->ctx->db, "work-7-a1", &meta, &err), 0);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(meta, "setup"), "status")), "failed");
    json_decref(meta);
    instance_created_free(&c);

    /* One that cannot run at all says why. */
    assert_int_equal(db_config_set(f->ctx->db, "worktrees.setup_command", "not json", 0, &err), 0);
    create(f, &c);
    assert_int_equal(c.setup.ran, 1);
    assert_non_null(c.setup.error);
    assert_non_null(strstr(c.setup.error, "worktrees.setup_command"));
    instance_created_free(&c);
}

/* ---- reconciliation ------------------------------------------------------ */

static void test_reconcile_dead_and_live_agents(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    instance_created dead, live;
    grove_instance inst;
    pid_t gone, alive;
    size_t ended = 99;
    json_t *meta = NULL;

    create(f, &dead);
    create(f, &live);
    gone = fork();
    assert_true(gone >= 0);
    if (gone == 0)
        _exit(0);
    waitpid(gone, NULL, 0);
    alive = fork();
    assert_true(alive >= 0);
    if (alive == 0) {
        pause();
        _exit(0);
    }
    f->child = alive;
    assert_int_equal(db_instance_set_agent(f->ctx->db, dead.instance.id, NULL, gone, &err), 0);
    assert_int_equal(db_instance_set_agent(f->ctx->db, live.instance.id, NULL, alive, &err), 0);

    assert_int_equal(instance_reconcile_all(f->ctx, &ended, &err), 0);
    assert_int_equal(ended, 1);
    assert_int_equal(db_instance_get(f->ctx->db, dead.instance.id, &inst, &err), 0);
    assert_string_equal(inst.status, "terminated");
    assert_non_null(inst.terminated_at);
    db_instance_free(&inst);
    assert_int_equal(db_instance_metadata(f->ctx->db, dead.instance.id, &meta, &err), 0);
    assert_non_null(json_string_value(json_object_get(meta, "ended")));
    json_decref(meta);
    assert_int_equal(db_instance_get(f->ctx->db, live.instance.id, &inst, &err), 0);
    assert_string_equal(inst.status, "running");
    assert_null(inst.terminated_at);
    db_instance_free(&inst);

    /* Again: nothing more to end. */
    assert_int_equal(instance_reconcile_all(f->ctx, &ended, &err), 0);
    assert_int_equal(ended, 0);

    kill(alive, SIGKILL);
    waitpid(alive, NULL, 0);
    f->child = 0;
    assert_int_equal(instance_reconcile_all(f->ctx, &ended, &err), 0);
    assert_int_equal(ended, 1);
    instance_created_free(&dead);
    instance_created_free(&live);
}

/*
 * A recorded pid that now belongs to another process (its start time is not
 * the one recorded at launch) is no agent: reconcile ends the instance. The
 * same process with the recorded start time is alive.
 */
static void test_reconcile_reused_pid(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    instance_created reused, same;
    grove_instance inst;
    pid_t other;
    size_t ended = 99;
    unsigned long long start;
    json_t *meta;
    char *dir, *file1 = NULL, *file2 = NULL;

    create(f, &reused);
    create(f, &same);
    other = fork();
    assert_true(other >= 0);
    if (other == 0) {
        pause();
        _exit(0);
    }
    f->child = other;
    start = agent_process_start(other);
    assert_true(start > 0);
    assert_int_equal(db_instance_set_agent(f->ctx->db, reused.instance.id, NULL, other, &err), 0);
    assert_int_equal(db_instance_set_agent(f->ctx->db, same.instance.id, NULL, other, &err), 0);
    meta = json_pack("{s:I}", "agent_start", (json_int_t)(start + 1));
    assert_int_equal(db_instance_merge_metadata(f->ctx->db, reused.instance.id, meta, &err), 0);
    json_decref(meta);
    meta = json_pack("{s:I}", "agent_start", (json_int_t)start);
    assert_int_equal(db_instance_merge_metadata(f->ctx->db, same.instance.id, meta, &err), 0);
    json_decref(meta);

    /* Their {prompt_file}s: the ended instance's goes with it. */
    dir = instance_prompt_dir(f->ctx);
    assert_non_null(dir);
    assert_int_equal(agent_prompt_file_write(dir, reused.instance.id, "p", &file1, &err), 0);
    assert_int_equal(agent_prompt_file_write(dir, same.instance.id, "p", &file2, &err), 0);

    assert_int_equal(instance_reconcile_all(f->ctx, &ended, &err), 0);
    assert_int_equal(ended, 1);
    assert_int_equal(db_instance_get(f->ctx->db, reused.instance.id, &inst, &err), 0);
    assert_string_equal(inst.status, "terminated");
    db_instance_free(&inst);
    assert_int_equal(db_instance_get(f->ctx->db, same.instance.id, &inst, &err), 0);
    assert_string_equal(inst.status, "running");
    db_instance_free(&inst);
    assert_int_equal(access(file1, F_OK), -1);
    assert_int_equal(access(file2, F_OK), 0);
    free(file1);
    free(file2);
    free(dir);
    kill(other, SIGKILL);
    waitpid(other, NULL, 0);
    f->child = 0;
    instance_created_free(&reused);
    instance_created_free(&same);
}

/* ---- gc ------------------------------------------------------------------ */

/* The finding of kind `kind` about `subject`, or NULL. */
static const gc_finding *finding(const gc_report *r, const char *kind, const char *subject)
{
    size_t i;

    for (i = 0; i < r->n; i++)
        if (strcmp(r->v[i].kind, kind) == 0 && strcmp(r->v[i].subject, subject) == 0)
            return &r->v[i];
    return NULL;
}

static void test_gc_orphan_worktrees(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    instance_created merged, unique;
    gc_report r;
    const gc_finding *g;
    char merged_path[PATH_MAX], unique_path[PATH_MAX];

    /* Two worktrees whose rows are gone: one at main's head, one with a commit of its own. */
    create(f, &merged);
    create(f, &unique);
    snprintf(merged_path, sizeof(merged_path), "%s", merged.instance.worktree_path);
    snprintf(unique_path, sizeof(unique_path), "%s", unique.instance.worktree_path);
    assert_int_equal(unit_sh("cd '%s' && echo mine > b.txt && git add b.txt && "
                             "git -c user.name=t -c user.email=t@example.com commit -q -m mine",
                             unique_path),
                     0);
    assert_int_equal(db_instance_delete(f->ctx->db, merged.instance.id, &err), 0);
    assert_int_equal(db_instance_delete(f->ctx->db, unique.instance.id, &err), 0);

    /* A dry run changes nothing. */
    assert_int_equal(gc_run(f->ctx, &(gc_opts){1, 0}, &r, &err), 0);
    g = finding(&r, "orphan-worktree", merged_path);
    assert_non_null(g);
    assert_string_equal(g->action, "would remove");
    gc_report_free(&r);
    assert_true(is_dir(merged_path));

    assert_int_equal(gc_run(f->ctx, &(gc_opts){0, 0}, &r, &err), 0);
    g = finding(&r, "orphan-worktree", merged_path);
    assert_non_null(g);
    assert_string_equal(g->action, "removed");
    g = finding(&r, "orphan-worktree", unique_path);
    assert_non_null(g);
    assert_string_equal(g->action, "kept");
    assert_non_null(strstr(g->detail, "1 commits that exist nowhere else"));
    gc_report_free(&r);
    assert_false(is_dir(merged_path));
    assert_false(has_branch(f, merged.instance.branch_name));
    assert_true(is_dir(unique_path));
    assert_true(has_branch(f, unique.instance.branch_name));
    instance_created_free(&merged);
    instance_created_free(&unique);
}

static void test_gc_missing_worktree_terminates(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    instance_created c;
    grove_instance inst;
    gc_report r;
    const gc_finding *g;

    create(f, &c);
    assert_int_equal(unit_sh("rm -rf '%s'", c.instance.worktree_path), 0);
    assert_int_equal(gc_run(f->ctx, &(gc_opts){0, 0}, &r, &err), 0);
    g = finding(&r, "missing-worktree", c.instance.id);
    assert_non_null(g);
    assert_string_equal(g->action, "terminated");
    gc_report_free(&r);
    assert_int_equal(db_instance_get(f->ctx->db, c.instance.id, &inst, &err), 0);
    assert_string_equal(inst.status, "terminated");
    db_instance_free(&inst);
    instance_created_free(&c);
}

/* ---- terminate_instance: which folder removal may delete (issue 13, finding 2) ---------- */

static int file_has(const char *path, const char *text)
{
    char buf[64] = "";
    FILE *fp = fopen(path, "r");
    int ok = fp && fgets(buf, sizeof(buf), fp) && strncmp(buf, text, strlen(text)) == 0;

    if (fp)
        fclose(fp);
    return ok;
}

/* terminate_instance with remove_worktree (and force); its result freed. 0, or -1 with *err. */
static int terminate_remove(fixture *f, const char *id, int force, grove_err *err)
{
    terminate_opts o = {1, force, NULL};
    terminate_result r;
    int rc = terminate_instance(f->ctx, id, &o, &r, NULL, err);

    if (rc == 0) {
        assert_true(r.worktree_removed);
        terminate_result_free(&r);
    }
    return rc;
}

/*
 * The attack: `git worktree move` takes the instance's worktree, with
 * uncommitted work, outside the worktrees base. Removal used to count 0
 * dirty files at the (missing) recorded path and delete the folder git's
 * record names. Now refused, with and without force; nothing is touched.
 */
static void test_terminate_moved_worktree_refused(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    instance_created c;
    char moved[PATH_MAX + 16], file[PATH_MAX + 32];
    int force;

    create(f, &c);
    snprintf(moved, sizeof(moved), "%s/elsewhere", f->root);
    snprintf(file, sizeof(file), "%s/precious.txt", moved);
    assert_int_equal(unit_sh("echo precious > '%s/precious.txt' && git -C '%s' worktree move '%s' "
                             "'%s'",
                             c.instance.worktree_path, f->repo, c.instance.worktree_path, moved),
                     0);
    assert_false(is_dir(c.instance.worktree_path));
    for (force = 1; force >= 0; force--) {
        int rc;

        err = (grove_err)GROVE_ERR_INIT;
        rc = terminate_remove(f, c.instance.id, force, &err);
        assert_true(file_has(file, "precious")); /* the work, first */
        assert_int_equal(rc, -1);
        assert_int_equal(err.code, GROVE_ECONFLICT);
        assert_non_null(strstr(err.msg, "not even with force"));
        assert_non_null(strstr(err.msg, moved));
        assert_non_null(strstr(err.msg, c.instance.worktree_path));
        assert_non_null(strstr(err.msg, "git worktree move"));
        assert_true(is_dir(moved));
        assert_true(has_branch(f, c.instance.branch_name));
        assert_true(row_exists(f, c.instance.id));
    }
    /* Moved back, it is removed as usual (force: the file is uncommitted). */
    assert_int_equal(
        unit_sh("git -C '%s' worktree move '%s' '%s'", f->repo, moved, c.instance.worktree_path),
        0);
    err = (grove_err)GROVE_ERR_INIT;
    assert_int_equal(terminate_remove(f, c.instance.id, 0, &err), -1);
    assert_non_null(strstr(err.msg, "1 uncommitted file"));
    assert_int_equal(terminate_remove(f, c.instance.id, 1, &err), 0);
    assert_false(is_dir(c.instance.worktree_path));
    assert_false(has_branch(f, c.instance.branch_name));
    instance_created_free(&c);
}

/*
 * The instance's folder replaced by a symlink: to a worktree moved next to
 * it inside the base (force used to delete that one), and to a folder
 * outside. Refused even with force; the link's target untouched.
 */
static void test_terminate_symlink_refused(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    instance_created c;
    char other[PATH_MAX + 16], outside[PATH_MAX + 16], file[PATH_MAX + 32];
    const char *path;
    int force;

    create(f, &c);
    path = c.instance.worktree_path;
    /* base/moved-here: the worktree, moved within the base; base/<id> -> moved-here */
    snprintf(other, sizeof(other), "%s/repo.worktrees/moved-here", f->root);
    snprintf(file, sizeof(file), "%s/precious.txt", other);
    assert_int_equal(unit_sh("echo precious > '%s/precious.txt' && git -C '%s' worktree move '%s' "
                             "'%s' && ln -s moved-here '%s'",
                             path, f->repo, path, other, path),
                     0);
    for (force = 1; force >= 0; force--) {
        int rc;

        err = (grove_err)GROVE_ERR_INIT;
        rc = terminate_remove(f, c.instance.id, force, &err);
        assert_true(file_has(file, "precious")); /* the work, first */
        assert_int_equal(rc, -1);
        assert_non_null(strstr(err.msg, "not even with force"));
        assert_non_null(strstr(err.msg, path));
        assert_true(is_dir(other));
        assert_true(has_branch(f, c.instance.branch_name));
    }
    /* A link out of the base, to a plain folder. */
    snprintf(outside, sizeof(outside), "%s/outside", f->root);
    snprintf(file, sizeof(file), "%s/precious.txt", outside);
    assert_int_equal(unit_sh("rm '%s' && mkdir '%s' && echo precious > '%s' && ln -s '%s' '%s'",
                             path, outside, file, outside, path),
                     0);
    for (force = 0; force <= 1; force++) {
        err = (grove_err)GROVE_ERR_INIT;
        assert_int_equal(terminate_remove(f, c.instance.id, force, &err), -1);
        assert_int_equal(err.code, GROVE_EINVAL);
        assert_non_null(strstr(err.msg, "not inside the worktrees folder"));
        assert_true(file_has(file, "precious"));
        assert_true(is_dir(other));
    }
    instance_created_free(&c);
}

/* git has no record of the worktree, its folder is there: refused even with force. */
static void test_terminate_unrecorded_folder_refused(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    instance_created c;
    char file[PATH_MAX + 32];

    create(f, &c);
    snprintf(file, sizeof(file), "%s/a.txt", c.instance.worktree_path);
    assert_int_equal(unit_sh("rm -rf '%s/.git/worktrees/%s'", f->repo, c.instance.id), 0);
    assert_int_equal(terminate_remove(f, c.instance.id, 1, &err), -1);
    assert_int_equal(err.code, GROVE_ECONFLICT);
    assert_non_null(strstr(err.msg, "git has no record"));
    assert_true(file_has(file, "hello"));
    instance_created_free(&c);
}

/* The normal cases: a clean worktree goes; a deleted folder's git entry and branch go. */
static void test_terminate_removes(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    instance_created c;
    char admin[PATH_MAX + 64];

    create(f, &c);
    assert_int_equal(terminate_remove(f, c.instance.id, 0, &err), 0);
    assert_false(is_dir(c.instance.worktree_path));
    assert_false(has_branch(f, c.instance.branch_name));
    instance_created_free(&c);

    create(f, &c);
    snprintf(admin, sizeof(admin), "%s/.git/worktrees/%s", f->repo, c.instance.id);
    assert_int_equal(unit_sh("rm -rf '%s'", c.instance.worktree_path), 0);
    assert_true(is_dir(admin));
    assert_int_equal(terminate_remove(f, c.instance.id, 0, &err), 0);
    assert_false(is_dir(admin));
    assert_false(has_branch(f, c.instance.branch_name));
    instance_created_free(&c);
}

/* ---- limits (contract §5) ------------------------------------------------- */

/* A malloc'd string of n bytes of c. */
static char *filled_text(size_t n, char c)
{
    char *s = malloc(n + 1);

    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* A prompt of exactly 1 MiB makes an instance; one byte more makes nothing at all. */
static void test_limit_prompt(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    instance_spec spec = {0};
    instance_created c;
    char *prompt = filled_text(LIMIT_PROMPT_BYTES + 1, 'p'), path[PATH_MAX];

    assert_int_equal(LIMIT_PROMPT_BYTES, 1048576);
    spec.type = "work";
    spec.issue.number = 9;
    spec.base_branch = "main";
    spec.base_commit = f->head;
    spec.start_commit = f->head;
    spec.prompt = prompt;
    assert_int_equal(instance_create(f->ctx, &spec, NULL, &c, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_string_equal(err.msg, "prompt is 1048577 bytes; the limit is 1048576 bytes (1 MiB): "
                                 "shorten it, or put the long part in a file and name the file");
    assert_null(c.instance.id);
    snprintf(path, sizeof(path), "%s/repo.worktrees/work-9-a1", f->root);
    assert_false(is_dir(path));
    assert_false(has_branch(f, "grove/work-9-a1"));
    assert_int_equal(unit_query_int(db_sqlite(f->ctx->db), "SELECT COUNT(*) FROM grove_instances"),
                     0);

    prompt[LIMIT_PROMPT_BYTES] = '\0'; /* exactly the limit */
    if (instance_create(f->ctx, &spec, NULL, &c, &err) != 0)
        fail_msg("instance_create: %s", err.msg);
    assert_string_equal(c.instance.id, "work-9-a1");
    assert_int_equal(strlen(c.instance.prompt), LIMIT_PROMPT_BYTES);
    instance_created_free(&c);
    free(prompt);
}

/* Feedback of exactly 64 KiB is stored; one byte more is refused and stores nothing. */
static void test_limit_feedback(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    instance_created c;
    feedback_opts o = {0};
    feedback_result r;
    char *text = filled_text(LIMIT_FEEDBACK_BYTES + 1, 'f');
    sqlite3 *sq = db_sqlite(f->ctx->db);

    assert_int_equal(LIMIT_FEEDBACK_BYTES, 65536);
    create(f, &c);
    o.to = c.instance.id;
    o.type = "suggestions";
    o.text = text;
    assert_int_equal(feedback_send(f->ctx, &o, &r, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_non_null(strstr(err.msg, "feedback is 65537 bytes; the limit is 65536 bytes (64 KiB)"));
    assert_int_equal(unit_query_int(sq, "SELECT COUNT(*) FROM grove_feedback"), 0);

    text[LIMIT_FEEDBACK_BYTES] = '\0';
    if (feedback_send(f->ctx, &o, &r, &err) != 0)
        fail_msg("feedback_send: %s", err.msg);
    assert_int_equal(unit_query_int(sq, "SELECT length(feedback) FROM grove_feedback"), 65536);
    feedback_result_free(&r);
    instance_created_free(&c);
    free(text);
}

/* limits_json_bound() is never below the compact JSON's size, whatever it holds. */
static void test_json_bound(void **state)
{
    const char *texts[] = {"{}",
                           "[]",
                           "\"\"",
                           "null",
                           "true",
                           "false",
                           "-9223372036854775808",
                           "9223372036854775807",
                           "-2.2250738585072014e-308",
                           "1e300",
                           "0.1",
                           "-0.0",
                           "1e16",
                           "123456789012345678.0",
                           "[1,[2,[3,{\"a\":[]}]],\"x\"]",
                           "{\"\\u0001\\u001f\":\"\\u0000\\u0002\\\"\\\\/\"}",
                           "{\"files\":[\"src/parse.c\"],\"step\":1}",
                           "\"\\u00e9\\u2028\\ud83d\\ude00\"",
                           "[0.30000000000000004,-1.5e-7,4.9e-324]"};
    json_t *v, *inner, *outer;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(texts) / sizeof(*texts); i++) {
        v = json_loads(texts[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        assert_non_null(v);
        assert_true(limits_json_bound(v) >= json_dumpb(v, NULL, 0, JSON_COMPACT));
        json_decref(v);
    }
    /* a key with NUL bytes counts whole */
    v = json_object();
    json_object_setn_new(v, "a\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16, json_integer(1));
    assert_int_equal(json_dumpb(v, NULL, 0, JSON_COMPACT), 2 + 2 + 1 + 15 * 6 + 1 + 1);
    assert_true(limits_json_bound(v) >= json_dumpb(v, NULL, 0, JSON_COMPACT));
    json_decref(v);
    assert_int_equal(limits_json_bound(NULL), 0);
    /* deeper than 2048 levels: no bound */
    v = json_array();
    for (i = 0; i < 2100; i++) {
        outer = json_array();
        json_array_append_new(outer, v);
        v = outer;
    }
    assert_int_equal(limits_json_bound(v), SIZE_MAX);
    inner = json_array_get(v, 0);
    for (i = 0; i < 60; i++)
        inner = json_array_get(inner, 0);
    assert_true(limits_json_bound(inner) != SIZE_MAX);
    json_decref(v);
}

/* Control characters take 6 bytes each in JSON: data under the limit by its string length but
 * over it as JSON is refused (the bound may not skip the serialisation there). */
static void test_limit_checkpoint_escaped(void **state)
{
    grove_err err = GROVE_ERR_INIT;
    char *ctl = filled_text(LIMIT_CHECKPOINT_DATA_BYTES / 6, '\001');
    json_t *data = json_pack("{s:s}", "k", ctl);

    (void)state;
    assert_true(strlen(ctl) < LIMIT_CHECKPOINT_DATA_BYTES);
    assert_int_equal(limits_check_checkpoint(data, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "checkpoint data is 262148 bytes"));
    json_decref(data);
    free(ctl);
}

/* Checkpoint data of exactly 256 KiB as compact JSON passes, one byte more not; message 64 KiB. */
static void test_limit_checkpoint(void **state)
{
    grove_err err = GROVE_ERR_INIT;
    /* {"k":"..."} is 8 bytes around the string */
    char *big = filled_text(LIMIT_CHECKPOINT_DATA_BYTES - 8 + 1, 'd');
    char *msg = filled_text(LIMIT_CHECKPOINT_MESSAGE_BYTES + 1, 'm');
    json_t *data;

    (void)state;
    assert_int_equal(LIMIT_CHECKPOINT_DATA_BYTES, 262144);
    assert_int_equal(LIMIT_CHECKPOINT_MESSAGE_BYTES, 65536);
    data = json_pack("{s:s}", "k", big);
    assert_int_equal(limits_check_checkpoint(data, NULL, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_non_null(
        strstr(err.msg, "checkpoint data is 262145 bytes; the limit is 262144 bytes (256 KiB)"));
    json_decref(data);
    big[LIMIT_CHECKPOINT_DATA_BYTES - 8] = '\0';
    data = json_pack("{s:s}", "k", big);
    assert_int_equal(json_dumpb(data, NULL, 0, JSON_COMPACT), LIMIT_CHECKPOINT_DATA_BYTES);
    assert_int_equal(limits_check_checkpoint(data, NULL, &err), 0);

    assert_int_equal(limits_check_checkpoint(data, msg, &err), -1);
    assert_non_null(
        strstr(err.msg, "checkpoint message is 65537 bytes; the limit is 65536 bytes (64 KiB)"));
    msg[LIMIT_CHECKPOINT_MESSAGE_BYTES] = '\0';
    assert_int_equal(limits_check_checkpoint(data, msg, &err), 0);
    assert_int_equal(limits_check_checkpoint(NULL, NULL, &err), 0);
    json_decref(data);
    free(big);
    free(msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_makes_worktree_branch_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_failure_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_reports_setup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_dead_and_live_agents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_reused_pid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_orphan_worktrees, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_missing_worktree_terminates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_terminate_moved_worktree_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_terminate_symlink_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_terminate_unrecorded_folder_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_terminate_removes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit_prompt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit_feedback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit_checkpoint, setup, teardown),
        cmocka_unit_test(test_json_bound),
        cmocka_unit_test(test_limit_checkpoint_escaped),
    };

    return unit_run_git_tests("core", tests, sizeof(tests) / sizeof(tests[0]));
}
