/*
 * Unit tests of conflicts between instances (tools/core/conflicts.c over
 * tools/git/conflicts.c) on a real repository and database: which pairs
 * overlap and which conflict (different files, different hunks, the same
 * lines, add/add, delete/modify, a file against a folder), the base
 * branch's current head, the instances left out, and that computing it
 * changes nothing on disk: references, objects, index files, files.
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
#include <unistd.h>

#include "tests/unit/unit.h"
#include "db/queries.h"
#include "tools/core/conflicts.h"
#include "tools/core/context.h"
#include "tools/core/instance.h"
#include "tools/core/terminate.h"

#define COMMIT "git -c user.name=t -c user.email=t@example.com commit -q"

typedef unit_repo fixture;

static int setup(void **state)
{
    /* notes.txt: ten lines, far enough apart for two hunks to merge cleanly. */
    *state = unit_repo_new("conflicts", "seq 1 10 > notes.txt && echo keep > keep.txt");
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

/* Runs `script` in the worktree of work-<issue>-a1 and commits everything. */
static void commit_in(fixture *f, int issue, const char *script)
{
    if (unit_sh("cd '%s/repo.worktrees/work-%d-a1' && %s && git add -A && " COMMIT " -m change",
                f->root, issue, script) != 0)
        fail_msg("commit in work-%d-a1: %s", issue, script);
}

static void check(fixture *f, const char *id, conflicts_report *r)
{
    grove_err err = GROVE_ERR_INIT;

    if (conflicts_check(f->ctx, id, r, &err) != 0)
        fail_msg("conflicts_check: %s", err.msg);
}

/* The paths joined with ',' (static buffer: one call per assertion). */
static const char *joined(const gitops_paths *p)
{
    static char buf[1024];
    size_t i, len = 0;

    buf[0] = '\0';
    for (i = 0; i < p->n; i++)
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", i ? "," : "", p->v[i]);
    return buf;
}

/*
 * What must not change: every reference, every file under .git/objects,
 * each worktree's index file (bytes and mtime) and status (files), main's too.
 */
static char *snapshot(fixture *f)
{
    return unit_sh_out(
        "cd '%s' && git for-each-ref && find .git/objects -type f | sort && "
        "for w in '%s'/repo.worktrees/* .; do d=$(git -C \"$w\" rev-parse --absolute-git-dir); "
        "stat -c '%%n %%s %%y' \"$d/index\"; sha1sum \"$d/index\"; "
        "GIT_OPTIONAL_LOCKS=0 git -C \"$w\" status --porcelain; done",
        f->repo, f->root);
}

static void test_different_files_no_pair(void **state)
{
    fixture *f = *state;
    conflicts_report r;

    create(f, 1);
    create(f, 2);
    commit_in(f, 1, "echo one > one.txt");
    commit_in(f, 2, "echo two > two.txt && echo changed > keep.txt");
    check(f, NULL, &r);
    assert_int_equal(r.running.n, 2);
    assert_int_equal(r.npairs, 0);
    assert_int_equal(r.nbases, 0); /* main did not move */
    assert_int_equal(r.nskipped, 0);
    assert_non_null(strstr(r.checked_at, "T"));
    assert_int_equal(strlen(r.checked_at), 24);
    conflicts_report_free(&r);
}

static void test_same_file_hunks_overlap_without_conflict(void **state)
{
    fixture *f = *state;
    conflicts_report r;
    char *before, *after;

    create(f, 1);
    create(f, 2);
    commit_in(f, 1, "sed -i 1s/.*/first/ notes.txt");
    commit_in(f, 2, "sed -i 10s/.*/last/ notes.txt && echo x > x.txt");
    before = snapshot(f);
    /* The clean merge of notes.txt makes a blob: it must not reach .git/objects. */
    check(f, NULL, &r);
    after = snapshot(f);
    assert_string_equal(after, before);
    assert_int_equal(r.npairs, 1);
    assert_string_equal(r.pairs[0].a, "work-1-a1");
    assert_string_equal(r.pairs[0].b, "work-2-a1");
    assert_string_equal(joined(&r.pairs[0].overlapping), "notes.txt");
    assert_int_equal(r.pairs[0].conflicting.n, 0);
    conflicts_report_free(&r);
    free(before);
    free(after);
}

static void test_same_lines_conflict_and_nothing_changes(void **state)
{
    fixture *f = *state;
    conflicts_report r;
    char *before, *after;

    create(f, 1);
    create(f, 2);
    create(f, 3);
    commit_in(f, 1, "sed -i 5s/.*/one/ notes.txt");
    commit_in(f, 2, "sed -i 5s/.*/two/ notes.txt");
    /* Uncommitted work is not seen. */
    assert_int_equal(
        unit_sh("cd '%s/repo.worktrees/work-3-a1' && sed -i 5s/.*/three/ notes.txt", f->root), 0);
    before = snapshot(f);
    check(f, NULL, &r);
    after = snapshot(f);
    assert_string_equal(after, before);
    assert_int_equal(r.npairs, 1);
    assert_string_equal(r.pairs[0].a, "work-1-a1");
    assert_string_equal(r.pairs[0].b, "work-2-a1");
    assert_string_equal(joined(&r.pairs[0].overlapping), "notes.txt");
    assert_string_equal(joined(&r.pairs[0].conflicting), "notes.txt");
    conflicts_report_free(&r);

    /* One instance against the others: the same pair, a before b in instance order. */
    check(f, "work-2-a1", &r);
    assert_int_equal(r.npairs, 1);
    assert_string_equal(r.pairs[0].a, "work-1-a1");
    assert_string_equal(r.pairs[0].b, "work-2-a1");
    conflicts_report_free(&r);
    check(f, "work-3-a1", &r);
    assert_int_equal(r.npairs, 0);
    conflicts_report_free(&r);
    free(before);
    free(after);
}

static void test_add_add_and_delete_modify_conflict(void **state)
{
    fixture *f = *state;
    conflicts_report r;

    create(f, 1);
    create(f, 2);
    commit_in(f, 1, "echo mine > new.txt && git rm -q keep.txt");
    commit_in(f, 2, "echo yours > new.txt && echo edited >> keep.txt");
    check(f, NULL, &r);
    assert_int_equal(r.npairs, 1);
    assert_string_equal(joined(&r.pairs[0].overlapping), "keep.txt,new.txt");
    assert_string_equal(joined(&r.pairs[0].conflicting), "keep.txt,new.txt");
    conflicts_report_free(&r);
}

static void test_file_against_folder(void **state)
{
    fixture *f = *state;
    conflicts_report r;

    create(f, 1);
    create(f, 2);
    commit_in(f, 1, "echo file > d");
    commit_in(f, 2, "mkdir d && echo in > d/f");
    check(f, NULL, &r);
    /* No common path, but a merge cannot make both: listed with what it could not resolve. */
    assert_int_equal(r.npairs, 1);
    assert_int_equal(r.pairs[0].overlapping.n, 0);
    assert_true(r.pairs[0].conflicting.n > 0);
    conflicts_report_free(&r);
}

static void test_rename_and_nested_paths(void **state)
{
    fixture *f = *state;
    conflicts_report r;

    assert_int_equal(unit_sh("cd '%s' && mkdir -p src/deep && seq 1 40 > src/deep/x.txt && "
                             "git add -A && " COMMIT " -m deep",
                             f->repo),
                     0);
    create(f, 1);
    create(f, 2);
    create(f, 3);
    /* work-1 renames notes.txt; work-2 edits it: git's merge follows the rename, cleanly. */
    commit_in(f, 1, "git mv notes.txt renamed.txt && sed -i 20s/.*/x/ src/deep/x.txt");
    commit_in(f, 2, "sed -i 2s/.*/two/ notes.txt && sed -i 20s/.*/y/ src/deep/x.txt");
    commit_in(f, 3, "sed -i 2s/.*/three/ notes.txt");
    check(f, NULL, &r);
    assert_int_equal(r.npairs, 3);
    assert_string_equal(r.pairs[0].b, "work-2-a1");
    assert_string_equal(joined(&r.pairs[0].overlapping), "notes.txt,src/deep/x.txt");
    assert_string_equal(joined(&r.pairs[0].conflicting), "src/deep/x.txt");
    assert_string_equal(r.pairs[1].b, "work-3-a1");
    assert_string_equal(joined(&r.pairs[1].overlapping), "notes.txt");
    assert_int_equal(r.pairs[1].conflicting.n, 0);
    assert_string_equal(joined(&r.pairs[2].conflicting), "notes.txt");
    conflicts_report_free(&r);
}

static void test_with_base_when_main_moves(void **state)
{
    fixture *f = *state;
    conflicts_report r;

    create(f, 1);
    create(f, 2);
    commit_in(f, 1, "sed -i 3s/.*/mine/ notes.txt");
    commit_in(f, 2, "echo two > two.txt");
    /* main moves on: a conflicting change for work-1, two commits work-2 lacks. */
    assert_int_equal(unit_sh("cd '%s' && sed -i 3s/.*/main/ notes.txt && " COMMIT " -qam m1 && "
                             "echo more > more.txt && git add more.txt && " COMMIT " -m m2",
                             f->repo),
                     0);
    check(f, NULL, &r);
    assert_int_equal(r.npairs, 0);
    assert_int_equal(r.nbases, 2);
    assert_string_equal(r.bases[0].instance_id, "work-1-a1");
    assert_int_equal(r.bases[0].behind, 2);
    assert_string_equal(joined(&r.bases[0].conflicting), "notes.txt");
    assert_string_equal(r.bases[1].instance_id, "work-2-a1");
    assert_int_equal(r.bases[1].behind, 2);
    assert_int_equal(r.bases[1].conflicting.n, 0);
    conflicts_report_free(&r);

    /* One instance: only its own base. */
    check(f, "work-2-a1", &r);
    assert_int_equal(r.nbases, 1);
    assert_string_equal(r.bases[0].instance_id, "work-2-a1");
    conflicts_report_free(&r);
}

static void test_bad_ids_and_gone_branches(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    conflicts_report r;
    terminate_opts o = {0};
    terminate_result t;

    create(f, 1);
    create(f, 2);
    create(f, 3);
    commit_in(f, 1, "sed -i 5s/.*/one/ notes.txt");
    commit_in(f, 2, "sed -i 5s/.*/two/ notes.txt");
    commit_in(f, 3, "sed -i 5s/.*/three/ notes.txt");

    assert_int_equal(conflicts_check(f->ctx, "work-9-a1", &r, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    conflicts_report_free(&r);

    assert_int_equal(terminate_instance(f->ctx, "work-3-a1", &o, &t, NULL, &err), 0);
    terminate_result_free(&t);
    assert_int_equal(conflicts_check(f->ctx, "work-3-a1", &r, &err), -1);
    assert_int_equal(err.code, GROVE_ECONFLICT);
    assert_non_null(strstr(err.msg, "is terminated: only running instances are compared; call "
                                    "get_conflicts without instance_id"));
    conflicts_report_free(&r);
    /* Terminated instances are not compared. */
    check(f, NULL, &r);
    assert_int_equal(r.running.n, 2);
    assert_int_equal(r.npairs, 1);
    conflicts_report_free(&r);

    /* A running instance whose branch is gone is left out, with the reason. */
    assert_int_equal(unit_sh("git -C '%s' update-ref -d refs/heads/grove/work-2-a1", f->repo), 0);
    check(f, NULL, &r);
    assert_int_equal(r.npairs, 0);
    assert_int_equal(r.nskipped, 1);
    assert_string_equal(r.skipped[0].instance_id, "work-2-a1");
    assert_int_equal(r.skipped[0].branch_gone, 1);
    assert_non_null(strstr(r.skipped[0].reason, "grove/work-2-a1"));
    conflicts_report_free(&r);
}

static void test_base_branch_gone(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    instance_spec spec = {0};
    instance_created c;
    conflicts_report r;
    char *head = unit_sh_out("git -C '%s' rev-parse main", f->repo);

    assert_int_equal(unit_sh("git -C '%s' branch feature", f->repo), 0);
    spec.type = "work";
    spec.issue.number = 4;
    spec.base_branch = "feature";
    spec.base_commit = head;
    spec.start_commit = head;
    assert_int_equal(instance_create(f->ctx, &spec, NULL, &c, &err), 0);
    instance_created_free(&c);
    assert_int_equal(unit_sh("git -C '%s' branch -q -D feature", f->repo), 0);
    check(f, "work-4-a1", &r);
    assert_int_equal(r.nbases, 0);
    assert_int_equal(r.nskipped, 1);
    assert_int_equal(r.skipped[0].branch_gone, 0);
    assert_non_null(strstr(r.skipped[0].reason, "'feature'"));
    conflicts_report_free(&r);
    free(head);
}

/* The pairs, bases and skips of `r` that involve `id`, one line each. */
static char *involving(const conflicts_report *r, const char *id)
{
    char *out = calloc(1, 4096); /* owned by the caller */
    size_t i, len = 0;

    assert_non_null(out);
    for (i = 0; i < r->npairs; i++)
        if (strcmp(r->pairs[i].a, id) == 0 || strcmp(r->pairs[i].b, id) == 0) {
            len += (size_t)snprintf(out + len, 4096 - len, "pair %s %s over %s", r->pairs[i].a,
                                    r->pairs[i].b, joined(&r->pairs[i].overlapping));
            len += (size_t)snprintf(out + len, 4096 - len, " conflict %s\n",
                                    joined(&r->pairs[i].conflicting));
        }
    for (i = 0; i < r->nbases; i++)
        if (strcmp(r->bases[i].instance_id, id) == 0)
            len += (size_t)snprintf(out + len, 4096 - len, "base %s %zu %s\n", id,
                                    r->bases[i].behind, joined(&r->bases[i].conflicting));
    for (i = 0; i < r->nskipped; i++)
        if (strcmp(r->skipped[i].instance_id, id) == 0)
            len += (size_t)snprintf(out + len, 4096 - len, "skip %s %d %s\n", id,
                                    r->skipped[i].branch_gone, r->skipped[i].reason);
    return out;
}

/* 1 when `id` is among r->running. */
static int has_running(const conflicts_report *r, const char *id)
{
    size_t i;

    for (i = 0; i < r->running.n; i++)
        if (strcmp(r->running.v[i].id, id) == 0)
            return 1;
    return 0;
}

/*
 * get_instance's summary (conflicts_summary) says what the full check says
 * about its instance, without reading the running rows whose branch is
 * gone, and still finds branches named under an earlier branch.prefix.
 */
static void test_summary_matches_check(void **state)
{
    static const char *ids[] = {"work-1-a1", "work-2-a1", "work-3-a1", "work-4-a1", "work-5-a1"};
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    conflicts_report full, one;
    size_t i, round;

    for (i = 1; i <= 5; i++)
        create(f, (int)i);
    commit_in(f, 1, "sed -i 5s/.*/one/ notes.txt");
    commit_in(f, 2, "sed -i 5s/.*/two/ notes.txt && echo a > keep.txt");
    commit_in(f, 3, "sed -i 5s/.*/three/ notes.txt");
    commit_in(f, 4, "echo four > keep.txt");
    commit_in(f, 5, "echo five > five.txt");
    assert_int_equal(
        unit_sh("cd '%s' && sed -i 9s/.*/main/ notes.txt && echo m > keep.txt && " COMMIT
                " -qam m1",
                f->repo),
        0);
    assert_int_equal(unit_sh("git -C '%s' update-ref -d refs/heads/grove/work-3-a1", f->repo), 0);
    /* round 1: branch.prefix changed since the instances were made */
    for (round = 0; round < 2; round++) {
        if (round == 1) {
            free(f->ctx->branch_prefix);
            assert_non_null(f->ctx->branch_prefix = strdup("agents/"));
        }
        check(f, NULL, &full);
        assert_int_equal(full.npairs, 2); /* 1-2 on notes.txt, 2-4 on keep.txt */
        for (i = 0; i < sizeof(ids) / sizeof(*ids); i++) {
            char *want, *got;

            if (conflicts_summary(f->ctx, ids[i], &one, &err) != 0)
                fail_msg("conflicts_summary %s: %s", ids[i], err.msg);
            want = involving(&full, ids[i]);
            got = involving(&one, ids[i]);
            assert_string_equal(got, want);
            assert_true(has_running(&one, ids[i]));
            /* the instance whose branch is gone is read only when it is the one asked about */
            if (round == 0)
                assert_int_equal(has_running(&one, "work-3-a1"), i == 2);
            free(want);
            free(got);
            conflicts_report_free(&one);
        }
        conflicts_report_free(&full);
    }
    /* work-1 conflicts with work-2 only (work-3, on the same line, has lost its branch) */
    assert_int_equal(conflicts_summary(f->ctx, "work-1-a1", &one, &err), 0);
    assert_int_equal(one.npairs, 1);
    assert_string_equal(one.pairs[0].b, "work-2-a1");
    assert_string_equal(joined(&one.pairs[0].conflicting), "notes.txt");
    conflicts_report_free(&one);
}

/* The git layer alone: merge base, and the same answer from the cache. */
static void test_git_check_between_commits(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    gitops_conflicts *s = NULL;
    gitops_merge_check m;
    char *base = unit_sh_out("git -C '%s' rev-parse main", f->repo), *a, *b;

    assert_int_equal(
        unit_sh("cd '%s' && git checkout -q -b a && sed -i 2s/.*/A/ notes.txt && " COMMIT
                " -qam a && git checkout -q -b b main && sed -i 2s/.*/B/ notes.txt && " COMMIT
                " -qam b && git checkout -q main",
                f->repo),
        0);
    a = unit_sh_out("git -C '%s' rev-parse a", f->repo);
    b = unit_sh_out("git -C '%s' rev-parse b", f->repo);
    assert_int_equal(gitops_conflicts_open(f->ctx->repo, &s, &err), 0);
    for (int round = 0; round < 2; round++) {
        assert_int_equal(gitops_conflicts_check(s, a, b, &m, &err), 0);
        assert_string_equal(m.merge_base, base);
        assert_string_equal(joined(&m.overlapping), "notes.txt");
        assert_string_equal(joined(&m.conflicting), "notes.txt");
        gitops_merge_check_free(&m);
    }
    assert_int_equal(gitops_conflicts_check(s, a, "0123", &m, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    gitops_conflicts_close(s);
    free(base);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_different_files_no_pair, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_file_hunks_overlap_without_conflict, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_same_lines_conflict_and_nothing_changes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_add_add_and_delete_modify_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_against_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rename_and_nested_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_with_base_when_main_moves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_ids_and_gone_branches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_base_branch_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_summary_matches_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_git_check_between_commits, setup, teardown),
    };

    return unit_run_git_tests("conflicts", tests, sizeof(tests) / sizeof(tests[0]));
}
