/*
 * lazy_git2: libgit2, loaded on first use (see lazy_git2.h).
 *
 * Why: libgit2 pulls in fifteen shared libraries (mbedTLS, libssh2 with
 * OpenSSL's libcrypto, Kerberos, PCRE2, zlib, http-parser). Mapping and
 * relocating them is most of a process start — 2.9 ms for a program
 * linked with grove's other libraries, 8.6 ms with libgit2 as well (perf
 * stat, this machine) — and `grove serve` answers `initialize`,
 * `tools/list` and `ping` without git. The first tool call loads it.
 *
 * The generated definitions (lazy_git2_gen.c) call lazy_git2_need() until
 * the library is loaded. grove loads it explicitly first (lazy_git2_load()
 * in gitops_lib_init(), tools/git/repo.c), so that a missing library is an
 * error message; the abort in lazy_git2_need() is for code that calls
 * libgit2 without doing that.
 */
#include "tools/git/lazy_git2.h"

#include <dlfcn.h>
#include <git2.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef GROVE_LIBGIT2_SONAME
#error "GROVE_LIBGIT2_SONAME (libgit2.so.MAJOR.MINOR) comes from meson.build"
#endif

atomic_int lazy_git2_ready;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_why[512] = "libgit2 is not loaded";

static int (*p_opts)(int option, ...);

static void load(void)
{
    /* Global, as if linked: libgit2's own libraries stay visible (dlsym(RTLD_DEFAULT)). */
    void *h = dlopen(GROVE_LIBGIT2_SONAME, RTLD_NOW | RTLD_GLOBAL);
    size_t i;
    void *p;

    if (!h) {
        snprintf(load_why, sizeof(load_why), "cannot load %s (install libgit2): %s",
                 GROVE_LIBGIT2_SONAME, dlerror());
        return;
    }
    for (i = 0; i < lazy_git2_nsyms; i++) {
        if (!(p = dlsym(h, lazy_git2_syms[i].name))) {
            snprintf(load_why, sizeof(load_why), "cannot use %s: %s", GROVE_LIBGIT2_SONAME,
                     dlerror());
            return; /* the handle stays open: nothing is unloaded in this process */
        }
        memcpy(lazy_git2_syms[i].slot, &p, sizeof(p)); /* POSIX: same representation */
    }
    if (!(p = dlsym(h, "git_libgit2_opts"))) {
        snprintf(load_why, sizeof(load_why), "cannot use %s: %s", GROVE_LIBGIT2_SONAME, dlerror());
        return;
    }
    memcpy(&p_opts, &p, sizeof(p));
    atomic_store_explicit(&lazy_git2_ready, 1, memory_order_release);
}

int lazy_git2_load(char *why, size_t cap)
{
    pthread_once(&load_once, load);
    if (atomic_load_explicit(&lazy_git2_ready, memory_order_acquire))
        return 0;
    if (why && cap)
        snprintf(why, cap, "%s", load_why);
    return -1;
}

void lazy_git2_need(void)
{
    if (lazy_git2_load(NULL, 0) != 0) {
        fprintf(stderr, "grove: %s\n", load_why);
        abort();
    }
}

/*
 * Variadic, so forwarded by hand: the arguments' types follow from the
 * option (git2/common.h). Only the options grove uses are forwarded; any
 * other is refused with a libgit2 error that says so.
 */
int git_libgit2_opts(int option, ...)
{
    va_list ap;
    int rc;

    LAZY_GIT2_NEED();
    va_start(ap, option);
    switch (option) {
    case GIT_OPT_SET_SSL_CERT_LOCATIONS: {
        const char *file = va_arg(ap, const char *);
        const char *path = va_arg(ap, const char *);

        rc = p_opts(option, file, path);
        break;
    }
    case GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION: {
        int on = va_arg(ap, int);

        rc = p_opts(option, on);
        break;
    }
    case GIT_OPT_GET_SEARCH_PATH: {
        int level = va_arg(ap, int);
        git_buf *out = va_arg(ap, git_buf *);

        rc = p_opts(option, level, out);
        break;
    }
    default:
        git_error_set_str(GIT_ERROR_INVALID, "git_libgit2_opts: this option is not forwarded by "
                                             "grove (tools/git/lazy_git2.c)");
        rc = -1;
    }
    va_end(ap);
    return rc;
}
