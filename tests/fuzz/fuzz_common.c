/* What the fuzz targets share: failure reports, memfds, and the JSON-RPC output oracle. */
#include "tests/fuzz/fuzz.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mcp/jsonrpc.h"

void fuzz_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "\n%s:%d: broken promise: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

int fuzz_memfd(const char *name)
{
    int fd = memfd_create(name, MFD_CLOEXEC);

    FUZZ_CHECK(fd >= 0, "memfd_create failed");
    return fd;
}

char *fuzz_take(int fd, size_t *len)
{
    off_t end = lseek(fd, 0, SEEK_END);
    char *buf;

    FUZZ_CHECK(end >= 0, "lseek on a memfd failed");
    buf = malloc((size_t)end + 1);
    FUZZ_CHECK(buf != NULL, "out of memory");
    FUZZ_CHECK(pread(fd, buf, (size_t)end, 0) == (ssize_t)end, "pread on a memfd failed");
    buf[end] = '\0';
    FUZZ_CHECK(ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0, "cannot empty a memfd");
    *len = (size_t)end;
    return buf;
}

int fuzz_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, n, k;

    while (i < len) {
        unsigned char c = p[i];

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            n = 2;
        else if (c >= 0xE0 && c <= 0xEF)
            n = 3;
        else if (c >= 0xF0 && c <= 0xF4)
            n = 4;
        else
            return 0;
        if (len - i < n)
            return 0;
        for (k = 1; k < n; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
        if ((c == 0xE0 && p[i + 1] < 0xA0) || (c == 0xED && p[i + 1] > 0x9F) ||
            (c == 0xF0 && p[i + 1] < 0x90) || (c == 0xF4 && p[i + 1] > 0x8F))
            return 0;
        i += n;
    }
    return 1;
}

/* Nesting of arrays and objects in a parsed value (a scalar is 0). */
static int value_depth(const json_t *v)
{
    int max = 0, d;
    size_t i;
    const char *key;
    json_t *child;

    if (json_is_array(v)) {
        for (i = 0; i < json_array_size(v); i++)
            if ((d = value_depth(json_array_get(v, i))) > max)
                max = d;
        return max + 1;
    }
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, child)
        {
            if ((d = value_depth(child)) > max)
                max = d;
        }
        return max + 1;
    }
    return 0;
}

static int is_id(const json_t *id)
{
    return json_is_string(id) || json_is_number(id);
}

fuzz_owed_kind fuzz_owed(const char *line, size_t len, json_t **id)
{
    json_error_t jerr;
    json_t *v, *jsonrpc, *method, *mid;
    fuzz_owed_kind kind = OWED_RESPONSE;
    size_t i;

    *id = NULL;
    for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'); i++)
        ;
    if (i == len)
        return OWED_NOTHING;
    if (len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
        line += 3;
        len -= 3;
    }
    v = json_loadb(line, len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &jerr);
    if (!v && (json_error_code(&jerr) == json_error_numeric_overflow ||
               strncmp(jerr.text, "invalid Unicode", 15) == 0))
        return OWED_RESPONSE_SOME_ID;
    if (!v && json_error_code(&jerr) == json_error_duplicate_key) {
        /* refused whatever it is; the id echoed is the last one given */
        v = json_loadb(line, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (!v && (json_error_code(&jerr) == json_error_numeric_overflow ||
                   strncmp(jerr.text, "invalid Unicode", 15) == 0))
            return OWED_RESPONSE_SOME_ID;
        if (v && value_depth(v) <= RPC_MAX_DEPTH && json_is_object(v) &&
            is_id(json_object_get(v, "id")))
            *id = json_incref(json_object_get(v, "id"));
        json_decref(v);
        return OWED_RESPONSE;
    }
    if (!v || value_depth(v) > RPC_MAX_DEPTH) {
        json_decref(v);
        return OWED_RESPONSE; /* parse error or too deep: one error, id null */
    }
    if (json_is_array(v)) {
        json_decref(v);
        return OWED_UNKNOWN; /* a batch: depends on the protocol version */
    }
    if (!json_is_object(v)) {
        json_decref(v);
        return OWED_RESPONSE;
    }
    jsonrpc = json_object_get(v, "jsonrpc");
    method = json_object_get(v, "method");
    mid = json_object_get(v, "id");
    if (is_id(mid))
        *id = json_incref(mid);
    if (json_is_string(jsonrpc) && strcmp(json_string_value(jsonrpc), "2.0") == 0 &&
        json_string_length(jsonrpc) == 3) {
        if (!method && (json_object_get(v, "result") || json_object_get(v, "error")))
            kind = OWED_NOTHING; /* a response to us: ignored */
        else if (json_is_string(method) && !mid &&
                 strlen(json_string_value(method)) == json_string_length(method))
            kind = OWED_NOTHING; /* a notification, even with broken params */
    }
    if (kind == OWED_NOTHING) {
        json_decref(*id);
        *id = NULL;
    }
    json_decref(v);
    return kind;
}

static void show(const char *what, const char *s, size_t len)
{
    size_t i;

    fprintf(stderr, "%s (%zu bytes): ", what, len);
    for (i = 0; i < len && i < 2000; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c >= 0x20 && c < 0x7f && c != '\\')
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fprintf(stderr, "%s\n", i < len ? "..." : "");
}

/* One JSON-RPC response object: jsonrpc, id, and exactly one of result/error. */
static const char *response_problem(const json_t *m)
{
    const json_t *jsonrpc = json_object_get(m, "jsonrpc");
    const json_t *id = json_object_get(m, "id");
    const json_t *result = json_object_get(m, "result");
    const json_t *error = json_object_get(m, "error");

    if (!json_is_object(m))
        return "a response is not an object";
    if (!json_is_string(jsonrpc) || strcmp(json_string_value(jsonrpc), "2.0") != 0)
        return "\"jsonrpc\" is not \"2.0\"";
    if (!id || !(is_id(id) || json_is_null(id)))
        return "a response has no usable \"id\"";
    if (!result == !error)
        return "a response needs exactly one of \"result\" and \"error\"";
    if (result && !json_is_object(result))
        return "a result is not an object";
    if (error && (!json_is_object(error) || !json_is_integer(json_object_get(error, "code")) ||
                  !json_is_string(json_object_get(error, "message"))))
        return "an error lacks an integer code or a string message";
    if (json_object_size(m) != 3)
        return "a response has members other than jsonrpc, id, result/error";
    return NULL;
}

static const char *notification_problem(const json_t *m)
{
    const json_t *params = json_object_get(m, "params");
    const json_t *token = json_object_get(params, "progressToken");

    if (!json_is_string(json_object_get(m, "jsonrpc")) ||
        strcmp(json_string_value(json_object_get(m, "jsonrpc")), "2.0") != 0)
        return "\"jsonrpc\" is not \"2.0\"";
    if (json_object_get(m, "id"))
        return "a notification has an id";
    if (!json_is_string(json_object_get(m, "method")) ||
        strcmp(json_string_value(json_object_get(m, "method")), "notifications/progress") != 0)
        return "the server sent a notification other than notifications/progress";
    if (!json_is_object(params) || !is_id(token) ||
        !json_is_number(json_object_get(params, "progress")))
        return "a progress notification lacks its token or progress";
    return NULL;
}

void fuzz_check_output(const char *out, size_t len, fuzz_owed_kind owed, const json_t *id,
                       const char *input, size_t inlen)
{
    const char *p = out, *end = out + len, *problem = NULL;
    int responses = 0, notes = 0;
    json_t *resp_id = NULL;

    if (len > 0 && out[len - 1] != '\n')
        problem = "the output does not end with a newline";
    while (!problem && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        json_error_t jerr;
        json_t *m;
        size_t i;

        if (nl == p) {
            problem = "an empty output line";
            break;
        }
        if (!fuzz_utf8_valid(p, (size_t)(nl - p))) {
            problem = "an output line is not valid UTF-8";
            break;
        }
        m = json_loadb(p, (size_t)(nl - p), JSON_ALLOW_NUL, &jerr);
        if (!m) {
            fprintf(stderr, "jansson: %s\n", jerr.text);
            problem = "an output line is not a JSON object or array";
            break;
        }
        if (json_is_object(m) && json_object_get(m, "method")) {
            problem = notification_problem(m);
            if (!problem && responses > 0)
                problem = "a notification after the response";
            notes++;
        } else if (json_is_array(m)) {
            if (json_array_size(m) == 0)
                problem = "an empty batch response";
            for (i = 0; !problem && i < json_array_size(m); i++)
                problem = response_problem(json_array_get(m, i));
            if (!problem && owed == OWED_RESPONSE)
                problem = "a batch response to a single message";
            responses++;
        } else {
            problem = response_problem(m);
            if (!problem && responses == 0)
                resp_id = json_incref(json_object_get(m, "id"));
            responses++;
        }
        json_decref(m);
        p = nl + 1;
    }
    if (!problem && responses > 1)
        problem = "more than one response to one line";
    if (!problem && owed == OWED_NOTHING && (responses || notes))
        problem = "output for a line that calls for none";
    if (!problem && (owed == OWED_RESPONSE || owed == OWED_RESPONSE_SOME_ID) && responses == 0)
        problem = "no response to a line that calls for one";
    if (!problem && owed == OWED_RESPONSE &&
        !(id ? json_equal(resp_id, (json_t *)id) : json_is_null(resp_id)))
        problem = "the response's id is not the request's (or null)";
    if (!problem && owed == OWED_RESPONSE_SOME_ID && !json_is_null(resp_id) && !is_id(resp_id))
        problem = "the response's id is neither null nor an id";
    if (!problem && notes > 0 && owed != OWED_RESPONSE && owed != OWED_RESPONSE_SOME_ID &&
        owed != OWED_UNKNOWN)
        problem = "progress for a line that is not a request";
    json_decref(resp_id);
    if (problem) {
        show("input", input, inlen);
        show("output", out, len);
        fuzz_fail(__FILE__, __LINE__, "%s", problem);
    }
}
