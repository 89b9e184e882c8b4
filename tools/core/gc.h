/*
 * gc: reconciling grove's records with what is really there (`grove gc`):
 * agents that died, worktree creations and removals a killed grove process
 * left half-way (crash recovery), git worktree entries whose folder is
 * gone, folders and branches of grove's with no instance, and running
 * instances whose worktree is gone. Nothing that holds work is removed:
 * uncommitted files or commits that exist nowhere else keep a folder or
 * branch, and are reported.
 */
#ifndef GROVE_GC_H
#define GROVE_GC_H

#include "tools/core/context.h"

/* One finding: what was found, about what, and what was (or would be) done. */
typedef struct gc_finding {
    char *kind;    /* owned: dead-agent, interrupted-create, interrupted-removal, setup-command,
                      stale-entry, orphan-folder, orphan-worktree, orphan-branch, missing-worktree */
    char *subject; /* owned: a path, a worktree or branch name, an instance id or a count */
    char *action;  /* owned: e.g. removed, kept, would remove, terminated */
    char *detail;  /* owned: why, or what; "" when there is nothing to add */
} gc_finding;

/* The findings in the order gc made them. */
typedef struct gc_report {
    gc_finding *v; /* owned */
    size_t n, cap;
} gc_report;

/* Frees what *r owns and zeroes it. NULL is a no-op. */
void gc_report_free(gc_report *r);

/*
 * Runs gc over the context's repository and database, in this order:
 *  1. running instances whose agent is gone are marked terminated (not when dry_run);
 *  2. interrupted removals are finished; interrupted creations are completed
 *     (their instance was recorded) or undone (it never was: the half-made
 *     worktree goes, its branch stays when it has commits that exist nowhere
 *     else; a setup command still running in it is stopped first);
 *  3. git worktree entries whose folder is gone are pruned;
 *  4. folders under the worktrees base with no instance are removed when
 *     they are clean, unlocked worktrees whose branch holds no commit that
 *     exists nowhere else, and kept (reported) otherwise;
 *  5. branches with grove's prefix that no instance and no worktree uses are
 *     deleted under the same condition;
 *  6. running instances whose worktree folder is gone are marked terminated.
 * With dry_run nothing changes and each action reads "would ...". *out is
 * zeroed first and holds the findings; the caller frees it with
 * gc_report_free() (also after a failure, when it holds what was done).
 * Fails only when the records cannot be read.
 */
int gc_run(grove_ctx *ctx, int dry_run, gc_report *out, grove_err *err);

#endif
