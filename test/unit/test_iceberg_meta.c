/*
 * Iceberg table metadata: the PostgreSQL type table, transforms against the
 * spec's published vectors (Appendix B and "Partition Transforms"), bound
 * serialization, schema evolution, partition specs, metadata JSON round trip,
 * and manifests read back with avro-c's own file reader.
 */
#include <avro.h>
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sinks/iceberg/ice_manifest.h"
#include "sinks/iceberg/ice_meta.h"
#include "sinks/iceberg/ice_schema.h"
#include "sinks/iceberg/ice_transform.h"
#include "agent/core/cdc_arena.h"
#include "decoder/typemap.h"
#include "decoder/values.h"

static ice_type
T(const char *s)
{
    ice_type t;
    cdc_err err = { 0 };

    ck_assert_msg(ice_type_parse(s, &t, &err) == 0, "%s: %s", s, err.msg);
    return t;
}

static ice_value
V(const ice_type *t, const char *s, uint8_t scratch[16])
{
    ice_value v;
    cdc_err err = { 0 };

    ck_assert_msg(ice_value_parse(t, s, scratch, &v, &err) == 0, "%s: %s", s, err.msg);
    return v;
}

/* ---- Appendix B ---- */

static const struct {
    const char *type, *value;
    int32_t     hash;
} hash_vectors[] = {
    { "int", "34", 2017239379 },
    { "long", "34", 2017239379 },
    { "decimal(9, 2)", "14.20", -500754589 },
    { "date", "2017-11-16", -653330422 },
    { "time", "22:31:08", -662762989 },
    { "timestamp", "2017-11-16T22:31:08", -2047944441 },
    { "timestamp", "2017-11-16T22:31:08.000001", -1207196810 },
    { "timestamptz", "2017-11-16T14:31:08-08:00", -2047944441 },
    { "timestamptz", "2017-11-16T14:31:08.000001-08:00", -1207196810 },
    { "string", "iceberg", 1210000089 },
    { "uuid", "f79c3e09-677c-4bbd-a479-3f349cb785e7", 1488055340 },
    { "boolean", "true", 1392991556 },
    { "float", "1.0", -142385009 },
    { "double", "1.0", -142385009 },
    { "double", "0.0", 1669671676 },
    { "double", "-0.0", 1669671676 },
    { "float", "-0.0", 1669671676 },
};

START_TEST(hash_spec_vectors)
{
    uint8_t sc[16];
    ice_type t = T(hash_vectors[_i].type);
    ice_value v = V(&t, hash_vectors[_i].value, sc);

    ck_assert_msg(ice_hash(&t, &v) == hash_vectors[_i].hash, "%s %s: %d, want %d",
                  hash_vectors[_i].type, hash_vectors[_i].value, ice_hash(&t, &v),
                  hash_vectors[_i].hash);
}
END_TEST

START_TEST(hash_bytes_and_string_34)
{
    static const uint8_t b[] = { 0, 1, 2, 3 };
    ice_type bin = T("binary"), fx = T("fixed[4]"), str = T("string");
    ice_value v = { .p = b, .n = 4 };

    ck_assert_int_eq(ice_hash(&bin, &v), -188683207);
    ck_assert_int_eq(ice_hash(&fx, &v), -188683207);
    /* the spec's promotion example: "34" differs from 34 */
    ice_value s = { .p = (const uint8_t *) "34", .n = 2 };
    ck_assert_int_eq(ice_hash(&str, &s), -427558391);
    ck_assert_int_eq(ice_murmur3_32("", 0), 0);
}
END_TEST

START_TEST(bucket_and_truncate)
{
    uint8_t sc[16];
    ice_transform b16 = { ICE_T_BUCKET, 16 }, t10 = { ICE_T_TRUNCATE, 10 },
                  t50 = { ICE_T_TRUNCATE, 50 }, t3 = { ICE_T_TRUNCATE, 3 };
    ice_type i = T("int"), l = T("long"), d = T("decimal(9, 2)"), s = T("string"), bin = T("binary");
    ice_value v, out;

    v = V(&i, "34", sc);
    ice_transform_apply(&b16, &i, &v, &out);
    ck_assert_int_eq(out.i, (2017239379 & INT32_MAX) % 16);
    v = V(&i, "1", sc);
    ice_transform_apply(&t10, &i, &v, &out);
    ck_assert_int_eq(out.i, 0);
    v = V(&i, "-1", sc);
    ice_transform_apply(&t10, &i, &v, &out);
    ck_assert_int_eq(out.i, -10);
    v = V(&l, "-1", sc);
    ice_transform_apply(&t10, &l, &v, &out);
    ck_assert_int_eq(out.i, -10);
    v = V(&d, "10.65", sc);
    ice_transform_apply(&t50, &d, &v, &out);
    ck_assert(out.d == 1050);
    v = V(&d, "-0.05", sc);
    ice_transform_apply(&t50, &d, &v, &out);
    ck_assert(out.d == -50);
    v = V(&s, "iceberg", sc);
    ice_transform_apply(&t3, &s, &v, &out);
    ck_assert_int_eq((int) out.n, 3);
    ck_assert(memcmp(out.p, "ice", 3) == 0);
    /* code points, not bytes: "ä€x" is 2+3+1 bytes */
    v = V(&s, "\xc3\xa4\xe2\x82\xacxyz", sc);
    ice_transform_apply(&t3, &s, &v, &out);
    ck_assert_int_eq((int) out.n, 6);
    static const uint8_t raw[] = { 1, 2, 3, 4, 5 };
    v = (ice_value) { .p = raw, .n = 5 };
    ice_transform_apply(&t3, &bin, &v, &out);
    ck_assert_int_eq((int) out.n, 3);
    v.null = true;
    ice_transform_apply(&b16, &i, &v, &out);
    ck_assert(out.null);
}
END_TEST

static const struct {
    const char *type, *value;
    int64_t     year, month, day, hour;
} temporal[] = {
    { "date", "1970-01-01", 0, 0, 0, -999 },
    { "date", "1969-12-31", -1, -1, -1, -999 },
    { "date", "2017-11-16", 47, 47 * 12 + 10, 17486, -999 },
    { "date", "1900-03-01", -70, -70 * 12 + 2, -25508, -999 },
    { "timestamp", "1970-01-01 00:00:00", 0, 0, 0, 0 },
    { "timestamp", "1969-12-31 23:59:59.999999", -1, -1, -1, -1 },
    { "timestamp", "2017-11-16 22:31:08", 47, 574, 17486, 17486 * 24 + 22 },
    { "timestamptz", "2017-11-16 22:31:08+02", 47, 574, 17486, 17486 * 24 + 20 },
    { "timestamptz", "2000-01-01 00:30:00+01", 29, 359, 10956, 10956 * 24 + 23 },
};

START_TEST(temporal_transforms)
{
    uint8_t sc[16];
    ice_type t = T(temporal[_i].type);
    ice_value v = V(&t, temporal[_i].value, sc), out;
    ice_transform y = { ICE_T_YEAR, 0 }, m = { ICE_T_MONTH, 0 }, d = { ICE_T_DAY, 0 },
                  h = { ICE_T_HOUR, 0 };

    ice_transform_apply(&y, &t, &v, &out);
    ck_assert_int_eq(out.i, temporal[_i].year);
    ice_transform_apply(&m, &t, &v, &out);
    ck_assert_int_eq(out.i, temporal[_i].month);
    ice_transform_apply(&d, &t, &v, &out);
    ck_assert_int_eq(out.i, temporal[_i].day);
    if (temporal[_i].hour != -999) {
        ice_transform_apply(&h, &t, &v, &out);
        ck_assert_int_eq(out.i, temporal[_i].hour);
    } else {
        ck_assert(!ice_transform_accepts(&h, &t));
    }
}
END_TEST

/* ---- the type table (docs/iceberg-types.md) ---- */

static const struct {
    uint32_t    oid;
    int32_t     typmod;
    uint32_t    elem;
    const char *want;
    bool        note;
} pg_types[] = {
    { 16, -1, 0, "boolean", false },
    { 21, -1, 0, "int", false },
    { 23, -1, 0, "int", false },
    { 20, -1, 0, "long", false },
    { 26, -1, 0, "long", false },
    { 700, -1, 0, "float", false },
    { 701, -1, 0, "double", false },
    { 1700, ((10 << 16) | 2) + 4, 0, "decimal(10, 2)", false },
    { 1700, ((38 << 16) | 0) + 4, 0, "decimal(38, 0)", false },
    { 1700, ((39 << 16) | 0) + 4, 0, "string", true },
    { 1700, ((5 << 16) | 0xfffe) + 4, 0, "string", true },   /* numeric(5,-2) */
    { 1700, -1, 0, "string", true },
    { 790, -1, 0, "decimal(19, 2)", false },
    { 25, -1, 0, "string", false },
    { 1043, 14, 0, "string", false },
    { 1042, 14, 0, "string", false },
    { 19, -1, 0, "string", false },
    { 17, -1, 0, "binary", false },
    { 1082, -1, 0, "date", false },
    { 1083, -1, 0, "time", false },
    { 1266, -1, 0, "string", false },
    { 1114, -1, 0, "timestamp", false },
    { 1184, -1, 0, "timestamptz", false },
    { 1186, -1, 0, "string", false },
    { 2950, -1, 0, "uuid", false },
    { 114, -1, 0, "string", false },
    { 3802, -1, 0, "string", false },
    { 869, -1, 0, "string", false },
    { 1560, 3, 0, "string", false },
    { 1007, -1, 23, "list<int>", false },
    { 1231, ((10 << 16) | 2) + 4, 1700, "list<decimal(10, 2)>", false },
    { 1009, -1, 25, "list<string>", false },
};

START_TEST(pg_type_table)
{
    cdc_col c = { .name = "c", .type_oid = pg_types[_i].oid, .typmod = pg_types[_i].typmod,
                  .catalog_known = true, .base_oid = pg_types[_i].oid,
                  .elem_oid = pg_types[_i].elem, .typtype = 'b' };
    ice_type t;
    char buf[64];
    const char *note = ice_type_from_pg(&c, &t);

    ck_assert_str_eq(ice_type_str(&t, buf, sizeof(buf)), pg_types[_i].want);
    ck_assert_msg((note != NULL) == pg_types[_i].note, "oid %u: note %s", pg_types[_i].oid,
                  note ? note : "(none)");
}
END_TEST

START_TEST(domain_uses_base_type)
{
    cdc_col c = { .name = "c", .type_oid = 90001, .typmod = -1, .catalog_known = true,
                  .base_oid = 20, .typtype = 'b' };
    ice_type t;

    ice_type_from_pg(&c, &t);
    ck_assert_int_eq(t.kind, ICE_LONG);
    c.catalog_known = false;    /* unknown OID, no catalog: text */
    ice_type_from_pg(&c, &t);
    ck_assert_int_eq(t.kind, ICE_STRING);
    c.type_oid = 1016;          /* bigint[] without the catalog: known by its OID */
    ice_type_from_pg(&c, &t);
    ck_assert_int_eq(t.kind, ICE_LIST);
    ck_assert_int_eq(t.elem_kind, ICE_LONG);
}
END_TEST

/* ---- bounds ---- */

START_TEST(bound_serialization)
{
    uint8_t sc[16];
    static const struct {
        const char *type, *value, *hex;
    } cases[] = {
        { "int", "34", "22000000" },
        { "long", "34", "2200000000000000" },
        { "int", "-1", "ffffffff" },
        { "boolean", "true", "01" },
        { "date", "2017-11-16", "4e440000" },
        { "double", "1.0", "000000000000f03f" },
        { "float", "1.0", "0000803f" },
        { "decimal(9, 2)", "14.20", "058c" },
        { "decimal(9, 2)", "-0.01", "ff" },
        { "decimal(9, 2)", "1.28", "0080" },
        { "decimal(9, 2)", "-1.28", "80" },
        { "decimal(38, 0)", "99999999999999999999999999999999999999",
          "4b3b4ca85a86c47a098a223fffffffff" },
        { "string", "iceberg", "69636562657267" },
        { "uuid", "f79c3e09-677c-4bbd-a479-3f349cb785e7", "f79c3e09677c4bbda4793f349cb785e7" },
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        ice_type t = T(cases[k].type);
        ice_value v = V(&t, cases[k].value, sc), back;
        cdc_buf b = CDC_BUF_INIT;
        char hex[80] = "";
        cdc_err err = { 0 };

        ice_value_bound(&b, &t, &v);
        for (size_t j = 0; j < b.len && j < 39; j++)
            sprintf(hex + 2 * j, "%02x", b.data[j]);
        ck_assert_msg(strcmp(hex, cases[k].hex) == 0, "%s %s: %s, want %s", cases[k].type,
                      cases[k].value, hex, cases[k].hex);
        ck_assert_int_eq(ice_value_from_bound(&t, b.data, b.len, &back, &err), 0);
        ck_assert_int_eq(ice_value_cmp(&t, &v, &back), 0);
        cdc_buf_free(&b);
    }
}
END_TEST

START_TEST(truncated_bounds)
{
    ice_type s = T("string"), b = T("binary");
    uint8_t buf[80];
    ice_value v, out;
    static const uint8_t raw[] = { 1, 0xff, 0xff, 4 }, allff[] = { 0xff, 0xff, 0xff };

    v = (ice_value) { .p = (const uint8_t *) "abcdefghijklmnopqrstuvwxyz", .n = 26 };
    ice_bound_lower_trunc(&s, &v, 16, &out);
    ck_assert_int_eq((int) out.n, 16);
    ck_assert(ice_bound_upper_trunc(&s, &v, 16, buf, sizeof(buf), &out));
    ck_assert_int_eq((int) out.n, 16);
    ck_assert(memcmp(out.p, "abcdefghijklmnoq", 16) == 0);
    /* short values stay */
    v = (ice_value) { .p = (const uint8_t *) "abc", .n = 3 };
    ck_assert(ice_bound_upper_trunc(&s, &v, 16, buf, sizeof(buf), &out));
    ck_assert(out.p == v.p && out.n == 3);
    /* U+10FFFF cannot grow: the code point before it does */
    v = (ice_value) { .p = (const uint8_t *) "a\xf4\x8f\xbf\xbfzz", .n = 7 };
    ck_assert(ice_bound_upper_trunc(&s, &v, 2, buf, sizeof(buf), &out));
    ck_assert_int_eq((int) out.n, 1);
    ck_assert_int_eq(out.p[0], 'b');
    /* U+D7FF + 1 skips the surrogates */
    v = (ice_value) { .p = (const uint8_t *) "\xed\x9f\xbfz", .n = 4 };
    ck_assert(ice_bound_upper_trunc(&s, &v, 1, buf, sizeof(buf), &out));
    ck_assert(out.n == 3 && memcmp(out.p, "\xee\x80\x80", 3) == 0);
    /* "é€x..." cut at 2 code points: lower "é€", upper "é" + U+20AD */
    v = (ice_value) { .p = (const uint8_t *) "\xc3\xa9\xe2\x82\xacx", .n = 6 };
    ice_bound_lower_trunc(&s, &v, 2, &out);
    ck_assert_int_eq((int) out.n, 5);
    ck_assert(ice_bound_upper_trunc(&s, &v, 2, buf, sizeof(buf), &out));
    ck_assert(out.n == 5 && memcmp(out.p, "\xc3\xa9\xe2\x82\xad", 5) == 0);
    /* binary */
    v = (ice_value) { .p = raw, .n = 4 };
    ck_assert(ice_bound_upper_trunc(&b, &v, 3, buf, sizeof(buf), &out));
    ck_assert(out.n == 1 && out.p[0] == 2);
    v = (ice_value) { .p = allff, .n = 3 };
    ck_assert(!ice_bound_upper_trunc(&b, &v, 2, buf, sizeof(buf), &out));
}
END_TEST

START_TEST(value_parse_errors)
{
    uint8_t sc[16];
    ice_value v;
    cdc_err err = { 0 };
    ice_type d = T("decimal(4, 2)"), i = T("int"), u = T("uuid");

    ck_assert_int_eq(ice_value_parse(&d, "123.4", sc, &v, &err), -1);   /* 3 integer digits */
    ck_assert_int_eq(ice_value_parse(&d, "1.234", sc, &v, &err), -1);   /* scale 3 */
    ck_assert_ptr_nonnull(strstr(err.msg, "decimal(4, 2)"));
    ck_assert_int_eq(ice_value_parse(&i, "2147483648", sc, &v, &err), -1);
    ck_assert_int_eq(ice_value_parse(&u, "f79c3e09", sc, &v, &err), -1);
    ck_assert_int_eq(ice_value_parse(&d, "99.99", sc, &v, &err), 0);
}
END_TEST

/* ---- the decoder's values into Iceberg values, through the real decoder ---- */

static const struct {
    uint32_t    oid;
    int32_t     typmod;
    const char *text;       /* as PostgreSQL prints it */
    const char *want;       /* the Iceberg value's text (ice_value_parse), NULL: an error */
} from_pg[] = {
    { 16, -1, "t", "true" },
    { 21, -1, "-32768", "-32768" },
    { 23, -1, "2147483647", "2147483647" },
    { 20, -1, "-9223372036854775808", "-9223372036854775808" },
    { 701, -1, "1.5", "1.5" },
    { 700, -1, "-0.25", "-0.25" },
    { 1700, ((10 << 16) | 2) + 4, "14.2", "14.20" },
    { 1700, ((10 << 16) | 2) + 4, "-0.05", "-0.05" },
    { 1700, ((38 << 16) | 0) + 4, "99999999999999999999999999999999999999",
      "99999999999999999999999999999999999999" },
    { 1700, ((10 << 16) | 2) + 4, "NaN", NULL },
    { 1700, ((40 << 16) | 0) + 4, "1234567890123456789012345678901234567890",
      "1234567890123456789012345678901234567890" },
    { 1700, -1, "3.14159", "3.14159" },
    { 790, -1, "$1,234.56", "1234.56" },
    { 1082, -1, "2017-11-16", "2017-11-16" },
    { 1083, -1, "22:31:08.000001", "22:31:08.000001" },
    { 1114, -1, "2017-11-16 22:31:08.000001", "2017-11-16 22:31:08.000001" },
    { 1114, 3, "2017-11-16 22:31:08.123", "2017-11-16 22:31:08.123" },
    { 1184, -1, "2017-11-16 14:31:08.000001-08", "2017-11-16 22:31:08.000001+00" },
    { 2950, -1, "f79c3e09-677c-4bbd-a479-3f349cb785e7", "f79c3e09-677c-4bbd-a479-3f349cb785e7" },
    { 25, -1, "iceberg", "iceberg" },
    { 3802, -1, "{\"a\": 1}", "{\"a\": 1}" },
    /* interval: the numeric interval mode gives microseconds (the sink asks for ISO text) */
    { 1186, -1, "1 day", "86400000000" },
    { 1700, ((5 << 16) | 0xfffe) + 4, "12300", "12300" },     /* numeric(5,-2) */
    { 1700, -1, "-0.000123", "-0.000123" },
    { 1700, -1, "0", "0" },
};

START_TEST(values_from_decoder)
{
    for (int mode = 0; mode < 2; mode++) {
        pgo_type_opts o = { .decimal_mode = mode ? PGO_DECIMAL_STRING : PGO_DECIMAL_PRECISE,
                            .time_mode = PGO_TIME_ADAPTIVE, .money_fraction_digits = 2 };
        cdc_col c = { .name = "c", .type_oid = from_pg[_i].oid, .typmod = from_pg[_i].typmod,
                      .catalog_known = true, .base_oid = from_pg[_i].oid, .typtype = 'b' };
        cdc_rel r = { .nspname = "public", .relname = "t", .ncols = 1, .cols = &c };
        cdc_arena *a = cdc_arena_new(4096);
        cdc_err err = { 0 };
        cdc_value cv;
        ice_type t;
        ice_value iv, want;
        cdc_buf scratch = CDC_BUF_INIT;
        uint8_t sc[16];

        ck_assert_int_eq(pgo_typemap_rel(&r, &o, &err), 0);
        ice_type_from_pg(&c, &t);
        if (pgo_value_from_text(&c, from_pg[_i].text, strlen(from_pg[_i].text), &o, a, &cv,
                                &err) != 0) {
            /* the decoder refuses it already (NaN as a precise decimal) */
            ck_assert_msg(from_pg[_i].want == NULL, "%s: %s", from_pg[_i].text, err.msg);
            cdc_arena_free(a);
            continue;
        }
        int rc = ice_value_from_cdc(&t, &c.ctype, &cv, &scratch, &iv, &err);
        if (from_pg[_i].want == NULL) {
            ck_assert_msg(rc == -1, "%s (mode %d) accepted", from_pg[_i].text, mode);
        } else {
            cdc_buf b1 = CDC_BUF_INIT, b2 = CDC_BUF_INIT;

            ck_assert_msg(rc == 0, "%s (mode %d): %s", from_pg[_i].text, mode, err.msg);
            want = V(&t, from_pg[_i].want, sc);
            ice_value_bound(&b1, &t, &iv);
            ice_value_bound(&b2, &t, &want);
            ck_assert_msg(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0,
                          "%s (mode %d) differs from %s", from_pg[_i].text, mode, from_pg[_i].want);
            cdc_buf_free(&b1);
            cdc_buf_free(&b2);
        }
        cdc_buf_free(&scratch);
        cdc_arena_free(a);
    }
}
END_TEST

START_TEST(values_from_cdc_edges)
{
    ice_type d = T("decimal(4, 2)"), i = T("int"), s = T("string");
    cdc_ctype bytes = { .supported = true, .kind = CDC_CT_BYTES, .sem = CDC_SEM_DECIMAL, .scale = 2 };
    cdc_ctype i64 = { .supported = true, .kind = CDC_CT_INT64 };
    cdc_ctype f64 = { .supported = true, .kind = CDC_CT_FLOAT64 };
    static const uint8_t big[] = { 0x27, 0x10 };    /* 10000: 100.00 overflows decimal(4, 2) */
    cdc_value v = { .state = CDC_VAL_PRESENT };
    cdc_buf sb = CDC_BUF_INIT, *scratch = &sb;
    ice_value out;
    cdc_err err = { 0 };

    v.u.s.p = (const char *) big;
    v.u.s.n = 2;
    v.u.s.scale = 2;
    ck_assert_int_eq(ice_value_from_cdc(&d, &bytes, &v, scratch, &out, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "precision of decimal(4, 2)"));
    v.u.s.scale = 3;
    ck_assert_int_eq(ice_value_from_cdc(&d, &bytes, &v, scratch, &out, &err), -1);
    v.u.i = 1LL << 40;
    ck_assert_int_eq(ice_value_from_cdc(&i, &i64, &v, scratch, &out, &err), -1);
    v.u.f = 0.1;
    ck_assert_int_eq(ice_value_from_cdc(&d, &f64, &v, scratch, &out, &err), -1);
    ck_assert_int_eq(ice_value_from_cdc(&s, &f64, &v, scratch, &out, &err), 0);
    ck_assert(out.n == 19 && memcmp(out.p, "0.10000000000000001", 19) == 0);
    v.state = CDC_VAL_UNCHANGED;
    ck_assert_int_eq(ice_value_from_cdc(&s, &f64, &v, scratch, &out, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "TOAST"));
    v.state = CDC_VAL_NULL;
    ck_assert_int_eq(ice_value_from_cdc(&d, &bytes, &v, scratch, &out, &err), 0);
    ck_assert(out.null);

    /* dates and timestamps: 0001-01-01 .. 9999-12-31, the decoder's infinity stand-ins named */
    {
        ice_type dt = T("date"), ts = T("timestamp"), tz = T("timestamptz");
        cdc_ctype cd = { .supported = true, .kind = CDC_CT_INT32, .sem = CDC_SEM_DATE };
        cdc_ctype cts = { .supported = true, .kind = CDC_CT_INT64,
                          .sem = CDC_SEM_MICRO_TIMESTAMP };
        cdc_ctype ctz = { .supported = true, .kind = CDC_CT_STRING,
                          .sem = CDC_SEM_ZONED_TIMESTAMP };

        v.state = CDC_VAL_PRESENT;
        v.u.i = -719162;        /* 0001-01-01 */
        ck_assert_int_eq(ice_value_from_cdc(&dt, &cd, &v, scratch, &out, &err), 0);
        ck_assert_int_eq(out.i, -719162);
        v.u.i = 2932896;        /* 9999-12-31 */
        ck_assert_int_eq(ice_value_from_cdc(&dt, &cd, &v, scratch, &out, &err), 0);
        v.u.i = 2932897;
        ck_assert_int_eq(ice_value_from_cdc(&dt, &cd, &v, scratch, &out, &err), -1);
        ck_assert_int_eq(err.code, CDC_E_DECODE);
        ck_assert_ptr_nonnull(strstr(err.msg, "outside 0001-01-01 .. 9999-12-31"));
        v.u.i = -719163;
        ck_assert_int_eq(ice_value_from_cdc(&dt, &cd, &v, scratch, &out, &err), -1);
        v.u.i = -2147472692;
        ck_assert_int_eq(ice_value_from_cdc(&dt, &cd, &v, scratch, &out, &err), -1);
        ck_assert_str_eq(err.msg, "'infinity' has no Iceberg date value");
        v.u.i = -2147472691;
        ck_assert_int_eq(ice_value_from_cdc(&dt, &cd, &v, scratch, &out, &err), -1);
        ck_assert_str_eq(err.msg, "'-infinity' has no Iceberg date value");
        v.u.i = INT64_C(-62135596800000000);          /* 0001-01-01 00:00 */
        ck_assert_int_eq(ice_value_from_cdc(&ts, &cts, &v, scratch, &out, &err), 0);
        v.u.i = INT64_C(-62135596800000001);
        ck_assert_int_eq(ice_value_from_cdc(&ts, &cts, &v, scratch, &out, &err), -1);
        v.u.i = INT64_C(253402300799999999);          /* 9999-12-31 23:59:59.999999 */
        ck_assert_int_eq(ice_value_from_cdc(&ts, &cts, &v, scratch, &out, &err), 0);
        v.u.i = INT64_C(253402300800000000);
        ck_assert_int_eq(ice_value_from_cdc(&ts, &cts, &v, scratch, &out, &err), -1);
        v.u.i = INT64_C(9223372036825200000);
        ck_assert_int_eq(ice_value_from_cdc(&ts, &cts, &v, scratch, &out, &err), -1);
        ck_assert_str_eq(err.msg, "'infinity' has no Iceberg timestamp value");
        v.u.s.p = "-infinity";
        v.u.s.n = 9;
        ck_assert_int_eq(ice_value_from_cdc(&tz, &ctz, &v, scratch, &out, &err), -1);
        ck_assert_str_eq(err.msg, "'-infinity' has no Iceberg timestamptz value");
    }
    cdc_buf_free(&sb);

    /* decimal text of bytes, beyond 128 bits too */
    static const struct { const char *hex; int scale; const char *want; } dt[] = {
        { "058c", 2, "14.20" }, { "fb", 2, "-0.05" }, { "00", 3, "0.000" }, { "00", -2, "0" },
        { "7b", -2, "12300" }, { "ff", 0, "-1" }, { "80", 1, "-12.8" },
        { "0100000000000000000000000000000000", 0, "340282366920938463463374607431768211456" },
        { "ff00000000000000000000000000000000", 5, "-3402823669209384634633746074317682.11456" },
    };
    for (size_t k = 0; k < sizeof(dt) / sizeof(dt[0]); k++) {
        uint8_t b[32];
        size_t n = strlen(dt[k].hex) / 2;
        cdc_buf o = CDC_BUF_INIT;

        for (size_t j = 0; j < n; j++)
            sscanf(dt[k].hex + 2 * j, "%2hhx", &b[j]);
        ice_decimal_text(b, n, dt[k].scale, &o);
        cdc_buf_putc(&o, '\0');
        ck_assert_str_eq((const char *) o.data, dt[k].want);
        cdc_buf_free(&o);
    }
}
END_TEST

/* ---- schemas ---- */

static cdc_col cols3[] = {
    { .name = "id", .type_oid = 23, .typmod = -1, .catalog_known = true, .base_oid = 23,
      .key_pos = 1, .not_null = true },
    { .name = "name", .type_oid = 25, .typmod = -1, .catalog_known = true, .base_oid = 25 },
    { .name = "tags", .type_oid = 1009, .typmod = -1, .catalog_known = true, .base_oid = 1009,
      .elem_oid = 25 },
    { .name = "amount", .type_oid = 1700, .typmod = ((10 << 16) | 2) + 4, .catalog_known = true,
      .base_oid = 1700 },
};

static cdc_rel rel3 = { .relid = 1, .nspname = "public", .relname = "orders", .ncols = 4,
                        .cols = cols3, .nkeys = 1 };

START_TEST(schema_from_rel_and_json)
{
    int32_t last = 0;
    cdc_err err = { 0 };
    ice_schema *s = ice_schema_from_rel(&rel3, 0, true, &last, &err), *back;

    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(last, 5);     /* 4 columns + the list element */
    ck_assert_int_eq(s->fields[0].id, 1);
    ck_assert(s->fields[0].required);
    ck_assert(!s->fields[1].required);
    ck_assert_int_eq(s->fields[2].type.elem_id, 4);
    ck_assert_int_eq(s->fields[3].id, 5);
    ck_assert_int_eq(s->nident, 1);
    ck_assert_int_eq(s->ident_ids[0], 1);

    json_t *j = ice_schema_to_json(s);
    char *text = json_dumps(j, JSON_COMPACT);
    ck_assert_ptr_nonnull(strstr(text, "\"identifier-field-ids\":[1]"));
    ck_assert_ptr_nonnull(strstr(text, "{\"type\":\"list\",\"element-id\":4,\"element\":\"string\","
                                       "\"element-required\":false}"));
    ck_assert_ptr_nonnull(strstr(text, "\"decimal(10, 2)\""));
    back = ice_schema_from_json(j, &err);
    ck_assert_ptr_nonnull(back);
    ck_assert(ice_schema_equal(s, back));
    free(text);
    json_decref(j);
    ice_schema_free(back);
    ice_schema_free(s);
}
END_TEST

static ice_schema *
want_of(cdc_col *cols, int n)
{
    cdc_rel r = rel3;
    int32_t scratch = 0;
    cdc_err err = { 0 };

    r.cols = cols;
    r.ncols = n;
    ice_schema *s = ice_schema_from_rel(&r, 0, true, &scratch, &err);
    ck_assert_msg(s != NULL, "%s", err.msg);
    return s;
}

START_TEST(schema_evolution)
{
    int32_t last = 0;
    cdc_err err = { 0 };
    bool changed;
    ice_schema *cur = ice_schema_from_rel(&rel3, 0, true, &last, &err), *want, *next;
    cdc_col c[5];

    /* unchanged */
    want = want_of(cols3, 4);
    next = ice_schema_evolve(cur, want, "public.orders", 1, &last, &changed, &err);
    ck_assert_ptr_nonnull(next);
    ck_assert(!changed);
    ck_assert_int_eq(next->schema_id, 0);
    ice_schema_free(next);
    ice_schema_free(want);

    /* ADD COLUMN, DROP COLUMN name, int -> bigint, numeric(10,2) -> numeric(12,2) */
    memcpy(c, cols3, sizeof(cols3));
    c[0].type_oid = c[0].base_oid = 20;
    c[1] = cols3[2];
    c[2] = cols3[3];
    c[2].typmod = ((12 << 16) | 2) + 4;
    c[3] = (cdc_col) { .name = "note", .type_oid = 25, .typmod = -1 };
    want = want_of(c, 4);
    next = ice_schema_evolve(cur, want, "public.orders", 1, &last, &changed, &err);
    ck_assert_msg(next != NULL, "%s", err.msg);
    ck_assert(changed);
    ck_assert_int_eq(next->schema_id, 1);
    ck_assert_int_eq(next->nfields, 4);
    ck_assert_int_eq(ice_schema_find(next, "id")->id, 1);
    ck_assert_int_eq(ice_schema_find(next, "id")->type.kind, ICE_LONG);
    ck_assert_int_eq(ice_schema_find(next, "tags")->type.elem_id, 4);
    ck_assert_int_eq(ice_schema_find(next, "amount")->type.precision, 12);
    ck_assert_int_eq(ice_schema_find(next, "note")->id, 6);
    ck_assert(!ice_schema_find(next, "note")->required);
    ck_assert_ptr_null(ice_schema_find(next, "name"));
    ck_assert_int_eq(last, 6);
    ck_assert_int_eq(next->ident_ids[0], 1);
    ice_schema_free(want);

    /* bigint -> text: refused, naming table, column and both types */
    c[0].type_oid = c[0].base_oid = 25;
    want = want_of(c, 4);
    ck_assert_ptr_null(ice_schema_evolve(next, want, "public.orders", 2, &last, &changed, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "public.orders"));
    ck_assert_ptr_nonnull(strstr(err.msg, "\"id\""));
    ck_assert_ptr_nonnull(strstr(err.msg, "from long to string"));
    ice_schema_free(want);

    /* a scale change or a narrowing is refused too */
    c[0].type_oid = c[0].base_oid = 20;
    c[2].typmod = ((12 << 16) | 3) + 4;
    want = want_of(c, 4);
    ck_assert_ptr_null(ice_schema_evolve(next, want, "public.orders", 2, &last, &changed, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "decimal(12, 2) to decimal(12, 3)"));
    ice_schema_free(want);
    c[2].typmod = ((11 << 16) | 2) + 4;
    want = want_of(c, 4);
    ck_assert_ptr_null(ice_schema_evolve(next, want, "public.orders", 2, &last, &changed, &err));
    ice_schema_free(want);

    /* a new key column that the table holds as optional */
    c[2].typmod = ((12 << 16) | 2) + 4;
    c[3].key_pos = 2;
    want = want_of(c, 4);
    want->nident = 2;   /* want_of counted one key: rel3.nkeys */
    want->ident_ids = realloc(want->ident_ids, 2 * sizeof(int32_t));
    want->ident_ids[1] = ice_schema_find(want, "note")->id;
    ck_assert_ptr_null(ice_schema_evolve(next, want, "public.orders", 2, &last, &changed, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "\"note\""));
    ck_assert_ptr_nonnull(strstr(err.msg, "must be required"));
    ice_schema_free(want);

    ice_schema_free(next);
    ice_schema_free(cur);
}
END_TEST

START_TEST(promotions)
{
    ice_type i = T("int"), l = T("long"), f = T("float"), d = T("double"), s = T("string");
    ice_type d92 = T("decimal(9, 2)"), d102 = T("decimal(10, 2)"), d103 = T("decimal(10, 3)");

    ck_assert(ice_type_promotable(&i, &l));
    ck_assert(!ice_type_promotable(&l, &i));
    ck_assert(ice_type_promotable(&f, &d));
    ck_assert(!ice_type_promotable(&i, &s));
    ck_assert(!ice_type_promotable(&i, &d));
    ck_assert(ice_type_promotable(&d92, &d102));
    ck_assert(!ice_type_promotable(&d102, &d92));
    ck_assert(!ice_type_promotable(&d92, &d103));
}
END_TEST

/* ---- partition specs ---- */

START_TEST(partition_by)
{
    int32_t last = 0, lp = 999;
    cdc_err err = { 0 };
    cdc_col c[] = {
        { .name = "id", .type_oid = 20, .typmod = -1 },
        { .name = "name", .type_oid = 25, .typmod = -1 },
        { .name = "ts", .type_oid = 1184, .typmod = -1 },
        { .name = "d", .type_oid = 1082, .typmod = -1 },
        { .name = "f", .type_oid = 701, .typmod = -1 },
    };
    cdc_rel r = { .nspname = "public", .relname = "t", .ncols = 5, .cols = c };
    ice_schema *s = ice_schema_from_rel(&r, 0, false, &last, &err);
    const char *ok[] = { "bucket(16, id)", "truncate[4](name)", "day(ts)", "months(d)",
                         " name ", "hour(ts)" };
    ice_spec *sp = ice_spec_from_partition_by(ok, 6, s, "public.t", 0, &lp, &err);

    ck_assert_msg(sp != NULL, "%s", err.msg);
    ck_assert_int_eq(sp->nfields, 6);
    ck_assert_str_eq(sp->fields[0].name, "id_bucket");
    ck_assert_int_eq(sp->fields[0].field_id, 1000);
    ck_assert_int_eq(sp->fields[0].source_id, 1);
    ck_assert_int_eq(sp->fields[0].tr.param, 16);
    ck_assert_str_eq(sp->fields[1].name, "name_trunc");
    ck_assert_str_eq(sp->fields[2].name, "ts_day");
    ck_assert_str_eq(sp->fields[3].name, "d_month");
    ck_assert_str_eq(sp->fields[4].name, "name");
    ck_assert_int_eq(sp->fields[4].tr.kind, ICE_T_IDENTITY);
    ck_assert_int_eq(lp, 1005);

    ice_type types[6];
    ck_assert_int_eq(ice_spec_types(sp, s, types, &err), 0);
    ck_assert_int_eq(types[0].kind, ICE_INT);
    ck_assert_int_eq(types[1].kind, ICE_STRING);
    ck_assert_int_eq(types[2].kind, ICE_DATE);
    ck_assert_int_eq(types[3].kind, ICE_INT);

    json_t *j = ice_spec_to_json(sp);
    ice_spec *back = ice_spec_from_json(j, &err);
    ck_assert_ptr_nonnull(back);
    ck_assert_int_eq(back->nfields, 6);
    ck_assert_str_eq(back->fields[1].name, "name_trunc");
    ck_assert_int_eq(back->fields[1].tr.kind, ICE_T_TRUNCATE);
    ck_assert_int_eq(back->fields[1].tr.param, 4);
    json_decref(j);
    ice_spec_free(back);
    ice_spec_free(sp);

    static const struct { const char *entry, *msg; } bad[] = {
        { "bucket(0, id)", "is not col" },
        { "nope(id)", "is not col" },
        { "missing", "names no column" },
        { "hour(d)", "hour does not apply to column \"d\" of type date" },
        { "bucket[4](f)", "of type double" },
        { "truncate(3, ts)", "of type timestamptz" },
        { "day(ts", "is not col" },
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        lp = 999;
        sp = ice_spec_from_partition_by(&bad[k].entry, 1, s, "public.t", 0, &lp, &err);
        ck_assert_ptr_null(sp);
        ck_assert_msg(strstr(err.msg, bad[k].msg) && strstr(err.msg, "public.t"), "%s: %s",
                      bad[k].entry, err.msg);
    }
    /* the spec against an evolved schema: a dropped source column is refused */
    lp = 999;
    const char *one[] = { "bucket(4, id)" };
    sp = ice_spec_from_partition_by(one, 1, s, "public.t", 0, &lp, &err);
    ck_assert_int_eq(ice_spec_check(sp, s, "public.t", &err), 0);
    ice_schema *nos = ice_schema_new(1);
    ice_type str = T("string");
    int32_t l2 = last;
    ck_assert_int_eq(ice_schema_add(nos, "name", &str, false, &l2, &err), 0);
    ck_assert_int_eq(ice_spec_check(sp, nos, "public.t", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "\"id_bucket\""));
    ice_schema_free(nos);
    ice_spec_free(sp);

    const char *twice[] = { "id", "id" };
    ck_assert_ptr_null(ice_spec_from_partition_by(twice, 2, s, "public.t", 0, &lp, &err));
    ice_schema_free(s);
}
END_TEST

/* ---- metadata JSON ---- */

START_TEST(metadata_round_trip)
{
    int32_t last = 0, lp = 999;
    cdc_err err = { 0 };
    ice_schema *s = ice_schema_from_rel(&rel3, 0, true, &last, &err);
    const char *pb[] = { "bucket(4, id)" };
    ice_spec *sp = ice_spec_from_partition_by(pb, 1, s, "public.orders", 0, &lp, &err);
    ice_meta *m = ice_meta_new("file:///w/db/orders", s, sp, last, lp, NULL, 1000), *back;
    ice_kv sum[] = { { "operation", "append" }, { "cdc.position", "0/16B3748:7" },
                     { "added-records", "3" } };
    ice_snapshot snap = { .id = 123456789012345LL, .parent_id = -1, .sequence_number = 1,
                          .timestamp_ms = 2000, .manifest_list = "file:///w/db/orders/metadata/snap-1.avro",
                          .schema_id = 0, .nsummary = 3, .summary = sum };
    char *text, *text2;

    ice_meta_set_prop(m, "write.format.default", "parquet");
    ck_assert_int_eq(ice_meta_add_snapshot(m, &snap, &err), 0);
    /* a second snapshot must follow the first */
    snap.id = 2;
    ck_assert_int_eq(ice_meta_add_snapshot(m, &snap, &err), -1);
    snap.parent_id = 123456789012345LL;
    snap.sequence_number = 2;
    snap.timestamp_ms = 3000;
    sum[1].value = "0/16B3800:2";
    ck_assert_int_eq(ice_meta_add_snapshot(m, &snap, &err), 0);
    ice_meta_log_previous(m, "file:///w/db/orders/metadata/00000-x.metadata.json", 1000);

    text = ice_meta_to_json(m, &err);
    ck_assert_ptr_nonnull(text);
    ck_assert_ptr_nonnull(strstr(text, "\"format-version\": 2"));
    ck_assert_ptr_nonnull(strstr(text, "\"refs\": {\n    \"main\": {\n      \"snapshot-id\": 2,"));
    back = ice_meta_from_json(text, strlen(text), "test", &err);
    ck_assert_msg(back != NULL, "%s", err.msg);
    ck_assert_str_eq(back->uuid, m->uuid);
    ck_assert_int_eq(back->last_sequence_number, 2);
    ck_assert_int_eq(back->last_updated_ms, 3000);
    ck_assert_int_eq(back->last_column_id, 5);
    ck_assert_int_eq(back->last_partition_id, 1000);
    ck_assert(ice_schema_equal(back->schemas[0], s));
    ck_assert_int_eq(back->specs[0]->fields[0].tr.param, 4);
    ck_assert_str_eq(ice_meta_prop(back, "write.format.default"), "parquet");
    const ice_snapshot *cur = ice_meta_current(back);
    ck_assert_ptr_nonnull(cur);
    ck_assert_int_eq(cur->id, 2);
    ck_assert_int_eq(cur->parent_id, 123456789012345LL);
    ck_assert_str_eq(ice_snapshot_get(cur, "cdc.position"), "0/16B3800:2");
    ck_assert_str_eq(ice_snapshot_get(cur, "operation"), "append");
    ck_assert_int_eq(back->nsnaplog, 2);
    ck_assert_int_eq(back->nmetalog, 1);
    text2 = ice_meta_to_json(back, &err);
    ck_assert_str_eq(text, text2);

    /* bad input names the file and the field */
    ice_meta *bad = ice_meta_from_json("{\"format-version\": 2}", 21, "m.json", &err);
    ck_assert_ptr_null(bad);
    ck_assert_ptr_nonnull(strstr(err.msg, "m.json"));
    ck_assert_ptr_nonnull(strstr(err.msg, "location"));
    bad = ice_meta_from_json("{nope", 5, "m2.json", &err);
    ck_assert_ptr_null(bad);
    ck_assert_ptr_nonnull(strstr(err.msg, "m2.json"));

    free(text);
    free(text2);
    ice_meta_free(back);
    ice_meta_free(m);
    ice_spec_free(sp);
    ice_schema_free(s);
}
END_TEST

START_TEST(summaries)
{
    ice_snapshot a = { 0 }, b = { 0 };
    ice_summary_delta d1 = { .added_data_files = 2, .added_records = 10, .added_files_size = 100,
                             .changed_partitions = 2 };
    ice_summary_delta d2 = { .added_position_delete_files = 1, .added_delete_files = 1,
                             .added_position_deletes = 3, .added_files_size = 7,
                             .changed_partitions = 1 };
    ice_kv pos = { "cdc.position", "0/1:2" };

    ice_snapshot_summarize(&a, "append", NULL, &d1, &pos, 1);
    ck_assert_str_eq(a.summary[0].key, "operation");
    ck_assert_str_eq(ice_snapshot_get(&a, "operation"), "append");
    ck_assert_str_eq(ice_snapshot_get(&a, "added-records"), "10");
    ck_assert_str_eq(ice_snapshot_get(&a, "total-records"), "10");
    ck_assert_str_eq(ice_snapshot_get(&a, "total-data-files"), "2");
    ck_assert_str_eq(ice_snapshot_get(&a, "total-delete-files"), "0");
    ck_assert_ptr_null(ice_snapshot_get(&a, "deleted-records"));
    ck_assert_str_eq(ice_snapshot_get(&a, "cdc.position"), "0/1:2");
    ice_snapshot_summarize(&b, "overwrite", &a, &d2, NULL, 0);
    ck_assert_str_eq(ice_snapshot_get(&b, "total-records"), "10");
    ck_assert_str_eq(ice_snapshot_get(&b, "total-files-size"), "107");
    ck_assert_str_eq(ice_snapshot_get(&b, "total-position-deletes"), "3");
    ck_assert_str_eq(ice_snapshot_get(&b, "total-delete-files"), "1");
    ck_assert_ptr_null(ice_snapshot_get(&b, "cdc.position"));
    ice_snapshot_clear(&a);
    ice_snapshot_clear(&b);
}
END_TEST

/* Metadata another writer could have left: each is refused with the file's name. */
static const char *const bad_meta[] = {
    "[]",
    "{\"format-version\": 4, \"location\": \"x\"}",
    "{\"format-version\": 2, \"location\": 5}",
    "{\"format-version\": 2, \"location\": \"x\", \"last-updated-ms\": 1, "
    "\"last-column-id\": 1, \"last-sequence-number\": 0, \"schemas\": [{\"fields\": \"no\"}]}",
    "{\"format-version\": 2, \"location\": \"x\", \"last-updated-ms\": 1, "
    "\"last-column-id\": 1, \"last-sequence-number\": 0, \"current-schema-id\": 3, "
    "\"schemas\": [{\"schema-id\": 0, \"fields\": []}]}",
    "{\"format-version\": 2, \"location\": \"x\", \"last-updated-ms\": 1, "
    "\"last-column-id\": 1, \"last-sequence-number\": 0, \"current-schema-id\": 0, "
    "\"schemas\": [{\"schema-id\": 0, \"fields\": [{\"id\": 1, \"name\": \"m\", "
    "\"required\": false, \"type\": {\"type\": \"map\"}}]}]}",
    "{\"format-version\": 2, \"location\": \"x\", \"last-updated-ms\": 1, "
    "\"last-column-id\": 1, \"last-sequence-number\": 0, \"current-schema-id\": 0, "
    "\"schemas\": [{\"schema-id\": 0, \"fields\": []}], \"default-spec-id\": 0, "
    "\"partition-specs\": [{\"spec-id\": 0, \"fields\": [{\"name\": \"a\", "
    "\"transform\": \"zorder\", \"source-id\": 1, \"field-id\": 1000}]}]}",
    "{\"format-version\": 2, \"location\": \"x\", \"last-updated-ms\": 1, "
    "\"last-column-id\": 1, \"last-sequence-number\": 0, \"current-schema-id\": 0, "
    "\"schemas\": [{\"schema-id\": 0, \"fields\": []}], \"default-spec-id\": 0, "
    "\"partition-specs\": [{\"spec-id\": 0, \"fields\": []}], \"current-snapshot-id\": 9, "
    "\"snapshots\": []}",
    "{\"format-version\": 2, \"location\": \"x\", \"last-updated-ms\": 1, "
    "\"last-column-id\": 1, \"last-sequence-number\": 0, \"current-schema-id\": 0, "
    "\"schemas\": [{\"schema-id\": 0, \"fields\": []}], \"default-spec-id\": 0, "
    "\"partition-specs\": [{\"spec-id\": 0, \"fields\": []}], "
    "\"snapshots\": [{\"snapshot-id\": 1, \"timestamp-ms\": \"late\"}]}",
};

START_TEST(metadata_refused)
{
    cdc_err err = { 0 };
    ice_meta *m = ice_meta_from_json(bad_meta[_i], strlen(bad_meta[_i]), "v9.metadata.json", &err);

    ck_assert_msg(m == NULL, "accepted: %s", bad_meta[_i]);
    ck_assert_msg(strstr(err.msg, "v9.metadata.json") != NULL, "%s", err.msg);
}
END_TEST

/* ---- manifests, read back by avro-c's file reader ---- */

static char *
to_tmp(const cdc_buf *b)
{
    char *path = strdup("/tmp/test_iceberg_XXXXXX");
    int fd = mkstemp(path);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, b->data, b->len), (ssize_t) b->len);
    close(fd);
    return path;
}

/* A container written to a temporary file and opened with avro-c's file reader. */
typedef struct avro_in {
    char               *path;
    avro_file_reader_t  rd;
    avro_schema_t       ws;
    avro_value_iface_t *iface;
    avro_value_t        rec;
} avro_in;

static void
avro_in_open(avro_in *in, const cdc_buf *b)
{
    in->path = to_tmp(b);
    ck_assert_int_eq(avro_file_reader(in->path, &in->rd), 0);
    in->ws = avro_file_reader_get_writer_schema(in->rd);
    in->iface = avro_generic_class_from_schema(in->ws);
    avro_generic_value_new(in->iface, &in->rec);
}

static void
avro_in_close(avro_in *in)
{
    avro_value_decref(&in->rec);
    avro_value_iface_decref(in->iface);
    avro_schema_decref(in->ws);
    avro_file_reader_close(in->rd);
    unlink(in->path);
    free(in->path);
}

static int64_t
rec_long(avro_value_t *rec, const char *name)
{
    avro_value_t f = { 0 }, br = { 0 };
    int64_t v = -12345;
    avro_type_t t;

    ck_assert_int_eq(avro_value_get_by_name(rec, name, &f, NULL), 0);
    t = avro_value_get_type(&f);
    if (t == AVRO_UNION) {
        int disc = 0;

        avro_value_get_discriminant(&f, &disc);
        if (disc == 0)
            return -1;
        avro_value_get_current_branch(&f, &br);
        f = br;
        t = avro_value_get_type(&f);
    }
    if (t == AVRO_INT32) {
        int32_t i = 0;

        avro_value_get_int(&f, &i);
        v = i;
    } else {
        avro_value_get_long(&f, &v);
    }
    return v;
}

START_TEST(manifest_and_list)
{
    int32_t last = 0, lp = 999;
    cdc_err err = { 0 };
    ice_schema *s = ice_schema_from_rel(&rel3, 0, true, &last, &err);
    const char *pb[] = { "bucket(4, id)", "truncate(2, name)" };
    ice_spec *sp = ice_spec_from_partition_by(pb, 2, s, "public.orders", 0, &lp, &err);
    ice_manifest_writer *w = ice_manifest_writer_new(s, sp, 0, 77, &err);
    cdc_buf mb = CDC_BUF_INIT, lb = CDC_BUF_INIT;
    ice_manifest_file mf;
    static const uint8_t lo[] = { 1, 0, 0, 0 }, hi[] = { 9, 0, 0, 0 };
    ice_colstat cs[] = {
        { .field_id = 1, .size = 40, .values = 3, .nulls = 0, .nans = -1, .lower = lo, .lower_n = 4,
          .upper = hi, .upper_n = 4 },
        { .field_id = 2, .size = 30, .values = 3, .nulls = 1, .nans = -1 },
    };

    ck_assert_msg(w != NULL, "%s", err.msg);
    for (int k = 0; k < 3; k++) {
        ice_value pv[2] = { { .i = k }, { .p = (const uint8_t *) (k ? "ab" : "zz"), .n = 2 } };
        char path[64];

        if (k == 2)
            pv[1].null = true;
        snprintf(path, sizeof(path), "file:///w/data/%d.parquet", k);
        ice_entry e = { .status = ICE_STATUS_ADDED, .snapshot_id = 77, .sequence_number = -1,
                        .file_sequence_number = -1,
                        .file = { .content = 0, .path = path, .partition = pv, .record_count = 3,
                                  .file_size = 1000 + k, .ncols = 2, .cols = cs,
                                  .sort_order_id = 0 } };
        ck_assert_msg(ice_manifest_add(w, &e, &err) == 0, "%s", err.msg);
    }
    ice_entry del = { .status = 1, .file = { .content = 1, .path = "x" } };
    ck_assert_int_eq(ice_manifest_add(w, &del, &err), -1);
    ice_entry ex = { .status = ICE_STATUS_EXISTING, .snapshot_id = 1, .sequence_number = -1,
                     .file = { .content = 0, .path = "y" } };
    ck_assert_int_eq(ice_manifest_add(w, &ex, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "an existing entry for y"));
    ck_assert_int_eq(ice_manifest_finish(w, "file:///w/metadata/m0.avro", &mb, &mf, &err), 0);
    ice_manifest_writer_free(w);
    ck_assert_int_eq(mf.length, (int64_t) mb.len);
    ck_assert_int_eq(mf.added_files, 3);
    ck_assert_int_eq(mf.added_rows, 9);
    ck_assert_int_eq(mf.nparts, 2);
    ck_assert(!mf.parts[0].contains_null);
    ck_assert(mf.parts[1].contains_null);
    ck_assert_int_eq((int) mf.parts[0].lower_n, 4);
    ck_assert_int_eq(mf.parts[0].lower[0], 0);
    ck_assert_int_eq(mf.parts[0].upper[0], 2);
    ck_assert(mf.parts[1].lower_n == 2 && memcmp(mf.parts[1].lower, "ab", 2) == 0);
    ck_assert(mf.parts[1].upper_n == 2 && memcmp(mf.parts[1].upper, "zz", 2) == 0);

    /* the header carries Iceberg's keys; avro-c reads the records back */
    ck_assert(memmem(mb.data, mb.len, "partition-spec-id", 17));
    ck_assert(memmem(mb.data, mb.len, "\"field-id\":102", 14));
    ck_assert(memmem(mb.data, mb.len, "\"identifier-field-ids\":[1]", 26));
    avro_in in;
    avro_value_t df = { 0 }, f = { 0 };
    int n = 0;

    avro_in_open(&in, &mb);
    while (avro_file_reader_read_value(in.rd, &in.rec) == 0) {
        ck_assert_int_eq(rec_long(&in.rec, "status"), 1);
        ck_assert_int_eq(rec_long(&in.rec, "snapshot_id"), 77);
        ck_assert_int_eq(rec_long(&in.rec, "sequence_number"), -1);
        avro_value_get_by_name(&in.rec, "data_file", &df, NULL);
        ck_assert_int_eq(rec_long(&df, "file_size_in_bytes"), 1000 + n);
        ck_assert_int_eq(rec_long(&df, "record_count"), 3);
        avro_value_get_by_name(&df, "file_path", &f, NULL);
        const char *str;
        size_t sz;
        avro_value_get_string(&f, &str, &sz);
        ck_assert_ptr_nonnull(strstr(str, ".parquet"));
        n++;
    }
    ck_assert_int_eq(n, 3);
    avro_in_close(&in);

    /* the list */
    ck_assert_int_eq(ice_manifest_list_write(&mf, 1, 77, -1, 1, &lb, &err), 0);
    avro_in_open(&in, &lb);
    ck_assert_int_eq(avro_file_reader_read_value(in.rd, &in.rec), 0);
    ck_assert_int_eq(rec_long(&in.rec, "manifest_length"), (int64_t) mb.len);
    ck_assert_int_eq(rec_long(&in.rec, "sequence_number"), 1);
    ck_assert_int_eq(rec_long(&in.rec, "min_sequence_number"), 1);
    ck_assert_int_eq(rec_long(&in.rec, "added_rows_count"), 9);
    ck_assert_int_ne(avro_file_reader_read_value(in.rd, &in.rec), 0);
    avro_in_close(&in);

    /* and our own readers */
    ice_manifest_file *got = NULL;
    int ngot = 0;
    ck_assert_msg(ice_manifest_list_read(lb.data, lb.len, "list", &got, &ngot, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(ngot, 1);
    ck_assert_str_eq(got[0].path, "file:///w/metadata/m0.avro");
    ck_assert_int_eq(got[0].length, (int64_t) mb.len);
    ck_assert_int_eq(got[0].sequence_number, 1);
    ck_assert_int_eq(got[0].added_snapshot_id, 77);
    ck_assert_int_eq(got[0].added_rows, 9);
    ck_assert_int_eq(got[0].nparts, 2);
    ck_assert(got[0].parts[1].contains_null);
    ck_assert(got[0].parts[1].upper_n == 2 && memcmp(got[0].parts[1].upper, "zz", 2) == 0);

    ice_type pt[2];
    ice_read_entry *es = NULL;
    int nes = 0;
    ck_assert_int_eq(ice_spec_types(sp, s, pt, &err), 0);
    ck_assert_msg(ice_manifest_read(mb.data, mb.len, "m0", &got[0], pt, 2, &es, &nes, &err) == 0,
                  "%s", err.msg);
    ck_assert_int_eq(nes, 3);
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(es[k].status, ICE_STATUS_ADDED);
        ck_assert_int_eq(es[k].sequence_number, 1);     /* inherited */
        ck_assert_int_eq(es[k].file_sequence_number, 1);
        ck_assert_int_eq(es[k].snapshot_id, 77);
        ck_assert_int_eq(es[k].file_size, 1000 + k);
        ck_assert_str_eq(es[k].format, "PARQUET");
        ck_assert_int_eq(es[k].partition[0].i, k);
        ck_assert_int_eq(es[k].partition[1].null, k == 2);
    }
    ck_assert(es[0].partition[1].n == 2 && memcmp(es[0].partition[1].p, "zz", 2) == 0);
    ice_read_entries_free(es, nes);
    ice_manifest_files_free(got, ngot);
    /* not Avro, or cut short: an error naming the file */
    ck_assert_int_eq(ice_manifest_list_read("nonsense", 8, "bad.avro", &got, &ngot, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "bad.avro"));
    ck_assert_int_eq(ice_manifest_read(mb.data, mb.len - 20, "cut.avro", NULL, pt, 2, &es, &nes,
                                       &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "cut.avro"));

    ice_manifest_file_clear(&mf);
    cdc_buf_free(&mb);
    cdc_buf_free(&lb);
    ice_spec_free(sp);
    ice_schema_free(s);
}
END_TEST

START_TEST(unpartitioned_delete_manifest)
{
    int32_t last = 0;
    cdc_err err = { 0 };
    ice_schema *s = ice_schema_from_rel(&rel3, 0, true, &last, &err);
    ice_spec *sp = ice_spec_new(0);
    ice_manifest_writer *w = ice_manifest_writer_new(s, sp, 1, 5, &err);
    cdc_buf mb = CDC_BUF_INIT;
    ice_manifest_file mf;
    ice_entry e = { .status = ICE_STATUS_ADDED, .snapshot_id = 5, .sequence_number = -1,
                    .file_sequence_number = -1,
                    .file = { .content = ICE_CONTENT_POS_DELETES, .path = "file:///d.parquet",
                              .record_count = 2, .file_size = 10, .sort_order_id = -1,
                              .referenced_data_file = "file:///a.parquet" } };

    ck_assert_msg(w != NULL, "%s", err.msg);
    ck_assert_msg(ice_manifest_add(w, &e, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ice_manifest_finish(w, "file:///m.avro", &mb, &mf, &err), 0);
    ck_assert_int_eq(mf.content, 1);
    ck_assert_int_eq(mf.nparts, 0);
    ck_assert(memmem(mb.data, mb.len, "deletes", 7));
    ice_manifest_writer_free(w);
    ice_manifest_file_clear(&mf);
    cdc_buf_free(&mb);
    ice_spec_free(sp);
    ice_schema_free(s);
}
END_TEST

static Suite *
iceberg_suite(void)
{
    Suite *s = suite_create("iceberg_meta");
    TCase *tc = tcase_create("transforms");

    tcase_add_loop_test(tc, hash_spec_vectors, 0, sizeof(hash_vectors) / sizeof(hash_vectors[0]));
    tcase_add_test(tc, hash_bytes_and_string_34);
    tcase_add_test(tc, bucket_and_truncate);
    tcase_add_loop_test(tc, temporal_transforms, 0, sizeof(temporal) / sizeof(temporal[0]));
    tcase_add_test(tc, bound_serialization);
    tcase_add_test(tc, value_parse_errors);
    tcase_add_test(tc, truncated_bounds);
    suite_add_tcase(s, tc);

    tc = tcase_create("types");
    tcase_add_loop_test(tc, pg_type_table, 0, sizeof(pg_types) / sizeof(pg_types[0]));
    tcase_add_test(tc, domain_uses_base_type);
    tcase_add_test(tc, promotions);
    tcase_add_loop_test(tc, values_from_decoder, 0, sizeof(from_pg) / sizeof(from_pg[0]));
    tcase_add_test(tc, values_from_cdc_edges);
    suite_add_tcase(s, tc);

    tc = tcase_create("schema");
    tcase_add_test(tc, schema_from_rel_and_json);
    tcase_add_test(tc, schema_evolution);
    tcase_add_test(tc, partition_by);
    suite_add_tcase(s, tc);

    tc = tcase_create("files");
    tcase_add_test(tc, metadata_round_trip);
    tcase_add_test(tc, summaries);
    tcase_add_loop_test(tc, metadata_refused, 0, sizeof(bad_meta) / sizeof(bad_meta[0]));
    tcase_add_test(tc, manifest_and_list);
    tcase_add_test(tc, unpartitioned_delete_manifest);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(iceberg_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
