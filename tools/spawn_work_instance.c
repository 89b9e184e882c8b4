/* spawn_work_instance: a new work instance in its own worktree. Definition:
 * spawn_work_instance.json; the work is spawn_work() in core. */
#include "tools/tool_table.h"
#include "tools/core/beads.h"
#include "tools/core/spawn.h"
#include "tools/wire.h"

int tool_spawn_work_instance(tool_call *call, const json_t *args, json_t **out, grove_err *err)
{
    spawn_work_opts o = {0};
    instance_created *made = NULL;
    json_t *all = NULL;
    int count = (int)arg_int(args, "count", 1), i;

    o.ready = beads_ready_requested(call->ctx, arg_str(args, "issue"));
    if (!o.ready && arg_issue(json_object_get(args, "issue"), &o.issue, err) != 0)
        return -1;
    o.base_branch = arg_str(args, "base_branch");
    o.prompt = arg_str(args, "prompt");
    o.launch = arg_bool(args, "launch", -1);
    o.agent = arg_str(args, "agent");
    if (spawn_work_many(call->ctx, &o, count, call->progress, &made, err) != 0)
        return -1;
    /* {instance (the first), setup (its), instances: all of them} */
    *out = wire_created(&made[0]);
    all = json_array();
    for (i = 0; all && i < count; i++)
        if (json_array_append_new(all, wire_instance(&made[i].instance)) != 0) {
            json_decref(all);
            all = NULL;
        }
    if (!*out || !all || json_object_set_new(*out, "instances", all) != 0) {
        if (!*out)
            json_decref(all);
        json_decref(*out);
        *out = NULL;
    }
    for (i = 0; i < count; i++)
        instance_created_free(&made[i]);
    free(made);
    return *out ? 0 : grove_nomem(err);
}
