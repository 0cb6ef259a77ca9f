/*
 * Confluent Schema Registry client (see registry.h): the registry protocol
 * over the program's HTTP client (agent/core/net/http.h).  One transfer is
 * reused for every request, so the connection stays open between calls.  Each
 * call goes through sr_call(), which owns retries: what http.h classes as
 * retriable (no answer, timeouts, 408, 429 -- Confluent Cloud's rate limit --
 * and 5xx) is tried again after the program's backoff (agent/core/cdc_retry.h),
 * on the next URL of the list; anything else is the registry's final word,
 * which the per-endpoint functions turn into a message.
 *
 * Registered ids are cached by (subject, schema text): the agent asks once per
 * relation version and the cache answers after that.  Texts are compared
 * byte for byte; two spellings of one schema cost one extra request, and the
 * registry still answers both with the same id.
 */
#include "schemas/registry.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_counters.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"
#include "agent/core/cdc_retry.h"
#include "agent/core/net/http.h"

#define SR_CONTENT_TYPE "application/vnd.schemaregistry.v1+json"
#define SR_MAX_BODY (16u << 20) /* a registry answer larger than this is not one */

typedef struct sr_url {
    char *base;  /* without a trailing '/' */
    char *shown; /* base with any user:password@ replaced by ***@ */
} sr_url;

typedef struct sr_entry {
    struct sr_entry *next;
    uint64_t         hash;
    uint32_t         id;
    char            *subject;
    char            *schema;
} sr_entry;

struct sr_client {
    cdc_http_xfer     *x;
    cdc_http_hdrs     *headers;
    cdc_http_tls       tls;     /* strings owned */
    cdc_http_basic     basic;   /* strings owned */
    bool               fresh;   /* the last attempt broke: do not reuse its connection */
    sr_url            *urls;
    size_t             nurls, cur;
    int                timeout_ms, max_attempts;
    cdc_retry_conf     retry;
    bool               has_client_cert;
    uint64_t           rng;
    uint64_t           nrequests;
    cdc_buf            body; /* the last answer */
    sr_entry         **buckets; /* id cache, chained, power-of-two size */
    size_t             nbuckets, nentries;
};

/* The result of one exchange that got an HTTP answer. */
typedef struct sr_reply {
    long        status;
    json_t     *json;    /* parsed body, or NULL when it is not JSON */
    int         code;    /* error_code of an error body, else 0 */
    const char *message; /* message of an error body (borrowed from json), or "" */
    const char *url;     /* redacted base URL that answered (borrowed) */
    char        start[64]; /* the body's start, control characters as spaces: for messages */
} sr_reply;

/* ---- URLs -------------------------------------------------------------- */

static int
sr_parse_urls(sr_client *c, const char *list, cdc_err *err)
{
    const char *p = list;

    while (*p) {
        size_t      n = strcspn(p, ",");
        const char *s = p, *e = p + n;

        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '/'))
            e--;
        if (e > s) {
            char *base = cdc_xstrndup(s, (size_t)(e - s));

            c->urls = cdc_xrealloc(c->urls, (c->nurls + 1) * sizeof(*c->urls));
            c->urls[c->nurls].base = base;
            c->urls[c->nurls].shown = cdc_http_redact_url(base);
            c->nurls++;
            if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0)
                return cdc_err_set(err, CDC_E_CONFIG,
                                   "schema registry URL %s: must start with http:// or https://",
                                   c->urls[c->nurls - 1].shown);
        }
        p += n + (p[n] == ',');
    }
    if (c->nurls == 0)
        return cdc_err_set(err, CDC_E_CONFIG, "schema registry URL is empty");
    return 0;
}

/* ---- the id cache ------------------------------------------------------ */

static uint64_t
sr_hash(const char *subject, const char *schema)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a, the subject's NUL included */

    for (const char *p = subject;; p++) {
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
        if (!*p)
            break;
    }
    for (const char *p = schema; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    return h;
}

static sr_entry *
sr_cache_find(const sr_client *c, uint64_t h, const char *subject, const char *schema)
{
    for (sr_entry *e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->next)
        if (e->hash == h && strcmp(e->subject, subject) == 0 && strcmp(e->schema, schema) == 0)
            return e;
    return NULL;
}

static void
sr_cache_put(sr_client *c, uint64_t h, const char *subject, const char *schema, uint32_t id)
{
    sr_entry *e = cdc_xcalloc(1, sizeof(*e));

    if (c->nentries >= c->nbuckets) { /* keep chains short: double and rehash */
        size_t     n = c->nbuckets * 2;
        sr_entry **nb = cdc_xcalloc(n, sizeof(*nb));

        for (size_t i = 0; i < c->nbuckets; i++) {
            for (sr_entry *x = c->buckets[i], *next; x; x = next) {
                next = x->next;
                x->next = nb[x->hash & (n - 1)];
                nb[x->hash & (n - 1)] = x;
            }
        }
        free(c->buckets);
        c->buckets = nb;
        c->nbuckets = n;
    }
    e->hash = h;
    e->id = id;
    e->subject = cdc_xstrdup(subject);
    e->schema = cdc_xstrdup(schema);
    e->next = c->buckets[h & (c->nbuckets - 1)];
    c->buckets[h & (c->nbuckets - 1)] = e;
    c->nentries++;
}

static void
sr_cache_forget(sr_client *c, uint64_t h, const char *subject, const char *schema)
{
    for (sr_entry **pp = &c->buckets[h & (c->nbuckets - 1)]; *pp; pp = &(*pp)->next) {
        sr_entry *e = *pp;

        if (e->hash == h && strcmp(e->subject, subject) == 0 && strcmp(e->schema, schema) == 0) {
            *pp = e->next;
            free(e->subject);
            free(e->schema);
            free(e);
            c->nentries--;
            return;
        }
    }
}

/* ---- the client -------------------------------------------------------- */

/* A copy of s, or NULL for NULL. */
static char *
sr_dup(const char *s)
{
    return s ? cdc_xstrdup(s) : NULL;
}

sr_client *
sr_client_new(const sr_conf *conf, cdc_err *err)
{
    sr_client *c;

    if (!conf || !conf->url)
        return cdc_err_set(err, CDC_E_CONFIG, "schema registry URL is not set"), NULL;
    if (cdc_http_global_init(err) < 0)
        return NULL;
    c = cdc_xcalloc(1, sizeof(*c));
    c->timeout_ms = conf->timeout_ms > 0 ? conf->timeout_ms : 30000;
    c->max_attempts = conf->max_attempts > 0 ? conf->max_attempts : 5;
    c->retry = (cdc_retry_conf) {
        .max_attempts = c->max_attempts,
        .initial_ms = (int)((conf->initial_wait_s > 0 ? conf->initial_wait_s : 0.5) * 1000),
        .max_ms = (int)((conf->max_wait_s > 0 ? conf->max_wait_s : 10.0) * 1000),
        .multiplier = 2.0,
        .jitter = true,
    };
    c->rng = cdc_rng_seed();
    c->nbuckets = 64;
    c->buckets = cdc_xcalloc(c->nbuckets, sizeof(*c->buckets));
    if (sr_parse_urls(c, conf->url, err) < 0)
        goto fail;
    c->x = cdc_http_xfer_new(err);
    if (!c->x)
        goto fail;
    c->headers = cdc_http_hdrs_add(NULL, "Content-Type: " SR_CONTENT_TYPE);
    c->headers = cdc_http_hdrs_add(c->headers, "Accept: " SR_CONTENT_TYPE ", application/vnd."
                                   "schemaregistry+json; qs=0.9, application/json; qs=0.5");
    /* no "Expect: 100-continue" round trip before a POST body */
    c->headers = cdc_http_hdrs_add(c->headers, "Expect:");
    if (!c->headers) {
        cdc_err_set(err, CDC_E_NOMEM, "schema registry client: curl initialisation failed");
        goto fail;
    }
    c->basic.user = sr_dup(conf->basic_auth_user);
    c->basic.password = sr_dup(conf->basic_auth_user ? conf->basic_auth_password : NULL);
    c->tls = (cdc_http_tls) { .ca_file = sr_dup(conf->ca_file),
                              .client_cert = sr_dup(conf->cert_file),
                              .client_key = sr_dup(conf->key_file),
                              .insecure = conf->tls_insecure };
    c->has_client_cert = conf->cert_file != NULL;
    return c;
fail:
    sr_client_free(c);
    return NULL;
}

/* Frees a string that may hold a secret. */
static void
sr_free_secret(const char *s)
{
    if (s)
        explicit_bzero((char *)s, strlen(s));
    free((char *)s);
}

void
sr_client_free(sr_client *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nbuckets; i++) {
        for (sr_entry *e = c->buckets[i], *next; e; e = next) {
            next = e->next;
            free(e->subject);
            free(e->schema);
            free(e);
        }
    }
    free(c->buckets);
    for (size_t i = 0; i < c->nurls; i++) {
        free(c->urls[i].base);
        free(c->urls[i].shown);
    }
    free(c->urls);
    cdc_http_xfer_free(c->x);
    cdc_http_hdrs_free(c->headers);
    sr_free_secret(c->basic.user);
    sr_free_secret(c->basic.password);
    free((char *)c->tls.ca_file);
    free((char *)c->tls.client_cert);
    free((char *)c->tls.client_key);
    cdc_buf_free(&c->body);
    free(c);
    cdc_http_global_cleanup();
}

uint64_t
sr_requests(const sr_client *c)
{
    return c->nrequests;
}

void
sr_version_clear(sr_version *v)
{
    free(v->schema);
    v->schema = NULL;
}

/* ---- one exchange, with retries ---------------------------------------- */

/* Under TLS 1.3 a server that wants a client certificate refuses it only after the
 * handshake, so the refusal reaches curl as a send or receive error on the request (which of
 * them, and whether the alert's text survives, is a race).  When no client certificate is
 * configured, say what the likely cause is. */
static const char *
sr_tls_hint(const sr_client *c, const sr_url *u, const cdc_http_resp *res)
{
    if (c->has_client_cert || strncasecmp(u->base, "https:", 6) != 0)
        return "";
    if (!res->broke_midway)
        return "";
    return " (the connection broke after the TLS handshake; if the registry requires a client"
           " certificate, set kafka.schema_registry_certificate_location and"
           " kafka.schema_registry_key_location)";
}

static void
sr_reply_parse(sr_client *c, sr_reply *r)
{
    json_t *code, *msg;

    size_t  n = c->body.len < sizeof(r->start) - 1 ? c->body.len : sizeof(r->start) - 1;

    for (size_t i = 0; i < n; i++) {
        unsigned char ch = c->body.data[i];

        r->start[i] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
    }
    r->start[n] = '\0';
    r->json = json_loadb((const char *)c->body.data, c->body.len, 0, NULL);
    r->code = 0;
    r->message = "";
    if (r->status >= 300 && json_is_object(r->json)) {
        code = json_object_get(r->json, "error_code");
        msg = json_object_get(r->json, "message");
        r->code = json_is_integer(code) ? (int)json_integer_value(code) : 0;
        r->message = json_is_string(msg) ? json_string_value(msg) : "";
    }
    if (r->status >= 300 && !*r->message)
        r->message = "(no error message in the answer)";
}

/*
 * Sends method path (path starts with '/', already escaped) with an optional
 * JSON body, retrying as the header says, and fills *r with the answer.
 * @returns 0 with r->json owned by the caller (json_decref), or -1 with err set.
 */
static int
sr_call(sr_client *c, const char *method, const char *path, const char *body, sr_reply *r,
        cdc_err *err)
{
    cdc_buf       url = CDC_BUF_INIT;
    cdc_http_resp res = {0};
    int           ret = -1;

    memset(r, 0, sizeof(*r));
    for (int attempt = 1; attempt <= c->max_attempts; attempt++) {
        const sr_url *u = &c->urls[c->cur];
        cdc_http_req  req;

        if (attempt > 1)
            cdc_sleep_ms(cdc_retry_delay_ms(&c->retry, attempt - 1, &c->rng));
        cdc_buf_reset(&url);
        cdc_buf_puts(&url, u->base);
        cdc_buf_puts(&url, path);
        cdc_buf_reset(&c->body);
        if (cdc_buf_failed(&url)) {
            cdc_err_set(err, CDC_E_NOMEM, "schema registry request: out of memory");
            goto out;
        }
        req = (cdc_http_req) {
            .url = cdc_buf_str(&url), .method = method, .hdrs = c->headers,
            .body = body, .body_len = body ? strlen(body) : 0,
            .timeout_ms = c->timeout_ms, .connect_timeout_ms = c->timeout_ms,
            .tls = &c->tls, .basic = c->basic, .user_agent = "cdcagent/" CDC_VERSION,
            /* A connection that failed mid-exchange may leave curl's cached TLS session in
             * a state where the next write fails with OpenSSL's "bad write retry": start
             * over. */
            .fresh_connect = c->fresh,
            .body_out = &c->body, .body_max = SR_MAX_BODY,
        };
        c->nrequests++;
        if (cdc_http_perform(c->x, &req, &res, err) < 0)
            goto out;
        c->fresh = !res.answered;
        r->url = u->shown;
        if (cdc_http_classify(&res) != CDC_HTTP_RETRY) {
            r->status = res.status;
            sr_reply_parse(c, r);
            ret = 0;
            goto out;
        }
        if (res.broken_setup) {
            cdc_err_set(err, CDC_E_CONFIG, "schema registry at %s: %s", u->shown, res.error);
            goto out;
        }
        if (!res.answered)
            log_warn("sr", "schema registry at %s: %s %s: %s%s (attempt %d of %d)", u->shown, method,
                     path, res.error, sr_tls_hint(c, u, &res), attempt, c->max_attempts);
        else
            log_warn("sr", "schema registry at %s: %s %s answered %ld (attempt %d of %d)", u->shown,
                     method, path, res.status, attempt, c->max_attempts);
        if (c->nurls > 1)
            c->cur = (c->cur + 1) % c->nurls;
    }
    if (res.timed_out)
        cdc_err_set(err, CDC_E_TIMEOUT,
                    "schema registry at %s timed out after %d attempts (%d ms each)", r->url,
                    c->max_attempts, c->timeout_ms);
    else if (!res.answered)
        cdc_err_set(err, CDC_E_CONN, "schema registry at %s unreachable after %d attempts: %s%s",
                    r->url, c->max_attempts, res.error, sr_tls_hint(c, &c->urls[c->cur], &res));
    else
        cdc_err_set(err, CDC_E_CONN, "schema registry at %s answered %ld after %d attempts: %.120s",
                    r->url, res.status, c->max_attempts, cdc_buf_str(&c->body));
out:
    cdc_buf_free(&url);
    return ret;
}

/* "/subjects/<escaped subject><suffix>" into *out; returns -1 on failure. */
static int
sr_subject_path(sr_client *c, const char *prefix, const char *subject, const char *suffix,
                cdc_buf *out, cdc_err *err)
{
    char *esc;

    if (!subject || !*subject)
        return cdc_err_set(err, CDC_E_INVAL, "schema registry: empty subject name");
    esc = cdc_http_escape(c->x, subject);
    if (!esc)
        return cdc_err_set(err, CDC_E_NOMEM, "schema registry: out of memory");
    cdc_buf_puts(out, prefix);
    cdc_buf_puts(out, esc);
    cdc_buf_puts(out, suffix);
    free(esc);
    if (cdc_buf_failed(out))
        return cdc_err_set(err, CDC_E_NOMEM, "schema registry: out of memory");
    return 0;
}

/* {"schema": "<schema_json>"} as a new string, or NULL. */
static char *
sr_schema_body(const char *schema_json)
{
    json_t *o = json_pack("{s:s}", "schema", schema_json);
    char   *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

    json_decref(o);
    return s;
}

/* The message for an answer that is not the success the caller wanted. */
static int
sr_reply_error(const sr_reply *r, const char *subject, cdc_err *err)
{
    if (r->status == 409 || r->status == 422) /* err->msg is cut at 256 bytes */
        log_error("sr", "registry at %s, subject %s: %ld (%d): %s", r->url, subject, r->status,
                  r->code, r->message);
    if (r->status == 409)
        return cdc_err_set(err, CDC_E_DEST,
                           "registry at %s rejected schema for subject %s: incompatible (409): %s",
                           r->url, subject, r->message);
    if (r->status == 422)
        return cdc_err_set(
            err, CDC_E_DEST, "registry at %s rejected schema for subject %s: %s (%d): %s", r->url,
            subject, r->code == 42202 ? "invalid version" : "invalid schema", r->code, r->message);
    if (r->status == 401 || r->status == 403)
        return cdc_err_set(err, CDC_E_CONFIG,
                           "registry at %s refused the credentials (%ld%s): %s; check "
                           "kafka.schema_registry_username and _password",
                           r->url, r->status, r->status == 401 ? " unauthorized" : " forbidden",
                           r->message);
    return cdc_err_set(err, CDC_E_DEST, "registry at %s, subject %s: HTTP %ld (error %d): %s",
                       r->url, subject, r->status, r->code, r->message);
}

/*
 * The message for a 200 answer without what the endpoint returns: a body that
 * is not JSON (an HTML page from a proxy, a cut-off body) or JSON without the
 * field, or with a value of the wrong type or range.
 */
static int
sr_bad_answer(const sr_reply *r, const char *subject, const char *what, cdc_err *err)
{
    return cdc_err_set(err, CDC_E_DEST, "registry at %s, subject %s: %s %s; the answer starts "
                       "\"%s\"", r->url, subject, r->json ? "answer has no valid" :
                       "answer is not JSON, so no", what, r->start);
}

/* ---- endpoints --------------------------------------------------------- */

int
sr_register(sr_client *c, const char *subject, const char *schema_json, uint32_t *id, cdc_err *err)
{
    cdc_buf   path = CDC_BUF_INIT;
    char     *body = NULL;
    sr_reply  r = {0};
    uint64_t  h;
    sr_entry *hit;
    json_t   *jid;
    int       rc = -1;

    if (!schema_json)
        return cdc_err_set(err, CDC_E_INVAL, "schema registry: no schema for subject %s",
                           subject ? subject : "(null)");
    h = sr_hash(subject ? subject : "", schema_json);
    hit = subject ? sr_cache_find(c, h, subject, schema_json) : NULL;
    if (hit) {
        *id = hit->id;
        return 0;
    }
    if (sr_subject_path(c, "/subjects/", subject, "/versions", &path, err) < 0)
        goto out;
    body = sr_schema_body(schema_json);
    if (!body) {
        cdc_err_set(err, CDC_E_NOMEM, "schema registry: cannot build the request for %s", subject);
        goto out;
    }
    if (sr_call(c, "POST", cdc_buf_str(&path), body, &r, err) < 0) {
        cdc_err_wrap(err, "registering subject %s", subject);
        goto out;
    }
    if (r.status != 200) {
        sr_reply_error(&r, subject, err);
        goto out;
    }
    jid = json_object_get(r.json, "id");
    if (!json_is_integer(jid) || json_integer_value(jid) < 0 ||
        json_integer_value(jid) > INT32_MAX) {
        sr_bad_answer(&r, subject, "\"id\" (an integer from 0 to 2^31-1)", err);
        goto out;
    }
    *id = (uint32_t)json_integer_value(jid);
    sr_cache_put(c, h, subject, schema_json, *id);
    log_info("sr", "subject %s: schema id %u (registry at %s)", subject, *id, r.url);
    rc = 0;
out:
    json_decref(r.json);
    free(body);
    cdc_buf_free(&path);
    return rc;
}

/* Fills out from a {"id", "version", "schema"} answer. */
static int
sr_version_from(const sr_reply *r, const char *subject, sr_version *out, cdc_err *err)
{
    json_t *id = json_object_get(r->json, "id");
    json_t *ver = json_object_get(r->json, "version");
    json_t *schema = json_object_get(r->json, "schema");

    if (!json_is_integer(id) || json_integer_value(id) < 0 ||
        json_integer_value(id) > INT32_MAX)
        return sr_bad_answer(r, subject, "\"id\" (an integer from 0 to 2^31-1)", err);
    if (!json_is_integer(ver) || json_integer_value(ver) < 1 ||
        json_integer_value(ver) > INT32_MAX)
        return sr_bad_answer(r, subject, "\"version\" (an integer from 1 to 2^31-1)", err);
    if (!json_is_string(schema))
        return sr_bad_answer(r, subject, "\"schema\" (a string)", err);
    out->id = (uint32_t)json_integer_value(id);
    out->version = (int)json_integer_value(ver);
    out->schema = cdc_xstrdup(json_string_value(schema));
    return 0;
}

/* GET /subjects/{subject}/versions/{which}: 0 found, 1 not found, -1 error. */
static int
sr_get_version(sr_client *c, const char *subject, const char *which, sr_version *out, cdc_err *err)
{
    cdc_buf  path = CDC_BUF_INIT;
    sr_reply r = {0};
    int      rc = -1;

    memset(out, 0, sizeof(*out));
    if (sr_subject_path(c, "/subjects/", subject, "/versions/", &path, err) < 0)
        goto out;
    cdc_buf_puts(&path, which);
    if (sr_call(c, "GET", cdc_buf_str(&path), NULL, &r, err) < 0) {
        cdc_err_wrap(err, "reading subject %s", subject);
        goto out;
    }
    if (r.status == 404 && (r.code == 40401 || r.code == 40402))
        rc = 1;
    else if (r.status != 200)
        sr_reply_error(&r, subject, err);
    else
        rc = sr_version_from(&r, subject, out, err);
out:
    json_decref(r.json);
    cdc_buf_free(&path);
    return rc;
}

int
sr_latest(sr_client *c, const char *subject, sr_version *out, cdc_err *err)
{
    return sr_get_version(c, subject, "latest", out, err);
}

/*
 * The live version just before `version` (GET /subjects/{subject}/versions;
 * versions can be deleted, so it is not always version - 1).
 * @returns 0 with *before set, 1 when there is none, -1 with err set.
 */
static int
sr_version_before(sr_client *c, const char *subject, int version, int *before, cdc_err *err)
{
    cdc_buf  path = CDC_BUF_INIT;
    sr_reply r = {0};
    size_t   i;
    json_t  *v;
    int      rc = -1;

    *before = 0;
    if (sr_subject_path(c, "/subjects/", subject, "/versions", &path, err) < 0)
        goto out;
    if (sr_call(c, "GET", cdc_buf_str(&path), NULL, &r, err) < 0) {
        cdc_err_wrap(err, "listing versions of subject %s", subject);
        goto out;
    }
    if (r.status != 200) {
        sr_reply_error(&r, subject, err);
        goto out;
    }
    if (!json_is_array(r.json)) {
        sr_bad_answer(&r, subject, "list of versions", err);
        goto out;
    }
    json_array_foreach(r.json, i, v)
    {
        if (json_is_integer(v) && json_integer_value(v) < version &&
            json_integer_value(v) > *before)
            *before = (int)json_integer_value(v);
    }
    rc = *before > 0 ? 0 : 1;
out:
    json_decref(r.json);
    cdc_buf_free(&path);
    return rc;
}

int
sr_lookup(sr_client *c, const char *subject, const char *schema_json, sr_version *out, cdc_err *err)
{
    cdc_buf  path = CDC_BUF_INIT;
    char    *body = NULL;
    sr_reply r = {0};
    int      rc = -1;

    memset(out, 0, sizeof(*out));
    if (sr_subject_path(c, "/subjects/", subject, "", &path, err) < 0)
        goto out;
    body = schema_json ? sr_schema_body(schema_json) : NULL;
    if (!body) {
        cdc_err_set(err, CDC_E_INVAL, "schema registry: cannot build the lookup for %s", subject);
        goto out;
    }
    if (sr_call(c, "POST", cdc_buf_str(&path), body, &r, err) < 0) {
        cdc_err_wrap(err, "looking up a schema in subject %s", subject);
        goto out;
    }
    if (r.status == 404 && (r.code == 40401 || r.code == 40403))
        rc = 1;
    else if (r.status != 200)
        sr_reply_error(&r, subject, err);
    else
        rc = sr_version_from(&r, subject, out, err);
out:
    json_decref(r.json);
    free(body);
    cdc_buf_free(&path);
    return rc;
}

int
sr_check_compatible(sr_client *c, const char *subject, const char *schema_json, bool *compatible,
                    cdc_err *err)
{
    cdc_buf  path = CDC_BUF_INIT;
    char    *body = NULL;
    sr_reply r = {0};
    json_t  *ok;
    int      rc = -1;

    if (sr_subject_path(c, "/compatibility/subjects/", subject, "/versions/latest", &path, err) < 0)
        goto out;
    body = schema_json ? sr_schema_body(schema_json) : NULL;
    if (!body) {
        cdc_err_set(err, CDC_E_INVAL, "schema registry: cannot build the check for %s", subject);
        goto out;
    }
    if (sr_call(c, "POST", cdc_buf_str(&path), body, &r, err) < 0) {
        cdc_err_wrap(err, "checking compatibility for subject %s", subject);
        goto out;
    }
    /* Registries before 5.5 answer 404/40401 for a subject with no versions;
     * nothing registered means nothing to be incompatible with. */
    if (r.status == 404 && r.code == 40401) {
        *compatible = true;
        rc = 0;
        goto out;
    }
    if (r.status != 200) {
        sr_reply_error(&r, subject, err);
        goto out;
    }
    ok = json_object_get(r.json, "is_compatible");
    if (!json_is_boolean(ok)) {
        sr_bad_answer(&r, subject, "\"is_compatible\" (true or false)", err);
        goto out;
    }
    *compatible = json_is_true(ok);
    rc = 0;
out:
    json_decref(r.json);
    free(body);
    cdc_buf_free(&path);
    return rc;
}

/*
 * The platform's check (cdc-platform-README "Schema Evolution"): can readers
 * still on the version before `version` read data written with the latest?
 * It posts that older schema to /compatibility/.../versions/latest, so the
 * subject's level decides, as in the platform's SchemaMonitor.
 */
static int
sr_change_compatible(sr_client *c, const char *subject, int version, int *before, bool *compatible,
                     cdc_err *err)
{
    sr_version old = {0};
    char       which[16];
    int        found, rc = -1;

    *compatible = true;
    found = sr_version_before(c, subject, version, before, err);
    if (found != 0)
        return found < 0 ? -1 : 0;
    snprintf(which, sizeof(which), "%d", *before);
    found = sr_get_version(c, subject, which, &old, err);
    if (found == 0)
        rc = sr_check_compatible(c, subject, old.schema, compatible, err);
    else
        rc = found < 0 ? -1 : 0; /* deleted meanwhile: nothing to compare */
    sr_version_clear(&old);
    return rc;
}

int
sr_register_checked(sr_client *c, const char *subject, const char *schema_json,
                    bool stop_on_incompatible, sr_change *out, cdc_err *err)
{
    sr_version latest = {0}, mine = {0};
    uint64_t   h;
    sr_entry  *hit;
    int        found, before = 0, rc = -1;

    memset(out, 0, sizeof(*out));
    out->compatible = true;
    if (!subject || !schema_json)
        return sr_register(c, subject, schema_json, &out->id, err);
    h = sr_hash(subject, schema_json);
    hit = sr_cache_find(c, h, subject, schema_json);
    if (hit) {
        out->id = hit->id;
        return 0;
    }
    found = sr_latest(c, subject, &latest, err);
    if (found < 0)
        goto out;
    out->previous_version = found == 0 ? latest.version : 0;
    if (sr_register(c, subject, schema_json, &out->id, err) < 0)
        goto out;
    found = sr_lookup(c, subject, schema_json, &mine, err);
    if (found != 0) {
        if (found > 0)
            cdc_err_set(err, CDC_E_DEST,
                        "subject %s: schema id %u was registered but the "
                        "registry does not find it in the subject",
                        subject, out->id);
        goto fail;
    }
    out->version = mine.version;
    out->changed = mine.version > out->previous_version;
    /* Only a schema that is (or just became) the latest can break its readers. */
    if (mine.version >= out->previous_version &&
        sr_change_compatible(c, subject, mine.version, &before, &out->compatible, err) < 0)
        goto fail;
    if (out->changed) {
        cdc_metrics_schema_registered(subject);
        cdc_log_event(out->compatible ? CDC_LOG_INFO : CDC_LOG_WARN, "sr", "schema.version_changed",
                      "subject=%s previous_version=%d new_version=%d schema_id=%u compatible=%s",
                      subject, out->previous_version, out->version, out->id,
                      out->compatible ? "true" : "false");
    }
    if (!out->compatible) {
        cdc_log_event(stop_on_incompatible ? CDC_LOG_ERROR : CDC_LOG_WARN, "sr",
                      "schema.incompatible_change_detected",
                      "subject=%s previous_version=%d new_version=%d schema_id=%u action=%s",
                      subject, before, out->version, out->id,
                      stop_on_incompatible ? "stop" : "continue");
        if (stop_on_incompatible) {
            cdc_err_set(err, CDC_E_DEST,
                        "subject %s: readers of version %d cannot read "
                        "version %d (schema id %u); stopping before publishing with it "
                        "(stop_on_incompatible_schema)",
                        subject, before, out->version, out->id);
            goto fail;
        }
    }
    rc = 0;
    goto out;
fail:
    sr_cache_forget(c, h, subject, schema_json); /* ask again next time, and after a restart */
out:
    sr_version_clear(&latest);
    sr_version_clear(&mine);
    return rc;
}
