/*
 * The Parquet writer's output: bytes to the sink, compression, data pages
 * (levels, then PLAIN values or dictionary indices) kept per column, and a
 * row group's column chunks (the dictionary page first) handed to the sink.
 */
#include <inttypes.h>
#include <snappy-c.h>
#include <string.h>
#include <zstd.h>

#include "agent/core/cdc_mem.h"
#include "sinks/iceberg/parquet/parquet_int.h"
#include "sinks/iceberg/parquet/parquet_rle.h"
#include "sinks/iceberg/parquet/parquet_thrift.h"

enum { PAGE_DATA = 0, PAGE_DICTIONARY = 2 };

/* ------------------------------------------------------------------ output */

int
parquet_emit(parquet_writer *w, const void *p, size_t n, cdc_err *err)
{
    if (n == 0)
        return 0;
    if (w->o.sink != NULL) {
        cdc_err e = { 0 };

        if (w->o.sink(w->o.sink_arg, p, n, &e) < 0) {
            cdc_err_ensure(&e, "parquet sink");
            return parquet_fail(w, err, e.code, "writing %zu bytes at offset %" PRIu64 ": %s", n,
                                w->offset, e.msg);
        }
    } else {
        cdc_buf_put(w->o.sink_buf, p, n);
        if (cdc_buf_failed(w->o.sink_buf))
            return parquet_fail(w, err, CDC_E_NOMEM,
                                "out of memory appending %zu bytes to the buffer", n);
    }
    w->offset += n;
    return 0;
}

/* Compresses src into w->comp; returns 0 or -1. */
static int
compress_into(parquet_writer *w, const cdc_buf *src, cdc_err *err)
{
    cdc_buf_reset(&w->comp);
    switch (w->o.codec) {
    case PARQUET_UNCOMPRESSED:
        cdc_buf_put(&w->comp, src->data, src->len);
        break;
    case PARQUET_ZSTD: {
        size_t cap = ZSTD_compressBound(src->len), n;

        if (!cdc_buf_reserve(&w->comp, cap))
            break;
        n = ZSTD_compress(w->comp.data, cap, src->len > 0 ? src->data : (const void *) "",
                          src->len, w->o.zstd_level);
        if (ZSTD_isError(n))
            return parquet_fail(w, err, CDC_E_IO, "zstd: %s", ZSTD_getErrorName(n));
        w->comp.len = n;
        break;
    }
    case PARQUET_SNAPPY: {
        size_t cap = snappy_max_compressed_length(src->len), n = cap;

        if (!cdc_buf_reserve(&w->comp, cap))
            break;
        if (snappy_compress(src->len > 0 ? (const char *) src->data : "", src->len,
                            (char *) w->comp.data, &n) != SNAPPY_OK)
            return parquet_fail(w, err, CDC_E_IO, "snappy_compress failed on %zu bytes", src->len);
        w->comp.len = n;
        break;
    }
    }
    if (cdc_buf_failed(&w->comp))
        return parquet_fail(w, err, CDC_E_NOMEM, "out of memory compressing %zu bytes", src->len);
    return 0;
}

static void
put_levels(cdc_buf *out, const uint32_t *lv, size_t n, int max)
{
    size_t at = out->len;
    size_t len;

    cdc_buf_put_u32be(out, 0);  /* the length, patched below (little-endian) */
    parquet_rle_encode(out, lv, n, parquet_bit_width((uint32_t) max));
    if (cdc_buf_failed(out))
        return;
    len = out->len - at - 4;
    parquet_wr_le(out->data + at, len, 4);
}

static int
dict_bit_width(const column *c)
{
    int bw = parquet_bit_width(c->ndict > 0 ? c->ndict - 1 : 0);

    return bw < 1 ? 1 : bw;
}

/* Closes the column's current data page into c->pages. */
int
parquet_flush_page(parquet_writer *w, column *c, cdc_err *err)
{
    bool           dict_page = c->dict_on && c->ndict > 0;
    parquet_thrift t;
    size_t         usize;

    if (c->nlv == 0)
        return 0;
    cdc_buf_reset(&w->scratch);
    if (c->max_rep > 0)
        put_levels(&w->scratch, c->replv, c->nlv, c->max_rep);
    if (c->max_def > 0)
        put_levels(&w->scratch, c->deflv, c->nlv, c->max_def);
    if (dict_page) {
        int bw = dict_bit_width(c);

        cdc_buf_put_u8(&w->scratch, (uint8_t) bw);
        parquet_rle_encode(&w->scratch, c->idx, c->nidx, bw);
    } else if (c->pt == PARQUET_PT_BOOLEAN) {
        /* PLAIN booleans: one bit each, least significant bit first */
        uint8_t byte = 0;

        for (size_t i = 0; i < c->values.len; i++) {
            if (c->values.data[i])
                byte |= (uint8_t) (1u << (i % 8));
            if (i % 8 == 7 || i + 1 == c->values.len) {
                cdc_buf_put_u8(&w->scratch, byte);
                byte = 0;
            }
        }
    } else {
        cdc_buf_put(&w->scratch, c->values.data, c->values.len);
    }
    if (cdc_buf_failed(&w->scratch))
        return parquet_fail(w, err, CDC_E_NOMEM, "out of memory encoding a page of column \"%s\"",
                            c->name);
    usize = w->scratch.len;
    if (usize > INT32_MAX)
        return parquet_fail(w, err, CDC_E_INVAL, "a page of column \"%s\" has %zu bytes", c->name,
                            usize);
    if (compress_into(w, &w->scratch, err) < 0)
        return -1;

    cdc_buf_reset(&w->hdr);
    parquet_thrift_init(&t, &w->hdr);
    parquet_thrift_i32(&t, 1, PAGE_DATA);
    parquet_thrift_i32(&t, 2, (int32_t) usize);
    parquet_thrift_i32(&t, 3, (int32_t) w->comp.len);
    parquet_thrift_struct(&t, 5);   /* DataPageHeader (V1) */
    parquet_thrift_i32(&t, 1, (int32_t) c->nlv);
    parquet_thrift_i32(&t, 2, dict_page ? ENC_RLE_DICTIONARY : ENC_PLAIN);
    parquet_thrift_i32(&t, 3, ENC_RLE);
    parquet_thrift_i32(&t, 4, ENC_RLE);
    parquet_thrift_end(&t);
    parquet_thrift_end(&t);
    cdc_buf_put(&c->pages, w->hdr.data, w->hdr.len);
    cdc_buf_put(&c->pages, w->comp.data, w->comp.len);
    if (parquet_thrift_failed(&t) || cdc_buf_failed(&c->pages))
        return parquet_fail(w, err, CDC_E_NOMEM, "out of memory keeping a page of column \"%s\"",
                            c->name);
    c->chunk_uncompressed += (int64_t) (w->hdr.len + usize);
    if (dict_page)
        c->used_dict = true;
    else
        c->used_plain = true;
    c->nlv = 0;
    c->nidx = 0;
    cdc_buf_reset(&c->values);
    return 0;
}

static void
chunk_meta_from(column *c, chunk_meta *m)
{
    m->num_values = c->chunk_values;
    m->null_count = c->chunk_nulls;
    m->used_dict = c->used_dict;
    m->used_plain = c->used_plain;
    parquet_bound_fix_zeros(c, &c->cb);
    m->b.has = c->cb.has;
    if (c->cb.has) {
        parquet_bound_set(&m->b.min, c->cb.min.data, c->cb.min.len);
        parquet_bound_set(&m->b.max, c->cb.max.data, c->cb.max.len);
        parquet_bound_update(c, &c->fb, c->cb.min.data, c->cb.min.len);
        parquet_bound_update(c, &c->fb, c->cb.max.data, c->cb.max.len);
    }
}

int
parquet_write_magic_once(parquet_writer *w, cdc_err *err)
{
    return w->offset == 0 ? parquet_emit(w, MAGIC, 4, err) : 0;
}

/* Closes the row group under way and hands it to the sink. */
int
parquet_flush_row_group(parquet_writer *w, cdc_err *err)
{
    rowgroup_meta *rg;

    if (w->rg_rows == 0)
        return 0;
    if (parquet_write_magic_once(w, err) < 0)
        return -1;
    for (size_t i = 0; i < w->ncols; i++)
        if (parquet_flush_page(w, &w->cols[i], err) < 0)
            return -1;
    if (w->nrgs == w->caprgs) {
        w->caprgs = w->caprgs ? 2 * w->caprgs : 4;
        w->rgs = cdc_xrealloc(w->rgs, w->caprgs * sizeof(*w->rgs));
    }
    rg = &w->rgs[w->nrgs++];
    memset(rg, 0, sizeof(*rg));
    rg->chunks = cdc_xcalloc(w->ncols, sizeof(*rg->chunks));
    rg->num_rows = w->rg_rows;
    rg->file_offset = (int64_t) w->offset;
    for (size_t i = 0; i < w->ncols; i++) {
        column     *c = &w->cols[i];
        chunk_meta *m = &rg->chunks[i];
        int64_t     start = (int64_t) w->offset;

        m->dict_page_offset = -1;
        if (c->used_dict) {
            parquet_thrift t;

            if (compress_into(w, &c->dict, err) < 0)
                return -1;
            cdc_buf_reset(&w->hdr);
            parquet_thrift_init(&t, &w->hdr);
            parquet_thrift_i32(&t, 1, PAGE_DICTIONARY);
            parquet_thrift_i32(&t, 2, (int32_t) c->dict.len);
            parquet_thrift_i32(&t, 3, (int32_t) w->comp.len);
            parquet_thrift_struct(&t, 7);   /* DictionaryPageHeader */
            parquet_thrift_i32(&t, 1, (int32_t) c->ndict);
            parquet_thrift_i32(&t, 2, ENC_PLAIN);
            parquet_thrift_end(&t);
            parquet_thrift_end(&t);
            if (parquet_thrift_failed(&t))
                return parquet_fail(w, err, CDC_E_NOMEM, "out of memory");
            m->dict_page_offset = start;
            if (parquet_emit(w, w->hdr.data, w->hdr.len, err) < 0
                || parquet_emit(w, w->comp.data, w->comp.len, err) < 0)
                return -1;
            c->chunk_uncompressed += (int64_t) (w->hdr.len + c->dict.len);
        }
        m->data_page_offset = (int64_t) w->offset;
        if (parquet_emit(w, c->pages.data, c->pages.len, err) < 0)
            return -1;
        m->total_compressed = (int64_t) w->offset - start;
        m->total_uncompressed = c->chunk_uncompressed;
        chunk_meta_from(c, m);
        rg->total_byte_size += m->total_uncompressed;
        rg->total_compressed += m->total_compressed;
        c->f_compressed += m->total_compressed;
        c->f_uncompressed += m->total_uncompressed;
        parquet_chunk_reset(w, c);
    }
    w->rg_rows = 0;
    return 0;
}
