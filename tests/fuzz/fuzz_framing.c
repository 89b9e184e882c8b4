/*
 * fuzz_framing: bytes through the line reader (tools/base/io.c), and every line
 * through rpc_parse, rpc_classify and the response builders, then through a
 * server with no repository (mcp_server_handle_line).
 *
 * Input: byte 0 picks the line cap, byte 1 how the stream is cut into
 * reads, byte 2 the server (not initialized, or initialized with one of the
 * four protocol versions); the rest is the stream, written to a pipe piece
 * by piece with the reader draining it in between, so lines straddle reads.
 * The lines the reader hands out are checked against a model (split at
 * "\n", one "\r" dropped, longer than the cap → one LINE_TOOBIG).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/base/grove.h"
#include "tools/base/io.h"
#include "mcp/jsonrpc.h"
#include "mcp/server.h"
#include "tools/registry.h"
#include "tests/fuzz/fuzz.h"

#define NSERVERS 5

static int out_fd = -1;
/* One server per state, kept from input to input (making one per input would cost more than the
 * rest): servers[0] is not initialized, servers[v] negotiated version v. */
static mcp_server *servers[NSERVERS];

/* servers[i], made (and initialized) if need be. */
static mcp_server *server(int i)
{
    static const char *const versions[] = {NULL, "2024-11-05", "2025-03-26", "2025-06-18",
                                           "2025-11-25"};
    mcp_options o = {0};
    grove_err err = GROVE_ERR_INIT;
    char init[256];
    size_t len;

    if (servers[i])
        return servers[i];
    o.tools = tools_table();
    o.out_fd = out_fd;
    o.unavailable = "no repository in the fuzzer";
    FUZZ_CHECK(mcp_server_new(&servers[i], &o, &err) == 0, "mcp_server_new: %s", err.msg);
    if (i > 0) {
        len = (size_t)snprintf(init, sizeof(init),
                               "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\","
                               "\"params\":{\"protocolVersion\":\"%s\"}}",
                               versions[i]);
        FUZZ_CHECK(mcp_server_handle_line(servers[i], init, len) == 0, "initialize");
        FUZZ_CHECK(mcp_server_version(servers[i]) == (mcp_version)i, "initialize to %s",
                   versions[i]);
        free(fuzz_take(out_fd, &len));
    }
    return servers[i];
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    setenv("GROVE_LOG", "error", 0);
    grove_log_init();
    out_fd = fuzz_memfd("framing-out");
    return 0;
}

/* The line cap byte 0 selects: tiny caps exercise the discard path. */
static size_t pick_cap(uint8_t b)
{
    if (b < 128)
        return b;
    if (b < 192)
        return (size_t)b * 64;
    return MCP_MAX_MESSAGE;
}

/* Nesting of a parsed value. */
static int depth_of(const json_t *v)
{
    int max = 0, d;
    size_t i;
    const char *key;
    json_t *child;

    if (json_is_array(v)) {
        for (i = 0; i < json_array_size(v); i++)
            if ((d = depth_of(json_array_get(v, i))) > max)
                max = d;
        return max + 1;
    }
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, child)
        {
            if ((d = depth_of(child)) > max)
                max = d;
        }
        return max + 1;
    }
    return 0;
}

/* Dumps a built message: it must serialise to one line of valid JSON that reads back equal. */
static void dump_check(json_t *msg, const char *what)
{
    char *text;
    json_t *back;

    FUZZ_CHECK(msg != NULL, "%s: building the message failed", what);
    text = json_dumps(msg, JSON_COMPACT);
    FUZZ_CHECK(text != NULL, "%s: the message does not serialise", what);
    FUZZ_CHECK(strchr(text, '\n') == NULL, "%s: a newline inside a message", what);
    FUZZ_CHECK(fuzz_utf8_valid(text, strlen(text)), "%s: serialised text is not UTF-8", what);
    back = json_loads(text, JSON_ALLOW_NUL, NULL);
    FUZZ_CHECK(back && json_equal(back, msg), "%s: the message does not read back", what);
    json_decref(back);
    free(text);
    json_decref(msg);
}

/* One line through the JSON-RPC layer, as the server would take it. */
static void rpc_line(const char *line, size_t len)
{
    char msg[256];
    int code = 0, salvageable = 0;
    json_t *v, *id;
    rpc_msg m;

    msg[0] = '\0';
    v = rpc_parse(line, len, &code, msg, sizeof(msg), &salvageable);
    if (!v) {
        FUZZ_CHECK(code == RPC_PARSE_ERROR || code == RPC_INVALID_REQUEST,
                   "rpc_parse failed with code %d", code);
        FUZZ_CHECK(msg[0] != '\0', "rpc_parse failed without a message");
        id = salvageable ? rpc_salvage_id(line, len) : NULL;
        FUZZ_CHECK(!id || json_is_string(id) || json_is_number(id),
                   "rpc_salvage_id returned an id that is not a string or a number");
        grove_utf8_sanitize(msg);
        dump_check(rpc_error(id, code, msg, NULL), "parse error");
        json_decref(id);
        return;
    }
    FUZZ_CHECK(depth_of(v) <= RPC_MAX_DEPTH, "rpc_parse accepted a value nested %d deep",
               depth_of(v));
    rpc_classify(v, &m);
    switch (m.kind) {
    case RPC_INVALID:
        FUZZ_CHECK(m.message && m.code, "an invalid message without code or message");
        FUZZ_CHECK(!m.id || json_is_string(m.id) || json_is_number(m.id), "unusable id echoed");
        dump_check(rpc_error(m.id, m.code, m.message, NULL), "invalid");
        break;
    case RPC_REQUEST:
    case RPC_NOTIFICATION:
        FUZZ_CHECK(m.method && strlen(m.method) == json_string_length(json_object_get(v, "method")),
                   "classified method is not the message's NUL-free method");
        FUZZ_CHECK(m.kind == RPC_NOTIFICATION || json_is_string(m.id) || json_is_number(m.id),
                   "a request without a usable id");
        dump_check(rpc_result(m.id, json_pack("{s:O?}", "echo", m.params)), "result");
        snprintf(msg, sizeof(msg), "method not found: '%s'", m.method);
        grove_utf8_sanitize(msg);
        dump_check(rpc_error(m.id, RPC_METHOD_NOT_FOUND, msg, json_deep_copy(m.params)), "error");
        dump_check(
            rpc_notification("notifications/progress",
                             json_pack("{s:O?, s:f}", "progressToken", m.id, "progress", 1.5)),
            "notification");
        break;
    case RPC_RESPONSE:
        break;
    }
    json_decref(v);
}

/* 1 when the line is an initialize request (fuzz_dispatch covers those). */
static int is_initialize(const char *line, size_t len)
{
    json_t *v = json_loadb(line, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    const char *method = json_string_value(json_object_get(v, "method"));
    int yes = method && strcmp(method, "initialize") == 0;

    json_decref(v);
    return yes;
}

/*
 * One line through a server with no repository; its output must be what the line calls for.
 * The server that is not initialized is not given initialize requests: making a new one for the
 * next input would cost more than all the rest.
 */
static void server_line(mcp_server *s, const char *line, size_t len)
{
    fuzz_owed_kind owed;
    json_t *id = NULL;
    char *out;
    size_t outlen;

    if (s == servers[0] && is_initialize(line, len))
        return;
    owed = fuzz_owed(line, len, &id);
    FUZZ_CHECK(mcp_server_handle_line(s, line, len) == 0, "handle_line failed on a memfd");
    out = fuzz_take(out_fd, &outlen);
    fuzz_check_output(out, outlen, owed, id, line, len);
    free(out);
    json_decref(id);
}

/* The model: the next line of stream[pos..) for cap `max`. Returns 1 (ready), 2 (too big), 0
 * (end). */
static int model_next(const uint8_t *s, size_t size, size_t *pos, size_t max, size_t *start,
                      size_t *len)
{
    const uint8_t *nl;
    size_t n;

    if (*pos >= size)
        return 0;
    nl = memchr(s + *pos, '\n', size - *pos);
    n = nl ? (size_t)(nl - (s + *pos)) : size - *pos;
    *start = *pos;
    *pos += n + (nl ? 1 : 0);
    if (n > max)
        return 2;
    if (n > 0 && s[*start + n - 1] == '\r')
        n--;
    *len = n;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *stream = data + 3;
    size_t ssize, max, written = 0, mpos = 0, lines = 0;
    uint32_t rng;
    io_reader *r = NULL;
    mcp_server *s;
    int fds[2], done = 0, which;

    if (out_fd < 0)
        LLVMFuzzerInitialize(NULL, NULL);
    if (size < 3)
        return 0;
    ssize = size - 3;
    max = pick_cap(data[0]);
    rng = data[1] * 2654435761u + 1;
    FUZZ_CHECK(pipe(fds) == 0, "pipe failed");
    FUZZ_CHECK(io_reader_new(&r, fds[0], max) == 0, "io_reader_new failed");
    which = data[2] % NSERVERS;
    s = server(which);

    while (!done) {
        const char *line;
        size_t len, mstart = 0, mlen = 0;
        line_status st;
        ssize_t n;

        /* Write the next piece (at most 4 KiB: the pipe holds it) and let the reader read it. */
        if (written < ssize) {
            size_t piece = data[1] == 0 ? ssize - written : 1 + (rng >> 20) % 4096;

            rng = rng * 1103515245u + 12345u;
            if (piece > ssize - written)
                piece = ssize - written;
            if (piece > 4096)
                piece = 4096;
            FUZZ_CHECK(write(fds[1], stream + written, piece) == (ssize_t)piece, "pipe write");
            written += piece;
        }
        if (written == ssize && fds[1] >= 0) {
            close(fds[1]);
            fds[1] = -1;
        }
        do
            n = io_reader_fill(r);
        while (n < 0 && errno == EINTR);
        FUZZ_CHECK(n >= 0, "io_reader_fill failed");
        if (n == 0 && fds[1] >= 0)
            continue;
        while ((st = io_reader_next(r, &line, &len)) != LINE_NEED_MORE) {
            int want = model_next(stream, ssize, &mpos, max, &mstart, &mlen);

            if (st == LINE_EOF) {
                FUZZ_CHECK(want == 0, "LINE_EOF before the end of the stream (at byte %zu)", mpos);
                FUZZ_CHECK(n == 0, "LINE_EOF before end of input");
                done = 1;
                break;
            }
            lines++;
            if (st == LINE_TOOBIG) {
                FUZZ_CHECK(want == 2, "line %zu: LINE_TOOBIG, the model says %d (cap %zu)", lines,
                           want, max);
                continue;
            }
            FUZZ_CHECK(want == 1, "line %zu: LINE_READY, the model says %d (cap %zu)", lines, want,
                       max);
            FUZZ_CHECK(len == mlen && memcmp(line, stream + mstart, len) == 0,
                       "line %zu: %zu bytes, the model has %zu", lines, len, mlen);
            FUZZ_CHECK(line[len] == '\0', "line %zu is not NUL-terminated", lines);
            rpc_line(line, len);
            server_line(s, line, len);
        }
    }
    FUZZ_CHECK(mpos == ssize, "the reader ended at byte %zu of %zu", mpos, ssize);
    if (mcp_server_version(s) != (mcp_version)which) {
        /* The input initialized it: the next input gets a fresh one. */
        mcp_server_free(s);
        servers[which] = NULL;
    }
    io_reader_free(r);
    close(fds[0]);
    return 0;
}
