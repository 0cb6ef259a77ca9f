/*
 * One value as Kafka Connect's JsonConverter writes it, appended straight
 * into a cdc_buf: strings (and column names), base64 bytes, Java's numbers,
 * and a column's present value of any type.  json.c (payloads),
 * json_schema.c (schema nodes, defaults) and avro_schema.c (defaults) all
 * write their values here; this file calls none of them.  The rules copied
 * (Jackson's escapes and number layout) are listed at the top of json.c.
 */
#include "schemas/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_utf8.h"
#include "schemas/debezium.h"
#include "schemas/json_int.h"

/* ------------------------------------------------------------------ */
/* Strings                                                             */
/* ------------------------------------------------------------------ */

/*
 * esc_non_bmp: characters outside the BMP as escaped surrogates
 * (JsonConverter's bytes), else raw (Avro schema text, Connect's
 * SimpleHeaderConverter).  name: a column name, whose ill-formed bytes are
 * written as the text \xNN (upper-case hex) instead of U+FFFD, so two names
 * of a SQL_ASCII table that differ only there stay two JSON keys; with
 * NAME_XESC (a name of a table where some name is not UTF-8, sch_json_names_xesc())
 * a backslash is written \x5C as well, so that every backslash of such a
 * table's names starts a \xNN and no name can be written as another is
 * (a column literally named caf\xE9 becomes caf\x5CxE9).
 */
enum { NAME_NO, NAME_YES, NAME_XESC };

/* The bytes written as they are: printable ASCII but '"' and '\\'. */
#define PLAIN8(c) ((c) >= 0x20 && (c) < 0x80 && (c) != '"' && (c) != '\\')
#define PLAIN16(c) PLAIN8(c), PLAIN8(c + 1), PLAIN8(c + 2), PLAIN8(c + 3), PLAIN8(c + 4), \
    PLAIN8(c + 5), PLAIN8(c + 6), PLAIN8(c + 7), PLAIN8(c + 8), PLAIN8(c + 9), PLAIN8(c + 10), \
    PLAIN8(c + 11), PLAIN8(c + 12), PLAIN8(c + 13), PLAIN8(c + 14), PLAIN8(c + 15)
static const bool plain[256] = {
    PLAIN16(0x00), PLAIN16(0x10), PLAIN16(0x20), PLAIN16(0x30), PLAIN16(0x40), PLAIN16(0x50),
    PLAIN16(0x60), PLAIN16(0x70), PLAIN16(0x80), PLAIN16(0x90), PLAIN16(0xA0), PLAIN16(0xB0),
    PLAIN16(0xC0), PLAIN16(0xD0), PLAIN16(0xE0), PLAIN16(0xF0),
};
#undef PLAIN16
#undef PLAIN8

/*
 * How many bytes from p on are plain[]: eight at a time while none of the
 * eight is below 0x20, at or above 0x80, '"' or '\\' (the usual word-at-a-time
 * tests, exact for the word as a whole), then one table look-up each.
 */
static inline size_t
plain_run(const unsigned char *p, size_t n)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = ones * 0x80;
    size_t         i = 0;

    for (; i + 8 <= n; i += 8) {
        uint64_t x, bad;

        memcpy(&x, p + i, 8);
        bad = ((x - ones * 0x20) & ~x) |                                /* < 0x20 */
              x |                                                       /* >= 0x80 */
              (((x ^ (ones * '"')) - ones) & ~(x ^ (ones * '"'))) |     /* '"' */
              (((x ^ (ones * '\\')) - ones) & ~(x ^ (ones * '\\')));   /* '\\' */
        if (bad & highs)
            break;
    }
    while (i < n && plain[p[i]])
        i++;
    return i;
}

static void
put_string(cdc_buf *b, const char *s, size_t n, bool esc_non_bmp, int name)
{
    static const char          hex[] = "0123456789ABCDEF";
    const unsigned char       *p = (const unsigned char *) s, *end = p + n, *run = p;
    size_t                     len, bad, head = plain_run(p, n);
    char                       esc[6];

    if (head == n && cdc_buf_room(b, n + 2)) {      /* the usual string: one copy */
        uint8_t *d = b->data + b->len;

        d[0] = '"';
        memcpy(d + 1, s, n);
        d[n + 1] = '"';
        b->len += n + 2;
        d[n + 2] = '\0';
        return;
    }
    cdc_buf_putc(b, '"');
    p += head;
    while (p < end) {
        unsigned char c;

        p += plain_run(p, (size_t) (end - p));   /* the usual bytes */
        if (p == end)
            break;
        c = *p;
        if (c >= 0x80) {
            len = cdc_utf8_seq(p, end, &bad);
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

bool
sch_json_names_xesc(const cdc_rel *rel)
{
    if (rel != NULL && rel->names_utf8 != 0)    /* known since the relation cache made it */
        return rel->names_utf8 == 2;
    for (int i = 0; rel != NULL && i < rel->ncols; i++) {
        const char *name = rel->cols[i].name;

        if (name != NULL && !cdc_utf8_valid(name, strlen(name)))
            return true;
    }
    return false;
}

void
sch_json_put_field_name(cdc_buf *b, const cdc_rel *rel, const char *name)
{
    put_string(b, name ? name : "", name ? strlen(name) : 0, true,
               sch_json_names_xesc(rel) ? NAME_XESC : NAME_YES);
}

/* A string value or name as o asks: raw non-BMP for SimpleHeaderConverter's text. */
static void
put_str_o(cdc_buf *b, const char *s, size_t n, int name, const sch_json_opts *o)
{
    put_string(b, s, n, !(o != NULL && o->raw_non_bmp), name);
}

void
sch_json_put_name(cdc_buf *b, const char *name, bool xesc, const sch_json_opts *o)
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

void
sch_json_put_param_int(cdc_buf *b, const char *key, int64_t v)
{
    cdc_buf_putc(b, '"');
    cdc_buf_puts(b, key);
    cdc_buf_puts(b, "\":\"");
    cdc_buf_put_i64(b, v);
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

/* ------------------------------------------------------------------ */
/* Values                                                              */
/* ------------------------------------------------------------------ */

/* io.debezium.data.geometry.Point: x, y, wkb (21-byte little-endian WKB
   point, Point.buildWKBPoint), srid (null for the PostgreSQL point type). */
static void
put_point(cdc_buf *b, double x, double y)
{
    uint8_t wkb[21];

    sch_dbz_wkb_point(wkb, x, y);
    cdc_buf_puts(b, "{\"x\":");
    put_java_number(b, x, false);
    cdc_buf_puts(b, ",\"y\":");
    put_java_number(b, y, false);
    cdc_buf_puts(b, ",\"wkb\":");
    sch_json_put_base64(b, wkb, sizeof(wkb));
    cdc_buf_puts(b, ",\"srid\":null}");
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
        cdc_ctype e = cdc_ctype_elem(ct);

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
