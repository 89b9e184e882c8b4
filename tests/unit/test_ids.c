/* Unit tests of instance id allocation pieces: issue parsing and id formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tools/arg.h"

static int parse(json_t *v, issue_ref *out)
{
    grove_err err = GROVE_ERR_INIT;
    int rc = arg_issue(v, out, &err);

    if (rc != 0) {
        assert_int_equal(err.code, GROVE_EINVAL);
        assert_true(strlen(err.msg) > 0);
    }
    json_decref(v);
    return rc;
}

static void test_issue_forms(void **state)
{
    issue_ref r;

    (void)state;
    assert_int_equal(parse(json_integer(123), &r), 0);
    assert_int_equal(r.number, 123);
    assert_string_equal(r.beads, "");
    assert_int_equal(parse(json_string("456"), &r), 0);
    assert_int_equal(r.number, 456);
    assert_int_equal(parse(json_real(7.0), &r), 0);
    assert_int_equal(r.number, 7);
    assert_int_equal(parse(json_string("bd-a3f8"), &r), 0);
    assert_int_equal(r.number, 0);
    assert_string_equal(r.beads, "bd-a3f8");
    assert_int_equal(parse(json_string("X.y_z-9"), &r), 0);
    assert_int_equal(parse(NULL, &r), 0);
    assert_int_equal(r.number, 0);
    assert_string_equal(r.beads, "");
}

static void test_issue_rejects(void **state)
{
    static const char *const bad[] = {"",     "-1",    ".x", "a/b", "a b",
                                      "../x", "ready", "0",  "00",  "a\xc3\xa9"};
    char long_id[80];
    issue_ref r;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(parse(json_string(bad[i]), &r), -1);
    memset(long_id, 'a', 65);
    long_id[65] = '\0';
    assert_int_equal(parse(json_string(long_id), &r), -1);
    long_id[64] = '\0';
    assert_int_equal(parse(json_string(long_id), &r), 0);
    assert_int_equal(parse(json_integer(0), &r), -1);
    assert_int_equal(parse(json_integer(-5), &r), -1);
    assert_int_equal(parse(json_real(1.5), &r), -1);
    assert_int_equal(parse(json_string("99999999999999999999"), &r), -1);
    assert_int_equal(parse(json_stringn("ab\0c", 4), &r), -1);
    assert_int_equal(parse(json_true(), &r), -1);
}

static void test_format_ids(void **state)
{
    issue_ref none = {0}, gh = {0}, beads = {0};
    char buf[64];

    (void)state;
    gh.number = 123;
    strcpy(beads.beads, "bd-a3f8");
    assert_int_equal(instance_format_id(buf, sizeof(buf), "work", &none, 3), 0);
    assert_string_equal(buf, "work-a3");
    assert_int_equal(instance_format_id(buf, sizeof(buf), "work", &gh, 1), 0);
    assert_string_equal(buf, "work-123-a1");
    assert_int_equal(instance_format_id(buf, sizeof(buf), "review", &gh, 1), 0);
    assert_string_equal(buf, "review-123-a1");
    assert_int_equal(instance_format_id(buf, sizeof(buf), "work", &beads, 2), 0);
    assert_string_equal(buf, "work-bd-a3f8-a2");
    assert_int_equal(instance_format_id(buf, 8, "work", &beads, 2), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue_forms),
        cmocka_unit_test(test_issue_rejects),
        cmocka_unit_test(test_format_ids),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
