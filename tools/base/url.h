/*
 * url: the host of a URL, and whether it is this machine, for the two
 * places that decide where a credential may go (the forge's API requests
 * and the git layer's pushes).
 */
#ifndef GROVE_URL_H
#define GROVE_URL_H

#include <stddef.h>

/*
 * The host of a URL ("https://user@Host.example:8443/x" → "host.example",
 * lowercased; "[::1]" keeps its brackets) into host. 0, or -1 when url is
 * not scheme://host... or the host does not fit in n bytes.
 */
int url_host(const char *url, char *host, size_t n);

/* 1 when host (as url_host() gives it) is a loopback address: 127.0.0.1, localhost, [::1]. */
int url_host_is_loopback(const char *host);

#endif
