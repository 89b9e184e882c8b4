/* sync: sync_instance (see tools/core/sync.h). */
#include "tools/core/sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db/queries.h"
#include "tools/core/instance.h"
#include "tools/core/rights.h"
#include "tools/git/git.h"

#define SYNC_STEPS 4

typedef struct sync_stage_state {
    const grove_progress *p;
} sync_stage_state;

/* The git layer's stages: a kill point each (tests), and progress for the visible ones. */
static void on_stage(void *arg, const char *stage)
{
    sync_stage_state *s = arg;
    char point[64];

    snprintf(point, sizeof(point), "sync_instance:%s", stage);
    if (strcmp(stage, "computed") == 0)
        grove_progress_step(s->p, 2, SYNC_STEPS, "new commits computed");
    else if (strcmp(stage, "ref-moved") == 0)
        grove_progress_step(s->p, 3, SYNC_STEPS, "branch moved");
    instance_kill_point(point);
}

void sync_result_free(sync_result *r)
{
    size_t i;

    if (!r)
        return;
    for (i = 0; r->conflicting && i < r->nconflicting; i++)
        free(r->conflicting[i]);
    free(r->conflicting);
    memset(r, 0, sizeof(*r));
}

int sync_instance(grove_ctx *ctx, const char *id, const char *strategy, sync_result *out,
                  const grove_progress *p, grove_err *err)
{
    grove_instance inst = {0}; /* owned: freed at done */
    gitops_state state = {0};  /* owned: freed at done */
    gitops_sync_opts o = {0};
    gitops_sync_result gr = {0}; /* owned: moved into *out */
    sync_stage_state ss = {p};
    const char *path, *branch, *base;
    char sha[41], files[1024];
    struct stat sb;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (strategy && strcmp(strategy, "rebase") != 0 && strcmp(strategy, "merge") != 0) {
        grove_fail(err, GROVE_EINVAL, "unknown strategy '%s': use \"rebase\" or \"merge\"",
                   strategy);
        goto done;
    }
    out->strategy = strategy && strcmp(strategy, "merge") == 0 ? "merge" : "rebase";
    if (instance_load(ctx, id, &inst, err) != 0 || rights_require(ctx, RIGHTS_CHANGE, id, err) != 0)
        goto done;
    path = inst.worktree_path;
    branch = inst.branch_name;
    base = inst.base_branch;
    if (!path || stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        grove_fail(err, GROVE_ENOTFOUND,
                   "the worktree of '%s' is gone ('%s')%s: there is nothing to sync", id,
                   path ? path : "?",
                   strcmp(inst.status, "terminated") == 0 ? "; the instance is terminated" : "");
        goto done;
    }
    if (!base) {
        grove_fail(err, GROVE_EINVAL, "instance '%s' has no base branch to sync with", id);
        goto done;
    }
    if (gitops_branch_head(ctx->repo, branch, sha, err) != 0) {
        if (err->code == GROVE_ENOTFOUND)
            grove_fail(err, GROVE_ENOTFOUND,
                       "cannot sync '%s': its branch '%s' no longer exists (deleted outside "
                       "grove); nothing was changed",
                       id, branch ? branch : "?");
        goto done;
    }
    if (gitops_resolve_branch(ctx->repo, base, sha, err) != 0) {
        if (err->code == GROVE_ENOTFOUND)
            grove_fail(err, GROVE_ENOTFOUND,
                       "cannot sync '%s': its base branch '%s' no longer exists (renamed or "
                       "deleted); nothing was changed. Restore '%s' to sync again",
                       id, base, base);
        goto done;
    }
    grove_progress_step(p, 1, SYNC_STEPS, "started");
    if (grove_progress_check(p, err) != 0)
        goto done;
    /* A sync of this instance killed half-way is finished before anything else. */
    if (gitops_sync_recover(ctx->repo, id, path, &out->finished_interrupted, err) != 0)
        goto done;
    if (out->finished_interrupted)
        log_warn("instance '%s': finished a sync that was interrupted", id);
    if (gitops_worktree_state(path, NULL, &state, err) != 0)
        goto done;
    if (state.ndirty > 0) {
        grove_list_text(state.dirty_files, state.ndirty, 8, files, sizeof(files));
        grove_fail(err, GROVE_ECONFLICT,
                   "the worktree of '%s' has uncommitted changes: %s; commit or stash them, then "
                   "sync again (nothing was changed)",
                   id, files);
        goto done;
    }
    o.name = id;
    o.worktree = path;
    o.branch = branch;
    o.base = base;
    o.strategy = strcmp(out->strategy, "merge") == 0 ? GITOPS_SYNC_MERGE : GITOPS_SYNC_REBASE;
    o.stage = on_stage;
    o.stage_arg = &ss;
    if (gitops_sync(ctx->repo, &o, &gr, err) != 0)
        goto done;
    out->synced = gr.synced;
    memcpy(out->old_head, gr.old_head, sizeof(out->old_head));
    memcpy(out->new_head, gr.new_head, sizeof(out->new_head));
    memcpy(out->base_head, gr.base_head, sizeof(out->base_head));
    out->conflicting = gr.conflicting;
    out->nconflicting = gr.nconflicting;
    out->replayed = gr.replayed;
    gr.conflicting = NULL;
    gr.nconflicting = 0;
    grove_progress_step(p, SYNC_STEPS, SYNC_STEPS, "done");
    rc = 0;
done:
    gitops_sync_result_free(&gr);
    gitops_state_free(&state);
    db_instance_free(&inst);
    if (rc != 0)
        sync_result_free(out);
    return rc;
}
