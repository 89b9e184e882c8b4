/*
 * Unit tests of db/report.c against real database files: `--since`
 * parsing, db_report_rows(), the `grove stats` aggregates over known rows,
 * the export stream (exact JSONL bytes and exact cells of every table),
 * `--since` export, and import (round trip, refusal of a non-empty
 * database, malformed input, failing callbacks: nothing written).
 *
 * CSV quoting and secret redaction are not in this layer (tools/report.c
 * writes the files from the lines and cells checked here); the cells are
 * rendered here with the README's RFC 4180 rules so that every cell, NULL
 * and the empty string included, is compared byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/migrate.h"
#include "db/queries.h"
#include "db/report.h"
#include "tests/unit/unit.h"
#include "tools/wire.h"

#define NT 6 /* the exported tables */

/* ---- fixtures ----------------------------------------------------------- */

typedef unit_db fixture; /* a fresh temporary folder with a migrated database */

static grove_db *open_db(const fixture *f, const char *name)
{
    grove_err err = GROVE_ERR_INIT;
    grove_db *db = NULL;
    char path[160];

    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    if (migrate_open(&db, path, &err) != 0)
        fail_msg("db_open %s: %s", path, err.msg);
    return db;
}

static void sqlf(grove_db *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sqlf(grove_db *db, const char *fmt, ...)
{
    char s[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(s, sizeof(s), fmt, ap);
    va_end(ap);
    unit_sql(db_sqlite(db), s);
}

/* The first column of the first row of s as malloc'd text (NULL for SQL NULL). */
static long long row_count(grove_db *db)
{
    grove_err err = GROVE_ERR_INIT;
    long long n = -1;

    if (db_export_row_count(db, &n, &err) != 0)
        fail_msg("db_export_row_count: %s", err.msg);
    return n;
}

/* ---- rows through db/queries.h ------------------------------------------ */

/*
 * An instance created at `created` (and terminated at `terminated` unless
 * NULL); with a parent, its relationship row is dated `created` too.
 */
static void add_instance(grove_db *db, const char *id, const char *type, long long issue,
                         const char *parent, const char *created, const char *terminated)
{
    grove_err err = GROVE_ERR_INIT;
    db_new_instance in;
    char path[160], branch[160];

    memset(&in, 0, sizeof(in));
    snprintf(path, sizeof(path), "/wt/%s", id);
    snprintf(branch, sizeof(branch), "grove/%s", id);
    in.id = id;
    in.type = type;
    in.agent_number = 1;
    in.issue_number = issue;
    in.worktree_path = path;
    in.branch_name = branch;
    in.parent_id = parent;
    in.relationship_type = parent ? "spawned_review" : NULL;
    if (db_instance_insert(db, &in, &err) != 0)
        fail_msg("insert %s: %s", id, err.msg);
    if (terminated && db_instance_terminate(db, id, NULL, &err) != 0)
        fail_msg("terminate %s: %s", id, err.msg);
    sqlf(db, "UPDATE grove_instances SET created_at = '%s', terminated_at = %s%s%s WHERE id = '%s'",
         created, terminated ? "'" : "", terminated ? terminated : "NULL", terminated ? "'" : "",
         id);
    sqlf(db,
         "UPDATE grove_instance_relationships SET created_at = '%s' WHERE child_instance = '%s'",
         created, id);
}

/* An event at `when` (an SQL expression); its id. */
static long long add_event(grove_db *db, const char *instance, const char *tool, int success,
                           const char *error, const json_t *metadata, double ms, const char *when)
{
    grove_err err = GROVE_ERR_INIT;
    db_new_event ev;
    long long id;

    memset(&ev, 0, sizeof(ev));
    ev.instance_id = instance;
    ev.tool_name = tool;
    ev.success = success;
    ev.error_message = error;
    ev.metadata = metadata;
    ev.duration_ms = ms;
    if (db_event_insert(db, &ev, &err) != 0)
        fail_msg("event %s: %s", tool, err.msg);
    id = unit_query_int(db_sqlite(db), "SELECT max(id) FROM grove_mcp_events");
    sqlf(db, "UPDATE grove_mcp_events SET timestamp = %s WHERE id = %lld", when, id);
    return id;
}

/* A checkpoint at `when` (an SQL expression). */
static void add_checkpoint(grove_db *db, const char *instance, const char *phase, const char *name,
                           const char *status, const json_t *data, const char *message,
                           const char *sha, const char *when)
{
    grove_err err = GROVE_ERR_INIT;
    db_new_checkpoint cp;
    grove_checkpoint out;

    memset(&cp, 0, sizeof(cp));
    cp.instance_id = instance;
    cp.phase = phase;
    cp.name = name;
    cp.status = status;
    cp.data = data;
    cp.message = message;
    cp.commit_sha = sha;
    if (db_checkpoint_insert(db, &cp, &out, &err) != 0)
        fail_msg("checkpoint %s/%s: %s", instance, phase, err.msg);
    sqlf(db, "UPDATE grove_checkpoints SET created_at = %s WHERE id = %lld", when, out.id);
    db_checkpoint_free(&out);
}

static void add_issue(grove_db *db, const char *repo, long long number, json_t *issue,
                      const char *fetched)
{
    grove_err err = GROVE_ERR_INIT;
    db_github_issue in = {0};
    const char *labels[8];
    const json_t *label;
    size_t i;

    in.repo = repo;
    in.number = number;
    in.title = json_string_value(json_object_get(issue, "title"));
    in.body = json_string_value(json_object_get(issue, "body"));
    in.state = json_string_value(json_object_get(issue, "state"));
    in.html_url = json_string_value(json_object_get(issue, "html_url"));
    json_array_foreach(json_object_get(issue, "labels"), i, label)
    {
        assert_true(i < 8);
        labels[in.nlabels++] = json_is_string(label)
                                   ? json_string_value(label)
                                   : json_string_value(json_object_get(label, "name"));
    }
    in.labels = labels;
    if (db_github_issue_upsert(db, &in, &err) != 0)
        fail_msg("issue %s#%lld: %s", repo, number, err.msg);
    json_decref(issue);
    sqlf(db, "UPDATE grove_github_issues SET fetched_at = '%s' WHERE repo = '%s' AND number = %lld",
         fetched, repo, number);
}

#define T0 "2026-01-01T00:00:0"

/*
 * The small data set of the exact-bytes test: NULLs, empty strings, commas,
 * quotes, CR/LF, non-ASCII, JSON columns, integer-valued and 17-digit reals.
 */
static void fill_exact(grove_db *db)
{
    grove_err err = GROVE_ERR_INIT;
    db_new_instance in;
    db_new_feedback fb;
    long long fid = 0, ev;
    json_t *j;

    memset(&in, 0, sizeof(in));
    in.id = "work-7-a1";
    in.type = "work";
    in.agent_number = 1;
    in.issue_number = 7;
    in.worktree_path = "/wt/work-7-a1";
    in.branch_name = "grove/work-7-a1";
    in.base_branch = "main";
    in.base_commit = "0123abc";
    in.prompt = "fix, \"it\"\r\nnow: caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac";
    in.tmux_session = "grove-work-7-a1";
    in.agent_pid = 4242;
    in.metadata = "{ \"k\" : [1, 2],\n \"s\": \"a,b\" }";
    assert_int_equal(db_instance_insert(db, &in, &err), 0);
    assert_int_equal(
        db_instance_set_pr(db, "work-7-a1", 12, "https://github.com/o/r/pull/12", &err), 0);
    unit_sql(db_sqlite(db),
             "UPDATE grove_instances SET created_at = '" T0 "0.000Z' WHERE id = 'work-7-a1'");

    memset(&in, 0, sizeof(in));
    in.id = "review-7-a1";
    in.type = "review";
    in.agent_number = 1;
    in.issue_number = 7;
    in.worktree_path = "/wt/review-7-a1";
    in.branch_name = "grove/review-7-a1";
    in.prompt = "";
    in.parent_id = "work-7-a1";
    in.relationship_type = "spawned_review";
    assert_int_equal(db_instance_insert(db, &in, &err), 0);
    assert_int_equal(db_instance_terminate(db, "review-7-a1", NULL, &err), 0);
    unit_sql(db_sqlite(db), "UPDATE grove_instances SET created_at = '" T0
                            "1.000Z', terminated_at = '" T0 "2.500Z' WHERE id = 'review-7-a1'");
    unit_sql(db_sqlite(db), "UPDATE grove_instance_relationships SET created_at = '" T0 "1.000Z'");

    j = json_pack("{s:i, s:s}", "issue", 7, "note", "a \"q\"\nb");
    add_event(db, "work-7-a1", "spawn_work_instance", 1, NULL, j, 12.0, "'" T0 "3.000Z'");
    json_decref(j);
    ev =
        add_event(db, NULL, "query_events", 0, "bad, \"x\"\r\n", NULL, 0.1 + 0.2, "'" T0 "4.000Z'");
    sqlf(db, "UPDATE grove_mcp_events SET metadata = NULL WHERE id = %lld", ev);

    j = json_pack("{s:[s,s], s:f}", "steps", "a", "b", "n", 2.5);
    add_checkpoint(db, "work-7-a1", "plan", "design", "completed", j, "ok, \"done\"", "deadbeef",
                   "'" T0 "5.000Z'");
    json_decref(j);
    add_checkpoint(db, "work-7-a1", "implement", NULL, NULL, NULL, NULL, NULL, "'" T0 "6.000Z'");

    memset(&fb, 0, sizeof(fb));
    fb.from_instance = "review-7-a1";
    fb.to_instance = "work-7-a1";
    fb.feedback_type = "needs_work";
    fb.feedback = "line1\nline2, \"q\" \xe2\x9c\x93";
    assert_int_equal(db_feedback_insert(db, &fb, &fid, &err), 0);
    assert_int_equal(db_feedback_set_delivered(db, fid, 1, &err), 0);
    unit_sql(db_sqlite(db), "UPDATE grove_feedback SET created_at = '" T0 "7.000Z'");

    add_issue(db, "o/r", 7,
              json_pack("{s:s, s:n, s:s, s:s, s:[{s:s}, {s:s}]}", "title", "Fix, \"it\"", "body",
                        "state", "open", "html_url", "https://github.com/o/r/issues/7", "labels",
                        "name", "bug", "name", "p1"),
              T0 "8.000Z");
    add_issue(db, "a/b", 1,
              json_pack("{s:s, s:s, s:s, s:[]}", "title", "\xc3\x9cn", "body", "x\r\ny", "state",
                        "closed", "labels"),
              T0 "9.000Z");
}

#define NOW(mod) "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '" mod "')"
#define SINCE    "2021-01-01T00:00:00.000Z"

/*
 * The history of the stats and `--since` tests. Old rows are dated 2020,
 * new ones 2022 or the last hours; SINCE lies between.
 *
 *   work-7-a1    work   2020-06-01 running  pr 12, reviews: review-7-a1, review-7-a2
 *   review-7-a1  review 2020-06-02 terminated 2020-06-03
 *   review-7-a2  review 2020-06-04 terminated 2020-06-05 (feedback 2022 from it)
 *   work-8-a1    work   2022-01-02 running  pr 13, review: review-8-a1
 *   review-8-a1  review 2022-01-03 running
 *   adhoc-a1     adhoc  2022-01-04 terminated 2022-01-05
 *   work-9-a1    work   2022-01-06 running
 */
static void fill_history(grove_db *db)
{
    grove_err err = GROVE_ERR_INIT;
    db_new_feedback fb;
    long long fid = 0;

    add_instance(db, "work-7-a1", "work", 7, NULL, "2020-06-01T00:00:00.000Z", NULL);
    add_instance(db, "review-7-a1", "review", 7, "work-7-a1", "2020-06-02T00:00:00.000Z",
                 "2020-06-03T00:00:00.000Z");
    add_instance(db, "review-7-a2", "review", 7, "work-7-a1", "2020-06-04T00:00:00.000Z",
                 "2020-06-05T00:00:00.000Z");
    add_instance(db, "work-8-a1", "work", 8, NULL, "2022-01-02T00:00:00.000Z", NULL);
    add_instance(db, "review-8-a1", "review", 8, "work-8-a1", "2022-01-03T00:00:00.000Z", NULL);
    add_instance(db, "adhoc-a1", "adhoc", 0, NULL, "2022-01-04T00:00:00.000Z",
                 "2022-01-05T00:00:00.000Z");
    add_instance(db, "work-9-a1", "work", 9, NULL, "2022-01-06T00:00:00.000Z", NULL);
    assert_int_equal(db_instance_set_pr(db, "work-7-a1", 12, "https://x/pull/12", &err), 0);
    assert_int_equal(db_instance_set_pr(db, "work-8-a1", 13, "https://x/pull/13", &err), 0);

    /* Events 1-7: two tools, old ones (1, 5) before SINCE. */
    add_event(db, NULL, "create_a", 1, NULL, NULL, 10, "'2020-01-01T00:00:01.000Z'");
    add_event(db, NULL, "create_a", 1, NULL, NULL, 20, NOW("-20 minutes"));
    add_event(db, "work-7-a1", "create_a", 0, "boom", NULL, 30, NOW("-10 minutes"));
    add_event(db, NULL, "create_a", 1, NULL, NULL, 40, NOW("-9 minutes"));
    add_event(db, "work-8-a1", "spawn_b", 0, "old fail", NULL, 5, "'2020-01-01T00:00:02.000Z'");
    add_event(db, NULL, "spawn_b", 0, "bad, \"x\"", NULL, 1, NOW("-5 minutes"));
    add_event(db, NULL, "spawn_b", 1, NULL, NULL, 3, NOW("-4 minutes"));

    /* Checkpoints: the funnel and the stale ones. */
    add_checkpoint(db, "work-7-a1", "plan", NULL, "completed", NULL, NULL, NULL,
                   "'2020-06-01T01:00:00.000Z'");
    add_checkpoint(db, "work-7-a1", "implement", NULL, NULL, NULL, NULL, NULL,
                   "'2020-06-01T02:00:00.000Z'");
    add_checkpoint(db, "work-8-a1", "plan", NULL, NULL, NULL, NULL, NULL,
                   "'2022-01-02T01:00:00.000Z'");
    add_checkpoint(db, "work-8-a1", "plan", NULL, "completed", NULL, NULL, NULL,
                   "'2022-01-02T02:00:00.000Z'");
    add_checkpoint(db, "work-8-a1", "implement", "code", NULL, NULL, NULL, NULL,
                   "'2022-01-02T03:00:00.000Z'");
    add_checkpoint(db, "work-9-a1", "plan", NULL, NULL, NULL, NULL, NULL,
                   "'2022-01-06T01:00:00.000Z'");
    add_checkpoint(db, "review-8-a1", "review", NULL, NULL, NULL, NULL, NULL, NOW("-30 hours"));

    /* Feedback: an old one to work-7-a1, a new one from review-7-a2 to work-8-a1. */
    memset(&fb, 0, sizeof(fb));
    fb.from_instance = "review-7-a1";
    fb.to_instance = "work-7-a1";
    fb.feedback_type = "approved";
    fb.feedback = "lgtm";
    assert_int_equal(db_feedback_insert(db, &fb, &fid, &err), 0);
    sqlf(db, "UPDATE grove_feedback SET created_at = '2020-06-02T01:00:00.000Z' WHERE id = %lld",
         fid);
    fb.from_instance = "review-7-a2";
    fb.to_instance = "work-8-a1";
    fb.feedback_type = "suggestions";
    fb.feedback = "see #7";
    assert_int_equal(db_feedback_insert(db, &fb, &fid, &err), 0);
    sqlf(db, "UPDATE grove_feedback SET created_at = '2022-01-03T01:00:00.000Z' WHERE id = %lld",
         fid);

    /* Two issues numbered 7: failures show the title fetched last. */
    add_issue(db, "o/r", 7, json_pack("{s:s, s:s}", "title", "Seven", "state", "open"),
              "2020-06-01T00:00:00.000Z");
    add_issue(db, "o/other", 7, json_pack("{s:s, s:s}", "title", "Other seven", "state", "open"),
              "2022-01-01T00:00:00.000Z");
}

/* ---- export collection -------------------------------------------------- */

typedef struct buf {
    char *data;
    size_t len, cap;
} buf;

static void buf_add(buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->data = realloc(b->data, b->cap);
        assert_non_null(b->data);
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void buf_str(buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

/* RFC 4180 as the README has it: NULL is an empty field, "" the empty string. */
static void csv_cell(buf *b, const db_cell *c)
{
    size_t i;

    if (!c->text)
        return;
    if (c->len && strcspn(c->text, ",\"\r\n") >= c->len) {
        buf_add(b, c->text, c->len);
        return;
    }
    buf_str(b, "\"");
    for (i = 0; i < c->len; i++)
        buf_add(b, c->text[i] == '"' ? "\"\"" : c->text + i, c->text[i] == '"' ? 2 : 1);
    buf_str(b, "\"");
}

typedef struct collect {
    buf jsonl[NT], csv[NT];
    size_t calls;
    size_t last_table;
    size_t stop_at; /* 0: never; n: the n-th call fails */
} collect;

static int collect_row(void *arg, size_t table, const char *line, size_t len, const db_cell *cells,
                       grove_err *err)
{
    collect *c = arg;
    size_t n = 0, i;
    const db_export_table *t = db_export_tables(&n);

    c->calls++;
    assert_true(table < n);
    assert_true(table >= c->last_table); /* table by table, in order */
    c->last_table = table;
    if (c->stop_at && c->calls == c->stop_at)
        return grove_fail(err, GROVE_EIO, "cannot write row %zu: disk on fire", c->calls);
    assert_int_equal(strlen(line), len);
    buf_add(&c->jsonl[table], line, len);
    buf_str(&c->jsonl[table], "\n");
    if (!c->csv[table].len) {
        for (i = 0; i < t[table].ncolumns; i++) {
            buf_str(&c->csv[table], i ? "," : "");
            buf_str(&c->csv[table], t[table].columns[i]);
        }
        buf_str(&c->csv[table], "\r\n");
    }
    for (i = 0; i < t[table].ncolumns; i++) {
        buf_str(&c->csv[table], i ? "," : "");
        csv_cell(&c->csv[table], &cells[i]);
    }
    buf_str(&c->csv[table], "\r\n");
    return 0;
}

static void collect_free(collect *c)
{
    size_t i;

    for (i = 0; i < NT; i++) {
        free(c->jsonl[i].data);
        free(c->csv[i].data);
    }
    memset(c, 0, sizeof(*c));
}

static void export_all(grove_db *db, const char *since, collect *c)
{
    grove_err err = GROVE_ERR_INIT;

    memset(c, 0, sizeof(*c));
    if (db_export(db, since, collect_row, c, &err) != 0)
        fail_msg("db_export: %s", err.msg);
    assert_true(sqlite3_get_autocommit(db_sqlite(db))); /* the read transaction ended */
}

static const char *jsonl(const collect *c, size_t t)
{
    return c->jsonl[t].data ? c->jsonl[t].data : "";
}

static const char *csv(const collect *c, size_t t)
{
    return c->csv[t].data ? c->csv[t].data : "";
}

/* ---- import source ------------------------------------------------------ */

typedef struct source {
    const char *text[NT]; /* each table's file; NULL = empty */
    size_t pos[NT];
    long long lineno[NT];
    int rewinds, nexts;
    int fail_table; /* -1: none; t: reading table t fails */
    int fail_rewind;
} source;

static void source_init(source *s)
{
    memset(s, 0, sizeof(*s));
    s->fail_table = -1;
}

static int source_next(void *arg, size_t table, const char **line, size_t *len, long long *lineno,
                       grove_err *err)
{
    source *s = arg;
    const char *t = s->text[table], *nl;

    s->nexts++;
    if ((int)table == s->fail_table)
        return grove_fail(err, GROVE_EIO, "cannot read table %zu: bad sector", table);
    if (!t || !t[s->pos[table]])
        return 0;
    t += s->pos[table];
    nl = strchr(t, '\n');
    *line = t;
    *len = nl ? (size_t)(nl - t) : strlen(t);
    s->pos[table] += *len + (nl ? 1 : 0);
    *lineno = ++s->lineno[table];
    return 1;
}

static int source_rewind(void *arg, grove_err *err)
{
    source *s = arg;

    s->rewinds++;
    memset(s->pos, 0, sizeof(s->pos));
    memset(s->lineno, 0, sizeof(s->lineno));
    if (s->fail_rewind)
        return grove_fail(err, GROVE_EIO, "cannot rewind: gone");
    return 0;
}

static void source_from(source *s, const collect *c)
{
    size_t t;

    source_init(s);
    for (t = 0; t < NT; t++)
        s->text[t] = c->jsonl[t].data;
}

/* ---- db_export_tables, db_export_row_count ------------------------------ */

static void test_export_tables(void **state)
{
    static const char *const names[NT] = {"grove_instances",  "grove_instance_relationships",
                                          "grove_mcp_events", "grove_checkpoints",
                                          "grove_feedback",   "grove_github_issues"};
    static const size_t ncols[NT] = {24, 5, 8, 10, 8, 8};
    fixture *f = *state;
    const db_export_table *t;
    size_t n = 0, i, k;

    t = db_export_tables(&n);
    assert_non_null(t);
    assert_int_equal(n, NT);
    for (i = 0; i < n; i++) {
        char want[64], q[160], *cols;
        buf b = {0};

        assert_string_equal(t[i].table, names[i]);
        /* The file name is the table's with dashes. */
        snprintf(want, sizeof(want), "%s", names[i]);
        for (k = 0; want[k]; k++)
            want[k] = want[k] == '_' ? '-' : want[k];
        assert_string_equal(t[i].file, want);
        assert_int_equal(t[i].ncolumns, ncols[i]);
        assert_null(t[i].columns[t[i].ncolumns]);
        /* The columns are the table's, in the table's order. */
        for (k = 0; k < t[i].ncolumns; k++) {
            buf_str(&b, k ? "," : "");
            buf_str(&b, t[i].columns[k]);
        }
        snprintf(q, sizeof(q), "SELECT group_concat(name, ',') FROM pragma_table_info('%s')",
                 names[i]);
        cols = unit_query_text(db_sqlite(f->db), q);
        assert_non_null(cols);
        assert_string_equal(b.data, cols);
        free(cols);
        free(b.data);
    }
}

static void test_row_count(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;

    assert_int_equal(row_count(f->db), 0);
    /* Settings are not exported, so they do not count. */
    assert_int_equal(db_config_set(f->db, "stats.stale_after_hours", "48", 0, &err), 0);
    assert_int_equal(row_count(f->db), 0);
    fill_exact(f->db);
    /* 2 instances + 1 relationship + 2 events + 2 checkpoints + 1 feedback + 2 issues. */
    assert_int_equal(row_count(f->db), 10);
    unit_sql(db_sqlite(f->db), "DELETE FROM grove_github_issues WHERE repo = 'a/b'");
    assert_int_equal(row_count(f->db), 9);
    unit_sql(db_sqlite(f->db), "DELETE FROM grove_mcp_events");
    assert_int_equal(row_count(f->db), 7);

    /* A database without grove's tables: a database error, not a count. */
    {
        grove_db *bare = NULL;
        char path[160];
        long long n = 42;

        snprintf(path, sizeof(path), "%s/bare.db", f->dir);
        assert_int_equal(db_open(&bare, path, NULL, &err), 0);
        assert_int_equal(db_export_row_count(bare, &n, &err), -1);
        assert_int_equal(err.code, GROVE_EDB);
        assert_non_null(strstr(err.msg, "no such table"));
        db_close(bare);
    }
}

/* ---- db_report_since ---------------------------------------------------- */

static void since_ok(grove_db *db, const char *text, const char *want)
{
    grove_err err = GROVE_ERR_INIT;
    char *out = NULL;

    if (db_report_since(db, text, &out, &err) != 0)
        fail_msg("since '%s': %s", text, err.msg);
    assert_non_null(out);
    assert_string_equal(out, want);
    free(out);
}

static void since_bad(grove_db *db, const char *text)
{
    grove_err err = GROVE_ERR_INIT;
    char *out = (char *)"untouched", want[512];

    if (db_report_since(db, text, &out, &err) != -1)
        fail_msg("since '%s' was accepted as '%s'", text, out);
    assert_null(out);
    assert_int_equal(err.code, GROVE_EINVAL);
    snprintf(want, sizeof(want),
             "invalid since '%s': expected a duration such as '30m', '24h', '7d', '2w' or an ISO "
             "8601 date or time such as '2026-11-22T03:00:00Z'",
             text);
    assert_string_equal(err.msg, want);
}

/* A duration lies between now - d before the call and now - d after it. */
static void since_duration(grove_db *db, const char *text, const char *modifier)
{
    grove_err err = GROVE_ERR_INIT;
    char q[160], *before, *after, *out = NULL;

    snprintf(q, sizeof(q), "SELECT strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', 'now', '%s')", modifier);
    before = unit_query_text(db_sqlite(db), q);
    if (db_report_since(db, text, &out, &err) != 0)
        fail_msg("since '%s': %s", text, err.msg);
    after = unit_query_text(db_sqlite(db), q);
    assert_non_null(out);
    assert_int_equal(strlen(out), 24);
    assert_int_equal(out[10], 'T');
    assert_int_equal(out[23], 'Z');
    if (strcmp(before, out) > 0 || strcmp(out, after) > 0)
        fail_msg("since '%s' = %s, not within [%s, %s]", text, out, before, after);
    free(before);
    free(after);
    free(out);
}

static void test_since(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    char *out = (char *)"untouched";

    /* ISO 8601 dates and times, normalised to UTC with milliseconds. */
    since_ok(f->db, "2026-11-22", "2026-11-22T00:00:00.000Z");
    since_ok(f->db, "2026-11-22T03:00", "2026-11-22T03:00:00.000Z");
    since_ok(f->db, "2026-11-22T03:00:00Z", "2026-11-22T03:00:00.000Z");
    since_ok(f->db, "2026-11-22T03:04:05.5Z", "2026-11-22T03:04:05.500Z");
    since_ok(f->db, "2026-11-22T03:00:00+02:00", "2026-11-22T01:00:00.000Z");
    since_ok(f->db, "2026-11-22T23:30:00-01:00", "2026-11-23T00:30:00.000Z");
    since_ok(f->db, "2024-02-29", "2024-02-29T00:00:00.000Z");
    since_ok(f->db, "2000-02-29", "2000-02-29T00:00:00.000Z");
    since_ok(f->db, "2026-12-31T23:59:59Z", "2026-12-31T23:59:59.000Z");

    /* Durations back from now, every unit (2w is 14 days). */
    since_duration(f->db, "90s", "-90 seconds");
    since_duration(f->db, "30m", "-30 minutes");
    since_duration(f->db, "24h", "-24 hours");
    since_duration(f->db, "7d", "-7 days");
    since_duration(f->db, "2w", "-14 days");
    since_duration(f->db, "0s", "-0 seconds");
    since_duration(f->db, "100000000s", "-100000000 seconds");

    /* Anything else. */
    since_bad(f->db, "");
    since_bad(f->db, "7");
    since_bad(f->db, "7y");
    since_bad(f->db, "7dd");
    since_bad(f->db, "-7d");
    since_bad(f->db, "+7d");
    since_bad(f->db, " 7d");
    since_bad(f->db, "100000001s");
    since_bad(f->db, "yesterday");
    since_bad(f->db, "2026-02-30");
    since_bad(f->db, "2023-02-29");
    since_bad(f->db, "1900-02-29");
    since_bad(f->db, "2026-13-01");
    since_bad(f->db, "2026-00-10");
    since_bad(f->db, "2026-01-00");
    since_bad(f->db, "2026-1-01");
    since_bad(f->db, "2026-01-01T24:00");
    since_bad(f->db, "2026-01-01T23:60");
    since_bad(f->db, "2026-01-01T23:59:60");
    since_bad(f->db, "2026-01-01T03:00+24:00");
    since_bad(f->db, "2026-01-01T03:00+02:60");
    since_bad(f->db, "2026-01-01 03:00");
    since_bad(f->db, "2026-01-01T03");
    since_bad(f->db, "2026-01-01T03:00:00ZZ");
    since_bad(f->db, "2026-01-01x");

    assert_int_equal(db_report_since(f->db, NULL, &out, &err), -1);
    assert_null(out);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_string_equal(err.msg, "since is empty");
}

/* ---- db_report_rows ----------------------------------------------------- */

static void test_report_rows(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    json_t *rows = NULL;
    char *s;

    /* ?1 and ?2 bound, values by SQL type, invalid UTF-8 sanitised. */
    assert_int_equal(db_report_rows(f->db,
                                    "SELECT ?1 AS since, ?2 AS lim, 1.5 AS r, NULL AS n,"
                                    " 'caf\xc3\xa9' AS t, CAST(x'61ff62' AS TEXT) AS bad",
                                    "S", 7, &rows, &err),
                     0);
    s = json_dumps(rows, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(
        s,
        "[{\"since\":\"S\",\"lim\":7,\"r\":1.5,\"n\":null,\"t\":\"caf\xc3\xa9\",\"bad\":\"a?b\"}]");
    free(s);
    json_decref(rows);

    /* No since: ?1 is NULL. No parameter: nothing bound. Several rows, in order. */
    assert_int_equal(db_report_rows(f->db, "SELECT ?1 IS NULL AS none", NULL, 0, &rows, &err), 0);
    s = json_dumps(rows, JSON_COMPACT);
    assert_string_equal(s, "[{\"none\":1}]");
    free(s);
    json_decref(rows);
    assert_int_equal(
        db_report_rows(f->db, "SELECT value AS v FROM json_each('[3,1,2]')", "x", 5, &rows, &err),
        0);
    s = json_dumps(rows, JSON_COMPACT);
    assert_string_equal(s, "[{\"v\":3},{\"v\":1},{\"v\":2}]");
    free(s);
    json_decref(rows);

    /* No row: an empty array. */
    assert_int_equal(
        db_report_rows(f->db, "SELECT id FROM grove_instances LIMIT ?2", NULL, 3, &rows, &err), 0);
    assert_true(json_is_array(rows));
    assert_int_equal(json_array_size(rows), 0);
    json_decref(rows);

    /* A statement that does not prepare, one that fails while stepping. */
    assert_int_equal(db_report_rows(f->db, "SELECT nope FROM nowhere", NULL, 0, &rows, &err), -1);
    assert_null(rows);
    assert_int_equal(err.code, GROVE_EDB);
    assert_non_null(strstr(err.msg, "no such table: nowhere"));
    err.code = GROVE_OK;
    assert_int_equal(db_report_rows(f->db, "SELECT json('{bad') AS j", NULL, 0, &rows, &err), -1);
    assert_null(rows);
    assert_int_equal(err.code, GROVE_EDB);
    assert_non_null(strstr(err.msg, "malformed JSON"));
}

/* ---- db_stats ----------------------------------------------------------- */

/* db_stats() as `grove stats --json` shows it (wire_stats()); *out NULL on failure. */
static int stats_json(grove_db *db, const char *since, int limit, json_t **out, grove_err *err)
{
    db_stats_report r;

    *out = NULL;
    if (db_stats(db, since, limit, &r, err) != 0)
        return -1;
    *out = wire_stats(&r, since);
    db_stats_free(&r);
    return *out ? 0 : -1;
}

static json_t *get(const json_t *o, const char *path)
{
    char key[64];
    const char *dot;

    while ((dot = strchr(path, '.')) != NULL) {
        snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
        o = json_object_get(o, key);
        path = dot + 1;
    }
    return json_object_get(o, path);
}

static void assert_json(const json_t *v, const char *want)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);

    if (!s || strcmp(s, want) != 0)
        fail_msg("got  %s\nwant %s", s ? s : "(null)", want);
    free(s);
}

static void assert_num(const json_t *v, double want)
{
    assert_true(json_is_number(v));
    if (fabs(json_number_value(v) - want) > 1e-9)
        fail_msg("got %.17g, want %.17g", json_number_value(v), want);
}

/* Sorted keys, so the expected text does not depend on column order. */
static void assert_sorted_json(const json_t *v, const char *want)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

    if (!s || strcmp(s, want) != 0)
        fail_msg("got  %s\nwant %s", s ? s : "(null)", want);
    free(s);
}

static void test_stats_empty(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    json_t *st = NULL;

    assert_int_equal(stats_json(f->db, NULL, 0, &st, &err), 0);
    assert_sorted_json(
        st, "{\"instances\":{\"by_type\":[],\"running\":0,\"terminated\":0,\"total\":0},"
            "\"phase_funnel\":[],\"pull_requests\":{\"opened\":0,\"rows\":[]},"
            "\"recent_failures\":{\"rows\":[],\"total\":0,\"window\":\"last 24 hours\"},"
            "\"reviews\":{\"average\":0.0,\"distribution\":[],\"max\":0,\"reviews\":0,"
            "\"work_instances\":0},\"since\":null,"
            "\"stale_checkpoints\":{\"rows\":[],\"threshold_hours\":24.0},\"tools\":[]}");
    json_decref(st);
    assert_true(sqlite3_get_autocommit(db_sqlite(f->db)));
}

static void test_stats_all(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    json_t *st = NULL, *t, *r;

    fill_history(f->db);
    assert_int_equal(stats_json(f->db, NULL, 0, &st, &err), 0);
    assert_true(sqlite3_get_autocommit(db_sqlite(f->db)));
    assert_true(json_is_null(get(st, "since")));

    assert_json(get(st, "instances"),
                "{\"total\":7,\"running\":4,\"terminated\":3,\"by_type\":["
                "{\"type\":\"adhoc\",\"running\":0,\"terminated\":1,\"total\":1},"
                "{\"type\":\"review\",\"running\":1,\"terminated\":2,\"total\":3},"
                "{\"type\":\"work\",\"running\":3,\"terminated\":0,\"total\":3}]}");

    /* create_a: 10 20 30 40, one failure; spawn_b: 5 1 3, two failures. */
    t = get(st, "tools");
    assert_int_equal(json_array_size(t), 2);
    r = json_array_get(t, 0);
    assert_string_equal(json_string_value(get(r, "tool_name")), "create_a");
    assert_json(get(r, "calls"), "4");
    assert_json(get(r, "successes"), "3");
    assert_json(get(r, "failures"), "1");
    assert_num(get(r, "success_rate"), 0.75);
    assert_num(get(r, "avg_duration_ms"), 25);
    assert_num(get(r, "median_duration_ms"), 25);
    assert_num(get(r, "p95_duration_ms"), 40);
    r = json_array_get(t, 1);
    assert_string_equal(json_string_value(get(r, "tool_name")), "spawn_b");
    assert_json(get(r, "calls"), "3");
    assert_json(get(r, "successes"), "1");
    assert_json(get(r, "failures"), "2");
    assert_num(get(r, "success_rate"), 1.0 / 3.0);
    assert_num(get(r, "avg_duration_ms"), 3);
    assert_num(get(r, "median_duration_ms"), 3);
    assert_num(get(r, "p95_duration_ms"), 5);

    /* The last 24 hours: events 6 and 3, newest first; 5 is too old. */
    assert_string_equal(json_string_value(get(st, "recent_failures.window")), "last 24 hours");
    assert_json(get(st, "recent_failures.total"), "2");
    r = get(st, "recent_failures.rows");
    assert_int_equal(json_array_size(r), 2);
    assert_json(get(json_array_get(r, 0), "id"), "6");
    assert_json(get(json_array_get(r, 0), "error_message"), "\"bad, \\\"x\\\"\"");
    assert_true(json_is_null(get(json_array_get(r, 0), "instance_id")));
    assert_json(get(json_array_get(r, 1), "id"), "3");
    assert_json(get(json_array_get(r, 1), "instance_id"), "\"work-7-a1\"");
    assert_json(get(json_array_get(r, 1), "instance_type"), "\"work\"");
    assert_json(get(json_array_get(r, 1), "issue_number"), "7");
    assert_json(get(json_array_get(r, 1), "issue_title"), "\"Other seven\"");
    assert_json(get(json_array_get(r, 1), "error_message"), "\"boom\"");
    assert_num(get(json_array_get(r, 1), "duration_ms"), 30);

    /* Running instances idle for more than 24 hours, oldest activity first. */
    assert_num(get(st, "stale_checkpoints.threshold_hours"), 24);
    r = get(st, "stale_checkpoints.rows");
    assert_int_equal(json_array_size(r), 4);
    assert_json(get(json_array_get(r, 0), "instance_id"), "\"work-7-a1\"");
    assert_json(get(json_array_get(r, 0), "phase"), "\"implement\"");
    assert_json(get(json_array_get(r, 0), "last_activity_at"), "\"2020-06-01T02:00:00.000Z\"");
    assert_true(json_integer_value(get(json_array_get(r, 0), "age_minutes")) > 1000000);
    assert_json(get(json_array_get(r, 1), "instance_id"), "\"work-8-a1\"");
    assert_json(get(json_array_get(r, 1), "name"), "\"code\"");
    assert_json(get(json_array_get(r, 1), "sequence"), "3");
    assert_json(get(json_array_get(r, 2), "instance_id"), "\"work-9-a1\"");
    assert_json(get(json_array_get(r, 3), "instance_id"), "\"review-8-a1\"");
    assert_json(get(json_array_get(r, 3), "phase"), "\"review\"");

    /* Reviews per work instance: work-9 none, work-8 one, work-7 two. */
    assert_json(get(st, "reviews"),
                "{\"work_instances\":3,\"reviews\":3,\"average\":1.0,\"max\":2,\"distribution\":["
                "{\"reviews\":0,\"work_instances\":1},{\"reviews\":1,\"work_instances\":1},"
                "{\"reviews\":2,\"work_instances\":1}]}");
    assert_json(get(st, "pull_requests"),
                "{\"opened\":2,\"rows\":["
                "{\"id\":\"work-8-a1\",\"pr_number\":13,\"pr_url\":\"https://x/pull/13\"},"
                "{\"id\":\"work-7-a1\",\"pr_number\":12,\"pr_url\":\"https://x/pull/12\"}]}");
    /* plan: work-7 (done), work-8 (done), work-9; implement: work-7, work-8; review: 1. */
    assert_json(get(st, "phase_funnel"),
                "[{\"phase\":\"plan\",\"instances\":3,\"completed\":2},"
                "{\"phase\":\"implement\",\"instances\":2,\"completed\":0},"
                "{\"phase\":\"review\",\"instances\":1,\"completed\":0}]");
    json_decref(st);

    /* failures_limit caps the failures and the pull requests, not their totals. */
    assert_int_equal(stats_json(f->db, NULL, 1, &st, &err), 0);
    assert_json(get(st, "recent_failures.total"), "2");
    assert_int_equal(json_array_size(get(st, "recent_failures.rows")), 1);
    assert_json(get(json_array_get(get(st, "recent_failures.rows"), 0), "id"), "6");
    assert_json(get(st, "pull_requests.opened"), "2");
    assert_int_equal(json_array_size(get(st, "pull_requests.rows")), 1);
    json_decref(st);

    /* Two work instances with one review each: reviews count per instance. */
    add_instance(f->db, "work-10-a1", "work", 10, NULL, "2022-02-01T00:00:00.000Z",
                 "2022-02-02T00:00:00.000Z");
    add_instance(f->db, "review-10-a1", "review", 10, "work-10-a1", "2022-02-01T01:00:00.000Z",
                 "2022-02-02T00:00:00.000Z");
    assert_int_equal(stats_json(f->db, NULL, 0, &st, &err), 0);
    assert_json(get(st, "reviews"),
                "{\"work_instances\":4,\"reviews\":4,\"average\":1.0,\"max\":2,\"distribution\":["
                "{\"reviews\":0,\"work_instances\":1},{\"reviews\":1,\"work_instances\":2},"
                "{\"reviews\":2,\"work_instances\":1}]}");
    assert_json(get(st, "instances.terminated"), "5");
    assert_json(get(st, "instances.total"), "9");
    json_decref(st);

    assert_int_equal(db_config_set(f->db, "stats.stale_after_hours", "48", 0, &err), 0);
    assert_int_equal(stats_json(f->db, NULL, 20, &st, &err), 0);
    assert_num(get(st, "stale_checkpoints.threshold_hours"), 48);
    assert_int_equal(json_array_size(get(st, "stale_checkpoints.rows")), 3);
    json_decref(st);
    /* An encrypted or non-positive value is ignored. */
    assert_int_equal(db_config_set(f->db, "stats.stale_after_hours", "48", 1, &err), 0);
    assert_int_equal(stats_json(f->db, NULL, 20, &st, &err), 0);
    assert_num(get(st, "stale_checkpoints.threshold_hours"), 24);
    json_decref(st);
    assert_int_equal(db_config_set(f->db, "stats.stale_after_hours", "0", 0, &err), 0);
    assert_int_equal(stats_json(f->db, NULL, 20, &st, &err), 0);
    assert_num(get(st, "stale_checkpoints.threshold_hours"), 24);
    assert_int_equal(json_array_size(get(st, "stale_checkpoints.rows")), 4);
    json_decref(st);
}

static void test_stats_since(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    json_t *st = NULL, *t, *r;

    fill_history(f->db);
    assert_int_equal(stats_json(f->db, SINCE, 0, &st, &err), 0);
    assert_true(sqlite3_get_autocommit(db_sqlite(f->db)));
    assert_json(get(st, "since"), "\"" SINCE "\"");

    /* Created since: work-8, review-8, adhoc, work-9. */
    assert_json(get(st, "instances"),
                "{\"total\":4,\"running\":3,\"terminated\":1,\"by_type\":["
                "{\"type\":\"adhoc\",\"running\":0,\"terminated\":1,\"total\":1},"
                "{\"type\":\"review\",\"running\":1,\"terminated\":0,\"total\":1},"
                "{\"type\":\"work\",\"running\":2,\"terminated\":0,\"total\":2}]}");

    /* create_a: 20 30 40 (one failure); spawn_b: 1 3 (one failure). */
    t = get(st, "tools");
    assert_int_equal(json_array_size(t), 2);
    r = json_array_get(t, 0);
    assert_string_equal(json_string_value(get(r, "tool_name")), "create_a");
    assert_json(get(r, "calls"), "3");
    assert_json(get(r, "successes"), "2");
    assert_json(get(r, "failures"), "1");
    assert_num(get(r, "success_rate"), 2.0 / 3.0);
    assert_num(get(r, "avg_duration_ms"), 30);
    assert_num(get(r, "median_duration_ms"), 30);
    assert_num(get(r, "p95_duration_ms"), 40);
    r = json_array_get(t, 1);
    assert_string_equal(json_string_value(get(r, "tool_name")), "spawn_b");
    assert_json(get(r, "calls"), "2");
    assert_json(get(r, "successes"), "1");
    assert_json(get(r, "failures"), "1");
    assert_num(get(r, "success_rate"), 0.5);
    assert_num(get(r, "avg_duration_ms"), 2);
    assert_num(get(r, "median_duration_ms"), 2);
    assert_num(get(r, "p95_duration_ms"), 3);

    assert_string_equal(json_string_value(get(st, "recent_failures.window")), "since " SINCE);
    assert_json(get(st, "recent_failures.total"), "2");
    r = get(st, "recent_failures.rows");
    assert_int_equal(json_array_size(r), 2);
    assert_json(get(json_array_get(r, 0), "id"), "6");
    assert_json(get(json_array_get(r, 1), "id"), "3");
    assert_json(get(json_array_get(r, 1), "instance_status"), "\"running\"");
    assert_json(get(json_array_get(r, 1), "issue_title"), "\"Other seven\"");
    assert_true(json_is_null(get(json_array_get(r, 0), "issue_title")));

    /* Stale checkpoints do not depend on since. */
    assert_int_equal(json_array_size(get(st, "stale_checkpoints.rows")), 4);

    assert_json(get(st, "reviews"),
                "{\"work_instances\":2,\"reviews\":1,\"average\":0.5,\"max\":1,\"distribution\":["
                "{\"reviews\":0,\"work_instances\":1},{\"reviews\":1,\"work_instances\":1}]}");
    assert_json(get(st, "pull_requests"),
                "{\"opened\":1,\"rows\":["
                "{\"id\":\"work-8-a1\",\"pr_number\":13,\"pr_url\":\"https://x/pull/13\"}]}");
    /* plan: work-8 (done), work-9; review (first at sequence 1) before implement (3). */
    assert_json(get(st, "phase_funnel"),
                "[{\"phase\":\"plan\",\"instances\":2,\"completed\":1},"
                "{\"phase\":\"review\",\"instances\":1,\"completed\":0},"
                "{\"phase\":\"implement\",\"instances\":1,\"completed\":0}]");
    json_decref(st);

    /* An earlier since takes in the old failure too, newest first. */
    assert_int_equal(stats_json(f->db, "2019-01-01T00:00:00.000Z", 5, &st, &err), 0);
    assert_json(get(st, "recent_failures.total"), "3");
    r = get(st, "recent_failures.rows");
    assert_int_equal(json_array_size(r), 3);
    assert_json(get(json_array_get(r, 2), "id"), "5");
    assert_json(get(json_array_get(r, 2), "error_message"), "\"old fail\"");
    assert_json(get(json_array_get(r, 2), "issue_number"), "8");
    assert_json(get(st, "instances.total"), "7");
    json_decref(st);

    /* A since after everything: nothing but the stale checkpoints. */
    assert_int_equal(stats_json(f->db, "2999-01-01T00:00:00.000Z", 5, &st, &err), 0);
    assert_json(get(st, "instances.total"), "0");
    assert_json(get(st, "tools"), "[]");
    assert_json(get(st, "recent_failures.total"), "0");
    assert_json(get(st, "reviews.work_instances"), "0");
    assert_json(get(st, "pull_requests.opened"), "0");
    assert_json(get(st, "phase_funnel"), "[]");
    assert_int_equal(json_array_size(get(st, "stale_checkpoints.rows")), 4);
    json_decref(st);
}

static void test_stats_error(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    json_t *st = json_object(), *keep = st;

    fill_history(f->db);
    /* A database whose view is gone: an error, no object, no open transaction. */
    unit_sql(db_sqlite(f->db), "DROP VIEW grove_tool_success_rate");
    assert_int_equal(stats_json(f->db, NULL, 0, &st, &err), -1);
    assert_null(st);
    assert_int_equal(err.code, GROVE_EDB);
    assert_non_null(strstr(err.msg, "grove_tool_success_rate"));
    assert_true(sqlite3_get_autocommit(db_sqlite(f->db)));
    json_decref(keep);
    /* With since the view is not used. */
    assert_int_equal(stats_json(f->db, SINCE, 0, &st, &err), 0);
    assert_int_equal(json_array_size(get(st, "tools")), 2);
    json_decref(st);
    /* A later part fails the same way, since or not. */
    unit_sql(db_sqlite(f->db), "DROP VIEW grove_stale_checkpoints");
    err.code = GROVE_OK;
    assert_int_equal(stats_json(f->db, SINCE, 0, &st, &err), -1);
    assert_null(st);
    assert_int_equal(err.code, GROVE_EDB);
    assert_non_null(strstr(err.msg, "no such table: grove_stale_checkpoints"));
    assert_true(sqlite3_get_autocommit(db_sqlite(f->db)));
}

/* ---- db_export ---------------------------------------------------------- */

static const char *const EXACT_JSONL[NT] = {
    "{\"id\":\"work-7-a1\",\"type\":\"work\",\"status\":\"running\",\"worktree_path\":"
    "\"/wt/work-7-a1\",\"branch_name\":\"grove/work-7-a1\",\"base_branch\":\"main\","
    "\"base_commit\":\"0123abc\",\"tmux_session\":\"grove-work-7-a1\",\"agent_pid\":4242,"
    "\"issue_number\":7,\"beads_id\":null,\"pr_number\":12,\"pr_url\":"
    "\"https://github.com/o/r/pull/12\",\"prompt\":\"fix, \\\"it\\\"\\r\\nnow: caf\xc3\xa9 "
    "\xe6\x97\xa5\xe6\x9c\xac\",\"agent_number\":1,\"created_at\":\"2026-01-01T00:00:00.000Z\","
    "\"terminated_at\":null,\"metadata\":{\"k\":[1,2],\"s\":\"a,b\"},\"landed_commit\":null,"
    "\"landed_at\":null,\"agent_profile\":null,\"agent_state\":\"none\","
    "\"agent_state_since\":null,\"agent_session_id\":null}\n"
    "{\"id\":\"review-7-a1\",\"type\":\"review\",\"status\":\"terminated\",\"worktree_path\":"
    "\"/wt/review-7-a1\",\"branch_name\":\"grove/review-7-a1\",\"base_branch\":null,"
    "\"base_commit\":null,\"tmux_session\":null,\"agent_pid\":null,\"issue_number\":7,"
    "\"beads_id\":null,\"pr_number\":null,\"pr_url\":null,\"prompt\":\"\",\"agent_number\":1,"
    "\"created_at\":\"2026-01-01T00:00:01.000Z\",\"terminated_at\":\"2026-01-01T00:00:02.500Z\","
    "\"metadata\":{},\"landed_commit\":null,\"landed_at\":null,\"agent_profile\":null,"
    "\"agent_state\":\"none\",\"agent_state_since\":null,\"agent_session_id\":null}\n",

    "{\"id\":1,\"parent_instance\":\"work-7-a1\",\"child_instance\":\"review-7-a1\","
    "\"relationship_type\":\"spawned_review\",\"created_at\":\"2026-01-01T00:00:01.000Z\"}\n",

    "{\"id\":1,\"instance_id\":\"work-7-a1\",\"tool_name\":\"spawn_work_instance\",\"success\":1,"
    "\"error_message\":null,\"metadata\":{\"issue\":7,\"note\":\"a \\\"q\\\"\\nb\"},"
    "\"duration_ms\":12,\"timestamp\":\"2026-01-01T00:00:03.000Z\"}\n"
    "{\"id\":2,\"instance_id\":null,\"tool_name\":\"query_events\",\"success\":0,"
    "\"error_message\":\"bad, \\\"x\\\"\\r\\n\",\"metadata\":null,"
    "\"duration_ms\":0.30000000000000004,\"timestamp\":\"2026-01-01T00:00:04.000Z\"}\n",

    "{\"id\":1,\"instance_id\":\"work-7-a1\",\"phase\":\"plan\",\"name\":\"design\",\"status\":"
    "\"completed\",\"data\":{\"steps\":[\"a\",\"b\"],\"n\":2.5},\"message\":\"ok, \\\"done\\\"\","
    "\"commit_sha\":\"deadbeef\",\"sequence\":1,\"created_at\":\"2026-01-01T00:00:05.000Z\"}\n"
    "{\"id\":2,\"instance_id\":\"work-7-a1\",\"phase\":\"implement\",\"name\":null,\"status\":"
    "\"in_progress\",\"data\":null,\"message\":null,\"commit_sha\":null,\"sequence\":2,"
    "\"created_at\":\"2026-01-01T00:00:06.000Z\"}\n",

    "{\"id\":1,\"from_instance\":\"review-7-a1\",\"to_instance\":\"work-7-a1\",\"feedback_type\":"
    "\"needs_work\",\"priority\":\"medium\",\"feedback\":\"line1\\nline2, \\\"q\\\" "
    "\xe2\x9c\x93\",\"delivered\":1,\"created_at\":\"2026-01-01T00:00:07.000Z\"}\n",

    "{\"repo\":\"a/b\",\"number\":1,\"title\":\"\xc3\x9cn\",\"body\":\"x\\r\\ny\",\"state\":"
    "\"closed\",\"html_url\":null,\"labels\":[],\"fetched_at\":\"2026-01-01T00:00:09.000Z\"}\n"
    "{\"repo\":\"o/r\",\"number\":7,\"title\":\"Fix, \\\"it\\\"\",\"body\":null,\"state\":"
    "\"open\",\"html_url\":\"https://github.com/o/r/issues/7\",\"labels\":[\"bug\",\"p1\"],"
    "\"fetched_at\":\"2026-01-01T00:00:08.000Z\"}\n",
};

static const char *const EXACT_CSV[NT] = {
    "id,type,status,worktree_path,branch_name,base_branch,base_commit,tmux_session,agent_pid,"
    "issue_number,beads_id,pr_number,pr_url,prompt,agent_number,created_at,terminated_at,"
    "metadata,landed_commit,landed_at,agent_profile,agent_state,agent_state_since,"
    "agent_session_id\r\n"
    "work-7-a1,work,running,/wt/work-7-a1,grove/work-7-a1,main,0123abc,grove-work-7-a1,4242,7,,"
    "12,https://github.com/o/r/pull/12,\"fix, \"\"it\"\"\r\nnow: caf\xc3\xa9 "
    "\xe6\x97\xa5\xe6\x9c\xac\",1,2026-01-01T00:00:00.000Z,,\"{\"\"k\"\":[1,2],\"\"s\"\":"
    "\"\"a,b\"\"}\",,,,none,,\r\n"
    "review-7-a1,review,terminated,/wt/review-7-a1,grove/review-7-a1,,,,,7,,,,\"\",1,"
    "2026-01-01T00:00:01.000Z,2026-01-01T00:00:02.500Z,{},,,,none,,\r\n",

    "id,parent_instance,child_instance,relationship_type,created_at\r\n"
    "1,work-7-a1,review-7-a1,spawned_review,2026-01-01T00:00:01.000Z\r\n",

    "id,instance_id,tool_name,success,error_message,metadata,duration_ms,timestamp\r\n"
    "1,work-7-a1,spawn_work_instance,1,,\"{\"\"issue\"\":7,\"\"note\"\":\"\"a "
    "\\\"\"q\\\"\"\\nb\"\"}"
    "\",12,2026-01-01T00:00:03.000Z\r\n"
    "2,,query_events,0,\"bad, \"\"x\"\"\r\n\",,0.30000000000000004,2026-01-01T00:00:04.000Z\r\n",

    "id,instance_id,phase,name,status,data,message,commit_sha,sequence,created_at\r\n"
    "1,work-7-a1,plan,design,completed,\"{\"\"steps\"\":[\"\"a\"\",\"\"b\"\"],\"\"n\"\":2.5}\","
    "\"ok, \"\"done\"\"\",deadbeef,1,2026-01-01T00:00:05.000Z\r\n"
    "2,work-7-a1,implement,,in_progress,,,,2,2026-01-01T00:00:06.000Z\r\n",

    "id,from_instance,to_instance,feedback_type,priority,feedback,delivered,created_at\r\n"
    "1,review-7-a1,work-7-a1,needs_work,medium,\"line1\nline2, \"\"q\"\" \xe2\x9c\x93\",1,"
    "2026-01-01T00:00:07.000Z\r\n",

    "repo,number,title,body,state,html_url,labels,fetched_at\r\n"
    "a/b,1,\xc3\x9cn,\"x\r\ny\",closed,,[],2026-01-01T00:00:09.000Z\r\n"
    "o/r,7,\"Fix, \"\"it\"\"\",,open,https://github.com/o/r/issues/7,\"[\"\"bug\"\",\"\"p1\"\"]\","
    "2026-01-01T00:00:08.000Z\r\n",
};

static void test_export_exact(void **state)
{
    fixture *f = *state;
    collect c;
    size_t t;

    fill_exact(f->db);
    export_all(f->db, NULL, &c);
    assert_int_equal(c.calls, 10);
    for (t = 0; t < NT; t++) {
        assert_string_equal(jsonl(&c, t), EXACT_JSONL[t]);
        assert_string_equal(csv(&c, t), EXACT_CSV[t]);
    }
    collect_free(&c);

    /* An empty database: no row at all. */
    unit_sql(db_sqlite(f->db), "DELETE FROM grove_instances; DELETE FROM grove_mcp_events;"
                               " DELETE FROM grove_github_issues");
    export_all(f->db, NULL, &c);
    assert_int_equal(c.calls, 0);
    collect_free(&c);
}

/* Reals keep their exact value: 15 digits when they read back the same, else 17. */
static void test_export_reals(void **state)
{
    fixture *f = *state;
    collect c;

    add_event(f->db, NULL, "t", 1, NULL, NULL, 0.1, "'" T0 "1.000Z'");
    add_event(f->db, NULL, "t", 1, NULL, NULL, 1.0 / 3.0, "'" T0 "2.000Z'");
    add_event(f->db, NULL, "t", 1, NULL, NULL, 1e-7, "'" T0 "3.000Z'");
    add_event(f->db, NULL, "t", 1, NULL, NULL, 123456789012.5, "'" T0 "4.000Z'");
    export_all(f->db, NULL, &c);
    assert_string_equal(
        csv(&c, 2),
        "id,instance_id,tool_name,success,error_message,metadata,duration_ms,timestamp\r\n"
        "1,,t,1,,{},0.1,2026-01-01T00:00:01.000Z\r\n"
        "2,,t,1,,{},0.33333333333333331,2026-01-01T00:00:02.000Z\r\n"
        "3,,t,1,,{},1e-07,2026-01-01T00:00:03.000Z\r\n"
        "4,,t,1,,{},123456789012.5,2026-01-01T00:00:04.000Z\r\n");
    collect_free(&c);
}

/* The ids of a JSONL text (key `key` of every line), comma-separated. */
static char *ids(const char *text, const char *key)
{
    buf b = {0};
    const char *p = text;

    while (p && *p) {
        const char *nl = strchr(p, '\n');
        json_error_t je;
        json_t *o = json_loadb(p, (size_t)(nl - p), 0, &je), *v;
        char num[32];

        if (!o)
            fail_msg("not JSON: %.*s", (int)(nl - p), p);
        v = json_object_get(o, key);
        if (json_is_integer(v)) {
            snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
            buf_str(&b, b.len ? "," : "");
            buf_str(&b, num);
        } else {
            buf_str(&b, b.len ? "," : "");
            buf_str(&b, json_string_value(v));
        }
        json_decref(o);
        p = nl + 1;
    }
    if (!b.data)
        buf_str(&b, "");
    return b.data;
}

static void assert_ids(const collect *c, size_t t, const char *key, const char *want)
{
    char *got = ids(jsonl(c, t), key);

    if (strcmp(got, want) != 0)
        fail_msg("table %zu: got [%s], want [%s]", t, got, want);
    free(got);
}

static void test_export_since(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    long long rows[NT];
    grove_db *db2;
    collect c, all, back;
    source s;
    size_t t;

    fill_history(f->db);
    export_all(f->db, NULL, &all);
    assert_ids(&all, 0, "id",
               "work-7-a1,review-7-a1,review-7-a2,work-8-a1,review-8-a1,adhoc-a1,work-9-a1");
    assert_ids(&all, 2, "id", "1,2,3,4,5,6,7");

    export_all(f->db, SINCE, &c);
    /*
     * Instances: created since (work-8, review-8, adhoc, work-9), alive
     * since (work-7 still runs), or referred to (review-7-a2 sent feedback
     * since); review-7-a1 ended in 2020 and nothing exported refers to it.
     */
    assert_ids(&c, 0, "id", "work-7-a1,review-7-a2,work-8-a1,review-8-a1,adhoc-a1,work-9-a1");
    assert_ids(&c, 1, "child_instance", "review-8-a1");
    assert_ids(&c, 2, "id", "2,3,4,6,7");
    assert_ids(&c, 3, "id", "3,4,5,6,7");
    assert_ids(&c, 4, "id", "2");
    assert_ids(&c, 5, "repo", "o/other");
    /* The lines are the full export's lines. */
    for (t = 0; t < NT; t++) {
        const char *p = jsonl(&c, t);

        while (*p) {
            const char *nl = strchr(p, '\n');
            char *line = strndup(p, (size_t)(nl - p + 1));

            assert_non_null(strstr(jsonl(&all, t), line));
            free(line);
            p = nl + 1;
        }
    }

    /* A since export can be imported (every row it refers to is there). */
    db2 = open_db(f, "since.db");
    source_from(&s, &c);
    if (db_import(db2, source_next, source_rewind, &s, rows, &err) != 0)
        fail_msg("import: %s", err.msg);
    assert_int_equal(rows[0], 6);
    assert_int_equal(rows[1], 1);
    assert_int_equal(rows[2], 5);
    assert_int_equal(rows[3], 5);
    assert_int_equal(rows[4], 1);
    assert_int_equal(rows[5], 1);
    export_all(db2, NULL, &back);
    for (t = 0; t < NT; t++)
        assert_string_equal(jsonl(&back, t), jsonl(&c, t));
    collect_free(&back);
    db_close(db2);

    /* An instance that ended since then is exported, one that ended before is not. */
    collect_free(&c);
    export_all(f->db, "2020-06-02T12:00:00.000Z", &c);
    assert_ids(&c, 0, "id",
               "work-7-a1,review-7-a1,review-7-a2,work-8-a1,review-8-a1,adhoc-a1,work-9-a1");
    collect_free(&c);
    export_all(f->db, "2020-06-03T00:00:00.001Z", &c);
    assert_ids(&c, 0, "id", "work-7-a1,review-7-a2,work-8-a1,review-8-a1,adhoc-a1,work-9-a1");
    assert_ids(&c, 4, "id", "2");
    collect_free(&c);
    /* After everything: only the running instances. */
    export_all(f->db, "2999-01-01T00:00:00.000Z", &c);
    assert_ids(&c, 0, "id", "work-7-a1,work-8-a1,review-8-a1,work-9-a1");
    for (t = 1; t < NT; t++)
        assert_string_equal(jsonl(&c, t), "");
    collect_free(&c);
    collect_free(&all);
}

static void test_export_callback_error(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    collect c;

    fill_exact(f->db);
    /* The 4th row (the first event) fails: the export stops there with that error. */
    memset(&c, 0, sizeof(c));
    c.stop_at = 4;
    assert_int_equal(db_export(f->db, NULL, collect_row, &c, &err), -1);
    assert_int_equal(err.code, GROVE_EIO);
    assert_string_equal(err.msg, "cannot write row 4: disk on fire");
    assert_int_equal(c.calls, 4);
    assert_int_equal(c.last_table, 2);
    assert_true(sqlite3_get_autocommit(db_sqlite(f->db)));
    collect_free(&c);
    /* The very first row, with since. */
    c.stop_at = 1;
    assert_int_equal(db_export(f->db, "2000-01-01T00:00:00.000Z", collect_row, &c, &err), -1);
    assert_int_equal(c.calls, 1);
    assert_true(sqlite3_get_autocommit(db_sqlite(f->db)));
    collect_free(&c);

    /* Inside a transaction the caller holds, export cannot start its own. */
    unit_sql(db_sqlite(f->db), "BEGIN");
    assert_int_equal(db_export(f->db, NULL, collect_row, &c, &err), -1);
    assert_int_equal(err.code, GROVE_EDB);
    assert_int_equal(c.calls, 0);
    unit_sql(db_sqlite(f->db), "ROLLBACK");

    /* A table that cannot be read: the export fails naming nothing else. */
    unit_sql(db_sqlite(f->db), "ALTER TABLE grove_feedback RENAME TO grove_feedback_old");
    assert_int_equal(db_export(f->db, NULL, collect_row, &c, &err), -1);
    assert_int_equal(err.code, GROVE_EDB);
    assert_non_null(strstr(err.msg, "grove_feedback"));
    assert_int_equal(c.calls, 7); /* instances, relationship, events, checkpoints */
    assert_true(sqlite3_get_autocommit(db_sqlite(f->db)));
    collect_free(&c);
}

/* ---- db_import ---------------------------------------------------------- */

/* A table's columns as a select list, JSON columns compared as JSON (whitespace aside). */
static void select_list(const db_export_table *t, char *out, size_t size)
{
    size_t k, used = 0;

    out[0] = '\0';
    for (k = 0; k < t->ncolumns; k++) {
        const char *c = t->columns[k];
        int js = !strcmp(c, "metadata") || !strcmp(c, "data") || !strcmp(c, "labels");

        used += (size_t)snprintf(out + used, size - used, "%s%s%s%s", k ? ", " : "",
                                 js ? "json(" : "", c, js ? ")" : "");
        assert_true(used < size);
    }
}

/* Every row of every exported table is the same in a and in the file b_path. */
static void assert_same_rows(grove_db *a, const char *b_path)
{
    size_t n = 0, t;
    const db_export_table *tab = db_export_tables(&n);
    char q[1024], cols[512];

    sqlf(a, "ATTACH '%s' AS b", b_path);
    for (t = 0; t < n; t++) {
        select_list(&tab[t], cols, sizeof(cols));
        snprintf(q, sizeof(q), "SELECT count(*) FROM %s", tab[t].table);
        assert_true(unit_query_int(db_sqlite(a), q) > 0);
        snprintf(q, sizeof(q),
                 "SELECT (SELECT count(*) FROM main.%s) - (SELECT count(*) FROM b.%s)",
                 tab[t].table, tab[t].table);
        assert_int_equal(unit_query_int(db_sqlite(a), q), 0);
        snprintf(q, sizeof(q),
                 "SELECT count(*) FROM (SELECT %s FROM main.%s EXCEPT SELECT %s FROM b.%s)", cols,
                 tab[t].table, cols, tab[t].table);
        assert_int_equal(unit_query_int(db_sqlite(a), q), 0);
        snprintf(q, sizeof(q),
                 "SELECT count(*) FROM (SELECT %s FROM b.%s EXCEPT SELECT %s FROM main.%s)", cols,
                 tab[t].table, cols, tab[t].table);
        assert_int_equal(unit_query_int(db_sqlite(a), q), 0);
    }
    /* Types: NULL JSON stays NULL (not 'null'), reals stay reals, JSON stays text. */
    assert_int_equal(
        unit_query_int(db_sqlite(a),
                       "SELECT count(*) FROM (SELECT id, typeof(metadata),"
                       " typeof(duration_ms), typeof(success) FROM main.grove_mcp_events"
                       " EXCEPT SELECT id, typeof(metadata), typeof(duration_ms),"
                       " typeof(success) FROM b.grove_mcp_events)"),
        0);
    assert_int_equal(
        unit_query_int(db_sqlite(a),
                       "SELECT count(*) FROM (SELECT id, typeof(data), typeof(sequence)"
                       " FROM main.grove_checkpoints EXCEPT SELECT id, typeof(data),"
                       " typeof(sequence) FROM b.grove_checkpoints)"),
        0);
    assert_int_equal(unit_query_int(db_sqlite(a),
                                    "SELECT count(*) FROM (SELECT id, typeof(prompt),"
                                    " typeof(agent_pid), typeof(metadata) FROM main.grove_instances"
                                    " EXCEPT SELECT id, typeof(prompt), typeof(agent_pid),"
                                    " typeof(metadata) FROM b.grove_instances)"),
                     0);
    unit_sql(db_sqlite(a), "DETACH b");
}

static void roundtrip(fixture *f, const char *name, const long long *want_rows)
{
    grove_err err = GROVE_ERR_INIT;
    long long rows[NT];
    collect c, back;
    char path[160];
    grove_db *db2;
    source s;
    size_t t;

    export_all(f->db, NULL, &c);
    db2 = open_db(f, name);
    /* Settings may exist in the target. */
    assert_int_equal(db_config_set(db2, "github.repo", "o/r", 0, &err), 0);
    source_from(&s, &c);
    memset(rows, 0xff, sizeof(rows));
    if (db_import(db2, source_next, source_rewind, &s, rows, &err) != 0)
        fail_msg("import: %s", err.msg);
    assert_int_equal(s.rewinds, 1);
    for (t = 0; t < NT; t++)
        assert_int_equal(rows[t], want_rows[t]);
    assert_true(sqlite3_get_autocommit(db_sqlite(db2)));
    /* Export → import → export: the same bytes. */
    export_all(db2, NULL, &back);
    for (t = 0; t < NT; t++) {
        assert_string_equal(jsonl(&back, t), jsonl(&c, t));
        assert_string_equal(csv(&back, t), csv(&c, t));
    }
    collect_free(&back);
    collect_free(&c);
    {
        char *v = NULL;

        assert_int_equal(db_config_get(db2, "github.repo", &v, NULL, &err), 0);
        assert_string_equal(v, "o/r");
        free(v);
    }
    db_close(db2);
    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    assert_same_rows(f->db, path);
}

static void test_import_roundtrip_exact(void **state)
{
    static const long long want[NT] = {2, 1, 2, 2, 1, 2};
    fixture *f = *state;

    fill_exact(f->db);
    roundtrip(f, "copy.db", want);
}

static void test_import_roundtrip_history(void **state)
{
    static const long long want[NT] = {7, 3, 7, 7, 2, 2};
    fixture *f = *state;

    fill_history(f->db);
    roundtrip(f, "copy.db", want);
}

/* Blank lines are skipped; line numbers count them; rows may be NULL. */
static void test_import_blank_lines(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    long long rows[NT];
    buf text = {0};
    source s;

    buf_str(&text, "\n  \t\r\n");
    buf_str(&text, EXACT_JSONL[0]);
    buf_str(&text, "\r\n");
    source_init(&s);
    s.text[0] = text.data;
    s.text[5] = "\n\n";
    memset(rows, 0xff, sizeof(rows));
    assert_int_equal(db_import(f->db, source_next, source_rewind, &s, rows, &err), 0);
    assert_int_equal(rows[0], 2);
    assert_int_equal(rows[1], 0);
    assert_int_equal(rows[5], 0);
    assert_int_equal(row_count(f->db), 2);
    assert_int_equal(unit_query_int(db_sqlite(f->db),
                                    "SELECT count(*) FROM grove_instances WHERE id = "
                                    "'review-7-a1' AND prompt = '' AND base_branch IS NULL"),
                     1);
    assert_int_equal(
        unit_query_int(db_sqlite(f->db),
                       "SELECT count(*) FROM grove_instances WHERE metadata = '{\"k\":[1,2],"
                       "\"s\":\"a,b\"}' AND agent_pid = 4242 AND typeof(agent_pid) = 'integer'"),
        1);

    /* rows NULL is fine; the next import is refused (the database is not empty). */
    source_init(&s);
    s.text[5] = EXACT_JSONL[5];
    assert_int_equal(db_import(f->db, source_next, source_rewind, &s, NULL, &err), -1);
    assert_int_equal(err.code, GROVE_ECONFLICT);
    free(text.data);
}

static void test_import_refuses_non_empty(void **state)
{
    fixture *f = *state;
    grove_err err = GROVE_ERR_INIT;
    long long rows[NT];
    collect before, after;
    char want[512];
    source s;
    size_t t;

    fill_exact(f->db);
    export_all(f->db, NULL, &before);
    source_from(&s, &before);
    assert_int_equal(db_import(f->db, source_next, source_rewind, &s, rows, &err), -1);
    assert_int_equal(err.code, GROVE_ECONFLICT);
    snprintf(want, sizeof(want),
             "the database '%s' is not empty (10 rows in grove's tables); import only into a new "
             "database (--db NEW_FILE)",
             f->path);
    assert_string_equal(err.msg, want);
    assert_int_equal(s.nexts, 0); /* refused before reading a line */
    assert_true(sqlite3_get_autocommit(db_sqlite(f->db)));
    export_all(f->db, NULL, &after);
    for (t = 0; t < NT; t++)
        assert_string_equal(jsonl(&after, t), jsonl(&before, t));
    collect_free(&after);
    collect_free(&before);

    /* One row in any one table is enough: here a cached GitHub issue. */
    {
        grove_db *db2 = open_db(f, "one.db");

        add_issue(db2, "o/r", 1, json_pack("{s:s, s:s}", "title", "t", "state", "open"),
                  T0 "0.000Z");
        source_init(&s);
        s.text[0] = EXACT_JSONL[0];
        assert_int_equal(db_import(db2, source_next, source_rewind, &s, rows, &err), -1);
        assert_int_equal(err.code, GROVE_ECONFLICT);
        assert_non_null(strstr(err.msg, "is not empty (1 rows in grove's tables)"));
        assert_int_equal(row_count(db2), 1);
        db_close(db2);
    }
}

/* The import into a fresh database `name` fails with code and message; nothing is written. */
static void import_fails(fixture *f, const char *name, source *s, grove_code code,
                         const char *msg_prefix, const char *msg_part)
{
    grove_err err = GROVE_ERR_INIT;
    grove_db *db = open_db(f, name);
    long long rows[NT];
    char *cfg = NULL;

    assert_int_equal(db_config_set(db, "stats.stale_after_hours", "5", 0, &err), 0);
    if (db_import(db, source_next, source_rewind, s, rows, &err) != -1)
        fail_msg("import %s succeeded", name);
    assert_int_equal(err.code, code);
    if (strncmp(err.msg, msg_prefix, strlen(msg_prefix)) != 0)
        fail_msg("got '%s', want it to start with '%s'", err.msg, msg_prefix);
    if (msg_part && !strstr(err.msg, msg_part))
        fail_msg("got '%s', want it to contain '%s'", err.msg, msg_part);
    /* Nothing written, nothing left open, settings untouched. */
    assert_true(sqlite3_get_autocommit(db_sqlite(db)));
    assert_int_equal(row_count(db), 0);
    assert_int_equal(db_config_get(db, "stats.stale_after_hours", &cfg, NULL, &err), 0);
    assert_string_equal(cfg, "5");
    free(cfg);
    assert_int_equal(unit_query_int(db_sqlite(db), "SELECT count(*) FROM grove_user_config"), 1);
    db_close(db);
}

#define EV_HEAD "{\"id\":1,\"instance_id\":null,\"tool_name\":\"t\",\"success\":1,"
#define EV_TAIL "\"duration_ms\":1.5,\"timestamp\":\"2026-01-01T00:00:00.000Z\"}"
#define EV_OK   EV_HEAD "\"error_message\":null,\"metadata\":{}," EV_TAIL

static void test_import_malformed(void **state)
{
    fixture *f = *state;
    source s;

    /* Valid rows of earlier tables and lines go too: all or nothing. */
    source_init(&s);
    s.text[0] = EXACT_JSONL[0];
    s.text[2] = EV_OK "\n\n[1,2]\n";
    import_fails(f, "a.db", &s, GROVE_EINVAL, "grove-mcp-events.jsonl line 3: not a JSON object",
                 NULL);

    source_init(&s);
    s.text[0] = "{\"id\":\"x\",";
    import_fails(f, "b.db", &s, GROVE_EINVAL, "grove-instances.jsonl line 1: not a JSON object",
                 NULL);

    source_init(&s);
    s.text[2] = EV_OK "\n\"just a string\"";
    import_fails(f, "c.db", &s, GROVE_EINVAL, "grove-mcp-events.jsonl line 2: not a JSON object",
                 NULL);

    source_init(&s);
    s.text[2] = EV_HEAD "\"error_message\":null,\"metadata\":{},\"extra\":1,\"more\":2," EV_TAIL;
    import_fails(f, "d.db", &s, GROVE_EINVAL,
                 "grove-mcp-events.jsonl line 1: unknown column(s) extra, more for table "
                 "'grove_mcp_events'",
                 NULL);

    source_init(&s);
    s.text[2] = EV_OK "\n" EV_HEAD "\"error_message\":null,\"metadata\":{},\"id\":3," EV_TAIL;
    import_fails(f, "e.db", &s, GROVE_EINVAL,
                 "grove-mcp-events.jsonl line 2: a column is given twice", NULL);

    source_init(&s);
    s.text[2] = EV_HEAD EV_TAIL;
    import_fails(f, "f.db", &s, GROVE_EINVAL,
                 "grove-mcp-events.jsonl line 1: 2 of the 8 columns of 'grove_mcp_events' are "
                 "missing",
                 NULL);

    /* Constraints of the schema: a CHECK, a duplicate key, a foreign key. */
    source_init(&s);
    s.text[2] = "{\"id\":1,\"instance_id\":null,\"tool_name\":\"t\",\"success\":2,"
                "\"error_message\":null,\"metadata\":{}," EV_TAIL;
    import_fails(f, "h.db", &s, GROVE_EINVAL,
                 "grove-mcp-events.jsonl line 1: cannot insert into 'grove_mcp_events': ",
                 "CHECK constraint failed");
    source_init(&s);
    s.text[2] = EV_OK "\n" EV_OK;
    import_fails(f, "i.db", &s, GROVE_EINVAL,
                 "grove-mcp-events.jsonl line 2: cannot insert into 'grove_mcp_events': ",
                 "UNIQUE constraint failed: grove_mcp_events.id");
    source_init(&s);
    s.text[1] = "{\"id\":1,\"parent_instance\":\"nobody\",\"child_instance\":\"none\","
                "\"relationship_type\":\"spawned_review\",\"created_at\":\"x\"}";
    import_fails(f, "j.db", &s, GROVE_EINVAL,
                 "grove-instance-relationships.jsonl line 1: cannot insert into "
                 "'grove_instance_relationships': ",
                 "FOREIGN KEY constraint failed");
    /* JSON null in a JSON column is SQL NULL, which labels does not take. */
    source_init(&s);
    s.text[5] = "{\"repo\":\"o/r\",\"number\":1,\"title\":\"t\",\"body\":null,\"state\":\"open\","
                "\"html_url\":null,\"labels\":null,\"fetched_at\":\"x\"}";
    import_fails(f, "k.db", &s, GROVE_EINVAL,
                 "grove-github-issues.jsonl line 1: cannot insert into 'grove_github_issues': ",
                 "NOT NULL constraint failed: grove_github_issues.labels");
}

static void test_import_callback_errors(void **state)
{
    fixture *f = *state;
    source s;

    /* Reading the events file fails after the instances went in. */
    source_init(&s);
    s.text[0] = EXACT_JSONL[0];
    s.fail_table = 2;
    import_fails(f, "a.db", &s, GROVE_EIO, "cannot read table 2: bad sector", NULL);
    assert_int_equal(s.nexts, 3 + 1 + 1); /* 2 lines and the end, the end, the failure */

    source_init(&s);
    s.text[0] = EXACT_JSONL[0];
    s.fail_rewind = 1;
    import_fails(f, "b.db", &s, GROVE_EIO, "cannot rewind: gone", NULL);
    assert_int_equal(s.nexts, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_export_tables, unit_db_setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_row_count, unit_db_setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_since, unit_db_setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_report_rows, unit_db_setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_stats_empty, unit_db_setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_stats_all, unit_db_setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_stats_since, unit_db_setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_stats_error, unit_db_setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_export_exact, unit_db_setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_export_reals, unit_db_setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_export_since, unit_db_setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_export_callback_error, unit_db_setup,
                                        unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_import_roundtrip_exact, unit_db_setup,
                                        unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_import_roundtrip_history, unit_db_setup,
                                        unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_import_blank_lines, unit_db_setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_import_refuses_non_empty, unit_db_setup,
                                        unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_import_malformed, unit_db_setup, unit_db_teardown),
        cmocka_unit_test_setup_teardown(test_import_callback_errors, unit_db_setup,
                                        unit_db_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
