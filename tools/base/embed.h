/* Data files compiled into the binary by tools/base/embed.c. */
#ifndef GROVE_EMBED_H
#define GROVE_EMBED_H

#include <stddef.h>

/* One embedded file: `data` is NUL-terminated, `len` excludes the NUL. Static storage. */
typedef struct embedded_file {
    const char *name;
    const char *data;
    size_t len;
} embedded_file;

#endif
