/*
 * Iceberg values: their single-value binary form (bounds), the order of
 * bounds, truncated bounds, PostgreSQL text and the decoder's values read
 * into them; see ice_value.h.
 */
#include "sinks/iceberg/ice_value.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_mem.h"

#define US_PER_DAY  86400000000LL

/* ---- calendar (proleptic Gregorian, H. Hinnant's algorithms) ---- */

static int64_t
days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}

void
ice_civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;

    *d = (int) (doy - (153 * mp + 2) / 5 + 1);
    *m = (int) (mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int64_t
ice_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* ---- bounds ---- */

static void
put_le(cdc_buf *out, uint64_t v, int n)
{
    uint8_t b[8];

    for (int i = 0; i < n; i++)
        b[i] = (uint8_t) (v >> (8 * i));
    cdc_buf_put(out, b, (size_t) n);
}

/* The unscaled value as the fewest big-endian two's complement bytes. */
size_t
ice_decimal_bytes(ice_i128 d, uint8_t b[16])
{
    unsigned __int128 u = (unsigned __int128) d;
    size_t start = 0;

    for (int i = 15; i >= 0; i--) {
        b[i] = (uint8_t) u;
        u >>= 8;
    }
    while (start < 15 && ((b[start] == 0x00 && !(b[start + 1] & 0x80)) ||
                          (b[start] == 0xff && (b[start + 1] & 0x80))))
        start++;
    memmove(b, b + start, 16 - start);
    return 16 - start;
}

static uint8_t
prim_kind(const ice_type *t)
{
    return t->kind == ICE_LIST ? t->elem_kind : t->kind;
}

void
ice_value_bound(cdc_buf *out, const ice_type *t, const ice_value *v)
{
    switch (prim_kind(t)) {
    case ICE_BOOLEAN: cdc_buf_put_u8(out, v->b ? 1 : 0); break;
    case ICE_INT:
    case ICE_DATE: put_le(out, (uint64_t) v->i, 4); break;
    case ICE_LONG:
    case ICE_TIME:
    case ICE_TIMESTAMP:
    case ICE_TIMESTAMPTZ: put_le(out, (uint64_t) v->i, 8); break;
    case ICE_FLOAT: {
        float f = (float) v->f;
        uint32_t bits;

        memcpy(&bits, &f, 4);
        put_le(out, bits, 4);
        break;
    }
    case ICE_DOUBLE: {
        uint64_t bits;

        memcpy(&bits, &v->f, 8);
        put_le(out, bits, 8);
        break;
    }
    case ICE_DECIMAL: {
        uint8_t b[16];
        size_t n = ice_decimal_bytes(v->d, b);

        cdc_buf_put(out, b, n);
        break;
    }
    default: cdc_buf_put(out, v->p, v->n); break;   /* string, binary, fixed, uuid */
    }
}

static uint64_t
get_le(const uint8_t *b, int n)
{
    uint64_t v = 0;

    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | b[i];
    return v;
}

int
ice_value_from_bound(const ice_type *t, const uint8_t *b, size_t n, ice_value *v, cdc_err *err)
{
    char tb[64];
    size_t want = 0;

    memset(v, 0, sizeof(*v));
    switch (prim_kind(t)) {
    case ICE_BOOLEAN: want = 1; break;
    case ICE_INT: case ICE_DATE: case ICE_FLOAT: want = 4; break;
    case ICE_LONG: case ICE_TIME: case ICE_TIMESTAMP: case ICE_TIMESTAMPTZ: case ICE_DOUBLE:
        want = 8; break;
    case ICE_UUID: want = 16; break;
    case ICE_DECIMAL:
        if (n < 1 || n > 16)
            return cdc_err_set(err, CDC_E_DEST, "decimal bound of %zu bytes", n);
        break;
    default: break;
    }
    if (want && n != want)
        return cdc_err_set(err, CDC_E_DEST, "%s bound of %zu bytes (want %zu)",
                           ice_type_str(t, tb, sizeof(tb)), n, want);
    switch (prim_kind(t)) {
    case ICE_BOOLEAN: v->b = b[0] != 0; break;
    case ICE_INT: case ICE_DATE: v->i = (int32_t) (uint32_t) get_le(b, 4); break;
    case ICE_LONG: case ICE_TIME: case ICE_TIMESTAMP: case ICE_TIMESTAMPTZ:
        v->i = (int64_t) get_le(b, 8); break;
    case ICE_FLOAT: {
        uint32_t bits = (uint32_t) get_le(b, 4);
        float f;

        memcpy(&f, &bits, 4);
        v->f = f;
        break;
    }
    case ICE_DOUBLE: {
        uint64_t bits = get_le(b, 8);

        memcpy(&v->f, &bits, 8);
        break;
    }
    case ICE_DECIMAL: {
        unsigned __int128 u = (b[0] & 0x80) ? ~(unsigned __int128) 0 : 0;

        for (size_t i = 0; i < n; i++)
            u = (u << 8) | b[i];
        v->d = (ice_i128) u;
        break;
    }
    default: v->p = b; v->n = n; break;
    }
    return 0;
}

int
ice_value_cmp(const ice_type *t, const ice_value *a, const ice_value *b)
{
    switch (prim_kind(t)) {
    case ICE_BOOLEAN: return (int) a->b - (int) b->b;
    case ICE_FLOAT:
    case ICE_DOUBLE: {
        bool an = isnan(a->f), bn = isnan(b->f);

        if (an || bn)
            return (int) an - (int) bn;
        if (a->f == b->f)
            return (int) (signbit(b->f) != 0) - (int) (signbit(a->f) != 0);
        return a->f < b->f ? -1 : 1;
    }
    case ICE_DECIMAL: return a->d < b->d ? -1 : a->d > b->d;
    case ICE_INT: case ICE_LONG: case ICE_DATE: case ICE_TIME: case ICE_TIMESTAMP:
    case ICE_TIMESTAMPTZ:
        return a->i < b->i ? -1 : a->i > b->i;
    default: {
        size_t n = a->n < b->n ? a->n : b->n;
        int c = n ? memcmp(a->p, b->p, n) : 0;

        if (c)
            return c < 0 ? -1 : 1;
        return a->n < b->n ? -1 : a->n > b->n;
    }
    }
}

/* ---- truncated bounds ---- */

/* Byte length of the first len code points of a UTF-8 string. */
static size_t
utf8_prefix(const uint8_t *p, size_t n, int len)
{
    size_t i = 0;
    int cps = 0;

    while (i < n && cps < len) {
        i++;
        while (i < n && (p[i] & 0xc0) == 0x80)
            i++;
        cps++;
    }
    return i;
}

void
ice_bound_lower_trunc(const ice_type *t, const ice_value *v, int len, ice_value *out)
{
    *out = *v;
    if (t->kind == ICE_STRING)
        out->n = utf8_prefix(v->p, v->n, len);
    else if (t->kind == ICE_BINARY && out->n > (size_t) len)
        out->n = (size_t) len;
}

static size_t
utf8_put(uint8_t *b, uint32_t cp)
{
    if (cp < 0x80) {
        b[0] = (uint8_t) cp;
        return 1;
    }
    if (cp < 0x800) {
        b[0] = (uint8_t) (0xc0 | (cp >> 6));
        b[1] = (uint8_t) (0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        b[0] = (uint8_t) (0xe0 | (cp >> 12));
        b[1] = (uint8_t) (0x80 | ((cp >> 6) & 0x3f));
        b[2] = (uint8_t) (0x80 | (cp & 0x3f));
        return 3;
    }
    b[0] = (uint8_t) (0xf0 | (cp >> 18));
    b[1] = (uint8_t) (0x80 | ((cp >> 12) & 0x3f));
    b[2] = (uint8_t) (0x80 | ((cp >> 6) & 0x3f));
    b[3] = (uint8_t) (0x80 | (cp & 0x3f));
    return 4;
}

bool
ice_bound_upper_trunc(const ice_type *t, const ice_value *v, int len, uint8_t *buf,
                      size_t bufsize, ice_value *out)
{
    *out = *v;
    if (t->kind == ICE_BINARY) {
        size_t n = v->n;

        if (n <= (size_t) len)
            return true;
        if ((size_t) len > bufsize)
            return false;
        memcpy(buf, v->p, (size_t) len);
        for (n = (size_t) len; n > 0; n--)
            if (buf[n - 1] != 0xff) {
                buf[n - 1]++;
                out->p = buf;
                out->n = n;
                return true;
            }
        return false;
    }
    if (t->kind != ICE_STRING)
        return true;
    size_t cut = utf8_prefix(v->p, v->n, len);

    if (cut == v->n)
        return true;
    if (cut + 4 > bufsize)
        return false;
    /* walk back over the prefix's code points until one can be incremented */
    for (size_t end = cut; end > 0;) {
        size_t at = end - 1;
        uint32_t cp;
        uint8_t c0;

        while (at > 0 && (v->p[at] & 0xc0) == 0x80)
            at--;
        c0 = v->p[at];
        if (c0 < 0x80)
            cp = c0;
        else if (c0 < 0xe0)
            cp = c0 & 0x1f;
        else if (c0 < 0xf0)
            cp = c0 & 0x0f;
        else
            cp = c0 & 0x07;
        for (size_t i = at + 1; i < end; i++)
            cp = (cp << 6) | (v->p[i] & 0x3f);
        cp++;
        if (cp >= 0xd800 && cp <= 0xdfff)
            cp = 0xe000;
        if (cp <= 0x10ffff) {
            memcpy(buf, v->p, at);
            out->p = buf;
            out->n = at + utf8_put(buf + at, cp);
            return true;
        }
        end = at;
    }
    return false;
}

/* ---- text ---- */

static int
digits(const char **s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char) (*s)[i]))
            return -1;
        v = v * 10 + ((*s)[i] - '0');
    }
    *s += n;
    *out = v;
    return 0;
}

static int
parse_date(const char **s, int64_t *days)
{
    const char *p = *s;
    bool neg = false;
    int64_t y = 0;
    int m, d, nd = 0;

    if (*p == '-') {
        neg = true;
        p++;
    }
    while (isdigit((unsigned char) *p) && nd < 9) {
        y = y * 10 + (*p++ - '0');
        nd++;
    }
    if (nd < 4 || *p++ != '-' || digits(&p, 2, &m) != 0 || *p++ != '-' || digits(&p, 2, &d) != 0 ||
        m < 1 || m > 12 || d < 1 || d > 31)
        return -1;
    *days = days_from_civil(neg ? -y : y, m, d);
    *s = p;
    return 0;
}

static int
parse_time(const char **s, int64_t *us)
{
    const char *p = *s;
    int h, mi, se, frac = 0, nf = 0;

    if (digits(&p, 2, &h) != 0 || *p++ != ':' || digits(&p, 2, &mi) != 0 || *p++ != ':' ||
        digits(&p, 2, &se) != 0 || h > 24 || mi > 59 || se > 60)
        return -1;
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char) *p)) {
            if (nf < 6) {
                frac = frac * 10 + (*p - '0');
                nf++;
            }
            p++;
        }
    }
    for (; nf < 6; nf++)
        frac *= 10;
    *us = ((int64_t) h * 3600 + mi * 60 + se) * 1000000LL + frac;
    *s = p;
    return 0;
}

static int
hexv(char c)
{
    return isdigit((unsigned char) c) ? c - '0' : (tolower((unsigned char) c) >= 'a' &&
                                                   tolower((unsigned char) c) <= 'f')
                                                      ? tolower((unsigned char) c) - 'a' + 10
                                                      : -1;
}

int
ice_value_parse(const ice_type *t, const char *s, uint8_t scratch[16], ice_value *v,
                cdc_err *err)
{
    char tb[64];
    const char *p = s;
    char *end;

    memset(v, 0, sizeof(*v));
    errno = 0;
    switch (prim_kind(t)) {
    case ICE_BOOLEAN:
        if (strcmp(s, "t") == 0 || strcmp(s, "true") == 0)
            v->b = true;
        else if (strcmp(s, "f") != 0 && strcmp(s, "false") != 0)
            goto bad;
        return 0;
    case ICE_INT:
    case ICE_LONG: {
        long long x = strtoll(s, &end, 10);

        if (end == s || *end || errno ||
            (prim_kind(t) == ICE_INT && (x < INT32_MIN || x > INT32_MAX)))
            goto bad;
        v->i = x;
        return 0;
    }
    case ICE_FLOAT:
    case ICE_DOUBLE:
        v->f = strtod(s, &end);
        if (end == s || *end)
            goto bad;
        return 0;
    case ICE_DECIMAL: {
        bool neg = false, point = false;
        int nint = 0, nfrac = 0;
        ice_i128 d = 0;

        if (*p == '-' || *p == '+')
            neg = *p++ == '-';
        for (; *p; p++) {
            if (*p == '.' && !point) {
                point = true;
                continue;
            }
            if (!isdigit((unsigned char) *p))
                goto bad;
            if (point && ++nfrac > t->scale)
                goto bad;
            if (!point && (nint > 0 || *p != '0'))
                nint++;
            d = d * 10 + (*p - '0');
        }
        if (p == s || nint > t->precision - t->scale)
            goto bad;
        for (; nfrac < t->scale; nfrac++)
            d *= 10;
        v->d = neg ? -d : d;
        return 0;
    }
    case ICE_DATE:
        if (parse_date(&p, &v->i) != 0 || *p)
            goto bad;
        return 0;
    case ICE_TIME:
        if (parse_time(&p, &v->i) != 0 || *p)
            goto bad;
        return 0;
    case ICE_TIMESTAMP:
    case ICE_TIMESTAMPTZ: {
        int64_t days, us;

        if (parse_date(&p, &days) != 0 || (*p != ' ' && *p != 'T') || (p++, parse_time(&p, &us)) != 0)
            goto bad;
        v->i = days * US_PER_DAY + us;
        if (prim_kind(t) == ICE_TIMESTAMPTZ && *p) {
            int oh = 0, om = 0, os = 0;
            int sign = 1;

            if (*p == 'Z') {
                p++;
            } else {
                if (*p != '+' && *p != '-')
                    goto bad;
                sign = *p++ == '-' ? -1 : 1;
                if (digits(&p, 2, &oh) != 0)
                    goto bad;
                if (*p == ':')
                    p++;
                if (*p && digits(&p, 2, &om) != 0)
                    goto bad;
                if (*p == ':')
                    p++;
                if (*p && digits(&p, 2, &os) != 0)
                    goto bad;
            }
            v->i -= sign * ((int64_t) oh * 3600 + om * 60 + os) * 1000000LL;
        }
        if (*p)
            goto bad;
        return 0;
    }
    case ICE_UUID: {
        int n = 0;

        for (; *p && n < 32; p++) {
            if (*p == '-')
                continue;
            int hi = hexv(*p);

            if (hi < 0)
                goto bad;
            if (n % 2 == 0)
                scratch[n / 2] = (uint8_t) (hi << 4);
            else
                scratch[n / 2] |= (uint8_t) hi;
            n++;
        }
        if (n != 32 || *p)
            goto bad;
        v->p = scratch;
        v->n = 16;
        return 0;
    }
    default:
        v->p = (const uint8_t *) s;
        v->n = strlen(s);
        return 0;
    }
bad:
    return cdc_err_set(err, CDC_E_DECODE, "\"%s\" is not a valid %s value", s,
                       ice_type_str(t, tb, sizeof(tb)));
}

/* ---- from the decoder's values ---- */

static ice_i128
pow10_i128(int k)
{
    ice_i128 p = 1;

    while (k-- > 0)
        p *= 10;
    return p;
}

static int
decimal_fits(const ice_type *t, ice_i128 d)
{
    ice_i128 lim = pow10_i128(t->precision);

    return d < lim && d > -lim;
}

void
ice_decimal_text(const uint8_t *b, size_t n, int32_t scale, cdc_buf *out)
{
    bool neg = n > 0 && (b[0] & 0x80);
    uint8_t *mag = cdc_xmalloc(n + 1);
    char *digits = cdc_xmalloc(n * 3 + 2);   /* 256^n < 10^(3n) */
    size_t nd = 0, len = n;

    /* the magnitude, big-endian */
    for (size_t i = 0; i < n; i++)
        mag[i] = neg ? (uint8_t) ~b[i] : b[i];
    if (neg)
        for (size_t i = n; i-- > 0;)
            if (++mag[i] != 0)
                break;
    /* digits, least significant first, by repeated division by 10 */
    size_t start = 0;
    while (start < len && mag[start] == 0)
        start++;
    while (start < len) {
        unsigned rem = 0;

        for (size_t i = start; i < len; i++) {
            unsigned cur = (rem << 8) | mag[i];

            mag[i] = (uint8_t) (cur / 10);
            rem = cur % 10;
        }
        digits[nd++] = (char) ('0' + rem);
        while (start < len && mag[start] == 0)
            start++;
    }
    if (nd == 0)
        digits[nd++] = '0';
    if (neg && !(nd == 1 && digits[0] == '0'))
        cdc_buf_putc(out, '-');
    if (scale <= 0) {
        for (size_t i = nd; i-- > 0;)
            cdc_buf_putc(out, digits[i]);
        if (!(nd == 1 && digits[0] == '0'))
            for (int32_t k = 0; k < -scale; k++)
                cdc_buf_putc(out, '0');
    } else {
        size_t sc = (size_t) scale;

        if (nd <= sc) {
            cdc_buf_puts(out, "0.");
            for (size_t k = nd; k < sc; k++)
                cdc_buf_putc(out, '0');
            for (size_t i = nd; i-- > 0;)
                cdc_buf_putc(out, digits[i]);
        } else {
            for (size_t i = nd; i-- > 0;) {
                cdc_buf_putc(out, digits[i]);
                if (i == sc)
                    cdc_buf_putc(out, '.');
            }
        }
    }
    free(mag);
    free(digits);
}

/* Parses text (not NUL-terminated) with ice_value_parse, through scratch. */
static int
parse_n(const ice_type *t, const char *p, size_t n, cdc_buf *scratch, ice_value *out,
        cdc_err *err)
{
    cdc_buf_reset(scratch);
    if (!cdc_buf_reserve(scratch, n + 1 + 16))
        return cdc_err_set(err, CDC_E_NOMEM, "%zu bytes for a value", n);
    memcpy(scratch->data + 16, p, n);
    scratch->data[16 + n] = '\0';
    scratch->len = n + 17;
    return ice_value_parse(t, (const char *) scratch->data + 16, scratch->data, out, err);
}

static int value_from_cdc(const ice_type *t, const cdc_ctype *ct, const cdc_value *v,
                          cdc_buf *scratch, ice_value *out, cdc_err *err);

/* The range of dates and timestamps every reader holds: 0001-01-01 to 9999-12-31 (Java's
   LocalDate prints more, Python's datetime, which pyiceberg's rows become, does not). */
#define ICE_MIN_DAY INT64_C(-719162)                /* 0001-01-01 */
#define ICE_MAX_DAY INT64_C(2932896)                /* 9999-12-31 */
#define ICE_US_PER_DAY INT64_C(86400000000)

int
ice_value_from_cdc(const ice_type *t, const cdc_ctype *ct, const cdc_value *v,
                   cdc_buf *scratch, ice_value *out, cdc_err *err)
{
    const char *what;
    int64_t     day;

    if (v->state == CDC_VAL_PRESENT && t->kind == ICE_TIMESTAMPTZ &&
        ct->sem == CDC_SEM_ZONED_TIMESTAMP &&
        ((v->u.s.n == 8 && memcmp(v->u.s.p, "infinity", 8) == 0) ||
         (v->u.s.n == 9 && memcmp(v->u.s.p, "-infinity", 9) == 0)))
        return cdc_err_set(err, CDC_E_DECODE, "'%.*s' has no Iceberg timestamptz value",
                           (int) v->u.s.n, v->u.s.p);
    if (value_from_cdc(t, ct, v, scratch, out, err) < 0)
        return -1;
    if (out->null)
        return 0;
    switch (t->kind) {
    case ICE_DATE:
        day = out->i;
        what = "date";
        break;
    case ICE_TIMESTAMP:
    case ICE_TIMESTAMPTZ:
        day = ice_floor_div(out->i, ICE_US_PER_DAY);
        what = t->kind == ICE_TIMESTAMP ? "timestamp" : "timestamptz";
        break;
    default:
        return 0;
    }
    if (day >= ICE_MIN_DAY && day <= ICE_MAX_DAY)
        return 0;
    /* the decoder's (Debezium's) stand-ins for 'infinity' and '-infinity' */
    if (ct->sem == CDC_SEM_DATE && (v->u.i == INT64_C(-2147472692) ||
                                    v->u.i == INT64_C(-2147472691)))
        return cdc_err_set(err, CDC_E_DECODE, "'%sinfinity' has no Iceberg date value",
                           v->u.i == INT64_C(-2147472692) ? "" : "-");
    if (out->i == INT64_C(9223372036825200000) || out->i == -INT64_C(9223372036832400000))
        return cdc_err_set(err, CDC_E_DECODE, "'%sinfinity' has no Iceberg %s value",
                           out->i > 0 ? "" : "-", what);
    return cdc_err_set(err, CDC_E_DECODE, "a %s outside 0001-01-01 .. 9999-12-31, the range "
                       "Iceberg's readers hold", what);
}

static int
value_from_cdc(const ice_type *t, const cdc_ctype *ct, const cdc_value *v,
                   cdc_buf *scratch, ice_value *out, cdc_err *err)
{
    char num[48];
    char tb[64];
    uint8_t k = prim_kind(t);

    memset(out, 0, sizeof(*out));
    if (v->state == CDC_VAL_NULL) {
        out->null = true;
        return 0;
    }
    if (v->state == CDC_VAL_UNCHANGED)
        return cdc_err_set(err, CDC_E_DECODE, "an unchanged TOAST value has no %s value here",
                           ice_type_str(t, tb, sizeof(tb)));
    bool is_int = ct->kind >= CDC_CT_INT8 && ct->kind <= CDC_CT_INT64;
    bool is_flt = ct->kind == CDC_CT_FLOAT32 || ct->kind == CDC_CT_FLOAT64;
    bool is_str = ct->kind == CDC_CT_STRING;

    switch (k) {
    case ICE_BOOLEAN:
        if (ct->kind != CDC_CT_BOOLEAN)
            break;
        out->b = v->u.b;
        return 0;
    case ICE_INT:
    case ICE_LONG:
        if (!is_int)
            break;
        if (k == ICE_INT && (v->u.i < INT32_MIN || v->u.i > INT32_MAX))
            return cdc_err_set(err, CDC_E_DECODE, "%" PRId64 " does not fit an Iceberg int", v->u.i);
        out->i = v->u.i;
        return 0;
    case ICE_FLOAT:
    case ICE_DOUBLE:
        if (!is_flt)
            break;
        out->f = v->u.f;
        return 0;
    case ICE_DECIMAL:
        if (is_str)
            return parse_n(t, v->u.s.p, v->u.s.n, scratch, out, err);
        if (ct->kind == CDC_CT_BYTES && ct->sem == CDC_SEM_DECIMAL) {
            const uint8_t *b = (const uint8_t *) v->u.s.p;
            unsigned __int128 u;
            ice_i128 d;

            if (v->u.s.n == 0 || v->u.s.n > 16)
                return cdc_err_set(err, CDC_E_DECODE, "a decimal of %zu bytes does not fit %s",
                                   v->u.s.n, ice_type_str(t, tb, sizeof(tb)));
            u = (b[0] & 0x80) ? ~(unsigned __int128) 0 : 0;
            for (size_t i = 0; i < v->u.s.n; i++)
                u = (u << 8) | b[i];
            d = (ice_i128) u;
            if (v->u.s.scale > t->scale || v->u.s.scale < 0)
                return cdc_err_set(err, CDC_E_DECODE, "a decimal of scale %d does not fit %s",
                                   (int) v->u.s.scale, ice_type_str(t, tb, sizeof(tb)));
            if (!decimal_fits(t, d))
                goto too_big;
            d *= pow10_i128(t->scale - v->u.s.scale);
            if (!decimal_fits(t, d))
                goto too_big;
            out->d = d;
            return 0;
        }
        if (is_flt)
            return cdc_err_set(err, CDC_E_DECODE, "a decimal presented as a double (decimal "
                               "mode double) cannot fill %s exactly",
                               ice_type_str(t, tb, sizeof(tb)));
        break;
    case ICE_DATE:
        if (ct->sem != CDC_SEM_DATE && ct->sem != CDC_SEM_CONNECT_DATE)
            break;
        out->i = v->u.i;
        return 0;
    case ICE_TIME:
    case ICE_TIMESTAMP:
    case ICE_TIMESTAMPTZ:
        switch (ct->sem) {
        case CDC_SEM_MICRO_TIME:
        case CDC_SEM_MICRO_TIMESTAMP: out->i = v->u.i; return 0;
        case CDC_SEM_TIME:
        case CDC_SEM_CONNECT_TIME:
        case CDC_SEM_TIMESTAMP:
        case CDC_SEM_CONNECT_TIMESTAMP: out->i = v->u.i * 1000; return 0;
        case CDC_SEM_NANO_TIME:
        case CDC_SEM_NANO_TIMESTAMP: out->i = ice_floor_div(v->u.i, 1000); return 0;
        case CDC_SEM_ZONED_TIMESTAMP:
            if (k != ICE_TIMESTAMPTZ)
                break;
            return parse_n(t, v->u.s.p, v->u.s.n, scratch, out, err);
        default: break;
        }
        break;
    case ICE_UUID:
        if (!is_str)
            break;
        return parse_n(t, v->u.s.p, v->u.s.n, scratch, out, err);
    case ICE_BINARY:
    case ICE_FIXED:
        if (ct->kind != CDC_CT_BYTES)
            break;
        out->p = (const uint8_t *) v->u.s.p;
        out->n = v->u.s.n;
        return 0;
    case ICE_STRING:
        if (is_str) {
            out->p = (const uint8_t *) v->u.s.p;
            out->n = v->u.s.n;
            return 0;
        }
        cdc_buf_reset(scratch);
        if (ct->sem == CDC_SEM_DECIMAL || ct->sem == CDC_SEM_VARIABLE_DECIMAL) {
            ice_decimal_text((const uint8_t *) v->u.s.p, v->u.s.n, v->u.s.scale, scratch);
        } else {
            if (ct->kind == CDC_CT_BOOLEAN)
                snprintf(num, sizeof(num), "%s", v->u.b ? "true" : "false");
            else if (is_int)
                snprintf(num, sizeof(num), "%" PRId64, v->u.i);
            else if (is_flt)
                snprintf(num, sizeof(num), "%.17g", v->u.f);
            else
                break;
            cdc_buf_puts(scratch, num);
        }
        if (cdc_buf_failed(scratch))
            return cdc_err_set(err, CDC_E_NOMEM, "a value's text");
        out->p = scratch->data;
        out->n = scratch->len;
        return 0;
    default: break;
    }
    return cdc_err_set(err, CDC_E_DECODE, "a value presented as kind %d, semantic %d cannot fill "
                       "an Iceberg %s", ct->kind, ct->sem, ice_type_str(t, tb, sizeof(tb)));
too_big:
    return cdc_err_set(err, CDC_E_DECODE, "a decimal beyond the precision of %s",
                       ice_type_str(t, tb, sizeof(tb)));
}
