/*
 * A Parquet reader for the files our writer (parquet.h) produces and the
 * flat files pyarrow and Spark write: the footer (FileMetaData, Thrift
 * compact), the schema with field ids and logical types, row groups and
 * column chunks; data pages V1 and V2 and dictionary pages; PLAIN,
 * PLAIN_DICTIONARY / RLE_DICTIONARY and (booleans) RLE values; RLE /
 * bit-packed levels; uncompressed, SNAPPY and ZSTD pages.
 *
 * Lists of primitives (one level of repetition) are read; refused with a
 * message naming the file and the column (CDC_E_UNSUPPORTED): nested repeated
 * columns (lists of lists, maps in lists) "not supported yet", INT96, the DELTA_* and
 * BYTE_STREAM_SPLIT encodings, other codecs (GZIP, LZ4, BROTLI).  Corrupt
 * input gives CDC_E_DECODE naming the file and what is wrong, never a crash:
 * every length, offset, count and index is checked.
 *
 * Use: parquet_reader_open*() reads the footer; parquet_read_ncolumns() /
 * parquet_read_column() describe the leaf columns (find one by field id with
 * parquet_read_find_id()); for every row group (parquet_read_nrow_groups(),
 * parquet_read_rg_rows()) parquet_read_chunk() decodes one column chunk into
 * one parquet_cell per row.  Memory: the footer, plus per chunk read its
 * compressed bytes and decoded pages; nothing else of the file.
 *
 * @locality one thread at a time per reader.
 */
#ifndef CDC_SINKS_ICEBERG_PARQUET_PARQUET_READ_H
#define CDC_SINKS_ICEBERG_PARQUET_PARQUET_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_err.h"
#include "sinks/iceberg/parquet/parquet.h"

/* Parquet's INT96 (legacy timestamps): described, but refused when read. */
#define PARQUET_PT_INT96 3

/* The logical type of a leaf (LogicalType, or the legacy ConvertedType when
   that is all the file has). */
typedef enum parquet_logical {
    PARQUET_LT_NONE = 0,
    PARQUET_LT_STRING,      /* STRING / UTF8, ENUM, JSON */
    PARQUET_LT_DECIMAL,     /* precision, scale */
    PARQUET_LT_DATE,
    PARQUET_LT_TIME,        /* unit, utc */
    PARQUET_LT_TIMESTAMP,   /* unit, utc */
    PARQUET_LT_INTEGER,     /* bit_width, is_signed */
    PARQUET_LT_UUID,
    PARQUET_LT_OTHER,       /* something else (BSON, FLOAT16, intervals...) */
} parquet_logical;

typedef enum parquet_time_unit {
    PARQUET_MILLIS = 0,
    PARQUET_MICROS,
    PARQUET_NANOS,
} parquet_time_unit;

/* One leaf column of the file's schema. */
typedef struct parquet_read_col {
    const char     *name;       /* the dotted path from the root ("a.b" in a struct) */
    int32_t         field_id;   /* -1 when the file has none */
    int             physical;   /* parquet_physical, or PARQUET_PT_INT96 */
    int32_t         type_len;   /* FIXED_LEN_BYTE_ARRAY */
    parquet_logical logical;
    int32_t         precision, scale;   /* DECIMAL */
    parquet_time_unit unit;     /* TIME, TIMESTAMP */
    bool            utc;        /* TIME, TIMESTAMP: isAdjustedToUTC */
    int             bit_width;  /* INTEGER: 8, 16, 32, 64 */
    bool            is_signed;  /* INTEGER */
    bool            optional;   /* max_def > 0 */
    int             max_def, max_rep;
    int             rep_def;    /* lists: the definition level of the repeated group (an
                                   element); rep_def - 1 is an empty list, below a null one */
} parquet_read_col;

/*
 * One value of a flat column.  Which member holds it follows the physical
 * type: BOOLEAN b; INT32, INT64 i (sign-extended); FLOAT, DOUBLE f;
 * BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY p/n, pointing into the chunk's memory.
 */
typedef struct parquet_cell {
    bool           null;
    bool           b;
    int64_t        i;
    double         f;
    const uint8_t *p;
    size_t         n;
} parquet_cell;

/*
 * One decoded column chunk: cells[0..nrows), one per row.  For a list column
 * (max_rep 1: Iceberg's three-level lists, and the two-level form) a row's
 * cell is null (a null list), or holds n elements: elems[i .. i + n), each a
 * cell as above (null for a null element).
 */
typedef struct parquet_chunk {
    int64_t       nrows;
    parquet_cell *cells;
    parquet_cell *elems;
    size_t        nelems;
    /* private: the memory the cells point into */
    cdc_buf       raw;      /* the chunk's bytes as read */
    cdc_buf      *pages;    /* decompressed pages (and the dictionary) */
    size_t        npages, cap_pages;
    parquet_cell *dict;
    size_t        ndict;
    size_t        cap_cells, cap_elems;
} parquet_chunk;

#define PARQUET_CHUNK_INIT { 0, NULL, NULL, 0, CDC_BUF_INIT, NULL, 0, 0, NULL, 0, 0, 0 }

/*
 * Reads n bytes at offset off of the file into out (which the reader
 * resets first).  Returns 0, or -1 with err set.
 */
typedef int parquet_read_fn(void *arg, uint64_t off, size_t n, cdc_buf *out, cdc_err *err);

typedef struct parquet_reader parquet_reader;

/*
 * Opens a file of `size` bytes read through fn; `name` (copied) names it in
 * every message.  Reads and checks the footer.  NULL with err set on failure.
 */
parquet_reader *parquet_reader_open(const char *name, uint64_t size, parquet_read_fn *fn,
                                    void *arg, cdc_err *err);
/* The file is p[0..n), which must outlive the reader. */
parquet_reader *parquet_reader_open_mem(const char *name, const uint8_t *p, size_t n,
                                        cdc_err *err);
/* A local file, read as needed (pread). */
parquet_reader *parquet_reader_open_file(const char *path, cdc_err *err);
void            parquet_reader_free(parquet_reader *r);   /* NULL is a no-op */

const char *parquet_read_name(const parquet_reader *r);
int64_t     parquet_read_rows(const parquet_reader *r);
size_t      parquet_read_ncolumns(const parquet_reader *r);
const parquet_read_col *parquet_read_column(const parquet_reader *r, size_t col);
/* The index of the leaf with that field id, or -1. */
int         parquet_read_find_id(const parquet_reader *r, int32_t field_id);
/* The footer's key_value_metadata value of key (NUL-terminated copy), or NULL. */
const char *parquet_read_kv(const parquet_reader *r, const char *key);

size_t  parquet_read_nrow_groups(const parquet_reader *r);
int64_t parquet_read_rg_rows(const parquet_reader *r, size_t rg);
/* The row position (in the file) of the row group's first row. */
int64_t parquet_read_rg_first_row(const parquet_reader *r, size_t rg);

/*
 * The column chunk's min_value and max_value statistics (PLAIN bytes without
 * length prefix, as parquet_col_stats holds them), when the file has both;
 * they stay valid until the reader is freed.  Only the new min_value /
 * max_value fields are used, never the legacy min / max.
 */
bool parquet_read_chunk_bounds(const parquet_reader *r, size_t rg, size_t col,
                               const uint8_t **min, size_t *min_len, const uint8_t **max,
                               size_t *max_len);

/*
 * Decodes column col of row group rg into ch (its previous contents freed
 * first; ch must be PARQUET_CHUNK_INIT or a chunk from an earlier call).
 */
int  parquet_read_chunk(parquet_reader *r, size_t rg, size_t col, parquet_chunk *ch,
                        cdc_err *err);
void parquet_chunk_free(parquet_chunk *ch);

#endif
