/*
 * The dead-letter handle and its file store (see dlq.h for the line
 * format); the table store is in dlq_pg.c, and the scanner of stored
 * records both use is in dlq_json.c (calls go one way: dlq.c -> dlq_pg.c ->
 * dlq_json.c).  Lines are built with jansson, except the record, which is
 * copied in verbatim: jansson would turn 1.1 into 1.1000000000000001 and
 * refuses integers above 2^63.  Not on the hot path: only events a sink has
 * given up on come here.
 */
#include "agent/core/dest/dlq.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_counters.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"
#include "agent/core/dest/dlq_int.h"

#define DLQ_FAC   "dest.dlq"
#define DLQ_EVENT "pipeline.sink_write_error"

struct dest_dlq {
    char    *path;          /* the file, or "table <name>" */
    int      fd;            /* file store; -1 for the table */
    dlq_pg  *pg;            /* table store; NULL for the file */
    uint64_t count;
};

dest_dlq *
dest_dlq_open(const char *path, cdc_err *err)
{
    dest_dlq *q;
    int       fd;

    if (path == NULL || path[0] == '\0') {
        cdc_err_set(err, CDC_E_CONFIG, "dead-letter file: no path");
        return NULL;
    }
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        cdc_err_set(err, CDC_E_IO, "dead-letter file %s: open: %s", path, strerror(errno));
        return NULL;
    }
    q = cdc_xcalloc(1, sizeof(*q));
    q->path = cdc_xstrdup(path);
    q->fd = fd;
    return q;
}

dest_dlq *
dest_dlq_open_pg(const char *conninfo, const char *table, cdc_err *err)
{
    dlq_pg   *pg = dlq_pg_open(conninfo, table, err);
    dest_dlq *q;

    if (pg == NULL)
        return NULL;
    q = cdc_xcalloc(1, sizeof(*q));
    q->path = cdc_xstrdup(dlq_pg_label(pg));
    q->fd = -1;
    q->pg = pg;
    return q;
}

/* ---------------------------------------------------------------- the file store */

/* ISO-8601 UTC with milliseconds, as the platform's dlq.timestamp. */
static void
dlq_timestamp(char *out, size_t n)
{
    int64_t   ms = cdc_wall_ms();
    time_t    sec = (time_t) (ms / 1000);
    struct tm tm;
    char      base[32];

    gmtime_r(&sec, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03dZ", base, (int) (ms % 1000));
}

static int
dlq_write_all(dest_dlq *q, const char *text, size_t len, cdc_err *err)
{
    size_t off = 0;

    while (off < len) {
        ssize_t w = write(q->fd, text + off, len - off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return cdc_err_set(err, CDC_E_IO, "dead-letter file %s: write: %s", q->path,
                               strerror(errno));
        off += (size_t) w;
    }
    if (fdatasync(q->fd) != 0)
        return cdc_err_set(err, CDC_E_IO, "dead-letter file %s: fsync: %s", q->path,
                           strerror(errno));
    return 0;
}

/*
 * Writes @p jv (stolen) as one line; with @p raw, a last member "record"
 * holding raw[0..rawlen) verbatim is added after jansson's text.
 */
static int
dlq_write_line(dest_dlq *q, json_t *jv, const char *raw, size_t rawlen, cdc_err *err)
{
    char   *text = json_dumps(jv, JSON_COMPACT | JSON_PRESERVE_ORDER);
    cdc_buf line = CDC_BUF_INIT;
    size_t  len;
    int     rc;

    json_decref(jv);
    if (text == NULL)
        return cdc_err_set(err, CDC_E_NOMEM, "dead-letter file %s: encoding failed", q->path);
    len = strlen(text);
    if (raw) {
        cdc_buf_put(&line, text, len - 1);          /* without the closing brace */
        cdc_buf_puts(&line, ",\"record\":");
        cdc_buf_put(&line, raw, rawlen);
        cdc_buf_putc(&line, '}');
    } else {
        cdc_buf_put(&line, text, len);
    }
    cdc_buf_putc(&line, '\n');
    free(text);
    if (cdc_buf_failed(&line)) {
        cdc_buf_free(&line);
        return cdc_err_set(err, CDC_E_NOMEM, "dead-letter file %s: out of memory", q->path);
    }
    rc = dlq_write_all(q, (const char *) line.data, line.len, err);
    cdc_buf_free(&line);
    return rc;
}

static int
file_append(dest_dlq *q, const dest_dlq_rec *r, const dlq_extra *x, cdc_err *err)
{
    json_t *line = json_object(), *hdr = json_object();
    char    off[24];

    snprintf(off, sizeof(off), "%" PRIu64, r->offset);
    json_object_set_new(line, "id", json_string(x->id));
    json_object_set_new(line, "sink_id", json_string(r->sink_id ? r->sink_id : ""));
    json_object_set_new(line, "commit_lsn", json_integer((json_int_t) r->pos.lsn));
    json_object_set_new(line, "seq", json_integer((json_int_t) r->pos.seq));
    /* Header values are strings, as on a Kafka record. */
    json_object_set_new(hdr, "dlq.source_topic", json_string(r->topic ? r->topic : ""));
    json_object_set_new(hdr, "dlq.source_partition", json_sprintf("%d", r->partition));
    json_object_set_new(hdr, "dlq.source_offset", json_string(off));
    json_object_set_new(hdr, "dlq.error_type", json_string(r->error_type ? r->error_type : ""));
    json_object_set_new(hdr, "dlq.error_message",
                        json_stringn_nocheck(r->error_message ? r->error_message : "",
                                             r->error_message ? strlen(r->error_message) : 0));
    json_object_set_new(hdr, "dlq.stacktrace", json_string(x->stacktrace));
    json_object_set_new(hdr, "dlq.timestamp", json_string(x->timestamp));
    json_object_set_new(hdr, "dlq.sink_id", json_string(r->sink_id ? r->sink_id : ""));
    json_object_set_new(line, "headers", hdr);
    if (r->record && x->record_json)
        return dlq_write_line(q, line, r->record, r->record_len, err);
    if (r->record)      /* not one line of JSON: keep it anyway, exactly, as a string */
        json_object_set_new(line, "record_text",
                            json_stringn_nocheck(r->record, r->record_len));
    json_object_set_new(line, "record", json_null());
    return dlq_write_line(q, line, NULL, 0, err);
}

/* ---------------------------------------------------------------- the handle */

void
dest_dlq_letter_id(const char *sink_id, cdc_pos pos, char *out, size_t n)
{
    snprintf(out, n, "%s-%016" PRIX64 "-%" PRIu64, sink_id ? sink_id : "", pos.lsn, pos.seq);
}

int
dest_dlq_append(dest_dlq *q, const dest_dlq_rec *r, cdc_err *err)
{
    char      id[200], ts[40], where[200];
    bool      dup = false;
    dlq_extra x = { id, ts, where, dest_dlq_record_is_json(r->record, r->record_len) };
    int       rc;

    dest_dlq_letter_id(r->sink_id, r->pos, id, sizeof(id));
    dlq_timestamp(ts, sizeof(ts));
    snprintf(where, sizeof(where), "%s at %s", cdc_rc_name(r->code),
             r->where ? r->where : "?");
    rc = q->pg ? dlq_pg_append(q->pg, r, &x, &dup, err) : file_append(q, r, &x, err);
    if (rc < 0)
        return -1;
    q->count++;
    cdc_metrics_dlq_inc(r->sink_id);
    log_event_error(DLQ_FAC, DLQ_EVENT, "sink %s gave up on an event (topic %s offset %" PRIu64
                    "): %s: %s; dead letter %s in %s%s", r->sink_id ? r->sink_id : "",
                    r->topic ? r->topic : "", r->offset, r->error_type ? r->error_type : "",
                    r->error_message ? r->error_message : "", id, q->path,
                    dup ? " (already there: stored by an earlier run)" : "");
    return 0;
}

int
dest_dlq_mark_replayed(dest_dlq *q, const char *sink_id, cdc_pos pos, cdc_err *err)
{
    char    id[200], ts[40];
    json_t *line;

    if (q->pg)
        return dlq_pg_mark(q->pg, sink_id, pos, err);
    dest_dlq_letter_id(sink_id, pos, id, sizeof(id));
    dlq_timestamp(ts, sizeof(ts));
    line = json_object();
    json_object_set_new(line, "replayed", json_string(id));
    json_object_set_new(line, "timestamp", json_string(ts));
    return dlq_write_line(q, line, NULL, 0, err);
}

int
dest_dlq_scan(dest_dlq *q, int (*fn)(void *arg, const dest_dlq_row *row), void *arg,
              cdc_err *err)
{
    if (q->pg == NULL)
        return cdc_err_set(err, CDC_E_INVAL, "dead-letter file %s: not a table", q->path);
    return dlq_pg_scan(q->pg, fn, arg, err);
}

bool
dest_dlq_is_table(const dest_dlq *q)
{
    return q->pg != NULL;
}

const char *
dest_dlq_path(const dest_dlq *q)
{
    return q->path;
}

uint64_t
dest_dlq_count(const dest_dlq *q)
{
    return q->count;
}

void
dest_dlq_close(dest_dlq *q)
{
    if (q == NULL)
        return;
    if (q->fd >= 0 && close(q->fd) != 0)
        log_warn(DLQ_FAC, "%s: close: %s", q->path, strerror(errno));
    dlq_pg_close(q->pg);
    free(q->path);
    free(q);
}
