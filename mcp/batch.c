/* batch: group commit for pipelined tool calls (see batch.h). */
#include "mcp/batch.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/jsonrpc.h"

const char *mcp_batch_call_name(const json_t *msg)
{
    const json_t *method = json_object_get(msg, "method");
    const json_t *name = json_object_get(json_object_get(msg, "params"), "name");

    if (!json_is_string(method) || strcmp(json_string_value(method), "tools/call") != 0 ||
        !json_object_get(msg, "id") || !json_is_string(name) ||
        strlen(json_string_value(name)) != json_string_length(name))
        return NULL;
    return json_string_value(name);
}

/* 1 when r's buffer holds a complete line. */
static int buffered_line(io_reader *r)
{
    const char *data;
    size_t n = io_reader_peek(r, &data);

    return n > 0 && memchr(data, '\n', n) != NULL;
}

int mcp_batch_more_input(io_reader *r, int fd)
{
    struct pollfd pf;

    if (!r)
        return 0;
    if (buffered_line(r))
        return 1;
    pf.fd = fd;
    pf.events = POLLIN;
    pf.revents = 0;
    if (poll(&pf, 1, 0) <= 0 || !(pf.revents & POLLIN))
        return 0;
    /* readable: one read (it may end the input; the serve loop sees that next) */
    return io_reader_fill(r) > 0 && buffered_line(r);
}

int mcp_batch_open(mcp_batch *b, const mcp_group_fns *g, struct grove_ctx *ctx)
{
    grove_err err = GROVE_ERR_INIT;

    if (b->ctx || !ctx || !g->begin || !g->commit)
        return b->ctx ? 0 : -1;
    if (g->begin(ctx, &err) != 0) {
        log_warn("cannot open a group commit, the calls run one by one: %s", err.msg);
        return -1;
    }
    b->ctx = ctx;
    b->calls = 0;
    b->t0 = grove_now_ms();
    return 0;
}

int mcp_batch_is_open(const mcp_batch *b)
{
    return b->ctx != NULL;
}

int mcp_batch_full(const mcp_batch *b)
{
    return b->calls >= MCP_BATCH_MAX_CALLS || grove_now_ms() - b->t0 >= MCP_BATCH_MAX_MS;
}

/* Appends bytes to buf (grown as needed). 0, or -1 when out of memory. */
static int append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
    if (*len + n > *cap) {
        size_t ncap = *cap ? *cap : 4096;
        char *nb;

        while (ncap < *len + n)
            ncap *= 2;
        if (!(nb = realloc(*buf, ncap)))
            return -1;
        *buf = nb;
        *cap = ncap;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    return 0;
}

int mcp_batch_hold(mcp_batch *b, const char *line, size_t len, json_t *msg)
{
    json_t *result = json_object_get(msg, "result");
    json_t *id =
        b->writes && json_is_object(result) && !json_is_true(json_object_get(result, "isError"))
            ? json_object_get(msg, "id")
            : NULL;
    mcp_batch_msg *m;

    mcp_batch_out *o = &b->cur;

    if (o->nmsgs == o->capmsgs) {
        size_t cap = o->capmsgs ? o->capmsgs * 2 : 64;
        mcp_batch_msg *n = realloc(o->msgs, cap * sizeof(*n));

        if (!n)
            return -1;
        o->msgs = n;
        o->capmsgs = cap;
    }
    if (append(&o->buf, &o->len, &o->cap, line, len) != 0)
        return -1;
    m = &o->msgs[o->nmsgs++];
    m->off = o->len - len;
    m->len = len;
    m->id = id ? json_incref(id) : NULL;
    return 0;
}

/* The held-back messages again, with every answer that needed the commit replaced. */
static void replace_answers(mcp_batch_out *o, const char *why)
{
    char *nbuf = NULL, text[1100];
    size_t nlen = 0, ncap = 0, i;

    snprintf(text, sizeof(text),
             "this call's write was not saved: the transaction it ran in (with other calls "
             "sent at the same time) could not be committed: %s; try again",
             why);
    grove_utf8_sanitize(text);
    for (i = 0; i < o->nmsgs; i++) {
        mcp_batch_msg *m = &o->msgs[i];
        char *line = NULL;
        int rc;

        if (m->id) {
            json_t *r = rpc_result(m->id, json_pack("{s:[{s:s, s:s}], s:b}", "content", "type",
                                                    "text", "text", text, "isError", 1));

            line = r ? json_dumps(r, JSON_COMPACT) : NULL;
            json_decref(r);
        }
        if (line) {
            rc = append(&nbuf, &nlen, &ncap, line, strlen(line));
            if (rc == 0)
                rc = append(&nbuf, &nlen, &ncap, "\n", 1);
            free(line);
        } else {
            /* not an answer that needed the commit (or out of memory: the old text) */
            rc = append(&nbuf, &nlen, &ncap, o->buf + m->off, m->len);
        }
        if (rc != 0) {
            log_error("out of memory replacing the answers of a failed group commit");
            free(nbuf);
            return;
        }
    }
    free(o->buf);
    o->buf = nbuf;
    o->len = nlen;
    o->cap = ncap;
}

/* Hands out o's messages (*out, *outlen; borrowed until o is used again) and empties o. */
static void take(mcp_batch_out *o, const char **out, size_t *outlen)
{
    size_t i;

    for (i = 0; i < o->nmsgs; i++)
        json_decref(o->msgs[i].id);
    o->nmsgs = 0;
    *out = o->buf ? o->buf : "";
    *outlen = o->len;
    o->len = 0;
}

void mcp_batch_close(mcp_batch *b, const mcp_group_fns *g, const char **out, size_t *outlen)
{
    if (b->ctx) {
        grove_err err = GROVE_ERR_INIT;

        if (g->commit(b->ctx, &err) != 0) {
            log_error("group commit of %zu calls failed: %s", b->calls, err.msg);
            replace_answers(&b->cur, err.msg);
        }
        b->ctx = NULL;
    }
    take(&b->cur, out, outlen);
}

void mcp_batch_close_nowait(mcp_batch *b, const mcp_group_fns *g)
{
    mcp_batch_out t;
    grove_err err = GROVE_ERR_INIT;

    if (!b->ctx || b->has_pending)
        return;
    b->pending_ctx = NULL;
    if (!g->commit_nowait || !g->synced) {
        if (g->commit(b->ctx, &err) != 0) {
            log_error("group commit of %zu calls failed: %s", b->calls, err.msg);
            replace_answers(&b->cur, err.msg);
        }
    } else if (g->commit_nowait(b->ctx, &err) != 0) {
        log_error("group commit of %zu calls failed: %s", b->calls, err.msg);
        replace_answers(&b->cur, err.msg);
    } else {
        b->pending_ctx = b->ctx;
    }
    b->ctx = NULL;
    /* the group's messages become the pending ones; the (empty) pending buffers are reused */
    t = b->pending;
    b->pending = b->cur;
    b->cur = t;
    b->has_pending = 1;
}

void mcp_batch_take_pending(mcp_batch *b, const mcp_group_fns *g, const char **out, size_t *outlen)
{
    *out = "";
    *outlen = 0;
    if (!b->has_pending)
        return;
    if (b->pending_ctx) {
        grove_err err = GROVE_ERR_INIT;

        if (g->synced(b->pending_ctx, &err) != 0) {
            log_error("the fsync of a group commit failed: %s", err.msg);
            replace_answers(&b->pending, err.msg);
        }
        b->pending_ctx = NULL;
    }
    b->has_pending = 0;
    take(&b->pending, out, outlen);
}

static void out_free(mcp_batch_out *o)
{
    size_t i;

    for (i = 0; i < o->nmsgs; i++)
        json_decref(o->msgs[i].id);
    free(o->msgs);
    free(o->buf);
}

void mcp_batch_free(mcp_batch *b)
{
    out_free(&b->cur);
    out_free(&b->pending);
    memset(b, 0, sizeof(*b));
}
