/*
 * bench-explain: EXPLAIN QUERY PLAN of the statements grove really runs for
 * the read tools. Calls the db layer as the tools do (db/queries.h) with
 * SQLite's statement trace on, collects each statement's SQL text, and
 * prints its query plan (unbound parameters: grove runs no ANALYZE, so the
 * planner decides without their values anyway). One JSON array on stdout.
 *
 *   bench-explain DB INSTANCE_ID
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "db/queries.h"

typedef struct trace {
    json_t *sqls; /* SQL texts of the current operation, in order, once each */
} trace;

static int on_trace(unsigned type, void *ctx, void *p, void *x)
{
    trace *t = ctx;
    const char *sql = sqlite3_sql((sqlite3_stmt *)p);
    size_t i;
    json_t *v;

    (void)type;
    (void)x;
    if (!sql || strncmp(sql, "EXPLAIN", 7) == 0)
        return 0;
    json_array_foreach(t->sqls, i, v) if (strcmp(json_string_value(v), sql) == 0) return 0;
    json_array_append_new(t->sqls, json_string(sql));
    return 0;
}

/* The plan of one statement as lines ("SEARCH i USING INDEX ..."), indented by depth. */
static json_t *plan_of(grove_db *db, const char *sql)
{
    sqlite3 *sq = db_sqlite(db);
    sqlite3_stmt *st = NULL;
    json_t *lines = json_array();
    char *text = NULL;
    int ids[64], depth[64], n = 0;

    if (asprintf(&text, "EXPLAIN QUERY PLAN %s", sql) < 0)
        return lines;
    if (sqlite3_prepare_v2(sq, text, -1, &st, NULL) != SQLITE_OK) {
        json_array_append_new(lines, json_string(sqlite3_errmsg(sq)));
        free(text);
        return lines;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        int id = sqlite3_column_int(st, 0), parent = sqlite3_column_int(st, 1), d = 0, k;
        const char *detail = (const char *)sqlite3_column_text(st, 3);
        char line[1024];

        for (k = 0; k < n; k++)
            if (ids[k] == parent)
                d = depth[k] + 1;
        if (n < 64) {
            ids[n] = id;
            depth[n++] = d;
        }
        snprintf(line, sizeof(line), "%*s%s", 2 * d, "", detail ? detail : "");
        json_array_append_new(lines, json_string(line));
    }
    sqlite3_finalize(st);
    free(text);
    return lines;
}

static void report(json_t *out, grove_db *db, trace *t, const char *label)
{
    json_t *stmts = json_array(), *v;
    size_t i;

    json_array_foreach(t->sqls, i, v)
    {
        json_array_append_new(
            stmts, json_pack("{s:O, s:o}", "sql", v, "plan", plan_of(db, json_string_value(v))));
    }
    json_array_append_new(out, json_pack("{s:s, s:o}", "operation", label, "statements", stmts));
    json_array_clear(t->sqls);
}

int main(int argc, char **argv)
{
    grove_db *db = NULL;
    grove_err err = GROVE_ERR_INIT;
    trace t;
    json_t *out = json_array();
    char *next = NULL;
    grove_agent_list agents;
    grove_instance_list list;
    grove_instance inst;
    grove_relationship_list rels;
    grove_checkpoint cpo;
    grove_event_list events;
    int found;
    db_instance_filter fi;
    db_event_filter fe;

    if (argc != 3) {
        fprintf(stderr, "usage: bench-explain DB INSTANCE_ID\n");
        return 2;
    }
    if (db_open(&db, argv[1], NULL, &err) != 0) {
        fprintf(stderr, "bench-explain: %s\n", err.msg);
        return 1;
    }
    t.sqls = json_array();
    sqlite3_trace_v2(db_sqlite(db), SQLITE_TRACE_STMT, on_trace, &t);

    /* query_instances: liveness check, then the page */
    db_instances_with_agents(db, &agents, &err);
    db_agent_list_free(&agents);
    memset(&fi, 0, sizeof(fi));
    fi.status = "running";
    fi.limit = 50;
    db_instance_list(db, &fi, &list, &err);
    next = list.next_cursor;
    list.next_cursor = NULL;
    db_instance_list_free(&list);
    report(out, db, &t, "query_instances {status: running}");
    memset(&fi, 0, sizeof(fi));
    fi.limit = 50;
    fi.cursor = next;
    db_instance_list(db, &fi, &list, &err);
    next = list.next_cursor;
    list.next_cursor = NULL;
    db_instance_list_free(&list);
    free((char *)fi.cursor);
    report(out, db, &t, "query_instances {cursor} (next page, no filter)");

    /* get_instance */
    db_instances_with_agents(db, &agents, &err);
    db_agent_list_free(&agents);
    db_instance_get(db, argv[2], &inst, &err);
    db_instance_free(&inst);
    db_relationships(db, argv[2], &rels, &err);
    db_relationship_list_free(&rels);
    db_checkpoint_get(db, argv[2], NULL, &cpo, &found, &err);
    db_checkpoint_free(&cpo);
    report(out, db, &t, "get_instance");

    /* query_events variants */
    memset(&fe, 0, sizeof(fe));
    fe.success = -1;
    fe.limit = 50;
    db_event_list(db, &fe, &events, &err);
    db_event_list_free(&events);
    report(out, db, &t, "query_events {}");
    fe.instance_id = argv[2];
    db_event_list(db, &fe, &events, &err);
    db_event_list_free(&events);
    report(out, db, &t, "query_events {instance_id}");
    fe.instance_id = NULL;
    fe.tool = "log_checkpoint";
    db_event_list(db, &fe, &events, &err);
    db_event_list_free(&events);
    report(out, db, &t, "query_events {tool}");
    fe.tool = NULL;
    fe.success = 0;
    fe.since = "2026-01-01";
    db_event_list(db, &fe, &events, &err);
    db_event_list_free(&events);
    report(out, db, &t, "query_events {success: false, since}");

    /* log_checkpoint's writes (one row each in the benchmark's database) */
    {
        db_new_checkpoint cp = {argv[2], "explain", NULL, "completed", NULL, NULL, NULL};
        db_new_event ev = {argv[2], "log_checkpoint", 1, NULL, NULL, 0.1, 0};

        db_checkpoint_insert(db, &cp, &cpo, &err);
        db_checkpoint_free(&cpo);
        db_event_insert(db, &ev, &err);
        report(out, db, &t, "log_checkpoint (insert checkpoint, record event)");
    }

    json_dumpf(out, stdout, JSON_INDENT(1));
    printf("\n");
    json_decref(out);
    json_decref(t.sqls);
    free(next);
    db_close(db);
    return 0;
}
