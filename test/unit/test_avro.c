/*
 * Suite "avro": the Avro schema text (schemas/avro_schema.c) and the
 * Confluent-framed Avro datums (schemas/avro_enc.c).
 *   schemas   CONTRACT.md 8.1/8.2 exactly (3.1-3.4 profile verbatim, 2.7
 *             with its deltas), property order, every profile's deltas,
 *             name reuse, name adjustment, avro-c rejecting a bad name.
 *   binary    the bytes of CONTRACT.md 8.4.
 *   roundtrip every Connect type, NULLs, defaults, TOAST placeholders,
 *             arrays, Point, VariableScaleDecimal, truncate, tombstone,
 *             messages, in every profile: the datum is read back with
 *             avro-c's reader against the same schema and compared, field
 *             by field, with what the JsonConverter encoder (schemas/json.c)
 *             writes for the same event.
 */
#include <avro.h>
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_buf.h"
#include "schemas/avro.h"
#include "schemas/json.h"
#include "test/lib/model.h"

/* ---- the customers table of CONTRACT.md 8 ---- */

static const uint8_t balance_1250[] = { 0x04, 0xE2 };   /* 12.50 */

static cdc_col       cust_cols[5];
static cdc_rel       cust;
static cdc_txn       txn;
static sch_avro_opts aopts;

static void
setup_customers(void)
{
    tm_customers(&cust, cust_cols);
    sch_avro_opts_default(&aopts);
    aopts.server_name = "dbserver1";
    aopts.database = "appdb";
}

static cdc_value alice[5];

static const cdc_value *
alice_row(void)
{
    return tm_alice(alice, "alice@example.com", balance_1250);
}

static json_t *
parse(const char *text)
{
    json_error_t e;
    json_t      *j = json_loads(text, JSON_DECODE_ANY, &e);

    ck_assert_msg(j != NULL, "invalid JSON (%s) in: %s", e.text, text);
    return j;
}

/* got must be exactly want re-serialised compactly: same members, same order. */
static void
assert_same_text(const char *got, const char *want)
{
    json_t *w = parse(want), *g = parse(got);
    char   *ws = json_dumps(w, JSON_COMPACT | JSON_ENCODE_ANY);

    ck_assert_msg(json_equal(g, w), "schema differs:\n got: %s\nwant: %s", got, ws);
    ck_assert_msg(strcmp(got, ws) == 0, "schema text/order differs:\n got: %s\nwant: %s", got,
                  ws);
    free(ws);
    json_decref(w);
    json_decref(g);
}

/* ---- CONTRACT.md 8.1 / 8.2 ---- */

#define KEY_8_1                                                                                  \
    "{\"type\":\"record\",\"name\":\"Key\",\"namespace\":\"dbserver1.public.customers\","      \
    "\"fields\":[{\"name\":\"id\",\"type\":{\"type\":\"int\",\"connect.default\":0},"            \
    "\"default\":0}],\"connect.name\":\"dbserver1.public.customers.Key\"}"

/* 8.2 verbatim, with the profile-dependent pieces as macro arguments. */
#define VALUE_8_2(SRC_VERSION, SNAP_VERSION, ALLOWED)                                           \
    "{\"type\":\"record\",\"name\":\"Envelope\",\"namespace\":\"dbserver1.public.customers\","  \
    "\"fields\":[{\"name\":\"before\",\"type\":[\"null\",{\"type\":\"record\","                  \
    "\"name\":\"Value\",\"fields\":["                                                            \
    "{\"name\":\"id\",\"type\":{\"type\":\"int\",\"connect.default\":0},\"default\":0},"         \
    "{\"name\":\"name\",\"type\":[\"null\",\"string\"],\"default\":null},"                       \
    "{\"name\":\"email\",\"type\":[\"null\",\"string\"],\"default\":null},"                      \
    "{\"name\":\"balance\",\"type\":[\"null\",{\"type\":\"bytes\",\"scale\":2,\"precision\":10," \
    "\"connect.version\":1,\"connect.parameters\":{\"scale\":\"2\","                             \
    "\"connect.decimal.precision\":\"10\"},"                                                     \
    "\"connect.name\":\"org.apache.kafka.connect.data.Decimal\",\"logicalType\":\"decimal\"}],"  \
    "\"default\":null},"                                                                         \
    "{\"name\":\"created_at\",\"type\":[\"null\",{\"type\":\"string\",\"connect.version\":1,"    \
    "\"connect.name\":\"io.debezium.time.ZonedTimestamp\"}],\"default\":null}],"                 \
    "\"connect.name\":\"dbserver1.public.customers.Value\"}],\"default\":null},"                 \
    "{\"name\":\"after\",\"type\":[\"null\",\"Value\"],\"default\":null},"                       \
    "{\"name\":\"source\",\"type\":{\"type\":\"record\",\"name\":\"Source\","                    \
    "\"namespace\":\"io.debezium.connector.postgresql\",\"fields\":["                            \
    "{\"name\":\"version\",\"type\":\"string\"},{\"name\":\"connector\",\"type\":\"string\"},"   \
    "{\"name\":\"name\",\"type\":\"string\"},{\"name\":\"ts_ms\",\"type\":\"long\"},"            \
    "{\"name\":\"snapshot\",\"type\":[{\"type\":\"string\"," SNAP_VERSION                        \
    "\"connect.parameters\":{\"allowed\":\"" ALLOWED "\"},\"connect.default\":\"false\","       \
    "\"connect.name\":\"io.debezium.data.Enum\"},\"null\"],\"default\":\"false\"},"              \
    "{\"name\":\"db\",\"type\":\"string\"},"                                                     \
    "{\"name\":\"sequence\",\"type\":[\"null\",\"string\"],\"default\":null},"                   \
    "{\"name\":\"ts_us\",\"type\":[\"null\",\"long\"],\"default\":null},"                        \
    "{\"name\":\"ts_ns\",\"type\":[\"null\",\"long\"],\"default\":null},"                        \
    "{\"name\":\"schema\",\"type\":\"string\"},{\"name\":\"table\",\"type\":\"string\"},"        \
    "{\"name\":\"txId\",\"type\":[\"null\",\"long\"],\"default\":null},"                         \
    "{\"name\":\"lsn\",\"type\":[\"null\",\"long\"],\"default\":null},"                          \
    "{\"name\":\"xmin\",\"type\":[\"null\",\"long\"],\"default\":null}],"                        \
    SRC_VERSION "\"connect.name\":\"io.debezium.connector.postgresql.Source\"}},"               \
    "{\"name\":\"transaction\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"block\","      \
    "\"namespace\":\"event\",\"fields\":[{\"name\":\"id\",\"type\":\"string\"},"                 \
    "{\"name\":\"total_order\",\"type\":\"long\"},"                                              \
    "{\"name\":\"data_collection_order\",\"type\":\"long\"}],\"connect.version\":1,"             \
    "\"connect.name\":\"event.block\"}],\"default\":null},"                                      \
    "{\"name\":\"op\",\"type\":\"string\"},"                                                     \
    "{\"name\":\"ts_ms\",\"type\":[\"null\",\"long\"],\"default\":null},"                        \
    "{\"name\":\"ts_us\",\"type\":[\"null\",\"long\"],\"default\":null},"                        \
    "{\"name\":\"ts_ns\",\"type\":[\"null\",\"long\"],\"default\":null}],"                       \
    "\"connect.version\":2,\"connect.name\":\"dbserver1.public.customers.Envelope\"}"

#define FULL_ALLOWED "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"

START_TEST(key_schema_8_1)
{
    char *k;

    for (int p = SCH_AVRO_DBZ_2_7; p <= SCH_AVRO_DBZ_3_5; p++) {
        aopts.profile = (sch_avro_profile) p;
        k = sch_avro_key_schema_json(&cust, &aopts);
        assert_same_text(k, KEY_8_1);
        free(k);
    }
}
END_TEST

START_TEST(value_schema_8_2_profile_3_1)
{
    char *v;

    aopts.profile = SCH_AVRO_DBZ_3_1;
    v = sch_avro_value_schema_json(&cust, &aopts);
    assert_same_text(v, VALUE_8_2("\"connect.version\":1,", "\"connect.version\":1,",
                                  FULL_ALLOWED));
    free(v);
}
END_TEST

START_TEST(value_schema_8_2_profile_2_7)
{
    char *v = sch_avro_value_schema_json(&cust, &aopts);    /* the default profile */

    assert_same_text(v, VALUE_8_2("", "", "true,last,false,incremental"));
    /* a few property orders, spelled out (CONTRACT.md 3.3) */
    ck_assert_ptr_nonnull(strstr(v, "{\"type\":\"bytes\",\"scale\":2,\"precision\":10,"
                                    "\"connect.version\":1,\"connect.parameters\":{\"scale\":\"2\","
                                    "\"connect.decimal.precision\":\"10\"},\"connect.name\":"
                                    "\"org.apache.kafka.connect.data.Decimal\","
                                    "\"logicalType\":\"decimal\"}"));
    ck_assert_ptr_nonnull(strstr(v, "[{\"type\":\"string\",\"connect.parameters\":"
                                    "{\"allowed\":\"true,last,false,incremental\"},"
                                    "\"connect.default\":\"false\",\"connect.name\":"
                                    "\"io.debezium.data.Enum\"},\"null\"],\"default\":\"false\"}"));
    ck_assert_ptr_nonnull(strstr(v, "\"type\":\"record\",\"name\":\"Source\",\"namespace\":"));
    ck_assert_ptr_nonnull(strstr(v, "}],\"connect.version\":2,\"connect.name\":"
                                    "\"dbserver1.public.customers.Envelope\"}"));
    free(v);
}
END_TEST

/* The field names of a record, comma-joined. */
static void
field_names(json_t *rec, char *out, size_t n)
{
    size_t  i;
    json_t *f;

    out[0] = '\0';
    json_array_foreach(json_object_get(rec, "fields"), i, f) {
        if (i > 0)
            strncat(out, ",", n - strlen(out) - 1);
        strncat(out, json_string_value(json_object_get(f, "name")), n - strlen(out) - 1);
    }
}

static const struct {
    sch_avro_profile p;
    const char      *env_fields;
    int              env_version;   /* -1: none */
    const char      *src_fields;
    bool             src_version;
    const char      *allowed;
} profile_cases[] = {
    { SCH_AVRO_DBZ_1_9, "before,after,source,op,ts_ms,transaction", -1,
      "version,connector,name,ts_ms,snapshot,db,sequence,schema,table,txId,lsn,xmin", false,
      "true,last,false,incremental" },
    { SCH_AVRO_DBZ_2_0, "before,after,source,op,ts_ms,transaction", 1,
      "version,connector,name,ts_ms,snapshot,db,sequence,schema,table,txId,lsn,xmin", false,
      "true,last,false,incremental" },
    { SCH_AVRO_DBZ_2_6, "before,after,source,op,ts_ms,ts_us,ts_ns,transaction", 2,
      "version,connector,name,ts_ms,snapshot,db,sequence,ts_us,ts_ns,schema,table,txId,lsn,xmin",
      false, "true,last,false,incremental" },
    { SCH_AVRO_DBZ_2_7, "before,after,source,transaction,op,ts_ms,ts_us,ts_ns", 2,
      "version,connector,name,ts_ms,snapshot,db,sequence,ts_us,ts_ns,schema,table,txId,lsn,xmin",
      false, "true,last,false,incremental" },
    { SCH_AVRO_DBZ_3_0, "before,after,source,transaction,op,ts_ms,ts_us,ts_ns", 2,
      "version,connector,name,ts_ms,snapshot,db,sequence,ts_us,ts_ns,schema,table,txId,lsn,xmin",
      false, FULL_ALLOWED },
    { SCH_AVRO_DBZ_3_1, "before,after,source,transaction,op,ts_ms,ts_us,ts_ns", 2,
      "version,connector,name,ts_ms,snapshot,db,sequence,ts_us,ts_ns,schema,table,txId,lsn,xmin",
      true, FULL_ALLOWED },
    { SCH_AVRO_DBZ_3_5, "before,after,source,transaction,op,ts_ms,ts_us,ts_ns", 2,
      "version,connector,name,ts_ms,snapshot,db,sequence,ts_us,ts_ns,schema,table,txId,lsn,xmin,"
      "origin,origin_lsn",
      true, FULL_ALLOWED },
};

START_TEST(profile_deltas)
{
    char    names[512];
    char   *text;
    json_t *v, *src, *snap, *env_ver;

    aopts.profile = profile_cases[_i].p;
    text = sch_avro_value_schema_json(&cust, &aopts);
    v = parse(text);
    field_names(v, names, sizeof(names));
    ck_assert_str_eq(names, profile_cases[_i].env_fields);
    env_ver = json_object_get(v, "connect.version");
    if (profile_cases[_i].env_version < 0)
        ck_assert_ptr_null(env_ver);
    else
        ck_assert_int_eq(json_integer_value(env_ver), profile_cases[_i].env_version);
    src = json_object_get(json_array_get(json_object_get(v, "fields"), 2), "type");
    field_names(src, names, sizeof(names));
    ck_assert_str_eq(names, profile_cases[_i].src_fields);
    ck_assert(profile_cases[_i].src_version == (json_object_get(src, "connect.version") != NULL));
    snap = json_array_get(json_object_get(json_array_get(json_object_get(src, "fields"), 4),
                                          "type"), 0);
    ck_assert(profile_cases[_i].src_version == (json_object_get(snap, "connect.version") != NULL));
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(snap, "connect.parameters"),
                                                       "allowed")),
                     profile_cases[_i].allowed);
    json_decref(v);
    free(text);
}
END_TEST

static const struct {
    const char *s;
    int         rc;
    sch_avro_profile p;
} parse_cases[] = {
    { "2.7", 0, SCH_AVRO_DBZ_2_7 },          { "2.7.3.Final", 0, SCH_AVRO_DBZ_2_7 },
    { "3.4.3.Final", 0, SCH_AVRO_DBZ_3_1 },  { "3.1", 0, SCH_AVRO_DBZ_3_1 },
    { "1.9.7.Final", 0, SCH_AVRO_DBZ_1_9 },  { "2.0.1.Final", 0, SCH_AVRO_DBZ_2_0 },
    { "2.5", 0, SCH_AVRO_DBZ_2_0 },          { "2.6.2.Final", 0, SCH_AVRO_DBZ_2_6 },
    { "3.0.8.Final", 0, SCH_AVRO_DBZ_3_0 },  { "3.5.0.Final", 0, SCH_AVRO_DBZ_3_5 },
    { "3.7.0-SNAPSHOT", 0, SCH_AVRO_DBZ_3_5 },          { "3.7.0.Final", 0, SCH_AVRO_DBZ_3_5 },
    { "1.8.1.Final", -1, 0 },                { "4.0", -1, 0 },
    { "latest", -1, 0 },                     { "2", -1, 0 },
    { "", -1, 0 },                           { "2.x", -1, 0 },
};

START_TEST(profile_parse)
{
    sch_avro_profile p = SCH_AVRO_DBZ_2_7;

    ck_assert_msg(sch_avro_profile_parse(parse_cases[_i].s, &p) == parse_cases[_i].rc, "%s",
                  parse_cases[_i].s);
    if (parse_cases[_i].rc == 0)
        ck_assert_int_eq(p, parse_cases[_i].p);
}
END_TEST

/* Two numeric and two point columns: the second of each is a name reference. */
START_TEST(named_types_reused)
{
    cdc_col          cols[5];
    cdc_rel          rel;
    char            *text;
    cdc_err          err = { 0 };
    sch_avro_writer *w;

    memset(cols, 0, sizeof(cols));
    cols[0] = (cdc_col) { .name = "n1", .ctype = tm_ct(CDC_CT_STRUCT, CDC_SEM_VARIABLE_DECIMAL),
                          .key_pos = 1, .not_null = true };
    cols[1] = (cdc_col) { .name = "n2", .ctype = tm_ct(CDC_CT_STRUCT, CDC_SEM_VARIABLE_DECIMAL) };
    cols[2] = (cdc_col) { .name = "p1", .ctype = tm_ct(CDC_CT_STRUCT, CDC_SEM_POINT) };
    cols[3] = (cdc_col) { .name = "p2", .ctype = tm_ct(CDC_CT_STRUCT, CDC_SEM_POINT) };
    cols[4] = (cdc_col) { .name = "na", .ctype = tm_ct(CDC_CT_ARRAY, CDC_SEM_NONE) };
    cols[4].ctype.elem_kind = CDC_CT_STRUCT;
    cols[4].ctype.elem_sem = CDC_SEM_VARIABLE_DECIMAL;
    rel = (cdc_rel) { .relid = 1, .nspname = "s", .relname = "t", .ncols = 5, .cols = cols,
                      .nkeys = 1, .topic = "srv.s.t" };
    text = sch_avro_value_schema_json(&rel, &aopts);
    ck_assert_ptr_nonnull(strstr(text, "{\"name\":\"n1\",\"type\":{\"type\":\"record\","
                                       "\"name\":\"VariableScaleDecimal\",\"namespace\":"
                                       "\"io.debezium.data\",\"fields\":[{\"name\":\"scale\","
                                       "\"type\":\"int\"},{\"name\":\"value\",\"type\":\"bytes\"}],"
                                       "\"connect.doc\":\"Variable scaled decimal\","
                                       "\"connect.version\":1,\"connect.name\":"
                                       "\"io.debezium.data.VariableScaleDecimal\"}}"));
    ck_assert_ptr_nonnull(strstr(text, "{\"name\":\"n2\",\"type\":[\"null\","
                                       "\"io.debezium.data.VariableScaleDecimal\"],"
                                       "\"default\":null}"));
    ck_assert_ptr_nonnull(strstr(text, "{\"name\":\"p2\",\"type\":[\"null\","
                                       "\"io.debezium.data.geometry.Point\"],\"default\":null}"));
    ck_assert_ptr_nonnull(strstr(text, "{\"name\":\"na\",\"type\":[\"null\",{\"type\":\"array\","
                                       "\"items\":[\"null\","
                                       "\"io.debezium.data.VariableScaleDecimal\"]}],"));
    ck_assert_ptr_nonnull(strstr(text, "\"connect.doc\":\"Geometry (POINT)\",\"connect.version\":1,"
                                       "\"connect.name\":\"io.debezium.data.geometry.Point\"}"));
    free(text);
    w = sch_avro_writer_new(&rel, &aopts, &err);
    ck_assert_msg(w != NULL, "%s", err.msg);
    sch_avro_writer_free(w);
}
END_TEST

static const struct {
    sch_avro_profile p;
    sch_avro_name_mode mode;
    const char      *topic;
    const char      *key_name;      /* connect.name; NULL: avro-c must reject it */
} name_cases[] = {
    { SCH_AVRO_DBZ_1_9, SCH_AVRO_NAMES_PROFILE, "my-srv.public.t", "my_srv.public.t.Key" },
    { SCH_AVRO_DBZ_2_7, SCH_AVRO_NAMES_AVRO, "my-srv.public.t", "my_srv.public.t.Key" },
    /* Debezium 2.7.4's SchemaNameAdjuster.AVRO_UNICODE / AVRO printed these (lower-case
       hex; a leading digit kept after its '_'): see adjust_cases below */
    { SCH_AVRO_DBZ_2_7, SCH_AVRO_NAMES_AVRO_UNICODE, "my-srv.public.t",
      "my_u002dsrv.public.t.Key" },
    { SCH_AVRO_DBZ_2_7, SCH_AVRO_NAMES_AVRO, "1srv.public.t", "_1srv.public.t.Key" },
    { SCH_AVRO_DBZ_2_7, SCH_AVRO_NAMES_PROFILE, "my-srv.public.t", NULL },
};

/* Printed by io.debezium.schema.SchemaNameAdjuster.AVRO and .AVRO_UNICODE of
   debezium-core 2.7.4.Final (OpenJDK 17): name, avro, avro_unicode. */
static const char *const adjust_cases[][3] = {
    { "my-srv.public.t.Key", "my_srv.public.t.Key", "my_u002dsrv.public.t.Key" },
    { "1srv.public.t.Key", "_1srv.public.t.Key", "_u0031srv.public.t.Key" },
    { "cdc.public.caf\303\251.Value", "cdc.public.caf_.Value", "cdc.public.caf_u00e9.Value" },
    { "cdc.public.\304\201b.Value", "cdc.public._b.Value", "cdc.public._u101b.Value" },
    { "cdc.public.a b.Envelope", "cdc.public.a_b.Envelope", "cdc.public.a_u0020b.Envelope" },
    { "cdc.public.1t.Key", "cdc.public.1t.Key", "cdc.public.1t.Key" },
    { "cdc.public.t\360\237\230\200.Key", "cdc.public.t__.Key",
      "cdc.public.t_ud83d_ude00.Key" },
    { "_x.Key", "_x.Key", "_u005fx.Key" },
    { "a._b9_.Key", "a._b9_.Key", "a._u005fb9_u005f.Key" },
    { ".x", "_x", "_u002ex" },
    { "x..y", "x..y", "x..y" },
};

START_TEST(name_adjust_matches_debezium)
{
    for (size_t i = 0; i < sizeof(adjust_cases) / sizeof(adjust_cases[0]); i++) {
        cdc_buf a = CDC_BUF_INIT, u = CDC_BUF_INIT, n = CDC_BUF_INIT;

        sch_name_adjust(SCH_AVRO_NAMES_AVRO, adjust_cases[i][0], &a);
        sch_name_adjust(SCH_AVRO_NAMES_AVRO_UNICODE, adjust_cases[i][0], &u);
        sch_name_adjust(SCH_AVRO_NAMES_NONE, adjust_cases[i][0], &n);
        ck_assert_str_eq(cdc_buf_str(&a), adjust_cases[i][1]);
        ck_assert_str_eq(cdc_buf_str(&u), adjust_cases[i][2]);
        ck_assert_str_eq(cdc_buf_str(&n), adjust_cases[i][0]);
        cdc_buf_free(&a);
        cdc_buf_free(&u);
        cdc_buf_free(&n);
    }
}
END_TEST

START_TEST(name_adjustment)
{
    char            *k;
    json_t          *j;
    cdc_err          err = { 0 };
    sch_avro_writer *w;

    aopts.profile = name_cases[_i].p;
    aopts.name_mode = name_cases[_i].mode;
    cust.topic = (char *) name_cases[_i].topic;
    k = sch_avro_key_schema_json(&cust, &aopts);
    w = sch_avro_writer_new(&cust, &aopts, &err);
    if (name_cases[_i].key_name) {
        j = parse(k);
        ck_assert_str_eq(json_string_value(json_object_get(j, "connect.name")),
                         name_cases[_i].key_name);
        json_decref(j);
        ck_assert_msg(w != NULL, "%s", err.msg);
    } else {
        ck_assert_ptr_null(w);
        ck_assert_int_eq(err.code, CDC_E_CONFIG);
        ck_assert_ptr_nonnull(strstr(err.msg, "public.customers"));
    }
    sch_avro_writer_free(w);
    free(k);
}
END_TEST

START_TEST(invalid_field_name)
{
    cdc_err          err = { 0 };
    sch_avro_writer *w;

    cust_cols[1].name = "my-col";
    w = sch_avro_writer_new(&cust, &aopts, &err);
    ck_assert_ptr_null(w);
    ck_assert_int_eq(err.code, CDC_E_CONFIG);
    ck_assert_str_eq(err.msg, "avro: table public.customers: column \"my-col\" is not a valid "
                              "Avro field name");
}
END_TEST

START_TEST(keyless_has_no_key_schema)
{
    cdc_err          err = { 0 };
    sch_avro_writer *w;
    cdc_buf          b = CDC_BUF_INIT;
    cdc_event        ev;

    cust_cols[0].key_pos = 0;
    cust.nkeys = 0;
    ck_assert_ptr_null(sch_avro_key_schema_json(&cust, &aopts));
    w = sch_avro_writer_new(&cust, &aopts, &err);
    ck_assert_ptr_nonnull(w);
    ck_assert_ptr_null(sch_avro_writer_key_schema(w));
    ev = tm_event(&txn, &cust, CDC_OP_CREATE, 1, 0, 10, 0);
    ev.after = alice_row();
    ck_assert_int_eq(sch_avro_encode_key(w, &ev, 1, &b, &err), 0);
    ck_assert_uint_eq(b.len, 0);
    sch_avro_writer_free(w);
    cdc_buf_free(&b);
}
END_TEST

/* ---- CONTRACT.md 8.4, bytes ---- */

static const char value_8_4_hex[] =
    "0000000066000202020a416c6963650222616c696365406578616d706c652e636f6d020404e202363230"
    "32342d30352d30315431303a31353a33302e3132333435365a16332e342e332e46696e616c14706f7374"
    "67726573716c12646273657276657231b0cab7bae663000a66616c73650a6170706462022e5b22323430"
    "3233303030222c223234303233313238225d02f6889dc2b8d88b0602f0d98db3c5f9aacb2f0c7075626c"
    "696312637573746f6d65727302d60802b0c1f4160000026302d8cdb7bae66302f2fcb6c2b8d88b0602"
    "d0dabffdc6f9aacb2f";

static char *
hex(const uint8_t *p, size_t n)
{
    char *s = malloc(2 * n + 1);

    for (size_t i = 0; i < n; i++)
        snprintf(s + 2 * i, 3, "%02x", p[i]);
    s[2 * n] = '\0';
    return s;
}

START_TEST(binary_8_4)
{
    cdc_event        ev = tm_event(&txn, &cust, CDC_OP_CREATE, 555, 24023000, 24023128,
                                   1714558530200123);
    cdc_err          err = { 0 };
    sch_avro_writer *w;
    cdc_buf          k = CDC_BUF_INIT, v = CDC_BUF_INIT;
    char            *h;

    aopts.profile = SCH_AVRO_DBZ_3_1;
    aopts.version = "3.4.3.Final";
    ev.after = alice_row();
    w = sch_avro_writer_new(&cust, &aopts, &err);
    ck_assert_msg(w != NULL, "%s", err.msg);
    ck_assert_int_eq(sch_avro_encode_key(w, &ev, 101, &k, &err), 0);
    h = hex(k.data, k.len);
    ck_assert_str_eq(h, "000000006502");
    free(h);
    ck_assert_int_eq(sch_avro_encode_value(w, &ev, 102, 1714558530412345, &v, &err), 0);
    ck_assert_uint_eq(v.len, 218);
    h = hex(v.data, v.len);
    /* the contract's ts_ns ends in ...345678; the agent's clock has µs, so ...345000 */
    ck_assert_str_eq(h, value_8_4_hex);
    free(h);
    /* appending to a buffer that holds something keeps it */
    ck_assert_int_eq(sch_avro_encode_key(w, &ev, 101, &v, &err), 0);
    ck_assert_uint_eq(v.len, 224);
    sch_avro_writer_free(w);
    cdc_buf_free(&k);
    cdc_buf_free(&v);
}
END_TEST

START_TEST(tombstone_and_truncate)
{
    cdc_event        ev = tm_event(&txn, &cust, CDC_OP_TOMBSTONE, 1, 0, 10, 0);
    cdc_err          err = { 0 };
    sch_avro_writer *w = sch_avro_writer_new(&cust, &aopts, &err);
    cdc_buf          b = CDC_BUF_INIT;
    cdc_value        old[5] = { tm_int(7) };

    ev.before = old;
    ev.key = old;
    ck_assert_int_eq(sch_avro_encode_value(w, &ev, 2, 1, &b, &err), 0);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_int_eq(sch_avro_encode_key(w, &ev, 1, &b, &err), 0);
    ck_assert_uint_eq(b.len, 6);
    ck_assert_uint_eq(b.data[5], 14);   /* zig-zag 7 */
    cdc_buf_reset(&b);
    ev.op = CDC_OP_TRUNCATE;
    ev.key = NULL;
    ck_assert_int_eq(sch_avro_encode_key(w, &ev, 1, &b, &err), 0);
    ck_assert_uint_eq(b.len, 0);
    /* a writer for another relation version is refused */
    cust.version = 2;
    ck_assert_int_eq(sch_avro_encode_value(w, &ev, 2, 1, &b, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_INVAL);
    sch_avro_writer_free(w);
    cdc_buf_free(&b);
}
END_TEST

/* ---- round trip: read back with avro-c, compare with the JSON encoder ---- */

static const char b64tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static json_t *
b64(const uint8_t *p, size_t n)
{
    char  *s = malloc((n + 2) / 3 * 4 + 1), *o = s;
    json_t *j;

    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t) p[i] << 16 | (i + 1 < n ? (uint32_t) p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);

        *o++ = b64tab[v >> 18];
        *o++ = b64tab[(v >> 12) & 63];
        *o++ = i + 1 < n ? b64tab[(v >> 6) & 63] : '=';
        *o++ = i + 2 < n ? b64tab[v & 63] : '=';
    }
    *o = '\0';
    j = json_string(s);
    free(s);
    return j;
}

static json_t *
real_or_string(double d)
{
    if (isnan(d))
        return json_string("NaN");
    if (isinf(d))
        return json_string(d > 0 ? "Infinity" : "-Infinity");
    return json_real(d);
}

/* A decoded datum as JsonConverter would write its Connect value. */
static json_t *
to_json(avro_value_t *v)
{
    avro_value_t c;
    const char  *name;
    json_t      *j;
    size_t       n = 0;

    switch (avro_value_get_type(v)) {
    case AVRO_NULL:
        return json_null();
    case AVRO_BOOLEAN: {
        int b = 0;

        avro_value_get_boolean(v, &b);
        return json_boolean(b);
    }
    case AVRO_INT32: {
        int32_t i = 0;

        avro_value_get_int(v, &i);
        return json_integer(i);
    }
    case AVRO_INT64: {
        int64_t i = 0;

        avro_value_get_long(v, &i);
        return json_integer(i);
    }
    case AVRO_FLOAT: {
        float f = 0;
        char  tmp[32];

        avro_value_get_float(v, &f);
        if (!isfinite(f))
            return real_or_string(f);
        for (int prec = 1; prec < 10; prec++) {     /* Float.toString's shortest digits */
            snprintf(tmp, sizeof(tmp), "%.*g", prec, f);
            if (strtof(tmp, NULL) == f)
                break;
        }
        return json_real(strtod(tmp, NULL));
    }
    case AVRO_DOUBLE: {
        double d = 0;

        avro_value_get_double(v, &d);
        return real_or_string(d);
    }
    case AVRO_STRING: {
        const char *s;

        avro_value_get_string(v, &s, &n);
        return json_stringn(s, n - 1);
    }
    case AVRO_BYTES: {
        const void *p;

        avro_value_get_bytes(v, &p, &n);
        return b64(p, n);
    }
    case AVRO_UNION:
        avro_value_get_current_branch(v, &c);
        return to_json(&c);
    case AVRO_ARRAY:
        j = json_array();
        avro_value_get_size(v, &n);
        for (size_t i = 0; i < n; i++) {
            avro_value_get_by_index(v, i, &c, NULL);
            json_array_append_new(j, to_json(&c));
        }
        return j;
    case AVRO_RECORD:
        j = json_object();
        avro_value_get_size(v, &n);
        for (size_t i = 0; i < n; i++) {
            avro_value_get_by_index(v, i, &c, &name);
            json_object_set_new(j, name, to_json(&c));
        }
        return j;
    default:
        ck_abort_msg("unexpected Avro type %d", avro_value_get_type(v));
        return NULL;
    }
}

/* Reads one framed datum back against schema text; checks the frame. */
static json_t *
read_back(const cdc_buf *b, const char *schema_text, uint32_t id)
{
    avro_schema_t       schema;
    avro_value_iface_t *iface;
    avro_value_t        v;
    avro_reader_t       r;
    json_t             *j;
    size_t              size;

    ck_assert_uint_ge(b->len, 6);
    ck_assert_uint_eq(b->data[0], 0);
    ck_assert_uint_eq((uint32_t) b->data[1] << 24 | (uint32_t) b->data[2] << 16 |
                          (uint32_t) b->data[3] << 8 | b->data[4], id);
    ck_assert_int_eq(avro_schema_from_json_length(schema_text, strlen(schema_text), &schema), 0);
    iface = avro_generic_class_from_schema(schema);
    ck_assert_int_eq(avro_generic_value_new(iface, &v), 0);
    r = avro_reader_memory((const char *) b->data + 5, (int64_t) b->len - 5);
    ck_assert_msg(avro_value_read(r, &v) == 0, "read: %s", avro_strerror());
    /* avro_reader_is_eof() only knows files: compare the datum's size instead */
    ck_assert_int_eq(avro_value_sizeof(&v, &size), 0);
    ck_assert_msg(size == b->len - 5, "%zu bytes left after the datum", b->len - 5 - size);
    j = to_json(&v);
    avro_reader_free(r);
    avro_value_decref(&v);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    return j;
}

/* The JSON encoder's value for ev, adjusted to the Avro profile's fields. */
static json_t *
json_reference(const cdc_event *ev, bool key, int64_t now_us, const char *version)
{
    sch_json_opts jo;
    cdc_buf       b = CDC_BUF_INIT;
    json_t       *j, *src;

    sch_json_opts_default(&jo);
    jo.server_name = aopts.server_name;
    jo.database = aopts.database;
    jo.version = version;
    jo.replace_null_with_default = aopts.replace_null_with_default;
    if (aopts.unavailable_placeholder)
        jo.unavailable_placeholder = aopts.unavailable_placeholder;
    if (key)
        sch_json_key(&b, ev, &jo);
    else
        sch_json_value(&b, ev, &jo, now_us);
    j = parse(cdc_buf_str(&b));
    cdc_buf_free(&b);
    if (key || !json_is_object(j))
        return j;
    if (ev->op == CDC_OP_MESSAGE &&
        (aopts.profile == SCH_AVRO_DBZ_3_1 || aopts.profile == SCH_AVRO_DBZ_3_5))
        json_object_set_new(j, "transaction", json_null());
    src = json_object_get(j, "source");
    if (aopts.profile == SCH_AVRO_DBZ_1_9 || aopts.profile == SCH_AVRO_DBZ_2_0) {
        json_object_del(src, "ts_us");
        json_object_del(src, "ts_ns");
        json_object_del(j, "ts_us");
        json_object_del(j, "ts_ns");
    }
    if (aopts.profile == SCH_AVRO_DBZ_3_5) {
        json_object_set_new(src, "origin", json_null());
        json_object_set_new(src, "origin_lsn", json_null());
    }
    return j;
}

/* Encodes ev's key and value, reads both back and compares them with json.c. */
static void
roundtrip(const cdc_rel *rel, const cdc_event *ev, const char *what)
{
    cdc_err          err = { 0 };
    sch_avro_writer *w = sch_avro_writer_new(rel, &aopts, &err);
    cdc_buf          kb = CDC_BUF_INIT, vb = CDC_BUF_INIT;
    json_t          *got, *want;
    char            *gs, *ws;

    ck_assert_msg(w != NULL, "%s: %s", what, err.msg);
    for (int pass = 0; pass < 2; pass++) {  /* twice: the reused value must reset cleanly */
        cdc_buf_reset(&kb);
        cdc_buf_reset(&vb);
        ck_assert_msg(sch_avro_encode_key(w, ev, 7, &kb, &err) == 0, "%s: %s", what, err.msg);
        ck_assert_msg(sch_avro_encode_value(w, ev, 8, 1714558530412345, &vb, &err) == 0, "%s: %s",
                      what, err.msg);
        for (int k = 0; k < 2; k++) {
            cdc_buf    *b = k ? &kb : &vb;
            const char *schema = k ? sch_avro_writer_key_schema(w) : sch_avro_writer_value_schema(w);

            want = json_reference(ev, k, 1714558530412345, aopts.version);
            if (json_is_null(want)) {
                ck_assert_msg(b->len == 0, "%s: %s should be null", what, k ? "key" : "value");
                json_decref(want);
                continue;
            }
            got = read_back(b, schema, k ? 7 : 8);
            gs = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
            ws = json_dumps(want, JSON_COMPACT | JSON_ENCODE_ANY);
            ck_assert_msg(json_equal(got, want), "%s (profile %s) %s:\n got: %s\nwant: %s", what,
                          sch_avro_profile_name(aopts.profile), k ? "key" : "value", gs, ws);
            /* the 2.7 profile also has json.c's member order */
            if (aopts.profile == SCH_AVRO_DBZ_2_7)
                ck_assert_msg(strcmp(gs, ws) == 0, "%s: order:\n got: %s\nwant: %s", what, gs, ws);
            free(gs);
            free(ws);
            json_decref(got);
            json_decref(want);
        }
    }
    sch_avro_writer_free(w);
    cdc_buf_free(&kb);
    cdc_buf_free(&vb);
}

/* One column per case, next to an int key; each value is tried as after. */
static const uint8_t some_bytes[] = { 0x00, 0xFF, 0x41, 0x80 };
static const uint8_t dec_neg[] = { 0xFB, 0x1E };
static const uint8_t bits[] = { 0x05, 0x01 };
static cdc_value     int_items[3], str_items[2];

typedef struct type_case {
    const char *name;
    cdc_ctype   t;
    bool        not_null;
    bool        has_default;
    cdc_value   def;
    cdc_value   val;
    const char *labels;
} type_case;

#define NUL tm_state(CDC_VAL_NULL)
#define UNCH tm_state(CDC_VAL_UNCHANGED)

static type_case type_cases[64];
static int       ntype_cases;

static void
add_case(const char *name, cdc_ctype t, bool not_null, bool has_def, cdc_value def, cdc_value val)
{
    type_cases[ntype_cases++] = (type_case) { .name = name, .t = t, .not_null = not_null,
                                              .has_default = has_def, .def = def, .val = val };
}

static void
build_type_cases(void)
{
    cdc_value none = { 0 };

    int_items[0] = tm_int(1);
    int_items[1] = NUL;
    int_items[2] = tm_int(-3);
    str_items[0] = tm_str("a");
    str_items[1] = NUL;
    ntype_cases = 0;
    add_case("bool", tm_ct(CDC_CT_BOOLEAN, 0), false, false, none, tm_bool(true));
    add_case("int8", tm_ct(CDC_CT_INT8, 0), true, false, none, tm_int(-8));
    add_case("int16", tm_ct(CDC_CT_INT16, 0), false, false, none, tm_int(-300));
    add_case("int32", tm_ct(CDC_CT_INT32, 0), false, false, none, tm_int(2147483647));
    add_case("int64", tm_ct(CDC_CT_INT64, 0), false, false, none, tm_int(INT64_MIN));
    add_case("float32", tm_ct(CDC_CT_FLOAT32, 0), false, false, none, tm_f(1.1));
    add_case("float64", tm_ct(CDC_CT_FLOAT64, 0), false, false, none, tm_f(1e7));
    add_case("float64 nan", tm_ct(CDC_CT_FLOAT64, 0), false, false, none, tm_f(NAN));
    add_case("string", tm_ct(CDC_CT_STRING, 0), false, false, none, tm_str("h\xC3\xA9llo \"x\""));
    add_case("empty string", tm_ct(CDC_CT_STRING, 0), true, false, none, tm_str(""));
    add_case("bytes", tm_ct(CDC_CT_BYTES, 0), false, false, none, tm_bytes(some_bytes, 4));
    add_case("empty bytes", tm_ct(CDC_CT_BYTES, 0), false, false, none, tm_bytes("", 0));
    add_case("decimal", tm_ct_dec(2, 10), false, false, none, tm_bytes(dec_neg, 2));
    add_case("money", tm_ct_dec(2, -1), false, false, none, tm_bytes(balance_1250, 2));
    add_case("bits", tm_ct_len(CDC_CT_BYTES, CDC_SEM_BITS, 11), false, false, none,
             tm_bytes(bits, 2));
    add_case("json", tm_ct(CDC_CT_STRING, CDC_SEM_JSON), false, false, none, tm_str("{\"a\":1}"));
    add_case("xml", tm_ct(CDC_CT_STRING, CDC_SEM_XML), false, false, none, tm_str("<a/>"));
    add_case("uuid", tm_ct(CDC_CT_STRING, CDC_SEM_UUID), false, false, none,
             tm_str("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
    add_case("enum", tm_ct(CDC_CT_STRING, CDC_SEM_ENUM), false, false, none, tm_str("b"));
    add_case("ltree", tm_ct(CDC_CT_STRING, CDC_SEM_LTREE), false, false, none, tm_str("a.b"));
    add_case("date", tm_ct(CDC_CT_INT32, CDC_SEM_DATE), false, false, none, tm_int(19844));
    add_case("time", tm_ct(CDC_CT_INT32, CDC_SEM_TIME), false, false, none, tm_int(36930500));
    add_case("micro time", tm_ct(CDC_CT_INT64, CDC_SEM_MICRO_TIME), false, false, none,
             tm_int(36930500123));
    add_case("zoned time", tm_ct(CDC_CT_STRING, CDC_SEM_ZONED_TIME), false, false, none,
             tm_str("10:15:30.5Z"));
    add_case("timestamp", tm_ct(CDC_CT_INT64, CDC_SEM_TIMESTAMP), false, false, none,
             tm_int(1714558530123));
    add_case("micro ts", tm_ct(CDC_CT_INT64, CDC_SEM_MICRO_TIMESTAMP), false, false, none,
             tm_int(-1));
    add_case("zoned ts", tm_ct_len(CDC_CT_STRING, CDC_SEM_ZONED_TIMESTAMP, 6), false, false, none,
             tm_str("2024-05-01T10:15:30.123456Z"));
    add_case("micro duration", tm_ct(CDC_CT_INT64, CDC_SEM_MICRO_DURATION), false, false, none,
             tm_int(3600000000));
    add_case("interval", tm_ct(CDC_CT_STRING, CDC_SEM_INTERVAL), false, false, none,
             tm_str("P1Y2M3DT4H5M6.78S"));
    add_case("connect date", tm_ct(CDC_CT_INT32, CDC_SEM_CONNECT_DATE), false, false, none,
             tm_int(19844));
    add_case("connect time", tm_ct(CDC_CT_INT32, CDC_SEM_CONNECT_TIME), false, false, none,
             tm_int(1000));
    add_case("connect ts", tm_ct(CDC_CT_INT64, CDC_SEM_CONNECT_TIMESTAMP), false, false, none,
             tm_int(1714558530123));
    add_case("point", tm_ct(CDC_CT_STRUCT, CDC_SEM_POINT), false, false, none, tm_pt(1.5, -2.25));
    add_case("vsd", tm_ct(CDC_CT_STRUCT, CDC_SEM_VARIABLE_DECIMAL), false, false, none,
             tm_vsd(dec_neg, 2, 3));
    add_case("int array", tm_ct_arr(CDC_CT_INT32, 0), false, false, none, tm_arr(int_items, 3));
    add_case("text array", tm_ct_arr(CDC_CT_STRING, 0), false, false, none, tm_arr(str_items, 2));
    add_case("empty array", tm_ct_arr(CDC_CT_INT64, 0), true, false, none, tm_arr(NULL, 0));
    /* NULLs, defaults and fallbacks */
    add_case("null", tm_ct(CDC_CT_STRING, 0), false, false, none, NUL);
    add_case("null point", tm_ct(CDC_CT_STRUCT, CDC_SEM_POINT), false, false, none, NUL);
    add_case("null with default", tm_ct(CDC_CT_STRING, 0), false, true, tm_str("new"), NUL);
    add_case("value with default", tm_ct(CDC_CT_STRING, 0), false, true, tm_str("new"),
             tm_str("x"));
    add_case("int16 with default", tm_ct(CDC_CT_INT16, 0), false, true, tm_int(5), NUL);
    add_case("decimal with default", tm_ct_dec(2, 10), false, true, tm_bytes(balance_1250, 2), NUL);
    add_case("required with default", tm_ct(CDC_CT_INT64, 0), true, true, tm_int(42), NUL);
    add_case("required null int", tm_ct(CDC_CT_INT32, 0), true, false, none, NUL);
    add_case("required null string", tm_ct(CDC_CT_STRING, 0), true, false, none, NUL);
    add_case("required null zoned ts", tm_ct_len(CDC_CT_STRING, CDC_SEM_ZONED_TIMESTAMP, 3), true,
             false, none, NUL);
    add_case("required null decimal", tm_ct_dec(2, 10), true, false, none, NUL);
    add_case("required null bool", tm_ct(CDC_CT_BOOLEAN, 0), true, false, none, NUL);
    add_case("required null double", tm_ct(CDC_CT_FLOAT64, 0), true, false, none, NUL);
    /* unchanged TOAST */
    add_case("toast text", tm_ct(CDC_CT_STRING, 0), false, false, none, UNCH);
    add_case("toast json", tm_ct(CDC_CT_STRING, CDC_SEM_JSON), true, false, none, UNCH);
    add_case("toast bytea", tm_ct(CDC_CT_BYTES, 0), false, false, none, UNCH);
    add_case("toast text[]", tm_ct_arr(CDC_CT_STRING, 0), false, false, none, UNCH);
    add_case("toast uuid[]", tm_ct_arr(CDC_CT_STRING, CDC_SEM_UUID), false, false, none, UNCH);
    add_case("toast int4[]", tm_ct_arr(CDC_CT_INT32, 0), false, false, none, UNCH);
    add_case("toast int8[]", tm_ct_arr(CDC_CT_INT64, 0), false, false, none, UNCH);
    add_case("toast vsd", tm_ct(CDC_CT_STRUCT, CDC_SEM_VARIABLE_DECIMAL), false, false, none, UNCH);
    add_case("toast float8[]", tm_ct_arr(CDC_CT_FLOAT64, 0), false, false, none, UNCH);
}

#define NPROFILES 7
static const sch_avro_profile all_profiles[NPROFILES] = {
    SCH_AVRO_DBZ_1_9, SCH_AVRO_DBZ_2_0, SCH_AVRO_DBZ_2_6, SCH_AVRO_DBZ_2_7,
    SCH_AVRO_DBZ_3_0, SCH_AVRO_DBZ_3_1, SCH_AVRO_DBZ_3_5,
};

/* _i = case * NPROFILES * 2 + profile * 2 + replace_null_with_default */
START_TEST(types_roundtrip)
{
    const type_case *tc;
    cdc_col          cols[2];
    cdc_rel          rel;
    cdc_value        row[2];
    cdc_event        ev;
    char             what[96];

    build_type_cases();
    if (_i / (NPROFILES * 2) >= ntype_cases)
        return;
    tc = &type_cases[_i / (NPROFILES * 2)];
    aopts.profile = all_profiles[(_i / 2) % NPROFILES];
    aopts.replace_null_with_default = _i % 2 == 0;
    aopts.version = "2.7.3.Final";
    memset(cols, 0, sizeof(cols));
    cols[0] = (cdc_col) { .name = "id", .not_null = true, .key_pos = 1,
                          .ctype = tm_ct(CDC_CT_INT64, 0) };
    cols[1] = (cdc_col) { .name = "c", .ctype = tc->t, .not_null = tc->not_null,
                          .has_default = tc->has_default, .def = tc->def,
                          .enum_labels = "a,b,c" };
    rel = (cdc_rel) { .relid = 9, .nspname = "public", .relname = "t", .ncols = 2, .cols = cols,
                      .nkeys = 1, .topic = "dbserver1.public.t" };
    row[0] = tm_int(77);
    row[1] = tc->val;
    ev = tm_event(&txn, &rel, CDC_OP_UPDATE, 12, 100, 200, 1714558530200123);
    ev.after = row;
    ev.before = row;
    snprintf(what, sizeof(what), "%s/replace=%d", tc->name, aopts.replace_null_with_default);
    roundtrip(&rel, &ev, what);
    /* the same type as the key column */
    cols[1].key_pos = 1;
    cols[0].key_pos = 0;
    if (tc->val.state == CDC_VAL_PRESENT)
        roundtrip(&rel, &ev, what);
}
END_TEST

/* Where json.c writes null into a required field, Avro needs the fallback. */
START_TEST(required_toast_without_placeholder)
{
    cdc_col          cols[1];
    cdc_rel          rel;
    cdc_value        row[1] = { UNCH };
    cdc_event        ev;
    cdc_err          err = { 0 };
    cdc_buf          b = CDC_BUF_INIT;
    sch_avro_writer *w;
    json_t          *j;

    memset(cols, 0, sizeof(cols));
    cols[0] = (cdc_col) { .name = "f", .not_null = true, .ctype = tm_ct(CDC_CT_FLOAT64, 0) };
    rel = (cdc_rel) { .relid = 3, .nspname = "s", .relname = "t", .ncols = 1, .cols = cols,
                      .topic = "x.s.t" };
    ev = tm_event(&txn, &rel, CDC_OP_CREATE, 1, 0, 5, 0);
    ev.after = row;
    w = sch_avro_writer_new(&rel, &aopts, &err);
    ck_assert_int_eq(sch_avro_encode_value(w, &ev, 1, 0, &b, &err), 0);
    j = read_back(&b, sch_avro_writer_value_schema(w), 1);
    ck_assert(json_real_value(json_object_get(json_object_get(j, "after"), "f")) == 0.0);
    json_decref(j);
    sch_avro_writer_free(w);
    cdc_buf_free(&b);
}
END_TEST

START_TEST(events_roundtrip)
{
    cdc_event ev;
    cdc_value old[5] = { tm_int(1), NUL, NUL, NUL, NUL };

    aopts.profile = all_profiles[_i];
    aopts.version = "9.9.9.Final";
    aopts.unavailable_placeholder = "~";
    /* insert, snapshot rows, delete, truncate, unknown LSNs */
    ev = tm_event(&txn, &cust, CDC_OP_CREATE, 555, 24023000, 24023128, 1714558530200123);
    ev.after = alice_row();
    roundtrip(&cust, &ev, "insert");
    ev.op = CDC_OP_READ;
    ev.snapshot = "first";
    roundtrip(&cust, &ev, "snapshot");
    ev.snapshot = "incremental";
    roundtrip(&cust, &ev, "incremental");
    ev = tm_event(&txn, &cust, CDC_OP_DELETE, 557, 24023500, 24023700, -1);
    ev.before = old;
    ev.key = old;
    roundtrip(&cust, &ev, "delete");
    ev.op = CDC_OP_TRUNCATE;
    roundtrip(&cust, &ev, "truncate");
    ev = tm_event(&txn, &cust, CDC_OP_CREATE, 9, 0, 0, 0);
    ev.txn = NULL;
    ev.after = alice_row();
    alice[2] = UNCH;
    roundtrip(&cust, &ev, "no lsn, toast");
    /* a `name` column: null when streamed, the text in a snapshot (json.c) */
    cust_cols[1].type_oid = 19;
    ev = tm_event(&txn, &cust, CDC_OP_CREATE, 9, 0, 0, 0);
    ev.after = alice_row();
    roundtrip(&cust, &ev, "streamed name");
    ev.snapshot = "true";
    ev.op = CDC_OP_READ;
    roundtrip(&cust, &ev, "snapshot name");
}
END_TEST

START_TEST(messages_roundtrip)
{
    static const uint8_t content[] = { 'h', 0, 0xFF };
    cdc_event            ev = { .op = CDC_OP_MESSAGE, .lsn = 4096, .source_ts_us = 1234567 };
    char                *k, *v;
    json_t              *kj, *vj;

    aopts.profile = all_profiles[_i];
    aopts.version = "2.7.3.Final";
    txn = (cdc_txn) { .xid = 5, .commit_lsn = 5000, .prev_commit_lsn = 3000 };
    ev.txn = &txn;
    ev.msg_transactional = true;
    ev.msg_prefix = "pfx";
    ev.msg_content = content;
    ev.msg_len = sizeof(content);
    roundtrip(NULL, &ev, "message");
    ev.msg_transactional = false;
    roundtrip(NULL, &ev, "non-transactional message");
    ev.msg_prefix = NULL;
    ev.msg_content = NULL;
    ev.msg_len = 0;
    ev.txn = NULL;
    roundtrip(NULL, &ev, "empty non-transactional message");

    k = sch_avro_message_key_schema_json(&aopts);
    v = sch_avro_message_value_schema_json(&aopts);
    kj = parse(k);
    vj = parse(v);
    ck_assert_str_eq(json_string_value(json_object_get(kj, "connect.name")),
                     "io.debezium.connector.postgresql.MessageKey");
    /* Source shares MessageValue's namespace, so it is written without one */
    ck_assert_ptr_nonnull(strstr(v, "{\"name\":\"source\",\"type\":{\"type\":\"record\","
                                    "\"name\":\"Source\",\"fields\":"));
    ck_assert_ptr_nonnull(strstr(v, "\"connect.version\":1,\"connect.name\":"
                                    "\"io.debezium.connector.postgresql.MessageValue\"}"));
    json_decref(kj);
    json_decref(vj);
    free(k);
    free(v);
}
END_TEST

/* A datum larger than the first guess: the memory writer grows and retries. */
START_TEST(large_datum)
{
    cdc_event ev = tm_event(&txn, &cust, CDC_OP_CREATE, 1, 0, 10, 0);
    char     *big = malloc(100000);

    aopts.version = "2.7.3.Final";
    memset(big, 'x', 99999);
    big[99999] = '\0';
    ev.after = alice_row();
    alice[1] = tm_str(big);
    roundtrip(&cust, &ev, "large");
    free(big);
}
END_TEST

static Suite *
avro_suite(void)
{
    Suite *s = suite_create("avro");
    TCase *tc = tcase_create("schemas");

    tcase_add_checked_fixture(tc, setup_customers, NULL);
    tcase_add_test(tc, key_schema_8_1);
    tcase_add_test(tc, value_schema_8_2_profile_3_1);
    tcase_add_test(tc, value_schema_8_2_profile_2_7);
    tcase_add_loop_test(tc, profile_deltas, 0,
                        (int) (sizeof(profile_cases) / sizeof(profile_cases[0])));
    tcase_add_loop_test(tc, profile_parse, 0, (int) (sizeof(parse_cases) / sizeof(parse_cases[0])));
    tcase_add_test(tc, named_types_reused);
    tcase_add_test(tc, name_adjust_matches_debezium);
    tcase_add_loop_test(tc, name_adjustment, 0, (int) (sizeof(name_cases) / sizeof(name_cases[0])));
    tcase_add_test(tc, invalid_field_name);
    tcase_add_test(tc, keyless_has_no_key_schema);
    suite_add_tcase(s, tc);

    tc = tcase_create("binary");
    tcase_add_checked_fixture(tc, setup_customers, NULL);
    tcase_add_test(tc, binary_8_4);
    tcase_add_test(tc, tombstone_and_truncate);
    suite_add_tcase(s, tc);

    tc = tcase_create("roundtrip");
    tcase_add_checked_fixture(tc, setup_customers, NULL);
    tcase_add_loop_test(tc, types_roundtrip, 0, 64 * NPROFILES * 2);
    tcase_add_test(tc, required_toast_without_placeholder);
    tcase_add_loop_test(tc, events_roundtrip, 0, NPROFILES);
    tcase_add_loop_test(tc, messages_roundtrip, 0, NPROFILES);
    tcase_add_test(tc, large_datum);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(avro_suite());
    int      failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
