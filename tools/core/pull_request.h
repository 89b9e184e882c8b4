/*
 * pull_request: an instance's work to its pull request. Pushes the
 * instance's branch (with the GitHub token when the remote is https) and,
 * when a forge applies and a token is available, opens the pull request
 * on GitHub or finds the open one for that branch, and records it on the
 * instance. Refuses, before anything is pushed, a worktree that is gone, a
 * branch deleted outside grove, uncommitted changes (unless allowed) and a
 * branch with nothing ahead of its base.
 */
#ifndef GROVE_PULL_REQUEST_H
#define GROVE_PULL_REQUEST_H

#include "tools/core/context.h"

/* What to open; strings borrowed. */
typedef struct pr_opts {
    const char *base_branch; /* NULL: the instance's base branch and base commit */
    const char *title;
    const char *description; /* NULL: no body */
    int draft;
    int allow_dirty; /* push what is committed even when the worktree has changes */
} pr_opts;

/* What happened; strings owned (pull_request_result_free()). */
typedef struct pr_result {
    long long number;    /* 0 when no pull request was opened */
    char *url;           /* NULL when no pull request was opened */
    int already_existed; /* it was found open rather than created */
    char *branch;        /* the pushed branch */
    char *base;          /* the base branch */
    char head[41];       /* the pushed commit */
    char *message;       /* one line for the agent: what was done, or why no pull request */
} pr_result;

/*
 * Pushes instance `id`'s branch and opens its pull request (progress steps
 * 1..5). On success *out is filled (the caller frees it); a push that
 * worked but a pull request that could not be opened is a failure whose
 * message says the branch was pushed.
 */
int pull_request_open(grove_ctx *ctx, const char *id, const pr_opts *o, const grove_progress *p,
                      pr_result *out, grove_err *err);
void pull_request_result_free(pr_result *r);

#endif
