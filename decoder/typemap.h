/*
 * PostgreSQL type -> Connect type, as Debezium's PostgreSQL connector maps
 * it (CONTRACT.md section 4): which cdc_ctype a column is presented as under
 * the configured handling modes, and the schema default its column default
 * gives (section 4.5).
 */
#ifndef CDC_DECODER_TYPEMAP_H
#define CDC_DECODER_TYPEMAP_H

#include "agent/core/cdc_err.h"
#include "agent/core/cdc_rel.h"
#include "agent/core/cdc_value.h"

typedef enum pgo_decimal_mode { PGO_DECIMAL_PRECISE = 0, PGO_DECIMAL_DOUBLE, PGO_DECIMAL_STRING } pgo_decimal_mode;
typedef enum pgo_time_mode {
    PGO_TIME_ADAPTIVE = 0,
    PGO_TIME_ADAPTIVE_TIME_MICROSECONDS,
    PGO_TIME_CONNECT
} pgo_time_mode;
typedef enum pgo_binary_mode { PGO_BINARY_BYTES = 0, PGO_BINARY_BASE64, PGO_BINARY_BASE64_URL_SAFE, PGO_BINARY_HEX } pgo_binary_mode;
typedef enum pgo_interval_mode { PGO_INTERVAL_NUMERIC = 0, PGO_INTERVAL_STRING } pgo_interval_mode;

typedef struct pgo_type_opts {
    pgo_decimal_mode  decimal_mode;
    pgo_time_mode     time_mode;
    pgo_binary_mode   binary_mode;
    pgo_interval_mode interval_mode;
    int               money_fraction_digits;   /* 2 by default */
    size_t            max_value_bytes;         /* pgo_tuple_values refuses larger; 0: no limit */
} pgo_type_opts;

/* Parses a mode name as it appears in pipeline.yaml ("precise", "adaptive", ...). */
int pgo_decimal_mode_parse(const char *s, pgo_decimal_mode *out);
int pgo_time_mode_parse(const char *s, pgo_time_mode *out);
int pgo_binary_mode_parse(const char *s, pgo_binary_mode *out);
int pgo_interval_mode_parse(const char *s, pgo_interval_mode *out);

/*
 * Fills col->ctype from col->base_oid (or type_oid when the catalog is not
 * known), col->typmod, col->typtype and col->elem_oid.  Unsupported types get
 * ctype.supported = false.  Then, when col->default_expr is set, parses it
 * into col->def / col->has_default (memory from pgo_rel_alloc on rel).
 * @returns 0, or -1 with err set only for allocation or impossible input.
 */
int pgo_typemap_rel(cdc_rel *rel, const pgo_type_opts *opts, cdc_err *err);

#endif
