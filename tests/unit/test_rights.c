/* Unit tests for tools/core/rights.c: the caller-rights decision (CONTRACT §5). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tools/core/rights.h"

/*
 *   p ─┬─ x ── d ── g        q ── x   (x has a second parent, q)
 *      └─ s                  u        (unrelated)
 *   c1 ⇄ c2                           (a cycle)
 */
static const rights_edge FAMILY[] = {
    {"p", "x"},   {"p", "s"},   {"x", "d"},  {"d", "g"},  {"q", "x"},
    {"c1", "c2"}, {"c2", "c1"}, {NULL, "x"}, {"x", NULL},
};
#define NFAMILY (sizeof(FAMILY) / sizeof(FAMILY[0]))

typedef struct row {
    const char *caller, *target;
    rights_act act;
    rights_why want;
} row;

static const row ROWS[] = {
    /* the operator: anything, even an unknown target */
    {NULL, "p", RIGHTS_CHANGE, RIGHTS_OPERATOR},
    {NULL, "nobody", RIGHTS_FEEDBACK, RIGHTS_OPERATOR},
    /* changes: itself and its descendants, however deep */
    {"x", "x", RIGHTS_CHANGE, RIGHTS_SELF},
    {"x", "d", RIGHTS_CHANGE, RIGHTS_DESCENDANT},
    {"x", "g", RIGHTS_CHANGE, RIGHTS_DESCENDANT},
    {"x", "p", RIGHTS_CHANGE, RIGHTS_REFUSED},
    {"x", "q", RIGHTS_CHANGE, RIGHTS_REFUSED},
    {"x", "s", RIGHTS_CHANGE, RIGHTS_REFUSED},
    {"x", "u", RIGHTS_CHANGE, RIGHTS_REFUSED},
    {"g", "x", RIGHTS_CHANGE, RIGHTS_REFUSED},
    {"p", "g", RIGHTS_CHANGE, RIGHTS_DESCENDANT},
    {"q", "g", RIGHTS_CHANGE, RIGHTS_DESCENDANT},
    {"x", NULL, RIGHTS_CHANGE, RIGHTS_REFUSED},
    /* feedback: parent (either), descendants, siblings; never itself or the unrelated */
    {"x", "p", RIGHTS_FEEDBACK, RIGHTS_PARENT},
    {"x", "q", RIGHTS_FEEDBACK, RIGHTS_PARENT},
    {"x", "s", RIGHTS_FEEDBACK, RIGHTS_SIBLING},
    {"s", "x", RIGHTS_FEEDBACK, RIGHTS_SIBLING},
    {"x", "g", RIGHTS_FEEDBACK, RIGHTS_DESCENDANT},
    {"x", "x", RIGHTS_FEEDBACK, RIGHTS_REFUSED},
    {"x", "u", RIGHTS_FEEDBACK, RIGHTS_REFUSED},
    {"g", "p", RIGHTS_FEEDBACK, RIGHTS_REFUSED}, /* a grandparent is not a parent */
    {"d", "s", RIGHTS_FEEDBACK, RIGHTS_REFUSED}, /* nor an uncle a sibling */
    /* a cycle ends the walk */
    {"c1", "c2", RIGHTS_CHANGE, RIGHTS_DESCENDANT},
    {"c1", "c1", RIGHTS_FEEDBACK, RIGHTS_REFUSED},
    {"c1", "u", RIGHTS_CHANGE, RIGHTS_REFUSED},
};

static void test_decision_table(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(ROWS) / sizeof(ROWS[0]); i++) {
        const row *r = &ROWS[i];
        rights_why got = rights_decide(r->caller, r->target, r->act, FAMILY, NFAMILY);

        if (got != r->want)
            fail_msg("row %zu: %s -> %s (%s): got %d, want %d", i, r->caller ? r->caller : "op",
                     r->target ? r->target : "NULL",
                     r->act == RIGHTS_CHANGE ? "change" : "feedback", (int)got, (int)r->want);
    }
}

/* Without the edges nothing but self is allowed: fewer edges never allow more. */
static void test_no_edges(void **state)
{
    (void)state;
    assert_int_equal(rights_decide("x", "x", RIGHTS_CHANGE, NULL, 0), RIGHTS_SELF);
    assert_int_equal(rights_decide("x", "d", RIGHTS_CHANGE, NULL, 0), RIGHTS_REFUSED);
    assert_int_equal(rights_decide("x", "p", RIGHTS_FEEDBACK, NULL, 0), RIGHTS_REFUSED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decision_table),
        cmocka_unit_test(test_no_edges),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
