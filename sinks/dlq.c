/*
 * The dead-letter file (see dlq.h for the line format).  Lines are built
 * with jansson, not on the hot path: they are written only for events a
 * sink has given up on.
 */
#include "dlq.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../agent/core/cdc_log.h"
#include "../agent/core/cdc_mem.h"

#define DLQ_FAC "dest.dlq"

struct dest_dlq {
    char    *path;
    int      fd;
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

/* ISO-8601 UTC with milliseconds, as the platform's dlq.timestamp. */
static void
dlq_timestamp(char *out, size_t n)
{
    struct timespec ts;
    struct tm       tm;
    char            base[32];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03ldZ", base, ts.tv_nsec / 1000000);
}

/* Writes one JSON value as a line; jv is stolen. */
static int
dlq_write_json(dest_dlq *q, json_t *jv, cdc_err *err)
{
    char  *text = json_dumps(jv, JSON_COMPACT | JSON_PRESERVE_ORDER);
    size_t len, off = 0;
    int    rc = -1;

    json_decref(jv);
    if (text == NULL)
        return cdc_err_set(err, CDC_E_NOMEM, "dead-letter file %s: encoding failed", q->path);
    len = strlen(text);
    text[len] = '\n';   /* json_dumps leaves room: overwrite the NUL, write len + 1 */
    while (off < len + 1) {
        ssize_t w = write(q->fd, text + off, len + 1 - off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            cdc_err_set(err, CDC_E_IO, "dead-letter file %s: write: %s", q->path,
                        strerror(errno));
            goto out;
        }
        off += (size_t) w;
    }
    if (fdatasync(q->fd) != 0) {
        cdc_err_set(err, CDC_E_IO, "dead-letter file %s: fsync: %s", q->path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    free(text);
    return rc;
}

int
dest_dlq_append(dest_dlq *q, const dest_dlq_rec *r, cdc_err *err)
{
    char    id[200], ts[40], off[24], where[200];
    json_t *line = json_object(), *hdr = json_object(), *rec = NULL;

    snprintf(id, sizeof(id), "%s-%016" PRIX64 "-%" PRIu64, r->sink_id ? r->sink_id : "",
             r->pos.lsn, r->pos.seq);
    dlq_timestamp(ts, sizeof(ts));
    snprintf(off, sizeof(off), "%" PRIu64, r->offset);
    snprintf(where, sizeof(where), "%s at %s", cdc_rc_name(r->code),
             r->where ? r->where : "?");
    if (r->record) {
        rec = json_loadb(r->record, r->record_len, 0, NULL);
        if (rec == NULL)    /* keep it anyway, as a string */
            rec = json_stringn_nocheck(r->record, r->record_len);
    }
    json_object_set_new(line, "id", json_string(id));
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
    json_object_set_new(hdr, "dlq.stacktrace", json_string(where));
    json_object_set_new(hdr, "dlq.timestamp", json_string(ts));
    json_object_set_new(hdr, "dlq.sink_id", json_string(r->sink_id ? r->sink_id : ""));
    json_object_set_new(line, "headers", hdr);
    json_object_set_new(line, "record", rec ? rec : json_null());
    if (dlq_write_json(q, line, err) != 0)
        return -1;
    q->count++;
    log_warn(DLQ_FAC, "%s: dead letter %s (topic %s offset %s): %s: %s", q->path, id,
             r->topic ? r->topic : "", off, r->error_type ? r->error_type : "",
             r->error_message ? r->error_message : "");
    return 0;
}

int
dest_dlq_mark_replayed(dest_dlq *q, const char *id, cdc_err *err)
{
    char    ts[40];
    json_t *line = json_object();

    dlq_timestamp(ts, sizeof(ts));
    json_object_set_new(line, "replayed", json_string(id));
    json_object_set_new(line, "timestamp", json_string(ts));
    return dlq_write_json(q, line, err);
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
    if (close(q->fd) != 0)
        log_warn(DLQ_FAC, "%s: close: %s", q->path, strerror(errno));
    free(q->path);
    free(q);
}
