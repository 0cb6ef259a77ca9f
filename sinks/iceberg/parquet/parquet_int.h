/*
 * The Parquet writer's state, shared by its files: parquet.c (the writer,
 * its kinds and errors), parquet_stats.c (value order, bounds, counts and
 * the result's statistics), parquet_page.c (data and dictionary pages,
 * column chunks, row groups to the sink), parquet_values.c (values, the
 * dictionary, rows) and parquet_footer.c (the schema, the footer, close).
 * Calls go one way: parquet_values.c and parquet_footer.c ->
 * parquet_page.c -> parquet.c -> parquet_stats.c.
 * Not for use outside sinks/iceberg/parquet/parquet*.c (the writer's files).
 */
#ifndef CDC_SINKS_ICEBERG_PARQUET_PARQUET_INT_H
#define CDC_SINKS_ICEBERG_PARQUET_PARQUET_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_err.h"
#include "sinks/iceberg/parquet/parquet.h"

/* parquet.thrift enums used by more than one file */
enum { ENC_PLAIN = 0, ENC_RLE = 3, ENC_RLE_DICTIONARY = 8 };

#define MAGIC "PAR1"


typedef struct bound {
    bool    has;
    cdc_buf min, max;
} bound;

/* One column chunk of a closed row group, for the footer. */
typedef struct chunk_meta {
    int64_t data_page_offset;
    int64_t dict_page_offset;   /* -1: none */
    int64_t num_values;
    int64_t null_count;
    int64_t total_uncompressed;
    int64_t total_compressed;
    bool    used_dict, used_plain;
    bound   b;
} chunk_meta;

typedef struct rowgroup_meta {
    chunk_meta *chunks;
    int64_t     num_rows;
    int64_t     file_offset;
    int64_t     total_byte_size;
    int64_t     total_compressed;
} rowgroup_meta;

typedef struct column {
    parquet_column   def;       /* name points at the copy below */
    char            *name;
    parquet_physical pt;
    int32_t          type_len;  /* FIXED: the value length */
    int              max_def, max_rep;

    /* the current data page */
    uint32_t *deflv, *replv;
    size_t    nlv, caplv;
    cdc_buf   values;       /* PLAIN values (BOOLEAN: one byte each, packed at the flush) */
    uint32_t *idx;          /* dictionary indices */
    size_t    nidx, capidx;

    /* the current column chunk */
    cdc_buf   pages;        /* finished data pages, headers included */
    int64_t   chunk_values, chunk_nulls, chunk_uncompressed;
    bool      dict_on, dict_full, used_dict, used_plain;
    cdc_buf   dict;         /* the dictionary page's PLAIN values */
    uint32_t  ndict;
    size_t   *doff, *dlen;  /* entry i's raw bytes in dict */
    size_t    capdict;
    uint32_t *slots;        /* open addressing: entry + 1, 0 empty */
    size_t    nslots;
    bound     cb;

    /* the whole file */
    bound     fb;
    int64_t   f_values, f_nulls, f_nan, f_compressed, f_uncompressed;

    /* the current row: what it added starts at these marks (parquet_abort_row) */
    bool      row_set, in_list;
    size_t    list_count;
    size_t    row_nlv, row_vlen, row_nidx;
    uint32_t  row_ndict;
    size_t    row_dlen;
} column;

struct parquet_writer {
    column         *cols;
    size_t          ncols;
    parquet_options o;
    parquet_kv     *kv;
    size_t          nkv;
    uint64_t        offset;     /* bytes handed to the sink */
    int64_t         rows, rg_rows;
    rowgroup_meta  *rgs;
    size_t          nrgs, caprgs;
    cdc_buf         scratch, comp, hdr;
    bool            failed, closed;
    cdc_err         ferr;       /* the failure, repeated by every later call */
};

/* parquet.c */
int  parquet_fail(parquet_writer *w, cdc_err *err, cdc_rc code, const char *fmt, ...)
    CDC_PRINTF(4, 5);
int  parquet_reject(cdc_err *err, const char *fmt, ...) CDC_PRINTF(2, 3);
int  parquet_failed_again(parquet_writer *w, cdc_err *err);
void parquet_chunk_reset(const parquet_writer *w, column *c);

/* parquet_stats.c */
void parquet_wr_le(uint8_t *p, uint64_t v, int n);
void parquet_bound_set(cdc_buf *dst, const uint8_t *p, size_t n);
void parquet_bound_update(const column *c, bound *b, const uint8_t *p, size_t n);
void parquet_bound_fix_zeros(const column *c, bound *b);
void parquet_bound_free(bound *b);
void parquet_account_row(column *c);
void parquet_fill_result(parquet_writer *w, parquet_result *res);

/* parquet_page.c */
int parquet_emit(parquet_writer *w, const void *p, size_t n, cdc_err *err);
int parquet_flush_page(parquet_writer *w, column *c, cdc_err *err);
int parquet_write_magic_once(parquet_writer *w, cdc_err *err);
int parquet_flush_row_group(parquet_writer *w, cdc_err *err);

#endif
