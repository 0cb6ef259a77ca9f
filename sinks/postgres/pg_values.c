/* Column values back to PostgreSQL text (see pg_values.h for what is lossy). */
#include "sinks/postgres/pg_values.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_mem.h"

void
dest_pg_decimal_text(const uint8_t *p, size_t n, int32_t scale, cdc_buf *out)
{
    uint8_t  *mag = cdc_xmalloc(n + 1);
    char     *digits = cdc_xmalloc(n * 3 + 2);
    size_t    nd = 0, len = n;
    bool      neg = n > 0 && (p[0] & 0x80);
    unsigned  carry = 1;

    /* magnitude: the bytes, or their two's complement when negative */
    for (size_t i = n; i > 0; i--) {
        unsigned b = neg ? (unsigned) (uint8_t) ~p[i - 1] + carry : p[i - 1];

        if (neg)
            carry = b >> 8;
        mag[i - 1] = (uint8_t) b;
    }
    /* repeated division by 10 of the base-256 number, least digit first */
    for (;;) {
        unsigned rem = 0;
        bool     zero = true;

        for (size_t i = 0; i < len; i++) {
            unsigned cur = rem * 256 + mag[i];

            mag[i] = (uint8_t) (cur / 10);
            rem = cur % 10;
            zero = zero && mag[i] == 0;
        }
        digits[nd++] = (char) ('0' + rem);
        if (zero)
            break;
    }
    while ((int32_t) nd <= scale)
        digits[nd++] = '0';
    if (neg)
        cdc_buf_putc(out, '-');
    for (size_t i = nd; i > 0; i--) {
        if (scale > 0 && i == (size_t) scale)
            cdc_buf_putc(out, '.');
        cdc_buf_putc(out, digits[i - 1]);
    }
    if (scale < 0)
        for (int32_t i = 0; i < -scale; i++)
            cdc_buf_putc(out, '0');
    free(mag);
    free(digits);
}

/* Howard Hinnant's civil_from_days. */
static void
civil(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t  era;
    unsigned doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned) (z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t) yoe + era * 400 + (*m <= 2);
}

void
dest_pg_date_text(int64_t days, cdc_buf *out)
{
    int64_t  y;
    unsigned m, d;

    civil(days, &y, &m, &d);
    if (y <= 0)
        cdc_buf_printf(out, "%04" PRId64 "-%02u-%02u BC", 1 - y, m, d);
    else
        cdc_buf_printf(out, "%04" PRId64 "-%02u-%02u", y, m, d);
}

static int64_t
floordiv(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Time of day from a count of units (per_sec per second). */
static void
time_text(int64_t v, int64_t per_sec, cdc_buf *out)
{
    int64_t secs = floordiv(v, per_sec), frac = v - secs * per_sec;
    int64_t us = per_sec >= 1000000 ? frac / (per_sec / 1000000) : frac * (1000000 / per_sec);

    cdc_buf_printf(out, "%02d:%02d:%02d.%06d", (int) (secs / 3600), (int) (secs / 60 % 60),
                   (int) (secs % 60), (int) us);
}

static void
timestamp_text(int64_t v, int64_t per_sec, cdc_buf *out)
{
    int64_t secs = floordiv(v, per_sec), days = floordiv(secs, 86400);
    int64_t us_total = (v - secs * per_sec);
    int64_t us = per_sec >= 1000000 ? us_total / (per_sec / 1000000)
                                    : us_total * (1000000 / per_sec);
    int64_t sod = secs - days * 86400;
    int64_t y;
    unsigned m, d;

    civil(days, &y, &m, &d);
    cdc_buf_printf(out, "%04" PRId64 "-%02u-%02u %02d:%02d:%02d.%06d%s", y <= 0 ? 1 - y : y, m, d,
                   (int) (sod / 3600), (int) (sod / 60 % 60), (int) (sod % 60), (int) us,
                   y <= 0 ? " BC" : "");
}

static void
float_text(double f, bool single, cdc_buf *out)
{
    if (isnan(f))
        cdc_buf_puts(out, "NaN");
    else if (isinf(f))
        cdc_buf_puts(out, f > 0 ? "Infinity" : "-Infinity");
    else
        cdc_buf_printf(out, single ? "%.9g" : "%.17g", f);
}

/* io.debezium.data.Bits: little-endian bit set; width 0 = as few bits as it takes. */
static void
bits_text(const uint8_t *p, size_t n, int32_t width, cdc_buf *out)
{
    int32_t top = (int32_t) n * 8;

    if (width <= 0) {
        while (top > 1 && !(p[(top - 1) / 8] & (1u << ((top - 1) % 8))))
            top--;
        width = top;
    }
    for (int32_t i = width; i > 0; i--) {
        int32_t bit = i - 1;

        cdc_buf_putc(out, bit < top && (p[bit / 8] & (1u << (bit % 8))) ? '1' : '0');
    }
}

static bool
starts(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static int
scalar_text(const cdc_col *col, uint8_t kind, uint8_t sem, const cdc_ctype *ct,
            const cdc_value *v, cdc_buf *out)
{
    static const char hex[] = "0123456789abcdef";

    switch (kind) {
    case CDC_CT_BOOLEAN:
        if (starts(col->type_name, "bit"))
            cdc_buf_putc(out, v->u.b ? '1' : '0');
        else
            cdc_buf_puts(out, v->u.b ? "true" : "false");
        return 0;
    case CDC_CT_INT8: case CDC_CT_INT16: case CDC_CT_INT32: case CDC_CT_INT64:
        switch (sem) {
        case CDC_SEM_DATE: case CDC_SEM_CONNECT_DATE: dest_pg_date_text(v->u.i, out); return 0;
        case CDC_SEM_TIME: case CDC_SEM_CONNECT_TIME: time_text(v->u.i, 1000, out); return 0;
        case CDC_SEM_MICRO_TIME: time_text(v->u.i, 1000000, out); return 0;
        case CDC_SEM_NANO_TIME: time_text(v->u.i, 1000000000, out); return 0;
        case CDC_SEM_TIMESTAMP: case CDC_SEM_CONNECT_TIMESTAMP:
            timestamp_text(v->u.i, 1000, out);
            return 0;
        case CDC_SEM_MICRO_TIMESTAMP: timestamp_text(v->u.i, 1000000, out); return 0;
        case CDC_SEM_NANO_TIMESTAMP: timestamp_text(v->u.i, 1000000000, out); return 0;
        case CDC_SEM_MICRO_DURATION:
            cdc_buf_printf(out, "%" PRId64 " microseconds", v->u.i);
            return 0;
        default:
            cdc_buf_put_i64(out, v->u.i);
            return 0;
        }
    case CDC_CT_FLOAT32: float_text(v->u.f, true, out); return 0;
    case CDC_CT_FLOAT64: float_text(v->u.f, false, out); return 0;
    case CDC_CT_STRING: cdc_buf_put(out, v->u.s.p, v->u.s.n); return 0;
    case CDC_CT_BYTES:
        if (sem == CDC_SEM_DECIMAL) {
            dest_pg_decimal_text((const uint8_t *) v->u.s.p, v->u.s.n, ct->scale, out);
        } else if (sem == CDC_SEM_BITS) {
            bool fixed = starts(col->type_name, "bit(") || (col->type_name &&
                                                            !strcmp(col->type_name, "bit"));

            bits_text((const uint8_t *) v->u.s.p, v->u.s.n, fixed ? ct->length : 0, out);
        } else {
            cdc_buf_puts(out, "\\x");
            for (size_t i = 0; i < v->u.s.n; i++) {
                cdc_buf_putc(out, hex[(uint8_t) v->u.s.p[i] >> 4]);
                cdc_buf_putc(out, hex[(uint8_t) v->u.s.p[i] & 15]);
            }
        }
        return 0;
    case CDC_CT_STRUCT:
        if (sem == CDC_SEM_VARIABLE_DECIMAL) {
            dest_pg_decimal_text((const uint8_t *) v->u.s.p, v->u.s.n, v->u.s.scale, out);
            return 0;
        }
        if (sem == CDC_SEM_POINT) {
            cdc_buf_putc(out, '(');
            float_text(v->u.pt.x, false, out);
            cdc_buf_putc(out, ',');
            float_text(v->u.pt.y, false, out);
            cdc_buf_putc(out, ')');
            return 0;
        }
        return -1;
    default:
        return -1;
    }
}

int
dest_pg_value_text(const cdc_col *col, const cdc_value *v, cdc_buf *out)
{
    const cdc_ctype *ct = &col->ctype;

    if (!ct->supported || v->state != CDC_VAL_PRESENT)
        return -1;
    if (ct->kind != CDC_CT_ARRAY)
        return scalar_text(col, ct->kind, ct->sem, ct, v, out);
    /* An array literal: every element double-quoted, backslash and quote escaped. */
    cdc_buf_putc(out, '{');
    for (size_t i = 0; i < v->u.arr.n; i++) {
        const cdc_value *it = &v->u.arr.items[i];
        cdc_buf          tmp = CDC_BUF_INIT;
        cdc_col          ecol = { .type_name = NULL };

        if (i > 0)
            cdc_buf_putc(out, ',');
        if (it->state != CDC_VAL_PRESENT) {
            cdc_buf_puts(out, "NULL");
            continue;
        }
        if (scalar_text(&ecol, ct->elem_kind, ct->elem_sem, ct, it, &tmp) < 0) {
            cdc_buf_free(&tmp);
            return -1;
        }
        cdc_buf_putc(out, '"');
        for (size_t k = 0; k < tmp.len; k++) {
            if (tmp.data[k] == '"' || tmp.data[k] == '\\')
                cdc_buf_putc(out, '\\');
            cdc_buf_putc(out, (char) tmp.data[k]);
        }
        cdc_buf_putc(out, '"');
        cdc_buf_free(&tmp);
    }
    cdc_buf_putc(out, '}');
    return 0;
}
