/*
 * Suite "message": the record every bus carries (schemas/message.c).  Keys
 * and values are what sch_json_key / sch_json_value (and the cached schema
 * wrapping) produce, byte for byte (values up to the processing time stamps
 * ts_ms/ts_us/ts_ns, taken from the clock); the null rules of keys and
 * values; the position, transaction and key-change headers; Debezium's
 * heartbeat; and bus names ("cdc-public-customers").  Avro against the
 * Schema Registry double (test/doubles/schema_registry.py, a child process
 * on a loopback port): the bytes schemas/avro_reg.c makes, ids, null rules;
 * skipped without python3.
 */
#include <check.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_log.h"
#include "schemas/avro_reg.h"
#include "schemas/json.h"
#include "schemas/message.h"
#include "schemas/txmeta.h"
#include "test/lib/model.h"

static const uint8_t balance_1250[] = { 0x04, 0xE2 };   /* 12.50 */

static cdc_col    cust_cols[5];
static cdc_rel    cust;
static cdc_txn    txn;
static cdc_value  alice[5];
static sch_msg_conf conf;

static void
setup(void)
{
    tm_customers(&cust, cust_cols);
    memset(&conf, 0, sizeof(conf));
    sch_json_opts_default(&conf.json);
    conf.json.server_name = "dbserver1";
    conf.json.database = "appdb";
}

static sch_msg_enc *
enc_new(bool schemas)
{
    cdc_err      err = { 0 };
    sch_msg_enc *e;

    conf.json.schemas_enable = schemas;
    e = sch_msg_enc_new(&conf, &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    return e;
}

static cdc_event
insert_alice(void)
{
    return tm_insert(&txn, &cust, tm_alice(alice, "alice@example.com", balance_1250), 571,
                     0x16B3748, 2);
}

/* What sch_json_key writes for ev with the encoder's options. */
static char *
want_key(const cdc_event *ev, bool schemas)
{
    cdc_buf       b = CDC_BUF_INIT;
    sch_json_opts o = conf.json;

    o.schemas_enable = schemas;
    sch_json_key(&b, ev, &o);
    return (char *) b.data;
}

static char *
want_value(const cdc_event *ev, bool schemas)
{
    cdc_buf       b = CDC_BUF_INIT;
    sch_json_opts o = conf.json;

    o.schemas_enable = schemas;
    sch_json_value(&b, ev, &o, 1714558531000000);
    return (char *) b.data;
}

/* Parses n bytes of JSON, dropping the processing time stamps of the envelope. */
static json_t *
parse_value(const char *s, size_t n)
{
    json_error_t je;
    json_t      *j = json_loadb(s, n, 0, &je), *p;

    ck_assert_msg(j != NULL, "not JSON (%s): %.*s", je.text, (int) n, s);
    p = json_object_get(j, "payload");
    if (p == NULL)
        p = j;
    json_object_del(p, "ts_ms");
    json_object_del(p, "ts_us");
    json_object_del(p, "ts_ns");
    return j;
}

static void
assert_value_eq(const sch_msg *m, const char *want)
{
    json_t *got = parse_value(m->value, m->value_len), *exp = parse_value(want, strlen(want));

    ck_assert_msg(json_equal(got, exp), "got %.*s\nwant %s", (int) m->value_len, m->value, want);
    json_decref(got);
    json_decref(exp);
}

static const sch_hdr *
hdr(const sch_msg *m, const char *name)
{
    for (int i = 0; i < m->nhdrs; i++)
        if (strcmp(m->hdrs[i].name, name) == 0)
            return &m->hdrs[i];
    return NULL;
}

static void
assert_hdr(const sch_msg *m, const char *name, const char *want)
{
    const sch_hdr *h = hdr(m, name);

    ck_assert_msg(h != NULL, "no header %s", name);
    ck_assert_msg(h->len == strlen(want) && memcmp(h->value, want, h->len) == 0,
                  "%s: got %.*s, want %s", name, (int) h->len, h->value, want);
}

/* ---- keys and values ---- */

static void
check_insert(bool schemas)
{
    sch_msg_enc *e = enc_new(schemas);
    cdc_event    ev = insert_alice();
    sch_msg      m;
    cdc_err      err = { 0 };
    char        *k = want_key(&ev, schemas), *v = want_value(&ev, schemas);

    ck_assert_int_eq(sch_msg_encode(e, &ev, "dbserver1.public.customers", &m, &err), 0);
    ck_assert(!m.null_key && !m.null_value);
    ck_assert_uint_eq(m.key_len, strlen(k));
    ck_assert(memcmp(m.key, k, m.key_len) == 0);
    assert_value_eq(&m, v);
    ck_assert_str_eq(m.content_type, "application/json");
    ck_assert_uint_eq(m.key_schema_id, 0);
    ck_assert_uint_eq(m.value_schema_id, 0);
    /* a second event of the same relation version: from the cached schema, same bytes */
    ev.pos.seq = 3;
    ck_assert_int_eq(sch_msg_encode(e, &ev, "dbserver1.public.customers", &m, &err), 0);
    ck_assert_uint_eq(m.key_len, strlen(k));
    ck_assert(memcmp(m.key, k, m.key_len) == 0);
    assert_value_eq(&m, v);
    assert_hdr(&m, "cdc.seq", "3");
    free(k);
    free(v);
    sch_msg_enc_free(e);
}

START_TEST(insert_payload_only)
{
    check_insert(false);
}
END_TEST

START_TEST(insert_with_schemas)
{
    check_insert(true);
}
END_TEST

START_TEST(schemas_follow_the_relation_version)
{
    sch_msg_enc *e = enc_new(true);
    cdc_event    ev = insert_alice();
    sch_msg      m;
    cdc_err      err = { 0 };
    char        *v;

    ck_assert_int_eq(sch_msg_encode(e, &ev, "t", &m, &err), 0);
    /* ALTER TABLE: a new version whose second column has another name */
    cust.version = 2;
    cust_cols[1].name = "full_name";
    v = want_value(&ev, true);
    ck_assert_int_eq(sch_msg_encode(e, &ev, "t", &m, &err), 0);
    ck_assert_ptr_nonnull(strstr(v, "\"full_name\""));
    assert_value_eq(&m, v);
    free(v);
    sch_msg_enc_free(e);
}
END_TEST

START_TEST(tombstone_has_null_value)
{
    for (int s = 0; s < 2; s++) {
        sch_msg_enc *e = enc_new(s);
        cdc_event    ev = insert_alice();
        sch_msg      m;
        cdc_err      err = { 0 };
        char        *k;

        ev.op = CDC_OP_TOMBSTONE;
        ev.before = ev.after;
        ev.after = NULL;
        k = want_key(&ev, s);
        ck_assert_int_eq(sch_msg_encode(e, &ev, "t", &m, &err), 0);
        ck_assert(m.null_value && m.value == NULL && m.value_len == 0);
        ck_assert(!m.null_key);
        ck_assert_uint_eq(m.key_len, strlen(k));
        ck_assert(memcmp(m.key, k, m.key_len) == 0);
        free(k);
        sch_msg_enc_free(e);
    }
}
END_TEST

START_TEST(null_keys)
{
    for (int s = 0; s < 2; s++) {
        sch_msg_enc *e = enc_new(s);
        cdc_event    ev = insert_alice();
        sch_msg      m;
        cdc_err      err = { 0 };
        char        *v;

        /* a truncate */
        ev.op = CDC_OP_TRUNCATE;
        ev.after = NULL;
        v = want_value(&ev, s);
        ck_assert_int_eq(sch_msg_encode(e, &ev, "t", &m, &err), 0);
        ck_assert(m.null_key && m.key == NULL && m.key_len == 0);
        ck_assert(!m.null_value);
        assert_value_eq(&m, v);
        free(v);
        /* a table without key columns */
        ev = insert_alice();
        cust.nkeys = 0;
        cust.relid = 16385;
        for (int i = 0; i < 5; i++)
            cust_cols[i].key_pos = 0;
        v = want_value(&ev, s);
        ck_assert_int_eq(sch_msg_encode(e, &ev, "t", &m, &err), 0);
        ck_assert(m.null_key && m.key == NULL);
        assert_value_eq(&m, v);
        free(v);
        sch_msg_enc_free(e);
        tm_customers(&cust, cust_cols);
    }
}
END_TEST

START_TEST(logical_message_has_a_key)
{
    for (int s = 0; s < 2; s++) {
        sch_msg_enc *e = enc_new(s);
        cdc_txn      t = { .xid = 9, .commit_lsn = 0x200 };
        cdc_event    ev = { .op = CDC_OP_MESSAGE, .pos = { 0x200, 0 }, .txn = &t, .lsn = 0x1F0,
                            .msg_prefix = "audit", .msg_content = (const uint8_t *) "hi",
                            .msg_len = 2, .msg_transactional = true };
        sch_msg      m;
        cdc_err      err = { 0 };
        char        *k = want_key(&ev, s), *v = want_value(&ev, s);

        ck_assert_int_eq(sch_msg_encode(e, &ev, "dbserver1.message", &m, &err), 0);
        ck_assert(!m.null_key && !m.null_value);
        ck_assert_uint_eq(m.key_len, strlen(k));
        ck_assert(memcmp(m.key, k, m.key_len) == 0);
        ck_assert_ptr_nonnull(strstr(k, "audit"));
        assert_value_eq(&m, v);
        free(k);
        free(v);
        sch_msg_enc_free(e);
    }
}
END_TEST

/* ---- headers ---- */

START_TEST(position_headers)
{
    sch_msg_enc *e = enc_new(false);
    cdc_event    ev = insert_alice();
    sch_msg      m;
    cdc_err      err = { 0 };

    ev.pos = (cdc_pos) { 18446744073709551615u, 7 };
    txn.xid = 4294967295u;
    ck_assert_int_eq(sch_msg_encode(e, &ev, "t", &m, &err), 0);
    ck_assert_int_eq(m.nhdrs, 3);
    ck_assert_str_eq(m.hdrs[0].name, "cdc.commit_lsn");
    ck_assert_str_eq(m.hdrs[1].name, "cdc.seq");
    ck_assert_str_eq(m.hdrs[2].name, "cdc.xid");
    assert_hdr(&m, "cdc.commit_lsn", "18446744073709551615");
    assert_hdr(&m, "cdc.seq", "7");
    assert_hdr(&m, "cdc.xid", "4294967295");
    /* a non-transactional message: no xid */
    ev.txn = NULL;
    ck_assert_int_eq(sch_msg_encode(e, &ev, "t", &m, &err), 0);
    ck_assert_int_eq(m.nhdrs, 2);
    ck_assert_ptr_null(hdr(&m, "cdc.xid"));
    sch_msg_enc_free(e);
}
END_TEST

START_TEST(key_change_headers)
{
    for (int s = 0; s < 2; s++) {
        sch_msg_enc *e = enc_new(s);
        cdc_event    ev = insert_alice();
        cdc_value    newkey[5] = { tm_int(2) }, oldkey[5] = { tm_int(1) };
        sch_msg      m;
        cdc_err      err = { 0 };

        ev.pk_change_newkey = newkey;
        ev.pk_change_oldkey = oldkey;
        ck_assert_int_eq(sch_msg_encode(e, &ev, "t", &m, &err), 0);
        ck_assert_int_eq(m.nhdrs, 5);
        ck_assert_str_eq(m.hdrs[3].name, "__debezium.newkey");
        ck_assert_str_eq(m.hdrs[4].name, "__debezium.oldkey");
        /* payload only, with or without schemas; both valid at once */
        assert_hdr(&m, "__debezium.newkey", "{\"id\":2}");
        assert_hdr(&m, "__debezium.oldkey", "{\"id\":1}");
        sch_msg_enc_free(e);
    }
}
END_TEST

START_TEST(key_header_keeps_non_bmp_raw)
{
    cdc_col      col = { .name = "k\xf0\x9f\x98\x80", .ctype = tm_ct(CDC_CT_STRING, CDC_SEM_NONE),
                         .key_pos = 1 };
    cdc_rel      rel = { .relid = 1, .nspname = (char *) "s", .relname = (char *) "t",
                         .ncols = 1, .cols = &col, .nkeys = 1, .topic = (char *) "p.s.t" };
    cdc_value    v = tm_str("\xf0\x9f\x98\x80!");
    cdc_event    ev = { .op = CDC_OP_CREATE, .rel = &rel, .after = &v, .pk_change_oldkey = &v };
    sch_msg_enc *e = enc_new(false);
    sch_msg      m;
    cdc_err      err = { 0 };

    ck_assert_int_eq(sch_msg_encode(e, &ev, "p.s.t", &m, &err), 0);
    assert_hdr(&m, "__debezium.oldkey", "{\"k\xf0\x9f\x98\x80\":\"\xf0\x9f\x98\x80!\"}");
    /* the record key itself is JsonConverter's: escaped surrogates */
    ck_assert_uint_eq(m.key_len, strlen("{\"k\\uD83D\\uDE00\":\"\\uD83D\\uDE00!\"}"));
    ck_assert(memcmp(m.key, "{\"k\\uD83D\\uDE00\":\"\\uD83D\\uDE00!\"}", m.key_len) == 0);
    sch_msg_enc_free(e);
}
END_TEST

/* ---- heartbeat ---- */

START_TEST(heartbeat_payload_only)
{
    sch_msg_enc *e = enc_new(false);
    sch_msg      m;
    cdc_err      err = { 0 };

    ck_assert_int_eq(sch_msg_heartbeat(e, "__debezium-heartbeat.dbserver1", "dbserver1",
                                       1714558530123, &m, &err), 0);
    ck_assert(!m.null_key && !m.null_value);
    ck_assert_int_eq(m.nhdrs, 0);
    ck_assert_str_eq(m.content_type, "application/json");
    ck_assert_str_eq(m.key, "{\"serverName\":\"dbserver1\"}");
    ck_assert_uint_eq(m.key_len, strlen(m.key));
    ck_assert_str_eq(m.value, "{\"ts_ms\":1714558530123}");
    ck_assert_uint_eq(m.value_len, strlen(m.value));
    sch_msg_enc_free(e);
}
END_TEST

START_TEST(heartbeat_with_schemas)
{
    sch_msg_enc *e = enc_new(true);
    sch_msg      m;
    cdc_err      err = { 0 };

    ck_assert_int_eq(sch_msg_heartbeat(e, "__debezium-heartbeat.db\"1", "db\"1", -5, &m,
                                       &err), 0);
    ck_assert_str_eq(m.key,
                     "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"string\","
                     "\"optional\":false,\"field\":\"serverName\"}],\"optional\":false,"
                     "\"name\":\"io.debezium.connector.common.ServerNameKey\",\"version\":1},"
                     "\"payload\":{\"serverName\":\"db\\\"1\"}}");
    ck_assert_str_eq(m.value,
                     "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"int64\","
                     "\"optional\":false,\"field\":\"ts_ms\"}],\"optional\":false,"
                     "\"name\":\"io.debezium.connector.common.Heartbeat\",\"version\":1},"
                     "\"payload\":{\"ts_ms\":-5}}");
    sch_msg_enc_free(e);
}
END_TEST

/* ---- names ---- */

static const struct {
    const char *prefix, *schema, *table, *topic, *want;
} name_cases[] = {
    { "cdc", "public", "customers", NULL, "cdc-public-customers" },
    { "cdc", "public", "my.table", NULL, "cdc-public-my-table" },
    { "cdc", "my schema", "t$1", NULL, "cdc-my_schema-t_1" },
    { "cdc", "public", "customers", "dbserver1.public.customers", "dbserver1-public-customers" },
    { "a.b", "s", "t", NULL, "a-b-s-t" },
};

START_TEST(bus_names)
{
    cdc_rel   rel = { .nspname = (char *) name_cases[_i].schema,
                      .relname = (char *) name_cases[_i].table,
                      .topic = (char *) name_cases[_i].topic };
    cdc_event ev = { .op = CDC_OP_CREATE, .rel = &rel };
    char      out[300];

    ck_assert_ptr_eq(sch_msg_bus_name(&ev, name_cases[_i].prefix, '-', out, sizeof(out)), out);
    ck_assert_str_eq(out, name_cases[_i].want);
}
END_TEST

START_TEST(bus_name_of_a_message_and_other_separators)
{
    cdc_event ev = { .op = CDC_OP_MESSAGE, .msg_prefix = "audit" };
    cdc_rel   rel = { .nspname = (char *) "public", .relname = (char *) "customers" };
    char      out[300];

    ck_assert_str_eq(sch_msg_bus_name(&ev, "cdc", '-', out, sizeof(out)), "cdc-message");
    ev = (cdc_event) { .op = CDC_OP_CREATE, .rel = &rel };
    ck_assert_str_eq(sch_msg_bus_name(&ev, "cdc", '_', out, sizeof(out)), "cdc_public_customers");
    ck_assert_str_eq(sch_msg_bus_name(&ev, "cdc", '.', out, sizeof(out)), "cdc.public.customers");
}
END_TEST

/* ---- configuration ---- */

START_TEST(no_conf_is_an_error)
{
    cdc_err err = { 0 };

    ck_assert_ptr_null(sch_msg_enc_new(NULL, &err));
    ck_assert_int_eq(err.code, CDC_E_INVAL);
    sch_msg_enc_free(NULL);
}
END_TEST

/* ---- transaction metadata ---- */

/* What schemas/txmeta.c renders for the same counts. */
static void
assert_tx_json(const sch_msg *m, const sch_txm *t, bool end, const char *id, int64_t ts_ms,
               bool schemas)
{
    cdc_buf k = CDC_BUF_INIT, v = CDC_BUF_INIT;

    sch_txm_json(&k, &v, t, end, id, ts_ms, schemas);
    ck_assert(!m->null_key && !m->null_value);
    ck_assert_msg(m->key_len == k.len && memcmp(m->key, k.data, k.len) == 0, "key %.*s",
                  (int) m->key_len, m->key);
    ck_assert_msg(m->value_len == v.len && memcmp(m->value, v.data, v.len) == 0, "value %.*s",
                  (int) m->value_len, m->value);
    cdc_buf_free(&k);
    cdc_buf_free(&v);
}

#define TX_BLOCK "\"transaction\":{\"id\":\"571:23803622\""

START_TEST(tx_begin_blocks_end)
{
    for (int s = 0; s < 2; s++) {
        sch_msg_enc        *e = enc_new(s);
        cdc_event           ev = insert_alice(), copy;
        const cdc_tx_block *b;
        sch_txm             ref = { 0 };
        sch_msg             m;
        cdc_err             err = { 0 };
        char                lsn[24];

        txn.begin_lsn = 0x16B3700;
        txn.end_lsn = 0x16B3750;
        txn.commit_ts_us = -1500;       /* floors to -2 ms */
        ck_assert(sch_msg_tx_applies(&ev));
        ck_assert(sch_msg_tx_due(e, ev.pos.lsn, false));
        ck_assert_int_eq(sch_msg_tx_record(e, &txn, false, "dbserver1.transaction", &m, &err), 0);
        sch_txm_enter(&ref, txn.commit_lsn);
        assert_tx_json(&m, &ref, false, "571:23803648", -2, s);
        snprintf(lsn, sizeof(lsn), "%llu", (unsigned long long) txn.commit_lsn);
        assert_hdr(&m, "cdc.commit_lsn", lsn);
        snprintf(lsn, sizeof(lsn), "%llu", (unsigned long long) SCH_MSG_SEQ_TX_BEGIN);
        assert_hdr(&m, "cdc.seq", lsn);
        assert_hdr(&m, "cdc.xid", "571");
        sch_msg_tx_written(e, false);
        ck_assert(!sch_msg_tx_due(e, ev.pos.lsn, false));
        /* the block, counted once even when the write is retried */
        b = sch_msg_tx_count(e, &ev);
        ck_assert_ptr_nonnull(b);
        ck_assert_ptr_eq(sch_msg_tx_count(e, &ev), b);
        sch_txm_count(&ref, &ev);
        ck_assert_str_eq(b->id, "571:23803622");
        ck_assert_int_eq(b->total_order, 1);
        ck_assert_int_eq(b->data_collection_order, 1);
        copy = ev;
        copy.tx_block = b;
        ck_assert_int_eq(sch_msg_encode(e, &copy, "t", &m, &err), 0);
        ck_assert_ptr_nonnull(memmem(m.value, m.value_len, TX_BLOCK, strlen(TX_BLOCK)));
        /* commit: BEGIN is done, END is due, then neither */
        ck_assert(!sch_msg_tx_due(e, txn.commit_lsn, false));
        ck_assert(sch_msg_tx_due(e, txn.commit_lsn, true));
        ck_assert_int_eq(sch_msg_tx_record(e, &txn, true, "dbserver1.transaction", &m, &err), 0);
        assert_tx_json(&m, &ref, true, "571:23803728", -2, s);
        snprintf(lsn, sizeof(lsn), "%llu", (unsigned long long) SCH_MSG_SEQ_TX_END);
        assert_hdr(&m, "cdc.seq", lsn);
        sch_msg_tx_written(e, true);
        ck_assert(!sch_msg_tx_due(e, txn.commit_lsn, true));
        /* the next transaction starts over */
        ck_assert(sch_msg_tx_due(e, txn.commit_lsn + 1000, false));
        ck_assert(sch_msg_tx_due(e, txn.commit_lsn + 1000, true));
        sch_txm_free(&ref);
        sch_msg_enc_free(e);
    }
}
END_TEST

START_TEST(tx_not_for_snapshots_and_plain_messages)
{
    cdc_event ev = insert_alice();

    ev.snapshot = "true";
    ck_assert(!sch_msg_tx_applies(&ev));
    ev = (cdc_event) { .op = CDC_OP_MESSAGE, .msg_prefix = "p", .msg_transactional = false };
    ck_assert(!sch_msg_tx_applies(&ev));
}
END_TEST

START_TEST(tx_names)
{
    char out[64];

    ck_assert_str_eq(sch_msg_tx_name("cdc", '-', out, sizeof(out)), "cdc-transaction");
    ck_assert_str_eq(sch_msg_tx_name("dbserver1", '.', out, sizeof(out)),
                     "dbserver1.transaction");
}
END_TEST

/* ---- Avro ---- */

#define SR_DOUBLE CDC_FIXTURES "/../doubles/schema_registry.py"

static pid_t         sr_pid;
static int           sr_port;
static char          sr_url[64];
static sr_conf       rconf;
static sch_avro_opts aopts;

static void
avro_suite_setup(void)
{
    int   fds[2];
    FILE *f;
    char  line[64];

    cdc_log_set_level(CDC_LOG_OFF);
    if (system("command -v python3 >/dev/null 2>&1") != 0 || pipe(fds) != 0) {
        fprintf(stderr, "test_message: SKIP avro: python3 not found\n");
        return;
    }
    sr_pid = fork();
    if (sr_pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execlp("python3", "python3", SR_DOUBLE, "--port", "0", (char *) NULL);
        _exit(127);
    }
    close(fds[1]);
    f = fdopen(fds[0], "r");
    ck_assert_msg(f && fgets(line, sizeof(line), f) && sscanf(line, "PORT %d", &sr_port) == 1,
                  "cannot start %s", SR_DOUBLE);
    fclose(f);
    snprintf(sr_url, sizeof(sr_url), "http://127.0.0.1:%d", sr_port);
}

static void
avro_suite_teardown(void)
{
    if (sr_pid > 0) {
        kill(sr_pid, SIGTERM);
        waitpid(sr_pid, NULL, 0);
    }
    sr_pid = 0;
}

static void
avro_setup(void)
{
    setup();
    rconf = (sr_conf) { .url = sr_url, .max_attempts = 1, .initial_wait_s = 0.01,
                        .max_wait_s = 0.05, .timeout_ms = 5000 };
    sch_avro_opts_default(&aopts);
    aopts.server_name = "dbserver1";
    aopts.database = "appdb";
    conf.registry = &rconf;
    conf.avro = &aopts;
}

static sch_msg_enc *
avro_enc(void)
{
    cdc_err      err = { 0 };
    sch_msg_enc *e = sch_msg_enc_new(&conf, &err);

    ck_assert_msg(e != NULL, "%s", err.msg);
    return e;
}

static uint32_t
frame_id(const void *p)
{
    const uint8_t *b = p;

    ck_assert_uint_eq(b[0], 0);
    return (uint32_t) b[1] << 24 | (uint32_t) b[2] << 16 | (uint32_t) b[3] << 8 | b[4];
}

START_TEST(avro_insert_as_avro_reg_encodes_it)
{
    sch_msg_enc  *e;
    sch_avro_reg *ar;
    cdc_event     ev = insert_alice();
    sch_msg       m;
    cdc_err       err = { 0 };
    cdc_buf       k = CDC_BUF_INIT, v = CDC_BUF_INIT;

    if (sr_pid <= 0)
        return;
    e = avro_enc();
    ar = sch_avro_reg_new(&rconf, &aopts, false, &err);
    ck_assert_msg(ar != NULL, "%s", err.msg);
    ck_assert_msg(sch_msg_encode(e, &ev, "dbserver1.public.customers", &m, &err) == 0, "%s",
                  err.msg);
    ck_assert_msg(sch_avro_reg_encode(ar, &ev, "dbserver1.public.customers", 1714558531000000,
                                      &k, &v, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(m.content_type, "application/avro");
    ck_assert(!m.null_key && !m.null_value);
    ck_assert_uint_eq(m.key_len, k.len);
    ck_assert(memcmp(m.key, k.data, k.len) == 0);
    /* the value differs in the processing time only: the same frame, the same source */
    ck_assert_uint_eq(m.value_schema_id, frame_id(v.data));
    ck_assert_uint_eq(m.key_schema_id, frame_id(k.data));
    ck_assert_uint_ne(m.key_schema_id, 0);
    ck_assert_uint_ne(m.value_schema_id, m.key_schema_id);
    ck_assert_uint_eq(frame_id(m.value), m.value_schema_id);
    ck_assert(memcmp(m.value, v.data, 40) == 0);
    /* the headers are the JSON transport's */
    ck_assert_int_eq(m.nhdrs, 3);
    assert_hdr(&m, "cdc.commit_lsn", "23803720");
    assert_hdr(&m, "cdc.xid", "571");
    cdc_buf_free(&k);
    cdc_buf_free(&v);
    sch_avro_reg_free(ar);
    sch_msg_enc_free(e);
}
END_TEST

START_TEST(avro_null_key_and_value)
{
    sch_msg_enc *e;
    cdc_event    ev = insert_alice();
    sch_msg      m;
    cdc_err      err = { 0 };

    if (sr_pid <= 0)
        return;
    e = avro_enc();
    ev.op = CDC_OP_TOMBSTONE;
    ev.before = ev.after;
    ev.after = NULL;
    ck_assert_msg(sch_msg_encode(e, &ev, "dbserver1.public.customers", &m, &err) == 0, "%s",
                  err.msg);
    ck_assert(m.null_value && m.value == NULL && m.value_len == 0 && m.value_schema_id == 0);
    ck_assert(!m.null_key && m.key_schema_id != 0);
    ev = insert_alice();
    ev.op = CDC_OP_TRUNCATE;
    ev.after = NULL;
    ck_assert_msg(sch_msg_encode(e, &ev, "dbserver1.public.customers", &m, &err) == 0, "%s",
                  err.msg);
    ck_assert(m.null_key && m.key == NULL && m.key_schema_id == 0);
    ck_assert(!m.null_value && m.value_schema_id != 0);
    sch_msg_enc_free(e);
}
END_TEST

START_TEST(avro_heartbeat)
{
    sch_msg_enc  *e;
    sch_avro_reg *ar;
    sch_msg       m;
    cdc_err       err = { 0 };
    cdc_buf       k = CDC_BUF_INIT, v = CDC_BUF_INIT;

    if (sr_pid <= 0)
        return;
    e = avro_enc();
    ar = sch_avro_reg_new(&rconf, &aopts, false, &err);
    ck_assert_msg(sch_msg_heartbeat(e, "__debezium-heartbeat.dbserver1", "dbserver1", 77, &m,
                                    &err) == 0, "%s", err.msg);
    ck_assert_msg(sch_avro_reg_heartbeat(ar, "__debezium-heartbeat.dbserver1", "dbserver1", 77,
                                         &k, &v, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(m.content_type, "application/avro");
    ck_assert_int_eq(m.nhdrs, 0);
    ck_assert(m.key_len == k.len && memcmp(m.key, k.data, k.len) == 0);
    ck_assert(m.value_len == v.len && memcmp(m.value, v.data, v.len) == 0);
    ck_assert_uint_eq(m.key_schema_id, frame_id(k.data));
    ck_assert_uint_eq(m.value_schema_id, frame_id(v.data));
    cdc_buf_free(&k);
    cdc_buf_free(&v);
    sch_avro_reg_free(ar);
    sch_msg_enc_free(e);
}
END_TEST

START_TEST(avro_tx_records)
{
    sch_msg_enc  *e;
    sch_avro_reg *ar;
    cdc_event     ev = insert_alice();
    sch_txm       ref = { 0 };
    sch_msg       m;
    cdc_err       err = { 0 };
    cdc_buf       k = CDC_BUF_INIT, v = CDC_BUF_INIT;
    uint32_t      kid, vid;

    if (sr_pid <= 0)
        return;
    e = avro_enc();
    ar = sch_avro_reg_new(&rconf, &aopts, false, &err);
    txn.begin_lsn = 100;
    txn.end_lsn = 200;
    txn.commit_ts_us = 1714558530123456;
    ck_assert(sch_msg_tx_due(e, ev.pos.lsn, false));
    sch_msg_tx_count(e, &ev);
    ck_assert(sch_msg_tx_due(e, ev.pos.lsn, true));
    ck_assert_msg(sch_msg_tx_record(e, &txn, true, "dbserver1.transaction", &m, &err) == 0, "%s",
                  err.msg);
    ck_assert_msg(sch_avro_reg_register_pair(ar, "dbserver1.transaction", sch_txm_avro_key_schema,
                                             sch_txm_avro_value_schema, &kid, &vid, &err) == 0,
                  "%s", err.msg);
    sch_txm_enter(&ref, txn.commit_lsn);
    sch_txm_count(&ref, &ev);
    sch_txm_avro(&k, &v, &ref, true, "571:200", 1714558530123, kid, vid);
    ck_assert_str_eq(m.content_type, "application/avro");
    ck_assert_uint_eq(m.key_schema_id, kid);
    ck_assert_uint_eq(m.value_schema_id, vid);
    ck_assert(m.key_len == k.len && memcmp(m.key, k.data, k.len) == 0);
    ck_assert(m.value_len == v.len && memcmp(m.value, v.data, v.len) == 0);
    cdc_buf_free(&k);
    cdc_buf_free(&v);
    sch_txm_free(&ref);
    sch_avro_reg_free(ar);
    sch_msg_enc_free(e);
}
END_TEST

/* A loopback port nothing listens on (bound, then closed). */
static int
closed_port(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t          n = sizeof(a);
    int                s = socket(AF_INET, SOCK_STREAM, 0), port;

    ck_assert(bind(s, (struct sockaddr *) &a, sizeof(a)) == 0);
    ck_assert(getsockname(s, (struct sockaddr *) &a, &n) == 0);
    port = ntohs(a.sin_port);
    close(s);
    return port;
}

START_TEST(avro_registry_unreachable_is_retriable)
{
    char         url[64];
    sch_msg_enc *e;
    cdc_event    ev = insert_alice();
    sch_msg      m;
    cdc_err      err = { 0 };

    snprintf(url, sizeof(url), "http://127.0.0.1:%d", closed_port());
    rconf.url = url;
    e = avro_enc();
    ck_assert_int_eq(sch_msg_encode(e, &ev, "dbserver1.public.customers", &m, &err), -1);
    ck_assert_msg(err.code == CDC_E_CONN || err.code == CDC_E_TIMEOUT, "code %d: %s", err.code,
                  err.msg);
    ck_assert_msg(strstr(err.msg, "dbserver1.public.customers-") != NULL, "%s", err.msg);
    sch_msg_enc_free(e);
}
END_TEST

START_TEST(avro_needs_its_options)
{
    cdc_err err = { 0 };

    conf.avro = NULL;
    ck_assert_ptr_null(sch_msg_enc_new(&conf, &err));
    ck_assert_int_eq(err.code, CDC_E_INVAL);
}
END_TEST

static Suite *
message_suite(void)
{
    Suite *s = suite_create("message");
    TCase *tc = tcase_create("json");

    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, insert_payload_only);
    tcase_add_test(tc, insert_with_schemas);
    tcase_add_test(tc, schemas_follow_the_relation_version);
    tcase_add_test(tc, tombstone_has_null_value);
    tcase_add_test(tc, null_keys);
    tcase_add_test(tc, logical_message_has_a_key);
    suite_add_tcase(s, tc);

    tc = tcase_create("headers");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, position_headers);
    tcase_add_test(tc, key_change_headers);
    tcase_add_test(tc, key_header_keeps_non_bmp_raw);
    tcase_add_test(tc, heartbeat_payload_only);
    tcase_add_test(tc, heartbeat_with_schemas);
    suite_add_tcase(s, tc);

    tc = tcase_create("names");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_loop_test(tc, bus_names, 0, (int) (sizeof(name_cases) / sizeof(name_cases[0])));
    tcase_add_test(tc, bus_name_of_a_message_and_other_separators);
    tcase_add_test(tc, no_conf_is_an_error);
    suite_add_tcase(s, tc);

    tc = tcase_create("txmeta");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, tx_begin_blocks_end);
    tcase_add_test(tc, tx_not_for_snapshots_and_plain_messages);
    tcase_add_test(tc, tx_names);
    suite_add_tcase(s, tc);

    tc = tcase_create("avro");
    tcase_add_unchecked_fixture(tc, avro_suite_setup, avro_suite_teardown);
    tcase_add_checked_fixture(tc, avro_setup, NULL);
    tcase_add_test(tc, avro_insert_as_avro_reg_encodes_it);
    tcase_add_test(tc, avro_null_key_and_value);
    tcase_add_test(tc, avro_heartbeat);
    tcase_add_test(tc, avro_tx_records);
    tcase_add_test(tc, avro_registry_unreachable_is_retriable);
    tcase_add_test(tc, avro_needs_its_options);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(message_suite());
    int      failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
