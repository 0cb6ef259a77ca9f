/*
 * The Parquet reader's state, shared by its files: parquet_read.c (errors,
 * reading a range of the file, free, the accessors), parquet_read_open.c
 * (opening: the sources, the file's ends, the footer's thrift decoded into
 * the schema, row groups and key-value metadata) and parquet_read_page.c (a
 * column chunk's pages decoded into cells).  Calls go one way:
 * parquet_read_open.c and parquet_read_page.c -> parquet_read.c.
 * Not for use outside sinks/iceberg/parquet/parquet_read*.c.
 */
#ifndef CDC_SINKS_ICEBERG_PARQUET_PARQUET_READ_INT_H
#define CDC_SINKS_ICEBERG_PARQUET_PARQUET_READ_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_err.h"
#include "sinks/iceberg/parquet/parquet_read.h"

typedef struct rd_chunk {
    int     type;
    int     codec;
    int64_t num_values;
    int64_t start;      /* the first page (dictionary or data) */
    int64_t len;        /* total_compressed_size */
    bool    external;   /* file_path set: in another file */
    uint8_t *min, *max; /* Statistics min_value / max_value (owned), or NULL */
    size_t  min_len, max_len;
} rd_chunk;

typedef struct rd_rg {
    int64_t   nrows;
    int64_t   first_row;
    rd_chunk *chunks;
} rd_rg;

struct parquet_reader {
    char             *name;
    uint64_t          size;
    parquet_read_fn  *fn;
    void             *arg;
    int               fd;           /* open_file */
    const uint8_t    *mem;          /* open_mem */
    size_t            ncols;
    parquet_read_col *cols;
    size_t            nrgs;
    rd_rg            *rgs;
    int64_t           rows;
    size_t            nkv;
    char            **kv;           /* key, value, key, value... */
    uint32_t         *levels;       /* scratch: one page's definition levels */
    size_t            cap_levels;
    uint32_t         *reps;         /* its repetition levels (lists) */
    size_t            cap_reps;
    uint32_t         *edefs;        /* the definition levels of its list elements */
    size_t            cap_edefs;
};

/* err = code, "parquet file <name>: <fmt...>"; -1. */
int parquet_read_fail(const parquet_reader *r, cdc_err *err, cdc_rc code, const char *fmt, ...)
    CDC_PRINTF(4, 5);

/* A file that breaks the format; a valid file using what this reader does not read. */
#define bad(r, err, ...)         parquet_read_fail((r), (err), CDC_E_DECODE, __VA_ARGS__)
#define unsupported(r, err, ...) parquet_read_fail((r), (err), CDC_E_UNSUPPORTED, __VA_ARGS__)

/* Reads [off, off+n) of the file, checked to lie within it. */
int parquet_read_range(parquet_reader *r, uint64_t off, uint64_t n, cdc_buf *out, cdc_err *err);

#endif
