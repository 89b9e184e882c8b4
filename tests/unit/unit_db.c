/* unit_db: the database unit tests' fixture and SQL helpers (see unit_db.h). */
#include "tests/unit/unit_db.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/migrate.h"

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

void unit_rmrf(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static unit_db *make(void)
{
    unit_db *f = calloc(1, sizeof(*f));

    if (!f)
        return NULL;
    snprintf(f->dir, sizeof(f->dir), "/tmp/grove-unit-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return NULL;
    }
    snprintf(f->path, sizeof(f->path), "%s/grove.db", f->dir);
    return f;
}

int unit_db_setup_bare(void **state)
{
    unit_db *f = make();

    *state = f;
    return f ? 0 : -1;
}

int unit_db_setup(void **state)
{
    grove_err err = GROVE_ERR_INIT;
    unit_db *f = make();

    if (!f)
        return -1;
    if (migrate_open(&f->db, f->path, &err) != 0) {
        fprintf(stderr, "migrate_open: %s\n", err.msg);
        unit_rmrf(f->dir);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

int unit_db_teardown(void **state)
{
    unit_db *f = *state;

    if (!f)
        return 0;
    db_close(f->db);
    unit_rmrf(f->dir);
    free(f);
    return 0;
}

void unit_sql(sqlite3 *sq, const char *sql)
{
    char *msg = NULL;

    if (sqlite3_exec(sq, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
}

long long unit_query_int(sqlite3 *sq, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long v = -1;

    if (sqlite3_prepare_v2(sq, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(sq));
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

char *unit_query_text(sqlite3 *sq, const char *sql)
{
    sqlite3_stmt *st = NULL;
    char *v = NULL;

    if (sqlite3_prepare_v2(sq, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(sq));
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return v;
}
