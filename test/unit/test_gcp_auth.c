/*
 * Suite "gcp_auth": Google OAuth2 access tokens (agent/core/net/gcp_auth.c)
 * against a double of Google's token endpoint and of the metadata server (a
 * libmicrohttpd server on a loopback port, started per test).  The double
 * checks every JWT it gets: RS256 signature verified with the public half of
 * an RSA key pair generated when the suite starts (no key is committed),
 * header and claims (iss, scope, aud, iat, exp).  Also: the refresh ahead of
 * expiry, retries, refusals, garbage answers, the choice of source from the
 * environment, bad key files, and that no message holds the key, the JWT or a
 * token.
 */
#include <check.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_clock.h"
#include "agent/core/net/gcp_auth.h"
#include "test/lib/httpd.h"
#include "test/lib/suite_main.h"

#define EMAIL "cdc-test@test-project.iam.gserviceaccount.com"

/* Made once in the parent, inherited by each forked test. */
static EVP_PKEY *test_key;          /* the test-only RSA key pair */
static char     *test_pem;          /* its private half, PKCS#8 PEM */
static char      tmpdir[64];

/* The double, per test. */
static test_httpd *server;
static int         port, closed_port;
static char        token_url[128];

typedef enum mode { OK, FAIL_503, REFUSE, ECHO, GARBAGE, BAD_TOKEN } mode;
static volatile mode mode_;
static volatile int  fail_first;        /* with OK: that many 503s first */
static volatile int  expires_in = 3600;
static volatile int  requests, tokens_issued, jwt_ok;
static char          jwt_problem[200];  /* why the last JWT was not right */

/* ---- the double ---------------------------------------------------------- */

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned status, const char *body)
{
    return test_httpd_reply(conn, status, body, NULL, NULL, NULL);
}

static int
b64url_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '-' ? 62 : c == '_' ? 63 : -1;
}

/* Decodes base64url without padding into out; @returns its length or -1. */
static long
b64url_dec(const char *s, size_t n, uint8_t *out, size_t cap)
{
    uint32_t acc = 0;
    int      bits = 0;
    size_t   o = 0;

    for (size_t i = 0; i < n; i++) {
        int v = b64url_val(s[i]);

        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t) v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap)
                return -1;
            out[o++] = (uint8_t) (acc >> bits & 0xff);
        }
    }
    return (long) o;
}

static json_t *
jwt_part(const char *s, size_t n)
{
    uint8_t buf[2048];
    long    len = b64url_dec(s, n, buf, sizeof(buf));

    return len < 0 ? NULL : json_loadb((const char *) buf, (size_t) len, 0, NULL);
}

static const char *
jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));

    return s ? s : "";
}

/* Checks the JWT as Google would; @returns NULL or what is wrong. */
static const char *
check_jwt(const char *jwt)
{
    const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    uint8_t     sig[1024];
    long        siglen;
    json_t     *h, *c;
    EVP_MD_CTX *md;
    int         ok;
    const char *why = NULL;
    time_t      now = time(NULL);

    if (d2 == NULL || strchr(d2 + 1, '.'))
        return "not three parts";
    siglen = b64url_dec(d2 + 1, strlen(d2 + 1), sig, sizeof(sig));
    if (siglen <= 0)
        return "signature not base64url";
    md = EVP_MD_CTX_new();
    ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, test_key) == 1 &&
         EVP_DigestVerify(md, sig, (size_t) siglen, (const uint8_t *) jwt,
                          (size_t) (d2 - jwt)) == 1;
    EVP_MD_CTX_free(md);
    if (!ok)
        return "signature does not verify";
    h = jwt_part(jwt, (size_t) (d1 - jwt));
    c = jwt_part(d1 + 1, (size_t) (d2 - d1 - 1));
    if (h == NULL || c == NULL)
        why = "header or claims not base64url JSON";
    else if (strcmp(jstr(h, "alg"), "RS256") != 0 ||
             strcmp(jstr(h, "typ"), "JWT") != 0)
        why = "header is not alg RS256, typ JWT";
    else if (strcmp(jstr(h, "kid"), "kid-0123") != 0)
        why = "kid is not the key's private_key_id";
    else if (strcmp(jstr(c, "iss"), EMAIL) != 0)
        why = "iss is not client_email";
    else if (strcmp(jstr(c, "aud"), token_url) != 0)
        why = "aud is not token_uri";
    else if (strcmp(jstr(c, "scope"),
                    CDC_GCP_SCOPE_PUBSUB) != 0)
        why = "scope is not Pub/Sub's";
    else if (!json_is_integer(json_object_get(c, "iat")) ||
             llabs((long long) json_integer_value(json_object_get(c, "iat")) - now) > 5)
        why = "iat is not now";
    else if (json_integer_value(json_object_get(c, "exp")) -
                 json_integer_value(json_object_get(c, "iat")) != 3600)
        why = "exp is not iat + 3600";
    json_decref(h);
    json_decref(c);
    return why;
}

static enum MHD_Result
issue(struct MHD_Connection *conn, const char *prefix)
{
    char body[300];

    snprintf(body, sizeof(body),
             "{\"access_token\":\"%s-%d\",\"expires_in\":%d,\"token_type\":\"Bearer\"}", prefix,
             ++tokens_issued, expires_in);
    return reply(conn, 200, body);
}

static enum MHD_Result
on_token(struct MHD_Connection *conn, const char *form)
{
    static const char gt[] =
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=";
    const char *jwt = strncmp(form, gt, strlen(gt)) == 0 ? form + strlen(gt) : NULL;
    const char *why = jwt ? check_jwt(jwt) : "no jwt-bearer grant";
    char        body[4096];

    snprintf(jwt_problem, sizeof(jwt_problem), "%s", why ? why : "");
    jwt_ok = why == NULL;
    switch (mode_) {
    case FAIL_503:
        return reply(conn, 503, "{\"error\":\"unavailable\"}");
    case REFUSE:
        return reply(conn, 400,
                     "{\"error\":\"invalid_grant\","
                     "\"error_description\":\"Invalid JWT Signature.\"}");
    case ECHO:
        snprintf(body, sizeof(body), "cannot use assertion %s", jwt ? jwt : "");
        return reply(conn, 400, body);
    case GARBAGE:
        return reply(conn, 200, "<html>access_token ya29.garbage-secret</html>");
    case BAD_TOKEN:
        return reply(conn, 200, "{\"access_token\":\"ya29.a b\",\"expires_in\":3600}");
    case OK:
        break;
    }
    if (fail_first > 0) {
        fail_first--;
        return reply(conn, 503, "busy");
    }
    if (why)
        return reply(conn, 400, "{\"error\":\"invalid_grant\",\"error_description\":\"bad JWT\"}");
    return issue(conn, "ya29.tok");
}

static enum MHD_Result
on_request(void *cls, const test_httpd_req *rq)
{
    struct MHD_Connection *conn = rq->conn;
    const char            *url = rq->url, *method = rq->method;

    (void) cls;
    requests++;
    if (strcmp(url, "/token") == 0 && strcmp(method, "POST") == 0) {
        const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");

        if (ct == NULL || strcmp(ct, "application/x-www-form-urlencoded") != 0)
            return reply(conn, 400, "{\"error\":\"invalid_request\"}");
        return on_token(conn, rq->body);
    }
    if (strcmp(url, "/computeMetadata/v1/instance/service-accounts/default/token") == 0 &&
        strcmp(method, "GET") == 0) {
        const char *fl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Metadata-Flavor");

        if (fl == NULL || strcmp(fl, "Google") != 0)
            return reply(conn, 403, "Missing Metadata-Flavor:Google header.");
        if (mode_ == FAIL_503)
            return reply(conn, 503, "busy");
        if (mode_ == REFUSE)
            return reply(conn, 404, "service account not found");
        return issue(conn, "md.tok");
    }
    return reply(conn, 404, "no such path");
}

/* ---- fixtures ------------------------------------------------------------ */

static char *
pem_of(EVP_PKEY *k, const EVP_CIPHER *enc)
{
    BIO  *b = BIO_new(BIO_s_mem());
    char *p, *out;
    long  n;

    ck_assert(enc ? PEM_write_bio_PKCS8PrivateKey(b, k, enc, NULL, 0, NULL, (void *) "pw") == 1
                  : PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1);
    n = BIO_get_mem_data(b, &p);
    out = strndup(p, (size_t) n);
    BIO_free(b);
    return out;
}

static void
suite_setup(void)
{
    test_key = EVP_RSA_gen(2048);
    ck_assert_ptr_nonnull(test_key);
    test_pem = pem_of(test_key, NULL);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_gcp_auth.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
suite_teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "test_gcp_auth: could not remove %s\n", tmpdir);
}

static void
setup(void)
{
    ck_assert_int_eq(cdc_http_global_init(NULL), 0);
    server = test_httpd_start(on_request, NULL);
    ck_assert_ptr_nonnull(server);
    port = test_httpd_port(server);
    closed_port = test_free_port();
    snprintf(token_url, sizeof(token_url), "http://127.0.0.1:%d/token", port);
    mode_ = OK;     /* fresh double state also when run with CK_FORK=no (valgrind) */
    fail_first = 0;
    expires_in = 3600;
    requests = tokens_issued = jwt_ok = 0;
    jwt_problem[0] = '\0';
    unsetenv("PUBSUB_EMULATOR_HOST");
    unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
    unsetenv("GCE_METADATA_HOST");
}

static void
teardown(void)
{
    test_httpd_stop(server);
    cdc_http_global_cleanup();
}

/* Writes a key file of the given fields (a NULL value leaves the field out); @returns its path. */
static const char *
write_key(const char *name, const char *type, const char *email, const char *pem,
          const char *uri)
{
    static char path[128];
    json_t     *o = json_object();

    if (type)
        json_object_set_new(o, "type", json_string(type));
    json_object_set_new(o, "project_id", json_string("test-project"));
    json_object_set_new(o, "private_key_id", json_string("kid-0123"));
    if (pem)
        json_object_set_new(o, "private_key", json_string(pem));
    if (email)
        json_object_set_new(o, "client_email", json_string(email));
    if (uri)
        json_object_set_new(o, "token_uri", json_string(uri));
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    ck_assert_int_eq(json_dump_file(o, path, JSON_INDENT(2)), 0);
    json_decref(o);
    return path;
}

static const char *
good_key(void)
{
    return write_key("key.json", "service_account", EMAIL, test_pem, token_url);
}

/* A line of the PEM's body: key material that must never show. */
static const char *
pem_fragment(void)
{
    static char frag[40];
    const char *l = strchr(test_pem, '\n') + 1;

    memcpy(frag, l + 10, 24);
    frag[24] = '\0';
    return frag;
}

/* No secret of any kind in msg. */
static void
assert_secret_free(const char *msg)
{
    ck_assert_msg(strstr(msg, "ya29.") == NULL, "token in: %s", msg);
    ck_assert_msg(strstr(msg, "md.tok") == NULL, "token in: %s", msg);
    ck_assert_msg(strstr(msg, "Bearer") == NULL, "token in: %s", msg);
    ck_assert_msg(strstr(msg, "eyJ") == NULL, "JWT in: %s", msg);    /* base64url of '{"' */
    ck_assert_msg(strstr(msg, "PRIVATE KEY") == NULL, "key in: %s", msg);
    ck_assert_msg(strstr(msg, pem_fragment()) == NULL, "key in: %s", msg);
}

static cdc_gcp_auth_conf
key_conf(const char *path)
{
    return (cdc_gcp_auth_conf) { .key_file = path, .retry = { .max_attempts = 3, .initial_ms = 20,
                                                                .max_ms = 50 } };
}

/* ---- service-account key ------------------------------------------------- */

START_TEST(key_file_jwt_verifies_and_token_is_used)
{
    const char        *path = good_key(), *line;
    cdc_gcp_auth_conf  c = key_conf(path);
    cdc_err            err = { 0 };
    cdc_gcp_auth      *a = cdc_gcp_auth_new(&c, &err);
    cdc_gcp_auth_stats st;

    ck_assert_msg(a != NULL, "%s", err.msg);
    ck_assert_int_eq(cdc_gcp_auth_source(a), CDC_GCP_KEY_FILE);
    ck_assert_ptr_nonnull(strstr(cdc_gcp_auth_describe(a), path));
    ck_assert_ptr_nonnull(strstr(cdc_gcp_auth_describe(a), EMAIL));
    ck_assert_str_eq(cdc_gcp_auth_base_url(a), CDC_GCP_PUBSUB_URL);
    ck_assert_int_eq(cdc_gcp_auth_header(a, &line, &err), -1);     /* nothing fetched yet */
    ck_assert_int_eq(err.code, CDC_E_CONN);
    ck_assert_msg(cdc_gcp_auth_fetch(a, &err) == 0, "%s (%s)", err.msg, jwt_problem);
    ck_assert_msg(jwt_ok, "the double found the JWT wrong: %s", jwt_problem);
    ck_assert_int_eq(cdc_gcp_auth_header(a, &line, &err), 0);
    ck_assert_str_eq(line, "Authorization: Bearer ya29.tok-1");
    /* Cached: a second fetch asks nobody. */
    ck_assert_int_eq(cdc_gcp_auth_fetch(a, &err), 0);
    ck_assert_int_eq(requests, 1);
    cdc_gcp_auth_stats_get(a, &st);
    ck_assert_int_eq(st.fetched, 1);
    ck_assert(st.expires_in_ms > 3590 * 1000LL && st.expires_in_ms <= 3600 * 1000LL);
    ck_assert_int_eq(cdc_gcp_auth_next_ms(a) > 3290 * 1000LL, 1);   /* 5 minutes early */
    cdc_gcp_auth_free(a);
}
END_TEST

/* A short-lived token is refreshed in the background at half its life; the old one is
   served until the new one is there. */
START_TEST(refresh_before_expiry_without_a_gap)
{
    cdc_gcp_auth_conf c = key_conf(good_key());
    cdc_err           err = { 0 };
    cdc_gcp_auth     *a = cdc_gcp_auth_new(&c, &err);
    const char       *line;
    int64_t           t0;

    expires_in = 2;
    ck_assert_int_eq(cdc_gcp_auth_fetch(a, &err), 0);
    t0 = cdc_mono_ms();
    for (;;) {
        cdc_gcp_auth_stats st;

        cdc_gcp_auth_step(a);
        ck_assert_msg(cdc_gcp_auth_header(a, &line, &err) == 0, "gap: %s", err.msg);
        cdc_gcp_auth_stats_get(a, &st);
        if (st.fetched == 2)
            break;
        ck_assert_msg(cdc_mono_ms() - t0 < 1900, "no refresh before expiry");
        cdc_sleep_ms(10);
    }
    ck_assert_int_ge(cdc_mono_ms() - t0, 900);     /* not before half the life */
    ck_assert_str_eq(line, "Authorization: Bearer ya29.tok-2");
    ck_assert_msg(jwt_ok, "%s", jwt_problem);
    cdc_gcp_auth_free(a);
}
END_TEST

/* The loop alone (no blocking fetch) gets the first token: _step starts the request at
   once, _next_ms says 0 while it runs, then the time to the refresh. */
START_TEST(step_alone_gets_the_first_token)
{
    cdc_gcp_auth_conf  c = key_conf(good_key());
    cdc_err            err = { 0 };
    cdc_gcp_auth      *a = cdc_gcp_auth_new(&c, &err);
    const char        *line = NULL;
    cdc_gcp_auth_stats st;
    int64_t            t0 = cdc_mono_ms();

    ck_assert_int_eq(cdc_gcp_auth_next_ms(a), 0);
    cdc_gcp_auth_step(a);
    cdc_gcp_auth_stats_get(a, &st);
    ck_assert(st.refreshing || st.fetched == 1);
    while (cdc_gcp_auth_header(a, &line, &err) < 0 && cdc_mono_ms() - t0 < 5000) {
        ck_assert_int_eq(err.code, CDC_E_CONN);     /* "no token yet": wait */
        cdc_sleep_ms(5);
        cdc_gcp_auth_step(a);
    }
    ck_assert_str_eq(line, "Authorization: Bearer ya29.tok-1");
    ck_assert_msg(jwt_ok, "%s", jwt_problem);
    ck_assert_int_gt(cdc_gcp_auth_next_ms(a), 3290 * 1000LL);
    cdc_gcp_auth_free(a);
}
END_TEST

/* Refreshes that fail keep the old token while it lasts, then say why, naming no secret. */
START_TEST(failing_refresh_serves_old_token_then_reports)
{
    cdc_gcp_auth_conf c = key_conf(good_key());
    cdc_err           err = { 0 };
    cdc_gcp_auth     *a = cdc_gcp_auth_new(&c, &err);
    const char       *line;
    int64_t           t0;
    cdc_gcp_auth_stats st;

    expires_in = 2;
    ck_assert_int_eq(cdc_gcp_auth_fetch(a, &err), 0);
    mode_ = FAIL_503;
    t0 = cdc_mono_ms();
    while (cdc_mono_ms() - t0 < 1800) {
        cdc_gcp_auth_step(a);
        ck_assert_int_eq(cdc_gcp_auth_header(a, &line, &err), 0);
        ck_assert_str_eq(line, "Authorization: Bearer ya29.tok-1");
        cdc_sleep_ms(10);
    }
    cdc_sleep_ms(300);
    cdc_gcp_auth_step(a);
    ck_assert_int_eq(cdc_gcp_auth_header(a, &line, &err), -1);
    ck_assert_ptr_null(line);
    ck_assert_int_eq(err.code, CDC_E_CONN);                  /* retriable: wait */
    ck_assert_msg(strstr(err.msg, "HTTP 503") && strstr(err.msg, "key.json"), "%s", err.msg);
    assert_secret_free(err.msg);
    cdc_gcp_auth_stats_get(a, &st);
    ck_assert_int_ge(st.failed, 2);                          /* tried again after backoff */
    /* The service comes back: the next refresh brings a token. */
    mode_ = OK;
    t0 = cdc_mono_ms();
    while (cdc_gcp_auth_header(a, &line, &err) < 0 && cdc_mono_ms() - t0 < 2000) {
        cdc_gcp_auth_step(a);
        cdc_sleep_ms(10);
    }
    ck_assert_str_eq(line, "Authorization: Bearer ya29.tok-2");
    cdc_gcp_auth_free(a);
}
END_TEST

START_TEST(fetch_retries_unavailable)
{
    cdc_gcp_auth_conf  c = key_conf(good_key());
    cdc_err            err = { 0 };
    cdc_gcp_auth      *a = cdc_gcp_auth_new(&c, &err);
    cdc_gcp_auth_stats st;

    fail_first = 2;
    ck_assert_msg(cdc_gcp_auth_fetch(a, &err) == 0, "%s", err.msg);
    cdc_gcp_auth_stats_get(a, &st);
    ck_assert_int_eq(st.failed, 2);
    ck_assert_int_eq(st.fetched, 1);
    fail_first = 0;
    cdc_gcp_auth_free(a);
    /* Always unavailable: max_attempts, then the last reason. */
    a = cdc_gcp_auth_new(&c, &err);
    mode_ = FAIL_503;
    requests = 0;
    ck_assert_int_eq(cdc_gcp_auth_fetch(a, &err), -1);
    ck_assert_int_eq(requests, 3);
    ck_assert_int_eq(err.code, CDC_E_CONN);
    ck_assert_msg(strstr(err.msg, "after 3 attempts") && strstr(err.msg, "unavailable"), "%s",
                  err.msg);
    cdc_gcp_auth_free(a);
}
END_TEST

static const struct {
    mode        m;
    const char *want;
} refusals[] = {
    { REFUSE, "refused the token request: HTTP 400: invalid_grant: Invalid JWT Signature. "
              "(the key may be deleted or disabled, or this host's clock off" },
    { ECHO, "refused the token request: HTTP 400: cannot use assertion ***" },
    { GARBAGE, "answered with something that is not a JSON object" },
    { BAD_TOKEN, "\"access_token\" with a blank or control character" },
};

/* A refusal or nonsense is final (CDC_E_CONFIG, one attempt) and names no secret, even when
   the answer echoes the JWT or holds a token. */
START_TEST(refusals_are_final_and_secret_free)
{
    const char       *path = good_key();
    cdc_gcp_auth_conf c = key_conf(path);
    cdc_err           err = { 0 };
    cdc_gcp_auth     *a = cdc_gcp_auth_new(&c, &err);

    mode_ = refusals[_i].m;
    ck_assert_int_eq(cdc_gcp_auth_fetch(a, &err), -1);
    ck_assert_int_eq(requests, 1);
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
    ck_assert_msg(strstr(err.msg, refusals[_i].want), "%s", err.msg);
    ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, token_url), "%s", err.msg);
    assert_secret_free(err.msg);
    cdc_gcp_auth_free(a);
}
END_TEST

/* ---- metadata server ------------------------------------------------------ */

START_TEST(metadata_server_token)
{
    char              host[64];
    cdc_gcp_auth_conf c = { .use_env = true };
    cdc_err           err = { 0 };
    cdc_gcp_auth     *a;
    const char       *line;

    snprintf(host, sizeof(host), "127.0.0.1:%d", port);
    setenv("GCE_METADATA_HOST", host, 1);
    a = cdc_gcp_auth_new(&c, &err);
    ck_assert_msg(a != NULL, "%s", err.msg);
    ck_assert_int_eq(cdc_gcp_auth_source(a), CDC_GCP_METADATA);
    ck_assert_ptr_nonnull(strstr(cdc_gcp_auth_describe(a), host));
    ck_assert_msg(cdc_gcp_auth_fetch(a, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(cdc_gcp_auth_header(a, &line, &err), 0);
    ck_assert_str_eq(line, "Authorization: Bearer md.tok-1");
    cdc_gcp_auth_free(a);
    /* An unknown service account: final, with the server's words. */
    mode_ = REFUSE;
    a = cdc_gcp_auth_new(&c, &err);
    ck_assert_int_eq(cdc_gcp_auth_fetch(a, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
    ck_assert_msg(strstr(err.msg, "metadata server") &&
                  strstr(err.msg, "HTTP 404: service account not found"), "%s", err.msg);
    cdc_gcp_auth_free(a);
}
END_TEST

START_TEST(metadata_server_unreachable)
{
    char              host[64];
    cdc_gcp_auth_conf c = { .metadata_host = host, .timeout_ms = 2000,
                            .retry = { .max_attempts = 2, .initial_ms = 10 } };
    cdc_err           err = { 0 };
    cdc_gcp_auth     *a;

    snprintf(host, sizeof(host), "127.0.0.1:%d", closed_port);
    a = cdc_gcp_auth_new(&c, &err);
    ck_assert_int_eq(cdc_gcp_auth_fetch(a, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_CONN);
    ck_assert_msg(strstr(err.msg, "after 2 attempts: metadata server") &&
                  strstr(err.msg, "did not answer") &&
                  strstr(err.msg, "set GOOGLE_APPLICATION_CREDENTIALS"), "%s", err.msg);
    cdc_gcp_auth_free(a);
}
END_TEST

/* ---- the choice of source ------------------------------------------------- */

START_TEST(emulator_wins_and_needs_no_token)
{
    cdc_gcp_auth_conf c = { .use_env = true };
    cdc_err           err = { 0 };
    cdc_gcp_auth     *a;
    const char       *line = "x";

    setenv("PUBSUB_EMULATOR_HOST", "localhost:8085", 1);
    setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/key.json", 1);
    a = cdc_gcp_auth_new(&c, &err);
    ck_assert_msg(a != NULL, "%s", err.msg);
    ck_assert_int_eq(cdc_gcp_auth_source(a), CDC_GCP_EMULATOR);
    ck_assert_str_eq(cdc_gcp_auth_base_url(a), "http://localhost:8085");
    ck_assert_str_eq(cdc_gcp_auth_describe(a), "emulator localhost:8085");
    ck_assert_int_eq(cdc_gcp_auth_fetch(a, &err), 0);
    cdc_gcp_auth_step(a);
    ck_assert_int_eq(cdc_gcp_auth_header(a, &line, &err), 0);
    ck_assert_ptr_null(line);
    ck_assert_int_eq(cdc_gcp_auth_next_ms(a), -1);
    ck_assert_int_eq(requests, 0);
    cdc_gcp_auth_free(a);

    setenv("PUBSUB_EMULATOR_HOST", "http://localhost:8085/", 1);
    ck_assert_ptr_null(cdc_gcp_auth_new(&c, &err));
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
    ck_assert_msg(strstr(err.msg, "PUBSUB_EMULATOR_HOST 'http://localhost:8085/': expected "
                                  "host:port"), "%s", err.msg);
}
END_TEST

START_TEST(key_file_from_environment_and_default_metadata)
{
    cdc_gcp_auth_conf c = { .use_env = true };
    cdc_err           err = { 0 };
    cdc_gcp_auth     *a;

    setenv("GOOGLE_APPLICATION_CREDENTIALS", good_key(), 1);
    a = cdc_gcp_auth_new(&c, &err);
    ck_assert_msg(a != NULL, "%s", err.msg);
    ck_assert_int_eq(cdc_gcp_auth_source(a), CDC_GCP_KEY_FILE);
    cdc_gcp_auth_free(a);
    unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
    a = cdc_gcp_auth_new(&c, &err);
    ck_assert_int_eq(cdc_gcp_auth_source(a), CDC_GCP_METADATA);
    ck_assert_str_eq(cdc_gcp_auth_describe(a), "metadata server metadata.google.internal");
    cdc_gcp_auth_free(a);
    /* Without use_env the environment is not read. */
    setenv("PUBSUB_EMULATOR_HOST", "localhost:8085", 1);
    a = cdc_gcp_auth_new(&(cdc_gcp_auth_conf) { 0 }, &err);
    ck_assert_int_eq(cdc_gcp_auth_source(a), CDC_GCP_METADATA);
    cdc_gcp_auth_free(a);
}
END_TEST

/* ---- bad key files -------------------------------------------------------- */

typedef enum badkey {
    BK_MISSING, BK_BROKEN_JSON, BK_ARRAY, BK_USER, BK_NO_TYPE, BK_NO_EMAIL, BK_NO_KEY,
    BK_NOT_PEM, BK_ENCRYPTED, BK_EC, BK_TOKEN_URI, BK__COUNT
} badkey;

static const char *const badkey_want[BK__COUNT] = {
    [BK_MISSING] = "cannot open: No such file or directory",
    [BK_BROKEN_JSON] = "not valid JSON (line 3, column",
    [BK_ARRAY] = "not a JSON object",
    [BK_USER] = "\"type\" is \"authorized_user\", expected \"service_account\" (user credentials",
    [BK_NO_TYPE] = "\"type\" is missing, expected \"service_account\"",
    [BK_NO_EMAIL] = "\"client_email\" is missing",
    [BK_NO_KEY] = "\"private_key\" is missing",
    [BK_NOT_PEM] = "\"private_key\" is not an unencrypted PEM private key",
    [BK_ENCRYPTED] = "\"private_key\" is not an unencrypted PEM private key",
    [BK_EC] = "\"private_key\" is EC, not RSA",
    [BK_TOKEN_URI] = "\"token_uri\" is not an http(s) URL",
};

START_TEST(bad_key_files_say_what_and_where)
{
    char        path[160];
    const char *p = path;
    cdc_err     err = { 0 };
    char       *pem = NULL;
    EVP_PKEY   *ec = NULL;
    FILE       *f;

    switch ((badkey) _i) {
    case BK_MISSING:
        snprintf(path, sizeof(path), "%s/none.json", tmpdir);
        break;
    case BK_BROKEN_JSON:
        /* A bad escape inside the private key: jansson would quote the key near it. */
        snprintf(path, sizeof(path), "%s/broken.json", tmpdir);
        f = fopen(path, "w");
        fprintf(f, "{\n  \"type\": \"service_account\",\n  \"private_key\": \"%.60s\\q%s\"\n}\n",
                strchr(test_pem, '\n') + 1, "rest");
        fclose(f);
        break;
    case BK_ARRAY:
        snprintf(path, sizeof(path), "%s/array.json", tmpdir);
        f = fopen(path, "w");
        fputs("[1, 2]\n", f);
        fclose(f);
        break;
    case BK_USER:
        p = write_key("user.json", "authorized_user", NULL, NULL, NULL);
        break;
    case BK_NO_TYPE:
        p = write_key("notype.json", NULL, EMAIL, test_pem, NULL);
        break;
    case BK_NO_EMAIL:
        p = write_key("noemail.json", "service_account", NULL, test_pem, NULL);
        break;
    case BK_NO_KEY:
        p = write_key("nokey.json", "service_account", EMAIL, NULL, NULL);
        break;
    case BK_NOT_PEM:
        p = write_key("notpem.json", "service_account", EMAIL, "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
                      NULL);
        break;
    case BK_ENCRYPTED:
        pem = pem_of(test_key, EVP_aes_256_cbc());
        p = write_key("enc.json", "service_account", EMAIL, pem, NULL);
        break;
    case BK_EC:
        ec = EVP_EC_gen("P-256");
        pem = pem_of(ec, NULL);
        p = write_key("ec.json", "service_account", EMAIL, pem, NULL);
        break;
    case BK_TOKEN_URI:
        p = write_key("uri.json", "service_account", EMAIL, test_pem, "ftp://x/token");
        break;
    case BK__COUNT:
        break;
    }
    ck_assert_ptr_null(cdc_gcp_auth_new(&(cdc_gcp_auth_conf) { .key_file = p }, &err));
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
    ck_assert_msg(strstr(err.msg, "service-account key ") && strstr(err.msg, p), "%s", err.msg);
    ck_assert_msg(strstr(err.msg, badkey_want[_i]), "%s", err.msg);
    assert_secret_free(err.msg);
    free(pem);
    EVP_PKEY_free(ec);
}
END_TEST

static Suite *
gcp_auth_suite(void)
{
    Suite *s = suite_create("gcp_auth");
    TCase *tc = tcase_create("double");

    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, key_file_jwt_verifies_and_token_is_used);
    tcase_add_test(tc, refresh_before_expiry_without_a_gap);
    tcase_add_test(tc, step_alone_gets_the_first_token);
    tcase_add_test(tc, failing_refresh_serves_old_token_then_reports);
    tcase_add_test(tc, fetch_retries_unavailable);
    tcase_add_loop_test(tc, refusals_are_final_and_secret_free, 0,
                        (int) (sizeof(refusals) / sizeof(refusals[0])));
    tcase_add_test(tc, metadata_server_token);
    tcase_add_test(tc, metadata_server_unreachable);
    tcase_add_test(tc, emulator_wins_and_needs_no_token);
    tcase_add_test(tc, key_file_from_environment_and_default_metadata);
    tcase_add_loop_test(tc, bad_key_files_say_what_and_where, 0, BK__COUNT);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return suite_main(gcp_auth_suite(), false);
}
