/* Registry-wide checks: every tool defined once, completely, with usable schemas. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mcp/schema.h"
#include "tools/registry.h"

static void test_names_unique_and_findable(void **state)
{
    size_t i, k;

    (void)state;
    assert_int_equal(tools_count(), 11);
    for (i = 0; i < tools_count(); i++) {
        assert_non_null(tools_get(i)->handler);
        assert_int_equal(tools_find(tools_get(i)->name), (int)i);
        for (k = i + 1; k < tools_count(); k++)
            assert_string_not_equal(tools_get(i)->name, tools_get(k)->name);
    }
    assert_int_equal(tools_find("nope"), -1);
    assert_int_equal(tools_find(NULL), -1);
    assert_null(tools_get(tools_count()));
}

static void test_every_definition_complete(void **state)
{
    static const char *const hints[] = {"readOnlyHint", "destructiveHint", "idempotentHint",
                                        "openWorldHint"};
    size_t i, h;

    (void)state;
    for (i = 0; i < tools_count(); i++) {
        grove_err err = GROVE_ERR_INIT;
        json_t *spec = tools_spec(i, &err);
        json_t *in, *out, *ann;
        char msg[256];

        assert_non_null(spec);
        assert_string_equal(json_string_value(json_object_get(spec, "name")), tools_get(i)->name);
        assert_true(strlen(json_string_value(json_object_get(spec, "title"))) > 3);
        assert_true(strlen(json_string_value(json_object_get(spec, "description"))) > 40);
        ann = json_object_get(spec, "annotations");
        for (h = 0; h < 4; h++)
            assert_true(json_is_boolean(json_object_get(ann, hints[h])));
        in = json_object_get(spec, "inputSchema");
        out = json_object_get(spec, "outputSchema");
        assert_string_equal(json_string_value(json_object_get(in, "type")), "object");
        assert_true(json_is_false(json_object_get(in, "additionalProperties")));
        assert_null(json_object_get(in, "anyOf"));
        assert_null(json_object_get(in, "oneOf"));
        assert_null(json_object_get(in, "allOf"));
        assert_string_equal(json_string_value(json_object_get(out, "type")), "object");
        if (schema_check(in, msg, sizeof(msg)) != 0)
            fail_msg("%s inputSchema: %s", tools_get(i)->name, msg);
        if (schema_check(out, msg, sizeof(msg)) != 0)
            fail_msg("%s outputSchema: %s", tools_get(i)->name, msg);
        /* Shared definitions referenced by the output are present. */
        {
            char *text = json_dumps(out, 0);

            assert_non_null(text);
            if (strstr(text, "#/$defs/"))
                assert_true(json_is_object(json_object_get(out, "$defs")));
            free(text);
        }
        /* the registry's read_only (events without an fsync of their own) is the hint */
        assert_int_equal(tools_get(i)->read_only,
                         json_is_true(json_object_get(ann, "readOnlyHint")) ? 1 : 0);
        /* read-only tools are never destructive */
        if (json_is_true(json_object_get(ann, "readOnlyHint")))
            assert_true(json_is_false(json_object_get(ann, "destructiveHint")));
        json_decref(spec);
    }
}

static void test_empty_arguments_validate_where_nothing_required(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < tools_count(); i++) {
        grove_err err = GROVE_ERR_INIT;
        json_t *spec = tools_spec(i, &err), *in, *empty = json_object();
        int expect;

        in = json_object_get(spec, "inputSchema");
        expect = json_array_size(json_object_get(in, "required")) == 0;
        assert_int_equal(schema_validate(in, in, empty, NULL, 0), expect);
        json_decref(empty);
        json_decref(spec);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_unique_and_findable),
        cmocka_unit_test(test_every_definition_complete),
        cmocka_unit_test(test_empty_arguments_validate_where_nothing_required),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
