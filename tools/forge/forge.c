/*
 * forge: GitHub's REST API over libcurl. One easy handle per request, a
 * bounded response body, no redirects, http(s) only. Every message that
 * leaves this file has been through forge_redact() with the caller's token.
 *
 * Ownership: the functions borrow their arguments; what they return through
 * `out` belongs to the caller (forge_pr_free, json_decref).
 */
#include "tools/forge/forge.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "tools/base/buf.h"
#include "tools/base/secret.h"
#include "tools/base/url.h"

#ifndef GROVE_VERSION
#define GROVE_VERSION "0.1.0"
#endif

#define FORGE_MAX_BODY           (8u << 20) /* GitHub's answers are far smaller */
#define FORGE_CONNECT_TIMEOUT_MS 10000L
#define FORGE_TIMEOUT_MS         30000L
#define FORGE_EXISTS_TEXT        "A pull request already exists"

/* ---- small string helpers ------------------------------------------------ */

/* [A-Za-z0-9._-]+, and neither "." nor "..". */
static int name_ok(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
        return 0;
    for (i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
            return 0;
    return 1;
}

/* "owner/name" with both parts name_ok. */
static int owner_repo_ok(const char *s)
{
    const char *slash = s ? strchr(s, '/') : NULL;

    return slash && name_ok(s, (size_t)(slash - s)) && name_ok(slash + 1, strlen(slash + 1));
}

/*
 * Copies url into buf without any "user[:pass]@" after the scheme and without
 * trailing slashes: the form that error messages name.
 */
static void display_url(const char *url, char *buf, size_t size)
{
    const char *sep = strstr(url, "://");
    const char *host = sep ? sep + 3 : url;
    const char *end = host + strcspn(host, "/?#");
    const char *at = NULL, *p;
    size_t n;

    for (p = host; p < end; p++)
        if (*p == '@')
            at = p;
    if (at)
        snprintf(buf, size, "%.*s%s", (int)(host - url), url, at + 1);
    else
        snprintf(buf, size, "%s", url);
    n = strlen(buf);
    while (n > 0 && buf[n - 1] == '/')
        buf[--n] = '\0';
}

/* ---- redaction ----------------------------------------------------------- */

/* Appends src[0..n) to dst (capacity size, length *len), truncating; keeps it NUL-terminated. */
static void append_n(char *dst, size_t size, size_t *len, const char *src, size_t n)
{
    if (*len + 1 >= size)
        return;
    if (n > size - 1 - *len)
        n = size - 1 - *len;
    memcpy(dst + *len, src, n);
    *len += n;
    dst[*len] = '\0';
}

/* A scheme ends at text[i] (text[i..] starts with "://"): its start, or -1. */
static long scheme_start(const char *text, size_t i)
{
    size_t s = i;

    while (s > 0 && (isalnum((unsigned char)text[s - 1]) || text[s - 1] == '+' ||
                     text[s - 1] == '-' || text[s - 1] == '.'))
        s--;
    while (s < i && !isalpha((unsigned char)text[s]))
        s++; /* a scheme starts with a letter */
    return s < i ? (long)s : -1;
}

/*
 * Does the userinfo text[from..at) of a URL whose scheme is text[s..i) need
 * hiding? Always when it has a password; for http(s) also a lone user name,
 * since "https://<token>@host" is a common way to put a token in a URL.
 */
static int userinfo_secret(const char *text, size_t s, size_t i, size_t from, size_t at)
{
    size_t k;

    for (k = from; k < at; k++)
        if (text[k] == ':')
            return 1;
    return (i - s == 4 && strncasecmp(text + s, "http", 4) == 0) ||
           (i - s == 5 && strncasecmp(text + s, "https", 5) == 0);
}

static void redact_userinfo(char *text, size_t size)
{
    char *copy = NULL;
    size_t i, len = 0, n = strlen(text), done = 0;

    for (i = 0; i + 3 <= n; i++) {
        size_t from, end, k, at = 0;
        long s;

        if (strncmp(text + i, "://", 3) != 0 || (s = scheme_start(text, i)) < 0)
            continue;
        from = i + 3;
        end = from + strcspn(text + from, "/?#\"'<> \t\r\n");
        for (k = from; k < end; k++)
            if (text[k] == '@')
                at = k;
        if (!at || at == from || !userinfo_secret(text, (size_t)s, i, from, at))
            continue;
        if (!copy) {
            copy = malloc(size);
            if (!copy) { /* no memory: mask in place, same length */
                memset(text + from, '*', at - from);
                continue;
            }
            copy[0] = '\0';
        }
        append_n(copy, size, &len, text + done, from - done);
        append_n(copy, size, &len, "***", 3);
        done = at;
        i = at;
    }
    if (copy) {
        append_n(copy, size, &len, text + done, n - done);
        memcpy(text, copy, len + 1);
        free(copy);
    }
}

/* Replaces `secret` in text (size bytes) with "***"; without memory, masks it in place. */
static void redact_secret(char *text, size_t size, const char *secret)
{
    secret_set set = SECRET_SET_INIT;
    grove_buf b = BUF_INIT(size - 1);

    if (secret_set_add(&set, secret, 1) == 0 &&
        secret_scrub(&set, SECRET_PLAIN, "***", text, strlen(text), &b) >= 0)
        memcpy(text, buf_str(&b), b.len + 1);
    else
        secret_mask(text, secret);
    secret_set_free(&set);
    buf_free(&b);
}

void forge_redact(char *text, size_t size, const char *secret)
{
    if (!text || size == 0)
        return;
    text[size - 1] = '\0';
    if (secret && *secret)
        redact_secret(text, size, secret);
    redact_userinfo(text, size);
}

/* ---- remote URLs --------------------------------------------------------- */

/* host[0..n): letters, digits, '.', '-', or a bracketed IPv6 address. */
static int host_ok(const char *h, size_t n)
{
    size_t i;

    if (n == 0)
        return 0;
    if (h[0] == '[')
        return n > 2 && h[n - 1] == ']';
    for (i = 0; i < n; i++)
        if (!isalnum((unsigned char)h[i]) && h[i] != '.' && h[i] != '-')
            return 0;
    return 1;
}

/* The path of a remote ("owner/name[.git][/]", maybe with a leading '/') as "owner/name". */
static char *remote_path(const char *p)
{
    size_t n;
    char *out;

    while (*p == '/')
        p++;
    n = strlen(p);
    while (n > 0 && p[n - 1] == '/')
        n--;
    if (n > 4 && strncmp(p + n - 4, ".git", 4) == 0)
        n -= 4;
    while (n > 0 && p[n - 1] == '/')
        n--;
    out = strndup(p, n);
    if (out && !owner_repo_ok(out)) {
        free(out);
        out = NULL;
    }
    return out;
}

int forge_parse_remote(const char *url, char **host, char **owner_repo)
{
    const char *sep, *auth, *auth_end, *h, *h_end, *p, *colon;
    char *hs = NULL, *repo = NULL, *c;

    *host = NULL;
    *owner_repo = NULL;
    if (!url || !*url)
        return -1;
    sep = strstr(url, "://");
    if (sep) {
        size_t sl = (size_t)(sep - url);
        static const char *const schemes[] = {"https", "http", "ssh", "git", "git+ssh", "ssh+git"};
        size_t i, ok = 0;

        for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
            if (strlen(schemes[i]) == sl && strncasecmp(url, schemes[i], sl) == 0)
                ok = 1;
        if (!ok)
            return -1; /* file://, and schemes that name no host */
        auth = sep + 3;
        auth_end = auth + strcspn(auth, "/");
        if (*auth_end != '/')
            return -1;
        h = auth;
        for (p = auth; p < auth_end; p++)
            if (*p == '@')
                h = p + 1;
        if (*h == '[') {
            h_end = memchr(h, ']', (size_t)(auth_end - h));
            h_end = h_end ? h_end + 1 : auth_end;
        } else {
            h_end = memchr(h, ':', (size_t)(auth_end - h));
            if (!h_end)
                h_end = auth_end;
        }
        p = auth_end;
    } else {
        /* scp-like [user@]host:path; a '/' before the first ':' makes it a local path */
        colon = strchr(url, ':');
        if (!colon || memchr(url, '/', (size_t)(colon - url)))
            return -1;
        h = url;
        for (p = url; p < colon; p++)
            if (*p == '@')
                h = p + 1;
        h_end = colon;
        p = colon + 1;
    }
    if (!host_ok(h, (size_t)(h_end - h)))
        return -1;
    repo = remote_path(p);
    if (!repo)
        return -1;
    hs = strndup(h, (size_t)(h_end - h));
    if (!hs) {
        free(repo);
        return -1;
    }
    for (c = hs; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    *host = hs;
    *owner_repo = repo;
    return 0;
}

/* ---- HTTP ---------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* curl's write callback: the body into a grove_buf capped at FORGE_MAX_BODY. */
static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
    grove_buf *b = arg;
    size_t n = size * nmemb;

    /* 0 aborts the transfer with CURLE_WRITE_ERROR: too big (b->truncated) or out of memory. */
    return buf_add(b, ptr, n) == 0 ? n : 0;
}

/* An HTTP answer: status and the body, parsed when it is JSON. */
typedef struct http_answer {
    long status;
    json_t *json;  /* NULL when the body is empty or not JSON */
    char raw[256]; /* the start of the body, one line, for answers that are not JSON */
} http_answer;

static void answer_clear(http_answer *a)
{
    json_decref(a->json);
    memset(a, 0, sizeof(*a));
}

static int add_header(struct curl_slist **list, const char *line)
{
    struct curl_slist *grown = curl_slist_append(*list, line);

    if (!grown)
        return -1;
    *list = grown;
    return 0;
}

static long opt_ms(long v, long fallback)
{
    return v > 0 ? v : fallback;
}

static const char *api_base(const forge_opts *o)
{
    return o->api_url && *o->api_url ? o->api_url : FORGE_DEFAULT_API_URL;
}

/*
 * The token goes over https, or over plain http only to this machine (tests,
 * a local proxy): never in clear text over a network.
 */
static int check_api_url(const char *base, grove_err *err)
{
    char host[256];

    if (strncasecmp(base, "https://", 8) == 0)
        return 0;
    if (strncasecmp(base, "http://", 7) == 0 && url_host(base, host, sizeof(host)) == 0 &&
        url_host_is_loopback(host))
        return 0;
    return grove_fail(err, GROVE_EINVAL,
                      "refusing to send the GitHub token to '%.200s': the API URL must be https "
                      "(plain http only to 127.0.0.1, localhost or [::1]); fix GITHUB_API_URL or "
                      "config github.api_url",
                      base);
}

static int check_opts(const forge_opts *o, grove_err *err)
{
    if (!o || !o->token || !*o->token)
        return grove_fail(err, GROVE_EINVAL, "no GitHub token was given");
    if (strpbrk(o->token, "\r\n"))
        return grove_fail(err, GROVE_EINVAL, "the GitHub token contains a line break");
    if (!owner_repo_ok(o->owner_repo))
        return grove_fail(err, GROVE_EINVAL,
                          "invalid GitHub repository '%s': expected 'owner/name' "
                          "(letters, digits, '.', '_', '-')",
                          o->owner_repo ? o->owner_repo : "");
    return check_api_url(api_base(o), err);
}

/*
 * Sends one request to <api_url><path> (path starts with '/'; query included);
 * `body` is JSON text for a POST, NULL for a GET. 0 with `a` filled when
 * GitHub answered (any status); -1 with err filled when it could not be
 * reached, did not answer in time, or answered too much.
 */
static int http_request(const forge_opts *o, const char *path, const char *body, http_answer *a,
                        grove_err *err)
{
    const char *base = api_base(o);
    char shown[512], errbuf[CURL_ERROR_SIZE] = "";
    char *url = NULL, *auth = NULL;
    size_t blen = strlen(base);
    struct curl_slist *headers = NULL;
    grove_buf b = BUF_INIT(FORGE_MAX_BODY);
    CURL *curl = NULL;
    CURLcode cc;
    long connect_ms = opt_ms(o->connect_timeout_ms, FORGE_CONNECT_TIMEOUT_MS);
    long total_ms = opt_ms(o->timeout_ms, FORGE_TIMEOUT_MS);
    int rc = -1;

    memset(a, 0, sizeof(*a));
    display_url(base, shown, sizeof(shown));
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK)
        return grove_fail(err, GROVE_EIO, "cannot start libcurl: %s",
                          curl_easy_strerror(curl_init_rc));
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    url = grove_asprintf("%.*s%s", (int)blen, base, path);
    auth = grove_asprintf("Authorization: Bearer %s", o->token);
    curl = curl_easy_init();
    if (!url || !auth || !curl) {
        grove_nomem(err);
        goto done;
    }
    if (add_header(&headers, "Accept: application/vnd.github+json") != 0 ||
        add_header(&headers, "X-GitHub-Api-Version: " FORGE_API_VERSION) != 0 ||
        add_header(&headers, auth) != 0 ||
        add_header(&headers, "User-Agent: grove/" GROVE_VERSION) != 0 ||
        (body && add_header(&headers, "Content-Type: application/json") != 0)) {
        grove_nomem(err);
        goto done;
    }

    if (curl_easy_setopt(curl, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, connect_ms) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, total_ms) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b) != CURLE_OK) {
        grove_fail(err, GROVE_EIO, "cannot set up the request to %s", shown);
        goto done;
    }
    if (body && (curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
                 curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body)) !=
                     CURLE_OK)) {
        grove_fail(err, GROVE_EIO, "cannot set up the request to %s", shown);
        goto done;
    }

    log_debug("forge: %s %s%s", body ? "POST" : "GET", shown, path);
    cc = curl_easy_perform(curl);
    if (cc != CURLE_OK) {
        curl_off_t connected = 0;

        if (b.truncated) {
            grove_fail(err, GROVE_EIO, "GitHub at %s answered more than %u MiB: transfer aborted",
                       shown, FORGE_MAX_BODY >> 20);
        } else if (cc == CURLE_OPERATION_TIMEDOUT) {
            curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME_T, &connected);
            grove_fail(err, GROVE_EIO, "GitHub at %s did not answer within %g s%s", shown,
                       (connected > 0 ? total_ms : connect_ms) / 1000.0,
                       connected > 0 ? "" : " (no connection)");
        } else if (cc == CURLE_WRITE_ERROR) {
            grove_fail(err, GROVE_ENOMEM, "out of memory reading GitHub's answer from %s", shown);
        } else {
            grove_one_line(errbuf);
            grove_fail(err, GROVE_EIO, "cannot reach %s: %s", shown,
                       *errbuf ? errbuf : curl_easy_strerror(cc));
        }
        goto done;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a->status);
    if (b.len > 0) {
        a->json = json_loadb(b.data, b.len, 0, NULL);
        if (!a->json) {
            snprintf(a->raw, sizeof(a->raw), "%.*s", (int)(b.len < 255 ? b.len : 255), b.data);
            grove_one_line(a->raw);
            grove_utf8_sanitize(a->raw);
        }
    }
    rc = 0;
done:
    curl_easy_cleanup(curl);
    curl_slist_free_all(headers);
    buf_free(&b);
    if (auth) {
        memset(auth, 0, strlen(auth)); /* the token does not linger in freed memory */
        free(auth);
    }
    free(url);
    return rc;
}

/* GitHub's `message` of an answer, or what stands in for it. */
static const char *answer_message(const http_answer *a)
{
    const char *m = json_string_value(json_object_get(a->json, "message"));

    if (m && *m)
        return m;
    if (*a->raw)
        return a->raw;
    return "(no message)";
}

/* Appends every errors[] entry of an answer: "; <message>" or "; resource R field F code C". */
static void add_error_entries(grove_buf *t, json_t *errors)
{
    size_t i;
    json_t *e;

    json_array_foreach(errors, i, e)
    {
        static const char *const keys[] = {"resource", "field", "code"};
        const char *m = json_string_value(json_object_get(e, "message"));
        json_t *value = json_object_get(e, "value");
        size_t k;

        if (json_is_string(e)) {
            buf_printf(t, "; %s", json_string_value(e));
            continue;
        }
        if (m && *m) {
            buf_printf(t, "; %s", m);
            continue;
        }
        buf_printf(t, ";");
        for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
            json_t *v = json_object_get(e, keys[k]);

            if (json_is_string(v))
                buf_printf(t, " %s %s", keys[k], json_string_value(v));
        }
        if (value) {
            char *dumped = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);

            if (dumped)
                buf_printf(t, " value %s", dumped);
            free(dumped);
        }
    }
}

/* Fills err from an answer whose status is not a success. Returns -1. */
static int fail_answer(const http_answer *a, grove_err *err)
{
    grove_buf t = BUF_INIT(sizeof(err->msg) - 1);
    const char *doc = json_string_value(json_object_get(a->json, "documentation_url"));
    grove_code code;

    if (a->status == 401 || a->status == 403) {
        buf_printf(&t, "GitHub refused the credentials (HTTP %ld): %s", a->status,
                   answer_message(a));
        code = GROVE_EINVAL;
    } else {
        buf_printf(&t, "GitHub answered %ld: %s", a->status, answer_message(a));
        if (a->status == 404 || a->status == 410)
            code = GROVE_ENOTFOUND;
        else if (a->status == 409 || a->status == 422)
            code = GROVE_ECONFLICT;
        else if (a->status >= 400 && a->status < 500)
            code = GROVE_EINVAL;
        else
            code = GROVE_EIO;
    }
    add_error_entries(&t, json_object_get(a->json, "errors"));
    if (doc && *doc)
        buf_printf(&t, " (%s)", doc);
    if (t.data)
        grove_one_line(t.data);
    else /* out of memory */
        grove_fail(err, code, "GitHub answered %ld", a->status);
    if (t.data)
        grove_fail(err, code, "%s", t.data);
    buf_free(&t);
    return -1;
}

/* Does a 422 answer say that a pull request for this head is open already? */
static int says_exists(const http_answer *a)
{
    const char *m = json_string_value(json_object_get(a->json, "message"));
    json_t *e;
    size_t i;

    if (m && strstr(m, FORGE_EXISTS_TEXT))
        return 1;
    json_array_foreach(json_object_get(a->json, "errors"), i, e)
    {
        m = json_string_value(json_object_get(e, "message"));
        if (!m)
            m = json_string_value(e);
        if (m && strstr(m, FORGE_EXISTS_TEXT))
            return 1;
    }
    return 0;
}

/* number and html_url of a pull-request object into out. */
static int take_pr(json_t *pr, long status, forge_pr *out, grove_err *err)
{
    json_t *number = json_object_get(pr, "number");
    const char *html = json_string_value(json_object_get(pr, "html_url"));

    if (!json_is_integer(number) || !html)
        return grove_fail(err, GROVE_EIO,
                          "GitHub answered %ld without a pull request number and html_url", status);
    out->html_url = strdup(html);
    if (!out->html_url)
        return grove_nomem(err);
    out->number = json_integer_value(number);
    return 0;
}

/*
 * The open pull request for head (GET .../pulls?head=<owner>:<head>&state=open):
 * the one into base when several are open, else the first listed.
 */
static int find_open_pr(const forge_opts *o, const char *head, const char *base, forge_pr *out,
                        grove_err *err)
{
    size_t owner_len = strcspn(o->owner_repo, "/");
    char *qualified = NULL, *escaped = NULL, *path = NULL;
    http_answer a = {0};
    CURL *curl = NULL;
    json_t *item, *match = NULL;
    size_t i;
    int rc = -1;

    /* "user:branch" already names the head's owner (a cross-repository pull request) */
    qualified = strchr(head, ':') ? strdup(head)
                                  : grove_asprintf("%.*s:%s", (int)owner_len, o->owner_repo, head);
    pthread_once(&curl_once, curl_init_once);
    curl = curl_easy_init(); /* curl_easy_escape wants a handle (it ignores it) */
    escaped = qualified && curl ? curl_easy_escape(curl, qualified, 0) : NULL;
    path = escaped ? grove_asprintf("/repos/%s/pulls?head=%s&state=open", o->owner_repo, escaped)
                   : NULL;
    if (!path) {
        grove_nomem(err);
        goto done;
    }
    if (http_request(o, path, NULL, &a, err) != 0)
        goto done;
    if (a.status != 200) {
        fail_answer(&a, err);
        goto done;
    }
    if (!json_is_array(a.json)) {
        grove_fail(err, GROVE_EIO,
                   "GitHub answered 200 to the list of pull requests without a list");
        goto done;
    }
    if (json_array_size(a.json) == 0) {
        grove_fail(err, GROVE_ECONFLICT,
                   "GitHub says a pull request for '%s' already exists, but lists no open pull "
                   "request for head '%s'",
                   head, qualified);
        goto done;
    }
    json_array_foreach(a.json, i, item)
    {
        const char *ref = json_string_value(json_object_get(json_object_get(item, "base"), "ref"));

        if (ref && strcmp(ref, base) == 0 && !match)
            match = item;
    }
    if (take_pr(match ? match : json_array_get(a.json, 0), a.status, out, err) != 0)
        goto done;
    out->already_existed = 1;
    rc = 0;
done:
    answer_clear(&a);
    curl_free(escaped);
    curl_easy_cleanup(curl);
    free(path);
    free(qualified);
    return rc;
}

/* json_string, or an EINVAL naming the field when s is not UTF-8. */
static int set_string(json_t *obj, const char *key, const char *s, grove_err *err)
{
    json_t *v = json_string(s);

    if (!v)
        return grove_fail(err, GROVE_EINVAL, "the pull request's %s is not valid UTF-8", key);
    if (json_object_set_new(obj, key, v) != 0)
        return grove_nomem(err);
    return 0;
}

static int create_pr(const forge_opts *o, const char *title, const char *body, const char *head,
                     const char *base, int draft, forge_pr *out, grove_err *err)
{
    json_t *req = NULL;
    char *text = NULL, *path = NULL;
    http_answer a = {0};
    int rc = -1;

    if (check_opts(o, err) != 0)
        return -1;
    if (!title || !head || !*head || !base || !*base)
        return grove_fail(err, GROVE_EINVAL, "a pull request needs a title, a head and a base");
    req = json_object();
    if (!req || json_object_set_new(req, "draft", json_boolean(draft)) != 0) {
        grove_nomem(err);
        goto done;
    }
    if (set_string(req, "title", title, err) != 0 || set_string(req, "head", head, err) != 0 ||
        set_string(req, "base", base, err) != 0 ||
        (body && set_string(req, "body", body, err) != 0))
        goto done;
    text = json_dumps(req, JSON_COMPACT);
    path = grove_asprintf("/repos/%s/pulls", o->owner_repo);
    if (!text || !path) {
        grove_nomem(err);
        goto done;
    }
    if (http_request(o, path, text, &a, err) != 0)
        goto done;
    if (a.status >= 200 && a.status < 300) {
        if (!json_is_object(a.json)) {
            grove_fail(err, GROVE_EIO, "GitHub answered %ld with a body that is not a JSON object",
                       a.status);
            goto done;
        }
        rc = take_pr(a.json, a.status, out, err);
        goto done;
    }
    if (a.status == 422 && says_exists(&a)) {
        rc = find_open_pr(o, head, base, out, err);
        goto done;
    }
    fail_answer(&a, err);
done:
    answer_clear(&a);
    json_decref(req);
    free(text);
    free(path);
    return rc;
}

int forge_create_pr(const forge_opts *o, const char *title, const char *body, const char *head,
                    const char *base, int draft, forge_pr *out, grove_err *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = create_pr(o, title, body, head, base, draft, out, err);
    if (rc != 0) {
        forge_pr_free(out);
        if (err)
            forge_redact(err->msg, sizeof(err->msg), o ? o->token : NULL);
    }
    return rc;
}

void forge_pr_free(forge_pr *pr)
{
    if (!pr)
        return;
    free(pr->html_url);
    memset(pr, 0, sizeof(*pr));
}

/* A string member of obj, copied; NULL when absent. *oom set when the copy failed. */
static char *member_dup(const json_t *obj, const char *key, int *oom)
{
    const char *v = json_string_value(json_object_get(obj, key));
    char *d = v ? strdup(v) : NULL;

    if (v && !d)
        *oom = 1;
    return d;
}

/* GitHub's issue object into out. */
static int issue_from_json(const json_t *j, forge_issue *out, grove_err *err)
{
    const json_t *labels = json_object_get(j, "labels"), *label;
    int oom = 0;
    size_t i;

    out->number = json_integer_value(json_object_get(j, "number"));
    out->title = member_dup(j, "title", &oom);
    out->body = member_dup(j, "body", &oom);
    out->state = member_dup(j, "state", &oom);
    out->html_url = member_dup(j, "html_url", &oom);
    if (json_array_size(labels) > 0 &&
        !(out->labels = calloc(json_array_size(labels), sizeof(*out->labels))))
        oom = 1;
    json_array_foreach(labels, i, label)
    {
        /* GitHub gives label objects (or, in old payloads, plain names). */
        const char *name = json_is_string(label)
                               ? json_string_value(label)
                               : json_string_value(json_object_get(label, "name"));

        if (oom || !name)
            continue;
        if (!(out->labels[out->nlabels] = strdup(name)))
            oom = 1;
        else
            out->nlabels++;
    }
    return oom ? grove_nomem(err) : 0;
}

void forge_issue_free(forge_issue *issue)
{
    size_t i;

    free(issue->title);
    free(issue->body);
    free(issue->state);
    free(issue->html_url);
    for (i = 0; i < issue->nlabels; i++)
        free(issue->labels[i]);
    free(issue->labels);
    memset(issue, 0, sizeof(*issue));
}

/*
 * GET /repos/{owner/repo}/{kind}/{number} (kind "issues" or "pulls"), into
 * *a (answer_clear() it, also after a failure): a 200 with a JSON object,
 * else -1 with GitHub's own message. `what` names it in messages.
 */
static int get_numbered(const forge_opts *o, const char *kind, const char *what, long long number,
                        http_answer *a, grove_err *err)
{
    char *path; /* owned: freed below */
    int rc = -1;

    if (check_opts(o, err) != 0)
        return -1;
    if (number <= 0)
        return grove_fail(err, GROVE_EINVAL, "invalid %s number %lld", what, number);
    if (!(path = grove_asprintf("/repos/%s/%s/%lld", o->owner_repo, kind, number)))
        return grove_nomem(err);
    if (http_request(o, path, NULL, a, err) != 0)
        goto done;
    if (a->status != 200) {
        fail_answer(a, err);
        goto done;
    }
    if (!json_is_object(a->json)) {
        grove_fail(err, GROVE_EIO, "GitHub answered 200 for %s #%lld without a JSON object", what,
                   number);
        goto done;
    }
    rc = 0;
done:
    free(path);
    return rc;
}

static int get_issue(const forge_opts *o, long long number, forge_issue *out, grove_err *err)
{
    http_answer a = {0};
    int rc = -1;

    if (get_numbered(o, "issues", "issue", number, &a, err) == 0)
        rc = issue_from_json(a.json, out, err);
    answer_clear(&a);
    return rc;
}

int forge_get_issue(const forge_opts *o, long long number, forge_issue *out, grove_err *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = get_issue(o, number, out, err);
    if (rc != 0 && err)
        forge_redact(err->msg, sizeof(err->msg), o ? o->token : NULL);
    return rc;
}

/* ---- pull request state --------------------------------------------------- */

static int get_pull(const forge_opts *o, long long number, forge_pull *out, grove_err *err)
{
    const json_t *merged, *head_sha;
    http_answer a = {0};
    int rc = -1;

    if (get_numbered(o, "pulls", "pull request", number, &a, err) != 0)
        goto done;
    merged = json_object_get(a.json, "merged");
    head_sha = json_object_get(json_object_get(a.json, "head"), "sha");
    if (!json_is_boolean(merged)) {
        grove_fail(err, GROVE_EIO,
                   "GitHub answered 200 for pull request #%lld without its \"merged\" state",
                   number);
        goto done;
    }
    out->number = number;
    out->merged = json_is_true(merged);
    if (json_is_string(head_sha) && strlen(json_string_value(head_sha)) == 40)
        memcpy(out->head_sha, json_string_value(head_sha), 41);
    rc = 0;
done:
    answer_clear(&a);
    return rc;
}

int forge_get_pull(const forge_opts *o, long long number, forge_pull *out, grove_err *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = get_pull(o, number, out, err);
    if (rc != 0) {
        memset(out, 0, sizeof(*out));
        if (err)
            forge_redact(err->msg, sizeof(err->msg), o ? o->token : NULL);
    }
    return rc;
}
