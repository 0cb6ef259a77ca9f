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
 *
 * This file holds the writer itself (new, free), its kinds and its errors;
 * parquet_int.h lists the others.
 */
#include "sinks/iceberg/parquet/parquet.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_mem.h"
#include "sinks/iceberg/parquet/parquet_int.h"

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

int
parquet_fail(parquet_writer *w, cdc_err *err, cdc_rc code, const char *fmt, ...)
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
int
parquet_reject(cdc_err *err, const char *fmt, ...)
{
    va_list ap;
    char    msg[sizeof(err->msg)];

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return cdc_err_set(err, CDC_E_INVAL, "parquet: %s", msg);
}

/* After a failure, every call repeats it. */
int
parquet_failed_again(parquet_writer *w, cdc_err *err)
{
    if (err != NULL)
        *err = w->ferr;
    return -1;
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

void
parquet_chunk_reset(const parquet_writer *w, column *c)
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
        parquet_chunk_reset(w, c);
    }
    return w;
}

static void
free_meta(parquet_writer *w)
{
    for (size_t r = 0; r < w->nrgs; r++) {
        for (size_t i = 0; i < w->ncols; i++)
            parquet_bound_free(&w->rgs[r].chunks[i].b);
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
        parquet_bound_free(&c->cb);
        parquet_bound_free(&c->fb);
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
