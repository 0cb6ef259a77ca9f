/*
 * Suite "txmeta": Debezium's transaction metadata as every bus renders it
 * (schemas/txmeta.c): the envelope block's counters, the
 * BEGIN/END records in JsonConverter and Avro form, and the order of
 * data_collections, which Debezium takes from a java.util.HashMap.  The
 * expected orders below were printed by OpenJDK 17 (HashMap<String, Long>,
 * keys put in the order given, keySet() joined); the whole records are
 * compared with Debezium's in test/integration/260_debezium_kafka_diff.sh.
 */
#include <avro.h>
#include <check.h>
#include <stdio.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/txmeta.h"

static cdc_rel rels[24];
static char    names[24][32], nsps[24][32];

static const cdc_rel *
rel_named(int i, const char *nsp, const char *name)
{
    snprintf(names[i], sizeof(names[i]), "%s", name);
    rels[i].nspname = (char *) nsp;
    rels[i].relname = names[i];
    return &rels[i];
}

/* Counts one insert into nsp.name per entry of tables, in order. */
static void
count_all(sch_txm *t, cdc_txn *txn, const char *const *tables, int n)
{
    for (int i = 0; i < n; i++) {
        const char *dot = strchr(tables[i], '.');
        cdc_event   ev = { .op = CDC_OP_CREATE, .txn = txn, .lsn = 100 + (uint64_t) i };

        snprintf(nsps[i], sizeof(nsps[i]), "%.*s", (int) (dot - tables[i]), tables[i]);
        ev.rel = rel_named(i, nsps[i], dot + 1);
        ev.pos = (cdc_pos) { txn->commit_lsn, (uint64_t) i };
        ck_assert_ptr_nonnull(sch_txm_count(t, &ev));
    }
}

/* The data_collections names of an END record, space-separated. */
static char *
end_order(const sch_txm *t)
{
    cdc_buf k = CDC_BUF_INIT, v = CDC_BUF_INIT;
    json_t *j, *arr;
    size_t  i;
    json_t *e;
    char   *out = calloc(1, 4096);

    sch_txm_json(&k, &v, t, true, "1:2", 0, false);
    j = json_loads((const char *) v.data, 0, NULL);
    ck_assert_ptr_nonnull(j);
    arr = json_object_get(j, "data_collections");
    json_array_foreach(arr, i, e) {
        if (i)
            strcat(out, " ");
        strcat(out, json_string_value(json_object_get(e, "data_collection")));
    }
    json_decref(j);
    cdc_buf_free(&k);
    cdc_buf_free(&v);
    return out;
}

static void
check_order(const char *const *tables, int n, const char *java)
{
    sch_txm t = { 0 };
    cdc_txn txn = { .xid = 7, .commit_lsn = 1000 };
    char   *got;

    sch_txm_enter(&t, txn.commit_lsn);
    count_all(&t, &txn, tables, n);
    got = end_order(&t);
    ck_assert_str_eq(got, java);
    free(got);
    sch_txm_free(&t);
}

START_TEST(order_is_java_hashmap_order)
{
    static const char *const two[] = { "public.full_t", "public.customers" };
    static const char *const seven[] = { "public.customers", "public.full_t", "public.every_type",
                                         "public.docs", "public.nopk", "public.trunc_t",
                                         "public.fence" };
    static const char *const utf[] = { "s1.a", "s1.b", "inventory.orders", "inventory.customers",
                                       "public.tß", "public.𝄞x" };

    check_order(two, 2, "public.customers public.full_t");
    check_order(seven, 7, "public.every_type public.customers public.docs public.fence "
                          "public.full_t public.nopk public.trunc_t");
    check_order(utf, 6, "s1.a inventory.customers s1.b inventory.orders public.tß public.𝄞x");
}
END_TEST

/* Past 12 names the table doubles; it never shrinks again (HashMap.clear keeps it). */
START_TEST(order_after_growth_and_clear)
{
    sch_txm     t = { 0 };
    cdc_txn     a = { .xid = 7, .commit_lsn = 1000 }, b = { .xid = 8, .commit_lsn = 2000 };
    const char *tables[20];
    char        buf[20][16];
    char       *got;
    static const char *const later[] = { "public.t5", "public.t17", "public.t2" };

    for (int i = 0; i < 20; i++) {
        snprintf(buf[i], sizeof(buf[i]), "public.t%d", i);
        tables[i] = buf[i];
    }
    sch_txm_enter(&t, a.commit_lsn);
    count_all(&t, &a, tables, 20);
    got = end_order(&t);
    ck_assert_str_eq(got, "public.t14 public.t15 public.t12 public.t13 public.t18 public.t19 "
                          "public.t16 public.t17 public.t8 public.t7 public.t9 public.t4 "
                          "public.t3 public.t6 public.t5 public.t0 public.t10 public.t11 "
                          "public.t2 public.t1");
    free(got);
    sch_txm_enter(&t, b.commit_lsn);
    count_all(&t, &b, later, 3);
    got = end_order(&t);
    ck_assert_str_eq(got, "public.t17 public.t5 public.t2");
    free(got);
    sch_txm_free(&t);
}
END_TEST

START_TEST(block_counts_data_events_once)
{
    sch_txm             t = { 0 };
    cdc_txn             txn = { .xid = 571, .commit_lsn = 5000 };
    cdc_event           ev = { .op = CDC_OP_CREATE, .txn = &txn, .lsn = 4000 };
    const cdc_tx_block *b;

    sch_txm_enter(&t, txn.commit_lsn);
    ev.rel = rel_named(0, "public", "a");
    ev.pos = (cdc_pos) { 5000, 0 };
    b = sch_txm_count(&t, &ev);
    ck_assert_str_eq(b->id, "571:4000");
    ck_assert_int_eq(b->total_order, 1);
    ck_assert_int_eq(b->data_collection_order, 1);
    /* a write retried after backpressure is the same event */
    b = sch_txm_count(&t, &ev);
    ck_assert_int_eq(b->total_order, 1);
    /* the tombstone after a delete, a message inside the transaction: no block, not counted */
    ev.op = CDC_OP_TOMBSTONE;
    ev.pos.seq = 1;
    ck_assert_ptr_null(sch_txm_count(&t, &ev));
    ev.op = CDC_OP_MESSAGE;
    ev.msg_transactional = true;
    ev.rel = NULL;
    ev.pos.seq = 2;
    ck_assert_ptr_null(sch_txm_count(&t, &ev));
    ev.op = CDC_OP_UPDATE;
    ev.rel = rel_named(1, "public", "b");
    ev.pos.seq = 3;
    ev.lsn = 4100;
    b = sch_txm_count(&t, &ev);
    ck_assert_str_eq(b->id, "571:4100");
    ck_assert_int_eq(b->total_order, 2);
    ck_assert_int_eq(b->data_collection_order, 1);
    ev.rel = rel_named(0, "public", "a");
    ev.pos.seq = 4;
    b = sch_txm_count(&t, &ev);
    ck_assert_int_eq(b->total_order, 3);
    ck_assert_int_eq(b->data_collection_order, 2);
    /* snapshot rows and non-transactional messages are outside transactions */
    ev.snapshot = "true";
    ck_assert(!sch_txm_applies(&ev));
    ev.snapshot = NULL;
    ev.op = CDC_OP_MESSAGE;
    ev.msg_transactional = false;
    ck_assert(!sch_txm_applies(&ev));
    /* the next transaction starts from zero */
    sch_txm_enter(&t, 6000);
    ev.op = CDC_OP_DELETE;
    ev.pos = (cdc_pos) { 6000, 0 };
    b = sch_txm_count(&t, &ev);
    ck_assert_int_eq(b->total_order, 1);
    ck_assert_int_eq(b->data_collection_order, 1);
    sch_txm_free(&t);
}
END_TEST

START_TEST(json_records)
{
    sch_txm   t = { 0 };
    cdc_txn   txn = { .xid = 571, .commit_lsn = 5000 };
    cdc_event ev = { .op = CDC_OP_CREATE, .txn = &txn, .lsn = 4000 };
    cdc_buf   k = CDC_BUF_INIT, v = CDC_BUF_INIT;
    json_t   *j;

    sch_txm_enter(&t, txn.commit_lsn);
    sch_txm_json(&k, &v, &t, false, "571:3990", 1714558530123, false);
    ck_assert_str_eq((const char *) k.data, "{\"id\":\"571:3990\"}");
    ck_assert_str_eq((const char *) v.data,
                     "{\"status\":\"BEGIN\",\"id\":\"571:3990\",\"event_count\":null,"
                     "\"data_collections\":null,\"ts_ms\":1714558530123}");
    ev.rel = rel_named(0, "public", "a");
    ev.pos = (cdc_pos) { 5000, 0 };
    sch_txm_count(&t, &ev);
    ev.pos.seq = 1;
    sch_txm_count(&t, &ev);
    cdc_buf_reset(&k);
    cdc_buf_reset(&v);
    sch_txm_json(&k, &v, &t, true, "571:5100", 1714558530123, false);
    ck_assert_str_eq((const char *) v.data,
                     "{\"status\":\"END\",\"id\":\"571:5100\",\"event_count\":2,"
                     "\"data_collections\":[{\"data_collection\":\"public.a\",\"event_count\":2}],"
                     "\"ts_ms\":1714558530123}");
    /* with schemas: the Connect schema names Debezium uses */
    cdc_buf_reset(&k);
    cdc_buf_reset(&v);
    sch_txm_json(&k, &v, &t, true, "571:5100", 1, true);
    j = json_loads((const char *) v.data, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "schema"), "name")),
                     "io.debezium.connector.common.TransactionMetadataValue");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "payload"),
                                                        "event_count")), 2);
    json_decref(j);
    j = json_loads((const char *) k.data, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "payload"), "id")),
                     "571:5100");
    json_decref(j);
    cdc_buf_free(&k);
    cdc_buf_free(&v);
    sch_txm_free(&t);
}
END_TEST

/* Reads an Avro datum of `schema` from buf (after the 5-byte Confluent frame) with avro-c. */
static avro_value_t
frame_read(const char *schema, const cdc_buf *buf, uint32_t id, avro_schema_t *s,
          avro_value_iface_t **iface)
{
    avro_reader_t r;
    avro_value_t  v;

    ck_assert_int_eq(avro_schema_from_json_length(schema, strlen(schema), s), 0);
    ck_assert_uint_ge(buf->len, 5);
    ck_assert_int_eq(buf->data[0], 0);
    ck_assert_uint_eq((uint32_t) buf->data[1] << 24 | (uint32_t) buf->data[2] << 16 |
                      (uint32_t) buf->data[3] << 8 | buf->data[4], id);
    *iface = avro_generic_class_from_schema(*s);
    avro_generic_value_new(*iface, &v);
    r = avro_reader_memory((const char *) buf->data + 5, (int64_t) buf->len - 5);
    ck_assert_int_eq(avro_value_read(r, &v), 0);
    avro_reader_free(r);
    return v;
}

static const char *
field_str(avro_value_t *rec, const char *name)
{
    avro_value_t f;
    const char  *p;
    size_t       n;

    ck_assert_int_eq(avro_value_get_by_name(rec, name, &f, NULL), 0);
    ck_assert_int_eq(avro_value_get_string(&f, &p, &n), 0);
    return p;
}

START_TEST(avro_records_read_back)
{
    sch_txm             t = { 0 };
    cdc_txn             txn = { .xid = 9, .commit_lsn = 5000 };
    cdc_event           ev = { .op = CDC_OP_CREATE, .txn = &txn, .lsn = 4000 };
    cdc_buf             k = CDC_BUF_INIT, v = CDC_BUF_INIT;
    avro_schema_t       s;
    avro_value_iface_t *iface;
    avro_value_t        val, f, br, arr, item, rec, c;
    int                 disc = -1;
    size_t              n = 0;
    int64_t             l = 0;

    sch_txm_enter(&t, txn.commit_lsn);
    ev.rel = rel_named(0, "public", "a");
    ev.pos = (cdc_pos) { 5000, 0 };
    sch_txm_count(&t, &ev);
    ev.rel = rel_named(1, "public", "b");
    ev.pos.seq = 1;
    sch_txm_count(&t, &ev);
    sch_txm_avro(&k, &v, &t, true, "9:5100", -5, 11, 12);

    val = frame_read(sch_txm_avro_key_schema, &k, 11, &s, &iface);
    ck_assert_str_eq(field_str(&val, "id"), "9:5100");
    avro_value_decref(&val);
    avro_value_iface_decref(iface);
    avro_schema_decref(s);

    val = frame_read(sch_txm_avro_value_schema, &v, 12, &s, &iface);
    ck_assert_str_eq(field_str(&val, "status"), "END");
    ck_assert_str_eq(field_str(&val, "id"), "9:5100");
    avro_value_get_by_name(&val, "event_count", &f, NULL);
    avro_value_get_discriminant(&f, &disc);
    ck_assert_int_eq(disc, 1);
    avro_value_get_current_branch(&f, &br);
    avro_value_get_long(&br, &l);
    ck_assert_int_eq(l, 2);
    avro_value_get_by_name(&val, "data_collections", &f, NULL);
    avro_value_get_current_branch(&f, &arr);
    avro_value_get_size(&arr, &n);
    ck_assert_uint_eq(n, 2);
    avro_value_get_by_index(&arr, 1, &item, NULL);
    avro_value_get_current_branch(&item, &rec);
    ck_assert_str_eq(field_str(&rec, "data_collection"), "public.b");
    avro_value_get_by_name(&rec, "event_count", &c, NULL);
    avro_value_get_long(&c, &l);
    ck_assert_int_eq(l, 1);
    avro_value_get_by_name(&val, "ts_ms", &f, NULL);
    avro_value_get_long(&f, &l);
    ck_assert_int_eq(l, -5);
    avro_value_decref(&val);
    avro_value_iface_decref(iface);
    avro_schema_decref(s);

    /* BEGIN: both optional fields null */
    cdc_buf_reset(&k);
    cdc_buf_reset(&v);
    sch_txm_avro(&k, &v, &t, false, "9:3990", 77, 11, 12);
    val = frame_read(sch_txm_avro_value_schema, &v, 12, &s, &iface);
    ck_assert_str_eq(field_str(&val, "status"), "BEGIN");
    avro_value_get_by_name(&val, "data_collections", &f, NULL);
    avro_value_get_discriminant(&f, &disc);
    ck_assert_int_eq(disc, 0);
    avro_value_decref(&val);
    avro_value_iface_decref(iface);
    avro_schema_decref(s);
    cdc_buf_free(&k);
    cdc_buf_free(&v);
    sch_txm_free(&t);
}
END_TEST

static Suite *
txmeta_suite(void)
{
    Suite *s = suite_create("txmeta");
    TCase *t = tcase_create("txmeta");

    tcase_add_test(t, order_is_java_hashmap_order);
    tcase_add_test(t, order_after_growth_and_clear);
    tcase_add_test(t, block_counts_data_events_once);
    tcase_add_test(t, json_records);
    tcase_add_test(t, avro_records_read_back);
    suite_add_tcase(s, t);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(txmeta_suite());
    int      failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
