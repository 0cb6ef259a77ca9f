/*
 * Table metadata JSON; see ice_meta.h.  Field order follows Java's
 * TableMetadataParser so that files diff well against other writers'.
 */
#include "sinks/iceberg/ice_meta.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "agent/core/cdc_mem.h"

static void
random_bytes(uint8_t *b, size_t n)
{
    if (getrandom(b, n, 0) == (ssize_t) n)
        return;
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t) ts.tv_nsec * 6364136223846793005ULL ^ (uint64_t) ts.tv_sec;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b[i] = (uint8_t) x;
    }
}

void
ice_uuid4(char out[37])
{
    uint8_t b[16];

    random_bytes(b, sizeof(b));
    b[6] = (uint8_t) ((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t) ((b[8] & 0x3f) | 0x80);
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

int64_t
ice_new_snapshot_id(void)
{
    uint64_t v = 0;

    while (v == 0) {
        random_bytes((uint8_t *) &v, sizeof(v));
        v &= INT64_MAX;
    }
    return (int64_t) v;
}

ice_meta *
ice_meta_new(const char *location, const ice_schema *s, const ice_spec *sp,
             int32_t last_column_id, int32_t last_partition_id, const char *uuid, int64_t now_ms)
{
    ice_meta *m = cdc_xcalloc(1, sizeof(*m));

    m->format_version = 2;
    if (uuid)
        snprintf(m->uuid, sizeof(m->uuid), "%s", uuid);
    else
        ice_uuid4(m->uuid);
    m->location = cdc_xstrdup(location);
    m->last_updated_ms = now_ms;
    m->last_column_id = last_column_id;
    m->current_schema_id = s->schema_id;
    m->nschemas = 1;
    m->schemas = cdc_xcalloc(1, sizeof(ice_schema *));
    m->schemas[0] = ice_schema_dup(s);
    m->default_spec_id = sp->spec_id;
    m->nspecs = 1;
    m->specs = cdc_xcalloc(1, sizeof(ice_spec *));
    m->specs[0] = ice_spec_dup(sp);
    m->last_partition_id = last_partition_id;
    m->current_snapshot_id = -1;
    return m;
}

void
ice_snapshot_clear(ice_snapshot *s)
{
    if (s == NULL)
        return;
    free(s->manifest_list);
    for (int i = 0; i < s->nsummary; i++) {
        free(s->summary[i].key);
        free(s->summary[i].value);
    }
    free(s->summary);
    s->manifest_list = NULL;
    s->summary = NULL;
    s->nsummary = 0;
}

void
ice_meta_free(ice_meta *m)
{
    if (m == NULL)
        return;
    free(m->location);
    for (int i = 0; i < m->nschemas; i++)
        ice_schema_free(m->schemas[i]);
    free(m->schemas);
    for (int i = 0; i < m->nspecs; i++)
        ice_spec_free(m->specs[i]);
    free(m->specs);
    for (int i = 0; i < m->nprops; i++) {
        free(m->props[i].key);
        free(m->props[i].value);
    }
    free(m->props);
    for (int i = 0; i < m->nsnapshots; i++)
        ice_snapshot_clear(&m->snapshots[i]);
    free(m->snapshots);
    free(m->snaplog);
    for (int i = 0; i < m->nmetalog; i++)
        free(m->metalog[i].file);
    free(m->metalog);
    free(m);
}

static void
kv_set(ice_kv **kv, int *n, const char *key, const char *value)
{
    for (int i = 0; i < *n; i++)
        if (strcmp((*kv)[i].key, key) == 0) {
            free((*kv)[i].value);
            (*kv)[i].value = cdc_xstrdup(value);
            return;
        }
    *kv = cdc_xrealloc(*kv, ((size_t) *n + 1) * sizeof(ice_kv));
    (*kv)[*n].key = cdc_xstrdup(key);
    (*kv)[*n].value = cdc_xstrdup(value);
    (*n)++;
}

int
ice_meta_set_prop(ice_meta *m, const char *key, const char *value)
{
    kv_set(&m->props, &m->nprops, key, value);
    return 0;
}

const char *
ice_meta_prop(const ice_meta *m, const char *key)
{
    for (int i = 0; i < m->nprops; i++)
        if (strcmp(m->props[i].key, key) == 0)
            return m->props[i].value;
    return NULL;
}

const ice_schema *
ice_meta_schema(const ice_meta *m, int32_t schema_id)
{
    for (int i = 0; i < m->nschemas; i++)
        if (m->schemas[i]->schema_id == schema_id)
            return m->schemas[i];
    return NULL;
}

const ice_spec *
ice_meta_spec(const ice_meta *m, int32_t spec_id)
{
    for (int i = 0; i < m->nspecs; i++)
        if (m->specs[i]->spec_id == spec_id)
            return m->specs[i];
    return NULL;
}

int
ice_meta_add_schema(ice_meta *m, const ice_schema *s, int32_t last_column_id, cdc_err *err)
{
    if (ice_meta_schema(m, s->schema_id))
        return cdc_err_set(err, CDC_E_INVAL, "table %s: schema id %d exists already", m->location,
                           (int) s->schema_id);
    if (last_column_id < m->last_column_id || ice_schema_max_id(s) > last_column_id)
        return cdc_err_set(err, CDC_E_INVAL, "table %s: last-column-id %d would go backwards or "
                           "below schema %d's highest id", m->location, (int) last_column_id,
                           (int) s->schema_id);
    m->schemas = cdc_xrealloc(m->schemas, ((size_t) m->nschemas + 1) * sizeof(ice_schema *));
    m->schemas[m->nschemas++] = ice_schema_dup(s);
    m->current_schema_id = s->schema_id;
    m->last_column_id = last_column_id;
    return 0;
}

const ice_snapshot *
ice_meta_current(const ice_meta *m)
{
    if (m->current_snapshot_id < 0)
        return NULL;
    for (int i = 0; i < m->nsnapshots; i++)
        if (m->snapshots[i].id == m->current_snapshot_id)
            return &m->snapshots[i];
    return NULL;
}

const char *
ice_snapshot_get(const ice_snapshot *s, const char *key)
{
    for (int i = 0; i < s->nsummary; i++)
        if (strcmp(s->summary[i].key, key) == 0)
            return s->summary[i].value;
    return NULL;
}

static void
snapshot_copy(ice_snapshot *d, const ice_snapshot *s)
{
    *d = *s;
    d->manifest_list = cdc_xstrdup(s->manifest_list);
    d->summary = NULL;
    d->nsummary = 0;
    for (int i = 0; i < s->nsummary; i++)
        kv_set(&d->summary, &d->nsummary, s->summary[i].key, s->summary[i].value);
}

int
ice_meta_add_snapshot(ice_meta *m, const ice_snapshot *snap, cdc_err *err)
{
    if (snap->sequence_number != m->last_sequence_number + 1)
        return cdc_err_set(err, CDC_E_INVAL, "table %s: snapshot %" PRId64 " has sequence number %"
                           PRId64 ", the next one is %" PRId64, m->location, snap->id,
                           snap->sequence_number, m->last_sequence_number + 1);
    if (snap->parent_id != m->current_snapshot_id && !(snap->parent_id < 0 && m->current_snapshot_id < 0))
        return cdc_err_set(err, CDC_E_INVAL, "table %s: snapshot %" PRId64 "'s parent %" PRId64
                           " is not the current snapshot %" PRId64, m->location, snap->id,
                           snap->parent_id, m->current_snapshot_id);
    if (snap->manifest_list == NULL || ice_snapshot_get(snap, "operation") == NULL)
        return cdc_err_set(err, CDC_E_INVAL, "table %s: snapshot %" PRId64 " lacks a manifest "
                           "list or a summary operation", m->location, snap->id);
    for (int i = 0; i < m->nsnapshots; i++)
        if (m->snapshots[i].id == snap->id)
            return cdc_err_set(err, CDC_E_INVAL, "table %s: snapshot id %" PRId64 " exists",
                               m->location, snap->id);
    m->snapshots = cdc_xrealloc(m->snapshots, ((size_t) m->nsnapshots + 1) * sizeof(ice_snapshot));
    snapshot_copy(&m->snapshots[m->nsnapshots++], snap);
    m->snaplog = cdc_xrealloc(m->snaplog, ((size_t) m->nsnaplog + 1) * sizeof(ice_log_entry));
    m->snaplog[m->nsnaplog++] = (ice_log_entry) { .timestamp_ms = snap->timestamp_ms,
                                                  .snapshot_id = snap->id };
    m->current_snapshot_id = snap->id;
    m->last_sequence_number = snap->sequence_number;
    if (snap->timestamp_ms > m->last_updated_ms)
        m->last_updated_ms = snap->timestamp_ms;
    return 0;
}

void
ice_meta_log_previous(ice_meta *m, const char *file, int64_t timestamp_ms)
{
    m->metalog = cdc_xrealloc(m->metalog, ((size_t) m->nmetalog + 1) * sizeof(ice_log_entry));
    m->metalog[m->nmetalog++] = (ice_log_entry) { .timestamp_ms = timestamp_ms,
                                                  .file = cdc_xstrdup(file) };
}

static void
sum_put(ice_snapshot *snap, const char *key, int64_t v, bool always)
{
    char num[24];

    if (v == 0 && !always)
        return;
    snprintf(num, sizeof(num), "%" PRId64, v);
    kv_set(&snap->summary, &snap->nsummary, key, num);
}

/* parent's total `key` plus delta, or nothing when the parent lacks it */
static void
sum_total(ice_snapshot *snap, const ice_snapshot *parent, const char *key, int64_t delta)
{
    int64_t base = 0;

    if (parent) {
        const char *v = ice_snapshot_get(parent, key);
        char *end;

        if (v == NULL)
            return;
        base = strtoll(v, &end, 10);
        if (*end)
            return;
    }
    sum_put(snap, key, base + delta, true);
}

void
ice_snapshot_summarize(ice_snapshot *snap, const char *operation, const ice_snapshot *parent,
                       const ice_summary_delta *d, const ice_kv *extra, int nextra)
{
    kv_set(&snap->summary, &snap->nsummary, "operation", operation);
    sum_put(snap, "added-data-files", d->added_data_files, false);
    sum_put(snap, "added-records", d->added_records, false);
    sum_put(snap, "added-files-size", d->added_files_size, false);
    sum_put(snap, "added-delete-files", d->added_delete_files, false);
    sum_put(snap, "added-position-delete-files", d->added_position_delete_files, false);
    sum_put(snap, "added-position-deletes", d->added_position_deletes, false);
    sum_put(snap, "deleted-data-files", d->deleted_data_files, false);
    sum_put(snap, "deleted-records", d->deleted_records, false);
    sum_put(snap, "removed-files-size", d->removed_files_size, false);
    sum_put(snap, "removed-delete-files", d->removed_delete_files, false);
    sum_put(snap, "removed-position-deletes", d->removed_position_deletes, false);
    sum_put(snap, "changed-partition-count", d->changed_partitions, true);
    sum_total(snap, parent, "total-records", d->added_records - d->deleted_records);
    sum_total(snap, parent, "total-files-size", d->added_files_size - d->removed_files_size);
    sum_total(snap, parent, "total-data-files", d->added_data_files - d->deleted_data_files);
    sum_total(snap, parent, "total-delete-files", d->added_delete_files - d->removed_delete_files);
    sum_total(snap, parent, "total-position-deletes",
              d->added_position_deletes - d->removed_position_deletes);
    sum_total(snap, parent, "total-equality-deletes", 0);
    for (int i = 0; i < nextra; i++)
        kv_set(&snap->summary, &snap->nsummary, extra[i].key, extra[i].value);
}

/* ---- writing ---- */

static json_t *
snapshot_json(const ice_snapshot *s)
{
    json_t *j = json_object(), *sum = json_object();

    json_object_set_new(j, "snapshot-id", json_integer(s->id));
    if (s->parent_id >= 0)
        json_object_set_new(j, "parent-snapshot-id", json_integer(s->parent_id));
    json_object_set_new(j, "sequence-number", json_integer(s->sequence_number));
    json_object_set_new(j, "timestamp-ms", json_integer(s->timestamp_ms));
    for (int i = 0; i < s->nsummary; i++)
        json_object_set_new(sum, s->summary[i].key, json_string(s->summary[i].value));
    json_object_set_new(j, "summary", sum);
    json_object_set_new(j, "manifest-list", json_string(s->manifest_list));
    if (s->schema_id >= 0)
        json_object_set_new(j, "schema-id", json_integer(s->schema_id));
    return j;
}

char *
ice_meta_to_json(const ice_meta *m, cdc_err *err)
{
    json_t *j = json_object(), *a, *o;
    char *text;

    json_object_set_new(j, "format-version", json_integer(m->format_version));
    json_object_set_new(j, "table-uuid", json_string(m->uuid));
    json_object_set_new(j, "location", json_string(m->location));
    json_object_set_new(j, "last-sequence-number", json_integer(m->last_sequence_number));
    json_object_set_new(j, "last-updated-ms", json_integer(m->last_updated_ms));
    json_object_set_new(j, "last-column-id", json_integer(m->last_column_id));
    json_object_set_new(j, "current-schema-id", json_integer(m->current_schema_id));
    a = json_array();
    for (int i = 0; i < m->nschemas; i++)
        json_array_append_new(a, ice_schema_to_json(m->schemas[i]));
    json_object_set_new(j, "schemas", a);
    json_object_set_new(j, "default-spec-id", json_integer(m->default_spec_id));
    a = json_array();
    for (int i = 0; i < m->nspecs; i++)
        json_array_append_new(a, ice_spec_to_json(m->specs[i]));
    json_object_set_new(j, "partition-specs", a);
    json_object_set_new(j, "last-partition-id", json_integer(m->last_partition_id));
    json_object_set_new(j, "default-sort-order-id", json_integer(0));
    json_object_set_new(j, "sort-orders", json_pack("[{s:i, s:[]}]", "order-id", 0, "fields"));
    o = json_object();
    for (int i = 0; i < m->nprops; i++)
        json_object_set_new(o, m->props[i].key, json_string(m->props[i].value));
    json_object_set_new(j, "properties", o);
    json_object_set_new(j, "current-snapshot-id", json_integer(m->current_snapshot_id));
    o = json_object();
    if (m->current_snapshot_id >= 0)
        json_object_set_new(o, "main", json_pack("{s:I, s:s}", "snapshot-id",
                                                 (json_int_t) m->current_snapshot_id, "type",
                                                 "branch"));
    json_object_set_new(j, "refs", o);
    a = json_array();
    for (int i = 0; i < m->nsnapshots; i++)
        json_array_append_new(a, snapshot_json(&m->snapshots[i]));
    json_object_set_new(j, "snapshots", a);
    json_object_set_new(j, "statistics", json_array());
    json_object_set_new(j, "partition-statistics", json_array());
    a = json_array();
    for (int i = 0; i < m->nsnaplog; i++)
        json_array_append_new(a, json_pack("{s:I, s:I}", "timestamp-ms",
                                           (json_int_t) m->snaplog[i].timestamp_ms, "snapshot-id",
                                           (json_int_t) m->snaplog[i].snapshot_id));
    json_object_set_new(j, "snapshot-log", a);
    a = json_array();
    for (int i = 0; i < m->nmetalog; i++)
        json_array_append_new(a, json_pack("{s:I, s:s}", "timestamp-ms",
                                           (json_int_t) m->metalog[i].timestamp_ms,
                                           "metadata-file", m->metalog[i].file));
    json_object_set_new(j, "metadata-log", a);
    text = json_dumps(j, JSON_INDENT(2));
    json_decref(j);
    if (text == NULL)
        cdc_err_set(err, CDC_E_NOMEM, "table %s: metadata JSON text", m->location);
    return text;
}

/* ---- reading ---- */

static int
get_i64(const json_t *j, const char *key, bool required, int64_t dflt, int64_t *out,
        const char *where, cdc_err *err)
{
    json_t *v = json_object_get(j, key);

    if (v == NULL || json_is_null(v)) {
        if (required)
            return cdc_err_set(err, CDC_E_DEST, "%s: \"%s\" is missing", where, key);
        *out = dflt;
        return 0;
    }
    if (!json_is_integer(v))
        return cdc_err_set(err, CDC_E_DEST, "%s: \"%s\" is not an integer", where, key);
    *out = json_integer_value(v);
    return 0;
}

static int
read_snapshot(const json_t *j, ice_snapshot *s, const char *where, cdc_err *err)
{
    json_t *sum = json_object_get(j, "summary"), *ml = json_object_get(j, "manifest-list");
    int64_t sid;
    const char *k;
    json_t *v;

    memset(s, 0, sizeof(*s));
    if (get_i64(j, "snapshot-id", true, 0, &s->id, where, err) != 0 ||
        get_i64(j, "parent-snapshot-id", false, -1, &s->parent_id, where, err) != 0 ||
        get_i64(j, "sequence-number", false, 0, &s->sequence_number, where, err) != 0 ||
        get_i64(j, "timestamp-ms", true, 0, &s->timestamp_ms, where, err) != 0 ||
        get_i64(j, "schema-id", false, -1, &sid, where, err) != 0)
        return -1;
    s->schema_id = (int32_t) sid;
    if (!json_is_string(ml))
        return cdc_err_set(err, CDC_E_DEST, "%s: snapshot %" PRId64 " has no manifest-list "
                           "(v1 manifests arrays are not read)", where, s->id);
    s->manifest_list = cdc_xstrdup(json_string_value(ml));
    if (json_is_object(sum))
        json_object_foreach(sum, k, v) {
            if (json_is_string(v))
                kv_set(&s->summary, &s->nsummary, k, json_string_value(v));
        }
    return 0;
}

ice_meta *
ice_meta_from_json(const char *text, size_t len, const char *where, cdc_err *err)
{
    json_error_t je;
    json_t *j = json_loadb(text, len, 0, &je), *a, *v;
    ice_meta *m = cdc_xcalloc(1, sizeof(*m));
    int64_t x;
    size_t i;
    const char *k;

    m->current_snapshot_id = -1;
    if (j == NULL || !json_is_object(j)) {
        cdc_err_set(err, CDC_E_DEST, "%s: not JSON metadata (line %d: %s)", where, je.line,
                    j ? "not an object" : je.text);
        goto fail;
    }
    if (get_i64(j, "format-version", true, 0, &x, where, err) != 0)
        goto fail;
    if (x < 1 || x > 3) {
        cdc_err_set(err, CDC_E_DEST, "%s: format-version %" PRId64 " is not one this sink reads",
                    where, x);
        goto fail;
    }
    m->format_version = (int) x;
    v = json_object_get(j, "table-uuid");
    if (json_is_string(v))
        snprintf(m->uuid, sizeof(m->uuid), "%s", json_string_value(v));
    v = json_object_get(j, "location");
    if (!json_is_string(v)) {
        cdc_err_set(err, CDC_E_DEST, "%s: \"location\" is missing", where);
        goto fail;
    }
    m->location = cdc_xstrdup(json_string_value(v));
    if (get_i64(j, "last-sequence-number", m->format_version >= 2, 0, &m->last_sequence_number,
                where, err) != 0 ||
        get_i64(j, "last-updated-ms", true, 0, &m->last_updated_ms, where, err) != 0 ||
        get_i64(j, "last-column-id", true, 0, &x, where, err) != 0)
        goto fail;
    m->last_column_id = (int32_t) x;

    a = json_object_get(j, "schemas");
    if (json_is_array(a)) {
        json_array_foreach(a, i, v) {
            ice_schema *s = ice_schema_from_json(v, err);

            if (s == NULL) {
                cdc_err_wrap(err, "%s", where);
                goto fail;
            }
            m->schemas = cdc_xrealloc(m->schemas, ((size_t) m->nschemas + 1) * sizeof(*m->schemas));
            m->schemas[m->nschemas++] = s;
        }
        if (get_i64(j, "current-schema-id", true, 0, &x, where, err) != 0)
            goto fail;
        m->current_schema_id = (int32_t) x;
    } else if ((v = json_object_get(j, "schema")) != NULL) {
        ice_schema *s = ice_schema_from_json(v, err);

        if (s == NULL) {
            cdc_err_wrap(err, "%s", where);
            goto fail;
        }
        m->schemas = cdc_xcalloc(1, sizeof(*m->schemas));
        m->schemas[m->nschemas++] = s;
        m->current_schema_id = s->schema_id;
    }
    if (ice_meta_schema(m, m->current_schema_id) == NULL) {
        cdc_err_set(err, CDC_E_DEST, "%s: current-schema-id %d names no schema", where,
                    (int) m->current_schema_id);
        goto fail;
    }

    a = json_object_get(j, "partition-specs");
    if (json_is_array(a)) {
        json_array_foreach(a, i, v) {
            ice_spec *sp = ice_spec_from_json(v, err);

            if (sp == NULL) {
                cdc_err_wrap(err, "%s", where);
                goto fail;
            }
            m->specs = cdc_xrealloc(m->specs, ((size_t) m->nspecs + 1) * sizeof(*m->specs));
            m->specs[m->nspecs++] = sp;
        }
        if (get_i64(j, "default-spec-id", true, 0, &x, where, err) != 0)
            goto fail;
        m->default_spec_id = (int32_t) x;
    } else if (json_is_array(v = json_object_get(j, "partition-spec"))) {
        json_t *wrap = json_pack("{s:i, s:O}", "spec-id", 0, "fields", v);
        ice_spec *sp = ice_spec_from_json(wrap, err);

        json_decref(wrap);
        if (sp == NULL) {
            cdc_err_wrap(err, "%s", where);
            goto fail;
        }
        m->specs = cdc_xcalloc(1, sizeof(*m->specs));
        m->specs[m->nspecs++] = sp;
    }
    if (ice_meta_spec(m, m->default_spec_id) == NULL) {
        cdc_err_set(err, CDC_E_DEST, "%s: default-spec-id %d names no partition spec", where,
                    (int) m->default_spec_id);
        goto fail;
    }
    if (get_i64(j, "last-partition-id", false, 999, &x, where, err) != 0)
        goto fail;
    m->last_partition_id = (int32_t) x;

    v = json_object_get(j, "properties");
    if (json_is_object(v)) {
        json_t *pv;

        json_object_foreach(v, k, pv) {
            if (json_is_string(pv))
                kv_set(&m->props, &m->nprops, k, json_string_value(pv));
        }
    }

    a = json_object_get(j, "snapshots");
    if (json_is_array(a))
        json_array_foreach(a, i, v) {
            m->snapshots = cdc_xrealloc(m->snapshots,
                                        ((size_t) m->nsnapshots + 1) * sizeof(ice_snapshot));
            if (read_snapshot(v, &m->snapshots[m->nsnapshots], where, err) != 0) {
                ice_snapshot_clear(&m->snapshots[m->nsnapshots]);
                goto fail;
            }
            m->nsnapshots++;
        }
    /* The main branch wins over current-snapshot-id where both are there. */
    v = json_object_get(json_object_get(j, "refs"), "main");
    if (v && get_i64(v, "snapshot-id", true, 0, &m->current_snapshot_id, where, err) != 0)
        goto fail;
    if (v == NULL && get_i64(j, "current-snapshot-id", false, -1, &m->current_snapshot_id, where,
                             err) != 0)
        goto fail;
    if (m->current_snapshot_id >= 0 && ice_meta_current(m) == NULL) {
        cdc_err_set(err, CDC_E_DEST, "%s: the current snapshot %" PRId64 " is not in "
                    "\"snapshots\"", where, m->current_snapshot_id);
        goto fail;
    }

    a = json_object_get(j, "snapshot-log");
    if (json_is_array(a))
        json_array_foreach(a, i, v) {
            ice_log_entry e = { 0 };

            if (get_i64(v, "timestamp-ms", true, 0, &e.timestamp_ms, where, err) != 0 ||
                get_i64(v, "snapshot-id", true, 0, &e.snapshot_id, where, err) != 0)
                goto fail;
            m->snaplog = cdc_xrealloc(m->snaplog, ((size_t) m->nsnaplog + 1) * sizeof(e));
            m->snaplog[m->nsnaplog++] = e;
        }
    a = json_object_get(j, "metadata-log");
    if (json_is_array(a))
        json_array_foreach(a, i, v) {
            json_t *f = json_object_get(v, "metadata-file");
            int64_t ts;

            if (get_i64(v, "timestamp-ms", true, 0, &ts, where, err) != 0)
                goto fail;
            if (!json_is_string(f)) {
                cdc_err_set(err, CDC_E_DEST, "%s: a metadata-log entry has no metadata-file", where);
                goto fail;
            }
            ice_meta_log_previous(m, json_string_value(f), ts);
        }
    json_decref(j);
    return m;
fail:
    json_decref(j);
    ice_meta_free(m);
    return NULL;
}

int64_t
ice_meta_file_version(const char *loc)
{
    const char *base = loc ? strrchr(loc, '/') : NULL;
    char       *end;

    if (base == NULL)
        return -1;
    base++;
    if (*base < '0' || *base > '9')
        return -1;
    long long v = strtoll(base, &end, 10);

    if (*end != '-' || strstr(end, ".metadata.json") == NULL)
        return -1;
    return (int64_t) v;
}

char *
ice_meta_next_location(const char *location, const char *current)
{
    char    uuid[37];
    cdc_buf b = CDC_BUF_INIT;
    char   *out;

    ice_uuid4(uuid);
    cdc_buf_printf(&b, "%s/metadata/%05" PRId64 "-%s.metadata.json", location,
                   ice_meta_file_version(current) + 1, uuid);
    out = cdc_xstrdup(cdc_buf_str(&b));
    cdc_buf_free(&b);
    return out;
}
