/* resources: grove's MCP resources (see resources.h). */
#include "tools/resources.h"

#include <stdlib.h>
#include <string.h>

#include "db/queries.h"
#include "tools/core/context.h"
#include "tools/core/instance.h"
#include "tools/git/git.h"
#include "tools/tool_table.h"
#include "tools/wire.h"

#define PREFIX "grove://"

/* The most checkpoints grove://instances/{id}/checkpoints shows (the latest). */
#define CHECKPOINTS_MAX 1000

int resources_parse(const char *uri, const char **kind, char id[129])
{
    static const char *const subs[] = {"diff", "checkpoints", "output"};
    const char *p, *slash;
    size_t n, i;

    id[0] = '\0';
    if (!uri || strncmp(uri, PREFIX, sizeof(PREFIX) - 1) != 0)
        return -1;
    p = uri + sizeof(PREFIX) - 1;
    if (strcmp(p, "instances") == 0 || strcmp(p, "events") == 0) {
        *kind = strcmp(p, "events") == 0 ? "events" : "instances";
        return 0;
    }
    if (strncmp(p, "instances/", 10) != 0)
        return -1;
    p += 10;
    slash = strchr(p, '/');
    n = slash ? (size_t)(slash - p) : strlen(p);
    if (n == 0 || n > 128)
        return -1;
    for (i = 0; i < n; i++)
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
              (p[i] >= '0' && p[i] <= '9') || p[i] == '.' || p[i] == '_' || p[i] == '-'))
            return -1;
    memcpy(id, p, n);
    id[n] = '\0';
    if (!slash) {
        *kind = "instance";
        return 0;
    }
    for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
        if (strcmp(slash + 1, subs[i]) == 0) {
            *kind = subs[i];
            return 0;
        }
    return -1;
}

/* Runs handler with args (stolen) outside the registry: no event. *out: its result. */
static int run(grove_ctx *ctx, const char *tool,
               int (*handler)(tool_call *, const json_t *, json_t **, grove_err *), json_t *args,
               json_t **out, grove_err *err)
{
    tool_call call = {0};
    int rc;

    *out = NULL;
    if (!args)
        return grove_nomem(err);
    call.ctx = ctx;
    call.tool = tool;
    call.args = args;
    call.read_only = 1;
    call.t0 = grove_now_ms();
    rc = handler(&call, args, out, err);
    json_decref(args);
    return rc;
}

/* [{uri, mimeType, text}] */
static json_t *contents(const char *uri, const char *mime, const char *text)
{
    return json_pack("[{s:s, s:s, s:s}]", "uri", uri, "mimeType", mime, "text", text);
}

/* The contents of a JSON result: its compact text. Steals v. */
static json_t *json_contents(const char *uri, json_t *v)
{
    char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_t *c = text ? contents(uri, "application/json", text) : NULL;

    json_decref(v);
    free(text);
    return c;
}

static json_t *read_checkpoints(grove_ctx *ctx, const char *uri, const char *id, grove_err *err)
{
    grove_instance inst = {0};
    grove_checkpoint *v = NULL;
    json_t *arr;
    size_t n = 0, i;
    int rc = instance_load(ctx, id, &inst, err);

    db_instance_free(&inst);
    if (rc != 0 || db_checkpoint_list(ctx->db, id, CHECKPOINTS_MAX, &v, &n, err) != 0)
        return NULL;
    arr = json_array();
    for (i = 0; i < n; i++) {
        if (arr && json_array_append_new(arr, wire_checkpoint(&v[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
        db_checkpoint_free(&v[i]);
    }
    free(v);
    if (!arr) {
        grove_nomem(err);
        return NULL;
    }
    return json_contents(uri, json_pack("{s:o}", "checkpoints", arr));
}

static json_t *res_read(grove_ctx *ctx, const char *uri, grove_err *err)
{
    const char *kind;
    char id[129];
    json_t *out = NULL, *c = NULL;

    if (resources_parse(uri, &kind, id) != 0) {
        grove_fail(err, GROVE_ENOTFOUND, "resource not found: '%s' is no grove resource", uri);
        return NULL;
    }
    if (strcmp(kind, "checkpoints") == 0)
        return read_checkpoints(ctx, uri, id, err);
    if (strcmp(kind, "instances") == 0) {
        if (run(ctx, "query_instances", tool_query_instances,
                json_pack("{s:s, s:i}", "status", "running", "limit", 500), &out, err) == 0)
            c = json_contents(uri, out);
    } else if (strcmp(kind, "events") == 0) {
        if (run(ctx, "query_events", tool_query_events, json_pack("{s:i}", "limit", 100), &out,
                err) == 0)
            c = json_contents(uri, out);
    } else if (strcmp(kind, "instance") == 0) {
        if (run(ctx, "get_instance", tool_get_instance, json_pack("{s:s}", "instance_id", id), &out,
                err) == 0)
            c = json_contents(uri, out);
    } else if (strcmp(kind, "diff") == 0) {
        if (run(ctx, "get_diff", tool_get_diff, json_pack("{s:s}", "instance_id", id), &out, err) ==
            0) {
            c = contents(uri, "text/x-diff",
                         json_string_value(json_object_get(out, "patch"))
                             ? json_string_value(json_object_get(out, "patch"))
                             : "");
            json_decref(out);
        }
    } else if (run(ctx, "read_agent_output", tool_read_agent_output,
                   json_pack("{s:s}", "instance_id", id), &out, err) == 0) {
        c = contents(uri, "text/plain",
                     json_string_value(json_object_get(out, "text"))
                         ? json_string_value(json_object_get(out, "text"))
                         : "");
        json_decref(out);
    }
    if (!c && !err->msg[0])
        grove_nomem(err);
    return c;
}

static json_t *res_list(grove_ctx *ctx, grove_err *err)
{
    grove_instance_list running = {0};
    json_t *v =
        json_pack("[{s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}]", "uri", PREFIX "instances", "name",
                  "instances", "description", "The running instances", "mimeType",
                  "application/json", "uri", PREFIX "events", "name", "events", "description",
                  "The latest 100 tool calls and hook events", "mimeType", "application/json");
    size_t i;

    if (!v)
        return NULL;
    if (instance_reconcile_all(ctx, NULL, err) != 0 ||
        instance_list_all(ctx, "running", &running, err) != 0) {
        json_decref(v);
        return NULL;
    }
    for (i = 0; i < running.n; i++) {
        char uri[160], desc[200];
        const grove_instance *inst = &running.v[i];

        snprintf(uri, sizeof(uri), PREFIX "instances/%s", inst->id);
        snprintf(desc, sizeof(desc), "Instance %s: %s, agent %s", inst->id,
                 inst->branch_name ? inst->branch_name : "?",
                 inst->agent_state ? inst->agent_state : "none");
        if (json_array_append_new(v, json_pack("{s:s, s:s, s:s, s:s}", "uri", uri, "name", inst->id,
                                               "description", desc, "mimeType",
                                               "application/json")) != 0) {
            json_decref(v);
            v = NULL;
            grove_nomem(err);
            break;
        }
    }
    db_instance_list_free(&running);
    return v;
}

static json_t *res_templates(void)
{
    return json_pack(
        "[{s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s},"
        " {s:s, s:s, s:s, s:s}]",
        "uriTemplate", PREFIX "instances/{id}", "name", "instance", "description",
        "One instance as get_instance shows it: row, relationships, last checkpoint, git, "
        "conflicts",
        "mimeType", "application/json", "uriTemplate", PREFIX "instances/{id}/diff", "name", "diff",
        "description",
        "What the instance changed against the merge base with its base branch's current "
        "head, as a unified diff",
        "mimeType", "text/x-diff", "uriTemplate", PREFIX "instances/{id}/checkpoints", "name",
        "checkpoints", "description", "Every checkpoint of the instance, oldest first", "mimeType",
        "application/json", "uriTemplate", PREFIX "instances/{id}/output", "name", "output",
        "description", "What the instance's agent shows now (its last lines)", "mimeType",
        "text/plain");
}

/* The version of instance id: its row's print and its branch head. */
static char *instance_version(grove_ctx *ctx, const char *id, grove_err *err)
{
    grove_instance inst = {0};
    char *print = NULL, *v = NULL, head[41] = "";
    grove_err gerr = GROVE_ERR_INIT;

    if (db_instance_print(ctx->db, id, &print, err) != 0)
        return NULL;
    if (instance_load(ctx, id, &inst, err) == 0) {
        if (inst.branch_name && gitops_branch_head(ctx->repo, inst.branch_name, head, &gerr) != 0)
            snprintf(head, sizeof(head), "-");
        v = grove_asprintf("%s|%s", print, head);
        if (!v)
            grove_nomem(err);
    }
    db_instance_free(&inst);
    free(print);
    return v;
}

static char *res_version(grove_ctx *ctx, const char *uri, grove_err *err)
{
    const char *kind;
    char id[129], *v = NULL;

    if (resources_parse(uri, &kind, id) != 0) {
        grove_fail(err, GROVE_ENOTFOUND, "resource not found: '%s' is no grove resource", uri);
        return NULL;
    }
    if (strcmp(kind, "events") == 0) {
        if (db_last_event_print(ctx->db, &v, err) != 0)
            return NULL;
        return v;
    }
    if (strcmp(kind, "instances") == 0) {
        if (db_instance_print(ctx->db, NULL, &v, err) != 0)
            return NULL;
        return v;
    }
    return instance_version(ctx, id, err);
}

static char *res_list_version(grove_ctx *ctx, grove_err *err)
{
    char *v = NULL;

    return db_running_ids_print(ctx->db, &v, err) == 0 ? v : NULL;
}

/* Agents without hooks have the state tmux shows only when someone looks: look (one tmux call). */
static void res_refresh(grove_ctx *ctx)
{
    grove_err err = GROVE_ERR_INIT;

    if (instance_reconcile_all(ctx, NULL, &err) != 0)
        log_warn("resources: %s", err.msg);
}

/* The database's folder: every grove process's write to the database lands there. */
static char *res_change_dir(grove_ctx *ctx)
{
    char *dir = strdup(ctx->db_path), *slash = dir ? strrchr(dir, '/') : NULL;

    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    return dir;
}

static const mcp_resources TABLE = {res_list,         res_templates, res_read,      res_version,
                                    res_list_version, res_refresh,   res_change_dir};

const mcp_resources *resources_table(void)
{
    return &TABLE;
}
