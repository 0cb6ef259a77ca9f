/*
 * Facts about PostgreSQL's built-in types that the type mapper
 * (typemap.c), the default evaluator (coldefault.c) and the value decoder
 * (values*.c) all need: the OIDs, the element type of each built-in array
 * type, and the type a column's values are parsed as.  Nothing here calls
 * back into those files, so calls between them go one way.
 */
#ifndef CDC_DECODER_PGTYPE_H
#define CDC_DECODER_PGTYPE_H

#include <stdint.h>

#include "agent/core/cdc_rel.h"

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
 * Needs col->ctype (the type mapper's result).
 */
uint32_t pgo_col_value_oid(const cdc_col *col);

/* Element type of a built-in array type, or 0 when `oid` is not one. */
uint32_t pgo_builtin_array_elem(uint32_t oid);

#endif
