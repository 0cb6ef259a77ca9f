/*
 * Helpers shared by the libFuzzer targets in test/fuzz/ (header-only: every
 * function is static inline, so each target takes what it uses): loading
 * fixture bytes, the table of column types the value decoder knows, and
 * the byte-to-options mapping.  Not a public interface.
 */
#ifndef CDC_TEST_FUZZ_FUZZ_COMMON_H
#define CDC_TEST_FUZZ_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder/relcache.h"
#include "decoder/typemap.h"

#ifndef CDC_FIXTURES
#define CDC_FIXTURES "test/fixtures"
#endif

/* Reads $CDC_FIXTURES_DIR (else the source tree's test/fixtures)/<rel>; aborts when missing. */
static inline uint8_t *
fz_load(const char *rel, size_t *len)
{
    const char *dir = getenv("CDC_FIXTURES_DIR");
    char        path[1024];
    FILE       *f;
    uint8_t    *buf;
    long        n;

    snprintf(path, sizeof(path), "%s/%s", dir ? dir : CDC_FIXTURES, rel);
    if ((f = fopen(path, "rb")) == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "fuzz: cannot read fixture %s (set CDC_FIXTURES_DIR)\n", path);
        abort();
    }
    buf = malloc((size_t) n + 1);
    if (buf == NULL || fread(buf, 1, (size_t) n, f) != (size_t) n)
        abort();
    buf[n] = 0;
    fclose(f);
    *len = (size_t) n;
    return buf;
}

/*
 * One column type as the agent's catalog lookup would describe it.  oid is
 * pg_type's OID (type_oid), base the root base type (differs for domains),
 * elem the array element type (0 for scalars); typtype of the base type.
 */
typedef struct fz_type {
    uint32_t    oid, base, elem;
    char        typtype;
    const char *type_name;
    const char *enum_labels;
} fz_type;

#define FZ_B(o, n)        { o, o, 0, 'b', n, NULL }
#define FZ_A(o, e, n)     { o, o, e, 'b', n, NULL }
#define FZ_R(o, n)        { o, o, 0, 'r', n, NULL }
#define FZ_RA(o, e, n)    { o, o, e, 'b', n, NULL }

static const fz_type fz_types[] = {
    FZ_B(16, "boolean"), FZ_B(17, "bytea"), FZ_B(18, "\"char\""), FZ_B(19, "name"),
    FZ_B(20, "bigint"), FZ_B(21, "smallint"), FZ_B(23, "integer"), FZ_B(25, "text"),
    FZ_B(26, "oid"), FZ_B(114, "json"), FZ_B(142, "xml"), FZ_B(600, "point"),
    FZ_B(650, "cidr"), FZ_B(700, "real"), FZ_B(701, "double precision"),
    FZ_B(774, "macaddr8"), FZ_B(790, "money"), FZ_B(829, "macaddr"), FZ_B(869, "inet"),
    FZ_B(1042, "character"), FZ_B(1043, "character varying"), FZ_B(1082, "date"),
    FZ_B(1083, "time without time zone"), FZ_B(1114, "timestamp without time zone"),
    FZ_B(1184, "timestamp with time zone"), FZ_B(1186, "interval"),
    FZ_B(1266, "time with time zone"), FZ_B(1560, "bit"), FZ_B(1562, "bit varying"),
    FZ_B(1700, "numeric"), FZ_B(2950, "uuid"), FZ_B(3802, "jsonb"),
    FZ_R(3904, "int4range"), FZ_R(3906, "numrange"), FZ_R(3908, "tsrange"),
    FZ_R(3910, "tstzrange"), FZ_R(3912, "daterange"), FZ_R(3926, "int8range"),
    FZ_A(1000, 16, "boolean[]"), FZ_A(1001, 17, "bytea[]"), FZ_A(1002, 18, "\"char\"[]"),
    FZ_A(1003, 19, "name[]"), FZ_A(1016, 20, "bigint[]"), FZ_A(1005, 21, "smallint[]"),
    FZ_A(1007, 23, "integer[]"), FZ_A(1009, 25, "text[]"), FZ_A(1028, 26, "oid[]"),
    FZ_A(199, 114, "json[]"), FZ_A(143, 142, "xml[]"), FZ_A(1017, 600, "point[]"),
    FZ_A(651, 650, "cidr[]"), FZ_A(1021, 700, "real[]"), FZ_A(1022, 701, "double precision[]"),
    FZ_A(775, 774, "macaddr8[]"), FZ_A(791, 790, "money[]"), FZ_A(1040, 829, "macaddr[]"),
    FZ_A(1041, 869, "inet[]"), FZ_A(1014, 1042, "character[]"),
    FZ_A(1015, 1043, "character varying[]"), FZ_A(1182, 1082, "date[]"),
    FZ_A(1183, 1083, "time without time zone[]"),
    FZ_A(1115, 1114, "timestamp without time zone[]"),
    FZ_A(1185, 1184, "timestamp with time zone[]"), FZ_A(1187, 1186, "interval[]"),
    FZ_A(1270, 1266, "time with time zone[]"), FZ_A(1561, 1560, "bit[]"),
    FZ_A(1563, 1562, "bit varying[]"), FZ_A(1231, 1700, "numeric[]"),
    FZ_A(2951, 2950, "uuid[]"), FZ_A(3807, 3802, "jsonb[]"),
    FZ_RA(3905, 3904, "int4range[]"), FZ_RA(3907, 3906, "numrange[]"),
    FZ_RA(3909, 3908, "tsrange[]"), FZ_RA(3911, 3910, "tstzrange[]"),
    FZ_RA(3913, 3912, "daterange[]"), FZ_RA(3927, 3926, "int8range[]"),
    /* enums, extension types known by name, domains, and one type nobody knows */
    { 16500, 16500, 0, 'e', "mood", "sad,ok,happy" },
    { 16499, 16499, 16500, 'b', "mood[]", "sad,ok,happy" },
    { 17000, 17000, 0, 'b', "citext", NULL },
    { 16999, 16999, 17000, 'b', "citext[]", NULL },
    { 17010, 17010, 0, 'b', "ltree", NULL },
    { 17009, 17009, 17010, 'b', "ltree[]", NULL },
    { 17100, 23, 0, 'b', "posint", NULL },              /* domain over integer */
    { 17101, 1700, 0, 'b', "price", NULL },             /* domain over numeric */
    { 17102, 16500, 0, 'e', "mood_domain", "sad,ok,happy" },
    { 17103, 17103, 0, 'c', "address", NULL },
    { 99999, 99999, 0, 'b', "mystery", NULL },
};

#define FZ_NTYPES ((int) (sizeof(fz_types) / sizeof(fz_types[0])))

/* Handling modes from one byte: bits 0-1 decimal, 2-3 time, 4-5 binary, 6 interval. */
static inline pgo_type_opts
fz_type_opts(uint8_t b)
{
    pgo_type_opts o;

    memset(&o, 0, sizeof(o));
    o.decimal_mode = (pgo_decimal_mode) ((b & 3) % 3);
    o.time_mode = (pgo_time_mode) (((b >> 2) & 3) % 3);
    o.binary_mode = (pgo_binary_mode) ((b >> 4) & 3);
    o.interval_mode = (pgo_interval_mode) ((b >> 6) & 1);
    o.money_fraction_digits = b & 0x80 ? 0 : 2;
    return o;
}

/*
 * Describes column i of a relcache entry as type t: the catalog fields the
 * agent fills (agent/source/catalog.c), or only the wire type when !catalog.
 * default_expr (may be NULL) is copied into the entry.
 */
static inline void
fz_describe_col(cdc_rel *rel, int i, const fz_type *t, int32_t typmod, bool catalog,
                const char *default_expr)
{
    cdc_col *c = &rel->cols[i];

    c->type_oid = t->oid;
    c->typmod = typmod;
    c->catalog_known = catalog;
    if (!catalog)
        return;
    c->base_oid = t->base;
    c->elem_oid = t->elem;
    c->typtype = t->typtype;
    c->type_name = pgo_rel_strdup(rel, t->type_name);
    c->enum_labels = t->enum_labels ? pgo_rel_strdup(rel, t->enum_labels) : NULL;
    c->default_expr = default_expr ? pgo_rel_strdup(rel, default_expr) : NULL;
}

#endif
