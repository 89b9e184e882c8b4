/* terminate_instance: lands with issue #3. Definition (final): terminate_instance.json. */
#include "tools/instance.h"

int tool_terminate_instance(grove_ctx *ctx, const json_t *args, const tool_progress *p,
                            json_t **out, grove_err *err)
{
    return tool_not_implemented("terminate_instance", 3, err);
}
