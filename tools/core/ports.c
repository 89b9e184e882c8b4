/* ports: a block of ports for each instance (see ports.h). */
#include "tools/core/ports.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db/queries.h"

#define RANGE_DEFAULT "20000-29999"
#define PER_DEFAULT   10
#define PER_MAX       1000

/* A whole decimal number in [lo, hi] from s[0..len); 0, or -1. */
static int parse_num(const char *s, size_t len, long long lo, long long hi, long long *out)
{
    char buf[16], *end;
    long long v;

    if (len == 0 || len >= sizeof(buf) || s[0] < '0' || s[0] > '9')
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    v = strtoll(buf, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

typedef struct ports_config {
    long long lo, hi, per;
} ports_config;

/* ports.range and ports.per_instance, checked. */
static int config_read(grove_ctx *ctx, ports_config *c, grove_err *err)
{
    char *range = ctx_setting(ctx, NULL, "ports.range");      /* owned: freed below */
    char *per = ctx_setting(ctx, NULL, "ports.per_instance"); /* owned: freed below */
    const char *r = range ? range : RANGE_DEFAULT;
    const char *dash = strchr(r, '-');
    int rc = -1;

    c->per = PER_DEFAULT;
    if (!dash || parse_num(r, (size_t)(dash - r), 1, 65535, &c->lo) != 0 ||
        parse_num(dash + 1, strlen(dash + 1), 1, 65535, &c->hi) != 0 || c->hi < c->lo) {
        grove_fail(err, GROVE_EINVAL,
                   "config ports.range '%s' is not a range of ports like '20000-29999' (two "
                   "numbers from 1 to 65535, the first not above the second): grove config set "
                   "ports.range 20000-29999",
                   r);
        goto done;
    }
    if (per && parse_num(per, strlen(per), 1, PER_MAX, &c->per) != 0) {
        grove_fail(err, GROVE_EINVAL,
                   "config ports.per_instance '%s' is not a number from 1 to %d: grove config set "
                   "ports.per_instance 10",
                   per, PER_MAX);
        goto done;
    }
    if (c->per > c->hi - c->lo + 1) {
        grove_fail(err, GROVE_EINVAL,
                   "config ports.range '%s' holds %lld ports, fewer than ports.per_instance "
                   "(%lld): widen the range or lower ports.per_instance",
                   r, c->hi - c->lo + 1, c->per);
        goto done;
    }
    rc = 0;
done:
    free(range);
    free(per);
    return rc;
}

typedef struct reserve_arg {
    grove_ctx *ctx;
    const char *id;
    ports_config c;
    long long first; /* out */
} reserve_arg;

/*
 * Whether block b is held: its instance runs, or it has no row yet and its
 * worktree folder exists (a creation under way; one that died leaves a
 * folder that `grove gc` removes, and the block is free after that).
 */
static int held(const reserve_arg *a, const grove_port_block *b)
{
    char path[4096];
    struct stat sb;

    if (b->status)
        return strcmp(b->status, "running") == 0;
    if (snprintf(path, sizeof(path), "%s/%s", a->ctx->worktrees_base, b->instance_id) >=
        (int)sizeof(path))
        return 1;
    return lstat(path, &sb) == 0;
}

/* db_txn body: read the blocks, free the stale ones, record the lowest free block. */
static int reserve_fn(grove_db *db, void *arg, grove_err *err)
{
    reserve_arg *a = arg;
    grove_port_block_list list = {0};
    unsigned char *keep = NULL; /* owned: freed below */
    long long cand;
    size_t i, nheld = 0;
    int rc = -1;

    if (db_port_blocks(db, &list, err) != 0)
        return -1;
    if (!(keep = calloc(list.n ? list.n : 1, 1))) {
        grove_nomem(err);
        goto done;
    }
    for (i = 0; i < list.n; i++) {
        if (strcmp(list.v[i].instance_id, a->id) != 0 && held(a, &list.v[i])) {
            keep[i] = 1;
            nheld++;
        } else if (db_port_block_delete(db, list.v[i].instance_id, err) != 0) {
            goto done;
        }
    }
    for (cand = a->c.lo; cand + a->c.per - 1 <= a->c.hi; cand += a->c.per) {
        int clash = 0;

        for (i = 0; i < list.n && !clash; i++)
            clash = keep[i] && cand <= list.v[i].first + list.v[i].count - 1 &&
                    list.v[i].first <= cand + a->c.per - 1;
        if (!clash)
            break;
    }
    if (cand + a->c.per - 1 > a->c.hi) {
        grove_fail(err, GROVE_ECONFLICT,
                   "no free block of %lld ports in ports.range %lld-%lld: %zu running instances "
                   "hold ports there; terminate some (terminate_instance) or widen the range "
                   "(grove config set ports.range LOW-HIGH)",
                   a->c.per, a->c.lo, a->c.hi, nheld);
        goto done;
    }
    if (db_port_block_set(db, a->id, cand, a->c.per, err) != 0)
        goto done;
    a->first = cand;
    rc = 0;
done:
    free(keep);
    db_port_block_list_free(&list);
    return rc;
}

int ports_reserve(grove_ctx *ctx, const char *id, ports_block *out, grove_err *err)
{
    reserve_arg a = {ctx, id, {0, 0, 0}, 0};

    memset(out, 0, sizeof(*out));
    if (config_read(ctx, &a.c, err) != 0 || db_txn(ctx->db, reserve_fn, &a, err) != 0)
        return -1;
    out->first = a.first;
    out->count = a.c.per;
    return 0;
}

int ports_config_check(grove_ctx *ctx, grove_err *err)
{
    ports_config c;

    return config_read(ctx, &c, err);
}

void ports_release(grove_ctx *ctx, const char *id)
{
    grove_err err = GROVE_ERR_INIT;

    if (db_port_block_delete(ctx->db, id, &err) != 0)
        log_warn("instance '%s': could not give its ports back: %s", id, err.msg);
}

void ports_env(const ports_block *b, char port[32], char ports[48])
{
    snprintf(port, 32, "GROVE_PORT=%lld", b->first);
    snprintf(ports, 48, "GROVE_PORTS=%lld-%lld", b->first, b->first + b->count - 1);
}
