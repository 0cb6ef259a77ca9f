/*
 * Building one Iceberg commit's manifests (ice_commit.c's build): the
 * schema check, the manifests of the added files (written once), the
 * parent snapshot's manifests with the removals of a rewrite applied, and
 * merging small manifests (Java's MergeAppend).
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_mem.h"
#include "sinks/iceberg/catalog/ice_rest.h"
#include "sinks/iceberg/ice_commit.h"
#include "sinks/iceberg/ice_commit_int.h"
#include "sinks/iceberg/ice_table.h"
#include "sinks/iceberg/ice_value.h"

/* ---- building ---- */

bool
ice_commit_table_has_snapshot(const ice_meta *m, int64_t id)
{
    for (int i = 0; i < m->nsnapshots; i++)
        if (m->snapshots[i].id == id)
            return true;
    return false;
}

/* A schema of m equal to s (ids, names, types, identifier fields), or NULL. */
const ice_schema *
ice_commit_find_equal_schema(const ice_meta *m, const ice_schema *s)
{
    for (int i = 0; i < m->nschemas; i++)
        if (ice_schema_equal(m->schemas[i], s))
            return m->schemas[i];
    return NULL;
}

/*
 * The new schema's field ids against the table as loaded: an id the table knows must name the
 * same column (its name, a type it may widen to) in the newest schema that has it; any other
 * id must be above the table's last-column-id.  Otherwise another writer changed the schema
 * since the caller built s (its new column took the id), and committing would give one id two
 * meanings: the caller must evolve again from the table as it is now.
 */
int
ice_commit_check_schema_ids(const ice_commit *c, const ice_meta *m, const ice_schema *s,
                            cdc_err *err)
{
    for (int i = 0; i < s->nfields; i++) {
        const ice_field *f = &s->fields[i], *old = NULL;
        char a[64], b[64];

        for (int k = m->nschemas - 1; k >= 0 && old == NULL; k--)
            if (m->schemas[k]->schema_id == m->current_schema_id)
                old = ice_schema_find_id(m->schemas[k], f->id);
        for (int k = m->nschemas - 1; k >= 0 && old == NULL; k--)
            old = ice_schema_find_id(m->schemas[k], f->id);
        if (old == NULL) {
            if (f->id <= m->last_column_id)
                return cdc_err_set(err, CDC_E_STATE, "table %s.%s: new column %s has field id %d, "
                                   "which the table has used (last-column-id %d): the schema "
                                   "changed meanwhile; evolve from the table as it is now",
                                   c->ns, c->name, f->name, f->id, m->last_column_id);
            continue;
        }
        if (strcmp(old->name, f->name) != 0 || !ice_type_promotable(&old->type, &f->type))
            return cdc_err_set(err, CDC_E_STATE, "table %s.%s: field id %d is column %s (%s) in "
                               "the table and column %s (%s) in the new schema: the schema "
                               "changed meanwhile; evolve from the table as it is now", c->ns,
                               c->name, f->id, old->name, ice_type_str(&old->type, a, sizeof(a)),
                               f->name, ice_type_str(&f->type, b, sizeof(b)));
    }
    return 0;
}

/* The count of distinct partition tuples among the added files. */
int64_t
ice_commit_changed_partitions(const ice_commit *c)
{
    int64_t n = 0;
    cdc_buf *keys = cdc_xcalloc((size_t) c->nfiles + 1, sizeof(cdc_buf));

    for (int i = 0; i < c->nfiles; i++) {
        const added *a = &c->files[i];
        cdc_buf *k = &keys[i];

        for (int p = 0; p < (a->npart > 0 ? a->npart : 0); p++) {
            const ice_value *v = &a->f.partition[p];

            cdc_buf_printf(k, "%d:%d:%" PRId64 ":%.17g:", v->null, v->b, v->i, v->f);
            cdc_buf_put(k, &v->d, sizeof(v->d));
            cdc_buf_printf(k, "%zu:", v->n);
            if (v->p && v->n)
                cdc_buf_put(k, v->p, v->n);
        }
        bool seen = false;

        for (int j = 0; j < i && !seen; j++)
            seen = keys[j].len == k->len && (k->len == 0 || memcmp(keys[j].data, k->data, k->len) == 0);
        if (!seen)
            n++;
    }
    for (int i = 0; i < c->nfiles; i++)
        cdc_buf_free(&keys[i]);
    free(keys);
    return n;
}

/* Writes one manifest per content kind for the added files (once per commit). */
int
ice_commit_write_manifests(ice_commit *c, const ice_meta *m, const ice_schema *s, cdc_err *err)
{
    const ice_spec *sp = ice_meta_spec(m, m->default_spec_id);

    if (sp == NULL)
        return cdc_err_set(err, CDC_E_DEST, "table %s.%s: default partition spec %d missing",
                           c->ns, c->name, m->default_spec_id);
    /* what an earlier call wrote before it failed is never named: start again */
    for (int i = 0; i < c->nmfs; i++)
        ice_manifest_file_clear(&c->mfs[i]);
    c->nmfs = 0;
    for (int content = 0; content <= 1; content++) {
        ice_manifest_writer *w = NULL;

        for (int i = 0; i < c->nfiles; i++) {
            added *a = &c->files[i];
            int fc = a->f.content == ICE_CONTENT_DATA ? 0 : 1;

            if (fc != content)
                continue;
            if (a->npart >= 0 && a->npart != sp->nfields) {
                ice_manifest_writer_free(w);
                return cdc_err_set(err, CDC_E_DEST, "table %s.%s: file %s has %d partition "
                                   "values, the table's spec %d has %d fields", c->ns, c->name,
                                   a->f.path, a->npart, sp->spec_id, sp->nfields);
            }
            if (a->npart < 0 && sp->nfields > 0) {
                ice_manifest_writer_free(w);
                return cdc_err_set(err, CDC_E_DEST, "table %s.%s: file %s has no partition "
                                   "values, the table is partitioned (spec %d)", c->ns, c->name,
                                   a->f.path, sp->spec_id);
            }
            if (w == NULL && (w = ice_manifest_writer_new(s, sp, content, c->snapshot_id, err)) == NULL)
                return cdc_err_wrap(err, "table %s.%s: manifest", c->ns, c->name);
            ice_entry e = { .status = ICE_STATUS_ADDED, .snapshot_id = -1,
                            .sequence_number = -1, .file_sequence_number = -1, .file = a->f };

            if (e.file.sort_order_id == 0 && content != 0)
                e.file.sort_order_id = -1;
            if (ice_manifest_add(w, &e, err) != 0) {
                ice_manifest_writer_free(w);
                return cdc_err_wrap(err, "table %s.%s: manifest entry for %s", c->ns, c->name,
                                    a->f.path);
            }
        }
        if (w == NULL)
            continue;
        char uuid[37];
        cdc_buf uri = CDC_BUF_INIT, b = CDC_BUF_INIT;
        ice_manifest_file mf;

        memset(&mf, 0, sizeof(mf));
        ice_uuid4(uuid);
        cdc_buf_printf(&uri, "%s/metadata/%s-m%d.avro", m->location, uuid, content);
        int rc = ice_manifest_finish(w, cdc_buf_str(&uri), &b, &mf, err);

        ice_manifest_writer_free(w);
        if (rc == 0 && ice_store_put(c->st, cdc_buf_str(&uri), b.data, b.len, err) != 0)
            rc = -1;
        cdc_buf_free(&uri);
        cdc_buf_free(&b);
        if (rc != 0) {
            ice_manifest_file_clear(&mf);
            return cdc_err_wrap(err, "table %s.%s: manifest", c->ns, c->name);
        }
        c->mfs = cdc_xrealloc(c->mfs, ((size_t) c->nmfs + 1) * sizeof(ice_manifest_file));
        c->mfs[c->nmfs++] = mf;
    }
    c->mf_spec_id = sp->spec_id;
    c->manifests_done = true;
    return 0;
}

/* The manifests of m's current snapshot (none when it has none). */
int
ice_commit_parent_manifests(ice_commit *c, const ice_meta *m, ice_manifest_file **out, int *nout,
                            cdc_err *err)
{
    const ice_snapshot *cur = ice_meta_current(m);

    *out = NULL;
    *nout = 0;
    if (cur == NULL || cur->manifest_list == NULL)
        return 0;
    cdc_buf b = CDC_BUF_INIT;
    int rc = ice_store_get(c->st, cur->manifest_list, 0, -1, &b, 0, err);

    if (rc == 1)
        err->code = CDC_E_DEST;
    if (rc == 0)
        rc = ice_manifest_list_read(b.data, b.len, cur->manifest_list, out, nout, err);
    cdc_buf_free(&b);
    if (rc != 0)
        return cdc_err_wrap(err, "table %s.%s: snapshot %" PRId64 "'s manifest list", c->ns,
                            c->name, cur->id);
    return 0;
}

/* ---- removing files (a rewrite) ---- */

static int
cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* path's index in c->removed (sorted by apply_removals), or -1 */
static int
removed_index(const ice_commit *c, const char *path)
{
    char *const *hit = c->nremoved > 0 ? bsearch(&path, c->removed, (size_t) c->nremoved,
                                                 sizeof(char *), cmp_cstr) : NULL;

    return hit ? (int) (hit - c->removed) : -1;
}

/* Whether position-delete entry x may name a removed data file: its referenced data file,
   else its file_path bounds (none: it may). */
static const char *
posdel_may_hit(const ice_commit *c, const ice_read_entry *x)
{
    if (x->referenced_data_file)
        return removed_index(c, x->referenced_data_file) >= 0 ? x->referenced_data_file : NULL;
    const ice_colstat *b = NULL;

    for (int k = 0; k < x->ncols; k++)
        if (x->cols[k].field_id == ICE_FIELD_ID_DELETE_FILE_PATH)
            b = &x->cols[k];
    for (int i = 0; i < c->nremoved; i++) {
        const char *p = c->removed[i];
        size_t pn = strlen(p);

        if (b == NULL || b->lower == NULL || b->upper == NULL)
            return p;
        size_t ln = b->lower_n < pn ? b->lower_n : pn, un = b->upper_n < pn ? b->upper_n : pn;
        /* truncated bounds: lower is a prefix-or-less, upper a prefix-or-more */
        int lo = memcmp(b->lower, p, ln), hi = memcmp(p, b->upper, un);

        if ((lo < 0 || (lo == 0 && ln <= pn)) && (hi < 0 || hi == 0))
            return p;
    }
    return NULL;
}

/*
 * Rewrites the manifests of pm that hold removed files (into c->merged: this attempt's files),
 * checks that every removed file is live and that no position delete committed since the base
 * may apply to a removed data file, and fills *view (npm shallow entries: pm's or the
 * rewritten ones) and c->rm.
 */
int
ice_commit_apply_removals(ice_commit *c, const ice_meta *m, const ice_schema *s,
                          ice_manifest_file *pm, int npm, ice_manifest_file **view, cdc_err *err)
{
    bool *found = cdc_xcalloc((size_t) c->nremoved + 1, sizeof(bool));
    ice_manifest_file *v = cdc_xcalloc((size_t) npm + 1, sizeof(ice_manifest_file));
    cdc_buf data = CDC_BUF_INIT, uri = CDC_BUF_INIT;
    int64_t base_seq = -1;
    int rc = -1;

    memset(&c->rm, 0, sizeof(c->rm));
    qsort(c->removed, (size_t) c->nremoved, sizeof(char *), cmp_cstr);
    if (c->base_id >= 0) {
        for (int i = 0; i < m->nsnapshots; i++)
            if (m->snapshots[i].id == c->base_id)
                base_seq = m->snapshots[i].sequence_number;
        if (base_seq < 0) {
            cdc_err_set(err, CDC_E_STATE, "table %s.%s: snapshot %" PRId64 ", which the rewrite "
                        "was planned on, is gone", c->ns, c->name, c->base_id);
            goto done;
        }
    }
    for (int i = 0; i < npm; i++) {
        const ice_manifest_file *mf = &pm[i];
        const ice_spec *sp = ice_meta_spec(m, mf->spec_id);
        ice_type *pt = NULL;
        ice_read_entry *es = NULL;
        int nes = 0, hits = 0, r;

        v[i] = *mf;
        if (sp == NULL) {
            cdc_err_set(err, CDC_E_DEST, "table %s.%s: manifest %s names partition spec %d, "
                        "which the metadata lacks", c->ns, c->name, mf->path, mf->spec_id);
            goto done;
        }
        pt = cdc_xcalloc((size_t) sp->nfields + 1, sizeof(ice_type));
        cdc_buf_reset(&data);
        r = ice_store_get(c->st, mf->path, 0, -1, &data, 0, err);
        if (r == 1)
            err->code = CDC_E_DEST;
        if (r != 0 || ice_spec_types(sp, s, pt, err) != 0 ||
            ice_manifest_read(data.data, data.len, mf->path, mf, pt, sp->nfields, &es, &nes,
                              err) != 0) {
            free(pt);
            cdc_err_wrap(err, "table %s.%s", c->ns, c->name);
            goto done;
        }
        free(pt);
        for (int k = 0; k < nes; k++) {
            const ice_read_entry *x = &es[k];
            int ri;

            if (x->status == ICE_STATUS_DELETED)
                continue;
            if ((ri = removed_index(c, x->path)) >= 0) {
                found[ri] = true;
                hits++;
                continue;
            }
            const char *hit;

            if (base_seq >= 0 && x->content == ICE_CONTENT_POS_DELETES &&
                x->sequence_number > base_seq && (hit = posdel_may_hit(c, x)) != NULL) {
                cdc_err_set(err, CDC_E_STATE, "table %s.%s: position deletes %s, committed after "
                            "snapshot %" PRId64 ", may apply to %s, which this rewrite removes",
                            c->ns, c->name, x->path, c->base_id, hit);
                ice_read_entries_free(es, nes);
                goto done;
            }
        }
        if (hits == 0) {
            ice_read_entries_free(es, nes);
            continue;
        }
        /* rewrite: the others EXISTING as they were, the removed ones DELETED by us */
        ice_manifest_writer *w = ice_manifest_writer_new(s, sp, mf->content, c->snapshot_id, err);
        ice_manifest_file nm;
        char uuid[37];

        memset(&nm, 0, sizeof(nm));
        r = w ? 0 : -1;
        for (int k = 0; k < nes && r == 0; k++) {
            const ice_read_entry *x = &es[k];

            if (x->status == ICE_STATUS_DELETED)
                continue;
            bool gone = removed_index(c, x->path) >= 0;
            ice_entry e = {
                .status = gone ? ICE_STATUS_DELETED : ICE_STATUS_EXISTING,
                .snapshot_id = gone ? c->snapshot_id : x->snapshot_id,
                .sequence_number = x->sequence_number,
                .file_sequence_number = x->file_sequence_number,
                .file = { .content = x->content, .path = x->path, .format = x->format,
                          .partition = x->partition, .record_count = x->record_count,
                          .file_size = x->file_size, .ncols = x->ncols, .cols = x->cols,
                          .split_offsets = x->split_offsets, .nsplit = x->nsplit,
                          .equality_ids = x->equality_ids, .neq = x->neq,
                          .sort_order_id = x->sort_order_id,
                          .referenced_data_file = x->referenced_data_file },
            };

            if (gone) {
                if (x->content == ICE_CONTENT_DATA) {
                    c->rm.deleted_data_files++;
                    c->rm.deleted_records += x->record_count;
                } else {
                    c->rm.removed_delete_files++;
                    c->rm.removed_position_deletes += x->record_count;
                }
                c->rm.removed_files_size += x->file_size;
            }
            r = ice_manifest_add(w, &e, err);
        }
        ice_read_entries_free(es, nes);
        ice_uuid4(uuid);
        cdc_buf_reset(&uri);
        cdc_buf_printf(&uri, "%s/metadata/%s-m%d.avro", m->location, uuid, mf->content);
        cdc_buf_reset(&data);
        if (r == 0)
            r = ice_manifest_finish(w, cdc_buf_str(&uri), &data, &nm, err);
        ice_manifest_writer_free(w);
        if (r == 0)
            r = ice_store_put(c->st, cdc_buf_str(&uri), data.data, data.len, err);
        if (r != 0) {
            ice_manifest_file_clear(&nm);
            cdc_err_wrap(err, "table %s.%s: rewriting manifest %s", c->ns, c->name, mf->path);
            goto done;
        }
        /* a new manifest of this snapshot (numbered by the list); its entries carry their own
           sequence numbers, min_sequence_number is theirs */
        nm.sequence_number = -1;
        nm.added_snapshot_id = c->snapshot_id;
        c->merged = cdc_xrealloc(c->merged, ((size_t) c->nmerged + 1) * sizeof(ice_manifest_file));
        c->merged[c->nmerged++] = nm;
        v[i] = nm;
    }
    for (int i = 0; i < c->nremoved; i++)
        if (!found[i]) {
            cdc_err_set(err, CDC_E_STATE, "table %s.%s: file %s, which this rewrite removes, is "
                        "no longer in the table (a concurrent commit removed it)", c->ns,
                        c->name, c->removed[i]);
            goto done;
        }
    *view = v;
    v = NULL;
    rc = 0;
done:
    free(v);
    free(found);
    cdc_buf_free(&data);
    cdc_buf_free(&uri);
    return rc;
}

/* ---- merging manifests (Java's MergeAppend / ManifestMergeManager) ----
 *
 * Every commit adds a manifest or two; without merging, a table committed every few seconds
 * soon has thousands and every reader opens them all.  As Java does by default: the manifests
 * of one content kind and the default spec are packed in order (ours first) into bins of up to
 * commit.manifest.target-size-bytes (8 MiB); a bin of more than one manifest is rewritten as
 * one, except the bin holding the first manifest while it has fewer than
 * commit.manifest.min-count-to-merge (100) manifests; commit.manifest-merge.enabled=false
 * turns it off.  Entries of earlier snapshots become EXISTING with their snapshot id and
 * sequence numbers written out; ours stay ADDED and inherit.  The merged manifests are this
 * attempt's: written anew on a rebuild, removed when the attempt loses a race. */

static int64_t
prop_i64(const ice_meta *m, const char *key, int64_t dflt)
{
    const char *v = ice_meta_prop(m, key);
    char *end;

    if (v == NULL || *v == '\0')
        return dflt;
    long long x = strtoll(v, &end, 10);

    return *end == '\0' && x > 0 ? (int64_t) x : dflt;
}

/* Rewrites the manifests bin[0..n) as one (appended to c->merged). */
static int
merge_bin(ice_commit *c, const ice_meta *m, const ice_schema *s, const ice_spec *sp,
          int content, const ice_manifest_file *const *bin, int n, cdc_err *err)
{
    ice_type *pt = cdc_xcalloc((size_t) sp->nfields + 1, sizeof(ice_type));
    ice_manifest_writer *w = NULL;
    cdc_buf data = CDC_BUF_INIT, uri = CDC_BUF_INIT;
    ice_manifest_file mf;
    char uuid[37];
    int rc = -1;

    memset(&mf, 0, sizeof(mf));
    if (ice_spec_types(sp, s, pt, err) != 0 ||
        (w = ice_manifest_writer_new(s, sp, content, c->snapshot_id, err)) == NULL)
        goto done;
    for (int i = 0; i < n; i++) {
        const ice_manifest_file *src = bin[i];
        bool ours = false;

        for (int k = 0; k < c->nmfs; k++)
            if (src == &c->mfs[k])
                ours = c->mf_merged[k] = true;
        ice_read_entry *es = NULL;
        int nes = 0, r;

        cdc_buf_reset(&data);
        r = ice_store_get(c->st, src->path, 0, -1, &data, 0, err);
        if (r == 1)
            err->code = CDC_E_DEST;
        if (r != 0 || ice_manifest_read(data.data, data.len, src->path, src, pt, sp->nfields, &es,
                                        &nes, err) != 0)
            goto done;
        for (int k = 0; k < nes; k++) {
            const ice_read_entry *x = &es[k];

            if (x->status == ICE_STATUS_DELETED)
                continue;
            ice_entry e = {
                .status = ours ? ICE_STATUS_ADDED : ICE_STATUS_EXISTING,
                .snapshot_id = ours ? -1 : x->snapshot_id,
                .sequence_number = ours ? -1 : x->sequence_number,
                .file_sequence_number = ours ? -1 : x->file_sequence_number,
                .file = { .content = x->content, .path = x->path, .format = x->format,
                          .partition = x->partition, .record_count = x->record_count,
                          .file_size = x->file_size, .ncols = x->ncols, .cols = x->cols,
                          .split_offsets = x->split_offsets, .nsplit = x->nsplit,
                          .equality_ids = x->equality_ids, .neq = x->neq,
                          .sort_order_id = x->sort_order_id,
                          .referenced_data_file = x->referenced_data_file },
            };

            if (ice_manifest_add(w, &e, err) != 0) {
                cdc_err_wrap(err, "merging %s", src->path);
                ice_read_entries_free(es, nes);
                goto done;
            }
        }
        ice_read_entries_free(es, nes);
    }
    ice_uuid4(uuid);
    cdc_buf_printf(&uri, "%s/metadata/%s-m%d.avro", m->location, uuid, content);
    cdc_buf_reset(&data);
    if (ice_manifest_finish(w, cdc_buf_str(&uri), &data, &mf, err) != 0 ||
        ice_store_put(c->st, cdc_buf_str(&uri), data.data, data.len, err) != 0)
        goto done;
    c->merged = cdc_xrealloc(c->merged, ((size_t) c->nmerged + 1) * sizeof(ice_manifest_file));
    c->merged[c->nmerged++] = mf;
    memset(&mf, 0, sizeof(mf));
    rc = 0;
done:
    if (rc != 0)
        cdc_err_wrap(err, "table %s.%s: merging %d manifests", c->ns, c->name, n);
    ice_manifest_file_clear(&mf);
    ice_manifest_writer_free(w);
    cdc_buf_free(&data);
    cdc_buf_free(&uri);
    free(pt);
    return rc;
}

/*
 * The manifests of the new list: ours (c->mfs) and the parent's (pm), with bins merged.
 * *out holds views (shallow copies) of c->mfs, pm and c->merged.
 */
int
ice_commit_merge_manifests(ice_commit *c, const ice_meta *m, const ice_schema *s,
                           ice_manifest_file *pm, int npm, ice_manifest_file **out, int *nout,
                           cdc_err *err)
{
    const ice_spec *sp = ice_meta_spec(m, m->default_spec_id);
    const char *en = ice_meta_prop(m, "commit.manifest-merge.enabled");
    bool enabled = !(en && strcmp(en, "false") == 0);
    int64_t min_count = prop_i64(m, "commit.manifest.min-count-to-merge", 100);
    int64_t target = prop_i64(m, "commit.manifest.target-size-bytes", 8 << 20);
    int total = c->nmfs + npm, n = 0;
    const ice_manifest_file **cand = cdc_xcalloc((size_t) total + 1, sizeof(*cand));
    const ice_manifest_file **bin = cdc_xcalloc((size_t) total + 1, sizeof(*bin));
    ice_manifest_file *res = cdc_xcalloc((size_t) total + 1, sizeof(ice_manifest_file));

    free(c->mf_merged);
    c->mf_merged = cdc_xcalloc((size_t) c->nmfs + 1, sizeof(bool));
    for (int i = 0; i < c->nmfs; i++)
        cand[i] = &c->mfs[i];
    for (int i = 0; i < npm; i++)
        cand[c->nmfs + i] = &pm[i];
    for (int i = 0; i < total; i++)   /* other specs (and everything, when off) as they are */
        if (!enabled || sp == NULL || cand[i]->spec_id != sp->spec_id)
            res[n++] = *cand[i];
    for (int content = 0; content <= 1 && enabled && sp; content++) {
        const ice_manifest_file *first = NULL;
        int nb = 0;
        int64_t blen = 0;

        for (int i = 0; i <= total; i++) {
            const ice_manifest_file *mf = i < total ? cand[i] : NULL;

            if (mf && (mf->content != content || mf->spec_id != sp->spec_id))
                continue;
            if (mf && first == NULL)
                first = mf;
            /* close the bin at the end, or when mf does not fit */
            if (nb > 0 && (mf == NULL || blen + mf->length > target)) {
                bool has_first = false;

                for (int k = 0; k < nb; k++)
                    has_first |= bin[k] == first;
                if (nb == 1 || (has_first && nb < min_count)) {
                    for (int k = 0; k < nb; k++)
                        res[n++] = *bin[k];
                } else {
                    if (merge_bin(c, m, s, sp, content, bin, nb, err) != 0) {
                        free(cand);
                        free(bin);
                        free(res);
                        return -1;
                    }
                    res[n++] = c->merged[c->nmerged - 1];
                }
                nb = 0;
                blen = 0;
            }
            if (mf) {
                bin[nb++] = mf;
                blen += mf->length;
            }
        }
    }
    free(cand);
    free(bin);
    *out = res;
    *nout = n;
    return 0;
}
