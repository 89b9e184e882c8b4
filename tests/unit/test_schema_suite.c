/*
 * Runs the official JSON-Schema-Test-Suite (draft 7) against mcp/schema.
 *
 * The directory comes from $SCHEMA_SUITE. Each file is an array of groups
 * {description, schema, tests: [{description, data, valid}]}. A group whose
 * schema schema_check() refuses (a keyword we do not support) is skipped,
 * and schema_validate() must then refuse it too; every other case must give
 * the expected verdict. Each file of a keyword we support must run at least
 * a minimum number of cases, so a schema_check() that refused everything
 * could not pass. The suite's other files run too, with no minimum: any of
 * their groups that schema_check() accepts must pass as well.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mcp/schema.h"

#define DEFAULT_SUITE "/usr/share/json-schema-test-suite/tests/draft7"

typedef struct suite_file {
    const char *name; /* relative to the suite directory */
    int min_ran;      /* cases that must run (not be skipped) */
} suite_file;

/*
 * The files of the keywords schema.h supports. The minimums sit a little below
 * what runs with the Debian package 2.0.0 (type 59, enum 9, const 12,
 * properties 10, ref 12, ...); a single-group file runs all its cases or none.
 */
static const suite_file required[] = {
    {"type.json", 55},
    {"enum.json", 8},
    {"const.json", 11},
    {"properties.json", 9},
    {"required.json", 6},
    {"additionalProperties.json", 5},
    {"minProperties.json", 5},
    {"maxProperties.json", 5},
    {"items.json", 7},
    {"minItems.json", 3},
    {"maxItems.json", 3},
    {"uniqueItems.json", 12},
    {"minLength.json", 4},
    {"maxLength.json", 4},
    {"pattern.json", 3},
    {"minimum.json", 3},
    {"maximum.json", 3},
    {"exclusiveMinimum.json", 3},
    {"exclusiveMaximum.json", 3},
    {"multipleOf.json", 7},
    {"allOf.json", 13},
    {"anyOf.json", 13},
    {"oneOf.json", 14},
    {"not.json", 11},
    {"boolean_schema.json", 17},
    {"ref.json", 11},
    {"default.json", 3},
    {"optional/zeroTerminatedFloats.json", 1},
};

#define N_REQUIRED (sizeof(required) / sizeof(required[0]))

typedef struct counts {
    int ran;
    int skipped;
    int failed;
} counts;

static const char *suite_dir(void)
{
    const char *dir = getenv("SCHEMA_SUITE");

    return dir && *dir ? dir : DEFAULT_SUITE;
}

static const char *str_or(const json_t *j, const char *fallback)
{
    return json_is_string(j) ? json_string_value(j) : fallback;
}

/* Runs one group, adding to `n`. */
static void run_group(const char *file, const json_t *group, counts *n)
{
    const json_t *schema = json_object_get(group, "schema");
    const json_t *tests = json_object_get(group, "tests");
    const char *gdesc = str_or(json_object_get(group, "description"), "?");
    char msg[512];
    size_t i;

    if (!schema || !json_is_array(tests)) {
        print_error("%s: group '%s' is malformed\n", file, gdesc);
        n->failed++;
        return;
    }
    if (schema_check(schema, msg, sizeof(msg)) != 0) {
        print_message("  skip %s: '%s': %s\n", file, gdesc, msg);
        if (msg[0] == '\0') {
            print_error("%s: '%s': schema_check failed without a message\n", file, gdesc);
            n->failed++;
        }
        for (i = 0; i < json_array_size(tests); i++) {
            const json_t *data = json_object_get(json_array_get(tests, i), "data");
            int rc = schema_validate(schema, schema, data, msg, sizeof(msg));

            if (rc != -1) {
                print_error("%s: '%s': schema_check refused the schema but schema_validate "
                            "returned %d\n",
                            file, gdesc, rc);
                n->failed++;
            }
            n->skipped++;
        }
        return;
    }
    for (i = 0; i < json_array_size(tests); i++) {
        const json_t *t = json_array_get(tests, i);
        const json_t *data = json_object_get(t, "data");
        const json_t *valid = json_object_get(t, "valid");
        int want = json_is_true(valid) ? 1 : 0;
        int rc;

        if (!data || !json_is_boolean(valid)) {
            print_error("%s: '%s': test %zu is malformed\n", file, gdesc, i);
            n->failed++;
            continue;
        }
        msg[0] = '\0';
        rc = schema_validate(schema, schema, data, msg, sizeof(msg));
        n->ran++;
        if (rc != want) {
            print_error("FAIL %s: '%s' / '%s': expected %d, got %d (%s)\n", file, gdesc,
                        str_or(json_object_get(t, "description"), "?"), want, rc, msg);
            n->failed++;
        } else if (rc == 0 && msg[0] == '\0') {
            print_error("FAIL %s: '%s' / '%s': invalid without a message\n", file, gdesc,
                        str_or(json_object_get(t, "description"), "?"));
            n->failed++;
        }
    }
}

/* Runs a file; -1 when it does not load (reported). */
static int run_file(const char *name, counts *n)
{
    char path[4096];
    json_error_t e;
    json_t *doc;
    size_t i;

    memset(n, 0, sizeof(*n));
    snprintf(path, sizeof(path), "%s/%s", suite_dir(), name);
    doc = json_load_file(path, 0, &e);
    if (!doc) {
        print_message("%s: does not load: %s (line %d)\n", name, e.text, e.line);
        return -1;
    }
    if (!json_is_array(doc)) {
        print_error("%s: not an array of groups\n", name);
        n->failed++;
    }
    for (i = 0; i < json_array_size(doc); i++)
        run_group(name, json_array_get(doc, i), n);
    json_decref(doc);
    print_message("%-36s ran %3d  skipped %3d  failed %d\n", name, n->ran, n->skipped, n->failed);
    return 0;
}

static void test_required_file(void **state)
{
    const suite_file *f = *state;
    counts n;

    assert_int_equal(run_file(f->name, &n), 0);
    assert_int_equal(n.failed, 0);
    if (n.ran < f->min_ran)
        print_error("%s: only %d cases ran, expected at least %d\n", f->name, n.ran, f->min_ran);
    assert_true(n.ran >= f->min_ran);
}

static int is_required(const char *name)
{
    size_t i;

    for (i = 0; i < N_REQUIRED; i++)
        if (strcmp(required[i].name, name) == 0)
            return 1;
    return 0;
}

/* The suite's other top-level files: whatever schema_check accepts must pass. */
static void test_other_files(void **state)
{
    DIR *d = opendir(suite_dir());
    struct dirent *de;
    counts n, total = {0, 0, 0};
    int files = 0;

    (void)state;
    if (!d)
        print_error("cannot open suite directory '%s'\n", suite_dir());
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);

        if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0 || is_required(de->d_name))
            continue;
        if (run_file(de->d_name, &n) != 0)
            continue;
        files++;
        total.ran += n.ran;
        total.skipped += n.skipped;
        total.failed += n.failed;
    }
    closedir(d);
    print_message("other files: %d, ran %d, skipped %d, failed %d\n", files, total.ran,
                  total.skipped, total.failed);
    assert_true(files > 0);
    assert_int_equal(total.failed, 0);
}

int main(void)
{
    struct CMUnitTest tests[N_REQUIRED + 1];
    size_t i;

    memset(tests, 0, sizeof(tests));
    for (i = 0; i < N_REQUIRED; i++) {
        tests[i].name = required[i].name;
        tests[i].test_func = test_required_file;
        tests[i].initial_state = (void *)&required[i];
    }
    tests[N_REQUIRED].name = "other files";
    tests[N_REQUIRED].test_func = test_other_files;
    return _cmocka_run_group_tests("schema_suite", tests, N_REQUIRED + 1, NULL, NULL);
}
