/*
 * Opening a Parquet file: the sources (memory, a file descriptor), the
 * magic at both ends, and the footer (FileMetaData) decoded from thrift
 * into the schema's columns, the row groups' column chunks with their
 * statistics, and the key-value metadata.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/core/cdc_mem.h"
#include "sinks/iceberg/parquet/parquet_read_int.h"
#include "sinks/iceberg/parquet/parquet_thrift.h"

#define MAGIC "PAR1"
#define MAX_FOOTER      (64u << 20)     /* a footer larger than this is refused */
#define MAX_SCHEMA_DEPTH 32

enum { REP_REQUIRED = 0, REP_OPTIONAL = 1, REP_REPEATED = 2 };
/* ConvertedType values used here */
enum { CT_UTF8 = 0, CT_ENUM = 4, CT_DECIMAL = 5, CT_DATE = 6, CT_TIME_MILLIS = 7,
       CT_TIME_MICROS = 8, CT_TIMESTAMP_MILLIS = 9, CT_TIMESTAMP_MICROS = 10,
       CT_UINT_8 = 11, CT_INT_64 = 18, CT_JSON = 19 };

/* ---------------------------------------------------------------- sources */

static int
read_mem(void *arg, uint64_t off, size_t n, cdc_buf *out, cdc_err *err)
{
    parquet_reader *r = arg;

    (void) err;
    cdc_buf_reset(out);
    cdc_buf_put(out, r->mem + off, n);
    return 0;
}

static int
read_fd(void *arg, uint64_t off, size_t n, cdc_buf *out, cdc_err *err)
{
    parquet_reader *r = arg;
    size_t          got = 0;

    cdc_buf_reset(out);
    if (!cdc_buf_reserve(out, n + 1))
        return cdc_err_set(err, CDC_E_NOMEM, "parquet file %s: out of memory reading %zu bytes",
                           r->name, n);
    while (got < n) {
        ssize_t k = pread(r->fd, out->data + got, n - got, (off_t) (off + got));

        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return cdc_err_set(err, CDC_E_IO, "parquet file %s: read: %s", r->name,
                               strerror(errno));
        if (k == 0)
            return bad(r, err, "file shorter than it was (%" PRIu64 " bytes wanted at %" PRIu64
                       ")", (uint64_t) n, off);
        got += (size_t) k;
    }
    out->len = n;
    out->data[n] = 0;
    return 0;
}

/* ---------------------------------------------------------------- footer */

typedef struct selem {
    int            type;            /* -1: none (a group) */
    int32_t        type_len;
    int            rep;             /* -1: none (the root) */
    const uint8_t *name;
    size_t         name_len;
    int32_t        nchildren;       /* -1: none */
    int            converted;       /* -1: none */
    int32_t        scale, precision;
    int32_t        field_id;        /* -1: none */
    parquet_logical lt;             /* from LogicalType, NONE when absent */
    parquet_time_unit unit;
    bool           utc;
    int            bit_width;
    bool           is_signed;
    int32_t        lt_scale, lt_precision;
} selem;

static void
rd_logical(parquet_thrift_rd *t, selem *e)
{
    int16_t id, id2;
    uint8_t ty, ty2;

    parquet_thrift_rd_struct(t);
    while (parquet_thrift_rd_field(t, &id, &ty)) {
        if (ty != PARQUET_TT_STRUCT) {
            parquet_thrift_rd_skip(t, ty);
            continue;
        }
        switch (id) {
        case 1: case 4: case 12: e->lt = PARQUET_LT_STRING; break;
        case 5: e->lt = PARQUET_LT_DECIMAL; break;
        case 6: e->lt = PARQUET_LT_DATE; break;
        case 7: e->lt = PARQUET_LT_TIME; break;
        case 8: e->lt = PARQUET_LT_TIMESTAMP; break;
        case 10: e->lt = PARQUET_LT_INTEGER; break;
        case 14: e->lt = PARQUET_LT_UUID; break;
        case 2: case 3: e->lt = PARQUET_LT_NONE; break;    /* MAP, LIST: groups */
        default: e->lt = PARQUET_LT_OTHER; break;
        }
        parquet_thrift_rd_struct(t);
        while (parquet_thrift_rd_field(t, &id2, &ty2)) {
            if (id == 5 && (id2 == 1 || id2 == 2) && ty2 == PARQUET_TT_I32) {
                int32_t v = parquet_thrift_rd_i32(t);

                if (id2 == 1)
                    e->lt_scale = v;
                else
                    e->lt_precision = v;
            } else if ((id == 7 || id == 8) && id2 == 1
                       && (ty2 == PARQUET_TT_BOOL_TRUE || ty2 == PARQUET_TT_BOOL_FALSE)) {
                e->utc = ty2 == PARQUET_TT_BOOL_TRUE;
            } else if ((id == 7 || id == 8) && id2 == 2 && ty2 == PARQUET_TT_STRUCT) {
                int16_t id3;
                uint8_t ty3;

                parquet_thrift_rd_struct(t);
                while (parquet_thrift_rd_field(t, &id3, &ty3)) {
                    if (id3 == 1)
                        e->unit = PARQUET_MILLIS;
                    else if (id3 == 2)
                        e->unit = PARQUET_MICROS;
                    else if (id3 == 3)
                        e->unit = PARQUET_NANOS;
                    parquet_thrift_rd_skip(t, ty3);
                }
            } else if (id == 10 && id2 == 1 && ty2 == PARQUET_TT_I8) {
                e->bit_width = parquet_thrift_rd_i8(t);
            } else if (id == 10 && id2 == 2
                       && (ty2 == PARQUET_TT_BOOL_TRUE || ty2 == PARQUET_TT_BOOL_FALSE)) {
                e->is_signed = ty2 == PARQUET_TT_BOOL_TRUE;
            } else {
                parquet_thrift_rd_skip(t, ty2);
            }
        }
    }
}

static void
rd_selem(parquet_thrift_rd *t, selem *e)
{
    int16_t id;
    uint8_t ty;

    memset(e, 0, sizeof(*e));
    e->type = e->rep = e->nchildren = e->converted = e->field_id = -1;
    parquet_thrift_rd_struct(t);
    while (parquet_thrift_rd_field(t, &id, &ty)) {
        bool i32 = ty == PARQUET_TT_I32;

        if (id == 1 && i32)
            e->type = parquet_thrift_rd_i32(t);
        else if (id == 2 && i32)
            e->type_len = parquet_thrift_rd_i32(t);
        else if (id == 3 && i32)
            e->rep = parquet_thrift_rd_i32(t);
        else if (id == 4 && ty == PARQUET_TT_BINARY)
            e->name = parquet_thrift_rd_binary(t, &e->name_len);
        else if (id == 5 && i32)
            e->nchildren = parquet_thrift_rd_i32(t);
        else if (id == 6 && i32)
            e->converted = parquet_thrift_rd_i32(t);
        else if (id == 7 && i32)
            e->scale = parquet_thrift_rd_i32(t);
        else if (id == 8 && i32)
            e->precision = parquet_thrift_rd_i32(t);
        else if (id == 9 && i32)
            e->field_id = parquet_thrift_rd_i32(t);
        else if (id == 10 && ty == PARQUET_TT_STRUCT)
            rd_logical(t, e);
        else
            parquet_thrift_rd_skip(t, ty);
    }
}

/* The column's description from its element, the logical type first, the converted one else. */
static void
describe(parquet_read_col *c, const selem *e)
{
    c->physical = e->type;
    c->type_len = e->type_len;
    c->field_id = e->field_id;
    c->logical = e->lt;
    c->unit = e->unit;
    c->utc = e->utc;
    c->bit_width = e->bit_width;
    c->is_signed = e->is_signed;
    c->precision = e->lt == PARQUET_LT_DECIMAL ? e->lt_precision : e->precision;
    c->scale = e->lt == PARQUET_LT_DECIMAL ? e->lt_scale : e->scale;
    if (e->lt != PARQUET_LT_NONE)
        return;
    switch (e->converted) {
    case CT_UTF8: case CT_ENUM: case CT_JSON: c->logical = PARQUET_LT_STRING; break;
    case CT_DECIMAL: c->logical = PARQUET_LT_DECIMAL; break;
    case CT_DATE: c->logical = PARQUET_LT_DATE; break;
    case CT_TIME_MILLIS: case CT_TIME_MICROS:
        c->logical = PARQUET_LT_TIME;
        c->unit = e->converted == CT_TIME_MILLIS ? PARQUET_MILLIS : PARQUET_MICROS;
        c->utc = true;
        break;
    case CT_TIMESTAMP_MILLIS: case CT_TIMESTAMP_MICROS:
        c->logical = PARQUET_LT_TIMESTAMP;
        c->unit = e->converted == CT_TIMESTAMP_MILLIS ? PARQUET_MILLIS : PARQUET_MICROS;
        c->utc = true;
        break;
    default:
        if (e->converted >= CT_UINT_8 && e->converted <= CT_INT_64) {
            static const int widths[] = { 8, 16, 32, 64 };
            int k = e->converted - CT_UINT_8;

            c->logical = PARQUET_LT_INTEGER;
            c->is_signed = k >= 4;
            c->bit_width = widths[k % 4];
        } else if (e->converted >= 0) {
            c->logical = PARQUET_LT_OTHER;
        }
        break;
    }
}

typedef struct walk {
    parquet_reader *r;
    const selem    *el;
    size_t          nel;
    size_t          next;
    cdc_buf         path;
    size_t          cap_cols;
} walk;

/* The element at w->next and its subtree. */
static int
walk_elem(walk *w, int def, int rep, int rep_def, int depth, cdc_err *err)
{
    parquet_reader *r = w->r;
    const selem    *e;
    size_t          path_len = w->path.len;

    if (w->next >= w->nel)
        return bad(r, err, "schema: fewer elements than the groups' num_children say");
    if (depth > MAX_SCHEMA_DEPTH)
        return bad(r, err, "schema nested deeper than %d", MAX_SCHEMA_DEPTH);
    e = &w->el[w->next++];
    if (e->rep == REP_OPTIONAL)
        def++;
    else if (e->rep == REP_REPEATED) {
        def++;
        rep++;
        rep_def = def;
    } else if (e->rep != REP_REQUIRED)
        return bad(r, err, "schema element %.*s: repetition %d", (int) e->name_len,
                   (const char *) e->name, e->rep);
    if (path_len > 0)
        cdc_buf_putc(&w->path, '.');
    cdc_buf_put(&w->path, e->name, e->name_len);
    if (e->nchildren > 0) {
        for (int32_t i = 0; i < e->nchildren; i++)
            if (walk_elem(w, def, rep, rep_def, depth + 1, err) != 0)
                return -1;
    } else {
        parquet_read_col *c;

        if (e->type < 0 || e->type > PARQUET_PT_FIXED)
            return bad(r, err, "schema element %.*s: no or an unknown physical type",
                       (int) e->name_len, (const char *) e->name);
        if (e->type == PARQUET_PT_FIXED && (e->type_len <= 0 || e->type_len > (1 << 24)))
            return bad(r, err, "column %.*s: FIXED_LEN_BYTE_ARRAY of length %d",
                       (int) e->name_len, (const char *) e->name, e->type_len);
        if (r->ncols == w->cap_cols) {
            w->cap_cols = w->cap_cols ? 2 * w->cap_cols : 16;
            r->cols = cdc_xrealloc(r->cols, w->cap_cols * sizeof(*r->cols));
        }
        c = &r->cols[r->ncols++];
        memset(c, 0, sizeof(*c));
        describe(c, e);
        if (cdc_buf_failed(&w->path))
            return cdc_err_set(err, CDC_E_NOMEM, "parquet file %s: out of memory", r->name);
        c->name = cdc_xstrndup((const char *) w->path.data, w->path.len);
        c->max_def = def;
        c->max_rep = rep;
        c->rep_def = rep_def;
        c->optional = def > 0;
    }
    w->path.len = path_len;
    return 0;
}

static int
build_schema(parquet_reader *r, const selem *el, size_t nel, cdc_err *err)
{
    walk w = { r, el, nel, 1, CDC_BUF_INIT, 0 };
    int  rc = 0;

    if (nel == 0 || el[0].nchildren < 0)
        return bad(r, err, "schema without a root group");
    for (int32_t i = 0; i < el[0].nchildren && rc == 0; i++)
        rc = walk_elem(&w, 0, 0, 0, 1, err);
    cdc_buf_free(&w.path);
    if (rc == 0 && w.next != nel)
        rc = bad(r, err, "schema: %zu elements, the groups account for %zu", nel, w.next);
    if (rc == 0 && r->ncols == 0)
        rc = bad(r, err, "schema without columns");
    return rc;
}

/* Statistics: only min_value (6) and max_value (5), whose order is the column's own. */
static void
rd_stats(parquet_thrift_rd *t, rd_chunk *c)
{
    int16_t id;
    uint8_t ty;

    parquet_thrift_rd_struct(t);
    while (parquet_thrift_rd_field(t, &id, &ty)) {
        if ((id == 5 || id == 6) && ty == PARQUET_TT_BINARY) {
            size_t         n;
            const uint8_t *v = parquet_thrift_rd_binary(t, &n);
            uint8_t      **dst = id == 5 ? &c->max : &c->min;

            free(*dst);
            *dst = cdc_xmalloc(n + 1);
            memcpy(*dst, v, n);
            if (id == 5)
                c->max_len = n;
            else
                c->min_len = n;
        } else {
            parquet_thrift_rd_skip(t, ty);
        }
    }
}

static void
rd_col_meta(parquet_thrift_rd *t, rd_chunk *c, int64_t *data_off, int64_t *dict_off)
{
    int16_t id;
    uint8_t ty;

    parquet_thrift_rd_struct(t);
    while (parquet_thrift_rd_field(t, &id, &ty)) {
        bool in = ty == PARQUET_TT_I32 || ty == PARQUET_TT_I64;

        if (id == 1 && in)
            c->type = (int) parquet_thrift_rd_i32(t);
        else if (id == 4 && in)
            c->codec = (int) parquet_thrift_rd_i32(t);
        else if (id == 5 && in)
            c->num_values = parquet_thrift_rd_int(t);
        else if (id == 7 && in)
            c->len = parquet_thrift_rd_int(t);
        else if (id == 9 && in)
            *data_off = parquet_thrift_rd_int(t);
        else if (id == 11 && in)
            *dict_off = parquet_thrift_rd_int(t);
        else if (id == 12 && ty == PARQUET_TT_STRUCT)
            rd_stats(t, c);
        else
            parquet_thrift_rd_skip(t, ty);
    }
}

static int
rd_row_group(parquet_reader *r, parquet_thrift_rd *t, rd_rg *g, cdc_err *err)
{
    int16_t id;
    uint8_t ty;
    bool    have_cols = false;

    g->nrows = -1;
    parquet_thrift_rd_struct(t);
    while (parquet_thrift_rd_field(t, &id, &ty)) {
        if (id == 1 && ty == PARQUET_TT_LIST) {
            uint8_t et;
            size_t  n;

            parquet_thrift_rd_list(t, &et, &n);
            if (parquet_thrift_rd_failed(t))
                break;
            if (have_cols || et != PARQUET_TT_STRUCT || n != r->ncols)
                return bad(r, err, "a row group has %zu column chunks, the schema %zu columns",
                           n, r->ncols);
            have_cols = true;
            g->chunks = cdc_xcalloc(n, sizeof(*g->chunks));
            for (size_t i = 0; i < n && !parquet_thrift_rd_failed(t); i++) {
                rd_chunk *c = &g->chunks[i];
                int64_t   data_off = -1, dict_off = -1;
                int16_t   id2;
                uint8_t   ty2;

                c->type = -1;
                c->len = -1;
                c->num_values = -1;
                parquet_thrift_rd_struct(t);
                while (parquet_thrift_rd_field(t, &id2, &ty2)) {
                    if (id2 == 1 && ty2 == PARQUET_TT_BINARY) {
                        size_t fl;

                        (void) parquet_thrift_rd_binary(t, &fl);
                        c->external = true;
                    } else if (id2 == 3 && ty2 == PARQUET_TT_STRUCT) {
                        rd_col_meta(t, c, &data_off, &dict_off);
                    } else {
                        parquet_thrift_rd_skip(t, ty2);
                    }
                }
                c->start = data_off;
                if (dict_off > 0 && dict_off < data_off)
                    c->start = dict_off;
            }
        } else if (id == 3 && (ty == PARQUET_TT_I64 || ty == PARQUET_TT_I32)) {
            g->nrows = parquet_thrift_rd_int(t);
        } else {
            parquet_thrift_rd_skip(t, ty);
        }
    }
    if (parquet_thrift_rd_failed(t))
        return 0;   /* the caller reports it */
    if (!have_cols || g->nrows < 0)
        return bad(r, err, "a row group without columns or num_rows");
    return 0;
}

static int
parse_footer(parquet_reader *r, const uint8_t *p, size_t n, cdc_err *err)
{
    parquet_thrift_rd t;
    int16_t           id;
    uint8_t           ty;
    selem            *el = NULL;
    size_t            nel = 0;
    bool              have_schema = false;
    int64_t           num_rows = -1;
    int               rc = 0;

    parquet_thrift_rd_init(&t, p, n);
    while (rc == 0 && parquet_thrift_rd_field(&t, &id, &ty)) {
        if (id == 2 && ty == PARQUET_TT_LIST && !have_schema) {
            uint8_t et;

            parquet_thrift_rd_list(&t, &et, &nel);
            if (parquet_thrift_rd_failed(&t))
                break;
            if (et != PARQUET_TT_STRUCT) {
                rc = bad(r, err, "footer: schema is not a list of structs");
                break;
            }
            el = cdc_xcalloc(nel ? nel : 1, sizeof(*el));
            for (size_t i = 0; i < nel; i++)
                rd_selem(&t, &el[i]);
            if (parquet_thrift_rd_failed(&t))
                break;
            have_schema = true;
            rc = build_schema(r, el, nel, err);
        } else if (id == 3 && (ty == PARQUET_TT_I64 || ty == PARQUET_TT_I32)) {
            num_rows = parquet_thrift_rd_int(&t);
        } else if (id == 4 && ty == PARQUET_TT_LIST) {
            uint8_t et;
            size_t  ng;
            int64_t first = 0;

            if (!have_schema) {
                rc = bad(r, err, "footer: row groups before the schema");
                break;
            }
            parquet_thrift_rd_list(&t, &et, &ng);
            if (parquet_thrift_rd_failed(&t))
                break;
            if (et != PARQUET_TT_STRUCT || r->rgs != NULL) {
                rc = bad(r, err, "footer: row_groups is not a list of structs");
                break;
            }
            r->rgs = cdc_xcalloc(ng ? ng : 1, sizeof(*r->rgs));
            for (size_t i = 0; i < ng && rc == 0 && !parquet_thrift_rd_failed(&t); i++) {
                r->nrgs = i + 1;
                rc = rd_row_group(r, &t, &r->rgs[i], err);
                r->rgs[i].first_row = first;
                if (r->rgs[i].nrows > INT64_MAX - first) {
                    rc = bad(r, err, "footer: row counts overflow");
                    break;
                }
                first += r->rgs[i].nrows;
            }
        } else if (id == 5 && ty == PARQUET_TT_LIST) {
            uint8_t et;
            size_t  nk;

            parquet_thrift_rd_list(&t, &et, &nk);
            if (et != PARQUET_TT_STRUCT || r->kv != NULL) {
                for (size_t i = 0; i < nk && !parquet_thrift_rd_failed(&t); i++)
                    parquet_thrift_rd_skip(&t, et);
                continue;
            }
            r->kv = cdc_xcalloc(2 * (nk ? nk : 1), sizeof(*r->kv));
            for (size_t i = 0; i < nk && !parquet_thrift_rd_failed(&t); i++) {
                int16_t id2;
                uint8_t ty2;

                parquet_thrift_rd_struct(&t);
                while (parquet_thrift_rd_field(&t, &id2, &ty2)) {
                    if ((id2 == 1 || id2 == 2) && ty2 == PARQUET_TT_BINARY) {
                        size_t         sl;
                        const uint8_t *s = parquet_thrift_rd_binary(&t, &sl);
                        char         **slot = &r->kv[2 * i + (size_t) (id2 - 1)];

                        free(*slot);
                        *slot = cdc_xstrndup((const char *) s, sl);
                    } else {
                        parquet_thrift_rd_skip(&t, ty2);
                    }
                }
                r->nkv = i + 1;
            }
        } else {
            parquet_thrift_rd_skip(&t, ty);
        }
    }
    free(el);
    if (rc != 0)
        return -1;
    if (parquet_thrift_rd_failed(&t))
        return bad(r, err, "footer: %s", t.bad);
    if (!have_schema)
        return bad(r, err, "footer without a schema");
    r->rows = 0;
    for (size_t i = 0; i < r->nrgs; i++)
        r->rows += r->rgs[i].nrows;
    if (num_rows >= 0 && num_rows != r->rows)
        return bad(r, err, "footer: num_rows %" PRId64 " but the row groups hold %" PRId64,
                   num_rows, r->rows);
    return 0;
}

/* ---------------------------------------------------------------- open / free */

static parquet_reader *
reader_new(const char *name)
{
    parquet_reader *r = cdc_xcalloc(1, sizeof(*r));

    r->name = cdc_xstrdup(name ? name : "(unnamed)");
    r->fd = -1;
    return r;
}

static parquet_reader *
reader_start(parquet_reader *r, cdc_err *err)
{
    cdc_buf  b = CDC_BUF_INIT;
    uint32_t flen;

    if (r->size < 12) {
        bad(r, err, "%" PRIu64 " bytes: too short for a Parquet file", r->size);
        goto fail;
    }
    if (parquet_read_range(r, 0, 4, &b, err) != 0)
        goto fail;
    if (memcmp(b.data, MAGIC, 4) != 0) {
        bad(r, err, "does not start with PAR1: not a Parquet file");
        goto fail;
    }
    if (parquet_read_range(r, r->size - 8, 8, &b, err) != 0)
        goto fail;
    if (memcmp(b.data + 4, MAGIC, 4) != 0) {
        bad(r, err, "does not end with PAR1 (cut short, or encrypted)");
        goto fail;
    }
    flen = (uint32_t) b.data[0] | (uint32_t) b.data[1] << 8 | (uint32_t) b.data[2] << 16
           | (uint32_t) b.data[3] << 24;
    if (flen == 0 || flen > r->size - 12 || flen > MAX_FOOTER) {
        bad(r, err, "footer length %" PRIu32 " does not fit the file's %" PRIu64 " bytes", flen,
            r->size);
        goto fail;
    }
    if (parquet_read_range(r, r->size - 8 - flen, flen, &b, err) != 0)
        goto fail;
    if (parse_footer(r, b.data, b.len, err) != 0)
        goto fail;
    cdc_buf_free(&b);
    return r;
fail:
    cdc_buf_free(&b);
    parquet_reader_free(r);
    return NULL;
}

parquet_reader *
parquet_reader_open(const char *name, uint64_t size, parquet_read_fn *fn, void *arg,
                    cdc_err *err)
{
    parquet_reader *r = reader_new(name);

    r->size = size;
    r->fn = fn;
    r->arg = arg;
    return reader_start(r, err);
}

parquet_reader *
parquet_reader_open_mem(const char *name, const uint8_t *p, size_t n, cdc_err *err)
{
    parquet_reader *r = reader_new(name);

    r->size = n;
    r->mem = p;
    r->fn = read_mem;
    r->arg = r;
    return reader_start(r, err);
}

parquet_reader *
parquet_reader_open_file(const char *path, cdc_err *err)
{
    parquet_reader *r = reader_new(path);
    struct stat     st;

    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0 || fstat(r->fd, &st) != 0) {
        cdc_err_set(err, CDC_E_IO, "parquet file %s: %s", path, strerror(errno));
        parquet_reader_free(r);
        return NULL;
    }
    r->size = (uint64_t) st.st_size;
    r->fn = read_fd;
    r->arg = r;
    return reader_start(r, err);
}
