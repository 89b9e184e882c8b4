/*
 * report: `grove stats`, `grove export`, `grove import` (their cmd_*
 * functions are declared in tools/cli/cli.h) and the settings table behind
 * `grove config list`. The SQL is in db/report.c.
 */
#ifndef GROVE_TOOLS_REPORT_H
#define GROVE_TOOLS_REPORT_H

#include <jansson.h>

#include "tools/core/context.h"

/*
 * Every setting grove knows plus every key stored in the database, sorted
 * by key, as a new array of {key, value, source, env, is_encrypted,
 * updated_at, overrides}: `source` is "environment" (then `env` names the
 * variable), "database" or "default"; `value` is the effective value, null
 * when unset, "(secret)" for secrets (encrypted rows, tokens from the
 * environment) — never the secret itself; `overrides` is "database" when
 * the environment hides a stored value.
 */
int config_sources(grove_ctx *ctx, json_t **out, grove_err *err);

#endif
