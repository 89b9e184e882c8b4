#include "mcp/schema.h"

#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Limits. A schema may nest SCHEMA_MAX_DEPTH levels; an instance is followed
 * SCHEMA_MAX_DEPTH levels down (deeper is invalid: "nested deeper than ...");
 * one validation evaluates at most SCHEMA_MAX_CALLS nested subschemas at a
 * time, which stops $ref loops that never step into the instance. All
 * recursion is bounded by these, so the stack use is too. And one validation
 * evaluates at most SCHEMA_STEP_FACTOR * (schema nodes + 1) * (instance nodes
 * + 1) subschemas in all (never fewer than SCHEMA_MIN_STEPS): a sane schema
 * looks at each instance node with each of its subschemas a few times, while
 * combinators over the same $ref (anyOf: [{"$ref": "#/$defs/a"}, {"$ref":
 * "#/$defs/a"}] with a nesting "a") double the work at every level.
 */
#define SCHEMA_MAX_DEPTH 128
#define SCHEMA_MAX_CALLS 1024
#define PTR_MAX          512 /* bytes of a JSON pointer kept for messages */
#define REF_MAX          512 /* bytes of a decoded $ref fragment */

#define SCHEMA_STEP_FACTOR 16
#define SCHEMA_MIN_STEPS   10000

/* A JSON pointer built while walking a schema or an instance (for messages only). */
typedef struct ptr_buf {
    char buf[PTR_MAX];
    size_t len;
    int trunc; /* some of the pointer did not fit */
} ptr_buf;

typedef struct ptr_mark {
    size_t len;
    int trunc;
} ptr_mark;

/* State of one schema_check walk. */
typedef struct check_ctx {
    const json_t *root; /* borrowed: where $ref resolves */
    char *msg;
    size_t msglen;
    ptr_buf at; /* schema location */
    int depth;
} check_ctx;

/* State of one validation. */
typedef struct val_ctx {
    const json_t *root; /* borrowed: where $ref resolves */
    char *msg;
    size_t msglen;
    ptr_buf at;          /* instance location */
    int depth;           /* instance nesting */
    int calls;           /* nested subschema evaluations */
    size_t steps;        /* subschema evaluations so far */
    size_t budget;       /* ... allowed (see SCHEMA_STEP_FACTOR) */
    int quiet;           /* > 0 inside anyOf, oneOf, not: failures there are expected */
    schema_cache *cache; /* compiled patterns to reuse; NULL: compile each time */
} val_ctx;

/* Compiled `pattern` regexes by text (a tool's schemas have a handful). */
#define SCHEMA_CACHE_MAX 64

struct schema_cache {
    size_t n;
    struct {
        char *text; /* owned */
        regex_t re;
    } entry[SCHEMA_CACHE_MAX];
};

/* ---- messages ------------------------------------------------------------ */

/* Length of the UTF-8 sequence that starts with byte c (1 for stray bytes). */
static size_t utf8_seq_len(unsigned char c)
{
    if (c >= 0xf0 && c < 0xf8)
        return 4;
    if (c >= 0xe0)
        return c < 0xf0 ? 3 : 1;
    if (c >= 0xc0)
        return 2;
    return 1;
}

/* Cuts a trailing incomplete UTF-8 sequence left by truncation. */
static void utf8_trim(char *s)
{
    size_t len = strlen(s), i = len, back = 0;

    while (i > 0 && back < 4 && ((unsigned char)s[i - 1] & 0xc0) == 0x80) {
        i--;
        back++;
    }
    if (i == 0)
        return;
    if ((unsigned char)s[i - 1] >= 0xc0 && utf8_seq_len((unsigned char)s[i - 1]) > back + 1)
        s[i - 1] = '\0';
}

static ptr_mark ptr_save(const ptr_buf *p)
{
    ptr_mark m;

    m.len = p->len;
    m.trunc = p->trunc;
    return m;
}

static void ptr_restore(ptr_buf *p, ptr_mark m)
{
    p->len = m.len;
    p->trunc = m.trunc;
    p->buf[p->len] = '\0';
}

/* Appends n bytes, or marks the pointer truncated when they do not fit. */
static void ptr_put(ptr_buf *p, const char *s, size_t n)
{
    if (p->trunc || p->len + n >= sizeof(p->buf)) {
        p->trunc = 1;
        return;
    }
    memcpy(p->buf + p->len, s, n);
    p->len += n;
    p->buf[p->len] = '\0';
}

/* Appends "/" and `key` escaped as RFC 6901 says; control bytes show as '?'. */
static ptr_mark ptr_push(ptr_buf *p, const char *key, size_t keylen)
{
    ptr_mark m = ptr_save(p);
    size_t i = 0, n;

    ptr_put(p, "/", 1);
    while (i < keylen) {
        unsigned char c = (unsigned char)key[i];

        if (c == '~') {
            ptr_put(p, "~0", 2);
            n = 1;
        } else if (c == '/') {
            ptr_put(p, "~1", 2);
            n = 1;
        } else if (c < 0x20 || c == 0x7f) {
            ptr_put(p, "?", 1);
            n = 1;
        } else {
            n = utf8_seq_len(c);
            if (n > keylen - i)
                n = keylen - i;
            ptr_put(p, key + i, n);
        }
        i += n;
    }
    return m;
}

static ptr_mark ptr_push_index(ptr_buf *p, size_t index)
{
    char num[32];
    int n = snprintf(num, sizeof(num), "%zu", index);

    return ptr_push(p, num, (size_t)n);
}

/* Writes "<pointer>: <reason>" into msg (when there is one). */
static void msg_vset(char *msg, size_t msglen, const ptr_buf *at, const char *fmt, va_list ap)
{
    int n;

    if (!msg || msglen == 0)
        return;
    n = snprintf(msg, msglen, "%s%s: ", at->len ? at->buf : "(root)", at->trunc ? "/..." : "");
    if (n >= 0 && (size_t)n < msglen)
        vsnprintf(msg + n, msglen - (size_t)n, fmt, ap);
    utf8_trim(msg);
}

static void msg_plain(char *msg, size_t msglen, const char *text)
{
    if (!msg || msglen == 0)
        return;
    snprintf(msg, msglen, "%s", text);
    utf8_trim(msg);
}

/* A check failure at the current schema location: returns -1. */
static int check_fail(check_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int check_fail(check_ctx *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    msg_vset(c->msg, c->msglen, &c->at, fmt, ap);
    va_end(ap);
    return -1;
}

/* The instance is invalid at the current location: returns 0. */
static int val_fail(val_ctx *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int val_fail(val_ctx *v, const char *fmt, ...)
{
    va_list ap;

    if (v->quiet)
        return 0;
    va_start(ap, fmt);
    msg_vset(v->msg, v->msglen, &v->at, fmt, ap);
    va_end(ap);
    return 0;
}

/* The schema is unusable (found while validating): returns -1. */
static int val_error(val_ctx *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int val_error(val_ctx *v, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    msg_vset(v->msg, v->msglen, &v->at, fmt, ap);
    va_end(ap);
    return -1;
}

/* JSON Schema's name for the type of `j`. */
static const char *type_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}

/* Formats a number as the shortest text that reads back to the same value. */
static void fmt_number(char *buf, size_t size, const json_t *n)
{
    int prec;

    if (json_is_integer(n)) {
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(n));
        return;
    }
    for (prec = 15; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, json_real_value(n));
        if (strtod(buf, NULL) == json_real_value(n))
            break;
    }
}

/*
 * Appends `s` (slen bytes, may hold NULs) in single quotes to the string in
 * buf: at most 40 characters, then "...", control bytes as '?'.
 */
static void fmt_quoted(char *buf, size_t size, const char *s, size_t slen)
{
    size_t len = strlen(buf), i, n = 1, shown = 0;

    if (len + 8 > size)
        return;
    buf += len;
    size -= len;
    *buf++ = '\'';
    size--;
    for (i = 0; i < slen && shown < 40; i += n, shown++) {
        unsigned char c = (unsigned char)s[i];

        n = utf8_seq_len(c);
        if (n > slen - i)
            n = slen - i;
        if (n + 5 > size)
            break;
        if (c < 0x20 || c == 0x7f)
            *buf = '?';
        else
            memcpy(buf, s + i, n);
        buf += n;
        size -= n;
    }
    snprintf(buf, size, "%s'", i < slen ? "..." : "");
}

/* Appends a short rendering of a JSON value ('text', 12, true, an array ...). */
static void fmt_value(char *buf, size_t size, const json_t *j)
{
    size_t len = strlen(buf);

    if (json_is_string(j)) {
        fmt_quoted(buf, size, json_string_value(j), json_string_length(j));
        return;
    }
    if (len + 1 >= size)
        return;
    if (json_is_number(j))
        fmt_number(buf + len, size - len, j);
    else
        snprintf(buf + len, size - len, "%s",
                 json_is_object(j)  ? "an object"
                 : json_is_array(j) ? "an array"
                 : json_is_true(j)  ? "true"
                 : json_is_false(j) ? "false"
                                    : "null");
}

/* ---- numbers and equality ------------------------------------------------ */

/* Compares an integer with a finite double exactly: <0, 0, >0. */
static int cmp_int_real(json_int_t i, double d)
{
    double t;
    json_int_t ti;

    if (d != d)
        return 0;
    if (d >= 9223372036854775808.0)
        return -1;
    if (d < -9223372036854775808.0)
        return 1;
    t = trunc(d);
    ti = (json_int_t)t;
    if (i != ti)
        return i < ti ? -1 : 1;
    if (d != t)
        return d > t ? -1 : 1;
    return 0;
}

/* Compares two JSON numbers by value (1 == 1.0): <0, 0, >0. */
static int num_cmp(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);

        return x < y ? -1 : x > y;
    }
    if (json_is_integer(a))
        return cmp_int_real(json_integer_value(a), json_real_value(b));
    if (json_is_integer(b))
        return -cmp_int_real(json_integer_value(b), json_real_value(a));
    return json_real_value(a) < json_real_value(b) ? -1 : json_real_value(a) > json_real_value(b);
}

/*
 * JSON equality as JSON Schema defines it: numbers by value, objects
 * regardless of member order. 1 equal, 0 not, -1 nested too deeply.
 */
static int values_equal(const json_t *a, const json_t *b, int depth)
{
    size_t i, n;
    int rc;

    if (json_is_number(a) && json_is_number(b))
        return num_cmp(a, b) == 0;
    if (json_typeof(a) != json_typeof(b))
        return 0;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_ARRAY:
        n = json_array_size(a);
        if (n != json_array_size(b))
            return 0;
        if (n > 0 && depth >= SCHEMA_MAX_DEPTH)
            return -1;
        for (i = 0; i < n; i++) {
            rc = values_equal(json_array_get(a, i), json_array_get(b, i), depth + 1);
            if (rc != 1)
                return rc;
        }
        return 1;
    case JSON_OBJECT: {
        void *it;

        if (json_object_size(a) != json_object_size(b))
            return 0;
        if (json_object_size(a) > 0 && depth >= SCHEMA_MAX_DEPTH)
            return -1;
        /* jansson's iterator API takes non-const objects; nothing is modified. */
        for (it = json_object_iter((json_t *)a); it; it = json_object_iter_next((json_t *)a, it)) {
            const json_t *other =
                json_object_getn(b, json_object_iter_key(it), json_object_iter_key_len(it));

            if (!other)
                return 0;
            rc = values_equal(json_object_iter_value(it), other, depth + 1);
            if (rc != 1)
                return rc;
        }
        return 1;
    }
    default:
        return 1; /* true, false, null: same type is same value */
    }
}

/* A non-negative integer keyword value (2 or 2.0); -1 when it is not one. */
static int get_count(const json_t *j, uint64_t *out)
{
    double d;

    if (json_is_integer(j)) {
        if (json_integer_value(j) < 0)
            return -1;
        *out = (uint64_t)json_integer_value(j);
        return 0;
    }
    if (!json_is_real(j))
        return -1;
    d = json_real_value(j);
    if (d < 0 || d != floor(d))
        return -1;
    *out = d >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)d;
    return 0;
}

static int is_integral(const json_t *j)
{
    double d;

    if (json_is_integer(j))
        return 1;
    if (!json_is_real(j))
        return 0;
    d = json_real_value(j);
    return isfinite(d) && d == floor(d);
}

/*
 * Whether x is a multiple of m (m > 0). Integers exactly; otherwise the
 * quotient must be within a relative 1e-12 of a whole number, which absorbs
 * binary rounding (0.0075 / 0.0001 = 75.00000000000001) but not real
 * remainders. An overflowing quotient counts as not a multiple.
 */
static int is_multiple(const json_t *x, const json_t *m)
{
    double q, r;

    if (json_is_integer(x) && json_is_integer(m) && json_integer_value(m) > 0)
        return json_integer_value(x) % json_integer_value(m) == 0;
    if (json_number_value(m) <= 0)
        return 0;
    q = json_number_value(x) / json_number_value(m);
    if (!isfinite(q))
        return 0;
    r = nearbyint(q);
    return fabs(q - r) <= 1e-12 * fmax(1.0, fabs(q));
}

/* Code points in a UTF-8 string of len bytes (NULs count as characters). */
static size_t utf8_count(const char *s, size_t len)
{
    size_t i, n = 0;

    for (i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80)
            n++;
    return n;
}

/* ---- $ref ---------------------------------------------------------------- */

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A decimal array index without leading zeros; -1 when the token is not one. */
static int parse_index(const char *tok, size_t len, size_t *out)
{
    size_t i, v = 0;

    if (len == 0 || len > 9 || (len > 1 && tok[0] == '0'))
        return -1;
    for (i = 0; i < len; i++) {
        if (tok[i] < '0' || tok[i] > '9')
            return -1;
        v = v * 10 + (size_t)(tok[i] - '0');
    }
    *out = v;
    return 0;
}

enum ref_state {
    REF_SCHEMA, /* at a schema: the next token names a keyword */
    REF_MAP,    /* in properties/$defs/definitions: the next token is a name */
    REF_LIST,   /* in allOf/anyOf/oneOf: the next token is an index */
};

/* Which state a keyword of a schema leads to; -1 when it holds no subschemas. */
static int ref_step(const char *tok, size_t len)
{
    static const char *const maps[] = {"properties", "$defs", "definitions"};
    static const char *const lists[] = {"allOf", "anyOf", "oneOf"};
    static const char *const single[] = {"items", "not", "additionalProperties"};
    size_t i;

    for (i = 0; i < 3; i++) {
        if (strlen(maps[i]) == len && memcmp(maps[i], tok, len) == 0)
            return REF_MAP;
        if (strlen(lists[i]) == len && memcmp(lists[i], tok, len) == 0)
            return REF_LIST;
        if (strlen(single[i]) == len && memcmp(single[i], tok, len) == 0)
            return REF_SCHEMA;
    }
    return -1;
}

/*
 * Resolves a local $ref ("#" or "#/json/pointer", percent-encoded as a URI
 * fragment) in `root`. The pointer must lead through subschemas only
 * (properties/x, $defs/x, allOf/0, items, ...) to an object or boolean.
 * Returns the borrowed target, or NULL with *why set to a static reason.
 */
static const json_t *ref_resolve(const json_t *root, const char *ref, size_t reflen,
                                 const char **why)
{
    char frag[REF_MAX];
    size_t flen = 0, i, start, end, idx;
    const json_t *cur = root;
    int state = REF_SCHEMA, step;

    if (reflen == 0 || ref[0] != '#') {
        *why = "only local references ('#', '#/...') are supported";
        return NULL;
    }
    if (reflen > 1 && ref[1] != '/') {
        *why = "only JSON-pointer fragments ('#', '#/...') are supported";
        return NULL;
    }
    /* The fragment is percent-decoded first, then read as a JSON pointer (RFC 6901, 6). */
    for (i = 1; i < reflen; i++) {
        char c = ref[i];

        if (c == '%') {
            int hi = i + 2 < reflen ? hex_digit(ref[i + 1]) : -1;
            int lo = i + 2 < reflen ? hex_digit(ref[i + 2]) : -1;

            if (hi < 0 || lo < 0) {
                *why = "has a malformed percent escape";
                return NULL;
            }
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (flen + 1 >= sizeof(frag)) {
            *why = "is too long";
            return NULL;
        }
        frag[flen++] = c;
    }
    for (start = 0; start < flen; start = end) {
        char tok[REF_MAX];
        size_t tlen = 0;

        start++; /* the '/' */
        for (end = start; end < flen && frag[end] != '/'; end++) {
            if (frag[end] == '~') {
                if (end + 1 >= flen || (frag[end + 1] != '0' && frag[end + 1] != '1')) {
                    *why = "has a malformed '~' escape";
                    return NULL;
                }
                tok[tlen++] = frag[end + 1] == '0' ? '~' : '/';
                end++;
            } else {
                tok[tlen++] = frag[end];
            }
        }
        switch (state) {
        case REF_SCHEMA:
            step = json_is_object(cur) ? ref_step(tok, tlen) : -1;
            if (step < 0) {
                *why = "does not point to a subschema";
                return NULL;
            }
            cur = json_object_getn(cur, tok, tlen);
            state = step;
            break;
        case REF_MAP:
            cur = json_is_object(cur) ? json_object_getn(cur, tok, tlen) : NULL;
            state = REF_SCHEMA;
            break;
        case REF_LIST:
            cur = json_is_array(cur) && parse_index(tok, tlen, &idx) == 0 ? json_array_get(cur, idx)
                                                                          : NULL;
            state = REF_SCHEMA;
            break;
        }
        if (!cur) {
            *why = "points to nothing";
            return NULL;
        }
    }
    if (state != REF_SCHEMA || !(json_is_object(cur) || json_is_boolean(cur))) {
        *why = "does not point to a subschema";
        return NULL;
    }
    return cur;
}

/* ---- pattern ------------------------------------------------------------- */

/*
 * JSON Schema patterns are ECMA-262; we run POSIX EREs. Refuses the syntax
 * the two read differently, so a pattern never silently means something
 * else: escapes other than of a special character (\d \w \s \b \1 are
 * ECMA classes, GNU extensions or back-references), backslashes and POSIX
 * classes inside brackets, and ']' first in brackets. Returns a static
 * reason or NULL.
 */
static const char *pattern_problem(const char *p, size_t len)
{
    size_t i = 0;

    if (memchr(p, '\0', len))
        return "contains a NUL character";
    while (i < len) {
        if (p[i] == '\\') {
            if (i + 1 >= len)
                return "ends with a backslash";
            if (!strchr(".[](){}*+?|^$\\/-", p[i + 1]))
                return "uses an escape POSIX ERE does not share with ECMA-262 "
                       "(only a special character may be escaped)";
            i += 2;
        } else if (p[i] == '[') {
            i++;
            if (i < len && p[i] == '^')
                i++;
            if (i < len && p[i] == ']')
                return "starts a bracket expression with ']', which ECMA-262 and POSIX read "
                       "differently";
            for (; i < len && p[i] != ']'; i++) {
                if (p[i] == '\\')
                    return "has a backslash inside brackets (an escape in ECMA-262, a literal "
                           "in POSIX)";
                if (p[i] == '[' && i + 1 < len &&
                    (p[i + 1] == ':' || p[i + 1] == '=' || p[i + 1] == '.'))
                    return "uses a POSIX bracket class ('[:alpha:]' ...), which ECMA-262 lacks";
            }
            if (i >= len)
                return "has an unterminated bracket expression";
            i++;
        } else {
            i++;
        }
    }
    return NULL;
}

/*
 * Searches `s` (len bytes, may hold NULs) for a match of the compiled
 * pattern: 1 found, 0 not. Without REG_STARTEND a string with a NUL never
 * matches (fail closed).
 */
static int pattern_search(const regex_t *re, const char *s, size_t len)
{
#ifdef REG_STARTEND
    regmatch_t m[1];

    m[0].rm_so = 0;
    m[0].rm_eo = (regoff_t)len;
    return regexec(re, s, 1, m, REG_STARTEND) == 0;
#else
    if (strlen(s) != len)
        return 0;
    return regexec(re, s, 0, NULL, 0) == 0;
#endif
}

/* ---- schema_check -------------------------------------------------------- */

typedef enum kw_kind {
    KW_STRING,    /* annotation holding a string */
    KW_BOOL_NOTE, /* annotation holding a boolean */
    KW_DEFAULT,   /* annotation holding any value */
    KW_ANY,       /* any value (const) */
    KW_EXAMPLES,  /* an array */
    KW_ID,        /* $id: a string, at the document root only */
    KW_DEFS,      /* object of subschemas that are not applied */
    KW_TYPE,
    KW_ENUM,
    KW_SCHEMA,      /* one subschema */
    KW_ITEMS,       /* one subschema; the array (tuple) form is refused */
    KW_SCHEMA_MAP,  /* properties */
    KW_SCHEMA_LIST, /* non-empty array of subschemas */
    KW_COUNT,       /* non-negative integer */
    KW_NUMBER,
    KW_POSITIVE, /* number > 0 */
    KW_BOOL,
    KW_REQUIRED, /* array of unique strings */
    KW_PATTERN,
    KW_REF,
} kw_kind;

static const struct keyword {
    const char *name;
    kw_kind kind;
} keywords[] = {
    {"title", KW_STRING},
    {"description", KW_STRING},
    {"$comment", KW_STRING},
    {"$schema", KW_STRING},
    {"format", KW_STRING},
    {"readOnly", KW_BOOL_NOTE},
    {"writeOnly", KW_BOOL_NOTE},
    {"deprecated", KW_BOOL_NOTE},
    {"default", KW_DEFAULT},
    {"examples", KW_EXAMPLES},
    {"$id", KW_ID},
    {"$defs", KW_DEFS},
    {"definitions", KW_DEFS},
    {"type", KW_TYPE},
    {"enum", KW_ENUM},
    {"const", KW_ANY},
    {"properties", KW_SCHEMA_MAP},
    {"required", KW_REQUIRED},
    {"additionalProperties", KW_SCHEMA},
    {"minProperties", KW_COUNT},
    {"maxProperties", KW_COUNT},
    {"items", KW_ITEMS},
    {"minItems", KW_COUNT},
    {"maxItems", KW_COUNT},
    {"uniqueItems", KW_BOOL},
    {"minLength", KW_COUNT},
    {"maxLength", KW_COUNT},
    {"pattern", KW_PATTERN},
    {"minimum", KW_NUMBER},
    {"maximum", KW_NUMBER},
    {"exclusiveMinimum", KW_NUMBER},
    {"exclusiveMaximum", KW_NUMBER},
    {"multipleOf", KW_POSITIVE},
    {"allOf", KW_SCHEMA_LIST},
    {"anyOf", KW_SCHEMA_LIST},
    {"oneOf", KW_SCHEMA_LIST},
    {"not", KW_SCHEMA},
    {"$ref", KW_REF},
};

static const struct keyword *keyword_find(const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
        if (strlen(keywords[i].name) == len && memcmp(keywords[i].name, name, len) == 0)
            return &keywords[i];
    return NULL;
}

/* Whether a keyword may stand beside $ref (it neither validates nor depends on the draft). */
static int kind_is_inert(kw_kind kind)
{
    return kind == KW_STRING || kind == KW_BOOL_NOTE || kind == KW_DEFAULT || kind == KW_EXAMPLES ||
           kind == KW_ID || kind == KW_DEFS;
}

static const char *const type_names[] = {"null",   "boolean", "object", "array",
                                         "number", "integer", "string"};

static int type_known(const json_t *t)
{
    size_t i;

    if (!json_is_string(t))
        return 0;
    for (i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
        if (strlen(type_names[i]) == json_string_length(t) &&
            strcmp(type_names[i], json_string_value(t)) == 0)
            return 1;
    return 0;
}

static int check_node(check_ctx *c, const json_t *s);

/* Checks the subschema at `s` under the keyword path `key` (and `sub`, when not NULL). */
static int check_sub(check_ctx *c, const json_t *s, const char *key, size_t keylen, const char *sub,
                     size_t sublen)
{
    ptr_mark m = ptr_push(&c->at, key, keylen);
    int rc;

    if (sub)
        ptr_push(&c->at, sub, sublen);
    rc = check_node(c, s);
    ptr_restore(&c->at, m);
    return rc;
}

static int check_type(check_ctx *c, const json_t *v)
{
    size_t i, j;

    if (json_is_string(v)) {
        if (!type_known(v))
            return check_fail(c, "unknown type '%s' in 'type'", json_string_value(v));
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) == 0)
        return check_fail(c, "'type' must be a type name or a non-empty array of them");
    for (i = 0; i < json_array_size(v); i++) {
        const json_t *t = json_array_get(v, i);

        if (!type_known(t))
            return check_fail(c, "'type' holds something other than a type name");
        for (j = 0; j < i; j++)
            if (strcmp(json_string_value(json_array_get(v, j)), json_string_value(t)) == 0)
                return check_fail(c, "'type' lists '%s' twice", json_string_value(t));
    }
    return 0;
}

static int check_required(check_ctx *c, const json_t *v)
{
    size_t i, j;

    if (!json_is_array(v))
        return check_fail(c, "'required' must be an array of strings");
    for (i = 0; i < json_array_size(v); i++) {
        const json_t *s = json_array_get(v, i);

        if (!json_is_string(s))
            return check_fail(c, "'required' must be an array of strings");
        for (j = 0; j < i; j++) {
            if (values_equal(json_array_get(v, j), s, 0) == 1) {
                char shown[200] = "";

                fmt_value(shown, sizeof(shown), s);
                return check_fail(c, "'required' lists %s twice", shown);
            }
        }
    }
    return 0;
}

static int check_pattern(check_ctx *c, const json_t *v)
{
    const char *why;
    regex_t re;
    int rc;

    if (!json_is_string(v))
        return check_fail(c, "'pattern' must be a string");
    why = pattern_problem(json_string_value(v), json_string_length(v));
    if (why)
        return check_fail(c, "pattern '%s' %s", json_string_value(v), why);
    rc = regcomp(&re, json_string_value(v), REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char err[128];

        regerror(rc, &re, err, sizeof(err));
        return check_fail(c, "pattern '%s' is not a valid POSIX extended regex: %s",
                          json_string_value(v), err);
    }
    regfree(&re);
    return 0;
}

/* Checks one keyword's value; `node` is the schema that holds it. */
static int check_keyword(check_ctx *c, const json_t *node, const struct keyword *kw,
                         const json_t *v)
{
    const char *why = NULL;
    uint64_t count;
    size_t i;
    void *it;
    int rc;

    switch (kw->kind) {
    case KW_STRING:
        if (!json_is_string(v))
            return check_fail(c, "'%s' must be a string", kw->name);
        return 0;
    case KW_BOOL_NOTE:
    case KW_BOOL:
        if (!json_is_boolean(v))
            return check_fail(c, "'%s' must be a boolean", kw->name);
        return 0;
    case KW_DEFAULT:
    case KW_ANY:
        return 0;
    case KW_EXAMPLES:
        if (!json_is_array(v))
            return check_fail(c, "'examples' must be an array");
        return 0;
    case KW_ID:
        if (!json_is_string(v))
            return check_fail(c, "'$id' must be a string");
        if (node != c->root)
            return check_fail(c, "'$id' below the root changes how $ref resolves: not supported");
        return 0;
    case KW_TYPE:
        return check_type(c, v);
    case KW_ENUM:
        if (!json_is_array(v))
            return check_fail(c, "'enum' must be an array");
        return 0;
    case KW_ITEMS:
        if (json_is_array(v))
            return check_fail(c, "array-form 'items' (tuple validation) is not supported");
        /* fall through */
    case KW_SCHEMA:
        return check_sub(c, v, kw->name, strlen(kw->name), NULL, 0);
    case KW_DEFS:
    case KW_SCHEMA_MAP:
        if (!json_is_object(v))
            return check_fail(c, "'%s' must be an object of schemas", kw->name);
        for (it = json_object_iter((json_t *)v); it; it = json_object_iter_next((json_t *)v, it)) {
            rc = check_sub(c, json_object_iter_value(it), kw->name, strlen(kw->name),
                           json_object_iter_key(it), json_object_iter_key_len(it));
            if (rc != 0)
                return rc;
        }
        return 0;
    case KW_SCHEMA_LIST:
        if (!json_is_array(v) || json_array_size(v) == 0)
            return check_fail(c, "'%s' must be a non-empty array of schemas", kw->name);
        for (i = 0; i < json_array_size(v); i++) {
            char num[32];
            int n = snprintf(num, sizeof(num), "%zu", i);

            rc = check_sub(c, json_array_get(v, i), kw->name, strlen(kw->name), num, (size_t)n);
            if (rc != 0)
                return rc;
        }
        return 0;
    case KW_COUNT:
        if (get_count(v, &count) != 0)
            return check_fail(c, "'%s' must be a non-negative integer", kw->name);
        return 0;
    case KW_NUMBER:
        if (!json_is_number(v))
            return check_fail(c, "'%s' must be a number", kw->name);
        return 0;
    case KW_POSITIVE:
        if (!json_is_number(v) || json_number_value(v) <= 0)
            return check_fail(c, "'%s' must be a number greater than 0", kw->name);
        return 0;
    case KW_REQUIRED:
        return check_required(c, v);
    case KW_PATTERN:
        return check_pattern(c, v);
    case KW_REF:
        if (!json_is_string(v))
            return check_fail(c, "'$ref' must be a string");
        if (!ref_resolve(c->root, json_string_value(v), json_string_length(v), &why))
            return check_fail(c, "$ref '%s' %s", json_string_value(v), why);
        return 0;
    }
    return check_fail(c, "internal error: keyword '%s' has no check", kw->name);
}

static int check_node(check_ctx *c, const json_t *s)
{
    const json_t *ref;
    void *it;
    int rc = 0;

    if (json_is_boolean(s))
        return 0;
    if (!json_is_object(s))
        return check_fail(c, "a schema must be an object or a boolean, not %s", type_name(s));
    if (c->depth >= SCHEMA_MAX_DEPTH)
        return check_fail(c, "schema nested deeper than %d levels", SCHEMA_MAX_DEPTH);
    c->depth++;
    ref = json_object_get(s, "$ref");
    for (it = json_object_iter((json_t *)s); it; it = json_object_iter_next((json_t *)s, it)) {
        const char *name = json_object_iter_key(it);
        size_t len = json_object_iter_key_len(it);
        const struct keyword *kw = keyword_find(name, len);

        if (!kw) {
            char shown[200] = "";

            fmt_quoted(shown, sizeof(shown), name, len);
            rc = check_fail(c, "unknown keyword %s", shown);
            goto done;
        }
        /* Draft 7 ignores the siblings of $ref, 2020-12 applies them: refuse the ambiguity. */
        if (ref && kw->kind != KW_REF && !kind_is_inert(kw->kind)) {
            rc = check_fail(c, "'%s' beside '$ref' is not supported (drafts disagree on it)",
                            kw->name);
            goto done;
        }
        rc = check_keyword(c, s, kw, json_object_iter_value(it));
        if (rc != 0)
            goto done;
    }
done:
    c->depth--;
    return rc;
}

int schema_check(const json_t *schema, char *msg, size_t msglen)
{
    check_ctx c;

    if (msg && msglen > 0)
        msg[0] = '\0';
    if (!schema) {
        msg_plain(msg, msglen, "(root): no schema");
        return -1;
    }
    memset(&c, 0, sizeof(c));
    c.root = schema;
    c.msg = msg;
    c.msglen = msglen;
    return check_node(&c, schema);
}

/* ---- schema_validate ----------------------------------------------------- */

static int validate(val_ctx *v, const json_t *schema, const json_t *inst);

/* Validates the child of the instance at key (or index) against `schema`. */
static int validate_child(val_ctx *v, const json_t *schema, const json_t *child, ptr_mark m)
{
    int rc;

    if (v->depth >= SCHEMA_MAX_DEPTH) {
        rc = val_fail(v, "nested deeper than %d levels", SCHEMA_MAX_DEPTH);
    } else {
        v->depth++;
        rc = validate(v, schema, child);
        v->depth--;
    }
    ptr_restore(&v->at, m);
    return rc;
}

static int type_matches(const char *t, const json_t *inst)
{
    if (strcmp(t, "integer") == 0)
        return is_integral(inst);
    if (strcmp(t, "number") == 0)
        return json_is_number(inst);
    return strcmp(t, type_name(inst)) == 0;
}

static int validate_type(val_ctx *v, const json_t *t, const json_t *inst)
{
    char want[128] = "";
    size_t i, n;

    if (json_is_string(t)) {
        if (type_matches(json_string_value(t), inst))
            return 1;
        return val_fail(v, "must be %s, not %s", json_string_value(t), type_name(inst));
    }
    n = json_array_size(t);
    for (i = 0; i < n; i++)
        if (json_is_string(json_array_get(t, i)) &&
            type_matches(json_string_value(json_array_get(t, i)), inst))
            return 1;
    for (i = 0; i < n; i++) {
        size_t len = strlen(want);

        snprintf(want + len, sizeof(want) - len, "%s%s", i == 0 ? "" : (i + 1 == n ? " or " : ", "),
                 json_string_value(json_array_get(t, i)) ? json_string_value(json_array_get(t, i))
                                                         : "?");
    }
    return val_fail(v, "must be %s, not %s", want, type_name(inst));
}

static int validate_enum(val_ctx *v, const json_t *e, const json_t *inst)
{
    char list[256] = "";
    size_t i, n = json_array_size(e);
    int rc;

    for (i = 0; i < n; i++) {
        rc = values_equal(json_array_get(e, i), inst, 0);
        if (rc == 1)
            return 1;
        if (rc < 0)
            return val_fail(v, "nested too deeply to compare");
    }
    if (n == 0)
        return val_fail(v, "no value is allowed ('enum' is empty)");
    for (i = 0; i < n && strlen(list) + 48 < sizeof(list); i++) {
        if (i > 0)
            strcat(list, ", ");
        fmt_value(list, sizeof(list) - 8, json_array_get(e, i));
    }
    if (i < n)
        strcat(list, ", ...");
    return val_fail(v, "must be one of %s", list);
}

static int validate_const(val_ctx *v, const json_t *k, const json_t *inst)
{
    char want[96] = "";
    int rc = values_equal(k, inst, 0);

    if (rc == 1)
        return 1;
    if (rc < 0)
        return val_fail(v, "nested too deeply to compare");
    fmt_value(want, sizeof(want), k);
    return val_fail(v, "must be %s", want);
}

static int validate_object(val_ctx *v, const json_t *schema, const json_t *inst)
{
    const json_t *props = json_object_get(schema, "properties");
    const json_t *addl = json_object_get(schema, "additionalProperties");
    const json_t *req = json_object_get(schema, "required");
    const json_t *kw;
    size_t i, n = json_object_size(inst);
    uint64_t count;
    void *it;
    int rc;

    for (i = 0; i < json_array_size(req); i++) {
        const json_t *name = json_array_get(req, i);

        if (json_is_string(name) &&
            !json_object_getn(inst, json_string_value(name), json_string_length(name))) {
            char shown[200] = "";

            fmt_value(shown, sizeof(shown), name);
            return val_fail(v, "missing required property %s", shown);
        }
    }
    for (it = json_object_iter((json_t *)inst); it;
         it = json_object_iter_next((json_t *)inst, it)) {
        const char *key = json_object_iter_key(it);
        size_t keylen = json_object_iter_key_len(it);
        const json_t *sub = props ? json_object_getn(props, key, keylen) : NULL;

        if (!sub && !addl)
            continue;
        if (!sub && json_is_false(addl)) {
            ptr_mark m = ptr_push(&v->at, key, keylen);

            rc = val_fail(v, "unknown property");
            ptr_restore(&v->at, m);
            return rc;
        }
        rc = validate_child(v, sub ? sub : addl, json_object_iter_value(it),
                            ptr_push(&v->at, key, keylen));
        if (rc != 1)
            return rc;
    }
    kw = json_object_get(schema, "minProperties");
    if (kw && get_count(kw, &count) == 0 && n < count)
        return val_fail(v, "must have at least %llu propert%s", (unsigned long long)count,
                        count == 1 ? "y" : "ies");
    kw = json_object_get(schema, "maxProperties");
    if (kw && get_count(kw, &count) == 0 && n > count)
        return val_fail(v, "must have at most %llu propert%s", (unsigned long long)count,
                        count == 1 ? "y" : "ies");
    return 1;
}

static int validate_array(val_ctx *v, const json_t *schema, const json_t *inst)
{
    const json_t *items = json_object_get(schema, "items");
    const json_t *kw;
    size_t i, j, n = json_array_size(inst);
    uint64_t count;
    int rc;

    kw = json_object_get(schema, "minItems");
    if (kw && get_count(kw, &count) == 0 && n < count)
        return val_fail(v, "must have at least %llu item%s", (unsigned long long)count,
                        count == 1 ? "" : "s");
    kw = json_object_get(schema, "maxItems");
    if (kw && get_count(kw, &count) == 0 && n > count)
        return val_fail(v, "must have at most %llu item%s", (unsigned long long)count,
                        count == 1 ? "" : "s");
    if (items && !json_is_array(items)) {
        for (i = 0; i < n; i++) {
            rc = validate_child(v, items, json_array_get(inst, i), ptr_push_index(&v->at, i));
            if (rc != 1)
                return rc;
        }
    }
    if (json_is_true(json_object_get(schema, "uniqueItems"))) {
        for (i = 1; i < n; i++) {
            for (j = 0; j < i; j++) {
                rc = values_equal(json_array_get(inst, j), json_array_get(inst, i), 0);
                if (rc < 0)
                    return val_fail(v, "nested too deeply to compare");
                if (rc == 1)
                    return val_fail(v, "must not contain duplicates (items %zu and %zu are equal)",
                                    j, i);
            }
        }
    }
    return 1;
}

schema_cache *schema_cache_new(void)
{
    return calloc(1, sizeof(schema_cache));
}

void schema_cache_free(schema_cache *c)
{
    size_t i;

    if (!c)
        return;
    for (i = 0; i < c->n; i++) {
        regfree(&c->entry[i].re);
        free(c->entry[i].text);
    }
    free(c);
}

/*
 * The compiled regex of `pattern` from the cache, compiled and added on
 * first use; a full cache keeps its entries and lends one slot to the
 * newcomer. NULL when the pattern does not compile (or out of memory).
 */
static const regex_t *cache_regex(schema_cache *c, const char *pattern)
{
    size_t i, slot;
    char *text;

    for (i = 0; i < c->n; i++)
        if (strcmp(c->entry[i].text, pattern) == 0)
            return &c->entry[i].re;
    slot = c->n < SCHEMA_CACHE_MAX ? c->n : SCHEMA_CACHE_MAX - 1;
    if (!(text = strdup(pattern)))
        return NULL;
    if (c->n == SCHEMA_CACHE_MAX) { /* full: replace the last entry */
        regfree(&c->entry[slot].re);
        free(c->entry[slot].text);
        c->n--;
    }
    if (regcomp(&c->entry[slot].re, pattern, REG_EXTENDED | REG_NOSUB) != 0) {
        free(text);
        return NULL;
    }
    c->entry[slot].text = text;
    c->n++;
    return &c->entry[slot].re;
}

static int validate_string(val_ctx *v, const json_t *schema, const json_t *inst)
{
    const json_t *kw;
    size_t chars = utf8_count(json_string_value(inst), json_string_length(inst));
    uint64_t count;
    regex_t re;
    int rc;

    kw = json_object_get(schema, "minLength");
    if (kw && get_count(kw, &count) == 0 && chars < count)
        return val_fail(v, "must be at least %llu character%s long", (unsigned long long)count,
                        count == 1 ? "" : "s");
    kw = json_object_get(schema, "maxLength");
    if (kw && get_count(kw, &count) == 0 && chars > count)
        return val_fail(v, "must be at most %llu character%s long", (unsigned long long)count,
                        count == 1 ? "" : "s");
    kw = json_object_get(schema, "pattern");
    if (!json_is_string(kw))
        return 1;
    if (v->cache) {
        const regex_t *cached = cache_regex(v->cache, json_string_value(kw));

        if (!cached)
            return val_error(v, "pattern '%s' does not compile", json_string_value(kw));
        rc = pattern_search(cached, json_string_value(inst), json_string_length(inst));
    } else {
        rc = regcomp(&re, json_string_value(kw), REG_EXTENDED | REG_NOSUB);
        if (rc != 0)
            return val_error(v, "pattern '%s' does not compile", json_string_value(kw));
        rc = pattern_search(&re, json_string_value(inst), json_string_length(inst));
        regfree(&re);
    }
    if (!rc)
        return val_fail(v, "does not match pattern '%s'", json_string_value(kw));
    return 1;
}

static int validate_number(val_ctx *v, const json_t *schema, const json_t *inst)
{
    const json_t *kw;
    char num[40];

    kw = json_object_get(schema, "minimum");
    if (json_is_number(kw) && num_cmp(inst, kw) < 0) {
        fmt_number(num, sizeof(num), kw);
        return val_fail(v, "must be >= %s", num);
    }
    kw = json_object_get(schema, "maximum");
    if (json_is_number(kw) && num_cmp(inst, kw) > 0) {
        fmt_number(num, sizeof(num), kw);
        return val_fail(v, "must be <= %s", num);
    }
    kw = json_object_get(schema, "exclusiveMinimum");
    if (json_is_number(kw) && num_cmp(inst, kw) <= 0) {
        fmt_number(num, sizeof(num), kw);
        return val_fail(v, "must be > %s", num);
    }
    kw = json_object_get(schema, "exclusiveMaximum");
    if (json_is_number(kw) && num_cmp(inst, kw) >= 0) {
        fmt_number(num, sizeof(num), kw);
        return val_fail(v, "must be < %s", num);
    }
    kw = json_object_get(schema, "multipleOf");
    if (json_is_number(kw) && !is_multiple(inst, kw)) {
        fmt_number(num, sizeof(num), kw);
        return val_fail(v, "must be a multiple of %s", num);
    }
    return 1;
}

/* allOf, anyOf, oneOf, not. */
static int validate_combinators(val_ctx *v, const json_t *schema, const json_t *inst)
{
    const json_t *kw;
    size_t i, first = 0, matched;
    int rc;

    kw = json_object_get(schema, "allOf");
    for (i = 0; i < json_array_size(kw); i++) {
        rc = validate(v, json_array_get(kw, i), inst);
        if (rc != 1)
            return rc;
    }
    kw = json_object_get(schema, "anyOf");
    if (json_array_size(kw) > 0) {
        v->quiet++;
        for (i = 0, rc = 0; i < json_array_size(kw) && rc == 0; i++)
            rc = validate(v, json_array_get(kw, i), inst);
        v->quiet--;
        if (rc < 0)
            return rc;
        if (rc == 0)
            return val_fail(v, "must match at least one schema in 'anyOf'");
    }
    kw = json_object_get(schema, "oneOf");
    if (json_array_size(kw) > 0) {
        v->quiet++;
        for (i = 0, matched = 0, rc = 0; i < json_array_size(kw) && matched < 2; i++) {
            rc = validate(v, json_array_get(kw, i), inst);
            if (rc < 0)
                break;
            if (rc == 1 && matched++ == 0)
                first = i;
        }
        v->quiet--;
        if (rc < 0)
            return rc;
        if (matched == 0)
            return val_fail(v, "must match exactly one schema in 'oneOf' (matches none)");
        if (matched > 1)
            return val_fail(v, "must match exactly one schema in 'oneOf' (matches %zu and %zu)",
                            first, i - 1);
    }
    kw = json_object_get(schema, "not");
    if (kw) {
        v->quiet++;
        rc = validate(v, kw, inst);
        v->quiet--;
        if (rc < 0)
            return rc;
        if (rc == 1)
            return val_fail(v, "must not match the schema in 'not'");
    }
    return 1;
}

static int validate_keywords(val_ctx *v, const json_t *schema, const json_t *inst)
{
    const json_t *kw;
    int rc;

    kw = json_object_get(schema, "$ref");
    if (kw) {
        const char *why = "must be a string";
        const json_t *target = json_is_string(kw) ? ref_resolve(v->root, json_string_value(kw),
                                                                json_string_length(kw), &why)
                                                  : NULL;

        if (!target)
            return val_error(v, "$ref '%s' %s", json_string_value(kw) ? json_string_value(kw) : "",
                             why);
        return validate(v, target, inst);
    }
    kw = json_object_get(schema, "type");
    if (kw && (rc = validate_type(v, kw, inst)) != 1)
        return rc;
    kw = json_object_get(schema, "enum");
    if (json_is_array(kw) && (rc = validate_enum(v, kw, inst)) != 1)
        return rc;
    kw = json_object_get(schema, "const");
    if (kw && (rc = validate_const(v, kw, inst)) != 1)
        return rc;
    if (json_is_object(inst))
        rc = validate_object(v, schema, inst);
    else if (json_is_array(inst))
        rc = validate_array(v, schema, inst);
    else if (json_is_string(inst))
        rc = validate_string(v, schema, inst);
    else if (json_is_number(inst))
        rc = validate_number(v, schema, inst);
    else
        rc = 1;
    if (rc != 1)
        return rc;
    return validate_combinators(v, schema, inst);
}

/* Arrays, objects and scalars in j, counted up to `limit`. */
static size_t count_nodes(const json_t *j, size_t limit)
{
    size_t n = 1, i;
    void *it;

    if (json_is_array(j)) {
        for (i = 0; i < json_array_size(j) && n < limit; i++)
            n += count_nodes(json_array_get(j, i), limit - n);
    } else if (json_is_object(j)) {
        for (it = json_object_iter((json_t *)j); it && n < limit;
             it = json_object_iter_next((json_t *)j, it))
            n += count_nodes(json_object_iter_value(it), limit - n);
    }
    return n;
}

/* The step budget of validating `inst` against the document `root`. */
static void budget_set(val_ctx *v, const json_t *root, const json_t *inst)
{
    const size_t cap = SIZE_MAX / 4;
    size_t s = count_nodes(root, cap) + 1, i = count_nodes(inst, cap) + 1;

    v->budget = s > cap / SCHEMA_STEP_FACTOR / i ? cap : SCHEMA_STEP_FACTOR * s * i;
    if (v->budget < SCHEMA_MIN_STEPS)
        v->budget = SCHEMA_MIN_STEPS;
}

static int validate(val_ctx *v, const json_t *schema, const json_t *inst)
{
    int rc;

    if (v->steps >= v->budget)
        return val_error(v,
                         "the schema takes more than %zu steps to apply (combinators that "
                         "multiply the work, such as anyOf over the same $ref?)",
                         v->budget);
    v->steps++;
    if (json_is_true(schema))
        return 1;
    if (json_is_false(schema))
        return val_fail(v, "not allowed");
    if (!json_is_object(schema))
        return val_error(v, "a schema must be an object or a boolean, not %s", type_name(schema));
    if (v->calls >= SCHEMA_MAX_CALLS)
        return val_error(v, "schema recursion deeper than %d levels (a $ref loop?)",
                         SCHEMA_MAX_CALLS);
    v->calls++;
    rc = validate_keywords(v, schema, inst);
    v->calls--;
    return rc;
}

int schema_validate(const json_t *root, const json_t *schema, const json_t *instance, char *msg,
                    size_t msglen)
{
    val_ctx v;
    check_ctx c;

    if (msg && msglen > 0)
        msg[0] = '\0';
    if (!schema || !instance) {
        msg_plain(msg, msglen, schema ? "(root): no instance" : "(root): no schema");
        return -1;
    }
    if (!root)
        root = schema;
    /* The whole document first, so an unusable schema fails whatever the instance is. */
    memset(&c, 0, sizeof(c));
    c.root = root;
    c.msg = msg;
    c.msglen = msglen;
    if (check_node(&c, root) != 0)
        return -1;
    if (schema != root && check_node(&c, schema) != 0)
        return -1;

    memset(&v, 0, sizeof(v));
    v.root = root;
    v.msg = msg;
    v.msglen = msglen;
    budget_set(&v, root, instance);
    return validate(&v, schema, instance);
}

int schema_validate_checked(schema_cache *cache, const json_t *root, const json_t *schema,
                            const json_t *instance, char *msg, size_t msglen)
{
    val_ctx v;

    if (msg && msglen > 0)
        msg[0] = '\0';
    if (!schema || !instance) {
        msg_plain(msg, msglen, schema ? "(root): no instance" : "(root): no schema");
        return -1;
    }
    memset(&v, 0, sizeof(v));
    v.root = root ? root : schema;
    v.msg = msg;
    v.msglen = msglen;
    v.cache = cache;
    budget_set(&v, v.root, instance);
    return validate(&v, schema, instance);
}
