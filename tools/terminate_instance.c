/* terminate_instance: stop the agent, mark terminated, optionally remove the worktree. Definition:
 * terminate_instance.json. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "tools/tool_table.h"
#include "db/queries.h"
#include "tools/agents/agent.h"
#include "tools/core/instance.h"
#include "tools/wire.h"

int tool_terminate_instance(tool_call *call, const json_t *args, json_t **out, grove_err *err)
{
    grove_ctx *ctx = call->ctx;
    const grove_progress *p = call->progress;
    const char *id = arg_target(ctx, args, "instance_id", err);
    int remove = arg_bool(args, "remove_worktree", 0), force = arg_bool(args, "force", 0);
    grove_instance inst = {0};
    const char *path, *branch;
    struct stat sb;
    grove_err rerr = GROVE_ERR_INIT;
    int removed = 0, running, rm_rc = 0, rc = -1;

    if (!id || instance_load(ctx, id, &inst, err) != 0)
        goto done;
    path = inst.worktree_path;
    branch = inst.branch_name;
    grove_progress_step(p, 1, remove ? 4 : 2, "started");
    if (remove) {
        int exists = stat(path, &sb) == 0;

        /* Never the main worktree, never anything outside the worktrees folder, even with force. */
        if (exists && !instance_path_removable(ctx, path)) {
            grove_fail(err, GROVE_EINVAL,
                       "refusing to remove '%s': it is not inside the worktrees folder '%s'", path,
                       ctx->worktrees_base);
            goto done;
        }
        /* Check before anything changes, so a refusal leaves the instance as it was. */
        if (!force && exists) {
            char sha[41];
            grove_err berr = GROVE_ERR_INIT;

            /* Without its branch grove cannot tell what the worktree holds: HEAD is unborn. */
            if (gitops_branch_head(ctx->repo, branch, sha, &berr) != 0 &&
                berr.code == GROVE_ENOTFOUND) {
                grove_fail(err, GROVE_ECONFLICT,
                           "refusing to remove the worktree of '%s': its branch '%s' no longer "
                           "exists (deleted outside grove), so grove cannot tell what removing "
                           "'%s' would lose; pass force: true to remove it anyway",
                           id, branch ? branch : "?", path);
                goto done;
            }
        }
        if (!force) {
            gitops_loss loss = {0};

            if (gitops_removal_loss(ctx->repo, path, branch, inst.base_commit, &loss, err) != 0 &&
                err->code != GROVE_ENOTFOUND)
                goto done;
            if (loss.dirty_files || loss.unique_commits) {
                char dirty[64] = "", unique[96] = "";

                if (loss.dirty_files)
                    snprintf(dirty, sizeof(dirty), "%zu uncommitted file%s", loss.dirty_files,
                             loss.dirty_files == 1 ? "" : "s");
                if (loss.unique_commits)
                    snprintf(unique, sizeof(unique),
                             "%zu commit%s that exist%s on no remote branch", loss.unique_commits,
                             loss.unique_commits == 1 ? "" : "s",
                             loss.unique_commits == 1 ? "s" : "");
                grove_fail(err, GROVE_ECONFLICT,
                           "refusing to remove the worktree of '%s': it has %s%s%s; commit and "
                           "push your work (create_pull_request), or pass force: true to discard "
                           "it",
                           id, dirty, *dirty && *unique ? " and " : "", unique);
                goto done;
            }
        }
    }
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

        if (agent_stop(inst.session_name, inst.pid, &serr) != 0)
            log_warn("instance '%s': %s", id, serr.msg);
    }
    grove_progress_step(p, 2, remove ? 4 : 2, "agent stopped");
    instance_kill_point("terminate_instance:agent-stopped");
    if (remove) {
        const char *slash = strrchr(path, '/');

        /* The worktree is registered under its folder's name, the instance id. */
        rm_rc = gitops_worktree_remove(ctx->repo, slash ? slash + 1 : id, branch, &rerr);
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
    db_instance_free(&inst);
    if (instance_load(ctx, id, &inst, err) != 0)
        goto done;
    *out = json_pack("{s:o, s:b}", "instance", wire_instance(&inst), "worktree_removed", removed);
    if (!*out) {
        grove_fail(err, GROVE_ENOMEM, "out of memory");
        goto done;
    }
    grove_progress_step(p, remove ? 4 : 2, remove ? 4 : 2, "done");
    rc = 0;
done:
    db_instance_free(&inst);
    return rc;
}
