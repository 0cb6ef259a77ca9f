/*
 * The Parquet writer's footer: the schema (with Iceberg's field ids and the
 * logical types), the row groups' column chunk metadata and statistics, the
 * key-value metadata, and parquet_close, which writes it after the last row
 * group.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_mem.h"
#include "sinks/iceberg/parquet/parquet_int.h"
#include "sinks/iceberg/parquet/parquet_thrift.h"

enum { REP_REQUIRED = 0, REP_OPTIONAL = 1, REP_REPEATED = 2 };
enum {
    CT_UTF8 = 0, CT_LIST = 3, CT_DECIMAL = 5, CT_DATE = 6,
    CT_TIMESTAMP_MICROS = 10, CT_INT_8 = 15, CT_INT_16 = 16,
};
enum { CODEC_UNCOMPRESSED = 0, CODEC_SNAPPY = 1, CODEC_ZSTD = 6 };

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

int
parquet_close(parquet_writer *w, parquet_result *res, cdc_err *err)
{
    parquet_thrift t;
    uint8_t        len[4];
    size_t         n;

    if (res != NULL)
        memset(res, 0, sizeof(*res));
    if (w->failed)
        return parquet_failed_again(w, err);
    if (w->closed)
        return parquet_reject(err, "closed twice");
    for (size_t i = 0; i < w->ncols; i++)
        if (w->cols[i].row_set || w->cols[i].in_list)
            return parquet_reject(err,
                    "close inside row %" PRId64 " (column \"%s\" has a value): end_row first",
                    w->rows, w->cols[i].name);
    if (parquet_flush_row_group(w, err) < 0 || parquet_write_magic_once(w, err) < 0)
        return -1;
    cdc_buf_reset(&w->scratch);
    parquet_thrift_init(&t, &w->scratch);
    write_footer_meta(&t, w);
    if (parquet_thrift_failed(&t))
        return parquet_fail(w, err, CDC_E_NOMEM, "out of memory writing the footer");
    n = w->scratch.len;
    parquet_wr_le(len, n, 4);
    if (parquet_emit(w, w->scratch.data, n, err) < 0 || parquet_emit(w, len, 4, err) < 0
        || parquet_emit(w, MAGIC, 4, err) < 0)
        return -1;
    w->closed = true;
    if (res != NULL)
        parquet_fill_result(w, res);
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
