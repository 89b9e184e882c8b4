/* grove resume: relaunch agents in their worktrees (see tools/core/resume.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/agents/agent.h"
#include "tools/cli/args.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_common.h"
#include "tools/core/resume.h"

/* Resumes one instance and says so; 0 or 1. */
static int resume_one(grove_ctx *ctx, const char *id, const char *prompt)
{
    grove_instance inst = {0};
    grove_err err = GROVE_ERR_INIT;

    if (resume_instance(ctx, id, prompt, &inst, &err) != 0) {
        fprintf(stderr, "grove resume: %s: %s\n", id, err.msg);
        return 1;
    }
    printf("%s\tresumed (%s, session %s)\n", inst.id, cli_or(inst.agent_profile, "?"),
           cli_or(inst.session_name, "none"));
    db_instance_free(&inst);
    return 0;
}

int cmd_resume(int argc, char **argv)
{
    static const arg_flag flags[] = {{"repo", 1}, {"db", 1}, {"all", 0}, {"prompt", 1}, {NULL, 0}};
    grove_err err = GROVE_ERR_INIT;
    grove_ctx *ctx;
    char **ids = NULL;
    size_t n = 0, i;
    args a;
    int rc, all;

    if ((rc = args_parse(&a, "resume", flags, argc, argv)) != 0)
        return rc;
    if (a.help) {
        printf("usage: grove resume ID [--prompt TEXT] | grove resume --all [--prompt TEXT]\n"
               "                    [--repo DIR] [--db FILE]\n\n"
               "Relaunches an instance's agent in its existing worktree (after a reboot, or an\n"
               "agent that exited): with its CLI's own resume when its session id is known\n"
               "(claude --resume), else a fresh start told --prompt (default: carry on) and its\n"
               "last checkpoint. Refused while the agent runs or when the worktree is gone.\n"
               "--all resumes every instance whose agent went away (not those terminated on\n"
               "request, nor landed ones). Exit 1 when any could not be resumed.\n");
        return 0;
    }
    all = args_get(&a, flags, "all") != NULL;
    if (all == (a.npos == 1) || a.npos > 1) {
        fprintf(stderr, "grove resume: give one instance ID, or --all\n");
        return 2;
    }
    if (!(ctx = cli_open_ctx("resume", &a, flags, 1)))
        return 1;
    rc = 0;
    if (!all) {
        rc = resume_one(ctx, a.pos[0], args_get(&a, flags, "prompt"));
    } else if (resume_candidates(ctx, &ids, &n, &err) != 0) {
        fprintf(stderr, "grove resume: %s\n", err.msg);
        rc = 1;
    } else {
        if (n == 0)
            printf("nothing to resume\n");
        for (i = 0; i < n; i++)
            rc |= resume_one(ctx, ids[i], args_get(&a, flags, "prompt"));
    }
    agent_free_list(ids, n);
    ctx_free(ctx);
    return rc;
}
