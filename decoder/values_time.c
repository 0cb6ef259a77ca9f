/*
 * Dates, times, timestamps and intervals from PostgreSQL's text output
 * under DateStyle ISO, IntervalStyle postgres and TimeZone UTC, as
 * Debezium 2.7 presents them:
 *
 *   date         days since 1970-01-01 (io.debezium.time.Date.toEpochDay)
 *   time         ms or us past midnight (Strings.asDuration, then
 *                Time.toMilliOfDay / MicroTime.toMicroOfDay); 24:00:00 allowed
 *   timetz       shifted to UTC and printed with ISO_OFFSET_TIME:
 *                "HH:mm:ss[.f]Z", fraction without trailing zeros
 *   timestamp    wall clock read as UTC, ms (floored) or us since epoch
 *   timestamptz  UTC, "yyyy-MM-ddTHH:mm:ss.fZ" with exactly `length`
 *                fraction digits (ZonedTimestamp.getDateTimeFormatter)
 *   interval     MicroDuration (double arithmetic with 365.25/12 days a
 *                month, as MicroDuration.durationMicros) or ISO-8601 text
 *                (Interval.toIsoString), from the fields pgjdbc's PGInterval
 *                parses out of the postgres style
 *
 * Proleptic Gregorian calendar throughout, as java.time uses; "BC" year y
 * is ISO year 1 - y.
 */
#include "decoder/values_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USEC_PER_SEC INT64_C(1000000)
#define USEC_PER_DAY INT64_C(86400000000)

/*
 * The infinities as Debezium 2.7 emits them.  Dates: the epoch days of
 * PostgresValueConverter.POSITIVE/NEGATIVE_INFINITY_LOCAL_DATE (both are
 * year -5877611, so +infinity comes out one below -infinity).  Timestamps:
 * pgjdbc's PGStatement.DATE_POSITIVE/NEGATIVE_INFINITY read as microseconds
 * (POSITIVE_INFINITY_INSTANT = Conversions.toInstantFromMicros(...)).
 */
#define DATE_POS_INFINITY_DAYS INT64_C(-2147472692)
#define DATE_NEG_INFINITY_DAYS INT64_C(-2147472691)
#define TS_POS_INFINITY_US     INT64_C(9223372036825200000)
#define TS_NEG_INFINITY_US     (-INT64_C(9223372036832400000))

/* Days from 1970-01-01 to y-m-d (H. Hinnant's days_from_civil). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int) (doy - (153 * mp + 2) / 5 + 1);
    *m = (int) (mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int
days_in_month(int64_t y, int m)
{
    static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : dm[m - 1];
}

/* Reads between min and max digits at *i. */
static int
rd_digits(const char *s, size_t n, size_t *i, int min, int max, int64_t *v)
{
    int k = 0;

    *v = 0;
    while (*i < n && k < max && s[*i] >= '0' && s[*i] <= '9') {
        *v = *v * 10 + (s[*i] - '0');
        (*i)++;
        k++;
    }
    return k >= min ? 0 : -1;
}

static bool
rd_lit(const char *s, size_t n, size_t *i, const char *lit)
{
    size_t len = strlen(lit);

    if (n - *i < len || memcmp(s + *i, lit, len) != 0)
        return false;
    *i += len;
    return true;
}

/* "yyyy-mm-dd" (year of 4 to 7 digits); the era comes later in the text. */
static int
rd_date(const char *s, size_t n, size_t *i, int64_t *y, int *m, int *d)
{
    int64_t mm, dd;

    if (rd_digits(s, n, i, 4, 7, y) < 0 || !rd_lit(s, n, i, "-") ||
        rd_digits(s, n, i, 2, 2, &mm) < 0 || !rd_lit(s, n, i, "-") ||
        rd_digits(s, n, i, 2, 2, &dd) < 0)
        return -1;
    if (*y == 0 || mm < 1 || mm > 12 || dd < 1 || dd > 31)
        return -1;
    *m = (int) mm;
    *d = (int) dd;
    return 0;
}

/* Applies a trailing " BC" (ISO year 1 - y) and checks the day of month. */
static int
rd_era(const char *s, size_t n, size_t *i, int64_t *y, int m, int d)
{
    if (rd_lit(s, n, i, " BC"))
        *y = 1 - *y;
    return d <= days_in_month(*y, m) ? 0 : -1;
}

/* "hh:mm:ss[.ffffff]" to microseconds past midnight; 24:00:00 is allowed. */
static int
rd_time(const char *s, size_t n, size_t *i, int64_t *us)
{
    int64_t hh, mi, ss, frac = 0;
    int     k = 0;

    if (rd_digits(s, n, i, 2, 2, &hh) < 0 || !rd_lit(s, n, i, ":") ||
        rd_digits(s, n, i, 2, 2, &mi) < 0 || !rd_lit(s, n, i, ":") ||
        rd_digits(s, n, i, 2, 2, &ss) < 0)
        return -1;
    if (*i < n && s[*i] == '.') {
        for ((*i)++; *i < n && s[*i] >= '0' && s[*i] <= '9'; (*i)++, k++)
            if (k < 6)
                frac = frac * 10 + (s[*i] - '0');
        if (k == 0 || k > 6)
            return -1;
        for (; k < 6; k++)
            frac *= 10;
    }
    if (mi > 59 || ss > 59 || hh > 24 || (hh == 24 && (mi || ss || frac)))
        return -1;
    *us = ((hh * 60 + mi) * 60 + ss) * USEC_PER_SEC + frac;
    return 0;
}

/* "+hh[:mm[:ss]]" to seconds east of UTC. */
static int
rd_offset(const char *s, size_t n, size_t *i, int64_t *sec)
{
    int64_t hh, mm = 0, ss = 0;
    bool    neg;

    if (*i >= n || (s[*i] != '+' && s[*i] != '-'))
        return -1;
    neg = s[(*i)++] == '-';
    if (rd_digits(s, n, i, 2, 2, &hh) < 0)
        return -1;
    if (rd_lit(s, n, i, ":") && rd_digits(s, n, i, 2, 2, &mm) < 0)
        return -1;
    if (rd_lit(s, n, i, ":") && rd_digits(s, n, i, 2, 2, &ss) < 0)
        return -1;
    if (hh > 18 || mm > 59 || ss > 59)
        return -1;
    *sec = (hh * 3600 + mm * 60 + ss) * (neg ? -1 : 1);
    return 0;
}

static bool
is_text(const char *s, size_t n, const char *lit)
{
    return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

int
pgo_time_date(const pgo_vctx *vc, const char *s, size_t n, cdc_value *out)
{
    size_t  i = 0;
    int64_t y;
    int     m, d;

    if (is_text(s, n, "infinity")) {
        out->u.i = DATE_POS_INFINITY_DAYS;
    } else if (is_text(s, n, "-infinity")) {
        out->u.i = DATE_NEG_INFINITY_DAYS;
    } else {
        if (rd_date(s, n, &i, &y, &m, &d) < 0 || rd_era(s, n, &i, &y, m, d) < 0 || i != n)
            return pgo_vfail(vc, "not a date", s, n);
        out->u.i = days_from_civil(y, m, d);
    }
    out->state = CDC_VAL_PRESENT;
    return 0;
}

int
pgo_time_time(const pgo_vctx *vc, uint8_t sem, const char *s, size_t n, cdc_value *out)
{
    size_t  i = 0;
    int64_t us;

    if (rd_time(s, n, &i, &us) < 0 || i != n)
        return pgo_vfail(vc, "not a time", s, n);
    out->u.i = sem == CDC_SEM_MICRO_TIME ? us : us / 1000;     /* Duration.toMillis */
    out->state = CDC_VAL_PRESENT;
    return 0;
}

/* v (0 to 99) as two digits. */
static char *
put2(char *o, int v)
{
    o[0] = (char) ('0' + v / 10);
    o[1] = (char) ('0' + v % 10);
    return o + 2;
}

/* ISO_LOCAL_TIME: "HH:mm:ss", then a fraction with its trailing zeros dropped. */
static size_t
fmt_time_trimmed(char *o, int64_t us)
{
    int     frac = (int) (us % USEC_PER_SEC), k;
    int64_t sec = us / USEC_PER_SEC;
    char   *e = o;

    /* no sprintf: a timestamp column formats one per row (docs/snapshots.md, Benchmark) */
    e = put2(e, (int) (sec / 3600));
    *e++ = ':';
    e = put2(e, (int) (sec / 60 % 60));
    *e++ = ':';
    e = put2(e, (int) (sec % 60));
    if (frac) {
        for (k = 6; frac % 10 == 0; k--)
            frac /= 10;
        *e++ = '.';
        for (int j = k - 1; j >= 0; j--, frac /= 10)
            e[j] = (char) ('0' + frac % 10);
        e += k;
    }
    return (size_t) (e - o);
}

int
pgo_time_timetz(const pgo_vctx *vc, const char *s, size_t n, cdc_value *out)
{
    size_t  i = 0;
    int64_t us, off;
    char   *o;

    if (rd_time(s, n, &i, &us) < 0 || rd_offset(s, n, &i, &off) < 0 || i != n)
        return pgo_vfail(vc, "not a time with time zone", s, n);
    /* OffsetTime.withOffsetSameInstant(UTC) wraps around midnight; 24:00 reads as 00:00 */
    us = ((us - off * USEC_PER_SEC) % USEC_PER_DAY + USEC_PER_DAY) % USEC_PER_DAY;
    o = cdc_arena_alloc(vc->arena, 24);
    out->u.s.n = fmt_time_trimmed(o, us);
    o[out->u.s.n++] = 'Z';
    out->u.s.p = o;
    out->state = CDC_VAL_PRESENT;
    return 0;
}

/* "date time[offset][ BC]" to microseconds since the epoch, UTC. */
static int
rd_timestamp(const char *s, size_t n, bool with_tz, int64_t *us)
{
    size_t  i = 0;
    int64_t y, tod, off = 0, days, delta;
    int     m, d;

    if (rd_date(s, n, &i, &y, &m, &d) < 0 || !rd_lit(s, n, &i, " ") ||
        rd_time(s, n, &i, &tod) < 0)
        return -1;
    if (with_tz && rd_offset(s, n, &i, &off) < 0)
        return -1;
    if (rd_era(s, n, &i, &y, m, d) < 0 || i != n)
        return -1;
    days = days_from_civil(y, m, d);
    delta = tod - off * USEC_PER_SEC;
    /* PostgreSQL's last years (up to 294276 AD) overflow int64 microseconds since 1970 */
    if (days > INT64_MAX / USEC_PER_DAY || days < INT64_MIN / USEC_PER_DAY)
        return -1;
    *us = days * USEC_PER_DAY;
    if ((delta > 0 && *us > INT64_MAX - delta) || (delta < 0 && *us < INT64_MIN - delta))
        return -1;
    *us += delta;
    return 0;
}

int
pgo_time_timestamp(const pgo_vctx *vc, uint8_t sem, const char *s, size_t n, cdc_value *out)
{
    int64_t us;

    if (is_text(s, n, "infinity"))
        us = TS_POS_INFINITY_US;
    else if (is_text(s, n, "-infinity"))
        us = TS_NEG_INFINITY_US;
    else if (rd_timestamp(s, n, false, &us) < 0)
        return pgo_vfail(vc, "not a timestamp", s, n);
    out->u.i = sem == CDC_SEM_MICRO_TIMESTAMP ? us : cdc_us_to_ms(us);
    out->state = CDC_VAL_PRESENT;
    return 0;
}

/*
 * ZonedTimestamp.toIsoString: ISO_LOCAL_DATE (4-digit year, '+' above 9999,
 * '-' before year 0), 'T', HH:mm:ss, then exactly `width` fraction digits
 * when 1 <= width <= 9, else ISO_OFFSET_DATE_TIME's trimmed fraction; 'Z'.
 */
static size_t
fmt_zoned_timestamp(char *o, int64_t us, int width)
{
    int64_t days = us / USEC_PER_DAY - (us % USEC_PER_DAY < 0), y;
    int64_t tod = us - days * USEC_PER_DAY;
    int     m, d;
    size_t  len;

    civil_from_days(days, &y, &m, &d);
    if (y > 9999)
        len = (size_t) sprintf(o, "+%lld", (long long) y);
    else if (y < 0)
        len = (size_t) sprintf(o, "-%04lld", (long long) -y);
    else {      /* the usual years without sprintf: one per row */
        put2(put2(o, (int) (y / 100)), (int) (y % 100));
        len = 4;
    }
    o[len++] = '-';
    put2(o + len, m);
    len += 2;
    o[len++] = '-';
    put2(o + len, d);
    len += 2;
    o[len++] = 'T';
    if (width >= 1 && width <= 9) {
        char nanos[9];
        int  us6 = (int) (tod % USEC_PER_SEC);

        len += fmt_time_trimmed(o + len, tod - tod % USEC_PER_SEC);
        for (int j = 5; j >= 0; j--, us6 /= 10)
            nanos[j] = (char) ('0' + us6 % 10);
        memset(nanos + 6, '0', 3);
        o[len++] = '.';
        memcpy(o + len, nanos, (size_t) width);
        len += (size_t) width;
    } else {
        len += fmt_time_trimmed(o + len, tod);
    }
    o[len++] = 'Z';
    return len;
}

/* The digit at s[i] as a number, or -1. */
static inline int
dig(const char *s, size_t i)
{
    return s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : -1;
}

/*
 * What rd_timestamp() and fmt_zoned_timestamp() make of the usual text of a
 * session in UTC, "yyyy-mm-dd hh:mm:ss[.f{1,6}]+00" (a year 1 to 9999, no
 * 24:00), straight from the text: in UTC the date and the time of day are the
 * text's, and the fraction its digits (to width digits, or without trailing
 * zeros).  Returns the length written at o, or 0 for any other text (which
 * takes the long way).
 */
static size_t
fmt_utc_timestamptz(char *o, const char *s, size_t n, int width)
{
    static const size_t at[] = { 0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18 };
    int                 v[14], y, m, d;
    size_t              k = n > 22 ? n - 23 : 0, len = 19;    /* fraction digits at s + 20 */

    if (n < 22 || n > 29 || n == 23 || memcmp(s + n - 3, "+00", 3) != 0 || s[4] != '-' ||
        s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':' || (k && s[19] != '.'))
        return 0;
    for (int j = 0; j < 14; j++)
        if ((v[j] = dig(s, at[j])) < 0)
            return 0;
    for (size_t j = 0; j < k; j++)
        if (dig(s, 20 + j) < 0)
            return 0;
    y = ((v[0] * 10 + v[1]) * 10 + v[2]) * 10 + v[3];
    m = v[4] * 10 + v[5];
    d = v[6] * 10 + v[7];
    if (y == 0 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m) ||
        v[8] * 10 + v[9] > 23 || v[10] > 5 || v[12] > 5)
        return 0;
    memcpy(o, s, 19);
    o[10] = 'T';
    if (width >= 1 && width <= 9) {
        o[len++] = '.';
        for (size_t j = 0; j < (size_t) width; j++)
            o[len++] = j < k ? s[20 + j] : '0';
    } else {
        while (k > 0 && s[20 + k - 1] == '0')
            k--;
        if (k > 0) {
            o[len++] = '.';
            memcpy(o + len, s + 20, k);
            len += k;
        }
    }
    o[len++] = 'Z';
    return len;
}

int
pgo_time_timestamptz(const pgo_vctx *vc, const char *s, size_t n, cdc_value *out)
{
    int64_t us;
    char   *o;

    if (is_text(s, n, "infinity") || is_text(s, n, "-infinity")) {
        out->u.s.p = cdc_arena_strndup(vc->arena, s, n);
        out->u.s.n = n;
    } else {
        o = cdc_arena_alloc(vc->arena, 48);
        out->u.s.n = fmt_utc_timestamptz(o, s, n, vc->col->ctype.length);
        if (out->u.s.n == 0) {
            if (rd_timestamp(s, n, true, &us) < 0)
                return pgo_vfail(vc, "not a timestamp with time zone", s, n);
            out->u.s.n = fmt_zoned_timestamp(o, us, vc->col->ctype.length);
        }
        out->u.s.p = o;
    }
    out->state = CDC_VAL_PRESENT;
    return 0;
}

/* The fields pgjdbc's PGInterval keeps; seconds as getSeconds() returns them. */
typedef struct iv_fields {
    int    years, months, days, hours, minutes;
    double seconds;
} iv_fields;

static int
iv_int(const char *s, size_t n, int *v)
{
    int64_t x;

    if (s == NULL)          /* nullSafeIntGet: a missing number is 0 */
        return *v = 0, 0;
    if (pgo_parse_i64(s, n, INT32_MIN, INT32_MAX, &x) < 0)
        return -1;
    *v = (int) x;
    return 0;
}

/* A "[-]h+:mm[:ss[.f]]" token, all fields taking the leading sign. */
static int
iv_time_token(const char *t, size_t n, iv_fields *f)
{
    size_t off = t[0] == '-', c1 = off, c2, k;
    char   buf[40];
    char  *end;

    while (c1 < n && t[c1] != ':')
        c1++;
    if (c1 + 3 > n || iv_int(t + off, c1 - off, &f->hours) < 0 ||
        iv_int(t + c1 + 1, 2, &f->minutes) < 0)
        return -1;
    c2 = c1 + 3;
    f->seconds = 0;
    if (c2 < n) {
        if (t[c2] != ':' || n - c2 - 1 == 0 || n - c2 - 1 >= sizeof(buf))
            return -1;
        for (k = c2 + 1; k < n; k++)
            if ((t[k] < '0' || t[k] > '9') && t[k] != '.')
                return -1;
        memcpy(buf, t + c2 + 1, n - c2 - 1);
        buf[n - c2 - 1] = '\0';
        f->seconds = strtod(buf, &end);
        if (*end != '\0')
            return -1;
    }
    if (off) {
        f->hours = -f->hours;
        f->minutes = -f->minutes;
        f->seconds = -f->seconds;
    }
    return 0;
}

/* Unit words as PGInterval.setValue matches them (by prefix). */
static int
iv_unit(const char *u, size_t n, const char *val, size_t vn, iv_fields *f)
{
    if (n >= 4 && memcmp(u, "year", 4) == 0)
        return iv_int(val, vn, &f->years);
    if (n >= 3 && memcmp(u, "mon", 3) == 0)
        return iv_int(val, vn, &f->months);
    if (n >= 3 && memcmp(u, "day", 3) == 0)
        return iv_int(val, vn, &f->days);
    return -1;      /* IntervalStyle postgres prints hours and below as h:mm:ss */
}

/*
 * The postgres IntervalStyle ("1 year 2 mons -3 days -04:05:06.78") read
 * the way PGInterval.setValue reads it: '+' is a blank, tokens alternate
 * number and unit, a token with ':' is the time part.  Seconds are then
 * stored as whole seconds plus Math.round(seconds * 1e6) microseconds, and
 * read back as a double (setSeconds / getSeconds).
 */
static int
iv_parse(const char *s, size_t n, iv_fields *f)
{
    const char *val = NULL;
    size_t      i = 0, b, vn = 0;
    int         tok = 0;
    double      total;
    int64_t     whole, micro;

    memset(f, 0, sizeof(*f));
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '+'))
            i++;
        if (i == n)
            break;
        for (b = i; i < n && s[i] != ' ' && s[i] != '+'; i++)
            ;
        if (++tok % 2 == 0) {
            if (iv_unit(s + b, i - b, val, vn, f) < 0)
                return -1;
            val = NULL;
        } else if (memchr(s + b, ':', i - b) != NULL) {
            if (iv_time_token(s + b, i - b, f) < 0)
                return -1;
            val = NULL;
        } else {
            val = s + b;
            vn = i - b;
        }
    }
    if (tok == 0 || val != NULL)
        return -1;          /* empty, or a number without its unit */
    total = floor(f->seconds * 1e6 + 0.5);
    if (!(fabs(total) < 9e15))
        return -1;
    whole = (int64_t) total / USEC_PER_SEC;
    micro = (int64_t) total % USEC_PER_SEC;
    f->seconds = (double) whole + (double) micro / 1e6;
    return 0;
}

/* MicroDuration.durationMicros, double for double, then Java's saturating (long) cast. */
static int64_t
iv_micros(const iv_fields *f)
{
    double days = (double) ((int64_t) f->years * 12 + f->months) * (365.25 / 12.0) + f->days;
    double secs = (((days * 24 + f->hours) * 60) + f->minutes) * 60 + f->seconds;
    double us = secs * 1e6;

    if (us != us)
        return 0;
    if (us >= 9223372036854775807.0)
        return INT64_MAX;
    if (us <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t) us;
}

/*
 * BigDecimal.valueOf(seconds).stripTrailingZeros().toPlainString(), with
 * Interval.toIsoString's cut to 9 fraction digits: the shortest decimal
 * that reads back as the same double (Double.toString), in plain notation.
 */
static void
iv_seconds_text(cdc_arena *arena, double v, const char **p, size_t *n)
{
    char    buf[40], digits[20];
    int     prec, e;
    size_t  nd = 0, k;
    int32_t scale;

    if (v == 0) {
        *p = "0";
        *n = 1;
        return;
    }
    for (prec = 0; prec < 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*e", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    for (k = v < 0; buf[k] != 'e'; k++)
        if (buf[k] != '.')
            digits[nd++] = buf[k];
    e = atoi(buf + k + 1);
    scale = prec - e;
    if (scale > 9) {
        size_t drop = (size_t) (scale - 9);

        nd = drop >= nd ? 0 : nd - drop;
        scale = 9;
    }
    while (nd > 0 && scale > 0 && digits[nd - 1] == '0') {
        nd--;
        scale--;
    }
    if (nd == 0)
        scale = 0;
    pgo_num_plain_digits(arena, v < 0, digits, nd, scale, p, n);
}

int
pgo_time_interval(const pgo_vctx *vc, uint8_t sem, const char *s, size_t n, cdc_value *out)
{
    iv_fields   f;
    const char *sec;
    size_t      secn;
    char       *o;

    if (iv_parse(s, n, &f) < 0)
        return pgo_vfail(vc, "not an interval", s, n);
    if (sem == CDC_SEM_INTERVAL) {
        iv_seconds_text(vc->arena, f.seconds, &sec, &secn);
        o = cdc_arena_alloc(vc->arena, secn + 80);
        out->u.s.n = (size_t) sprintf(o, "P%dY%dM%dDT%dH%dM%.*sS", f.years, f.months, f.days,
                                      f.hours, f.minutes, (int) secn, sec);
        out->u.s.p = o;
    } else {
        out->u.i = iv_micros(&f);
    }
    out->state = CDC_VAL_PRESENT;
    return 0;
}
