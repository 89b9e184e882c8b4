#include "tools/registry.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "db/queries.h"
#include "tools/base/embed.h"
#include "tools/core/context.h"

extern const embedded_file grove_tool_specs[];
extern const size_t grove_tool_specs_count;

/* The registry: every tool, in the order tools/list shows them. */
static const tool_def registry[] = {
    {"spawn_work_instance", tool_spawn_work_instance, 0},
    {"spawn_review_instance", tool_spawn_review_instance, 0},
    {"fork_instance", tool_fork_instance, 0},
    {"create_pull_request", tool_create_pull_request, 0},
    {"send_feedback", tool_send_feedback, 0},
    {"log_checkpoint", tool_log_checkpoint, 0},
    {"get_checkpoint", tool_get_checkpoint, 1},
    {"query_instances", tool_query_instances, 1},
    {"get_instance", tool_get_instance, 1},
    {"terminate_instance", tool_terminate_instance, 0},
    {"query_events", tool_query_events, 1},
};

#define NTOOLS (sizeof(registry) / sizeof(registry[0]))

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

void tool_progress_step(const tool_progress *p, double step, double total, const char *message)
{
    if (p && p->emit)
        p->emit(p->arg, step, total, message);
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
    return grove_fail(err, GROVE_ENOMEM, "out of memory");
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

/* 1 when an argument name suggests a credential. */
static int secret_key(const char *key)
{
    static const char *const words[] = {"token",  "secret",  "password",      "passwd",
                                        "apikey", "api_key", "authorization", "credential"};
    size_t i, k, n = strlen(key);

    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t w = strlen(words[i]);

        for (k = 0; k + w <= n; k++)
            if (strncasecmp(key + k, words[i], w) == 0)
                return 1;
    }
    return 0;
}

/* 1 when a string value looks like a GitHub token. */
static int secret_value(const char *s)
{
    static const char *const prefixes[] = {"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"};
    size_t i;

    for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if (strncmp(s, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    return 0;
}

/* Replaces credentials in a (deep-copied) argument tree, in place. */
static void redact(json_t *v)
{
    const char *key;
    json_t *child;
    size_t i;

    if (json_is_object(v)) {
        json_object_foreach(v, key, child)
        {
            if (secret_key(key) ||
                (json_is_string(child) && secret_value(json_string_value(child))))
                json_object_set_new(v, key, json_string("[redacted]"));
            else
                redact(child);
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, child)
        {
            if (json_is_string(child) && secret_value(json_string_value(child)))
                json_array_set_new(v, i, json_string("[redacted]"));
            else
                redact(child);
        }
    }
}

/* The call in progress (grove_ctx.call), for tools_txn(). */
struct tool_call {
    size_t tool;
    const json_t *args;
    double t0;    /* grove_now_ms() when it started */
    int recorded; /* its event was committed by tools_txn() */
};

/* The event row of a call; *meta (the arguments without credentials) is the caller's. */
static void event_init(grove_ctx *ctx, size_t i, const json_t *args, int success,
                       const char *message, double ms, db_new_event *ev, json_t **meta)
{
    *meta = args ? json_deep_copy(args) : json_object();
    redact(*meta);
    memset(ev, 0, sizeof(*ev));
    ev->instance_id = ctx->caller_id;
    ev->tool_name = registry[i].name;
    ev->success = success;
    ev->error_message = success ? NULL : message;
    ev->metadata = *meta;
    ev->duration_ms = ms;
    /* The event of a call that wrote nothing else is not worth an fsync of its own (README). */
    ev->relaxed = registry[i].read_only;
}

static void record(grove_ctx *ctx, size_t i, const json_t *args, int success, const char *message,
                   double ms)
{
    json_t *meta = NULL;
    db_new_event ev;
    grove_err err = GROVE_ERR_INIT;

    if (!ctx || !ctx->db)
        return;
    event_init(ctx, i, args, success, message, ms, &ev, &meta);
    if (db_event_insert(ctx->db, &ev, &err) != 0)
        log_warn("could not record the call of '%s': %s", registry[i].name, err.msg);
    json_decref(meta);
}

typedef struct txn_state {
    grove_ctx *ctx;
    db_txn_fn fn;
    void *arg;
    db_new_event ev; /* the call's event (success), when a call is in progress */
} txn_state;

/* db_txn body of tools_txn(): the tool's writes, then its event. */
static int txn_body(grove_db *db, void *arg, grove_err *err)
{
    txn_state *t = arg;
    int rc = t->fn(db, t->arg, err);

    if (rc != 0 || !t->ctx->call)
        return rc;
    t->ev.duration_ms = grove_now_ms() - t->ctx->call->t0;
    return db_event_insert(db, &t->ev, err) == 0 ? 0 : -1;
}

int tools_txn(grove_ctx *ctx, db_txn_fn fn, void *arg, grove_err *err)
{
    txn_state t;
    json_t *meta = NULL;
    int rc;

    memset(&t, 0, sizeof(t));
    t.ctx = ctx;
    t.fn = fn;
    t.arg = arg;
    if (ctx->call)
        event_init(ctx, ctx->call->tool, ctx->call->args, 1, NULL, 0, &t.ev, &meta);
    rc = db_txn(ctx->db, txn_body, &t, err);
    if (rc == 0 && ctx->call)
        ctx->call->recorded = 1;
    json_decref(meta);
    return rc;
}

int tools_call(grove_ctx *ctx, size_t i, const json_t *args, const tool_progress *p, json_t **out,
               grove_err *err)
{
    struct tool_call call;
    int rc;

    *out = NULL;
    call.tool = i;
    call.args = args;
    call.t0 = grove_now_ms();
    call.recorded = 0;
    /* A repository moved away while serving: say so, rather than some git or SQLite error. */
    rc = ctx_check_repo(ctx, err);
    if (rc == 0) {
        ctx->call = &call;
        rc = registry[i].handler(ctx, args, p, out, err);
        ctx->call = NULL;
    }
    if (rc == 0 && !*out)
        rc = grove_fail(err, GROVE_EINVAL, "tool '%s' returned no result", registry[i].name);
    if (rc != 0 && !err->msg[0])
        grove_fail(err, GROVE_EINVAL, "tool '%s' failed", registry[i].name);
    /* Recorded with the tool's own writes (tools_txn), unless it failed after them. */
    if (!call.recorded || rc != 0)
        record(ctx, i, args, rc == 0, err->msg, grove_now_ms() - call.t0);
    return rc;
}

void tools_record_rejected(grove_ctx *ctx, size_t i, const json_t *args, const char *message)
{
    char buf[1100];

    snprintf(buf, sizeof(buf), "invalid arguments: %s", message);
    record(ctx, i, args, 0, buf, 0.0);
}
