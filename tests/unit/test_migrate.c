/*
 * Unit tests of db/db.c and db/migrate.c: the schema of CONTRACT §4, file
 * modes, status/rollback, refusal of newer or edited databases (left
 * byte-for-byte untouched), concurrent first opens, non-database files, and
 * db_txn() retrying past the busy timeout.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db/db.h"
#include "db/migrate.h"
#include "tests/unit/unit.h"

/* ---- fixtures ----------------------------------------------------------- */

typedef unit_db fixture; /* a fresh temporary folder; db stays NULL */

static int setup(void **state)
{
    umask(022); /* the file modes the tests check */
    return unit_db_setup_bare(state);
}

/* Runs one SQL statement on a fresh raw connection (not through grove). */
static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *sq = NULL;
    char *msg = NULL;

    assert_int_equal(sqlite3_open(path, &sq), SQLITE_OK);
    if (sqlite3_exec(sq, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    sqlite3_close(sq);
}

/* The first column of the first row as an integer (-1 when no row). */
/* The first column of the first row as a new string ("" when no row). */
static char *query_text(sqlite3 *sq, const char *sql)
{
    sqlite3_stmt *st = NULL;
    char *s;

    if (sqlite3_prepare_v2(sq, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(sq));
    s = strdup(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)
                   ? (const char *)sqlite3_column_text(st, 0)
                   : "");
    sqlite3_finalize(st);
    return s;
}

/* Whole file contents (malloc'd) and length. */
static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long n;

    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static grove_db *open_ok(const char *path, int migrate)
{
    grove_err err = GROVE_ERR_INIT;
    grove_db *db = NULL;

    if ((migrate ? migrate_open(&db, path, &err) : db_open(&db, path, NULL, &err)) != 0)
        fail_msg("db_open('%s'): %s", path, err.msg);
    assert_non_null(db);
    return db;
}

static int file_mode(const char *path)
{
    struct stat sb;

    assert_int_equal(stat(path, &sb), 0);
    return (int)(sb.st_mode & 07777);
}

/* ---- the schema --------------------------------------------------------- */

typedef struct table_spec {
    const char *name;
    const char *columns[28];
} table_spec;

static const table_spec TABLES[] = {
    {"grove_instances",
     {"id",          "type",          "status",       "worktree_path", "branch_name",
      "base_branch", "base_commit",   "tmux_session", "agent_pid",     "issue_number",
      "beads_id",    "pr_number",     "pr_url",       "prompt",        "agent_number",
      "created_at",  "terminated_at", "metadata",     "landed_commit", "landed_at",
      "agent_profile", "agent_state", "agent_state_since", "agent_session_id", NULL}},
    {"grove_instance_relationships",
     {"id", "parent_instance", "child_instance", "relationship_type", "created_at", NULL}},
    {"grove_mcp_events",
     {"id", "instance_id", "tool_name", "success", "error_message", "metadata", "duration_ms",
      "timestamp", NULL}},
    {"grove_checkpoints",
     {"id", "instance_id", "phase", "name", "status", "data", "message", "commit_sha", "sequence",
      "created_at", NULL}},
    {"grove_feedback",
     {"id", "from_instance", "to_instance", "feedback_type", "priority", "feedback", "delivered",
      "created_at", NULL}},
    {"grove_github_issues",
     {"repo", "number", "title", "body", "state", "html_url", "labels", "fetched_at", NULL}},
    {"grove_user_config", {"key", "value", "is_encrypted", "updated_at", NULL}},
    {"grove_schema_migrations", {"version", "name", "checksum", "applied_at", NULL}},
};

static const char *const VIEWS[] = {"grove_running_instances", "grove_recent_failures",
                                    "grove_stale_checkpoints", "grove_tool_success_rate"};

static int has_object(sqlite3 *sq, const char *type, const char *name)
{
    sqlite3_stmt *st = NULL;
    int found;

    assert_int_equal(sqlite3_prepare_v2(sq,
                                        "SELECT 1 FROM sqlite_master WHERE type = ?1 AND "
                                        "name = ?2",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

static int has_column(sqlite3 *sq, const char *table, const char *column)
{
    sqlite3_stmt *st = NULL;
    int found;

    assert_int_equal(sqlite3_prepare_v2(sq, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC);
    found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

/* Whether some index of `table` starts with exactly these columns. */
static int has_index(sqlite3 *sq, const char *table, const char *cols)
{
    sqlite3_stmt *st = NULL;
    int found = 0;

    assert_int_equal(sqlite3_prepare_v2(sq,
                                        "SELECT group_concat(c.name, ',') FROM"
                                        " pragma_index_list(?1) l,"
                                        " pragma_index_info(l.name) c"
                                        " GROUP BY l.name",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW)
        if (strcmp((const char *)sqlite3_column_text(st, 0), cols) == 0)
            found = 1;
    sqlite3_finalize(st);
    return found;
}

static void assert_schema(sqlite3 *sq)
{
    size_t i, j;

    for (i = 0; i < sizeof(TABLES) / sizeof(TABLES[0]); i++) {
        if (!has_object(sq, "table", TABLES[i].name))
            fail_msg("table %s missing", TABLES[i].name);
        for (j = 0; TABLES[i].columns[j]; j++)
            if (!has_column(sq, TABLES[i].name, TABLES[i].columns[j]))
                fail_msg("column %s.%s missing", TABLES[i].name, TABLES[i].columns[j]);
    }
    for (i = 0; i < sizeof(VIEWS) / sizeof(VIEWS[0]); i++)
        if (!has_object(sq, "view", VIEWS[i]))
            fail_msg("view %s missing", VIEWS[i]);
    assert_true(has_index(sq, "grove_instances", "status,created_at,id"));
    assert_true(has_index(sq, "grove_instances", "created_at,id"));
    assert_true(has_index(sq, "grove_instances", "type,issue_number,beads_id,agent_number"));
    assert_true(has_index(sq, "grove_instance_relationships", "child_instance"));
    assert_true(has_index(sq, "grove_instance_relationships", "parent_instance"));
    assert_true(has_index(sq, "grove_mcp_events", "instance_id,timestamp"));
    assert_true(has_index(sq, "grove_mcp_events", "tool_name,timestamp"));
    assert_true(has_object(sq, "index", "grove_instances_agents")); /* partial: agents only */
    assert_true(has_index(sq, "grove_mcp_events", "timestamp"));
    assert_true(has_index(sq, "grove_mcp_events", "tool_name,duration_ms,success"));
    assert_true(has_index(sq, "grove_checkpoints", "created_at"));
    assert_true(has_index(sq, "grove_mcp_events", "success,timestamp"));
    assert_true(has_index(sq, "grove_checkpoints", "instance_id,sequence"));
    assert_true(has_index(sq, "grove_checkpoints", "instance_id,phase,sequence"));
    /* Events outlive instances: no foreign key on grove_mcp_events. */
    assert_int_equal(unit_query_int(sq, "SELECT count(*) FROM pragma_foreign_key_list("
                                        "'grove_mcp_events')"),
                     0);
    /* Views and triggers reference grove tables only (they live beside beads). */
    assert_int_equal(unit_query_int(sq, "SELECT count(*) FROM sqlite_master WHERE type IN "
                                        "('view','trigger') AND (sql LIKE '% issues%' OR sql "
                                        "LIKE '% dependencies%' OR sql LIKE '% labels%')"),
                     0);
}

static int grove_object_count(sqlite3 *sq)
{
    return (int)unit_query_int(sq, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'grove%'");
}

/* ---- tests -------------------------------------------------------------- */

static void test_fresh_apply_creates_schema(void **state)
{
    fixture *f = *state;
    char nested[192], wal[224];
    grove_db *db;
    sqlite3 *sq;
    char *mode;

    snprintf(nested, sizeof(nested), "%s/a/b/grove.db", f->dir);
    db = open_ok(nested, 1);
    sq = db_sqlite(db);
    assert_string_equal(db_path(db), nested);
    assert_schema(sq);

    /* Pragmas of the connection. */
    mode = query_text(sq, "PRAGMA journal_mode");
    assert_string_equal(mode, "wal");
    free(mode);
    assert_int_equal(unit_query_int(sq, "PRAGMA foreign_keys"), 1);
    /* NORMAL: db.c's WAL hook fsyncs each commit after the unlock (FULL's fsync, moved) */
    assert_int_equal(unit_query_int(sq, "PRAGMA synchronous"), 1);

    /* Modes: new folders 0700, database (and its WAL) 0600. */
    snprintf(wal, sizeof(wal), "%s/a", f->dir);
    assert_int_equal(file_mode(wal), 0700);
    snprintf(wal, sizeof(wal), "%s/a/b", f->dir);
    assert_int_equal(file_mode(wal), 0700);
    assert_int_equal(file_mode(nested), 0600);
    snprintf(wal, sizeof(wal), "%s-wal", nested);
    if (access(wal, F_OK) == 0)
        assert_int_equal(file_mode(wal), 0600);

    /* Defaults and checks of the schema. */
    assert_int_equal(sqlite3_exec(sq,
                                  "INSERT INTO grove_instances (id, type, worktree_path, "
                                  "branch_name, agent_number) VALUES ('w', 'work', '/w', 'b', 1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    mode = query_text(sq, "SELECT status || ' ' || metadata || ' ' || length(created_at) || "
                          "substr(created_at, 11, 1) || substr(created_at, 24) FROM "
                          "grove_instances");
    assert_string_equal(mode, "running {} 24TZ");
    free(mode);
    assert_int_not_equal(sqlite3_exec(sq,
                                      "INSERT INTO grove_instances (id, type, worktree_path, "
                                      "branch_name, agent_number) VALUES ('x', 'bogus', '/w', "
                                      "'b', 1)",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
    assert_int_not_equal(
        sqlite3_exec(sq, "UPDATE grove_instances SET metadata = 'not json'", NULL, NULL, NULL),
        SQLITE_OK);
    /* Events are kept after their instance is deleted. */
    assert_int_equal(sqlite3_exec(sq,
                                  "INSERT INTO grove_mcp_events (instance_id, tool_name, "
                                  "success) VALUES ('w', 't', 1); DELETE FROM grove_instances",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(unit_query_int(sq, "SELECT count(*) FROM grove_mcp_events"), 1);
    db_close(db);
}

static void test_status_and_rollback(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    grove_db *db = open_ok(f->path, 1);
    migrate_status_list st = {0};
    const migrate_row *row;
    const char *sum;
    size_t i;

    assert_int_equal(migrate_latest(), 8);
    assert_int_equal(migrate_status(db, &st, &err), 0);
    assert_int_equal(st.n, 8);
    row = &st.v[0];
    assert_int_equal(row->version, 1);
    assert_string_equal(row->name, "initial");
    assert_string_equal(row->state, "applied");
    assert_true(row->applied);
    assert_non_null(row->applied_at);
    assert_null(row->applied_checksum);
    sum = row->checksum;
    assert_non_null(sum);
    assert_int_equal(strlen(sum), 64);
    for (i = 0; i < 64; i++)
        assert_non_null(strchr("0123456789abcdef", sum[i]));
    migrate_status_free(&st);

    /* Applying again is a no-op; the row is there once. */
    assert_int_equal(migrate_apply(db, 0, &err), 0);
    assert_int_equal(unit_query_int(db_sqlite(db), "SELECT count(*) FROM grove_schema_migrations"),
                     8);
    assert_int_equal(migrate_apply(db, 9, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);

    /* Down to 0: nothing of grove is left, and status says pending. */
    assert_int_equal(migrate_rollback(db, 0, &err), 0);
    assert_int_equal(grove_object_count(db_sqlite(db)), 0);
    assert_int_equal(migrate_status(db, &st, &err), 0);
    assert_int_equal(st.n, 8);
    row = &st.v[0];
    assert_string_equal(row->state, "pending");
    assert_false(row->applied);
    assert_null(row->applied_at);
    migrate_status_free(&st);
    assert_int_equal(migrate_rollback(db, 0, &err), 0); /* nothing to do */
    assert_int_equal(migrate_rollback(db, -1, &err), -1);

    /* And up again. */
    assert_int_equal(migrate_apply(db, 0, &err), 0);
    assert_schema(db_sqlite(db));
    db_close(db);

    /* A plain reopen verifies and changes nothing. */
    db = open_ok(f->path, 1);
    assert_int_equal(unit_query_int(db_sqlite(db), "SELECT count(*) FROM grove_schema_migrations"),
                     8);
    db_close(db);
}

static void test_newer_database_refused_untouched(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    grove_db *db = open_ok(f->path, 1);
    char *before, *after;
    size_t nb, na;

    db_close(db);
    raw_exec(f->path, "INSERT INTO grove_schema_migrations (version, name, checksum) "
                      "VALUES (99, 'future', 'abc')");
    /* Back to a rollback journal: switching to WAL would rewrite the header. */
    raw_exec(f->path, "PRAGMA journal_mode = DELETE");
    before = slurp(f->path, &nb);

    db = NULL;
    assert_int_equal(migrate_open(&db, f->path, &err), -1);
    assert_null(db);
    assert_int_equal(err.code, GROVE_ESCHEMA);
    assert_string_equal(err.msg, "database schema version 99 is newer than this grove (knows "
                                 "up to 8); upgrade grove");
    after = slurp(f->path, &na);
    assert_int_equal(na, nb);
    assert_memory_equal(before, after, nb);
    free(after);

    /* Opened without migrating, every migration command refuses too. */
    db = open_ok(f->path, 0);
    assert_int_equal(migrate_verify(db, &err), -1);
    assert_int_equal(err.code, GROVE_ESCHEMA);
    assert_int_equal(migrate_apply(db, 0, &err), -1);
    assert_int_equal(err.code, GROVE_ESCHEMA);
    assert_int_equal(migrate_rollback(db, 0, &err), -1);
    assert_int_equal(err.code, GROVE_ESCHEMA);
    assert_true(unit_query_int(db_sqlite(db), "SELECT count(*) FROM grove_instances") == 0);
    db_close(db);
    free(before);
}

static void test_edited_migration_refused(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    grove_db *db = open_ok(f->path, 1);
    migrate_status_list st = {0};
    char *before, *after;
    size_t nb, na;

    db_close(db);
    raw_exec(f->path, "UPDATE grove_schema_migrations SET checksum = "
                      "'0000000000000000000000000000000000000000000000000000000000000000'");
    before = slurp(f->path, &nb);
    db = NULL;
    assert_int_equal(migrate_open(&db, f->path, &err), -1);
    assert_int_equal(err.code, GROVE_ESCHEMA);
    assert_string_equal(err.msg,
                        "migration 1 'initial' was edited after it was applied: checksum differs");
    after = slurp(f->path, &na);
    assert_int_equal(na, nb);
    assert_memory_equal(before, after, nb);
    free(before);
    free(after);

    db = open_ok(f->path, 0);
    assert_int_equal(migrate_status(db, &st, &err), 0);
    assert_string_equal(st.v[0].state, "edited");
    assert_non_null(st.v[0].applied_checksum);
    assert_string_not_equal(st.v[0].applied_checksum, st.v[0].checksum);
    migrate_status_free(&st);
    assert_int_equal(migrate_rollback(db, 0, &err), -1);
    assert_int_equal(err.code, GROVE_ESCHEMA);
    db_close(db);
}

static void test_unknown_gap_version_refused(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    grove_db *db = open_ok(f->path, 1);
    migrate_status_list st = {0};

    db_close(db);
    /* Version 0 is below what we know but not ours either. */
    raw_exec(f->path, "INSERT INTO grove_schema_migrations (version, name, checksum) "
                      "VALUES (0, 'odd', 'x')");
    assert_int_equal(migrate_open(&db, f->path, &err), -1);
    assert_int_equal(err.code, GROVE_ESCHEMA);
    assert_non_null(strstr(err.msg, "migration 0 'odd'"));
    db = open_ok(f->path, 0);
    assert_int_equal(migrate_status(db, &st, &err), 0);
    assert_int_equal(st.n, 9);
    assert_string_equal(st.v[0].state, "unknown");
    assert_int_equal(st.v[0].version, 0);
    assert_string_equal(st.v[0].name, "odd");
    assert_string_equal(st.v[1].state, "applied");
    migrate_status_free(&st);
    db_close(db);
}

static void test_not_a_database(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    grove_db *db = NULL;
    char *before, *after;
    size_t nb, na, i;
    FILE *fp = fopen(f->path, "w");

    assert_non_null(fp);
    for (i = 0; i < 100; i++)
        fputs("this is a text file, not a database\n", fp);
    fclose(fp);
    before = slurp(f->path, &nb);
    assert_int_equal(migrate_open(&db, f->path, &err), -1);
    assert_null(db);
    assert_int_equal(err.code, GROVE_EDB);
    assert_non_null(strstr(err.msg, "is not a SQLite database"));
    assert_non_null(strstr(err.msg, f->path));
    assert_int_equal(db_open(&db, f->path, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "is not a SQLite database"));
    after = slurp(f->path, &na);
    assert_int_equal(na, nb);
    assert_memory_equal(before, after, nb);
    free(before);
    free(after);

    /* A folder where the file should be. */
    assert_int_equal(migrate_open(&db, f->dir, &err), -1);
    assert_int_equal(err.code, GROVE_EIO);
}

static void test_concurrent_first_open(void **state)
{
    enum { N = 4 };
    fixture *f = *state;
    pid_t pids[N];
    int gate[2], i, status;
    grove_db *db;

    assert_int_equal(pipe(gate), 0);
    for (i = 0; i < N; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            grove_err err = GROVE_ERR_INIT;
            char c;
            int ok;

            close(gate[1]);
            while (read(gate[0], &c, 1) < 0 && errno == EINTR)
                ; /* EOF: all children start together */
            ok = migrate_open(&db, f->path, &err) == 0;
            if (!ok)
                fprintf(stderr, "child: %s\n", err.msg);
            db_close(db);
            _exit(ok ? 0 : 1);
        }
    }
    close(gate[0]);
    close(gate[1]);
    for (i = 0; i < N; i++) {
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    db = open_ok(f->path, 1);
    assert_int_equal(unit_query_int(db_sqlite(db), "SELECT count(*) FROM grove_schema_migrations"),
                     8);
    assert_schema(db_sqlite(db));
    assert_int_equal(file_mode(f->path), 0600);
    db_close(db);
}

static int insert_config_fn(grove_db *db, void *arg, grove_err *err)
{
    int rc =
        sqlite3_exec(db_sqlite(db), "INSERT INTO grove_user_config (key, value) VALUES ('k', 'v')",
                     NULL, NULL, NULL);

    (*(int *)arg)++;
    return rc == SQLITE_OK ? 0 : db_fail(db, rc, "insert", err);
}

static int failing_fn(grove_db *db, void *arg, grove_err *err)
{
    insert_config_fn(db, arg, err);
    return grove_fail(err, GROVE_ECONFLICT, "changed my mind");
}

static void test_txn_waits_out_a_long_lock(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    grove_db *db = open_ok(f->path, 1);
    int ready[2], runs = 0, status;
    double start;
    pid_t pid;
    char c;

    /* A failing body is rolled back. */
    assert_int_equal(db_txn(db, failing_fn, &runs, &err), -1);
    assert_int_equal(err.code, GROVE_ECONFLICT);
    assert_int_equal(unit_query_int(db_sqlite(db), "SELECT count(*) FROM grove_user_config"), 0);

    /* Another process holds the write lock longer than the busy timeout. */
    assert_int_equal(pipe(ready), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sqlite3 *sq = NULL;

        close(ready[0]);
        if (sqlite3_open(f->path, &sq) != SQLITE_OK ||
            sqlite3_exec(sq, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            _exit(1);
        if (write(ready[1], "x", 1) != 1)
            _exit(1);
        usleep(2600 * 1000);
        sqlite3_exec(sq, "COMMIT", NULL, NULL, NULL);
        sqlite3_close(sq);
        _exit(0);
    }
    close(ready[1]);
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    runs = 0;
    start = grove_now_ms();
    assert_int_equal(db_txn(db, insert_config_fn, &runs, &err), 0);
    assert_true(grove_now_ms() - start >= 2000);
    assert_int_equal(runs, 1); /* the body ran once, when the lock was free */
    assert_int_equal(unit_query_int(db_sqlite(db), "SELECT count(*) FROM grove_user_config"), 1);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    db_close(db);
}

static void test_views(void **state)
{
    fixture *f = *state;
    grove_db *db = open_ok(f->path, 1);
    sqlite3 *sq = db_sqlite(db);
    char *s;

    assert_int_equal(
        sqlite3_exec(sq,
                     "INSERT INTO grove_instances (id, type, worktree_path, branch_name, "
                     "agent_number) VALUES ('a', 'work', '/a', 'a', 1), ('b', 'work', '/b', "
                     "'b', 2), ('c', 'work', '/c', 'c', 3);"
                     "UPDATE grove_instances SET status = 'terminated' WHERE id = 'c';"
                     "INSERT INTO grove_checkpoints (instance_id, phase, sequence, created_at) "
                     "VALUES ('a', 'old', 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-25 hours')),"
                     " ('b', 'old', 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-25 hours')),"
                     " ('b', 'new', 2, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),"
                     " ('c', 'old', 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-25 hours'));"
                     "INSERT INTO grove_mcp_events (tool_name, success, error_message, "
                     "duration_ms, timestamp) VALUES ('t', 1, NULL, 10, "
                     "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), ('t', 0, 'boom', 20, "
                     "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), ('t', 0, 'old', 30, "
                     "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-2 days')), ('u', 1, NULL, 5, "
                     "strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));",
                     NULL, NULL, NULL),
        SQLITE_OK);
    assert_int_equal(unit_query_int(sq, "SELECT count(*) FROM grove_running_instances"), 2);
    s = query_text(sq, "SELECT group_concat(instance_id || ':' || phase || ':' || "
                       "(age_minutes BETWEEN 1499 AND 1501)) FROM grove_stale_checkpoints");
    assert_string_equal(s, "a:old:1");
    free(s);
    /* A running instance with no checkpoint at all is stale after 24 h too. */
    assert_int_equal(sqlite3_exec(sq,
                                  "UPDATE grove_instances SET created_at = strftime("
                                  "'%Y-%m-%dT%H:%M:%fZ', 'now', '-30 hours') WHERE id = 'c';"
                                  "DELETE FROM grove_checkpoints WHERE instance_id = 'c';"
                                  "UPDATE grove_instances SET status = 'running' WHERE id = 'c'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    s = query_text(sq, "SELECT group_concat(instance_id || ':' || COALESCE(phase, '-') || ':' || "
                       "(age_minutes BETWEEN 1499 AND 1801)) FROM grove_stale_checkpoints");
    assert_string_equal(s, "c:-:1,a:old:1");
    free(s);
    s = query_text(sq, "SELECT group_concat(tool_name || ':' || error_message) FROM "
                       "grove_recent_failures");
    assert_string_equal(s, "t:boom");
    free(s);
    s = query_text(sq, "SELECT calls || '/' || successes || '/' || failures || '/' || "
                       "printf('%.3f', success_rate) || '/' || avg_duration_ms FROM "
                       "grove_tool_success_rate WHERE tool_name = 't'");
    assert_string_equal(s, "3/1/2/0.333/20.0");
    free(s);
    s = query_text(sq, "SELECT median_duration_ms || '/' || p95_duration_ms FROM "
                       "grove_tool_success_rate WHERE tool_name = 't'");
    assert_string_equal(s, "20.0/30.0");
    free(s);
    db_close(db);
}

static void test_beads_mode(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    grove_db *db;
    sqlite3 *sq;

    raw_exec(f->path, "CREATE TABLE issues (id TEXT PRIMARY KEY, title TEXT);"
                      "CREATE TABLE dependencies (issue_id TEXT, depends_on_id TEXT);"
                      "CREATE TABLE labels (issue_id TEXT, label TEXT);"
                      "INSERT INTO issues VALUES ('bd-1', 'x')");
    db = open_ok(f->path, 1);
    sq = db_sqlite(db);
    assert_true(has_object(sq, "table", "grove_issue_links"));
    assert_int_equal(sqlite3_exec(sq,
                                  "INSERT INTO grove_instances (id, type, worktree_path, "
                                  "branch_name, agent_number) VALUES ('w', 'work', '/w', 'b', 1);"
                                  "INSERT INTO grove_issue_links (instance_id, issue_id) "
                                  "VALUES ('w', 'bd-1'); DELETE FROM issues",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(unit_query_int(sq, "SELECT count(*) FROM grove_issue_links"), 0);
    /* Beads' tables are untouched by a full rollback. */
    assert_int_equal(migrate_rollback(db, 0, &err), 0);
    assert_int_equal(grove_object_count(sq), 0);
    assert_true(has_object(sq, "table", "issues"));
    db_close(db);

    /* Without beads there is no link table. */
    raw_exec(f->path, "DROP TABLE issues");
    db = open_ok(f->path, 1);
    assert_false(has_object(db_sqlite(db), "table", "grove_issue_links"));
    db_close(db);
}

/*
 * Migration 4 rebuilds the relationships table for `spawned_work`: every row
 * and id survives the way up; the way down is refused, keeping every row,
 * while a `spawned_work` row exists, and works once none does.
 */
static void test_spawned_work_migration(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    grove_db *db = open_ok(f->path, 1);
    sqlite3 *sq = db_sqlite(db);

    assert_int_equal(migrate_rollback(db, 3, &err), 0);
    unit_sql(sq, "INSERT INTO grove_instances (id, type, worktree_path, branch_name, agent_number)"
                 " VALUES ('work-a1', 'work', '/a', 'a', 1), ('review-a1', 'review', '/b', 'b', 1),"
                 " ('work-a2', 'work', '/c', 'c', 2);"
                 "INSERT INTO grove_instance_relationships (id, parent_instance, child_instance,"
                 " relationship_type) VALUES (7, 'work-a1', 'review-a1', 'spawned_review');");
    /* Before 4 the type does not exist. */
    assert_int_not_equal(sqlite3_exec(sq,
                                      "INSERT INTO grove_instance_relationships (parent_instance,"
                                      " child_instance, relationship_type) VALUES ('work-a1',"
                                      " 'work-a2', 'spawned_work')",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
    assert_int_equal(migrate_apply(db, 0, &err), 0);
    assert_int_equal(unit_query_int(sq, "SELECT count(*) FROM grove_instance_relationships WHERE"
                                        " id = 7 AND relationship_type = 'spawned_review'"),
                     1);
    unit_sql(sq, "INSERT INTO grove_instance_relationships (parent_instance, child_instance,"
                 " relationship_type) VALUES ('work-a1', 'work-a2', 'spawned_work')");
    assert_schema(sq);

    /* Down while a spawned_work row exists: refused, nothing lost. */
    assert_int_equal(migrate_rollback(db, 3, &err), -1);
    assert_true(migrate_latest() >= 4);
    assert_int_equal(unit_query_int(sq, "SELECT max(version) FROM grove_schema_migrations"), 4);
    assert_int_equal(unit_query_int(sq, "SELECT count(*) FROM grove_instance_relationships"), 2);

    unit_sql(sq, "DELETE FROM grove_instance_relationships WHERE relationship_type = "
                 "'spawned_work'");
    assert_int_equal(migrate_rollback(db, 3, &err), 0);
    assert_int_equal(unit_query_int(sq, "SELECT count(*) FROM grove_instance_relationships WHERE"
                                        " id = 7"),
                     1);
    /* Deleting an instance still cascades to its relationships (the foreign keys survived). */
    assert_int_equal(migrate_apply(db, 0, &err), 0);
    unit_sql(sq, "DELETE FROM grove_instances WHERE id = 'review-a1'");
    assert_int_equal(unit_query_int(sq, "SELECT count(*) FROM grove_instance_relationships"), 0);
    db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fresh_apply_creates_schema, setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_status_and_rollback, setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_newer_database_refused_untouched, setup,
                                        unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_edited_migration_refused, setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_gap_version_refused, setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_not_a_database, setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_first_open, setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_txn_waits_out_a_long_lock, setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_views, setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_beads_mode, setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_spawned_work_migration, setup, unit_db_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
