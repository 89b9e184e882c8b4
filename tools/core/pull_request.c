/*
 * pull_request: push an instance's branch, then open its pull request on
 * GitHub (or find the open one for that branch). See pull_request.h.
 */
#include "tools/core/pull_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db/queries.h"
#include "tools/base/secret.h"
#include "tools/base/url.h"
#include "tools/core/github.h"
#include "tools/core/instance.h"
#include "tools/forge/forge.h"
#include "tools/git/git.h"
#include "tools/core/rights.h"

#define PR_STEPS 5

typedef struct push_state {
    const grove_progress *p;
} push_state;

/*
 * Transfer progress maps onto the steps between 2 (pushing) and 3 (pushed).
 * `bytes` is not shown: for local remotes libgit2 1.5.1 passes the
 * received_bytes of an indexer progress struct it never initialised
 * (git_packbuilder_write), so the number would be stack garbage.
 */
static void on_push(void *arg, unsigned current, unsigned total, size_t bytes)
{
    push_state *ps = arg;
    char msg[96];

    (void)bytes;
    if (total == 0)
        return;
    snprintf(msg, sizeof(msg), "pushing: %u/%u objects", current, total);
    grove_progress_step(ps->p, 2.0 + 0.9 * (double)current / (double)total, PR_STEPS, msg);
}

void pull_request_result_free(pr_result *r)
{
    free(r->url);
    free(r->branch);
    free(r->base);
    free(r->message);
    memset(r, 0, sizeof(*r));
}

/*
 * Loads instance `id` into *inst and checks, before anything is pushed, that
 * it can have a pull request: its worktree is there, its branch exists, it
 * has no uncommitted changes (unless o->allow_dirty) and it is ahead of its
 * base. *base: the base branch (borrowed from o or *inst); head: the
 * branch's commit. Progress step 1.
 */
static int preflight(grove_ctx *ctx, const char *id, const pr_opts *o, const grove_progress *p,
                     grove_instance *inst, const char **base, char head[41], grove_err *err)
{
    const char *branch, *path;
    gitops_state state = {0};
    char base_sha[41], files[1024];
    struct stat sb;
    int rc = -1;

    if (instance_load(ctx, id, inst, err) != 0 || rights_require(ctx, RIGHTS_CHANGE, id, err) != 0)
        goto done;
    branch = inst->branch_name;
    path = inst->worktree_path;
    *base = o->base_branch ? o->base_branch : inst->base_branch;
    if (!*base) {
        grove_fail(err, GROVE_EINVAL, "instance '%s' has no base branch: pass base_branch", id);
        goto done;
    }
    if (!path || stat(path, &sb) != 0) {
        grove_fail(err, GROVE_ENOTFOUND,
                   "the worktree of '%s' is gone ('%s'): there is nothing to push from", id,
                   path ? path : "?");
        goto done;
    }
    if (gitops_branch_head(ctx->repo, branch, head, err) != 0) {
        if (err->code == GROVE_ENOTFOUND)
            grove_fail(err, GROVE_ENOTFOUND,
                       "cannot open a pull request for '%s': its branch '%s' no longer exists "
                       "(deleted outside grove); nothing was pushed",
                       id, branch ? branch : "?");
        goto done;
    }
    grove_progress_step(p, 1, PR_STEPS, "started");
    if (grove_progress_check(p, err) != 0)
        goto done;

    /* The base to compare with: the given branch's head, else the instance's base commit. */
    if (o->base_branch) {
        if (gitops_resolve_branch(ctx->repo, *base, base_sha, err) != 0)
            goto done;
    } else {
        snprintf(base_sha, sizeof(base_sha), "%s", inst->base_commit ? inst->base_commit : "");
    }
    if (gitops_worktree_state(path, base_sha[0] ? base_sha : NULL, &state, err) != 0 ||
        gitops_branch_head(ctx->repo, branch, head, err) != 0)
        goto done;
    if (state.ndirty > 0 && !o->allow_dirty) {
        grove_list_text(state.dirty_files, state.ndirty, 8, files, sizeof(files));
        grove_fail(err, GROVE_ECONFLICT,
                   "the worktree of '%s' has uncommitted changes: %s; commit what belongs in the "
                   "pull request, or pass allow_dirty: true to push only what is committed",
                   id, files);
        goto done;
    }
    if (state.ahead == 0) {
        grove_fail(err, GROVE_ECONFLICT,
                   "branch '%s' has no commits ahead of its base '%s': commit your work first",
                   branch, *base);
        goto done;
    }
    rc = 0;
done:
    gitops_state_free(&state);
    return rc;
}

int pull_request_open(grove_ctx *ctx, const char *id, const pr_opts *o, const grove_progress *p,
                      pr_result *out, grove_err *err)
{
    const char *base = NULL, *branch;
    grove_instance inst = {0};
    char *remote = NULL, *remote_url = NULL, *token = NULL;
    char head[41], api_host[256];
    github_target target = {0};
    forge_pr pr = {0};
    gitops_push_opts po = {0};
    push_state ps = {p};
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (preflight(ctx, id, o, p, &inst, &base, head, err) != 0)
        goto done;
    branch = inst.branch_name;

    remote = ctx_setting(ctx, NULL, "git.remote");
    if (!remote && !(remote = strdup("origin"))) {
        grove_nomem(err);
        goto done;
    }
    if (gitops_remote_url(ctx->repo, remote, &remote_url, err) != 0)
        goto done;
    token = ctx_github_token(ctx);
    github_find_target(ctx, remote_url, &target);
    po.remote = remote;
    po.branch = branch;
    po.token = token;
    /* The token goes to github.com and to the API's own host (GitHub Enterprise), nowhere else. */
    if (target.api_url && url_host(target.api_url, api_host, sizeof(api_host)) == 0)
        po.token_host = api_host;
    po.progress = p ? on_push : NULL;
    po.progress_arg = &ps;
    /* the last safe point: a push that started is finished (the remote may have it) */
    if (grove_progress_check(p, err) != 0)
        goto done;
    grove_progress_step(p, 2, PR_STEPS, "pushing");
    if (gitops_push(ctx->repo, &po, err) != 0)
        goto done;
    grove_progress_step(p, 3, PR_STEPS, "pushed");

    if (target.api_url && token) {
        forge_opts fo = {0};

        fo.api_url = target.api_url;
        fo.token = token;
        fo.owner_repo = target.owner_repo;
        if (forge_create_pr(&fo, o->title, o->description, branch, base, o->draft, &pr, err) != 0) {
            char msg[sizeof(err->msg)];

            snprintf(msg, sizeof(msg), "%s", err->msg);
            grove_fail(err, err->code,
                       "pushed '%s' to '%s', but the pull request could not be opened: %s", branch,
                       remote, msg);
            goto done;
        }
        if (db_instance_set_pr(ctx->db, id, pr.number, pr.html_url, err) != 0)
            goto done;
        out->message = grove_asprintf("%s pull request #%lld: %s",
                                      pr.already_existed ? "found the open" : "opened", pr.number,
                                      pr.html_url);
        grove_progress_step(p, 4, PR_STEPS, "pull request opened");
    } else if (target.api_url || target.web) {
        char compare[1024] = "";

        if (target.web)
            snprintf(compare, sizeof(compare), "; open it at %s/compare/%s...%s?expand=1",
                     target.web, base, branch);
        out->message = grove_asprintf(
            "pushed '%s' to '%s'; no GitHub token is available (set GITHUB_TOKEN or GH_TOKEN, or "
            "run 'grove config set github.token --secret'), so no pull request was opened%s",
            branch, remote, compare);
    } else {
        out->message = grove_asprintf(
            "pushed '%s' to '%s'; the remote is not on GitHub and no forge is configured "
            "(GITHUB_API_URL / config github.api_url and GITHUB_REPOSITORY / config github.repo), "
            "so no pull request was opened",
            branch, remote);
    }
    out->number = pr.html_url ? pr.number : 0;
    out->url = pr.html_url;
    pr.html_url = NULL;
    out->already_existed = pr.already_existed;
    out->branch = grove_strdup(branch);
    out->base = grove_strdup(base);
    memcpy(out->head, head, sizeof(out->head));
    if (!out->message || !out->branch || !out->base) {
        grove_nomem(err);
        goto done;
    }
    grove_progress_step(p, PR_STEPS, PR_STEPS, "done");
    rc = 0;
done:
    forge_pr_free(&pr);
    github_target_free(&target);
    secret_free(token);
    free(remote);
    free(remote_url);
    db_instance_free(&inst);
    if (rc != 0)
        pull_request_result_free(out);
    return rc;
}
