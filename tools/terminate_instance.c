/* terminate_instance: stop the agent, mark terminated, optionally remove the worktree. Definition:
 * terminate_instance.json. The policy is terminate_instance() in tools/core/terminate.c. */
#include "tools/tool_table.h"
#include "tools/core/terminate.h"
#include "tools/wire.h"

int tool_terminate_instance(tool_call *call, const json_t *args, json_t **out, grove_err *err)
{
    const char *id = arg_target(call->ctx, args, "instance_id", err);
    terminate_opts o = {0};
    terminate_result r = {0};

    if (!id)
        return -1;
    o.remove_worktree = arg_bool(args, "remove_worktree", 0);
    o.force = arg_bool(args, "force", 0);
    if (terminate_instance(call->ctx, id, &o, &r, call->progress, err) != 0)
        return -1;
    *out = json_pack("{s:o, s:b}", "instance", wire_instance(&r.instance), "worktree_removed",
                     r.worktree_removed);
    terminate_result_free(&r);
    return *out ? 0 : grove_nomem(err);
}
