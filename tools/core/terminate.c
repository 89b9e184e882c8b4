/* terminate: ending an instance (see tools/core/terminate.h). */
#include "tools/core/terminate.h"

#include <stdio.h>
#include <string.h>

#include "db/queries.h"
#include "tools/agents/agent.h"
#include "tools/core/rights.h"

void terminate_result_free(terminate_result *r)
{
    if (!r)
        return;
    db_instance_free(&r->instance);
    r->worktree_removed = 0;
}

/*
 * Whether the worktree of `inst` may be removed; checked before anything
 * changes, so that a refusal leaves the instance as it was. The folder that
 * would go is resolved first, through git's own record of the worktree
 * (gitops_removal_resolve: a moved worktree, a symlink, anything outside
 * the worktrees folder or the main worktree is refused, even with force);
 * the loss checks then run on exactly that folder. *target gets the allowed
 * removal (freed by the caller, also on failure).
 */
static int terminate_check_removal(grove_ctx *ctx, const grove_instance *inst,
                                   const terminate_opts *o, gitops_removal_target *target,
                                   grove_err *err)
{
    const char *id = inst->id, *path = inst->worktree_path, *branch = inst->branch_name;
    const char *slash = path ? strrchr(path, '/') : NULL;
    const char *folder;
    gitops_loss loss = {0};
    char dirty[64] = "", unique[96] = "";

    /* The worktree is registered under its folder's name, the instance id. */
    if (gitops_removal_resolve(ctx->repo, slash ? slash + 1 : id, path, ctx->worktrees_base, target,
                               err) != 0)
        return -1;
    if (o->force)
        return 0;
    folder = target->plan.action == GITOPS_REMOVAL_FOLDER ? target->plan.folder : NULL;
    if (folder) {
        char sha[41];
        grove_err berr = GROVE_ERR_INIT;

        /* Without its branch grove cannot tell what the worktree holds: HEAD is unborn. */
        if (gitops_branch_head(ctx->repo, branch, sha, &berr) != 0 && berr.code == GROVE_ENOTFOUND)
            return grove_fail(err, GROVE_ECONFLICT,
                              "refusing to remove the worktree of '%s': its branch '%s' no longer "
                              "exists (deleted outside grove), so grove cannot tell what removing "
                              "'%s' would lose; pass force: true to remove it anyway",
                              id, branch ? branch : "?", folder);
    }
    if (gitops_removal_loss(ctx->repo, folder, branch, inst->base_commit, &loss, err) != 0 &&
        err->code != GROVE_ENOTFOUND)
        return -1;
    if (!loss.dirty_files && loss.unique_commits && o->merged_head) {
        char sha[41];

        /*
         * The exception of `grove gc --merged`: the branch's changes are in
         * its base by content (squash-merged, rebased, merged pull request),
         * so its own commits, unreachable from the base, lose nothing. Only
         * while the branch is where gc found it merged.
         */
        if (gitops_branch_head(ctx->repo, branch, sha, err) != 0)
            return -1;
        if (strcmp(sha, o->merged_head) != 0)
            return grove_fail(err, GROVE_ECONFLICT,
                              "refusing to remove the worktree of '%s': its branch '%s' moved "
                              "since it was found merged; run 'grove gc' again",
                              id, branch ? branch : "?");
        loss.unique_commits = 0;
    } else if (!loss.dirty_files && loss.unique_commits && inst->landed_commit &&
               inst->base_branch) {
        gitops_merged m;
        grove_err merr = GROVE_ERR_INIT;

        /*
         * Landed (squashed or rebased into its base by land_instance): its
         * own commits are unreachable from the base, but when merging the
         * branch into the base changes nothing, their content is all there,
         * so they lose nothing. A commit added after the land is caught
         * here: the merge would then change the base.
         */
        if (gitops_branch_merged(ctx->repo, branch, inst->base_branch, inst->base_commit, &m,
                                 &merr) == 0 &&
            m.how != GITOPS_MERGED_NO)
            loss.unique_commits = 0;
    }
    if (!loss.dirty_files && !loss.unique_commits)
        return 0;
    if (loss.dirty_files)
        snprintf(dirty, sizeof(dirty), "%zu uncommitted file%s", loss.dirty_files,
                 loss.dirty_files == 1 ? "" : "s");
    if (loss.unique_commits)
        snprintf(unique, sizeof(unique), "%zu commit%s that exist%s on no remote branch",
                 loss.unique_commits, loss.unique_commits == 1 ? "" : "s",
                 loss.unique_commits == 1 ? "s" : "");
    return grove_fail(err, GROVE_ECONFLICT,
                      "refusing to remove the worktree of '%s': it has %s%s%s; commit and "
                      "push your work (create_pull_request), or pass force: true to discard "
                      "it",
                      id, dirty, *dirty && *unique ? " and " : "", unique);
}

int terminate_instance(grove_ctx *ctx, const char *id, const terminate_opts *o,
                       terminate_result *out, const grove_progress *p, grove_err *err)
{
    grove_instance inst = {0};
    gitops_removal_target target; /* owned: the removal checked, freed at done */
    grove_err rerr = GROVE_ERR_INIT;
    int remove = o->remove_worktree, steps = o->remove_worktree ? 4 : 2;
    int removed = 0, running, rm_rc = 0, rc = -1;

    memset(out, 0, sizeof(*out));
    memset(&target, 0, sizeof(target));
    if (instance_load(ctx, id, &inst, err) != 0 || rights_require(ctx, RIGHTS_CHANGE, id, err) != 0)
        goto done;
    grove_progress_step(p, 1, steps, "started");
    if (remove && terminate_check_removal(ctx, &inst, o, &target, err) != 0)
        goto done;
    /*
     * Stop, remove, then mark: wherever a kill -9 stops this, `grove gc`
     * finishes it. Killed before the removal: the row is still running (its
     * agent gone, so reads mark it terminated), the worktree stays, as if
     * the call had not been made. Killed during it: the removal journal lets
     * gc finish it. Killed after it: a running row without a worktree, which
     * gc marks terminated. Marking first would leave a terminated row whose
     * worktree nothing removes any more.
     */
    running = strcmp(inst.status, "running") == 0;
    if (running) {
        grove_err serr = GROVE_ERR_INIT;
        agent_ref agent;

        if (instance_agent_ref(ctx, &inst, &agent, &serr) != 0 || agent_stop(&agent, &serr) != 0)
            log_warn("instance '%s': %s", id, serr.msg);
        else
            instance_forget_prompt(ctx, id);
    }
    grove_progress_step(p, 2, steps, "agent stopped");
    instance_kill_point("terminate_instance:agent-stopped");
    if (remove) {
        /* Exactly the folder checked, checked again under the repo lock. */
        rm_rc = gitops_worktree_remove_target(ctx->repo, &target, inst.branch_name, &rerr);
        if (rm_rc == 0) {
            removed = 1;
            grove_progress_step(p, 3, 4, "worktree removed");
            instance_kill_point("terminate_instance:removed");
        }
    }
    /* A failed removal still ends the instance: its agent is stopped. */
    if (running) {
        if (db_instance_terminate(ctx->db, id, NULL, err) != 0) {
            if (removed) {
                char msg[sizeof(err->msg)];

                snprintf(msg, sizeof(msg), "%s", err->msg);
                grove_fail(err, err->code,
                           "the worktree of '%s' was removed, but the instance could not be "
                           "marked terminated ('grove gc' does it later): %s",
                           id, msg);
            }
            goto done;
        }
        instance_kill_point("terminate_instance:marked");
    }
    if (rm_rc != 0) {
        *err = rerr;
        goto done;
    }
    if (instance_load(ctx, id, &out->instance, err) != 0)
        goto done;
    out->worktree_removed = removed;
    grove_progress_step(p, steps, steps, "done");
    rc = 0;
done:
    if (rc != 0)
        terminate_result_free(out);
    gitops_removal_target_free(&target);
    db_instance_free(&inst);
    return rc;
}
