/* overview: one row per instance for `grove watch`. See overview.h for the contract. */
#include "tools/core/overview.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/agents/agent.h"
#include "tools/base/buf.h"
#include "tools/core/conflicts.h"
#include "tools/core/instance.h"
#include "tools/git/git.h"

#define GIT_EVERY_S       5.0
#define GIT_IDLE_EVERY_S  30.0
#define GIT_CPU_MS_PER_S  20.0
#define CONFLICTS_EVERY_S 5.0

/* What the cache keeps of one instance. */
typedef struct cache_entry {
    char *id;             /* owned */
    int seen;             /* in the last refresh's rows */
    char branch_head[41]; /* its branch head when its git state was taken ("" unknown) */
    char *state;          /* owned: agent state and since, "state@since", at that time */
    int git_known;        /* the fields below hold a git state */
    char head[41];        /* worktree HEAD */
    size_t ahead, behind, ndirty;
    double git_at;         /* when taken (seconds since the epoch); 0: never */
    int conflicts_known;   /* the conflicts computation covered it */
    size_t conflicts_with; /* instances its branch conflicts with */
    size_t conflicts_base; /* files in conflict with its base branch's head */
} cache_entry;

struct overview_cache {
    cache_entry *v; /* owned */
    size_t n, cap;
    char *fingerprint;   /* owned: every branch and base branch head the conflicts were taken at */
    double status_ms;    /* CPU milliseconds one git state takes (a moving average); 0: unknown */
    double conflicts_at; /* when (seconds since the epoch); 0: never */
};

overview_cache *overview_cache_new(void)
{
    return calloc(1, sizeof(overview_cache));
}

static void entry_free(cache_entry *e)
{
    free(e->id);
    free(e->state);
    memset(e, 0, sizeof(*e));
}

void overview_cache_free(overview_cache *c)
{
    size_t i;

    if (!c)
        return;
    for (i = 0; i < c->n; i++)
        entry_free(&c->v[i]);
    free(c->v);
    free(c->fingerprint);
    free(c);
}

void overview_free(overview *ov)
{
    size_t i;

    if (!ov)
        return;
    for (i = 0; i < ov->n; i++) {
        db_instance_free(&ov->v[i].inst);
        db_checkpoint_free(&ov->v[i].checkpoint);
    }
    free(ov->v);
    memset(ov, 0, sizeof(*ov));
}

/* "YYYY-MM-DDTHH:MM:SS[.sss]Z" as seconds since the epoch; -1 when it is not one. */
static double iso_seconds(const char *s)
{
    struct tm tm;
    double sec = 0;
    int n = 0;

    if (!s)
        return -1;
    memset(&tm, 0, sizeof(tm));
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%lf%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &sec, &n) != 6 ||
        s[n] != 'Z' || sec < 0 || sec >= 61)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_sec = (int)sec;
    return (double)timegm(&tm) + (sec - floor(sec));
}

static overview_rank rank_of(const grove_instance *inst, const char *state)
{
    if (!inst->status || strcmp(inst->status, "running") != 0)
        return OVERVIEW_DONE;
    if (strcmp(state, "waiting") == 0)
        return OVERVIEW_WAITING;
    if (strcmp(state, "working") == 0 || strcmp(state, "starting") == 0)
        return OVERVIEW_WORKING;
    if (strcmp(state, "idle") == 0)
        return OVERVIEW_IDLE;
    return OVERVIEW_DONE;
}

/* Display order: rank; within one, the longest in its state first; then oldest instance first. */
static int row_cmp(const void *pa, const void *pb)
{
    const overview_row *a = pa, *b = pb;
    int c;

    if (a->rank != b->rank)
        return a->rank < b->rank ? -1 : 1;
    if ((a->inst.status && strcmp(a->inst.status, "running") == 0) !=
        (b->inst.status && strcmp(b->inst.status, "running") == 0))
        return a->inst.status && strcmp(a->inst.status, "running") == 0 ? -1 : 1;
    if (a->state_secs != b->state_secs)
        return a->state_secs > b->state_secs ? -1 : 1;
    c = strcmp(a->inst.created_at ? a->inst.created_at : "",
               b->inst.created_at ? b->inst.created_at : "");
    return c ? c : strcmp(a->inst.id ? a->inst.id : "", b->inst.id ? b->inst.id : "");
}

/* The cache entry of `id`, made when missing; NULL when memory ran out. */
static cache_entry *entry_get(overview_cache *c, const char *id)
{
    size_t i;

    for (i = 0; i < c->n; i++)
        if (strcmp(c->v[i].id, id) == 0)
            return &c->v[i];
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        cache_entry *v = realloc(c->v, cap * sizeof(*v));

        if (!v)
            return NULL;
        c->v = v;
        c->cap = cap;
    }
    memset(&c->v[c->n], 0, sizeof(c->v[c->n]));
    if (!(c->v[c->n].id = strdup(id)))
        return NULL;
    return &c->v[c->n++];
}

/* Drops the entries of instances the last refresh did not list. */
static void cache_sweep(overview_cache *c)
{
    size_t i, k = 0;

    for (i = 0; i < c->n; i++) {
        if (c->v[i].seen)
            c->v[k++] = c->v[i];
        else
            entry_free(&c->v[i]);
    }
    c->n = k;
}

/* Appends a warning to ov->warning ("; " between them), made one line. */
static void warn(overview *ov, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(overview *ov, const char *fmt, ...)
{
    size_t len = strlen(ov->warning);
    char one[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(one, sizeof(one), fmt, ap);
    va_end(ap);
    grove_one_line(one);
    if (len + 3 < sizeof(ov->warning))
        snprintf(ov->warning + len, sizeof(ov->warning) - len, "%s%s", len ? "; " : "", one);
}

/* CPU time this thread has used, in milliseconds. */
static double cpu_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* Takes the git state of row r's worktree into e; c learns what one costs. */
static void git_take(overview *ov, overview_cache *c, overview_row *r, cache_entry *e,
                     const char *branch_head, const char *state, double now)
{
    gitops_state st = {0};
    grove_err gerr = GROVE_ERR_INIT;
    char *s = strdup(state);
    double t0 = cpu_ms(), took;
    int rc;

    free(e->state);
    e->state = s; /* NULL when memory ran out: the next refresh takes it again */
    snprintf(e->branch_head, sizeof(e->branch_head), "%s", branch_head);
    e->git_at = now;
    e->git_known = 0;
    if (!r->inst.worktree_path)
        return;
    rc = gitops_worktree_state(r->inst.worktree_path, r->inst.base_commit, &st, &gerr);
    took = cpu_ms() - t0;
    c->status_ms = c->status_ms > 0 ? 0.8 * c->status_ms + 0.2 * took : took;
    if (rc != 0) {
        if (gerr.code != GROVE_ENOTFOUND)
            warn(ov, "'%s': %s", r->inst.id, gerr.msg);
        return;
    }
    e->git_known = 1;
    snprintf(e->head, sizeof(e->head), "%s", st.head);
    e->ahead = st.ahead;
    e->behind = st.behind;
    e->ndirty = st.ndirty;
    gitops_state_free(&st);
}

/* A worktree whose git state is merely old, waiting for its turn. */
typedef struct due {
    size_t row;
    double at; /* when it was due */
} due;

static int due_cmp(const void *pa, const void *pb)
{
    const due *a = pa, *b = pb;

    return a->at < b->at ? -1 : a->at > b->at;
}

/* How often row r's git state is taken when nothing moved: its agent edits files or not. */
static double git_every(const overview_opts *o, const overview_row *r)
{
    if (r->rank == OVERVIEW_WORKING)
        return o->git_every_s > 0 ? o->git_every_s : GIT_EVERY_S;
    return o->git_idle_every_s > 0 ? o->git_idle_every_s : GIT_IDLE_EVERY_S;
}

/*
 * The git states: taken again for a new entry, a moved branch head or agent
 * state; the ones merely due, the most overdue first, at most as many as
 * one tick's share of them all, and as fit in one tick's share of
 * git_cpu_ms_per_s (at least one; every one when o->tick_s is 0).
 */
static int refresh_git(overview *ov, overview_cache *c, const overview_opts *o, double now,
                       char (*heads)[41], grove_err *err)
{
    due *old = calloc(ov->n ? ov->n : 1, sizeof(*old));
    double rate = 0; /* git states a second, with everything on time */
    size_t i, nold = 0, budget = 0;

    if (!old)
        return grove_nomem(err);
    for (i = 0; i < ov->n; i++) {
        overview_row *r = &ov->v[i];
        cache_entry *e = entry_get(c, r->inst.id);
        double every = git_every(o, r);
        char state[96];

        if (!e) {
            free(old);
            return grove_nomem(err);
        }
        e->seen = 1;
        rate += 1.0 / every;
        snprintf(state, sizeof(state), "%s@%s", r->state,
                 r->inst.agent_state_since ? r->inst.agent_state_since : "");
        if (!e->git_at || !e->state || strcmp(e->state, state) != 0 ||
            strcmp(e->branch_head, heads[i]) != 0 || now < e->git_at)
            git_take(ov, c, r, e, heads[i], state, now);
        else if (now - e->git_at >= every)
            old[nold++] = (due){i, e->git_at + every};
    }
    if (o->tick_s > 0) {
        double cpu = o->git_cpu_ms_per_s > 0 ? o->git_cpu_ms_per_s : GIT_CPU_MS_PER_S;

        budget = (size_t)ceil(rate * o->tick_s - 1e-9);
        /* No more CPU than that a second on them: with many or large worktrees, later. */
        if (c->status_ms > 0 && (double)budget * c->status_ms > cpu * o->tick_s)
            budget = (size_t)(cpu * o->tick_s / c->status_ms);
        if (budget < 1)
            budget = 1;
    }
    qsort(old, nold, sizeof(*old), due_cmp);
    for (i = 0; i < nold && (!budget || i < budget); i++) {
        overview_row *r = &ov->v[old[i].row];
        cache_entry *e = entry_get(c, r->inst.id);
        char state[96];

        snprintf(state, sizeof(state), "%s@%s", r->state,
                 r->inst.agent_state_since ? r->inst.agent_state_since : "");
        if (e)
            git_take(ov, c, r, e, heads[old[i].row], state, now);
    }
    free(old);
    return 0;
}

/*
 * What the conflicts depend on: every running instance's branch head and
 * every base branch's head. Malloc'd; NULL when memory ran out.
 */
static char *fingerprint(grove_ctx *ctx, const overview *ov, char (*heads)[41])
{
    grove_buf b = BUF_INIT((size_t)-1);
    size_t i, k;

    for (i = 0; i < ov->n; i++) {
        const grove_instance *inst = &ov->v[i].inst;
        char base[41] = "";
        grove_err gerr = GROVE_ERR_INIT;
        int seen = 0;

        if (!inst->status || strcmp(inst->status, "running") != 0)
            continue;
        if (buf_printf(&b, "%s=%s;", inst->id, heads[i]) < 0)
            goto oom;
        for (k = 0; k < i && !seen; k++)
            seen = ov->v[k].inst.base_branch && inst->base_branch &&
                   strcmp(ov->v[k].inst.base_branch, inst->base_branch) == 0;
        if (seen || !inst->base_branch)
            continue;
        if (gitops_resolve_branch(ctx->repo, inst->base_branch, base, &gerr) != 0)
            base[0] = '\0';
        if (buf_printf(&b, "base %s=%s;", inst->base_branch, base) < 0)
            goto oom;
    }
    return b.data ? buf_take(&b) : strdup("");
oom:
    buf_free(&b);
    return NULL;
}

/* The conflicts of the running instances, taken again when what they depend on moved. */
static int refresh_conflicts(overview *ov, overview_cache *c, grove_ctx *ctx,
                             const overview_opts *o, double now, char (*heads)[41], grove_err *err)
{
    double every = o->conflicts_every_s > 0 ? o->conflicts_every_s : CONFLICTS_EVERY_S;
    conflicts_report rep = {0};
    grove_err gerr = GROVE_ERR_INIT;
    char *fp = fingerprint(ctx, ov, heads);
    size_t i, k;

    if (!fp)
        return grove_nomem(err);
    if (c->conflicts_at && c->fingerprint && strcmp(fp, c->fingerprint) == 0) {
        free(fp); /* nothing they depend on moved */
        return 0;
    }
    if (c->conflicts_at && now >= c->conflicts_at && now - c->conflicts_at < every) {
        free(fp); /* moved, but taken not long ago: next time */
        return 0;
    }
    free(c->fingerprint);
    c->fingerprint = fp;
    c->conflicts_at = now;
    for (i = 0; i < c->n; i++)
        c->v[i].conflicts_known = 0;
    if (conflicts_check(ctx, NULL, &rep, &gerr) != 0) {
        warn(ov, "no conflicts: %s", gerr.msg);
        conflicts_report_free(&rep);
        return 0;
    }
    for (i = 0; i < rep.running.n; i++) {
        const char *id = rep.running.v[i].id;
        cache_entry *e = entry_get(c, id);
        int gone = 0;

        if (!e) {
            conflicts_report_free(&rep);
            return grove_nomem(err);
        }
        e->seen = 1;
        e->conflicts_with = e->conflicts_base = 0;
        for (k = 0; k < rep.nskipped; k++)
            gone |= rep.skipped[k].branch_gone && strcmp(rep.skipped[k].instance_id, id) == 0;
        e->conflicts_known = !gone;
        for (k = 0; k < rep.npairs; k++)
            if (rep.pairs[k].conflicting.n &&
                (strcmp(rep.pairs[k].a, id) == 0 || strcmp(rep.pairs[k].b, id) == 0))
                e->conflicts_with++;
        for (k = 0; k < rep.nbases; k++)
            if (strcmp(rep.bases[k].instance_id, id) == 0)
                e->conflicts_base = rep.bases[k].conflicting.n;
    }
    conflicts_report_free(&rep);
    return 0;
}

int overview_refresh(grove_ctx *ctx, overview_cache *cache, const overview_opts *o, overview *out,
                     grove_err *err)
{
    static const overview_opts none = {0};
    grove_instance_list list = {0};
    grove_err rerr = GROVE_ERR_INIT;
    overview_cache *own = NULL;
    char(*heads)[41] = NULL;
    struct timespec ts;
    double now;
    size_t i;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (!o)
        o = &none;
    if (o->now > 0) {
        now = o->now;
    } else {
        clock_gettime(CLOCK_REALTIME, &ts);
        now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    }
    out->now = now;
    out->conflicts_age_s = -1;
    if (!cache && !(cache = own = overview_cache_new()))
        return grove_nomem(err);
    if (instance_reconcile_all(ctx, NULL, &rerr) != 0)
        warn(out, "liveness not checked: %s", rerr.msg);
    if (instance_list_all(ctx, o->all ? NULL : "running", &list, err) != 0)
        goto done;
    /* The rows move into out. */
    out->v = calloc(list.n ? list.n : 1, sizeof(*out->v));
    heads = calloc(list.n ? list.n : 1, sizeof(*heads));
    if (!out->v || !heads) {
        grove_nomem(err);
        goto done;
    }
    for (i = 0; i < list.n; i++) {
        overview_row *r = &out->v[out->n++];
        double since;
        int found = 0;

        r->inst = list.v[i];
        memset(&list.v[i], 0, sizeof(list.v[i]));
        r->state = r->inst.agent_state ? r->inst.agent_state : "none";
        r->rank = rank_of(&r->inst, r->state);
        since = iso_seconds(r->inst.agent_state_since);
        r->state_secs = since < 0 ? -1 : now > since ? (long long)(now - since) : 0;
        if (db_checkpoint_get(ctx->db, r->inst.id, NULL, &r->checkpoint, &found, err) != 0)
            goto done;
        r->checkpoint_known = found;
        since = found ? iso_seconds(r->checkpoint.created_at) : -1;
        r->checkpoint_secs = since < 0 ? -1 : now > since ? (long long)(now - since) : 0;
        /* Cheap (one reference read): whether the branch moved since its git state was taken. */
        if (r->inst.branch_name) {
            grove_err gerr = GROVE_ERR_INIT;

            if (gitops_branch_head(ctx->repo, r->inst.branch_name, heads[i], &gerr) != 0)
                heads[i][0] = '\0';
        }
    }
    for (i = 0; i < cache->n; i++)
        cache->v[i].seen = 0;
    if (refresh_git(out, cache, o, now, heads, err) != 0 ||
        refresh_conflicts(out, cache, ctx, o, now, heads, err) != 0)
        goto done;
    cache_sweep(cache);
    for (i = 0; i < out->n; i++) {
        overview_row *r = &out->v[i];
        cache_entry *e = entry_get(cache, r->inst.id);

        if (!e) {
            grove_nomem(err);
            goto done;
        }
        e->seen = 1;
        r->git_known = e->git_known;
        snprintf(r->head, sizeof(r->head), "%s", e->head);
        r->ahead = e->ahead;
        r->behind = e->behind;
        r->ndirty = e->ndirty;
        r->git_age_s = now > e->git_at ? now - e->git_at : 0;
        r->conflicts_known =
            e->conflicts_known && r->inst.status && strcmp(r->inst.status, "running") == 0;
        r->conflicts_with = e->conflicts_with;
        r->conflicts_base = e->conflicts_base;
    }
    if (cache->conflicts_at)
        out->conflicts_age_s = now > cache->conflicts_at ? now - cache->conflicts_at : 0;
    qsort(out->v, out->n, sizeof(*out->v), row_cmp); /* state points into the heap: still valid */
    rc = 0;
done:
    free(heads);
    db_instance_list_free(&list);
    overview_cache_free(own);
    return rc;
}

int overview_attach(grove_ctx *ctx, const char *id, int *exit_status, grove_err *err)
{
    grove_instance inst = {0};
    agent_ref ref;
    int rc = -1;

    *exit_status = 0;
    if (instance_load(ctx, id, &inst, err) != 0)
        goto done;
    if (!inst.session_name || !*inst.session_name) {
        grove_fail(err, GROVE_ENOTFOUND, "instance '%s' has no tmux session (its agent %s)", id,
                   inst.pid > 0 ? "runs without tmux" : "was never started");
        goto done;
    }
    if (instance_agent_ref(ctx, &inst, &ref, err) != 0)
        goto done;
    if (agent_attach(&ref, exit_status, err) != 0) {
        if (err && err->code == GROVE_ENOTFOUND && inst.status && strcmp(inst.status, "running"))
            grove_fail(err, GROVE_ENOTFOUND,
                       "instance '%s' is terminated: its tmux session '%s' is gone", id,
                       inst.session_name);
        goto done;
    }
    rc = 0;
done:
    db_instance_free(&inst);
    return rc;
}
