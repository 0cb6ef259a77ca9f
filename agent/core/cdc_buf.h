/*
 * A growable byte buffer whose appends never fail loudly: the first failed
 * allocation sets a sticky `failed` bit, later appends do nothing, and the
 * caller checks cdc_buf_failed() once at the end (pgbouncer's PktBuf,
 * libpq's PQExpBuffer).  The data is always NUL-terminated when not failed,
 * so a buffer of text can be handed to C string functions.
 */
#ifndef CDC_AGENT_CORE_CDC_BUF_H
#define CDC_AGENT_CORE_CDC_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent/core/cdc_err.h"

/* Takes n bytes the buffer hands on; returns 0, or -1 (the buffer then fails). */
typedef int cdc_buf_drain_fn(void *arg, const uint8_t *p, size_t n);

typedef struct cdc_buf {
    uint8_t *data;
    size_t   len;
    size_t   cap;
    bool     failed;
    /* Optional, see cdc_buf_set_drain(); all zero in CDC_BUF_INIT. */
    cdc_buf_drain_fn *drain;
    void             *drain_arg;
    size_t            drain_at;
} cdc_buf;

#define CDC_BUF_INIT { NULL, 0, 0, false, NULL, NULL, 0 }

/* Makes room for n more bytes; returns false (and sets failed) if it cannot. */
bool cdc_buf_reserve(cdc_buf *b, size_t n);
/* cdc_buf_put and cdc_buf_putc when the bytes do not fit as they are (grow, drain, fail). */
void cdc_buf_put_slow(cdc_buf *b, const void *p, size_t n);
void cdc_buf_putc_slow(cdc_buf *b, char c);

/* True when n more bytes (and the NUL) fit without growing or draining. */
static inline bool
cdc_buf_room(const cdc_buf *b, size_t n)
{
    return n < b->cap - b->len && !b->failed && (b->drain == NULL || b->len + n <= b->drain_at);
}

/*
 * The appends are inline for the event encoders, which make several per
 * value (docs/snapshots.md, Benchmark): the fast path is a copy, and a
 * string literal's strlen is folded by the compiler.
 */
static inline void
cdc_buf_put(cdc_buf *b, const void *p, size_t n)
{
    if (cdc_buf_room(b, n)) {
        if (n)      /* p may be NULL then */
            memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
    } else {
        cdc_buf_put_slow(b, p, n);
    }
}

static inline void
cdc_buf_puts(cdc_buf *b, const char *s)
{
    cdc_buf_put(b, s, strlen(s));
}

static inline void
cdc_buf_putc(cdc_buf *b, char c)
{
    if (cdc_buf_room(b, 1)) {
        b->data[b->len++] = (uint8_t) c;
        b->data[b->len] = '\0';
    } else {
        cdc_buf_putc_slow(b, c);
    }
}

void cdc_buf_put_u8(cdc_buf *b, uint8_t v);
void cdc_buf_put_u16be(cdc_buf *b, uint16_t v);
void cdc_buf_put_u32be(cdc_buf *b, uint32_t v);
void cdc_buf_put_u64be(cdc_buf *b, uint64_t v);
void cdc_buf_printf(cdc_buf *b, const char *fmt, ...) CDC_PRINTF(2, 3);
/* Appends v in decimal. */
void cdc_buf_put_i64(cdc_buf *b, int64_t v);
void cdc_buf_put_u64(cdc_buf *b, uint64_t v);

/*
 * With a drain set, the buffer never grows much past `at` bytes: an append
 * that would take it past `at` first hands everything buffered to fn and
 * empties the buffer, and an append of more than `at` bytes goes to fn
 * directly, without being copied.  This is how an encoder writes a value of
 * hundreds of megabytes through a small buffer.  Only appends drain, so
 * anyone who keeps an offset into the data (to rewind a half-written
 * record, say) must expect it to have gone when a drain is set.  fn NULL
 * removes the drain.
 */
void cdc_buf_set_drain(cdc_buf *b, cdc_buf_drain_fn *fn, void *arg, size_t at);

/* Empties the buffer, keeps its memory and clears failed. */
void cdc_buf_reset(cdc_buf *b);
void cdc_buf_free(cdc_buf *b);

static inline bool
cdc_buf_failed(const cdc_buf *b)
{
    return b->failed;
}

/* The contents as a C string ("" when empty). */
static inline const char *
cdc_buf_str(const cdc_buf *b)
{
    return b->data ? (const char *) b->data : "";
}

/* The value of one hexadecimal digit (either case), or -1. */
static inline int
cdc_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
