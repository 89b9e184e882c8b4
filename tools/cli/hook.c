/* grove hook: an agent's hook reports its state (see tools/core/hook.h). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/base/buf.h"
#include "tools/cli/args.h"
#include "tools/cli/cli.h"
#include "tools/core/hook.h"

/* Reads stdin (a hook's JSON) up to HOOK_INPUT_MAX, waiting at most HOOK_BUDGET_MS in all. */
static void read_input(grove_buf *b)
{
    double until = grove_now_ms() + HOOK_BUDGET_MS;

    for (;;) {
        struct pollfd pf = {STDIN_FILENO, POLLIN, 0};
        double left = until - grove_now_ms();
        char chunk[8192];
        ssize_t r;

        if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
            return;
        r = read(STDIN_FILENO, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || buf_add(b, chunk, (size_t)r) != 0)
            return;
    }
}

int cmd_hook(int argc, char **argv)
{
    static const arg_flag flags[] = {{"instance", 1}, {"db", 1}, {NULL, 0}};
    grove_buf in = BUF_INIT(HOOK_INPUT_MAX);
    grove_err err = GROVE_ERR_INIT;
    args a;

    /* Never an exit status the agent acts on (2 would block its tool call): always 0. */
    if (args_parse(&a, "hook", flags, argc, argv) != 0)
        return 0;
    if (a.help) {
        printf("usage: grove hook STATE --instance ID --db FILE\n\n"
               "Run by an agent's hooks (grove passes them to Claude Code with --settings):\n"
               "records STATE (starting, working, waiting, idle or exited) as the instance's\n"
               "agent_state and the hook's JSON on stdin as an event (hook:<event name>).\n"
               "It never holds the agent up: it waits at most a second for the database and\n"
               "always exits 0; what went wrong is said on stderr.\n");
        return 0;
    }
    if (a.npos != 1) {
        fprintf(stderr, "grove hook: expected one STATE; nothing recorded\n");
        return 0;
    }
    read_input(&in);
    if (hook_run(args_get(&a, flags, "db"), args_get(&a, flags, "instance"), a.pos[0], buf_str(&in),
                 in.len, &err) != 0)
        fprintf(stderr, "grove hook: %s\n", err.msg);
    buf_free(&in);
    return 0;
}
