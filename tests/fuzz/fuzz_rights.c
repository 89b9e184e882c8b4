/*
 * fuzz_rights: the caller-rights decision (tools/core/rights.c) on any
 * relationship graph: cycles, self-loops, duplicate edges, several parents,
 * missing ends, long chains.
 *
 * Input: byte 0 the caller, byte 1 the target, byte 2 the act (bit 0:
 * feedback), then (parent, child) byte pairs, at most MAX_EDGES. A byte
 * names instance i<b % 17>, except 16, which is "none" (the operator as the
 * caller, a NULL end in an edge, a NULL target). Every name is a string of
 * its own, so the decision must compare strings, not pointers.
 *
 * Promise checked: the verdict equals the rule of CONTRACT §5 computed
 * independently here (a transitive closure): the operator may do anything;
 * a change only to the caller itself or a descendant; feedback only to the
 * caller's parent, a sibling (a parent in common) or a descendant, never to
 * itself; so nothing is ever allowed to an unrelated instance.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/core/rights.h"
#include "tests/fuzz/fuzz.h"

#define NODES     16
#define MAX_EDGES 512

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

/* A fresh copy of node b's name, or NULL for "none". */
static char *name_of(uint8_t b)
{
    char buf[8];
    int i = b % (NODES + 1);

    if (i == NODES)
        return NULL;
    snprintf(buf, sizeof(buf), "i%d", i);
    return strdup(buf);
}

/* What §5 says, from the adjacency matrix and its transitive closure. */
static rights_why expected(int caller, int target, rights_act act, unsigned char edge[NODES][NODES],
                           unsigned char reach[NODES][NODES])
{
    int p;

    if (caller == NODES)
        return RIGHTS_OPERATOR;
    if (target == NODES)
        return RIGHTS_REFUSED;
    if (act == RIGHTS_CHANGE && caller == target)
        return RIGHTS_SELF;
    if (caller == target)
        return RIGHTS_REFUSED;
    if (act == RIGHTS_FEEDBACK) {
        if (edge[target][caller])
            return RIGHTS_PARENT;
        for (p = 0; p < NODES; p++)
            if (edge[p][caller] && edge[p][target])
                return RIGHTS_SIBLING;
    }
    return reach[caller][target] ? RIGHTS_DESCENDANT : RIGHTS_REFUSED;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char edge[NODES][NODES], reach[NODES][NODES];
    rights_edge *edges;
    char *caller, *target;
    size_t n = 0, i;
    int a, b, k, c, t;
    rights_act act;
    rights_why got, want;

    if (size < 3)
        return 0;
    c = data[0] % (NODES + 1);
    t = data[1] % (NODES + 1);
    act = (data[2] & 1) ? RIGHTS_FEEDBACK : RIGHTS_CHANGE;
    caller = name_of(data[0]);
    target = name_of(data[1]);
    edges = calloc(MAX_EDGES + 1, sizeof(*edges));
    FUZZ_CHECK(edges != NULL && (caller || c == NODES) && (target || t == NODES), "out of memory");
    memset(edge, 0, sizeof(edge));
    for (i = 3; i + 1 < size && n < MAX_EDGES; i += 2, n++) {
        int p = data[i] % (NODES + 1), q = data[i + 1] % (NODES + 1);

        edges[n].parent = name_of(data[i]);
        edges[n].child = name_of(data[i + 1]);
        if (p < NODES && q < NODES)
            edge[p][q] = 1;
    }
    memcpy(reach, edge, sizeof(reach));
    for (k = 0; k < NODES; k++)
        for (a = 0; a < NODES; a++)
            for (b = 0; b < NODES; b++)
                if (reach[a][k] && reach[k][b])
                    reach[a][b] = 1;
    got = rights_decide(caller, target, act, edges, n);
    want = expected(c, t, act, edge, reach);
    FUZZ_CHECK(got == want,
               "caller %d target %d act %d over %zu edges: decided %d, the rule says %d", c, t,
               (int)act, n, (int)got, (int)want);
    for (i = 0; i < n; i++) {
        free((char *)edges[i].parent);
        free((char *)edges[i].child);
    }
    free(edges);
    free(caller);
    free(target);
    return 0;
}
