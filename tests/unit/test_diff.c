/*
 * gitops_diff_compute (tools/git/diff.c) against the real `git diff`: a
 * generated history with edits in several hunks, a rename with an edit, a
 * rename of a whole folder, a deletion, mode changes, binary files, a file
 * that became a symlink, a last line without newline, then uncommitted
 * (staged, unstaged) and untracked changes in a linked worktree. The patch
 * must equal git's byte for byte and the numstat (`git diff --numstat -z`)
 * too. The shell is used here, in tests only, to run git.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "tools/base/buf.h"
#include "tools/core/diff.h"
#include "tools/git/git.h"

typedef struct fixture {
    char root[PATH_MAX]; /* realpath of the mkdtemp folder */
    char repo[PATH_MAX]; /* root/repo: main worktree, on main */
    char wt[PATH_MAX];   /* root/wt: linked worktree on branch feature */
    char main[41];       /* main's head (moved on after feature forked) */
    char feature[41];    /* feature's head */
    gitops_repo *r;
} fixture;

/* The whole of a file (malloc'd, NUL-terminated), its length in *len. */
static char *slurp(const char *path, size_t *len)
{
    struct stat st;
    char *data;
    int fd = open(path, O_RDONLY);
    ssize_t n;

    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    data = malloc((size_t)st.st_size + 1);
    assert_non_null(data);
    n = read(fd, data, (size_t)st.st_size);
    close(fd);
    assert_int_equal(n, st.st_size);
    data[n] = '\0';
    *len = (size_t)n;
    return data;
}

/* Runs `cmd` (a git command line) in `dir` and returns its stdout, exactly. */
static char *git_out(const fixture *fx, const char *dir, size_t *len, const char *cmd)
{
    char out[PATH_MAX + 8];

    snprintf(out, sizeof(out), "%s/out", fx->root);
    assert_int_equal(unit_sh("cd '%s' && %s > '%s'", dir, cmd, out), 0);
    return slurp(out, len);
}

static void rev_parse(const char *dir, const char *rev, char sha[41])
{
    char *s = unit_sh_out("git -C '%s' rev-parse '%s'", dir, rev);

    assert_int_equal(strlen(s), 40);
    memcpy(sha, s, 41);
    free(s);
}

/* `git merge-base main feature`. */
static void merge_base(const fixture *fx, char mb[41])
{
    char *s = unit_sh_out("git -C '%s' merge-base main feature", fx->repo);

    assert_int_equal(strlen(s), 40);
    memcpy(mb, s, 41);
    free(s);
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    char tmpl[] = "/tmp/grove-test-diff-XXXXXX";
    grove_err err = GROVE_ERR_INIT;

    assert_non_null(fx);
    assert_non_null(mkdtemp(tmpl));
    assert_non_null(realpath(tmpl, fx->root));
    snprintf(fx->repo, sizeof(fx->repo), "%s/repo", fx->root);
    snprintf(fx->wt, sizeof(fx->wt), "%s/wt", fx->root);
    assert_int_equal(
        unit_sh("set -e; git init -q -b main '%s'; cd '%s';"
                "git config user.name Grove; git config user.email grove@example.invalid;"
                "seq 1 200 > a.txt; seq 1 50 | sed 's/^/line /' > b.txt; seq 1 30 > c.txt;"
                "printf '#!/bin/sh\\necho hi\\n' > run.sh; printf 'x\\n' > t.txt;"
                "printf 'GIF89a\\000\\001\\002\\003' > img.bin; printf 'no newline' > noeol.txt;"
                "seq 1 40 | sed 's/$/ crlf\\r/' > dos.txt; mkdir d; seq 100 160 > d/m.txt; seq 1 "
                "10 > keep.txt; printf '*.log\\n' > "
                ".gitignore;"
                "git add -A; git commit -qm base;"
                "git checkout -qb feature;"
                "sed -i 's/^10$/ten/; s/^100$/hundred/; s/^190$/x/' a.txt; echo 201 >> a.txt;"
                "git mv b.txt b2.txt; sed -i 's/^line 25$/line twenty-five/' b2.txt;"
                "git mv dos.txt dos2.txt; sed -i 's/^7 crlf/seven crlf/' dos2.txt; git rm -q "
                "c.txt; chmod +x run.sh; printf 'GIF89a\\000\\001\\002\\004\\005' > "
                "img.bin;"
                "git add -A; git commit -qm one;"
                "rm t.txt; ln -s a.txt t.txt; printf 'no newline changed' > noeol.txt;"
                "mkdir e; git mv d/m.txt e/m.txt; printf 'new\\n' > new.txt;"
                "printf '\\000\\001new binary' > new.bin;"
                "git add -A; git commit -qm two;"
                "git checkout -q main; printf 'only on main\\n' > main-only.txt;"
                "sed -i 's/^1$/one/' a.txt; git add -A; git commit -qm main-moves;"
                "git worktree add -q '%s' feature",
                fx->repo, fx->repo, fx->wt),
        0);
    rev_parse(fx->repo, "main", fx->main);
    rev_parse(fx->repo, "feature", fx->feature);
    if (gitops_repo_open(&fx->r, fx->repo, &err) != 0)
        fail_msg("open: %s", err.msg);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;

    gitops_repo_free(fx->r);
    unit_rmrf(fx->root);
    free(fx);
    return 0;
}

/* Uncommitted changes in the worktree: staged, unstaged, deleted, untracked, ignored. */
static void dirty_worktree(const fixture *fx)
{
    assert_int_equal(unit_sh("set -e; cd '%s'; echo staged >> keep.txt; git add keep.txt;"
                             "sed -i 's/^50$/fifty/' a.txt; rm e/m.txt; chmod +x noeol.txt;"
                             "mkdir -p u/v; printf 'untracked\\n' > u/v/x.txt;"
                             "printf 'bin\\000ary' > u/y.bin; printf 'ignored\\n' > z.log",
                             fx->wt),
                     0);
}

/* grove's files as `git diff --numstat -z` prints them. */
static char *numstat_of(const gitops_diff *d, size_t *len)
{
    grove_buf b = BUF_INIT((size_t)1 << 20);
    size_t i;

    for (i = 0; i < d->nfiles; i++) {
        const gitops_diff_file *f = &d->files[i];

        if (f->binary)
            assert_true(buf_printf(&b, "-\t-\t") >= 0);
        else
            assert_true(buf_printf(&b, "%lld\t%lld\t", f->insertions, f->deletions) >= 0);
        if (f->old_path) {
            assert_true(buf_add(&b, "", 1) >= 0);
            assert_true(buf_add(&b, f->old_path, strlen(f->old_path) + 1) >= 0);
        }
        assert_true(buf_add(&b, f->path, strlen(f->path) + 1) >= 0);
    }
    *len = b.len;
    return b.data ? buf_take(&b) : strdup("");
}

static void assert_bytes_equal(const char *what, const char *want, size_t nwant, const char *got,
                               size_t ngot)
{
    if (nwant != ngot || memcmp(want, got, nwant) != 0) {
        size_t i = 0;

        while (i < nwant && i < ngot && want[i] == got[i])
            i++;
        fail_msg("%s differs from git's at byte %zu (git %zu bytes, grove %zu)\n--- git:\n%.*s\n"
                 "--- grove:\n%.*s",
                 what, i, nwant, ngot, (int)(nwant - (i > 200 ? i - 200 : 0) < 600 ? nwant : 600),
                 want + (i > 200 ? i - 200 : 0), (int)(ngot < 600 ? ngot : 600),
                 got + (i > 200 ? i - 200 : 0));
    }
}

/*
 * Computes grove's diff with `o` and compares patch and numstat with git
 * command line `diff_args` ("... git diff ...") run in `dir` (with
 * "--numstat -z" added after "git diff" for the numstat).
 */
static void compare(const fixture *fx, const gitops_diff_opts *o, const char *dir,
                    const char *diff_args, gitops_diff *out)
{
    grove_err err = GROVE_ERR_INIT;
    char args[1024];
    const char *at;
    char *want, *ours;
    size_t nwant, nours;

    if (gitops_diff_compute(fx->r, o, out, &err) != 0)
        fail_msg("diff: %s", err.msg);
    want = git_out(fx, dir, &nwant, diff_args);
    assert_false(out->truncated);
    assert_bytes_equal("patch", want, nwant, out->patch, out->patch_len);
    free(want);
    at = strstr(diff_args, "git diff");
    assert_non_null(at);
    at = at + strlen("git diff");
    if (strncmp(at, " -U", 3) == 0) /* -U implies -p; numstat does not depend on it */
        at += 3 + strspn(at + 3, "0123456789");
    snprintf(args, sizeof(args), "%.*sgit diff --numstat -z%s",
             (int)(strstr(diff_args, "git diff") - diff_args), diff_args, at);
    want = git_out(fx, dir, &nwant, args);
    ours = numstat_of(out, &nours);
    assert_bytes_equal("numstat", want, nwant, ours, nours);
    free(want);
    free(ours);
}

static const char *status_of(const gitops_diff *d, const char *path)
{
    size_t i;

    for (i = 0; i < d->nfiles; i++)
        if (strcmp(d->files[i].path, path) == 0)
            return gitops_diff_status_name(d->files[i].status);
    return NULL;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_committed_matches_git(void **state)
{
    fixture *fx = *state;
    gitops_diff d;
    gitops_diff_opts o = {fx->main, fx->feature, NULL, NULL, 0, 3, 1 << 20};
    char mb[41], args[256];
    char *shortstat;

    merge_base(fx, mb);
    snprintf(args, sizeof(args), "git diff %s %s", mb, fx->feature);
    compare(fx, &o, fx->repo, args, &d);
    assert_string_equal(d.merge_base, mb);
    assert_string_equal(d.against, fx->main);
    assert_string_equal(d.head, fx->feature);
    /* Every kind of change is there. */
    assert_string_equal(status_of(&d, "a.txt"), "modified");
    assert_string_equal(status_of(&d, "b2.txt"), "renamed");
    assert_string_equal(status_of(&d, "e/m.txt"), "renamed");
    assert_string_equal(status_of(&d, "dos2.txt"), "renamed");
    assert_string_equal(status_of(&d, "c.txt"), "deleted");
    assert_string_equal(status_of(&d, "new.txt"), "added");
    assert_string_equal(status_of(&d, "t.txt"), "typechange");
    assert_string_equal(status_of(&d, "run.sh"), "modified");
    assert_non_null(strstr(d.patch, "old mode 100644\nnew mode 100755\n"));
    assert_non_null(strstr(d.patch, "Binary files a/img.bin and b/img.bin differ\n"));
    assert_non_null(strstr(d.patch, "rename from b.txt\nrename to b2.txt\n"));
    /* main's own change is not in it: the diff starts at the merge base. */
    assert_null(status_of(&d, "main-only.txt"));
    shortstat = unit_sh_out("git -C '%s' diff --shortstat %s %s", fx->repo, mb, fx->feature);
    {
        char want[256];

        snprintf(want, sizeof(want), "%lld files changed, %lld insertions(+), %lld deletions(-)",
                 d.stat.files_changed, d.stat.insertions, d.stat.deletions);
        assert_string_equal(shortstat + strspn(shortstat, " "), want);
    }
    free(shortstat);
    gitops_diff_free(&d);
}

/*
 * The worktree: `git diff <merge base>` there, with the untracked files
 * added with `git add -N` to a copy of its index (grove changes no index).
 */
static void test_worktree_matches_git(void **state)
{
    fixture *fx = *state;
    gitops_diff d;
    gitops_diff_opts o = {fx->main, NULL, fx->wt, NULL, 0, 3, 1 << 20};
    char mb[41], cmd[512];
    char *before, *after;

    dirty_worktree(fx);
    merge_base(fx, mb);
    before = unit_sh_out("cd '%s' && git status --porcelain && sha1sum \"$(git rev-parse "
                         "--path-format=absolute --git-path index)\"",
                         fx->wt);
    assert_int_equal(unit_sh("cd '%s' && cp \"$(git rev-parse --path-format=absolute --git-path "
                             "index)\" ../idx && GIT_INDEX_FILE=../idx git add -N .",
                             fx->wt),
                     0);
    snprintf(cmd, sizeof(cmd), "GIT_INDEX_FILE=../idx git diff %s", mb);
    compare(fx, &o, fx->wt, cmd, &d);
    assert_string_equal(d.head, fx->feature);
    assert_string_equal(d.merge_base, mb);
    assert_string_equal(status_of(&d, "u/v/x.txt"), "added");
    assert_string_equal(status_of(&d, "u/y.bin"), "added");
    assert_string_equal(status_of(&d, "keep.txt"), "modified");
    assert_string_equal(status_of(&d, "d/m.txt"), "deleted");
    assert_null(status_of(&d, "z.log"));
    gitops_diff_free(&d);
    /* Read only: the worktree's index and status are as they were. */
    after = unit_sh_out("cd '%s' && git status --porcelain && sha1sum \"$(git rev-parse "
                        "--path-format=absolute --git-path index)\"",
                        fx->wt);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

/*
 * Renames around git's 50% similarity, as git pairs them: files that keep
 * 40 to 60 of their 100 lines, files grown or shrunk around half or double
 * their size, and two deleted files that both look like one added file.
 * grove skips counting pairs that cannot reach the threshold: the pairs that
 * just make it must still be renames, the others a deletion and an addition.
 * Staged in the worktree first (file signatures from the worktree's files),
 * then committed (from blobs).
 */
static void test_renames_near_threshold_match_git(void **state)
{
    fixture *fx = *state;
    gitops_diff d;
    gitops_diff_opts o = {NULL, NULL, fx->wt, NULL, 0, 3, 1 << 20};
    char base[41], head[41], cmd[512];

    assert_int_equal(
        unit_sh("set -e; cd '%s';"
                "for k in 40 45 48 49 50 51 52 55 60; do"
                "  seq 1 100 | sed \"s/^/row $k of a file that keeps some lines /\" > s-$k.txt;"
                "done;"
                "for n in 90 99 100 101 110; do"
                "  seq 1 100 | sed \"s/^/grown $n, one line of the file /\" > g-$n.txt;"
                "done;"
                "for n in 49 50 51; do"
                "  seq 1 100 | sed \"s/^/shrunk $n, a line here /\" > h-$n.txt;"
                "done;"
                "seq 1 60 | sed 's/^/twin line /' > twin-a.txt;"
                "seq 1 60 | sed 's/^/twin line /;s/^twin line 3.$/other/' > twin-b.txt;"
                "git add -A; git commit -qm sources;"
                "for k in 40 45 48 49 50 51 52 55 60; do"
                "  head -n $k s-$k.txt > d-$k.txt;"
                "  seq 1 $((100 - k)) | sed \"s/^/fresh row $k, not in the source /\" >> d-$k.txt;"
                "  git rm -q s-$k.txt;"
                "done;"
                "for n in 90 99 100 101 110; do"
                "  cp g-$n.txt g2-$n.txt;"
                "  seq 1 $n | sed \"s/^/added $n, a new line of the file /\" >> g2-$n.txt;"
                "  git rm -q g-$n.txt;"
                "done;"
                "for n in 49 50 51; do head -n $n h-$n.txt > h2-$n.txt; git rm -q h-$n.txt; done;"
                "seq 1 60 | sed 's/^/twin line /;s/^twin line 5.$/changed/' > twin.txt;"
                "git rm -q twin-a.txt twin-b.txt; git add -A",
                fx->wt),
        0);
    rev_parse(fx->wt, "HEAD", base);
    o.against = base;
    snprintf(cmd, sizeof(cmd), "git diff %s", base);
    compare(fx, &o, fx->wt, cmd, &d);
    /* both sides of the threshold are there */
    assert_string_equal(status_of(&d, "d-51.txt"), "renamed");
    assert_string_equal(status_of(&d, "d-50.txt"), "added");
    assert_string_equal(status_of(&d, "g2-90.txt"), "renamed");
    assert_string_equal(status_of(&d, "g2-99.txt"), "added");
    assert_string_equal(status_of(&d, "h2-51.txt"), "renamed");
    assert_string_equal(status_of(&d, "h2-50.txt"), "added");
    assert_string_equal(status_of(&d, "twin.txt"), "renamed");
    gitops_diff_free(&d);
    assert_int_equal(unit_sh("cd '%s' && git commit -qm renames", fx->wt), 0);
    rev_parse(fx->wt, "HEAD", head);
    o.worktree = NULL;
    o.to = head;
    snprintf(cmd, sizeof(cmd), "git diff %s %s", base, head);
    compare(fx, &o, fx->repo, cmd, &d);
    gitops_diff_free(&d);
}

/* -U0 and -U20, and a paths filter (a file, a folder, a glob), as git does them. */
static void test_options_match_git(void **state)
{
    fixture *fx = *state;
    static const char *const paths[] = {"a.txt", "e", "*.bin"};
    gitops_diff d;
    gitops_diff_opts o = {fx->main, fx->feature, NULL, NULL, 0, 0, 1 << 20};
    char mb[41], cmd[512];

    merge_base(fx, mb);
    snprintf(cmd, sizeof(cmd), "git diff -U0 %s %s", mb, fx->feature);
    compare(fx, &o, fx->repo, cmd, &d);
    assert_null(strstr(d.patch, "\n 9\n")); /* no context line */
    gitops_diff_free(&d);

    o.context_lines = 20;
    snprintf(cmd, sizeof(cmd), "git diff -U20 %s %s", mb, fx->feature);
    compare(fx, &o, fx->repo, cmd, &d);
    gitops_diff_free(&d);

    o.context_lines = 3;
    o.paths = paths;
    o.npaths = 3;
    snprintf(cmd, sizeof(cmd), "git diff %s %s -- a.txt e '*.bin'", mb, fx->feature);
    compare(fx, &o, fx->repo, cmd, &d);
    /* Renamed out of the filter's reach: d/m.txt is not asked for, so e/m.txt is an addition. */
    assert_string_equal(status_of(&d, "e/m.txt"), "added");
    assert_string_equal(status_of(&d, "new.bin"), "added");
    assert_int_equal(d.nfiles, 4);
    gitops_diff_free(&d);

    /* The same in the worktree, with the untracked files. */
    dirty_worktree(fx);
    assert_int_equal(unit_sh("cd '%s' && cp \"$(git rev-parse --path-format=absolute --git-path "
                             "index)\" ../idx && GIT_INDEX_FILE=../idx git add -N .",
                             fx->wt),
                     0);
    o.worktree = fx->wt;
    o.paths = (const char *const[]){"u", "a.txt"};
    o.npaths = 2;
    snprintf(cmd, sizeof(cmd), "GIT_INDEX_FILE=../idx git diff %s -- u a.txt", mb);
    compare(fx, &o, fx->wt, cmd, &d);
    assert_int_equal(d.nfiles, 3);
    gitops_diff_free(&d);
}

/*
 * max_bytes: the patch is the full patch's first part, cut at a line
 * boundary, within the cap; files and stat are those of the full diff.
 */
static void test_truncated(void **state)
{
    fixture *fx = *state;
    gitops_diff full, d;
    gitops_diff_opts o = {fx->main, fx->feature, NULL, NULL, 0, 3, 1 << 20};
    grove_err err = GROVE_ERR_INIT;
    size_t cap, i;

    if (gitops_diff_compute(fx->r, &o, &full, &err) != 0)
        fail_msg("diff: %s", err.msg);
    assert_false(full.truncated);
    for (cap = 0; cap <= full.patch_len + 1; cap += cap < 64 ? 1 : 37) {
        o.max_bytes = cap;
        if (gitops_diff_compute(fx->r, &o, &d, &err) != 0)
            fail_msg("diff: %s", err.msg);
        assert_true(d.patch_len <= cap);
        assert_int_equal(strlen(d.patch), d.patch_len);
        assert_int_equal(d.truncated, cap < full.patch_len);
        assert_memory_equal(d.patch, full.patch, d.patch_len);
        if (d.patch_len > 0)
            assert_int_equal(d.patch[d.patch_len - 1], '\n');
        /* A content line is never split from its "\ No newline at end of file". */
        if (d.patch_len < full.patch_len)
            assert_int_not_equal(full.patch[d.patch_len], '\\');
        assert_int_equal(d.nfiles, full.nfiles);
        for (i = 0; i < d.nfiles; i++) {
            assert_string_equal(d.files[i].path, full.files[i].path);
            assert_int_equal(d.files[i].insertions, full.files[i].insertions);
            assert_int_equal(d.files[i].deletions, full.files[i].deletions);
            assert_int_equal(d.files[i].binary, full.files[i].binary);
        }
        assert_memory_equal(&d.stat, &full.stat, sizeof(d.stat));
        gitops_diff_free(&d);
    }
    /* At a line boundary: the first file's header is all or nothing. */
    o.max_bytes = 20;
    assert_int_equal(gitops_diff_compute(fx->r, &o, &d, &err), 0);
    assert_int_equal(d.patch_len, 0);
    assert_true(d.truncated);
    gitops_diff_free(&d);
    gitops_diff_free(&full);
}

/* Refusals: no common ancestor, unknown commits, git's pathspec magic, a worktree that is gone. */
static void test_errors(void **state)
{
    fixture *fx = *state;
    static const char *const magic[] = {":(exclude)a.txt"};
    gitops_diff d;
    gitops_diff_opts o = {NULL, fx->feature, NULL, NULL, 0, 3, 1 << 20};
    grove_err err = GROVE_ERR_INIT;
    char orphan[41];

    assert_int_equal(unit_sh("set -e; cd '%s'; git checkout -q --orphan lone; git commit -qm lone;"
                             "git checkout -q main",
                             fx->repo),
                     0);
    rev_parse(fx->repo, "lone", orphan);
    o.against = orphan;
    assert_int_equal(gitops_diff_compute(fx->r, &o, &d, &err), -1);
    assert_int_equal(err.code, GROVE_ECONFLICT);
    assert_non_null(strstr(err.msg, "no common ancestor"));
    o.against = "0123456789012345678901234567890123456789";
    assert_int_equal(gitops_diff_compute(fx->r, &o, &d, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    o.against = fx->main;
    o.paths = magic;
    o.npaths = 1;
    assert_int_equal(gitops_diff_compute(fx->r, &o, &d, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_non_null(strstr(err.msg, "pathspec"));
    o.paths = NULL;
    o.npaths = 0;
    o.worktree = "/nonexistent/grove-diff-wt";
    assert_int_equal(gitops_diff_compute(fx->r, &o, &d, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_null(d.files);
    assert_null(d.patch);
}

/*
 * diff_result_trim (core: a front-end's size limit) cuts after a whole line
 * and never between a line and its "\ No newline at end of file".
 */
static void test_trim(void **state)
{
    static const char text[] = "@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+b\n";
    static const struct {
        size_t len, want;
    } cases[] = {{100, 46}, {45, 43}, {42, 12}, {16, 12}, {15, 12}, {12, 12}, {11, 0}, {0, 0}};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        diff_result r = {0};

        r.diff.patch = strdup(text);
        r.diff.patch_len = sizeof(text) - 1;
        diff_result_trim(&r, cases[i].len);
        assert_int_equal(r.diff.patch_len, cases[i].want);
        assert_int_equal(strlen(r.diff.patch), cases[i].want);
        assert_int_equal(r.diff.truncated, cases[i].len < sizeof(text) - 1);
        diff_result_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_committed_matches_git, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worktree_matches_git, setup, teardown),
        cmocka_unit_test_setup_teardown(test_options_match_git, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renames_near_threshold_match_git, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test(test_trim),
    };

    return unit_run_git_tests("diff", tests, sizeof(tests) / sizeof(tests[0]));
}
