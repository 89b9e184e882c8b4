/*
 * db: the SQLite connection. Owns every SQL statement of grove (with
 * db/queries.c and db/migrate.c); no other module prepares SQL.
 *
 * The connection runs in WAL mode with foreign keys on, every commit fsynced
 * before it returns (an acknowledged commit survives power loss: SQLite's
 * synchronous = FULL, with the fsync done after the write lock is released,
 * see wal_committed() in db.c), a busy handler, and whole
 * transactions retried with exponential backoff and jitter on SQLITE_BUSY /
 * SQLITE_LOCKED, so many processes writing one file never see a lock error.
 */
#ifndef GROVE_DB_H
#define GROVE_DB_H

#include <sqlite3.h>

#include "tools/base/grove.h"

typedef struct grove_db grove_db;

/* A check of a database that runs before anything is written to it (see db_open()). */
typedef int (*db_check_fn)(grove_db *db, grove_err *err);

/*
 * Opens (creating if needed) the database at `path`: the folder is created
 * with mode 0700 and the file with 0600. Sets the pragmas (foreign keys,
 * WAL, synchronous = FULL). `check` (may be NULL) runs before the first
 * write: when it fails the file is left as it was and db_open() fails with
 * its error (migrate_open() passes migrate_verify()). `*out` belongs to the
 * caller: db_close() it.
 */
int db_open(grove_db **out, const char *path, db_check_fn check, grove_err *err);

/* Finalizes cached statements and closes the connection. NULL is a no-op. */
void db_close(grove_db *db);

/* The raw handle, borrowed; valid until db_close(). */
sqlite3 *db_sqlite(grove_db *db);

/* The path the database was opened with, borrowed. */
const char *db_path(const grove_db *db);

/*
 * Runs fn(db, arg, err) inside BEGIN IMMEDIATE ... COMMIT. If any step
 * returns SQLITE_BUSY/SQLITE_LOCKED (fn reports that by returning
 * DB_RETRY), rolls back, sleeps with exponential backoff plus jitter and
 * runs fn again, for up to about 30 s in total. fn must therefore only touch
 * the database (or be otherwise re-runnable). fn returns 0, -1 (err filled,
 * rolled back) or DB_RETRY.
 */
#define DB_RETRY (-2)
typedef int (*db_txn_fn)(grove_db *db, void *arg, grove_err *err);
int db_txn(grove_db *db, db_txn_fn fn, void *arg, grove_err *err);

/*
 * db_txn() without the fsync: the commit is written to the WAL but not
 * fsynced, so it survives the process being killed and reaches the disk
 * with the next fsync (the next ordinary commit, or a checkpoint of the
 * WAL); a power loss before that can undo it.
 */
int db_txn_relaxed(grove_db *db, db_txn_fn fn, void *arg, grove_err *err);

/*
 * Group commit: one transaction (BEGIN IMMEDIATE, retried like db_txn())
 * for many calls. Until db_group_commit(), every db_txn() and
 * db_txn_relaxed() runs in a savepoint of it: atomic on its own (a failing
 * one is rolled back alone, its neighbours' writes stay), visible to the
 * reads that follow, and durable only once db_group_commit() returned 0
 * (one COMMIT, one fsync for all). The group holds the database's write
 * lock throughout: keep it short, and do nothing in it but database work
 * and quick reads. A group whose only writes were db_txn_relaxed() ones is
 * committed without an fsync of its own. db_group_commit() fails when the commit (or its fsync)
 * failed, or when SQLite rolled the whole transaction back after an I/O
 * error during the group: then nothing of the group was written (or
 * nothing is known to be on disk) and every write in it must be reported
 * as failed. db_group_begin(): 0, or -1 with err (nothing is open then).
 */
int db_group_begin(grove_db *db, grove_err *err);
int db_group_commit(grove_db *db, grove_err *err);

/*
 * db_group_commit() that does not wait for the fsync: the group is
 * committed and the WAL's fdatasync started on a thread of db's, so that
 * the caller can run the next calls meanwhile. Nothing of the group may be
 * acknowledged before db_group_synced() returned 0 (-1: nothing of it is
 * known to be on disk: report every write as failed). Waits like
 * db_group_commit() instead when the fsync cannot be handed over: the
 * connection's first durable commit (SQLite's own sync also makes a WAL
 * file it has just made durable in its folder), no WAL, no thread.
 * An fsync still outstanding is waited for first: when it failed, this
 * group is rolled back and -1 returned with that error.
 */
int db_group_commit_nowait(grove_db *db, grove_err *err);
/* Waits for the fsync db_group_commit_nowait() started: 0 (also when none), or -1 with err. */
int db_group_synced(grove_db *db, grove_err *err);

/*
 * How long db_txn() keeps retrying while another process holds the
 * database locked (default about 30 s), and SQLite's own wait per attempt
 * at most that: for callers that must never hold anyone up (grove hook).
 */
void db_set_budget(grove_db *db, double ms);

/* Sets the connection's page cache to `kib` KiB (PRAGMA cache_size). */
int db_set_cache_kib(grove_db *db, int kib, grove_err *err);

/*
 * Maps a failed sqlite3 result code to grove's convention: returns DB_RETRY
 * for BUSY/LOCKED, otherwise fills err with GROVE_EDB and the SQLite message
 * prefixed by `what`, and returns -1.
 */
int db_fail(grove_db *db, int rc, const char *what, grove_err *err);

#endif
