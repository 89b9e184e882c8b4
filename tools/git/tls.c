/*
 * git_tls: the CA certificates libgit2 verifies https remotes with.
 *
 * With the mbedTLS back end (Debian's libgit2 1.5.1), git_libgit2_init()
 * parses the whole system bundle into the process-wide TLS configuration:
 * 0.4 MB of heap, held for the life of a `grove serve` that may never push
 * over https. gitops_tls_release() swaps it for an empty chain (libgit2
 * frees the old one); gitops_tls_restore() loads certificates again before
 * an https push. The OpenSSL back end reads its locations lazily, so there
 * nothing is released and nothing needs restoring.
 *
 * Restore loads, like OpenSSL, $SSL_CERT_FILE and $SSL_CERT_DIR when either
 * is set; else the first system bundle that exists (Debian's, which is also
 * the one libgit2 was built to load, comes first), else the folder
 * /etc/ssl/certs.
 */
#include "tools/git/git.h"

#include <dlfcn.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const bundles[] = {
    "/etc/ssl/certs/ca-certificates.crt", /* Debian, Ubuntu, Arch, Gentoo */
    "/etc/pki/tls/certs/ca-bundle.crt",   /* Fedora, RHEL */
    "/etc/ssl/ca-bundle.pem",             /* openSUSE */
    "/etc/pki/tls/cacert.pem",            /* OpenELEC */
    "/etc/ssl/cert.pem",                  /* Alpine */
};
#define CERT_DIR "/etc/ssl/certs"

/*
 * 1 when libgit2 was released by gitops_tls_release(). Process-wide, like
 * the libgit2 TLS configuration it describes; only the thread that serves
 * tool calls touches it.
 */
static int tls_released;

/* Whether libgit2's https goes through mbedTLS (its library is loaded with libgit2). */
static int tls_is_mbedtls(void)
{
    return (git_libgit2_features() & GIT_FEATURE_HTTPS) &&
           dlsym(RTLD_DEFAULT, "mbedtls_ssl_conf_ca_chain") != NULL;
}

int gitops_tls_release(void)
{
    const char *tmp = getenv("TMPDIR");
    char dir[4096];
    int rc;

    if (tls_released || !tls_is_mbedtls())
        return 0;
    /* An empty folder is an empty chain: mbedTLS parses the regular files in it, none. */
    if (snprintf(dir, sizeof(dir), "%s/grove-tls.XXXXXX", tmp && *tmp ? tmp : "/tmp") >=
            (int)sizeof(dir) ||
        !mkdtemp(dir))
        return 0;
    rc = git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, NULL, dir);
    rmdir(dir);
    if (rc != 0)
        return 0;
    tls_released = 1;
    return 1;
}

/* The first of `bundles` that is a regular file, or NULL. */
static const char *system_bundle(void)
{
    struct stat st;
    size_t i;

    for (i = 0; i < sizeof(bundles) / sizeof(bundles[0]); i++)
        if (stat(bundles[i], &st) == 0 && S_ISREG(st.st_mode))
            return bundles[i];
    return NULL;
}

int gitops_tls_restore(grove_err *err)
{
    const char *file = getenv("SSL_CERT_FILE"), *dir = getenv("SSL_CERT_DIR");
    struct stat st;

    if (file && !*file)
        file = NULL;
    if (dir && !*dir)
        dir = NULL;
    if (!tls_is_mbedtls() || (!tls_released && !file && !dir))
        return 0;
    if (!file && !dir) {
        file = system_bundle();
        if (!file && stat(CERT_DIR, &st) == 0 && S_ISDIR(st.st_mode))
            dir = CERT_DIR;
        if (!file && !dir)
            return grove_fail(err, GROVE_EIO,
                              "no CA certificates to verify https remotes with: none of %s, %s, "
                              "%s, %s, %s or the folder %s exists; set SSL_CERT_FILE to a bundle",
                              bundles[0], bundles[1], bundles[2], bundles[3], bundles[4], CERT_DIR);
    }
    git_error_clear();
    if (git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, file, dir) != 0) {
        const git_error *e = git_error_last();

        return grove_fail(err, GROVE_EIO, "cannot load the CA certificates from %s%s%s: %s",
                          file ? file : "", file && dir ? " and " : "", dir ? dir : "",
                          e && e->message ? e->message : "unknown error");
    }
    tls_released = 0;
    return 0;
}
