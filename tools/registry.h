/*
 * registry: grove's tools, as the MCP server is handed them. The table
 * (name, handler, read_only) is generated from the tools' definitions
 * (tools/<name>.json, by tool_table.py); each definition is embedded at
 * build time and served with the shared definitions it references.
 */
#ifndef GROVE_REGISTRY_H
#define GROVE_REGISTRY_H

#include <jansson.h>

#include "mcp/server.h"
#include "tools/call.h"

typedef int (*tool_handler)(tool_call *call, const json_t *args, json_t **out, grove_err *err);

typedef struct tool_def {
    const char *name;
    tool_handler handler;
    int read_only; /* annotations.readOnlyHint: its events need no fsync of their own */
} tool_def;

/* Every tool in the order tools/list shows them (tool_table.c, generated); GROVE_TOOL_COUNT. */
extern const tool_def grove_tool_table[];

/* grove's tools as the MCP server takes them (mcp_options.tools). Static. */
const mcp_tools *tools_table(void);

/* Number of tools. */
size_t tools_count(void);

/* Tool i's definition, or NULL when i >= tools_count(). */
const tool_def *tools_get(size_t i);

/* Index of the tool called `name`, or -1. */
int tools_find(const char *name);

/*
 * Tool i's definition as a new JSON object {name, title, description,
 * annotations, inputSchema, outputSchema}: its embedded tools/<name>.json
 * without grove's own keys ("x-grove-order"), with the shared definitions
 * of tools/_defs.json that its schemas reference ("$ref": "#/$defs/instance")
 * copied into their "$defs". NULL with err filled when the embedded data
 * is broken (a build defect).
 */
json_t *tools_spec(size_t i, grove_err *err);

/*
 * tools_spec() that keeps the parsed tools/_defs.json in *shared (NULL at
 * first; the caller json_decref()s it at the end) for the next calls.
 */
json_t *tools_spec_cached(size_t i, json_t **shared, grove_err *err);

/*
 * Runs tool i's handler and records the call in grove_mcp_events (caller,
 * success, error message, duration, arguments with secrets removed).
 * Returns the handler's result.
 */
int tools_call(grove_ctx *ctx, size_t i, const json_t *args, const grove_progress *p, json_t **out,
               grove_err *err);

/* 1 when tool i's pipelined calls may share one transaction (group commit, mcp/batch.h). */
int tools_batchable(size_t i);

/* Records a call that never reached its handler (arguments failed validation). */
void tools_record_rejected(grove_ctx *ctx, size_t i, const json_t *args, const char *message);

#endif
