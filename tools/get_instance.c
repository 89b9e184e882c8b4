/* get_instance: one instance with relationships, last checkpoint and git state. Definition:
 * get_instance.json. */
#include "tools/tool_table.h"
#include "db/queries.h"
#include "tools/core/conflicts.h"
#include "tools/core/instance.h"
#include "tools/wire.h"

#include <string.h>

int tool_get_instance(tool_call *call, const json_t *args, json_t **out, grove_err *err)
{
    grove_ctx *ctx = call->ctx;
    const char *id = arg_target(ctx, args, "instance_id", err);
    grove_instance inst = {0};
    grove_relationship_list rels = {0};
    grove_checkpoint cp = {0};
    json_t *git = NULL, *conflicts = NULL; /* owned until packed into *out */
    conflicts_report report = {0};         /* owned here */
    gitops_state state;
    grove_err gerr = GROVE_ERR_INIT;
    int found = 0, rc = -1;

    if (!id || instance_reconcile_all(ctx, NULL, err) != 0 ||
        instance_load(ctx, id, &inst, err) != 0)
        goto done;
    if (db_relationships(ctx->db, id, &rels, err) != 0 ||
        db_checkpoint_get(ctx->db, id, NULL, &cp, &found, err) != 0)
        goto done;
    /* A worktree that is gone (removed, or never made) has no git state. */
    if (gitops_worktree_state_cached(ctx->repo, inst.worktree_path, inst.base_commit, &state,
                                     &gerr) == 0) {
        git = wire_git_state(&state);
        gitops_state_free(&state);
    } else {
        if (gerr.code != GROVE_ENOTFOUND)
            log_warn("instance '%s': %s", id, gerr.msg);
        git = json_null();
    }
    /* A summary that cannot be computed leaves the rest of the answer standing. */
    gerr = (grove_err)GROVE_ERR_INIT;
    if (strcmp(inst.status, "running") != 0) {
        conflicts = json_null();
    } else if (conflicts_summary(ctx, id, &report, &gerr) == 0) {
        conflicts = wire_conflicts_summary(&report, id);
    } else {
        log_warn("instance '%s': no conflicts summary: %s", id, gerr.msg);
        conflicts = json_null();
    }
    *out =
        json_pack("{s:o, s:o, s:o, s:o, s:o}", "instance", wire_instance(&inst), "relationships",
                  wire_relationships(&rels), "last_checkpoint",
                  found ? wire_checkpoint(&cp) : json_null(), "git", git, "conflicts", conflicts);
    rc = *out ? 0 : grove_nomem(err);
done:
    db_instance_free(&inst);
    db_relationship_list_free(&rels);
    db_checkpoint_free(&cp);
    conflicts_report_free(&report);
    return rc;
}
