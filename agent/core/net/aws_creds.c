/*
 * AWS credentials chain, region and endpoints: see aws_creds.h.
 */
#include "agent/core/net/aws_creds.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_clock.h"

#define KV_MAX 64

typedef struct kv {
    char *k[KV_MAX];
    char *v[KV_MAX];
    int   n;
    bool  found;   /* the section exists */
} kv;

typedef enum src_kind {
    SRC_NONE = 0, SRC_ENV, SRC_WEBID, SRC_ASSUME, SRC_PROFILE, SRC_CONTAINER, SRC_IMDS
} src_kind;

struct cdc_aws_provider {
    cdc_aws_opts   o;
    char           profile[128];
    bool           profile_explicit;
    char           cred_path[1024];
    char           conf_path[1024];
    kv             pcred;          /* the profile's section of the credentials file */
    kv             pconf;          /* ... of the config file */
    char           region[64];
    src_kind       kind;
    /* web identity */
    char          *role_arn;
    char          *token_file;
    char          *session_name;
    /* AssumeRole: the source profile's long-term keys, the external id */
    char          *src_akid;
    char          *src_secret;
    char          *src_token;
    char          *external_id;
    char           src_profile[128];
    /* current credentials */
    char          *akid;
    char          *secret;
    char          *token;
    int64_t        expires_ms;
    char           source[320];
    char           last_error[512];
    bool           has_last_error;
    cdc_http_xfer *x;
    bool           http_init;
};

/* ---- small helpers ----------------------------------------------------- */

static const char *
env(const char *name)
{
    const char *v = getenv(name);

    return v && v[0] ? v : NULL;
}

static void
wipe_free(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

static char *
trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        *--e = '\0';
    return s;
}

static void
kv_clear(kv *t)
{
    for (int i = 0; i < t->n; i++) {
        free(t->k[i]);
        wipe_free(t->v[i]);
    }
    memset(t, 0, sizeof(*t));
}

static const char *
kv_get(const kv *t, const char *key)
{
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->k[i], key) == 0)
            return t->v[i][0] ? t->v[i] : NULL;
    return NULL;
}

/* The profile's value of key: credentials file first, then config file. */
static const char *
prof(const cdc_aws_provider *p, const char *key)
{
    const char *v = kv_get(&p->pcred, key);

    return v ? v : kv_get(&p->pconf, key);
}

/* Reads section `want` of an INI file into t; a missing file is not an error. */
static int
ini_read(const char *path, const char *want, const char *want2, kv *t, cdc_err *err)
{
    FILE  *f = fopen(path, "r");
    char   line[4096];
    bool   in = false;
    int    lineno = 0;

    memset(t, 0, sizeof(*t));
    if (f == NULL) {
        if (errno == ENOENT)
            return 0;
        return cdc_err_set(err, CDC_E_CONFIG, "cannot read AWS file %s: %s", path,
                           strerror(errno));
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *s, *eq;

        lineno++;
        if (line[0] == ' ' || line[0] == '\t')
            continue;           /* a sub-property (s3 = ...\n  key = v): not used */
        s = trim(line);
        if (*s == '\0' || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            char *name;

            if (end == NULL) {
                fclose(f);
                kv_clear(t);
                return cdc_err_set(err, CDC_E_CONFIG, "%s:%d: section header without ']'",
                                   path, lineno);
            }
            *end = '\0';
            name = trim(s + 1);
            {
                /* "profile   x" counts as "profile x" */
                char norm[256];

                if (strncmp(name, "profile", 7) == 0 && (name[7] == ' ' || name[7] == '\t'))
                    snprintf(norm, sizeof(norm), "profile %s", trim(name + 8));
                else
                    snprintf(norm, sizeof(norm), "%s", name);
                in = strcmp(norm, want) == 0 || (want2 && strcmp(norm, want2) == 0);
            }
            if (in)
                t->found = true;
            continue;
        }
        if (!in)
            continue;
        eq = strchr(s, '=');
        if (eq == NULL) {
            fclose(f);
            kv_clear(t);
            return cdc_err_set(err, CDC_E_CONFIG, "%s:%d: expected 'key = value' in [%s]",
                               path, lineno, want);
        }
        *eq = '\0';
        if (t->n < KV_MAX) {
            char *k = strdup(trim(s)), *v = strdup(trim(eq + 1));

            if (k == NULL || v == NULL) {
                free(k);
                free(v);
                fclose(f);
                kv_clear(t);
                return cdc_err_set(err, CDC_E_NOMEM, "out of memory reading %s", path);
            }
            for (char *c = k; *c; c++)
                *c = (char) tolower((unsigned char) *c);
            t->k[t->n] = k;
            t->v[t->n] = v;
            t->n++;
        }
    }
    OPENSSL_cleanse(line, sizeof(line));
    fclose(f);
    return 0;
}

/* Reads a small file (a token) whole, trimmed; NULL with err set. */
static char *
read_token_file(const char *path, const char *what, cdc_err *err)
{
    FILE   *f = fopen(path, "rb");
    cdc_buf b = CDC_BUF_INIT;
    char    chunk[4096];
    size_t  n;
    char   *t;

    if (f == NULL) {
        cdc_err_set(err, CDC_E_CONFIG, "cannot read %s %s: %s", what, path, strerror(errno));
        return NULL;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len < (1u << 20))
        cdc_buf_put(&b, chunk, n);
    OPENSSL_cleanse(chunk, sizeof(chunk));
    fclose(f);
    cdc_buf_putc(&b, '\0');
    if (b.failed) {
        free(b.data);
        cdc_err_set(err, CDC_E_NOMEM, "out of memory reading %s %s", what, path);
        return NULL;
    }
    t = trim((char *) b.data);
    if (*t == '\0') {
        free(b.data);
        cdc_err_set(err, CDC_E_CONFIG, "%s %s is empty", what, path);
        return NULL;
    }
    memmove(b.data, t, strlen(t) + 1);
    return (char *) b.data;
}

int64_t
cdc_aws_parse_time(const char *s)
{
    struct tm   tm;
    const char *rest;
    time_t      t;

    if (s == NULL)
        return -1;
    memset(&tm, 0, sizeof(tm));
    rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (rest == NULL)
        return -1;
    if (*rest == '.')
        for (rest++; isdigit((unsigned char) *rest); rest++) {
        }
    if (!(*rest == 'Z' || strcmp(rest, "+00:00") == 0 || *rest == '\0'))
        return -1;
    t = timegm(&tm);
    return (int64_t) t * 1000;
}

static void
set_creds(cdc_aws_provider *p, const char *akid, const char *secret, const char *token,
          int64_t expires_ms)
{
    wipe_free(p->akid);
    wipe_free(p->secret);
    wipe_free(p->token);
    p->akid = strdup(akid);
    p->secret = strdup(secret);
    p->token = token && token[0] ? strdup(token) : NULL;
    p->expires_ms = expires_ms;
    if (p->akid == NULL || p->secret == NULL) {   /* out of memory: no credentials */
        wipe_free(p->akid);
        wipe_free(p->secret);
        p->akid = p->secret = NULL;
    }
}

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
        set_creds(p, akid, secret, stok, exp_ms);
    } else {
        label = cdc_http_url_label(url);
        rc = cdc_err_set(err, CDC_E_CONN, "%s at %s: the answer has no %s", what, label,
                         cred == NULL ? "<Credentials>" : exp_ms < 0 ? "valid <Expiration>"
                                                                    : "complete <Credentials>");
        free(label);
    }
    wipe_free(akid);
    wipe_free(secret);
    wipe_free(stok);
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

    tok = read_token_file(p->token_file, "web identity token file", err);
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
    wipe_free(tok);
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
    set_creds(p, akid, secret, token, exp_ms);
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
    const char    *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char    *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    const char    *tokf = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char    *tokv = env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
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
        tok = read_token_file(tokf, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", err);
        if (tok == NULL)
            return -1;
    } else if (tokv) {
        tok = strdup(tokv);
    }
    if (tok) {
        if (strpbrk(tok, "\r\n")) {
            wipe_free(tok);
            return cdc_err_set(err, CDC_E_CONFIG,
                               "the container authorization token holds a line break");
        }
        h = cdc_http_hdrs_addf(NULL, "Authorization: %s", tok);
        wipe_free(tok);
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
    const char *e = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    const char *mode = env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
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
        char *t = out.data ? trim((char *) out.data) : NULL;

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

static int
fetch(cdc_aws_provider *p, cdc_err *err)
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

static int
set_webid(cdc_aws_provider *p, const char *role, const char *file, const char *session)
{
    char gen[64];

    snprintf(gen, sizeof(gen), "cdcagent-%lld", (long long) (cdc_wall_ms() / 1000));
    free(p->role_arn);
    free(p->token_file);
    free(p->session_name);
    p->role_arn = strdup(role);
    p->token_file = strdup(file);
    p->session_name = strdup(session ? session : gen);
    return p->role_arn && p->token_file && p->session_name ? 0 : -1;
}

/* role_arn + source_profile: the source profile must hold long-term keys (chains of
   roles are not followed).  Fetches the first credentials. */
static int
assume_setup(cdc_aws_provider *p, cdc_err *err)
{
    kv          sc, sf;
    char        want[200];
    const char *src = prof(p, "source_profile"), *id, *sec;
    int         rc = -1;

    snprintf(p->src_profile, sizeof(p->src_profile), "%s", src);
    snprintf(want, sizeof(want), "profile %s", src);
    if (ini_read(p->cred_path, src, NULL, &sc, err) < 0)
        return -1;
    if (ini_read(p->conf_path, strcmp(src, "default") == 0 ? "default" : want,
                 strcmp(src, "default") == 0 ? "profile default" : NULL, &sf, err) < 0) {
        kv_clear(&sc);
        return -1;
    }
    id = kv_get(&sc, "aws_access_key_id") ? kv_get(&sc, "aws_access_key_id")
                                           : kv_get(&sf, "aws_access_key_id");
    sec = kv_get(&sc, "aws_secret_access_key") ? kv_get(&sc, "aws_secret_access_key")
                                               : kv_get(&sf, "aws_secret_access_key");
    if (id == NULL || sec == NULL) {
        cdc_err_set(err, CDC_E_CONFIG, "profile %s: source_profile %s has no "
                    "aws_access_key_id/aws_secret_access_key in %s or %s (chains of roles are "
                    "not supported)", p->profile, src, p->cred_path, p->conf_path);
        goto out;
    }
    wipe_free(p->src_akid);
    wipe_free(p->src_secret);
    wipe_free(p->src_token);
    free(p->external_id);
    p->src_akid = strdup(id);
    p->src_secret = strdup(sec);
    p->src_token = kv_get(&sc, "aws_session_token") ? strdup(kv_get(&sc, "aws_session_token"))
                                                    : NULL;
    p->external_id = prof(p, "external_id") ? strdup(prof(p, "external_id")) : NULL;
    if (p->src_akid == NULL || p->src_secret == NULL ||
        set_webid(p, prof(p, "role_arn"), "", prof(p, "role_session_name")) < 0) {
        cdc_err_set(err, CDC_E_NOMEM, "out of memory");
        goto out;
    }
    p->kind = SRC_ASSUME;
    rc = fetch(p, err);
out:
    kv_clear(&sc);
    kv_clear(&sf);
    return rc;
}

/* The profile's keys or web identity; @returns 0 (found), 1 (nothing for credentials
   there), -1 with err set. */
static int
from_profile(cdc_aws_provider *p, cdc_err *err)
{
    static const char *unsup[] = { "role_arn", "source_profile", "credential_source",
                                   "credential_process", "sso_start_url", "sso_session" };
    const char        *id = prof(p, "aws_access_key_id");
    const char        *sec = prof(p, "aws_secret_access_key");
    const char        *where = kv_get(&p->pcred, "aws_access_key_id") ? p->cred_path
                                                                      : p->conf_path;

    if (id && sec) {
        set_creds(p, id, sec, prof(p, "aws_session_token"), 0);
        p->kind = SRC_PROFILE;
        snprintf(p->source, sizeof(p->source), "shared file %s, profile %s", where, p->profile);
        return p->akid ? 0 : cdc_err_set(err, CDC_E_NOMEM, "out of memory");
    }
    if (id || sec)
        return cdc_err_set(err, CDC_E_CONFIG, "profile %s in %s has %s but not %s", p->profile,
                           where, id ? "aws_access_key_id" : "aws_secret_access_key",
                           id ? "aws_secret_access_key" : "aws_access_key_id");
    if (prof(p, "role_arn") && prof(p, "web_identity_token_file")) {
        if (set_webid(p, prof(p, "role_arn"), prof(p, "web_identity_token_file"),
                      prof(p, "role_session_name")) < 0)
            return cdc_err_set(err, CDC_E_NOMEM, "out of memory");
        p->kind = SRC_WEBID;
        return fetch(p, err);
    }
    if (prof(p, "role_arn") && prof(p, "source_profile") && !prof(p, "credential_source"))
        return assume_setup(p, err);
    for (size_t i = 0; i < sizeof(unsup) / sizeof(unsup[0]); i++)
        if (prof(p, unsup[i]))
            return cdc_err_set(err, CDC_E_UNSUPPORTED,
                               "profile %s (%s, %s) uses %s: not supported yet; use keys, web "
                               "identity, or the container or instance role", p->profile,
                               p->cred_path, p->conf_path, unsup[i]);
    return 1;
}

/* Picks the first source that applies and fetches from it. */
static int
resolve(cdc_aws_provider *p, cdc_err *err)
{
    const char *a = env("AWS_ACCESS_KEY_ID"), *s = env("AWS_SECRET_ACCESS_KEY");
    const char *wf = env("AWS_WEB_IDENTITY_TOKEN_FILE");
    char        imds_why[512];
    cdc_err     e2;

    /* 1. environment */
    if (a && s) {
        set_creds(p, a, s, env("AWS_SESSION_TOKEN"), 0);
        p->kind = SRC_ENV;
        snprintf(p->source, sizeof(p->source), "environment (AWS_ACCESS_KEY_ID)");
        return p->akid ? 0 : cdc_err_set(err, CDC_E_NOMEM, "out of memory");
    }
    if (a || s)
        return cdc_err_set(err, CDC_E_CONFIG, "%s is set in the environment but %s is not",
                           a ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                           a ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
    /* 2. web identity from the environment */
    if (wf) {
        if (!env("AWS_ROLE_ARN"))
            return cdc_err_set(err, CDC_E_CONFIG, "AWS_WEB_IDENTITY_TOKEN_FILE is set (%s) but "
                               "AWS_ROLE_ARN is not", wf);
        if (set_webid(p, env("AWS_ROLE_ARN"), wf, env("AWS_ROLE_SESSION_NAME")) < 0)
            return cdc_err_set(err, CDC_E_NOMEM, "out of memory");
        p->kind = SRC_WEBID;
        return fetch(p, err);
    }
    /* 3. the profile in the shared files */
    if (p->pcred.found || p->pconf.found) {
        int rc = from_profile(p, err);

        if (rc <= 0)
            return rc;
    }
    /* 4. container */
    if (env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") || env("AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
        p->kind = SRC_CONTAINER;
        return fetch(p, err);
    }
    /* 5. instance metadata */
    {
        const char *dis = env("AWS_EC2_METADATA_DISABLED");

        if (dis && strcasecmp(dis, "true") == 0) {
            snprintf(imds_why, sizeof(imds_why), "disabled by AWS_EC2_METADATA_DISABLED");
        } else {
            p->kind = SRC_IMDS;
            if (fetch(p, &e2) == 0)
                return 0;
            p->kind = SRC_NONE;
            snprintf(imds_why, sizeof(imds_why), "%s", e2.msg);
        }
    }
    return cdc_err_set(err, CDC_E_CONFIG,
                       "no AWS credentials found: not in the environment (AWS_ACCESS_KEY_ID, "
                       "AWS_WEB_IDENTITY_TOKEN_FILE), not in profile %s (%s, %s), no container "
                       "endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/_FULL_URI), instance "
                       "metadata: %s", p->profile, p->cred_path, p->conf_path, imds_why);
}

/* ---- API --------------------------------------------------------------- */

static int
check_region(const char *r, const char *where, cdc_err *err)
{
    for (const char *c = r; *c; c++)
        if (!(islower((unsigned char) *c) || isdigit((unsigned char) *c) || *c == '-'))
            return cdc_err_set(err, CDC_E_CONFIG, "AWS region '%.64s' (%s) is not a region name "
                               "(lowercase letters, digits and '-', like eu-west-1)", r, where);
    if (strlen(r) >= 64)
        return cdc_err_set(err, CDC_E_CONFIG, "AWS region (%s) is too long", where);
    return 0;
}

cdc_aws_provider *
cdc_aws_provider_new(const cdc_aws_opts *o, cdc_err *err)
{
    cdc_aws_provider *p = calloc(1, sizeof(*p));
    const char       *home = env("HOME");
    const char       *prof_name, *rg, *where;
    char              want[200];

    if (p == NULL) {
        cdc_err_set(err, CDC_E_NOMEM, "out of memory");
        return NULL;
    }
    if (o)
        p->o = *o;
    if (p->o.timeout_ms <= 0)
        p->o.timeout_ms = 5000;
    if (p->o.imds_timeout_ms <= 0)
        p->o.imds_timeout_ms = 1000;
    if (p->o.refresh_before_s <= 0)
        p->o.refresh_before_s = 300;
    p->o.profile = p->o.region = NULL;   /* copied below; the caller's may go */

    prof_name = o && o->profile && o->profile[0] ? o->profile : env("AWS_PROFILE");
    p->profile_explicit = prof_name != NULL;
    snprintf(p->profile, sizeof(p->profile), "%s", prof_name ? prof_name : "default");
    if (env("AWS_SHARED_CREDENTIALS_FILE"))
        snprintf(p->cred_path, sizeof(p->cred_path), "%s", env("AWS_SHARED_CREDENTIALS_FILE"));
    else
        snprintf(p->cred_path, sizeof(p->cred_path), "%s/.aws/credentials", home ? home : "");
    if (env("AWS_CONFIG_FILE"))
        snprintf(p->conf_path, sizeof(p->conf_path), "%s", env("AWS_CONFIG_FILE"));
    else
        snprintf(p->conf_path, sizeof(p->conf_path), "%s/.aws/config", home ? home : "");

    snprintf(want, sizeof(want), "profile %s", p->profile);
    if (ini_read(p->cred_path, p->profile, NULL, &p->pcred, err) < 0 ||
        ini_read(p->conf_path, strcmp(p->profile, "default") == 0 ? "default" : want,
                 strcmp(p->profile, "default") == 0 ? "profile default" : NULL, &p->pconf,
                 err) < 0)
        goto fail;
    if (p->profile_explicit && !p->pcred.found && !p->pconf.found) {
        cdc_err_set(err, CDC_E_CONFIG, "AWS profile '%s' (%s) is in neither %s nor %s",
                    p->profile, o && o->profile && o->profile[0] ? "configured" : "AWS_PROFILE",
                    p->cred_path, p->conf_path);
        goto fail;
    }

    if (o && o->region && o->region[0])
        rg = o->region, where = "the configured region";
    else if ((rg = env("AWS_REGION")) != NULL)
        where = "AWS_REGION";
    else if ((rg = env("AWS_DEFAULT_REGION")) != NULL)
        where = "AWS_DEFAULT_REGION";
    else if ((rg = kv_get(&p->pconf, "region")) != NULL)
        where = p->conf_path;
    else
        rg = "", where = "";
    if (check_region(rg, where, err) < 0)
        goto fail;
    snprintf(p->region, sizeof(p->region), "%s", rg);
    if (cdc_http_global_init(err) < 0)
        goto fail;
    p->http_init = true;
    return p;
fail:
    cdc_aws_provider_free(p);
    return NULL;
}

void
cdc_aws_provider_free(cdc_aws_provider *p)
{
    if (p == NULL)
        return;
    kv_clear(&p->pcred);
    kv_clear(&p->pconf);
    free(p->role_arn);
    free(p->token_file);
    free(p->session_name);
    wipe_free(p->src_akid);
    wipe_free(p->src_secret);
    wipe_free(p->src_token);
    free(p->external_id);
    wipe_free(p->akid);
    wipe_free(p->secret);
    wipe_free(p->token);
    cdc_http_xfer_free(p->x);
    if (p->http_init)
        cdc_http_global_cleanup();
    free(p);
}

int
cdc_aws_provider_get(cdc_aws_provider *p, cdc_aws_key *key, cdc_err *err)
{
    int64_t now = cdc_wall_ms();

    memset(key, 0, sizeof(*key));
    if (p->kind == SRC_NONE || p->akid == NULL) {
        p->kind = SRC_NONE;
        if (resolve(p, err) < 0) {
            p->kind = SRC_NONE;   /* the next call looks again */
            return -1;
        }
    } else if (p->expires_ms != 0 &&
               now >= p->expires_ms - (int64_t) p->o.refresh_before_s * 1000) {
        cdc_err e2;

        if (fetch(p, &e2) < 0) {
            if (now >= p->expires_ms) {
                if (err)
                    *err = e2;
                return cdc_err_wrap(err, "AWS credentials from %s expired and could not be "
                                    "refreshed", p->source);
            }
            snprintf(p->last_error, sizeof(p->last_error), "%s", e2.msg);
            p->has_last_error = true;
        } else {
            p->has_last_error = false;
        }
    }
    if (p->akid == NULL)
        return cdc_err_set(err, CDC_E_NOMEM, "out of memory");
    key->access_key_id = p->akid;
    key->secret_access_key = p->secret;
    key->session_token = p->token;
    return 0;
}

const char *
cdc_aws_provider_region(const cdc_aws_provider *p)
{
    return p->region;
}

const char *
cdc_aws_provider_source(const cdc_aws_provider *p)
{
    return p->source;
}

int64_t
cdc_aws_provider_expires_ms(const cdc_aws_provider *p)
{
    return p->expires_ms;
}

const char *
cdc_aws_provider_last_error(const cdc_aws_provider *p)
{
    return p->has_last_error ? p->last_error : NULL;
}

char *
cdc_aws_endpoint(const cdc_aws_provider *p, const char *service, cdc_err *err)
{
    const char *ign = env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    bool        ignore = ign && strcasecmp(ign, "true") == 0;
    const char *url = NULL, *region;
    char        name[128], *out;
    size_t      i, n;

    if (!ignore && p) {
        const char *pi = kv_get(&p->pconf, "ignore_configured_endpoint_urls");

        ignore = pi && strcasecmp(pi, "true") == 0;
    }
    n = (size_t) snprintf(name, sizeof(name), "AWS_ENDPOINT_URL_");
    for (i = 0; service[i] && n + 1 < sizeof(name); i++)
        name[n++] = service[i] == ' ' || service[i] == '-'
                        ? '_' : (char) toupper((unsigned char) service[i]);
    name[n] = '\0';
    if (!ignore) {
        url = env(name);
        if (url == NULL)
            url = env("AWS_ENDPOINT_URL");
        if (url == NULL && p)
            url = kv_get(&p->pconf, "endpoint_url");
    }
    if (url) {
        out = strdup(url);
        if (out)
            for (n = strlen(out); n > 0 && out[n - 1] == '/'; n--)
                out[n - 1] = '\0';
    } else {
        region = p ? p->region : (env("AWS_REGION") ? env("AWS_REGION")
                                                    : env("AWS_DEFAULT_REGION"));
        if (region == NULL || region[0] == '\0') {
            if (strcmp(service, "sts") == 0)
                return strdup("https://sts.amazonaws.com");
            cdc_err_set(err, CDC_E_CONFIG, "no AWS region for %s: set the region, AWS_REGION "
                        "or AWS_DEFAULT_REGION, or an endpoint with AWS_ENDPOINT_URL_%s",
                        service, name + strlen("AWS_ENDPOINT_URL_"));
            return NULL;
        }
        if (asprintf(&out, "https://%s.%s.amazonaws.com%s", service, region,
                     strncmp(region, "cn-", 3) == 0 ? ".cn" : "") < 0)
            out = NULL;
    }
    if (out == NULL)
        cdc_err_set(err, CDC_E_NOMEM, "out of memory");
    return out;
}
