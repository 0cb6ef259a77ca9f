/*
 * Upsert mode of one Iceberg table (ice_table.h): the key of a row, the position deletes an
 * update or a delete adds through the key index (ice_kidx.c), and unchanged TOAST values read
 * back from the table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_mem.h"
#include "sinks/iceberg/ice_table.h"
#include "sinks/iceberg/ice_value.h"

/* ---------------------------------------------------------------- upsert */

void
ice_key_put(cdc_buf *out, const ice_type *t, const ice_value *v)
{
    size_t at = out->len;

    cdc_buf_put_u32be(out, 0);
    ice_value_bound(out, t, v);
    if (!cdc_buf_failed(out)) {
        uint32_t n = (uint32_t) (out->len - at - 4);

        out->data[at] = (uint8_t) (n >> 24);
        out->data[at + 1] = (uint8_t) (n >> 16);
        out->data[at + 2] = (uint8_t) (n >> 8);
        out->data[at + 3] = (uint8_t) n;
    }
}

/* The key of a row: for each key column in key order, its Iceberg single-value
   serialization, length-prefixed. */
static int
row_key(const ice_tbl *t, const cdc_rel *rel, const cdc_value *vals, cdc_buf *out, cdc_err *err)
{
    cdc_buf scratch = CDC_BUF_INIT;
    int     rc = 0;

    for (int kp = 1; kp <= rel->nkeys && rc == 0; kp++)
        for (int c = 0; c < rel->ncols; c++) {
            const cdc_col   *col = &rel->cols[c];
            const ice_field *f;
            ice_value        iv;

            if (col->key_pos != kp)
                continue;
            f = ice_schema_find(t->schema, col->name);
            if (f == NULL || vals == NULL || vals[c].state != CDC_VAL_PRESENT) {
                rc = cdc_err_set(err, CDC_E_DECODE, "table %s: key column \"%s\" has no "
                                 "value", t->src, col->name);
                break;
            }
            if (ice_value_from_cdc(&f->type, &col->ctype, &vals[c], &scratch, &iv, err) < 0) {
                rc = cdc_err_wrap(err, "table %s key column \"%s\"", t->src, col->name);
                break;
            }
            ice_key_put(out, &f->type, &iv);
            break;
        }
    cdc_buf_free(&scratch);
    if (rc == 0 && cdc_buf_failed(out))
        rc = cdc_err_set(err, CDC_E_NOMEM, "table %s: key: out of memory", t->src);
    return rc;
}

static int
delete_at(ice_tbl *t, int32_t file, int64_t pos, cdc_err *err)
{
    if (t->pd == NULL)
        t->pd = ice_posdel_new();
    if (ice_posdel_add(t->pd, t->paths[file], pos, err) < 0)
        return -1;
    t->ndeletes++;
    return 0;
}

/* Upsert: the unchanged TOAST columns of ev's after image that no before image holds, read
   from the key's current row into t->fill.  @returns 0 (t->fill_has set for them), -1. */
static int
fill_unchanged(ice_tbl *t, const cdc_event *ev, const cdc_buf *key, cdc_err *err)
{
    const cdc_rel *rel = ev->rel;
    int32_t       *ids;
    int           *cols, *lists;
    ice_value     *vals;
    int            n = 0, nl = 0, rc;
    int32_t        efile;
    int64_t        epos;
    const char    *path;

    for (int c = 0; c < rel->ncols; c++)
        if (ev->after[c].state == CDC_VAL_UNCHANGED &&
            !(ev->before && ev->before[c].state == CDC_VAL_PRESENT))
            n++;
    if (n == 0)
        return 0;
    if (!ice_kidx_get(t->kidx, key->data, key->len, &efile, &epos) || t->reader == NULL)
        return 0;       /* put_column refuses it, naming the column */
    path = t->paths[efile];
    if (t->wuri && strcmp(path, t->wuri) == 0)
        return cdc_err_set(err, CDC_E_QUEUE_FULL, "table %s: an unchanged TOAST value's row "
                           "is in the batch being filled: it is committed first", t->src);
    for (int i = 0; i < t->nfiles; i++)
        if (strcmp(path, t->files[i].uri) == 0)
            return cdc_err_set(err, CDC_E_QUEUE_FULL, "table %s: an unchanged TOAST value's "
                               "row is in the batch being filled: it is committed first", t->src);
    ids = cdc_xcalloc((size_t) n, sizeof(*ids));
    cols = cdc_xcalloc((size_t) n, sizeof(*cols));
    lists = cdc_xcalloc((size_t) n, sizeof(*lists));
    vals = cdc_xcalloc((size_t) n, sizeof(*vals));
    n = 0;
    for (int c = 0; c < rel->ncols; c++) {
        const ice_field *f;

        if (ev->after[c].state != CDC_VAL_UNCHANGED ||
            (ev->before && ev->before[c].state == CDC_VAL_PRESENT))
            continue;
        if ((f = ice_schema_find(t->schema, rel->cols[c].name)) == NULL)
            continue;
        if (f->type.kind == ICE_LIST)
            lists[nl++] = c;
        else {
            ids[n] = f->id;
            cols[n++] = c;
        }
    }
    if (t->nfill < rel->ncols) {
        t->fill = cdc_xrealloc(t->fill, (size_t) rel->ncols * sizeof(*t->fill));
        t->fill_has = cdc_xrealloc(t->fill_has, (size_t) rel->ncols * sizeof(bool));
        t->fill_list = cdc_xrealloc(t->fill_list, (size_t) rel->ncols * sizeof(*t->fill_list));
        memset(t->fill_list + t->nfill, 0, (size_t) (rel->ncols - t->nfill) *
               sizeof(*t->fill_list));
        t->nfill = rel->ncols;
    }
    memset(t->fill_has, 0, (size_t) t->nfill * sizeof(bool));
    rc = n == 0 ? 0 : t->reader(t->reader_arg, t, path, epos, ids, n, vals, &t->fill_mem, err);
    for (int i = 0; rc == 0 && i < nl && t->list_reader; i++) {
        struct ice_fill_list *fl = &t->fill_list[lists[i]];

        free(fl->elems);
        fl->elems = NULL;
        fl->n = 0;
        rc = t->list_reader(t->reader_arg, t, path, epos,
                            ice_schema_find(t->schema, rel->cols[lists[i]].name)->id,
                            &fl->null, &fl->elems, &fl->n, &fl->mem, err);
        if (rc == 0)
            t->fill_has[lists[i]] = true;
    }
    if (rc == 0) {
        for (int i = 0; i < n; i++) {
            t->fill[cols[i]] = vals[i];
            t->fill_has[cols[i]] = true;
        }
    } else {
        memset(t->fill_has, 0, (size_t) t->nfill * sizeof(bool));
    }
    if (rc < 0 && err->code != CDC_E_QUEUE_FULL)
        cdc_err_wrap(err, "table %s: reading the current row for an unchanged TOAST value",
                     t->src);
    free(ids);
    free(cols);
    free(lists);
    free(vals);
    return rc;
}

int
ice_tbl_upsert(ice_tbl *t, const cdc_event *ev, const char *topic, parquet_codec codec,
               cdc_err *err)
{
    cdc_buf key = CDC_BUF_INIT;
    bool    had = false, toast = false;
    int32_t of = 0;
    int64_t op = 0;
    int     rc;

    if (t->kidx == NULL)
        t->kidx = ice_kidx_new();
    if (ev->op == CDC_OP_DELETE) {
        rc = row_key(t, ev->rel, ev->before ? ev->before : ev->key, &key, err);
        if (rc == 0)
            ice_kidx_del(t->kidx, key.data, key.len, &had, &of, &op);
    } else {
        rc = row_key(t, ev->rel, ev->after, &key, err);
        if (rc == 0)
            rc = fill_unchanged(t, ev, &key, err);
        if (rc == 0)
            rc = ice_tbl_put_row(t, ev, ev->after, topic, codec, &toast, err);
        if (t->fill_has)
            memset(t->fill_has, 0, (size_t) t->nfill * sizeof(bool));
        if (rc == 0)
            ice_kidx_set(t->kidx, key.data, key.len, t->cur_path, parquet_rows(t->w) - 1, &had,
                     &of, &op);
    }
    cdc_buf_free(&key);
    if (rc == 0 && had)
        rc = delete_at(t, of, op, err);
    return rc;
}

