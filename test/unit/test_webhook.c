/*
 * Suite "webhook": the webhook sink's replay op (`cdcagent dlq replay`)
 * against a local libmicrohttpd receiver: the stored body byte for byte,
 * the sink's method, headers and auth, the Idempotency-Key of the letter's
 * position; 0 only on a 2xx; otherwise a message with the status and the
 * first line of the body, or the transport error, never the URL.
 */
#include <check.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/core/cdc_buf.h"
#include "sinks/webhook/webhook.h"
#include "test/lib/suite_main.h"

static struct MHD_Daemon *daemon_;
static int                port;
static cdc_buf            got;      /* method|path|Idempotency-Key|Authorization|X-Team|CT|body */

static const char *
hdr(struct MHD_Connection *conn, const char *name)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);

    return v ? v : "-";
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *data, size_t *data_size, void **state)
{
    struct MHD_Response *r;
    enum MHD_Result      ret;
    bool                 reject = strcmp(url, "/reject") == 0;
    const char          *body = reject ? "bad row\nmore detail" : "ok";

    (void) cls;
    (void) version;
    if (*state == NULL) {
        *state = &got;
        cdc_buf_reset(&got);
        cdc_buf_printf(&got, "%s|%s|%s|%s|%s|%s|", method, url, hdr(conn, "Idempotency-Key"),
                       hdr(conn, "Authorization"), hdr(conn, "X-Team"),
                       hdr(conn, "Content-Type"));
        return MHD_YES;
    }
    if (*data_size > 0) {
        cdc_buf_put(&got, data, *data_size);
        *data_size = 0;
        return MHD_YES;
    }
    r = MHD_create_response_from_buffer(strlen(body), (void *) body, MHD_RESPMEM_MUST_COPY);
    ret = MHD_queue_response(conn, reject ? 400 : 200, r);
    MHD_destroy_response(r);
    return ret;
}

static void
setup(void)
{
    daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, NULL,
                               MHD_OPTION_END);
    ck_assert_ptr_nonnull(daemon_);
    port = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT)->port;
}

static void
teardown(void)
{
    MHD_stop_daemon(daemon_);
    cdc_buf_free(&got);
}

/* Opens a webhook sink for url (PUT, one header, a token) as pipeline "pipe". */
static void
open_sink(cdc_dest *d, const char *url)
{
    static const dest_webhook_header h[] = { { "X-Team", "blue" } };
    dest_webhook_conf                c = { .url = url, .method = "PUT", .headers = h,
                                           .nheaders = 1, .auth_token = "tok-123",
                                           .timeout_ms = 3000 };
    cdc_dest_env                     env = { .pipeline_id = "pipe", .topic_prefix = "db" };
    cdc_err                          err = { 0 };

    *d = (cdc_dest) { .ops = &dest_webhook_ops, .id = "hook" };
    ck_assert_msg(d->ops->open(d, &c, &env, &err) == 0, "%s", err.msg);
}

static const char rec[] = "{\"key\":{\"id\":1},\"value\":{\"s\":\"caf\xc3\xa9\"},\"n\":\"\\u0000\"}";

START_TEST(replay_sends_the_letter_as_the_sink_did)
{
    char            url[200], want[512];
    cdc_dest        d;
    cdc_err         err = { 0 };
    cdc_dest_letter l = { .record = rec, .len = sizeof(rec) - 1,
                          .pos = { 0x16B3748, 3 }, .topic = "db.public.t" };

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/in", port);
    open_sink(&d, url);
    ck_assert_msg(d.ops->replay(&d, &l, &err) == 0, "%s", err.msg);
    snprintf(want, sizeof(want), "PUT|/in|pipe-00000000016B3748-3|Bearer tok-123|blue|"
             "application/json|%s", rec);
    ck_assert_str_eq(cdc_buf_str(&got), want);
    d.ops->close(&d);
}
END_TEST

/* Refused and unreachable: the message says why, never the URL's credentials or query. */
static const struct {
    const char *path;       /* after http://user:s3cret@127.0.0.1:<port> */
    bool        dead;       /* port 1 (refuses on loopback) instead of the receiver's */
    const char *msg;        /* what err.msg starts with */
} failures[] = {
    { "/reject?token=qtok", false, "receiver answered HTTP 400: bad row" },
    { "/x?token=qtok", true, "webhook request failed: " },
};

START_TEST(replay_failure_names_why_not_the_url)
{
    char            url[200];
    cdc_dest        d;
    cdc_err         err = { 0 };
    cdc_dest_letter l = { .record = rec, .len = sizeof(rec) - 1, .pos = { 1, 2 } };

    snprintf(url, sizeof(url), "http://user:s3cret@127.0.0.1:%d%s",
             failures[_i].dead ? 1 : port, failures[_i].path);
    open_sink(&d, url);
    ck_assert_int_eq(d.ops->replay(&d, &l, &err), -1);
    ck_assert_msg(strncmp(err.msg, failures[_i].msg, strlen(failures[_i].msg)) == 0, "%s",
                  err.msg);
    if (!failures[_i].dead)
        ck_assert_str_eq(err.msg, failures[_i].msg);    /* the first line only */
    ck_assert_ptr_null(strstr(err.msg, "s3cret"));
    ck_assert_ptr_null(strstr(err.msg, "qtok"));
    ck_assert_ptr_null(strstr(err.msg, "user"));
    d.ops->close(&d);
}
END_TEST

static Suite *
webhook_suite(void)
{
    Suite   *s = suite_create("webhook");
    TCase   *tc = tcase_create("replay");

    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, replay_sends_the_letter_as_the_sink_did);
    tcase_add_loop_test(tc, replay_failure_names_why_not_the_url, 0,
                        (int) (sizeof(failures) / sizeof(failures[0])));
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return suite_main(webhook_suite(), true);
}
