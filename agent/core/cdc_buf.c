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
 * An event repeats most of its numbers from the one before (a snapshot's LSN,
 * xid and source times; a transaction's commit position): the last
 * conversions, per thread, direct-mapped by a hash of the value.
 */
typedef struct u64_memo {
    uint64_t v;
    uint8_t  n;             /* 0: empty */
    char     s[20];         /* UINT64_MAX has 20 digits */
} u64_memo;

void
cdc_buf_put_u64(cdc_buf *b, uint64_t v)
{
    static const char pairs[] =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
        "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";
    static _Thread_local u64_memo memo[16];
    u64_memo *m = &memo[(v * 0x9E3779B97F4A7C15ull) >> 60];
    char      tmp[24];
    char     *p = tmp + sizeof(tmp);

    if (m->n != 0 && m->v == v) {
        cdc_buf_put(b, m->s, m->n);
        return;
    }
    m->v = v;
    while (v >= 100) {      /* two digits a step: half the divisions */
        unsigned r = (unsigned) (v % 100);

        v /= 100;
        *--p = pairs[2 * r + 1];
        *--p = pairs[2 * r];
    }
    if (v >= 10) {
        *--p = pairs[2 * v + 1];
        *--p = pairs[2 * v];
    } else {
        *--p = (char) ('0' + v);
    }
    m->n = (uint8_t) (tmp + sizeof(tmp) - p);
    memcpy(m->s, p, m->n);
    cdc_buf_put(b, p, m->n);
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
