/*
 * Manifest lists and manifests read back with avro-c (ice_manifest.h): what a
 * restart needs to carry a table's manifests into its next snapshot and to
 * find the data files an upsert's deletes point at.  Fields are looked up by
 * name, so files from Java's or pyiceberg's writers (v1: no content or
 * sequence numbers, read as 0) read the same as ours.
 */
#include <avro.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_mem.h"
#include "sinks/iceberg/ice_manifest.h"

typedef struct rd {
    FILE               *fp;
    avro_file_reader_t  reader;
    avro_schema_t       schema;
    avro_value_iface_t *iface;
    avro_value_t        val;
    bool                have_val;
} rd;

static int
rd_open(rd *r, const void *data, size_t len, const char *where, cdc_err *err)
{
    memset(r, 0, sizeof(*r));
    /* avro-c leaks what it allocated when it fails to open a file: refuse what is
       plainly not an Avro container before it gets there */
    if (len < 4 + 1 + 16 || memcmp(data, "Obj\x01", 4) != 0)
        return cdc_err_set(err, CDC_E_DEST, "%s: not an Avro object container file", where);
    r->fp = fmemopen((void *) data, len, "rb");
    if (r->fp == NULL)
        return cdc_err_set(err, CDC_E_NOMEM, "%s: fmemopen", where);
    if (avro_file_reader_fp(r->fp, where, 1, &r->reader) != 0) {
        r->fp = NULL;   /* avro-c closed it */
        return cdc_err_set(err, CDC_E_DEST, "%s: not an Avro file avro-c reads: %s", where,
                           avro_strerror());
    }
    r->fp = NULL;       /* the reader closes it */
    r->schema = avro_file_reader_get_writer_schema(r->reader);
    r->iface = avro_generic_class_from_schema(r->schema);
    if (r->iface == NULL || avro_generic_value_new(r->iface, &r->val) != 0)
        return cdc_err_set(err, CDC_E_NOMEM, "%s: avro value: %s", where, avro_strerror());
    r->have_val = true;
    return 0;
}

static void
rd_close(rd *r)
{
    if (r->have_val)
        avro_value_decref(&r->val);
    if (r->iface)
        avro_value_iface_decref(r->iface);
    if (r->schema)
        avro_schema_decref(r->schema);
    if (r->reader)
        avro_file_reader_close(r->reader);
    if (r->fp)
        fclose(r->fp);
}

/* The value of field `name` with an optional union resolved; false when the
   field is missing or null. */
static bool
field(avro_value_t *rec, const char *name, avro_value_t *out)
{
    avro_value_t f = { 0 };

    if (avro_value_get_by_name(rec, name, &f, NULL) != 0)
        return false;
    if (avro_value_get_type(&f) == AVRO_UNION) {
        avro_value_t br = { 0 };

        if (avro_value_get_current_branch(&f, &br) != 0)
            return false;
        f = br;
    }
    if (avro_value_get_type(&f) == AVRO_NULL)
        return false;
    *out = f;
    return true;
}

static int64_t
num(avro_value_t *rec, const char *name, int64_t dflt)
{
    avro_value_t f = { 0 };
    int32_t i = 0;
    int64_t l = 0;

    if (!field(rec, name, &f))
        return dflt;
    switch (avro_value_get_type(&f)) {
    case AVRO_INT32: avro_value_get_int(&f, &i); return i;
    case AVRO_INT64: avro_value_get_long(&f, &l); return l;
    case AVRO_BOOLEAN: {
        int b = 0;

        avro_value_get_boolean(&f, &b);
        return b;
    }
    default: return dflt;
    }
}

static char *
str(avro_value_t *rec, const char *name)
{
    avro_value_t f = { 0 };
    const char *s = NULL;
    size_t n = 0;

    if (!field(rec, name, &f) || avro_value_get_type(&f) != AVRO_STRING ||
        avro_value_get_string(&f, &s, &n) != 0)
        return NULL;
    return cdc_xstrndup(s, n ? n - 1 : 0);     /* n counts the NUL */
}

static uint8_t *
bytes(avro_value_t *rec, const char *name, size_t *n)
{
    avro_value_t f = { 0 };
    const void *b = NULL;
    uint8_t *p;

    *n = 0;
    if (!field(rec, name, &f) || avro_value_get_bytes(&f, &b, n) != 0)
        return NULL;
    p = cdc_xmalloc(*n + 1);
    if (*n)
        memcpy(p, b, *n);
    return p;
}

void
ice_manifest_files_free(ice_manifest_file *mfs, int n)
{
    for (int i = 0; i < n; i++)
        ice_manifest_file_clear(&mfs[i]);
    free(mfs);
}

int
ice_manifest_list_read(const void *data, size_t len, const char *where, ice_manifest_file **out,
                       int *nout, cdc_err *err)
{
    rd r;
    ice_manifest_file *mfs = NULL;
    int n = 0, rc;

    *out = NULL;
    *nout = 0;
    if (rd_open(&r, data, len, where, err) != 0) {
        rd_close(&r);
        return -1;
    }
    while ((rc = avro_file_reader_read_value(r.reader, &r.val)) == 0) {
        ice_manifest_file *m;
        avro_value_t parts = { 0 };

        mfs = cdc_xrealloc(mfs, ((size_t) n + 1) * sizeof(*mfs));
        m = &mfs[n++];
        memset(m, 0, sizeof(*m));
        m->path = str(&r.val, "manifest_path");
        if (m->path == NULL) {
            cdc_err_set(err, CDC_E_DEST, "%s: entry %d has no manifest_path", where, n);
            goto fail;
        }
        m->length = num(&r.val, "manifest_length", 0);
        m->spec_id = (int32_t) num(&r.val, "partition_spec_id", 0);
        m->content = (int) num(&r.val, "content", 0);
        m->sequence_number = num(&r.val, "sequence_number", 0);
        m->min_sequence_number = num(&r.val, "min_sequence_number", 0);
        m->added_snapshot_id = num(&r.val, "added_snapshot_id", -1);
        m->added_files = (int32_t) num(&r.val, "added_files_count", 0);
        m->existing_files = (int32_t) num(&r.val, "existing_files_count", 0);
        m->deleted_files = (int32_t) num(&r.val, "deleted_files_count", 0);
        m->added_rows = num(&r.val, "added_rows_count", 0);
        m->existing_rows = num(&r.val, "existing_rows_count", 0);
        m->deleted_rows = num(&r.val, "deleted_rows_count", 0);
        if (field(&r.val, "partitions", &parts)) {
            size_t np = 0;

            avro_value_get_size(&parts, &np);
            m->parts = cdc_xcalloc(np + 1, sizeof(ice_part_summary));
            for (size_t k = 0; k < np; k++) {
                avro_value_t el = { 0 };
                ice_part_summary *p = &m->parts[k];

                avro_value_get_by_index(&parts, k, &el, NULL);
                p->contains_null = num(&el, "contains_null", 0) != 0;
                p->contains_nan = (int) num(&el, "contains_nan", -1);
                p->lower = bytes(&el, "lower_bound", &p->lower_n);
                p->upper = bytes(&el, "upper_bound", &p->upper_n);
                p->has_bounds = p->lower != NULL;
                m->nparts++;
            }
        }
    }
    if (rc != EOF) {
        cdc_err_set(err, CDC_E_DEST, "%s: reading entry %d: %s", where, n + 1, avro_strerror());
        goto fail;
    }
    rd_close(&r);
    *out = mfs;
    *nout = n;
    return 0;
fail:
    rd_close(&r);
    ice_manifest_files_free(mfs, n);
    return -1;
}

void
ice_read_entries_free(ice_read_entry *e, int n)
{
    for (int i = 0; i < n; i++) {
        free(e[i].path);
        free(e[i].format);
        free(e[i].referenced_data_file);
        for (int k = 0; k < e[i].ncols; k++) {
            free((void *) e[i].cols[k].lower);
            free((void *) e[i].cols[k].upper);
        }
        free(e[i].cols);
        free(e[i].split_offsets);
        free(e[i].equality_ids);
        for (int k = 0; k < e[i].npart; k++)
            free((void *) e[i].partition[k].p);
        free(e[i].partition);
    }
    free(e);
}

/* The column of e for field id fid (added when new: counts -1, no bounds). */
static ice_colstat *
entry_col(ice_read_entry *e, int32_t fid)
{
    for (int i = 0; i < e->ncols; i++)
        if (e->cols[i].field_id == fid)
            return &e->cols[i];
    e->cols = cdc_xrealloc(e->cols, ((size_t) e->ncols + 1) * sizeof(ice_colstat));
    e->cols[e->ncols] = (ice_colstat) { .field_id = fid, .size = -1, .values = -1, .nulls = -1,
                                        .nans = -1 };
    return &e->cols[e->ncols++];
}

/* One metrics map of data_file (Iceberg writes int-keyed maps as arrays of key/value
   records): which 0 column_sizes, 1 value_counts, 2 null_value_counts, 3 nan_value_counts,
   4 lower_bounds, 5 upper_bounds. */
static void
read_stat_map(avro_value_t *df, const char *name, int which, ice_read_entry *e)
{
    avro_value_t arr = { 0 };
    size_t n = 0;

    if (!field(df, name, &arr) || avro_value_get_type(&arr) != AVRO_ARRAY ||
        avro_value_get_size(&arr, &n) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        avro_value_t el = { 0 }, k = { 0 }, v = { 0 };
        int32_t key = 0;
        int64_t l = 0;
        const void *b = NULL;
        size_t bn = 0;

        if (avro_value_get_by_index(&arr, i, &el, NULL) != 0 ||
            avro_value_get_by_name(&el, "key", &k, NULL) != 0 ||
            avro_value_get_by_name(&el, "value", &v, NULL) != 0 || avro_value_get_int(&k, &key) != 0)
            continue;
        ice_colstat *c = entry_col(e, key);

        if (which < 4) {
            if (avro_value_get_long(&v, &l) != 0)
                continue;
            if (which == 0)
                c->size = l;
            else if (which == 1)
                c->values = l;
            else if (which == 2)
                c->nulls = l;
            else
                c->nans = l;
        } else {
            uint8_t *copy;

            if (avro_value_get_bytes(&v, &b, &bn) != 0)
                continue;
            copy = cdc_xmalloc(bn + 1);
            if (bn)
                memcpy(copy, b, bn);
            if (which == 4) {
                free((void *) c->lower);
                c->lower = copy;
                c->lower_n = bn;
            } else {
                free((void *) c->upper);
                c->upper = copy;
                c->upper_n = bn;
            }
        }
    }
}

/* split_offsets (longs) or equality_ids (ints) into a new array. */
static void *
read_num_array(avro_value_t *df, const char *name, bool is_long, int *count)
{
    avro_value_t arr = { 0 };
    size_t n = 0;
    void *out;

    *count = 0;
    if (!field(df, name, &arr) || avro_value_get_type(&arr) != AVRO_ARRAY ||
        avro_value_get_size(&arr, &n) != 0 || n == 0)
        return NULL;
    out = cdc_xcalloc(n, is_long ? sizeof(int64_t) : sizeof(int32_t));
    for (size_t i = 0; i < n; i++) {
        avro_value_t el = { 0 };

        if (avro_value_get_by_index(&arr, i, &el, NULL) != 0)
            break;
        if (is_long)
            avro_value_get_long(&el, &((int64_t *) out)[i]);
        else
            avro_value_get_int(&el, &((int32_t *) out)[i]);
        (*count)++;
    }
    return out;
}

/* One partition value from its Avro field (by position in the r102 record). */
static int
part_value(avro_value_t *part, int k, const ice_type *t, ice_value *v, const char *where,
           cdc_err *err)
{
    avro_value_t f = { 0 }, br = { 0 };
    int32_t i = 0;
    int64_t l = 0;
    float fl = 0;
    const void *b = NULL;
    size_t n = 0;

    memset(v, 0, sizeof(*v));
    if (avro_value_get_by_index(part, (size_t) k, &f, NULL) != 0)
        return cdc_err_set(err, CDC_E_DEST, "%s: the partition tuple has no field %d", where, k);
    if (avro_value_get_type(&f) == AVRO_UNION) {
        avro_value_get_current_branch(&f, &br);
        f = br;
    }
    switch (avro_value_get_type(&f)) {
    case AVRO_NULL: v->null = true; return 0;
    case AVRO_INT32: avro_value_get_int(&f, &i); v->i = i; return 0;
    case AVRO_INT64: avro_value_get_long(&f, &l); v->i = l; return 0;
    case AVRO_BOOLEAN: {
        int bo = 0;

        avro_value_get_boolean(&f, &bo);
        v->b = bo;
        return 0;
    }
    case AVRO_FLOAT: avro_value_get_float(&f, &fl); v->f = fl; return 0;
    case AVRO_DOUBLE: avro_value_get_double(&f, &v->f); return 0;
    case AVRO_STRING:
        avro_value_get_string(&f, (const char **) &b, &n);
        n = n ? n - 1 : 0;
        break;
    case AVRO_BYTES: avro_value_get_bytes(&f, &b, &n); break;
    case AVRO_FIXED: avro_value_get_fixed(&f, &b, &n); break;
    default:
        return cdc_err_set(err, CDC_E_DEST, "%s: partition field %d has an Avro type this "
                           "reader does not take", where, k);
    }
    if (t->kind == ICE_DECIMAL) {
        unsigned __int128 u = (n && (((const uint8_t *) b)[0] & 0x80)) ? ~(unsigned __int128) 0 : 0;

        if (n > 16)
            return cdc_err_set(err, CDC_E_DEST, "%s: decimal partition value of %zu bytes", where, n);
        for (size_t j = 0; j < n; j++)
            u = (u << 8) | ((const uint8_t *) b)[j];
        v->d = (ice_i128) u;
        return 0;
    }
    uint8_t *copy = cdc_xmalloc(n + 1);

    if (n)
        memcpy(copy, b, n);
    v->p = copy;
    v->n = n;
    return 0;
}

int
ice_manifest_read(const void *data, size_t len, const char *where, const ice_manifest_file *mf,
                  const ice_type *ptypes, int nptypes, ice_read_entry **out, int *nout,
                  cdc_err *err)
{
    rd r;
    ice_read_entry *es = NULL;
    int n = 0, rc;

    *out = NULL;
    *nout = 0;
    if (rd_open(&r, data, len, where, err) != 0) {
        rd_close(&r);
        return -1;
    }
    while ((rc = avro_file_reader_read_value(r.reader, &r.val)) == 0) {
        ice_read_entry *e;
        avro_value_t df = { 0 }, part = { 0 };

        es = cdc_xrealloc(es, ((size_t) n + 1) * sizeof(*es));
        e = &es[n++];
        memset(e, 0, sizeof(*e));
        e->status = (int) num(&r.val, "status", -1);
        e->snapshot_id = num(&r.val, "snapshot_id", mf ? mf->added_snapshot_id : -1);
        /* inheritance (spec "Sequence Number Inheritance"): only added entries may leave
           their sequence numbers null; they take the manifest's */
        e->sequence_number = num(&r.val, "sequence_number",
                                 mf && e->status == ICE_STATUS_ADDED ? mf->sequence_number : 0);
        e->file_sequence_number = num(&r.val, "file_sequence_number",
                                      mf && e->status == ICE_STATUS_ADDED ? mf->sequence_number : 0);
        if (!field(&r.val, "data_file", &df)) {
            cdc_err_set(err, CDC_E_DEST, "%s: entry %d has no data_file", where, n);
            goto fail;
        }
        e->content = (int) num(&df, "content", 0);
        e->path = str(&df, "file_path");
        e->format = str(&df, "file_format");
        e->record_count = num(&df, "record_count", 0);
        e->file_size = num(&df, "file_size_in_bytes", 0);
        e->referenced_data_file = str(&df, "referenced_data_file");
        read_stat_map(&df, "column_sizes", 0, e);
        read_stat_map(&df, "value_counts", 1, e);
        read_stat_map(&df, "null_value_counts", 2, e);
        read_stat_map(&df, "nan_value_counts", 3, e);
        read_stat_map(&df, "lower_bounds", 4, e);
        read_stat_map(&df, "upper_bounds", 5, e);
        e->split_offsets = read_num_array(&df, "split_offsets", true, &e->nsplit);
        e->equality_ids = read_num_array(&df, "equality_ids", false, &e->neq);
        e->sort_order_id = (int32_t) num(&df, "sort_order_id", -1);
        if (e->path == NULL) {
            cdc_err_set(err, CDC_E_DEST, "%s: entry %d has no file_path", where, n);
            goto fail;
        }
        e->partition = cdc_xcalloc((size_t) nptypes + 1, sizeof(ice_value));
        if (nptypes > 0) {
            size_t have = 0;

            if (!field(&df, "partition", &part) || avro_value_get_size(&part, &have) != 0 ||
                have != (size_t) nptypes) {
                cdc_err_set(err, CDC_E_DEST, "%s: entry %d (%s): partition tuple of %zu fields, "
                            "the spec has %d", where, n, e->path, have, nptypes);
                goto fail;
            }
            for (int k = 0; k < nptypes; k++) {
                if (part_value(&part, k, &ptypes[k], &e->partition[k], where, err) != 0)
                    goto fail;
                e->npart++;
            }
        }
    }
    if (rc != EOF) {
        cdc_err_set(err, CDC_E_DEST, "%s: reading entry %d: %s", where, n + 1, avro_strerror());
        goto fail;
    }
    rd_close(&r);
    *out = es;
    *nout = n;
    return 0;
fail:
    rd_close(&r);
    ice_read_entries_free(es, n);
    return -1;
}
