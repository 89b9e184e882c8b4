/*
 * unit: what the unit tests share: a fresh temporary folder with a
 * migrated database in it (the cmocka fixture of the database tests),
 * running SQL directly to arrange or inspect rows, shell commands (git, to
 * make and inspect repositories), and running a group of tests with the
 * user's git configuration out of the way. A failure fails the running test.
 */
#ifndef GROVE_TEST_UNIT_H
#define GROVE_TEST_UNIT_H

#include <sqlite3.h>
#include <stddef.h>

#include "db/db.h"

typedef struct unit_db {
    char dir[64];   /* the temporary folder, removed by the teardown */
    char path[128]; /* <dir>/grove.db */
    grove_db *db;   /* opened with migrate_open() by unit_db_setup(); NULL after _setup_bare() */
} unit_db;

/* cmocka setup: *state = a new unit_db with its database migrated. */
int unit_db_setup(void **state);

/* cmocka setup: *state = a new unit_db whose database is not opened (db NULL). */
int unit_db_setup_bare(void **state);

/* cmocka teardown: closes the database and removes the folder. */
int unit_db_teardown(void **state);

/* Removes a folder and everything in it (not following symlinks). */
void unit_rmrf(const char *dir);

/* Runs SQL (one or more statements) on sq. */
void unit_sql(sqlite3 *sq, const char *sql);

/* The first column of the first row as an integer (-1 when there is no row). */
long long unit_query_int(sqlite3 *sq, const char *sql);

/* The first column of the first row as malloc'd text (NULL for SQL NULL or no row). */
char *unit_query_text(sqlite3 *sq, const char *sql);

/* Runs a shell command (output discarded unless redirected); its exit status, -1 if it died. */
int unit_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs a shell command; its stdout without trailing newlines (malloc'd). */
char *unit_sh_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Asserts that worktrees `got` and `want` hold the same files, modes, link
 * targets and contents (.git aside), the same index entries, are both clean
 * (status, diff-files), and that got's index matches its HEAD with every
 * entry's stat data recorded (update-index --refresh has nothing to do).
 */
void unit_expect_same_tree(const char *got, const char *want);

/* A temporary repository with a grove context on it (the core tests' fixture). */
typedef struct unit_repo {
    char root[4096]; /* realpath of the temporary folder, removed by unit_repo_free() */
    char repo[4096]; /* <root>/repo: the main worktree, branch main, one commit */
    struct grove_ctx *ctx;
} unit_repo;

/*
 * A new repository <root>/repo whose first commit holds what the shell
 * command `files` (run in it) makes, and a migrated grove context on it,
 * with grove's environment variables unset. NULL on failure (said on stderr).
 */
unit_repo *unit_repo_new(const char *name, const char *files);
void unit_repo_free(unit_repo *r);

/* Makes work instance work-<issue>-a1 from main's head (no agent); fails the test otherwise. */
void unit_repo_work(unit_repo *r, int issue);

struct CMUnitTest;

/*
 * Runs the group of n tests with HOME in a fresh folder and no system or
 * user git configuration (and libgit2 initialised): what git does in the
 * tests depends on nothing of the machine's. Returns the failure count.
 */
int unit_run_git_tests(const char *name, const struct CMUnitTest *tests, size_t n);

#endif
