/* spawn_review_instance: lands with issue #3. Definition (final): spawn_review_instance.json. */
#include "tools/instance.h"

int tool_spawn_review_instance(grove_ctx *ctx, const json_t *args, const tool_progress *p,
                               json_t **out, grove_err *err)
{
    return tool_not_implemented("spawn_review_instance", 3, err);
}
