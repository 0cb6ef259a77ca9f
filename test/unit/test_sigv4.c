/*
 * Suite "sigv4": AWS Signature Version 4 (agent/core/net/aws_sigv4.c) on
 * AWS's published test suite (test/fixtures/sigv4/, 38 cases): for each, the
 * canonical request, the string to sign and the Authorization header must be
 * the published ones, byte for byte.  Then the lines a Kinesis PutRecords
 * sends, the host with and without a default port, and the errors.
 */
#include <check.h>
#include <dirent.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/net/aws_sigv4.h"
#include "agent/core/net/http.h"
#include "test/lib/suite_main.h"

#define DIR_V4 CDC_FIXTURES "/sigv4"

static char *
slurp(const char *dir, const char *name)
{
    char    path[1024];
    FILE   *f;
    cdc_buf b = CDC_BUF_INIT;
    char    chunk[4096];
    size_t  n;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        cdc_buf_put(&b, chunk, n);
    fclose(f);
    cdc_buf_putc(&b, '\0');
    ck_assert(!b.failed);
    return (char *) b.data;
}

/* One case of the suite, signed and compared; @returns 0 when all three match. */
static int
run_case(const char *name, char *why, size_t why_n)
{
    char          dir[1024];
    char         *ctx_s, *req_s, *want_cr, *want_sts, *want_signed;
    json_t       *ctx, *cred;
    json_error_t  jerr;
    cdc_sigv4_hdr hdrs[16];
    char         *names[16], *values[16];
    size_t        nh = 0;
    char          method[16], url[2048];
    const char   *body = NULL, *host = NULL;
    cdc_sigv4_req r;
    cdc_aws_key   k;
    cdc_sigv4     s;
    cdc_err       err;
    struct tm     tm;
    const char   *want_auth;
    int           rc = 0;

    snprintf(dir, sizeof(dir), "%s/%s", DIR_V4, name);
    ctx_s = slurp(dir, "context.json");
    req_s = slurp(dir, "request.txt");
    want_cr = slurp(dir, "header-canonical-request.txt");
    want_sts = slurp(dir, "header-string-to-sign.txt");
    want_signed = slurp(dir, "header-signed-request.txt");
    ctx = json_loads(ctx_s, 0, &jerr);
    ck_assert_msg(ctx != NULL, "%s: context.json: %s", name, jerr.text);
    cred = json_object_get(ctx, "credentials");

    /* request.txt: request line, headers (a line starting with a blank continues
       the previous one), blank line, body */
    {
        char *p = req_s, *eol = strchr(p, '\n'), *sp1, *sp2;

        *eol = '\0';
        sp1 = strchr(p, ' ');
        sp2 = strrchr(p, ' ');
        ck_assert(sp1 && sp2 && sp2 > sp1);
        snprintf(method, sizeof(method), "%.*s", (int) (sp1 - p), p);
        *sp2 = '\0';
        p = eol + 1;
        for (;;) {
            char *colon;

            eol = strchr(p, '\n');
            if (eol)
                *eol = '\0';
            if (*p == '\0') {
                body = eol ? eol + 1 : NULL;
                break;
            }
            if (*p == ' ' || *p == '\t') {
                char *joined;

                ck_assert(nh > 0);
                ck_assert(asprintf(&joined, "%s %s", values[nh - 1], p) > 0);
                free(values[nh - 1]);
                values[nh - 1] = joined;
            } else {
                colon = strchr(p, ':');
                ck_assert(colon);
                ck_assert(nh < 16);
                names[nh] = strndup(p, (size_t) (colon - p));
                values[nh] = strdup(colon + 1);
                nh++;
            }
            if (!eol)
                break;
            p = eol + 1;
        }
        snprintf(url, sizeof(url), "https://HOST%s", sp1 + 1);
    }
    {
        size_t o = 0;

        for (size_t i = 0; i < nh; i++) {
            if (strcasecmp(names[i], "host") == 0) {
                host = values[i];
                continue;
            }
            hdrs[o].name = names[i];
            hdrs[o].value = values[i];
            o++;
        }
        ck_assert_msg(host != NULL, "%s: no Host", name);
        {
            char path[2048];

            snprintf(path, sizeof(path), "%s", url + strlen("https://HOST"));
            snprintf(url, sizeof(url), "https://%s%s", host, path);
        }
        memset(&r, 0, sizeof(r));
        r.method = method;
        r.url = url;
        r.hdrs = hdrs;
        r.n_hdrs = o;
        r.body = body;
        r.body_len = body ? strlen(body) : 0;
    }
    r.region = json_string_value(json_object_get(ctx, "region"));
    r.service = json_string_value(json_object_get(ctx, "service"));
    memset(&tm, 0, sizeof(tm));
    ck_assert(strptime(json_string_value(json_object_get(ctx, "timestamp")),
                       "%Y-%m-%dT%H:%M:%SZ", &tm) != NULL);
    r.time_s = (int64_t) timegm(&tm);
    r.sign_body = json_is_true(json_object_get(ctx, "sign_body"));
    r.s3 = json_is_false(json_object_get(ctx, "normalize"));
    r.omit_session_token = json_is_true(json_object_get(ctx, "omit_session_token"));
    k.access_key_id = json_string_value(json_object_get(cred, "access_key_id"));
    k.secret_access_key = json_string_value(json_object_get(cred, "secret_access_key"));
    k.session_token = json_string_value(json_object_get(cred, "token"));

    ck_assert_msg(cdc_sigv4_sign(&r, &k, &s, &err) == 0, "%s: %s", name, err.msg);
    want_auth = strstr(want_signed, "Authorization:");
    ck_assert(want_auth);
    want_auth += strlen("Authorization:");
    *strchr(want_auth, '\n') = '\0';
    if (strcmp(s.canonical_request, want_cr) != 0) {
        snprintf(why, why_n, "%s: canonical request\n--- got\n%s\n--- want\n%s", name,
                 s.canonical_request, want_cr);
        rc = -1;
    } else if (strcmp(s.string_to_sign, want_sts) != 0) {
        snprintf(why, why_n, "%s: string to sign\n%s\n---\n%s", name, s.string_to_sign,
                 want_sts);
        rc = -1;
    } else if (strcmp(s.authorization, want_auth) != 0) {
        snprintf(why, why_n, "%s: Authorization\n%s\n%s", name, s.authorization, want_auth);
        rc = -1;
    }
    cdc_sigv4_free(&s);
    for (size_t i = 0; i < nh; i++) {
        free(names[i]);
        free(values[i]);
    }
    json_decref(ctx);
    free(ctx_s);
    free(req_s);
    free(want_cr);
    free(want_sts);
    free(want_signed);
    return rc;
}

START_TEST(test_suite_vectors)
{
    DIR           *d = opendir(DIR_V4);
    struct dirent *e;
    int            n = 0, bad = 0;
    char           why[8192];

    ck_assert(d != NULL);
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strchr(e->d_name, '.'))
            continue;
        n++;
        if (run_case(e->d_name, why, sizeof(why)) != 0) {
            fprintf(stderr, "%s\n", why);
            bad++;
        }
    }
    closedir(d);
    ck_assert_int_eq(n, 38);
    ck_assert_msg(bad == 0, "%d of %d SigV4 suite cases differ (see stderr)", bad, n);
}
END_TEST

START_TEST(test_put_records_lines)
{
    static const char body[] = "{\"StreamName\":\"cdc-public-customers\",\"Records\":[]}";
    cdc_sigv4_hdr     h[] = { { "Content-Type", "application/x-amz-json-1.1" },
                              { "X-Amz-Target", "Kinesis_20131202.PutRecords" } };
    cdc_sigv4_req     r = { .method = "POST", .url = "http://127.0.0.1:4566/",
                            .hdrs = h, .n_hdrs = 2, .body = body, .body_len = sizeof(body) - 1,
                            .region = "eu-west-1", .service = "kinesis",
                            .time_s = 1440938160 };
    cdc_aws_key       k = { "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                            "SESSIONTOKENEXAMPLE" };
    cdc_sigv4         s;
    cdc_err           err;

    ck_assert_int_eq(cdc_sigv4_sign(&r, &k, &s, &err), 0);
    ck_assert_str_eq(s.host, "127.0.0.1:4566");
    ck_assert_str_eq(s.amz_date, "20150830T123600Z");
    ck_assert(strstr(s.canonical_request,
                     "content-type:application/x-amz-json-1.1\nhost:127.0.0.1:4566\n"
                     "x-amz-date:20150830T123600Z\nx-amz-security-token:SESSIONTOKENEXAMPLE\n"
                     "x-amz-target:Kinesis_20131202.PutRecords\n\n"
                     "content-type;host;x-amz-date;x-amz-security-token;x-amz-target\n"));
    ck_assert(strncmp(s.authorization,
                      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-1/kinesis/"
                      "aws4_request, SignedHeaders=content-type;host;x-amz-date;"
                      "x-amz-security-token;x-amz-target, Signature=", 152) == 0);
    ck_assert(strstr(s.authorization, "wJalr") == NULL);
    ck_assert(!s.content_sha256);
    cdc_sigv4_free(&s);

    /* the default port is not part of Host, as libcurl sends it */
    r.url = "https://kinesis.eu-west-1.amazonaws.com:443/";
    ck_assert_int_eq(cdc_sigv4_sign(&r, &k, &s, &err), 0);
    ck_assert_str_eq(s.host, "kinesis.eu-west-1.amazonaws.com");
    cdc_sigv4_free(&s);

    /* every line to send */
    {
        cdc_http_hdrs *lines = cdc_sigv4_hdrs(&r, &k, &err);

        ck_assert(lines != NULL);
        cdc_http_hdrs_free(lines);
    }
}
END_TEST

START_TEST(test_errors_name_no_secret)
{
    cdc_sigv4_req r = { .method = "GET", .url = "no-scheme/", .region = "us-east-1",
                        .service = "sts" };
    cdc_aws_key   k = { "AKIDEXAMPLE", "SECRETVALUE", "TOKENVALUE" };
    cdc_sigv4     s;
    cdc_err       err;

    ck_assert_int_eq(cdc_sigv4_sign(&r, &k, &s, &err), -1);
    ck_assert(strstr(err.msg, "scheme") != NULL);
    r.url = "https:///path";
    ck_assert_int_eq(cdc_sigv4_sign(&r, &k, &s, &err), -1);
    ck_assert(strstr(err.msg, "no host") != NULL);
    r.url = "https://sts.amazonaws.com/";
    r.region = "";
    ck_assert_int_eq(cdc_sigv4_sign(&r, &k, &s, &err), -1);
    ck_assert(strstr(err.msg, "region") != NULL);
    ck_assert(strstr(err.msg, "SECRET") == NULL && strstr(err.msg, "TOKEN") == NULL);
    r.region = "us-east-1";
    k.secret_access_key = "";
    ck_assert_int_eq(cdc_sigv4_sign(&r, &k, &s, &err), -1);
    ck_assert(strstr(err.msg, "secret key") != NULL);
}
END_TEST

/* Path normalization beyond the suite's cases (non-S3 services). */
static const struct {
    const char *path, *canonical;
} paths[] = {
    { "/a/b/..", "/a/" },         { "/a/.", "/a/" },          { "/a..", "/a.." },
    { "/a/b/../c", "/a/c" },      { "/..", "/" },             { "//a//b/", "/a/b/" },
    { "/a b/%41", "/a%20b/%2541" }, { "", "/" },
};

START_TEST(test_paths)
{
    char          url[256];
    cdc_sigv4_req r = { .method = "GET", .url = url, .region = "us-east-1",
                        .service = "service", .time_s = 1440938160 };
    cdc_aws_key   k = { "AKIDEXAMPLE", "SECRET", NULL };
    cdc_sigv4     s;
    cdc_err       err;
    char          want[256];

    snprintf(url, sizeof(url), "https://example.amazonaws.com%s", paths[_i].path);
    ck_assert_int_eq(cdc_sigv4_sign(&r, &k, &s, &err), 0);
    snprintf(want, sizeof(want), "GET\n%s\n", paths[_i].canonical);
    ck_assert_msg(strncmp(s.canonical_request, want, strlen(want)) == 0, "%s: %s",
                  paths[_i].path, s.canonical_request);
    cdc_sigv4_free(&s);
}
END_TEST

START_TEST(test_known_hashes)
{
    char          hex[65];
    unsigned char mac[32];

    cdc_sha256_hex("", 0, hex);
    ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* RFC 4231 test case 2 */
    cdc_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
    ck_assert_int_eq(mac[0], 0x5b);
    ck_assert_int_eq(mac[31], 0x43);
}
END_TEST

/*
 * The shapes the transports send, signed by an independent implementation:
 * botocore 1.43.11's SigV4Auth / S3SigV4Auth at 2015-08-30T12:36:00Z with AWS's
 * example key (test/tools/sigv4_botocore.py prints them).
 */
typedef struct boto_case {
    const char   *what;
    const char   *method, *url, *body, *region, *service;
    cdc_sigv4_hdr hdrs[2];
    size_t        n_hdrs;
    const char   *token;
    bool          s3;
    const char   *auth;
} boto_case;

static const boto_case boto_cases[] = {
    { "Kinesis PutRecords, session token", "POST", "http://127.0.0.1:4566/",
      "{\"StreamName\":\"cdc-public-customers\",\"Records\":[]}", "eu-west-1", "kinesis",
      { { "Content-Type", "application/x-amz-json-1.1" },
        { "X-Amz-Target", "Kinesis_20131202.PutRecords" } }, 2, "SESSIONTOKENEXAMPLE", false,
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-1/kinesis/aws4_request, "
      "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, "
      "Signature=af8840ddb8d394a9520ef52a6da3a4ca9e400203695f3e1ad23cce581213c9f5" },
    { "DynamoDB GetItem", "POST", "https://dynamodb.us-east-1.amazonaws.com/",
      "{\"TableName\":\"cdc_checkpoints\",\"Key\":{\"stream\":{\"S\":\"cdc-public-customers\"}}}",
      "us-east-1", "dynamodb",
      { { "Content-Type", "application/x-amz-json-1.0" },
        { "X-Amz-Target", "DynamoDB_20120810.GetItem" } }, 2, NULL, false,
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/dynamodb/aws4_request, "
      "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
      "Signature=a1c8caa6168ee8e5f4d3e761f67d63c54ce5767fdaf2270f161c59ef6b5fc45e" },
    { "S3 ListObjectsV2 under an encoded prefix", "GET",
      "https://s3.us-east-1.amazonaws.com/bucket/a%20b/c.parquet?list-type=2&prefix=x", "",
      "us-east-1", "s3", { { NULL, NULL }, { NULL, NULL } }, 0, NULL, true,
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/s3/aws4_request, "
      "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
      "Signature=b838e1222f1d78046d4fbaccd774ca80064c28c505cc764beb454b7cefd2ea4e" },
};

START_TEST(test_botocore_agrees)
{
    const boto_case *c = &boto_cases[_i];
    cdc_sigv4_req    r = { .method = c->method, .url = c->url, .hdrs = c->hdrs,
                           .n_hdrs = c->n_hdrs, .body = c->body, .body_len = strlen(c->body),
                           .region = c->region, .service = c->service,
                           .time_s = 1440938160, .sign_body = c->s3, .s3 = c->s3 };
    cdc_aws_key      k = { "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", c->token };
    cdc_sigv4        s;
    cdc_err          err;

    ck_assert_int_eq(cdc_sigv4_sign(&r, &k, &s, &err), 0);
    ck_assert_msg(strcmp(s.authorization, c->auth) == 0, "%s:\n%s\n%s\n%s", c->what,
                  s.authorization, c->auth, s.canonical_request);
    cdc_sigv4_free(&s);
}
END_TEST

/* ---- what libcurl really sends is what was signed ----------------------- */

typedef struct wire {
    int     fd;
    cdc_buf req;   /* the raw request: head and body */
} wire;

/* Accepts one connection, reads one request (Content-Length body), answers 200. */
static void *
wire_serve(void *arg)
{
    wire       *w = arg;
    int         c = accept(w->fd, NULL, NULL);
    char        chunk[4096];
    ssize_t     n;
    const char *end, *cl;

    while ((n = read(c, chunk, sizeof(chunk))) > 0) {
        cdc_buf_put(&w->req, chunk, (size_t) n);
        cdc_buf_putc(&w->req, '\0');
        w->req.len--;
        end = strstr((const char *) w->req.data, "\r\n\r\n");
        if (end == NULL)
            continue;
        cl = strcasestr((const char *) w->req.data, "\r\nContent-Length:");
        if (cl == NULL || cl > end ||
            w->req.len >= (size_t) (end + 4 - (const char *) w->req.data) +
                              (size_t) atol(cl + 17))
            break;
    }
    (void) !write(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 38);
    close(c);
    return NULL;
}

/* Signs a request, sends it through the HTTP client to a raw socket, then signs
   again what arrived (method, target, Host, the signed headers, body, the time
   of X-Amz-Date): the two signatures must be the same. */
static void
round_trip(const char *path_query, bool s3)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t          alen = sizeof(a);
    wire               w = { .req = CDC_BUF_INIT };
    pthread_t          th;
    char               url[512], url2[512], method[16], target[400], *head, *line, *save;
    static const char  body[] = "{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"eA==\"}]}";
    cdc_sigv4_hdr      h[] = { { "Content-Type", "application/x-amz-json-1.1" },
                               { "X-Amz-Target", "Kinesis_20131202.PutRecords" } };
    cdc_sigv4_hdr      got[16];
    size_t             ngot = 0;
    cdc_aws_key        k = { "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "TOK/+=" };
    cdc_sigv4_req      r = { .method = "POST", .hdrs = h, .n_hdrs = 2, .body = body,
                             .body_len = sizeof(body) - 1, .region = "eu-west-1",
                             .service = s3 ? "s3" : "kinesis", .sign_body = s3, .s3 = s3 };
    cdc_http_hdrs     *lines;
    cdc_http_xfer     *x;
    cdc_http_req       hr = { 0 };
    cdc_http_resp      resp;
    cdc_sigv4          s;
    cdc_err            err;
    const char        *auth = NULL, *date = NULL, *host = NULL;
    char              *bodyp;
    struct tm          tm;

    w.fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(bind(w.fd, (struct sockaddr *) &a, sizeof(a)), 0);
    ck_assert_int_eq(listen(w.fd, 1), 0);
    getsockname(w.fd, (struct sockaddr *) &a, &alen);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", ntohs(a.sin_port), path_query);
    pthread_create(&th, NULL, wire_serve, &w);

    r.url = url;
    lines = cdc_sigv4_hdrs(&r, &k, &err);
    ck_assert_ptr_nonnull(lines);
    ck_assert_int_eq(cdc_http_global_init(NULL), 0);
    x = cdc_http_xfer_new(&err);
    hr.url = url;
    hr.method = "POST";
    hr.hdrs = lines;
    hr.body = body;
    hr.body_len = sizeof(body) - 1;
    ck_assert_int_eq(cdc_http_perform(x, &hr, &resp, &err), 0);
    ck_assert_int_eq(resp.status, 200);
    pthread_join(th, NULL);
    close(w.fd);
    cdc_http_xfer_free(x);
    cdc_http_hdrs_free(lines);
    cdc_http_global_cleanup();

    /* what arrived */
    head = (char *) w.req.data;
    bodyp = strstr(head, "\r\n\r\n") + 4;
    bodyp[-2] = '\0';
    line = strtok_r(head, "\r\n", &save);
    ck_assert(sscanf(line, "%15s %399s", method, target) == 2);
    while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
        char *colon = strchr(line, ':'), *v;

        *colon = '\0';
        for (v = colon + 1; *v == ' '; v++) {
        }
        if (strcasecmp(line, "Authorization") == 0)
            auth = v;
        else if (strcasecmp(line, "X-Amz-Date") == 0)
            date = v;
        else if (strcasecmp(line, "Host") == 0)
            host = v;
        else if (strcasecmp(line, "Content-Type") == 0 || strcasecmp(line, "X-Amz-Target") == 0)
            got[ngot++] = (cdc_sigv4_hdr) { line, v };
        else if (strcasecmp(line, "X-Amz-Security-Token") == 0)
            ck_assert_str_eq(v, "TOK/+=");
    }
    ck_assert(auth && date && host);
    ck_assert_int_eq(ngot, 2);
    snprintf(url2, sizeof(url2), "http://%s%s", host, target);
    ck_assert_str_eq(url2, url);
    memset(&tm, 0, sizeof(tm));
    ck_assert(strptime(date, "%Y%m%dT%H%M%SZ", &tm) != NULL);
    r.url = url2;
    r.method = method;
    r.hdrs = got;
    r.n_hdrs = ngot;
    r.body = bodyp;
    r.body_len = strlen(bodyp);
    r.time_s = (int64_t) timegm(&tm);
    ck_assert_int_eq(cdc_sigv4_sign(&r, &k, &s, &err), 0);
    ck_assert_str_eq(s.authorization, auth);
    cdc_sigv4_free(&s);
    cdc_buf_free(&w.req);
}

START_TEST(test_wire_round_trip)
{
    round_trip("/", false);
    round_trip("/?b=2&a=1&c=x%2Fy", false);
    round_trip("/bucket/a%20b/c.json?x-id=PutObject", true);
}
END_TEST

static Suite *
sigv4_suite(void)
{
    Suite *s = suite_create("sigv4");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_suite_vectors);
    tcase_add_test(tc, test_put_records_lines);
    tcase_add_test(tc, test_errors_name_no_secret);
    tcase_add_test(tc, test_known_hashes);
    tcase_add_test(tc, test_wire_round_trip);
    tcase_add_loop_test(tc, test_paths, 0, (int) (sizeof(paths) / sizeof(paths[0])));
    tcase_add_loop_test(tc, test_botocore_agrees, 0,
                        (int) (sizeof(boto_cases) / sizeof(boto_cases[0])));
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return suite_main(sigv4_suite(), false);
}
