/* diff: what an instance changed (see diff.h). */
#include "tools/core/diff.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tools/core/instance.h"

void diff_result_free(diff_result *r)
{
    gitops_diff_free(&r->diff);
    memset(r, 0, sizeof(*r));
}

void diff_result_trim(diff_result *r, size_t len)
{
    gitops_diff *d = &r->diff;
    size_t cut;

    if (len >= d->patch_len)
        return;
    cut = len;
    /* Back to just after a newline that does not start a "\ No newline at end of file". */
    while (cut > 0 && (d->patch[cut - 1] != '\n' || d->patch[cut] == '\\'))
        cut--;
    d->patch[cut] = '\0';
    d->patch_len = cut;
    d->truncated = 1;
}

/* 1 when `path` is a folder (the worktree is still there). */
static int is_folder(const char *path)
{
    struct stat st;

    return path && *path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int request_check(const diff_request *rq, grove_err *err)
{
    size_t i;

    if (rq->context_lines > DIFF_CONTEXT_MAX)
        return grove_fail(err, GROVE_EINVAL, "context_lines is %u; it must be 0 to %d",
                          rq->context_lines, DIFF_CONTEXT_MAX);
    if (rq->max_bytes < 1 || rq->max_bytes > DIFF_MAX_BYTES)
        return grove_fail(err, GROVE_EINVAL,
                          "max_bytes is %zu; it must be 1 to %zu (4 MiB, the result limit)",
                          rq->max_bytes, DIFF_MAX_BYTES);
    if (rq->npaths > DIFF_PATHS_MAX)
        return grove_fail(err, GROVE_EINVAL, "paths has %zu entries; the limit is %d", rq->npaths,
                          DIFF_PATHS_MAX);
    for (i = 0; i < rq->npaths; i++) {
        size_t n = rq->paths[i] ? strlen(rq->paths[i]) : 0;

        if (n == 0 || n > DIFF_PATH_LEN_MAX)
            return grove_fail(err, GROVE_EINVAL,
                              "paths[%zu] is %zu bytes; a pathspec is 1 to %d bytes", i, n,
                              DIFF_PATH_LEN_MAX);
    }
    return 0;
}

/*
 * The commit `against` names for instance `inst` into sha: its base
 * branch's current head, another instance's branch head, or a branch's.
 */
static int against_resolve(grove_ctx *ctx, const grove_instance *inst, const char *against,
                           char sha[41], grove_err *err)
{
    grove_instance other = {0};
    int rc = -1, found;

    if (!against || strcmp(against, "base") == 0) {
        if (!inst->base_branch || !*inst->base_branch)
            return grove_fail(err, GROVE_ENOTFOUND,
                              "instance '%s' has no recorded base branch: pass against (a "
                              "branch name or an instance id)",
                              inst->id);
        if (gitops_resolve_branch(ctx->repo, inst->base_branch, sha, err) == 0)
            return 0;
        if (err->code == GROVE_ENOTFOUND)
            grove_fail(err, GROVE_ENOTFOUND,
                       "the base branch '%s' of instance '%s' no longer exists (deleted since "
                       "the instance was spawned): pass against with a branch name or an "
                       "instance id to diff against",
                       inst->base_branch, inst->id);
        return -1;
    }
    /* An instance id first: its branch. */
    found = instance_load(ctx, against, &other, err);
    if (found == 0) {
        if (!other.branch_name || gitops_branch_head(ctx->repo, other.branch_name, sha, err) != 0) {
            if (!other.branch_name || err->code == GROVE_ENOTFOUND)
                grove_fail(err, GROVE_ENOTFOUND,
                           "instance '%s' (against) has no branch any more ('%s' is gone): "
                           "diff against its base branch or another branch instead",
                           against, other.branch_name ? other.branch_name : "");
            goto done;
        }
        rc = 0;
        goto done;
    }
    if (err->code != GROVE_ENOTFOUND)
        goto done;
    /* Else a branch, only looked up; a name git would refuse (or an "-option") is no branch. */
    if (against[0] == '-' || !gitops_branch_name_valid(against)) {
        rc = grove_fail(err, GROVE_EINVAL,
                        "against '%s' is not \"base\", an instance id or a valid branch name",
                        against);
        goto done;
    }
    if (gitops_resolve_branch(ctx->repo, against, sha, err) != 0) {
        if (err->code == GROVE_ENOTFOUND)
            grove_fail(err, GROVE_ENOTFOUND,
                       "against '%s' is not \"base\", an instance id or an existing branch "
                       "(local or remote-tracking): check the name",
                       against);
        goto done;
    }
    rc = 0;
done:
    db_instance_free(&other);
    return rc;
}

int diff_instance(grove_ctx *ctx, const diff_request *rq, diff_result *out, grove_err *err)
{
    grove_instance inst = {0};
    gitops_diff_opts o = {0};
    char against[41], head[41];
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (request_check(rq, err) != 0 || instance_load(ctx, rq->instance_id, &inst, err) != 0)
        goto done;
    if (against_resolve(ctx, &inst, rq->against, against, err) != 0)
        goto done;
    /* The worktree's files when asked and still there; else the branch's commits. */
    out->uncommitted = rq->include_uncommitted && is_folder(inst.worktree_path);
    if (!out->uncommitted) {
        if (!inst.branch_name || gitops_branch_head(ctx->repo, inst.branch_name, head, err) != 0) {
            if (!inst.branch_name || err->code == GROVE_ENOTFOUND)
                grove_fail(err, GROVE_ENOTFOUND,
                           "instance '%s' has neither its worktree nor its branch '%s' any "
                           "more: there is nothing to diff",
                           inst.id, inst.branch_name ? inst.branch_name : "");
            goto done;
        }
    }
    o.against = against;
    o.to = out->uncommitted ? NULL : head;
    o.worktree = out->uncommitted ? inst.worktree_path : NULL;
    o.paths = rq->paths;
    o.npaths = rq->npaths;
    o.context_lines = rq->context_lines;
    o.max_bytes = rq->max_bytes;
    if (gitops_diff_compute(ctx->repo, &o, &out->diff, err) != 0)
        goto done;
    rc = 0;
done:
    db_instance_free(&inst);
    return rc;
}
