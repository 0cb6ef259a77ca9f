/*
 * Suite "batch": the batching kit (agent/core/dest/batch.c): a batch closes
 * by count, by bytes or by age, whichever comes first; zero limits are none.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "agent/core/dest/batch.h"
#include "test/lib/suite_main.h"

START_TEST(closes_by_count)
{
    dest_batch b;

    dest_batch_init(&b, &(dest_batch_limits) { .max_count = 3, .max_age_ms = 100 });
    ck_assert(dest_batch_fits(&b, 10));
    dest_batch_add(&b, 10, 1000);
    dest_batch_add(&b, 10, 1001);
    ck_assert(!dest_batch_full(&b));
    ck_assert(dest_batch_fits(&b, 10));
    dest_batch_add(&b, 10, 1002);
    ck_assert(dest_batch_full(&b));
    ck_assert(!dest_batch_fits(&b, 1));
    ck_assert_int_eq(b.count, 3);
    ck_assert_uint_eq(b.bytes, 30);
    dest_batch_reset(&b);
    ck_assert_int_eq(b.count, 0);
    ck_assert(!dest_batch_full(&b));
}
END_TEST

/* Pub/Sub-like: 1000 messages or 10 MB; Kinesis-like: 500 records or 5 MB. */
START_TEST(closes_by_bytes)
{
    dest_batch b;

    dest_batch_init(&b, &(dest_batch_limits) { .max_count = 500, .max_bytes = 5u << 20 });
    dest_batch_add(&b, 3u << 20, 0);
    ck_assert(!dest_batch_full(&b));
    ck_assert(!dest_batch_fits(&b, 3u << 20));     /* would pass 5 MB: close first */
    ck_assert(dest_batch_fits(&b, 2u << 20));      /* exactly 5 MB fits */
    dest_batch_add(&b, 2u << 20, 0);
    ck_assert(dest_batch_full(&b));
    dest_batch_reset(&b);
    ck_assert(dest_batch_fits(&b, 6u << 20));      /* an empty batch takes any item */
}
END_TEST

START_TEST(closes_by_age)
{
    dest_batch b;

    dest_batch_init(&b, &(dest_batch_limits) { .max_count = 10, .max_age_ms = 100 });
    ck_assert(!dest_batch_expired(&b, 1000000));    /* empty: no age */
    ck_assert_int_eq(dest_batch_due_ms(&b), INT64_MAX);
    dest_batch_add(&b, 1, 5000);
    dest_batch_add(&b, 1, 5090);                    /* a later item does not restart it */
    ck_assert_int_eq(dest_batch_due_ms(&b), 5100);
    ck_assert(!dest_batch_expired(&b, 5099));
    ck_assert(dest_batch_expired(&b, 5100));
    ck_assert(!dest_batch_full(&b));
}
END_TEST

START_TEST(zero_limits_are_none)
{
    dest_batch b;

    dest_batch_init(&b, &(dest_batch_limits) { 0 });
    for (int i = 0; i < 10000; i++) {
        ck_assert(dest_batch_fits(&b, 1000));
        dest_batch_add(&b, 1000, i);
    }
    ck_assert(!dest_batch_full(&b));
    ck_assert(!dest_batch_expired(&b, INT64_MAX / 2));
    ck_assert_int_eq(dest_batch_due_ms(&b), INT64_MAX);
}
END_TEST

/* The webhook's batch_size 1: every event is a batch of its own. */
START_TEST(size_one_closes_at_once)
{
    dest_batch b;

    dest_batch_init(&b, &(dest_batch_limits) { .max_count = 1, .max_age_ms = 100 });
    dest_batch_add(&b, 50, 0);
    ck_assert(dest_batch_full(&b));
}
END_TEST

static Suite *
batch_suite(void)
{
    Suite   *s = suite_create("batch");
    TCase   *tc = tcase_create("limits");

    tcase_add_test(tc, closes_by_count);
    tcase_add_test(tc, closes_by_bytes);
    tcase_add_test(tc, closes_by_age);
    tcase_add_test(tc, zero_limits_are_none);
    tcase_add_test(tc, size_one_closes_at_once);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return suite_main(batch_suite(), false);
}
