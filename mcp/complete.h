/*
 * complete: completion/complete (CONTRACT §8). Which values an argument
 * completes to is decided by its name, the same for prompt arguments and
 * resource template variables: instance ids (instance_id, id, and any
 * *_instance_id), agent profile names (agent, profile), branch names
 * (branch, base_branch, into, target_branch), issues (issues, issue: a list
 * whose last item is completed); anything else completes to
 * nothing. The values come from core (tools/core/complete.h).
 */
#ifndef GROVE_MCP_COMPLETE_H
#define GROVE_MCP_COMPLETE_H

#include <stddef.h>

#include <jansson.h>

#include "db/queries.h"

struct grove_ctx;

/* The most values one completion returns (the specification's limit). */
#define MCP_COMPLETE_MAX 100

typedef enum mcp_complete_source {
    MCP_COMPLETE_NONE = 0,
    MCP_COMPLETE_INSTANCES,
    MCP_COMPLETE_PROFILES,
    MCP_COMPLETE_BRANCHES,
    MCP_COMPLETE_ISSUES,
} mcp_complete_source;

/* What an argument (or template variable) called `name` completes to. */
mcp_complete_source mcp_complete_source_of(const char *name);

/*
 * The completion/complete result {completion: {values, total, hasMore}}
 * for `list` (borrowed): at most MCP_COMPLETE_MAX values, total as counted,
 * hasMore when total exceeds the values sent. New reference; NULL when out
 * of memory.
 */
json_t *mcp_complete_result(const grove_name_list *list);

/*
 * Checks completion/complete params (an object) and finds what to complete:
 * ref {type: "ref/prompt", name} naming a prompt and an argument it has,
 * or {type: "ref/resource", uri}; argument {name, value} strings without
 * NUL. 0 with *source and *value (borrowed from params) set, else -1 with
 * msg (for -32602).
 */
int mcp_complete_check(const json_t *params, mcp_complete_source *source, const char **value,
                       char *msg, size_t msglen);

/*
 * The values of `source` that start with `prefix`, at most
 * MCP_COMPLETE_MAX, as a completion result; ctx NULL (no repository)
 * completes to nothing. 0 with *out; -1 with err when the database or the
 * repository failed.
 */
int mcp_complete_run(struct grove_ctx *ctx, mcp_complete_source source, const char *prefix,
                     json_t **out, grove_err *err);

#endif
