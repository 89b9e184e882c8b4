/* feedback: store, then deliver into the receiver's agent session (see feedback.h). */
#include "tools/core/feedback.h"

#include <stdlib.h>
#include <string.h>

#include "db/queries.h"
#include "tools/agents/agent.h"
#include "tools/core/instance.h"
#include "tools/core/rights.h"
#include "tools/core/limits.h"

void feedback_result_free(feedback_result *r)
{
    free(r->to);
    memset(r, 0, sizeof(*r));
}

/* The receiver when none is named: the caller's parent. Malloc'd into *to. */
static int default_receiver(grove_ctx *ctx, char **to, grove_err *err)
{
    if (!ctx->caller_id)
        return grove_fail(err, GROVE_EINVAL,
                          "'instance_id' is needed: this grove server speaks for no "
                          "instance, so there is no parent to send feedback to");
    if (db_instance_parent(ctx->db, ctx->caller_id, to, err) != 0)
        return -1;
    if (!*to)
        return grove_fail(err, GROVE_EINVAL,
                          "instance '%s' has no parent to send feedback to: pass instance_id",
                          ctx->caller_id);
    return 0;
}

int feedback_send(grove_ctx *ctx, const feedback_opts *o, feedback_result *out, grove_err *err)
{
    const char *priority = o->priority ? o->priority : "medium";
    grove_instance recv = {0}, from_inst = {0};
    db_new_feedback fb = {0};
    char *typed = NULL;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (limits_check_text("feedback", o->text, LIMIT_FEEDBACK_BYTES, err) != 0)
        return -1;
    if (!o->to) {
        if (default_receiver(ctx, &out->to, err) != 0)
            goto done;
    } else if (!(out->to = strdup(o->to))) {
        grove_nomem(err);
        goto done;
    }
    if (instance_reconcile_all(ctx, NULL, err) != 0 ||
        instance_load(ctx, out->to, &recv, err) != 0 ||
        (!o->grove_notice && rights_require(ctx, RIGHTS_FEEDBACK, out->to, err) != 0))
        goto done;
    /* The sender is recorded only when it is a known instance. */
    if (ctx->caller_id && db_instance_get(ctx->db, ctx->caller_id, &from_inst, NULL) == 0)
        fb.from_instance = ctx->caller_id;
    fb.to_instance = out->to;
    fb.feedback_type = o->type;
    fb.priority = priority;
    fb.feedback = o->text;
    if (db_feedback_insert(ctx->db, &fb, &out->id, err) != 0)
        goto done;

    if (strcmp(recv.status, "running") != 0) {
        out->why = "the receiver is terminated; the feedback is stored";
    } else if (!recv.session_name) {
        out->why = "the receiver has no agent session; the feedback is stored";
    } else {
        grove_err derr = GROVE_ERR_INIT;
        agent_ref agent;

        typed = grove_asprintf("[grove feedback from %s: %s, priority %s] %s",
                               fb.from_instance ? fb.from_instance : "a user", o->type, priority,
                               o->text);
        if (!typed) {
            grove_nomem(err);
            goto done;
        }
        if (instance_agent_ref(ctx, &recv, &agent, err) != 0)
            goto done;
        if (agent_send_keys(&agent, typed, &derr) == 0) {
            out->delivered = 1;
            if (db_feedback_set_delivered(ctx->db, out->id, 1, err) != 0)
                goto done;
        } else {
            log_warn("feedback %lld: %s", out->id, derr.msg);
            out->why = "the receiver's agent session could not be reached; the feedback is stored";
        }
    }
    rc = 0;
done:
    free(typed);
    db_instance_free(&recv);
    db_instance_free(&from_inst);
    if (rc != 0)
        feedback_result_free(out);
    return rc;
}
