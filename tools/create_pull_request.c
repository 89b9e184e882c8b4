/*
 * create_pull_request: push the instance's branch, then open the pull request
 * on GitHub (or return the open one for that branch). Definition:
 * create_pull_request.json; the work is pull_request_open() in core.
 */
#include "tools/tool_table.h"
#include "tools/core/pull_request.h"

int tool_create_pull_request(tool_call *call, const json_t *args, json_t **out, grove_err *err)
{
    const char *id = arg_target(call->ctx, args, "instance_id", err);
    pr_opts o = {0};
    pr_result r = {0};

    if (!id)
        return -1;
    o.base_branch = arg_str(args, "base_branch");
    o.title = arg_str(args, "title");
    o.description = arg_str(args, "description");
    o.draft = arg_bool(args, "draft", 0);
    o.allow_dirty = arg_bool(args, "allow_dirty", 0);
    if (pull_request_open(call->ctx, id, &o, call->progress, &r, err) != 0)
        return -1;
    *out = json_pack("{s:o, s:o, s:s, s:s, s:s, s:b, s:b, s:s?}", "pr_number",
                     r.url ? json_integer(r.number) : json_null(), "pr_url",
                     r.url ? json_string(r.url) : json_null(), "branch_name", r.branch,
                     "base_branch", r.base, "head_commit", r.head, "pushed", 1, "already_existed",
                     r.already_existed, "message", r.message);
    pull_request_result_free(&r);
    return *out ? 0 : grove_nomem(err);
}
