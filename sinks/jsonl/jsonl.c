/*
 * The JSON-lines destination (see jsonl.h for the line format).  It is the
 * simplest destination and the reference for the durability rule every
 * destination follows: the position reported by progress() is one whose
 * line has been handed to write(2) in full and fsync'ed; buffered lines do
 * not count, and an I/O error leaves them buffered and the position where
 * it was.
 *
 * Positions.  `pending` is the position the end of the buffer stands for:
 * the last event appended, or (commit_lsn, CDC_SEQ_END) once commit_txn()
 * says the transaction is complete.  A write-out that empties the buffer
 * moves `written` to `pending`; the fsync after it moves `synced` (the
 * durable position) to `written`.
 *
 * Restart.  The file itself is the record of what was delivered: its last
 * complete line carries (commit_lsn, seq) in its metadata, and every event
 * at or before that position is skipped when the server re-sends it.  A line
 * torn by a crash (no trailing newline) is cut off first.
 *
 * Stdout ("-") and other non-regular files (pipes, character devices)
 * cannot be fsync'ed: for them a line is durable once write(2) returned,
 * which is all a pipe can promise, and resume_from() reports nothing.
 */
#include "sinks/jsonl/jsonl.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_lsn.h"
#include "agent/core/cdc_mem.h"
#include "agent/core/dest/status.h"
#include "schemas/json.h"
#include "schemas/record.h"
#include "schemas/topic.h"

#define JSONL_FAC        "dest.jsonl"
#define JSONL_BUF_HIGH   ((size_t) 1 << 20)  /* write out past 1 MiB */
#define JSONL_TAIL_CHUNK 65536               /* read size when scanning the tail */

typedef struct jsonl {
    char         *path;
    const char   *label;        /* path, or "stdout" in messages */
    int           fd;
    bool          regular;      /* a regular file: fsync and resume apply */
    bool          fsync;
    int           flush_ms;
    sch_json_opts jopts;
    char         *prefix;       /* topic prefix (owned) */
    char         *database;     /* owned copy when the defaults are used */
    cdc_buf       out;          /* lines not yet written */
    cdc_pos       pending, written, synced, resume;
    uint64_t      nlines, nskipped;
    int64_t       last_out_ms;  /* monotonic time of the last write-out */
    /* failing: the last write-out failed, retried later; fatal: an fsync failed (nothing
       written since can be trusted) or the output holds part of a line */
    dest_status   st;
    /* A line too long for the buffer goes out while it is encoded (jsonl_drain). */
    size_t        line_mark;    /* bytes buffered before the line being encoded */
    bool          line_tried;   /* a drain began during this line */
    bool          line_out;     /* a drain succeeded: the earlier lines are in the file */
    off_t         line_base;    /* where the file ended before the first drain */
    int           drain_errno;  /* why the last drain failed */
    size_t        line_written; /* bytes the drains wrote during this line (earlier lines too) */
} jsonl;

static int
jsonl_fail(jsonl *j, cdc_err *err, const char *what, int errnum)
{
    cdc_err_set(err, CDC_E_IO, "jsonl %s: %s: %s", j->label, what, strerror(errnum));
    /* logged once per failure episode, not at every retry */
    if (dest_status_failing(&j->st, "%s: %s", what, strerror(errnum)))
        log_warn(JSONL_FAC, "%s: %s: %s (%zu bytes kept buffered)", j->label, what,
                 strerror(errnum), j->out.len);
    return -1;
}

/* Drops the first n bytes of the buffer (they reached the file). */
static void
jsonl_consume(jsonl *j, size_t n)
{
    memmove(j->out.data, j->out.data + n, j->out.len - n);
    j->out.len -= n;
    j->out.data[j->out.len] = '\0';
}

/*
 * Writes the whole buffer out, then fsyncs.  @returns 0, or -1 with err set;
 * the part not written stays buffered and the positions do not move.
 */
static int
jsonl_sync(jsonl *j, cdc_err *err)
{
    size_t off = 0;

    if (j->st.fatal)
        return cdc_err_set(err, CDC_E_IO, "jsonl %s: an earlier fsync failed: %s", j->label,
                           j->st.lasterr);
    while (off < j->out.len) {
        ssize_t n = write(j->fd, j->out.data + off, j->out.len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;

            jsonl_consume(j, off);
            return jsonl_fail(j, err, "write", e);
        }
        off += (size_t) n;
    }
    if (off > 0)
        jsonl_consume(j, off);
    j->written = j->pending;
    j->last_out_ms = cdc_mono_ms();
    if (j->fsync && j->regular && cdc_pos_cmp(j->synced, j->written) < 0 &&
        fdatasync(j->fd) != 0) {
        /* After a failed fsync Linux may have dropped the dirty pages and a
           retry can succeed without the data ever reaching the disk
           (PostgreSQL's "fsyncgate"), so the sink stops for good. */
        int e = errno;

        jsonl_fail(j, err, "fsync", e);
        dest_status_fatal(&j->st, "fsync: %s", strerror(e));
        return -1;
    }
    j->synced = j->written;
    dest_status_ok(&j->st);
    return 0;
}

static bool
jsonl_dirty(const jsonl *j)
{
    return j->out.len > 0 || cdc_pos_cmp(j->pending, j->synced) > 0;
}

static int
jsonl_open(cdc_dest *d, const void *conf, const cdc_dest_env *env, cdc_err *err)
{
    const dest_jsonl_conf *c = conf;
    jsonl                 *j;
    struct stat            st;

    if (c == NULL || c->path == NULL || c->path[0] == '\0')
        return cdc_err_set(err, CDC_E_CONFIG, "jsonl: path is required (\"-\" for stdout)");
    j = cdc_xcalloc(1, sizeof(*j));
    j->path = cdc_xstrdup(c->path);
    j->fsync = c->fsync;
    j->flush_ms = c->flush_interval_ms;
    j->prefix = cdc_xstrdup(env && env->topic_prefix ? env->topic_prefix : "");
    if (env && env->replay_only) {     /* dlq replay: nothing to open (jsonl has no replay) */
        j->label = j->path;
        j->fd = -1;
        d->impl = j;
        return 0;
    }
    if (strcmp(c->path, "-") == 0) {
        j->label = "stdout";
        j->fd = STDOUT_FILENO;
    } else {
        j->label = j->path;
        j->fd = open(c->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (j->fd < 0) {
            cdc_err_set(err, CDC_E_IO, "jsonl %s: open: %s", c->path, strerror(errno));
            goto fail;
        }
    }
    if (fstat(j->fd, &st) != 0) {
        cdc_err_set(err, CDC_E_IO, "jsonl %s: fstat: %s", j->label, strerror(errno));
        goto fail;
    }
    j->regular = S_ISREG(st.st_mode);
    sch_json_opts_for(&j->jopts, env ? env->encode_opts : NULL, j->prefix,
                      env ? env->database : NULL, &j->database);
    dest_status_init(&j->st, j->label);
    j->last_out_ms = cdc_mono_ms();
    d->impl = j;
    return 0;
fail:
    if (j->fd > STDOUT_FILENO)
        close(j->fd);
    free(j->path);
    free(j->prefix);
    free(j);
    return -1;
}

/*
 * Finds the last '\n' before offset `before`.  @returns its offset, -1 when
 * there is none, or -2 on a read error (errno set).
 */
static off_t
jsonl_last_nl(int fd, off_t before)
{
    char buf[JSONL_TAIL_CHUNK];

    while (before > 0) {
        size_t  n = before < (off_t) sizeof(buf) ? (size_t) before : sizeof(buf);
        off_t   at = before - (off_t) n;
        ssize_t r = pread(fd, buf, n, at);

        if (r < 0 && errno == EINTR)
            continue;
        if (r != (ssize_t) n) {
            if (r >= 0)
                errno = EIO;
            return -2;
        }
        for (size_t i = n; i > 0; i--)
            if (buf[i - 1] == '\n')
                return at + (off_t) (i - 1);
        before = at;
    }
    return -1;
}

/*
 * Reads the unsigned integer member `key` of the metadata object, which is
 * the last member of every line.  Jansson keeps integers in a signed 64-bit
 * type and cannot hold a seq such as the snapshot's last row
 * (CDC_SEQ_SNAPSHOT_LAST), so the digits are read from the text; a quote
 * inside a JSON string is always escaped, so `"metadata":{` and `"key":`
 * found unescaped are the structural ones.
 */
static bool
jsonl_scan_u64(const char *line, size_t len, const char *key, uint64_t *out)
{
    char        pat[32];
    const char *md = NULL, *p, *end = line + len;
    size_t      plen;
    char       *stop;

    for (p = line; (p = memmem(p, (size_t) (end - p), "\"metadata\":{", 12)) != NULL; p++)
        md = p;
    if (md == NULL)
        return false;
    plen = (size_t) snprintf(pat, sizeof(pat), "\"%s\":", key);
    p = memmem(md, (size_t) (end - md), pat, plen);
    if (p == NULL || p + plen >= end || p[plen] < '0' || p[plen] > '9')
        return false;
    errno = 0;
    *out = strtoull(p + plen, &stop, 10);
    return errno == 0 && stop < end && (*stop == ',' || *stop == '}');
}

/* Parses metadata.commit_lsn and metadata.seq out of one line. */
static int
jsonl_parse_pos(jsonl *j, const char *line, size_t len, off_t at, cdc_pos *pos, cdc_err *err)
{
    json_error_t jerr;
    /* Numbers as reals: only the line's shape is checked here (see jsonl_scan_u64). */
    json_t      *root = json_loadb(line, len, JSON_DECODE_INT_AS_REAL, &jerr), *md;
    int          rc = -1;

    md = root ? json_object_get(root, "metadata") : NULL;
    if (!json_is_number(json_object_get(md, "commit_lsn")) ||
        !json_is_number(json_object_get(md, "seq")) ||
        !jsonl_scan_u64(line, len, "commit_lsn", &pos->lsn) ||
        !jsonl_scan_u64(line, len, "seq", &pos->seq)) {
        cdc_err_set(err, CDC_E_STATE,
                    "jsonl %s: last line (at byte %lld) has no metadata.commit_lsn/seq: %s",
                    j->label, (long long) at, root ? "missing or not integers" : jerr.text);
        goto out;
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

/* Cuts a torn last line (one without its newline) off the file. */
static int
jsonl_cut_torn(jsonl *j, off_t size, off_t *end, cdc_err *err)
{
    char  last;
    off_t nl;

    if (pread(j->fd, &last, 1, size - 1) != 1)
        return cdc_err_set(err, CDC_E_IO, "jsonl %s: read: %s", j->label, strerror(errno));
    *end = size;
    if (last == '\n')
        return 0;
    nl = jsonl_last_nl(j->fd, size);
    if (nl == -2)
        return cdc_err_set(err, CDC_E_IO, "jsonl %s: read: %s", j->label, strerror(errno));
    *end = nl + 1;  /* 0 when the file holds only the torn line */
    log_warn(JSONL_FAC, "%s: last line is incomplete (%lld bytes, from an interrupted write); "
             "truncating it away", j->label, (long long) (size - *end));
    if (ftruncate(j->fd, *end) != 0 || fsync(j->fd) != 0)
        return cdc_err_set(err, CDC_E_IO, "jsonl %s: truncating torn line: %s", j->label,
                           strerror(errno));
    return 0;
}

static int
jsonl_resume_from(cdc_dest *d, cdc_pos *last_done, cdc_err *err)
{
    jsonl      *j = d->impl;
    struct stat st;
    off_t       end = 0, nl, start;
    size_t      len;
    char       *line = NULL;
    int         rc = -1;

    last_done->lsn = last_done->seq = 0;
    if (!j->regular)
        return 0;
    if (fstat(j->fd, &st) != 0)
        return cdc_err_set(err, CDC_E_IO, "jsonl %s: fstat: %s", j->label, strerror(errno));
    if (st.st_size == 0)
        return 0;
    if (jsonl_cut_torn(j, st.st_size, &end, err) != 0)
        return -1;
    if (end == 0)
        return 0;
    nl = jsonl_last_nl(j->fd, end - 1);
    if (nl == -2)
        return cdc_err_set(err, CDC_E_IO, "jsonl %s: read: %s", j->label, strerror(errno));
    start = nl + 1;
    len = (size_t) (end - 1 - start);
    line = cdc_xmalloc(len + 1);
    if (pread(j->fd, line, len, start) != (ssize_t) len) {
        cdc_err_set(err, CDC_E_IO, "jsonl %s: read: %s", j->label, strerror(errno));
        goto out;
    }
    if (jsonl_parse_pos(j, line, len, start, last_done, err) != 0)
        goto out;
    /* What the file holds is on disk (it was fsync'ed above if torn; fsync
       again in case the crash was ours and not the machine's). */
    if (j->fsync && fsync(j->fd) != 0) {
        cdc_err_set(err, CDC_E_IO, "jsonl %s: fsync: %s", j->label, strerror(errno));
        goto out;
    }
    j->resume = j->pending = j->written = j->synced = *last_done;
    log_info(JSONL_FAC, "%s: resuming after " CDC_LSN_FMT " seq %llu", j->label,
             CDC_LSN_ARGS(last_done->lsn), (unsigned long long) last_done->seq);
    rc = 0;
out:
    free(line);
    return rc;
}

/*
 * The buffer's drain while a line is encoded: what is buffered (the end of
 * earlier lines, then the start of this one) goes to the file, so memory does
 * not follow the size of a value.  Where the file ended before is kept, so
 * that a line that fails half-way can be cut off again (jsonl_unput_line).
 */
static int
jsonl_drain(void *arg, const uint8_t *p, size_t n)
{
    jsonl *j = arg;

    if (!j->line_tried) {
        off_t end = j->regular ? lseek(j->fd, 0, SEEK_END) : 0;

        if (end < 0) {      /* nothing written: line_base (the previous line's) is not this one's */
            j->drain_errno = errno;
            return -1;
        }
        j->line_base = end;
        j->line_tried = true;
    }
    while (n > 0) {
        ssize_t w = write(j->fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            j->drain_errno = errno;
            return -1;
        }
        p += w;
        n -= (size_t) w;
        j->line_written += (size_t) w;
    }
    /* After the first drain the earlier lines are in the file, not the buffer. */
    j->line_out = true;
    return 0;
}

/*
 * An event's line could not be completed (out of memory, or a drain that
 * failed): takes back what of it is buffered, and what of it reached the
 * file, so that the file and the buffer hold whole lines only.
 * @returns -1 with err set.
 */
static int
jsonl_unput_line(jsonl *j, cdc_err *err)
{
    int    e = j->drain_errno;
    off_t  cut = j->line_out ? j->line_base + (off_t) j->line_mark : j->line_base;
    size_t done = j->line_written;      /* bytes the drains put out, earlier lines first */

    j->out.failed = false;
    /* Buffered: the earlier lines unless a drain took them, then this line's start. */
    j->out.len = j->line_out ? 0 : j->line_mark;
    if (!j->regular && done <= j->line_mark) {
        /* A pipe or stdout took none of this line: keep what of the earlier lines it did
           not take, and the output still holds whole lines only. */
        if (!j->line_out && done > 0)
            memmove(j->out.data, j->out.data + done, j->line_mark - done);
        j->out.len = j->line_mark - done;
    }
    if (j->out.data)
        j->out.data[j->out.len] = '\0';
    if (!j->line_tried) {       /* nothing written (no drain, or lseek failed) */
        if (e)
            return jsonl_fail(j, err, "finding the end of the file", e);
        return cdc_err_set(err, CDC_E_NOMEM, "jsonl %s: out of memory encoding an event",
                           j->label);
    }
    j->line_tried = j->line_out = false;
    if (!j->regular && done <= j->line_mark)
        return jsonl_fail(j, err, e ? "write" : "out of memory encoding an event",
                          e ? e : ENOMEM);
    if (!j->regular || ftruncate(j->fd, cut) != 0) {
        const char *what = j->regular ? "cutting off a partly written line" :
                           "a line was cut short";
        int         errnum = j->regular ? errno : e ? e : EIO;

        jsonl_fail(j, err, what, errnum);
        /* the output holds part of a line for good */
        dest_status_fatal(&j->st, "%s: %s", what, strerror(errnum));
        return -1;
    }
    return jsonl_fail(j, err, e ? "write" : "out of memory encoding an event", e ? e : ENOMEM);
}

/* Appends one line: {"key":K,"value":V,"metadata":{...}}\n */
static void
jsonl_put_line(jsonl *j, const cdc_event *ev)
{
    char        tmp[300];
    const char *topic = sch_event_topic_ref(ev, j->prefix, tmp, sizeof(tmp));

    /* A snapshot's rows come in a burst: their ts_ms from the bulk clock (within a
       kernel tick, 4 ms here, of cdc_wall_us()). */
    sch_record_put(&j->out, ev, &j->jopts, topic,
                   ev->snapshot ? cdc_wall_us_bulk() : cdc_wall_us(), SCH_RECORD_DETAIL, NULL);
    cdc_buf_putc(&j->out, '\n');
}

static int
jsonl_write(cdc_dest *d, const cdc_event *ev, cdc_err *err)
{
    jsonl *j = d->impl;

    if (j->st.fatal)
        return cdc_err_set(err, CDC_E_IO, "jsonl %s: %s", j->label, j->st.lasterr);
    if (cdc_pos_cmp(ev->pos, j->resume) <= 0) {
        j->nskipped++;      /* already in the file from before the restart */
        return 0;
    }
    /* Write out before appending, so that a failure leaves this event
       unaccepted (the caller retries it) rather than half-accepted. */
    if (j->out.len >= JSONL_BUF_HIGH && jsonl_sync(j, err) != 0)
        return -1;
    j->line_mark = j->out.len;
    j->line_tried = j->line_out = false;
    j->line_written = 0;
    j->drain_errno = 0;
    cdc_buf_set_drain(&j->out, jsonl_drain, j, JSONL_BUF_HIGH);
    jsonl_put_line(j, ev);
    cdc_buf_set_drain(&j->out, NULL, NULL, 0);
    if (cdc_buf_failed(&j->out))
        return jsonl_unput_line(j, err);
    j->line_tried = j->line_out = false;
    if (cdc_pos_cmp(ev->pos, j->pending) > 0)
        j->pending = ev->pos;
    j->nlines++;
    return 0;
}

static int
jsonl_commit_txn(cdc_dest *d, const cdc_txn *txn, cdc_err *err)
{
    jsonl  *j = d->impl;
    cdc_pos end = { txn->commit_lsn, CDC_SEQ_END };

    (void) err;
    if (cdc_pos_cmp(end, j->pending) > 0)
        j->pending = end;
    return 0;
}

static int
jsonl_progress(cdc_dest *d, cdc_pos *durable, cdc_err *err)
{
    jsonl  *j = d->impl;
    cdc_err e = { 0 };

    if (j->st.fatal)
        return cdc_err_set(err, CDC_E_IO, "jsonl %s: %s", j->label, j->st.lasterr);
    /* A failed write-out is retried at the next interval; it is reported
       through health() and the watermark stays where it is. */
    if (jsonl_dirty(j) && cdc_mono_ms() - j->last_out_ms >= j->flush_ms &&
        jsonl_sync(j, &e) != 0 && j->st.fatal)
        return cdc_err_set(err, e.code, "%s", e.msg);
    *durable = j->synced;
    return 0;
}

static int
jsonl_flush(cdc_dest *d, int timeout_ms, cdc_err *err)
{
    jsonl *j = d->impl;

    (void) timeout_ms;  /* write(2) and fsync cannot be bounded here */
    if (!jsonl_dirty(j))
        return 0;
    return jsonl_sync(j, err);
}

static void
jsonl_health(cdc_dest *d, cdc_health *h)
{
    jsonl *j = d->impl;

    dest_status_health(&j->st, h);
    if (!j->st.fatal && !j->st.failing)
        snprintf(h->detail, sizeof(h->detail),
                 "%s: %llu lines, %llu skipped, %zu bytes buffered, durable " CDC_LSN_FMT
                 " seq %llu", j->label, (unsigned long long) j->nlines,
                 (unsigned long long) j->nskipped, j->out.len, CDC_LSN_ARGS(j->synced.lsn),
                 (unsigned long long) j->synced.seq);
}

static void
jsonl_close(cdc_dest *d)
{
    jsonl  *j = d->impl;
    cdc_err e = { 0 };

    if (j == NULL)
        return;
    if (jsonl_dirty(j) && jsonl_sync(j, &e) != 0)
        log_error(JSONL_FAC, "%s: closing with %zu bytes not written: %s", j->label,
                  j->out.len, e.msg);
    if (j->fd > STDOUT_FILENO && close(j->fd) != 0)
        log_warn(JSONL_FAC, "%s: close: %s", j->label, strerror(errno));
    cdc_buf_free(&j->out);
    free(j->path);
    free(j->prefix);
    free(j->database);
    free(j);
    d->impl = NULL;
}

const cdc_dest_ops dest_jsonl_ops = {
    .kind = "jsonl",
    .open = jsonl_open,
    .resume_from = jsonl_resume_from,
    .write = jsonl_write,
    .commit_txn = jsonl_commit_txn,
    .progress = jsonl_progress,
    .flush = jsonl_flush,
    .health = jsonl_health,
    .close = jsonl_close,
};
