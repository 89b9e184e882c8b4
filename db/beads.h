/*
 * beads: the SQL of beads extension mode (../shared/CONTRACT.md §4): grove's
 * tables beside the SQLite-era tables of the beads issue tracker (`issues`,
 * `dependencies`, `labels`), linked by grove_issue_links (created by
 * db/migrate.c only in that mode). grove never writes beads' tables and no
 * persistent grove object refers to them: what joins them lives in the TEMP
 * schema of grove's own connection (db_beads_attach()).
 */
#ifndef GROVE_DB_BEADS_H
#define GROVE_DB_BEADS_H

#include <jansson.h>

#include "db/db.h"

/* 1 when beads' tables and grove_issue_links are there (extension mode), 0 when not, -1 on error.
 */
int db_beads_mode(grove_db *db, grove_err *err);

/*
 * Creates, on this connection only, the TEMP objects of extension mode:
 *   temp.grove_ready_issues          beads' ready-work rule (below), best first
 *   temp.grove_instance_issues       each instance with its beads issue
 *   temp.grove_issue_type_success_rate  tool calls by the issue type of the caller
 *   temp.grove_ready_claim           the issue an instance insert is claiming
 *   temp triggers on grove_instances: a new instance with a beads id that
 *     names an existing issue is linked in grove_issue_links; when its issue
 *     is the one being claimed, the insert is refused unless that issue is
 *     still ready (same transaction: BEGIN IMMEDIATE), so two processes can
 *     never claim one issue.
 * Ready: status 'open', no assignee, not blocked (a 'blocks' dependency on
 * an issue that is open, in_progress or blocked, directly or through a
 * blocked 'parent-child' parent), and held by no running grove instance
 * (linked, or with that beads id); highest priority (lowest number) first,
 * then oldest. When beads' tables lack a column the rule needs, only the
 * link trigger stays and this fails (GROVE_ESCHEMA) with the reason.
 */
int db_beads_attach(grove_db *db, grove_err *err);

/* Whether db_beads_attach() succeeded fully on this connection: 1 or 0. */
int db_beads_attached(grove_db *db);

/* A grove_issue_links row whose issue (or instance) is gone. Strings owned. */
typedef struct grove_beads_orphan {
    char *instance_id;
    char *issue_id;
    char *missing; /* the table the link points into: "issues" or "grove_instances" */
} grove_beads_orphan;

typedef struct grove_beads_orphan_list {
    grove_beads_orphan *v; /* owned */
    size_t n;
} grove_beads_orphan_list;

/* Frees what *list owns and zeroes it. NULL is a no-op. */
void db_beads_orphan_list_free(grove_beads_orphan_list *list);

/*
 * Links whose issue (or instance) is gone, per PRAGMA
 * foreign_key_check(grove_issue_links) (beads renamed or deleted issues
 * with foreign keys off), by instance and issue, into *out (zeroed first;
 * the caller frees it with db_beads_orphan_list_free()).
 */
int db_beads_orphans(grove_db *db, grove_beads_orphan_list *out, grove_err *err);

/* The best ready issue's id (malloc'd), or NULL when none is ready. */
int db_beads_next_ready(grove_db *db, char **out, grove_err *err);

/* 1 when issue `id` is ready now, 0 when not. */
int db_beads_is_ready(grove_db *db, const char *id, grove_err *err);

/* Marks the issue the next instance insert claims (NULL: none). */
int db_beads_claim(grove_db *db, const char *id, grove_err *err);

/*
 * The figures behind the beads part of `grove stats`; the lists are rows
 * through the generic row mapper: next_ready [{id, title, priority,
 * issue_type}] (at most 5), orphans [...], by_type [{issue_type, calls,
 * successes, failures, success_rate}]. Owned by the caller:
 * db_beads_stats_free().
 */
typedef struct db_beads_stats_report {
    long long ready;  /* ready issues */
    long long linked; /* instances linked to an issue */
    json_t *next_ready;
    json_t *orphans;
    json_t *by_type;
} db_beads_stats_report;

int db_beads_stats(grove_db *db, db_beads_stats_report *out, grove_err *err);
void db_beads_stats_free(db_beads_stats_report *r);

#endif
