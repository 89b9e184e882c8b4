/* query_events: the recorded tool calls, newest first, a page at a time. Definition:
 * query_events.json. */
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
    f.cursor = arg_str(args, "cursor");
    f.max_bytes = WIRE_PAGE_ITEMS_BYTES;
    f.size_of = wire_event_size;
    f.size_bound = wire_event_size_bound;
    if (db_event_list(ctx->db, &f, &list, err) != 0)
        return -1;
    *out = json_pack("{s:o}", "events", wire_events(&list));
    if (*out && list.next_cursor &&
        json_object_set_new(*out, "next_cursor", json_string(list.next_cursor)) != 0) {
        json_decref(*out);
        *out = NULL;
    }
    db_event_list_free(&list);
    return *out ? 0 : grove_nomem(err);
}
