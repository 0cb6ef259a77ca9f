/*
 * PostgreSQL type -> Connect type, as Debezium 2.7's PostgreSQL connector
 * maps it (CONTRACT.md section 4; PostgresValueConverter.schemaBuilder and
 * JdbcValueConverters.schemaBuilder).  Column defaults -> schema defaults
 * (section 4.5) are coldefault.c's, which this file calls once a column's
 * type is known.
 *
 * Types are recognised by OID: built-in OIDs are fixed, enums come from
 * typtype 'e', and the extension types Debezium knows by name (citext,
 * ltree) from the catalog's type name.  Anything else is unsupported, and
 * Debezium's default include.unknown.datatypes=false drops such columns.
 */
#include "decoder/typemap.h"

#include <string.h>
#include <strings.h>

#include "decoder/coldefault.h"
#include "decoder/pgtype.h"

/* ---- mode names, spelled as Debezium's configuration spells them ---- */

static int
tm_mode_parse(const char *s, const char *const *names, int count, int *out)
{
    int i;

    for (i = 0; s != NULL && i < count; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    return -1;
}

int
pgo_decimal_mode_parse(const char *s, pgo_decimal_mode *out)
{
    static const char *const names[] = { "precise", "double", "string" };
    int                      v;

    if (tm_mode_parse(s, names, 3, &v) < 0)
        return -1;
    *out = (pgo_decimal_mode) v;
    return 0;
}

int
pgo_time_mode_parse(const char *s, pgo_time_mode *out)
{
    static const char *const names[] = { "adaptive", "adaptive_time_microseconds", "connect" };
    int                      v;

    if (tm_mode_parse(s, names, 3, &v) < 0)
        return -1;
    *out = (pgo_time_mode) v;
    return 0;
}

int
pgo_binary_mode_parse(const char *s, pgo_binary_mode *out)
{
    static const char *const names[] = { "bytes", "base64", "base64-url-safe", "hex" };
    int                      v;

    if (tm_mode_parse(s, names, 4, &v) < 0)
        return -1;
    *out = (pgo_binary_mode) v;
    return 0;
}

int
pgo_interval_mode_parse(const char *s, pgo_interval_mode *out)
{
    static const char *const names[] = { "numeric", "string" };
    int                      v;

    if (tm_mode_parse(s, names, 2, &v) < 0)
        return -1;
    *out = (pgo_interval_mode) v;
    return 0;
}

/* ---- one type ---- */

/* numeric typmod: ((p << 16) | s) + VARHDRSZ, s an 11-bit signed field since PostgreSQL 15. */
static void
tm_numeric(int32_t typmod, const pgo_type_opts *o, cdc_ctype *ct, uint8_t *kind, uint8_t *sem)
{
    if (typmod >= 4) {
        ct->precision = ((typmod - 4) >> 16) & 0xffff;
        ct->scale = (((typmod - 4) & 0x7ff) ^ 1024) - 1024;
    }
    if (o->decimal_mode == PGO_DECIMAL_DOUBLE) {
        *kind = CDC_CT_FLOAT64;
    } else if (o->decimal_mode == PGO_DECIMAL_STRING) {
        *kind = CDC_CT_STRING;          /* precision 0: unconstrained, printed as sent */
    } else if (typmod < 4) {
        *kind = CDC_CT_STRUCT;
        *sem = CDC_SEM_VARIABLE_DECIMAL;
    } else {
        *kind = CDC_CT_BYTES;
        *sem = CDC_SEM_DECIMAL;
    }
}

static void
tm_money(const pgo_type_opts *o, cdc_ctype *ct, uint8_t *kind, uint8_t *sem)
{
    *kind = o->decimal_mode == PGO_DECIMAL_DOUBLE   ? CDC_CT_FLOAT64
            : o->decimal_mode == PGO_DECIMAL_STRING ? CDC_CT_STRING
                                                    : CDC_CT_BYTES;
    if (*kind == CDC_CT_BYTES)
        *sem = CDC_SEM_DECIMAL;
    ct->scale = o->money_fraction_digits;
    ct->precision = -1;     /* moneySchema: Decimal.builder(digits), no precision parameter */
}

/* date, time, timestamp and their zoned forms (JdbcValueConverters.schemaBuilder). */
static void
tm_temporal(uint32_t oid, int32_t typmod, const pgo_type_opts *o, cdc_ctype *ct, uint8_t *kind,
            uint8_t *sem)
{
    int  p = typmod < 0 ? 6 : typmod;
    bool connect = o->time_mode == PGO_TIME_CONNECT;

    switch (oid) {
    case PGO_OID_DATE:
        *kind = CDC_CT_INT32;
        *sem = connect ? CDC_SEM_CONNECT_DATE : CDC_SEM_DATE;
        break;
    case PGO_OID_TIME:
        if (connect || (o->time_mode == PGO_TIME_ADAPTIVE && p <= 3)) {
            *kind = CDC_CT_INT32;
            *sem = connect ? CDC_SEM_CONNECT_TIME : CDC_SEM_TIME;
        } else {
            *kind = CDC_CT_INT64;
            *sem = CDC_SEM_MICRO_TIME;
        }
        break;
    case PGO_OID_TIMESTAMP:
        *kind = CDC_CT_INT64;
        *sem = connect ? CDC_SEM_CONNECT_TIMESTAMP
               : p <= 3 ? CDC_SEM_TIMESTAMP : CDC_SEM_MICRO_TIMESTAMP;
        break;
    case PGO_OID_TIMETZ:
        *kind = CDC_CT_STRING;
        *sem = CDC_SEM_ZONED_TIME;
        break;
    default:    /* timestamptz */
        *kind = CDC_CT_STRING;
        *sem = CDC_SEM_ZONED_TIMESTAMP;
        ct->length = p;
        break;
    }
}

/* bit(n)/varbit(n): a boolean for one bit, else Bits; varbit without n is 2147483647 long. */
static void
tm_bits(uint32_t oid, int32_t typmod, cdc_ctype *ct, uint8_t *kind, uint8_t *sem)
{
    int32_t len = typmod > 0 ? typmod : oid == PGO_OID_BIT ? 1 : 2147483647;

    if (len > 1) {
        *kind = CDC_CT_BYTES;
        *sem = CDC_SEM_BITS;
        ct->length = len;
    } else {
        *kind = CDC_CT_BOOLEAN;
    }
}

/* How a value of built-in type `oid` is presented; false when it is not a mapped type. */
static bool
tm_scalar(uint32_t oid, int32_t typmod, const pgo_type_opts *o, cdc_ctype *ct, uint8_t *kind,
          uint8_t *sem)
{
    *sem = CDC_SEM_NONE;
    switch (oid) {
    case PGO_OID_BOOL:      *kind = CDC_CT_BOOLEAN; return true;
    case PGO_OID_INT2:      *kind = CDC_CT_INT16; return true;
    case PGO_OID_INT4:      *kind = CDC_CT_INT32; return true;
    case PGO_OID_INT8:
    case PGO_OID_OID:       *kind = CDC_CT_INT64; return true;
    case PGO_OID_FLOAT4:    *kind = CDC_CT_FLOAT32; return true;
    case PGO_OID_FLOAT8:    *kind = CDC_CT_FLOAT64; return true;
    case PGO_OID_NUMERIC:   tm_numeric(typmod, o, ct, kind, sem); return true;
    case PGO_OID_MONEY:     tm_money(o, ct, kind, sem); return true;
    case PGO_OID_CHAR: case PGO_OID_NAME: case PGO_OID_TEXT: case PGO_OID_BPCHAR:
    case PGO_OID_VARCHAR: case PGO_OID_INET: case PGO_OID_CIDR: case PGO_OID_MACADDR:
    case PGO_OID_MACADDR8: case PGO_OID_INT4RANGE: case PGO_OID_NUMRANGE:
    case PGO_OID_TSRANGE: case PGO_OID_TSTZRANGE: case PGO_OID_DATERANGE:
    case PGO_OID_INT8RANGE:
        *kind = CDC_CT_STRING;
        return true;
    case PGO_OID_JSON:
    case PGO_OID_JSONB:     *kind = CDC_CT_STRING; *sem = CDC_SEM_JSON; return true;
    case PGO_OID_XML:       *kind = CDC_CT_STRING; *sem = CDC_SEM_XML; return true;
    case PGO_OID_UUID:      *kind = CDC_CT_STRING; *sem = CDC_SEM_UUID; return true;
    case PGO_OID_POINT:     *kind = CDC_CT_STRUCT; *sem = CDC_SEM_POINT; return true;
    case PGO_OID_BYTEA:
        *kind = o->binary_mode == PGO_BINARY_BYTES ? CDC_CT_BYTES : CDC_CT_STRING;
        return true;
    case PGO_OID_BIT:
    case PGO_OID_VARBIT:    tm_bits(oid, typmod, ct, kind, sem); return true;
    case PGO_OID_DATE: case PGO_OID_TIME: case PGO_OID_TIMESTAMP: case PGO_OID_TIMETZ:
    case PGO_OID_TIMESTAMPTZ:
        tm_temporal(oid, typmod, o, ct, kind, sem);
        return true;
    case PGO_OID_INTERVAL:
        *kind = o->interval_mode == PGO_INTERVAL_STRING ? CDC_CT_STRING : CDC_CT_INT64;
        *sem = o->interval_mode == PGO_INTERVAL_STRING ? CDC_SEM_INTERVAL
                                                       : CDC_SEM_MICRO_DURATION;
        return true;
    default:
        return false;
    }
}

/* Extension types PostgresValueConverter knows by name (its TypeRegistry lookups). */
static bool
tm_named(const char *name, size_t n, uint8_t *kind, uint8_t *sem)
{
    *kind = CDC_CT_STRING;
    *sem = CDC_SEM_NONE;
    if (name == NULL)
        return false;
    if (n == 6 && memcmp(name, "citext", 6) == 0)
        return true;
    *sem = CDC_SEM_LTREE;
    return n == 5 && memcmp(name, "ltree", 5) == 0;
}

/*
 * Arrays: only the element types PostgresValueConverter.schemaBuilder lists
 * (money, name, interval, varbit, xml and point arrays have no schema, and
 * bit arrays get a scalar schema their converter cannot fill, so all of
 * these are dropped).  time[] is always MicroTime there, whatever the mode.
 */
static bool
tm_array(const cdc_col *col, uint32_t elem, const pgo_type_opts *o, cdc_ctype *ct)
{
    const char *tn = col->type_name;
    size_t      tl = tn ? strlen(tn) : 0;

    switch (elem) {
    case PGO_OID_MONEY: case PGO_OID_NAME: case PGO_OID_INTERVAL: case PGO_OID_VARBIT:
    case PGO_OID_XML: case PGO_OID_POINT: case PGO_OID_BIT:
        return false;
    case PGO_OID_TIME:
        ct->elem_kind = CDC_CT_INT64;
        ct->elem_sem = CDC_SEM_MICRO_TIME;
        return true;
    default:
        break;
    }
    if (tm_scalar(elem, col->typmod, o, ct, &ct->elem_kind, &ct->elem_sem))
        return true;
    if (col->enum_labels != NULL) {
        ct->elem_kind = CDC_CT_STRING;
        ct->elem_sem = CDC_SEM_ENUM;
        return true;
    }
    /* citext[] / ltree[]: format_type prints "citext[]" */
    return tl > 2 && strcmp(tn + tl - 2, "[]") == 0 &&
           tm_named(tn, tl - 2, &ct->elem_kind, &ct->elem_sem);
}

static void
tm_col(cdc_col *col, const pgo_type_opts *o)
{
    cdc_ctype *ct = &col->ctype;
    uint32_t   oid = col->catalog_known ? col->base_oid : col->type_oid;
    uint32_t   elem = col->catalog_known && col->elem_oid ? col->elem_oid
                                                          : pgo_builtin_array_elem(oid);
    const char *tn = col->type_name;

    memset(ct, 0, sizeof(*ct));
    if (elem != 0) {
        ct->kind = CDC_CT_ARRAY;
        ct->supported = tm_array(col, elem, o, ct);
    } else if (col->catalog_known && col->typtype == 'e') {
        ct->kind = CDC_CT_STRING;
        ct->sem = CDC_SEM_ENUM;
        ct->supported = true;
    } else {
        ct->supported = tm_scalar(oid, col->typmod, o, ct, &ct->kind, &ct->sem) ||
                        (col->catalog_known && tm_named(tn, tn ? strlen(tn) : 0, &ct->kind,
                                                        &ct->sem));
    }
    if (!ct->supported)
        memset(ct, 0, sizeof(*ct));
}

int
pgo_typemap_rel(cdc_rel *rel, const pgo_type_opts *opts, cdc_err *err)
{
    int i;

    if (rel == NULL || opts == NULL || rel->ncols < 0 || (rel->ncols > 0 && rel->cols == NULL))
        return cdc_err_set(err, CDC_E_INVAL, "pgo_typemap_rel: no relation or options");
    for (i = 0; i < rel->ncols; i++) {
        tm_col(&rel->cols[i], opts);
        if (pgo_coldefault_set(rel, &rel->cols[i], opts) < 0)
            return -1;
    }
    return 0;
}
