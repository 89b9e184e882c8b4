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
#include <pthread.h>
#include <stdio.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db/db_internal.h"

#define DB_BUSY_TIMEOUT_MS  2000    /* the busy handler's wait per lock attempt */
#define DB_BUSY_FIRST_US    20u     /* its first sleep: a commit holds the lock ~0.1 ms */
#define DB_BUSY_CAP_US      1000u   /* its longest sleep */
#define DB_WAL_CHECKPOINT   1000    /* WAL frames that start a passive checkpoint */
#define DB_TXN_BUDGET_MS    30000.0 /* total time db_txn() keeps retrying */
#define DB_BACKOFF_START_US 2000u   /* first backoff: 2 ms */
#define DB_BACKOFF_CAP_US   250000u /* backoff cap: 250 ms (plus jitter) */
#define DB_READ_RETRIES     8       /* autocommit reads: bounded retries */
#define DB_STMT_CACHE       64      /* cached statements per connection */

/* One cached statement; `key` is the static SQL text it was prepared from. */
typedef struct stmt_slot {
    const char *key;
    sqlite3_stmt *st; /* owned by the slot; finalized in db_close() */
    int busy;         /* handed out by db_stmt() and not yet released */
} stmt_slot;

/*
 * The syncer: a thread that fdatasyncs the WAL file for
 * db_group_commit_nowait(), through its own descriptor of the file (the
 * connection's is SQLite's, used by this thread meanwhile). While the
 * connection is open the WAL file cannot be deleted or replaced (SQLite
 * deletes it only when the last connection closes), so the descriptor
 * names the file SQLite writes. One fsync is asked for at a time.
 */
typedef struct db_syncer {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int fd;     /* owned: the WAL file, read-only (fdatasync needs no more) */
    int state;  /* under mu: SYNC_IDLE, SYNC_ASKED, SYNC_DONE */
    int errnum; /* under mu: errno of the fsync that failed; 0 */
    int quit;   /* under mu: the thread ends */
} db_syncer;

enum { SYNC_IDLE, SYNC_ASKED, SYNC_DONE };

struct grove_db {
    sqlite3 *sq;      /* owned */
    char *path;       /* owned copy of the path given to db_open() */
    int in_txn;       /* inside db_txn()'s BEGIN IMMEDIATE ... COMMIT (or its savepoint) */
    int relaxed;      /* the commit under way needs no fsync of its own (db_txn_relaxed()) */
    int group;        /* inside db_group_begin() ... db_group_commit() */
    int group_lost;   /* SQLite rolled the group's transaction back (an I/O error) */
    int wal_sync;     /* WAL mode: commits are fsynced by wal_committed(), after the unlock */
    double budget_ms; /* how long db_txn() keeps retrying a locked database */
    double busy_ms;   /* how long busy_wait() waits for one lock */
    double busy_t0;   /* when the current wait began */
    sqlite3_int64 group_changes0;        /* sqlite3_total_changes64() when the group began */
    sqlite3_int64 group_relaxed_changes; /* of those since, made by db_txn_relaxed() */
    int nowait;   /* the commit under way is db_group_commit_nowait()'s: the hook does not sync */
    int unsynced; /* that commit wrote WAL frames that no fsync has covered yet */
    int synced_once;   /* a commit of this connection was fsynced by SQLite's own xSync */
    db_syncer *syncer; /* owned: the thread that fsyncs for db_group_commit_nowait(); NULL: none */
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
    if (!db->in_txn && !db->group && check_file(db, err) != 0) /* checked before BEGIN */
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

/*
 * SQLite's busy handler: waits for another process's lock in short, jittered
 * sleeps (20 us doubling up to 1 ms) for up to busy_ms. sqlite3_busy_timeout()
 * sleeps 1, 2, 5, 10 ... ms, far longer than a commit holds the lock, so
 * eight writers spent most of their time asleep.
 */
static int busy_wait(void *arg, int n)
{
    grove_db *db = arg;
    unsigned d = DB_BUSY_FIRST_US, us;
    struct timespec ts;

    if (n == 0)
        db->busy_t0 = grove_now_ms();
    else if (grove_now_ms() - db->busy_t0 >= db->busy_ms)
        return 0;
    while (n-- > 0 && d < DB_BUSY_CAP_US)
        d *= 2;
    if (d > DB_BUSY_CAP_US)
        d = DB_BUSY_CAP_US;
    us = d / 2 + randombytes_uniform(d / 2 + 1);
    ts.tv_sec = 0;
    ts.tv_nsec = (long)us * 1000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    return 1;
}

/*
 * fdatasync of the connection's WAL file: what synchronous = FULL does at
 * each commit, done here after the commit released the write lock.
 */
static int sync_wal(grove_db *db)
{
    sqlite3_file *f = NULL;

    if (sqlite3_file_control(db->sq, "main", SQLITE_FCNTL_JOURNAL_POINTER, &f) != SQLITE_OK || !f ||
        !f->pMethods)
        return SQLITE_IOERR_FSYNC;
    return f->pMethods->xSync(f, SQLITE_SYNC_NORMAL);
}

/*
 * sqlite3_wal_hook(): runs after every commit of this connection, once the
 * commit is in the WAL and the write lock is released. The connection runs
 * at synchronous = NORMAL, so nothing has been fsynced yet: the WAL is
 * fsynced here (unless db_txn_relaxed()), before the commit returns and so
 * before anything is acknowledged. Other processes meanwhile write their
 * own commits, and concurrent fsyncs of one file share the file system's
 * journal commit: the fsync leaves the critical section. An fsync covers
 * every frame written before it, so a durable commit never follows one a
 * power cut could lose. A failed fsync fails the commit's statement (the
 * caller reports the write as failed). Replaces SQLite's auto-checkpoint,
 * whose hook this is: a passive checkpoint every DB_WAL_CHECKPOINT frames.
 */
static int wal_committed(void *arg, sqlite3 *sq, const char *name, int frames)
{
    grove_db *db = arg;
    int rc = SQLITE_OK;

    if (db->nowait && !db->relaxed)
        db->unsynced = 1; /* db_group_commit_nowait() hands it to the syncer */
    else if (!db->relaxed && (rc = sync_wal(db)) == SQLITE_OK)
        db->synced_once = 1;

    if (frames >= DB_WAL_CHECKPOINT)
        sqlite3_wal_checkpoint_v2(sq, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return rc;
}

static void *syncer_main(void *arg)
{
    db_syncer *y = arg;

    pthread_mutex_lock(&y->mu);
    for (;;) {
        int rc;

        while (y->state != SYNC_ASKED && !y->quit)
            pthread_cond_wait(&y->cv, &y->mu);
        if (y->quit)
            break;
        pthread_mutex_unlock(&y->mu);
        rc = fdatasync(y->fd);
        pthread_mutex_lock(&y->mu);
        y->errnum = rc == 0 ? 0 : (errno ? errno : EIO);
        y->state = SYNC_DONE;
        pthread_cond_broadcast(&y->cv);
    }
    pthread_mutex_unlock(&y->mu);
    return NULL;
}

/* Starts db's syncer (once). 0, or -1 when it cannot run: the caller then syncs itself. */
static int syncer_start(grove_db *db)
{
    const char *wal = sqlite3_filename_wal(sqlite3_db_filename(db->sq, "main"));
    db_syncer *y;

    if (db->syncer)
        return 0;
    if (!wal || !(y = calloc(1, sizeof(*y)))) /* owned by db */
        return -1;
    if ((y->fd = open(wal, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
        free(y);
        return -1;
    }
    pthread_mutex_init(&y->mu, NULL);
    pthread_cond_init(&y->cv, NULL);
    if (pthread_create(&y->thread, NULL, syncer_main, y) != 0) {
        pthread_cond_destroy(&y->cv);
        pthread_mutex_destroy(&y->mu);
        close(y->fd);
        free(y);
        return -1;
    }
    db->syncer = y;
    return 0;
}

/* Ends db's syncer, after the fsync in progress if any. */
static void syncer_stop(grove_db *db)
{
    db_syncer *y = db->syncer;

    if (!y)
        return;
    pthread_mutex_lock(&y->mu);
    while (y->state == SYNC_ASKED)
        pthread_cond_wait(&y->cv, &y->mu);
    y->quit = 1;
    pthread_cond_broadcast(&y->cv);
    pthread_mutex_unlock(&y->mu);
    pthread_join(y->thread, NULL);
    pthread_cond_destroy(&y->cv);
    pthread_mutex_destroy(&y->mu);
    close(y->fd);
    free(y);
    db->syncer = NULL;
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
    /*
     * A connection is used by one thread at a time (the syncer has a descriptor of its own):
     * no mutex around every call of it (SQLITE_OPEN_NOMUTEX), and no global memory
     * statistics, whose mutex every allocation took (effective only before SQLite is first
     * initialized, so the first open sets it; later calls are refused, harmlessly).
     */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    rc = sqlite3_open_v2(path, &db->sq,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        grove_fail(err, GROVE_EDB, "cannot open database '%s': %s", path,
                   db->sq ? sqlite3_errmsg(db->sq) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(db->sq, 1);
    db->busy_ms = DB_BUSY_TIMEOUT_MS;
    sqlite3_busy_handler(db->sq, busy_wait, db);
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
        else
            db->wal_sync = 1;
    }
    /* In WAL mode wal_committed() fsyncs each commit (FULL's fsync, after the unlock). */
    if (run_pragma(db, db->wal_sync ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL",
                   NULL, 0, err) != 0)
        goto fail;
    if (db->wal_sync)
        sqlite3_wal_hook(db->sq, wal_committed, db);
    if (run_pragma(db, "PRAGMA temp_store = MEMORY", NULL, 0, err) != 0)
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
    db->busy_ms = ms < DB_BUSY_TIMEOUT_MS ? ms : DB_BUSY_TIMEOUT_MS;
}

void db_close(grove_db *db)
{
    size_t i;

    if (!db)
        return;
    syncer_stop(db);
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

static int txn_run(grove_db *db, db_txn_fn fn, void *arg, grove_err *err);
static int savepoint_run(grove_db *db, db_txn_fn fn, void *arg, int relaxed, grove_err *err);

int db_txn_relaxed(grove_db *db, db_txn_fn fn, void *arg, grove_err *err)
{
    int rc;

    if (db->in_txn) /* nested: part of the caller's transaction, at its level */
        return fn(db, arg, err);
    if (db->group) /* part of the group */
        return savepoint_run(db, fn, arg, 1, err);
    db->relaxed = 1;
    rc = txn_run(db, fn, arg, err);
    db->relaxed = 0;
    return rc;
}

int db_txn(grove_db *db, db_txn_fn fn, void *arg, grove_err *err)
{
    if (db->in_txn) /* nested: part of the caller's transaction */
        return fn(db, arg, err);
    if (db->group)
        return savepoint_run(db, fn, arg, 0, err);
    return txn_run(db, fn, arg, err);
}

/* ---- group commit ------------------------------------------------------- */

static const char SQL_SAVEPOINT[] = "SAVEPOINT grove_call";
static const char SQL_RELEASE[] = "RELEASE grove_call";
static const char SQL_ROLLBACK_TO[] = "ROLLBACK TO grove_call";

/* Runs one statement without results from the statement cache (prepared once): an SQLite code. */
static int run_cached(grove_db *db, const char *sql)
{
    grove_err err = GROVE_ERR_INIT;
    sqlite3_stmt *st = NULL;
    int rc;

    if (db_stmt(db, sql, &st, &err) != 0)
        return sqlite3_errcode(db->sq) != SQLITE_OK ? sqlite3_errcode(db->sq) : SQLITE_ERROR;
    rc = sqlite3_step(st);
    db_stmt_release(db, st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/*
 * db_txn() inside a group: fn between SAVEPOINT and RELEASE, undone alone
 * (ROLLBACK TO) when it fails, so that a failing call never takes its
 * neighbours' writes with it. The group holds the write lock: no BUSY here.
 */
static int savepoint_run(grove_db *db, db_txn_fn fn, void *arg, int relaxed, grove_err *err)
{
    sqlite3_int64 before = sqlite3_total_changes64(db->sq);
    int rc;

    if (db->group_lost)
        return grove_fail(err, GROVE_EDB,
                          "the database rolled back this batch of calls after an error; nothing "
                          "was written; try again");
    rc = run_cached(db, SQL_SAVEPOINT);
    if (rc != SQLITE_OK) {
        rc = db_fail(db, rc, "cannot begin a savepoint", err);
    } else {
        db->in_txn = 1;
        rc = fn(db, arg, err);
        db->in_txn = 0;
        if (rc == 0 && (rc = run_cached(db, SQL_RELEASE)) != SQLITE_OK)
            rc = db_fail(db, rc, "cannot release a savepoint", err);
        if (rc != 0 && !sqlite3_get_autocommit(db->sq) &&
            (run_cached(db, SQL_ROLLBACK_TO) != SQLITE_OK ||
             run_cached(db, SQL_RELEASE) != SQLITE_OK))
            log_warn("rollback to a savepoint on '%s' failed: %s", db->path,
                     sqlite3_errmsg(db->sq));
    }
    if (rc == 0 && relaxed)
        db->group_relaxed_changes += sqlite3_total_changes64(db->sq) - before;
    if (sqlite3_get_autocommit(db->sq)) /* SQLite ended the whole transaction (I/O error) */
        db->group_lost = 1;
    if (rc == DB_RETRY) /* cannot happen while the group holds the lock; never retried here */
        rc = -1;
    return rc == 0 ? 0 : -1;
}

int db_group_begin(grove_db *db, grove_err *err)
{
    double start = grove_now_ms();
    unsigned delay = DB_BACKOFF_START_US;

    if (db->group || db->in_txn)
        return grove_fail(err, GROVE_EINVAL, "a transaction is open already");
    if (check_file(db, err) != 0)
        return -1;
    for (;;) {
        int rc = sqlite3_exec(db->sq, "BEGIN IMMEDIATE", NULL, NULL, NULL);

        if (rc == SQLITE_OK) {
            db->group = 1;
            db->group_lost = 0;
            db->group_changes0 = sqlite3_total_changes64(db->sq);
            db->group_relaxed_changes = 0;
            return 0;
        }
        if (db_fail(db, rc, "cannot begin a transaction", err) != DB_RETRY)
            return -1;
        if (grove_now_ms() - start >= db->budget_ms)
            return grove_fail(err, GROVE_EDB,
                              "database '%s' stayed locked by another process for %.0f s; try "
                              "again later",
                              db->path, (grove_now_ms() - start) / 1000.0);
        db_backoff(&delay);
    }
}

int db_group_commit(grove_db *db, grove_err *err)
{
    int rc;

    if (!db->group)
        return 0;
    db->group = 0;
    if (db->group_lost || sqlite3_get_autocommit(db->sq)) {
        db->group_lost = 0;
        return grove_fail(err, GROVE_EDB,
                          "the database rolled back this batch of calls after an error; nothing "
                          "was written; try again");
    }
    /* Only relaxed writes (the events of reads): committed without an fsync of their own. */
    db->relaxed = sqlite3_total_changes64(db->sq) - db->group_changes0 <= db->group_relaxed_changes;
    rc = sqlite3_exec(db->sq, "COMMIT", NULL, NULL, NULL);
    db->relaxed = 0;
    if (rc == SQLITE_OK)
        return 0;
    db_fail(db, rc, "cannot commit", err);
    rollback(db);
    return -1;
}

int db_group_commit_nowait(grove_db *db, grove_err *err)
{
    db_syncer *y;
    int rc;

    if (db_group_synced(db, err) != 0) { /* one fsync outstanding at a time */
        rollback(db);
        db->group = 0;
        return -1;
    }
    /* The first durable commit goes through SQLite's own sync, which also makes a WAL file it
       has just made durable in its folder. */
    if (!db->wal_sync || !db->synced_once || syncer_start(db) != 0)
        return db_group_commit(db, err);
    db->nowait = 1;
    db->unsynced = 0;
    rc = db_group_commit(db, err);
    db->nowait = 0;
    if (rc != 0 || !db->unsynced)
        return rc;
    db->unsynced = 0;
    y = db->syncer;
    pthread_mutex_lock(&y->mu);
    y->state = SYNC_ASKED;
    pthread_cond_broadcast(&y->cv);
    pthread_mutex_unlock(&y->mu);
    return 0;
}

int db_group_synced(grove_db *db, grove_err *err)
{
    db_syncer *y = db->syncer;
    int errnum;

    if (!y)
        return 0;
    pthread_mutex_lock(&y->mu);
    while (y->state == SYNC_ASKED)
        pthread_cond_wait(&y->cv, &y->mu);
    errnum = y->state == SYNC_DONE ? y->errnum : 0;
    y->state = SYNC_IDLE;
    pthread_mutex_unlock(&y->mu);
    if (errnum)
        return grove_fail(err, GROVE_EDB,
                          "cannot fsync the database's write-ahead log '%s-wal': %s; what these "
                          "calls wrote may not be on disk",
                          db->path, strerror(errnum));
    return 0;
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
