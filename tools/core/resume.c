#include "tools/core/resume.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tools/agents/agent.h"
#include "tools/agents/profile.h"
#include "tools/base/buf.h"
#include "tools/core/instance.h"
#include "tools/core/limits.h"
#include "tools/core/ports.h"
#include "tools/core/rights.h"

static const char DEFAULT_PROMPT[] =
    "You were stopped (the machine restarted, or your session ended). Carry on with the task in "
    "this worktree where you left off: check git status and your last checkpoint first.";

/* The prompt of a fresh launch: `prompt` and what the last checkpoint says. Malloc'd. */
static char *fresh_prompt(grove_ctx *ctx, const char *id, const char *prompt)
{
    grove_checkpoint cp = {0};
    grove_err err = GROVE_ERR_INIT;
    grove_buf b = BUF_INIT(LIMIT_PROMPT_BYTES);
    int found = 0;

    buf_printf(&b, "%s", prompt ? prompt : DEFAULT_PROMPT);
    if (db_checkpoint_get(ctx->db, id, NULL, &cp, &found, &err) == 0 && found) {
        buf_printf(&b, "\n\nYour last checkpoint (%s): phase '%s'", cp.created_at, cp.phase);
        if (cp.name)
            buf_printf(&b, ", '%s'", cp.name);
        buf_printf(&b, ", %s", cp.status);
        if (cp.message)
            buf_printf(&b, ": %s", cp.message);
        if (cp.data_json)
            buf_printf(&b, "\nIts data: %s", cp.data_json);
    }
    db_checkpoint_free(&cp);
    return buf_take(&b);
}

int resume_instance(grove_ctx *ctx, const char *id, const char *prompt, grove_instance *out,
                    grove_err *err)
{
    grove_instance inst = {0};
    agent_profile prof = {0};
    agent_ref ref;
    ports_block ports;
    struct stat sb;
    char port_var[32], ports_var[48], *text = NULL, *def = NULL, *custom = NULL;
    const char *const env[] = {port_var, ports_var, NULL};
    const char *name;
    int rc = -1, reserved = 0, resume;

    memset(out, 0, sizeof(*out));
    if (limits_check_text("prompt", prompt, LIMIT_PROMPT_BYTES, err) != 0 ||
        instance_reconcile_all(ctx, NULL, err) != 0 || instance_load(ctx, id, &inst, err) != 0 ||
        rights_require(ctx, RIGHTS_CHANGE, id, err) != 0)
        goto done;
    if (!inst.worktree_path || stat(inst.worktree_path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        grove_fail(err, GROVE_ENOTFOUND,
                   "instance '%s' has no worktree any more ('%s' is gone): nothing to resume in; "
                   "spawn a new instance (or fork_instance from its branch)",
                   id, inst.worktree_path ? inst.worktree_path : "");
        goto done;
    }
    if (instance_agent_ref(ctx, &inst, &ref, err) != 0)
        goto done;
    if ((inst.session_name || inst.pid) && agent_alive(inst.session_name, inst.pid)) {
        grove_fail(err, GROVE_ECONFLICT,
                   "the agent of '%s' is still running: talk to it with send_feedback "
                   "(read_agent_output shows what it is doing), or terminate_instance it first",
                   id);
        goto done;
    }
    /* the profile it was launched with, else the default one */
    def = ctx_setting(ctx, "GROVE_AGENT_DEFAULT", "agent.default");
    custom = ctx_setting(ctx, "GROVE_AGENT_COMMAND", "agent.command");
    name = inst.agent_profile ? inst.agent_profile : def ? def : custom ? "custom" : NULL;
    if (!name) {
        grove_fail(err, GROVE_EINVAL,
                   "instance '%s' never had an agent and none is configured: set config "
                   "agent.default, or GROVE_AGENT_COMMAND / config agent.command",
                   id);
        goto done;
    }
    if (instance_profile(ctx, name, &prof, err) != 0)
        goto done;
    /* the dead pane of its last agent (remain-on-exit) holds the session name */
    if (inst.session_name && agent_stop(&ref, err) != 0)
        goto done;
    resume = prof.resume && inst.agent_session_id && *inst.agent_session_id;
    if (!(text =
              resume ? strdup(prompt ? prompt : DEFAULT_PROMPT) : fresh_prompt(ctx, id, prompt))) {
        grove_nomem(err);
        goto done;
    }
    if (strcmp(inst.status, "running") != 0) {
        if (ports_reserve(ctx, id, &ports, err) != 0)
            goto done;
        reserved = 1;
        ports_env(&ports, port_var, ports_var);
    } else if (inst.port_count > 0) {
        ports.first = inst.port_first;
        ports.count = inst.port_count;
        ports_env(&ports, port_var, ports_var);
    } else {
        port_var[0] = ports_var[0] = '\0';
    }
    if (instance_launch_agent(ctx, &prof, resume, id, inst.worktree_path, text,
                              resume ? inst.agent_session_id : NULL, port_var[0] ? env : NULL,
                              err) != 0)
        goto done;
    reserved = 0;
    if (db_instance_get(ctx->db, id, out, err) != 0)
        goto done;
    rc = 0;
done:
    if (reserved)
        ports_release(ctx, id);
    profile_free(&prof);
    db_instance_free(&inst);
    free(text);
    free(def);
    free(custom);
    return rc;
}

int resume_candidates(grove_ctx *ctx, char ***ids, size_t *n, grove_err *err)
{
    grove_instance_list all = {0};
    char **v = NULL;
    size_t i, k = 0;
    int rc = -1;

    *ids = NULL;
    *n = 0;
    if (instance_reconcile_all(ctx, NULL, err) != 0 ||
        instance_list_all(ctx, "terminated", &all, err) != 0)
        return -1;
    if (all.n && !(v = calloc(all.n, sizeof(*v)))) {
        grove_nomem(err);
        goto done;
    }
    for (i = 0; i < all.n; i++) {
        const grove_instance *inst = &all.v[i];
        json_t *meta = NULL;
        struct stat sb;
        int gone;

        if (!inst->agent_state || strcmp(inst->agent_state, "exited") != 0 || inst->landed_commit ||
            !inst->worktree_path || stat(inst->worktree_path, &sb) != 0 || !S_ISDIR(sb.st_mode))
            continue;
        if (db_instance_metadata(ctx->db, inst->id, &meta, err) != 0)
            goto done;
        gone = json_is_string(json_object_get(meta, "ended")) &&
               strcmp(json_string_value(json_object_get(meta, "ended")),
                      INSTANCE_ENDED_AGENT_GONE) == 0;
        json_decref(meta);
        if (gone && !(v[k++] = strdup(inst->id))) {
            grove_nomem(err);
            goto done;
        }
    }
    *ids = v;
    *n = k;
    v = NULL;
    rc = 0;
done:
    agent_free_list(v, k);
    db_instance_list_free(&all);
    return rc;
}
