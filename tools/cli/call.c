/*
 * grove call: one tool call from a shell script (CONTRACT §8), through what
 * `grove serve` runs for a tools/call: the tool's inputSchema, the caller
 * rights of the server's caller (GROVE_INSTANCE_ID, or the instance whose
 * worktree holds the working directory), the call's event. The structured
 * result goes to stdout as one line of JSON.
 *
 * Exit status: 0 success; 1 the tool failed (an isError result: its text on
 * stderr), or the repository or database could not be opened; 2 a usage
 * error (unknown tool or flag, arguments that are not a JSON object or that
 * the tool's inputSchema refuses).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mcp/schema.h"
#include "tools/base/buf.h"
#include "tools/base/io.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_common.h"
#include "mcp/server.h"

#define ARGS_MAX_BYTES (16u << 20) /* what serve takes in one message */

static const arg_flag flags[] = {
    {"repo", 1}, {"db", 1}, {"progress", 0}, {"list", 0}, {NULL, 0},
};

static void call_usage(FILE *f)
{
    fprintf(f, "usage: grove call TOOL [ARGS_JSON | -] [--progress] [--repo DIR] [--db FILE]\n"
               "       grove call --list\n\n"
               "Runs one tool as `grove serve` would for a tools/call: the arguments (a JSON\n"
               "object; '-' reads it from stdin; none means {}) are checked against the tool's\n"
               "inputSchema, the caller rights of this process's instance apply\n"
               "(GROVE_INSTANCE_ID, or the instance whose worktree holds the working\n"
               "directory), and the call is recorded as an event. Prints the structured result\n"
               "as one line of JSON.\n\n"
               "  --progress  progress of long tools on stderr, one line per step\n"
               "  --list      the tools, each with its one-line description\n\n"
               "exit status: 0 success; 1 the tool failed (its message on stderr); 2 a usage\n"
               "error (unknown tool, arguments that are not an object or that the tool refuses)\n");
}

/* The first line of a tool's description, for --list. */
static void print_list(const mcp_tools *tools)
{
    json_t *shared = NULL;
    grove_err err = GROVE_ERR_INIT;
    size_t i;

    for (i = 0; i < tools->count; i++) {
        json_t *spec = tools->spec(i, &shared, &err);
        const char *desc = spec ? json_string_value(json_object_get(spec, "description")) : NULL;
        size_t len = desc ? strcspn(desc, "\n") : 0;
        const char *dot = desc ? memchr(desc, '.', len) : NULL;

        if (dot && (size_t)(dot - desc) + 1 < len)
            len = (size_t)(dot - desc) + 1;
        printf("%-24s %.*s\n", tools->name(i), (int)len, desc ? desc : "");
        json_decref(spec);
    }
    json_decref(shared);
}

/* Progress of a long tool, on stderr. */
static void on_progress(void *arg, double step, double total, const char *what)
{
    const char *tool = arg;

    if (total > 0)
        fprintf(stderr, "grove call %s: %g/%g %s\n", tool, step, total, what ? what : "");
    else
        fprintf(stderr, "grove call %s: %g %s\n", tool, step, what ? what : "");
}

/* The arguments: argv's JSON text, stdin's ('-'), or {}. NULL after a message on stderr. */
static json_t *read_arguments(const char *text)
{
    grove_buf in = BUF_INIT(ARGS_MAX_BYTES);
    json_error_t jerr;
    json_t *v;
    char chunk[65536];
    ssize_t n;

    if (!text)
        return json_object();
    if (strcmp(text, "-") == 0) {
        while ((n = read(STDIN_FILENO, chunk, sizeof(chunk))) != 0) {
            if (n < 0) {
                perror("grove call: stdin");
                buf_free(&in);
                return NULL;
            }
            if (buf_add(&in, chunk, (size_t)n) != 0 || in.truncated) {
                fprintf(stderr, "grove call: the arguments on stdin are over 16 MiB\n");
                buf_free(&in);
                return NULL;
            }
        }
        v = json_loadb(in.data ? in.data : "", in.len, JSON_REJECT_DUPLICATES, &jerr);
        buf_free(&in);
    } else {
        v = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    }
    if (!v) {
        fprintf(stderr, "grove call: the arguments are not JSON: %s (line %d, column %d)\n",
                jerr.text, jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(v)) {
        fprintf(stderr, "grove call: the arguments must be a JSON object, like '{\"limit\": 5}'\n");
        json_decref(v);
        return NULL;
    }
    return v;
}

/* The index of tool `name`, or -1. */
static int find_tool(const mcp_tools *tools, const char *name)
{
    size_t i;

    for (i = 0; i < tools->count; i++)
        if (strcmp(tools->name(i), name) == 0)
            return (int)i;
    return -1;
}

int cmd_call(const mcp_tools *tools, int argc, char **argv)
{
    grove_ctx *ctx = NULL;
    grove_err err = GROVE_ERR_INIT;
    json_t *input = NULL, *spec = NULL, *shared = NULL, *out = NULL;
    const json_t *schema;
    grove_progress prog = {0};
    char msg[1024];
    const char *tool;
    int rc, idx, valid;
    args a;

    if ((rc = args_parse(&a, "call", flags, argc, argv)) != 0)
        return rc;
    if (a.help) {
        call_usage(stdout);
        return 0;
    }
    if (args_get(&a, flags, "list")) {
        if (a.npos) {
            fprintf(stderr, "grove call: --list takes no tool\n");
            return 2;
        }
        print_list(tools);
        return 0;
    }
    if (a.npos < 1 || a.npos > 2) {
        call_usage(stderr);
        return 2;
    }
    tool = a.pos[0];
    if ((idx = find_tool(tools, tool)) < 0) {
        fprintf(stderr, "grove call: unknown tool '%s' ('grove call --list' lists them)\n", tool);
        return 2;
    }
    if (!(input = read_arguments(a.npos == 2 ? a.pos[1] : NULL)))
        return 2;
    rc = 2;
    if (!(spec = tools->spec((size_t)idx, &shared, &err))) {
        fprintf(stderr, "grove call: %s\n", err.msg);
        rc = 1;
        goto done;
    }
    schema = json_object_get(spec, "inputSchema");
    valid = schema_validate(schema, schema, input, msg, sizeof(msg));
    if (!(ctx = cli_open_ctx("call", &a, flags, 1))) {
        rc = 1;
        goto done;
    }
    if (valid != 1) {
        tools->rejected(ctx, (size_t)idx, input, msg);
        fprintf(stderr, "grove call: invalid arguments for tool '%s': %s\n", tool, msg);
        goto done;
    }
    prog.emit = on_progress;
    prog.arg = (void *)(uintptr_t)tool; /* on_progress only reads it */
    if (tools->call(ctx, (size_t)idx, input, args_get(&a, flags, "progress") ? &prog : NULL, &out,
                    &err) != 0 ||
        !out) {
        fprintf(stderr, "grove call %s: %s\n", tool,
                err.msg[0] ? err.msg : "the tool failed without a message");
        rc = 1;
        goto done;
    }
    if (json_dumpf(out, stdout, JSON_COMPACT | JSON_ENSURE_ASCII) != 0 || putchar('\n') == EOF ||
        fflush(stdout) != 0) {
        perror("grove call: stdout");
        rc = 1;
        goto done;
    }
    rc = 0;
done:
    json_decref(out);
    json_decref(spec);
    json_decref(shared);
    json_decref(input);
    ctx_free(ctx);
    return rc;
}
