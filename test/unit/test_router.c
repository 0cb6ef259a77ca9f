/*
 * Unit tests for agent/pipeline/router.c with a scripted destination: how a write
 * waits while the destination pushes back (CDC_E_QUEUE_FULL).  The wait has
 * no limit of its own, the wait hook runs while it lasts (that is where the
 * loop sends standby status updates), and a stop or a failing hook ends it
 * with a message.
 */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_log.h"
#include "agent/pipeline/router.h"

typedef struct fake {
    int full_left;      /* writes refused with QUEUE_FULL before one is taken */
    int writes, taken, flushes;
    int commits;
    cdc_rc flush_code;  /* what flush fails with; 0: CDC_E_TIMEOUT */
} fake;

static int
fake_write(cdc_dest *d, const cdc_event *ev, cdc_err *err)
{
    fake *f = d->impl;

    (void) ev;
    f->writes++;
    if (f->full_left > 0) {
        f->full_left--;
        return cdc_err_set(err, CDC_E_QUEUE_FULL, "fake: 10 events waiting");
    }
    f->taken++;
    return 0;
}

static int
fake_commit(cdc_dest *d, const cdc_txn *txn, cdc_err *err)
{
    fake *f = d->impl;

    (void) txn;
    if (f->full_left > 0) {
        f->full_left--;
        return cdc_err_set(err, CDC_E_QUEUE_FULL, "fake: 10 events waiting");
    }
    f->commits++;
    return 0;
}

static int
fake_progress(cdc_dest *d, cdc_pos *durable, cdc_err *err)
{
    (void) d;
    (void) err;
    *durable = (cdc_pos) { 0, 0 };
    return 0;
}

/* Returns at once, as if the time ran out: the test does not sleep. */
static int
fake_flush(cdc_dest *d, int timeout_ms, cdc_err *err)
{
    fake *f = d->impl;

    (void) timeout_ms;
    f->flushes++;
    if (f->flush_code)
        return cdc_err_set(err, f->flush_code, "fake: write failed for good");
    return cdc_err_set(err, CDC_E_TIMEOUT, "fake: not delivered in time");
}

static void
fake_health(cdc_dest *d, cdc_health *h)
{
    (void) d;
    h->state = CDC_DEST_OK;
}

static void
fake_close(cdc_dest *d)
{
    (void) d;
}

static const cdc_dest_ops fake_ops = {
    .kind = "fake",
    .write = fake_write,
    .commit_txn = fake_commit,
    .progress = fake_progress,
    .flush = fake_flush,
    .health = fake_health,
    .close = fake_close,
};

typedef struct hook_state {
    int calls;
    int fail_at;        /* 0: never */
    volatile sig_atomic_t *stop_at_call;
    int stop_call;
} hook_state;

static int
hook(void *arg, cdc_err *err)
{
    hook_state *h = arg;

    h->calls++;
    if (h->stop_at_call && h->calls == h->stop_call)
        *h->stop_at_call = 1;
    if (h->fail_at && h->calls == h->fail_at)
        return cdc_err_set(err, CDC_E_DEST, "hook: destination other failed for good");
    return 0;
}

typedef struct setup {
    agent_router r;
    cdc_dest     d;
    fake         f;
    hook_state   h;
    cdc_rel      rel;
    cdc_txn      txn;
    cdc_event    ev;
    volatile sig_atomic_t stop;
} setup;

static void
setup_init(setup *s, int full)
{
    memset(s, 0, sizeof(*s));
    s->f.full_left = full;
    s->d = (cdc_dest) { .ops = &fake_ops, .id = "fake", .impl = &s->f };
    s->r.dests[0] = &s->d;
    s->r.ndests = 1;
    s->r.wm = agent_wm_new(1, 4);
    s->r.stop = &s->stop;
    s->r.wait_hook = hook;
    s->r.wait_arg = &s->h;
    s->txn.commit_lsn = 100;
    s->ev.op = CDC_OP_CREATE;
    s->ev.rel = &s->rel;
    s->ev.txn = &s->txn;
    s->ev.pos = (cdc_pos) { 100, 0 };
}

/* 5,000 refusals (the old loop gave up after 1,001): the write waits them out,
 * and the hook runs once per wait. */
START_TEST(long_pushback_waits_and_calls_hook)
{
    setup   s;
    cdc_err err = { 0 };

    setup_init(&s, 5000);
    ck_assert_int_eq(agent_router_write(&s.r, &s.ev, &err), 0);
    ck_assert_int_eq(s.f.taken, 1);
    ck_assert_int_eq(s.f.writes, 5001);
    ck_assert_int_eq(s.f.flushes, 5000);
    ck_assert_int_eq(s.h.calls, 5000);
    ck_assert_uint_eq(s.r.written[0].lsn, 100);
    agent_wm_free(s.r.wm);
}
END_TEST

/* A commit that meets a full destination waits the same way. */
START_TEST(commit_waits_too)
{
    setup   s;
    cdc_err err = { 0 };

    setup_init(&s, 0);
    ck_assert_int_eq(agent_router_write(&s.r, &s.ev, &err), 0);
    s.f.full_left = 3;
    ck_assert_int_eq(agent_router_commit(&s.r, &s.txn, &err), 0);
    ck_assert_int_eq(s.h.calls, 3);
    ck_assert_int_eq(s.f.commits, 1);
    agent_wm_free(s.r.wm);
}
END_TEST

/* A hook that fails ends the wait with its own message. */
START_TEST(hook_failure_ends_wait)
{
    setup   s;
    cdc_err err = { 0 };

    setup_init(&s, 100);
    s.h.fail_at = 7;
    ck_assert_int_eq(agent_router_write(&s.r, &s.ev, &err), -1);
    ck_assert_int_eq(s.h.calls, 7);
    ck_assert_int_eq(err.code, CDC_E_DEST);
    ck_assert_str_eq(err.msg, "hook: destination other failed for good");
    ck_assert_uint_eq(s.r.written[0].lsn, 0);   /* not written: offered again later */
    agent_wm_free(s.r.wm);
}
END_TEST

/* A stop (SIGTERM) during the wait ends it, saying which destination refused. */
START_TEST(stop_ends_wait)
{
    setup   s;
    cdc_err err = { 0 };

    setup_init(&s, 100);
    s.h.stop_at_call = &s.stop;
    s.h.stop_call = 4;
    ck_assert_int_eq(agent_router_write(&s.r, &s.ev, &err), -1);
    ck_assert_int_eq(s.h.calls, 4);
    ck_assert_int_eq(err.code, CDC_E_STATE);
    ck_assert_ptr_nonnull(strstr(err.msg, "stopping while destination fake still refuses new "
                                          "events (fake: 10 events waiting)"));
    agent_wm_free(s.r.wm);
}
END_TEST

/* Events at or before what a destination was handed are skipped (the re-sent
 * part of a transaction after a reconnect); the rest is written. */
START_TEST(resent_events_skipped_by_position)
{
    setup   s;
    cdc_err err = { 0 };

    setup_init(&s, 0);
    for (uint64_t seq = 0; seq < 5; seq++) {
        s.ev.pos = (cdc_pos) { 100, seq };
        ck_assert_int_eq(agent_router_write(&s.r, &s.ev, &err), 0);
    }
    /* The reconnect: the server sends the transaction again from its first event. */
    for (uint64_t seq = 0; seq < 8; seq++) {
        s.ev.pos = (cdc_pos) { 100, seq };
        ck_assert_int_eq(agent_router_write(&s.r, &s.ev, &err), 0);
    }
    ck_assert_int_eq(s.f.taken, 8);
    ck_assert_uint_eq(s.r.skipped, 5);
    ck_assert_uint_eq(s.r.written[0].seq, 7);
    agent_wm_free(s.r.wm);
}
END_TEST

/* A flush reports the first failure that is not a timeout, whichever destination had it. */
START_TEST(flush_keeps_first_real_error)
{
    setup    s;
    cdc_dest d2;
    fake     f2 = { 0 };
    cdc_err  err = { 0 };

    setup_init(&s, 0);
    s.f.flush_code = CDC_E_DEST;
    d2 = (cdc_dest) { .ops = &fake_ops, .id = "slow", .impl = &f2 };
    s.r.dests[1] = &d2;
    s.r.ndests = 2;
    ck_assert_int_eq(agent_router_flush(&s.r, 10, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_DEST);
    ck_assert_str_eq(err.msg, "destination fake: fake: write failed for good");
    ck_assert_int_eq(f2.flushes, 1);            /* still flushed */
    /* the other order: a timeout first, then the real failure */
    s.r.dests[0] = &d2;
    s.r.dests[1] = &s.d;
    memset(&err, 0, sizeof(err));
    ck_assert_int_eq(agent_router_flush(&s.r, 10, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_DEST);
    ck_assert_str_eq(err.msg, "destination fake: fake: write failed for good");
    /* only timeouts: the first timeout */
    s.f.flush_code = 0;
    memset(&err, 0, sizeof(err));
    ck_assert_int_eq(agent_router_flush(&s.r, 10, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_TIMEOUT);
    ck_assert_str_eq(err.msg, "destination slow: fake: not delivered in time");
    agent_wm_free(s.r.wm);
}
END_TEST

static Suite *
router_suite(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("backpressure");

    tcase_add_test(tc, long_pushback_waits_and_calls_hook);
    tcase_add_test(tc, commit_waits_too);
    tcase_add_test(tc, hook_failure_ends_wait);
    tcase_add_test(tc, stop_ends_wait);
    tcase_add_test(tc, resent_events_skipped_by_position);
    tcase_add_test(tc, flush_keeps_first_real_error);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(router_suite());
    int      nfailed;

    cdc_log_set_level(CDC_LOG_OFF);
    srunner_run_all(sr, CK_ENV);
    nfailed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
