#include "tools/core/github.h"

#include <stdlib.h>
#include <string.h>

#include "db/queries.h"
#include "tools/forge/forge.h"
#include "tools/base/secret.h"

/* A spawn waits at most this long for GitHub's answer about its issue. */
#define ISSUE_TIMEOUT_MS 3000

void github_find_target(grove_ctx *ctx, const char *remote_url, github_target *t)
{
    char *api = ctx_setting(ctx, "GITHUB_API_URL", "github.api_url");
    char *repo = ctx_setting(ctx, "GITHUB_REPOSITORY", "github.repo");
    char *host = NULL, *parsed = NULL;
    int on_github = 0;

    memset(t, 0, sizeof(*t));
    if (remote_url && forge_parse_remote(remote_url, &host, &parsed) == 0)
        on_github = strcmp(host, "github.com") == 0;
    if (!repo && parsed) {
        repo = parsed;
        parsed = NULL;
    }
    if (repo && (on_github || !api))
        t->web = grove_asprintf("https://github.com/%s", repo);
    if (repo && (api || on_github)) {
        t->api_url = api ? api : strdup(FORGE_DEFAULT_API_URL);
        t->owner_repo = repo;
        api = repo = NULL;
    }
    free(api);
    free(repo);
    free(host);
    free(parsed);
}

void github_target_free(github_target *t)
{
    free(t->api_url);
    free(t->owner_repo);
    free(t->web);
    memset(t, 0, sizeof(*t));
}

void github_cache_issue(grove_ctx *ctx, long long number)
{
    char *remote = ctx_setting(ctx, NULL, "git.remote"), *url = NULL, *token = NULL;
    github_target t = {0};
    forge_issue issue = {0};
    db_github_issue row = {0};
    grove_err err = GROVE_ERR_INIT;
    forge_opts fo = {0};

    if (gitops_remote_url(ctx->repo, remote ? remote : "origin", &url, &err) != 0)
        url = NULL; /* no remote: only an explicit github.api_url + github.repo apply */
    github_find_target(ctx, url, &t);
    if (!t.api_url)
        goto done;
    token = ctx_github_token(ctx);
    if (!token)
        goto done;
    fo.api_url = t.api_url;
    fo.token = token;
    fo.owner_repo = t.owner_repo;
    fo.connect_timeout_ms = ISSUE_TIMEOUT_MS;
    fo.timeout_ms = ISSUE_TIMEOUT_MS;
    if (forge_get_issue(&fo, number, &issue, &err) == 0) {
        row.repo = t.owner_repo;
        row.number = number;
        row.title = issue.title;
        row.body = issue.body;
        row.state = issue.state;
        row.html_url = issue.html_url;
        row.labels = (const char *const *)issue.labels;
        row.nlabels = issue.nlabels;
        db_github_issue_upsert(ctx->db, &row, &err);
    }
    if (err.msg[0])
        log_warn("GitHub issue #%lld not cached: %s", number, err.msg);
done:
    forge_issue_free(&issue);
    secret_free(token);
    github_target_free(&t);
    free(url);
    free(remote);
}
