/*
 * Unit tests of db/queries.c against a real database file: instances,
 * relationships, pagination, checkpoints, events, config, and many
 * processes writing checkpoints to one file at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db/migrate.h"
#include "tests/unit/unit.h"
#include "db/queries.h"
#include "tools/wire.h"

/* ---- fixtures ----------------------------------------------------------- */

typedef unit_db fixture; /* a fresh temporary folder with a migrated database */

/* Inserts a bare instance; issue: >0 GitHub number, beads id, or neither. */
static void add_instance(grove_db *db, const char *id, const char *type, long long issue,
                         const char *beads, int n, const char *parent, const char *rel)
{
    grove_err err = GROVE_ERR_INIT;
    db_new_instance in;
    char path[160];

    memset(&in, 0, sizeof(in));
    snprintf(path, sizeof(path), "/wt/%s", id);
    in.id = id;
    in.type = type;
    in.agent_number = n;
    in.issue_number = issue;
    in.beads_id = beads;
    in.worktree_path = path;
    in.branch_name = path + 4;
    in.parent_id = parent;
    in.relationship_type = rel;
    if (db_instance_insert(db, &in, &err) != 0)
        fail_msg("insert %s: %s", id, err.msg);
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static long long num(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

/*
 * The typed API seen through the front-end's mapping (tools/wire.h), so
 * that the shape assertions below check db/ and the wire together: each
 * wrapper has the old JSON-returning signature; *out is NULL on failure.
 */
static int get_instance(grove_db *db, const char *id, json_t **out, grove_err *err)
{
    grove_instance inst;
    int rc = db_instance_get(db, id, &inst, err);

    *out = rc == 0 ? wire_instance(&inst) : NULL;
    db_instance_free(&inst);
    return rc;
}

static int list_instances(grove_db *db, const db_instance_filter *flt, json_t **out, char **cursor,
                          grove_err *err)
{
    grove_instance_list list;
    int rc = db_instance_list(db, flt, &list, err);

    *out = rc == 0 ? wire_instances(list.v, list.n) : NULL;
    *cursor = list.next_cursor;
    list.next_cursor = NULL;
    db_instance_list_free(&list);
    return rc;
}

static int relationships(grove_db *db, const char *id, json_t **out, grove_err *err)
{
    grove_relationship_list list;
    int rc = db_relationships(db, id, &list, err);

    *out = rc == 0 ? wire_relationships(&list) : NULL;
    db_relationship_list_free(&list);
    return rc;
}

static int checkpoint_insert(grove_db *db, const db_new_checkpoint *in, json_t **out,
                             grove_err *err)
{
    grove_checkpoint cp;
    int rc = db_checkpoint_insert(db, in, &cp, err);

    *out = rc == 0 ? wire_checkpoint(&cp) : NULL;
    db_checkpoint_free(&cp);
    return rc;
}

/* json null when there is none, as the tools show it. */
static int checkpoint_get(grove_db *db, const char *id, const char *phase, json_t **out,
                          grove_err *err)
{
    grove_checkpoint cp;
    int found = 0, rc = db_checkpoint_get(db, id, phase, &cp, &found, err);

    *out = rc != 0 ? NULL : found ? wire_checkpoint(&cp) : json_null();
    db_checkpoint_free(&cp);
    return rc;
}

static int event_list(grove_db *db, const db_event_filter *flt, json_t **out, grove_err *err)
{
    grove_event_list list;
    int rc = db_event_list(db, flt, &list, err);

    *out = rc == 0 ? wire_events(&list) : NULL;
    db_event_list_free(&list);
    return rc;
}

/* Settings as {key, value, is_encrypted, updated_at} objects. */
static int config_list(grove_db *db, json_t **out, grove_err *err)
{
    grove_config_list list;
    size_t i;
    int rc = db_config_list(db, &list, err);

    *out = rc == 0 ? json_array() : NULL;
    for (i = 0; *out && i < list.n; i++)
        json_array_append_new(*out,
                              json_pack("{s:s?, s:s?, s:b, s:s?}", "key", list.v[i].key, "value",
                                        list.v[i].value, "is_encrypted", list.v[i].is_encrypted,
                                        "updated_at", list.v[i].updated_at));
    db_config_list_free(&list);
    return rc;
}

/* ---- instances ---------------------------------------------------------- */

static void test_instance_insert_get(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    db_new_instance in;
    json_t *o = NULL;
    const char *ts;

    memset(&in, 0, sizeof(in));
    in.id = "work-123-a1";
    in.type = "work";
    in.agent_number = 1;
    in.issue_number = 123;
    in.worktree_path = "/wt/work-123-a1";
    in.branch_name = "grove/work-123-a1";
    in.base_branch = "main";
    in.base_commit = "0123456789abcdef0123456789abcdef01234567";
    in.prompt = "fix it";
    in.tmux_session = "grove-work-123-a1";
    in.agent_pid = 4242;
    in.metadata = "{\"k\":1}";
    assert_int_equal(db_instance_insert(f->db, &in, &err), 0);

    assert_int_equal(get_instance(f->db, "work-123-a1", &o, &err), 0);
    assert_string_equal(str(o, "id"), "work-123-a1");
    assert_string_equal(str(o, "type"), "work");
    assert_string_equal(str(o, "status"), "running");
    assert_string_equal(str(o, "worktree_path"), "/wt/work-123-a1");
    assert_string_equal(str(o, "branch_name"), "grove/work-123-a1");
    assert_string_equal(str(o, "base_branch"), "main");
    assert_string_equal(str(o, "base_commit"), in.base_commit);
    assert_true(json_is_integer(json_object_get(o, "issue")));
    assert_int_equal(num(o, "issue"), 123);
    assert_true(json_is_null(json_object_get(o, "parent_id")));
    assert_string_equal(str(o, "session_name"), "grove-work-123-a1");
    assert_int_equal(num(o, "pid"), 4242);
    assert_true(json_is_null(json_object_get(o, "pr_number")));
    assert_true(json_is_null(json_object_get(o, "pr_url")));
    assert_string_equal(str(o, "prompt"), "fix it");
    assert_true(json_is_null(json_object_get(o, "terminated_at")));
    ts = str(o, "created_at");
    assert_non_null(ts);
    assert_int_equal(strlen(ts), 24); /* 2026-11-22T03:00:00.123Z */
    assert_int_equal(ts[10], 'T');
    assert_int_equal(ts[19], '.');
    assert_int_equal(ts[23], 'Z');
    assert_true(json_is_null(json_object_get(o, "ports")));         /* no block reserved */
    assert_true(json_is_null(json_object_get(o, "landed_commit"))); /* not landed */
    assert_true(json_is_null(json_object_get(o, "landed_at")));
    assert_int_equal(json_object_size(o), 22);
    json_decref(o);

    /* A beads issue comes back as a string, none as null; 0 pid is null. */
    add_instance(f->db, "work-bd-a3f8-a1", "work", 0, "bd-a3f8", 1, NULL, NULL);
    assert_int_equal(get_instance(f->db, "work-bd-a3f8-a1", &o, &err), 0);
    assert_true(json_is_string(json_object_get(o, "issue")));
    assert_string_equal(str(o, "issue"), "bd-a3f8");
    assert_true(json_is_null(json_object_get(o, "pid")));
    assert_true(json_is_null(json_object_get(o, "session_name")));
    json_decref(o);
    add_instance(f->db, "adhoc-a1", "adhoc", 0, NULL, 1, NULL, NULL);
    assert_int_equal(get_instance(f->db, "adhoc-a1", &o, &err), 0);
    assert_true(json_is_null(json_object_get(o, "issue")));
    json_decref(o);

    /* Unknown id. */
    o = NULL;
    assert_int_equal(get_instance(f->db, "nope", &o, &err), -1);
    assert_null(o);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_string_equal(err.msg, "instance 'nope' not found");

    /* Bad input never reaches the database. */
    in.id = "bad";
    in.type = "robot";
    assert_int_equal(db_instance_insert(f->db, &in, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    in.type = "work";
    in.metadata = "[1]";
    assert_int_equal(db_instance_insert(f->db, &in, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_int_equal(unit_query_int(db_sqlite(f->db), "SELECT count(*) FROM grove_instances"), 3);
    assert_int_equal(unit_query_int(db_sqlite(f->db),
                                    "SELECT metadata = '{\"k\":1}' FROM grove_instances WHERE "
                                    "id = 'work-123-a1'"),
                     1);
}

/* The typed structs themselves: SQL NULL reads as NULL or 0, lists own their rows. */
static void test_typed_rows(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    grove_instance inst;
    grove_instance_list list;
    db_instance_filter flt;
    grove_checkpoint cp;
    db_new_checkpoint c;
    grove_agent_list agents;
    int found = -1;

    add_instance(f->db, "work-9-a1", "work", 9, NULL, 1, NULL, NULL);
    add_instance(f->db, "review-9-a1", "review", 9, NULL, 1, "work-9-a1", "spawned_review");
    add_instance(f->db, "work-bd-x-a1", "work", 0, "bd-x", 1, NULL, NULL);
    unit_sql(db_sqlite(f->db),
             "UPDATE grove_instances SET created_at = CASE id WHEN 'work-9-a1' THEN "
             "'2026-01-01T00:00:00.000Z' WHEN 'review-9-a1' THEN '2026-01-01T00:00:01.000Z' "
             "ELSE '2026-01-01T00:00:02.000Z' END");
    assert_int_equal(db_instance_get(f->db, "review-9-a1", &inst, &err), 0);
    assert_string_equal(inst.id, "review-9-a1");
    assert_string_equal(inst.type, "review");
    assert_string_equal(inst.status, "running");
    assert_int_equal(inst.issue_number, 9);
    assert_null(inst.beads_id);
    assert_string_equal(inst.parent_id, "work-9-a1");
    assert_null(inst.base_branch);
    assert_null(inst.session_name);
    assert_int_equal(inst.pid, 0);
    assert_int_equal(inst.pr_number, 0);
    assert_null(inst.terminated_at);
    assert_int_equal(strlen(inst.created_at), 24);
    db_instance_free(&inst);
    assert_null(inst.id);
    db_instance_free(NULL);

    assert_int_equal(db_instance_get(f->db, "work-bd-x-a1", &inst, &err), 0);
    assert_int_equal(inst.issue_number, 0);
    assert_string_equal(inst.beads_id, "bd-x");
    db_instance_free(&inst);
    assert_int_equal(db_instance_get(f->db, "ghost", &inst, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_null(inst.id);

    memset(&flt, 0, sizeof(flt));
    flt.limit = 2;
    assert_int_equal(db_instance_list(f->db, &flt, &list, &err), 0);
    assert_int_equal(list.n, 2);
    assert_string_equal(list.v[0].id, "work-9-a1");
    assert_non_null(list.next_cursor);
    flt.cursor = list.next_cursor;
    {
        grove_instance_list rest;

        assert_int_equal(db_instance_list(f->db, &flt, &rest, &err), 0);
        assert_int_equal(rest.n, 1);
        assert_string_equal(rest.v[0].id, "work-bd-x-a1");
        assert_null(rest.next_cursor);
        db_instance_list_free(&rest);
    }
    db_instance_list_free(&list);
    assert_null(list.v);

    assert_int_equal(db_checkpoint_get(f->db, "work-9-a1", NULL, &cp, &found, &err), 0);
    assert_int_equal(found, 0);
    memset(&c, 0, sizeof(c));
    c.instance_id = "work-9-a1";
    c.phase = "plan";
    assert_int_equal(db_checkpoint_insert(f->db, &c, &cp, &err), 0);
    assert_int_equal(cp.sequence, 1);
    assert_string_equal(cp.status, "in_progress");
    assert_null(cp.data_json);
    assert_null(cp.name);
    db_checkpoint_free(&cp);
    assert_int_equal(db_checkpoint_get(f->db, "work-9-a1", "plan", &cp, &found, &err), 0);
    assert_int_equal(found, 1);
    assert_string_equal(cp.phase, "plan");
    db_checkpoint_free(&cp);

    assert_int_equal(db_instance_set_agent(f->db, "work-9-a1", "grove-work-9-a1", 77, &err), 0);
    assert_int_equal(db_instances_with_agents(f->db, &agents, &err), 0);
    assert_int_equal(agents.n, 1);
    assert_string_equal(agents.v[0].id, "work-9-a1");
    assert_string_equal(agents.v[0].session, "grove-work-9-a1");
    assert_int_equal(agents.v[0].pid, 77);
    db_agent_list_free(&agents);
}

static void test_instance_duplicate_conflict(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    db_new_instance in;
    json_t *o = NULL;

    add_instance(f->db, "work-7-a1", "work", 7, NULL, 1, NULL, NULL);
    memset(&in, 0, sizeof(in));
    in.id = "work-7-a1";
    in.type = "review";
    in.agent_number = 9;
    in.worktree_path = "/elsewhere";
    in.branch_name = "other";
    assert_int_equal(db_instance_insert(f->db, &in, &err), -1);
    assert_int_equal(err.code, GROVE_ECONFLICT);
    assert_non_null(strstr(err.msg, "'work-7-a1'"));
    assert_int_equal(get_instance(f->db, "work-7-a1", &o, &err), 0);
    assert_string_equal(str(o, "type"), "work");
    assert_string_equal(str(o, "worktree_path"), "/wt/work-7-a1");
    json_decref(o);
}

static int next(grove_db *db, const char *type, long long issue, const char *beads)
{
    grove_err err = GROVE_ERR_INIT;
    int n = -1;

    if (db_instance_next_number(db, type, issue, beads, &n, &err) != 0)
        fail_msg("next number: %s", err.msg);
    return n;
}

static void test_next_agent_number(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    int n;

    assert_int_equal(next(f->db, "work", 123, NULL), 1);
    add_instance(f->db, "work-123-a1", "work", 123, NULL, 1, NULL, NULL);
    add_instance(f->db, "work-123-a2", "work", 123, NULL, 2, NULL, NULL);
    unit_sql(db_sqlite(f->db), "UPDATE grove_instances SET status = 'terminated', terminated_at = "
                               "strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = 'work-123-a2'");
    assert_int_equal(next(f->db, "work", 123, NULL), 3); /* terminated rows count */
    assert_int_equal(next(f->db, "review", 123, NULL), 1);
    assert_int_equal(next(f->db, "work", 124, NULL), 1);
    assert_int_equal(next(f->db, "work", 0, NULL), 1);
    assert_int_equal(next(f->db, "work", 0, "bd-a3f8"), 1);
    add_instance(f->db, "work-a1", "work", 0, NULL, 1, NULL, NULL);
    add_instance(f->db, "work-bd-a3f8-a1", "work", 0, "bd-a3f8", 1, NULL, NULL);
    assert_int_equal(next(f->db, "work", 0, NULL), 2);
    assert_int_equal(next(f->db, "work", 0, "bd-a3f8"), 2);
    assert_int_equal(next(f->db, "work", 0, "bd-other"), 1);
    assert_int_equal(next(f->db, "adhoc", 0, NULL), 1);
    assert_int_equal(db_instance_next_number(f->db, "robot", 0, NULL, &n, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
}

static void test_relationships_and_parent(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    json_t *o = NULL, *rels = NULL, *r;
    db_new_instance in;

    add_instance(f->db, "work-5-a1", "work", 5, NULL, 1, NULL, NULL);
    add_instance(f->db, "review-5-a1", "review", 5, NULL, 1, "work-5-a1", "spawned_review");
    add_instance(f->db, "work-5-a2", "work", 5, NULL, 2, "work-5-a1", "created_fork");

    assert_int_equal(get_instance(f->db, "review-5-a1", &o, &err), 0);
    assert_string_equal(str(o, "parent_id"), "work-5-a1");
    json_decref(o);

    assert_int_equal(relationships(f->db, "work-5-a1", &rels, &err), 0);
    assert_int_equal(json_array_size(rels), 2);
    r = json_array_get(rels, 0);
    assert_true(json_is_integer(json_object_get(r, "id")));
    assert_string_equal(str(r, "parent_instance"), "work-5-a1");
    assert_string_equal(str(r, "child_instance"), "review-5-a1");
    assert_string_equal(str(r, "relationship_type"), "spawned_review");
    assert_non_null(str(r, "created_at"));
    assert_string_equal(str(json_array_get(rels, 1), "relationship_type"), "created_fork");
    json_decref(rels);
    assert_int_equal(relationships(f->db, "review-5-a1", &rels, &err), 0);
    assert_int_equal(json_array_size(rels), 1);
    json_decref(rels);
    assert_int_equal(relationships(f->db, "nobody", &rels, &err), 0);
    assert_int_equal(json_array_size(rels), 0);
    json_decref(rels);

    /* An unknown parent: nothing is inserted. */
    memset(&in, 0, sizeof(in));
    in.id = "review-6-a1";
    in.type = "review";
    in.agent_number = 1;
    in.worktree_path = "/wt/x";
    in.branch_name = "x";
    in.parent_id = "ghost";
    in.relationship_type = "spawned_review";
    assert_int_equal(db_instance_insert(f->db, &in, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_int_equal(get_instance(f->db, "review-6-a1", &o, &err), -1);
    in.parent_id = "work-5-a1";
    in.relationship_type = "adopted";
    assert_int_equal(db_instance_insert(f->db, &in, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);

    /* Deleting the parent cascades its relationships. */
    assert_int_equal(db_instance_delete(f->db, "work-5-a1", &err), 0);
    assert_int_equal(db_instance_delete(f->db, "work-5-a1", &err), 0); /* missing: fine */
    assert_int_equal(get_instance(f->db, "review-5-a1", &o, &err), 0);
    assert_true(json_is_null(json_object_get(o, "parent_id")));
    json_decref(o);
    assert_int_equal(
        unit_query_int(db_sqlite(f->db), "SELECT count(*) FROM grove_instance_relationships"), 0);
}

/* Fetches a page; returns its array (new ref) and sets *cursor (malloc'd or NULL). */
static json_t *page(grove_db *db, db_instance_filter *flt, char **cursor)
{
    grove_err err = GROVE_ERR_INIT;
    json_t *arr = NULL;

    if (list_instances(db, flt, &arr, cursor, &err) != 0)
        fail_msg("list: %s", err.msg);
    return arr;
}

static void test_list_pagination(void **state)
{
    static const char *const ids[] = {"work-1-a1", "work-2-a1", "work-3-a1", "review-1-a1",
                                      "adhoc-a1",  "adhoc-a2",  "work-a1"};
    fixture *f = *state;
    db_instance_filter flt;
    json_t *arr, *all = json_array();
    char *cursor = NULL, *prev;
    size_t i, j;
    int pages = 0;

    add_instance(f->db, "work-1-a1", "work", 1, NULL, 1, NULL, NULL);
    add_instance(f->db, "work-2-a1", "work", 2, NULL, 1, NULL, NULL);
    add_instance(f->db, "work-3-a1", "work", 3, NULL, 1, NULL, NULL);
    add_instance(f->db, "review-1-a1", "review", 1, NULL, 1, "work-1-a1", "spawned_review");
    add_instance(f->db, "adhoc-a1", "adhoc", 0, NULL, 1, NULL, NULL);
    add_instance(f->db, "adhoc-a2", "adhoc", 0, NULL, 2, NULL, NULL);
    add_instance(f->db, "work-a1", "work", 0, "bd-9", 1, NULL, NULL);
    /* Known times, in the order of ids[]; two rows share one (ties go by id). */
    unit_sql(db_sqlite(f->db), "UPDATE grove_instances SET created_at = CASE id"
                               " WHEN 'work-1-a1' THEN '2026-01-01T00:00:00.001Z'"
                               " WHEN 'work-2-a1' THEN '2026-01-01T00:00:00.002Z'"
                               " WHEN 'work-3-a1' THEN '2026-01-01T00:00:00.003Z'"
                               " WHEN 'review-1-a1' THEN '2026-01-01T00:00:00.004Z'"
                               " WHEN 'adhoc-a1' THEN '2026-01-01T00:00:00.005Z'"
                               " WHEN 'adhoc-a2' THEN '2026-01-01T00:00:00.005Z'"
                               " ELSE '2026-01-01T00:00:00.006Z' END");
    unit_sql(db_sqlite(f->db),
             "UPDATE grove_instances SET status = 'terminated' WHERE id IN ('work-2-a1', "
             "'adhoc-a2')");

    /* Seven rows, three per page: 3 + 3 + 1, no duplicates, in order. */
    memset(&flt, 0, sizeof(flt));
    flt.limit = 3;
    do {
        prev = cursor;
        flt.cursor = prev;
        arr = page(f->db, &flt, &cursor);
        free(prev);
        pages++;
        assert_int_equal(json_array_size(arr), pages < 3 ? 3 : 1);
        if (pages < 3) {
            assert_non_null(cursor);
            for (i = 0; cursor[i]; i++) /* URL-safe */
                assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                       "0123456789-_",
                                       cursor[i]));
        }
        json_array_extend(all, arr);
        json_decref(arr);
    } while (cursor && pages < 10);
    assert_int_equal(pages, 3);
    assert_null(cursor);
    assert_int_equal(json_array_size(all), 7);
    for (i = 0; i < 7; i++) {
        /* adhoc-a1 < adhoc-a2 by id at the shared time */
        assert_string_equal(str(json_array_get(all, i), "id"), ids[i]);
        for (j = 0; j < i; j++)
            assert_string_not_equal(str(json_array_get(all, i), "id"),
                                    str(json_array_get(all, j), "id"));
    }
    json_decref(all);

    /* Exactly full pages: the last full page has no cursor. */
    flt.cursor = NULL;
    flt.limit = 7;
    arr = page(f->db, &flt, &cursor);
    assert_int_equal(json_array_size(arr), 7);
    assert_null(cursor);
    json_decref(arr);

    /* Filters, alone and with paging. */
    memset(&flt, 0, sizeof(flt));
    flt.limit = 50;
    flt.type = "work";
    arr = page(f->db, &flt, &cursor);
    assert_int_equal(json_array_size(arr), 4);
    json_decref(arr);
    flt.status = "running";
    arr = page(f->db, &flt, &cursor);
    assert_int_equal(json_array_size(arr), 3);
    json_decref(arr);
    flt.type = NULL;
    flt.status = "terminated";
    flt.limit = 1;
    arr = page(f->db, &flt, &cursor);
    assert_int_equal(json_array_size(arr), 1);
    assert_string_equal(str(json_array_get(arr, 0), "id"), "work-2-a1");
    assert_non_null(cursor);
    json_decref(arr);
    flt.cursor = cursor;
    arr = page(f->db, &flt, &prev);
    free(cursor);
    assert_int_equal(json_array_size(arr), 1);
    assert_string_equal(str(json_array_get(arr, 0), "id"), "adhoc-a2");
    assert_null(prev);
    json_decref(arr);

    memset(&flt, 0, sizeof(flt));
    flt.limit = 50;
    flt.issue_number = 1;
    arr = page(f->db, &flt, &cursor);
    assert_int_equal(json_array_size(arr), 2); /* work-1-a1, review-1-a1 */
    json_decref(arr);
    flt.issue_number = 0;
    flt.beads_id = "bd-9";
    arr = page(f->db, &flt, &cursor);
    assert_int_equal(json_array_size(arr), 1);
    assert_string_equal(str(json_array_get(arr, 0), "issue"), "bd-9");
    json_decref(arr);
    flt.beads_id = NULL;
    flt.parent_id = "work-1-a1";
    arr = page(f->db, &flt, &cursor);
    assert_int_equal(json_array_size(arr), 1);
    assert_string_equal(str(json_array_get(arr, 0), "id"), "review-1-a1");
    json_decref(arr);
}

static void test_list_invalid_cursor(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    db_instance_filter flt;
    json_t *arr = NULL;
    char *cursor = NULL, enc[256];
    const char *bad[] = {"", "not a cursor", "!!!!", "bm90LWEtY3Vyc29y", NULL, NULL, NULL};
    size_t i;

    /* Valid base64 of the wrong shapes: no id, no time, two newlines. */
    sodium_bin2base64(enc, 80, (const unsigned char *)"2026-01-01T00:00:00.000Z", 24,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    bad[4] = strdup(enc);
    sodium_bin2base64(enc, 80, (const unsigned char *)"yesterday\nwork-1-a1", 19,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    bad[5] = strdup(enc);
    sodium_bin2base64(enc, 120, (const unsigned char *)"2026-01-01T00:00:00.000Z\na\nb", 28,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    bad[6] = strdup(enc);
    add_instance(f->db, "adhoc-a1", "adhoc", 0, NULL, 1, NULL, NULL);
    memset(&flt, 0, sizeof(flt));
    flt.limit = 10;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        flt.cursor = bad[i];
        assert_int_equal(list_instances(f->db, &flt, &arr, &cursor, &err), -1);
        assert_int_equal(err.code, GROVE_EINVAL);
        assert_string_equal(err.msg, "invalid cursor");
        assert_null(arr);
        assert_null(cursor);
    }
    free((char *)bad[4]);
    free((char *)bad[5]);
    free((char *)bad[6]);

    /* A well-formed cursor from before every row returns all of them. */
    sodium_bin2base64(enc, 80, (const unsigned char *)"2000-01-01T00:00:00.000Z\na", 26,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    flt.cursor = enc;
    assert_int_equal(list_instances(f->db, &flt, &arr, &cursor, &err), 0);
    assert_int_equal(json_array_size(arr), 1);
    json_decref(arr);
}

/* ---- checkpoints -------------------------------------------------------- */

static json_t *checkpoint(grove_db *db, const char *inst, const char *phase, const char *status,
                          json_t *data)
{
    grove_err err = GROVE_ERR_INIT;
    db_new_checkpoint c;
    json_t *out = NULL;

    memset(&c, 0, sizeof(c));
    c.instance_id = inst;
    c.phase = phase;
    c.status = status;
    c.data = data;
    c.name = "step";
    c.message = "msg";
    c.commit_sha = "abc123";
    if (checkpoint_insert(db, &c, &out, &err) != 0)
        fail_msg("checkpoint: %s", err.msg);
    json_decref(data);
    return out;
}

static void test_checkpoints(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    db_new_checkpoint c;
    json_t *cp, *out = NULL;

    add_instance(f->db, "work-1-a1", "work", 1, NULL, 1, NULL, NULL);
    add_instance(f->db, "work-2-a1", "work", 2, NULL, 1, NULL, NULL);

    cp = checkpoint(f->db, "work-1-a1", "plan", NULL, json_pack("{s:i,s:[s]}", "n", 1, "f", "a"));
    assert_int_equal(num(cp, "sequence"), 1);
    assert_true(json_is_integer(json_object_get(cp, "id")));
    assert_string_equal(str(cp, "instance_id"), "work-1-a1");
    assert_string_equal(str(cp, "phase"), "plan");
    assert_string_equal(str(cp, "name"), "step");
    assert_string_equal(str(cp, "status"), "in_progress");
    assert_string_equal(str(cp, "message"), "msg");
    assert_string_equal(str(cp, "commit_sha"), "abc123");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(cp, "data"), "n")), 1);
    assert_int_equal(strlen(str(cp, "created_at")), 24);
    assert_int_equal(json_object_size(cp), 10);
    json_decref(cp);
    cp = checkpoint(f->db, "work-1-a1", "build", "completed", NULL);
    assert_int_equal(num(cp, "sequence"), 2);
    assert_true(json_is_null(json_object_get(cp, "data")));
    json_decref(cp);
    cp = checkpoint(f->db, "work-2-a1", "plan", "failed", NULL);
    assert_int_equal(num(cp, "sequence"), 1); /* per instance */
    json_decref(cp);
    cp = checkpoint(f->db, "work-1-a1", "plan", "completed", json_object());
    assert_int_equal(num(cp, "sequence"), 3);
    json_decref(cp);
    cp = checkpoint(f->db, "work-1-a1", "build", "failed", NULL);
    assert_int_equal(num(cp, "sequence"), 4);
    json_decref(cp);

    /* Latest overall and latest of a phase. */
    assert_int_equal(checkpoint_get(f->db, "work-1-a1", NULL, &out, &err), 0);
    assert_int_equal(num(out, "sequence"), 4);
    assert_string_equal(str(out, "phase"), "build");
    json_decref(out);
    assert_int_equal(checkpoint_get(f->db, "work-1-a1", "plan", &out, &err), 0);
    assert_int_equal(num(out, "sequence"), 3);
    assert_string_equal(str(out, "status"), "completed");
    assert_true(json_is_object(json_object_get(out, "data")));
    json_decref(out);
    assert_int_equal(checkpoint_get(f->db, "work-1-a1", "deploy", &out, &err), 0);
    assert_true(json_is_null(out));
    json_decref(out);
    add_instance(f->db, "adhoc-a1", "adhoc", 0, NULL, 1, NULL, NULL);
    assert_int_equal(checkpoint_get(f->db, "adhoc-a1", NULL, &out, &err), 0);
    assert_true(json_is_null(out));
    json_decref(out);

    /* Unknown instance, bad status, non-object data. */
    out = NULL;
    assert_int_equal(checkpoint_get(f->db, "ghost", NULL, &out, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_string_equal(err.msg, "instance 'ghost' not found");
    memset(&c, 0, sizeof(c));
    c.instance_id = "ghost";
    c.phase = "plan";
    assert_int_equal(checkpoint_insert(f->db, &c, &out, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_string_equal(err.msg, "instance 'ghost' not found");
    assert_null(out);
    c.instance_id = "work-1-a1";
    c.status = "done";
    assert_int_equal(checkpoint_insert(f->db, &c, &out, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    c.status = NULL;
    c.data = json_array();
    assert_int_equal(checkpoint_insert(f->db, &c, &out, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    json_decref((json_t *)c.data);
    c.data = NULL;
    c.phase = "";
    assert_int_equal(checkpoint_insert(f->db, &c, &out, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_int_equal(unit_query_int(db_sqlite(f->db), "SELECT count(*) FROM grove_checkpoints"), 5);

    /* Checkpoints go with their instance. */
    assert_int_equal(db_instance_delete(f->db, "work-1-a1", &err), 0);
    assert_int_equal(unit_query_int(db_sqlite(f->db), "SELECT count(*) FROM grove_checkpoints"), 1);
}

/* ---- events ------------------------------------------------------------- */

static void event(grove_db *db, const char *inst, const char *tool, int ok, const char *ts)
{
    grove_err err = GROVE_ERR_INIT;
    db_new_event e;
    json_t *meta = json_pack("{s:s}", "tool", tool);
    char q[256];

    memset(&e, 0, sizeof(e));
    e.instance_id = inst;
    e.tool_name = tool;
    e.success = ok;
    e.error_message = ok ? NULL : "it broke";
    e.metadata = meta;
    e.duration_ms = 12.5;
    if (db_event_insert(db, &e, &err) != 0)
        fail_msg("event: %s", err.msg);
    json_decref(meta);
    snprintf(q, sizeof(q),
             "UPDATE grove_mcp_events SET timestamp = '%s' WHERE id = last_insert_rowid()", ts);
    unit_sql(db_sqlite(db), q);
}

static json_t *events(grove_db *db, const char *inst, const char *tool, int success,
                      const char *since, int limit)
{
    grove_err err = GROVE_ERR_INIT;
    db_event_filter flt = {0};
    json_t *arr = NULL;

    flt.instance_id = inst;
    flt.tool = tool;
    flt.success = success;
    flt.since = since;
    flt.limit = limit;
    if (event_list(db, &flt, &arr, &err) != 0)
        fail_msg("events: %s", err.msg);
    return arr;
}

/* sqlite3_exec callback: the first column as an int into *arg. */
static int sync_level(void *arg, int n, char **vals, char **names)
{
    (void)names;
    *(int *)arg = n > 0 && vals[0] ? atoi(vals[0]) : -1;
    return 0;
}

static void test_events(void **state)
{
    static const char *const bad_since[] = {
        "now",
        "yesterday",
        "2026-13-01",
        "2026-01-01 10:00",
        "12345",
        "2026-01-01T10",
        "2026-01-01T10:00:00+0200",
        "2026-01-01T25:00:00Z",
        "",
    };
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    db_event_filter flt = {0};
    db_new_event e;
    json_t *arr = NULL, *ev;
    size_t i;
    int level = -1;

    event(f->db, "work-1-a1", "log_checkpoint", 1, "2026-01-01T08:00:00.000Z");
    event(f->db, "work-1-a1", "spawn_review_instance", 0, "2026-01-01T09:00:00.000Z");
    event(f->db, NULL, "spawn_work_instance", 1, "2026-01-01T10:00:00.000Z");
    event(f->db, "work-2-a1", "log_checkpoint", 0, "2026-01-01T11:00:00.000Z");
    event(f->db, "work-2-a1", "log_checkpoint", 1, "2026-01-02T00:00:00.000Z");

    /* Newest first, all columns. */
    arr = events(f->db, NULL, NULL, -1, NULL, 50);
    assert_int_equal(json_array_size(arr), 5);
    ev = json_array_get(arr, 0);
    assert_string_equal(str(ev, "timestamp"), "2026-01-02T00:00:00.000Z");
    assert_string_equal(str(ev, "instance_id"), "work-2-a1");
    assert_string_equal(str(ev, "tool_name"), "log_checkpoint");
    assert_true(json_is_true(json_object_get(ev, "success")));
    assert_true(json_is_null(json_object_get(ev, "error_message")));
    assert_string_equal(str(json_object_get(ev, "metadata"), "tool"), "log_checkpoint");
    assert_true(json_real_value(json_object_get(ev, "duration_ms")) == 12.5);
    assert_true(json_is_integer(json_object_get(ev, "id")));
    assert_int_equal(json_object_size(ev), 8);
    ev = json_array_get(arr, 1);
    assert_true(json_is_false(json_object_get(ev, "success")));
    assert_string_equal(str(ev, "error_message"), "it broke");
    assert_true(json_is_null(json_object_get(json_array_get(arr, 2), "instance_id")));
    assert_string_equal(str(json_array_get(arr, 4), "timestamp"), "2026-01-01T08:00:00.000Z");
    json_decref(arr);

    /* Each filter. */
    arr = events(f->db, "work-1-a1", NULL, -1, NULL, 50);
    assert_int_equal(json_array_size(arr), 2);
    assert_string_equal(str(json_array_get(arr, 0), "tool_name"), "spawn_review_instance");
    json_decref(arr);
    arr = events(f->db, NULL, "log_checkpoint", -1, NULL, 50);
    assert_int_equal(json_array_size(arr), 3);
    json_decref(arr);
    arr = events(f->db, NULL, "log_checkpoint", 0, NULL, 50);
    assert_int_equal(json_array_size(arr), 1);
    json_decref(arr);
    arr = events(f->db, NULL, NULL, 1, NULL, 50);
    assert_int_equal(json_array_size(arr), 3);
    json_decref(arr);
    arr = events(f->db, "work-2-a1", "log_checkpoint", 1, NULL, 50);
    assert_int_equal(json_array_size(arr), 1);
    json_decref(arr);
    arr = events(f->db, NULL, NULL, -1, NULL, 2);
    assert_int_equal(json_array_size(arr), 2);
    json_decref(arr);

    /* since: a date, a UTC time, offsets (normalised to UTC), fractions. */
    arr = events(f->db, NULL, NULL, -1, "2026-01-02", 50);
    assert_int_equal(json_array_size(arr), 1);
    json_decref(arr);
    arr = events(f->db, NULL, NULL, -1, "2026-01-01T10:00:00Z", 50);
    assert_int_equal(json_array_size(arr), 3);
    json_decref(arr);
    arr = events(f->db, NULL, NULL, -1, "2026-01-01T12:00:00+02:00", 50); /* 10:00Z */
    assert_int_equal(json_array_size(arr), 3);
    json_decref(arr);
    arr = events(f->db, NULL, NULL, -1, "2026-01-01T05:30-04:00", 50); /* 09:30Z */
    assert_int_equal(json_array_size(arr), 3);
    json_decref(arr);
    arr = events(f->db, NULL, NULL, -1, "2026-01-01T08:59:59.999999", 50);
    assert_int_equal(json_array_size(arr), 4);
    json_decref(arr);
    arr = events(f->db, "work-1-a1", NULL, -1, "2026-01-01T08:00", 50);
    assert_int_equal(json_array_size(arr), 2);
    json_decref(arr);

    for (i = 0; i < sizeof(bad_since) / sizeof(bad_since[0]); i++) {
        flt.instance_id = NULL;
        flt.tool = NULL;
        flt.success = -1;
        flt.since = bad_since[i];
        flt.limit = 10;
        arr = NULL;
        if (event_list(f->db, &flt, &arr, &err) != -1)
            fail_msg("since '%s' was accepted", bad_since[i]);
        assert_int_equal(err.code, GROVE_EINVAL);
        assert_non_null(strstr(err.msg, "since"));
        assert_null(arr);
    }

    /* Metadata defaults to {}; bad durations become 0. */
    memset(&e, 0, sizeof(e));
    e.tool_name = "ping";
    e.success = 1;
    e.duration_ms = -3;
    assert_int_equal(db_event_insert(f->db, &e, &err), 0);
    arr = events(f->db, NULL, "ping", -1, NULL, 1);
    ev = json_array_get(arr, 0);
    assert_int_equal(json_object_size(json_object_get(ev, "metadata")), 0);
    assert_true(json_is_object(json_object_get(ev, "metadata")));
    assert_true(json_number_value(json_object_get(ev, "duration_ms")) == 0);
    json_decref(arr);
    e.tool_name = "";
    assert_int_equal(db_event_insert(f->db, &e, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);

    /* A read's event is committed relaxed. The connection stays at NORMAL: every other commit is
       fsynced by db.c's WAL hook, after the unlock (tests/cli: test_read_events_without...). */
    e.tool_name = "query_events";
    e.relaxed = 1;
    assert_int_equal(db_event_insert(f->db, &e, &err), 0);
    assert_int_equal(sqlite3_exec(db_sqlite(f->db), "PRAGMA synchronous", sync_level, &level, NULL),
                     SQLITE_OK);
    assert_int_equal(level, 1); /* NORMAL */
    arr = events(f->db, NULL, "query_events", -1, NULL, 1);
    assert_int_equal(json_array_size(arr), 1);
    json_decref(arr);
}

/* ---- config ------------------------------------------------------------- */

static void test_config(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    json_t *arr = NULL, *o;
    char *v = NULL;
    int enc = -1;

    assert_int_equal(db_config_get(f->db, "agent.command", &v, &enc, &err), 0);
    assert_null(v);
    assert_int_equal(enc, 0);
    assert_int_equal(db_config_set(f->db, "agent.command", "[\"claude\"]", 0, &err), 0);
    assert_int_equal(db_config_set(f->db, "github.token", "c2VjcmV0", 1, &err), 0);
    assert_int_equal(db_config_get(f->db, "agent.command", &v, &enc, &err), 0);
    assert_string_equal(v, "[\"claude\"]");
    assert_int_equal(enc, 0);
    free(v);
    assert_int_equal(db_config_get(f->db, "github.token", &v, NULL, &err), 0);
    assert_string_equal(v, "c2VjcmV0");
    free(v);
    assert_int_equal(db_config_get(f->db, "github.token", &v, &enc, &err), 0);
    assert_int_equal(enc, 1);
    free(v);

    /* Overwrite. */
    assert_int_equal(db_config_set(f->db, "github.token", "plain", 0, &err), 0);
    assert_int_equal(db_config_get(f->db, "github.token", &v, &enc, &err), 0);
    assert_string_equal(v, "plain");
    assert_int_equal(enc, 0);
    free(v);

    assert_int_equal(config_list(f->db, &arr, &err), 0);
    assert_int_equal(json_array_size(arr), 2);
    o = json_array_get(arr, 0);
    assert_string_equal(str(o, "key"), "agent.command");
    assert_string_equal(str(o, "value"), "[\"claude\"]");
    assert_true(json_is_false(json_object_get(o, "is_encrypted")));
    assert_int_equal(strlen(str(o, "updated_at")), 24);
    assert_string_equal(str(json_array_get(arr, 1), "key"), "github.token");
    json_decref(arr);

    assert_int_equal(db_config_unset(f->db, "github.token", &err), 0);
    assert_int_equal(db_config_unset(f->db, "github.token", &err), 0);
    assert_int_equal(db_config_get(f->db, "github.token", &v, &enc, &err), 0);
    assert_null(v);
    assert_int_equal(config_list(f->db, &arr, &err), 0);
    assert_int_equal(json_array_size(arr), 1);
    json_decref(arr);
    assert_int_equal(db_config_set(f->db, "", "x", 0, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_int_equal(db_config_set(f->db, "k", NULL, 0, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
}

/* ---- concurrency -------------------------------------------------------- */

static void test_concurrent_checkpoints(void **state)
{
    enum { CHILDREN = 4, EACH = 200 };
    static const char *const inst[] = {"work-1-a1", "work-2-a1"};
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    pid_t pids[CHILDREN];
    int gate[2], i, status;
    char *check;
    sqlite3_stmt *st = NULL;

    add_instance(f->db, inst[0], "work", 1, NULL, 1, NULL, NULL);
    add_instance(f->db, inst[1], "work", 2, NULL, 1, NULL, NULL);
    db_close(f->db); /* children must not share this connection */
    f->db = NULL;

    assert_int_equal(pipe(gate), 0);
    for (i = 0; i < CHILDREN; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            grove_db *db = NULL;
            char c;
            int k, failed = 0;

            close(gate[1]);
            if (read(gate[0], &c, 1) < 0) /* EOF: everyone starts together */
                _exit(2);
            if (migrate_open(&db, f->path, &err) != 0) {
                fprintf(stderr, "child %d: %s\n", i, err.msg);
                _exit(1);
            }
            for (k = 0; k < EACH && !failed; k++) {
                db_new_checkpoint c2;
                json_t *out = NULL;

                memset(&c2, 0, sizeof(c2));
                c2.instance_id = inst[(k + i) % 2];
                c2.phase = "load";
                if (checkpoint_insert(db, &c2, &out, &err) != 0) {
                    fprintf(stderr, "child %d: %s\n", i, err.msg);
                    failed = 1;
                }
                json_decref(out);
            }
            db_close(db);
            _exit(failed);
        }
    }
    close(gate[0]);
    close(gate[1]);
    for (i = 0; i < CHILDREN; i++) {
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }

    assert_int_equal(migrate_open(&f->db, f->path, &err), 0);
    assert_int_equal(unit_query_int(db_sqlite(f->db), "SELECT count(*) FROM grove_checkpoints"),
                     CHILDREN * EACH);
    /* Per instance: sequences are unique and exactly 1..n. */
    for (i = 0; i < 2; i++) {
        assert_int_equal(sqlite3_prepare_v2(db_sqlite(f->db),
                                            "SELECT count(*), count(DISTINCT sequence),"
                                            " min(sequence), max(sequence) FROM"
                                            " grove_checkpoints WHERE instance_id = ?1",
                                            -1, &st, NULL),
                         SQLITE_OK);
        sqlite3_bind_text(st, 1, inst[i], -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(st, 0), CHILDREN * EACH / 2);
        assert_int_equal(sqlite3_column_int(st, 1), CHILDREN * EACH / 2);
        assert_int_equal(sqlite3_column_int(st, 2), 1);
        assert_int_equal(sqlite3_column_int(st, 3), CHILDREN * EACH / 2);
        sqlite3_finalize(st);
        st = NULL;
    }
    assert_int_equal(sqlite3_prepare_v2(db_sqlite(f->db), "PRAGMA integrity_check", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    check = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    assert_string_equal(check, "ok");
    free(check);
}

/* ---- pages within a byte budget (contract §5: at most 4 MiB a page) ------- */

/* The ids of an array of objects appended to *seen as text, one per line. */
static void collect_ids(const json_t *arr, char *seen, size_t cap)
{
    size_t i;
    json_t *o;

    json_array_foreach(arr, i, o)
    {
        const json_t *id = json_object_get(o, "id");
        char line[64];

        if (json_is_integer(id))
            snprintf(line, sizeof(line), "%lld\n", (long long)json_integer_value(id));
        else
            snprintf(line, sizeof(line), "%s\n", json_string_value(id));
        assert_null(strstr(seen, line)); /* never twice */
        assert_true(strlen(seen) + strlen(line) < cap);
        strcat(seen, line);
    }
}

/* size_of through a counter (size_arg: the number of calls) */
static size_t counted_instance_size(const grove_instance *row, void *calls)
{
    ++*(int *)calls;
    return wire_instance_size(row, NULL);
}

static size_t counted_event_size(const grove_event *row, void *calls)
{
    ++*(int *)calls;
    return wire_event_size(row, NULL);
}

/* The ids of every page of instances under `budget`, pages separated by "|". */
static void instance_pages(grove_db *db, size_t budget, int bounded, int *calls, char *out,
                           size_t cap)
{
    db_instance_filter fi;
    char *cursor = NULL;

    memset(&fi, 0, sizeof(fi));
    fi.limit = 500;
    fi.max_bytes = budget;
    fi.size_of = counted_instance_size;
    fi.size_bound = bounded ? wire_instance_size_bound : NULL;
    fi.size_arg = calls;
    out[0] = '\0';
    do {
        char *prev = cursor;
        json_t *arr;

        fi.cursor = prev;
        arr = page(db, &fi, &cursor);
        free(prev);
        collect_ids(arr, out, cap);
        assert_true(strlen(out) + 2 < cap);
        strcat(out, "|");
        json_decref(arr);
    } while (cursor);
}

/* The same for events. */
static void event_pages(grove_db *db, size_t budget, int bounded, int *calls, char *out, size_t cap)
{
    grove_err err = GROVE_ERR_INIT;
    db_event_filter fe;
    char *cursor = NULL;

    memset(&fe, 0, sizeof(fe));
    fe.success = -1;
    fe.limit = 500;
    fe.max_bytes = budget;
    fe.size_of = counted_event_size;
    fe.size_bound = bounded ? wire_event_size_bound : NULL;
    fe.size_arg = calls;
    out[0] = '\0';
    do {
        grove_event_list list;
        json_t *arr;

        fe.cursor = cursor;
        if (db_event_list(db, &fe, &list, &err) != 0)
            fail_msg("events: %s", err.msg);
        free(cursor);
        cursor = list.next_cursor;
        list.next_cursor = NULL;
        arr = wire_events(&list);
        db_event_list_free(&list);
        collect_ids(arr, out, cap);
        assert_true(strlen(out) + 2 < cap);
        strcat(out, "|");
        json_decref(arr);
    } while (cursor);
}

/*
 * size_bound: never below the exact size, even for the rows that grow
 * most when serialised (control characters, reals that come back longer);
 * the same pages as size_of alone under every budget, also when the
 * bounds run out in the middle of a page; and no exact size asked for
 * while the bounds fit.
 */
static void test_page_size_bound(void **state)
{
    unit_db *f = *state;
    sqlite3 *sq = db_sqlite(f->db);
    grove_instance_list il = {0};
    grove_event_list el = {0};
    grove_err err = GROVE_ERR_INIT;
    db_instance_filter fi;
    db_event_filter fe;
    char want[2048], got[2048], id[32];
    size_t budgets[] = {1, 900, 2500, 5000, 10000, 20000, 60000, 4u << 20}, i, b;
    int calls;

    for (i = 1; i <= 8; i++) {
        snprintf(id, sizeof(id), "work-%zu-a1", i);
        add_instance(f->db, id, "work", (long long)i, NULL, 1, NULL, NULL);
    }
    /* prompts of 1..8 hundred bytes, control characters (6 bytes each in JSON) in two */
    unit_sql(sq, "UPDATE grove_instances SET prompt = substr(replace(hex(zeroblob(400)), '0', 'p'),"
                 " 1, 100 * CAST(substr(id, 6, 1) AS INTEGER))");
    unit_sql(sq, "UPDATE grove_instances SET prompt = replace(prompt, 'p', char(1))"
                 " WHERE id IN ('work-3-a1', 'work-6-a1')");
    unit_sql(sq, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 8)"
                 " INSERT INTO grove_mcp_events (tool_name, success, error_message, metadata,"
                 " duration_ms, timestamp) SELECT 'log_checkpoint', 0, char(2, 3, 4),"
                 " '{\"r\":[' || substr(replace(hex(zeroblob(200)), '00', '0.1,'), 1, 40 * i)"
                 " || '0.3]}', 1.5, '2026-01-01T00:00:0' || i || '.000Z' FROM n");

    memset(&fi, 0, sizeof(fi));
    fi.limit = 500;
    assert_int_equal(db_instance_list(f->db, &fi, &il, &err), 0);
    assert_int_equal(il.n, 8);
    for (i = 0; i < il.n; i++)
        assert_true(wire_instance_size_bound(&il.v[i], NULL) >= wire_instance_size(&il.v[i], NULL));
    db_instance_list_free(&il);
    memset(&fe, 0, sizeof(fe));
    fe.success = -1;
    fe.limit = 500;
    assert_int_equal(db_event_list(f->db, &fe, &el, &err), 0);
    assert_int_equal(el.n, 8);
    for (i = 0; i < el.n; i++) {
        /* the metadata grows when serialised again: 0.1 comes back as 0.10000000000000001 */
        assert_true(wire_event_size(&el.v[i], NULL) > strlen(el.v[i].metadata_json) + 100);
        assert_true(wire_event_size_bound(&el.v[i], NULL) >= wire_event_size(&el.v[i], NULL));
    }
    db_event_list_free(&el);

    for (b = 0; b < sizeof(budgets) / sizeof(*budgets); b++) {
        calls = 0;
        instance_pages(f->db, budgets[b], 0, &calls, want, sizeof(want));
        instance_pages(f->db, budgets[b], 1, &calls, got, sizeof(got));
        assert_string_equal(got, want);
        event_pages(f->db, budgets[b], 0, &calls, want, sizeof(want));
        event_pages(f->db, budgets[b], 1, &calls, got, sizeof(got));
        assert_string_equal(got, want);
    }
    /* the pages above differ by budget: some split, the largest does not */
    instance_pages(f->db, 5000, 1, &calls, got, sizeof(got));
    assert_true(strchr(got, '|') != strrchr(got, '|'));
    calls = 0;
    instance_pages(f->db, 4u << 20, 1, &calls, got, sizeof(got));
    event_pages(f->db, 4u << 20, 1, &calls, want, sizeof(want));
    assert_int_equal(calls, 0);
    assert_string_equal(strchr(got, '|'), "|");
}

static void test_pages_within_byte_budget(void **state)
{
    unit_db *f = *state;
    sqlite3 *sq = db_sqlite(f->db);
    grove_err err = GROVE_ERR_INIT;
    db_instance_filter fi;
    db_event_filter fe;
    char seen[1024] = "", id[32], *cursor = NULL;
    const size_t budget = 300000;
    int i, pages = 0;

    /* Eight instances with a 100 000-byte prompt each, eight events with 100 000 bytes of metadata
     * (as a database written before events were summarized holds them). */
    for (i = 1; i <= 8; i++) {
        snprintf(id, sizeof(id), "work-%d-a1", i);
        add_instance(f->db, id, "work", i, NULL, 1, NULL, NULL);
    }
    unit_sql(sq, "UPDATE grove_instances SET prompt = replace(hex(zeroblob(50000)), '0', 'p')");
    unit_sql(sq, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 8)"
                 " INSERT INTO grove_mcp_events (tool_name, success, metadata, duration_ms,"
                 " timestamp) SELECT 'log_checkpoint', 1, json_object('blob',"
                 " replace(hex(zeroblob(50000)), '0', 'b')), 1,"
                 " '2026-01-01T00:00:0' || (i / 2) || '.000Z' FROM n");

    /* Instances: pages of at most the budget (two rows), with a cursor, every row once. */
    memset(&fi, 0, sizeof(fi));
    fi.limit = 500;
    fi.max_bytes = budget;
    fi.size_of = wire_instance_size;
    do {
        char *prev = cursor;
        json_t *arr;

        fi.cursor = prev;
        arr = page(f->db, &fi, &cursor);
        free(prev);
        pages++;
        assert_true(json_array_size(arr) >= 1);
        assert_true(json_dumpb(arr, NULL, 0, JSON_COMPACT) <= budget + 2);
        assert_int_equal(json_array_size(arr), 2);
        collect_ids(arr, seen, sizeof(seen));
        json_decref(arr);
    } while (cursor);
    assert_int_equal(pages, 4);
    assert_string_equal(seen, "work-1-a1\nwork-2-a1\nwork-3-a1\nwork-4-a1\nwork-5-a1\nwork-6-a1\n"
                              "work-7-a1\nwork-8-a1\n");

    /* A budget smaller than one row: one row a page, never none. */
    fi.max_bytes = 1000;
    fi.cursor = NULL;
    {
        json_t *arr = page(f->db, &fi, &cursor);

        assert_int_equal(json_array_size(arr), 1);
        assert_non_null(cursor);
        json_decref(arr);
        free(cursor);
        cursor = NULL;
    }

    /* Events, newest first (ties by id): the same, through the event cursor. */
    memset(&fe, 0, sizeof(fe));
    fe.success = -1;
    fe.limit = 500;
    fe.max_bytes = budget;
    fe.size_of = wire_event_size;
    seen[0] = '\0';
    pages = 0;
    do {
        grove_event_list list;
        json_t *arr;

        fe.cursor = cursor;
        if (db_event_list(f->db, &fe, &list, &err) != 0)
            fail_msg("events: %s", err.msg);
        free(cursor);
        cursor = list.next_cursor;
        list.next_cursor = NULL;
        arr = wire_events(&list);
        db_event_list_free(&list);
        pages++;
        assert_int_equal(json_array_size(arr), 2);
        assert_true(json_dumpb(arr, NULL, 0, JSON_COMPACT) <= budget + 2);
        collect_ids(arr, seen, sizeof(seen));
        json_decref(arr);
    } while (cursor);
    assert_int_equal(pages, 4);
    assert_string_equal(seen, "8\n7\n6\n5\n4\n3\n2\n1\n");

    /* Without a budget, limit makes the pages: 3 + 3 + 2. */
    fe.max_bytes = 0;
    fe.limit = 3;
    seen[0] = '\0';
    pages = 0;
    do {
        grove_event_list list;
        json_t *arr;

        fe.cursor = cursor;
        if (db_event_list(f->db, &fe, &list, &err) != 0)
            fail_msg("events: %s", err.msg);
        free(cursor);
        cursor = list.next_cursor;
        list.next_cursor = NULL;
        arr = wire_events(&list);
        assert_int_equal(list.n, ++pages < 3 ? 3 : 2);
        db_event_list_free(&list);
        collect_ids(arr, seen, sizeof(seen));
        json_decref(arr);
    } while (cursor);
    assert_string_equal(seen, "8\n7\n6\n5\n4\n3\n2\n1\n");

    /* A cursor grove did not make (an instance cursor has no numeric id). */
    fe.cursor = "not-a-cursor";
    {
        grove_event_list list;

        assert_int_equal(db_event_list(f->db, &fe, &list, &err), -1);
        assert_int_equal(err.code, GROVE_EINVAL);
    }
}

typedef struct fail_arg {
    int fail; /* 1: write, then fail */
} fail_arg;

/* db_txn body: records an event "grouped", then fails when asked to (its write must go). */
static int grouped_fn(grove_db *db, void *arg, grove_err *err)
{
    fail_arg *a = arg;
    db_new_event e;

    memset(&e, 0, sizeof(e));
    e.tool_name = a->fail ? "grouped_failed" : "grouped";
    e.success = 1;
    if (db_event_insert(db, &e, err) != 0)
        return -1;
    return a->fail ? grove_fail(err, GROVE_EINVAL, "asked to fail") : 0;
}

/* Group commit: one transaction, a savepoint per db_txn(); a failure undoes only its own writes. */
static void test_group_commit(void **state)
{
    unit_db *f = *state;
    grove_err err = GROVE_ERR_INIT;
    fail_arg ok = {0}, bad = {1};
    sqlite3 *other = NULL;
    json_t *arr;
    int i;

    assert_int_equal(db_group_begin(f->db, &err), 0);
    assert_int_equal(db_group_begin(f->db, &err), -1); /* one at a time */
    for (i = 0; i < 3; i++) {
        assert_int_equal(db_txn(f->db, grouped_fn, &ok, &err), 0);
        assert_int_equal(db_txn(f->db, grouped_fn, &bad, &err), -1);
        assert_string_equal(err.msg, "asked to fail");
    }
    /* visible to the group's own reads, invisible to anyone else until the commit */
    arr = events(f->db, NULL, "grouped", -1, NULL, 50);
    assert_int_equal(json_array_size(arr), 3);
    json_decref(arr);
    assert_int_equal(sqlite3_open_v2(db_path(f->db), &other, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    assert_int_equal(
        unit_query_int(other, "SELECT count(*) FROM grove_mcp_events WHERE tool_name = 'grouped'"),
        0);
    assert_int_equal(db_group_commit(f->db, &err), 0);
    assert_int_equal(
        unit_query_int(other, "SELECT count(*) FROM grove_mcp_events WHERE tool_name = 'grouped'"),
        3);
    assert_int_equal(unit_query_int(other, "SELECT count(*) FROM grove_mcp_events WHERE "
                                           "tool_name = 'grouped_failed'"),
                     0);
    sqlite3_close(other);
    assert_int_equal(db_group_commit(f->db, &err), 0); /* none open: nothing to do */
    /* after the group, db_txn() commits on its own again */
    assert_int_equal(db_txn(f->db, grouped_fn, &ok, &err), 0);
    arr = events(f->db, NULL, "grouped", -1, NULL, 50);
    assert_int_equal(json_array_size(arr), 4);
    json_decref(arr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_instance_insert_get, unit_db_setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_typed_rows, unit_db_setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_instance_duplicate_conflict, unit_db_setup,
                                        unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_next_agent_number, unit_db_setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_relationships_and_parent, unit_db_setup,
                                        unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_list_pagination, unit_db_setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_list_invalid_cursor, unit_db_setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoints, unit_db_setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_events, unit_db_setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_group_commit, unit_db_setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_page_size_bound, unit_db_setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_pages_within_byte_budget, unit_db_setup,
                                        unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_config, unit_db_setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_checkpoints, unit_db_setup,
                                        unit_db_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
