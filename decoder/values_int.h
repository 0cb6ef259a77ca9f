/*
 * Internals shared by the value decoder's files: values.c (dispatch,
 * strings, bytes, bits, points, arrays, tuples), values_num.c (integers,
 * floats, numeric, money), values_time.c (dates, times, timestamps,
 * intervals) and values_fail.c (their error message).  Not a public
 * interface: only decoder/values*.c include it.
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
#include "decoder/pgtype.h"
#include "decoder/typemap.h"

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
