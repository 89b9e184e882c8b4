/* resume_instance: relaunch an instance's agent in its worktree. Definition:
 * resume_instance.json; the work is resume_instance() in core. */
#include "tools/tool_table.h"
#include "tools/core/resume.h"
#include "tools/wire.h"

int tool_resume_instance(tool_call *call, const json_t *args, json_t **out, grove_err *err)
{
    const char *id = arg_target(call->ctx, args, "instance_id", err);
    grove_instance inst = {0};

    if (!id || resume_instance(call->ctx, id, arg_str(args, "prompt"), &inst, err) != 0)
        return -1;
    *out = json_pack("{s:o}", "instance", wire_instance(&inst));
    db_instance_free(&inst);
    return *out ? 0 : grove_nomem(err);
}
