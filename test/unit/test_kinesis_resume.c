/*
 * Suite "kinesis_resume": the pure parts of the Kinesis transport's restart
 * (transports/kinesis/kinesis_resume.c, kinesis_ckpt.c): a record's identity
 * from its Debezium value (ops, key changes, tombstones, truncates, logical
 * messages, snapshot rows, the {schema,payload} envelope, Avro, foreign
 * data), the checkpoint item's DynamoDB encoding and decoding, its
 * generations, and the numeric order of sequence numbers.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "agent/core/cdc_buf.h"
#include "test/lib/suite_main.h"
#include "transports/kinesis/kinesis_ckpt.h"
#include "transports/kinesis/kinesis_resume.h"

#define ST "cdc-public-customers"

/* A Debezium value (no schema) for op at lsn in txid; txid < 0: null. */
static const char *
val(const char *op, long lsn, long txid, bool schema)
{
    static char b[512];
    char        tx[24];

    if (txid < 0)
        snprintf(tx, sizeof(tx), "null");
    else
        snprintf(tx, sizeof(tx), "%ld", txid);
    snprintf(b, sizeof(b), "%s{\"before\":null,\"after\":{\"id\":1},\"source\":{\"version\":"
             "\"2.7.0.Final\",\"connector\":\"postgresql\",\"ts_ms\":1,\"snapshot\":\"false\","
             "\"sequence\":\"[null,\\\"%ld\\\"]\",\"txId\":%s,\"lsn\":%ld,\"xmin\":null},"
             "\"transaction\":null,\"op\":\"%s\",\"ts_ms\":12345}%s",
             schema ? "{\"schema\":{\"type\":\"struct\"},\"payload\":" : "", lsn, tx, lsn, op,
             schema ? "}" : "");
    return b;
}

static kin_ident_kind
ident(kin_ident_state *s, const char *pk, const char *data, char *out, uint64_t *lsn)
{
    return kin_ident(s, ST, pk, strlen(pk), data, data ? strlen(data) : 0, out, 1024, lsn);
}

START_TEST(identity_of_changes)
{
    kin_ident_state *s = kin_ident_state_new();
    char             a[1024], b[1024];
    uint64_t         lsn;

    /* the same event: same identity, whatever the processing time or the envelope */
    ck_assert_int_eq(ident(s, "{\"id\":1}", val("c", 1000, 7, false), a, &lsn), KIN_IDENT_OK);
    ck_assert_int_eq(lsn, 1000);
    ck_assert_int_eq(ident(s, "{\"id\":1}", val("c", 1000, 7, true), b, NULL), KIN_IDENT_OK);
    ck_assert_str_eq(a, b);
    /* another change of the transaction: its own LSN */
    ident(s, "{\"id\":1}", val("c", 1008, 7, false), b, NULL);
    ck_assert_str_ne(a, b);
    /* another transaction at the same LSN cannot happen; another txId differs anyway */
    ident(s, "{\"id\":1}", val("c", 1000, 8, false), b, NULL);
    ck_assert_str_ne(a, b);
    /* a key change: d and c at one LSN differ by op */
    ident(s, "{\"id\":1}", val("d", 2000, 9, false), a, NULL);
    ident(s, "{\"id\":2}", val("c", 2000, 9, false), b, NULL);
    ck_assert_str_ne(a, b);
    /* another stream, same LSN (one TRUNCATE of two tables) */
    ck_assert_int_eq(kin_ident(s, "cdc-public-orders", "", 0, val("t", 3000, 10, false),
                               strlen(val("t", 3000, 10, false)), b, sizeof(b), NULL),
                     KIN_IDENT_OK);
    ident(s, "", val("t", 3000, 10, false), a, NULL);
    ck_assert_str_ne(a, b);
    /* a logical message outside a transaction: txId null */
    ck_assert_int_eq(ident(s, "default", val("m", 4000, -1, false), a, &lsn), KIN_IDENT_OK);
    ck_assert_int_eq(lsn, 4000);
    kin_ident_state_free(s);
}
END_TEST

START_TEST(snapshot_rows_add_the_key)
{
    kin_ident_state *s = kin_ident_state_new();
    char             a[1024], b[1024], c[1024];

    ident(s, "{\"id\":1}", val("r", 5000, 11, false), a, NULL);
    ident(s, "{\"id\":2}", val("r", 5000, 11, false), b, NULL);
    ident(s, "{\"id\":1}", val("r", 5000, 11, true), c, NULL);
    ck_assert_str_ne(a, b);
    ck_assert_str_eq(a, c);
    kin_ident_state_free(s);
}
END_TEST

START_TEST(tombstone_takes_its_delete)
{
    kin_ident_state *s = kin_ident_state_new();
    char             d[1024], t[1024], other[1024];
    uint64_t         lsn = 0;

    /* no delete before: not identifiable */
    ck_assert_int_eq(ident(s, "{\"id\":3}", NULL, t, NULL), KIN_IDENT_FOREIGN);
    ck_assert_int_eq(ident(s, "{\"id\":3}", val("d", 6000, 12, false), d, NULL), KIN_IDENT_OK);
    ident(s, "{\"id\":4}", val("d", 6100, 12, false), other, NULL);
    ck_assert_int_eq(ident(s, "{\"id\":3}", NULL, t, &lsn), KIN_IDENT_OK);
    ck_assert_int_eq(lsn, 6000);
    ck_assert_str_ne(t, d);
    d[strlen(ST) + 1] = 'T';
    ck_assert_str_eq(t, d);
    /* used up: a second tombstone of the key has no delete */
    ck_assert_int_eq(ident(s, "{\"id\":3}", NULL, t, NULL), KIN_IDENT_FOREIGN);
    kin_ident_state_free(s);
}
END_TEST

START_TEST(avro_tx_and_foreign)
{
    kin_ident_state     *s = kin_ident_state_new();
    char                 a[1024];
    const unsigned char  avro[] = { 0, 0, 0, 0, 7, 2, 'x' };
    const char          *tx = "{\"status\":\"BEGIN\",\"id\":\"571:33597864\",\"event_count\":null}";

    ck_assert_int_eq(kin_ident(s, ST, "k", 1, avro, sizeof(avro), a, sizeof(a), NULL),
                     KIN_IDENT_AVRO);
    ck_assert_int_eq(ident(s, "k", "plain text", a, NULL), KIN_IDENT_FOREIGN);
    ck_assert_int_eq(ident(s, "k", "{\"hello\":1}", a, NULL), KIN_IDENT_FOREIGN);
    ck_assert_int_eq(ident(s, "k", "{\"op\":\"c\",\"source\":{\"lsn\":\"x\"}}", a, NULL),
                     KIN_IDENT_FOREIGN);
    ck_assert_int_eq(ident(s, "k", "{\"op\":\"c\",\"source\":{\"lsn\":null,\"txId\":null}}", a,
                           NULL), KIN_IDENT_FOREIGN);
    ck_assert_int_eq(ident(s, "k", "{\"op\":\"c\"", a, NULL), KIN_IDENT_FOREIGN);
    ck_assert_int_eq(ident(s, "k", tx, a, NULL), KIN_IDENT_OK);
    ck_assert_ptr_nonnull(strstr(a, "BEGIN"));
    kin_ident_state_free(s);
}
END_TEST

START_TEST(seqno_order)
{
    ck_assert_int_lt(kin_seqno_cmp("2", "10"), 0);
    ck_assert_int_gt(kin_seqno_cmp("49590338271490256608559692538361571095921575989136588898",
                                   "49590338271490256608559692538361571095921575989136588897"),
                     0);
    ck_assert_int_eq(kin_seqno_cmp("007", "7"), 0);
    ck_assert_int_lt(kin_seqno_cmp("9", "49590338271490256608559692538361571095921575989136588898"),
                     0);
}
END_TEST

/* PutItem's body, read back as DynamoDB returns the item: the same checkpoints. */
START_TEST(item_encode_decode)
{
    kin_ckpt_item it = { 0 }, back;
    kin_ckpt_gen  g = { .pos = { 0x16B3748, 3 }, .at_ms = 1700000000000 };
    cdc_buf       b = CDC_BUF_INIT;
    json_t       *req, *item;

    snprintf(it.stream, sizeof(it.stream), "%s", ST);
    snprintf(it.shard, sizeof(it.shard), "shardId-000000000001");
    snprintf(g.seqno, sizeof(g.seqno), "49590338271490256608559692538361571095921575989136588898");
    kin_ckpt_item_push(&it, &g, KIN_CKPT_SPACING_MS);
    g.pos.seq = UINT64_MAX;
    g.at_ms += KIN_CKPT_SPACING_MS;
    snprintf(g.seqno, sizeof(g.seqno), "49590338271490256608559692538361571095921575989136588899");
    kin_ckpt_item_push(&it, &g, KIN_CKPT_SPACING_MS);
    it.expires_s = 1700086400;
    it.w = (cdc_pos) { 0x16B3800, 7 };
    ck_assert_int_eq(it.ngen, 2);
    kin_ckpt_put_body("cdc-kinesis-checkpoints", "pipe#1", &it, &b);
    req = json_loadb((const char *) b.data, b.len, 0, NULL);
    ck_assert_ptr_nonnull(req);
    ck_assert_str_eq(json_string_value(json_object_get(req, "TableName")),
                     "cdc-kinesis-checkpoints");
    item = json_object_get(req, "Item");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(item, "pk"), "S")),
                     "pipe#1#" ST);
    ck_assert(kin_ckpt_item_decode("pipe#1", item, &back));
    ck_assert_str_eq(back.stream, ST);
    ck_assert_str_eq(back.shard, "shardId-000000000001");
    ck_assert_int_eq(back.ngen, 2);
    ck_assert_str_eq(back.gen[0].seqno, it.gen[0].seqno);
    ck_assert(back.gen[0].pos.seq == UINT64_MAX);
    ck_assert(back.gen[1].pos.lsn == 0x16B3748 && back.gen[1].pos.seq == 3);
    ck_assert_int_eq(back.gen[1].at_ms, 1700000000000);
    ck_assert_int_eq(back.expires_s, 1700086400);
    ck_assert(back.w.lsn == 0x16B3800 && back.w.seq == 7);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(req, "ConditionExpression")),
                                 "wlsn <= :w"));
    /* another pipeline's items are not ours (also one whose id is a prefix of ours) */
    ck_assert(!kin_ckpt_item_decode("pipe", item, &back));
    ck_assert(!kin_ckpt_item_decode("other", item, &back));
    json_decref(req);
    cdc_buf_free(&b);
}
END_TEST

/* Checkpoints closer than the spacing replace the newest; older ones shift, the oldest goes. */
START_TEST(generations)
{
    kin_ckpt_item it = { 0 };

    for (int i = 0; i < 10; i++) {
        kin_ckpt_gen g = { .pos = { (uint64_t) (100 + i), 0 }, .at_ms = 1000 * i };

        snprintf(g.seqno, sizeof(g.seqno), "%d", i + 1);
        kin_ckpt_item_push(&it, &g, 2500);
    }
    /* generations began at 0, 3000, 6000, 9000 ms: the newest holds i = 9 */
    ck_assert_int_eq(it.ngen, KIN_CKPT_GENS);
    ck_assert_str_eq(it.gen[0].seqno, "10");
    ck_assert_int_eq(it.gen[0].at_ms, 9000);
    ck_assert_str_eq(it.gen[1].seqno, "9");     /* the last one of the 6000 ms generation */
    ck_assert_int_eq(it.gen[1].pos.lsn, 108);
    ck_assert_str_eq(it.gen[3].seqno, "3");
}
END_TEST

static Suite *
kinesis_resume_suite(void)
{
    Suite *s = suite_create("kinesis_resume");
    TCase *tc = tcase_create("pure");

    tcase_add_test(tc, identity_of_changes);
    tcase_add_test(tc, snapshot_rows_add_the_key);
    tcase_add_test(tc, tombstone_takes_its_delete);
    tcase_add_test(tc, avro_tx_and_foreign);
    tcase_add_test(tc, seqno_order);
    tcase_add_test(tc, item_encode_decode);
    tcase_add_test(tc, generations);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return suite_main(kinesis_resume_suite(), false);
}
