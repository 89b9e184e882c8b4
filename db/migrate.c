/*
 * migrate: applies, verifies and rolls back the embedded migrations
 * (db/migrations/NNNN_name.sql, see db/migrate.h).
 *
 * Several grove processes may open one new database at once: each migration
 * runs in its own BEGIN IMMEDIATE transaction that first re-reads what is
 * applied, so exactly one process applies it and the others skip it.
 */
#include "db/migrate.h"

#include <limits.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_internal.h"
#include "tools/base/embed.h"

extern const embedded_file grove_migrations[];
extern const size_t grove_migrations_count;

/* One embedded migration, described. `file` is static storage. */
typedef struct migration {
    int version;
    char name[128];
    char checksum[crypto_hash_sha256_BYTES * 2 + 1];
    const embedded_file *file;
} migration;

/* One row of grove_schema_migrations; the strings are owned by the row. */
typedef struct applied_row {
    int version;
    char *name;
    char *checksum;
    char *applied_at;
} applied_row;

typedef struct applied_set {
    applied_row *rows; /* owned; ordered by version */
    size_t n;
} applied_set;

static const char SQL_TABLE_EXISTS[] =
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1";
static const char SQL_APPLIED[] =
    "SELECT version, name, checksum, applied_at FROM grove_schema_migrations ORDER BY version";
static const char SQL_RECORD[] =
    "INSERT INTO grove_schema_migrations (version, name, checksum) VALUES (?1, ?2, ?3)";
static const char SQL_UNRECORD[] = "DELETE FROM grove_schema_migrations WHERE version = ?1";

/* Beads extension mode (CONTRACT §4): links to beads' issues, only beside them. */
static const char SQL_BEADS_LINKS[] =
    "CREATE TABLE IF NOT EXISTS grove_issue_links (\n"
    "    instance_id TEXT NOT NULL REFERENCES grove_instances (id) ON DELETE CASCADE,\n"
    "    issue_id    TEXT NOT NULL REFERENCES issues (id) ON DELETE CASCADE ON UPDATE CASCADE,\n"
    "    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),\n"
    "    PRIMARY KEY (instance_id, issue_id)\n"
    ");\n"
    "CREATE INDEX IF NOT EXISTS grove_issue_links_issue ON grove_issue_links (issue_id);\n";

/* ---- embedded migrations ------------------------------------------------ */

/* Leading decimal version of a file name such as "0001_initial.sql", or -1. */
static int parse_version(const char *name, const char **rest)
{
    long v = 0;
    const char *p = name;

    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (*p - '0');
        if (v > INT_MAX / 10)
            return -1;
        p++;
    }
    if (p == name || v <= 0)
        return -1;
    if (rest)
        *rest = p;
    return (int)v;
}

/* Describes embedded migration i (name, version, checksum). */
static int migration_at(size_t i, migration *m, grove_err *err)
{
    const embedded_file *f = &grove_migrations[i];
    unsigned char hash[crypto_hash_sha256_BYTES];
    const char *rest = NULL, *dot;
    size_t n;

    memset(m, 0, sizeof(*m));
    m->file = f;
    m->version = parse_version(f->name, &rest);
    if (m->version < 0 || *rest != '_')
        return grove_fail(err, GROVE_ESCHEMA, "embedded migration '%s' is misnamed", f->name);
    rest++;
    dot = strrchr(rest, '.');
    if (!dot || strcmp(dot, ".sql") != 0 || dot == rest ||
        (n = (size_t)(dot - rest)) >= sizeof(m->name))
        return grove_fail(err, GROVE_ESCHEMA, "embedded migration '%s' is misnamed", f->name);
    memcpy(m->name, rest, n);
    m->name[n] = '\0';
    crypto_hash_sha256(hash, (const unsigned char *)f->data, (unsigned long long)f->len);
    sodium_bin2hex(m->checksum, sizeof(m->checksum), hash, sizeof(hash));
    return 0;
}

/* The embedded migration with `version`: 1 found, 0 not, -1 error. */
static int migration_find(int version, migration *m, grove_err *err)
{
    size_t i;

    for (i = 0; i < grove_migrations_count; i++) {
        if (parse_version(grove_migrations[i].name, NULL) != version)
            continue;
        return migration_at(i, m, err) == 0 ? 1 : -1;
    }
    return 0;
}

int migrate_latest(void)
{
    if (grove_migrations_count == 0)
        return 0;
    return parse_version(grove_migrations[grove_migrations_count - 1].name, NULL);
}

/* Length of the line at p (without its '\n') with trailing blanks and '\r' dropped. */
static size_t trimmed_line(const char *p, const char *end, const char **next)
{
    const char *e = memchr(p, '\n', (size_t)(end - p));
    const char *t;

    if (!e)
        e = end;
    *next = e < end ? e + 1 : end;
    t = e;
    while (t > p && (t[-1] == '\r' || t[-1] == ' ' || t[-1] == '\t'))
        t--;
    return (size_t)(t - p);
}

/*
 * The up (want_up) or down part of a migration as a new NUL-terminated
 * string; the caller frees *out.
 */
static int migration_part(const migration *m, int want_up, char **out, grove_err *err)
{
    const char *data = m->file->data, *end = data + m->file->len, *p = data, *next;
    const char *up = NULL, *up_end = NULL, *down = NULL;

    *out = NULL;
    while (p < end) {
        size_t n = trimmed_line(p, end, &next);

        if (n == 6 && memcmp(p, "-- +up", 6) == 0) {
            if (up)
                break;
            up = next;
        } else if (n == 8 && memcmp(p, "-- +down", 8) == 0) {
            if (down || !up)
                break;
            up_end = p;
            down = next;
        }
        p = next;
    }
    if (!up || !down || p < end)
        return grove_fail(err, GROVE_ESCHEMA,
                          "migration %d '%s' needs one '-- +up' line followed by one "
                          "'-- +down' line",
                          m->version, m->name);
    *out = want_up ? strndup(up, (size_t)(up_end - up)) : strndup(down, (size_t)(end - down));
    if (!*out)
        return grove_nomem(err);
    return 0;
}

/* ---- applied migrations ------------------------------------------------- */

static void applied_free(applied_set *a)
{
    size_t i;

    for (i = 0; i < a->n; i++) {
        free(a->rows[i].name);
        free(a->rows[i].checksum);
        free(a->rows[i].applied_at);
    }
    free(a->rows);
    a->rows = NULL;
    a->n = 0;
}

static const applied_row *applied_find(const applied_set *a, int version)
{
    size_t i;

    for (i = 0; i < a->n; i++)
        if (a->rows[i].version == version)
            return &a->rows[i];
    return NULL;
}

static char *col_strdup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    return t ? strndup((const char *)t, (size_t)sqlite3_column_bytes(st, i)) : NULL;
}

/* Whether table `name` exists: 1, 0, or <0 (db_fail). */
static int table_exists(grove_db *db, const char *name, grove_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc, ret;

    if ((ret = db_stmt(db, SQL_TABLE_EXISTS, &st, err)) != 0)
        return ret;
    db_bind_text(st, 1, name);
    rc = db_step_first(db, st);
    if (rc == SQLITE_ROW)
        ret = sqlite3_column_int(st, 0) > 0;
    else
        ret = db_fail(db, rc, "cannot read the schema", err);
    db_stmt_release(db, st);
    return ret;
}

/* Reads grove_schema_migrations (absent table: nothing applied). Reads only. */
static int applied_load(grove_db *db, applied_set *out, grove_err *err)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    int rc, ret;

    out->rows = NULL;
    out->n = 0;
    ret = table_exists(db, "grove_schema_migrations", err);
    if (ret <= 0)
        return ret;
    if ((ret = db_stmt(db, SQL_APPLIED, &st, err)) != 0)
        return ret;
    for (rc = db_step_first(db, st); rc == SQLITE_ROW; rc = sqlite3_step(st)) {
        applied_row *r;

        if (out->n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            applied_row *rows = realloc(out->rows, ncap * sizeof(*rows));

            if (!rows) {
                ret = grove_nomem(err);
                goto done;
            }
            out->rows = rows;
            cap = ncap;
        }
        r = &out->rows[out->n++];
        r->version = sqlite3_column_int(st, 0);
        r->name = col_strdup(st, 1);
        r->checksum = col_strdup(st, 2);
        r->applied_at = col_strdup(st, 3);
    }
    if (rc != SQLITE_DONE)
        ret = db_fail(db, rc, "cannot read applied migrations", err);
done:
    db_stmt_release(db, st);
    if (ret != 0)
        applied_free(out);
    return ret;
}

/* Checks applied rows against the embedded migrations. Reads nothing. */
static int applied_verify(const applied_set *a, grove_err *err)
{
    int latest = migrate_latest();
    size_t i;

    if (a->n > 0 && a->rows[a->n - 1].version > latest)
        return grove_fail(err, GROVE_ESCHEMA,
                          "database schema version %d is newer than this grove (knows up to "
                          "%d); upgrade grove",
                          a->rows[a->n - 1].version, latest);
    for (i = 0; i < a->n; i++) {
        const applied_row *r = &a->rows[i];
        migration m;
        int found = migration_find(r->version, &m, err);

        if (found < 0)
            return -1;
        if (!found)
            return grove_fail(err, GROVE_ESCHEMA,
                              "database has migration %d '%s' that this grove does not know; "
                              "upgrade grove",
                              r->version, r->name ? r->name : "?");
        if (!r->checksum || strcmp(r->checksum, m.checksum) != 0)
            return grove_fail(err, GROVE_ESCHEMA,
                              "migration %d '%s' was edited after it was applied: checksum "
                              "differs",
                              m.version, m.name);
    }
    return 0;
}

int migrate_verify(grove_db *db, grove_err *err)
{
    applied_set a;
    int ret;

    if (applied_load(db, &a, err) != 0)
        return -1;
    ret = applied_verify(&a, err);
    applied_free(&a);
    return ret;
}

/* ---- one step, in a transaction ----------------------------------------- */

typedef struct step_arg {
    const migration *m;
    int up;
} step_arg;

/* db_txn body: applies (or rolls back) one migration unless already done. */
static int step_fn(grove_db *db, void *arg, grove_err *err)
{
    const step_arg *s = arg;
    sqlite3_stmt *st = NULL;
    applied_set a;
    char *sql = NULL;
    char what[192];
    int ret, rc, is_applied;

    /* Re-read inside the write lock: another process may have done it meanwhile. */
    if ((ret = applied_load(db, &a, err)) != 0)
        return ret;
    ret = applied_verify(&a, err);
    is_applied = applied_find(&a, s->m->version) != NULL;
    applied_free(&a);
    if (ret != 0 || is_applied == s->up)
        return ret;

    if ((ret = migration_part(s->m, s->up, &sql, err)) != 0)
        goto done;
    snprintf(what, sizeof(what), "migration %d '%s' failed (%s)", s->m->version, s->m->name,
             s->up ? "up" : "down");
    if (s->up) {
        if ((ret = db_exec(db, sql, what, err)) != 0)
            goto done;
        if ((ret = db_stmt(db, SQL_RECORD, &st, err)) != 0)
            goto done;
        sqlite3_bind_int(st, 1, s->m->version);
        db_bind_text(st, 2, s->m->name);
        db_bind_text(st, 3, s->m->checksum);
    } else {
        /* Unrecord first: the down part of the first migration drops the table. */
        if ((ret = db_stmt(db, SQL_UNRECORD, &st, err)) != 0)
            goto done;
        sqlite3_bind_int(st, 1, s->m->version);
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        ret = db_fail(db, rc, what, err);
        goto done;
    }
    db_stmt_release(db, st);
    st = NULL;
    if (!s->up)
        ret = db_exec(db, sql, what, err);
done:
    db_stmt_release(db, st);
    free(sql);
    return ret;
}

/* db_txn body: creates grove_issue_links beside beads' tables. */
static int beads_fn(grove_db *db, void *arg, grove_err *err)
{
    (void)arg;
    return db_exec(db, SQL_BEADS_LINKS, "cannot create 'grove_issue_links'", err);
}

/* Beads extension mode: beads' tables present, grove's schema applied, no links yet. */
static int beads_links(grove_db *db, grove_err *err)
{
    static const char *const need[] = {"issues", "dependencies", "labels", "grove_instances"};
    size_t i;
    int rc;

    for (i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
        rc = table_exists(db, need[i], err);
        if (rc <= 0)
            return rc < 0 ? -1 : 0;
    }
    rc = table_exists(db, "grove_issue_links", err);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    return db_txn(db, beads_fn, NULL, err);
}

int migrate_apply(grove_db *db, int to, grove_err *err)
{
    int latest = migrate_latest();
    applied_set a;
    size_t i;
    int ret = 0;

    if (to <= 0)
        to = latest;
    if (to > latest)
        return grove_fail(err, GROVE_EINVAL, "no migration %d: this grove knows up to %d", to,
                          latest);
    if (applied_load(db, &a, err) != 0)
        return -1;
    if (applied_verify(&a, err) != 0) {
        applied_free(&a);
        return -1;
    }
    for (i = 0; i < grove_migrations_count && ret == 0; i++) {
        migration m;
        step_arg s;

        if ((ret = migration_at(i, &m, err)) != 0 || m.version > to)
            break;
        if (applied_find(&a, m.version))
            continue;
        s.m = &m;
        s.up = 1;
        ret = db_txn(db, step_fn, &s, err);
    }
    applied_free(&a);
    if (ret == 0)
        ret = beads_links(db, err);
    return ret == 0 ? 0 : -1;
}

int migrate_rollback(grove_db *db, int to, grove_err *err)
{
    applied_set a;
    size_t i;
    int ret = 0;

    if (to < 0)
        return grove_fail(err, GROVE_EINVAL, "cannot roll back to version %d", to);
    if (applied_load(db, &a, err) != 0)
        return -1;
    if (applied_verify(&a, err) != 0) {
        applied_free(&a);
        return -1;
    }
    for (i = a.n; i > 0 && ret == 0; i--) {
        migration m;
        step_arg s;
        int found;

        if (a.rows[i - 1].version <= to)
            break;
        found = migration_find(a.rows[i - 1].version, &m, err);
        if (found <= 0) { /* cannot happen after verify */
            ret = found < 0 ? -1
                            : grove_fail(err, GROVE_ESCHEMA, "unknown migration %d",
                                         a.rows[i - 1].version);
            break;
        }
        s.m = &m;
        s.up = 0;
        ret = db_txn(db, step_fn, &s, err);
    }
    applied_free(&a);
    return ret == 0 ? 0 : -1;
}

/* ---- status ------------------------------------------------------------- */

/* Copies of s (NULL stays NULL); *oom set when memory ran out. */
static char *dup_or_null(const char *s, int *oom)
{
    char *d = s ? strdup(s) : NULL;

    if (s && !d)
        *oom = 1;
    return d;
}

/* Appends the status of migration m (NULL: not known to this binary) applied as r (NULL: not). */
static int status_push(migrate_status_list *list, const migration *m, const applied_row *r)
{
    migrate_row *row = &list->v[list->n];
    int oom = 0;

    memset(row, 0, sizeof(*row));
    if (m && r)
        row->state = (r->checksum && strcmp(r->checksum, m->checksum) == 0) ? "applied" : "edited";
    else
        row->state = m ? "pending" : "unknown";
    row->version = m ? m->version : r->version;
    row->name = dup_or_null(m ? m->name : r->name, &oom);
    row->checksum = dup_or_null(m ? m->checksum : r->checksum, &oom);
    row->applied = r != NULL;
    row->applied_at = dup_or_null(r ? r->applied_at : NULL, &oom);
    if (m && r && strcmp(row->state, "edited") == 0)
        row->applied_checksum = dup_or_null(r->checksum, &oom);
    list->n++; /* freed with the list even when a copy failed */
    return oom ? -1 : 0;
}

void migrate_status_free(migrate_status_list *list)
{
    size_t i;

    for (i = 0; list->v && i < list->n; i++) {
        free(list->v[i].name);
        free(list->v[i].checksum);
        free(list->v[i].applied_at);
        free(list->v[i].applied_checksum);
    }
    free(list->v);
    memset(list, 0, sizeof(*list));
}

int migrate_status(grove_db *db, migrate_status_list *out, grove_err *err)
{
    applied_set a;
    size_t i = 0, j = 0;
    int ret = -1;

    memset(out, 0, sizeof(*out));
    if (applied_load(db, &a, err) != 0)
        return -1;
    if (!(out->v = calloc(grove_migrations_count + a.n + 1, sizeof(*out->v)))) {
        grove_nomem(err);
        goto done;
    }
    /* Merge the two version-ordered lists. */
    while (i < grove_migrations_count || j < a.n) {
        migration m;
        const applied_row *r = NULL;

        memset(&m, 0, sizeof(m));
        if (i < grove_migrations_count && migration_at(i, &m, err) != 0)
            goto done;
        if (i < grove_migrations_count && (j >= a.n || a.rows[j].version >= m.version)) {
            if (j < a.n && a.rows[j].version == m.version)
                r = &a.rows[j++];
            i++;
            if (status_push(out, &m, r) != 0)
                goto nomem;
        } else if (status_push(out, NULL, &a.rows[j++]) != 0) {
            goto nomem;
        }
    }
    ret = 0;
    goto done;
nomem:
    grove_nomem(err);
done:
    if (ret != 0)
        migrate_status_free(out);
    applied_free(&a);
    return ret;
}

int migrate_open(grove_db **out, const char *path, grove_err *err)
{
    grove_db *db = NULL;

    *out = NULL;
    if (db_open(&db, path, migrate_verify, err) != 0)
        return -1;
    if (migrate_apply(db, 0, err) != 0) {
        db_close(db);
        return -1;
    }
    *out = db;
    return 0;
}
