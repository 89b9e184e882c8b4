/*
 * Unit tests of the git side of land_instance (tools/git/land.c): the tree
 * gitops_land_compute() makes for squash and merge, on each of its ways
 * (the target has not moved: the head's tree; disjoint or identical
 * changes: the head's changes grafted onto the target; overlapping
 * changes: the merge of the changed paths; a file against a folder: the
 * whole merge), checked against git's own `git merge-tree --write-tree`;
 * conflicts; and gitops_land_move() bringing the checked-out target's files
 * and index to the new commit (only the changed paths) while leaving it
 * clean. Also tree_changed_paths() (tools/git/treediff.c) against `git
 * diff --name-only`.
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

#include "tests/unit/unit.h"
#include "tools/git/git_internal.h"

#define COMMIT "git -c user.name=t -c user.email=t@example.com commit -q"

typedef struct fixture {
    char root[PATH_MAX];
    char repo[PATH_MAX];
    gitops_repo *r;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char tmp[] = "/tmp/grove-test-land-XXXXXX";
    grove_err err = GROVE_ERR_INIT;

    if (!f || !mkdtemp(tmp) || !realpath(tmp, f->root))
        return -1;
    snprintf(f->repo, sizeof(f->repo), "%s/repo", f->root);
    /* Folders a/ b/ c/ (with a nested one) and e/ with a single file; notes.txt: 10 lines. */
    if (unit_sh("git init -q -b main '%s' && cd '%s' && mkdir -p a b c/deep e && "
                "for d in a b c c/deep; do for i in 1 2 3 4; do seq 1 $i > $d/f$i.txt; done; "
                "done && echo alone > e/only.txt && seq 1 10 > notes.txt && echo d > dfile && "
                "git add -A && " COMMIT " -m init && git branch work",
                f->repo, f->repo) != 0)
        return -1;
    if (gitops_repo_open(&f->r, f->repo, &err) != 0) {
        fprintf(stderr, "gitops_repo_open: %s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    gitops_repo_free(f->r);
    unit_rmrf(f->root);
    free(f);
    return 0;
}

/* Runs `cmd` in the repository on branch `branch` (checked out for it), then back to main. */
static void on_branch(fixture *f, const char *branch, const char *cmd)
{
    assert_int_equal(unit_sh("cd '%s' && git checkout -q %s && %s && git add -A && " COMMIT
                             " -m '%s' && git checkout -q main",
                             f->repo, branch, cmd, branch),
                     0);
}

/* Lands `work` into main in memory; returns the result (new_into "" on conflicts). */
static void compute(fixture *f, gitops_land_strategy strategy, gitops_land_result *res)
{
    gitops_land_spec s = {0};
    grove_err err = GROVE_ERR_INIT;
    char *head = unit_sh_out("cd '%s' && git rev-parse work", f->repo);

    s.into = "main";
    s.head = head;
    s.label = "work";
    s.strategy = strategy;
    s.message = "land work";
    if (gitops_land_compute(f->r, &s, res, &err) != 0)
        fail_msg("gitops_land_compute: %s", err.msg);
    free(head);
}

/* The tree of commit `hex`. */
static char *tree_of(fixture *f, const char *hex)
{
    return unit_sh_out("cd '%s' && git rev-parse '%s^{tree}'", f->repo, hex);
}

/* Squash and merge give the tree `git merge-tree --write-tree main work` gives. */
static void assert_matches_git(fixture *f)
{
    char *want = unit_sh_out("cd '%s' && git merge-tree --write-tree main work", f->repo);
    gitops_land_strategy how[2] = {GITOPS_LAND_SQUASH, GITOPS_LAND_MERGE};
    int k;

    for (k = 0; k < 2; k++) {
        gitops_land_result res = {0};
        char *got, *parents;

        compute(f, how[k], &res);
        assert_int_equal(res.nconflicts, 0);
        got = tree_of(f, res.new_into);
        assert_string_equal(got, want);
        parents =
            unit_sh_out("cd '%s' && git rev-list --parents -n1 %s | wc -w", f->repo, res.new_into);
        assert_string_equal(parents, how[k] == GITOPS_LAND_MERGE ? "3" : "2");
        free(parents);
        free(got);
        gitops_land_result_free(&res);
    }
    free(want);
}

/* The target has not moved: the squash's tree is the head's, nothing merged. */
static void test_target_not_moved(void **state)
{
    fixture *f = *state;
    char *head_tree;

    on_branch(f, "work", "echo more >> a/f1.txt && rm b/f2.txt && echo new > c/deep/new.txt");
    head_tree = tree_of(f, "work");
    assert_matches_git(f);
    {
        gitops_land_result res = {0};
        char *got;

        compute(f, GITOPS_LAND_SQUASH, &res);
        got = tree_of(f, res.new_into);
        assert_string_equal(got, head_tree);
        free(got);
        gitops_land_result_free(&res);
    }
    free(head_tree);
}

/* Both moved, on different files (and folders: one emptied, one new). */
static void test_disjoint(void **state)
{
    fixture *f = *state;

    on_branch(f, "work",
              "echo w >> a/f1.txt && rm e/only.txt && mkdir -p n/m && echo x > n/m/x && "
              "chmod +x c/f3.txt");
    on_branch(f, "main", "echo m >> b/f1.txt && rm c/deep/f2.txt && echo y > a/new.txt");
    assert_matches_git(f);
}

/* Both made the same change to a file (a commit picked onto the target) and others besides. */
static void test_same_edit(void **state)
{
    fixture *f = *state;

    on_branch(f, "work", "echo same >> a/f2.txt && echo w >> c/f1.txt");
    on_branch(f, "main", "echo same >> a/f2.txt && echo m >> b/f4.txt");
    assert_matches_git(f);
}

/* Both changed one file in different places: merged, the blob written to the repository. */
static void test_overlap_clean(void **state)
{
    fixture *f = *state;

    on_branch(f, "work", "sed -i 1s/.*/work/ notes.txt && echo w >> a/f1.txt");
    on_branch(f, "main", "sed -i 10s/.*/main/ notes.txt && echo m >> b/f1.txt");
    assert_matches_git(f);
}

/* A rename on one side, an edit of the renamed file on the other: rename detection. */
static void test_overlap_rename(void **state)
{
    fixture *f = *state;

    on_branch(f, "work", "git mv notes.txt renamed.txt && echo w >> a/f1.txt");
    on_branch(f, "main", "sed -i 10s/.*/main/ notes.txt");
    assert_matches_git(f);
}

/* A file that becomes a folder on one side: the whole merge. */
static void test_file_to_folder(void **state)
{
    fixture *f = *state;

    on_branch(f, "work", "rm dfile && mkdir dfile && echo in > dfile/in.txt");
    on_branch(f, "main", "echo m >> b/f1.txt");
    assert_matches_git(f);
}

/* The same lines on both sides: conflicts, no commit. */
static void test_conflict(void **state)
{
    fixture *f = *state;
    gitops_land_result res = {0};

    on_branch(f, "work", "sed -i 5s/.*/work/ notes.txt && echo w >> a/f1.txt");
    on_branch(f, "main", "sed -i 5s/.*/main/ notes.txt && echo m >> b/f1.txt");
    compute(f, GITOPS_LAND_SQUASH, &res);
    assert_int_equal(res.nconflicts, 1);
    assert_string_equal(res.conflicts[0], "notes.txt");
    assert_string_equal(res.new_into, "");
    gitops_land_result_free(&res);
}

/* The move brings the checkout (main) to the new commit: files, index, clean after. */
static void test_move_updates_checkout(void **state)
{
    fixture *f = *state;
    gitops_land_result res = {0};
    gitops_land_move_spec m = {0};
    grove_err err = GROVE_ERR_INIT;
    char *status, *content, *gone;
    int raced = 0;

    on_branch(f, "work", "echo w >> a/f1.txt && rm e/only.txt && echo x > c/deep/x.txt");
    on_branch(f, "main", "echo m >> b/f1.txt");
    compute(f, GITOPS_LAND_SQUASH, &res);
    m.into = "main";
    m.old_into = res.old_into;
    m.new_into = res.new_into;
    m.checkout = f->repo;
    m.tag = "work";
    if (gitops_land_move(f->r, &m, &raced, &err) != 0)
        fail_msg("gitops_land_move: %s", err.msg);
    status = unit_sh_out("cd '%s' && git status --porcelain", f->repo);
    assert_string_equal(status, "");
    content = unit_sh_out("cd '%s' && tail -n1 a/f1.txt && cat c/deep/x.txt && tail -n1 b/f1.txt",
                          f->repo);
    assert_string_equal(content, "w\nx\nm");
    gone = unit_sh_out("cd '%s' && test -e e && echo present || echo gone", f->repo);
    assert_string_equal(gone, "gone");
    free(status);
    free(content);
    free(gone);
    gitops_land_result_free(&res);
}

/* tree_changed_paths() lists what `git diff --name-only` lists, in strcmp order. */
static void test_tree_changed_paths(void **state)
{
    fixture *f = *state;
    git_repository *repo = NULL;
    git_object *a = NULL, *b = NULL;
    gitops_paths got = {0};
    grove_err err = GROVE_ERR_INIT;
    char *want, *list = NULL;
    size_t i, len = 0;

    on_branch(f, "work",
              "echo w >> a/f1.txt && rm -r e && rm dfile && mkdir dfile && "
              "echo in > dfile/in.txt && chmod +x c/deep/f4.txt && mkdir -p z/y && "
              "echo z > z/y/z.txt && rm b/f3.txt");
    want = unit_sh_out("cd '%s' && git diff --name-only --no-renames main work | LC_ALL=C sort",
                       f->repo);
    assert_int_equal(git_repository_open(&repo, f->repo), 0);
    assert_int_equal(git_revparse_single(&a, repo, "main^{tree}"), 0);
    assert_int_equal(git_revparse_single(&b, repo, "work^{tree}"), 0);
    assert_int_equal(tree_changed_paths(repo, (git_tree *)a, (git_tree *)b, &got, &err), 0);
    for (i = 0; i < got.n; i++)
        len += strlen(got.v[i]) + 1;
    list = calloc(len + 1, 1);
    assert_non_null(list);
    for (i = 0; i < got.n; i++) {
        strcat(list, got.v[i]);
        if (i + 1 < got.n)
            strcat(list, "\n");
    }
    assert_string_equal(list, want);
    assert_null(got.v[got.n]);
    gitops_paths_free(&got);
    /* Equal trees: nothing. */
    assert_int_equal(tree_changed_paths(repo, (git_tree *)a, (git_tree *)a, &got, &err), 0);
    assert_int_equal(got.n, 0);
    gitops_paths_free(&got);
    free(list);
    free(want);
    git_object_free(a);
    git_object_free(b);
    git_repository_free(repo);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_target_not_moved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disjoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_edit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlap_clean, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlap_rename, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_to_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_move_updates_checkout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tree_changed_paths, setup, teardown),
    };
    return unit_run_git_tests("land", tests, sizeof(tests) / sizeof(tests[0]));
}
