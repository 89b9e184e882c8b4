/*
 * bench-floor: the floor for log_checkpoint throughput. A plain C loop that
 * runs grove's checkpoint INSERT (the same SQL text as SQL_CHECKPOINT_INSERT
 * in db/queries.c), each in its own BEGIN IMMEDIATE ... COMMIT, on a
 * database grove created, in WAL mode with foreign keys and a busy timeout.
 * Prints one JSON object.
 *
 *   bench-floor DB INSTANCE_ID COUNT [--normal]
 *
 * By default synchronous = FULL: an fsync per commit (the durable floor).
 * --normal: synchronous = NORMAL, no fsync per commit: the non-durable
 * floor issue 17 measures grove's pipelined calls against (grove fsyncs
 * every answer, in groups: mcp/batch.h).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char insert_sql[] =
    "INSERT INTO grove_checkpoints (instance_id, phase, name, status, data, message,"
    " commit_sha, sequence) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
    " (SELECT COALESCE(MAX(sequence), 0) + 1 FROM grove_checkpoints WHERE instance_id = ?1))";

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void check(sqlite3 *db, int rc, const char *what)
{
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "bench-floor: %s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long i, count;
    double t0, t1;

    if (argc != 4 && (argc != 5 || strcmp(argv[4], "--normal") != 0)) {
        fprintf(stderr, "usage: bench-floor DB INSTANCE_ID COUNT [--normal]\n");
        return 2;
    }
    count = atol(argv[3]);
    check(db, sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READWRITE, NULL), "open");
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, 2000);
    check(db, sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL), "pragma");
    check(db, sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL), "pragma");
    check(db,
          sqlite3_exec(db, argc == 5 ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL",
                       NULL, NULL, NULL),
          "pragma");
    check(db, sqlite3_prepare_v3(db, insert_sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL),
          "prepare");

    t0 = now_ms();
    for (i = 0; i < count; i++) {
        check(db, sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), "begin");
        sqlite3_bind_text(st, 1, argv[2], -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, "implement", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, "step", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, "in_progress", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, "{\"files\":[\"src/parse.c\"],\"step\":1}", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, "parser fixed, tests next", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, "0123456789abcdef0123456789abcdef01234567", -1, SQLITE_STATIC);
        check(db, sqlite3_step(st), "insert");
        sqlite3_reset(st);
        check(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit");
    }
    t1 = now_ms();
    sqlite3_finalize(st);
    sqlite3_close(db);
    printf("{\"n\":%ld,\"wall_ms\":%.4f,\"calls_per_s\":%.2f}\n", count, t1 - t0,
           t1 > t0 ? (double)count * 1000.0 / (t1 - t0) : 0.0);
    return 0;
}
