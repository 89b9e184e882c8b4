/*
 * secret: see secret.h. The key never leaves this file: it lives on the
 * stack of the call that needs it and is wiped before returning; no message
 * ever includes key bytes or a value, sealed or plain.
 */
#include "tools/base/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_BYTES   crypto_secretbox_KEYBYTES /* 32 */
#define SEAL_PREFIX "sb1:"
#define SEAL_MAX    (1u << 20) /* longest sealed text accepted by secret_open */

/* sodium_init() once per process (it is itself safe to call again). */
static int sodium_ready(grove_err *err)
{
    static int ready;

    if (!ready) {
        if (sodium_init() < 0)
            return grove_fail(err, GROVE_EIO, "cannot initialise libsodium");
        ready = 1;
    }
    return 0;
}

char *secret_key_path(void)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");

    /* The XDG spec: a relative XDG_CONFIG_HOME is invalid and is ignored. */
    if (xdg && xdg[0] == '/')
        return grove_asprintf("%s/grove/key", xdg);
    if (home && *home)
        return grove_asprintf("%s/.config/grove/key", home);
    return NULL;
}

/* Reads exactly `n` bytes; -1 on error or early end of file. */
static int read_full(int fd, unsigned char *buf, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

static int write_full(int fd, const unsigned char *buf, size_t n)
{
    size_t done = 0;

    while (done < n) {
        ssize_t w = write(fd, buf + done, n - done);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        done += (size_t)w;
    }
    return 0;
}

/*
 * Reads the key at `path` into `key`. Returns 0, 1 when the file does not
 * exist, or -1 with err filled when it exists but is not acceptable: a
 * symbolic link or anything but a regular file, not ours, readable or
 * writable by group or others, or not exactly KEY_BYTES long.
 */
static int key_read(const char *path, unsigned char key[KEY_BYTES], grove_err *err)
{
    struct stat st;
    unsigned char extra;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    int rc = -1;

    if (fd < 0) {
        if (errno == ENOENT)
            return 1;
        if (errno == ELOOP)
            return grove_fail(err, GROVE_EINVAL, "key file '%s' is a symbolic link: refused", path);
        return grove_fail(err, GROVE_EIO, "cannot open key file '%s': %s", path, strerror(errno));
    }
    if (fstat(fd, &st) != 0) {
        grove_fail(err, GROVE_EIO, "cannot read key file '%s': %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        grove_fail(err, GROVE_EINVAL, "key file '%s' is not a regular file: refused", path);
        goto done;
    }
    if (st.st_uid != geteuid()) {
        grove_fail(err, GROVE_EINVAL, "key file '%s' belongs to another user: refused", path);
        goto done;
    }
    if (st.st_mode & 077) {
        grove_fail(err, GROVE_EINVAL, "key file '%s' must be mode 0600 (it is %04o): chmod 600 it",
                   path, (unsigned)(st.st_mode & 07777));
        goto done;
    }
    if (st.st_size != KEY_BYTES || read_full(fd, key, KEY_BYTES) != 0 || read(fd, &extra, 1) != 0) {
        sodium_memzero(key, KEY_BYTES);
        grove_fail(err, GROVE_EINVAL, "key file '%s' must hold exactly %d bytes: refused", path,
                   KEY_BYTES);
        goto done;
    }
    rc = 0;
done:
    close(fd);
    return rc;
}

/*
 * Creates a new random key at `path`, atomically: written in full to a
 * temporary file (O_CREAT | O_EXCL | O_NOFOLLOW, 0600) that is then
 * hard-linked to `path`, so no process ever sees a short key file, and a
 * key another process made in the meantime wins (link() never replaces;
 * we read theirs). The folder is created 0700.
 */
static int key_create(const char *path, unsigned char key[KEY_BYTES], grove_err *err)
{
    char *dir = grove_strdup(path), *tmp = NULL, *slash;
    unsigned char tag[8];
    char hex[2 * sizeof(tag) + 1];
    struct stat st;
    int fd = -1, rc = -1;

    if (!dir)
        return grove_nomem(err);
    slash = strrchr(dir, '/');
    if (!slash || slash == dir) {
        grove_fail(err, GROVE_EINVAL, "key file path '%s' has no folder", path);
        goto done;
    }
    *slash = '\0';
    if (grove_mkdirs(dir, 0700, err) != 0)
        goto done;
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        grove_fail(err, GROVE_EIO, "'%s' is not a folder", dir);
        goto done;
    }
    /* Our own folder made looser earlier (umask, by hand): tighten it. */
    if ((st.st_mode & 077) && st.st_uid == geteuid() && chmod(dir, 0700) != 0) {
        grove_fail(err, GROVE_EIO, "cannot chmod folder '%s': %s", dir, strerror(errno));
        goto done;
    }
    randombytes_buf(tag, sizeof(tag));
    sodium_bin2hex(hex, sizeof(hex), tag, sizeof(tag));
    tmp = grove_asprintf("%s.%ld.%s.tmp", path, (long)getpid(), hex);
    if (!tmp) {
        grove_nomem(err);
        goto done;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        grove_fail(err, GROVE_EIO, "cannot create key file '%s': %s", tmp, strerror(errno));
        goto done;
    }
    randombytes_buf(key, KEY_BYTES);
    if (fchmod(fd, 0600) != 0 || write_full(fd, key, KEY_BYTES) != 0 || fsync(fd) != 0) {
        grove_fail(err, GROVE_EIO, "cannot write key file '%s': %s", tmp, strerror(errno));
        goto done;
    }
    if (close(fd) != 0) {
        fd = -1;
        grove_fail(err, GROVE_EIO, "cannot write key file '%s': %s", tmp, strerror(errno));
        goto done;
    }
    fd = -1;
    if (link(tmp, path) != 0) {
        if (errno != EEXIST) {
            grove_fail(err, GROVE_EIO, "cannot create key file '%s': %s", path, strerror(errno));
            goto done;
        }
        /* Another process made the key first: use theirs. */
        rc = key_read(path, key, err);
        if (rc == 1)
            rc = grove_fail(err, GROVE_EIO, "key file '%s' vanished while being created", path);
        goto done;
    }
    rc = 0;
done:
    if (rc != 0)
        sodium_memzero(key, KEY_BYTES);
    if (fd >= 0)
        close(fd);
    if (tmp)
        unlink(tmp);
    free(tmp);
    free(dir);
    return rc;
}

/* Loads the key; creates it when missing and `create` is set. */
static int key_load(unsigned char key[KEY_BYTES], int create, grove_err *err)
{
    char *path = secret_key_path();
    int rc;

    if (!path)
        return grove_fail(err, GROVE_EINVAL,
                          "neither XDG_CONFIG_HOME nor HOME is set: no place for the key file");
    rc = key_read(path, key, err);
    if (rc == 1 && create)
        rc = key_create(path, key, err);
    else if (rc == 1)
        rc = grove_fail(err, GROVE_EINVAL,
                        "key file '%s' is missing: stored secrets cannot be decrypted; set them "
                        "again (grove config set KEY --secret)",
                        path);
    free(path);
    return rc;
}

int secret_seal(const char *plain, char **out, grove_err *err)
{
    unsigned char key[KEY_BYTES];
    unsigned char *box = NULL;
    char *text = NULL;
    size_t plen, blen, tlen;
    int rc = -1;

    *out = NULL;
    if (!plain)
        return grove_fail(err, GROVE_EINVAL, "no value to encrypt");
    if (sodium_ready(err) != 0)
        return -1;
    plen = strlen(plain);
    if (plen > SEAL_MAX)
        return grove_fail(err, GROVE_EINVAL, "the value is too long to encrypt (%zu bytes)", plen);
    if (key_load(key, 1, err) != 0)
        return -1;
    blen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plen;
    tlen =
        sizeof(SEAL_PREFIX) - 1 + sodium_base64_ENCODED_LEN(blen, sodium_base64_VARIANT_ORIGINAL);
    box = malloc(blen);
    text = malloc(tlen);
    if (!box || !text) {
        grove_nomem(err);
        goto done;
    }
    /* box = nonce || secretbox(plain) */
    randombytes_buf(box, crypto_secretbox_NONCEBYTES);
    if (crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, (const unsigned char *)plain, plen,
                              box, key) != 0) {
        grove_fail(err, GROVE_EIO, "cannot encrypt the value");
        goto done;
    }
    memcpy(text, SEAL_PREFIX, sizeof(SEAL_PREFIX) - 1);
    sodium_bin2base64(text + sizeof(SEAL_PREFIX) - 1, tlen - (sizeof(SEAL_PREFIX) - 1), box, blen,
                      sodium_base64_VARIANT_ORIGINAL);
    *out = text;
    text = NULL;
    rc = 0;
done:
    sodium_memzero(key, sizeof(key));
    free(box);
    free(text);
    return rc;
}

int secret_open(const char *sealed, char **out, grove_err *err)
{
    unsigned char key[KEY_BYTES];
    unsigned char *box = NULL;
    char *plain = NULL;
    const char *b64;
    size_t b64len, blen = 0, plen = 0;
    int rc = -1;

    *out = NULL;
    if (!sealed || strncmp(sealed, SEAL_PREFIX, sizeof(SEAL_PREFIX) - 1) != 0)
        return grove_fail(err, GROVE_EINVAL,
                          "the stored secret is not in a known format (expected '" SEAL_PREFIX
                          "...'): set it again");
    if (sodium_ready(err) != 0)
        return -1;
    b64 = sealed + sizeof(SEAL_PREFIX) - 1;
    b64len = strlen(b64);
    if (b64len > SEAL_MAX * 2)
        return grove_fail(err, GROVE_EINVAL, "the stored secret is too long");
    box = malloc(b64len + 1);
    if (!box)
        return grove_nomem(err);
    if (sodium_base642bin(box, b64len + 1, b64, b64len, NULL, &blen, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        blen < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
        grove_fail(err, GROVE_EINVAL, "the stored secret is damaged (not valid sealed text)");
        goto done;
    }
    if (key_load(key, 0, err) != 0)
        goto done;
    plen = blen - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
    plain = malloc(plen + 1);
    if (!plain) {
        grove_nomem(err);
        goto done;
    }
    if (crypto_secretbox_open_easy((unsigned char *)plain, box + crypto_secretbox_NONCEBYTES,
                                   blen - crypto_secretbox_NONCEBYTES, box, key) != 0) {
        char *path = secret_key_path();

        grove_fail(err, GROVE_EINVAL,
                   "cannot decrypt the stored secret: it was sealed with another key than "
                   "'%s', or it was altered; set it again",
                   path ? path : "(no key path)");
        free(path);
        goto done;
    }
    plain[plen] = '\0';
    *out = plain;
    plain = NULL;
    rc = 0;
done:
    sodium_memzero(key, sizeof(key));
    if (plain) {
        sodium_memzero(plain, plen + 1);
        free(plain);
    }
    free(box);
    return rc;
}

void secret_free(char *plain)
{
    if (!plain)
        return;
    sodium_memzero(plain, strlen(plain));
    free(plain);
}

/* ---- secrets where they should not be ---------------------------------- */

#define TOKEN_MIN_TAIL 20 /* characters after a prefix that make a token */

static int token_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* The first character of every token prefix below (holds_token() skips to it). */
#define TOKEN_FIRST 'g'

size_t secret_token_at(const char *p, size_t left)
{
    static const char *const prefixes[] = {"github_pat_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_"};
    size_t i, n, k;

    if (left == 0 || *p != TOKEN_FIRST)
        return 0;
    for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        n = strlen(prefixes[i]);
        if (left < n || memcmp(p, prefixes[i], n) != 0)
            continue;
        for (k = n; k < left && token_char(p[k]); k++)
            ;
        return k - n >= TOKEN_MIN_TAIL ? k : 0;
    }
    return 0;
}

int secret_key_name(const char *key)
{
    static const char *const words[] = {"token",  "secret",  "password",      "passwd",
                                        "apikey", "api_key", "authorization", "credential"};
    size_t i, k, n = strlen(key);

    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t w = strlen(words[i]);

        for (k = 0; k + w <= n; k++)
            if (strncasecmp(key + k, words[i], w) == 0)
                return 1;
    }
    return 0;
}

/* 1 when a JSON string holds a GitHub token anywhere. */
static int holds_token(const json_t *v)
{
    const char *s = json_string_value(v), *end, *p;

    if (!s)
        return 0;
    end = s + json_string_length(v);
    /* only where a token can begin: 3x fewer instructions per logged call (issue 17) */
    for (p = s; p < end && (p = memchr(p, TOKEN_FIRST, (size_t)(end - p))) != NULL; p++)
        if (secret_token_at(p, (size_t)(end - p)))
            return 1;
    return 0;
}

void secret_redact_json(json_t *v)
{
    const char *key;
    json_t *child;
    size_t i;

    if (json_is_object(v)) {
        json_object_foreach(v, key, child)
        {
            if (secret_key_name(key) || holds_token(child))
                json_object_set_new(v, key, json_string(SECRET_REDACTED));
            else
                secret_redact_json(child);
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, child)
        {
            if (holds_token(child))
                json_array_set_new(v, i, json_string(SECRET_REDACTED));
            else
                secret_redact_json(child);
        }
    }
}

int secret_json_found(const json_t *v)
{
    const char *key;
    json_t *child;
    size_t i;

    /* the same tests as secret_redact_json(), which replaces where this finds */
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, child)
        {
            if (secret_key_name(key) || holds_token(child) || secret_json_found(child))
                return 1;
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, child)
        {
            if (holds_token(child) || secret_json_found(child))
                return 1;
        }
    }
    return 0;
}

/* ---- secrets in text ---------------------------------------------------- */

/* Adds a copy of v (len bytes) unless it is there already; 0 or -1 (out of memory). */
static int list_add(secret_list *l, const char *v, size_t len)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        if (l->v[i].len == len && memcmp(l->v[i].s, v, len) == 0)
            return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        secret_pattern *d = realloc(l->v, cap * sizeof(*d));

        if (!d)
            return -1;
        l->v = d;
        l->cap = cap;
    }
    if (!(l->v[l->n].s = strndup(v, len)))
        return -1;
    l->v[l->n++].len = len;
    return 0;
}

static void list_free(secret_list *l)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        secret_free(l->v[i].s);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* v as the contents of a JSON string (no quotes), hex escapes in lower or upper case. */
static char *json_escaped(const char *v, int upper)
{
    static const char lower_hex[] = "0123456789abcdef", upper_hex[] = "0123456789ABCDEF";
    static const char from[] = "\"\\\b\f\n\r\t", to[] = "\"\\bfnrt";
    const char *hex = upper ? upper_hex : lower_hex;
    size_t n = strlen(v), i, k = 0;
    char *out = malloc(n * 6 + 1);

    if (!out)
        return NULL;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        const char *p = strchr(from, c); /* c is never NUL: i < strlen(v) */
        char e = p ? to[p - from] : 0;

        if (e) {
            out[k++] = '\\';
            out[k++] = e;
        } else if (c < 0x20) {
            memcpy(out + k, "\\u00", 4);
            out[k + 4] = hex[c >> 4];
            out[k + 5] = hex[c & 15];
            k += 6;
        } else {
            out[k++] = (char)c;
        }
    }
    out[k] = '\0';
    return out;
}

int secret_set_add(secret_set *s, const char *value, size_t min_len)
{
    char *lo, *up;
    int bad;

    if (!value || strlen(value) < min_len || !*value)
        return 0;
    lo = json_escaped(value, 0);
    up = json_escaped(value, 1);
    bad = !lo || !up || list_add(&s->plain, value, strlen(value)) != 0 ||
          list_add(&s->json, lo, strlen(lo)) != 0 || list_add(&s->json, up, strlen(up)) != 0;
    secret_free(lo);
    secret_free(up);
    return bad ? -1 : 0;
}

void secret_set_free(secret_set *s)
{
    list_free(&s->plain);
    list_free(&s->json);
}

/* The length of the value of l that text starts with, or 0. */
static size_t list_at(const secret_list *l, const char *text, size_t left)
{
    size_t k;

    for (k = 0; k < l->n; k++) {
        const secret_pattern *q = &l->v[k];

        if (q->len <= left && text[0] == q->s[0] && memcmp(text, q->s, q->len) == 0)
            return q->len;
    }
    return 0;
}

int secret_scrub(const secret_set *s, unsigned what, const char *marker, const char *text,
                 size_t len, grove_buf *out)
{
    size_t i = 0, start = 0, mlen = strlen(marker);
    int rc;

    while (i < len) {
        size_t hit = 0;

        if ((what & SECRET_TOKENS) && text[i] == 'g')
            hit = secret_token_at(text + i, len - i);
        if (!hit && (what & SECRET_PLAIN))
            hit = list_at(&s->plain, text + i, len - i);
        if (!hit && (what & SECRET_JSON))
            hit = list_at(&s->json, text + i, len - i);
        if (!hit) {
            i++;
            continue;
        }
        if ((rc = buf_add(out, text + start, i - start)) != 0 ||
            (rc = buf_add(out, marker, mlen)) != 0)
            return rc;
        i += hit;
        start = i;
    }
    return buf_add(out, text + start, len - start);
}

void secret_mask(char *text, const char *secret)
{
    size_t sl = strlen(secret);
    char *hit;

    while (sl && (hit = strstr(text, secret)))
        memset(hit, '*', sl);
}
