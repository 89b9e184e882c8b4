/* spawn_work_instance: a new work instance in its own worktree. Definition:
 * spawn_work_instance.json. */
#include <stdlib.h>

#include "tools/tool_table.h"
#include "tools/core/beads.h"
#include "tools/core/github.h"
#include "tools/core/instance.h"
#include "tools/wire.h"

int tool_spawn_work_instance(tool_call *call, const json_t *args, json_t **out, grove_err *err)
{
    grove_ctx *ctx = call->ctx;
    const grove_progress *p = call->progress;
    const char *base = arg_str(args, "base_branch");
    char *head_branch = NULL, *agent = NULL;
    char sha[41];
    instance_spec spec = {0};
    instance_created made = {0};
    int rc = -1, ready = beads_ready_requested(ctx, arg_str(args, "issue"));

    if ((!ready && arg_issue(json_object_get(args, "issue"), &spec.issue, err) != 0) ||
        arg_launch(ctx, args, &agent, err) != 0)
        return -1;
    if (!base) {
        if (gitops_head_branch(ctx->repo, &head_branch, err) != 0) {
            if (err->code == GROVE_ECONFLICT)
                grove_fail(err, GROVE_EINVAL,
                           "the repository's HEAD is detached: pass base_branch");
            goto done;
        }
        base = head_branch;
    }
    if (gitops_resolve_branch(ctx->repo, base, sha, err) != 0)
        goto done;
    spec.type = "work";
    spec.base_branch = base;
    spec.base_commit = sha;
    spec.start_commit = sha;
    spec.prompt = arg_str(args, "prompt");
    spec.agent_command = agent;
    if (ready)
        rc = beads_spawn_ready(ctx, &spec, p, &made, err);
    else
        rc = instance_create(ctx, &spec, p, &made, err);
    if (rc != 0)
        goto done;
    if (spec.issue.number > 0)
        github_cache_issue(ctx, spec.issue.number);
    *out = wire_created(&made);
    rc = *out ? 0 : grove_nomem(err);
done:
    instance_created_free(&made);
    free(head_branch);
    free(agent);
    return rc;
}
