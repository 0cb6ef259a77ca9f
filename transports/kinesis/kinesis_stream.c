/*
 * Synchronous Kinesis calls and the streams.
 *
 * A call is one POST of AWS's JSON 1.1 protocol to the endpoint's "/" with
 * X-Amz-Target "Kinesis_20131202.<Action>", signed with SigV4
 * (agent/core/net/aws_sigv4.h) using the credentials of the AWS chain
 * (aws_creds.h), through the one HTTP client (http.h).  PutRecords uses the
 * same signing (kin_sign) on cdc_http_multi; the calls here are the rare
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
#include "agent/core/net/aws_sigv4.h"

#define KIN_CURLE_COULDNT_RESOLVE_HOST 6

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

cdc_http_hdrs *
kin_sign(kinesis *k, const char *target, const void *body, size_t len, cdc_err *err)
{
    cdc_aws_key    key;
    char           tgt[96];
    cdc_http_hdrs *h;

    if (cdc_aws_provider_get(k->aws, &key, err) < 0) {
        cdc_err_wrap(err, "kinesis: AWS credentials");
        return NULL;
    }
    snprintf(tgt, sizeof(tgt), KIN_TARGET "%s", target);
    cdc_sigv4_hdr hv[] = { { "Content-Type", "application/x-amz-json-1.1" },
                           { "X-Amz-Target", tgt } };
    cdc_sigv4_req r = { .method = "POST", .url = k->url, .hdrs = hv, .n_hdrs = 2,
                        .body = body, .body_len = len, .region = k->region,
                        .service = "kinesis" };
    if ((h = cdc_sigv4_hdrs(&r, &key, err)) == NULL) {
        cdc_err_wrap(err, "kinesis: signing %s", target);
        return NULL;
    }
    h = cdc_http_hdrs_add(h, "Expect:");    /* no 100-continue round trip */
    if (h == NULL)
        cdc_err_set(err, CDC_E_NOMEM, "kinesis: out of memory signing %s", target);
    return h;
}

/* The text of <tag>...</tag> in an XML body into out; false when absent. */
static bool
kin_xml_get(const char *body, size_t len, const char *tag, char *out, size_t n)
{
    char        open[40], close[40];
    const char *p, *e;
    size_t      ol;

    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    ol = strlen(open);
    for (p = body; p + ol <= body + len; p++)
        if (memcmp(p, open, ol) == 0)
            break;
    if (p + ol > body + len)
        return false;
    p += ol;
    for (e = p; e + strlen(close) <= body + len; e++)
        if (memcmp(e, close, strlen(close)) == 0) {
            snprintf(out, n, "%.*s", (int) (e - p), p);
            return true;
        }
    return false;
}

/* AWS's error JSON: {"__type":"com.amazon...#ResourceNotFoundException","message":"..."};
   an XML ErrorResponse (<Code>, <Message>) too, as STS, IAM-checking front ends and moto's
   signature check answer. */
void
kin_parse_error(const char *body, size_t len, kin_answer *a)
{
    json_t     *j = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    const char *t = NULL, *m = NULL;

    a->type[0] = '\0';
    if (j == NULL && body && len && kin_xml_get(body, len, "Code", a->type, sizeof(a->type))) {
        if (!kin_xml_get(body, len, "Message", a->msg, sizeof(a->msg)))
            a->msg[0] = '\0';
        /* AWS quotes the canonical request (with the session token) after a bad signature */
        char *cut = strstr(a->msg, "The Canonical String");
        if (cut)
            *cut = '\0';
        return;
    }
    if (json_is_object(j)) {
        t = json_string_value(json_object_get(j, "__type"));
        m = json_string_value(json_object_get(j, "message"));
        if (m == NULL)
            m = json_string_value(json_object_get(j, "Message"));
    }
    if (t) {
        const char *h = strrchr(t, '#');

        snprintf(a->type, sizeof(a->type), "%s", h ? h + 1 : t);
    }
    if (m) {
        char *cut;

        snprintf(a->msg, sizeof(a->msg), "%s", m);
        if ((cut = strstr(a->msg, "The Canonical String")) != NULL)
            *cut = '\0';
    }
    else if (len) {
        size_t n = len < 200 ? len : 200;

        snprintf(a->msg, sizeof(a->msg), "%.*s", (int) n, body);
        for (char *p = a->msg; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
    }
    json_decref(j);
}

/* AWS error types that another attempt can cure (besides 5xx and no answer). */
static bool
kin_type_retriable(const char *t)
{
    return strstr(t, "Throttl") || strstr(t, "LimitExceeded") ||
           strcmp(t, "ProvisionedThroughputExceededException") == 0 ||
           strcmp(t, "InternalFailure") == 0 || strcmp(t, "ServiceUnavailable") == 0 ||
           strcmp(t, "KMSThrottlingException") == 0;
}

int
kin_call(kinesis *k, const char *target, const char *body, cdc_buf *out, kin_answer *a,
         cdc_err *err)
{
    cdc_buf        tmp = CDC_BUF_INIT;
    cdc_buf       *b = out ? out : &tmp;
    cdc_http_resp  res;
    cdc_http_hdrs *h;
    int            rc;

    memset(a, 0, sizeof(*a));
    if ((h = kin_sign(k, target, body, strlen(body), err)) == NULL)
        return -1;
    cdc_buf_reset(b);
    cdc_http_req req = { .url = k->url, .method = "POST", .hdrs = h, .body = body,
                         .body_len = strlen(body), .timeout_ms = KIN_CALL_MS, .body_out = b,
                         .body_max = 1u << 20 };
    rc = cdc_http_perform(k->sync, &req, &res, err);
    cdc_http_hdrs_free(h);
    if (rc < 0) {
        cdc_buf_free(&tmp);
        return -1;
    }
    a->answered = res.answered;
    a->status = res.status;
    if (!res.answered) {
        snprintf(a->msg, sizeof(a->msg), "%s", res.error);
        a->retry = true;
        if (res.curl_code == KIN_CURLE_COULDNT_RESOLVE_HOST)
            snprintf(a->type, sizeof(a->type), "%s", "UnresolvedHost");
    } else if (cdc_http_classify(&res) != CDC_HTTP_OK) {
        kin_parse_error((const char *) b->data, b->len, a);
        a->retry = cdc_http_classify(&res) == CDC_HTTP_RETRY || kin_type_retriable(a->type);
    }
    cdc_buf_free(&tmp);
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
    cdc_buf body = CDC_BUF_INIT, out = CDC_BUF_INIT;
    json_t *j;
    int     rc;

    status[0] = '\0';
    cdc_buf_puts(&body, "{\"StreamName\":");
    kin_json_str(&body, st->name, strlen(st->name));
    cdc_buf_putc(&body, '}');
    rc = kin_call(k, "DescribeStreamSummary", cdc_buf_str(&body), &out, a, err);
    cdc_buf_free(&body);
    if (rc == 0 && a->answered && a->status == 200) {
        j = json_loadb((const char *) out.data, out.len, 0, NULL);
        const char *s = json_string_value(json_object_get(
            json_object_get(j, "StreamDescriptionSummary"), "StreamStatus"));
        snprintf(status, n, "%s", s ? s : "?");
        json_decref(j);
    }
    cdc_buf_free(&out);
    return rc;
}

int
kin_stream_ensure(kinesis *k, kin_stream *st, cdc_err *err)
{
    char       status[32], what[400];
    kin_answer a;
    int64_t    deadline = 0;
    bool       created = false;
    int        shards = st->dlq ? k->dlq_shard_count : k->shard_count;

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
                snprintf(what, sizeof(what), "stream %s is missing and creating it (%d "
                         "shards, kinesis:CreateStream) failed", st->name, shards);
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
