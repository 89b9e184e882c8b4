/*
 * land: putting an instance's branch into a target branch (land_instance,
 * CONTRACT §6): squash, merge, rebase or fast_forward, computed in memory,
 * the target moved with a compare-and-swap, its checkout updated, the land
 * recorded on the instance; refusals and conflicts change nothing.
 */
#ifndef GROVE_LAND_H
#define GROVE_LAND_H

#include "tools/core/instance.h"

/* What to land; strings borrowed. */
typedef struct land_opts {
    const char *strategy; /* squash (NULL) | merge | rebase | fast_forward */
    const char *message;  /* the squash or merge commit's message; NULL: made up */
    const char *into;     /* NULL: the instance's base branch */
    int remove_worktree;  /* after landing, remove the worktree and branch (terminate) */
    int dry_run;          /* compute and report only */
    /*
     * When set, the landed commit is recorded through txn(txn_arg, fn, arg, err),
     * which runs fn(db, arg, err) in a transaction of its own choosing (the
     * tools layer: tool_call_txn(), the call's event committed with it, one
     * fsync for both); NULL: in a transaction of its own.
     */
    int (*txn)(void *txn_arg, db_txn_fn fn, void *arg, grove_err *err);
    void *txn_arg;
} land_opts;

/* A running instance whose branch conflicts with the new target head. */
typedef struct land_conflict {
    char *instance_id; /* owned */
    char **files;      /* owned, sorted */
    size_t nfiles;
} land_conflict;

typedef struct land_result {
    int landed;
    const char *strategy; /* static */
    char *into;           /* owned */
    char old_into[41];
    char new_into[41]; /* "" when conflicting */
    char **conflicts;  /* owned: conflicting paths (landed 0) */
    size_t nconflicts;
    land_conflict *now; /* owned: now_conflicting */
    size_t nnow;
    int worktree_removed;
    grove_instance instance; /* the row after the call */
} land_result;

/* Frees what *r owns (not r itself) and zeroes it. NULL is a no-op. */
void land_result_free(land_result *r);

/*
 * Lands instance `id` (see CONTRACT §6 and land_instance.json). Refusals
 * (isError, nothing changed): unknown instance, no right to change it
 * (rights_require), an agent server landing an unapproved head (config
 * land.require_review, default true), uncommitted changes in its worktree
 * or in the worktree that has the target checked out (files named), a
 * target that does not exist, nothing to land, fast_forward onto a moved
 * target, rebase over a merge commit. The target moves only if it still
 * points where the land was computed; when another process moved it, the
 * land is computed again once, then reported. Killed at any point, the
 * next land into that target or `grove gc` finishes or drops it
 * (land_recover). *out is zeroed first; free it with land_result_free().
 */
int land_instance(grove_ctx *ctx, const char *id, const land_opts *o, land_result *out,
                  const grove_progress *p, grove_err *err);

/*
 * Crash recovery: finishes the lands into `into` (NULL: every target) that
 * a killed process left (gitops_land_recover), and records landed_commit
 * on the instances whose land happened. *finished (may be NULL) gets how
 * many journals were found.
 */
int land_recover(grove_ctx *ctx, const char *into, size_t *finished, grove_err *err);

#endif
