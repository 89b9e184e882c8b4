#include "mcp/server.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "tools/base/fswatch.h"
#include "tools/base/io.h"
#include "mcp/complete.h"
#include "mcp/jsonrpc.h"
#include "mcp/logging.h"
#include "mcp/prompts.h"
#include "mcp/schema.h"
#include "mcp/subs.h"
#include "tools/core/context.h"

#ifndef GROVE_VERSION
#define GROVE_VERSION "0.1.0"
#endif

#define TOOLS_CURSOR_PREFIX   "grove-tools-"
#define PROMPTS_CURSOR_PREFIX "grove-prompts-"

/* 2026-07-28: the _meta keys of a request and a notification, and its version error */
#define META_VERSION            "io.modelcontextprotocol/protocolVersion"
#define META_CAPS               "io.modelcontextprotocol/clientCapabilities"
#define META_INFO               "io.modelcontextprotocol/clientInfo"
#define META_LEVEL              "io.modelcontextprotocol/logLevel"
#define META_SUB_ID             "io.modelcontextprotocol/subscriptionId"
#define RPC_UNSUPPORTED_VERSION (-32022)

struct mcp_server {
    const mcp_tools *tools; /* borrowed */
    int out_fd;
    struct grove_ctx *ctx; /* borrowed */
    char *unavailable;     /* owned; why ctx is NULL */
    size_t page_size;
    mcp_version version; /* the process's (initialize); 2026-07-28 while serving such a request */
    size_t ntools;
    json_t **specs; /* owned: parsed definition of each tool, registry order; NULL until used */
    json_t *shared_defs;      /* owned: tools/_defs.json, parsed with the first definition */
    json_t *views[2];         /* owned: every tool as tools/list shows it, [0] before 2025-06-18 */
    signed char *in_ok;       /* owned, per tool: inputSchema 0 not checked yet, 1 usable, -1 not */
    schema_cache *patterns;   /* owned: the inputSchemas' compiled regexes (NULL: none kept) */
    mcp_ctx_open_fn open_ctx; /* makes ctx on the first tools/call; NULL once called */
    void *open_arg;
    int write_failed;
    size_t prompts_page_size;
    int log_level;                  /* the client's logging/setLevel, 0..7; -1 until it sends one */
    mcp_log_limiter limiter;        /* notifications/message per second */
    ctx_sink sink;                  /* what core reports through (ctx->sink points here) */
    const mcp_resources *resources; /* borrowed; NULL: none */
    mcp_subs legacy;   /* owned: resources/subscribe, and the list once the client listed it */
    mcp_subs *listens; /* owned: the open subscriptions/listen streams (2026-07-28) */
    size_t nlistens;
    int ask_roots;        /* mcp_options.ask_roots */
    int client_roots;     /* the client declared the roots capability */
    unsigned roots_asked; /* roots/list requests sent; the answer to the last one counts */
    char **roots;         /* owned, NULL-terminated: the client's roots as local paths */
    io_reader *reader;    /* borrowed from mcp_serve(): what a call in progress peeks at */
    int in_fd;
    json_t *current_id; /* borrowed: the id of the tools/call in progress, NULL between calls */
    int change_fd;      /* owned: inotify on resources->change_dir; -1: none (yet) */
    int change_tried;   /* 1 once making change_fd was attempted */
    int cancel_wait_ms; /* mcp_options.cancel_wait_ms */
    mcp_batch batch;    /* group commit of pipelined calls (batch.h) */
    /* borrowed, set by tool_ok_result(), taken by the next send_msg(): a result's
       structuredContent and the text block (a JSON string) holding its compact serialisation */
    const json_t *ok_structured;
    const json_t *ok_text;
};

static const char *const version_names[] = {NULL,         "2024-11-05", "2025-03-26",
                                            "2025-06-18", "2025-11-25", "2026-07-28"};

const char *mcp_version_str(mcp_version v)
{
    return version_names[v];
}

mcp_version mcp_negotiate(const char *requested)
{
    int v;

    for (v = MCP_V_2024_11_05; v <= MCP_V_2025_11_25; v++)
        if (requested && strcmp(requested, version_names[v]) == 0)
            return (mcp_version)v;
    return MCP_V_2025_11_25;
}

mcp_version mcp_server_version(const mcp_server *s)
{
    return s->version;
}

/*
 * Tool i's definition, parsed on first use. The definitions are checked by
 * tests/unit/test_registry.c, not at every start; NULL with err filled when
 * the embedded data is broken (a build defect).
 */
static const json_t *spec_of(mcp_server *s, size_t i, grove_err *err)
{
    if (!s->specs[i])
        s->specs[i] = s->tools->spec(i, &s->shared_defs, err);
    return s->specs[i];
}

/* Index of the tool called `name`, or -1. */
static int find_tool(const mcp_server *s, const char *name)
{
    size_t i;

    for (i = 0; i < s->ntools; i++)
        if (strcmp(s->tools->name(i), name) == 0)
            return (int)i;
    return -1;
}

static void report_event(void *arg, ctx_level level, const char *event, const char *instance_id,
                         const char *message);

int mcp_server_new(mcp_server **out, const mcp_options *opts, grove_err *err)
{
    mcp_server *s;

    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return grove_nomem(err);
    s->tools = opts->tools;
    s->out_fd = opts->out_fd;
    s->ctx = opts->ctx;
    s->open_ctx = opts->ctx ? NULL : opts->open_ctx;
    s->open_arg = opts->open_arg;
    s->unavailable = strdup(opts->unavailable ? opts->unavailable
                                              : "grove has no repository open: start it inside a "
                                                "git repository or pass --repo");
    if (!s->unavailable) {
        free(s);
        return grove_nomem(err);
    }
    s->ntools = opts->tools->count;
    s->page_size = opts->tools_page_size ? opts->tools_page_size : s->ntools;
    s->prompts_page_size = opts->prompts_page_size ? opts->prompts_page_size : mcp_prompt_count();
    s->log_level = -1;
    s->resources = opts->resources;
    s->ask_roots = opts->ask_roots;
    s->cancel_wait_ms = opts->cancel_wait_ms;
    s->in_fd = -1;
    s->change_fd = -1;
    s->sink.report = report_event;
    s->sink.arg = s;
    s->specs = calloc(s->ntools ? s->ntools : 1, sizeof(*s->specs));
    s->in_ok = calloc(s->ntools ? s->ntools : 1, sizeof(*s->in_ok));
    s->patterns = schema_cache_new();
    if (!s->specs || !s->in_ok) {
        mcp_server_free(s);
        return grove_nomem(err);
    }
    if (s->ctx && !s->ctx->sink)
        s->ctx->sink = &s->sink;
    *out = s;
    return 0;
}

static void free_roots(char **roots)
{
    size_t i;

    for (i = 0; roots && roots[i]; i++)
        free(roots[i]);
    free(roots);
}

void mcp_server_free(mcp_server *s)
{
    size_t i;

    if (!s)
        return;
    if (s->ctx && s->ctx->sink == &s->sink)
        s->ctx->sink = NULL; /* the context outlives the server */
    for (i = 0; s->specs && i < s->ntools; i++)
        json_decref(s->specs[i]);
    json_decref(s->shared_defs);
    json_decref(s->views[0]);
    json_decref(s->views[1]);
    free(s->specs);
    free(s->in_ok);
    schema_cache_free(s->patterns);
    free(s->unavailable);
    mcp_subs_clear(&s->legacy);
    for (i = 0; i < s->nlistens; i++)
        mcp_subs_clear(&s->listens[i]);
    free(s->listens);
    free_roots(s->roots);
    if (s->change_fd >= 0)
        close(s->change_fd);
    mcp_batch_free(&s->batch);
    free(s);
}

/* Writes `len` bytes (messages, each with its newline); -1 once writing to the client failed. */
static int write_raw(mcp_server *s, const char *line, size_t len)
{
    if (!s->write_failed && io_write_all(s->out_fd, line, len) != 0) {
        s->write_failed = 1;
        log_warn("cannot write to the client: %s", strerror(errno));
    }
    return s->write_failed ? -1 : 0;
}

/*
 * Writes the messages of a group committed without waiting for its fsync
 * (batch_after()), once that fsync is done: before anything else is
 * written, and before the server waits for input.
 */
static int flush_pending(mcp_server *s)
{
    const char *out;
    size_t n;

    mcp_batch_take_pending(&s->batch, &s->tools->group, &out, &n);
    return n > 0 ? write_raw(s, out, n) : (s->write_failed ? -1 : 0);
}

/* Writes `len` bytes (one message and its newline) after what is pending. */
static int write_line(mcp_server *s, const char *line, size_t len)
{
    flush_pending(s);
    return write_raw(s, line, len);
}

static int batch_flush(mcp_server *s);

/* 1 when `key` is the last member of object o (jansson keeps the insertion order). */
static int is_last_key(json_t *o, const char *key)
{
    void *it = json_object_iter(o), *next;

    if (!it)
        return 0;
    while ((next = json_object_iter_next(o, it)) != NULL)
        it = next;
    return strcmp(json_object_iter_key(it), key) == 0;
}

#define STRUCTURED_MEMBER ",\"structuredContent\":"

/*
 * The compact line of msg (malloc'd, *len bytes, NUL-terminated) when it is a
 * tool's success response whose structuredContent tool_ok_result() serialised
 * already into the text block: msg is serialised by jansson without it, and the
 * text block's string (that same compact serialisation, jansson's output) goes
 * in as its value, instead of serialising the result's content a second time.
 * Output is byte-for-byte what json_dumps(msg, JSON_COMPACT) makes: the member
 * is the last of "result", itself the last of msg (checked; else NULL and the
 * caller serialises the whole). NULL also when out of memory.
 */
static char *dump_reusing_text(mcp_server *s, json_t *msg, size_t *len)
{
    json_t *result = json_object_get(msg, "result");
    json_t *sc = json_object_get(result, "structuredContent");
    json_t *text = json_object_get(json_array_get(json_object_get(result, "content"), 0), "text");
    int noted = sc && sc == s->ok_structured && text == s->ok_text; /* compared, never read */
    char *head, *line;
    size_t hlen, tlen, mlen = sizeof(STRUCTURED_MEMBER) - 1;

    s->ok_structured = s->ok_text = NULL;
    if (!noted || !json_is_string(text) || !is_last_key(msg, "result") ||
        !is_last_key(result, "structuredContent"))
        return NULL;
    json_incref(sc);
    head = json_object_del(result, "structuredContent") == 0 ? json_dumps(msg, JSON_COMPACT) : NULL;
    /* put back (if that fails, msg, still read for its id and isError, lacks only what the line
       carries) */
    json_object_set_new(result, "structuredContent", sc);
    if (!head)
        return NULL;
    /* head is {...,"result":{...}}: the member goes before its last two bytes */
    hlen = strlen(head);
    tlen = json_string_length(text);
    if (hlen < 4 || strcmp(head + hlen - 2, "}}") != 0 ||
        !(line = malloc(hlen + mlen + tlen + 1))) {
        free(head);
        return NULL;
    }
    if (head[hlen - 3] == '{') /* a result with no other member: no comma */
        mlen--;
    memcpy(line, head, hlen - 2);
    memcpy(line + hlen - 2, &STRUCTURED_MEMBER[sizeof(STRUCTURED_MEMBER) - 1 - mlen], mlen);
    memcpy(line + hlen - 2 + mlen, json_string_value(text), tlen);
    memcpy(line + hlen - 2 + mlen + tlen, "}}", 3);
    *len = hlen + mlen + tlen;
    free(head);
    return line;
}

/* Writes one message as a line (held back while a group commit is open). Steals msg. */
static int send_msg(mcp_server *s, json_t *msg)
{
    char *text; /* owned: freed below */
    size_t len = 0;
    int rc;

    if (!msg) {
        s->ok_structured = s->ok_text = NULL;
        log_error("could not build a response (out of memory?)");
        return 0;
    }
    text = dump_reusing_text(s, msg, &len);
    if (!text && (text = json_dumps(msg, JSON_COMPACT)) != NULL)
        len = strlen(text);
    if (!text) {
        json_decref(msg);
        log_error("could not serialise a response");
        return 0;
    }
    text[len] = '\n'; /* the NUL becomes the newline; write len + 1 bytes */
    if (mcp_batch_is_open(&s->batch) && mcp_batch_hold(&s->batch, text, len + 1, msg) != 0)
        batch_flush(s); /* out of memory: commit what is held, then write this one */
    rc = mcp_batch_is_open(&s->batch) ? (s->write_failed ? -1 : 0) : write_line(s, text, len + 1);
    json_decref(msg);
    free(text);
    return rc;
}

/* An error response whose message may carry arbitrary text (made JSON-safe here). */
static json_t *error_msg(json_t *id, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static json_t *error_msg(json_t *id, int code, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    grove_utf8_sanitize(msg);
    return rpc_error(id, code, msg, NULL);
}

/* The 2026-07-28 cache fields of a list or read result (no-op before that version). */
static json_t *cacheable(const mcp_server *s, json_t *result, long ttl_ms, const char *scope)
{
    if (result && s->version >= MCP_V_2026_07_28) {
        json_object_set_new(result, "ttlMs", json_integer(ttl_ms));
        json_object_set_new(result, "cacheScope", json_string(scope));
    }
    return result;
}

/* How long what never changes in one binary (tools, prompts, templates) may be cached (ms). */
#define MCP_STATIC_TTL_MS 3600000L

/* ---- initialize, server/discover ------------------------------------------ */

/* {name, version[, title]}: who answers (new reference). */
static json_t *server_info(mcp_version v)
{
    json_t *info = json_pack("{s:s, s:s}", "name", "grove", "version", GROVE_VERSION);

    if (info && v >= MCP_V_2025_06_18)
        json_object_set_new(info, "title", json_string("grove"));
    return info;
}

/* What the server can do, as version v describes it (new reference). */
static json_t *capabilities(const mcp_server *s, mcp_version v)
{
    json_t *caps = json_pack("{s:{s:b}, s:{s:b}, s:{}}", "tools", "listChanged", 0, "prompts",
                             "listChanged", 0, "logging");

    /* completions is a capability from 2025-03-26 on (completion/complete is served in all) */
    if (caps && v >= MCP_V_2025_03_26)
        json_object_set_new(caps, "completions", json_object());
    if (caps && s->resources)
        json_object_set_new(caps, "resources",
                            json_pack("{s:b, s:b}", "subscribe", 1, "listChanged", 1));
    return caps;
}

/* Every version grove speaks, newest first: what discover and -32022 list. */
static json_t *supported_versions(void)
{
    json_t *a = json_array();
    int v;

    for (v = MCP_V_2026_07_28; a && v >= MCP_V_2024_11_05; v--)
        json_array_append_new(a, json_string(version_names[v]));
    return a;
}

/* server/discover (2026-07-28): versions, capabilities and instructions; opens nothing. */
static json_t *do_discover(mcp_server *s, json_t *id)
{
    json_t *result =
        json_pack("{s:o, s:o, s:s}", "supportedVersions", supported_versions(), "capabilities",
                  capabilities(s, MCP_V_2026_07_28), "instructions", s->tools->instructions);

    if (!result)
        return rpc_error(id, RPC_INTERNAL_ERROR, "internal error: out of memory", NULL);
    return rpc_result(id, cacheable(s, result, MCP_STATIC_TTL_MS, "public"));
}

static json_t *do_initialize(mcp_server *s, json_t *id, json_t *params)
{
    json_t *pv = json_object_get(params, "protocolVersion");
    json_t *caps = json_object_get(params, "capabilities");
    json_t *info = json_object_get(params, "clientInfo");
    json_t *result;
    mcp_version v;

    if (s->version != MCP_V_NONE)
        return rpc_error(id, RPC_INVALID_REQUEST, "invalid request: already initialized", NULL);
    if (!json_is_object(params) || !json_is_string(pv))
        return rpc_error(id, RPC_INVALID_PARAMS,
                         "invalid params: \"protocolVersion\" must be a string", NULL);
    s->client_roots = json_is_object(json_object_get(caps, "roots"));
    if ((caps && !json_is_object(caps)) || (info && !json_is_object(info)))
        return rpc_error(id, RPC_INVALID_PARAMS,
                         "invalid params: \"capabilities\" and \"clientInfo\" must be objects",
                         NULL);
    /* A version with a NUL in it is none of ours (strcmp would stop at the NUL). */
    v = mcp_negotiate(
        strlen(json_string_value(pv)) == json_string_length(pv) ? json_string_value(pv) : NULL);
    result = json_pack("{s:s, s:o, s:o, s:s}", "protocolVersion", mcp_version_str(v),
                       "capabilities", capabilities(s, v), "serverInfo", server_info(v),
                       "instructions", s->tools->instructions);
    if (!result)
        return rpc_error(id, RPC_INTERNAL_ERROR, "internal error: out of memory", NULL);
    s->version = v;
    return rpc_result(id, result);
}

/* ---- tools/list ----------------------------------------------------------- */

/*
 * Every tool as this protocol version shows it (borrowed), made on first
 * use; NULL with err filled when a definition is broken or out of memory.
 */
static json_t *tool_views(mcp_server *s, grove_err *err)
{
    int modern = s->version >= MCP_V_2025_06_18;
    json_t *views;
    size_t i;

    if (s->views[modern])
        return s->views[modern];
    if (!(views = json_array())) {
        grove_nomem(err);
        return NULL;
    }
    for (i = 0; i < s->ntools; i++) {
        const json_t *spec = spec_of(s, i, err);
        json_t *t = spec ? json_copy((json_t *)spec) : NULL; /* shallow: shares the schemas */

        if (t && !modern) {
            json_object_del(t, "title");
            json_object_del(t, "outputSchema");
        }
        if (!t || json_array_append_new(views, t) != 0) {
            if (spec)
                grove_nomem(err);
            json_decref(views);
            return NULL;
        }
    }
    s->views[modern] = views;
    return views;
}

/*
 * The first item of the page a list request's `cursor` asks for: 0 without
 * one, else the offset of a cursor `prefix`N this server made (0 < N <
 * count). -1 for any other cursor.
 */
static int cursor_start(const json_t *cursor, const char *prefix, size_t count, size_t *start)
{
    const char *c = json_string_value(cursor);
    char *endp = NULL;
    unsigned long long off;

    *start = 0;
    if (!cursor || json_is_null(cursor))
        return 0;
    if (!c || strlen(c) != json_string_length(cursor) || strncmp(c, prefix, strlen(prefix)) != 0)
        return -1;
    c += strlen(prefix);
    errno = 0;
    off = strtoull(c, &endp, 10);
    if (!*c || *endp || errno || off == 0 || off >= count || c[0] < '0' || c[0] > '9')
        return -1;
    *start = (size_t)off;
    return 0;
}

static json_t *do_tools_list(mcp_server *s, json_t *id, json_t *params)
{
    json_t *cursor = json_object_get(params, "cursor");
    json_t *tools, *result, *views;
    grove_err err = GROVE_ERR_INIT;
    size_t start = 0, end, i;

    if (cursor_start(cursor, TOOLS_CURSOR_PREFIX, s->ntools, &start) != 0)
        return rpc_error(id, RPC_INVALID_PARAMS, "invalid params: invalid cursor", NULL);
    end = start + s->page_size < s->ntools ? start + s->page_size : s->ntools;
    if (!(views = tool_views(s, &err))) {
        log_error("tools/list: %s", err.msg);
        return error_msg(id, RPC_INTERNAL_ERROR, "internal error: %s", err.msg);
    }
    tools = json_array();
    for (i = start; i < end; i++)
        json_array_append(tools, json_array_get(views, i));
    result = json_pack("{s:o}", "tools", tools);
    if (result && end < s->ntools) {
        char next[64];

        snprintf(next, sizeof(next), TOOLS_CURSOR_PREFIX "%zu", end);
        json_object_set_new(result, "nextCursor", json_string(next));
    }
    return rpc_result(id, cacheable(s, result, MCP_STATIC_TTL_MS, "public"));
}

/* ---- tools/call ----------------------------------------------------------- */

typedef struct progress_state {
    mcp_server *s;
    json_t *token; /* borrowed from the request */
    double last;
    int sent;
} progress_state;

static void emit_progress(void *arg, double step, double total, const char *message)
{
    progress_state *ps = arg;
    json_t *params;

    if (!ps->token)
        return; /* the client asked for no progress */
    if (ps->sent && step <= ps->last)
        return; /* progress must strictly increase */
    ps->sent = 1;
    ps->last = step;
    params = json_pack("{s:O, s:f}", "progressToken", ps->token, "progress", step);
    if (!params)
        return;
    if (total > 0)
        json_object_set_new(params, "total", json_real(total));
    if (message && ps->s->version >= MCP_V_2025_03_26)
        json_object_set_new(params, "message", json_string(message));
    send_msg(ps->s, rpc_notification("notifications/progress", params));
}

/* A tool result that is an error the model can read and act on. */
static json_t *tool_error_result(const char *message)
{
    char buf[1200];

    snprintf(buf, sizeof(buf), "%s", message);
    grove_utf8_sanitize(buf);
    return json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text", buf, "isError", 1);
}

/* Also notes, for send_msg() (dump_reusing_text()), that the text block holds structured's
 * compact serialisation. */
static json_t *tool_ok_result(mcp_server *s, json_t *structured)
{
    char *text = json_dumps(structured, JSON_COMPACT);
    json_t *r;

    if (!text) {
        json_decref(structured);
        return NULL;
    }
    r = json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text", text, "isError", 0);
    free(text);
    if (r && s->version >= MCP_V_2025_06_18) {
        /* json_object_set_new() takes structured, also when it fails */
        if (json_object_set_new(r, "structuredContent", structured) == 0) {
            s->ok_structured = structured;
            s->ok_text = json_object_get(json_array_get(json_object_get(r, "content"), 0), "text");
        }
    } else {
        json_decref(structured);
    }
    return r;
}

/*
 * Whether a string anywhere in `v` (tool arguments) holds a NUL character. Handlers take C
 * strings, which would silently end at it ("main\u0000x" read as "main"). When found, `at`
 * (size bytes) holds its JSON pointer, cut short if need be; `len` is how much of `at` is the
 * pointer to `v`. Nesting is bounded by RPC_MAX_DEPTH.
 */
static int find_nul(const json_t *v, char *at, size_t size, size_t len)
{
    const char *key, *k;
    json_t *child;
    size_t i, n;

    at[len] = '\0';
    if (json_is_string(v))
        return strlen(json_string_value(v)) != json_string_length(v);
    if (json_is_array(v)) {
        json_array_foreach(v, i, child)
        {
            snprintf(at + len, size - len, "/%zu", i);
            if (find_nul(child, at, size, strlen(at)))
                return 1;
        }
    } else if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, child)
        {
            /* RFC 6901: '~' as "~0", '/' as "~1"; keys never hold a NUL (jansson refuses). */
            n = len;
            if (n + 1 < size)
                at[n++] = '/';
            for (k = key; *k && n + 3 < size; k++) {
                if (*k == '~' || *k == '/') {
                    at[n++] = '~';
                    at[n++] = *k == '~' ? '0' : '1';
                } else {
                    at[n++] = *k;
                }
            }
            if (*k) { /* cut short: not inside a UTF-8 sequence */
                while (n > len && ((unsigned char)at[n - 1] & 0xC0) == 0x80)
                    n--;
                if (n > len && (unsigned char)at[n - 1] >= 0xC0)
                    n--;
            }
            at[n] = '\0';
            if (find_nul(child, at, size, n))
                return 1;
        }
    }
    at[len] = '\0';
    return 0;
}

/*
 * schema_validate() of tool i's arguments. The schema is checked once, on
 * the tool's first call; after that only the arguments are validated, with
 * the pattern regexes compiled once.
 */
static int validate_args(mcp_server *s, size_t i, const json_t *in, const json_t *args, char *msg,
                         size_t msglen)
{
    if (s->in_ok[i] == 0)
        s->in_ok[i] = schema_check(in, msg, msglen) == 0 ? 1 : -1;
    if (s->in_ok[i] < 0) /* unusable: schema_validate() says why, every time */
        return schema_validate(in, in, args, msg, msglen);
    return schema_validate_checked(s->patterns, in, in, args, msg, msglen);
}

/* Makes the context on the first tools/call (one attempt; its failure is every call's answer). */
static void open_context(mcp_server *s)
{
    mcp_ctx_open_fn open = s->open_ctx;
    grove_err err = GROVE_ERR_INIT;
    char *why;

    if (!open)
        return;
    s->open_ctx = NULL;
    s->ctx = open(s->open_arg, (const char *const *)s->roots, &err);
    if (s->ctx) {
        if (!s->ctx->sink)
            s->ctx->sink = &s->sink;
        return;
    }
    log_error("%s", err.msg);
    why = strdup(err.msg[0] ? err.msg : "grove could not open its repository and database");
    if (why) {
        free(s->unavailable);
        s->unavailable = why;
    }
}

/* 1 when the buffered input holds notifications/cancelled for the call in progress. */
static int buffered_cancel(mcp_server *s)
{
    const char *data, *p, *nl;
    size_t n = io_reader_peek(s->reader, &data);

    for (p = data; (nl = memchr(p, '\n', n - (size_t)(p - data))) != NULL; p = nl + 1) {
        json_t *m, *params;
        int hit;

        if (!memmem(p, (size_t)(nl - p), "notifications/cancelled", 23))
            continue;
        if (!(m = json_loadb(p, (size_t)(nl - p), JSON_REJECT_DUPLICATES, NULL)))
            continue;
        params = json_object_get(m, "params");
        hit = json_is_string(json_object_get(m, "method")) &&
              strcmp(json_string_value(json_object_get(m, "method")), "notifications/cancelled") ==
                  0 &&
              !json_object_get(m, "id") &&
              json_equal(json_object_get(params, "requestId"), s->current_id);
        json_decref(m);
        if (hit)
            return 1;
    }
    return 0;
}

/*
 * grove_progress.cancelled for a tools/call: reads what the client has sent
 * meanwhile (without taking it: the serve loop still handles every line) and
 * looks for its cancellation. Waits up to cancel_wait_ms for it (tests).
 */
static int check_cancel(void *arg)
{
    progress_state *ps = arg;
    mcp_server *s = ps->s;
    double until = grove_now_ms() + s->cancel_wait_ms;
    int reads;

    if (!s->reader || !s->current_id)
        return 0;
    for (reads = 0; reads < 256; reads++) {
        struct pollfd pf;
        double left;

        if (buffered_cancel(s))
            return 1;
        pf.fd = s->in_fd;
        pf.events = POLLIN;
        pf.revents = 0;
        left = until - grove_now_ms();
        if (poll(&pf, 1, left > 0 ? (int)left + 1 : 0) <= 0 || !(pf.revents & (POLLIN | POLLHUP)) ||
            io_reader_fill(s->reader) <= 0)
            return 0;
    }
    return 0;
}

/* The response to a tools/call. */
static json_t *do_tools_call(mcp_server *s, json_t *id, json_t *params)
{
    json_t *name = json_object_get(params, "name");
    json_t *args = json_object_get(params, "arguments");
    json_t *meta = json_object_get(params, "_meta");
    json_t *token = json_object_get(meta, "progressToken");
    json_t *empty = NULL, *out = NULL, *result;
    const json_t *spec;
    progress_state ps;
    grove_progress prog = {0};
    grove_err err = GROVE_ERR_INIT;
    char msg[1024];
    int idx, valid;

    if (!json_is_object(params))
        return rpc_error(id, RPC_INVALID_PARAMS, "invalid params: expected an object", NULL);
    if (!json_is_string(name))
        return rpc_error(id, RPC_INVALID_PARAMS, "invalid params: \"name\" must be a string", NULL);
    /* A name with a NUL in it names no tool (find_tool() would stop at the NUL). */
    idx = strlen(json_string_value(name)) == json_string_length(name)
              ? find_tool(s, json_string_value(name))
              : -1;
    if (idx < 0)
        return error_msg(id, RPC_INVALID_PARAMS, "unknown tool '%s'", json_string_value(name));
    if (!(spec = spec_of(s, (size_t)idx, &err))) {
        log_error("tools/call: %s", err.msg);
        return error_msg(id, RPC_INTERNAL_ERROR, "internal error: %s", err.msg);
    }
    open_context(s);
    if (!args || json_is_null(args))
        args = empty = json_object();
    /* Not the tool's arguments at all: a malformed request, in every version (§8). */
    if (!json_is_object(args)) {
        s->tools->rejected(s->ctx, (size_t)idx, NULL, "\"arguments\" must be an object");
        return error_msg(id, RPC_INVALID_PARAMS,
                         "invalid arguments for tool '%s': (root): \"arguments\" must be an "
                         "object",
                         s->tools->name((size_t)idx));
    }
    if (find_nul(args, msg, sizeof(msg) - 80, 0)) {
        size_t len = strlen(msg);

        snprintf(msg + len, sizeof(msg) - len,
                 ": contains a NUL character (\\u0000), which grove's tools cannot take");
        valid = 0;
    } else {
        valid = validate_args(s, (size_t)idx, json_object_get(spec, "inputSchema"), args, msg,
                              sizeof(msg));
    }
    if (valid != 1) {
        json_t *r;

        if (valid < 0)
            log_error("tool '%s': inputSchema unusable: %s", s->tools->name((size_t)idx), msg);
        s->tools->rejected(s->ctx, (size_t)idx, json_is_object(args) ? args : NULL, msg);
        if (s->version >= MCP_V_2025_11_25) {
            char text[1200];

            snprintf(text, sizeof(text), "invalid arguments for tool '%s': %s",
                     s->tools->name((size_t)idx), msg);
            r = rpc_result(id, tool_error_result(text));
        } else {
            r = error_msg(id, RPC_INVALID_PARAMS, "invalid arguments for tool '%s': %s",
                          s->tools->name((size_t)idx), msg);
        }
        json_decref(empty);
        return r;
    }
    memset(&ps, 0, sizeof(ps));
    ps.s = s;
    ps.token = (json_is_string(token) || json_is_number(token)) ? token : NULL;
    prog.emit = emit_progress;
    prog.cancelled = check_cancel;
    prog.arg = &ps;
    s->current_id = id;
    if (!s->ctx) {
        result = tool_error_result(s->unavailable);
    } else if (s->tools->call(s->ctx, (size_t)idx, args, &prog, &out, &err) == 0 && out) {
        result = tool_ok_result(s, out);
    } else if (err.code == GROVE_ECANCELED) {
        /* cancelled, and undone: no response (MCP: the receiver of a cancellation sends none) */
        s->current_id = NULL;
        json_decref(out);
        json_decref(empty);
        return NULL;
    } else {
        json_decref(out);
        result = tool_error_result(err.msg[0] ? err.msg : "the tool failed without a message");
    }
    s->current_id = NULL;
    json_decref(empty);
    if (!result)
        return rpc_error(id, RPC_INTERNAL_ERROR, "internal error: out of memory", NULL);
    return rpc_result(id, result);
}

/* ---- prompts ---------------------------------------------------------------- */

static json_t *do_prompts_list(mcp_server *s, json_t *id, json_t *params)
{
    size_t count = mcp_prompt_count(), start, end, i;
    json_t *prompts = json_array(), *result;

    if (cursor_start(json_object_get(params, "cursor"), PROMPTS_CURSOR_PREFIX, count, &start) !=
        0) {
        json_decref(prompts);
        return rpc_error(id, RPC_INVALID_PARAMS, "invalid params: invalid cursor", NULL);
    }
    end = start + s->prompts_page_size < count ? start + s->prompts_page_size : count;
    for (i = start; prompts && i < end; i++)
        if (json_array_append_new(
                prompts, mcp_prompt_describe(mcp_prompt_at(i), s->version >= MCP_V_2025_06_18)) !=
            0) {
            json_decref(prompts);
            prompts = NULL;
        }
    result = prompts ? json_pack("{s:o}", "prompts", prompts) : NULL;
    if (result && end < count) {
        char next[64];

        snprintf(next, sizeof(next), PROMPTS_CURSOR_PREFIX "%zu", end);
        json_object_set_new(result, "nextCursor", json_string(next));
    }
    if (!result)
        return rpc_error(id, RPC_INTERNAL_ERROR, "internal error: out of memory", NULL);
    return rpc_result(id, cacheable(s, result, MCP_STATIC_TTL_MS, "public"));
}

static void open_context(mcp_server *s);

static json_t *do_prompts_get(mcp_server *s, json_t *id, json_t *params)
{
    json_t *name = json_object_get(params, "name");
    json_t *args = json_object_get(params, "arguments");
    const mcp_prompt *p;
    grove_err err = GROVE_ERR_INIT;
    json_t *result = NULL;
    char msg[512];

    if (!json_is_string(name) || strlen(json_string_value(name)) != json_string_length(name))
        return rpc_error(id, RPC_INVALID_PARAMS, "invalid params: \"name\" must be a string", NULL);
    if (mcp_prompt_check(json_string_value(name), json_is_null(args) ? NULL : args, &p, msg,
                         sizeof(msg)) != 0)
        return error_msg(id, RPC_INVALID_PARAMS, "invalid params: %s", msg);
    if (mcp_prompt_arg_find(p, "instance_id"))
        open_context(s);
    if (mcp_prompt_get(p, s->ctx, s->unavailable, args, &result, &err) == 0)
        return rpc_result(id, result);
    if (err.code == GROVE_EINVAL || err.code == GROVE_ENOTFOUND)
        return error_msg(id, RPC_INVALID_PARAMS, "invalid params: %s", err.msg);
    return error_msg(id, RPC_INTERNAL_ERROR, "internal error: %s", err.msg);
}

/* ---- completion ---------------------------------------------------------------- */

static json_t *do_complete(mcp_server *s, json_t *id, json_t *params)
{
    mcp_complete_source source;
    const char *value;
    grove_err err = GROVE_ERR_INIT;
    json_t *result = NULL;
    char msg[512];

    if (mcp_complete_check(params, &source, &value, msg, sizeof(msg)) != 0)
        return error_msg(id, RPC_INVALID_PARAMS, "invalid params: %s", msg);
    if (source != MCP_COMPLETE_NONE)
        open_context(s);
    /* No repository: nothing to complete (tool calls say why). */
    if (mcp_complete_run(s->ctx, source, value, &result, &err) != 0) {
        log_warn("completion/complete: %s", err.msg);
        return error_msg(id, RPC_INTERNAL_ERROR, "internal error: %s", err.msg);
    }
    return rpc_result(id, result);
}

/* ---- logging -------------------------------------------------------------------- */

static json_t *do_set_level(mcp_server *s, json_t *id, json_t *params)
{
    json_t *level = json_object_get(params, "level");
    int l = json_is_string(level) && strlen(json_string_value(level)) == json_string_length(level)
                ? mcp_log_level_parse(json_string_value(level))
                : -1;

    if (l < 0)
        return rpc_error(id, RPC_INVALID_PARAMS,
                         "invalid params: \"level\" must be one of debug, info, notice, "
                         "warning, error, critical, alert, emergency",
                         NULL);
    s->log_level = l;
    return rpc_result(id, json_object());
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One notifications/message {level, logger: "grove", data}. */
static void send_log(mcp_server *s, int level, json_t *data)
{
    json_t *params = json_pack("{s:s, s:s, s:o}", "level", mcp_log_level_name(level), "logger",
                               "grove", "data", data);

    if (params)
        send_msg(s, rpc_notification("notifications/message", params));
}

/*
 * The sink core reports through: sent as notifications/message when the
 * client asked for that level (nothing before logging/setLevel), at most
 * MCP_LOG_RATE a second; what is dropped is counted in a note that goes out
 * before the next message that may.
 */
static void report_event(void *arg, ctx_level level, const char *event, const char *instance_id,
                         const char *message)
{
    mcp_server *s = arg;
    unsigned dropped;
    int dropped_level;
    json_t *data;

    if (s->log_level < 0 || (int)level < s->log_level || s->write_failed ||
        s->version == MCP_V_NONE)
        return;
    if (!mcp_log_admit(&s->limiter, now_ms(), (int)level, &dropped, &dropped_level))
        return;
    if (dropped) {
        char note[160];

        snprintf(note, sizeof(note), "suppressed %u message%s (grove sends at most %d a second)",
                 dropped, dropped == 1 ? "" : "s", MCP_LOG_RATE);
        send_log(s, dropped_level,
                 json_pack("{s:s, s:s, s:I}", "event", "suppressed", "message", note, "suppressed",
                           (json_int_t)dropped));
    }
    data = json_pack("{s:s, s:s}", "event", event, "message", message);
    if (data && instance_id)
        json_object_set_new(data, "instance_id", json_string(instance_id));
    if (data)
        send_log(s, (int)level, data);
}

/* ---- resources ------------------------------------------------------------- */

/* The `uri` string of params, or NULL. */
static const char *param_uri(json_t *params)
{
    json_t *u = json_object_get(params, "uri");

    return json_is_string(u) && strlen(json_string_value(u)) == json_string_length(u) &&
                   json_string_length(u) > 0 && json_string_length(u) <= 2048
               ? json_string_value(u)
               : NULL;
}

/* Resource not found: -32002 up to 2025-11-25, -32602 from 2026-07-28 on; the URI as its data. */
static json_t *not_found(const mcp_server *s, json_t *id, const char *uri, char *msg)
{
    grove_utf8_sanitize(msg);
    return rpc_error(id,
                     s->version >= MCP_V_2026_07_28 ? RPC_INVALID_PARAMS : MCP_RESOURCE_NOT_FOUND,
                     msg, json_pack("{s:s}", "uri", uri));
}

static json_t *do_resources(mcp_server *s, json_t *id, const char *what, json_t *params)
{
    int modern = s->version >= MCP_V_2026_07_28;
    grove_err err = GROVE_ERR_INIT;
    const char *uri = param_uri(params);
    json_t *v;

    if (strcmp(what, "templates/list") == 0) {
        v = s->resources->templates();
        return v ? rpc_result(id, cacheable(s, json_pack("{s:o}", "resourceTemplates", v),
                                            MCP_STATIC_TTL_MS, "public"))
                 : rpc_error(id, RPC_INTERNAL_ERROR, "internal error: out of memory", NULL);
    }
    if (strcmp(what, "list") != 0 && strcmp(what, "read") != 0 &&
        (modern || (strcmp(what, "subscribe") != 0 && strcmp(what, "unsubscribe") != 0)))
        return error_msg(id, RPC_METHOD_NOT_FOUND, "method not found: resources/%s%s", what,
                         modern ? " (2026-07-28: use subscriptions/listen)" : "");
    if (!s->ctx)
        open_context(s);
    if (strcmp(what, "list") == 0) {
        char *seen;

        if (!s->ctx)
            return rpc_result(id, cacheable(s, json_pack("{s:[]}", "resources"), 0, "private"));
        if (!(v = s->resources->list(s->ctx, &err)))
            return error_msg(id, RPC_INTERNAL_ERROR, "internal error: %s", err.msg);
        /* from now on, the earlier era's connection watches the list for list_changed (a
           2026-07-28 client asks for that on subscriptions/listen instead) */
        if (!modern && (seen = s->resources->list_version(s->ctx, &err))) {
            free(s->legacy.list_seen);
            s->legacy.list_seen = seen;
            s->legacy.list = 1;
        }
        return rpc_result(id, cacheable(s, json_pack("{s:o}", "resources", v), 0, "private"));
    }
    if (!uri)
        return rpc_error(id, RPC_INVALID_PARAMS,
                         "invalid params: \"uri\" must be a non-empty string", NULL);
    if (!s->ctx)
        return error_msg(id, RPC_INTERNAL_ERROR, "%s", s->unavailable);
    if (strcmp(what, "read") == 0) {
        if (!(v = s->resources->read(s->ctx, uri, &err)))
            return err.code == GROVE_ENOTFOUND
                       ? not_found(s, id, uri, err.msg)
                       : error_msg(id, RPC_INTERNAL_ERROR, "internal error: %s", err.msg);
        return rpc_result(id, cacheable(s, json_pack("{s:o}", "contents", v), 0, "private"));
    }
    if (strcmp(what, "unsubscribe") == 0) {
        mcp_subs_remove(&s->legacy, uri);
        return rpc_result(id, json_object());
    }
    /* subscribe: the URI must name something now; its content is remembered */
    {
        char *version = s->resources->version(s->ctx, uri, &err);
        int full;

        if (!version)
            return err.code == GROVE_ENOTFOUND
                       ? not_found(s, id, uri, err.msg)
                       : error_msg(id, RPC_INTERNAL_ERROR, "internal error: %s", err.msg);
        if (mcp_subs_add(&s->legacy, uri, version, &full) != 0)
            return full ? error_msg(id, RPC_INVALID_PARAMS,
                                    "invalid params: at most %d subscriptions", MCP_MAX_SUBS)
                        : rpc_error(id, RPC_INTERNAL_ERROR, "internal error: out of memory", NULL);
        return rpc_result(id, json_object());
    }
}

static int subs_active(const mcp_subs *w)
{
    return w->nsubs > 0 || w->list;
}

int mcp_server_watching(const mcp_server *s)
{
    return s->resources && s->ctx && (subs_active(&s->legacy) || s->nlistens > 0);
}

/*
 * A notification about a subscriber's resources: for a subscriptions/listen
 * stream it carries the stream's id in _meta (2026-07-28). params: new
 * reference or NULL.
 */
static int send_sub_note(mcp_server *s, const mcp_subs *w, const char *method, json_t *params)
{
    if (!params && !w->id) /* the earlier era's list_changed has no params */
        return send_msg(s, json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method", method));
    if (!params)
        params = json_object();
    if (w->id && params)
        json_object_set_new(params, "_meta", json_pack("{s:O}", META_SUB_ID, w->id));
    return send_msg(s, params ? rpc_notification(method, params) : NULL);
}

/* Compares one subscriber's URIs (and list) with what they show now; notifies what changed. */
static int watch_subs(mcp_server *s, mcp_subs *w, const char *list_now)
{
    grove_err err = GROVE_ERR_INIT;
    size_t i;

    if (w->list && list_now && (!w->list_seen || strcmp(list_now, w->list_seen) != 0)) {
        char *copy = strdup(list_now);

        if (copy) {
            free(w->list_seen);
            w->list_seen = copy;
            if (send_sub_note(s, w, "notifications/resources/list_changed", NULL) != 0)
                return -1;
        }
    }
    for (i = 0; i < w->nsubs; i++) {
        mcp_sub *sub = &w->subs[i];
        char *now = s->resources->version(s->ctx, sub->uri, &err);

        /* gone (NULL) counts as a change too, once */
        if ((now && sub->version && strcmp(now, sub->version) == 0) || (!now && !sub->version)) {
            free(now);
            continue;
        }
        free(sub->version);
        sub->version = now;
        if (send_sub_note(s, w, "notifications/resources/updated",
                          json_pack("{s:s}", "uri", sub->uri)) != 0)
            return -1;
    }
    return 0;
}

/*
 * One look for changes. `refresh`: bring derived state up to date first
 * (tmux); a look made because the database was written skips that, since a
 * write changes nothing tmux shows and many agents write many times a second.
 */
static int watch_now(mcp_server *s, int refresh)
{
    grove_err err = GROVE_ERR_INIT;
    char *list_now = NULL;
    int want_list = s->legacy.list, rc = 0;
    size_t i;

    if (!mcp_server_watching(s))
        return 0;
    if (refresh && s->resources->refresh)
        s->resources->refresh(s->ctx);
    for (i = 0; i < s->nlistens; i++)
        want_list |= s->listens[i].list;
    if (want_list)
        list_now = s->resources->list_version(s->ctx, &err);
    rc = watch_subs(s, &s->legacy, list_now);
    for (i = 0; rc == 0 && i < s->nlistens; i++)
        rc = watch_subs(s, &s->listens[i], list_now);
    free(list_now);
    return rc;
}

int mcp_server_watch(mcp_server *s)
{
    return watch_now(s, 1);
}

/* ---- roots ------------------------------------------------------------------- */

#define ROOTS_ID_PREFIX "grove-roots-"

/* Asks the client for its roots (roots/list), when it has them and grove was given no repo. */
static void ask_roots(mcp_server *s)
{
    char id[48];

    if (!s->ask_roots || !s->client_roots || s->version == MCP_V_NONE)
        return;
    if (s->ctx) {
        log_info("the client's roots changed; this server keeps its repository");
        return;
    }
    snprintf(id, sizeof(id), ROOTS_ID_PREFIX "%u", ++s->roots_asked);
    send_msg(s, json_pack("{s:s, s:s, s:s}", "jsonrpc", "2.0", "id", id, "method", "roots/list"));
}

/* The local path of a file:// URI (percent-decoded), malloc'd; NULL for anything else. */
static char *file_uri_path(const char *uri)
{
    const char *p;
    char *out, *o;

    if (strncmp(uri, "file://", 7) != 0)
        return NULL;
    p = uri + 7;
    if (strncmp(p, "localhost/", 10) == 0)
        p += 9;
    if (*p != '/' || !(out = malloc(strlen(p) + 1)))
        return NULL;
    for (o = out; *p; p++) {
        if (*p == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
            char hex[3] = {p[1], p[2], 0};
            char c = (char)strtol(hex, NULL, 16);

            if (c == '\0') {
                free(out);
                return NULL;
            }
            *o++ = c;
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

/* A client's response: the answer to our latest roots/list, or nothing of ours. */
static void take_roots(mcp_server *s, json_t *msg)
{
    json_t *id = json_object_get(msg, "id"), *roots, *r;
    char want[48], **list;
    size_t i, n = 0;

    snprintf(want, sizeof(want), ROOTS_ID_PREFIX "%u", s->roots_asked);
    if (!json_is_string(id) || strcmp(json_string_value(id), want) != 0)
        return; /* an older question's answer, or not ours */
    if (json_object_get(msg, "error")) {
        log_warn("the client could not list its roots: %s",
                 json_string_value(json_object_get(json_object_get(msg, "error"), "message"))
                     ? json_string_value(json_object_get(json_object_get(msg, "error"), "message"))
                     : "?");
        return;
    }
    roots = json_object_get(json_object_get(msg, "result"), "roots");
    if (!json_is_array(roots)) {
        log_warn("the client's roots/list answer has no roots array");
        return;
    }
    if (!(list = calloc(json_array_size(roots) + 1, sizeof(*list))))
        return;
    json_array_foreach(roots, i, r)
    {
        const char *uri = json_string_value(json_object_get(r, "uri"));
        char *path = uri ? file_uri_path(uri) : NULL;

        if (path)
            list[n++] = path;
    }
    free_roots(s->roots);
    s->roots = list;
}

/* ---- 2026-07-28: stateless requests, subscriptions/listen ------------------------- */

/* The most subscriptions/listen streams one connection keeps open. */
#define MCP_MAX_LISTENS 64

/* UnsupportedProtocolVersion: what was asked for and every version grove speaks. */
static json_t *unsupported_version(json_t *id, json_t *requested)
{
    return rpc_error(
        id, RPC_UNSUPPORTED_VERSION, "Unsupported protocol version",
        json_pack("{s:o, s:O}", "supported", supported_versions(), "requested", requested));
}

/* The open stream whose listen request had this id, or NULL. */
static mcp_subs *find_listen(mcp_server *s, const json_t *id)
{
    size_t i;

    for (i = 0; id && i < s->nlistens; i++)
        if (json_equal(s->listens[i].id, (json_t *)id))
            return &s->listens[i];
    return NULL;
}

static void drop_listen(mcp_server *s, mcp_subs *w)
{
    mcp_subs_clear(w);
    *w = s->listens[--s->nlistens];
}

/*
 * subscriptions/listen: opens a stream, acknowledges what of the filter
 * grove honours (resourcesListChanged; resourceSubscriptions that name a
 * resource now; never tools or prompts, which do not change) and sends
 * nothing more until something changes. No response until the stream ends
 * (the client cancels it, or grove shuts down: see close_listens()).
 */
static json_t *do_listen(mcp_server *s, json_t *id, json_t *params)
{
    json_t *filter = json_object_get(params, "notifications");
    json_t *uris = json_object_get(filter, "resourceSubscriptions");
    json_t *list = json_object_get(filter, "resourcesListChanged"), *ack, *honoured, *u;
    const char *key;
    json_t *val;
    mcp_subs w = {0};
    grove_err err = GROVE_ERR_INIT;
    size_t i;

    if (!json_is_object(filter))
        return rpc_error(id, RPC_INVALID_PARAMS,
                         "invalid params: \"notifications\" must be an object", NULL);
    json_object_foreach(filter, key, val)
    {
        if (strcmp(key, "resourceSubscriptions") == 0 ? !json_is_array(val) : !json_is_boolean(val))
            return error_msg(
                id, RPC_INVALID_PARAMS, "invalid params: notifications.%s must be %s", key,
                strcmp(key, "resourceSubscriptions") == 0 ? "an array of URIs" : "true or false");
    }
    json_array_foreach(uris, i, u)
    {
        if (!json_is_string(u) || strlen(json_string_value(u)) != json_string_length(u))
            return error_msg(id, RPC_INVALID_PARAMS,
                             "invalid params: notifications.resourceSubscriptions[%zu] must be a "
                             "URI string",
                             i);
    }
    if (json_array_size(uris) > MCP_MAX_SUBS)
        return error_msg(id, RPC_INVALID_PARAMS, "invalid params: at most %d resourceSubscriptions",
                         MCP_MAX_SUBS);
    if (find_listen(s, id))
        return rpc_error(id, RPC_INVALID_REQUEST,
                         "invalid request: a subscription with this id is already open", NULL);
    if (s->nlistens == MCP_MAX_LISTENS)
        return error_msg(id, RPC_INVALID_PARAMS,
                         "invalid params: at most %d open subscriptions per connection",
                         MCP_MAX_LISTENS);
    if (s->resources && !s->ctx)
        open_context(s);
    honoured = json_array();
    if (s->resources && s->ctx) {
        json_array_foreach(uris, i, u)
        {
            const char *uri = json_string_value(u);
            char *version = s->resources->version(s->ctx, uri, &err);
            int full;

            if (!version) {
                log_info("subscriptions/listen: not honouring %s: %s", uri, err.msg);
                continue;
            }
            if (mcp_subs_add(&w, uri, version, &full) != 0) {
                mcp_subs_clear(&w);
                json_decref(honoured);
                return rpc_error(id, RPC_INTERNAL_ERROR, "internal error: out of memory", NULL);
            }
            json_array_append(honoured, u);
        }
        if (json_is_true(list)) {
            w.list = 1;
            w.list_seen = s->resources->list_version(s->ctx, &err);
        }
    }
    ack = json_object();
    if (w.list)
        json_object_set_new(ack, "resourcesListChanged", json_true());
    if (uris)
        json_object_set(ack, "resourceSubscriptions", honoured);
    json_decref(honoured);
    if (s->nlistens % 8 == 0) {
        mcp_subs *n = realloc(s->listens, (s->nlistens + 8) * sizeof(*n));

        if (!n) {
            mcp_subs_clear(&w);
            json_decref(ack);
            return rpc_error(id, RPC_INTERNAL_ERROR, "internal error: out of memory", NULL);
        }
        s->listens = n;
    }
    w.id = json_incref(id);
    s->listens[s->nlistens++] = w;
    send_sub_note(s, &s->listens[s->nlistens - 1], "notifications/subscriptions/acknowledged",
                  json_pack("{s:o}", "notifications", ack));
    return NULL;
}

/* Ends every open stream gracefully: its listen request's response (shutdown). */
static void close_listens(mcp_server *s)
{
    while (s->nlistens > 0) {
        mcp_subs *w = &s->listens[s->nlistens - 1];

        send_msg(
            s, rpc_result(w->id, json_pack("{s:s, s:{s:O, s:o}}", "resultType", "complete", "_meta",
                                           META_SUB_ID, w->id, "io.modelcontextprotocol/serverInfo",
                                           server_info(MCP_V_2026_07_28))));
        drop_listen(s, w);
    }
}

/* A 2026-07-28 result: resultType, and who answered in _meta. */
static json_t *modern_result(json_t *resp)
{
    json_t *result = json_object_get(resp, "result"), *meta;

    if (!json_is_object(result))
        return resp;
    if (!json_object_get(result, "resultType"))
        json_object_set_new(result, "resultType", json_string("complete"));
    if (!json_is_object(meta = json_object_get(result, "_meta"))) {
        meta = json_object();
        json_object_set_new(result, "_meta", meta);
    }
    json_object_set_new(meta, "io.modelcontextprotocol/serverInfo", server_info(MCP_V_2026_07_28));
    return resp;
}

/*
 * One request of the 2026-07-28 era: everything it needs is in its _meta
 * (version, client capabilities, log level), nothing is kept for the next
 * one. Served the same before or after an earlier-era initialize.
 */
static json_t *handle_modern(mcp_server *s, const rpc_msg *m, json_t *meta, json_t *pv)
{
    json_t *caps = json_object_get(meta, META_CAPS), *info = json_object_get(meta, META_INFO);
    json_t *level = json_object_get(meta, META_LEVEL), *r;
    mcp_version was = s->version;
    int was_level = s->log_level, l = -1;
    const char *method = m->method;

    if (!json_is_string(pv))
        return rpc_error(m->id, RPC_INVALID_PARAMS,
                         "invalid params: _meta[\"" META_VERSION "\"] must be a string", NULL);
    if (strcmp(json_string_value(pv), version_names[MCP_V_2026_07_28]) != 0 ||
        strlen(json_string_value(pv)) != json_string_length(pv))
        return unsupported_version(m->id, pv);
    if (!json_is_object(caps))
        return rpc_error(m->id, RPC_INVALID_PARAMS,
                         "invalid params: _meta[\"" META_CAPS
                         "\"] must be an object (required on every request)",
                         NULL);
    if (info && !json_is_object(info))
        return rpc_error(m->id, RPC_INVALID_PARAMS,
                         "invalid params: _meta[\"" META_INFO "\"] must be an object", NULL);
    if (level &&
        (!json_is_string(level) || strlen(json_string_value(level)) != json_string_length(level) ||
         (l = mcp_log_level_parse(json_string_value(level))) < 0))
        return rpc_error(m->id, RPC_INVALID_PARAMS,
                         "invalid params: _meta[\"" META_LEVEL
                         "\"] must be one of debug, info, notice, warning, error, critical, "
                         "alert, emergency",
                         NULL);
    s->version = MCP_V_2026_07_28;
    s->log_level = l; /* notifications/message only for a request that asks for them */
    if (strcmp(method, "server/discover") == 0)
        r = do_discover(s, m->id);
    else if (strcmp(method, "tools/list") == 0)
        r = do_tools_list(s, m->id, m->params);
    else if (strcmp(method, "tools/call") == 0)
        r = do_tools_call(s, m->id, m->params);
    else if (strcmp(method, "prompts/list") == 0)
        r = do_prompts_list(s, m->id, m->params);
    else if (strcmp(method, "prompts/get") == 0)
        r = do_prompts_get(s, m->id, m->params);
    else if (strcmp(method, "completion/complete") == 0)
        r = do_complete(s, m->id, m->params);
    else if (s->resources && strncmp(method, "resources/", 10) == 0)
        r = do_resources(s, m->id, method + 10, m->params);
    else if (s->resources && strcmp(method, "subscriptions/listen") == 0)
        r = do_listen(s, m->id, m->params);
    else
        r = error_msg(m->id, RPC_METHOD_NOT_FOUND, "method not found: '%s' (protocol version %s)",
                      method, version_names[MCP_V_2026_07_28]);
    s->version = was;
    s->log_level = was_level;
    return r ? modern_result(r) : NULL;
}

/* ---- dispatch --------------------------------------------------------------- */

/* The response to one message (NULL when none is due). */
static json_t *handle_message(mcp_server *s, json_t *msg, int in_batch)
{
    json_t *meta, *pv;
    rpc_msg m;

    rpc_classify(msg, &m);
    switch (m.kind) {
    case RPC_RESPONSE:
        take_roots(s, msg);
        return NULL;
    case RPC_INVALID:
        return rpc_error(m.id, m.code, m.message, NULL);
    case RPC_NOTIFICATION:
        /* notifications/initialized, cancelled, ...: nothing to answer, ever. */
        log_debug("notification '%s'", m.method);
        if (strcmp(m.method, "notifications/initialized") == 0 ||
            strcmp(m.method, "notifications/roots/list_changed") == 0)
            ask_roots(s);
        if (strcmp(m.method, "notifications/cancelled") == 0) {
            /* a subscriptions/listen stream ends without a response */
            mcp_subs *w = find_listen(s, json_object_get(m.params, "requestId"));

            if (w)
                drop_listen(s, w);
        }
        return NULL;
    case RPC_REQUEST:
        break;
    }
    if (strcmp(m.method, "initialize") == 0) {
        if (in_batch)
            return rpc_error(m.id, RPC_INVALID_REQUEST,
                             "invalid request: initialize must not be part of a batch", NULL);
        return do_initialize(s, m.id, m.params);
    }
    /* 2026-07-28: a request that names its version in _meta needs no initialize; one that
       names the version this connection initialized with is of that era */
    meta = json_object_get(m.params, "_meta");
    pv = json_object_get(meta, META_VERSION);
    if (pv && !(s->version != MCP_V_NONE && json_is_string(pv) &&
                strcmp(json_string_value(pv), mcp_version_str(s->version)) == 0))
        return handle_modern(s, &m, meta, pv);
    if (strcmp(m.method, "ping") == 0)
        return rpc_result(m.id, json_object());
    /* unchanged for the earlier era: -32601, as an initialize-era server answers a probe */
    if (strcmp(m.method, "server/discover") == 0)
        return rpc_error(m.id, RPC_METHOD_NOT_FOUND,
                         "method not found: server/discover names no protocol version; put "
                         "2026-07-28 in _meta[\"" META_VERSION "\"], or use initialize",
                         NULL);
    if (strcmp(m.method, "tools/list") != 0 && strcmp(m.method, "tools/call") != 0 &&
        strcmp(m.method, "prompts/list") != 0 && strcmp(m.method, "prompts/get") != 0 &&
        strcmp(m.method, "completion/complete") != 0 && strcmp(m.method, "logging/setLevel") != 0 &&
        !(s->resources && strncmp(m.method, "resources/", 10) == 0))
        return error_msg(m.id, RPC_METHOD_NOT_FOUND, "method not found: '%s'", m.method);
    if (s->version == MCP_V_NONE)
        return rpc_error(m.id, RPC_INVALID_REQUEST,
                         "invalid request: server not initialized; send initialize first", NULL);
    if (m.params && !json_is_object(m.params))
        return rpc_error(m.id, RPC_INVALID_PARAMS, "invalid params: expected an object", NULL);
    if (strcmp(m.method, "tools/list") == 0)
        return do_tools_list(s, m.id, m.params);
    if (strcmp(m.method, "prompts/list") == 0)
        return do_prompts_list(s, m.id, m.params);
    if (strcmp(m.method, "prompts/get") == 0)
        return do_prompts_get(s, m.id, m.params);
    if (strcmp(m.method, "completion/complete") == 0)
        return do_complete(s, m.id, m.params);
    if (s->resources && strncmp(m.method, "resources/", 10) == 0)
        return do_resources(s, m.id, m.method + 10, m.params);
    if (strcmp(m.method, "logging/setLevel") == 0)
        return do_set_level(s, m.id, m.params);
    return do_tools_call(s, m.id, m.params);
}

static int handle_batch(mcp_server *s, json_t *batch)
{
    json_t *responses, *item;
    size_t i;

    if (s->version != MCP_V_2025_03_26) {
        char msg[160];

        snprintf(msg, sizeof(msg), "invalid request: batches are not supported %s%s",
                 s->version ? "in protocol version " : "before initialize",
                 s->version ? mcp_version_str(s->version) : "");
        return send_msg(s, rpc_error(NULL, RPC_INVALID_REQUEST, msg, NULL));
    }
    if (json_array_size(batch) == 0)
        return send_msg(s,
                        rpc_error(NULL, RPC_INVALID_REQUEST, "invalid request: empty batch", NULL));
    responses = json_array();
    json_array_foreach(batch, i, item)
    {
        json_t *r = handle_message(s, item, 1);

        if (r)
            json_array_append_new(responses, r);
    }
    if (json_array_size(responses) == 0) {
        json_decref(responses);
        return s->write_failed ? -1 : 0;
    }
    return send_msg(s, responses);
}

/* ---- group commit (batch.h) ------------------------------------------------ */

/* 1 when a request names 2026-07-28 in its _meta (it needs no initialize). */
static int names_modern_version(json_t *msg)
{
    json_t *pv =
        json_object_get(json_object_get(json_object_get(msg, "params"), "_meta"), META_VERSION);

    return json_is_string(pv) &&
           strcmp(json_string_value(pv), version_names[MCP_V_2026_07_28]) == 0;
}

/* Commits the open group, if any, and writes what it held back. */
static int batch_flush(mcp_server *s)
{
    const char *out;
    size_t n;

    s->batch.writes = 0;
    flush_pending(s); /* the older group's answers first */
    mcp_batch_close(&s->batch, &s->tools->group, &out, &n);
    if (n > 0)
        write_raw(s, out, n);
    return s->write_failed ? -1 : 0;
}

/*
 * Before a message: a call of a batchable tool joins the open group, or
 * opens one when another request is waiting already (a request alone is
 * committed at once); anything else commits the open group first.
 */
static void batch_before(mcp_server *s, json_t *msg)
{
    const char *name = msg ? mcp_batch_call_name(msg) : NULL;
    int idx = name ? find_tool(s, name) : -1;

    s->batch.writes = 0;
    if (idx < 0 || (s->version == MCP_V_NONE && !names_modern_version(msg)) ||
        !s->tools->group.batchable || !s->tools->group.batchable((size_t)idx)) {
        batch_flush(s);
        return;
    }
    if (!mcp_batch_is_open(&s->batch)) {
        if (!mcp_batch_more_input(s->reader, s->in_fd))
            return;
        open_context(s);
        if (!s->ctx || mcp_batch_open(&s->batch, &s->tools->group, s->ctx) != 0)
            return;
    }
    s->batch.calls++;
    s->batch.writes = 1;
}

/*
 * After a message: the group is committed when no request waits any more,
 * or when it is full. A full group with more requests waiting does not
 * wait for its fsync: the next group's calls run meanwhile, and its
 * answers go out (flush_pending()) once the fsync is done, before the
 * next group's commit or anything else is written.
 */
static int batch_after(mcp_server *s)
{
    s->batch.writes = 0;
    if (!mcp_batch_is_open(&s->batch))
        return s->write_failed ? -1 : 0;
    if (!mcp_batch_more_input(s->reader, s->in_fd))
        return batch_flush(s);
    if (mcp_batch_full(&s->batch)) {
        if (flush_pending(s) != 0)
            return -1;
        mcp_batch_close_nowait(&s->batch, &s->tools->group);
    }
    return s->write_failed ? -1 : 0;
}

int mcp_server_handle_line(mcp_server *s, const char *line, size_t len)
{
    char msg[256];
    json_t *v;
    size_t i;
    int code, rc, salvageable;

    for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'); i++)
        ;
    if (i == len)
        return 0; /* blank line: nothing to do */
    v = rpc_parse(line, len, &code, msg, sizeof(msg), &salvageable);
    if (!v) {
        json_t *id = salvageable ? rpc_salvage_id(line, len) : NULL;

        grove_utf8_sanitize(msg);
        batch_before(s, NULL);
        rc = send_msg(s, rpc_error(id, code, msg, NULL));
        json_decref(id);
        return rc;
    }
    batch_before(s, json_is_array(v) ? NULL : v);
    if (json_is_array(v)) {
        rc = handle_batch(s, v);
    } else {
        json_t *resp = handle_message(s, v, 0);

        rc = resp ? send_msg(s, resp) : (s->write_failed ? -1 : 0);
    }
    json_decref(v);
    s->ok_structured = s->ok_text = NULL; /* a result not sent (out of memory) is gone now */
    if (batch_after(s) != 0)
        rc = -1;
    return rc;
}

int mcp_server_handle_oversize(mcp_server *s)
{
    char msg[128];

    batch_before(s, NULL);
    snprintf(msg, sizeof(msg), "invalid request: message larger than %zu bytes",
             (size_t)MCP_MAX_MESSAGE);
    return send_msg(s, rpc_error(NULL, RPC_INVALID_REQUEST, msg, NULL));
}

/* ---- serve loop ------------------------------------------------------------ */

/* Watches resources->change_dir once there is something to watch (one attempt). */
static void open_change_fd(mcp_server *s)
{
    grove_err err = GROVE_ERR_INIT;
    char *dir;

    if (s->change_tried || !s->resources->change_dir)
        return;
    s->change_tried = 1;
    if (!(dir = s->resources->change_dir(s->ctx)))
        return;
    s->change_fd = fswatch_dir(dir, &err);
    if (s->change_fd < 0)
        log_warn("subscriptions: changes are looked for every %d ms only: %s", MCP_WATCH_MS,
                 err.msg);
    free(dir);
}

/* 1 when SIGTERM or SIGINT is pending on the signalfd. */
static int stop_requested(int sfd)
{
    struct signalfd_siginfo si;

    return read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si);
}

int mcp_serve(mcp_server *s, int in_fd)
{
    io_reader *r = NULL;
    sigset_t set;
    double next_watch = 0, last_watch = 0, next_tick = 0;
    int sfd, rc = 0, timeout, watching;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0) {
        log_error("signalfd: %s", strerror(errno));
        return 1;
    }
    if (io_reader_new(&r, in_fd, MCP_MAX_MESSAGE) != 0) {
        close(sfd);
        return 1;
    }
    s->reader = r;
    s->in_fd = in_fd;
    for (;;) {
        struct pollfd pfd[3];
        const char *line;
        size_t len;
        line_status st;
        ssize_t n;

        while ((st = io_reader_next(r, &line, &len)) != LINE_NEED_MORE) {
            if (st == LINE_EOF)
                goto done;
            if ((st == LINE_READY ? mcp_server_handle_line(s, line, len)
                                  : mcp_server_handle_oversize(s)) != 0) {
                rc = 1;
                goto done;
            }
            if (stop_requested(sfd))
                goto done;
        }
        /* every buffered line is handled: what waits for an fsync goes out before the wait */
        if (flush_pending(s) != 0) {
            rc = 1;
            goto done;
        }
        /* changes made by anyone (other grove processes, hooks, git) are looked for every
           MCP_WATCH_MS while something is watched, and MCP_WATCH_SOON_MS after a write to the
           database's folder; otherwise the loop sleeps */
        watching = mcp_server_watching(s);
        if (watching) {
            double now = grove_now_ms();

            open_change_fd(s);
            if (now >= next_watch) {
                int tick = now >= next_tick; /* the timer's look, not one after a write */

                if (watch_now(s, tick) != 0) {
                    rc = 1;
                    goto done;
                }
                last_watch = now;
                if (tick)
                    next_tick = now + MCP_WATCH_MS;
                next_watch = next_tick;
            }
            timeout = (int)(next_watch - now) + 1;
        } else {
            timeout = -1;
        }
        pfd[0].fd = in_fd;
        pfd[0].events = POLLIN;
        pfd[1].fd = sfd;
        pfd[1].events = POLLIN;
        pfd[2].fd = watching ? s->change_fd : -1; /* poll() skips a negative fd */
        pfd[2].events = POLLIN;
        pfd[2].revents = 0;
        if (poll(pfd, 3, timeout) < 0) {
            if (errno == EINTR)
                continue;
            log_error("poll: %s", strerror(errno));
            rc = 1;
            goto done;
        }
        if (pfd[1].revents & POLLIN)
            goto done;
        if ((pfd[2].revents & POLLIN) && fswatch_drain(s->change_fd) &&
            next_watch > last_watch + MCP_WATCH_SOON_MS)
            next_watch = last_watch + MCP_WATCH_SOON_MS;
        if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        n = io_reader_fill(r);
        if (n < 0 && errno != EINTR && errno != EAGAIN) {
            log_error("reading stdin: %s", strerror(errno));
            rc = 1;
            goto done;
        }
    }
done:
    if (batch_flush(s) != 0)
        rc = 1;
    if (!s->write_failed)
        close_listens(s); /* the subscriptions end gracefully */
    s->reader = NULL;
    io_reader_free(r);
    close(sfd);
    return rc;
}
