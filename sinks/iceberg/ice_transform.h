/*
 * Iceberg values, their single-value binary form (the bounds of manifests
 * and partition summaries, spec Appendix D), partition transforms (identity,
 * bucket[N], truncate[W], year, month, day, hour: spec "Partition
 * Transforms", hashes as in Appendix B) and partition specs built from the
 * platform's `partition_by` list.
 */
#ifndef CDC_SINKS_ICEBERG_ICE_TRANSFORM_H
#define CDC_SINKS_ICEBERG_ICE_TRANSFORM_H

#include <jansson.h>
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

/* ---- transforms ---- */

typedef enum ice_tkind {
    ICE_T_IDENTITY = 1,
    ICE_T_BUCKET,
    ICE_T_TRUNCATE,
    ICE_T_YEAR,
    ICE_T_MONTH,
    ICE_T_DAY,
    ICE_T_HOUR,
    ICE_T_VOID
} ice_tkind;

typedef struct ice_transform {
    uint8_t kind;   /* ice_tkind */
    int32_t param;  /* N of bucket, W of truncate */
} ice_transform;

/* Murmur3 x86 32-bit, seed 0 (Appendix B's hashBytes). */
int32_t ice_murmur3_32(const void *data, size_t n);

/* The 32-bit hash of a value as bucket[N] takes it (Appendix B). */
int32_t ice_hash(const ice_type *t, const ice_value *v);

/* "identity", "bucket[16]", "truncate[4]", "year", ...  Returns buf. */
const char *ice_transform_str(const ice_transform *tr, char *buf, size_t size);
int         ice_transform_parse(const char *s, ice_transform *tr, cdc_err *err);

/* Whether the transform applies to a source of type t; the result's type. */
bool ice_transform_accepts(const ice_transform *tr, const ice_type *t);
void ice_transform_result_type(const ice_transform *tr, const ice_type *src, ice_type *out);

/* out = tr(in); a null stays null.  String truncation keeps whole code points
   (out->p points into in->p). */
void ice_transform_apply(const ice_transform *tr, const ice_type *t, const ice_value *in,
                         ice_value *out);

/* ---- partition specs ---- */

typedef struct ice_pfield {
    int32_t       source_id;
    int32_t       field_id;     /* from 1000 */
    char         *name;
    ice_transform tr;
} ice_pfield;

typedef struct ice_spec {
    int32_t     spec_id;
    int         nfields;
    ice_pfield *fields;
} ice_spec;

ice_spec *ice_spec_new(int32_t spec_id);    /* unpartitioned */
void      ice_spec_free(ice_spec *sp);     /* NULL is a no-op */
ice_spec *ice_spec_dup(const ice_spec *sp);

/*
 * The spec of `partition_by` entries, each one of: `col` or `identity(col)`,
 * `bucket(N, col)` or `bucket[N](col)`, `truncate(W, col)` or
 * `truncate[W](col)`, `year(col)`/`years(col)`, `month(s)`, `day(s)`,
 * `hour(s)`.  Field ids come from *last_partition_id (999 for a new table),
 * names as Iceberg's Java API gives them (col, col_bucket, col_trunc,
 * col_year, ...).  Errors name the table, the entry and the column's type.
 */
ice_spec *ice_spec_from_partition_by(const char *const *entries, int n, const ice_schema *s,
                                     const char *table, int32_t spec_id,
                                     int32_t *last_partition_id, cdc_err *err);

/*
 * Whether spec sp still fits schema s (after an evolution): every source
 * column is there and the transform still takes its type.  The error names
 * the table, the partition field and the column, e.g. a DROP COLUMN of a
 * partition source, which Iceberg does not allow while the spec uses it.
 */
int ice_spec_check(const ice_spec *sp, const ice_schema *s, const char *table, cdc_err *err);

/* The partition tuple's field types, in spec order (out has sp->nfields slots). */
int ice_spec_types(const ice_spec *sp, const ice_schema *s, ice_type *out, cdc_err *err);

/* {"spec-id":..,"fields":[{"source-id","field-id","name","transform"}]} and the
   bare fields array (a manifest's "partition-spec" key). */
json_t   *ice_spec_to_json(const ice_spec *sp);
json_t   *ice_spec_fields_json(const ice_spec *sp);
ice_spec *ice_spec_from_json(const json_t *j, cdc_err *err);

#endif
