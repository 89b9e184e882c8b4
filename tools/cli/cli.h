/*
 * cli: grove's commands other than `serve` (which mcp/main.c runs). Each
 * takes the arguments after its name and returns the process exit code:
 * 0 success, 1 failure (message on stderr), 2 usage error.
 */
#ifndef GROVE_CLI_H
#define GROVE_CLI_H

int cmd_init(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_demo(int argc, char **argv);

/* Helpers shared by the command modules (tools/cli/cli.c, tools/cli/report.c). */
struct args;
struct arg_flag;
struct grove_ctx;
typedef struct json_t json_t;

/* ctx_open() with --repo/--db from the parsed flags; prints "grove CMD: why" and returns NULL on
 * failure. */
struct grove_ctx *cli_open_ctx(const char *cmd, const struct args *a, const struct arg_flag *flags,
                               int migrate);
/* Prints a JSON value indented, with a newline, on stdout. */
void cli_print_json(const json_t *v);
/* obj[key] as a string, or dflt. Borrowed. */
const char *cli_str_or(const json_t *obj, const char *key, const char *dflt);

#endif
