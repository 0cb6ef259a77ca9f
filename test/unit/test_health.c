/*
 * Unit tests for agent/ops/health.c: a real server on 127.0.0.1, port 0,
 * queried with libcurl.  /healthz, /readyz (200, 503 while a destination
 * is in error, 200 again after it recovers), /metrics, unknown paths and
 * methods, and the "port in use" error.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_log.h"
#include "agent/ops/health.h"
#include "agent/ops/metrics.h"

static agent_metrics *m;
static agent_health  *h;

static void
setup(void)
{
    agent_health_conf conf = { "127.0.0.1", 0 };
    cdc_err           err = { 0 };
    cdc_health        ok = { CDC_DEST_OK, "" };

    m = agent_metrics_new("orders-cdc", "orders_slot");
    agent_metrics_add_dest(m, "lake", "jsonl");
    agent_metrics_set_dest(m, 0, (cdc_pos) { 0, 0 }, &ok);
    agent_metrics_set_repl_state(m, AGENT_REPL_STREAMING, NULL);
    h = agent_health_start(&conf, m, &err);
    ck_assert_msg(h != NULL, "start: %s", err.msg);
    ck_assert_int_gt(agent_health_port(h), 0);
}

static void
teardown(void)
{
    agent_health_stop(h);
    agent_metrics_free(m);
    h = NULL;
    m = NULL;
}

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
    cdc_buf_put(arg, p, size * n);
    return size * n;
}

typedef struct resp {
    long    status;
    char    ctype[128];
    cdc_buf body;
} resp;

/* Requests @p path with @p method; the caller frees r->body. */
static void
request(const char *method, const char *path, resp *r)
{
    CURL     *c = curl_easy_init();
    char      url[128];
    char     *ct = NULL;
    CURLcode  rc;

    memset(r, 0, sizeof(*r));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", agent_health_port(h), path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    rc = curl_easy_perform(c);
    ck_assert_msg(rc == CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    snprintf(r->ctype, sizeof(r->ctype), "%s", ct ? ct : "");
    curl_easy_cleanup(c);
}

START_TEST(healthz)
{
    resp r;

    request("GET", "/healthz", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(cdc_buf_str(&r.body), "{\"status\":\"ok\"}");
    ck_assert_ptr_nonnull(strstr(r.ctype, "application/json"));
    cdc_buf_free(&r.body);
}
END_TEST

START_TEST(readyz_follows_destination)
{
    cdc_health bad = { CDC_DEST_ERROR, "webhook answers 500" }, ok = { CDC_DEST_OK, "" };
    resp       r;

    request("GET", "/readyz", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(cdc_buf_str(&r.body), "\"pipeline_id\":\"orders-cdc\""));
    ck_assert_ptr_nonnull(strstr(cdc_buf_str(&r.body), "\"sink_id\":\"lake\""));
    cdc_buf_free(&r.body);

    agent_metrics_set_dest(m, 0, (cdc_pos) { 0, 0 }, &bad);
    request("GET", "/readyz", &r);
    ck_assert_int_eq(r.status, 503);
    ck_assert_ptr_nonnull(strstr(cdc_buf_str(&r.body), "\"status\":\"error\""));
    ck_assert_ptr_nonnull(strstr(cdc_buf_str(&r.body), "webhook answers 500"));
    cdc_buf_free(&r.body);
    request("GET", "/healthz", &r);         /* liveness does not follow readiness */
    ck_assert_int_eq(r.status, 200);
    cdc_buf_free(&r.body);

    agent_metrics_set_dest(m, 0, (cdc_pos) { 0, 0 }, &ok);
    request("GET", "/readyz", &r);
    ck_assert_int_eq(r.status, 200);
    cdc_buf_free(&r.body);
}
END_TEST

START_TEST(readyz_follows_replication)
{
    resp r;

    agent_metrics_set_repl_state(m, AGENT_REPL_ERROR, "slot orders_slot does not exist");
    request("GET", "/readyz", &r);
    ck_assert_int_eq(r.status, 503);
    ck_assert_ptr_nonnull(strstr(cdc_buf_str(&r.body), "slot orders_slot does not exist"));
    cdc_buf_free(&r.body);
    agent_metrics_set_repl_state(m, AGENT_REPL_STREAMING, NULL);
    request("GET", "/readyz", &r);
    ck_assert_int_eq(r.status, 200);
    cdc_buf_free(&r.body);
}
END_TEST

START_TEST(metrics_endpoint)
{
    resp r;

    agent_metrics_event(m, "cdc.public.orders", CDC_OP_CREATE);
    request("GET", "/metrics", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.ctype, "text/plain; version=0.0.4"));
    ck_assert_ptr_nonnull(strstr(cdc_buf_str(&r.body),
                                 "cdcagent_events_total{table=\"cdc.public.orders\",op=\"c\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(cdc_buf_str(&r.body), "# TYPE cdcagent_commit_to_durable_seconds histogram\n"));
    cdc_buf_free(&r.body);
}
END_TEST

START_TEST(unknown_path_and_method)
{
    resp r;

    request("GET", "/nope", &r);
    ck_assert_int_eq(r.status, 404);
    cdc_buf_free(&r.body);
    request("POST", "/readyz", &r);
    ck_assert_int_eq(r.status, 405);
    cdc_buf_free(&r.body);
}
END_TEST

START_TEST(port_in_use)
{
    agent_health_conf conf = { "127.0.0.1", agent_health_port(h) };
    cdc_err           err = { 0 };
    char              want[64];

    ck_assert_ptr_null(agent_health_start(&conf, m, &err));
    snprintf(want, sizeof(want), "health_port %d is in use", conf.port);
    ck_assert_msg(strstr(err.msg, want) != NULL, "message: %s", err.msg);
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
}
END_TEST

START_TEST(bad_address)
{
    agent_health_conf conf = { "not-an-address", 0 };
    cdc_err           err = { 0 };

    ck_assert_ptr_null(agent_health_start(&conf, m, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "not-an-address"));
}
END_TEST

/* Stopping frees the port: a new server can take the same one. */
START_TEST(stop_releases_port)
{
    agent_health_conf conf = { "127.0.0.1", agent_health_port(h) };
    cdc_err           err = { 0 };
    resp              r;

    agent_health_stop(h);
    h = agent_health_start(&conf, m, &err);
    ck_assert_msg(h != NULL, "restart: %s", err.msg);
    request("GET", "/healthz", &r);
    ck_assert_int_eq(r.status, 200);
    cdc_buf_free(&r.body);
}
END_TEST

static Suite *
health_suite(void)
{
    Suite *s = suite_create("health");
    TCase *tc = tcase_create("endpoints");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, healthz);
    tcase_add_test(tc, readyz_follows_destination);
    tcase_add_test(tc, readyz_follows_replication);
    tcase_add_test(tc, metrics_endpoint);
    tcase_add_test(tc, unknown_path_and_method);
    suite_add_tcase(s, tc);

    tc = tcase_create("lifecycle");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, port_in_use);
    tcase_add_test(tc, bad_address);
    tcase_add_test(tc, stop_releases_port);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(health_suite());
    int      nfailed;

    cdc_log_set_level(CDC_LOG_OFF);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    srunner_run_all(sr, CK_ENV);
    nfailed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
