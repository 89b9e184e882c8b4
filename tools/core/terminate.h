/*
 * terminate: ending an instance (terminate_instance): stop its agent, mark
 * it terminated, and optionally remove its worktree and branch, refusing
 * whatever would lose work or reach outside the worktrees folder.
 */
#ifndef GROVE_TERMINATE_H
#define GROVE_TERMINATE_H

#include "tools/core/instance.h"

typedef struct terminate_opts {
    int remove_worktree; /* also remove the worktree folder and the branch */
    int force;           /* remove even with uncommitted files or unpushed commits */
    /*
     * The branch head (40 hex) whose changes are already in the base by
     * content: found merged by `grove gc --merged` (a squash merge, a
     * rebase, a merged pull request), or just landed by land_instance. Its commits that exist
     * nowhere else are then no loss, so they do not refuse the removal, as long as the branch still
     * points there. Uncommitted files still refuse it. NULL: no such exception.
     */
    const char *merged_head;
} terminate_opts;

typedef struct terminate_result {
    grove_instance instance; /* the row after the call */
    int worktree_removed;    /* 1 when this call removed the worktree */
} terminate_result;

/* Frees what *r owns (not r itself) and zeroes it. NULL is a no-op. */
void terminate_result_free(terminate_result *r);

/*
 * Terminates instance `id`. With o->remove_worktree the worktree is removed
 * only when the folder git's own record of it names is the instance's
 * recorded folder, strictly inside the worktrees base, no symlink, never
 * the main worktree (gitops_removal_resolve; refused even with force: a
 * worktree moved with `git worktree move` stays where it is), only that
 * folder (checked again under the repo lock just before it goes), and,
 * unless o->force, when that folder has no
 * uncommitted files, no commits that exist on no remote branch, and its
 * branch still exists; a refusal (GROVE_EINVAL, GROVE_ECONFLICT) changes
 * nothing. Order: stop the agent, remove, then mark terminated, so that
 * `grove gc` finishes whatever a kill -9 interrupts. A removal that fails
 * still ends the instance, and the call fails with the removal's error.
 * Progress: 2 steps, 4 with removal. *out is zeroed first; the caller
 * frees it with terminate_result_free().
 */
int terminate_instance(grove_ctx *ctx, const char *id, const terminate_opts *o,
                       terminate_result *out, const grove_progress *p, grove_err *err);

#endif
