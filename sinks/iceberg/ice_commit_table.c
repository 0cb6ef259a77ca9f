/*
 * An Iceberg table outside a commit's build (ice_commit.h): loading its
 * metadata from the catalog, creating it, and moving its main branch
 * (rollback).
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

/* ---- loading ---- */

int
ice_commit_is_rest(const ice_cat *cat)
{
    return cat->ops && cat->ops->kind && strcmp(cat->ops->kind, "rest") == 0;
}

/* The metadata a catalog answer names: its JSON when handed over, else the file. */
ice_meta *
ice_commit_meta_of(ice_store *st, const ice_cat_table *t, cdc_err *err)
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
    ice_meta *m = ice_commit_meta_of(st, &t, err);

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

int
ice_commit_put_text(ice_store *st, const char *uri, const char *text, cdc_err *err)
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

    if (!ice_commit_is_rest(cat) && ice_commit_put_text(st, cdc_buf_str(&uri), text, err) != 0) {
        cdc_err_wrap(err, "creating table %s.%s", id->ns, id->name);
        goto done;
    }
    ice_cat_new_table nt = { .metadata_location = cdc_buf_str(&uri), .metadata_json = text };

    rc = ice_cat_create(cat, id, &nt, &out, err);
    if (rc == ICE_CAT_EXISTS && !ice_commit_is_rest(cat)) {
        cdc_err ignored;   /* nothing names our first metadata file: the catalog changed nothing */

        (void) ice_store_delete(st, cdc_buf_str(&uri), &ignored);
    }
    if (rc != ICE_CAT_OK)
        goto done;     /* ICE_CAT_EXISTS passes through */
    if (created) {
        if (out.metadata_json || (out.metadata_location &&
                                  strcmp(out.metadata_location, cdc_buf_str(&uri)) != 0)) {
            *created = ice_commit_meta_of(st, &out, err);
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
    if ((m = ice_commit_meta_of(st, &cur, err)) == NULL) {
        cdc_err_wrap(err, "%s: table %s.%s", cat->what, id->ns, id->name);
        goto done;
    }
    if (!ice_commit_table_has_snapshot(m, snapshot_id)) {
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
    if (!ice_commit_is_rest(cat)) {
        if (cur.metadata_location)
            ice_meta_log_previous(m, cur.metadata_location, base_updated);
        if ((new_json = ice_meta_to_json(m, err)) == NULL)
            goto done;
        new_loc = ice_meta_next_location(m->location, cur.metadata_location);
        if (ice_commit_put_text(st, new_loc, new_json, err) != 0) {
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
        *committed = out.metadata_json ? ice_commit_meta_of(st, &out, err) : m;
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
