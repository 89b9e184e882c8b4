/* Registry-wide checks: every tool defined once, completely, with usable schemas. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sodium.h>

#include "mcp/schema.h"
#include "tools/base/secret.h"
#include "tools/call.h"
#include "tools/core/limits.h"
#include "tools/registry.h"

static void test_names_unique_and_findable(void **state)
{
    size_t i, k;

    (void)state;
    assert_int_equal(tools_count(), 17);
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

/* The sha256 of n bytes as 64 hex digits into hex. */
static void sha256_hex(const void *p, size_t n, char hex[65])
{
    unsigned char d[crypto_hash_sha256_BYTES];

    crypto_hash_sha256(d, p, n);
    sodium_bin2hex(hex, 65, d, sizeof(d));
}

/* Asserts that v is the summary {"truncated": true, "bytes": n, "sha256": hex}. */
static void assert_summary(const json_t *v, size_t n, const char *hex)
{
    assert_true(json_is_object(v));
    assert_int_equal(json_object_size(v), 3);
    assert_true(json_is_true(json_object_get(v, "truncated")));
    assert_int_equal(json_integer_value(json_object_get(v, "bytes")), n);
    assert_string_equal(json_string_value(json_object_get(v, "sha256")), hex);
}

/* Events keep argument values up to 4 KiB and summarize larger ones (contract §5). */
static void test_event_metadata_summarizes_large_values(void **state)
{
    size_t n = LIMIT_EVENT_VALUE_BYTES;
    char *s = malloc(n + 2), *dump, hex[65];
    json_t *args, *meta, *data;

    (void)state;
    assert_int_equal(n, 4096);
    assert_non_null(s);
    memset(s, 'a', n + 1);
    s[n + 1] = '\0';
    /* data: {"k":"a...a"} is 8 bytes around its string: 4089 of them make 4097 bytes */
    data = json_pack("{s:s#}", "k", s, (int)(n + 1 - 8));
    args = json_pack("{s:s#, s:s, s:o, s:s, s:i, s:[s#]}", "exact", s, (int)n, "over", s, "data",
                     data, "small", "x", "limit", 5, "list", s, (int)(n - 4));
    assert_non_null(args);
    s[n] = '\0';

    meta = tool_event_metadata(args);
    assert_non_null(meta);
    /* 4096 bytes: kept as it is; 4097: summarized over the string's bytes */
    assert_int_equal(json_string_length(json_object_get(meta, "exact")), n);
    s[n] = 'a';
    sha256_hex(s, n + 1, hex);
    assert_summary(json_object_get(meta, "over"), n + 1, hex);
    /* an object over 4 KiB as compact JSON: summarized over that JSON */
    dump = json_dumps(data, JSON_COMPACT);
    assert_int_equal(strlen(dump), n + 1);
    sha256_hex(dump, strlen(dump), hex);
    assert_summary(json_object_get(meta, "data"), n + 1, hex);
    free(dump);
    /* ["a...a"] of 4092 a's is exactly 4096 bytes: kept */
    assert_true(json_is_array(json_object_get(meta, "list")));
    assert_string_equal(json_string_value(json_object_get(meta, "small")), "x");
    assert_int_equal(json_integer_value(json_object_get(meta, "limit")), 5);
    /* the arguments themselves are untouched */
    assert_int_equal(json_string_length(json_object_get(args, "over")), n + 1);
    json_decref(meta);

    /* Redacted before it is summarized: the hash is of the redacted JSON, never of a credential. */
    json_object_set_new(data, "note", json_string("ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"));
    meta = tool_event_metadata(args);
    assert_non_null(meta);
    {
        json_t *redacted = json_deep_copy(data);

        secret_redact_json(redacted);
        dump = json_dumps(redacted, JSON_COMPACT);
        assert_null(strstr(dump, "ghp_"));
        sha256_hex(dump, strlen(dump), hex);
        assert_summary(json_object_get(meta, "data"), strlen(dump), hex);
        free(dump);
        json_decref(redacted);
    }
    json_decref(meta);

    meta = tool_event_metadata(NULL);
    assert_int_equal(json_object_size(meta), 0);
    json_decref(meta);
    json_decref(args);

    /* The only large member is an object of 683 control characters: 683 bytes as a string but
     * {"k":"\u0001..."} is 8 + 683 * 6 = 4106 bytes as JSON, so it is summarized. */
    memset(s, '\001', 683);
    s[683] = '\0';
    args = json_pack("{s:{s:s}, s:s}", "data", "k", s, "small", "x");
    meta = tool_event_metadata(args);
    assert_non_null(meta);
    dump = json_dumps(json_object_get(args, "data"), JSON_COMPACT);
    assert_int_equal(strlen(dump), 4106);
    sha256_hex(dump, strlen(dump), hex);
    assert_summary(json_object_get(meta, "data"), 4106, hex);
    free(dump);
    json_decref(meta);
    json_decref(args);
    free(s);
}

/* Credentials are redacted wherever they are; arguments without any are recorded as they are. */
static void test_event_metadata_redacts(void **state)
{
    json_t *args = json_pack("{s:{s:[s, s]}, s:s}", "a", "b", "ok",
                             "x ghp_0123456789abcdefghijklmn", "c", "plain");
    json_t *meta, *plain;

    (void)state;
    assert_non_null(args);
    meta = tool_event_metadata(args);
    assert_non_null(meta);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(json_object_get(meta, "a"), "b"), 1)),
        "[redacted]");
    assert_string_equal(json_string_value(json_object_get(meta, "c")), "plain");
    /* the arguments themselves are untouched */
    assert_non_null(strstr(
        json_string_value(json_array_get(json_object_get(json_object_get(args, "a"), "b"), 1)),
        "ghp_"));
    json_decref(meta);
    json_object_set_new(args, "note_password", json_string("p"));
    json_array_remove(json_object_get(json_object_get(args, "a"), "b"), 1);
    meta = tool_event_metadata(args);
    assert_string_equal(json_string_value(json_object_get(meta, "note_password")), "[redacted]");
    assert_string_equal(json_string_value(json_object_get(args, "note_password")), "p");
    json_decref(meta);
    json_object_del(args, "note_password");
    plain = json_deep_copy(args);
    meta = tool_event_metadata(args);
    assert_true(json_equal(meta, plain));
    json_decref(meta);
    json_decref(plain);
    json_decref(args);
}

/* Each tool's description and the server's instructions stay under 2 KB (CONTRACT §8). */
static void test_descriptions_under_2_kb(void **state)
{
    grove_err err = GROVE_ERR_INIT;
    size_t i;

    (void)state;
    for (i = 0; i < tools_count(); i++) {
        json_t *spec = tools_spec(i, &err);
        const char *d;

        assert_non_null(spec);
        d = json_string_value(json_object_get(spec, "description"));
        assert_non_null(d);
        if (strlen(d) >= 2048)
            fail_msg("tool '%s': description of %zu bytes", tools_get(i)->name, strlen(d));
        json_decref(spec);
    }
    assert_non_null(tools_table()->instructions);
    assert_true(strlen(tools_table()->instructions) < 2048);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_unique_and_findable),
        cmocka_unit_test(test_every_definition_complete),
        cmocka_unit_test(test_empty_arguments_validate_where_nothing_required),
        cmocka_unit_test(test_event_metadata_summarizes_large_values),
        cmocka_unit_test(test_event_metadata_redacts),
        cmocka_unit_test(test_descriptions_under_2_kb),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
