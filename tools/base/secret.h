/*
 * secret: values stored encrypted in grove_user_config (is_encrypted = 1)
 * with libsodium's crypto_secretbox. The key is 32 random bytes in
 * $XDG_CONFIG_HOME/grove/key (default ~/.config/grove/key), created on first
 * use with mode 0600 in a 0700 folder. Sealed text: "sb1:" + base64 (libsodium,
 * original variant) of nonce || ciphertext.
 */
#ifndef GROVE_SECRET_H
#define GROVE_SECRET_H

#include "tools/base/grove.h"

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

#endif
