/*
 * Unit tests of tools/agents/agent.c against real processes and a real tmux. The
 * tests run their own tmux server (socket grove-test-<pid> through
 * GROVE_TMUX_SOCKET, in a TMUX_TMPDIR of a temporary folder, TMUX unset),
 * never the user's or grove's, and kill it at the end.
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
static char sock[64];          /* GROVE_TMUX_SOCKET: this run's own tmux server */

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

static int launch(const char *id, const char *cwd, char **argv, const char *log, int use_tmux,
                  agent_handle *h, grove_err *err)
{
    agent_spec s = {id, cwd, argv, log, use_tmux, NULL, NULL, NULL, NULL};

    return agent_launch(&s, h, err);
}

/* agent_stop() of what launch() started as `id`. */
static int stop_as(const char *id, const agent_handle *h, grove_err *err)
{
    agent_ref r = {id, h->session, h->pid, h->start};

    return agent_stop(&r, err);
}

/* agent_stop() of a process started without tmux (the handle's pid and start time). */
static int stop_pid(const agent_handle *h, grove_err *err)
{
    agent_ref r = {NULL, NULL, h->pid, h->start};

    return agent_stop(&r, err);
}

static int stop_raw(const char *id, const char *session, long long pid, unsigned long long start,
                    grove_err *err)
{
    agent_ref r = {id, session, pid, start};

    return agent_stop(&r, err);
}

static int send_as(const char *id, const agent_handle *h, const char *text, grove_err *err)
{
    agent_ref r = {id, h->session, h->pid, h->start};

    return agent_send_keys(&r, text, err);
}

static int send_to(const char *id, const char *session, const char *text, grove_err *err)
{
    agent_ref r = {id, session, 0, 0};

    return agent_send_keys(&r, text, err);
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

    assert_int_equal(launch("work-7-a1", dir, argv, NULL, 1, &h, &err), 0);
    assert_string_equal(h.session, "grove-work-7-a1");
    assert_true(h.pid > 1);
    assert_int_equal(agent_pid_alive(h.pid), 1);
    assert_int_equal(agent_alive(h.session, h.pid), 1);
    assert_int_equal(agent_alive(h.session, 0), 1);
    assert_true(wait_content(idfile, "work-7-a1\n", 5000));
    assert_true(have_session("grove-work-7-a1"));

    /* typed literally, nothing through a shell or tmux formats */
    assert_int_equal(send_as("work-7-a1", &h, text, &err), 0);
    want = grove_asprintf("%s\n", text);
    assert_true(wait_content(input, want, 5000));
    free(want);
    /* text that looks like send-keys flags */
    assert_int_equal(send_as("work-7-a1", &h, "-t x Enter", &err), 0);
    want = grove_asprintf("%s\n-t x Enter\n", text);
    assert_true(wait_content(input, want, 5000));
    free(want);
    assert_false(exists(pwned));
    assert_false(exists("pwned"));

    /* the same id again */
    assert_int_equal(launch("work-7-a1", dir, argv, NULL, 1, &h2, &err), -1);
    assert_int_equal(err.code, GROVE_ECONFLICT);
    assert_non_null(strstr(err.msg, "'grove-work-7-a1'"));
    /* a session name is matched exactly, not as a prefix */
    assert_int_equal(agent_alive("grove-work-7", 0), 0);

    assert_int_equal(stop_as("work-7-a1", &h, &err), 0);
    assert_false(have_session("grove-work-7-a1"));
    assert_int_equal(agent_alive(h.session, 0), 0);
    assert_int_equal(agent_pid_alive(h.pid), 0);
    assert_int_equal(agent_alive(h.session, h.pid), 0);
    /* stopping again: already gone is fine */
    assert_int_equal(stop_as("work-7-a1", &h, &err), 0);

    err.code = GROVE_OK;
    assert_int_equal(send_as("work-7-a1", &h, "hi", &err), -1);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_string_equal(err.msg, "agent session 'grove-work-7-a1' is not running");
    assert_int_equal(send_to("work-77-a1", "grove-never", "hi", &err), -1);
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
    assert_int_equal(launch("work-bd-a3.f8-a2", dir, argv, NULL, 1, &h, &err), 0);
    /* tmux would make '.' in a session name '_': grove writes it '+' */
    assert_string_equal(h.session, "grove-work-bd-a3+f8-a2");
    assert_true(wait_content(out, META, 5000));
    assert_false(exists(pwned));
    assert_false(exists("pwned"));
    assert_int_equal(agent_alive(h.session, h.pid), 1);
    assert_int_equal(stop_as("work-bd-a3.f8-a2", &h, &err), 0);
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
    assert_int_equal(launch("adhoc-a1", dir, argv, NULL, 1, &h, &err), 0);
    want = grove_asprintf("%s\n", real);
    assert_true(wait_content(where, want, 5000));
    assert_false(exists("pwned"));
    assert_int_equal(stop_as("adhoc-a1", &h, &err), 0);
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
    if (launch(id, dir, argv, NULL, 1, h, &err) != 0)
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
    assert_int_equal(send_as("work-9-a1", &h, text, &err), 0);
    assert_true(wait_content(got, want, 10000));
    assert_int_equal(agent_alive(h.session, h.pid), 1);
    assert_int_equal(stop_as("work-9-a1", &h, &err), 0);
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
    assert_int_equal(send_as("work-10-a1", &h, "x\x03y\x04", &err), 0);
    assert_true(wait_content(got, "xy\n", 10000));
    assert_int_equal(send_as("work-10-a1", &h, "still here", &err), 0);
    assert_true(wait_content(got, "xy\nstill here\n", 10000));
    assert_int_equal(agent_alive(h.session, h.pid), 1);
    assert_int_equal(stop_as("work-10-a1", &h, &err), 0);
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
    assert_int_equal(send_as("work-8-a1", &h, text, &err), 0);
    want = grove_asprintf("%s\r", text); /* raw mode: Enter arrives as CR */
    assert_true(wait_content(big, want, 10000));
    assert_int_equal(stop_as("work-8-a1", &h, &err), 0);
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
            assert_int_equal(launch(bad_ids[i], dir, argv, NULL, t, &h, &err), -1);
            assert_int_equal(err.code, GROVE_EINVAL);
        }
        assert_int_equal(launch("work-1-a1", dir, eq, NULL, t, &h, &err), -1);
        assert_int_equal(err.code, GROVE_EINVAL);
        assert_string_equal(err.msg, "agent program 'A=B' contains '='");
        assert_int_equal(launch("work-1-a1", dir, none, NULL, t, &h, &err), -1);
        assert_int_equal(err.code, GROVE_EINVAL);
        assert_int_equal(launch("work-1-a1", missing, argv, NULL, t, &h, &err), -1);
        assert_int_equal(err.code, GROVE_ENOTFOUND);
        assert_non_null(strstr(err.msg, "'"));
    }
    assert_false(exists("pwned"));
    free(missing);
    agent_free_argv(argv);
    agent_free_argv(eq);
}

/* ---- issue 13: sessions, secrets, long prompts --------------------------- */

/* Runs `tmux -L <socket> args...` with `env` (NULL: ours); its stdout (malloc'd) into *out. */
static int tmux_once(const char *socket, char **envp, char **out, const char *a1, const char *a2,
                     const char *a3, const char *a4, const char *a5, const char *a6)
{
    char *argv[10] = {(char *)"tmux", (char *)"-L", (char *)socket, (char *)a1, (char *)a2,
                      (char *)a3,     (char *)a4,   (char *)a5,     (char *)a6, NULL};
    char *path = path_in(base, "tmux-out.txt");
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int st = -1;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    assert_int_equal(posix_spawnp(&pid, "tmux", &fa, NULL, argv, envp ? envp : environ), 0);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    posix_spawn_file_actions_destroy(&fa);
    if (out)
        *out = slurp(path);
    unlink(path);
    free(path);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/*
 * tmux_once(), but a new-session is tried again a few times: a tmux server
 * exits when its last session ends, and a client that reaches it meanwhile
 * fails ("server exited unexpectedly").
 */
static int tmux_on(const char *socket, char **envp, char **out, const char *a1, const char *a2,
                   const char *a3, const char *a4, const char *a5, const char *a6)
{
    int tries, rc = 0;

    for (tries = 0; tries < 5; tries++) {
        rc = tmux_once(socket, envp, out, a1, a2, a3, a4, a5, a6);
        if (rc == 0 || strcmp(a1, "new-session") != 0)
            break;
        if (out) {
            free(*out);
            *out = NULL;
        }
        usleep(50000);
    }
    return rc;
}

/* What tmux makes of a session name: '.' and ':' become '_'. */
static void tmux_rewrite(char *name)
{
    for (; *name; name++)
        if (*name == '.' || *name == ':')
            *name = '_';
}

/*
 * Finding 6: the id -> session name mapping is one-to-one, even after tmux
 * rewrites the name, and ordinary ids keep grove-<id>.
 */
static void test_session_names_one_to_one(void **state)
{
    static const char *const ids[] = {
        "a.b",
        "a_b",
        "a-b",
        "a_2eb",
        "a__b",
        "a..b",
        "a._b",
        "a_.b",
        "a.-b",
        "a-.b",
        "a",
        "A.b",
        "work-a.b-a1",
        "work-a_b-a1",
        "work-a-b-a1",
        "work-1.0-a1",
        "work-1_0-a1",
        "work-123-a1",
        "work-bd-a3f8-a2",
        "review-7-a1",
        "work-a3",
        "work-.-a1",
        "work-_-a1",
        "work-__-a1",
        "work-x.y.z-a9",
    };
    char names[sizeof(ids) / sizeof(ids[0])][160];
    char name[160];
    grove_err err = GROVE_ERR_INIT;
    size_t i, j, n = sizeof(ids) / sizeof(ids[0]);

    (void)state;
    for (i = 0; i < n; i++) {
        assert_int_equal(agent_session_name(ids[i], names[i], sizeof(names[i]), &err), 0);
        /* tmux keeps it as it is */
        snprintf(name, sizeof(name), "%s", names[i]);
        tmux_rewrite(name);
        assert_string_equal(name, names[i]);
        /* an id without '.' keeps grove-<id> */
        if (!strchr(ids[i], '.')) {
            snprintf(name, sizeof(name), "grove-%s", ids[i]);
            assert_string_equal(names[i], name);
        }
    }
    for (i = 0; i < n; i++)
        for (j = i + 1; j < n; j++)
            if (strcmp(names[i], names[j]) == 0)
                fail_msg("'%s' and '%s' share session '%s'", ids[i], ids[j], names[i]);
    assert_string_equal(names[0], "grove-a+b");
    /* what the escape uses is never an id */
    assert_int_equal(agent_session_name("a+b", name, sizeof(name), &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_int_equal(agent_session_name("a:b", name, sizeof(name), &err), -1);
}

/*
 * Finding 6, the attack: issues a.b and a_b gave two instances one tmux
 * session, and stopping one killed the other's agent.
 */
static void test_tmux_names_do_not_collide(void **state)
{
    char d1[PATH_MAX], d2[PATH_MAX];
    agent_handle h1, h2;
    grove_err err = GROVE_ERR_INIT;

    (void)state;
    if (!agent_have_tmux())
        skip();
    launch_ready(d1, sizeof(d1), "collide-dot", "work-a.b-a1",
                 "[\"sh\",\"-c\",\"touch ready; exec sleep 60\"]", &h1);
    launch_ready(d2, sizeof(d2), "collide-underscore", "work-a_b-a1",
                 "[\"sh\",\"-c\",\"touch ready; exec sleep 60\"]", &h2);
    assert_string_not_equal(h1.session, h2.session);
    assert_string_equal(h2.session, "grove-work-a_b-a1");
    assert_int_equal(stop_as("work-a.b-a1", &h1, &err), 0);
    assert_int_equal(agent_alive(h1.session, h1.pid), 0);
    /* the other agent lives on */
    assert_int_equal(agent_alive(h2.session, 0), 1);
    assert_int_equal(agent_pid_alive(h2.pid), 1);
    assert_int_equal(stop_as("work-a_b-a1", &h2, &err), 0);
    assert_int_equal(agent_pid_alive(h2.pid), 0);
}

/*
 * Finding 6: a session that is not the instance's (no owner mark, another
 * owner, another process) is neither stopped nor typed into.
 */
static void test_tmux_foreign_session_left_alone(void **state)
{
    char dir[PATH_MAX];
    agent_handle h;
    grove_err err = GROVE_ERR_INIT;
    char *got;

    (void)state;
    if (!agent_have_tmux())
        skip();
    /* someone else's session with the name grove would give work-5-a1 */
    assert_int_equal(
        tmux_on(sock, NULL, NULL, "new-session", "-d", "-s", "grove-work-5-a1", "sleep", "60"), 0);
    assert_int_equal(stop_raw("work-5-a1", "grove-work-5-a1", 0, 0, &err), -1);
    assert_int_equal(err.code, GROVE_ECONFLICT);
    assert_non_null(strstr(err.msg, "not instance 'work-5-a1''s"));
    assert_int_equal(send_to("work-5-a1", "grove-work-5-a1", "rm -rf ~", &err), -1);
    assert_int_equal(err.code, GROVE_ECONFLICT);
    assert_true(have_session("grove-work-5-a1"));

    /* grove's own session of another instance, or with another process in it */
    launch_ready(dir, sizeof(dir), "owned", "work-6-a1",
                 "[\"sh\",\"-c\",\"touch ready; cat > got.txt\"]", &h);
    assert_int_equal(stop_as("work-60-a1", &h, &err), -1);
    assert_int_equal(err.code, GROVE_ECONFLICT);
    assert_int_equal(stop_raw("work-6-a1", h.session, h.pid + 1, 0, &err), -1);
    assert_int_equal(err.code, GROVE_ECONFLICT);
    assert_int_equal(stop_raw("work-6-a1", h.session, h.pid, h.start + 1, &err), -1);
    assert_int_equal(err.code, GROVE_ECONFLICT);
    assert_int_equal(send_to("work-60-a1", h.session, "x", &err), -1);
    assert_int_equal(err.code, GROVE_ECONFLICT);
    /* a prefix names no session */
    assert_int_equal(stop_raw("work-6", "grove-work-6", 0, 0, &err), 0);
    assert_true(have_session(h.session));
    assert_int_equal(agent_pid_alive(h.pid), 1);
    /* the owner, with the recorded process, may */
    got = path_in(dir, "got.txt");
    assert_int_equal(send_as("work-6-a1", &h, "hello", &err), 0);
    assert_true(wait_content(got, "hello\n", 5000));
    assert_int_equal(stop_as("work-6-a1", &h, &err), 0);
    assert_false(have_session(h.session));
    assert_int_equal(
        tmux_on(sock, NULL, NULL, "kill-session", "-t", "=grove-work-5-a1", NULL, NULL, NULL), 0);
    free(got);
}

/* Finding 6: a pid is signalled only when its process started when the agent did. */
static void test_stop_checks_start_time(void **state)
{
    char dir[PATH_MAX];
    char **argv = argv_of("[\"sleep\",\"60\"]", NULL);
    agent_handle h;
    grove_err err = GROVE_ERR_INIT;

    (void)state;
    mkdir_in(dir, sizeof(dir), "start-time");
    assert_int_equal(launch("work-11-a1", dir, argv, NULL, 0, &h, &err), 0);
    assert_true(h.start > 0);
    assert_true(h.start == agent_process_start(h.pid));
    /* another start time: another process that got the pid; left alone */
    assert_int_equal(stop_raw(NULL, NULL, h.pid, h.start + 1, &err), 0);
    assert_int_equal(agent_pid_alive(h.pid), 1);
    /* no start time recorded: refused */
    assert_int_equal(stop_raw(NULL, NULL, h.pid, 0, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_non_null(strstr(err.msg, "did not record when the agent started"));
    assert_int_equal(agent_pid_alive(h.pid), 1);
    assert_int_equal(stop_pid(&h, &err), 0);
    assert_int_equal(agent_pid_alive(h.pid), 0);
    agent_free_argv(argv);
}

/*
 * A server without sessions, as for a moment after its last session is killed (it then
 * exits): `list-panes -a` says "no current target". No sessions, not a failure (it once
 * failed a read of instances that raced such a kill).
 */
static void test_list_sessions_server_without_sessions(void **state)
{
    char **list = NULL;
    size_t n = 99;
    grove_err err = GROVE_ERR_INIT;

    (void)state;
    if (!agent_have_tmux())
        skip();
    assert_int_equal(
        tmux_once(sock, NULL, NULL, "start-server", ";", "set", "-s", "exit-empty", "off"), 0);
    assert_int_equal(agent_list_sessions(&list, &n, &err), 0);
    assert_int_equal(n, 0);
    agent_free_list(list, n);
    tmux_once(sock, NULL, NULL, "kill-server", NULL, NULL, NULL, NULL, NULL);
}

/*
 * The panes are listed whatever the locale: a tmux client without UTF-8 (LC_ALL=C) prints a
 * tab of its output as '_', which once hid every pane (and every agent_state from tmux).
 */
static void test_tmux_panes_in_c_locale(void **state)
{
    char dir[PATH_MAX], *old = grove_strdup(getenv("LC_ALL"));
    agent_handle h;
    agent_pane *panes = NULL;
    size_t n = 0, i, found = 0;
    grove_err err = GROVE_ERR_INIT;

    (void)state;
    if (!agent_have_tmux())
        skip();
    launch_ready(dir, sizeof(dir), "c-locale", "work-13-a1",
                 "[\"sh\",\"-c\",\"touch ready; exec sleep 60\"]", &h);
    setenv("LC_ALL", "C", 1);
    assert_int_equal(agent_list_panes(&panes, &n, &err), 0);
    for (i = 0; i < n; i++)
        if (strcmp(panes[i].session, "grove-work-13-a1") == 0) {
            found++;
            assert_false(panes[i].dead);
            assert_int_equal(panes[i].pid, h.pid);
            assert_true(panes[i].activity > 0);
        }
    assert_int_equal(found, 1);
    assert_true(have_session("grove-work-13-a1"));
    agent_free_panes(panes, n);
    if (old)
        setenv("LC_ALL", old, 1);
    else
        unsetenv("LC_ALL");
    free(old);
    assert_int_equal(stop_as("work-13-a1", &h, &err), 0);
}

/* Finding 6: sessions live on grove's own server (GROVE_TMUX_SOCKET), not the default one. */
static void test_tmux_own_server(void **state)
{
    char dir[PATH_MAX];
    agent_handle h;
    const char *name = NULL;
    char **argv = argv_of("[\"true\"]", NULL);
    grove_err err = GROVE_ERR_INIT;

    (void)state;
    if (!agent_have_tmux())
        skip();
    launch_ready(dir, sizeof(dir), "own-server", "work-12-a1",
                 "[\"sh\",\"-c\",\"touch ready; exec sleep 60\"]", &h);
    assert_int_equal(
        tmux_on(sock, NULL, NULL, "has-session", "-t", "=grove-work-12-a1", NULL, NULL, NULL), 0);
    assert_int_not_equal(
        tmux_on("default", NULL, NULL, "has-session", "-t", "=grove-work-12-a1", NULL, NULL, NULL),
        0);
    assert_int_equal(stop_as("work-12-a1", &h, &err), 0);

    unsetenv("GROVE_TMUX_SOCKET");
    assert_int_equal(agent_tmux_socket(&name, &err), 0);
    assert_string_equal(name, "grove");
    setenv("GROVE_TMUX_SOCKET", "default", 1);
    assert_int_equal(agent_tmux_socket(&name, &err), 0);
    assert_null(name);
    setenv("GROVE_TMUX_SOCKET", "../x", 1);
    assert_int_equal(launch("work-12-a2", dir, argv, NULL, 1, &h, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_non_null(strstr(err.msg, "GROVE_TMUX_SOCKET"));
    setenv("GROVE_TMUX_SOCKET", sock, 1);
    agent_free_argv(argv);
}

/* 1 when the NUL-separated or newline-separated text holds an entry starting with `prefix`. */
static int env_has(const char *text, size_t len, const char *prefix)
{
    size_t i = 0, n = strlen(prefix);

    while (i < len) {
        size_t e = i;

        while (e < len && text[e] != '\0' && text[e] != '\n')
            e++;
        if (e - i >= n && strncmp(text + i, prefix, n) == 0)
            return 1;
        i = e + 1;
    }
    return 0;
}

/* /proc/<pid>/environ (NUL-separated) into buf; its length. */
static size_t proc_environ(long long pid, char *buf, size_t len)
{
    char path[64];
    ssize_t r;
    int fd;

    snprintf(path, sizeof(path), "/proc/%lld/environ", pid);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    r = read(fd, buf, len - 1);
    close(fd);
    assert_true(r >= 0);
    buf[r] = '\0';
    return (size_t)r;
}

#define TOKEN "ghp_AAAAbbbbCCCCddddEEEEffff0123456789"

/*
 * Finding 8: with a token in grove's environment, the tmux server grove
 * starts, the agent and a setup command see none of it; the agent has
 * GROVE_INSTANCE_ID. A server that someone else started with the token
 * does not hand it to the agent either.
 */
static void test_env_without_secrets(void **state)
{
    char dir[PATH_MAX], fresh[64], other[64];
    char *out = NULL, *agent_env, *log, *setup_env;
    static char environ_buf[1 << 16];
    char **argv;
    agent_handle h;
    grove_err err = GROVE_ERR_INIT;
    size_t n;
    int status = -1;

    (void)state;
    if (!agent_have_tmux())
        skip();
    snprintf(fresh, sizeof(fresh), "%s-env", sock);
    snprintf(other, sizeof(other), "%s-other", sock);
    setenv("GITHUB_TOKEN", TOKEN, 1);
    setenv("GH_TOKEN", TOKEN, 1);
    setenv("INNOCENT_LOOKING", "x " TOKEN, 1);
    setenv("GROVE_TMUX_SOCKET", fresh, 1);
    launch_ready(dir, sizeof(dir), "env-agent", "work-13-a1",
                 "[\"sh\",\"-c\",\"env > agent.env; touch ready; exec sleep 60\"]", &h);
    agent_env = path_in(dir, "agent.env");
    out = slurp(agent_env);
    assert_non_null(out);
    assert_null(strstr(out, TOKEN));
    assert_false(env_has(out, strlen(out), "GITHUB_TOKEN="));
    assert_false(env_has(out, strlen(out), "GH_TOKEN="));
    assert_true(env_has(out, strlen(out), "GROVE_INSTANCE_ID=work-13-a1"));
    free(out);
    n = proc_environ(h.pid, environ_buf, sizeof(environ_buf));
    assert_false(env_has(environ_buf, n, "GITHUB_TOKEN="));
    assert_true(env_has(environ_buf, n, "GROVE_INSTANCE_ID=work-13-a1"));
    /* the server's global environment */
    assert_int_equal(tmux_on(fresh, NULL, &out, "show-environment", "-g", NULL, NULL, NULL, NULL),
                     0);
    assert_non_null(out);
    assert_true(env_has(out, strlen(out), "PATH="));
    assert_null(strstr(out, TOKEN));
    assert_false(env_has(out, strlen(out), "GITHUB_TOKEN"));
    free(out);
    assert_int_equal(stop_as("work-13-a1", &h, &err), 0);
    tmux_on(fresh, NULL, NULL, "kill-server", NULL, NULL, NULL, NULL, NULL);
    free(agent_env);

    /* a server started by someone else, with the token in its environment */
    assert_int_equal(tmux_on(other, NULL, NULL, "new-session", "-d", "-s", "theirs", "sleep", "60"),
                     0);
    setenv("GROVE_TMUX_SOCKET", other, 1);
    launch_ready(dir, sizeof(dir), "env-agent-2", "work-13-a2",
                 "[\"sh\",\"-c\",\"env > agent.env; touch ready; exec sleep 60\"]", &h);
    agent_env = path_in(dir, "agent.env");
    out = slurp(agent_env);
    assert_non_null(out);
    assert_null(strstr(out, TOKEN));
    assert_true(env_has(out, strlen(out), "GROVE_INSTANCE_ID=work-13-a2"));
    free(out);
    assert_int_equal(stop_as("work-13-a2", &h, &err), 0);
    tmux_on(other, NULL, NULL, "kill-server", NULL, NULL, NULL, NULL, NULL);
    free(agent_env);
    setenv("GROVE_TMUX_SOCKET", sock, 1);

    /* a setup command (agent_run) */
    log = path_in(dir, "setup.log");
    argv = argv_of("[\"env\"]", NULL);
    assert_int_equal(agent_run(argv, dir, log, 10, &status, &err), 0);
    assert_int_equal(status, 0);
    setup_env = slurp(log);
    assert_non_null(setup_env);
    assert_null(strstr(setup_env, TOKEN));
    assert_true(env_has(setup_env, strlen(setup_env), "PATH="));
    free(setup_env);
    free(log);
    agent_free_argv(argv);

    /* a name the agent may see (a profile's pass_env) */
    {
        const char *const pass[] = {"GH_TOKEN", NULL};

        assert_int_equal(agent_env_secret("GH_TOKEN=" TOKEN, pass), 0);
        assert_int_equal(agent_env_secret("GITHUB_TOKEN=" TOKEN, pass), 1);
        assert_int_equal(agent_env_secret("HOME=/home/x", NULL), 0);
        assert_int_equal(agent_env_secret("MY_PASSWORD=x", NULL), 1);
    }
    unsetenv("GITHUB_TOKEN");
    unsetenv("GH_TOKEN");
    unsetenv("INNOCENT_LOOKING");
}

/* A string of n copies of c (malloc'd). */
static char *filled(size_t n, char c)
{
    char *s = malloc(n + 1);

    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/*
 * Finding 9: a prompt too long for tmux's command line is refused with a
 * message that names the limit and {prompt_file}, before tmux says
 * "command too long"; {prompt_file} carries any prompt.
 */
static void test_long_prompt(void **state)
{
    char dir[PATH_MAX], pdir[PATH_MAX];
    char *big = filled(64 * 1024, 'p'), *mid = filled(20 * 1024, 'q'), *path = NULL, *got;
    char **argv;
    agent_handle h;
    grove_err err = GROVE_ERR_INIT;
    struct stat sb;
    int uses = -1;

    (void)state;
    if (!agent_have_tmux())
        skip();
    mkdir_in(dir, sizeof(dir), "long-prompt");
    argv = argv_of("[\"sh\",\"-c\",\"sleep 60\",\"sh\",\"{prompt}\"]", big);
    assert_int_equal(agent_argv_fits(argv, 1, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_non_null(strstr(err.msg, "16364 bytes"));
    assert_non_null(strstr(err.msg, "{prompt_file}"));
    assert_int_equal(launch("work-14-a1", dir, argv, NULL, 1, &h, &err), -1);
    assert_non_null(strstr(err.msg, "{prompt_file}"));
    assert_false(have_session("grove-work-14-a1"));
    agent_free_argv(argv);
    /* 20 KiB: over tmux's limit, under the kernel's */
    argv = argv_of("[\"sh\",\"-c\",\"sleep 60\",\"sh\",\"{prompt}\"]", mid);
    assert_int_equal(agent_argv_fits(argv, 0, &err), 0);
    assert_int_equal(launch("work-14-a1", dir, argv, NULL, 1, &h, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_null(strstr(err.msg, "command too long"));
    assert_non_null(strstr(err.msg, "{prompt_file}"));
    agent_free_argv(argv);

    /* the prompt file */
    snprintf(pdir, sizeof(pdir), "%s/prompts", base);
    assert_int_equal(agent_prompt_file_write(pdir, "work-14-a1", big, &path, &err), 0);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(stat(pdir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(agent_build_command("[\"sh\",\"-c\",\"cp \\\"$1\\\" got.txt; sleep 60\","
                                         "\"sh\",\"{prompt_file}\",\"{prompt}\"]",
                                         "{prompt_file}", path, &argv, &uses, &err),
                     0);
    assert_int_equal(uses, 1);
    assert_string_equal(argv[4], path);
    assert_string_equal(argv[5], "{prompt_file}"); /* not replaced twice */
    free(argv[5]);
    argv[5] = NULL;
    assert_int_equal(launch("work-14-a1", dir, argv, NULL, 1, &h, &err), 0);
    got = path_in(dir, "got.txt");
    assert_true(wait_content(got, big, 5000));
    assert_int_equal(stop_as("work-14-a1", &h, &err), 0);
    agent_prompt_file_remove(pdir, "work-14-a1");
    assert_false(exists(path));
    agent_free_argv(argv);
    free(got);
    free(path);
    free(big);
    free(mid);
}

/* An argument that ends in ';' is not the end of tmux's command (it was: the launch failed). */
static void test_tmux_semicolon_argument(void **state)
{
    char dir[PATH_MAX];
    char **argv;
    char *out;
    agent_handle h;
    grove_err err = GROVE_ERR_INIT;

    (void)state;
    if (!agent_have_tmux())
        skip();
    mkdir_in(dir, sizeof(dir), "semicolon");
    out = path_in(dir, "args.txt");
    argv = argv_of("[\"sh\",\"-c\",\"printf '%s|' \\\"$@\\\" > args.txt; sleep 60\",\"sh\","
                   "\"{prompt}\",\"kill-server;\",\"\\\\;\",\";\"]",
                   "do it;");
    assert_int_equal(launch("work-15-a1", dir, argv, NULL, 1, &h, &err), 0);
    assert_true(wait_content(out, "do it;|kill-server;|\\;|;|", 5000));
    assert_int_equal(stop_as("work-15-a1", &h, &err), 0);
    agent_free_argv(argv);
    free(out);
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
    assert_int_equal(launch("work-9-a1", dir, argv, log, 0, &h, &err), 0);
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
    assert_int_equal(stop_pid(&h, &err), 0);

    /* a log that exists already is appended to */
    assert_int_equal(launch("work-9-a1", dir, argv, log, 0, &h, &err), 0);
    assert_true(wait_content(log, "out\nerr\nout\nerr\n", 5000));
    assert_int_equal(stop_pid(&h, &err), 0);
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
    assert_int_equal(launch("work-10-a1", dir, argv, log, 0, &h, &err), 0);
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
    assert_int_equal(stop_pid(&h, &err), 0);
    assert_int_equal(agent_pid_alive(h.pid), 0);
    for (i = 0; i < 250 && agent_pid_alive(child); i++)
        nap();
    assert_int_equal(agent_pid_alive(child), 0);
    assert_int_equal(kill(-(pid_t)h.pid, 0), -1);

    /* SIGTERM ignored: SIGKILL after the grace period */
    stubborn =
        argv_of("[\"sh\",\"-c\",\"trap '' TERM; touch ready; while :; do sleep 1; done\"]", NULL);
    assert_int_equal(launch("work-10-a2", dir, stubborn, log, 0, &h, &err), 0);
    for (i = 0; i < 250 && !exists(ready); i++)
        nap();
    assert_true(exists(ready));
    assert_int_equal(stop_pid(&h, &err), 0);
    assert_int_equal(agent_pid_alive(h.pid), 0);

    /* never ourselves, our group, or init */
    assert_int_equal(stop_raw(NULL, NULL, 1, 0, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_int_equal(stop_raw(NULL, NULL, getpid(), 0, &err), -1);
    assert_int_equal(stop_raw(NULL, NULL, getpgrp(), 0, &err), -1);
    assert_int_equal(agent_pid_alive(getpid()), 1);
    /* nothing to stop */
    assert_int_equal(stop_raw(NULL, NULL, 0, 0, &err), 0);
    assert_int_equal(stop_raw("work-0-a1", "grove-none", 0, 0, &err), 0);
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
    char *argv[] = {(char *)"tmux", (char *)"-L", sock, (char *)"kill-server", NULL};
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
    snprintf(sock, sizeof(sock), "grove-test-%ld", (long)getpid());
    setenv("GROVE_TMUX_SOCKET", sock, 1);
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
        cmocka_unit_test(test_session_names_one_to_one),
        cmocka_unit_test(test_tmux_names_do_not_collide),
        cmocka_unit_test(test_tmux_foreign_session_left_alone),
        cmocka_unit_test(test_stop_checks_start_time),
        cmocka_unit_test(test_tmux_own_server),
        cmocka_unit_test(test_tmux_panes_in_c_locale),
        cmocka_unit_test(test_list_sessions_server_without_sessions),
        cmocka_unit_test(test_env_without_secrets),
        cmocka_unit_test(test_long_prompt),
        cmocka_unit_test(test_tmux_semicolon_argument),
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
