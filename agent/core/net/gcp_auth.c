/*
 * Google OAuth2 access tokens (gcp_auth.h): the emulator, a service-account
 * key exchanged through an RS256 JWT (RFC 7523, Google's "OAuth 2.0 for
 * Server to Server Applications"), or the metadata server.
 *
 * The one surprising rule: nothing that may hold a secret goes into a
 * message.  That covers the key file's text (jansson's "near '...'" shows
 * the text it choked on, which may be the private key, so only line and
 * column are kept), the JWT, and every 2xx answer (it holds the token).  A
 * refusal's body is reduced to its OAuth "error"/"error_description" fields,
 * or to its first line with every long token-like run replaced by "***".
 */
#include "agent/core/net/gcp_auth.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_mem.h"

#define KEY_FILE_MAX   (64 * 1024)  /* a service-account key is about 2.3 KB */
#define ANSWER_MAX     (64 * 1024)
#define JWT_LIFE_S     3600         /* Google's maximum */
#define TOKEN_MAX      4096         /* Google's are a few hundred bytes */

struct cdc_gcp_auth {
    cdc_gcp_source  source;
    char           *describe;
    char           *base_url;
    char           *scope;
    char           *token_url;      /* token_uri, or the metadata URL */
    char           *url_label;      /* token_url for messages */
    char           *key_file;       /* key file path */
    char           *client_email;
    char           *key_id;         /* private_key_id; NULL: none */
    EVP_PKEY       *pkey;
    int             refresh_early_s;
    int             timeout_ms;
    cdc_retry_conf  retry;
    cdc_http_tls    tls;
    bool            has_tls;

    /* The token: "Authorization: Bearer ..." and when it is due and gone (monotonic ms). */
    char           *hdr_line;
    int64_t         refresh_at_ms;
    int64_t         expires_at_ms;

    /* The request in flight (the multi borrows what it points at). */
    cdc_http_multi *multi;
    cdc_http_xfer  *xfer;
    cdc_http_hdrs  *hdrs;
    cdc_buf         req_body;
    cdc_buf         answer;
    cdc_http_req    req;
    bool            running;

    /* After a failure. */
    int             attempts;       /* failures in a row */
    int64_t         retry_at_ms;
    uint64_t        rng;
    cdc_err         last;
    uint64_t        fetched, failed;
};

/* ---- small helpers ------------------------------------------------------ */

static void
wipe_free(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

static void
wipe_buf(cdc_buf *b)
{
    if (b->data)
        OPENSSL_cleanse(b->data, b->cap);
    cdc_buf_reset(b);
}

static const char *
conf_str(const char *v, bool use_env, const char *env)
{
    if (v && v[0])
        return v;
    if (use_env) {
        const char *e = getenv(env);

        if (e && e[0])
            return e;
    }
    return NULL;
}

/* host[:port] with nothing else: no scheme, path, user or blank. */
static bool
plain_host(const char *h)
{
    if (h[0] == '\0' || h[0] == ':')
        return false;
    for (const char *p = h; *p; p++)
        if (!(isalnum((unsigned char) *p) || strchr(".-:[]_", *p)))
            return false;
    return true;
}

/* Appends the base64url (RFC 4648 §5, no padding) of p[0..n). */
static void
b64url(cdc_buf *b, const void *p, size_t n)
{
    static const char abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const uint8_t *s = p;
    size_t         i;

    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t) s[i] << 16 | (uint32_t) s[i + 1] << 8 | s[i + 2];

        cdc_buf_putc(b, abc[v >> 18 & 63]);
        cdc_buf_putc(b, abc[v >> 12 & 63]);
        cdc_buf_putc(b, abc[v >> 6 & 63]);
        cdc_buf_putc(b, abc[v & 63]);
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t) s[i] << 16;

        cdc_buf_putc(b, abc[v >> 18 & 63]);
        cdc_buf_putc(b, abc[v >> 12 & 63]);
    } else if (n - i == 2) {
        uint32_t v = (uint32_t) s[i] << 16 | (uint32_t) s[i + 1] << 8;

        cdc_buf_putc(b, abc[v >> 18 & 63]);
        cdc_buf_putc(b, abc[v >> 12 & 63]);
        cdc_buf_putc(b, abc[v >> 6 & 63]);
    }
}

/* No passphrase, ever: without this callback OpenSSL asks on the terminal. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void) buf;
    (void) size;
    (void) rwflag;
    (void) u;
    return -1;
}

/* ---- the key file ------------------------------------------------------- */

static const char *
json_str(json_t *o, const char *name)
{
    const char *s = json_string_value(json_object_get(o, name));

    return s && s[0] ? s : NULL;
}

/* Reads, checks and keeps what a service-account key holds. */
static int
load_key_file(cdc_gcp_auth *a, const char *path, cdc_err *err)
{
    FILE         *f = fopen(path, "rb");
    char         *text = NULL;
    size_t        n = 0;
    json_t       *o = NULL;
    json_error_t  je;
    BIO          *bio = NULL;
    const char   *type, *email, *pem, *uri, *kid;
    int           rc = -1;

    if (f == NULL)
        return cdc_err_set(err, CDC_E_CONFIG, "service-account key %s: cannot open: %s", path,
                           strerror(errno));
    text = cdc_xmalloc(KEY_FILE_MAX + 1);
    n = fread(text, 1, KEY_FILE_MAX + 1, f);
    if (ferror(f)) {
        cdc_err_set(err, CDC_E_CONFIG, "service-account key %s: cannot read: %s", path,
                    strerror(errno));
        goto out;
    }
    if (n > KEY_FILE_MAX) {
        cdc_err_set(err, CDC_E_CONFIG, "service-account key %s: larger than %d bytes, not a key",
                    path, KEY_FILE_MAX);
        goto out;
    }
    o = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je);
    if (o == NULL) {
        /* je.text may quote the file (the private key): line and column only. */
        cdc_err_set(err, CDC_E_CONFIG,
                    "service-account key %s: not valid JSON (line %d, column %d)", path,
                    je.line, je.column);
        goto out;
    }
    if (!json_is_object(o)) {
        cdc_err_set(err, CDC_E_CONFIG, "service-account key %s: not a JSON object", path);
        goto out;
    }
    type = json_str(o, "type");
    if (type == NULL || strcmp(type, "service_account") != 0) {
        cdc_err_set(err, CDC_E_CONFIG,
                    "service-account key %s: \"type\" is %s%.40s%s, expected \"service_account\"%s",
                    path, type ? "\"" : "", type ? type : "missing", type ? "\"" : "",
                    type && strcmp(type, "authorized_user") == 0
                        ? " (user credentials from gcloud are not supported)" : "");
        goto out;
    }
    if ((email = json_str(o, "client_email")) == NULL) {
        cdc_err_set(err, CDC_E_CONFIG, "service-account key %s: \"client_email\" is missing", path);
        goto out;
    }
    if ((pem = json_str(o, "private_key")) == NULL) {
        cdc_err_set(err, CDC_E_CONFIG, "service-account key %s: \"private_key\" is missing", path);
        goto out;
    }
    uri = json_str(o, "token_uri");
    if (uri && strncmp(uri, "https://", 8) != 0 && strncmp(uri, "http://", 7) != 0) {
        cdc_err_set(err, CDC_E_CONFIG,
                    "service-account key %s: \"token_uri\" is not an http(s) URL", path);
        goto out;
    }
    bio = BIO_new_mem_buf(pem, -1);
    if (bio == NULL) {
        cdc_err_set(err, CDC_E_NOMEM, "service-account key %s: out of memory", path);
        goto out;
    }
    a->pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    ERR_clear_error();  /* OpenSSL's queue names nothing secret, but nobody else must read it */
    if (a->pkey == NULL) {
        cdc_err_set(err, CDC_E_CONFIG,
                    "service-account key %s: \"private_key\" is not an unencrypted PEM private key",
                    path);
        goto out;
    }
    if (EVP_PKEY_get_base_id(a->pkey) != EVP_PKEY_RSA) {
        cdc_err_set(err, CDC_E_CONFIG, "service-account key %s: \"private_key\" is %s, not RSA",
                    path, EVP_PKEY_get0_type_name(a->pkey));
        goto out;
    }
    kid = json_str(o, "private_key_id");
    a->client_email = cdc_xstrdup(email);
    a->key_id = kid ? cdc_xstrdup(kid) : NULL;
    a->token_url = cdc_xstrdup(uri ? uri : CDC_GCP_TOKEN_URI);
    rc = 0;
out:
    if (f)
        fclose(f);
    BIO_free(bio);
    if (o) {
        /* The PEM text lives on in jansson's string until freed: wipe it first. */
        json_t *pk = json_object_get(o, "private_key");

        if (json_is_string(pk))
            OPENSSL_cleanse((char *) json_string_value(pk), json_string_length(pk));
        json_decref(o);
    }
    OPENSSL_cleanse(text, KEY_FILE_MAX + 1);
    free(text);
    return rc;
}

/* ---- new / free --------------------------------------------------------- */

cdc_gcp_auth *
cdc_gcp_auth_new(const cdc_gcp_auth_conf *conf, cdc_err *err)
{
    cdc_gcp_auth_conf z = { 0 };
    cdc_gcp_auth     *a;
    const char       *emu, *key, *md;
    cdc_buf           b = CDC_BUF_INIT;

    if (conf == NULL)
        conf = &z;
    a = cdc_xcalloc(1, sizeof(*a));
    a->scope = cdc_xstrdup(conf->scope ? conf->scope : CDC_GCP_SCOPE_PUBSUB);
    a->refresh_early_s = conf->refresh_early_s > 0 ? conf->refresh_early_s : 300;
    a->timeout_ms = conf->timeout_ms > 0 ? conf->timeout_ms : 10000;
    a->retry = conf->retry;
    a->rng = cdc_rng_seed();
    if (conf->tls) {
        a->tls = *conf->tls;
        a->has_tls = true;
    }
    emu = conf_str(conf->emulator_host, conf->use_env, "PUBSUB_EMULATOR_HOST");
    key = conf_str(conf->key_file, conf->use_env, "GOOGLE_APPLICATION_CREDENTIALS");
    md = conf_str(conf->metadata_host, conf->use_env, "GCE_METADATA_HOST");
    if (emu) {
        if (!plain_host(emu)) {
            cdc_err_set(err, CDC_E_CONFIG,
                        "PUBSUB_EMULATOR_HOST '%.100s': expected host:port (no scheme or path)",
                        emu);
            goto fail;
        }
        a->source = CDC_GCP_EMULATOR;
        cdc_buf_printf(&b, "http://%s", emu);
        a->base_url = cdc_xstrdup(cdc_buf_str(&b));
        cdc_buf_reset(&b);
        cdc_buf_printf(&b, "emulator %s", emu);
        a->describe = cdc_xstrdup(cdc_buf_str(&b));
        cdc_buf_free(&b);
        return a;
    }
    a->base_url = cdc_xstrdup(conf->service_url ? conf->service_url : CDC_GCP_PUBSUB_URL);
    if (key) {
        a->source = CDC_GCP_KEY_FILE;
        a->key_file = cdc_xstrdup(key);
        if (load_key_file(a, key, err) < 0)
            goto fail;
        cdc_buf_printf(&b, "service-account key %s (%s)", key, a->client_email);
    } else {
        if (md == NULL)
            md = CDC_GCP_METADATA_HOST;
        if (!plain_host(md)) {
            cdc_err_set(err, CDC_E_CONFIG,
                        "GCE_METADATA_HOST '%.100s': expected host[:port] (no scheme or path)", md);
            goto fail;
        }
        a->source = CDC_GCP_METADATA;
        cdc_buf_printf(&b, "http://%s/computeMetadata/v1/instance/service-accounts/default/token",
                       md);
        a->token_url = cdc_xstrdup(cdc_buf_str(&b));
        cdc_buf_reset(&b);
        cdc_buf_printf(&b, "metadata server %s", md);
    }
    if (cdc_buf_failed(&b)) {
        cdc_err_set(err, CDC_E_NOMEM, "GCP credentials: out of memory");
        goto fail;
    }
    a->describe = cdc_xstrdup(cdc_buf_str(&b));
    a->url_label = cdc_http_url_label(a->token_url);
    cdc_buf_free(&b);
    if ((a->multi = cdc_http_multi_new(err)) == NULL || (a->xfer = cdc_http_xfer_new(err)) == NULL)
        goto fail;
    return a;
fail:
    cdc_buf_free(&b);
    cdc_gcp_auth_free(a);
    return NULL;
}

void
cdc_gcp_auth_free(cdc_gcp_auth *a)
{
    if (a == NULL)
        return;
    if (a->running)
        cdc_http_multi_remove(a->multi, a->xfer);
    cdc_http_xfer_free(a->xfer);    /* also its copy of the request's headers */
    cdc_http_multi_free(a->multi);
    cdc_http_hdrs_free(a->hdrs);
    wipe_buf(&a->req_body);
    cdc_buf_free(&a->req_body);
    wipe_buf(&a->answer);
    cdc_buf_free(&a->answer);
    wipe_free(a->hdr_line);
    EVP_PKEY_free(a->pkey);
    free(a->describe);
    free(a->base_url);
    free(a->scope);
    free(a->token_url);
    free(a->url_label);
    free(a->key_file);
    free(a->client_email);
    free(a->key_id);
    free(a);
}

cdc_gcp_source
cdc_gcp_auth_source(const cdc_gcp_auth *a)
{
    return a->source;
}

const char *
cdc_gcp_auth_describe(const cdc_gcp_auth *a)
{
    return a->describe;
}

const char *
cdc_gcp_auth_base_url(const cdc_gcp_auth *a)
{
    return a->base_url;
}

/* ---- the request -------------------------------------------------------- */

/* Appends header.claims.signature (RS256) to out; the signature covers only what is
   appended here, not what out held before. */
static int
make_jwt(cdc_gcp_auth *a, cdc_buf *out, cdc_err *err)
{
    int64_t     now = cdc_wall_ms() / 1000;
    json_t     *hdr = json_pack("{s:s, s:s}", "alg", "RS256", "typ", "JWT");
    json_t     *cl = json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", a->client_email, "scope",
                               a->scope, "aud", a->token_url, "iat", (json_int_t) now, "exp",
                               (json_int_t) (now + JWT_LIFE_S));
    char       *hs = NULL, *cs = NULL;
    EVP_MD_CTX *md = NULL;
    uint8_t    *sig = NULL;
    size_t      siglen = 0, start = out->len;
    int         rc = -1;

    if (hdr && a->key_id)
        json_object_set_new(hdr, "kid", json_string(a->key_id));
    if (hdr == NULL || cl == NULL ||
        (hs = json_dumps(hdr, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL ||
        (cs = json_dumps(cl, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL) {
        cdc_err_set(err, CDC_E_NOMEM, "%s: building the JWT: out of memory", a->describe);
        goto out;
    }
    b64url(out, hs, strlen(hs));
    cdc_buf_putc(out, '.');
    b64url(out, cs, strlen(cs));
    if (cdc_buf_failed(out)) {
        cdc_err_set(err, CDC_E_NOMEM, "%s: building the JWT: out of memory", a->describe);
        goto out;
    }
    if ((md = EVP_MD_CTX_new()) == NULL ||
        EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, a->pkey) != 1 ||
        EVP_DigestSign(md, NULL, &siglen, out->data + start, out->len - start) != 1 ||
        (sig = malloc(siglen)) == NULL ||
        EVP_DigestSign(md, sig, &siglen, out->data + start, out->len - start) != 1) {
        unsigned long e = ERR_peek_error();

        cdc_err_set(err, CDC_E_CONFIG, "%s: signing the JWT failed: %s", a->describe,
                    e ? ERR_reason_error_string(e) : "out of memory");
        ERR_clear_error();
        goto out;
    }
    cdc_buf_putc(out, '.');
    b64url(out, sig, siglen);
    if (cdc_buf_failed(out)) {
        cdc_err_set(err, CDC_E_NOMEM, "%s: building the JWT: out of memory", a->describe);
        goto out;
    }
    rc = 0;
out:
    free(sig);
    EVP_MD_CTX_free(md);
    free(hs);
    free(cs);
    json_decref(hdr);
    json_decref(cl);
    return rc;
}

/* Prepares a->req for one token request. */
static int
prepare(cdc_gcp_auth *a, cdc_err *err)
{
    cdc_http_hdrs_free(a->hdrs);
    a->hdrs = NULL;
    wipe_buf(&a->req_body);
    wipe_buf(&a->answer);
    memset(&a->req, 0, sizeof(a->req));
    if (a->source == CDC_GCP_KEY_FILE) {
        cdc_buf_puts(&a->req_body,
                     "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=");
        if (make_jwt(a, &a->req_body, err) < 0)  /* base64url and dots: nothing to escape */
            return -1;
        a->hdrs = cdc_http_hdrs_add(NULL, "Content-Type: application/x-www-form-urlencoded");
        a->req.method = "POST";
        a->req.body = a->req_body.data;
        a->req.body_len = a->req_body.len;
    } else {
        a->hdrs = cdc_http_hdrs_add(NULL, "Metadata-Flavor: Google");
        a->req.method = "GET";
    }
    if (a->hdrs == NULL)
        return cdc_err_set(err, CDC_E_NOMEM, "%s: out of memory", a->describe);
    a->req.url = a->token_url;
    a->req.hdrs = a->hdrs;
    a->req.timeout_ms = a->timeout_ms;
    a->req.tls = a->has_tls ? &a->tls : NULL;
    a->req.body_out = &a->answer;
    a->req.body_max = ANSWER_MAX;
    a->req.user_agent = "cdcagent/" CDC_VERSION;
    return 0;
}

/* A copy of s (one line, at most n bytes) with runs of 32+ token characters as "***". */
static void
scrub_line(char *out, size_t outsz, const char *s, size_t n)
{
    size_t o = 0, i = 0;

    while (i < n && s[i] != '\r' && s[i] != '\n' && o + 4 < outsz) {
        size_t j = i;

        while (j < n && (isalnum((unsigned char) s[j]) || strchr("-_.+/=~", s[j])))
            j++;
        if (j - i >= 32) {
            memcpy(out + o, "***", 3);
            o += 3;
            i = j;
        } else if (j > i) {
            size_t k = j - i < outsz - o - 1 ? j - i : outsz - o - 1;

            memcpy(out + o, s + i, k);
            o += k;
            i = j;
        } else {
            out[o++] = isprint((unsigned char) s[i]) ? s[i] : '?';
            i++;
        }
    }
    out[o] = '\0';
}

/* The reason a refusal gives, without secrets. */
static void
refusal_reason(const cdc_http_resp *r, const cdc_buf *body, char *out, size_t n)
{
    json_t     *o = body->len ? json_loadb((const char *) body->data, body->len, 0, NULL) : NULL;
    const char *e = o ? json_string_value(json_object_get(o, "error")) : NULL;
    const char *d = o ? json_string_value(json_object_get(o, "error_description")) : NULL;
    char        es[120] = "", ds[200] = "";

    if (e == NULL && o && json_is_object(json_object_get(o, "error")))    /* Google API style */
        d = json_string_value(json_object_get(json_object_get(o, "error"), "message"));
    if (e)
        scrub_line(es, sizeof(es), e, strlen(e));
    if (d)
        scrub_line(ds, sizeof(ds), d, strlen(d));
    if (e || d)
        snprintf(out, n, "HTTP %ld: %s%s%s%s", r->status, es, e && d ? ": " : "", ds,
                 e && strcmp(e, "invalid_grant") == 0
                     ? " (the key may be deleted or disabled, or this host's clock off: "
                       "Google checks the JWT's iat and exp)"
                     : "");
    else {
        char line[200];

        scrub_line(line, sizeof(line), r->head, r->head_len);
        snprintf(out, n, "HTTP %ld%s%s", r->status, line[0] ? ": " : "", line);
    }
    json_decref(o);
}

/* Takes the token out of a 2xx answer. */
static int
take_token(cdc_gcp_auth *a, cdc_err *err)
{
    json_t     *o = json_loadb((const char *) a->answer.data, a->answer.len, 0, NULL);
    json_t     *tok = o ? json_object_get(o, "access_token") : NULL;
    json_t     *exp = o ? json_object_get(o, "expires_in") : NULL;
    const char *type = o ? json_string_value(json_object_get(o, "token_type")) : NULL;
    const char *t;
    int64_t     life_ms, now = cdc_mono_ms();
    cdc_buf     line = CDC_BUF_INIT;
    int         rc = -1;

    if (o == NULL || !json_is_object(o)) {
        cdc_err_set(err, CDC_E_CONFIG, "%s: %s answered with something that is not a JSON object",
                    a->describe, a->url_label);
        goto out;
    }
    t = json_string_value(tok);
    if (t == NULL || t[0] == '\0' || json_string_length(tok) > TOKEN_MAX) {
        cdc_err_set(err, CDC_E_CONFIG, "%s: %s answered without a usable \"access_token\"",
                    a->describe, a->url_label);
        goto out;
    }
    for (const char *p = t; *p; p++)
        if (!isgraph((unsigned char) *p)) {  /* it goes into a header line */
            cdc_err_set(err, CDC_E_CONFIG,
                        "%s: %s answered an \"access_token\" with a blank or control character",
                        a->describe, a->url_label);
            goto out;
        }
    if (type && strcasecmp(type, "Bearer") != 0) {
        cdc_err_set(err, CDC_E_CONFIG, "%s: %s answered token_type \"%.20s\", expected Bearer",
                    a->describe, a->url_label, type);
        goto out;
    }
    if (!json_is_integer(exp) || json_integer_value(exp) <= 0) {
        cdc_err_set(err, CDC_E_CONFIG, "%s: %s answered without a positive \"expires_in\"",
                    a->describe, a->url_label);
        goto out;
    }
    cdc_buf_printf(&line, "Authorization: Bearer %s", t);
    if (cdc_buf_failed(&line)) {
        cdc_err_set(err, CDC_E_NOMEM, "%s: out of memory", a->describe);
        goto out;
    }
    life_ms = (int64_t) json_integer_value(exp) * 1000;
    wipe_free(a->hdr_line);
    a->hdr_line = (char *) line.data;
    line = (cdc_buf) CDC_BUF_INIT;
    a->expires_at_ms = now + life_ms;
    /* Early enough for a few retries; half the life when the life is short. */
    a->refresh_at_ms = life_ms > 2000LL * a->refresh_early_s
                           ? a->expires_at_ms - 1000LL * a->refresh_early_s
                           : now + life_ms / 2;
    a->fetched++;
    a->attempts = 0;
    a->retry_at_ms = 0;
    cdc_err_clear(&a->last);
    rc = 0;
out:
    if (json_is_string(tok))
        OPENSSL_cleanse((char *) json_string_value(tok), json_string_length(tok));
    json_decref(o);
    wipe_buf(&line);
    cdc_buf_free(&line);
    return rc;
}

/* Judges the finished request in a->xfer: keeps the token or records why not. */
static int
finish(cdc_gcp_auth *a, cdc_err *err)
{
    cdc_http_resp r = *cdc_http_xfer_resp(a->xfer);
    char          why[320];
    int           rc;

    a->running = false;
    if (!r.answered) {
        /* Off GCP the metadata host does not resolve: say what else would do. */
        rc = cdc_err_set(&a->last, r.timed_out ? CDC_E_TIMEOUT : CDC_E_CONN,
                         "%s: %s did not answer: %s%s", a->describe, a->url_label, r.error,
                         a->source == CDC_GCP_METADATA
                             ? " (outside GCE/GKE set GOOGLE_APPLICATION_CREDENTIALS to a "
                               "service-account key, or PUBSUB_EMULATOR_HOST)"
                             : "");
        if (r.broken_setup)
            a->last.code = CDC_E_CONFIG;
    } else if (cdc_http_classify(&r) == CDC_HTTP_OK) {
        rc = take_token(a, &a->last);
    } else {
        refusal_reason(&r, &a->answer, why, sizeof(why));
        rc = cdc_err_set(&a->last,
                         cdc_http_classify(&r) == CDC_HTTP_RETRY ? CDC_E_CONN : CDC_E_CONFIG,
                         "%s: %s refused the token request: %s", a->describe, a->url_label, why);
    }
    OPENSSL_cleanse(&r, sizeof(r));     /* the head of a 2xx is the token */
    wipe_buf(&a->answer);
    wipe_buf(&a->req_body);
    if (rc < 0) {
        a->failed++;
        a->attempts++;
        a->retry_at_ms = cdc_mono_ms() + cdc_retry_delay_ms(&a->retry, a->attempts, &a->rng);
        if (err)
            *err = a->last;
    }
    return rc;
}

static bool
due(const cdc_gcp_auth *a, int64_t now)
{
    return a->hdr_line == NULL || now >= a->refresh_at_ms;
}

int
cdc_gcp_auth_fetch(cdc_gcp_auth *a, cdc_err *err)
{
    int max = a->retry.max_attempts > 0 ? a->retry.max_attempts : 5;

    if (a->source == CDC_GCP_EMULATOR || !due(a, cdc_mono_ms()))
        return 0;
    if (a->running) {     /* a refresh of _step: give it up and ask again, blocking */
        cdc_http_multi_remove(a->multi, a->xfer);
        a->running = false;
    }
    for (int i = 1;; i++) {
        cdc_err e = { 0 };

        if (prepare(a, err) < 0)
            return -1;
        if (cdc_http_perform(a->xfer, &a->req, NULL, err) < 0)
            return -1;
        if (finish(a, &e) == 0)
            return 0;
        if (i >= max || !cdc_rc_retriable(e.code)) {
            if (err)
                *err = e;
            if (i > 1)
                cdc_err_wrap(err, "after %d attempts", i);
            return -1;
        }
        cdc_sleep_ms(cdc_retry_delay_ms(&a->retry, i, &a->rng));
    }
}

void
cdc_gcp_auth_step(cdc_gcp_auth *a)
{
    int64_t now = cdc_mono_ms();

    if (a->source == CDC_GCP_EMULATOR)
        return;
    if (a->running) {
        cdc_http_multi_perform(a->multi);
        if (cdc_http_multi_done(a->multi) == a->xfer)
            finish(a, NULL);
        return;
    }
    if (!due(a, now) || now < a->retry_at_ms)
        return;
    if (prepare(a, &a->last) < 0 ||
        cdc_http_multi_add(a->multi, a->xfer, &a->req, &a->last) < 0) {
        a->failed++;
        a->attempts++;
        a->retry_at_ms = now + cdc_retry_delay_ms(&a->retry, a->attempts, &a->rng);
        return;
    }
    a->running = true;
    cdc_http_multi_perform(a->multi);
}

int64_t
cdc_gcp_auth_next_ms(const cdc_gcp_auth *a)
{
    int64_t now = cdc_mono_ms(), at;

    if (a->source == CDC_GCP_EMULATOR)
        return -1;
    if (a->running)
        return 0;
    at = a->hdr_line ? a->refresh_at_ms : 0;
    if (a->retry_at_ms > at)
        at = a->retry_at_ms;
    return at > now ? at - now : 0;
}

int
cdc_gcp_auth_header(cdc_gcp_auth *a, const char **line, cdc_err *err)
{
    *line = NULL;
    if (a->source == CDC_GCP_EMULATOR)
        return 0;
    if (a->hdr_line && cdc_mono_ms() < a->expires_at_ms) {
        *line = a->hdr_line;
        return 0;
    }
    if (a->last.msg[0]) {
        if (err)
            *err = a->last;
        return cdc_err_wrap(err, "no valid GCP access token");
    }
    return cdc_err_set(err, CDC_E_CONN, "%s: no valid GCP access token yet%s", a->describe,
                       a->hdr_line ? " (the last one expired)" : "");
}

void
cdc_gcp_auth_stats_get(const cdc_gcp_auth *a, cdc_gcp_auth_stats *st)
{
    memset(st, 0, sizeof(*st));
    st->fetched = a->fetched;
    st->failed = a->failed;
    st->refreshing = a->running;
    st->expires_in_ms = a->hdr_line ? a->expires_at_ms - cdc_mono_ms() : 0;
}
