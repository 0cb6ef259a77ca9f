/*
 * Suite "aws_creds": the AWS credentials chain, region and endpoints
 * (agent/core/net/aws_creds.c).  Environment keys, the shared credentials and
 * config files (temporary files), web identity through a local double of STS
 * AssumeRoleWithWebIdentity (XML answers and errors as AWS documents them),
 * container credentials and IMDSv2 through a local double of the metadata
 * endpoints; refresh before expiry; the order of the chain; endpoint
 * overrides; and that no message carries a secret.  Each test runs in its own
 * forked child with its own double (libmicrohttpd on a loopback port) and a
 * clean AWS environment.
 */
#include <check.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_clock.h"
#include "agent/core/net/aws_creds.h"
#include "test/lib/httpd.h"
#include "test/lib/suite_main.h"

static test_httpd *server;
static int         port;
static char        tmpdir[64];

/* what the double does, and what it saw */
static volatile int sts_mode;        /* 0 answer, 1 InvalidIdentityToken, 2 garbage, 3 503 */
static volatile int sts_exp_s = 3600;
static volatile int sts_calls, imds_calls, container_calls;
static volatile int imds_v1_only;
static char         sts_body[4096];

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned status, const char *body, const char *ctype)
{
    return test_httpd_reply(conn, status, body, ctype, NULL, NULL);
}

static void
iso_in(int secs, char *out, size_t n)
{
    time_t    t = time(NULL) + secs;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* AssumeRole must come signed with the source profile's keys (prod's in
   shared_files_and_profiles): signs what arrived again and compares. */
static bool
assume_signature_ok(struct MHD_Connection *conn, const char *path)
{
    const char   *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    const char   *date = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Amz-Date");
    const char   *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
    const char   *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    const char   *tok = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                    "X-Amz-Security-Token");
    cdc_sigv4_hdr h = { "Content-Type", ct };
    cdc_aws_key   k = { "AKIAPROD", "FILESECRET-prod", "FILESECRET-tok" };
    cdc_sigv4_req r = { 0 };
    cdc_sigv4     sig;
    cdc_err       err;
    struct tm     tm;
    char          url[256];
    bool          ok;

    if (!auth || !date || !host || !ct || !tok || strcmp(tok, "FILESECRET-tok") != 0)
        return false;
    memset(&tm, 0, sizeof(tm));
    if (strptime(date, "%Y%m%dT%H%M%SZ", &tm) == NULL)
        return false;
    snprintf(url, sizeof(url), "http://%s%s", host, path);
    r.method = "POST";
    r.url = url;
    r.hdrs = &h;
    r.n_hdrs = 1;
    r.body = sts_body;
    r.body_len = strlen(sts_body);
    r.region = "eu-north-1";
    r.service = "sts";
    r.time_s = (int64_t) timegm(&tm);
    if (cdc_sigv4_sign(&r, &k, &sig, &err) < 0)
        return false;
    ok = strcmp(sig.authorization, auth) == 0;
    cdc_sigv4_free(&sig);
    return ok;
}

static enum MHD_Result
on_request(void *cls, const test_httpd_req *rq)
{
    struct MHD_Connection *conn = rq->conn;
    const char            *url = rq->url, *method = rq->method;
    char                   exp[32], buf[2048];

    (void) cls;
    if (strcmp(url, "/sts/") == 0 && strcmp(method, "POST") == 0) {
        sts_calls++;
        snprintf(sts_body, sizeof(sts_body), "%s", rq->body);
        if (sts_mode == 1)
            return reply(conn, 400,
                         "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
                         "<Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>"
                         "<Message>Couldn&apos;t retrieve verification key</Message></Error>"
                         "<RequestId>r1</RequestId></ErrorResponse>", "text/xml");
        if (sts_mode == 2)
            return reply(conn, 200, "<html>not sts</html>", "text/html");
        if (sts_mode == 3)
            return reply(conn, 503, "busy", NULL);
        if (strncmp(sts_body, "Action=AssumeRole&", 18) == 0 && !assume_signature_ok(conn, url))
            return reply(conn, 403,
                         "<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch"
                         "</Code><Message>The request signature we calculated does not match"
                         "</Message></Error></ErrorResponse>", "text/xml");
        iso_in(sts_exp_s, exp, sizeof(exp));
        snprintf(buf, sizeof(buf),
                 "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/"
                 "2011-06-15/\"><AssumeRoleWithWebIdentityResult>"
                 "<SubjectFromWebIdentityToken>sub</SubjectFromWebIdentityToken>"
                 "<Credentials><SessionToken>STSTOKEN&amp;%d</SessionToken>"
                 "<SecretAccessKey>STSSECRET</SecretAccessKey><Expiration>%s</Expiration>"
                 "<AccessKeyId>ASIASTS%d</AccessKeyId></Credentials>"
                 "</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>",
                 sts_calls, exp, sts_calls);
        return reply(conn, 200, buf, "text/xml");
    }
    if (strcmp(url, "/latest/api/token") == 0) {
        const char *ttl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                      "X-aws-ec2-metadata-token-ttl-seconds");

        if (imds_v1_only)
            return reply(conn, 404, "not found", NULL);
        if (strcmp(method, "PUT") != 0 || ttl == NULL)
            return reply(conn, 400, "bad token request", NULL);
        return reply(conn, 200, "IMDSTOKEN", NULL);
    }
    if (strncmp(url, "/latest/meta-data/iam/security-credentials/", 43) == 0) {
        const char *t = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                    "X-aws-ec2-metadata-token");

        if (!imds_v1_only && (t == NULL || strcmp(t, "IMDSTOKEN") != 0))
            return reply(conn, 401, "", NULL);
        if (url[43] == '\0')
            return reply(conn, 200, "cdc-role\n", NULL);
        if (strcmp(url + 43, "cdc-role") != 0)
            return reply(conn, 404, "no such role", NULL);
        imds_calls++;
        iso_in(21600, exp, sizeof(exp));
        snprintf(buf, sizeof(buf),
                 "{\"Code\":\"Success\",\"LastUpdated\":\"2026-01-01T00:00:00Z\",\"Type\":"
                 "\"AWS-HMAC\",\"AccessKeyId\":\"ASIAIMDS\",\"SecretAccessKey\":\"IMDSSECRET\","
                 "\"Token\":\"IMDSSESSION\",\"Expiration\":\"%s\"}", exp);
        return reply(conn, 200, buf, "application/json");
    }
    if (strcmp(url, "/container/creds") == 0) {
        const char *a = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");

        container_calls++;
        if (a == NULL || strcmp(a, "Bearer CTOK") != 0)
            return reply(conn, 401, "{\"message\":\"unauthorized\"}", NULL);
        iso_in(3600, exp, sizeof(exp));
        snprintf(buf, sizeof(buf),
                 "{\"AccessKeyId\":\"ASIACONT\",\"SecretAccessKey\":\"CONTSECRET\","
                 "\"Token\":\"CONTSESSION\",\"Expiration\":\"%s\"}", exp);
        return reply(conn, 200, buf, "application/json");
    }
    return reply(conn, 404, "no route", NULL);
}

static void
write_file(const char *name, const char *text)
{
    char  path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static const char *
tpath(const char *name)
{
    static char path[4][256];
    static int  i;

    i = (i + 1) % 4;
    snprintf(path[i], sizeof(path[i]), "%s/%s", tmpdir, name);
    return path[i];
}

static void
setup(void)
{
    static const char *vars[] = {
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_CONFIG_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
        "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KINESIS", "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_S3", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    };
    char        url[128];

    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
    sts_mode = 0;       /* the double starts afresh (also when CK_FORK=no) */
    sts_exp_s = 3600;
    sts_calls = imds_calls = container_calls = imds_v1_only = 0;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/cdc-aws-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    setenv("HOME", tmpdir, 1);                       /* no ~/.aws of the machine */
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);  /* never 169.254.169.254 */
    server = test_httpd_start(on_request, NULL);
    ck_assert_ptr_nonnull(server);
    port = test_httpd_port(server);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/sts", port);
    setenv("AWS_ENDPOINT_URL_STS", url, 1);
}

static void
teardown(void)
{
    char cmd[128];

    test_httpd_stop(server);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* No secret of the doubles or the files appears in s. */
static void
assert_no_secret(const char *s)
{
    static const char *secrets[] = { "ENVSECRET", "FILESECRET", "STSSECRET", "STSTOKEN",
                                     "IMDSSECRET", "IMDSSESSION", "IMDSTOKEN", "CONTSECRET",
                                     "CTOK", "WEBIDTOKEN", "ENVSESSION" };

    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
        ck_assert_msg(strstr(s, secrets[i]) == NULL, "secret %s in: %s", secrets[i], s);
}

START_TEST(env_keys)
{
    cdc_aws_provider *p;
    cdc_aws_key       k;
    cdc_err           err;

    setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "ENVSECRET", 1);
    setenv("AWS_SESSION_TOKEN", "ENVSESSION", 1);
    setenv("AWS_REGION", "eu-west-1", 1);
    setenv("AWS_DEFAULT_REGION", "us-east-2", 1);
    p = cdc_aws_provider_new(NULL, &err);
    ck_assert_msg(p != NULL, "%s", err.msg);
    ck_assert_int_eq(cdc_aws_provider_get(p, &k, &err), 0);
    ck_assert_str_eq(k.access_key_id, "AKIAENV");
    ck_assert_str_eq(k.secret_access_key, "ENVSECRET");
    ck_assert_str_eq(k.session_token, "ENVSESSION");
    ck_assert_str_eq(cdc_aws_provider_region(p), "eu-west-1");
    ck_assert_int_eq(cdc_aws_provider_expires_ms(p), 0);
    ck_assert(strstr(cdc_aws_provider_source(p), "environment") != NULL);
    assert_no_secret(cdc_aws_provider_source(p));
    cdc_aws_provider_free(p);

    /* half a key is an error that names both variables */
    unsetenv("AWS_SECRET_ACCESS_KEY");
    p = cdc_aws_provider_new(NULL, &err);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(cdc_aws_provider_get(p, &k, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
    ck_assert(strstr(err.msg, "AWS_ACCESS_KEY_ID is set") && strstr(err.msg,
                                                                    "AWS_SECRET_ACCESS_KEY"));
    cdc_aws_provider_free(p);
}
END_TEST

START_TEST(region_order_and_typo)
{
    cdc_aws_provider *p;
    cdc_aws_opts      o = { 0 };
    cdc_err           err;

    write_file("config", "[default]\nregion = ap-south-1\n");
    setenv("AWS_CONFIG_FILE", tpath("config"), 1);
    p = cdc_aws_provider_new(NULL, &err);
    ck_assert_str_eq(cdc_aws_provider_region(p), "ap-south-1");
    cdc_aws_provider_free(p);
    setenv("AWS_DEFAULT_REGION", "us-east-2", 1);
    p = cdc_aws_provider_new(NULL, &err);
    ck_assert_str_eq(cdc_aws_provider_region(p), "us-east-2");
    cdc_aws_provider_free(p);
    setenv("AWS_REGION", "eu-west-1", 1);
    p = cdc_aws_provider_new(NULL, &err);
    ck_assert_str_eq(cdc_aws_provider_region(p), "eu-west-1");
    cdc_aws_provider_free(p);
    o.region = "eu-central-1";
    p = cdc_aws_provider_new(&o, &err);
    ck_assert_str_eq(cdc_aws_provider_region(p), "eu-central-1");
    cdc_aws_provider_free(p);
    setenv("AWS_REGION", "EU West 1", 1);
    ck_assert_ptr_null(cdc_aws_provider_new(NULL, &err));
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
    ck_assert_msg(strstr(err.msg, "'EU West 1' (AWS_REGION)") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(shared_files_and_profiles)
{
    cdc_aws_provider *p;
    cdc_aws_key       k;
    cdc_aws_opts      o = { 0 };
    cdc_err           err;

    write_file("credentials",
               "# comment\n[default]\naws_access_key_id = AKIADEF\n"
               "aws_secret_access_key = FILESECRET-def\n\n"
               "[prod]\nAWS_ACCESS_KEY_ID=AKIAPROD\naws_secret_access_key=FILESECRET-prod\n"
               "aws_session_token = FILESECRET-tok\n"
               "[half]\naws_access_key_id = AKIAHALF\n");
    write_file("config",
               "[default]\nregion = us-west-2\n"
               "[profile prod]\nregion = eu-north-1\ns3 =\n  addressing_style = path\n"
               "[profile cfgonly]\naws_access_key_id = AKIACFG\n"
               "aws_secret_access_key = FILESECRET-cfg\nregion = ca-central-1\n"
               "[profile chained]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = prod\n"
               "region = eu-north-1\nexternal_id = ext-1\n"
               "[profile badsource]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = cfgonly2\n"
               "[profile proc]\ncredential_process = /bin/false\n");
    setenv("AWS_SHARED_CREDENTIALS_FILE", tpath("credentials"), 1);
    setenv("AWS_CONFIG_FILE", tpath("config"), 1);

    p = cdc_aws_provider_new(NULL, &err);
    ck_assert_msg(p != NULL, "%s", err.msg);
    ck_assert_int_eq(cdc_aws_provider_get(p, &k, &err), 0);
    ck_assert_str_eq(k.access_key_id, "AKIADEF");
    ck_assert_ptr_null(k.session_token);
    ck_assert_str_eq(cdc_aws_provider_region(p), "us-west-2");
    ck_assert(strstr(cdc_aws_provider_source(p), "profile default") != NULL);
    cdc_aws_provider_free(p);

    setenv("AWS_PROFILE", "prod", 1);
    p = cdc_aws_provider_new(NULL, &err);
    ck_assert_int_eq(cdc_aws_provider_get(p, &k, &err), 0);
    ck_assert_str_eq(k.access_key_id, "AKIAPROD");
    ck_assert_str_eq(k.session_token, "FILESECRET-tok");
    ck_assert_str_eq(cdc_aws_provider_region(p), "eu-north-1");
    cdc_aws_provider_free(p);

    o.profile = "cfgonly";          /* the configured profile wins over AWS_PROFILE */
    p = cdc_aws_provider_new(&o, &err);
    ck_assert_int_eq(cdc_aws_provider_get(p, &k, &err), 0);
    ck_assert_str_eq(k.access_key_id, "AKIACFG");
    ck_assert_str_eq(cdc_aws_provider_region(p), "ca-central-1");
    cdc_aws_provider_free(p);

    o.profile = "half";
    p = cdc_aws_provider_new(&o, &err);
    ck_assert_int_eq(cdc_aws_provider_get(p, &k, &err), -1);
    ck_assert_msg(strstr(err.msg, "profile half") && strstr(err.msg, tpath("credentials")),
                  "%s", err.msg);
    cdc_aws_provider_free(p);

    /* role_arn + source_profile: STS AssumeRole signed with prod's keys (the double
       checks the signature), ExternalId passed */
    o.profile = "chained";
    p = cdc_aws_provider_new(&o, &err);
    ck_assert_msg(cdc_aws_provider_get(p, &k, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(k.access_key_id, "ASIASTS1");
    ck_assert_str_eq(k.session_token, "STSTOKEN&1");
    ck_assert(strstr(sts_body, "Action=AssumeRole&") == sts_body);
    ck_assert(strstr(sts_body, "RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx") != NULL);
    ck_assert(strstr(sts_body, "ExternalId=ext-1") != NULL);
    ck_assert(strstr(cdc_aws_provider_source(p), "source profile prod") != NULL);
    ck_assert(cdc_aws_provider_expires_ms(p) > cdc_wall_ms());
    cdc_aws_provider_free(p);

    o.profile = "badsource";
    p = cdc_aws_provider_new(&o, &err);
    ck_assert_int_eq(cdc_aws_provider_get(p, &k, &err), -1);
    ck_assert_msg(strstr(err.msg, "source_profile cfgonly2") != NULL, "%s", err.msg);
    cdc_aws_provider_free(p);

    o.profile = "proc";
    p = cdc_aws_provider_new(&o, &err);
    ck_assert_int_eq(cdc_aws_provider_get(p, &k, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "profile proc") && strstr(err.msg, "credential_process"),
                  "%s", err.msg);
    cdc_aws_provider_free(p);

    o.profile = "nosuch";
    ck_assert_ptr_null(cdc_aws_provider_new(&o, &err));
    ck_assert_msg(strstr(err.msg, "'nosuch'") && strstr(err.msg, tpath("config")), "%s",
                  err.msg);
    assert_no_secret(err.msg);

    /* environment keys come before the profile */
    setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "ENVSECRET", 1);
    p = cdc_aws_provider_new(NULL, &err);
    ck_assert_int_eq(cdc_aws_provider_get(p, &k, &err), 0);
    ck_assert_str_eq(k.access_key_id, "AKIAENV");
    cdc_aws_provider_free(p);
}
END_TEST

START_TEST(web_identity_and_refresh)
{
    cdc_aws_provider *p;
    cdc_aws_key       k;
    cdc_aws_opts      o = { .refresh_before_s = 300 };
    cdc_err           err;
    int64_t           exp;

    write_file("token", "WEBIDTOKEN+/=\n");
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tpath("token"), 1);
    setenv("AWS_REGION", "eu-west-1", 1);
    p = cdc_aws_provider_new(&o, &err);
    ck_assert_int_eq(cdc_aws_provider_get(p, &k, &err), -1);
    ck_assert_msg(strstr(err.msg, "AWS_ROLE_ARN is not") != NULL, "%s", err.msg);
    cdc_aws_provider_free(p);

    setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/cdc", 1);
    setenv("AWS_ROLE_SESSION_NAME", "cdc-test", 1);
    p = cdc_aws_provider_new(&o, &err);
    ck_assert_msg(cdc_aws_provider_get(p, &k, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(k.access_key_id, "ASIASTS1");
    ck_assert_str_eq(k.secret_access_key, "STSSECRET");
    ck_assert_str_eq(k.session_token, "STSTOKEN&1");
    ck_assert(strstr(sts_body, "Action=AssumeRoleWithWebIdentity") != NULL);
    ck_assert(strstr(sts_body, "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fcdc"));
    ck_assert(strstr(sts_body, "RoleSessionName=cdc-test") != NULL);
    ck_assert(strstr(sts_body, "WebIdentityToken=WEBIDTOKEN%2B%2F%3D") != NULL);
    exp = cdc_aws_provider_expires_ms(p);
    ck_assert(exp > cdc_wall_ms() + 3500 * 1000 && exp < cdc_wall_ms() + 3700 * 1000);
    ck_assert(strstr(cdc_aws_provider_source(p), "web identity") != NULL);
    /* far from expiry: no new call */
    ck_assert_int_eq(cdc_aws_provider_get(p, &k, &err), 0);
    ck_assert_int_eq(sts_calls, 1);
    cdc_aws_provider_free(p);

    /* credentials that expire within refresh_before_s are fetched again */
    sts_calls = 0;
    sts_exp_s = 120;
    p = cdc_aws_provider_new(&o, &err);
    ck_assert_int_eq(cdc_aws_provider_get(p, &k, &err), 0);
    ck_assert_str_eq(k.access_key_id, "ASIASTS1");
    ck_assert_int_eq(cdc_aws_provider_get(p, &k, &err), 0);
    ck_assert_str_eq(k.access_key_id, "ASIASTS2");
    ck_assert_int_eq(sts_calls, 2);
    /* a refresh that fails while the old ones are valid keeps them, and says why */
    sts_mode = 3;
    ck_assert_int_eq(cdc_aws_provider_get(p, &k, &err), 0);
    ck_assert_str_eq(k.access_key_id, "ASIASTS2");
    ck_assert_ptr_nonnull(cdc_aws_provider_last_error(p));
    ck_assert_msg(strstr(cdc_aws_provider_last_error(p), "HTTP 503") != NULL, "%s",
                  cdc_aws_provider_last_error(p));
    assert_no_secret(cdc_aws_provider_last_error(p));
    sts_mode = 0;
    ck_assert_int_eq(cdc_aws_provider_get(p, &k, &err), 0);
    ck_assert_ptr_null(cdc_aws_provider_last_error(p));
    cdc_aws_provider_free(p);

    /* STS refuses the token: its code and message, the role, no token */
    sts_mode = 1;
    p = cdc_aws_provider_new(&o, &err);
    ck_assert_int_eq(cdc_aws_provider_get(p, &k, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
    ck_assert_msg(strstr(err.msg, "HTTP 400 InvalidIdentityToken: Couldn't retrieve") &&
                  strstr(err.msg, "role/cdc") && strstr(err.msg, "127.0.0.1"), "%s", err.msg);
    assert_no_secret(err.msg);
    cdc_aws_provider_free(p);

    /* an answer that is not STS's */
    sts_mode = 2;
    p = cdc_aws_provider_new(&o, &err);
    ck_assert_int_eq(cdc_aws_provider_get(p, &k, &err), -1);
    ck_assert_msg(strstr(err.msg, "no <Credentials>") != NULL, "%s", err.msg);
    cdc_aws_provider_free(p);

    /* a missing token file is named */
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tpath("missing"), 1);
    p = cdc_aws_provider_new(&o, &err);
    ck_assert_int_eq(cdc_aws_provider_get(p, &k, &err), -1);
    ck_assert_msg(strstr(err.msg, tpath("missing")) != NULL, "%s", err.msg);
    cdc_aws_provider_free(p);
}
END_TEST

START_TEST(profile_web_identity)
{
    cdc_aws_provider *p;
    cdc_aws_key       k;
    cdc_err           err;
    char              conf[512];

    write_file("token", "WEBIDTOKEN");
    snprintf(conf, sizeof(conf),
             "[profile irsa]\nrole_arn = arn:aws:iam::1:role/r\nweb_identity_token_file = %s\n"
             "region = eu-west-3\n", tpath("token"));
    write_file("config", conf);
    setenv("AWS_CONFIG_FILE", tpath("config"), 1);
    setenv("AWS_PROFILE", "irsa", 1);
    p = cdc_aws_provider_new(NULL, &err);
    ck_assert_msg(p != NULL, "%s", err.msg);
    ck_assert_msg(cdc_aws_provider_get(p, &k, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(k.access_key_id, "ASIASTS1");
    ck_assert(strstr(sts_body, "RoleSessionName=cdcagent-") != NULL);
    cdc_aws_provider_free(p);
}
END_TEST

START_TEST(container_credentials)
{
    cdc_aws_provider *p;
    cdc_aws_key       k;
    cdc_aws_opts      o = { 0 };
    cdc_err           err;
    char              base[64], full[128];

    snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
    o.container_base = base;
    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/container/creds", 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer CTOK", 1);
    p = cdc_aws_provider_new(&o, &err);
    ck_assert_msg(cdc_aws_provider_get(p, &k, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(k.access_key_id, "ASIACONT");
    ck_assert_str_eq(k.session_token, "CONTSESSION");
    ck_assert(cdc_aws_provider_expires_ms(p) > cdc_wall_ms());
    ck_assert(strstr(cdc_aws_provider_source(p), "container") != NULL);
    cdc_aws_provider_free(p);

    /* FULL_URI with the token in a file (EKS Pod Identity) */
    unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    write_file("ctok", "Bearer CTOK\n");
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tpath("ctok"), 1);
    snprintf(full, sizeof(full), "http://127.0.0.1:%d/container/creds", port);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", full, 1);
    p = cdc_aws_provider_new(NULL, &err);
    ck_assert_msg(cdc_aws_provider_get(p, &k, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(k.secret_access_key, "CONTSECRET");
    cdc_aws_provider_free(p);

    /* a wrong token: the endpoint's refusal, no token in the message */
    write_file("ctok", "Bearer WRONG-CTOK\n");
    p = cdc_aws_provider_new(NULL, &err);
    ck_assert_int_eq(cdc_aws_provider_get(p, &k, &err), -1);
    ck_assert_msg(strstr(err.msg, "HTTP 401") != NULL, "%s", err.msg);
    assert_no_secret(err.msg);
    cdc_aws_provider_free(p);

    /* plain http to anywhere but a loopback or ECS/EKS host is refused */
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.com/creds", 1);
    p = cdc_aws_provider_new(NULL, &err);
    ck_assert_int_eq(cdc_aws_provider_get(p, &k, &err), -1);
    ck_assert_msg(strstr(err.msg, "AWS_CONTAINER_CREDENTIALS_FULL_URI") != NULL, "%s", err.msg);
    cdc_aws_provider_free(p);
}
END_TEST

START_TEST(instance_metadata)
{
    cdc_aws_provider *p;
    cdc_aws_key       k;
    cdc_err           err;
    char              ep[64];

    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d/", port);
    unsetenv("AWS_EC2_METADATA_DISABLED");
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", ep, 1);
    p = cdc_aws_provider_new(NULL, &err);
    ck_assert_msg(cdc_aws_provider_get(p, &k, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(k.access_key_id, "ASIAIMDS");
    ck_assert_str_eq(k.session_token, "IMDSSESSION");
    ck_assert(strstr(cdc_aws_provider_source(p), "role cdc-role") != NULL);
    assert_no_secret(cdc_aws_provider_source(p));
    ck_assert_int_eq(imds_calls, 1);
    cdc_aws_provider_free(p);

    /* IMDSv1 only (the token call answers 404) */
    imds_v1_only = 1;
    p = cdc_aws_provider_new(NULL, &err);
    ck_assert_msg(cdc_aws_provider_get(p, &k, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(k.access_key_id, "ASIAIMDS");
    cdc_aws_provider_free(p);
}
END_TEST

START_TEST(nothing_found_says_what_was_tried)
{
    cdc_aws_provider *p;
    cdc_aws_key       k;
    cdc_err           err;

    p = cdc_aws_provider_new(NULL, &err);
    ck_assert_int_eq(cdc_aws_provider_get(p, &k, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
    ck_assert_msg(strstr(err.msg, "no AWS credentials found") &&
                  strstr(err.msg, "AWS_EC2_METADATA_DISABLED") &&
                  strstr(err.msg, "profile default"), "%s", err.msg);
    cdc_aws_provider_free(p);

    /* a metadata endpoint that does not answer: its address and why */
    unsetenv("AWS_EC2_METADATA_DISABLED");
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1", 1);
    p = cdc_aws_provider_new(NULL, &err);
    ck_assert_int_eq(cdc_aws_provider_get(p, &k, &err), -1);
    ck_assert_msg(strstr(err.msg, "127.0.0.1:1") != NULL, "%s", err.msg);
    cdc_aws_provider_free(p);
}
END_TEST

START_TEST(endpoints)
{
    cdc_aws_provider *p;
    cdc_err           err;
    char             *u;

    unsetenv("AWS_ENDPOINT_URL_STS");
    setenv("AWS_REGION", "eu-west-1", 1);
    p = cdc_aws_provider_new(NULL, &err);
    u = cdc_aws_endpoint(p, "kinesis", &err);
    ck_assert_str_eq(u, "https://kinesis.eu-west-1.amazonaws.com");
    free(u);
    u = cdc_aws_endpoint(p, "dynamodb", &err);
    ck_assert_str_eq(u, "https://dynamodb.eu-west-1.amazonaws.com");
    free(u);
    cdc_aws_provider_free(p);

    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000/", 1);
    setenv("AWS_ENDPOINT_URL_KINESIS", "http://127.0.0.1:4567", 1);
    p = cdc_aws_provider_new(NULL, &err);
    u = cdc_aws_endpoint(p, "kinesis", &err);
    ck_assert_str_eq(u, "http://127.0.0.1:4567");
    free(u);
    u = cdc_aws_endpoint(p, "dynamodb", &err);
    ck_assert_str_eq(u, "http://127.0.0.1:5000");
    free(u);
    setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
    u = cdc_aws_endpoint(p, "s3", &err);
    ck_assert_str_eq(u, "https://s3.eu-west-1.amazonaws.com");
    free(u);
    cdc_aws_provider_free(p);
    unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    unsetenv("AWS_ENDPOINT_URL");
    unsetenv("AWS_ENDPOINT_URL_KINESIS");

    /* the profile's endpoint_url; China's partition */
    write_file("config", "[default]\nregion = cn-north-1\n[profile local]\n"
                         "endpoint_url = http://localhost:4566\nregion = us-east-1\n");
    setenv("AWS_CONFIG_FILE", tpath("config"), 1);
    unsetenv("AWS_REGION");
    p = cdc_aws_provider_new(NULL, &err);
    u = cdc_aws_endpoint(p, "kinesis", &err);
    ck_assert_str_eq(u, "https://kinesis.cn-north-1.amazonaws.com.cn");
    free(u);
    cdc_aws_provider_free(p);
    setenv("AWS_PROFILE", "local", 1);
    p = cdc_aws_provider_new(NULL, &err);
    u = cdc_aws_endpoint(p, "dynamodb", &err);
    ck_assert_str_eq(u, "http://localhost:4566");
    free(u);
    cdc_aws_provider_free(p);

    /* no region, no override: an error naming both ways out */
    unsetenv("AWS_PROFILE");
    unsetenv("AWS_CONFIG_FILE");
    p = cdc_aws_provider_new(NULL, &err);
    ck_assert_ptr_null(cdc_aws_endpoint(p, "kinesis", &err));
    ck_assert_msg(strstr(err.msg, "AWS_REGION") && strstr(err.msg, "AWS_ENDPOINT_URL_KINESIS"),
                  "%s", err.msg);
    u = cdc_aws_endpoint(p, "sts", &err);
    ck_assert_str_eq(u, "https://sts.amazonaws.com");
    free(u);
    cdc_aws_provider_free(p);
}
END_TEST

START_TEST(parse_time)
{
    ck_assert(cdc_aws_parse_time("2015-08-30T12:36:00Z") == 1440938160000LL);
    ck_assert(cdc_aws_parse_time("2015-08-30T12:36:00.123Z") == 1440938160000LL);
    ck_assert(cdc_aws_parse_time("2015-08-30T12:36:00+00:00") == 1440938160000LL);
    ck_assert(cdc_aws_parse_time("tomorrow") == -1);
    ck_assert(cdc_aws_parse_time("2015-08-30T12:36:00+02:00") == -1);
    ck_assert(cdc_aws_parse_time(NULL) == -1);
}
END_TEST

static Suite *
aws_creds_suite(void)
{
    Suite *s = suite_create("aws_creds");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, env_keys);
    tcase_add_test(tc, region_order_and_typo);
    tcase_add_test(tc, shared_files_and_profiles);
    tcase_add_test(tc, web_identity_and_refresh);
    tcase_add_test(tc, profile_web_identity);
    tcase_add_test(tc, container_credentials);
    tcase_add_test(tc, instance_metadata);
    tcase_add_test(tc, nothing_found_says_what_was_tried);
    tcase_add_test(tc, endpoints);
    tcase_add_test(tc, parse_time);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return suite_main(aws_creds_suite(), false);
}
