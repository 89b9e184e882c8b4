/* rights: what the caller may change (see rights.h). */
#include "tools/core/rights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/queries.h"

#define OPERATOR_IS                                                                                \
    "the operator (a grove server that speaks for no instance: started outside every instance "    \
    "worktree without GROVE_INSTANCE_ID; or the grove CLI)"

static int same(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/*
 * 1 when `anc` is reached going up from `id` through the edges, 0 when not,
 * -1 when memory ran out. Breadth first; each edge is taken once, so a cycle
 * ends the walk.
 */
static int is_above(const char *anc, const char *id, const rights_edge *e, size_t n)
{
    unsigned char *taken = calloc(n ? n : 1, 1);           /* owned: freed below */
    const char **queue = malloc((n + 1) * sizeof(*queue)); /* owned: freed below */
    size_t head = 0, tail = 0, i;
    int found = 0;

    if (!taken || !queue) {
        free(taken);
        free(queue);
        return -1;
    }
    queue[tail++] = id;
    while (!found && head < tail) {
        const char *node = queue[head++];

        for (i = 0; i < n && !found; i++) {
            if (taken[i] || !e[i].parent || !same(e[i].child, node))
                continue;
            taken[i] = 1;
            found = same(e[i].parent, anc);
            queue[tail++] = e[i].parent; /* at most one push per edge: tail <= n + 1 */
        }
    }
    free(taken);
    free(queue);
    return found;
}

/* 1 when some edge goes parent -> child. */
static int has_edge(const char *parent, const char *child, const rights_edge *e, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (same(e[i].parent, parent) && same(e[i].child, child))
            return 1;
    return 0;
}

/* 1 when a and b (different instances) have a parent in common. */
static int share_parent(const char *a, const char *b, const rights_edge *e, size_t n)
{
    size_t i;

    if (same(a, b))
        return 0;
    for (i = 0; i < n; i++)
        if (same(e[i].child, a) && e[i].parent && has_edge(e[i].parent, b, e, n))
            return 1;
    return 0;
}

rights_why rights_decide(const char *caller, const char *target, rights_act act,
                         const rights_edge *edges, size_t n)
{
    int below;

    if (!caller)
        return RIGHTS_OPERATOR;
    if (!target)
        return RIGHTS_REFUSED;
    if (act == RIGHTS_CHANGE && same(caller, target))
        return RIGHTS_SELF;
    if (act == RIGHTS_FEEDBACK && !same(caller, target)) {
        if (has_edge(target, caller, edges, n))
            return RIGHTS_PARENT;
        if (share_parent(caller, target, edges, n))
            return RIGHTS_SIBLING;
    }
    /* Feedback to oneself is not in the list, even through a cycle. */
    if (same(caller, target))
        return RIGHTS_REFUSED;
    below = is_above(caller, target, edges, n);
    return below == 1 ? RIGHTS_DESCENDANT : RIGHTS_REFUSED; /* no memory: refused */
}

/* The target's earliest parent among the edges (they are oldest first), or NULL. */
static const char *first_parent(const char *id, const rights_edge *e, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (e[i].parent && same(e[i].child, id))
            return e[i].parent;
    return NULL;
}

/* The refusal's message: the rule, the caller, and who holds the right. */
static int refuse(const char *caller, const char *target, rights_act act, const char *parent,
                  grove_err *err)
{
    char held[160] = "";

    if (parent)
        snprintf(held, sizeof(held), act == RIGHTS_FEEDBACK ? " '%s'" : " (its parent is '%s')",
                 parent);
    if (act == RIGHTS_FEEDBACK)
        return grove_fail(
            err, GROVE_EDENIED,
            "refused by the caller rights (see SECURITY.md): this server speaks for "
            "instance '%s', which may send feedback only to its parent, its "
            "descendants and its siblings; '%s' is none of them. '%s' takes "
            "feedback from its parent%s, its siblings, its descendants and " OPERATOR_IS,
            caller, target, target, held);
    return grove_fail(err, GROVE_EDENIED,
                      "refused by the caller rights (see SECURITY.md): this server speaks for "
                      "instance '%s', which may change only itself and its descendants (the "
                      "instances it spawned, reviewed or forked, and theirs); '%s' is not one of "
                      "them. Only '%s' itself, its ancestors%s and " OPERATOR_IS " may change it",
                      caller, target, target, held);
}

int rights_require(grove_ctx *ctx, rights_act act, const char *target, grove_err *err)
{
    const char *caller = ctx->caller_id;
    grove_relationship_list rels = {0};
    rights_edge *edges = NULL;
    rights_why why;
    size_t i;
    int rc = -1;

    if (!caller || (act == RIGHTS_CHANGE && same(caller, target)))
        return 0;
    if (!target)
        return grove_fail(err, GROVE_EINVAL, "instance id is empty");
    if (db_relationships_above(ctx->db, caller, target, &rels, err) != 0)
        return -1;
    if (!(edges = calloc(rels.n ? rels.n : 1, sizeof(*edges)))) { /* owned: freed below */
        grove_nomem(err);
        goto done;
    }
    for (i = 0; i < rels.n; i++) {
        edges[i].parent = rels.v[i].parent_instance;
        edges[i].child = rels.v[i].child_instance;
    }
    why = rights_decide(caller, target, act, edges, rels.n);
    if (why == RIGHTS_REFUSED) {
        refuse(caller, target, act, first_parent(target, edges, rels.n), err);
        goto done;
    }
    rc = 0;
done:
    free(edges);
    db_relationship_list_free(&rels);
    return rc;
}
