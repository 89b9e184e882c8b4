/*
 * get_conflicts: which running instances' branches touch the same files and
 * which of those a merge could not resolve, with each other and with their
 * base branches. Definition: get_conflicts.json.
 */
#include "tools/tool_table.h"
#include "tools/core/conflicts.h"
#include "tools/core/instance.h"
#include "tools/wire.h"

int tool_get_conflicts(tool_call *call, const json_t *args, json_t **out, grove_err *err)
{
    grove_ctx *ctx = call->ctx;
    /* Omitted means every pair of running instances, not the caller (CONTRACT §6). */
    const char *id = arg_str(args, "instance_id");
    conflicts_report r = {0}; /* owned here */
    int rc = -1;

    if (instance_reconcile_all(ctx, NULL, err) != 0 || conflicts_check(ctx, id, &r, err) != 0)
        goto done;
    *out = wire_conflicts(&r);
    rc = *out ? 0 : grove_nomem(err);
done:
    conflicts_report_free(&r);
    return rc;
}
