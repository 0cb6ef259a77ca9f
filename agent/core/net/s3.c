/*
 * The S3 client (see s3.h): one signed request at a time on one transfer,
 * tried again by the retry rule.  This file holds the client, its URLs and
 * that request; s3_int.h lists the others.
 */
#include "agent/core/net/s3.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_mem.h"
#include "agent/core/net/aws_sigv4.h"
#include "agent/core/net/s3_int.h"


#define S3_GET_MAX_DEFAULT ((size_t) 256 << 20)
#define S3_TIMEOUT_DEFAULT 60000

/* ---- client ---------------------------------------------------------------------- */

static bool
is_aws_host(const char *endpoint)
{
    const char *h = strstr(endpoint, "://");
    size_t      hl;

    h = h ? h + 3 : endpoint;
    hl = strcspn(h, ":/");
    return (hl >= 14 && strncmp(h + hl - 14, ".amazonaws.com", 14) == 0) ||
           (hl >= 17 && strncmp(h + hl - 17, ".amazonaws.com.cn", 17) == 0);
}

static char *
opt_dup(const char *s)
{
    return s && *s ? cdc_xstrdup(s) : NULL;
}

cdc_s3 *
cdc_s3_new(const cdc_s3_conf *c, cdc_err *err)
{
    cdc_s3 *s;
    bool    have_id = c->access_key_id && *c->access_key_id;
    bool    have_secret = c->secret_access_key && *c->secret_access_key;

    if (have_id != have_secret) {
        cdc_err_set(err, CDC_E_CONFIG, "s3: %s is set without %s",
                    have_id ? "s3_access_key_id" : "s3_secret_access_key",
                    have_id ? "s3_secret_access_key" : "s3_access_key_id");
        return NULL;
    }
    if (!have_id && c->provider == NULL) {
        cdc_err_set(err, CDC_E_INVAL, "s3: neither keys nor a credential provider");
        return NULL;
    }
    s = cdc_xcalloc(1, sizeof(*s));
    s->provider = c->provider;
    if (c->endpoint && *c->endpoint) {
        size_t l = strlen(c->endpoint);

        while (l > 0 && c->endpoint[l - 1] == '/')
            l--;
        s->endpoint = cdc_xstrndup(c->endpoint, l);
    } else {
        s->endpoint = cdc_aws_endpoint(c->provider, "s3", err);
        if (s->endpoint == NULL) {
            cdc_err_wrap(err, "s3 (set s3_endpoint or a region)");
            cdc_s3_free(s);
            return NULL;
        }
    }
    if (strncmp(s->endpoint, "http://", 7) != 0 && strncmp(s->endpoint, "https://", 8) != 0) {
        char *l = cdc_http_url_label(s->endpoint);

        cdc_err_set(err, CDC_E_CONFIG, "s3 endpoint %s: not an http:// or https:// URL", l);
        free(l);
        cdc_s3_free(s);
        return NULL;
    }
    s->label = cdc_http_url_label(s->endpoint);
    if (c->region && *c->region)
        s->region = cdc_xstrdup(c->region);
    else if (c->provider && *cdc_aws_provider_region(c->provider))
        s->region = cdc_xstrdup(cdc_aws_provider_region(c->provider));
    else if (!is_aws_host(s->endpoint))
        s->region = cdc_xstrdup("us-east-1");     /* what MinIO and moto expect by default */
    else {
        cdc_err_set(err, CDC_E_CONFIG, "s3 at %s: no region (set s3_region or AWS_REGION)",
                    s->label);
        cdc_s3_free(s);
        return NULL;
    }
    s->akid = opt_dup(c->access_key_id);
    s->secret = opt_dup(c->secret_access_key);
    s->token = opt_dup(c->session_token);
    s->path_style = c->path_style > 0 || (c->path_style == 0 && !is_aws_host(s->endpoint));
    s->timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : S3_TIMEOUT_DEFAULT;
    s->tls = c->tls;
    s->part_size = c->part_size >= CDC_S3_MIN_PART ? c->part_size : CDC_S3_DEFAULT_PART;
    s->threshold = c->multipart_threshold > 0 ? c->multipart_threshold : s->part_size;
    s->retry = c->retry;
    s->retry.jitter = true;
    s->rng = cdc_rng_seed();
    s->x = cdc_http_xfer_new(err);
    if (s->x == NULL) {
        cdc_s3_free(s);
        return NULL;
    }
    return s;
}

static void
wipe_free(char *p)
{
    if (p) {
        explicit_bzero(p, strlen(p));
        free(p);
    }
}

void
cdc_s3_free(cdc_s3 *s)
{
    if (s == NULL)
        return;
    cdc_http_xfer_free(s->x);
    free(s->endpoint);
    free(s->region);
    free(s->label);
    free(s->akid);
    wipe_free(s->secret);
    wipe_free(s->token);
    cdc_buf_free(&s->hdrs);
    cdc_buf_free(&s->ans);
    free(s);
}

const char *
cdc_s3_endpoint(const cdc_s3 *s)
{
    return s->endpoint;
}

const char *
cdc_s3_region(const cdc_s3 *s)
{
    return s->region;
}

bool
cdc_s3_path_style(const cdc_s3 *s)
{
    return s->path_style;
}

/* The URL of bucket/key plus "?query" when query is not NULL. */
static char *
s3_url(const cdc_s3 *s, const char *bucket, const char *key, const char *query)
{
    cdc_buf b = CDC_BUF_INIT;

    if (s->path_style || strchr(bucket, '.')) {
        cdc_buf_puts(&b, s->endpoint);
        cdc_buf_putc(&b, '/');
        cdc_aws_uri_encode(&b, bucket, strlen(bucket), false);
        if (*key)                   /* the bucket itself: "/bucket", as botocore sends it */
            cdc_buf_putc(&b, '/');
    } else {
        const char *host = strstr(s->endpoint, "://") + 3;

        cdc_buf_put(&b, s->endpoint, (size_t) (host - s->endpoint));
        cdc_buf_puts(&b, bucket);
        cdc_buf_putc(&b, '.');
        cdc_buf_puts(&b, host);
        cdc_buf_putc(&b, '/');
    }
    cdc_aws_uri_encode(&b, key, strlen(key), true);
    if (query) {
        cdc_buf_putc(&b, '?');
        cdc_buf_puts(&b, query);
    }
    if (cdc_buf_failed(&b)) {
        free(b.data);
        return NULL;
    }
    cdc_buf_putc(&b, '\0');
    return (char *) b.data;
}

char *
cdc_s3_url(const cdc_s3 *s, const char *bucket, const char *key)
{
    return s3_url(s, bucket, key, NULL);
}

void
cdc_s3_sleep(cdc_s3 *s, int attempt, int64_t retry_after_s)
{
    int64_t ms = cdc_retry_delay_ms(&s->retry, attempt, &s->rng);

    if (retry_after_s > 0 && retry_after_s * 1000 > ms)
        ms = retry_after_s * 1000 < 60000 ? retry_after_s * 1000 : 60000;
    cdc_sleep_ms(ms);
}

static int
s3_key(cdc_s3 *s, cdc_aws_key *k, cdc_err *err)
{
    if (s->akid) {
        k->access_key_id = s->akid;
        k->secret_access_key = s->secret;
        k->session_token = s->token;
        return 0;
    }
    return cdc_aws_provider_get(s->provider, k, err);
}

/*
 * Runs c; @returns 0 on a 2xx (c->out, or s->ans, holds the body), -1 with err and
 * c->status / c->code describing the last attempt.
 */
int
cdc_s3_do(cdc_s3 *s, s3_call *c, cdc_err *err)
{
    int      attempts = s->retry.max_attempts > 0 ? s->retry.max_attempts : 5;
    cdc_buf *out = c->out ? c->out : &s->ans;
    size_t   start;

    if (c->out == NULL)
        cdc_buf_reset(&s->ans);
    start = out->len;
    char    *url = s3_url(s, c->bucket, c->key ? c->key : "", c->query);

    if (url == NULL)
        return cdc_err_set(err, CDC_E_NOMEM, "s3 %s: out of memory", c->op);
    for (int attempt = 1;; attempt++) {
        cdc_sigv4_hdr   h[2];
        size_t          nh = 0;
        cdc_aws_key     k = { 0 };
        cdc_http_hdrs  *lines;
        cdc_http_resp   resp;
        cdc_err         e2 = { 0 };
        char            msg[320], why[400];
        bool            retry;
        cdc_rc          rc;

        c->status = 0;
        c->code[0] = '\0';
        /* A body always says what it is: libcurl would call it a form otherwise
           (application/x-www-form-urlencoded), and a server may parse it as one. */
        if (c->content_type || c->body)
            h[nh++] = (cdc_sigv4_hdr) { "Content-Type", c->content_type
                                                             ? c->content_type
                                                             : "application/octet-stream" };
        if (c->range)
            h[nh++] = (cdc_sigv4_hdr) { "Range", c->range };
        if (s3_key(s, &k, &e2) < 0) {
            if (cdc_rc_retriable(e2.code) && attempt < attempts) {
                cdc_s3_sleep(s, attempt, 0);
                continue;
            }
            free(url);
            *err = e2;
            return cdc_err_wrap(err, "s3 %s s3://%s/%s: credentials", c->op, c->bucket,
                                c->key ? c->key : "");
        }
        {
            cdc_sigv4_req r = { .method = c->method, .url = url, .hdrs = h, .n_hdrs = nh,
                                .body = c->body, .body_len = c->body_len, .region = s->region,
                                .service = "s3", .sign_body = true, .s3 = true };

            lines = cdc_sigv4_hdrs(&r, &k, &e2);
        }
        if (lines)
            lines = cdc_http_hdrs_add(lines, "Expect:");   /* no 100-continue round trip */
        if (lines == NULL) {
            free(url);
            *err = e2;
            return cdc_err_wrap(err, "s3 %s s3://%s/%s", c->op, c->bucket, c->key ? c->key : "");
        }
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        {
            cdc_http_req req = { .url = url, .method = c->method, .hdrs = lines,
                                 .body = c->body, .body_len = c->body_len,
                                 .timeout_ms = s->timeout_ms, .tls = s->tls,
                                 .body_out = out,
                                 .body_max = start + (c->out_max ? c->out_max
                                                                 : S3_GET_MAX_DEFAULT),
                                 .hdrs_out = &s->hdrs, .no_body = c->head };

            if (cdc_http_perform(s->x, &req, &resp, &e2) < 0) {
                cdc_http_hdrs_free(lines);
                free(url);
                *err = e2;
                return cdc_err_wrap(err, "s3 %s s3://%s/%s", c->op, c->bucket,
                                    c->key ? c->key : "");
            }
        }
        cdc_http_hdrs_free(lines);
        c->status = resp.answered ? resp.status : 0;
        msg[0] = '\0';
        if (resp.answered) {
            const char *body = out->data ? (const char *) out->data + start : "";
            size_t      blen = out->len - start;

            if (resp.status >= 200 && resp.status < 300) {
                /* CompleteMultipartUpload may answer 200 with an <Error> (S3 docs). */
                if (!(c->query && strncmp(c->query, "uploadId=", 9) == 0 &&
                      strcmp(c->method, "POST") == 0 &&
                      cdc_s3_xml_error(body, blen, c->code, sizeof(c->code), msg,
                                       sizeof(msg)))) {
                    free(url);
                    return 0;
                }
            } else if (!cdc_s3_xml_error(body, blen, c->code, sizeof(c->code), msg,
                                         sizeof(msg))) {
                /* HEAD has no body; some proxies answer HTML */
                if (resp.status == 404)
                    snprintf(c->code, sizeof(c->code), "NotFound");
                else if (resp.status == 403)
                    snprintf(c->code, sizeof(c->code), "Forbidden");
                cdc_http_resp_line(&resp, msg, sizeof(msg) > 120 ? 120 : sizeof(msg));
            }
            retry = cdc_http_classify(&resp) == CDC_HTTP_RETRY ||
                    cdc_s3_code_retryable(c->code);
            snprintf(why, sizeof(why), "HTTP %ld%s%s%s%s", resp.status, c->code[0] ? " " : "",
                     c->code, msg[0] ? ": " : "", msg);
        } else {
            retry = !resp.broken_setup;
            snprintf(why, sizeof(why), "%s", resp.error);
        }
        if (retry && attempt < attempts) {
            cdc_s3_sleep(s, attempt, resp.retry_after_s);
            continue;
        }
        free(url);
        out->len = start;           /* the caller's buffer keeps no error body */
        if (out->data)
            out->data[start] = '\0';
        if (!resp.answered)
            rc = resp.broken_setup ? CDC_E_CONFIG : resp.timed_out ? CDC_E_TIMEOUT : CDC_E_CONN;
        else if (strcmp(c->code, "SlowDown") == 0 || resp.status == 429)
            rc = CDC_E_QUEUE_FULL;
        else if (retry)
            rc = CDC_E_CONN;
        else if (cdc_s3_code_is_config(c->code) || resp.status == 403)
            rc = CDC_E_CONFIG;
        else
            rc = CDC_E_DEST;
        return cdc_err_set(err, rc, "s3 %s s3://%s/%s at %s: %s%s", c->op, c->bucket,
                           c->key ? c->key : "", s->label, why,
                           retry && attempts > 1 ? " (gave up after retries)" : "");
    }
}

int
cdc_s3_create_bucket(cdc_s3 *s, const char *bucket, cdc_err *err)
{
    cdc_buf     body = CDC_BUF_INIT;
    s3_call     c = { .op = "CreateBucket", .method = "PUT", .bucket = bucket, .key = "" };
    int         rc;

    /* Outside us-east-1 the region is named in the body. */
    if (strcmp(s->region, "us-east-1") != 0)
        cdc_buf_printf(&body, "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/"
                              "2006-03-01/\"><LocationConstraint>%s</LocationConstraint>"
                              "</CreateBucketConfiguration>", s->region);
    c.body = body.data ? (const void *) body.data : "";
    c.body_len = body.len;
    rc = cdc_s3_do(s, &c, err);
    if (rc < 0 && strcmp(c.code, "BucketAlreadyOwnedByYou") == 0) {
        cdc_err_clear(err);
        rc = 0;
    }
    cdc_buf_free(&body);
    return rc;
}

int
cdc_s3_put_object(cdc_s3 *s, const char *bucket, const char *key, const void *data, size_t len,
                  const char *ctype, cdc_err *err)
{
    s3_call c = { .op = "PutObject", .method = "PUT", .bucket = bucket, .key = key,
                  .body = data ? data : "", .body_len = len,
                  .content_type = ctype ? ctype : "application/octet-stream" };

    return cdc_s3_do(s, &c, err);
}
