/*
 * create_pull_request: push the instance's branch, then open the pull request
 * on GitHub (or return the open one for that branch). Definition:
 * create_pull_request.json.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tools/tool_table.h"
#include "db/queries.h"
#include "tools/forge/forge.h"
#include "tools/core/github.h"
#include "tools/core/instance.h"
#include "tools/base/secret.h"

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

/* "a.txt, b.txt, ... (and 12 more)" from the dirty_files array, into buf. */
static void list_files(const gitops_state *st, char *buf, size_t size)
{
    size_t i, used = 0;

    buf[0] = '\0';
    for (i = 0; i < st->ndirty; i++) {
        int n;

        if (i == 8) {
            snprintf(buf + used, size - used, " (and %zu more)", st->ndirty - 8);
            return;
        }
        n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", st->dirty_files[i]);
        if (n < 0 || (size_t)n >= size - used)
            return;
        used += (size_t)n;
    }
}

int tool_create_pull_request(tool_call *call, const json_t *args, json_t **out, grove_err *err)
{
    grove_ctx *ctx = call->ctx;
    const grove_progress *p = call->progress;
    const char *id = arg_target(ctx, args, "instance_id", err);
    const char *base, *branch, *path;
    grove_instance inst = {0};
    gitops_state state = {0};
    char *remote = NULL, *remote_url = NULL, *token = NULL, *message = NULL;
    char base_sha[41], head[41], files[1024];
    github_target target = {0};
    forge_pr pr = {0};
    gitops_push_opts po = {0};
    push_state ps = {p};
    struct stat sb;
    int rc = -1;

    if (!id || instance_load(ctx, id, &inst, err) != 0)
        goto done;
    branch = inst.branch_name;
    path = inst.worktree_path;
    base = arg_str(args, "base_branch") ? arg_str(args, "base_branch") : inst.base_branch;
    if (!base) {
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

    /* The base to compare with: the given branch's head, else the instance's base commit. */
    if (arg_str(args, "base_branch")) {
        if (gitops_resolve_branch(ctx->repo, base, base_sha, err) != 0)
            goto done;
    } else {
        snprintf(base_sha, sizeof(base_sha), "%s", inst.base_commit ? inst.base_commit : "");
    }
    if (gitops_worktree_state(path, base_sha[0] ? base_sha : NULL, &state, err) != 0 ||
        gitops_branch_head(ctx->repo, branch, head, err) != 0)
        goto done;
    if (state.ndirty > 0 && !arg_bool(args, "allow_dirty", 0)) {
        list_files(&state, files, sizeof(files));
        grove_fail(err, GROVE_ECONFLICT,
                   "the worktree of '%s' has uncommitted changes: %s; commit what belongs in the "
                   "pull request, or pass allow_dirty: true to push only what is committed",
                   id, files);
        goto done;
    }
    if (state.ahead == 0) {
        grove_fail(err, GROVE_ECONFLICT,
                   "branch '%s' has no commits ahead of its base '%s': commit your work first",
                   branch, base);
        goto done;
    }

    remote = ctx_setting(ctx, NULL, "git.remote");
    if (!remote && !(remote = strdup("origin"))) {
        grove_nomem(err);
        goto done;
    }
    if (gitops_remote_url(ctx->repo, remote, &remote_url, err) != 0)
        goto done;
    token = ctx_github_token(ctx);
    po.remote = remote;
    po.branch = branch;
    po.token = token;
    po.progress = p ? on_push : NULL;
    po.progress_arg = &ps;
    grove_progress_step(p, 2, PR_STEPS, "pushing");
    if (gitops_push(ctx->repo, &po, err) != 0)
        goto done;
    grove_progress_step(p, 3, PR_STEPS, "pushed");

    github_find_target(ctx, remote_url, &target);
    if (target.api_url && token) {
        forge_opts fo = {0};

        fo.api_url = target.api_url;
        fo.token = token;
        fo.owner_repo = target.owner_repo;
        if (forge_create_pr(&fo, arg_str(args, "title"), arg_str(args, "description"), branch, base,
                            arg_bool(args, "draft", 0), &pr, err) != 0) {
            char msg[sizeof(err->msg)];

            snprintf(msg, sizeof(msg), "%s", err->msg);
            grove_fail(err, err->code,
                       "pushed '%s' to '%s', but the pull request could not be opened: %s", branch,
                       remote, msg);
            goto done;
        }
        if (db_instance_set_pr(ctx->db, id, pr.number, pr.html_url, err) != 0)
            goto done;
        message = grove_asprintf("%s pull request #%lld: %s",
                                 pr.already_existed ? "found the open" : "opened", pr.number,
                                 pr.html_url);
        grove_progress_step(p, 4, PR_STEPS, "pull request opened");
    } else if (target.api_url || target.web) {
        char compare[1024] = "";

        if (target.web)
            snprintf(compare, sizeof(compare), "; open it at %s/compare/%s...%s?expand=1",
                     target.web, base, branch);
        message = grove_asprintf(
            "pushed '%s' to '%s'; no GitHub token is available (set GITHUB_TOKEN or GH_TOKEN, or "
            "run 'grove config set github.token --secret'), so no pull request was opened%s",
            branch, remote, compare);
    } else {
        message = grove_asprintf(
            "pushed '%s' to '%s'; the remote is not on GitHub and no forge is configured "
            "(GITHUB_API_URL / config github.api_url and GITHUB_REPOSITORY / config github.repo), "
            "so no pull request was opened",
            branch, remote);
    }
    *out = json_pack("{s:o, s:o, s:s, s:s, s:s, s:b, s:b, s:s?}", "pr_number",
                     pr.html_url ? json_integer(pr.number) : json_null(), "pr_url",
                     pr.html_url ? json_string(pr.html_url) : json_null(), "branch_name", branch,
                     "base_branch", base, "head_commit", head, "pushed", 1, "already_existed",
                     pr.already_existed, "message", message);
    if (!*out) {
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
    free(message);
    gitops_state_free(&state);
    db_instance_free(&inst);
    return rc;
}
