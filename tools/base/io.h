/*
 * io: newline-delimited framing on file descriptors.
 *
 * The line reader keeps a bounded buffer: a line longer than the cap is
 * discarded up to its newline and reported once as LINE_TOOBIG, so one bad
 * message never splits into several and never exhausts memory. Any byte
 * sequence is accepted (validation is the parser's job).
 */
#ifndef GROVE_IO_H
#define GROVE_IO_H

#include <stddef.h>
#include <sys/types.h>

#define MCP_MAX_MESSAGE ((size_t)16 << 20) /* 16 MiB */

typedef struct io_reader io_reader;

typedef enum line_status {
    LINE_READY,     /* *line and *len hold one message, without its "\n" (or "\r\n") */
    LINE_TOOBIG,    /* a message over the cap was dropped */
    LINE_NEED_MORE, /* no complete line buffered: call io_reader_fill() */
    LINE_EOF,       /* end of input and nothing buffered */
} line_status;

/* A reader on `fd` with a cap of `max` bytes per line. *out is the caller's: free it. */
int io_reader_new(io_reader **out, int fd, size_t max);
void io_reader_free(io_reader *r);

/*
 * One read() into the buffer. Returns the number of bytes read (> 0), 0 at
 * end of input, -1 on error with errno set (EINTR and EAGAIN included, which
 * callers simply retry after their poll).
 */
ssize_t io_reader_fill(io_reader *r);

/*
 * The next buffered line. On LINE_READY *line (NUL-terminated, may contain
 * other NULs; use *len) is borrowed until the next call. After end of
 * input a last line without "\n" is returned too.
 */
line_status io_reader_next(io_reader *r, const char **line, size_t *len);

/* The bytes read but not yet returned as lines (borrowed until the next fill); their count. */
size_t io_reader_peek(const io_reader *r, const char **data);

/* Writes all of buf, looping over partial writes and EINTR. 0 or -1 (errno set). */
int io_write_all(int fd, const void *buf, size_t len);

#endif
