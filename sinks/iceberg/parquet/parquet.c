/*
 * The Parquet writer: see parquet.h and docs/parquet.md.
 *
 * Each column buffers its current data page (levels, and values as PLAIN
 * bytes or dictionary indices) and its finished pages of the current row
 * group (compressed, headers included).  A row group closes when the estimate
 * of its buffered bytes reaches row_group_bytes: each column chunk goes to the
 * sink, its dictionary page first, and only its metadata stays for the
 * footer.  A column's dictionary lives for one column chunk; when it grows
 * past dict_max_bytes the page under way is closed at the end of the row and
 * the chunk goes on in PLAIN (so a chunk may hold dictionary pages then plain
 * pages, as parquet-mr writes them).  Pages and row groups close only between
 * rows, so a row can be taken back (parquet_abort_row) by rewinding each
 * column's page, and its dictionary, to where the row began.
 */
#include "sinks/iceberg/parquet/parquet.h"

#include <inttypes.h>
#include <math.h>
#include <snappy-c.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "agent/core/cdc_mem.h"
#include "agent/core/cdc_utf8.h"
#include "sinks/iceberg/parquet/parquet_rle.h"
#include "sinks/iceberg/parquet/parquet_thrift.h"

/* parquet.thrift enums used here */
enum { ENC_PLAIN = 0, ENC_RLE = 3, ENC_RLE_DICTIONARY = 8 };
enum { PAGE_DATA = 0, PAGE_DICTIONARY = 2 };
enum { REP_REQUIRED = 0, REP_OPTIONAL = 1, REP_REPEATED = 2 };
enum {
    CT_UTF8 = 0, CT_LIST = 3, CT_DECIMAL = 5, CT_DATE = 6,
    CT_TIMESTAMP_MICROS = 10, CT_INT_8 = 15, CT_INT_16 = 16,
};
enum { CODEC_UNCOMPRESSED = 0, CODEC_SNAPPY = 1, CODEC_ZSTD = 6 };

#define MAX_PAGE_LEVELS 20000   /* level entries per data page, as parquet-mr's row limit */
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

/* ------------------------------------------------------------------ kinds */

const char *
parquet_kind_name(parquet_kind k)
{
    switch (k) {
    case PARQUET_BOOLEAN: return "boolean";
    case PARQUET_INT32: return "int32";
    case PARQUET_INT64: return "int64";
    case PARQUET_FLOAT: return "float";
    case PARQUET_DOUBLE: return "double";
    case PARQUET_STRING: return "string";
    case PARQUET_BINARY: return "binary";
    case PARQUET_FIXED: return "fixed";
    case PARQUET_DECIMAL: return "decimal";
    case PARQUET_DATE: return "date";
    case PARQUET_TIME_US: return "time";
    case PARQUET_TIMESTAMP_US: return "timestamp";
    case PARQUET_TIMESTAMPTZ_US: return "timestamptz";
    case PARQUET_UUID: return "uuid";
    case PARQUET_INT8: return "int8";
    case PARQUET_INT16: return "int16";
    }
    return "unknown";
}

/* The bytes of a FIXED_LEN_BYTE_ARRAY that hold every unscaled value of precision p. */
static int32_t
decimal_bytes(int32_t p)
{
    int32_t n = 1;

    /* n bytes of two's complement hold floor((8n - 1) * log10(2)) full decimal digits */
    while ((int32_t) ((8 * n - 1) * 0.30102999566398120) < p)
        n++;
    return n;
}

static parquet_physical
physical_of(const parquet_column *c, int32_t *type_len)
{
    *type_len = 0;
    switch (c->kind) {
    case PARQUET_BOOLEAN: return PARQUET_PT_BOOLEAN;
    case PARQUET_INT32: case PARQUET_DATE: case PARQUET_INT8: case PARQUET_INT16:
        return PARQUET_PT_INT32;
    case PARQUET_INT64: case PARQUET_TIME_US: case PARQUET_TIMESTAMP_US:
    case PARQUET_TIMESTAMPTZ_US:
        return PARQUET_PT_INT64;
    case PARQUET_FLOAT: return PARQUET_PT_FLOAT;
    case PARQUET_DOUBLE: return PARQUET_PT_DOUBLE;
    case PARQUET_STRING: case PARQUET_BINARY: return PARQUET_PT_BYTE_ARRAY;
    case PARQUET_FIXED:
        *type_len = c->fixed_len;
        return PARQUET_PT_FIXED;
    case PARQUET_UUID:
        *type_len = 16;
        return PARQUET_PT_FIXED;
    case PARQUET_DECIMAL:
        if (c->precision <= 9)
            return PARQUET_PT_INT32;
        if (c->precision <= 18)
            return PARQUET_PT_INT64;
        *type_len = decimal_bytes(c->precision);
        return PARQUET_PT_FIXED;
    }
    return PARQUET_PT_BYTE_ARRAY;
}

static bool
kind_valid(parquet_kind k)
{
    return k >= PARQUET_BOOLEAN && k <= PARQUET_INT16;
}

/* ------------------------------------------------------------------ errors */

static int
fail(parquet_writer *w, cdc_err *err, cdc_rc code, const char *fmt, ...) CDC_PRINTF(4, 5);

static int
fail(parquet_writer *w, cdc_err *err, cdc_rc code, const char *fmt, ...)
{
    va_list ap;
    char    msg[sizeof(w->ferr.msg)];

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    w->failed = true;
    cdc_err_set(&w->ferr, code, "parquet: %s", msg);
    if (err != NULL)
        *err = w->ferr;
    return -1;
}

/*
 * A value or a call the writer refuses: nothing of it was written, so the
 * writer stays usable (the caller puts another value or aborts the row).
 */
static int
reject(cdc_err *err, const char *fmt, ...) CDC_PRINTF(2, 3);

static int
reject(cdc_err *err, const char *fmt, ...)
{
    va_list ap;
    char    msg[sizeof(err->msg)];

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return cdc_err_set(err, CDC_E_INVAL, "parquet: %s", msg);
}

/* After a failure, every call repeats it. */
static int
failed_again(parquet_writer *w, cdc_err *err)
{
    if (err != NULL)
        *err = w->ferr;
    return -1;
}

/* ------------------------------------------------------------------ bounds */

static int32_t
rd_i32(const uint8_t *p)
{
    return (int32_t) ((uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
                      | (uint32_t) p[3] << 24);
}

static int64_t
rd_i64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return (int64_t) v;
}

static void
wr_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t) (v >> (8 * i));
}

/*
 * The column order of parquet.thrift's ColumnOrder (TYPE_ORDER) for the kind:
 * signed for integers and decimals (a decimal's fixed bytes as a signed
 * big-endian number), numeric for floats, unsigned byte-wise for strings,
 * binary, UUID and fixed.
 */
static int
cmp_values(const column *c, const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    switch (c->pt) {
    case PARQUET_PT_BOOLEAN:
        return (int) a[0] - (int) b[0];
    case PARQUET_PT_INT32: {
        int32_t x = rd_i32(a), y = rd_i32(b);
        return (x > y) - (x < y);
    }
    case PARQUET_PT_INT64: {
        int64_t x = rd_i64(a), y = rd_i64(b);
        return (x > y) - (x < y);
    }
    case PARQUET_PT_FLOAT: {
        float x, y;
        memcpy(&x, a, 4);
        memcpy(&y, b, 4);
        return (x > y) - (x < y);
    }
    case PARQUET_PT_DOUBLE: {
        double x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        return (x > y) - (x < y);
    }
    case PARQUET_PT_FIXED:
        if (c->def.kind == PARQUET_DECIMAL) {
            int sa = (int8_t) a[0], sb = (int8_t) b[0];
            if (sa != sb)
                return sa < sb ? -1 : 1;
            return memcmp(a + 1, b + 1, an - 1);    /* same length: the column's */
        }
        return memcmp(a, b, an);
    case PARQUET_PT_BYTE_ARRAY: {
        size_t n = an < bn ? an : bn;
        int    r = n > 0 ? memcmp(a, b, n) : 0;
        if (r != 0)
            return r;
        return (an > bn) - (an < bn);
    }
    }
    return 0;
}

static void
bound_set(cdc_buf *dst, const uint8_t *p, size_t n)
{
    cdc_buf_reset(dst);
    cdc_buf_reserve(dst, n + 1);
    cdc_buf_put(dst, p, n);
}

static void
bound_update(const column *c, bound *b, const uint8_t *p, size_t n)
{
    if (!b->has) {
        bound_set(&b->min, p, n);
        bound_set(&b->max, p, n);
        b->has = true;
        return;
    }
    if (cmp_values(c, p, n, b->min.data, b->min.len) < 0)
        bound_set(&b->min, p, n);
    if (cmp_values(c, p, n, b->max.data, b->max.len) > 0)
        bound_set(&b->max, p, n);
}

/* parquet.thrift: a zero min is written as -0.0 and a zero max as +0.0. */
static void
bound_fix_zeros(const column *c, bound *b)
{
    if (!b->has)
        return;
    if (c->pt == PARQUET_PT_FLOAT) {
        float x;
        memcpy(&x, b->min.data, 4);
        if (x == 0.0f) {
            x = -0.0f;
            memcpy(b->min.data, &x, 4);
        }
        memcpy(&x, b->max.data, 4);
        if (x == 0.0f) {
            x = 0.0f;
            memcpy(b->max.data, &x, 4);
        }
    } else if (c->pt == PARQUET_PT_DOUBLE) {
        double x;
        memcpy(&x, b->min.data, 8);
        if (x == 0.0) {
            x = -0.0;
            memcpy(b->min.data, &x, 8);
        }
        memcpy(&x, b->max.data, 8);
        if (x == 0.0) {
            x = 0.0;
            memcpy(b->max.data, &x, 8);
        }
    }
}

static void
bound_free(bound *b)
{
    cdc_buf_free(&b->min);
    cdc_buf_free(&b->max);
    b->has = false;
}

/* ------------------------------------------------------------------ new / free */

static int
check_column(const parquet_column *c, size_t i, cdc_err *err)
{
    const char *name = c->name != NULL ? c->name : "";

    if (name[0] == '\0')
        return cdc_err_set(err, CDC_E_INVAL, "parquet: column %zu has no name", i);
    if (!kind_valid(c->kind))
        return cdc_err_set(err, CDC_E_INVAL, "parquet: column \"%s\" has an unknown kind %d",
                           name, (int) c->kind);
    if (c->field_id <= 0)
        return cdc_err_set(err, CDC_E_INVAL,
                           "parquet: column \"%s\" has field id %" PRId32 ": Iceberg needs one > 0",
                           name, c->field_id);
    if (c->is_list && c->element_field_id <= 0)
        return cdc_err_set(err, CDC_E_INVAL,
                           "parquet: list column \"%s\" has element field id %" PRId32
                           ": Iceberg needs one > 0", name, c->element_field_id);
    if (c->kind == PARQUET_DECIMAL
        && (c->precision < 1 || c->precision > 38 || c->scale < 0 || c->scale > c->precision))
        return cdc_err_set(err, CDC_E_INVAL,
                           "parquet: column \"%s\" is decimal(%" PRId32 ",%" PRId32
                           "): precision must be 1..38 and scale 0..precision",
                           name, c->precision, c->scale);
    if (c->kind == PARQUET_FIXED && c->fixed_len < 1)
        return cdc_err_set(err, CDC_E_INVAL, "parquet: column \"%s\" is fixed[%" PRId32 "]",
                           name, c->fixed_len);
    return 0;
}

static void
chunk_reset(const parquet_writer *w, column *c)
{
    c->dict_on = !w->o.no_dictionary && c->pt != PARQUET_PT_BOOLEAN;
    c->dict_full = false;
    c->used_dict = c->used_plain = false;
    cdc_buf_reset(&c->pages);
    cdc_buf_reset(&c->dict);
    c->ndict = 0;
    if (c->slots != NULL)
        memset(c->slots, 0, c->nslots * sizeof(c->slots[0]));
    c->chunk_values = c->chunk_nulls = c->chunk_uncompressed = 0;
    c->cb.has = false;
}

parquet_writer *
parquet_writer_new(const parquet_column *cols, size_t ncols, const parquet_options *opts,
                   cdc_err *err)
{
    parquet_writer *w;

    if (ncols == 0) {
        cdc_err_set(err, CDC_E_INVAL, "parquet: a schema needs at least one column");
        return NULL;
    }
    if (opts->sink == NULL && opts->sink_buf == NULL) {
        cdc_err_set(err, CDC_E_INVAL, "parquet: no sink (a function or a cdc_buf)");
        return NULL;
    }
    if (opts->codec != PARQUET_ZSTD && opts->codec != PARQUET_SNAPPY
        && opts->codec != PARQUET_UNCOMPRESSED) {
        cdc_err_set(err, CDC_E_INVAL, "parquet: unknown codec %d", (int) opts->codec);
        return NULL;
    }
    for (size_t i = 0; i < ncols; i++) {
        if (check_column(&cols[i], i, err) < 0)
            return NULL;
        for (size_t j = 0; j < i; j++)
            if (strcmp(cols[i].name, cols[j].name) == 0) {
                cdc_err_set(err, CDC_E_INVAL, "parquet: two columns are named \"%s\"",
                            cols[i].name);
                return NULL;
            }
    }

    w = cdc_xcalloc(1, sizeof(*w));
    w->o = *opts;
    if (w->o.zstd_level == 0)
        w->o.zstd_level = 3;
    if (w->o.row_group_bytes == 0)
        w->o.row_group_bytes = (size_t) 128 << 20;
    if (w->o.page_bytes == 0)
        w->o.page_bytes = (size_t) 1 << 20;
    if (w->o.dict_max_bytes == 0)
        w->o.dict_max_bytes = (size_t) 1 << 20;
    w->nkv = opts->nkv;
    if (w->nkv > 0) {
        w->kv = cdc_xcalloc(w->nkv, sizeof(*w->kv));
        for (size_t i = 0; i < w->nkv; i++) {
            w->kv[i].key = cdc_xstrdup(opts->kv[i].key);
            w->kv[i].value = opts->kv[i].value ? cdc_xstrdup(opts->kv[i].value) : NULL;
        }
    }
    w->o.kv = NULL;
    w->ncols = ncols;
    w->cols = cdc_xcalloc(ncols, sizeof(*w->cols));
    for (size_t i = 0; i < ncols; i++) {
        column *c = &w->cols[i];

        c->def = cols[i];
        c->name = cdc_xstrdup(cols[i].name);
        c->def.name = c->name;
        c->pt = physical_of(&c->def, &c->type_len);
        if (c->def.is_list) {
            c->max_def = (c->def.optional ? 1 : 0) + 1 + (c->def.element_optional ? 1 : 0);
            c->max_rep = 1;
        } else {
            c->max_def = c->def.optional ? 1 : 0;
            c->max_rep = 0;
        }
        chunk_reset(w, c);
    }
    return w;
}

static void
free_meta(parquet_writer *w)
{
    for (size_t r = 0; r < w->nrgs; r++) {
        for (size_t i = 0; i < w->ncols; i++)
            bound_free(&w->rgs[r].chunks[i].b);
        free(w->rgs[r].chunks);
    }
    free(w->rgs);
    w->rgs = NULL;
    w->nrgs = w->caprgs = 0;
}

void
parquet_writer_free(parquet_writer *w)
{
    if (w == NULL)
        return;
    for (size_t i = 0; i < w->ncols; i++) {
        column *c = &w->cols[i];

        free(c->name);
        free(c->deflv);
        free(c->replv);
        free(c->idx);
        free(c->doff);
        free(c->dlen);
        free(c->slots);
        cdc_buf_free(&c->values);
        cdc_buf_free(&c->pages);
        cdc_buf_free(&c->dict);
        bound_free(&c->cb);
        bound_free(&c->fb);
    }
    free(w->cols);
    free_meta(w);
    for (size_t i = 0; i < w->nkv; i++) {
        free((char *) w->kv[i].key);
        free((char *) w->kv[i].value);
    }
    free(w->kv);
    cdc_buf_free(&w->scratch);
    cdc_buf_free(&w->comp);
    cdc_buf_free(&w->hdr);
    free(w);
}

/* ------------------------------------------------------------------ output */

static int
emit(parquet_writer *w, const void *p, size_t n, cdc_err *err)
{
    if (n == 0)
        return 0;
    if (w->o.sink != NULL) {
        cdc_err e = { 0 };

        if (w->o.sink(w->o.sink_arg, p, n, &e) < 0) {
            cdc_err_ensure(&e, "parquet sink");
            return fail(w, err, e.code, "writing %zu bytes at offset %" PRIu64 ": %s", n,
                        w->offset, e.msg);
        }
    } else {
        cdc_buf_put(w->o.sink_buf, p, n);
        if (cdc_buf_failed(w->o.sink_buf))
            return fail(w, err, CDC_E_NOMEM, "out of memory appending %zu bytes to the buffer",
                        n);
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
            return fail(w, err, CDC_E_IO, "zstd: %s", ZSTD_getErrorName(n));
        w->comp.len = n;
        break;
    }
    case PARQUET_SNAPPY: {
        size_t cap = snappy_max_compressed_length(src->len), n = cap;

        if (!cdc_buf_reserve(&w->comp, cap))
            break;
        if (snappy_compress(src->len > 0 ? (const char *) src->data : "", src->len,
                            (char *) w->comp.data, &n) != SNAPPY_OK)
            return fail(w, err, CDC_E_IO, "snappy_compress failed on %zu bytes", src->len);
        w->comp.len = n;
        break;
    }
    }
    if (cdc_buf_failed(&w->comp))
        return fail(w, err, CDC_E_NOMEM, "out of memory compressing %zu bytes", src->len);
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
    wr_le(out->data + at, len, 4);
}

static int
dict_bit_width(const column *c)
{
    int bw = parquet_bit_width(c->ndict > 0 ? c->ndict - 1 : 0);

    return bw < 1 ? 1 : bw;
}

/* Closes the column's current data page into c->pages. */
static int
flush_page(parquet_writer *w, column *c, cdc_err *err)
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
        return fail(w, err, CDC_E_NOMEM, "out of memory encoding a page of column \"%s\"",
                    c->name);
    usize = w->scratch.len;
    if (usize > INT32_MAX)
        return fail(w, err, CDC_E_INVAL, "a page of column \"%s\" has %zu bytes", c->name,
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
        return fail(w, err, CDC_E_NOMEM, "out of memory keeping a page of column \"%s\"",
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
    bound_fix_zeros(c, &c->cb);
    m->b.has = c->cb.has;
    if (c->cb.has) {
        bound_set(&m->b.min, c->cb.min.data, c->cb.min.len);
        bound_set(&m->b.max, c->cb.max.data, c->cb.max.len);
        bound_update(c, &c->fb, c->cb.min.data, c->cb.min.len);
        bound_update(c, &c->fb, c->cb.max.data, c->cb.max.len);
    }
}

static int
write_magic_once(parquet_writer *w, cdc_err *err)
{
    return w->offset == 0 ? emit(w, MAGIC, 4, err) : 0;
}

/* Closes the row group under way and hands it to the sink. */
static int
flush_row_group(parquet_writer *w, cdc_err *err)
{
    rowgroup_meta *rg;

    if (w->rg_rows == 0)
        return 0;
    if (write_magic_once(w, err) < 0)
        return -1;
    for (size_t i = 0; i < w->ncols; i++)
        if (flush_page(w, &w->cols[i], err) < 0)
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
                return fail(w, err, CDC_E_NOMEM, "out of memory");
            m->dict_page_offset = start;
            if (emit(w, w->hdr.data, w->hdr.len, err) < 0
                || emit(w, w->comp.data, w->comp.len, err) < 0)
                return -1;
            c->chunk_uncompressed += (int64_t) (w->hdr.len + c->dict.len);
        }
        m->data_page_offset = (int64_t) w->offset;
        if (emit(w, c->pages.data, c->pages.len, err) < 0)
            return -1;
        m->total_compressed = (int64_t) w->offset - start;
        m->total_uncompressed = c->chunk_uncompressed;
        chunk_meta_from(c, m);
        rg->total_byte_size += m->total_uncompressed;
        rg->total_compressed += m->total_compressed;
        c->f_compressed += m->total_compressed;
        c->f_uncompressed += m->total_uncompressed;
        chunk_reset(w, c);
    }
    w->rg_rows = 0;
    return 0;
}

/* ------------------------------------------------------------------ values */

static void
add_level(column *c, uint32_t def, uint32_t rep)
{
    if (c->nlv == c->caplv) {
        c->caplv = c->caplv ? 2 * c->caplv : 1024;
        c->deflv = cdc_xrealloc(c->deflv, c->caplv * sizeof(*c->deflv));
        c->replv = cdc_xrealloc(c->replv, c->caplv * sizeof(*c->replv));
    }
    c->deflv[c->nlv] = def;
    c->replv[c->nlv] = rep;
    c->nlv++;
}

static uint32_t
hash_bytes(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static void
dict_grow_slots(column *c)
{
    size_t    n = c->nslots ? 2 * c->nslots : 1024;
    uint32_t *s = cdc_xcalloc(n, sizeof(*s));

    for (uint32_t e = 0; e < c->ndict; e++) {
        size_t h = hash_bytes(c->dict.data + c->doff[e], c->dlen[e]) & (n - 1);

        while (s[h] != 0)
            h = (h + 1) & (n - 1);
        s[h] = e + 1;
    }
    free(c->slots);
    c->slots = s;
    c->nslots = n;
}

/* The dictionary index of the value, added when new. */
static uint32_t
dict_index(parquet_writer *w, column *c, const uint8_t *p, size_t n)
{
    size_t h;

    if (c->nslots == 0 || 2 * ((size_t) c->ndict + 1) > c->nslots)
        dict_grow_slots(c);
    h = hash_bytes(p, n) & (c->nslots - 1);
    while (c->slots[h] != 0) {
        uint32_t e = c->slots[h] - 1;

        if (c->dlen[e] == n && memcmp(c->dict.data + c->doff[e], p, n) == 0)
            return e;
        h = (h + 1) & (c->nslots - 1);
    }
    if (c->ndict == c->capdict) {
        c->capdict = c->capdict ? 2 * c->capdict : 256;
        c->doff = cdc_xrealloc(c->doff, c->capdict * sizeof(*c->doff));
        c->dlen = cdc_xrealloc(c->dlen, c->capdict * sizeof(*c->dlen));
    }
    if (c->pt == PARQUET_PT_BYTE_ARRAY) {
        uint8_t len[4];

        wr_le(len, n, 4);
        cdc_buf_put(&c->dict, len, 4);
    }
    /* NUL-terminated buffers: an empty string's offset must still be valid */
    c->doff[c->ndict] = c->dict.len;
    c->dlen[c->ndict] = n;
    cdc_buf_put(&c->dict, p, n);
    c->slots[h] = c->ndict + 1;
    if (c->dict.len > w->o.dict_max_bytes)
        c->dict_full = true;    /* PLAIN from the next page on (end of this row) */
    return c->ndict++;
}

/* The column for a put, or NULL: the writer is usable, the column exists, has no value yet. */
static column *
column_for(parquet_writer *w, size_t col, const char *what, cdc_err *err)
{
    column *c;

    if (w->failed) {
        failed_again(w, err);
        return NULL;
    }
    if (w->closed) {
        reject(err, "%s after close", what);
        return NULL;
    }
    if (col >= w->ncols) {
        reject(err, "%s: no column %zu (the schema has %zu)", what, col, w->ncols);
        return NULL;
    }
    c = &w->cols[col];
    if (c->row_set) {
        reject(err, "column \"%s\" has a value already in row %" PRId64, c->name,
               w->rows);
        return NULL;
    }
    if (c->def.is_list && !c->in_list && strcmp(what, "null") != 0) {
        reject(err, "column \"%s\" is a list: %s outside list_begin/list_end",
               c->name, what);
        return NULL;
    }
    return c;
}

static bool
is_nan(const column *c, const uint8_t *p)
{
    if (c->pt == PARQUET_PT_FLOAT) {
        float x;

        memcpy(&x, p, 4);
        return isnan(x);
    }
    if (c->pt == PARQUET_PT_DOUBLE) {
        double x;

        memcpy(&x, p, 8);
        return isnan(x);
    }
    return false;
}

/* Adds one value, raw bytes in PLAIN form (no length prefix). */
static int
add_value(parquet_writer *w, column *c, const uint8_t *p, size_t n, cdc_err *err)
{
    uint32_t rep = 0;

    if (c->def.is_list) {
        rep = c->list_count > 0 ? 1 : 0;
        c->list_count++;
    } else {
        c->row_set = true;
    }
    add_level(c, (uint32_t) c->max_def, rep);

    if (c->pt == PARQUET_PT_BOOLEAN) {
        cdc_buf_put_u8(&c->values, p[0]);
    } else if (c->dict_on) {
        uint32_t e = dict_index(w, c, p, n);

        if (c->nidx == c->capidx) {
            c->capidx = c->capidx ? 2 * c->capidx : 1024;
            c->idx = cdc_xrealloc(c->idx, c->capidx * sizeof(*c->idx));
        }
        c->idx[c->nidx++] = e;
    } else {
        if (c->pt == PARQUET_PT_BYTE_ARRAY) {
            uint8_t len[4];

            wr_le(len, n, 4);
            cdc_buf_put(&c->values, len, 4);
        }
        cdc_buf_put(&c->values, p, n);
    }
    if (cdc_buf_failed(&c->values) || cdc_buf_failed(&c->dict))
        return fail(w, err, CDC_E_NOMEM, "out of memory buffering column \"%s\"", c->name);
    return 0;
}

int
parquet_put_null(parquet_writer *w, size_t col, cdc_err *err)
{
    column *c = column_for(w, col, "null", err);

    if (c == NULL)
        return -1;
    if (c->def.is_list && c->in_list) {
        if (!c->def.element_optional)
            return reject(err,
                          "column \"%s\": a null element in a list of required elements",
                          c->name);
        add_level(c, (uint32_t) c->max_def - 1, c->list_count > 0 ? 1 : 0);
        c->list_count++;
    } else {
        if (!c->def.optional)
            return reject(err, "column \"%s\" is required: null in row %" PRId64,
                          c->name, w->rows);
        add_level(c, 0, 0);
        c->row_set = true;
    }
    return 0;
}

static int
wrong_kind(const column *c, const char *what, cdc_err *err)
{
    return reject(err, "column \"%s\" is %s: cannot take a %s value", c->name,
                  parquet_kind_name(c->def.kind), what);
}

int
parquet_put_bool(parquet_writer *w, size_t col, bool v, cdc_err *err)
{
    column *c = column_for(w, col, "bool", err);
    uint8_t b = v ? 1 : 0;

    if (c == NULL)
        return -1;
    if (c->pt != PARQUET_PT_BOOLEAN)
        return wrong_kind(c, "boolean", err);
    return add_value(w, c, &b, 1, err);
}

static int64_t
pow10_i64(int p)
{
    int64_t r = 1;

    while (p-- > 0)
        r *= 10;
    return r;
}

/* An integer for any integer-backed kind, range-checked. */
static int
put_int(parquet_writer *w, column *c, int64_t v, cdc_err *err)
{
    int64_t lo, hi;
    uint8_t b[16];

    switch (c->def.kind) {
    case PARQUET_INT8: lo = INT8_MIN; hi = INT8_MAX; break;
    case PARQUET_INT16: lo = INT16_MIN; hi = INT16_MAX; break;
    case PARQUET_INT32: case PARQUET_DATE: lo = INT32_MIN; hi = INT32_MAX; break;
    case PARQUET_INT64: case PARQUET_TIME_US: case PARQUET_TIMESTAMP_US:
    case PARQUET_TIMESTAMPTZ_US:
        lo = INT64_MIN; hi = INT64_MAX;
        break;
    case PARQUET_DECIMAL:
        if (c->def.precision <= 18) {
            hi = pow10_i64(c->def.precision) - 1;
            lo = -hi;
        } else {
            lo = INT64_MIN; hi = INT64_MAX;
        }
        break;
    default:
        return wrong_kind(c, "integer", err);
    }
    if (c->def.kind == PARQUET_TIME_US && (v < 0 || v > INT64_C(86400000000)))
        return reject(err,
                      "column \"%s\": time %" PRId64 " us is outside 00:00..24:00", c->name, v);
    if (v < lo || v > hi)
        return reject(err,
                      "column \"%s\" (%s): %" PRId64 " is out of range %" PRId64 "..%" PRId64,
                      c->name, parquet_kind_name(c->def.kind), v, lo, hi);
    switch (c->pt) {
    case PARQUET_PT_INT32:
        wr_le(b, (uint64_t) v, 4);
        return add_value(w, c, b, 4, err);
    case PARQUET_PT_INT64:
        wr_le(b, (uint64_t) v, 8);
        return add_value(w, c, b, 8, err);
    case PARQUET_PT_FIXED:      /* a wide decimal: big-endian, sign-extended */
        for (int i = 0; i < c->type_len; i++) {
            int sh = 8 * (c->type_len - 1 - i);
            b[i] = sh >= 64 ? (v < 0 ? 0xFF : 0) : (uint8_t) ((uint64_t) v >> sh);
        }
        return add_value(w, c, b, (size_t) c->type_len, err);
    default:
        return wrong_kind(c, "integer", err);
    }
}

int
parquet_put_i32(parquet_writer *w, size_t col, int32_t v, cdc_err *err)
{
    column *c = column_for(w, col, "int32", err);

    return c == NULL ? -1 : put_int(w, c, v, err);
}

int
parquet_put_i64(parquet_writer *w, size_t col, int64_t v, cdc_err *err)
{
    column *c = column_for(w, col, "int64", err);

    return c == NULL ? -1 : put_int(w, c, v, err);
}

int
parquet_put_float(parquet_writer *w, size_t col, float v, cdc_err *err)
{
    column *c = column_for(w, col, "float", err);
    uint8_t b[4];

    if (c == NULL)
        return -1;
    if (c->pt != PARQUET_PT_FLOAT)
        return wrong_kind(c, "float", err);
    memcpy(b, &v, 4);   /* little-endian hosts only: see docs/parquet.md */
    return add_value(w, c, b, 4, err);
}

int
parquet_put_double(parquet_writer *w, size_t col, double v, cdc_err *err)
{
    column *c = column_for(w, col, "double", err);
    uint8_t b[8];

    if (c == NULL)
        return -1;
    if (c->pt != PARQUET_PT_DOUBLE)
        return wrong_kind(c, "double", err);
    memcpy(b, &v, 8);
    return add_value(w, c, b, 8, err);
}

int
parquet_put_bytes(parquet_writer *w, size_t col, const void *p, size_t n, cdc_err *err)
{
    column        *c = column_for(w, col, "bytes", err);
    const uint8_t *s = p;

    if (c == NULL)
        return -1;
    if (n > 0 && p == NULL)
        return reject(err, "column \"%s\": NULL pointer for %zu bytes", c->name, n);
    if (c->def.kind == PARQUET_DECIMAL) {
        bool    neg;
        int64_t v = 0;

        if (n < 1 || n > 16)
            return reject(err,
                          "column \"%s\": a decimal's unscaled value needs 1..16 bytes, got %zu",
                          c->name, n);
        neg = (s[0] & 0x80) != 0;
        if (c->pt == PARQUET_PT_FIXED) {
            uint8_t b[16];
            size_t  len = (size_t) c->type_len;

            /* bytes beyond the column's width must be sign extension */
            for (size_t i = 0; i + len < n; i++)
                if (s[i] != (neg ? 0xFF : 0x00) || ((s[i + 1] & 0x80) != 0) != neg)
                    return reject(err,
                                  "column \"%s\": decimal(%" PRId32 ",%" PRId32 ") does not hold a "
                                  "%zu-byte unscaled value", c->name, c->def.precision,
                                  c->def.scale, n);
            if (n >= len) {
                memcpy(b, s + (n - len), len);
            } else {
                memset(b, neg ? 0xFF : 0x00, len - n);
                memcpy(b + (len - n), s, n);
            }
            return add_value(w, c, b, len, err);
        }
        for (size_t i = 0; i + 8 < n; i++)
            if (s[i] != (neg ? 0xFF : 0x00) || ((s[i + 1] & 0x80) != 0) != neg)
                return reject(err,
                              "column \"%s\": decimal(%" PRId32 ",%" PRId32 ") does not hold a "
                              "%zu-byte unscaled value", c->name, c->def.precision,
                              c->def.scale, n);
        v = neg ? -1 : 0;
        for (size_t i = n > 8 ? n - 8 : 0; i < n; i++)
            v = (int64_t) (((uint64_t) v << 8) | s[i]);
        return put_int(w, c, v, err);
    }
    if (c->pt == PARQUET_PT_FIXED) {
        if (n != (size_t) c->type_len)
            return reject(err, "column \"%s\" (%s) takes %" PRId32 " bytes, got %zu",
                          c->name, parquet_kind_name(c->def.kind), c->type_len, n);
        return add_value(w, c, s, n, err);
    }
    if (c->pt != PARQUET_PT_BYTE_ARRAY)
        return wrong_kind(c, "bytes", err);
    if (c->def.kind == PARQUET_STRING && !cdc_utf8_valid(p, n))
        return reject(err, "column \"%s\": a string of %zu bytes that is not UTF-8 (row %" PRId64
                      ")", c->name, n, w->rows);
    if (n > INT32_MAX)
        return reject(err, "column \"%s\": a value of %zu bytes (limit 2 GiB)",
                      c->name, n);
    return add_value(w, c, n > 0 ? s : (const uint8_t *) "", n, err);
}

int
parquet_list_begin(parquet_writer *w, size_t col, cdc_err *err)
{
    column *c;

    if (w->failed)
        return failed_again(w, err);
    if (w->closed)
        return reject(err, "list_begin after close");
    if (col >= w->ncols)
        return reject(err, "list_begin: no column %zu", col);
    c = &w->cols[col];
    if (!c->def.is_list)
        return reject(err, "column \"%s\" is not a list", c->name);
    if (c->row_set || c->in_list)
        return reject(err, "column \"%s\" has a value already in row %" PRId64,
                      c->name, w->rows);
    c->in_list = true;
    c->list_count = 0;
    return 0;
}

int
parquet_list_end(parquet_writer *w, size_t col, cdc_err *err)
{
    column *c;

    if (w->failed)
        return failed_again(w, err);
    if (w->closed)
        return reject(err, "list_end after close");
    if (col >= w->ncols)
        return reject(err, "list_end: no column %zu", col);
    c = &w->cols[col];
    if (!c->in_list)
        return reject(err, "column \"%s\": list_end without list_begin", c->name);
    if (c->list_count == 0) {
        /* an empty list: defined up to the list itself, no element */
        add_level(c, c->def.optional ? 1 : 0, 0);
    }
    c->in_list = false;
    c->row_set = true;
    return 0;
}

/* ------------------------------------------------------------------ rows */

/*
 * Drops the dictionary entries the current row added: an aborted row may have
 * been aborted for a value that must not reach the file, even unused.  They
 * are the newest entries, removed newest first: with linear probing, an older
 * entry's probe never crosses a slot filled after it, so no chain breaks.
 */
static void
dict_truncate(const parquet_writer *w, column *c)
{
    while (c->ndict > c->row_ndict) {
        uint32_t e = c->ndict - 1;
        size_t   h = hash_bytes(c->dict.data + c->doff[e], c->dlen[e]) & (c->nslots - 1);

        while (c->slots[h] != e + 1)
            h = (h + 1) & (c->nslots - 1);
        c->slots[h] = 0;
        c->ndict--;
    }
    c->dict.len = c->row_dlen;
    if (c->dict.data != NULL)
        c->dict.data[c->dict.len] = 0;
    c->dict_full = c->dict.len > w->o.dict_max_bytes;
}

static void
mark_row(column *c)
{
    c->row_nlv = c->nlv;
    c->row_vlen = c->values.len;
    c->row_nidx = c->nidx;
    c->row_ndict = c->ndict;
    c->row_dlen = c->dict.len;
}

/*
 * Counts and bounds are taken when a row ends, from what it left in the page
 * (PLAIN bytes or dictionary entries), so an aborted row leaves no trace in
 * them.
 */
static void
account_row(column *c)
{
    size_t off = c->row_vlen, k = c->row_nidx;

    for (size_t i = c->row_nlv; i < c->nlv; i++) {
        const uint8_t *p;
        size_t         n;

        c->chunk_values++;
        c->f_values++;
        if (c->deflv[i] < (uint32_t) c->max_def) {
            c->chunk_nulls++;
            c->f_nulls++;
            continue;
        }
        if (c->dict_on) {   /* a row's values are all PLAIN or all indices */
            uint32_t e = c->idx[k++];

            p = c->dict.data + c->doff[e];
            n = c->dlen[e];
        } else {
            switch (c->pt) {
            case PARQUET_PT_BOOLEAN: n = 1; break;
            case PARQUET_PT_INT32: case PARQUET_PT_FLOAT: n = 4; break;
            case PARQUET_PT_INT64: case PARQUET_PT_DOUBLE: n = 8; break;
            case PARQUET_PT_FIXED: n = (size_t) c->type_len; break;
            default:
                n = (size_t) (uint32_t) rd_i32(c->values.data + off);
                off += 4;
                break;
            }
            p = c->values.data + off;
            off += n;
        }
        if (is_nan(c, p))
            c->f_nan++;     /* counted, left out of the bounds */
        else
            bound_update(c, &c->cb, p, n);
    }
}

static size_t
page_raw_bytes(const column *c)
{
    return c->values.len + c->nidx + c->nlv / 4;
}

int
parquet_end_row(parquet_writer *w, cdc_err *err)
{
    size_t rg_bytes = 0;

    if (w->failed)
        return failed_again(w, err);
    if (w->closed)
        return reject(err, "end_row after close");
    for (size_t i = 0; i < w->ncols; i++) {
        column *c = &w->cols[i];

        if (c->in_list)
            return reject(err, "column \"%s\": row %" PRId64 " ends inside a list",
                          c->name, w->rows);
        if (!c->row_set)
            return reject(err, "column \"%s\" has no value in row %" PRId64,
                          c->name, w->rows);
    }
    for (size_t i = 0; i < w->ncols; i++) {
        column *c = &w->cols[i];

        account_row(c);
        c->row_set = false;
        if (c->dict_full) {
            /* the dictionary is closed: its page ends here, PLAIN follows */
            if (flush_page(w, c, err) < 0)
                return -1;
            c->dict_on = false;
            c->dict_full = false;
        } else if (page_raw_bytes(c) >= w->o.page_bytes || c->nlv >= MAX_PAGE_LEVELS) {
            if (flush_page(w, c, err) < 0)
                return -1;
        }
        rg_bytes += c->pages.len + c->dict.len + page_raw_bytes(c);
    }
    w->rows++;
    w->rg_rows++;
    if (rg_bytes >= w->o.row_group_bytes && flush_row_group(w, err) < 0)
        return -1;
    for (size_t i = 0; i < w->ncols; i++)
        mark_row(&w->cols[i]);
    return 0;
}

int
parquet_abort_row(parquet_writer *w, cdc_err *err)
{
    if (w->failed)
        return failed_again(w, err);
    for (size_t i = 0; i < w->ncols; i++) {
        column *c = &w->cols[i];

        dict_truncate(w, c);
        c->nlv = c->row_nlv;
        c->nidx = c->row_nidx;
        c->values.len = c->row_vlen;
        if (c->values.data != NULL)
            c->values.data[c->values.len] = 0;
        c->row_set = false;
        c->in_list = false;
        c->list_count = 0;
    }
    return 0;
}

int64_t
parquet_rows(const parquet_writer *w)
{
    return w->rows;
}

uint64_t
parquet_estimated_size(const parquet_writer *w)
{
    uint64_t n = w->offset == 0 ? 4 : w->offset;

    for (size_t i = 0; i < w->ncols; i++) {
        const column *c = &w->cols[i];

        n += c->pages.len + c->dict.len + page_raw_bytes(c) + 64;
    }
    return n + 8;
}

/* ------------------------------------------------------------------ footer */

static void
schema_leaf(parquet_thrift *t, const column *c, const char *name, int32_t field_id, int rep)
{
    const parquet_column *d = &c->def;

    parquet_thrift_elem_struct(t);
    parquet_thrift_i32(t, 1, (int32_t) c->pt);
    if (c->pt == PARQUET_PT_FIXED)
        parquet_thrift_i32(t, 2, c->type_len);
    parquet_thrift_i32(t, 3, rep);
    parquet_thrift_string(t, 4, name);
    switch (d->kind) {
    case PARQUET_STRING: parquet_thrift_i32(t, 6, CT_UTF8); break;
    case PARQUET_DECIMAL: parquet_thrift_i32(t, 6, CT_DECIMAL); break;
    case PARQUET_DATE: parquet_thrift_i32(t, 6, CT_DATE); break;
    /*
     * The legacy TIME_MICROS and TIMESTAMP_MICROS converted types mean
     * UTC-adjusted (LogicalTypes.md), so only timestamptz carries one: a reader
     * that knows converted types only must not take a local timestamp or time
     * for an instant (Iceberg's own writer does the same).
     */
    case PARQUET_TIMESTAMPTZ_US: parquet_thrift_i32(t, 6, CT_TIMESTAMP_MICROS); break;
    case PARQUET_INT8: parquet_thrift_i32(t, 6, CT_INT_8); break;
    case PARQUET_INT16: parquet_thrift_i32(t, 6, CT_INT_16); break;
    default: break;
    }
    if (d->kind == PARQUET_DECIMAL) {
        parquet_thrift_i32(t, 7, d->scale);
        parquet_thrift_i32(t, 8, d->precision);
    }
    parquet_thrift_i32(t, 9, field_id);
    switch (d->kind) {
    case PARQUET_STRING:
        parquet_thrift_struct(t, 10);
        parquet_thrift_empty(t, 1);
        parquet_thrift_end(t);
        break;
    case PARQUET_DECIMAL:
        parquet_thrift_struct(t, 10);
        parquet_thrift_struct(t, 5);
        parquet_thrift_i32(t, 1, d->scale);
        parquet_thrift_i32(t, 2, d->precision);
        parquet_thrift_end(t);
        parquet_thrift_end(t);
        break;
    case PARQUET_DATE:
        parquet_thrift_struct(t, 10);
        parquet_thrift_empty(t, 6);
        parquet_thrift_end(t);
        break;
    case PARQUET_TIME_US: case PARQUET_TIMESTAMP_US: case PARQUET_TIMESTAMPTZ_US:
        parquet_thrift_struct(t, 10);
        parquet_thrift_struct(t, d->kind == PARQUET_TIME_US ? 7 : 8);
        parquet_thrift_bool(t, 1, d->kind == PARQUET_TIMESTAMPTZ_US);
        parquet_thrift_struct(t, 2);    /* TimeUnit */
        parquet_thrift_empty(t, 2);     /* MICROS */
        parquet_thrift_end(t);
        parquet_thrift_end(t);
        parquet_thrift_end(t);
        break;
    case PARQUET_UUID:
        parquet_thrift_struct(t, 10);
        parquet_thrift_empty(t, 14);
        parquet_thrift_end(t);
        break;
    case PARQUET_INT8: case PARQUET_INT16:
        parquet_thrift_struct(t, 10);
        parquet_thrift_struct(t, 10);
        parquet_thrift_i8(t, 1, d->kind == PARQUET_INT8 ? 8 : 16);
        parquet_thrift_bool(t, 2, true);
        parquet_thrift_end(t);
        parquet_thrift_end(t);
        break;
    default:
        break;
    }
    parquet_thrift_end(t);
}

static size_t
schema_elements(const parquet_writer *w)
{
    size_t n = 1;

    for (size_t i = 0; i < w->ncols; i++)
        n += w->cols[i].def.is_list ? 3 : 1;
    return n;
}

static void
write_schema(parquet_thrift *t, const parquet_writer *w)
{
    parquet_thrift_list(t, 2, PARQUET_TT_STRUCT, schema_elements(w));
    parquet_thrift_elem_struct(t);      /* the root */
    parquet_thrift_string(t, 4, "table");
    parquet_thrift_i32(t, 5, (int32_t) w->ncols);
    parquet_thrift_end(t);
    for (size_t i = 0; i < w->ncols; i++) {
        const column *c = &w->cols[i];

        if (!c->def.is_list) {
            schema_leaf(t, c, c->name, c->def.field_id,
                        c->def.optional ? REP_OPTIONAL : REP_REQUIRED);
            continue;
        }
        parquet_thrift_elem_struct(t);
        parquet_thrift_i32(t, 3, c->def.optional ? REP_OPTIONAL : REP_REQUIRED);
        parquet_thrift_string(t, 4, c->name);
        parquet_thrift_i32(t, 5, 1);
        parquet_thrift_i32(t, 6, CT_LIST);
        parquet_thrift_i32(t, 9, c->def.field_id);
        parquet_thrift_struct(t, 10);
        parquet_thrift_empty(t, 3);
        parquet_thrift_end(t);
        parquet_thrift_end(t);
        parquet_thrift_elem_struct(t);
        parquet_thrift_i32(t, 3, REP_REPEATED);
        parquet_thrift_string(t, 4, "list");
        parquet_thrift_i32(t, 5, 1);
        parquet_thrift_end(t);
        schema_leaf(t, c, "element", c->def.element_field_id,
                    c->def.element_optional ? REP_OPTIONAL : REP_REQUIRED);
    }
}

static void
write_column_chunk(parquet_thrift *t, const parquet_writer *w, const column *c,
                   const chunk_meta *m)
{
    static const int codec_ids[] = { CODEC_ZSTD, CODEC_SNAPPY, CODEC_UNCOMPRESSED };

    parquet_thrift_elem_struct(t);
    parquet_thrift_i64(t, 2, 0);    /* file_offset: no ColumnMetaData outside the footer */
    parquet_thrift_struct(t, 3);    /* ColumnMetaData */
    parquet_thrift_i32(t, 1, (int32_t) c->pt);
    /* levels are RLE; PLAIN is the dictionary page's or the values'; then the indices' */
    parquet_thrift_list(t, 2, PARQUET_TT_I32, m->used_dict ? 3 : 2);
    parquet_thrift_elem_i32(t, ENC_RLE);
    parquet_thrift_elem_i32(t, ENC_PLAIN);
    if (m->used_dict)
        parquet_thrift_elem_i32(t, ENC_RLE_DICTIONARY);
    parquet_thrift_list(t, 3, PARQUET_TT_BINARY, c->def.is_list ? 3 : 1);
    parquet_thrift_elem_binary(t, c->name, strlen(c->name));
    if (c->def.is_list) {
        parquet_thrift_elem_binary(t, "list", 4);
        parquet_thrift_elem_binary(t, "element", 7);
    }
    parquet_thrift_i32(t, 4, codec_ids[w->o.codec]);
    parquet_thrift_i64(t, 5, m->num_values);
    parquet_thrift_i64(t, 6, m->total_uncompressed);
    parquet_thrift_i64(t, 7, m->total_compressed);
    parquet_thrift_i64(t, 9, m->data_page_offset);
    if (m->dict_page_offset >= 0)
        parquet_thrift_i64(t, 11, m->dict_page_offset);
    parquet_thrift_struct(t, 12);   /* Statistics */
    parquet_thrift_i64(t, 3, m->null_count);
    if (m->b.has) {
        parquet_thrift_binary(t, 5, m->b.max.data, m->b.max.len);
        parquet_thrift_binary(t, 6, m->b.min.data, m->b.min.len);
    }
    parquet_thrift_end(t);
    parquet_thrift_end(t);
    parquet_thrift_end(t);
}

static void
write_footer_meta(parquet_thrift *t, const parquet_writer *w)
{
    parquet_thrift_i32(t, 1, 2);    /* version: logical types, RLE_DICTIONARY */
    write_schema(t, w);
    parquet_thrift_i64(t, 3, w->rows);
    parquet_thrift_list(t, 4, PARQUET_TT_STRUCT, w->nrgs);
    for (size_t r = 0; r < w->nrgs; r++) {
        const rowgroup_meta *rg = &w->rgs[r];

        parquet_thrift_elem_struct(t);
        parquet_thrift_list(t, 1, PARQUET_TT_STRUCT, w->ncols);
        for (size_t i = 0; i < w->ncols; i++)
            write_column_chunk(t, w, &w->cols[i], &rg->chunks[i]);
        parquet_thrift_i64(t, 2, rg->total_byte_size);
        parquet_thrift_i64(t, 3, rg->num_rows);
        parquet_thrift_i64(t, 5, rg->file_offset);
        parquet_thrift_i64(t, 6, rg->total_compressed);
        parquet_thrift_i16(t, 7, (int16_t) r);
        parquet_thrift_end(t);
    }
    if (w->nkv > 0) {
        parquet_thrift_list(t, 5, PARQUET_TT_STRUCT, w->nkv);
        for (size_t i = 0; i < w->nkv; i++) {
            parquet_thrift_elem_struct(t);
            parquet_thrift_string(t, 1, w->kv[i].key);
            if (w->kv[i].value != NULL)
                parquet_thrift_string(t, 2, w->kv[i].value);
            parquet_thrift_end(t);
        }
    }
    parquet_thrift_string(t, 6, "cdcagent version " CDC_VERSION " (build parquet)");
    /* TYPE_ORDER for every leaf: readers then trust min_value and max_value */
    parquet_thrift_list(t, 7, PARQUET_TT_STRUCT, w->ncols);
    for (size_t i = 0; i < w->ncols; i++) {
        parquet_thrift_elem_struct(t);
        parquet_thrift_empty(t, 1);
        parquet_thrift_end(t);
    }
    parquet_thrift_end(t);
}

static void
fill_result(parquet_writer *w, parquet_result *res)
{
    memset(res, 0, sizeof(*res));
    res->file_size = w->offset;
    res->row_count = w->rows;
    res->ncols = w->ncols;
    res->cols = cdc_xcalloc(w->ncols, sizeof(*res->cols));
    for (size_t i = 0; i < w->ncols; i++) {
        column            *c = &w->cols[i];
        parquet_col_stats *s = &res->cols[i];

        s->name = cdc_xstrdup(c->name);
        s->field_id = c->def.is_list ? c->def.element_field_id : c->def.field_id;
        s->value_count = c->f_values;
        s->null_count = c->f_nulls;
        s->nan_count = c->f_nan;
        s->compressed_size = c->f_compressed;
        s->uncompressed_size = c->f_uncompressed;
        bound_fix_zeros(c, &c->fb);
        s->has_bounds = c->fb.has;
        if (c->fb.has) {
            s->min = cdc_xmalloc(c->fb.min.len + 1);
            memcpy(s->min, c->fb.min.data, c->fb.min.len);
            s->min_len = c->fb.min.len;
            s->max = cdc_xmalloc(c->fb.max.len + 1);
            memcpy(s->max, c->fb.max.data, c->fb.max.len);
            s->max_len = c->fb.max.len;
        }
    }
    res->nrow_groups = w->nrgs;
    if (w->nrgs > 0) {
        res->split_offsets = cdc_xcalloc(w->nrgs, sizeof(*res->split_offsets));
        for (size_t r = 0; r < w->nrgs; r++)
            res->split_offsets[r] = w->rgs[r].file_offset;
    }
}

int
parquet_close(parquet_writer *w, parquet_result *res, cdc_err *err)
{
    parquet_thrift t;
    uint8_t        len[4];
    size_t         n;

    if (res != NULL)
        memset(res, 0, sizeof(*res));
    if (w->failed)
        return failed_again(w, err);
    if (w->closed)
        return reject(err, "closed twice");
    for (size_t i = 0; i < w->ncols; i++)
        if (w->cols[i].row_set || w->cols[i].in_list)
            return reject(err,
                          "close inside row %" PRId64 " (column \"%s\" has a value): end_row first",
                          w->rows, w->cols[i].name);
    if (flush_row_group(w, err) < 0 || write_magic_once(w, err) < 0)
        return -1;
    cdc_buf_reset(&w->scratch);
    parquet_thrift_init(&t, &w->scratch);
    write_footer_meta(&t, w);
    if (parquet_thrift_failed(&t))
        return fail(w, err, CDC_E_NOMEM, "out of memory writing the footer");
    n = w->scratch.len;
    wr_le(len, n, 4);
    if (emit(w, w->scratch.data, n, err) < 0 || emit(w, len, 4, err) < 0
        || emit(w, MAGIC, 4, err) < 0)
        return -1;
    w->closed = true;
    if (res != NULL)
        fill_result(w, res);
    return 0;
}

void
parquet_result_free(parquet_result *res)
{
    if (res == NULL)
        return;
    for (size_t i = 0; i < res->ncols; i++) {
        free((char *) res->cols[i].name);
        free(res->cols[i].min);
        free(res->cols[i].max);
    }
    free(res->cols);
    free(res->split_offsets);
    memset(res, 0, sizeof(*res));
}
