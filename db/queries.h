/*
 * queries: every SQL statement the tools and the CLI run, with bound
 * parameters only. Results come back as new jansson references in the
 * shapes of ../shared/CONTRACT.md §3 (the caller owns and json_decref()s
 * them); string arguments are borrowed.
 *
 * Writes run in db_txn() (BEGIN IMMEDIATE with retry), so they never fail
 * with a lock error while another process writes.
 */
#ifndef GROVE_QUERIES_H
#define GROVE_QUERIES_H

#include <jansson.h>

#include "db/db.h"

/* ---- instances ---------------------------------------------------------- */

/* A new instance row. All strings borrowed; NULL means SQL NULL. */
typedef struct db_new_instance {
    const char *id;         /* "work-123-a1" */
    const char *type;       /* work | review | adhoc */
    int agent_number;       /* n of the id */
    long long issue_number; /* GitHub issue, 0 = none */
    const char *beads_id;   /* beads issue id or NULL */
    const char *worktree_path;
    const char *branch_name;
    const char *base_branch;
    const char *base_commit;
    const char *prompt;
    const char *tmux_session;
    long long agent_pid;           /* 0 = NULL */
    const char *metadata;          /* JSON object text; NULL = "{}" */
    const char *parent_id;         /* with relationship_type: also inserts the relationship */
    const char *relationship_type; /* spawned_review | created_fork | NULL */
} db_new_instance;

/*
 * The next free agent number for the prefix (type, issue): 1 + the largest
 * agent_number of any row (terminated included) with the same type and the
 * same issue_number/beads_id (both NULL for untied instances).
 */
int db_instance_next_number(grove_db *db, const char *type, long long issue_number,
                            const char *beads_id, int *out, grove_err *err);

/*
 * Inserts the instance (status running, created_at now) and, when
 * in->parent_id and in->relationship_type are set, its relationship row, in
 * one transaction. An existing id fails with GROVE_ECONFLICT.
 */
int db_instance_insert(grove_db *db, const db_new_instance *in, grove_err *err);

/* Deletes an instance row (cascades). Missing id is not an error. */
int db_instance_delete(grove_db *db, const char *id, grove_err *err);

/*
 * The contract's `instance` object: id, type, status, worktree_path,
 * branch_name, base_branch, base_commit, issue (integer for GitHub, string
 * for beads, or null), parent_id, session_name, pid, pr_number, pr_url,
 * prompt, created_at, terminated_at. Missing id: GROVE_ENOTFOUND
 * "instance 'x' not found".
 */
int db_instance_get(grove_db *db, const char *id, json_t **out, grove_err *err);

typedef struct db_instance_filter {
    const char *type;       /* NULL = any */
    const char *status;     /* NULL = any */
    const char *parent_id;  /* NULL = any */
    long long issue_number; /* 0 = any (unless beads_id) */
    const char *beads_id;   /* NULL = any */
    int limit;              /* 1..500 */
    const char *cursor;     /* NULL = first page; else a next_cursor from before */
} db_instance_filter;

/*
 * A page of instances, oldest first (created_at, then id). *out is a new
 * array; *next_cursor a malloc'd opaque string, or NULL on the last page.
 * A cursor this function did not make: GROVE_EINVAL "invalid cursor".
 */
int db_instance_list(grove_db *db, const db_instance_filter *f, json_t **out, char **next_cursor,
                     grove_err *err);

/*
 * Relationships where `id` is parent or child, oldest first: array of
 * {id, parent_instance, child_instance, relationship_type, created_at}.
 */
int db_relationships(grove_db *db, const char *id, json_t **out, grove_err *err);

/* Records the agent of an instance: tmux session (NULL = none) and pid (0 = none). */
int db_instance_set_agent(grove_db *db, const char *id, const char *session, long long pid,
                          grove_err *err);

/*
 * Marks a running instance terminated with terminated_at = now. *changed
 * (may be NULL) is 1 when it was running, 0 when it was terminated already.
 * Unknown id: GROVE_ENOTFOUND.
 */
int db_instance_terminate(grove_db *db, const char *id, int *changed, grove_err *err);

/* Merges `patch` (an object; RFC 7396 merge patch) into the instance's metadata. */
int db_instance_merge_metadata(grove_db *db, const char *id, const json_t *patch, grove_err *err);

/* The instance's metadata object (new reference). Unknown id: GROVE_ENOTFOUND. */
int db_instance_metadata(grove_db *db, const char *id, json_t **out, grove_err *err);

/* The instance's parent (earliest relationship), malloc'd, or NULL when it has none. */
int db_instance_parent(grove_db *db, const char *id, char **out, grove_err *err);

/*
 * Running instances that have an agent (a tmux session or a pid): a new
 * array of {id, session (string or null), pid (integer or null)}.
 */
int db_instances_with_agents(grove_db *db, json_t **out, grove_err *err);

/* Records the pull request of an instance. */
int db_instance_set_pr(grove_db *db, const char *id, long long number, const char *url,
                       grove_err *err);

/*
 * Stores (or refreshes) the cached GitHub issue `number` of `repo`
 * ("owner/name") from GitHub's issue object: title, body, state, html_url,
 * labels (their names).
 */
int db_github_issue_upsert(grove_db *db, const char *repo, long long number, const json_t *issue,
                           grove_err *err);

/* ---- feedback ----------------------------------------------------------- */

typedef struct db_new_feedback {
    const char *from_instance; /* NULL when the caller is no instance */
    const char *to_instance;
    const char *feedback_type; /* needs_work | suggestions | clarification | approved */
    const char *priority;      /* low | medium | high; NULL = medium */
    const char *feedback;
} db_new_feedback;

/* Stores feedback (delivered = 0); *id gets its id. Unknown receiver: GROVE_ENOTFOUND. */
int db_feedback_insert(grove_db *db, const db_new_feedback *in, long long *id, grove_err *err);

/* Sets the delivered flag of feedback `id`. */
int db_feedback_set_delivered(grove_db *db, long long id, int delivered, grove_err *err);

/* ---- checkpoints -------------------------------------------------------- */

typedef struct db_new_checkpoint {
    const char *instance_id;
    const char *phase;
    const char *name;       /* NULL allowed */
    const char *status;     /* in_progress | completed | failed; NULL = in_progress */
    const json_t *data;     /* object or NULL */
    const char *message;    /* NULL allowed */
    const char *commit_sha; /* NULL allowed */
} db_new_checkpoint;

/*
 * Appends a checkpoint; sequence = 1 + the instance's last sequence,
 * assigned in the same transaction. Unknown instance: GROVE_ENOTFOUND.
 * *out: the contract's `checkpoint` object {id, instance_id, phase, name,
 * status, data, message, commit_sha, sequence, created_at}.
 */
int db_checkpoint_insert(grove_db *db, const db_new_checkpoint *in, json_t **out, grove_err *err);

/*
 * The latest checkpoint of the instance (of `phase` when not NULL), or
 * json null when there is none. Unknown instance: GROVE_ENOTFOUND.
 */
int db_checkpoint_get(grove_db *db, const char *instance_id, const char *phase, json_t **out,
                      grove_err *err);

/* ---- events ------------------------------------------------------------- */

typedef struct db_new_event {
    const char *instance_id; /* the caller, NULL when none */
    const char *tool_name;
    int success;
    const char *error_message; /* NULL on success */
    const json_t *metadata;    /* the arguments, secrets already removed; NULL = {} */
    double duration_ms;
    int relaxed; /* 1: committed with db_txn_relaxed() (a read's event: no fsync of its own) */
} db_new_event;

int db_event_insert(grove_db *db, const db_new_event *in, grove_err *err);

typedef struct db_event_filter {
    const char *instance_id; /* NULL = any */
    const char *tool;        /* NULL = any */
    int success;             /* -1 = any, 0, 1 */
    const char *since;       /* ISO 8601 (any offset; normalised to UTC); NULL = any */
    int limit;               /* 1..500 */
} db_event_filter;

/*
 * Events newest first: array of {id, instance_id, tool_name, success (bool),
 * error_message, metadata (JSON), duration_ms, timestamp}. A `since` that is
 * not ISO 8601: GROVE_EINVAL.
 */
int db_event_list(grove_db *db, const db_event_filter *f, json_t **out, grove_err *err);

/* ---- config ------------------------------------------------------------- */

/* *value: malloc'd value or NULL when unset; *is_encrypted may be NULL. */
int db_config_get(grove_db *db, const char *key, char **value, int *is_encrypted, grove_err *err);
int db_config_set(grove_db *db, const char *key, const char *value, int is_encrypted,
                  grove_err *err);
int db_config_unset(grove_db *db, const char *key, grove_err *err);
/* Array of {key, value, is_encrypted (bool), updated_at}; encrypted values as stored. */
int db_config_list(grove_db *db, json_t **out, grove_err *err);

#endif
