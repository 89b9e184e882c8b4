/*
 * notify: config notify.command (a JSON argv; {instance_id}, {state} and
 * {message} replaced inside its elements) runs when an instance's agent
 * becomes `waiting` (it needs the person) or `exited` on its own. It runs
 * detached, never waited for, without secrets in its environment; a
 * command that cannot run is logged, never an error of the caller.
 */
#ifndef GROVE_NOTIFY_H
#define GROVE_NOTIFY_H

#include "tools/core/context.h"

/* Runs notify.command, if configured, for instance `id` now in `state`; `message` may be NULL. */
void notify_state(grove_ctx *ctx, const char *id, const char *state, const char *message);

/*
 * The argv of notify.command `command_json` for one notification
 * (agent_free_argv() it). GROVE_EINVAL for a command that is not a
 * non-empty JSON array of strings.
 */
int notify_argv(const char *command_json, const char *id, const char *state, const char *message,
                char ***out, grove_err *err);

#endif
