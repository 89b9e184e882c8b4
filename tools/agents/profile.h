/*
 * profile: how an agent CLI is started, resumed and connected to grove
 * (CONTRACT §7). A profile is a JSON object {command, resume, hooks,
 * waiting_pattern, pass_env}: config agent.profiles maps names to them;
 * `claude`, `codex` and `gemini` are built in with their real command
 * lines, `custom` is GROVE_AGENT_COMMAND / agent.command.
 *
 * Connecting: when a profile's program is one of the three CLIs (by its
 * file name), grove hands it, on its command line or environment and never
 * in the user's or the worktree's files, an MCP server `grove` that runs
 * this grove's `serve` for the instance, with grove's tools pre-approved:
 *   claude  --mcp-config <json> --allowedTools mcp__grove [--settings <hooks json>]
 *   codex   -c mcp_servers.grove={command=..., args=[...], env={...}, ...}
 *   gemini  GEMINI_CLI_SYSTEM_DEFAULTS_PATH=<a private file grove writes>
 * inserted right after the program, before the profile's own arguments.
 */
#ifndef GROVE_PROFILE_H
#define GROVE_PROFILE_H

#include "tools/agents/agent.h"
#include "tools/base/grove.h"

/* Which agent CLI a program is. */
typedef enum agent_cli {
    AGENT_CLI_OTHER = 0,
    AGENT_CLI_CLAUDE,
    AGENT_CLI_CODEX,
    AGENT_CLI_GEMINI,
} agent_cli;

typedef struct agent_profile {
    char name[64];
    char *command;         /* owned: JSON argv */
    char *resume;          /* owned: JSON argv, or NULL */
    int hooks;             /* 1: hooks "claude" (state from Claude Code's hooks) */
    char *waiting_pattern; /* owned: extended regex over the last lines, or NULL */
    char **pass_env;       /* owned, NULL-terminated; never NULL after profile_resolve() */
    agent_cli cli;         /* by the file name of the command's program */
} agent_profile;

/* The names of the built-in profiles, NULL-terminated. */
extern const char *const PROFILE_BUILTIN[];

/*
 * Profile `name` into *out (profile_free() it, also after a failure):
 * from `profiles_json` (config agent.profiles, may be NULL) first, then
 * the built-ins; "custom" takes its command from `custom_command`
 * (GROVE_AGENT_COMMAND / agent.command) unless agent.profiles defines it.
 * Unknown name, a profile that is not an object, a command that is not a
 * non-empty array of strings, hooks other than "claude"/"none", a
 * waiting_pattern that does not compile: GROVE_EINVAL naming the problem.
 */
int profile_resolve(const char *profiles_json, const char *custom_command, const char *name,
                    agent_profile *out, grove_err *err);
void profile_free(agent_profile *p);

/* What the agent is connected with. Strings borrowed. */
typedef struct agent_link {
    const char *grove;       /* this grove's absolute path */
    const char *db;          /* the database's absolute path */
    const char *instance_id; /* the instance */
    const char *files_dir;   /* a private folder (0700) for files grove writes for the agent */
} agent_link;

/*
 * The argv that starts (resume 0) or resumes (resume 1: the profile's
 * `resume`) the agent: the profile's argv with vars put in, and for the
 * three CLIs the connection to grove inserted after the program. *env_add
 * (NULL-terminated "NAME=VALUE", owned; NULL when none) is added to its
 * environment. Free both with agent_free_argv().
 */
int profile_argv(const agent_profile *p, int resume, const agent_vars *vars, const agent_link *link,
                 char ***argv, char ***env_add, grove_err *err);

/* The JSON of Claude Code's --settings that reports its state through `grove hook` (malloc'd). */
char *profile_claude_hooks(const agent_link *link);

/* A random UUID (version 4) as text into out[37], for a CLI's --session-id. */
void profile_new_uuid(char out[37]);

/*
 * Removes the files grove wrote for instance `id`'s agent in files_dir:
 * profile_argv()'s, and an unread pass_env file of agent_launch().
 */
void profile_forget(const char *files_dir, const char *id);

#endif
