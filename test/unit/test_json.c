/*
 * Suite "json": the JsonConverter-compatible encoder (schemas/json.c,
 * json_schema.c) and the topic namer, against CONTRACT.md section 8's
 * worked examples in the Debezium 2.7 profile, plus one case per Connect
 * type, TOAST placeholders, NULL-with-default, tombstones, truncates,
 * logical messages and string escaping.
 */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_buf.h"
#include "schemas/json.h"
#include "schemas/record.h"
#include "schemas/topic.h"
#include "test/lib/model.h"

/* ---- the customers table of CONTRACT.md 8 ---- */

static const uint8_t balance_1250[] = { 0x04, 0xE2 };   /* 12.50 */
static const uint8_t balance_9999[] = { 0x27, 0x0F };   /* 99.99 */

static cdc_col cust_cols[5];
static cdc_rel cust;
static cdc_txn txn;
static sch_json_opts opts;

static void
setup_customers(void)
{
    tm_customers(&cust, cust_cols);
    sch_json_opts_default(&opts);
    opts.server_name = "dbserver1";
    opts.database = "appdb";
}

static cdc_value alice[5];

static const cdc_value *
alice_row(const char *email, const uint8_t *bal)
{
    return tm_alice(alice, email, bal);
}

/* An event of the customers table. */
static cdc_event
event(cdc_op op, uint32_t xid, uint64_t prev, uint64_t lsn, int64_t ts_us)
{
    return tm_event(&txn, &cust, op, xid, prev, lsn, ts_us);
}

/* ---- comparison helpers ---- */

static char *
render_value(const cdc_event *ev, int64_t now_us)
{
    cdc_buf b = CDC_BUF_INIT;

    sch_json_value(&b, ev, &opts, now_us);
    ck_assert(!cdc_buf_failed(&b));
    return (char *) b.data;
}

static char *
render_key(const cdc_event *ev)
{
    cdc_buf b = CDC_BUF_INIT;

    sch_json_key(&b, ev, &opts);
    ck_assert(!cdc_buf_failed(&b));
    return (char *) b.data;
}

static json_t *
parse(const char *text)
{
    json_error_t e;
    json_t      *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);

    ck_assert_msg(j != NULL, "invalid JSON (%s) in: %s", e.text, text);
    return j;
}

/*
 * Asserts that got equals want as JSON (json_equal) and has the same keys
 * in the same order (jansson keeps insertion order, so the compact dumps of
 * the two must be the same text).  Envelope ts_ms/ts_us/ts_ns are ignored.
 */
static void
assert_json_same(const char *got, const char *want, bool drop_envelope_ts)
{
    json_t *g = parse(got), *w = parse(want);
    char   *gs, *ws;

    if (drop_envelope_ts) {
        static const char *const ts[] = { "ts_ms", "ts_us", "ts_ns" };

        for (int i = 0; i < 3; i++) {
            ck_assert_msg(json_object_get(g, ts[i]) != NULL, "envelope %s missing", ts[i]);
            json_object_del(g, ts[i]);
            json_object_del(w, ts[i]);
        }
    }
    ck_assert_msg(json_equal(g, w), "JSON differs:\n got: %s\nwant: %s", got, want);
    gs = json_dumps(g, JSON_COMPACT | JSON_ENCODE_ANY);
    ws = json_dumps(w, JSON_COMPACT | JSON_ENCODE_ANY);
    ck_assert_msg(strcmp(gs, ws) == 0, "key order differs:\n got: %s\nwant: %s", gs, ws);
    free(gs);
    free(ws);
    json_decref(g);
    json_decref(w);
}

#define SOURCE_27(ts_ms, seq, ts_us, txid, lsn)                                                \
    "\"source\":{\"version\":\"2.7.3.Final\",\"connector\":\"postgresql\","                    \
    "\"name\":\"dbserver1\",\"ts_ms\":" ts_ms ",\"snapshot\":\"false\",\"db\":\"appdb\","     \
    "\"sequence\":" seq ",\"ts_us\":" ts_us ",\"ts_ns\":" ts_us "000,"                         \
    "\"schema\":\"public\",\"table\":\"customers\",\"txId\":" txid ",\"lsn\":" lsn            \
    ",\"xmin\":null}"

/* ---- CONTRACT.md 8.4 - 8.7 ---- */

START_TEST(insert_8_4)
{
    cdc_event ev = event(CDC_OP_CREATE, 555, 24023000, 24023128, 1714558530200123);
    char     *got, *key;

    ev.after = alice_row("alice@example.com", balance_1250);
    got = render_value(&ev, 1714558530412345);
    assert_json_same(got,
        "{\"before\":null,"
        "\"after\":{\"id\":1,\"name\":\"Alice\",\"email\":\"alice@example.com\","
        "\"balance\":\"BOI=\",\"created_at\":\"2024-05-01T10:15:30.123456Z\"},"
        SOURCE_27("1714558530200", "\"[\\\"24023000\\\",\\\"24023128\\\"]\"",
                  "1714558530200123", "555", "24023128")
        ",\"transaction\":null,\"op\":\"c\","
        "\"ts_ms\":1714558530412,\"ts_us\":1714558530412345,\"ts_ns\":1714558530412345678}",
        true);
    /* the envelope timestamps come from one instant */
    ck_assert_ptr_nonnull(strstr(got, "\"ts_ms\":1714558530412,\"ts_us\":1714558530412345,"
                                      "\"ts_ns\":1714558530412345000}"));
    key = render_key(&ev);
    ck_assert_str_eq(key, "{\"id\":1}");
    free(got);
    free(key);
}
END_TEST

START_TEST(update_8_5)
{
    cdc_event ev = event(CDC_OP_UPDATE, 556, 24023200, 24023400, 1714558800100456);
    char     *got;

    ev.after = alice_row("a@x.io", balance_9999);
    got = render_value(&ev, 1714558800230111);
    assert_json_same(got,
        "{\"before\":null,"
        "\"after\":{\"id\":1,\"name\":\"Alice\",\"email\":\"a@x.io\",\"balance\":\"Jw8=\","
        "\"created_at\":\"2024-05-01T10:15:30.123456Z\"},"
        SOURCE_27("1714558800100", "\"[\\\"24023200\\\",\\\"24023400\\\"]\"",
                  "1714558800100456", "556", "24023400")
        ",\"transaction\":null,\"op\":\"u\",\"ts_ms\":0,\"ts_us\":0,\"ts_ns\":0}",
        true);
    free(got);
}
END_TEST

START_TEST(delete_8_6_and_tombstone)
{
    cdc_event ev = event(CDC_OP_DELETE, 557, 24023500, 24023700, 1714559100050789);
    cdc_value old[5] = { tm_int(1), tm_null(), tm_null(), tm_null(), tm_null() };
    char     *got, *key;

    ev.before = old;
    ev.key = old;
    got = render_value(&ev, 1714559100160222);
    assert_json_same(got,
        "{\"before\":{\"id\":1,\"name\":null,\"email\":null,\"balance\":null,"
        "\"created_at\":null},\"after\":null,"
        SOURCE_27("1714559100050", "\"[\\\"24023500\\\",\\\"24023700\\\"]\"",
                  "1714559100050789", "557", "24023700")
        ",\"transaction\":null,\"op\":\"d\",\"ts_ms\":0,\"ts_us\":0,\"ts_ns\":0}",
        true);
    free(got);

    ev.op = CDC_OP_TOMBSTONE;
    got = render_value(&ev, 1);
    ck_assert_str_eq(got, "null");
    key = render_key(&ev);
    ck_assert_str_eq(key, "{\"id\":1}");
    free(got);
    free(key);
}
END_TEST

START_TEST(snapshot_8_7)
{
    cdc_event ev = event(CDC_OP_READ, 550, 24000000, 24022000, 1714558000000000);
    json_t   *j, *src;
    char     *got;

    ev.snapshot = "first";
    ev.after = alice_row("alice@example.com", balance_1250);
    got = render_value(&ev, 1714558000000500);
    j = parse(got);
    src = json_object_get(j, "source");
    ck_assert_str_eq(json_string_value(json_object_get(src, "snapshot")), "first");
    ck_assert_str_eq(json_string_value(json_object_get(src, "sequence")),
                     "[null,\"24022000\"]");
    ck_assert_int_eq(json_integer_value(json_object_get(src, "lsn")), 24022000);
    ck_assert_int_eq(json_integer_value(json_object_get(src, "txId")), 550);
    ck_assert_str_eq(json_string_value(json_object_get(j, "op")), "r");
    ck_assert(json_is_null(json_object_get(j, "before")));
    json_decref(j);
    free(got);

    /* incremental snapshot rows carry no txId and no lsn */
    ev.snapshot = "incremental";
    got = render_value(&ev, 1);
    ck_assert_ptr_nonnull(strstr(got, "\"txId\":null,\"lsn\":null,\"xmin\":null}"));
    free(got);
}
END_TEST

START_TEST(unknown_lsns_are_null)
{
    cdc_event ev = event(CDC_OP_CREATE, 9, 0, 24023128, 0);
    char     *got;

    ev.after = alice_row("a", balance_1250);
    got = render_value(&ev, 0);
    ck_assert_ptr_nonnull(strstr(got, "\"sequence\":\"[null,\\\"24023128\\\"]\""));
    free(got);
    ev.lsn = 0;
    ev.txn = NULL;
    got = render_value(&ev, 0);
    ck_assert_ptr_nonnull(strstr(got, "\"sequence\":\"[null,null]\""));
    ck_assert_ptr_nonnull(strstr(got, "\"txId\":null,\"lsn\":null,"));
    free(got);
}
END_TEST

/* put_source remembers the last source block: any difference must show. */
START_TEST(source_block_memo)
{
    cdc_event ev = event(CDC_OP_READ, 550, 24000000, 24022000, 1714558000000000);
    char      db[8] = "appdb";
    char     *a, *b;

    ev.snapshot = "true";
    ev.after = alice_row("a", balance_1250);
    a = render_value(&ev, 1);
    b = render_value(&ev, 1);
    ck_assert_str_eq(a, b);     /* the same event: the remembered text */
    free(b);
    ev.lsn = 24022001;          /* the LSN alone */
    b = render_value(&ev, 1);
    ck_assert_ptr_nonnull(strstr(b, "\"lsn\":24022001,"));
    ck_assert_ptr_nonnull(strstr(b, "\"sequence\":\"[null,\\\"24022001\\\"]\""));
    free(b);
    ev.lsn = 24022000;
    ev.snapshot = "last";       /* the marker alone */
    b = render_value(&ev, 1);
    ck_assert_ptr_nonnull(strstr(b, "\"snapshot\":\"last\""));
    free(b);
    ev.snapshot = "true";
    b = render_value(&ev, 1);
    ck_assert_str_eq(a, b);
    free(b);
    /* the same database pointer with other contents */
    opts.database = db;
    b = render_value(&ev, 1);
    ck_assert_ptr_nonnull(strstr(b, "\"db\":\"appdb\""));
    free(b);
    memcpy(db, "otherdb", 8);
    b = render_value(&ev, 1);
    ck_assert_ptr_nonnull(strstr(b, "\"db\":\"otherdb\""));
    free(b);
    opts.database = "appdb";
    txn.xid = 551;              /* the transaction id alone */
    b = render_value(&ev, 1);
    ck_assert_ptr_nonnull(strstr(b, "\"txId\":551,"));
    free(b);
    free(a);
}
END_TEST

/* The event times are remembered per thread by their value: each text is its own. */
START_TEST(event_times_memo)
{
    static const int64_t nows[] = { 1714558000123456, 1714558000123456, 1714558000123457, 0,
                                    1714558000123456, -1500, INT64_MAX, INT64_MAX };
    cdc_event ev = event(CDC_OP_READ, 550, 24000000, 24022000, 1714558000000000);

    ev.snapshot = "true";
    ev.after = alice_row("a", balance_1250);
    for (size_t i = 0; i < sizeof(nows) / sizeof(nows[0]); i++) {
        char  want[160], ns[24];
        char *v = render_value(&ev, nows[i]);

        if (nows[i] == INT64_MAX)
            snprintf(ns, sizeof(ns), "null");       /* past what nanoseconds hold */
        else
            snprintf(ns, sizeof(ns), "%lld", (long long) nows[i] * 1000);
        snprintf(want, sizeof(want), ",\"ts_ms\":%lld,\"ts_us\":%lld,\"ts_ns\":%s}",
                 (long long) (nows[i] >= 0 ? nows[i] / 1000 : -((-nows[i] + 999) / 1000)),
                 (long long) nows[i], ns);
        ck_assert_msg(strstr(v, want) != NULL, "now %lld: %s", (long long) nows[i], v);
        free(v);
    }
}
END_TEST

/* The record's metadata is remembered per thread but for seq: every field, and the
   topic's bytes at the same address, still decide it (against snprintf). */
START_TEST(record_metadata_memo)
{
    cdc_event ev = event(CDC_OP_READ, 550, 24000000, 24022000, 1714558000000000);
    char      topic[32] = "dbserver1.public.customers";
    struct { uint64_t lsn, commit, seq; int xid; char op; unsigned flags; const char *t; } st[] = {
        { 24022000, 24022100, 0, 550, 'r', SCH_RECORD_DETAIL, NULL },
        { 24022000, 24022100, 1, 550, 'r', SCH_RECORD_DETAIL, NULL },
        { 24022000, 24022100, 2, 550, 'r', SCH_RECORD_DETAIL, "dbserver1.public.orders" },
        { 24022000, 24022100, 3, 550, 'r', SCH_RECORD_DETAIL, "dbserver1.public.orderz" },
        { 24022001, 24022100, 3, 550, 'r', SCH_RECORD_DETAIL, NULL },
        { 24022001, 24022101, 3, 550, 'r', SCH_RECORD_DETAIL, NULL },
        { 24022001, 24022101, 3, 551, 'r', SCH_RECORD_DETAIL, NULL },
        { 24022001, 24022101, 3, -1, 'r', SCH_RECORD_DETAIL, NULL },      /* no transaction */
        { 24022001, 24022101, 3, 551, 'c', SCH_RECORD_DETAIL, NULL },
        { 24022001, 24022101, 3, 551, 'c', 0, NULL },
        { 24022001, 24022101, UINT64_MAX, 551, 'c', SCH_RECORD_DETAIL, NULL },
    };

    ev.after = alice_row("a", balance_1250);
    for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
        cdc_buf b = CDC_BUF_INIT;
        char    want[400], xid[16];

        if (st[i].t)
            strcpy(topic, st[i].t);
        ev.lsn = st[i].lsn;
        ev.pos.lsn = st[i].commit;
        ev.pos.seq = st[i].seq;
        ev.op = (cdc_op) st[i].op;
        txn.xid = (uint32_t) st[i].xid;
        ev.txn = st[i].xid < 0 ? NULL : &txn;
        snprintf(xid, sizeof(xid), st[i].xid < 0 ? "null" : "%d", st[i].xid);
        if (st[i].flags)
            snprintf(want, sizeof(want), ",\"metadata\":{\"topic\":\"%s\",\"partition\":0,"
                     "\"offset\":%llu,\"lsn\":\"%X/%X\",\"commit_lsn\":%llu,\"seq\":%llu,"
                     "\"xid\":%s,\"op\":\"%c\"}}", topic, (unsigned long long) st[i].lsn,
                     (unsigned) (st[i].lsn >> 32), (unsigned) st[i].lsn,
                     (unsigned long long) st[i].commit, (unsigned long long) st[i].seq, xid,
                     st[i].op);
        else
            snprintf(want, sizeof(want), ",\"metadata\":{\"topic\":\"%s\",\"partition\":0,"
                     "\"offset\":%llu,\"commit_lsn\":%llu,\"seq\":%llu}}", topic,
                     (unsigned long long) st[i].lsn, (unsigned long long) st[i].commit,
                     (unsigned long long) st[i].seq);
        sch_record_put(&b, &ev, &opts, topic, 1, st[i].flags, NULL);
        ck_assert_msg(b.len > strlen(want) &&
                      strcmp(cdc_buf_str(&b) + b.len - strlen(want), want) == 0,
                      "step %zu: got %s, want the end %s", i, cdc_buf_str(&b), want);
        cdc_buf_free(&b);
    }
    ev.txn = &txn;
}
END_TEST

/* CONTRACT.md 8.3, exactly. */
START_TEST(key_schema_8_3)
{
    cdc_event ev = event(CDC_OP_CREATE, 555, 24023000, 24023128, 1714558530200123);
    char     *key;

    opts.schemas_enable = true;
    ev.after = alice_row("alice@example.com", balance_1250);
    key = render_key(&ev);
    ck_assert_str_eq(key,
        "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"int32\",\"optional\":false,"
        "\"default\":0,\"field\":\"id\"}],\"optional\":false,"
        "\"name\":\"dbserver1.public.customers.Key\"},\"payload\":{\"id\":1}}");
    free(key);
}
END_TEST

START_TEST(value_schema_8_3)
{
    cdc_event ev = event(CDC_OP_CREATE, 555, 24023000, 24023128, 1714558530200123);
    json_t   *j, *schema, *fields;
    char     *got;
    static const char *const names[] = { "before", "after", "source", "transaction",
                                         "op", "ts_ms", "ts_us", "ts_ns" };

    opts.schemas_enable = true;
    ev.after = alice_row("alice@example.com", balance_1250);
    got = render_value(&ev, 1714558530412345);
    j = parse(got);
    ck_assert_int_eq(json_object_size(j), 2);
    schema = json_object_get(j, "schema");
    ck_assert_str_eq(json_string_value(json_object_get(schema, "name")),
                     "dbserver1.public.customers.Envelope");
    ck_assert_int_eq(json_integer_value(json_object_get(schema, "version")), 2);
    fields = json_object_get(schema, "fields");
    ck_assert_int_eq(json_array_size(fields), 8);
    for (size_t i = 0; i < 8; i++)
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(fields, i), "field")),
                         names[i]);
    ck_assert_ptr_nonnull(strstr(got,
        "{\"type\":\"bytes\",\"optional\":true,\"name\":\"org.apache.kafka.connect.data.Decimal\","
        "\"version\":1,\"parameters\":{\"scale\":\"2\",\"connect.decimal.precision\":\"10\"},"
        "\"field\":\"balance\"}"));
    ck_assert_ptr_nonnull(strstr(got,
        "{\"type\":\"string\",\"optional\":true,\"name\":\"io.debezium.data.Enum\",\"version\":1,"
        "\"parameters\":{\"allowed\":\"true,last,false,incremental\"},\"default\":\"false\","
        "\"field\":\"snapshot\"}"));
    ck_assert_ptr_nonnull(strstr(got,
        "{\"type\":\"string\",\"optional\":true,\"name\":\"io.debezium.time.ZonedTimestamp\","
        "\"version\":1,\"field\":\"created_at\"}"));
    ck_assert_ptr_nonnull(strstr(got,
        "],\"optional\":true,\"name\":\"event.block\",\"version\":1,\"field\":\"transaction\"}"));
    ck_assert_ptr_nonnull(strstr(got,
        "],\"optional\":true,\"name\":\"dbserver1.public.customers.Value\",\"field\":\"before\"}"));
    ck_assert_ptr_nonnull(strstr(got,
        "],\"optional\":false,\"name\":\"io.debezium.connector.postgresql.Source\","
        "\"field\":\"source\"}"));
    /* the payload is the schemas.enable=false value */
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(
                         json_object_get(j, "payload"), "after"), "balance")), "BOI=");
    json_decref(j);
    free(got);
}
END_TEST

/* ---- one column of each type ---- */

static cdc_col  one_col;
static cdc_rel  one_rel;

/* Renders a one-column row and returns the text of the column's value. */
static char *
render_one(cdc_ctype t, const cdc_value *v)
{
    cdc_event ev = { .op = CDC_OP_CREATE, .rel = &one_rel, .lsn = 1, .after = v };
    char     *full, *start, *end, *out;

    one_col = (cdc_col) { .name = "c", .ctype = t };
    one_rel = (cdc_rel) { .nspname = "s", .relname = "t", .ncols = 1, .cols = &one_col,
                          .topic = "p.s.t" };
    full = render_value(&ev, 0);
    start = strstr(full, "\"after\":{\"c\":");
    ck_assert_ptr_nonnull(start);
    start += strlen("\"after\":{\"c\":");
    end = strstr(start, "},\"source\":");
    ck_assert_ptr_nonnull(end);
    out = strndup(start, (size_t) (end - start));
    free(full);
    return out;
}

static const uint8_t bytes_3[] = { 0xFF, 0x00, 0x7F };
static const uint8_t vdec[] = { 0x30, 0x39 };   /* 12345 */
static const cdc_value int_items[] = {
    { .state = CDC_VAL_PRESENT, .u.i = 1 }, { .state = CDC_VAL_NULL },
    { .state = CDC_VAL_PRESENT, .u.i = -3 } };
static const cdc_value str_items[] = {
    { .state = CDC_VAL_PRESENT, .u.s = { "a\"", 2, 0 } }, { .state = CDC_VAL_NULL } };
static const cdc_value dbl_items[] = { { .state = CDC_VAL_PRESENT, .u.f = 2.5 } };

static const struct {
    const char *what;
    cdc_ctype   t;
    cdc_value   v;
    const char *want;
} cases[] = {
    { "bool", { true, CDC_CT_BOOLEAN, 0, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.b = true }, "true" },
    { "bool false", { true, CDC_CT_BOOLEAN, 0, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.b = false }, "false" },
    { "int8", { true, CDC_CT_INT8, 0, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL }, { CDC_VAL_PRESENT, .u.i = -5 }, "-5" },
    { "int16", { true, CDC_CT_INT16, 0, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.i = 32767 }, "32767" },
    { "int32 date", { true, CDC_CT_INT32, CDC_SEM_DATE, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.i = 19844 }, "19844" },
    { "int64 min", { true, CDC_CT_INT64, 0, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.i = INT64_MIN }, "-9223372036854775808" },
    { "int64 micro ts", { true, CDC_CT_INT64, CDC_SEM_MICRO_TIMESTAMP, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.i = 1714558530123456 }, "1714558530123456" },
    { "double 1.5", { true, CDC_CT_FLOAT64, 0, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.f = 1.5 }, "1.5" },
    { "double 100", { true, CDC_CT_FLOAT64, 0, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.f = 100.0 }, "100.0" },
    { "double 0.1", { true, CDC_CT_FLOAT64, 0, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.f = 0.1 }, "0.1" },
    { "double 1e7", { true, CDC_CT_FLOAT64, 0, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.f = 1e7 }, "1.0E7" },
    { "double 9999999.5", { true, CDC_CT_FLOAT64, 0, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.f = 9999999.5 }, "9999999.5" },
    { "double 0.001", { true, CDC_CT_FLOAT64, 0, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.f = 0.001 }, "0.001" },
    { "double 1.25e-4", { true, CDC_CT_FLOAT64, 0, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.f = -1.25e-4 }, "-1.25E-4" },
    { "double 1e300", { true, CDC_CT_FLOAT64, 0, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.f = 1e300 }, "1.0E300" },
    { "double pi", { true, CDC_CT_FLOAT64, 0, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.f = 3.141592653589793 }, "3.141592653589793" },
    { "double -0", { true, CDC_CT_FLOAT64, 0, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.f = -0.0 }, "-0.0" },
    { "double NaN", { true, CDC_CT_FLOAT64, 0, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.f = NAN }, "\"NaN\"" },
    { "double inf", { true, CDC_CT_FLOAT64, 0, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.f = INFINITY }, "\"Infinity\"" },
    { "double -inf", { true, CDC_CT_FLOAT64, 0, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.f = -INFINITY }, "\"-Infinity\"" },
    { "float 1.1 not widened", { true, CDC_CT_FLOAT32, 0, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.f = (double) 1.1f }, "1.1" },
    { "float max", { true, CDC_CT_FLOAT32, 0, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.f = 3.4028234663852886e38 }, "3.4028235E38" },
    { "float 2^24", { true, CDC_CT_FLOAT32, 0, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.f = 16777216.0 }, "1.6777216E7" },
    { "float NaN", { true, CDC_CT_FLOAT32, 0, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.f = NAN }, "\"NaN\"" },
    { "string", { true, CDC_CT_STRING, 0, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.s = { "h\"i", 3, 0 } }, "\"h\\\"i\"" },
    { "json", { true, CDC_CT_STRING, CDC_SEM_JSON, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.s = { "{\"a\": 1}", 8, 0 } }, "\"{\\\"a\\\": 1}\"" },
    { "uuid", { true, CDC_CT_STRING, CDC_SEM_UUID, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.s = { "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", 36, 0 } },
      "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"" },
    { "bytea", { true, CDC_CT_BYTES, 0, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.s = { (const char *) bytes_3, 3, 0 } }, "\"/wB/\"" },
    { "bytea empty", { true, CDC_CT_BYTES, 0, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.s = { "", 0, 0 } }, "\"\"" },
    { "decimal", { true, CDC_CT_BYTES, CDC_SEM_DECIMAL, 0, 0, 2, 10, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.s = { (const char *) balance_1250, 2, 0 } }, "\"BOI=\"" },
    { "bits", { true, CDC_CT_BYTES, CDC_SEM_BITS, 0, 0, 0, -1, 3, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.s = { "\x05", 1, 0 } }, "\"BQ==\"" },
    { "variable decimal", { true, CDC_CT_STRUCT, CDC_SEM_VARIABLE_DECIMAL, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.s = { (const char *) vdec, 2, 3 } },
      "{\"scale\":3,\"value\":\"MDk=\"}" },
    { "point", { true, CDC_CT_STRUCT, CDC_SEM_POINT, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.pt = { 1.0, 2.0 } },
      "{\"x\":1.0,\"y\":2.0,\"wkb\":\"AQEAAAAAAAAAAADwPwAAAAAAAABA\",\"srid\":null}" },
    { "int[] with null", { true, CDC_CT_ARRAY, 0, CDC_CT_INT32, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.arr = { int_items, 3 } }, "[1,null,-3]" },
    { "text[] with null", { true, CDC_CT_ARRAY, 0, CDC_CT_STRING, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.arr = { str_items, 2 } }, "[\"a\\\"\",null]" },
    { "float8[]", { true, CDC_CT_ARRAY, 0, CDC_CT_FLOAT64, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.arr = { dbl_items, 1 } }, "[2.5]" },
    { "empty array", { true, CDC_CT_ARRAY, 0, CDC_CT_INT64, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { CDC_VAL_PRESENT, .u.arr = { NULL, 0 } }, "[]" },
    { "null", { true, CDC_CT_STRING, 0, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL }, { .state = CDC_VAL_NULL }, "null" },
    /* unchanged TOAST (CONTRACT.md 4.6) */
    { "toast text", { true, CDC_CT_STRING, 0, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL }, { .state = CDC_VAL_UNCHANGED },
      "\"__debezium_unavailable_value\"" },
    { "toast jsonb", { true, CDC_CT_STRING, CDC_SEM_JSON, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { .state = CDC_VAL_UNCHANGED }, "\"__debezium_unavailable_value\"" },
    { "toast bytea", { true, CDC_CT_BYTES, 0, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL }, { .state = CDC_VAL_UNCHANGED },
      "\"X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ==\"" },
    { "toast text[]", { true, CDC_CT_ARRAY, 0, CDC_CT_STRING, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { .state = CDC_VAL_UNCHANGED }, "[\"__debezium_unavailable_value\"]" },
    { "toast int[]", { true, CDC_CT_ARRAY, 0, CDC_CT_INT32, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { .state = CDC_VAL_UNCHANGED },
      "[95,95,100,101,98,101,122,105,117,109,95,117,110,97,118,97,105,108,97,98,108,101,95,"
      "118,97,108,117,101]" },
    { "toast uuid[]", { true, CDC_CT_ARRAY, 0, CDC_CT_STRING, CDC_SEM_UUID, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { .state = CDC_VAL_UNCHANGED }, "[\"b68a35a7-17ad-35b3-af2a-ae46edb4545a\"]" },
    { "toast float8[]", { true, CDC_CT_ARRAY, 0, CDC_CT_FLOAT64, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { .state = CDC_VAL_UNCHANGED }, "null" },
    { "toast varnumeric", { true, CDC_CT_STRUCT, CDC_SEM_VARIABLE_DECIMAL, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL },
      { .state = CDC_VAL_UNCHANGED }, "null" },
};

START_TEST(ctype_values)
{
    char *got = render_one(cases[_i].t, &cases[_i].v);

    ck_assert_msg(strcmp(got, cases[_i].want) == 0, "%s: got %s, want %s", cases[_i].what, got,
                  cases[_i].want);
    free(got);
}
END_TEST

START_TEST(custom_placeholder)
{
    cdc_value v = { .state = CDC_VAL_UNCHANGED };
    char     *got;

    opts.unavailable_placeholder = "??";
    got = render_one(tm_ct(CDC_CT_ARRAY, CDC_SEM_NONE), &v);    /* elem NONE: null */
    ck_assert_str_eq(got, "null");
    free(got);
    got = render_one(tm_ct(CDC_CT_STRING, CDC_SEM_NONE), &v);
    ck_assert_str_eq(got, "\"??\"");
    free(got);
}
END_TEST

/* ---- NULL and defaults (CONTRACT.md 3.5) ---- */

START_TEST(null_replaced_by_default)
{
    cdc_col   cols[3] = {
        { .name = "status", .ctype = tm_ct(CDC_CT_STRING, CDC_SEM_NONE), .has_default = true,
          .def = tm_str("new") },
        { .name = "n", .not_null = true, .ctype = tm_ct(CDC_CT_INT32, CDC_SEM_NONE),
          .has_default = true, .def = tm_int(7) },
        { .name = "m", .not_null = true, .ctype = tm_ct(CDC_CT_INT64, CDC_SEM_NONE) },
    };
    cdc_rel   rel = { .nspname = "s", .relname = "t", .ncols = 3, .cols = cols, .topic = "p.s.t" };
    cdc_value vals[3] = { tm_null(), tm_null(), tm_null() };
    cdc_event ev = { .op = CDC_OP_CREATE, .rel = &rel, .after = vals };
    char     *got;

    got = render_value(&ev, 0);
    ck_assert_ptr_nonnull(strstr(got, "\"after\":{\"status\":\"new\",\"n\":7,\"m\":0}"));
    free(got);

    /* replace.null.with.default=false: optional fields stay null; required
       ones hold their default already in Debezium's Struct */
    opts.replace_null_with_default = false;
    got = render_value(&ev, 0);
    ck_assert_ptr_nonnull(strstr(got, "\"after\":{\"status\":null,\"n\":7,\"m\":0}"));
    free(got);

    /* the default appears in the field schema too */
    opts.schemas_enable = true;
    got = render_value(&ev, 0);
    ck_assert_ptr_nonnull(strstr(got, "{\"type\":\"string\",\"optional\":true,\"default\":\"new\","
                                      "\"field\":\"status\"}"));
    ck_assert_ptr_nonnull(strstr(got, "{\"type\":\"int64\",\"optional\":false,\"field\":\"m\"}"));
    free(got);
}
END_TEST

START_TEST(unsupported_columns_omitted)
{
    cdc_col   cols[3] = {
        { .name = "a", .ctype = tm_ct(CDC_CT_INT32, CDC_SEM_NONE) },
        { .name = "weird", .ctype = { .supported = false } },
        { .name = "b", .ctype = tm_ct(CDC_CT_STRING, CDC_SEM_NONE) },
    };
    cdc_rel   rel = { .nspname = "s", .relname = "t", .ncols = 3, .cols = cols, .topic = "p.s.t" };
    cdc_value vals[3] = { tm_int(1), tm_str("x"), tm_str("y") };
    cdc_event ev = { .op = CDC_OP_CREATE, .rel = &rel, .after = vals };
    char     *got;

    got = render_value(&ev, 0);
    ck_assert_ptr_nonnull(strstr(got, "\"after\":{\"a\":1,\"b\":\"y\"}"));
    free(got);
    opts.schemas_enable = true;
    got = render_value(&ev, 0);
    ck_assert_ptr_null(strstr(got, "weird"));
    free(got);
}
END_TEST

/* ---- schemas for every semantic type ---- */

static const struct {
    cdc_ctype   t;
    const char *enum_labels;
    const char *want;   /* the field's schema node, without "field" */
} schema_cases[] = {
    { { true, CDC_CT_INT16, 0, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL }, NULL, "{\"type\":\"int16\",\"optional\":true" },
    { { true, CDC_CT_FLOAT32, 0, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL }, NULL, "{\"type\":\"float\",\"optional\":true" },
    { { true, CDC_CT_FLOAT64, 0, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL }, NULL,
      "{\"type\":\"double\",\"optional\":true" },
    { { true, CDC_CT_BYTES, CDC_SEM_DECIMAL, 0, 0, 2, -1, 0, 0, 0, NULL, 0, 0, NULL }, NULL,
      "{\"type\":\"bytes\",\"optional\":true,\"name\":\"org.apache.kafka.connect.data.Decimal\","
      "\"version\":1,\"parameters\":{\"scale\":\"2\"}" },
    { { true, CDC_CT_BYTES, CDC_SEM_BITS, 0, 0, 0, -1, 12, 0, 0, NULL, 0, 0, NULL }, NULL,
      "{\"type\":\"bytes\",\"optional\":true,\"name\":\"io.debezium.data.Bits\",\"version\":1,"
      "\"parameters\":{\"length\":\"12\"}" },
    { { true, CDC_CT_STRING, CDC_SEM_ENUM, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL }, "a,b",
      "{\"type\":\"string\",\"optional\":true,\"name\":\"io.debezium.data.Enum\",\"version\":1,"
      "\"parameters\":{\"allowed\":\"a,b\"}" },
    { { true, CDC_CT_STRUCT, CDC_SEM_VARIABLE_DECIMAL, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL }, NULL,
      "{\"type\":\"struct\",\"fields\":[{\"type\":\"int32\",\"optional\":false,\"field\":\"scale\"},"
      "{\"type\":\"bytes\",\"optional\":false,\"field\":\"value\"}],\"optional\":true,"
      "\"name\":\"io.debezium.data.VariableScaleDecimal\",\"version\":1,"
      "\"doc\":\"Variable scaled decimal\"" },
    { { true, CDC_CT_STRUCT, CDC_SEM_POINT, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL }, NULL,
      "{\"type\":\"struct\",\"fields\":[{\"type\":\"double\",\"optional\":false,\"field\":\"x\"},"
      "{\"type\":\"double\",\"optional\":false,\"field\":\"y\"},"
      "{\"type\":\"bytes\",\"optional\":true,\"field\":\"wkb\"},"
      "{\"type\":\"int32\",\"optional\":true,\"field\":\"srid\"}],\"optional\":true,"
      "\"name\":\"io.debezium.data.geometry.Point\",\"version\":1,\"doc\":\"Geometry (POINT)\"" },
    { { true, CDC_CT_ARRAY, 0, CDC_CT_STRING, CDC_SEM_ENUM, 0, -1, 0, 0, 0, NULL, 0, 0, NULL }, "x,y",
      "{\"type\":\"array\",\"items\":{\"type\":\"string\",\"optional\":false,"
      "\"name\":\"io.debezium.data.Enum\",\"version\":1,\"parameters\":{\"allowed\":\"x,y\"}},"
      "\"optional\":true" },
    { { true, CDC_CT_INT32, CDC_SEM_DATE, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL }, NULL,
      "{\"type\":\"int32\",\"optional\":true,\"name\":\"io.debezium.time.Date\",\"version\":1" },
    { { true, CDC_CT_INT32, CDC_SEM_TIME, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL }, NULL,
      "\"name\":\"io.debezium.time.Time\",\"version\":1" },
    { { true, CDC_CT_INT64, CDC_SEM_MICRO_TIME, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL }, NULL,
      "\"name\":\"io.debezium.time.MicroTime\",\"version\":1" },
    { { true, CDC_CT_INT64, CDC_SEM_NANO_TIME, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL }, NULL,
      "\"name\":\"io.debezium.time.NanoTime\",\"version\":1" },
    { { true, CDC_CT_STRING, CDC_SEM_ZONED_TIME, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL }, NULL,
      "\"name\":\"io.debezium.time.ZonedTime\",\"version\":1" },
    { { true, CDC_CT_INT64, CDC_SEM_TIMESTAMP, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL }, NULL,
      "\"name\":\"io.debezium.time.Timestamp\",\"version\":1" },
    { { true, CDC_CT_INT64, CDC_SEM_MICRO_TIMESTAMP, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL }, NULL,
      "\"name\":\"io.debezium.time.MicroTimestamp\",\"version\":1" },
    { { true, CDC_CT_INT64, CDC_SEM_NANO_TIMESTAMP, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL }, NULL,
      "\"name\":\"io.debezium.time.NanoTimestamp\",\"version\":1" },
    { { true, CDC_CT_INT64, CDC_SEM_MICRO_DURATION, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL }, NULL,
      "\"name\":\"io.debezium.time.MicroDuration\",\"version\":1" },
    { { true, CDC_CT_STRING, CDC_SEM_INTERVAL, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL }, NULL,
      "\"name\":\"io.debezium.time.Interval\",\"version\":1" },
    { { true, CDC_CT_INT32, CDC_SEM_CONNECT_DATE, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL }, NULL,
      "\"name\":\"org.apache.kafka.connect.data.Date\",\"version\":1" },
    { { true, CDC_CT_INT32, CDC_SEM_CONNECT_TIME, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL }, NULL,
      "\"name\":\"org.apache.kafka.connect.data.Time\",\"version\":1" },
    { { true, CDC_CT_INT64, CDC_SEM_CONNECT_TIMESTAMP, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL }, NULL,
      "\"name\":\"org.apache.kafka.connect.data.Timestamp\",\"version\":1" },
    { { true, CDC_CT_STRING, CDC_SEM_JSON, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL }, NULL,
      "\"name\":\"io.debezium.data.Json\",\"version\":1" },
    { { true, CDC_CT_STRING, CDC_SEM_XML, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL }, NULL,
      "\"name\":\"io.debezium.data.Xml\",\"version\":1" },
    { { true, CDC_CT_STRING, CDC_SEM_UUID, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL }, NULL,
      "\"name\":\"io.debezium.data.Uuid\",\"version\":1" },
    { { true, CDC_CT_STRING, CDC_SEM_LTREE, 0, 0, 0, -1, 0, 0, 0, NULL, 0, 0, NULL }, NULL,
      "\"name\":\"io.debezium.data.Ltree\",\"version\":1" },
};

START_TEST(ctype_schemas)
{
    cdc_col   col = { .name = "c", .ctype = schema_cases[_i].t,
                      .enum_labels = (char *) schema_cases[_i].enum_labels };
    cdc_rel   rel = { .nspname = "s", .relname = "t", .ncols = 1, .cols = &col, .topic = "p.s.t" };
    cdc_value v = { .state = CDC_VAL_NULL };
    cdc_event ev = { .op = CDC_OP_CREATE, .rel = &rel, .after = &v };
    char     *got;
    json_t   *j;

    opts.schemas_enable = true;
    got = render_value(&ev, 0);
    j = parse(got);
    json_decref(j);
    ck_assert_msg(strstr(got, schema_cases[_i].want) != NULL, "case %d: %s not in %s", _i,
                  schema_cases[_i].want, got);
    free(got);
}
END_TEST

/* ---- truncate, message, keyless, composite keys ---- */

START_TEST(truncate_event)
{
    cdc_event ev = event(CDC_OP_TRUNCATE, 600, 1, 2, 1000);
    char     *got, *key;
    json_t   *j;

    got = render_value(&ev, 0);
    j = parse(got);
    ck_assert(json_is_null(json_object_get(j, "before")));
    ck_assert(json_is_null(json_object_get(j, "after")));
    ck_assert_str_eq(json_string_value(json_object_get(j, "op")), "t");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "source"), "table")),
                     "customers");
    key = render_key(&ev);
    ck_assert_str_eq(key, "null");
    json_decref(j);
    free(got);
    free(key);
}
END_TEST

START_TEST(message_event)
{
    cdc_event ev = { .op = CDC_OP_MESSAGE, .lsn = 24023128, .source_ts_us = 1714558530200123,
                     .msg_prefix = "audit", .msg_content = (const uint8_t *) "hi", .msg_len = 2,
                     .msg_transactional = true };
    char     *got, *key;

    txn = (cdc_txn) { .xid = 700, .prev_commit_lsn = 24023000 };
    ev.txn = &txn;
    got = render_value(&ev, 1714558530412345);
    assert_json_same(got,
        "{\"op\":\"m\",\"ts_ms\":1714558530412,"
        "\"source\":{\"version\":\"2.7.3.Final\",\"connector\":\"postgresql\","
        "\"name\":\"dbserver1\",\"ts_ms\":1714558530200,\"snapshot\":\"false\",\"db\":\"appdb\","
        "\"sequence\":\"[\\\"24023000\\\",\\\"24023128\\\"]\",\"ts_us\":1714558530200123,"
        "\"ts_ns\":1714558530200123000,\"schema\":\"\",\"table\":\"\",\"txId\":700,"
        "\"lsn\":24023128,\"xmin\":null},"
        "\"message\":{\"prefix\":\"audit\",\"content\":\"aGk=\"}}",
        false);
    key = render_key(&ev);
    ck_assert_str_eq(key, "{\"prefix\":\"audit\"}");
    free(got);
    free(key);

    opts.schemas_enable = true;
    key = render_key(&ev);
    ck_assert_str_eq(key,
        "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"string\",\"optional\":true,"
        "\"field\":\"prefix\"}],\"optional\":false,"
        "\"name\":\"io.debezium.connector.postgresql.MessageKey\",\"version\":1},"
        "\"payload\":{\"prefix\":\"audit\"}}");
    got = render_value(&ev, 1);
    json_decref(parse(got));
    ck_assert_ptr_nonnull(strstr(got, "\"name\":\"io.debezium.connector.postgresql.MessageValue\","
                                      "\"version\":1},\"payload\":{\"op\":\"m\""));
    free(got);
    free(key);
}
END_TEST

START_TEST(keyless_table)
{
    cdc_event ev = event(CDC_OP_CREATE, 1, 0, 5, 0);
    char     *key;

    cust.nkeys = 0;
    cust_cols[0].key_pos = 0;
    ev.after = alice_row("a", balance_1250);
    key = render_key(&ev);
    ck_assert_str_eq(key, "null");
    free(key);
    opts.schemas_enable = true;
    key = render_key(&ev);
    ck_assert_str_eq(key, "null");
    free(key);
}
END_TEST

START_TEST(composite_key_order)
{
    cdc_event ev = event(CDC_OP_CREATE, 1, 0, 5, 0);
    char     *key;

    cust.nkeys = 2;
    cust_cols[0].key_pos = 2;
    cust_cols[2].key_pos = 1;
    cust_cols[2].not_null = true;
    ev.after = alice_row("a@b", balance_1250);
    key = render_key(&ev);
    ck_assert_str_eq(key, "{\"email\":\"a@b\",\"id\":1}");
    free(key);
}
END_TEST

/* ---- strings ---- */

static const struct {
    const char *in;
    size_t      n;
    const char *want;
} str_cases[] = {
    { "plain", 5, "\"plain\"" },
    { "q\"b\\s/", 6, "\"q\\\"b\\\\s/\"" },
    { "\b\t\n\f\r", 5, "\"\\b\\t\\n\\f\\r\"" },
    { "\x01\x1f\x7f", 3, "\"\\u0001\\u001F\x7f\"" },
    { "a\0b", 3, "\"a\\u0000b\"" },
    /* BMP non-ASCII raw; outside the BMP two escaped surrogates, as Jackson's
       UTF8JsonGenerator writes them (Debezium's keys and values, issue 17) */
    { "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, "\"caf\xc3\xa9 \xe2\x82\xac \\uD83D\\uDE00\"" },
    { "\xf0\x90\x80\x80", 4, "\"\\uD800\\uDC00\"" },                  /* U+10000 */
    { "\xf4\x8f\xbf\xbf", 4, "\"\\uDBFF\\uDFFF\"" },                  /* U+10FFFF */
    { "x\xf0\xa0\x80\x8by\"", 7, "\"x\\uD840\\uDC0By\\\"\"" },          /* U+2000B, CJK ext. B */
    { "\xf0\x9f\x98", 3, "\"\xef\xbf\xbd\"" },                           /* truncated 4-byte */
    { "\xe2\x80\xa8", 3, "\"\xe2\x80\xa8\"" },                      /* U+2028 kept */
    { "a\xff" "b", 3, "\"a\xef\xbf\xbd" "b\"" },                     /* invalid byte */
    { "\xe2\x82", 2, "\"\xef\xbf\xbd\"" },                           /* truncated */
    { "\xc0\xaf", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\"" },              /* overlong */
    { "\xed\xa0\x80", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"" }, /* surrogate */
    { "\xf4\x90\x80\x80", 4,
      "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"" },      /* > U+10FFFF */
};

START_TEST(string_escaping)
{
    cdc_buf b = CDC_BUF_INIT;

    sch_json_put_string(&b, str_cases[_i].in, str_cases[_i].n);
    ck_assert(!cdc_buf_failed(&b));
    ck_assert_msg(strcmp(cdc_buf_str(&b), str_cases[_i].want) == 0, "case %d: got %s", _i,
                  cdc_buf_str(&b));
    /* the result is valid JSON */
    json_decref(parse(cdc_buf_str(&b)));
    cdc_buf_free(&b);
}
END_TEST

/* Each case again between plain runs of every length 0..16 on either side: the
   escapes are found wherever the 8-byte scan of plain bytes meets them. */
START_TEST(string_escaping_at_offsets)
{
    const char *in = str_cases[_i].in, *want = str_cases[_i].want;
    size_t      n = str_cases[_i].n, wn = strlen(want);

    for (size_t pre = 0; pre <= 16; pre++) {
        for (size_t post = 0; post <= 16; post++) {
            cdc_buf b = CDC_BUF_INIT;
            char    s[64], w[256];

            memset(s, 'a', pre);
            memcpy(s + pre, in, n);
            memset(s + pre + n, 'z', post);
            w[0] = '"';
            memset(w + 1, 'a', pre);
            memcpy(w + 1 + pre, want + 1, wn - 2);      /* want without its quotes */
            memset(w + 1 + pre + wn - 2, 'z', post);
            memcpy(w + 1 + pre + wn - 2 + post, "\"", 2);
            sch_json_put_string(&b, s, pre + n + post);
            ck_assert_msg(strcmp(cdc_buf_str(&b), w) == 0, "case %d at %zu+%zu: got %s", _i,
                          pre, post, cdc_buf_str(&b));
            cdc_buf_free(&b);
        }
    }
}
END_TEST

/* Every byte value alone, at every offset 0..16 of a plain string, against
   the rules written out: Jackson's short escapes, \u00XX below 0x20, a lone
   byte >= 0x80 (never UTF-8 by itself) as U+FFFD, the rest as it is. */
START_TEST(every_byte_at_every_offset)
{
    for (int c = 0; c < 256; c++) {
        char one[8];

        switch (c) {
        case '"': strcpy(one, "\\\""); break;
        case '\\': strcpy(one, "\\\\"); break;
        case '\b': strcpy(one, "\\b"); break;
        case '\t': strcpy(one, "\\t"); break;
        case '\n': strcpy(one, "\\n"); break;
        case '\f': strcpy(one, "\\f"); break;
        case '\r': strcpy(one, "\\r"); break;
        default:
            if (c < 0x20)
                snprintf(one, sizeof(one), "\\u%04X", (unsigned) c);
            else if (c >= 0x80)
                strcpy(one, "\xef\xbf\xbd");
            else
                snprintf(one, sizeof(one), "%c", c);
        }
        for (size_t off = 0; off <= 16; off++) {
            cdc_buf b = CDC_BUF_INIT;
            char    s[40], w[64];

            memset(s, 'p', sizeof(s));
            s[off] = (char) c;
            snprintf(w, sizeof(w), "\"%.*s%s%.*s\"", (int) off, s, one,
                     (int) (sizeof(s) - off - 1), s + off + 1);
            sch_json_put_string(&b, s, sizeof(s));
            ck_assert_msg(strcmp(cdc_buf_str(&b), w) == 0, "byte 0x%02X at %zu: got %s", c, off,
                          cdc_buf_str(&b));
            cdc_buf_free(&b);
        }
    }
}
END_TEST

START_TEST(raw_string_keeps_non_bmp)
{
    cdc_buf b = CDC_BUF_INIT;

    /* Avro schema text: Avro's Schema.toString() leaves non-BMP characters raw */
    sch_json_put_string_raw(&b, "a\"\xf0\x9f\x98\x80\xff", 7);
    ck_assert_str_eq(cdc_buf_str(&b), "\"a\\\"\xf0\x9f\x98\x80\xef\xbf\xbd\"");
    cdc_buf_free(&b);
}
END_TEST

START_TEST(non_bmp_key_and_name)
{
    cdc_col   col = { .name = "k\xf0\x9f\x98\x80", .ctype = tm_ct(CDC_CT_STRING, CDC_SEM_NONE),
                      .key_pos = 1 };
    cdc_rel   rel = { .nspname = "s", .relname = "t", .ncols = 1, .cols = &col, .nkeys = 1,
                      .topic = "p.s.t" };
    cdc_value v = tm_str("\xf0\x9f\x98\x80!");
    cdc_event ev = { .op = CDC_OP_CREATE, .rel = &rel, .after = &v };
    char     *key = render_key(&ev);

    /* the key's bytes (hence its partition) are Debezium's */
    ck_assert_str_eq(key, "{\"k\\uD83D\\uDE00\":\"\\uD83D\\uDE00!\"}");
    free(key);
}
END_TEST

START_TEST(non_bmp_raw_for_headers)
{
    cdc_col       col = { .name = "k\xf0\x9f\x98\x80", .ctype = tm_ct(CDC_CT_STRING, CDC_SEM_NONE),
                          .key_pos = 1 };
    cdc_rel       rel = { .nspname = "s", .relname = "t", .ncols = 1, .cols = &col, .nkeys = 1,
                          .topic = "p.s.t" };
    cdc_value     v = tm_str("\xf0\x9f\x98\x80!");
    cdc_event     ev = { .op = CDC_OP_CREATE, .rel = &rel, .after = &v };
    sch_json_opts o;
    cdc_buf       b = CDC_BUF_INIT;

    /* __debezium.oldkey/newkey: SimpleHeaderConverter's text keeps them raw (260) */
    sch_json_opts_default(&o);
    o.raw_non_bmp = true;
    sch_json_key(&b, &ev, &o);
    ck_assert_str_eq(cdc_buf_str(&b), "{\"k\xf0\x9f\x98\x80\":\"\xf0\x9f\x98\x80!\"}");
    cdc_buf_free(&b);
}
END_TEST

START_TEST(non_utf8_names_stay_distinct)
{
    /* SQL_ASCII: two names that differ only in a byte that is not UTF-8 */
    cdc_col   cols[2] = { { .name = "caf\xe9", .ctype = tm_ct(CDC_CT_INT32, CDC_SEM_NONE) },
                          { .name = "caf\xe8", .ctype = tm_ct(CDC_CT_STRING, CDC_SEM_NONE) } };
    cdc_rel   rel = { .nspname = "s", .relname = "t", .ncols = 2, .cols = cols,
                      .topic = "p.s.t" };
    cdc_value v[2] = { tm_int(1), tm_str("x\xffy") };
    cdc_event ev = { .op = CDC_OP_CREATE, .rel = &rel, .after = v };
    char     *val = render_value(&ev, 0);

    ck_assert_msg(strstr(val, "\"after\":{\"caf\\\\xE9\":1,\"caf\\\\xE8\":\"x\xef\xbf\xbdy\"}") != NULL,
                  "got %s", val);
    json_decref(parse(val));
    free(val);
}
END_TEST

/* Occurrences of needle in hay. */
static int
count_of(const char *hay, const char *needle)
{
    int n = 0;

    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

START_TEST(non_utf8_names_injective_with_backslashes)
{
    /* A table with a name holding the byte 0xE9 and one literally named caf\xE9 (an ASCII
       backslash): every backslash of its names is written \x5C, so the two stay two keys,
       in the payload and in the schema alike.  A table whose names are all UTF-8 keeps its
       backslashes as they are (Debezium's bytes). */
    cdc_col   cols[3] = { { .name = "caf\xe9", .ctype = tm_ct(CDC_CT_INT32, CDC_SEM_NONE) },
                          { .name = "caf\\xE9", .ctype = tm_ct(CDC_CT_INT32, CDC_SEM_NONE) },
                          { .name = "a\\b", .ctype = tm_ct(CDC_CT_INT32, CDC_SEM_NONE) } };
    cdc_rel   rel = { .nspname = "s", .relname = "t", .ncols = 3, .cols = cols,
                      .topic = "p.s.t" };
    cdc_value v[3] = { tm_int(1), tm_int(2), tm_int(3) };
    cdc_event ev = { .op = CDC_OP_CREATE, .rel = &rel, .after = v };
    char     *val;
    json_t   *root, *after;

    opts.schemas_enable = true;
    val = render_value(&ev, 0);
    root = parse(val);
    after = json_object_get(json_object_get(root, "payload"), "after");
    ck_assert_msg(json_object_size(after) == 3, "got %s", val);
    ck_assert_int_eq(json_integer_value(json_object_get(after, "caf\\xE9")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(after, "caf\\x5CxE9")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(after, "a\\x5Cb")), 3);
    /* the schema's field names are the payload's keys: in before and after, and the key */
    ck_assert_msg(count_of(val, "\"field\":\"caf\\\\x5CxE9\"") == 2, "got %s", val);
    ck_assert_msg(count_of(val, "\"field\":\"a\\\\x5Cb\"") == 2, "got %s", val);
    json_decref(root);
    free(val);

    rel.ncols = 1;
    rel.cols = &cols[2];
    val = render_value(&ev, 0);
    root = parse(val);
    after = json_object_get(json_object_get(root, "payload"), "after");
    ck_assert_msg(json_integer_value(json_object_get(after, "a\\b")) == 1, "got %s", val);
    json_decref(root);
    free(val);
}
END_TEST

START_TEST(escaped_names)
{
    cdc_col   col = { .name = "we\"ird", .ctype = tm_ct(CDC_CT_INT32, CDC_SEM_NONE) };
    cdc_rel   rel = { .nspname = "s", .relname = "t\"x", .ncols = 1, .cols = &col,
                      .topic = "p.s.t_x" };
    cdc_value v = tm_int(3);
    cdc_event ev = { .op = CDC_OP_CREATE, .rel = &rel, .after = &v };
    char     *got;

    opts.schemas_enable = true;
    got = render_value(&ev, 0);
    json_decref(parse(got));
    ck_assert_ptr_nonnull(strstr(got, "\"after\":{\"we\\\"ird\":3}"));
    ck_assert_ptr_nonnull(strstr(got, "\"table\":\"t\\\"x\""));
    free(got);
}
END_TEST

/* ---- topics (CONTRACT.md 1.1) ---- */

static const struct {
    const char *prefix, *schema, *table, *want;
} topic_cases[] = {
    { "dbserver1", "public", "customers", "dbserver1.public.customers" },
    { "db", "my schema", "t$1", "db.my_schema.t_1" },
    { "db", "", "t", "db.t" },
    { "db", NULL, NULL, "db" },
    { "db", "s", "caf\xc3\xa9", "db.s.caf_" },
    { "db", "s", "\xf0\x9f\x98\x80", "db.s.__" },
    { "", ".", NULL, "_" },
    { "a-b_c", "S", "T", "a-b_c.S.T" },
};

START_TEST(topic_names)
{
    char out[256];

    sch_topic_name(topic_cases[_i].prefix, topic_cases[_i].schema, topic_cases[_i].table, out,
                   sizeof(out));
    ck_assert_str_eq(out, topic_cases[_i].want);
}
END_TEST

START_TEST(topic_cut_at_249)
{
    char table[400], out[300];

    memset(table, 'x', sizeof(table) - 1);
    table[sizeof(table) - 1] = '\0';
    sch_topic_name("p", "s", table, out, sizeof(out));
    ck_assert_uint_eq(strlen(out), 249);
    ck_assert(strncmp(out, "p.s.xxx", 7) == 0);
}
END_TEST

static Suite *
json_suite(void)
{
    Suite *s = suite_create("json");
    TCase *tc;

    tc = tcase_create("contract_examples");
    tcase_add_checked_fixture(tc, setup_customers, NULL);
    tcase_add_test(tc, insert_8_4);
    tcase_add_test(tc, update_8_5);
    tcase_add_test(tc, delete_8_6_and_tombstone);
    tcase_add_test(tc, snapshot_8_7);
    tcase_add_test(tc, unknown_lsns_are_null);
    tcase_add_test(tc, source_block_memo);
    tcase_add_test(tc, event_times_memo);
    tcase_add_test(tc, record_metadata_memo);
    tcase_add_test(tc, key_schema_8_3);
    tcase_add_test(tc, value_schema_8_3);
    suite_add_tcase(s, tc);

    tc = tcase_create("types");
    tcase_add_checked_fixture(tc, setup_customers, NULL);
    tcase_add_loop_test(tc, ctype_values, 0, (int) (sizeof(cases) / sizeof(cases[0])));
    tcase_add_loop_test(tc, ctype_schemas, 0,
                        (int) (sizeof(schema_cases) / sizeof(schema_cases[0])));
    tcase_add_test(tc, custom_placeholder);
    tcase_add_test(tc, null_replaced_by_default);
    tcase_add_test(tc, unsupported_columns_omitted);
    suite_add_tcase(s, tc);

    tc = tcase_create("events");
    tcase_add_checked_fixture(tc, setup_customers, NULL);
    tcase_add_test(tc, truncate_event);
    tcase_add_test(tc, message_event);
    tcase_add_test(tc, keyless_table);
    tcase_add_test(tc, composite_key_order);
    suite_add_tcase(s, tc);

    tc = tcase_create("strings");
    tcase_add_checked_fixture(tc, setup_customers, NULL);
    tcase_add_loop_test(tc, string_escaping, 0, (int) (sizeof(str_cases) / sizeof(str_cases[0])));
    tcase_add_loop_test(tc, string_escaping_at_offsets, 0,
                        (int) (sizeof(str_cases) / sizeof(str_cases[0])));
    tcase_add_test(tc, every_byte_at_every_offset);
    tcase_add_test(tc, escaped_names);
    tcase_add_test(tc, raw_string_keeps_non_bmp);
    tcase_add_test(tc, non_bmp_key_and_name);
    tcase_add_test(tc, non_bmp_raw_for_headers);
    tcase_add_test(tc, non_utf8_names_stay_distinct);
    tcase_add_test(tc, non_utf8_names_injective_with_backslashes);
    tcase_add_loop_test(tc, topic_names, 0, (int) (sizeof(topic_cases) / sizeof(topic_cases[0])));
    tcase_add_test(tc, topic_cut_at_249);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(json_suite());
    int      failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
