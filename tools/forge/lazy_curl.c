/*
 * lazy_curl: libcurl, loaded on first use. grove is not linked against
 * libcurl: these definitions of the few curl functions it calls
 * (tools/forge/forge.c) dlopen() libcurl.so.4 the first time one is called and
 * forward to it.
 *
 * Why: libcurl pulls in some twenty shared libraries (GnuTLS, OpenSSL's
 * libssl, Kerberos, LDAP, nghttp2, ...). Loading and relocating them at
 * every start was half of `grove serve`'s cold start and about 3 MB of its
 * resident memory, for code that only the GitHub calls use.
 *
 * When libcurl cannot be loaded, curl_global_init() fails with
 * CURLE_FAILED_INIT, curl_easy_init() and curl_slist_append() return NULL,
 * and curl_easy_strerror() says why (dlerror()): callers report it as an
 * ordinary libcurl failure.
 */
#define CURL_DISABLE_TYPECHECK /* the type-checking macros would rename our definitions */
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define LIBCURL_SONAME "libcurl.so.4"

typedef void (*any_fn)(void);

static struct {
    CURLcode (*global_init)(long);
    void (*global_cleanup)(void);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    void (*easy_cleanup)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    char *(*easy_escape)(CURL *, const char *, int);
    void (*free)(void *);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
} lib;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int loaded;
static char why[300] = "libcurl is not loaded";

/* dlsym() into a function pointer (POSIX: same representation; ISO C has no such cast). */
static int sym(void *h, const char *name, void *slot)
{
    void *p = dlsym(h, name);

    if (!p) {
        snprintf(why, sizeof(why), "cannot use %s: %s", LIBCURL_SONAME, dlerror());
        return -1;
    }
    memcpy(slot, &p, sizeof(p));
    return 0;
}

static void load(void)
{
    void *h = dlopen(LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);

    if (!h) {
        snprintf(why, sizeof(why), "cannot load %s (install libcurl): %s", LIBCURL_SONAME,
                 dlerror());
        return;
    }
    if (sym(h, "curl_global_init", &lib.global_init) != 0 ||
        sym(h, "curl_global_cleanup", &lib.global_cleanup) != 0 ||
        sym(h, "curl_easy_init", &lib.easy_init) != 0 ||
        sym(h, "curl_easy_setopt", &lib.easy_setopt) != 0 ||
        sym(h, "curl_easy_perform", &lib.easy_perform) != 0 ||
        sym(h, "curl_easy_getinfo", &lib.easy_getinfo) != 0 ||
        sym(h, "curl_easy_cleanup", &lib.easy_cleanup) != 0 ||
        sym(h, "curl_easy_strerror", &lib.easy_strerror) != 0 ||
        sym(h, "curl_easy_escape", &lib.easy_escape) != 0 || sym(h, "curl_free", &lib.free) != 0 ||
        sym(h, "curl_slist_append", &lib.slist_append) != 0 ||
        sym(h, "curl_slist_free_all", &lib.slist_free_all) != 0)
        return; /* the handle stays open: nothing is unloaded in this process */
    loaded = 1;
}

/* 1 when libcurl is there (loading it the first time). */
static int ready(void)
{
    pthread_once(&load_once, load);
    return loaded;
}

CURLcode curl_global_init(long flags)
{
    return ready() ? lib.global_init(flags) : CURLE_FAILED_INIT;
}

void curl_global_cleanup(void)
{
    if (ready())
        lib.global_cleanup();
}

CURL *curl_easy_init(void)
{
    return ready() ? lib.easy_init() : NULL;
}

/* The argument's type follows from the option's number range (CURLOPTTYPE_*). */
CURLcode curl_easy_setopt(CURL *curl, CURLoption option, ...)
{
    CURLcode rc;
    va_list ap;

    if (!ready())
        return CURLE_FAILED_INIT;
    va_start(ap, option);
    if (option < CURLOPTTYPE_OBJECTPOINT) {
        long v = va_arg(ap, long);

        rc = lib.easy_setopt(curl, option, v);
    } else if (option < CURLOPTTYPE_FUNCTIONPOINT) {
        void *v = va_arg(ap, void *);

        rc = lib.easy_setopt(curl, option, v);
    } else if (option < CURLOPTTYPE_OFF_T) {
        any_fn v = va_arg(ap, any_fn);

        rc = lib.easy_setopt(curl, option, v);
    } else if (option < CURLOPTTYPE_BLOB) {
        curl_off_t v = va_arg(ap, curl_off_t);

        rc = lib.easy_setopt(curl, option, v);
    } else {
        void *v = va_arg(ap, void *);

        rc = lib.easy_setopt(curl, option, v);
    }
    va_end(ap);
    return rc;
}

CURLcode curl_easy_perform(CURL *curl)
{
    return ready() ? lib.easy_perform(curl) : CURLE_FAILED_INIT;
}

/* Every CURLINFO takes a pointer to where the answer goes. */
CURLcode curl_easy_getinfo(CURL *curl, CURLINFO info, ...)
{
    CURLcode rc;
    va_list ap;
    void *out;

    if (!ready())
        return CURLE_FAILED_INIT;
    va_start(ap, info);
    out = va_arg(ap, void *);
    va_end(ap);
    rc = lib.easy_getinfo(curl, info, out);
    return rc;
}

void curl_easy_cleanup(CURL *curl)
{
    if (ready())
        lib.easy_cleanup(curl);
}

const char *curl_easy_strerror(CURLcode code)
{
    return ready() ? lib.easy_strerror(code) : why;
}

char *curl_easy_escape(CURL *curl, const char *s, int length)
{
    return ready() ? lib.easy_escape(curl, s, length) : NULL;
}

void curl_free(void *p)
{
    if (ready())
        lib.free(p);
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *s)
{
    return ready() ? lib.slist_append(list, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *list)
{
    if (ready())
        lib.slist_free_all(list);
}
