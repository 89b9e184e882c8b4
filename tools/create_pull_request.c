/* create_pull_request: lands with issue #4. Definition (final): create_pull_request.json. */
#include "tools/instance.h"

int tool_create_pull_request(grove_ctx *ctx, const json_t *args, const tool_progress *p,
                             json_t **out, grove_err *err)
{
    return tool_not_implemented("create_pull_request", 4, err);
}
