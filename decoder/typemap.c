/*
 * PostgreSQL type -> Connect type, as Debezium 2.7's PostgreSQL connector
 * maps it (CONTRACT.md section 4; PostgresValueConverter.schemaBuilder and
 * JdbcValueConverters.schemaBuilder), and column defaults -> schema
 * defaults (section 4.5; PostgresDefaultValueConverter).
 *
 * Types are recognised by OID: built-in OIDs are fixed, enums come from
 * typtype 'e', and the extension types Debezium knows by name (citext,
 * ltree) from the catalog's type name.  Anything else is unsupported, and
 * Debezium's default include.unknown.datatypes=false drops such columns.
 */
#include "decoder/typemap.h"

#include <string.h>
#include <strings.h>

#include "agent/core/cdc_arena.h"
#include "agent/core/cdc_log.h"
#include "decoder/relcache.h"
#include "decoder/values.h"
#include "decoder/values_int.h"

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

/* ---- column defaults (PostgresDefaultValueConverter) ---- */

/*
 * The value a default computed by a function stands for in the schema, for
 * the types that have a default mapper at all (NULL: no mapper, no
 * default).  Written as PostgreSQL would print the value, so that the value
 * decoder reads it: Debezium's "1970-01-01" for a timestamp is midnight.
 */
static const char *
tm_placeholder(uint32_t oid)
{
    switch (oid) {
    case PGO_OID_BIT:           return "00";
    case PGO_OID_VARBIT:        return "0";
    case PGO_OID_BOOL:          return "false";
    case PGO_OID_BPCHAR: case PGO_OID_VARCHAR: case PGO_OID_TEXT: case PGO_OID_XML:
        return "";
    case PGO_OID_NUMERIC: case PGO_OID_FLOAT4: case PGO_OID_FLOAT8:
        return "0.0";
    case PGO_OID_INT2: case PGO_OID_INT4: case PGO_OID_INT8:
        return "0";
    case PGO_OID_JSON: case PGO_OID_JSONB:
        return "{}";
    case PGO_OID_UUID:          return "00000000-0000-0000-0000-000000000000";
    case PGO_OID_DATE:          return "1970-01-01";
    case PGO_OID_TIME:          return "00:00:00";
    case PGO_OID_TIMESTAMP:     return "1970-01-01 00:00:00";
    case PGO_OID_TIMESTAMPTZ:   return "1970-01-01 00:00:00+00";
    case PGO_OID_INTERVAL:      return "00:00:00";     /* PGInterval("epoch"): all zero */
    default:                    return NULL;
    }
}

/* FUNCTION_DEFAULT_PATTERN "^[(]?[A-Za-z0-9_.]+\((?:.+(?:, ?.+)*)?\)", found on the first line. */
static bool
tm_is_call(const char *e)
{
    size_t i = e[0] == '(', b = i;

    while ((e[i] >= 'a' && e[i] <= 'z') || (e[i] >= 'A' && e[i] <= 'Z') ||
           (e[i] >= '0' && e[i] <= '9') || e[i] == '_' || e[i] == '.')
        i++;
    if (i == b || e[i] != '(')
        return false;
    for (i++; e[i] != '\0' && e[i] != '\n' && e[i] != '\r'; i++)
        if (e[i] == ')')
            return true;
    return false;
}

/* CURRENT_DATE_TIMES: the SQL-standard "functions" pg_get_expr prints without parentheses. */
static bool
tm_is_current(const char *e)
{
    static const char *const names[] = { "current_timestamp", "current_time", "current_date",
                                          "localtime", "localtimestamp" };
    size_t                   i, k;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        for (k = 0; e[k] != '\0' && (e[k] >= 'A' && e[k] <= 'Z' ? e[k] + 32 : e[k]) == names[i][k];
             k++)
            ;
        if (e[k] == '\0' && names[i][k] == '\0')
            return true;
    }
    return false;
}

/*
 * LITERAL_DEFAULT_PATTERN "'(.*?)'": the first quoted run on one line.  As
 * in Debezium, a doubled quote ends it ('it''s' gives "it").
 */
static bool
tm_first_quoted(const char *e, const char **p, size_t *n)
{
    const char *q = strchr(e, '\'');

    while (q != NULL) {
        size_t k = 1;

        while (q[k] != '\0' && q[k] != '\'' && q[k] != '\n' && q[k] != '\r')
            k++;
        if (q[k] == '\'') {
            *p = q + 1;
            *n = k - 1;
            return true;
        }
        q = strchr(q + 1, '\'');
    }
    return false;
}

/*
 * The literal text of a default (extractDefault): a placeholder for a
 * function call, the first quoted run, or the bare expression; false for
 * NULL::type and anything else without a value.
 */
static bool
tm_default_text(const cdc_col *col, const char *e, const char **p, size_t *n)
{
    const char *ph = tm_placeholder(col->catalog_known ? col->base_oid : col->type_oid);

    if (col->ctype.sem == CDC_SEM_ENUM) {
        /* extractEnumDefault: '<label>'::<type name> exactly */
        size_t el = strlen(e), tl = col->type_name ? strlen(col->type_name) : 0;

        if (tl == 0 || el < tl + 4 || memcmp(e + el - tl - 2, "::", 2) != 0 ||
            memcmp(e + el - tl, col->type_name, tl) != 0 || e[0] != '\'' ||
            e[el - tl - 3] != '\'')
            return false;
        *p = e + 1;
        *n = el - tl - 4;
        return true;
    }
    if (ph == NULL)
        return false;
    if (tm_is_call(e) || tm_is_current(e)) {
        *p = ph;
        *n = strlen(ph);
        return true;
    }
    if (strchr(e, '\'') == NULL) {
        if (strncmp(e, "NULL::", 6) == 0)
            return false;
        *p = e;
        *n = strlen(e);
        return true;
    }
    return tm_first_quoted(e, p, n);
}

/* Copies a decoded scalar into the relation's own memory. */
static void
tm_keep(cdc_rel *rel, cdc_col *col, const cdc_value *v)
{
    col->def = *v;
    if (col->ctype.kind == CDC_CT_STRING || col->ctype.kind == CDC_CT_BYTES) {
        char *p = pgo_rel_alloc(rel, v->u.s.n + 1);

        memcpy(p, v->u.s.p, v->u.s.n);
        p[v->u.s.n] = '\0';
        col->def.u.s.p = p;
    }
    col->has_default = true;
}

/*
 * Booleans and bit strings do not go through the text decoder: the mapper
 * gives Boolean.parseBoolean for bool, and for bit a one-character literal
 * becomes a Boolean, which the Bits converter turns into one byte 0 or 1.
 */
static bool
tm_default_bool(const cdc_col *col, const char *t, size_t n, cdc_value *v)
{
    uint32_t oid = col->catalog_known ? col->base_oid : col->type_oid;

    v->state = CDC_VAL_PRESENT;
    if (oid == PGO_OID_BOOL) {
        v->u.b = n == 4 && strncasecmp(t, "true", 4) == 0;
        return true;
    }
    if (col->ctype.kind == CDC_CT_BOOLEAN) {       /* bit(1): Integer.valueOf(t, 2) != 0 */
        v->u.b = memchr(t, '1', n) != NULL;
        return true;
    }
    if (col->ctype.sem == CDC_SEM_BITS && n == 1) {
        v->u.s.p = t[0] == '1' ? "\x01" : "\x00";
        v->u.s.n = 1;
        return true;
    }
    return false;
}

static int
tm_default(cdc_rel *rel, cdc_col *col, const pgo_type_opts *o)
{
    const char *t;
    size_t      n, k;
    cdc_arena  *arena;
    cdc_value   v = { 0 };
    cdc_err     err;
    char        uuid[40];

    col->has_default = false;
    memset(&col->def, 0, sizeof(col->def));
    /* a domain has no default mapper (supportConversion of its name); a Struct cannot be a default */
    if (col->default_expr == NULL || !col->ctype.supported || col->ctype.kind == CDC_CT_STRUCT ||
        col->ctype.kind == CDC_CT_ARRAY || (col->catalog_known && col->base_oid != col->type_oid))
        return 0;
    if (!tm_default_text(col, col->default_expr, &t, &n))
        return 0;
    if (tm_default_bool(col, t, n, &v)) {
        tm_keep(rel, col, &v);
        return 0;
    }
    if (col->ctype.sem == CDC_SEM_UUID && n < sizeof(uuid)) {
        for (k = 0; k < n; k++)     /* UUID.fromString(...).toString() */
            uuid[k] = (char) (t[k] >= 'A' && t[k] <= 'F' ? t[k] + 32 : t[k]);
        t = uuid;
    }
    arena = cdc_arena_new(1024);
    if (pgo_value_from_text(col, t, n, o, arena, &v, &err) == 0)
        tm_keep(rel, col, &v);
    else if (!col->generated)   /* a generation expression is seldom a literal: no warning */
        log_warn("pgo", "%s.%s: column %s: default %s not used as schema default: %s",
                 rel->nspname, rel->relname, col->name, col->default_expr, err.msg);
    cdc_arena_free(arena);
    return 0;
}

int
pgo_typemap_rel(cdc_rel *rel, const pgo_type_opts *opts, cdc_err *err)
{
    int i;

    if (rel == NULL || opts == NULL || rel->ncols < 0 || (rel->ncols > 0 && rel->cols == NULL))
        return cdc_err_set(err, CDC_E_INVAL, "pgo_typemap_rel: no relation or options");
    for (i = 0; i < rel->ncols; i++) {
        tm_col(&rel->cols[i], opts);
        if (tm_default(rel, &rel->cols[i], opts) < 0)
            return -1;
    }
    return 0;
}
