/*
 * Thrift compact protocol encoder: see parquet_thrift.h.
 */
#include "sinks/iceberg/parquet/parquet_thrift.h"

#include <string.h>

void
parquet_thrift_init(parquet_thrift *t, cdc_buf *out)
{
    memset(t, 0, sizeof(*t));
    t->out = out;
}

void
parquet_thrift_varint(cdc_buf *out, uint64_t v)
{
    uint8_t b[10];
    size_t  n = 0;

    while (v >= 0x80) {
        b[n++] = (uint8_t) (v | 0x80);
        v >>= 7;
    }
    b[n++] = (uint8_t) v;
    cdc_buf_put(out, b, n);
}

uint64_t
parquet_thrift_zigzag(int64_t v)
{
    return ((uint64_t) v << 1) ^ (uint64_t) (v >> 63);
}

void
parquet_thrift_field_header(parquet_thrift *t, int16_t id, uint8_t type)
{
    int16_t last = t->last[t->depth];
    int     delta = (int) id - (int) last;

    if (delta > 0 && delta <= 15) {
        cdc_buf_put_u8(t->out, (uint8_t) ((delta << 4) | type));
    } else {
        cdc_buf_put_u8(t->out, type);
        parquet_thrift_varint(t->out, parquet_thrift_zigzag(id));
    }
    t->last[t->depth] = id;
}

void
parquet_thrift_bool(parquet_thrift *t, int16_t id, bool v)
{
    /* A boolean field has no value byte: the type code is the value. */
    parquet_thrift_field_header(t, id, v ? PARQUET_TT_BOOL_TRUE : PARQUET_TT_BOOL_FALSE);
}

void
parquet_thrift_i8(parquet_thrift *t, int16_t id, int8_t v)
{
    parquet_thrift_field_header(t, id, PARQUET_TT_I8);
    cdc_buf_put_u8(t->out, (uint8_t) v);
}

void
parquet_thrift_i16(parquet_thrift *t, int16_t id, int16_t v)
{
    parquet_thrift_field_header(t, id, PARQUET_TT_I16);
    parquet_thrift_varint(t->out, parquet_thrift_zigzag(v));
}

void
parquet_thrift_i32(parquet_thrift *t, int16_t id, int32_t v)
{
    parquet_thrift_field_header(t, id, PARQUET_TT_I32);
    parquet_thrift_varint(t->out, parquet_thrift_zigzag(v));
}

void
parquet_thrift_i64(parquet_thrift *t, int16_t id, int64_t v)
{
    parquet_thrift_field_header(t, id, PARQUET_TT_I64);
    parquet_thrift_varint(t->out, parquet_thrift_zigzag(v));
}

void
parquet_thrift_binary(parquet_thrift *t, int16_t id, const void *p, size_t n)
{
    parquet_thrift_field_header(t, id, PARQUET_TT_BINARY);
    parquet_thrift_elem_binary(t, p, n);
}

void
parquet_thrift_string(parquet_thrift *t, int16_t id, const char *s)
{
    parquet_thrift_binary(t, id, s, strlen(s));
}

static void
push(parquet_thrift *t)
{
    if (t->depth + 1 >= PARQUET_THRIFT_MAX_DEPTH) {
        t->overflow = true;
        return;
    }
    t->depth++;
    t->last[t->depth] = 0;
}

void
parquet_thrift_struct(parquet_thrift *t, int16_t id)
{
    parquet_thrift_field_header(t, id, PARQUET_TT_STRUCT);
    push(t);
}

void
parquet_thrift_empty(parquet_thrift *t, int16_t id)
{
    parquet_thrift_field_header(t, id, PARQUET_TT_STRUCT);
    cdc_buf_put_u8(t->out, 0);
}

void
parquet_thrift_list(parquet_thrift *t, int16_t id, uint8_t elem_type, size_t n)
{
    parquet_thrift_field_header(t, id, PARQUET_TT_LIST);
    if (n < 15) {
        cdc_buf_put_u8(t->out, (uint8_t) ((n << 4) | elem_type));
    } else {
        cdc_buf_put_u8(t->out, (uint8_t) (0xF0 | elem_type));
        parquet_thrift_varint(t->out, n);
    }
}

void
parquet_thrift_elem_i32(parquet_thrift *t, int32_t v)
{
    parquet_thrift_varint(t->out, parquet_thrift_zigzag(v));
}

void
parquet_thrift_elem_i64(parquet_thrift *t, int64_t v)
{
    parquet_thrift_varint(t->out, parquet_thrift_zigzag(v));
}

void
parquet_thrift_elem_binary(parquet_thrift *t, const void *p, size_t n)
{
    parquet_thrift_varint(t->out, n);
    if (n > 0)
        cdc_buf_put(t->out, p, n);
}

void
parquet_thrift_elem_struct(parquet_thrift *t)
{
    push(t);
}

void
parquet_thrift_end(parquet_thrift *t)
{
    cdc_buf_put_u8(t->out, 0);
    if (t->depth > 0)
        t->depth--;
}

bool
parquet_thrift_failed(const parquet_thrift *t)
{
    return t->overflow || cdc_buf_failed(t->out);
}

/* ---------------------------------------------------------------- decoding */

void
parquet_thrift_rd_init(parquet_thrift_rd *r, const uint8_t *p, size_t n)
{
    memset(r, 0, sizeof(*r));
    r->p = p;
    r->end = p + n;
}

bool
parquet_thrift_rd_failed(const parquet_thrift_rd *r)
{
    return r->bad != NULL;
}

void
parquet_thrift_rd_fail(parquet_thrift_rd *r, const char *why)
{
    if (r->bad == NULL)
        r->bad = why;
    r->p = r->end;
}

size_t
parquet_thrift_rd_used(const parquet_thrift_rd *r, const uint8_t *start)
{
    return (size_t) (r->p - start);
}

static uint8_t
rd_byte(parquet_thrift_rd *r)
{
    if (r->bad != NULL)
        return 0;
    if (r->p >= r->end) {
        parquet_thrift_rd_fail(r, "Thrift data cut short");
        return 0;
    }
    return *r->p++;
}

uint64_t
parquet_thrift_rd_varint(parquet_thrift_rd *r)
{
    uint64_t v = 0;

    for (int shift = 0; shift < 70; shift += 7) {
        uint8_t b = rd_byte(r);

        if (r->bad != NULL)
            return 0;
        if (shift == 63 && (b & 0x7e) != 0) {
            parquet_thrift_rd_fail(r, "Thrift varint too long");
            return 0;
        }
        v |= (uint64_t) (b & 0x7f) << shift;
        if ((b & 0x80) == 0)
            return v;
    }
    parquet_thrift_rd_fail(r, "Thrift varint too long");
    return 0;
}

int64_t
parquet_thrift_rd_int(parquet_thrift_rd *r)
{
    uint64_t z = parquet_thrift_rd_varint(r);

    return (int64_t) (z >> 1) ^ -(int64_t) (z & 1);
}

int32_t
parquet_thrift_rd_i32(parquet_thrift_rd *r)
{
    int64_t v = parquet_thrift_rd_int(r);

    if (v < INT32_MIN || v > INT32_MAX) {
        parquet_thrift_rd_fail(r, "Thrift i32 out of range");
        return 0;
    }
    return (int32_t) v;
}

int8_t
parquet_thrift_rd_i8(parquet_thrift_rd *r)
{
    return (int8_t) rd_byte(r);
}

const uint8_t *
parquet_thrift_rd_binary(parquet_thrift_rd *r, size_t *n)
{
    uint64_t       len = parquet_thrift_rd_varint(r);
    const uint8_t *p;

    *n = 0;
    if (r->bad != NULL)
        return (const uint8_t *) "";
    if (len > (uint64_t) (r->end - r->p)) {
        parquet_thrift_rd_fail(r, "Thrift binary longer than the data");
        return (const uint8_t *) "";
    }
    p = r->p;
    r->p += len;
    *n = (size_t) len;
    return p;
}

void
parquet_thrift_rd_list(parquet_thrift_rd *r, uint8_t *elem_type, size_t *n)
{
    uint8_t  h = rd_byte(r);
    uint64_t size = h >> 4;

    *elem_type = h & 0x0f;
    *n = 0;
    if (size == 15)
        size = parquet_thrift_rd_varint(r);
    if (r->bad != NULL)
        return;
    /* Every element takes a byte at least (booleans in lists do too). */
    if (size > (uint64_t) (r->end - r->p)) {
        parquet_thrift_rd_fail(r, "Thrift list longer than the data");
        return;
    }
    *n = (size_t) size;
}

void
parquet_thrift_rd_struct(parquet_thrift_rd *r)
{
    if (r->bad != NULL)
        return;
    if (r->depth + 1 >= PARQUET_THRIFT_MAX_DEPTH) {
        parquet_thrift_rd_fail(r, "Thrift structs nested too deep");
        return;
    }
    r->depth++;
    r->last[r->depth] = 0;
}

bool
parquet_thrift_rd_field(parquet_thrift_rd *r, int16_t *id, uint8_t *type)
{
    uint8_t h = rd_byte(r);
    int     delta;

    *id = 0;
    *type = 0;
    if (r->bad != NULL)
        return false;
    if (h == 0) {
        if (r->depth > 0)
            r->depth--;
        return false;
    }
    *type = h & 0x0f;
    delta = h >> 4;
    if (delta != 0) {
        int v = r->last[r->depth] + delta;

        if (v > INT16_MAX) {
            parquet_thrift_rd_fail(r, "Thrift field id out of range");
            return false;
        }
        *id = (int16_t) v;
    } else {
        int64_t v = parquet_thrift_rd_int(r);

        if (v < INT16_MIN || v > INT16_MAX) {
            parquet_thrift_rd_fail(r, "Thrift field id out of range");
            return false;
        }
        *id = (int16_t) v;
    }
    if (*type == 0 || *type > PARQUET_TT_STRUCT) {
        parquet_thrift_rd_fail(r, "Thrift field of an unknown type");
        return false;
    }
    r->last[r->depth] = *id;
    return r->bad == NULL;
}

static void
skip_depth(parquet_thrift_rd *r, uint8_t type, int depth)
{
    if (r->bad != NULL)
        return;
    if (depth > PARQUET_THRIFT_MAX_DEPTH) {
        parquet_thrift_rd_fail(r, "Thrift values nested too deep");
        return;
    }
    switch (type) {
    case PARQUET_TT_BOOL_TRUE:
    case PARQUET_TT_BOOL_FALSE:
        return;     /* a field's value is in its type (list elements: see below) */
    case PARQUET_TT_I8:
        (void) rd_byte(r);
        return;
    case PARQUET_TT_I16:
    case PARQUET_TT_I32:
    case PARQUET_TT_I64:
        (void) parquet_thrift_rd_varint(r);
        return;
    case PARQUET_TT_DOUBLE:
        for (int i = 0; i < 8; i++)
            (void) rd_byte(r);
        return;
    case PARQUET_TT_BINARY: {
        size_t n;

        (void) parquet_thrift_rd_binary(r, &n);
        return;
    }
    case PARQUET_TT_LIST:
    case PARQUET_TT_SET: {
        uint8_t et;
        size_t  n;

        parquet_thrift_rd_list(r, &et, &n);
        for (size_t i = 0; i < n && r->bad == NULL; i++) {
            if (et == PARQUET_TT_BOOL_TRUE || et == PARQUET_TT_BOOL_FALSE)
                (void) rd_byte(r);  /* a boolean element is a byte */
            else
                skip_depth(r, et, depth + 1);
        }
        return;
    }
    case PARQUET_TT_MAP: {
        uint64_t n = parquet_thrift_rd_varint(r);
        uint8_t  kv;

        if (n == 0 || r->bad != NULL)
            return;
        if (n > (uint64_t) (r->end - r->p)) {
            parquet_thrift_rd_fail(r, "Thrift map longer than the data");
            return;
        }
        kv = rd_byte(r);
        for (uint64_t i = 0; i < n && r->bad == NULL; i++) {
            skip_depth(r, kv >> 4, depth + 1);
            skip_depth(r, kv & 0x0f, depth + 1);
        }
        return;
    }
    case PARQUET_TT_STRUCT: {
        int16_t id;
        uint8_t ft;

        parquet_thrift_rd_struct(r);
        while (parquet_thrift_rd_field(r, &id, &ft))
            skip_depth(r, ft, depth + 1);
        return;
    }
    default:
        parquet_thrift_rd_fail(r, "Thrift value of an unknown type");
        return;
    }
}

void
parquet_thrift_rd_skip(parquet_thrift_rd *r, uint8_t type)
{
    skip_depth(r, type, 0);
}
