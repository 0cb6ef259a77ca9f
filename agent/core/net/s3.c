/*
 * The S3 client (see s3.h): one signed request at a time on one transfer,
 * tried again by the retry rule, with S3's XML answers read by the small
 * scanner at the top of this file.
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

#define S3_GET_MAX_DEFAULT ((size_t) 256 << 20)
#define S3_TIMEOUT_DEFAULT 60000

struct cdc_s3 {
    cdc_aws_provider *provider;
    char             *endpoint;
    char             *region;
    char             *label;        /* the endpoint for messages (no credentials) */
    char             *akid;         /* explicit keys, or NULL */
    char             *secret;
    char             *token;
    bool              path_style;
    int               timeout_ms;
    const cdc_http_tls *tls;
    size_t            part_size;
    size_t            threshold;
    cdc_retry_conf    retry;
    uint64_t          rng;
    cdc_http_xfer    *x;
    cdc_buf           hdrs;         /* response headers of the last request */
    cdc_buf           ans;          /* response body when the caller keeps none */
};

/* ---- XML ------------------------------------------------------------------------- */

/* Offset of needle in hay[from..n), or n. */
static size_t
find(const char *hay, size_t n, size_t from, const char *needle)
{
    size_t l = strlen(needle);

    for (size_t i = from; i + l <= n; i++)
        if (hay[i] == needle[0] && memcmp(hay + i, needle, l) == 0)
            return i;
    return n;
}

bool
cdc_s3_xml_elem(const char *xml, size_t n, size_t from, const char *name, size_t *b,
                size_t *e)
{
    size_t nl = strlen(name);
    char   close[80];

    if (nl == 0 || nl + 4 > sizeof(close))
        return false;
    snprintf(close, sizeof(close), "</%s>", name);
    for (size_t i = from; i < n; i++) {
        size_t at = find(xml, n, i, "<"), gt;

        if (at + 1 + nl > n)
            return false;
        i = at;
        if (memcmp(xml + at + 1, name, nl) != 0)
            continue;
        /* "<Name>", "<Name attr=...>" or "<Name/>"; not "<NameOther>" */
        gt = at + 1 + nl;
        if (gt >= n)
            return false;
        if (xml[gt] != '>' && xml[gt] != ' ' && xml[gt] != '/' && xml[gt] != '\t' &&
            xml[gt] != '\r' && xml[gt] != '\n')
            continue;
        gt = find(xml, n, gt, ">");
        if (gt == n)
            return false;
        if (xml[gt - 1] == '/') {       /* empty element */
            *b = *e = gt + 1;
            return true;
        }
        *b = gt + 1;
        *e = find(xml, n, *b, close);
        return *e < n;
    }
    return false;
}

/* Appends xml[b..e) with entities and character references decoded into out (cut). */
static void
xml_decode(const char *s, size_t len, char *out, size_t out_n)
{
    size_t o = 0;

    if (out_n == 0)
        return;
    for (size_t i = 0; i < len && o + 1 < out_n;) {
        char   c = s[i];
        size_t semi;

        if (c != '&') {
            out[o++] = c;
            i++;
            continue;
        }
        semi = i + 1;
        while (semi < len && semi - i < 12 && s[semi] != ';')
            semi++;
        if (semi >= len || s[semi] != ';') {
            out[o++] = c;
            i++;
            continue;
        }
        {
            const char   *ent = s + i + 1;
            size_t        el = semi - i - 1;
            unsigned long cp = 0;
            bool          ok = true;

            if (el == 3 && memcmp(ent, "amp", 3) == 0)
                cp = '&';
            else if (el == 2 && memcmp(ent, "lt", 2) == 0)
                cp = '<';
            else if (el == 2 && memcmp(ent, "gt", 2) == 0)
                cp = '>';
            else if (el == 4 && memcmp(ent, "quot", 4) == 0)
                cp = '"';
            else if (el == 4 && memcmp(ent, "apos", 4) == 0)
                cp = '\'';
            else if (el >= 2 && ent[0] == '#') {
                bool hex = ent[1] == 'x' || ent[1] == 'X';

                for (size_t k = hex ? 2 : 1; k < el && ok; k++) {
                    int d = hex ? cdc_hexval(ent[k]) : (ent[k] >= '0' && ent[k] <= '9'
                                                        ? ent[k] - '0' : -1);

                    if (d < 0 || cp > 0x10FFFF)
                        ok = false;
                    else
                        cp = cp * (hex ? 16 : 10) + (unsigned long) d;
                }
                if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                    ok = false;
            } else
                ok = false;
            if (!ok) {
                out[o++] = c;
                i++;
                continue;
            }
            /* UTF-8 */
            if (cp < 0x80) {
                out[o++] = (char) cp;
            } else {
                unsigned char u[4];
                size_t        k;

                if (cp < 0x800) {
                    u[0] = (unsigned char) (0xC0 | (cp >> 6));
                    u[1] = (unsigned char) (0x80 | (cp & 0x3F));
                    k = 2;
                } else if (cp < 0x10000) {
                    u[0] = (unsigned char) (0xE0 | (cp >> 12));
                    u[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
                    u[2] = (unsigned char) (0x80 | (cp & 0x3F));
                    k = 3;
                } else {
                    u[0] = (unsigned char) (0xF0 | (cp >> 18));
                    u[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3F));
                    u[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
                    u[3] = (unsigned char) (0x80 | (cp & 0x3F));
                    k = 4;
                }
                if (o + k >= out_n)
                    break;
                memcpy(out + o, u, k);
                o += k;
            }
            i = semi + 1;
        }
    }
    out[o] = '\0';
}

bool
cdc_s3_xml_text(const char *xml, size_t n, const char *name, char *out, size_t out_n,
                size_t *next)
{
    size_t b, e;

    if (out_n > 0)
        out[0] = '\0';
    if (xml == NULL || !cdc_s3_xml_elem(xml, n, 0, name, &b, &e))
        return false;
    xml_decode(xml + b, e - b, out, out_n);
    if (next)
        *next = e + strlen(name) + 3;
    return true;
}

bool
cdc_s3_xml_error(const char *xml, size_t n, char *code, size_t code_n, char *msg,
                 size_t msg_n)
{
    size_t b, e;

    if (code_n > 0)
        code[0] = '\0';
    if (msg_n > 0)
        msg[0] = '\0';
    if (xml == NULL || !cdc_s3_xml_elem(xml, n, 0, "Error", &b, &e))
        return false;
    if (!cdc_s3_xml_text(xml + b, e - b, "Code", code, code_n, NULL))
        return false;
    cdc_s3_xml_text(xml + b, e - b, "Message", msg, msg_n, NULL);
    for (char *p = msg; *p; p++)        /* one line */
        if (*p == '\r' || *p == '\n' || *p == '\t')
            *p = ' ';
    return true;
}

/* Whether code is one of the NULL-terminated codes. */
static bool
in_list(const char *code, const char *const *codes)
{
    for (int i = 0; codes[i]; i++)
        if (strcmp(code, codes[i]) == 0)
            return true;
    return false;
}

bool
cdc_s3_code_retryable(const char *code)
{
    static const char *const codes[] = {
        "SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout",
        "ExpiredToken", "RequestTimeTooSkewed", "OperationAborted", "Throttling",
        "ThrottlingException", "RequestThrottled", NULL,
    };

    return in_list(code, codes);
}

/* Codes that a user fixes in the configuration or the bucket's permissions. */
static bool
code_is_config(const char *code)
{
    static const char *const codes[] = {
        "SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied", "NoSuchBucket",
        "InvalidBucketName", "AuthorizationHeaderMalformed", "InvalidToken",
        "InvalidClientTokenId", "ExpiredToken", "AllAccessDisabled", "AccountProblem",
        "PermanentRedirect", "IllegalLocationConstraintException", NULL,
    };

    return in_list(code, codes);
}

bool
cdc_s3_parse_uri(const char *uri, char *bucket, size_t bucket_n, const char **key,
                 cdc_err *err)
{
    const char *b, *slash;
    size_t      bl;

    if (uri == NULL || strncmp(uri, "s3://", 5) != 0) {
        cdc_err_set(err, CDC_E_CONFIG, "%s: not an s3:// URI", uri ? uri : "(null)");
        return false;
    }
    b = uri + 5;
    slash = strchr(b, '/');
    bl = slash ? (size_t) (slash - b) : strlen(b);
    if (bl < 3 || bl > 63) {
        cdc_err_set(err, CDC_E_CONFIG, "%s: a bucket name has 3 to 63 characters", uri);
        return false;
    }
    for (size_t i = 0; i < bl; i++) {
        char c = b[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
              c == '_' || (c >= 'A' && c <= 'Z'))) {
            cdc_err_set(err, CDC_E_CONFIG,
                        "%s: bucket name holds '%c' (letters, digits, '-', '.' only)", uri, c);
            return false;
        }
    }
    if (bl + 1 > bucket_n) {
        cdc_err_set(err, CDC_E_CONFIG, "%s: bucket name too long", uri);
        return false;
    }
    memcpy(bucket, b, bl);
    bucket[bl] = '\0';
    *key = slash ? slash + 1 : b + bl;
    for (const char *p = *key; *p; p++)
        if ((unsigned char) *p < 0x20 || *p == 0x7f) {
            cdc_err_set(err, CDC_E_CONFIG, "%s: key holds a control character", uri);
            return false;
        }
    return true;
}

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

/* One S3 operation, tried by the retry rule. */
typedef struct s3_call {
    const char *op;           /* "PutObject", for messages */
    const char *method;
    const char *bucket;
    const char *key;
    const char *query;        /* encoded, without '?'; NULL: none */
    const void *body;         /* NULL: none (GET, HEAD, DELETE) */
    size_t      body_len;
    const char *content_type; /* NULL: none */
    const char *range;        /* "bytes=a-b"; NULL: none */
    bool        head;
    cdc_buf    *out;          /* NULL: s->ans */
    size_t      out_max;
    /* outcome */
    long        status;
    char        code[64];
} s3_call;

static void
s3_sleep(cdc_s3 *s, int attempt, int64_t retry_after_s)
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
static int
s3_do(cdc_s3 *s, s3_call *c, cdc_err *err)
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
                s3_sleep(s, attempt, 0);
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
            s3_sleep(s, attempt, resp.retry_after_s);
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
        else if (code_is_config(c->code) || resp.status == 403)
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
    rc = s3_do(s, &c, err);
    if (rc < 0 && strcmp(c.code, "BucketAlreadyOwnedByYou") == 0) {
        cdc_err_clear(err);
        rc = 0;
    }
    cdc_buf_free(&body);
    return rc;
}

static int
s3_put_object(cdc_s3 *s, const char *bucket, const char *key, const void *data, size_t len,
              const char *ctype, cdc_err *err)
{
    s3_call c = { .op = "PutObject", .method = "PUT", .bucket = bucket, .key = key,
                  .body = data ? data : "", .body_len = len,
                  .content_type = ctype ? ctype : "application/octet-stream" };

    return s3_do(s, &c, err);
}

/* ---- multipart ------------------------------------------------------------------- */

typedef struct mp_upload {
    char   *id;             /* UploadId */
    char   *qid;            /* "uploadId=<encoded>" */
    char  (*etags)[80];
    size_t  n_parts;
} mp_upload;

static void
mp_free(mp_upload *u)
{
    free(u->id);
    free(u->qid);
    free(u->etags);
    memset(u, 0, sizeof(*u));
}

static int
mp_create(cdc_s3 *s, const char *bucket, const char *key, const char *ctype, mp_upload *u,
          cdc_err *err)
{
    s3_call c = { .op = "CreateMultipartUpload", .method = "POST", .bucket = bucket,
                  .key = key, .query = "uploads", .body = "", .body_len = 0,
                  .content_type = ctype ? ctype : "application/octet-stream" };
    char    id[1024];
    cdc_buf q = CDC_BUF_INIT;

    if (s3_do(s, &c, err) < 0)
        return -1;
    if (!cdc_s3_xml_text((const char *) s->ans.data, s->ans.len, "UploadId", id, sizeof(id),
                         NULL) || id[0] == '\0')
        return cdc_err_set(err, CDC_E_DEST,
                           "s3 CreateMultipartUpload s3://%s/%s at %s: no UploadId in the "
                           "answer", bucket, key, s->label);
    u->id = cdc_xstrdup(id);
    cdc_buf_puts(&q, "uploadId=");
    cdc_aws_uri_encode(&q, id, strlen(id), false);
    if (cdc_buf_failed(&q))
        return cdc_err_set(err, CDC_E_NOMEM, "s3: out of memory");
    u->qid = (char *) q.data;
    return 0;
}

static void
mp_abort(cdc_s3 *s, const char *bucket, const char *key, const mp_upload *u, cdc_err *err)
{
    s3_call c = { .op = "AbortMultipartUpload", .method = "DELETE", .bucket = bucket,
                  .key = key, .query = u->qid };
    cdc_err e2 = { 0 };

    char    first[sizeof(err->msg)];

    if (s3_do(s, &c, &e2) < 0 && strcmp(c.code, "NoSuchUpload") != 0 && err) {
        snprintf(first, sizeof(first), "%s", err->msg);
        cdc_err_set(err, err->code, "%s; AbortMultipartUpload failed too, the parts stay "
                    "until a lifecycle rule removes them: %s", first, e2.msg);
    }
}

/* What an upload reads its bytes from: memory, or a file read part by part. */
typedef struct s3_src {
    const uint8_t *data;     /* NULL: fd */
    int            fd;
    const char    *name;     /* the file, for messages */
    size_t         len;
    uint8_t       *buf;      /* fd: one part */
    size_t         cap;
} s3_src;

/* Points *p at the bytes [off, off+n) of src.  @returns 0, or -1 with err. */
static int
src_get(s3_src *src, size_t off, size_t n, const void **p, cdc_err *err)
{
    size_t done = 0;

    if (src->data || n == 0) {
        *p = src->data ? (const void *) (src->data + off) : "";
        return 0;
    }
    if (n > src->cap) {
        free(src->buf);
        src->buf = cdc_xmalloc(n);
        src->cap = n;
    }
    while (done < n) {
        ssize_t r = pread(src->fd, src->buf + done, n - done, (off_t) (off + done));

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return cdc_err_set(err, CDC_E_IO, "s3: reading %s at %zu: %s", src->name,
                               off + done, r < 0 ? strerror(errno) : "the file is shorter "
                               "than when the upload began");
        done += (size_t) r;
    }
    *p = src->buf;
    return 0;
}

/*
 * One whole multipart upload.  @returns 0, or -1 with err; *gone set when the
 * server no longer knows the upload (worth starting over).
 */
static int
mp_once(cdc_s3 *s, const char *bucket, const char *key, s3_src *src, size_t part,
        const char *ctype, bool *gone, cdc_err *err)
{
    size_t    len = src->len;
    mp_upload u = { 0 };
    cdc_buf   xml = CDC_BUF_INIT;
    int       rc = -1;

    *gone = false;
    if (mp_create(s, bucket, key, ctype, &u, err) < 0)
        goto out;
    u.n_parts = len == 0 ? 1 : (len + part - 1) / part;
    u.etags = cdc_xcalloc(u.n_parts, sizeof(*u.etags));
    for (size_t i = 0; i < u.n_parts; i++) {
        size_t  off = i * part, n = len - off < part ? len - off : part;
        char    q[1200];
        s3_call c = { .op = "UploadPart", .method = "PUT", .bucket = bucket, .key = key,
                      .query = q, .body_len = n };

        if (src_get(src, off, n, &c.body, err) < 0)
            goto abort;

        /* sorted as SigV4 wants it does not matter: the signer sorts */
        snprintf(q, sizeof(q), "partNumber=%zu&%s", i + 1, u.qid);
        if (s3_do(s, &c, err) < 0) {
            /* NoSuchUpload: the server lost the upload (S3's answer).  A part that still
               fails after the retry rule may have met the same (moto 5.2.6 answers 500 to
               a part of an upload it lost in a restart): both start over. */
            *gone = strcmp(c.code, "NoSuchUpload") == 0 || cdc_rc_retriable(err->code);
            cdc_err_wrap(err, "part %zu of %zu", i + 1, u.n_parts);
            goto abort;
        }
        if (!cdc_http_hdr_value(cdc_buf_str(&s->hdrs), "ETag", u.etags[i],
                                sizeof(u.etags[i])) || u.etags[i][0] == '\0') {
            cdc_err_set(err, CDC_E_DEST, "s3 UploadPart s3://%s/%s at %s: part %zu: no ETag "
                        "in the answer", bucket, key, s->label, i + 1);
            goto abort;
        }
    }
    cdc_buf_puts(&xml, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/"
                       "2006-03-01/\">");
    for (size_t i = 0; i < u.n_parts; i++) {
        cdc_buf_printf(&xml, "<Part><PartNumber>%zu</PartNumber><ETag>", i + 1);
        for (const char *p = u.etags[i]; *p; p++)
            if (*p == '"')
                cdc_buf_puts(&xml, "&quot;");
            else if (*p == '&')
                cdc_buf_puts(&xml, "&amp;");
            else if (*p == '<')
                cdc_buf_puts(&xml, "&lt;");
            else
                cdc_buf_putc(&xml, *p);
        cdc_buf_puts(&xml, "</ETag></Part>");
    }
    cdc_buf_puts(&xml, "</CompleteMultipartUpload>");
    if (cdc_buf_failed(&xml)) {
        cdc_err_set(err, CDC_E_NOMEM, "s3: out of memory");
        goto abort;
    }
    {
        s3_call c = { .op = "CompleteMultipartUpload", .method = "POST", .bucket = bucket,
                      .key = key, .query = u.qid, .body = xml.data, .body_len = xml.len,
                      .content_type = "application/xml" };

        if (s3_do(s, &c, err) < 0) {
            *gone = strcmp(c.code, "NoSuchUpload") == 0;
            goto abort;
        }
    }
    rc = 0;
    goto out;
abort:
    mp_abort(s, bucket, key, &u, err);
out:
    cdc_buf_free(&xml);
    mp_free(&u);
    return rc;
}

static int
put_multipart(cdc_s3 *s, const char *bucket, const char *key, s3_src *src,
              const char *content_type, cdc_err *err)
{
    size_t len = src->len;
    size_t part = s->part_size;
    int    rounds = s->retry.max_attempts > 0 ? s->retry.max_attempts : 5;

    if (len / part >= CDC_S3_MAX_PARTS) {
        /* Larger parts, in whole MiB, so that the object fits in 10,000. */
        part = (len / (CDC_S3_MAX_PARTS - 1) + (1u << 20)) & ~(((size_t) 1 << 20) - 1);
    }
    for (int round = 1;; round++) {
        bool gone = false;

        if (mp_once(s, bucket, key, src, part, content_type, &gone, err) == 0)
            return 0;
        if (!gone || round >= rounds)
            return -1;
        /* The server lost the upload (restarted, or the upload expired): start over. */
        s3_sleep(s, round, 0);
    }
}

int
cdc_s3_put_multipart(cdc_s3 *s, const char *bucket, const char *key, const void *data,
                     size_t len, const char *content_type, cdc_err *err)
{
    s3_src src = { .data = data ? data : (const uint8_t *) "", .len = len };

    return put_multipart(s, bucket, key, &src, content_type, err);
}

int
cdc_s3_put(cdc_s3 *s, const char *bucket, const char *key, const void *data, size_t len,
           const char *content_type, cdc_err *err)
{
    if (len >= s->threshold)
        return cdc_s3_put_multipart(s, bucket, key, data, len, content_type, err);
    return s3_put_object(s, bucket, key, data, len, content_type, err);
}

int
cdc_s3_put_file(cdc_s3 *s, const char *bucket, const char *key, const char *path,
                const char *content_type, cdc_err *err)
{
    s3_src      src = { .fd = -1, .name = path };
    struct stat sb;
    int         rc;

    src.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (src.fd < 0)
        return cdc_err_set(err, CDC_E_IO, "s3 PutObject s3://%s/%s: open %s: %s", bucket, key,
                           path, strerror(errno));
    if (fstat(src.fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        close(src.fd);
        return cdc_err_set(err, CDC_E_IO, "s3 PutObject s3://%s/%s: %s is not a regular file",
                           bucket, key, path);
    }
    src.len = (size_t) sb.st_size;
    if (src.len >= s->threshold)
        rc = put_multipart(s, bucket, key, &src, content_type, err);
    else {
        const void *p;

        rc = src_get(&src, 0, src.len, &p, err);
        if (rc == 0)
            rc = s3_put_object(s, bucket, key, p, src.len, content_type, err);
        else
            cdc_err_wrap(err, "s3 PutObject s3://%s/%s", bucket, key);
    }
    close(src.fd);
    free(src.buf);
    return rc;
}

/* ---- reading ---------------------------------------------------------------------- */

static bool
not_found(const s3_call *c)
{
    return c->status == 404 && (strcmp(c->code, "NoSuchKey") == 0 ||
                                strcmp(c->code, "NotFound") == 0);
}

int
cdc_s3_get(cdc_s3 *s, const char *bucket, const char *key, int64_t off, int64_t len,
           cdc_buf *out, size_t max, cdc_err *err)
{
    char    range[64];
    s3_call c = { .op = "GetObject", .method = "GET", .bucket = bucket, .key = key,
                  .out = out, .out_max = max };
    size_t  start = out->len;

    if (off < 0)
        return cdc_err_set(err, CDC_E_INVAL, "s3 GetObject s3://%s/%s: negative offset",
                           bucket, key);
    if (len == 0)
        return 0;
    if (len > 0) {
        snprintf(range, sizeof(range), "bytes=%lld-%lld", (long long) off,
                 (long long) (off + len - 1));
        c.range = range;
    } else if (off > 0) {
        snprintf(range, sizeof(range), "bytes=%lld-", (long long) off);
        c.range = range;
    }
    if (s3_do(s, &c, err) < 0) {
        if (not_found(&c))
            return 1;
        if (c.status == 416)     /* a range past the end: nothing there */
        {
            cdc_err_clear(err);
            return 0;
        }
        return -1;
    }
    if (c.range && c.status == 200) {
        /* A server that ignores Range sends the whole object: keep the asked part. */
        size_t got = out->len - start, a = (size_t) off < got ? (size_t) off : got;
        size_t n = len < 0 || (uint64_t) len > got - a ? got - a : (size_t) len;

        memmove(out->data + start, out->data + start + a, n);
        out->len = start + n;
        out->data[out->len] = '\0';
    }
    return 0;
}

int
cdc_s3_head_object(cdc_s3 *s, const char *bucket, const char *key, cdc_s3_head *h,
                   cdc_err *err)
{
    s3_call c = { .op = "HeadObject", .method = "HEAD", .bucket = bucket, .key = key,
                  .head = true };
    char    v[80];

    if (s3_do(s, &c, err) < 0) {
        if (not_found(&c)) {
            cdc_err_set(err, CDC_E_DEST, "s3://%s/%s: no such object", bucket, key);
            return 1;
        }
        if (c.status == 403 && strcmp(c.code, "Forbidden") == 0 && err) {
            char first[sizeof(err->msg)];

            snprintf(first, sizeof(first), "%s", err->msg);
            cdc_err_set(err, err->code, "%s (S3 also answers 403 to a HEAD of a missing key "
                        "when s3:ListBucket is not granted)", first);
        }
        return -1;
    }
    if (h) {
        memset(h, 0, sizeof(*h));
        h->size = -1;
        if (cdc_http_hdr_value(cdc_buf_str(&s->hdrs), "Content-Length", v, sizeof(v)))
            h->size = strtoll(v, NULL, 10);
        if (cdc_http_hdr_value(cdc_buf_str(&s->hdrs), "ETag", v, sizeof(v))) {
            size_t l = strlen(v);

            if (l >= 2 && v[0] == '"' && v[l - 1] == '"')
                snprintf(h->etag, sizeof(h->etag), "%.*s", (int) (l - 2), v + 1);
            else
                snprintf(h->etag, sizeof(h->etag), "%s", v);
        }
        cdc_http_hdr_value(cdc_buf_str(&s->hdrs), "Last-Modified", h->last_modified,
                           sizeof(h->last_modified));
    }
    return 0;
}

int
cdc_s3_delete(cdc_s3 *s, const char *bucket, const char *key, cdc_err *err)
{
    s3_call c = { .op = "DeleteObject", .method = "DELETE", .bucket = bucket, .key = key };

    if (s3_do(s, &c, err) < 0) {
        if (not_found(&c)) {
            cdc_err_clear(err);
            return 0;
        }
        return -1;
    }
    return 0;
}

/* One page of a listing: the GET of c with query q (freed here), its answer copied into
   page.  @returns 0 or -1 with err. */
static int
get_page(cdc_s3 *s, s3_call *c, cdc_buf *q, cdc_buf *page, cdc_err *err)
{
    int rc;

    if (cdc_buf_failed(q)) {
        cdc_buf_free(q);
        return cdc_err_set(err, CDC_E_NOMEM, "s3: out of memory");
    }
    c->query = (const char *) q->data;
    rc = s3_do(s, c, err);
    cdc_buf_free(q);
    c->query = NULL;
    if (rc < 0)
        return -1;
    cdc_buf_reset(page);
    cdc_buf_put(page, s->ans.data ? s->ans.data : (const uint8_t *) "", s->ans.len);
    if (cdc_buf_failed(page))
        return cdc_err_set(err, CDC_E_NOMEM, "s3: out of memory");
    return 0;
}

/* Appends name=<value, encoded>&amp to a query. */
static void
put_param(cdc_buf *q, const char *name, const char *value, bool amp)
{
    cdc_buf_puts(q, name);
    cdc_buf_putc(q, '=');
    cdc_aws_uri_encode(q, value, strlen(value), false);
    if (amp)
        cdc_buf_putc(q, '&');
}

/* err for a listing answer we cannot follow; -1. */
static int
list_bad(const cdc_s3 *s, const s3_call *c, const char *prefix, const char *what, cdc_err *err)
{
    return cdc_err_set(err, CDC_E_DEST, "s3 %s s3://%s/%s at %s: %s", c->op, c->bucket,
                       prefix ? prefix : "", s->label, what);
}

/*
 * The content of a listing page's root element: (*xml)[*at, *end); -1 with err when the
 * page has no such element.
 */
static int
list_root(const cdc_s3 *s, const s3_call *c, const char *prefix, const cdc_buf *page,
          const char *root, const char **xml, size_t *at, size_t *end, cdc_err *err)
{
    char what[128];

    *xml = (const char *) page->data;
    if (*xml != NULL && cdc_s3_xml_elem(*xml, page->len, 0, root, at, end))
        return 0;
    snprintf(what, sizeof(what), "no %s in the answer", root);
    return list_bad(s, c, prefix, what, err);
}

/* Whether a listing page (xml[0..n)) says more pages follow. */
static bool
list_truncated(const char *xml, size_t n)
{
    char flag[8];

    return cdc_s3_xml_text(xml, n, "IsTruncated", flag, sizeof(flag), NULL) &&
           strcmp(flag, "true") == 0;
}

int
cdc_s3_list(cdc_s3 *s, const char *bucket, const char *prefix, cdc_s3_list_fn *fn,
            void *arg, cdc_err *err)
{
    char   *token = NULL;
    cdc_buf page = CDC_BUF_INIT;
    int     rc = 0;

    for (;;) {
        cdc_buf     q = CDC_BUF_INIT;
        s3_call     c = { .op = "ListObjectsV2", .method = "GET", .bucket = bucket, .key = "" };
        const char *xml;
        size_t      n, at, b, e;
        char        next[1024];

        if (token)
            put_param(&q, "continuation-token", token, true);
        cdc_buf_puts(&q, "list-type=2");
        if (prefix && *prefix) {
            cdc_buf_putc(&q, '&');
            put_param(&q, "prefix", prefix, false);
        }
        /* A page of our own: fn may use the client (delete what it lists). */
        if ((rc = get_page(s, &c, &q, &page, err)) < 0 ||
            (rc = list_root(s, &c, prefix, &page, "ListBucketResult", &xml, &at, &n, err)) < 0)
            break;
        while (cdc_s3_xml_elem(xml, n, at, "Contents", &b, &e)) {
            char key[1100], size[32], etag[80];

            if (!cdc_s3_xml_text(xml + b, e - b, "Key", key, sizeof(key), NULL)) {
                rc = list_bad(s, &c, prefix, "an entry without a Key", err);
                break;
            }
            cdc_s3_xml_text(xml + b, e - b, "Size", size, sizeof(size), NULL);
            cdc_s3_xml_text(xml + b, e - b, "ETag", etag, sizeof(etag), NULL);
            {
                size_t l = strlen(etag);

                if (l >= 2 && etag[0] == '"' && etag[l - 1] == '"') {
                    memmove(etag, etag + 1, l - 2);
                    etag[l - 2] = '\0';
                }
            }
            rc = fn(arg, key, size[0] ? strtoll(size, NULL, 10) : -1, etag);
            if (rc != 0)
                break;
            at = e;
        }
        if (rc != 0)
            break;
        if (!list_truncated(xml, n))
            break;
        if (!cdc_s3_xml_text(xml, n, "NextContinuationToken", next, sizeof(next), NULL) ||
            next[0] == '\0') {
            rc = list_bad(s, &c, prefix, "truncated without a NextContinuationToken", err);
            break;
        }
        if (token && strcmp(token, next) == 0) {   /* a server that would loop us forever */
            rc = list_bad(s, &c, prefix, "the same continuation token twice", err);
            break;
        }
        free(token);
        token = cdc_xstrdup(next);
    }
    free(token);
    cdc_buf_free(&page);
    return rc;
}

int
cdc_s3_abort_upload(cdc_s3 *s, const char *bucket, const char *key, const char *upload_id,
                    cdc_err *err)
{
    cdc_buf q = CDC_BUF_INIT;
    s3_call c = { .op = "AbortMultipartUpload", .method = "DELETE", .bucket = bucket,
                  .key = key };
    int     rc;

    cdc_buf_puts(&q, "uploadId=");
    cdc_aws_uri_encode(&q, upload_id, strlen(upload_id), false);
    if (cdc_buf_failed(&q))
        return cdc_err_set(err, CDC_E_NOMEM, "s3: out of memory");
    c.query = (const char *) q.data;
    rc = s3_do(s, &c, err);
    if (rc < 0 && strcmp(c.code, "NoSuchUpload") == 0) {
        cdc_err_clear(err);
        rc = 0;
    }
    cdc_buf_free(&q);
    return rc;
}

int
cdc_s3_list_uploads(cdc_s3 *s, const char *bucket, const char *prefix, cdc_s3_upload_fn *fn,
                    void *arg, cdc_err *err)
{
    char   *kmark = NULL, *umark = NULL;
    cdc_buf page = CDC_BUF_INIT;
    int     rc = 0;

    for (int pages = 0;; pages++) {
        cdc_buf     q = CDC_BUF_INIT;
        s3_call     c = { .op = "ListMultipartUploads", .method = "GET", .bucket = bucket,
                          .key = "" };
        const char *xml;
        size_t      n, at, b, e;
        char        nk[1100], nu[1100];

        if (kmark)
            put_param(&q, "key-marker", kmark, true);
        if (prefix && *prefix)
            put_param(&q, "prefix", prefix, true);
        if (umark)
            put_param(&q, "upload-id-marker", umark, true);
        cdc_buf_puts(&q, "uploads");
        if ((rc = get_page(s, &c, &q, &page, err)) < 0 ||
            (rc = list_root(s, &c, prefix, &page, "ListMultipartUploadsResult", &xml, &at, &n,
                            err)) < 0)
            break;
        while (cdc_s3_xml_elem(xml, n, at, "Upload", &b, &e)) {
            char key[1100], id[1100], when[64];

            if (!cdc_s3_xml_text(xml + b, e - b, "Key", key, sizeof(key), NULL) ||
                !cdc_s3_xml_text(xml + b, e - b, "UploadId", id, sizeof(id), NULL)) {
                rc = list_bad(s, &c, prefix, "an upload without Key or UploadId", err);
                break;
            }
            cdc_s3_xml_text(xml + b, e - b, "Initiated", when, sizeof(when), NULL);
            rc = fn(arg, key, id, when);
            if (rc != 0)
                break;
            at = e;
        }
        if (rc != 0)
            break;
        if (!list_truncated(xml, n))
            break;
        cdc_s3_xml_text(xml, n, "NextKeyMarker", nk, sizeof(nk), NULL);
        cdc_s3_xml_text(xml, n, "NextUploadIdMarker", nu, sizeof(nu), NULL);
        if (nk[0] == '\0' || pages > 100000 ||
            (kmark && strcmp(kmark, nk) == 0 && umark && strcmp(umark, nu) == 0)) {
            rc = list_bad(s, &c, prefix, "truncated without a new marker", err);
            break;
        }
        free(kmark);
        free(umark);
        kmark = cdc_xstrdup(nk);
        umark = nu[0] ? cdc_xstrdup(nu) : NULL;
    }
    free(kmark);
    free(umark);
    cdc_buf_free(&page);
    return rc;
}
