/* send_feedback: lands with issue #3. Definition (final): send_feedback.json. */
#include "tools/instance.h"

int tool_send_feedback(grove_ctx *ctx, const json_t *args, const tool_progress *p, json_t **out,
                       grove_err *err)
{
    return tool_not_implemented("send_feedback", 3, err);
}
