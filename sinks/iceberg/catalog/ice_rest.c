/*
 * The Iceberg REST catalog client: requests, retries, tokens and the answers of the REST
 * Catalog API.  See ice_rest.h.  The requirement and update builders are in ice_rest_upd.c.
 */
#include "sinks/iceberg/catalog/ice_rest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_clock.h"

#define DEFAULT_TIMEOUT_MS  30000
#define DEFAULT_EARLY_S     300
#define DEFAULT_MAX_ATTEMPTS 5
#define DEFAULT_COMMITS     10
#define BODY_MAX            (256u << 20)   /* a LoadTableResult with a long history is large */
#define TOKEN_MAX           16384

struct ice_rest {
    char           *base;         /* conf.uri without a trailing '/' */
    char           *what;         /* "REST catalog at <label>" */
    char           *warehouse;
    char           *prefix;       /* "" or the prefix, without slashes at either end */
    char           *client_id;    /* from conf.credential */
    char           *client_secret;
    char           *scope;
    char           *oauth_uri;    /* NULL until known */
    char           *token;        /* the bearer token in use; NULL: none */
    bool            token_fetched;/* token came from the credential (may be refreshed) */
    int64_t         token_due_ms; /* fetch again at this monotonic time; 0: never */
    cdc_http_tls    tls;
    bool            has_tls;
    int             timeout_ms;
    int             early_s;
    cdc_retry_conf  retry;
    uint64_t        rng;
    cdc_http_xfer  *x;
    cdc_http_hdrs  *json_hdrs;
    cdc_http_hdrs  *form_hdrs;
    json_t         *props;        /* /v1/config: defaults, overrides over them */
    ice_rest_stats  st;
};

/* One answered request: the status and the parsed body (NULL when empty or not JSON). */
typedef struct answer {
    long    status;
    json_t *body;
    char    line[CDC_HTTP_HEAD_MAX + 1];   /* the body's first line, for messages */
} answer;

static void
answer_clear(answer *a)
{
    json_decref(a->body);
    memset(a, 0, sizeof *a);
}

static char *
xstrdup(const char *s)
{
    char *d = strdup(s ? s : "");

    if (d == NULL)
        abort();   /* as cdc_mem: out of memory is not an error we can report */
    return d;
}

static bool
set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

static void
wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

const char *
ice_rest_what(const ice_rest *c)
{
    return c->what;
}

const char *
ice_rest_prefix(const ice_rest *c)
{
    return c->prefix;
}

const json_t *
ice_rest_properties(const ice_rest *c)
{
    return c->props;
}

void
ice_rest_stats_get(const ice_rest *c, ice_rest_stats *st)
{
    *st = c->st;
}

void
ice_rest_table_free(ice_rest_table *t)
{
    if (t == NULL)
        return;
    free(t->metadata_location);
    free(t->metadata_json);
    json_decref(t->metadata);
    json_decref(t->config);
    memset(t, 0, sizeof *t);
}

/* ---- messages ------------------------------------------------------------ */

/*
 * "HTTP 404 NoSuchTableException: Table does not exist: db.t" from an ErrorModel body
 * ({"error": {"message", "type", "code"}}), an OAuth error ({"error", "error_description"}),
 * or the first line of whatever else came back.
 */
static void
describe(const answer *a, char *out, size_t n)
{
    json_t     *e = a->body ? json_object_get(a->body, "error") : NULL;
    const char *type = NULL, *msg = NULL;

    if (json_is_object(e)) {
        type = json_string_value(json_object_get(e, "type"));
        msg = json_string_value(json_object_get(e, "message"));
    } else if (json_is_string(e)) {
        type = json_string_value(e);
        msg = json_string_value(json_object_get(a->body, "error_description"));
    }
    if (type || msg)
        snprintf(out, n, "HTTP %ld %s%s%s", a->status, type ? type : "", type && msg ? ": " : "",
                 msg ? msg : "");
    else
        snprintf(out, n, "HTTP %ld%s%s", a->status, a->line[0] ? ": " : "", a->line);
}

static const char *
error_type(const answer *a)
{
    json_t *e = a->body ? json_object_get(a->body, "error") : NULL;

    return json_is_object(e) ? json_string_value(json_object_get(e, "type")) : NULL;
}

/* The code of a final refusal: credentials are the user's to fix, the rest the catalog's. */
static cdc_rc
refusal_code(long status)
{
    return status == 401 || status == 403 || status == 419 ? CDC_E_CONFIG : CDC_E_DEST;
}

/* ---- URLs ---------------------------------------------------------------- */

/* Appends the levels of ns ("a.b"), each escaped, joined by %1F (the spec's separator). */
static int
put_ns(ice_rest *c, cdc_buf *b, const char *ns, cdc_err *err)
{
    const char *p = ns;

    if (!set(ns))
        return cdc_err_set(err, CDC_E_INVAL, "%s: empty namespace", c->what);
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t      len = dot ? (size_t) (dot - p) : strlen(p);
        char       *lvl, *esc;

        if (len == 0)
            return cdc_err_set(err, CDC_E_INVAL, "%s: namespace \"%s\" has an empty level",
                               c->what, ns);
        lvl = strndup(p, len);
        esc = lvl ? cdc_http_escape(c->x, lvl) : NULL;
        free(lvl);
        if (esc == NULL)
            return cdc_err_set(err, CDC_E_NOMEM, "%s: out of memory", c->what);
        if (p != ns)
            cdc_buf_puts(b, "%1F");
        cdc_buf_puts(b, esc);
        free(esc);
        if (dot == NULL)
            return 0;
        p = dot + 1;
    }
}

/* The namespace as a JSON array of its levels. */
static json_t *
ns_array(const char *ns)
{
    json_t     *arr = json_array();
    const char *p = ns;

    for (;;) {
        const char *dot = strchr(p, '.');
        size_t      len = dot ? (size_t) (dot - p) : strlen(p);

        json_array_append_new(arr, json_stringn(p, len));
        if (dot == NULL)
            return arr;
        p = dot + 1;
    }
}

/* base + "/v1/" + prefix + "/" + tail pieces: ns (may be NULL), then "/tables" etc. */
static int
url_start(ice_rest *c, cdc_buf *b)
{
    cdc_buf_puts(b, c->base);
    cdc_buf_puts(b, "/v1/");
    if (c->prefix[0]) {
        cdc_buf_puts(b, c->prefix);
        cdc_buf_putc(b, '/');
    }
    return 0;
}

/* base + "/v1/" + prefix + "/namespaces/" + ns + tail. */
static int
url_ns(ice_rest *c, cdc_buf *b, const char *ns, const char *tail, cdc_err *err)
{
    url_start(c, b);
    cdc_buf_puts(b, "namespaces/");
    if (put_ns(c, b, ns, err) < 0)
        return -1;
    cdc_buf_puts(b, tail);
    return 0;
}

static int
url_table(ice_rest *c, cdc_buf *b, const char *ns, const char *name, cdc_err *err)
{
    char *esc;

    if (!set(name))
        return cdc_err_set(err, CDC_E_INVAL, "%s: empty table name in namespace %s", c->what,
                           ns ? ns : "");
    if (url_ns(c, b, ns, "/tables/", err) < 0)
        return -1;
    if ((esc = cdc_http_escape(c->x, name)) == NULL)
        return cdc_err_set(err, CDC_E_NOMEM, "%s: out of memory", c->what);
    cdc_buf_puts(b, esc);
    free(esc);
    return 0;
}

/* ---- tokens -------------------------------------------------------------- */

static void
put_form(ice_rest *c, cdc_buf *b, const char *name, const char *value)
{
    char *esc = cdc_http_escape(c->x, value);

    if (esc == NULL) {
        b->failed = true;
        return;
    }
    if (b->len)
        cdc_buf_putc(b, '&');
    cdc_buf_puts(b, name);
    cdc_buf_putc(b, '=');
    cdc_buf_puts(b, esc);
    explicit_bzero(esc, strlen(esc));
    free(esc);
}

static void
drop_token(ice_rest *c)
{
    wipe_free(c->token);
    c->token = NULL;
    c->token_due_ms = 0;
}

static int perform(ice_rest *c, const char *method, const char *url, const cdc_http_hdrs *hdrs,
                   const char *body, size_t body_len, bool auth, const char *what, answer *a,
                   bool *unknown, cdc_err *err);

/*
 * POST grant_type=client_credentials to the token endpoint (pyiceberg's and Iceberg's
 * OAuth2Util: the id and secret in the form body), keeps access_token and when to fetch the
 * next one.  Blocking, with the retries of perform().
 */
static int
fetch_token(ice_rest *c, cdc_err *err)
{
    cdc_buf     form = CDC_BUF_INIT;
    answer      a = { 0 };
    json_t     *tok, *exp;
    const char *type;
    char        why[400];
    int         rc = -1;

    if (c->oauth_uri == NULL) {
        cdc_buf u = CDC_BUF_INIT;

        cdc_buf_puts(&u, c->base);
        cdc_buf_puts(&u, "/v1/oauth/tokens");
        if (cdc_buf_failed(&u))
            return cdc_err_set(err, CDC_E_NOMEM, "%s: out of memory", c->what);
        c->oauth_uri = xstrdup(cdc_buf_str(&u));
        cdc_buf_free(&u);
    }
    put_form(c, &form, "grant_type", "client_credentials");
    put_form(c, &form, "client_id", c->client_id);
    put_form(c, &form, "client_secret", c->client_secret);
    put_form(c, &form, "scope", c->scope);
    if (cdc_buf_failed(&form)) {
        cdc_buf_free(&form);
        return cdc_err_set(err, CDC_E_NOMEM, "%s: out of memory", c->what);
    }
    drop_token(c);
    if (perform(c, "POST", c->oauth_uri, c->form_hdrs, (const char *) form.data, form.len, false,
                "OAuth2 token request", &a, NULL, err) < 0)
        goto out;
    if (a.status / 100 != 2) {
        char *label = cdc_http_url_label(c->oauth_uri);

        describe(&a, why, sizeof why);
        cdc_err_set(err, CDC_E_CONFIG, "%s: the token endpoint %s refused the credential of "
                    "client id \"%s\": %s", c->what, label, c->client_id, why);
        free(label);
        goto out;
    }
    tok = a.body ? json_object_get(a.body, "access_token") : NULL;
    exp = a.body ? json_object_get(a.body, "expires_in") : NULL;
    type = a.body ? json_string_value(json_object_get(a.body, "token_type")) : NULL;
    if (!json_is_string(tok) || json_string_length(tok) == 0 || json_string_length(tok) > TOKEN_MAX) {
        cdc_err_set(err, CDC_E_CONFIG, "%s: the token endpoint answered without a usable "
                    "access_token", c->what);
        goto out;
    }
    if (type && strcasecmp(type, "bearer") != 0) {
        cdc_err_set(err, CDC_E_CONFIG, "%s: the token endpoint answered token_type \"%.40s\", "
                    "not Bearer", c->what, type);
        goto out;
    }
    c->token = xstrdup(json_string_value(tok));
    c->token_fetched = true;
    c->st.tokens++;
    c->token_due_ms = 0;
    if (json_is_integer(exp) && json_integer_value(exp) > 0) {
        int64_t life_ms = (int64_t) json_integer_value(exp) * 1000;
        int64_t early_ms = (int64_t) c->early_s * 1000;

        if (life_ms < 2 * early_ms)
            early_ms = life_ms / 2;
        c->token_due_ms = cdc_mono_ms() + life_ms - early_ms;
    }
    rc = 0;
out:
    if (a.body && json_is_string(json_object_get(a.body, "access_token"))) {
        json_t *t = json_object_get(a.body, "access_token");

        explicit_bzero((char *) json_string_value(t), json_string_length(t));
    }
    answer_clear(&a);
    explicit_bzero(form.data ? form.data : (uint8_t *) "", form.len);
    cdc_buf_free(&form);
    return rc;
}

/* A token when the credential is set and none is there, or the one there is due. */
static int
ensure_token(ice_rest *c, cdc_err *err)
{
    if (c->client_id == NULL)
        return 0;
    if (c->token && !(c->token_fetched && c->token_due_ms && cdc_mono_ms() >= c->token_due_ms))
        return 0;
    return fetch_token(c, err);
}

/* ---- one request, with retries ------------------------------------------- */

/* 500, 502, 504 and no answer after the request went out: it may have been applied. */
static bool
maybe_applied(const cdc_http_resp *r)
{
    /* CURLE_COULDNT_RESOLVE_PROXY (5), _HOST (6), CURLE_COULDNT_CONNECT (7): nothing sent */
    if (!r->answered)
        return r->curl_code != 5 && r->curl_code != 6 && r->curl_code != 7 && !r->broken_setup;
    return r->status == 500 || r->status == 502 || r->status == 504;
}

/*
 * Sends one request (auth: with the bearer token) and parses the answer; retries what is
 * retriable (no answer, 408, 429, 5xx) after the backoff, and a 401/419 once with a new
 * token when a credential can get one.  @returns 0 with *a filled (any answered status the
 * caller must judge), or -1 with err (out of retries, or could not be sent).
 */
static int
perform(ice_rest *c, const char *method, const char *url, const cdc_http_hdrs *hdrs,
        const char *body, size_t body_len, bool auth, const char *what, answer *a,
        bool *unknown, cdc_err *err)
{
    int     max = c->retry.max_attempts > 0 ? c->retry.max_attempts : DEFAULT_MAX_ATTEMPTS;
    bool    reauthed = false;
    cdc_buf out = CDC_BUF_INIT;
    char   *label = NULL;
    int     attempt = 0, rc = -1;

    memset(a, 0, sizeof *a);
    for (;;) {
        cdc_http_req  req = { 0 };
        cdc_http_resp r;
        char         *hline = NULL;

        if (auth && ensure_token(c, err) < 0)
            goto out;
        if (auth && c->token) {
            size_t n = strlen(c->token) + sizeof "Authorization: Bearer ";

            if ((hline = malloc(n)) == NULL)
                abort();
            snprintf(hline, n, "Authorization: Bearer %s", c->token);
        }
        attempt++;
        cdc_buf_reset(&out);
        req.url = url;
        req.method = method;
        req.hdrs = hdrs;
        req.extra_hdr = hline;
        req.body = body;
        req.body_len = body_len;
        req.timeout_ms = c->timeout_ms;
        req.tls = c->has_tls ? &c->tls : NULL;
        req.user_agent = "cdcagent/" CDC_VERSION;
        req.body_out = &out;
        req.body_max = BODY_MAX;
        c->st.requests++;
        rc = cdc_http_perform(c->x, &req, &r, err);
        wipe_free(hline);
        if (rc < 0)
            goto out;
        rc = -1;
        if (maybe_applied(&r) && unknown)
            *unknown = true;
        if (r.answered && (r.status == 401 || r.status == 419) && auth && c->client_id &&
            !reauthed) {
            /* expired or revoked: one more try with a fresh token */
            reauthed = true;
            drop_token(c);
            attempt--;
            continue;
        }
        if (cdc_http_classify(&r) == CDC_HTTP_RETRY && !r.broken_setup && attempt < max) {
            int64_t d = cdc_retry_delay_ms(&c->retry, attempt, &c->rng);

            /* Retry-After is honoured up to the longest wait of the backoff */
            if (r.retry_after_s > 0 && r.retry_after_s * 1000 > d)
                d = r.retry_after_s * 1000;
            if (d > (c->retry.max_ms > 0 ? c->retry.max_ms : 60000))
                d = c->retry.max_ms > 0 ? c->retry.max_ms : 60000;
            c->st.retries++;
            cdc_sleep_ms(d);
            continue;
        }
        if (label == NULL)
            label = cdc_http_url_label(url);
        if (!r.answered) {
            char why[300];

            cdc_http_resp_describe(&r, why, sizeof why);
            cdc_err_set(err, r.broken_setup ? CDC_E_CONFIG : r.timed_out ? CDC_E_TIMEOUT : CDC_E_CONN,
                        "%s: %s %s: no answer after %d attempt%s: %s", c->what, what, label,
                        attempt, attempt == 1 ? "" : "s", why);
            goto out;
        }
        a->status = r.status;
        cdc_http_resp_line(&r, a->line, sizeof a->line);
        if (out.len)
            a->body = json_loadb((const char *) out.data, out.len, 0, NULL);
        if (cdc_http_classify(&r) == CDC_HTTP_RETRY) {
            char why[400];

            describe(a, why, sizeof why);
            cdc_err_set(err, r.status == 408 ? CDC_E_TIMEOUT : CDC_E_CONN,
                        "%s: %s %s: %s (after %d attempt%s)", c->what, what, label, why, attempt,
                        attempt == 1 ? "" : "s");
            answer_clear(a);
            goto out;
        }
        rc = 0;
        goto out;
    }
out:
    free(label);
    if (!auth && out.data)      /* a token endpoint's answer: the token is in it */
        explicit_bzero(out.data, out.len);
    cdc_buf_free(&out);
    return rc;
}

/* A JSON request to the catalog, with the token. */
static int
call(ice_rest *c, const char *method, const char *url, json_t *body, const char *what, answer *a,
     bool *unknown, cdc_err *err)
{
    char *text = NULL;
    int   rc;

    if (body && (text = json_dumps(body, JSON_COMPACT)) == NULL)
        return cdc_err_set(err, CDC_E_NOMEM, "%s: %s: out of memory", c->what, what);
    rc = perform(c, method, url, c->json_hdrs, text, text ? strlen(text) : 0, true, what, a,
                 unknown, err);
    free(text);
    return rc;
}

/*
 * The request-and-answer step: the request to the URL built in u (out of memory while
 * building it, or a POST whose body could not be built: CDC_E_NOMEM), its answer in *a.
 * 0 once answered, whatever the status; -1 with err when no answer came.
 */
static int
ask(ice_rest *c, const char *method, const cdc_buf *u, json_t *body, const char *what, answer *a,
    bool *unknown, cdc_err *err)
{
    if (cdc_buf_failed(u) || (body == NULL && strcmp(method, "POST") == 0))
        return cdc_err_set(err, CDC_E_NOMEM, "%s: out of memory", c->what);
    return call(c, method, cdc_buf_str(u), body, what, a, unknown, err);
}

/* err for a table the catalog does not have. */
static int
no_table(ice_rest *c, const char *ns, const char *name, cdc_err *err)
{
    cdc_err_set(err, CDC_E_DEST, "%s: table %s.%s does not exist", c->what, ns, name);
    return ICE_REST_NOT_FOUND;
}

/* err for an answered status the call did not expect. */
static int
refused(ice_rest *c, const char *what, const answer *a, cdc_err *err)
{
    char why[400];

    describe(a, why, sizeof why);
    return cdc_err_set(err, refusal_code(a->status), "%s: %s: %s", c->what, what, why);
}

/* ---- config -------------------------------------------------------------- */

/* The value of key in the config's overrides, else its defaults (strings only). */
static const char *
config_value(json_t *cfg, const char *key)
{
    const char *v = json_string_value(json_object_get(json_object_get(cfg, "overrides"), key));

    return v ? v : json_string_value(json_object_get(json_object_get(cfg, "defaults"), key));
}

static int
load_config(ice_rest *c, cdc_err *err)
{
    cdc_buf     u = CDC_BUF_INIT;
    answer      a = { 0 };
    const char *v;
    int         rc = -1;

    cdc_buf_puts(&u, c->base);
    cdc_buf_puts(&u, "/v1/config");
    if (c->warehouse) {
        char *esc = cdc_http_escape(c->x, c->warehouse);

        if (esc == NULL)
            goto nomem;
        cdc_buf_puts(&u, "?warehouse=");
        cdc_buf_puts(&u, esc);
        free(esc);
    }
    if (cdc_buf_failed(&u))
        goto nomem;
    if (call(c, "GET", cdc_buf_str(&u), NULL, "GET /v1/config", &a, NULL, err) < 0)
        goto out;
    if (a.status != 200) {
        refused(c, "GET /v1/config", &a, err);
        if (a.status == 404)
            cdc_err_wrap(err, "is this an Iceberg REST catalog");
        goto out;
    }
    if (!json_is_object(a.body)) {
        cdc_err_set(err, CDC_E_CONFIG, "%s: GET /v1/config answered something that is not a "
                    "JSON object: %.100s", c->what, a.line);
        goto out;
    }
    {
        json_t *d = json_object_get(a.body, "defaults"), *o = json_object_get(a.body, "overrides");

        c->props = json_is_object(d) ? json_deep_copy(d) : json_object();
        if (c->props == NULL || (json_is_object(o) && json_object_update(c->props, o) < 0)) {
            cdc_err_set(err, CDC_E_NOMEM, "%s: out of memory", c->what);
            goto out;
        }
    }
    if (c->prefix == NULL) {
        v = config_value(a.body, "prefix");
        c->prefix = xstrdup(v ? v : "");
    }
    /* The server may move us (overrides.uri), as pyiceberg and Iceberg's RESTSessionCatalog
       allow. */
    v = json_string_value(json_object_get(json_object_get(a.body, "overrides"), "uri"));
    if (set(v)) {
        free(c->base);
        c->base = xstrdup(v);
        while (c->base[0] && c->base[strlen(c->base) - 1] == '/')
            c->base[strlen(c->base) - 1] = '\0';
    }
    rc = 0;
    goto out;
nomem:
    cdc_err_set(err, CDC_E_NOMEM, "%s: out of memory", c->what);
out:
    answer_clear(&a);
    cdc_buf_free(&u);
    return rc;
}

/* ---- the client ---------------------------------------------------------- */

ice_rest *
ice_rest_new(const ice_rest_conf *conf, cdc_err *err)
{
    ice_rest *c;
    char     *label;

    if (conf == NULL || !set(conf->uri)) {
        cdc_err_set(err, CDC_E_CONFIG, "REST catalog: no catalog uri");
        return NULL;
    }
    if (strncmp(conf->uri, "http://", 7) != 0 && strncmp(conf->uri, "https://", 8) != 0) {
        char *r = cdc_http_redact_url(conf->uri);

        cdc_err_set(err, CDC_E_CONFIG, "REST catalog: catalog uri \"%s\" is not an http:// or "
                    "https:// URL", r);
        free(r);
        return NULL;
    }
    if ((c = calloc(1, sizeof *c)) == NULL) {
        cdc_err_set(err, CDC_E_NOMEM, "REST catalog: out of memory");
        return NULL;
    }
    c->base = xstrdup(conf->uri);
    while (c->base[0] && c->base[strlen(c->base) - 1] == '/')
        c->base[strlen(c->base) - 1] = '\0';
    label = cdc_http_url_label(c->base);
    {
        size_t n = strlen(label) + sizeof "REST catalog at ";

        c->what = malloc(n);
        if (c->what == NULL)
            abort();
        snprintf(c->what, n, "REST catalog at %s", label);
    }
    free(label);
    if (set(conf->warehouse))
        c->warehouse = xstrdup(conf->warehouse);
    if (conf->prefix) {
        const char *p = conf->prefix;
        size_t      n;

        while (*p == '/')
            p++;
        c->prefix = xstrdup(p);
        n = strlen(c->prefix);
        while (n && c->prefix[n - 1] == '/')
            c->prefix[--n] = '\0';
    }
    if (set(conf->credential)) {
        const char *colon = strchr(conf->credential, ':');

        /* pyiceberg takes a credential without a colon as a secret without a client id */
        if (colon) {
            c->client_id = strndup(conf->credential, (size_t) (colon - conf->credential));
            c->client_secret = xstrdup(colon + 1);
        } else {
            c->client_id = xstrdup("");
            c->client_secret = xstrdup(conf->credential);
        }
        if (c->client_id == NULL)
            abort();
    }
    if (set(conf->token))
        c->token = xstrdup(conf->token);
    c->scope = xstrdup(set(conf->scope) ? conf->scope : "catalog");
    if (set(conf->oauth_uri))
        c->oauth_uri = xstrdup(conf->oauth_uri);
    if (conf->tls) {
        c->tls = *conf->tls;
        c->has_tls = true;
    }
    c->timeout_ms = conf->timeout_ms > 0 ? conf->timeout_ms : DEFAULT_TIMEOUT_MS;
    c->early_s = conf->refresh_early_s > 0 ? conf->refresh_early_s : DEFAULT_EARLY_S;
    c->retry = conf->retry;
    c->rng = cdc_rng_seed();
    if ((c->x = cdc_http_xfer_new(err)) == NULL)
        goto fail;
    c->json_hdrs = cdc_http_hdrs_add(NULL, "Content-Type: application/json");
    c->json_hdrs = cdc_http_hdrs_add(c->json_hdrs, "Accept: application/json");
    c->form_hdrs = cdc_http_hdrs_add(NULL, "Content-Type: application/x-www-form-urlencoded");
    c->form_hdrs = cdc_http_hdrs_add(c->form_hdrs, "Accept: application/json");
    if (c->json_hdrs == NULL || c->form_hdrs == NULL) {
        cdc_err_set(err, CDC_E_NOMEM, "%s: out of memory", c->what);
        goto fail;
    }
    /* With a credential and no token, get one before the first call, so that a wrong
       credential fails here, naming the token endpoint, not as a 401 of /v1/config. */
    if (c->client_id && c->token == NULL && fetch_token(c, err) < 0)
        goto fail;
    if (load_config(c, err) < 0)
        goto fail;
    return c;
fail:
    ice_rest_free(c);
    return NULL;
}

void
ice_rest_free(ice_rest *c)
{
    if (c == NULL)
        return;
    cdc_http_xfer_free(c->x);
    cdc_http_hdrs_free(c->json_hdrs);
    cdc_http_hdrs_free(c->form_hdrs);
    free(c->base);
    free(c->what);
    free(c->warehouse);
    free(c->prefix);
    free(c->client_id);
    wipe_free(c->client_secret);
    free(c->scope);
    free(c->oauth_uri);
    wipe_free(c->token);
    json_decref(c->props);
    free(c);
}

/* ---- tables -------------------------------------------------------------- */

/* LoadTableResult / CommitTableResponse into *out. */
static int
take_table(ice_rest *c, const char *what, json_t *body, ice_rest_table *out, cdc_err *err)
{
    json_t     *md = body ? json_object_get(body, "metadata") : NULL;
    const char *loc = body ? json_string_value(json_object_get(body, "metadata-location")) : NULL;

    if (!json_is_object(md))
        return cdc_err_set(err, CDC_E_DEST, "%s: %s: the answer has no \"metadata\" object",
                           c->what, what);
    if (out == NULL)
        return 0;
    memset(out, 0, sizeof *out);
    out->metadata_location = loc ? xstrdup(loc) : NULL;
    out->metadata = json_incref(md);
    out->config = json_object_get(body, "config");
    out->config = json_is_object(out->config) ? json_incref(out->config) : json_object();
    if ((out->metadata_json = json_dumps(md, JSON_COMPACT)) == NULL) {
        ice_rest_table_free(out);
        return cdc_err_set(err, CDC_E_NOMEM, "%s: %s: out of memory", c->what, what);
    }
    return 0;
}

int
ice_rest_ns_exists(ice_rest *c, const char *ns, cdc_err *err)
{
    cdc_buf u = CDC_BUF_INIT;
    answer  a = { 0 };
    char    what[300];
    int     rc = -1;

    snprintf(what, sizeof what, "namespace %s", ns ? ns : "");
    if (url_ns(c, &u, ns, "", err) < 0 || ask(c, "GET", &u, NULL, what, &a, NULL, err) < 0)
        goto out;
    if (a.status == 200)
        rc = 0;
    else if (a.status == 404)
        rc = ICE_REST_NOT_FOUND;
    else
        refused(c, what, &a, err);
out:
    answer_clear(&a);
    cdc_buf_free(&u);
    return rc;
}

/* POST /v1/{prefix}/namespaces for one namespace; an AlreadyExists answer is fine. */
static int
ns_create(ice_rest *c, const char *ns, cdc_err *err)
{
    cdc_buf u = CDC_BUF_INIT;
    answer  a = { 0 };
    json_t *body = json_pack("{s:o, s:{}}", "namespace", ns_array(ns), "properties");
    char    what[300];
    int     rc = -1;

    snprintf(what, sizeof what, "create namespace %s", ns);
    url_start(c, &u);
    cdc_buf_puts(&u, "namespaces");
    if (ask(c, "POST", &u, body, what, &a, NULL, err) < 0)
        goto out;
    if (a.status / 100 == 2 || a.status == 409)
        rc = 0;
    else
        refused(c, what, &a, err);
out:
    json_decref(body);
    answer_clear(&a);
    cdc_buf_free(&u);
    return rc;
}

int
ice_rest_ns_ensure(ice_rest *c, const char *ns, cdc_err *err)
{
    char  *lvl;
    size_t i, n;
    int    rc;

    if ((rc = ice_rest_ns_exists(c, ns, err)) <= 0)
        return rc;
    /* Parents first ("a", then "a.b"): not every catalog creates missing parents. */
    n = strlen(ns);
    lvl = xstrdup(ns);
    for (i = 0; i <= n; i++) {
        if (ns[i] != '.' && ns[i] != '\0')
            continue;
        lvl[i] = '\0';
        if (ns[i] == '.' && ice_rest_ns_exists(c, lvl, NULL) == 0) {
            lvl[i] = '.';
            continue;
        }
        rc = ns_create(c, lvl, err);
        lvl[i] = ns[i];
        if (rc < 0)
            break;
    }
    free(lvl);
    return rc;
}

int
ice_rest_load(ice_rest *c, const char *ns, const char *name, ice_rest_table *out, cdc_err *err)
{
    cdc_buf u = CDC_BUF_INIT;
    answer  a = { 0 };
    char    what[300];
    int     rc = -1;

    snprintf(what, sizeof what, "load table %s.%s", ns ? ns : "", name ? name : "");
    if (url_table(c, &u, ns, name, err) < 0 || ask(c, "GET", &u, NULL, what, &a, NULL, err) < 0)
        goto out;
    if (a.status == 200)
        rc = take_table(c, what, a.body, out, err);
    else if (a.status == 404)
        rc = no_table(c, ns, name, err);
    else
        refused(c, what, &a, err);
out:
    answer_clear(&a);
    cdc_buf_free(&u);
    return rc;
}

int
ice_rest_create(ice_rest *c, const char *ns, const char *name, const char *request_json,
                ice_rest_table *out, cdc_err *err)
{
    cdc_buf      u = CDC_BUF_INIT;
    answer       a = { 0 };
    json_t      *body = NULL;
    json_error_t je;
    char         what[300];
    int          rc = -1;

    snprintf(what, sizeof what, "create table %s.%s", ns ? ns : "", name ? name : "");
    if (!set(name))
        return cdc_err_set(err, CDC_E_INVAL, "%s: %s: empty table name", c->what, what);
    body = request_json ? json_loads(request_json, 0, &je) : NULL;
    if (!json_is_object(body)) {
        cdc_err_set(err, CDC_E_INVAL, "%s: %s: the CreateTableRequest is not a JSON object%s%s",
                    c->what, what, body || !request_json ? "" : ": ", body || !request_json ? "" : je.text);
        goto out;
    }
    if (!json_is_object(json_object_get(body, "schema"))) {
        cdc_err_set(err, CDC_E_INVAL, "%s: %s: the CreateTableRequest has no \"schema\"", c->what,
                    what);
        goto out;
    }
    json_object_set_new(body, "name", json_string(name));
    if (url_ns(c, &u, ns, "/tables", err) < 0 ||
        ask(c, "POST", &u, body, what, &a, NULL, err) < 0)
        goto out;
    if (a.status == 200)
        rc = take_table(c, what, a.body, out, err);
    else if (a.status == 409) {
        cdc_err_set(err, CDC_E_DEST, "%s: table %s.%s already exists", c->what, ns, name);
        rc = ICE_REST_EXISTS;
    } else {
        refused(c, what, &a, err);
        if (a.status == 404)
            cdc_err_wrap(err, "does namespace %s exist", ns);
    }
out:
    json_decref(body);
    answer_clear(&a);
    cdc_buf_free(&u);
    return rc;
}

/* Parses text as a JSON array (NULL: []); NULL with err. */
static json_t *
parse_array(ice_rest *c, const char *what, const char *field, const char *text, cdc_err *err)
{
    json_error_t je;
    json_t      *v;

    if (text == NULL)
        return json_array();
    if ((v = json_loads(text, 0, &je)) == NULL) {
        cdc_err_set(err, CDC_E_INVAL, "%s: %s: %s is not JSON: %s (line %d, column %d)", c->what,
                    what, field, je.text, je.line, je.column);
        return NULL;
    }
    if (!json_is_array(v)) {
        json_decref(v);
        cdc_err_set(err, CDC_E_INVAL, "%s: %s: %s is not a JSON array", c->what, what, field);
        return NULL;
    }
    return v;
}

int
ice_rest_commit(ice_rest *c, const char *ns, const char *name, const char *requirements_json,
                const char *updates_json, ice_rest_table *out, bool *state_unknown, cdc_err *err)
{
    cdc_buf u = CDC_BUF_INIT;
    answer  a = { 0 };
    json_t *req = NULL, *upd = NULL, *body = NULL;
    char    what[300];
    bool    unknown = false;
    int     rc = -1;

    snprintf(what, sizeof what, "commit to table %s.%s", ns ? ns : "", name ? name : "");
    if ((req = parse_array(c, what, "requirements", requirements_json, err)) == NULL ||
        (upd = parse_array(c, what, "updates", updates_json, err)) == NULL)
        goto out;
    if (url_table(c, &u, ns, name, err) < 0)
        goto out;
    body = json_pack("{s:{s:o, s:s}, s:O, s:O}", "identifier", "namespace", ns_array(ns), "name",
                     name, "requirements", req, "updates", upd);
    if (ask(c, "POST", &u, body, what, &a, &unknown, err) < 0)
        goto out;
    if (a.status == 200)
        rc = take_table(c, what, a.body, out, err);
    else if (a.status == 409) {
        char why[400];

        c->st.conflicts++;
        describe(&a, why, sizeof why);
        cdc_err_set(err, CDC_E_DEST, "%s: %s: a concurrent commit changed the table (%s)",
                    c->what, what, why);
        rc = ICE_REST_CONFLICT;
    } else if (a.status == 404) {
        const char *t = error_type(&a);

        refused(c, what, &a, err);
        /* NoSuchTableException: dropped meanwhile; anything else at 404 is a wrong URL */
        if (t == NULL || strstr(t, "NoSuchTable") || strstr(t, "NoSuchNamespace"))
            rc = ICE_REST_NOT_FOUND;
    } else
        refused(c, what, &a, err);
out:
    if (state_unknown)
        *state_unknown = unknown;
    json_decref(req);
    json_decref(upd);
    json_decref(body);
    answer_clear(&a);
    cdc_buf_free(&u);
    return rc;
}

int
ice_rest_commit_retry(ice_rest *c, const char *ns, const char *name, int max_attempts,
                      ice_rest_build_fn build, void *ud, ice_rest_table *out, cdc_err *err)
{
    ice_rest_build_info info = { 0 };
    int                 max = max_attempts > 0 ? max_attempts : DEFAULT_COMMITS;
    int                 rc;

    for (info.attempt = 1; info.attempt <= max; info.attempt++) {
        ice_rest_table cur = { 0 };
        char          *req = NULL, *upd = NULL;
        bool           unknown = false;

        if ((rc = ice_rest_load(c, ns, name, &cur, err)) != 0)
            return rc;
        rc = build(ud, &cur, &info, &req, &upd, err);
        if (rc != 0) {
            free(req);
            free(upd);
            if (rc > 0 && out)
                *out = cur;
            else
                ice_rest_table_free(&cur);
            return rc > 0 ? 0 : cdc_err_ensure(err, "building the commit to %s.%s", ns, name);
        }
        ice_rest_table_free(&cur);
        rc = ice_rest_commit(c, ns, name, req, upd, out, &unknown, err);
        free(req);
        free(upd);
        if (rc != ICE_REST_CONFLICT)
            return rc;
        info.state_unknown = unknown;
    }
    cdc_err_wrap(err, "gave up after %d commits that each lost to a concurrent writer", max);
    return ICE_REST_CONFLICT;
}

/* ---- list and drop ------------------------------------------------------- */

int
ice_rest_list(ice_rest *c, const char *ns, int (*cb)(void *ud, const char *name), void *ud,
              cdc_err *err)
{
    char *page = NULL;
    char  what[300];
    int   rc = 0;

    snprintf(what, sizeof what, "list tables of namespace %s", ns ? ns : "");
    do {
        cdc_buf     u = CDC_BUF_INIT;
        answer      a = { 0 };
        json_t     *ids, *id;
        const char *next;
        size_t      i;

        if (url_ns(c, &u, ns, "/tables", err) < 0) {
            cdc_buf_free(&u);
            rc = -1;
            break;
        }
        if (page) {
            char *esc = cdc_http_escape(c->x, page);

            cdc_buf_puts(&u, "?pageToken=");
            cdc_buf_puts(&u, esc ? esc : "");
            free(esc);
        }
        free(page);
        page = NULL;
        rc = ask(c, "GET", &u, NULL, what, &a, NULL, err);
        cdc_buf_free(&u);
        if (rc < 0)
            break;
        if (a.status == 404) {
            refused(c, what, &a, err);
            answer_clear(&a);
            rc = ICE_REST_NOT_FOUND;
            break;
        }
        if (a.status != 200 || !json_is_array(ids = json_object_get(a.body, "identifiers"))) {
            if (a.status == 200)
                cdc_err_set(err, CDC_E_DEST, "%s: %s: the answer has no \"identifiers\"", c->what,
                            what);
            else
                refused(c, what, &a, err);
            answer_clear(&a);
            rc = -1;
            break;
        }
        json_array_foreach(ids, i, id) {
            const char *n = json_string_value(json_object_get(id, "name"));

            if (n && (rc = cb(ud, n)) != 0)
                break;
        }
        next = json_string_value(json_object_get(a.body, "next-page-token"));
        if (rc == 0 && set(next))
            page = xstrdup(next);
        answer_clear(&a);
    } while (page);
    free(page);
    return rc;
}

int
ice_rest_drop(ice_rest *c, const char *ns, const char *name, cdc_err *err)
{
    cdc_buf u = CDC_BUF_INIT;
    answer  a = { 0 };
    char    what[300];
    int     rc = -1;

    snprintf(what, sizeof what, "drop table %s.%s", ns ? ns : "", name ? name : "");
    if (url_table(c, &u, ns, name, err) < 0)
        goto out;
    cdc_buf_puts(&u, "?purgeRequested=false");
    if (ask(c, "DELETE", &u, NULL, what, &a, NULL, err) < 0)
        goto out;
    if (a.status / 100 == 2)
        rc = 0;
    else if (a.status == 404)
        rc = no_table(c, ns, name, err);
    else
        refused(c, what, &a, err);
out:
    answer_clear(&a);
    cdc_buf_free(&u);
    return rc;
}
