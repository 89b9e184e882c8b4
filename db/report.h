/*
 * report: the SQL behind `grove stats`, `grove export` and `grove import`
 * (issue #7). Statements are static strings with bound parameters, like
 * db/queries.c; results are new jansson references owned by the caller.
 *
 * Export streams rows (one SQLite step at a time, in one read transaction,
 * so the files are one consistent snapshot); import reads lines through a
 * callback and inserts them in one write transaction (all or nothing).
 */
#ifndef GROVE_REPORT_H
#define GROVE_REPORT_H

#include <jansson.h>
#include <stddef.h>

#include "db/db.h"

/*
 * A `--since` value: a duration back from now ("90s", "30m", "24h", "7d",
 * "2w") or an ISO 8601 date/time ("2026-11-22", "2026-11-22T03:00:00Z",
 * "...+02:00"). *out: the UTC time in the stored form
 * "YYYY-MM-DDTHH:MM:SS.sssZ", malloc'd. Anything else: GROVE_EINVAL.
 */
int db_report_since(grove_db *db, const char *text, char **out, grove_err *err);

/*
 * For db/ modules only: every row of `sql` (a static string; ?1 bound to
 * `since`, ?2 to `limit` when the statement has them) as a new array of
 * objects keyed by column name, values by SQL type.
 */
int db_report_rows(grove_db *db, const char *sql, const char *since, int limit, json_t **out,
                   grove_err *err);

/* ---- stats -------------------------------------------------------------- */

/*
 * The figures behind `grove stats`, read in one transaction. The lists are
 * the report views' rows through the generic row mapper (arrays of
 * objects keyed by column); the front-end arranges them (wire_stats()).
 * With `since` (stored form, see db_report_since) instances, tools,
 * failures, reviews, pull requests and the funnel count only what was
 * created (or called) since then; without it, tools and failures are the
 * views grove_tool_success_rate and grove_recent_failures (last 24 hours)
 * and the rest counts everything. Owned by the caller: db_stats_free().
 */
typedef struct db_stats_report {
    json_t *by_type;      /* [{type, running, terminated, total}] */
    long long running;    /* summed over by_type */
    long long terminated; /* summed over by_type */
    json_t *tools;        /* [{tool_name, calls, successes, failures, success_rate,
                             avg_duration_ms, median_duration_ms, p95_duration_ms}] */
    json_t *failures;     /* grove_recent_failures rows, at most failures_limit */
    long long failures_total;
    json_t *stale;          /* grove_stale_checkpoints rows */
    double stale_hours;     /* config stats.stale_after_hours, else 24 */
    json_t *reviews;        /* [{reviews, work_instances}] */
    long long review_works; /* work instances */
    long long review_count; /* reviews of them */
    long long review_max;   /* most reviews of one work instance */
    json_t *prs;            /* [{id, pr_number, pr_url}], at most failures_limit */
    long long prs_opened;
    json_t *funnel; /* [{phase, instances, completed}] */
} db_stats_report;

int db_stats(grove_db *db, const char *since, int failures_limit, db_stats_report *out,
             grove_err *err);
void db_stats_free(db_stats_report *r);

/* ---- export / import ---------------------------------------------------- */

/* One exported table. */
typedef struct db_export_table {
    const char *table;          /* "grove_instances" */
    const char *file;           /* "grove-instances" (+ ".jsonl" / ".csv") */
    const char *const *columns; /* the table's columns, in order, NULL-terminated */
    size_t ncolumns;
} db_export_table;

/* The exported tables, in export (and import) order; *n gets their count. */
const db_export_table *db_export_tables(size_t *n);

/* A value of a row: text (numbers as SQLite prints them, JSON columns minified), NULL = SQL NULL.
 */
typedef struct db_cell {
    const char *text;
    size_t len;
} db_cell;

/*
 * Called for every exported row of table `table` (an index into
 * db_export_tables()): `line` is the row as one JSON object (columns in
 * table order, JSON columns embedded as JSON, no newline), `cells` its
 * ncolumns values. Borrowed for the call. Returns 0, or -1 with err filled
 * to stop the export.
 */
typedef int (*db_export_fn)(void *arg, size_t table, const char *line, size_t len,
                            const db_cell *cells, grove_err *err);

/*
 * Streams every row of the exported tables, table by table in the order of
 * db_export_tables(), each in a stable order (instances by created_at and
 * id, GitHub issues by repo and number, the others by id), all in one read
 * transaction. With `since` (stored form): events, checkpoints,
 * relationships and feedback from then on, GitHub issues fetched since,
 * and every instance that was alive since then or that an exported row
 * refers to (so the export can be imported).
 */
int db_export(grove_db *db, const char *since, db_export_fn fn, void *arg, grove_err *err);

/*
 * Reads the next line of table `table`'s file: 1 with *line and *len set
 * (borrowed until the next call; no newline) and *lineno its line number,
 * 0 at the end of the file, -1 with err filled.
 */
typedef int (*db_import_next_fn)(void *arg, size_t table, const char **line, size_t *len,
                                 long long *lineno, grove_err *err);
/* Starts reading every file again from its beginning (a transaction is retried). */
typedef int (*db_import_rewind_fn)(void *arg, grove_err *err);

/*
 * Imports JSONL lines (one object per line with exactly the table's
 * columns, as db_export() writes them; blank lines are skipped) into the
 * exported tables, in one transaction. Refused (GROVE_ECONFLICT, nothing
 * written) unless those tables are all empty. A bad line fails the whole
 * import with GROVE_EINVAL naming the file and line. *rows (may be NULL)
 * gets the number of rows imported per table (an array of db_export_tables()'s count).
 */
int db_import(grove_db *db, db_import_next_fn next, db_import_rewind_fn rewind, void *arg,
              long long *rows, grove_err *err);

/*
 * The number of rows in the exported tables together (0: an empty
 * database that db_import() accepts).
 */
int db_export_row_count(grove_db *db, long long *out, grove_err *err);

#endif
