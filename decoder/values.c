/*
 * Column values from pgoutput's text format to cdc_values: the dispatch on
 * type, the simple types (booleans, strings, bytea, bit strings, points),
 * one-dimensional arrays, and whole tuples.  Numbers are in values_num.c,
 * dates and times in values_time.c.
 *
 * The rules are Debezium 2.7's: PgOutputColumnValue and
 * ReplicationMessageColumnValueResolver turn the text into Java objects,
 * PostgresValueConverter / JdbcValueConverters turn those into Connect
 * values.  Where Debezium would fail the record, we fail the value with
 * CDC_E_DECODE naming the column and the text; we never substitute a
 * fallback silently.
 *
 * Not here: the unchanged-TOAST placeholder (CDC_VAL_UNCHANGED reaches the
 * caller, which decides), and the null-replaced-by-default rule (schema
 * layer).
 */
#include "decoder/values.h"

#include <string.h>

#include "agent/core/cdc_buf.h"
#include "decoder/values_int.h"

/*
 * A string value is the text itself.  From pgo_tuple_values it points into
 * the message (no copy: a 200 MB text is not held twice); otherwise it is
 * copied to the arena, since those callers free their text before the value.
 */
static int
val_string(const pgo_vctx *vc, const char *s, size_t n, cdc_value *out)
{
    out->u.s.p = vc->borrow ? s : cdc_arena_strndup(vc->arena, s, n);
    out->u.s.n = n;
    out->state = CDC_VAL_PRESENT;
    return 0;
}

/* PgOutputColumnValue.asBoolean; PostgreSQL prints exactly 't' or 'f'. */
static int
val_bool(const pgo_vctx *vc, const char *s, size_t n, cdc_value *out)
{
    if (n != 1 || (s[0] != 't' && s[0] != 'f'))
        return pgo_vfail(vc, "not a boolean", s, n);
    out->u.b = s[0] == 't';
    out->state = CDC_VAL_PRESENT;
    return 0;
}

/* Base64 with padding, standard or URL-safe alphabet (java.util.Base64). */
static size_t
base64(const uint8_t *b, size_t n, bool url, char *o)
{
    const char *al = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                         : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t      len = 0, i;

    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t) b[i] << 16 | (uint32_t) b[i + 1] << 8 | b[i + 2];

        o[len++] = al[v >> 18];
        o[len++] = al[v >> 12 & 63];
        o[len++] = al[v >> 6 & 63];
        o[len++] = al[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t) b[i] << 16 | (i + 1 < n ? (uint32_t) b[i + 1] << 8 : 0);

        o[len++] = al[v >> 18];
        o[len++] = al[v >> 12 & 63];
        o[len++] = i + 1 < n ? al[v >> 6 & 63] : '=';
        o[len++] = '=';
    }
    return len;
}

/* Decodes nb bytes of hex digits at s into b; -1 on a character that is not one. */
static int
unhex(const char *s, size_t nb, uint8_t *b)
{
    for (size_t i = 0; i < nb; i++) {
        int hi = cdc_hexval(s[2 * i]), lo = cdc_hexval(s[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return -1;
        b[i] = (uint8_t) (hi << 4 | lo);
    }
    return 0;
}

/*
 * bytea_output=hex: "\x0aff" -> bytes, then binary.handling.mode.  Only the
 * result is allocated: base64 is produced from the hex text three bytes at a
 * time and hex is the text lowered, so a large bytea costs one copy of its
 * final form, not a decoded copy as well.
 */
static int
val_bytea(const pgo_vctx *vc, const char *s, size_t n, cdc_value *out)
{
    size_t   nb, i;
    uint8_t *b, tri[3];
    char    *o;
    bool     url = vc->opts->binary_mode == PGO_BINARY_BASE64_URL_SAFE;

    if (n < 2 || s[0] != '\\' || s[1] != 'x' || n % 2 != 0)
        return pgo_vfail(vc, "not a hex bytea", s, n);
    nb = (n - 2) / 2;
    out->state = CDC_VAL_PRESENT;
    switch (vc->opts->binary_mode) {
    case PGO_BINARY_BASE64:
    case PGO_BINARY_BASE64_URL_SAFE:
        o = cdc_arena_alloc(vc->arena, (nb + 2) / 3 * 4 + 1);
        out->u.s.n = 0;
        for (i = 0; i < nb; i += 3) {
            size_t k = nb - i < 3 ? nb - i : 3;

            if (unhex(s + 2 + 2 * i, k, tri) < 0)
                return pgo_vfail(vc, "not a hex bytea", s, n);
            out->u.s.n += base64(tri, k, url, o + out->u.s.n);
        }
        out->u.s.p = o;
        return 0;
    case PGO_BINARY_HEX:        /* HexConverter: lower case */
        o = cdc_arena_alloc(vc->arena, 2 * nb + 1);
        for (i = 0; i < 2 * nb; i++) {
            int v = cdc_hexval(s[2 + i]);

            if (v < 0)
                return pgo_vfail(vc, "not a hex bytea", s, n);
            o[i] = "0123456789abcdef"[v];
        }
        out->u.s.p = o;
        out->u.s.n = 2 * nb;
        return 0;
    default:
        if (vc->inplace == s) {
            /* Over the text itself (byte i from characters 2i+2, 2i+3: always behind the
               reading), once it is known to be hex, so an error can still quote it. */
            for (i = 2; i < n; i++)
                if (cdc_hexval(s[i]) < 0)
                    return pgo_vfail(vc, "not a hex bytea", s, n);
            b = (uint8_t *) vc->inplace;
        } else {
            b = cdc_arena_alloc(vc->arena, nb + 1);
        }
        if (unhex(s + 2, nb, b) < 0)
            return pgo_vfail(vc, "not a hex bytea", s, n);
        out->u.s.p = (const char *) b;
        out->u.s.n = nb;
        return 0;
    }
}

/*
 * bit/varbit text "0101".  One bit: a boolean, true when the bit is set
 * (JdbcValueConverters.convertBit of Integer.valueOf(text, 2)).  More:
 * io.debezium.data.Bits, which PostgresValueConverter.convertBits builds as
 * a java.util.BitSet with the rightmost character as bit 0 and then
 * BitSet.toByteArray(): little-endian, and only as many bytes as the
 * highest set bit needs (so B'00000001' in bit(16) is one byte 01, and all
 * zeros is no bytes at all).
 */
static int
val_bits(const pgo_vctx *vc, uint8_t kind, const char *s, size_t n, cdc_value *out)
{
    size_t   i, top = 0;    /* 1 + index of the highest set bit */
    uint8_t *b;

    for (i = 0; i < n; i++) {
        if (s[i] != '0' && s[i] != '1')
            return pgo_vfail(vc, "not a bit string", s, n);
        if (s[i] == '1' && top == 0)
            top = n - i;
    }
    /* An empty varbit (B'') is a value: no bits set, so no bytes (Debezium's empty BitSet). */
    if (n == 0 && kind == CDC_CT_BOOLEAN)
        return pgo_vfail(vc, "not a bit string", s, n);
    out->state = CDC_VAL_PRESENT;
    if (kind == CDC_CT_BOOLEAN) {
        out->u.b = top > 0;
        return 0;
    }
    b = cdc_arena_zalloc(vc->arena, (top + 7) / 8 + 1);
    for (i = 0; i < top; i++)
        if (s[n - 1 - i] == '1')
            b[i / 8] |= (uint8_t) (1u << (i % 8));
    out->u.s.p = (const char *) b;
    out->u.s.n = (top + 7) / 8;
    return 0;
}

/* point "(x,y)" as pgjdbc's PGpoint reads it; the schema layer builds the WKB. */
static int
val_point(const pgo_vctx *vc, const char *s, size_t n, cdc_value *out)
{
    const char *comma = n > 2 ? memchr(s, ',', n) : NULL;
    cdc_value   x = { 0 }, y = { 0 };
    cdc_err     ignore;
    pgo_vctx    quiet = *vc;

    quiet.err = &ignore;
    if (comma == NULL || s[0] != '(' || s[n - 1] != ')' ||
        pgo_num_float(&quiet, CDC_CT_FLOAT64, s + 1, (size_t) (comma - s - 1), &x) < 0 ||
        pgo_num_float(&quiet, CDC_CT_FLOAT64, comma + 1, (size_t) (s + n - 1 - comma - 1), &y) < 0)
        return pgo_vfail(vc, "not a point", s, n);
    out->u.pt.x = x.u.f;
    out->u.pt.y = y.u.f;
    out->state = CDC_VAL_PRESENT;
    return 0;
}

int
pgo_scalar_from_text(const pgo_vctx *vc, uint32_t oid, uint8_t kind, uint8_t sem,
                     const char *s, size_t n, cdc_value *out)
{
    switch (oid) {
    case PGO_OID_BOOL:
        return val_bool(vc, s, n, out);
    case PGO_OID_INT2:
    case PGO_OID_INT4:
    case PGO_OID_INT8:
    case PGO_OID_OID:
        return pgo_num_int(vc, kind, s, n, out);
    case PGO_OID_FLOAT4:
    case PGO_OID_FLOAT8:
        return pgo_num_float(vc, kind, s, n, out);
    case PGO_OID_NUMERIC:
        return pgo_num_numeric(vc, kind, sem, s, n, out);
    case PGO_OID_MONEY:
        return pgo_num_money(vc, kind, s, n, out);
    case PGO_OID_BYTEA:
        return val_bytea(vc, s, n, out);
    case PGO_OID_BIT:
    case PGO_OID_VARBIT:
        return val_bits(vc, kind, s, n, out);
    case PGO_OID_POINT:
        return val_point(vc, s, n, out);
    case PGO_OID_DATE:
        return pgo_time_date(vc, s, n, out);
    case PGO_OID_TIME:
        return pgo_time_time(vc, sem, s, n, out);
    case PGO_OID_TIMETZ:
        return pgo_time_timetz(vc, s, n, out);
    case PGO_OID_TIMESTAMP:
        return pgo_time_timestamp(vc, sem, s, n, out);
    case PGO_OID_TIMESTAMPTZ:
        return pgo_time_timestamptz(vc, s, n, out);
    case PGO_OID_INTERVAL:
        return pgo_time_interval(vc, sem, s, n, out);
    default:
        /* text types, json, xml, uuid, network types, ranges, enum labels, citext, ltree */
        if (kind != CDC_CT_STRING)
            return cdc_err_set(vc->err, CDC_E_UNSUPPORTED, "column %s: no decoder for type %u",
                               vc->col->name, oid);
        return val_string(vc, s, n, out);
    }
}

/*
 * A double-quoted array element at s[*i] == '"', backslash escapes removed.
 * Measured first and allocated to fit: an allocation of the whole array's
 * length per element made a text[] of k quoted elements cost k times its size.
 */
static int
arr_quoted(const pgo_vctx *vc, const char *s, size_t n, size_t *i, const char **e, size_t *en)
{
    size_t len = 0, j;
    char  *o;

    for (j = *i + 1; j < n && s[j] != '"'; j++, len++)
        if (s[j] == '\\' && j + 1 < n)
            j++;
    if (j >= n)
        return -1;
    o = cdc_arena_alloc(vc->arena, len + 1);
    len = 0;
    for ((*i)++; *i < n && s[*i] != '"'; (*i)++) {
        if (s[*i] == '\\' && *i + 1 < n)
            (*i)++;
        o[len++] = s[*i];
    }
    if (*i >= n)
        return -1;
    (*i)++;             /* the closing quote */
    *e = o;
    *en = len;
    return 0;
}

/* Decodes the element at s[*i] into *out and leaves *i on the ',' or '}' after it. */
static int
arr_element(const pgo_vctx *vc, uint32_t oid, const char *s, size_t n, size_t *i, cdc_value *out)
{
    const cdc_ctype *ct = &vc->col->ctype;
    const char      *e = s + *i;
    size_t           en;

    if (s[*i] == '{')
        return pgo_vfail(vc, "multi-dimensional arrays are not supported", s, n);
    if (s[*i] == '"') {
        if (arr_quoted(vc, s, n, i, &e, &en) < 0)
            return pgo_vfail(vc, "unterminated quoted array element", s, n);
    } else {
        while (*i < n && s[*i] != ',' && s[*i] != '}' && s[*i] != '"')
            (*i)++;
        en = (size_t) (s + *i - e);
        /* an unquoted NULL is SQL NULL; the string "NULL" is printed quoted */
        if (en == 4 && (e[0] | 0x20) == 'n' && (e[1] | 0x20) == 'u' && (e[2] | 0x20) == 'l' &&
            (e[3] | 0x20) == 'l') {
            out->state = CDC_VAL_NULL;
            return 0;
        }
        if (en == 0)
            return pgo_vfail(vc, "empty array element", s, n);
    }
    return pgo_scalar_from_text(vc, oid, ct->elem_kind, ct->elem_sem, e, en, out);
}

/*
 * One-dimensional arrays as array_out prints them: "{1,2,NULL}",
 * "{\"a b\",c}", with "[0:1]=" in front when the lower bound is not 1 (the
 * bounds are dropped, as pgjdbc's PgArray drops them).  Elements are
 * optional in Debezium's array schemas, so NULL elements stay NULL.
 */
static int
val_array(const pgo_vctx *vc, const char *s, size_t n, cdc_value *out)
{
    uint32_t   oid = pgo_col_value_oid(vc->col);
    size_t     i = 0, k, cap = 1, count = 0;
    cdc_value *items;

    if (n > 0 && s[0] == '[') {
        const char *eq = memchr(s, '=', n);

        i = eq ? (size_t) (eq - s) + 1 : n;
    }
    if (i >= n || s[i] != '{' || s[n - 1] != '}')
        return pgo_vfail(vc, "not an array", s, n);
    for (k = i; k < n; k++)
        cap += s[k] == ',';
    items = cdc_arena_zalloc(vc->arena, cap * sizeof(*items));
    if (++i < n - 1) {
        for (;;) {
            if (arr_element(vc, oid, s, n, &i, &items[count++]) < 0)
                return -1;
            if (i == n - 1)
                break;
            if (i >= n || s[i] != ',' || count == cap)
                return pgo_vfail(vc, "malformed array", s, n);
            i++;
        }
    }
    out->u.arr.items = items;
    out->u.arr.n = count;
    out->state = CDC_VAL_PRESENT;
    return 0;
}

/*
 * The size of a value as the user knows it (octet_length): bytea arrives as
 * hex text, two characters a byte after "\x"; everything else as its text,
 * arrays too (their text form: a bytea[] is quoted hex with doubled
 * backslashes, so it counts about twice its octet_length).
 */
static size_t
value_size(const cdc_col *col, size_t textlen)
{
    if (col->ctype.kind != CDC_CT_ARRAY && pgo_col_value_oid(col) == PGO_OID_BYTEA)
        return textlen >= 2 ? (textlen - 2) / 2 : 0;
    return textlen;
}

/*
 * agent.max_value_mb, for every caller (stream, snapshot, verify); the
 * caller adds the table.  Short, so that long names still leave the advice
 * inside cdc_err's message.
 */
static int
check_size(const pgo_vctx *vc, size_t textlen)
{
    size_t size = value_size(vc->col, textlen), limit = vc->opts->max_value_bytes;

    if (limit == 0 || size <= limit)
        return 0;
    if (vc->col->ctype.kind == CDC_CT_ARRAY)    /* counted on its text: quotes, escapes, hex */
        return cdc_err_set(vc->err, CDC_E_CONFIG, "column %s: an array whose text form is of "
                           "%.1f MB (%zu bytes) is over agent.max_value_mb (%zu); raise it in "
                           "platform.yaml (at most 1024) to capture the row", vc->col->name,
                           (double) size / (1024.0 * 1024.0), size, limit / (1024 * 1024));
    return cdc_err_set(vc->err, CDC_E_CONFIG, "column %s: a value of %.1f MB (%zu bytes) is "
                       "over agent.max_value_mb (%zu); raise it in platform.yaml (at most "
                       "1024) to capture the row", vc->col->name,
                       (double) size / (1024.0 * 1024.0), size, limit / (1024 * 1024));
}

static int
decode_value(const pgo_vctx *vc, const char *text, size_t len, cdc_value *out)
{
    const cdc_col *col = vc->col;

    memset(out, 0, sizeof(*out));
    if (check_size(vc, len) < 0)
        return -1;
    if (!col->ctype.supported)
        return cdc_err_set(vc->err, CDC_E_UNSUPPORTED, "column %s: type %u is not supported",
                           col->name, col->type_oid);
    if (col->ctype.kind == CDC_CT_ARRAY)
        return val_array(vc, text, len, out);
    return pgo_scalar_from_text(vc, pgo_col_value_oid(col), col->ctype.kind, col->ctype.sem,
                                text, len, out);
}

int
pgo_value_from_text(const cdc_col *col, const char *text, size_t len,
                    const pgo_type_opts *opts, cdc_arena *arena, cdc_value *out,
                    cdc_err *err)
{
    pgo_vctx vc = { .col = col, .opts = opts, .arena = arena, .err = err };

    return decode_value(&vc, text, len, out);
}

int
pgo_value_from_text_borrow(const cdc_col *col, char *text, size_t len,
                           const pgo_type_opts *opts, cdc_arena *arena, cdc_value *out,
                           cdc_err *err)
{
    pgo_vctx vc = { .col = col, .opts = opts, .arena = arena, .err = err, .borrow = true,
                    .inplace = text };

    return decode_value(&vc, text, len, out);
}

/*
 * Values decoded here borrow from the tuple's data where they can (strings
 * point into the message): the caller keeps the message for as long as the
 * values, as agent/pipeline/capture.c does (both live until the end of the change).
 */
static cdc_value *
tuple_values(const cdc_rel *rel, const pgo_tuple *tup, const cdc_value *after,
             const pgo_type_opts *opts, cdc_arena *arena, cdc_err *err)
{
    pgo_vctx   vc = { .opts = opts, .arena = arena, .err = err, .borrow = true };
    cdc_value *vals;
    int        i;

    if (tup->ncols != rel->ncols) {
        cdc_err_set(err, CDC_E_PROTO, "%s.%s: tuple has %d columns, relation has %d",
                    rel->nspname, rel->relname, tup->ncols, rel->ncols);
        return NULL;
    }
    vals = cdc_arena_zalloc(arena, (size_t) (rel->ncols ? rel->ncols : 1) * sizeof(*vals));
    for (i = 0; i < rel->ncols; i++) {
        const pgo_datum *d = &tup->cols[i];
        const cdc_col   *col = &rel->cols[i];

        switch (d->kind) {
        case 'n':
            break;
        case 'u':
            vals[i].state = CDC_VAL_UNCHANGED;
            break;
        case 't':
            if (!col->ctype.supported)
                break;
            vc.col = col;
            if (decode_value(&vc, d->data, d->len, &vals[i]) < 0) {
                cdc_err_wrap(err, "%s.%s", rel->nspname, rel->relname);
                return NULL;
            }
            break;
        case 'b':
            cdc_err_set(err, CDC_E_DECODE, "%s.%s: column %s: binary format was not requested",
                        rel->nspname, rel->relname, col->name);
            return NULL;
        default:
            cdc_err_set(err, CDC_E_PROTO, "%s.%s: column %s: unknown datum kind 0x%02x",
                        rel->nspname, rel->relname, col->name, (unsigned) (unsigned char) d->kind);
            return NULL;
        }
    }
    /* a SQL_ASCII database: warn and count (values_utf8.c), once per column and event */
    if (after)
        pgo_utf8_check_old_row(rel, vals, after);
    else
        pgo_utf8_check_row(rel, vals);
    return vals;
}

cdc_value *
pgo_tuple_values(const cdc_rel *rel, const pgo_tuple *tup, const pgo_type_opts *opts,
                 cdc_arena *arena, cdc_err *err)
{
    return tuple_values(rel, tup, NULL, opts, arena, err);
}

cdc_value *
pgo_tuple_values_old(const cdc_rel *rel, const pgo_tuple *tup, const cdc_value *after,
                     const pgo_type_opts *opts, cdc_arena *arena, cdc_err *err)
{
    return tuple_values(rel, tup, after, opts, arena, err);
}
