/*
 * Suite "ice_rest": the Iceberg REST catalog client (sinks/iceberg/catalog/ice_rest.c)
 * against a double of the REST Catalog API (a libmicrohttpd server on a loopback port,
 * started per test) that keeps one table's current snapshot and checks what it is sent:
 * the OAuth2 client-credentials form, the bearer token on every catalog call, the prefix
 * from /v1/config, namespaces joined by %1F, the requirement assert-ref-snapshot-id of a
 * commit (409 CommitFailedException when it fails).  Faults on demand: 503s, a 500 after
 * the commit was applied, concurrent commits, an expired token, error bodies.  No message
 * may hold the client secret or a token.  The real server is in
 * test/integration/650_iceberg_rest_catalog.sh.
 */
#include <check.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_clock.h"
#include "sinks/iceberg/catalog/ice_rest.h"
#include "test/lib/httpd.h"
#include "test/lib/suite_main.h"

#define SECRET "s3cr3t-Value"
#define TABLE_UUID "9c12d441-03fe-4693-9a96-a0705ddf69c1"

/* ---- the double ---------------------------------------------------------- */

static test_httpd *server;
static int         port;
static char        base[64];

/* What the double holds and how it misbehaves; set by each test. */
static volatile int     tokens_issued;       /* the valid token is "tok-<tokens_issued>" */
static volatile int     expires_in = 3600;
static volatile int     expire_now;          /* the next catalog call answers 401 once */
static volatile int     fail_503;            /* that many catalog calls answer 503 first */
static volatile int     commit_500_applied;  /* that many commits are applied, then 500 */
static volatile int     concurrent;          /* that many commits find another writer first */
static volatile int     bad_request;         /* commits answer 400 with an ErrorModel */
static volatile int     token_503;           /* that many token requests answer 503 first */
static volatile int     throttle_429;        /* that many catalog calls answer 429, Retry-After 3600 */
static volatile int64_t current_snapshot = -1;
static volatile int     table_exists = 1;
static volatile int     create_commits;      /* creates taken as a commit with assert-create
                                                (0: answered 404 NoSuchTable, as some servers) */
static volatile int     commits_applied;
static char             namespaces[8][64];
static volatile int     n_namespaces;
static volatile int     requests;
static char             last_auth[256];
static char             last_url[512];
static char             last_body[4096];
static char             token_form[1024];    /* the last token request's body */

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned status, const char *body)
{
    return test_httpd_reply(conn, status, body, "application/json", NULL, NULL);
}

static enum MHD_Result
error_model(struct MHD_Connection *conn, unsigned status, const char *type, const char *msg)
{
    char b[512];

    snprintf(b, sizeof b, "{\"error\":{\"message\":\"%s\",\"type\":\"%s\",\"code\":%u}}", msg,
             type, status);
    return reply(conn, status, b);
}

static char *
load_result(void)
{
    json_t *md = json_pack("{s:i, s:s, s:s, s:I, s:i, s:[{s:i, s:s, s:[]}], s:[], s:[]}",
                           "format-version", 2, "table-uuid", TABLE_UUID, "location",
                           "file:///wh/db/t", "last-updated-ms", (json_int_t) 1, "current-schema-id",
                           0, "schemas", "schema-id", 0, "type", "struct", "fields",
                           "snapshots", "refs");
    json_t *o;
    char   *s;

    if (current_snapshot >= 0) {
        json_object_set_new(md, "current-snapshot-id", json_integer(current_snapshot));
        json_array_append_new(json_object_get(md, "snapshots"),
                              json_pack("{s:I}", "snapshot-id", (json_int_t) current_snapshot));
    }
    o = json_pack("{s:s, s:o, s:{s:s}}", "metadata-location",
                  "file:///wh/db/t/metadata/00001.json", "metadata", md, "config",
                  "s3.endpoint", "http://minio:9000");
    s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* The first add-snapshot's id, after checking assert-ref-snapshot-id; -2: requirement failed. */
static int64_t
apply_commit(const char *body)
{
    json_t *o = json_loads(body, 0, NULL), *e;
    int64_t want = -3, add = -1;
    size_t  i;

    json_array_foreach(json_object_get(o, "requirements"), i, e) {
        if (strcmp(json_string_value(json_object_get(e, "type")), "assert-ref-snapshot-id") == 0) {
            json_t *id = json_object_get(e, "snapshot-id");

            want = json_is_null(id) ? -1 : json_integer_value(id);
        }
    }
    json_array_foreach(json_object_get(o, "updates"), i, e) {
        if (strcmp(json_string_value(json_object_get(e, "action")), "add-snapshot") == 0)
            add = json_integer_value(json_object_get(json_object_get(e, "snapshot"),
                                                     "snapshot-id"));
    }
    json_decref(o);
    if (want != -3 && want != current_snapshot)
        return -2;
    return add;
}

static bool
has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static enum MHD_Result
handler(void *cls, const test_httpd_req *r)
{
    const char *auth = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    char        want[64], url[512];
    size_t      i, n = 0;

    (void) cls;
    requests++;
    /* MHD hands the path percent-decoded: the unit separator arrives as 0x1f */
    for (i = 0; r->url[i] && n + 4 < sizeof url; i++) {
        if (r->url[i] == 0x1f) {
            memcpy(url + n, "%1F", 3);
            n += 3;
        } else
            url[n++] = r->url[i];
    }
    url[n] = 0;
    snprintf(last_url, sizeof last_url, "%s %s", r->method, url);
    snprintf(last_auth, sizeof last_auth, "%s", auth ? auth : "");
    snprintf(last_body, sizeof last_body, "%s", r->body ? r->body : "");

    if (strcmp(url, "/v1/oauth/tokens") == 0) {
        char b[256];

        snprintf(token_form, sizeof token_form, "%s", r->body ? r->body : "");
        if (token_503 > 0) {
            token_503--;
            return reply(r->conn, 503, "{\"error\":\"temporarily_unavailable\"}");
        }
        if (!strstr(token_form, "client_secret=" SECRET))
            return reply(r->conn, 401, "{\"error\":\"invalid_client\","
                                       "\"error_description\":\"Credentials are wrong\"}");
        tokens_issued++;
        snprintf(b, sizeof b, "{\"access_token\":\"tok-%d\",\"token_type\":\"bearer\","
                 "\"expires_in\":%d,\"issued_token_type\":"
                 "\"urn:ietf:params:oauth:token-type:access_token\"}", tokens_issued, expires_in);
        return reply(r->conn, 200, b);
    }
    snprintf(want, sizeof want, "Bearer tok-%d", tokens_issued);
    if (auth == NULL || strcmp(auth, want) != 0 || expire_now) {
        expire_now = 0;
        return error_model(r->conn, 401, "NotAuthorizedException", "Not authorized");
    }
    if (throttle_429 > 0) {
        throttle_429--;
        return test_httpd_reply(r->conn, 429, "{\"error\":{\"message\":\"Too many\","
                                "\"type\":\"TooManyRequests\",\"code\":429}}",
                                "application/json", "Retry-After", "3600");
    }
    if (fail_503 > 0) {
        fail_503--;
        return error_model(r->conn, 503, "ServiceUnavailableException", "Slow down");
    }
    if (strcmp(url, "/v1/config") == 0)
        return reply(r->conn, 200, "{\"defaults\":{\"prefix\":\"ignored\",\"a\":\"1\"},"
                                   "\"overrides\":{\"prefix\":\"pfx\"}}");
    if (strcmp(r->method, "POST") == 0 && strcmp(url, "/v1/pfx/namespaces") == 0) {
        json_t     *o = json_loads(r->body, 0, NULL), *lv;
        cdc_buf     b = CDC_BUF_INIT;
        const char *answer;
        size_t      k;
        int         j;

        json_array_foreach(json_object_get(o, "namespace"), k, lv) {
            if (k)
                cdc_buf_putc(&b, '.');
            cdc_buf_puts(&b, json_string_value(lv));
        }
        json_decref(o);
        for (j = 0; j < n_namespaces; j++)
            if (strcmp(namespaces[j], cdc_buf_str(&b)) == 0)
                break;
        if (j < n_namespaces)
            answer = NULL;
        else {
            snprintf(namespaces[n_namespaces++], sizeof namespaces[0], "%s", cdc_buf_str(&b));
            answer = "{\"namespace\":[],\"properties\":{}}";
        }
        cdc_buf_free(&b);
        return answer ? reply(r->conn, 200, answer)
                      : error_model(r->conn, 409, "AlreadyExistsException", "Namespace exists");
    }
    if (strcmp(r->method, "GET") == 0 && has_prefix(url, "/v1/pfx/namespaces/") &&
        !strstr(url, "/tables")) {
        const char *ns = url + strlen("/v1/pfx/namespaces/");
        char        dotted[64];
        size_t      k = 0;
        int         j;

        for (; *ns && k + 1 < sizeof dotted; ns++) {
            if (has_prefix(ns, "%1F")) {
                dotted[k++] = '.';
                ns += 2;
            } else
                dotted[k++] = *ns;
        }
        dotted[k] = '\0';
        for (j = 0; j < n_namespaces; j++)
            if (strcmp(namespaces[j], dotted) == 0)
                return reply(r->conn, 200, "{\"namespace\":[],\"properties\":{}}");
        return error_model(r->conn, 404, "NoSuchNamespaceException", "Namespace does not exist");
    }
    if (strcmp(url, "/v1/pfx/namespaces/db/tables/t") == 0) {
        char *s;

        if (strcmp(r->method, "POST") == 0 && strstr(r->body, "\"assert-create\"")) {
            if (!create_commits)
                return error_model(r->conn, 404, "NoSuchTableException",
                                   "Table does not exist: db.t");
            if (table_exists)
                return error_model(r->conn, 409, "CommitFailedException",
                                   "Requirement failed: table already exists");
            table_exists = 1;
            s = load_result();
            reply(r->conn, 200, s);
            free(s);
            return MHD_YES;
        }
        if (!table_exists)
            return error_model(r->conn, 404, "NoSuchTableException",
                               "Table does not exist: db.t");
        if (strcmp(r->method, "POST") == 0) {
            int64_t add;

            if (bad_request)
                return error_model(r->conn, 400, "BadRequestException",
                                   "Cannot add snapshot: missing manifest-list");
            if (concurrent > 0) {   /* another writer got there first */
                concurrent--;
                current_snapshot = current_snapshot < 0 ? 1000 : current_snapshot + 1000;
            }
            if ((add = apply_commit(r->body)) == -2)
                return error_model(r->conn, 409, "CommitFailedException",
                                   "Requirement failed: branch main has changed");
            if (add >= 0)
                current_snapshot = add;
            commits_applied++;
            if (commit_500_applied > 0) {
                commit_500_applied--;
                return error_model(r->conn, 500, "CommitStateUnknownException", "boom");
            }
        } else if (strcmp(r->method, "DELETE") == 0) {
            table_exists = 0;
            return test_httpd_reply(r->conn, 204, "", NULL, NULL, NULL);
        }
        s = load_result();
        reply(r->conn, 200, s);
        free(s);
        return MHD_YES;
    }
    if (strcmp(r->method, "POST") == 0 && strcmp(url, "/v1/pfx/namespaces/db/tables") == 0) {
        char *s;

        if (table_exists)
            return error_model(r->conn, 409, "AlreadyExistsException", "Table already exists: db.t");
        table_exists = 1;
        s = load_result();
        reply(r->conn, 200, s);
        free(s);
        return MHD_YES;
    }
    if (strcmp(url, "/v1/pfx/namespaces/db/tables") == 0) {
        const char *page = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "pageToken");

        if (page == NULL)
            return reply(r->conn, 200, "{\"identifiers\":[{\"namespace\":[\"db\"],\"name\":\"t\"},"
                                       "{\"namespace\":[\"db\"],\"name\":\"u\"}],"
                                       "\"next-page-token\":\"p2\"}");
        return reply(r->conn, 200, "{\"identifiers\":[{\"namespace\":[\"db\"],\"name\":\"v\"}]}");
    }
    return error_model(r->conn, 404, "NotFoundException", "no route");
}

static void
setup(void)
{
    cdc_err err = { 0 };

    /* the double's state, afresh for each test (CK_FORK=no runs them in one process) */
    tokens_issued = 0;
    expires_in = 3600;
    expire_now = fail_503 = commit_500_applied = concurrent = bad_request = 0;
    token_503 = throttle_429 = 0;
    current_snapshot = -1;
    table_exists = 1;
    create_commits = 0;
    commits_applied = n_namespaces = requests = 0;
    memset(namespaces, 0, sizeof namespaces);
    last_auth[0] = last_url[0] = last_body[0] = token_form[0] = '\0';

    ck_assert_int_eq(cdc_http_global_init(&err), 0);
    server = test_httpd_start(handler, NULL);
    ck_assert_ptr_nonnull(server);
    port = test_httpd_port(server);
    snprintf(base, sizeof base, "http://127.0.0.1:%d/", port);
}

static void
teardown(void)
{
    test_httpd_stop(server);
    cdc_http_global_cleanup();
}

/* A client with the credential and quick retries. */
static ice_rest *
open_client(const char *credential, cdc_err *err)
{
    ice_rest_conf conf = { 0 };

    conf.uri = base;
    conf.credential = credential;
    conf.warehouse = "wh";
    conf.retry.max_attempts = 4;
    conf.retry.initial_ms = 5;
    conf.retry.max_ms = 20;
    return ice_rest_new(&conf, err);
}

static void
assert_no_secret(const char *msg)
{
    ck_assert_msg(strstr(msg, SECRET) == NULL, "secret in \"%s\"", msg);
    ck_assert_msg(strstr(msg, "tok-") == NULL, "token in \"%s\"", msg);
}

/* ---- tests --------------------------------------------------------------- */

START_TEST(token_prefix_and_bearer_on_every_call)
{
    cdc_err        err = { 0 };
    ice_rest      *c = open_client("client-a:" SECRET, &err);
    ice_rest_table t = { 0 };
    ice_rest_stats st;
    char           what[96];

    ck_assert_msg(c != NULL, "%s", err.msg);
    ck_assert_int_eq(tokens_issued, 1);
    ck_assert_ptr_nonnull(strstr(token_form, "grant_type=client_credentials"));
    ck_assert_ptr_nonnull(strstr(token_form, "client_id=client-a"));
    ck_assert_ptr_nonnull(strstr(token_form, "scope=catalog"));
    ck_assert_str_eq(ice_rest_prefix(c), "pfx");     /* overrides win over defaults */
    ck_assert_str_eq(json_string_value(json_object_get(ice_rest_properties(c), "prefix")), "pfx");
    ck_assert_str_eq(json_string_value(json_object_get(ice_rest_properties(c), "a")), "1");
    snprintf(what, sizeof what, "REST catalog at http://127.0.0.1:%d", port);
    ck_assert_str_eq(ice_rest_what(c), what);
    ck_assert_int_eq(ice_rest_load(c, "db", "t", &t, &err), 0);
    ck_assert_str_eq(last_auth, "Bearer tok-1");
    ck_assert_str_eq(last_url, "GET /v1/pfx/namespaces/db/tables/t");
    ck_assert_str_eq(t.metadata_location, "file:///wh/db/t/metadata/00001.json");
    ck_assert_str_eq(json_string_value(json_object_get(t.metadata, "table-uuid")), TABLE_UUID);
    ck_assert_ptr_nonnull(strstr(t.metadata_json, "\"table-uuid\":\"" TABLE_UUID "\""));
    ck_assert_str_eq(json_string_value(json_object_get(t.config, "s3.endpoint")),
                     "http://minio:9000");
    ice_rest_table_free(&t);
    ice_rest_stats_get(c, &st);
    ck_assert_int_eq((int) st.tokens, 1);
    ck_assert_int_eq((int) st.retries, 0);
    ice_rest_free(c);
}
END_TEST

START_TEST(static_token_is_used_as_given)
{
    cdc_err       err = { 0 };
    ice_rest_conf conf = { 0 };
    ice_rest     *c;

    tokens_issued = 7;      /* the double accepts "tok-7" */
    conf.uri = base;
    conf.token = "tok-7";
    c = ice_rest_new(&conf, &err);
    ck_assert_msg(c != NULL, "%s", err.msg);
    ck_assert_str_eq(last_auth, "Bearer tok-7");
    ck_assert_int_eq(tokens_issued, 7);          /* no token request */
    ice_rest_free(c);

    conf.token = "tok-6";                        /* refused, and no credential to renew it */
    ck_assert_ptr_null(ice_rest_new(&conf, &err));
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
    ck_assert_msg(strstr(err.msg, "GET /v1/config: HTTP 401 NotAuthorizedException") != NULL,
                  "%s", err.msg);
    assert_no_secret(err.msg);

    conf.credential = "client-a:" SECRET;        /* with a credential: a new token after the 401 */
    c = ice_rest_new(&conf, &err);
    ck_assert_msg(c != NULL, "%s", err.msg);
    ck_assert_int_eq(tokens_issued, 8);
    ck_assert_str_eq(last_auth, "Bearer tok-8");
    ice_rest_free(c);
}
END_TEST

START_TEST(wrong_credential_names_the_endpoint_not_the_secret)
{
    cdc_err err = { 0 };

    ck_assert_ptr_null(open_client("client-a:wrong-" SECRET "x", &err));
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
    ck_assert_msg(strstr(err.msg, "/v1/oauth/tokens refused the credential of client id "
                                  "\"client-a\": HTTP 401 invalid_client: Credentials are wrong"),
                  "%s", err.msg);
    assert_no_secret(err.msg);
}
END_TEST

START_TEST(expired_token_is_fetched_again)
{
    cdc_err        err = { 0 };
    ice_rest      *c;
    ice_rest_stats st;

    expires_in = 2;          /* refresh_early_s 300 > life: refreshed at half its life */
    c = open_client("client-a:" SECRET, &err);
    ck_assert_msg(c != NULL, "%s", err.msg);
    cdc_sleep_ms(1100);
    ck_assert_int_eq(ice_rest_load(c, "db", "t", NULL, &err), 0);
    ck_assert_int_eq(tokens_issued, 2);
    ck_assert_str_eq(last_auth, "Bearer tok-2");
    /* a 401 from the catalog (revoked, expired early): one new token, the call goes through */
    expires_in = 3600;
    expire_now = 1;
    ck_assert_int_eq(ice_rest_load(c, "db", "t", NULL, &err), 0);
    ck_assert_int_eq(tokens_issued, 3);
    ice_rest_stats_get(c, &st);
    ck_assert_int_eq((int) st.tokens, 3);
    ice_rest_free(c);
}
END_TEST

START_TEST(token_endpoint_retried_scope_and_uri_as_configured)
{
    cdc_err        err = { 0 };
    ice_rest_conf  conf = { 0 };
    ice_rest      *c;
    ice_rest_stats st;
    char           tok_uri[96];
    int64_t        t0;

    snprintf(tok_uri, sizeof tok_uri, "http://127.0.0.1:%d/v1/oauth/tokens", port);
    conf.uri = base;
    conf.credential = "client-a:" SECRET;
    conf.scope = "PRINCIPAL_ROLE:ALL";
    conf.oauth_uri = tok_uri;
    conf.retry.max_attempts = 4;
    conf.retry.initial_ms = 5;
    conf.retry.max_ms = 50;
    token_503 = 2;
    c = ice_rest_new(&conf, &err);
    ck_assert_msg(c != NULL, "%s", err.msg);
    ck_assert_ptr_nonnull(strstr(token_form, "scope=PRINCIPAL_ROLE%3AALL"));
    ice_rest_stats_get(c, &st);
    ck_assert_int_eq((int) st.retries, 2);
    ck_assert_int_eq((int) st.tokens, 1);
    /* 429 with Retry-After: 3600 is retried, the wait capped at retry.max_ms */
    throttle_429 = 2;
    t0 = cdc_mono_ms();
    ck_assert_int_eq(ice_rest_load(c, "db", "t", NULL, &err), 0);
    ck_assert_int_lt(cdc_mono_ms() - t0, 2000);
    ice_rest_stats_get(c, &st);
    ck_assert_int_eq((int) st.retries, 4);
    ice_rest_free(c);
}
END_TEST

START_TEST(namespaces_created_parents_first)
{
    cdc_err   err = { 0 };
    ice_rest *c = open_client("client-a:" SECRET, &err);

    ck_assert_msg(c != NULL, "%s", err.msg);
    ck_assert_int_eq(ice_rest_ns_exists(c, "a.b", &err), ICE_REST_NOT_FOUND);
    ck_assert_str_eq(last_url, "GET /v1/pfx/namespaces/a%1Fb");
    ck_assert_int_eq(ice_rest_ns_ensure(c, "a.b", &err), 0);
    ck_assert_int_eq(n_namespaces, 2);
    ck_assert_str_eq(namespaces[0], "a");
    ck_assert_str_eq(namespaces[1], "a.b");
    ck_assert_int_eq(ice_rest_ns_exists(c, "a.b", &err), 0);
    ck_assert_int_eq(ice_rest_ns_ensure(c, "a.b", &err), 0);   /* there: nothing sent */
    ck_assert_int_eq(n_namespaces, 2);
    ck_assert_int_eq(ice_rest_ns_ensure(c, "a..b", &err), -1);
    ck_assert_msg(strstr(err.msg, "namespace \"a..b\" has an empty level"), "%s", err.msg);
    ice_rest_free(c);
}
END_TEST

START_TEST(load_create_list_drop)
{
    cdc_err        err = { 0 };
    ice_rest      *c = open_client("client-a:" SECRET, &err);
    ice_rest_table t = { 0 };
    const char    *req = "{\"schema\":{\"type\":\"struct\",\"schema-id\":0,\"fields\":[]}}";

    ck_assert_msg(c != NULL, "%s", err.msg);
    ck_assert_int_eq(ice_rest_create(c, "db", "t", req, NULL, &err), ICE_REST_EXISTS);
    ck_assert_msg(strstr(err.msg, "table db.t already exists"), "%s", err.msg);
    ck_assert_int_eq(ice_rest_drop(c, "db", "t", &err), 0);
    ck_assert_str_eq(last_url, "DELETE /v1/pfx/namespaces/db/tables/t");
    ck_assert_int_eq(ice_rest_load(c, "db", "t", &t, &err), ICE_REST_NOT_FOUND);
    ck_assert_msg(strstr(err.msg, "table db.t does not exist"), "%s", err.msg);
    ck_assert_int_eq(ice_rest_drop(c, "db", "t", &err), ICE_REST_NOT_FOUND);
    ck_assert_int_eq(ice_rest_create(c, "db", "t", req, &t, &err), 0);
    ck_assert_ptr_nonnull(strstr(last_body, "\"name\":\"t\""));
    ck_assert_str_eq(t.metadata_location, "file:///wh/db/t/metadata/00001.json");
    ice_rest_table_free(&t);
    ck_assert_int_eq(ice_rest_create(c, "db", "t", "[1]", NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "create table db.t: the CreateTableRequest is not a JSON object"),
                  "%s", err.msg);
    ice_rest_free(c);
}
END_TEST

static int
count_names(void *ud, const char *name)
{
    cdc_buf *b = ud;

    cdc_buf_puts(b, name);
    cdc_buf_putc(b, ' ');
    return 0;
}

START_TEST(list_follows_page_tokens)
{
    cdc_err   err = { 0 };
    ice_rest *c = open_client("client-a:" SECRET, &err);
    cdc_buf   b = CDC_BUF_INIT;

    ck_assert_msg(c != NULL, "%s", err.msg);
    ck_assert_int_eq(ice_rest_list(c, "db", count_names, &b, &err), 0);
    ck_assert_str_eq(cdc_buf_str(&b), "t u v ");
    cdc_buf_free(&b);
    ice_rest_free(c);
}
END_TEST

/* A commit of snapshot <next> on whatever is current: the sink's shape. */
typedef struct builder {
    int64_t next;
    int     builds;
    int     saw_unknown;
} builder;

static int
build_snapshot(void *ud, const ice_rest_table *cur, const ice_rest_build_info *info,
               char **requirements, char **updates, cdc_err *err)
{
    builder *b = ud;
    json_t  *req = json_array(), *upd = json_array(), *snaps, *s;
    json_t  *cid = json_object_get(cur->metadata, "current-snapshot-id");
    int64_t  base_id = json_is_integer(cid) ? json_integer_value(cid) : -1;
    char     snap[256];
    size_t   i;

    b->builds++;
    ck_assert_int_eq(info->attempt, b->builds);
    if (info->state_unknown) {
        b->saw_unknown++;
        snaps = json_object_get(cur->metadata, "snapshots");
        json_array_foreach(snaps, i, s) {
            if (json_integer_value(json_object_get(s, "snapshot-id")) == b->next) {
                json_decref(req);
                json_decref(upd);
                return 1;    /* ours went through before the 500 */
            }
        }
    }
    snprintf(snap, sizeof snap, "{\"snapshot-id\":%lld,%s\"sequence-number\":1,"
             "\"timestamp-ms\":1,\"manifest-list\":\"file:///wh/m.avro\","
             "\"summary\":{\"operation\":\"append\"}}", (long long) b->next,
             base_id >= 0 ? "\"parent-snapshot-id\":0," : "");
    if (ice_rest_req_assert_uuid(req, TABLE_UUID, err) < 0 ||
        ice_rest_req_assert_ref_snapshot(req, "main", base_id, err) < 0 ||
        ice_rest_upd_add_snapshot(upd, snap, err) < 0 ||
        ice_rest_upd_set_ref(upd, "main", b->next, err) < 0)
        return -1;
    *requirements = json_dumps(req, JSON_COMPACT);
    *updates = json_dumps(upd, JSON_COMPACT);
    json_decref(req);
    json_decref(upd);
    return 0;
}

START_TEST(commit_conflict_reloads_and_rebuilds)
{
    cdc_err        err = { 0 };
    ice_rest      *c = open_client("client-a:" SECRET, &err);
    ice_rest_table t = { 0 };
    builder        b = { .next = 42 };
    ice_rest_stats st;
    bool           unknown = true;

    ck_assert_msg(c != NULL, "%s", err.msg);
    /* a commit on a stale base: 409, nothing changed */
    ck_assert_int_eq(ice_rest_commit(c, "db", "t",
                                     "[{\"type\":\"assert-ref-snapshot-id\",\"ref\":\"main\","
                                     "\"snapshot-id\":5}]", "[]", NULL, &unknown, &err),
                     ICE_REST_CONFLICT);
    ck_assert(!unknown);
    ck_assert_msg(strstr(err.msg, "commit to table db.t: a concurrent commit changed the table "
                                  "(HTTP 409 CommitFailedException: Requirement failed"),
                  "%s", err.msg);
    ck_assert_int_eq(commits_applied, 0);

    /* two writers get in first: the third build wins, on top of what they committed */
    concurrent = 2;
    ck_assert_int_eq(ice_rest_commit_retry(c, "db", "t", 5, build_snapshot, &b, &t, &err), 0);
    ck_assert_int_eq(b.builds, 3);
    ck_assert_int_eq((int) current_snapshot, 42);
    ck_assert_int_eq(json_integer_value(json_object_get(t.metadata, "current-snapshot-id")), 42);
    ck_assert_ptr_nonnull(strstr(last_body, "\"assert-ref-snapshot-id\",\"ref\":\"main\","
                                            "\"snapshot-id\":2000"));
    ck_assert_ptr_nonnull(strstr(last_body, "\"identifier\":{\"namespace\":[\"db\"],\"name\":\"t\"}"));
    ice_rest_table_free(&t);
    ice_rest_stats_get(c, &st);
    ck_assert_int_eq((int) st.conflicts, 3);    /* the stale one and the two races */

    /* every attempt loses: gives up, says so */
    b.builds = 0;
    b.next = 43;
    concurrent = 100;
    ck_assert_int_eq(ice_rest_commit_retry(c, "db", "t", 3, build_snapshot, &b, NULL, &err),
                     ICE_REST_CONFLICT);
    ck_assert_int_eq(b.builds, 3);
    ck_assert_msg(strstr(err.msg, "gave up after 3 commits that each lost to a concurrent writer"),
                  "%s", err.msg);
    ice_rest_free(c);
}
END_TEST

START_TEST(unavailable_is_retried_with_backoff)
{
    cdc_err        err = { 0 };
    ice_rest      *c = open_client("client-a:" SECRET, &err);
    ice_rest_stats st;

    ck_assert_msg(c != NULL, "%s", err.msg);
    fail_503 = 3;                       /* max_attempts 4: the fourth answers */
    ck_assert_int_eq(ice_rest_load(c, "db", "t", NULL, &err), 0);
    ice_rest_stats_get(c, &st);
    ck_assert_int_eq((int) st.retries, 3);

    fail_503 = 4;                       /* out of attempts */
    ck_assert_int_eq(ice_rest_load(c, "db", "t", NULL, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_CONN);
    ck_assert(cdc_rc_retriable(err.code));
    ck_assert_msg(strstr(err.msg, "load table db.t http://127.0.0.1:") &&
                  strstr(err.msg, "/v1/pfx/namespaces/db/tables/t: HTTP 503 "
                                  "ServiceUnavailableException: Slow down (after 4 attempts)"),
                  "%s", err.msg);
    assert_no_secret(err.msg);
    ice_rest_free(c);
}
END_TEST

START_TEST(applied_commit_answered_500_is_found_after_reload)
{
    cdc_err   err = { 0 };
    ice_rest *c = open_client("client-a:" SECRET, &err);
    builder   b = { .next = 77 };
    bool      unknown = false;

    ck_assert_msg(c != NULL, "%s", err.msg);
    /* the server applies the commit, then answers 500: the retry is a 409 (the ref moved),
       the state is unknown, the reload shows our snapshot, the builder stops */
    commit_500_applied = 1;
    ck_assert_int_eq(ice_rest_commit_retry(c, "db", "t", 5, build_snapshot, &b, NULL, &err), 0);
    ck_assert_int_eq(b.builds, 2);
    ck_assert_int_eq(b.saw_unknown, 1);
    ck_assert_int_eq(commits_applied, 1);
    ck_assert_int_eq((int) current_snapshot, 77);

    /* a plain commit answered 500 every time: -1, retriable, state unknown */
    commit_500_applied = 100;
    ck_assert_int_eq(ice_rest_commit(c, "db", "t", NULL, "[]", NULL, &unknown, &err), -1);
    ck_assert(unknown);
    ck_assert_int_eq(err.code, CDC_E_CONN);
    ck_assert_msg(strstr(err.msg, "HTTP 500 CommitStateUnknownException: boom"), "%s", err.msg);
    ice_rest_free(c);
}
END_TEST

START_TEST(refusals_quote_the_error_model)
{
    cdc_err   err = { 0 };
    ice_rest *c = open_client("client-a:" SECRET, &err);

    ck_assert_msg(c != NULL, "%s", err.msg);
    bad_request = 1;
    ck_assert_int_eq(ice_rest_commit(c, "db", "t", NULL, "[]", NULL, NULL, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_DEST);
    ck_assert_msg(strstr(err.msg, "REST catalog at http://127.0.0.1:") &&
                  strstr(err.msg, "commit to table db.t: HTTP 400 BadRequestException: "
                                  "Cannot add snapshot: missing manifest-list"),
                  "%s", err.msg);
    assert_no_secret(err.msg);
    ck_assert_int_eq(ice_rest_commit(c, "db", "t", "{", "[]", NULL, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "commit to table db.t: requirements is not JSON"), "%s",
                  err.msg);
    ck_assert_int_eq(ice_rest_commit(c, "db", "t", "[]", "{}", NULL, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "updates is not a JSON array"), "%s", err.msg);
    ice_rest_free(c);
}
END_TEST

START_TEST(unreachable_catalog_is_retriable)
{
    cdc_err       err = { 0 };
    ice_rest_conf conf = { 0 };
    char          url[64];

    snprintf(url, sizeof url, "http://user:pw@127.0.0.1:%d", test_free_port());
    conf.uri = url;
    conf.retry.max_attempts = 2;
    conf.retry.initial_ms = 1;
    ck_assert_ptr_null(ice_rest_new(&conf, &err));
    ck_assert_int_eq(err.code, CDC_E_CONN);
    ck_assert_msg(strstr(err.msg, "GET /v1/config") && strstr(err.msg, "no answer after 2 attempts"),
                  "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "pw@") == NULL, "%s", err.msg);
    conf.uri = "ftp://x";
    ck_assert_ptr_null(ice_rest_new(&conf, &err));
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
    ck_assert_msg(strstr(err.msg, "catalog uri \"ftp://x\" is not an http:// or https:// URL"),
                  "%s", err.msg);
}
END_TEST

START_TEST(create_request_from_v2_metadata)
{
    cdc_err     err = { 0 };
    const char *md =
        "{\"format-version\":2,\"table-uuid\":\"u\",\"location\":\"file:///wh/db/t\","
        "\"current-schema-id\":1,\"schemas\":[{\"schema-id\":0,\"type\":\"struct\",\"fields\":[]},"
        "{\"schema-id\":1,\"type\":\"struct\",\"identifier-field-ids\":[1],\"fields\":[{\"id\":1,"
        "\"name\":\"id\",\"required\":true,\"type\":\"long\"}]}],\"default-spec-id\":0,"
        "\"partition-specs\":[{\"spec-id\":0,\"fields\":[]}],\"default-sort-order-id\":0,"
        "\"sort-orders\":[{\"order-id\":0,\"fields\":[]}],\"properties\":{\"a\":\"b\"}}";
    char   *req = ice_rest_create_request_from_metadata(md, &err);
    json_t *o;

    ck_assert_msg(req != NULL, "%s", err.msg);
    o = json_loads(req, 0, NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(o, "schema"), "schema-id")),
                     1);
    ck_assert_str_eq(json_string_value(json_object_get(o, "location")), "file:///wh/db/t");
    ck_assert(json_is_object(json_object_get(o, "partition-spec")));
    ck_assert(json_is_object(json_object_get(o, "write-order")));
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "properties"),
                                                       "format-version")), "2");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "properties"), "a")),
                     "b");
    json_decref(o);
    free(req);
    ck_assert_ptr_null(ice_rest_create_request_from_metadata("{\"schemas\":[]}", &err));
    ck_assert_msg(strstr(err.msg, "no current schema"), "%s", err.msg);
}
END_TEST

START_TEST(requirement_and_update_shapes)
{
    cdc_err err = { 0 };
    json_t *a = json_array();
    char   *s;

    ck_assert_int_eq(ice_rest_req_assert_create(a, &err), 0);
    ck_assert_int_eq(ice_rest_req_assert_uuid(a, "u-1", &err), 0);
    ck_assert_int_eq(ice_rest_req_assert_ref_snapshot(a, "main", -1, &err), 0);
    ck_assert_int_eq(ice_rest_req_assert_ref_snapshot(a, "main", 9007199254740993LL, &err), 0);
    ck_assert_int_eq(ice_rest_req_assert_schema_id(a, 3, &err), 0);
    ck_assert_int_eq(ice_rest_upd_add_schema(a, "{\"type\":\"struct\",\"fields\":[]}", &err), 0);
    ck_assert_int_eq(ice_rest_upd_set_current_schema(a, -1, &err), 0);
    ck_assert_int_eq(ice_rest_upd_add_snapshot(a, "{\"snapshot-id\":5}", &err), 0);
    ck_assert_int_eq(ice_rest_upd_set_ref(a, "main", 5, &err), 0);
    ck_assert_int_eq(ice_rest_upd_set_properties(a, "cdc.lsn", "0/16B3748", &err), 0);
    s = json_dumps(a, JSON_COMPACT);
    ck_assert_str_eq(s,
        "[{\"type\":\"assert-create\"},"
        "{\"type\":\"assert-table-uuid\",\"uuid\":\"u-1\"},"
        "{\"type\":\"assert-ref-snapshot-id\",\"ref\":\"main\",\"snapshot-id\":null},"
        "{\"type\":\"assert-ref-snapshot-id\",\"ref\":\"main\",\"snapshot-id\":9007199254740993},"
        "{\"type\":\"assert-current-schema-id\",\"current-schema-id\":3},"
        "{\"action\":\"add-schema\",\"schema\":{\"type\":\"struct\",\"fields\":[]}},"
        "{\"action\":\"set-current-schema\",\"schema-id\":-1},"
        "{\"action\":\"add-snapshot\",\"snapshot\":{\"snapshot-id\":5}},"
        "{\"action\":\"set-snapshot-ref\",\"ref-name\":\"main\",\"type\":\"branch\","
        "\"snapshot-id\":5},"
        "{\"action\":\"set-properties\",\"updates\":{\"cdc.lsn\":\"0/16B3748\"}}]");
    free(s);
    ck_assert_int_eq(ice_rest_upd_add_snapshot(a, "{\"x\":1}", &err), -1);
    ck_assert_msg(strstr(err.msg, "add-snapshot: the snapshot has no integer \"snapshot-id\""),
                  "%s", err.msg);
    ck_assert_int_eq(ice_rest_upd_add_schema(a, "nope", &err), -1);
    ck_assert_msg(strstr(err.msg, "add-schema: not JSON"), "%s", err.msg);
    json_decref(a);
}
END_TEST

/* The create transaction's updates keep the schema's field ids (a list's element numbered
   right after its column, as the sink numbers them), and the REST catalog's create commits
   them with assert-create; a server that takes no create by commit gets the request. */
START_TEST(create_by_commit_keeps_field_ids)
{
    cdc_err           err = { 0 };
    const char       *md =
        "{\"format-version\":2,\"table-uuid\":\"8c7e1a9e-0000-4000-8000-000000000001\","
        "\"location\":\"file:///wh/db/t\",\"last-column-id\":4,\"current-schema-id\":0,"
        "\"schemas\":[{\"schema-id\":0,\"type\":\"struct\",\"identifier-field-ids\":[1],"
        "\"fields\":[{\"id\":1,\"name\":\"id\",\"required\":true,\"type\":\"int\"},"
        "{\"id\":2,\"name\":\"a\",\"required\":false,\"type\":{\"type\":\"list\","
        "\"element-id\":3,\"element\":\"int\",\"element-required\":false}},"
        "{\"id\":4,\"name\":\"s\",\"required\":false,\"type\":\"string\"}]}],"
        "\"default-spec-id\":0,\"partition-specs\":[{\"spec-id\":0,\"fields\":[]}],"
        "\"last-partition-id\":999,\"default-sort-order-id\":0,"
        "\"sort-orders\":[{\"order-id\":0,\"fields\":[]}],\"properties\":{\"k\":\"v\"}}";
    char             *upd = ice_rest_create_updates_from_metadata(md, &err);
    json_t           *a, *e;
    const char       *want[] = { "assign-uuid", "upgrade-format-version", "add-schema",
                                 "set-current-schema", "add-spec", "set-default-spec",
                                 "add-sort-order", "set-default-sort-order", "set-location",
                                 "set-properties" };
    size_t            i;
    ice_rest_conf     conf = { 0 };
    ice_cat          *c;
    ice_cat_ident     id = { "db", "t" };
    ice_cat_table     t = { 0 };
    ice_cat_new_table nt = { .metadata_json = md };

    ck_assert_msg(upd != NULL, "%s", err.msg);
    a = json_loads(upd, 0, NULL);
    ck_assert_int_eq((int) json_array_size(a), 10);
    json_array_foreach(a, i, e)
        ck_assert_str_eq(json_string_value(json_object_get(e, "action")), want[i]);
    e = json_object_get(json_array_get(a, 2), "schema");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(
        json_object_get(e, "fields"), 2), "id")), 4);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(json_array_get(
        json_object_get(e, "fields"), 1), "type"), "element-id")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(a, 2), "last-column-id")),
                     4);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(a, 8), "location")),
                     "file:///wh/db/t");
    json_decref(a);
    free(upd);
    ck_assert_ptr_null(ice_rest_create_updates_from_metadata("{\"format-version\":2}", &err));
    ck_assert_msg(strstr(err.msg, "needs format v2 metadata"), "%s", err.msg);

    conf.uri = base;
    conf.credential = "client-a:" SECRET;
    conf.retry.initial_ms = 1;
    c = ice_rest_cat_open(&conf, &err);
    ck_assert_msg(c != NULL, "%s", err.msg);
    /* by commit: the updates go to the table's URL, guarded by assert-create */
    table_exists = 0;
    create_commits = 1;
    ck_assert_int_eq(ice_cat_create(c, &id, &nt, &t, &err), ICE_CAT_OK);
    ck_assert_str_eq(last_url, "POST /v1/pfx/namespaces/db/tables/t");
    ck_assert_ptr_nonnull(strstr(last_body, "{\"type\":\"assert-create\"}"));
    ck_assert_ptr_nonnull(strstr(last_body, "\"element-id\":3"));
    ice_cat_table_free(&t);
    ck_assert_int_eq(ice_cat_create(c, &id, &nt, &t, &err), ICE_CAT_EXISTS);
    ck_assert_msg(strstr(err.msg, "table db.t already exists"), "%s", err.msg);
    /* a server that answers the commit 404: the CreateTableRequest */
    table_exists = 0;
    create_commits = 0;
    ck_assert_int_eq(ice_cat_create(c, &id, &nt, &t, &err), ICE_CAT_OK);
    ck_assert_str_eq(last_url, "POST /v1/pfx/namespaces/db/tables");
    ck_assert_ptr_nonnull(strstr(last_body, "\"name\":\"t\""));
    ice_cat_table_free(&t);
    ice_cat_close(c);
}
END_TEST

/* An ice_cat builder: snapshot <next> on the current one, as the sink would hand it over. */
typedef struct cat_builder {
    int64_t next;
    int     builds;
    char   *req, *upd;
} cat_builder;

static int
cat_build(void *ud, const ice_cat_table *cur, ice_cat_change *cm, cdc_err *err)
{
    cat_builder *b = ud;
    json_t      *md = json_loads(cur->metadata_json, 0, NULL);
    json_t      *cid = json_object_get(md, "current-snapshot-id");
    json_t      *req = json_array(), *upd = json_array();
    char         snap[128];

    b->builds++;
    free(b->req);
    free(b->upd);
    snprintf(snap, sizeof snap, "{\"snapshot-id\":%lld,\"manifest-list\":\"m\"}",
             (long long) b->next);
    if (ice_rest_req_assert_ref_snapshot(req, "main",
                                         json_is_integer(cid) ? json_integer_value(cid) : -1,
                                         err) < 0 ||
        ice_rest_upd_add_snapshot(upd, snap, err) < 0)
        return -1;
    b->req = json_dumps(req, JSON_COMPACT);
    b->upd = json_dumps(upd, JSON_COMPACT);
    cm->requirements_json = b->req;
    cm->updates_json = b->upd;
    json_decref(req);
    json_decref(upd);
    json_decref(md);
    return 0;
}

START_TEST(catalog_interface_ops)
{
    cdc_err           err = { 0 };
    ice_rest_conf     conf = { 0 };
    ice_cat          *c;
    ice_cat_ident     id = { "db", "t" };
    ice_cat_table     t = { 0 };
    ice_cat_new_table nt = { 0 };
    ice_cat_change    cm = { 0 };
    cat_builder       b = { .next = 500 };
    cdc_buf           names = CDC_BUF_INIT;

    conf.uri = base;
    conf.credential = "client-a:" SECRET;
    conf.retry.initial_ms = 1;
    c = ice_rest_cat_open(&conf, &err);
    ck_assert_msg(c != NULL, "%s", err.msg);
    ck_assert_str_eq(c->ops->kind, "rest");
    ck_assert_ptr_nonnull(ice_rest_cat_client(c));
    ck_assert_ptr_nonnull(strstr(c->what, "REST catalog at http://127.0.0.1:"));

    ck_assert_int_eq(ice_cat_load(c, &id, &t, &err), ICE_CAT_OK);
    ck_assert_ptr_nonnull(strstr(t.metadata_json, TABLE_UUID));
    ck_assert_str_eq(t.metadata_location, "file:///wh/db/t/metadata/00001.json");
    ice_cat_table_free(&t);

    /* create: the namespace first, then the request made from the metadata document */
    table_exists = 0;
    ck_assert_int_eq(ice_cat_load(c, &id, &t, &err), ICE_CAT_NOT_FOUND);
    nt.metadata_json = "{\"format-version\":2,\"current-schema-id\":0,\"schemas\":"
                       "[{\"schema-id\":0,\"type\":\"struct\",\"fields\":[]}]}";
    ck_assert_int_eq(ice_cat_create(c, &id, &nt, &t, &err), ICE_CAT_OK);
    ck_assert_int_eq(n_namespaces, 1);
    ck_assert_str_eq(namespaces[0], "db");
    ck_assert_ptr_nonnull(strstr(last_body, "\"properties\":{\"format-version\":\"2\"}"));
    ice_cat_table_free(&t);
    ck_assert_int_eq(ice_cat_create(c, &id, &nt, &t, &err), ICE_CAT_EXISTS);

    /* a change without updates means nothing to the REST catalog */
    cm.new_location = "file:///wh/db/t/metadata/00002.json";
    ck_assert_int_eq(ice_cat_commit(c, &id, &cm, NULL, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_INVAL);
    ck_assert_msg(strstr(err.msg, "the REST catalog commits table updates"), "%s", err.msg);

    /* the interface's reload-and-retry loop over REST conflicts */
    concurrent = 2;
    ck_assert_int_eq(ice_cat_commit_retry(c, &id, 5, cat_build, &b, &t, &err), ICE_CAT_OK);
    ck_assert_int_eq(b.builds, 3);
    ck_assert_int_eq((int) current_snapshot, 500);
    ck_assert_ptr_nonnull(strstr(t.metadata_json, "\"current-snapshot-id\":500"));
    ice_cat_table_free(&t);

    ck_assert_int_eq(ice_cat_list(c, "db", count_names, &names, &err), ICE_CAT_OK);
    ck_assert_str_eq(cdc_buf_str(&names), "t u v ");
    cdc_buf_free(&names);
    ck_assert_int_eq(ice_cat_drop(c, &id, &err), ICE_CAT_OK);
    ck_assert_int_eq(ice_cat_drop(c, &id, &err), ICE_CAT_NOT_FOUND);
    free(b.req);
    free(b.upd);
    ice_cat_close(c);
}
END_TEST

static Suite *
ice_rest_suite(void)
{
    Suite *s = suite_create("ice_rest");
    TCase *tc = tcase_create("double");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, token_prefix_and_bearer_on_every_call);
    tcase_add_test(tc, static_token_is_used_as_given);
    tcase_add_test(tc, wrong_credential_names_the_endpoint_not_the_secret);
    tcase_add_test(tc, expired_token_is_fetched_again);
    tcase_add_test(tc, token_endpoint_retried_scope_and_uri_as_configured);
    tcase_add_test(tc, namespaces_created_parents_first);
    tcase_add_test(tc, load_create_list_drop);
    tcase_add_test(tc, list_follows_page_tokens);
    tcase_add_test(tc, commit_conflict_reloads_and_rebuilds);
    tcase_add_test(tc, unavailable_is_retried_with_backoff);
    tcase_add_test(tc, applied_commit_answered_500_is_found_after_reload);
    tcase_add_test(tc, refusals_quote_the_error_model);
    tcase_add_test(tc, unreachable_catalog_is_retriable);
    tcase_add_test(tc, create_request_from_v2_metadata);
    tcase_add_test(tc, requirement_and_update_shapes);
    tcase_add_test(tc, catalog_interface_ops);
    tcase_add_test(tc, create_by_commit_keeps_field_ids);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return suite_main(ice_rest_suite(), false);
}
