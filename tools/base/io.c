#include "tools/base/io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK ((size_t)16 << 10)

struct io_reader {
    int fd;
    size_t max; /* cap per line, excluding the newline */
    char *buf;  /* owned; bytes [start, end) are unconsumed */
    size_t cap;
    size_t start;
    size_t end;
    size_t scan;    /* bytes [start, scan) are known to hold no "\n" */
    int discarding; /* inside an oversized line: drop until its "\n" */
    int eof;
};

int io_reader_new(io_reader **out, int fd, size_t max)
{
    io_reader *r = calloc(1, sizeof(*r));

    *out = NULL;
    if (!r)
        return -1;
    r->fd = fd;
    r->max = max;
    r->cap = READ_CHUNK;
    r->buf = malloc(r->cap);
    if (!r->buf) {
        free(r);
        return -1;
    }
    *out = r;
    return 0;
}

void io_reader_free(io_reader *r)
{
    if (!r)
        return;
    free(r->buf);
    free(r);
}

/* Makes room for one more chunk plus the NUL, moving unconsumed bytes to the front. */
static int reserve(io_reader *r)
{
    size_t used;

    if (r->start > 0) {
        used = r->end - r->start;
        memmove(r->buf, r->buf + r->start, used);
        r->scan -= r->start;
        r->end = used;
        r->start = 0;
    }
    if (r->cap - r->end < READ_CHUNK + 1) {
        size_t ncap = r->cap * 2;
        char *nbuf;

        while (ncap - r->end < READ_CHUNK + 1)
            ncap *= 2;
        nbuf = realloc(r->buf, ncap);
        if (!nbuf)
            return -1;
        r->buf = nbuf;
        r->cap = ncap;
    }
    return 0;
}

size_t io_reader_peek(const io_reader *r, const char **data)
{
    *data = r->buf ? r->buf + r->start : "";
    return r->end - r->start;
}

ssize_t io_reader_fill(io_reader *r)
{
    ssize_t n;

    if (r->eof)
        return 0;
    if (reserve(r) != 0) {
        errno = ENOMEM;
        return -1;
    }
    n = read(r->fd, r->buf + r->end, READ_CHUNK);
    if (n == 0)
        r->eof = 1;
    if (n > 0)
        r->end += (size_t)n;
    return n;
}

line_status io_reader_next(io_reader *r, const char **line, size_t *len)
{
    for (;;) {
        char *nl = memchr(r->buf + r->scan, '\n', r->end - r->scan);
        size_t n;

        if (!nl) {
            r->scan = r->end;
            if (r->end - r->start > r->max) {
                /* Too long already: drop what we have and skip to the next "\n". */
                r->discarding = 1;
                r->start = r->scan = r->end = 0;
            }
            if (!r->eof)
                return LINE_NEED_MORE;
            if (r->discarding) {
                /* The tail of the dropped line is dropped too, not handed out as a line. */
                r->discarding = 0;
                r->start = r->scan = r->end;
                return LINE_TOOBIG;
            }
            if (r->end == r->start)
                return LINE_EOF;
            /* The last line had no newline: hand it out as it is. */
            nl = r->buf + r->end;
        }
        n = (size_t)(nl - (r->buf + r->start));
        *line = r->buf + r->start;
        r->start = r->scan = (size_t)(nl - r->buf) + (nl < r->buf + r->end ? 1 : 0);
        if (r->discarding) {
            r->discarding = 0;
            return LINE_TOOBIG;
        }
        if (n > r->max)
            return LINE_TOOBIG;
        if (n > 0 && (*line)[n - 1] == '\r')
            n--;
        /* The byte after the line is its "\n" (or spare capacity): safe to terminate. */
        ((char *)*line)[n] = '\0';
        *len = n;
        return LINE_READY;
    }
}

int io_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}
