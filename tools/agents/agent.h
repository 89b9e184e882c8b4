/*
 * agent: the processes grove starts and watches. Agents run in a detached
 * tmux session "grove-<instance id>" when tmux is installed, otherwise as a
 * detached process in a session of its own with its output in a log file.
 * Nothing ever goes through a shell: every program is started with an argv
 * (posix_spawnp), and text typed into a session is sent with
 * `tmux send-keys -l` as one literal argument.
 *
 * Every child gets the default signal dispositions and an empty signal mask
 * (grove serve blocks SIGTERM/SIGINT and ignores SIGPIPE itself).
 */
#ifndef GROVE_AGENT_H
#define GROVE_AGENT_H

#include "tools/base/grove.h"

/*
 * Builds an argv from a JSON array of strings (`command_json`, e.g.
 * ["claude","--print","{prompt}"]), replacing every "{prompt}" inside an
 * element with `prompt` (NULL = ""). The prompt stays one element whatever it
 * holds. Fails with GROVE_EINVAL when the JSON is not a non-empty array of
 * strings, or an element contains a NUL. *out: NULL-terminated, free with
 * agent_free_argv().
 */
int agent_build_argv(const char *command_json, const char *prompt, char ***out, grove_err *err);
void agent_free_argv(char **argv);

/* 1 when `name` is an executable file: a path as given, else searched on PATH like execvp. */
int agent_find_program(const char *name);

/* 1 when the tmux program can be found on PATH. */
int agent_have_tmux(void);

/* What agent_launch started. */
typedef struct agent_handle {
    char session[160]; /* tmux session name, "" when started without tmux */
    long long pid;     /* the agent process (the tmux pane's process), 0 if unknown */
} agent_handle;

/*
 * Starts argv in `cwd` with GROVE_INSTANCE_ID=`id` added to its
 * environment. With tmux: `tmux new-session -d -s grove-<id> -c cwd` running
 * argv directly (never `sh -c`). Without tmux (or when `use_tmux` is 0):
 * posix_spawnp with a new session (setsid), stdin from /dev/null, stdout and
 * stderr appended to `log_path` (its folder is created 0700). A session that
 * already exists: GROVE_ECONFLICT.
 */
int agent_launch(const char *id, const char *cwd, char *const argv[], const char *log_path,
                 int use_tmux, agent_handle *out, grove_err *err);

/*
 * 1 when the agent still runs: its tmux session exists, or its pid is alive
 * (a zombie child of this process is reaped and counts as gone). 0 when
 * both are gone. session may be NULL or "", pid 0.
 */
int agent_alive(const char *session, long long pid);

/*
 * The names of all live tmux sessions, one call to `tmux list-sessions`, as
 * a malloc'd array of malloc'd strings (*n entries). No tmux or no server:
 * 0 entries. For reconciling many instances at once.
 */
int agent_list_sessions(char ***out, size_t *n, grove_err *err);
void agent_free_list(char **list, size_t n);

/* 1 when `pid` (> 0) is a live process (zombie children reaped). */
int agent_pid_alive(long long pid);

/*
 * Stops an agent: kills the tmux session when there is one, and sends
 * SIGTERM to the process group of pid (then SIGKILL after a grace period of
 * up to 2 s). Already gone is not an error.
 */
int agent_stop(const char *session, long long pid, grove_err *err);

/*
 * Delivers `text` into the tmux session as one bracketed paste (tmux
 * load-buffer from a 0600 file, paste-buffer -p: the brackets go around it
 * when the program asked for bracketed paste), then presses Enter. The
 * text loses what a terminal would act on first: C0 control characters
 * but newline and tab, DEL and C1, so it can neither interrupt the program
 * (^C, ^D), answer a prompt on its own (CR) nor end the paste (ESC[201~).
 * GROVE_ENOTFOUND when the session does not exist.
 */
int agent_send_keys(const char *session, const char *text, grove_err *err);

/*
 * Runs argv in `cwd` to completion (a worktree's setup command), stdin from
 * /dev/null, stdout and stderr appended to `log_path`, killed after
 * `timeout_s` seconds. *exit_status: the exit code, or 128 + signal. Returns
 * -1 only when the program could not be started at all (err filled).
 */
int agent_run(char *const argv[], const char *cwd, const char *log_path, int timeout_s,
              int *exit_status, grove_err *err);

/* Called by agent_run_watched() right after the start, with the child's pid (= its group). */
typedef void (*agent_started_fn)(void *arg, long long pgid);

/*
 * agent_run() that tells `started` (may be NULL) the process group it
 * started: the program leads a group of its own, which everything it
 * starts joins, so that the whole of it can be stopped after grove is
 * gone (agent_group_kill()).
 */
int agent_run_watched(char *const argv[], const char *cwd, const char *log_path, int timeout_s,
                      agent_started_fn started, void *arg, int *exit_status, grove_err *err);

/* The start time of process `pid` (clock ticks after boot, from /proc), 0 when unknown. */
unsigned long long agent_process_start(long long pid);

/*
 * Kills (SIGKILL) every process of process group `pgid` that an earlier
 * grove started (agent_run_watched()), and waits up to 2 s until none is
 * left. `start` is the start time of its leader as recorded then (0:
 * unknown): a live leader that started at another time is an unrelated
 * process that got the same pid, and is left alone. *killed (may be NULL)
 * gets how many processes there were. Nothing left to kill is not an error.
 */
int agent_group_kill(long long pgid, unsigned long long start, size_t *killed, grove_err *err);

#endif
