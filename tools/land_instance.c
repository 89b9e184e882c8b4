/*
 * land_instance: put an instance's branch into a target branch. Definition:
 * land_instance.json; the policy is land_instance() in tools/core/land.c.
 */
#include "tools/tool_table.h"
#include "tools/core/land.h"
#include "tools/wire.h"

/* A JSON array of the strings files[0..n); NULL when memory ran out. */
static json_t *strings(char **files, size_t n)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; a && i < n; i++)
        if (json_array_append_new(a, wire_str(files[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* land_opts.txn: the landed commit and the call's event in one transaction (one fsync). */
static int land_txn(void *call, db_txn_fn fn, void *arg, grove_err *err)
{
    return tool_call_txn(call, fn, arg, err);
}

int tool_land_instance(tool_call *call, const json_t *args, json_t **out, grove_err *err)
{
    const char *id = arg_target(call->ctx, args, "instance_id", err);
    land_opts o = {0};
    land_result r = {0};
    json_t *now; /* owned until packed */
    size_t i;

    if (!id)
        return -1;
    o.strategy = arg_str(args, "strategy");
    o.message = arg_str(args, "message");
    o.into = arg_str(args, "into");
    o.remove_worktree = arg_bool(args, "remove_worktree", 0);
    o.dry_run = arg_bool(args, "dry_run", 0);
    o.txn = land_txn;
    o.txn_arg = call;
    if (land_instance(call->ctx, id, &o, &r, call->progress, err) != 0)
        return -1;
    now = json_array();
    for (i = 0; now && i < r.nnow; i++)
        if (json_array_append_new(now, json_pack("{s:s, s:o*}", "instance_id", r.now[i].instance_id,
                                                 "conflicting_files",
                                                 strings(r.now[i].files, r.now[i].nfiles))) != 0) {
            json_decref(now);
            now = NULL;
        }
    *out =
        json_pack("{s:b, s:s, s:s, s:s, s:o, s:o*, s:o*, s:b, s:o*}", "landed", r.landed,
                  "strategy", r.strategy, "into", r.into, "old_into_commit", r.old_into,
                  "new_into_commit", r.new_into[0] ? json_string(r.new_into) : json_null(),
                  "conflicting_files", strings(r.conflicts, r.nconflicts), "now_conflicting", now,
                  "worktree_removed", r.worktree_removed, "instance", wire_instance(&r.instance));
    land_result_free(&r);
    return *out ? 0 : grove_nomem(err);
}
