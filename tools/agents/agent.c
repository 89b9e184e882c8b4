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

extern char **environ;

#define TMUX_TIMEOUT_MS   10000.0
#define TMUX_OUT_MAX      (4u << 20) /* bytes of tmux stdout kept */
#define TMUX_ERR_MAX      512        /* bytes of tmux stderr kept */
#define STOP_GRACE_MS     2000.0
#define STOP_KILL_WAIT_MS 1000.0
#define ID_MAX            128

static const char PLACEHOLDER[] = "{prompt}";
static const char ENV_NAME[] = "GROVE_INSTANCE_ID";

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
    const char **argv = NULL;
    /* stdout and stderr; bytes beyond the caps are read and dropped */
    grove_buf bufs[2] = {BUF_INIT(TMUX_OUT_MAX), BUF_INIT(TMUX_ERR_MAX)};
    int op[2] = {-1, -1}, ep[2] = {-1, -1}, fds[2] = {-1, -1}, nullfd = -1;
    int rc = -1, exited = 0, st = 0, prc;
    size_t n = 0, i;
    pid_t pid = -1;

    if (out)
        *out = NULL;
    if (errlen)
        errtext[0] = '\0';
    while (args[n])
        n++;
    argv = calloc(n + 2, sizeof(*argv));
    if (!argv)
        return grove_nomem(err);
    argv[0] = "tmux";
    for (i = 0; i < n; i++)
        argv[i + 1] = args[i];

    if (pipe2(op, O_CLOEXEC) != 0 || pipe2(ep, O_CLOEXEC) != 0 ||
        (nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
        grove_fail(err, GROVE_EIO, "cannot run 'tmux': %s", strerror(errno));
        goto done;
    }
    prc = spawn_prog(&pid, "tmux", (char *const *)argv, environ, NULL, nullfd, op[1], ep[1], 0);
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

/* `s` with every PLACEHOLDER replaced by `prompt`; malloc'd or NULL. */
static char *replace_placeholder(const char *s, const char *prompt)
{
    size_t plen = strlen(prompt), hlen = sizeof(PLACEHOLDER) - 1, count = 0, len;
    const char *p;
    char *res, *w;

    for (p = strstr(s, PLACEHOLDER); p; p = strstr(p + hlen, PLACEHOLDER))
        count++;
    len = strlen(s);
    if (count && plen > hlen && (plen - hlen) > (SIZE_MAX - len - 1) / count)
        return NULL;
    len = len - count * hlen + count * plen;
    res = malloc(len + 1);
    if (!res)
        return NULL;
    w = res;
    for (p = s;;) {
        const char *hit = strstr(p, PLACEHOLDER);

        if (!hit) {
            strcpy(w, p);
            break;
        }
        memcpy(w, p, (size_t)(hit - p));
        w += hit - p;
        memcpy(w, prompt, plen);
        w += plen;
        p = hit + hlen;
    }
    return res;
}

int agent_build_argv(const char *command_json, const char *prompt, char ***out, grove_err *err)
{
    json_error_t jerr;
    json_t *arr = NULL;
    char **argv = NULL;
    size_t i, n;
    int rc = -1;

    *out = NULL;
    if (!prompt)
        prompt = "";
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
        argv[i] = replace_placeholder(s, prompt);
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
    rc = 0;
done:
    agent_free_argv(argv);
    json_decref(arr);
    return rc;
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

int agent_find_program(const char *name)
{
    const char *path = getenv("PATH");
    const char *p, *end;

    struct stat sb;
    size_t nlen = strlen(name);

    if (strchr(name, '/'))
        return stat(name, &sb) == 0 && S_ISREG(sb.st_mode) && access(name, X_OK) == 0;
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
                return 1;
        }
        if (!*end)
            break;
    }
    return 0;
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

static int launch_tmux(const char *id, const char *cwd, char *const argv[], agent_handle *out,
                       grove_err *err)
{
    char name[sizeof(out->session)];
    char errtext[TMUX_ERR_MAX];
    char *ecwd = NULL, *idenv = NULL, *res = NULL, *sp;
    const char **args = NULL;
    size_t argc = 0, i, k = 0;
    int code = 0, rc = -1;

    snprintf(name, sizeof(name), "grove-%s", id);
    for (i = 0; name[i]; i++)
        if (name[i] == '.' || name[i] == ':')
            name[i] = '_';
    if (session_exists(name))
        return grove_fail(err, GROVE_ECONFLICT, "agent session '%s' already exists", name);

    while (argv[argc])
        argc++;
    ecwd = escape_format(cwd);
    idenv = grove_asprintf("%s=%s", ENV_NAME, id);
    args = calloc(argc + 14, sizeof(*args));
    if (!ecwd || !idenv || !args) {
        grove_nomem(err);
        goto done;
    }
    args[k++] = "new-session";
    args[k++] = "-d";
    args[k++] = "-P";
    args[k++] = "-F";
    args[k++] = "#{pane_pid} #{session_name}";
    args[k++] = "-s";
    args[k++] = name;
    args[k++] = "-c";
    args[k++] = ecwd;
    args[k++] = "--";
    args[k++] = "env";
    args[k++] = idenv;
    for (i = 0; i < argc; i++)
        args[k++] = argv[i];
    args[k] = NULL;

    if (tmux_run(args, &res, &code, errtext, sizeof(errtext), err) != 0)
        goto done;
    if (code != 0) {
        if (strstr(errtext, "duplicate session"))
            grove_fail(err, GROVE_ECONFLICT, "agent session '%s' already exists", name);
        else
            grove_fail(err, GROVE_EIO, "cannot start agent session '%s': %s", name,
                       errtext[0] ? errtext : "tmux failed");
        goto done;
    }
    /* "<pane pid> <session name>\n" */
    out->pid = strtoll(res, &sp, 10);
    if (out->pid < 0 || sp == res)
        out->pid = 0;
    snprintf(out->session, sizeof(out->session), "%s", name);
    if (*sp == ' ') {
        sp++;
        sp[strcspn(sp, "\r\n")] = '\0';
        if (*sp)
            snprintf(out->session, sizeof(out->session), "%s", sp);
    }
    rc = 0;
done:
    free(res);
    free(args);
    free(idenv);
    free(ecwd);
    return rc;
}

/* environ without GROVE_INSTANCE_ID, plus `idenv`. The strings are borrowed. */
static char **env_with(const char *idenv)
{
    size_t n = 0, i, k = 0, nlen = strlen(ENV_NAME);
    char **env;

    while (environ && environ[n])
        n++;
    env = calloc(n + 2, sizeof(*env));
    if (!env)
        return NULL;
    for (i = 0; i < n; i++)
        if (!(strncmp(environ[i], ENV_NAME, nlen) == 0 && environ[i][nlen] == '='))
            env[k++] = environ[i];
    env[k++] = (char *)idenv;
    env[k] = NULL;
    return env;
}

static int launch_detached(const char *id, const char *cwd, char *const argv[],
                           const char *log_path, agent_handle *out, grove_err *err)
{
    char *idenv = NULL;
    char **env = NULL;
    int logfd = -1, nullfd = -1, prc, rc = -1;
    pid_t pid;

    idenv = grove_asprintf("%s=%s", ENV_NAME, id);
    env = idenv ? env_with(idenv) : NULL;
    if (!env) {
        grove_nomem(err);
        goto done;
    }
    if ((logfd = open_log(log_path, err)) < 0)
        goto done;
    if ((nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
        grove_fail(err, GROVE_EIO, "cannot open '/dev/null': %s", strerror(errno));
        goto done;
    }
    prc = spawn_prog(&pid, argv[0], argv, env, cwd, nullfd, logfd, logfd, POSIX_SPAWN_SETSID);
    if (prc != 0) {
        spawn_fail(err, argv[0], prc);
        goto done;
    }
    out->session[0] = '\0';
    out->pid = pid;
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

int agent_launch(const char *id, const char *cwd, char *const argv[], const char *log_path,
                 int use_tmux, agent_handle *out, grove_err *err)
{
    if (!out)
        return grove_fail(err, GROVE_EINVAL, "no handle for the agent");
    memset(out, 0, sizeof(*out));
    if (!valid_id(id))
        return grove_fail(err, GROVE_EINVAL, "invalid instance id '%s'", id ? id : "");
    if (!cwd)
        return grove_fail(err, GROVE_EINVAL, "no folder for agent '%s'", id);
    if (check_argv(argv, err) != 0)
        return -1;
    /* env(1) would take a first word with '=' as one more assignment. */
    if (strchr(argv[0], '='))
        return grove_fail(err, GROVE_EINVAL, "agent program '%s' contains '='", argv[0]);
    if (check_cwd(cwd, err) != 0)
        return -1;
    if (use_tmux && agent_have_tmux())
        return launch_tmux(id, cwd, argv, out, err);
    return launch_detached(id, cwd, argv, log_path, out, err);
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
    if (session && *session && session_exists(session))
        return 1;
    return agent_pid_alive(pid);
}

int agent_list_sessions(char ***out, size_t *n, grove_err *err)
{
    const char *args[] = {"list-sessions", "-F", "#{session_name}", NULL};
    char errtext[TMUX_ERR_MAX];
    char *res = NULL, *line, *next;
    char **list = NULL;
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
        if (strstr(errtext, "no server running") || strstr(errtext, "error connecting") ||
            strstr(errtext, "No such file or directory") ||
            strstr(errtext, "server exited unexpectedly")) {
            rc = 0;
            goto done;
        }
        grove_fail(err, GROVE_EIO, "cannot list tmux sessions: %s",
                   errtext[0] ? errtext : "tmux failed");
        goto done;
    }
    for (line = res; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (!*line)
            continue;
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **l = realloc(list, ncap * sizeof(*l));

            if (!l) {
                grove_nomem(err);
                goto done;
            }
            list = l;
            cap = ncap;
        }
        list[count] = strdup(line);
        if (!list[count]) {
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
    free(res);
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

int agent_stop(const char *session, long long pid, grove_err *err)
{
    if (session && *session) {
        char *target = grove_asprintf("=%s", session);
        const char *args[] = {"kill-session", "-t", target, NULL};
        char errtext[TMUX_ERR_MAX];
        grove_err terr = GROVE_ERR_INIT;
        int code = 0, r;

        if (!target)
            return grove_nomem(err);
        r = tmux_run(args, NULL, &code, errtext, sizeof(errtext), &terr);
        free(target);
        if (r != 0 && terr.code != GROVE_ENOTFOUND) {
            *err = terr;
            return -1;
        }
        /* A session that is already gone is fine. */
        if (r == 0 && code != 0 && session_exists(session))
            return grove_fail(err, GROVE_EIO, "cannot stop agent session '%s': %s", session,
                              errtext[0] ? errtext : "tmux failed");
    }
    if (pid > 0) {
        pid_t p = (pid_t)pid;
        int group;

        if (pid > INT_MAX || pid == 1 || p == getpid() || p == getpgrp())
            return grove_fail(err, GROVE_EINVAL, "refusing to signal process %lld", pid);
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

int agent_send_keys(const char *session, const char *text, grove_err *err)
{
    char errtext[TMUX_ERR_MAX], path[PATH_MAX] = "", buffer[64];
    char *target = NULL, *clean = NULL;
    int code = 0, rc = -1;

    if (!session || !*session)
        return grove_fail(err, GROVE_EINVAL, "no agent session to send keys to");
    if (!session_exists(session))
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

/* ---- running to completion --------------------------------------------- */

int agent_run(char *const argv[], const char *cwd, const char *log_path, int timeout_s,
              int *exit_status, grove_err *err)
{
    return agent_run_watched(argv, cwd, log_path, timeout_s, NULL, NULL, exit_status, err);
}

int agent_run_watched(char *const argv[], const char *cwd, const char *log_path, int timeout_s,
                      agent_started_fn started, void *arg, int *exit_status, grove_err *err)
{
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
    prc =
        spawn_prog(&pid, argv[0], argv, environ, cwd, nullfd, logfd, logfd, POSIX_SPAWN_SETPGROUP);
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
    return rc;
}
