/*
 * db internals shared by db.c, migrate.c and queries.c (not for other
 * modules): the per-connection prepared-statement cache, binding helpers
 * and bounded retry for reads outside a transaction.
 */
#ifndef GROVE_DB_INTERNAL_H
#define GROVE_DB_INTERNAL_H

#include <sqlite3.h>

#include "db/db.h"

/* True for the result codes that mean "another connection holds a lock". */
#define DB_IS_BUSY(rc) (((rc)&0xff) == SQLITE_BUSY || ((rc)&0xff) == SQLITE_LOCKED)

/*
 * A prepared statement for `sql`, from the connection's cache (prepared
 * with SQLITE_PREPARE_PERSISTENT on first use). `sql` must be a string with
 * static storage (it is the cache key). The statement is borrowed: hand it
 * back with db_stmt_release() (at `done:`), which resets it and clears its
 * bindings. If the cached statement is in use already (nested use), a
 * private one is prepared and finalized on release. 0, or -1 with err.
 */
int db_stmt(grove_db *db, const char *sql, sqlite3_stmt **out, grove_err *err);

/* Gives back a statement from db_stmt(). NULL is a no-op. */
void db_stmt_release(grove_db *db, sqlite3_stmt *st);

/*
 * sqlite3_step() for the first step of a statement. Outside a transaction
 * (autocommit) a BUSY/LOCKED result is retried a bounded number of times
 * with backoff; inside one it is returned for db_txn() to retry.
 */
int db_step_first(grove_db *db, sqlite3_stmt *st);

/*
 * Binds a borrowed string (NULL binds SQL NULL) with its explicit length.
 * The string must outlive the statement's use (db_stmt_release() clears
 * bindings). Returns an SQLite result code.
 */
int db_bind_text(sqlite3_stmt *st, int idx, const char *s);

/* Runs a script of SQL statements (no results) with db_fail() semantics. */
int db_exec(grove_db *db, const char *sql, const char *what, grove_err *err);

/*
 * Sleeps for *delay_us plus a random jitter in [0, *delay_us], then doubles
 * *delay_us up to the cap (250 ms).
 */
void db_backoff(unsigned *delay_us);

#endif
