/*
 * Debezium events as Kafka Connect's JsonConverter writes them, appended
 * straight into a cdc_buf: no JSON tree, no printf for integers.  This file
 * holds the payloads (key, Envelope, MessageValue, source block) and the
 * scalar renderers; json_schema.c holds the schema nodes that
 * schemas.enable=true adds.
 *
 * What is copied, and from where (see docs/debezium-compat.md for more):
 * - JsonConverter.convertToJson (apache/kafka connect/json): integers as
 *   numbers, BYTES (bytea, Decimal, Bits) as base64, structs as objects in
 *   field order, a null field replaced by its schema default when
 *   replace.null.with.default is on (CONTRACT.md 3.5).
 * - Jackson's generator (FasterXML/jackson-core, WriterBasedJsonGenerator /
 *   UTF8JsonGenerator.writeNumber): a FLOAT64 goes through Double.toString,
 *   a FLOAT32 through Float.toString (it is not widened), and NaN/Infinity
 *   are written as the JSON *strings* "NaN", "Infinity", "-Infinity"
 *   (QUOTE_NON_NUMERIC_NUMBERS is on by default).  String escapes follow
 *   Jackson's table: \" \\ \b \t \n \f \r, other controls as \u00XX with
 *   upper-case hex, nothing else escaped (not '/', not U+2028) except
 *   characters outside the BMP, which UTF8JsonGenerator writes as their two
 *   UTF-16 surrogates escaped ("\uD83D\uDE00"); other non-ASCII stays raw
 *   UTF-8.
 * - Debezium's UnchangedToastedPlaceholder for unchanged TOAST values
 *   (CONTRACT.md 4.6).
 */
#include "schemas/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/json_int.h"
#include "schemas/topic.h"

#define JSON_VERSION_DEFAULT     "2.7.3.Final"
#define JSON_PLACEHOLDER_DEFAULT "__debezium_unavailable_value"
/* UUID.nameUUIDFromBytes("__debezium_unavailable_value"): what Debezium puts
   into a uuid[] whose TOAST value was not sent. */
#define JSON_PLACEHOLDER_UUID "b68a35a7-17ad-35b3-af2a-ae46edb4545a"

void
sch_json_opts_default(sch_json_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->version = JSON_VERSION_DEFAULT;
    /* JsonConverter's own default is schemas.enable=true; the agent's config
       sets this explicitly.  Payload-only is the cheaper default here. */
    o->schemas_enable = false;
    o->replace_null_with_default = true;
    o->unavailable_placeholder = JSON_PLACEHOLDER_DEFAULT;
}

/* ------------------------------------------------------------------ */
/* Strings                                                             */
/* ------------------------------------------------------------------ */

/*
 * Length of the well-formed UTF-8 sequence at p, or 0 when it is not one;
 * then *bad is the length of its maximal ill-formed subpart (at least 1),
 * which becomes one U+FFFD: Unicode's "maximal subpart" practice (W3C/WHATWG
 * decoders, Python's 'replace').  Java's decoder mostly agrees but not
 * always: an encoded surrogate (ED A0 80) is one U+FFFD there, three here
 * (ED is ill-formed before A0, then A0 and 80 alone).  No Debezium output
 * depends on it (pgjdbc asks for UTF8 and the server refuses such bytes,
 * docs/debezium-differences.md).
 */
static size_t
utf8_seq(const unsigned char *p, const unsigned char *end, size_t *bad)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xBF;
    size_t        need;

    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else if (c == 0xE0)
        need = 2, lo = 0xA0;
    else if (c == 0xED)
        need = 2, hi = 0x9F;    /* no UTF-16 surrogates */
    else if (c >= 0xE1 && c <= 0xEF)
        need = 2;
    else if (c == 0xF0)
        need = 3, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3)
        need = 3;
    else if (c == 0xF4)
        need = 3, hi = 0x8F;
    else {
        *bad = 1;
        return 0;
    }
    for (size_t i = 1; i <= need; i++) {
        if (p + i >= end || p[i] < lo || p[i] > hi) {
            *bad = i;
            return 0;
        }
        lo = 0x80;
        hi = 0xBF;
    }
    return need + 1;
}

/*
 * esc_non_bmp: characters outside the BMP as escaped surrogates
 * (JsonConverter's bytes), else raw (Avro schema text, Connect's
 * SimpleHeaderConverter).  name: a column name, whose ill-formed bytes are
 * written as the text \xNN (upper-case hex) instead of U+FFFD, so two names
 * of a SQL_ASCII table that differ only there stay two JSON keys; with
 * NAME_XESC (a name of a table where some name is not UTF-8, names_xesc())
 * a backslash is written \x5C as well, so that every backslash of such a
 * table's names starts a \xNN and no name can be written as another is
 * (a column literally named caf\xE9 becomes caf\x5CxE9).
 */
enum { NAME_NO, NAME_YES, NAME_XESC };

static void
put_string(cdc_buf *b, const char *s, size_t n, bool esc_non_bmp, int name)
{
    static const char          hex[] = "0123456789ABCDEF";
    const unsigned char       *p = (const unsigned char *) s, *end = p + n, *run = p;
    size_t                     len, bad;
    char                       esc[6];

    cdc_buf_putc(b, '"');
    while (p < end) {
        unsigned char c = *p;

        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            p++;
            continue;
        }
        if (c >= 0x80) {
            len = utf8_seq(p, end, &bad);
            if (len == 4 && esc_non_bmp) {
                /* Outside the BMP: Jackson's UTF8JsonGenerator writes the two
                   UTF-16 surrogates of the Java String as \uXXXX escapes
                   (_outputMultiByteChar); the key bytes must be the same. */
                uint32_t cp = ((uint32_t) (p[0] & 0x07) << 18) | ((uint32_t) (p[1] & 0x3F) << 12) |
                              ((uint32_t) (p[2] & 0x3F) << 6) | (uint32_t) (p[3] & 0x3F);
                uint32_t hi = 0xD800 + ((cp - 0x10000) >> 10), lo = 0xDC00 + (cp & 0x3FF);
                char     sur[12] = { '\\', 'u', hex[hi >> 12], hex[(hi >> 8) & 0xF],
                                     hex[(hi >> 4) & 0xF], hex[hi & 0xF], '\\', 'u',
                                     hex[lo >> 12], hex[(lo >> 8) & 0xF],
                                     hex[(lo >> 4) & 0xF], hex[lo & 0xF] };

                cdc_buf_put(b, run, (size_t) (p - run));
                cdc_buf_put(b, sur, sizeof(sur));
                p += len;
                run = p;
                continue;
            }
            if (len > 0) {
                p += len;
                continue;
            }
            cdc_buf_put(b, run, (size_t) (p - run));
            if (name) {
                for (size_t i = 0; i < bad; i++) {
                    char x[5] = { '\\', '\\', 'x', hex[p[i] >> 4], hex[p[i] & 0xF] };

                    cdc_buf_put(b, x, 2);   /* the backslash, escaped */
                    cdc_buf_put(b, x + 2, 3);
                }
            } else {
                cdc_buf_put(b, "\xEF\xBF\xBD", 3);
            }
            p += bad;
            run = p;
            continue;
        }
        cdc_buf_put(b, run, (size_t) (p - run));
        if (c == '\\' && name == NAME_XESC) {
            cdc_buf_puts(b, "\\\\x5C");
            run = ++p;
            continue;
        }
        esc[0] = '\\';
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\t': esc[1] = 't'; break;
        case '\n': esc[1] = 'n'; break;
        case '\f': esc[1] = 'f'; break;
        case '\r': esc[1] = 'r'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xF];
            cdc_buf_put(b, esc, 6);
            p++;
            run = p;
            continue;
        }
        cdc_buf_put(b, esc, 2);
        p++;
        run = p;
    }
    cdc_buf_put(b, run, (size_t) (p - run));
    cdc_buf_putc(b, '"');
}

void
sch_json_put_string(cdc_buf *b, const char *s, size_t n)
{
    put_string(b, s, n, true, NAME_NO);
}

void
sch_json_put_string_raw(cdc_buf *b, const char *s, size_t n)
{
    put_string(b, s, n, false, NAME_NO);
}

/* Does a column name of rel hold bytes that are not UTF-8 (a SQL_ASCII database)? */
static bool
names_xesc(const cdc_rel *rel)
{
    for (int i = 0; rel != NULL && i < rel->ncols; i++) {
        const unsigned char *p = (const unsigned char *) rel->cols[i].name, *end;
        size_t               bad;

        if (p == NULL)
            continue;
        for (end = p + strlen((const char *) p); p < end; ) {
            size_t len = *p < 0x80 ? 1 : utf8_seq(p, end, &bad);

            if (len == 0)
                return true;
            p += len;
        }
    }
    return false;
}

void
sch_json_put_field_name(cdc_buf *b, const cdc_rel *rel, const char *name)
{
    put_string(b, name ? name : "", name ? strlen(name) : 0, true,
               names_xesc(rel) ? NAME_XESC : NAME_YES);
}

/* A string value or name as o asks: raw non-BMP for SimpleHeaderConverter's text. */
static void
put_str_o(cdc_buf *b, const char *s, size_t n, int name, const sch_json_opts *o)
{
    put_string(b, s, n, !(o != NULL && o->raw_non_bmp), name);
}

static void
put_cstr(cdc_buf *b, const char *s)
{
    sch_json_put_string(b, s ? s : "", s ? strlen(s) : 0);
}

/* Appends `"name":` for a column (names are escaped like any string); xesc: names_xesc(). */
static void
put_name(cdc_buf *b, const char *name, bool xesc, const sch_json_opts *o)
{
    put_str_o(b, name ? name : "", name ? strlen(name) : 0, xesc ? NAME_XESC : NAME_YES, o);
    cdc_buf_putc(b, ':');
}

void
sch_json_put_base64(cdc_buf *b, const void *src, size_t n)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    /* In chunks (a multiple of 3 bytes), so that a buffer that drains
       (cdc_buf_set_drain) never holds a large value's encoding whole. */
    const size_t chunk = 3 * 16384;

    cdc_buf_putc(b, '"');
    for (size_t off = 0; off < n; off += chunk) {
        const uint8_t *p = (const uint8_t *) src + off;
        size_t         m = n - off < chunk ? n - off : chunk, outlen = (m + 2) / 3 * 4, i;
        char          *o;

        if (!cdc_buf_reserve(b, outlen))
            return;
        o = (char *) b->data + b->len;
        for (i = 0; i + 3 <= m; i += 3) {
            uint32_t v = (uint32_t) p[i] << 16 | (uint32_t) p[i + 1] << 8 | p[i + 2];

            *o++ = tab[v >> 18];
            *o++ = tab[(v >> 12) & 63];
            *o++ = tab[(v >> 6) & 63];
            *o++ = tab[v & 63];
        }
        if (m - i == 1) {
            uint32_t v = (uint32_t) p[i] << 16;

            *o++ = tab[v >> 18];
            *o++ = tab[(v >> 12) & 63];
            *o++ = '=';
            *o++ = '=';
        } else if (m - i == 2) {
            uint32_t v = (uint32_t) p[i] << 16 | (uint32_t) p[i + 1] << 8;

            *o++ = tab[v >> 18];
            *o++ = tab[(v >> 12) & 63];
            *o++ = tab[(v >> 6) & 63];
            *o++ = '=';
        }
        b->len += outlen;
        b->data[b->len] = '\0';
    }
    cdc_buf_putc(b, '"');
}

/* ------------------------------------------------------------------ */
/* Numbers                                                             */
/* ------------------------------------------------------------------ */

/*
 * A FLOAT64 (or, with single, a FLOAT32) as Java's Double.toString /
 * Float.toString lays it out: the shortest digits that read back to the same
 * value, plain notation ("100.0", "0.001") for 1e-3 <= |d| < 1e7, otherwise
 * "1.0E7", "1.25E-5".  JDK 19+ prints the shortest digits too (JDK-4511638);
 * older JDKs occasionally print one more digit, which parses to the same
 * double.  Non-finite values are Jackson's quoted strings.
 */
static void
put_java_number(cdc_buf *b, double d, bool single)
{
    char tmp[40], digits[24], out[48];
    int  prec, nd = 0, exp10, n = 0;
    const char *p;

    if (isnan(d)) {
        cdc_buf_puts(b, "\"NaN\"");
        return;
    }
    if (isinf(d)) {
        cdc_buf_puts(b, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        return;
    }
    if (d == 0) {
        cdc_buf_puts(b, signbit(d) ? "-0.0" : "0.0");
        return;
    }
    for (prec = 1; prec < 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
        if (single ? strtof(tmp, NULL) == (float) d : strtod(tmp, NULL) == d)
            break;
    }
    if (prec == 17)
        snprintf(tmp, sizeof(tmp), "%.16e", d);
    p = tmp;
    if (*p == '-')
        out[n++] = *p++;
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            digits[nd++] = *p;
    exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;

    if (exp10 >= -3 && exp10 < 7) {
        if (exp10 >= 0) {
            for (int i = 0; i <= exp10; i++)
                out[n++] = i < nd ? digits[i] : '0';
            out[n++] = '.';
            if (nd > exp10 + 1)
                for (int i = exp10 + 1; i < nd; i++)
                    out[n++] = digits[i];
            else
                out[n++] = '0';
        } else {
            out[n++] = '0';
            out[n++] = '.';
            for (int i = 0; i < -exp10 - 1; i++)
                out[n++] = '0';
            for (int i = 0; i < nd; i++)
                out[n++] = digits[i];
        }
        cdc_buf_put(b, out, (size_t) n);
        return;
    }
    out[n++] = digits[0];
    out[n++] = '.';
    if (nd > 1)
        for (int i = 1; i < nd; i++)
            out[n++] = digits[i];
    else
        out[n++] = '0';
    out[n++] = 'E';
    cdc_buf_put(b, out, (size_t) n);
    cdc_buf_put_i64(b, exp10);
}

/* Instant arithmetic: ms rounds toward negative infinity, as toEpochMilli. */
static int64_t
us_to_ms(int64_t us)
{
    return us / 1000 - (us % 1000 < 0 ? 1 : 0);
}

static void
put_ts_ns(cdc_buf *b, int64_t us)
{
    /* Past about 2262 AD nanoseconds do not fit in a long: the optional field is null. */
    if (us > INT64_MAX / 1000 || us < INT64_MIN / 1000)
        cdc_buf_puts(b, "null");
    else
        cdc_buf_put_i64(b, us * 1000);
}

static void
put_timestamps(cdc_buf *b, int64_t us)
{
    cdc_buf_puts(b, "\"ts_ms\":");
    cdc_buf_put_i64(b, us_to_ms(us));
    cdc_buf_puts(b, ",\"ts_us\":");
    cdc_buf_put_i64(b, us);
    cdc_buf_puts(b, ",\"ts_ns\":");
    put_ts_ns(b, us);
}

/* ------------------------------------------------------------------ */
/* Values                                                              */
/* ------------------------------------------------------------------ */

static void
put_le64(uint8_t *p, double d)
{
    uint64_t v;

    memcpy(&v, &d, sizeof(v));
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t) (v >> (8 * i));
}

/* io.debezium.data.geometry.Point: x, y, wkb (21-byte little-endian WKB
   point, Point.buildWKBPoint), srid (null for the PostgreSQL point type). */
static void
put_point(cdc_buf *b, double x, double y)
{
    uint8_t wkb[21] = { 1, 1, 0, 0, 0 };    /* little-endian, type 1 = Point */

    put_le64(wkb + 5, x);
    put_le64(wkb + 13, y);
    cdc_buf_puts(b, "{\"x\":");
    put_java_number(b, x, false);
    cdc_buf_puts(b, ",\"y\":");
    put_java_number(b, y, false);
    cdc_buf_puts(b, ",\"wkb\":");
    sch_json_put_base64(b, wkb, sizeof(wkb));
    cdc_buf_puts(b, ",\"srid\":null}");
}

static cdc_ctype
elem_ctype(const cdc_ctype *ct)
{
    cdc_ctype e = *ct;

    e.kind = ct->elem_kind;
    e.sem = ct->elem_sem;
    e.elem_kind = CDC_CT_NONE;
    e.elem_sem = CDC_SEM_NONE;
    return e;
}

void
sch_json_put_present(cdc_buf *b, const cdc_ctype *ct, const cdc_value *v, const sch_json_opts *o)
{
    switch ((cdc_ctkind) ct->kind) {
    case CDC_CT_BOOLEAN:
        cdc_buf_puts(b, v->u.b ? "true" : "false");
        return;
    case CDC_CT_INT8:
    case CDC_CT_INT16:
    case CDC_CT_INT32:
    case CDC_CT_INT64:
        cdc_buf_put_i64(b, v->u.i);
        return;
    case CDC_CT_FLOAT32:
        put_java_number(b, (float) v->u.f, true);
        return;
    case CDC_CT_FLOAT64:
        put_java_number(b, v->u.f, false);
        return;
    case CDC_CT_STRING:
        put_str_o(b, v->u.s.p, v->u.s.n, NAME_NO, o);
        return;
    case CDC_CT_BYTES:
        sch_json_put_base64(b, v->u.s.p, v->u.s.n);
        return;
    case CDC_CT_STRUCT:
        if (ct->sem == CDC_SEM_VARIABLE_DECIMAL) {
            cdc_buf_puts(b, "{\"scale\":");
            cdc_buf_put_i64(b, v->u.s.scale);
            cdc_buf_puts(b, ",\"value\":");
            sch_json_put_base64(b, v->u.s.p, v->u.s.n);
            cdc_buf_putc(b, '}');
            return;
        }
        if (ct->sem == CDC_SEM_POINT) {
            put_point(b, v->u.pt.x, v->u.pt.y);
            return;
        }
        break;
    case CDC_CT_ARRAY: {
        cdc_ctype e = elem_ctype(ct);

        cdc_buf_putc(b, '[');
        for (size_t i = 0; i < v->u.arr.n; i++) {
            if (i > 0)
                cdc_buf_putc(b, ',');
            /* elements are optional without default: NULL stays null */
            if (v->u.arr.items[i].state == CDC_VAL_PRESENT)
                sch_json_put_present(b, &e, &v->u.arr.items[i], o);
            else
                cdc_buf_puts(b, "null");
        }
        cdc_buf_putc(b, ']');
        return;
    }
    default:
        break;
    }
    /* MAP (hstore.handling.mode=map) has no cdc_value form yet. */
    cdc_buf_puts(b, "null");
}

/*
 * An unchanged TOAST value that the old tuple could not supply
 * (UnchangedToastedPlaceholder, CONTRACT.md 4.6): strings (text, json, xml,
 * hstore-as-json, ...) get the placeholder, BYTES its bytes (this includes
 * Decimal and Bits, whose Debezium placeholder is unverified), text-like
 * arrays [placeholder], int arrays the placeholder's byte values, uuid[]
 * the name-based UUID of the placeholder.  Anything else (a numeric without
 * typmod, arrays of other types) is written as null: a string there would
 * not fit the field's schema.
 */
static void
put_unavailable(cdc_buf *b, const cdc_ctype *ct, const sch_json_opts *o)
{
    const char *ph = o->unavailable_placeholder ? o->unavailable_placeholder
                                                : JSON_PLACEHOLDER_DEFAULT;
    size_t      n = strlen(ph);

    switch ((cdc_ctkind) ct->kind) {
    case CDC_CT_STRING:
        sch_json_put_string(b, ph, n);
        return;
    case CDC_CT_BYTES:
        sch_json_put_base64(b, ph, n);
        return;
    case CDC_CT_ARRAY:
        if (ct->elem_kind == CDC_CT_STRING) {
            cdc_buf_putc(b, '[');
            if (ct->elem_sem == CDC_SEM_UUID && strcmp(ph, JSON_PLACEHOLDER_DEFAULT) == 0)
                cdc_buf_puts(b, "\"" JSON_PLACEHOLDER_UUID "\"");
            else
                sch_json_put_string(b, ph, n);
            cdc_buf_putc(b, ']');
            return;
        }
        if (ct->elem_kind == CDC_CT_INT16 || ct->elem_kind == CDC_CT_INT32 ||
            ct->elem_kind == CDC_CT_INT64) {
            cdc_buf_putc(b, '[');
            for (size_t i = 0; i < n; i++) {
                if (i > 0)
                    cdc_buf_putc(b, ',');
                cdc_buf_put_i64(b, (signed char) ph[i]);    /* Java bytes are signed */
            }
            cdc_buf_putc(b, ']');
            return;
        }
        break;
    default:
        break;
    }
    cdc_buf_puts(b, "null");
}

/*
 * The value Debezium puts into a required field that has no value and no
 * default (a NOT NULL column missing from a key-only old tuple):
 * JdbcValueConverters' per-type fallback.  Only the common shapes are
 * reproduced; the rest is null.
 */
static void
put_fallback(cdc_buf *b, const cdc_ctype *ct)
{
    static const uint8_t zero = 0;

    switch ((cdc_ctkind) ct->kind) {
    case CDC_CT_BOOLEAN:
        cdc_buf_puts(b, "false");
        return;
    case CDC_CT_INT8:
    case CDC_CT_INT16:
    case CDC_CT_INT32:
    case CDC_CT_INT64:
        cdc_buf_putc(b, '0');
        return;
    case CDC_CT_FLOAT32:
    case CDC_CT_FLOAT64:
        cdc_buf_puts(b, "0.0");
        return;
    case CDC_CT_STRING:
        if (ct->sem == CDC_SEM_ZONED_TIMESTAMP) {
            cdc_buf_puts(b, "\"1970-01-01T00:00:00");
            if (ct->length > 0) {
                cdc_buf_putc(b, '.');
                for (int i = 0; i < ct->length && i < 9; i++)
                    cdc_buf_putc(b, '0');
            }
            cdc_buf_puts(b, "Z\"");
        } else if (ct->sem == CDC_SEM_ZONED_TIME) {
            cdc_buf_puts(b, "\"00:00:00Z\"");
        } else {
            cdc_buf_puts(b, "\"\"");
        }
        return;
    case CDC_CT_BYTES:
        sch_json_put_base64(b, &zero, ct->sem == CDC_SEM_DECIMAL ? 1 : 0);
        return;
    case CDC_CT_ARRAY:
        cdc_buf_puts(b, "[]");
        return;
    default:
        cdc_buf_puts(b, "null");
        return;
    }
}

static void
put_col_value(cdc_buf *b, const cdc_col *col, const cdc_value *v, const sch_json_opts *o)
{
    switch ((cdc_vstate) v->state) {
    case CDC_VAL_PRESENT:
        sch_json_put_present(b, &col->ctype, v, o);
        return;
    case CDC_VAL_UNCHANGED:
        put_unavailable(b, &col->ctype, o);
        return;
    case CDC_VAL_NULL:
    default:
        break;
    }
    /* A required field holds its default (or fallback) already in
       Debezium's Struct, whatever the converter's replace option says. */
    if (col->has_default && (o->replace_null_with_default || col->not_null))
        sch_json_put_present(b, &col->ctype, &col->def, o);
    else if (col->not_null)
        put_fallback(b, &col->ctype);
    else
        cdc_buf_puts(b, "null");
}

/* The {topic}.Value struct: every supported column, in ordinal order. */
static void
put_row(cdc_buf *b, const cdc_rel *rel, const cdc_value *vals, const sch_json_opts *o,
        bool streamed)
{
    bool first = true, xesc = names_xesc(rel);

    if (vals == NULL) {
        cdc_buf_puts(b, "null");
        return;
    }
    cdc_buf_putc(b, '{');
    for (int i = 0; i < rel->ncols; i++) {
        const cdc_col *col = &rel->cols[i];

        if (!col->ctype.supported)
            continue;
        if (!first)
            cdc_buf_putc(b, ',');
        first = false;
        put_name(b, col->name, xesc, o);
        /*
         * Debezium 2.7 writes null for every streamed `name` column (its pgoutput
         * value resolver has no case for the type); its snapshot has the text.
         * Seen in test/integration/250_debezium_reference.sh.
         */
        if (streamed && (col->catalog_known ? col->base_oid : col->type_oid) == 19)
            cdc_buf_puts(b, "null");
        else
            put_col_value(b, col, &vals[i], o);
    }
    cdc_buf_putc(b, '}');
}

/* ------------------------------------------------------------------ */
/* Key                                                                 */
/* ------------------------------------------------------------------ */

static const char *
json_topic(const cdc_rel *rel, const sch_json_opts *o, char *tmp, size_t n)
{
    if (rel->topic)
        return rel->topic;
    return sch_topic_name(o->server_name, rel->nspname, rel->relname, tmp, n);
}

/* Key columns in key_pos order; a relation has few, so a scan per position
   costs less than sorting. */
static void
put_key_payload(cdc_buf *b, const cdc_rel *rel, const cdc_value *vals, const sch_json_opts *o)
{
    bool first = true, xesc = names_xesc(rel);

    cdc_buf_putc(b, '{');
    for (int k = 1; k <= rel->nkeys; k++) {
        for (int i = 0; i < rel->ncols; i++) {
            const cdc_col *col = &rel->cols[i];

            if (col->key_pos != k || !col->ctype.supported)
                continue;
            if (!first)
                cdc_buf_putc(b, ',');
            first = false;
            put_name(b, col->name, xesc, o);
            put_col_value(b, col, &vals[i], o);
            break;
        }
    }
    cdc_buf_putc(b, '}');
}

static void
put_message_key(cdc_buf *b, const cdc_event *ev, const sch_json_opts *o)
{
    if (o->schemas_enable) {
        cdc_buf_puts(b, "{\"schema\":");
        sch_json_schema_message_key(b);
        cdc_buf_puts(b, ",\"payload\":");
    }
    cdc_buf_puts(b, "{\"prefix\":");
    if (ev->msg_prefix)
        put_cstr(b, ev->msg_prefix);
    else
        cdc_buf_puts(b, "null");
    cdc_buf_putc(b, '}');
    if (o->schemas_enable)
        cdc_buf_putc(b, '}');
}

void
sch_json_key_schema(cdc_buf *b, const cdc_rel *rel, const sch_json_opts *o)
{
    char tmp[256];

    sch_json_schema_key(b, rel, json_topic(rel, o, tmp, sizeof(tmp)), o);
}

void
sch_json_value_schema(cdc_buf *b, const cdc_rel *rel, const sch_json_opts *o)
{
    char tmp[256];

    sch_json_schema_envelope(b, rel, json_topic(rel, o, tmp, sizeof(tmp)), o);
}

void
sch_json_key(cdc_buf *b, const cdc_event *ev, const sch_json_opts *o)
{
    const cdc_rel   *rel = ev->rel;
    const cdc_value *vals;
    char             tmp[256];

    if (ev->op == CDC_OP_MESSAGE) {
        put_message_key(b, ev, o);
        return;
    }
    vals = ev->key ? ev->key : ev->after ? ev->after : ev->before;
    /* A null key (and null key schema) is a null record key for
       JsonConverter, with or without schemas. */
    if (ev->op == CDC_OP_TRUNCATE || rel == NULL || rel->nkeys == 0 || vals == NULL) {
        cdc_buf_puts(b, "null");
        return;
    }
    if (o->schemas_enable) {
        cdc_buf_puts(b, "{\"schema\":");
        sch_json_schema_key(b, rel, json_topic(rel, o, tmp, sizeof(tmp)), o);
        cdc_buf_puts(b, ",\"payload\":");
    }
    put_key_payload(b, rel, vals, o);
    if (o->schemas_enable)
        cdc_buf_putc(b, '}');
}

/* ------------------------------------------------------------------ */
/* Value                                                               */
/* ------------------------------------------------------------------ */

/* Appends v in decimal to a char array; returns the new end. */
static char *
fmt_u64(char *p, uint64_t v)
{
    char  tmp[24];
    char *t = tmp + sizeof(tmp);

    do {
        *--t = (char) ('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(p, t, (size_t) (tmp + sizeof(tmp) - t));
    return p + (tmp + sizeof(tmp) - t);
}

/*
 * source.sequence: the JSON text ["<lastCommitLsn>","<lsn>"] (compact
 * Jackson output of a String[]), itself written as a JSON string.  A zero
 * LSN is unknown and becomes null; snapshot rows have no previous commit.
 */
static void
put_sequence(cdc_buf *b, const cdc_event *ev)
{
    char     seq[64], *p = seq;
    uint64_t prev = (ev->txn && ev->snapshot == NULL) ? ev->txn->prev_commit_lsn : 0;
    uint64_t lsns[2] = { prev, ev->lsn };

    *p++ = '[';
    for (int i = 0; i < 2; i++) {
        if (i > 0)
            *p++ = ',';
        if (lsns[i] == 0) {
            memcpy(p, "null", 4);
            p += 4;
        } else {
            *p++ = '"';
            p = fmt_u64(p, lsns[i]);
            *p++ = '"';
        }
    }
    *p++ = ']';
    sch_json_put_string(b, seq, (size_t) (p - seq));
}

static void
put_source(cdc_buf *b, const cdc_event *ev, const sch_json_opts *o, const char *schema,
           const char *table)
{
    /* Incremental snapshot rows carry no txId, lsn or xmin (CONTRACT 2.3). */
    bool incremental = ev->snapshot && strcmp(ev->snapshot, "incremental") == 0;

    cdc_buf_puts(b, "{\"version\":");
    put_cstr(b, o->version);
    cdc_buf_puts(b, ",\"connector\":\"postgresql\",\"name\":");
    put_cstr(b, o->server_name);
    cdc_buf_puts(b, ",\"ts_ms\":");
    cdc_buf_put_i64(b, us_to_ms(ev->source_ts_us));
    cdc_buf_puts(b, ",\"snapshot\":");
    put_cstr(b, ev->snapshot ? ev->snapshot : "false");
    cdc_buf_puts(b, ",\"db\":");
    put_cstr(b, o->database);
    cdc_buf_puts(b, ",\"sequence\":");
    put_sequence(b, ev);
    cdc_buf_puts(b, ",\"ts_us\":");
    cdc_buf_put_i64(b, ev->source_ts_us);
    cdc_buf_puts(b, ",\"ts_ns\":");
    put_ts_ns(b, ev->source_ts_us);
    cdc_buf_puts(b, ",\"schema\":");
    put_cstr(b, schema);
    cdc_buf_puts(b, ",\"table\":");
    put_cstr(b, table);
    cdc_buf_puts(b, ",\"txId\":");
    if (ev->txn && !incremental && !(ev->op == CDC_OP_MESSAGE && !ev->msg_transactional))
        cdc_buf_put_u64(b, ev->txn->xid);
    else
        cdc_buf_puts(b, "null");
    cdc_buf_puts(b, ",\"lsn\":");
    if (ev->lsn && !incremental)
        cdc_buf_put_u64(b, ev->lsn);
    else
        cdc_buf_puts(b, "null");
    cdc_buf_puts(b, ",\"xmin\":null}");
}

/*
 * MessageValue: op, ts_ms, source, message.  CONTRACT.md 2.6 lists a
 * transaction block too; Debezium 2.7.4's records have none.
 */
static void
put_message_value(cdc_buf *b, const cdc_event *ev, const sch_json_opts *o, int64_t now_us)
{
    if (o->schemas_enable) {
        cdc_buf_puts(b, "{\"schema\":");
        sch_json_schema_message_value(b);
        cdc_buf_puts(b, ",\"payload\":");
    }
    cdc_buf_puts(b, "{\"op\":\"m\",\"ts_ms\":");
    cdc_buf_put_i64(b, us_to_ms(now_us));
    cdc_buf_puts(b, ",\"source\":");
    put_source(b, ev, o, "", "");
    cdc_buf_puts(b, ",\"message\":{\"prefix\":");
    if (ev->msg_prefix)
        put_cstr(b, ev->msg_prefix);
    else
        cdc_buf_puts(b, "null");
    cdc_buf_puts(b, ",\"content\":");
    if (ev->msg_content || ev->msg_len == 0)
        sch_json_put_base64(b, ev->msg_content, ev->msg_len);
    else
        cdc_buf_puts(b, "null");
    cdc_buf_puts(b, "}}");
    if (o->schemas_enable)
        cdc_buf_putc(b, '}');
}

/* The envelope's "transaction" (struct event.block), or null. */
static void
put_tx_block(cdc_buf *b, const cdc_tx_block *t)
{
    if (t == NULL) {
        cdc_buf_puts(b, "null");
        return;
    }
    cdc_buf_puts(b, "{\"id\":");
    sch_json_put_string(b, t->id, strlen(t->id));
    cdc_buf_printf(b, ",\"total_order\":%" PRId64 ",\"data_collection_order\":%" PRId64 "}",
                   t->total_order, t->data_collection_order);
}

void
sch_json_value(cdc_buf *b, const cdc_event *ev, const sch_json_opts *o, int64_t now_us)
{
    const cdc_rel *rel = ev->rel;
    char           tmp[256];
    char           op[] = "\"c\"";

    if (ev->op == CDC_OP_MESSAGE) {
        put_message_value(b, ev, o, now_us);
        return;
    }
    if (ev->op == CDC_OP_TOMBSTONE || rel == NULL) {
        cdc_buf_puts(b, "null");
        return;
    }
    if (o->schemas_enable) {
        cdc_buf_puts(b, "{\"schema\":");
        sch_json_schema_envelope(b, rel, json_topic(rel, o, tmp, sizeof(tmp)), o);
        cdc_buf_puts(b, ",\"payload\":");
    }
    /* 2.7 order: before, after, source, transaction, op, ts_ms, ts_us, ts_ns */
    cdc_buf_puts(b, "{\"before\":");
    put_row(b, rel, ev->op == CDC_OP_TRUNCATE ? NULL : ev->before, o, ev->snapshot == NULL);
    cdc_buf_puts(b, ",\"after\":");
    put_row(b, rel, ev->op == CDC_OP_TRUNCATE ? NULL : ev->after, o, ev->snapshot == NULL);
    cdc_buf_puts(b, ",\"source\":");
    put_source(b, ev, o, rel->nspname, rel->relname);
    cdc_buf_puts(b, ",\"transaction\":");
    put_tx_block(b, ev->tx_block);
    cdc_buf_puts(b, ",\"op\":");
    op[1] = (char) ev->op;
    cdc_buf_puts(b, op);
    cdc_buf_putc(b, ',');
    put_timestamps(b, now_us);
    cdc_buf_putc(b, '}');
    if (o->schemas_enable)
        cdc_buf_putc(b, '}');
}
