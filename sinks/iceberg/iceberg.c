#include "sinks/iceberg/iceberg.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"
#include "agent/core/dest/status.h"
#include "agent/core/net/aws_creds.h"
#include "schemas/topic.h"
#include "sinks/iceberg/ice_commit.h"
#include "sinks/iceberg/ice_compact.h"
#include "sinks/iceberg/ice_due.h"
#include "sinks/iceberg/ice_meta.h"
#include "sinks/iceberg/ice_open.h"
#include "sinks/iceberg/ice_scan.h"
#include "sinks/iceberg/ice_table.h"
#include "sinks/iceberg/ice_worker.h"

#define ICE_FAC "iceberg"

typedef struct iceberg {
    char             *label;
    char             *sink_id;
    char             *pipeline_id;
    char             *ns;
    char             *table_name;       /* NULL: <schema>_<table> */
    char             *warehouse;        /* no trailing '/' */
    char             *prefix;
    char            **partition_by;
    int               npartition_by;
    bool              append;
    bool              auto_create;
    int               batch_size;
    int64_t           flush_ms;
    dest_dlq         *dlq;
    cdc_aws_provider *aws;
    ice_worker       *wk;
    dest_status       st;

    ice_tbl         **tbls;
    int               ntbls;

    int64_t           rows;             /* rows in the batch being filled */
    int64_t           first_ms;         /* when its first row came */
    cdc_pos           last;             /* the newest position given to us */
    bool              at_boundary;      /* last is a transaction's end */
    cdc_pos           durable;
    bool              truncate_warned;

    uint64_t          nrows, nskipped, ndead;
} iceberg;

/* ---------------------------------------------------------------- tables */

static ice_tbl *
tbl_find(iceberg *ib, const char *name)
{
    for (int i = 0; i < ib->ntbls; i++)
        if (strcmp(ib->tbls[i]->name, name) == 0)
            return ib->tbls[i];
    return NULL;
}

static ice_tbl *
tbl_add(iceberg *ib, const char *name, const char *location)
{
    ice_tbl *t = ice_tbl_new(name, location);

    ib->tbls = cdc_xrealloc(ib->tbls, (size_t) (ib->ntbls + 1) * sizeof(*ib->tbls));
    ib->tbls[ib->ntbls++] = t;
    return t;
}

/* The position this pipeline's newest snapshot recorded, walking back from the current one
   through its parents (a maintenance job's snapshot carries none). */
static bool
meta_position(const ice_meta *m, const char *pipeline_id, cdc_pos *out)
{
    const ice_snapshot *s = ice_meta_current(m);

    for (int guard = 0; s != NULL && guard <= m->nsnapshots; guard++) {
        const char *pid = ice_snapshot_get(s, "cdc.pipeline");
        const char *pos = ice_snapshot_get(s, "cdc.position");
        int64_t     parent = s->parent_id;

        if (pid && pos && strcmp(pid, pipeline_id) == 0 && ice_pos_parse(pos, out) == 0)
            return true;
        s = NULL;
        for (int i = 0; i < m->nsnapshots && parent >= 0; i++)
            if (m->snapshots[i].id == parent)
                s = &m->snapshots[i];
    }
    return false;
}

/*
 * After a rollback (cdcagent lakehouse rollback, or any other tool moving the main branch
 * back), the table's history holds a snapshot of this pipeline at a NEWER position than its
 * current branch: its changes were made durable and acknowledged (the slot is confirmed past
 * them, or will be by the time anyone looks), so PostgreSQL never sends them again.  Resuming
 * from the older position would leave them out of the table for good, silently.  So the sink
 * refuses to start on such a table, naming both snapshots and positions and the two ways out:
 * roll forward to the newer snapshot, or re-snapshot the table.  Snapshots expired since the
 * rollback can no longer be seen: the rule holds while they are in the metadata.
 * @returns 0, or -1 with err set (CDC_E_STATE).
 */
static int
check_rolled_back(const iceberg *ib, const ice_meta *m, const char *name, bool have_pos,
                  cdc_pos cur, cdc_err *err)
{
    const ice_snapshot *newest = NULL;
    cdc_pos             np = { 0, 0 };
    char                a[64], b[64];

    for (int i = 0; i < m->nsnapshots; i++) {
        const char *pid = ice_snapshot_get(&m->snapshots[i], "cdc.pipeline");
        const char *pos = ice_snapshot_get(&m->snapshots[i], "cdc.position");
        cdc_pos     p;

        if (pid && pos && strcmp(pid, ib->pipeline_id) == 0 && ice_pos_parse(pos, &p) == 0 &&
            (newest == NULL || cdc_pos_cmp(p, np) > 0)) {
            newest = &m->snapshots[i];
            np = p;
        }
    }
    if (newest == NULL || (have_pos && cdc_pos_cmp(np, cur) <= 0))
        return 0;
    ice_pos_format(np, b, sizeof(b));
    if (have_pos)
        ice_pos_format(cur, a, sizeof(a));
    else
        snprintf(a, sizeof(a), "none");
    return cdc_err_set(err, CDC_E_STATE, "%s: Iceberg table %s.%s was rolled back to snapshot "
                       "%" PRId64 " (up to %s), behind snapshot %" PRId64 " (up to %s) of this "
                       "pipeline: those changes were acknowledged and are not sent again, so "
                       "the sink does not resume it; roll forward (lakehouse rollback "
                       "--snapshot-id %" PRId64 " --yes) or re-snapshot the table "
                       "(docs/lakehouse.md)", ib->label, ib->ns, name, m->current_snapshot_id, a,
                       newest->id, b, newest->id);
}

/* ---------------------------------------------------------------- upsert's index */

typedef struct rebuild {
    ice_tbl          *t;
    const ice_schema *s;
    cdc_buf           key;
    int64_t           dups;
} rebuild;

static int
rebuild_row(void *arg, const char *file, int64_t pos, const ice_value *vals, cdc_err *err)
{
    rebuild *rb = arg;

    rb->key.len = 0;
    for (int i = 0; i < rb->s->nident; i++) {
        const ice_field *f = ice_schema_find_id(rb->s, rb->s->ident_ids[i]);

        if (vals[i].null)
            return cdc_err_set(err, CDC_E_STATE, "%s row %lld: identifier field \"%s\" is "
                               "null", file, (long long) pos, f ? f->name : "?");
        ice_key_put(&rb->key, &f->type, &vals[i]);
    }
    if (cdc_buf_failed(&rb->key))
        return cdc_err_set(err, CDC_E_NOMEM, "key index: out of memory");
    rb->dups += ice_tbl_index_put(rb->t, rb->key.data, rb->key.len, file, pos);
    return 0;
}

/* ice_scan_data_files: the partition tuple of each data file the key index points into
   (O(data files x indexed files), a linear search like ice_tbl_path's: a table of many
   thousand files makes the start slow). */
static int
rebuild_tuple(void *arg, const char *path, int32_t spec_id, const ice_value *partition,
              int npart, cdc_err *err)
{
    ice_tbl *t = arg;

    for (int i = 0; i < t->npaths; i++) {
        if (strcmp(t->paths[i], path) != 0)
            continue;
        if (spec_id != t->spec->spec_id || npart != t->spec->nfields)
            return cdc_err_set(err, CDC_E_UNSUPPORTED, "data file %s is of partition spec %d, "
                               "not the table's default spec %d: upsert deletes rows only in "
                               "files of the default spec (rewrite the table's files first)",
                               path, (int) spec_id, (int) t->spec->spec_id);
        ice_tbl_path_tuple(t, i, partition);
        return 0;
    }
    return 0;
}

/* Upsert: the key index of table t from the live rows of its current snapshot. */
static int
rebuild_index(iceberg *ib, ice_store *st, const ice_meta *m, ice_tbl *t, cdc_err *err)
{
    rebuild        rb = { .t = t, .s = t->schema, .key = CDC_BUF_INIT };
    ice_scan_stats stats = { 0 };
    int64_t        t0 = cdc_mono_ms();
    int            rc;

    if (ice_meta_current(m) == NULL)
        return 0;
    if (t->schema->nident == 0)
        return cdc_err_set(err, CDC_E_CONFIG, "Iceberg table %s.%s has no identifier fields "
                           "(was it written in append mode?): write_mode upsert needs the "
                           "primary key as its identifier fields", ib->ns, t->name);
    rc = ice_scan_rows(st, m, t->schema->ident_ids, t->schema->nident, rebuild_row, &rb, &stats,
                       err);
    if (rc == 0 && t->spec != NULL && t->spec->nfields > 0)
        rc = ice_scan_data_files(st, m, rebuild_tuple, t, err);
    cdc_buf_free(&rb.key);
    if (rc < 0)
        return cdc_err_wrap(err, "rebuilding the key index of %s.%s", ib->ns, t->name);
    log_info(ICE_FAC, "%s: table %s.%s: key index rebuilt, %lld keys from %lld data files "
             "(%lld rows deleted by %lld position-delete files) in %lld ms", ib->label, ib->ns,
             t->name, (long long) ice_tbl_keys(t), (long long) stats.data_files,
             (long long) stats.deleted, (long long) stats.delete_files,
             (long long) (cdc_mono_ms() - t0));
    if (rb.dups > 0)
        log_warn(ICE_FAC, "%s: table %s.%s holds %lld key(s) more than once; the index keeps "
                 "the last one scanned, updates delete only that one", ib->label, ib->ns, t->name,
                 (long long) rb.dups);
    return 0;
}

/* ---------------------------------------------------------------- orphans */

typedef struct orphans {
    char  **known;      /* sorted */
    size_t  nknown;
    int64_t n, bytes;
    char    first[3][400];
} orphans;

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static int
orphan_cb(void *arg, const char *uri, int64_t size)
{
    orphans *o = arg;

    if (bsearch(&uri, o->known, o->nknown, sizeof(char *), cmp_str) != NULL)
        return 0;
    if (o->n < 3)
        snprintf(o->first[o->n], sizeof(o->first[0]), "%s", uri);
    o->n++;
    o->bytes += size > 0 ? size : 0;
    return 0;
}

/*
 * Reports the files under the table's data/ that its current snapshot does not reference
 * (an interrupted commit's uploads) and interrupted uploads: logged, never referenced, not
 * removed (another writer's commit may be in progress).
 */
static void
report_orphans(iceberg *ib, ice_store *st, const ice_meta *m, const char *name)
{
    const ice_snapshot *cur = ice_meta_current(m);
    orphans             o = { 0 };
    cdc_buf             b = CDC_BUF_INIT;
    ice_manifest_file  *mfs = NULL;
    int                 nmf = 0;
    char                prefix[1200];
    cdc_err             err = { 0 };

    snprintf(prefix, sizeof(prefix), "%s/data/", m->location);
    if (cur != NULL) {
        if (ice_store_get(st, cur->manifest_list, 0, -1, &b, 0, &err) != 0 ||
            ice_manifest_list_read(b.data, b.len, cur->manifest_list, &mfs, &nmf, &err) < 0)
            goto out;
        for (int i = 0; i < nmf; i++) {
            ice_read_entry *e = NULL;
            int             ne = 0;

            b.len = 0;
            if (ice_store_get(st, mfs[i].path, 0, -1, &b, 0, &err) != 0 ||
                ice_manifest_read(b.data, b.len, mfs[i].path, &mfs[i], NULL, 0, &e, &ne,
                                  &err) < 0)
                goto out;
            o.known = cdc_xrealloc(o.known, (o.nknown + (size_t) ne + 1) * sizeof(char *));
            for (int k = 0; k < ne; k++)
                o.known[o.nknown++] = cdc_xstrdup(e[k].path);
            ice_read_entries_free(e, ne);
        }
    }
    if (o.nknown > 0)
        qsort(o.known, o.nknown, sizeof(char *), cmp_str);
    if (ice_store_list(st, prefix, orphan_cb, &o, &err) < 0 ||
        ice_store_incomplete(st, prefix, false, orphan_cb, &o, &err) < 0)
        goto out;
    if (o.n > 0)
        log_warn(ICE_FAC, "%s: table %s.%s: %lld file(s) (%lld bytes) under %s are not in the "
                 "table: left by an interrupted commit or upload, never referenced; safe to "
                 "remove once no writer is committing (e.g. %s%s%s%s%s)", ib->label, ib->ns, name,
                 (long long) o.n, (long long) o.bytes, prefix, o.first[0],
                 o.n > 1 ? ", " : "", o.n > 1 ? o.first[1] : "", o.n > 2 ? ", " : "",
                 o.n > 2 ? o.first[2] : "");
out:
    if (err.msg[0])
        log_warn(ICE_FAC, "%s: table %s.%s: could not look for orphan files: %s", ib->label,
                 ib->ns, name, err.msg);
    for (size_t i = 0; i < o.nknown; i++)
        free(o.known[i]);
    free(o.known);
    ice_manifest_files_free(mfs, nmf);
    cdc_buf_free(&b);
}

/* Loads table `name` as it is now: its schema, ids and position.  Missing is fine. */
static int
load_table(iceberg *ib, ice_cat *cat, ice_store *st, const char *name, cdc_err *err)
{
    ice_cat_ident     id = { ib->ns, name };
    ice_meta         *m = NULL;
    char             *loc = NULL;
    const ice_schema *cur;
    ice_tbl          *t;
    int               rc;
    char              pos[64];

    rc = ice_commit_load(cat, st, &id, &m, &loc, err);
    if (rc == ICE_CAT_NOT_FOUND) {
        cdc_err_clear(err);     /* the first commit creates it */
        return 0;
    }
    if (rc != ICE_CAT_OK)
        return cdc_err_wrap(err, "loading Iceberg table %s.%s", ib->ns, name);
    free(loc);
    cur = ice_meta_schema(m, m->current_schema_id);
    if (cur == NULL) {
        ice_meta_free(m);
        return cdc_err_set(err, CDC_E_STATE, "Iceberg table %s.%s: its metadata has no "
                           "current schema", ib->ns, name);
    }
    t = tbl_add(ib, name, m->location);
    t->exists = true;
    t->schema = ice_schema_dup(cur);
    {
        const ice_spec *sp = ice_meta_spec(m, m->default_spec_id);

        if (sp && sp->nfields > 0)
            t->spec = ice_spec_dup(sp);
    }
    t->last_column_id = m->last_column_id;
    for (int i = 0; i < m->nschemas; i++)
        if (m->schemas[i]->schema_id >= t->next_schema_id)
            t->next_schema_id = m->schemas[i]->schema_id + 1;
    t->foreign = !meta_position(m, ib->pipeline_id, &t->pos);
    if (check_rolled_back(ib, m, name, !t->foreign, t->pos, err) < 0) {
        ice_meta_free(m);
        return -1;
    }
    report_orphans(ib, st, m, name);
    if (!ib->append && rebuild_index(ib, st, m, t, err) < 0) {
        ice_meta_free(m);
        return -1;
    }
    if (!t->foreign) {
        ice_pos_format(t->pos, pos, sizeof(pos));
        log_info(ICE_FAC, "%s: table %s.%s holds changes up to %s", ib->label, ib->ns, name, pos);
    }
    ice_meta_free(m);
    return 0;
}

static int
list_cb(void *ud, const char *name)
{
    char ***names = ud;
    size_t  n = 0;

    while (*names && (*names)[n])
        n++;
    *names = cdc_xrealloc(*names, (n + 2) * sizeof(char *));
    (*names)[n] = cdc_xstrdup(name);
    (*names)[n + 1] = NULL;
    return 0;
}

static int
load_tables(iceberg *ib, ice_cat *cat, ice_store *st, cdc_err *err)
{
    char **names = NULL;
    int    rc = 0;

    if (ib->table_name)
        return load_table(ib, cat, st, ib->table_name, err);
    if (ice_cat_list(cat, ib->ns, list_cb, &names, err) != ICE_CAT_OK)
        return cdc_err_wrap(err, "listing namespace %s", ib->ns);
    for (size_t i = 0; names && names[i]; i++) {
        if (rc == 0)
            rc = load_table(ib, cat, st, names[i], err);
        free(names[i]);
    }
    free(names);
    return rc;
}

static int
read_row(void *arg, const ice_tbl *t, const char *file, int64_t pos, const int32_t *ids, int n,
         ice_value *out, cdc_buf *mem, cdc_err *err)
{
    iceberg *ib = arg;

    return ice_worker_read_row(ib->wk, ib->ns, t->name, file, pos, ids, n, out, mem, err);
}

static int
read_list(void *arg, const ice_tbl *t, const char *file, int64_t pos, int32_t field_id,
          bool *is_null, ice_value **elems, size_t *nelems, cdc_buf *mem, cdc_err *err)
{
    iceberg *ib = arg;

    return ice_worker_read_list(ib->wk, ib->ns, t->name, file, pos, field_id, is_null, elems,
                                nelems, mem, err);
}

/* The table of ev's relation, its schema following the relation's version. */
static ice_tbl *
tbl_for(iceberg *ib, const cdc_rel *rel, cdc_err *err)
{
    char     name[300];
    ice_tbl *t = NULL;

    for (int i = 0; i < ib->ntbls; i++)
        if (ib->tbls[i]->have_rel && ib->tbls[i]->relid == rel->relid) {
            t = ib->tbls[i];
            break;
        }
    if (t == NULL) {
        if (ib->table_name)
            snprintf(name, sizeof(name), "%s", ib->table_name);
        else
            snprintf(name, sizeof(name), "%s_%s", rel->nspname ? rel->nspname : "",
                     rel->relname ? rel->relname : "");
        t = tbl_find(ib, name);
        if (t == NULL) {
            char loc[1200];

            snprintf(loc, sizeof(loc), "%s/%s.db/%s", ib->warehouse, ib->ns, name);
            t = tbl_add(ib, name, loc);
        } else if (t->have_rel && ib->table_name) {
            cdc_err_set(err, CDC_E_CONFIG, "table_name %s is set, but a second table (%s.%s) "
                        "is captured: leave table_name out to get one Iceberg table per "
                        "source table", ib->table_name, rel->nspname, rel->relname);
            return NULL;
        }
    } else if (t->rel_version == rel->version) {
        return t;
    }
    t->reader = read_row;
    t->list_reader = read_list;
    t->reader_arg = ib;
    if (ice_tbl_set_rel(t, rel, ib->append, err) < 0)
        return NULL;
    if (t->spec == NULL && !t->exists && ib->npartition_by > 0) {
        int32_t last_pid = 999;

        t->spec = ice_spec_from_partition_by((const char *const *) ib->partition_by,
                                             ib->npartition_by, t->schema, t->name, 0,
                                             &last_pid, err);
        if (t->spec == NULL)
            return NULL;
    }
    if (t->spec && ice_spec_check(t->spec, t->schema, t->name, err) < 0)
        return NULL;
    return t;
}

/* ---------------------------------------------------------------- batches */

static bool
anything_to_commit(const iceberg *ib)
{
    if (ib->rows > 0)
        return true;
    for (int i = 0; i < ib->ntbls; i++)
        if (ib->tbls[i]->schema_dirty)
            return true;
    return false;
}

/* Closes the batch being filled at ib->last and hands it to the worker.
   @returns 1 when handed over (or nothing to hand), 0 when the worker is busy, -1. */
static int
close_batch(iceberg *ib, cdc_err *err)
{
    ice_batch *b;

    if (!anything_to_commit(ib))
        return 1;
    if (!ice_worker_claim(ib->wk))
        return 0;
    b = cdc_xcalloc(1, sizeof(*b));
    b->pos = ib->last;
    b->t = cdc_xcalloc((size_t) ib->ntbls + 1, sizeof(*b->t));
    for (int i = 0; i < ib->ntbls; i++) {
        ice_tbl    *t = ib->tbls[i];
        ice_wtable *w;

        if (ice_tbl_close_file(t, err) < 0) {
            ice_batch_free(b);
            ice_worker_release(ib->wk);
            return -1;
        }
        if (t->nfiles == 0 && !t->schema_dirty && t->npd == 0)
            continue;
        w = &b->t[b->n++];
        w->name = cdc_xstrdup(t->name);
        w->location = cdc_xstrdup(t->location);
        w->schema = ice_schema_dup(t->schema);
        w->spec = t->spec ? ice_spec_dup(t->spec) : NULL;
        w->is_new = !t->exists;
        w->set_schema = t->schema_dirty && t->exists;
        w->files = t->files;
        w->nfiles = t->nfiles;
        w->rows = t->rows;
        w->pd = t->pd;
        w->pdtuple = t->pdtuple;
        w->npd = t->npd;
        t->pd = NULL;
        t->pdtuple = NULL;
        t->npd = 0;
        t->ndeletes = 0;
        b->rows += t->rows;
        t->files = NULL;
        t->nfiles = 0;
        t->rows = 0;
        t->schema_dirty = false;
        t->exists = true;       /* the worker creates it; from now on it is evolved */
    }
    ib->rows = 0;
    ice_worker_submit(ib->wk, b);
    return 1;
}

/* What ice_batch_due() says of the batch being filled now. */
static ice_due
due(const iceberg *ib)
{
    ice_due_in in = {
        .rows = ib->rows,
        .age_ms = ib->rows > 0 ? cdc_mono_ms() - ib->first_ms : 0,
        .at_txn_end = ib->at_boundary,
        .other_pending = ib->rows == 0 && anything_to_commit(ib),
        .batch_size = ib->batch_size,
        .flush_ms = ib->flush_ms,
    };

    return ice_batch_due(&in);
}

/* Hands the batch over when it is due.  @returns 0 or -1 (fatal). */
static int
maybe_close(iceberg *ib, cdc_err *err)
{
    if (due(ib) == ICE_DUE_WAIT)
        return 0;
    return close_batch(ib, err) < 0 ? -1 : 0;
}

/* A compaction of an upsert table moved rows: the key index and the deletes of the batch
   being filled follow them (ice_compact.h) before the worker takes another batch. */
static int
apply_moves(iceberg *ib, cdc_err *err)
{
    ice_compact_moves *mv;
    char              *name = NULL;

    while ((mv = ice_worker_take_moves(ib->wk, &name)) != NULL) {
        ice_tbl *t = tbl_find(ib, name);
        int64_t  dropped = 0, moved = 0;
        int      rc = 0;

        if (t != NULL) {
            rc = ice_tbl_apply_moves(t, mv, err);
            for (int i = 0; rc == 0 && i < t->npd; i++) {
                int64_t n = 0;

                dropped += ice_compact_moves_posdel(mv, t->pd[i], &n);
                moved += n;
            }
        }
        if (rc == 0)
            log_info(ICE_FAC, "%s: table %s: the key index follows the %" PRId64 " rows the "
                     "compaction moved; %" PRId64 " delete(s) of the batch being filled "
                     "re-pointed, %" PRId64 " dropped (their rows were gone from the table)",
                     ib->label, name, ice_compact_moves_count(mv), moved, dropped);
        ice_compact_moves_free(mv);
        free(name);
        if (rc < 0)
            return cdc_err_wrap(err, "%s: after compacting table %s (the agent rebuilds the "
                                "index from the table when it restarts)", ib->label, t->name);
    }
    return 0;
}

static int
poll_worker(iceberg *ib, cdc_err *err)
{
    cdc_pos p;
    cdc_err e = { 0 };

    if (apply_moves(ib, &e) < 0) {
        if (dest_status_fatal(&ib->st, "%s", e.msg))
            log_error(ICE_FAC, "%s: stopped: %s", ib->label, e.msg);
        return dest_status_check(&ib->st, err);
    }

    if (ice_worker_poll(ib->wk, &p, &e) < 0) {
        if (dest_status_fatal(&ib->st, "%s", e.msg))
            log_error(ICE_FAC, "%s: stopped: %s", ib->label, e.msg);
        return dest_status_check(&ib->st, err);
    }
    if (cdc_pos_cmp(p, ib->durable) > 0)
        ib->durable = p;
    if (!anything_to_commit(ib) && ice_worker_idle(ib->wk) && cdc_pos_cmp(ib->last, ib->durable) > 0)
        ib->durable = ib->last;     /* nothing held back: all we were given is in */
    return 0;
}

static int
fatal(iceberg *ib, cdc_err *err)
{
    if (dest_status_fatal(&ib->st, "%s", err->msg))
        log_error(ICE_FAC, "%s: stopped: %s", ib->label, err->msg);
    err->code = CDC_E_DEST;
    return -1;
}

/* ---------------------------------------------------------------- open */

static void ib_close(cdc_dest *d);

static int
ib_open(cdc_dest *d, const void *conf, const cdc_dest_env *env, cdc_err *err)
{
    const dest_iceberg_conf *c = conf;
    iceberg                 *ib;
    ice_cat                 *cat = NULL;
    ice_store               *st = NULL;
    char                     label[200];
    size_t                   n;

    if (c == NULL)
        return cdc_err_set(err, CDC_E_CONFIG, "iceberg: no configuration");
    ib = cdc_xcalloc(1, sizeof(*ib));
    d->impl = ib;
    ib->sink_id = cdc_xstrdup(d->id ? d->id : "iceberg");
    snprintf(label, sizeof(label), "iceberg sink '%s'", ib->sink_id);
    ib->label = cdc_xstrdup(label);
    dest_status_init(&ib->st, ib->label);
    ib->pipeline_id = cdc_xstrdup(env && env->pipeline_id ? env->pipeline_id : "");
    ib->prefix = cdc_xstrdup(env && env->topic_prefix ? env->topic_prefix : "");
    ib->ns = cdc_xstrdup(c->table_namespace && *c->table_namespace ? c->table_namespace
                                                                     : "default");
    ib->table_name = c->table_name && *c->table_name ? cdc_xstrdup(c->table_name) : NULL;
    ib->warehouse = cdc_xstrdup(c->warehouse ? c->warehouse : "");
    n = strlen(ib->warehouse);
    while (n > 0 && ib->warehouse[n - 1] == '/')
        ib->warehouse[--n] = '\0';
    ib->batch_size = c->batch_size > 0 ? c->batch_size : 1000;
    ib->flush_ms = (int64_t) ((c->flush_interval_s > 0 ? c->flush_interval_s
                                                        : DEST_ICEBERG_DEFAULT_FLUSH_S) * 1000);
    ib->auto_create = c->auto_create_table;
    ib->dlq = c->dlq;
    ib->at_boundary = true;
    if (c->write_mode == NULL || !*c->write_mode || strcmp(c->write_mode, "append") == 0) {
        ib->append = true;
    } else if (strcmp(c->write_mode, "upsert") == 0) {
        ib->append = false;
    } else {
        cdc_err_set(err, CDC_E_CONFIG, "write_mode \"%s\": append or upsert", c->write_mode);
        goto fail;
    }
    ib->partition_by = cdc_xcalloc((size_t) c->npartition_by + 1, sizeof(char *));
    for (int i = 0; i < c->npartition_by; i++)
        ib->partition_by[ib->npartition_by++] = cdc_xstrdup(c->partition_by[i]);
    if (env && env->replay_only) {
        cdc_err_set(err, CDC_E_UNSUPPORTED, "the Iceberg sink cannot replay dead letters");
        goto fail;
    }
    if (ice_open_store(c, ib->warehouse, ib->sink_id, &st, &ib->aws, err) < 0 ||
        ice_open_catalog(c, ib->warehouse, &cat, err) < 0 ||
        load_tables(ib, cat, st, err) < 0)
        goto fail;
    {
        /* expiry looks after this pipeline's tables from the start (those holding its
           position), the others once the sink writes or reads them */
        const char **mine = cdc_xcalloc((size_t) ib->ntbls + 1, sizeof(char *));
        int          nmine = 0;

        for (int i = 0; i < ib->ntbls; i++)
            if (ib->tbls[i]->pos.lsn != 0 || ib->tbls[i]->pos.seq != 0)
                mine[nmine++] = ib->tbls[i]->name;
        ice_worker_conf wc = { .cat = cat, .store = st, .ns = ib->ns,
                               .pipeline_id = ib->pipeline_id, .sink_id = ib->sink_id,
                               .label = ib->label, .auto_create = ib->auto_create,
                               .retry = c->retry, .expire = c->maint_enabled,
                               .expire_interval_s = c->expire_interval_s,
                               .expire_older_than_s = c->expire_older_than_s,
                               .expire_tables = mine, .nexpire_tables = nmine,
                               .compact = c->maint_enabled,
                               .compact_interval_s = c->compact_interval_s,
                               .compact_file_threshold = c->compact_file_threshold,
                               .compact_max_rows = c->compact_max_rows,
                               .compact_moves = !ib->append };

        ib->wk = ice_worker_start(&wc, err);
        free(mine);

        if (ib->wk == NULL) {
            cat = NULL;     /* the worker closed them */
            st = NULL;
            goto fail;
        }
    }
    log_info(ICE_FAC, "%s: %s mode, %s, warehouse %s, namespace %s, %d table(s) known",
             ib->label, ib->append ? "append" : "upsert", cat->what, ib->warehouse, ib->ns,
             ib->ntbls);
    return 0;
fail:
    ice_cat_close(cat);
    ice_store_free(st);
    ib_close(d);
    return -1;
}

static int
ib_resume_from(cdc_dest *d, cdc_pos *last_done, cdc_err *err)
{
    iceberg *ib = d->impl;
    int      held = 0;

    (void) err;
    last_done->lsn = last_done->seq = 0;
    for (int i = 0; i < ib->ntbls; i++) {
        cdc_pos p = ib->tbls[i]->pos;

        if (p.lsn == 0 && p.seq == 0)
            continue;
        if (cdc_pos_cmp(p, d->newest_held) > 0)
            d->newest_held = p;
        held++;
    }
    if (ib->table_name) {
        /* One table: it holds a prefix of the stream. */
        if (ib->ntbls == 1)
            *last_done = ib->tbls[0]->pos;
    } else if (held > 0) {
        /* Tables are committed one after the other: after a crash they may hold different
           positions, and a table that holds nothing may still be missing changes.  write()
           skips per table; the stream is not a prefix. */
        d->held_unordered = true;
    }
    return 0;
}

/* ---------------------------------------------------------------- write */

static int
dead_letter(iceberg *ib, const cdc_event *ev, const char *topic, cdc_err *verr, cdc_err *err)
{
    dest_dlq_rec rec = { .sink_id = ib->sink_id, .topic = topic, .offset = ev->lsn,
                         .pos = ev->pos, .error_type = "iceberg_value",
                         .error_message = verr->msg, .code = verr->code,
                         .where = "sinks/iceberg/iceberg.c:ib_write" };

    if (ib->dlq == NULL) {
        cdc_err_set(err, CDC_E_DEST, "%s: %s (no dead letter queue is configured for this "
                    "sink, so it stops; the slot does not move past this change)", ib->label,
                    verr->msg);
        return fatal(ib, err);
    }
    if (dest_dlq_append(ib->dlq, &rec, err) < 0)
        return fatal(ib, err);
    ib->ndead++;
    log_warn(ICE_FAC, "%s: dead-lettered the change at " CDC_LSN_FMT ": %s", ib->label,
             CDC_LSN_ARGS(ev->lsn), verr->msg);
    return 0;
}

static int
ib_write(cdc_dest *d, const cdc_event *ev, cdc_err *err)
{
    iceberg         *ib = d->impl;
    ice_tbl         *t;
    const cdc_value *image;
    char             topic[300];
    bool             toast = false;
    cdc_err          verr = { 0 };

    if (poll_worker(ib, err) < 0)
        return -1;
    if (ev->rel == NULL || ev->rel->excluded || ev->op == CDC_OP_MESSAGE ||
        ev->op == CDC_OP_TOMBSTONE) {
        if (cdc_pos_cmp(ev->pos, ib->last) > 0)
            ib->last = ev->pos;
        return 0;
    }
    if (ev->op == CDC_OP_TRUNCATE) {
        if (!ib->truncate_warned)
            log_warn(ICE_FAC, "%s: TRUNCATE of %s.%s is not applied to the Iceberg table (and "
                     "is not warned about again)", ib->label, ev->rel->nspname,
                     ev->rel->relname);
        ib->truncate_warned = true;
        if (cdc_pos_cmp(ev->pos, ib->last) > 0)
            ib->last = ev->pos;
        return 0;
    }
    if (due(ib) == ICE_DUE_FULL) {
        /* A transaction too large for one batch: split it here (see iceberg.h). */
        int rc = close_batch(ib, err);

        if (rc < 0)
            return fatal(ib, err);
        if (rc == 0)
            return cdc_err_set(err, CDC_E_QUEUE_FULL, "%s: %" PRId64 " rows wait for the "
                               "commit in progress", ib->label, ib->rows);
    }
    if ((t = tbl_for(ib, ev->rel, err)) == NULL)
        return fatal(ib, err);
    if (cdc_pos_cmp(ev->pos, t->pos) <= 0) {
        ib->nskipped++;
        if (cdc_pos_cmp(ev->pos, ib->last) > 0)
            ib->last = ev->pos;
        return 0;
    }
    image = ev->op == CDC_OP_DELETE ? (ev->before ? ev->before : ev->key) : ev->after;
    if (ev->rel->topic && ev->rel->topic[0])
        snprintf(topic, sizeof(topic), "%s", ev->rel->topic);
    else
        sch_event_topic(ev, ib->prefix, topic, sizeof(topic));
    if ((ib->append ? ice_tbl_put_row(t, ev, image, topic, PARQUET_ZSTD, &toast, &verr)
                    : ice_tbl_upsert(t, ev, topic, PARQUET_ZSTD, &verr)) < 0) {
        if (verr.code == CDC_E_QUEUE_FULL) {
            /* upsert: an unchanged TOAST value whose row is not committed yet (the router
               flushes, which commits it) or a commit in progress: offer it again */
            *err = verr;
            return -1;
        }
        if (verr.code != CDC_E_DECODE) {
            *err = verr;
            return fatal(ib, err);
        }
        if (dead_letter(ib, ev, topic, &verr, err) < 0)
            return -1;
    } else {
        if (toast && !t->toast_warned) {
            log_warn(ICE_FAC, "%s: table %s: an update left a TOASTed column out (unchanged); "
                     "append mode writes null for it (set REPLICA IDENTITY FULL on the source "
                     "table to get the value); not warned about again for this table",
                     ib->label, t->src);
            t->toast_warned = true;
        }
        if (ib->rows == 0)
            ib->first_ms = cdc_mono_ms();
        ib->rows++;
        ib->nrows++;
    }
    if (cdc_pos_cmp(ev->pos, ib->last) > 0)
        ib->last = ev->pos;
    ib->at_boundary = ev->txn == NULL;      /* snapshot rows: every row is a boundary */
    return 0;
}

static int
ib_commit_txn(cdc_dest *d, const cdc_txn *txn, cdc_err *err)
{
    iceberg *ib = d->impl;
    cdc_pos  end = { txn->commit_lsn, CDC_SEQ_END };

    if (cdc_pos_cmp(end, ib->last) > 0)
        ib->last = end;
    ib->at_boundary = true;
    if (maybe_close(ib, err) < 0)
        return fatal(ib, err);
    return 0;
}

static int
ib_progress(cdc_dest *d, cdc_pos *durable, cdc_err *err)
{
    iceberg *ib = d->impl;

    if (dest_status_check(&ib->st, err) < 0 || poll_worker(ib, err) < 0)
        return -1;
    if (maybe_close(ib, err) < 0)
        return fatal(ib, err);
    *durable = ib->durable;
    return 0;
}

static int
ib_flush(cdc_dest *d, int timeout_ms, cdc_err *err)
{
    iceberg *ib = d->impl;
    int64_t  deadline = cdc_mono_ms() + timeout_ms;

    for (;;) {
        int rc;

        if (dest_status_check(&ib->st, err) < 0 || poll_worker(ib, err) < 0)
            return -1;
        rc = close_batch(ib, err);
        if (rc < 0)
            return fatal(ib, err);
        if (rc == 1 && ice_worker_wait(ib->wk, 0)) {
            if (poll_worker(ib, err) < 0)
                return -1;
            if (!anything_to_commit(ib))
                return 0;
        }
        if (cdc_mono_ms() >= deadline) {
            cdc_health h;

            ice_worker_health(ib->wk, &h);
            return cdc_err_set(err, CDC_E_TIMEOUT, "%s: not everything is committed yet: %s",
                               ib->label, h.detail);
        }
        (void) ice_worker_wait(ib->wk, (int) (deadline - cdc_mono_ms() > 100
                                                  ? 100 : deadline - cdc_mono_ms()));
    }
}

static void
ib_health(cdc_dest *d, cdc_health *h)
{
    iceberg *ib = d->impl;
    size_t   n;

    if (ib->st.fatal) {
        dest_status_health(&ib->st, h);
        return;
    }
    ice_worker_health(ib->wk, h);
    n = strlen(h->detail);
    snprintf(h->detail + n, sizeof(h->detail) - n, "; %" PRId64 " rows buffered, %llu written, "
             "%llu skipped, %llu dead letters", ib->rows, (unsigned long long) ib->nrows,
             (unsigned long long) ib->nskipped, (unsigned long long) ib->ndead);
}

static void
ib_close(cdc_dest *d)
{
    iceberg *ib = d->impl;

    if (ib == NULL)
        return;
    if (ib->rows > 0)
        log_warn(ICE_FAC, "%s: closing with %" PRId64 " rows not committed (they are sent "
                 "again after the restart)", ib->label, ib->rows);
    ice_worker_stop(ib->wk);
    cdc_aws_provider_free(ib->aws);
    for (int i = 0; i < ib->ntbls; i++)
        ice_tbl_free(ib->tbls[i]);
    free(ib->tbls);
    free(ib->label);
    free(ib->sink_id);
    free(ib->pipeline_id);
    free(ib->ns);
    free(ib->table_name);
    free(ib->warehouse);
    free(ib->prefix);
    for (int i = 0; i < ib->npartition_by; i++)
        free(ib->partition_by[i]);
    free(ib->partition_by);
    free(ib);
    d->impl = NULL;
}

const cdc_dest_ops dest_iceberg_ops = {
    .kind = "iceberg",
    .open = ib_open,
    .resume_from = ib_resume_from,
    .write = ib_write,
    .commit_txn = ib_commit_txn,
    .progress = ib_progress,
    .flush = ib_flush,
    .health = ib_health,
    .close = ib_close,
};
