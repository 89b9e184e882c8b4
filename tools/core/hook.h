/*
 * hook: `grove hook STATE`, run by an agent's own hooks (Claude Code's,
 * given with --settings; CONTRACT §7) before and after every tool call and
 * at every turn. It records the agent's state and one event
 * (`hook:<event name>`), and never holds the agent up: the database is
 * opened without the repository, waited for at most HOOK_BUDGET_MS, and
 * every failure is a message on stderr, never an exit status the agent
 * would act on.
 */
#ifndef GROVE_HOOK_H
#define GROVE_HOOK_H

#include <stddef.h>

#include "tools/base/grove.h"

/* How long a hook waits for a locked database before it gives up (and writes nothing). */
#define HOOK_BUDGET_MS 1000.0

/* The most bytes of the hook's JSON input read. */
#define HOOK_INPUT_MAX (1u << 20)

/*
 * Records, for instance `id` in the database at db_path: agent_state from
 * `state` (starting, working, waiting, idle, exited), refined by the
 * hook's JSON input (n bytes; garbage is recorded as such): a
 * Notification whose notification_type does not ask for the person
 * (idle_prompt: idle; auth_success: no change) and the event with what is
 * useful in it (event name, notification type and message, tool name,
 * session id; secrets redacted). The agent CLI's session id is recorded.
 * When the state became waiting or exited, notify.command runs. Fails
 * (err) for a bad state, a database that is gone or stays locked, an
 * unknown or terminated instance: the caller says so and exits 0.
 */
int hook_run(const char *db_path, const char *id, const char *state, const char *input, size_t n,
             grove_err *err);

#endif
