/*
 * fuzz: what the libFuzzer targets in this folder share. Each target
 * defines LLVMFuzzerTestOneInput (and LLVMFuzzerInitialize); built with
 * -fsanitize=fuzzer it is a fuzzer, linked with replay.c it replays files
 * (the regression fixtures in fixtures/fuzz/<target>/, on every build).
 *
 * The targets check what the server promises, not only that it survives:
 * a broken promise is reported on stderr and abort()s, which both libFuzzer
 * and the replay test count as a failure.
 */
#ifndef GROVE_FUZZ_H
#define GROVE_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Reports a broken promise and aborts. */
void fuzz_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(__FILE__, __LINE__, __VA_ARGS__);                                            \
    } while (0)

/* An empty memfd (aborts when none can be made). */
int fuzz_memfd(const char *name);

/* Everything written to memfd `fd` so far, NUL-terminated (malloc'd; *len its length); the file
 * is emptied. */
char *fuzz_take(int fd, size_t *len);

/* 1 when s[0..len) is well-formed UTF-8 (RFC 3629: no overlongs, surrogates, > U+10FFFF). */
int fuzz_utf8_valid(const char *s, size_t len);

/* What the server owes one received line (see fuzz_owed()). */
typedef enum fuzz_owed_kind {
    OWED_UNKNOWN,          /* anything well-formed (a batch, a response, ...) */
    OWED_NOTHING,          /* a blank line or a notification: no output at all */
    OWED_RESPONSE,         /* exactly one response, whose id is `id` (json null: id null) */
    OWED_RESPONSE_SOME_ID, /* exactly one response, whose id is null or a valid id: JSON that
                              jansson cannot hold (a number beyond int64 or double, a lone
                              surrogate), whose id grove salvages when it can */
} fuzz_owed_kind;

/*
 * Decides independently of the server what one line calls for: a blank line
 * or a well-formed notification nothing; a request exactly one response with
 * its id; a line that is not JSON (or nested deeper than the server's limit)
 * one error with id null. *id is a new reference (or NULL).
 */
fuzz_owed_kind fuzz_owed(const char *line, size_t len, json_t **id);

/*
 * Checks what the server wrote for one line: newline-terminated lines, each a
 * valid JSON-RPC 2.0 message (a response, a batch of responses, or a
 * notifications/progress before the response), and what `owed` says.
 */
void fuzz_check_output(const char *out, size_t len, fuzz_owed_kind owed, const json_t *id,
                       const char *input, size_t inlen);

#endif
