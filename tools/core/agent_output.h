/*
 * agent_output: what an instance's agent shows now (read_agent_output,
 * grove watch): its tmux pane (an exited agent's last output stays), or
 * the tail of its log file when it runs without tmux; escape sequences
 * removed, secrets redacted, at most `lines` lines.
 */
#ifndef GROVE_AGENT_OUTPUT_H
#define GROVE_AGENT_OUTPUT_H

#include "tools/core/context.h"

/* The most lines read_agent_output returns, and its default. */
#define OUTPUT_LINES_MAX     5000
#define OUTPUT_LINES_DEFAULT 200

typedef struct agent_output {
    char *text;           /* owned: the last lines, "" when it printed nothing */
    int lines;            /* how many lines text holds */
    char agent_state[16]; /* the instance's agent_state when read */
    char captured_at[32]; /* when (UTC ISO 8601) */
} agent_output;

void agent_output_free(agent_output *o);

/*
 * Reads instance `id`'s agent output (after the liveness and state check
 * of instance_reconcile_all()). An unknown instance: GROVE_ENOTFOUND; one
 * that never had an agent, or whose session and log are both gone:
 * GROVE_ENOTFOUND saying so. lines: 1..OUTPUT_LINES_MAX.
 */
int agent_output_read(grove_ctx *ctx, const char *id, int lines, agent_output *out, grove_err *err);

#endif
