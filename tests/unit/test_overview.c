/*
 * Unit tests of the overview of `grove watch` (tools/core/overview.c) on a
 * real repository and database: the order (waiting first, the longest in
 * its state first), time in state, ahead/behind, dirty files, the last
 * checkpoint, conflicts and ports; and the cadence of what is expensive:
 * a git state kept until its branch head or agent state moves or it is
 * old (sooner while its agent works), the old ones spread over the refreshes, the conflicts taken
 * again only when a branch head moved and not more often than asked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "db/queries.h"
#include "tools/core/context.h"
#include "tools/core/instance.h"
#include "tools/core/overview.h"

#define COMMIT "git -c user.name=t -c user.email=t@example.com commit -q"

typedef unit_repo fixture;

static int setup(void **state)
{
    /* notes.txt: ten lines, far enough apart for two hunks to merge cleanly. */
    *state = unit_repo_new("overview", "seq 1 10 > notes.txt");
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    unit_repo_free(*state);
    return 0;
}

/* A work instance for `issue` from main's head (no agent): work-<issue>-a1. */
static void create(fixture *f, int issue)
{
    unit_repo_work(f, issue);
}

/* work-<issue>-a1's agent state: `state` since `ago` seconds before the clock's now. */
static void set_state(fixture *f, int issue, const char *state, int ago)
{
    char sql[512];

    snprintf(sql, sizeof(sql),
             "UPDATE grove_instances SET agent_state = '%s', agent_state_since = "
             "strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', 'now', '-%d seconds') WHERE id = 'work-%d-a1'",
             state, ago, issue);
    unit_sql(db_sqlite(f->ctx->db), sql);
}

static void in_worktree(fixture *f, int issue, const char *script)
{
    if (unit_sh("cd '%s/repo.worktrees/work-%d-a1' && %s", f->root, issue, script) != 0)
        fail_msg("in work-%d-a1: %s", issue, script);
}

static void refresh(fixture *f, overview_cache *c, const overview_opts *o, overview *ov)
{
    grove_err err = GROVE_ERR_INIT;

    if (overview_refresh(f->ctx, c, o, ov, &err) != 0)
        fail_msg("overview_refresh: %s", err.msg);
    assert_string_equal(ov->warning, "");
}

static const overview_row *row(const overview *ov, int issue)
{
    char id[32];
    size_t i;

    snprintf(id, sizeof(id), "work-%d-a1", issue);
    for (i = 0; i < ov->n; i++)
        if (strcmp(ov->v[i].inst.id, id) == 0)
            return &ov->v[i];
    fail_msg("no row %s", id);
    return NULL;
}

static double clock_now(void)
{
    return (double)time(NULL);
}

static void test_order_and_columns(void **state)
{
    fixture *f = *state;
    overview ov = {0};
    overview_opts o = {0};
    grove_err err = GROVE_ERR_INIT;
    db_new_checkpoint cp = {0};
    grove_checkpoint made = {0};
    int i;

    for (i = 1; i <= 6; i++)
        create(f, i);
    set_state(f, 1, "idle", 30);
    set_state(f, 2, "waiting", 10);
    set_state(f, 3, "working", 20);
    set_state(f, 4, "waiting", 100);
    set_state(f, 5, "exited", 5);
    set_state(f, 6, "starting", 50);
    in_worktree(f, 3, "echo x > new.txt && seq 2 10 > notes.txt");
    in_worktree(f, 2, "echo a > a.txt && git add a.txt && " COMMIT " -m a");
    cp.instance_id = "work-1-a1";
    cp.phase = "build";
    cp.name = "tests";
    cp.status = "completed";
    if (db_checkpoint_insert(f->ctx->db, &cp, &made, &err) != 0)
        fail_msg("db_checkpoint_insert: %s", err.msg);
    db_checkpoint_free(&made);

    o.now = clock_now();
    refresh(f, NULL, &o, &ov);
    assert_int_equal(ov.n, 6);
    /* waiting (longest first), working and starting (longest first), idle, exited */
    assert_string_equal(ov.v[0].inst.id, "work-4-a1");
    assert_string_equal(ov.v[1].inst.id, "work-2-a1");
    assert_string_equal(ov.v[2].inst.id, "work-6-a1");
    assert_string_equal(ov.v[3].inst.id, "work-3-a1");
    assert_string_equal(ov.v[4].inst.id, "work-1-a1");
    assert_string_equal(ov.v[5].inst.id, "work-5-a1");
    assert_int_equal(ov.v[0].rank, OVERVIEW_WAITING);
    assert_int_equal(ov.v[2].rank, OVERVIEW_WORKING);
    assert_int_equal(ov.v[4].rank, OVERVIEW_IDLE);
    assert_int_equal(ov.v[5].rank, OVERVIEW_DONE);
    assert_string_equal(ov.v[0].state, "waiting");
    assert_in_range(ov.v[0].state_secs, 99, 101);
    assert_in_range(row(&ov, 2)->state_secs, 9, 11);
    /* git: one commit ahead; two files not committed */
    assert_true(row(&ov, 2)->git_known);
    assert_int_equal(row(&ov, 2)->ahead, 1);
    assert_int_equal(row(&ov, 2)->behind, 0);
    assert_int_equal(row(&ov, 2)->ndirty, 0);
    assert_int_equal(row(&ov, 3)->ndirty, 2);
    assert_int_equal(row(&ov, 3)->ahead, 0);
    /* the last checkpoint */
    assert_true(row(&ov, 1)->checkpoint_known);
    assert_string_equal(row(&ov, 1)->checkpoint.phase, "build");
    assert_int_equal(row(&ov, 1)->checkpoint.sequence, 1);
    assert_in_range(row(&ov, 1)->checkpoint_secs, 0, 2);
    assert_false(row(&ov, 2)->checkpoint_known);
    assert_int_equal(row(&ov, 2)->checkpoint_secs, -1);
    /* no conflicts; ports */
    assert_true(row(&ov, 2)->conflicts_known);
    assert_int_equal(row(&ov, 2)->conflicts_with, 0);
    assert_true(row(&ov, 1)->inst.port_first > 0);
    assert_int_equal(row(&ov, 1)->inst.port_count, 10);
    assert_true(ov.conflicts_age_s >= 0);
    overview_free(&ov);
    overview_free(&ov); /* twice is harmless */
}

/*
 * A git state is kept until it is old (5 s with a working agent, 20 s here for
 * the others), its branch head moves or its agent state changes.
 */
static void test_git_cadence(void **state)
{
    fixture *f = *state;
    overview_cache *c = overview_cache_new();
    overview ov = {0};
    overview_opts o = {0};
    double t = clock_now();

    assert_non_null(c);
    create(f, 1);
    create(f, 2);
    create(f, 3);
    set_state(f, 1, "working", 0);
    set_state(f, 3, "working", 0);
    o.git_every_s = 5;
    o.git_idle_every_s = 20;
    o.now = t;
    refresh(f, c, &o, &ov);
    assert_int_equal(row(&ov, 1)->ndirty, 0);
    overview_free(&ov);

    /* A new file: not seen one second later (the state is kept) ... */
    in_worktree(f, 1, "echo x > new.txt");
    in_worktree(f, 2, "echo x > new.txt");
    in_worktree(f, 3, "echo x > new.txt");
    o.now = t + 1;
    refresh(f, c, &o, &ov);
    assert_int_equal(row(&ov, 1)->ndirty, 0);
    assert_int_equal(row(&ov, 2)->ndirty, 0);
    assert_int_equal(row(&ov, 3)->ndirty, 0);
    assert_true(row(&ov, 1)->git_age_s >= 0.99);
    overview_free(&ov);
    /* ... but at once when the agent state changes (1), and once it is 5 s old while its
     * agent works (3); without an agent (2), only once it is 20 s old. */
    set_state(f, 1, "idle", 0);
    o.now = t + 2;
    refresh(f, c, &o, &ov);
    assert_int_equal(row(&ov, 1)->ndirty, 1);
    assert_int_equal(row(&ov, 3)->ndirty, 0);
    overview_free(&ov);
    o.now = t + 5;
    refresh(f, c, &o, &ov);
    assert_int_equal(row(&ov, 3)->ndirty, 1);
    assert_true(row(&ov, 3)->git_age_s < 0.01);
    assert_int_equal(row(&ov, 2)->ndirty, 0);
    overview_free(&ov);
    o.now = t + 19;
    refresh(f, c, &o, &ov);
    assert_int_equal(row(&ov, 2)->ndirty, 0);
    overview_free(&ov);
    o.now = t + 20;
    refresh(f, c, &o, &ov);
    assert_int_equal(row(&ov, 2)->ndirty, 1);
    overview_free(&ov);

    /* A commit moves the branch head: seen at the next refresh. */
    in_worktree(f, 2, "git add new.txt && " COMMIT " -m new");
    o.now = t + 21;
    refresh(f, c, &o, &ov);
    assert_int_equal(row(&ov, 2)->ahead, 1);
    assert_int_equal(row(&ov, 2)->ndirty, 0);
    overview_free(&ov);
    overview_cache_free(c);
    overview_cache_free(NULL);
}

/* With tick_s, old git states are taken a few at a time, the oldest first. */
static void test_git_spread(void **state)
{
    fixture *f = *state;
    overview_cache *c = overview_cache_new();
    overview ov = {0};
    overview_opts o = {0};
    double t = clock_now();
    int i, fresh;
    size_t k;

    for (i = 1; i <= 10; i++)
        create(f, i);
    o.git_idle_every_s = 5; /* no agents: the idle cadence */
    o.tick_s = 1;
    o.now = t;
    refresh(f, c, &o, &ov); /* every one is new: all taken */
    for (k = 0; k < ov.n; k++)
        assert_true(ov.v[k].git_known);
    overview_free(&ov);
    for (i = 1; i <= 10; i++)
        in_worktree(f, i, "echo x > new.txt");
    /* 10 instances, one refresh a second, every 5 s: 2 a refresh */
    for (i = 5; i <= 9; i++) {
        o.now = t + i;
        refresh(f, c, &o, &ov);
        fresh = 0;
        for (k = 0; k < ov.n; k++)
            fresh += ov.v[k].ndirty == 1;
        assert_int_equal(fresh, 2 * (i - 4));
        overview_free(&ov);
    }
    /* A CPU budget too small for two: one a refresh. */
    for (i = 1; i <= 10; i++)
        in_worktree(f, i, "echo y >> new.txt");
    o.git_cpu_ms_per_s = 0.000001;
    for (i = 15; i <= 17; i++) {
        o.now = t + i;
        refresh(f, c, &o, &ov);
        fresh = 0;
        for (k = 0; k < ov.n; k++)
            fresh += ov.v[k].git_age_s < 0.01;
        assert_int_equal(fresh, 1);
        overview_free(&ov);
    }
    overview_cache_free(c);
}

/* Conflicts: taken again only when a branch head moved, and at most every conflicts_every_s. */
static void test_conflicts_cadence(void **state)
{
    fixture *f = *state;
    overview_cache *c = overview_cache_new();
    overview ov = {0};
    overview_opts o = {0};
    double t = clock_now();

    create(f, 1);
    create(f, 2);
    create(f, 3);
    o.conflicts_every_s = 5;
    o.now = t;
    refresh(f, c, &o, &ov);
    assert_int_equal(row(&ov, 1)->conflicts_with, 0);
    overview_free(&ov);

    /* 1 and 2 change the same line; the next refresh is too soon to look again. */
    in_worktree(f, 1, "echo one > notes.txt && " COMMIT " -am one");
    in_worktree(f, 2, "echo two > notes.txt && " COMMIT " -am two");
    o.now = t + 1;
    refresh(f, c, &o, &ov);
    assert_int_equal(row(&ov, 1)->conflicts_with, 0);
    assert_true(ov.conflicts_age_s >= 0.99);
    assert_int_equal(row(&ov, 1)->ahead, 1); /* the git state did move */
    overview_free(&ov);
    o.now = t + 5;
    refresh(f, c, &o, &ov);
    assert_true(row(&ov, 1)->conflicts_known);
    assert_int_equal(row(&ov, 1)->conflicts_with, 1);
    assert_int_equal(row(&ov, 2)->conflicts_with, 1);
    assert_int_equal(row(&ov, 3)->conflicts_with, 0);
    assert_true(ov.conflicts_age_s < 0.01);
    overview_free(&ov);
    /* Nothing moved: not taken again, however old. */
    o.now = t + 60;
    refresh(f, c, &o, &ov);
    assert_true(ov.conflicts_age_s >= 54.9);
    assert_int_equal(row(&ov, 2)->conflicts_with, 1);
    overview_free(&ov);
    /* main moves against both: each conflicts with its base now. */
    if (unit_sh("cd '%s' && echo main > notes.txt && " COMMIT " -am main", f->repo) != 0)
        fail_msg("commit on main");
    o.now = t + 61;
    refresh(f, c, &o, &ov);
    assert_true(ov.conflicts_age_s < 0.01);
    assert_int_equal(row(&ov, 1)->conflicts_base, 1);
    assert_int_equal(row(&ov, 3)->conflicts_base, 0);
    assert_int_equal(row(&ov, 3)->behind, 0); /* against its base commit, as get_instance */
    overview_free(&ov);
    overview_cache_free(c);
}

static void test_attach_refusals(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    int status = -1;

    create(f, 1);
    assert_int_equal(overview_attach(f->ctx, "work-9-a1", &status, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_int_equal(overview_attach(f->ctx, "work-1-a1", &status, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_non_null(strstr(err.msg, "instance 'work-1-a1' has no tmux session"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_order_and_columns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_git_cadence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_git_spread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflicts_cadence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attach_refusals, setup, teardown),
    };

    return unit_run_git_tests("overview", tests, sizeof(tests) / sizeof(tests[0]));
}
