/*
 * A Parquet file writer of our own (Debian ships no Parquet library), for the
 * Iceberg sink's data files.  Flat columns and lists of primitives, a field
 * id on every schema element, PLAIN and dictionary encodings, V1 data pages,
 * zstd, snappy or no compression, and per-column statistics in a form the
 * manifest writer can use.  docs/parquet.md says what is written and why.
 *
 * Use: parquet_writer_new() with the columns and options; for every row one
 * value per column, in any column order (parquet_put_*, or for a list column
 * parquet_list_begin, its elements through parquet_put_*, parquet_list_end),
 * then parquet_end_row(); parquet_close() writes the footer and fills a
 * parquet_result.  Row groups are closed by size as rows come and go to the
 * sink at once; nothing of a closed row group stays in memory but its
 * metadata.
 *
 * Errors come in two kinds.  A value or call the writer refuses (a value of
 * the wrong kind, a null in a required column, a decimal or int16 out of
 * range, a row with a column missing: CDC_E_INVAL) leaves no trace: put
 * another value for that column (a null, say) or take the whole row back with
 * parquet_abort_row().  A failure of the sink, of memory or of compression
 * leaves the writer failed: every later call returns -1 with the same message
 * and the file is unusable.
 *
 * @locality one thread at a time per writer.
 */
#ifndef CDC_SINKS_ICEBERG_PARQUET_PARQUET_H
#define CDC_SINKS_ICEBERG_PARQUET_PARQUET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_err.h"

/* What a column holds; each kind has one physical type and annotation (docs/parquet.md). */
typedef enum parquet_kind {
    PARQUET_BOOLEAN = 1,    /* BOOLEAN */
    PARQUET_INT32,          /* INT32 (Iceberg int) */
    PARQUET_INT64,          /* INT64 (Iceberg long) */
    PARQUET_FLOAT,          /* FLOAT */
    PARQUET_DOUBLE,         /* DOUBLE */
    PARQUET_STRING,         /* BYTE_ARRAY, STRING (UTF8) */
    PARQUET_BINARY,         /* BYTE_ARRAY */
    PARQUET_FIXED,          /* FIXED_LEN_BYTE_ARRAY(fixed_len) */
    PARQUET_DECIMAL,        /* INT32 (p <= 9), INT64 (p <= 18), FIXED (minimal bytes), DECIMAL(p,s) */
    PARQUET_DATE,           /* INT32, DATE: days since 1970-01-01 */
    PARQUET_TIME_US,        /* INT64, TIME(MICROS, isAdjustedToUTC=false) */
    PARQUET_TIMESTAMP_US,   /* INT64, TIMESTAMP(MICROS, isAdjustedToUTC=false): Iceberg timestamp */
    PARQUET_TIMESTAMPTZ_US, /* INT64, TIMESTAMP(MICROS, isAdjustedToUTC=true): Iceberg timestamptz */
    PARQUET_UUID,           /* FIXED_LEN_BYTE_ARRAY(16), UUID */
    PARQUET_INT8,           /* INT32, INTEGER(8, signed): not an Iceberg type, see docs */
    PARQUET_INT16,          /* INT32, INTEGER(16, signed): not an Iceberg type, see docs */
} parquet_kind;

/* Parquet's physical types (parquet.thrift Type). */
typedef enum parquet_physical {
    PARQUET_PT_BOOLEAN = 0,
    PARQUET_PT_INT32 = 1,
    PARQUET_PT_INT64 = 2,
    PARQUET_PT_FLOAT = 4,
    PARQUET_PT_DOUBLE = 5,
    PARQUET_PT_BYTE_ARRAY = 6,
    PARQUET_PT_FIXED = 7,
} parquet_physical;

typedef enum parquet_codec {
    PARQUET_ZSTD = 0,       /* the default, as Iceberg's write.parquet.compression-codec */
    PARQUET_SNAPPY,
    PARQUET_UNCOMPRESSED,
} parquet_codec;

/*
 * One column of the schema.  A list column (is_list) is Iceberg's three-level
 * list: `<optional?> group name (LIST) = field_id { repeated group list {
 * <element_optional?> <kind> element = element_field_id } }`; kind and its
 * parameters then describe the element.
 */
typedef struct parquet_column {
    const char  *name;
    parquet_kind kind;
    int32_t      field_id;      /* Iceberg's field id: > 0 (written on the element) */
    bool         optional;      /* may be null */
    int32_t      precision;     /* PARQUET_DECIMAL: 1..38 */
    int32_t      scale;         /* PARQUET_DECIMAL: 0..precision */
    int32_t      fixed_len;     /* PARQUET_FIXED: 1.. */
    bool         is_list;
    int32_t      element_field_id;  /* is_list: > 0 */
    bool         element_optional;  /* is_list: elements may be null */
} parquet_column;

typedef struct parquet_kv {
    const char *key;
    const char *value;
} parquet_kv;

/* Receives the file's bytes in order; returns 0, or -1 with err set. */
typedef int parquet_sink_fn(void *arg, const uint8_t *p, size_t n, cdc_err *err);

typedef struct parquet_options {
    parquet_codec codec;
    int           zstd_level;       /* 0: 3 */
    size_t        row_group_bytes;  /* close a row group at this estimated size; 0: 128 MiB */
    size_t        page_bytes;       /* close a data page at this raw size; 0: 1 MiB */
    size_t        dict_max_bytes;   /* a column chunk's dictionary past this falls back to
                                       PLAIN; 0: 1 MiB */
    bool          no_dictionary;    /* PLAIN only */
    const parquet_kv *kv;           /* the footer's key_value_metadata (e.g. iceberg.schema) */
    size_t        nkv;
    parquet_sink_fn *sink;          /* where the bytes go ... */
    void            *sink_arg;
    cdc_buf         *sink_buf;      /* ... or appended here when sink is NULL */
} parquet_options;

/*
 * Statistics of one leaf column over the whole file.  min and max are in
 * Parquet's PLAIN form without length prefix: little-endian for BOOLEAN (1
 * byte), INT32, INT64, FLOAT, DOUBLE (so also decimals of precision <= 18,
 * dates, times, timestamps); the bytes themselves for strings, binary, UUID,
 * fixed and decimals of precision > 18 (big-endian two's complement).
 * Floating point bounds leave NaN out (nan_count counts them); a zero min is
 * -0.0 and a zero max +0.0.  has_bounds is false when there was no non-null,
 * non-NaN value.  For a list column the values are the elements.
 */
typedef struct parquet_col_stats {
    const char *name;           /* the column's name (the writer's copy) */
    int32_t     field_id;       /* of the leaf: the element's for a list */
    int64_t     value_count;    /* values and nulls (for a list: level entries) */
    int64_t     null_count;     /* entries without a value: null values, null or empty lists */
    int64_t     nan_count;
    int64_t     compressed_size;    /* this column's pages in the file, headers included */
    int64_t     uncompressed_size;
    bool        has_bounds;
    uint8_t    *min, *max;
    size_t      min_len, max_len;
} parquet_col_stats;

typedef struct parquet_result {
    uint64_t           file_size;
    int64_t            row_count;
    size_t             ncols;
    parquet_col_stats *cols;
    size_t             nrow_groups;
    int64_t           *split_offsets;   /* each row group's first byte (Iceberg's split_offsets) */
} parquet_result;

typedef struct parquet_writer parquet_writer;

/* The column and options are copied.  Returns NULL with err set on a bad schema. */
parquet_writer *parquet_writer_new(const parquet_column *cols, size_t ncols,
                                   const parquet_options *opts, cdc_err *err);
/* NULL is a no-op.  Frees without writing a footer (an abandoned file). */
void parquet_writer_free(parquet_writer *w);

/* One value of column col (its index in the schema) for the current row. */
int parquet_put_null(parquet_writer *w, size_t col, cdc_err *err);
int parquet_put_bool(parquet_writer *w, size_t col, bool v, cdc_err *err);
/* INT32, INT8, INT16, DATE, DECIMAL (the unscaled value) */
int parquet_put_i32(parquet_writer *w, size_t col, int32_t v, cdc_err *err);
/* INT64, TIME_US, TIMESTAMP(TZ)_US, DECIMAL (the unscaled value); also INT32 kinds in range */
int parquet_put_i64(parquet_writer *w, size_t col, int64_t v, cdc_err *err);
int parquet_put_float(parquet_writer *w, size_t col, float v, cdc_err *err);
int parquet_put_double(parquet_writer *w, size_t col, double v, cdc_err *err);
/*
 * STRING (checked to be UTF-8), BINARY, FIXED and UUID (exactly their length),
 * DECIMAL: the unscaled value as big-endian two's complement of 1..16 bytes.
 */
int parquet_put_bytes(parquet_writer *w, size_t col, const void *p, size_t n, cdc_err *err);

/* A list value of list column col: its elements (parquet_put_*) follow, then list_end. */
int parquet_list_begin(parquet_writer *w, size_t col, cdc_err *err);
int parquet_list_end(parquet_writer *w, size_t col, cdc_err *err);

/* Ends the row: every column must have its value.  May close a row group. */
int parquet_end_row(parquet_writer *w, cdc_err *err);

/*
 * Takes back every value of the current row (a bad value found half-way, the
 * row off to the dead letters); the next put starts the row again.  Counts and
 * bounds never saw it.  Fails only on a failed writer.
 */
int parquet_abort_row(parquet_writer *w, cdc_err *err);

/* Rows so far, and the file's size if it were closed now (an estimate). */
int64_t  parquet_rows(const parquet_writer *w);
uint64_t parquet_estimated_size(const parquet_writer *w);

/*
 * Closes the last row group, writes the footer, and fills res (free it with
 * parquet_result_free).  The writer must still be freed.
 */
int parquet_close(parquet_writer *w, parquet_result *res, cdc_err *err);
void parquet_result_free(parquet_result *res);

const char *parquet_kind_name(parquet_kind k);

#endif
