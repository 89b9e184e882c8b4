/*
 * secret: values stored encrypted in grove_user_config (is_encrypted = 1)
 * with libsodium's crypto_secretbox. The key is 32 random bytes in
 * $XDG_CONFIG_HOME/grove/key (default ~/.config/grove/key), created on first
 * use with mode 0600 in a 0700 folder. Sealed text: "sb1:" + base64 (libsodium,
 * original variant) of nonce || ciphertext.
 *
 * Also what a secret looks like when it turns up where it should not (a
 * GitHub token in an argument or an exported row): the one rule for
 * finding and redacting them.
 */
#ifndef GROVE_SECRET_H
#define GROVE_SECRET_H

#include <jansson.h>

#include "tools/base/buf.h"
#include "tools/base/grove.h"

/* What a redacted secret is replaced by. */
#define SECRET_REDACTED "[redacted]"

/* The key file's path (malloc'd), from XDG_CONFIG_HOME or HOME. NULL when neither is set. */
char *secret_key_path(void);

/*
 * Encrypts `plain` with the key (created when missing). *out malloc'd. Plain
 * text is wiped from our buffers after use.
 */
int secret_seal(const char *plain, char **out, grove_err *err);

/*
 * Decrypts a sealed value. A missing key file, another key, or tampered
 * text: GROVE_EINVAL with a message that never includes the value.
 * *out malloc'd; free it with secret_free().
 */
int secret_open(const char *sealed, char **out, grove_err *err);

/* Wipes (sodium_memzero) and frees a decrypted value. NULL is a no-op. */
void secret_free(char *plain);

/*
 * Length of the GitHub token that starts at p (left bytes readable): one
 * of GitHub's prefixes (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_) and at
 * least 20 of [A-Za-z0-9_] after it; 0 when none starts there.
 */
size_t secret_token_at(const char *p, size_t left);

/* 1 when a name (an argument's key) suggests a credential: token, password, api_key, ... */
int secret_key_name(const char *key);

/* One secret as it is searched for. */
typedef struct secret_pattern {
    char *s; /* owned; wiped when freed */
    size_t len;
} secret_pattern;

typedef struct secret_list {
    secret_pattern *v; /* owned */
    size_t n, cap;
} secret_list;

/*
 * Known secret values, each in every form it can take in text: as it is
 * (`plain`) and as the contents of a JSON string (`json`), escaped the way
 * SQLite writes JSON (\u001f) and the way jansson does (\u001F), so a
 * secret holding a quote, a backslash or a control character is found in
 * every form. Start from SECRET_SET_INIT; secret_set_free() wipes it.
 */
typedef struct secret_set {
    secret_list plain;
    secret_list json;
} secret_set;

#define SECRET_SET_INIT                                                                            \
    {                                                                                              \
        {NULL, 0, 0},                                                                              \
        {                                                                                          \
            NULL, 0, 0                                                                             \
        }                                                                                          \
    }

/* Adds `value` (NULL, or shorter than min_len bytes: nothing). 0, or -1 when memory ran out. */
int secret_set_add(secret_set *s, const char *value, size_t min_len);

/* Wipes and frees the values. */
void secret_set_free(secret_set *s);

/* What secret_scrub() looks for. */
#define SECRET_PLAIN  1u /* the set's values as they are */
#define SECRET_JSON   2u /* the set's values as JSON string contents */
#define SECRET_TOKENS 4u /* GitHub tokens (secret_token_at()), known or not */

/*
 * Appends text (len bytes) to out with every secret that `what` names
 * replaced by `marker`. buf_add()'s result: 0, 1 when the cap cut it, -1
 * when memory ran out.
 */
int secret_scrub(const secret_set *s, unsigned what, const char *marker, const char *text,
                 size_t len, grove_buf *out);

/* Overwrites every occurrence of `secret` in text with '*', in place (needs no memory). */
void secret_mask(char *text, const char *secret);

/*
 * Replaces, in place, every value of `v` (an object or array, recursively)
 * whose key suggests a credential, and every string that holds a GitHub
 * token, by SECRET_REDACTED. For the arguments recorded with an event.
 */
void secret_redact_json(json_t *v);

/* 1 when secret_redact_json(v) would replace something in v, else 0 (v is only read). */
int secret_json_found(const json_t *v);

#endif
