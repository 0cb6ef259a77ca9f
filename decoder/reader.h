/*
 * A bounded reader over one protocol message, for the pgoutput decoder
 * (STYLE.md section 6).  Every read checks the remaining length.  The first
 * failure is kept with its offset (and, for a rejected byte, the byte
 * itself); every later read returns 0, NULL or "" so a message reader can
 * run to its end and check once.  Integers are big-endian, as PostgreSQL's
 * pq_sendint* write them.  No allocation, no I/O.
 *
 * Internal to decoder/: nothing outside the decoder includes this.
 */
#ifndef CDC_DECODER_READER_H
#define CDC_DECODER_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pgo_rd {
    const uint8_t *start, *p, *end;
    const char    *fail;        /* NULL while healthy; the first failure wins */
    size_t         fail_at;     /* offset from start of the failure */
    int            fail_byte;   /* the rejected byte at fail_at, or -1 */
    bool           in_stream;   /* inside STREAM START..STOP: xid precedes relid */
} pgo_rd;

/* Starts reading len bytes at data (borrowed for the reader's lifetime). */
void pgo_rd_init(pgo_rd *rd, const uint8_t *data, size_t len);

/* Fixed-size reads; big-endian; 0 after (or on) failure. */
uint8_t  pgo_rd_u8(pgo_rd *rd);
uint16_t pgo_rd_u16(pgo_rd *rd);
uint32_t pgo_rd_u32(pgo_rd *rd);
uint64_t pgo_rd_u64(pgo_rd *rd);
int32_t  pgo_rd_i32(pgo_rd *rd);
int64_t  pgo_rd_i64(pgo_rd *rd);

/*
 * A NUL-terminated string inside the message (the NUL must come before the
 * end); the pointer is into the message.  "" after failure, never NULL.
 */
const char *pgo_rd_cstr(pgo_rd *rd);

/* n bytes inside the message; NULL after failure (n == 0 gives start of rest). */
const uint8_t *pgo_rd_bytes(pgo_rd *rd, size_t n);

/* Offset of the next byte to read, and bytes left (0 after failure). */
size_t pgo_rd_offset(const pgo_rd *rd);
size_t pgo_rd_left(const pgo_rd *rd);

static inline bool
pgo_rd_ok(const pgo_rd *rd)
{
    return rd->fail == NULL;
}

/* Records a failure at the current offset (unless one is recorded); returns -1. */
int pgo_rd_fail(pgo_rd *rd, const char *what);

/* Records a failure at offset `at` (say, where a bad field began); returns -1. */
int pgo_rd_fail_at(pgo_rd *rd, size_t at, const char *what);

/*
 * Records that the byte at offset `at` (already read) is not allowed there,
 * so the error can name it; returns -1.  A read failure recorded earlier
 * (a truncated message) wins.
 */
int pgo_rd_reject(pgo_rd *rd, size_t at, const char *what);

/* Fails with "trailing bytes after message" unless everything was read; returns 0 or -1. */
int pgo_rd_finish(pgo_rd *rd);

#endif
