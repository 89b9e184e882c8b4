#include "tools/core/agent_output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/queries.h"
#include "tools/agents/agent.h"
#include "tools/agents/output.h"
#include "tools/base/buf.h"
#include "tools/base/secret.h"
#include "tools/core/instance.h"

extern char **environ;

/* The most bytes of a log file's end read for its last lines. */
#define LOG_TAIL_BYTES (4u << 20)
/* Shorter secret values are not searched for (they would match ordinary text). */
#define SECRET_MIN 8

void agent_output_free(agent_output *o)
{
    if (!o)
        return;
    free(o->text);
    memset(o, 0, sizeof(*o));
}

/* The last LOG_TAIL_BYTES of the file at path into *text (malloc'd). */
static int read_log_tail(const char *path, char **text, grove_err *err)
{
    grove_buf b = BUF_INIT(LOG_TAIL_BYTES);
    struct stat sb;
    char chunk[65536];
    ssize_t r;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    *text = NULL;
    if (fd < 0)
        return grove_fail(err, GROVE_ENOTFOUND, "the agent's log '%s' cannot be read: %s", path,
                          strerror(errno));
    if (fstat(fd, &sb) == 0 && sb.st_size > (off_t)LOG_TAIL_BYTES)
        lseek(fd, sb.st_size - (off_t)LOG_TAIL_BYTES, SEEK_SET);
    while ((r = read(fd, chunk, sizeof(chunk))) > 0 || (r < 0 && errno == EINTR))
        if (r > 0 && buf_add(&b, chunk, (size_t)r) < 0) {
            close(fd);
            buf_free(&b);
            return grove_nomem(err);
        }
    close(fd);
    if (!(*text = buf_take(&b)))
        return grove_nomem(err);
    return 0;
}

/* The secrets to redact: credential variables' values in grove's environment. */
static int load_secrets(secret_set *s)
{
    char **e;

    for (e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');

        if (eq && agent_env_secret(*e, NULL) && secret_set_add(s, eq + 1, SECRET_MIN) != 0)
            return -1;
    }
    return 0;
}

int agent_output_read(grove_ctx *ctx, const char *id, int lines, agent_output *out, grove_err *err)
{
    grove_instance inst = {0};
    grove_buf clean = BUF_INIT(SIZE_MAX / 2), scrubbed = BUF_INIT(SIZE_MAX / 2);
    secret_set secrets = SECRET_SET_INIT;
    agent_ref ref;
    char *raw = NULL, *log = NULL;
    const char *tail;
    size_t len;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (lines < 1 || lines > OUTPUT_LINES_MAX)
        return grove_fail(err, GROVE_EINVAL, "lines must be 1 to %d", OUTPUT_LINES_MAX);
    if (instance_reconcile_all(ctx, NULL, err) != 0 || instance_load(ctx, id, &inst, err) != 0)
        goto done;
    if (!inst.session_name && !inst.pid) {
        grove_fail(err, GROVE_ENOTFOUND, "instance '%s' has no agent (it was made without one)",
                   id);
        goto done;
    }
    grove_now_iso(out->captured_at);
    if (inst.session_name) {
        if (instance_agent_ref(ctx, &inst, &ref, err) != 0 ||
            agent_capture(&ref, lines, &raw, err) != 0) {
            if (err->code == GROVE_ENOTFOUND)
                grove_fail(err, GROVE_ENOTFOUND,
                           "the agent session of '%s' is gone (its output went with it)", id);
            goto done;
        }
    } else {
        if (!(log = instance_log_path(ctx, id))) {
            grove_nomem(err);
            goto done;
        }
        if (read_log_tail(log, &raw, err) != 0)
            goto done;
    }
    if (output_clean(raw, strlen(raw), &clean) < 0 || load_secrets(&secrets) != 0) {
        grove_nomem(err);
        goto done;
    }
    len = clean.len;
    tail = output_tail(buf_str(&clean), &len, lines, &out->lines);
    if (secret_scrub(&secrets, SECRET_PLAIN | SECRET_TOKENS, SECRET_REDACTED, tail, len,
                     &scrubbed) < 0 ||
        !(out->text = scrubbed.len ? buf_take(&scrubbed) : strdup(""))) {
        grove_nomem(err);
        goto done;
    }
    grove_utf8_sanitize(out->text);
    snprintf(out->agent_state, sizeof(out->agent_state), "%s",
             inst.agent_state ? inst.agent_state : "none");
    rc = 0;
done:
    if (rc != 0)
        agent_output_free(out);
    secret_set_free(&secrets);
    buf_free(&clean);
    buf_free(&scrubbed);
    db_instance_free(&inst);
    free(raw);
    free(log);
    return rc;
}
