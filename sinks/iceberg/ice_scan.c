/*
 * Reading an Iceberg table's live rows: see ice_scan.h.
 */
#include "sinks/iceberg/ice_scan.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/core/cdc_mem.h"
#include "sinks/iceberg/ice_commit.h"
#include "sinks/iceberg/ice_manifest.h"
#include "sinks/iceberg/parquet/parquet_read.h"

/* ---------------------------------------------------------------- files through the store */

typedef struct store_src {
    ice_store  *st;
    const char *uri;
} store_src;

static int
store_read(void *arg, uint64_t off, size_t n, cdc_buf *out, cdc_err *err)
{
    store_src *s = arg;
    int        rc;

    cdc_buf_reset(out);
    rc = ice_store_get(s->st, s->uri, (int64_t) off, (int64_t) n, out, n > 0 ? n : 1, err);
    if (rc == 1)
        return cdc_err_wrap(err, "data file gone");
    return rc;
}

/* Opens a Parquet file of the table; size <= 0: asks the store. */
static parquet_reader *
open_pq(store_src *src, ice_store *st, const char *uri, int64_t size, cdc_err *err)
{
    src->st = st;
    src->uri = uri;
    if (size <= 0) {
        int rc = ice_store_exists(st, uri, &size, err);

        if (rc < 0)
            return NULL;
        if (rc == 0) {
            cdc_err_set(err, CDC_E_IO, "iceberg file %s does not exist", uri);
            return NULL;
        }
    }
    return parquet_reader_open(uri, (uint64_t) size, store_read, src, err);
}

/* ---------------------------------------------------------------- planning */

typedef struct scan_data {
    char   *path;
    int64_t seq;
    int64_t size;
} scan_data;

typedef struct scan_del {
    char           *path;
    char           *ref;        /* referenced_data_file, or NULL */
    int64_t         seq;
    int64_t         size;
    store_src       src;
    parquet_reader *rd;         /* opened on first use */
    int             path_col, pos_col;
} scan_del;

typedef struct plan {
    scan_data *data;
    size_t     ndata, cap_data;
    scan_del  *dels;
    size_t     ndels, cap_dels;
} plan;

static void
plan_free(plan *p)
{
    for (size_t i = 0; i < p->ndata; i++)
        free(p->data[i].path);
    free(p->data);
    for (size_t i = 0; i < p->ndels; i++) {
        free(p->dels[i].path);
        free(p->dels[i].ref);
        parquet_reader_free(p->dels[i].rd);
    }
    free(p->dels);
    memset(p, 0, sizeof(*p));
}

static int
get_whole(ice_store *st, const char *uri, cdc_buf *b, cdc_err *err)
{
    int rc;

    cdc_buf_reset(b);
    rc = ice_store_get(st, uri, 0, -1, b, 0, err);
    if (rc == 1)
        return -1;      /* err names the missing file */
    if (rc == 0 && cdc_buf_failed(b))
        return cdc_err_set(err, CDC_E_NOMEM, "out of memory reading %s", uri);
    return rc;
}

static int
plan_entry(plan *p, const ice_meta *m, const ice_read_entry *e, cdc_err *err)
{
    if (e->status == ICE_STATUS_DELETED)
        return 0;
    if (e->format != NULL && strcasecmp(e->format, "PARQUET") != 0)
        return cdc_err_set(err, CDC_E_UNSUPPORTED, "iceberg table %s: file %s is %s (deletion "
                           "vectors and non-Parquet files are not read)", m->location, e->path,
                           e->format);
    if (e->content == ICE_CONTENT_EQ_DELETES)
        return cdc_err_set(err, CDC_E_UNSUPPORTED, "iceberg table %s has equality deletes (%s): "
                           "not read, since pyiceberg does not apply them either; rewrite the "
                           "table's deletes as position deletes", m->location, e->path);
    if (e->content == ICE_CONTENT_DATA) {
        scan_data *d;

        if (p->ndata == p->cap_data) {
            p->cap_data = p->cap_data ? 2 * p->cap_data : 16;
            p->data = cdc_xrealloc(p->data, p->cap_data * sizeof(*p->data));
        }
        d = &p->data[p->ndata++];
        d->path = cdc_xstrdup(e->path);
        d->seq = e->sequence_number;
        d->size = e->file_size;
    } else if (e->content == ICE_CONTENT_POS_DELETES) {
        scan_del *d;

        if (p->ndels == p->cap_dels) {
            p->cap_dels = p->cap_dels ? 2 * p->cap_dels : 16;
            p->dels = cdc_xrealloc(p->dels, p->cap_dels * sizeof(*p->dels));
        }
        d = &p->dels[p->ndels++];
        memset(d, 0, sizeof(*d));
        d->path = cdc_xstrdup(e->path);
        d->ref = e->referenced_data_file ? cdc_xstrdup(e->referenced_data_file) : NULL;
        d->seq = e->sequence_number;
        d->size = e->file_size;
        d->path_col = d->pos_col = -1;
    } else {
        return cdc_err_set(err, CDC_E_DECODE, "iceberg table %s: file %s of content %d",
                           m->location, e->path, e->content);
    }
    return 0;
}

typedef struct file_cb {
    ice_scan_file_fn   *fn;
    void               *arg;
    ice_scan_bounds_fn *bfn;        /* instead of fn: the bounds of field_id */
    int32_t             field_id;
} file_cb;

static int
file_bounds(const file_cb *fc, const ice_read_entry *e, cdc_err *err)
{
    for (int c = 0; c < e->ncols; c++)
        if (e->cols[c].field_id == fc->field_id)
            return fc->bfn(fc->arg, e->path, e->record_count, e->cols[c].lower,
                           e->cols[c].lower ? e->cols[c].lower_n : 0, e->cols[c].upper,
                           e->cols[c].upper ? e->cols[c].upper_n : 0, err);
    return fc->bfn(fc->arg, e->path, e->record_count, NULL, 0, NULL, 0, err);
}

static int
plan_scan(ice_store *st, const ice_meta *m, const ice_snapshot *cur, const ice_schema *s,
          plan *p, const file_cb *fc, cdc_err *err)
{
    cdc_buf             b = CDC_BUF_INIT;
    ice_manifest_file  *mfs = NULL;
    int                 nmf = 0, rc = 0;

    if (cur == NULL)
        return 0;
    if (get_whole(st, cur->manifest_list, &b, err) != 0
        || ice_manifest_list_read(b.data, b.len, cur->manifest_list, &mfs, &nmf, err) != 0) {
        cdc_buf_free(&b);
        return cdc_err_wrap(err, "iceberg table %s: snapshot %" PRId64, m->location, cur->id);
    }
    for (int i = 0; i < nmf && rc == 0; i++) {
        const ice_spec *sp = ice_meta_spec(m, mfs[i].spec_id);
        ice_type       *pt;
        ice_read_entry *es = NULL;
        int             nes = 0;

        if (sp == NULL) {
            rc = cdc_err_set(err, CDC_E_DECODE, "iceberg table %s: manifest %s names partition "
                             "spec %" PRId32 ", which the metadata lacks", m->location,
                             mfs[i].path, mfs[i].spec_id);
            break;
        }
        pt = cdc_xcalloc((size_t) sp->nfields + 1, sizeof(*pt));
        if (ice_spec_types(sp, s, pt, err) != 0
            || get_whole(st, mfs[i].path, &b, err) != 0
            || ice_manifest_read(b.data, b.len, mfs[i].path, &mfs[i], pt, sp->nfields, &es, &nes,
                                 err) != 0) {
            rc = cdc_err_wrap(err, "iceberg table %s", m->location);
        } else {
            for (int k = 0; k < nes && rc == 0; k++) {
                if (fc == NULL)
                    rc = plan_entry(p, m, &es[k], err);
                else if (es[k].status == ICE_STATUS_DELETED ||
                         es[k].content != ICE_CONTENT_DATA)
                    continue;
                else if (fc->bfn != NULL)
                    rc = file_bounds(fc, &es[k], err) < 0 ? -1 : 0;
                else
                    rc = fc->fn(fc->arg, es[k].path, mfs[i].spec_id, es[k].partition,
                                es[k].npart, err) < 0 ? -1 : 0;
            }
        }
        ice_read_entries_free(es, nes);
        free(pt);
    }
    ice_manifest_files_free(mfs, nmf);
    cdc_buf_free(&b);
    return rc;
}

/* ---------------------------------------------------------------- deletes */

typedef struct posset {
    int64_t *v;
    size_t   n, cap;
} posset;

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

    return x < y ? -1 : x > y;
}

/* Bytewise order of a and b (unsigned, shorter first on a common prefix). */
static int
cmp_bytes(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);

    if (c != 0)
        return c;
    return an < bn ? -1 : an > bn;
}

static int
open_del(ice_store *st, scan_del *d, cdc_err *err)
{
    if (d->rd != NULL)
        return 0;
    d->rd = open_pq(&d->src, st, d->path, d->size, err);
    if (d->rd == NULL)
        return -1;
    d->path_col = parquet_read_find_id(d->rd, ICE_FIELD_ID_DELETE_FILE_PATH);
    d->pos_col = parquet_read_find_id(d->rd, ICE_FIELD_ID_DELETE_POS);
    if (d->path_col < 0 || d->pos_col < 0
        || parquet_read_column(d->rd, (size_t) d->path_col)->physical != PARQUET_PT_BYTE_ARRAY
        || parquet_read_column(d->rd, (size_t) d->pos_col)->physical != PARQUET_PT_INT64)
        return cdc_err_set(err, CDC_E_DECODE, "position delete file %s: no file_path (string, "
                           "field id %d) and pos (long, field id %d) columns", d->path,
                           ICE_FIELD_ID_DELETE_FILE_PATH, ICE_FIELD_ID_DELETE_POS);
    return 0;
}

/* The positions of data file df deleted by the delete files that apply to it, sorted. */
static int
collect_deletes(ice_store *st, plan *p, const scan_data *df, posset *ps, cdc_err *err)
{
    parquet_chunk pc = PARQUET_CHUNK_INIT, oc = PARQUET_CHUNK_INIT;
    size_t        plen = strlen(df->path);
    int           rc = 0;

    ps->n = 0;
    for (size_t i = 0; i < p->ndels && rc == 0; i++) {
        scan_del *d = &p->dels[i];

        if (d->seq < df->seq || (d->ref != NULL && strcmp(d->ref, df->path) != 0))
            continue;
        if (open_del(st, d, err) != 0) {
            rc = -1;
            break;
        }
        for (size_t g = 0; g < parquet_read_nrow_groups(d->rd) && rc == 0; g++) {
            const uint8_t *lo, *hi;
            size_t         lon, hin;

            if (parquet_read_chunk_bounds(d->rd, g, (size_t) d->path_col, &lo, &lon, &hi, &hin)
                && (cmp_bytes((const uint8_t *) df->path, plen, lo, lon) < 0
                    || cmp_bytes((const uint8_t *) df->path, plen, hi, hin) > 0))
                continue;
            if (parquet_read_chunk(d->rd, g, (size_t) d->path_col, &pc, err) != 0
                || parquet_read_chunk(d->rd, g, (size_t) d->pos_col, &oc, err) != 0) {
                rc = -1;
                break;
            }
            for (int64_t k = 0; k < pc.nrows; k++) {
                const parquet_cell *x = &pc.cells[k], *y = &oc.cells[k];

                if (x->null || y->null) {
                    rc = cdc_err_set(err, CDC_E_DECODE, "position delete file %s: a null "
                                     "file_path or pos", d->path);
                    break;
                }
                if (x->n != plen || memcmp(x->p, df->path, plen) != 0)
                    continue;
                if (ps->n == ps->cap) {
                    ps->cap = ps->cap ? 2 * ps->cap : 256;
                    ps->v = cdc_xrealloc(ps->v, ps->cap * sizeof(*ps->v));
                }
                ps->v[ps->n++] = y->i;
            }
        }
    }
    parquet_chunk_free(&pc);
    parquet_chunk_free(&oc);
    if (rc != 0)
        return -1;
    if (ps->n > 1)
        qsort(ps->v, ps->n, sizeof(*ps->v), cmp_i64);
    return 0;
}

/* ---------------------------------------------------------------- values */

static int
type_err(const char *file, const parquet_read_col *c, const ice_type *t, cdc_err *err)
{
    char tb[64];

    return cdc_err_set(err, CDC_E_DECODE, "data file %s: column %s (field id %" PRId32
                       ") of Parquet physical type %d cannot hold Iceberg type %s", file, c->name,
                       c->field_id, c->physical, ice_type_str(t, tb, sizeof(tb)));
}

/* Microseconds from a time or timestamp column in its unit. */
static int64_t
to_micros(const parquet_read_col *c, int64_t v)
{
    if (c->logical != PARQUET_LT_TIME && c->logical != PARQUET_LT_TIMESTAMP)
        return v;
    if (c->unit == PARQUET_MILLIS)
        return v * 1000;
    if (c->unit == PARQUET_NANOS)
        return v / 1000 - (v % 1000 < 0);
    return v;
}

/* Checks once per file that column c can hold type t. */
static int
check_type(const char *file, const parquet_read_col *c, const ice_type *t, cdc_err *err)
{
    int pt = c->physical;
    bool ok;

    switch (t->kind) {
    case ICE_BOOLEAN: ok = pt == PARQUET_PT_BOOLEAN; break;
    case ICE_INT: case ICE_DATE: ok = pt == PARQUET_PT_INT32; break;
    case ICE_LONG: ok = pt == PARQUET_PT_INT32 || pt == PARQUET_PT_INT64; break;
    case ICE_TIME: case ICE_TIMESTAMP: case ICE_TIMESTAMPTZ:
        ok = pt == PARQUET_PT_INT64 || (pt == PARQUET_PT_INT32 && c->logical == PARQUET_LT_TIME);
        break;
    case ICE_FLOAT: ok = pt == PARQUET_PT_FLOAT; break;
    case ICE_DOUBLE: ok = pt == PARQUET_PT_FLOAT || pt == PARQUET_PT_DOUBLE; break;
    case ICE_DECIMAL:
        ok = (pt == PARQUET_PT_INT32 || pt == PARQUET_PT_INT64 || pt == PARQUET_PT_BYTE_ARRAY
              || pt == PARQUET_PT_FIXED)
             && (c->logical != PARQUET_LT_DECIMAL || c->scale == t->scale);
        break;
    case ICE_STRING: case ICE_BINARY:
        ok = pt == PARQUET_PT_BYTE_ARRAY || (t->kind == ICE_BINARY && pt == PARQUET_PT_FIXED);
        break;
    case ICE_FIXED: ok = pt == PARQUET_PT_FIXED && c->type_len == t->length; break;
    case ICE_UUID: ok = pt == PARQUET_PT_FIXED && c->type_len == 16; break;
    case ICE_LIST: {
        char tb[64];

        return cdc_err_set(err, CDC_E_UNSUPPORTED, "data file %s: column %s (%s): reading "
                           "lists is not supported yet", file, c->name,
                           ice_type_str(t, tb, sizeof(tb)));
    }
    default: ok = false; break;
    }
    return ok ? 0 : type_err(file, c, t, err);
}

static int
cell_value(const char *file, const parquet_read_col *c, const ice_type *t,
           const parquet_cell *x, ice_value *v, cdc_err *err)
{
    memset(v, 0, sizeof(*v));
    if (x->null) {
        v->null = true;
        return 0;
    }
    switch (t->kind) {
    case ICE_BOOLEAN: v->b = x->b; break;
    case ICE_INT: case ICE_LONG: case ICE_DATE: v->i = x->i; break;
    case ICE_TIME: case ICE_TIMESTAMP: case ICE_TIMESTAMPTZ: v->i = to_micros(c, x->i); break;
    case ICE_FLOAT: case ICE_DOUBLE: v->f = x->f; break;
    case ICE_DECIMAL:
        if (c->physical == PARQUET_PT_INT32 || c->physical == PARQUET_PT_INT64) {
            v->d = x->i;
        } else {
            size_t   skip = 0;
            ice_i128 d;

            /* more than 16 bytes: only sign extension may precede the last 16 */
            while (x->n - skip > 16) {
                uint8_t sign = (x->p[x->n - 16] & 0x80) ? 0xff : 0x00;

                if (x->p[skip] != sign)
                    return cdc_err_set(err, CDC_E_DECODE, "data file %s: column %s: a decimal "
                                       "of %zu bytes beyond 128 bits", file, c->name, x->n);
                skip++;
            }
            if (x->n == 0)
                return cdc_err_set(err, CDC_E_DECODE, "data file %s: column %s: an empty "
                                   "decimal", file, c->name);
            d = (x->p[skip] & 0x80) ? -1 : 0;
            for (size_t k = skip; k < x->n; k++)
                d = (ice_i128) (((unsigned __int128) d << 8) | x->p[k]);
            v->d = d;
        }
        break;
    default:
        v->p = x->p;
        v->n = x->n;
        break;
    }
    return 0;
}

/* The file's column of each field (-1: the file does not have it). */
static int
map_fields(const char *file, parquet_reader *rd, const ice_field **fields, int n, int *cols,
           cdc_err *err)
{
    bool any_id = false;

    for (size_t i = 0; i < parquet_read_ncolumns(rd); i++)
        if (parquet_read_column(rd, i)->field_id >= 0)
            any_id = true;
    if (!any_id)
        return cdc_err_set(err, CDC_E_UNSUPPORTED, "data file %s has no field ids (a file "
                           "added without them needs a name mapping, which is not read)", file);
    for (int i = 0; i < n; i++) {
        if (fields[i] != NULL && fields[i]->type.kind == ICE_LIST) {
            char tb[64];

            return cdc_err_set(err, CDC_E_UNSUPPORTED, "data file %s: field %s (%s): reading "
                               "lists here is not supported yet (ice_scan_row_list reads one)",
                               file, fields[i]->name,
                               ice_type_str(&fields[i]->type, tb, sizeof(tb)));
        }
        cols[i] = fields[i] == NULL ? -1 : parquet_read_find_id(rd, fields[i]->id);
        if (cols[i] >= 0
            && check_type(file, parquet_read_column(rd, (size_t) cols[i]), &fields[i]->type,
                          err) != 0)
            return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- scan */

static int
resolve_fields(const ice_meta *m, const ice_schema *s, const int32_t *ids, int n,
               const ice_field **out, cdc_err *err)
{
    for (int i = 0; i < n; i++) {
        out[i] = ice_schema_find_id(s, ids[i]);
        if (out[i] == NULL)
            return cdc_err_set(err, CDC_E_INVAL, "iceberg table %s: no field id %" PRId32
                               " in the current schema", m->location, ids[i]);
    }
    return 0;
}

static int
scan_file(ice_store *st, const scan_data *df, const ice_field **fields, int n,
          const posset *ps, ice_scan_fn *fn, void *arg, ice_scan_stats *stats, cdc_err *err)
{
    store_src       src;
    parquet_reader *rd = open_pq(&src, st, df->path, df->size, err);
    int            *cols = cdc_xcalloc((size_t) n + 1, sizeof(*cols));
    parquet_chunk  *ch = cdc_xcalloc((size_t) n + 1, sizeof(*ch));
    ice_value      *vals = cdc_xcalloc((size_t) n + 1, sizeof(*vals));
    size_t          di = 0;
    int             rc = 0;

    if (rd == NULL || map_fields(df->path, rd, fields, n, cols, err) != 0)
        rc = -1;
    for (size_t g = 0; rc == 0 && rd != NULL && g < parquet_read_nrow_groups(rd); g++) {
        int64_t first = parquet_read_rg_first_row(rd, g), nrows = parquet_read_rg_rows(rd, g);

        /* a row group whose rows are all deleted is not read */
        while (di < ps->n && ps->v[di] < first)
            di++;
        {
            size_t dj = di;

            while (dj < ps->n && ps->v[dj] < first + nrows)
                dj++;
            /* positions are sorted, duplicates possible: count distinct */
            size_t distinct = 0;

            for (size_t k = di; k < dj; k++)
                if (k == di || ps->v[k] != ps->v[k - 1])
                    distinct++;
            if ((int64_t) distinct == nrows) {
                if (stats)
                    stats->deleted += nrows;
                di = dj;
                continue;
            }
        }
        for (int i = 0; i < n && rc == 0; i++)
            if (cols[i] >= 0)
                rc = parquet_read_chunk(rd, g, (size_t) cols[i], &ch[i], err);
        for (int64_t k = 0; rc == 0 && k < nrows; k++) {
            int64_t pos = first + k;
            bool    deleted = false;

            while (di < ps->n && ps->v[di] <= pos) {
                deleted |= ps->v[di] == pos;
                di++;
            }
            if (deleted) {
                if (stats)
                    stats->deleted++;
                continue;
            }
            for (int i = 0; i < n && rc == 0; i++) {
                if (cols[i] < 0) {
                    memset(&vals[i], 0, sizeof(vals[i]));
                    vals[i].null = true;
                } else {
                    rc = cell_value(df->path, parquet_read_column(rd, (size_t) cols[i]),
                                    &fields[i]->type, &ch[i].cells[k], &vals[i], err);
                }
            }
            if (rc != 0)
                break;
            if (stats)
                stats->rows++;
            rc = fn(arg, df->path, pos, vals, err);
            if (rc < 0)
                cdc_err_ensure(err, "ice_scan_rows callback");
        }
    }
    for (int i = 0; i < n; i++)
        parquet_chunk_free(&ch[i]);
    free(ch);
    free(cols);
    free(vals);
    parquet_reader_free(rd);
    return rc;
}

static int
cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* whether path is in files (sorted) */
static bool
named(const char *const *files, int nfiles, const char *path)
{
    return nfiles > 0 && bsearch(&path, files, (size_t) nfiles, sizeof(char *), cmp_name) != NULL;
}

static int scan_rows(ice_store *st, const ice_meta *m, int64_t snapshot_id,
                     const char *const *files, int nfiles, const int32_t *field_ids,
                     int nfields, ice_scan_fn *fn, void *arg, ice_scan_stats *stats,
                     cdc_err *err);

int
ice_scan_rows(ice_store *st, const ice_meta *m, const int32_t *field_ids, int nfields,
              ice_scan_fn *fn, void *arg, ice_scan_stats *stats, cdc_err *err)
{
    return scan_rows(st, m, -1, NULL, -1, field_ids, nfields, fn, arg, stats, err);
}

int
ice_scan_rows_at(ice_store *st, const ice_meta *m, int64_t snapshot_id,
                 const int32_t *field_ids, int nfields, ice_scan_fn *fn, void *arg,
                 ice_scan_stats *stats, cdc_err *err)
{
    return scan_rows(st, m, snapshot_id, NULL, -1, field_ids, nfields, fn, arg, stats, err);
}

int
ice_scan_rows_in(ice_store *st, const ice_meta *m, const char *const *files, int nfiles,
                 const int32_t *field_ids, int nfields, ice_scan_fn *fn, void *arg,
                 ice_scan_stats *stats, cdc_err *err)
{
    return scan_rows(st, m, -1, files, nfiles, field_ids, nfields, fn, arg, stats, err);
}

/* The live rows of snapshot_id (-1: the current one), of the data files named in files
   (nfiles < 0: every one), read through m's current schema. */
static int
scan_rows(ice_store *st, const ice_meta *m, int64_t snapshot_id, const char *const *files,
          int nfiles, const int32_t *field_ids, int nfields, ice_scan_fn *fn, void *arg,
          ice_scan_stats *stats, cdc_err *err)
{
    const ice_schema   *s = ice_meta_schema(m, m->current_schema_id);
    const ice_snapshot *snap = ice_meta_current(m);
    const ice_field   **fields;
    plan                p = { 0 };
    posset              ps = { 0 };
    int                 rc = 0;

    if (stats)
        memset(stats, 0, sizeof(*stats));
    if (snapshot_id >= 0) {
        snap = NULL;
        for (int i = 0; i < m->nsnapshots; i++)
            if (m->snapshots[i].id == snapshot_id)
                snap = &m->snapshots[i];
        if (snap == NULL)
            return cdc_err_set(err, CDC_E_INVAL, "iceberg table %s has no snapshot %" PRId64
                               " (expired, or of another table)", m->location, snapshot_id);
    }
    if (s == NULL)
        return cdc_err_set(err, CDC_E_DECODE, "iceberg table %s: no current schema",
                           m->location);
    if (nfields < 0)
        return cdc_err_set(err, CDC_E_INVAL, "ice_scan_rows: %d fields", nfields);
    const char **sorted = NULL;

    if (nfiles > 0) {
        sorted = cdc_xcalloc((size_t) nfiles, sizeof(char *));
        memcpy(sorted, files, (size_t) nfiles * sizeof(char *));
        qsort(sorted, (size_t) nfiles, sizeof(char *), cmp_name);
    }
    fields = cdc_xcalloc((size_t) nfields + 1, sizeof(*fields));
    if (resolve_fields(m, s, field_ids, nfields, fields, err) != 0
        || plan_scan(st, m, snap, s, &p, NULL, err) != 0)
        rc = -1;
    if (stats) {
        stats->data_files = (int64_t) p.ndata;
        stats->delete_files = (int64_t) p.ndels;
    }
    for (size_t i = 0; rc == 0 && i < p.ndata; i++) {
        if (nfiles >= 0 && !named(sorted, nfiles, p.data[i].path)) {
            if (stats)
                stats->data_files--;
            continue;
        }
        rc = collect_deletes(st, &p, &p.data[i], &ps, err);
        if (rc == 0)
            rc = scan_file(st, &p.data[i], fields, nfields, &ps, fn, arg, stats, err);
    }
    free(ps.v);
    free(fields);
    free(sorted);
    plan_free(&p);
    return rc < 0 ? -1 : 0;
}

int
ice_scan_row(ice_store *st, const ice_meta *m, const char *file, int64_t pos,
             const int32_t *field_ids, int nfields, ice_value *out, cdc_buf *mem, cdc_err *err)
{
    const ice_schema *s = ice_meta_schema(m, m->current_schema_id);
    const ice_field **fields;
    store_src         src;
    parquet_reader   *rd = NULL;
    int              *cols;
    size_t           *offs;
    parquet_chunk     ch = PARQUET_CHUNK_INIT;
    size_t            g = 0;
    int               n = nfields, rc = 0;

    if (s == NULL)
        return cdc_err_set(err, CDC_E_DECODE, "iceberg table %s: no current schema",
                           m->location);
    if (field_ids == NULL)
        n = s->nfields;
    if (n < 0)
        return cdc_err_set(err, CDC_E_INVAL, "ice_scan_row: %d fields", n);
    fields = cdc_xcalloc((size_t) n + 1, sizeof(*fields));
    cols = cdc_xcalloc((size_t) n + 1, sizeof(*cols));
    offs = cdc_xcalloc((size_t) n + 1, sizeof(*offs));
    cdc_buf_reset(mem);
    if (field_ids == NULL) {
        /* every field; lists read as null (documented) */
        for (int i = 0; i < n; i++)
            fields[i] = s->fields[i].type.kind == ICE_LIST ? NULL : &s->fields[i];
    } else if (resolve_fields(m, s, field_ids, n, fields, err) != 0) {
        rc = -1;
    }
    if (rc == 0) {
        rd = open_pq(&src, st, file, 0, err);
        if (rd == NULL || map_fields(file, rd, fields, n, cols, err) != 0)
            rc = -1;
    }
    if (rc == 0) {
        for (g = 0; g < parquet_read_nrow_groups(rd); g++)
            if (pos >= parquet_read_rg_first_row(rd, g)
                && pos < parquet_read_rg_first_row(rd, g) + parquet_read_rg_rows(rd, g))
                break;
        if (pos < 0 || g == parquet_read_nrow_groups(rd)) {
            cdc_err_set(err, CDC_E_DECODE, "data file %s has no row %" PRId64 " (it has %"
                        PRId64 ")", file, pos, parquet_read_rows(rd));
            rc = 1;
        }
    }
    for (int i = 0; rc == 0 && i < n; i++) {
        int64_t k;

        memset(&out[i], 0, sizeof(out[i]));
        out[i].null = true;
        if (cols[i] < 0)
            continue;
        if (parquet_read_chunk(rd, g, (size_t) cols[i], &ch, err) != 0) {
            rc = -1;
            break;
        }
        k = pos - parquet_read_rg_first_row(rd, g);
        rc = cell_value(file, parquet_read_column(rd, (size_t) cols[i]), &fields[i]->type,
                        &ch.cells[k], &out[i], err);
        if (rc == 0 && out[i].p != NULL) {
            /* the bytes move to mem; the pointer is set once mem stops growing */
            offs[i] = mem->len;
            cdc_buf_put(mem, out[i].p, out[i].n);
        }
    }
    if (rc == 0 && cdc_buf_failed(mem))
        rc = cdc_err_set(err, CDC_E_NOMEM, "out of memory reading a row of %s", file);
    for (int i = 0; rc == 0 && i < n; i++)
        if (out[i].p != NULL)
            out[i].p = mem->data + offs[i];
    parquet_chunk_free(&ch);
    parquet_reader_free(rd);
    free(offs);
    free(cols);
    free(fields);
    return rc;
}

/* The row group holding row pos, or -1 (err set, naming the file). */
static int
find_rg(parquet_reader *rd, const char *file, int64_t pos, size_t *rg, cdc_err *err)
{
    for (size_t g = 0; pos >= 0 && g < parquet_read_nrow_groups(rd); g++)
        if (pos >= parquet_read_rg_first_row(rd, g)
            && pos < parquet_read_rg_first_row(rd, g) + parquet_read_rg_rows(rd, g)) {
            *rg = g;
            return 0;
        }
    return cdc_err_set(err, CDC_E_DECODE, "data file %s has no row %" PRId64 " (it has %" PRId64
                       ")", file, pos, parquet_read_rows(rd));
}

int
ice_scan_row_list(ice_store *st, const ice_meta *m, const char *file, int64_t pos,
                  int32_t field_id, bool *is_null, ice_value **elems, size_t *nelems,
                  cdc_buf *mem, cdc_err *err)
{
    const ice_schema *s = ice_meta_schema(m, m->current_schema_id);
    const ice_field  *f = s ? ice_schema_find_id(s, field_id) : NULL;
    ice_type          et;
    store_src         src;
    parquet_reader   *rd;
    parquet_chunk     ch = PARQUET_CHUNK_INIT;
    size_t            g = 0, *offs = NULL;
    int               col, rc = 0;
    const parquet_cell *x;

    *is_null = true;
    *elems = NULL;
    *nelems = 0;
    cdc_buf_reset(mem);
    if (f == NULL || f->type.kind != ICE_LIST)
        return cdc_err_set(err, CDC_E_INVAL, "iceberg table %s: field id %" PRId32 " is no list "
                           "field of the current schema", m->location, field_id);
    memset(&et, 0, sizeof(et));
    et.kind = f->type.elem_kind;
    et.precision = f->type.precision;
    et.scale = f->type.scale;
    et.length = f->type.length;
    rd = open_pq(&src, st, file, 0, err);
    if (rd == NULL)
        return -1;
    col = parquet_read_find_id(rd, f->type.elem_id);
    if (col < 0) {
        parquet_reader_free(rd);
        return 0;       /* a file without the column: a null list */
    }
    if (check_type(file, parquet_read_column(rd, (size_t) col), &et, err) != 0)
        rc = -1;
    else if (parquet_read_column(rd, (size_t) col)->max_rep != 1)
        rc = cdc_err_set(err, CDC_E_DECODE, "data file %s: column %s (field id %" PRId32 ") is "
                         "not a list", file, parquet_read_column(rd, (size_t) col)->name,
                         f->type.elem_id);
    else if (find_rg(rd, file, pos, &g, err) != 0)
        rc = 1;
    else if (parquet_read_chunk(rd, g, (size_t) col, &ch, err) != 0)
        rc = -1;
    if (rc == 0) {
        x = &ch.cells[pos - parquet_read_rg_first_row(rd, g)];
        *is_null = x->null;
        if (!x->null) {
            *elems = cdc_xcalloc(x->n + 1, sizeof(**elems));
            offs = cdc_xcalloc(x->n + 1, sizeof(*offs));
            *nelems = x->n;
            for (size_t e = 0; rc == 0 && e < x->n; e++) {
                ice_value *v = &(*elems)[e];

                rc = cell_value(file, parquet_read_column(rd, (size_t) col), &et,
                                &ch.elems[(size_t) x->i + e], v, err);
                if (rc == 0 && v->p != NULL) {
                    offs[e] = mem->len;
                    cdc_buf_put(mem, v->p, v->n);
                }
            }
            if (rc == 0 && cdc_buf_failed(mem))
                rc = cdc_err_set(err, CDC_E_NOMEM, "out of memory reading a row of %s", file);
            for (size_t e = 0; rc == 0 && e < x->n; e++)
                if ((*elems)[e].p != NULL)
                    (*elems)[e].p = mem->data + offs[e];
            if (rc != 0) {
                free(*elems);
                *elems = NULL;
                *nelems = 0;
            }
        }
    }
    free(offs);
    parquet_chunk_free(&ch);
    parquet_reader_free(rd);
    return rc;
}

/* Each live data file of the current snapshot to fc. */
static int
scan_files(ice_store *st, const ice_meta *m, const file_cb *fc, cdc_err *err)
{
    const ice_schema *s = ice_meta_schema(m, m->current_schema_id);
    plan              p = { 0 };
    int               rc;

    if (s == NULL)
        return cdc_err_set(err, CDC_E_DECODE, "iceberg table %s: no current schema",
                           m->location);
    rc = plan_scan(st, m, ice_meta_current(m), s, &p, fc, err);
    plan_free(&p);
    return rc < 0 ? -1 : 0;
}

int
ice_scan_data_files(ice_store *st, const ice_meta *m, ice_scan_file_fn *fn, void *arg,
                    cdc_err *err)
{
    file_cb fc = { fn, arg, NULL, 0 };

    return scan_files(st, m, &fc, err);
}

int
ice_scan_data_file_bounds(ice_store *st, const ice_meta *m, int32_t field_id,
                          ice_scan_bounds_fn *fn, void *arg, cdc_err *err)
{
    file_cb fc = { NULL, arg, fn, field_id };

    return scan_files(st, m, &fc, err);
}
