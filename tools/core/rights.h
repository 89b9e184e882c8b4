/*
 * rights: what the caller may change (CONTRACT §5, caller rights). A server
 * that speaks for an instance X is an agent server; one that speaks for none
 * is the operator, who may do everything. An agent server may change X and
 * X's descendants (instances reached from X through relationships, however
 * deep), and may send feedback to X's parent, X's descendants and X's
 * siblings (the other children of X's parents). Reading is never limited.
 *
 * A guard rail against agents that misuse the tools, not a sandbox: agents
 * run as the same Unix user as grove and could open the database themselves.
 */
#ifndef GROVE_RIGHTS_H
#define GROVE_RIGHTS_H

#include <stddef.h>

#include "tools/core/context.h"

typedef enum rights_act {
    RIGHTS_CHANGE,   /* checkpoints, pull requests, terminate, reviews and forks of the target */
    RIGHTS_FEEDBACK, /* send_feedback to the target */
} rights_act;

/* Why an act is allowed, or RIGHTS_REFUSED. */
typedef enum rights_why {
    RIGHTS_REFUSED = 0,
    RIGHTS_OPERATOR,   /* the caller speaks for no instance */
    RIGHTS_SELF,       /* the target is the caller (changes only) */
    RIGHTS_DESCENDANT, /* the target descends from the caller */
    RIGHTS_PARENT,     /* the target is the caller's parent (feedback only) */
    RIGHTS_SIBLING,    /* caller and target share a parent (feedback only) */
} rights_why;

/* One relationship, parent -> child; strings borrowed. */
typedef struct rights_edge {
    const char *parent;
    const char *child;
} rights_edge;

/*
 * The decision, from the relationships on the way up from the caller and
 * from the target (db_relationships_above(); more edges change nothing,
 * fewer may refuse what is allowed). `caller` NULL is the operator. Pure:
 * touches nothing but its arguments; any graph, cycles included, ends in
 * O(n^2) string comparisons for n edges. Edges with a NULL end are ignored.
 */
rights_why rights_decide(const char *caller, const char *target, rights_act act,
                         const rights_edge *edges, size_t n);

/*
 * 0 when ctx's caller may do `act` to instance `target`; otherwise -1 with
 * GROVE_EDENIED and a message that names the rule, the caller and who
 * holds the right (or GROVE_EDB / GROVE_ENOMEM when the relationships could
 * not be read: never allowed by accident).
 */
int rights_require(grove_ctx *ctx, rights_act act, const char *target, grove_err *err);

#endif
