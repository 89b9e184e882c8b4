#include "tools/registry.h"
#include "tools/tool_table.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tools/base/embed.h"

extern const embedded_file grove_tool_specs[];
extern const size_t grove_tool_specs_count;

#define NTOOLS   GROVE_TOOL_COUNT
#define registry grove_tool_table

size_t tools_count(void)
{
    return NTOOLS;
}

const tool_def *tools_get(size_t i)
{
    return i < NTOOLS ? &registry[i] : NULL;
}

int tools_find(const char *name)
{
    size_t i;

    for (i = 0; name && i < NTOOLS; i++)
        if (strcmp(registry[i].name, name) == 0)
            return (int)i;
    return -1;
}

static const embedded_file *find_embedded(const char *file)
{
    size_t i;

    for (i = 0; i < grove_tool_specs_count; i++)
        if (strcmp(grove_tool_specs[i].name, file) == 0)
            return &grove_tool_specs[i];
    return NULL;
}

/* Adds to `names` (an object used as a set) every "#/$defs/X" that `v` references. */
static void collect_refs(const json_t *v, json_t *names)
{
    const char *key;
    json_t *child;
    size_t i;

    if (json_is_object(v)) {
        json_t *ref = json_object_get(v, "$ref");

        if (json_is_string(ref) && strncmp(json_string_value(ref), "#/$defs/", 8) == 0)
            json_object_set_new(names, json_string_value(ref) + 8, json_true());
        json_object_foreach((json_t *)v, key, child) collect_refs(child, names);
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, child) collect_refs(child, names);
    }
}

/* Copies into schema's "$defs" each shared definition it references, transitively. */
static int inject_defs(json_t *schema, const json_t *shared, grove_err *err)
{
    json_t *names = json_object(), *defs = json_object(), *v;
    const char *name;

    if (!names || !defs)
        goto oom;
    collect_refs(schema, names);
    do {
        json_object_foreach(names, name, v)
        {
            json_t *def = json_object_get(shared, name);

            if (!def) {
                grove_fail(err, GROVE_EINVAL, "schema references unknown definition '%s'", name);
                json_decref(names);
                json_decref(defs);
                return -1;
            }
            if (!json_object_get(defs, name))
                json_object_set_new(defs, name, json_deep_copy(def));
        }
        collect_refs(defs, names);
    } while (json_object_size(names) > json_object_size(defs));
    if (json_object_size(defs) > 0)
        json_object_set_new(schema, "$defs", defs);
    else
        json_decref(defs);
    json_decref(names);
    return 0;
oom:
    json_decref(names);
    json_decref(defs);
    return grove_nomem(err);
}

json_t *tools_spec_cached(size_t i, json_t **shared, grove_err *err)
{
    const embedded_file *file;
    json_t *spec = NULL, *defs;
    json_error_t jerr;
    char fname[128];

    if (i >= NTOOLS) {
        grove_fail(err, GROVE_EINVAL, "no tool %zu", i);
        return NULL;
    }
    snprintf(fname, sizeof(fname), "%s.json", registry[i].name);
    file = find_embedded(fname);
    if (!*shared) {
        const embedded_file *shared_file = find_embedded("_defs.json");

        if (shared_file)
            *shared = json_loadb(shared_file->data, shared_file->len, 0, &jerr);
        else
            snprintf(jerr.text, sizeof(jerr.text), "_defs.json not embedded");
        if (!*shared) {
            grove_fail(err, GROVE_EINVAL, "tool '%s': shared definitions: %s", registry[i].name,
                       jerr.text);
            return NULL;
        }
    }
    if (!file) {
        grove_fail(err, GROVE_EINVAL, "tool '%s': definition not embedded", registry[i].name);
        return NULL;
    }
    spec = json_loadb(file->data, file->len, 0, &jerr);
    if (!spec) {
        grove_fail(err, GROVE_EINVAL, "tool '%s': definition is not JSON: %s", registry[i].name,
                   jerr.text);
        return NULL;
    }
    json_object_del(spec, "x-grove-order"); /* grove's own: the place in tools/list */
    defs = json_object_get(*shared, "$defs");
    if (inject_defs(json_object_get(spec, "inputSchema"), defs, err) != 0 ||
        inject_defs(json_object_get(spec, "outputSchema"), defs, err) != 0) {
        json_decref(spec);
        return NULL;
    }
    return spec;
}

json_t *tools_spec(size_t i, grove_err *err)
{
    json_t *shared = NULL, *spec = tools_spec_cached(i, &shared, err);

    json_decref(shared);
    return spec;
}

int tools_call(grove_ctx *ctx, size_t i, const json_t *args, const grove_progress *p, json_t **out,
               grove_err *err)
{
    tool_call call;
    int rc;

    *out = NULL;
    memset(&call, 0, sizeof(call));
    call.ctx = ctx;
    call.progress = p;
    call.tool = registry[i].name;
    call.args = args;
    call.read_only = registry[i].read_only;
    call.t0 = grove_now_ms();
    /* A repository moved away while serving: say so, rather than some git or SQLite error
     * (once per group commit: its calls are one moment). */
    rc = ctx && ctx->group_open && ctx->group_repo_ok ? 0 : ctx_check_repo(ctx, err);
    if (rc == 0 && ctx && ctx->group_open)
        ctx->group_repo_ok = 1;
    if (rc == 0)
        rc = registry[i].handler(&call, args, out, err);
    if (rc == 0 && !*out)
        rc = grove_fail(err, GROVE_EINVAL, "tool '%s' returned no result", registry[i].name);
    if (rc != 0 && !err->msg[0])
        grove_fail(err, GROVE_EINVAL, "tool '%s' failed", registry[i].name);
    /* Recorded with the tool's own writes (tool_call_txn), unless it failed after them. */
    tool_call_record(&call, rc == 0, err->msg);
    return rc;
}

void tools_record_rejected(grove_ctx *ctx, size_t i, const json_t *args, const char *message)
{
    tool_call call;
    char buf[1100];

    if (!ctx)
        return;
    memset(&call, 0, sizeof(call));
    call.ctx = ctx;
    call.tool = registry[i].name;
    call.args = args;
    call.read_only = registry[i].read_only;
    call.t0 = grove_now_ms();
    snprintf(buf, sizeof(buf), "invalid arguments: %s", message);
    tool_call_record(&call, 0, buf);
}

static const char *tool_name(size_t i)
{
    return registry[i].name;
}

static const char instructions[] =
    "grove manages parallel coding-agent instances of this git repository, each in its own "
    "worktree and branch (grove/<instance id>).\n"
    "- spawn_work_instance starts work on an issue in a fresh worktree; fork_instance copies an "
    "instance's branch; spawn_review_instance starts a reviewer of a work branch.\n"
    "- log_checkpoint after each phase of your work and get_checkpoint when you resume: they "
    "survive restarts.\n"
    "- get_instance / query_instances / query_events show what every instance is doing.\n"
    "- get_diff shows what an instance changed against its base's current head; "
    "get_conflicts shows which instances are about to collide, before anyone merges.\n"
    "- sync_instance brings the base's new commits into your branch; land_instance puts "
    "finished work into the base branch (an agent may land only a head its reviewer "
    "approved with send_feedback type approved).\n"
    "- send_feedback reaches another instance's agent; create_pull_request pushes your branch "
    "and opens a PR; terminate_instance ends an instance (and removes its worktree only when "
    "that loses no work).";

/*
 * The tools whose pipelined calls may share one transaction (group commit,
 * mcp/batch.h): they do database work and quick reads only. Not the tools
 * that make worktrees, run git writes, tmux or the network (the spawns,
 * fork, resume, terminate, sync, land, create_pull_request), nor
 * send_feedback (it types into the receiver's tmux session), get_instance,
 * get_diff and get_conflicts (git status and merges: milliseconds),
 * query_instances (reconciles agents with tmux) or read_agent_output
 * (tmux): a group holds the database's write lock, and every other grove
 * process waits for it.
 */
int tools_batchable(size_t i)
{
    static const char *const batchable[] = {"log_checkpoint", "get_checkpoint", "query_events"};
    size_t k;

    for (k = 0; i < NTOOLS && k < sizeof(batchable) / sizeof(batchable[0]); k++)
        if (strcmp(registry[i].name, batchable[k]) == 0)
            return 1;
    return 0;
}

static int group_begin(grove_ctx *ctx, grove_err *err)
{
    int rc = db_group_begin(ctx->db, err);

    ctx->group_open = rc == 0;
    ctx->group_repo_ok = 0;
    return rc;
}

static void group_end(grove_ctx *ctx)
{
    ctx->group_open = 0;
    ctx->group_repo_ok = 0;
}

static int group_commit(grove_ctx *ctx, grove_err *err)
{
    group_end(ctx);
    return db_group_commit(ctx->db, err);
}

static int group_commit_nowait(grove_ctx *ctx, grove_err *err)
{
    group_end(ctx);
    return db_group_commit_nowait(ctx->db, err);
}

static int group_synced(grove_ctx *ctx, grove_err *err)
{
    return db_group_synced(ctx->db, err);
}

const mcp_tools *tools_table(void)
{
    static const mcp_tools table = {
        GROVE_TOOL_COUNT,
        tool_name,
        tools_spec_cached,
        tools_call,
        tools_record_rejected,
        instructions,
        {tools_batchable, group_begin, group_commit, group_commit_nowait, group_synced}};

    return &table;
}
