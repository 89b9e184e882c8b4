/*
 * resources: grove's MCP resources (CONTRACT §8), as the server is handed
 * them (mcp_resources): grove://instances (the running instances),
 * grove://instances/{id} (as get_instance), grove://instances/{id}/diff
 * (text/x-diff against the base), grove://instances/{id}/checkpoints,
 * grove://instances/{id}/output (what its agent shows) and grove://events
 * (the latest 100). Contents come from the tools' own handlers, called
 * directly (a read is no tool call: no event is recorded).
 */
#ifndef GROVE_RESOURCES_H
#define GROVE_RESOURCES_H

#include "mcp/server.h"

/* grove's resources as the MCP server takes them (mcp_options.resources). Static. */
const mcp_resources *resources_table(void);

/*
 * Splits a grove URI: *kind is one of "instances", "instance", "diff",
 * "checkpoints", "output", "events"; id[] gets the instance id for the
 * per-instance ones. 0, or -1 for a URI grove does not serve.
 */
int resources_parse(const char *uri, const char **kind, char id[129]);

#endif
