/* send_feedback: store feedback and type it into the receiver's agent session. Definition:
 * send_feedback.json; the work is feedback_send() in core. */
#include "tools/tool_table.h"
#include "tools/core/feedback.h"

int tool_send_feedback(tool_call *call, const json_t *args, json_t **out, grove_err *err)
{
    feedback_opts o = {0};
    feedback_result r;

    o.to = arg_str(args, "instance_id");
    o.type = arg_str(args, "feedback_type");
    o.priority = arg_str(args, "priority");
    o.text = arg_str(args, "feedback");
    if (feedback_send(call->ctx, &o, &r, err) != 0)
        return -1;
    *out = json_pack("{s:I, s:s, s:b}", "feedback_id", (json_int_t)r.id, "to_instance_id", r.to,
                     "delivered", r.delivered);
    if (*out && r.why && json_object_set_new(*out, "message", json_string(r.why)) != 0) {
        json_decref(*out);
        *out = NULL;
    }
    feedback_result_free(&r);
    return *out ? 0 : grove_nomem(err);
}
