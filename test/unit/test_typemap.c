/*
 * Suite "typemap": PostgreSQL column -> cdc_ctype under each handling mode
 * (CONTRACT.md 4.1-4.4, PostgresValueConverter.schemaBuilder), mode names,
 * and column defaults -> schema defaults (4.5, PostgresDefaultValueConverter).
 * Default expressions are what pg_get_expr prints on PostgreSQL 15.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder/relcache.h"
#include "decoder/typemap.h"

#define NUMTM(p, s) ((((p) << 16) | ((s) & 0x7ff)) + 4)

typedef struct tcase_row {
    uint32_t    oid;
    int32_t     typmod;
    char        typtype;
    uint32_t    elem;           /* catalog elem_oid */
    const char *type_name;
    const char *labels;
    uint8_t     dmode, tmode, bmode, imode;
    bool        supported;
    uint8_t     kind, sem, elem_kind, elem_sem;
    int32_t     scale, precision, length;
} tcase_row;

#define T(o, t)         .oid = o, .typmod = t, .supported = true
#define K(k, s)         .kind = CDC_CT_##k, .sem = CDC_SEM_##s
#define EK(k, s)        .kind = CDC_CT_ARRAY, .elem_kind = CDC_CT_##k, .elem_sem = CDC_SEM_##s

static const tcase_row rows[] = {
    { T(16, -1), K(BOOLEAN, NONE) },
    { T(21, -1), K(INT16, NONE) },
    { T(23, -1), K(INT32, NONE) },
    { T(20, -1), K(INT64, NONE) },
    { T(26, -1), K(INT64, NONE) },
    { T(700, -1), K(FLOAT32, NONE) },
    { T(701, -1), K(FLOAT64, NONE) },
    { T(1700, NUMTM(10, 2)), K(BYTES, DECIMAL), .scale = 2, .precision = 10 },
    { T(1700, NUMTM(5, 0)), K(BYTES, DECIMAL), .scale = 0, .precision = 5 },
    { T(1700, NUMTM(2, -2)), K(BYTES, DECIMAL), .scale = -2, .precision = 2 },
    { T(1700, NUMTM(1000, 1000)), K(BYTES, DECIMAL), .scale = 1000, .precision = 1000 },
    { T(1700, -1), K(STRUCT, VARIABLE_DECIMAL) },
    { T(1700, NUMTM(10, 2)), .dmode = PGO_DECIMAL_DOUBLE, K(FLOAT64, NONE), .scale = 2, .precision = 10 },
    { T(1700, -1), .dmode = PGO_DECIMAL_STRING, K(STRING, NONE) },
    { T(790, -1), K(BYTES, DECIMAL), .scale = 2, .precision = -1 },
    { T(790, -1), .dmode = PGO_DECIMAL_DOUBLE, K(FLOAT64, NONE), .scale = 2, .precision = -1 },
    { T(790, -1), .dmode = PGO_DECIMAL_STRING, K(STRING, NONE), .scale = 2, .precision = -1 },
    { T(18, -1), K(STRING, NONE) }, { T(19, -1), K(STRING, NONE) }, { T(25, -1), K(STRING, NONE) },
    { T(1042, 12), K(STRING, NONE) }, { T(1043, 259), K(STRING, NONE) },
    { T(869, -1), K(STRING, NONE) }, { T(650, -1), K(STRING, NONE) },
    { T(829, -1), K(STRING, NONE) }, { T(774, -1), K(STRING, NONE) },
    { T(3904, -1), K(STRING, NONE) }, { T(3910, -1), K(STRING, NONE) },
    { T(114, -1), K(STRING, JSON) }, { T(3802, -1), K(STRING, JSON) },
    { T(142, -1), K(STRING, XML) }, { T(2950, -1), K(STRING, UUID) },
    { T(600, -1), K(STRUCT, POINT) },
    { T(17, -1), K(BYTES, NONE) },
    { T(17, -1), .bmode = PGO_BINARY_BASE64, K(STRING, NONE) },
    { T(17, -1), .bmode = PGO_BINARY_HEX, K(STRING, NONE) },
    { T(1560, 1), K(BOOLEAN, NONE) },
    { T(1560, 3), K(BYTES, BITS), .length = 3 },
    { T(1562, 1), K(BOOLEAN, NONE) },
    { T(1562, 64), K(BYTES, BITS), .length = 64 },
    { T(1562, -1), K(BYTES, BITS), .length = 2147483647 },
    { T(1082, -1), K(INT32, DATE) },
    { T(1082, -1), .tmode = PGO_TIME_CONNECT, K(INT32, CONNECT_DATE) },
    { T(1083, -1), K(INT64, MICRO_TIME) },
    { T(1083, 3), K(INT32, TIME) },
    { T(1083, 0), K(INT32, TIME) },
    { T(1083, 4), K(INT64, MICRO_TIME) },
    { T(1083, 3), .tmode = PGO_TIME_ADAPTIVE_TIME_MICROSECONDS, K(INT64, MICRO_TIME) },
    { T(1083, 6), .tmode = PGO_TIME_CONNECT, K(INT32, CONNECT_TIME) },
    { T(1266, 2), K(STRING, ZONED_TIME) },
    { T(1114, -1), K(INT64, MICRO_TIMESTAMP) },
    { T(1114, 3), K(INT64, TIMESTAMP) },
    { T(1114, 3), .tmode = PGO_TIME_ADAPTIVE_TIME_MICROSECONDS, K(INT64, TIMESTAMP) },
    { T(1114, 6), .tmode = PGO_TIME_CONNECT, K(INT64, CONNECT_TIMESTAMP) },
    { T(1184, -1), K(STRING, ZONED_TIMESTAMP), .length = 6 },
    { T(1184, 3), K(STRING, ZONED_TIMESTAMP), .length = 3 },
    { T(1184, 0), .tmode = PGO_TIME_CONNECT, K(STRING, ZONED_TIMESTAMP), .length = 0 },
    { T(1186, -1), K(INT64, MICRO_DURATION) },
    { T(1186, -1), .imode = PGO_INTERVAL_STRING, K(STRING, INTERVAL) },
    /* enums, extension types by name, unknown types */
    { T(16384, -1), .typtype = 'e', .labels = "a,b", K(STRING, ENUM) },
    { T(16390, -1), .typtype = 'b', .type_name = "citext", K(STRING, NONE) },
    { T(16391, -1), .typtype = 'b', .type_name = "ltree", K(STRING, LTREE) },
    { .oid = 603, .typmod = -1 },                               /* box */
    { .oid = 16400, .typmod = -1, .typtype = 'b', .type_name = "hstore" },
    { .oid = 3614, .typmod = -1 },                              /* tsvector */
    /* arrays */
    { T(1005, -1), EK(INT16, NONE) }, { T(1007, -1), EK(INT32, NONE) },
    { T(1016, -1), EK(INT64, NONE) }, { T(1028, -1), EK(INT64, NONE) },
    { T(1009, -1), EK(STRING, NONE) }, { T(1002, -1), EK(STRING, NONE) },
    { T(1041, -1), EK(STRING, NONE) }, { T(3911, -1), EK(STRING, NONE) },
    { T(1231, NUMTM(10, 2)), EK(BYTES, DECIMAL), .scale = 2, .precision = 10 },
    { T(1231, -1), EK(STRUCT, VARIABLE_DECIMAL) },
    { T(1231, -1), .dmode = PGO_DECIMAL_STRING, EK(STRING, NONE) },
    { T(1021, -1), EK(FLOAT32, NONE) }, { T(1000, -1), EK(BOOLEAN, NONE) },
    { T(1182, -1), EK(INT32, DATE) },
    { T(1182, -1), .tmode = PGO_TIME_CONNECT, EK(INT32, CONNECT_DATE) },
    { T(1183, 3), EK(INT64, MICRO_TIME) },
    { T(1183, 3), .tmode = PGO_TIME_CONNECT, EK(INT64, MICRO_TIME) },
    { T(1270, -1), EK(STRING, ZONED_TIME) },
    { T(1115, 3), EK(INT64, TIMESTAMP) }, { T(1115, -1), EK(INT64, MICRO_TIMESTAMP) },
    { T(1185, 2), EK(STRING, ZONED_TIMESTAMP), .length = 2 },
    { T(2951, -1), EK(STRING, UUID) }, { T(3807, -1), EK(STRING, JSON) },
    { T(1001, -1), EK(BYTES, NONE) },
    { T(1001, -1), .bmode = PGO_BINARY_BASE64_URL_SAFE, EK(STRING, NONE) },
    { T(16385, -1), .typtype = 'b', .elem = 16384, .labels = "a,b", EK(STRING, ENUM) },
    { T(16392, -1), .typtype = 'b', .elem = 16390, .type_name = "citext[]", EK(STRING, NONE) },
    { .oid = 791, .typmod = -1 }, { .oid = 1003, .typmod = -1 }, { .oid = 1187, .typmod = -1 },
    { .oid = 1563, .typmod = -1 }, { .oid = 143, .typmod = -1 }, { .oid = 1017, .typmod = -1 },
    { .oid = 1561, .typmod = 3 },
    { .oid = 16401, .typmod = -1, .typtype = 'b', .elem = 16400, .type_name = "hstore[]" },
};

START_TEST(maps_type)
{
    const tcase_row *r = &rows[_i];
    pgo_type_opts    o = { .decimal_mode = r->dmode, .time_mode = r->tmode,
                           .binary_mode = r->bmode, .interval_mode = r->imode,
                           .money_fraction_digits = 2 };
    cdc_col          col = { .name = "c", .type_oid = r->oid, .typmod = r->typmod,
                             .catalog_known = true, .base_oid = r->oid, .elem_oid = r->elem,
                             .typtype = r->typtype ? r->typtype : 'b',
                             .type_name = (char *) r->type_name, .enum_labels = (char *) r->labels };
    cdc_rel          rel = { .ncols = 1, .cols = &col };
    cdc_err          err;
    const cdc_ctype *ct = &col.ctype;

    ck_assert_int_eq(pgo_typemap_rel(&rel, &o, &err), 0);
    ck_assert_msg(ct->supported == r->supported, "row %d (oid %u): supported %d", _i, r->oid,
                  ct->supported);
    ck_assert_int_eq(ct->kind, r->kind);
    ck_assert_int_eq(ct->sem, r->sem);
    ck_assert_int_eq(ct->elem_kind, r->elem_kind);
    ck_assert_int_eq(ct->elem_sem, r->elem_sem);
    ck_assert_int_eq(ct->scale, r->scale);
    ck_assert_int_eq(ct->precision, r->precision);
    ck_assert_int_eq(ct->length, r->length);
}
END_TEST

/* Without the catalog, type_oid alone decides (enums and extension types are then unknown). */
START_TEST(without_catalog)
{
    pgo_type_opts o = { .money_fraction_digits = 2 };
    cdc_col       cols[3] = {
        { .name = "a", .type_oid = 1700, .typmod = NUMTM(10, 2) },
        { .name = "b", .type_oid = 1007, .typmod = -1 },
        { .name = "c", .type_oid = 16384, .typmod = -1 },
    };
    cdc_rel rel = { .ncols = 3, .cols = cols };
    cdc_err err;

    ck_assert_int_eq(pgo_typemap_rel(&rel, &o, &err), 0);
    ck_assert_int_eq(cols[0].ctype.sem, CDC_SEM_DECIMAL);
    ck_assert_int_eq(cols[1].ctype.elem_kind, CDC_CT_INT32);
    ck_assert(!cols[2].ctype.supported);
}
END_TEST

START_TEST(parses_modes)
{
    pgo_decimal_mode  d;
    pgo_time_mode     t;
    pgo_binary_mode   b;
    pgo_interval_mode i;

    ck_assert(pgo_decimal_mode_parse("precise", &d) == 0 && d == PGO_DECIMAL_PRECISE);
    ck_assert(pgo_decimal_mode_parse("double", &d) == 0 && d == PGO_DECIMAL_DOUBLE);
    ck_assert(pgo_decimal_mode_parse("string", &d) == 0 && d == PGO_DECIMAL_STRING);
    ck_assert_int_eq(pgo_decimal_mode_parse("PRECISE", &d), -1);
    ck_assert_int_eq(pgo_decimal_mode_parse(NULL, &d), -1);
    ck_assert(pgo_time_mode_parse("adaptive", &t) == 0 && t == PGO_TIME_ADAPTIVE);
    ck_assert(pgo_time_mode_parse("adaptive_time_microseconds", &t) == 0 &&
              t == PGO_TIME_ADAPTIVE_TIME_MICROSECONDS);
    ck_assert(pgo_time_mode_parse("connect", &t) == 0 && t == PGO_TIME_CONNECT);
    ck_assert_int_eq(pgo_time_mode_parse("isostring", &t), -1);
    ck_assert(pgo_binary_mode_parse("bytes", &b) == 0 && b == PGO_BINARY_BYTES);
    ck_assert(pgo_binary_mode_parse("base64", &b) == 0 && b == PGO_BINARY_BASE64);
    ck_assert(pgo_binary_mode_parse("base64-url-safe", &b) == 0 && b == PGO_BINARY_BASE64_URL_SAFE);
    ck_assert(pgo_binary_mode_parse("hex", &b) == 0 && b == PGO_BINARY_HEX);
    ck_assert_int_eq(pgo_binary_mode_parse("base64_url_safe", &b), -1);
    ck_assert(pgo_interval_mode_parse("numeric", &i) == 0 && i == PGO_INTERVAL_NUMERIC);
    ck_assert(pgo_interval_mode_parse("string", &i) == 0 && i == PGO_INTERVAL_STRING);
    ck_assert_int_eq(pgo_interval_mode_parse("iso", &i), -1);
}
END_TEST

/* exp: '-' no default, 'i' int64, 'b' bool, 'f' double, 'N' NaN, 's' string, 'x' bytes as hex. */
typedef struct dcase {
    uint32_t    oid;
    int32_t     typmod;
    const char *expr;
    char        exp;
    int64_t     i;
    double      f;
    const char *s;
    uint32_t    base;           /* 0: same as oid */
    char        typtype;
    const char *type_name;
    uint8_t     dmode;
} dcase;

#define D(o, t, e, x) .oid = o, .typmod = t, .expr = e, .exp = x

static const dcase defaults[] = {
    { D(23, -1, "'-1'::integer", 'i'), .i = -1 },
    { D(23, -1, "nextval('d_v_seq'::regclass)", 'i'), .i = 0 },
    { D(23, -1, "42", 'i'), .i = 42 },
    { D(20, -1, "'9223372036854775807'::bigint", 'i'), .i = INT64_MAX },
    { D(21, -1, "(1 + 1)", '-') },
    { D(21, -1, "'40000'::integer", '-') },
    { D(1700, NUMTM(10, 2), "12.5", 'x'), .s = "04e2" },
    { D(1700, NUMTM(10, 2), "'-1.5'::numeric", 'x'), .s = "ff6a" },
    { D(1700, NUMTM(10, 2), "12.555", '-') },
    { D(1700, NUMTM(10, 2), "random()", 'x'), .s = "00" },
    { D(1700, -1, "1.50", '-') },           /* VariableScaleDecimal is a Struct: no default */
    { D(1700, -1, "1.50", 's'), .s = "1.50", .dmode = PGO_DECIMAL_STRING },
    { D(1700, NUMTM(10, 2), "random()", 'f'), .f = 0, .dmode = PGO_DECIMAL_DOUBLE },
    { D(25, -1, "'new'::text", 's'), .s = "new" },
    { D(25, -1, "'it''s'::text", 's'), .s = "it" },    /* Debezium's '(.*?)' stops at '' */
    { D(25, -1, "NULL::text", '-') },
    { D(25, -1, "upper('x'::text)", 's'), .s = "" },
    { D(1043, 36, "'a b'::character varying", 's'), .s = "a b" },
    { D(1042, 8, "'ab'::bpchar", 's'), .s = "ab" },
    { D(16, -1, "true", 'b'), .i = 1 },
    { D(16, -1, "false", 'b'), .i = 0 },
    { D(16, -1, "NULL::boolean", '-') },
    { D(1184, -1, "now()", 's'), .s = "1970-01-01T00:00:00.000000Z" },
    { D(1184, 3, "CURRENT_TIMESTAMP", 's'), .s = "1970-01-01T00:00:00.000Z" },
    { D(1184, -1, "'2020-01-01 04:30:00+00'::timestamp with time zone", 's'),
      .s = "2020-01-01T04:30:00.000000Z" },
    { D(1114, -1, "'2020-01-01 10:00:00'::timestamp without time zone", 'i'),
      .i = 1577872800000000LL },
    { D(1114, 3, "CURRENT_TIMESTAMP(3)", 'i'), .i = 0 },
    { D(1082, -1, "CURRENT_DATE", 'i'), .i = 0 },
    { D(1082, -1, "'2020-01-31'::date", 'i'), .i = 18292 },
    { D(1083, -1, "LOCALTIME", 'i'), .i = 0 },
    { D(1083, -1, "'10:00:00'::time without time zone", 'i'), .i = 36000000000LL },
    { D(1186, -1, "'1 day'::interval", 'i'), .i = 86400000000LL },
    { D(1186, -1, "'01:00:00'::interval", 'i'), .i = 3600000000LL },
    { D(2950, -1, "gen_random_uuid()", 's'), .s = "00000000-0000-0000-0000-000000000000" },
    { D(2950, -1, "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'::uuid", 's'),
      .s = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" },
    { D(114, -1, "'{}'::json", 's'), .s = "{}" },
    { D(3802, -1, "'{\"a\": 1}'::jsonb", 's'), .s = "{\"a\": 1}" },
    { D(1560, 3, "'101'::\"bit\"", 'x'), .s = "05" },
    { D(1560, 1, "'1'::\"bit\"", 'b'), .i = 1 },
    { D(1562, -1, "'1'::\"bit\"", 'x'), .s = "01" },
    { D(701, -1, "'-1.5'::numeric", 'f'), .f = -1.5 },
    { D(700, -1, "'NaN'::real", 'N') },
    { D(16384, -1, "'a'::mood", 's'), .s = "a", .typtype = 'e', .type_name = "mood" },
    { D(16384, -1, "'a'::other", '-'), .typtype = 'e', .type_name = "mood" },
    { D(790, -1, "'$1.00'::money", '-') },
    { D(17, -1, "'\\x00'::bytea", '-') },
    { D(1266, -1, "'10:00:00+00'::time with time zone", '-') },
    { D(18, -1, "'x'::\"char\"", '-') },
    { D(1007, -1, "'{1}'::integer[]", '-') },
    { D(16500, -1, "42", '-'), .base = 23 },      /* domain over int4 */
    { D(23, -1, "'1'::integer\n", 'i'), .i = 1 },
};

START_TEST(maps_default)
{
    const dcase   *c = &defaults[_i];
    pgo_type_opts  o = { .decimal_mode = c->dmode, .money_fraction_digits = 2 };
    pgo_relcache  *rc = pgo_relcache_new();
    cdc_col        in = { .name = "c", .type_oid = c->oid, .typmod = c->typmod };
    bool           changed;
    cdc_rel       *rel = pgo_rel_install(rc, 1, "public", "t", 'd', 1, &in, &changed);
    cdc_col       *col = &rel->cols[0];
    cdc_err        err;
    char           hex[64];
    size_t         k;

    col->catalog_known = true;
    col->base_oid = c->base ? c->base : c->oid;
    col->typtype = c->typtype ? c->typtype : 'b';
    col->type_name = pgo_rel_strdup(rel, c->type_name);
    col->default_expr = pgo_rel_strdup(rel, c->expr);
    ck_assert_int_eq(pgo_typemap_rel(rel, &o, &err), 0);
    ck_assert_msg(col->has_default == (c->exp != '-'), "row %d: %s: has_default %d", _i, c->expr,
                  col->has_default);
    if (c->exp != '-')
        ck_assert_int_eq(col->def.state, CDC_VAL_PRESENT);
    switch (c->exp) {
    case 'i': ck_assert_int_eq(col->def.u.i, c->i); break;
    case 'b': ck_assert_int_eq(col->def.u.b, c->i != 0); break;
    case 'f': ck_assert(col->def.u.f == c->f); break;
    case 'N': ck_assert(col->def.u.f != col->def.u.f); break;
    case 's':
        ck_assert_int_eq(col->def.u.s.n, strlen(c->s));
        ck_assert_mem_eq(col->def.u.s.p, c->s, col->def.u.s.n);
        break;
    case 'x':
        for (k = 0; k < col->def.u.s.n && k < 30; k++)
            sprintf(hex + 2 * k, "%02x", (unsigned char) col->def.u.s.p[k]);
        hex[2 * k] = '\0';
        ck_assert_str_eq(hex, c->s);
        break;
    default:
        break;
    }
    pgo_relcache_free(rc);
}
END_TEST

static Suite *
typemap_suite(void)
{
    Suite *s = suite_create("typemap");
    TCase *tc = tcase_create("types");

    tcase_add_loop_test(tc, maps_type, 0, (int) (sizeof(rows) / sizeof(rows[0])));
    tcase_add_test(tc, without_catalog);
    tcase_add_test(tc, parses_modes);
    suite_add_tcase(s, tc);
    tc = tcase_create("defaults");
    tcase_add_loop_test(tc, maps_default, 0, (int) (sizeof(defaults) / sizeof(defaults[0])));
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(typemap_suite());
    int      failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
