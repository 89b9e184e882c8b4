/*
 * spawn: the three ways a new instance comes to be, with their rules: new
 * work on a branch (spawn_work), a reviewer of a work instance's branch
 * (spawn_review) and a fork of an instance's branch (spawn_fork). Each
 * makes the instance with instance_create() (worktree, row, agent; nothing
 * left on failure) and fills an instance_created the caller frees with
 * instance_created_free(). Strings in the options are borrowed. `launch`
 * is 1 (launch an agent: one must be configured), 0 (worktree only) or -1
 * (launch when an agent command is configured), see instance_agent_choice().
 */
#ifndef GROVE_SPAWN_H
#define GROVE_SPAWN_H

#include "tools/core/context.h"
#include "tools/core/instance.h"
#include "tools/git/git.h"

typedef struct spawn_work_opts {
    const char *base_branch; /* NULL: the branch HEAD is on (a detached HEAD: GROVE_EINVAL) */
    issue_ref issue;         /* the issue it works on, or none */
    int ready;               /* beads mode: take the next ready beads issue instead */
    const char *prompt;
    int launch;        /* 1, 0, or -1: launch when an agent is configured */
    const char *agent; /* the agent profile; NULL: config agent.default, else custom */
} spawn_work_opts;

/*
 * A work instance on base_branch's head. A GitHub issue is fetched into the
 * issue cache afterwards (never failing the spawn).
 */
int spawn_work(grove_ctx *ctx, const spawn_work_opts *o, const grove_progress *p,
               instance_created *out, grove_err *err);

/* The most instances one spawn_work_many() makes (best-of-N). */
#define SPAWN_COUNT_MAX 10

/*
 * `count` (1..SPAWN_COUNT_MAX) work instances for the same issue and
 * prompt (best-of-N), each with its own worktree, ports and agent; all or
 * none: when one fails, those made before are terminated with their
 * worktrees removed, and the call fails. *out: `count` entries (free each
 * with instance_created_free(), then the array).
 */
int spawn_work_many(grove_ctx *ctx, const spawn_work_opts *o, int count, const grove_progress *p,
                    instance_created **out, grove_err *err);

/* What a review is of. */
typedef struct spawn_review_result {
    instance_created made;
    char reviewed_commit[41]; /* the work branch's head the reviewer starts at */
    gitops_diff_stat diff;    /* of that commit against the work's base commit */
} spawn_review_result;

/*
 * A review instance of work instance `work_id`, started at its branch's
 * head, with `prompt` or (NULL) a brief that names the commit, the diff and
 * how to send the verdict. Only work instances can be reviewed. *out:
 * free out->made with instance_created_free().
 */
int spawn_review(grove_ctx *ctx, const char *work_id, const char *prompt, int launch,
                 const grove_progress *p, spawn_review_result *out, grove_err *err);

/*
 * A work instance that starts at instance `src_id`'s branch head and shares
 * its base (so ahead/behind and pull requests compare alike).
 */
int spawn_fork(grove_ctx *ctx, const char *src_id, const char *prompt, int launch,
               const grove_progress *p, instance_created *out, grove_err *err);

#endif
