/*
 * agent: starting, watching, stopping and typing into agent processes.
 * See agent.h for the contract. Every program is started with posix_spawnp
 * and an argv; nothing here ever runs a shell.
 *
 * tmux facts this file relies on (checked against tmux 3.3a):
 * - `new-session` with two or more command arguments execs them directly
 *   (one argument would go through `sh -c`), so we always prepend
 *   `env GROVE_INSTANCE_ID=<id>`.
 * - The values of `new-session -s` and `-c` are format-expanded, and a
 *   format may hold `#(command)`, which tmux runs through a shell. So the
 *   instance id is restricted to [A-Za-z0-9._-] and every '#' of the folder
 *   is doubled. Target (-t) values and send-keys -l text are not expanded.
 * - tmux turns '.' and ':' of a session name into '_'.
 * - `-t =name` matches a session name exactly; send-keys needs a pane
 *   target, "=name:" (plain "=name" fails with "can't find pane").
 * - A client message is limited to about 16 KiB ("command too long"), so
 *   long text is sent in several send-keys calls.
 */
#include "tools/agents/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <dirent.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tools/base/buf.h"
#include "tools/base/io.h"
#include "tools/base/secret.h"

extern char **environ;

#define TMUX_TIMEOUT_MS   10000.0
#define TMUX_OUT_MAX      (4u << 20) /* bytes of tmux stdout kept */
#define TMUX_ERR_MAX      512        /* bytes of tmux stderr kept */
#define STOP_GRACE_MS     2000.0
#define STOP_KILL_WAIT_MS 1000.0
#define ID_MAX            128
/*
 * The bytes of one tmux command line (its arguments, each with its NUL)
 * that a client can send: a client message is at most 16384 bytes, less
 * a 16-byte header and the 4-byte argument count (measured with tmux
 * 3.3a: 16364 bytes pass, 16365 give "command too long").
 */
#define TMUX_CMD_MAX 16364u
/* What grove adds around an agent's argv in new-session (session, folder, variables). */
#define TMUX_CMD_RESERVE 4096u
/* One argument of execve (Linux MAX_ARG_STRLEN: 32 pages): E2BIG beyond. */
#define ARG_ONE_MAX 131072u

static const char PH_PROMPT[] = "{prompt}";
static const char PH_FILE[] = "{prompt_file}";
static const char ENV_NAME[] = "GROVE_INSTANCE_ID";
static const char SOCKET_ENV[] = "GROVE_TMUX_SOCKET";
static const char SOCKET_DEFAULT[] = "grove";
static const char OWNER_OPTION[] = "@grove_instance";

static void sleep_ms(long ms)
{
    struct timespec ts;

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Exit code of a wait status: the code, or 128 + signal. */
static int status_code(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return 128;
}

/* Blocking waitpid that retries EINTR. 0 and *st, or -1. */
static int wait_child(pid_t pid, int *st)
{
    pid_t r;

    do
        r = waitpid(pid, st, 0);
    while (r < 0 && errno == EINTR);
    return r == pid ? 0 : -1;
}

/*
 * Starts `file` with argv/envp: fds in_fd/out_fd/err_fd become 0/1/2, the
 * signal mask is emptied and the signals grove changes are reset to their
 * defaults, cwd (if not NULL) becomes the working folder. `flags` adds
 * POSIX_SPAWN_SETSID or POSIX_SPAWN_SETPGROUP. Returns 0 or an errno value.
 */
static int spawn_prog(pid_t *pid, const char *file, char *const argv[], char *const envp[],
                      const char *cwd, int in_fd, int out_fd, int err_fd, short flags)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, defaults;
    int rc;

    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGXFSZ);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGQUIT);
    sigaddset(&defaults, SIGCHLD);

    if ((rc = posix_spawnattr_init(&attr)) != 0)
        return rc;
    if ((rc = posix_spawn_file_actions_init(&fa)) != 0) {
        posix_spawnattr_destroy(&attr);
        return rc;
    }
    rc = posix_spawnattr_setflags(&attr,
                                  (short)(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | flags));
    if (rc == 0)
        rc = posix_spawnattr_setsigmask(&attr, &none);
    if (rc == 0)
        rc = posix_spawnattr_setsigdefault(&attr, &defaults);
    if (rc == 0 && (flags & POSIX_SPAWN_SETPGROUP))
        rc = posix_spawnattr_setpgroup(&attr, 0);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&fa, in_fd, STDIN_FILENO);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&fa, err_fd, STDERR_FILENO);
    if (rc == 0 && cwd)
        rc = posix_spawn_file_actions_addchdir_np(&fa, cwd);
    if (rc == 0)
        rc = posix_spawnp(pid, file, &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return rc;
}

/* ---- environment --------------------------------------------------------- */

/* 1 when `name` (NUL-terminated) is one of the NULL-terminated `names`. */
static int name_listed(const char *name, const char *const *names)
{
    size_t i;

    for (i = 0; names && names[i]; i++)
        if (strcmp(names[i], name) == 0)
            return 1;
    return 0;
}

int agent_env_secret(const char *entry, const char *const *pass_env)
{
    const char *eq = strchr(entry, '=');
    size_t n = eq ? (size_t)(eq - entry) : strlen(entry), i;
    char name[256];

    if (n >= sizeof(name))
        return 1; /* no such variable of ours: not worth the risk */
    memcpy(name, entry, n);
    name[n] = '\0';
    if (name_listed(name, pass_env))
        return 0;
    if (secret_key_name(name))
        return 1;
    for (i = 0; eq && eq[1 + i]; i++)
        if (secret_token_at(eq + 1 + i, strlen(eq + 1 + i)))
            return 1;
    return 0;
}

/* 1 when "NAME=..." entry `e` sets one of the "NAME=VALUE" entries of `vars` (may be NULL). */
static int env_overridden(const char *e, const char *const *vars)
{
    size_t len = strcspn(e, "=");

    for (; vars && *vars; vars++)
        if (strncmp(*vars, e, len) == 0 && (*vars)[len] == '=')
            return 1;
    return 0;
}

/*
 * environ without secrets (agent_env_secret(), but `pass_env`), without
 * GROVE_INSTANCE_ID and without the variables `extra` sets, plus `add` (may
 * be NULL) and `extra` ("NAME=VALUE" entries, may be NULL). The strings are
 * borrowed; the array is malloc'd (caller frees), NULL when memory ran out.
 */
static char **env_clean(const char *const *pass_env, const char *add, const char *const *extra)
{
    size_t n = 0, i, k = 0, nx = 0, nlen = strlen(ENV_NAME);
    char **env;

    while (environ && environ[n])
        n++;
    while (extra && extra[nx])
        nx++;
    env = calloc(n + nx + 2, sizeof(*env));
    if (!env)
        return NULL;
    for (i = 0; i < n; i++) {
        if (strncmp(environ[i], ENV_NAME, nlen) == 0 && environ[i][nlen] == '=')
            continue;
        if (agent_env_secret(environ[i], pass_env) || env_overridden(environ[i], extra))
            continue;
        env[k++] = environ[i];
    }
    if (add)
        env[k++] = (char *)add;
    for (i = 0; i < nx; i++)
        env[k++] = (char *)extra[i];
    env[k] = NULL;
    return env;
}

/* ---- tmux ------------------------------------------------------------------ */

int agent_tmux_socket(const char **name, grove_err *err)
{
    const char *s = getenv(SOCKET_ENV);
    size_t i;

    if (!s || !*s) {
        *name = SOCKET_DEFAULT;
        return 0;
    }
    for (i = 0; s[i]; i++) {
        char c = s[i];

        if (i >= 64 || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return grove_fail(err, GROVE_EINVAL,
                              "%s '%s' is not a tmux socket name (up to 64 letters, digits, "
                              "'.', '_', '-'): unset it for grove's own server '%s', or set "
                              "'default' for your own tmux server",
                              SOCKET_ENV, s, SOCKET_DEFAULT);
    }
    *name = strcmp(s, "default") == 0 ? NULL : s;
    return 0;
}

/*
 * Reads tmux's stdout and stderr (fds[0], fds[1]; each closed and set to -1
 * at its end) into bufs[0] and bufs[1] until both end, or tmux has exited
 * and nothing more is ready (a server it forked may hold the pipes). *exited
 * is 1 when it was reaped, with its status in *st. -1 with err filled on a
 * read error, out of memory, or when it runs past TMUX_TIMEOUT_MS (the
 * caller kills it).
 */
static int tmux_collect(pid_t pid, int fds[2], grove_buf bufs[2], int *exited, int *st,
                        const char *what, grove_err *err)
{
    double deadline = grove_now_ms() + TMUX_TIMEOUT_MS;

    while (fds[0] >= 0 || fds[1] >= 0) {
        struct pollfd pf[2];
        int nf = 0, pr, k, which[2];

        for (k = 0; k < 2; k++)
            if (fds[k] >= 0) {
                which[nf] = k;
                pf[nf++] = (struct pollfd){.fd = fds[k], .events = POLLIN};
            }
        pr = poll(pf, (nfds_t)nf, 50);
        if (pr < 0 && errno != EINTR)
            return grove_fail(err, GROVE_EIO, "cannot read from 'tmux': %s", strerror(errno));
        for (k = 0; pr > 0 && k < nf; k++) {
            char chunk[4096];
            ssize_t r;

            if (!pf[k].revents)
                continue;
            r = read(pf[k].fd, chunk, sizeof(chunk));
            if (r < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (r <= 0) {
                close(fds[which[k]]);
                fds[which[k]] = -1;
                continue;
            }
            if (buf_add(&bufs[which[k]], chunk, (size_t)r) < 0)
                return grove_nomem(err);
        }
        if (!*exited) {
            if (waitpid(pid, st, WNOHANG) == pid)
                *exited = 1;
        } else if (pr == 0) {
            break;
        }
        if (!*exited && grove_now_ms() > deadline)
            return grove_fail(err, GROVE_EIO, "'tmux %s' did not finish within %d s", what,
                              (int)(TMUX_TIMEOUT_MS / 1000));
    }
    return 0;
}

/*
 * Runs `tmux args...` (args NULL-terminated, without "tmux"), stdin from
 * /dev/null. On 0: *code is its exit code, *out (when out is not NULL) its
 * stdout (malloc'd, caller frees, never NULL), errtext its stderr as one
 * line. -1 with err filled when tmux could not be run (GROVE_ENOTFOUND when
 * it is not installed) or did not finish within TMUX_TIMEOUT_MS.
 */
static int tmux_run(const char *const *args, char **out, int *code, char *errtext, size_t errlen,
                    grove_err *err)
{
    const char **argv = NULL, *socket = NULL;
    /*
     * tmux's environment, without secrets: the first tmux command starts
     * the server, which keeps this environment as its global one and
     * hands it to every pane.
     */
    char **env = NULL;
    /* stdout and stderr; bytes beyond the caps are read and dropped */
    grove_buf bufs[2] = {BUF_INIT(TMUX_OUT_MAX), BUF_INIT(TMUX_ERR_MAX)};
    int op[2] = {-1, -1}, ep[2] = {-1, -1}, fds[2] = {-1, -1}, nullfd = -1;
    int rc = -1, exited = 0, st = 0, prc;
    size_t n = 0, i, k = 0;
    pid_t pid = -1;

    if (out)
        *out = NULL;
    if (errlen)
        errtext[0] = '\0';
    if (agent_tmux_socket(&socket, err) != 0)
        return -1;
    while (args[n])
        n++;
    /* The one place that starts tmux: "tmux [-L socket] args...". */
    argv = calloc(n + 4, sizeof(*argv));
    env = env_clean(NULL, NULL, NULL);
    if (!argv || !env) {
        grove_nomem(err);
        goto done;
    }
    argv[k++] = "tmux";
    if (socket) {
        argv[k++] = "-L";
        argv[k++] = socket;
    }
    for (i = 0; i < n; i++)
        argv[k++] = args[i];

    if (pipe2(op, O_CLOEXEC) != 0 || pipe2(ep, O_CLOEXEC) != 0 ||
        (nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
        grove_fail(err, GROVE_EIO, "cannot run 'tmux': %s", strerror(errno));
        goto done;
    }
    prc = spawn_prog(&pid, "tmux", (char *const *)argv, env, NULL, nullfd, op[1], ep[1], 0);
    if (prc != 0) {
        pid = -1;
        grove_fail(err, prc == ENOENT ? GROVE_ENOTFOUND : GROVE_EIO, "cannot run 'tmux': %s",
                   strerror(prc));
        goto done;
    }
    close(op[1]);
    close(ep[1]);
    op[1] = ep[1] = -1;

    fds[0] = op[0];
    fds[1] = ep[0];
    op[0] = ep[0] = -1;
    if (tmux_collect(pid, fds, bufs, &exited, &st, args[0], err) != 0) {
        if (exited)
            pid = -1; /* reaped: never signal a pid that may be reused */
        goto done;
    }
    if (!exited && wait_child(pid, &st) != 0) {
        pid = -1;
        grove_fail(err, GROVE_EIO, "cannot wait for 'tmux': %s", strerror(errno));
        goto done;
    }
    pid = -1;
    *code = status_code(st);
    if (errlen && bufs[1].data) {
        snprintf(errtext, errlen, "%s", bufs[1].data);
        grove_one_line(errtext);
    }
    if (out) {
        if (!(*out = buf_take(&bufs[0]))) {
            grove_nomem(err);
            goto done;
        }
    }
    rc = 0;
done:
    if (pid > 0) {
        kill(pid, SIGKILL);
        wait_child(pid, &st);
    }
    for (i = 0; i < 2; i++) {
        if (op[i] >= 0)
            close(op[i]);
        if (ep[i] >= 0)
            close(ep[i]);
        if (fds[i] >= 0)
            close(fds[i]);
        buf_free(&bufs[i]);
    }
    if (nullfd >= 0)
        close(nullfd);
    free(env);
    free(argv);
    return rc;
}

/* 1 when the tmux session `name` exists (exact match). No tmux: 0. */
static int session_exists(const char *name)
{
    char *target = grove_asprintf("=%s", name);
    const char *args[] = {"has-session", "-t", target, NULL};
    char errtext[TMUX_ERR_MAX];
    int code = 1;

    if (!target)
        return 0;
    if (tmux_run(args, NULL, &code, errtext, sizeof(errtext), NULL) != 0)
        code = 1;
    free(target);
    return code == 0;
}

/*
 * 1 when session `name` exists and its first pane's program still runs (a
 * dead one stays, with its output, through remain-on-exit).
 */
static int session_live(const char *name)
{
    char *target = grove_asprintf("=%s:", name);
    const char *args[] = {"display-message", "-p", "-t", target, "#{pane_dead}", NULL};
    char errtext[TMUX_ERR_MAX], *res = NULL;
    int code = 1, live;

    if (!target)
        return 0;
    if (!session_exists(name) || tmux_run(args, &res, &code, errtext, sizeof(errtext), NULL) != 0)
        code = 1;
    live = code == 0 && res && res[0] == '0';
    free(res);
    free(target);
    return live;
}

/* Creates the folder that holds `path` (0700). */
static int make_parent(const char *path, grove_err *err)
{
    char *dir;
    char *slash;
    int rc = 0;

    dir = strdup(path);
    if (!dir)
        return grove_nomem(err);
    slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        rc = grove_mkdirs(dir, 0700, err);
    }
    free(dir);
    return rc;
}

/* Opens the log for appending (0600, folder 0700); NULL or "" = /dev/null. */
static int open_log(const char *log_path, grove_err *err)
{
    int fd;

    if (!log_path || !*log_path) {
        fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            return grove_fail(err, GROVE_EIO, "cannot open '/dev/null': %s", strerror(errno));
        return fd;
    }
    if (make_parent(log_path, err) != 0)
        return -1;
    fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return grove_fail(err, GROVE_EIO, "cannot open log '%s': %s", log_path, strerror(errno));
    return fd;
}

/* 0 when cwd (NULL = ours) is an existing folder. */
static int check_cwd(const char *cwd, grove_err *err)
{
    struct stat sb;

    if (!cwd)
        return 0;
    if (stat(cwd, &sb) != 0)
        return grove_fail(err, errno == ENOENT ? GROVE_ENOTFOUND : GROVE_EIO,
                          "cannot use folder '%s': %s", cwd, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return grove_fail(err, GROVE_EINVAL, "'%s' is not a folder", cwd);
    return 0;
}

static int check_argv(char *const argv[], grove_err *err)
{
    if (!argv || !argv[0] || !argv[0][0])
        return grove_fail(err, GROVE_EINVAL, "the command is empty");
    return 0;
}

/* Fails for a program that could not be started (errno value `e`). */
static int spawn_fail(grove_err *err, const char *prog, int e)
{
    return grove_fail(err, e == ENOENT ? GROVE_ENOTFOUND : GROVE_EIO, "cannot run '%s': %s", prog,
                      strerror(e));
}

/* ---- argv from JSON ---------------------------------------------------- */

/*
 * `s` with every placeholder replaced by its value in v, in one pass (a
 * placeholder inside a replacement stays as it is); *uses_file |= 1 when
 * "{prompt_file}" occurs. Malloc'd, or NULL when memory ran out (or the
 * size overflowed).
 */
char *agent_expand(const char *s, const char *const *keys, const char *const *vals, size_t n,
                   unsigned *used)
{
    grove_buf b = BUF_INIT(SIZE_MAX / 2);
    const char *p = s;

    while (*p) {
        size_t k, len = 0;
        int r;

        for (k = 0; k < n; k++) {
            len = strlen(keys[k]);
            if (strncmp(p, keys[k], len) == 0)
                break;
        }
        if (k < n) {
            if (used)
                *used |= 1u << k;
            r = buf_add(&b, vals[k] ? vals[k] : "", vals[k] ? strlen(vals[k]) : 0);
            p += len;
        } else {
            r = buf_add(&b, p, 1);
            p++;
        }
        if (r != 0) {
            buf_free(&b);
            return NULL;
        }
    }
    return buf_take(&b); /* "" when nothing was added */
}

/* `s` with the placeholders of an agent command replaced; *uses_file |= 1 for "{prompt_file}". */
static char *replace_placeholders(const char *s, const agent_vars *v, int *uses_file)
{
    const char *const keys[] = {PH_PROMPT, PH_FILE, "{instance_id}", "{session_id}"};
    const char *const vals[] = {v->prompt, v->prompt_file, v->instance_id, v->session_id};
    unsigned used = 0;
    char *out = agent_expand(s, keys, vals, 4, &used);

    *uses_file |= (used & 2u) != 0;
    return out;
}

int agent_build_command(const char *command_json, const char *prompt, const char *prompt_file,
                        char ***out, int *uses_prompt_file, grove_err *err)
{
    agent_vars v = {prompt, prompt_file, NULL, NULL};

    return agent_build_with(command_json, &v, out, uses_prompt_file, err);
}

int agent_build_with(const char *command_json, const agent_vars *vars, char ***out,
                     int *uses_prompt_file, grove_err *err)
{
    json_error_t jerr;
    json_t *arr = NULL;
    char **argv = NULL;
    size_t i, n;
    int rc = -1, uses = 0;

    *out = NULL;
    if (uses_prompt_file)
        *uses_prompt_file = 0;
    if (!command_json)
        return grove_fail(err, GROVE_EINVAL, "the command is missing");
    arr = json_loads(command_json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!arr)
        return grove_fail(err, GROVE_EINVAL, "the command is not valid JSON: %s", jerr.text);
    n = json_is_array(arr) ? json_array_size(arr) : 0;
    if (n == 0) {
        grove_fail(err, GROVE_EINVAL,
                   "the agent command must be a non-empty JSON array of strings");
        goto done;
    }
    argv = calloc(n + 1, sizeof(*argv));
    if (!argv) {
        grove_nomem(err);
        goto done;
    }
    for (i = 0; i < n; i++) {
        json_t *v = json_array_get(arr, i);
        const char *s;

        if (!json_is_string(v)) {
            grove_fail(err, GROVE_EINVAL, "element %zu of the command is not a string", i);
            goto done;
        }
        s = json_string_value(v);
        if (json_string_length(v) != strlen(s)) {
            grove_fail(err, GROVE_EINVAL, "element %zu of the command contains a NUL byte", i);
            goto done;
        }
        argv[i] = replace_placeholders(s, vars, &uses);
        if (!argv[i]) {
            grove_nomem(err);
            goto done;
        }
    }
    if (!argv[0][0]) {
        grove_fail(err, GROVE_EINVAL, "the program (element 0) is empty");
        goto done;
    }
    *out = argv;
    argv = NULL;
    if (uses_prompt_file)
        *uses_prompt_file = uses;
    rc = 0;
done:
    agent_free_argv(argv);
    json_decref(arr);
    return rc;
}

int agent_build_argv(const char *command_json, const char *prompt, char ***out, grove_err *err)
{
    return agent_build_command(command_json, prompt, NULL, out, NULL, err);
}

void agent_free_argv(char **argv)
{
    size_t i;

    if (!argv)
        return;
    for (i = 0; argv[i]; i++)
        free(argv[i]);
    free(argv);
}

/* ---- launching --------------------------------------------------------- */

/* Resolves `name` like execvp into out (size bytes): 1 when it is an executable file. */
static int find_program(const char *name, char *out, size_t size)
{
    const char *path = getenv("PATH");
    const char *p, *end;
    struct stat sb;
    size_t nlen = strlen(name);

    if (strchr(name, '/')) {
        if (!(stat(name, &sb) == 0 && S_ISREG(sb.st_mode) && access(name, X_OK) == 0))
            return 0;
        return snprintf(out, size, "%s", name) < (int)size;
    }
    if (!path || !*path)
        path = "/bin:/usr/bin";
    for (p = path;; p = end + 1) {
        char full[PATH_MAX];
        size_t len;

        end = strchr(p, ':');
        if (!end)
            end = p + strlen(p);
        len = (size_t)(end - p);
        if (len == 0)
            len = 1, p = ".";
        if (nlen > 0 && len + nlen + 2 <= sizeof(full)) {
            memcpy(full, p, len);
            full[len] = '/';
            memcpy(full + len + 1, name, nlen + 1);
            if (stat(full, &sb) == 0 && S_ISREG(sb.st_mode) && access(full, X_OK) == 0)
                return snprintf(out, size, "%s", full) < (int)size;
        }
        if (!*end)
            break;
    }
    return 0;
}

int agent_find_program(const char *name)
{
    char full[PATH_MAX];

    return find_program(name, full, sizeof(full));
}

int agent_spawn_detached(char *const argv[], const char *cwd, grove_err *err)
{
    char prog[PATH_MAX];
    char **env = NULL;
    int nullfd = -1, status = 0, rc = -1;
    pid_t child;

    if (!argv || !argv[0] || !*argv[0])
        return grove_fail(err, GROVE_EINVAL, "no program to run");
    if (!find_program(argv[0], prog, sizeof(prog)))
        return grove_fail(err, GROVE_ENOTFOUND,
                          "'%s' is not an executable file (nor found on PATH)", argv[0]);
    /* everything the children use is made before the fork: after it, only exec-safe calls */
    if (!(env = env_clean(NULL, NULL, NULL)))
        return grove_nomem(err);
    if ((nullfd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
        grove_fail(err, GROVE_EIO, "cannot open '/dev/null': %s", strerror(errno));
        goto done;
    }
    child = fork();
    if (child < 0) {
        grove_fail(err, GROVE_EIO, "cannot start '%s': %s", argv[0], strerror(errno));
        goto done;
    }
    if (child == 0) {
        /* the child: a session of its own, then the program as its child, then gone */
        sigset_t none;
        struct sigaction dfl;
        int sig;

        setsid();
        if (fork() != 0)
            _exit(0);
        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        for (sig = 1; sig < 32; sig++)
            if (sig != SIGKILL && sig != SIGSTOP)
                sigaction(sig, &dfl, NULL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        dup2(nullfd, 0);
        dup2(nullfd, 1);
        dup2(nullfd, 2);
        if (cwd && chdir(cwd) != 0)
            _exit(127);
        execve(prog, argv, env);
        _exit(127);
    }
    while (waitpid(child, &status, 0) < 0 && errno == EINTR)
        ;
    rc = 0;
done:
    if (nullfd >= 0)
        close(nullfd);
    free(env);
    return rc;
}

int agent_have_tmux(void)
{
    return agent_find_program("tmux");
}

/* Instance ids as grove makes them: [A-Za-z0-9._-], 1..ID_MAX bytes. */
static int valid_id(const char *id)
{
    size_t i;

    if (!id || !id[0])
        return 0;
    for (i = 0; id[i]; i++) {
        char c = id[i];

        if (i >= ID_MAX)
            return 0;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* `s` with every '#' doubled, so tmux's format expansion gives back `s`. */
static char *escape_format(const char *s)
{
    size_t n = 0, i;
    char *res, *w;

    for (i = 0; s[i]; i++)
        n += s[i] == '#' ? 2 : 1;
    res = malloc(n + 1);
    if (!res)
        return NULL;
    for (w = res, i = 0; s[i]; i++) {
        *w++ = s[i];
        if (s[i] == '#')
            *w++ = '#';
    }
    *w = '\0';
    return res;
}

int agent_session_name(const char *id, char *out, size_t n, grove_err *err)
{
    size_t i;
    int w;

    if (!valid_id(id))
        return grove_fail(err, GROVE_EINVAL, "invalid instance id '%s'", id ? id : "");
    w = snprintf(out, n, "grove-%s", id);
    if (w < 0 || (size_t)w >= n)
        return grove_fail(err, GROVE_EINVAL, "instance id '%s' is too long for a session name", id);
    /*
     * tmux would make '.' (and ':', which no id holds) a '_', so that
     * "a.b" and "a_b" met in one session. '+' never occurs in an id and
     * tmux keeps it: one character for another, so the mapping stays
     * one-to-one and every other id keeps the name grove-<id>.
     */
    for (i = 0; out[i]; i++)
        if (out[i] == '.')
            out[i] = '+';
    return 0;
}

/*
 * `s` as one argument of a tmux command line: tmux ends a command at an
 * argument that ends in ';', unless it ends in "\;" (which it turns back
 * into ";"). Malloc'd, NULL when memory ran out.
 */
static char *escape_semicolon(const char *s)
{
    size_t n = strlen(s);
    char *r;

    if (n == 0 || s[n - 1] != ';')
        return strdup(s);
    r = malloc(n + 2);
    if (!r)
        return NULL;
    memcpy(r, s, n - 1);
    r[n - 1] = '\\';
    r[n] = ';';
    r[n + 1] = '\0';
    return r;
}

/* Bytes a tmux client sends for these arguments (each with its NUL). */
static size_t tmux_args_bytes(const char *const *args)
{
    size_t n = 0, i;

    for (i = 0; args[i]; i++)
        n += strlen(args[i]) + 1;
    return n;
}

/* The refusal for a command line that does not fit (`bytes` > `limit`). */
static int too_long(grove_err *err, size_t bytes, size_t limit, const char *where)
{
    return grove_fail(err, GROVE_EINVAL,
                      "the agent's command line is %zu bytes with the prompt in it, but %s takes "
                      "at most %zu bytes; put {prompt_file} in the agent command "
                      "(GROVE_AGENT_COMMAND or config agent.command) instead of {prompt}: grove "
                      "then writes the prompt to a private file (mode 0600) and passes its path",
                      bytes, where, limit);
}

int agent_argv_fits(char *const argv[], int use_tmux, grove_err *err)
{
    size_t total = 0, i, arg_max;
    long sys = sysconf(_SC_ARG_MAX);

    for (i = 0; argv[i]; i++) {
        size_t len = strlen(argv[i]) + 1;

        if (!use_tmux && len > ARG_ONE_MAX)
            return too_long(err, len, ARG_ONE_MAX, "one argument of a program (Linux)");
        total += len;
    }
    if (use_tmux && total > TMUX_CMD_MAX - TMUX_CMD_RESERVE)
        return too_long(err, total, TMUX_CMD_MAX - TMUX_CMD_RESERVE,
                        "tmux (16364 bytes for its whole command, of which grove keeps 4096 for "
                        "the session, folder and variables)");
    arg_max = sys > 0 ? (size_t)sys / 2 : ARG_ONE_MAX;
    if (!use_tmux && total > arg_max)
        return too_long(err, total, arg_max, "a program's argument list");
    return 0;
}

/*
 * Names of the secret variables (agent_env_secret(), but `pass_env`) in
 * the tmux server's global environment, which a server grove did not
 * start may hold (env -u takes them out of the agent's environment).
 * *names: NULL-terminated, malloc'd (free with agent_free_argv()), NULL
 * when there are none or no server runs.
 */
static int server_secrets(const char *const *pass_env, char ***names, grove_err *err)
{
    const char *args[] = {"show-environment", "-g", NULL};
    char errtext[TMUX_ERR_MAX];
    char *res = NULL, *line, *next;
    char **list = NULL; /* owned until *names takes it */
    size_t count = 0, cap = 0;
    int code = 0, rc = -1;

    *names = NULL;
    if (tmux_run(args, &res, &code, errtext, sizeof(errtext), err) != 0)
        return -1;
    for (line = code == 0 ? res : NULL; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (*line == '-' || !strchr(line, '=') || !agent_env_secret(line, pass_env))
            continue;
        if (count + 1 >= cap) {
            size_t ncap = cap ? cap * 2 : 8;
            char **l = realloc(list, ncap * sizeof(*l));

            if (!l) {
                grove_nomem(err);
                goto done;
            }
            list = l;
            cap = ncap;
        }
        *strchr(line, '=') = '\0';
        if (!(list[count] = strdup(line))) {
            grove_nomem(err);
            goto done;
        }
        list[++count] = NULL;
    }
    *names = list;
    list = NULL;
    rc = 0;
done:
    agent_free_argv(list);
    free(res);
    return rc;
}

/* Kills session `name` that launch_tmux() just made (its start failed half-way). */
static void kill_new_session(const char *name)
{
    char *target = grove_asprintf("=%s", name);
    const char *args[] = {"kill-session", "-t", target, NULL};
    char errtext[TMUX_ERR_MAX];
    int code = 0;

    if (target)
        tmux_run(args, NULL, &code, errtext, sizeof(errtext), NULL);
    free(target);
}

/* How many lines of history an agent's pane keeps on grove's own tmux server (as text). */
#define HISTORY_LINES "10000"

/* The most bytes of a pass_env file (values of credential variables). */
#define PASS_FILE_MAX (1u << 20)

/*
 * Writes the values of sp->pass_env variables that grove's environment has
 * to <secrets_dir>/<id>.env (0600, "NAME=VALUE" entries each ended by a
 * NUL), for `grove exec-env`. *path: malloc'd, NULL when there is nothing
 * to pass (or no way to: sp->self or sp->secrets_dir unset).
 */
static int write_pass_file(const agent_spec *sp, char **path, grove_err *err)
{
    grove_buf b = BUF_INIT(PASS_FILE_MAX);
    size_t i, k;
    int fd = -1, rc = -1;

    *path = NULL;
    if (!sp->pass_env || !sp->self || !sp->secrets_dir)
        return 0;
    for (i = 0; sp->pass_env[i]; i++) {
        size_t len = strlen(sp->pass_env[i]);

        for (k = 0; environ && environ[k]; k++)
            if (strncmp(environ[k], sp->pass_env[i], len) == 0 && environ[k][len] == '=' &&
                environ[k][len + 1] && buf_add(&b, environ[k], strlen(environ[k]) + 1) != 0) {
                buf_free(&b);
                return grove_fail(err, GROVE_EINVAL, "the variables of pass_env are too large");
            }
    }
    if (b.len == 0)
        return 0;
    if (grove_mkdirs(sp->secrets_dir, 0700, err) != 0 ||
        !(*path = grove_asprintf("%s/%s.env", sp->secrets_dir, sp->id))) {
        if (!err->msg[0])
            grove_nomem(err);
        goto done;
    }
    unlink(*path);
    fd = open(*path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || io_write_all(fd, b.data, b.len) != 0) {
        grove_fail(err, GROVE_EIO, "cannot write '%s': %s", *path, strerror(errno));
        unlink(*path);
        goto done;
    }
    rc = 0;
done:
    if (fd >= 0)
        close(fd);
    if (rc != 0) {
        free(*path);
        *path = NULL;
    }
    buf_free(&b);
    return rc;
}

int agent_exec_env(const char *file, char *const argv[], grove_err *err)
{
    struct stat sb;
    char *data = NULL, *p;
    ssize_t r;
    size_t len = 0;
    int fd;

    if (!argv || !argv[0])
        return grove_fail(err, GROVE_EINVAL, "no program to run");
    fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return grove_fail(err, GROVE_EIO, "cannot open '%s': %s", file, strerror(errno));
    unlink(file); /* read once: the values live on only in the agent's environment */
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_uid != geteuid() ||
        (sb.st_mode & 077) || sb.st_size > (off_t)PASS_FILE_MAX) {
        close(fd);
        return grove_fail(err, GROVE_EINVAL,
                          "'%s' is not a private file of this user (mode 0600): ignored", file);
    }
    if (!(data = malloc((size_t)sb.st_size + 1))) {
        close(fd);
        return grove_nomem(err);
    }
    while (len < (size_t)sb.st_size &&
           ((r = read(fd, data + len, (size_t)sb.st_size - len)) > 0 || (r < 0 && errno == EINTR)))
        if (r > 0)
            len += (size_t)r;
    close(fd);
    data[len] = '\0';
    for (p = data; p < data + len; p += strlen(p) + 1) {
        char *eq = strchr(p, '=');

        if (!eq || eq == p)
            continue;
        *eq = '\0';
        if (setenv(p, eq + 1, 1) != 0) {
            free(data);
            return grove_fail(err, GROVE_EIO, "cannot set '%s': %s", p, strerror(errno));
        }
    }
    sodium_memzero(data, len);
    free(data);
    execvp(argv[0], argv);
    return spawn_fail(err, argv[0], errno);
}

static int launch_tmux(const agent_spec *sp, agent_handle *out, grove_err *err)
{
    char name[sizeof(out->session)];
    char errtext[TMUX_ERR_MAX];
    char *ecwd = NULL, *idenv = NULL, *res = NULL, *target = NULL, *spos, *pass_file = NULL;
    const char *socket = NULL;
    char **secrets = NULL, **esc = NULL; /* owned: copies the arguments borrow */
    const char **args = NULL;
    size_t argc = 0, nsec = 0, nenv = 0, i, k = 0, bytes;
    int code = 0, rc = -1, tries;

    if (agent_session_name(sp->id, name, sizeof(name), err) != 0)
        return -1;
    if (session_exists(name))
        return grove_fail(err, GROVE_ECONFLICT, "agent session '%s' already exists", name);
    if (server_secrets(sp->pass_env, &secrets, err) != 0)
        goto done;
    while (secrets && secrets[nsec])
        nsec++;
    while (sp->argv[argc])
        argc++;
    while (sp->env && sp->env[nenv])
        nenv++;
    if (write_pass_file(sp, &pass_file, err) != 0)
        goto done;
    ecwd = escape_format(sp->cwd);
    idenv = grove_asprintf("%s=%s", ENV_NAME, sp->id);
    target = grove_asprintf("=%s:", name);
    esc = calloc(argc + 2, sizeof(*esc));
    args = calloc(argc + 2 * nsec + 3 * nenv + 48, sizeof(*args));
    if (!ecwd || !idenv || !target || !esc || !args) {
        grove_nomem(err);
        goto done;
    }
    esc[argc] = escape_semicolon(ecwd);
    if (!esc[argc]) {
        grove_nomem(err);
        goto done;
    }
    for (i = 0; i < argc; i++)
        if (!(esc[i] = escape_semicolon(sp->argv[i]))) {
            grove_nomem(err);
            goto done;
        }
    /*
     * One client message: the session, with the agent's variables given
     * to it alone (-e), then its owner mark, so that no session of grove's
     * is ever without one.
     */
    /*
     * On grove's own server (not the user's), panes keep HISTORY_LINES lines
     * for read_agent_output: the server's default history, set before the
     * pane is made (a pane keeps the limit it was made with).
     */
    if (agent_tmux_socket(&socket, err) != 0)
        goto done;
    if (socket) {
        args[k++] = "start-server";
        args[k++] = ";";
        args[k++] = "set-option";
        args[k++] = "-g";
        args[k++] = "history-limit";
        args[k++] = HISTORY_LINES;
        args[k++] = ";";
    }
    args[k++] = "new-session";
    args[k++] = "-d";
    args[k++] = "-P";
    args[k++] = "-F";
    args[k++] = "#{pane_pid} #{session_name}";
    args[k++] = "-s";
    args[k++] = name;
    args[k++] = "-c";
    args[k++] = esc[argc];
    args[k++] = "-e";
    args[k++] = idenv;
    for (i = 0; i < nenv; i++) {
        args[k++] = "-e";
        args[k++] = sp->env[i];
    }
    args[k++] = "--";
    /* two or more words: tmux execs them (one would go through sh -c) */
    args[k++] = "env";
    for (i = 0; i < nsec; i++) {
        args[k++] = "-u";
        args[k++] = secrets[i];
    }
    args[k++] = idenv;
    for (i = 0; i < nenv; i++)
        args[k++] = sp->env[i];
    if (pass_file) {
        /* the credentials it may see come from a private file, not this command line */
        args[k++] = sp->self;
        args[k++] = "exec-env";
        args[k++] = pass_file;
        args[k++] = "--";
    }
    for (i = 0; i < argc; i++)
        args[k++] = esc[i];
    args[k++] = ";";
    args[k++] = "set-option";
    args[k++] = "-t";
    args[k++] = target;
    args[k++] = OWNER_OPTION;
    args[k++] = sp->id;
    /* an agent that exits keeps its last output for read_agent_output */
    args[k++] = ";";
    args[k++] = "set-option";
    args[k++] = "-w";
    args[k++] = "-t";
    args[k++] = target;
    args[k++] = "remain-on-exit";
    args[k++] = "on";
    args[k] = NULL;

    /* Refused here with a clear message, not by tmux with "command too long". */
    if ((bytes = tmux_args_bytes(args)) > TMUX_CMD_MAX) {
        too_long(err, bytes, TMUX_CMD_MAX, "tmux (its whole command, with what grove adds)");
        goto done;
    }
    /*
     * A tmux server exits when its last session ends; a new-session that
     * reaches it while it shuts down fails with "server exited unexpectedly"
     * (seen after a terminate). Nothing was made then: try again.
     */
    for (tries = 0;; tries++) {
        if (tmux_run(args, &res, &code, errtext, sizeof(errtext), err) != 0)
            goto done;
        if (code == 0 || tries == 4 || !strstr(errtext, "server exited unexpectedly"))
            break;
        free(res);
        res = NULL;
        sleep_ms(20L * (tries + 1));
    }
    if (code != 0) {
        if (strstr(errtext, "duplicate session")) {
            grove_fail(err, GROVE_ECONFLICT, "agent session '%s' already exists", name);
        } else {
            grove_fail(err, GROVE_EIO, "cannot start agent session '%s': %s", name,
                       errtext[0] ? errtext : "tmux failed");
            if (res && *res) /* the session started, its owner mark did not */
                kill_new_session(name);
        }
        goto done;
    }
    /* "<pane pid> <session name>\n" */
    out->pid = strtoll(res, &spos, 10);
    if (out->pid < 0 || spos == res)
        out->pid = 0;
    out->start = agent_process_start(out->pid);
    snprintf(out->session, sizeof(out->session), "%s", name);
    if (*spos == ' ') {
        spos++;
        spos[strcspn(spos, "\r\n")] = '\0';
        if (*spos && strcmp(spos, name) != 0) {
            grove_fail(err, GROVE_EIO, "tmux named agent session '%s' '%s'", name, spos);
            kill_new_session(spos);
            goto done;
        }
    }
    rc = 0;
done:
    free(res);
    free(args);
    for (i = 0; esc && i <= argc; i++)
        free(esc[i]);
    free(esc);
    agent_free_argv(secrets);
    if (rc != 0 && pass_file)
        unlink(pass_file);
    free(pass_file);
    free(target);
    free(idenv);
    free(ecwd);
    return rc;
}

static int launch_detached(const agent_spec *sp, agent_handle *out, grove_err *err)
{
    char *idenv = NULL;
    char **env = NULL;
    int logfd = -1, nullfd = -1, prc, rc = -1;
    pid_t pid;

    idenv = grove_asprintf("%s=%s", ENV_NAME, sp->id);
    env = idenv ? env_clean(sp->pass_env, idenv, sp->env) : NULL;
    if (!env) {
        grove_nomem(err);
        goto done;
    }
    if ((logfd = open_log(sp->log_path, err)) < 0)
        goto done;
    if ((nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
        grove_fail(err, GROVE_EIO, "cannot open '/dev/null': %s", strerror(errno));
        goto done;
    }
    prc = spawn_prog(&pid, sp->argv[0], sp->argv, env, sp->cwd, nullfd, logfd, logfd,
                     POSIX_SPAWN_SETSID);
    if (prc != 0) {
        /* E2BIG: say which limit, when agent_argv_fits() knows it */
        if (prc != E2BIG || agent_argv_fits(sp->argv, 0, err) == 0)
            spawn_fail(err, sp->argv[0], prc);
        goto done;
    }
    out->session[0] = '\0';
    out->pid = pid;
    out->start = agent_process_start(pid);
    rc = 0;
done:
    if (logfd >= 0)
        close(logfd);
    if (nullfd >= 0)
        close(nullfd);
    free(env);
    free(idenv);
    return rc;
}

int agent_launch(const agent_spec *sp, agent_handle *out, grove_err *err)
{
    int use_tmux;

    if (!out)
        return grove_fail(err, GROVE_EINVAL, "no handle for the agent");
    memset(out, 0, sizeof(*out));
    if (!sp || !valid_id(sp->id))
        return grove_fail(err, GROVE_EINVAL, "invalid instance id '%s'",
                          sp && sp->id ? sp->id : "");
    if (!sp->cwd)
        return grove_fail(err, GROVE_EINVAL, "no folder for agent '%s'", sp->id);
    if (check_argv(sp->argv, err) != 0)
        return -1;
    /* env(1) would take a first word with '=' as one more assignment. */
    if (strchr(sp->argv[0], '='))
        return grove_fail(err, GROVE_EINVAL, "agent program '%s' contains '='", sp->argv[0]);
    if (check_cwd(sp->cwd, err) != 0)
        return -1;
    use_tmux = sp->use_tmux && agent_have_tmux();
    if (agent_argv_fits(sp->argv, use_tmux, err) != 0)
        return -1;
    if (use_tmux)
        return launch_tmux(sp, out, err);
    return launch_detached(sp, out, err);
}

/* ---- watching ---------------------------------------------------------- */

/* 1 when /proc says `pid` is a zombie (or dead); 0 otherwise or unknown. */
static int proc_is_zombie(pid_t pid)
{
    char path[64], buf[512];
    const char *paren;
    ssize_t r;
    int fd;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    r = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (r <= 0)
        return 0;
    buf[r] = '\0';
    /* "pid (comm) S ...": comm may hold ')' itself, so take the last one. */
    paren = strrchr(buf, ')');
    return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

int agent_pid_alive(long long pid)
{
    int st;

    if (pid <= 0 || pid > INT_MAX)
        return 0;
    if (waitpid((pid_t)pid, &st, WNOHANG) == (pid_t)pid)
        return 0;
    if (kill((pid_t)pid, 0) != 0 && errno != EPERM)
        return 0;
    /* A zombie of another parent (tmux's, or one nobody reaps) is gone too. */
    return !proc_is_zombie((pid_t)pid);
}

/*
 * Reads /proc/<pid>/stat: the state letter, the process group and the start
 * time (clock ticks after boot). -1 when the process is gone or unreadable.
 */
static int proc_stat_read(pid_t pid, char *state, long long *pgrp, unsigned long long *start)
{
    char path[64], buf[1024];
    const char *p;
    ssize_t r;
    int fd, field;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    r = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (r <= 0)
        return -1;
    buf[r] = '\0';
    p = strrchr(buf, ')');
    if (!p || p[1] != ' ' || !p[2])
        return -1;
    *state = p[2];
    /* Fields after the comm: 3 state, 4 ppid, 5 pgrp, ..., 22 starttime. */
    for (p += 2, field = 3; *p && field < 22; p++)
        if (*p == ' ') {
            field++;
            if (field == 5)
                *pgrp = strtoll(p + 1, NULL, 10);
        }
    if (field != 22)
        return -1;
    *start = strtoull(p, NULL, 10);
    return 0;
}

unsigned long long agent_process_start(long long pid)
{
    unsigned long long start = 0;
    long long pgrp = 0;
    char state = 0;

    if (pid <= 0 || pid > INT_MAX || proc_stat_read((pid_t)pid, &state, &pgrp, &start) != 0)
        return 0;
    return start;
}

/* How many live (not zombie) processes are in process group `pgid`, from /proc. */
static size_t group_members(long long pgid)
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    size_t n = 0;

    while (d && (de = readdir(d)) != NULL) {
        unsigned long long start;
        long long pgrp = 0;
        char state = 0, *end;
        long pid = strtol(de->d_name, &end, 10);

        if (pid <= 0 || *end || proc_stat_read((pid_t)pid, &state, &pgrp, &start) != 0)
            continue;
        if (pgrp == pgid && state != 'Z' && state != 'X')
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

int agent_group_kill(long long pgid, unsigned long long start, size_t *killed, grove_err *err)
{
    unsigned long long now_start;
    double deadline;
    size_t n;

    if (killed)
        *killed = 0;
    if (pgid <= 1 || pgid > INT_MAX || (pid_t)pgid == getpgrp())
        return grove_fail(err, GROVE_EINVAL, "refusing to signal process group %lld", pgid);
    /*
     * While a group has members its id is not given to a new process, so
     * a group whose leader is gone is still the one recorded. A live leader
     * that started at another time is a new process with a reused pid: its
     * group is not ours.
     */
    now_start = agent_process_start(pgid);
    if (now_start && start && now_start != start)
        return 0;
    n = group_members(pgid);
    if (n == 0)
        return 0;
    if (killed)
        *killed = n;
    kill(-(pid_t)pgid, SIGKILL);
    deadline = grove_now_ms() + STOP_GRACE_MS;
    while ((n = group_members(pgid)) > 0 && grove_now_ms() < deadline)
        sleep_ms(20);
    if (n > 0)
        return grove_fail(err, GROVE_EIO, "cannot stop process group %lld: %zu process%s left",
                          pgid, n, n == 1 ? "" : "es");
    return 0;
}

int agent_alive(const char *session, long long pid)
{
    if (session && *session && session_live(session))
        return 1;
    return agent_pid_alive(pid);
}

/* 1 when tmux's stderr says there is no server to ask (so: no sessions). */
static int no_server(const char *errtext)
{
    /*
     * "server exited", "lost server": it shut down (its last session ended) as we asked;
     * "no current target": a server without sessions (the last one just went; it exits)
     */
    return strstr(errtext, "no server running") || strstr(errtext, "error connecting") ||
           strstr(errtext, "No such file or directory") || strstr(errtext, "server exited") ||
           strstr(errtext, "lost server") || strstr(errtext, "no current target");
}

void agent_free_panes(agent_pane *v, size_t n)
{
    size_t i;

    for (i = 0; v && i < n; i++)
        free(v[i].session);
    free(v);
}

int agent_list_panes(agent_pane **out, size_t *n, grove_err *err)
{
    /*
     * Space-separated, the session name last (it may hold spaces: not one of ours). Not tabs:
     * a tmux client in a locale without UTF-8 (LC_ALL=C) prints every control character of
     * its output, a tab too, as '_'.
     */
    const char *args[] = {"list-panes", "-a", "-F",
                          "#{pane_dead} #{window_activity} #{pane_pid} #{session_name}", NULL};
    char errtext[TMUX_ERR_MAX];
    char *res = NULL, *line, *next;
    agent_pane *v = NULL;
    size_t count = 0, cap = 0;
    int code = 0, rc = -1;
    grove_err terr = GROVE_ERR_INIT;

    *out = NULL;
    *n = 0;
    if (tmux_run(args, &res, &code, errtext, sizeof(errtext), &terr) != 0) {
        if (terr.code == GROVE_ENOTFOUND)
            return 0; /* no tmux: no sessions */
        *err = terr;
        return -1;
    }
    if (code != 0) {
        if (no_server(errtext)) {
            rc = 0;
            goto done;
        }
        grove_fail(err, GROVE_EIO, "cannot list tmux sessions: %s",
                   errtext[0] ? errtext : "tmux failed");
        goto done;
    }
    for (line = res; line && *line; line = next) {
        char *f[4];
        int k;

        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        for (k = 0, f[0] = line; k < 3 && f[k]; k++) {
            f[k + 1] = strchr(f[k], ' ');
            if (f[k + 1])
                *f[k + 1]++ = '\0';
        }
        if (k < 3 || !f[3] || !*f[3])
            continue; /* not a line of ours */
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            agent_pane *l = realloc(v, ncap * sizeof(*l));

            if (!l) {
                grove_nomem(err);
                goto done;
            }
            v = l;
            cap = ncap;
        }
        v[count].dead = strcmp(f[0], "1") == 0;
        v[count].activity = strtoll(f[1], NULL, 10);
        v[count].pid = strtoll(f[2], NULL, 10);
        if (!(v[count].session = strdup(f[3]))) {
            grove_nomem(err);
            goto done;
        }
        count++;
    }
    *out = v;
    *n = count;
    v = NULL;
    count = 0;
    rc = 0;
done:
    agent_free_panes(v, count);
    free(res);
    return rc;
}

int agent_list_sessions(char ***out, size_t *n, grove_err *err)
{
    agent_pane *panes = NULL;
    char **list = NULL;
    size_t np = 0, count = 0, i, j;
    int rc = -1;

    *out = NULL;
    *n = 0;
    if (agent_list_panes(&panes, &np, err) != 0)
        return -1;
    if (np && !(list = calloc(np, sizeof(*list)))) {
        grove_nomem(err);
        goto done;
    }
    /* A session lives while one of its panes does (a dead agent's pane stays: remain-on-exit). */
    for (i = 0; i < np; i++) {
        if (panes[i].dead)
            continue;
        for (j = 0; j < count && strcmp(list[j], panes[i].session) != 0; j++)
            ;
        if (j < count)
            continue;
        if (!(list[count] = strdup(panes[i].session))) {
            grove_nomem(err);
            goto done;
        }
        count++;
    }
    *out = list;
    *n = count;
    list = NULL;
    count = 0;
    rc = 0;
done:
    agent_free_list(list, count);
    agent_free_panes(panes, np);
    return rc;
}

void agent_free_list(char **list, size_t n)
{
    size_t i;

    if (!list)
        return;
    for (i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

/* ---- stopping ---------------------------------------------------------- */

/* 1 while `pid` lives or its process group has members. */
static int pid_or_group_alive(pid_t pid, int group)
{
    if (agent_pid_alive(pid))
        return 1;
    return group && kill(-pid, 0) == 0;
}

static void wait_gone(pid_t pid, int group, double ms)
{
    double deadline = grove_now_ms() + ms;

    while (pid_or_group_alive(pid, group) && grove_now_ms() < deadline)
        sleep_ms(20);
}

/*
 * Whether session `name` is the one grove started for agent `a`: its owner
 * mark (OWNER_OPTION) is a->instance_id, its pane runs a->pid (when
 * recorded) and that process started at a->start (when recorded). 0 with
 * *found = 0 when no such session exists, 0 with *found = 1 when it is
 * a's; -1 (GROVE_ECONFLICT) when it is another's, err saying why.
 */
static int session_check_owner(const agent_ref *a, int *found, grove_err *err)
{
    char *target = grove_asprintf("=%s:", a->session);
    const char *args[] = {
        "display-message", "-p", "-t", target, "#{pane_pid} #{@grove_instance}", NULL};
    char errtext[TMUX_ERR_MAX];
    char *res = NULL, *owner;
    long long pane = 0;
    unsigned long long start;
    int code = 0, rc = -1;

    *found = 0;
    if (!target)
        return grove_nomem(err);
    /* display-message succeeds, printing nothing, for a session that does not exist */
    if (!session_exists(a->session)) {
        rc = 0;
        goto done;
    }
    if (tmux_run(args, &res, &code, errtext, sizeof(errtext), err) != 0)
        goto done;
    /* "<pane pid> <owner>\n" */
    pane = strtoll(res, &owner, 10);
    if (code != 0 || owner == res) {
        if (!session_exists(a->session)) {
            rc = 0; /* gone meanwhile */
            goto done;
        }
        grove_fail(err, GROVE_EIO, "cannot read agent session '%s': %s", a->session,
                   errtext[0] ? errtext : "tmux printed no pane");
        goto done;
    }
    *found = 1;
    owner += *owner == ' ';
    owner[strcspn(owner, "\r\n")] = '\0';
    if (!a->instance_id || strcmp(owner, a->instance_id) != 0) {
        grove_fail(err, GROVE_ECONFLICT,
                   "agent session '%s' is not instance '%s''s (its owner mark %s is %s%s%s): "
                   "grove leaves it alone; stop it with tmux yourself if it is yours",
                   a->session, a->instance_id ? a->instance_id : "?", OWNER_OPTION,
                   *owner ? "'" : "", *owner ? owner : "missing", *owner ? "'" : "");
        goto done;
    }
    if (a->pid > 0 && pane != a->pid) {
        grove_fail(err, GROVE_ECONFLICT,
                   "agent session '%s' runs process %lld, not the agent (process %lld) that grove "
                   "started for '%s': grove leaves it alone",
                   a->session, pane, a->pid, a->instance_id);
        goto done;
    }
    start = agent_process_start(pane);
    if (a->start && start && start != a->start) {
        grove_fail(err, GROVE_ECONFLICT,
                   "agent session '%s' runs process %lld, which started at another time than the "
                   "agent grove started for '%s' (another process with the same pid): grove "
                   "leaves it alone",
                   a->session, pane, a->instance_id);
        goto done;
    }
    rc = 0;
done:
    free(res);
    free(target);
    return rc;
}

int agent_stop(const agent_ref *a, grove_err *err)
{
    if (a->session && *a->session) {
        char *target = NULL;
        const char *args[] = {"kill-session", "-t", NULL, NULL};
        char errtext[TMUX_ERR_MAX];
        grove_err terr = GROVE_ERR_INIT;
        int code = 0, r, found = 0;

        /* Never a session that is not this agent's. */
        if (session_check_owner(a, &found, err) != 0)
            return -1;
        if (found) {
            if (!(target = grove_asprintf("=%s", a->session)))
                return grove_nomem(err);
            args[2] = target;
            r = tmux_run(args, NULL, &code, errtext, sizeof(errtext), &terr);
            free(target);
            if (r != 0 && terr.code != GROVE_ENOTFOUND) {
                *err = terr;
                return -1;
            }
            /* A session that is already gone is fine. */
            if (r == 0 && code != 0 && session_exists(a->session))
                return grove_fail(err, GROVE_EIO, "cannot stop agent session '%s': %s", a->session,
                                  errtext[0] ? errtext : "tmux failed");
        }
    }
    if (a->pid > 0) {
        long long pid = a->pid;
        pid_t p = (pid_t)pid;
        unsigned long long now;
        int group;

        if (pid > INT_MAX || pid == 1 || p == getpid() || p == getpgrp())
            return grove_fail(err, GROVE_EINVAL, "refusing to signal process %lld", pid);
        now = agent_process_start(pid);
        if (!now)
            return 0; /* gone */
        /* The pid of an agent that is gone may be another process's now. */
        if (!a->start)
            return grove_fail(err, GROVE_EINVAL,
                              "refusing to signal process %lld: grove did not record when the "
                              "agent started, so it cannot tell it from another process that got "
                              "the same pid; stop it yourself (kill %lld) if it is the agent",
                              pid, pid);
        if (now != a->start)
            return 0; /* another process: the agent is gone */
        /* Its process group, when it leads one (setsid or a tmux pane). */
        group = getpgid(p) == p;
        if (!pid_or_group_alive(p, group))
            return 0;
        if (group)
            kill(-p, SIGTERM);
        kill(p, SIGTERM);
        wait_gone(p, group, STOP_GRACE_MS);
        if (pid_or_group_alive(p, group)) {
            if (group)
                kill(-p, SIGKILL);
            kill(p, SIGKILL);
            wait_gone(p, group, STOP_KILL_WAIT_MS);
        }
        if (agent_pid_alive(pid)) {
            int e = kill(p, 0) != 0 ? errno : 0;

            return grove_fail(err, GROVE_EIO, "cannot stop process %lld: %s", pid,
                              e ? strerror(e) : "still running");
        }
    }
    return 0;
}

/* ---- attaching ---------------------------------------------------------- */

int agent_attach(const agent_ref *a, int *exit_status, grove_err *err)
{
    const char *socket = NULL, *argv[8];
    char *target = NULL;
    char **env = NULL;
    struct sigaction ign, old_int, old_quit;
    int found = 0, st = 0, prc, rc = -1, k = 0, same_server;
    pid_t pid;

    *exit_status = 0;
    if (!a->session || !*a->session)
        return grove_fail(err, GROVE_ENOTFOUND, "instance '%s' has no agent session",
                          a->instance_id ? a->instance_id : "?");
    if (agent_tmux_socket(&socket, err) != 0)
        return -1;
    /* Never a session that is not this agent's: attaching lets a person type into it. */
    if (session_check_owner(a, &found, err) != 0)
        return -1;
    if (!found)
        return grove_fail(err, GROVE_ENOTFOUND, "agent session '%s' does not exist", a->session);
    if (!(target = grove_asprintf("=%s", a->session)) || !(env = env_clean(NULL, NULL, NULL))) {
        grove_nomem(err);
        goto done;
    }
    /*
     * Inside a client of the same server (the user's own, socket "default"),
     * attaching would nest the server in itself: that client switches instead.
     */
    same_server = !socket && getenv("TMUX") && *getenv("TMUX");
    argv[k++] = "tmux";
    if (socket) {
        argv[k++] = "-L";
        argv[k++] = socket;
    }
    argv[k++] = same_server ? "switch-client" : "attach-session";
    argv[k++] = "-t";
    argv[k++] = target;
    argv[k] = NULL;
    /* Like system(): the terminal's interrupt and quit keys are the child's business meanwhile. */
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGINT, &ign, &old_int);
    sigaction(SIGQUIT, &ign, &old_quit);
    prc = spawn_prog(&pid, "tmux", (char *const *)argv, env, NULL, STDIN_FILENO, STDOUT_FILENO,
                     STDERR_FILENO, 0);
    if (prc != 0) {
        grove_fail(err, prc == ENOENT ? GROVE_ENOTFOUND : GROVE_EIO, "cannot run 'tmux': %s",
                   strerror(prc));
    } else if (wait_child(pid, &st) != 0) {
        grove_fail(err, GROVE_EIO, "cannot wait for 'tmux': %s", strerror(errno));
    } else {
        *exit_status = status_code(st);
        rc = 0;
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGQUIT, &old_quit, NULL);
done:
    free(env);
    free(target);
    return rc;
}

/* ---- typing ------------------------------------------------------------ */

/*
 * text without what a terminal would act on: C0 control characters (but
 * newline and tab), DEL and C1 (U+0080..U+009F, two bytes in UTF-8).
 * ESC goes with C0, so no escape sequence (an end of bracketed paste
 * included) survives. Malloc'd; NULL when memory ran out.
 */
static char *printable(const char *text)
{
    size_t i, o = 0, n = strlen(text);
    char *out = malloc(n + 1);

    if (!out)
        return NULL;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];

        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
            continue;
        if (c == 0xC2 && i + 1 < n && (unsigned char)text[i + 1] >= 0x80 &&
            (unsigned char)text[i + 1] <= 0x9F) {
            i++;
            continue;
        }
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return out;
}

/* Writes text to a new 0600 file; its path into path (size n). 0 or -1 with err filled. */
static int paste_file(const char *text, char *path, size_t n, grove_err *err)
{
    const char *tmp = getenv("TMPDIR");
    size_t len = strlen(text);
    int fd;

    snprintf(path, n, "%s/grove-paste-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if ((fd = mkstemp(path)) < 0) /* 0600 */
        return grove_fail(err, GROVE_EIO, "cannot make a file for the text: %s", strerror(errno));
    if (io_write_all(fd, text, len) != 0) {
        grove_fail(err, GROVE_EIO, "cannot write the text to '%s': %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    close(fd);
    return 0;
}

int agent_send_keys(const agent_ref *a, const char *text, grove_err *err)
{
    char errtext[TMUX_ERR_MAX], path[PATH_MAX] = "", buffer[64];
    char *target = NULL, *clean = NULL;
    const char *session = a->session;
    int code = 0, rc = -1, found = 0;

    if (!session || !*session)
        return grove_fail(err, GROVE_EINVAL, "no agent session to send keys to");
    /* Never type into a session that is not this agent's. */
    if (session_check_owner(a, &found, err) != 0)
        return -1;
    if (!found)
        return grove_fail(err, GROVE_ENOTFOUND, "agent session '%s' is not running", session);
    target = grove_asprintf("=%s:", session);
    clean = printable(text ? text : "");
    if (!target || !clean) {
        grove_nomem(err);
        goto done;
    }
    /*
     * One bracketed paste (when the program asked for bracketed paste: an
     * agent's input box takes it as typed text, newlines and all, and no
     * line of it is submitted on its own), then Enter.
     */
    if (*clean) {
        const char *load[] = {"load-buffer", "-b", buffer, path, NULL};
        const char *paste[] = {"paste-buffer", "-p", "-d", "-b", buffer, "-t", target, NULL};

        snprintf(buffer, sizeof(buffer), "grove-paste-%ld", (long)getpid());
        if (paste_file(clean, path, sizeof(path), err) != 0)
            goto done;
        if (tmux_run(load, NULL, &code, errtext, sizeof(errtext), err) != 0)
            goto done;
        if (code != 0)
            goto failed;
        if (tmux_run(paste, NULL, &code, errtext, sizeof(errtext), err) != 0)
            goto done;
        if (code != 0)
            goto failed;
    }
    {
        const char *args[] = {"send-keys", "-t", target, "Enter", NULL};

        if (tmux_run(args, NULL, &code, errtext, sizeof(errtext), err) != 0)
            goto done;
        if (code != 0)
            goto failed;
    }
    rc = 0;
    goto done;
failed:
    if (!session_exists(session))
        grove_fail(err, GROVE_ENOTFOUND, "agent session '%s' is not running", session);
    else
        grove_fail(err, GROVE_EIO, "cannot send keys to agent session '%s': %s", session,
                   errtext[0] ? errtext : "tmux failed");
done:
    if (path[0])
        unlink(path);
    free(clean);
    free(target);
    return rc;
}

/* ---- the prompt file --------------------------------------------------- */

/* <dir>/<id>.prompt, malloc'd; NULL for an invalid id or when memory ran out. */
static char *prompt_path(const char *dir, const char *id)
{
    return valid_id(id) ? grove_asprintf("%s/%s.prompt", dir, id) : NULL;
}

int agent_prompt_file_write(const char *dir, const char *id, const char *prompt, char **path,
                            grove_err *err)
{
    char *p = NULL, *tmp = NULL;
    struct stat sb;
    int fd = -1, rc = -1;

    *path = NULL;
    if (!valid_id(id))
        return grove_fail(err, GROVE_EINVAL, "invalid instance id '%s'", id ? id : "");
    if (grove_mkdirs(dir, 0700, err) != 0)
        return -1;
    /* A folder of ours that only we can enter (it may have been made before, or by another). */
    if (lstat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode) || sb.st_uid != geteuid())
        return grove_fail(err, GROVE_EIO,
                          "cannot keep the prompt in '%s': not a folder of this user; remove it",
                          dir);
    if ((sb.st_mode & 0077) && chmod(dir, 0700) != 0)
        return grove_fail(err, GROVE_EIO, "cannot make '%s' private (mode 0700): %s", dir,
                          strerror(errno));
    p = prompt_path(dir, id);
    tmp = grove_asprintf("%s/.%s.prompt-XXXXXX", dir, id);
    if (!p || !tmp) {
        grove_nomem(err);
        goto done;
    }
    if ((fd = mkstemp(tmp)) < 0) { /* 0600, O_EXCL */
        grove_fail(err, GROVE_EIO, "cannot make a file in '%s': %s", dir, strerror(errno));
        goto done;
    }
    if (io_write_all(fd, prompt, strlen(prompt)) != 0 || fsync(fd) != 0) {
        grove_fail(err, GROVE_EIO, "cannot write the prompt to '%s': %s", tmp, strerror(errno));
        goto done;
    }
    if (rename(tmp, p) != 0) {
        grove_fail(err, GROVE_EIO, "cannot move the prompt to '%s': %s", p, strerror(errno));
        goto done;
    }
    tmp[0] = '\0';
    *path = p;
    p = NULL;
    rc = 0;
done:
    if (fd >= 0)
        close(fd);
    if (tmp && tmp[0] && fd >= 0)
        unlink(tmp);
    free(tmp);
    free(p);
    return rc;
}

void agent_prompt_file_remove(const char *dir, const char *id)
{
    char *p = prompt_path(dir, id);

    if (p)
        unlink(p);
    free(p);
}

/* ---- running to completion --------------------------------------------- */

int agent_run(char *const argv[], const char *cwd, const char *log_path, int timeout_s,
              int *exit_status, grove_err *err)
{
    return agent_run_watched(argv, cwd, NULL, log_path, timeout_s, NULL, NULL, exit_status, err);
}

int agent_run_watched(char *const argv[], const char *cwd, const char *const *env_add,
                      const char *log_path, int timeout_s, agent_started_fn started, void *arg,
                      int *exit_status, grove_err *err)
{
    char **env = NULL; /* borrowed strings, owned array */
    int logfd = -1, nullfd = -1, prc, st = 0, rc = -1;
    long nap = 10;
    double deadline;
    pid_t pid;

    *exit_status = -1;
    if (check_argv(argv, err) != 0 || check_cwd(cwd, err) != 0)
        return -1;
    if ((logfd = open_log(log_path, err)) < 0)
        goto done;
    if ((nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
        grove_fail(err, GROVE_EIO, "cannot open '/dev/null': %s", strerror(errno));
        goto done;
    }
    /* A setup command gets no secrets either. */
    if (!(env = env_clean(NULL, NULL, env_add))) {
        grove_nomem(err);
        goto done;
    }
    prc = spawn_prog(&pid, argv[0], argv, env, cwd, nullfd, logfd, logfd, POSIX_SPAWN_SETPGROUP);
    if (prc != 0) {
        spawn_fail(err, argv[0], prc);
        goto done;
    }
    if (started)
        started(arg, (long long)pid);
    deadline = timeout_s > 0 ? grove_now_ms() + timeout_s * 1000.0 : 0;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);

        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            grove_fail(err, GROVE_EIO, "cannot wait for '%s': %s", argv[0], strerror(errno));
            kill(-pid, SIGKILL);
            goto done;
        }
        if (deadline > 0 && grove_now_ms() >= deadline) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            if (wait_child(pid, &st) != 0) {
                grove_fail(err, GROVE_EIO, "cannot wait for '%s': %s", argv[0], strerror(errno));
                goto done;
            }
            log_warn("'%s' killed after %d s", argv[0], timeout_s);
            break;
        }
        sleep_ms(nap);
        if (nap < 50)
            nap += 10;
    }
    *exit_status = status_code(st);
    rc = 0;
done:
    if (logfd >= 0)
        close(logfd);
    if (nullfd >= 0)
        close(nullfd);
    free(env);
    return rc;
}

/* ---- reading ----------------------------------------------------------- */

/*
 * Cuts tmux's own "Pane is dead (status N, <time>)" line (remain-on-exit
 * writes it under an exited agent's output) and the blank lines above it.
 */
static void strip_dead_note(char *text)
{
    static const char NOTE[] = "Pane is dead (";
    size_t len = strlen(text);
    char *line;

    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
        len--;
    text[len] = '\0';
    line = strrchr(text, '\n');
    line = line ? line + 1 : text;
    if (strncmp(line, NOTE, sizeof(NOTE) - 1) != 0)
        return;
    *line = '\0';
    len = (size_t)(line - text);
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
        len--;
    text[len] = '\0';
}

int agent_capture(const agent_ref *a, int lines, char **text, grove_err *err)
{
    char *target = NULL, start[32];
    const char *args[] = {"capture-pane", "-p", "-J", "-t", NULL, "-S", start, NULL};
    char errtext[TMUX_ERR_MAX];
    int code = 0, found = 0, rc = -1;

    *text = NULL;
    if (!a->session || !*a->session)
        return grove_fail(err, GROVE_ENOTFOUND, "instance '%s' has no agent session",
                          a->instance_id ? a->instance_id : "?");
    /* Never a session that is not this agent's (another's output may hold its secrets). */
    if (session_check_owner(a, &found, err) != 0)
        return -1;
    if (!found)
        return grove_fail(err, GROVE_ENOTFOUND, "agent session '%s' does not exist", a->session);
    if (!(target = grove_asprintf("=%s:", a->session)))
        return grove_nomem(err);
    /* the visible screen and `lines` of history above it: enough for the last `lines` */
    snprintf(start, sizeof(start), "-%d", lines > 0 ? lines : 1);
    args[4] = target;
    if (tmux_run(args, text, &code, errtext, sizeof(errtext), err) != 0)
        goto done;
    if (code != 0) {
        free(*text);
        *text = NULL;
        grove_fail(err, session_exists(a->session) ? GROVE_EIO : GROVE_ENOTFOUND,
                   "cannot read agent session '%s': %s", a->session,
                   errtext[0] ? errtext : "tmux failed");
        goto done;
    }
    if (!*text && !(*text = strdup(""))) {
        grove_nomem(err);
        goto done;
    }
    strip_dead_note(*text);
    rc = 0;
done:
    free(target);
    return rc;
}
