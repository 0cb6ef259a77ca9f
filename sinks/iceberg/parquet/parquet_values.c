/*
 * The Parquet writer's values and rows: levels, the column's dictionary,
 * the parquet_put_* calls and lists, and a row's end (its counts, the pages
 * and row group it closes) or its abort (each column rewound to its mark).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_mem.h"
#include "agent/core/cdc_utf8.h"
#include "sinks/iceberg/parquet/parquet_int.h"

#define MAX_PAGE_LEVELS 20000   /* level entries per data page, as parquet-mr's row limit */

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

        parquet_wr_le(len, n, 4);
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
        parquet_failed_again(w, err);
        return NULL;
    }
    if (w->closed) {
        parquet_reject(err, "%s after close", what);
        return NULL;
    }
    if (col >= w->ncols) {
        parquet_reject(err, "%s: no column %zu (the schema has %zu)", what, col, w->ncols);
        return NULL;
    }
    c = &w->cols[col];
    if (c->row_set) {
        parquet_reject(err, "column \"%s\" has a value already in row %" PRId64, c->name,
                       w->rows);
        return NULL;
    }
    if (c->def.is_list && !c->in_list && strcmp(what, "null") != 0) {
        parquet_reject(err, "column \"%s\" is a list: %s outside list_begin/list_end",
                       c->name, what);
        return NULL;
    }
    return c;
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

            parquet_wr_le(len, n, 4);
            cdc_buf_put(&c->values, len, 4);
        }
        cdc_buf_put(&c->values, p, n);
    }
    if (cdc_buf_failed(&c->values) || cdc_buf_failed(&c->dict))
        return parquet_fail(w, err, CDC_E_NOMEM, "out of memory buffering column \"%s\"", c->name);
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
            return parquet_reject(err,
                                  "column \"%s\": a null element in a list of required elements",
                                  c->name);
        add_level(c, (uint32_t) c->max_def - 1, c->list_count > 0 ? 1 : 0);
        c->list_count++;
    } else {
        if (!c->def.optional)
            return parquet_reject(err, "column \"%s\" is required: null in row %" PRId64,
                                  c->name, w->rows);
        add_level(c, 0, 0);
        c->row_set = true;
    }
    return 0;
}

static int
wrong_kind(const column *c, const char *what, cdc_err *err)
{
    return parquet_reject(err, "column \"%s\" is %s: cannot take a %s value", c->name,
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
        return parquet_reject(err,
                "column \"%s\": time %" PRId64 " us is outside 00:00..24:00", c->name, v);
    if (v < lo || v > hi)
        return parquet_reject(err,
                "column \"%s\" (%s): %" PRId64 " is out of range %" PRId64 "..%" PRId64,
                c->name, parquet_kind_name(c->def.kind), v, lo, hi);
    switch (c->pt) {
    case PARQUET_PT_INT32:
        parquet_wr_le(b, (uint64_t) v, 4);
        return add_value(w, c, b, 4, err);
    case PARQUET_PT_INT64:
        parquet_wr_le(b, (uint64_t) v, 8);
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
        return parquet_reject(err, "column \"%s\": NULL pointer for %zu bytes", c->name, n);
    if (c->def.kind == PARQUET_DECIMAL) {
        bool    neg;
        int64_t v = 0;

        if (n < 1 || n > 16)
            return parquet_reject(err,
                    "column \"%s\": a decimal's unscaled value needs 1..16 bytes, got %zu",
                    c->name, n);
        neg = (s[0] & 0x80) != 0;
        if (c->pt == PARQUET_PT_FIXED) {
            uint8_t b[16];
            size_t  len = (size_t) c->type_len;

            /* bytes beyond the column's width must be sign extension */
            for (size_t i = 0; i + len < n; i++)
                if (s[i] != (neg ? 0xFF : 0x00) || ((s[i + 1] & 0x80) != 0) != neg)
                    return parquet_reject(err,
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
                return parquet_reject(err,
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
            return parquet_reject(err, "column \"%s\" (%s) takes %" PRId32 " bytes, got %zu",
                                  c->name, parquet_kind_name(c->def.kind), c->type_len, n);
        return add_value(w, c, s, n, err);
    }
    if (c->pt != PARQUET_PT_BYTE_ARRAY)
        return wrong_kind(c, "bytes", err);
    if (c->def.kind == PARQUET_STRING && !cdc_utf8_valid(p, n))
        return parquet_reject(err,
                              "column \"%s\": a string of %zu bytes that is not UTF-8 (row %" PRId64
                              ")", c->name, n, w->rows);
    if (n > INT32_MAX)
        return parquet_reject(err, "column \"%s\": a value of %zu bytes (limit 2 GiB)",
                              c->name, n);
    return add_value(w, c, n > 0 ? s : (const uint8_t *) "", n, err);
}

int
parquet_list_begin(parquet_writer *w, size_t col, cdc_err *err)
{
    column *c;

    if (w->failed)
        return parquet_failed_again(w, err);
    if (w->closed)
        return parquet_reject(err, "list_begin after close");
    if (col >= w->ncols)
        return parquet_reject(err, "list_begin: no column %zu", col);
    c = &w->cols[col];
    if (!c->def.is_list)
        return parquet_reject(err, "column \"%s\" is not a list", c->name);
    if (c->row_set || c->in_list)
        return parquet_reject(err, "column \"%s\" has a value already in row %" PRId64,
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
        return parquet_failed_again(w, err);
    if (w->closed)
        return parquet_reject(err, "list_end after close");
    if (col >= w->ncols)
        return parquet_reject(err, "list_end: no column %zu", col);
    c = &w->cols[col];
    if (!c->in_list)
        return parquet_reject(err, "column \"%s\": list_end without list_begin", c->name);
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
        return parquet_failed_again(w, err);
    if (w->closed)
        return parquet_reject(err, "end_row after close");
    for (size_t i = 0; i < w->ncols; i++) {
        column *c = &w->cols[i];

        if (c->in_list)
            return parquet_reject(err, "column \"%s\": row %" PRId64 " ends inside a list",
                                  c->name, w->rows);
        if (!c->row_set)
            return parquet_reject(err, "column \"%s\" has no value in row %" PRId64,
                                  c->name, w->rows);
    }
    for (size_t i = 0; i < w->ncols; i++) {
        column *c = &w->cols[i];

        parquet_account_row(c);
        c->row_set = false;
        if (c->dict_full) {
            /* the dictionary is closed: its page ends here, PLAIN follows */
            if (parquet_flush_page(w, c, err) < 0)
                return -1;
            c->dict_on = false;
            c->dict_full = false;
        } else if (page_raw_bytes(c) >= w->o.page_bytes || c->nlv >= MAX_PAGE_LEVELS) {
            if (parquet_flush_page(w, c, err) < 0)
                return -1;
        }
        rg_bytes += c->pages.len + c->dict.len + page_raw_bytes(c);
    }
    w->rows++;
    w->rg_rows++;
    if (rg_bytes >= w->o.row_group_bytes && parquet_flush_row_group(w, err) < 0)
        return -1;
    for (size_t i = 0; i < w->ncols; i++)
        mark_row(&w->cols[i]);
    return 0;
}

int
parquet_abort_row(parquet_writer *w, cdc_err *err)
{
    if (w->failed)
        return parquet_failed_again(w, err);
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
