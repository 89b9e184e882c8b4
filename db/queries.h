/*
 * queries: every SQL statement the tools and the CLI run, with bound
 * parameters only. Results come back as typed structs (below) that the
 * caller owns and releases with the matching db_*_free(); string arguments
 * are borrowed. No wire-contract JSON is made here: the front-ends map
 * these structs to ../shared/CONTRACT.md §3 (tools/wire.h). jansson appears
 * only for the JSON columns (metadata patches, checkpoint data, event
 * arguments, GitHub issues) that callers hand in.
 *
 * In every struct, SQL NULL reads as NULL (strings) or 0 (numbers: ids,
 * pids, issue and pull request numbers are never 0 in a stored row).
 *
 * Writes run in db_txn() (BEGIN IMMEDIATE with retry), so they never fail
 * with a lock error while another process writes.
 */
#ifndef GROVE_QUERIES_H
#define GROVE_QUERIES_H

#include <jansson.h>

#include "db/db.h"

/* ---- result types ------------------------------------------------------- */

/* One grove_instances row (with its parent). Every string is owned (malloc'd) or NULL. */
typedef struct grove_instance {
    char *id;
    char *type;   /* work | review | adhoc */
    char *status; /* running | terminated */
    char *worktree_path;
    char *branch_name;
    char *base_branch;      /* NULL = none */
    char *base_commit;      /* NULL = none */
    long long issue_number; /* GitHub issue; 0 = none (then beads_id may be set) */
    char *beads_id;         /* beads issue id; NULL = none */
    char *parent_id;        /* earliest parent relationship; NULL = none */
    char *session_name;     /* tmux session; NULL = none */
    long long pid;          /* agent process; 0 = none */
    long long pr_number;    /* 0 = none */
    char *pr_url;
    char *prompt;
    char *created_at;     /* "YYYY-MM-DDTHH:MM:SS.sssZ" */
    char *terminated_at;  /* NULL while running */
    long long port_first; /* its block of ports while it runs (grove_port_blocks); 0 = none */
    long long port_count;
    char *landed_commit; /* the commit land_instance made the target's head; NULL = not landed */
    char *landed_at;     /* when; NULL = not landed */
    char *agent_profile; /* the profile its agent was launched with; NULL = no agent yet */
    char *agent_state;   /* none | starting | working | waiting | idle | exited */
    char *agent_state_since; /* when agent_state last changed; NULL = unknown */
    char *agent_session_id;  /* the agent CLI's own session id (for resume); NULL = unknown */
} grove_instance;

/* Frees what *inst owns (not inst itself) and zeroes it. NULL is a no-op. */
void db_instance_free(grove_instance *inst);

/* A page of instances: v[0..n) owned, next_cursor owned (NULL on the last page). */
typedef struct grove_instance_list {
    grove_instance *v;
    size_t n;
    char *next_cursor;
} grove_instance_list;

/* Frees what *list owns and zeroes it. NULL is a no-op. */
void db_instance_list_free(grove_instance_list *list);

/* A grove_instance_relationships row. Strings owned. */
typedef struct grove_relationship {
    long long id;
    char *parent_instance;
    char *child_instance;
    char *relationship_type; /* spawned_review | created_fork | ... */
    char *created_at;
} grove_relationship;

typedef struct grove_relationship_list {
    grove_relationship *v; /* owned */
    size_t n;
} grove_relationship_list;

/* Frees what *list owns and zeroes it. NULL is a no-op. */
void db_relationship_list_free(grove_relationship_list *list);

/* A grove_checkpoints row. Strings owned. */
typedef struct grove_checkpoint {
    long long id;
    char *instance_id;
    char *phase;
    char *name;      /* NULL = none */
    char *status;    /* in_progress | completed | failed */
    char *data_json; /* the data column as stored (JSON text), NULL when NULL */
    char *message;
    char *commit_sha;
    long long sequence;
    char *created_at;
} grove_checkpoint;

/* Frees what *cp owns and zeroes it. NULL is a no-op. */
void db_checkpoint_free(grove_checkpoint *cp);

/* A grove_mcp_events row. Strings owned. */
typedef struct grove_event {
    long long id;
    char *instance_id; /* NULL when the caller was no instance */
    char *tool_name;
    int success; /* 1 or 0 */
    char *error_message;
    char *metadata_json; /* the metadata column as stored (JSON text), NULL when NULL */
    double duration_ms;
    char *timestamp;
} grove_event;

typedef struct grove_event_list {
    grove_event *v; /* owned */
    size_t n;
    char *next_cursor; /* owned; NULL on the last page */
} grove_event_list;

/* Frees what *list owns and zeroes it. NULL is a no-op. */
void db_event_list_free(grove_event_list *list);

/* A grove_user_config row. Strings owned. */
typedef struct grove_config_entry {
    char *key;
    char *value; /* encrypted values as stored */
    int is_encrypted;
    char *updated_at;
} grove_config_entry;

typedef struct grove_config_list {
    grove_config_entry *v; /* owned */
    size_t n;
} grove_config_list;

/* Frees what *list owns and zeroes it. NULL is a no-op. */
void db_config_list_free(grove_config_list *list);

/* A running instance with an agent. Strings owned. */
typedef struct grove_agent {
    char *id;
    char *session; /* tmux session; NULL = none */
    long long pid; /* 0 = none */
    /* when pid started (metadata.agent_start, as core records it at launch); 0 = unknown */
    unsigned long long start;
    char *profile;      /* agent_profile; NULL = unknown (launched before migration 0007) */
    char *state;        /* agent_state */
    double state_age_s; /* seconds since agent_state last changed */
} grove_agent;

typedef struct grove_agent_list {
    grove_agent *v; /* owned */
    size_t n;
} grove_agent_list;

/* Frees what *list owns and zeroes it. NULL is a no-op. */
void db_agent_list_free(grove_agent_list *list);

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
 * Reads instance `id` into *out (zeroed first; the caller frees it with
 * db_instance_free(), also after a failure). Missing id: GROVE_ENOTFOUND
 * "instance 'x' not found".
 */
int db_instance_get(grove_db *db, const char *id, grove_instance *out, grove_err *err);

/*
 * The worktree path of instance `id` alone (a cheap db_instance_get() for
 * log_checkpoint, the call agents make most): *path malloc'd, the caller's
 * (NULL when the row has none). Missing id: GROVE_ENOTFOUND "instance 'x'
 * not found", as db_instance_get().
 */
int db_instance_worktree(grove_db *db, const char *id, char **path, grove_err *err);

typedef struct db_instance_filter {
    const char *type;        /* NULL = any */
    const char *status;      /* NULL = any */
    const char *parent_id;   /* NULL = any */
    long long issue_number;  /* 0 = any (unless beads_id) */
    const char *beads_id;    /* NULL = any */
    const char *agent_state; /* NULL = any */
    int limit;               /* 1..500 */
    const char *cursor;      /* NULL = first page; else a next_cursor from before */
    /*
     * A byte budget for the page (0 = none): size_of(row, size_arg) is what
     * a row takes in the caller's serialization. Rows are read one at a
     * time; the page ends (with next_cursor) before the row that would take
     * the sum over max_bytes, never before the first row.
     */
    size_t max_bytes;
    size_t (*size_of)(const grove_instance *row, void *size_arg);
    /*
     * Optional: a cheap upper bound of size_of(row). While the bounds of a
     * page's rows add up to no more than max_bytes, size_of is not called;
     * the page is the same as with size_of alone.
     */
    size_t (*size_bound)(const grove_instance *row, void *size_arg);
    void *size_arg;
} db_instance_filter;

/*
 * A page of instances, oldest first (created_at, then id), into *out
 * (zeroed first; the caller frees it with db_instance_list_free()).
 * out->next_cursor is an opaque string, or NULL on the last page. A cursor
 * this function did not make: GROVE_EINVAL "invalid cursor". At most
 * limit rows, and within f->max_bytes (see db_instance_filter).
 */
int db_instance_list(grove_db *db, const db_instance_filter *f, grove_instance_list *out,
                     grove_err *err);

/*
 * Relationships where `id` is parent or child, oldest first, into *out
 * (zeroed first; the caller frees it with db_relationship_list_free()).
 */
int db_relationships(grove_db *db, const char *id, grove_relationship_list *out, grove_err *err);

/*
 * Every relationship on the way up from `a` and from `b` (their parents,
 * the parents' parents, ...; a cycle ends the walk), oldest first, into
 * *out (zeroed first; the caller frees it with db_relationship_list_free()).
 * What the caller-rights decision needs: X is an ancestor of Y exactly when
 * X appears on the way up from Y.
 */
int db_relationships_above(grove_db *db, const char *a, const char *b, grove_relationship_list *out,
                           grove_err *err);

/* Records the agent of an instance: tmux session (NULL = none) and pid (0 = none). */
int db_instance_set_agent(grove_db *db, const char *id, const char *session, long long pid,
                          grove_err *err);

/*
 * Records a launch (or relaunch) of instance `id`'s agent: its profile, the
 * agent CLI's session id (NULL: none known), agent_state `starting` since
 * now; the instance is running again (terminated_at cleared).
 */
int db_instance_agent_launched(grove_db *db, const char *id, const char *profile,
                               const char *session_id, grove_err *err);

/*
 * Sets the agent_state of running instance `id` (with an agent: its state
 * is not `none`) to `state` (starting | working | waiting | idle | exited),
 * with agent_state_since = now, only when it differs: *changed (may be NULL)
 * is 1 when it was written. A terminated instance or one without agent is
 * left alone (*changed 0). An invalid state: GROVE_EINVAL; unknown id:
 * GROVE_ENOTFOUND.
 */
int db_instance_set_agent_state(grove_db *db, const char *id, const char *state, int *changed,
                                grove_err *err);

/* Records the agent CLI's session id of running instance `id` (a hook tells it). */
int db_instance_set_agent_session(grove_db *db, const char *id, const char *session_id,
                                  grove_err *err);

/*
 * Marks a running instance terminated with terminated_at = now (its agent
 * state, unless `none`, becomes `exited`). *changed
 * (may be NULL) is 1 when it was running, 0 when it was terminated already.
 * Unknown id: GROVE_ENOTFOUND.
 */
int db_instance_terminate(grove_db *db, const char *id, int *changed, grove_err *err);

/* Merges `patch` (an object; RFC 7396 merge patch) into the instance's metadata. */
int db_instance_merge_metadata(grove_db *db, const char *id, const json_t *patch, grove_err *err);

/* The instance's metadata object (new reference). Unknown id: GROVE_ENOTFOUND. */
int db_instance_metadata(grove_db *db, const char *id, json_t **out, grove_err *err);

/* A grove_port_blocks row, with its instance's status. */
typedef struct grove_port_block {
    char *instance_id; /* owned */
    char *status;      /* owned: running | terminated; NULL while the instance has no row yet */
    long long first, count;
} grove_port_block;

typedef struct grove_port_block_list {
    grove_port_block *v; /* owned */
    size_t n;
} grove_port_block_list;

void db_port_block_list_free(grove_port_block_list *list);

/*
 * The running instances, oldest first, with only id, status, branch_name and
 * base_branch read (every other field NULL or 0): what comparing their
 * branches needs, without reading whole rows. *out zeroed first; the caller
 * frees it with db_instance_list_free().
 */
int db_running_branches(grove_db *db, grove_instance_list *out, grove_err *err);

/*
 * Like db_running_branches(), but only the running instances on one of
 * `branches` (n names, sorted; duplicates are read once) or on a branch
 * that does not start with `prefix` (made under an earlier branch.prefix),
 * each found through the branch index (migration 0008) rather than by
 * reading every running row: comparing one instance needs only the
 * instances whose branch still exists, however many running rows under
 * `prefix` have lost theirs. created_at is read as well; oldest first.
 */
int db_running_on_branches(grove_db *db, const char *prefix, char *const *branches, size_t n,
                           grove_instance_list *out, grove_err *err);

/* Every port block, lowest first, into *out (zeroed first; free with db_port_block_list_free()). */
int db_port_blocks(grove_db *db, grove_port_block_list *out, grove_err *err);

/* Records instance `id`'s block (replacing one it had). */
int db_port_block_set(grove_db *db, const char *id, long long first, long long count,
                      grove_err *err);

/* Deletes instance `id`'s block; none is not an error. */
int db_port_block_delete(grove_db *db, const char *id, grove_err *err);

/* The instance's parent (earliest relationship), malloc'd, or NULL when it has none. */
int db_instance_parent(grove_db *db, const char *id, char **out, grove_err *err);

/*
 * Running instances that have an agent (a tmux session or a pid), into
 * *out (zeroed first; the caller frees it with db_agent_list_free()).
 */
int db_instances_with_agents(grove_db *db, grove_agent_list *out, grove_err *err);

/* Instance ids that complete a prefix: v[0..n) owned; total counts every match, also past n. */
typedef struct grove_name_list {
    char **v;
    size_t n;
    size_t total;
} grove_name_list;

/* Frees what *list owns and zeroes it. NULL is a no-op. */
void db_name_list_free(grove_name_list *list);

/*
 * The ids of instances that start with `prefix` (byte for byte: no
 * wildcard, no case folding; "" matches every id), running ones first,
 * then by id, at most `max` into *out (zeroed first; the caller frees it
 * with db_name_list_free(), also after a failure); out->total is how many
 * match in all. A range on the primary key: cost follows the matches, not
 * the table.
 */
int db_instance_ids_with_prefix(grove_db *db, const char *prefix, size_t max, grove_name_list *out,
                                grove_err *err);

/*
 * The issues grove knows that start with `prefix` (byte for byte): open
 * GitHub issues of the issue cache and the issues of instances (numbers as
 * text, beads ids), each once; those no running instance works on first,
 * then open ones, then the newest numbers. At most `max` into *out (as
 * above); out->total counts every match.
 */
int db_issues_with_prefix(grove_db *db, const char *prefix, size_t max, grove_name_list *out,
                          grove_err *err);

/* Records the pull request of an instance. */
int db_instance_set_pr(grove_db *db, const char *id, long long number, const char *url,
                       grove_err *err);

/* A GitHub issue to cache; strings borrowed, NULL where unknown. */
typedef struct db_github_issue {
    const char *repo; /* "owner/name" */
    long long number;
    const char *title; /* NULL: "" */
    const char *body;
    const char *state; /* NULL: "unknown" */
    const char *html_url;
    const char *const *labels; /* the labels' names */
    size_t nlabels;
} db_github_issue;

/* Stores (or refreshes) the cached GitHub issue in->number of in->repo. */
int db_github_issue_upsert(grove_db *db, const db_github_issue *in, grove_err *err);

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
 * *out gets the stored row (zeroed first; the caller frees it with
 * db_checkpoint_free(), also after a failure).
 */
int db_checkpoint_insert(grove_db *db, const db_new_checkpoint *in, grove_checkpoint *out,
                         grove_err *err);

/*
 * The latest checkpoint of the instance (of `phase` when not NULL) into
 * *out (zeroed first; the caller frees it with db_checkpoint_free()); *found
 * is 1, or 0 when there is none. Unknown instance: GROVE_ENOTFOUND.
 */
int db_checkpoint_get(grove_db *db, const char *instance_id, const char *phase,
                      grove_checkpoint *out, int *found, grove_err *err);

/*
 * The first `max` checkpoints of the instance in order (sequence), into
 * *out (malloc'd array of *n; the caller frees each with
 * db_checkpoint_free() and the array with free(), also after a failure).
 */
int db_checkpoint_list(grove_db *db, const char *instance_id, size_t max, grove_checkpoint **out,
                       size_t *n, grove_err *err);

/* ---- landing (land_instance) ------------------------------------------- */

/* Records that instance `id` landed as `commit`, now (landed_commit, landed_at). */
int db_instance_set_landed(grove_db *db, const char *id, const char *commit, grove_err *err);

/*
 * The review gate of land_instance (CONTRACT §5): *approved is 1 when one
 * of instance `id`'s review instances (a spawned_review relationship from
 * it) reviewed exactly commit `head` (its base_commit) and sent `id`
 * feedback of type approved at or after its own creation; else 0.
 */
int db_review_approved(grove_db *db, const char *id, const char *head, int *approved,
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
    const char *cursor;      /* NULL = first page; else a next_cursor from before */
    /* A byte budget for the page, as in db_instance_filter (0 = none). */
    size_t max_bytes;
    size_t (*size_of)(const grove_event *row, void *size_arg);
    size_t (*size_bound)(const grove_event *row, void *size_arg);
    void *size_arg;
} db_event_filter;

/*
 * A page of events, newest first (timestamp, then id), into *out (zeroed
 * first; the caller frees it with db_event_list_free()). out->next_cursor
 * as in db_instance_list(): set when more events follow the page (more
 * than limit, or over max_bytes). A `since` that is not ISO 8601, or a
 * cursor this function did not make: GROVE_EINVAL.
 */
int db_event_list(grove_db *db, const db_event_filter *f, grove_event_list *out, grove_err *err);

/* ---- agent hooks -------------------------------------------------------- */

/* What one call of an agent's hook (grove hook) records. */
typedef struct db_hook {
    const char *instance_id;
    const char *state;      /* the agent's new state, or NULL to leave it */
    const char *session_id; /* the agent CLI's session id, or NULL */
    const char *event_name; /* the event's tool_name, e.g. "hook:PreToolUse" */
    const json_t *metadata; /* what the event keeps (an object), NULL = {} */
    double duration_ms;
} db_hook;

typedef struct db_hook_result {
    int found;    /* the instance exists */
    int running;  /* and is running: only then is anything written */
    int changed;  /* its agent_state changed */
    int recorded; /* the event was written */
} db_hook_result;

/*
 * One transaction: for a running instance, sets its agent_state (as
 * db_instance_set_agent_state(): only when it differs, never for an
 * instance without agent), its agent session id, and inserts the event;
 * for an unknown or terminated one, writes nothing (out says which).
 * Committed without an fsync of its own (db_txn_relaxed()): it reaches the
 * disk with the next ordinary commit or checkpoint, so a power cut may lose
 * the last states an agent's hooks reported, never an acknowledged tool call.
 */
int db_hook_record(grove_db *db, const db_hook *in, db_hook_result *out, grove_err *err);

/* ---- resource versions (subscriptions) ---------------------------------- */

/*
 * A text that changes whenever what resources show of instance `id`
 * changes in the database (status, agent state and since when, last
 * checkpoint, landed commit, pull request, agent), or with `id` NULL of
 * every running instance. Malloc'd. Unknown id: GROVE_ENOTFOUND.
 */
int db_instance_print(grove_db *db, const char *id, char **out, grove_err *err);

/* The running instances' ids, in order, as one text (malloc'd): what list_changed compares. */
int db_running_ids_print(grove_db *db, char **out, grove_err *err);

/* The newest event's id as text (malloc'd): what grove://events' subscribers compare. */
int db_last_event_print(grove_db *db, char **out, grove_err *err);

/* ---- config ------------------------------------------------------------- */

/* *value: malloc'd value or NULL when unset; *is_encrypted may be NULL. */
int db_config_get(grove_db *db, const char *key, char **value, int *is_encrypted, grove_err *err);
int db_config_set(grove_db *db, const char *key, const char *value, int is_encrypted,
                  grove_err *err);
int db_config_unset(grove_db *db, const char *key, grove_err *err);
/*
 * Every stored setting, by key, into *out (zeroed first; the caller frees it
 * with db_config_list_free()); encrypted values as stored.
 */
int db_config_list(grove_db *db, grove_config_list *out, grove_err *err);

#endif
