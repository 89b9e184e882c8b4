/*
 * feedback: a message from one instance (or the person) to another
 * instance's agent. It is stored first, then typed into the receiver's
 * tmux session when it has a running one; what could not be delivered
 * stays stored, and the result says why.
 */
#ifndef GROVE_FEEDBACK_H
#define GROVE_FEEDBACK_H

#include "tools/core/context.h"

/* What to send; strings borrowed. */
typedef struct feedback_opts {
    const char *to;       /* the receiver; NULL: the caller's parent */
    const char *type;     /* needs_work | suggestions | clarification | approved */
    const char *priority; /* low | medium | high; NULL: medium */
    const char *text;
    /*
     * 1: a notice grove itself sends because of what the caller did (after
     * a land: "your branch now conflicts, sync"), not the caller's words:
     * the caller rights of feedback (CONTRACT §5) do not apply to it.
     */
    int grove_notice;
} feedback_opts;

typedef struct feedback_result {
    long long id;    /* the stored feedback */
    char *to;        /* malloc'd: the receiver */
    int delivered;   /* typed into the receiver's agent session */
    const char *why; /* static: why it was not delivered, or NULL */
} feedback_result;

/* Stores and delivers feedback. *out: free it with feedback_result_free(). */
int feedback_send(grove_ctx *ctx, const feedback_opts *o, feedback_result *out, grove_err *err);
void feedback_result_free(feedback_result *r);

#endif
