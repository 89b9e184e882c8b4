/*
 * diff: what an instance changed (get_diff). Resolves the instance, what
 * it is compared with (`against`) and whether its worktree's uncommitted
 * files take part, then asks the git layer for the diff
 * (gitops_diff_compute).
 */
#ifndef GROVE_CORE_DIFF_H
#define GROVE_CORE_DIFF_H

#include "tools/core/context.h"
#include "tools/git/git.h"

#define DIFF_CONTEXT_MAX  20
#define DIFF_MAX_BYTES    ((size_t)4 * 1024 * 1024) /* largest max_bytes (the result limit) */
#define DIFF_PATHS_MAX    256                       /* most pathspecs in one call */
#define DIFF_PATH_LEN_MAX 4096                      /* longest pathspec, bytes */

/* One get_diff call; strings borrowed. */
typedef struct diff_request {
    const char *instance_id;
    /*
     * NULL or "base": the instance's base branch (its current head, not
     * the recorded base_commit); the id of another instance: that
     * instance's branch; else the name of a branch (local first, then
     * remote-tracking, "origin/main"), only looked up.
     */
    const char *against;
    int include_uncommitted;  /* the worktree's staged, unstaged and untracked files */
    const char *const *paths; /* pathspecs (NULL: all); each non-empty, no ":(magic)" */
    size_t npaths;
    unsigned context_lines; /* 0..DIFF_CONTEXT_MAX */
    size_t max_bytes;       /* 1..DIFF_MAX_BYTES: most bytes of patch text */
} diff_request;

typedef struct diff_result {
    gitops_diff diff; /* against = from_commit, head = to_commit, merge_base */
    /*
     * 1 when the worktree's uncommitted and untracked files are in the
     * diff; 0 when not asked for, or when the worktree folder is gone
     * (a terminated instance whose worktree was removed: its commits only).
     */
    int uncommitted;
} diff_result;

/* Frees what *r owns (not r itself) and zeroes it. */
void diff_result_free(diff_result *r);

/*
 * The diff of instance rq->instance_id (see diff_request) into *out
 * (zeroed first; the caller frees it with diff_result_free(), also after
 * a failure). Errors, each saying what to do: unknown instance, unknown
 * `against` (GROVE_ENOTFOUND); the base branch deleted since the spawn
 * (GROVE_ENOTFOUND, naming it and suggesting `against`); neither
 * worktree nor branch left (GROVE_ENOTFOUND); bad arguments (GROVE_EINVAL);
 * no common ancestor (GROVE_ECONFLICT).
 */
int diff_instance(grove_ctx *ctx, const diff_request *rq, diff_result *out, grove_err *err);

/*
 * Shortens r's patch to at most `len` bytes, cut after a line (never
 * inside one), and marks it truncated: for a front-end whose result must
 * fit a size limit.
 */
void diff_result_trim(diff_result *r, size_t len);

#endif
