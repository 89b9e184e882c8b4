/* Unit tests of mcp/schema: each keyword, the messages, schema_check, and hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mcp/schema.h"

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);

    if (!j)
        print_error("test JSON does not parse: %s: %s\n", text, e.text);
    assert_non_null(j);
    return j;
}

/* Validates instance text against schema text (as its own root); msg gets the message. */
static int run(const char *schema, const char *instance, char *msg, size_t msglen)
{
    json_t *s = parse(schema);
    json_t *i = parse(instance);
    int rc = schema_validate(s, s, i, msg, msglen);

    json_decref(s);
    json_decref(i);
    return rc;
}

static void expect_valid(const char *schema, const char *instance)
{
    char msg[512];
    int rc = run(schema, instance, msg, sizeof(msg));

    if (rc != 1)
        print_error("%s against %s: %d (%s)\n", instance, schema, rc, msg);
    assert_int_equal(rc, 1);
    assert_string_equal(msg, "");
}

/* Invalid with exactly the message `want`. */
static void expect_invalid(const char *schema, const char *instance, const char *want)
{
    char msg[512];
    int rc = run(schema, instance, msg, sizeof(msg));

    if (rc != 0)
        print_error("%s against %s: %d (%s)\n", instance, schema, rc, msg);
    assert_int_equal(rc, 0);
    assert_string_equal(msg, want);
}

/* schema_validate refuses the schema with a message containing `want`. */
static void expect_unusable(const char *schema, const char *instance, const char *want)
{
    char msg[512];
    int rc = run(schema, instance, msg, sizeof(msg));

    if (rc != -1 || !strstr(msg, want))
        print_error("%s against %s: %d (%s), wanted -1 with '%s'\n", instance, schema, rc, msg,
                    want);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(msg, want));
}

/* schema_check refuses the schema with exactly the message `want`. */
static void expect_check_fails(const char *schema, const char *want)
{
    json_t *s = parse(schema);
    char msg[512];
    int rc = schema_check(s, msg, sizeof(msg));

    if (rc != -1 || strcmp(msg, want) != 0)
        print_error("schema_check(%s): %d (%s), wanted '%s'\n", schema, rc, msg, want);
    assert_int_equal(rc, -1);
    assert_string_equal(msg, want);
    json_decref(s);
}

static void expect_check_ok(const char *schema)
{
    json_t *s = parse(schema);
    char msg[512];
    int rc = schema_check(s, msg, sizeof(msg));

    if (rc != 0)
        print_error("schema_check(%s): %s\n", schema, msg);
    assert_int_equal(rc, 0);
    json_decref(s);
}

static void test_type(void **state)
{
    (void)state;
    expect_valid("{\"type\": \"integer\"}", "3");
    expect_valid("{\"type\": \"integer\"}", "1.0");
    expect_valid("{\"type\": \"integer\"}", "-2e3");
    expect_invalid("{\"type\": \"integer\"}", "1.5", "(root): must be integer, not number");
    expect_invalid("{\"type\": \"integer\"}", "\"1\"", "(root): must be integer, not string");
    expect_valid("{\"type\": \"number\"}", "1.5");
    expect_valid("{\"type\": \"number\"}", "7");
    expect_invalid("{\"type\": \"number\"}", "true", "(root): must be number, not boolean");
    expect_valid("{\"type\": \"string\"}", "\"\"");
    expect_invalid("{\"type\": \"string\"}", "null", "(root): must be string, not null");
    expect_valid("{\"type\": \"boolean\"}", "false");
    expect_invalid("{\"type\": \"boolean\"}", "0", "(root): must be boolean, not integer");
    expect_valid("{\"type\": \"null\"}", "null");
    expect_valid("{\"type\": \"object\"}", "{}");
    expect_invalid("{\"type\": \"object\"}", "[]", "(root): must be object, not array");
    expect_valid("{\"type\": \"array\"}", "[]");
    expect_valid("{\"type\": [\"integer\", \"null\"]}", "null");
    expect_valid("{\"type\": [\"integer\", \"null\"]}", "4.0");
    expect_invalid("{\"properties\": {\"limit\": {\"type\": [\"integer\", \"null\"]}}}",
                   "{\"limit\": \"ten\"}", "/limit: must be integer or null, not string");
    expect_invalid("{\"type\": [\"integer\", \"string\", \"null\"]}", "{}",
                   "(root): must be integer, string or null, not object");
}

static void test_enum_const(void **state)
{
    (void)state;
    expect_valid("{\"enum\": [\"a\", \"b\"]}", "\"b\"");
    expect_invalid("{\"properties\": {\"status\": {\"enum\": [\"running\", \"done\"]}}}",
                   "{\"status\": \"gone\"}", "/status: must be one of 'running', 'done'");
    /* numbers compare by value, objects regardless of member order */
    expect_valid("{\"enum\": [1, 2]}", "1.0");
    expect_valid("{\"enum\": [1.0]}", "1");
    expect_invalid("{\"enum\": [1, 2]}", "1.5", "(root): must be one of 1, 2");
    expect_valid("{\"enum\": [{\"a\": 1, \"b\": [true]}]}", "{\"b\": [true], \"a\": 1.0}");
    expect_invalid("{\"enum\": [{\"a\": 1}, null, [1]]}", "{\"a\": 2}",
                   "(root): must be one of an object, null, an array");
    expect_invalid("{\"enum\": [[1, 2]]}", "[2, 1]", "(root): must be one of an array");
    expect_invalid("{\"enum\": [false]}", "0", "(root): must be one of false");
    expect_invalid("{\"enum\": []}", "0", "(root): no value is allowed ('enum' is empty)");
    expect_valid("{\"const\": 2}", "2.0");
    expect_invalid("{\"const\": \"x\"}", "\"y\"", "(root): must be 'x'");
    expect_invalid("{\"const\": null}", "false", "(root): must be null");
    expect_valid("{\"const\": {\"k\": [1, {\"z\": null}]}}", "{\"k\": [1.0, {\"z\": null}]}");
    expect_invalid("{\"const\": {\"k\": 1}}", "{\"k\": 1, \"j\": 1}", "(root): must be an object");
}

static void test_enum_message_is_bounded(void **state)
{
    char schema[8192] = "{\"enum\": [";
    char msg[512];
    int i, rc;

    (void)state;
    for (i = 0; i < 100; i++)
        snprintf(schema + strlen(schema), sizeof(schema) - strlen(schema), "%s\"value-%03d\"",
                 i ? ", " : "", i);
    strcat(schema, "]}");
    rc = run(schema, "\"other\"", msg, sizeof(msg));
    assert_int_equal(rc, 0);
    assert_non_null(strstr(msg, "(root): must be one of 'value-000', 'value-001'"));
    assert_non_null(strstr(msg, ", ..."));
    assert_null(strstr(msg, "value-099"));
}

static void test_object_keywords(void **state)
{
    const char *tool = "{\"type\": \"object\", \"additionalProperties\": false,"
                       " \"required\": [\"title\"],"
                       " \"properties\": {\"title\": {\"type\": \"string\"},"
                       "  \"limit\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 500}}}";

    (void)state;
    expect_valid(tool, "{\"title\": \"t\", \"limit\": 500}");
    expect_invalid(tool, "{}", "(root): missing required property 'title'");
    expect_invalid(tool, "{\"title\": \"t\", \"foo\": 1}", "/foo: unknown property");
    expect_invalid(tool, "{\"title\": \"t\", \"limit\": 501}", "/limit: must be <= 500");
    expect_invalid(tool, "{\"title\": 3}", "/title: must be string, not integer");
    expect_invalid("{\"properties\": {\"a\": {\"required\": [\"b\"]}}}", "{\"a\": {}}",
                   "/a: missing required property 'b'");
    /* a property declared false is not "unknown" */
    expect_invalid("{\"properties\": {\"bar\": false}, \"additionalProperties\": false}",
                   "{\"bar\": 1}", "/bar: not allowed");
    expect_valid("{\"additionalProperties\": {\"type\": \"boolean\"}}", "{\"x\": true}");
    expect_invalid("{\"properties\": {\"a\": {}}, \"additionalProperties\": {\"type\": "
                   "\"boolean\"}}",
                   "{\"a\": 1, \"b~/c\": 1}", "/b~0~1c: must be boolean, not integer");
    expect_valid("{\"required\": [\"a\"], \"additionalProperties\": false}", "[1]");
    expect_valid("{\"minProperties\": 1, \"maxProperties\": 2}", "{\"a\": 1}");
    expect_invalid("{\"minProperties\": 1}", "{}", "(root): must have at least 1 property");
    expect_invalid("{\"maxProperties\": 2}", "{\"a\": 1, \"b\": 2, \"c\": 3}",
                   "(root): must have at most 2 properties");
    expect_valid("{\"maxProperties\": 2.0}", "{\"a\": 1, \"b\": 2}");
}

static void test_array_keywords(void **state)
{
    (void)state;
    expect_valid("{\"items\": {\"type\": \"string\"}}", "[\"a\", \"b\"]");
    expect_invalid("{\"properties\": {\"tags\": {\"items\": {\"type\": \"string\"}}}}",
                   "{\"tags\": [\"a\", 2]}", "/tags/1: must be string, not integer");
    expect_invalid("{\"items\": false}", "[1]", "/0: not allowed");
    expect_valid("{\"items\": false}", "[]");
    expect_valid("{\"minItems\": 1, \"maxItems\": 2}", "[1, 2]");
    expect_invalid("{\"minItems\": 1}", "[]", "(root): must have at least 1 item");
    expect_invalid("{\"maxItems\": 2}", "[1, 2, 3]", "(root): must have at most 2 items");
    expect_valid("{\"uniqueItems\": true}", "[1, \"1\", true, [1], {\"a\": 1}, null]");
    expect_valid("{\"uniqueItems\": false}", "[1, 1]");
    expect_invalid("{\"uniqueItems\": true}", "[1, 2, 1.0]",
                   "(root): must not contain duplicates (items 0 and 2 are equal)");
    expect_invalid("{\"uniqueItems\": true}", "[{\"a\": 1, \"b\": 2}, {\"b\": 2, \"a\": 1}]",
                   "(root): must not contain duplicates (items 0 and 1 are equal)");
    expect_valid("{\"uniqueItems\": true}", "[0, false, [], {}, \"\"]");
}

static void test_string_lengths_count_code_points(void **state)
{
    (void)state;
    /* "héllo" is 5 code points in 6 bytes; U+1F4A9 is one code point in 4 bytes */
    expect_valid("{\"maxLength\": 5}", "\"h\\u00e9llo\"");
    expect_invalid("{\"maxLength\": 4}", "\"h\\u00e9llo\"",
                   "(root): must be at most 4 characters long");
    expect_valid("{\"maxLength\": 1}", "\"\\ud83d\\udca9\"");
    expect_invalid("{\"minLength\": 2}", "\"\\ud83d\\udca9\"",
                   "(root): must be at least 2 characters long");
    expect_invalid("{\"minLength\": 1}", "\"\"", "(root): must be at least 1 character long");
    expect_valid("{\"minLength\": 1, \"maxLength\": 1}", "\"\\u20ac\"");
    expect_valid("{\"maxLength\": 0}", "12345");
}

static void test_pattern(void **state)
{
    const char *issue = "{\"properties\": {\"issue\": {\"pattern\": \"^[0-9]+$\"}}}";

    (void)state;
    expect_valid(issue, "{\"issue\": \"42\"}");
    expect_invalid(issue, "{\"issue\": \"42a\"}", "/issue: does not match pattern '^[0-9]+$'");
    /* unanchored search, as JSON Schema requires */
    expect_valid("{\"pattern\": \"b+\"}", "\"aabbcc\"");
    expect_invalid("{\"pattern\": \"b+\"}", "\"aacc\"", "(root): does not match pattern 'b+'");
    expect_valid("{\"pattern\": \"^a\\\\.b$\"}", "\"a.b\"");
    expect_invalid("{\"pattern\": \"^a\\\\.b$\"}", "\"axb\"",
                   "(root): does not match pattern '^a\\.b$'");
    expect_valid("{\"pattern\": \"^(ab|cd){2}$\"}", "\"abcd\"");
    expect_valid("{\"pattern\": \"^x\"}", "7");
    /* $ anchors at the very end, not before a final newline */
    expect_invalid("{\"pattern\": \"^abc$\"}", "\"abc\\n\"",
                   "(root): does not match pattern '^abc$'");
}

static void test_numbers(void **state)
{
    (void)state;
    expect_valid("{\"minimum\": 1, \"maximum\": 500}", "1");
    expect_valid("{\"minimum\": 1, \"maximum\": 500}", "500.0");
    expect_invalid("{\"minimum\": 1}", "0.5", "(root): must be >= 1");
    expect_invalid("{\"maximum\": 500}", "500.5", "(root): must be <= 500");
    expect_invalid("{\"maximum\": 1.1}", "2", "(root): must be <= 1.1");
    expect_valid("{\"exclusiveMinimum\": 0}", "0.001");
    expect_invalid("{\"exclusiveMinimum\": 0}", "0", "(root): must be > 0");
    expect_invalid("{\"exclusiveMaximum\": 10}", "10.0", "(root): must be < 10");
    expect_valid("{\"exclusiveMaximum\": 10}", "9");
    expect_valid("{\"minimum\": 5}", "\"not a number\"");
    /* int64 against a double compares exactly: 2^53 + 1 is above 2^53 */
    expect_invalid("{\"maximum\": 9007199254740992.0}", "9007199254740993",
                   "(root): must be <= 9007199254740992");
    expect_valid("{\"maximum\": 9007199254740992.0}", "9007199254740992");
    expect_valid("{\"minimum\": -9223372036854775808}", "-9223372036854775808");
    expect_invalid("{\"maximum\": 1e30}", "1e31", "(root): must be <= 1e+30");
    expect_valid("{\"maximum\": 1e30}", "9223372036854775807");
}

static void test_multiple_of(void **state)
{
    (void)state;
    expect_valid("{\"multipleOf\": 2}", "10");
    expect_valid("{\"multipleOf\": 2}", "-4");
    expect_invalid("{\"multipleOf\": 2}", "7", "(root): must be a multiple of 2");
    expect_valid("{\"multipleOf\": 2}", "8.0");
    expect_invalid("{\"multipleOf\": 2}", "8.5", "(root): must be a multiple of 2");
    expect_valid("{\"multipleOf\": 1.5}", "4.5");
    expect_invalid("{\"multipleOf\": 1.5}", "35", "(root): must be a multiple of 1.5");
    expect_valid("{\"multipleOf\": 0.0001}", "0.0075");
    expect_invalid("{\"multipleOf\": 0.0001}", "0.00751", "(root): must be a multiple of 0.0001");
    expect_valid("{\"multipleOf\": 0.1}", "0.3");
    expect_invalid("{\"multipleOf\": 1}", "10.000001", "(root): must be a multiple of 1");
    /* the quotient overflows a double */
    expect_invalid("{\"multipleOf\": 0.123456789}", "1e308",
                   "(root): must be a multiple of 0.123456789");
    expect_valid("{\"multipleOf\": 3}", "-9223372036854775806");
    expect_invalid("{\"multipleOf\": 3}", "9223372036854775807", "(root): must be a multiple of 3");
}

static void test_combinators(void **state)
{
    (void)state;
    expect_valid("{\"allOf\": [{\"minimum\": 3}, {\"maximum\": 5}]}", "4");
    /* allOf passes on the failing subschema's own message */
    expect_invalid("{\"properties\": {\"x\": {\"allOf\": [{\"minimum\": 3}, {\"maximum\": 5}]}}}",
                   "{\"x\": 6}", "/x: must be <= 5");
    expect_valid("{\"anyOf\": [{\"type\": \"integer\"}, {\"type\": \"null\"}]}", "null");
    expect_invalid("{\"anyOf\": [{\"type\": \"integer\"}, {\"type\": \"null\"}]}", "\"s\"",
                   "(root): must match at least one schema in 'anyOf'");
    expect_valid("{\"oneOf\": [{\"type\": \"integer\"}, {\"minimum\": 2}]}", "1");
    expect_invalid("{\"oneOf\": [{\"type\": \"integer\"}, {\"minimum\": 2}]}", "3",
                   "(root): must match exactly one schema in 'oneOf' (matches 0 and 1)");
    expect_invalid("{\"oneOf\": [{\"type\": \"integer\"}, {\"minimum\": 2}]}", "1.5",
                   "(root): must match exactly one schema in 'oneOf' (matches none)");
    expect_valid("{\"not\": {\"type\": \"string\"}}", "1");
    expect_invalid("{\"not\": {\"type\": \"string\"}}", "\"s\"",
                   "(root): must not match the schema in 'not'");
    expect_invalid("{\"properties\": {\"foo\": {\"not\": {}}}}", "{\"foo\": 1}",
                   "/foo: must not match the schema in 'not'");
    /* a failure inside a branch that did not decide leaves no message behind */
    expect_valid("{\"anyOf\": [{\"required\": [\"a\"]}, {\"required\": [\"b\"]}]}", "{\"b\": 1}");
    expect_valid("{\"not\": {\"required\": [\"a\"]}}", "{}");
}

static void test_boolean_schemas(void **state)
{
    (void)state;
    expect_valid("true", "{\"anything\": [1]}");
    expect_invalid("false", "null", "(root): not allowed");
    expect_valid("{\"properties\": {\"a\": true}}", "{\"a\": 1}");
    expect_invalid("{\"allOf\": [true, false]}", "1", "(root): not allowed");
}

static void test_ref(void **state)
{
    const char *tree = "{\"type\": \"object\", \"additionalProperties\": false,"
                       " \"properties\": {\"name\": {\"type\": \"string\"},"
                       "  \"children\": {\"type\": \"array\", \"items\": {\"$ref\": \"#\"}}}}";
    const char *defs = "{\"$defs\": {\"id\": {\"type\": \"string\", \"maxLength\": 3},"
                       "  \"a b\": {\"type\": \"integer\"}, \"x/y~\": {\"type\": \"null\"}},"
                       " \"definitions\": {\"old\": {\"type\": \"boolean\"}},"
                       " \"properties\": {\"id\": {\"$ref\": \"#/$defs/id\", \"description\": "
                       "\"annotations may sit beside $ref\"},"
                       "  \"sp\": {\"$ref\": \"#/$defs/a%20b\"},"
                       "  \"esc\": {\"$ref\": \"#/$defs/x~1y~0\"},"
                       "  \"old\": {\"$ref\": \"#/definitions/old\"},"
                       "  \"same\": {\"$ref\": \"#/properties/id\"}}}";

    (void)state;
    expect_valid(tree, "{\"name\": \"r\", \"children\": [{\"name\": \"c\", \"children\": []}]}");
    expect_invalid(tree, "{\"children\": [{\"children\": [{\"nmae\": \"x\"}]}]}",
                   "/children/0/children/0/nmae: unknown property");
    expect_valid(defs, "{\"id\": \"abc\", \"sp\": 1, \"esc\": null, \"old\": true}");
    expect_invalid(defs, "{\"id\": \"abcd\"}", "/id: must be at most 3 characters long");
    expect_invalid(defs, "{\"sp\": \"1\"}", "/sp: must be integer, not string");
    expect_invalid(defs, "{\"esc\": 0}", "/esc: must be null, not integer");
    expect_invalid(defs, "{\"old\": 0}", "/old: must be boolean, not integer");
    expect_invalid(defs, "{\"same\": \"abcd\"}", "/same: must be at most 3 characters long");
    expect_valid("{\"$ref\": \"#/$defs/t\", \"$defs\": {\"t\": true}}", "5");
    expect_invalid("{\"$ref\": \"#/$defs/f\", \"$defs\": {\"f\": false}}", "5",
                   "(root): not allowed");
    expect_valid("{\"allOf\": [{\"type\": \"integer\"}, {\"$ref\": \"#/allOf/0\"}]}", "5");
    expect_valid("{\"properties\": {\"$ref\": {\"type\": \"string\"}}}", "{\"$ref\": \"x\"}");
}

/* A subschema validated with the document it lives in as root. */
static void test_ref_with_separate_root(void **state)
{
    json_t *root = parse("{\"$defs\": {\"n\": {\"type\": \"integer\"}},"
                         " \"properties\": {\"a\": {\"properties\": {\"b\": {\"$ref\": "
                         "\"#/$defs/n\"}}}}}");
    json_t *sub =
        json_object_get(json_object_get(json_object_get(root, "properties"), "a"), "properties");
    json_t *ok = parse("{\"b\": 1}");
    json_t *bad = parse("{\"b\": \"x\"}");
    char msg[256];

    (void)state;
    sub = json_object_get(sub, "b");
    assert_non_null(sub);
    assert_int_equal(schema_validate(root, sub, json_object_get(ok, "b"), msg, sizeof(msg)), 1);
    assert_int_equal(schema_validate(root, sub, json_object_get(bad, "b"), msg, sizeof(msg)), 0);
    assert_string_equal(msg, "(root): must be integer, not string");
    /* with itself as root the reference does not resolve */
    assert_int_equal(schema_validate(sub, sub, json_object_get(ok, "b"), msg, sizeof(msg)), -1);
    assert_non_null(strstr(msg, "$ref '#/$defs/n' points to nothing"));
    /* NULL root means the schema is its own root */
    assert_int_equal(schema_validate(NULL, sub, json_object_get(ok, "b"), msg, sizeof(msg)), -1);
    json_decref(root);
    json_decref(ok);
    json_decref(bad);
}

static void test_ref_loops(void **state)
{
    (void)state;
    expect_unusable("{\"$ref\": \"#\"}", "1", "(a $ref loop?)");
    expect_unusable("{\"$defs\": {\"a\": {\"$ref\": \"#/$defs/b\"},"
                    " \"b\": {\"allOf\": [{\"$ref\": \"#/$defs/a\"}]}}, \"$ref\": \"#/$defs/a\"}",
                    "{}", "(a $ref loop?)");
    /* the loop is found even behind anyOf, where failures are otherwise quiet */
    expect_unusable("{\"anyOf\": [{\"$ref\": \"#\"}]}", "1", "(a $ref loop?)");
}

/* Builds {"a": {"a": ... {}}} with `levels` objects below the top one. */
static json_t *nested_objects(int levels)
{
    json_t *top = json_object();
    json_t *cur = top;
    int i;

    for (i = 0; i < levels; i++) {
        json_t *next = json_object();

        assert_int_equal(json_object_set_new(cur, "a", next), 0);
        cur = next;
    }
    return top;
}

static json_t *nested_arrays(int levels)
{
    json_t *top = json_array();
    json_t *cur = top;
    int i;

    for (i = 0; i < levels; i++) {
        json_t *next = json_array();

        assert_int_equal(json_array_append_new(cur, next), 0);
        cur = next;
    }
    return top;
}

static void test_deep_instances_are_bounded(void **state)
{
    json_t *schema = parse("{\"type\": \"object\", \"properties\": {\"a\": {\"$ref\": \"#\"}}}");
    json_t *ok = nested_objects(128);
    json_t *over = nested_objects(129);
    json_t *deep = nested_objects(5000);
    json_t *pair = json_array();
    json_t *konst;
    char msg[1024];
    int rc;

    (void)state;
    assert_int_equal(schema_validate(schema, schema, ok, msg, sizeof(msg)), 1);
    assert_int_equal(schema_validate(schema, schema, over, msg, sizeof(msg)), 0);
    assert_non_null(strstr(msg, ": nested deeper than 128 levels"));
    json_decref(over);
    rc = schema_validate(schema, schema, deep, msg, sizeof(msg));
    assert_int_equal(rc, 0);
    assert_non_null(strstr(msg, ": nested deeper than 128 levels"));
    assert_true(strncmp(msg, "/a/a/a/", 7) == 0);
    /* a schema that does not descend does not recurse */
    json_decref(schema);
    schema = parse("{\"type\": \"object\"}");
    assert_int_equal(schema_validate(schema, schema, deep, msg, sizeof(msg)), 1);
    json_decref(schema);

    /* equality (uniqueItems, const, enum) on deep values */
    assert_int_equal(json_array_append_new(pair, nested_arrays(5000)), 0);
    assert_int_equal(json_array_append_new(pair, nested_arrays(5000)), 0);
    schema = parse("{\"uniqueItems\": true}");
    assert_int_equal(schema_validate(schema, schema, pair, msg, sizeof(msg)), 0);
    assert_string_equal(msg, "(root): nested too deeply to compare");
    json_decref(schema);
    schema = json_object();
    konst = nested_arrays(5000);
    assert_int_equal(json_object_set_new(schema, "const", konst), 0);
    assert_int_equal(schema_validate(schema, schema, json_array_get(pair, 0), msg, sizeof(msg)), 0);
    assert_string_equal(msg, "(root): nested too deeply to compare");
    /* shallower than the limit, they compare normally */
    json_decref(pair);
    pair = nested_arrays(100);
    json_object_set_new(schema, "const", nested_arrays(100));
    assert_int_equal(schema_validate(schema, schema, pair, msg, sizeof(msg)), 1);
    json_decref(schema);
    json_decref(pair);
    json_decref(ok);
    json_decref(deep);
}

static void test_deep_schemas_are_bounded(void **state)
{
    json_t *ok = json_true();
    json_t *deep = json_true();
    char msg[1024];
    int i;

    (void)state;
    for (i = 0; i < 127; i++) {
        json_t *s = json_object();

        json_object_set_new(s, "not", ok);
        ok = s;
    }
    for (i = 0; i < 3000; i++) {
        json_t *s = json_object();

        json_object_set_new(s, "not", deep);
        deep = s;
    }
    assert_int_equal(schema_check(ok, msg, sizeof(msg)), 0);
    /* 127 negations of true */
    assert_int_equal(schema_validate(ok, ok, json_null(), msg, sizeof(msg)), 0);
    assert_int_equal(schema_check(deep, msg, sizeof(msg)), -1);
    assert_non_null(strstr(msg, ": schema nested deeper than 128 levels"));
    assert_true(strncmp(msg, "/not/not/", 9) == 0);
    assert_int_equal(schema_validate(deep, deep, json_null(), msg, sizeof(msg)), -1);
    json_decref(ok);
    json_decref(deep);
}

static void test_check_accepts(void **state)
{
    (void)state;
    expect_check_ok("true");
    expect_check_ok("false");
    expect_check_ok("{}");
    expect_check_ok("{\"$schema\": \"https://json-schema.org/draft/2020-12/schema\","
                    " \"$id\": \"https://example.com/s\", \"title\": \"t\", \"description\": "
                    "\"d\", \"$comment\": \"c\", \"default\": [1], \"examples\": [1, \"x\"],"
                    " \"format\": \"date-time\", \"readOnly\": true, \"writeOnly\": false,"
                    " \"deprecated\": false}");
    expect_check_ok("{\"minLength\": 2.0, \"maxItems\": 0, \"multipleOf\": 0.5,"
                    " \"type\": [\"string\", \"null\"], \"enum\": [], \"required\": []}");
    expect_check_ok("{\"pattern\": \"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$\"}");
    expect_check_ok("{\"pattern\": \"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}"
                    "(\\\\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?$\"}");
    /* format is an annotation only */
    expect_valid("{\"format\": \"email\"}", "\"not an email\"");
    expect_valid("{\"default\": 5, \"type\": \"string\"}", "\"s\"");
}

static void test_check_rejects(void **state)
{
    (void)state;
    expect_check_fails("{\"maxValue\": 3}", "(root): unknown keyword 'maxValue'");
    expect_check_fails("{\"properties\": {\"limit\": {\"type\": \"integer\", \"maxValue\": 3}}}",
                       "/properties/limit: unknown keyword 'maxValue'");
    expect_check_fails("{\"patternProperties\": {}}",
                       "(root): unknown keyword 'patternProperties'");
    expect_check_fails("{\"anyOf\": [{}, {\"if\": {}}]}", "/anyOf/1: unknown keyword 'if'");
    expect_check_fails("{\"type\": \"strnig\"}", "(root): unknown type 'strnig' in 'type'");
    expect_check_fails("{\"type\": []}",
                       "(root): 'type' must be a type name or a non-empty array of them");
    expect_check_fails("{\"type\": [\"null\", \"null\"]}", "(root): 'type' lists 'null' twice");
    expect_check_fails("{\"type\": 3}",
                       "(root): 'type' must be a type name or a non-empty array of them");
    expect_check_fails("{\"minLength\": -1}", "(root): 'minLength' must be a non-negative integer");
    expect_check_fails("{\"maxItems\": 1.5}", "(root): 'maxItems' must be a non-negative integer");
    expect_check_fails("{\"maxLength\": \"3\"}",
                       "(root): 'maxLength' must be a non-negative integer");
    expect_check_fails("{\"minimum\": \"1\"}", "(root): 'minimum' must be a number");
    expect_check_fails("{\"exclusiveMinimum\": true}",
                       "(root): 'exclusiveMinimum' must be a number");
    expect_check_fails("{\"multipleOf\": 0}",
                       "(root): 'multipleOf' must be a number greater than 0");
    expect_check_fails("{\"multipleOf\": -2}",
                       "(root): 'multipleOf' must be a number greater than 0");
    expect_check_fails("{\"uniqueItems\": 1}", "(root): 'uniqueItems' must be a boolean");
    expect_check_fails("{\"required\": \"a\"}", "(root): 'required' must be an array of strings");
    expect_check_fails("{\"required\": [1]}", "(root): 'required' must be an array of strings");
    expect_check_fails("{\"required\": [\"a\", \"a\"]}", "(root): 'required' lists 'a' twice");
    expect_check_fails("{\"properties\": []}", "(root): 'properties' must be an object of schemas");
    expect_check_fails("{\"properties\": {\"a\": 1}}",
                       "/properties/a: a schema must be an object or a boolean, not integer");
    expect_check_fails("{\"$defs\": {\"a\": {\"typo\": 1}}}", "/$defs/a: unknown keyword 'typo'");
    expect_check_fails("{\"allOf\": []}", "(root): 'allOf' must be a non-empty array of schemas");
    expect_check_fails("{\"oneOf\": {}}", "(root): 'oneOf' must be a non-empty array of schemas");
    expect_check_fails("{\"not\": null}",
                       "/not: a schema must be an object or a boolean, not null");
    expect_check_fails("{\"items\": [{}]}",
                       "(root): array-form 'items' (tuple validation) is not supported");
    expect_check_fails("{\"enum\": {}}", "(root): 'enum' must be an array");
    expect_check_fails("{\"title\": 3}", "(root): 'title' must be a string");
    expect_check_fails("{\"readOnly\": \"yes\"}", "(root): 'readOnly' must be a boolean");
    expect_check_fails("{\"examples\": 3}", "(root): 'examples' must be an array");
    expect_check_fails("{\"properties\": {\"a\": {\"$id\": \"x\"}}}",
                       "/properties/a: '$id' below the root changes how $ref resolves: not "
                       "supported");
}

static void test_check_rejects_patterns(void **state)
{
    char msg[512];
    json_t *s;

    (void)state;
    expect_check_fails("{\"pattern\": \"(\"}",
                       "(root): pattern '(' is not a valid POSIX extended regex: Unmatched ( or "
                       "\\(");
    expect_check_fails("{\"pattern\": 5}", "(root): 'pattern' must be a string");
    /* ECMA-262 syntax that POSIX reads differently or not at all */
    expect_check_fails("{\"pattern\": \"^\\\\d+$\"}",
                       "(root): pattern '^\\d+$' uses an escape POSIX ERE does not share with "
                       "ECMA-262 (only a special character may be escaped)");
    expect_check_fails("{\"pattern\": \"(a)\\\\1\"}",
                       "(root): pattern '(a)\\1' uses an escape POSIX ERE does not share with "
                       "ECMA-262 (only a special character may be escaped)");
    expect_check_fails("{\"pattern\": \"[\\\\]]\"}",
                       "(root): pattern '[\\]]' has a backslash inside brackets (an escape in "
                       "ECMA-262, a literal in POSIX)");
    expect_check_fails("{\"pattern\": \"[[:alpha:]]\"}",
                       "(root): pattern '[[:alpha:]]' uses a POSIX bracket class ('[:alpha:]' "
                       "...), which ECMA-262 lacks");
    expect_check_fails("{\"pattern\": \"[]a]\"}",
                       "(root): pattern '[]a]' starts a bracket expression with ']', which "
                       "ECMA-262 and POSIX read differently");
    expect_check_fails("{\"pattern\": \"a\\\\\"}", "(root): pattern 'a\\' ends with a backslash");
    expect_check_fails("{\"pattern\": \"(?:a)\"}",
                       "(root): pattern '(?:a)' is not a valid POSIX extended regex: Invalid "
                       "preceding regular expression");
    /* a NUL would cut the pattern short */
    s = json_object();
    json_object_set_new(s, "pattern", json_stringn("a\0b", 3));
    assert_int_equal(schema_check(s, msg, sizeof(msg)), -1);
    assert_string_equal(msg, "(root): pattern 'a' contains a NUL character");
    json_decref(s);
}

static void test_check_rejects_refs(void **state)
{
    (void)state;
    expect_check_fails("{\"$ref\": \"#/$defs/nope\"}",
                       "(root): $ref '#/$defs/nope' points to nothing");
    expect_check_fails("{\"$ref\": \"http://example.com/s.json\"}",
                       "(root): $ref 'http://example.com/s.json' only local references ('#', "
                       "'#/...') are supported");
    expect_check_fails("{\"$ref\": \"other.json#/a\"}",
                       "(root): $ref 'other.json#/a' only local references ('#', '#/...') are "
                       "supported");
    expect_check_fails("{\"$ref\": \"#anchor\"}",
                       "(root): $ref '#anchor' only JSON-pointer fragments ('#', '#/...') are "
                       "supported");
    expect_check_fails("{\"$ref\": 3}", "(root): '$ref' must be a string");
    /* the pointer must lead to a subschema, not into a value */
    expect_check_fails("{\"enum\": [{}], \"properties\": {\"a\": {\"$ref\": \"#/enum/0\"}}}",
                       "/properties/a: $ref '#/enum/0' does not point to a subschema");
    expect_check_fails("{\"properties\": {\"a\": {\"$ref\": \"#/properties\"}}}",
                       "/properties/a: $ref '#/properties' does not point to a subschema");
    expect_check_fails("{\"allOf\": [{\"$ref\": \"#/allOf/01\"}]}",
                       "/allOf/0: $ref '#/allOf/01' points to nothing");
    expect_check_fails("{\"$ref\": \"#/$defs/a%2\", \"$defs\": {}}",
                       "(root): $ref '#/$defs/a%2' has a malformed percent escape");
    expect_check_fails("{\"$ref\": \"#/$defs/a~2\", \"$defs\": {}}",
                       "(root): $ref '#/$defs/a~2' has a malformed '~' escape");
    /* draft 7 ignores $ref's siblings, 2020-12 applies them: refused */
    expect_check_fails("{\"$defs\": {\"a\": {}}, \"properties\": {\"x\": {\"$ref\": "
                       "\"#/$defs/a\", \"maxItems\": 2}}}",
                       "/properties/x: 'maxItems' beside '$ref' is not supported (drafts "
                       "disagree on it)");
    expect_unusable("{\"properties\": {\"a\": {\"$ref\": \"#/$defs/b\"}}}", "{}",
                    "/properties/a: $ref '#/$defs/b' points to nothing");
}

/* The schema is checked whole, whatever part of it the instance reaches. */
static void test_validate_checks_whole_schema(void **state)
{
    (void)state;
    expect_unusable("{\"anyOf\": [true, {\"bogus\": 1}]}", "1",
                    "/anyOf/1: unknown keyword 'bogus'");
    expect_unusable("{\"properties\": {\"a\": {\"minLength\": \"x\"}}}", "{}",
                    "/properties/a: 'minLength' must be a non-negative integer");
}

static void test_weird_input(void **state)
{
    json_t *schemas[] = {json_integer(3), json_string("object"), json_null(), json_array(),
                         json_real(1.5)};
    json_t *inst = json_object();
    json_t *s = parse("{\"type\": \"string\", \"maxLength\": 3}");
    json_t *str = json_string("abcd");
    char msg[512], tiny[8];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(schemas) / sizeof(schemas[0]); i++) {
        assert_non_null(schemas[i]);
        assert_int_equal(schema_check(schemas[i], msg, sizeof(msg)), -1);
        assert_non_null(strstr(msg, "(root): a schema must be an object or a boolean, not "));
        assert_int_equal(schema_validate(schemas[i], schemas[i], inst, msg, sizeof(msg)), -1);
        assert_int_equal(schema_check(schemas[i], NULL, 0), -1);
        json_decref(schemas[i]);
    }
    assert_int_equal(schema_check(NULL, msg, sizeof(msg)), -1);
    assert_string_equal(msg, "(root): no schema");
    assert_int_equal(schema_validate(NULL, NULL, inst, msg, sizeof(msg)), -1);
    assert_int_equal(schema_validate(s, s, NULL, msg, sizeof(msg)), -1);
    assert_string_equal(msg, "(root): no instance");
    /* no message buffer, or a tiny one */
    assert_int_equal(schema_validate(s, s, str, NULL, 0), 0);
    assert_int_equal(schema_validate(s, s, str, msg, 0), 0);
    memset(tiny, 'x', sizeof(tiny));
    assert_int_equal(schema_validate(s, s, str, tiny, 5), 0);
    assert_string_equal(tiny, "(roo");
    assert_int_equal(tiny[5], 'x');
    assert_int_equal(schema_validate(s, s, str, tiny, 1), 0);
    assert_string_equal(tiny, "");
    json_decref(inst);
    json_decref(s);
    json_decref(str);
}

/* Strings and keys with NUL bytes (json_stringn, json_object_setn) are whole values. */
static void test_nul_bytes(void **state)
{
    json_t *s = parse("{\"properties\": {\"a\": {\"type\": \"string\", \"maxLength\": 4,"
                      " \"pattern\": \"^[a-z]*$\"}, \"p\": {\"pattern\": \"d$\"},"
                      " \"e\": {\"enum\": [\"ab\"]}},"
                      " \"required\": [\"a\"], \"additionalProperties\": false}");
    json_t *inst = json_object();
    char msg[512];

    (void)state;
    /* 5 code points, NUL included */
    json_object_set_new(inst, "a", json_stringn("ab\0cd", 5));
    assert_int_equal(schema_validate(s, s, inst, msg, sizeof(msg)), 0);
    assert_string_equal(msg, "/a: must be at most 4 characters long");
    /* the pattern sees past the NUL (which no bracket of letters matches) */
    json_object_set_new(inst, "a", json_stringn("a\0cd", 4));
    assert_int_equal(schema_validate(s, s, inst, msg, sizeof(msg)), 0);
    assert_string_equal(msg, "/a: does not match pattern '^[a-z]*$'");
    json_object_set_new(inst, "a", json_string("abcd"));
    json_object_set_new(inst, "p", json_stringn("x\0d", 3));
    assert_int_equal(schema_validate(s, s, inst, msg, sizeof(msg)), 1);
    json_object_set_new(inst, "p", json_stringn("d\0x", 3));
    assert_int_equal(schema_validate(s, s, inst, msg, sizeof(msg)), 0);
    assert_string_equal(msg, "/p: does not match pattern 'd$'");
    json_object_del(inst, "p");
    /* "ab\0" is not "ab" */
    json_object_set_new(inst, "e", json_stringn("ab\0", 3));
    assert_int_equal(schema_validate(s, s, inst, msg, sizeof(msg)), 0);
    assert_string_equal(msg, "/e: must be one of 'ab'");
    json_object_del(inst, "e");
    /* a key "a\0b" is neither "a" nor allowed */
    json_object_setn_new(inst, "a\0b", 3, json_integer(1));
    assert_int_equal(schema_validate(s, s, inst, msg, sizeof(msg)), 0);
    assert_string_equal(msg, "/a?b: unknown property");
    json_object_del(inst, "a");
    assert_int_equal(schema_validate(s, s, inst, msg, sizeof(msg)), 0);
    assert_string_equal(msg, "(root): missing required property 'a'");
    json_decref(inst);
    json_decref(s);
}

/* A keyword whose name holds a NUL is not the keyword before the NUL. */
static void test_nul_in_keyword(void **state)
{
    json_t *s = json_object();
    char msg[512];

    (void)state;
    json_object_setn_new(s, "type\0x", 6, json_string("string"));
    assert_int_equal(schema_check(s, msg, sizeof(msg)), -1);
    assert_string_equal(msg, "(root): unknown keyword 'type?x'");
    json_decref(s);
}

/* Messages cut to fit the buffer stay valid UTF-8 (they go into JSON). */
static void test_message_truncation_keeps_utf8(void **state)
{
    json_t *s = parse("{\"pattern\": \"^\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9$\"}");
    json_t *inst = json_string("x");
    char msg[64];
    size_t len;

    (void)state;
    /* "(root): does not match pattern '^" is 33 bytes; each é is 2 */
    for (len = 30; len < 48; len++) {
        json_t *ok;

        assert_int_equal(schema_validate(s, s, inst, msg, len), 0);
        assert_true(strlen(msg) < len);
        ok = json_string(msg);
        if (!ok)
            print_error("msglen %zu: not UTF-8: %s\n", len, msg);
        assert_non_null(ok);
        json_decref(ok);
    }
    assert_int_equal(schema_validate(s, s, inst, msg, 35), 0);
    assert_string_equal(msg, "(root): does not match pattern '^");
    json_decref(s);
    json_decref(inst);
}

/* Pointers escape '~' and '/' (RFC 6901); very long ones are cut, marked "/...". */
static void test_long_pointer(void **state)
{
    json_t *s = parse("{\"additionalProperties\": {\"additionalProperties\": false}}");
    json_t *inst = json_object();
    json_t *inner = json_object();
    char key[1200];
    char msg[2048];

    (void)state;
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    json_object_set_new(inner, "x", json_true());
    json_object_set_new(inst, key, inner);
    assert_int_equal(schema_validate(s, s, inst, msg, sizeof(msg)), 0);
    assert_true(strncmp(msg, "/kkkk", 5) == 0);
    assert_non_null(strstr(msg, "k/...: unknown property"));
    assert_true(strlen(msg) < 600);
    json_decref(s);
    json_decref(inst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type),
        cmocka_unit_test(test_enum_const),
        cmocka_unit_test(test_enum_message_is_bounded),
        cmocka_unit_test(test_object_keywords),
        cmocka_unit_test(test_array_keywords),
        cmocka_unit_test(test_string_lengths_count_code_points),
        cmocka_unit_test(test_pattern),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_multiple_of),
        cmocka_unit_test(test_combinators),
        cmocka_unit_test(test_boolean_schemas),
        cmocka_unit_test(test_ref),
        cmocka_unit_test(test_ref_with_separate_root),
        cmocka_unit_test(test_ref_loops),
        cmocka_unit_test(test_deep_instances_are_bounded),
        cmocka_unit_test(test_deep_schemas_are_bounded),
        cmocka_unit_test(test_check_accepts),
        cmocka_unit_test(test_check_rejects),
        cmocka_unit_test(test_check_rejects_patterns),
        cmocka_unit_test(test_check_rejects_refs),
        cmocka_unit_test(test_validate_checks_whole_schema),
        cmocka_unit_test(test_weird_input),
        cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_nul_in_keyword),
        cmocka_unit_test(test_message_truncation_keeps_utf8),
        cmocka_unit_test(test_long_pointer),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
