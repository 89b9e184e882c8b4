/*
 * arg: reading a tool's arguments. They were validated against the tool's
 * inputSchema before its handler runs, so these only pick values out; the
 * checks the schema cannot express (an issue's form, the caller) are here.
 * Strings returned are borrowed from `args`.
 */
#ifndef GROVE_TOOLS_ARG_H
#define GROVE_TOOLS_ARG_H

#include <jansson.h>

#include "tools/core/context.h"
#include "tools/core/instance.h"

/* String argument `key`, or NULL when absent. */
const char *arg_str(const json_t *args, const char *key);

/* Boolean argument `key`, or dflt when absent. */
int arg_bool(const json_t *args, const char *key, int dflt);

/* Integer argument `key` (1.0 counts as 1), or dflt when absent. */
long long arg_int(const json_t *args, const char *key, long long dflt);

/*
 * An `issue` value: a positive integer, a string of digits (GitHub) or a
 * beads id (instance_parse_issue()). NULL or null gives "no issue". GROVE_EINVAL
 * with a clear message.
 */
int arg_issue(const json_t *v, issue_ref *out, grove_err *err);

/*
 * The instance a call acts on: args[key] when given, else the caller. With
 * neither: GROVE_EINVAL "'key' is needed: ...".
 */
const char *arg_target(grove_ctx *ctx, const json_t *args, const char *key, grove_err *err);

#endif
