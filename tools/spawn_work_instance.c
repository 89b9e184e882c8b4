/* spawn_work_instance: a new work instance in its own worktree. Definition:
 * spawn_work_instance.json; the work is spawn_work() in core. */
#include "tools/tool_table.h"
#include "tools/core/beads.h"
#include "tools/core/spawn.h"
#include "tools/wire.h"

int tool_spawn_work_instance(tool_call *call, const json_t *args, json_t **out, grove_err *err)
{
    spawn_work_opts o = {0};
    instance_created made = {0};

    o.ready = beads_ready_requested(call->ctx, arg_str(args, "issue"));
    if (!o.ready && arg_issue(json_object_get(args, "issue"), &o.issue, err) != 0)
        return -1;
    o.base_branch = arg_str(args, "base_branch");
    o.prompt = arg_str(args, "prompt");
    o.launch = arg_bool(args, "launch", -1);
    if (spawn_work(call->ctx, &o, call->progress, &made, err) != 0)
        return -1;
    *out = wire_created(&made);
    instance_created_free(&made);
    return *out ? 0 : grove_nomem(err);
}
