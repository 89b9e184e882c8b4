/* read_agent_output: what an instance's agent shows now. Definition: read_agent_output.json;
 * the work is agent_output_read() in core. */
#include "tools/tool_table.h"
#include "tools/core/agent_output.h"

int tool_read_agent_output(tool_call *call, const json_t *args, json_t **out, grove_err *err)
{
    const char *id = arg_target(call->ctx, args, "instance_id", err);
    agent_output o = {0};

    if (!id || agent_output_read(call->ctx, id, (int)arg_int(args, "lines", OUTPUT_LINES_DEFAULT),
                                 &o, err) != 0)
        return -1;
    *out = json_pack("{s:s, s:i, s:s, s:s}", "text", o.text, "lines", o.lines, "agent_state",
                     o.agent_state, "captured_at", o.captured_at);
    agent_output_free(&o);
    return *out ? 0 : grove_nomem(err);
}
