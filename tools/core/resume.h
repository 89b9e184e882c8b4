/*
 * resume: relaunch an instance's agent in its existing worktree (after a
 * reboot took the tmux server, or an agent that exited), CONTRACT §7.
 */
#ifndef GROVE_RESUME_H
#define GROVE_RESUME_H

#include "db/queries.h"
#include "tools/core/context.h"

/*
 * Relaunches the agent of instance `id`: with its profile's `resume` argv
 * when the profile has one and the agent CLI's session id is known, else
 * with its `command` and a prompt made of `prompt` (NULL: a default asking
 * it to carry on) and its last checkpoint. The instance is running again
 * (a new block of ports when it had ended), agent_state `starting`. Needs
 * the caller's change right (§5). Refused (GROVE_ECONFLICT) while its agent
 * is alive, (GROVE_ENOTFOUND) when its worktree is gone; the profile
 * recorded at launch, else config agent.default, else custom, must still
 * be usable. *out gets the row afterwards (db_instance_free() it).
 */
int resume_instance(grove_ctx *ctx, const char *id, const char *prompt, grove_instance *out,
                    grove_err *err);

/*
 * The instances `grove resume --all` relaunches: ended because their agent
 * went away (a reboot, an agent that exited; not terminated on request),
 * not landed, worktree still there. *ids: *n malloc'd ids
 * (agent_free_list()).
 */
int resume_candidates(grove_ctx *ctx, char ***ids, size_t *n, grove_err *err);

#endif
