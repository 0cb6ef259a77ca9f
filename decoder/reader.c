/*
 * The bounded reader of reader.h.  Reads never run past `end`: each checks
 * the length first and, on a short message, records "message truncated" at
 * the offset where the read began and jumps the cursor to the end, so the
 * remaining reads of a message reader all fail cheaply and return zeroes.
 */
#include "decoder/reader.h"

#include <string.h>

void
pgo_rd_init(pgo_rd *rd, const uint8_t *data, size_t len)
{
    rd->start = data;
    rd->p = data;
    rd->end = data + len;
    rd->fail = NULL;
    rd->fail_at = 0;
    rd->fail_byte = -1;
    rd->in_stream = false;
}

size_t
pgo_rd_offset(const pgo_rd *rd)
{
    return (size_t) (rd->p - rd->start);
}

size_t
pgo_rd_left(const pgo_rd *rd)
{
    return rd->fail ? 0 : (size_t) (rd->end - rd->p);
}

int
pgo_rd_fail(pgo_rd *rd, const char *what)
{
    return pgo_rd_fail_at(rd, pgo_rd_offset(rd), what);
}

int
pgo_rd_fail_at(pgo_rd *rd, size_t at, const char *what)
{
    if (rd->fail == NULL) {
        rd->fail = what;
        rd->fail_at = at;
        rd->fail_byte = -1;
    }
    rd->p = rd->end;
    return -1;
}

int
pgo_rd_reject(pgo_rd *rd, size_t at, const char *what)
{
    if (rd->fail == NULL) {
        rd->fail = what;
        rd->fail_at = at;
        rd->fail_byte = at < (size_t) (rd->end - rd->start) ? rd->start[at] : -1;
    }
    rd->p = rd->end;
    return -1;
}

int
pgo_rd_finish(pgo_rd *rd)
{
    if (rd->fail != NULL)
        return -1;
    if (rd->p != rd->end)
        return pgo_rd_fail(rd, "trailing bytes after message");
    return 0;
}

/*
 * Returns the next n bytes and advances, or NULL (recording the failure)
 * when fewer than n are left or the reader has already failed.
 */
static const uint8_t *
rd_take(pgo_rd *rd, size_t n)
{
    const uint8_t *at = rd->p;

    if (rd->fail != NULL)
        return NULL;
    if ((size_t) (rd->end - rd->p) < n) {
        pgo_rd_fail(rd, "message truncated");
        return NULL;
    }
    rd->p += n;
    return at;
}

uint8_t
pgo_rd_u8(pgo_rd *rd)
{
    const uint8_t *b = rd_take(rd, 1);

    return b ? b[0] : 0;
}

uint16_t
pgo_rd_u16(pgo_rd *rd)
{
    const uint8_t *b = rd_take(rd, 2);

    return b ? (uint16_t) ((b[0] << 8) | b[1]) : 0;
}

uint32_t
pgo_rd_u32(pgo_rd *rd)
{
    const uint8_t *b = rd_take(rd, 4);

    if (b == NULL)
        return 0;
    return ((uint32_t) b[0] << 24) | ((uint32_t) b[1] << 16) | ((uint32_t) b[2] << 8) |
           (uint32_t) b[3];
}

uint64_t
pgo_rd_u64(pgo_rd *rd)
{
    uint64_t hi = pgo_rd_u32(rd);
    uint64_t lo = pgo_rd_u32(rd);

    return (hi << 32) | lo;
}

/* Two's complement on the wire; the conversion through uint is well defined. */
int32_t
pgo_rd_i32(pgo_rd *rd)
{
    uint32_t v = pgo_rd_u32(rd);

    return v <= INT32_MAX ? (int32_t) v : (int32_t) (v - (uint32_t) INT32_MAX - 1u) + INT32_MIN;
}

int64_t
pgo_rd_i64(pgo_rd *rd)
{
    uint64_t v = pgo_rd_u64(rd);

    return v <= INT64_MAX ? (int64_t) v : (int64_t) (v - (uint64_t) INT64_MAX - 1u) + INT64_MIN;
}

const char *
pgo_rd_cstr(pgo_rd *rd)
{
    const uint8_t *nul;
    const char    *s;

    if (rd->fail != NULL)
        return "";
    nul = memchr(rd->p, '\0', (size_t) (rd->end - rd->p));
    if (nul == NULL) {
        pgo_rd_fail(rd, "string not terminated before end of message");
        return "";
    }
    s = (const char *) rd->p;
    rd->p = nul + 1;
    return s;
}

const uint8_t *
pgo_rd_bytes(pgo_rd *rd, size_t n)
{
    return rd_take(rd, n);
}
