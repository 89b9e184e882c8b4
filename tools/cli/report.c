/*
 * report: `grove stats`, `grove export` and `grove import` (declared in
 * tools/cli/cli.h; the SQL is in db/report.c).
 *
 * Export writes every file to a temporary name beside its target and
 * renames them all only when every file is complete, so a failure (disk
 * full, file size limit, a database error) leaves no partial file and no
 * half-new set. Known secrets and GitHub-token-shaped strings are replaced
 * by "[redacted]" in whatever text is exported; grove_user_config (where
 * secrets live) is never exported.
 */
#include "tools/cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/beads.h"
#include "db/queries.h"
#include "db/report.h"
#include "tools/cli/args.h"
#include "tools/cli/cli.h"
#include "tools/cli/cli_common.h"
#include "tools/wire.h"
#include "tools/core/instance.h"
#include "tools/base/buf.h"
#include "tools/base/secret.h"

#define SECRET_MIN 8 /* shorter secret values are not searched for */

static json_int_t int_of(const json_t *obj, const char *key)
{
    return json_integer_value(json_object_get(obj, key));
}

static double num_of(const json_t *obj, const char *key)
{
    return json_number_value(json_object_get(obj, key));
}

/* ---- stats -------------------------------------------------------------- */

/* "#12", "bd-a3f8" or "-" for a row with issue_number / beads_id. */
static void issue_label(const json_t *row, char *buf, size_t len)
{
    if (json_is_integer(json_object_get(row, "issue_number")))
        snprintf(buf, len, "#%lld", (long long)int_of(row, "issue_number"));
    else if (cli_str_or(row, "beads_id", NULL))
        snprintf(buf, len, "%s", cli_str_or(row, "beads_id", NULL));
    else
        snprintf(buf, len, "-");
}

/* A duration in ms as "12.3", or "-" when null. */
static void ms_text(const json_t *v, char *buf, size_t len)
{
    if (json_is_number(v))
        snprintf(buf, len, "%.1f", json_number_value(v));
    else
        snprintf(buf, len, "-");
}

/*
 * s as one line of text in buf (len bytes): control characters (newlines
 * in messages) become spaces, spaces at the ends go (grove_one_line()), and
 * text longer than max characters is cut to max with "..." at its end.
 */
static void one_line_cut(const char *s, char *buf, size_t len, size_t max)
{
    snprintf(buf, len, "%s", s ? s : "");
    grove_one_line(buf);
    if (max >= 3 && max < len && strlen(buf) > max)
        memcpy(buf + max - 3, "...", 4);
}

static void print_stats(const json_t *st)
{
    const json_t *inst = json_object_get(st, "instances"), *v, *sec;
    const char *since = cli_str_or(st, "since", NULL);
    char issue[96], a[32], b[32], line[160];
    size_t i;

    printf("grove stats: %s (%s%s)\n\n", cli_str_or(st, "database", "?"),
           since ? "since " : "all time", since ? since : "");

    printf("instances: %lld (%lld running, %lld terminated)\n", (long long)int_of(inst, "total"),
           (long long)int_of(inst, "running"), (long long)int_of(inst, "terminated"));
    json_array_foreach(json_object_get(inst, "by_type"), i, v)
        printf("  %-8s %5lld running %5lld terminated\n", cli_str_or(v, "type", "?"),
               (long long)int_of(v, "running"), (long long)int_of(v, "terminated"));

    printf("\ntool calls:");
    if (json_array_size(json_object_get(st, "tools")) == 0)
        printf(" none\n");
    else
        printf("\n  %-24s %7s %7s %8s %10s %10s\n", "TOOL", "CALLS", "FAILED", "SUCCESS",
               "MEDIAN ms", "P95 ms");
    json_array_foreach(json_object_get(st, "tools"), i, v)
    {
        ms_text(json_object_get(v, "median_duration_ms"), a, sizeof(a));
        ms_text(json_object_get(v, "p95_duration_ms"), b, sizeof(b));
        printf("  %-24s %7lld %7lld %7.1f%% %10s %10s\n", cli_str_or(v, "tool_name", "?"),
               (long long)int_of(v, "calls"), (long long)int_of(v, "failures"),
               100.0 * num_of(v, "success_rate"), a, b);
    }

    sec = json_object_get(st, "recent_failures");
    printf("\nfailures (%s): %lld\n", cli_str_or(sec, "window", "?"),
           (long long)int_of(sec, "total"));
    json_array_foreach(json_object_get(sec, "rows"), i, v)
    {
        issue_label(v, issue, sizeof(issue));
        one_line_cut(cli_str_or(v, "error_message", NULL), line, sizeof(line), 100);
        printf("  %s  %-20s %-22s %-10s %s\n", cli_str_or(v, "timestamp", "?"),
               cli_str_or(v, "tool_name", "?"), cli_str_or(v, "instance_id", "-"), issue, line);
    }
    if ((size_t)int_of(sec, "total") > json_array_size(json_object_get(sec, "rows")))
        printf("  ... (grove stats --json, or the view grove_recent_failures, has them all)\n");

    sec = json_object_get(st, "stale_checkpoints");
    printf("\nstale instances (running, no checkpoint for %g h): %zu\n",
           num_of(sec, "threshold_hours"), json_array_size(json_object_get(sec, "rows")));
    json_array_foreach(json_object_get(sec, "rows"), i, v)
    {
        issue_label(v, issue, sizeof(issue));
        if (cli_str_or(v, "phase", NULL))
            printf("  %-22s %-10s last checkpoint '%s' [%s] %lld min ago\n",
                   cli_str_or(v, "instance_id", "?"), issue, cli_str_or(v, "phase", "?"),
                   cli_str_or(v, "status", "?"), (long long)int_of(v, "age_minutes"));
        else
            printf("  %-22s %-10s no checkpoint since it was created %lld min ago\n",
                   cli_str_or(v, "instance_id", "?"), issue, (long long)int_of(v, "age_minutes"));
    }

    sec = json_object_get(st, "reviews");
    printf("\nreviews: %lld for %lld work instances (%.2f per work instance, at most %lld)\n",
           (long long)int_of(sec, "reviews"), (long long)int_of(sec, "work_instances"),
           num_of(sec, "average"), (long long)int_of(sec, "max"));
    json_array_foreach(json_object_get(sec, "distribution"), i, v)
        printf("  %lld review%s: %lld work instance%s\n", (long long)int_of(v, "reviews"),
               int_of(v, "reviews") == 1 ? "" : "s", (long long)int_of(v, "work_instances"),
               int_of(v, "work_instances") == 1 ? "" : "s");

    sec = json_object_get(st, "pull_requests");
    printf("\npull requests opened: %lld\n", (long long)int_of(sec, "opened"));
    json_array_foreach(json_object_get(sec, "rows"), i, v)
        printf("  %-22s #%lld %s\n", cli_str_or(v, "id", "?"), (long long)int_of(v, "pr_number"),
               cli_str_or(v, "pr_url", ""));

    printf("\nphase funnel (instances that reached each phase):");
    if (json_array_size(json_object_get(st, "phase_funnel")) == 0)
        printf(" no checkpoints\n");
    else
        printf("\n  %-24s %9s %9s\n", "PHASE", "REACHED", "COMPLETED");
    json_array_foreach(json_object_get(st, "phase_funnel"), i, v)
        printf("  %-24s %9lld %9lld\n", cli_str_or(v, "phase", "?"),
               (long long)int_of(v, "instances"), (long long)int_of(v, "completed"));

    sec = json_object_get(st, "beads");
    if (!json_is_object(sec))
        return;
    printf("\nbeads (extension mode): %lld ready issues, %lld linked instances, %zu orphaned "
           "links\n",
           (long long)int_of(sec, "ready"), (long long)int_of(sec, "linked_instances"),
           json_array_size(json_object_get(sec, "orphaned_links")));
    json_array_foreach(json_object_get(sec, "next_ready"), i, v)
    {
        one_line_cut(cli_str_or(v, "title", NULL), line, sizeof(line), 60);
        printf("  ready: %-16s P%lld %-8s %s\n", cli_str_or(v, "id", "?"),
               (long long)int_of(v, "priority"), cli_str_or(v, "issue_type", "-"), line);
    }
    json_array_foreach(json_object_get(sec, "orphaned_links"), i, v)
        printf("  orphaned link: %s -> %s\n", cli_str_or(v, "instance_id", "?"),
               cli_str_or(v, "issue_id", "?"));
    json_array_foreach(json_object_get(sec, "success_by_issue_type"), i, v)
        printf("  issue type %-10s %6lld calls %6lld failed %6.1f%% success\n",
               cli_str_or(v, "issue_type", "-"), (long long)int_of(v, "calls"),
               (long long)int_of(v, "failures"), 100.0 * num_of(v, "success_rate"));
}

int cmd_stats(int argc, char **argv)
{
    static const arg_flag flags[] = {{"repo", 1},  {"db", 1},    {"json", 0},
                                     {"since", 1}, {"limit", 1}, {NULL, 0}};
    grove_ctx *ctx;
    grove_err err = GROVE_ERR_INIT;
    json_t *st = NULL;
    db_stats_report report = {0};
    db_beads_stats_report beads = {0};
    const char *limit_s;
    char *since = NULL, *end = NULL;
    long limit = 20;
    args a;
    int rc;

    if ((rc = args_parse(&a, "stats", flags, argc, argv)) != 0)
        return rc;
    if (a.help) {
        printf("usage: grove stats [--json] [--since DURATION|TIME] [--limit N] [--repo DIR] "
               "[--db FILE]\n\n"
               "What happened: instances by type and status; per tool the calls, failures,\n"
               "success rate, median and p95 duration (view grove_tool_success_rate); failed\n"
               "calls of the last 24 hours with their instance and issue (grove_recent_failures);\n"
               "running instances with no checkpoint for 24 h (grove_stale_checkpoints; config\n"
               "stats.stale_after_hours); reviews per work instance; pull requests opened; the\n"
               "phase funnel of checkpoints; in beads extension mode, ready issues and success\n"
               "by issue type.\n\n"
               "  --since   count only what happened since then: 30m, 24h, 7d, 2w, or an ISO\n"
               "            8601 date or time (failures: since then instead of the last 24 h)\n"
               "  --limit   failures and pull requests listed (default 20; --json too)\n"
               "  --json    the same as one JSON object\n");
        return 0;
    }
    if (a.npos) {
        fprintf(stderr, "grove stats: unexpected argument '%s'\n", a.pos[0]);
        return 2;
    }
    limit_s = args_get(&a, flags, "limit");
    if (limit_s) {
        limit = strtol(limit_s, &end, 10);
        if (!*limit_s || *end || limit < 1 || limit > 100000) {
            fprintf(stderr, "grove stats: --limit expects a number from 1 to 100000, not '%s'\n",
                    limit_s);
            return 2;
        }
    }
    ctx = cli_open_ctx("stats", &a, flags, 1);
    if (!ctx)
        return 1;
    rc = 1;
    if (args_get(&a, flags, "since") &&
        db_report_since(ctx->db, args_get(&a, flags, "since"), &since, &err) != 0) {
        fprintf(stderr, "grove stats: %s\n", err.msg);
        ctx_free(ctx);
        return 2;
    }
    if (instance_reconcile_all(ctx, NULL, &err) != 0)
        fprintf(stderr, "grove stats: warning: liveness not checked: %s\n", err.msg);
    if (db_stats(ctx->db, since, (int)limit, &report, &err) != 0)
        goto done;
    if (!(st = wire_stats(&report, since)) ||
        json_object_set_new(st, "database", json_string(ctx->db_path)) != 0) {
        grove_nomem(&err);
        goto done;
    }
    if (db_beads_attached(ctx->db)) {
        if (db_beads_stats(ctx->db, &beads, &err) != 0)
            goto done;
        if (json_object_set_new(st, "beads", wire_beads_stats(&beads)) != 0) {
            grove_nomem(&err);
            goto done;
        }
    }
    if (args_get(&a, flags, "json"))
        cli_print_json(st);
    else
        print_stats(st);
    rc = 0;
done:
    if (rc)
        fprintf(stderr, "grove stats: %s\n", err.msg);
    json_decref(st);
    db_stats_free(&report);
    db_beads_stats_free(&beads);
    free(since);
    ctx_free(ctx);
    return rc;
}

/* ---- secrets in exported text ------------------------------------------- */

/*
 * The secrets grove knows: GITHUB_TOKEN, GH_TOKEN and every encrypted
 * setting. One that cannot be decrypted (another machine's key) is named in
 * a warning: its value is unknown, so it cannot be looked for.
 */
static int secrets_load(grove_ctx *ctx, secret_set *s, grove_err *err)
{
    grove_config_list list = {0};
    size_t i;
    int ret = 0;

    if (secret_set_add(s, getenv("GITHUB_TOKEN"), SECRET_MIN) != 0 ||
        secret_set_add(s, getenv("GH_TOKEN"), SECRET_MIN) != 0)
        return grove_nomem(err);
    if (db_config_list(ctx->db, &list, err) != 0)
        return -1;
    for (i = 0; i < list.n; i++) {
        const grove_config_entry *v = &list.v[i];
        char *plain = NULL;
        grove_err serr = GROVE_ERR_INIT;

        if (!v->is_encrypted)
            continue;
        if (secret_open(v->value, &plain, &serr) != 0)
            fprintf(stderr,
                    "grove export: warning: cannot decrypt secret '%s' (%s): its value is not "
                    "looked for in the exported text\n",
                    cli_or(v->key, "?"), serr.msg);
        else if (secret_set_add(s, plain, SECRET_MIN) != 0)
            ret = grove_nomem(err);
        secret_free(plain);
        if (ret != 0)
            break;
    }
    db_config_list_free(&list);
    return ret;
}

/*
 * The most bytes one exported line (or one CSV cell) may take. The largest
 * row grove writes is an instance with a 1 MiB prompt; JSON escapes of
 * control characters take 6 bytes each, so 64 MiB leaves ample slack.
 */
#define EXPORT_LINE_MAX (64u << 20)

/* Empties b for the next line, keeping its memory. */
static void line_reset(grove_buf *b)
{
    b->len = 0;
    b->truncated = 0;
    if (b->data)
        b->data[0] = '\0';
}

/* ---- export ------------------------------------------------------------- */

typedef struct out_file {
    char *path; /* final name, owned */
    char *tmp;  /* temporary name, owned; NULL once renamed */
    FILE *f;
    long long rows;
} out_file;

typedef struct export_state {
    out_file *files;
    size_t n;
    int csv;
    size_t renamed; /* files already renamed into place */
    secret_set secrets;
    grove_buf line; /* one line of the file being written, at most EXPORT_LINE_MAX */
    grove_buf cell; /* one CSV cell, at most EXPORT_LINE_MAX */
} export_state;

static int write_fail(const out_file *o, grove_err *err)
{
    return grove_fail(err, GROVE_EIO, "cannot write '%s': %s", o->path,
                      strerror(errno ? errno : EIO));
}

/* One CSV field (RFC 4180): quoted when it holds a comma, quote, CR or LF; "" is the empty string.
 */
static int csv_field(grove_buf *b, const char *s, size_t len)
{
    size_t i;
    int quote = len == 0;

    if (!s)
        return 0; /* SQL NULL: an empty field */
    for (i = 0; i < len && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    if (!quote)
        return buf_add(b, s, len);
    if (buf_add(b, "\"", 1) != 0)
        return -1;
    for (i = 0; i < len; i++)
        if (buf_add(b, s + i, 1) != 0 || (s[i] == '"' && buf_add(b, "\"", 1) != 0))
            return -1;
    return buf_add(b, "\"", 1);
}

/* Why a line could not be built: out of memory, or a row beyond EXPORT_LINE_MAX. */
static int line_fail(const export_state *x, size_t t, grove_err *err)
{
    size_t ntables;
    const db_export_table *tables = db_export_tables(&ntables);

    if (x->line.truncated || x->cell.truncated)
        return grove_fail(err, GROVE_EINVAL,
                          "row %lld of %s is larger than %u MiB when exported; grove does not "
                          "export rows that large",
                          x->files[t].rows + 1, tables[t].table, EXPORT_LINE_MAX >> 20);
    return grove_nomem(err);
}

/* db_export() callback: one row to its file. */
static int export_row(void *arg, size_t t, const char *line, size_t len, const db_cell *cells,
                      grove_err *err)
{
    export_state *x = arg;
    out_file *o = &x->files[t];
    size_t ntables, c;
    const db_export_table *tables = db_export_tables(&ntables);

    line_reset(&x->line);
    if (!x->csv) {
        /* A JSON line: a secret can only be there JSON-escaped. */
        if (secret_scrub(&x->secrets, SECRET_JSON | SECRET_TOKENS, SECRET_REDACTED, line, len,
                         &x->line) != 0 ||
            buf_add(&x->line, "\n", 1) != 0)
            return line_fail(x, t, err);
    } else {
        for (c = 0; c < tables[t].ncolumns; c++) {
            int bad = c > 0 && buf_add(&x->line, ",", 1) != 0;

            line_reset(&x->cell);
            if (!bad && cells[c].text)
                bad = secret_scrub(&x->secrets, SECRET_PLAIN | SECRET_JSON | SECRET_TOKENS,
                                   SECRET_REDACTED, cells[c].text, cells[c].len, &x->cell) != 0 ||
                      csv_field(&x->line, buf_str(&x->cell), x->cell.len) != 0;
            if (bad)
                return line_fail(x, t, err);
        }
        if (buf_add(&x->line, "\r\n", 2) != 0)
            return line_fail(x, t, err);
    }
    errno = 0;
    if (fwrite(buf_str(&x->line), 1, x->line.len, o->f) != x->line.len)
        return write_fail(o, err);
    o->rows++;
    return 0;
}

/* Removes every temporary file that is still there. */
static void export_cleanup(export_state *x)
{
    size_t i;

    for (i = 0; i < x->n; i++) {
        if (x->files[i].f)
            fclose(x->files[i].f);
        x->files[i].f = NULL;
        if (x->files[i].tmp)
            unlink(x->files[i].tmp);
        free(x->files[i].tmp);
        free(x->files[i].path);
    }
    free(x->files);
    x->files = NULL;
    secret_set_free(&x->secrets);
    buf_free(&x->line);
    buf_free(&x->cell);
}

/* Creates the temporary files (0600) and writes CSV headers. */
static int export_open(export_state *x, const char *dir, grove_err *err)
{
    const db_export_table *tables = db_export_tables(&x->n);
    const char *ext = x->csv ? "csv" : "jsonl";
    size_t i, c;

    if (!(x->files = calloc(x->n, sizeof(*x->files))))
        return grove_nomem(err);
    for (i = 0; i < x->n; i++) {
        out_file *o = &x->files[i];
        int fd;

        o->path = grove_asprintf("%s/%s.%s", dir, tables[i].file, ext);
        o->tmp = grove_asprintf("%s/.%s.%s.XXXXXX", dir, tables[i].file, ext);
        if (!o->path || !o->tmp)
            return grove_nomem(err);
        fd = mkstemp(o->tmp);
        if (fd < 0) {
            int e = errno;

            free(o->tmp);
            o->tmp = NULL;
            return grove_fail(err, GROVE_EIO, "cannot create a file in '%s': %s", dir, strerror(e));
        }
        if (!(o->f = fdopen(fd, "w"))) {
            close(fd);
            return grove_fail(err, GROVE_EIO, "cannot write '%s': %s", o->tmp, strerror(errno));
        }
        if (!x->csv)
            continue;
        line_reset(&x->line);
        for (c = 0; c < tables[i].ncolumns; c++)
            if ((c > 0 && buf_add(&x->line, ",", 1) != 0) ||
                buf_add(&x->line, tables[i].columns[c], strlen(tables[i].columns[c])) != 0)
                return grove_nomem(err);
        errno = 0;
        if (buf_add(&x->line, "\r\n", 2) != 0 ||
            fwrite(buf_str(&x->line), 1, x->line.len, o->f) != x->line.len)
            return write_fail(o, err);
    }
    return 0;
}

/* Flushes and syncs every file, then renames them all into place. */
static int export_commit(export_state *x, const char *dir, grove_err *err)
{
    size_t i;
    int dfd;

    for (i = 0; i < x->n; i++) {
        out_file *o = &x->files[i];
        int bad;

        errno = 0;
        bad = fflush(o->f) != 0 || fsync(fileno(o->f)) != 0;
        if (bad)
            return write_fail(o, err);
        bad = fclose(o->f) != 0;
        o->f = NULL;
        if (bad)
            return write_fail(o, err);
    }
    for (i = 0; i < x->n; i++) {
        out_file *o = &x->files[i];

        if (rename(o->tmp, o->path) != 0)
            return grove_fail(err, GROVE_EIO, "cannot rename '%s' to '%s': %s", o->tmp, o->path,
                              strerror(errno));
        free(o->tmp);
        o->tmp = NULL;
        x->renamed++;
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

int cmd_export(int argc, char **argv)
{
    static const arg_flag flags[] = {{"repo", 1}, {"db", 1},    {"format", 1},
                                     {"out", 1},  {"since", 1}, {NULL, 0}};
    const char *format, *dir;
    grove_ctx *ctx;
    grove_err err = GROVE_ERR_INIT;
    export_state x;
    char *since = NULL;
    struct stat sb;
    size_t i;
    args a;
    int rc;

    if ((rc = args_parse(&a, "export", flags, argc, argv)) != 0)
        return rc;
    if (a.help) {
        printf("usage: grove export [--format jsonl|csv] [--out DIR] [--since DURATION|TIME] "
               "[--repo DIR] [--db FILE]\n\n"
               "Writes one file per table into DIR (default: the current folder):\n"
               "grove-instances, grove-instance-relationships, grove-mcp-events,\n"
               "grove-checkpoints, grove-feedback, grove-github-issues (.jsonl or .csv).\n"
               "JSONL: one JSON object per row, JSON columns as JSON; CSV (RFC 4180): a header\n"
               "row, CRLF line ends, JSON columns as JSON text, an empty field for NULL and \"\"\n"
               "for an empty string. Settings (and so secrets) are never exported, and known\n"
               "secrets or GitHub tokens found in any text become [redacted]. Files are\n"
               "written to temporary names and renamed only when all are complete (mode 0600).\n"
               "--since (30m, 24h, 7d, 2w or an ISO 8601 time) exports what happened since\n"
               "then plus the instances it refers to. 'grove import DIR' reads a JSONL export.\n");
        return 0;
    }
    if (a.npos) {
        fprintf(stderr, "grove export: unexpected argument '%s'\n", a.pos[0]);
        return 2;
    }
    format = args_get(&a, flags, "format");
    if (format && strcmp(format, "jsonl") != 0 && strcmp(format, "csv") != 0) {
        fprintf(stderr, "grove export: --format is jsonl or csv, not '%s'\n", format);
        return 2;
    }
    dir = args_get(&a, flags, "out");
    if (!dir || !*dir)
        dir = ".";
    memset(&x, 0, sizeof(x));
    x.line.max = EXPORT_LINE_MAX;
    x.cell.max = EXPORT_LINE_MAX;
    x.csv = format && strcmp(format, "csv") == 0;
    ctx = cli_open_ctx("export", &a, flags, 1);
    if (!ctx)
        return 1;
    if (args_get(&a, flags, "since") &&
        db_report_since(ctx->db, args_get(&a, flags, "since"), &since, &err) != 0) {
        fprintf(stderr, "grove export: %s\n", err.msg);
        ctx_free(ctx);
        return 2;
    }
    /* A file size limit must fail the write (EFBIG), not kill grove halfway. */
    signal(SIGXFSZ, SIG_IGN);
    rc = 1;
    if (stat(dir, &sb) != 0) {
        if (grove_mkdirs(dir, 0700, &err) != 0)
            goto done;
    } else if (!S_ISDIR(sb.st_mode)) {
        grove_fail(&err, GROVE_EINVAL, "'%s' is not a folder", dir);
        goto done;
    }
    if (secrets_load(ctx, &x.secrets, &err) != 0 || export_open(&x, dir, &err) != 0 ||
        db_export(ctx->db, since, export_row, &x, &err) != 0 || export_commit(&x, dir, &err) != 0)
        goto done;
    for (i = 0; i < x.n; i++)
        printf("%-52s %lld rows\n", x.files[i].path, x.files[i].rows);
    rc = 0;
done:
    if (rc && x.renamed)
        fprintf(stderr, "grove export: %s; %zu of the files were replaced already\n", err.msg,
                x.renamed);
    else if (rc)
        fprintf(stderr, "grove export: %s; nothing was written\n", err.msg);
    export_cleanup(&x);
    free(since);
    ctx_free(ctx);
    return rc;
}

/* ---- import ------------------------------------------------------------- */

typedef struct in_file {
    char *path; /* owned */
    FILE *f;
    long long lineno;
} in_file;

typedef struct import_state {
    in_file *files;
    size_t n;
    char *line; /* getline() buffer, owned */
    size_t cap;
} import_state;

static int import_next(void *arg, size_t t, const char **line, size_t *len, long long *lineno,
                       grove_err *err)
{
    import_state *s = arg;
    in_file *f = &s->files[t];
    ssize_t n;

    errno = 0;
    n = getline(&s->line, &s->cap, f->f);
    if (n < 0) {
        if (ferror(f->f))
            return grove_fail(err, GROVE_EIO, "cannot read '%s': %s", f->path,
                              strerror(errno ? errno : EIO));
        return 0;
    }
    if (n > 0 && s->line[n - 1] == '\n')
        n--;
    if (memchr(s->line, '\0', (size_t)n))
        return grove_fail(err, GROVE_EINVAL, "'%s' line %lld holds a NUL byte", f->path,
                          f->lineno + 1);
    *line = s->line;
    *len = (size_t)n;
    *lineno = ++f->lineno;
    return 1;
}

static int import_rewind(void *arg, grove_err *err)
{
    import_state *s = arg;
    size_t i;

    for (i = 0; i < s->n; i++) {
        if (fseek(s->files[i].f, 0, SEEK_SET) != 0)
            return grove_fail(err, GROVE_EIO, "cannot read '%s': %s", s->files[i].path,
                              strerror(errno));
        clearerr(s->files[i].f);
        s->files[i].lineno = 0;
    }
    return 0;
}

int cmd_import(int argc, char **argv)
{
    static const arg_flag flags[] = {{"repo", 1}, {"db", 1}, {NULL, 0}};
    const db_export_table *tables;
    grove_ctx *ctx = NULL;
    grove_err err = GROVE_ERR_INIT;
    import_state s;
    long long *rows = NULL, total = 0;
    struct stat sb;
    size_t i;
    args a;
    int rc;

    if ((rc = args_parse(&a, "import", flags, argc, argv)) != 0)
        return rc;
    if (a.help) {
        printf("usage: grove import DIR [--repo DIR] [--db FILE]\n\n"
               "Reads a JSONL export (the six grove-*.jsonl files 'grove export' writes) into\n"
               "an empty database, in one transaction: all rows or none. A database that holds\n"
               "any instance, event, checkpoint, feedback, relationship or cached issue is\n"
               "refused and left untouched; import into a new file with --db. Settings are not\n"
               "part of an export. Export, import and export again give identical files.\n");
        return 0;
    }
    if (a.npos != 1) {
        fprintf(stderr, "grove import: expected one folder (see 'grove import --help')\n");
        return 2;
    }
    memset(&s, 0, sizeof(s));
    tables = db_export_tables(&s.n);
    rc = 1;
    if (stat(a.pos[0], &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        grove_fail(&err, GROVE_ENOTFOUND, "'%s' is not a folder", a.pos[0]);
        goto done;
    }
    if (!(s.files = calloc(s.n, sizeof(*s.files))) || !(rows = calloc(s.n, sizeof(*rows)))) {
        grove_nomem(&err);
        goto done;
    }
    for (i = 0; i < s.n; i++) {
        in_file *f = &s.files[i];

        if (!(f->path = grove_asprintf("%s/%s.jsonl", a.pos[0], tables[i].file))) {
            grove_nomem(&err);
            goto done;
        }
        if (!(f->f = fopen(f->path, "r"))) {
            if (errno == ENOENT)
                grove_fail(&err, GROVE_ENOTFOUND,
                           "'%s' is missing: '%s' does not hold a complete JSONL export (grove "
                           "import reads the six grove-*.jsonl files of 'grove export'; CSV is "
                           "for other tools)",
                           f->path, a.pos[0]);
            else
                grove_fail(&err, GROVE_EIO, "cannot read '%s': %s", f->path, strerror(errno));
            goto done;
        }
    }
    ctx = cli_open_ctx("import", &a, flags, 1);
    if (!ctx) {
        rc = 1;
        goto quiet;
    }
    if (db_import(ctx->db, import_next, import_rewind, &s, rows, &err) != 0)
        goto done;
    for (i = 0; i < s.n; i++) {
        printf("%-30s %lld rows\n", tables[i].table, rows[i]);
        total += rows[i];
    }
    printf("imported %lld rows from '%s' into '%s'\n", total, a.pos[0], ctx->db_path);
    rc = 0;
done:
    if (rc)
        fprintf(stderr, "grove import: %s\n", err.msg);
quiet:
    for (i = 0; s.files && i < s.n; i++) {
        if (s.files[i].f)
            fclose(s.files[i].f);
        free(s.files[i].path);
    }
    free(s.files);
    free(s.line);
    free(rows);
    ctx_free(ctx);
    return rc;
}
