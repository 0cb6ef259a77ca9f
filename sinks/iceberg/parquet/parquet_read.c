/*
 * Parquet reader: see parquet_read.h.  parquet-format's parquet.thrift gives
 * the field ids decoded here; Encodings.md the value and level encodings.
 *
 * This file holds errors, reading a range of the file, free and the
 * accessors; parquet_read_int.h lists the others.
 */
#include "sinks/iceberg/parquet/parquet_read.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sinks/iceberg/parquet/parquet_read_int.h"

/* ---------------------------------------------------------------- errors */

/* err = code, "parquet file <name>: <fmt...>"; -1. */
int
parquet_read_fail(const parquet_reader *r, cdc_err *err, cdc_rc code, const char *fmt, ...)
{
    char    msg[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return cdc_err_set(err, code, "parquet file %s: %s", r->name, msg);
}

/* Reads [off, off+n) of the file, checked to lie within it. */
int
parquet_read_range(parquet_reader *r, uint64_t off, uint64_t n, cdc_buf *out, cdc_err *err)
{
    if (off > r->size || n > r->size - off)
        return bad(r, err, "range %" PRIu64 "+%" PRIu64 " beyond the file's %" PRIu64 " bytes",
                   off, n, r->size);
    if (r->fn(r->arg, off, (size_t) n, out, err) != 0)
        return -1;
    if (cdc_buf_failed(out))
        return cdc_err_set(err, CDC_E_NOMEM, "parquet file %s: out of memory", r->name);
    if (out->len != n)
        return bad(r, err, "read %zu bytes at %" PRIu64 ", wanted %" PRIu64, out->len, off, n);
    return 0;
}


void
parquet_reader_free(parquet_reader *r)
{
    if (r == NULL)
        return;
    if (r->fd >= 0)
        close(r->fd);
    for (size_t i = 0; i < r->ncols; i++)
        free((char *) r->cols[i].name);
    free(r->cols);
    for (size_t i = 0; i < r->nrgs; i++) {
        for (size_t k = 0; r->rgs[i].chunks != NULL && k < r->ncols; k++) {
            free(r->rgs[i].chunks[k].min);
            free(r->rgs[i].chunks[k].max);
        }
        free(r->rgs[i].chunks);
    }
    free(r->rgs);
    for (size_t i = 0; i < 2 * r->nkv; i++)
        free(r->kv[i]);
    free(r->kv);
    free(r->levels);
    free(r->reps);
    free(r->edefs);
    free(r->name);
    free(r);
}

const char *
parquet_read_name(const parquet_reader *r)
{
    return r->name;
}

int64_t
parquet_read_rows(const parquet_reader *r)
{
    return r->rows;
}

size_t
parquet_read_ncolumns(const parquet_reader *r)
{
    return r->ncols;
}

const parquet_read_col *
parquet_read_column(const parquet_reader *r, size_t col)
{
    return col < r->ncols ? &r->cols[col] : NULL;
}

int
parquet_read_find_id(const parquet_reader *r, int32_t field_id)
{
    for (size_t i = 0; i < r->ncols; i++)
        if (r->cols[i].field_id == field_id)
            return (int) i;
    return -1;
}

const char *
parquet_read_kv(const parquet_reader *r, const char *key)
{
    for (size_t i = 0; i < r->nkv; i++)
        if (r->kv[2 * i] != NULL && strcmp(r->kv[2 * i], key) == 0)
            return r->kv[2 * i + 1];
    return NULL;
}

size_t
parquet_read_nrow_groups(const parquet_reader *r)
{
    return r->nrgs;
}

int64_t
parquet_read_rg_rows(const parquet_reader *r, size_t rg)
{
    return rg < r->nrgs ? r->rgs[rg].nrows : 0;
}

int64_t
parquet_read_rg_first_row(const parquet_reader *r, size_t rg)
{
    return rg < r->nrgs ? r->rgs[rg].first_row : 0;
}

bool
parquet_read_chunk_bounds(const parquet_reader *r, size_t rg, size_t col, const uint8_t **min,
                          size_t *min_len, const uint8_t **max, size_t *max_len)
{
    const rd_chunk *c;

    if (rg >= r->nrgs || col >= r->ncols)
        return false;
    c = &r->rgs[rg].chunks[col];
    if (c->min == NULL || c->max == NULL)
        return false;
    *min = c->min;
    *min_len = c->min_len;
    *max = c->max;
    *max_len = c->max_len;
    return true;
}
