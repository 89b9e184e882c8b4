/* log_checkpoint: append a resumable checkpoint. Definition: log_checkpoint.json. */
#include "db/queries.h"
#include "tools/instance.h"

int tool_log_checkpoint(grove_ctx *ctx, const json_t *args, const tool_progress *p, json_t **out,
                        grove_err *err)
{
    const char *id = instance_target(ctx, args, "instance_id", err);
    json_t *inst = NULL, *cp = NULL;
    db_new_checkpoint in = {0};
    char sha[41];
    grove_err gerr = GROVE_ERR_INIT;
    int rc = -1;

    if (!id || instance_load(ctx, id, &inst, err) != 0)
        return -1;
    in.instance_id = id;
    in.phase = arg_str(args, "phase");
    in.name = arg_str(args, "name");
    in.status = arg_str(args, "status");
    in.data = json_object_get(args, "data");
    in.message = arg_str(args, "message");
    /* The worktree's current commit, when the worktree is still there. */
    if (gitops_worktree_head(jstr(inst, "worktree_path"), sha, &gerr) == 0)
        in.commit_sha = sha;
    if (db_checkpoint_insert(ctx->db, &in, &cp, err) != 0)
        goto done;
    *out = json_pack("{s:o}", "checkpoint", cp);
    rc = *out ? 0 : grove_fail(err, GROVE_ENOMEM, "out of memory");
done:
    json_decref(inst);
    return rc;
}
