/* get_checkpoint: the latest checkpoint, optionally of one phase. Definition: get_checkpoint.json.
 */
#include "tools/tool_table.h"
#include "db/queries.h"
#include "tools/core/instance.h"
#include "tools/wire.h"

int tool_get_checkpoint(tool_call *call, const json_t *args, json_t **out, grove_err *err)
{
    grove_ctx *ctx = call->ctx;
    const char *id = arg_target(ctx, args, "instance_id", err);
    grove_checkpoint cp = {0};
    int found = 0;

    if (!id || db_checkpoint_get(ctx->db, id, arg_str(args, "phase"), &cp, &found, err) != 0)
        return -1;
    *out = json_pack("{s:o}", "checkpoint", found ? wire_checkpoint(&cp) : json_null());
    db_checkpoint_free(&cp);
    return *out ? 0 : grove_nomem(err);
}
