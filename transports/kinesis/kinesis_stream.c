/*
 * Synchronous Kinesis calls and the streams.
 *
 * A call is one signed POST of AWS's JSON 1.1 protocol through
 * agent/core/net/aws_json.h (SigV4, the AWS credential chain, AWS's error
 * body parsed and classified).  PutRecords runs the same client's signed
 * requests on cdc_http_multi (kinesis_put.c); the calls here are the rare
 * blocking ones: ListStreams at start, DescribeStreamSummary and CreateStream
 * the first time a stream is met.
 *
 * Streams: a stream that exists is used as it is (never updated, resharded
 * or deleted); a missing one is created with kinesis.shard_count shards
 * (dead-letter streams: kinesis.dlq_shard_count), logged, and waited for
 * until ACTIVE.  ResourceInUseException on CreateStream (another agent made
 * it meanwhile) is the same as finding it.
 */
#include "transports/kinesis/kinesis_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"

void
kin_json_str(cdc_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";

    cdc_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s[i];

        if (c == '"' || c == '\\') {
            cdc_buf_putc(b, '\\');
            cdc_buf_putc(b, (char) c);
        } else if (c < 0x20) {
            char u[7] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0 };

            cdc_buf_put(b, u, 6);
        } else {
            cdc_buf_putc(b, (char) c);
        }
    }
    cdc_buf_putc(b, '"');
}

/*
 * One synchronous call through aws_json (agent/core/net/aws_json.h); the answer's
 * JSON (a 2xx) into *out when out is not NULL (the caller json_decref()s it).
 */
int
kin_call(kinesis *k, const char *target, const char *body, json_t **out, kin_answer *a,
         cdc_err *err)
{
    cdc_aws_result res = { 0 };
    cdc_err        e = { 0 };

    memset(a, 0, sizeof(*a));
    if (out)
        *out = NULL;
    if (cdc_aws_json_call(k->kj, target, body, strlen(body), NULL, &res, &e) < 0 &&
        res.status == 0 && res.message[0] == '\0') {
        /* not even sent: no credentials, out of memory */
        cdc_aws_result_clear(&res);
        if (err)
            *err = e;
        return -1;
    }
    a->answered = res.status != 0;
    a->status = res.status;
    snprintf(a->type, sizeof(a->type), "%s", res.code);
    snprintf(a->msg, sizeof(a->msg), "%s", res.message);
    a->retry = res.cls == CDC_AWS_RETRY;
    if (!a->answered && strstr(res.message, "resolve host"))
        snprintf(a->type, sizeof(a->type), "%s", "UnresolvedHost");
    if (out && res.cls == CDC_AWS_OK) {
        *out = res.json;
        res.json = NULL;
    }
    cdc_aws_result_clear(&res);
    return 0;
}

kin_stream *
kin_stream_get(kinesis *k, const char *name, bool dlq)
{
    kin_stream *s;

    for (s = k->streams; s; s = s->next)
        if (strcmp(s->name, name) == 0)
            return s;
    s = cdc_xcalloc(1, sizeof(*s));
    s->name = cdc_xstrdup(name);
    s->dlq = dlq;
    s->next = k->streams;
    k->streams = s;
    return s;
}

/* An answer that no retry will fix, as an error naming what to change. */
static int
kin_final(kinesis *k, const char *what, const kin_answer *a, cdc_err *err)
{
    const char *src = cdc_aws_provider_source(k->aws);

    if (strcmp(a->type, "UnresolvedHost") == 0)
        return cdc_err_set(err, CDC_E_CONFIG, "kinesis: %s: the endpoint %s does not resolve "
                           "(%s): check kinesis.region (\"%s\") or AWS_ENDPOINT_URL_KINESIS",
                           what, k->label, a->msg, k->region);
    if (strcmp(a->type, "UnrecognizedClientException") == 0 ||
        strcmp(a->type, "InvalidSignatureException") == 0 ||
        strcmp(a->type, "IncompleteSignatureException") == 0 ||
        strcmp(a->type, "SignatureDoesNotMatch") == 0 ||
        strcmp(a->type, "ExpiredTokenException") == 0 ||
        strcmp(a->type, "InvalidClientTokenId") == 0)
        return cdc_err_set(err, CDC_E_CONFIG, "kinesis: %s: %s refused the credentials "
                           "(from %s): %s: %s", what, k->label, src[0] ? src : "?", a->type,
                           a->msg);
    if (strncmp(a->type, "AccessDenied", 12) == 0)
        return cdc_err_set(err, CDC_E_CONFIG, "kinesis: %s: not allowed for the credentials "
                           "from %s: %s", what, src[0] ? src : "?", a->msg);
    if (a->answered)
        return cdc_err_set(err, CDC_E_DEST, "kinesis: %s: %s answered HTTP %ld: %s%s%s", what,
                           k->label, a->status, a->type, a->type[0] ? ": " : "", a->msg);
    return cdc_err_set(err, CDC_E_CONN, "kinesis: %s: %s: %s", what, k->label, a->msg);
}

/* DescribeStreamSummary: *status gets "ACTIVE", "CREATING", ... or "" when missing. */
static int
kin_describe(kinesis *k, kin_stream *st, char *status, size_t n, kin_answer *a, cdc_err *err)
{
    cdc_buf body = CDC_BUF_INIT;
    json_t *j = NULL;
    int     rc;

    status[0] = '\0';
    cdc_buf_puts(&body, "{\"StreamName\":");
    kin_json_str(&body, st->name, strlen(st->name));
    cdc_buf_putc(&body, '}');
    rc = kin_call(k, "DescribeStreamSummary", cdc_buf_str(&body), &j, a, err);
    cdc_buf_free(&body);
    if (rc == 0 && j) {
        const char *s = json_string_value(json_object_get(
            json_object_get(j, "StreamDescriptionSummary"), "StreamStatus"));
        snprintf(status, n, "%s", s ? s : "?");
    } else if (rc == 0 && a->answered && a->status == 200) {
        a->retry = true;        /* a 2xx that is not JSON: garbage, ask again */
    }
    json_decref(j);
    return rc;
}

int
kin_stream_ensure(kinesis *k, kin_stream *st, bool block, cdc_err *err)
{
    char       status[32], what[400];
    kin_answer a;
    int64_t    deadline = 0;
    bool       created = false;
    int        shards = st->hb ? 1 : st->dlq ? k->dlq_shard_count : k->shard_count;

    if (st->ready)
        return 0;
    snprintf(what, sizeof(what), "stream %s", st->name);
    for (;;) {
        if (kin_describe(k, st, status, sizeof(status), &a, err) < 0)
            return -1;
        if (a.answered && a.status == 200) {
            if (strcmp(status, "ACTIVE") == 0 || strcmp(status, "UPDATING") == 0) {
                st->ready = true;
                if (!created)
                    log_info(KIN_FAC, "stream %s exists (%s): used as it is", st->name, status);
                return 0;
            }
            if (strcmp(status, "DELETING") == 0)
                return cdc_err_set(err, CDC_E_CONN, "kinesis: stream %s is being deleted; it "
                                   "is created again once it is gone", st->name);
        } else if (strcmp(a.type, "ResourceNotFoundException") == 0 && !created) {
            cdc_buf body = CDC_BUF_INIT;
            int     rc;

            cdc_buf_puts(&body, "{\"StreamName\":");
            kin_json_str(&body, st->name, strlen(st->name));
            cdc_buf_printf(&body, ",\"ShardCount\":%d}", shards);
            rc = kin_call(k, "CreateStream", cdc_buf_str(&body), NULL, &a, err);
            cdc_buf_free(&body);
            if (rc < 0)
                return -1;
            if (a.answered && a.status == 200) {
                log_info(KIN_FAC, "created stream %s with %d shard%s", st->name, shards,
                         shards == 1 ? "" : "s");
            } else if (strcmp(a.type, "ResourceInUseException") != 0) {
                snprintf(what, sizeof(what), "stream %s is missing and creating it "
                         "(kinesis:CreateStream, %d shard%s) failed", st->name, shards,
                         shards == 1 ? "" : "s");
                return a.retry ? cdc_err_set(err, CDC_E_CONN, "kinesis: %s: %s: %s", what,
                                             a.type[0] ? a.type : "error", a.msg)
                               : kin_final(k, what, &a, err);
            }
            created = true;
            deadline = cdc_mono_ms() + KIN_ACTIVE_MS;
            continue;
        } else if (!(created && strcmp(a.type, "ResourceNotFoundException") == 0)) {
            return a.retry && strcmp(a.type, "UnresolvedHost") != 0
                       ? cdc_err_set(err, CDC_E_CONN, "kinesis: %s: %s%s%s", what,
                                     a.type, a.type[0] ? ": " : "", a.msg)
                       : kin_final(k, what, &a, err);
        }
        /* Waiting here would stop the agent's loop, and with it the standby status
           updates PostgreSQL's wal_sender_timeout needs: only open() waits; later the
           caller asks again (KIN_ENSURE_RETRY_MS) while the records wait. */
        if (!block)
            return cdc_err_set(err, CDC_E_CONN, "kinesis: stream %s is %s; its records wait "
                               "until it is ACTIVE", st->name, status[0] ? status : "missing");
        if (deadline == 0)
            deadline = cdc_mono_ms() + KIN_ACTIVE_MS;
        if (cdc_mono_ms() >= deadline)
            return cdc_err_set(err, CDC_E_TIMEOUT, "kinesis: stream %s is still %s after %d s",
                               st->name, status[0] ? status : "missing", KIN_ACTIVE_MS / 1000);
        cdc_sleep_ms(200);
    }
}

int
kin_check_start(kinesis *k, cdc_err *err)
{
    kin_answer a;

    if (kin_call(k, "ListStreams", "{\"Limit\":1}", NULL, &a, err) < 0)
        return -1;
    if (a.answered && a.status == 200) {
        log_info(KIN_FAC, "%s (region %s) answers; credentials from %s", k->label, k->region,
                 cdc_aws_provider_source(k->aws));
        return 0;
    }
    if (a.retry && strcmp(a.type, "UnresolvedHost") != 0) {
        /* Down or throttled now: not the user's mistake; the streams are made when it answers. */
        log_warn(KIN_FAC, "%s (region %s) does not answer yet: %s%s%s; records wait until it "
                 "does", k->label, k->region, a.type, a.type[0] ? ": " : "", a.msg);
        dest_status_failing(&k->st, "%s: %s", k->label, a.msg);
        return 0;
    }
    return kin_final(k, "checking access (ListStreams)", &a, err);
}

/* Makes st usable; a transient failure is CDC_E_QUEUE_FULL (the router waits and asks
   again), anything else fails the destination (unless the caller says it will, with
   its own message: quiet). */
int
kin_stream_ready_as(kinesis *k, kin_stream *st, bool quiet, cdc_err *err)
{
    int64_t now = cdc_mono_ms();

    if (st->ready)
        return 0;
    if (now < st->next_try_ms) {
        k->stream_wait_ms = st->next_try_ms;    /* flush() waits until then */
        return cdc_err_set(err, CDC_E_QUEUE_FULL, "kinesis: waiting for stream %s: %s",
                           st->name, k->st.lasterr);
    }
    if (kin_stream_ensure(k, st, false, err) == 0)
        return 0;
    if (err->code == CDC_E_CONN || err->code == CDC_E_TIMEOUT) {
        st->next_try_ms = now + KIN_ENSURE_RETRY_MS;
        k->stream_wait_ms = st->next_try_ms;
        if (dest_status_failing(&k->st, "%s", err->msg))
            log_warn(KIN_FAC, "%s; records wait", err->msg);
        err->code = CDC_E_QUEUE_FULL;
        return -1;
    }
    if (!quiet && dest_status_fatal(&k->st, "%s", err->msg))
        log_error(KIN_FAC, "%s", err->msg);
    return -1;
}

int
kin_stream_ready(kinesis *k, kin_stream *st, cdc_err *err)
{
    return kin_stream_ready_as(k, st, false, err);
}
