/*
 * AWS Signature Version 4: see aws_sigv4.h.  The steps are AWS's: canonical
 * request, string to sign, signing key (HMAC chain over date, region,
 * service, "aws4_request"), signature, Authorization header.
 */
#include "agent/core/net/aws_sigv4.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_clock.h"

void
cdc_sha256_hex(const void *p, size_t n, char hex[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    static const char digits[] = "0123456789abcdef";

    SHA256(p ? p : (const void *) "", n, md);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
}

void
cdc_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                unsigned char out[32])
{
    unsigned int len = 32;

    HMAC(EVP_sha256(), key, (int) key_len, msg, msg_len, out, &len);
}

static bool
unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

void
cdc_aws_uri_encode(cdc_buf *b, const char *s, size_t n, bool keep_slash)
{
    static const char digits[] = "0123456789ABCDEF";

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s[i];

        if (unreserved(c) || (keep_slash && c == '/')) {
            cdc_buf_putc(b, (char) c);
        } else {
            cdc_buf_putc(b, '%');
            cdc_buf_putc(b, digits[c >> 4]);
            cdc_buf_putc(b, digits[c & 15]);
        }
    }
}

/* Percent-decodes s[0..n) into b ('+' stays '+'). */
static void
uri_decode(cdc_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && cdc_hexval(s[i + 1]) >= 0 && cdc_hexval(s[i + 2]) >= 0) {
            cdc_buf_putc(b, (char) (cdc_hexval(s[i + 1]) * 16 + cdc_hexval(s[i + 2])));
            i += 2;
        } else {
            cdc_buf_putc(b, s[i]);
        }
    }
}

/* ---- URL parts --------------------------------------------------------- */

typedef struct url_parts {
    const char *host;   /* host[:port] without userinfo */
    size_t      host_len;
    const char *path;   /* from the first '/' up to '?' or '#' */
    size_t      path_len;
    const char *query;  /* after '?', up to '#' */
    size_t      query_len;
    bool        https;
} url_parts;

static int
split_url(const char *url, url_parts *u, cdc_err *err)
{
    const char *p = strstr(url, "://"), *auth, *end, *at;

    memset(u, 0, sizeof(*u));
    if (p == NULL)
        return cdc_err_set(err, CDC_E_INVAL, "AWS request URL has no scheme://");
    u->https = (size_t) (p - url) == 5 && strncasecmp(url, "https", 5) == 0;
    auth = p + 3;
    end = auth + strcspn(auth, "/?#");
    at = memchr(auth, '@', (size_t) (end - auth));
    if (at != NULL)
        auth = at + 1;
    if (end == auth)
        return cdc_err_set(err, CDC_E_INVAL, "AWS request URL has no host");
    u->host = auth;
    u->host_len = (size_t) (end - auth);
    /* libcurl leaves the default port out of Host: so does the signature */
    if (u->https && u->host_len > 4 && memcmp(end - 4, ":443", 4) == 0)
        u->host_len -= 4;
    else if (!u->https && u->host_len > 3 && memcmp(end - 3, ":80", 3) == 0)
        u->host_len -= 3;
    if (*end == '/') {
        u->path = end;
        u->path_len = strcspn(end, "?#");
        end += u->path_len;
    }
    if (*end == '?') {
        u->query = end + 1;
        u->query_len = strcspn(end + 1, "#");
    }
    return 0;
}

/* ---- canonical parts --------------------------------------------------- */

/* RFC 3986 dot-segment removal plus AWS's collapse of empty segments. */
static void
normalize_path(cdc_buf *out, const char *p, size_t n)
{
    const char *seg[256];
    size_t      len[256];
    size_t      k = 0, i = 0;
    bool        trailing = n > 0 && p[n - 1] == '/';

    while (i < n) {
        size_t j = i;

        while (j < n && p[j] != '/')
            j++;
        if (j - i == 0 || (j - i == 1 && p[i] == '.')) {
            /* skip */
        } else if (j - i == 2 && p[i] == '.' && p[i + 1] == '.') {
            if (k > 0)
                k--;
        } else if (k < 256) {
            seg[k] = p + i;
            len[k] = j - i;
            k++;
        }
        i = j + 1;
    }
    {
        /* a last segment "." or ".." names a directory: "/a/b/.." is "/a/" */
        size_t last = n;

        while (last > 0 && p[last - 1] != '/')
            last--;
        if ((n - last == 1 && p[last] == '.') ||
            (n - last == 2 && p[last] == '.' && p[last + 1] == '.'))
            trailing = true;
    }
    cdc_buf_putc(out, '/');
    for (size_t s = 0; s < k; s++) {
        cdc_buf_put(out, seg[s], len[s]);
        if (s + 1 < k || trailing)
            cdc_buf_putc(out, '/');
    }
}

static void
canonical_uri(cdc_buf *out, const url_parts *u, bool s3)
{
    cdc_buf norm = CDC_BUF_INIT;

    if (u->path_len == 0) {
        cdc_buf_putc(out, '/');
        return;
    }
    if (s3) {
        /* the URL carries the key encoded once; keep it, encoding only what is raw */
        for (size_t i = 0; i < u->path_len; i++) {
            char c = u->path[i];

            if (c == '%' || c == '/')
                cdc_buf_putc(out, c);
            else
                cdc_aws_uri_encode(out, &c, 1, false);
        }
        return;
    }
    normalize_path(&norm, u->path, u->path_len);
    if (norm.failed) {
        out->failed = true;
    } else {
        cdc_aws_uri_encode(out, (const char *) norm.data, norm.len, true);
    }
    free(norm.data);
}

typedef struct qparam {
    char *key;   /* encoded */
    char *val;   /* encoded */
} qparam;

static int
qparam_cmp(const void *a, const void *b)
{
    const qparam *x = a, *y = b;
    int           c = strcmp(x->key, y->key);

    return c != 0 ? c : strcmp(x->val, y->val);
}

static char *
reencode(const char *s, size_t n)
{
    cdc_buf dec = CDC_BUF_INIT, enc = CDC_BUF_INIT;

    uri_decode(&dec, s, n);
    cdc_aws_uri_encode(&enc, dec.data ? (const char *) dec.data : "", dec.len, false);
    cdc_buf_putc(&enc, '\0');
    free(dec.data);
    if (dec.failed || enc.failed) {
        free(enc.data);
        return NULL;
    }
    return (char *) enc.data;
}

static int
canonical_query(cdc_buf *out, const url_parts *u)
{
    qparam *ps = NULL;
    size_t  n = 0, cap = 0, i = 0;
    int     rc = 0;

    while (i < u->query_len) {
        const char *s = u->query + i;
        size_t      len = strcspn(s, "&#");
        const char *eq;

        if (len > u->query_len - i)
            len = u->query_len - i;
        if (len > 0) {
            if (n == cap) {
                qparam *np = realloc(ps, (cap = cap ? cap * 2 : 8) * sizeof(*ps));

                if (np == NULL) {
                    rc = -1;
                    break;
                }
                ps = np;
            }
            eq = memchr(s, '=', len);
            ps[n].key = reencode(s, eq ? (size_t) (eq - s) : len);
            ps[n].val = eq ? reencode(eq + 1, len - (size_t) (eq + 1 - s)) : reencode("", 0);
            n++;
            if (ps[n - 1].key == NULL || ps[n - 1].val == NULL) {
                rc = -1;
                break;
            }
        }
        i += len + 1;
    }
    if (rc == 0) {
        if (n > 0)
            qsort(ps, n, sizeof(*ps), qparam_cmp);
        for (i = 0; i < n; i++)
            cdc_buf_printf(out, "%s%s=%s", i ? "&" : "", ps[i].key, ps[i].val);
    }
    for (i = 0; i < n; i++) {
        free(ps[i].key);
        free(ps[i].val);
    }
    free(ps);
    return rc;
}

typedef struct chdr {
    char  *name;   /* lowercase */
    char  *value;  /* trimmed, inner runs of blanks collapsed; duplicates joined by ',' */
    size_t order;
} chdr;

static int
chdr_cmp(const void *a, const void *b)
{
    const chdr *x = a, *y = b;
    int         c = strcmp(x->name, y->name);

    return c != 0 ? c : (x->order < y->order ? -1 : x->order > y->order);
}

static char *
lower_dup(const char *s)
{
    char *d = strdup(s);

    for (char *p = d; p && *p; p++)
        *p = (char) tolower((unsigned char) *p);
    return d;
}

static char *
trim_dup(const char *s, size_t n)
{
    char  *d = malloc(n + 1);
    size_t k = 0;
    bool   blank = false;

    if (d == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            blank = true;
            continue;
        }
        if (blank && k > 0)
            d[k++] = ' ';
        blank = false;
        d[k++] = c;
    }
    d[k] = '\0';
    return d;
}

static void
free_hdrs(chdr *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(h[i].name);
        free(h[i].value);
    }
    free(h);
}

static char *
join(cdc_buf *b)
{
    cdc_buf_putc(b, '\0');
    if (b->failed) {
        free(b->data);
        b->data = NULL;
        return NULL;
    }
    return (char *) b->data;
}

/* The headers to sign: the caller's (but host, x-amz-date, authorization), host,
   x-amz-date and the optional ones, sorted by name.  @returns 0, -1 out of memory. */
static int
collect_headers(const cdc_sigv4_req *r, const cdc_aws_key *k, const url_parts *u,
                const cdc_sigv4 *out, chdr **hp, size_t *np)
{
    chdr  *h = calloc(r->n_hdrs + 4, sizeof(*h));
    size_t nh = 0;

    *hp = h;
    *np = 0;
    if (h == NULL)
        return -1;
    for (size_t i = 0; i < r->n_hdrs; i++) {
        if (strcasecmp(r->hdrs[i].name, "host") == 0 ||
            strcasecmp(r->hdrs[i].name, "x-amz-date") == 0 ||
            strcasecmp(r->hdrs[i].name, "authorization") == 0)
            continue;
        h[nh].name = lower_dup(r->hdrs[i].name);
        h[nh].value = trim_dup(r->hdrs[i].value, strlen(r->hdrs[i].value));
        nh++;
    }
    h[nh].name = strdup("host");
    h[nh++].value = trim_dup(u->host, u->host_len);
    h[nh].name = strdup("x-amz-date");
    h[nh++].value = strdup(out->amz_date);
    if (r->sign_body) {
        h[nh].name = strdup("x-amz-content-sha256");
        h[nh++].value = strdup(out->payload_hash);
    }
    if (out->session_token && !r->omit_session_token) {
        h[nh].name = strdup("x-amz-security-token");
        h[nh++].value = strdup(k->session_token);
    }
    *np = nh;
    for (size_t i = 0; i < nh; i++) {
        if (h[i].name == NULL || h[i].value == NULL)
            return -1;
        h[i].order = i;
    }
    qsort(h, nh, sizeof(*h), chdr_cmp);
    return 0;
}

/* Method, URI, query, headers (duplicates joined by ','), signed names, payload hash. */
static char *
canonical_request(const cdc_sigv4_req *r, const url_parts *u, const chdr *h, size_t nh,
                  const char *payload_hash, cdc_buf *signed_names)
{
    cdc_buf cr = CDC_BUF_INIT;
    size_t  i, j;

    cdc_buf_printf(&cr, "%s\n", r->method);
    canonical_uri(&cr, u, r->s3);
    cdc_buf_putc(&cr, '\n');
    if (canonical_query(&cr, u) < 0)
        cr.failed = true;
    cdc_buf_putc(&cr, '\n');
    for (i = 0; i < nh; i = j) {
        cdc_buf_printf(&cr, "%s:%s", h[i].name, h[i].value);
        if (signed_names->len)
            cdc_buf_putc(signed_names, ';');
        cdc_buf_puts(signed_names, h[i].name);
        for (j = i + 1; j < nh && strcmp(h[j].name, h[i].name) == 0; j++)
            cdc_buf_printf(&cr, ",%s", h[j].value);
        cdc_buf_putc(&cr, '\n');
    }
    cdc_buf_putc(&cr, '\n');
    cdc_buf_put(&cr, signed_names->data, signed_names->len);
    cdc_buf_printf(&cr, "\n%s", payload_hash);
    if (signed_names->failed)
        cr.failed = true;
    return join(&cr);
}

/* The signing key chain (secret -> date -> region -> service -> "aws4_request")
   applied to sts; @returns 0, -1 out of memory.  Intermediate keys are wiped. */
static int
signature(const char *secret_key, const char *date, const cdc_sigv4_req *r, const char *sts,
          unsigned char sig[32])
{
    cdc_buf       secret = CDC_BUF_INIT;
    unsigned char kdate[32], kregion[32], kservice[32], ksigning[32];

    cdc_buf_printf(&secret, "AWS4%s", secret_key);
    if (secret.failed) {
        free(secret.data);
        return -1;
    }
    cdc_hmac_sha256(secret.data, secret.len, date, 8, kdate);
    OPENSSL_cleanse(secret.data, secret.len);
    free(secret.data);
    cdc_hmac_sha256(kdate, 32, r->region, strlen(r->region), kregion);
    cdc_hmac_sha256(kregion, 32, r->service, strlen(r->service), kservice);
    cdc_hmac_sha256(kservice, 32, "aws4_request", 12, ksigning);
    cdc_hmac_sha256(ksigning, 32, sts, strlen(sts), sig);
    OPENSSL_cleanse(kdate, sizeof(kdate));
    OPENSSL_cleanse(kregion, sizeof(kregion));
    OPENSSL_cleanse(kservice, sizeof(kservice));
    OPENSSL_cleanse(ksigning, sizeof(ksigning));
    return 0;
}

int
cdc_sigv4_sign(const cdc_sigv4_req *r, const cdc_aws_key *k, cdc_sigv4 *out, cdc_err *err)
{
    url_parts     u;
    chdr         *h = NULL;
    size_t        nh = 0;
    cdc_buf       sts = CDC_BUF_INIT, signed_names = CDC_BUF_INIT, auth = CDC_BUF_INIT;
    char          date[9], scope[256], crhash[65];
    unsigned char sig[32];
    time_t        t;
    struct tm     tm;
    int           rc = -1;

    memset(out, 0, sizeof(*out));
    if (k == NULL || k->access_key_id == NULL || !k->access_key_id[0] ||
        k->secret_access_key == NULL || !k->secret_access_key[0])
        return cdc_err_set(err, CDC_E_INVAL, "AWS signing: no access key id or secret key");
    if (r->region == NULL || !r->region[0] || r->service == NULL || !r->service[0])
        return cdc_err_set(err, CDC_E_INVAL, "AWS signing: no region or service");
    if (r->method == NULL || r->url == NULL)
        return cdc_err_set(err, CDC_E_INVAL, "AWS signing: no method or URL");
    if (split_url(r->url, &u, err) < 0)
        return -1;

    t = (time_t) (r->time_s > 0 ? r->time_s : cdc_wall_ms() / 1000);
    gmtime_r(&t, &tm);
    strftime(out->amz_date, sizeof(out->amz_date), "%Y%m%dT%H%M%SZ", &tm);
    memcpy(date, out->amz_date, 8);
    date[8] = '\0';
    snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", date, r->region, r->service);
    if (r->sign_body && r->unsigned_payload)
        snprintf(out->payload_hash, sizeof(out->payload_hash), "UNSIGNED-PAYLOAD");
    else
        cdc_sha256_hex(r->body, r->body ? r->body_len : 0, out->payload_hash);
    out->content_sha256 = r->sign_body;
    if (k->session_token != NULL && k->session_token[0] != '\0')
        out->session_token = k->session_token;
    out->host = strndup(u.host, u.host_len);
    if (out->host == NULL || collect_headers(r, k, &u, out, &h, &nh) < 0)
        goto out;
    out->canonical_request = canonical_request(r, &u, h, nh, out->payload_hash, &signed_names);
    if (out->canonical_request == NULL)
        goto out;
    cdc_sha256_hex(out->canonical_request, strlen(out->canonical_request), crhash);
    cdc_buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", out->amz_date, scope, crhash);
    out->string_to_sign = join(&sts);
    if (out->string_to_sign == NULL ||
        signature(k->secret_access_key, date, r, out->string_to_sign, sig) < 0)
        goto out;
    cdc_buf_printf(&auth, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=", k->access_key_id,
                   scope);
    cdc_buf_put(&auth, signed_names.data, signed_names.len);
    cdc_buf_puts(&auth, ", Signature=");
    for (int i = 0; i < 32; i++)
        cdc_buf_printf(&auth, "%02x", sig[i]);
    out->authorization = join(&auth);
    if (out->authorization != NULL)
        rc = 0;
out:
    free(signed_names.data);
    free_hdrs(h, nh);
    if (rc < 0) {
        cdc_sigv4_free(out);
        cdc_err_set(err, CDC_E_NOMEM, "AWS signing: out of memory");
    }
    return rc;
}

void
cdc_sigv4_free(cdc_sigv4 *s)
{
    if (s == NULL)
        return;
    if (s->canonical_request)
        OPENSSL_cleanse(s->canonical_request, strlen(s->canonical_request));
    free(s->canonical_request);
    free(s->string_to_sign);
    free(s->authorization);
    free(s->host);
    memset(s, 0, sizeof(*s));
}

cdc_http_hdrs *
cdc_sigv4_add_lines(cdc_http_hdrs *h, const cdc_sigv4 *s)
{
    h = cdc_http_hdrs_addf(h, "X-Amz-Date: %s", s->amz_date);
    if (h && s->content_sha256)
        h = cdc_http_hdrs_addf(h, "X-Amz-Content-Sha256: %s", s->payload_hash);
    if (h && s->session_token)
        h = cdc_http_hdrs_addf(h, "X-Amz-Security-Token: %s", s->session_token);
    if (h)
        h = cdc_http_hdrs_addf(h, "Authorization: %s", s->authorization);
    return h;
}

cdc_http_hdrs *
cdc_sigv4_hdrs(const cdc_sigv4_req *r, const cdc_aws_key *k, cdc_err *err)
{
    cdc_sigv4      s;
    cdc_http_hdrs *h = NULL;

    if (cdc_sigv4_sign(r, k, &s, err) < 0)
        return NULL;
    for (size_t i = 0; i < r->n_hdrs; i++) {
        h = cdc_http_hdrs_addf(h, "%s: %s", r->hdrs[i].name, r->hdrs[i].value);
        if (h == NULL)
            break;
    }
    if (h != NULL || r->n_hdrs == 0)
        h = cdc_sigv4_add_lines(h, &s);
    cdc_sigv4_free(&s);
    if (h == NULL)
        cdc_err_set(err, CDC_E_NOMEM, "AWS signing: out of memory");
    return h;
}
