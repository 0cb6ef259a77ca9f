/*
 * One Iceberg commit (ice_commit.h): the manifests of the added files are
 * written once, at the first build; each build (the first, and one per
 * conflict) writes a manifest list carrying the loaded table's manifests plus
 * ours, and for the SQL catalog the next metadata file; for REST it fills the
 * requirements and updates instead.
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
#include "sinks/iceberg/ice_table.h"
#include "sinks/iceberg/ice_value.h"

/* How many earlier metadata files the metadata-log keeps (write.metadata.previous-versions-max's
   default in Java and pyiceberg). */
#define ICE_METALOG_MAX 100

/* One added file, deep-copied. */
typedef struct added {
    ice_datafile f;
    int          npart;     /* -1: the caller gave no partition tuple */
} added;

struct ice_commit {
    ice_cat      *cat;
    ice_store    *st;
    char         *ns, *name;
    ice_cat_ident id;
    int64_t       snapshot_id;   /* chosen once: a rebuild and a retried run keep it */
    added        *files;
    int           nfiles;
    ice_schema   *schema;        /* ice_commit_set_schema, or NULL */
    ice_kv       *sum;
    int           nsum;
    /* written at the first build */
    bool               manifests_done;
    ice_manifest_file *mfs;
    int                nmfs;
    int32_t            mf_spec_id;
    int32_t            known_nparts;    /* the default spec's field count, -1 until loaded */
    /* the strings of the change handed to the catalog (valid until the next build) */
    char         *list_uri;
    char         *new_location;
    char         *new_json;
    char         *req_json, *upd_json;
    ice_meta     *built;         /* the metadata of the last build */
    bool              *mf_merged; /* per c->mfs: merged into another by the last build */
    ice_manifest_file *merged;   /* manifests this attempt wrote by merging (see merge) */
    int           nmerged;
    bool          already;       /* the build found our snapshot in the table */
    /* removals (a rewrite): paths, and what the last build found of them */
    char        **removed;
    int           nremoved;
    int64_t       base_id;       /* ice_commit_set_base, -1: none */
    ice_summary_delta rm;        /* the last build's removed counts */
    int           builds;        /* builds in this run: a second one follows a conflict */
};

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

/* ---- loading ---- */

static int
is_rest(const ice_cat *cat)
{
    return cat->ops && cat->ops->kind && strcmp(cat->ops->kind, "rest") == 0;
}

/* The metadata a catalog answer names: its JSON when handed over, else the file. */
static ice_meta *
meta_of(ice_store *st, const ice_cat_table *t, cdc_err *err)
{
    if (t->metadata_json)
        return ice_meta_from_json(t->metadata_json, strlen(t->metadata_json),
                                  t->metadata_location ? t->metadata_location : "metadata", err);
    if (t->metadata_location == NULL) {
        cdc_err_set(err, CDC_E_DEST, "the catalog named no metadata file");
        return NULL;
    }
    cdc_buf b = CDC_BUF_INIT;
    int rc = ice_store_get(st, t->metadata_location, 0, -1, &b, 0, err);

    if (rc != 0) {
        cdc_buf_free(&b);
        if (rc == 1)   /* the catalog names a file that is not there: not something to wait for */
            err->code = CDC_E_DEST;
        return NULL;
    }
    ice_meta *m = ice_meta_from_json((const char *) b.data, b.len, t->metadata_location, err);

    cdc_buf_free(&b);
    return m;
}

int
ice_commit_load(ice_cat *cat, ice_store *st, const ice_cat_ident *id, ice_meta **out,
                char **metadata_location, cdc_err *err)
{
    ice_cat_table t = { 0 };
    int rc;

    if (out)
        *out = NULL;
    if (metadata_location)
        *metadata_location = NULL;
    if (cat == NULL || st == NULL || id == NULL || out == NULL)
        return cdc_err_set(err, CDC_E_INVAL, "iceberg load: catalog, store, table and out are "
                           "required");
    rc = ice_cat_load(cat, id, &t, err);
    if (rc != ICE_CAT_OK)
        return rc;
    ice_meta *m = meta_of(st, &t, err);

    if (m == NULL) {
        cdc_err_wrap(err, "%s: table %s.%s", cat->what, id->ns, id->name);
        ice_cat_table_free(&t);
        return -1;
    }
    *out = m;
    if (metadata_location) {
        *metadata_location = t.metadata_location;
        t.metadata_location = NULL;
    }
    ice_cat_table_free(&t);
    return ICE_CAT_OK;
}

/* ---- creating ---- */

static int
put_text(ice_store *st, const char *uri, const char *text, cdc_err *err)
{
    return ice_store_put(st, uri, text, strlen(text), err);
}

int
ice_commit_create_table(ice_cat *cat, ice_store *st, const ice_cat_ident *id,
                        const char *location, const ice_schema *s, const ice_spec *sp,
                        const ice_kv *props, int nprops, ice_meta **created, cdc_err *err)
{
    if (created)
        *created = NULL;
    if (cat == NULL || st == NULL || id == NULL || location == NULL || s == NULL || sp == NULL)
        return cdc_err_set(err, CDC_E_INVAL, "iceberg create: catalog, store, table, location, "
                           "schema and spec are required");
    int32_t last_col = ice_schema_max_id(s), last_part = 999;

    for (int i = 0; i < sp->nfields; i++)
        if (sp->fields[i].field_id > last_part)
            last_part = sp->fields[i].field_id;
    int64_t now = cdc_wall_ms();
    ice_meta *m = ice_meta_new(location, s, sp, last_col, last_part, NULL, now);

    for (int i = 0; i < nprops; i++)
        ice_meta_set_prop(m, props[i].key, props[i].value);
    char *text = ice_meta_to_json(m, err);

    if (text == NULL) {
        ice_meta_free(m);
        return -1;
    }
    char uuid[37];
    cdc_buf uri = CDC_BUF_INIT;

    ice_uuid4(uuid);
    cdc_buf_printf(&uri, "%s/metadata/00000-%s.metadata.json", location, uuid);
    int rc = -1;
    ice_cat_table out = { 0 };

    if (!is_rest(cat) && put_text(st, cdc_buf_str(&uri), text, err) != 0) {
        cdc_err_wrap(err, "creating table %s.%s", id->ns, id->name);
        goto done;
    }
    ice_cat_new_table nt = { .metadata_location = cdc_buf_str(&uri), .metadata_json = text };

    rc = ice_cat_create(cat, id, &nt, &out, err);
    if (rc == ICE_CAT_EXISTS && !is_rest(cat)) {
        cdc_err ignored;   /* nothing names our first metadata file: the catalog changed nothing */

        (void) ice_store_delete(st, cdc_buf_str(&uri), &ignored);
    }
    if (rc != ICE_CAT_OK)
        goto done;     /* ICE_CAT_EXISTS passes through */
    if (created) {
        if (out.metadata_json || (out.metadata_location &&
                                  strcmp(out.metadata_location, cdc_buf_str(&uri)) != 0)) {
            *created = meta_of(st, &out, err);
            if (*created == NULL) {
                cdc_err_wrap(err, "%s: the created table %s.%s", cat->what, id->ns, id->name);
                rc = -1;
                goto done;
            }
        } else {
            *created = m;
            m = NULL;
        }
    }
done:
    ice_cat_table_free(&out);
    cdc_buf_free(&uri);
    free(text);
    ice_meta_free(m);
    return rc;
}

/* ---- building ---- */

static bool
table_has_snapshot(const ice_meta *m, int64_t id)
{
    for (int i = 0; i < m->nsnapshots; i++)
        if (m->snapshots[i].id == id)
            return true;
    return false;
}

/* A schema of m equal to s (ids, names, types, identifier fields), or NULL. */
static const ice_schema *
find_equal_schema(const ice_meta *m, const ice_schema *s)
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
static int
check_schema_ids(const ice_commit *c, const ice_meta *m, const ice_schema *s, cdc_err *err)
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
static int64_t
changed_partitions(const ice_commit *c)
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
static int
write_manifests(ice_commit *c, const ice_meta *m, const ice_schema *s, cdc_err *err)
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
static int
parent_manifests(ice_commit *c, const ice_meta *m, ice_manifest_file **out, int *nout,
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
static int
apply_removals(ice_commit *c, const ice_meta *m, const ice_schema *s, ice_manifest_file *pm,
               int npm, ice_manifest_file **view, cdc_err *err)
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
static int
merge_manifests(ice_commit *c, const ice_meta *m, const ice_schema *s, ice_manifest_file *pm,
                int npm, ice_manifest_file **out, int *nout, cdc_err *err)
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
    if ((m = meta_of(c->st, current, err)) == NULL)
        return cdc_err_wrap(err, "%s: table %s.%s", c->cat->what, c->ns, c->name);
    if (table_has_snapshot(m, c->snapshot_id)) {
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
    if (c->builds++ > 0 && !is_rest(c->cat))
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
        const ice_schema *eq = find_equal_schema(m, c->schema);

        if (eq) {
            set_schema_id = eq->schema_id;
        } else if (check_schema_ids(c, m, c->schema, err) != 0) {
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
        if (!c->manifests_done && write_manifests(c, m, schema, err) != 0)
            goto done;
        if (parent_manifests(c, m, &pm, &npm, err) != 0)
            goto done;
        if (c->nremoved > 0 && apply_removals(c, m, schema, pm, npm, &pview, err) != 0)
            goto done;
        int64_t seq = m->last_sequence_number + 1;
        int n = 0;

        for (int i = 0; i < c->nmfs; i++) {     /* ours: numbered by the list */
            c->mfs[i].sequence_number = -1;
            c->mfs[i].min_sequence_number = -1;
            c->mfs[i].added_snapshot_id = c->snapshot_id;
        }
        if (merge_manifests(c, m, schema, pview ? pview : pm, npm, &all, &n, err) != 0)
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
        d.changed_partitions = changed_partitions(c);
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

    if (!is_rest(c->cat)) {
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
        if (put_text(c->st, c->new_location, c->new_json, err) != 0) {
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
    if (rc == ICE_CAT_CONFLICT && !is_rest(c->cat))
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
            *committed = meta_of(c->st, &out, err);
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

/* ---- moving the main branch (rollback) ---- */

int
ice_commit_set_main(ice_cat *cat, ice_store *st, const ice_cat_ident *id, int64_t snapshot_id,
                    int64_t expected_current, ice_meta **committed, cdc_err *err)
{
    ice_cat_table  cur = { 0 }, out = { 0 };
    ice_cat_change cm = { 0 };
    ice_meta      *m = NULL;
    char          *new_json = NULL, *req_s = NULL, *upd_s = NULL, *new_loc = NULL;
    json_t        *req = NULL, *upd = NULL;
    int64_t        now = cdc_wall_ms(), base_updated;
    int            rc = -1;

    if (committed)
        *committed = NULL;
    if (cat == NULL || st == NULL || id == NULL || snapshot_id < 0)
        return cdc_err_set(err, CDC_E_INVAL, "iceberg set main: catalog, store, table and a "
                           "snapshot id are required");
    if ((rc = ice_cat_load(cat, id, &cur, err)) != ICE_CAT_OK)
        return rc;
    rc = -1;
    if ((m = meta_of(st, &cur, err)) == NULL) {
        cdc_err_wrap(err, "%s: table %s.%s", cat->what, id->ns, id->name);
        goto done;
    }
    if (!table_has_snapshot(m, snapshot_id)) {
        cdc_err_set(err, CDC_E_INVAL, "%s: table %s.%s has no snapshot %" PRId64 " (expired, "
                    "or of another table)", cat->what, id->ns, id->name, snapshot_id);
        goto done;
    }
    if (m->current_snapshot_id != expected_current) {
        cdc_err_set(err, CDC_E_STATE, "%s: table %s.%s: its current snapshot is %" PRId64
                    ", not %" PRId64 " as expected: someone committed meanwhile", cat->what,
                    id->ns, id->name, m->current_snapshot_id, expected_current);
        rc = ICE_CAT_CONFLICT;
        goto done;
    }
    base_updated = m->last_updated_ms;
    m->current_snapshot_id = snapshot_id;
    m->last_updated_ms = now > m->last_updated_ms ? now : m->last_updated_ms + 1;
    m->snaplog = cdc_xrealloc(m->snaplog, ((size_t) m->nsnaplog + 1) * sizeof(ice_log_entry));
    m->snaplog[m->nsnaplog++] = (ice_log_entry) { .timestamp_ms = m->last_updated_ms,
                                                   .snapshot_id = snapshot_id };
    if (!is_rest(cat)) {
        if (cur.metadata_location)
            ice_meta_log_previous(m, cur.metadata_location, base_updated);
        if ((new_json = ice_meta_to_json(m, err)) == NULL)
            goto done;
        new_loc = ice_meta_next_location(m->location, cur.metadata_location);
        if (put_text(st, new_loc, new_json, err) != 0) {
            cdc_err_wrap(err, "table %s.%s: metadata", id->ns, id->name);
            goto done;
        }
        cm.base_location = cur.metadata_location;
        cm.new_location = new_loc;
        cm.new_metadata_json = new_json;
    } else {
        req = json_array();
        upd = json_array();
        if ((new_json = ice_meta_to_json(m, err)) == NULL ||
            ice_rest_req_assert_uuid(req, m->uuid, err) != 0 ||
            ice_rest_req_assert_ref_snapshot(req, "main", expected_current, err) != 0 ||
            ice_rest_upd_set_ref(upd, "main", snapshot_id, err) != 0)
            goto done;
        req_s = json_dumps(req, JSON_COMPACT);
        upd_s = json_dumps(upd, JSON_COMPACT);
        if (req_s == NULL || upd_s == NULL) {
            cdc_err_set(err, CDC_E_NOMEM, "table %s.%s: commit JSON", id->ns, id->name);
            goto done;
        }
        cm.base_location = cur.metadata_location;
        cm.new_metadata_json = new_json;
        cm.requirements_json = req_s;
        cm.updates_json = upd_s;
    }
    rc = ice_cat_commit(cat, id, &cm, &out, err);
    if (rc == ICE_CAT_CONFLICT && new_loc) {
        cdc_err ignored;

        (void) ice_store_delete(st, new_loc, &ignored);   /* no catalog names it */
    }
    if (rc == ICE_CAT_OK && committed) {
        *committed = out.metadata_json ? meta_of(st, &out, err) : m;
        if (*committed == NULL) {
            cdc_err_clear(err);
            *committed = m;
        }
        if (*committed == m)
            m = NULL;
    }
done:
    json_decref(req);
    json_decref(upd);
    free(req_s);
    free(upd_s);
    free(new_json);
    free(new_loc);
    ice_meta_free(m);
    ice_cat_table_free(&cur);
    ice_cat_table_free(&out);
    return rc;
}
