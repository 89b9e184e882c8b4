/*
 * beads: the statements behind db/beads.h. The objects that read beads'
 * tables are TEMP (sqlite_temp_master of grove's connection): beads never
 * sees them, so its own migrations, which rebuild `issues`, cannot break
 * on a dependent grove view or trigger.
 */
#include "db/beads.h"

#include <stdlib.h>
#include <string.h>

#include "db/db_internal.h"
#include "db/report.h"

static const char SQL_MODE[] =
    "SELECT count(*) FROM main.sqlite_master WHERE type = 'table' AND name IN ('issues',"
    " 'dependencies', 'labels', 'grove_issue_links', 'grove_instances')";
static const char SQL_ATTACHED[] = "SELECT count(*) FROM sqlite_temp_master WHERE type = 'trigger'"
                                   " AND name = 'grove_ready_claim_check'";

/* Links every new instance with a beads id to its issue: needs only issues.id. */
static const char SQL_ATTACH_LINK[] =
    "CREATE TEMP TRIGGER IF NOT EXISTS grove_issue_link\n"
    "  AFTER INSERT ON main.grove_instances\n"
    "  WHEN NEW.beads_id IS NOT NULL\n"
    "BEGIN\n"
    "  INSERT OR IGNORE INTO grove_issue_links (instance_id, issue_id)\n"
    "    SELECT NEW.id, b.id FROM main.issues b WHERE b.id = NEW.beads_id;\n"
    "END;\n";
/* The ready-work rule, the claim check and the issue-joined reports (db/beads.h). */
static const char SQL_ATTACH[] =
    "CREATE TEMP TABLE IF NOT EXISTS grove_ready_claim (issue_id TEXT PRIMARY KEY);\n"
    "CREATE TEMP VIEW IF NOT EXISTS grove_ready_issues AS\n"
    "  WITH RECURSIVE\n"
    "    blocked_directly (issue_id) AS (\n"
    "      SELECT d.issue_id FROM main.dependencies d\n"
    "        JOIN main.issues b ON b.id = d.depends_on_id\n"
    "       WHERE d.type = 'blocks' AND d.issue_id IS NOT NULL\n"
    "         AND b.status IN ('open', 'in_progress', 'blocked')),\n"
    "    blocked (issue_id, depth) AS (\n"
    "      SELECT issue_id, 0 FROM blocked_directly\n"
    "      UNION\n"
    "      SELECT d.issue_id, blocked.depth + 1 FROM blocked\n"
    "        JOIN main.dependencies d ON d.depends_on_id = blocked.issue_id\n"
    "       WHERE d.type = 'parent-child' AND d.issue_id IS NOT NULL AND blocked.depth < 50)\n"
    "  SELECT i.id AS id, i.title AS title, i.priority AS priority,\n"
    "         i.issue_type AS issue_type, i.created_at AS created_at\n"
    "    FROM main.issues i\n"
    "   WHERE i.status = 'open'\n"
    "     AND COALESCE(i.assignee, '') = ''\n"
    "     AND i.id NOT IN (SELECT issue_id FROM blocked)\n"
    "     AND NOT EXISTS (SELECT 1 FROM main.grove_issue_links l\n"
    "                       JOIN main.grove_instances g ON g.id = l.instance_id\n"
    "                      WHERE l.issue_id = i.id AND g.status = 'running')\n"
    "     AND NOT EXISTS (SELECT 1 FROM main.grove_instances g\n"
    "                      WHERE g.beads_id = i.id AND g.status = 'running')\n"
    "   ORDER BY i.priority, i.created_at, i.id;\n"
    "CREATE TEMP VIEW IF NOT EXISTS grove_instance_issues AS\n"
    "  SELECT g.id AS instance_id, g.type AS instance_type, g.status AS instance_status,\n"
    "         b.id AS issue_id, b.title AS title, b.status AS issue_status,\n"
    "         b.priority AS priority, b.issue_type AS issue_type\n"
    "    FROM main.grove_instances g JOIN main.issues b ON b.id = g.beads_id\n"
    "  UNION\n"
    "  SELECT g.id, g.type, g.status, b.id, b.title, b.status, b.priority, b.issue_type\n"
    "    FROM main.grove_issue_links l\n"
    "    JOIN main.grove_instances g ON g.id = l.instance_id\n"
    "    JOIN main.issues b ON b.id = l.issue_id;\n"
    "CREATE TEMP VIEW IF NOT EXISTS grove_issue_type_success_rate AS\n"
    "  SELECT x.issue_type AS issue_type, COUNT(*) AS calls, SUM(e.success) AS successes,\n"
    "         COUNT(*) - SUM(e.success) AS failures,\n"
    "         CAST(SUM(e.success) AS REAL) / COUNT(*) AS success_rate\n"
    "    FROM main.grove_mcp_events e\n"
    "    JOIN (SELECT DISTINCT instance_id, issue_type FROM temp.grove_instance_issues) x\n"
    "      ON x.instance_id = e.instance_id\n"
    "   GROUP BY x.issue_type ORDER BY x.issue_type;\n"
    "CREATE TEMP TRIGGER IF NOT EXISTS grove_ready_claim_check\n"
    "  BEFORE INSERT ON main.grove_instances\n"
    "  WHEN NEW.beads_id IS NOT NULL\n"
    "   AND NEW.beads_id IN (SELECT issue_id FROM temp.grove_ready_claim)\n"
    "BEGIN\n"
    "  SELECT RAISE(ABORT, 'the beads issue is no longer ready: another instance claimed it')\n"
    "   WHERE NOT EXISTS (SELECT 1 FROM temp.grove_ready_issues WHERE id = NEW.beads_id);\n"
    "END;\n";
static const char SQL_DETACH[] = "DROP TRIGGER IF EXISTS temp.grove_ready_claim_check;\n"
                                 "DROP VIEW IF EXISTS temp.grove_issue_type_success_rate;\n"
                                 "DROP VIEW IF EXISTS temp.grove_instance_issues;\n"
                                 "DROP VIEW IF EXISTS temp.grove_ready_issues;\n"
                                 "DROP TABLE IF EXISTS temp.grove_ready_claim;\n";
/* Resolves every column the TEMP objects use (a view is only checked when read). */
static const char SQL_PROBE[] =
    "SELECT (SELECT count(*) FROM (SELECT * FROM temp.grove_ready_issues LIMIT 0)),"
    " (SELECT count(*) FROM (SELECT * FROM temp.grove_issue_type_success_rate LIMIT 0))";

static const char SQL_ORPHANS[] =
    "SELECT l.instance_id AS instance_id, l.issue_id AS issue_id, f.parent AS missing"
    " FROM pragma_foreign_key_check('grove_issue_links') f"
    " JOIN main.grove_issue_links l ON l.rowid = f.rowid ORDER BY l.instance_id, l.issue_id";
static const char SQL_NEXT_READY[] = "SELECT id FROM temp.grove_ready_issues LIMIT 1";
static const char SQL_IS_READY[] = "SELECT count(*) FROM temp.grove_ready_issues WHERE id = ?1";
static const char SQL_CLAIM_CLEAR[] = "DELETE FROM temp.grove_ready_claim";
static const char SQL_CLAIM_SET[] = "INSERT INTO temp.grove_ready_claim (issue_id) VALUES (?1)";

static const char SQL_ST_READY_COUNT[] = "SELECT count(*) FROM temp.grove_ready_issues";
static const char SQL_ST_READY[] =
    "SELECT id, title, priority, issue_type FROM temp.grove_ready_issues LIMIT 5";
static const char SQL_ST_LINKED[] = "SELECT count(*) FROM main.grove_issue_links";
static const char SQL_ST_BY_TYPE[] = "SELECT * FROM temp.grove_issue_type_success_rate";

/* The first column of a one-row statement as an integer; ?1 = param (may be NULL). */
static int count_of(grove_db *db, const char *sql, const char *param, long long *out,
                    grove_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc, ret = 0;

    *out = 0;
    if (db_stmt(db, sql, &st, err) != 0)
        return -1;
    if (param)
        db_bind_text(st, 1, param);
    rc = db_step_first(db, st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else if (rc != SQLITE_DONE)
        ret = db_fail(db, rc, "cannot read beads' tables", err);
    db_stmt_release(db, st);
    return ret == 0 ? 0 : -1;
}

int db_beads_mode(grove_db *db, grove_err *err)
{
    long long n;

    if (count_of(db, SQL_MODE, NULL, &n, err) != 0)
        return -1;
    return n == 5;
}

int db_beads_attached(grove_db *db)
{
    grove_err ignored = GROVE_ERR_INIT;
    long long n = 0;

    return count_of(db, SQL_ATTACHED, NULL, &n, &ignored) == 0 && n > 0;
}

int db_beads_attach(grove_db *db, grove_err *err)
{
    grove_err ignored = GROVE_ERR_INIT;
    sqlite3_stmt *st = NULL;
    int rc;

    if (db_exec(db, SQL_ATTACH_LINK, "cannot create the beads link trigger", err) != 0)
        return -1;
    if (db_exec(db, SQL_ATTACH, "cannot create the beads views", err) != 0)
        goto fail;
    /* Prepared privately: a failing probe must not stay in the statement cache. */
    rc = sqlite3_prepare_v2(db_sqlite(db), SQL_PROBE, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        rc = rc == SQLITE_ROW ? SQLITE_OK : rc;
    }
    if (rc != SQLITE_OK) {
        grove_fail(err, GROVE_ESCHEMA,
                   "beads' tables do not have the columns grove reads (issues: id, title, status, "
                   "priority, issue_type, assignee, created_at; dependencies: issue_id, "
                   "depends_on_id, type): %s",
                   sqlite3_errmsg(db_sqlite(db)));
        sqlite3_finalize(st);
        goto fail;
    }
    sqlite3_finalize(st);
    return 0;
fail:
    db_exec(db, SQL_DETACH, "cannot drop the beads views", &ignored);
    return -1;
}

void db_beads_orphan_list_free(grove_beads_orphan_list *list)
{
    size_t i;

    if (!list)
        return;
    for (i = 0; i < list->n; i++) {
        free(list->v[i].instance_id);
        free(list->v[i].issue_id);
        free(list->v[i].missing);
    }
    free(list->v);
    memset(list, 0, sizeof(*list));
}

/* Column i as a malloc'd string (NULL when SQL NULL); *oom set on failure. */
static char *col_dup(sqlite3_stmt *st, int i, int *oom)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    char *s;

    if (!t)
        return NULL;
    if (!(s = strndup(t, (size_t)sqlite3_column_bytes(st, i))))
        *oom = 1;
    return s;
}

int db_beads_orphans(grove_db *db, grove_beads_orphan_list *out, grove_err *err)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    int rc, ret = 0;

    memset(out, 0, sizeof(*out));
    if (db_stmt(db, SQL_ORPHANS, &st, err) != 0)
        return -1;
    for (rc = db_step_first(db, st); rc == SQLITE_ROW && ret == 0; rc = sqlite3_step(st)) {
        grove_beads_orphan *o;
        int oom = 0;

        if (out->n == cap) {
            size_t c = cap ? cap * 2 : 8;
            grove_beads_orphan *d = realloc(out->v, c * sizeof(*d));

            if (!d) {
                ret = grove_nomem(err);
                break;
            }
            out->v = d;
            cap = c;
        }
        o = &out->v[out->n++];
        o->instance_id = col_dup(st, 0, &oom);
        o->issue_id = col_dup(st, 1, &oom);
        o->missing = col_dup(st, 2, &oom);
        if (oom)
            ret = grove_nomem(err);
    }
    if (ret == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
        ret = db_fail(db, rc, "cannot check grove_issue_links", err);
    db_stmt_release(db, st);
    if (ret != 0)
        db_beads_orphan_list_free(out);
    return ret == 0 ? 0 : -1;
}

int db_beads_next_ready(grove_db *db, char **out, grove_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc, ret = 0;

    *out = NULL;
    if (db_stmt(db, SQL_NEXT_READY, &st, err) != 0)
        return -1;
    rc = db_step_first(db, st);
    if (rc == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);

        if (t && !(*out = strdup(t)))
            ret = grove_nomem(err);
    } else if (rc != SQLITE_DONE) {
        ret = db_fail(db, rc, "cannot read the ready beads issues", err);
    }
    db_stmt_release(db, st);
    return ret == 0 ? 0 : -1;
}

int db_beads_is_ready(grove_db *db, const char *id, grove_err *err)
{
    long long n;

    if (count_of(db, SQL_IS_READY, id, &n, err) != 0)
        return -1;
    return n > 0;
}

int db_beads_claim(grove_db *db, const char *id, grove_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc, ret = 0;

    if (db_stmt(db, SQL_CLAIM_CLEAR, &st, err) != 0)
        return -1;
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        ret = db_fail(db, rc, "cannot clear the claim", err);
    db_stmt_release(db, st);
    if (ret != 0 || !id)
        return ret == 0 ? 0 : -1;
    if (db_stmt(db, SQL_CLAIM_SET, &st, err) != 0)
        return -1;
    db_bind_text(st, 1, id);
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        ret = db_fail(db, rc, "cannot record the claim", err);
    db_stmt_release(db, st);
    return ret == 0 ? 0 : -1;
}

void db_beads_stats_free(db_beads_stats_report *r)
{
    json_decref(r->next_ready);
    json_decref(r->orphans);
    json_decref(r->by_type);
    memset(r, 0, sizeof(*r));
}

int db_beads_stats(grove_db *db, db_beads_stats_report *out, grove_err *err)
{
    memset(out, 0, sizeof(*out));
    if (count_of(db, SQL_ST_READY_COUNT, NULL, &out->ready, err) != 0 ||
        count_of(db, SQL_ST_LINKED, NULL, &out->linked, err) != 0 ||
        db_report_rows(db, SQL_ST_READY, NULL, 0, &out->next_ready, err) != 0 ||
        db_report_rows(db, SQL_ORPHANS, NULL, 0, &out->orphans, err) != 0 ||
        db_report_rows(db, SQL_ST_BY_TYPE, NULL, 0, &out->by_type, err) != 0) {
        db_beads_stats_free(out);
        return -1;
    }
    return 0;
}
