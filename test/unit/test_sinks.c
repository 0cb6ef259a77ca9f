/*
 * Suite "sinks": the pure parts of the webhook and postgres sinks: the
 * durability ring, the Idempotency-Key, and values turned back into
 * PostgreSQL text (sinks/postgres/pg_values.h).  The backoff rule is
 * agent/core/cdc_retry.c's, tested in test_core.c.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/dest/acks.h"
#include "sinks/postgres/pg_values.h"
#include "sinks/webhook/webhook.h"

START_TEST(ring_out_of_order)
{
    dest_acks a;
    uint64_t  t[4];

    dest_acks_init(&a, (cdc_pos) { 5, 0 });
    t[0] = dest_acks_push(&a, (cdc_pos) { 10, 0 });
    t[1] = dest_acks_push(&a, (cdc_pos) { 10, 1 });
    t[2] = dest_acks_push(&a, (cdc_pos) { 10, CDC_SEQ_END });
    t[3] = dest_acks_push(&a, (cdc_pos) { 20, 0 });
    dest_acks_done(&a, t[1]);
    dest_acks_done(&a, t[3]);
    ck_assert_uint_eq(a.durable.lsn, 5);            /* t[0] still out */
    dest_acks_done(&a, t[0]);
    ck_assert_uint_eq(a.durable.lsn, 10);
    ck_assert_uint_eq(a.durable.seq, 1);            /* t[2] still out */
    dest_acks_done(&a, t[2]);
    ck_assert_uint_eq(a.durable.lsn, 20);
    ck_assert_uint_eq(dest_acks_pending(&a), 0);
    dest_acks_done(&a, t[2]);                       /* twice: harmless */
    dest_acks_free(&a);
}
END_TEST

START_TEST(ring_grows)
{
    dest_acks a;

    dest_acks_init(&a, (cdc_pos) { 0, 0 });
    for (uint64_t i = 1; i <= 1000; i++)
        dest_acks_push(&a, (cdc_pos) { i, 0 });
    for (uint64_t i = 999; i >= 1; i--)
        dest_acks_done(&a, i);
    ck_assert_uint_eq(a.durable.lsn, 0);
    dest_acks_done(&a, 0);
    ck_assert_uint_eq(a.durable.lsn, 1000);
    dest_acks_free(&a);
}
END_TEST

/* Grows while the ring has wrapped (head inside the array); next() names the coming ticket. */
START_TEST(ring_wraps_and_grows)
{
    dest_acks a;
    uint64_t  t = 0;

    dest_acks_init(&a, (cdc_pos) { 0, 0 });
    for (uint64_t i = 1; i <= 60; i++)
        dest_acks_done(&a, dest_acks_push(&a, (cdc_pos) { i, 0 }));
    for (uint64_t i = 61; i <= 300; i++) {
        ck_assert_uint_eq(dest_acks_next(&a), i - 1);
        t = dest_acks_push(&a, (cdc_pos) { i, 0 });
        ck_assert_uint_eq(t, i - 1);
    }
    for (uint64_t i = t; i > 60; i--)
        dest_acks_done(&a, i);
    ck_assert_uint_eq(a.durable.lsn, 60);
    dest_acks_done(&a, 60);
    ck_assert_uint_eq(a.durable.lsn, 300);
    ck_assert_uint_eq(dest_acks_pending(&a), 0);
    dest_acks_free(&a);
}
END_TEST

START_TEST(idempotency_key)
{
    char k[100];

    ck_assert_uint_eq(dest_webhook_idempotency_key("orders-pipe", (cdc_pos) { 0x16B3748, 3 }, k,
                                                   sizeof(k)), strlen("orders-pipe-00000000016B3748-3"));
    ck_assert_str_eq(k, "orders-pipe-00000000016B3748-3");
    dest_webhook_idempotency_key("p", (cdc_pos) { 1, 2 }, k, 8);
    ck_assert_str_eq(k, "p-00000");
}
END_TEST

static const struct {
    uint8_t     bytes[8];
    size_t      n;
    int32_t     scale;
    const char *want;
} decimals[] = {
    { { 0x04, 0xE2 }, 2, 2, "12.50" },              /* 1250 */
    { { 0xFB, 0x1E }, 2, 2, "-12.50" },             /* -1250 */
    { { 0x00 }, 1, 2, "0.00" },
    { { 0x27, 0x0F }, 2, 2, "99.99" },
    { { 0x01 }, 1, 3, "0.001" },
    { { 0xFF }, 1, 0, "-1" },
    { { 0x80 }, 1, 0, "-128" },
    { { 0x0C }, 1, -2, "1200" },
    { { 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF }, 8, 4, "922337203685477.5807" },
};

START_TEST(decimal_text)
{
    cdc_buf b = CDC_BUF_INIT;

    dest_pg_decimal_text(decimals[_i].bytes, decimals[_i].n, decimals[_i].scale, &b);
    cdc_buf_putc(&b, '\0');
    ck_assert_str_eq((char *) b.data, decimals[_i].want);
    cdc_buf_free(&b);
}
END_TEST

static const struct {
    cdc_ctype   ct;
    const char *type_name;
    cdc_value   v;
    const char *want;
} values[] = {
    { { .supported = true, .kind = CDC_CT_INT32, .sem = CDC_SEM_DATE }, "date", { .state = CDC_VAL_PRESENT, .u.i = 19844 }, "2024-05-01" },
    { { .supported = true, .kind = CDC_CT_INT32, .sem = CDC_SEM_DATE }, "date", { .state = CDC_VAL_PRESENT, .u.i = -1 }, "1969-12-31" },
    { { .supported = true, .kind = CDC_CT_INT64, .sem = CDC_SEM_MICRO_TIMESTAMP }, "timestamp without time zone",
      { .state = CDC_VAL_PRESENT, .u.i = 1714558530123456 }, "2024-05-01 10:15:30.123456" },
    { { .supported = true, .kind = CDC_CT_INT64, .sem = CDC_SEM_MICRO_TIMESTAMP }, "timestamp without time zone",
      { .state = CDC_VAL_PRESENT, .u.i = -1 }, "1969-12-31 23:59:59.999999" },
    { { .supported = true, .kind = CDC_CT_INT64, .sem = CDC_SEM_TIMESTAMP }, "timestamp(3) without time zone",
      { .state = CDC_VAL_PRESENT, .u.i = 1714558530123 }, "2024-05-01 10:15:30.123000" },
    { { .supported = true, .kind = CDC_CT_INT64, .sem = CDC_SEM_MICRO_TIME }, "time without time zone",
      { .state = CDC_VAL_PRESENT, .u.i = 36930000001 }, "10:15:30.000001" },
    { { .supported = true, .kind = CDC_CT_BOOLEAN }, "boolean", { .state = CDC_VAL_PRESENT, .u.b = true }, "true" },
    { { .supported = true, .kind = CDC_CT_BOOLEAN }, "bit(1)", { .state = CDC_VAL_PRESENT, .u.b = true }, "1" },
    { { .supported = true, .kind = CDC_CT_FLOAT64 }, "double precision", { .state = CDC_VAL_PRESENT, .u.f = 0.1 },
      "0.10000000000000001" },
    { { .supported = true, .kind = CDC_CT_FLOAT64 }, "double precision", { .state = CDC_VAL_PRESENT, .u.f = -INFINITY },
      "-Infinity" },
    { { .supported = true, .kind = CDC_CT_BYTES }, "bytea", { .state = CDC_VAL_PRESENT, .u.s = { "\x01\xff", 2, 0 } },
      "\\x01ff" },
    { { .supported = true, .kind = CDC_CT_BYTES, .sem = CDC_SEM_BITS, .length = 8 }, "bit(8)",
      { .state = CDC_VAL_PRESENT, .u.s = { "\x05", 1, 0 } }, "00000101" },
    { { .supported = true, .kind = CDC_CT_BYTES, .sem = CDC_SEM_BITS, .length = 8 }, "bit(8)",
      { .state = CDC_VAL_PRESENT, .u.s = { "", 0, 0 } }, "00000000" },
    { { .supported = true, .kind = CDC_CT_STRUCT, .sem = CDC_SEM_VARIABLE_DECIMAL }, "numeric",
      { .state = CDC_VAL_PRESENT, .u.s = { "\x30\x39", 2, 3 } }, "12.345" },
    { { .supported = true, .kind = CDC_CT_STRUCT, .sem = CDC_SEM_POINT }, "point", { .state = CDC_VAL_PRESENT, .u.pt = { 1.5, -2 } },
      "(1.5,-2)" },
    { { .supported = true, .kind = CDC_CT_STRING, .sem = CDC_SEM_JSON }, "jsonb", { .state = CDC_VAL_PRESENT, .u.s = { "{\"a\":1}", 7, 0 } },
      "{\"a\":1}" },
    { { .supported = true, .kind = CDC_CT_INT64, .sem = CDC_SEM_MICRO_DURATION }, "interval", { .state = CDC_VAL_PRESENT, .u.i = 90000000 },
      "90000000 microseconds" },
};

START_TEST(value_text)
{
    cdc_col col = { .name = "c", .type_name = (char *) values[_i].type_name,
                    .ctype = values[_i].ct };
    cdc_buf b = CDC_BUF_INIT;

    ck_assert_int_eq(dest_pg_value_text(&col, &values[_i].v, &b), 0);
    cdc_buf_putc(&b, '\0');
    ck_assert_str_eq((char *) b.data, values[_i].want);
    cdc_buf_free(&b);
}
END_TEST

START_TEST(array_text)
{
    cdc_value items[3] = { { .state = CDC_VAL_PRESENT, .u.s = { "a\"b", 3, 0 } }, { .state = CDC_VAL_NULL },
                           { .state = CDC_VAL_PRESENT, .u.s = { "c\\", 2, 0 } } };
    cdc_col   col = { .name = "tags", .type_name = "text[]",
                      .ctype = { .supported = true, .kind = CDC_CT_ARRAY, .elem_kind = CDC_CT_STRING } };
    cdc_value v = { .state = CDC_VAL_PRESENT, .u.arr = { items, 3 } };
    cdc_value unchanged = { .state = CDC_VAL_UNCHANGED };
    cdc_buf   b = CDC_BUF_INIT;

    ck_assert_int_eq(dest_pg_value_text(&col, &v, &b), 0);
    cdc_buf_putc(&b, '\0');
    ck_assert_str_eq((char *) b.data, "{\"a\\\"b\",NULL,\"c\\\\\"}");
    ck_assert_int_eq(dest_pg_value_text(&col, &unchanged, &b), -1);
    cdc_buf_free(&b);
}
END_TEST

static Suite *
sinks_suite(void)
{
    Suite *s = suite_create("sinks");
    TCase *tc = tcase_create("ring");

    tcase_add_test(tc, ring_out_of_order);
    tcase_add_test(tc, ring_grows);
    tcase_add_test(tc, ring_wraps_and_grows);
    suite_add_tcase(s, tc);
    tc = tcase_create("webhook");
    tcase_add_test(tc, idempotency_key);
    suite_add_tcase(s, tc);
    tc = tcase_create("pg_values");
    tcase_add_loop_test(tc, decimal_text, 0, (int) (sizeof(decimals) / sizeof(decimals[0])));
    tcase_add_loop_test(tc, value_text, 0, (int) (sizeof(values) / sizeof(values[0])));
    tcase_add_test(tc, array_text);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(sinks_suite());
    int      failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
