/*
 * One SigV4-signed call to an AWS JSON-1.x API: see aws_json.h.
 */
#include "agent/core/net/aws_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_clock.h"
#include "agent/core/net/aws_sigv4.h"

struct cdc_aws_json {
    cdc_aws_provider   *prov;
    char               *service;
    char               *endpoint;     /* no trailing '/' */
    char               *url;          /* endpoint + "/" */
    char               *label;        /* the endpoint for messages (no userinfo, no query) */
    char               *region;
    char                content_type[48];
    char                prefix[64];
    int                 timeout_ms;
    int                 connect_timeout_ms;
    const cdc_http_tls *tls;
    size_t              answer_max;
    cdc_http_xfer      *x;            /* for cdc_aws_json_call */
    uint64_t            rng;
};

/* ---- classification (pure) --------------------------------------------- */

bool
cdc_aws_code_retryable(const char *code)
{
    static const char *const retry[] = {
        "ProvisionedThroughputExceededException", "ThrottlingException", "Throttling",
        "ThrottledException", "RequestThrottled", "RequestThrottledException",
        "TooManyRequestsException", "LimitExceededException", "RequestLimitExceeded",
        "KMSThrottlingException", "TransactionInProgressException",
        "InternalFailure", "InternalServerError", "InternalError", "InternalServerException",
        "ServiceUnavailable", "ServiceUnavailableException", "ServiceUnavailableError",
        "ExpiredToken", "ExpiredTokenException", "RequestTimeout", "RequestTimeoutException",
        "PriorRequestNotComplete", "KMSInternalException", "KMSDisabledException",
        "EC2ThrottledException", "BandwidthLimitExceeded", "SlowDown",
    };

    if (code == NULL || code[0] == '\0')
        return false;
    for (size_t i = 0; i < sizeof(retry) / sizeof(retry[0]); i++)
        if (strcmp(code, retry[i]) == 0)
            return true;
    return false;
}

static bool
code_throttle(const char *code)
{
    return strstr(code, "Throttl") != NULL || strcmp(code, "LimitExceededException") == 0 ||
           strcmp(code, "ProvisionedThroughputExceededException") == 0 ||
           strcmp(code, "RequestLimitExceeded") == 0 || strcmp(code, "SlowDown") == 0 ||
           strcmp(code, "TooManyRequestsException") == 0 ||
           strcmp(code, "BandwidthLimitExceeded") == 0;
}

/* Codes that are the user's to fix: credentials, signature, permission, missing resources. */
static bool
code_config(const char *code)
{
    static const char *const cfg[] = {
        "UnrecognizedClientException", "InvalidSignatureException", "SignatureDoesNotMatch",
        "IncompleteSignature", "IncompleteSignatureException", "MissingAuthenticationToken",
        "MissingAuthenticationTokenException", "InvalidClientTokenId", "AccessDenied",
        "AccessDeniedException", "NotAuthorized", "AuthFailure", "OptInRequired",
        "ResourceNotFoundException", "KMSAccessDeniedException", "KMSNotFoundException",
        "InvalidAccessKeyId", "UnknownOperationException",
    };

    for (size_t i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++)
        if (strcmp(code, cfg[i]) == 0)
            return true;
    return false;
}

/* Copies s (n bytes) into out as one printable line, cut before anything that may quote
   the canonical request or the string to sign. */
static void
one_line(char *out, size_t cap, const char *s, size_t n)
{
    static const char *const cut[] = { "The Canonical String", "The canonical String",
                                       "The String-to-Sign", "Canonical request",
                                       "canonical request", "x-amz-security-token" };
    size_t o = 0;

    for (size_t k = 0; k < sizeof(cut) / sizeof(cut[0]); k++) {
        const char *at = memmem(s, n, cut[k], strlen(cut[k]));

        if (at)
            n = (size_t) (at - s);
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        unsigned char ch = (unsigned char) s[i];

        out[o++] = ch == '\n' || ch == '\r' || ch == '\t' || ch < 0x20 ? ' ' : (char) ch;
    }
    out[o] = '\0';
}

/* The code of "__type": after the last '#', before any ':' (REST-JSON's "Code:http://..."). */
static void
set_code(cdc_aws_result *res, const char *type)
{
    const char *h = strrchr(type, '#');
    size_t      n;

    if (h)
        type = h + 1;
    n = strcspn(type, ":");
    if (n >= sizeof(res->code))
        n = sizeof(res->code) - 1;
    memcpy(res->code, type, n);
    res->code[n] = '\0';
}

/* The text of the first <tag>...</tag> of an XML body into out (no entity decoding). */
static bool
xml_text(const char *body, size_t len, const char *tag, char *out, size_t n)
{
    char        open[32], close[32];
    const char *a, *b;

    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    a = memmem(body, len, open, strlen(open));
    if (a == NULL)
        return false;
    a += strlen(open);
    b = memmem(a, len - (size_t) (a - body), close, strlen(close));
    if (b == NULL)
        return false;
    snprintf(out, n, "%.*s", (int) (b - a), a);
    return out[0] != '\0';
}

void
cdc_aws_json_classify(long status, bool answered, bool broken_setup, const char *body,
                      size_t body_len, cdc_aws_result *res)
{
    json_t *doc = NULL;

    cdc_aws_result_clear(res);
    res->status = answered ? status : 0;
    if (!answered) {
        res->cls = broken_setup ? CDC_AWS_FINAL : CDC_AWS_RETRY;
        return;
    }
    if (body && body_len > 0)
        doc = json_loadb(body, body_len, 0, NULL);
    if (status >= 200 && status < 300) {
        if (json_is_object(doc)) {
            res->cls = CDC_AWS_OK;
            res->json = doc;
            return;
        }
        json_decref(doc);
        res->cls = CDC_AWS_RETRY;
        snprintf(res->message, sizeof(res->message), "HTTP %ld with an answer that is not a "
                 "JSON object (%zu bytes)", status, body_len);
        return;
    }
    if (json_is_object(doc)) {
        const char *type = json_string_value(json_object_get(doc, "__type"));
        const char *msg = json_string_value(json_object_get(doc, "message"));

        if (type == NULL)
            type = json_string_value(json_object_get(doc, "code"));
        if (msg == NULL)
            msg = json_string_value(json_object_get(doc, "Message"));
        if (type)
            set_code(res, type);
        if (msg)
            one_line(res->message, sizeof(res->message), msg, strlen(msg));
    } else if (body && body_len > 0 && xml_text(body, body_len, "Code", res->code,
                                                sizeof(res->code))) {
        /* an XML ErrorResponse (moto's authentication errors, some proxies) */
        char msg[sizeof(res->message)];

        if (xml_text(body, body_len, "Message", msg, sizeof(msg)))
            one_line(res->message, sizeof(res->message), msg, strlen(msg));
    } else if (body && body_len > 0) {
        char tmp[120];

        one_line(tmp, sizeof(tmp), body, body_len < 100 ? body_len : 100);
        snprintf(res->message, sizeof(res->message), "answer not JSON: %s", tmp);
    }
    json_decref(doc);
    res->throttled = status == 429 || code_throttle(res->code);
    if (status == 408 || status == 429 || status >= 500 || cdc_aws_code_retryable(res->code))
        res->cls = CDC_AWS_RETRY;
    else
        res->cls = CDC_AWS_FINAL;
}

void
cdc_aws_result_clear(cdc_aws_result *r)
{
    if (r == NULL)
        return;
    json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

/* ---- the client -------------------------------------------------------- */

cdc_aws_json *
cdc_aws_json_new(const cdc_aws_json_conf *c, cdc_err *err)
{
    cdc_aws_json *j;
    const char   *region;

    if (c == NULL || c->service == NULL || c->json_version == NULL || c->target_prefix == NULL ||
        (c->provider == NULL && (c->region == NULL || c->region[0] == '\0'))) {
        cdc_err_set(err, CDC_E_INVAL, "aws json client: service, json version, target prefix "
                    "and a credential provider are required");
        return NULL;
    }
    if (strlen(c->target_prefix) >= sizeof(j->prefix) - 1 || strlen(c->json_version) > 8) {
        cdc_err_set(err, CDC_E_INVAL, "aws json client: target prefix or version too long");
        return NULL;
    }
    j = calloc(1, sizeof(*j));
    if (j == NULL) {
        cdc_err_set(err, CDC_E_NOMEM, "out of memory");
        return NULL;
    }
    j->prov = c->provider;
    j->service = strdup(c->service);
    region = c->region && c->region[0] ? c->region
                                       : c->provider ? cdc_aws_provider_region(c->provider) : "";
    j->region = strdup(region ? region : "");
    snprintf(j->content_type, sizeof(j->content_type), "application/x-amz-json-%s",
             c->json_version);
    snprintf(j->prefix, sizeof(j->prefix), "%s", c->target_prefix);
    j->timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : 10000;
    j->connect_timeout_ms = c->connect_timeout_ms;
    j->tls = c->tls;
    j->answer_max = c->answer_max ? c->answer_max : (size_t) 16 << 20;
    j->rng = cdc_rng_seed();
    if (j->service == NULL || j->region == NULL) {
        cdc_err_set(err, CDC_E_NOMEM, "out of memory");
        cdc_aws_json_free(j);
        return NULL;
    }
    if (c->endpoint && c->endpoint[0]) {
        size_t n = strlen(c->endpoint);

        while (n > 0 && c->endpoint[n - 1] == '/')
            n--;
        j->endpoint = strndup(c->endpoint, n);
    } else {
        j->endpoint = cdc_aws_endpoint(c->provider, c->service, err);
        if (j->endpoint == NULL) {
            cdc_err_wrap(err, "%s", c->service);
            cdc_aws_json_free(j);
            return NULL;
        }
    }
    if (j->region[0] == '\0') {
        cdc_err_set(err, CDC_E_CONFIG, "%s: no AWS region (set the destination's region, "
                    "AWS_REGION or the profile's region) to sign requests for %s",
                    c->service, j->endpoint ? j->endpoint : "?");
        cdc_aws_json_free(j);
        return NULL;
    }
    if (j->endpoint == NULL || asprintf(&j->url, "%s/", j->endpoint) < 0) {
        j->url = NULL;
        cdc_err_set(err, CDC_E_NOMEM, "out of memory");
        cdc_aws_json_free(j);
        return NULL;
    }
    j->label = cdc_http_url_label(j->endpoint);
    return j;
}

void
cdc_aws_json_free(cdc_aws_json *j)
{
    if (j == NULL)
        return;
    cdc_http_xfer_free(j->x);
    free(j->service);
    free(j->endpoint);
    free(j->url);
    free(j->label);
    free(j->region);
    free(j);
}

const char *
cdc_aws_json_endpoint(const cdc_aws_json *j)
{
    return j->endpoint;
}

const char *
cdc_aws_json_region(const cdc_aws_json *j)
{
    return j->region;
}

const char *
cdc_aws_json_service(const cdc_aws_json *j)
{
    return j->service;
}

/* ---- a call ------------------------------------------------------------ */

void
cdc_aws_call_init(cdc_aws_call *c)
{
    memset(c, 0, sizeof(*c));
}

void
cdc_aws_call_free(cdc_aws_call *c)
{
    if (c == NULL)
        return;
    cdc_buf_free(&c->body);
    cdc_buf_free(&c->answer);
    cdc_http_hdrs_free(c->hdrs);
    c->hdrs = NULL;
    memset(&c->req, 0, sizeof(c->req));
}

int
cdc_aws_json_sign(cdc_aws_json *j, cdc_aws_call *c, const char *op, cdc_err *err)
{
    cdc_aws_key   key;
    char          target[160];
    cdc_sigv4_hdr h[2];
    cdc_sigv4_req r;

    if (op == NULL || strlen(op) >= sizeof(c->op))
        return cdc_err_set(err, CDC_E_INVAL, "%s: operation name missing or too long",
                           j->service);
    if (cdc_buf_failed(&c->body))
        return cdc_err_set(err, CDC_E_NOMEM, "%s %s: out of memory building the request",
                           j->service, op);
    snprintf(c->op, sizeof(c->op), "%s", op);
    snprintf(target, sizeof(target), "%s.%s", j->prefix, op);
    if (j->prov == NULL)
        return cdc_err_set(err, CDC_E_INVAL, "%s %s: no credential provider", j->service, op);
    if (cdc_aws_provider_get(j->prov, &key, err) < 0)
        return cdc_err_wrap(err, "%s %s at %s: credentials", j->service, op, j->label);
    h[0] = (cdc_sigv4_hdr) { "Content-Type", j->content_type };
    h[1] = (cdc_sigv4_hdr) { "X-Amz-Target", target };
    memset(&r, 0, sizeof(r));
    r.method = "POST";
    r.url = j->url;
    r.hdrs = h;
    r.n_hdrs = 2;
    r.body = c->body.data;
    r.body_len = c->body.len;
    r.region = j->region;
    r.service = j->service;
    cdc_http_hdrs_free(c->hdrs);
    c->hdrs = cdc_sigv4_hdrs(&r, &key, err);
    if (c->hdrs == NULL)
        return cdc_err_wrap(err, "%s %s: signing", j->service, op);
    cdc_buf_reset(&c->answer);
    memset(&c->req, 0, sizeof(c->req));
    c->req.url = j->url;
    c->req.method = "POST";
    c->req.hdrs = c->hdrs;
    c->req.body = c->body.data ? (const void *) c->body.data : (const void *) "";
    c->req.body_len = c->body.len;
    c->req.timeout_ms = j->timeout_ms;
    c->req.connect_timeout_ms = j->connect_timeout_ms;
    c->req.tls = j->tls;
    c->req.user_agent = "cdcagent/" CDC_VERSION;
    c->req.body_out = &c->answer;
    c->req.body_max = j->answer_max;
    return 0;
}

int
cdc_aws_json_finish(cdc_aws_json *j, cdc_aws_call *c, const cdc_http_resp *resp,
                    cdc_aws_result *res, cdc_err *err)
{
    const char *body = c->answer.len ? cdc_buf_str(&c->answer) : resp->head;
    size_t      len = c->answer.len ? c->answer.len : resp->head_len;
    cdc_rc      rc;

    cdc_aws_json_classify(resp->status, resp->answered, resp->broken_setup, body, len, res);
    res->retry_after_s = resp->retry_after_s;
    if (res->cls == CDC_AWS_OK)
        return 0;
    if (!resp->answered) {
        snprintf(res->message, sizeof(res->message), "%s", resp->error);
        return cdc_err_set(err, resp->broken_setup ? CDC_E_CONFIG
                                : resp->timed_out ? CDC_E_TIMEOUT : CDC_E_CONN,
                           "%s %s at %s: %s", j->service, c->op, j->label, resp->error);
    }
    if (res->cls == CDC_AWS_RETRY)
        rc = res->throttled ? CDC_E_QUEUE_FULL : CDC_E_CONN;
    else
        rc = code_config(res->code) || resp->status == 401 || resp->status == 403
                 ? CDC_E_CONFIG : CDC_E_DEST;
    return cdc_err_set(err, rc, "%s %s at %s: HTTP %ld%s%s%s%s", j->service, c->op, j->label,
                       resp->status, res->code[0] ? " " : "", res->code,
                       res->message[0] ? ": " : "", res->message);
}

int
cdc_aws_json_call(cdc_aws_json *j, const char *op, const char *body, size_t len,
                  const cdc_retry_conf *retry, cdc_aws_result *res, cdc_err *err)
{
    cdc_aws_call  c;
    cdc_http_resp resp;
    int           attempts = retry ? (retry->max_attempts > 0 ? retry->max_attempts : 5) : 1;
    int           rc = -1;

    cdc_aws_result_clear(res);
    if (j->x == NULL && (j->x = cdc_http_xfer_new(err)) == NULL)
        return -1;
    cdc_aws_call_init(&c);
    cdc_buf_put(&c.body, body, len);
    for (int a = 1; a <= attempts; a++) {
        if (cdc_aws_json_sign(j, &c, op, err) < 0) {
            bool again = err == NULL || cdc_rc_retriable(err->code);

            /* no credentials to sign with: the outcome says so too */
            cdc_aws_result_clear(res);
            res->cls = again ? CDC_AWS_RETRY : CDC_AWS_FINAL;
            snprintf(res->message, sizeof(res->message), "%s", err ? err->msg : "signing failed");
            if (!again || a == attempts)
                break;
        } else {
            if (cdc_http_perform(j->x, &c.req, &resp, err) < 0)
                break;
            rc = cdc_aws_json_finish(j, &c, &resp, res, err);
            if (rc == 0 || res->cls != CDC_AWS_RETRY || a == attempts)
                break;
        }
        {
            int64_t d = cdc_retry_delay_ms(retry, a, &j->rng);

            /* Retry-After, within the rule's cap (a start-up must not sleep for an hour) */
            if (res->retry_after_s > 0 && res->retry_after_s * 1000 > d)
                d = res->retry_after_s * 1000;
            if (d > (retry->max_ms > 0 ? retry->max_ms : 60000))
                d = retry->max_ms > 0 ? retry->max_ms : 60000;
            cdc_sleep_ms(d);
        }
    }
    cdc_aws_call_free(&c);
    return rc;
}
