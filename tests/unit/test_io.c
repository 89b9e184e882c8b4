/* Unit tests of mcp/io: the bounded line reader and the writer. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tools/base/io.h"

/* Feeds `data` through a pipe from a child process in chunks of `chunk` bytes. */
static int feed(const char *data, size_t len, size_t chunk)
{
    int fds[2];
    pid_t pid;

    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        size_t off = 0;

        close(fds[0]);
        while (off < len) {
            size_t n = len - off < chunk ? len - off : chunk;

            if (io_write_all(fds[1], data + off, n) != 0)
                _exit(1);
            off += n;
        }
        _exit(0);
    }
    close(fds[1]);
    return fds[0];
}

/* Reads every event from the reader into a compact log: "L:<line>" / "BIG" / "EOF". */
static char *drain(int fd, size_t max)
{
    io_reader *r = NULL;
    size_t cap = 1 << 16, used = 0;
    char *log = malloc(cap);
    const char *line;
    size_t len;

    assert_non_null(log);
    assert_int_equal(io_reader_new(&r, fd, max), 0);
    for (;;) {
        line_status st = io_reader_next(r, &line, &len);
        char entry[512];
        int n;

        if (st == LINE_NEED_MORE) {
            ssize_t got = io_reader_fill(r);

            assert_true(got >= 0 || errno == EINTR);
            continue;
        }
        if (st == LINE_EOF) {
            n = snprintf(entry, sizeof(entry), "EOF");
        } else if (st == LINE_TOOBIG) {
            n = snprintf(entry, sizeof(entry), "BIG|");
        } else {
            assert_int_equal(line[len], '\0');
            n = snprintf(entry, sizeof(entry), "L:%.*s|", (int)(len < 400 ? len : 400), line);
        }
        while (used + (size_t)n + 1 > cap) {
            cap *= 2;
            log = realloc(log, cap);
            assert_non_null(log);
        }
        memcpy(log + used, entry, (size_t)n + 1);
        used += (size_t)n;
        if (st == LINE_EOF)
            break;
    }
    io_reader_free(r);
    close(fd);
    while (wait(NULL) > 0)
        ;
    return log;
}

static void test_lines_in_any_chunking(void **state)
{
    static const char in[] = "{\"a\":1}\n{\"b\":2}\r\n\n{\"c\":3}\n";
    size_t chunk;

    (void)state;
    for (chunk = 1; chunk <= sizeof(in); chunk++) {
        char *log = drain(feed(in, sizeof(in) - 1, chunk), 1024);

        assert_string_equal(log, "L:{\"a\":1}|L:{\"b\":2}|L:|L:{\"c\":3}|EOF");
        free(log);
    }
}

static void test_last_line_without_newline(void **state)
{
    char *log;

    (void)state;
    log = drain(feed("one\ntwo", 7, 3), 1024);
    assert_string_equal(log, "L:one|L:two|EOF");
    free(log);
}

static void test_oversized_line_is_dropped_whole(void **state)
{
    size_t big = 5000, i;
    char *in = malloc(big + 32), *log;
    size_t n = 0;

    (void)state;
    assert_non_null(in);
    memcpy(in + n, "ok1\n", 4);
    n += 4;
    for (i = 0; i < big; i++)
        in[n++] = 'x';
    in[n++] = '\n';
    memcpy(in + n, "ok2\n", 4);
    n += 4;
    /* Cap 100: the 5000-byte line is one TOOBIG, never split, and the next line survives. */
    log = drain(feed(in, n, 7), 100);
    assert_string_equal(log, "L:ok1|BIG|L:ok2|EOF");
    free(log);
    /* The same in one big write. */
    log = drain(feed(in, n, n), 100);
    assert_string_equal(log, "L:ok1|BIG|L:ok2|EOF");
    free(log);
    free(in);
}

static void test_line_exactly_at_cap(void **state)
{
    char in[] = "abcde\nabcdef\nz\n";
    char *log;

    (void)state;
    log = drain(feed(in, strlen(in), 2), 5);
    assert_string_equal(log, "L:abcde|BIG|L:z|EOF");
    free(log);
}

static void test_oversized_unterminated_at_eof(void **state)
{
    char in[64];
    char *log;

    (void)state;
    memset(in, 'y', sizeof(in));
    log = drain(feed(in, sizeof(in), 9), 10);
    assert_string_equal(log, "BIG|EOF");
    free(log);
}

static void test_any_bytes_survive(void **state)
{
    unsigned char in[6000];
    io_reader *r = NULL;
    const char *line;
    size_t i, len, newlines = 0, lines = 0, bytes = 0;
    line_status st;
    int fd;

    (void)state;
    for (i = 0; i < sizeof(in); i++)
        in[i] = (unsigned char)((i * 2654435761u) >> 13);
    in[sizeof(in) - 1] = 'z'; /* ends without a newline */
    for (i = 0; i < sizeof(in); i++)
        newlines += in[i] == '\n';
    fd = feed((const char *)in, sizeof(in), 13);
    assert_int_equal(io_reader_new(&r, fd, 1 << 20), 0);
    while ((st = io_reader_next(r, &line, &len)) != LINE_EOF) {
        if (st == LINE_NEED_MORE) {
            assert_true(io_reader_fill(r) >= 0);
            continue;
        }
        assert_int_equal(st, LINE_READY);
        /* Each line is exactly the input bytes at its place (a trailing CR is stripped). */
        assert_memory_equal(line, in + bytes, len);
        bytes += len;
        if (bytes < sizeof(in) && in[bytes] == '\r')
            bytes++;
        bytes++; /* its newline (or the end) */
        lines++;
    }
    io_reader_free(r);
    close(fd);
    while (wait(NULL) > 0)
        ;
    assert_true(newlines > 0);
    assert_int_equal(lines, newlines + 1);
    assert_int_equal(bytes, sizeof(in) + 1);
}

static void test_write_all_large_through_pipe(void **state)
{
    size_t len = 1 << 20, got = 0;
    char *buf = malloc(len), *back = malloc(len);
    int fds[2];
    pid_t pid;

    (void)state;
    assert_non_null(buf);
    assert_non_null(back);
    memset(buf, 'q', len);
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    if (pid == 0) {
        close(fds[0]);
        _exit(io_write_all(fds[1], buf, len) == 0 ? 0 : 1);
    }
    close(fds[1]);
    for (;;) {
        ssize_t n = read(fds[0], back + got, len - got);

        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fds[0]);
    {
        int status = 0;

        waitpid(pid, &status, 0);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    assert_int_equal(got, len);
    assert_memory_equal(buf, back, len);
    free(buf);
    free(back);
}

static void test_write_to_closed_pipe_fails(void **state)
{
    int fds[2];

    (void)state;
    signal(SIGPIPE, SIG_IGN);
    assert_int_equal(pipe(fds), 0);
    close(fds[0]);
    assert_int_equal(io_write_all(fds[1], "x\n", 2), -1);
    assert_int_equal(errno, EPIPE);
    close(fds[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_in_any_chunking),
        cmocka_unit_test(test_last_line_without_newline),
        cmocka_unit_test(test_oversized_line_is_dropped_whole),
        cmocka_unit_test(test_line_exactly_at_cap),
        cmocka_unit_test(test_oversized_unterminated_at_eof),
        cmocka_unit_test(test_any_bytes_survive),
        cmocka_unit_test(test_write_all_large_through_pipe),
        cmocka_unit_test(test_write_to_closed_pipe_fails),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
