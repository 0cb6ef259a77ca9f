/*
 * Column defaults -> schema defaults, as Debezium 2.7's
 * PostgresDefaultValueConverter derives them (CONTRACT.md section 4.5): the
 * literal of pg_get_expr()'s text, a placeholder for a function call, and
 * the value decoder (values.c) to turn that text into the column's value.
 */
#include "decoder/coldefault.h"

#include <string.h>
#include <strings.h>

#include "agent/core/cdc_arena.h"
#include "agent/core/cdc_log.h"
#include "decoder/pgtype.h"
#include "decoder/relcache.h"
#include "decoder/values.h"

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

int
pgo_coldefault_set(cdc_rel *rel, cdc_col *col, const pgo_type_opts *o)
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
