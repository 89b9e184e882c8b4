/*
 * Schema migrations: db/migrations/NNNN_name.sql, embedded at build time.
 * Each file holds an up part and a down part:
 *
 *   -- +up
 *   CREATE TABLE ...;
 *   -- +down
 *   DROP TABLE ...;
 *
 * The checksum stored in grove_schema_migrations is the lowercase hex
 * sha256 (libsodium) of the whole file. Each migration runs in its own
 * BEGIN IMMEDIATE transaction.
 */
#ifndef GROVE_MIGRATE_H
#define GROVE_MIGRATE_H

#include <jansson.h>

#include "db/db.h"

/* Number of embedded migrations (the newest version this binary knows). */
int migrate_latest(void);

/*
 * Verifies what is applied: every applied version is known to this binary
 * and its checksum matches the embedded file. Otherwise GROVE_ESCHEMA with a
 * message naming the version, and nothing is changed.
 */
int migrate_verify(grove_db *db, grove_err *err);

/*
 * db_open() that verifies the applied migrations before anything is
 * written (refusing a database newer than the binary or with an edited
 * migration, GROVE_ESCHEMA, without touching it) and then applies the
 * pending ones. *out belongs to the caller: db_close() it.
 */
int migrate_open(grove_db **out, const char *path, grove_err *err);

/* Applies pending migrations up to `to` (<= 0: all). Verifies first. */
int migrate_apply(grove_db *db, int to, grove_err *err);

/* Rolls back applied migrations down to version `to` (>= 0; 0 = all). Verifies first. */
int migrate_rollback(grove_db *db, int to, grove_err *err);

/* One known or applied migration. Strings owned by the list; NULL where there is none. */
typedef struct migrate_row {
    int version;
    char *name;
    char *checksum;         /* this binary's (or, for an unknown one, the recorded) checksum */
    int applied;            /* 1 when recorded in grove_schema_migrations */
    char *applied_at;       /* when it was applied; NULL when pending */
    const char *state;      /* static: "applied" | "pending" | "edited" | "unknown" */
    char *applied_checksum; /* "edited": the checksum recorded when it was applied */
} migrate_row;

typedef struct migrate_status_list {
    migrate_row *v; /* owned, by version */
    size_t n;
} migrate_status_list;

/*
 * Every migration this binary knows or the database records, by version.
 * *out belongs to the caller: migrate_status_free() it (also safe after a
 * failure, which leaves it empty).
 */
int migrate_status(grove_db *db, migrate_status_list *out, grove_err *err);
void migrate_status_free(migrate_status_list *list);

#endif
