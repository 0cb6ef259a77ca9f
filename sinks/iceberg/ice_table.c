#include "sinks/iceberg/ice_table.h"

#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_mem.h"
#include "sinks/iceberg/ice_meta.h"
#include "sinks/iceberg/ice_value.h"

const char *const ice_meta_names[ICE_META_N] = {
    "_cdc_topic", "_cdc_partition", "_cdc_offset", "_cdc_op", "_cdc_lsn", "_cdc_ts",
};

static const uint8_t meta_kinds[ICE_META_N] = {
    ICE_STRING, ICE_INT, ICE_LONG, ICE_STRING, ICE_LONG, ICE_TIMESTAMPTZ,
};

#define NOT_IN_REL INT_MIN

void
ice_file_clear(ice_file *f)
{
    free(f->partition);
    free(f->uri);
    cdc_buf_free(&f->bytes);
    parquet_result_free(&f->res);
    ice_schema_free(f->schema);
    memset(f, 0, sizeof(*f));
}

ice_tbl *
ice_tbl_new(const char *name, const char *location)
{
    ice_tbl *t = cdc_xcalloc(1, sizeof(*t));

    t->name = cdc_xstrdup(name);
    t->location = cdc_xstrdup(location);
    t->src = cdc_xstrdup(name);
    t->cur_path = -1;
    return t;
}

/* A parked writer: another partition's file of the batch being filled. */
struct ice_wslot {
    parquet_writer *w;
    cdc_buf        *wbuf;
    char           *wuri;
    ice_schema     *wschema;
    int            *map;
    int32_t         cur_path;
    ice_value      *wtuple;
};

static void
park(ice_tbl *t)
{
    if (t->w == NULL)
        return;
    t->slots = cdc_xrealloc(t->slots, (size_t) (t->nslots + 1) * sizeof(*t->slots));
    t->slots[t->nslots++] = (struct ice_wslot) { t->w, t->wbuf, t->wuri, t->wschema, t->map,
                                                 t->cur_path, t->wtuple };
    t->w = NULL;
    t->wbuf = NULL;
    t->wuri = NULL;
    t->wschema = NULL;
    t->map = NULL;
    t->cur_path = -1;
    t->wtuple = NULL;
}

/* Makes parked writer i the active one (the active one must be parked or empty). */
static void
unpark(ice_tbl *t, int i)
{
    struct ice_wslot s = t->slots[i];

    t->slots[i] = t->slots[--t->nslots];
    t->w = s.w;
    t->wbuf = s.wbuf;
    t->wuri = s.wuri;
    t->wschema = s.wschema;
    t->map = s.map;
    t->cur_path = s.cur_path;
    t->wtuple = s.wtuple;
}

static void
drop_writer(ice_tbl *t)
{
    free(t->wtuple);
    t->wtuple = NULL;
    parquet_writer_free(t->w);
    t->w = NULL;
    if (t->wbuf) {
        cdc_buf_free(t->wbuf);
        free(t->wbuf);
        t->wbuf = NULL;
    }
    free(t->wuri);
    t->wuri = NULL;
    ice_schema_free(t->wschema);
    t->wschema = NULL;
    free(t->map);
    t->map = NULL;
    t->cur_path = -1;
}

void
ice_tbl_free(ice_tbl *t)
{
    if (t == NULL)
        return;
    drop_writer(t);
    while (t->nslots > 0) {
        unpark(t, 0);
        drop_writer(t);
    }
    free(t->slots);
    ice_spec_free(t->spec);
    for (int i = 0; i < t->nfiles; i++)
        ice_file_clear(&t->files[i]);
    free(t->files);
    ice_schema_free(t->schema);
    ice_kidx_free(t->kidx);
    for (int i = 0; i < t->npaths; i++) {
        free(t->paths[i]);
        free(t->ptuples[i]);
    }
    free(t->paths);
    free(t->ptuples);
    for (int i = 0; i < t->npd; i++) {
        ice_posdel_free(t->pd[i]);
        free(t->pdtuple[i]);
    }
    free(t->pd);
    free(t->pdtuple);
    free(t->fill);
    free(t->fill_has);
    cdc_buf_free(&t->fill_mem);
    for (int i = 0; t->fill_list && i < t->nfill; i++) {
        free(t->fill_list[i].elems);
        cdc_buf_free(&t->fill_list[i].mem);
    }
    free(t->fill_list);
    free(t->name);
    free(t->src);
    free(t->location);
    free(t);
}

/* ---------------------------------------------------------------- schema */

/* The first difference between a table's schema and ours, for the message. */
void
ice_schema_diff(const ice_schema *have, const ice_schema *want, char *out, size_t n)
{
    char a[64], b[64];

    for (int i = 0; i < want->nfields; i++) {
        const ice_field *f = &want->fields[i];
        const ice_field *g = ice_schema_find(have, f->name);

        if (g == NULL) {
            snprintf(out, n, "column \"%s\" (%s) is not in the table", f->name,
                     ice_type_str(&f->type, a, sizeof(a)));
            return;
        }
        if (g->id != f->id || !ice_type_equal(&g->type, &f->type) || g->required != f->required) {
            snprintf(out, n, "column \"%s\" is %s%s, id %d in the table, but %s%s, id %d from "
                     "the source", f->name, ice_type_str(&g->type, a, sizeof(a)),
                     g->required ? " required" : "", (int) g->id,
                     ice_type_str(&f->type, b, sizeof(b)), f->required ? " required" : "",
                     (int) f->id);
            return;
        }
    }
    for (int i = 0; i < have->nfields; i++)
        if (ice_schema_find(want, have->fields[i].name) == NULL) {
            snprintf(out, n, "the table has column \"%s\", which the source does not",
                     have->fields[i].name);
            return;
        }
    snprintf(out, n, "the identifier fields (primary key) differ");
}


static int
add_meta_fields(ice_schema *s, int32_t *last, cdc_err *err)
{
    for (int k = 0; k < ICE_META_N; k++) {
        ice_type ty = { .kind = meta_kinds[k] };

        if (ice_schema_find(s, ice_meta_names[k]))
            return cdc_err_set(err, CDC_E_DEST, "column \"%s\" is a name the append mode's "
                               "metadata columns use", ice_meta_names[k]);
        if (ice_schema_add(s, ice_meta_names[k], &ty, false, last, err) < 0)
            return -1;
    }
    return 0;
}

int
ice_tbl_set_rel(ice_tbl *t, const cdc_rel *rel, bool append, cdc_err *err)
{
    int32_t     scratch = 0;
    ice_schema *want;
    char        src[300];

    snprintf(src, sizeof(src), "%s.%s", rel->nspname ? rel->nspname : "?",
             rel->relname ? rel->relname : "?");
    free(t->src);
    t->src = cdc_xstrdup(src);
    if (!append && rel->nkeys == 0)
        return cdc_err_set(err, CDC_E_CONFIG, "table %s has no primary key: write_mode upsert "
                           "needs one (add a primary key, or use write_mode append)", src);
    want = ice_schema_from_rel(rel, 0, !append, &scratch, err);
    if (want == NULL)
        return -1;
    if (append && add_meta_fields(want, &scratch, err) < 0) {
        ice_schema_free(want);
        return cdc_err_wrap(err, "table %s", src);
    }
    if (ice_tbl_close_file(t, err) < 0) {
        ice_schema_free(want);
        return -1;
    }
    if (t->schema == NULL) {
        t->schema = want;
        t->last_column_id = scratch;
        t->next_schema_id = 1;
    } else {
        bool        changed = false;
        ice_schema *next = ice_schema_evolve(t->schema, want, src, t->next_schema_id,
                                             &t->last_column_id, &changed, err);

        ice_schema_free(want);
        if (next == NULL)
            return cdc_err_wrap(err, "Iceberg table %s", t->name);
        if (changed && t->foreign) {
            char why[300];

            ice_schema_diff(t->schema, next, why, sizeof(why));
            ice_schema_free(next);
            return cdc_err_set(err, CDC_E_CONFIG, "Iceberg table %s holds no change of this "
                               "pipeline and its schema is not the source's: %s (drop or "
                               "rename it, or let the sink write to another table_namespace)",
                               t->name, why);
        }
        t->foreign = false;
        if (changed) {
            ice_schema_free(t->schema);
            t->schema = next;
            t->next_schema_id++;
            t->schema_dirty = true;
        } else {
            ice_schema_free(next);
        }
    }
    t->upsert = !append;
    t->relid = rel->relid;
    t->rel_version = rel->version;
    t->have_rel = true;
    return 0;
}

/* ---------------------------------------------------------------- writer */

static parquet_kind
pq_kind(uint8_t k)
{
    switch (k) {
    case ICE_BOOLEAN: return PARQUET_BOOLEAN;
    case ICE_INT: return PARQUET_INT32;
    case ICE_LONG: return PARQUET_INT64;
    case ICE_FLOAT: return PARQUET_FLOAT;
    case ICE_DOUBLE: return PARQUET_DOUBLE;
    case ICE_DECIMAL: return PARQUET_DECIMAL;
    case ICE_DATE: return PARQUET_DATE;
    case ICE_TIME: return PARQUET_TIME_US;
    case ICE_TIMESTAMP: return PARQUET_TIMESTAMP_US;
    case ICE_TIMESTAMPTZ: return PARQUET_TIMESTAMPTZ_US;
    case ICE_UUID: return PARQUET_UUID;
    case ICE_FIXED: return PARQUET_FIXED;
    case ICE_BINARY: return PARQUET_BINARY;
    default: return PARQUET_STRING;
    }
}

static int
open_writer(ice_tbl *t, const cdc_rel *rel, parquet_codec codec, cdc_err *err)
{
    const ice_schema *s = t->schema;
    parquet_column   *cols = cdc_xcalloc((size_t) s->nfields + 1, sizeof(*cols));
    parquet_options   o = { .codec = codec };
    parquet_kv        kv;
    json_t           *js = ice_schema_to_json(s);
    char             *jtext = js ? json_dumps(js, JSON_COMPACT) : NULL;
    char              uuid[37];
    cdc_buf           u = CDC_BUF_INIT;

    json_decref(js);
    t->map = cdc_xcalloc((size_t) s->nfields + 1, sizeof(int));
    for (int i = 0; i < s->nfields; i++) {
        const ice_field *f = &s->fields[i];
        bool             list = f->type.kind == ICE_LIST;

        cols[i] = (parquet_column) {
            .name = f->name, .field_id = f->id, .optional = !f->required,
            .kind = pq_kind(list ? f->type.elem_kind : f->type.kind),
            .precision = f->type.precision, .scale = f->type.scale,
            .fixed_len = f->type.kind == ICE_UUID ? 16 : f->type.length,
            .is_list = list, .element_field_id = f->type.elem_id,
            .element_optional = !f->type.elem_required,
        };
        t->map[i] = NOT_IN_REL;
        for (int k = 0; k < ICE_META_N; k++)
            if (strcmp(f->name, ice_meta_names[k]) == 0)
                t->map[i] = -1 - k;
        for (int c = 0; c < rel->ncols && t->map[i] == NOT_IN_REL; c++)
            if (strcmp(rel->cols[c].name, f->name) == 0)
                t->map[i] = c;
    }
    kv = (parquet_kv) { "iceberg.schema", jtext ? jtext : "{}" };
    o.kv = &kv;
    o.nkv = 1;
    t->wbuf = cdc_xcalloc(1, sizeof(cdc_buf));
    o.sink_buf = t->wbuf;
    t->w = parquet_writer_new(cols, (size_t) s->nfields, &o, err);
    free(cols);
    free(jtext);
    if (t->w == NULL) {
        drop_writer(t);
        return cdc_err_wrap(err, "Iceberg table %s: Parquet writer", t->name);
    }
    ice_uuid4(uuid);
    cdc_buf_printf(&u, "%s/data/00000-0-%s.parquet", t->location, uuid);
    t->wuri = (char *) cdc_buf_str(&u);
    u.data = NULL;
    t->wschema = ice_schema_dup(s);
    if (t->upsert) {
        t->cur_path = ice_tbl_path(t, t->wuri);
        if (t->wtuple)
            ice_tbl_path_tuple(t, t->cur_path, t->wtuple);
    }
    return 0;
}

static int
put_value(parquet_writer *w, size_t col, const ice_type *t, uint8_t kind, const ice_value *v,
          cdc_err *err)
{
    (void) t;
    switch (kind) {
    case ICE_BOOLEAN:
        return parquet_put_bool(w, col, v->b, err);
    case ICE_INT:
    case ICE_DATE:
        return parquet_put_i32(w, col, (int32_t) v->i, err);
    case ICE_LONG:
    case ICE_TIME:
    case ICE_TIMESTAMP:
    case ICE_TIMESTAMPTZ:
        return parquet_put_i64(w, col, v->i, err);
    case ICE_FLOAT:
        return parquet_put_float(w, col, (float) v->f, err);
    case ICE_DOUBLE:
        return parquet_put_double(w, col, v->f, err);
    case ICE_DECIMAL:
        if (t->precision <= 18)
            return parquet_put_i64(w, col, (int64_t) v->d, err);
        {
            uint8_t b[16];
            size_t  n = ice_decimal_bytes(v->d, b);

            return parquet_put_bytes(w, col, b, n, err);
        }
    default:
        return parquet_put_bytes(w, col, v->p ? (const void *) v->p : "", v->n, err);
    }
}

static int
put_column(ice_tbl *t, size_t i, const cdc_event *ev, const cdc_value *image, cdc_buf *scratch,
           bool *toast, cdc_err *err)
{
    const ice_field *f = &t->wschema->fields[i];
    int              src = t->map[i];
    const cdc_col   *col;
    const cdc_value *v;
    ice_value        iv;

    if (src == NOT_IN_REL)
        return parquet_put_null(t->w, i, err);
    if (src < 0) {
        int k = -1 - src;

        switch (k) {
        case ICE_META_PARTITION:
            return parquet_put_i32(t->w, i, 0, err);
        case ICE_META_OFFSET:
            return parquet_put_i64(t->w, i, (int64_t) ev->lsn, err);
        case ICE_META_OP: {
            char op = (char) ev->op;

            return parquet_put_bytes(t->w, i, &op, 1, err);
        }
        case ICE_META_LSN:
            return parquet_put_i64(t->w, i, (int64_t) ev->pos.lsn, err);
        case ICE_META_TS:
            return parquet_put_i64(t->w, i, ev->txn ? ev->txn->commit_ts_us : ev->source_ts_us,
                                   err);
        default:
            return parquet_put_null(t->w, i, err);  /* the topic: put by the caller */
        }
    }
    col = &ev->rel->cols[src];
    v = image ? &image[src] : NULL;
    if (v == NULL || v->state == CDC_VAL_NULL || !col->ctype.supported)
        return parquet_put_null(t->w, i, err);
    if (v->state == CDC_VAL_UNCHANGED && ev->before && ev->before != image &&
        ev->before[src].state == CDC_VAL_PRESENT)
        v = &ev->before[src];   /* REPLICA IDENTITY FULL: the old row has it */
    if (v->state == CDC_VAL_UNCHANGED && t->fill_has && src < t->nfill && t->fill_has[src]) {
        const ice_value *fv = &t->fill[src];     /* read back from the table */

        if (f->type.kind == ICE_LIST) {
            const struct ice_fill_list *fl = &t->fill_list[src];
            ice_type et = { .kind = f->type.elem_kind, .precision = f->type.precision,
                            .scale = f->type.scale, .length = f->type.length };

            if (fl->null)
                return parquet_put_null(t->w, i, err);
            if (parquet_list_begin(t->w, i, err) < 0)
                return -1;
            for (size_t k = 0; k < fl->n; k++)
                if ((fl->elems[k].null ? parquet_put_null(t->w, i, err)
                                       : put_value(t->w, i, &et, et.kind, &fl->elems[k], err)) < 0)
                    return -1;
            return parquet_list_end(t->w, i, err);
        }
        if (fv->null)
            return parquet_put_null(t->w, i, err);
        return put_value(t->w, i, &f->type, f->type.kind, fv, err);
    }
    if (v->state == CDC_VAL_UNCHANGED) {
        *toast = true;
        if (t->upsert)
            return cdc_err_set(err, CDC_E_UNSUPPORTED, "an update left this TOASTed column "
                               "out (unchanged), and write_mode upsert could not read its "
                               "current value from the table (no current row for the key): "
                               "set REPLICA IDENTITY FULL on the source table");
        return parquet_put_null(t->w, i, err);
    }
    if (f->type.kind == ICE_LIST) {
        ice_type  et = { .kind = f->type.elem_kind, .precision = f->type.precision,
                         .scale = f->type.scale, .length = f->type.length };
        cdc_ctype ect = cdc_ctype_elem(&col->ctype);

        if (parquet_list_begin(t->w, i, err) < 0)
            return -1;
        for (size_t k = 0; k < v->u.arr.n; k++) {
            const cdc_value *item = &v->u.arr.items[k];

            if (item->state != CDC_VAL_PRESENT) {
                if (parquet_put_null(t->w, i, err) < 0)
                    return -1;
                continue;
            }
            if (ice_value_from_cdc(&et, &ect, item, scratch, &iv, err) < 0 ||
                put_value(t->w, i, &et, et.kind, &iv, err) < 0)
                return -1;
        }
        return parquet_list_end(t->w, i, err);
    }
    if (ice_value_from_cdc(&f->type, &col->ctype, v, scratch, &iv, err) < 0)
        return -1;
    if (iv.null)
        return parquet_put_null(t->w, i, err);
    return put_value(t->w, i, &f->type, f->type.kind, &iv, err);
}

/* The partition tuple of a row (spec order), in one allocation with its bytes. */
static ice_value *
row_tuple(ice_tbl *t, const cdc_event *ev, const cdc_value *image, cdc_err *err)
{
    const ice_spec *sp = t->spec;
    ice_value      *tv = cdc_xcalloc((size_t) sp->nfields, sizeof(*tv)), *out;
    cdc_buf        *scr = cdc_xcalloc((size_t) sp->nfields, sizeof(*scr));
    size_t          bytes = 0;
    uint8_t        *blob;
    int             rc = 0;

    for (int i = 0; i < sp->nfields && rc == 0; i++) {
        const ice_field *sf = ice_schema_find_id(t->schema, sp->fields[i].source_id);
        int              c = -1;
        ice_value        iv;

        tv[i].null = true;
        for (int k = 0; sf && k < ev->rel->ncols; k++)
            if (strcmp(ev->rel->cols[k].name, sf->name) == 0)
                c = k;
        if (c < 0 || image == NULL || image[c].state != CDC_VAL_PRESENT)
            continue;
        rc = ice_value_from_cdc(&sf->type, &ev->rel->cols[c].ctype, &image[c], &scr[i], &iv,
                                err);
        if (rc < 0) {
            cdc_err_wrap(err, "table %s partition source column \"%s\"", t->src, sf->name);
            break;
        }
        ice_transform_apply(&sp->fields[i].tr, &sf->type, &iv, &tv[i]);
        if (!tv[i].null && tv[i].p)
            bytes += tv[i].n;
    }
    out = NULL;
    if (rc == 0) {
        out = cdc_xmalloc((size_t) sp->nfields * sizeof(*out) + bytes + 1);
        blob = (uint8_t *) (out + sp->nfields);
        for (int i = 0; i < sp->nfields; i++) {
            out[i] = tv[i];
            if (!tv[i].null && tv[i].p) {
                memcpy(blob, tv[i].p, tv[i].n);
                out[i].p = blob;
                blob += tv[i].n;
            }
        }
    }
    for (int i = 0; i < sp->nfields; i++)
        cdc_buf_free(&scr[i]);
    free(scr);
    free(tv);
    return out;
}

static bool
tuple_eq(const ice_tbl *t, const ice_type *ptypes, const ice_value *a, const ice_value *b)
{
    for (int i = 0; i < t->spec->nfields; i++) {
        if (a[i].null || b[i].null) {
            if (a[i].null != b[i].null)
                return false;
            continue;
        }
        if (ice_value_cmp(&ptypes[i], &a[i], &b[i]) != 0)
            return false;
    }
    return true;
}

bool
ice_tbl_tuple_eq(const ice_tbl *t, const ice_value *a, const ice_value *b)
{
    ice_type *ptypes;
    cdc_err   e = { 0 };
    bool      eq;

    if (a == NULL || b == NULL || t->spec == NULL || t->spec->nfields == 0)
        return a == b;
    ptypes = cdc_xcalloc((size_t) t->spec->nfields, sizeof(*ptypes));
    eq = ice_spec_types(t->spec, t->schema, ptypes, &e) == 0 && tuple_eq(t, ptypes, a, b);
    free(ptypes);
    return eq;
}

/* Makes the writer of the row's partition the active one (parking the other). */
static int
select_partition(ice_tbl *t, const cdc_event *ev, const cdc_value *image, cdc_err *err)
{
    ice_type  *ptypes;
    ice_value *tuple;
    bool       found = false;

    if (t->spec == NULL || t->spec->nfields == 0)
        return 0;
    if ((tuple = row_tuple(t, ev, image, err)) == NULL) {
        err->code = CDC_E_DECODE;
        return -1;
    }
    ptypes = cdc_xcalloc((size_t) t->spec->nfields, sizeof(*ptypes));
    if (ice_spec_types(t->spec, t->schema, ptypes, err) < 0) {
        free(ptypes);
        free(tuple);
        return -1;
    }
    if (t->w != NULL && tuple_eq(t, ptypes, tuple, t->wtuple)) {
        found = true;
    } else {
        park(t);
        for (int i = 0; i < t->nslots && !found; i++)
            if (tuple_eq(t, ptypes, tuple, t->slots[i].wtuple)) {
                unpark(t, i);
                found = true;
            }
    }
    free(ptypes);
    if (found) {
        free(tuple);
        return 0;
    }
    t->wtuple = tuple;  /* the writer opened next is this partition's */
    return 1;
}

int
ice_tbl_put_row(ice_tbl *t, const cdc_event *ev, const cdc_value *image, const char *topic,
                parquet_codec codec, bool *toast, cdc_err *err)
{
    cdc_buf scratch = CDC_BUF_INIT;
    int     rc = 0;

    if (select_partition(t, ev, image, err) < 0)
        return -1;
    if (t->w == NULL && open_writer(t, ev->rel, codec, err) < 0)
        return -1;
    for (int i = 0; i < t->wschema->nfields && rc == 0; i++) {
        if (t->map[i] == -1 - ICE_META_TOPIC)
            rc = parquet_put_bytes(t->w, (size_t) i, topic, strlen(topic), err);
        else
            rc = put_column(t, (size_t) i, ev, image, &scratch, toast, err);
        if (rc < 0)
            cdc_err_wrap(err, "table %s column \"%s\"", t->src, t->wschema->fields[i].name);
    }
    cdc_buf_free(&scratch);
    if (rc == 0 && parquet_end_row(t->w, err) == 0) {
        t->rows++;
        return 0;
    }
    {
        cdc_err e2;

        if (parquet_abort_row(t->w, &e2) < 0) {
            cdc_err_set(err, e2.code, "Iceberg table %s: %s", t->name, e2.msg);
            drop_writer(t);     /* a failed writer: this file is lost, the batch must fail */
            return -1;
        }
    }
    if (err->code != CDC_E_DECODE && err->code != CDC_E_INVAL)
        return -1;
    err->code = CDC_E_DECODE;
    return -1;
}


static int close_active(ice_tbl *t, cdc_err *err);

int
ice_tbl_close_file(ice_tbl *t, cdc_err *err)
{
    if (close_active(t, err) < 0)
        return -1;
    while (t->nslots > 0) {
        unpark(t, 0);
        if (close_active(t, err) < 0)
            return -1;
    }
    return 0;
}

static int
close_active(ice_tbl *t, cdc_err *err)
{
    ice_file f = { 0 };

    if (t->w == NULL)
        return 0;
    if (parquet_rows(t->w) == 0) {
        drop_writer(t);
        return 0;
    }
    if (parquet_close(t->w, &f.res, err) < 0) {
        drop_writer(t);
        return cdc_err_wrap(err, "Iceberg table %s: closing %s", t->name, "a data file");
    }
    f.bytes = *t->wbuf;
    memset(t->wbuf, 0, sizeof(*t->wbuf));
    f.uri = t->wuri;
    t->wuri = NULL;
    f.schema = t->wschema;
    t->wschema = NULL;
    f.partition = t->wtuple;
    t->wtuple = NULL;
    drop_writer(t);
    t->files = cdc_xrealloc(t->files, (size_t) (t->nfiles + 1) * sizeof(*t->files));
    t->files[t->nfiles++] = f;
    return 0;
}

/* ---------------------------------------------------------------- statistics */

static int64_t
le_int(const uint8_t *p, size_t n)
{
    uint64_t u = 0;

    for (size_t i = 0; i < n && i < 8; i++)
        u |= (uint64_t) p[i] << (8 * i);
    if (n == 4)
        return (int64_t) (int32_t) (uint32_t) u;
    return (int64_t) u;
}

static ice_i128
be_int(const uint8_t *p, size_t n)
{
    ice_i128 v = (n > 0 && (p[0] & 0x80)) ? -1 : 0;

    for (size_t i = 0; i < n; i++)
        v = (ice_i128) (((unsigned __int128) v << 8) | p[i]);
    return v;
}

/* One bound of field f from Parquet's PLAIN statistic, as Iceberg's serialization, at
   *off in store (appended); *len its length, or false when none. */
static bool
one_bound(const ice_field *f, const uint8_t *p, size_t n, bool upper, cdc_buf *store,
          size_t *len)
{
    size_t start = store->len;

    switch (f->type.kind) {
    case ICE_DECIMAL: {
        ice_i128 d = f->type.precision <= 18 ? (ice_i128) le_int(p, n) : be_int(p, n);
        uint8_t  b[16];
        size_t   m = ice_decimal_bytes(d, b);

        cdc_buf_put(store, b, m);
        break;
    }
    case ICE_STRING:
    case ICE_BINARY: {
        ice_value v = { .p = p, .n = n }, out;
        uint8_t   buf[4 * 16 + 4];

        if (upper) {
            if (!ice_bound_upper_trunc(&f->type, &v, 16, buf, sizeof(buf), &out))
                return false;
        } else {
            ice_bound_lower_trunc(&f->type, &v, 16, &out);
        }
        cdc_buf_put(store, out.p ? (const void *) out.p : "", out.n);
        break;
    }
    default:
        cdc_buf_put(store, p, n);
        break;
    }
    *len = store->len - start;
    return true;
}

int
ice_tbl_datafile(const ice_file *f, ice_datafile *out, ice_colstat **colsp, cdc_buf *store,
                 cdc_err *err)
{
    const parquet_result *r = &f->res;
    ice_colstat          *cols = cdc_xcalloc(r->ncols + 1, sizeof(*cols));
    size_t               *lo_off = cdc_xcalloc(r->ncols + 1, sizeof(size_t) * 4);
    size_t               *lo_len = lo_off + r->ncols + 1;
    size_t               *up_off = lo_len + r->ncols + 1;
    size_t               *up_len = up_off + r->ncols + 1;

    for (size_t i = 0; i < r->ncols; i++) {
        const parquet_col_stats *cs = &r->cols[i];
        const ice_field         *fld = ice_schema_find_id(f->schema, cs->field_id);
        bool                     fp;

        cols[i] = (ice_colstat) { .field_id = cs->field_id, .size = cs->compressed_size,
                                  .values = cs->value_count, .nulls = cs->null_count,
                                  .nans = -1 };
        if (fld == NULL)    /* a list's element: counts only */
            continue;
        fp = fld->type.kind == ICE_FLOAT || fld->type.kind == ICE_DOUBLE;
        if (fp)
            cols[i].nans = cs->nan_count;
        if (!cs->has_bounds)
            continue;
        lo_off[i] = store->len;
        if (!one_bound(fld, cs->min, cs->min_len, false, store, &lo_len[i]))
            lo_len[i] = SIZE_MAX;
        up_off[i] = store->len;
        if (!one_bound(fld, cs->max, cs->max_len, true, store, &up_len[i]))
            up_len[i] = SIZE_MAX;
    }
    if (cdc_buf_failed(store)) {
        free(cols);
        free(lo_off);
        return cdc_err_set(err, CDC_E_NOMEM, "statistics of %s: out of memory", f->uri);
    }
    for (size_t i = 0; i < r->ncols; i++) {
        if (r->cols[i].has_bounds && lo_len[i] != SIZE_MAX &&
            ice_schema_find_id(f->schema, r->cols[i].field_id)) {
            cols[i].lower = store->data + lo_off[i];
            cols[i].lower_n = lo_len[i];
        }
        if (r->cols[i].has_bounds && up_len[i] != SIZE_MAX &&
            ice_schema_find_id(f->schema, r->cols[i].field_id)) {
            cols[i].upper = store->data + up_off[i];
            cols[i].upper_n = up_len[i];
        }
    }
    free(lo_off);
    *out = (ice_datafile) {
        .content = ICE_CONTENT_DATA, .path = f->uri, .format = "PARQUET",
        .record_count = r->row_count, .file_size = (int64_t) r->file_size,
        .ncols = (int) r->ncols, .cols = cols, .split_offsets = r->split_offsets,
        .nsplit = (int) r->nrow_groups, .sort_order_id = -1, .partition = f->partition,
    };
    *colsp = cols;
    return 0;
}

/* ---------------------------------------------------------------- positions */

void
ice_pos_format(cdc_pos p, char *out, size_t n)
{
    snprintf(out, n, "%X/%X:%" PRIu64, (unsigned) (p.lsn >> 32), (unsigned) p.lsn, p.seq);
}

int
ice_pos_parse(const char *s, cdc_pos *p)
{
    unsigned hi, lo;
    char     seq[24];
    char    *end;
    int      used = 0;

    if (s == NULL || sscanf(s, "%X/%X:%23[0-9]%n", &hi, &lo, seq, &used) != 3 ||
        s[used] != '\0')
        return -1;
    p->lsn = ((uint64_t) hi << 32) | lo;
    p->seq = strtoull(seq, &end, 10);
    return *end == '\0' ? 0 : -1;
}

/* ---------------------------------------------------------------- for rewrites */

parquet_kind
ice_parquet_kind(uint8_t kind)
{
    return pq_kind(kind);
}

int
ice_parquet_put(parquet_writer *w, size_t col, const ice_type *t, const ice_value *v,
                cdc_err *err)
{
    if (v->null)
        return parquet_put_null(w, col, err);
    return put_value(w, col, t, t->kind, v, err);
}
