/* wire: typed results as the contract's JSON (see tools/wire.h). */
#include "tools/wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

json_t *wire_str(const char *s)
{
    json_t *j;
    char *copy;

    if (!s)
        return json_null();
    if ((j = json_string(s)) != NULL)
        return j;
    copy = strdup(s); /* not valid UTF-8: owned here */
    if (!copy)
        return NULL;
    grove_utf8_sanitize(copy);
    j = json_string(copy);
    free(copy);
    return j;
}

/* An integer, or null when v is 0 (SQL NULL in db/'s structs). */
static json_t *int_or_null(long long v)
{
    return v ? json_integer((json_int_t)v) : json_null();
}

/* JSON text of a stored object column, parsed; null when NULL or not an object. */
static json_t *object_or_null(const char *text)
{
    json_t *j;

    if (!text)
        return json_null();
    j = json_loads(text, JSON_DECODE_ANY, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return json_null();
    }
    return j;
}

/* Sets key to v (stolen); returns nonzero when v is NULL or the set failed. */
static int put(json_t *o, const char *key, json_t *v)
{
    return json_object_set_new(o, key, v) != 0;
}

json_t *wire_instance(const grove_instance *inst)
{
    json_t *o = json_object(), *issue;
    int bad = 0;

    if (!o)
        return NULL;
    issue = inst->issue_number ? json_integer((json_int_t)inst->issue_number)
                               : wire_str(inst->beads_id);
    bad |= put(o, "id", wire_str(inst->id));
    bad |= put(o, "type", wire_str(inst->type));
    bad |= put(o, "status", wire_str(inst->status));
    bad |= put(o, "worktree_path", wire_str(inst->worktree_path));
    bad |= put(o, "branch_name", wire_str(inst->branch_name));
    bad |= put(o, "base_branch", wire_str(inst->base_branch));
    bad |= put(o, "base_commit", wire_str(inst->base_commit));
    bad |= put(o, "issue", issue);
    bad |= put(o, "parent_id", wire_str(inst->parent_id));
    bad |= put(o, "session_name", wire_str(inst->session_name));
    bad |= put(o, "pid", int_or_null(inst->pid));
    bad |= put(o, "pr_number", int_or_null(inst->pr_number));
    bad |= put(o, "pr_url", wire_str(inst->pr_url));
    bad |= put(o, "prompt", wire_str(inst->prompt));
    bad |= put(o, "created_at", wire_str(inst->created_at));
    bad |= put(o, "terminated_at", wire_str(inst->terminated_at));
    bad |= put(o, "ports",
               inst->port_count > 0 ? json_pack("{s:I, s:I}", "first", (json_int_t)inst->port_first,
                                                "count", (json_int_t)inst->port_count)
                                    : json_null());
    bad |= put(o, "landed_commit", wire_str(inst->landed_commit));
    bad |= put(o, "landed_at", wire_str(inst->landed_at));
    bad |= put(o, "agent_profile", wire_str(inst->agent_profile));
    bad |= put(o, "agent_state", wire_str(inst->agent_state ? inst->agent_state : "none"));
    bad |= put(o, "agent_state_since", wire_str(inst->agent_state_since));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* An array of fn(item) for the n items of size bytes at v; NULL when memory ran out. */
static json_t *array_of(const void *v, size_t n, size_t size, json_t *(*fn)(const void *item))
{
    json_t *arr = json_array();
    size_t i;

    for (i = 0; arr && i < n; i++) {
        if (json_array_append_new(arr, fn((const char *)v + i * size)) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static json_t *instance_item(const void *item)
{
    return wire_instance(item);
}

json_t *wire_instances(const grove_instance *v, size_t n)
{
    return array_of(v, n, sizeof(*v), instance_item);
}

json_t *wire_checkpoint(const grove_checkpoint *cp)
{
    return wire_checkpoint_data(cp, NULL);
}

json_t *wire_checkpoint_data(const grove_checkpoint *cp, json_t *data)
{
    json_t *o = json_object();
    int bad = 0;

    if (!o)
        return NULL;
    bad |= put(o, "id", json_integer((json_int_t)cp->id));
    bad |= put(o, "instance_id", wire_str(cp->instance_id));
    bad |= put(o, "phase", wire_str(cp->phase));
    bad |= put(o, "name", wire_str(cp->name));
    bad |= put(o, "status", wire_str(cp->status));
    bad |= put(o, "data", json_is_object(data) ? json_incref(data) : object_or_null(cp->data_json));
    bad |= put(o, "message", wire_str(cp->message));
    bad |= put(o, "commit_sha", wire_str(cp->commit_sha));
    bad |= put(o, "sequence", json_integer((json_int_t)cp->sequence));
    bad |= put(o, "created_at", wire_str(cp->created_at));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* o, or NULL (o freed) when filling it failed. */
static json_t *filled(json_t *o, int bad)
{
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *relationship_item(const void *item)
{
    const grove_relationship *r = item;
    json_t *o = json_object();
    int bad = !o;

    bad = bad || put(o, "id", json_integer((json_int_t)r->id));
    bad = bad || put(o, "parent_instance", wire_str(r->parent_instance));
    bad = bad || put(o, "child_instance", wire_str(r->child_instance));
    bad = bad || put(o, "relationship_type", wire_str(r->relationship_type));
    bad = bad || put(o, "created_at", wire_str(r->created_at));
    return filled(o, bad);
}

json_t *wire_relationships(const grove_relationship_list *list)
{
    return array_of(list->v, list->n, sizeof(*list->v), relationship_item);
}

static json_t *event_item(const void *item)
{
    const grove_event *e = item;
    json_t *o = json_object();
    int bad = !o;

    bad = bad || put(o, "id", json_integer((json_int_t)e->id));
    bad = bad || put(o, "instance_id", wire_str(e->instance_id));
    bad = bad || put(o, "tool_name", wire_str(e->tool_name));
    bad = bad || put(o, "success", json_boolean(e->success));
    bad = bad || put(o, "error_message", wire_str(e->error_message));
    bad = bad || put(o, "metadata", object_or_null(e->metadata_json));
    bad = bad || put(o, "duration_ms", json_real(e->duration_ms));
    bad = bad || put(o, "timestamp", wire_str(e->timestamp));
    return filled(o, bad);
}

json_t *wire_events(const grove_event_list *list)
{
    return array_of(list->v, list->n, sizeof(*list->v), event_item);
}

/* What v (consumed) takes in a page: its compact JSON and a comma; SIZE_MAX when NULL. */
static size_t page_size(json_t *v)
{
    size_t n = v ? json_dumpb(v, NULL, 0, JSON_COMPACT) : 0;

    json_decref(v);
    return n ? n + 1 : SIZE_MAX;
}

size_t wire_instance_size(const grove_instance *inst, void *unused)
{
    (void)unused;
    return page_size(wire_instance(inst));
}

size_t wire_event_size(const grove_event *e, void *unused)
{
    (void)unused;
    return page_size(event_item(e));
}

/*
 * Upper bounds of the sizes above, without making any JSON. A string takes
 * at most 6 bytes a byte ("\u001f") and its quotes; a stored JSON text
 * re-serialised at most 8 bytes a byte (a real such as 0.1 comes back as
 * 0.10000000000000001, 6.3 times as long; whitespace and escapes only
 * shrink); the keys, punctuation, numbers and nulls of an item fit in
 * WIRE_*_FIXED with room to spare.
 */
#define WIRE_INSTANCE_FIXED 1024
#define WIRE_EVENT_FIXED    512

static size_t str_bound(const char *s)
{
    return s ? 6 * strlen(s) + 2 : 0;
}

size_t wire_instance_size_bound(const grove_instance *inst, void *unused)
{
    const char *const s[] = {inst->id,
                             inst->type,
                             inst->status,
                             inst->worktree_path,
                             inst->branch_name,
                             inst->base_branch,
                             inst->base_commit,
                             inst->beads_id,
                             inst->parent_id,
                             inst->session_name,
                             inst->pr_url,
                             inst->prompt,
                             inst->created_at,
                             inst->terminated_at,
                             inst->landed_commit,
                             inst->landed_at,
                             inst->agent_profile,
                             inst->agent_state,
                             inst->agent_state_since};
    size_t i, n = WIRE_INSTANCE_FIXED;

    (void)unused;
    for (i = 0; i < sizeof(s) / sizeof(*s); i++)
        n += str_bound(s[i]);
    return n;
}

size_t wire_event_size_bound(const grove_event *e, void *unused)
{
    (void)unused;
    return WIRE_EVENT_FIXED + str_bound(e->instance_id) + str_bound(e->tool_name) +
           str_bound(e->error_message) + str_bound(e->timestamp) +
           (e->metadata_json ? 8 * strlen(e->metadata_json) : 0);
}

json_t *wire_setup(const instance_setup *setup)
{
    if (!setup->ran)
        return json_null();
    if (setup->error)
        return json_pack("{s:s, s:n, s:s?, s:s}", "status", "failed", "exit_code", "log",
                         setup->log, "error", setup->error);
    return json_pack("{s:s, s:i, s:s?}", "status", setup->exit_code == 0 ? "ok" : "failed",
                     "exit_code", setup->exit_code, "log", setup->log);
}

json_t *wire_created(const instance_created *c)
{
    json_t *o = json_pack("{s:o}", "instance", wire_instance(&c->instance));

    if (o && c->setup.ran && json_object_set_new(o, "setup", wire_setup(&c->setup)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *wire_git_state(const gitops_state *st)
{
    json_t *files = json_array(), *obj;
    size_t i;

    for (i = 0; files && i < st->ndirty; i++)
        if (json_array_append_new(files, wire_str(st->dirty_files[i])) != 0) {
            json_decref(files);
            return NULL;
        }
    if (!files)
        return NULL;
    obj = json_pack("{s:s, s:I, s:I, s:o}", "head", st->head, "ahead", (json_int_t)st->ahead,
                    "behind", (json_int_t)st->behind, "dirty_files", files);
    return obj;
}

/* 1 when the n bytes of s are all ASCII (below 0x80), 8 at a time. */
static int all_ascii(const char *s, size_t n)
{
    uint64_t w, any = 0;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        memcpy(&w, s + i, sizeof(w));
        any |= w;
    }
    for (; i < n; i++)
        any |= (unsigned char)s[i];
    return (any & 0x8080808080808080u) == 0;
}

/* n bytes of s (NUL bytes allowed) as a JSON string; bytes that are not UTF-8 become '?'. */
static json_t *wire_strn(const char *s, size_t n)
{
    /* ASCII is UTF-8: jansson's own check (a patch is most of a get_diff result) is left out */
    json_t *j = all_ascii(s, n) ? json_stringn_nocheck(s, n) : json_stringn(s, n);
    char *copy;
    size_t at;

    if (j)
        return j;
    if (!(copy = malloc(n + 1))) /* owned here */
        return NULL;
    memcpy(copy, s, n);
    copy[n] = '\0';
    for (at = 0; at < n; at += strlen(copy + at) + 1) /* each NUL-free run */
        grove_utf8_sanitize(copy + at);
    j = json_stringn(copy, n);
    free(copy);
    return j;
}

json_t *wire_diff(const gitops_diff *d, int uncommitted)
{
    json_t *files = json_array(), *obj = NULL;
    size_t i;

    for (i = 0; files && i < d->nfiles; i++) {
        const gitops_diff_file *f = &d->files[i];

        if (json_array_append_new(files,
                                  json_pack("{s:o, s:o, s:s, s:I, s:I, s:b}", "path",
                                            wire_str(f->path), "old_path", wire_str(f->old_path),
                                            "status", gitops_diff_status_name(f->status),
                                            "insertions", (json_int_t)f->insertions, "deletions",
                                            (json_int_t)f->deletions, "binary", f->binary)) != 0) {
            json_decref(files);
            return NULL;
        }
    }
    if (!files)
        return NULL;
    obj = json_pack("{s:s, s:s, s:s, s:b, s:o, s:{s:I, s:I, s:I}, s:o, s:b}", "from_commit",
                    d->against, "to_commit", d->head, "merge_base", d->merge_base,
                    "uncommitted_included", uncommitted, "files", files, "stat", "files_changed",
                    (json_int_t)d->stat.files_changed, "insertions", (json_int_t)d->stat.insertions,
                    "deletions", (json_int_t)d->stat.deletions, "patch",
                    wire_strn(d->patch ? d->patch : "", d->patch_len), "truncated", d->truncated);
    return obj;
}

json_t *wire_stats(const db_stats_report *r, const char *since)
{
    char *window = since ? grove_asprintf("since %s", since) : strdup("last 24 hours");
    json_t *o = json_pack(
        "{s:o, s:{s:I, s:I, s:I, s:O}, s:O, s:{s:s?, s:I, s:O}, s:{s:f, s:O},"
        " s:{s:I, s:I, s:f, s:I, s:O}, s:{s:I, s:O}, s:O}",
        "since", wire_str(since), "instances", "total", (json_int_t)(r->running + r->terminated),
        "running", (json_int_t)r->running, "terminated", (json_int_t)r->terminated, "by_type",
        r->by_type, "tools", r->tools, "recent_failures", "window", window, "total",
        (json_int_t)r->failures_total, "rows", r->failures, "stale_checkpoints", "threshold_hours",
        r->stale_hours, "rows", r->stale, "reviews", "work_instances", (json_int_t)r->review_works,
        "reviews", (json_int_t)r->review_count, "average",
        r->review_works ? (double)r->review_count / (double)r->review_works : 0.0, "max",
        (json_int_t)r->review_max, "distribution", r->reviews, "pull_requests", "opened",
        (json_int_t)r->prs_opened, "rows", r->prs, "phase_funnel", r->funnel);

    free(window);
    return o;
}

json_t *wire_beads_stats(const db_beads_stats_report *r)
{
    return json_pack("{s:I, s:O, s:I, s:O, s:O}", "ready", (json_int_t)r->ready, "next_ready",
                     r->next_ready, "linked_instances", (json_int_t)r->linked, "orphaned_links",
                     r->orphans, "success_by_issue_type", r->by_type);
}

/* An array of the paths of p. */
static json_t *wire_paths(const gitops_paths *p)
{
    json_t *arr = json_array();
    size_t i;

    for (i = 0; arr && i < p->n; i++)
        if (json_array_append_new(arr, wire_str(p->v[i])) != 0) {
            json_decref(arr);
            return NULL;
        }
    return arr;
}

json_t *wire_conflicts(const conflicts_report *r)
{
    json_t *pairs = json_array(), *bases = json_array(), *skipped = json_array();
    size_t i;
    int ok = pairs && bases && skipped;

    for (i = 0; ok && i < r->npairs; i++)
        ok = json_array_append_new(
                 pairs, json_pack("{s:s, s:s, s:o, s:o}", "a", r->pairs[i].a, "b", r->pairs[i].b,
                                  "overlapping_files", wire_paths(&r->pairs[i].overlapping),
                                  "conflicting_files", wire_paths(&r->pairs[i].conflicting))) == 0;
    for (i = 0; ok && i < r->nbases; i++)
        ok = json_array_append_new(
                 bases, json_pack("{s:s, s:I, s:o}", "instance_id", r->bases[i].instance_id,
                                  "behind", (json_int_t)r->bases[i].behind, "conflicting_files",
                                  wire_paths(&r->bases[i].conflicting))) == 0;
    for (i = 0; ok && i < r->nskipped; i++)
        ok = json_array_append_new(skipped,
                                   json_pack("{s:s, s:o}", "instance_id", r->skipped[i].instance_id,
                                             "reason", wire_str(r->skipped[i].reason))) == 0;
    if (!ok) {
        json_decref(pairs);
        json_decref(bases);
        json_decref(skipped);
        return NULL;
    }
    return json_pack("{s:s, s:o, s:o, s:o}", "checked_at", r->checked_at, "pairs", pairs,
                     "with_base", bases, "skipped", skipped);
}

json_t *wire_conflicts_summary(const conflicts_report *r, const char *id)
{
    json_t *with;
    size_t i, base = 0;

    for (i = 0; i < r->nskipped; i++)
        if (r->skipped[i].branch_gone && strcmp(r->skipped[i].instance_id, id) == 0)
            return json_null(); /* its branch is gone: compared with nothing */
    with = json_array();

    for (i = 0; with && i < r->npairs; i++) {
        const conflicts_pair *p = &r->pairs[i];

        if (p->conflicting.n == 0)
            continue;
        if (json_array_append_new(with, wire_str(strcmp(p->a, id) == 0 ? p->b : p->a)) != 0) {
            json_decref(with);
            return NULL;
        }
    }
    if (!with)
        return NULL;
    for (i = 0; i < r->nbases; i++)
        if (strcmp(r->bases[i].instance_id, id) == 0)
            base = r->bases[i].conflicting.n;
    return json_pack("{s:o, s:I}", "with", with, "with_base", (json_int_t)base);
}
