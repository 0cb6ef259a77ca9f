/*
 * One Iceberg commit (ice_commit.h): the manifests of the added files are
 * written once, at the first build; each build (the first, and one per
 * conflict) writes a manifest list carrying the loaded table's manifests plus
 * ours, and for the SQL catalog the next metadata file; for REST it fills the
 * requirements and updates instead.
 *
 * This file holds the commit object, the build and the run; ice_commit_int.h
 * lists the others.
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

/* How many earlier metadata files the metadata-log keeps (write.metadata.previous-versions-max's
   default in Java and pyiceberg). */
#define ICE_METALOG_MAX 100

static char *
xstrdup_or_null(const char *s)
{
    return s ? cdc_xstrdup(s) : NULL;
}

ice_commit *
ice_commit_new(ice_cat *cat, ice_store *st, const ice_cat_ident *id, cdc_err *err)
{
    if (cat == NULL || st == NULL || id == NULL || id->ns == NULL || id->name == NULL) {
        cdc_err_set(err, CDC_E_INVAL, "iceberg commit: catalog, store and table are required");
        return NULL;
    }
    ice_commit *c = cdc_xcalloc(1, sizeof(*c));

    c->cat = cat;
    c->st = st;
    c->ns = cdc_xstrdup(id->ns);
    c->name = cdc_xstrdup(id->name);
    c->id = (ice_cat_ident) { c->ns, c->name };
    c->snapshot_id = ice_new_snapshot_id();
    c->known_nparts = -1;
    c->base_id = -1;
    return c;
}

static void
datafile_clear(ice_datafile *f, int npart)
{
    free((char *) f->path);
    free((char *) f->format);
    for (int i = 0; i < npart; i++)
        free((uint8_t *) f->partition[i].p);
    free((ice_value *) f->partition);
    for (int i = 0; i < f->ncols; i++) {
        free((uint8_t *) f->cols[i].lower);
        free((uint8_t *) f->cols[i].upper);
    }
    free((ice_colstat *) f->cols);
    free((int64_t *) f->split_offsets);
    free((int32_t *) f->equality_ids);
    free((char *) f->referenced_data_file);
}

static void
build_strings_free(ice_commit *c)
{
    free(c->list_uri);
    free(c->new_location);
    free(c->new_json);
    free(c->req_json);
    free(c->upd_json);
    c->list_uri = c->new_location = c->new_json = c->req_json = c->upd_json = NULL;
    ice_meta_free(c->built);
    c->built = NULL;
    for (int i = 0; i < c->nmerged; i++)
        ice_manifest_file_clear(&c->merged[i]);
    free(c->merged);
    c->merged = NULL;
    c->nmerged = 0;
}

/* The manifest list and metadata file of an attempt that lost to a concurrent commit: the
   catalog said nothing changed, so nothing will ever name them.  (After an error whose outcome
   is unknown they stay: the commit may be in.)  A failed delete only leaves an orphan. */
static void
drop_lost_attempt(ice_commit *c)
{
    cdc_err ignored;

    if (c->list_uri)
        (void) ice_store_delete(c->st, c->list_uri, &ignored);
    if (c->new_location)
        (void) ice_store_delete(c->st, c->new_location, &ignored);
    for (int i = 0; i < c->nmerged; i++)
        (void) ice_store_delete(c->st, c->merged[i].path, &ignored);
}

void
ice_commit_free(ice_commit *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < c->nfiles; i++)
        datafile_clear(&c->files[i].f, c->files[i].npart);
    free(c->files);
    ice_schema_free(c->schema);
    for (int i = 0; i < c->nsum; i++) {
        free(c->sum[i].key);
        free(c->sum[i].value);
    }
    free(c->sum);
    for (int i = 0; i < c->nmfs; i++)
        ice_manifest_file_clear(&c->mfs[i]);
    free(c->mfs);
    free(c->mf_merged);
    build_strings_free(c);
    for (int i = 0; i < c->nremoved; i++)
        free(c->removed[i]);
    free(c->removed);
    free(c->ns);
    free(c->name);
    free(c);
}

static uint8_t *
bytes_dup(const uint8_t *p, size_t n)
{
    if (p == NULL)
        return NULL;
    uint8_t *d = cdc_xmalloc(n ? n : 1);

    if (n)
        memcpy(d, p, n);
    return d;
}

/* The number of fields of the table's default partition spec (loaded once). */
static int
table_nparts(ice_commit *c, cdc_err *err)
{
    if (c->known_nparts >= 0)
        return c->known_nparts;
    ice_meta *m = NULL;
    int rc = ice_commit_load(c->cat, c->st, &c->id, &m, NULL, err);

    if (rc != ICE_CAT_OK)
        return -1;
    const ice_spec *sp = ice_meta_spec(m, m->default_spec_id);

    c->known_nparts = sp ? sp->nfields : 0;
    ice_meta_free(m);
    return c->known_nparts;
}

int
ice_commit_add_file(ice_commit *c, const ice_datafile *f, cdc_err *err)
{
    if (c == NULL || f == NULL || f->path == NULL)
        return cdc_err_set(err, CDC_E_INVAL, "iceberg commit: a file without a path");
    if (f->content != ICE_CONTENT_DATA && f->content != ICE_CONTENT_POS_DELETES)
        return cdc_err_set(err, CDC_E_INVAL, "iceberg commit to %s.%s: file %s: only data and "
                           "position-delete files are committed (content %d)", c->ns, c->name,
                           f->path, f->content);
    if (c->manifests_done)
        return cdc_err_set(err, CDC_E_INVAL, "iceberg commit to %s.%s: file %s added after "
                           "the commit was built", c->ns, c->name, f->path);
    int npart = -1;

    if (f->partition != NULL) {
        npart = table_nparts(c, err);
        if (npart < 0)
            return cdc_err_wrap(err, "iceberg commit to %s.%s: file %s: the partition spec",
                                c->ns, c->name, f->path);
    }
    c->files = cdc_xrealloc(c->files, ((size_t) c->nfiles + 1) * sizeof(added));
    added *a = &c->files[c->nfiles++];
    ice_datafile *d = &a->f;

    memset(a, 0, sizeof(*a));
    *d = *f;
    a->npart = npart;
    d->path = cdc_xstrdup(f->path);
    d->format = xstrdup_or_null(f->format);
    d->referenced_data_file = xstrdup_or_null(f->referenced_data_file);
    d->partition = NULL;
    if (npart > 0) {
        ice_value *pv = cdc_xcalloc((size_t) npart, sizeof(ice_value));

        for (int i = 0; i < npart; i++) {
            pv[i] = f->partition[i];
            pv[i].p = bytes_dup(f->partition[i].p, f->partition[i].n);
        }
        d->partition = pv;
    } else if (npart == 0) {
        a->npart = 0;
    }
    d->cols = NULL;
    if (f->ncols > 0) {
        ice_colstat *cs = cdc_xcalloc((size_t) f->ncols, sizeof(ice_colstat));

        for (int i = 0; i < f->ncols; i++) {
            cs[i] = f->cols[i];
            cs[i].lower = bytes_dup(f->cols[i].lower, f->cols[i].lower_n);
            cs[i].upper = bytes_dup(f->cols[i].upper, f->cols[i].upper_n);
        }
        d->cols = cs;
    }
    d->split_offsets = NULL;
    if (f->nsplit > 0 && f->split_offsets) {
        int64_t *so = cdc_xmalloc((size_t) f->nsplit * sizeof(int64_t));

        memcpy(so, f->split_offsets, (size_t) f->nsplit * sizeof(int64_t));
        d->split_offsets = so;
    } else {
        d->nsplit = 0;
    }
    d->equality_ids = NULL;
    d->neq = 0;
    return 0;
}

int
ice_commit_set_schema(ice_commit *c, const ice_schema *s, cdc_err *err)
{
    if (c == NULL || s == NULL)
        return cdc_err_set(err, CDC_E_INVAL, "iceberg commit: no schema");
    if (c->manifests_done)
        return cdc_err_set(err, CDC_E_INVAL, "iceberg commit to %s.%s: schema set after the "
                           "commit was built", c->ns, c->name);
    ice_schema_free(c->schema);
    c->schema = ice_schema_dup(s);
    return 0;
}

int
ice_commit_summary(ice_commit *c, const char *key, const char *value, cdc_err *err)
{
    if (c == NULL || key == NULL || value == NULL)
        return cdc_err_set(err, CDC_E_INVAL, "iceberg commit: a summary pair without key or value");
    for (int i = 0; i < c->nsum; i++)
        if (strcmp(c->sum[i].key, key) == 0) {
            free(c->sum[i].value);
            c->sum[i].value = cdc_xstrdup(value);
            return 0;
        }
    c->sum = cdc_xrealloc(c->sum, ((size_t) c->nsum + 1) * sizeof(ice_kv));
    c->sum[c->nsum++] = (ice_kv) { cdc_xstrdup(key), cdc_xstrdup(value) };
    return 0;
}

int
ice_commit_remove_file(ice_commit *c, const char *path, cdc_err *err)
{
    if (c == NULL || path == NULL)
        return cdc_err_set(err, CDC_E_INVAL, "iceberg commit: a removed file without a path");
    if (c->manifests_done)
        return cdc_err_set(err, CDC_E_INVAL, "iceberg commit to %s.%s: file %s removed after "
                           "the commit was built", c->ns, c->name, path);
    c->removed = cdc_xrealloc(c->removed, ((size_t) c->nremoved + 1) * sizeof(char *));
    c->removed[c->nremoved++] = cdc_xstrdup(path);
    return 0;
}

void
ice_commit_set_base(ice_commit *c, int64_t base_snapshot_id)
{
    if (c)
        c->base_id = base_snapshot_id;
}

/* ---- building ---- */

/* The snapshot object of the document text, as JSON text (for REST's add-snapshot). */
static char *
snapshot_json_of(const char *meta_json, int64_t id, cdc_err *err)
{
    json_error_t je;
    json_t *j = json_loads(meta_json, 0, &je), *a, *v;
    size_t i;
    char *out = NULL;

    if (j == NULL) {
        cdc_err_set(err, CDC_E_INVAL, "our metadata does not parse: %s", je.text);
        return NULL;
    }
    a = json_object_get(j, "snapshots");
    json_array_foreach(a, i, v) {
        if (json_integer_value(json_object_get(v, "snapshot-id")) == id) {
            out = json_dumps(v, JSON_COMPACT);
            break;
        }
    }
    json_decref(j);
    if (out == NULL)
        cdc_err_set(err, CDC_E_INVAL, "snapshot %" PRId64 " missing from our metadata", id);
    return out;
}

/* The summary value of key this commit carries, or NULL. */
static const char *
commit_summary(const ice_commit *c, const char *key)
{
    for (int i = 0; i < c->nsum; i++)
        if (strcmp(c->sum[i].key, key) == 0)
            return c->sum[i].value;
    return NULL;
}

/*
 * A commit carrying cdc.pipeline and cdc.position is refused (CDC_E_STATE: not retried) when
 * the table holds a snapshot of that pipeline at a newer position than its main branch does:
 * the table was rolled back (cdcagent lakehouse rollback --force under a running sink, or
 * another tool).  Committing on top would hide the gap for good: the rolled-back changes were
 * acknowledged and are not sent again.  The sink's start checks the same (iceberg.c).
 */
static int
behind_own_snapshot(const ice_commit *c, const ice_meta *m, cdc_err *err)
{
    const char         *pipeline = commit_summary(c, "cdc.pipeline");
    const ice_snapshot *s = ice_meta_current(m), *newest = NULL;
    cdc_pos             np = { 0, 0 }, cur = { 0, 0 }, p;
    bool                have_cur = false;
    char                a[64] = "none", b[64];

    if (pipeline == NULL || commit_summary(c, "cdc.position") == NULL)
        return 0;
    for (int i = 0; i < m->nsnapshots; i++) {
        const char *pid = ice_snapshot_get(&m->snapshots[i], "cdc.pipeline");
        const char *pos = ice_snapshot_get(&m->snapshots[i], "cdc.position");

        if (pid && pos && strcmp(pid, pipeline) == 0 && ice_pos_parse(pos, &p) == 0 &&
            (newest == NULL || cdc_pos_cmp(p, np) > 0)) {
            newest = &m->snapshots[i];
            np = p;
        }
    }
    if (newest == NULL)
        return 0;
    for (int guard = 0; s != NULL && guard <= m->nsnapshots && !have_cur; guard++) {
        const char *pid = ice_snapshot_get(s, "cdc.pipeline");
        const char *pos = ice_snapshot_get(s, "cdc.position");
        int64_t     parent = s->parent_id;

        if (pid && pos && strcmp(pid, pipeline) == 0 && ice_pos_parse(pos, &cur) == 0)
            have_cur = true;
        s = NULL;
        for (int i = 0; i < m->nsnapshots && parent >= 0; i++)
            if (m->snapshots[i].id == parent)
                s = &m->snapshots[i];
    }
    if (have_cur && cdc_pos_cmp(np, cur) <= 0)
        return 0;
    if (have_cur)
        ice_pos_format(cur, a, sizeof(a));
    ice_pos_format(np, b, sizeof(b));
    return cdc_err_set(err, CDC_E_STATE, "table %s.%s was rolled back under the sink to "
                       "snapshot %" PRId64 " (up to %s), behind snapshot %" PRId64 " (up to %s) "
                       "of this pipeline: not committing on top of it (those changes are not "
                       "sent again); roll forward (lakehouse rollback --snapshot-id %" PRId64
                       " --yes) or re-snapshot the table", c->ns, c->name,
                       m->current_snapshot_id, a, newest->id, b, newest->id);
}

static int
build(void *ud, const ice_cat_table *current, ice_cat_change *cm, cdc_err *err)
{
    ice_commit *c = ud;
    ice_meta *m;
    ice_manifest_file *pm = NULL, *all = NULL, *pview = NULL;
    int npm = 0, rc = -1;
    int64_t now = cdc_wall_ms();
    json_t *req = NULL, *upd = NULL;
    char *snap_text = NULL;
    int32_t base_schema_id;
    bool new_schema = false;
    int32_t set_schema_id = -1;

    c->already = false;
    if ((m = ice_commit_meta_of(c->st, current, err)) == NULL)
        return cdc_err_wrap(err, "%s: table %s.%s", c->cat->what, c->ns, c->name);
    if (ice_commit_table_has_snapshot(m, c->snapshot_id)) {
        /* an earlier attempt took effect after all: a run after an unknown outcome, or a
           REST client that sent the commit again after a lost answer and got 409 for it */
        build_strings_free(c);
        c->already = true;
        c->built = m;
        return cdc_err_set(err, CDC_E_STATE, "table %s.%s already holds snapshot %" PRId64,
                           c->ns, c->name, c->snapshot_id);
    }
    if (behind_own_snapshot(c, m, err) < 0) {
        ice_meta_free(m);
        return -1;
    }
    /* The attempt before this one in this run lost a race: its files can go.  Only with the
       SQL catalog, whose conflict is certain; a REST conflict may answer a request sent again
       after a lost answer whose first copy might still be applied: orphans rather than a
       snapshot naming removed files. */
    if (c->builds++ > 0 && !ice_commit_is_rest(c->cat))
        drop_lost_attempt(c);
    build_strings_free(c);
    if (m->format_version != 2) {
        cdc_err_set(err, CDC_E_DEST, "table %s.%s (%s) is Iceberg format version %d: commits "
                    "here write version 2 (manifests with sequence numbers, position deletes); "
                    "upgrade the table (format-version=2) or use another table", c->ns, c->name,
                    m->location, m->format_version);
        goto done;
    }
    base_schema_id = m->current_schema_id;
    const int64_t base_last_updated = m->last_updated_ms;

    /* the schema */
    if (c->schema) {
        const ice_schema *eq = ice_commit_find_equal_schema(m, c->schema);

        if (eq) {
            set_schema_id = eq->schema_id;
        } else if (ice_commit_check_schema_ids(c, m, c->schema, err) != 0) {
            goto done;
        } else {
            ice_schema *s = ice_schema_dup(c->schema);
            int32_t maxid = -1, lastcol = m->last_column_id;

            for (int i = 0; i < m->nschemas; i++)
                if (m->schemas[i]->schema_id > maxid)
                    maxid = m->schemas[i]->schema_id;
            s->schema_id = maxid + 1;
            if (ice_schema_max_id(s) > lastcol)
                lastcol = ice_schema_max_id(s);
            int r = ice_meta_add_schema(m, s, lastcol, err);

            set_schema_id = s->schema_id;
            ice_schema_free(s);
            if (r != 0) {
                cdc_err_wrap(err, "table %s.%s: new schema", c->ns, c->name);
                goto done;
            }
            new_schema = true;
        }
        m->current_schema_id = set_schema_id;
    }
    const ice_schema *schema = ice_meta_schema(m, m->current_schema_id);

    if (schema == NULL) {
        cdc_err_set(err, CDC_E_DEST, "table %s.%s: current schema %d missing", c->ns, c->name,
                    m->current_schema_id);
        goto done;
    }

    bool make_snapshot = c->nfiles > 0 || c->nsum > 0 || c->nremoved > 0 || c->schema == NULL;

    if (!make_snapshot && !new_schema && set_schema_id == base_schema_id) {
        /* a schema change alone that the table already has (an earlier run's) */
        c->already = true;
        c->built = m;
        return cdc_err_set(err, CDC_E_STATE, "table %s.%s already has schema %d", c->ns, c->name,
                           set_schema_id);
    }
    const ice_snapshot *parent = ice_meta_current(m);
    int64_t parent_id = parent ? parent->id : -1;

    if (make_snapshot) {
        if (!c->manifests_done && ice_commit_write_manifests(c, m, schema, err) != 0)
            goto done;
        if (ice_commit_parent_manifests(c, m, &pm, &npm, err) != 0)
            goto done;
        if (c->nremoved > 0 && ice_commit_apply_removals(c, m, schema, pm, npm, &pview, err) != 0)
            goto done;
        int64_t seq = m->last_sequence_number + 1;
        int n = 0;

        for (int i = 0; i < c->nmfs; i++) {     /* ours: numbered by the list */
            c->mfs[i].sequence_number = -1;
            c->mfs[i].min_sequence_number = -1;
            c->mfs[i].added_snapshot_id = c->snapshot_id;
        }
        if (ice_commit_merge_manifests(c, m, schema, pview ? pview : pm, npm, &all, &n, err) != 0)
            goto done;
        char uuid[37];
        cdc_buf lu = CDC_BUF_INIT, lb = CDC_BUF_INIT;

        ice_uuid4(uuid);
        cdc_buf_printf(&lu, "%s/metadata/snap-%" PRId64 "-1-%s.avro", m->location, c->snapshot_id,
                       uuid);
        c->list_uri = cdc_xstrdup(cdc_buf_str(&lu));
        cdc_buf_free(&lu);
        if (ice_manifest_list_write(all, n, c->snapshot_id, parent_id, seq, &lb, err) != 0 ||
            ice_store_put(c->st, c->list_uri, lb.data, lb.len, err) != 0) {
            cdc_buf_free(&lb);
            cdc_err_wrap(err, "table %s.%s: manifest list", c->ns, c->name);
            goto done;
        }
        cdc_buf_free(&lb);

        ice_summary_delta d = { 0 };
        bool dels = false, datas = false;

        for (int i = 0; i < c->nfiles; i++) {
            const ice_datafile *f = &c->files[i].f;

            if (f->content == ICE_CONTENT_DATA) {
                datas = true;
                d.added_data_files++;
                d.added_records += f->record_count;
            } else {
                dels = true;
                d.added_delete_files++;
                d.added_position_delete_files++;
                d.added_position_deletes += f->record_count;
            }
            d.added_files_size += f->file_size;
        }
        d.changed_partitions = ice_commit_changed_partitions(c);
        if (c->nremoved > 0) {
            d.deleted_data_files = c->rm.deleted_data_files;
            d.deleted_records = c->rm.deleted_records;
            d.removed_files_size = c->rm.removed_files_size;
            d.removed_delete_files = c->rm.removed_delete_files;
            d.removed_position_deletes = c->rm.removed_position_deletes;
        }
        /* Java's operations: FastAppend "append"; a RowDelta "overwrite", or "delete" when it
           adds delete files only (BaseRowDelta.operation) */
        const char *op = c->nremoved > 0 ? "replace" : !dels ? "append"
                         : datas ? "overwrite" : "delete";
        ice_snapshot snap = { .id = c->snapshot_id, .parent_id = parent_id,
                              .sequence_number = seq,
                              .timestamp_ms = now > m->last_updated_ms ? now : m->last_updated_ms + 1,
                              .manifest_list = c->list_uri, .schema_id = m->current_schema_id };

        ice_snapshot_summarize(&snap, op, parent, &d, c->sum, c->nsum);
        int r = ice_meta_add_snapshot(m, &snap, err);

        snap.manifest_list = NULL;
        ice_snapshot_clear(&snap);
        if (r != 0) {
            cdc_err_wrap(err, "table %s.%s", c->ns, c->name);
            goto done;
        }
    } else {
        m->last_updated_ms = now > m->last_updated_ms ? now : m->last_updated_ms + 1;
    }

    if (!ice_commit_is_rest(c->cat)) {
        /* SQL: the next metadata file, durable before the swap */
        if (current->metadata_location) {
            ice_meta_log_previous(m, current->metadata_location, base_last_updated);
            if (m->nmetalog > ICE_METALOG_MAX) {
                int drop = m->nmetalog - ICE_METALOG_MAX;

                for (int i = 0; i < drop; i++)
                    free(m->metalog[i].file);
                memmove(m->metalog, m->metalog + drop,
                        (size_t) ICE_METALOG_MAX * sizeof(ice_log_entry));
                m->nmetalog = ICE_METALOG_MAX;
            }
        }
        if ((c->new_json = ice_meta_to_json(m, err)) == NULL)
            goto done;
        c->new_location = ice_meta_next_location(m->location, current->metadata_location);
        if (ice_commit_put_text(c->st, c->new_location, c->new_json, err) != 0) {
            cdc_err_wrap(err, "table %s.%s: metadata", c->ns, c->name);
            goto done;
        }
        cm->base_location = current->metadata_location;
        cm->new_location = c->new_location;
        cm->new_metadata_json = c->new_json;
    } else {
        /* REST: requirements and updates; the server writes the metadata file */
        req = json_array();
        upd = json_array();
        if ((c->new_json = ice_meta_to_json(m, err)) == NULL)
            goto done;
        if (ice_rest_req_assert_uuid(req, m->uuid, err) != 0 ||
            ice_rest_req_assert_ref_snapshot(req, "main", parent_id, err) != 0)
            goto done;
        if (c->schema && ice_rest_req_assert_schema_id(req, base_schema_id, err) != 0)
            goto done;
        if (new_schema) {
            json_t *sj = ice_schema_to_json(ice_meta_schema(m, set_schema_id));
            char *st = json_dumps(sj, JSON_COMPACT);

            json_decref(sj);
            int r = st ? ice_rest_upd_add_schema(upd, st, err)
                       : cdc_err_set(err, CDC_E_NOMEM, "schema JSON");

            free(st);
            if (r != 0 || ice_rest_upd_set_current_schema(upd, -1, err) != 0)
                goto done;
        } else if (c->schema && set_schema_id != base_schema_id) {
            if (ice_rest_upd_set_current_schema(upd, set_schema_id, err) != 0)
                goto done;
        }
        if (make_snapshot) {
            if ((snap_text = snapshot_json_of(c->new_json, c->snapshot_id, err)) == NULL ||
                ice_rest_upd_add_snapshot(upd, snap_text, err) != 0 ||
                ice_rest_upd_set_ref(upd, "main", c->snapshot_id, err) != 0)
                goto done;
        }
        c->req_json = json_dumps(req, JSON_COMPACT);
        c->upd_json = json_dumps(upd, JSON_COMPACT);
        if (c->req_json == NULL || c->upd_json == NULL) {
            cdc_err_set(err, CDC_E_NOMEM, "table %s.%s: commit JSON", c->ns, c->name);
            goto done;
        }
        cm->base_location = current->metadata_location;
        cm->new_metadata_json = c->new_json;
        cm->requirements_json = c->req_json;
        cm->updates_json = c->upd_json;
    }
    c->built = m;
    m = NULL;
    rc = 0;
done:
    json_decref(req);
    json_decref(upd);
    free(snap_text);
    free(all);
    free(pview);
    ice_manifest_files_free(pm, npm);
    ice_meta_free(m);
    return rc;
}

int
ice_commit_run(ice_commit *c, int max_attempts, ice_meta **committed, cdc_err *err)
{
    ice_cat_table out = { 0 };
    int rc;

    if (committed)
        *committed = NULL;
    if (c == NULL)
        return cdc_err_set(err, CDC_E_INVAL, "iceberg commit: NULL");
    c->builds = 0;
    rc = ice_cat_commit_retry(c->cat, &c->id, max_attempts, build, c, &out, err);
    if (rc == ICE_CAT_CONFLICT && !ice_commit_is_rest(c->cat))
        drop_lost_attempt(c);
    if (rc == -1 && c->already) {
        /* the table holds our snapshot: a previous run's commit went in */
        cdc_err_clear(err);
        if (committed) {
            *committed = c->built;
            c->built = NULL;
        }
        c->already = false;
        ice_cat_table_free(&out);
        return ICE_CAT_OK;
    }
    if (rc != ICE_CAT_OK) {
        ice_cat_table_free(&out);
        return rc;
    }
    /* our manifests that went into a merged one: no snapshot names them */
    for (int i = 0; i < c->nmfs && c->mf_merged; i++)
        if (c->mf_merged[i]) {
            cdc_err ignored;

            (void) ice_store_delete(c->st, c->mfs[i].path, &ignored);
        }
    if (committed) {
        if (out.metadata_json) {
            /* REST: the server's document (field ids and files as it wrote them) */
            *committed = ice_commit_meta_of(c->st, &out, err);
            if (*committed == NULL) {
                /* committed all the same: fall back to what we built */
                cdc_err_clear(err);
                *committed = c->built;
                c->built = NULL;
            }
        } else {
            *committed = c->built;
            c->built = NULL;
        }
    }
    ice_cat_table_free(&out);
    return ICE_CAT_OK;
}
