/* grove exec-env: how an agent under tmux gets the credentials its profile passes (pass_env). */
#include <stdio.h>
#include <string.h>

#include "tools/agents/agent.h"
#include "tools/cli/cli.h"

int cmd_exec_env(int argc, char **argv)
{
    grove_err err = GROVE_ERR_INIT;

    if (argc == 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        printf("usage: grove exec-env FILE -- PROGRAM [ARGS...]\n\n"
               "Run by grove in an agent's tmux session: adds the NAME=VALUE entries of FILE\n"
               "(a private file grove wrote, removed once read) to the environment and runs\n"
               "PROGRAM, so that credentials an agent profile passes (pass_env) never appear on\n"
               "a command line.\n");
        return 0;
    }
    if (argc < 3 || strcmp(argv[1], "--") != 0) {
        fprintf(stderr, "grove exec-env: usage: grove exec-env FILE -- PROGRAM [ARGS...]\n");
        return 2;
    }
    agent_exec_env(argv[0], argv + 2, &err);
    fprintf(stderr, "grove exec-env: %s\n", err.msg);
    return 127;
}
