/*
 * Unit tests of tools/forge/forge.c. The string functions (forge_parse_remote,
 * forge_redact) are tested directly; the HTTP ones against
 * tests/e2e/fake-github.mjs (a GitHub stand-in that checks requests and
 * answers against GitHub's OpenAPI description) run as a child process, and
 * against a canned-answer server in a thread for answers GitHub should not
 * give (too large, not JSON). Exit 77 (skipped) only when node or the e2e
 * node_modules are missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "tools/forge/forge.h"

extern char **environ;

#define TOKEN    "t0ken-SECRET"
#define REPO     "octo/hello"
#define PR_TITLE "Add widgets"
#define PR_BODY  "Why: \"widgets\" are needed.\nHow: by adding them (ünïcode, & ? #)."
#define PR_HEAD  "grove/work-1"

/* ---- forge_parse_remote ------------------------------------------------- */

typedef struct remote_case {
    const char *url;
    const char *host; /* NULL: the URL must be refused */
    const char *owner_repo;
} remote_case;

static const remote_case remotes[] = {
    {"https://github.com/octo/hello", "github.com", "octo/hello"},
    {"https://github.com/octo/hello.git", "github.com", "octo/hello"},
    {"https://github.com/octo/hello/", "github.com", "octo/hello"},
    {"https://github.com/octo/hello.git/", "github.com", "octo/hello"},
    {"https://x-access-token:" TOKEN "@github.com/octo/hello.git", "github.com", "octo/hello"},
    {"https://" TOKEN "@github.com/octo/hello", "github.com", "octo/hello"},
    {"https://GitHub.COM/octo/hello", "github.com", "octo/hello"},
    {"https://ghe.example.com:8443/octo/hello.git", "ghe.example.com", "octo/hello"},
    {"http://localhost:3000/o/r.git", "localhost", "o/r"},
    {"https://[::1]:8080/o/r", "[::1]", "o/r"},
    {"ssh://git@github.com/octo/hello.git", "github.com", "octo/hello"},
    {"ssh://git@github.com:2222/octo/hello.git", "github.com", "octo/hello"},
    {"ssh://github.com/octo/hello", "github.com", "octo/hello"},
    {"git+ssh://git@github.com/octo/hello.git", "github.com", "octo/hello"},
    {"git://github.com/octo/hello.git", "github.com", "octo/hello"},
    {"git@github.com:octo/hello.git", "github.com", "octo/hello"},
    {"git@github.com:octo/hello", "github.com", "octo/hello"},
    {"git@github.com:/octo/hello.git", "github.com", "octo/hello"},
    {"github.com:octo/hello.git/", "github.com", "octo/hello"},
    {"https://github.com/octo-org/my.repo_v2-x", "github.com", "octo-org/my.repo_v2-x"},
    /* refused */
    {"", NULL, NULL},
    {"/srv/git/octo/hello.git", NULL, NULL},
    {"./octo/hello", NULL, NULL},
    {"../octo/hello.git", NULL, NULL},
    {"octo/hello", NULL, NULL},
    {"file:///srv/git/octo/hello.git", NULL, NULL},
    {"file://host/octo/hello", NULL, NULL},
    {"FILE:///octo/hello", NULL, NULL},
    {"ftp://github.com/octo/hello", NULL, NULL},
    {"not a url", NULL, NULL},
    {"https://github.com", NULL, NULL},
    {"https://github.com/", NULL, NULL},
    {"https://github.com/octo", NULL, NULL},
    {"https://github.com/octo/", NULL, NULL},
    {"https://github.com/a/b/c", NULL, NULL},
    {"https://github.com//hello", NULL, NULL},
    {"https://github.com/octo/.git", NULL, NULL},
    {"https://github.com/../hello", NULL, NULL},
    {"https://github.com/octo/hello?tab=readme", NULL, NULL},
    {"https:///octo/hello", NULL, NULL},
    {"https://user@/octo/hello", NULL, NULL},
    {"https://git hub.com/octo/hello", NULL, NULL},
    {"git@github.com:octo", NULL, NULL},
    {"git@github.com:", NULL, NULL},
    {"C:\\src\\hello", NULL, NULL},
    {":octo/hello", NULL, NULL},
};

static void test_parse_remote(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(remotes) / sizeof(remotes[0]); i++) {
        const remote_case *c = &remotes[i];
        char *host = (char *)"unset", *repo = (char *)"unset";
        int rc = forge_parse_remote(c->url, &host, &repo);

        if (c->host) {
            if (rc != 0)
                fail_msg("'%s' was refused", c->url);
            assert_string_equal(host, c->host);
            assert_string_equal(repo, c->owner_repo);
            free(host);
            free(repo);
        } else {
            if (rc != -1)
                fail_msg("'%s' was accepted as %s %s", c->url, host, repo);
            assert_null(host);
            assert_null(repo);
        }
    }
    {
        char *host = NULL, *repo = NULL;

        assert_int_equal(forge_parse_remote(NULL, &host, &repo), -1);
        assert_null(host);
        assert_null(repo);
    }
}

/* ---- forge_redact -------------------------------------------------------- */

static void redacts(const char *in, const char *secret, const char *want)
{
    char buf[512];

    snprintf(buf, sizeof(buf), "%s", in);
    forge_redact(buf, sizeof(buf), secret);
    if (strcmp(buf, want) != 0)
        fail_msg("redact(\"%s\", \"%s\") = \"%s\", want \"%s\"", in, secret ? secret : "(null)",
                 buf, want);
}

static void test_redact(void **state)
{
    (void)state;
    redacts("push with t0ken-SECRET failed: t0ken-SECRET", TOKEN, "push with *** failed: ***");
    redacts("t0ken-SECRET", TOKEN, "***");
    redacts("nothing to hide here", TOKEN, "nothing to hide here");
    redacts("the token t0ken-SECRET stays when no secret is given", NULL,
            "the token t0ken-SECRET stays when no secret is given");
    redacts("the token t0ken-SECRET stays when the secret is empty", "",
            "the token t0ken-SECRET stays when the secret is empty");
    /* userinfo of URLs, with or without the secret known */
    redacts("cannot push to 'https://x-access-token:ghp_abc@github.com/o/r.git': 403", NULL,
            "cannot push to 'https://***@github.com/o/r.git': 403");
    redacts("https://user:pass@ghe.example.com:8443/api/v3", "",
            "https://***@ghe.example.com:8443/api/v3");
    redacts("https://ghp_lonetoken@github.com/o/r", NULL, "https://***@github.com/o/r");
    redacts("HTTP://u:p@h/", NULL, "HTTP://***@h/");
    redacts("https://u:p@ss@host/x", NULL, "https://***@host/x");
    redacts("a https://a:b@one/x and ssh://c:d@two/y", NULL,
            "a https://***@one/x and ssh://***@two/y");
    redacts("https://x:" TOKEN "@github.com and " TOKEN, TOKEN, "https://***@github.com and ***");
    /* what is not a secret stays */
    redacts("ssh://git@github.com/o/r.git", NULL, "ssh://git@github.com/o/r.git");
    redacts("git@github.com:o/r.git", NULL, "git@github.com:o/r.git");
    redacts("mail a@b.example, see https://github.com/o/r@main", NULL,
            "mail a@b.example, see https://github.com/o/r@main");
    redacts("://u:p@host", NULL, "://u:p@host");
    redacts("https://@host/", NULL, "https://@host/");
    /* a replacement longer than the secret, in a small buffer: truncated, terminated */
    {
        char buf[8] = "aXbXcX";

        forge_redact(buf, sizeof(buf), "X");
        assert_string_equal(buf, "a***b**");
    }
    {
        char buf[4] = "XX";

        forge_redact(buf, sizeof(buf), "X");
        assert_string_equal(buf, "***");
    }
}

/* ---- the fake GitHub ---------------------------------------------------- */

static pid_t fake_pid = -1;
static int fake_stdin = -1;
static int fake_port;
static char fake_url[64];
static char fake_script[PATH_MAX];
static long long first_number;

/* Is `name` an executable in PATH? */
static int in_path(const char *name)
{
    const char *path = getenv("PATH");
    char dir[PATH_MAX], file[PATH_MAX];

    while (path && *path) {
        size_t n = strcspn(path, ":");

        snprintf(dir, sizeof(dir), "%.*s", (int)n, path);
        snprintf(file, sizeof(file), "%s/%s", *dir ? dir : ".", name);
        if (access(file, X_OK) == 0)
            return 1;
        path += n + (path[n] == ':');
    }
    return 0;
}

/* Why the fake cannot run here, or NULL. Fills fake_script. */
static const char *fake_missing(void)
{
    const char *root = getenv("GROVE_SOURCE_ROOT");
    static const char *const modules[] = {"@octokit/openapi", "ajv", "ajv-formats"};
    char dir[PATH_MAX];
    size_t i;

    if (!root || !*root)
        return "GROVE_SOURCE_ROOT is not set";
    if (!in_path("node"))
        return "node is not installed";
    snprintf(fake_script, sizeof(fake_script), "%s/tests/e2e/fake-github.mjs", root);
    for (i = 0; i < sizeof(modules) / sizeof(modules[0]); i++) {
        snprintf(dir, sizeof(dir), "%s/tests/e2e/node_modules/%s", root, modules[i]);
        if (access(dir, R_OK) != 0)
            return "tests/e2e/node_modules is not installed (run 'npm ci' in tests/e2e)";
    }
    return NULL;
}

static int fake_start(void **state)
{
    char *argv[] = {(char *)"node", fake_script, (char *)"--port", (char *)"0", (char *)"--token",
                    (char *)TOKEN,  NULL};
    posix_spawn_file_actions_t fa;
    int in[2], out[2];
    char line[128];
    size_t len = 0;

    (void)state;
    /* requests to 127.0.0.1 must not go through a proxy from the environment */
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("ALL_PROXY");
    unsetenv("all_proxy");
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
        return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    if (posix_spawnp(&fake_pid, "node", &fa, NULL, argv, environ) != 0) {
        fprintf(stderr, "cannot start node: %s\n", strerror(errno));
        return -1;
    }
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    fake_stdin = in[1];
    /* "listening <port>\n", within 60 s */
    while (len < sizeof(line) - 1 && !memchr(line, '\n', len)) {
        struct pollfd p = {out[0], POLLIN, 0};
        ssize_t n;

        if (poll(&p, 1, 60000) <= 0)
            break;
        n = read(out[0], line + len, sizeof(line) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    line[len] = '\0';
    close(out[0]);
    if (sscanf(line, "listening %d", &fake_port) != 1 || fake_port <= 0) {
        fprintf(stderr, "fake-github did not start: '%s'\n", line);
        return -1;
    }
    snprintf(fake_url, sizeof(fake_url), "http://127.0.0.1:%d", fake_port);
    return 0;
}

static int fake_stop(void **state)
{
    int status;

    (void)state;
    if (fake_stdin >= 0)
        close(fake_stdin);
    if (fake_pid > 0) {
        kill(fake_pid, SIGTERM);
        waitpid(fake_pid, &status, 0);
    }
    fake_pid = -1;
    fake_stdin = -1;
    curl_global_cleanup();
    return 0;
}

static forge_opts opts_for(const char *owner_repo)
{
    forge_opts o = {0};

    o.api_url = fake_url;
    o.token = TOKEN;
    o.owner_repo = owner_repo;
    return o;
}

typedef struct grown {
    char *data;
    size_t len;
} grown;

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    grown *g = arg;
    char *d = realloc(g->data, g->len + size * n + 1);

    if (!d)
        return 0;
    memcpy(d + g->len, p, size * n);
    g->data = d;
    g->len += size * n;
    d[g->len] = '\0';
    return size * n;
}

/* GET /_grove/requests: what the fake has received so far (new reference). */
static json_t *recorded(void)
{
    char url[128];
    grown g = {NULL, 0};
    CURL *c = curl_easy_init();
    json_t *list;

    assert_non_null(c);
    snprintf(url, sizeof(url), "%s/_grove/requests", fake_url);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &g);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
    list = json_loadb(g.data, g.len, 0, NULL);
    free(g.data);
    assert_true(json_is_array(list));
    return list;
}

/* The recorded requests with this method and path (borrowed from list, in order). */
static size_t find_requests(json_t *list, const char *method, const char *path, json_t **found,
                            size_t max)
{
    size_t i, n = 0;
    json_t *r;

    json_array_foreach(list, i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "method")), method) == 0 &&
            strcmp(json_string_value(json_object_get(r, "path")), path) == 0 && n < max)
            found[n++] = r;
    }
    return n;
}

static void assert_contains(const char *text, const char *part)
{
    if (!strstr(text, part))
        fail_msg("\"%s\" does not contain \"%s\"", text, part);
}

static void assert_lacks(const char *text, const char *part)
{
    if (strstr(text, part))
        fail_msg("\"%s\" contains \"%s\"", text, part);
}

/* The headers a request carried (Authorization aside): these, and the two extra ones if given. */
static void assert_only_headers(json_t *headers, const char *extra1, const char *extra2)
{
    static const char *const always[] = {"host", "accept", "x-github-api-version", "user-agent"};
    const char *name;
    json_t *value;
    size_t i;

    for (i = 0; i < sizeof(always) / sizeof(always[0]); i++)
        if (!json_object_get(headers, always[i]))
            fail_msg("no '%s' header", always[i]);
    json_object_foreach(headers, name, value)
    {
        int known = (extra1 && strcmp(name, extra1) == 0) || (extra2 && strcmp(name, extra2) == 0);

        for (i = 0; i < sizeof(always) / sizeof(always[0]); i++)
            known |= strcmp(name, always[i]) == 0;
        if (!known)
            fail_msg("unexpected header '%s: %s'", name, json_string_value(value));
    }
}

static void test_create_pr(void **state)
{
    forge_opts o = opts_for(REPO);
    forge_pr pr = {0};
    grove_err err = GROVE_ERR_INIT;
    char want[128];

    (void)state;
    if (forge_create_pr(&o, PR_TITLE, PR_BODY, PR_HEAD, "main", 1, &pr, &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(pr.number > 0);
    snprintf(want, sizeof(want), "https://github.com/octo/hello/pull/%lld", pr.number);
    assert_string_equal(pr.html_url, want);
    assert_int_equal(pr.already_existed, 0);
    first_number = pr.number;
    forge_pr_free(&pr);
    forge_pr_free(&pr); /* twice is harmless */
    forge_pr_free(NULL);
}

static void test_create_pr_again_finds_it(void **state)
{
    forge_opts o = opts_for(REPO);
    forge_pr pr = {0};
    grove_err err = GROVE_ERR_INIT;
    char want[128];

    (void)state;
    assert_true(first_number > 0);
    if (forge_create_pr(&o, PR_TITLE, PR_BODY, PR_HEAD, "main", 1, &pr, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(pr.already_existed, 1);
    assert_int_equal(pr.number, first_number);
    snprintf(want, sizeof(want), "https://github.com/octo/hello/pull/%lld", first_number);
    assert_string_equal(pr.html_url, want);
    forge_pr_free(&pr);
}

static void test_requests_as_sent(void **state)
{
    json_t *list = recorded(), *posts[8], *gets[8], *want;
    size_t n, i;

    (void)state;
    n = find_requests(list, "POST", "/repos/octo/hello/pulls", posts, 8);
    assert_true(n >= 2);
    want = json_pack("{s:s, s:s, s:s, s:s, s:b}", "title", PR_TITLE, "body", PR_BODY, "head",
                     PR_HEAD, "base", "main", "draft", 1);
    for (i = 0; i < 2; i++) {
        json_t *h = json_object_get(posts[i], "headers");

        if (!json_equal(json_object_get(posts[i], "body"), want))
            fail_msg("body sent: %s", json_dumps(json_object_get(posts[i], "body"), 0));
        assert_string_equal(json_string_value(json_object_get(h, "accept")),
                            "application/vnd.github+json");
        assert_string_equal(json_string_value(json_object_get(h, "x-github-api-version")),
                            "2022-11-28");
        assert_string_equal(json_string_value(json_object_get(h, "user-agent")),
                            "grove/" GROVE_VERSION);
        assert_string_equal(json_string_value(json_object_get(h, "content-type")),
                            "application/json");
        assert_string_equal(json_string_value(json_object_get(posts[i], "authorization")),
                            "matched");
        assert_only_headers(h, "content-type", "content-length");
    }
    json_decref(want);
    /* the look-up of the open one: head qualified with the owner and escaped */
    n = find_requests(list, "GET", "/repos/octo/hello/pulls?head=octo%3Agrove%2Fwork-1&state=open",
                      gets, 8);
    assert_int_equal(n, 1);
    assert_string_equal(json_string_value(json_object_get(gets[0], "authorization")), "matched");
    assert_only_headers(json_object_get(gets[0], "headers"), NULL, NULL);
    assert_true(json_is_null(json_object_get(gets[0], "body")));
    json_decref(list);
}

/* No body: no "body" key; a 64 KiB body (GitHub's limit): sent whole. */
static void test_create_pr_body_variants(void **state)
{
    forge_opts o = opts_for(REPO);
    forge_pr pr = {0};
    grove_err err = GROVE_ERR_INIT;
    json_t *list, *posts[32], *want;
    char *big = malloc(65537);
    size_t n;

    (void)state;
    assert_non_null(big);
    memset(big, 'w', 65536);
    big[65536] = '\0';
    if (forge_create_pr(&o, "No body", NULL, "grove/no-body", "main", 0, &pr, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(pr.already_existed, 0);
    assert_true(pr.number > first_number);
    forge_pr_free(&pr);
    if (forge_create_pr(&o, "Big body", big, "grove/big-body", "main", 0, &pr, &err) != 0)
        fail_msg("%s", err.msg);
    forge_pr_free(&pr);

    list = recorded();
    n = find_requests(list, "POST", "/repos/octo/hello/pulls", posts, 32);
    assert_true(n >= 2);
    want = json_pack("{s:s, s:s, s:s, s:b}", "title", "No body", "head", "grove/no-body", "base",
                     "main", "draft", 0);
    assert_true(json_equal(json_object_get(posts[n - 2], "body"), want));
    json_decref(want);
    want = json_pack("{s:s, s:s, s:s, s:s, s:b}", "title", "Big body", "body", big, "head",
                     "grove/big-body", "base", "main", "draft", 0);
    assert_true(json_equal(json_object_get(posts[n - 1], "body"), want));
    json_decref(want);
    json_decref(list);
    free(big);
}

/* Two open pull requests from one head (to different bases): the one for our base is found. */
static void test_existing_pr_for_the_right_base(void **state)
{
    forge_opts o = opts_for(REPO);
    forge_pr to_main = {0}, to_dev = {0}, again = {0};
    grove_err err = GROVE_ERR_INIT;

    (void)state;
    if (forge_create_pr(&o, "To main", NULL, "grove/two-bases", "main", 0, &to_main, &err) != 0 ||
        forge_create_pr(&o, "To dev", NULL, "grove/two-bases", "dev", 0, &to_dev, &err) != 0 ||
        forge_create_pr(&o, "To dev", NULL, "grove/two-bases", "dev", 0, &again, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_not_equal(to_main.number, to_dev.number);
    assert_int_equal(again.already_existed, 1);
    assert_int_equal(again.number, to_dev.number);
    forge_pr_free(&to_main);
    forge_pr_free(&to_dev);
    forge_pr_free(&again);
}

static void test_validation_error(void **state)
{
    forge_opts o = opts_for(REPO);
    forge_pr pr = {0};
    grove_err err = GROVE_ERR_INIT;

    (void)state;
    assert_int_equal(forge_create_pr(&o, "trigger-validation-error", NULL, "grove/invalid", "main",
                                     0, &pr, &err),
                     -1);
    assert_int_equal(err.code, GROVE_ECONFLICT);
    assert_contains(err.msg, "GitHub answered 422: Validation Failed");
    assert_contains(err.msg, "resource PullRequest field title code invalid");
    assert_null(pr.html_url);
}

static void test_wrong_token(void **state)
{
    forge_opts o = opts_for(REPO);
    forge_pr pr = {0};
    grove_err err = GROVE_ERR_INIT;
    forge_issue issue = {0};

    (void)state;
    o.token = "wr0ng-T0KEN";
    assert_int_equal(forge_create_pr(&o, PR_TITLE, NULL, PR_HEAD, "main", 0, &pr, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_contains(err.msg, "GitHub refused the credentials (HTTP 401): Bad credentials");
    assert_lacks(err.msg, "wr0ng-T0KEN");
    assert_lacks(err.msg, TOKEN);

    err.code = GROVE_OK;
    assert_int_equal(forge_get_issue(&o, 7, &issue, &err), -1);
    assert_null(issue.title);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_contains(err.msg, "refused the credentials");
    assert_lacks(err.msg, "wr0ng-T0KEN");
}

static void test_slow_answer_times_out(void **state)
{
    forge_opts o = opts_for("octo/slow");
    forge_pr pr = {0};
    grove_err err = GROVE_ERR_INIT;

    (void)state;
    o.timeout_ms = 500;
    assert_int_equal(forge_create_pr(&o, PR_TITLE, NULL, PR_HEAD, "main", 0, &pr, &err), -1);
    assert_int_equal(err.code, GROVE_EIO);
    assert_contains(err.msg, "did not answer within 0.5 s");
    assert_contains(err.msg, fake_url);
}

/* A local port that nothing listens on. */
static int closed_port(void)
{
    struct sockaddr_in a = {0};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_unreachable(void **state)
{
    forge_opts o = opts_for(REPO);
    forge_pr pr = {0};
    grove_err err = GROVE_ERR_INIT;
    char url[128], shown[128];
    int port = closed_port();

    (void)state;
    /* credentials in the API URL are not named in the message */
    snprintf(url, sizeof(url), "http://x-access-token:%s@127.0.0.1:%d/", TOKEN, port);
    snprintf(shown, sizeof(shown), "cannot reach http://127.0.0.1:%d: ", port);
    o.api_url = url;
    assert_int_equal(forge_create_pr(&o, PR_TITLE, NULL, PR_HEAD, "main", 0, &pr, &err), -1);
    assert_int_equal(err.code, GROVE_EIO);
    assert_contains(err.msg, shown);
    assert_lacks(err.msg, TOKEN);
    assert_lacks(err.msg, "x-access-token");

    /* the token anywhere else in a message is replaced */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/%s", port, TOKEN);
    snprintf(shown, sizeof(shown), "cannot reach http://127.0.0.1:%d/***: ", port);
    assert_int_equal(forge_create_pr(&o, PR_TITLE, NULL, PR_HEAD, "main", 0, &pr, &err), -1);
    assert_int_equal(err.code, GROVE_EIO);
    assert_contains(err.msg, shown);
    assert_lacks(err.msg, TOKEN);
}

static void test_get_issue(void **state)
{
    forge_opts o = opts_for(REPO);
    grove_err err = GROVE_ERR_INIT;
    forge_issue issue = {0};

    (void)state;
    if (forge_get_issue(&o, 7, &issue, &err) != 0)
        fail_msg("%s", err.msg);
    assert_string_equal(issue.title, "Issue 7");
    assert_int_equal(issue.number, 7);
    assert_string_equal(issue.state, "open");
    assert_string_equal(issue.body, "The body of issue 7.");
    assert_non_null(strstr(issue.html_url, "/issues/7"));
    assert_int_equal(issue.nlabels, 2);
    assert_string_equal(issue.labels[0], "bug");
    assert_string_equal(issue.labels[1], "good first issue");
    forge_issue_free(&issue);

    assert_int_equal(forge_get_issue(&o, 1000001, &issue, &err), -1);
    assert_null(issue.title);
    assert_int_equal(err.code, GROVE_ENOTFOUND);
    assert_contains(err.msg, "GitHub answered 404: Not Found");
}

static void test_bad_arguments_send_nothing(void **state)
{
    static const char *const bad_repos[] = {
        "octo",        "octo/",          "/hello",       "octo/../x", "octo/..", "octo/hello/pulls",
        "octo/hel lo", "octo/hello?x=1", "octo/hello#x", ""};
    forge_opts o = opts_for(REPO);
    forge_pr pr = {0};
    grove_err err = GROVE_ERR_INIT;
    json_t *before = recorded(), *after;
    forge_issue issue = {0};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad_repos) / sizeof(bad_repos[0]); i++) {
        o.owner_repo = bad_repos[i];
        err.code = GROVE_OK;
        assert_int_equal(forge_create_pr(&o, "t", NULL, "h", "main", 0, &pr, &err), -1);
        assert_int_equal(err.code, GROVE_EINVAL);
        assert_contains(err.msg, "invalid GitHub repository");
        assert_int_equal(forge_get_issue(&o, 1, &issue, &err), -1);
    }
    o.owner_repo = NULL;
    assert_int_equal(forge_create_pr(&o, "t", NULL, "h", "main", 0, &pr, &err), -1);
    o.owner_repo = REPO;
    o.token = "line\r\nX-Injected: 1";
    assert_int_equal(forge_create_pr(&o, "t", NULL, "h", "main", 0, &pr, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    o.token = "";
    assert_int_equal(forge_get_issue(&o, 1, &issue, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    o.token = TOKEN;
    assert_int_equal(forge_get_issue(&o, 0, &issue, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    /* the token never goes over plain http to another machine */
    {
        static const char *const clear[] = {"http://api.example.com", "http://127.0.0.2:9",
                                            "HTTP://github.com/api", "ftp://127.0.0.1/"};
        const char *api = o.api_url;

        for (i = 0; i < sizeof(clear) / sizeof(clear[0]); i++) {
            o.api_url = clear[i];
            err.code = GROVE_OK;
            assert_int_equal(forge_get_issue(&o, 1, &issue, &err), -1);
            assert_int_equal(err.code, GROVE_EINVAL);
            assert_contains(err.msg, "must be https");
            assert_int_equal(forge_create_pr(&o, "t", NULL, "h", "main", 0, &pr, &err), -1);
            assert_contains(err.msg, "must be https");
        }
        o.api_url = api;
    }
    assert_int_equal(forge_create_pr(&o, "t", NULL, "h", "", 0, &pr, &err), -1);
    assert_int_equal(forge_create_pr(&o, "bad \xff UTF-8", NULL, "h", "main", 0, &pr, &err), -1);
    assert_int_equal(err.code, GROVE_EINVAL);
    assert_contains(err.msg, "title is not valid UTF-8");
    after = recorded();
    assert_int_equal(json_array_size(after), json_array_size(before));
    json_decref(before);
    json_decref(after);
}

/* ---- answers GitHub should not give: a canned-answer server ---------------- */

typedef struct canned {
    int listen_fd;
    const char *head; /* status line and headers, without the blank line */
    size_t body_len;  /* bytes of `fill` after the head */
    char fill;
} canned;

static void *canned_serve(void *arg)
{
    canned *c = arg;
    char buf[4096], *chunk;
    size_t sent = 0;
    int fd = accept(c->listen_fd, NULL, NULL);

    if (fd < 0)
        return NULL;
    (void)!read(fd, buf, sizeof(buf)); /* the request; its content does not matter here */
    snprintf(buf, sizeof(buf), "%s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", c->head,
             c->body_len);
    if (write(fd, buf, strlen(buf)) < 0)
        goto done;
    chunk = malloc(65536);
    if (chunk) {
        memset(chunk, c->fill, 65536);
        while (sent < c->body_len) {
            size_t n = c->body_len - sent < 65536 ? c->body_len - sent : 65536;
            ssize_t w = write(fd, chunk, n);

            if (w <= 0)
                break; /* the client hung up: expected when it refuses a large body */
            sent += (size_t)w;
        }
        free(chunk);
    }
done:
    close(fd);
    return NULL;
}

/* Runs forge_get_issue against one canned answer; returns its rc, err filled. */
static int against_canned(const char *head, size_t body_len, char fill, grove_err *err)
{
    struct sockaddr_in a = {0};
    socklen_t len = sizeof(a);
    canned c = {socket(AF_INET, SOCK_STREAM, 0), head, body_len, fill};
    forge_opts o = opts_for(REPO);
    pthread_t t;
    char url[64];
    forge_issue issue = {0};
    int rc;

    assert_true(c.listen_fd >= 0);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(c.listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(c.listen_fd, 1), 0);
    assert_int_equal(getsockname(c.listen_fd, (struct sockaddr *)&a, &len), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(a.sin_port));
    o.api_url = url;
    assert_int_equal(pthread_create(&t, NULL, canned_serve, &c), 0);
    rc = forge_get_issue(&o, 1, &issue, err);
    pthread_join(t, NULL);
    close(c.listen_fd);
    forge_issue_free(&issue);
    return rc;
}

static void test_answer_too_large(void **state)
{
    grove_err err = GROVE_ERR_INIT;

    (void)state;
    signal(SIGPIPE, SIG_IGN);
    assert_int_equal(
        against_canned("HTTP/1.1 200 OK\r\nContent-Type: application/json", 9u << 20, ' ', &err),
        -1);
    assert_int_equal(err.code, GROVE_EIO);
    assert_contains(err.msg, "answered more than 8 MiB");
}

static void test_answer_not_json(void **state)
{
    grove_err err = GROVE_ERR_INIT;

    (void)state;
    assert_int_equal(
        against_canned("HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html", 40, '<', &err), -1);
    assert_int_equal(err.code, GROVE_EIO);
    assert_contains(err.msg, "GitHub answered 502: <<<<");

    assert_int_equal(
        against_canned("HTTP/1.1 200 OK\r\nContent-Type: application/json", 3, '[', &err), -1);
    assert_int_equal(err.code, GROVE_EIO);
    assert_contains(err.msg, "without a JSON object");
}

int main(void)
{
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_parse_remote),
        cmocka_unit_test(test_redact),
    };
    const struct CMUnitTest http[] = {
        cmocka_unit_test(test_create_pr),
        cmocka_unit_test(test_create_pr_again_finds_it),
        cmocka_unit_test(test_requests_as_sent),
        cmocka_unit_test(test_create_pr_body_variants),
        cmocka_unit_test(test_existing_pr_for_the_right_base),
        cmocka_unit_test(test_validation_error),
        cmocka_unit_test(test_wrong_token),
        cmocka_unit_test(test_slow_answer_times_out),
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test(test_get_issue),
        cmocka_unit_test(test_bad_arguments_send_nothing),
        cmocka_unit_test(test_answer_too_large),
        cmocka_unit_test(test_answer_not_json),
    };
    const char *missing;
    int rc = cmocka_run_group_tests_name("forge strings", pure, NULL, NULL);

    if (rc != 0)
        return rc;
    missing = fake_missing();
    if (missing) {
        fprintf(stderr, "skipped: %s\n", missing);
        return 77;
    }
    return cmocka_run_group_tests_name("forge over HTTP", http, fake_start, fake_stop);
}
