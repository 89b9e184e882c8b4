/*
 * cli_common: what every command module of the command line shares
 * (tools/cli/cli.c, tools/cli/report.c, ...): opening the context from
 * --repo/--db and printing.
 */
#ifndef GROVE_CLI_COMMON_H
#define GROVE_CLI_COMMON_H

#include <jansson.h>

#include "tools/cli/args.h"
#include "tools/core/context.h"

/*
 * ctx_open() with --repo/--db from the parsed flags. The caller owns the
 * result (ctx_free()); on failure prints "grove CMD: why" on stderr and
 * returns NULL.
 */
grove_ctx *cli_open_ctx(const char *cmd, const args *a, const arg_flag *flags, int migrate);

/* Prints a JSON value (borrowed) indented, with a newline, on stdout. */
void cli_print_json(const json_t *v);

/* obj[key] as a string, or dflt. Borrowed. */
const char *cli_str_or(const json_t *obj, const char *key, const char *dflt);

/* s, or dflt when s is NULL. */
const char *cli_or(const char *s, const char *dflt);

#endif
