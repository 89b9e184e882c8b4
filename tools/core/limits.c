/* limits: the size caps of contract §5 (see limits.h). */
#include "tools/core/limits.h"

#include <stdint.h>
#include <string.h>

/* The refusal: what, its size, the limit in bytes and in KiB or MiB. */
static int refuse(const char *what, size_t bytes, size_t limit, const char *how, grove_err *err)
{
    const char *unit = limit % (1024 * 1024) == 0 ? "MiB" : "KiB";
    size_t n = limit / (limit % (1024 * 1024) == 0 ? 1024 * 1024 : 1024);

    return grove_fail(err, GROVE_EINVAL, "%s is %zu bytes; the limit is %zu bytes (%zu %s): %s",
                      what, bytes, limit, n, unit, how);
}

int limits_check_text(const char *what, const char *text, size_t limit, grove_err *err)
{
    size_t n = text ? strlen(text) : 0;

    if (n <= limit)
        return 0;
    return refuse(what, n, limit, "shorten it, or put the long part in a file and name the file",
                  err);
}

/* Deeper values (or a value that contains itself) are not bounded: the caller serialises. */
#define JSON_BOUND_DEPTH_MAX 2048

/* s bytes, escaped at worst, with a quote on each side; SIZE_MAX on overflow. */
static size_t string_bound(size_t len)
{
    return len > (SIZE_MAX - 2) / 6 ? SIZE_MAX : len * 6 + 2;
}

static size_t add_bound(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static size_t json_bound(const json_t *v, int depth)
{
    size_t n = 2, i; /* the brackets */
    void *it;
    json_t *m;

    if (depth > JSON_BOUND_DEPTH_MAX)
        return SIZE_MAX;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        /* "key":value, (the last comma is one too many); keys may hold NUL bytes */
        for (it = json_object_iter((json_t *)v); it; it = json_object_iter_next((json_t *)v, it)) {
            n = add_bound(n, add_bound(string_bound(json_object_iter_key_len(it)), 2));
            n = add_bound(n, json_bound(json_object_iter_value(it), depth + 1));
        }
        return n;
    case JSON_ARRAY:
        for (i = 0; i < json_array_size(v); i++) {
            m = json_array_get(v, i);
            n = add_bound(n, add_bound(json_bound(m, depth + 1), 1));
        }
        return n;
    case JSON_STRING:
        return string_bound(json_string_length(v));
    case JSON_INTEGER:
    case JSON_REAL:
        return LIMIT_JSON_NUMBER_BYTES;
    default:
        return 5; /* true, false, null */
    }
}

size_t limits_json_bound(const json_t *v)
{
    return v ? json_bound(v, 1) : 0;
}

int limits_check_checkpoint(const json_t *data, const char *message, grove_err *err)
{
    /* json_dumpb() with no buffer returns the size the serialization needs and writes nothing;
     * data that is small for sure is not serialised at all. */
    size_t n = limits_json_bound(data) <= LIMIT_CHECKPOINT_DATA_BYTES
                   ? 0
                   : json_dumpb(data, NULL, 0, JSON_COMPACT);

    if (n > LIMIT_CHECKPOINT_DATA_BYTES)
        return refuse("checkpoint data", n, LIMIT_CHECKPOINT_DATA_BYTES,
                      "keep large state in a file in the worktree and record its path", err);
    return limits_check_text("checkpoint message", message, LIMIT_CHECKPOINT_MESSAGE_BYTES, err);
}
