/*
 * Unit tests of tools/agents/agent.c against real processes and a real tmux. The
 * tests run their own tmux server (TMUX_TMPDIR in a temporary folder, TMUX
 * unset), never the user's, and kill it at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tools/agents/agent.h"

extern char **environ;

/* Text full of shell and tmux metacharacters; must arrive verbatim. */
static const char META[] = "$(touch pwned); rm -rf / \"'`touch pwned`|&;<>*? "
                           "#(touch pwned) #{session_name} ${HOME} \\n -x";

static char base[PATH_MAX];    /* the temporary folder; also our cwd */
static char tmuxdir[PATH_MAX]; /* TMUX_TMPDIR */

static void nap(void)
{
    struct timespec ts = {0, 20 * 1000000L};

    nanosleep(&ts, NULL);
}

/* Contents of a file (malloc'd) or NULL. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0, r;

    if (!f)
        return NULL;
    for (;;) {
        if (cap - len < 4096) {
            char *b = realloc(buf, cap + 8192);

            assert_non_null(b);
            buf = b;
            cap += 8192;
        }
        r = fread(buf + len, 1, cap - len - 1, f);
        if (r == 0)
            break;
        len += r;
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

/* Polls (up to `ms`) until the file holds exactly `want`. */
static int wait_content(const char *path, const char *want, int ms)
{
    int i;

    for (i = 0; i < ms / 20; i++) {
        char *s = slurp(path);
        int same = s && strcmp(s, want) == 0;

        free(s);
        if (same)
            return 1;
        nap();
    }
    return 0;
}

static int exists(const char *path)
{
    struct stat sb;

    return lstat(path, &sb) == 0;
}

/* A new folder base/name; returns its path in buf. */
static const char *mkdir_in(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", base, name);
    assert_int_equal(mkdir(buf, 0700), 0);
    return buf;
}

static char *path_in(const char *dir, const char *name)
{
    char *p = grove_asprintf("%s/%s", dir, name);

    assert_non_null(p);
    return p;
}

static char **argv_of(const char *json, const char *prompt)
{
    grove_err err = GROVE_ERR_INIT;
    char **argv = NULL;

    assert_int_equal(agent_build_argv(json, prompt, &argv, &err), 0);
    assert_non_null(argv);
    return argv;
}

static int have_session(const char *name)
{
    char **list = NULL;
    size_t n = 0, i;
    int found = 0;
    grove_err err = GROVE_ERR_INIT;

    assert_int_equal(agent_list_sessions(&list, &n, &err), 0);
    for (i = 0; i < n; i++)
        if (strcmp(list[i], name) == 0)
            found = 1;
    agent_free_list(list, n);
    return found;
}

/* ---- agent_build_argv ---------------------------------------------------- */

static void test_build_argv(void **state)
{
    grove_err err = GROVE_ERR_INIT;
    char *dummy[1] = {NULL};
    char **argv = NULL;

    (void)state;
    argv = argv_of("[\"claude\",\"--print\",\"{prompt}\"]", "fix it");
    assert_string_equal(argv[0], "claude");
    assert_string_equal(argv[1], "--print");
    assert_string_equal(argv[2], "fix it");
    assert_null(argv[3]);
    agent_free_argv(argv);

    argv = argv_of("[\"x\",\"a{prompt}b{prompt}c\",\"{prompt}{prompt}\",\"{prompt\",\"\"]", "P");
    assert_string_equal(argv[1], "aPbPc");
    assert_string_equal(argv[2], "PP");
    assert_string_equal(argv[3], "{prompt");
    assert_string_equal(argv[4], "");
    assert_null(argv[5]);
    agent_free_argv(argv);

    /* the prompt stays one element, verbatim */
    argv = argv_of("[\"agent\",\"--prompt={prompt}\"]", META);
    assert_string_equal(argv[0], "agent");
    assert_true(strncmp(argv[1], "--prompt=", 9) == 0);
    assert_string_equal(argv[1] + 9, META);
    assert_null(argv[2]);
    agent_free_argv(argv);

    /* a placeholder inside the prompt is not replaced again; NULL prompt = "" */
    argv = argv_of("[\"a\",\"{prompt}\"]", "{prompt}{prompt}");
    assert_string_equal(argv[1], "{prompt}{prompt}");
    agent_free_argv(argv);
    argv = argv_of("[\"a\",\"<{prompt}>\"]", NULL);
    assert_string_equal(argv[1], "<>");
    agent_free_argv(argv);
    argv = argv_of("[\"\\u00e9t\\u00e9\"]", NULL);
    assert_string_equal(argv[0], "\xc3\xa9t\xc3\xa9");
    assert_null(argv[1]);
    agent_free_argv(argv);

    {
        static const char *const bad[] = {
            "",
            "not json",
            "[\"a\",",
            "{\"a\":\"b\"}",
            "\"claude\"",
            "42",
            "null",
            "[]",
            "[1]",
            "[\"a\",null]",
            "[\"a\",[\"b\"]]",
            "[\"a\",true]",
            "[\"\"]",
            "[\"{prompt}\"]",
            "[\"a\\u0000b\"]",
            "[\"a\",\"b\\u0000\"]",
        };
        size_t i;

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            argv = dummy; /* must be reset to NULL */
            err.code = GROVE_OK;
            err.msg[0] = '\0';
            assert_int_equal(agent_build_argv(bad[i], "", &argv, &err), -1);
            assert_null(argv);
            assert_int_equal(err.code, GROVE_EINVAL);
            assert_true(strlen(err.msg) > 0);
            assert_true(err.msg[strlen(err.msg) - 1] != '.');
        }
        assert_int_equal(agent_build_argv(NULL, "", &argv, &err), -1);
        assert_int_equal(err.code, GROVE_EINVAL);
    }
    agent_free_argv(NULL);
}

/* ---- tmux --------------------------------------------------------------- */

static void test_list_sessions_without_server(void **state)
{
    char empty[PATH_MAX];
    char **list = NULL;
    size_t n = 99;
    grove_err err = GROVE_ERR_INIT;

    (void)state;
    if (!agent_have_tmux())
        skip();
    /* a TMUX_TMPDIR where no server runs */
    mkdir_in(empty, sizeof(empty), "no-server");
    assert_int_equal(setenv("TMUX_TMPDIR", empty, 1), 0);
    assert_int_equal(agent_list_sessions(&list, &n, &err), 0);
    assert_int_equal(n, 0);
    agent_free_list(list, n);
    assert_int_equal(setenv("TMUX_TMPDIR", tmuxdir, 1), 0);
    assert_int_equal(agent_alive("grove-nothing", 0), 0);
}

static void test_tmux_launch_send_stop(void **state)
{
    char dir[PATH_MAX];
    char **argv;
    char *input, *idfile, *pwned, *want;
    const char *text = META;
    agent_handle h, h2;
    grove_err err = GROVE_ERR_INIT;

    (void)state;
    if (!agent_have_tmux())
        skip();
    mkdir_in(dir, sizeof(dir), "tmux-agent");
    input = path_in(dir, ".agent-input");
    idfile = path_in(dir, "id.txt");
    pwned = path_in(dir, "pwned");
    argv = argv_of(
        "[\"sh\",\"-c\",\"echo \\\"$GROVE_INSTANCE_ID\\\" > id.txt; cat > .agent-input\"]", NULL);

    assert_int_equal(agent_launch("work-7-a1", dir, argv, NULL, 1, &h, &err), 0);
    assert_string_equal(h.session, "grove-work-7-a1");
    assert_true(h.pid > 1);
    assert_int_equal(agent_pid_alive(h.pid), 1);
    assert_int_equal(agent_alive(h.session, h.pid), 1);
    assert_int_equal(agent_alive(h.session, 0), 1);
    assert_true(wait_content(idfile, "work-7-a1\n", 5000));
    assert_true(have_session("grove-work-7-a1"));

    /* typed literally, nothing through a shell or tmux formats */
    assert_int_equal(agent_send_keys(h.session, text, &err), 0);
    want = grove_asprintf("%s\n", text);
    assert_true(wait_content(input, want, 5000));
    free(want);
    /* text that looks like send-keys flags */
    assert_int_equal(agent_send_keys(h.session, "-t x Enter", &err), 0);
    want = grove_asprintf("%s\n-t x Enter\n", text);
    assert_true(wait_content(input, want, 5000));
    free(want);
    assert_false(exists(pwned));
    assert_false(exists("pwned"));

    /* the same id again */
    assert_int_equal(agent_launch("work-7-a1", dir, argv, NULL, 1, &h2, &err), -1);
    assert_int_equal(err.code, GROVE_ECONFLICT);
    assert_non_null(strstr(err.msg, "'grove-work-7-a1'"));
    /* a session name is matched exactly, not as a prefix */
    assert_int_equal(agent_alive("grove-work-7", 0), 0);

    assert_int_equal(agent_stop(h.session, h.pid, &err), 0);
    assert_false(have_session("grove-work-7-a1"));
    assert_int_equal(agent_alive(h.session, 0), 0);
    assert_int_equal(agent_pid_alive(h.pid), 0);
    assert_int_equal(agent_alive(h.session, h.pid), 0);
    /* stopping again: already gone is fine */
    assert_int_equal(agent_stop(h.session, h.pid, &err), 0);

    err.code = GROVE_OK;
    assert_int_equal(agent_send_keys(h.session, "hi", &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_string_equal(err.msg, "agent session 'grove-work-7-a1' is not running");
    assert_int_equal(agent_send_keys("grove-never", "hi", &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);

    agent_free_argv(argv);
    free(input);
    free(idfile);
    free(pwned);
}

static void test_tmux_prompt_argument(void **state)
{
    char dir[PATH_MAX];
    char **argv;
    char *out, *pwned;
    agent_handle h;
    grove_err err = GROVE_ERR_INIT;

    (void)state;
    if (!agent_have_tmux())
        skip();
    mkdir_in(dir, sizeof(dir), "tmux-prompt");
    out = path_in(dir, "prompt.txt");
    pwned = path_in(dir, "pwned");
    argv = argv_of("[\"sh\",\"-c\",\"printf %s \\\"$1\\\" > prompt.txt; sleep 30\",\"sh\","
                   "\"{prompt}\"]",
                   META);
    assert_int_equal(agent_launch("work-bd-a3.f8-a2", dir, argv, NULL, 1, &h, &err), 0);
    /* tmux makes '.' in a session name '_': the handle says what tmux made */
    assert_string_equal(h.session, "grove-work-bd-a3_f8-a2");
    assert_true(wait_content(out, META, 5000));
    assert_false(exists(pwned));
    assert_false(exists("pwned"));
    assert_int_equal(agent_alive(h.session, h.pid), 1);
    assert_int_equal(agent_stop(h.session, h.pid, &err), 0);
    assert_int_equal(agent_alive(h.session, h.pid), 0);
    agent_free_argv(argv);
    free(out);
    free(pwned);
}

/* A working folder whose name holds tmux format syntax is used verbatim. */
static void test_tmux_cwd_with_format(void **state)
{
    char dir[PATH_MAX], real[PATH_MAX];
    char **argv;
    char *where, *want;
    agent_handle h;
    grove_err err = GROVE_ERR_INIT;

    (void)state;
    if (!agent_have_tmux())
        skip();
    mkdir_in(dir, sizeof(dir), "c#(touch pwned)#{session_name}##");
    assert_non_null(realpath(dir, real));
    where = path_in(dir, "where.txt");
    argv = argv_of("[\"sh\",\"-c\",\"pwd -P > where.txt; sleep 30\"]", NULL);
    assert_int_equal(agent_launch("adhoc-a1", dir, argv, NULL, 1, &h, &err), 0);
    want = grove_asprintf("%s\n", real);
    assert_true(wait_content(where, want, 5000));
    assert_false(exists("pwned"));
    assert_int_equal(agent_stop(h.session, h.pid, &err), 0);
    free(want);
    free(where);
    agent_free_argv(argv);
}

/*
 * Launches `argv_json` as instance `id` under tmux in a new folder `name`
 * (its path into dir) and waits until the program has touched "ready"
 * there. argv is freed here.
 */
static void launch_ready(char *dir, size_t len, const char *name, const char *id,
                         const char *argv_json, agent_handle *h)
{
    char **argv = argv_of(argv_json, NULL);
    grove_err err = GROVE_ERR_INIT;
    char *ready;
    int i;

    mkdir_in(dir, len, name);
    ready = path_in(dir, "ready");
    if (agent_launch(id, dir, argv, NULL, 1, h, &err) != 0)
        fail_msg("agent_launch: %s", err.msg);
    agent_free_argv(argv);
    for (i = 0; i < 250 && !exists(ready); i++)
        nap();
    assert_true(exists(ready));
    free(ready);
}

/*
 * Feedback reaches an agent that asked for bracketed paste as one paste
 * without control characters: ^C, CR, ESC (so no early end of the paste),
 * DEL and C1 are gone; newline and tab stay (tmux pastes LF as CR).
 */
static void test_tmux_send_is_one_clean_paste(void **state)
{
    char dir[PATH_MAX];
    char *got;
    agent_handle h;
    grove_err err = GROVE_ERR_INIT;
    const char *text = "a\x03"
                       "b\rc\x1b[201~d\ne\x7f\xc2\x85"
                       "f\tg\x04h \xc3\xa9";
    const char *want = "\x1b[200~abc[201~d\ref\tgh \xc3\xa9\x1b[201~\r";

    (void)state;
    if (!agent_have_tmux())
        skip();
    /* an agent's input box: raw mode, and it asks the terminal for bracketed paste */
    launch_ready(dir, sizeof(dir), "tmux-paste", "work-9-a1",
                 "[\"sh\",\"-c\",\"stty raw -echo; printf '\\\\033[?2004h'; touch ready; "
                 "cat > got.bin\"]",
                 &h);
    got = path_in(dir, "got.bin");
    assert_int_equal(agent_send_keys(h.session, text, &err), 0);
    assert_true(wait_content(got, want, 10000));
    assert_int_equal(agent_alive(h.session, h.pid), 1);
    assert_int_equal(agent_stop(h.session, h.pid, &err), 0);
    free(got);
}

/* ^C in feedback does not interrupt a line-mode agent (it would die of SIGINT). */
static void test_tmux_send_cannot_interrupt(void **state)
{
    char dir[PATH_MAX];
    char *got;
    agent_handle h;
    grove_err err = GROVE_ERR_INIT;

    (void)state;
    if (!agent_have_tmux())
        skip();
    launch_ready(dir, sizeof(dir), "tmux-intr", "work-10-a1",
                 "[\"sh\",\"-c\",\"touch ready; cat > got.txt\"]", &h);
    got = path_in(dir, "got.txt");
    assert_int_equal(agent_send_keys(h.session, "x\x03y\x04", &err), 0);
    assert_true(wait_content(got, "xy\n", 10000));
    assert_int_equal(agent_send_keys(h.session, "still here", &err), 0);
    assert_true(wait_content(got, "xy\nstill here\n", 10000));
    assert_int_equal(agent_alive(h.session, h.pid), 1);
    assert_int_equal(agent_stop(h.session, h.pid, &err), 0);
    free(got);
}

/* Long text arrives whole, without cutting UTF-8. */
static void test_tmux_send_long_text(void **state)
{
    char dir[PATH_MAX];
    char *big, *text, *want;
    agent_handle h;
    grove_err err = GROVE_ERR_INIT;
    size_t i, len = 0;

    (void)state;
    if (!agent_have_tmux())
        skip();
    text = malloc(30001);
    assert_non_null(text);
    text[len++] = 'x';
    for (i = 0; i < 14000; i++) {
        text[len++] = '\xc3';
        text[len++] = '\xa9';
    }
    text[len] = '\0';
    launch_ready(dir, sizeof(dir), "tmux-long", "work-8-a1",
                 "[\"sh\",\"-c\",\"stty raw -echo; touch ready; cat > big.txt\"]", &h);
    big = path_in(dir, "big.txt");
    assert_int_equal(agent_send_keys(h.session, text, &err), 0);
    want = grove_asprintf("%s\r", text); /* raw mode: Enter arrives as CR */
    assert_true(wait_content(big, want, 10000));
    assert_int_equal(agent_stop(h.session, h.pid, &err), 0);
    free(want);
    free(text);
    free(big);
}

static void test_launch_refuses(void **state)
{
    char dir[PATH_MAX];
    char *missing;
    char **argv = argv_of("[\"sh\",\"-c\",\"exit 0\"]", NULL);
    char **eq = argv_of("[\"A=B\",\"x\"]", NULL);
    char *none[] = {NULL};
    agent_handle h;
    grove_err err = GROVE_ERR_INIT;
    static const char *const bad_ids[] = {"", "a b", "x#(touch pwned)", "a:b", "a/b", "a=b"};
    size_t i;
    int t;

    (void)state;
    mkdir_in(dir, sizeof(dir), "refuse");
    missing = path_in(dir, "missing");
    for (t = 0; t < 2; t++) {
        for (i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
            assert_int_equal(agent_launch(bad_ids[i], dir, argv, NULL, t, &h, &err), -1);
            assert_int_equal(err.code, GROVE_EINVAL);
        }
        assert_int_equal(agent_launch("work-1-a1", dir, eq, NULL, t, &h, &err), -1);
        assert_int_equal(err.code, GROVE_EINVAL);
        assert_string_equal(err.msg, "agent program 'A=B' contains '='");
        assert_int_equal(agent_launch("work-1-a1", dir, none, NULL, t, &h, &err), -1);
        assert_int_equal(err.code, GROVE_EINVAL);
        assert_int_equal(agent_launch("work-1-a1", missing, argv, NULL, t, &h, &err), -1);
        assert_int_equal(err.code, GROVE_ENOTFOUND);
        assert_non_null(strstr(err.msg, "'"));
    }
    assert_false(exists("pwned"));
    free(missing);
    agent_free_argv(argv);
    agent_free_argv(eq);
}

/* ---- without tmux -------------------------------------------------------- */

static void test_detached(void **state)
{
    char dir[PATH_MAX];
    char **argv;
    char *log, *logdir, *idfile;
    agent_handle h;
    grove_err err = GROVE_ERR_INIT;
    struct stat sb;
    int i, st;

    (void)state;
    mkdir_in(dir, sizeof(dir), "detached");
    logdir = path_in(base, "logs/deep");
    log = path_in(logdir, "work-9-a1.log");
    idfile = path_in(dir, "id.txt");
    argv = argv_of("[\"sh\",\"-c\",\"echo out; echo err >&2; "
                   "echo \\\"$GROVE_INSTANCE_ID\\\" > id.txt; exec sleep 30\"]",
                   NULL);
    /* an inherited GROVE_INSTANCE_ID is replaced, not duplicated */
    assert_int_equal(setenv("GROVE_INSTANCE_ID", "parent-id", 1), 0);
    memset(&h, 0x55, sizeof(h));
    assert_int_equal(agent_launch("work-9-a1", dir, argv, log, 0, &h, &err), 0);
    unsetenv("GROVE_INSTANCE_ID");
    assert_string_equal(h.session, "");
    assert_true(h.pid > 1);
    assert_int_equal(agent_pid_alive(h.pid), 1);
    assert_int_equal(agent_alive(NULL, h.pid), 1);
    assert_int_equal(agent_alive("", h.pid), 1);
    /* a session of its own */
    assert_int_equal(getsid((pid_t)h.pid), (pid_t)h.pid);
    assert_true(wait_content(idfile, "work-9-a1\n", 5000));
    assert_true(wait_content(log, "out\nerr\n", 5000));
    assert_int_equal(stat(log, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(stat(logdir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);

    /* killed from outside: the zombie is reaped and counts as gone */
    assert_int_equal(kill((pid_t)h.pid, SIGKILL), 0);
    for (i = 0; i < 250 && agent_alive(NULL, h.pid); i++)
        nap();
    assert_int_equal(agent_alive(NULL, h.pid), 0);
    assert_int_equal(waitpid((pid_t)h.pid, &st, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
    assert_int_equal(agent_stop(NULL, h.pid, &err), 0);

    /* a log that exists already is appended to */
    assert_int_equal(agent_launch("work-9-a1", dir, argv, log, 0, &h, &err), 0);
    assert_true(wait_content(log, "out\nerr\nout\nerr\n", 5000));
    assert_int_equal(agent_stop("", h.pid, &err), 0);
    assert_int_equal(agent_alive(NULL, h.pid), 0);

    agent_free_argv(argv);
    free(idfile);
    free(log);
    free(logdir);
}

static void test_stop_detached(void **state)
{
    char dir[PATH_MAX];
    char **argv, **stubborn;
    char *log, *ready, *kidfile, *kid;
    agent_handle h;
    grove_err err = GROVE_ERR_INIT;
    long long child;
    int i;

    (void)state;
    mkdir_in(dir, sizeof(dir), "stop");
    log = path_in(dir, "agent.log");
    ready = path_in(dir, "ready");
    kidfile = path_in(dir, "kid.txt");
    /* a child in the background: the whole process group goes */
    argv = argv_of("[\"sh\",\"-c\",\"sleep 30 & echo $! > kid.txt; wait\"]", NULL);
    assert_int_equal(agent_launch("work-10-a1", dir, argv, log, 0, &h, &err), 0);
    for (i = 0; i < 250; i++) {
        kid = slurp(kidfile);
        if (kid && strchr(kid, '\n'))
            break;
        free(kid);
        kid = NULL;
        nap();
    }
    assert_non_null(kid);
    child = atoll(kid);
    free(kid);
    assert_true(child > 1);
    assert_int_equal(agent_pid_alive(child), 1);
    assert_int_equal(agent_stop(NULL, h.pid, &err), 0);
    assert_int_equal(agent_pid_alive(h.pid), 0);
    for (i = 0; i < 250 && agent_pid_alive(child); i++)
        nap();
    assert_int_equal(agent_pid_alive(child), 0);
    assert_int_equal(kill(-(pid_t)h.pid, 0), -1);

    /* SIGTERM ignored: SIGKILL after the grace period */
    stubborn =
        argv_of("[\"sh\",\"-c\",\"trap '' TERM; touch ready; while :; do sleep 1; done\"]", NULL);
    assert_int_equal(agent_launch("work-10-a2", dir, stubborn, log, 0, &h, &err), 0);
    for (i = 0; i < 250 && !exists(ready); i++)
        nap();
    assert_true(exists(ready));
    assert_int_equal(agent_stop(NULL, h.pid, &err), 0);
    assert_int_equal(agent_pid_alive(h.pid), 0);

    /* never ourselves, our group, or init */
    assert_int_equal(agent_stop(NULL, 1, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_int_equal(agent_stop(NULL, getpid(), &err), -1);
    assert_int_equal(agent_stop(NULL, getpgrp(), &err), -1);
    assert_int_equal(agent_pid_alive(getpid()), 1);
    /* nothing to stop */
    assert_int_equal(agent_stop(NULL, 0, &err), 0);
    assert_int_equal(agent_stop("grove-none", 0, &err), 0);
    assert_int_equal(agent_pid_alive(0), 0);
    assert_int_equal(agent_pid_alive(-5), 0);

    agent_free_argv(argv);
    agent_free_argv(stubborn);
    free(log);
    free(ready);
    free(kidfile);
}

/* ---- agent_run ----------------------------------------------------------- */

static void test_run(void **state)
{
    char dir[PATH_MAX];
    char **argv;
    char *log, *s;
    char *missing[] = {(char *)"grove-no-such-program-xyz", NULL};
    int status = 0;
    grove_err err = GROVE_ERR_INIT;

    (void)state;
    mkdir_in(dir, sizeof(dir), "run");
    log = path_in(dir, "setup/setup.log");

    argv = argv_of("[\"sh\",\"-c\",\"echo hi; pwd -P; exit 3\"]", NULL);
    assert_int_equal(agent_run(argv, dir, log, 10, &status, &err), 0);
    assert_int_equal(status, 3);
    s = slurp(log);
    assert_non_null(s);
    assert_true(strncmp(s, "hi\n", 3) == 0);
    assert_non_null(strstr(s, "/run\n"));
    free(s);
    agent_free_argv(argv);

    /* killed by a signal: 128 + signal */
    argv = argv_of("[\"sh\",\"-c\",\"kill -TERM $$\"]", NULL);
    assert_int_equal(agent_run(argv, dir, log, 10, &status, &err), 0);
    assert_int_equal(status, 128 + SIGTERM);
    agent_free_argv(argv);

    status = 0;
    assert_int_equal(agent_run(missing, dir, log, 10, &status, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_string_equal(err.msg,
                        "cannot run 'grove-no-such-program-xyz': No such file or directory");

    argv = argv_of("[\"sleep\",\"5\"]", NULL);
    assert_int_equal(agent_run(argv, dir, log, 1, &status, &err), 0);
    assert_int_equal(status, 128 + SIGKILL);
    agent_free_argv(argv);

    /* a folder that does not exist */
    argv = argv_of("[\"true\"]", NULL);
    s = path_in(dir, "nope");
    assert_int_equal(agent_run(argv, s, log, 1, &status, &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    free(s);
    agent_free_argv(argv);
    free(log);
}

/* Children get an empty signal mask and default dispositions. */
static void test_run_signals_reset(void **state)
{
    char dir[PATH_MAX];
    char **argv;
    char *log, *s;
    const char *blk, *ign_s;
    unsigned long long ignored;
    sigset_t block, old;
    struct sigaction ign, old_pipe, old_int;
    int status = -1;
    grove_err err = GROVE_ERR_INIT;

    (void)state;
    mkdir_in(dir, sizeof(dir), "signals");
    log = path_in(dir, "sig.log");
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    assert_int_equal(sigprocmask(SIG_BLOCK, &block, &old), 0);
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &old_pipe);
    sigaction(SIGINT, &ign, &old_int);

    argv = argv_of("[\"grep\",\"-E\",\"^Sig(Blk|Ign)\",\"/proc/self/status\"]", NULL);
    assert_int_equal(agent_run(argv, dir, log, 10, &status, &err), 0);

    sigprocmask(SIG_SETMASK, &old, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
    sigaction(SIGINT, &old_int, NULL);

    assert_int_equal(status, 0);
    s = slurp(log);
    assert_non_null(s);
    blk = strstr(s, "SigBlk:\t");
    ign_s = strstr(s, "SigIgn:\t");
    assert_non_null(blk);
    assert_non_null(ign_s);
    /* nothing blocked; the signals grove changes are back to default */
    assert_true(strtoull(blk + 8, NULL, 16) == 0);
    ignored = strtoull(ign_s + 8, NULL, 16);
    assert_true((ignored & (1ull << (SIGPIPE - 1))) == 0);
    assert_true((ignored & (1ull << (SIGINT - 1))) == 0);
    assert_true((ignored & (1ull << (SIGTERM - 1))) == 0);
    assert_true((ignored & (1ull << (SIGCHLD - 1))) == 0);
    free(s);
    agent_free_argv(argv);
    free(log);
}

/* ---- setup ---------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void tmux_kill_server(void)
{
    char *argv[] = {(char *)"tmux", (char *)"kill-server", NULL};
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int st;

    if (!agent_have_tmux())
        return;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    if (posix_spawnp(&pid, "tmux", &fa, NULL, argv, environ) == 0)
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
    posix_spawn_file_actions_destroy(&fa);
}

static int group_setup(void **state)
{
    char tmpl[] = "/tmp/grove-test-agent-XXXXXX";

    (void)state;
    if (!mkdtemp(tmpl))
        return -1;
    if (!realpath(tmpl, base))
        return -1;
    snprintf(tmuxdir, sizeof(tmuxdir), "%s/tmux", base);
    if (mkdir(tmuxdir, 0700) != 0)
        return -1;
    setenv("TMUX_TMPDIR", tmuxdir, 1);
    unsetenv("TMUX");
    unsetenv("TMUX_PANE");
    unsetenv("GROVE_INSTANCE_ID");
    return chdir(base);
}

static int group_teardown(void **state)
{
    (void)state;
    setenv("TMUX_TMPDIR", tmuxdir, 1);
    tmux_kill_server();
    if (chdir("/") != 0)
        return -1;
    nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_argv),
        cmocka_unit_test(test_list_sessions_without_server),
        cmocka_unit_test(test_tmux_launch_send_stop),
        cmocka_unit_test(test_tmux_prompt_argument),
        cmocka_unit_test(test_tmux_cwd_with_format),
        cmocka_unit_test(test_tmux_send_long_text),
        cmocka_unit_test(test_tmux_send_is_one_clean_paste),
        cmocka_unit_test(test_tmux_send_cannot_interrupt),
        cmocka_unit_test(test_launch_refuses),
        cmocka_unit_test(test_detached),
        cmocka_unit_test(test_stop_detached),
        cmocka_unit_test(test_run),
        cmocka_unit_test(test_run_signals_reset),
    };

    int failed = cmocka_run_group_tests(tests, group_setup, group_teardown);

    /* Without tmux the tmux tests skip(): the run must count as skipped (77), not passed. */
    if (!failed && !agent_have_tmux()) {
        fprintf(stderr, "tmux not found: the tmux tests were skipped\n");
        return 77;
    }
    return failed;
}
