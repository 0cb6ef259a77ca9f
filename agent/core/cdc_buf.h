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

#include "cdc_err.h"

typedef struct cdc_buf {
    uint8_t *data;
    size_t   len;
    size_t   cap;
    bool     failed;
} cdc_buf;

#define CDC_BUF_INIT { NULL, 0, 0, false }

/* Makes room for n more bytes; returns false (and sets failed) if it cannot. */
bool cdc_buf_reserve(cdc_buf *b, size_t n);
void cdc_buf_put(cdc_buf *b, const void *p, size_t n);
void cdc_buf_puts(cdc_buf *b, const char *s);
void cdc_buf_putc(cdc_buf *b, char c);
void cdc_buf_put_u8(cdc_buf *b, uint8_t v);
void cdc_buf_put_u16be(cdc_buf *b, uint16_t v);
void cdc_buf_put_u32be(cdc_buf *b, uint32_t v);
void cdc_buf_put_u64be(cdc_buf *b, uint64_t v);
void cdc_buf_printf(cdc_buf *b, const char *fmt, ...) CDC_PRINTF(2, 3);
/* Appends v in decimal. */
void cdc_buf_put_i64(cdc_buf *b, int64_t v);
void cdc_buf_put_u64(cdc_buf *b, uint64_t v);

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

#endif
