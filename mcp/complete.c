#include "mcp/complete.h"

#include <stdio.h>
#include <string.h>

#include "mcp/prompts.h"
#include "tools/core/complete.h"

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);

    return n >= t && strcmp(s + n - t, tail) == 0;
}

mcp_complete_source mcp_complete_source_of(const char *name)
{
    static const char *const branches[] = {"branch", "base_branch", "into", "target_branch"};
    size_t i;

    if (!name)
        return MCP_COMPLETE_NONE;
    if (strcmp(name, "id") == 0 || strcmp(name, "instance_id") == 0 ||
        ends_with(name, "_instance_id"))
        return MCP_COMPLETE_INSTANCES;
    if (strcmp(name, "agent") == 0 || strcmp(name, "profile") == 0)
        return MCP_COMPLETE_PROFILES;
    if (strcmp(name, "issues") == 0 || strcmp(name, "issue") == 0)
        return MCP_COMPLETE_ISSUES;
    for (i = 0; i < sizeof(branches) / sizeof(branches[0]); i++)
        if (strcmp(name, branches[i]) == 0)
            return MCP_COMPLETE_BRANCHES;
    return MCP_COMPLETE_NONE;
}

json_t *mcp_complete_result(const grove_name_list *list)
{
    json_t *values = json_array();
    size_t i, n = list->n < MCP_COMPLETE_MAX ? list->n : MCP_COMPLETE_MAX;
    size_t total = list->total > n ? list->total : n;

    for (i = 0; values && i < n; i++)
        if (json_array_append_new(values, json_string(list->v[i])) != 0) {
            json_decref(values);
            return NULL;
        }
    if (!values)
        return NULL;
    return json_pack("{s:{s:o, s:I, s:b}}", "completion", "values", values, "total",
                     (json_int_t)total, "hasMore", total > n);
}

/* A string member without NUL, or NULL. */
static const char *str_member(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
        return NULL;
    return json_string_value(v);
}

int mcp_complete_check(const json_t *params, mcp_complete_source *source, const char **value,
                       char *msg, size_t msglen)
{
    json_t *ref = json_object_get(params, "ref");
    json_t *arg = json_object_get(params, "argument");
    const char *type = str_member(ref, "type");
    const char *name = str_member(arg, "name");
    const mcp_prompt *p;

    *source = MCP_COMPLETE_NONE;
    *value = NULL;
    if (!json_is_object(ref) || !type) {
        snprintf(msg, msglen,
                 "\"ref\" must be an object with \"type\" \"ref/prompt\" or "
                 "\"ref/resource\"");
        return -1;
    }
    if (!json_is_object(arg) || !name || !str_member(arg, "value")) {
        snprintf(msg, msglen,
                 "\"argument\" must be an object with string \"name\" and "
                 "\"value\"");
        return -1;
    }
    if (strcmp(type, "ref/prompt") == 0) {
        const char *pname = str_member(ref, "name");

        if (!(p = mcp_prompt_find(pname))) {
            snprintf(msg, msglen,
                     "unknown prompt '%.200s'; prompts/list lists them: orchestrate, review, "
                     "land, resume",
                     pname ? pname : "");
            return -1;
        }
        if (!mcp_prompt_arg_find(p, name)) {
            snprintf(msg, msglen, "prompt '%s' has no argument '%.200s'", mcp_prompt_name(p), name);
            return -1;
        }
    } else if (strcmp(type, "ref/resource") == 0) {
        if (!str_member(ref, "uri")) {
            snprintf(msg, msglen, "\"ref\" of type \"ref/resource\" needs a string \"uri\"");
            return -1;
        }
    } else {
        snprintf(msg, msglen, "unknown ref type '%.100s' (\"ref/prompt\" or \"ref/resource\")",
                 type);
        return -1;
    }
    *source = mcp_complete_source_of(name);
    *value = str_member(arg, "value");
    return 0;
}

int mcp_complete_run(struct grove_ctx *ctx, mcp_complete_source source, const char *prefix,
                     json_t **out, grove_err *err)
{
    grove_name_list list = {0};
    int rc = 0;

    *out = NULL;
    if (ctx) {
        switch (source) {
        case MCP_COMPLETE_NONE:
            break;
        case MCP_COMPLETE_INSTANCES:
            rc = complete_instance_ids(ctx, prefix, MCP_COMPLETE_MAX, &list, err);
            break;
        case MCP_COMPLETE_PROFILES:
            rc = complete_profiles(ctx, prefix, MCP_COMPLETE_MAX, &list, err);
            break;
        case MCP_COMPLETE_BRANCHES:
            rc = complete_branches(ctx, prefix, MCP_COMPLETE_MAX, &list, err);
            break;
        case MCP_COMPLETE_ISSUES:
            rc = complete_issues(ctx, prefix, MCP_COMPLETE_MAX, &list, err);
            break;
        }
    }
    if (rc == 0 && !(*out = mcp_complete_result(&list)))
        rc = grove_nomem(err);
    db_name_list_free(&list);
    return rc;
}
