/* url: hosts of URLs (see url.h). */
#include "tools/base/url.h"

#include <ctype.h>
#include <string.h>

int url_host(const char *url, char *host, size_t n)
{
    const char *p = url ? strstr(url, "://") : NULL, *end, *at;
    size_t i, len;

    if (!p || p == url)
        return -1;
    p += 3;
    end = p + strcspn(p, "/?#");
    at = memchr(p, '@', (size_t)(end - p));
    while (at) { /* the last '@' before the path ends the userinfo */
        const char *next = memchr(at + 1, '@', (size_t)(end - at - 1));

        if (!next)
            break;
        at = next;
    }
    if (at)
        p = at + 1;
    if (*p == '[') {
        const char *close = memchr(p, ']', (size_t)(end - p));

        if (!close)
            return -1;
        len = (size_t)(close - p) + 1;
    } else {
        len = strcspn(p, ":/?#");
        if (p + len > end)
            len = (size_t)(end - p);
    }
    if (len == 0 || len >= n)
        return -1;
    for (i = 0; i < len; i++)
        host[i] = (char)tolower((unsigned char)p[i]);
    host[len] = '\0';
    return 0;
}

int url_host_is_loopback(const char *host)
{
    return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "localhost") == 0 ||
           strcmp(host, "[::1]") == 0;
}
