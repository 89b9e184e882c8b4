/*
 * conflicts: which instances are compared with which, their branch heads
 * and their base branches' heads; the comparing is tools/git/conflicts.c.
 */
#include "tools/core/conflicts.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/core/instance.h"

void conflicts_report_free(conflicts_report *r)
{
    size_t i;

    if (!r)
        return;
    for (i = 0; i < r->npairs; i++) {
        gitops_paths_free(&r->pairs[i].overlapping);
        gitops_paths_free(&r->pairs[i].conflicting);
    }
    free(r->pairs);
    for (i = 0; i < r->nbases; i++)
        gitops_paths_free(&r->bases[i].conflicting);
    free(r->bases);
    for (i = 0; i < r->nskipped; i++)
        free(r->skipped[i].reason);
    free(r->skipped);
    db_instance_list_free(&r->running);
    memset(r, 0, sizeof(*r));
}

/* Adds a `skipped` entry for `id` saying why (`reason`, "%s" for `name`). */
static int skip(conflicts_report *r, const char *id, int branch_gone, const char *reason,
                const char *name, grove_err *err)
{
    conflicts_skip *v = realloc(r->skipped, (r->nskipped + 1) * sizeof(*v)); /* owned by r */

    if (!v)
        return grove_nomem(err);
    r->skipped = v;
    v[r->nskipped].instance_id = id;
    v[r->nskipped].branch_gone = branch_gone;
    if (!(v[r->nskipped].reason = grove_asprintf(reason, name))) /* owned by r */
        return grove_nomem(err);
    r->nskipped++;
    return 0;
}

/* Compares instances i < j (heads ha, hb) and keeps the pair when it overlaps. */
static int check_pair(gitops_conflicts *s, conflicts_report *r, size_t i, size_t j, const char *ha,
                      const char *hb, grove_err *err)
{
    gitops_merge_check m = {0};
    conflicts_pair *v;
    int rc = -1;

    if (gitops_conflicts_check(s, ha, hb, &m, err) != 0)
        goto done;
    if (m.overlapping.n == 0 && m.conflicting.n == 0) {
        rc = 0;
        goto done;
    }
    if (!(v = realloc(r->pairs, (r->npairs + 1) * sizeof(*v)))) { /* owned by r */
        rc = grove_nomem(err);
        goto done;
    }
    r->pairs = v;
    v[r->npairs].a = r->running.v[i].id;
    v[r->npairs].b = r->running.v[j].id;
    v[r->npairs].overlapping = m.overlapping; /* the paths move into r */
    v[r->npairs].conflicting = m.conflicting;
    memset(&m, 0, sizeof(m));
    r->npairs++;
    rc = 0;
done:
    gitops_merge_check_free(&m);
    return rc;
}

/* Compares instance i (head h) with its base branch's current head. */
static int check_base(grove_ctx *ctx, gitops_conflicts *s, conflicts_report *r, size_t i,
                      const char *h, grove_err *err)
{
    const grove_instance *inst = &r->running.v[i];
    gitops_merge_check m = {0};
    grove_err berr = GROVE_ERR_INIT;
    conflicts_base *v;
    char base[41];
    size_t behind = 0;
    int rc = -1;

    if (!inst->base_branch)
        return skip(r, inst->id, 0, "not compared with a base branch: it has none%s", "", err);
    if (gitops_resolve_branch(ctx->repo, inst->base_branch, base, &berr) != 0) {
        if (berr.code != GROVE_ENOTFOUND) {
            *err = berr;
            return -1;
        }
        return skip(r, inst->id, 0,
                    "not compared with its base branch: branch '%s' is gone; recreate it to "
                    "compare again",
                    inst->base_branch, err);
    }
    if (gitops_conflicts_behind(s, h, base, &behind, err) != 0)
        return -1;
    if (behind == 0) /* the base's head is in the branch: a merge has nothing to resolve */
        return 0;
    if (gitops_conflicts_check(s, h, base, &m, err) != 0)
        goto done;
    if (!(v = realloc(r->bases, (r->nbases + 1) * sizeof(*v)))) { /* owned by r */
        rc = grove_nomem(err);
        goto done;
    }
    r->bases = v;
    v[r->nbases].instance_id = inst->id;
    v[r->nbases].behind = behind;
    v[r->nbases].conflicting = m.conflicting; /* the paths move into r */
    memset(&m.conflicting, 0, sizeof(m.conflicting));
    r->nbases++;
    rc = 0;
done:
    gitops_merge_check_free(&m);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * 1 when `branch` is surely gone: it has the branch prefix and is not among
 * `names` (sorted), the branches with that prefix listed once, so that the
 * many running rows whose branch is gone cost no lookup each.
 */
static int branch_gone(grove_ctx *ctx, char **names, size_t n, const char *branch)
{
    size_t plen = strlen(ctx->branch_prefix);

    /* bsearch() of no names would pass NULL, which it must not get */
    return branch && strncmp(branch, ctx->branch_prefix, plen) == 0 &&
           (n == 0 || !bsearch(&branch, names, n, sizeof(*names), cmp_str));
}

/*
 * Adds `target` (running, its branch gone, so not read by
 * db_running_on_branches()) to r->running, where instance order puts it,
 * moving its strings there. Nothing when r->running has it already.
 */
static int with_target(conflicts_report *r, grove_instance *target, grove_err *err)
{
    grove_instance *v;
    size_t i, at = r->running.n;

    for (i = 0; i < r->running.n; i++) {
        int c = strcmp(r->running.v[i].created_at, target->created_at);

        if (strcmp(r->running.v[i].id, target->id) == 0)
            return 0;
        if ((c > 0 || (c == 0 && strcmp(r->running.v[i].id, target->id) > 0)) && at == r->running.n)
            at = i;
    }
    if (!(v = realloc(r->running.v, (r->running.n + 1) * sizeof(*v)))) /* owned by r */
        return grove_nomem(err);
    r->running.v = v;
    memmove(&v[at + 1], &v[at], (r->running.n - at) * sizeof(*v));
    v[at] = *target; /* its strings move into r */
    memset(target, 0, sizeof(*target));
    r->running.n++;
    return 0;
}

/*
 * conflicts_check() and conflicts_summary(): `only_live` reads only the
 * running instances whose branch exists (and instance_id's own row), so
 * that the ones whose branch is gone cost nothing and are not reported.
 */
static int check(grove_ctx *ctx, const char *instance_id, int only_live, conflicts_report *out,
                 grove_err *err)
{
    grove_instance target = {0};
    gitops_conflicts *s = NULL;
    char(*heads)[41] = NULL; /* owned: each running instance's branch head, "" when gone */
    char **branches = NULL;  /* owned: the branches with the branch prefix, sorted */
    size_t nbranches = 0;
    size_t i, j, t = (size_t)-1;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    grove_now_iso(out->checked_at);
    if (instance_id) {
        if (instance_load(ctx, instance_id, &target, err) != 0)
            goto done;
        if (strcmp(target.status, "running") != 0) {
            rc = grove_fail(err, GROVE_ECONFLICT,
                            "instance '%s' is %s: only running instances are compared; call "
                            "get_conflicts without instance_id to compare every running instance",
                            instance_id, target.status);
            goto done;
        }
    }
    if (gitops_branch_list(ctx->repo, ctx->branch_prefix, &branches, &nbranches, err) != 0)
        goto done;
    if (nbranches > 0)
        qsort(branches, nbranches, sizeof(*branches), cmp_str);
    if (only_live) {
        if (db_running_on_branches(ctx->db, ctx->branch_prefix, branches, nbranches, &out->running,
                                   err) != 0 ||
            (instance_id && with_target(out, &target, err) != 0))
            goto done;
    } else if (db_running_branches(ctx->db, &out->running, err) != 0) {
        goto done;
    }
    for (i = 0; instance_id && i < out->running.n; i++)
        if (strcmp(out->running.v[i].id, instance_id) == 0)
            t = i;
    if (instance_id && t == (size_t)-1) { /* ended between the two reads */
        rc = grove_fail(err, GROVE_ECONFLICT,
                        "instance '%s' is terminated: only running instances are compared",
                        instance_id);
        goto done;
    }
    if (!(heads = calloc(out->running.n + 1, sizeof(*heads)))) {
        rc = grove_nomem(err);
        goto done;
    }
    for (i = 0; i < out->running.n; i++) {
        grove_err berr = GROVE_ERR_INIT;

        if (branch_gone(ctx, branches, nbranches, out->running.v[i].branch_name))
            berr.code = GROVE_ENOTFOUND;
        else if (gitops_branch_head(ctx->repo, out->running.v[i].branch_name, heads[i], &berr) == 0)
            continue;
        if (berr.code != GROVE_ENOTFOUND) {
            *err = berr;
            goto done;
        }
        heads[i][0] = '\0';
        if (skip(out, out->running.v[i].id, 1,
                 "not compared: its branch '%s' is gone; recreate it or terminate the instance",
                 out->running.v[i].branch_name, err) != 0)
            goto done;
    }
    if (gitops_conflicts_open(ctx->repo, &s, err) != 0)
        goto done;
    for (i = 0; i < out->running.n; i++)
        for (j = i + 1; j < out->running.n; j++) {
            if ((instance_id && i != t && j != t) || !heads[i][0] || !heads[j][0])
                continue;
            if (check_pair(s, out, i, j, heads[i], heads[j], err) != 0)
                goto done;
        }
    for (i = 0; i < out->running.n; i++) {
        if ((instance_id && i != t) || !heads[i][0])
            continue;
        if (check_base(ctx, s, out, i, heads[i], err) != 0)
            goto done;
    }
    rc = 0;
done:
    gitops_conflicts_close(s);
    gitops_branch_list_free(branches, nbranches);
    free(heads);
    db_instance_free(&target);
    return rc;
}

int conflicts_check(grove_ctx *ctx, const char *instance_id, conflicts_report *out, grove_err *err)
{
    return check(ctx, instance_id, 0, out, err);
}

int conflicts_summary(grove_ctx *ctx, const char *instance_id, conflicts_report *out,
                      grove_err *err)
{
    return check(ctx, instance_id, 1, out, err);
}
