/*
 * instance: what the tool handlers share. Reading arguments (already
 * validated against the tool's inputSchema), resolving which instance a
 * call is about, parsing `issue`, allocating instance ids, and making a
 * new instance (worktree + row) with full cleanup on failure.
 */
#ifndef GROVE_INSTANCE_H
#define GROVE_INSTANCE_H

#include "db/queries.h"
#include "tools/agents/agent.h"
#include "tools/agents/profile.h"
#include "tools/core/context.h"

/* An agent that printed within this many seconds is `working` (without hooks). */
#define WORKING_WINDOW_S 3
/* How many of an agent's last lines its waiting_pattern is matched against. */
#define WAITING_LINES 20

/* An `issue` argument: a GitHub number (number > 0) or a beads id (beads[0] != 0), or neither. */
typedef struct issue_ref {
    long long number;
    char beads[65];
} issue_ref;

/* The largest GitHub issue number grove takes (2^53 - 1: exact in a JSON number). */
#define ISSUE_NUMBER_MAX 9007199254740991LL

/*
 * Parses an issue given as text (n bytes of s): a string of digits
 * (GitHub), or a beads id ([A-Za-z0-9][A-Za-z0-9._-]{0,63}). "ready" is
 * refused (beads mode handles it before). GROVE_EINVAL with a clear message.
 */
int instance_parse_issue(const char *s, size_t n, issue_ref *out, grove_err *err);

/*
 * The issue an instance is tied to, as an issue_ref (both parts empty when
 * none): what a review or fork of it is tied to. A stored issue grove could
 * not have made: GROVE_EINVAL as instance_parse_issue()'s.
 */
int instance_issue(const grove_instance *inst, issue_ref *out, grove_err *err);

/* Writes "{type}-{issue}-a{n}" or "{type}-a{n}" into buf. 0, or -1 if it does not fit. */
int instance_format_id(char *buf, size_t len, const char *type, const issue_ref *issue, int n);

/*
 * Loads instance `id` into *out (zeroed first; the caller frees it with
 * db_instance_free(), also after a failure), or fails with GROVE_ENOTFOUND.
 */
int instance_load(grove_ctx *ctx, const char *id, grove_instance *out, grove_err *err);

/* What a new instance is made from; strings borrowed. */
typedef struct instance_spec {
    const char *type; /* work | review | adhoc */
    issue_ref issue;
    const char *base_branch;      /* recorded as the instance's base */
    const char *base_commit;      /* recorded base commit (what ahead/behind compare with) */
    const char *start_commit;     /* where the new branch starts */
    const char *prompt;           /* recorded prompt, and the agent's {prompt} */
    const char *parent_id;        /* with relationship: recorded as parent -> child */
    const char *relationship;     /* spawned_review | created_fork | spawned_work | NULL */
    const agent_profile *profile; /* the agent to launch, or NULL for none */
} instance_spec;

/*
 * Whether a new instance gets an agent, and which: `launch` 1 or 0 as
 * asked, -1 for the default (launch when `agent` names a profile, or
 * config agent.default or an agent command is configured). The profile is
 * `agent`, else config agent.default, else `custom` (GROVE_AGENT_COMMAND /
 * agent.command). *launching is 1 when *out holds the profile (checked:
 * its program exists); the caller profile_free()s *out either way. Launch
 * without any agent configured, an unknown profile, a profile whose
 * program is missing: GROVE_EINVAL, before anything is made.
 */
int instance_agent_choice(grove_ctx *ctx, int launch, const char *agent, agent_profile *out,
                          int *launching, grove_err *err);

/* The agent profile named `name` (see profile_resolve()), from this repository's settings. */
int instance_profile(grove_ctx *ctx, const char *name, agent_profile *out, grove_err *err);

/* The private folder of files grove writes for agents: <git common dir>/grove/agents. Malloc'd. */
char *instance_agent_files_dir(grove_ctx *ctx);

/*
 * Launches (resume 0) or resumes (resume 1) the agent of recorded instance
 * `id` in `path` with profile p, and records it (session, pid, start
 * time, profile, CLI session id `session_id` or a new one, state
 * `starting`). On failure nothing of it is left running.
 */
int instance_launch_agent(grove_ctx *ctx, const agent_profile *p, int resume, const char *id,
                          const char *path, const char *prompt, const char *session_id,
                          const char *const *env, grove_err *err);

/* How config worktrees.setup_command went for a new instance. */
typedef struct instance_setup {
    int ran;       /* 0: no setup command is configured (the rest is unset) */
    int exit_code; /* the command's exit status (0 = ok); meaningless when error is set */
    char *log;     /* owned: the log file its output went to */
    char *error;   /* owned: why it could not run at all, or NULL */
} instance_setup;

/* What instance_create() made. */
typedef struct instance_created {
    grove_instance instance; /* the recorded row, as read back */
    instance_setup setup;
} instance_created;

/* Frees what *c owns (not c itself) and zeroes it. NULL is a no-op. */
void instance_created_free(instance_created *c);

/*
 * Makes a new instance: allocates the id; creates branch and worktree
 * (locked "initializing" meanwhile); copies the .worktreeinclude files;
 * runs config worktrees.setup_command; records the row (and relationship);
 * unlocks; launches the agent when spec->profile is set. Progress
 * steps 1..6 of 6 when p is set. On failure nothing is left: no worktree,
 * no branch, no row. A failing setup command does not fail the call: it is
 * reported in out->setup and in the instance's metadata ("setup"). *out is
 * zeroed first; the caller frees it with instance_created_free().
 */
int instance_create(grove_ctx *ctx, const instance_spec *spec, const grove_progress *p,
                    instance_created *out, grove_err *err);

/* The log file of instance `id`: <database folder>/logs/<id>.log. Malloc'd. */
char *instance_log_path(grove_ctx *ctx, const char *id);

/*
 * The folder of prompt files ("{prompt_file}" in an agent command):
 * <git common dir>/grove/prompts, mode 0700, outside every worktree (git
 * status never sees it). Malloc'd.
 */
char *instance_prompt_dir(grove_ctx *ctx);

/* Removes instance `id`'s prompt file and its agent's other files, if any (its agent is stopped).
 */
void instance_forget_prompt(grove_ctx *ctx, const char *id);

/*
 * The agent of `inst` as recorded at its launch (session, pid and the
 * pid's start time, which lives in the metadata as "agent_start"), for
 * agent_stop() and agent_send_keys(). out borrows inst's strings.
 */
int instance_agent_ref(grove_ctx *ctx, const grove_instance *inst, agent_ref *out, grove_err *err);

/*
 * Liveness and agent state: every running instance with an agent whose
 * tmux session and process are both gone, or whose pane is dead (the
 * agent exited; remain-on-exit keeps its output), is marked terminated
 * (agent_state `exited`, notify.command runs). For live agents whose
 * profile has no hooks, agent_state follows the pane: output in the last
 * WORKING_WINDOW_S seconds `working`, the profile's waiting_pattern over
 * the last WAITING_LINES lines `waiting`, else `idle`. One `tmux
 * list-panes` per call. Runs before every read of instances. *ended (may
 * be NULL) gets how many were marked.
 */
int instance_reconcile_all(grove_ctx *ctx, size_t *ended, grove_err *err);

/*
 * Sets the agent state of running instance `id` and, when it changed to
 * `waiting` or `exited`, runs notify.command (notify_state()).
 */
int instance_set_agent_state(grove_ctx *ctx, const char *id, const char *state, const char *message,
                             grove_err *err);

/*
 * Every instance (with status `status`, or any when NULL), oldest first,
 * read page by page, into *out (zeroed first; the caller frees it with
 * db_instance_list_free()).
 */
int instance_list_all(grove_ctx *ctx, const char *status, grove_instance_list *out, grove_err *err);

/* Why reconciliation ended an instance (its metadata "ended"): what `grove resume --all` resumes.
 */
#define INSTANCE_ENDED_AGENT_GONE "the agent's session and process are gone"

/*
 * Records in instance `id`'s metadata why it ended ({"ended": why}), for
 * whoever marks it terminated (reconciliation, gc).
 */
int instance_note_ended(grove_ctx *ctx, const char *id, const char *why, grove_err *err);

/*
 * 1 when `path` is a folder grove may delete: strictly inside the worktrees
 * base (after resolving symlinks) and not the main worktree; else 0.
 */
int instance_path_removable(grove_ctx *ctx, const char *path);

/*
 * A named moment in a multi-step change (a crash window). When the
 * environment variable GROVE_TEST_KILL_AT equals `name`, the process kills
 * itself there with SIGKILL, as `kill -9` at that moment would: the crash
 * tests (tests/stress/crash_windows.py) use it to reach each window
 * deterministically. Otherwise it does nothing.
 */
void instance_kill_point(const char *name);

#endif
