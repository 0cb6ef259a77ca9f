#include "agent/core/cdc_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
cdc_buf_set_drain(cdc_buf *b, cdc_buf_drain_fn *fn, void *arg, size_t at)
{
    b->drain = fn;
    b->drain_arg = fn ? arg : NULL;
    b->drain_at = fn ? at : 0;
}

/* Hands everything buffered to the drain; false (and failed) if it refuses. */
static bool
buf_drain(cdc_buf *b)
{
    if (b->len == 0)
        return true;
    if (b->drain(b->drain_arg, b->data, b->len) < 0) {
        b->failed = true;
        return false;
    }
    b->len = 0;
    b->data[0] = '\0';
    return true;
}

bool
cdc_buf_reserve(cdc_buf *b, size_t n)
{
    size_t   want, cap;
    uint8_t *p;

    if (b->failed)
        return false;
    if (b->drain != NULL && b->len + n > b->drain_at && !buf_drain(b))
        return false;
    if (n > SIZE_MAX / 2 - b->len) {
        b->failed = true;
        return false;
    }
    want = b->len + n + 1; /* room for the terminating NUL */
    if (want <= b->cap)
        return true;
    cap = b->cap ? b->cap : 256;
    while (cap < want)
        cap *= 2;
    p = realloc(b->data, cap);
    if (p == NULL) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void
cdc_buf_put_slow(cdc_buf *b, const void *p, size_t n)
{
    if (b->drain != NULL && n > b->drain_at) {
        /* Too large to be worth a copy: straight through, after what is buffered. */
        if (!b->failed && buf_drain(b) && b->drain(b->drain_arg, p, n) < 0)
            b->failed = true;
        return;
    }
    if (!cdc_buf_reserve(b, n))
        return;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void
cdc_buf_putc_slow(cdc_buf *b, char c)
{
    if (!cdc_buf_reserve(b, 1))
        return;
    b->data[b->len++] = (uint8_t) c;
    b->data[b->len] = '\0';
}

void
cdc_buf_put_u8(cdc_buf *b, uint8_t v)
{
    cdc_buf_putc(b, (char) v);
}

void
cdc_buf_put_u16be(cdc_buf *b, uint16_t v)
{
    uint8_t x[2] = { (uint8_t) (v >> 8), (uint8_t) v };

    cdc_buf_put(b, x, 2);
}

void
cdc_buf_put_u32be(cdc_buf *b, uint32_t v)
{
    uint8_t x[4] = { (uint8_t) (v >> 24), (uint8_t) (v >> 16), (uint8_t) (v >> 8), (uint8_t) v };

    cdc_buf_put(b, x, 4);
}

void
cdc_buf_put_u64be(cdc_buf *b, uint64_t v)
{
    cdc_buf_put_u32be(b, (uint32_t) (v >> 32));
    cdc_buf_put_u32be(b, (uint32_t) v);
}

void
cdc_buf_printf(cdc_buf *b, const char *fmt, ...)
{
    va_list ap;
    int     n;

    if (b->failed)
        return;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if (!cdc_buf_reserve(b, (size_t) n))
        return;
    va_start(ap, fmt);
    vsnprintf((char *) b->data + b->len, (size_t) n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t) n;
}

/*
 * The eight decimal digits of x < 10^8 as the numbers 0-9, one per byte,
 * the most significant in the lowest byte: three multiply-shift steps on
 * all lanes at once (4+4 digits, then 2+2, then 1+1), instead of a chain
 * of divisions per digit pair.  The constants are exact for every x < 10^8
 * (checked exhaustively when written; test_core.c checks every power of ten
 * and its neighbours, and a sample).
 */
static inline uint64_t
dec8(uint32_t x)
{
    uint64_t v = x + ((UINT64_C(1) << 32) - 10000) * (((uint64_t) x * 0x68DB8BB) >> 40);

    v += ((UINT64_C(1) << 16) - 100) * (((v * 0x147B) >> 19) & UINT64_C(0x7F0000007F));
    v += ((UINT64_C(1) << 8) - 10) * (((v * 0x67) >> 10) & UINT64_C(0xF000F000F000F));
    return __builtin_bswap64(v);
}

/* Stores the 8 bytes of w, its lowest first, at p. */
static inline void
store8(uint8_t *p, uint64_t w)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    memcpy(p, &w, 8);
}

#define ASCII0 UINT64_C(0x3030303030303030)

/* Writes v in decimal at p, which has room for 24 bytes; returns the digits written. */
static size_t
u64_dec(uint8_t *p, uint64_t v)
{
    uint32_t top, mid = 0, lo = 0;
    int      nlow;                      /* full 8-digit groups after the top one */
    uint64_t d;
    size_t   lz, n;

    if (v < 100000000) {
        top = (uint32_t) v;
        nlow = 0;
    } else if (v < UINT64_C(10000000000000000)) {
        top = (uint32_t) (v / 100000000);
        lo = (uint32_t) (v % 100000000);
        nlow = 1;
    } else {
        uint64_t q = v / 100000000;

        lo = (uint32_t) (v % 100000000);
        top = (uint32_t) (q / 100000000);
        mid = (uint32_t) (q % 100000000);
        nlow = 2;
    }
    d = dec8(top);
    lz = d ? (size_t) __builtin_ctzll(d) / 8 : 7;     /* leading zero digits; "0" keeps one */
    store8(p, (d + ASCII0) >> (8 * lz));
    n = 8 - lz;
    if (nlow == 2) {
        store8(p + n, dec8(mid) + ASCII0);
        n += 8;
    }
    if (nlow >= 1) {
        store8(p + n, dec8(lo) + ASCII0);
        n += 8;
    }
    return n;
}

void
cdc_buf_put_u64(cdc_buf *b, uint64_t v)
{
    uint8_t tmp[24];

    if (cdc_buf_room(b, sizeof(tmp))) {   /* straight into the buffer */
        b->len += u64_dec(b->data + b->len, v);
        b->data[b->len] = '\0';
        return;
    }
    cdc_buf_put(b, tmp, u64_dec(tmp, v));
}

void
cdc_buf_put_i64(cdc_buf *b, int64_t v)
{
    if (v < 0) {
        cdc_buf_putc(b, '-');
        /* negate in unsigned arithmetic so INT64_MIN is well defined */
        cdc_buf_put_u64(b, (uint64_t) 0 - (uint64_t) v);
    } else {
        cdc_buf_put_u64(b, (uint64_t) v);
    }
}

void
cdc_buf_reset(cdc_buf *b)
{
    b->len = 0;
    b->failed = false;
    if (b->data)
        b->data[0] = '\0';
}

void
cdc_buf_free(cdc_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
    cdc_buf_set_drain(b, NULL, NULL, 0);
}
