/*
 * server: the MCP lifecycle over one stdio connection. Version
 * negotiation, method dispatch, tools/list and tools/call (arguments
 * validated against each tool's inputSchema before its handler runs),
 * progress notifications, and the serve loop with clean shutdown.
 *
 * The server knows JSON-RPC and MCP and no tool by name: the program hands
 * it a table of tools (mcp_tools; tools/registry.c makes grove's). It never
 * touches git or SQL itself.
 */
#ifndef GROVE_SERVER_H
#define GROVE_SERVER_H

#include <stddef.h>

#include <jansson.h>

#include "tools/base/grove.h"

struct grove_ctx;

typedef struct mcp_server mcp_server;

/*
 * Protocol versions, oldest first; 0 until initialize. The first four are
 * negotiated by initialize for the whole connection; 2026-07-28 is named by
 * each request in its _meta and needs no initialize (CONTRACT §8).
 */
typedef enum mcp_version {
    MCP_V_NONE = 0,
    MCP_V_2024_11_05,
    MCP_V_2025_03_26,
    MCP_V_2025_06_18,
    MCP_V_2025_11_25,
    MCP_V_2026_07_28,
} mcp_version;

/* The version string ("2025-06-18") of v; NULL for MCP_V_NONE. Static. */
const char *mcp_version_str(mcp_version v);

/*
 * The version initialize's requested string negotiates to: itself when it is
 * one of the first four, else 2025-11-25 (2026-07-28 has no initialize).
 */
mcp_version mcp_negotiate(const char *requested);

/*
 * Makes the context on first use: returns it (borrowed: the opener keeps and
 * frees it) or NULL with err filled, the reason every tool call then gets.
 * `roots` (NULL-terminated local paths, NULL when none): the client's roots,
 * in its order, when mcp_options.ask_roots and the client answered
 * roots/list before this first use; the opener takes the first that is a
 * git working tree.
 */
typedef struct grove_ctx *(*mcp_ctx_open_fn)(void *arg, const char *const *roots, grove_err *err);

/*
 * The tools a server offers, in the order tools/list shows them. Handed in
 * by the program; every function is called with i < count.
 */
typedef struct mcp_tools {
    size_t count;
    /* Tool i's name. Static. */
    const char *(*name)(size_t i);
    /*
     * Tool i's definition {name, title, description, annotations,
     * inputSchema, outputSchema} as a new reference; *shared caches what
     * the definitions share (NULL at first; the server json_decref()s it).
     * NULL with err filled when the definition is broken (a build defect).
     */
    json_t *(*spec)(size_t i, json_t **shared, grove_err *err);
    /*
     * Runs tool i with `args` (borrowed, valid against its inputSchema).
     * On success 0 and the structured result as a new reference in *out;
     * else -1 with err filled (the message the client sees).
     */
    int (*call)(struct grove_ctx *ctx, size_t i, const json_t *args, const grove_progress *p,
                json_t **out, grove_err *err);
    /* Records a call of tool i whose arguments failed validation (ctx may be NULL). */
    void (*rejected)(struct grove_ctx *ctx, size_t i, const json_t *args, const char *message);
    /* What initialize's `instructions` tells the client about the tools. Static. */
    const char *instructions;
} mcp_tools;

/*
 * The resources a server offers (every protocol version), handed in by the
 * program like the tools. URIs and contents are the program's business; the
 * server does the protocol: list, templates, read, subscriptions and their
 * notifications.
 */
typedef struct mcp_resources {
    /* The concrete resources: an array of {uri, name, description, mimeType} (new ref). */
    json_t *(*list)(struct grove_ctx *ctx, grove_err *err);
    /* The templates: an array of {uriTemplate, name, description, mimeType} (new ref). */
    json_t *(*templates)(void);
    /*
     * The contents of `uri`: an array of {uri, mimeType, text} (new ref); an
     * unknown resource: NULL with GROVE_ENOTFOUND.
     */
    json_t *(*read)(struct grove_ctx *ctx, const char *uri, grove_err *err);
    /*
     * A text that changes whenever what `uri` shows changes (what
     * subscriptions compare), malloc'd; NULL with err for a URI that names
     * nothing (GROVE_ENOTFOUND) or on failure. Must be cheap: it runs every
     * second for every subscription.
     */
    char *(*version)(struct grove_ctx *ctx, const char *uri, grove_err *err);
    /* The same for the list of resources (list_changed), malloc'd. */
    char *(*list_version)(struct grove_ctx *ctx, grove_err *err);
    /*
     * Called once per look for changes, before the versions (NULL: none):
     * brings derived state up to date (agents' states from tmux).
     */
    void (*refresh)(struct grove_ctx *ctx);
    /*
     * The folder whose writes may change what the resources show (the
     * database's), malloc'd; NULL: none. While watching, the server watches
     * it (inotify) and looks for changes within MCP_WATCH_SOON_MS of a write
     * instead of waiting for the next timer.
     */
    char *(*change_dir)(struct grove_ctx *ctx);
} mcp_resources;

/* How often subscriptions are checked for changes without a write to change_dir (ms). */
#define MCP_WATCH_MS 1000
/* After a write to change_dir: how long at least between two looks (ms; bursts coalesce). */
#define MCP_WATCH_SOON_MS 50

typedef struct mcp_options {
    const mcp_tools *tools;         /* borrowed; must outlive the server */
    int out_fd;                     /* where responses and notifications go */
    struct grove_ctx *ctx;          /* passed to tool handlers; borrowed */
    size_t tools_page_size;         /* tools/list page size; 0 = all tools on one page */
    size_t prompts_page_size;       /* prompts/list page size; 0 = all prompts on one page */
    const mcp_resources *resources; /* borrowed; NULL: no resources */
    const char *unavailable; /* when ctx is NULL: why (tool calls return it as their error) */
    /*
     * When ctx is NULL: called once, on the first tools/call, to make it, so
     * that starting and initialize open no repository or database.
     */
    mcp_ctx_open_fn open_ctx;
    void *open_arg;
    /*
     * 1: the program was given no repository (--repo, GROVE_REPO,
     * CLAUDE_PROJECT_DIR): ask a client that declared `roots` for them
     * (roots/list after notifications/initialized, again on
     * notifications/roots/list_changed) and hand them to open_ctx.
     */
    int ask_roots;
    /*
     * At each safe point of a long tool call the server looks for the
     * client's notifications/cancelled of that call; this long it waits for
     * one (ms; 0 in normal use: it only looks at what has arrived). Tests
     * set it (GROVE_TEST_CANCEL_WAIT_MS) to cancel at an exact step.
     */
    int cancel_wait_ms;
} mcp_options;

/*
 * A server for one connection. Tool definitions are parsed on first use
 * (tools/list, or a call of that tool); tests/unit/test_registry.c checks
 * them all. *out is the caller's: mcp_server_free() it.
 */
int mcp_server_new(mcp_server **out, const mcp_options *opts, grove_err *err);
void mcp_server_free(mcp_server *s);

/* The version initialize negotiated (MCP_V_NONE before initialize). */
mcp_version mcp_server_version(const mcp_server *s);

/*
 * Handles one received line (without its newline) and writes whatever it
 * calls for. Returns 0, or -1 when writing to the client failed (the peer is
 * gone: stop serving).
 */
int mcp_server_handle_line(mcp_server *s, const char *line, size_t len);

/* Answers a line that was dropped for exceeding the size cap. Same return. */
int mcp_server_handle_oversize(mcp_server *s);

/*
 * Checks the subscribed resources (and the list, once it was asked for) for
 * changes and sends notifications/resources/updated and list_changed. The
 * serve loop calls it at most every MCP_WATCH_MS while there is something
 * to watch. Returns 0, or -1 when writing failed.
 */
int mcp_server_watch(mcp_server *s);

/* 1 when the server has subscriptions or a listed resource list to watch. */
int mcp_server_watching(const mcp_server *s);

/*
 * Serves `in_fd` until end of input, SIGTERM or SIGINT (blocked by the caller
 * and read here through a signalfd), or a write failure. The call in progress
 * is finished first. Returns 0 on a clean end, 1 on an I/O error.
 */
int mcp_serve(mcp_server *s, int in_fd);

#endif
