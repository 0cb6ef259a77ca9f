/*
 * AWS credentials: the network sources -- STS AssumeRoleWithWebIdentity and
 * AssumeRole, the container credentials endpoint, EC2 instance metadata (IMDSv2).
 * See aws_creds.h and aws_creds_int.h.
 */
#include "agent/core/net/aws_creds_int.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/net/aws_sigv4.h"

/* ---- HTTP -------------------------------------------------------------- */

/* Runs one request; @returns 0 on a 2xx (body in out), else -1 with err naming what and where.
   answered_status: the status when answered (0: none). */
static int
call(cdc_aws_provider *p, const char *what, const char *method, const char *url,
     const cdc_http_hdrs *hdrs, const char *body, int timeout_ms, const cdc_http_tls *tls,
     cdc_buf *out, long *answered_status, cdc_err *err)
{
    cdc_http_req  req;
    cdc_http_resp resp;
    char          desc[400];
    char         *label;
    int           rc;

    *answered_status = 0;
    if (p->x == NULL && (p->x = cdc_http_xfer_new(err)) == NULL)
        return -1;
    memset(&req, 0, sizeof(req));
    req.url = url;
    req.method = method;
    req.hdrs = hdrs;
    req.body = body;
    req.body_len = body ? strlen(body) : 0;
    req.timeout_ms = timeout_ms;
    req.tls = tls;
    req.user_agent = "cdcagent/" CDC_VERSION;
    req.body_out = out;
    req.body_max = 1u << 20;
    cdc_buf_reset(out);
    if (cdc_http_perform(p->x, &req, &resp, err) < 0)
        return -1;
    if (cdc_http_classify(&resp) == CDC_HTTP_OK)
        return 0;
    label = cdc_http_url_label(url);
    *answered_status = resp.answered ? resp.status : 0;
    if (!resp.answered) {
        rc = cdc_err_set(err, resp.timed_out ? CDC_E_TIMEOUT : CDC_E_CONN, "%s at %s: %s",
                         what, label, resp.error);
    } else {
        cdc_http_resp_describe(&resp, desc, sizeof(desc));
        rc = cdc_err_set(err, cdc_http_classify(&resp) == CDC_HTTP_RETRY ? CDC_E_CONN
                                                                           : CDC_E_CONFIG,
                         "%s at %s: %s", what, label, desc);
    }
    free(label);
    return rc;
}

/* ---- XML (STS answers) ------------------------------------------------- */

/* The text of the first <tag>...</tag> after from, entities decoded; malloc'd or NULL. */
static char *
xml_text(const char *from, const char *tag)
{
    char        open[64], close[64];
    const char *a, *b;
    cdc_buf     out = CDC_BUF_INIT;

    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    a = strstr(from, open);
    if (a == NULL)
        return NULL;
    a += strlen(open);
    b = strstr(a, close);
    if (b == NULL)
        return NULL;
    while (a < b) {
        static const struct { const char *e; char c; } ents[] = {
            { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' }, { "&apos;", '\'' }
        };
        bool done = false;

        if (*a == '&') {
            for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
                size_t n = strlen(ents[i].e);

                if ((size_t) (b - a) >= n && strncmp(a, ents[i].e, n) == 0) {
                    cdc_buf_putc(&out, ents[i].c);
                    a += n;
                    done = true;
                    break;
                }
            }
        }
        if (!done)
            cdc_buf_putc(&out, *a++);
    }
    cdc_buf_putc(&out, '\0');
    if (out.failed) {
        free(out.data);
        return NULL;
    }
    return (char *) out.data;
}

/* ---- sources ----------------------------------------------------------- */

/* STS's <Error><Code>..</Code><Message>..</Message> into err, when the answer has one. */
static void
sts_error(const char *what, const char *url, long status, const cdc_buf *out, cdc_err *err)
{
    char *code, *msg, *label;

    if (status == 0 || out->data == NULL)
        return;
    code = xml_text((const char *) out->data, "Code");
    msg = xml_text((const char *) out->data, "Message");
    label = cdc_http_url_label(url);
    if (code)
        cdc_err_set(err, status >= 500 || status == 429 ? CDC_E_CONN : CDC_E_CONFIG,
                    "%s at %s: HTTP %ld %s: %s", what, label, status, code, msg ? msg : "");
    free(code);
    free(msg);
    free(label);
}

/* The <Credentials> of an AssumeRoleWithWebIdentity answer into p. */
static int
sts_take(cdc_aws_provider *p, const char *what, const char *url, const cdc_buf *out,
         cdc_err *err)
{
    const char *cred = out->data ? strstr((const char *) out->data, "<Credentials>") : NULL;
    char       *akid = NULL, *secret = NULL, *stok = NULL, *exp = NULL, *label;
    int64_t     exp_ms;
    int         rc = 0;

    if (cred) {
        akid = xml_text(cred, "AccessKeyId");
        secret = xml_text(cred, "SecretAccessKey");
        stok = xml_text(cred, "SessionToken");
        exp = xml_text(cred, "Expiration");
    }
    exp_ms = cdc_aws_parse_time(exp);
    if (akid && secret && stok && exp_ms >= 0) {
        aws_set_creds(p, akid, secret, stok, exp_ms);
    } else {
        label = cdc_http_url_label(url);
        rc = cdc_err_set(err, CDC_E_CONN, "%s at %s: the answer has no %s", what, label,
                         cred == NULL ? "<Credentials>" : exp_ms < 0 ? "valid <Expiration>"
                                                                    : "complete <Credentials>");
        free(label);
    }
    aws_wipe_free(akid);
    aws_wipe_free(secret);
    aws_wipe_free(stok);
    free(exp);
    return rc;
}

/* STS AssumeRoleWithWebIdentity (unsigned form POST) with the token file's token. */
static int
fetch_webid(cdc_aws_provider *p, cdc_err *err)
{
    char          *tok, *url = NULL, what[400], slash[1100];
    cdc_buf        body = CDC_BUF_INIT, out = CDC_BUF_INIT;
    cdc_http_hdrs *h = NULL;
    long           status;
    int            rc = -1;

    tok = aws_read_token_file(p->token_file, "web identity token file", err);
    if (tok == NULL)
        return -1;
    url = cdc_aws_endpoint(p, "sts", err);
    if (url == NULL)
        goto out;
    cdc_buf_puts(&body, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=");
    cdc_aws_uri_encode(&body, p->role_arn, strlen(p->role_arn), false);
    cdc_buf_puts(&body, "&RoleSessionName=");
    cdc_aws_uri_encode(&body, p->session_name, strlen(p->session_name), false);
    cdc_buf_puts(&body, "&WebIdentityToken=");
    cdc_aws_uri_encode(&body, tok, strlen(tok), false);
    cdc_buf_putc(&body, '\0');
    h = cdc_http_hdrs_add(NULL, "Content-Type: application/x-www-form-urlencoded");
    h = cdc_http_hdrs_add(h, "Accept: text/xml");
    if (body.failed || h == NULL) {
        cdc_err_set(err, CDC_E_NOMEM, "out of memory");
        goto out;
    }
    snprintf(what, sizeof(what), "STS AssumeRoleWithWebIdentity for role %s", p->role_arn);
    snprintf(slash, sizeof(slash), "%s/", url);
    if (call(p, what, "POST", slash, h, (const char *) body.data, p->o.timeout_ms, p->o.tls,
             &out, &status, err) < 0) {
        sts_error(what, url, status, &out, err);
        goto out;
    }
    if (sts_take(p, what, url, &out, err) < 0)
        goto out;
    snprintf(p->source, sizeof(p->source), "web identity (role %s, token file %s)",
             p->role_arn, p->token_file);
    rc = 0;
out:
    aws_wipe_free(tok);
    free(url);
    cdc_http_hdrs_free(h);
    if (body.data)
        OPENSSL_cleanse(body.data, body.len);
    free(body.data);
    if (out.data)
        OPENSSL_cleanse(out.data, out.len);
    free(out.data);
    return rc;
}

/* STS AssumeRole, signed with the source profile's keys (a profile's role_arn +
   source_profile). */
static int
fetch_assume(cdc_aws_provider *p, cdc_err *err)
{
    char          *url = NULL, what[400], slash[1100];
    cdc_buf        body = CDC_BUF_INIT, out = CDC_BUF_INIT;
    cdc_http_hdrs *h = NULL;
    cdc_sigv4_hdr  ct = { "Content-Type", "application/x-www-form-urlencoded" };
    cdc_aws_key    k = { p->src_akid, p->src_secret, p->src_token };
    cdc_sigv4_req  r = { 0 };
    long           status;
    int            rc = -1;

    url = cdc_aws_endpoint(p, "sts", err);
    if (url == NULL)
        return -1;
    cdc_buf_puts(&body, "Action=AssumeRole&Version=2011-06-15&RoleArn=");
    cdc_aws_uri_encode(&body, p->role_arn, strlen(p->role_arn), false);
    cdc_buf_puts(&body, "&RoleSessionName=");
    cdc_aws_uri_encode(&body, p->session_name, strlen(p->session_name), false);
    if (p->external_id) {
        cdc_buf_puts(&body, "&ExternalId=");
        cdc_aws_uri_encode(&body, p->external_id, strlen(p->external_id), false);
    }
    cdc_buf_putc(&body, '\0');
    if (body.failed) {
        cdc_err_set(err, CDC_E_NOMEM, "out of memory");
        goto out;
    }
    snprintf(slash, sizeof(slash), "%s/", url);
    r.method = "POST";
    r.url = slash;
    r.hdrs = &ct;
    r.n_hdrs = 1;
    r.body = body.data;
    r.body_len = body.len - 1;
    r.region = p->region[0] ? p->region : "us-east-1";   /* the global endpoint's */
    r.service = "sts";
    snprintf(what, sizeof(what), "STS AssumeRole for role %s (source profile %s)", p->role_arn,
             p->src_profile);
    h = cdc_sigv4_hdrs(&r, &k, err);
    if (h == NULL) {
        cdc_err_wrap(err, "%s", what);
        goto out;
    }
    if (call(p, what, "POST", slash, h, (const char *) body.data, p->o.timeout_ms, p->o.tls,
             &out, &status, err) < 0) {
        sts_error(what, url, status, &out, err);
        goto out;
    }
    if (sts_take(p, what, url, &out, err) < 0)
        goto out;
    snprintf(p->source, sizeof(p->source), "assumed role %s (profile %s, source profile %s)",
             p->role_arn, p->profile, p->src_profile);
    rc = 0;
out:
    free(url);
    cdc_http_hdrs_free(h);
    free(body.data);
    if (out.data)
        OPENSSL_cleanse(out.data, out.len);
    free(out.data);
    return rc;
}

/* AccessKeyId/SecretAccessKey/Token/Expiration from a metadata JSON answer. */
static int
take_json_creds(cdc_aws_provider *p, const char *what, const char *url, cdc_buf *out,
                bool imds, cdc_err *err)
{
    json_error_t jerr;
    json_t      *j = out->data ? json_loadb((const char *) out->data, out->len, 0, &jerr) : NULL;
    const char  *akid, *secret, *token, *exp, *code;
    int64_t      exp_ms = 0;
    char        *label = cdc_http_url_label(url);
    int          rc = -1;

    if (!json_is_object(j)) {
        cdc_err_set(err, CDC_E_CONN, "%s at %s: the answer is not a JSON object", what, label);
        goto out;
    }
    code = json_string_value(json_object_get(j, "Code"));
    if (imds && code && strcmp(code, "Success") != 0) {
        cdc_err_set(err, CDC_E_CONFIG, "%s at %s: Code %s", what, label, code);
        goto out;
    }
    akid = json_string_value(json_object_get(j, "AccessKeyId"));
    secret = json_string_value(json_object_get(j, "SecretAccessKey"));
    token = json_string_value(json_object_get(j, "Token"));
    exp = json_string_value(json_object_get(j, "Expiration"));
    if (akid == NULL || secret == NULL || !akid[0] || !secret[0]) {
        cdc_err_set(err, CDC_E_CONN, "%s at %s: the answer has no AccessKeyId/SecretAccessKey",
                    what, label);
        goto out;
    }
    if (exp && (exp_ms = cdc_aws_parse_time(exp)) < 0) {
        cdc_err_set(err, CDC_E_CONN, "%s at %s: Expiration '%.40s' is not a time", what, label,
                    exp);
        goto out;
    }
    aws_set_creds(p, akid, secret, token, exp_ms);
    rc = 0;
out:
    json_decref(j);
    if (out->data)
        OPENSSL_cleanse(out->data, out->len);
    free(label);
    return rc;
}

static bool
container_host_ok(const char *url)
{
    const char *h;
    size_t      n;
    static const char *ok[] = { "localhost", "[::1]", "169.254.170.2", "169.254.170.23",
                                "[fd00:ec2::23]" };

    if (strncasecmp(url, "https://", 8) == 0)
        return true;
    if (strncasecmp(url, "http://", 7) != 0)
        return false;
    h = url + 7;
    if (*h == '[')
        n = strcspn(h, "]") + 1;
    else
        n = strcspn(h, ":/?#");
    if (n > 4 && strncmp(h, "127.", 4) == 0)
        return true;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strlen(ok[i]) == n && strncasecmp(h, ok[i], n) == 0)
            return true;
    return false;
}

static int
fetch_container(cdc_aws_provider *p, cdc_err *err)
{
    const char    *rel = aws_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char    *full = aws_env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    const char    *tokf = aws_env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char    *tokv = aws_env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    char           url[2048];
    char          *tok = NULL;
    cdc_http_hdrs *h = NULL;
    cdc_buf        out = CDC_BUF_INIT;
    long           status;
    int            rc;

    if (rel)
        snprintf(url, sizeof(url), "%s%s",
                 p->o.container_base ? p->o.container_base : "http://169.254.170.2", rel);
    else
        snprintf(url, sizeof(url), "%s", full);
    if (!rel && !container_host_ok(url)) {
        char *label = cdc_http_url_label(url);

        rc = cdc_err_set(err, CDC_E_CONFIG,
                         "AWS_CONTAINER_CREDENTIALS_FULL_URI %s: must be https, or http on a "
                         "loopback address or 169.254.170.2/169.254.170.23", label);
        free(label);
        return rc;
    }
    if (tokf) {
        tok = aws_read_token_file(tokf, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", err);
        if (tok == NULL)
            return -1;
    } else if (tokv) {
        tok = strdup(tokv);
    }
    if (tok) {
        if (strpbrk(tok, "\r\n")) {
            aws_wipe_free(tok);
            return cdc_err_set(err, CDC_E_CONFIG,
                               "the container authorization token holds a line break");
        }
        h = cdc_http_hdrs_addf(NULL, "Authorization: %s", tok);
        aws_wipe_free(tok);
        if (h == NULL)
            return cdc_err_set(err, CDC_E_NOMEM, "out of memory");
    }
    rc = call(p, "container credentials", "GET", url, h, NULL, p->o.timeout_ms, p->o.tls, &out,
              &status, err);
    cdc_http_hdrs_free(h);
    if (rc == 0)
        rc = take_json_creds(p, "container credentials", url, &out, false, err);
    if (rc == 0) {
        char *label = cdc_http_url_label(url);

        snprintf(p->source, sizeof(p->source), "container credentials (%s)", label);
        free(label);
    }
    free(out.data);
    return rc;
}

static void
imds_base(char *base, size_t n)
{
    const char *e = aws_env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    const char *mode = aws_env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
    size_t      len;

    if (e)
        snprintf(base, n, "%s", e);
    else if (mode && strcasecmp(mode, "IPv6") == 0)
        snprintf(base, n, "http://[fd00:ec2::254]");
    else
        snprintf(base, n, "http://169.254.169.254");
    len = strlen(base);
    while (len > 0 && base[len - 1] == '/')
        base[--len] = '\0';
}

static int
fetch_imds(cdc_aws_provider *p, cdc_err *err)
{
    char           base[512], url[1024], role[256];
    cdc_buf        out = CDC_BUF_INIT;
    cdc_http_hdrs *h = NULL;
    long           status;
    int            rc;
    int            tmo = p->o.imds_timeout_ms;

    imds_base(base, sizeof(base));
    snprintf(url, sizeof(url), "%s/latest/api/token", base);
    h = cdc_http_hdrs_add(NULL, "X-aws-ec2-metadata-token-ttl-seconds: 21600");
    rc = call(p, "instance metadata token (IMDSv2)", "PUT", url, h, "", tmo, NULL, &out,
              &status, err);
    cdc_http_hdrs_free(h);
    h = NULL;
    if (rc == 0) {
        char *t = out.data ? aws_trim((char *) out.data) : NULL;

        if (t == NULL || *t == '\0' || strpbrk(t, "\r\n")) {
            free(out.data);
            return cdc_err_set(err, CDC_E_CONN, "instance metadata at %s: empty token", base);
        }
        h = cdc_http_hdrs_addf(NULL, "X-aws-ec2-metadata-token: %s", t);
        OPENSSL_cleanse(out.data, out.len);
        if (h == NULL) {
            free(out.data);
            return cdc_err_set(err, CDC_E_NOMEM, "out of memory");
        }
    } else if (status != 404 && status != 405) {   /* 404/405: IMDSv1 only */
        free(out.data);
        return -1;
    }
    snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/", base);
    rc = call(p, "instance metadata role", "GET", url, h, NULL, tmo, NULL, &out, &status, err);
    if (rc == 0) {
        const char *r = out.data ? (const char *) out.data : "";

        snprintf(role, sizeof(role), "%.*s", (int) strcspn(r, "\r\n"), r);
        if (role[0] == '\0')
            rc = cdc_err_set(err, CDC_E_CONFIG,
                             "instance metadata at %s: the instance has no IAM role", base);
    }
    if (rc == 0) {
        snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/%s", base,
                 role);
        rc = call(p, "instance metadata credentials", "GET", url, h, NULL, tmo, NULL, &out,
                  &status, err);
        if (rc == 0)
            rc = take_json_creds(p, "instance metadata credentials", url, &out, true, err);
        if (rc == 0)
            snprintf(p->source, sizeof(p->source), "instance metadata (%s, role %s)", base,
                     role);
    }
    cdc_http_hdrs_free(h);   /* the header list is freed, not wiped: libcurl copies lines */
    free(out.data);
    return rc;
}

int
aws_fetch(cdc_aws_provider *p, cdc_err *err)
{
    switch (p->kind) {
    case SRC_WEBID:
        return fetch_webid(p, err);
    case SRC_CONTAINER:
        return fetch_container(p, err);
    case SRC_IMDS:
        return fetch_imds(p, err);
    case SRC_ASSUME:
        return fetch_assume(p, err);
    default:
        return 0;   /* static credentials: nothing to fetch again */
    }
}
