/* sync_instance: bring the base branch's head into an instance by rebase or merge. Definition:
 * sync_instance.json. The policy is sync_instance() in tools/core/sync.c. */
#include "tools/tool_table.h"
#include "tools/core/sync.h"

int tool_sync_instance(tool_call *call, const json_t *args, json_t **out, grove_err *err)
{
    const char *id = arg_target(call->ctx, args, "instance_id", err);
    sync_result r = {0}; /* owned: freed before returning */
    json_t *files = NULL;
    size_t i;

    if (!id)
        return -1;
    if (sync_instance(call->ctx, id, arg_str(args, "strategy"), &r, call->progress, err) != 0)
        return -1;
    files = json_array();
    for (i = 0; files && i < r.nconflicting; i++)
        if (json_array_append_new(files, json_string(r.conflicting[i])) != 0) {
            json_decref(files);
            files = NULL;
        }
    *out = files ? json_pack("{s:b, s:s, s:s, s:s, s:s, s:o}", "synced", r.synced, "strategy",
                             r.strategy, "old_head", r.old_head, "new_head", r.new_head,
                             "base_head", r.base_head, "conflicting_files", files)
                 : NULL;
    sync_result_free(&r);
    return *out ? 0 : grove_nomem(err);
}
