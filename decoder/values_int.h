/*
 * Internals shared by the value decoder's three files: values.c (dispatch,
 * strings, bytes, bits, points, arrays, tuples), values_num.c (integers,
 * floats, numeric, money) and values_time.c (dates, times, timestamps,
 * intervals).  Not a public interface: only decoder/values*.c and
 * decoder/typemap.c include it.
 *
 * Every parser takes the text as a (pointer, length) slice that is not
 * NUL-terminated, and a pgo_vctx carrying what an error message needs.
 */
#ifndef CDC_DECODER_VALUES_INT_H
#define CDC_DECODER_VALUES_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_arena.h"
#include "agent/core/cdc_err.h"
#include "agent/core/cdc_rel.h"
#include "agent/core/cdc_value.h"
#include "decoder/typemap.h"

/* Built-in type OIDs (PostgreSQL's pg_type.dat; stable across releases). */
enum pgo_oid {
    PGO_OID_BOOL = 16, PGO_OID_BYTEA = 17, PGO_OID_CHAR = 18, PGO_OID_NAME = 19,
    PGO_OID_INT8 = 20, PGO_OID_INT2 = 21, PGO_OID_INT4 = 23, PGO_OID_TEXT = 25,
    PGO_OID_OID = 26, PGO_OID_JSON = 114, PGO_OID_XML = 142, PGO_OID_POINT = 600,
    PGO_OID_CIDR = 650, PGO_OID_FLOAT4 = 700, PGO_OID_FLOAT8 = 701, PGO_OID_MACADDR8 = 774,
    PGO_OID_MONEY = 790, PGO_OID_MACADDR = 829, PGO_OID_INET = 869, PGO_OID_BPCHAR = 1042,
    PGO_OID_VARCHAR = 1043, PGO_OID_DATE = 1082, PGO_OID_TIME = 1083,
    PGO_OID_TIMESTAMP = 1114, PGO_OID_TIMESTAMPTZ = 1184, PGO_OID_INTERVAL = 1186,
    PGO_OID_TIMETZ = 1266, PGO_OID_BIT = 1560, PGO_OID_VARBIT = 1562, PGO_OID_NUMERIC = 1700,
    PGO_OID_UUID = 2950, PGO_OID_JSONB = 3802, PGO_OID_INT4RANGE = 3904,
    PGO_OID_NUMRANGE = 3906, PGO_OID_TSRANGE = 3908, PGO_OID_TSTZRANGE = 3910,
    PGO_OID_DATERANGE = 3912, PGO_OID_INT8RANGE = 3926
};

/*
 * The type a column's values are parsed as: base_oid (type_oid when the
 * catalog is unknown), or for an array its element type; 0 for an enum.
 */
uint32_t pgo_col_value_oid(const cdc_col *col);

/* Element type of a built-in array type, or 0 when `oid` is not one. */
uint32_t pgo_builtin_array_elem(uint32_t oid);

/* What one decode needs besides the text: where errors and memory go. */
typedef struct pgo_vctx {
    const cdc_col       *col;
    const pgo_type_opts *opts;
    cdc_arena           *arena;
    cdc_err             *err;
    bool                 borrow;    /* strings may point into the text (see pgo_tuple_values) */
    char                *inplace;   /* text the caller lets a bytea be decoded over, or NULL */
} pgo_vctx;

/*
 * Sets CDC_E_DECODE with "column <name>: <what> '<text>'" (the text cut to
 * fit) and returns -1.
 */
int pgo_vfail(const pgo_vctx *vc, const char *what, const char *s, size_t n);

/*
 * Decodes one scalar (a column value or an array element) of PostgreSQL
 * type `oid` (0: enum label) presented as Connect kind/sem.
 */
int pgo_scalar_from_text(const pgo_vctx *vc, uint32_t oid, uint8_t kind, uint8_t sem,
                         const char *s, size_t n, cdc_value *out);

/* values_num.c */
int pgo_parse_i64(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *out);
int pgo_num_int(const pgo_vctx *vc, uint8_t kind, const char *s, size_t n, cdc_value *out);
int pgo_num_float(const pgo_vctx *vc, uint8_t kind, const char *s, size_t n, cdc_value *out);
int pgo_num_numeric(const pgo_vctx *vc, uint8_t kind, uint8_t sem, const char *s, size_t n,
                    cdc_value *out);
int pgo_num_money(const pgo_vctx *vc, uint8_t kind, const char *s, size_t n, cdc_value *out);
/* BigDecimal.toPlainString() of digits (no leading zeros) * 10^-scale, into the arena. */
void pgo_num_plain_digits(cdc_arena *arena, bool neg, const char *d, size_t nd, int32_t scale,
                          const char **p, size_t *n);

/* values_time.c */
int pgo_time_date(const pgo_vctx *vc, const char *s, size_t n, cdc_value *out);
int pgo_time_time(const pgo_vctx *vc, uint8_t sem, const char *s, size_t n, cdc_value *out);
int pgo_time_timetz(const pgo_vctx *vc, const char *s, size_t n, cdc_value *out);
int pgo_time_timestamp(const pgo_vctx *vc, uint8_t sem, const char *s, size_t n, cdc_value *out);
int pgo_time_timestamptz(const pgo_vctx *vc, const char *s, size_t n, cdc_value *out);
int pgo_time_interval(const pgo_vctx *vc, uint8_t sem, const char *s, size_t n, cdc_value *out);

#endif
