/* spawn: new work, reviews and forks (see spawn.h). */
#include "tools/core/spawn.h"

#include <stdlib.h>
#include <string.h>

#include "tools/core/beads.h"
#include "tools/core/github.h"
#include "tools/core/rights.h"

int spawn_work(grove_ctx *ctx, const spawn_work_opts *o, const grove_progress *p,
               instance_created *out, grove_err *err)
{
    const char *base = o->base_branch;
    char *head_branch = NULL, *agent = NULL;
    char sha[41];
    instance_spec spec = {0};
    int rc = -1;

    memset(out, 0, sizeof(*out));
    /* An agent's server spawns its own child (CONTRACT §5): the new instance is its descendant. */
    if (ctx->caller_id) {
        grove_instance caller = {0};
        int known = instance_load(ctx, ctx->caller_id, &caller, err);

        db_instance_free(&caller);
        if (known != 0) {
            if (err->code == GROVE_ENOTFOUND)
                grove_fail(err, GROVE_EINVAL,
                           "this server speaks for instance '%s' (GROVE_INSTANCE_ID or the "
                           "working directory), which does not exist: a new instance would "
                           "have no parent; unset GROVE_INSTANCE_ID or start grove outside "
                           "the instance worktrees",
                           ctx->caller_id);
            return -1;
        }
        spec.parent_id = ctx->caller_id;
        spec.relationship = "spawned_work";
    }
    if (instance_agent_choice(ctx, o->launch, &agent, err) != 0)
        return -1;
    if (!base) {
        if (gitops_head_branch(ctx->repo, &head_branch, err) != 0) {
            if (err->code == GROVE_ECONFLICT)
                grove_fail(err, GROVE_EINVAL,
                           "the repository's HEAD is detached: pass base_branch");
            goto done;
        }
        base = head_branch;
    }
    if (gitops_resolve_branch(ctx->repo, base, sha, err) != 0)
        goto done;
    spec.type = "work";
    spec.issue = o->issue;
    spec.base_branch = base;
    spec.base_commit = sha;
    spec.start_commit = sha;
    spec.prompt = o->prompt;
    spec.agent_command = agent;
    if (o->ready)
        rc = beads_spawn_ready(ctx, &spec, p, out, err);
    else
        rc = instance_create(ctx, &spec, p, out, err);
    if (rc == 0 && spec.issue.number > 0)
        github_cache_issue(ctx, spec.issue.number);
done:
    free(head_branch);
    free(agent);
    return rc;
}

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

int spawn_review(grove_ctx *ctx, const char *work_id, const char *prompt, int launch,
                 const grove_progress *p, spawn_review_result *out, grove_err *err)
{
    grove_instance work = {0};
    instance_spec spec = {0};
    char *brief = NULL, *agent = NULL;
    const char *head = out->reviewed_commit;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (instance_load(ctx, work_id, &work, err) != 0 ||
        rights_require(ctx, RIGHTS_CHANGE, work_id, err) != 0)
        goto done;
    if (strcmp(work.type, "work") != 0) {
        grove_fail(err, GROVE_EINVAL,
                   strcmp(work.type, "review") == 0
                       ? "instance '%s' is a review instance: a review instance may not spawn a "
                         "review instance; pass the work instance as work_instance_id"
                       : "instance '%s' is not a work instance: only work instances can be "
                         "reviewed",
                   work_id);
        goto done;
    }
    if (instance_issue(&work, &spec.issue, err) != 0 ||
        instance_agent_choice(ctx, launch, &agent, err) != 0)
        goto done;
    if (gitops_branch_head(ctx->repo, work.branch_name, out->reviewed_commit, err) != 0) {
        grove_fail(err, GROVE_ENOTFOUND, "cannot review '%s': its branch '%s' no longer exists",
                   work_id, work.branch_name);
        goto done;
    }
    if (gitops_diff_stat_between(ctx->repo, work.base_commit ? work.base_commit : head, head,
                                 &out->diff, err) != 0)
        goto done;
    if (!prompt && !(brief = review_brief(&work, head, &out->diff))) {
        grove_nomem(err);
        goto done;
    }
    /* The reviewer's base is the reviewed commit: its own ahead/behind show its changes. */
    spec.type = "review";
    spec.base_branch = work.branch_name;
    spec.base_commit = head;
    spec.start_commit = head;
    spec.prompt = brief ? brief : prompt;
    spec.parent_id = work_id;
    spec.relationship = "spawned_review";
    spec.agent_command = agent;
    rc = instance_create(ctx, &spec, p, &out->made, err);
done:
    free(brief);
    free(agent);
    db_instance_free(&work);
    return rc;
}

int spawn_fork(grove_ctx *ctx, const char *src_id, const char *prompt, int launch,
               const grove_progress *p, instance_created *out, grove_err *err)
{
    grove_instance src = {0};
    instance_spec spec = {0};
    char *agent = NULL;
    char head[41];
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (instance_load(ctx, src_id, &src, err) != 0 ||
        rights_require(ctx, RIGHTS_CHANGE, src_id, err) != 0 ||
        instance_issue(&src, &spec.issue, err) != 0 ||
        instance_agent_choice(ctx, launch, &agent, err) != 0)
        goto done;
    if (gitops_branch_head(ctx->repo, src.branch_name, head, err) != 0) {
        grove_fail(err, GROVE_ENOTFOUND, "cannot fork '%s': its branch '%s' no longer exists",
                   src_id, src.branch_name);
        goto done;
    }
    spec.type = "work";
    spec.base_branch = src.base_branch;
    spec.base_commit = src.base_commit ? src.base_commit : head;
    spec.start_commit = head;
    spec.prompt = prompt;
    spec.parent_id = src_id;
    spec.relationship = "created_fork";
    spec.agent_command = agent;
    rc = instance_create(ctx, &spec, p, out, err);
done:
    free(agent);
    db_instance_free(&src);
    return rc;
}
