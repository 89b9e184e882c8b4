/* spawn: new work, reviews and forks (see spawn.h). */
#include "tools/core/spawn.h"

#include <stdlib.h>
#include <string.h>

#include "tools/core/beads.h"
#include "tools/core/github.h"
#include "tools/core/rights.h"
#include "tools/core/terminate.h"

int spawn_work(grove_ctx *ctx, const spawn_work_opts *o, const grove_progress *p,
               instance_created *out, grove_err *err)
{
    const char *base = o->base_branch;
    char *head_branch = NULL;
    char sha[41];
    instance_spec spec = {0};
    agent_profile prof = {0};
    int rc = -1, launching = 0;

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
    if (instance_agent_choice(ctx, o->launch, o->agent, &prof, &launching, err) != 0)
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
    spec.profile = launching ? &prof : NULL;
    if (o->ready)
        rc = beads_spawn_ready(ctx, &spec, p, out, err);
    else
        rc = instance_create(ctx, &spec, p, out, err);
    if (rc == 0 && spec.issue.number > 0)
        github_cache_issue(ctx, spec.issue.number);
done:
    free(head_branch);
    profile_free(&prof);
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
    char *brief = NULL;
    agent_profile prof = {0};
    int launching = 0;
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
        instance_agent_choice(ctx, launch, NULL, &prof, &launching, err) != 0)
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
    spec.profile = launching ? &prof : NULL;
    rc = instance_create(ctx, &spec, p, &out->made, err);
done:
    free(brief);
    profile_free(&prof);
    db_instance_free(&work);
    return rc;
}

int spawn_fork(grove_ctx *ctx, const char *src_id, const char *prompt, int launch,
               const grove_progress *p, instance_created *out, grove_err *err)
{
    grove_instance src = {0};
    instance_spec spec = {0};
    agent_profile prof = {0};
    int launching = 0;
    char head[41];
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (instance_load(ctx, src_id, &src, err) != 0 ||
        rights_require(ctx, RIGHTS_CHANGE, src_id, err) != 0 ||
        instance_issue(&src, &spec.issue, err) != 0 ||
        instance_agent_choice(ctx, launch, NULL, &prof, &launching, err) != 0)
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
    spec.profile = launching ? &prof : NULL;
    rc = instance_create(ctx, &spec, p, out, err);
done:
    profile_free(&prof);
    db_instance_free(&src);
    return rc;
}

int spawn_work_many(grove_ctx *ctx, const spawn_work_opts *o, int count, const grove_progress *p,
                    instance_created **out, grove_err *err)
{
    instance_created *v;
    int i, k;

    *out = NULL;
    if (count < 1 || count > SPAWN_COUNT_MAX)
        return grove_fail(err, GROVE_EINVAL, "count must be 1 to %d, not %d", SPAWN_COUNT_MAX,
                          count);
    if (!(v = calloc((size_t)count, sizeof(*v))))
        return grove_nomem(err);
    for (i = 0; i < count; i++) {
        if (spawn_work(ctx, o, p, &v[i], err) == 0)
            continue;
        /* all or none: the ones made before are ended and their worktrees removed */
        for (k = 0; k < i; k++) {
            terminate_opts t = {0};
            terminate_result r = {0};
            grove_err uerr = GROVE_ERR_INIT;

            t.remove_worktree = 1;
            t.force = 1;
            if (terminate_instance(ctx, v[k].instance.id, &t, &r, NULL, &uerr) != 0)
                log_warn("best-of-%d: could not undo '%s': %s", count, v[k].instance.id, uerr.msg);
            terminate_result_free(&r);
            instance_created_free(&v[k]);
        }
        free(v);
        return -1;
    }
    *out = v;
    return 0;
}
