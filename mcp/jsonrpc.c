#include "mcp/jsonrpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rpc_depth(const char *text, size_t len, int limit)
{
    int depth = 0, max = 0, in_string = 0;
    size_t i;

    for (i = 0; i < len; i++) {
        char c = text[i];

        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = 0;
            continue;
        }
        if (c == '"') {
            in_string = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > max) {
                max = depth;
                if (max > limit)
                    return max;
            }
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return max;
}

static int valid_id(const json_t *id)
{
    return json_is_string(id) || json_is_integer(id) || json_is_real(id);
}

/* What a refusal of valid JSON grove cannot take says, after jansson's text. */
static const char *cannot_hold(const json_error_t *jerr)
{
    switch (json_error_code(jerr)) {
    case json_error_duplicate_key:
        return "a key may appear once in an object";
    case json_error_numeric_overflow:
        return "numbers must fit a 64-bit integer or a double";
    case json_error_invalid_syntax:
        if (strncmp(jerr->text, "invalid Unicode", 15) == 0)
            return "a string may not hold a lone UTF-16 surrogate";
        return NULL;
    default:
        return NULL;
    }
}

json_t *rpc_parse(const char *line, size_t len, int *code, char *msg, size_t msglen,
                  int *salvageable)
{
    json_error_t jerr;
    const char *why;
    json_t *v;

    *salvageable = 0;
    if (len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
        line += 3;
        len -= 3;
    }
    if (rpc_depth(line, len, RPC_MAX_DEPTH) > RPC_MAX_DEPTH) {
        *code = RPC_INVALID_REQUEST;
        snprintf(msg, msglen, "invalid request: nested deeper than %d levels", RPC_MAX_DEPTH);
        return NULL;
    }
    /*
     * JSON_ALLOW_NUL: "\u0000" is valid JSON; consumers use lengths where it
     * matters. A key given twice is refused, never read as the last one.
     */
    v = json_loadb(line, len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &jerr);
    if (!v && (why = cannot_hold(&jerr)) != NULL) {
        *salvageable = 1;
        *code = json_error_code(&jerr) == json_error_duplicate_key ? RPC_INVALID_REQUEST
                                                                   : RPC_PARSE_ERROR;
        snprintf(msg, msglen, "%s: %s at byte %d: %s",
                 *code == RPC_PARSE_ERROR ? "parse error" : "invalid request", jerr.text,
                 jerr.position, why);
        return NULL;
    }
    if (!v) {
        *code = RPC_PARSE_ERROR;
        snprintf(msg, msglen, "parse error: %s at byte %d", jerr.text, jerr.position);
        return NULL;
    }
    return v;
}

/* Reads 4 hex digits at p (at least 4 bytes readable); -1 when they are not hex. */
static long hex4(const char *p)
{
    long v = 0;
    int i;

    for (i = 0; i < 4; i++) {
        char c = p[i];

        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    return v;
}

json_t *rpc_salvage_id(const char *line, size_t len)
{
    char *copy;
    json_t *v = NULL, *id = NULL;
    size_t i;
    int tries, repaired = 0, replaced = 0;

    if (len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
        line += 3;
        len -= 3;
    }
    if (!(copy = malloc(len + 1)))
        return NULL;
    memcpy(copy, line, len);
    copy[len] = '\0';
    /* Lone surrogate escapes become \uFFFD (the same length); pairs stay. */
    for (i = 0; i + 6 <= len; i++) {
        long u, low;

        if (copy[i] != '\\')
            continue;
        if (copy[i + 1] != 'u' || (u = hex4(copy + i + 2)) < 0) {
            i++; /* another escape: skip its second character */
            continue;
        }
        if (u >= 0xD800 && u <= 0xDBFF && i + 12 <= len && copy[i + 6] == '\\' &&
            copy[i + 7] == 'u' && (low = hex4(copy + i + 8)) >= 0xDC00 && low <= 0xDFFF) {
            i += 11; /* a pair */
            continue;
        }
        if (u >= 0xD800 && u <= 0xDFFF) {
            memcpy(copy + i + 2, "FFFD", 4);
            replaced = 1;
        }
        i += 5;
    }
    /*
     * A number too big for jansson becomes a string of spaces of the same
     * length (so that what follows keeps its place), one at a time, and the
     * text is read again: the id, read as it was sent, is all that is
     * wanted. An id that was such a number cannot be echoed: null.
     */
    for (tries = 0; tries < 64; tries++) {
        json_error_t jerr;
        size_t end, start;

        v = json_loadb(copy, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (v || json_error_code(&jerr) != json_error_numeric_overflow || jerr.position <= 0 ||
            (size_t)jerr.position > len)
            break;
        end = (size_t)jerr.position;
        for (start = end;
             start > 0 && copy[start - 1] && strchr("0123456789+-.eE", copy[start - 1]); start--)
            ;
        if (end - start < 2)
            break;
        copy[start] = '"';
        memset(copy + start + 1, ' ', end - start - 2);
        copy[end - 1] = '"';
        repaired = 1;
    }
    free(copy);
    id = json_is_object(v) ? json_object_get(v, "id") : NULL;
    if (!valid_id(id) ||
        (json_is_string(id) && replaced && strstr(json_string_value(id), "\xEF\xBF\xBD")) ||
        (json_is_string(id) && repaired && json_string_length(id) > 0 &&
         strspn(json_string_value(id), " ") == json_string_length(id)))
        id = NULL; /* not the id as it was sent */
    id = json_incref(id);
    json_decref(v);
    return id;
}

void rpc_classify(json_t *msg, rpc_msg *out)
{
    json_t *jsonrpc, *id, *method, *params;
    int has_id;

    memset(out, 0, sizeof(*out));
    out->kind = RPC_INVALID;
    out->code = RPC_INVALID_REQUEST;
    if (!json_is_object(msg)) {
        out->message = "invalid request: a message must be a JSON object";
        return;
    }
    jsonrpc = json_object_get(msg, "jsonrpc");
    id = json_object_get(msg, "id");
    method = json_object_get(msg, "method");
    params = json_object_get(msg, "params");
    has_id = id != NULL;
    if (has_id && valid_id(id))
        out->id = id;

    if (!json_is_string(jsonrpc) || json_string_length(jsonrpc) != 3 ||
        strcmp(json_string_value(jsonrpc), "2.0") != 0) {
        out->message = "invalid request: \"jsonrpc\" must be \"2.0\"";
        return;
    }
    if (!method) {
        if (json_object_get(msg, "result") || json_object_get(msg, "error")) {
            out->kind = RPC_RESPONSE;
            return;
        }
        out->message = "invalid request: \"method\" is missing";
        return;
    }
    if (!json_is_string(method)) {
        out->message = "invalid request: \"method\" must be a string";
        return;
    }
    if (strlen(json_string_value(method)) != json_string_length(method)) {
        out->message = "invalid request: \"method\" contains a NUL character";
        return;
    }
    if (has_id && !valid_id(id)) {
        out->message = json_is_null(id) ? "invalid request: \"id\" must not be null"
                                        : "invalid request: \"id\" must be a string or a number";
        return;
    }
    if (params && !json_is_object(params) && !json_is_array(params)) {
        out->message = "invalid request: \"params\" must be an object or an array";
        if (!has_id) {
            /* Even a broken notification is never answered. */
            out->kind = RPC_NOTIFICATION;
            out->method = json_string_value(method);
        }
        return;
    }
    out->method = json_string_value(method);
    out->params = params;
    out->kind = has_id ? RPC_REQUEST : RPC_NOTIFICATION;
}

json_t *rpc_result(json_t *id, json_t *result)
{
    return json_pack("{s:s, s:O?, s:o}", "jsonrpc", "2.0", "id", id, "result", result);
}

json_t *rpc_error(json_t *id, int code, const char *message, json_t *data)
{
    json_t *err = json_pack("{s:i, s:s}", "code", code, "message", message);

    if (err && data)
        json_object_set_new(err, "data", data);
    else if (data)
        json_decref(data);
    return json_pack("{s:s, s:O?, s:o}", "jsonrpc", "2.0", "id", id, "error", err);
}

json_t *rpc_notification(const char *method, json_t *params)
{
    return json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0", "method", method, "params", params);
}
