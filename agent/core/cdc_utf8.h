/*
 * UTF-8 sequences, for the two places that meet text a database whose
 * encoding is not UTF8 let through: the JSON writer (schemas/json_value.c),
 * which replaces what is not UTF-8, and the decoder's check
 * (decoder/values_utf8.c), which counts and warns.  Inline: the JSON writer
 * calls it for every non-ASCII character it writes.
 */
#ifndef CDC_AGENT_CORE_CDC_UTF8_H
#define CDC_AGENT_CORE_CDC_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Length of the well-formed UTF-8 sequence at p (p < end), or 0 when it is
 * not one; then *bad is the length of its maximal ill-formed subpart (at
 * least 1), which becomes one U+FFFD: Unicode's "maximal subpart" practice
 * (W3C/WHATWG decoders, Python's 'replace').  Java's decoder mostly agrees
 * but not always: an encoded surrogate (ED A0 80) is one U+FFFD there, three
 * here (ED is ill-formed before A0, then A0 and 80 alone).  No Debezium
 * output depends on it (pgjdbc asks for UTF8 and the server refuses such
 * bytes, docs/debezium-differences.md).  An ASCII byte is a sequence of 1.
 */
static inline size_t
cdc_utf8_seq(const unsigned char *p, const unsigned char *end, size_t *bad)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xBF;
    size_t        need;

    if (c < 0x80)
        return 1;
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
 * The code point of the UTF-8 character at s (n > 0 bytes left) in *cp, and
 * its length; an ill-formed sequence is one U+FFFD of its maximal subpart's
 * length (as cdc_utf8_seq).
 */
static inline size_t
cdc_utf8_next(const char *s, size_t n, uint32_t *cp)
{
    const unsigned char *p = (const unsigned char *) s;
    size_t               len, bad = 1;

    len = cdc_utf8_seq(p, p + n, &bad);
    if (len == 0) {
        *cp = 0xFFFD;
        return bad;
    }
    *cp = len == 1 ? p[0] : (uint32_t) (p[0] & (0x7F >> len));
    for (size_t i = 1; i < len; i++)
        *cp = (*cp << 6) | (p[i] & 0x3F);
    return len;
}

/* Is s[0..n) well-formed UTF-8? */
static inline bool
cdc_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *) s, *end = p + n;
    size_t               len, bad;

    while (p < end) {
        if (*p < 0x80) {
            p++;
            continue;
        }
        len = cdc_utf8_seq(p, end, &bad);
        if (len == 0)
            return false;
        p += len;
    }
    return true;
}

#endif
