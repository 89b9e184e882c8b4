/*
 * unit_db: what the database unit tests share: a fresh temporary folder
 * with a migrated database in it (the cmocka fixture), and running SQL
 * directly to arrange or inspect rows. A failure fails the running test.
 */
#ifndef GROVE_TEST_UNIT_DB_H
#define GROVE_TEST_UNIT_DB_H

#include <sqlite3.h>

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

#endif
