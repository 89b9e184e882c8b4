/*
 * bench-client: drives an MCP server over stdio for tests/bench/bench.py and
 * prints what it measured as one JSON object on stdout. Times are
 * CLOCK_MONOTONIC; the client does no JSON parsing beyond what it needs to
 * tell responses, notifications and errors apart.
 *
 *   bench-client start [-e ERRFILE] [--list] [--call REQFILE] COUNT -- CMD [ARGS...]
 *       COUNT times: start CMD, send initialize, wait for its response
 *       ("ms": process start to that response; with --list also
 *       "list_ms": to the response of a tools/list sent right after it;
 *       with --call also "call_ms": to the response of the request on the
 *       first line of REQFILE, sent after those).
 *
 *   bench-client calls [-e ERRFILE] [--pipeline] [--barrier] [--rss N]...
 *                      REQFILE COUNT -- CMD [ARGS...]
 *       Starts CMD once, initializes, then sends COUNT requests made from
 *       the lines of REQFILE in turn (each line a JSON object such as
 *       {"method":"tools/call","params":{...}}; the client adds jsonrpc and
 *       id). One at a time ("lat_ms" per call), or with --pipeline all
 *       written by a second thread while responses are read. --barrier:
 *       after initialize print "ready" and wait for a line on stdin.
 *       --rss N: read VmHWM/VmRSS of CMD after N responses (and at the end).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_RSS 8

static const char init_req[] =
    "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
    "\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"grove-bench\",\"version\":"
    "\"1\"}}}\n";
static const char initialized[] =
    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n";
static const char list_req[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}\n";
/* 2026-07-28: no initialize; each request names its version in _meta */
#define MODERN_META                                                                                \
    "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","                       \
    "\"io.modelcontextprotocol/clientCapabilities\":{}}"
static const char discover_req[] =
    "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"server/discover\",\"params\":{" MODERN_META "}}\n";
static const char modern_list_req[] =
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{" MODERN_META "}}\n";

static void die(const char *what)
{
    fprintf(stderr, "bench-client: %s: %s\n", what, strerror(errno));
    exit(1);
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            die("write to the server");
        }
        p += w;
        n -= (size_t)w;
    }
}

/* ---- a server process and its stdout as lines ---------------------------- */

typedef struct server {
    pid_t pid;
    int in;  /* its stdin */
    int out; /* its stdout */
    char *buf;
    size_t len, cap, start;
} server;

static void server_start(server *s, char **argv, const char *errfile)
{
    posix_spawn_file_actions_t fa;
    int to[2], from[2];

    memset(s, 0, sizeof(*s));
    if (pipe2(to, O_CLOEXEC) != 0 || pipe2(from, O_CLOEXEC) != 0)
        die("pipe");
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, to[0], 0);
    posix_spawn_file_actions_adddup2(&fa, from[1], 1);
    if (errfile)
        posix_spawn_file_actions_addopen(&fa, 2, errfile, O_WRONLY | O_CREAT | O_APPEND, 0644);
    errno = posix_spawnp(&s->pid, argv[0], &fa, NULL, argv, environ);
    if (errno != 0)
        die(argv[0]);
    posix_spawn_file_actions_destroy(&fa);
    close(to[0]);
    close(from[1]);
    s->in = to[1];
    s->out = from[0];
    s->cap = 1 << 16;
    s->buf = malloc(s->cap);
    if (!s->buf)
        die("malloc");
}

/* The next line from the server (NUL-terminated, without '\n'), or NULL at EOF. */
static char *server_line(server *s, size_t *lenp)
{
    for (;;) {
        char *nl = memchr(s->buf + s->start, '\n', s->len - s->start);

        if (nl) {
            char *line = s->buf + s->start;

            *nl = '\0';
            *lenp = (size_t)(nl - line);
            s->start = (size_t)(nl - s->buf) + 1;
            return line;
        }
        if (s->start > 0) {
            memmove(s->buf, s->buf + s->start, s->len - s->start);
            s->len -= s->start;
            s->start = 0;
        }
        if (s->len + 4096 > s->cap) {
            s->cap *= 2;
            s->buf = realloc(s->buf, s->cap);
            if (!s->buf)
                die("realloc");
        }
        for (;;) {
            ssize_t n = read(s->out, s->buf + s->len, s->cap - s->len);

            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                die("read from the server");
            if (n == 0)
                return NULL;
            s->len += (size_t)n;
            break;
        }
    }
}

/* A response line (skips notifications and requests from the server); exits at EOF. */
static char *server_response(server *s, size_t *lenp)
{
    for (;;) {
        char *line = server_line(s, lenp);

        if (!line) {
            fprintf(stderr, "bench-client: the server closed its output\n");
            exit(1);
        }
        if (strstr(line, "\"method\":\"notifications/") == NULL || strstr(line, "\"result\""))
            return line;
    }
}

/* Closes the server's stdin and waits (up to 5 s, then SIGKILL). Returns its exit status. */
static int server_stop(server *s)
{
    int status = 0, i;

    close(s->in);
    for (i = 0; i < 5000; i++) {
        pid_t r = waitpid(s->pid, &status, WNOHANG);

        if (r == s->pid)
            break;
        if (r < 0)
            die("waitpid");
        usleep(1000);
    }
    if (i == 5000) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &status, 0);
    }
    close(s->out);
    free(s->buf);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void print_ms_array(const char *key, const double *v, size_t n)
{
    size_t i;

    printf("\"%s\":[", key);
    for (i = 0; i < n; i++)
        printf("%s%.4f", i ? "," : "", v[i]);
    printf("]");
}

/* Request lines of a REQFILE. */
typedef struct requests {
    char **lines; /* each without its leading '{' */
    size_t n;
} requests;

static void read_requests(const char *path, requests *r);
static size_t format_request(const requests *r, size_t i, char **buf, size_t *cap);
static int is_error(const char *line);

/* ---- start ------------------------------------------------------------------ */

static int cmd_start(int argc, char **argv)
{
    const char *errfile = NULL, *callfile = NULL;
    int list = 0, modern = 0, i, count, bad = 0;
    double *ms, *list_ms, *call_ms;
    char **cmd, *call_line = NULL;
    size_t call_len = 0, call_cap = 0;

    for (i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "-e") == 0 && i + 1 < argc)
            errfile = argv[++i];
        else if (strcmp(argv[i], "--list") == 0)
            list = 1;
        else if (strcmp(argv[i], "--modern") == 0)
            modern = 1;
        else if (strcmp(argv[i], "--call") == 0 && i + 1 < argc && !modern)
            callfile = argv[++i];
        else
            break;
    }
    if (i + 2 >= argc || strcmp(argv[i + 1], "--") != 0) {
        fprintf(stderr, "usage: bench-client start [-e ERRFILE] [--modern] [--list] [--call "
                        "REQFILE] COUNT -- CMD...\n"
                        "  --modern: server/discover and a stateless tools/list (2026-07-28) "
                        "instead of initialize (no --call)\n");
        return 2;
    }
    count = atoi(argv[i]);
    cmd = argv + i + 2;
    if (callfile) {
        requests r;
        size_t k;

        read_requests(callfile, &r);
        call_len = format_request(&r, 1, &call_line, &call_cap); /* id 2 */
        for (k = 0; k < r.n; k++)
            free(r.lines[k]);
        free(r.lines);
    }
    ms = calloc((size_t)count + 1, sizeof(*ms));
    list_ms = calloc((size_t)count + 1, sizeof(*list_ms));
    call_ms = calloc((size_t)count + 1, sizeof(*call_ms));
    if (!ms || !list_ms || !call_ms)
        die("calloc");
    for (i = 0; i < count; i++) {
        server s;
        size_t len;
        double t0 = now_ms();
        char *line;

        server_start(&s, cmd, errfile);
        if (modern)
            write_all(s.in, discover_req, sizeof(discover_req) - 1);
        else
            write_all(s.in, init_req, sizeof(init_req) - 1);
        line = server_response(&s, &len);
        ms[i] = now_ms() - t0;
        if (!strstr(line, modern ? "\"supportedVersions\"" : "\"protocolVersion\""))
            bad++;
        if (list && modern) {
            write_all(s.in, modern_list_req, sizeof(modern_list_req) - 1);
            line = server_response(&s, &len);
            list_ms[i] = now_ms() - t0;
            if (!strstr(line, "\"tools\"") || !strstr(line, "\"ttlMs\""))
                bad++;
        } else if (list) {
            write_all(s.in, initialized, sizeof(initialized) - 1);
            write_all(s.in, list_req, sizeof(list_req) - 1);
            line = server_response(&s, &len);
            list_ms[i] = now_ms() - t0;
            if (!strstr(line, "\"tools\""))
                bad++;
        }
        if (callfile) {
            if (!list)
                write_all(s.in, initialized, sizeof(initialized) - 1);
            write_all(s.in, call_line, call_len);
            line = server_response(&s, &len);
            call_ms[i] = now_ms() - t0;
            if (is_error(line))
                bad++;
        }
        if (server_stop(&s) != 0)
            bad++;
    }
    printf("{\"n\":%d,\"errors\":%d,", count, bad);
    print_ms_array("ms", ms, (size_t)count);
    if (list) {
        printf(",");
        print_ms_array("list_ms", list_ms, (size_t)count);
    }
    if (callfile) {
        printf(",");
        print_ms_array("call_ms", call_ms, (size_t)count);
    }
    printf("}\n");
    free(ms);
    free(list_ms);
    free(call_ms);
    free(call_line);
    return 0;
}

/* ---- calls ------------------------------------------------------------------ */

static void read_requests(const char *path, requests *r)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;

    if (!f)
        die(path);
    memset(r, 0, sizeof(*r));
    while ((len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len < 2 || line[0] != '{')
            continue;
        r->lines = realloc(r->lines, (r->n + 1) * sizeof(*r->lines));
        if (!r->lines || !(r->lines[r->n] = strdup(line + 1)))
            die("malloc");
        r->n++;
    }
    free(line);
    fclose(f);
    if (r->n == 0) {
        fprintf(stderr, "bench-client: no requests in %s\n", path);
        exit(2);
    }
}

/* Request i (id i + 1) as a line into buf; returns its length. */
static size_t format_request(const requests *r, size_t i, char **buf, size_t *cap)
{
    const char *body = r->lines[i % r->n];
    size_t need = strlen(body) + 64;
    int n;

    if (need > *cap) {
        *cap = need * 2;
        *buf = realloc(*buf, *cap);
        if (!*buf)
            die("realloc");
    }
    n = snprintf(*buf, *cap, "{\"jsonrpc\":\"2.0\",\"id\":%zu,%s\n", i + 1, body);
    return (size_t)n;
}

typedef struct writer_arg {
    int fd;
    const requests *r;
    size_t count;
} writer_arg;

static void *writer(void *p)
{
    writer_arg *a = p;
    char *line = NULL, *batch;
    size_t cap = 0, blen = 0, bcap = 1 << 16, i;

    batch = malloc(bcap);
    if (!batch)
        die("malloc");
    for (i = 0; i < a->count; i++) {
        size_t n = format_request(a->r, i, &line, &cap);

        if (blen + n > bcap) {
            write_all(a->fd, batch, blen);
            blen = 0;
        }
        if (n > bcap) {
            write_all(a->fd, line, n);
            continue;
        }
        memcpy(batch + blen, line, n);
        blen += n;
    }
    write_all(a->fd, batch, blen);
    free(batch);
    free(line);
    return NULL;
}

typedef struct rss_point {
    size_t calls;
    long hwm_kb, rss_kb, anon_kb, file_kb; /* peak, now, now private, now file-backed */
} rss_point;

static void read_rss(pid_t pid, rss_point *p)
{
    char path[64], line[256];
    FILE *f;

    p->hwm_kb = p->rss_kb = p->anon_kb = p->file_kb = -1;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmHWM:", 6) == 0)
            p->hwm_kb = strtol(line + 6, NULL, 10);
        else if (strncmp(line, "VmRSS:", 6) == 0)
            p->rss_kb = strtol(line + 6, NULL, 10);
        else if (strncmp(line, "RssAnon:", 8) == 0)
            p->anon_kb = strtol(line + 8, NULL, 10);
        else if (strncmp(line, "RssFile:", 8) == 0)
            p->file_kb = strtol(line + 8, NULL, 10);
    }
    fclose(f);
}

/* 0 for a successful result; 1 for a JSON-RPC error or an isError tool result. */
static int is_error(const char *line)
{
    const char *p = strstr(line, "\"id\":");

    if (!p)
        return 1;
    p += 5;
    while (*p && *p != ',' && *p != '}')
        p++;
    if (strncmp(p, ",\"error\"", 8) == 0 || strstr(line, "\"isError\":true"))
        return 1;
    /* another key order (not grove's): an error member anywhere at the top */
    return strncmp(line, "{\"error\"", 8) == 0;
}

static int cmd_calls(int argc, char **argv)
{
    const char *errfile = NULL;
    int pipeline = 0, barrier = 0, i, exit_code;
    size_t count, k, nrss = 0, errors = 0, rss_at[MAX_RSS];
    rss_point rss[MAX_RSS + 1];
    char first_error[512] = "", *line_buf = NULL, **cmd;
    size_t line_cap = 0, len;
    double *lat = NULL, t_start, t_end;
    requests reqs;
    server s;
    pthread_t th;
    writer_arg wa;

    for (i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "-e") == 0 && i + 1 < argc)
            errfile = argv[++i];
        else if (strcmp(argv[i], "--pipeline") == 0)
            pipeline = 1;
        else if (strcmp(argv[i], "--barrier") == 0)
            barrier = 1;
        else if (strcmp(argv[i], "--rss") == 0 && i + 1 < argc && nrss < MAX_RSS)
            rss_at[nrss++] = (size_t)strtoull(argv[++i], NULL, 10);
        else
            break;
    }
    if (i + 3 >= argc || strcmp(argv[i + 2], "--") != 0) {
        fprintf(stderr, "usage: bench-client calls [-e ERRFILE] [--pipeline] [--barrier] "
                        "[--rss N]... REQFILE COUNT -- CMD...\n");
        return 2;
    }
    read_requests(argv[i], &reqs);
    count = (size_t)strtoull(argv[i + 1], NULL, 10);
    cmd = argv + i + 3;
    if (!pipeline && !(lat = calloc(count + 1, sizeof(*lat))))
        die("calloc");

    server_start(&s, cmd, errfile);
    write_all(s.in, init_req, sizeof(init_req) - 1);
    if (!strstr(server_response(&s, &len), "\"protocolVersion\"")) {
        fprintf(stderr, "bench-client: initialize failed\n");
        return 1;
    }
    write_all(s.in, initialized, sizeof(initialized) - 1);
    if (barrier) {
        char go[16];

        printf("ready\n");
        fflush(stdout);
        if (!fgets(go, sizeof(go), stdin))
            return 1;
    }

    t_start = now_ms();
    if (pipeline) {
        wa.fd = s.in;
        wa.r = &reqs;
        wa.count = count;
        if ((errno = pthread_create(&th, NULL, writer, &wa)) != 0)
            die("pthread_create");
    }
    for (k = 0; k < count; k++) {
        const char *line;
        double t0 = 0;

        if (!pipeline) {
            size_t n = format_request(&reqs, k, &line_buf, &line_cap);

            t0 = now_ms();
            write_all(s.in, line_buf, n);
        }
        line = server_response(&s, &len);
        if (!pipeline)
            lat[k] = now_ms() - t0;
        if (is_error(line)) {
            if (errors++ == 0)
                snprintf(first_error, sizeof(first_error), "%.400s", line);
        }
        if (nrss > 0) {
            size_t r;

            for (r = 0; r < nrss; r++) {
                if (rss_at[r] == k + 1) {
                    read_rss(s.pid, &rss[r]);
                    rss[r].calls = k + 1;
                }
            }
        }
    }
    t_end = now_ms();
    if (pipeline)
        pthread_join(th, NULL);
    read_rss(s.pid, &rss[nrss]);
    rss[nrss].calls = count;
    exit_code = server_stop(&s);

    printf("{\"n\":%zu,\"errors\":%zu,\"exit\":%d,\"t_start_ms\":%.4f,\"t_end_ms\":%.4f,"
           "\"wall_ms\":%.4f,\"calls_per_s\":%.2f,",
           count, errors, exit_code, t_start, t_end, t_end - t_start,
           t_end > t_start ? (double)count * 1000.0 / (t_end - t_start) : 0.0);
    printf("\"first_error\":\"");
    for (k = 0; first_error[k]; k++) {
        unsigned char c = (unsigned char)first_error[k];

        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf(" ");
        else
            putchar(c);
    }
    printf("\",\"rss\":[");
    for (k = 0; k <= nrss; k++)
        printf("%s{\"calls\":%zu,\"hwm_kb\":%ld,\"rss_kb\":%ld,\"anon_kb\":%ld,\"file_kb\":%ld}",
               k ? "," : "", rss[k].calls, rss[k].hwm_kb, rss[k].rss_kb, rss[k].anon_kb,
               rss[k].file_kb);
    printf("]");
    if (!pipeline) {
        printf(",");
        print_ms_array("lat_ms", lat, count);
    }
    printf("}\n");
    free(lat);
    free(line_buf);
    for (k = 0; k < reqs.n; k++)
        free(reqs.lines[k]);
    free(reqs.lines);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 2 && strcmp(argv[1], "start") == 0)
        return cmd_start(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "calls") == 0)
        return cmd_calls(argc - 2, argv + 2);
    fprintf(stderr, "usage: bench-client start|calls ... (see the source)\n");
    return 2;
}
