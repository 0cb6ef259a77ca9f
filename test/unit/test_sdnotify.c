/*
 * Unit tests for agent/ops/sdnotify.c: NOTIFY_SOCKET address parsing (path,
 * abstract "@name", the values it refuses) and real datagrams received on
 * a socket of the test's own: READY=1, STATUS flattening, STOPPING=1, the
 * watchdog's pacing and WATCHDOG_PID, and nothing at all without
 * NOTIFY_SOCKET.
 */
#include <check.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/core/cdc_log.h"
#include "agent/ops/sdnotify.h"

static int  rx = -1;
static char rx_path[108];

/* A datagram socket for the agent to notify: abstract when @p abstract, else a file. */
static void
listen_on(bool abstract)
{
    struct sockaddr_un a;
    socklen_t          len;
    struct timeval     tv = { 0, 300000 };
    char               value[120];
    cdc_err            err = { 0 };

    if (abstract)
        snprintf(value, sizeof(value), "@cdcagent-test-sd-%ld", (long) getpid());
    else {
        snprintf(rx_path, sizeof(rx_path), "/tmp/cdcagent-test-sd-%ld.sock", (long) getpid());
        unlink(rx_path);
        snprintf(value, sizeof(value), "%s", rx_path);
    }
    ck_assert_int_eq(agent_sd_address(value, &a, &len, &err), 0);
    rx = socket(AF_UNIX, SOCK_DGRAM, 0);
    ck_assert_int_ge(rx, 0);
    ck_assert_msg(bind(rx, (struct sockaddr *) &a, len) == 0, "bind %s: %s", value, strerror(errno));
    setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setenv("NOTIFY_SOCKET", value, 1);
    agent_sd_reset();
}

/* The next datagram ("" after 300 ms without one). */
static const char *
next_msg(void)
{
    static char buf[600];
    ssize_t     n = recv(rx, buf, sizeof(buf) - 1, 0);

    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void
setup(void)
{
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    rx_path[0] = '\0';
    agent_sd_reset();
}

static void
teardown(void)
{
    if (rx >= 0)
        close(rx);
    rx = -1;
    if (rx_path[0])
        unlink(rx_path);
    agent_sd_reset();
}

START_TEST(address_forms)
{
    struct sockaddr_un a;
    socklen_t          len;
    cdc_err            err = { 0 };
    char               longname[200];

    ck_assert_int_eq(agent_sd_address("/run/systemd/notify", &a, &len, &err), 0);
    ck_assert_str_eq(a.sun_path, "/run/systemd/notify");
    ck_assert_uint_eq(len, offsetof(struct sockaddr_un, sun_path) + strlen("/run/systemd/notify") + 1);

    ck_assert_int_eq(agent_sd_address("@sd-notify/x", &a, &len, &err), 0);
    ck_assert_int_eq(a.sun_path[0], '\0');
    ck_assert(memcmp(a.sun_path + 1, "sd-notify/x", 11) == 0);
    /* No trailing NUL for an abstract name: it would become part of the name. */
    ck_assert_uint_eq(len, offsetof(struct sockaddr_un, sun_path) + 12);

    ck_assert_int_eq(agent_sd_address("", &a, &len, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
    ck_assert_int_eq(agent_sd_address("run/notify", &a, &len, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "run/notify"));
    ck_assert_int_eq(agent_sd_address("vsock:2:1234", &a, &len, &err), -1);
    memset(longname, 'x', sizeof(longname));
    longname[0] = '/';
    longname[108] = '\0';   /* 108 bytes plus the NUL do not fit in sun_path[108] */
    ck_assert_int_eq(agent_sd_address(longname, &a, &len, &err), -1);
    longname[107] = '\0';
    ck_assert_int_eq(agent_sd_address(longname, &a, &len, &err), 0);
}
END_TEST

START_TEST(unset_is_silent)
{
    ck_assert_int_eq(agent_sd_notify("READY=1"), 0);
    agent_sd_ready("streaming");
    agent_sd_watchdog();
    ck_assert_uint_eq(agent_sd_watchdog_usec(), 0);
}
END_TEST

START_TEST(ready_status_stopping_abstract)
{
    listen_on(true);
    agent_sd_ready("streaming from slot s1");
    ck_assert_str_eq(next_msg(), "READY=1\nSTATUS=streaming from slot s1");
    agent_sd_status("reconnecting: %s", "server closed\nthe connection");
    ck_assert_str_eq(next_msg(), "STATUS=reconnecting: server closed the connection");
    agent_sd_stopping("draining");
    ck_assert_str_eq(next_msg(), "STOPPING=1\nSTATUS=draining");
    ck_assert_str_eq(next_msg(), "");
}
END_TEST

START_TEST(ready_on_path_socket)
{
    listen_on(false);
    ck_assert_int_eq(agent_sd_notify("READY=1"), 1);
    ck_assert_str_eq(next_msg(), "READY=1");
}
END_TEST

START_TEST(gone_socket_fails_softly)
{
    setenv("NOTIFY_SOCKET", "@cdcagent-test-sd-nobody-listens", 1);
    agent_sd_reset();
    ck_assert_int_eq(agent_sd_notify("READY=1"), -1);
    ck_assert_int_eq(agent_sd_notify("READY=1"), -1);
}
END_TEST

START_TEST(watchdog_paced)
{
    setenv("WATCHDOG_USEC", "200000", 1);     /* every 100 ms */
    listen_on(true);
    ck_assert_uint_eq(agent_sd_watchdog_usec(), 200000);
    agent_sd_watchdog();
    ck_assert_str_eq(next_msg(), "WATCHDOG=1");
    agent_sd_watchdog();                        /* too soon: nothing */
    agent_sd_status("x");
    ck_assert_str_eq(next_msg(), "STATUS=x");
    usleep(120000);
    agent_sd_watchdog();
    ck_assert_str_eq(next_msg(), "WATCHDOG=1");
    /* Sleeping 0.45 s feeds it about every 100 ms. */
    agent_sd_sleep(0.45, NULL);
    for (int i = 0; i < 3; i++)
        ck_assert_str_eq(next_msg(), "WATCHDOG=1");
}
END_TEST

START_TEST(watchdog_for_another_pid)
{
    char pid[32];

    snprintf(pid, sizeof(pid), "%ld", (long) getpid() + 1);
    setenv("WATCHDOG_USEC", "200000", 1);
    setenv("WATCHDOG_PID", pid, 1);
    listen_on(true);
    ck_assert_uint_eq(agent_sd_watchdog_usec(), 0);
    agent_sd_watchdog();
    ck_assert_str_eq(next_msg(), "");
}
END_TEST

START_TEST(sleep_stops_early)
{
    volatile sig_atomic_t stop = 1;
    struct timeval        t0, t1;

    gettimeofday(&t0, NULL);
    agent_sd_sleep(5, &stop);
    gettimeofday(&t1, NULL);
    ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 2);
}
END_TEST

static Suite *
sd_suite(void)
{
    Suite *s = suite_create("sdnotify");
    TCase *tc = tcase_create("notify");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, address_forms);
    tcase_add_test(tc, unset_is_silent);
    tcase_add_test(tc, ready_status_stopping_abstract);
    tcase_add_test(tc, ready_on_path_socket);
    tcase_add_test(tc, gone_socket_fails_softly);
    tcase_add_test(tc, watchdog_paced);
    tcase_add_test(tc, watchdog_for_another_pid);
    tcase_add_test(tc, sleep_stops_early);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(sd_suite());
    int      nfailed;

    cdc_log_set_level(CDC_LOG_OFF);
    srunner_run_all(sr, CK_ENV);
    nfailed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
