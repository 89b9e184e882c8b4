/* fork_instance: a new work instance starting at another instance's branch head. Definition:
 * fork_instance.json; the work is spawn_fork() in core. */
#include "tools/tool_table.h"
#include "tools/core/spawn.h"
#include "tools/wire.h"

int tool_fork_instance(tool_call *call, const json_t *args, json_t **out, grove_err *err)
{
    const char *id = arg_target(call->ctx, args, "instance_id", err);
    instance_created made = {0};

    if (!id || spawn_fork(call->ctx, id, arg_str(args, "prompt"), arg_bool(args, "launch", -1),
                          call->progress, &made, err) != 0)
        return -1;
    *out = wire_created(&made);
    instance_created_free(&made);
    return *out ? 0 : grove_nomem(err);
}
