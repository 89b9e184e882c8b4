/*
 * conflicts: which running instances' branches touch the same files, and
 * which of those files a merge could not resolve, with each other and with
 * their base branch's current head (CONTRACT §6, get_conflicts). Computed
 * in memory from the branches' committed heads (tools/git/conflicts.c):
 * uncommitted work is not considered, and nothing on disk changes.
 */
#ifndef GROVE_CORE_CONFLICTS_H
#define GROVE_CORE_CONFLICTS_H

#include <stddef.h>

#include "db/queries.h"
#include "tools/core/context.h"
#include "tools/git/git.h"

/* Two instances whose branches overlap; a comes before b in instance order (oldest first). */
typedef struct conflicts_pair {
    const char *a, *b;        /* borrowed from the report's `running` */
    gitops_paths overlapping; /* owned: paths both changed since their merge base */
    gitops_paths conflicting; /* owned: paths a merge of the two leaves in conflict */
} conflicts_pair;

/* An instance whose base branch has moved on: its head has commits the branch lacks. */
typedef struct conflicts_base {
    const char *instance_id; /* borrowed from the report's `running` */
    size_t behind;           /* commits of the base branch's head that the branch lacks */
    gitops_paths
        conflicting; /* owned: paths a merge with the base branch's head leaves in conflict */
} conflicts_base;

/* An instance left out of some comparison, and why. */
typedef struct conflicts_skip {
    const char *instance_id; /* borrowed from the report's `running` */
    int branch_gone;         /* 1: compared with nothing; 0: only not with its base branch */
    char *reason;            /* owned */
} conflicts_skip;

typedef struct conflicts_report {
    char checked_at[32];         /* UTC, "YYYY-MM-DDTHH:MM:SS.sssZ" */
    grove_instance_list running; /* owned: every running instance, oldest first */
    conflicts_pair *pairs;       /* owned, npairs */
    size_t npairs;
    conflicts_base *bases; /* owned, nbases */
    size_t nbases;
    conflicts_skip *skipped; /* owned, nskipped */
    size_t nskipped;
} conflicts_report;

/*
 * Compares the branch heads of running instances: `instance_id` with every
 * other running instance, or (NULL) every pair of running instances; and
 * each of those considered (that one, or all) with its base branch's
 * current head (a local branch, else a remote-tracking one). Pairs are
 * listed when they overlap (or conflict), in instance order; `bases` lists
 * the instances whose base branch has commits they lack (behind > 0), with
 * the paths that would conflict (possibly none). An instance whose branch
 * is gone is left out of everything, one whose base branch is unknown or
 * gone out of `bases`: both are in `skipped` with the reason.
 * An unknown instance_id: GROVE_ENOTFOUND; a terminated one:
 * GROVE_ECONFLICT. *out is zeroed first; the caller frees it with
 * conflicts_report_free(), also after a failure.
 */
int conflicts_check(grove_ctx *ctx, const char *instance_id, conflicts_report *out, grove_err *err);

/*
 * What get_instance's `conflicts` summary needs of conflicts_check(ctx,
 * instance_id): the same pairs and base comparison for instance_id, but
 * `running` holds only instance_id and the running instances whose branch
 * exists, and `skipped` names instance_id alone, when it is skipped. Its
 * cost does not grow with running rows whose branches are gone.
 */
int conflicts_summary(grove_ctx *ctx, const char *instance_id, conflicts_report *out,
                      grove_err *err);

/* Frees what *r owns (not r itself) and zeroes it. Safe on a zeroed struct and twice. */
void conflicts_report_free(conflicts_report *r);

#endif
