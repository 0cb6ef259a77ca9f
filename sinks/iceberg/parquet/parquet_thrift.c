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
