/*
 * Suite "http": the HTTP client (agent/core/net/http.c) against a local
 * libmicrohttpd server started here on a loopback port.  The status classes,
 * the kept body head and its first line, Retry-After, a timeout, a refused
 * connection, the body cap, method/body/header delivery, many requests in one
 * multi, TLS option errors, and that no message carries URL credentials or
 * secret query values.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/net/http.h"
#include "test/lib/httpd.h"
#include "test/lib/suite_main.h"

static test_httpd *server;
static int         port, closed_port;

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned status, const char *body, const char *retry_after)
{
    return test_httpd_reply(conn, status, body, NULL, retry_after ? "Retry-After" : NULL,
                            retry_after);
}

static enum MHD_Result
on_request(void *cls, const test_httpd_req *rq)
{
    struct MHD_Connection *conn = rq->conn;
    const char            *url = rq->url, *method = rq->method;
    char                   big[1001];

    (void) cls;
    if (strncmp(url, "/status/", 8) == 0)
        return reply(conn, (unsigned) atoi(url + 8), "line one\r\nline two", NULL);
    if (strcmp(url, "/retry-after") == 0)
        return reply(conn, 429, "slow down", "7");
    if (strcmp(url, "/slow") == 0) {
        sleep(2);
        return reply(conn, 200, "late", NULL);
    }
    if (strcmp(url, "/big") == 0) {
        memset(big, 'x', 1000);
        big[1000] = '\0';
        return reply(conn, 200, big, NULL);
    }
    if (strcmp(url, "/echo") == 0) {
        const char *k = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Idempotency-Key");
        const char *a = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-A");
        cdc_buf     b = CDC_BUF_INIT;
        int         ret;

        cdc_buf_printf(&b, "%s|%s|%s|", method, k ? k : "-", a ? a : "-");
        cdc_buf_put(&b, rq->body, rq->body_len);
        ret = reply(conn, 200, cdc_buf_str(&b), NULL);
        cdc_buf_free(&b);
        return ret;
    }
    return reply(conn, 404, "no such path", NULL);
}

static void
setup(void)
{
    ck_assert_int_eq(cdc_http_global_init(NULL), 0);
    server = test_httpd_start(on_request, NULL);
    ck_assert_ptr_nonnull(server);
    port = test_httpd_port(server);
    closed_port = test_free_port();
}

static void
teardown(void)
{
    test_httpd_stop(server);
    cdc_http_global_cleanup();
}

static cdc_http_resp
get(const char *path, int timeout_ms)
{
    char           url[200];
    cdc_http_resp  r;
    cdc_http_xfer *x = cdc_http_xfer_new(NULL);

    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    ck_assert_int_eq(cdc_http_perform(x, &(cdc_http_req) { .url = url, .timeout_ms = timeout_ms },
                                      &r, NULL), 0);
    cdc_http_xfer_free(x);
    return r;
}

static const struct {
    int            status;
    cdc_http_class cls;
} classes[] = {
    { 200, CDC_HTTP_OK }, { 204, CDC_HTTP_OK }, { 301, CDC_HTTP_FINAL }, { 400, CDC_HTTP_FINAL },
    { 401, CDC_HTTP_FINAL }, { 404, CDC_HTTP_FINAL }, { 408, CDC_HTTP_RETRY },
    { 409, CDC_HTTP_FINAL }, { 429, CDC_HTTP_RETRY }, { 500, CDC_HTTP_RETRY },
    { 503, CDC_HTTP_RETRY },
};

START_TEST(status_classes)
{
    char          path[32];
    cdc_http_resp r;

    snprintf(path, sizeof(path), "/status/%d", classes[_i].status);
    r = get(path, 5000);
    ck_assert(r.answered);
    ck_assert_int_eq(r.status, classes[_i].status);
    ck_assert_int_eq(cdc_http_classify(&r), classes[_i].cls);
}
END_TEST

START_TEST(body_head_and_first_line)
{
    cdc_http_resp r = get("/status/500", 5000);
    char          line[400];

    ck_assert_str_eq(r.head, "line one\r\nline two");
    cdc_http_resp_line(&r, line, sizeof(line));
    ck_assert_str_eq(line, "line one");
    cdc_http_resp_describe(&r, line, sizeof(line));
    ck_assert_str_eq(line, "HTTP 500: line one");
    r = get("/big", 5000);
    ck_assert_uint_eq(r.head_len, CDC_HTTP_HEAD_MAX);
    ck_assert_uint_eq(strlen(r.head), CDC_HTTP_HEAD_MAX);
}
END_TEST

START_TEST(retry_after_is_kept)
{
    cdc_http_resp r = get("/retry-after", 5000);

    ck_assert_int_eq(r.status, 429);
    ck_assert_int_eq(r.retry_after_s, 7);
    ck_assert_int_eq(cdc_http_classify(&r), CDC_HTTP_RETRY);
}
END_TEST

START_TEST(timeout_is_retriable)
{
    cdc_http_resp r = get("/slow", 300);

    ck_assert(!r.answered);
    ck_assert(r.timed_out);
    ck_assert(!r.broken_setup);
    ck_assert_int_eq(cdc_http_classify(&r), CDC_HTTP_RETRY);
    ck_assert_str_ne(r.error, "");
}
END_TEST

START_TEST(refused_is_retriable_and_secret_free)
{
    char           url[200];
    cdc_http_resp  r;
    cdc_http_xfer *x = cdc_http_xfer_new(NULL);

    snprintf(url, sizeof(url), "http://alice:s3cretpw@127.0.0.1:%d/p?token=tok123&x=1",
             closed_port);
    ck_assert_int_eq(cdc_http_perform(x, &(cdc_http_req) { .url = url, .timeout_ms = 2000 }, &r,
                                      NULL), 0);
    ck_assert(!r.answered);
    ck_assert_int_eq(cdc_http_classify(&r), CDC_HTTP_RETRY);
    ck_assert_ptr_null(strstr(r.error, "s3cretpw"));
    ck_assert_ptr_null(strstr(r.error, "tok123"));
    ck_assert_ptr_null(strstr(r.error, "alice"));
    cdc_http_xfer_free(x);
}
END_TEST

START_TEST(body_cap_fails_the_request)
{
    char           url[200];
    cdc_buf        body = CDC_BUF_INIT;
    cdc_http_resp  r;
    cdc_http_xfer *x = cdc_http_xfer_new(NULL);

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/big", port);
    cdc_http_perform(x, &(cdc_http_req) { .url = url, .body_out = &body, .body_max = 100 }, &r,
                     NULL);
    ck_assert(!r.answered);
    ck_assert_str_eq(r.error, "answer larger than 100 bytes");
    cdc_buf_reset(&body);
    cdc_http_perform(x, &(cdc_http_req) { .url = url, .body_out = &body }, &r, NULL);
    ck_assert(r.answered);
    ck_assert_uint_eq(body.len, 1000);
    cdc_buf_free(&body);
    cdc_http_xfer_free(x);
}
END_TEST

START_TEST(method_body_and_headers_arrive)
{
    char           url[200];
    cdc_http_hdrs *h = cdc_http_hdrs_addf(NULL, "X-A: %d", 42);
    cdc_http_resp  r;
    cdc_http_xfer *x = cdc_http_xfer_new(NULL);

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo", port);
    cdc_http_perform(x, &(cdc_http_req) { .url = url, .method = "PUT", .hdrs = h,
                                          .extra_hdr = "Idempotency-Key: k-1",
                                          .body = "{\"a\":1}", .body_len = 7 }, &r, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.head, "PUT|k-1|42|{\"a\":1}");
    /* The same transfer again: nothing of the request before stays (no extra header, GET). */
    cdc_http_perform(x, &(cdc_http_req) { .url = url, .hdrs = h }, &r, NULL);
    ck_assert_str_eq(r.head, "GET|-|42|");
    cdc_http_hdrs_free(h);
    cdc_http_xfer_free(x);
}
END_TEST

START_TEST(multi_runs_many)
{
    const char     *paths[] = { "/status/200", "/status/503", "/echo", "/status/404" };
    cdc_http_xfer  *xs[4];
    char            urls[4][200];
    int             ndone = 0, seen[4] = { 0 };
    cdc_http_multi *m = cdc_http_multi_new(NULL);

    for (int i = 0; i < 4; i++) {
        snprintf(urls[i], sizeof(urls[i]), "http://127.0.0.1:%d%s", port, paths[i]);
        xs[i] = cdc_http_xfer_new(NULL);
        cdc_http_xfer_set_user(xs[i], &seen[i]);
        ck_assert_int_eq(cdc_http_multi_add(m, xs[i], &(cdc_http_req) { .url = urls[i],
                                                                         .body = "b",
                                                                         .body_len = 1 },
                                            NULL), 0);
    }
    for (int spins = 0; ndone < 4 && spins < 500; spins++) {
        cdc_http_xfer *x;

        cdc_http_multi_perform(m);
        while ((x = cdc_http_multi_done(m)) != NULL) {
            (*(int *) cdc_http_xfer_user(x))++;
            ndone++;
        }
        if (ndone < 4)
            cdc_http_multi_poll(m, 20);
    }
    ck_assert_int_eq(ndone, 4);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(seen[i], 1);
    ck_assert_int_eq(cdc_http_classify(cdc_http_xfer_resp(xs[0])), CDC_HTTP_OK);
    ck_assert_int_eq(cdc_http_classify(cdc_http_xfer_resp(xs[1])), CDC_HTTP_RETRY);
    ck_assert_str_eq(cdc_http_xfer_resp(xs[2])->head, "POST|-|-|b");
    ck_assert_int_eq(cdc_http_classify(cdc_http_xfer_resp(xs[3])), CDC_HTTP_FINAL);
    for (int i = 0; i < 4; i++)
        cdc_http_xfer_free(xs[i]);
    cdc_http_multi_free(m);
}
END_TEST

/* TLS settings that cannot work fail as "broken setup" (no retry helps), naming no secret. */
START_TEST(tls_option_errors)
{
    char           url[200];
    cdc_http_resp  r;
    cdc_http_xfer *x = cdc_http_xfer_new(NULL);

    snprintf(url, sizeof(url), "https://u:pw9@127.0.0.1:%d/", port);
    cdc_http_perform(x, &(cdc_http_req) {
                            .url = url, .timeout_ms = 3000,
                            .tls = &(cdc_http_tls) { .ca_file = "/nonexistent/ca.pem" } },
                     &r, NULL);
    ck_assert(!r.answered);
    ck_assert_msg(r.broken_setup, "curl code %d: %s", r.curl_code, r.error);
    ck_assert_ptr_null(strstr(r.error, "pw9"));
    cdc_http_perform(x, &(cdc_http_req) {
                            .url = url, .timeout_ms = 3000,
                            .tls = &(cdc_http_tls) { .client_cert = "/nonexistent/c.pem",
                                                     .client_key = "/nonexistent/k.pem",
                                                     .key_password = "kpw" } },
                     &r, NULL);
    ck_assert(!r.answered);
    ck_assert_msg(r.broken_setup, "curl code %d: %s", r.curl_code, r.error);
    ck_assert_ptr_null(strstr(r.error, "kpw"));
    cdc_http_xfer_free(x);
}
END_TEST

static const struct {
    const char *url, *redacted, *label;
} urls[] = {
    { "https://u:p@h:1/p?a=1&token=abc&api_key=z&Signature=s#frag",
      "https://***@h:1/p?a=1&token=***&api_key=***&Signature=***", "https://h:1/p" },
    { "http://host/x", "http://host/x", "http://host/x" },
    { "http://user@host?password=pw", "http://***@host?password=***", "http://host" },
    { "https://h/p?X-Amz-Credential=c&X-Amz-Signature=s&n=2",
      "https://h/p?X-Amz-Credential=***&X-Amz-Signature=***&n=2", "https://h/p" },
    { "ftp://x:y@host", "ftp://***@host", "ftp://host" },
};

START_TEST(urls_are_redacted)
{
    char *r = cdc_http_redact_url(urls[_i].url), *l = cdc_http_url_label(urls[_i].url);

    ck_assert_str_eq(r, urls[_i].redacted);
    ck_assert_str_eq(l, urls[_i].label);
    free(r);
    free(l);
}
END_TEST

static Suite *
http_suite(void)
{
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("server");
    TCase *pure = tcase_create("pure");

    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, status_classes, 0, (int) (sizeof(classes) / sizeof(classes[0])));
    tcase_add_test(tc, body_head_and_first_line);
    tcase_add_test(tc, retry_after_is_kept);
    tcase_add_test(tc, timeout_is_retriable);
    tcase_add_test(tc, refused_is_retriable_and_secret_free);
    tcase_add_test(tc, body_cap_fails_the_request);
    tcase_add_test(tc, method_body_and_headers_arrive);
    tcase_add_test(tc, multi_runs_many);
    tcase_add_test(tc, tls_option_errors);
    suite_add_tcase(s, tc);
    tcase_add_loop_test(pure, urls_are_redacted, 0, (int) (sizeof(urls) / sizeof(urls[0])));
    suite_add_tcase(s, pure);
    return s;
}

int
main(void)
{
    return suite_main(http_suite(), false);
}
