/*
 * report: the statements behind db/report.h (`grove stats`, `grove export`,
 * `grove import`). Every statement is a static string (the statement
 * cache's key) with bound parameters.
 *
 * Export lets SQLite write each JSONL line (json_object(), JSON columns
 * through json()), and import reads each line back with the JSON operators
 * (->> for plain columns, -> for JSON columns), so values keep their SQL
 * types and JSON text is never re-encoded by another library: export →
 * import → export gives identical bytes.
 */
#include "db/report.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_internal.h"

/* ---- exported tables ---------------------------------------------------- */

/* Per table: the JSON object of a row, its cells, and the import statement. */

#define INSTANCES_JSON                                                                             \
    "json_object('id', id, 'type', type, 'status', status, 'worktree_path', worktree_path,"        \
    " 'branch_name', branch_name, 'base_branch', base_branch, 'base_commit', base_commit,"         \
    " 'tmux_session', tmux_session, 'agent_pid', agent_pid, 'issue_number', issue_number,"         \
    " 'beads_id', beads_id, 'pr_number', pr_number, 'pr_url', pr_url, 'prompt', prompt,"           \
    " 'agent_number', agent_number, 'created_at', created_at, 'terminated_at', terminated_at,"     \
    " 'metadata', json(metadata), 'landed_commit', landed_commit, 'landed_at', landed_at,"         \
    " 'agent_profile', agent_profile, 'agent_state', agent_state, 'agent_state_since',"            \
    " agent_state_since, 'agent_session_id', agent_session_id)"
#define INSTANCES_CELLS                                                                            \
    "id, type, status, worktree_path, branch_name, base_branch, base_commit, tmux_session,"        \
    " agent_pid, issue_number, beads_id, pr_number, pr_url, prompt, agent_number, created_at,"     \
    " terminated_at, json(metadata), landed_commit, landed_at, agent_profile, agent_state,"        \
    " agent_state_since, agent_session_id"
#define INSTANCES_KEYS                                                                             \
    "'id', 'type', 'status', 'worktree_path', 'branch_name', 'base_branch', 'base_commit',"        \
    " 'tmux_session', 'agent_pid', 'issue_number', 'beads_id', 'pr_number', 'pr_url', 'prompt',"   \
    " 'agent_number', 'created_at', 'terminated_at', 'metadata', 'landed_commit', 'landed_at',"    \
    " 'agent_profile', 'agent_state', 'agent_state_since', 'agent_session_id'"
static const char *const INSTANCES_COLUMNS[] = {"id",
                                                "type",
                                                "status",
                                                "worktree_path",
                                                "branch_name",
                                                "base_branch",
                                                "base_commit",
                                                "tmux_session",
                                                "agent_pid",
                                                "issue_number",
                                                "beads_id",
                                                "pr_number",
                                                "pr_url",
                                                "prompt",
                                                "agent_number",
                                                "created_at",
                                                "terminated_at",
                                                "metadata",
                                                "landed_commit",
                                                "landed_at",
                                                "agent_profile",
                                                "agent_state",
                                                "agent_state_since",
                                                "agent_session_id",
                                                NULL};

#define RELATIONSHIPS_JSON                                                                         \
    "json_object('id', id, 'parent_instance', parent_instance, 'child_instance',"                  \
    " child_instance, 'relationship_type', relationship_type, 'created_at', created_at)"
#define RELATIONSHIPS_CELLS "id, parent_instance, child_instance, relationship_type, created_at"
#define RELATIONSHIPS_KEYS                                                                         \
    "'id', 'parent_instance', 'child_instance', 'relationship_type', 'created_at'"
static const char *const RELATIONSHIPS_COLUMNS[] = {
    "id", "parent_instance", "child_instance", "relationship_type", "created_at", NULL};

/*
 * duration_ms as text that reads back as exactly the same double: 15
 * significant digits when they suffice (checked through the JSON parser
 * that import uses), else 17. SQLite's own REAL to text keeps only 15.
 */
#define DURATION_TEXT                                                                              \
    "(CASE WHEN duration_ms IS NULL THEN NULL"                                                     \
    " WHEN json(printf('%.15g', duration_ms)) ->> '$' = duration_ms"                               \
    " THEN printf('%.15g', duration_ms) ELSE printf('%!.17g', duration_ms) END)"
#define EVENTS_JSON                                                                                \
    "json_object('id', id, 'instance_id', instance_id, 'tool_name', tool_name, 'success',"         \
    " success, 'error_message', error_message, 'metadata', json(metadata), 'duration_ms',"         \
    " json(" DURATION_TEXT "), 'timestamp', timestamp)"
#define EVENTS_CELLS                                                                               \
    "id, instance_id, tool_name, success, error_message, json(metadata), " DURATION_TEXT           \
    ", timestamp"
#define EVENTS_KEYS                                                                                \
    "'id', 'instance_id', 'tool_name', 'success', 'error_message', 'metadata', 'duration_ms',"     \
    " 'timestamp'"
static const char *const EVENTS_COLUMNS[] = {"id",          "instance_id",   "tool_name",
                                             "success",     "error_message", "metadata",
                                             "duration_ms", "timestamp",     NULL};

#define CHECKPOINTS_JSON                                                                           \
    "json_object('id', id, 'instance_id', instance_id, 'phase', phase, 'name', name, 'status',"    \
    " status, 'data', json(data), 'message', message, 'commit_sha', commit_sha, 'sequence',"       \
    " sequence, 'created_at', created_at)"
#define CHECKPOINTS_CELLS                                                                          \
    "id, instance_id, phase, name, status, json(data), message, commit_sha, sequence, created_at"
#define CHECKPOINTS_KEYS                                                                           \
    "'id', 'instance_id', 'phase', 'name', 'status', 'data', 'message', 'commit_sha',"             \
    " 'sequence', 'created_at'"
static const char *const CHECKPOINTS_COLUMNS[] = {
    "id",      "instance_id", "phase",    "name",       "status", "data",
    "message", "commit_sha",  "sequence", "created_at", NULL};

#define FEEDBACK_JSON                                                                              \
    "json_object('id', id, 'from_instance', from_instance, 'to_instance', to_instance,"            \
    " 'feedback_type', feedback_type, 'priority', priority, 'feedback', feedback, 'delivered',"    \
    " delivered, 'created_at', created_at)"
#define FEEDBACK_CELLS                                                                             \
    "id, from_instance, to_instance, feedback_type, priority, feedback, delivered, created_at"
#define FEEDBACK_KEYS                                                                              \
    "'id', 'from_instance', 'to_instance', 'feedback_type', 'priority', 'feedback', 'delivered',"  \
    " 'created_at'"
static const char *const FEEDBACK_COLUMNS[] = {
    "id",        "from_instance", "to_instance", "feedback_type", "priority", "feedback",
    "delivered", "created_at",    NULL};

#define ISSUES_JSON                                                                                \
    "json_object('repo', repo, 'number', number, 'title', title, 'body', body, 'state', state,"    \
    " 'html_url', html_url, 'labels', json(labels), 'fetched_at', fetched_at)"
#define ISSUES_CELLS "repo, number, title, body, state, html_url, json(labels), fetched_at"
#define ISSUES_KEYS  "'repo', 'number', 'title', 'body', 'state', 'html_url', 'labels', 'fetched_at'"
static const char *const ISSUES_COLUMNS[] = {"repo",     "number", "title",      "body", "state",
                                             "html_url", "labels", "fetched_at", NULL};

/*
 * Instances exported with a `since` (?1): alive since then, or referred to
 * by an exported relationship, checkpoint or feedback row.
 */
#define INSTANCES_SINCE                                                                            \
    " WHERE i.created_at >= ?1 OR i.terminated_at IS NULL OR i.terminated_at >= ?1"                \
    " OR EXISTS (SELECT 1 FROM grove_instance_relationships r WHERE r.created_at >= ?1"            \
    " AND (r.parent_instance = i.id OR r.child_instance = i.id))"                                  \
    " OR EXISTS (SELECT 1 FROM grove_checkpoints c WHERE c.instance_id = i.id"                     \
    " AND c.created_at >= ?1)"                                                                     \
    " OR EXISTS (SELECT 1 FROM grove_feedback f WHERE f.created_at >= ?1"                          \
    " AND (f.from_instance = i.id OR f.to_instance = i.id))"

static const char SQL_EXPORT_INSTANCES[] =
    "SELECT " INSTANCES_JSON ", " INSTANCES_CELLS " FROM grove_instances i"
    " ORDER BY created_at, id";
static const char SQL_EXPORT_INSTANCES_SINCE[] =
    "SELECT " INSTANCES_JSON ", " INSTANCES_CELLS " FROM grove_instances i" INSTANCES_SINCE
    " ORDER BY created_at, id";
static const char SQL_EXPORT_RELATIONSHIPS[] =
    "SELECT " RELATIONSHIPS_JSON ", " RELATIONSHIPS_CELLS " FROM grove_instance_relationships"
    " ORDER BY id";
static const char SQL_EXPORT_RELATIONSHIPS_SINCE[] =
    "SELECT " RELATIONSHIPS_JSON ", " RELATIONSHIPS_CELLS " FROM grove_instance_relationships"
    " WHERE created_at >= ?1 ORDER BY id";
static const char SQL_EXPORT_EVENTS[] =
    "SELECT " EVENTS_JSON ", " EVENTS_CELLS " FROM grove_mcp_events ORDER BY id";
static const char SQL_EXPORT_EVENTS_SINCE[] =
    "SELECT " EVENTS_JSON ", " EVENTS_CELLS " FROM grove_mcp_events WHERE timestamp >= ?1"
    " ORDER BY id";
static const char SQL_EXPORT_CHECKPOINTS[] =
    "SELECT " CHECKPOINTS_JSON ", " CHECKPOINTS_CELLS " FROM grove_checkpoints ORDER BY id";
static const char SQL_EXPORT_CHECKPOINTS_SINCE[] =
    "SELECT " CHECKPOINTS_JSON ", " CHECKPOINTS_CELLS " FROM grove_checkpoints"
    " WHERE created_at >= ?1 ORDER BY id";
static const char SQL_EXPORT_FEEDBACK[] =
    "SELECT " FEEDBACK_JSON ", " FEEDBACK_CELLS " FROM grove_feedback ORDER BY id";
static const char SQL_EXPORT_FEEDBACK_SINCE[] =
    "SELECT " FEEDBACK_JSON ", " FEEDBACK_CELLS " FROM grove_feedback WHERE created_at >= ?1"
    " ORDER BY id";
static const char SQL_EXPORT_ISSUES[] =
    "SELECT " ISSUES_JSON ", " ISSUES_CELLS " FROM grove_github_issues ORDER BY repo, number";
static const char SQL_EXPORT_ISSUES_SINCE[] =
    "SELECT " ISSUES_JSON ", " ISSUES_CELLS " FROM grove_github_issues"
    " WHERE fetched_at >= ?1 ORDER BY repo, number";

/* Import: ?1 is one JSONL line. JSON null in a JSON column is SQL NULL. */
#define JCOL(c) "CASE json_type(?1, '$." c "') WHEN 'null' THEN NULL ELSE ?1 -> '$." c "' END"

static const char SQL_IMPORT_INSTANCES[] =
    "INSERT INTO grove_instances (id, type, status, worktree_path, branch_name, base_branch,"
    " base_commit, tmux_session, agent_pid, issue_number, beads_id, pr_number, pr_url, prompt,"
    " agent_number, created_at, terminated_at, metadata, landed_commit, landed_at,"
    " agent_profile, agent_state, agent_state_since, agent_session_id)"
    " VALUES (?1 ->> '$.id',"
    " ?1 ->> '$.type', ?1 ->> '$.status', ?1 ->> '$.worktree_path', ?1 ->> '$.branch_name',"
    " ?1 ->> '$.base_branch', ?1 ->> '$.base_commit', ?1 ->> '$.tmux_session',"
    " ?1 ->> '$.agent_pid', ?1 ->> '$.issue_number', ?1 ->> '$.beads_id',"
    " ?1 ->> '$.pr_number', ?1 ->> '$.pr_url', ?1 ->> '$.prompt', ?1 ->> '$.agent_number',"
    " ?1 ->> '$.created_at', ?1 ->> '$.terminated_at', " JCOL(
        "metadata") ","
                    " ?1 ->> '$.landed_commit', ?1 ->> '$.landed_at', ?1 ->> '$.agent_profile',"
                    " COALESCE(?1 ->> '$.agent_state', 'none'), ?1 ->> '$.agent_state_since',"
                    " ?1 ->> '$.agent_session_id')";
static const char SQL_IMPORT_RELATIONSHIPS[] =
    "INSERT INTO grove_instance_relationships (id, parent_instance, child_instance,"
    " relationship_type, created_at) VALUES (?1 ->> '$.id', ?1 ->> '$.parent_instance',"
    " ?1 ->> '$.child_instance', ?1 ->> '$.relationship_type', ?1 ->> '$.created_at')";
static const char SQL_IMPORT_EVENTS[] =
    "INSERT INTO grove_mcp_events (id, instance_id, tool_name, success, error_message,"
    " metadata, duration_ms, timestamp) VALUES (?1 ->> '$.id', ?1 ->> '$.instance_id',"
    " ?1 ->> '$.tool_name', ?1 ->> '$.success', ?1 ->> '$.error_message', " JCOL(
        "metadata") ", ?1 ->> '$.duration_ms', ?1 ->> '$.timestamp')";
static const char SQL_IMPORT_CHECKPOINTS[] =
    "INSERT INTO grove_checkpoints (id, instance_id, phase, name, status, data, message,"
    " commit_sha, sequence, created_at) VALUES (?1 ->> '$.id', ?1 ->> '$.instance_id',"
    " ?1 ->> '$.phase', ?1 ->> '$.name', ?1 ->> '$.status', " JCOL(
        "data") ", ?1 ->> '$.message', ?1 ->> '$.commit_sha', ?1 ->> '$.sequence', ?1 ->> "
                "'$.created_at')";
static const char SQL_IMPORT_FEEDBACK[] =
    "INSERT INTO grove_feedback (id, from_instance, to_instance, feedback_type, priority,"
    " feedback, delivered, created_at) VALUES (?1 ->> '$.id', ?1 ->> '$.from_instance',"
    " ?1 ->> '$.to_instance', ?1 ->> '$.feedback_type', ?1 ->> '$.priority',"
    " ?1 ->> '$.feedback', ?1 ->> '$.delivered', ?1 ->> '$.created_at')";
static const char SQL_IMPORT_ISSUES[] =
    "INSERT INTO grove_github_issues (repo, number, title, body, state, html_url, labels,"
    " fetched_at) VALUES (?1 ->> '$.repo', ?1 ->> '$.number', ?1 ->> '$.title',"
    " ?1 ->> '$.body', ?1 ->> '$.state', ?1 ->> '$.html_url', " JCOL(
        "labels") ", ?1 ->> '$.fetched_at')";

/* Import checks: total keys, distinct keys, known keys, and the unknown ones. */
#define KEYS_CHECK(list)                                                                           \
    "SELECT count(*), count(DISTINCT key), total(key IN (" list ")),"                              \
    " group_concat(CASE WHEN key NOT IN (" list ") THEN key END, ', ') FROM json_each(?1)"
/*
 * The columns of migrations 0006 (landed_commit, landed_at) and 0007
 * (agent_profile, agent_state, agent_state_since, agent_session_id) may be
 * absent from an instance line: exports made before them still import (as
 * NULL; agent_state as 'none'). The third column counts every other known
 * key, plus 6 for those.
 */
#define INSTANCES_OPTIONAL                                                                         \
    "'landed_commit', 'landed_at', 'agent_profile', 'agent_state', 'agent_state_since',"           \
    " 'agent_session_id'"
static const char SQL_KEYS_INSTANCES[] =
    "SELECT count(*), count(DISTINCT key), total(key IN (" INSTANCES_KEYS "))"
    " + 6 - total(key IN (" INSTANCES_OPTIONAL ")),"
    " group_concat(CASE WHEN key NOT IN (" INSTANCES_KEYS
    ") THEN key END, ', ') FROM json_each(?1)";
static const char SQL_KEYS_RELATIONSHIPS[] = KEYS_CHECK(RELATIONSHIPS_KEYS);
static const char SQL_KEYS_EVENTS[] = KEYS_CHECK(EVENTS_KEYS);
static const char SQL_KEYS_CHECKPOINTS[] = KEYS_CHECK(CHECKPOINTS_KEYS);
static const char SQL_KEYS_FEEDBACK[] = KEYS_CHECK(FEEDBACK_KEYS);
static const char SQL_KEYS_ISSUES[] = KEYS_CHECK(ISSUES_KEYS);
static const char SQL_IS_OBJECT[] =
    "SELECT CASE WHEN json_valid(?1) THEN json_type(?1) = 'object' ELSE 0 END";

static const char SQL_ROW_COUNT[] =
    "SELECT (SELECT count(*) FROM grove_instances) + (SELECT count(*) FROM"
    " grove_instance_relationships) + (SELECT count(*) FROM grove_mcp_events) +"
    " (SELECT count(*) FROM grove_checkpoints) + (SELECT count(*) FROM grove_feedback) +"
    " (SELECT count(*) FROM grove_github_issues)";

typedef struct table_sql {
    const char *all;
    const char *since;
    const char *keys;
    const char *insert;
} table_sql;

#define NCOLS(a) (sizeof(a) / sizeof((a)[0]) - 1)

static const db_export_table TABLES[] = {
    {"grove_instances", "grove-instances", INSTANCES_COLUMNS, NCOLS(INSTANCES_COLUMNS)},
    {"grove_instance_relationships", "grove-instance-relationships", RELATIONSHIPS_COLUMNS,
     NCOLS(RELATIONSHIPS_COLUMNS)},
    {"grove_mcp_events", "grove-mcp-events", EVENTS_COLUMNS, NCOLS(EVENTS_COLUMNS)},
    {"grove_checkpoints", "grove-checkpoints", CHECKPOINTS_COLUMNS, NCOLS(CHECKPOINTS_COLUMNS)},
    {"grove_feedback", "grove-feedback", FEEDBACK_COLUMNS, NCOLS(FEEDBACK_COLUMNS)},
    {"grove_github_issues", "grove-github-issues", ISSUES_COLUMNS, NCOLS(ISSUES_COLUMNS)},
};
#define NTABLES (sizeof(TABLES) / sizeof(TABLES[0]))

static const table_sql TABLE_SQL[NTABLES] = {
    {SQL_EXPORT_INSTANCES, SQL_EXPORT_INSTANCES_SINCE, SQL_KEYS_INSTANCES, SQL_IMPORT_INSTANCES},
    {SQL_EXPORT_RELATIONSHIPS, SQL_EXPORT_RELATIONSHIPS_SINCE, SQL_KEYS_RELATIONSHIPS,
     SQL_IMPORT_RELATIONSHIPS},
    {SQL_EXPORT_EVENTS, SQL_EXPORT_EVENTS_SINCE, SQL_KEYS_EVENTS, SQL_IMPORT_EVENTS},
    {SQL_EXPORT_CHECKPOINTS, SQL_EXPORT_CHECKPOINTS_SINCE, SQL_KEYS_CHECKPOINTS,
     SQL_IMPORT_CHECKPOINTS},
    {SQL_EXPORT_FEEDBACK, SQL_EXPORT_FEEDBACK_SINCE, SQL_KEYS_FEEDBACK, SQL_IMPORT_FEEDBACK},
    {SQL_EXPORT_ISSUES, SQL_EXPORT_ISSUES_SINCE, SQL_KEYS_ISSUES, SQL_IMPORT_ISSUES},
};

/* ---- stats -------------------------------------------------------------- */

static const char SQL_SINCE_DURATION[] = "SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?1)";
static const char SQL_SINCE_TIME[] = "SELECT strftime('%Y-%m-%dT%H:%M:%fZ', ?1)";

/* ?1: since or NULL (instances created since then). */
static const char SQL_ST_INSTANCES[] =
    "SELECT type, SUM(status = 'running') AS running, SUM(status = 'terminated') AS terminated,"
    " COUNT(*) AS total FROM grove_instances WHERE ?1 IS NULL OR created_at >= ?1"
    " GROUP BY type ORDER BY type";

static const char SQL_ST_TOOLS[] = "SELECT * FROM grove_tool_success_rate ORDER BY tool_name";
/*
 * The view's figures over the events of a time range (?1): one pass over the
 * range of grove_events_timestamp (named: without ANALYZE statistics SQLite
 * would rather read the whole tool_name index to save the sort), ranked per
 * tool by duration.
 */
static const char SQL_ST_TOOLS_SINCE[] =
    "SELECT tool_name, COUNT(*) AS calls, SUM(success) AS successes,"
    " COUNT(*) - SUM(success) AS failures, CAST(SUM(success) AS REAL) / COUNT(*) AS success_rate,"
    " AVG(duration_ms) AS avg_duration_ms,"
    " AVG(CASE WHEN rn IN ((n + 1) / 2, (n + 2) / 2) THEN duration_ms END) AS median_duration_ms,"
    " MAX(CASE WHEN rn = (n * 95 + 99) / 100 THEN duration_ms END) AS p95_duration_ms"
    " FROM (SELECT tool_name, success, duration_ms,"
    " ROW_NUMBER() OVER (PARTITION BY tool_name ORDER BY duration_ms) AS rn,"
    " COUNT(*) OVER (PARTITION BY tool_name) AS n"
    " FROM grove_mcp_events INDEXED BY grove_events_timestamp WHERE timestamp >= ?1)"
    " GROUP BY tool_name ORDER BY tool_name";

/* ?2: how many rows. */
static const char SQL_ST_FAILURES[] = "SELECT * FROM grove_recent_failures LIMIT ?2";
static const char SQL_ST_FAILURES_COUNT[] = "SELECT count(*) FROM grove_recent_failures";
static const char SQL_ST_FAILURES_SINCE[] =
    "SELECT e.id AS id, e.tool_name AS tool_name, e.instance_id AS instance_id,"
    " i.type AS instance_type, i.status AS instance_status, i.issue_number AS issue_number,"
    " i.beads_id AS beads_id, (SELECT g.title FROM grove_github_issues g"
    " WHERE g.number = i.issue_number ORDER BY g.fetched_at DESC LIMIT 1) AS issue_title,"
    " e.error_message AS error_message, e.duration_ms AS duration_ms, e.timestamp AS timestamp"
    " FROM grove_mcp_events e LEFT JOIN grove_instances i ON i.id = e.instance_id"
    " WHERE e.success = 0 AND e.timestamp >= ?1 ORDER BY e.timestamp DESC, e.id DESC LIMIT ?2";
static const char SQL_ST_FAILURES_SINCE_COUNT[] =
    "SELECT count(*) FROM grove_mcp_events WHERE success = 0 AND timestamp >= ?1";

static const char SQL_ST_STALE[] = "SELECT * FROM grove_stale_checkpoints";
static const char SQL_ST_STALE_HOURS[] =
    "SELECT COALESCE((SELECT CAST(value AS REAL) FROM grove_user_config"
    " WHERE key = 'stats.stale_after_hours' AND is_encrypted = 0 AND CAST(value AS REAL) > 0),"
    " 24)";

static const char SQL_ST_REVIEWS[] =
    "SELECT reviews, COUNT(*) AS work_instances FROM (SELECT (SELECT COUNT(*)"
    " FROM grove_instance_relationships r WHERE r.parent_instance = w.id"
    " AND r.relationship_type = 'spawned_review') AS reviews FROM grove_instances w"
    " WHERE w.type = 'work' AND (?1 IS NULL OR w.created_at >= ?1))"
    " GROUP BY reviews ORDER BY reviews";

static const char SQL_ST_PRS[] =
    "SELECT id, pr_number, pr_url FROM grove_instances WHERE pr_number IS NOT NULL"
    " AND (?1 IS NULL OR created_at >= ?1) ORDER BY created_at DESC, id DESC LIMIT ?2";
static const char SQL_ST_PRS_COUNT[] =
    "SELECT count(*) FROM grove_instances WHERE pr_number IS NOT NULL"
    " AND (?1 IS NULL OR created_at >= ?1)";

/* How many instances reached each phase (and completed it), most reached first. */
static const char SQL_ST_FUNNEL[] =
    "SELECT phase, COUNT(*) AS instances, SUM(completed) AS completed FROM"
    " (SELECT instance_id, phase, MIN(sequence) AS first_sequence,"
    " MAX(status = 'completed') AS completed FROM grove_checkpoints"
    " WHERE ?1 IS NULL OR created_at >= ?1 GROUP BY instance_id, phase)"
    " GROUP BY phase ORDER BY instances DESC, AVG(first_sequence), phase";

/* ---- helpers ------------------------------------------------------------ */

/* Column i as JSON by its SQL type (text with invalid UTF-8 sanitised). */
static json_t *col_json(sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        return json_integer((json_int_t)sqlite3_column_int64(st, i));
    case SQLITE_FLOAT:
        return json_real(sqlite3_column_double(st, i));
    case SQLITE_NULL:
        return json_null();
    default: {
        const char *t = (const char *)sqlite3_column_text(st, i);
        size_t n = (size_t)sqlite3_column_bytes(st, i);
        json_t *j;
        char *copy;

        if (!t)
            return json_null();
        if ((j = json_stringn(t, n)) != NULL)
            return j;
        if (!(copy = strndup(t, n)))
            return NULL;
        grove_utf8_sanitize(copy);
        j = json_string(copy);
        free(copy);
        return j;
    }
    }
}

/* Binds ?1 = since (text or NULL) and ?2 = limit when the statement has them. */
static int bind_since_limit(sqlite3_stmt *st, const char *since, int limit)
{
    int n = sqlite3_bind_parameter_count(st), rc = SQLITE_OK;

    if (n >= 1)
        rc = db_bind_text(st, 1, since);
    if (rc == SQLITE_OK && n >= 2)
        rc = sqlite3_bind_int(st, 2, limit);
    return rc;
}

/* Every row of `sql` as an array of objects keyed by column name. */
int db_report_rows(grove_db *db, const char *sql, const char *since, int limit, json_t **out,
                   grove_err *err)
{
    sqlite3_stmt *st = NULL;
    json_t *arr = json_array();
    int rc, ret = -1;

    *out = NULL;
    if (!arr)
        return grove_nomem(err);
    if (db_stmt(db, sql, &st, err) != 0)
        goto done;
    if (bind_since_limit(st, since, limit) != SQLITE_OK) {
        db_fail(db, SQLITE_ERROR, "cannot bind a parameter", err);
        goto done;
    }
    for (rc = db_step_first(db, st); rc == SQLITE_ROW; rc = sqlite3_step(st)) {
        json_t *o = json_object();
        int i, bad = !o;

        for (i = 0; !bad && i < sqlite3_column_count(st); i++)
            bad |= json_object_set_new(o, sqlite3_column_name(st, i), col_json(st, i));
        if (bad || json_array_append_new(arr, o) != 0) {
            if (bad)
                json_decref(o);
            grove_nomem(err);
            goto done;
        }
    }
    if (rc != SQLITE_DONE) {
        db_fail(db, rc, "cannot read the report", err);
        goto done;
    }
    *out = arr;
    arr = NULL;
    ret = 0;
done:
    db_stmt_release(db, st);
    json_decref(arr);
    return ret;
}

/* The first column of the first row of `sql` as a number (0 when no row). */
static int scalar(grove_db *db, const char *sql, const char *since, double *out, grove_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc, ret = 0;

    *out = 0;
    if (db_stmt(db, sql, &st, err) != 0)
        return -1;
    if (bind_since_limit(st, since, 0) != SQLITE_OK) {
        ret = db_fail(db, SQLITE_ERROR, "cannot bind a parameter", err);
    } else {
        rc = db_step_first(db, st);
        if (rc == SQLITE_ROW)
            *out = sqlite3_column_double(st, 0);
        else if (rc != SQLITE_DONE)
            ret = db_fail(db, rc, "cannot read the report", err);
    }
    db_stmt_release(db, st);
    return ret == 0 ? 0 : -1;
}

/* Runs a one-row statement with text parameter ?1; *out: its text (malloc'd) or NULL. */
static int text1(grove_db *db, const char *sql, const char *param, char **out, grove_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc, ret = 0;

    *out = NULL;
    if (db_stmt(db, sql, &st, err) != 0)
        return -1;
    db_bind_text(st, 1, param);
    rc = db_step_first(db, st);
    if (rc == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);

        if (t && !(*out = strdup(t)))
            ret = grove_nomem(err);
    } else if (rc != SQLITE_DONE) {
        ret = db_fail(db, rc, "cannot read the time", err);
    }
    db_stmt_release(db, st);
    return ret == 0 ? 0 : -1;
}

/*
 * Whether the fields of an ISO 8601 text that matched the pattern below are
 * in range: SQLite's date functions take "2026-02-30" or "T24:00" and roll
 * them over, so a typo would silently mean another time.
 */
static int iso_in_range(const char *t)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, zh = 0, zm = 0, leap, n = 0;
    const char *z;

    if (sscanf(t, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return 0;
    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > days[mo - 1] + (mo == 2 && leap))
        return 0;
    if (!t[10])
        return 1;
    if (sscanf(t + 10, "T%2d:%2d", &h, &mi) != 2 || h > 23 || mi > 59)
        return 0;
    if (t[16] == ':' && (sscanf(t + 17, "%2d", &s) != 1 || s > 59))
        return 0;
    z = strpbrk(t + 16, "+-");
    if (z && (sscanf(z + 1, "%2d:%2d", &zh, &zm) != 2 || zh > 23 || zm > 59))
        return 0;
    return 1;
}

int db_report_since(grove_db *db, const char *text, char **out, grove_err *err)
{
    static const char iso[] =
        "^[0-9]{4}-[0-9]{2}-[0-9]{2}"
        "(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?$";
    char modifier[64], *end = NULL;
    long long n;
    regex_t re;
    int valid = 0;

    *out = NULL;
    if (!text)
        return grove_fail(err, GROVE_EINVAL, "since is empty");
    n = strtoll(text, &end, 10);
    if (end && end != text && text[0] >= '0' && text[0] <= '9' && end[0] && !end[1] && n >= 0 &&
        n <= 100000000LL) {
        const char *unit = NULL;
        long long k = n;

        switch (*end) {
        case 's':
            unit = "seconds";
            break;
        case 'm':
            unit = "minutes";
            break;
        case 'h':
            unit = "hours";
            break;
        case 'd':
            unit = "days";
            break;
        case 'w':
            unit = "days";
            k = n * 7;
            break;
        default:
            break;
        }
        if (unit) {
            snprintf(modifier, sizeof(modifier), "-%lld %s", k, unit);
            if (text1(db, SQL_SINCE_DURATION, modifier, out, err) != 0)
                return -1;
            if (*out)
                return 0;
        }
    } else if (regcomp(&re, iso, REG_EXTENDED | REG_NOSUB) == 0) {
        valid = regexec(&re, text, 0, NULL, 0) == 0 && iso_in_range(text);
        regfree(&re);
        if (valid && text1(db, SQL_SINCE_TIME, text, out, err) != 0)
            return -1;
        if (*out)
            return 0;
    }
    return grove_fail(err, GROVE_EINVAL,
                      "invalid since '%s': expected a duration such as '30m', '24h', '7d', '2w' "
                      "or an ISO 8601 date or time such as '2026-11-22T03:00:00Z'",
                      text);
}

/* A read transaction around a report, so every part sees one snapshot. */
static int read_begin(grove_db *db, grove_err *err)
{
    return db_exec(db, "BEGIN", "cannot start reading", err) == 0 ? 0 : -1;
}

static void read_end(grove_db *db)
{
    grove_err ignored = GROVE_ERR_INIT;

    if (!sqlite3_get_autocommit(db_sqlite(db)))
        db_exec(db, "COMMIT", "cannot finish reading", &ignored);
}

static int stats_instances(grove_db *db, const char *since, db_stats_report *r, grove_err *err)
{
    json_t *row;
    size_t i;

    if (db_report_rows(db, SQL_ST_INSTANCES, since, 0, &r->by_type, err) != 0)
        return -1;
    json_array_foreach(r->by_type, i, row)
    {
        r->running += json_integer_value(json_object_get(row, "running"));
        r->terminated += json_integer_value(json_object_get(row, "terminated"));
    }
    return 0;
}

static int stats_reviews(grove_db *db, const char *since, db_stats_report *r, grove_err *err)
{
    json_t *row;
    size_t i;

    if (db_report_rows(db, SQL_ST_REVIEWS, since, 0, &r->reviews, err) != 0)
        return -1;
    json_array_foreach(r->reviews, i, row)
    {
        long long n = json_integer_value(json_object_get(row, "reviews"));
        long long w = json_integer_value(json_object_get(row, "work_instances"));

        r->review_works += w;
        r->review_count += n * w;
        if (w > 0 && n > r->review_max)
            r->review_max = n;
    }
    return 0;
}

void db_stats_free(db_stats_report *r)
{
    json_decref(r->by_type);
    json_decref(r->tools);
    json_decref(r->failures);
    json_decref(r->stale);
    json_decref(r->reviews);
    json_decref(r->prs);
    json_decref(r->funnel);
    memset(r, 0, sizeof(*r));
}

int db_stats(grove_db *db, const char *since, int failures_limit, db_stats_report *out,
             grove_err *err)
{
    double failures = 0, opened = 0;
    int ret = -1;

    memset(out, 0, sizeof(*out));
    out->stale_hours = 24;
    if (failures_limit <= 0)
        failures_limit = 20;
    if (read_begin(db, err) != 0)
        goto done;
    if (stats_instances(db, since, out, err) != 0 ||
        db_report_rows(db, since ? SQL_ST_TOOLS_SINCE : SQL_ST_TOOLS, since, 0, &out->tools, err) !=
            0 ||
        db_report_rows(db, since ? SQL_ST_FAILURES_SINCE : SQL_ST_FAILURES, since, failures_limit,
                       &out->failures, err) != 0 ||
        scalar(db, since ? SQL_ST_FAILURES_SINCE_COUNT : SQL_ST_FAILURES_COUNT, since, &failures,
               err) != 0 ||
        db_report_rows(db, SQL_ST_STALE, NULL, 0, &out->stale, err) != 0 ||
        scalar(db, SQL_ST_STALE_HOURS, NULL, &out->stale_hours, err) != 0 ||
        stats_reviews(db, since, out, err) != 0 ||
        db_report_rows(db, SQL_ST_PRS, since, failures_limit, &out->prs, err) != 0 ||
        scalar(db, SQL_ST_PRS_COUNT, since, &opened, err) != 0 ||
        db_report_rows(db, SQL_ST_FUNNEL, since, 0, &out->funnel, err) != 0)
        goto done;
    out->failures_total = (long long)failures;
    out->prs_opened = (long long)opened;
    ret = 0;
done:
    read_end(db);
    if (ret != 0)
        db_stats_free(out);
    return ret;
}

/* ---- export ------------------------------------------------------------- */

const db_export_table *db_export_tables(size_t *n)
{
    *n = NTABLES;
    return TABLES;
}

int db_export_row_count(grove_db *db, long long *out, grove_err *err)
{
    double n = 0;

    if (scalar(db, SQL_ROW_COUNT, NULL, &n, err) != 0)
        return -1;
    *out = (long long)n;
    return 0;
}

/* Streams one table through fn. */
static int export_table(grove_db *db, size_t t, const char *since, db_export_fn fn, void *arg,
                        grove_err *err)
{
    db_cell cells[32];
    sqlite3_stmt *st = NULL;
    size_t ncols = TABLES[t].ncolumns, c;
    char what[128];
    int rc, ret = -1;

    if (ncols > sizeof(cells) / sizeof(cells[0]))
        return grove_fail(err, GROVE_EINVAL, "table '%s' has too many columns", TABLES[t].table);
    if (db_stmt(db, since ? TABLE_SQL[t].since : TABLE_SQL[t].all, &st, err) != 0)
        return -1;
    if (since && db_bind_text(st, 1, since) != SQLITE_OK) {
        db_fail(db, SQLITE_ERROR, "cannot bind a parameter", err);
        goto done;
    }
    snprintf(what, sizeof(what), "cannot read '%s'", TABLES[t].table);
    for (rc = db_step_first(db, st); rc == SQLITE_ROW; rc = sqlite3_step(st)) {
        const char *line = (const char *)sqlite3_column_text(st, 0);

        for (c = 0; c < ncols; c++) {
            cells[c].text = (const char *)sqlite3_column_text(st, (int)c + 1);
            cells[c].len = (size_t)sqlite3_column_bytes(st, (int)c + 1);
        }
        if (!line) {
            grove_nomem(err);
            goto done;
        }
        if (fn(arg, t, line, (size_t)sqlite3_column_bytes(st, 0), cells, err) != 0)
            goto done;
    }
    if (rc != SQLITE_DONE) {
        db_fail(db, rc, what, err);
        goto done;
    }
    ret = 0;
done:
    db_stmt_release(db, st);
    return ret;
}

int db_export(grove_db *db, const char *since, db_export_fn fn, void *arg, grove_err *err)
{
    size_t t;
    int ret = 0;

    if (read_begin(db, err) != 0)
        return -1;
    for (t = 0; t < NTABLES && ret == 0; t++)
        ret = export_table(db, t, since, fn, arg, err);
    read_end(db);
    return ret;
}

/* ---- import ------------------------------------------------------------- */

typedef struct import_arg {
    db_import_next_fn next;
    db_import_rewind_fn rewind;
    void *arg;
    long long *rows;
} import_arg;

/* Fails with "<file>.jsonl line N: <msg>". */
static int line_fail(grove_err *err, size_t t, long long lineno, const char *msg)
{
    return grove_fail(err, GROVE_EINVAL, "%s.jsonl line %lld: %s", TABLES[t].file, lineno, msg);
}

/* Checks that a line is an object with exactly the table's columns. 0, -1, or DB_RETRY. */
static int import_check(grove_db *db, size_t t, const char *line, size_t len, long long lineno,
                        grove_err *err)
{
    sqlite3_stmt *st = NULL;
    char msg[512];
    int rc, ret = 0;

    if ((ret = db_stmt(db, SQL_IS_OBJECT, &st, err)) != 0)
        return ret;
    sqlite3_bind_text64(st, 1, line, len, SQLITE_STATIC, SQLITE_UTF8);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW)
        ret = db_fail(db, rc, "cannot check a line", err);
    else if (!sqlite3_column_int(st, 0))
        ret = line_fail(err, t, lineno, "not a JSON object");
    db_stmt_release(db, st);
    if (ret != 0)
        return ret;
    if ((ret = db_stmt(db, TABLE_SQL[t].keys, &st, err)) != 0)
        return ret;
    sqlite3_bind_text64(st, 1, line, len, SQLITE_STATIC, SQLITE_UTF8);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        ret = db_fail(db, rc, "cannot check a line", err);
    } else {
        long long total = sqlite3_column_int64(st, 0), distinct = sqlite3_column_int64(st, 1);
        long long known = (long long)sqlite3_column_double(st, 2);
        const char *unknown = (const char *)sqlite3_column_text(st, 3);
        long long want = (long long)TABLES[t].ncolumns;

        if (unknown) {
            snprintf(msg, sizeof(msg), "unknown column(s) %.300s for table '%s'", unknown,
                     TABLES[t].table);
            ret = line_fail(err, t, lineno, msg);
        } else if (distinct != total) {
            ret = line_fail(err, t, lineno, "a column is given twice");
        } else if (known != want) {
            snprintf(msg, sizeof(msg), "%lld of the %lld columns of '%s' are missing", want - known,
                     want, TABLES[t].table);
            ret = line_fail(err, t, lineno, msg);
        }
    }
    db_stmt_release(db, st);
    return ret;
}

static int import_line(grove_db *db, size_t t, const char *line, size_t len, long long lineno,
                       grove_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc, ret;

    if ((ret = import_check(db, t, line, len, lineno, err)) != 0)
        return ret;
    if ((ret = db_stmt(db, TABLE_SQL[t].insert, &st, err)) != 0)
        return ret;
    sqlite3_bind_text64(st, 1, line, len, SQLITE_STATIC, SQLITE_UTF8);
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        ret = db_fail(db, rc, "insert", err);
        if (ret != DB_RETRY) {
            char msg[sizeof(err->msg)];

            snprintf(msg, sizeof(msg), "cannot insert into '%s': %s", TABLES[t].table,
                     sqlite3_errmsg(db_sqlite(db)));
            ret = line_fail(err, t, lineno, msg);
        }
    }
    db_stmt_release(db, st);
    return ret;
}

/* db_txn body of db_import(). */
static int import_fn(grove_db *db, void *arg, grove_err *err)
{
    import_arg *a = arg;
    long long existing = 0;
    size_t t;
    int ret;

    if (a->rewind(a->arg, err) != 0)
        return -1;
    if ((ret = db_export_row_count(db, &existing, err)) != 0)
        return ret;
    if (existing > 0)
        return grove_fail(err, GROVE_ECONFLICT,
                          "the database '%s' is not empty (%lld rows in grove's tables); import "
                          "only into a new database (--db NEW_FILE)",
                          db_path(db), existing);
    for (t = 0; t < NTABLES; t++) {
        const char *line;
        size_t len;
        long long lineno = 0;

        if (a->rows)
            a->rows[t] = 0;
        while ((ret = a->next(a->arg, t, &line, &len, &lineno, err)) == 1) {
            size_t k;

            for (k = 0; k < len && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r'); k++)
                ;
            if (k == len)
                continue; /* a blank line */
            if ((ret = import_line(db, t, line, len, lineno, err)) != 0)
                return ret;
            if (a->rows)
                a->rows[t]++;
        }
        if (ret != 0)
            return -1;
    }
    return 0;
}

int db_import(grove_db *db, db_import_next_fn next, db_import_rewind_fn rewind, void *arg,
              long long *rows, grove_err *err)
{
    import_arg a;

    a.next = next;
    a.rewind = rewind;
    a.arg = arg;
    a.rows = rows;
    return db_txn(db, import_fn, &a, err) == 0 ? 0 : -1;
}
