/* spawn_review_instance: a reviewer of a work instance's branch. Definition:
 * spawn_review_instance.json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/tool_table.h"
#include "tools/core/instance.h"
#include "tools/wire.h"

/* The default brief the reviewer agent gets. Malloc'd. */
static char *review_brief(const grove_instance *work, const char *head, const gitops_diff_stat *ds)
{
    return grove_asprintf(
        "Review the work of instance %s: branch '%s' at commit %s, against its base '%s' "
        "(%s); %lld files changed, %lld insertions, %lld deletions. Read the diff "
        "(git diff %s..%s), run the tests, and send your verdict with send_feedback "
        "(feedback_type approved, needs_work, suggestions or clarification).",
        work->id, work->branch_name, head, work->base_branch ? work->base_branch : "?",
        work->base_commit ? work->base_commit : "?", ds->files_changed, ds->insertions,
        ds->deletions, work->base_commit ? work->base_commit : "", head);
}

int tool_spawn_review_instance(tool_call *call, const json_t *args, json_t **out, grove_err *err)
{
    grove_ctx *ctx = call->ctx;
    const grove_progress *p = call->progress;
    const char *id = arg_target(ctx, args, "work_instance_id", err);
    grove_instance work = {0};
    instance_created made = {0};
    char *agent = NULL, *brief = NULL;
    char head[41];
    gitops_diff_stat ds = {0};
    instance_spec spec = {0};
    int rc = -1;

    if (!id || instance_load(ctx, id, &work, err) != 0)
        goto done;
    if (strcmp(work.type, "work") != 0) {
        grove_fail(err, GROVE_EINVAL,
                   strcmp(work.type, "review") == 0
                       ? "instance '%s' is a review instance: a review instance may not spawn a "
                         "review instance; pass the work instance as work_instance_id"
                       : "instance '%s' is not a work instance: only work instances can be "
                         "reviewed",
                   id);
        goto done;
    }
    if (instance_issue(&work, &spec.issue, err) != 0 || arg_launch(ctx, args, &agent, err) != 0)
        goto done;
    if (gitops_branch_head(ctx->repo, work.branch_name, head, err) != 0) {
        grove_fail(err, GROVE_ENOTFOUND, "cannot review '%s': its branch '%s' no longer exists", id,
                   work.branch_name);
        goto done;
    }
    if (gitops_diff_stat_between(ctx->repo, work.base_commit ? work.base_commit : head, head, &ds,
                                 err) != 0)
        goto done;
    if (!arg_str(args, "reviewer_prompt") && !(brief = review_brief(&work, head, &ds))) {
        grove_nomem(err);
        goto done;
    }
    /* The reviewer's base is the reviewed commit: its own ahead/behind show its changes. */
    spec.type = "review";
    spec.base_branch = work.branch_name;
    spec.base_commit = head;
    spec.start_commit = head;
    spec.prompt = brief ? brief : arg_str(args, "reviewer_prompt");
    spec.parent_id = id;
    spec.relationship = "spawned_review";
    spec.agent_command = agent;
    if (instance_create(ctx, &spec, p, &made, err) != 0)
        goto done;
    if (!(*out = wire_created(&made))) {
        grove_nomem(err);
        goto done;
    }
    json_object_set_new(*out, "reviewed_commit", json_string(head));
    json_object_set_new(*out, "diff_stat",
                        json_pack("{s:I, s:I, s:I}", "files_changed", (json_int_t)ds.files_changed,
                                  "insertions", (json_int_t)ds.insertions, "deletions",
                                  (json_int_t)ds.deletions));
    rc = 0;
done:
    instance_created_free(&made);
    free(agent);
    free(brief);
    db_instance_free(&work);
    return rc;
}
