/*
 * Suite "registry": the Schema Registry client (schemas/registry.c) against the
 * registry test double (test/doubles/schema_registry.py), started here as a
 * child process on a loopback port, once without and once with basic auth.
 * Ids, global ids across subjects, the id cache, new versions, 409 and 422
 * messages, an unreachable registry named without its credentials, retries
 * after injected 503s and timeouts, a URL list, 401, TLS, compatibility
 * checks and stop_on_incompatible_schema; and it runs the double's own tests.
 * Without python3 every test passes after printing that it was skipped.
 */
#include <check.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/core/cdc_counters.h"
#include "agent/core/cdc_log.h"
#include "schemas/registry.h"

#define DOUBLE_PATH CDC_FIXTURES "/../doubles/schema_registry.py"

#define V1                                                                                         \
    "{\"type\":\"record\",\"name\":\"Value\",\"namespace\":\"db.public.t\","                       \
    "\"fields\":[{\"name\":\"id\",\"type\":\"int\"}]}"
#define V1_ALT                                                                                     \
    "{ \"namespace\": \"db.public.t\", \"name\": \"Value\", \"type\": \"record\", "                \
    "\"fields\": [ { \"type\": \"int\", \"name\": \"id\" } ] }"
#define V2_OPT                                                                                     \
    "{\"type\":\"record\",\"name\":\"Value\",\"namespace\":\"db.public.t\","                       \
    "\"fields\":[{\"name\":\"id\",\"type\":\"int\"},{\"name\":\"name\","                           \
    "\"type\":[\"null\",\"string\"],\"default\":null}]}"
#define V2_REQ                                                                                     \
    "{\"type\":\"record\",\"name\":\"Value\",\"namespace\":\"db.public.t\","                       \
    "\"fields\":[{\"name\":\"id\",\"type\":\"int\"},{\"name\":\"name\","                           \
    "\"type\":\"string\"}]}"

typedef struct sr_double {
    pid_t pid;
    int   port;
} sr_double;

static sr_double plain, authed, tls;
static bool      have_python, have_tls;
static char      tls_dir[] = "/tmp/test_registry_XXXXXX", tls_cert[64], tls_key[64];

/* Runs the double with extra arguments (NULL-terminated) and reads its port. */
static int
double_start(sr_double *d, const char *const *extra)
{
    const char *argv[16] = {"python3", DOUBLE_PATH, "--port", "0"};
    int         fds[2], n = 4;
    FILE       *f;
    char        line[64];

    d->pid = 0;
    d->port = 0;
    for (; extra && *extra && n < 15; extra++)
        argv[n++] = *extra;
    if (pipe(fds) != 0)
        return -1;
    d->pid = fork();
    if (d->pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execvp("python3", (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    f = fdopen(fds[0], "r");
    if (f && fgets(line, sizeof(line), f) && sscanf(line, "PORT %d", &d->port) == 1) {
        fclose(f);
        return 0;
    }
    if (f)
        fclose(f);
    return -1;
}

static void
double_stop(sr_double *d)
{
    if (d->pid > 0) {
        kill(d->pid, SIGTERM);
        waitpid(d->pid, NULL, 0);
    }
    d->pid = 0;
}

static void
suite_setup(void)
{
    cdc_log_set_level(CDC_LOG_OFF);
    have_python = system("command -v python3 >/dev/null 2>&1") == 0;
    if (!have_python) {
        fprintf(stderr, "test_registry: SKIP: python3 not found, the registry double cannot run\n");
        return;
    }
    ck_assert_msg(double_start(&plain, NULL) == 0, "cannot start %s", DOUBLE_PATH);
    ck_assert_msg(double_start(&authed, (const char *const[]){"--user", "alice", "--password",
                                                              "s3cret", NULL}) == 0,
                  "cannot start the auth double");
    /* A self-signed certificate for 127.0.0.1, when openssl is there to make one. */
    have_tls = mkdtemp(tls_dir) != NULL;
    snprintf(tls_cert, sizeof(tls_cert), "%s/cert.pem", tls_dir);
    snprintf(tls_key, sizeof(tls_key), "%s/key.pem", tls_dir);
    if (have_tls) {
        char cmd[512];

        snprintf(cmd, sizeof(cmd),
                 "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "
                 "/CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout %s -out %s "
                 ">/dev/null 2>&1",
                 tls_key, tls_cert);
        have_tls = system(cmd) == 0 &&
                   double_start(&tls, (const char *const[]){"--cert", tls_cert, "--key", tls_key,
                                                            NULL}) == 0;
    }
    if (!have_tls)
        fprintf(stderr, "test_registry: SKIP tls: cannot make a certificate with openssl\n");
}

static void
suite_teardown(void)
{
    double_stop(&plain);
    double_stop(&authed);
    double_stop(&tls);
    unlink(tls_cert);
    unlink(tls_key);
    rmdir(tls_dir);
}

/* A test-double knob or stat: method path body -> the answer (malloc'd). */
static char *
knob(const char *method, const char *path, const char *body)
{
    char   url[128];
    CURL  *h = curl_easy_init();
    FILE  *mem;
    char  *out = NULL;
    size_t len = 0;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", plain.port, path);
    mem = open_memstream(&out, &len);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, mem);
    ck_assert_int_eq(curl_easy_perform(h), CURLE_OK);
    curl_easy_cleanup(h);
    fclose(mem);
    return out;
}

static long
double_requests(void)
{
    char *s = knob("GET", "/_double/stats", NULL);
    long  n = -1;

    ck_assert(sscanf(s, "{\"requests\": %ld", &n) == 1);
    free(s);
    return n;
}

static sr_client *
client_for(const char *url, int attempts)
{
    sr_conf    conf = {.url = url,
                       .max_attempts = attempts,
                       .initial_wait_s = 0.01,
                       .max_wait_s = 0.05,
                       .timeout_ms = 5000};
    cdc_err    err = {0};
    sr_client *c = sr_client_new(&conf, &err);

    ck_assert_msg(c != NULL, "sr_client_new: %s", err.msg);
    return c;
}

static sr_client *
plain_client(int attempts)
{
    char url[64];

    snprintf(url, sizeof(url), "http://127.0.0.1:%d", plain.port);
    return client_for(url, attempts);
}

/* A loopback port nothing listens on (bound, then closed). */
static int
closed_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t          len = sizeof(a);
    int                fd = socket(AF_INET, SOCK_STREAM, 0);

    ck_assert(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    ck_assert(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

START_TEST(register_returns_ids)
{
    sr_client *c;
    cdc_err    err = {0};
    uint32_t   a = 0, b = 0, again = 0, other = 0;
    sr_version v;

    if (!have_python)
        return; /* skipped: reported once by suite_setup */
    c = plain_client(1);
    ck_assert_msg(sr_register(c, "ids.public.t-value", V1, &a, &err) == 0, "%s", err.msg);
    ck_assert_uint_gt(a, 0);
    ck_assert_int_eq(sr_register(c, "ids.public.t-value", V1_ALT, &again, &err), 0);
    ck_assert_uint_eq(again, a); /* parsed equality, not text */
    ck_assert_int_eq(sr_register(c, "ids.public.u-value", V1, &other, &err), 0);
    ck_assert_uint_eq(other, a); /* ids are global */
    ck_assert_int_eq(sr_register(c, "ids.public.t-value", V2_OPT, &b, &err), 0);
    ck_assert_uint_ne(b, a);
    ck_assert_int_eq(sr_latest(c, "ids.public.t-value", &v, &err), 0);
    ck_assert_int_eq(v.version, 2);
    ck_assert_uint_eq(v.id, b);
    ck_assert_str_eq(v.schema, V2_OPT);
    sr_version_clear(&v);
    ck_assert_int_eq(sr_latest(c, "ids.public.none-value", &v, &err), 1);
    ck_assert_int_eq(sr_lookup(c, "ids.public.t-value", V1_ALT, &v, &err), 0);
    ck_assert_int_eq(v.version, 1);
    ck_assert_uint_eq(v.id, a);
    sr_version_clear(&v);
    ck_assert_int_eq(sr_lookup(c, "ids.public.t-value", V2_REQ, &v, &err), 1);
    ck_assert_int_eq(sr_lookup(c, "ids.public.none-value", V1, &v, &err), 1);
    sr_client_free(c);
}
END_TEST

START_TEST(cache_makes_no_request)
{
    sr_client *c;
    cdc_err    err = {0};
    uint32_t   id = 0, id2 = 0;
    uint64_t   before;
    long       served;

    if (!have_python)
        return; /* skipped: reported once by suite_setup */
    c = plain_client(1);
    ck_assert_int_eq(sr_register(c, "cache.public.t-value", V1, &id, &err), 0);
    before = sr_requests(c);
    served = double_requests();
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(sr_register(c, "cache.public.t-value", V1, &id2, &err), 0);
        ck_assert_uint_eq(id2, id);
    }
    ck_assert_uint_eq(sr_requests(c), before);
    ck_assert_int_eq(double_requests(), served);
    /* Another subject is another cache key, whatever the schema. */
    ck_assert_int_eq(sr_register(c, "cache.public.t-key", V1, &id2, &err), 0);
    ck_assert_uint_eq(sr_requests(c), before + 1);
    sr_client_free(c);
}
END_TEST

START_TEST(incompatible_is_409)
{
    sr_client *c;
    cdc_err    err = {0};
    uint32_t   id = 0;
    bool       ok = false;

    if (!have_python)
        return; /* skipped: reported once by suite_setup */
    c = plain_client(3);
    ck_assert_int_eq(sr_register(c, "inc.public.t-value", V1, &id, &err), 0);
    ck_assert_int_eq(sr_check_compatible(c, "inc.public.t-value", V2_OPT, &ok, &err), 0);
    ck_assert(ok);
    ck_assert_int_eq(sr_check_compatible(c, "inc.public.t-value", V2_REQ, &ok, &err), 0);
    ck_assert(!ok);
    ck_assert_int_eq(sr_check_compatible(c, "inc.public.new-value", V2_REQ, &ok, &err), 0);
    ck_assert(ok); /* nothing to be incompatible with */
    ck_assert_int_eq(sr_register(c, "inc.public.t-value", V2_REQ, &id, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_DEST);
    ck_assert_msg(strstr(err.msg, "rejected schema for subject inc.public.t-value: "
                                  "incompatible (409): Schema being registered is incompatible"),
                  "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "registry at http://127.0.0.1:"), "%s", err.msg);
    sr_client_free(c);
}
END_TEST

START_TEST(invalid_is_422)
{
    sr_client *c;
    cdc_err    err = {0};
    uint32_t   id = 0;
    bool       ok;

    if (!have_python)
        return; /* skipped: reported once by suite_setup */
    c = plain_client(3);
    ck_assert_int_eq(sr_register(c, "bad.public.t-value", "{\"type\":\"nope\"}", &id, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_DEST);
    ck_assert_msg(strstr(err.msg, "subject bad.public.t-value: invalid schema (42201): "), "%s",
                  err.msg);
    ck_assert_int_eq(sr_check_compatible(c, "bad.public.t-value", "{", &ok, &err), -1);
    ck_assert_msg(strstr(err.msg, "(42201)"), "%s", err.msg);
    sr_client_free(c);
}
END_TEST

START_TEST(unreachable_names_url_not_credentials)
{
    char       url[128];
    sr_client *c;
    cdc_err    err = {0};
    uint32_t   id;
    int        port = closed_port();

    snprintf(url, sizeof(url), "http://bob:hunter2@127.0.0.1:%d/", port);
    c = client_for(url, 2);
    ck_assert_int_eq(sr_register(c, "down.public.t-value", V1, &id, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_CONN);
    ck_assert(cdc_rc_retriable(err.code));
    snprintf(url, sizeof(url), "http://***@127.0.0.1:%d unreachable after 2 attempts", port);
    ck_assert_msg(strstr(err.msg, url), "%s", err.msg);
    ck_assert_msg(!strstr(err.msg, "hunter2") && !strstr(err.msg, "bob"), "%s", err.msg);
    ck_assert_uint_eq(sr_requests(c), 2);
    sr_client_free(c);
}
END_TEST

START_TEST(retries_after_503)
{
    sr_client *c;
    cdc_err    err = {0};
    uint32_t   id = 0;

    if (!have_python)
        return; /* skipped: reported once by suite_setup */
    c = plain_client(3);
    free(knob("POST", "/_double/fail", "{\"count\": 2, \"status\": 503}"));
    ck_assert_msg(sr_register(c, "retry.public.t-value", V1, &id, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(sr_requests(c), 3);
    ck_assert_uint_gt(id, 0);
    /* Failing more often than max_attempts is a retriable error naming the status. */
    free(knob("POST", "/_double/fail", "{\"count\": 3, \"status\": 503}"));
    ck_assert_int_eq(sr_register(c, "retry.public.u-value", V1, &id, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_CONN);
    ck_assert_msg(strstr(err.msg, "answered 503 after 3 attempts"), "%s", err.msg);
    sr_client_free(c);
}
END_TEST

START_TEST(timeout_then_retry)
{
    char       url[64];
    sr_conf    conf = {.url = url, .max_attempts = 1, .timeout_ms = 300};
    sr_client *c;
    cdc_err    err = {0};
    uint32_t   id;

    if (!have_python)
        return; /* skipped: reported once by suite_setup */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", plain.port);
    c = sr_client_new(&conf, &err);
    free(knob("POST", "/_double/fail", "{\"count\": 1, \"mode\": \"timeout\", \"delay_s\": 1}"));
    ck_assert_int_eq(sr_register(c, "slow.public.t-value", V1, &id, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_TIMEOUT);
    ck_assert_msg(strstr(err.msg, "timed out"), "%s", err.msg);
    ck_assert_int_eq(sr_register(c, "slow.public.t-value", V1, &id, &err), 0);
    sr_client_free(c);
}
END_TEST

START_TEST(url_list_fails_over)
{
    char       url[128];
    sr_client *c;
    cdc_err    err = {0};
    uint32_t   id = 0;

    if (!have_python)
        return; /* skipped: reported once by suite_setup */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d, http://127.0.0.1:%d/", closed_port(),
             plain.port);
    c = client_for(url, 2);
    ck_assert_msg(sr_register(c, "list.public.t-value", V1, &id, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(sr_requests(c), 2);
    sr_client_free(c);
}
END_TEST

START_TEST(basic_auth)
{
    char    url[64];
    sr_conf conf = {
        .url = url, .basic_auth_user = "alice", .basic_auth_password = "s3cret", .max_attempts = 3};
    sr_client *c;
    cdc_err    err = {0};
    uint32_t   id = 0;

    if (!have_python)
        return; /* skipped: reported once by suite_setup */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", authed.port);
    c = sr_client_new(&conf, &err);
    ck_assert_msg(sr_register(c, "auth.public.t-value", V1, &id, &err) == 0, "%s", err.msg);
    sr_client_free(c);

    conf.basic_auth_password = "wrong-pw";
    c = sr_client_new(&conf, &err);
    ck_assert_int_eq(sr_register(c, "auth.public.u-value", V1, &id, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
    ck_assert_msg(strstr(err.msg, "refused the credentials (401 unauthorized)"), "%s", err.msg);
    ck_assert_msg(!strstr(err.msg, "wrong-pw") && !strstr(err.msg, "alice"), "%s", err.msg);
    ck_assert_uint_eq(sr_requests(c), 1); /* 401 is final: no retry */
    sr_client_free(c);

    conf.basic_auth_user = NULL;
    c = sr_client_new(&conf, &err);
    ck_assert_int_eq(sr_register(c, "auth.public.u-value", V1, &id, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
    sr_client_free(c);
}
END_TEST

START_TEST(checked_register_reports_versions)
{
    sr_client *c;
    cdc_err    err = {0};
    sr_change  ch;
    uint64_t   before;

    if (!have_python)
        return; /* skipped: reported once by suite_setup */
    c = plain_client(1);
    ck_assert_msg(sr_register_checked(c, "chk.public.t-value", V1, true, &ch, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(ch.previous_version, 0);
    ck_assert_int_eq(ch.version, 1);
    ck_assert(ch.changed && ch.compatible);
    ck_assert_int_eq(sr_register_checked(c, "chk.public.t-value", V2_OPT, true, &ch, &err), 0);
    ck_assert_int_eq(ch.previous_version, 1);
    ck_assert_int_eq(ch.version, 2);
    ck_assert(ch.changed && ch.compatible);
    before = sr_requests(c);
    ck_assert_int_eq(sr_register_checked(c, "chk.public.t-value", V2_OPT, true, &ch, &err), 0);
    ck_assert_uint_eq(sr_requests(c), before); /* cached */
    ck_assert(!ch.changed);
    sr_client_free(c);

    c = plain_client(1); /* an old version again: no new version */
    ck_assert_int_eq(sr_register_checked(c, "chk.public.t-value", V1_ALT, true, &ch, &err), 0);
    ck_assert_int_eq(ch.previous_version, 2);
    ck_assert_int_eq(ch.version, 1);
    ck_assert(!ch.changed);
    sr_client_free(c);
    /* cdcagent_schema_registrations_total{subject}: the two new versions only. */
    ck_assert_uint_eq(cdc_counter_get(CDC_CTR_SCHEMA_REG, "chk.public.t-value"), 2);
}
END_TEST

START_TEST(stop_on_incompatible_schema)
{
    sr_client *c;
    cdc_err    err = {0};
    sr_change  ch;
    sr_version v;

    if (!have_python)
        return; /* skipped: reported once by suite_setup */
    c = plain_client(1);
    /* Dropping a NOT NULL column: BACKWARD lets the registry take it, but readers
     * of the old version miss a field that has no default. */
    ck_assert_int_eq(sr_register_checked(c, "stop.public.t-value", V2_REQ, true, &ch, &err), 0);
    ck_assert_int_eq(sr_register_checked(c, "stop.public.t-value", V1, true, &ch, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_DEST);
    ck_assert_msg(strstr(err.msg, "subject stop.public.t-value: readers of version 1 cannot read "
                                  "version 2"),
                  "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "stop_on_incompatible_schema"), "%s", err.msg);
    ck_assert(ch.changed && !ch.compatible);
    /* Not cached: asking again (or after a restart) stops again. */
    ck_assert_int_eq(sr_register_checked(c, "stop.public.t-value", V1, true, &ch, &err), -1);
    ck_assert(!ch.changed);
    ck_assert_int_eq(sr_register_checked(c, "stop.public.t-value", V1, false, &ch, &err), 0);
    ck_assert(!ch.compatible && ch.version == 2);
    ck_assert_int_eq(sr_latest(c, "stop.public.t-value", &v, &err), 0);
    ck_assert_int_eq(v.version, 2);
    sr_version_clear(&v);

    /* Dropping a nullable column is fine: its readers have a default. */
    ck_assert_int_eq(sr_register_checked(c, "stop.public.u-value", V2_OPT, true, &ch, &err), 0);
    ck_assert_int_eq(sr_register_checked(c, "stop.public.u-value", V1, true, &ch, &err), 0);
    ck_assert(ch.changed && ch.compatible);

    /* What the registry's own level refuses is a 409 whatever the setting. */
    free(knob("PUT", "/config/stop.public.w-value", "{\"compatibility\": \"FULL\"}"));
    ck_assert_int_eq(sr_register_checked(c, "stop.public.w-value", V1, false, &ch, &err), 0);
    ck_assert_int_eq(sr_register_checked(c, "stop.public.w-value", V2_REQ, false, &ch, &err), -1);
    ck_assert_msg(strstr(err.msg, "incompatible (409)"), "%s", err.msg);
    sr_client_free(c);
}
END_TEST

START_TEST(tls_verifies_the_registry)
{
    char       url[64];
    sr_conf    conf = {.url = url, .max_attempts = 2, .initial_wait_s = 0.01};
    sr_client *c;
    cdc_err    err = {0};
    uint32_t   id = 0;

    if (!have_python)
        return; /* skipped: reported once by suite_setup */
    if (!have_tls)
        return;
    snprintf(url, sizeof(url), "https://127.0.0.1:%d", tls.port);
    conf.ca_file = tls_cert;
    c = sr_client_new(&conf, &err);
    ck_assert_msg(sr_register(c, "tls.public.t-value", V1, &id, &err) == 0, "%s", err.msg);
    sr_client_free(c);

    conf.ca_file = NULL; /* the system store does not know it */
    c = sr_client_new(&conf, &err);
    ck_assert_int_eq(sr_register(c, "tls.public.t-value", V1, &id, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
    ck_assert_msg(strstr(err.msg, url), "%s", err.msg);
    ck_assert_uint_eq(sr_requests(c), 1); /* a certificate problem is final */
    sr_client_free(c);

    conf.tls_insecure = true;
    c = sr_client_new(&conf, &err);
    ck_assert_msg(sr_register(c, "tls.public.t-value", V1, &id, &err) == 0, "%s", err.msg);
    sr_client_free(c);
}
END_TEST

/* The double's own tests (Avro resolution cases, REST errors), so ctest runs them. */
START_TEST(double_self_test)
{
    if (!have_python)
        return; /* skipped: reported once by suite_setup */
    ck_assert_msg(system("python3 " CDC_FIXTURES "/../doubles/test_schema_registry.py "
                         ">/dev/null 2>&1") == 0,
                  "python3 test/doubles/test_schema_registry.py failed; run it to see why");
}
END_TEST

static const struct {
    const char *url;
    const char *msg;
} bad_urls[] = {
    {"", "schema registry URL is empty"},
    {" , ,", "schema registry URL is empty"},
    {"ftp://x:y@host", "URL ftp://***@host: must start with http:// or https://"},
    {"localhost:8081", "must start with http://"},
};

START_TEST(bad_url_is_config_error)
{
    sr_conf    conf = {.url = bad_urls[_i].url};
    cdc_err    err = {0};
    sr_client *c = sr_client_new(&conf, &err);

    ck_assert_ptr_null(c);
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
    ck_assert_msg(strstr(err.msg, bad_urls[_i].msg), "%s", err.msg);
}
END_TEST

static Suite *
registry_suite(void)
{
    Suite *s = suite_create("registry");
    TCase *tc = tcase_create("double");
    TCase *conf = tcase_create("config");

    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, register_returns_ids);
    tcase_add_test(tc, cache_makes_no_request);
    tcase_add_test(tc, incompatible_is_409);
    tcase_add_test(tc, invalid_is_422);
    tcase_add_test(tc, unreachable_names_url_not_credentials);
    tcase_add_test(tc, retries_after_503);
    tcase_add_test(tc, timeout_then_retry);
    tcase_add_test(tc, url_list_fails_over);
    tcase_add_test(tc, basic_auth);
    tcase_add_test(tc, checked_register_reports_versions);
    tcase_add_test(tc, stop_on_incompatible_schema);
    tcase_add_test(tc, tls_verifies_the_registry);
    tcase_add_test(tc, double_self_test);
    suite_add_tcase(s, tc);
    tcase_add_loop_test(conf, bad_url_is_config_error, 0,
                        (int)(sizeof(bad_urls) / sizeof(bad_urls[0])));
    suite_add_tcase(s, conf);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(registry_suite());
    int      failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
