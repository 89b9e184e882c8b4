/* fork_instance: a new work instance starting at another instance's branch head. Definition:
 * fork_instance.json. */
#include <stdlib.h>

#include "tools/tool_table.h"
#include "tools/core/instance.h"
#include "tools/wire.h"

int tool_fork_instance(tool_call *call, const json_t *args, json_t **out, grove_err *err)
{
    grove_ctx *ctx = call->ctx;
    const grove_progress *p = call->progress;
    const char *id = arg_target(ctx, args, "instance_id", err);
    grove_instance src = {0};
    instance_created made = {0};
    char *agent = NULL;
    char head[41];
    instance_spec spec = {0};
    int rc = -1;

    if (!id || instance_load(ctx, id, &src, err) != 0)
        goto done;
    if (instance_issue(&src, &spec.issue, err) != 0 || arg_launch(ctx, args, &agent, err) != 0)
        goto done;
    if (gitops_branch_head(ctx->repo, src.branch_name, head, err) != 0) {
        grove_fail(err, GROVE_ENOTFOUND, "cannot fork '%s': its branch '%s' no longer exists", id,
                   src.branch_name);
        goto done;
    }
    /* The fork shares the source's base, so ahead/behind and pull requests compare alike. */
    spec.type = "work";
    spec.base_branch = src.base_branch;
    spec.base_commit = src.base_commit ? src.base_commit : head;
    spec.start_commit = head;
    spec.prompt = arg_str(args, "prompt");
    spec.parent_id = id;
    spec.relationship = "created_fork";
    spec.agent_command = agent;
    if (instance_create(ctx, &spec, p, &made, err) != 0)
        goto done;
    *out = wire_created(&made);
    rc = *out ? 0 : grove_nomem(err);
done:
    instance_created_free(&made);
    free(agent);
    db_instance_free(&src);
    return rc;
}
