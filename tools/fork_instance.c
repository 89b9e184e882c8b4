/* fork_instance: lands with issue #3. Definition (final): fork_instance.json. */
#include "tools/instance.h"

int tool_fork_instance(grove_ctx *ctx, const json_t *args, const tool_progress *p, json_t **out,
                       grove_err *err)
{
    return tool_not_implemented("fork_instance", 3, err);
}
