/*
 * Partition transforms (identity, bucket[N], truncate[W], year, month, day,
 * hour: spec "Partition Transforms", hashes as in Appendix B) and partition
 * specs built from the platform's `partition_by` list.
 */
#ifndef CDC_SINKS_ICEBERG_ICE_TRANSFORM_H
#define CDC_SINKS_ICEBERG_ICE_TRANSFORM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_err.h"
#include "sinks/iceberg/ice_schema.h"
#include "sinks/iceberg/ice_value.h"

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
