/*
 * The REST catalog's TableRequirement and TableUpdate objects (rest-catalog-open-api.yaml),
 * and a CreateTableRequest made from a table metadata document.  See ice_rest.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinks/iceberg/catalog/ice_rest.h"

static int
append(json_t *arr, json_t *o, const char *what, cdc_err *err)
{
    if (!json_is_array(arr)) {
        json_decref(o);
        return cdc_err_set(err, CDC_E_INVAL, "%s: not given a JSON array to append to", what);
    }
    if (o == NULL || json_array_append_new(arr, o) < 0)
        return cdc_err_set(err, CDC_E_NOMEM, "%s: out of memory", what);
    return 0;
}

static json_t *
snapshot_id_value(int64_t id)
{
    return id < 0 ? json_null() : json_integer((json_int_t) id);
}

/* Parses an object argument; NULL with err naming what. */
static json_t *
object_arg(const char *text, const char *what, cdc_err *err)
{
    json_error_t je;
    json_t      *v = text ? json_loads(text, 0, &je) : NULL;

    if (text == NULL) {
        cdc_err_set(err, CDC_E_INVAL, "%s: no JSON given", what);
        return NULL;
    }
    if (v == NULL) {
        cdc_err_set(err, CDC_E_INVAL, "%s: not JSON: %s (line %d, column %d)", what, je.text,
                    je.line, je.column);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        cdc_err_set(err, CDC_E_INVAL, "%s: not a JSON object", what);
        return NULL;
    }
    return v;
}

int
ice_rest_req_assert_create(json_t *arr, cdc_err *err)
{
    return append(arr, json_pack("{s:s}", "type", "assert-create"), "assert-create", err);
}

int
ice_rest_req_assert_uuid(json_t *arr, const char *uuid, cdc_err *err)
{
    if (uuid == NULL || uuid[0] == '\0')
        return cdc_err_set(err, CDC_E_INVAL, "assert-table-uuid: empty uuid");
    return append(arr, json_pack("{s:s, s:s}", "type", "assert-table-uuid", "uuid", uuid),
                  "assert-table-uuid", err);
}

int
ice_rest_req_assert_ref_snapshot(json_t *arr, const char *ref, int64_t snapshot_id, cdc_err *err)
{
    return append(arr, json_pack("{s:s, s:s, s:o}", "type", "assert-ref-snapshot-id", "ref",
                                 ref ? ref : "main", "snapshot-id", snapshot_id_value(snapshot_id)),
                  "assert-ref-snapshot-id", err);
}

int
ice_rest_req_assert_schema_id(json_t *arr, int schema_id, cdc_err *err)
{
    return append(arr, json_pack("{s:s, s:i}", "type", "assert-current-schema-id",
                                 "current-schema-id", schema_id),
                  "assert-current-schema-id", err);
}

int
ice_rest_upd_add_snapshot(json_t *arr, const char *snapshot_json, cdc_err *err)
{
    json_t *s = object_arg(snapshot_json, "add-snapshot", err);

    if (s == NULL)
        return -1;
    if (!json_is_integer(json_object_get(s, "snapshot-id"))) {
        json_decref(s);
        return cdc_err_set(err, CDC_E_INVAL, "add-snapshot: the snapshot has no integer "
                           "\"snapshot-id\"");
    }
    return append(arr, json_pack("{s:s, s:o}", "action", "add-snapshot", "snapshot", s),
                  "add-snapshot", err);
}

int
ice_rest_upd_set_ref(json_t *arr, const char *ref, int64_t snapshot_id, cdc_err *err)
{
    if (snapshot_id < 0)
        return cdc_err_set(err, CDC_E_INVAL, "set-snapshot-ref: no snapshot id");
    return append(arr, json_pack("{s:s, s:s, s:s, s:I}", "action", "set-snapshot-ref", "ref-name",
                                 ref ? ref : "main", "type", "branch", "snapshot-id",
                                 (json_int_t) snapshot_id),
                  "set-snapshot-ref", err);
}

int
ice_rest_upd_add_schema(json_t *arr, const char *schema_json, cdc_err *err)
{
    json_t *s = object_arg(schema_json, "add-schema", err);

    if (s == NULL)
        return -1;
    return append(arr, json_pack("{s:s, s:o}", "action", "add-schema", "schema", s), "add-schema",
                  err);
}

int
ice_rest_upd_set_current_schema(json_t *arr, int schema_id, cdc_err *err)
{
    return append(arr, json_pack("{s:s, s:i}", "action", "set-current-schema", "schema-id",
                                 schema_id),
                  "set-current-schema", err);
}

int
ice_rest_upd_set_properties(json_t *arr, const char *key, const char *value, cdc_err *err)
{
    if (key == NULL || key[0] == '\0' || value == NULL)
        return cdc_err_set(err, CDC_E_INVAL, "set-properties: empty key or no value");
    return append(arr, json_pack("{s:s, s:{s:s}}", "action", "set-properties", "updates", key,
                                 value),
                  "set-properties", err);
}

/* The element of md[list] whose id_field equals md[current_field]; NULL when absent. */
static json_t *
find_current(json_t *md, const char *list, const char *id_field, const char *current_field)
{
    json_t *arr = json_object_get(md, list), *cur = json_object_get(md, current_field), *e;
    size_t  i;

    if (!json_is_array(arr) || !json_is_integer(cur))
        return NULL;
    json_array_foreach(arr, i, e) {
        json_t *id = json_object_get(e, id_field);

        if (json_is_integer(id) && json_integer_value(id) == json_integer_value(cur))
            return e;
    }
    return NULL;
}

char *
ice_rest_create_request_from_metadata(const char *metadata_json, cdc_err *err)
{
    json_t     *md = object_arg(metadata_json, "CreateTableRequest from table metadata", err);
    json_t     *req = NULL, *schema, *spec, *order, *props, *fv, *loc;
    char       *out = NULL;
    const char *what = "CreateTableRequest from table metadata";

    if (md == NULL)
        return NULL;
    schema = find_current(md, "schemas", "schema-id", "current-schema-id");
    if (schema == NULL)
        schema = json_object_get(md, "schema");   /* format v1 */
    if (!json_is_object(schema)) {
        cdc_err_set(err, CDC_E_INVAL, "%s: no current schema (\"schemas\" with "
                    "\"current-schema-id\")", what);
        goto out;
    }
    req = json_object();
    json_object_set(req, "schema", schema);
    if ((loc = json_object_get(md, "location")) && json_is_string(loc))
        json_object_set(req, "location", loc);
    spec = find_current(md, "partition-specs", "spec-id", "default-spec-id");
    if (spec)
        json_object_set(req, "partition-spec", spec);
    else if (json_is_array(json_object_get(md, "partition-spec")))   /* format v1 */
        json_object_set_new(req, "partition-spec",
                            json_pack("{s:i, s:O}", "spec-id", 0, "fields",
                                      json_object_get(md, "partition-spec")));
    order = find_current(md, "sort-orders", "order-id", "default-sort-order-id");
    if (order)
        json_object_set(req, "write-order", order);
    props = json_object_get(md, "properties");
    props = json_is_object(props) ? json_deep_copy(props) : json_object();
    fv = json_object_get(md, "format-version");
    if (json_is_integer(fv)) {
        char v[24];

        snprintf(v, sizeof v, "%lld", (long long) json_integer_value(fv));
        json_object_set_new(props, "format-version", json_string(v));
    }
    json_object_set_new(req, "properties", props);
    if ((out = json_dumps(req, JSON_COMPACT)) == NULL)
        cdc_err_set(err, CDC_E_NOMEM, "%s: out of memory", what);
out:
    json_decref(req);
    json_decref(md);
    return out;
}

/* Appends {"action": action, key: value} (value taken); -1 with err. */
static int
upd(json_t *arr, const char *action, const char *key, json_t *value, cdc_err *err)
{
    json_t *o = value ? json_pack("{s:s, s:o}", "action", action, key, value) : NULL;

    return append(arr, o, action, err);
}

char *
ice_rest_create_updates_from_metadata(const char *metadata_json, cdc_err *err)
{
    const char *what = "table updates of a create from table metadata";
    json_t     *md = object_arg(metadata_json, what, err);
    json_t     *arr = NULL, *schema, *spec, *order, *v;
    char       *out = NULL;

    if (md == NULL)
        return NULL;
    schema = find_current(md, "schemas", "schema-id", "current-schema-id");
    spec = find_current(md, "partition-specs", "spec-id", "default-spec-id");
    order = find_current(md, "sort-orders", "order-id", "default-sort-order-id");
    if (!json_is_object(schema) || !json_is_object(spec) || !json_is_object(order) ||
        !json_is_string(json_object_get(md, "location")) ||
        !json_is_integer(json_object_get(md, "format-version")) ||
        !json_is_integer(json_object_get(md, "last-column-id"))) {
        cdc_err_set(err, CDC_E_INVAL, "%s: it needs format v2 metadata with the current schema, "
                    "partition spec and sort order, location, format-version and "
                    "last-column-id", what);
        goto out;
    }
    arr = json_array();
    if ((v = json_object_get(md, "table-uuid")) && json_is_string(v) &&
        upd(arr, "assign-uuid", "uuid", json_incref(v), err) < 0)
        goto out;
    if (upd(arr, "upgrade-format-version", "format-version",
            json_incref(json_object_get(md, "format-version")), err) < 0)
        goto out;
    /* add-schema keeps the schema's field ids (a CreateTableRequest's are assigned afresh) */
    if (append(arr, json_pack("{s:s, s:O, s:O}", "action", "add-schema", "schema", schema,
                              "last-column-id", json_object_get(md, "last-column-id")),
               "add-schema", err) < 0 ||
        ice_rest_upd_set_current_schema(arr, -1, err) < 0 ||
        upd(arr, "add-spec", "spec", json_incref(spec), err) < 0 ||
        upd(arr, "set-default-spec", "spec-id", json_integer(-1), err) < 0 ||
        upd(arr, "add-sort-order", "sort-order", json_incref(order), err) < 0 ||
        upd(arr, "set-default-sort-order", "sort-order-id", json_integer(-1), err) < 0 ||
        upd(arr, "set-location", "location", json_incref(json_object_get(md, "location")),
            err) < 0)
        goto out;
    v = json_object_get(md, "properties");
    if (json_is_object(v) && json_object_size(v) > 0 &&
        upd(arr, "set-properties", "updates", json_incref(v), err) < 0)
        goto out;
    if ((out = json_dumps(arr, JSON_COMPACT)) == NULL)
        cdc_err_set(err, CDC_E_NOMEM, "%s: out of memory", what);
out:
    json_decref(arr);
    json_decref(md);
    return out;
}
