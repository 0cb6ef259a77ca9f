/*
 * Numbers from PostgreSQL's text output: integers, floats, numeric and
 * money, as Debezium's PostgresValueConverter presents them.
 *
 * numeric is never put through floating point except when the user asked
 * for decimal.handling.mode=double.  A value is parsed into its decimal
 * digits and a scale, rescaled with decimal arithmetic on the digit string,
 * and the unscaled integer is converted to binary by schoolbook base
 * conversion (numeric allows 131072 digits before the point, so no fixed
 * width will do).  The bytes are what Java's BigInteger.toByteArray()
 * returns: two's complement, big-endian, the fewest bytes that keep the
 * sign (12.50 in numeric(10,2) -> 04 E2, -12.50 -> FB 1E, 0 -> 00).
 */
#include "decoder/values_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A decimal as digits and scale: value = digits * 10^-scale. */
typedef struct num_dec {
    bool    neg;
    char   *d;          /* ASCII digits, no leading zeros; nd == 0 means zero */
    size_t  nd;
    int32_t scale;      /* may be negative (exponent, or numeric(p,-s)) */
} num_dec;

#define NUM_MAX_EXP 200000  /* far beyond numeric's range; keeps scale arithmetic in int32 */

int
pgo_parse_i64(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *out)
{
    size_t   i = 0;
    bool     neg = false;
    uint64_t v = 0;
    uint64_t lim;

    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    if (i == n)
        return -1;
    lim = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        if (v > (lim - (uint64_t) (s[i] - '0')) / 10)
            return -1;
        v = v * 10 + (uint64_t) (s[i] - '0');
    }
    /* -v computed in unsigned arithmetic: v may be 2^63 */
    *out = neg ? (int64_t) (0 - v) : (int64_t) v;
    if (*out < lo || *out > hi)
        return -1;
    return 0;
}

int
pgo_num_int(const pgo_vctx *vc, uint8_t kind, const char *s, size_t n, cdc_value *out)
{
    int64_t lo = INT64_MIN, hi = INT64_MAX;

    if (kind == CDC_CT_INT16) {
        lo = INT16_MIN;
        hi = INT16_MAX;
    } else if (kind == CDC_CT_INT32) {
        lo = INT32_MIN;
        hi = INT32_MAX;
    }
    if (pgo_parse_i64(s, n, lo, hi, &out->u.i) < 0)
        return pgo_vfail(vc, "not an integer in range", s, n);
    out->state = CDC_VAL_PRESENT;
    return 0;
}

/* Parses a float8/float4 text: PostgreSQL prints NaN, Infinity, -Infinity. */
static int
num_parse_double(const char *s, size_t n, bool single, double *out)
{
    char  buf[64];
    char *end;

    if (n == 3 && memcmp(s, "NaN", 3) == 0) {
        *out = NAN;
        return 0;
    }
    if (n == 8 && memcmp(s, "Infinity", 8) == 0) {
        *out = INFINITY;
        return 0;
    }
    if (n == 9 && memcmp(s, "-Infinity", 9) == 0) {
        *out = -INFINITY;
        return 0;
    }
    /* the shortest round-trip form of any double is under 30 characters */
    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    /* strtod only after the specials: it would also accept "nan", "inf", hex */
    if (strspn(buf, "0123456789+-.eE") != n)
        return -1;
    *out = single ? (double) strtof(buf, &end) : strtod(buf, &end);
    return end == buf + n ? 0 : -1;
}

int
pgo_num_float(const pgo_vctx *vc, uint8_t kind, const char *s, size_t n, cdc_value *out)
{
    if (num_parse_double(s, n, kind == CDC_CT_FLOAT32, &out->u.f) < 0)
        return pgo_vfail(vc, "not a floating-point number", s, n);
    out->state = CDC_VAL_PRESENT;
    return 0;
}

/*
 * Parses [-+]digits[.digits][e[-+]digits] (BigDecimal's grammar, of which
 * PostgreSQL prints only the part without exponent).  Digits are copied to
 * the arena without leading zeros.
 */
static int
num_parse(cdc_arena *arena, const char *s, size_t n, num_dec *x)
{
    size_t  i = 0, nint = 0, nfrac = 0;
    int64_t exp = 0;
    char   *d;

    memset(x, 0, sizeof(*x));
    if (i < n && (s[i] == '-' || s[i] == '+'))
        x->neg = s[i++] == '-';
    d = cdc_arena_alloc(arena, n + 1);
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, nint++)
        if (x->nd > 0 || s[i] != '0')
            d[x->nd++] = s[i];
    if (i < n && s[i] == '.')
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, nfrac++)
            if (x->nd > 0 || s[i] != '0')
                d[x->nd++] = s[i];
    if (nint + nfrac == 0)
        return -1;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        if (pgo_parse_i64(s + i + 1, n - i - 1, -NUM_MAX_EXP, NUM_MAX_EXP, &exp) < 0)
            return -1;
        i = n;
    }
    if (i != n || nfrac > NUM_MAX_EXP)
        return -1;
    x->d = d;
    x->scale = (int32_t) ((int64_t) nfrac - exp);
    if (x->nd == 0)
        x->neg = false;     /* -0.00 is zero; BigInteger has no negative zero */
    return 0;
}

/* Adds one unit in the last place to a digit string (half-up rounding). */
static void
num_increment(cdc_arena *arena, num_dec *x)
{
    size_t i = x->nd;
    char  *d;

    while (i > 0 && x->d[i - 1] == '9')
        x->d[--i] = '0';
    if (i > 0) {
        x->d[i - 1]++;
        return;
    }
    d = cdc_arena_alloc(arena, x->nd + 1);      /* 999 -> 1000 */
    d[0] = '1';
    memcpy(d + 1, x->d, x->nd);
    x->d = d;
    x->nd++;
}

/*
 * Rescales x to `target`, as BigDecimal.setScale: exact (UNNECESSARY) unless
 * half_up.  @returns 0, or -1 when digits would be lost and !half_up.
 */
static int
num_rescale(cdc_arena *arena, num_dec *x, int32_t target, bool half_up)
{
    if (x->nd == 0) {
        x->scale = target;
        return 0;
    }
    if (target >= x->scale) {
        size_t add = (size_t) ((int64_t) target - x->scale);
        char  *d = cdc_arena_alloc(arena, x->nd + add);

        memcpy(d, x->d, x->nd);
        memset(d + x->nd, '0', add);
        x->d = d;
        x->nd += add;
    } else {
        size_t drop = (size_t) ((int64_t) x->scale - target);
        bool   up = false;
        size_t i;

        for (i = drop > x->nd ? 0 : x->nd - drop; i < x->nd; i++)
            if (x->d[i] != '0' && !half_up)
                return -1;
        if (drop <= x->nd)
            up = half_up && x->d[x->nd - drop] >= '5';
        x->nd = drop >= x->nd ? 0 : x->nd - drop;
        if (up)
            num_increment(arena, x);
        if (x->nd == 0)
            x->neg = false;
    }
    x->scale = target;
    return 0;
}

/*
 * BigDecimal.stripTrailingZeros() followed by setScale(0) when the scale
 * went negative: what VariableScaleDecimal values carry (12.500 -> 125
 * scale 1; 1200 -> 1200 scale 0).
 */
static void
num_strip(cdc_arena *arena, num_dec *x)
{
    while (x->nd > 0 && x->scale > 0 && x->d[x->nd - 1] == '0') {
        x->nd--;
        x->scale--;
    }
    if (x->nd == 0)
        x->scale = 0;
    else if (x->scale < 0)
        (void) num_rescale(arena, x, 0, false);     /* only appends zeros: cannot fail */
}

/* Big-endian magnitude of a digit string, into buf (at least nd/2 + 9 bytes). */
static size_t
num_magnitude(cdc_arena *arena, const char *d, size_t nd, uint8_t *buf)
{
    size_t    nlimb = nd / 9 + 2, used = 0, i, k, len = 0;
    uint32_t *limb;

    if (nd <= 19) {                     /* below 10^19: fits in 64 bits */
        uint64_t v = 0;

        for (i = 0; i < nd; i++)
            v = v * 10 + (uint64_t) (d[i] - '0');
        for (k = 0; k < 8; k++)
            buf[k] = (uint8_t) (v >> (56 - 8 * k));
        len = 8;
        goto trim;
    }
    /* little-endian base-2^32 limbs; each step multiplies by 10^chunk and adds the chunk */
    limb = cdc_arena_zalloc(arena, nlimb * sizeof(*limb));
    for (i = 0; i < nd;) {
        size_t   chunk = (nd - i) % 9 ? (nd - i) % 9 : 9;
        uint32_t mul = 1, add = 0;
        uint64_t carry;

        for (k = 0; k < chunk; k++, i++) {
            mul *= 10;
            add = add * 10 + (uint32_t) (d[i] - '0');
        }
        carry = add;
        for (k = 0; k < used; k++) {
            uint64_t t = (uint64_t) limb[k] * mul + carry;

            limb[k] = (uint32_t) t;
            carry = t >> 32;
        }
        if (carry)
            limb[used++] = (uint32_t) carry;
    }
    for (k = used; k-- > 0;)
        for (i = 0; i < 4; i++)
            buf[len++] = (uint8_t) (limb[k] >> (24 - 8 * i));
trim:
    for (i = 0; i + 1 < len && buf[i] == 0; i++)
        ;
    memmove(buf, buf + i, len - i);
    return len - i;
}

/* The unscaled value of x as Java's BigInteger.toByteArray() (arena memory). */
static void
num_to_bytes(cdc_arena *arena, const num_dec *x, const char **p, size_t *n)
{
    uint8_t *buf = cdc_arena_alloc(arena, x->nd / 2 + 10);
    size_t   len, i;

    /* one spare byte in front for the sign */
    len = num_magnitude(arena, x->d, x->nd, buf + 1) + 1;
    buf[0] = 0;
    if (x->neg) {
        unsigned carry = 1;

        for (i = len; i-- > 0;) {
            unsigned t = (uint8_t) ~buf[i] + carry;

            buf[i] = (uint8_t) t;
            carry = t >> 8;
        }
    }
    /* drop sign bytes the next byte repeats: 00 7F -> 7F, FF 80 -> 80 */
    for (i = 0; i + 1 < len; i++) {
        if (buf[i] == 0x00 && !(buf[i + 1] & 0x80))
            continue;
        if (buf[i] == 0xFF && (buf[i + 1] & 0x80))
            continue;
        break;
    }
    *p = (const char *) buf + i;
    *n = len - i;
}

/* BigDecimal.toPlainString() of x (arena memory). */
static void
num_plain(cdc_arena *arena, const num_dec *x, const char **p, size_t *n)
{
    size_t nd = x->nd;
    size_t sc = x->scale > 0 ? (size_t) x->scale : 0;
    size_t zeros = x->scale < 0 && nd > 0 ? (size_t) -(int64_t) x->scale : 0;
    char  *o = cdc_arena_alloc(arena, nd + sc + zeros + 4);
    size_t len = 0, i;

    if (x->neg)
        o[len++] = '-';
    if (nd <= sc) {                     /* no integer digits: 0.00ddd */
        o[len++] = '0';
        if (sc > 0)
            o[len++] = '.';
        for (i = nd; i < sc; i++)
            o[len++] = '0';
        memcpy(o + len, x->d, nd);
        len += nd;
    } else {
        memcpy(o + len, x->d, nd - sc);
        len += nd - sc;
        for (i = 0; i < zeros; i++)
            o[len++] = '0';
        if (sc > 0) {
            o[len++] = '.';
            memcpy(o + len, x->d + nd - sc, sc);
            len += sc;
        }
    }
    *p = o;
    *n = len;
}

/* 1 NaN, 2 Infinity, 3 -Infinity (PostgresValueConverter.toSpecialValue), 0 none. */
static int
num_special(const char *s, size_t n)
{
    if (n == 3 && memcmp(s, "NaN", 3) == 0)
        return 1;
    if (n == 8 && memcmp(s, "Infinity", 8) == 0)
        return 2;
    if (n == 9 && memcmp(s, "-Infinity", 9) == 0)
        return 3;
    return 0;
}

/*
 * NaN and the infinities: a double in double mode, the SpecialValueDecimal
 * name in string mode, and in precise mode an error, since neither Decimal
 * nor VariableScaleDecimal can carry them (SpecialValueDecimal.fromLogical
 * throws, failing the record; PostgresValueConverter.convertDecimal takes
 * that path for VariableScaleDecimal too).
 */
static int
num_special_value(const pgo_vctx *vc, uint8_t kind, int special, const char *s, size_t n,
                  cdc_value *out)
{
    static const char *const names[] = { "", "NAN", "POSITIVE_INFINITY", "NEGATIVE_INFINITY" };

    if (kind == CDC_CT_FLOAT64) {
        out->u.f = special == 1 ? NAN : special == 2 ? INFINITY : -INFINITY;
    } else if (kind == CDC_CT_STRING) {
        out->u.s.p = names[special];
        out->u.s.n = strlen(names[special]);
    } else {
        return pgo_vfail(vc, "NaN/Infinity cannot be a precise decimal (use decimal_handling_mode "
                         "string or double)", s, n);
    }
    out->state = CDC_VAL_PRESENT;
    return 0;
}

/* Double mode: BigDecimal.doubleValue() is correctly rounded, and so is strtod. */
static int
num_to_double(const pgo_vctx *vc, const char *s, size_t n, cdc_value *out)
{
    char *buf = cdc_arena_strndup(vc->arena, s, n);
    char *end;

    if (n == 0 || strspn(buf, "0123456789+-.eE") != n)
        return pgo_vfail(vc, "not a number", s, n);
    out->u.f = strtod(buf, &end);
    if (end != buf + n)
        return pgo_vfail(vc, "not a number", s, n);
    out->state = CDC_VAL_PRESENT;
    return 0;
}

/* Stores x as the column's presentation (Decimal/VariableScaleDecimal bytes or plain string). */
static void
num_store(const pgo_vctx *vc, uint8_t kind, const num_dec *x, cdc_value *out)
{
    if (kind == CDC_CT_STRING)
        num_plain(vc->arena, x, &out->u.s.p, &out->u.s.n);
    else
        num_to_bytes(vc->arena, x, &out->u.s.p, &out->u.s.n);
    out->u.s.scale = x->scale;
    out->state = CDC_VAL_PRESENT;
}

/*
 * The usual value of a Decimal column, "[-]digits[.digits]" with at most 18
 * digits once scaled to the column's scale (no more fraction digits than
 * that): as an int64, to the bytes num_parse, num_rescale and num_to_bytes
 * make (BigInteger.toByteArray: big-endian two's complement, no redundant
 * sign byte), without the digit string.  False for anything else.
 */
static bool
num_small_decimal(const pgo_vctx *vc, int32_t scale, const char *s, size_t n, cdc_value *out)
{
    size_t   i = 0, nd = 0, nfrac = 0, k;
    bool     neg = false;
    uint64_t v = 0;             /* unsigned: more than 18 digits wrap, then are refused */
    int64_t  sv;
    uint8_t  be[8], *o;

    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, nd++)
        v = v * 10 + (uint64_t) (s[i] - '0');
    if (i < n && s[i] == '.')
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, nd++, nfrac++)
            v = v * 10 + (uint64_t) (s[i] - '0');
    if (i != n || nd == 0 || nd > 18 || scale < 0 || nfrac > (size_t) scale ||
        nd + ((size_t) scale - nfrac) > 18)
        return false;
    for (k = nfrac; k < (size_t) scale; k++)
        v *= 10;
    sv = neg ? -(int64_t) v : (int64_t) v;     /* under 10^18 */
    for (k = 0; k < 8; k++)
        be[k] = (uint8_t) ((uint64_t) sv >> (56 - 8 * k));
    for (k = 0; k + 1 < 8; k++)
        if (!((be[k] == 0x00 && !(be[k + 1] & 0x80)) || (be[k] == 0xFF && (be[k + 1] & 0x80))))
            break;
    o = cdc_arena_alloc(vc->arena, 8 - k);
    memcpy(o, be + k, 8 - k);
    out->u.s.p = (const char *) o;
    out->u.s.n = 8 - k;
    out->u.s.scale = scale;
    out->state = CDC_VAL_PRESENT;
    return true;
}

int
pgo_num_numeric(const pgo_vctx *vc, uint8_t kind, uint8_t sem, const char *s, size_t n,
                cdc_value *out)
{
    const cdc_ctype *ct = &vc->col->ctype;
    int              special = num_special(s, n);
    num_dec          x;

    if (special)
        return num_special_value(vc, kind, special, s, n, out);
    if (kind == CDC_CT_FLOAT64)
        return num_to_double(vc, s, n, out);
    if (kind != CDC_CT_STRING && sem != CDC_SEM_VARIABLE_DECIMAL &&
        (sem == CDC_SEM_DECIMAL || ct->precision > 0) &&
        num_small_decimal(vc, ct->scale, s, n, out))
        return 0;
    if (num_parse(vc->arena, s, n, &x) < 0)
        return pgo_vfail(vc, "not a numeric", s, n);
    if (sem == CDC_SEM_VARIABLE_DECIMAL) {
        num_strip(vc->arena, &x);
    } else if (sem == CDC_SEM_DECIMAL || ct->precision > 0) {
        /* PostgresValueConverter.withScaleAdjustedIfNeeded: setScale(scale), no rounding */
        if (num_rescale(vc->arena, &x, ct->scale, false) < 0)
            return pgo_vfail(vc, "has more fraction digits than the column scale", s, n);
    }
    num_store(vc, kind, &x, out);
    return 0;
}

/*
 * money as PostgreSQL prints it under lc_monetary C: "$1,234.56",
 * "-$1,234.56".  Like AbstractColumnValue.asMoney: a leading '-' is the
 * sign, the next character (the currency symbol) is dropped, and the group
 * separators ',' are removed.  Precise mode rescales to
 * money.fraction.digits with HALF_UP; string mode prints the parsed value
 * unscaled (PostgresValueConverter.convertMoney).
 */
int
pgo_num_money(const pgo_vctx *vc, uint8_t kind, const char *s, size_t n, cdc_value *out)
{
    char   *buf = cdc_arena_alloc(vc->arena, n + 1);
    size_t  i = 0, len = 0;
    num_dec x;

    if (i < n && s[i] == '-')
        buf[len++] = s[i++];
    if (i < n && (s[i] < '0' || s[i] > '9')) {
        /* one character, which in UTF-8 may be several bytes (a euro sign) */
        for (i++; i < n && ((unsigned char) s[i] & 0xC0) == 0x80; i++)
            ;
    } else {
        return pgo_vfail(vc, "money without a currency symbol", s, n);
    }
    for (; i < n; i++)
        if (s[i] != ',')
            buf[len++] = s[i];
    buf[len] = '\0';
    if (kind == CDC_CT_FLOAT64)
        return num_to_double(vc, buf, len, out);
    if (num_parse(vc->arena, buf, len, &x) < 0)
        return pgo_vfail(vc, "not a money amount", s, n);
    if (kind != CDC_CT_STRING)
        (void) num_rescale(vc->arena, &x, vc->col->ctype.scale, true);  /* cannot fail when rounding */
    num_store(vc, kind, &x, out);
    return 0;
}

void
pgo_num_plain_digits(cdc_arena *arena, bool neg, const char *d, size_t nd, int32_t scale,
                     const char **p, size_t *n)
{
    num_dec x = { .neg = neg && nd > 0, .d = (char *) d, .nd = nd, .scale = scale };

    num_plain(arena, &x, p, n);
}
