#include "tools/core/hook.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db/migrate.h"
#include "db/queries.h"
#include "tools/base/secret.h"
#include "tools/core/context.h"
#include "tools/core/notify.h"

static const char *const STATES[] = {"starting", "working", "waiting", "idle", "exited", NULL};

/* Notification types that do not ask for the person, and the state each means (NULL: none). */
static const struct {
    const char *type;
    const char *state;
} QUIET[] = {{"idle_prompt", "idle"}, {"auth_success", NULL}};

/* Copies the string member `key` of in (when a string) into out, cut to `max` bytes. */
static int keep(json_t *out, const json_t *in, const char *key, size_t max)
{
    const char *v = json_string_value(json_object_get(in, key));
    char *cut;
    int rc;

    if (!v)
        return 0;
    if (strlen(v) <= max)
        return json_object_set_new(out, key, json_string(v));
    if (!(cut = strndup(v, max)))
        return -1;
    grove_utf8_sanitize(cut);
    rc = json_object_set_new(out, key, json_string(cut));
    free(cut);
    return rc;
}

/* Runs notify.command for a hook: settings come from a full context of the instance's repo. */
static void hook_notify(const char *db_path, const char *id, const char *state, const char *msg)
{
    grove_ctx *ctx = NULL;
    ctx_options o = {0};
    grove_err err = GROVE_ERR_INIT;

    o.db = db_path;
    if (gitops_lib_init(&err) != 0) {
        log_warn("hook: notify.command not run (%s)", err.msg);
        return;
    }
    if (ctx_open(&ctx, &o, &err) != 0) {
        log_warn("hook: notify.command not run (%s)", err.msg);
        gitops_lib_shutdown();
        return;
    }
    notify_state(ctx, id, state, msg);
    ctx_free(ctx);
    gitops_lib_shutdown();
}

int hook_run(const char *db_path, const char *id, const char *state, const char *input, size_t n,
             grove_err *err)
{
    grove_db *db = NULL;
    json_t *in = NULL, *meta = NULL;
    json_error_t jerr;
    db_hook h = {0};
    db_hook_result r;
    char event[96];
    const char *name, *ntype;
    struct stat sb;
    double start = grove_now_ms();
    size_t i;
    int rc = -1, known = 0;

    for (i = 0; STATES[i]; i++)
        known |= state && strcmp(state, STATES[i]) == 0;
    if (!known)
        return grove_fail(err, GROVE_EINVAL,
                          "unknown state '%s' (starting, working, waiting, idle or exited)",
                          state ? state : "");
    if (!id || !*id)
        return grove_fail(err, GROVE_EINVAL, "no instance given (--instance ID)");
    if (!db_path || stat(db_path, &sb) != 0)
        return grove_fail(err, GROVE_ENOTFOUND, "database '%s' is not there: %s",
                          db_path ? db_path : "", db_path ? strerror(errno) : "no --db given");
    if (!(meta = json_object()))
        return grove_nomem(err);
    in = n ? json_loadb(input, n, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (n && !json_is_object(in)) {
        json_object_set_new(meta, "input", json_string("not a JSON object"));
        json_decref(in);
        in = NULL;
    }
    h.instance_id = id;
    h.state = state;
    name = json_string_value(json_object_get(in, "hook_event_name"));
    ntype = json_string_value(json_object_get(in, "notification_type"));
    if (name && strcmp(name, "Notification") == 0 && ntype)
        for (i = 0; i < sizeof(QUIET) / sizeof(QUIET[0]); i++)
            if (strcmp(ntype, QUIET[i].type) == 0)
                h.state = QUIET[i].state;
    snprintf(event, sizeof(event), "hook:%.64s", name && *name ? name : state);
    grove_utf8_sanitize(event);
    h.event_name = event;
    if (json_object_set_new(meta, "state", h.state ? json_string(h.state) : json_null()) != 0 ||
        keep(meta, in, "hook_event_name", 64) != 0 || keep(meta, in, "notification_type", 64) ||
        keep(meta, in, "message", 2048) != 0 || keep(meta, in, "tool_name", 256) != 0 ||
        keep(meta, in, "session_id", 128) != 0) {
        grove_nomem(err);
        goto done;
    }
    secret_redact_json(meta);
    h.session_id = json_string_value(json_object_get(meta, "session_id"));
    h.metadata = meta;
    if (db_open(&db, db_path, migrate_verify, err) != 0)
        goto done;
    db_set_budget(db, HOOK_BUDGET_MS);
    h.duration_ms = grove_now_ms() - start;
    if (db_hook_record(db, &h, &r, err) != 0)
        goto done;
    if (!r.found) {
        grove_fail(err, GROVE_ENOTFOUND, "instance '%s' not found in '%s'; nothing recorded", id,
                   db_path);
        goto done;
    }
    if (!r.running) {
        grove_fail(err, GROVE_EINVAL, "instance '%s' is terminated; nothing recorded", id);
        goto done;
    }
    db_close(db);
    db = NULL;
    if (r.changed && h.state && (!strcmp(h.state, "waiting") || !strcmp(h.state, "exited")))
        hook_notify(db_path, id, h.state, json_string_value(json_object_get(meta, "message")));
    rc = 0;
done:
    db_close(db);
    json_decref(in);
    json_decref(meta);
    return rc;
}
