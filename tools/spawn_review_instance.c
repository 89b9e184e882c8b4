/* spawn_review_instance: a reviewer of a work instance's branch. Definition:
 * spawn_review_instance.json; the work is spawn_review() in core. */
#include "tools/tool_table.h"
#include "tools/core/spawn.h"
#include "tools/wire.h"

int tool_spawn_review_instance(tool_call *call, const json_t *args, json_t **out, grove_err *err)
{
    const char *id = arg_target(call->ctx, args, "work_instance_id", err);
    spawn_review_result r;
    int rc = -1;

    if (!id)
        return -1;
    if (spawn_review(call->ctx, id, arg_str(args, "reviewer_prompt"), arg_bool(args, "launch", -1),
                     call->progress, &r, err) != 0)
        goto done;
    if (!(*out = wire_created(&r.made)) ||
        json_object_set_new(*out, "reviewed_commit", json_string(r.reviewed_commit)) != 0 ||
        json_object_set_new(*out, "diff_stat",
                            json_pack("{s:I, s:I, s:I}", "files_changed",
                                      (json_int_t)r.diff.files_changed, "insertions",
                                      (json_int_t)r.diff.insertions, "deletions",
                                      (json_int_t)r.diff.deletions)) != 0) {
        json_decref(*out);
        *out = NULL;
        grove_nomem(err);
        goto done;
    }
    rc = 0;
done:
    instance_created_free(&r.made);
    return rc;
}
