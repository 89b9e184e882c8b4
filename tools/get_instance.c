/* get_instance: one instance with relationships, last checkpoint and git state. Definition:
 * get_instance.json. */
#include "tools/tool_table.h"
#include "db/queries.h"
#include "tools/core/instance.h"

int tool_get_instance(tool_call *call, const json_t *args, json_t **out, grove_err *err)
{
    grove_ctx *ctx = call->ctx;
    const char *id = arg_target(ctx, args, "instance_id", err);
    json_t *inst = NULL, *rels = NULL, *cp = NULL, *git = NULL;
    grove_err gerr = GROVE_ERR_INIT;

    if (!id || instances_reconcile(ctx, NULL, err) != 0 || instance_load(ctx, id, &inst, err) != 0)
        return -1;
    if (db_relationships(ctx->db, id, &rels, err) != 0 ||
        db_checkpoint_get(ctx->db, id, NULL, &cp, err) != 0)
        goto fail;
    /* A worktree that is gone (removed, or never made) has no git state. */
    if (gitops_worktree_state(jstr(inst, "worktree_path"), jstr(inst, "base_commit"), &git,
                              &gerr) != 0) {
        if (gerr.code != GROVE_ENOTFOUND)
            log_warn("instance '%s': %s", id, gerr.msg);
        git = json_null();
    }
    *out = json_pack("{s:o, s:o, s:o, s:o}", "instance", inst, "relationships", rels,
                     "last_checkpoint", cp, "git", git);
    return *out ? 0 : grove_fail(err, GROVE_ENOMEM, "out of memory");
fail:
    json_decref(inst);
    json_decref(rels);
    json_decref(cp);
    return -1;
}
