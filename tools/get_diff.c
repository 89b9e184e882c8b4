/* get_diff: what an instance changed, as `git diff` shows it. Definition: get_diff.json. The
 * resolution of the instance and `against` is diff_instance() in tools/core/diff.c. */
#include "tools/tool_table.h"
#include "tools/core/diff.h"
#include "tools/core/limits.h"
#include "tools/wire.h"

#include <stdlib.h>
#include <string.h>

/*
 * The `paths` argument as an array of borrowed strings (*out malloc'd, the
 * caller frees it; NULL when absent). The schema checked the types; a NUL
 * inside a string is refused here.
 */
static int paths_read(const json_t *args, const char ***out, size_t *n, grove_err *err)
{
    const json_t *v = json_object_get(args, "paths");
    size_t i;

    *out = NULL;
    *n = 0;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return grove_fail(err, GROVE_EINVAL, "paths must be an array of strings");
    if (!(*out = calloc(json_array_size(v) + 1, sizeof(**out)))) /* owned by the caller */
        return grove_nomem(err);
    for (i = 0; i < json_array_size(v); i++) {
        const json_t *p = json_array_get(v, i);

        if (!json_is_string(p) || strlen(json_string_value(p)) != json_string_length(p)) {
            free(*out);
            *out = NULL;
            return grove_fail(err, GROVE_EINVAL, "paths[%zu] must be a string without NUL", i);
        }
        (*out)[i] = json_string_value(p);
    }
    *n = json_array_size(v);
    return 0;
}

/* Bytes n bytes of JSON text take inside a JSON string (quotes not counted), as jansson writes it.
 */
static size_t escaped_len(const char *s, size_t n)
{
    size_t i, len = 0;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
            len += 2;
        else if (c < 0x20)
            len += 6;
        else
            len++;
    }
    return len;
}

/*
 * Bytes the n bytes of a string take in the text block: escaped as jansson
 * writes a JSON string (quotes not counted), then that escaped once more.
 */
static size_t twice_escaped_len(const char *s, size_t n)
{
    size_t i, len = 0;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\')
            len += 4; /* \" -> \\\" */
        else if (c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
            len += 3; /* \n -> \\n */
        else if (c < 0x20)
            len += 7; /* \u001F -> \\u001F */
        else
            len++;
    }
    return len;
}

/*
 * The size of result `res` as its text block (its compact JSON as a JSON
 * string) into *size, and the part of it the patch takes into *patch_part.
 * The patch, most of the result, is counted without being written out: the
 * rest is dumped with an empty patch in its place (the same key, the same
 * place), then the patch goes back.
 */
static int result_size(json_t *res, size_t *size, size_t *patch_part)
{
    json_t *patch = json_object_get(res, "patch"); /* a reference taken below, given back */
    char *text = NULL;                             /* owned here */
    size_t rest;

    if (!json_is_string(patch))
        return -1;
    json_incref(patch);
    if (json_object_set_new(res, "patch", json_string("")) != 0) {
        json_decref(patch);
        return -1;
    }
    text = json_dumps(res, JSON_COMPACT);
    if (json_object_set_new(res, "patch", patch) != 0) { /* takes our reference */
        free(text);
        return -1;
    }
    if (!text)
        return -1;
    /* the empty patch, "", took 4 bytes escaped: its quotes are in *patch_part instead */
    rest = escaped_len(text, strlen(text)) + 2 - 4;
    free(text);
    *patch_part = 4 + twice_escaped_len(json_string_value(patch), json_string_length(patch));
    *size = rest + *patch_part;
    return 0;
}

int tool_get_diff(tool_call *call, const json_t *args, json_t **out, grove_err *err)
{
    const char **paths = NULL;
    diff_request rq = {0};
    diff_result r = {0};
    long long context = arg_int(args, "context_lines", 3);
    long long max = arg_int(args, "max_bytes", 262144);
    json_t *res = NULL;
    int rc = -1;

    *out = NULL;
    if (!(rq.instance_id = arg_target(call->ctx, args, "instance_id", err)))
        return -1;
    if (context < 0 || context > DIFF_CONTEXT_MAX || max < 1 || (size_t)max > DIFF_MAX_BYTES)
        return grove_fail(err, GROVE_EINVAL, "context_lines must be 0 to %d and max_bytes 1 to %zu",
                          DIFF_CONTEXT_MAX, DIFF_MAX_BYTES);
    if (paths_read(args, &paths, &rq.npaths, err) != 0)
        return -1;
    rq.paths = paths;
    rq.against = arg_str(args, "against");
    rq.include_uncommitted = arg_bool(args, "include_uncommitted", 1);
    rq.context_lines = (unsigned)context;
    rq.max_bytes = (size_t)max;
    if (instance_reconcile_all(call->ctx, NULL, err) != 0 ||
        diff_instance(call->ctx, &rq, &r, err) != 0)
        goto done;
    /*
     * One result is at most LIMIT_PAGE_BYTES (contract §5), measured as the
     * text block that carries it (its compact JSON, escaped once more): the
     * whole response, text block and structuredContent, then stays under
     * 10 MiB, the most the official TypeScript SDK's stdio client reads.
     */
    for (;;) {
        size_t size, patch_part, rest, len;

        if (!(res = wire_diff(&r.diff, r.uncommitted))) {
            rc = grove_nomem(err);
            goto done;
        }
        if (result_size(res, &size, &patch_part) != 0) {
            rc = grove_nomem(err);
            goto done;
        }
        if (size <= LIMIT_PAGE_BYTES)
            break;
        json_decref(res);
        res = NULL;
        rest = size - patch_part;
        if (rest + 16 >= LIMIT_PAGE_BYTES || r.diff.patch_len == 0) {
            rc = grove_fail(err, GROVE_EINVAL,
                            "the diff lists %zu files, more than a result may hold (%zu bytes): "
                            "narrow it with paths",
                            r.diff.nfiles, LIMIT_PAGE_BYTES);
            goto done;
        }
        /* Keep the share of the patch that fits what is left (escaping taken as even). */
        len = (size_t)((double)r.diff.patch_len * (double)(LIMIT_PAGE_BYTES - rest) /
                       (double)patch_part);
        diff_result_trim(&r, len < r.diff.patch_len ? len : r.diff.patch_len - 1);
    }
    *out = res;
    rc = 0;
done:
    diff_result_free(&r);
    free(paths);
    return rc;
}
