/*
 * Suite "aws_json": one SigV4-signed call to an AWS JSON-1.x API
 * (agent/core/net/aws_json.c) against a double of an AWS JSON endpoint
 * (test/lib/httpd.h, started per test).  The double keeps the headers and
 * body it got; the test checks Content-Type,
 * X-Amz-Target, X-Amz-Security-Token and recomputes the signature from what
 * arrived.  Also: AWS's error bodies parsed and classified (throttling,
 * internal failure, conditional check, credentials, garbage), the bounded
 * retry, connection refused, several calls on a cdc_http_multi, the endpoint
 * from AWS_ENDPOINT_URL_<SERVICE>, and no secret in any message.
 */
#include <check.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/net/aws_json.h"
#include "test/lib/httpd.h"
#include "test/lib/suite_main.h"

#define AKID    "AKIDEXAMPLETEST01"
#define SECRET  "wJalrXUtnFEMI/K7MDENG+bPxRfiCYSECRETKEY"
#define TOKEN   "FQoGZXIvYXdzSESSIONTOKENxyz"

static test_httpd *srv;
static int         port, closed_port;
static char        endpoint[96];

static volatile int  status_ = 200;
static char          answer_[1024] = "{}";
static volatile int  fail_first;     /* that many 503s first */
static volatile int  requests;

/* What the last request carried. */
static char got_ct[96], got_target[128], got_auth[512], got_date[32], got_token[128],
    got_host[96], got_path[64], got_method[16];
static char got_body[4096];

static void
keep(struct MHD_Connection *conn, const char *name, char *out, size_t n)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);

    snprintf(out, n, "%s", v ? v : "");
}

static enum MHD_Result
on_request(void *cls, const test_httpd_req *r)
{
    struct MHD_Connection *conn = r->conn;

    (void) cls;
    requests++;
    keep(conn, "Content-Type", got_ct, sizeof(got_ct));
    keep(conn, "X-Amz-Target", got_target, sizeof(got_target));
    keep(conn, "Authorization", got_auth, sizeof(got_auth));
    keep(conn, "X-Amz-Date", got_date, sizeof(got_date));
    keep(conn, "X-Amz-Security-Token", got_token, sizeof(got_token));
    keep(conn, "Host", got_host, sizeof(got_host));
    snprintf(got_path, sizeof(got_path), "%s", r->url);
    snprintf(got_method, sizeof(got_method), "%s", r->method);
    snprintf(got_body, sizeof(got_body), "%s", r->body ? r->body : "");
    if (fail_first > 0) {
        fail_first--;
        return test_httpd_reply(conn, 503, "{\"__type\":\"ServiceUnavailable\",\"message\":"
                                "\"busy\"}", "application/x-amz-json-1.1", NULL, NULL);
    }
    return test_httpd_reply(conn, (unsigned) status_, answer_, "application/x-amz-json-1.1",
                            NULL, NULL);
}

static cdc_aws_provider *prov;

static void
setup(void)
{
    cdc_aws_opts o = { .region = "eu-west-3" };
    cdc_err      err;

    ck_assert_int_eq(cdc_http_global_init(NULL), 0);
    srv = test_httpd_start(on_request, NULL);
    ck_assert_ptr_nonnull(srv);
    port = test_httpd_port(srv);
    closed_port = test_free_port();
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", port);
    status_ = 200;
    snprintf(answer_, sizeof(answer_), "{}");
    fail_first = 0;
    requests = 0;
    setenv("AWS_ACCESS_KEY_ID", AKID, 1);
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    setenv("AWS_SESSION_TOKEN", TOKEN, 1);
    unsetenv("AWS_PROFILE");
    unsetenv("AWS_ENDPOINT_URL");
    unsetenv("AWS_ENDPOINT_URL_KINESIS");
    unsetenv("AWS_ENDPOINT_URL_DYNAMODB");
    setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config", 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials", 1);
    prov = cdc_aws_provider_new(&o, &err);
    ck_assert_msg(prov != NULL, "%s", err.msg);
}

static void
teardown(void)
{
    cdc_aws_provider_free(prov);
    test_httpd_stop(srv);
    cdc_http_global_cleanup();
}

static cdc_aws_json *
kinesis_client(const char *ep)
{
    cdc_aws_json_conf c = { .provider = prov, .service = "kinesis", .json_version = "1.1",
                            .target_prefix = CDC_AWS_KINESIS_TARGET, .endpoint = ep,
                            .timeout_ms = 3000 };
    cdc_err           err;
    cdc_aws_json     *j = cdc_aws_json_new(&c, &err);

    ck_assert_msg(j != NULL, "%s", err.msg);
    return j;
}

static void
assert_secret_free(const char *msg)
{
    ck_assert_msg(strstr(msg, SECRET) == NULL, "secret in: %s", msg);
    ck_assert_msg(strstr(msg, TOKEN) == NULL, "token in: %s", msg);
    ck_assert_msg(strstr(msg, "Signature=") == NULL, "signature in: %s", msg);
}

/* ---- tests --------------------------------------------------------------- */

/* The signed request as it arrived: method, path, headers, body; the signature recomputed
   from them with the same key and time matches. */
START_TEST(signed_call_headers_and_signature)
{
    cdc_aws_json  *j = kinesis_client(endpoint);
    cdc_aws_result res = { 0 };
    cdc_err        err;
    const char    *body = "{\"StreamName\":\"cdc-public-customers\",\"Records\":[]}";
    char           want[160];
    struct tm      tm = { 0 };

    snprintf(answer_, sizeof(answer_), "{\"FailedRecordCount\":0,\"Records\":[]}");
    ck_assert_msg(cdc_aws_json_call(j, "PutRecords", body, strlen(body), NULL, &res, &err) == 0,
                  "%s", err.msg);
    ck_assert_int_eq(res.cls, CDC_AWS_OK);
    ck_assert_int_eq(res.status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(res.json, "FailedRecordCount")), 0);
    ck_assert_str_eq(got_method, "POST");
    ck_assert_str_eq(got_path, "/");
    ck_assert_str_eq(got_ct, "application/x-amz-json-1.1");
    ck_assert_str_eq(got_target, "Kinesis_20131202.PutRecords");
    ck_assert_str_eq(got_token, TOKEN);
    ck_assert_str_eq(got_body, body);
    ck_assert_int_eq(strlen(got_date), 16);
    snprintf(want, sizeof(want), "AWS4-HMAC-SHA256 Credential=" AKID "/%.8s/eu-west-3/kinesis/"
             "aws4_request, ", got_date);
    ck_assert_msg(strncmp(got_auth, want, strlen(want)) == 0, "%s", got_auth);
    ck_assert_ptr_nonnull(strstr(got_auth, "x-amz-target"));
    ck_assert_ptr_nonnull(strstr(got_auth, "content-type"));

    /* Recompute from what arrived. */
    {
        cdc_sigv4_hdr h[2] = { { "Content-Type", got_ct }, { "X-Amz-Target", got_target } };
        char          url[128];
        cdc_sigv4_req r = { .method = "POST", .url = url, .hdrs = h, .n_hdrs = 2,
                            .body = got_body, .body_len = strlen(got_body),
                            .region = "eu-west-3", .service = "kinesis" };
        cdc_aws_key   k = { AKID, SECRET, TOKEN };
        cdc_sigv4     s;

        snprintf(url, sizeof(url), "http://%s/", got_host);
        ck_assert_ptr_nonnull(strptime(got_date, "%Y%m%dT%H%M%SZ", &tm));
        r.time_s = (int64_t) timegm(&tm);
        ck_assert_int_eq(cdc_sigv4_sign(&r, &k, &s, &err), 0);
        ck_assert_str_eq(s.authorization, got_auth);
        cdc_sigv4_free(&s);
    }
    cdc_aws_result_clear(&res);
    ck_assert_ptr_null(res.json);
    cdc_aws_json_free(j);
}
END_TEST

/* DynamoDB: JSON 1.0 and its target prefix; endpoint from AWS_ENDPOINT_URL_DYNAMODB. */
START_TEST(dynamodb_json_10_endpoint_from_environment)
{
    cdc_aws_json_conf c = { .provider = prov, .service = "dynamodb", .json_version = "1.0",
                            .target_prefix = CDC_AWS_DYNAMODB_TARGET };
    cdc_aws_json     *j;
    cdc_aws_result    res = { 0 };
    cdc_err           err;
    char              ep[128];

    snprintf(ep, sizeof(ep), "%s/", endpoint);
    setenv("AWS_ENDPOINT_URL_DYNAMODB", ep, 1);
    j = cdc_aws_json_new(&c, &err);
    ck_assert_msg(j != NULL, "%s", err.msg);
    ck_assert_str_eq(cdc_aws_json_endpoint(j), endpoint);
    ck_assert_str_eq(cdc_aws_json_region(j), "eu-west-3");
    snprintf(answer_, sizeof(answer_), "{\"Item\":{\"pk\":{\"S\":\"a\"}}}");
    ck_assert_msg(cdc_aws_json_call(j, "GetItem", "{}", 2, NULL, &res, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(got_ct, "application/x-amz-json-1.0");
    ck_assert_str_eq(got_target, "DynamoDB_20120810.GetItem");
    ck_assert_ptr_nonnull(strstr(got_auth, "/eu-west-3/dynamodb/aws4_request"));
    ck_assert_ptr_nonnull(json_object_get(res.json, "Item"));
    cdc_aws_result_clear(&res);
    cdc_aws_json_free(j);
}
END_TEST

/* Error answers: code without namespace, message, class, err code, no secret. */
static const struct refusal {
    int           status;
    const char   *body;
    cdc_aws_class cls;
    cdc_rc        rc;
    const char   *code;
    const char   *in_msg;
} refusals[] = {
    { 400, "{\"__type\":\"ProvisionedThroughputExceededException\",\"message\":\"Rate exceeded "
           "for shard shardId-000000000000\"}", CDC_AWS_RETRY, CDC_E_QUEUE_FULL,
      "ProvisionedThroughputExceededException", "Rate exceeded" },
    { 400, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ThrottlingException\","
           "\"message\":\"slow down\"}", CDC_AWS_RETRY, CDC_E_QUEUE_FULL, "ThrottlingException",
      "slow down" },
    { 500, "{\"__type\":\"InternalFailure\"}", CDC_AWS_RETRY, CDC_E_CONN, "InternalFailure",
      "HTTP 500 InternalFailure" },
    { 503, "<html>Service Unavailable</html>", CDC_AWS_RETRY, CDC_E_CONN, "",
      "answer not JSON" },
    { 200, "not json at all", CDC_AWS_RETRY, CDC_E_CONN, "", "not a JSON object" },
    { 400, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException\","
           "\"message\":\"The conditional request failed\"}", CDC_AWS_FINAL, CDC_E_DEST,
      "ConditionalCheckFailedException", "conditional request failed" },
    { 400, "{\"__type\":\"ResourceNotFoundException\",\"message\":\"Stream cdc-x under account "
           "123 not found.\"}", CDC_AWS_FINAL, CDC_E_CONFIG, "ResourceNotFoundException",
      "kinesis PutRecords at http://127.0.0.1" },
    { 400, "{\"__type\":\"UnrecognizedClientException\",\"message\":\"The security token "
           "included in the request is invalid.\"}", CDC_AWS_FINAL, CDC_E_CONFIG,
      "UnrecognizedClientException", "security token included" },
    { 400, "{\"__type\":\"ValidationException\",\"Message\":\"1 validation error\"}",
      CDC_AWS_FINAL, CDC_E_DEST, "ValidationException", "1 validation error" },
    { 400, "{\"__type\":\"ExpiredTokenException\",\"message\":\"expired\"}", CDC_AWS_RETRY,
      CDC_E_CONN, "ExpiredTokenException", "expired" },
    { 403, "{\"__type\":\"InvalidSignatureException\",\"message\":\"The request signature we "
           "calculated does not match the signature you provided. Check your AWS Secret Access "
           "Key and signing method.\\n\\nThe Canonical String for this request should have "
           "been\\n'POST\\n/\\n\\nx-amz-security-token:" TOKEN "\\n'\\n\\nThe String-to-Sign "
           "should have been ...\"}", CDC_AWS_FINAL, CDC_E_CONFIG, "InvalidSignatureException",
      "signing method." },
    { 403, "<?xml version=\"1.0\"?><ErrorResponse><Error><Code>SignatureDoesNotMatch</Code>"
           "<Message>The request signature we calculated does not match the signature you "
           "provided.</Message></Error></ErrorResponse>", CDC_AWS_FINAL, CDC_E_CONFIG,
      "SignatureDoesNotMatch", "does not match the signature" },
    { 429, "{\"message\":\"Too Many Requests\"}", CDC_AWS_RETRY, CDC_E_QUEUE_FULL, "",
      "Too Many Requests" },
};

START_TEST(refusals_parsed_and_classified)
{
    const struct refusal *f = &refusals[_i];
    cdc_aws_json         *j = kinesis_client(endpoint);
    cdc_aws_result        res = { 0 };
    cdc_err               err;

    status_ = f->status;
    snprintf(answer_, sizeof(answer_), "%s", f->body);
    ck_assert_int_eq(cdc_aws_json_call(j, "PutRecords", "{}", 2, NULL, &res, &err), -1);
    ck_assert_int_eq(res.cls, f->cls);
    ck_assert_int_eq(res.status, f->status);
    ck_assert_str_eq(res.code, f->code);
    ck_assert_msg(err.code == f->rc, "%d: %s", err.code, err.msg);
    ck_assert_msg(strstr(err.msg, f->in_msg) != NULL, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "kinesis PutRecords at ") == err.msg, "%s", err.msg);
    ck_assert_ptr_null(res.json);
    assert_secret_free(err.msg);
    assert_secret_free(res.message);
    ck_assert_int_eq(requests, 1);
    cdc_aws_result_clear(&res);
    cdc_aws_json_free(j);
}
END_TEST

/* Retryable answers are tried again, within max_attempts. */
START_TEST(retry_until_answered_then_bounded)
{
    cdc_aws_json  *j = kinesis_client(endpoint);
    cdc_aws_result res = { 0 };
    cdc_err        err;
    cdc_retry_conf rc = { .max_attempts = 3, .initial_ms = 5, .max_ms = 20, .jitter = true };

    fail_first = 2;
    ck_assert_msg(cdc_aws_json_call(j, "ListShards", "{}", 2, &rc, &res, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(requests, 3);
    cdc_aws_result_clear(&res);
    requests = 0;
    fail_first = 5;
    ck_assert_int_eq(cdc_aws_json_call(j, "ListShards", "{}", 2, &rc, &res, &err), -1);
    ck_assert_int_eq(requests, 3);
    ck_assert_int_eq(res.cls, CDC_AWS_RETRY);
    ck_assert_str_eq(res.code, "ServiceUnavailable");
    ck_assert_int_eq(err.code, CDC_E_CONN);
    /* a final refusal is not retried */
    requests = 0;
    fail_first = 0;
    status_ = 400;
    snprintf(answer_, sizeof(answer_), "{\"__type\":\"ResourceInUseException\"}");
    ck_assert_int_eq(cdc_aws_json_call(j, "CreateStream", "{}", 2, &rc, &res, &err), -1);
    ck_assert_int_eq(requests, 1);
    ck_assert_int_eq(res.cls, CDC_AWS_FINAL);
    cdc_aws_result_clear(&res);
    cdc_aws_json_free(j);
}
END_TEST

START_TEST(connection_refused_is_retryable)
{
    char           ep[64];
    cdc_aws_json  *j;
    cdc_aws_result res = { 0 };
    cdc_err        err;

    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", closed_port);
    j = kinesis_client(ep);
    ck_assert_int_eq(cdc_aws_json_call(j, "PutRecords", "{}", 2, NULL, &res, &err), -1);
    ck_assert_int_eq(res.cls, CDC_AWS_RETRY);
    ck_assert_int_eq(res.status, 0);
    ck_assert_int_eq(err.code, CDC_E_CONN);
    ck_assert_msg(strstr(err.msg, "kinesis PutRecords at http://127.0.0.1:") == err.msg, "%s",
                  err.msg);
    cdc_aws_json_free(j);
}
END_TEST

/* Calls prepared for a cdc_http_multi: several in flight, each finished on its own. */
START_TEST(prepared_calls_on_a_multi)
{
    cdc_aws_json   *j = kinesis_client(endpoint);
    cdc_http_multi *m;
    cdc_http_xfer  *x[3];
    cdc_aws_call    c[3];
    cdc_err         err;
    int             done = 0;

    snprintf(answer_, sizeof(answer_), "{\"FailedRecordCount\":0,\"Records\":[{\"SequenceNumber\""
             ":\"1\",\"ShardId\":\"shardId-000000000000\"}]}");
    m = cdc_http_multi_new(&err);
    ck_assert_ptr_nonnull(m);
    for (int i = 0; i < 3; i++) {
        x[i] = cdc_http_xfer_new(&err);
        cdc_aws_call_init(&c[i]);
        cdc_buf_printf(&c[i].body, "{\"StreamName\":\"s%d\",\"Records\":[]}", i);
        c[i].user = &c[i];
        ck_assert_msg(cdc_aws_json_sign(j, &c[i], "PutRecords", &err) == 0, "%s", err.msg);
        cdc_http_xfer_set_user(x[i], &c[i]);
        ck_assert_int_eq(cdc_http_multi_add(m, x[i], &c[i].req, &err), 0);
    }
    for (int spin = 0; spin < 500 && done < 3; spin++) {
        cdc_http_xfer *d;

        cdc_http_multi_perform(m);
        while ((d = cdc_http_multi_done(m)) != NULL) {
            cdc_aws_call  *call = cdc_http_xfer_user(d);
            cdc_aws_result res = { 0 };

            ck_assert_msg(cdc_aws_json_finish(j, call, cdc_http_xfer_resp(d), &res, &err) == 0,
                          "%s", err.msg);
            ck_assert_str_eq(json_string_value(json_object_get(
                                 json_array_get(json_object_get(res.json, "Records"), 0),
                                 "SequenceNumber")), "1");
            cdc_aws_result_clear(&res);
            done++;
        }
        cdc_http_multi_poll(m, 20);
    }
    ck_assert_int_eq(done, 3);
    ck_assert_int_eq(requests, 3);
    for (int i = 0; i < 3; i++) {
        cdc_http_xfer_free(x[i]);
        cdc_aws_call_free(&c[i]);
    }
    cdc_http_multi_free(m);
    cdc_aws_json_free(j);
}
END_TEST

/* No region and no endpoint override: a configuration error naming the service. */
START_TEST(no_region_is_a_config_error)
{
    cdc_aws_opts      o = { 0 };
    cdc_aws_provider *p;
    cdc_aws_json_conf c = { .service = "kinesis", .json_version = "1.1",
                            .target_prefix = CDC_AWS_KINESIS_TARGET };
    cdc_err           err;

    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    p = cdc_aws_provider_new(&o, &err);
    ck_assert_msg(p != NULL, "%s", err.msg);
    c.provider = p;
    ck_assert_ptr_null(cdc_aws_json_new(&c, &err));
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
    ck_assert_msg(strstr(err.msg, "kinesis") != NULL, "%s", err.msg);
    cdc_aws_provider_free(p);
}
END_TEST

/* No credentials anywhere: the call fails before sending, final, naming the service. */
START_TEST(no_credentials_is_final)
{
    cdc_aws_opts      o = { .region = "eu-west-3" };
    cdc_aws_provider *p;
    cdc_aws_json_conf c = { .service = "kinesis", .json_version = "1.1",
                            .target_prefix = CDC_AWS_KINESIS_TARGET, .endpoint = endpoint };
    cdc_aws_json     *j;
    cdc_aws_result    res = { 0 };
    cdc_retry_conf    rc = { .max_attempts = 3, .initial_ms = 5, .max_ms = 10 };
    cdc_err           err;

    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
    unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    p = cdc_aws_provider_new(&o, &err);
    ck_assert_msg(p != NULL, "%s", err.msg);
    c.provider = p;
    j = cdc_aws_json_new(&c, &err);
    ck_assert_msg(j != NULL, "%s", err.msg);
    ck_assert_int_eq(cdc_aws_json_call(j, "ListShards", "{}", 2, &rc, &res, &err), -1);
    ck_assert_int_eq(requests, 0);
    ck_assert_int_eq(res.cls, CDC_AWS_FINAL);
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
    ck_assert_msg(strstr(err.msg, "kinesis ListShards at http://127.0.0.1:") == err.msg, "%s",
                  err.msg);
    cdc_aws_json_free(j);
    cdc_aws_provider_free(p);
    unsetenv("AWS_EC2_METADATA_DISABLED");
}
END_TEST

START_TEST(retryable_codes)
{
    ck_assert(cdc_aws_code_retryable("ProvisionedThroughputExceededException"));
    ck_assert(cdc_aws_code_retryable("InternalFailure"));
    ck_assert(cdc_aws_code_retryable("LimitExceededException"));
    ck_assert(!cdc_aws_code_retryable("ResourceNotFoundException"));
    ck_assert(!cdc_aws_code_retryable(""));
    ck_assert(!cdc_aws_code_retryable(NULL));
}
END_TEST

static Suite *
aws_json_suite(void)
{
    Suite *s = suite_create("aws_json");
    TCase *tc = tcase_create("double");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, signed_call_headers_and_signature);
    tcase_add_test(tc, dynamodb_json_10_endpoint_from_environment);
    tcase_add_loop_test(tc, refusals_parsed_and_classified, 0,
                        (int) (sizeof(refusals) / sizeof(refusals[0])));
    tcase_add_test(tc, retry_until_answered_then_bounded);
    tcase_add_test(tc, connection_refused_is_retryable);
    tcase_add_test(tc, prepared_calls_on_a_multi);
    tcase_add_test(tc, no_region_is_a_config_error);
    tcase_add_test(tc, no_credentials_is_final);
    tcase_add_test(tc, retryable_codes);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return suite_main(aws_json_suite(), false);
}
