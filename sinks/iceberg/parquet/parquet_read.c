/*
 * Parquet reader: see parquet_read.h.  parquet-format's parquet.thrift gives
 * the field ids decoded here; Encodings.md the value and level encodings.
 */
#include "sinks/iceberg/parquet/parquet_read.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <snappy-c.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "agent/core/cdc_mem.h"
#include "sinks/iceberg/parquet/parquet_rle.h"
#include "sinks/iceberg/parquet/parquet_thrift.h"

#define MAGIC "PAR1"
#define MAX_FOOTER      (64u << 20)     /* a footer larger than this is refused */
#define MAX_PAGE        (512u << 20)    /* an uncompressed page larger than this too */
#define MAX_SCHEMA_DEPTH 32
#define MAX_PAGE_VALUES (1 << 22)       /* level entries of one data page (an all-null page
                                           of a 1M-row group is one page) */

enum { PAGE_DATA = 0, PAGE_INDEX = 1, PAGE_DICTIONARY = 2, PAGE_DATA_V2 = 3 };
enum { ENC_PLAIN = 0, ENC_PLAIN_DICTIONARY = 2, ENC_RLE = 3, ENC_BIT_PACKED = 4,
       ENC_RLE_DICTIONARY = 8 };
enum { CODEC_UNCOMPRESSED = 0, CODEC_SNAPPY = 1, CODEC_GZIP = 2, CODEC_ZSTD = 6 };
enum { REP_REQUIRED = 0, REP_OPTIONAL = 1, REP_REPEATED = 2 };
/* ConvertedType values used here */
enum { CT_UTF8 = 0, CT_ENUM = 4, CT_DECIMAL = 5, CT_DATE = 6, CT_TIME_MILLIS = 7,
       CT_TIME_MICROS = 8, CT_TIMESTAMP_MILLIS = 9, CT_TIMESTAMP_MICROS = 10,
       CT_UINT_8 = 11, CT_INT_64 = 18, CT_JSON = 19 };

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

/* ---------------------------------------------------------------- errors */

static int
bad(const parquet_reader *r, cdc_err *err, const char *fmt, ...) CDC_PRINTF(3, 4);

static int
bad(const parquet_reader *r, cdc_err *err, const char *fmt, ...)
{
    char    msg[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return cdc_err_set(err, CDC_E_DECODE, "parquet file %s: %s", r->name, msg);
}

static int
unsupported(const parquet_reader *r, cdc_err *err, const char *fmt, ...) CDC_PRINTF(3, 4);

static int
unsupported(const parquet_reader *r, cdc_err *err, const char *fmt, ...)
{
    char    msg[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return cdc_err_set(err, CDC_E_UNSUPPORTED, "parquet file %s: %s", r->name, msg);
}

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

/* Reads [off, off+n) of the file, checked to lie within it. */
static int
read_range(parquet_reader *r, uint64_t off, uint64_t n, cdc_buf *out, cdc_err *err)
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
    if (read_range(r, 0, 4, &b, err) != 0)
        goto fail;
    if (memcmp(b.data, MAGIC, 4) != 0) {
        bad(r, err, "does not start with PAR1: not a Parquet file");
        goto fail;
    }
    if (read_range(r, r->size - 8, 8, &b, err) != 0)
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
    if (read_range(r, r->size - 8 - flen, flen, &b, err) != 0)
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

/* ---------------------------------------------------------------- RLE hybrid */

/*
 * Decodes n values of width bw (0..32) from p[0..len) into out; returns the
 * bytes used, or -1 when the data ends first or holds a value too wide.
 */
static ptrdiff_t
rle_decode(const uint8_t *p, size_t len, int bw, uint32_t *out, size_t n)
{
    size_t pos = 0, got = 0;
    int    vbytes = (bw + 7) / 8;

    while (got < n) {
        uint64_t h = 0;
        int      shift = 0;

        for (;;) {
            if (pos >= len || shift > 56)
                return -1;
            h |= (uint64_t) (p[pos] & 0x7f) << shift;
            shift += 7;
            if ((p[pos++] & 0x80) == 0)
                break;
        }
        if ((h & 1) == 0) {
            uint64_t count = h >> 1;
            uint32_t v = 0;

            if ((size_t) vbytes > len - pos)
                return -1;
            for (int k = 0; k < vbytes; k++)
                v |= (uint32_t) p[pos + (size_t) k] << (8 * k);
            pos += (size_t) vbytes;
            if (bw < 32 && (v >> bw) != 0)
                return -1;
            for (uint64_t k = 0; k < count && got < n; k++)
                out[got++] = v;
        } else {
            uint64_t groups = h >> 1, avail = len - pos;
            uint64_t nvals = groups > ((uint64_t) 1 << 58) ? UINT64_MAX : groups * 8;
            uint64_t bitpos = 0, need;

            for (uint64_t k = 0; k < nvals && got < n; k++) {
                uint64_t v = 0;

                for (int b = 0; b < bw; b++, bitpos++) {
                    size_t byte = (size_t) (bitpos >> 3);

                    if (byte >= len - pos)
                        return -1;
                    v |= (uint64_t) ((p[pos + byte] >> (bitpos & 7)) & 1) << b;
                }
                out[got++] = (uint32_t) v;
            }
            /* the whole run's bytes, or what is left of the data when the values end early */
            need = groups > avail ? avail : groups * (uint64_t) bw;
            pos += (size_t) (need > avail ? avail : need);
        }
    }
    return (ptrdiff_t) pos;
}

/* ---------------------------------------------------------------- pages */

typedef struct page_hdr {
    int     type;
    int64_t usize, csize;
    int64_t nvalues;        /* level entries (data), entries (dictionary) */
    int     encoding;
    int     def_enc, rep_enc;
    int64_t def_len, rep_len;   /* V2 */
    bool    v2_compressed;
} page_hdr;

static void
rd_page_sub(parquet_thrift_rd *t, page_hdr *h, int kind)
{
    int16_t id;
    uint8_t ty;

    parquet_thrift_rd_struct(t);
    while (parquet_thrift_rd_field(t, &id, &ty)) {
        bool in = ty == PARQUET_TT_I32 || ty == PARQUET_TT_I64;

        if (id == 1 && in)
            h->nvalues = parquet_thrift_rd_int(t);
        else if (kind != PAGE_DATA_V2 && id == 2 && in)
            h->encoding = parquet_thrift_rd_i32(t);
        else if (kind == PAGE_DATA && id == 3 && in)
            h->def_enc = parquet_thrift_rd_i32(t);
        else if (kind == PAGE_DATA && id == 4 && in)
            h->rep_enc = parquet_thrift_rd_i32(t);
        else if (kind == PAGE_DATA_V2 && id == 4 && in)
            h->encoding = parquet_thrift_rd_i32(t);
        else if (kind == PAGE_DATA_V2 && id == 5 && in)
            h->def_len = parquet_thrift_rd_int(t);
        else if (kind == PAGE_DATA_V2 && id == 6 && in)
            h->rep_len = parquet_thrift_rd_int(t);
        else if (kind == PAGE_DATA_V2 && id == 7
                 && (ty == PARQUET_TT_BOOL_TRUE || ty == PARQUET_TT_BOOL_FALSE))
            h->v2_compressed = ty == PARQUET_TT_BOOL_TRUE;
        else
            parquet_thrift_rd_skip(t, ty);
    }
}

static void
rd_page_header(parquet_thrift_rd *t, page_hdr *h)
{
    int16_t id;
    uint8_t ty;

    memset(h, 0, sizeof(*h));
    h->type = -1;
    h->usize = h->csize = h->nvalues = -1;
    h->encoding = h->def_enc = h->rep_enc = ENC_RLE;
    h->v2_compressed = true;
    while (parquet_thrift_rd_field(t, &id, &ty)) {
        bool in = ty == PARQUET_TT_I32 || ty == PARQUET_TT_I64;

        if (id == 1 && in)
            h->type = parquet_thrift_rd_i32(t);
        else if (id == 2 && in)
            h->usize = parquet_thrift_rd_int(t);
        else if (id == 3 && in)
            h->csize = parquet_thrift_rd_int(t);
        else if (id == 5 && ty == PARQUET_TT_STRUCT && h->type == PAGE_DATA)
            rd_page_sub(t, h, PAGE_DATA);
        else if (id == 7 && ty == PARQUET_TT_STRUCT && h->type == PAGE_DICTIONARY)
            rd_page_sub(t, h, PAGE_DICTIONARY);
        else if (id == 8 && ty == PARQUET_TT_STRUCT && h->type == PAGE_DATA_V2)
            rd_page_sub(t, h, PAGE_DATA_V2);
        else
            parquet_thrift_rd_skip(t, ty);
    }
}

/* A new buffer in the chunk for a decoded page. */
static cdc_buf *
chunk_page(parquet_chunk *ch)
{
    if (ch->npages == ch->cap_pages) {
        ch->cap_pages = ch->cap_pages ? 2 * ch->cap_pages : 8;
        ch->pages = cdc_xrealloc(ch->pages, ch->cap_pages * sizeof(*ch->pages));
    }
    ch->pages[ch->npages] = (cdc_buf) CDC_BUF_INIT;
    return &ch->pages[ch->npages++];
}

/* Decompresses src[0..n) into exactly usize bytes; *out points at them. */
static int
decompress(parquet_reader *r, const parquet_read_col *c, int codec, const uint8_t *src, size_t n,
           int64_t usize, parquet_chunk *ch, const uint8_t **out, cdc_err *err)
{
    cdc_buf *b;

    if (usize < 0 || (uint64_t) usize > MAX_PAGE)
        return bad(r, err, "column %s: page of %" PRId64 " bytes uncompressed", c->name, usize);
    if (codec == CODEC_UNCOMPRESSED) {
        if ((int64_t) n != usize)
            return bad(r, err, "column %s: uncompressed page of %zu bytes says %" PRId64,
                       c->name, n, usize);
        *out = src;
        return 0;
    }
    b = chunk_page(ch);
    if (!cdc_buf_reserve(b, (size_t) usize + 1))
        return cdc_err_set(err, CDC_E_NOMEM, "parquet file %s: out of memory", r->name);
    if (codec == CODEC_SNAPPY) {
        size_t ulen;

        if (snappy_uncompressed_length((const char *) src, n, &ulen) != SNAPPY_OK
            || ulen != (size_t) usize)
            return bad(r, err, "column %s: snappy page does not hold %" PRId64 " bytes", c->name,
                       usize);
        if (snappy_uncompress((const char *) src, n, (char *) b->data, &ulen) != SNAPPY_OK
            || ulen != (size_t) usize)
            return bad(r, err, "column %s: corrupt snappy page", c->name);
    } else if (codec == CODEC_ZSTD) {
        size_t k = ZSTD_decompress(b->data, (size_t) usize, src, n);

        if (ZSTD_isError(k))
            return bad(r, err, "column %s: zstd page: %s", c->name, ZSTD_getErrorName(k));
        if (k != (size_t) usize)
            return bad(r, err, "column %s: zstd page of %zu bytes says %" PRId64, c->name, k,
                       usize);
    } else {
        return unsupported(r, err, "column %s: compression codec %d is not supported "
                           "(uncompressed, snappy and zstd are)", c->name, codec);
    }
    b->len = (size_t) usize;
    *out = b->data;
    return 0;
}

static int64_t
sign_extend32(const uint8_t *p)
{
    return (int64_t) (int32_t) ((uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
                                | (uint32_t) p[3] << 24);
}

static uint64_t
le64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int k = 7; k >= 0; k--)
        v = v << 8 | p[k];
    return v;
}

/* n PLAIN values from p[0..len) into cells (their null flags untouched, false). */
static int
plain_values(parquet_reader *r, const parquet_read_col *c, const uint8_t *p, size_t len,
             parquet_cell **cells, size_t n, cdc_err *err)
{
    size_t pos = 0;

    for (size_t i = 0; i < n; i++) {
        parquet_cell *x = cells[i];

        switch (c->physical) {
        case PARQUET_PT_BOOLEAN:
            if (i / 8 >= len)
                goto short_data;
            x->b = (p[i / 8] >> (i % 8)) & 1;
            x->i = x->b;
            pos = i / 8 + 1;
            break;
        case PARQUET_PT_INT32:
        case PARQUET_PT_FLOAT:
            if (len - pos < 4)
                goto short_data;
            if (c->physical == PARQUET_PT_INT32) {
                x->i = sign_extend32(p + pos);
            } else {
                float    f;
                uint32_t u = (uint32_t) sign_extend32(p + pos);

                memcpy(&f, &u, 4);
                x->f = f;
            }
            pos += 4;
            break;
        case PARQUET_PT_INT64:
        case PARQUET_PT_DOUBLE:
            if (len - pos < 8)
                goto short_data;
            if (c->physical == PARQUET_PT_INT64) {
                x->i = (int64_t) le64(p + pos);
            } else {
                uint64_t u = le64(p + pos);

                memcpy(&x->f, &u, 8);
            }
            pos += 8;
            break;
        case PARQUET_PT_BYTE_ARRAY: {
            uint32_t l;

            if (len - pos < 4)
                goto short_data;
            l = (uint32_t) sign_extend32(p + pos);
            pos += 4;
            if (l > len - pos)
                goto short_data;
            x->p = p + pos;
            x->n = l;
            pos += l;
            break;
        }
        case PARQUET_PT_FIXED:
            if (len - pos < (size_t) c->type_len)
                goto short_data;
            x->p = p + pos;
            x->n = (size_t) c->type_len;
            pos += (size_t) c->type_len;
            break;
        default:
            return unsupported(r, err, "column %s: physical type %d (INT96?) is not supported",
                               c->name, c->physical);
        }
    }
    return 0;
short_data:
    return bad(r, err, "column %s: page holds fewer values than it says", c->name);
}

/* The dictionary page's values into ch->dict. */
static int
load_dict(parquet_reader *r, const parquet_read_col *c, const page_hdr *h, const uint8_t *p,
          size_t len, parquet_chunk *ch, cdc_err *err)
{
    size_t         minsz;
    parquet_cell **ptrs;
    int            rc;

    if (ch->dict != NULL)
        return bad(r, err, "column %s: a second dictionary page", c->name);
    if (h->encoding != ENC_PLAIN && h->encoding != ENC_PLAIN_DICTIONARY)
        return unsupported(r, err, "column %s: dictionary page encoding %d", c->name,
                           h->encoding);
    switch (c->physical) {
    case PARQUET_PT_BOOLEAN: minsz = 0; break;
    case PARQUET_PT_INT32: case PARQUET_PT_FLOAT: case PARQUET_PT_BYTE_ARRAY: minsz = 4; break;
    case PARQUET_PT_FIXED: minsz = (size_t) c->type_len; break;
    default: minsz = 8; break;
    }
    if (h->nvalues < 0 || (minsz > 0 && (uint64_t) h->nvalues > len / minsz)
        || (minsz == 0 && (uint64_t) h->nvalues > (uint64_t) len * 8))
        return bad(r, err, "column %s: dictionary of %" PRId64 " values in %zu bytes", c->name,
                   h->nvalues, len);
    ch->ndict = (size_t) h->nvalues;
    ch->dict = cdc_xcalloc(ch->ndict ? ch->ndict : 1, sizeof(*ch->dict));
    ptrs = cdc_xcalloc(ch->ndict ? ch->ndict : 1, sizeof(*ptrs));
    for (size_t i = 0; i < ch->ndict; i++)
        ptrs[i] = &ch->dict[i];
    rc = plain_values(r, c, p, len, ptrs, ch->ndict, err);
    free(ptrs);
    return rc;
}

static uint32_t *
scratch(uint32_t **buf, size_t *cap, size_t n)
{
    if (n > *cap) {
        *cap = n;
        *buf = cdc_xrealloc(*buf, n * sizeof(**buf));
    }
    return *buf;
}

/* Room for n cells at least (doubling), never more than max + 1. */
static parquet_cell *
grow(parquet_cell *cells, size_t *cap, size_t n, size_t max)
{
    size_t c;

    if (n <= *cap)
        return cells;
    c = *cap * 2 > n ? *cap * 2 : n;
    if (c > max + 1)
        c = max + 1 > n ? max + 1 : n;
    *cap = c;
    return cdc_xrealloc(cells, c * sizeof(*cells));
}

/*
 * The nv cells at first[] of one data page: null where def (NULL: none) is
 * below max_def, the others decoded from vals in encoding h->encoding.
 */
static int
page_values(parquet_reader *r, const parquet_read_col *c, const page_hdr *h,
            const uint32_t *def, size_t nv, const uint8_t *vals, size_t vlen,
            const parquet_chunk *ch, parquet_cell *first, cdc_err *err)
{
    size_t         nn = 0;
    parquet_cell **ptrs;
    int            rc = 0;

    ptrs = cdc_xcalloc(nv ? nv : 1, sizeof(*ptrs));
    for (size_t i = 0; i < nv; i++) {
        memset(&first[i], 0, sizeof(first[i]));
        if (def != NULL && def[i] != (uint32_t) c->max_def)
            first[i].null = true;
        else
            ptrs[nn++] = &first[i];
    }
    switch (h->encoding) {
    case ENC_PLAIN:
        rc = plain_values(r, c, vals, vlen, ptrs, nn, err);
        break;
    case ENC_PLAIN_DICTIONARY:
    case ENC_RLE_DICTIONARY: {
        uint32_t *idx;
        int       bw;

        if (ch->dict == NULL) {
            rc = bad(r, err, "column %s: dictionary-encoded page without a dictionary", c->name);
            break;
        }
        if (nn == 0)
            break;
        if (vlen < 1 || vals[0] > 32) {
            rc = bad(r, err, "column %s: bad dictionary index width", c->name);
            break;
        }
        bw = vals[0];
        idx = cdc_xcalloc(nn, sizeof(*idx));
        if (rle_decode(vals + 1, vlen - 1, bw, idx, nn) < 0) {
            rc = bad(r, err, "column %s: dictionary indices cut short", c->name);
        } else {
            for (size_t i = 0; i < nn; i++) {
                if (idx[i] >= ch->ndict) {
                    rc = bad(r, err, "column %s: dictionary index %" PRIu32 " of %zu", c->name,
                             idx[i], ch->ndict);
                    break;
                }
                *ptrs[i] = ch->dict[idx[i]];
            }
        }
        free(idx);
        break;
    }
    case ENC_RLE: {
        uint32_t *bits;
        uint32_t  l;

        if (c->physical != PARQUET_PT_BOOLEAN) {
            rc = unsupported(r, err, "column %s: RLE values of a non-boolean column", c->name);
            break;
        }
        if (nn == 0)
            break;
        if (vlen < 4 || (l = (uint32_t) sign_extend32(vals)) > vlen - 4) {
            rc = bad(r, err, "column %s: RLE boolean values cut short", c->name);
            break;
        }
        bits = cdc_xcalloc(nn, sizeof(*bits));
        if (rle_decode(vals + 4, l, 1, bits, nn) < 0)
            rc = bad(r, err, "column %s: RLE boolean values cut short", c->name);
        for (size_t i = 0; rc == 0 && i < nn; i++)
            ptrs[i]->b = bits[i] != 0, ptrs[i]->i = bits[i] != 0;
        free(bits);
        break;
    }
    default:
        rc = unsupported(r, err, "column %s: value encoding %d is not supported yet (PLAIN, "
                         "dictionary and boolean RLE are)", c->name, h->encoding);
        break;
    }
    free(ptrs);
    return rc;
}

void
parquet_chunk_free(parquet_chunk *ch)
{
    free(ch->cells);
    cdc_buf_free(&ch->raw);
    for (size_t i = 0; i < ch->npages; i++)
        cdc_buf_free(&ch->pages[i]);
    free(ch->pages);
    free(ch->dict);
    free(ch->elems);
    *ch = (parquet_chunk) PARQUET_CHUNK_INIT;
}

/* A V1 page's levels: 4-byte length, then the RLE hybrid; *vals and *vlen move past them. */
static int
v1_levels(parquet_reader *r, const parquet_read_col *c, const uint8_t **vals, size_t *vlen,
          int max, size_t n, uint32_t *out, const char *what, cdc_err *err)
{
    uint32_t l;

    if (*vlen < 4 || (l = (uint32_t) sign_extend32(*vals)) > *vlen - 4)
        return bad(r, err, "column %s: %s levels cut short", c->name, what);
    if (rle_decode(*vals + 4, l, parquet_bit_width((uint32_t) max), out, n) < 0)
        return bad(r, err, "column %s: bad %s levels", c->name, what);
    *vals += 4 + (size_t) l;
    *vlen -= 4 + (size_t) l;
    return 0;
}

/*
 * A data page of a list column: its elements (entries at or above rep_def)
 * appended to ch->elems, its rows (entries of repetition level 0) to
 * ch->cells; a row may go on in the next page.
 */
static int
list_page(parquet_reader *r, const parquet_read_col *c, const page_hdr *h, const uint32_t *rep,
          const uint32_t *def, const uint8_t *vals, size_t vlen, int64_t want, parquet_chunk *ch,
          cdc_err *err)
{
    size_t    nv = (size_t) h->nvalues, ne = 0, e;
    uint32_t *ed = scratch(&r->edefs, &r->cap_edefs, nv ? nv : 1);

    for (size_t i = 0; i < nv; i++) {
        uint32_t d = def ? def[i] : (uint32_t) c->max_def;

        if ((int) d >= c->rep_def)
            ed[ne++] = d;
    }
    ch->elems = grow(ch->elems, &ch->cap_elems, ch->nelems + ne + 1, SIZE_MAX - 1);
    if (page_values(r, c, h, ed, ne, vals, vlen, ch, ch->elems + ch->nelems, err) != 0)
        return -1;
    e = ch->nelems;
    for (size_t i = 0; i < nv; i++) {
        uint32_t      d = def ? def[i] : (uint32_t) c->max_def;
        bool          elem = (int) d >= c->rep_def;
        parquet_cell *row;

        if (rep[i] == 0) {
            if (ch->nrows >= want)
                return bad(r, err, "column %s: more rows than the row group's %" PRId64,
                           c->name, want);
            ch->cells = grow(ch->cells, &ch->cap_cells, (size_t) ch->nrows + 1, (size_t) want);
            row = &ch->cells[ch->nrows++];
            memset(row, 0, sizeof(*row));
            row->i = (int64_t) e;
            row->null = (int) d < c->rep_def - 1;
        } else {
            if (ch->nrows == 0 || !elem || ch->cells[ch->nrows - 1].n == 0)
                return bad(r, err, "column %s: a repeated entry that continues no list",
                           c->name);
            row = &ch->cells[ch->nrows - 1];
        }
        if (elem) {
            row->n++;
            e++;
        }
    }
    ch->nelems = e;
    return 0;
}

int
parquet_read_chunk(parquet_reader *r, size_t rg, size_t col, parquet_chunk *ch, cdc_err *err)
{
    const parquet_read_col *c;
    const rd_chunk         *k;
    int64_t                 want, entries = 0;
    size_t                  pos = 0;
    bool                    is_list;

    parquet_chunk_free(ch);
    if (rg >= r->nrgs || col >= r->ncols)
        return cdc_err_set(err, CDC_E_INVAL, "parquet file %s: no row group %zu / column %zu",
                           r->name, rg, col);
    c = &r->cols[col];
    k = &r->rgs[rg].chunks[col];
    want = r->rgs[rg].nrows;
    is_list = c->max_rep > 0;
    if (c->max_rep > 1)
        return unsupported(r, err, "column %s: nested repeated columns (lists of lists, maps "
                           "in lists) are not supported yet", c->name);
    if (c->physical == PARQUET_PT_INT96)
        return unsupported(r, err, "column %s: INT96 (a legacy timestamp) is not supported; "
                           "write timestamps as INT64", c->name);
    if (k->external)
        return unsupported(r, err, "column %s: column chunk in another file", c->name);
    if (k->type != c->physical)
        return bad(r, err, "column %s: chunk of physical type %d, schema says %d", c->name,
                   k->type, c->physical);
    if (is_list ? k->num_values < want : k->num_values != want)
        return bad(r, err, "column %s: row group %zu: %" PRId64 " values for %" PRId64 " rows",
                   c->name, rg, k->num_values, want);
    if (want == 0)
        return 0;   /* an empty row group: its chunk may have no page at all */
    if (k->start < 4 || k->len < 0)
        return bad(r, err, "column %s: row group %zu: bad chunk offset or size", c->name, rg);
    if (read_range(r, (uint64_t) k->start, (uint64_t) k->len, &ch->raw, err) != 0)
        return cdc_err_wrap(err, "column %s, row group %zu", c->name, rg);
    while (is_list ? entries < k->num_values : ch->nrows < want) {
        parquet_thrift_rd t;
        page_hdr          h;
        const uint8_t    *body, *data;
        size_t            left = ch->raw.len - pos, hlen;

        if (left == 0)
            return bad(r, err, "column %s: row group %zu: pages end after %" PRId64 " of %" PRId64
                       " values", c->name, rg, is_list ? entries : ch->nrows,
                       is_list ? k->num_values : want);
        parquet_thrift_rd_init(&t, ch->raw.data + pos, left);
        rd_page_header(&t, &h);
        if (parquet_thrift_rd_failed(&t))
            return bad(r, err, "column %s: page header: %s", c->name, t.bad);
        hlen = parquet_thrift_rd_used(&t, ch->raw.data + pos);
        if (h.csize < 0 || (uint64_t) h.csize > left - hlen)
            return bad(r, err, "column %s: page of %" PRId64 " bytes beyond its chunk", c->name,
                       h.csize);
        body = ch->raw.data + pos + hlen;
        pos += hlen + (size_t) h.csize;
        if (h.type == PAGE_DICTIONARY) {
            if (decompress(r, c, k->codec, body, (size_t) h.csize, h.usize, ch, &data, err) != 0
                || load_dict(r, c, &h, data, (size_t) h.usize, ch, err) != 0)
                return -1;
        } else if (h.type == PAGE_DATA || h.type == PAGE_DATA_V2) {
            const uint32_t *def = NULL, *rep = NULL;
            const uint8_t  *vals;
            size_t          vlen, nv;
            int64_t         room = is_list ? k->num_values - entries : want - ch->nrows;

            if (h.nvalues < 0 || h.nvalues > room || h.nvalues > MAX_PAGE_VALUES)
                return bad(r, err, "column %s: a page of %" PRId64 " values where %" PRId64
                           " are left", c->name, h.nvalues, room);
            nv = (size_t) h.nvalues;
            if (h.type == PAGE_DATA) {
                if (decompress(r, c, k->codec, body, (size_t) h.csize, h.usize, ch, &data,
                               err) != 0)
                    return -1;
                vals = data;
                vlen = (size_t) h.usize;
                if (c->max_rep > 0) {
                    uint32_t *lv = scratch(&r->reps, &r->cap_reps, nv ? nv : 1);

                    if (h.rep_enc != ENC_RLE)
                        return unsupported(r, err, "column %s: repetition levels in encoding "
                                           "%d", c->name, h.rep_enc);
                    if (v1_levels(r, c, &vals, &vlen, c->max_rep, nv, lv, "repetition",
                                  err) != 0)
                        return -1;
                    rep = lv;
                }
                if (c->max_def > 0) {
                    uint32_t *lv = scratch(&r->levels, &r->cap_levels, nv ? nv : 1);

                    if (h.def_enc != ENC_RLE)
                        return unsupported(r, err, "column %s: definition levels in encoding "
                                           "%d", c->name, h.def_enc);
                    if (v1_levels(r, c, &vals, &vlen, c->max_def, nv, lv, "definition",
                                  err) != 0)
                        return -1;
                    def = lv;
                }
            } else {
                size_t lvl;

                if (h.def_len < 0 || h.rep_len < 0 || h.def_len > h.csize
                    || h.rep_len > h.csize - h.def_len || h.usize < h.def_len + h.rep_len)
                    return bad(r, err, "column %s: V2 page level lengths do not fit", c->name);
                lvl = (size_t) (h.def_len + h.rep_len);
                if (c->max_rep > 0) {
                    uint32_t *lv = scratch(&r->reps, &r->cap_reps, nv ? nv : 1);

                    if (rle_decode(body, (size_t) h.rep_len,
                                   parquet_bit_width((uint32_t) c->max_rep), lv, nv) < 0)
                        return bad(r, err, "column %s: bad repetition levels", c->name);
                    rep = lv;
                }
                if (c->max_def > 0) {
                    uint32_t *lv = scratch(&r->levels, &r->cap_levels, nv ? nv : 1);

                    if (rle_decode(body + h.rep_len, (size_t) h.def_len,
                                   parquet_bit_width((uint32_t) c->max_def), lv, nv) < 0)
                        return bad(r, err, "column %s: bad definition levels", c->name);
                    def = lv;
                }
                if (h.v2_compressed) {
                    if (decompress(r, c, k->codec, body + lvl, (size_t) h.csize - lvl,
                                   h.usize - (int64_t) lvl, ch, &vals, err) != 0)
                        return -1;
                } else {
                    if (h.usize != h.csize)
                        return bad(r, err, "column %s: uncompressed V2 page sizes differ",
                                   c->name);
                    vals = body + lvl;
                }
                vlen = (size_t) h.usize - lvl;
            }
            for (size_t i = 0; def != NULL && i < nv; i++)
                if (def[i] > (uint32_t) c->max_def)
                    return bad(r, err, "column %s: definition level %" PRIu32 " above %d",
                               c->name, def[i], c->max_def);
            for (size_t i = 0; rep != NULL && i < nv; i++)
                if (rep[i] > (uint32_t) c->max_rep)
                    return bad(r, err, "column %s: repetition level %" PRIu32 " above %d",
                               c->name, rep[i], c->max_rep);
            entries += h.nvalues;
            if (is_list) {
                if (list_page(r, c, &h, rep, def, vals, vlen, want, ch, err) != 0)
                    return -1;
            } else {
                /* the cells grow with the pages that fill them (doubling, up to the rows) */
                ch->cells = grow(ch->cells, &ch->cap_cells, (size_t) ch->nrows + nv + 1,
                                 (size_t) want);
                if (page_values(r, c, &h, def, nv, vals, vlen, ch, ch->cells + ch->nrows,
                                err) != 0)
                    return -1;
                ch->nrows += h.nvalues;
            }
        } else if (h.type == PAGE_INDEX) {
            continue;
        } else {
            return bad(r, err, "column %s: page of unknown type %d", c->name, h.type);
        }
    }
    if (ch->nrows != want)
        return bad(r, err, "column %s: row group %zu: %" PRId64 " rows, the footer says %" PRId64,
                   c->name, rg, ch->nrows, want);
    return 0;
}
