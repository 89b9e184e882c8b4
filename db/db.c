/*
 * db: the SQLite connection, its pragmas, transactions retried with backoff,
 * and the per-connection prepared-statement cache (db/db_internal.h).
 *
 * Ownership: a grove_db owns its sqlite3 handle, its path copy and every
 * cached statement; db_close() releases all of them.
 */
#include "db/db.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db/db_internal.h"

#define DB_BUSY_TIMEOUT_MS    2000    /* SQLite's own wait per lock attempt */
#define DB_TXN_BUDGET_MS      30000.0 /* total time db_txn() keeps retrying */
#define DB_BACKOFF_START_US   2000u   /* first backoff: 2 ms */
#define DB_BACKOFF_CAP_US     250000u /* backoff cap: 250 ms (plus jitter) */
#define DB_READ_RETRIES       8       /* autocommit reads: bounded retries */
#define DB_STMT_CACHE         64      /* cached statements per connection */

/* One cached statement; `key` is the static SQL text it was prepared from. */
typedef struct stmt_slot {
    const char *key;
    sqlite3_stmt *st; /* owned by the slot; finalized in db_close() */
    int busy;         /* handed out by db_stmt() and not yet released */
} stmt_slot;

struct grove_db {
    sqlite3 *sq;      /* owned */
    char *path;       /* owned copy of the path given to db_open() */
    int in_txn;       /* inside db_txn()'s BEGIN IMMEDIATE ... COMMIT */
    int sync_normal;  /* synchronous = NORMAL (db_txn_relaxed() could not switch back yet) */
    double budget_ms; /* how long db_txn() keeps retrying a locked database */
    size_t nslots;
    stmt_slot slots[DB_STMT_CACHE];
};

/* ---- small helpers ------------------------------------------------------ */

void db_backoff(unsigned *delay_us)
{
    unsigned d = *delay_us ? *delay_us : DB_BACKOFF_START_US;
    /* "Equal jitter": half the delay fixed, the other half random. */
    unsigned long long us = d / 2 + randombytes_uniform(d + 1);
    struct timespec ts;

    ts.tv_sec = (time_t)(us / 1000000ull);
    ts.tv_nsec = (long)(us % 1000000ull) * 1000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    *delay_us = d >= DB_BACKOFF_CAP_US / 2 ? DB_BACKOFF_CAP_US : d * 2;
}

int db_fail(grove_db *db, int rc, const char *what, grove_err *err)
{
    int os_errno = errno; /* of the failed call, before anything here changes it */
    const char *msg = (db && db->sq) ? sqlite3_errmsg(db->sq) : sqlite3_errstr(rc);
    const char *path = db && db->path ? db->path : "?";
    int prim = rc & 0xff;
    int io = prim == SQLITE_IOERR || prim == SQLITE_FULL || prim == SQLITE_READONLY ||
             prim == SQLITE_CANTOPEN;
    /* SQLite keeps the VFS's errno only for some calls; errno right after the call is the rest. */
    int sys = (io && db && db->sq) ? sqlite3_system_errno(db->sq) : 0;

    if (io && !sys)
        sys = os_errno;

    if (DB_IS_BUSY(rc)) {
        grove_fail(err, GROVE_EDB, "%s: %s", what, msg);
        return DB_RETRY;
    }
    if ((rc & 0xff) == SQLITE_NOTADB)
        return grove_fail(err, GROVE_EDB, "%s: '%s' is not a SQLite database", what, path);
    if (rc == SQLITE_READONLY_DBMOVED)
        return grove_fail(err, GROVE_EDB,
                          "%s: the database file '%s' was deleted or replaced while grove was "
                          "running; nothing was written; restart grove",
                          what, path);
    /* Failures of the file system: say which file and what the OS said. */
    if (prim == SQLITE_FULL || sys == ENOSPC || sys == EFBIG || sys == EDQUOT)
        return grove_fail(err, GROVE_EDB,
                          "%s: the disk is full (or a file size limit was reached) writing the "
                          "database '%s'%s%s%s; nothing was written; free some space and try again",
                          what, path, sys ? " (" : "", sys ? strerror(sys) : "", sys ? ")" : "");
    if (prim == SQLITE_READONLY && db && db->sq && sqlite3_db_readonly(db->sq, "main") == 1)
        return grove_fail(err, GROVE_EDB,
                          "%s: the database '%s' (or its folder) was read-only when grove "
                          "opened it; nothing was written; make it writable and restart grove",
                          what, path);
    if (prim == SQLITE_READONLY || sys == EROFS || sys == EPERM || sys == EACCES)
        return grove_fail(err, GROVE_EDB,
                          "%s: the database '%s' (or its folder) is read-only%s%s%s; nothing was "
                          "written; make it writable again and retry",
                          what, path, sys ? " (" : "", sys ? strerror(sys) : "", sys ? ")" : "");
    if (io)
        return grove_fail(err, GROVE_EDB, "%s: %s on the database '%s'%s%s%s", what, msg, path,
                          sys ? " (" : "", sys ? strerror(sys) : "", sys ? ")" : "");
    return grove_fail(err, GROVE_EDB, "%s: %s", what, msg);
}

/*
 * Fails when the database file was deleted, renamed or replaced since it was
 * opened: SQLite would keep reading and writing the orphaned file, and every
 * row "committed" there would be lost for everyone else.
 */
static int check_file(grove_db *db, grove_err *err)
{
    int moved = 0;

    if (!db->sq || strcmp(db->path, ":memory:") == 0 ||
        sqlite3_file_control(db->sq, "main", SQLITE_FCNTL_HAS_MOVED, &moved) != SQLITE_OK || !moved)
        return 0;
    return grove_fail(err, GROVE_EDB,
                      "the database file '%s' was deleted, moved or replaced while grove was "
                      "running: nothing was read or written; restart grove to open the database "
                      "at that path again",
                      db->path);
}

int db_bind_text(sqlite3_stmt *st, int idx, const char *s)
{
    if (!s)
        return sqlite3_bind_null(st, idx);
    return sqlite3_bind_text64(st, idx, s, (sqlite3_uint64)strlen(s), SQLITE_STATIC, SQLITE_UTF8);
}

int db_exec(grove_db *db, const char *sql, const char *what, grove_err *err)
{
    int rc = sqlite3_exec(db->sq, sql, NULL, NULL, NULL);

    return rc == SQLITE_OK ? 0 : db_fail(db, rc, what, err);
}

sqlite3 *db_sqlite(grove_db *db)
{
    return db ? db->sq : NULL;
}

const char *db_path(const grove_db *db)
{
    return db ? db->path : NULL;
}

/* ---- statement cache ---------------------------------------------------- */

int db_stmt(grove_db *db, const char *sql, sqlite3_stmt **out, grove_err *err)
{
    stmt_slot *slot = NULL;
    size_t i;
    int nested = 0, rc;

    *out = NULL;
    if (!db->in_txn && check_file(db, err) != 0) /* db_txn() checked before BEGIN */
        return -1;
    for (i = 0; i < db->nslots; i++) {
        if (db->slots[i].key != sql)
            continue;
        if (db->slots[i].busy) {
            nested = 1;
            break;
        }
        db->slots[i].busy = 1;
        *out = db->slots[i].st;
        return 0;
    }
    if (!nested && db->nslots < DB_STMT_CACHE)
        slot = &db->slots[db->nslots];
    rc = sqlite3_prepare_v3(db->sq, sql, -1, slot ? SQLITE_PREPARE_PERSISTENT : 0, out, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(*out);
        *out = NULL;
        return db_fail(db, rc, "cannot prepare a statement", err);
    }
    if (slot) {
        slot->key = sql;
        slot->st = *out;
        slot->busy = 1;
        db->nslots++;
    }
    return 0;
}

void db_stmt_release(grove_db *db, sqlite3_stmt *st)
{
    size_t i;

    if (!st)
        return;
    for (i = 0; i < db->nslots; i++) {
        if (db->slots[i].st == st) {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            db->slots[i].busy = 0;
            return;
        }
    }
    sqlite3_finalize(st); /* a private statement (nested use or full cache) */
}

int db_step_first(grove_db *db, sqlite3_stmt *st)
{
    unsigned delay = DB_BACKOFF_START_US;
    int tries = 0;

    for (;;) {
        int rc = sqlite3_step(st);

        if (!DB_IS_BUSY(rc) || !sqlite3_get_autocommit(db->sq) || ++tries > DB_READ_RETRIES)
            return rc;
        sqlite3_reset(st);
        db_backoff(&delay);
    }
}

/* ---- open / close ------------------------------------------------------- */

/* Creates the folder (0700) and the file (0600) when they are missing. */
static int prepare_file(const char *path, grove_err *err)
{
    struct stat sb;
    const char *slash = strrchr(path, '/');
    int fd;

    if (slash && slash != path) {
        char *dir = strndup(path, (size_t)(slash - path)); /* owned here */
        int rc = 0;

        if (!dir)
            return grove_nomem(err);
        if (stat(dir, &sb) != 0) {
            if (errno == ENOENT)
                rc = grove_mkdirs(dir, 0700, err);
            else
                rc = grove_fail(err, GROVE_EIO, "cannot use folder '%s': %s", dir, strerror(errno));
        } else if (!S_ISDIR(sb.st_mode)) {
            rc = grove_fail(err, GROVE_EIO, "cannot use folder '%s': not a folder", dir);
        }
        free(dir);
        if (rc != 0)
            return rc;
    }
    if (stat(path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode))
            return grove_fail(err, GROVE_EIO, "cannot open database '%s': it is a folder", path);
        return 0;
    }
    if (errno != ENOENT)
        return grove_fail(err, GROVE_EIO, "cannot open database '%s': %s", path, strerror(errno));
    {
        /*
         * A write-ahead log without its database (deleted while a grove was
         * using it): SQLite would replay that log into the new, empty file
         * and mix two databases. Refuse until it is dealt with.
         */
        char *wal = grove_asprintf("%s-wal", path);
        int orphan = wal && stat(wal, &sb) == 0 && sb.st_size > 0;

        free(wal);
        if (orphan)
            return grove_fail(err, GROVE_EIO,
                              "database '%s' is missing but its write-ahead log '%s-wal' is "
                              "still there (was the database deleted while grove was using "
                              "it?); refusing to start a new database beside it: restore the "
                              "database file, or move '%s-wal' and '%s-shm' away, and start "
                              "again",
                              path, path, path, path);
    }
    /* SQLite gives the -wal and -shm files the mode of the database file. */
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return grove_fail(err, GROVE_EIO, "cannot create database '%s': %s", path, strerror(errno));
    close(fd);
    return 0;
}

/*
 * Runs a pragma (or any one-row statement), retrying BUSY with backoff for up
 * to DB_TXN_BUDGET_MS. The first column of the first row, if any, is copied
 * into `result` (may be NULL).
 */
static int run_pragma(grove_db *db, const char *sql, char *result, size_t result_size,
                      grove_err *err)
{
    double start = grove_now_ms();
    unsigned delay = DB_BACKOFF_START_US;
    char what[128];

    snprintf(what, sizeof(what), "cannot run '%s' on '%s'", sql, db->path);
    for (;;) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db->sq, sql, -1, &st, NULL);

        if (rc == SQLITE_OK) {
            rc = sqlite3_step(st);
            if (rc == SQLITE_ROW && result && result_size > 0) {
                const unsigned char *t = sqlite3_column_text(st, 0);

                snprintf(result, result_size, "%s", t ? (const char *)t : "");
            }
            if (rc == SQLITE_ROW || rc == SQLITE_DONE)
                rc = SQLITE_OK;
        }
        if (rc != SQLITE_OK) {
            int r = db_fail(db, rc, what, err);

            sqlite3_finalize(st);
            if (r != DB_RETRY || grove_now_ms() - start >= DB_TXN_BUDGET_MS)
                return -1;
            db_backoff(&delay);
            continue;
        }
        sqlite3_finalize(st);
        return 0;
    }
}

/* Reads the schema (read-only): fails clearly when the file is no database. */
static int probe(grove_db *db, grove_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc, ret = -1;

    rc = sqlite3_prepare_v2(db->sq, "SELECT count(*) FROM sqlite_master", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = db_step_first(db, st);
        if (rc == SQLITE_ROW)
            rc = SQLITE_OK;
    }
    if (rc == SQLITE_OK)
        ret = 0;
    else if ((rc & 0xff) == SQLITE_NOTADB)
        grove_fail(err, GROVE_EDB, "'%s' is not a SQLite database (refusing to touch it)",
                   db->path);
    else
        db_fail(db, rc, "cannot read database", err);
    sqlite3_finalize(st);
    return ret;
}

int db_open(grove_db **out, const char *path, db_check_fn check, grove_err *err)
{
    grove_db *db = NULL;
    char mode[32] = "";
    int memory, rc;

    *out = NULL;
    if (!path || !*path)
        return grove_fail(err, GROVE_EINVAL, "database path is empty");
    if (sodium_init() < 0)
        return grove_fail(err, GROVE_EIO, "cannot initialise libsodium");
    memory = strcmp(path, ":memory:") == 0;
    if (!memory && prepare_file(path, err) != 0)
        return -1;
    db = calloc(1, sizeof(*db));
    if (!db || !(db->path = strdup(path))) {
        grove_nomem(err);
        goto fail;
    }
    rc = sqlite3_open_v2(path, &db->sq, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        grove_fail(err, GROVE_EDB, "cannot open database '%s': %s", path,
                   db->sq ? sqlite3_errmsg(db->sq) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(db->sq, 1);
    sqlite3_busy_timeout(db->sq, DB_BUSY_TIMEOUT_MS);
    db->budget_ms = DB_TXN_BUDGET_MS;

    /* Nothing up to the check writes, so a refused file stays untouched. */
    if (probe(db, err) != 0)
        goto fail;
    if (run_pragma(db, "PRAGMA foreign_keys = ON", NULL, 0, err) != 0)
        goto fail;
    if (check && check(db, err) != 0)
        goto fail;

    if (!memory) {
        if (run_pragma(db, "PRAGMA journal_mode = WAL", mode, sizeof(mode), err) != 0)
            goto fail;
        if (strcasecmp(mode, "wal") != 0)
            log_warn("database '%s' stays in journal mode '%s': WAL is not available", path, mode);
    }
    if (run_pragma(db, "PRAGMA synchronous = FULL", NULL, 0, err) != 0)
        goto fail;
    *out = db;
    return 0;

fail:
    db_close(db);
    return -1;
}

void db_set_budget(grove_db *db, double ms)
{
    db->budget_ms = ms;
    sqlite3_busy_timeout(db->sq, ms < DB_BUSY_TIMEOUT_MS ? (int)ms : DB_BUSY_TIMEOUT_MS);
}

void db_close(grove_db *db)
{
    size_t i;

    if (!db)
        return;
    for (i = 0; i < db->nslots; i++)
        sqlite3_finalize(db->slots[i].st);
    if (db->sq && sqlite3_close_v2(db->sq) != SQLITE_OK)
        log_warn("closing database '%s': %s", db->path ? db->path : "?", sqlite3_errmsg(db->sq));
    free(db->path);
    free(db);
}

/* ---- transactions ------------------------------------------------------- */

static void rollback(grove_db *db)
{
    if (!sqlite3_get_autocommit(db->sq) &&
        sqlite3_exec(db->sq, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
        log_warn("rollback on '%s' failed: %s", db->path, sqlite3_errmsg(db->sq));
}

/* The connection's synchronous level, remembered so that db_txn() never commits a write at NORMAL.
 */
static int set_synchronous(grove_db *db, int full, grove_err *err)
{
    if (run_pragma(db, full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL", NULL, 0,
                   err) != 0)
        return -1;
    db->sync_normal = !full;
    return 0;
}

static int txn_run(grove_db *db, db_txn_fn fn, void *arg, grove_err *err);

int db_txn_relaxed(grove_db *db, db_txn_fn fn, void *arg, grove_err *err)
{
    grove_err serr = GROVE_ERR_INIT;
    int rc;

    if (db->in_txn) /* nested: part of the caller's transaction, at its level */
        return fn(db, arg, err);
    if (set_synchronous(db, 0, err) != 0)
        return -1;
    rc = txn_run(db, fn, arg, err);
    /* On failure sync_normal stays set, and the next db_txn() tries again before it writes. */
    if (set_synchronous(db, 1, &serr) != 0 && rc == 0) {
        *err = serr;
        rc = -1;
    }
    return rc;
}

int db_txn(grove_db *db, db_txn_fn fn, void *arg, grove_err *err)
{
    if (db->in_txn) /* nested: part of the caller's transaction */
        return fn(db, arg, err);
    if (db->sync_normal && set_synchronous(db, 1, err) != 0)
        return -1;
    return txn_run(db, fn, arg, err);
}

/* BEGIN IMMEDIATE ... COMMIT around fn, retried on BUSY (see db_txn() in db.h). */
static int txn_run(grove_db *db, db_txn_fn fn, void *arg, grove_err *err)
{
    double start = grove_now_ms();
    unsigned delay = DB_BACKOFF_START_US;
    int attempts = 0;

    if (check_file(db, err) != 0)
        return -1;
    for (;;) {
        int rc;

        attempts++;
        rc = sqlite3_exec(db->sq, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc == SQLITE_OK) {
            db->in_txn = 1;
            rc = fn(db, arg, err);
            db->in_txn = 0;
            if (rc == 0) {
                rc = sqlite3_exec(db->sq, "COMMIT", NULL, NULL, NULL);
                if (rc == SQLITE_OK)
                    return 0;
                rc = db_fail(db, rc, "cannot commit", err);
            }
            rollback(db);
            if (rc != DB_RETRY)
                return -1;
        } else if (db_fail(db, rc, "cannot begin a transaction", err) != DB_RETRY) {
            return -1;
        }
        if (grove_now_ms() - start >= db->budget_ms)
            return grove_fail(err, GROVE_EDB,
                              "database '%s' stayed locked by another process for %.0f s "
                              "(%d attempts); try again later",
                              db->path, (grove_now_ms() - start) / 1000.0, attempts);
        db_backoff(&delay);
    }
}

int db_set_cache_kib(grove_db *db, int kib, grove_err *err)
{
    char sql[64];

    snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%d", kib);
    return db_exec(db, sql, "cannot set the database cache size", err);
}
