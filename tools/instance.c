#include "tools/instance.h"

#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/queries.h"

/* Attempts at finding a free id when other processes take the same numbers. */
#define MAX_ID_ATTEMPTS 64

int issue_parse(const json_t *v, issue_ref *out, grove_err *err)
{
    const char *s;
    size_t i, n;

    memset(out, 0, sizeof(*out));
    if (!v || json_is_null(v))
        return 0;
    if (json_is_integer(v) || json_is_real(v)) {
        double d = json_number_value(v);

        if (d < 1 || d > 9007199254740991.0 || d != (double)(long long)d)
            return grove_fail(err, GROVE_EINVAL,
                              "invalid issue: a GitHub issue number must be a positive integer");
        out->number = (long long)d;
        return 0;
    }
    s = json_string_value(v);
    n = s ? json_string_length(v) : 0;
    if (!s || n == 0 || n > 64)
        return grove_fail(err, GROVE_EINVAL,
                          "invalid issue: expected a GitHub issue number or a "
                          "beads issue id of 1 to 64 characters");
    for (i = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
        ;
    if (i == n) {
        errno = 0;
        out->number = strtoll(s, NULL, 10);
        if (errno || out->number < 1 || out->number > 9007199254740991LL)
            return grove_fail(err, GROVE_EINVAL,
                              "invalid issue '%s': a GitHub issue number must "
                              "be a positive integer",
                              s);
        return 0;
    }
    if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') ||
          (s[0] >= '0' && s[0] <= '9')))
        goto bad;
    for (i = 1; i < n; i++) {
        char c = s[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            goto bad;
    }
    if (strcmp(s, "ready") == 0)
        return grove_fail(err, GROVE_EINVAL,
                          "issue 'ready' means the next ready beads issue, which needs grove's "
                          "database to live beside a beads database; pass an issue number or id");
    memcpy(out->beads, s, n + 1);
    return 0;
bad:
    return grove_fail(err, GROVE_EINVAL,
                      "invalid issue: a beads issue id is letters, digits, '.', '_' and '-', "
                      "starting with a letter or digit");
}

int instance_format_id(char *buf, size_t len, const char *type, const issue_ref *issue, int n)
{
    int w;

    if (issue && issue->number > 0)
        w = snprintf(buf, len, "%s-%lld-a%d", type, issue->number, n);
    else if (issue && issue->beads[0])
        w = snprintf(buf, len, "%s-%s-a%d", type, issue->beads, n);
    else
        w = snprintf(buf, len, "%s-a%d", type, n);
    return w < 0 || (size_t)w >= len ? -1 : 0;
}

const char *arg_str(const json_t *args, const char *key)
{
    return json_string_value(json_object_get(args, key));
}

int arg_bool(const json_t *args, const char *key, int dflt)
{
    const json_t *v = json_object_get(args, key);

    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

long long arg_int(const json_t *args, const char *key, long long dflt)
{
    const json_t *v = json_object_get(args, key);

    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_real(v))
        return (long long)json_real_value(v);
    return dflt;
}

const char *jstr(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

const char *instance_target(grove_ctx *ctx, const json_t *args, const char *key, grove_err *err)
{
    const char *id = arg_str(args, key);

    if (id)
        return id;
    if (ctx->caller_id)
        return ctx->caller_id;
    grove_fail(err, GROVE_EINVAL,
               "'%s' is needed: this grove server speaks for no instance (set "
               "GROVE_INSTANCE_ID or run it inside an instance's worktree)",
               key);
    return NULL;
}

int instance_load(grove_ctx *ctx, const char *id, json_t **out, grove_err *err)
{
    return db_instance_get(ctx->db, id, out, err);
}

int tool_not_implemented(const char *tool, int issue, grove_err *err)
{
    return grove_fail(err, GROVE_ENOTIMPL,
                      "tool '%s' is not implemented yet in this grove build (it lands with issue "
                      "#%d); nothing was changed",
                      tool, issue);
}

typedef struct stage_state {
    const tool_progress *p;
    double step;
} stage_state;

static void on_stage(void *arg, const char *stage)
{
    stage_state *st = arg;

    tool_progress_step(st->p, ++st->step, 4, stage);
}

int instance_create(grove_ctx *ctx, const instance_spec *spec, const tool_progress *p, json_t **out,
                    grove_err *err)
{
    char id[160], *branch = NULL, *path = NULL;
    stage_state st = {p, 1};
    db_new_instance row;
    int n = 0, attempt, rc = -1, made = 0;

    *out = NULL;
    tool_progress_step(p, 1, 4, "started");
    for (attempt = 0; attempt < MAX_ID_ATTEMPTS; attempt++) {
        int next;
        grove_err gerr = GROVE_ERR_INIT;

        if (db_instance_next_number(ctx->db, spec->type, spec->issue.number,
                                    spec->issue.beads[0] ? spec->issue.beads : NULL, &next,
                                    err) != 0)
            goto done;
        n = next > n ? next : n + 1;
        if (instance_format_id(id, sizeof(id), spec->type, &spec->issue, n) != 0) {
            grove_fail(err, GROVE_EINVAL, "instance id too long");
            goto done;
        }
        free(branch);
        free(path);
        branch = grove_asprintf("%s%s", ctx->branch_prefix, id);
        path = grove_asprintf("%s/%s", ctx->worktrees_base, id);
        if (!branch || !path) {
            grove_fail(err, GROVE_ENOMEM, "out of memory");
            goto done;
        }
        if (!gitops_branch_name_valid(branch)) {
            grove_fail(err, GROVE_EINVAL,
                       "branch name '%s' is not valid in git; choose another issue id or "
                       "branch.prefix",
                       branch);
            goto done;
        }
        if (gitops_worktree_create(ctx->repo, id, path, branch, spec->start_commit, on_stage, &st,
                                   &gerr) == 0) {
            made = 1;
            break;
        }
        if (gerr.code != GROVE_ECONFLICT) {
            *err = gerr;
            goto done;
        }
        /* Another process (or a leftover) holds this id's branch or folder: take the next n. */
        log_info("instance id '%s' is taken (%s); trying the next", id, gerr.msg);
    }
    if (!made) {
        grove_fail(err, GROVE_ECONFLICT, "no free instance id after %d attempts", MAX_ID_ATTEMPTS);
        goto done;
    }

    memset(&row, 0, sizeof(row));
    row.id = id;
    row.type = spec->type;
    row.agent_number = n;
    row.issue_number = spec->issue.number;
    row.beads_id = spec->issue.beads[0] ? spec->issue.beads : NULL;
    row.worktree_path = path;
    row.branch_name = branch;
    row.base_branch = spec->base_branch;
    row.base_commit = spec->base_commit;
    row.prompt = spec->prompt;
    row.parent_id = spec->parent_id;
    row.relationship_type = spec->relationship;
    if (db_instance_insert(ctx->db, &row, err) != 0)
        goto undo;
    {
        grove_err uerr = GROVE_ERR_INIT;

        if (gitops_worktree_unlock(ctx->repo, id, &uerr) != 0)
            log_warn("instance '%s': %s", id, uerr.msg);
    }
    if (db_instance_get(ctx->db, id, out, err) != 0)
        goto done;
    tool_progress_step(p, 4, 4, "done");
    rc = 0;
    goto done;
undo : {
    grove_err rerr = GROVE_ERR_INIT;

    if (gitops_worktree_remove(ctx->repo, id, branch, &rerr) != 0)
        log_error("could not remove the worktree of failed instance '%s': %s", id, rerr.msg);
}
done:
    free(branch);
    free(path);
    return rc;
}
