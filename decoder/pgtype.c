/*
 * Built-in type facts (pgtype.h): PostgreSQL's built-in array types and the
 * type a column's values are parsed as.
 */
#include "decoder/pgtype.h"

#include <stddef.h>

/* ---- built-in arrays ---- */

uint32_t
pgo_builtin_array_elem(uint32_t oid)
{
    static const uint32_t map[][2] = {
        { 1000, PGO_OID_BOOL },      { 1001, PGO_OID_BYTEA },     { 1002, PGO_OID_CHAR },
        { 1003, PGO_OID_NAME },      { 1016, PGO_OID_INT8 },      { 1005, PGO_OID_INT2 },
        { 1007, PGO_OID_INT4 },      { 1009, PGO_OID_TEXT },      { 1028, PGO_OID_OID },
        { 199, PGO_OID_JSON },       { 143, PGO_OID_XML },        { 1017, PGO_OID_POINT },
        { 651, PGO_OID_CIDR },       { 1021, PGO_OID_FLOAT4 },    { 1022, PGO_OID_FLOAT8 },
        { 775, PGO_OID_MACADDR8 },   { 791, PGO_OID_MONEY },      { 1040, PGO_OID_MACADDR },
        { 1041, PGO_OID_INET },      { 1014, PGO_OID_BPCHAR },    { 1015, PGO_OID_VARCHAR },
        { 1182, PGO_OID_DATE },      { 1183, PGO_OID_TIME },      { 1115, PGO_OID_TIMESTAMP },
        { 1185, PGO_OID_TIMESTAMPTZ }, { 1187, PGO_OID_INTERVAL }, { 1270, PGO_OID_TIMETZ },
        { 1561, PGO_OID_BIT },       { 1563, PGO_OID_VARBIT },    { 1231, PGO_OID_NUMERIC },
        { 2951, PGO_OID_UUID },      { 3807, PGO_OID_JSONB },     { 3905, PGO_OID_INT4RANGE },
        { 3907, PGO_OID_NUMRANGE },  { 3909, PGO_OID_TSRANGE },   { 3911, PGO_OID_TSTZRANGE },
        { 3913, PGO_OID_DATERANGE }, { 3927, PGO_OID_INT8RANGE },
    };
    size_t i;

    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (map[i][0] == oid)
            return map[i][1];
    return 0;
}

/* ---- columns ---- */

uint32_t
pgo_col_value_oid(const cdc_col *col)
{
    uint32_t oid = col->catalog_known ? col->base_oid : col->type_oid;

    if (col->ctype.kind == CDC_CT_ARRAY) {
        if (col->ctype.elem_sem == CDC_SEM_ENUM)
            return 0;
        return col->catalog_known && col->elem_oid ? col->elem_oid : pgo_builtin_array_elem(oid);
    }
    return col->ctype.sem == CDC_SEM_ENUM ? 0 : oid;
}
