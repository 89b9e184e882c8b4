/*
 * beads: grove beside the beads issue tracker (extension mode,
 * ../shared/CONTRACT.md §4). When the database grove opens already holds
 * beads' SQLite tables, grove's tables live beside them untouched, every
 * instance with a beads issue id is linked to its issue in
 * grove_issue_links, and `issue: "ready"` spawns work for the next ready
 * beads issue. The SQL is in db/beads.c.
 */
#ifndef GROVE_TOOLS_BEADS_H
#define GROVE_TOOLS_BEADS_H

#include "tools/core/context.h"
#include "tools/core/instance.h"

/*
 * 1 when `issue` (may be NULL) is "ready" and the database is in extension
 * mode (then beads_spawn_ready() handles the spawn), else 0 (and
 * instance_parse_issue() refuses "ready" with its own message).
 */
int beads_ready_requested(grove_ctx *ctx, const char *issue);

/*
 * spawn_work_instance for `issue: "ready"`: picks the best ready beads
 * issue, sets spec->issue to it and makes the instance, claiming the issue
 * in the same transaction that records the instance (so two processes
 * never claim one issue; the loser of a race takes the next ready issue).
 * No ready issue: GROVE_ENOTFOUND saying so. *out as instance_create()'s.
 * (Opening a context in extension mode attaches beads' TEMP objects:
 * tools/core/context.c.)
 */
int beads_spawn_ready(grove_ctx *ctx, instance_spec *spec, const grove_progress *p,
                      instance_created *out, grove_err *err);

#endif
