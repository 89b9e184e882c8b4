/*
 * schema: a small JSON Schema validator for the keywords grove's tool
 * schemas use (draft 2020-12 / draft 7 semantics, which agree on these):
 *
 *   type (string or array; "integer" accepts 1.0), enum, const,
 *   properties, required, additionalProperties (bool or schema),
 *   minProperties, maxProperties, items (one schema), minItems, maxItems,
 *   uniqueItems, minLength, maxLength (in code points), pattern (POSIX ERE;
 *   unanchored search, as JSON Schema requires), minimum, maximum,
 *   exclusiveMinimum, exclusiveMaximum (numbers), multipleOf, allOf, anyOf,
 *   oneOf, not, $ref ("#", "#/$defs/..", "#/definitions/.."), and boolean
 *   schemas. Annotations (title, description, default, examples, format,
 *   $schema, $id, $comment, readOnly, writeOnly, deprecated) are ignored.
 *
 * Schemas are borrowed. schema_validate() caches nothing: it checks the
 * whole schema and compiles `pattern` regexes each time (and frees them).
 * A caller that validates against the same schemas again and again runs
 * schema_check() once and then schema_validate_checked() with a
 * schema_cache, which keeps the compiled regexes.
 */
#ifndef GROVE_SCHEMA_H
#define GROVE_SCHEMA_H

#include <stddef.h>

#include <jansson.h>

/*
 * Validates `instance` against `schema` (`root` is the document that $ref
 * pointers resolve in; pass the schema itself for a top-level call).
 * Returns 1 when valid, 0 when not (msg gets the first failure as
 * "<JSON pointer>: <reason>", e.g. "/limit: must be <= 500"), -1 when the
 * schema itself is unusable (unknown keyword, bad regex, unresolvable $ref,
 * combinators whose work grows exponentially with the instance's depth; msg
 * says why). msg may be NULL.
 */
int schema_validate(const json_t *root, const json_t *schema, const json_t *instance, char *msg,
                    size_t msglen);

/*
 * Checks that `schema` (recursively) uses only the supported keywords and
 * well-formed values. 0 when usable, -1 with msg otherwise.
 */
int schema_check(const json_t *schema, char *msg, size_t msglen);

/* Compiled `pattern` regexes, reused between validations. */
typedef struct schema_cache schema_cache;

/* An empty cache (NULL when out of memory); schema_cache_free() it. NULL is a no-op there. */
schema_cache *schema_cache_new(void);
void schema_cache_free(schema_cache *cache);

/*
 * schema_validate() for a schema whose document (`root`) already passed
 * schema_check(): it is not checked again. Regexes come from `cache`
 * (compiled on first use; NULL: compiled each time). Same results.
 */
int schema_validate_checked(schema_cache *cache, const json_t *root, const json_t *schema,
                            const json_t *instance, char *msg, size_t msglen);

#endif
