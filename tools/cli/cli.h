/*
 * cli: grove's commands other than `serve` (which mcp/main.c runs). Each
 * takes the arguments after its name and returns the process exit code:
 * 0 success, 1 failure (message on stderr), 2 usage error.
 */
#ifndef GROVE_CLI_H
#define GROVE_CLI_H

struct mcp_tools;

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
int cmd_hook(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_exec_env(int argc, char **argv);
/* grove watch: the live view of every instance (tools/cli/watch.c); grove attach ID. */
int cmd_watch(int argc, char **argv);
int cmd_attach(int argc, char **argv);
/* grove call: one tool of `tools` (grove's table, handed in by the program) from a script. */
int cmd_call(const struct mcp_tools *tools, int argc, char **argv);

/* Their shared helpers are in tools/cli/cli_common.h. */

#endif
