/*
 * fuzz_schema: mcp/schema.c on hostile schemas and instances.
 *
 * Input: "SCHEMA\0INSTANCE" (two JSON texts split at the first NUL), or one
 * JSON text: a two-element array is [schema, instance]; any value is also an
 * instance. Runs schema_check and schema_validate (with a roomy and a tiny
 * message buffer), and validates the instance against every tool's
 * inputSchema and outputSchema.
 *
 * Promises checked: a schema schema_check refuses never validates (-1);
 * results do not depend on the message buffer; messages are NUL-terminated,
 * fit, are valid UTF-8 and present whenever the result is not 1; the tools'
 * own schemas are always usable (never -1); for a schema schema_check
 * accepts, schema_validate_checked() says what schema_validate() says, with
 * a regex cache kept from input to input or without one.
 */
#include <stdlib.h>
#include <string.h>

#include "mcp/schema.h"
#include "tools/registry.h"
#include "tests/fuzz/fuzz.h"

#define MSG_BIG 1024

static json_t **schemas; /* every tool's inputSchema and outputSchema */
static size_t nschemas;
static schema_cache *cache; /* kept from input to input, so it fills up and evicts */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    size_t i, n = tools_count();
    grove_err err = GROVE_ERR_INIT;

    if (schemas)
        return 0;
    cache = schema_cache_new();
    FUZZ_CHECK(cache != NULL, "out of memory");
    schemas = calloc(2 * n + 1, sizeof(*schemas));
    FUZZ_CHECK(schemas != NULL, "out of memory");
    for (i = 0; i < n; i++) {
        json_t *spec = tools_spec(i, &err);

        FUZZ_CHECK(spec != NULL, "tools_spec(%zu): %s", i, err.msg);
        schemas[nschemas++] = json_incref(json_object_get(spec, "inputSchema"));
        schemas[nschemas++] = json_incref(json_object_get(spec, "outputSchema"));
        json_decref(spec);
    }
    return 0;
}

/* A message a call left: terminated within its buffer, UTF-8, present unless the result is 1. */
static void check_msg(const char *msg, size_t msglen, int rc, const char *what)
{
    size_t len = strnlen(msg, msglen);

    FUZZ_CHECK(len < msglen, "%s: message not NUL-terminated within %zu bytes", what, msglen);
    FUZZ_CHECK(fuzz_utf8_valid(msg, len), "%s: message is not valid UTF-8: %s", what, msg);
    FUZZ_CHECK(rc == 1 || len > 0 || msglen == 1, "%s: result %d without a message", what, rc);
}

/* schema_validate_checked() with and without the cache: what schema_validate() said. */
static void same_when_checked(const json_t *schema, const json_t *inst, int rc, const char *msg,
                              const char *what)
{
    char again[MSG_BIG];
    int i, rc2;

    for (i = 0; i < 2; i++) {
        rc2 = schema_validate_checked(i ? cache : NULL, schema, schema, inst, again, sizeof(again));
        FUZZ_CHECK(rc2 == rc && strcmp(again, msg) == 0,
                   "%s: schema_validate says %d (%s), schema_validate_checked %s a cache %d (%s)",
                   what, rc, msg, i ? "with" : "without", rc2, again);
    }
}

/*
 * Validates; with `thorough`, again with a tiny message buffer and with none (same result), and
 * when `checked` (the schema passed schema_check) through schema_validate_checked() too.
 */
static int validate(const json_t *schema, const json_t *inst, const char *what, int thorough,
                    int checked)
{
    char big[MSG_BIG], tiny[7];
    int rc, again;

    memset(big, 'x', sizeof(big));
    memset(tiny, 'x', sizeof(tiny));
    rc = schema_validate(schema, schema, inst, big, sizeof(big));
    FUZZ_CHECK(rc >= -1 && rc <= 1, "%s: schema_validate returned %d", what, rc);
    check_msg(big, sizeof(big), rc, what);
    if (checked)
        same_when_checked(schema, inst, rc, big, what);
    if (!thorough)
        return rc;
    again = schema_validate(schema, schema, inst, tiny, sizeof(tiny));
    FUZZ_CHECK(again == rc, "%s: %d with a big message buffer, %d with a tiny one (%s)", what, rc,
               again, big);
    check_msg(tiny, sizeof(tiny), rc, what);
    FUZZ_CHECK(schema_validate(schema, schema, inst, NULL, 0) == rc, "%s: NULL msg changes it",
               what);
    return rc;
}

static void schema_and_instance(const json_t *schema, const json_t *inst)
{
    char msg[MSG_BIG];
    int checked, rc;

    memset(msg, 'x', sizeof(msg));
    checked = schema_check(schema, msg, sizeof(msg));
    FUZZ_CHECK(checked == 0 || checked == -1, "schema_check returned %d", checked);
    check_msg(msg, sizeof(msg), checked == 0 ? 1 : -1, "schema_check");
    if (!inst)
        return;
    rc = validate(schema, inst, "fuzzed schema", 1, checked == 0);
    FUZZ_CHECK(checked == 0 || rc == -1, "schema_check refused the schema (%s), validation says %d",
               msg, rc);
}

static void against_tools(const json_t *inst)
{
    size_t i;

    for (i = 0; i < nschemas; i++)
        FUZZ_CHECK(validate(schemas[i], inst, "tool schema", 0, i % 2 == 0) != -1,
                   "tool schema %zu found unusable", i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const size_t flags = JSON_DECODE_ANY | JSON_ALLOW_NUL;
    const uint8_t *nul = memchr(data, '\0', size);
    json_t *a = NULL, *b = NULL;

    LLVMFuzzerInitialize(NULL, NULL);
    if (nul) {
        a = json_loadb((const char *)data, (size_t)(nul - data), flags, NULL);
        b = json_loadb((const char *)nul + 1, size - (size_t)(nul - data) - 1, flags, NULL);
        if (a)
            schema_and_instance(a, b);
        if (b)
            against_tools(b);
    } else {
        a = json_loadb((const char *)data, size, flags, NULL);
        if (!a)
            return 0;
        if (json_is_array(a) && json_array_size(a) == 2)
            schema_and_instance(json_array_get(a, 0), json_array_get(a, 1));
        else
            schema_and_instance(a, NULL);
        against_tools(a);
    }
    json_decref(a);
    json_decref(b);
    return 0;
}
