/*
 * agent: the processes grove starts and watches. Agents run in a detached
 * tmux session "grove-<instance id>" (agent_session_name()) on grove's own
 * tmux server (`tmux -L grove`; env GROVE_TMUX_SOCKET names another socket,
 * "default" means the user's own server) when tmux is installed, otherwise
 * as a detached process in a session of its own with its output in a log
 * file. Every tmux command goes through one function that adds the socket.
 *
 * Secrets stay out of what grove starts: tmux (so the server it starts
 * holds none in its global environment), agents and setup commands get
 * grove's environment without the variables agent_env_secret() names.
 * Each agent gets GROVE_INSTANCE_ID through its own session (-e).
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
 * element with `prompt` and every "{prompt_file}" with `prompt_file` (NULL =
 * ""), in one pass: a placeholder inside a replacement stays as it is. The
 * prompt stays one element whatever it holds. *uses_prompt_file (may be
 * NULL) is 1 when "{prompt_file}" occurs. Fails with GROVE_EINVAL when the
 * JSON is not a non-empty array of strings, or an element contains a NUL.
 * *out: NULL-terminated, free with agent_free_argv().
 */
int agent_build_command(const char *command_json, const char *prompt, const char *prompt_file,
                        char ***out, int *uses_prompt_file, grove_err *err);

/*
 * `s` with every keys[k] replaced by vals[k] (NULL: ""), k < n (n <= 32), in
 * one pass: a placeholder inside a replacement stays as it is. *used (may
 * be NULL) gets bit k set for each placeholder that occurs. Malloc'd, or
 * NULL when memory ran out. For agent commands and notify.command.
 */
char *agent_expand(const char *s, const char *const *keys, const char *const *vals, size_t n,
                   unsigned *used);

/* The values of an agent command's placeholders; NULL = "". */
typedef struct agent_vars {
    const char *prompt;      /* {prompt} */
    const char *prompt_file; /* {prompt_file} */
    const char *instance_id; /* {instance_id} */
    const char *session_id;  /* {session_id} */
} agent_vars;

/* agent_build_command() with every placeholder of the contract (§7). */
int agent_build_with(const char *command_json, const agent_vars *vars, char ***out,
                     int *uses_prompt_file, grove_err *err);

/* agent_build_command() without a prompt file. */
int agent_build_argv(const char *command_json, const char *prompt, char ***out, grove_err *err);
void agent_free_argv(char **argv);

/* 1 when `name` is an executable file: a path as given, else searched on PATH like execvp. */
int agent_find_program(const char *name);

/*
 * Starts argv (argv[0] resolved like execvp) in `cwd` (NULL: here), without
 * secrets in its environment, stdin, stdout and stderr on /dev/null, in a
 * session of its own, and does not wait for it: it is no child of this
 * process (so never a zombie of it). For notify.command. A program that is
 * not found: GROVE_ENOTFOUND.
 */
int agent_spawn_detached(char *const argv[], const char *cwd, grove_err *err);

/* 1 when the tmux program can be found on PATH. */
int agent_have_tmux(void);

/*
 * 1 when an environment entry ("NAME=VALUE", or a bare name) is a secret
 * that no agent, setup command or tmux server gets: its name suggests a
 * credential (secret_key_name(): GITHUB_TOKEN, GH_TOKEN, ...) or its value
 * holds a GitHub token. A name in `pass_env` (NULL-terminated, may be
 * NULL: the seam for a profile's pass_env) is never one.
 */
int agent_env_secret(const char *entry, const char *const *pass_env);

/*
 * The tmux socket name grove uses (-L): GROVE_TMUX_SOCKET, "grove" when it
 * is unset or empty; *name NULL for "default" (the user's own server).
 * GROVE_EINVAL for a value that is not a plain name.
 */
int agent_tmux_socket(const char **name, grove_err *err);

/*
 * The tmux session name of instance `id`: "grove-<id>", with '.' (which
 * tmux would turn into '_') written '+', a character no id holds. So
 * different ids never share a session and an id without '.' keeps
 * "grove-<id>". GROVE_EINVAL for an id grove would not make.
 */
int agent_session_name(const char *id, char *out, size_t n, grove_err *err);

/*
 * 0 when argv fits on the command line that starts it: under tmux
 * (use_tmux) the whole tmux command is at most 16364 bytes, of which grove
 * keeps 4096 for itself; without, Linux takes 131072 bytes per argument.
 * GROVE_EINVAL otherwise, naming the limit and saying to use {prompt_file}.
 */
int agent_argv_fits(char *const argv[], int use_tmux, grove_err *err);

/* What to launch. */
typedef struct agent_spec {
    const char *id;       /* the instance; becomes GROVE_INSTANCE_ID */
    const char *cwd;      /* the folder it runs in */
    char *const *argv;    /* the program and its arguments */
    const char *log_path; /* without tmux: stdout and stderr go here (NULL: /dev/null) */
    int use_tmux;         /* 0: never tmux */
    /* names of secret variables this agent may see (a profile's pass_env); NULL: none */
    const char *const *pass_env;
    /* "NAME=VALUE" variables added to its environment (GROVE_PORT, ...); NULL: none */
    const char *const *env;
    /*
     * Under tmux, the values of pass_env variables reach the agent through a
     * private file, never a command line: this grove's absolute path (it runs
     * `<self> exec-env FILE -- argv`, agent_exec_env()) and the private
     * folder (0700) the file is written in. NULL: pass_env values do not
     * reach an agent under tmux.
     */
    const char *self;
    const char *secrets_dir;
} agent_spec;

/* What agent_launch started. */
typedef struct agent_handle {
    char session[160];        /* tmux session name, "" when started without tmux */
    long long pid;            /* the agent process (the tmux pane's process), 0 if unknown */
    unsigned long long start; /* when pid started (agent_process_start()), 0 if unknown */
} agent_handle;

/*
 * Starts s->argv in s->cwd with GROVE_INSTANCE_ID=<id> added to its
 * environment and secrets taken out (agent_env_secret()). With tmux: one
 * tmux command `new-session -d -s <agent_session_name(id)> -c cwd -e
 * GROVE_INSTANCE_ID=<id> -- env [-u SECRET]... argv ; set-option -t
 * =<session>: @grove_instance <id>` running argv directly (never `sh -c`);
 * the option marks the session as the instance's, and `env -u` takes out
 * secrets that a tmux server grove did not start may hold. Without tmux
 * (or when use_tmux is 0): posix_spawnp with a new session (setsid), stdin
 * from /dev/null, stdout and stderr appended to log_path (its folder is
 * created 0700). A session that already exists: GROVE_ECONFLICT. A command
 * line too long for tmux or the kernel: GROVE_EINVAL (agent_argv_fits()).
 */
int agent_launch(const agent_spec *s, agent_handle *out, grove_err *err);

/*
 * `grove exec-env FILE -- argv`: reads "NAME=VALUE" entries (NUL-separated)
 * from FILE, which must be a regular file of this user with mode 0600 (not
 * a symlink), removes it, adds them to the environment and executes argv
 * (searched on PATH). Returns only on failure (err filled; the file is
 * removed whenever it could be opened).
 */
int agent_exec_env(const char *file, char *const argv[], grove_err *err);

/* An agent as grove recorded it, for agent_stop() and agent_send_keys(). */
typedef struct agent_ref {
    const char *instance_id;  /* whose agent it is */
    const char *session;      /* tmux session; NULL or "": none */
    long long pid;            /* the agent process; 0: none */
    unsigned long long start; /* when pid started, as recorded at launch; 0: unknown */
} agent_ref;

/*
 * 1 when the agent still runs: its tmux session exists with its program
 * running (a dead pane stays, with its output: remain-on-exit), or its pid is alive
 * (a zombie child of this process is reaped and counts as gone). 0 when
 * both are gone. session may be NULL or "", pid 0.
 */
int agent_alive(const char *session, long long pid);

/*
 * The names of all live tmux sessions (a pane whose program runs), one call to `tmux list-panes`,
 * as a malloc'd array of malloc'd strings (*n entries). No tmux or no server: 0 entries. For
 * reconciling many instances at once.
 */
int agent_list_sessions(char ***out, size_t *n, grove_err *err);
void agent_free_list(char **list, size_t n);

/* One pane on grove's tmux server, as agent_list_panes() saw it. */
typedef struct agent_pane {
    char *session;      /* owned: its session's name */
    int dead;           /* 1: its program exited (remain-on-exit keeps the pane and its output) */
    long long activity; /* its window's last output, seconds since the epoch (#{window_activity}) */
    long long pid;      /* the pane's process */
} agent_pane;

/*
 * Every pane on grove's tmux server, one `tmux list-panes -a`: *out gets
 * *n entries (free with agent_free_panes()). No tmux or no server: none.
 */
int agent_list_panes(agent_pane **out, size_t *n, grove_err *err);
void agent_free_panes(agent_pane *v, size_t n);

/*
 * What agent a shows: its pane's text (`tmux capture-pane -J`: wrapped
 * lines joined, no escape sequences) from `lines` lines of history above
 * the screen to the screen's end, after the same owner check as
 * agent_stop() (another's session: GROVE_ECONFLICT). A dead pane (the agent
 * exited) still shows its last output. *text malloc'd. No session:
 * GROVE_ENOTFOUND.
 */
int agent_capture(const agent_ref *a, int lines, char **text, grove_err *err);

/*
 * Attaches this process's terminal (stdin, stdout, stderr) to agent a's
 * tmux session on grove's server (`tmux -L <socket> attach-session -t
 * =<session>`; inside a client of the user's own server, socket
 * "default", `switch-client` instead) and waits until the person
 * detaches; after the same owner check as agent_stop() (another's
 * session: GROVE_ECONFLICT). SIGINT and SIGQUIT are ignored here
 * meanwhile, as system() does. *exit_status: tmux's exit code (or 128 +
 * signal). No session: GROVE_ENOTFOUND; tmux not installed: GROVE_ENOTFOUND.
 */
int agent_attach(const agent_ref *a, int *exit_status, grove_err *err);

/* 1 when `pid` (> 0) is a live process (zombie children reaped). */
int agent_pid_alive(long long pid);

/*
 * Stops an agent. Its session is killed only when it is the agent's:
 * its owner mark is a->instance_id, its pane runs a->pid (when recorded)
 * and that process started at a->start (when recorded); another's:
 * GROVE_ECONFLICT, and nothing is stopped. Then a->pid and its process
 * group get SIGTERM (SIGKILL after up to 2 s), but only when the process
 * with that pid started at a->start: a pid whose start time differs is
 * another process's now (the agent is gone), and one with no recorded
 * start time is refused (GROVE_EINVAL). Already gone is not an error.
 */
int agent_stop(const agent_ref *a, grove_err *err);

/*
 * Delivers `text` into a->session, after the same check as agent_stop()
 * (another's session: GROVE_ECONFLICT), as one bracketed paste (tmux
 * load-buffer from a 0600 file, paste-buffer -p: the brackets go around it
 * when the program asked for bracketed paste), then presses Enter. The
 * text loses what a terminal would act on first: C0 control characters
 * but newline and tab, DEL and C1, so it can neither interrupt the program
 * (^C, ^D), answer a prompt on its own (CR) nor end the paste (ESC[201~).
 * GROVE_ENOTFOUND when the session does not exist.
 */
int agent_send_keys(const agent_ref *a, const char *text, grove_err *err);

/*
 * Writes `prompt` to <dir>/<id>.prompt (mode 0600; dir is created 0700,
 * and must be a folder of ours that no one else can read), replacing an
 * earlier one. *path: malloc'd. For "{prompt_file}".
 */
int agent_prompt_file_write(const char *dir, const char *id, const char *prompt, char **path,
                            grove_err *err);

/* Removes <dir>/<id>.prompt; one that is not there is fine. */
void agent_prompt_file_remove(const char *dir, const char *id);

/*
 * Runs argv in `cwd` to completion (a worktree's setup command), without
 * secrets in its environment (agent_env_secret()), stdin from /dev/null, stdout and stderr appended
 * to `log_path`, killed after `timeout_s` seconds. *exit_status: the exit code, or 128 + signal.
 * Returns -1 only when the program could not be started at all (err filled).
 */
int agent_run(char *const argv[], const char *cwd, const char *log_path, int timeout_s,
              int *exit_status, grove_err *err);

/* Called by agent_run_watched() right after the start, with the child's pid (= its group). */
typedef void (*agent_started_fn)(void *arg, long long pgid);

/*
 * agent_run() with the "NAME=VALUE" variables `env_add` (may be NULL) added
 * to its environment, that tells `started` (may be NULL) the process group it
 * started: the program leads a group of its own, which everything it
 * starts joins, so that the whole of it can be stopped after grove is
 * gone (agent_group_kill()).
 */
int agent_run_watched(char *const argv[], const char *cwd, const char *const *env_add,
                      const char *log_path, int timeout_s, agent_started_fn started, void *arg,
                      int *exit_status, grove_err *err);

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
