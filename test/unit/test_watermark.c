/*
 * Unit tests for agent/pipeline/watermark.c: the flush LSN reported to PostgreSQL.
 * Most cases are scripts of calls, each step followed by the flush LSN it
 * must leave; one compares a long pseudo-random run against a naive model.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "agent/core/cdc_log.h"
#include "agent/pipeline/watermark.h"

#define END CDC_SEQ_END

typedef enum step_op {
    S_START,        /* set_start(a) */
    S_BEGIN,        /* begin(a) must return 0 */
    S_BEGIN_FAIL,   /* begin(a) must return -1 */
    S_COMMIT,       /* commit(a, b) */
    S_PROG,         /* dest_progress(dest, {a, b}) */
    S_IDLE          /* idle_advance(a) */
} step_op;

typedef struct step {
    step_op  op;
    int      dest;
    uint64_t a, b;
    uint64_t flush;     /* flush LSN expected after the step */
} step;

/* Two destinations, d1 slower than d0: the flush LSN follows the minimum. */
static const step two_speeds[] = {
    { S_BEGIN, 0, 100, 0, 0 },
    { S_PROG, 0, 100, 0, 0 },           /* first event durable in d0 only */
    { S_COMMIT, 0, 100, 110, 0 },
    { S_PROG, 0, 100, END, 0 },
    { S_PROG, 1, 100, 5, 0 },
    { S_BEGIN, 0, 200, 0, 0 },
    { S_COMMIT, 0, 200, 210, 0 },
    { S_PROG, 0, 200, END, 0 },
    { S_PROG, 1, 100, END, 110 },       /* d1 finishes T1: min is T1 */
    { S_BEGIN, 0, 300, 0, 110 },
    { S_COMMIT, 0, 300, 310, 110 },
    { S_PROG, 0, 300, END, 110 },
    { S_PROG, 1, 300, END, 310 },       /* d1 jumps over T2 and T3 at once */
};

/* Durable everywhere before the loop has committed: commit releases it. */
static const step durable_before_commit[] = {
    { S_BEGIN, 0, 100, 0, 0 },
    { S_PROG, 0, 100, END, 0 },
    { S_PROG, 1, 100, END, 0 },
    { S_COMMIT, 0, 100, 110, 110 },
};

/* Transactions with no events are ring entries like any other. */
static const step zero_events[] = {
    { S_BEGIN, 0, 100, 0, 0 },
    { S_COMMIT, 0, 100, 110, 0 },
    { S_BEGIN, 0, 200, 0, 0 },
    { S_COMMIT, 0, 200, 210, 0 },
    { S_PROG, 0, 100, END, 0 },
    { S_PROG, 1, 100, 7, 0 },           /* (100, 7) < (100, END) */
    { S_PROG, 1, 100, END, 110 },
    { S_PROG, 0, 250, 0, 110 },         /* a later position covers T2 in d0 */
    { S_PROG, 1, 200, END, 210 },
};

/* Resume: destinations that already had a transaction report past it. */
static const step resume_skip[] = {
    { S_START, 0, 500, 0, 500 },
    { S_PROG, 0, 700, END, 500 },       /* d0 already has everything up to 700 */
    { S_BEGIN, 0, 600, 0, 500 },
    { S_COMMIT, 0, 600, 610, 500 },     /* d1 has not said anything yet */
    { S_PROG, 1, 600, END, 610 },       /* d1 skipped it too */
    { S_BEGIN, 0, 700, 0, 610 },
    { S_COMMIT, 0, 700, 710, 610 },
    { S_PROG, 1, 700, END, 710 },
    { S_BEGIN, 0, 800, 0, 710 },
    { S_COMMIT, 0, 800, 810, 710 },
    { S_PROG, 1, 800, END, 710 },       /* d0 is the one behind now */
    { S_PROG, 0, 800, END, 810 },
};

/* The keepalive's WAL end is confirmed only when nothing is in flight. */
static const step idle_advance[] = {
    { S_IDLE, 0, 50, 0, 50 },
    { S_BEGIN, 0, 100, 0, 50 },
    { S_IDLE, 0, 90, 0, 50 },           /* inside a transaction: ignored */
    { S_COMMIT, 0, 100, 110, 50 },
    { S_PROG, 0, 100, END, 50 },
    { S_PROG, 1, 100, END, 110 },
    { S_IDLE, 0, 105, 0, 110 },         /* behind the flush LSN: no step back */
    { S_IDLE, 0, 150, 0, 150 },
    { S_BEGIN, 0, 200, 0, 150 },
    { S_COMMIT, 0, 200, 210, 150 },
    { S_PROG, 0, 200, END, 150 },
    { S_PROG, 1, 200, END, 210 },
};

/*
 * A keepalive while committed transactions are still in flight (the end of a
 * backlog) is kept, and confirmed the moment the last of them is durable in
 * every destination: not before, and not only at the next keepalive.
 */
static const step idle_pending[] = {
    { S_BEGIN, 0, 100, 0, 0 },
    { S_COMMIT, 0, 100, 110, 0 },
    { S_BEGIN, 0, 120, 0, 0 },
    { S_COMMIT, 0, 120, 130, 0 },
    { S_IDLE, 0, 150, 0, 0 },           /* committed, not durable */
    { S_PROG, 0, 120, END, 0 },
    { S_PROG, 1, 100, END, 110 },       /* durable up to the first only */
    { S_IDLE, 0, 140, 0, 110 },         /* an older end does not replace 150 */
    { S_PROG, 1, 120, END, 150 },       /* all durable: the server's end at once */
    { S_IDLE, 0, 160, 0, 160 },         /* idle: at once, as before */
    /* a transaction begins after the keepalive: the end waits for it too */
    { S_BEGIN, 0, 200, 0, 160 },
    { S_COMMIT, 0, 200, 210, 160 },
    { S_IDLE, 0, 220, 0, 160 },
    { S_BEGIN, 0, 230, 0, 160 },
    { S_PROG, 0, 200, END, 160 },
    { S_PROG, 1, 200, END, 210 },       /* 230 is open: 220 must wait */
    { S_IDLE, 0, 225, 0, 210 },         /* open transaction: ignored */
    { S_COMMIT, 0, 230, 240, 210 },
    { S_PROG, 0, 230, END, 210 },
    { S_PROG, 1, 230, END, 240 },       /* its own end, past the kept 220 */
};

/* Never below the slot's confirmed_flush_lsn, whatever comes in. */
static const step never_below_start[] = {
    { S_START, 0, 1000, 0, 1000 },
    { S_START, 0, 900, 0, 1000 },       /* a lower start does not move it back */
    { S_IDLE, 0, 900, 0, 1000 },
    { S_BEGIN, 0, 100, 0, 1000 },
    { S_COMMIT, 0, 100, 110, 1000 },
    { S_PROG, 0, 100, END, 1000 },
    { S_PROG, 1, 100, END, 1000 },      /* popped, but 110 < 1000 */
    { S_BEGIN, 0, 1200, 0, 1000 },
    { S_COMMIT, 0, 1200, 1210, 1000 },
    { S_PROG, 0, 1200, END, 1000 },
    { S_PROG, 1, 1200, END, 1210 },
};

/* Regressions are ignored: the durable position does not go back. */
static const step regressions[] = {
    { S_BEGIN, 0, 100, 0, 0 },
    { S_COMMIT, 0, 100, 110, 0 },
    { S_BEGIN, 0, 200, 0, 0 },
    { S_COMMIT, 0, 200, 210, 0 },
    { S_PROG, 0, 200, END, 0 },
    { S_PROG, 0, 100, 3, 0 },           /* ignored, counted */
    { S_PROG, 1, 100, END, 110 },
    { S_PROG, 1, 50, 0, 110 },          /* ignored, counted */
    { S_PROG, 1, 200, END, 210 },
};

/* Begin is strict: increasing LSNs, one open transaction at a time. */
static const step begin_strict[] = {
    { S_BEGIN_FAIL, 0, 0, 0, 0 },       /* LSN 0 is invalid */
    { S_BEGIN, 0, 100, 0, 0 },
    { S_BEGIN_FAIL, 0, 200, 0, 0 },     /* 100 is still open */
    { S_COMMIT, 0, 100, 110, 0 },
    { S_BEGIN_FAIL, 0, 100, 0, 0 },     /* not increasing */
    { S_BEGIN_FAIL, 0, 50, 0, 0 },
    { S_BEGIN, 0, 200, 0, 0 },
    { S_COMMIT, 0, 300, 310, 0 },       /* not the open one: ignored */
    { S_PROG, 0, 400, END, 0 },
    { S_PROG, 1, 400, END, 110 },       /* 200 stays in flight: flush stops at 110 */
    { S_COMMIT, 0, 200, 210, 210 },
};

/*
 * A reconnect in the middle of a transaction: the server sends it again from
 * its BEGIN.  The open transaction stays the open one (not a second entry,
 * not a failure) and its commit releases it as usual; a re-sent transaction
 * that was already committed is never begun again (capture skips it).
 */
static const step resend_open[] = {
    { S_BEGIN, 0, 100, 0, 0 },
    { S_COMMIT, 0, 100, 110, 0 },
    { S_BEGIN, 0, 200, 0, 0 },
    { S_PROG, 0, 200, 7, 0 },           /* part of it is durable in d0 */
    { S_BEGIN, 0, 200, 0, 0 },          /* the reconnect: BEGIN of 200 again */
    { S_BEGIN, 0, 200, 0, 0 },          /* and once more */
    { S_BEGIN_FAIL, 0, 300, 0, 0 },     /* another transaction while 200 is open */
    { S_PROG, 0, 200, END, 0 },
    { S_PROG, 1, 200, END, 110 },       /* 100 done, 200 not committed yet */
    { S_COMMIT, 0, 200, 210, 210 },     /* one entry: its commit releases it */
    { S_BEGIN_FAIL, 0, 200, 0, 210 },   /* committed: not open any more */
    { S_BEGIN, 0, 300, 0, 210 },
};

static const struct {
    const char *name;
    const step *steps;
    size_t      nsteps;
} scripts[] = {
#define SCRIPT(s) { #s, s, sizeof(s) / sizeof(s[0]) }
    SCRIPT(two_speeds),
    SCRIPT(durable_before_commit),
    SCRIPT(zero_events),
    SCRIPT(resume_skip),
    SCRIPT(idle_advance),
    SCRIPT(idle_pending),
    SCRIPT(never_below_start),
    SCRIPT(regressions),
    SCRIPT(begin_strict),
    SCRIPT(resend_open),
#undef SCRIPT
};

START_TEST(script)
{
    agent_wm *wm = agent_wm_new(2, 16);

    ck_assert_ptr_nonnull(wm);
    for (size_t i = 0; i < scripts[_i].nsteps; i++) {
        const step *s = &scripts[_i].steps[i];

        switch (s->op) {
        case S_START:
            agent_wm_set_start(wm, s->a);
            break;
        case S_BEGIN:
            ck_assert_msg(agent_wm_begin(wm, s->a, NULL) == 0, "%s step %zu: begin", scripts[_i].name, i);
            break;
        case S_BEGIN_FAIL: {
            cdc_err e = { 0 };

            ck_assert_msg(agent_wm_begin(wm, s->a, &e) == -1, "%s step %zu: begin should fail",
                          scripts[_i].name, i);
            /* A refusal always says why: the agent reports it as is. */
            ck_assert_msg(e.code != CDC_OK && e.msg[0] != '\0', "%s step %zu: no message",
                          scripts[_i].name, i);
            break;
        }
        case S_COMMIT:
            agent_wm_commit(wm, s->a, s->b);
            break;
        case S_PROG:
            agent_wm_dest_progress(wm, s->dest, (cdc_pos) { s->a, s->b });
            break;
        case S_IDLE:
            agent_wm_idle_advance(wm, s->a);
            break;
        }
        ck_assert_msg(agent_wm_flush_lsn(wm) == s->flush, "%s step %zu: flush %llu, want %llu",
                      scripts[_i].name, i, (unsigned long long) agent_wm_flush_lsn(wm),
                      (unsigned long long) s->flush);
    }
    agent_wm_free(wm);
}
END_TEST

START_TEST(regressions_counted)
{
    agent_wm *wm = agent_wm_new(2, 4);

    agent_wm_dest_progress(wm, 0, (cdc_pos) { 200, END });
    agent_wm_dest_progress(wm, 0, (cdc_pos) { 200, END });   /* equal: not a regression */
    ck_assert_uint_eq(agent_wm_regressions(wm), 0);
    agent_wm_dest_progress(wm, 0, (cdc_pos) { 200, 4 });
    agent_wm_dest_progress(wm, 0, (cdc_pos) { 100, END });
    ck_assert_uint_eq(agent_wm_regressions(wm), 2);
    ck_assert_uint_eq(agent_wm_dest_pos(wm, 0).lsn, 200);
    ck_assert_uint_eq(agent_wm_dest_pos(wm, 0).seq, END);
    ck_assert_uint_eq(agent_wm_dest_pos(wm, 1).lsn, 0);
    agent_wm_dest_progress(wm, 2, (cdc_pos) { 900, END });   /* no such destination */
    agent_wm_dest_progress(wm, -1, (cdc_pos) { 900, END });
    ck_assert_uint_eq(agent_wm_dest_pos(wm, 2).lsn, 0);
    agent_wm_free(wm);
}
END_TEST

START_TEST(idle_state)
{
    agent_wm *wm = agent_wm_new(1, 4);

    ck_assert(agent_wm_idle(wm));
    ck_assert_int_eq(agent_wm_begin(wm, 100, NULL), 0);
    ck_assert(!agent_wm_idle(wm));          /* open */
    agent_wm_commit(wm, 100, 110);
    ck_assert(!agent_wm_idle(wm));          /* in flight */
    agent_wm_dest_progress(wm, 0, (cdc_pos) { 100, END });
    ck_assert(agent_wm_idle(wm));
    ck_assert_uint_eq(agent_wm_inflight(wm), 0);
    agent_wm_free(wm);
}
END_TEST

START_TEST(backpressure_full)
{
    agent_wm *wm = agent_wm_new(1, 3);

    for (uint64_t lsn = 100; lsn <= 300; lsn += 100) {
        ck_assert(!agent_wm_full(wm));
        ck_assert_int_eq(agent_wm_begin(wm, lsn, NULL), 0);
        agent_wm_commit(wm, lsn, lsn + 10);
    }
    ck_assert(agent_wm_full(wm));
    ck_assert_uint_eq(agent_wm_inflight(wm), 3);
    ck_assert_int_eq(agent_wm_begin(wm, 400, NULL), -1);
    ck_assert_uint_eq(agent_wm_inflight(wm), 3);

    agent_wm_dest_progress(wm, 0, (cdc_pos) { 100, END });
    ck_assert(!agent_wm_full(wm));
    ck_assert_uint_eq(agent_wm_flush_lsn(wm), 110);
    ck_assert_int_eq(agent_wm_begin(wm, 400, NULL), 0);
    ck_assert_uint_eq(agent_wm_inflight(wm), 3);
    ck_assert(!agent_wm_full(wm));          /* open: read on to its commit */
    agent_wm_commit(wm, 400, 410);
    ck_assert(agent_wm_full(wm));
    agent_wm_dest_progress(wm, 0, (cdc_pos) { 400, END });
    ck_assert_uint_eq(agent_wm_flush_lsn(wm), 410);
    ck_assert(agent_wm_idle(wm));
    agent_wm_free(wm);
}
END_TEST

/* A window of one: the only slot holds the open transaction and must not
 * stop the reading that will commit it. */
START_TEST(backpressure_window_of_one)
{
    agent_wm *wm = agent_wm_new(1, 1);

    for (uint64_t lsn = 100; lsn <= 300; lsn += 100) {
        ck_assert(!agent_wm_full(wm));
        ck_assert_int_eq(agent_wm_begin(wm, lsn, NULL), 0);
        ck_assert(!agent_wm_full(wm));
        agent_wm_commit(wm, lsn, lsn + 10);
        ck_assert(agent_wm_full(wm));
        ck_assert_int_eq(agent_wm_begin(wm, lsn + 50, NULL), -1);
        agent_wm_dest_progress(wm, 0, (cdc_pos) { lsn, END });
        ck_assert_uint_eq(agent_wm_flush_lsn(wm), lsn + 10);
    }
    agent_wm_free(wm);
}
END_TEST

START_TEST(no_destinations)
{
    agent_wm *wm = agent_wm_new(0, 2);

    ck_assert_int_eq(agent_wm_begin(wm, 100, NULL), 0);
    ck_assert_uint_eq(agent_wm_flush_lsn(wm), 0);
    agent_wm_commit(wm, 100, 110);
    ck_assert_uint_eq(agent_wm_flush_lsn(wm), 110);
    agent_wm_free(wm);
}
END_TEST

START_TEST(bad_arguments)
{
    ck_assert_ptr_null(agent_wm_new(-1, 4));
    ck_assert_ptr_null(agent_wm_new(1, 0));
    agent_wm_free(NULL);
}
END_TEST

/*
 * 20,000 transactions, some with no events, through a window of 100 (the
 * ring grows and wraps many times) and three destinations acknowledging at
 * different paces, in bursts.  After every call the flush LSN must equal a
 * naive model's: the end of the longest committed prefix durable everywhere.
 */
#define RUN_TXNS 20000
#define RUN_DESTS 3

static uint32_t
lcg(uint32_t *state)
{
    *state = *state * 1664525U + 1013904223U;
    return *state >> 8;
}

/* Advances *m over the committed prefix durable everywhere; returns the model's flush LSN. */
static uint64_t
model_flush(const uint64_t *commit, size_t ncommitted, const uint64_t *done, size_t *m)
{
    uint64_t min = UINT64_MAX;

    for (int d = 0; d < RUN_DESTS; d++)
        if (done[d] < min)
            min = done[d];
    while (*m < ncommitted && commit[*m] <= min)
        (*m)++;
    return *m > 0 ? commit[*m - 1] + 5 : 0;
}

START_TEST(random_run_matches_model)
{
    agent_wm *wm = agent_wm_new(RUN_DESTS, 100);
    uint64_t *commit = calloc(RUN_TXNS, sizeof(*commit));
    uint64_t  done[RUN_DESTS] = { 0 };      /* highest commit LSN durable per dest */
    size_t    next_ack[RUN_DESTS] = { 0 };  /* index of the next txn each dest acks */
    size_t    ncommitted = 0;
    size_t    model_popped = 0;
    uint32_t  rnd = 42;

    ck_assert_ptr_nonnull(commit);
    while (ncommitted < RUN_TXNS || agent_wm_inflight(wm) > 0) {
        if (ncommitted < RUN_TXNS && !agent_wm_full(wm) && lcg(&rnd) % 3 != 0) {
            uint64_t lsn = 100 + ncommitted * 100;

            ck_assert_int_eq(agent_wm_begin(wm, lsn, NULL), 0);
            agent_wm_commit(wm, lsn, lsn + 5);
            commit[ncommitted++] = lsn;
        } else {
            int    d = (int) (lcg(&rnd) % RUN_DESTS);
            size_t burst = 1 + lcg(&rnd) % (size_t) (3 * (d + 1));

            while (burst-- > 0 && next_ack[d] < ncommitted) {
                done[d] = commit[next_ack[d]++];
                agent_wm_dest_progress(wm, d, (cdc_pos) { done[d], END });
            }
        }
        ck_assert_uint_eq(agent_wm_flush_lsn(wm), model_flush(commit, ncommitted, done, &model_popped));
        ck_assert_uint_le(agent_wm_inflight(wm), 100);
    }
    ck_assert_uint_eq(agent_wm_flush_lsn(wm), commit[RUN_TXNS - 1] + 5);
    free(commit);
    agent_wm_free(wm);
}
END_TEST

static Suite *
watermark_suite(void)
{
    Suite *s = suite_create("watermark");
    TCase *tc;

    tc = tcase_create("scripts");
    tcase_add_loop_test(tc, script, 0, (int) (sizeof(scripts) / sizeof(scripts[0])));
    suite_add_tcase(s, tc);

    tc = tcase_create("state");
    tcase_add_test(tc, regressions_counted);
    tcase_add_test(tc, idle_state);
    tcase_add_test(tc, backpressure_full);
    tcase_add_test(tc, backpressure_window_of_one);
    tcase_add_test(tc, no_destinations);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);

    tc = tcase_create("model");
    tcase_add_test(tc, random_run_matches_model);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(watermark_suite());
    int      nfailed;

    cdc_log_set_level(CDC_LOG_OFF);     /* the ignored-commit case logs a warning */
    srunner_run_all(sr, CK_ENV);
    nfailed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
