/*
 * Suite "dbz36": what the kafka.debezium_version "3.6" profile (SCH_AVRO_DBZ_3_5,
 * "3.5+") changes, against what Debezium 3.6.1.Final wrote in
 * test/integration/861 (the strings below are copied from its records on
 * cdc.message and cdc.transaction, not produced by our code), and that the
 * "2.7" profile does not change:
 * - the Source schema node (version 1, the full snapshot `allowed` list,
 *   origin and origin_lsn) and those two fields, null, in the payload;
 * - the MessageValue's transaction block, and a transactional message counted
 *   in its transaction as a data collection of its own;
 * - the __debezium.context.* headers on change records.
 * 861 also reads the Avro records back with Confluent's AvroDeserializer; here only the
 * message's transaction block, which the 3.5+ Avro schema had before but left null.
 */
#include <avro.h>
#include <check.h>
#include <jansson.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_buf.h"
#include "schemas/avro.h"
#include "schemas/json.h"
#include "schemas/message.h"
#include "schemas/txmeta.h"
#include "test/lib/model.h"

/* Debezium 3.6.1.Final, JsonConverter: the Source struct member of the MessageValue schema. */
static const char dbz361_source_schema[] =
    "{\"type\":\"struct\",\"fields\":[{\"type\":\"string\",\"optional\":false,\"field\":\"version\"},"
    "{\"type\":\"string\",\"optional\":false,\"field\":\"connector\"},{\"type\":\"string\","
    "\"optional\":false,\"field\":\"name\"},{\"type\":\"int64\",\"optional\":false,\"field\":\"ts_ms\"},"
    "{\"type\":\"string\",\"optional\":true,\"name\":\"io.debezium.data.Enum\",\"version\":1,"
    "\"parameters\":{\"allowed\":\"true,first,first_in_data_collection,last_in_data_collection,last,"
    "false,incremental\"},\"default\":\"false\",\"field\":\"snapshot\"},{\"type\":\"string\","
    "\"optional\":false,\"field\":\"db\"},{\"type\":\"string\",\"optional\":true,\"field\":\"sequence\"},"
    "{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_us\"},{\"type\":\"int64\",\"optional\":true,"
    "\"field\":\"ts_ns\"},{\"type\":\"string\",\"optional\":false,\"field\":\"schema\"},"
    "{\"type\":\"string\",\"optional\":false,\"field\":\"table\"},{\"type\":\"int64\",\"optional\":true,"
    "\"field\":\"txId\"},{\"type\":\"int64\",\"optional\":true,\"field\":\"lsn\"},{\"type\":\"int64\","
    "\"optional\":true,\"field\":\"xmin\"},{\"type\":\"string\",\"optional\":true,\"field\":\"origin\"},"
    "{\"type\":\"int64\",\"optional\":true,\"field\":\"origin_lsn\"}],\"optional\":false,"
    "\"name\":\"io.debezium.connector.postgresql.Source\",\"version\":1,\"field\":\"source\"}";

/* ... and what follows it up to the payload. */
static const char dbz361_message_tail[] =
    ",{\"type\":\"struct\",\"fields\":[{\"type\":\"string\",\"optional\":false,\"field\":\"id\"},"
    "{\"type\":\"int64\",\"optional\":false,\"field\":\"total_order\"},{\"type\":\"int64\","
    "\"optional\":false,\"field\":\"data_collection_order\"}],\"optional\":true,"
    "\"name\":\"event.block\",\"version\":1,\"field\":\"transaction\"},{\"type\":\"struct\","
    "\"fields\":[{\"type\":\"string\",\"optional\":true,\"field\":\"prefix\"},{\"type\":\"bytes\","
    "\"optional\":true,\"field\":\"content\"}],\"optional\":false,"
    "\"name\":\"io.debezium.connector.postgresql.Message\",\"version\":1,\"field\":\"message\"}],"
    "\"optional\":false,\"name\":\"io.debezium.connector.postgresql.MessageValue\",\"version\":1}"
    ",\"payload\":";

#define MSG_ID_RE                                                                              \
    "^io\\.debezium\\.connector\\.postgresql\\.LogicalDecodingMessageMonitor"                  \
    "\\$LogicalDecodingMessageId@[1-9a-f][0-9a-f]{0,7}$"

static cdc_txn txn;

/* The transactional message of 861's workload (xid 775, LSN 26669240). */
static cdc_event
message_775(void)
{
    static const char content[] = "in a transaction";

    txn = (cdc_txn) { .xid = 775, .prev_commit_lsn = 26669168, .commit_lsn = 26669368 };
    return (cdc_event) { .op = CDC_OP_MESSAGE, .lsn = 26669240, .source_ts_us = 1796638047217683,
                         .msg_prefix = "pfx", .msg_content = (const uint8_t *) content,
                         .msg_len = sizeof(content) - 1, .msg_transactional = true,
                         .txn = &txn, .pos = { 26669368, 0 } };
}

static sch_json_opts
opts_for(sch_avro_profile p)
{
    sch_json_opts o;

    sch_json_opts_default(&o);
    o.server_name = "cdc";
    o.database = "cdc_demo";
    o.schemas_enable = true;
    o.profile = (int) p;
    return o;
}

START_TEST(message_value_is_3_6_1s)
{
    sch_json_opts      o = opts_for(SCH_AVRO_DBZ_3_5);
    cdc_event          ev = message_775();
    cdc_tx_block       blk = { .total_order = 1, .data_collection_order = 1 };
    cdc_buf            b = CDC_BUF_INIT;
    const char        *s, *p;
    sch_avro_profile   prof;

    ck_assert_int_eq(sch_avro_profile_parse("3.6", &prof), 0);
    ck_assert_int_eq(prof, SCH_AVRO_DBZ_3_5);
    snprintf(blk.id, sizeof(blk.id), "775:26669240");
    ev.tx_block = &blk;
    sch_json_value(&b, &ev, &o, 1796638047631000);
    ck_assert(!cdc_buf_failed(&b));
    s = (const char *) b.data;
    p = strstr(s, dbz361_source_schema);
    ck_assert_msg(p != NULL, "no 3.6.1 Source schema in %s", s);
    p += strlen(dbz361_source_schema);
    ck_assert_msg(strncmp(p, dbz361_message_tail, strlen(dbz361_message_tail)) == 0,
                  "after the Source schema: %s", p);
    p += strlen(dbz361_message_tail);
    /* 3.6.1's payload with our source.version and ts_ms */
    ck_assert_str_eq(p, "{\"op\":\"m\",\"ts_ms\":1796638047631,"
                        "\"source\":{\"version\":\"2.7.3.Final\",\"connector\":\"postgresql\",\"name\":\"cdc\","
                        "\"ts_ms\":1796638047217,\"snapshot\":\"false\",\"db\":\"cdc_demo\","
                        "\"sequence\":\"[\\\"26669168\\\",\\\"26669240\\\"]\",\"ts_us\":1796638047217683,"
                        "\"ts_ns\":1796638047217683000,\"schema\":\"\",\"table\":\"\",\"txId\":775,"
                        "\"lsn\":26669240,\"xmin\":null,\"origin\":null,\"origin_lsn\":null},"
                        "\"transaction\":{\"id\":\"775:26669240\",\"total_order\":1,\"data_collection_order\":1},"
                        "\"message\":{\"prefix\":\"pfx\",\"content\":\"aW4gYSB0cmFuc2FjdGlvbg==\"}}}");

    /* 2.7: no version on Source, the old allowed list, no origin, no transaction block */
    o = opts_for(SCH_AVRO_DBZ_2_7);
    cdc_buf_reset(&b);
    sch_json_value(&b, &ev, &o, 1796638047631000);
    s = (const char *) b.data;
    ck_assert_ptr_null(strstr(s, "origin"));
    ck_assert_ptr_null(strstr(s, "event.block"));
    ck_assert_ptr_null(strstr(s, "\"transaction\""));
    ck_assert_ptr_nonnull(strstr(s, "\"allowed\":\"" SCH_DBZ_ALLOWED_OLD "\""));
    ck_assert_ptr_nonnull(strstr(s, "\"name\":\"io.debezium.connector.postgresql.Source\","
                                    "\"field\":\"source\"}"));
    cdc_buf_free(&b);
}
END_TEST

START_TEST(envelope_source_is_3_6_1s)
{
    cdc_col       cols[5];
    cdc_rel       rel;
    cdc_value     row[5];
    static const uint8_t bal[] = { 0x04, 0xE2 };
    sch_json_opts o = opts_for(SCH_AVRO_DBZ_3_5);
    cdc_event     ev;
    cdc_buf       b = CDC_BUF_INIT;
    json_t       *j, *src;
    const char   *k;
    json_t       *v;
    int           n = 0;
    static const char *const keys[] = { "version", "connector", "name", "ts_ms", "snapshot", "db",
                                        "sequence", "ts_us", "ts_ns", "schema", "table", "txId",
                                        "lsn", "xmin", "origin", "origin_lsn" };

    tm_customers(&rel, cols);
    ev = tm_insert(&txn, &rel, tm_alice(row, "a@example.com", bal), 571, 0x16B3748, 2);
    sch_json_value(&b, &ev, &o, 1);
    ck_assert(!cdc_buf_failed(&b));
    /* fields.2 of the Envelope schema is 3.6.1's Source node */
    ck_assert_ptr_nonnull(strstr((const char *) b.data, dbz361_source_schema));
    j = json_loads((const char *) b.data, 0, NULL);
    ck_assert_ptr_nonnull(j);
    src = json_object_get(json_object_get(j, "payload"), "source");
    json_object_foreach(src, k, v) {
        ck_assert_int_lt(n, 16);
        ck_assert_str_eq(k, keys[n]);
        n++;
    }
    ck_assert_int_eq(n, 16);
    ck_assert(json_is_null(json_object_get(src, "origin")));
    ck_assert(json_is_null(json_object_get(src, "origin_lsn")));
    json_decref(j);

    /* the source block memo does not hand 2.7 the 3.6 text (same event, same thread) */
    o = opts_for(SCH_AVRO_DBZ_2_7);
    o.schemas_enable = false;
    cdc_buf_reset(&b);
    sch_json_value(&b, &ev, &o, 1);
    ck_assert_ptr_null(strstr((const char *) b.data, "origin"));
    cdc_buf_free(&b);
}
END_TEST

/* The data_collections of t's END record, as JSON. */
static json_t *
end_collections(const sch_txm *t)
{
    cdc_buf k = CDC_BUF_INIT, v = CDC_BUF_INIT;
    json_t *j, *dc;

    sch_txm_json(&k, &v, t, true, "775:26669368", 0, false);
    j = json_loads((const char *) v.data, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "event_count")), 3);
    dc = json_incref(json_object_get(j, "data_collections"));
    json_decref(j);
    cdc_buf_free(&k);
    cdc_buf_free(&v);
    return dc;
}

START_TEST(messages_counted_like_3_6_1)
{
    sch_txm             t = { .count_messages = true };
    cdc_event           ev = message_775();
    cdc_col             cols[5];
    cdc_rel             rel;
    const cdc_tx_block *blk;
    json_t             *dc, *e;
    size_t              i, nmsg = 0, ntab = 0;
    regex_t             re;
    const char         *names[2] = { NULL, NULL };

    ck_assert_int_eq(regcomp(&re, MSG_ID_RE, REG_EXTENDED | REG_NOSUB), 0);
    tm_customers(&rel, cols);
    sch_txm_enter(&t, txn.commit_lsn);
    /* 861: the message first (total_order 1), then the row (total_order 2) */
    blk = sch_txm_count(&t, &ev);
    ck_assert_ptr_nonnull(blk);
    ck_assert_str_eq(blk->id, "775:26669240");
    ck_assert_int_eq(blk->total_order, 1);
    ck_assert_int_eq(blk->data_collection_order, 1);
    ck_assert_int_eq(sch_txm_count(&t, &ev)->total_order, 1);   /* a retry counts once */
    ev.op = CDC_OP_CREATE;
    ev.rel = &rel;
    ev.pos.seq = 1;
    blk = sch_txm_count(&t, &ev);
    ck_assert_int_eq(blk->total_order, 2);
    ck_assert_int_eq(blk->data_collection_order, 1);
    /* a second message is a data collection of its own: its order is 1 again */
    ev.op = CDC_OP_MESSAGE;
    ev.rel = NULL;
    ev.pos.seq = 2;
    blk = sch_txm_count(&t, &ev);
    ck_assert_int_eq(blk->total_order, 3);
    ck_assert_int_eq(blk->data_collection_order, 1);
    /* non-transactional messages stay outside */
    ev.msg_transactional = false;
    ck_assert(!sch_txm_applies(&ev));

    dc = end_collections(&t);
    ck_assert_int_eq(json_array_size(dc), 3);
    json_array_foreach(dc, i, e) {
        const char *name = json_string_value(json_object_get(e, "data_collection"));

        ck_assert_int_eq(json_integer_value(json_object_get(e, "event_count")), 1);
        if (strcmp(name, "public.customers") == 0) {
            ntab++;
            continue;
        }
        ck_assert_msg(regexec(&re, name, 0, NULL, 0) == 0, "data collection %s", name);
        names[nmsg++] = name;
    }
    ck_assert_int_eq(ntab, 1);
    ck_assert_int_eq(nmsg, 2);
    ck_assert_str_ne(names[0], names[1]);
    json_decref(dc);
    regfree(&re);
    sch_txm_free(&t);

    /* 2.7: the message gets no block and is not counted */
    t = (sch_txm) { 0 };
    ev = message_775();
    sch_txm_enter(&t, txn.commit_lsn);
    ck_assert_ptr_null(sch_txm_count(&t, &ev));
    ck_assert_int_eq(t.total, 0);
    sch_txm_free(&t);
}
END_TEST

/* The transaction block of an Avro MessageValue, read back with avro-c: total_order, or
   -1 when the union holds null. */
static int64_t
avro_message_total_order(const sch_avro_opts *ao, const cdc_event *ev, char *id, size_t idsz)
{
    cdc_err             err = { 0 };
    sch_avro_writer    *w = sch_avro_writer_new(NULL, ao, &err);
    cdc_buf             b = CDC_BUF_INIT;
    avro_schema_t       schema;
    avro_value_iface_t *iface;
    avro_value_t        v, tx, blk, f;
    avro_reader_t       r;
    int                 disc;
    int64_t             total = -1;
    const char         *s;
    size_t              n;

    ck_assert_msg(w != NULL, "%s", err.msg);
    ck_assert_int_eq(sch_avro_encode_value(w, ev, 7, 1796638047631000, &b, &err), 0);
    s = sch_avro_writer_value_schema(w);
    ck_assert_int_eq(avro_schema_from_json_length(s, strlen(s), &schema), 0);
    iface = avro_generic_class_from_schema(schema);
    ck_assert_int_eq(avro_generic_value_new(iface, &v), 0);
    r = avro_reader_memory((const char *) b.data + 5, (int64_t) b.len - 5);
    ck_assert_msg(avro_value_read(r, &v) == 0, "read: %s", avro_strerror());
    ck_assert_int_eq(avro_value_get_by_name(&v, "transaction", &tx, NULL), 0);
    ck_assert_int_eq(avro_value_get_discriminant(&tx, &disc), 0);
    if (disc == 1) {
        ck_assert_int_eq(avro_value_get_current_branch(&tx, &blk), 0);
        ck_assert_int_eq(avro_value_get_by_name(&blk, "id", &f, NULL), 0);
        ck_assert_int_eq(avro_value_get_string(&f, &s, &n), 0);
        snprintf(id, idsz, "%s", s);
        ck_assert_int_eq(avro_value_get_by_name(&blk, "total_order", &f, NULL), 0);
        ck_assert_int_eq(avro_value_get_long(&f, &total), 0);
    }
    avro_reader_free(r);
    avro_value_decref(&v);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    sch_avro_writer_free(w);
    cdc_buf_free(&b);
    return total;
}

START_TEST(avro_message_block)
{
    sch_avro_opts ao;
    cdc_event     ev = message_775();
    cdc_tx_block  blk = { .total_order = 1, .data_collection_order = 1 };
    char          id[48] = "";

    snprintf(blk.id, sizeof(blk.id), "775:26669240");
    ev.tx_block = &blk;
    sch_avro_opts_default(&ao);
    ao.server_name = "cdc";
    ao.database = "cdc_demo";
    ao.profile = SCH_AVRO_DBZ_3_5;
    ck_assert_int_eq(avro_message_total_order(&ao, &ev, id, sizeof(id)), 1);
    ck_assert_str_eq(id, "775:26669240");
    ev.tx_block = NULL;     /* a non-transactional message */
    ck_assert_int_eq(avro_message_total_order(&ao, &ev, id, sizeof(id)), -1);
}
END_TEST

static const sch_hdr *
hdr(const sch_msg *m, int i)
{
    ck_assert_int_lt(i, m->nhdrs);
    return &m->hdrs[i];
}

/* The headers after cdc.*: what the 260/861 comparison sees. */
static int
first_dbz_header(const sch_msg *m)
{
    int i = 0;

    while (i < m->nhdrs && strncmp(m->hdrs[i].name, "cdc.", 4) == 0)
        i++;
    return i;
}

START_TEST(context_headers_like_3_6_1)
{
    sch_msg_conf   conf = { 0 };
    cdc_err        err = { 0 };
    sch_msg_enc   *e;
    sch_msg        m;
    cdc_col        cols[5];
    cdc_rel        rel;
    cdc_value      row[5];
    static const uint8_t bal[] = { 0x04, 0xE2 };
    cdc_event      ev, msg = message_775();
    cdc_txn        tx = { .xid = 571, .begin_lsn = 50, .end_lsn = 150, .commit_lsn = 100 };
    const sch_hdr *h;
    char           run_id[64];
    int            i;
    regex_t        re;

    ck_assert_int_eq(regcomp(&re, "^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                  "[0-9a-f]{12}$", REG_EXTENDED | REG_NOSUB), 0);
    tm_customers(&rel, cols);
    conf.json = opts_for(SCH_AVRO_DBZ_3_5);
    e = sch_msg_enc_new(&conf, &err);
    ck_assert_ptr_nonnull(e);
    ev = tm_insert(&txn, &rel, tm_alice(row, "a@example.com", bal), 571, 0x16B3748, 2);
    ck_assert_int_eq(sch_msg_encode(e, &ev, "cdc.public.customers", &m, &err), 0);
    /* 3.6.1's order and values, after the emitter's own (__debezium.oldkey/newkey) */
    i = first_dbz_header(&m);
    ck_assert_int_eq(m.nhdrs - i, 4);
    h = hdr(&m, i);
    ck_assert_str_eq(h->name, "__debezium.context.connectorLogicalName");
    ck_assert_int_eq(h->len, 3);
    ck_assert(memcmp(h->value, "cdc", 3) == 0);
    h = hdr(&m, i + 1);
    ck_assert_str_eq(h->name, "__debezium.context.taskId");
    ck_assert(h->len == 1 && h->value[0] == '0');
    h = hdr(&m, i + 2);
    ck_assert_str_eq(h->name, "__debezium.context.connectorName");
    ck_assert(h->len == 10 && memcmp(h->value, "postgresql", 10) == 0);
    h = hdr(&m, i + 3);
    ck_assert_str_eq(h->name, "__debezium.context.runId");
    ck_assert_int_eq(h->len, 36);
    snprintf(run_id, sizeof(run_id), "%.*s", (int) h->len, h->value);
    ck_assert_msg(regexec(&re, run_id, 0, NULL, 0) == 0, "runId %s", run_id);
    /* the same runId on every record of the run, the key-change header before them */
    ev.pk_change_oldkey = ev.after;
    ck_assert_int_eq(sch_msg_encode(e, &ev, "cdc.public.customers", &m, &err), 0);
    i = first_dbz_header(&m);
    ck_assert_str_eq(hdr(&m, i)->name, "__debezium.oldkey");
    ck_assert_str_eq(hdr(&m, i + 4)->name, "__debezium.context.runId");
    ck_assert(memcmp(hdr(&m, i + 4)->value, run_id, 36) == 0);
    /* a tombstone has them (Debezium copies the delete's headers), a message has none */
    ev.pk_change_oldkey = NULL;
    ev.op = CDC_OP_TOMBSTONE;
    ck_assert_int_eq(sch_msg_encode(e, &ev, "cdc.public.customers", &m, &err), 0);
    ck_assert_int_eq(m.nhdrs - first_dbz_header(&m), 4);
    ck_assert_int_eq(sch_msg_encode(e, &msg, "cdc.message", &m, &err), 0);
    ck_assert_int_eq(m.nhdrs - first_dbz_header(&m), 0);
    /* nor a transaction record (861 saw none on cdc.transaction) */
    ck_assert(sch_msg_tx_due(e, tx.commit_lsn, false));
    ck_assert_int_eq(sch_msg_tx_record(e, &tx, false, "cdc.transaction", &m, &err), 0);
    ck_assert_int_eq(m.nhdrs - first_dbz_header(&m), 0);
    sch_msg_enc_free(e);

    /* 2.7: none */
    conf.json = opts_for(SCH_AVRO_DBZ_2_7);
    e = sch_msg_enc_new(&conf, &err);
    ck_assert_ptr_nonnull(e);
    ev.op = CDC_OP_CREATE;
    ck_assert_int_eq(sch_msg_encode(e, &ev, "cdc.public.customers", &m, &err), 0);
    ck_assert_int_eq(m.nhdrs - first_dbz_header(&m), 0);
    sch_msg_enc_free(e);
    regfree(&re);
}
END_TEST

static Suite *
dbz36_suite(void)
{
    Suite *s = suite_create("dbz36");
    TCase *tc = tcase_create("dbz36");

    tcase_add_test(tc, message_value_is_3_6_1s);
    tcase_add_test(tc, envelope_source_is_3_6_1s);
    tcase_add_test(tc, messages_counted_like_3_6_1);
    tcase_add_test(tc, context_headers_like_3_6_1);
    tcase_add_test(tc, avro_message_block);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(dbz36_suite());
    int      failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
