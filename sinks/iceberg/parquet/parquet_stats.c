/*
 * The Parquet writer's statistics: the order of values (parquet.thrift's
 * TYPE_ORDER), the bounds of a column chunk and of the file, the counts a
 * row adds when it ends, and the per-column figures of parquet_result.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_mem.h"
#include "sinks/iceberg/parquet/parquet_int.h"

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

void
parquet_wr_le(uint8_t *p, uint64_t v, int n)
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

void
parquet_bound_set(cdc_buf *dst, const uint8_t *p, size_t n)
{
    cdc_buf_reset(dst);
    cdc_buf_reserve(dst, n + 1);
    cdc_buf_put(dst, p, n);
}

void
parquet_bound_update(const column *c, bound *b, const uint8_t *p, size_t n)
{
    if (!b->has) {
        parquet_bound_set(&b->min, p, n);
        parquet_bound_set(&b->max, p, n);
        b->has = true;
        return;
    }
    if (cmp_values(c, p, n, b->min.data, b->min.len) < 0)
        parquet_bound_set(&b->min, p, n);
    if (cmp_values(c, p, n, b->max.data, b->max.len) > 0)
        parquet_bound_set(&b->max, p, n);
}

/* parquet.thrift: a zero min is written as -0.0 and a zero max as +0.0. */
void
parquet_bound_fix_zeros(const column *c, bound *b)
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

void
parquet_bound_free(bound *b)
{
    cdc_buf_free(&b->min);
    cdc_buf_free(&b->max);
    b->has = false;
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

/*
 * Counts and bounds are taken when a row ends, from what it left in the page
 * (PLAIN bytes or dictionary entries), so an aborted row leaves no trace in
 * them.
 */
void
parquet_account_row(column *c)
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
            parquet_bound_update(c, &c->cb, p, n);
    }
}

void
parquet_fill_result(parquet_writer *w, parquet_result *res)
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
        parquet_bound_fix_zeros(c, &c->fb);
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
