/*
 * verify against an iceberg sink: each captured table's Iceberg table is
 * loaded through the sink's catalog and warehouse (sinks/iceberg/ice_open.h,
 * opened as the sink opens them, without its write probe), its live rows
 * read with ice_scan_rows() (data files minus position deletes, as
 * pyiceberg reads them), and compared with the source key by key.
 *
 * Values are compared as Iceberg values: a source value's text (a plain
 * SELECT, under the agent's session settings) goes through the agent's own
 * path, pgo_value_from_text() then ice_value_from_cdc() with the Iceberg
 * field's type, exactly as the sink converts a change; a value read from the
 * table comes typed by the table's current schema.  Both are then turned
 * into their single-value serialization (ice_value_bound), and equal bytes
 * mean equal values.
 *
 * upsert: the live rows are the table; a key held twice is reported.
 * append: the rows are changes; the state of a key is its row with the
 * highest (_cdc_lsn, _cdc_offset), gone when that row is a delete (_cdc_op
 * "d").  A row whose (_cdc_lsn, _cdc_offset, _cdc_op, key) repeats is a
 * change written twice and is reported as a duplicate.  The key takes part
 * because snapshot rows share one position and a key change writes "d" of
 * the old key and "c" of the new one at the same offset.
 *
 * An append table without a key is a multiset of rows: c and r add one, d
 * removes one (its before image is the whole row under REPLICA IDENTITY
 * FULL); a table holding u rows cannot be replayed (no before image) and is
 * not compared.  An upsert table always has a key (the sink refuses others).
 *
 * The table's state is held in memory, compactly (struct vtab); the source
 * is streamed row by row in a repeatable-read read-only transaction.  With
 * key ranges (--ranges, or a large table) the state holds one range at a
 * time: the source's key bounds as verify_pg.c computes them, the Iceberg
 * rows of the range only, data files skipped by their bounds of a
 * single-column key (struct vranges).
 *
 * This file holds one table (loading, mapping its columns) and the
 * comparison; verify_iceberg_int.h lists the others.
 */
#include "agent/cmd/verify_int.h"
#include "agent/cmd/verify.h"
#include "agent/cmd/verify_iceberg_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/core/cdc_arena.h"
#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_mem.h"
#include "agent/core/net/pgconn.h"
#include "agent/pipeline/dest_registry.h"
#include "agent/source/pg_source.h"
#include "decoder/pgtype.h"
#include "decoder/values.h"
#include "sinks/iceberg/ice_commit.h"
#include "sinks/iceberg/ice_open.h"
#include "sinks/iceberg/ice_scan.h"
#include "sinks/iceberg/ice_table.h"
#include "sinks/iceberg/ice_value.h"

/* ---------------------------------------------------------------- one table */

/* Maps the source's columns to the table's fields; what cannot be compared goes to the note. */
static int
map_columns(vtab *v, cdc_buf *note)
{
    const cdc_rel *rel = v->rel;

    v->cols = cdc_xcalloc((size_t) rel->ncols + 1, sizeof(*v->cols));
    /* Key columns first, in key order, then the others in table order. */
    for (int kp = 1; kp <= rel->nkeys + 1; kp++)
        for (int c = 0; c < rel->ncols; c++) {
            const cdc_col   *col = &rel->cols[c];
            bool             key = kp <= rel->nkeys;
            const ice_field *f;

            if (key ? col->key_pos != kp : col->key_pos != 0 || !col->ctype.supported)
                continue;
            f = ice_schema_find(v->s, col->name);
            if (f == NULL) {
                cdc_buf_printf(note, "%scolumn %s is not in the Iceberg table",
                               note->len ? "; " : "", col->name);
                v->nmissing++;
                if (key)
                    return -1;
                continue;
            }
            if (f->type.kind == ICE_LIST && !key) {
                cdc_buf_printf(note, "%scolumn %s (a list) is not compared",
                               note->len ? "; " : "", col->name);
                continue;
            }
            v->cols[v->ncols].rc = c;
            v->cols[v->ncols++].f = f;
            v->nkeys += key;
        }
    return 0;
}

/* The table's name in the catalog, as the sink names it. */
static void
table_ident(const verify_ctx *vc, const cdc_rel *rel, verify_table *t, char *ns, size_t nssz,
            char *name, size_t namesz)
{
    const cfg_iceberg *ic = &vc->sink->iceberg;

    snprintf(ns, nssz, "%s", ic->table_namespace && *ic->table_namespace
             ? ic->table_namespace : "default");
    if (ic->table_name && *ic->table_name)
        snprintf(name, namesz, "%s", ic->table_name);
    else
        snprintf(name, namesz, "%s_%s", rel->nspname, rel->relname);
    snprintf(t->dest_name, sizeof(t->dest_name), "%s.%s", ns, name);
}

/*
 * Loads rel's Iceberg table into *m and notes which snapshot and position it is at.
 * @returns 0 (*m NULL: the table does not exist, t->note says so), -1 with err set.
 */
static int
load_table(verify_ctx *vc, ice_cat *cat, ice_store *st, const cdc_rel *rel, verify_table *t,
           ice_meta **m, cdc_err *err)
{
    char                ns[200], name[300];
    ice_cat_ident       id = { ns, name };
    char               *loc = NULL;
    const ice_snapshot *snap;
    const char         *pos;
    int                 lr;

    *m = NULL;
    t->snapshot_id = -1;
    table_ident(vc, rel, t, ns, sizeof(ns), name, sizeof(name));
    lr = ice_commit_load(cat, st, &id, m, &loc, err);
    free(loc);
    if (lr == ICE_CAT_NOT_FOUND) {
        *m = NULL;
        snprintf(t->note, sizeof(t->note), "the Iceberg table %s does not exist", t->dest_name);
        return 0;
    }
    if (lr != ICE_CAT_OK)
        return cdc_err_wrap(err, "sink %s: loading Iceberg table %s", vc->sink->sink_id,
                            t->dest_name);
    if ((snap = ice_meta_current(*m)) != NULL)
        t->snapshot_id = snap->id;
    if ((pos = verify_ice_meta_position(*m, vc->cfg->pipeline.pipeline_id)) != NULL)
        snprintf(t->position, sizeof(t->position), "%s", pos);
    return 0;
}

/* The field ids to scan: the compared columns, then append's _cdc_lsn, _cdc_offset, _cdc_op. */
static int
scan_ids(const verify_ctx *vc, vtab *v, cdc_err *err)
{
    static const char *const meta[] = { "_cdc_lsn", "_cdc_offset", "_cdc_op" };

    v->nids = v->ncols + (v->append ? 3 : 0);
    v->ids = cdc_xcalloc((size_t) v->nids + 1, sizeof(*v->ids));
    for (int i = 0; i < v->ncols; i++)
        v->ids[i] = v->cols[i].f->id;
    for (int i = 0; v->append && i < 3; i++) {
        const ice_field *f = ice_schema_find(v->s, meta[i]);

        if (f == NULL)
            return cdc_err_set(err, CDC_E_STATE, "Iceberg table %s has no column %s: was it "
                               "written in upsert mode? (sink %s has write_mode append)",
                               v->t->dest_name, meta[i], vc->sink->sink_id);
        v->ids[v->ncols + i] = f->id;
    }
    return 0;
}

static void
vtab_clear(vtab *v)
{
    json_decref(v->state);
    json_decref(v->dupn);
    json_decref(v->seen);
    verify_ice_vranges_free(v->rg);
    free(v->cols);
    free(v->ids);
    cdc_buf_free(&v->kb);
    cdc_buf_free(&v->cb);
    cdc_buf_free(&v->tmp);
}

/* ------------------------------------------------------------- comparing */

/* Reads the table's live rows (of the range being compared) into the state, then streams the
   source's rows of the range against it; what is left is extra.  Frees the state after. */
static int
compare_range(verify_ctx *vc, ice_store *st, const ice_meta *m, vtab *v, cdc_buf *note,
              cdc_err *err)
{
    verify_table *t = v->t;
    int64_t       before = t->keys_differing;
    int           rc;

    v->state = json_object();
    v->seen = json_object();
    v->dupn = json_object();
    if (v->rg == NULL) {
        rc = ice_scan_rows(st, m, v->ids, v->nids, verify_ice_scan_row, v, NULL, err);
    } else {
        int          nf;
        const char **fs = verify_ice_range_files(v, &nf);

        v->rg->files_read += nf;
        rc = ice_scan_rows_in(st, m, fs, nf, v->ids, v->nids, verify_ice_scan_row, v, NULL, err);
        free(fs);
    }
    if (rc < 0)
        return cdc_err_wrap(err, "sink %s: reading Iceberg table %s", vc->sink->sink_id,
                            t->dest_name);
    if (v->updates > 0) {
        cdc_buf_printf(note, "%sthe table has no key and %lld of its %lld change rows are "
                       "updates, which hold no before image: its rows cannot be replayed, "
                       "not compared", note->len ? "; " : "", (long long) v->updates,
                       (long long) v->rows);
        t->method = NULL;
        t->dst_rows = v->rows;
        return verify_ice_count_source(vc, v->rel, t, err);
    }
    if (v->nkeys > 0 && v->append)
        verify_ice_drop_deleted(v->state);
    t->dst_rows += v->nkeys > 0 ? (int64_t) json_object_size(v->state)
                                : verify_ice_multiset_rows(v->state);
    if (verify_ice_source_rows(vc, v, err) < 0)
        return -1;
    verify_ice_extras(v);
    if (v->rg != NULL && t->keys_differing > before) {
        t->ranges_differing++;
        verify_ice_range_text(v, &v->rg->differing);
    }
    json_decref(v->state);
    json_decref(v->seen);
    json_decref(v->dupn);
    v->state = v->seen = v->dupn = NULL;
    return 0;
}

/* The table against the source, in one pass or range by range, in one source snapshot. */
static int
compare_rows(verify_ctx *vc, ice_store *st, const ice_meta *m, vtab *v, cdc_buf *note,
             cdc_err *err)
{
    verify_table *t = v->t;
    vranges      *rg;
    cdc_err       ignored;
    int           rc;

    if (verify_ice_source_begin(vc, v, err) < 0)
        return -1;
    rc = verify_ice_plan_ranges(vc, st, m, v, note, err);
    rg = v->rg;
    for (int r = 0; rc == 0 && r <= (rg ? rg->nb : 0); r++) {
        if (rg)
            rg->cur = r;
        rc = compare_range(vc, st, m, v, note, err);
        if (t->method == NULL)
            break;      /* not compared (no key, updates): the note says why */
    }
    agent_pg_exec(vc->src, "COMMIT", "verify", &ignored);
    if (rc < 0 || t->method == NULL)
        return rc;
    if (v->append)
        cdc_buf_printf(note, "%sappend table: %lld change rows replayed %s%s",
                       note->len ? "; " : "", (long long) v->rows, v->nkeys > 0
                       ? "by key (highest _cdc_lsn, _cdc_offset)"
                       : "as a multiset (c and r add a row, d removes one)",
                       v->dups ? ", some written twice" : "");
    if (rg != NULL) {
        cdc_buf_printf(note, "%s%d key ranges; data files read per range: %.1f of %d on "
                       "average (%s)", note->len ? "; " : "", rg->nb + 1,
                       (double) rg->files_read / (rg->nb + 1), rg->nfiles, rg->by_files
                       ? "skipped by their bounds of the key" : "every file: a key of several "
                       "columns");
        if (rg->differing.len)
            cdc_buf_printf(note, "; ranges differing: %s", cdc_buf_str(&rg->differing));
    }
    t->equal = t->keys_differing == 0 && v->nmissing == 0;
    return 0;
}

static int
compare_table(verify_ctx *vc, ice_cat *cat, ice_store *st, const cdc_rel *rel, verify_table *t,
              cdc_err *err)
{
    const cfg_iceberg *ic = &vc->sink->iceberg;
    ice_meta          *m = NULL;
    vtab               v = { .rel = rel, .t = t };
    cdc_buf            note = CDC_BUF_INIT;
    int                rc = -1;

    v.append = !(ic->write_mode && strcmp(ic->write_mode, "upsert") == 0);
    verify_key_names(rel, t->keycols, sizeof(t->keycols));
    if (load_table(vc, cat, st, rel, t, &m, err) < 0)
        return -1;
    if (m == NULL)
        return 0;
    v.s = ice_meta_schema(m, m->current_schema_id);
    if (v.s == NULL) {
        cdc_err_set(err, CDC_E_STATE, "Iceberg table %s: its metadata has no current schema",
                    t->dest_name);
    } else if (rel->nkeys == 0 && !v.append) {
        cdc_buf_puts(&note, "the table has no key (an upsert table needs one)");
        rc = 0;
    } else if (map_columns(&v, &note) < 0) {
        rc = 0;     /* a key column is missing: the note says which */
    } else if (scan_ids(vc, &v, err) == 0) {
        t->method = rel->nkeys > 0 ? "keys" : "multiset";
        rc = compare_rows(vc, st, m, &v, &note, err);
    }
    snprintf(t->note, sizeof(t->note), "%s", cdc_buf_str(&note));
    vtab_clear(&v);
    cdc_buf_free(&note);
    ice_meta_free(m);
    return rc;
}

int
verify_iceberg_tables(verify_ctx *vc, cdc_rel *const *rels, int n, verify_table *ts,
                      cdc_err *err)
{
    const cfg_iceberg *ic = &vc->sink->iceberg;
    dest_iceberg_conf  c;
    char              *wh = cdc_xstrdup(ic->warehouse ? ic->warehouse : "");
    size_t             wn = strlen(wh);
    ice_store         *st = NULL;
    ice_cat           *cat = NULL;
    cdc_aws_provider  *aws = NULL;
    int                rc = -1;

    agent_iceberg_conf(vc->sink, NULL, &c);
    while (wn > 0 && wh[wn - 1] == '/')
        wh[--wn] = '\0';
    if (ice_open_store(&c, wh, NULL, &st, &aws, err) < 0 ||
        ice_open_catalog(&c, wh, &cat, err) < 0) {
        cdc_err_wrap(err, "sink %s", vc->sink->sink_id);
        goto out;
    }
    for (int i = 0; i < n; i++)
        if (compare_table(vc, cat, st, rels[i], &ts[i], err) < 0)
            goto out;
    rc = 0;
out:
    ice_cat_close(cat);
    ice_store_free(st);
    cdc_aws_provider_free(aws);
    free(wh);
    return rc;
}
