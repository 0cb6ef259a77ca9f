/*
 * Suite "core": the one clock (agent/core/cdc_clock.c), the one backoff rule
 * and its PRNG (agent/core/cdc_retry.c), and the failure state of a
 * destination (agent/core/dest/status.c).
 *   clock   monotonic units agree and never go back; wall clock is
 *           UTC since the epoch; sleeps last at least what was asked.
 *   retry   defaults, exponential growth, the cap (and overflow to it),
 *           jitter within [d/2, d], the PRNG's determinism and seeds.
 *   status  one episode of failures is reported once at its start and
 *           once at its end; fatal keeps the first cause; health and check.
 *   format  the hand-written number formats (cdc_lsn_format, cdc_buf_put_u64/i64)
 *           against snprintf, and cdc_buf's fast path against a drain.
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_lsn.h"
#include "agent/core/cdc_retry.h"
#include "agent/core/dest/status.h"

/* ---- clock ---- */

START_TEST(clock_units_agree)
{
    int64_t ns = cdc_mono_ns(), us = cdc_mono_us(), ms = cdc_mono_ms();
    double  s = cdc_mono_s();

    /* read one after the other: each later reading is at least the earlier one */
    ck_assert_int_ge(us, ns / 1000);
    ck_assert_int_ge(ms, ns / 1000000);
    ck_assert(s >= (double) ns / 1e9);
    ck_assert_int_lt(ms - ns / 1000000, 1000);
    for (int i = 0; i < 1000; i++) {
        int64_t next = cdc_mono_ns();

        ck_assert_int_ge(next, ns);
        ns = next;
    }
}
END_TEST

START_TEST(clock_wall_is_utc_epoch)
{
    int64_t before = (int64_t) time(NULL);
    int64_t ms = cdc_wall_ms(), us = cdc_wall_us();
    int64_t after = (int64_t) time(NULL);

    ck_assert_int_ge(ms / 1000, before);
    ck_assert_int_le(ms / 1000, after);
    ck_assert_int_ge(us / 1000, ms);
    ck_assert_int_lt(us / 1000 - ms, 1000);
}
END_TEST

/* The bulk clock never runs ahead of the wall clock, and reads it afresh at
   least once in every 16 calls (the other bound, a coarse tick, is timing). */
START_TEST(clock_bulk_reads_afresh)
{
    int since_fresh = 0;

    for (int i = 0; i < 200; i++) {
        int64_t before = cdc_wall_us(), b = cdc_wall_us_bulk(), after = cdc_wall_us();

        ck_assert_int_le(b, after);
        since_fresh = b >= before ? 0 : since_fresh + 1;
        ck_assert_int_lt(since_fresh, 16);
    }
}
END_TEST

START_TEST(clock_sleep_lasts)
{
    int64_t t0 = cdc_mono_ms(), t1;

    cdc_sleep_ms(30);
    t1 = cdc_mono_ms();
    ck_assert_int_ge(t1 - t0, 30);
    ck_assert_int_lt(t1 - t0, 2000);
    t0 = cdc_mono_ms();
    cdc_sleep_ms(0);
    cdc_sleep_ms(-5);
    ck_assert_int_lt(cdc_mono_ms() - t0, 20);
}
END_TEST

/* ---- retry ---- */

START_TEST(retry_defaults)
{
    cdc_retry_conf c = { 0 };

    /* initial 1000 ms, multiplier 2, cap 60000 */
    ck_assert_int_eq(cdc_retry_delay_ms(&c, 1, NULL), 1000);
    ck_assert_int_eq(cdc_retry_delay_ms(&c, 2, NULL), 2000);
    ck_assert_int_eq(cdc_retry_delay_ms(&c, 6, NULL), 32000);
    ck_assert_int_eq(cdc_retry_delay_ms(&c, 7, NULL), 60000);
    ck_assert_int_eq(cdc_retry_delay_ms(&c, 0, NULL), 1000);     /* attempt < 1 counts as 1 */
    ck_assert_int_eq(cdc_retry_delay_ms(&c, -3, NULL), 1000);
}
END_TEST

START_TEST(retry_growth_and_cap)
{
    static const struct {
        int     initial_ms, max_ms;
        double  multiplier;
        int     attempt;
        int64_t want;
    } cases[] = {
        { 100, 10000, 2.0, 1, 100 },
        { 100, 10000, 2.0, 4, 800 },
        { 100, 10000, 3.0, 3, 900 },
        { 100, 10000, 1.0, 9, 100 },        /* multiplier 1: constant */
        { 100, 10000, 0.5, 3, 400 },        /* < 1 means the default 2 */
        { 100, 500, 2.0, 4, 500 },          /* capped */
        { 100, 500, 2.0, 100000, 500 },     /* pow overflows to inf: still the cap */
        { 700, 500, 2.0, 1, 500 },          /* initial above the cap */
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cdc_retry_conf c = { .initial_ms = cases[i].initial_ms, .max_ms = cases[i].max_ms,
                             .multiplier = cases[i].multiplier };

        ck_assert_msg(cdc_retry_delay_ms(&c, cases[i].attempt, NULL) == cases[i].want,
                      "case %zu: %lld, expected %lld", i,
                      (long long) cdc_retry_delay_ms(&c, cases[i].attempt, NULL),
                      (long long) cases[i].want);
    }
}
END_TEST

START_TEST(retry_jitter_in_range)
{
    cdc_retry_conf c = { .initial_ms = 1000, .max_ms = 8000, .multiplier = 2.0, .jitter = true };
    uint64_t       rng = 42;
    int64_t        lo = INT64_MAX, hi = 0;

    for (int i = 0; i < 2000; i++) {
        int64_t d = cdc_retry_delay_ms(&c, 3, &rng);    /* d = 4000: [2000, 4000] */

        ck_assert_int_ge(d, 2000);
        ck_assert_int_le(d, 4000);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    ck_assert_int_lt(lo, 2200);     /* spread over the range, not one value */
    ck_assert_int_gt(hi, 3800);
    /* without a PRNG state, no jitter */
    ck_assert_int_eq(cdc_retry_delay_ms(&c, 3, NULL), 4000);
    /* jitter on a capped delay stays under the cap */
    for (int i = 0; i < 100; i++)
        ck_assert_int_le(cdc_retry_delay_ms(&c, 50, &rng), 8000);
}
END_TEST

START_TEST(rng_deterministic_and_seeded)
{
    uint64_t a = 7, b = 7, z = 0;
    uint64_t s1 = cdc_rng_seed(), s2 = cdc_rng_seed();

    for (int i = 0; i < 100; i++)
        ck_assert(cdc_rng_next(&a) == cdc_rng_next(&b));
    ck_assert(a != 7);
    ck_assert(cdc_rng_next(&z) != 0);   /* a zero state is replaced */
    ck_assert(z != 0);
    ck_assert(s1 != 0 && s2 != 0);
    ck_assert(s1 != s2);                /* two calls, two seeds */
}
END_TEST

/* ---- dest_status ---- */

START_TEST(status_episode)
{
    dest_status s;
    cdc_health  h = { 0 };
    cdc_err     err = { 0 };

    dest_status_init(&s, "webhook sink 'orders'");
    ck_assert(!dest_status_ok(&s));                  /* nothing to recover from */
    dest_status_health(&s, &h);
    ck_assert_int_eq(h.state, CDC_DEST_OK);
    ck_assert_int_eq(dest_status_check(&s, &err), 0);

    ck_assert(dest_status_failing(&s, "HTTP %d", 503));     /* starts the episode */
    ck_assert(!dest_status_failing(&s, "HTTP %d", 502));    /* same episode */
    ck_assert_str_eq(s.lasterr, "HTTP 502");
    dest_status_health(&s, &h);
    ck_assert_int_eq(h.state, CDC_DEST_DEGRADED);
    ck_assert_str_eq(h.detail, "webhook sink 'orders': HTTP 502");
    ck_assert_int_eq(dest_status_check(&s, &err), 0);       /* failing is not fatal */

    ck_assert(dest_status_ok(&s));                   /* ends it */
    ck_assert(!dest_status_ok(&s));
    h = (cdc_health) { 0 };
    dest_status_health(&s, &h);
    ck_assert_int_eq(h.state, CDC_DEST_OK);
    ck_assert_str_eq(h.detail, "");
    ck_assert(dest_status_failing(&s, "again"));     /* a new episode */
}
END_TEST

START_TEST(status_fatal)
{
    dest_status s;
    cdc_health  h = { 0 };
    cdc_err     err = { 0 };

    dest_status_init(&s, "postgres sink 'replica'");
    dest_status_failing(&s, "connection refused");
    ck_assert(dest_status_fatal(&s, "table %s: permission denied", "public.t"));
    ck_assert(!dest_status_fatal(&s, "a later cause"));      /* the first cause stays */
    ck_assert_str_eq(s.lasterr, "table public.t: permission denied");
    dest_status_health(&s, &h);
    ck_assert_int_eq(h.state, CDC_DEST_ERROR);
    ck_assert_str_eq(h.detail, "postgres sink 'replica': table public.t: permission denied");
    ck_assert_int_eq(dest_status_check(&s, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_DEST);
    ck_assert_str_eq(err.msg, "table public.t: permission denied");

    /* no label: the detail still reads */
    dest_status_init(&s, NULL);
    dest_status_fatal(&s, "gone");
    dest_status_health(&s, &h);
    ck_assert_str_eq(h.detail, ": gone");
}
END_TEST

/* ---- format ---- */

static const uint64_t fmt_cases[] = {
    0, 1, 9, 10, 99, 100, 101, 999, 1000, 65535, 0xFFFFFFFFu, 0x100000000ull, 0x10000000Full,
    0x16B3748ull, 0xAB00000000CDull, 1234567890123456789ull, 9999999999999999999ull,
    (uint64_t) INT64_MAX, (uint64_t) INT64_MAX + 1, UINT64_MAX,
};

START_TEST(lsn_format_as_printf)
{
    for (size_t i = 0; i < sizeof(fmt_cases) / sizeof(fmt_cases[0]); i++) {
        uint64_t v = fmt_cases[i];
        char     got[CDC_LSN_STRLEN], want[CDC_LSN_STRLEN];

        snprintf(want, sizeof(want), "%X/%X", (unsigned) (v >> 32), (unsigned) v);
        ck_assert_str_eq(cdc_lsn_format(v, got), want);
    }
}
END_TEST

START_TEST(buf_numbers_as_printf)
{
    cdc_buf b = CDC_BUF_INIT;
    char    want[8192];
    size_t  w = 0;

    /* three passes (there was a memo of recent conversions once) */
    for (size_t i = 0; i < 3 * sizeof(fmt_cases) / sizeof(fmt_cases[0]); i++) {
        uint64_t v = fmt_cases[i % (sizeof(fmt_cases) / sizeof(fmt_cases[0]))];

        cdc_buf_put_u64(&b, v);
        cdc_buf_putc(&b, ' ');
        cdc_buf_put_i64(&b, (int64_t) v);
        cdc_buf_putc(&b, ' ');
        w += (size_t) snprintf(want + w, sizeof(want) - w, "%" PRIu64 " %" PRId64 " ", v,
                               (int64_t) v);
    }
    ck_assert_str_eq(cdc_buf_str(&b), want);
    cdc_buf_free(&b);
}
END_TEST

/* Every power of ten and its neighbours, a stride through 0..10^9 and the
   top of the range, each at every offset of a buffer that is nearly full
   (the fast path writes 24 bytes at once; the slow one grows or drains). */
static void
check_u64(cdc_buf *b, uint64_t v)
{
    char want[32];

    snprintf(want, sizeof(want), "%" PRIu64, v);
    cdc_buf_reset(b);
    cdc_buf_put_u64(b, v);
    ck_assert_str_eq(cdc_buf_str(b), want);
}

START_TEST(buf_u64_edges)
{
    cdc_buf  b = CDC_BUF_INIT;
    uint64_t p = 1;

    for (int i = 0; i < 20; i++, p *= 10) {
        check_u64(&b, p - 1);
        check_u64(&b, p);
        check_u64(&b, p + 1);
        check_u64(&b, p + p / 2);         /* 15...0 */
    }
    for (uint64_t v = 0; v < 1000000000; v += 9973)
        check_u64(&b, v);
    for (uint64_t v = UINT64_MAX - 100000; v != 0; v++)
        check_u64(&b, v);
    check_u64(&b, (uint64_t) 1 << 32);
    cdc_buf_free(&b);
}
END_TEST

START_TEST(buf_u64_at_every_offset)
{
    static const uint64_t vals[] = { 0, 9, 10, 99, 100, (uint64_t) 1 << 32, 12345678,
                                     123456789, 1234567890123456ull, 12345678901234567ull,
                                     UINT64_MAX };

    for (size_t k = 0; k < sizeof(vals) / sizeof(vals[0]); k++) {
        for (size_t off = 0; off < 300; off++) {
            cdc_buf b = CDC_BUF_INIT;
            char    want[400], pad[300];

            memset(pad, 'x', off);
            cdc_buf_put(&b, pad, off);
            cdc_buf_put_u64(&b, vals[k]);
            cdc_buf_putc(&b, '.');
            snprintf(want, sizeof(want), "%.*s%" PRIu64 ".", (int) off, pad, vals[k]);
            ck_assert_str_eq(cdc_buf_str(&b), want);
            ck_assert_uint_eq(b.len, strlen(want));
            cdc_buf_free(&b);
        }
    }
}
END_TEST

static cdc_buf drained;

static int
drain_to(void *arg, const uint8_t *p, size_t n)
{
    (void) arg;
    ck_assert_uint_le(n, 64);   /* never more than `at` in one piece, but for a large put */
    cdc_buf_put(&drained, p, n);
    return 0;
}

START_TEST(buf_fast_path_respects_drain)
{
    cdc_buf b = CDC_BUF_INIT;
    char    want[2048];
    size_t  w = 0;

    cdc_buf_set_drain(&b, drain_to, NULL, 64);
    for (int i = 0; i < 300; i++) {
        cdc_buf_putc(&b, 'a' + i % 26);
        cdc_buf_put(&b, "xyz", 3);
        ck_assert_uint_le(b.len, 64);
        w += (size_t) snprintf(want + w, sizeof(want) - w, "%cxyz", 'a' + i % 26);
    }
    ck_assert(drain_to(NULL, b.data, b.len) == 0);
    ck_assert_str_eq(cdc_buf_str(&drained), want);
    cdc_buf_free(&b);
    cdc_buf_free(&drained);
}
END_TEST

static Suite *
core_suite(void)
{
    Suite *s = suite_create("core");
    TCase *clock = tcase_create("clock");
    TCase *retry = tcase_create("retry");
    TCase *status = tcase_create("status");
    TCase *format = tcase_create("format");

    tcase_add_test(clock, clock_units_agree);
    tcase_add_test(clock, clock_wall_is_utc_epoch);
    tcase_add_test(clock, clock_sleep_lasts);
    tcase_add_test(clock, clock_bulk_reads_afresh);
    suite_add_tcase(s, clock);
    tcase_add_test(retry, retry_defaults);
    tcase_add_test(retry, retry_growth_and_cap);
    tcase_add_test(retry, retry_jitter_in_range);
    tcase_add_test(retry, rng_deterministic_and_seeded);
    suite_add_tcase(s, retry);
    tcase_add_test(status, status_episode);
    tcase_add_test(status, status_fatal);
    suite_add_tcase(s, status);
    tcase_add_test(format, lsn_format_as_printf);
    tcase_add_test(format, buf_numbers_as_printf);
    tcase_add_test(format, buf_fast_path_respects_drain);
    tcase_add_test(format, buf_u64_edges);
    tcase_add_test(format, buf_u64_at_every_offset);
    suite_add_tcase(s, format);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(core_suite());
    int      nfailed;

    srunner_run_all(sr, CK_ENV);
    nfailed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
