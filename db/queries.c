/*
 * queries: the statements behind db/queries.h. Every statement is a static
 * string (the statement cache's key) with bound parameters; writes run in
 * db_txn(). Results are typed structs owned by the caller (db/queries.h).
 */
#include "db/queries.h"

#include <errno.h>
#include <math.h>
#include <regex.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_internal.h"

#define LIMIT_DEFAULT 50
#define LIMIT_MAX     500
#define CURSOR_MAX    1024 /* longest cursor text accepted */

/* ---- SQL ---------------------------------------------------------------- */

/* The earliest parent of instance i (grove_instance_relationships). */
#define SQL_PARENT_OF_I                                                                            \
    "(SELECT r.parent_instance FROM grove_instance_relationships r"                                \
    " WHERE r.child_instance = i.id ORDER BY r.created_at, r.id LIMIT 1)"

/* Columns read by instance_read(), in that order. */
#define SQL_INSTANCE_SELECT                                                                        \
    "SELECT i.id, i.type, i.status, i.worktree_path, i.branch_name, i.base_branch,"                \
    " i.base_commit, i.issue_number, i.beads_id, " SQL_PARENT_OF_I ", i.tmux_session,"             \
    " i.agent_pid, i.pr_number, i.pr_url, i.prompt, i.created_at, i.terminated_at,"                \
    " (SELECT p.first_port FROM grove_port_blocks p WHERE p.instance_id = i.id"                    \
    "  AND i.status = 'running'),"                                                                 \
    " (SELECT p.port_count FROM grove_port_blocks p WHERE p.instance_id = i.id"                    \
    "  AND i.status = 'running'),"                                                                 \
    " i.landed_commit, i.landed_at, i.agent_profile, i.agent_state, i.agent_state_since,"          \
    " i.agent_session_id"                                                                          \
    " FROM grove_instances i "

static const char SQL_INSTANCE_GET[] = SQL_INSTANCE_SELECT "WHERE i.id = ?1";
static const char SQL_INSTANCE_WORKTREE[] =
    "SELECT worktree_path FROM grove_instances WHERE id = ?1";
static const char SQL_INSTANCE_EXISTS[] = "SELECT 1 FROM grove_instances WHERE id = ?1";
static const char SQL_INSTANCE_NEXT[] =
    "SELECT COALESCE(MAX(agent_number), 0) + 1 FROM grove_instances"
    " WHERE type = ?1 AND issue_number IS ?2 AND beads_id IS ?3";
static const char SQL_INSTANCE_INSERT[] =
    "INSERT INTO grove_instances (id, type, status, worktree_path, branch_name, base_branch,"
    " base_commit, tmux_session, agent_pid, issue_number, beads_id, prompt, agent_number,"
    " metadata) VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
static const char SQL_RELATIONSHIP_INSERT[] =
    "INSERT INTO grove_instance_relationships (parent_instance, child_instance,"
    " relationship_type) VALUES (?1, ?2, ?3)";
static const char SQL_INSTANCE_DELETE[] = "DELETE FROM grove_instances WHERE id = ?1";

/*
 * Instance pages: ?1 type, ?2 status, ?3 parent_id, ?4 issue_number,
 * ?5 beads_id, ?6/?7 the cursor's (created_at, id), ?8 limit + 1. Four
 * variants so that the (status, created_at, id) and (created_at, id)
 * indexes serve both the filter and the keyset.
 */
#define SQL_LIST_FILTERS                                                                           \
    " AND (?1 IS NULL OR i.type = ?1)"                                                             \
    " AND (?3 IS NULL OR " SQL_PARENT_OF_I " = ?3)"                                                \
    " AND (?4 IS NULL OR i.issue_number = ?4)"                                                     \
    " AND (?5 IS NULL OR i.beads_id = ?5)"                                                         \
    " AND (?9 IS NULL OR i.agent_state = ?9)"
#define SQL_LIST_AFTER " AND (i.created_at, i.id) > (?6, ?7)"
#define SQL_LIST_ORDER " ORDER BY i.created_at, i.id LIMIT ?8"
static const char SQL_LIST_FIRST[] =
    SQL_INSTANCE_SELECT "WHERE (?2 IS NULL OR i.status = ?2)" SQL_LIST_FILTERS SQL_LIST_ORDER;
static const char SQL_LIST_NEXT[] = SQL_INSTANCE_SELECT
    "WHERE (?2 IS NULL OR i.status = ?2)" SQL_LIST_FILTERS SQL_LIST_AFTER SQL_LIST_ORDER;
static const char SQL_LIST_STATUS_FIRST[] =
    SQL_INSTANCE_SELECT "WHERE i.status = ?2" SQL_LIST_FILTERS SQL_LIST_ORDER;
static const char SQL_LIST_STATUS_NEXT[] =
    SQL_INSTANCE_SELECT "WHERE i.status = ?2" SQL_LIST_FILTERS SQL_LIST_AFTER SQL_LIST_ORDER;

static const char SQL_RELATIONSHIPS[] =
    "SELECT id, parent_instance, child_instance, relationship_type, created_at"
    " FROM grove_instance_relationships WHERE parent_instance = ?1 OR child_instance = ?1"
    " ORDER BY created_at, id";
/* Every relationship on the way up from ?1 and from ?2 (UNION stops at cycles). */
static const char SQL_ANCESTRY[] =
    "WITH RECURSIVE up(id) AS (VALUES (?1), (?2) UNION"
    " SELECT r.parent_instance FROM grove_instance_relationships r JOIN up"
    " ON r.child_instance = up.id)"
    " SELECT id, parent_instance, child_instance, relationship_type, created_at"
    " FROM grove_instance_relationships WHERE child_instance IN (SELECT id FROM up)"
    " ORDER BY created_at, id";

#define SQL_CHECKPOINT_SELECT                                                                      \
    "SELECT id, instance_id, phase, name, status, data, message, commit_sha, sequence,"            \
    " created_at FROM grove_checkpoints "
static const char SQL_CHECKPOINT_INSERT[] =
    "INSERT INTO grove_checkpoints (instance_id, phase, name, status, data, message,"
    " commit_sha, sequence) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
    " (SELECT COALESCE(MAX(sequence), 0) + 1 FROM grove_checkpoints WHERE instance_id = ?1))";
static const char SQL_CHECKPOINT_BY_ID[] = SQL_CHECKPOINT_SELECT "WHERE id = ?1";
static const char SQL_CHECKPOINT_LATEST[] =
    SQL_CHECKPOINT_SELECT "WHERE instance_id = ?1 ORDER BY sequence DESC LIMIT 1";
static const char SQL_CHECKPOINT_LATEST_PHASE[] =
    SQL_CHECKPOINT_SELECT "WHERE instance_id = ?1 AND phase = ?2 ORDER BY sequence DESC LIMIT 1";

static const char SQL_EVENT_INSERT[] =
    "INSERT INTO grove_mcp_events (instance_id, tool_name, success, error_message, metadata,"
    " duration_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char SQL_NORMALISE_TIME[] = "SELECT strftime('%Y-%m-%dT%H:%M:%fZ', ?1)";

/*
 * Event pages: ?1 instance_id, ?2 tool, ?3 success, ?4 since (normalised;
 * '' for none, which every stored time follows: a plain range the indexes
 * can stop at), ?5 limit + 1, ?6/?7 a cursor's (timestamp, id). Four variants so that the
 * (instance_id, timestamp), (tool_name, timestamp), (success, timestamp) and (timestamp) indexes
 * each give a filter's page in order, without a sort.
 */
#define SQL_EVENT_SELECT                                                                           \
    "SELECT id, instance_id, tool_name, success, error_message, metadata, duration_ms,"            \
    " timestamp FROM grove_mcp_events "
#define SQL_EVENT_MATCH                                                                            \
    " AND (?2 IS NULL OR tool_name = ?2) AND (?3 IS NULL OR success = ?3)"                         \
    " AND timestamp >= ?4"
/* After a cursor: ?6/?7 the last row's (timestamp, id). */
#define SQL_EVENT_BEFORE " AND (timestamp, id) < (?6, ?7)"
#define SQL_EVENT_ORDER  " ORDER BY timestamp DESC, id DESC LIMIT ?5"
#define SQL_EVENTS(where)                                                                          \
    {                                                                                              \
        SQL_EVENT_SELECT where SQL_EVENT_MATCH SQL_EVENT_ORDER,                                    \
            SQL_EVENT_SELECT where SQL_EVENT_MATCH SQL_EVENT_BEFORE SQL_EVENT_ORDER                \
    }
/* [filter][after a cursor]; filters: by instance, by tool, by success, all. */
static const char *const SQL_EVENTS[4][2] = {
    SQL_EVENTS("WHERE instance_id = ?1"),
    SQL_EVENTS("WHERE ?1 IS NULL AND tool_name = ?2"),
    SQL_EVENTS("WHERE ?1 IS NULL AND ?2 IS NULL AND success = ?3"),
    SQL_EVENTS("WHERE ?1 IS NULL"),
};

static const char SQL_CONFIG_GET[] =
    "SELECT value, is_encrypted FROM grove_user_config WHERE key = ?1";
static const char SQL_CONFIG_SET[] =
    "INSERT INTO grove_user_config (key, value, is_encrypted, updated_at)"
    " VALUES (?1, ?2, ?3, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
    " is_encrypted = excluded.is_encrypted, updated_at = excluded.updated_at";
static const char SQL_CONFIG_UNSET[] = "DELETE FROM grove_user_config WHERE key = ?1";
static const char SQL_CONFIG_LIST[] =
    "SELECT key, value, is_encrypted, updated_at FROM grove_user_config ORDER BY key";

/* ---- helpers ------------------------------------------------------------ */

/* A failed bind: only out of memory, too big, or a bug. */
static int bind_fail(grove_db *db, grove_err *err)
{
    return grove_fail(err, GROVE_EDB, "cannot bind a parameter: %s", sqlite3_errmsg(db_sqlite(db)));
}

static int bind_int64_or_null(sqlite3_stmt *st, int idx, long long v, int is_null)
{
    return is_null ? sqlite3_bind_null(st, idx) : sqlite3_bind_int64(st, idx, v);
}

/* Column i as an integer; 0 when SQL NULL. */
static long long col_int64(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, i);
}

/* Column i as a malloc'd string (NULL when SQL NULL); *oom set on failure. */
static char *col_strdup(sqlite3_stmt *st, int i, int *oom)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    char *s;

    if (!t)
        return NULL;
    s = strndup(t, (size_t)sqlite3_column_bytes(st, i));
    if (!s)
        *oom = 1;
    return s;
}

static int one_of(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(s, *set) == 0)
            return 1;
    return 0;
}

static const char *const TYPES[] = {"work", "review", "adhoc", NULL};
static const char *const STATUSES[] = {"running", "terminated", NULL};
static const char *const AGENT_STATES[] = {"none", "starting", "working", "waiting",
                                           "idle", "exited",   NULL};
static const char *const RELATIONSHIPS[] = {"spawned_review", "created_fork", "spawned_work", NULL};
static const char *const CHECKPOINT_STATUSES[] = {"in_progress", "completed", "failed", NULL};

static int clamp_limit(int limit)
{
    if (limit <= 0)
        return LIMIT_DEFAULT;
    return limit > LIMIT_MAX ? LIMIT_MAX : limit;
}

/* Whether instance `id` exists: 1, 0, or <0 (db_fail / err). */
static int instance_exists(grove_db *db, const char *id, grove_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc, ret;

    if ((ret = db_stmt(db, SQL_INSTANCE_EXISTS, &st, err)) != 0)
        return ret;
    if (db_bind_text(st, 1, id) != SQLITE_OK) {
        ret = bind_fail(db, err);
        goto done;
    }
    rc = db_step_first(db, st);
    if (rc == SQLITE_ROW)
        ret = 1;
    else if (rc == SQLITE_DONE)
        ret = 0;
    else
        ret = db_fail(db, rc, "cannot look up an instance", err);
done:
    db_stmt_release(db, st);
    return ret;
}

/* Runs a write statement to completion: 0 or db_fail(). */
static int step_done(grove_db *db, sqlite3_stmt *st, const char *what, grove_err *err)
{
    int rc = sqlite3_step(st);

    return rc == SQLITE_DONE ? 0 : db_fail(db, rc, what, err);
}

/* ---- instances ---------------------------------------------------------- */

void db_instance_free(grove_instance *inst)
{
    if (!inst)
        return;
    free(inst->id);
    free(inst->type);
    free(inst->status);
    free(inst->worktree_path);
    free(inst->branch_name);
    free(inst->base_branch);
    free(inst->base_commit);
    free(inst->beads_id);
    free(inst->parent_id);
    free(inst->session_name);
    free(inst->pr_url);
    free(inst->prompt);
    free(inst->created_at);
    free(inst->terminated_at);
    free(inst->landed_commit);
    free(inst->landed_at);
    free(inst->agent_profile);
    free(inst->agent_state);
    free(inst->agent_state_since);
    free(inst->agent_session_id);
    memset(inst, 0, sizeof(*inst));
}

void db_instance_list_free(grove_instance_list *list)
{
    size_t i;

    if (!list)
        return;
    for (i = 0; i < list->n; i++)
        db_instance_free(&list->v[i]);
    free(list->v);
    free(list->next_cursor);
    memset(list, 0, sizeof(*list));
}

/* *o from a SQL_INSTANCE_SELECT row; 0, or -1 on OOM (then *o holds what was read). */
static int instance_read(sqlite3_stmt *st, grove_instance *o)
{
    int oom = 0;

    memset(o, 0, sizeof(*o));
    o->id = col_strdup(st, 0, &oom);
    o->type = col_strdup(st, 1, &oom);
    o->status = col_strdup(st, 2, &oom);
    o->worktree_path = col_strdup(st, 3, &oom);
    o->branch_name = col_strdup(st, 4, &oom);
    o->base_branch = col_strdup(st, 5, &oom);
    o->base_commit = col_strdup(st, 6, &oom);
    o->issue_number = col_int64(st, 7);
    o->beads_id = col_strdup(st, 8, &oom);
    o->parent_id = col_strdup(st, 9, &oom);
    o->session_name = col_strdup(st, 10, &oom);
    o->pid = col_int64(st, 11);
    o->pr_number = col_int64(st, 12);
    o->pr_url = col_strdup(st, 13, &oom);
    o->prompt = col_strdup(st, 14, &oom);
    o->created_at = col_strdup(st, 15, &oom);
    o->terminated_at = col_strdup(st, 16, &oom);
    o->port_first = col_int64(st, 17);
    o->port_count = col_int64(st, 18);
    o->landed_commit = col_strdup(st, 19, &oom);
    o->landed_at = col_strdup(st, 20, &oom);
    o->agent_profile = col_strdup(st, 21, &oom);
    o->agent_state = col_strdup(st, 22, &oom);
    o->agent_state_since = col_strdup(st, 23, &oom);
    o->agent_session_id = col_strdup(st, 24, &oom);
    return oom ? -1 : 0;
}

/* Room for one more element of an array of `size`-byte items (*v, *n used, *cap). 0 or -1. */
static int grow(void **v, size_t *cap, size_t n, size_t size)
{
    void *d;
    size_t c;

    if (n < *cap)
        return 0;
    c = *cap ? *cap * 2 : 8;
    if (!(d = realloc(*v, c * size)))
        return -1;
    memset((char *)d + n * size, 0, (c - n) * size);
    *v = d;
    *cap = c;
    return 0;
}

int db_instance_next_number(grove_db *db, const char *type, long long issue_number,
                            const char *beads_id, int *out, grove_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc, ret;

    *out = 0;
    if (!type || !one_of(type, TYPES))
        return grove_fail(err, GROVE_EINVAL, "invalid instance type '%s'", type ? type : "");
    if ((ret = db_stmt(db, SQL_INSTANCE_NEXT, &st, err)) != 0)
        return -1;
    if (db_bind_text(st, 1, type) != SQLITE_OK ||
        bind_int64_or_null(st, 2, issue_number, issue_number <= 0) != SQLITE_OK ||
        db_bind_text(st, 3, beads_id) != SQLITE_OK) {
        ret = bind_fail(db, err);
        goto done;
    }
    rc = db_step_first(db, st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int(st, 0);
    else
        ret = db_fail(db, rc, "cannot count instances", err);
done:
    db_stmt_release(db, st);
    return ret == 0 ? 0 : -1;
}

/* db_txn body of db_instance_insert(). */
static int instance_insert_fn(grove_db *db, void *arg, grove_err *err)
{
    const db_new_instance *in = arg;
    sqlite3_stmt *st = NULL;
    int ret;

    if ((ret = instance_exists(db, in->id, err)) != 0) {
        if (ret > 0)
            ret = grove_fail(err, GROVE_ECONFLICT, "instance '%s' already exists", in->id);
        return ret;
    }
    if (in->parent_id && in->relationship_type &&
        (ret = instance_exists(db, in->parent_id, err)) <= 0) {
        if (ret == 0)
            ret = grove_fail(err, GROVE_ENOTFOUND, "instance '%s' not found", in->parent_id);
        return ret;
    }
    if ((ret = db_stmt(db, SQL_INSTANCE_INSERT, &st, err)) != 0)
        return ret;
    if (db_bind_text(st, 1, in->id) != SQLITE_OK || db_bind_text(st, 2, in->type) != SQLITE_OK ||
        db_bind_text(st, 3, in->worktree_path) != SQLITE_OK ||
        db_bind_text(st, 4, in->branch_name) != SQLITE_OK ||
        db_bind_text(st, 5, in->base_branch) != SQLITE_OK ||
        db_bind_text(st, 6, in->base_commit) != SQLITE_OK ||
        db_bind_text(st, 7, in->tmux_session) != SQLITE_OK ||
        bind_int64_or_null(st, 8, in->agent_pid, in->agent_pid == 0) != SQLITE_OK ||
        bind_int64_or_null(st, 9, in->issue_number, in->issue_number <= 0) != SQLITE_OK ||
        db_bind_text(st, 10, in->beads_id) != SQLITE_OK ||
        db_bind_text(st, 11, in->prompt) != SQLITE_OK ||
        sqlite3_bind_int(st, 12, in->agent_number) != SQLITE_OK ||
        db_bind_text(st, 13, in->metadata ? in->metadata : "{}") != SQLITE_OK) {
        ret = bind_fail(db, err);
        goto done;
    }
    if ((ret = step_done(db, st, "cannot insert the instance", err)) != 0)
        goto done;
    db_stmt_release(db, st);
    st = NULL;
    if (!in->parent_id || !in->relationship_type)
        goto done;
    if ((ret = db_stmt(db, SQL_RELATIONSHIP_INSERT, &st, err)) != 0)
        goto done;
    if (db_bind_text(st, 1, in->parent_id) != SQLITE_OK ||
        db_bind_text(st, 2, in->id) != SQLITE_OK ||
        db_bind_text(st, 3, in->relationship_type) != SQLITE_OK) {
        ret = bind_fail(db, err);
        goto done;
    }
    ret = step_done(db, st, "cannot insert the relationship", err);
done:
    db_stmt_release(db, st);
    return ret;
}

int db_instance_insert(grove_db *db, const db_new_instance *in, grove_err *err)
{
    if (!in->id || !*in->id)
        return grove_fail(err, GROVE_EINVAL, "instance id is empty");
    if (!in->type || !one_of(in->type, TYPES))
        return grove_fail(err, GROVE_EINVAL, "invalid instance type '%s'",
                          in->type ? in->type : "");
    if (!in->worktree_path || !in->branch_name)
        return grove_fail(err, GROVE_EINVAL, "instance '%s' needs a worktree path and a branch",
                          in->id);
    if (in->agent_number < 1)
        return grove_fail(err, GROVE_EINVAL, "invalid agent number %d", in->agent_number);
    if (in->relationship_type && !one_of(in->relationship_type, RELATIONSHIPS))
        return grove_fail(err, GROVE_EINVAL, "invalid relationship type '%s'",
                          in->relationship_type);
    if (in->metadata) {
        json_t *m = json_loads(in->metadata, 0, NULL);
        int ok = json_is_object(m);

        json_decref(m);
        if (!ok)
            return grove_fail(err, GROVE_EINVAL, "instance metadata must be a JSON object");
    }
    return db_txn(db, instance_insert_fn, (void *)in, err) == 0 ? 0 : -1;
}

/* db_txn body of db_instance_delete(). */
static int instance_delete_fn(grove_db *db, void *arg, grove_err *err)
{
    sqlite3_stmt *st = NULL;
    int ret;

    if ((ret = db_stmt(db, SQL_INSTANCE_DELETE, &st, err)) != 0)
        return ret;
    if (db_bind_text(st, 1, arg) != SQLITE_OK)
        ret = bind_fail(db, err);
    else
        ret = step_done(db, st, "cannot delete the instance", err);
    db_stmt_release(db, st);
    return ret;
}

int db_instance_delete(grove_db *db, const char *id, grove_err *err)
{
    if (!id)
        return grove_fail(err, GROVE_EINVAL, "instance id is empty");
    return db_txn(db, instance_delete_fn, (void *)id, err) == 0 ? 0 : -1;
}

/* Reads a row of one instance with `sql` (?1 the id) into what `take` fills from it. */
static int instance_row(grove_db *db, const char *sql, const char *id,
                        int (*take)(sqlite3_stmt *st, void *out), void *out, grove_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc, ret;

    if (!id)
        return grove_fail(err, GROVE_EINVAL, "instance id is empty");
    if ((ret = db_stmt(db, sql, &st, err)) != 0)
        return -1;
    if (db_bind_text(st, 1, id) != SQLITE_OK) {
        ret = bind_fail(db, err);
        goto done;
    }
    rc = db_step_first(db, st);
    if (rc == SQLITE_ROW) {
        if (take(st, out) != 0)
            ret = grove_nomem(err);
    } else if (rc == SQLITE_DONE) {
        ret = grove_fail(err, GROVE_ENOTFOUND, "instance '%s' not found", id);
    } else {
        ret = db_fail(db, rc, "cannot read the instance", err);
    }
done:
    db_stmt_release(db, st);
    return ret == 0 ? 0 : -1;
}

static int take_instance(sqlite3_stmt *st, void *out)
{
    return instance_read(st, out);
}

static int take_worktree(sqlite3_stmt *st, void *out)
{
    int oom = 0;

    *(char **)out = col_strdup(st, 0, &oom);
    return oom ? -1 : 0;
}

int db_instance_get(grove_db *db, const char *id, grove_instance *out, grove_err *err)
{
    memset(out, 0, sizeof(*out));
    return instance_row(db, SQL_INSTANCE_GET, id, take_instance, out, err);
}

int db_instance_worktree(grove_db *db, const char *id, char **path, grove_err *err)
{
    *path = NULL;
    return instance_row(db, SQL_INSTANCE_WORKTREE, id, take_worktree, path, err);
}

/* Whether s is "YYYY-MM-DDTHH:MM:SS.sssZ", the shape of every stored timestamp. */
static int is_stored_time(const char *s, size_t n)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    size_t i;

    if (n != sizeof(shape) - 1)
        return 0;
    for (i = 0; i < n; i++) {
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
            return 0;
    }
    return 1;
}

/*
 * Decodes a cursor into "created_at\nid" (malloc'd into *text, split in
 * place: *created and *id point into it). 0, or -1 for any other shape.
 */
static int cursor_decode(const char *cursor, char **text, const char **created, const char **id)
{
    size_t len = strlen(cursor), binlen = 0, i, nl = 0;
    unsigned char *bin;

    *text = NULL;
    if (len == 0 || len > CURSOR_MAX)
        return -1;
    bin = malloc(len + 1); /* owned; handed to *text on success */
    if (!bin)
        return -1;
    if (sodium_base642bin(bin, len, cursor, len, NULL, &binlen, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        goto bad;
    bin[binlen] = '\0';
    for (i = 0; i < binlen; i++) {
        if (bin[i] == '\n') {
            if (nl)
                goto bad;
            nl = i;
        } else if (bin[i] < 0x20 || bin[i] == 0x7f) {
            goto bad;
        }
    }
    if (!nl || nl + 1 >= binlen || !is_stored_time((const char *)bin, nl))
        goto bad;
    bin[nl] = '\0';
    *text = (char *)bin;
    *created = (const char *)bin;
    *id = (const char *)bin + nl + 1;
    return 0;
bad:
    free(bin);
    return -1;
}

/* A new cursor for the row (created_at, id); NULL on OOM. The caller frees. */
static char *cursor_encode(const char *created, const char *id)
{
    char *text = grove_asprintf("%s\n%s", created, id);
    size_t n, cap;
    char *out = NULL;

    if (!text)
        return NULL;
    n = strlen(text);
    cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    out = malloc(cap);
    if (out)
        sodium_bin2base64(out, cap, (const unsigned char *)text, n,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    free(text);
    return out;
}

/*
 * A page's byte budget, applied row by row as rows are read. `bound` and
 * `exact` give row i's size (a cheap upper bound, the exact one); while
 * the bounds add up to no more than max, no exact size is asked for. Once
 * they do not, the exact sizes of the rows before are added up (they fit:
 * each is at most its bound) and every later row is measured exactly.
 */
typedef struct page_budget {
    size_t max;
    size_t bytes; /* exact sizes so far (saturated at max); valid once `exact` */
    size_t bound; /* bounds so far (saturated at max + 1) */
    int exact;
} page_budget;

/* Row `i` (the newest, i == n - 1) of `rows`: 1 when it stays on the page, 0 when it starts the
 * next. */
static int page_keeps(page_budget *b, size_t n, size_t (*bound)(size_t i, void *arg),
                      size_t (*exact)(size_t i, void *arg), void *arg)
{
    size_t i, size;

    if (!b->exact && bound) {
        size = bound(n - 1, arg);
        b->bound = size > b->max - b->bound ? b->max + 1 : b->bound + size;
        if (b->bound <= b->max)
            return 1;
        b->exact = 1;
        for (i = 0; i + 1 < n; i++) {
            size = exact(i, arg);
            b->bytes = size > b->max - b->bytes ? b->max : b->bytes + size;
        }
    }
    b->exact = 1;
    size = exact(n - 1, arg);
    /* Over the budget: this row starts the next page (never the first of this one). */
    if (n > 1 && size > b->max - b->bytes)
        return 0;
    b->bytes = size > b->max - b->bytes ? b->max : b->bytes + size;
    return 1;
}

typedef struct instance_rows {
    const db_instance_filter *f;
    const grove_instance *v;
} instance_rows;

static size_t instance_bound(size_t i, void *arg)
{
    const instance_rows *r = arg;

    return r->f->size_bound(&r->v[i], r->f->size_arg);
}

static size_t instance_exact(size_t i, void *arg)
{
    const instance_rows *r = arg;

    return r->f->size_of(&r->v[i], r->f->size_arg);
}

int db_instance_list(grove_db *db, const db_instance_filter *f, grove_instance_list *out,
                     grove_err *err)
{
    sqlite3_stmt *st = NULL;
    char *cursor_text = NULL;
    const char *after_created = NULL, *after_id = NULL, *sql;
    size_t cap = 0;
    page_budget budget = {f->max_bytes, 0, 0, 0};
    int limit = clamp_limit(f->limit), rows = 0, rc, ret = -1;

    memset(out, 0, sizeof(*out));
    if (f->type && !one_of(f->type, TYPES))
        return grove_fail(err, GROVE_EINVAL, "invalid instance type '%s'", f->type);
    if (f->status && !one_of(f->status, STATUSES))
        return grove_fail(err, GROVE_EINVAL, "invalid instance status '%s'", f->status);
    if (f->agent_state && !one_of(f->agent_state, AGENT_STATES))
        return grove_fail(err, GROVE_EINVAL, "invalid agent state '%s'", f->agent_state);
    if (f->cursor && cursor_decode(f->cursor, &cursor_text, &after_created, &after_id) != 0)
        return grove_fail(err, GROVE_EINVAL, "invalid cursor");
    if (f->status)
        sql = f->cursor ? SQL_LIST_STATUS_NEXT : SQL_LIST_STATUS_FIRST;
    else
        sql = f->cursor ? SQL_LIST_NEXT : SQL_LIST_FIRST;
    if (db_stmt(db, sql, &st, err) != 0)
        goto done;
    if (db_bind_text(st, 1, f->type) != SQLITE_OK || db_bind_text(st, 2, f->status) != SQLITE_OK ||
        db_bind_text(st, 3, f->parent_id) != SQLITE_OK ||
        bind_int64_or_null(st, 4, f->issue_number, f->beads_id || f->issue_number <= 0) !=
            SQLITE_OK ||
        db_bind_text(st, 5, f->beads_id) != SQLITE_OK ||
        db_bind_text(st, 6, after_created) != SQLITE_OK ||
        db_bind_text(st, 7, after_id) != SQLITE_OK ||
        sqlite3_bind_int(st, 8, limit + 1) != SQLITE_OK ||
        db_bind_text(st, 9, f->agent_state) != SQLITE_OK) {
        bind_fail(db, err);
        goto done;
    }
    for (rc = db_step_first(db, st); rc == SQLITE_ROW; rc = sqlite3_step(st)) {
        if (++rows > limit)
            break; /* one more than a page: there is a next page */
        if (grow((void **)&out->v, &cap, out->n, sizeof(*out->v)) != 0 ||
            instance_read(st, &out->v[out->n++]) != 0) {
            grove_nomem(err);
            goto done;
        }
        if (f->max_bytes && f->size_of) {
            instance_rows r = {f, out->v};

            if (!page_keeps(&budget, out->n, f->size_bound ? instance_bound : NULL, instance_exact,
                            &r)) {
                db_instance_free(&out->v[--out->n]);
                break;
            }
        }
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        db_fail(db, rc, "cannot list instances", err);
        goto done;
    }
    if (rc == SQLITE_ROW && out->n > 0) {
        const grove_instance *last = &out->v[out->n - 1];

        if (last->created_at && last->id &&
            !(out->next_cursor = cursor_encode(last->created_at, last->id))) {
            grove_nomem(err);
            goto done;
        }
    }
    ret = 0;
done:
    db_stmt_release(db, st);
    if (ret != 0)
        db_instance_list_free(out);
    free(cursor_text);
    return ret;
}

void db_relationship_list_free(grove_relationship_list *list)
{
    size_t i;

    if (!list)
        return;
    for (i = 0; i < list->n; i++) {
        free(list->v[i].parent_instance);
        free(list->v[i].child_instance);
        free(list->v[i].relationship_type);
        free(list->v[i].created_at);
    }
    free(list->v);
    memset(list, 0, sizeof(*list));
}

/* The rows of `sql` (SQL_RELATIONSHIPS or SQL_ANCESTRY, ?1 = a, ?2 = b) into *out. */
static int relationships_read(grove_db *db, const char *sql, const char *a, const char *b,
                              grove_relationship_list *out, grove_err *err)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    int rc, ret = -1;

    memset(out, 0, sizeof(*out));
    if (db_stmt(db, sql, &st, err) != 0)
        goto done;
    if (db_bind_text(st, 1, a) != SQLITE_OK || (b && db_bind_text(st, 2, b) != SQLITE_OK)) {
        bind_fail(db, err);
        goto done;
    }
    for (rc = db_step_first(db, st); rc == SQLITE_ROW; rc = sqlite3_step(st)) {
        grove_relationship *r;
        int oom = 0;

        if (grow((void **)&out->v, &cap, out->n, sizeof(*out->v)) != 0) {
            grove_nomem(err);
            goto done;
        }
        r = &out->v[out->n++];
        r->id = col_int64(st, 0);
        r->parent_instance = col_strdup(st, 1, &oom);
        r->child_instance = col_strdup(st, 2, &oom);
        r->relationship_type = col_strdup(st, 3, &oom);
        r->created_at = col_strdup(st, 4, &oom);
        if (oom) {
            grove_nomem(err);
            goto done;
        }
    }
    if (rc != SQLITE_DONE) {
        db_fail(db, rc, "cannot read relationships", err);
        goto done;
    }
    ret = 0;
done:
    db_stmt_release(db, st);
    if (ret != 0)
        db_relationship_list_free(out);
    return ret;
}

int db_relationships(grove_db *db, const char *id, grove_relationship_list *out, grove_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!id)
        return grove_fail(err, GROVE_EINVAL, "instance id is empty");
    return relationships_read(db, SQL_RELATIONSHIPS, id, NULL, out, err);
}

int db_relationships_above(grove_db *db, const char *a, const char *b, grove_relationship_list *out,
                           grove_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!a || !b)
        return grove_fail(err, GROVE_EINVAL, "instance id is empty");
    return relationships_read(db, SQL_ANCESTRY, a, b, out, err);
}

/* ---- checkpoints -------------------------------------------------------- */

void db_checkpoint_free(grove_checkpoint *cp)
{
    if (!cp)
        return;
    free(cp->instance_id);
    free(cp->phase);
    free(cp->name);
    free(cp->status);
    free(cp->data_json);
    free(cp->message);
    free(cp->commit_sha);
    free(cp->created_at);
    memset(cp, 0, sizeof(*cp));
}

/* *o from a SQL_CHECKPOINT_SELECT row; 0, or -1 on OOM (then *o holds what was read). */
static int checkpoint_read(sqlite3_stmt *st, grove_checkpoint *o)
{
    int oom = 0;

    memset(o, 0, sizeof(*o));
    o->id = col_int64(st, 0);
    o->instance_id = col_strdup(st, 1, &oom);
    o->phase = col_strdup(st, 2, &oom);
    o->name = col_strdup(st, 3, &oom);
    o->status = col_strdup(st, 4, &oom);
    o->data_json = col_strdup(st, 5, &oom);
    o->message = col_strdup(st, 6, &oom);
    o->commit_sha = col_strdup(st, 7, &oom);
    o->sequence = col_int64(st, 8);
    o->created_at = col_strdup(st, 9, &oom);
    return oom ? -1 : 0;
}

typedef struct checkpoint_arg {
    const db_new_checkpoint *in;
    const char *data;      /* compact JSON text or NULL; owned by the caller */
    grove_checkpoint *out; /* the inserted row; set by the last (successful) attempt */
} checkpoint_arg;

/* db_txn body of db_checkpoint_insert(). */
static int checkpoint_insert_fn(grove_db *db, void *arg, grove_err *err)
{
    checkpoint_arg *a = arg;
    const db_new_checkpoint *in = a->in;
    sqlite3_stmt *st = NULL;
    int rc, ret;

    db_checkpoint_free(a->out); /* from an attempt that was rolled back */
    if ((ret = instance_exists(db, in->instance_id, err)) <= 0) {
        if (ret == 0)
            ret = grove_fail(err, GROVE_ENOTFOUND, "instance '%s' not found", in->instance_id);
        return ret;
    }
    if ((ret = db_stmt(db, SQL_CHECKPOINT_INSERT, &st, err)) != 0)
        return ret;
    if (db_bind_text(st, 1, in->instance_id) != SQLITE_OK ||
        db_bind_text(st, 2, in->phase) != SQLITE_OK || db_bind_text(st, 3, in->name) != SQLITE_OK ||
        db_bind_text(st, 4, in->status ? in->status : "in_progress") != SQLITE_OK ||
        db_bind_text(st, 5, a->data) != SQLITE_OK ||
        db_bind_text(st, 6, in->message) != SQLITE_OK ||
        db_bind_text(st, 7, in->commit_sha) != SQLITE_OK) {
        ret = bind_fail(db, err);
        goto done;
    }
    if ((ret = step_done(db, st, "cannot insert the checkpoint", err)) != 0)
        goto done;
    db_stmt_release(db, st);
    st = NULL;
    if ((ret = db_stmt(db, SQL_CHECKPOINT_BY_ID, &st, err)) != 0)
        goto done;
    sqlite3_bind_int64(st, 1, sqlite3_last_insert_rowid(db_sqlite(db)));
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        ret = rc == SQLITE_DONE ? grove_fail(err, GROVE_EDB, "the new checkpoint vanished")
                                : db_fail(db, rc, "cannot read the checkpoint", err);
        goto done;
    }
    if (checkpoint_read(st, a->out) != 0)
        ret = grove_nomem(err);
done:
    db_stmt_release(db, st);
    return ret;
}

int db_checkpoint_insert(grove_db *db, const db_new_checkpoint *in, grove_checkpoint *out,
                         grove_err *err)
{
    checkpoint_arg a;
    char *data = NULL;
    int ret;

    memset(out, 0, sizeof(*out));
    if (!in->instance_id)
        return grove_fail(err, GROVE_EINVAL, "instance id is empty");
    if (!in->phase || !*in->phase)
        return grove_fail(err, GROVE_EINVAL, "checkpoint phase is empty");
    if (in->status && !one_of(in->status, CHECKPOINT_STATUSES))
        return grove_fail(err, GROVE_EINVAL, "invalid checkpoint status '%s'", in->status);
    if (in->data && !json_is_object(in->data))
        return grove_fail(err, GROVE_EINVAL, "checkpoint data must be a JSON object");
    if (in->data && !(data = json_dumps(in->data, JSON_COMPACT)))
        return grove_nomem(err);
    a.in = in;
    a.data = data;
    a.out = out;
    ret = db_txn(db, checkpoint_insert_fn, &a, err);
    free(data);
    if (ret != 0) {
        db_checkpoint_free(out);
        return -1;
    }
    return 0;
}

int db_checkpoint_get(grove_db *db, const char *instance_id, const char *phase,
                      grove_checkpoint *out, int *found, grove_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc, ret;

    memset(out, 0, sizeof(*out));
    *found = 0;
    if (!instance_id)
        return grove_fail(err, GROVE_EINVAL, "instance id is empty");
    if ((ret = instance_exists(db, instance_id, err)) <= 0) {
        if (ret == 0)
            grove_fail(err, GROVE_ENOTFOUND, "instance '%s' not found", instance_id);
        return -1;
    }
    ret = db_stmt(db, phase ? SQL_CHECKPOINT_LATEST_PHASE : SQL_CHECKPOINT_LATEST, &st, err);
    if (ret != 0)
        return -1;
    if (db_bind_text(st, 1, instance_id) != SQLITE_OK ||
        (phase && db_bind_text(st, 2, phase) != SQLITE_OK)) {
        ret = bind_fail(db, err);
        goto done;
    }
    rc = db_step_first(db, st);
    if (rc == SQLITE_ROW) {
        *found = 1;
        if (checkpoint_read(st, out) != 0) {
            db_checkpoint_free(out);
            *found = 0;
            ret = grove_nomem(err);
        }
    } else if (rc != SQLITE_DONE) {
        ret = db_fail(db, rc, "cannot read checkpoints", err);
    }
done:
    db_stmt_release(db, st);
    return ret == 0 ? 0 : -1;
}

/* ---- events ------------------------------------------------------------- */

typedef struct event_arg {
    const db_new_event *in;
    const char *metadata; /* compact JSON text; owned by the caller */
    double duration_ms;
} event_arg;

/* db_txn body of db_event_insert(). */
static int event_insert_fn(grove_db *db, void *arg, grove_err *err)
{
    const event_arg *a = arg;
    sqlite3_stmt *st = NULL;
    int ret;

    if ((ret = db_stmt(db, SQL_EVENT_INSERT, &st, err)) != 0)
        return ret;
    if (db_bind_text(st, 1, a->in->instance_id) != SQLITE_OK ||
        db_bind_text(st, 2, a->in->tool_name) != SQLITE_OK ||
        sqlite3_bind_int(st, 3, a->in->success ? 1 : 0) != SQLITE_OK ||
        db_bind_text(st, 4, a->in->error_message) != SQLITE_OK ||
        db_bind_text(st, 5, a->metadata) != SQLITE_OK ||
        sqlite3_bind_double(st, 6, a->duration_ms) != SQLITE_OK)
        ret = bind_fail(db, err);
    else
        ret = step_done(db, st, "cannot record the event", err);
    db_stmt_release(db, st);
    return ret;
}

int db_event_insert(grove_db *db, const db_new_event *in, grove_err *err)
{
    event_arg a;
    char *meta = NULL;
    int ret;

    if (!in->tool_name || !*in->tool_name)
        return grove_fail(err, GROVE_EINVAL, "event tool name is empty");
    if (in->metadata && !json_is_object(in->metadata))
        return grove_fail(err, GROVE_EINVAL, "event metadata must be a JSON object");
    if (in->metadata && !(meta = json_dumps(in->metadata, JSON_COMPACT)))
        return grove_nomem(err);
    a.in = in;
    a.metadata = meta ? meta : "{}";
    /* The schema promises a non-negative number. */
    a.duration_ms = (isfinite(in->duration_ms) && in->duration_ms > 0) ? in->duration_ms : 0;
    ret = in->relaxed ? db_txn_relaxed(db, event_insert_fn, &a, err)
                      : db_txn(db, event_insert_fn, &a, err);
    free(meta);
    return ret == 0 ? 0 : -1;
}

/*
 * Normalises an ISO 8601 `since` to the stored form into *out (malloc'd).
 * Checked with a regex first: SQLite's date functions also accept words
 * such as 'now' and bare numbers (Julian days).
 */
static int normalise_since(grove_db *db, const char *since, char **out, grove_err *err)
{
    static const char pattern[] =
        "^[0-9]{4}-[0-9]{2}-[0-9]{2}"
        "(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?$";
    sqlite3_stmt *st = NULL;
    regex_t re;
    int rc, ret = -1, valid, oom = 0;

    *out = NULL;
    if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
        return grove_fail(err, GROVE_EIO, "cannot compile the timestamp pattern");
    valid = regexec(&re, since, 0, NULL, 0) == 0;
    regfree(&re);
    if (!valid)
        goto done;
    if (db_stmt(db, SQL_NORMALISE_TIME, &st, err) != 0)
        return -1;
    if (db_bind_text(st, 1, since) != SQLITE_OK) {
        ret = bind_fail(db, err);
        goto done;
    }
    rc = db_step_first(db, st);
    if (rc != SQLITE_ROW) {
        ret = db_fail(db, rc, "cannot read the time", err);
        goto done;
    }
    /* NULL: SQLite could not read it either (a month 13, an hour 25 ...). */
    valid = sqlite3_column_type(st, 0) != SQLITE_NULL;
    if (valid) {
        *out = col_strdup(st, 0, &oom);
        ret = oom ? grove_nomem(err) : 0;
    }
done:
    db_stmt_release(db, st);
    if (!valid)
        return grove_fail(err, GROVE_EINVAL,
                          "invalid since '%s': expected an ISO 8601 date or time such as "
                          "'2026-11-22' or '2026-11-22T03:00:00Z'",
                          since);
    return ret == 0 ? 0 : -1;
}

/* Frees what one event owns and zeroes it. */
static void event_free(grove_event *e)
{
    free(e->instance_id);
    free(e->tool_name);
    free(e->error_message);
    free(e->metadata_json);
    free(e->timestamp);
    memset(e, 0, sizeof(*e));
}

void db_event_list_free(grove_event_list *list)
{
    size_t i;

    if (!list)
        return;
    for (i = 0; i < list->n; i++)
        event_free(&list->v[i]);
    free(list->v);
    free(list->next_cursor);
    memset(list, 0, sizeof(*list));
}

/* The event at the statement's row into *e; 0, or -1 when out of memory (*e is then freed). */
static int event_read(sqlite3_stmt *st, grove_event *e)
{
    int oom = 0;

    e->id = col_int64(st, 0);
    e->instance_id = col_strdup(st, 1, &oom);
    e->tool_name = col_strdup(st, 2, &oom);
    e->success = sqlite3_column_int(st, 3) != 0;
    e->error_message = col_strdup(st, 4, &oom);
    e->metadata_json = col_strdup(st, 5, &oom);
    e->duration_ms = sqlite3_column_double(st, 6);
    e->timestamp = col_strdup(st, 7, &oom);
    if (oom)
        event_free(e);
    return oom ? -1 : 0;
}

/* An event cursor's id part: a positive decimal integer. 0, or -1 for any other text. */
static int parse_event_id(const char *text, long long *id)
{
    char *end = NULL;

    errno = 0;
    if (*text < '1' || *text > '9')
        return -1;
    *id = strtoll(text, &end, 10);
    return errno == 0 && *end == '\0' ? 0 : -1;
}

typedef struct event_rows {
    const db_event_filter *f;
    const grove_event *v;
} event_rows;

static size_t event_bound(size_t i, void *arg)
{
    const event_rows *r = arg;

    return r->f->size_bound(&r->v[i], r->f->size_arg);
}

static size_t event_exact(size_t i, void *arg)
{
    const event_rows *r = arg;

    return r->f->size_of(&r->v[i], r->f->size_arg);
}

int db_event_list(grove_db *db, const db_event_filter *f, grove_event_list *out, grove_err *err)
{
    sqlite3_stmt *st = NULL;
    char *since = NULL, *cursor_text = NULL, idbuf[32];
    const char *sql, *after_time = NULL, *after_id = NULL;
    size_t cap = 0;
    page_budget budget = {f->max_bytes, 0, 0, 0};
    long long after = 0;
    int limit = clamp_limit(f->limit), rows = 0, which, rc, ret = -1;

    memset(out, 0, sizeof(*out));
    if (f->success < -1 || f->success > 1)
        return grove_fail(err, GROVE_EINVAL, "invalid success filter %d", f->success);
    if (f->cursor && (cursor_decode(f->cursor, &cursor_text, &after_time, &after_id) != 0 ||
                      parse_event_id(after_id, &after) != 0)) {
        free(cursor_text);
        return grove_fail(err, GROVE_EINVAL,
                          "invalid cursor: pass the next_cursor of a query_events page");
    }
    if (f->since && normalise_since(db, f->since, &since, err) != 0)
        goto done;
    if (f->instance_id)
        which = 0;
    else if (f->tool)
        which = 1;
    else
        which = f->success >= 0 ? 2 : 3;
    sql = SQL_EVENTS[which][f->cursor != NULL];
    if (db_stmt(db, sql, &st, err) != 0)
        goto done;
    if (db_bind_text(st, 1, f->instance_id) != SQLITE_OK ||
        db_bind_text(st, 2, f->tool) != SQLITE_OK ||
        bind_int64_or_null(st, 3, f->success, f->success < 0) != SQLITE_OK ||
        db_bind_text(st, 4, since ? since : "") != SQLITE_OK ||
        sqlite3_bind_int(st, 5, limit + 1) != SQLITE_OK ||
        (f->cursor && (db_bind_text(st, 6, after_time) != SQLITE_OK ||
                       sqlite3_bind_int64(st, 7, after) != SQLITE_OK))) {
        bind_fail(db, err);
        goto done;
    }
    for (rc = db_step_first(db, st); rc == SQLITE_ROW; rc = sqlite3_step(st)) {
        if (++rows > limit)
            break; /* one more than a page: there is a next page */
        if (grow((void **)&out->v, &cap, out->n, sizeof(*out->v)) != 0 ||
            event_read(st, &out->v[out->n]) != 0) {
            grove_nomem(err);
            goto done;
        }
        out->n++;
        if (f->max_bytes && f->size_of) {
            event_rows r = {f, out->v};

            if (!page_keeps(&budget, out->n, f->size_bound ? event_bound : NULL, event_exact, &r)) {
                event_free(&out->v[--out->n]);
                break;
            }
        }
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        db_fail(db, rc, "cannot list events", err);
        goto done;
    }
    if (rc == SQLITE_ROW && out->n > 0) {
        const grove_event *last = &out->v[out->n - 1];

        snprintf(idbuf, sizeof(idbuf), "%lld", last->id);
        if (last->timestamp && !(out->next_cursor = cursor_encode(last->timestamp, idbuf))) {
            grove_nomem(err);
            goto done;
        }
    }
    ret = 0;
done:
    db_stmt_release(db, st);
    if (ret != 0)
        db_event_list_free(out);
    free(since);
    free(cursor_text);
    return ret;
}

/* ---- config ------------------------------------------------------------- */

int db_config_get(grove_db *db, const char *key, char **value, int *is_encrypted, grove_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc, ret, oom = 0;

    *value = NULL;
    if (is_encrypted)
        *is_encrypted = 0;
    if (!key || !*key)
        return grove_fail(err, GROVE_EINVAL, "config key is empty");
    if ((ret = db_stmt(db, SQL_CONFIG_GET, &st, err)) != 0)
        return -1;
    if (db_bind_text(st, 1, key) != SQLITE_OK) {
        ret = bind_fail(db, err);
        goto done;
    }
    rc = db_step_first(db, st);
    if (rc == SQLITE_ROW) {
        *value = col_strdup(st, 0, &oom);
        if (oom)
            ret = grove_nomem(err);
        else if (is_encrypted)
            *is_encrypted = sqlite3_column_int(st, 1) != 0;
    } else if (rc != SQLITE_DONE) {
        ret = db_fail(db, rc, "cannot read the setting", err);
    }
done:
    db_stmt_release(db, st);
    return ret == 0 ? 0 : -1;
}

typedef struct config_arg {
    const char *key;
    const char *value; /* NULL: unset */
    int is_encrypted;
} config_arg;

/* db_txn body of db_config_set() and db_config_unset(). */
static int config_write_fn(grove_db *db, void *arg, grove_err *err)
{
    const config_arg *a = arg;
    sqlite3_stmt *st = NULL;
    int ret;

    if ((ret = db_stmt(db, a->value ? SQL_CONFIG_SET : SQL_CONFIG_UNSET, &st, err)) != 0)
        return ret;
    if (db_bind_text(st, 1, a->key) != SQLITE_OK ||
        (a->value && (db_bind_text(st, 2, a->value) != SQLITE_OK ||
                      sqlite3_bind_int(st, 3, a->is_encrypted ? 1 : 0) != SQLITE_OK)))
        ret = bind_fail(db, err);
    else
        ret = step_done(db, st, "cannot write the setting", err);
    db_stmt_release(db, st);
    return ret;
}

int db_config_set(grove_db *db, const char *key, const char *value, int is_encrypted,
                  grove_err *err)
{
    config_arg a;

    if (!key || !*key)
        return grove_fail(err, GROVE_EINVAL, "config key is empty");
    if (!value)
        return grove_fail(err, GROVE_EINVAL, "config '%s' needs a value", key);
    a.key = key;
    a.value = value;
    a.is_encrypted = is_encrypted;
    return db_txn(db, config_write_fn, &a, err) == 0 ? 0 : -1;
}

int db_config_unset(grove_db *db, const char *key, grove_err *err)
{
    config_arg a;

    if (!key || !*key)
        return grove_fail(err, GROVE_EINVAL, "config key is empty");
    a.key = key;
    a.value = NULL;
    a.is_encrypted = 0;
    return db_txn(db, config_write_fn, &a, err) == 0 ? 0 : -1;
}

void db_config_list_free(grove_config_list *list)
{
    size_t i;

    if (!list)
        return;
    for (i = 0; i < list->n; i++) {
        free(list->v[i].key);
        free(list->v[i].value);
        free(list->v[i].updated_at);
    }
    free(list->v);
    memset(list, 0, sizeof(*list));
}

int db_config_list(grove_db *db, grove_config_list *out, grove_err *err)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    int rc, ret = -1;

    memset(out, 0, sizeof(*out));
    if (db_stmt(db, SQL_CONFIG_LIST, &st, err) != 0)
        goto done;
    for (rc = db_step_first(db, st); rc == SQLITE_ROW; rc = sqlite3_step(st)) {
        grove_config_entry *e;
        int oom = 0;

        if (grow((void **)&out->v, &cap, out->n, sizeof(*out->v)) != 0) {
            grove_nomem(err);
            goto done;
        }
        e = &out->v[out->n++];
        e->key = col_strdup(st, 0, &oom);
        e->value = col_strdup(st, 1, &oom);
        e->is_encrypted = sqlite3_column_int(st, 2) != 0;
        e->updated_at = col_strdup(st, 3, &oom);
        if (oom) {
            grove_nomem(err);
            goto done;
        }
    }
    if (rc != SQLITE_DONE) {
        db_fail(db, rc, "cannot list settings", err);
        goto done;
    }
    ret = 0;
done:
    db_stmt_release(db, st);
    if (ret != 0)
        db_config_list_free(out);
    return ret;
}

/* ---- instance updates and feedback ---------------------------------------- */

static const char SQL_SET_AGENT[] =
    "UPDATE grove_instances SET tmux_session = ?2, agent_pid = ?3 WHERE id = ?1";
static const char SQL_TERMINATE[] =
    "UPDATE grove_instances SET status = 'terminated',"
    " terminated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),"
    " agent_state_since = CASE agent_state WHEN 'none' THEN agent_state_since WHEN 'exited'"
    "  THEN agent_state_since ELSE strftime('%Y-%m-%dT%H:%M:%fZ', 'now') END,"
    " agent_state = CASE agent_state WHEN 'none' THEN 'none' ELSE 'exited' END"
    " WHERE id = ?1 AND status = 'running'";
/* A launch (or relaunch) of the agent of ?1: profile ?2, CLI session id ?3 (NULL: none known). */
static const char SQL_AGENT_LAUNCHED[] =
    "UPDATE grove_instances SET agent_profile = ?2, agent_session_id = ?3,"
    " agent_state = 'starting', agent_state_since = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),"
    " status = 'running', terminated_at = NULL WHERE id = ?1";
/* ?2 the new state of running instance ?1, written only when it changes. */
static const char SQL_AGENT_STATE[] =
    "UPDATE grove_instances SET agent_state = ?2,"
    " agent_state_since = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
    " WHERE id = ?1 AND status = 'running' AND agent_state <> ?2 AND agent_state <> 'none'";
/* The CLI's own session id ?2 of running instance ?1 (a hook tells it). */
static const char SQL_AGENT_SESSION[] =
    "UPDATE grove_instances SET agent_session_id = ?2 WHERE id = ?1 AND status = 'running'"
    " AND agent_session_id IS NOT ?2";
static const char SQL_MERGE_METADATA[] =
    "UPDATE grove_instances SET metadata = json_patch(COALESCE(metadata, '{}'), ?2) WHERE id = ?1";
static const char SQL_METADATA[] = "SELECT metadata FROM grove_instances WHERE id = ?1";
static const char SQL_PARENT[] =
    "SELECT parent_instance FROM grove_instance_relationships WHERE child_instance = ?1"
    " ORDER BY created_at, id LIMIT 1";
/*
 * Runs before every read of instances: the partial index of migration 0003
 * holds just these rows (named: without ANALYZE statistics SQLite would
 * rather walk every running instance through the status index).
 */
static const char SQL_WITH_AGENTS[] =
    "SELECT id, tmux_session, agent_pid, json_extract(metadata, '$.agent_start'),"
    " agent_profile, agent_state,"
    " (julianday('now') - julianday(COALESCE(agent_state_since, created_at))) * 86400.0"
    " FROM grove_instances INDEXED BY grove_instances_agents"
    " WHERE status = 'running' AND (tmux_session IS NOT NULL OR agent_pid IS NOT NULL)"
    " ORDER BY created_at, id";
static const char SQL_FEEDBACK_INSERT[] =
    "INSERT INTO grove_feedback (from_instance, to_instance, feedback_type, priority, feedback)"
    " VALUES (?1, ?2, ?3, COALESCE(?4, 'medium'), ?5)";
static const char SQL_FEEDBACK_DELIVERED[] =
    "UPDATE grove_feedback SET delivered = ?2 WHERE id = ?1";

/* One UPDATE/INSERT with up to four text-or-integer parameters, run in db_txn(). */
typedef struct write_args {
    const char *sql;
    const char *what;
    int n;
    struct {
        const char *s; /* text, or NULL with is_int = 0 for SQL NULL */
        long long i;
        int is_int;
    } v[8];
    int changes;            /* out: rows changed */
    long long last_rowid;   /* out: rowid of an INSERT */
    const char *must_exist; /* when set: this instance id must exist first */
} write_args;

/* The running instances' branches, oldest first (index grove_instances_status_created). */
static const char SQL_RUNNING_BRANCHES[] =
    "SELECT id, branch_name, base_branch FROM grove_instances WHERE status = 'running'"
    " ORDER BY created_at, id";
static const char SQL_RUNNING_ON_BRANCH[] =
    "SELECT id, branch_name, base_branch, created_at FROM grove_instances"
    " WHERE branch_name = ?1 AND status = 'running'";
/* The running instances whose branch is outside [?1, ?2): each side a range of the branch
 * index (`+status`: not the status indexes, which would read every running row). */
static const char SQL_RUNNING_OFF_PREFIX[] =
    "SELECT id, branch_name, base_branch, created_at FROM grove_instances"
    " WHERE branch_name < ?1 AND +status = 'running'"
    " UNION ALL SELECT id, branch_name, base_branch, created_at FROM grove_instances"
    " WHERE branch_name >= ?2 AND +status = 'running'";
static const char SQL_PORT_BLOCKS[] =
    "SELECT p.instance_id, i.status, p.first_port, p.port_count FROM grove_port_blocks p"
    " LEFT JOIN grove_instances i ON i.id = p.instance_id ORDER BY p.first_port, p.id";
static const char SQL_PORT_BLOCK_SET[] =
    "INSERT INTO grove_port_blocks (instance_id, first_port, port_count) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (instance_id) DO UPDATE SET first_port = excluded.first_port,"
    " port_count = excluded.port_count, created_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";
static const char SQL_PORT_BLOCK_DELETE[] = "DELETE FROM grove_port_blocks WHERE instance_id = ?1";

static int write_fn(grove_db *db, void *arg, grove_err *err)
{
    write_args *a = arg;
    sqlite3_stmt *st = NULL;
    int ret, k;

    if (a->must_exist) {
        ret = instance_exists(db, a->must_exist, err);
        if (ret < 0)
            return ret;
        if (ret == 0)
            return grove_fail(err, GROVE_ENOTFOUND, "instance '%s' not found", a->must_exist);
    }
    if ((ret = db_stmt(db, a->sql, &st, err)) != 0)
        return ret;
    for (k = 0; k < a->n; k++) {
        int rc = a->v[k].is_int ? sqlite3_bind_int64(st, k + 1, a->v[k].i)
                                : db_bind_text(st, k + 1, a->v[k].s);

        if (rc != SQLITE_OK) {
            ret = bind_fail(db, err);
            goto done;
        }
    }
    ret = step_done(db, st, a->what, err);
    if (ret == 0) {
        a->changes = sqlite3_changes(db_sqlite(db));
        a->last_rowid = sqlite3_last_insert_rowid(db_sqlite(db));
    }
done:
    db_stmt_release(db, st);
    return ret;
}

static int run_write(grove_db *db, write_args *a, grove_err *err)
{
    return db_txn(db, write_fn, a, err) == 0 ? 0 : -1;
}

int db_instance_set_agent(grove_db *db, const char *id, const char *session, long long pid,
                          grove_err *err)
{
    write_args a = {SQL_SET_AGENT, "cannot record the agent", 3, {{0}}, 0, 0, id};

    a.v[0].s = id;
    a.v[1].s = session && *session ? session : NULL;
    if (pid > 0) {
        a.v[2].i = pid;
        a.v[2].is_int = 1;
    }
    return run_write(db, &a, err);
}

int db_instance_agent_launched(grove_db *db, const char *id, const char *profile,
                               const char *session_id, grove_err *err)
{
    write_args a = {SQL_AGENT_LAUNCHED, "cannot record the agent's launch", 3, {{0}}, 0, 0, id};

    a.v[0].s = id;
    a.v[1].s = profile;
    a.v[2].s = session_id && *session_id ? session_id : NULL;
    return run_write(db, &a, err);
}

int db_instance_set_agent_state(grove_db *db, const char *id, const char *state, int *changed,
                                grove_err *err)
{
    write_args a = {SQL_AGENT_STATE, "cannot record the agent's state", 2, {{0}}, 0, 0, id};

    if (changed)
        *changed = 0;
    if (!one_of(state, AGENT_STATES) || strcmp(state, "none") == 0)
        return grove_fail(err, GROVE_EINVAL, "invalid agent state '%s'", state ? state : "");
    a.v[0].s = id;
    a.v[1].s = state;
    if (run_write(db, &a, err) != 0)
        return -1;
    if (changed)
        *changed = a.changes > 0;
    return 0;
}

int db_instance_set_agent_session(grove_db *db, const char *id, const char *session_id,
                                  grove_err *err)
{
    write_args a = {SQL_AGENT_SESSION, "cannot record the agent's session id", 2, {{0}}, 0, 0, id};

    a.v[0].s = id;
    a.v[1].s = session_id;
    return run_write(db, &a, err);
}

int db_instance_terminate(grove_db *db, const char *id, int *changed, grove_err *err)
{
    write_args a = {SQL_TERMINATE, "cannot mark the instance terminated", 1, {{0}}, 0, 0, id};

    a.v[0].s = id;
    if (run_write(db, &a, err) != 0)
        return -1;
    if (changed)
        *changed = a.changes > 0;
    return 0;
}

int db_instance_merge_metadata(grove_db *db, const char *id, const json_t *patch, grove_err *err)
{
    write_args a = {SQL_MERGE_METADATA, "cannot update the metadata", 2, {{0}}, 0, 0, id};
    char *text = json_dumps(patch, JSON_COMPACT);
    int rc;

    if (!json_is_object(patch)) {
        free(text);
        return grove_fail(err, GROVE_EINVAL, "metadata patch must be an object");
    }
    if (!text)
        return grove_nomem(err);
    a.v[0].s = id;
    a.v[1].s = text;
    rc = run_write(db, &a, err);
    free(text);
    return rc;
}

/* Runs a one-column lookup by id; *out gets a malloc'd copy of the text, NULL when no row/NULL. */
static int lookup_text(grove_db *db, const char *sql, const char *id, char **out, int *found,
                       const char *what, grove_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc, ret = 0, oom = 0;

    *out = NULL;
    *found = 0;
    if (db_stmt(db, sql, &st, err) != 0)
        return -1;
    if (db_bind_text(st, 1, id) != SQLITE_OK) {
        ret = bind_fail(db, err);
        goto done;
    }
    rc = db_step_first(db, st);
    if (rc == SQLITE_ROW) {
        *found = 1;
        *out = col_strdup(st, 0, &oom);
        if (oom)
            ret = grove_nomem(err);
    } else if (rc != SQLITE_DONE) {
        ret = db_fail(db, rc, what, err);
    }
done:
    db_stmt_release(db, st);
    return ret == 0 ? 0 : -1;
}

int db_instance_metadata(grove_db *db, const char *id, json_t **out, grove_err *err)
{
    char *text = NULL;
    int found;

    *out = NULL;
    if (lookup_text(db, SQL_METADATA, id, &text, &found, "cannot read the metadata", err) != 0)
        return -1;
    if (!found)
        return grove_fail(err, GROVE_ENOTFOUND, "instance '%s' not found", id);
    *out = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = json_object();
    }
    return *out ? 0 : grove_nomem(err);
}

int db_instance_parent(grove_db *db, const char *id, char **out, grove_err *err)
{
    int found;

    return lookup_text(db, SQL_PARENT, id, out, &found, "cannot read the parent", err);
}

void db_agent_list_free(grove_agent_list *list)
{
    size_t i;

    if (!list)
        return;
    for (i = 0; i < list->n; i++) {
        free(list->v[i].id);
        free(list->v[i].session);
        free(list->v[i].profile);
        free(list->v[i].state);
    }
    free(list->v);
    memset(list, 0, sizeof(*list));
}

int db_instances_with_agents(grove_db *db, grove_agent_list *out, grove_err *err)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    int rc, ret = 0;

    memset(out, 0, sizeof(*out));
    if (db_stmt(db, SQL_WITH_AGENTS, &st, err) != 0)
        return -1;
    for (rc = db_step_first(db, st); rc == SQLITE_ROW; rc = sqlite3_step(st)) {
        grove_agent *a;
        int oom = 0;

        if (grow((void **)&out->v, &cap, out->n, sizeof(*out->v)) != 0) {
            ret = grove_nomem(err);
            break;
        }
        a = &out->v[out->n++];
        a->id = col_strdup(st, 0, &oom);
        a->session = col_strdup(st, 1, &oom);
        a->pid = col_int64(st, 2);
        a->start = (unsigned long long)col_int64(st, 3);
        a->profile = col_strdup(st, 4, &oom);
        a->state = col_strdup(st, 5, &oom);
        a->state_age_s = sqlite3_column_double(st, 6);
        if (oom) {
            ret = grove_nomem(err);
            break;
        }
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = db_fail(db, rc, "cannot list running agents", err);
    db_stmt_release(db, st);
    if (ret != 0) {
        db_agent_list_free(out);
        return -1;
    }
    return 0;
}

/*
 * Prefix completion of ids as a range on the primary key: every id that
 * starts with ?1 sorts in [?1, ?1 || U+10FFFF) (binary collation, and no
 * id holds a character above U+10FFFF), so no LIKE pattern needs escaping.
 */
static const char SQL_IDS_PREFIX[] =
    "SELECT id FROM grove_instances WHERE id >= ?1 AND id < ?1 || char(1114111)"
    " ORDER BY status <> 'running', id LIMIT ?2";
static const char SQL_IDS_PREFIX_COUNT[] =
    "SELECT count(*) FROM grove_instances WHERE id >= ?1 AND id < ?1 || char(1114111)";

/* Issue names for completion: ?1 a prefix compared as bytes, ?2 the limit. */
#define SQL_ISSUES_CTE                                                                             \
    "WITH issue(name, open, busy) AS ("                                                            \
    " SELECT CAST(number AS TEXT), 1, 0 FROM grove_github_issues WHERE state = 'open'"             \
    " UNION ALL SELECT CAST(issue_number AS TEXT), status = 'running', status = 'running'"         \
    "  FROM grove_instances WHERE issue_number IS NOT NULL"                                        \
    " UNION ALL SELECT beads_id, status = 'running', status = 'running'"                           \
    "  FROM grove_instances WHERE beads_id IS NOT NULL),"                                          \
    " hit AS (SELECT name, max(open) AS open, max(busy) AS busy FROM issue"                        \
    "  WHERE substr(CAST(name AS BLOB), 1, length(CAST(?1 AS BLOB))) = CAST(?1 AS BLOB)"           \
    "  GROUP BY name) "
static const char SQL_ISSUES_PREFIX[] =
    SQL_ISSUES_CTE "SELECT name FROM hit ORDER BY busy, open DESC, CAST(name AS INTEGER) DESC, name"
                   " LIMIT ?2";
static const char SQL_ISSUES_PREFIX_COUNT[] = SQL_ISSUES_CTE "SELECT count(*) FROM hit";

void db_name_list_free(grove_name_list *list)
{
    size_t i;

    if (!list)
        return;
    for (i = 0; i < list->n; i++)
        free(list->v[i]);
    free(list->v);
    memset(list, 0, sizeof(*list));
}

/* The names `sql` (?1 prefix, ?2 limit) returns, counted by `count_sql`; `what` for errors. */
static int names_with_prefix(grove_db *db, const char *count_sql, const char *sql, const char *what,
                             const char *prefix, size_t max, grove_name_list *out, grove_err *err)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    int rc, ret = 0;

    memset(out, 0, sizeof(*out));
    if (db_stmt(db, count_sql, &st, err) != 0)
        return -1;
    if (db_bind_text(st, 1, prefix) != SQLITE_OK)
        ret = db_fail(db, SQLITE_NOMEM, what, err);
    else if ((rc = db_step_first(db, st)) == SQLITE_ROW)
        out->total = (size_t)col_int64(st, 0);
    else
        ret = db_fail(db, rc, what, err);
    db_stmt_release(db, st);
    st = NULL;
    if (ret != 0 || max == 0 || out->total == 0)
        return ret;
    if (db_stmt(db, sql, &st, err) != 0)
        return -1;
    if (db_bind_text(st, 1, prefix) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, (sqlite3_int64)max) != SQLITE_OK) {
        ret = db_fail(db, SQLITE_NOMEM, what, err);
        goto done;
    }
    for (rc = db_step_first(db, st); rc == SQLITE_ROW; rc = sqlite3_step(st)) {
        int oom = 0;

        if (grow((void **)&out->v, &cap, out->n, sizeof(*out->v)) != 0) {
            ret = grove_nomem(err);
            break;
        }
        out->v[out->n] = col_strdup(st, 0, &oom);
        if (oom || !out->v[out->n]) {
            ret = grove_nomem(err);
            break;
        }
        out->n++;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = db_fail(db, rc, what, err);
done:
    db_stmt_release(db, st);
    if (ret != 0)
        db_name_list_free(out);
    /* rows added between the two statements: total is never below what is returned */
    if (ret == 0 && out->total < out->n)
        out->total = out->n;
    return ret;
}

int db_instance_ids_with_prefix(grove_db *db, const char *prefix, size_t max, grove_name_list *out,
                                grove_err *err)
{
    return names_with_prefix(db, SQL_IDS_PREFIX_COUNT, SQL_IDS_PREFIX,
                             "cannot complete instance ids", prefix, max, out, err);
}

int db_issues_with_prefix(grove_db *db, const char *prefix, size_t max, grove_name_list *out,
                          grove_err *err)
{
    return names_with_prefix(db, SQL_ISSUES_PREFIX_COUNT, SQL_ISSUES_PREFIX,
                             "cannot complete issues", prefix, max, out, err);
}

int db_feedback_insert(grove_db *db, const db_new_feedback *in, long long *id, grove_err *err)
{
    write_args a = {SQL_FEEDBACK_INSERT, "cannot store the feedback", 5, {{0}}, 0, 0,
                    in->to_instance};

    a.v[0].s = in->from_instance;
    a.v[1].s = in->to_instance;
    a.v[2].s = in->feedback_type;
    a.v[3].s = in->priority;
    a.v[4].s = in->feedback;
    if (run_write(db, &a, err) != 0)
        return -1;
    *id = a.last_rowid;
    return 0;
}

int db_feedback_set_delivered(grove_db *db, long long id, int delivered, grove_err *err)
{
    write_args a = {SQL_FEEDBACK_DELIVERED, "cannot update the feedback", 2, {{0}}, 0, 0, NULL};

    a.v[0].i = id;
    a.v[0].is_int = 1;
    a.v[1].i = delivered ? 1 : 0;
    a.v[1].is_int = 1;
    return run_write(db, &a, err);
}

static const char SQL_SET_PR[] =
    "UPDATE grove_instances SET pr_number = ?2, pr_url = ?3 WHERE id = ?1";
static const char SQL_ISSUE_UPSERT[] =
    "INSERT INTO grove_github_issues (repo, number, title, body, state, html_url, labels)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    " ON CONFLICT (repo, number) DO UPDATE SET title = excluded.title, body = excluded.body,"
    " state = excluded.state, html_url = excluded.html_url, labels = excluded.labels,"
    " fetched_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

int db_instance_set_pr(grove_db *db, const char *id, long long number, const char *url,
                       grove_err *err)
{
    write_args a = {SQL_SET_PR, "cannot record the pull request", 3, {{0}}, 0, 0, id};

    a.v[0].s = id;
    a.v[1].i = number;
    a.v[1].is_int = 1;
    a.v[2].s = url;
    return run_write(db, &a, err);
}

int db_github_issue_upsert(grove_db *db, const db_github_issue *in, grove_err *err)
{
    write_args a = {SQL_ISSUE_UPSERT, "cannot cache the GitHub issue", 7, {{0}}, 0, 0, NULL};
    json_t *names = json_array();
    char *labels;
    size_t i;
    int rc;

    for (i = 0; names && i < in->nlabels; i++)
        if (json_array_append_new(names, json_string(in->labels[i])) != 0) {
            json_decref(names);
            names = NULL;
        }
    labels = names ? json_dumps(names, JSON_COMPACT) : NULL; /* a JSON column */
    json_decref(names);
    if (!labels)
        return grove_nomem(err);
    a.v[0].s = in->repo;
    a.v[1].i = in->number;
    a.v[1].is_int = 1;
    a.v[2].s = in->title ? in->title : "";
    a.v[3].s = in->body;
    a.v[4].s = in->state ? in->state : "unknown";
    a.v[5].s = in->html_url;
    a.v[6].s = labels;
    rc = run_write(db, &a, err);
    free(labels);
    return rc;
}

void db_port_block_list_free(grove_port_block_list *list)
{
    size_t i;

    if (!list)
        return;
    for (i = 0; i < list->n; i++) {
        free(list->v[i].instance_id);
        free(list->v[i].status);
    }
    free(list->v);
    memset(list, 0, sizeof(*list));
}

int db_port_blocks(grove_db *db, grove_port_block_list *out, grove_err *err)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    int rc, ret = -1;

    memset(out, 0, sizeof(*out));
    if (db_stmt(db, SQL_PORT_BLOCKS, &st, err) != 0)
        goto done;
    for (rc = db_step_first(db, st); rc == SQLITE_ROW; rc = sqlite3_step(st)) {
        grove_port_block *b;
        int oom = 0;

        if (grow((void **)&out->v, &cap, out->n, sizeof(*out->v)) != 0) {
            grove_nomem(err);
            goto done;
        }
        b = &out->v[out->n++];
        b->instance_id = col_strdup(st, 0, &oom);
        b->status = col_strdup(st, 1, &oom);
        b->first = col_int64(st, 2);
        b->count = col_int64(st, 3);
        if (oom) {
            grove_nomem(err);
            goto done;
        }
    }
    if (rc != SQLITE_DONE) {
        db_fail(db, rc, "cannot read the port blocks", err);
        goto done;
    }
    ret = 0;
done:
    db_stmt_release(db, st);
    if (ret != 0)
        db_port_block_list_free(out);
    return ret;
}

int db_port_block_set(grove_db *db, const char *id, long long first, long long count,
                      grove_err *err)
{
    write_args a = {SQL_PORT_BLOCK_SET, "cannot record the port block", 3, {{0}}, 0, 0, NULL};

    a.v[0].s = id;
    a.v[1].i = first;
    a.v[1].is_int = 1;
    a.v[2].i = count;
    a.v[2].is_int = 1;
    return run_write(db, &a, err);
}

int db_port_block_delete(grove_db *db, const char *id, grove_err *err)
{
    write_args a = {SQL_PORT_BLOCK_DELETE, "cannot delete the port block", 1, {{0}}, 0, 0, NULL};

    a.v[0].s = id;
    return run_write(db, &a, err);
}

/* ---- landing and checkpoint lists ----------------------------------------- */

static const char SQL_SET_LANDED[] =
    "UPDATE grove_instances SET landed_commit = ?2,"
    " landed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?1";
static const char SQL_CHECKPOINT_LIST[] =
    SQL_CHECKPOINT_SELECT "WHERE instance_id = ?1 ORDER BY sequence LIMIT ?2";
/* A review of ?1 whose reviewed commit is ?2 and that approved ?1 since it was made. */
static const char SQL_REVIEW_APPROVED[] =
    "SELECT 1 FROM grove_instance_relationships r"
    " JOIN grove_instances v ON v.id = r.child_instance"
    " JOIN grove_feedback f ON f.from_instance = v.id AND f.to_instance = r.parent_instance"
    " WHERE r.parent_instance = ?1 AND r.relationship_type = 'spawned_review'"
    " AND v.base_commit = ?2 AND f.feedback_type = 'approved' AND f.created_at >= v.created_at"
    " LIMIT 1";

int db_instance_set_landed(grove_db *db, const char *id, const char *commit, grove_err *err)
{
    write_args a = {SQL_SET_LANDED, "cannot record the landed commit", 2, {{0}}, 0, 0, id};

    a.v[0].s = id;
    a.v[1].s = commit;
    return run_write(db, &a, err);
}

int db_checkpoint_list(grove_db *db, const char *instance_id, size_t max, grove_checkpoint **out,
                       size_t *n, grove_err *err)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    int rc, ret = 0;

    *out = NULL;
    *n = 0;
    if (db_stmt(db, SQL_CHECKPOINT_LIST, &st, err) != 0)
        return -1;
    if (db_bind_text(st, 1, instance_id) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, (sqlite3_int64)max) != SQLITE_OK) {
        ret = bind_fail(db, err);
        goto done;
    }
    for (rc = db_step_first(db, st); rc == SQLITE_ROW; rc = sqlite3_step(st)) {
        if (grow((void **)out, &cap, *n, sizeof(**out)) != 0 ||
            checkpoint_read(st, &(*out)[(*n)++]) != 0) {
            ret = grove_nomem(err);
            goto done;
        }
    }
    if (rc != SQLITE_DONE)
        ret = db_fail(db, rc, "cannot read the checkpoints", err);
done:
    db_stmt_release(db, st);
    return ret == 0 ? 0 : -1;
}

int db_review_approved(grove_db *db, const char *id, const char *head, int *approved,
                       grove_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc, ret = 0;

    *approved = 0;
    if (db_stmt(db, SQL_REVIEW_APPROVED, &st, err) != 0)
        return -1;
    if (db_bind_text(st, 1, id) != SQLITE_OK || db_bind_text(st, 2, head) != SQLITE_OK) {
        ret = bind_fail(db, err);
        goto done;
    }
    rc = db_step_first(db, st);
    if (rc == SQLITE_ROW)
        *approved = 1;
    else if (rc != SQLITE_DONE)
        ret = db_fail(db, rc, "cannot read the reviews", err);
done:
    db_stmt_release(db, st);
    return ret == 0 ? 0 : -1;
}

int db_running_branches(grove_db *db, grove_instance_list *out, grove_err *err)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    int rc, ret = -1;

    memset(out, 0, sizeof(*out));
    if (db_stmt(db, SQL_RUNNING_BRANCHES, &st, err) != 0)
        goto done;
    for (rc = db_step_first(db, st); rc == SQLITE_ROW; rc = sqlite3_step(st)) {
        grove_instance *v;
        int oom = 0;

        if (grow((void **)&out->v, &cap, out->n, sizeof(*out->v)) != 0) {
            grove_nomem(err);
            goto done;
        }
        v = &out->v[out->n++];
        memset(v, 0, sizeof(*v));
        v->id = col_strdup(st, 0, &oom);
        v->branch_name = col_strdup(st, 1, &oom);
        v->base_branch = col_strdup(st, 2, &oom);
        v->status = strdup("running");
        if (oom || !v->status) {
            grove_nomem(err);
            goto done;
        }
    }
    if (rc != SQLITE_DONE) {
        db_fail(db, rc, "cannot read the running instances", err);
        goto done;
    }
    ret = 0;
done:
    db_stmt_release(db, st);
    if (ret != 0)
        db_instance_list_free(out);
    return ret;
}

/* Oldest first, then by id: the order of SQL_RUNNING_BRANCHES. */
static int cmp_created(const void *pa, const void *pb)
{
    const grove_instance *a = pa, *b = pb;
    int c = strcmp(a->created_at, b->created_at);

    return c ? c : strcmp(a->id, b->id);
}

/* Appends the rows of `st` (bound, not yet stepped) to out; SQLITE_DONE when all were read. */
static int running_rows(grove_db *db, sqlite3_stmt *st, grove_instance_list *out, size_t *cap)
{
    int rc;

    for (rc = db_step_first(db, st); rc == SQLITE_ROW; rc = sqlite3_step(st)) {
        grove_instance *v;
        int oom = 0;

        if (grow((void **)&out->v, cap, out->n, sizeof(*out->v)) != 0)
            return SQLITE_NOMEM;
        v = &out->v[out->n++];
        memset(v, 0, sizeof(*v));
        v->id = col_strdup(st, 0, &oom);
        v->branch_name = col_strdup(st, 1, &oom);
        v->base_branch = col_strdup(st, 2, &oom);
        v->created_at = col_strdup(st, 3, &oom);
        v->status = strdup("running");
        if (oom || !v->status)
            return SQLITE_NOMEM;
    }
    return rc;
}

int db_running_on_branches(grove_db *db, const char *prefix, char *const *branches, size_t n,
                           grove_instance_list *out, grove_err *err)
{
    sqlite3_stmt *st = NULL;
    char *end = NULL; /* owned: the least string above every string starting with prefix */
    size_t cap = 0, i, len = strlen(prefix);
    int rc = SQLITE_DONE, ret = -1;

    memset(out, 0, sizeof(*out));
    if (db_stmt(db, SQL_RUNNING_ON_BRANCH, &st, err) != 0)
        goto done;
    for (i = 0; i < n && rc == SQLITE_DONE; i++) {
        if (i > 0 && strcmp(branches[i], branches[i - 1]) == 0)
            continue; /* a sorted list's duplicate */
        sqlite3_reset(st);
        if ((rc = db_bind_text(st, 1, branches[i])) == SQLITE_OK)
            rc = running_rows(db, st, out, &cap);
    }
    db_stmt_release(db, st);
    st = NULL;
    /* Branches named under another prefix (branch.prefix changed since they were made). */
    while (len > 0 && (unsigned char)prefix[len - 1] == 0xff)
        len--;
    if (rc == SQLITE_DONE && len > 0) {
        if (!(end = strndup(prefix, len))) {
            grove_nomem(err);
            goto done;
        }
        end[len - 1]++;
        if (db_stmt(db, SQL_RUNNING_OFF_PREFIX, &st, err) != 0)
            goto done;
        if ((rc = db_bind_text(st, 1, prefix)) == SQLITE_OK &&
            (rc = db_bind_text(st, 2, end)) == SQLITE_OK)
            rc = running_rows(db, st, out, &cap);
    }
    if (rc == SQLITE_NOMEM) {
        grove_nomem(err);
        goto done;
    }
    if (rc != SQLITE_DONE) {
        db_fail(db, rc, "cannot read the running instances", err);
        goto done;
    }
    if (out->n > 1)
        qsort(out->v, out->n, sizeof(*out->v), cmp_created);
    ret = 0;
done:
    db_stmt_release(db, st);
    free(end);
    if (ret != 0)
        db_instance_list_free(out);
    return ret;
}

/* ---- agent hooks -------------------------------------------------------- */

static const char SQL_HOOK_INSTANCE[] = "SELECT status FROM grove_instances WHERE id = ?1";

typedef struct hook_arg {
    const db_hook *in;
    const char *metadata; /* compact JSON text */
    db_hook_result *out;
} hook_arg;

/* db_txn body of db_hook_record(): the state, the session id and the event, or none of them. */
static int hook_fn(grove_db *db, void *arg, grove_err *err)
{
    hook_arg *h = arg;
    sqlite3_stmt *st = NULL;
    db_new_event ev = {0};
    event_arg ea;
    write_args w = {SQL_AGENT_STATE, "cannot record the agent's state", 2, {{0}}, 0, 0, NULL};
    int ret, rc;

    memset(h->out, 0, sizeof(*h->out));
    if ((ret = db_stmt(db, SQL_HOOK_INSTANCE, &st, err)) != 0)
        return ret;
    if (db_bind_text(st, 1, h->in->instance_id) != SQLITE_OK) {
        ret = bind_fail(db, err);
        db_stmt_release(db, st);
        return ret;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const unsigned char *s = sqlite3_column_text(st, 0);

        h->out->found = 1;
        h->out->running = s && strcmp((const char *)s, "running") == 0;
    } else if (rc != SQLITE_DONE) {
        ret = db_fail(db, rc, "cannot read the instance", err);
        db_stmt_release(db, st);
        return ret;
    }
    db_stmt_release(db, st);
    if (!h->out->found || !h->out->running)
        return 0; /* nothing is written for an unknown or ended instance */
    if (h->in->state) {
        w.v[0].s = h->in->instance_id;
        w.v[1].s = h->in->state;
        if ((ret = write_fn(db, &w, err)) != 0)
            return ret;
        h->out->changed = w.changes > 0;
    }
    if (h->in->session_id && *h->in->session_id) {
        write_args s = {
            SQL_AGENT_SESSION, "cannot record the agent's session id", 2, {{0}}, 0, 0, NULL};

        s.v[0].s = h->in->instance_id;
        s.v[1].s = h->in->session_id;
        if ((ret = write_fn(db, &s, err)) != 0)
            return ret;
    }
    ev.instance_id = h->in->instance_id;
    ev.tool_name = h->in->event_name;
    ev.success = 1;
    ea.in = &ev;
    ea.metadata = h->metadata;
    ea.duration_ms = h->in->duration_ms > 0 ? h->in->duration_ms : 0;
    if ((ret = event_insert_fn(db, &ea, err)) != 0)
        return ret;
    h->out->recorded = 1;
    return 0;
}

int db_hook_record(grove_db *db, const db_hook *in, db_hook_result *out, grove_err *err)
{
    hook_arg h = {in, NULL, out};
    char *meta = NULL;
    int ret;

    memset(out, 0, sizeof(*out));
    if (!in->instance_id || !in->event_name || !*in->event_name)
        return grove_fail(err, GROVE_EINVAL, "a hook needs an instance and an event name");
    if (in->state && (!one_of(in->state, AGENT_STATES) || strcmp(in->state, "none") == 0))
        return grove_fail(err, GROVE_EINVAL, "invalid agent state '%s'", in->state);
    if (in->metadata && !json_is_object(in->metadata))
        return grove_fail(err, GROVE_EINVAL, "hook metadata must be a JSON object");
    if (in->metadata && !(meta = json_dumps(in->metadata, JSON_COMPACT)))
        return grove_nomem(err);
    h.metadata = meta ? meta : "{}";
    ret = db_txn_relaxed(db, hook_fn, &h, err);
    free(meta);
    return ret == 0 ? 0 : -1;
}

/* ---- resource versions (subscriptions) --------------------------------------- */

/* What resources show of an instance, as one text; changes with any of it. */
#define SQL_INSTANCE_PRINT                                                                         \
    "i.id || '|' || i.status || '|' || i.agent_state || '|' ||"                                    \
    " COALESCE(i.agent_state_since, '') || '|' || COALESCE(i.landed_commit, '') || '|' ||"         \
    " COALESCE(i.pr_number, '') || '|' || COALESCE(i.tmux_session, '') || '|' ||"                  \
    " COALESCE(i.agent_pid, '') || '|' || COALESCE((SELECT max(c.sequence) FROM"                   \
    " grove_checkpoints c WHERE c.instance_id = i.id), 0)"
static const char SQL_PRINT_ONE[] =
    "SELECT " SQL_INSTANCE_PRINT " FROM grove_instances i WHERE i.id = ?1";
static const char SQL_PRINT_RUNNING[] =
    "SELECT group_concat(p, ';') FROM (SELECT " SQL_INSTANCE_PRINT " AS p FROM grove_instances i"
    " WHERE i.status = 'running' ORDER BY i.created_at, i.id)";
static const char SQL_RUNNING_IDS[] =
    "SELECT COALESCE(group_concat(id, ';'), '') FROM (SELECT id FROM grove_instances"
    " WHERE status = 'running' ORDER BY created_at, id)";
static const char SQL_LAST_EVENT[] = "SELECT COALESCE(max(id), 0) FROM grove_mcp_events";

/* The one text column of the one row of `sql` (?1 = arg, may be NULL) into *out; *found. */
static int one_text(grove_db *db, const char *sql, const char *arg, char **out, int *found,
                    grove_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc, oom = 0;

    *out = NULL;
    *found = 0;
    if (db_stmt(db, sql, &st, err) != 0)
        return -1;
    if (arg && db_bind_text(st, 1, arg) != SQLITE_OK) {
        rc = bind_fail(db, err);
        db_stmt_release(db, st);
        return rc;
    }
    rc = db_step_first(db, st);
    if (rc == SQLITE_ROW) {
        *found = 1;
        *out = sqlite3_column_type(st, 0) == SQLITE_NULL ? strdup("") : col_strdup(st, 0, &oom);
        if (!*out)
            oom = 1;
    }
    db_stmt_release(db, st);
    if (oom)
        return grove_nomem(err);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        if (db_fail(db, rc, "cannot read the database", err) == DB_RETRY)
            grove_fail(err, GROVE_EDB, "cannot read the database: it stays locked");
        return -1;
    }
    return 0;
}

int db_instance_print(grove_db *db, const char *id, char **out, grove_err *err)
{
    int found = 0;

    if (one_text(db, id ? SQL_PRINT_ONE : SQL_PRINT_RUNNING, id, out, &found, err) != 0)
        return -1;
    if (!found)
        return grove_fail(err, GROVE_ENOTFOUND, "instance '%s' not found", id ? id : "");
    return 0;
}

int db_running_ids_print(grove_db *db, char **out, grove_err *err)
{
    int found = 0;

    return one_text(db, SQL_RUNNING_IDS, NULL, out, &found, err);
}

int db_last_event_print(grove_db *db, char **out, grove_err *err)
{
    int found = 0;

    return one_text(db, SQL_LAST_EVENT, NULL, out, &found, err);
}
