#include "tools/core/facts.h"

#include <string.h>

#include "tools/core/instance.h"
#include "tools/git/git.h"

int facts_load(grove_ctx *ctx, const char *id, instance_facts *out, grove_err *err)
{
    grove_err gerr = GROVE_ERR_INIT;
    gitops_state state;

    memset(out, 0, sizeof(*out));
    if (instance_reconcile_all(ctx, NULL, err) != 0 || instance_load(ctx, id, &out->inst, err) != 0)
        goto fail;
    if (db_checkpoint_get(ctx->db, id, NULL, &out->checkpoint, &out->has_checkpoint, err) != 0)
        goto fail;
    if (gitops_worktree_state(out->inst.worktree_path, out->inst.base_commit, &state, &gerr) == 0) {
        out->has_git = 1;
        memcpy(out->head, state.head, sizeof(out->head));
        out->ahead = state.ahead;
        out->behind = state.behind;
        out->ndirty = state.ndirty;
        gitops_state_free(&state);
    } else if (gerr.code != GROVE_ENOTFOUND) {
        log_warn("instance '%s': %s", id, gerr.msg);
    }
    return 0;
fail:
    facts_free(out);
    return -1;
}

void facts_free(instance_facts *f)
{
    if (!f)
        return;
    db_instance_free(&f->inst);
    db_checkpoint_free(&f->checkpoint);
    memset(f, 0, sizeof(*f));
}
