/* send_feedback: store feedback and type it into the receiver's agent session. Definition:
 * send_feedback.json. */
#include <stdlib.h>
#include <string.h>

#include "tools/tool_table.h"
#include "db/queries.h"
#include "tools/agents/agent.h"
#include "tools/core/instance.h"

int tool_send_feedback(tool_call *call, const json_t *args, json_t **out, grove_err *err)
{
    grove_ctx *ctx = call->ctx;
    const char *to = arg_str(args, "instance_id");
    const char *type = arg_str(args, "feedback_type");
    const char *priority = arg_str(args, "priority") ? arg_str(args, "priority") : "medium";
    char *parent = NULL, *typed = NULL;
    grove_instance recv = {0}, from_inst = {0};
    db_new_feedback fb = {0};
    long long fid = 0;
    const char *why = NULL;
    int delivered = 0, rc = -1;

    if (!to) {
        if (!ctx->caller_id)
            return grove_fail(err, GROVE_EINVAL,
                              "'instance_id' is needed: this grove server speaks for no "
                              "instance, so there is no parent to send feedback to");
        if (db_instance_parent(ctx->db, ctx->caller_id, &parent, err) != 0)
            return -1;
        if (!parent)
            return grove_fail(err, GROVE_EINVAL,
                              "instance '%s' has no parent to send feedback to: pass instance_id",
                              ctx->caller_id);
        to = parent;
    }
    if (instance_reconcile_all(ctx, NULL, err) != 0 || instance_load(ctx, to, &recv, err) != 0)
        goto done;
    /* The sender is recorded only when it is a known instance. */
    if (ctx->caller_id && db_instance_get(ctx->db, ctx->caller_id, &from_inst, NULL) == 0)
        fb.from_instance = ctx->caller_id;
    fb.to_instance = to;
    fb.feedback_type = type;
    fb.priority = priority;
    fb.feedback = arg_str(args, "feedback");
    if (db_feedback_insert(ctx->db, &fb, &fid, err) != 0)
        goto done;

    if (strcmp(recv.status, "running") != 0) {
        why = "the receiver is terminated; the feedback is stored";
    } else if (!recv.session_name) {
        why = "the receiver has no agent session; the feedback is stored";
    } else {
        grove_err derr = GROVE_ERR_INIT;

        typed = grove_asprintf("[grove feedback from %s: %s, priority %s] %s",
                               fb.from_instance ? fb.from_instance : "a user", type, priority,
                               fb.feedback);
        if (!typed) {
            grove_nomem(err);
            goto done;
        }
        if (agent_send_keys(recv.session_name, typed, &derr) == 0) {
            delivered = 1;
            if (db_feedback_set_delivered(ctx->db, fid, 1, err) != 0)
                goto done;
        } else {
            log_warn("feedback %lld: %s", fid, derr.msg);
            why = "the receiver's agent session could not be reached; the feedback is stored";
        }
    }
    *out = json_pack("{s:I, s:s, s:b}", "feedback_id", (json_int_t)fid, "to_instance_id", to,
                     "delivered", delivered);
    if (*out && why)
        json_object_set_new(*out, "message", json_string(why));
    rc = *out ? 0 : grove_nomem(err);
done:
    free(parent);
    free(typed);
    db_instance_free(&recv);
    db_instance_free(&from_inst);
    return rc;
}
