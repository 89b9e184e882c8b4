/* log_checkpoint: append a resumable checkpoint. Definition: log_checkpoint.json. */
#include "tools/tool_table.h"
#include "db/queries.h"
#include "tools/core/instance.h"
#include "tools/core/limits.h"
#include "tools/core/rights.h"
#include "tools/wire.h"

typedef struct insert_arg {
    const db_new_checkpoint *in;
    grove_checkpoint cp; /* the inserted row; from the last (committed) attempt */
} insert_arg;

/* The database part, in one transaction with the call's event (tools_txn: may run again). */
static int insert_fn(grove_db *db, void *arg, grove_err *err)
{
    insert_arg *a = arg;

    db_checkpoint_free(&a->cp); /* from an attempt that was rolled back */
    return db_checkpoint_insert(db, a->in, &a->cp, err) == 0 ? 0 : -1;
}

int tool_log_checkpoint(tool_call *call, const json_t *args, json_t **out, grove_err *err)
{
    grove_ctx *ctx = call->ctx;
    const char *id = arg_target(ctx, args, "instance_id", err);
    char *worktree = NULL; /* owned: freed at done */
    db_new_checkpoint in = {0};
    insert_arg a = {&in, {0}};
    char sha[41];
    grove_err gerr = GROVE_ERR_INIT;
    int rc = -1;

    in.data = json_object_get(args, "data");
    in.message = arg_str(args, "message");
    if (limits_check_checkpoint(in.data, in.message, err) != 0 || !id ||
        db_instance_worktree(ctx->db, id, &worktree, err) != 0 ||
        rights_require(ctx, RIGHTS_CHANGE, id, err) != 0)
        goto done;
    in.instance_id = id;
    in.phase = arg_str(args, "phase");
    in.name = arg_str(args, "name");
    in.status = arg_str(args, "status");
    /* The worktree's current commit, when the worktree is still there (read before the write). */
    if (gitops_worktree_head_cached(ctx->repo, worktree, sha, &gerr) == 0)
        in.commit_sha = sha;
    if (tool_call_txn(call, insert_fn, &a, err) != 0)
        goto done;
    /* data: the object just stored, not a parse of what was stored from it */
    *out = json_pack("{s:o}", "checkpoint",
                     wire_checkpoint_data(&a.cp, json_object_get(args, "data")));
    rc = *out ? 0 : grove_nomem(err);
done:
    db_checkpoint_free(&a.cp);
    free(worktree);
    return rc;
}
