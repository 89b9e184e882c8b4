/* query_instances: filtered, paginated list of instances. Definition: query_instances.json. */
#include "tools/tool_table.h"
#include "db/queries.h"
#include "tools/core/instance.h"
#include "tools/wire.h"

int tool_query_instances(tool_call *call, const json_t *args, json_t **out, grove_err *err)
{
    grove_ctx *ctx = call->ctx;
    db_instance_filter f = {0};
    issue_ref issue;
    grove_instance_list list = {0};

    if (instance_reconcile_all(ctx, NULL, err) != 0 ||
        arg_issue(json_object_get(args, "issue"), &issue, err) != 0)
        return -1;
    f.type = arg_str(args, "type");
    f.status = arg_str(args, "status");
    f.agent_state = arg_str(args, "agent_state");
    f.parent_id = arg_str(args, "parent_id");
    f.issue_number = issue.number;
    f.beads_id = issue.beads[0] ? issue.beads : NULL;
    f.limit = (int)arg_int(args, "limit", 50);
    f.cursor = arg_str(args, "cursor");
    f.max_bytes = WIRE_PAGE_ITEMS_BYTES;
    f.size_of = wire_instance_size;
    f.size_bound = wire_instance_size_bound;
    if (db_instance_list(ctx->db, &f, &list, err) != 0)
        return -1;
    *out = json_pack("{s:o}", "instances", wire_instances(list.v, list.n));
    if (*out && list.next_cursor)
        json_object_set_new(*out, "next_cursor", json_string(list.next_cursor));
    db_instance_list_free(&list);
    return *out ? 0 : grove_nomem(err);
}
