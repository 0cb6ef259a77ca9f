/*
 * Position-delete files (ice_commit.h, spec "Position Delete Files"): rows of
 * (file_path, pos) collected, sorted by file_path then pos, written as
 * Parquet with the reserved field ids, and described as a delete file with
 * the bounds of both columns (file_path's in full, as Java's metrics for
 * position deletes keep them, so that a reader can tell which data files a
 * delete file may touch).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_mem.h"
#include "sinks/iceberg/ice_commit.h"
#include "sinks/iceberg/ice_value.h"
#include "sinks/iceberg/parquet/parquet.h"

typedef struct pd_row {
    int32_t path;   /* index into paths */
    int64_t pos;
} pd_row;

struct ice_posdel {
    char      **paths;      /* distinct data file paths */
    int32_t     npaths;
    int32_t    *slots;      /* open-addressing hash of paths: index + 1, 0 empty */
    size_t      nslots;
    pd_row     *rows;
    int64_t     nrows, caprows;
    /* what ice_posdel_write filled in *out */
    char       *out_path;
    char       *out_ref;
    ice_colstat out_cols[2];
    cdc_buf     bounds[4];
};

ice_posdel *
ice_posdel_new(void)
{
    return cdc_xcalloc(1, sizeof(ice_posdel));
}

static void
out_clear(ice_posdel *p)
{
    free(p->out_path);
    free(p->out_ref);
    p->out_path = p->out_ref = NULL;
    for (int i = 0; i < 4; i++)
        cdc_buf_free(&p->bounds[i]);
    memset(p->out_cols, 0, sizeof(p->out_cols));
}

void
ice_posdel_free(ice_posdel *p)
{
    if (p == NULL)
        return;
    for (int32_t i = 0; i < p->npaths; i++)
        free(p->paths[i]);
    free(p->paths);
    free(p->slots);
    free(p->rows);
    out_clear(p);
    free(p);
}

static uint64_t
str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */

    for (; *s; s++)
        h = (h ^ (uint8_t) *s) * 1099511628211ull;
    return h;
}

static void
rehash(ice_posdel *p, size_t nslots)
{
    free(p->slots);
    p->slots = cdc_xcalloc(nslots, sizeof(int32_t));
    p->nslots = nslots;
    for (int32_t i = 0; i < p->npaths; i++) {
        size_t k = (size_t) str_hash(p->paths[i]) & (nslots - 1);

        while (p->slots[k])
            k = (k + 1) & (nslots - 1);
        p->slots[k] = i + 1;
    }
}

static int32_t
path_index(ice_posdel *p, const char *path)
{
    if ((size_t) p->npaths * 2 >= p->nslots)
        rehash(p, p->nslots ? p->nslots * 2 : 64);
    size_t k = (size_t) str_hash(path) & (p->nslots - 1);

    while (p->slots[k]) {
        int32_t i = p->slots[k] - 1;

        if (strcmp(p->paths[i], path) == 0)
            return i;
        k = (k + 1) & (p->nslots - 1);
    }
    p->paths = cdc_xrealloc(p->paths, ((size_t) p->npaths + 1) * sizeof(char *));
    p->paths[p->npaths] = cdc_xstrdup(path);
    p->slots[k] = p->npaths + 1;
    return p->npaths++;
}

int
ice_posdel_add(ice_posdel *p, const char *path, int64_t pos, cdc_err *err)
{
    if (p == NULL || path == NULL || *path == '\0' || pos < 0)
        return cdc_err_set(err, CDC_E_INVAL, "position delete: a data file path and a position "
                           ">= 0 are required (%s, %" PRId64 ")", path ? path : "(null)", pos);
    if (p->nrows == p->caprows) {
        p->caprows = p->caprows ? p->caprows * 2 : 256;
        p->rows = cdc_xrealloc(p->rows, (size_t) p->caprows * sizeof(pd_row));
    }
    p->rows[p->nrows++] = (pd_row) { path_index(p, path), pos };
    return 0;
}

int64_t
ice_posdel_count(const ice_posdel *p)
{
    return p ? p->nrows : 0;
}

int64_t
ice_posdel_remap(ice_posdel *p, ice_posdel_remap_fn *fn, void *arg, int64_t *moved)
{
    int64_t kept = 0, dropped = 0, n = 0;

    if (p == NULL)
        return 0;
    for (int64_t i = 0; i < p->nrows; i++) {
        const char *npath = NULL;
        int64_t     npos = 0;
        int         rc = fn(arg, p->paths[p->rows[i].path], p->rows[i].pos, &npath, &npos);

        if (rc < 0) {
            dropped++;
            continue;
        }
        if (rc > 0) {
            p->rows[i] = (pd_row) { path_index(p, npath), npos };
            n++;
        }
        p->rows[kept++] = p->rows[i];
    }
    p->nrows = kept;
    if (n > 0 || dropped > 0) {
        /* forget the paths no row names any more (a file named alone is the delete file's
           referenced_data_file, and the bounds cover the paths named) */
        int32_t *map = cdc_xmalloc(((size_t) p->npaths + 1) * sizeof(int32_t));
        int32_t  used = 0;

        for (int32_t i = 0; i < p->npaths; i++)
            map[i] = -1;
        for (int64_t i = 0; i < p->nrows; i++)
            map[p->rows[i].path] = 0;
        for (int32_t i = 0; i < p->npaths; i++) {
            if (map[i] < 0) {
                free(p->paths[i]);
                continue;
            }
            map[i] = used;
            p->paths[used++] = p->paths[i];
        }
        for (int64_t i = 0; i < p->nrows; i++)
            p->rows[i].path = map[p->rows[i].path];
        p->npaths = used;
        free(map);
        rehash(p, p->nslots ? p->nslots : 64);
    }
    if (moved)
        *moved = n;
    return dropped;
}

typedef struct path_ref {
    const char *p;
    int32_t     idx;
} path_ref;

static int
path_ref_cmp(const void *a, const void *b)
{
    return strcmp(((const path_ref *) a)->p, ((const path_ref *) b)->p);
}

static int
row_cmp(const void *a, const void *b)
{
    const pd_row *x = a, *y = b;

    if (x->path != y->path)
        return x->path < y->path ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Sorts the rows by file_path then pos: the paths are put in byte order first and the rows
   renumbered to them, so that the row sort compares numbers only (and needs no shared state). */
static void
sort_rows(ice_posdel *p)
{
    path_ref *refs = cdc_xmalloc(((size_t) p->npaths + 1) * sizeof(path_ref));
    int32_t *rank = cdc_xmalloc(((size_t) p->npaths + 1) * sizeof(int32_t));
    char **sorted = cdc_xmalloc(((size_t) p->npaths + 1) * sizeof(char *));

    for (int32_t i = 0; i < p->npaths; i++)
        refs[i] = (path_ref) { p->paths[i], i };
    qsort(refs, (size_t) p->npaths, sizeof(path_ref), path_ref_cmp);
    for (int32_t r = 0; r < p->npaths; r++) {
        rank[refs[r].idx] = r;
        sorted[r] = p->paths[refs[r].idx];
    }
    for (int64_t i = 0; i < p->nrows; i++)
        p->rows[i].path = rank[p->rows[i].path];
    free(p->paths);
    p->paths = sorted;
    rehash(p, p->nslots ? p->nslots : 64);
    if (p->nrows > 1)
        qsort(p->rows, (size_t) p->nrows, sizeof(pd_row), row_cmp);
    free(refs);
    free(rank);
}

int
ice_posdel_write(ice_posdel *p, ice_store *st, const char *uri, ice_datafile *out, cdc_err *err)
{
    static const char iceberg_schema[] =
        "{\"type\":\"struct\",\"schema-id\":0,\"fields\":["
        "{\"id\":2147483546,\"name\":\"file_path\",\"required\":true,\"type\":\"string\"},"
        "{\"id\":2147483545,\"name\":\"pos\",\"required\":true,\"type\":\"long\"}]}";
    const parquet_column cols[2] = {
        { .name = "file_path", .kind = PARQUET_STRING, .field_id = ICE_FIELD_ID_DELETE_FILE_PATH },
        { .name = "pos", .kind = PARQUET_INT64, .field_id = ICE_FIELD_ID_DELETE_POS },
    };
    const parquet_kv kv[1] = { { "iceberg.schema", iceberg_schema } };
    cdc_buf file = CDC_BUF_INIT;
    parquet_options opts = { .codec = PARQUET_ZSTD, .kv = kv, .nkv = 1, .sink_buf = &file };
    parquet_result res;
    parquet_writer *w;
    int rc = -1;

    if (p == NULL || st == NULL || uri == NULL || out == NULL)
        return cdc_err_set(err, CDC_E_INVAL, "position delete file: arguments missing");
    if (p->nrows == 0)
        return cdc_err_set(err, CDC_E_INVAL, "position delete file %s: no rows", uri);
    memset(&res, 0, sizeof(res));
    out_clear(p);
    sort_rows(p);
    if ((w = parquet_writer_new(cols, 2, &opts, err)) == NULL)
        goto done;
    for (int64_t i = 0; i < p->nrows; i++) {
        const char *path = p->paths[p->rows[i].path];

        /* the same row twice (one row deleted twice in a batch) is written once */
        if (i > 0 && p->rows[i].path == p->rows[i - 1].path && p->rows[i].pos == p->rows[i - 1].pos)
            continue;
        if (parquet_put_bytes(w, 0, path, strlen(path), err) != 0 ||
            parquet_put_i64(w, 1, p->rows[i].pos, err) != 0 || parquet_end_row(w, err) != 0)
            goto done;
    }
    if (parquet_close(w, &res, err) != 0)
        goto done;
    if (ice_store_put(st, uri, file.data, file.len, err) != 0)
        goto done;

    /* bounds: file_path (string) and pos (long) */
    const pd_row *first = &p->rows[0], *last = &p->rows[p->nrows - 1];
    int64_t minpos = INT64_MAX, maxpos = INT64_MIN;
    ice_type tstr = { .kind = ICE_STRING }, tlong = { .kind = ICE_LONG };
    ice_value v;

    for (int64_t i = 0; i < p->nrows; i++) {
        if (p->rows[i].pos < minpos)
            minpos = p->rows[i].pos;
        if (p->rows[i].pos > maxpos)
            maxpos = p->rows[i].pos;
    }
    memset(&v, 0, sizeof(v));
    v.p = (const uint8_t *) p->paths[first->path];
    v.n = strlen(p->paths[first->path]);
    ice_value_bound(&p->bounds[0], &tstr, &v);
    v.p = (const uint8_t *) p->paths[last->path];
    v.n = strlen(p->paths[last->path]);
    ice_value_bound(&p->bounds[1], &tstr, &v);
    memset(&v, 0, sizeof(v));
    v.i = minpos;
    ice_value_bound(&p->bounds[2], &tlong, &v);
    v.i = maxpos;
    ice_value_bound(&p->bounds[3], &tlong, &v);
    for (int c = 0; c < 2; c++) {
        ice_colstat *cs = &p->out_cols[c];

        cs->field_id = c == 0 ? ICE_FIELD_ID_DELETE_FILE_PATH : ICE_FIELD_ID_DELETE_POS;
        cs->size = res.ncols > (size_t) c ? res.cols[c].compressed_size : -1;
        cs->values = res.row_count;
        cs->nulls = 0;
        cs->nans = -1;
        cs->lower = p->bounds[2 * c].data;
        cs->lower_n = p->bounds[2 * c].len;
        cs->upper = p->bounds[2 * c + 1].data;
        cs->upper_n = p->bounds[2 * c + 1].len;
    }
    p->out_path = cdc_xstrdup(uri);
    if (p->npaths == 1)
        p->out_ref = cdc_xstrdup(p->paths[0]);
    memset(out, 0, sizeof(*out));
    out->content = ICE_CONTENT_POS_DELETES;
    out->path = p->out_path;
    out->format = NULL;
    out->record_count = res.row_count;
    out->file_size = (int64_t) res.file_size;
    out->ncols = 2;
    out->cols = p->out_cols;
    out->sort_order_id = -1;
    out->referenced_data_file = p->out_ref;
    rc = 0;
done:
    if (rc != 0)
        cdc_err_wrap(err, "position delete file %s", uri);
    parquet_writer_free(w);
    parquet_result_free(&res);
    cdc_buf_free(&file);
    return rc;
}
