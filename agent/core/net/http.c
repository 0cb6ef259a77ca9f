/*
 * The HTTP client (see http.h).  A transfer keeps its libcurl easy handle for
 * its whole life, so a synchronous user (the Schema Registry client) keeps its
 * connection open between requests; the options are set again for every
 * request, from the cdc_http_req alone, so nothing of the previous request
 * leaks into the next one.
 */
#include "agent/core/net/http.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/core/cdc_mem.h"

#define HTTP_BODY_MAX_DEFAULT (16u << 20)

struct cdc_http_xfer {
    CURL              *easy;
    struct curl_slist *own_hdrs;    /* the shared lines plus extra_hdr, when there is one */
    cdc_buf           *body_out;
    cdc_buf           *hdrs_out;
    size_t             body_max;
    bool               too_big;
    void              *user;
    const char        *url;         /* borrowed from the request, for scrubbing messages */
    bool               in_multi;
    char               cerr[CURL_ERROR_SIZE];
    cdc_http_resp      resp;
};

struct cdc_http_multi {
    CURLM *multi;
};

/* ---- headers ----------------------------------------------------------- */

cdc_http_hdrs *
cdc_http_hdrs_add(cdc_http_hdrs *h, const char *line)
{
    struct curl_slist *l = curl_slist_append((struct curl_slist *) h, line);

    if (l == NULL)
        curl_slist_free_all((struct curl_slist *) h);
    return (cdc_http_hdrs *) l;
}

cdc_http_hdrs *
cdc_http_hdrs_addf(cdc_http_hdrs *h, const char *fmt, ...)
{
    va_list ap;
    char   *s = NULL;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    if (s == NULL) {
        cdc_http_hdrs_free(h);
        return NULL;
    }
    h = cdc_http_hdrs_add(h, s);
    explicit_bzero(s, strlen(s));   /* may hold a token */
    free(s);
    return h;
}

void
cdc_http_hdrs_free(cdc_http_hdrs *h)
{
    curl_slist_free_all((struct curl_slist *) h);
}

/* ---- global ------------------------------------------------------------ */

int
cdc_http_global_init(cdc_err *err)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)   /* refcounted, thread-unsafe */
        return cdc_err_set(err, CDC_E_NOMEM, "curl_global_init failed");
    return 0;
}

void
cdc_http_global_cleanup(void)
{
    curl_global_cleanup();
}

/* ---- outcomes ---------------------------------------------------------- */

cdc_http_class
cdc_http_classify(const cdc_http_resp *r)
{
    if (!r->answered)
        return CDC_HTTP_RETRY;
    if (r->status >= 200 && r->status < 300)
        return CDC_HTTP_OK;
    if (r->status == 408 || r->status == 429 || r->status >= 500)
        return CDC_HTTP_RETRY;
    return CDC_HTTP_FINAL;
}

void
cdc_http_resp_line(const cdc_http_resp *r, char *out, size_t n)
{
    size_t len = strcspn(r->head, "\r\n");

    snprintf(out, n, "%.*s", (int) len, r->head);
}

void
cdc_http_resp_describe(const cdc_http_resp *r, char *out, size_t n)
{
    char body[CDC_HTTP_HEAD_MAX + 1];

    if (!r->answered) {
        snprintf(out, n, "%s", r->error);
        return;
    }
    cdc_http_resp_line(r, body, sizeof(body));
    snprintf(out, n, "HTTP %ld%s%s", r->status, body[0] ? ": " : "", body);
}

/* Failures that no retry can fix: a wrong URL, certificate or TLS setting. */
static bool
http_broken_setup(CURLcode rc)
{
    switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_LOGIN_DENIED:
        return true;
    default:
        return false;
    }
}

/* ---- redaction --------------------------------------------------------- */

/* Does a query parameter of this name carry a secret? */
static bool
http_secret_param(const char *name, size_t n)
{
    static const char *const words[] = { "token", "key", "sig", "password", "passwd", "secret",
                                         "auth", "credential" };
    char                     low[64];

    if (n >= sizeof(low))
        n = sizeof(low) - 1;
    for (size_t i = 0; i < n; i++)
        low[i] = (char) (name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    low[n] = '\0';
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strstr(low, words[i]))
            return true;
    return false;
}

char *
cdc_http_redact_url(const char *url)
{
    const char *p = strstr(url, "://"), *host = p ? p + 3 : url, *end, *at, *q;
    cdc_buf     b = CDC_BUF_INIT;

    end = host + strcspn(host, "/?#");
    at = memchr(host, '@', (size_t) (end - host));
    cdc_buf_put(&b, url, (size_t) (host - url));
    if (at) {
        cdc_buf_puts(&b, "***");
        host = at;
    }
    cdc_buf_put(&b, host, strcspn(host, "?#"));
    q = host + strcspn(host, "?#");
    if (*q == '?') {
        q++;
        cdc_buf_putc(&b, '?');
        while (*q && *q != '#') {
            size_t len = strcspn(q, "&#"), nlen = strcspn(q, "=&#");

            if (nlen < len && http_secret_param(q, nlen)) {
                cdc_buf_put(&b, q, nlen);
                cdc_buf_puts(&b, "=***");
            } else {
                cdc_buf_put(&b, q, len);
            }
            q += len;
            if (*q == '&')
                cdc_buf_putc(&b, *q++);
        }
    }
    cdc_buf_putc(&b, '\0');
    if (cdc_buf_failed(&b))
        abort();    /* as cdc_x*: out of memory */
    return (char *) b.data;
}

char *
cdc_http_url_label(const char *url)
{
    const char *p = strstr(url, "://"), *host = p ? p + 3 : url, *at, *end;
    cdc_buf     b = CDC_BUF_INIT;

    end = host + strcspn(host, "/?#");
    at = memchr(host, '@', (size_t) (end - host));
    if (p)
        cdc_buf_put(&b, url, (size_t) (host - url));
    if (at)
        host = at + 1;
    cdc_buf_put(&b, host, strcspn(host, "?#"));
    cdc_buf_putc(&b, '\0');
    if (cdc_buf_failed(&b))
        abort();
    return (char *) b.data;
}

/* Replaces every occurrence of secret[0..n) in msg with "***". */
static void
http_scrub_part(char *msg, size_t cap, const char *secret, size_t n)
{
    char *hit;

    if (n == 0)
        return;
    while ((hit = memmem(msg, strlen(msg), secret, n)) != NULL) {
        size_t tail = strlen(hit + n);

        if (n >= 3) {
            memcpy(hit, "***", 3);
            memmove(hit + 3, hit + n, tail + 1);
        } else {
            if (strlen(msg) + 3 - n >= cap)
                return;
            memmove(hit + 3, hit + n, tail + 1);
            memcpy(hit, "***", 3);
        }
    }
}

/* libcurl's messages may quote the URL: take its userinfo and query out of msg. */
static void
http_scrub(char *msg, size_t cap, const char *url)
{
    const char *p, *host, *end, *at, *q;

    if (url == NULL)
        return;
    p = strstr(url, "://");
    host = p ? p + 3 : url;
    end = host + strcspn(host, "/?#");
    at = memchr(host, '@', (size_t) (end - host));
    if (at)
        http_scrub_part(msg, cap, host, (size_t) (at - host));
    q = strchr(url, '?');
    if (q)
        http_scrub_part(msg, cap, q + 1, strcspn(q + 1, "#"));
}

/* ---- one transfer ------------------------------------------------------ */

static size_t
http_on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
    cdc_http_xfer *x = arg;
    size_t         n = size * nmemb, keep = CDC_HTTP_HEAD_MAX - x->resp.head_len;

    if (keep > n)
        keep = n;
    memcpy(x->resp.head + x->resp.head_len, ptr, keep);
    x->resp.head_len += keep;
    x->resp.head[x->resp.head_len] = '\0';
    if (x->body_out) {
        if (x->body_out->len + n > x->body_max) {
            x->too_big = true;
            return 0;   /* makes curl fail with CURLE_WRITE_ERROR */
        }
        cdc_buf_put(x->body_out, ptr, n);
        if (cdc_buf_failed(x->body_out))
            return 0;
    }
    return n;
}

/* Keeps the header lines of the last response only (a 100 Continue or a redirect comes
   before the final one: a new status line starts again). */
static size_t
http_on_header(char *ptr, size_t size, size_t nmemb, void *arg)
{
    cdc_http_xfer *x = arg;
    size_t         n = size * nmemb;

    if (x->hdrs_out == NULL)
        return n;
    if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
        cdc_buf_reset(x->hdrs_out);
        return n;
    }
    if (x->hdrs_out->len + n > 64 * 1024)
        return n;      /* enough: the rest is not kept */
    cdc_buf_put(x->hdrs_out, ptr, n);
    return cdc_buf_failed(x->hdrs_out) ? 0 : n;
}

bool
cdc_http_hdr_value(const char *hdrs, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);

    if (n > 0)
        out[0] = '\0';
    for (const char *l = hdrs; l && *l;) {
        size_t len = strcspn(l, "\r\n");

        if (len > nl && l[nl] == ':' && strncasecmp(l, name, nl) == 0) {
            const char *v = l + nl + 1;
            size_t      vl = len - nl - 1;

            while (vl > 0 && (*v == ' ' || *v == '\t'))
                v++, vl--;
            while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
                vl--;
            if (n > 0)
                snprintf(out, n, "%.*s", (int) vl, v);
            return true;
        }
        l += len;
        while (*l == '\r' || *l == '\n')
            l++;
    }
    return false;
}

cdc_http_xfer *
cdc_http_xfer_new(cdc_err *err)
{
    cdc_http_xfer *x = cdc_xcalloc(1, sizeof(*x));

    x->easy = curl_easy_init();
    if (x->easy == NULL) {
        free(x);
        cdc_err_set(err, CDC_E_NOMEM, "curl_easy_init failed");
        return NULL;
    }
    return x;
}

void
cdc_http_xfer_free(cdc_http_xfer *x)
{
    if (x == NULL)
        return;
    curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->own_hdrs);
    free(x);
}

void
cdc_http_xfer_set_user(cdc_http_xfer *x, void *user)
{
    x->user = user;
}

void *
cdc_http_xfer_user(const cdc_http_xfer *x)
{
    return x->user;
}

const cdc_http_resp *
cdc_http_xfer_resp(const cdc_http_xfer *x)
{
    return &x->resp;
}

char *
cdc_http_escape(cdc_http_xfer *x, const char *s)
{
    char *e = curl_easy_escape(x->easy, s, 0);
    char *out = e ? strdup(e) : NULL;

    curl_free(e);
    return out;
}

void
cdc_http_apply_tls(void *curl_easy, const cdc_http_tls *t)
{
    CURL *e = curl_easy;
    bool insecure = t && t->insecure;

    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, insecure ? 0L : 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, insecure ? 0L : 2L);
    if (t == NULL)
        return;
    if (t->ca_file && t->ca_file[0])
        curl_easy_setopt(e, CURLOPT_CAINFO, t->ca_file);
    if (t->client_cert && t->client_cert[0])
        curl_easy_setopt(e, CURLOPT_SSLCERT, t->client_cert);
    if (t->client_key && t->client_key[0]) {
        curl_easy_setopt(e, CURLOPT_SSLKEY, t->client_key);
        /* Always a passphrase, if only "": without one OpenSSL asks for it on the terminal. */
        curl_easy_setopt(e, CURLOPT_KEYPASSWD, t->key_password ? t->key_password : "");
    }
}

/* Sets every option of the request on x's handle. */
static int
http_setup(cdc_http_xfer *x, const cdc_http_req *req, cdc_err *err)
{
    CURL              *e = x->easy;
    struct curl_slist *hdrs = (struct curl_slist *) req->hdrs;
    long               timeout = req->timeout_ms > 0 ? req->timeout_ms : 10000;
    long               ctimeout = req->connect_timeout_ms > 0 ? req->connect_timeout_ms
                                  : timeout < 10000 ? timeout : 10000;
    const char        *method = req->method;

    curl_easy_reset(e);
    curl_slist_free_all(x->own_hdrs);
    x->own_hdrs = NULL;
    if (req->extra_hdr) {
        for (struct curl_slist *s = hdrs; s; s = s->next)
            if ((x->own_hdrs = curl_slist_append(x->own_hdrs, s->data)) == NULL)
                return cdc_err_set(err, CDC_E_NOMEM, "HTTP request: out of memory");
        if ((x->own_hdrs = curl_slist_append(x->own_hdrs, req->extra_hdr)) == NULL)
            return cdc_err_set(err, CDC_E_NOMEM, "HTTP request: out of memory");
        hdrs = x->own_hdrs;
    }
    memset(&x->resp, 0, sizeof(x->resp));
    x->cerr[0] = '\0';
    x->body_out = req->body_out;
    x->hdrs_out = req->hdrs_out;
    if (x->hdrs_out)
        cdc_buf_reset(x->hdrs_out);
    x->body_max = req->body_max > 0 ? req->body_max : HTTP_BODY_MAX_DEFAULT;
    x->too_big = false;
    x->url = req->url;
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (req->body) {
        /* A NULL POSTFIELDS would make curl read the body from stdin. */
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, (const char *) req->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->body_len);
        if (method && strcmp(method, "POST") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        if (method && strcmp(method, "GET") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    }
    if (req->no_body) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    }
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, http_on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ctimeout);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);     /* the agent owns the process's signals */
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->cerr);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    if (req->user_agent)
        curl_easy_setopt(e, CURLOPT_USERAGENT, req->user_agent);
    if (req->basic.user) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, req->basic.user);    /* curl copies */
        curl_easy_setopt(e, CURLOPT_PASSWORD, req->basic.password ? req->basic.password : "");
    }
    if (req->fresh_connect)
        curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    cdc_http_apply_tls(e, req->tls);
    return 0;
}

/* Fills x->resp once the transfer ended with rc. */
static void
http_finish(cdc_http_xfer *x, CURLcode rc)
{
    cdc_http_resp *r = &x->resp;
    curl_off_t     ra = 0;

    r->curl_code = (int) rc;
    if (rc == CURLE_OK) {
        r->answered = true;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r->status);
        if (curl_easy_getinfo(x->easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
            r->retry_after_s = (int64_t) ra;
        return;
    }
    r->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
    r->broken_setup = http_broken_setup(rc);
    r->broke_midway = rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR ||
                      rc == CURLE_SSL_CONNECT_ERROR;
    if (x->too_big)
        snprintf(r->error, sizeof(r->error), "answer larger than %zu bytes", x->body_max);
    else
        snprintf(r->error, sizeof(r->error), "%s", x->cerr[0] ? x->cerr : curl_easy_strerror(rc));
    r->error[strcspn(r->error, "\r\n")] = '\0';
    http_scrub(r->error, sizeof(r->error), x->url);
}

int
cdc_http_perform(cdc_http_xfer *x, const cdc_http_req *req, cdc_http_resp *resp, cdc_err *err)
{
    if (http_setup(x, req, err) < 0)
        return -1;
    http_finish(x, curl_easy_perform(x->easy));
    if (resp)
        *resp = x->resp;
    return 0;
}

/* ---- many transfers ---------------------------------------------------- */

cdc_http_multi *
cdc_http_multi_new(cdc_err *err)
{
    cdc_http_multi *m = cdc_xcalloc(1, sizeof(*m));

    m->multi = curl_multi_init();
    if (m->multi == NULL) {
        free(m);
        cdc_err_set(err, CDC_E_NOMEM, "curl_multi_init failed");
        return NULL;
    }
    return m;
}

void
cdc_http_multi_free(cdc_http_multi *m)
{
    if (m == NULL)
        return;
    curl_multi_cleanup(m->multi);
    free(m);
}

int
cdc_http_multi_add(cdc_http_multi *m, cdc_http_xfer *x, const cdc_http_req *req, cdc_err *err)
{
    if (http_setup(x, req, err) < 0)
        return -1;
    if (curl_multi_add_handle(m->multi, x->easy) != CURLM_OK)
        return cdc_err_set(err, CDC_E_DEST, "curl_multi_add_handle failed");
    x->in_multi = true;
    return 0;
}

void
cdc_http_multi_remove(cdc_http_multi *m, cdc_http_xfer *x)
{
    if (x->in_multi)
        curl_multi_remove_handle(m->multi, x->easy);
    x->in_multi = false;
}

int
cdc_http_multi_perform(cdc_http_multi *m)
{
    int running = 0;

    curl_multi_perform(m->multi, &running);
    return running;
}

cdc_http_xfer *
cdc_http_multi_done(cdc_http_multi *m)
{
    CURLMsg *msg;
    int      left;

    while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
        cdc_http_xfer *x = NULL;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &x);
        http_finish(x, msg->data.result);
        cdc_http_multi_remove(m, x);
        return x;
    }
    return NULL;
}

void
cdc_http_multi_poll(cdc_http_multi *m, int timeout_ms)
{
    curl_multi_poll(m->multi, NULL, 0, timeout_ms, NULL);
}
