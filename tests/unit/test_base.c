/* Unit tests of the base layer's helpers: the bounded buffer, one-line text, secrets in text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tools/base/buf.h"
#include "tools/base/grove.h"
#include "tools/base/secret.h"
#include "tools/base/url.h"

static void test_buf_grows_and_stays_terminated(void **state)
{
    grove_buf b = BUF_INIT(1 << 20);
    char chunk[1000];
    size_t i;

    (void)state;
    assert_string_equal(buf_str(&b), "");
    memset(chunk, 'x', sizeof(chunk));
    for (i = 0; i < 100; i++)
        assert_int_equal(buf_add(&b, chunk, sizeof(chunk)), 0);
    assert_int_equal(b.len, 100000);
    assert_int_equal(strlen(buf_str(&b)), 100000);
    assert_true(b.cap > b.len);
    assert_false(b.truncated);
    buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

static void test_buf_drops_past_the_cap(void **state)
{
    grove_buf b = BUF_INIT(10);

    (void)state;
    assert_int_equal(buf_add(&b, "12345", 5), 0);
    assert_int_equal(buf_add(&b, "6789abcdef", 10), 1); /* 5 fit, 5 dropped */
    assert_string_equal(buf_str(&b), "123456789a");
    assert_true(b.truncated);
    assert_int_equal(buf_add(&b, "z", 1), 1);
    assert_int_equal(b.len, 10);
    assert_int_equal(buf_add(&b, "", 0), 0);
    buf_free(&b);
}

static void test_buf_printf_long_and_take(void **state)
{
    grove_buf b = BUF_INIT(100000);
    char *s;
    char big[5000];

    (void)state;
    memset(big, 'y', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(buf_printf(&b, "<%d>", 42), 0);
    assert_int_equal(buf_printf(&b, "%s|", big), 0); /* longer than the small stack buffer */
    assert_int_equal(b.len, 4 + 4999 + 1);
    assert_int_equal(buf_str(&b)[4 + 4999], '|');
    s = buf_take(&b);
    assert_non_null(s);
    assert_int_equal(strncmp(s, "<42>yyy", 7), 0);
    assert_null(b.data);
    assert_string_equal(buf_str(&b), "");
    free(s);
    s = buf_take(&b); /* empty: "" rather than NULL */
    assert_string_equal(s, "");
    free(s);
}

static void test_buf_printf_past_the_cap(void **state)
{
    grove_buf b = BUF_INIT(8);

    (void)state;
    assert_int_equal(buf_printf(&b, "%s", "abcdefghijkl"), 1);
    assert_string_equal(buf_str(&b), "abcdefgh");
    buf_free(&b);
}

static void test_one_line(void **state)
{
    char a[] = "  first\nsecond\r\n\tthird\x1b[0m \x7f ";
    char b[] = "\n\n";
    char c[] = "plain";

    (void)state;
    grove_one_line(a);
    assert_string_equal(a, "first second   third [0m");
    grove_one_line(b);
    assert_string_equal(b, "");
    grove_one_line(c);
    assert_string_equal(c, "plain");
}

static void test_token_at(void **state)
{
    const char *tok = "ghp_0123456789abcdefghij";
    const char *pat = "github_pat_11ABCDEFG0123456789_abcdefghijklmnop";

    (void)state;
    assert_int_equal(secret_token_at(tok, strlen(tok)), strlen(tok));
    assert_int_equal(secret_token_at(pat, strlen(pat)), strlen(pat));
    /* 19 characters after the prefix are not a token; the length bound is respected */
    assert_int_equal(secret_token_at("ghp_0123456789abcdefghi", 23), 0);
    assert_int_equal(secret_token_at(tok, 10), 0);
    assert_int_equal(secret_token_at("xghp_0123456789abcdefghij", 25), 0);
    assert_int_equal(secret_token_at("ghp_0123456789abcdefghij-rest", 29), 24);
}

static void test_redact_json(void **state)
{
    json_t *v = json_pack("{s:s, s:s, s:{s:s, s:[s, s, i]}, s:s}", "api_token", "short", "note",
                          "uses ghp_0123456789abcdefghij here", "nested", "Password", "x", "list",
                          "ok", "ghs_abcdefghijklmnopqrstuvwxyz", 3, "title", "ghp_ alone");
    json_t *late = json_pack("[s, s, s]", "going gh ggithub_pat_11ABCDEFG0123456789_abcdefghij",
                             "g", "ends with g");
    char *out;

    (void)state;
    assert_non_null(v);
    secret_redact_json(v);
    out = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(out,
                        "{\"api_token\":\"[redacted]\",\"nested\":{\"Password\":\"[redacted]\","
                        "\"list\":[\"ok\",\"[redacted]\",3]},\"note\":\"[redacted]\","
                        "\"title\":\"ghp_ alone\"}");
    free(out);
    json_decref(v);
    /* a token after other g's, and strings that end at a 'g' */
    assert_non_null(late);
    secret_redact_json(late);
    out = json_dumps(late, JSON_COMPACT);
    assert_string_equal(out, "[\"[redacted]\",\"g\",\"ends with g\"]");
    free(out);
    json_decref(late);
    assert_true(secret_key_name("GITHUB_TOKEN"));
    assert_true(secret_key_name("x-authorization"));
    assert_true(secret_key_name("tokens_count")); /* a name that suggests one is enough */
    assert_false(secret_key_name("phase"));
}

static void test_scrub(void **state)
{
    secret_set set = SECRET_SET_INIT;
    grove_buf b = BUF_INIT(1 << 16);
    const char *text = "a s3cr\"et\x1f b s3cr\\\"et\\u001f c s3cr\\\"et\\u001F"
                       " d ghp_0123456789abcdefghij e shrt";
    char small[] = "xx s3cr\"et\x1f yy";

    (void)state;
    assert_int_equal(secret_set_add(&set, "s3cr\"et\x1f", 8), 0);
    assert_int_equal(secret_set_add(&set, "shrt", 8), 0); /* too short: not searched for */
    assert_int_equal(secret_set_add(&set, NULL, 8), 0);
    assert_int_equal(set.plain.n, 1);
    assert_int_equal(set.json.n, 2); /* escaped as \u001f and as \u001F */
    assert_int_equal(secret_scrub(&set, SECRET_PLAIN, "#", text, strlen(text), &b), 0);
    assert_string_equal(buf_str(&b), "a # b s3cr\\\"et\\u001f c s3cr\\\"et\\u001F"
                                     " d ghp_0123456789abcdefghij e shrt");
    buf_free(&b);
    assert_int_equal(
        secret_scrub(&set, SECRET_PLAIN | SECRET_JSON | SECRET_TOKENS, "#", text, strlen(text), &b),
        0);
    assert_string_equal(buf_str(&b), "a # b # c # d # e shrt");
    buf_free(&b);
    /* the cap cuts the output and says so */
    b.max = 5;
    assert_int_equal(secret_scrub(&set, SECRET_PLAIN, "[redacted]", text, strlen(text), &b), 1);
    assert_string_equal(buf_str(&b), "a [re");
    buf_free(&b);
    secret_mask(small, "s3cr\"et\x1f");
    assert_string_equal(small, "xx ******** yy");
    secret_set_free(&set);
    assert_null(set.plain.v);
}

static void test_url_host(void **state)
{
    static const char *const cases[][2] = {
        {"https://github.com/o/r.git", "github.com"},
        {"https://x-access-token:t@GitHub.COM:443/o/r", "github.com"},
        {"https://a@b@evil.example/o/r", "evil.example"},
        {"http://127.0.0.1:8080/x", "127.0.0.1"},
        {"http://[::1]:9/x", "[::1]"},
        {"https://github.com.evil.example/o/r", "github.com.evil.example"},
        {"https://evil.example/github.com/o/r", "evil.example"},
        {"https://evil.example?github.com", "evil.example"},
        {"ssh://git@github.com/o/r", "github.com"},
    };
    char host[64];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(url_host(cases[i][0], host, sizeof(host)), 0);
        assert_string_equal(host, cases[i][1]);
    }
    assert_int_equal(url_host("github.com/o/r", host, sizeof(host)), -1);
    assert_int_equal(url_host("https:///o/r", host, sizeof(host)), -1);
    assert_int_equal(url_host("https://[::1/o", host, sizeof(host)), -1);
    assert_int_equal(url_host("https://a-very-long-host.example/", host, 8), -1);
    assert_int_equal(url_host(NULL, host, sizeof(host)), -1);
    assert_true(url_host_is_loopback("127.0.0.1"));
    assert_true(url_host_is_loopback("[::1]"));
    assert_true(url_host_is_loopback("localhost"));
    assert_false(url_host_is_loopback("127.0.0.2"));
    assert_false(url_host_is_loopback("localhost.evil.example"));
}

static void test_nomem_and_fail(void **state)
{
    grove_err err = GROVE_ERR_INIT;
    char bad[] = {'a', (char)0xff, 'b', 0};

    (void)state;
    assert_int_equal(grove_nomem(&err), -1);
    assert_int_equal(err.code, GROVE_ENOMEM);
    assert_string_equal(err.msg, "out of memory");
    assert_int_equal(grove_fail(&err, GROVE_EINVAL, "bad '%s'", bad), -1);
    assert_string_equal(err.msg, "bad 'a?b'"); /* messages are valid UTF-8 */
    assert_int_equal(grove_fail(NULL, GROVE_EIO, "no err"), -1);
}

/* grove_list_text(): the names that fit, whole, then how many were left out. */
static void test_list_text(void **state)
{
    char names[10][8] = {"a.txt", "b.txt", "c.txt", "d", "e", "f", "g", "h", "i", "j"};
    char *items[10], buf[64], tiny[12];
    size_t i;

    (void)state;
    for (i = 0; i < 10; i++)
        items[i] = names[i];
    grove_list_text(items, 0, 8, buf, sizeof(buf));
    assert_string_equal(buf, "");
    grove_list_text(items, 3, 8, buf, sizeof(buf));
    assert_string_equal(buf, "a.txt, b.txt, c.txt");
    grove_list_text(items, 10, 8, buf, sizeof(buf));
    assert_string_equal(buf, "a.txt, b.txt, c.txt, d, e, f, g, h (and 2 more)");
    grove_list_text(items, 10, 2, buf, sizeof(buf));
    assert_string_equal(buf, "a.txt, b.txt (and 8 more)");
    /* no half names when the buffer is short */
    grove_list_text(items, 3, 8, tiny, sizeof(tiny));
    assert_string_equal(tiny, "a.txt");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_grows_and_stays_terminated),
        cmocka_unit_test(test_buf_drops_past_the_cap),
        cmocka_unit_test(test_buf_printf_long_and_take),
        cmocka_unit_test(test_buf_printf_past_the_cap),
        cmocka_unit_test(test_one_line),
        cmocka_unit_test(test_token_at),
        cmocka_unit_test(test_redact_json),
        cmocka_unit_test(test_scrub),
        cmocka_unit_test(test_url_host),
        cmocka_unit_test(test_nomem_and_fail),
        cmocka_unit_test(test_list_text),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
