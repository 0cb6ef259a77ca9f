/*
 * Thrift's compact protocol, the encoding half, as much of it as Parquet's
 * footer and page headers need (apache/thrift doc/specs/thrift-compact-protocol.md).
 * Writes into a cdc_buf, whose sticky failed bit is the only error.
 *
 * A struct is a run of fields closed by a stop byte.  A field header holds
 * the difference to the previous field id of the same struct when it is 1 to
 * 15, otherwise the id follows as a zigzag varint; so the encoder keeps the
 * last id of every open struct.  Fields must be written in increasing id
 * order (the encoder does not sort them).  A union is a struct with one field.
 */
#ifndef CDC_SINKS_ICEBERG_PARQUET_PARQUET_THRIFT_H
#define CDC_SINKS_ICEBERG_PARQUET_PARQUET_THRIFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_buf.h"

/* The compact protocol's type codes. */
enum {
    PARQUET_TT_BOOL_TRUE = 1,
    PARQUET_TT_BOOL_FALSE = 2,
    PARQUET_TT_I8 = 3,
    PARQUET_TT_I16 = 4,
    PARQUET_TT_I32 = 5,
    PARQUET_TT_I64 = 6,
    PARQUET_TT_DOUBLE = 7,
    PARQUET_TT_BINARY = 8,
    PARQUET_TT_LIST = 9,
    PARQUET_TT_SET = 10,
    PARQUET_TT_MAP = 11,
    PARQUET_TT_STRUCT = 12,
};

#define PARQUET_THRIFT_MAX_DEPTH 16

typedef struct parquet_thrift {
    cdc_buf *out;
    int      depth;                         /* open structs below the outermost */
    int16_t  last[PARQUET_THRIFT_MAX_DEPTH]; /* the last field id of each */
    bool     overflow;                      /* nested deeper than MAX_DEPTH */
} parquet_thrift;

/* Starts the outermost struct's body in out. */
void parquet_thrift_init(parquet_thrift *t, cdc_buf *out);

void parquet_thrift_varint(cdc_buf *out, uint64_t v);
uint64_t parquet_thrift_zigzag(int64_t v);

/* Fields of the current struct. */
void parquet_thrift_field_header(parquet_thrift *t, int16_t id, uint8_t type);
void parquet_thrift_bool(parquet_thrift *t, int16_t id, bool v);
void parquet_thrift_i8(parquet_thrift *t, int16_t id, int8_t v);
void parquet_thrift_i16(parquet_thrift *t, int16_t id, int16_t v);
void parquet_thrift_i32(parquet_thrift *t, int16_t id, int32_t v);
void parquet_thrift_i64(parquet_thrift *t, int16_t id, int64_t v);
void parquet_thrift_binary(parquet_thrift *t, int16_t id, const void *p, size_t n);
void parquet_thrift_string(parquet_thrift *t, int16_t id, const char *s);
/* A struct (or union) field: its fields follow, then parquet_thrift_end(). */
void parquet_thrift_struct(parquet_thrift *t, int16_t id);
/* An empty struct field (the unions' markers: StringType, MicroSeconds...). */
void parquet_thrift_empty(parquet_thrift *t, int16_t id);
/* A list field of n elements of elem_type: the elements follow with the elem_ functions. */
void parquet_thrift_list(parquet_thrift *t, int16_t id, uint8_t elem_type, size_t n);

/* List elements. */
void parquet_thrift_elem_i32(parquet_thrift *t, int32_t v);
void parquet_thrift_elem_i64(parquet_thrift *t, int64_t v);
void parquet_thrift_elem_binary(parquet_thrift *t, const void *p, size_t n);
/* A struct element: its fields follow, then parquet_thrift_end(). */
void parquet_thrift_elem_struct(parquet_thrift *t);

/* Closes the innermost open struct (the outermost one last) with a stop byte. */
void parquet_thrift_end(parquet_thrift *t);

/* Whether anything went wrong: out of memory, or nesting too deep. */
bool parquet_thrift_failed(const parquet_thrift *t);

/* ---- decoding ----
 *
 * The reading half, for footers and page headers written by anyone (input
 * from outside: every length is checked against the end of the input).  The
 * first problem sets `bad` with a short reason and every later call returns
 * zeros; the caller checks parquet_thrift_rd_failed() once per struct it reads.
 * Unknown fields are skipped (parquet_thrift_rd_skip), so newer writers'
 * additions do no harm.
 */
typedef struct parquet_thrift_rd {
    const uint8_t *p, *end;
    int            depth;
    int16_t        last[PARQUET_THRIFT_MAX_DEPTH];
    const char    *bad;     /* NULL, or what went wrong first */
} parquet_thrift_rd;

void parquet_thrift_rd_init(parquet_thrift_rd *r, const uint8_t *p, size_t n);
bool parquet_thrift_rd_failed(const parquet_thrift_rd *r);

/* The next field header of the current struct: false at its stop byte (or on
   failure).  A boolean field's value is in *type (BOOL_TRUE or BOOL_FALSE). */
bool parquet_thrift_rd_field(parquet_thrift_rd *r, int16_t *id, uint8_t *type);
/* Values (of a field whose type was checked by the caller, or of a list element). */
uint64_t parquet_thrift_rd_varint(parquet_thrift_rd *r);
int64_t  parquet_thrift_rd_int(parquet_thrift_rd *r);   /* i16, i32, i64: a zigzag varint */
int32_t  parquet_thrift_rd_i32(parquet_thrift_rd *r);   /* out of range: fails */
int8_t   parquet_thrift_rd_i8(parquet_thrift_rd *r);
/* A binary / string: points into the input (not NUL-terminated). */
const uint8_t *parquet_thrift_rd_binary(parquet_thrift_rd *r, size_t *n);
/* A list header: its element type and size (checked to fit in what is left,
   one byte per element at least, except for booleans). */
void parquet_thrift_rd_list(parquet_thrift_rd *r, uint8_t *elem_type, size_t *n);
/* Enters a struct field or struct element; parquet_thrift_rd_field() returns
   false at its end, which leaves it. */
void parquet_thrift_rd_struct(parquet_thrift_rd *r);
/* Skips a value of the given type (structs, lists, maps and sets included). */
void parquet_thrift_rd_skip(parquet_thrift_rd *r, uint8_t type);
/* Marks the decoder failed with why (a static string), when it is not already. */
void parquet_thrift_rd_fail(parquet_thrift_rd *r, const char *why);
/* Bytes consumed from the start. */
size_t parquet_thrift_rd_used(const parquet_thrift_rd *r, const uint8_t *start);

#endif
