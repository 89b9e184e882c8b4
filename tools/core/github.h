/*
 * github: where grove's GitHub calls go (API URL, owner/name, token), decided
 * from the environment, the configuration and the remote's URL; and the
 * cache of issues that instances are tied to.
 */
#ifndef GROVE_GITHUB_H
#define GROVE_GITHUB_H

#include "tools/core/context.h"

typedef struct github_target {
    char *api_url;    /* malloc'd; NULL when no forge applies */
    char *owner_repo; /* malloc'd "owner/name"; NULL when unknown */
    char *web;        /* malloc'd "https://github.com/owner/name" when the repo is on github.com */
} github_target;

/*
 * A forge applies when the remote (URL remote_url, may be NULL) is on
 * github.com, or GITHUB_API_URL / config github.api_url is set. owner/name
 * comes from GITHUB_REPOSITORY / config github.repo, else from the remote's
 * URL. Fields stay NULL when unknown.
 */
void github_find_target(grove_ctx *ctx, const char *remote_url, github_target *t);
void github_target_free(github_target *t);

/*
 * Fetches GitHub issue `number` and caches it in grove_github_issues, when a
 * forge applies to the configured remote (config git.remote, default origin)
 * and a token is available. Never fails: problems are logged (a spawn must
 * not fail because GitHub is unreachable). Bounded by a short timeout.
 */
void github_cache_issue(grove_ctx *ctx, long long number);

#endif
