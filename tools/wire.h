/*
 * wire: the typed results of db/ and tools/core/ as the JSON shapes of
 * ../shared/CONTRACT.md §3, for the MCP tool handlers and the CLI's --json
 * output alike. Every function borrows its argument and returns a new
 * reference (the caller json_decref()s it), or NULL when memory ran out.
 * Key order is the contract's and stays fixed: transcripts compare it.
 * Text that is not valid UTF-8 has its bad bytes replaced by '?'.
 */
#ifndef GROVE_WIRE_H
#define GROVE_WIRE_H

#include <jansson.h>

#include "db/beads.h"
#include "db/queries.h"
#include "db/report.h"
#include "tools/core/conflicts.h"
#include "tools/core/instance.h"
#include "tools/core/limits.h"
#include "tools/git/git.h"

/* A string, or null when s is NULL. */
json_t *wire_str(const char *s);

/*
 * The `instance` object: id, type, status, worktree_path, branch_name,
 * base_branch, base_commit, issue (integer for GitHub, string for beads, or
 * null), parent_id, session_name, pid, pr_number, pr_url, prompt,
 * created_at, terminated_at; absent values are null.
 */
json_t *wire_instance(const grove_instance *inst);

/* An array of wire_instance() objects. */
json_t *wire_instances(const grove_instance *v, size_t n);

/*
 * The `checkpoint` object: id, instance_id, phase, name, status, data (the
 * stored object, or null), message, commit_sha, sequence, created_at.
 */
json_t *wire_checkpoint(const grove_checkpoint *cp);
/*
 * wire_checkpoint() with `data` (borrowed, referenced by the result) as its
 * data when it is an object: the object that was stored (as its compact
 * JSON) rather than a parse of the stored text, which is the same object.
 */
json_t *wire_checkpoint_data(const grove_checkpoint *cp, json_t *data);

/* An array of {id, parent_instance, child_instance, relationship_type, created_at}. */
json_t *wire_relationships(const grove_relationship_list *list);

/*
 * An array of events: {id, instance_id, tool_name, success (bool),
 * error_message, metadata (the stored object, or null), duration_ms,
 * timestamp}.
 */
json_t *wire_events(const grove_event_list *list);

/*
 * Page budgets (contract §5: one page of results is at most
 * LIMIT_PAGE_BYTES as compact JSON): the bytes an item takes in its page
 * (its compact JSON and a comma; SIZE_MAX when out of memory), for
 * db_instance_filter and db_event_filter's size_of, and the bytes the items
 * of a page may take (the rest is for the envelope and next_cursor).
 */
size_t wire_instance_size(const grove_instance *inst, void *unused);
size_t wire_event_size(const grove_event *e, void *unused);
/* Upper bounds of the two above, made without JSON (db_instance_filter.size_bound). */
size_t wire_instance_size_bound(const grove_instance *inst, void *unused);
size_t wire_event_size_bound(const grove_event *e, void *unused);
#define WIRE_PAGE_ITEMS_BYTES (LIMIT_PAGE_BYTES - 4096)

/* A setup report {status, exit_code (or null), log[, error]}; NULL-safe: null when none ran. */
json_t *wire_setup(const instance_setup *setup);

/* {"instance": {...}[, "setup": {...}]}: what spawning tools return. */
json_t *wire_created(const instance_created *c);

/*
 * get_diff's result: {from_commit, to_commit, merge_base,
 * uncommitted_included, files [{path, old_path, status, insertions,
 * deletions, binary}], stat {files_changed, insertions, deletions}, patch,
 * truncated}. The patch keeps NUL bytes (as \u0000); bytes that are not
 * UTF-8 become '?'.
 */
json_t *wire_diff(const gitops_diff *d, int uncommitted);

/* A worktree's live state {head, ahead, behind, dirty_files}. */
json_t *wire_git_state(const gitops_state *st);

/*
 * get_conflicts: {checked_at, pairs [{a, b, overlapping_files,
 * conflicting_files}], with_base [{instance_id, behind, conflicting_files}],
 * skipped [{instance_id, reason}]}.
 */
json_t *wire_conflicts(const conflicts_report *r);

/*
 * get_instance's `conflicts` for instance `id` from a report about it:
 * {with: [ids of the instances whose branches conflict with it],
 * with_base: number of files that conflict with its base branch's head}, or
 * null when its branch is gone (compared with nothing).
 */
json_t *wire_conflicts_summary(const conflicts_report *r, const char *id);

/*
 * `grove stats --json`: {since, instances {total, running, terminated,
 * by_type}, tools, recent_failures {window, total, rows},
 * stale_checkpoints {threshold_hours, rows}, reviews {work_instances,
 * reviews, average, max, distribution}, pull_requests {opened, rows},
 * phase_funnel}. `since`: the stored form, or NULL for the default windows.
 */
json_t *wire_stats(const db_stats_report *r, const char *since);

/* The beads part of `grove stats --json`: {ready, next_ready, linked_instances, orphaned_links,
 * success_by_issue_type}. */
json_t *wire_beads_stats(const db_beads_stats_report *r);

#endif
