/* query_events: the recorded tool calls, newest first. Definition: query_events.json. */
#include "tools/tool_table.h"
#include "db/queries.h"
#include "tools/core/instance.h"
#include "tools/wire.h"

int tool_query_events(tool_call *call, const json_t *args, json_t **out, grove_err *err)
{
    grove_ctx *ctx = call->ctx;
    db_event_filter f = {0};
    grove_event_list list = {0};

    f.instance_id = arg_str(args, "instance_id");
    f.tool = arg_str(args, "tool");
    f.success = arg_bool(args, "success", -1);
    f.since = arg_str(args, "since");
    f.limit = (int)arg_int(args, "limit", 50);
    if (db_event_list(ctx->db, &f, &list, err) != 0)
        return -1;
    *out = json_pack("{s:o}", "events", wire_events(&list));
    db_event_list_free(&list);
    return *out ? 0 : grove_nomem(err);
}
