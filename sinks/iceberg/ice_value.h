/*
 * Iceberg values (one of a primitive type), their single-value binary
 * serialization (the bounds of manifests and partition summaries, spec
 * Appendix D), their order, bounds cut as Iceberg's truncate(16) metrics
 * mode cuts them, and values read from PostgreSQL's text or from the
 * decoder's presentation.
 */
#ifndef CDC_SINKS_ICEBERG_ICE_VALUE_H
#define CDC_SINKS_ICEBERG_ICE_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_err.h"
#include "agent/core/cdc_value.h"
#include "sinks/iceberg/ice_schema.h"

/*
 * One value of a primitive Iceberg type; which member holds it follows the
 * type: boolean b; int, long, date, time, timestamp(tz) i (days or
 * microseconds); float, double f; decimal d (the unscaled value); string,
 * binary, fixed p/n (string as UTF-8); uuid p/n (16 bytes, big-endian).
 * p is borrowed.
 */
typedef struct ice_value {
    bool           null;
    bool           b;
    int64_t        i;
    double         f;
    ice_i128       d;
    const uint8_t *p;
    size_t         n;
} ice_value;

/* Days since 1970-01-01 as a proleptic Gregorian date (y, m 1-12, d 1-31). */
void ice_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/* a / b rounded down (toward minus infinity), b != 0. */
int64_t ice_floor_div(int64_t a, int64_t b);

/* Appends the single-value binary serialization of v (not null) of type t. */
void ice_value_bound(cdc_buf *out, const ice_type *t, const ice_value *v);

/* Reads it back (p/n of the result point into b). */
int ice_value_from_bound(const ice_type *t, const uint8_t *b, size_t n, ice_value *v,
                         cdc_err *err);

/*
 * Bounds of long strings and binary values, cut as Iceberg's default metrics
 * mode truncate(16) cuts them (Java's UnicodeUtil/BinaryUtil): the lower
 * bound becomes its first `len` code points (bytes); the upper bound its
 * first `len` code points (bytes) with the last one that can be incremented
 * incremented and what follows dropped.  A value no longer than len is left
 * as it is.  ice_bound_upper_trunc() returns false when no upper bound
 * exists (every code point is U+10FFFF, every byte 0xff): leave it out.
 * out->p points into v->p (lower) or into buf (upper, 4 * len + 4 bytes).
 * Other types are copied unchanged.
 */
void ice_bound_lower_trunc(const ice_type *t, const ice_value *v, int len, ice_value *out);
bool ice_bound_upper_trunc(const ice_type *t, const ice_value *v, int len, uint8_t *buf,
                           size_t bufsize, ice_value *out);

/* Orders two values of one type (Iceberg's order: strings and binary bytewise
   unsigned, uuid bytewise, floats with -0 < 0 and NaN last). */
int ice_value_cmp(const ice_type *t, const ice_value *a, const ice_value *b);

/*
 * Parses PostgreSQL's text output of a value into v: "t"/"true", integers,
 * "14.20" (decimal: exactly t->scale digits or fewer after the point),
 * "2017-11-16", "22:31:08.000001", "2017-11-16 22:31:08[.ffffff][+hh[:mm]]"
 * ('T' accepted), UUIDs; strings and binary point at s (binary: the bytes
 * as given).  `scratch` (16 bytes) holds a UUID's bytes.
 */
int ice_value_parse(const ice_type *t, const char *s, uint8_t scratch[16], ice_value *v,
                    cdc_err *err);

/*
 * One column value as the decoder presents it (its cdc_ctype: the Debezium
 * presentation the sink asked the decoder for) as an Iceberg value of type t
 * (ice_type_from_pg of the same column).  Takes: booleans, integers, floats;
 * Decimal bytes (precise mode) or plain decimal strings (string mode) for a
 * decimal, checked against its precision and scale; dates as days; times and
 * timestamps in milli-, micro- or nanoseconds; zoned timestamps as ISO-8601
 * strings; UUID strings; bytes; and for a string column any string
 * presentation, booleans and numbers rendered as text.  A null stays null.
 * Fails (CDC_E_DECODE, naming both types) on an unchanged TOAST value (the
 * caller resolves those), a NaN or infinite numeric for a decimal, a value
 * beyond the decimal's precision, and any other presentation.  A decimal
 * presented as bytes for a string column (numeric beyond precision 38, or
 * without one) is written out as plain decimal text.  The result may point
 * into v's memory or into scratch, which this resets: one scratch per value
 * that must stay alive.
 */
int ice_value_from_cdc(const ice_type *t, const cdc_ctype *ct, const cdc_value *v,
                       cdc_buf *scratch, ice_value *out, cdc_err *err);

/* Decimal bytes (big-endian two's complement, any length) and a scale as plain
   text, as Java's BigDecimal.toPlainString() writes them: "-0.05", "1200". */
void ice_decimal_text(const uint8_t *b, size_t n, int32_t scale, cdc_buf *out);

/* The unscaled value of a decimal as the fewest big-endian two's complement
   bytes (at the start of b); returns how many. */
size_t ice_decimal_bytes(ice_i128 d, uint8_t b[16]);

#endif
