/*
 * Manifests and manifest lists in Avro; see ice_manifest.h.
 *
 * Each record is encoded by avro-c into `block`; ice_manifest_finish() wraps
 * the blocks in the object container format (spec of Avro 1.11, "Object
 * Container Files"): "Obj" 1, the metadata map, a 16-byte sync marker, then
 * blocks of (count, size, records, sync).  Codec "null": manifests are small
 * and every reader takes it.
 */
#include "sinks/iceberg/ice_manifest.h"

#include <avro.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "agent/core/cdc_mem.h"

#define BLOCK_MAX (1u << 20)

/* ---- Avro schema JSON ---- */

static json_t *
opt(json_t *t)
{
    return json_pack("[s, o]", "null", t);
}

static json_t *
field(const char *name, json_t *type, int id, bool optional)
{
    return optional ? json_pack("{s:s, s:o, s:n, s:i}", "name", name, "type", opt(type), "default",
                                "field-id", id)
                    : json_pack("{s:s, s:o, s:i}", "name", name, "type", type, "field-id", id);
}

/* Iceberg's map<int, T> in Avro: an array of key/value records. */
static json_t *
int_map(int kid, int vid, const char *vtype)
{
    char name[32];

    snprintf(name, sizeof(name), "k%d_v%d", kid, vid);
    return json_pack("{s:s, s:{s:s, s:s, s:[{s:s, s:s, s:i}, {s:s, s:s, s:i}]}, s:s}", "type",
                     "array", "items", "type", "record", "name", name, "fields", "name", "key",
                     "type", "int", "field-id", kid, "name", "value", "type", vtype, "field-id",
                     vid, "logicalType", "map");
}

static int
decimal_bytes_for(int p)
{
    return (int) ceil((log(pow(10, p) - 1) / log(2) + 1) / 8);
}

/* The Avro type of a primitive Iceberg value, as Java's AvroSchemaUtil names it;
   a named type already defined is referred to by name. */
static json_t *
avro_prim(const ice_type *t, json_t *named)
{
    char name[48];

    switch (t->kind) {
    case ICE_BOOLEAN: return json_string("boolean");
    case ICE_INT: return json_string("int");
    case ICE_LONG: return json_string("long");
    case ICE_FLOAT: return json_string("float");
    case ICE_DOUBLE: return json_string("double");
    case ICE_DATE: return json_pack("{s:s, s:s}", "type", "int", "logicalType", "date");
    case ICE_TIME: return json_pack("{s:s, s:s}", "type", "long", "logicalType", "time-micros");
    case ICE_TIMESTAMP:
    case ICE_TIMESTAMPTZ:
        return json_pack("{s:s, s:s, s:b}", "type", "long", "logicalType", "timestamp-micros",
                         "adjust-to-utc", t->kind == ICE_TIMESTAMPTZ);
    case ICE_STRING: return json_string("string");
    case ICE_BINARY: return json_string("bytes");
    default: break;
    }
    if (t->kind == ICE_DECIMAL)
        snprintf(name, sizeof(name), "decimal_%d_%d", (int) t->precision, (int) t->scale);
    else if (t->kind == ICE_UUID)
        snprintf(name, sizeof(name), "uuid_fixed");
    else
        snprintf(name, sizeof(name), "fixed_%d", (int) t->length);
    if (json_object_get(named, name))
        return json_string(name);
    json_object_set_new(named, name, json_true());
    if (t->kind == ICE_DECIMAL)
        return json_pack("{s:s, s:s, s:i, s:s, s:i, s:i}", "type", "fixed", "name", name, "size",
                         decimal_bytes_for(t->precision), "logicalType", "decimal", "precision",
                         (int) t->precision, "scale", (int) t->scale);
    if (t->kind == ICE_UUID)
        return json_pack("{s:s, s:s, s:i, s:s}", "type", "fixed", "name", name, "size", 16,
                         "logicalType", "uuid");
    return json_pack("{s:s, s:s, s:i}", "type", "fixed", "name", name, "size", (int) t->length);
}

static json_t *
entry_schema(const ice_spec *sp, const ice_type *ptypes)
{
    json_t *named = json_object();
    json_t *pfields = json_array();

    for (int i = 0; i < sp->nfields; i++)
        json_array_append_new(pfields, field(sp->fields[i].name, avro_prim(&ptypes[i], named),
                                             sp->fields[i].field_id, true));
    json_decref(named);

    json_t *df = json_array();
    json_array_append_new(df, field("content", json_string("int"), 134, false));
    json_array_append_new(df, field("file_path", json_string("string"), 100, false));
    json_array_append_new(df, field("file_format", json_string("string"), 101, false));
    json_array_append_new(df, field("partition", json_pack("{s:s, s:s, s:o}", "type", "record",
                                                           "name", "r102", "fields", pfields),
                                    102, false));
    json_array_append_new(df, field("record_count", json_string("long"), 103, false));
    json_array_append_new(df, field("file_size_in_bytes", json_string("long"), 104, false));
    json_array_append_new(df, field("column_sizes", int_map(117, 118, "long"), 108, true));
    json_array_append_new(df, field("value_counts", int_map(119, 120, "long"), 109, true));
    json_array_append_new(df, field("null_value_counts", int_map(121, 122, "long"), 110, true));
    json_array_append_new(df, field("nan_value_counts", int_map(138, 139, "long"), 137, true));
    json_array_append_new(df, field("lower_bounds", int_map(126, 127, "bytes"), 125, true));
    json_array_append_new(df, field("upper_bounds", int_map(129, 130, "bytes"), 128, true));
    json_array_append_new(df, field("key_metadata", json_string("bytes"), 131, true));
    json_array_append_new(df, field("split_offsets", json_pack("{s:s, s:s, s:i}", "type", "array",
                                                               "items", "long", "element-id", 133),
                                    132, true));
    json_array_append_new(df, field("equality_ids", json_pack("{s:s, s:s, s:i}", "type", "array",
                                                              "items", "int", "element-id", 136),
                                    135, true));
    json_array_append_new(df, field("sort_order_id", json_string("int"), 140, true));
    json_array_append_new(df, field("referenced_data_file", json_string("string"), 143, true));

    json_t *fields = json_array();
    json_array_append_new(fields, field("status", json_string("int"), 0, false));
    json_array_append_new(fields, field("snapshot_id", json_string("long"), 1, true));
    json_array_append_new(fields, field("sequence_number", json_string("long"), 3, true));
    json_array_append_new(fields, field("file_sequence_number", json_string("long"), 4, true));
    json_array_append_new(fields, field("data_file", json_pack("{s:s, s:s, s:o}", "type", "record",
                                                               "name", "r2", "fields", df),
                                        2, false));
    return json_pack("{s:s, s:s, s:o}", "type", "record", "name", "manifest_entry", "fields", fields);
}

static json_t *
list_schema(void)
{
    json_t *ps = json_array();

    json_array_append_new(ps, field("contains_null", json_string("boolean"), 509, false));
    json_array_append_new(ps, field("contains_nan", json_string("boolean"), 518, true));
    json_array_append_new(ps, field("lower_bound", json_string("bytes"), 510, true));
    json_array_append_new(ps, field("upper_bound", json_string("bytes"), 511, true));

    json_t *f = json_array();
    json_array_append_new(f, field("manifest_path", json_string("string"), 500, false));
    json_array_append_new(f, field("manifest_length", json_string("long"), 501, false));
    json_array_append_new(f, field("partition_spec_id", json_string("int"), 502, false));
    json_array_append_new(f, field("content", json_string("int"), 517, false));
    json_array_append_new(f, field("sequence_number", json_string("long"), 515, false));
    json_array_append_new(f, field("min_sequence_number", json_string("long"), 516, false));
    json_array_append_new(f, field("added_snapshot_id", json_string("long"), 503, false));
    json_array_append_new(f, field("added_files_count", json_string("int"), 504, false));
    json_array_append_new(f, field("existing_files_count", json_string("int"), 505, false));
    json_array_append_new(f, field("deleted_files_count", json_string("int"), 506, false));
    json_array_append_new(f, field("added_rows_count", json_string("long"), 512, false));
    json_array_append_new(f, field("existing_rows_count", json_string("long"), 513, false));
    json_array_append_new(f, field("deleted_rows_count", json_string("long"), 514, false));
    json_array_append_new(f, field("partitions",
                                   json_pack("{s:s, s:{s:s, s:s, s:o}, s:i}", "type", "array",
                                             "items", "type", "record", "name", "r508", "fields",
                                             ps, "element-id", 508),
                                   507, true));
    json_array_append_new(f, field("key_metadata", json_string("bytes"), 519, true));
    return json_pack("{s:s, s:s, s:o}", "type", "record", "name", "manifest_file", "fields", f);
}

char *
ice_manifest_avro_schema(const ice_schema *s, const ice_spec *sp, cdc_err *err)
{
    ice_type *pt = cdc_xcalloc((size_t) sp->nfields + 1, sizeof(ice_type));
    char *text = NULL;

    if (ice_spec_types(sp, s, pt, err) == 0) {
        json_t *j = entry_schema(sp, pt);

        text = json_dumps(j, JSON_COMPACT);
        json_decref(j);
    }
    free(pt);
    return text;
}

char *
ice_manifest_list_avro_schema(void)
{
    json_t *j = list_schema();
    char *text = json_dumps(j, JSON_COMPACT);

    json_decref(j);
    return text;
}

/* ---- the container ---- */

static void
put_long(cdc_buf *b, int64_t v)
{
    uint64_t z = ((uint64_t) v << 1) ^ (uint64_t) (v >> 63);

    while (z & ~0x7fULL) {
        cdc_buf_put_u8(b, (uint8_t) ((z & 0x7f) | 0x80));
        z >>= 7;
    }
    cdc_buf_put_u8(b, (uint8_t) z);
}

static void
put_bytes(cdc_buf *b, const void *p, size_t n)
{
    put_long(b, (int64_t) n);
    cdc_buf_put(b, p, n);
}

typedef struct avro_out {
    avro_schema_t      schema;
    avro_value_iface_t *iface;
    avro_value_t       val;
    bool               have_val;
    char              *schema_text;
    cdc_buf            block;
    int64_t            block_count;
    cdc_buf            body;        /* finished blocks */
    uint8_t            sync[16];
} avro_out;

static int
out_init(avro_out *o, json_t *schema, const char *what, cdc_err *err)
{
    memset(o, 0, sizeof(*o));
    o->schema_text = json_dumps(schema, JSON_COMPACT);
    json_decref(schema);
    if (o->schema_text == NULL)
        return cdc_err_set(err, CDC_E_NOMEM, "%s: Avro schema text", what);
    if (avro_schema_from_json_length(o->schema_text, strlen(o->schema_text), &o->schema) != 0)
        return cdc_err_set(err, CDC_E_DEST, "%s: avro-c refuses the Avro schema: %s", what,
                           avro_strerror());
    o->iface = avro_generic_class_from_schema(o->schema);
    if (o->iface == NULL || avro_generic_value_new(o->iface, &o->val) != 0)
        return cdc_err_set(err, CDC_E_NOMEM, "%s: avro value: %s", what, avro_strerror());
    o->have_val = true;
    if (getrandom(o->sync, sizeof(o->sync), 0) != (ssize_t) sizeof(o->sync)) {
        uint64_t t = (uint64_t) time(NULL) ^ (uint64_t) (uintptr_t) o;

        memcpy(o->sync, &t, 8);
        memcpy(o->sync + 8, &t, 8);
    }
    return 0;
}

static void
out_free(avro_out *o)
{
    if (o->have_val)
        avro_value_decref(&o->val);
    if (o->iface)
        avro_value_iface_decref(o->iface);
    if (o->schema)
        avro_schema_decref(o->schema);
    free(o->schema_text);
    cdc_buf_free(&o->block);
    cdc_buf_free(&o->body);
    memset(o, 0, sizeof(*o));
}

static void
flush_block(avro_out *o)
{
    if (o->block_count == 0)
        return;
    put_long(&o->body, o->block_count);
    put_long(&o->body, (int64_t) o->block.len);
    cdc_buf_put(&o->body, o->block.data, o->block.len);
    cdc_buf_put(&o->body, o->sync, sizeof(o->sync));
    cdc_buf_reset(&o->block);
    o->block_count = 0;
}

/* Encodes o->val as the next record. */
static int
out_record(avro_out *o, const char *what, cdc_err *err)
{
    size_t n = 0;
    avro_writer_t wr;

    if (avro_value_sizeof(&o->val, &n) != 0)
        return cdc_err_set(err, CDC_E_DEST, "%s: avro size: %s", what, avro_strerror());
    if (!cdc_buf_reserve(&o->block, n))
        return cdc_err_set(err, CDC_E_NOMEM, "%s: %zu bytes for a record", what, n);
    wr = avro_writer_memory((char *) o->block.data + o->block.len, (int64_t) n);
    if (wr == NULL || avro_value_write(wr, &o->val) != 0) {
        if (wr)
            avro_writer_free(wr);
        return cdc_err_set(err, CDC_E_DEST, "%s: avro encoding: %s", what, avro_strerror());
    }
    avro_writer_free(wr);
    o->block.len += n;
    o->block_count++;
    if (o->block.len >= BLOCK_MAX)
        flush_block(o);
    return 0;
}

/* The whole file: header with meta (key, value pairs, NULL-terminated), then the blocks. */
static int
out_finish(avro_out *o, const char *const *meta, cdc_buf *out, const char *what, cdc_err *err)
{
    size_t start = out->len;
    int64_t nmeta = 2;

    flush_block(o);
    for (const char *const *m = meta; *m; m += 2)
        nmeta++;
    cdc_buf_put(out, "Obj\x01", 4);
    put_long(out, nmeta);
    put_bytes(out, "avro.schema", 11);
    put_bytes(out, o->schema_text, strlen(o->schema_text));
    put_bytes(out, "avro.codec", 10);
    put_bytes(out, "null", 4);
    for (const char *const *m = meta; *m; m += 2) {
        put_bytes(out, m[0], strlen(m[0]));
        put_bytes(out, m[1], strlen(m[1]));
    }
    put_long(out, 0);
    cdc_buf_put(out, o->sync, sizeof(o->sync));
    cdc_buf_put(out, o->body.data, o->body.len);
    if (cdc_buf_failed(out) || cdc_buf_failed(&o->body) || cdc_buf_failed(&o->block)) {
        out->len = start;
        return cdc_err_set(err, CDC_E_NOMEM, "%s: out of memory", what);
    }
    return 0;
}

/* ---- setting avro-c values ---- */

static avro_value_t
get(avro_value_t *rec, const char *name)
{
    avro_value_t f = { 0 };

    avro_value_get_by_name(rec, name, &f, NULL);
    return f;
}

static void
set_null(avro_value_t *u)
{
    avro_value_t br = { 0 };

    avro_value_set_branch(u, 0, &br);
    avro_value_set_null(&br);
}

static avro_value_t
set_some(avro_value_t *u)
{
    avro_value_t br = { 0 };

    avro_value_set_branch(u, 1, &br);
    return br;
}

static void
set_opt_long(avro_value_t *rec, const char *name, int64_t v, bool present)
{
    avro_value_t f = get(rec, name);

    if (!present) {
        set_null(&f);
        return;
    }
    avro_value_t b = set_some(&f);
    avro_value_set_long(&b, v);
}

static void
set_str(avro_value_t *rec, const char *name, const char *s)
{
    avro_value_t f = get(rec, name);

    avro_value_set_string(&f, s);
}

/* An optional map<int, long> or map<int, binary> from the column stats. */
static void
set_stat_map(avro_value_t *df, const char *name, const ice_colstat *cols, int n, int which)
{
    avro_value_t f = get(df, name), arr = { 0 };
    int present = 0;

    for (int i = 0; i < n; i++) {
        const ice_colstat *c = &cols[i];
        bool has = which == 0 ? c->size >= 0 : which == 1 ? c->values >= 0 : which == 2 ? c->nulls >= 0
                 : which == 3 ? c->nans >= 0 : which == 4 ? c->lower != NULL : c->upper != NULL;
        present += has;
    }
    if (present == 0) {
        set_null(&f);
        return;
    }
    arr = set_some(&f);
    for (int i = 0; i < n; i++) {
        const ice_colstat *c = &cols[i];
        avro_value_t el = { 0 }, k = { 0 }, v = { 0 };

        if (which == 0 ? c->size < 0 : which == 1 ? c->values < 0 : which == 2 ? c->nulls < 0
            : which == 3 ? c->nans < 0 : which == 4 ? c->lower == NULL : c->upper == NULL)
            continue;
        avro_value_append(&arr, &el, NULL);
        avro_value_get_by_index(&el, 0, &k, NULL);
        avro_value_get_by_index(&el, 1, &v, NULL);
        avro_value_set_int(&k, c->field_id);
        switch (which) {
        case 0: avro_value_set_long(&v, c->size); break;
        case 1: avro_value_set_long(&v, c->values); break;
        case 2: avro_value_set_long(&v, c->nulls); break;
        case 3: avro_value_set_long(&v, c->nans); break;
        case 4: avro_value_set_bytes(&v, (void *) c->lower, c->lower_n); break;
        default: avro_value_set_bytes(&v, (void *) c->upper, c->upper_n); break;
        }
    }
}

/* One partition value into an (optional) Avro field of the r102 record. */
static void
set_part_value(avro_value_t *u, const ice_type *t, const ice_value *v)
{
    if (v->null) {
        set_null(u);
        return;
    }
    avro_value_t b = set_some(u);

    switch (t->kind) {
    case ICE_BOOLEAN: avro_value_set_boolean(&b, v->b); break;
    case ICE_INT:
    case ICE_DATE: avro_value_set_int(&b, (int32_t) v->i); break;
    case ICE_LONG:
    case ICE_TIME:
    case ICE_TIMESTAMP:
    case ICE_TIMESTAMPTZ: avro_value_set_long(&b, v->i); break;
    case ICE_FLOAT: avro_value_set_float(&b, (float) v->f); break;
    case ICE_DOUBLE: avro_value_set_double(&b, v->f); break;
    case ICE_STRING: {
        char *s = cdc_xstrndup((const char *) v->p, v->n);

        avro_value_set_string_len(&b, s, v->n + 1);
        free(s);
        break;
    }
    case ICE_BINARY: avro_value_set_bytes(&b, (void *) v->p, v->n); break;
    case ICE_UUID:
    case ICE_FIXED: avro_value_set_fixed(&b, (void *) v->p, v->n); break;
    case ICE_DECIMAL: {
        /* fixed of decimal_bytes_for(p), sign-extended big-endian */
        int n = decimal_bytes_for(t->precision);
        uint8_t buf[16];
        unsigned __int128 x = (unsigned __int128) v->d;

        for (int i = n - 1; i >= 0; i--) {
            buf[i] = (uint8_t) x;
            x >>= 8;
        }
        avro_value_set_fixed(&b, buf, (size_t) n);
        break;
    }
    default: break;
    }
}

/* ---- manifests ---- */

struct ice_manifest_writer {
    avro_out  o;
    char     *schema_json;
    char     *spec_json;
    int32_t   schema_id, spec_id;
    int       content;
    int64_t   snapshot_id;
    int       nparts;
    ice_type *ptypes;
    ice_part_summary *sum;
    ice_value *lo, *hi;     /* partition bounds so far (bytes point into lo_buf/hi_buf) */
    cdc_buf   *lo_buf, *hi_buf;
    int32_t   counts[3];
    int64_t   rows[3];
    int64_t   min_seq;
    bool      spent;
};

ice_manifest_writer *
ice_manifest_writer_new(const ice_schema *s, const ice_spec *sp, int content, int64_t snapshot_id,
                        cdc_err *err)
{
    ice_manifest_writer *w = cdc_xcalloc(1, sizeof(*w));
    json_t *j;

    w->nparts = sp->nfields;
    w->ptypes = cdc_xcalloc((size_t) w->nparts + 1, sizeof(ice_type));
    w->sum = cdc_xcalloc((size_t) w->nparts + 1, sizeof(ice_part_summary));
    w->lo = cdc_xcalloc((size_t) w->nparts + 1, sizeof(ice_value));
    w->hi = cdc_xcalloc((size_t) w->nparts + 1, sizeof(ice_value));
    w->lo_buf = cdc_xcalloc((size_t) w->nparts + 1, sizeof(cdc_buf));
    w->hi_buf = cdc_xcalloc((size_t) w->nparts + 1, sizeof(cdc_buf));
    w->content = content;
    w->snapshot_id = snapshot_id;
    w->schema_id = s->schema_id;
    w->spec_id = sp->spec_id;
    w->min_seq = -1;
    for (int i = 0; i < w->nparts; i++)
        w->sum[i].contains_nan = -1;
    if (ice_spec_types(sp, s, w->ptypes, err) != 0)
        goto fail;
    for (int i = 0; i < w->nparts; i++)
        if (w->ptypes[i].kind == ICE_FLOAT || w->ptypes[i].kind == ICE_DOUBLE)
            w->sum[i].contains_nan = 0;
    j = ice_schema_to_json(s);
    w->schema_json = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    j = ice_spec_fields_json(sp);
    w->spec_json = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (out_init(&w->o, entry_schema(sp, w->ptypes), "iceberg manifest", err) != 0)
        goto fail;
    return w;
fail:
    ice_manifest_writer_free(w);
    return NULL;
}

void
ice_manifest_writer_free(ice_manifest_writer *w)
{
    if (w == NULL)
        return;
    out_free(&w->o);
    for (int i = 0; i < w->nparts; i++) {
        cdc_buf_free(&w->lo_buf[i]);
        cdc_buf_free(&w->hi_buf[i]);
    }
    free(w->lo_buf);
    free(w->hi_buf);
    free(w->lo);
    free(w->hi);
    free(w->sum);
    free(w->ptypes);
    free(w->schema_json);
    free(w->spec_json);
    free(w);
}

/* Keeps a copy of v's bytes in b and points c at them. */
static void
keep_value(ice_value *c, cdc_buf *b, const ice_value *v)
{
    *c = *v;
    if (v->p) {
        cdc_buf_reset(b);
        cdc_buf_put(b, v->p, v->n);
        c->p = b->data;
    }
}

static void
track_partition(ice_manifest_writer *w, const ice_value *pv)
{
    for (int i = 0; i < w->nparts; i++) {
        ice_part_summary *s = &w->sum[i];
        const ice_type *t = &w->ptypes[i];

        if (pv[i].null) {
            s->contains_null = true;
            continue;
        }
        if ((t->kind == ICE_FLOAT || t->kind == ICE_DOUBLE) && isnan(pv[i].f)) {
            s->contains_nan = 1;
            continue;
        }
        if (!s->has_bounds || ice_value_cmp(t, &pv[i], &w->lo[i]) < 0)
            keep_value(&w->lo[i], &w->lo_buf[i], &pv[i]);
        if (!s->has_bounds || ice_value_cmp(t, &pv[i], &w->hi[i]) > 0)
            keep_value(&w->hi[i], &w->hi_buf[i], &pv[i]);
        s->has_bounds = true;
    }
}

int
ice_manifest_add(ice_manifest_writer *w, const ice_entry *e, cdc_err *err)
{
    const ice_datafile *d = &e->file;
    avro_value_t *rec = &w->o.val, df = { 0 }, f = { 0 }, part = { 0 };

    if (w->spent)
        return cdc_err_set(err, CDC_E_INVAL, "iceberg manifest: add after finish");
    if ((w->content == 0) != (d->content == ICE_CONTENT_DATA))
        return cdc_err_set(err, CDC_E_INVAL, "iceberg manifest of %s: file %s has content %d",
                           w->content ? "deletes" : "data", d->path, d->content);
    if (e->status < 0 || e->status > 2)
        return cdc_err_set(err, CDC_E_INVAL, "iceberg manifest: status %d", e->status);
    /* only added entries inherit their sequence numbers and snapshot id (spec, "Sequence
       Number Inheritance"); an existing or deleted one must say them */
    if (e->status != ICE_STATUS_ADDED &&
        (e->sequence_number < 0 || e->file_sequence_number < 0 || e->snapshot_id < 0))
        return cdc_err_set(err, CDC_E_INVAL, "iceberg manifest: %s entry for %s without its "
                           "snapshot id and sequence numbers",
                           e->status == ICE_STATUS_EXISTING ? "an existing" : "a deleted",
                           d->path);
    avro_value_reset(rec);
    f = get(rec, "status");
    avro_value_set_int(&f, e->status);
    set_opt_long(rec, "snapshot_id", e->snapshot_id, e->snapshot_id >= 0);
    set_opt_long(rec, "sequence_number", e->sequence_number, e->sequence_number >= 0);
    set_opt_long(rec, "file_sequence_number", e->file_sequence_number,
                 e->file_sequence_number >= 0);
    df = get(rec, "data_file");
    f = get(&df, "content");
    avro_value_set_int(&f, d->content);
    set_str(&df, "file_path", d->path);
    set_str(&df, "file_format", d->format ? d->format : "PARQUET");
    part = get(&df, "partition");
    for (int i = 0; i < w->nparts; i++) {
        avro_value_get_by_index(&part, (size_t) i, &f, NULL);
        set_part_value(&f, &w->ptypes[i], &d->partition[i]);
    }
    f = get(&df, "record_count");
    avro_value_set_long(&f, d->record_count);
    f = get(&df, "file_size_in_bytes");
    avro_value_set_long(&f, d->file_size);
    set_stat_map(&df, "column_sizes", d->cols, d->ncols, 0);
    set_stat_map(&df, "value_counts", d->cols, d->ncols, 1);
    set_stat_map(&df, "null_value_counts", d->cols, d->ncols, 2);
    set_stat_map(&df, "nan_value_counts", d->cols, d->ncols, 3);
    set_stat_map(&df, "lower_bounds", d->cols, d->ncols, 4);
    set_stat_map(&df, "upper_bounds", d->cols, d->ncols, 5);
    f = get(&df, "key_metadata");
    set_null(&f);
    f = get(&df, "split_offsets");
    if (d->nsplit > 0) {
        avro_value_t arr = set_some(&f), el = { 0 };

        for (int i = 0; i < d->nsplit; i++) {
            avro_value_append(&arr, &el, NULL);
            avro_value_set_long(&el, d->split_offsets[i]);
        }
    } else {
        set_null(&f);
    }
    f = get(&df, "equality_ids");
    if (d->neq > 0) {
        avro_value_t arr = set_some(&f), el = { 0 };

        for (int i = 0; i < d->neq; i++) {
            avro_value_append(&arr, &el, NULL);
            avro_value_set_int(&el, d->equality_ids[i]);
        }
    } else {
        set_null(&f);
    }
    f = get(&df, "sort_order_id");
    if (d->sort_order_id >= 0) {
        avro_value_t b = set_some(&f);

        avro_value_set_int(&b, d->sort_order_id);
    } else {
        set_null(&f);
    }
    f = get(&df, "referenced_data_file");
    if (d->referenced_data_file) {
        avro_value_t b = set_some(&f);

        avro_value_set_string(&b, d->referenced_data_file);
    } else {
        set_null(&f);
    }
    if (out_record(&w->o, "iceberg manifest", err) != 0)
        return cdc_err_wrap(err, "file %s", d->path);

    w->counts[e->status]++;
    w->rows[e->status] += d->record_count;
    if (e->status != ICE_STATUS_DELETED) {
        if (e->sequence_number >= 0 && (w->min_seq < 0 || e->sequence_number < w->min_seq))
            w->min_seq = e->sequence_number;
        track_partition(w, d->partition);
    }
    return 0;
}

void
ice_manifest_file_clear(ice_manifest_file *mf)
{
    if (mf == NULL)
        return;
    for (int i = 0; i < mf->nparts; i++) {
        free(mf->parts[i].lower);
        free(mf->parts[i].upper);
    }
    free(mf->parts);
    free(mf->path);
    memset(mf, 0, sizeof(*mf));
}

static uint8_t *
bound_copy(const ice_type *t, const ice_value *v, size_t *n)
{
    cdc_buf b = CDC_BUF_INIT;
    uint8_t *p;

    ice_value_bound(&b, t, v);
    *n = b.len;
    p = cdc_xmalloc(b.len + 1);
    if (b.len)
        memcpy(p, b.data, b.len);
    cdc_buf_free(&b);
    return p;
}

int
ice_manifest_finish(ice_manifest_writer *w, const char *path, cdc_buf *out, ice_manifest_file *mf,
                    cdc_err *err)
{
    char sid[24], spid[24];
    size_t start = out->len;

    if (w->spent)
        return cdc_err_set(err, CDC_E_INVAL, "iceberg manifest: finished twice");
    w->spent = true;
    snprintf(sid, sizeof(sid), "%d", (int) w->schema_id);
    snprintf(spid, sizeof(spid), "%d", (int) w->spec_id);
    const char *meta[] = {
        "schema", w->schema_json, "schema-id", sid, "partition-spec", w->spec_json,
        "partition-spec-id", spid, "format-version", "2", "content",
        w->content ? "deletes" : "data", NULL,
    };
    if (out_finish(&w->o, meta, out, "iceberg manifest", err) != 0)
        return -1;
    memset(mf, 0, sizeof(*mf));
    mf->path = cdc_xstrdup(path);
    mf->length = (int64_t) (out->len - start);
    mf->spec_id = w->spec_id;
    mf->content = w->content ? 1 : 0;
    mf->sequence_number = -1;
    mf->min_sequence_number = w->min_seq;
    mf->added_snapshot_id = w->snapshot_id;
    mf->added_files = w->counts[ICE_STATUS_ADDED];
    mf->existing_files = w->counts[ICE_STATUS_EXISTING];
    mf->deleted_files = w->counts[ICE_STATUS_DELETED];
    mf->added_rows = w->rows[ICE_STATUS_ADDED];
    mf->existing_rows = w->rows[ICE_STATUS_EXISTING];
    mf->deleted_rows = w->rows[ICE_STATUS_DELETED];
    mf->nparts = w->nparts;
    mf->parts = cdc_xcalloc((size_t) w->nparts + 1, sizeof(ice_part_summary));
    for (int i = 0; i < w->nparts; i++) {
        mf->parts[i] = w->sum[i];
        mf->parts[i].lower = mf->parts[i].upper = NULL;
        if (w->sum[i].has_bounds) {
            mf->parts[i].lower = bound_copy(&w->ptypes[i], &w->lo[i], &mf->parts[i].lower_n);
            mf->parts[i].upper = bound_copy(&w->ptypes[i], &w->hi[i], &mf->parts[i].upper_n);
        }
    }
    return 0;
}

/* ---- manifest lists ---- */

static void
set_long(avro_value_t *rec, const char *name, int64_t v)
{
    avro_value_t f = get(rec, name);

    avro_value_set_long(&f, v);
}

static void
set_int(avro_value_t *rec, const char *name, int32_t v)
{
    avro_value_t f = get(rec, name);

    avro_value_set_int(&f, v);
}

int
ice_manifest_list_write(const ice_manifest_file *mfs, int n, int64_t snapshot_id,
                        int64_t parent_id, int64_t seq, cdc_buf *out, cdc_err *err)
{
    avro_out o;
    char sid[24], pid[24], sq[24];
    int rc = -1;

    if (out_init(&o, list_schema(), "iceberg manifest list", err) != 0)
        goto out;
    for (int i = 0; i < n; i++) {
        const ice_manifest_file *m = &mfs[i];
        avro_value_t *rec = &o.val, f = { 0 };
        int64_t mseq = m->sequence_number >= 0 ? m->sequence_number : seq;
        int64_t minseq = m->min_sequence_number >= 0 ? m->min_sequence_number : mseq;

        avro_value_reset(rec);
        set_str(rec, "manifest_path", m->path);
        set_long(rec, "manifest_length", m->length);
        set_int(rec, "partition_spec_id", m->spec_id);
        set_int(rec, "content", m->content);
        set_long(rec, "sequence_number", mseq);
        set_long(rec, "min_sequence_number", minseq);
        set_long(rec, "added_snapshot_id", m->added_snapshot_id);
        set_int(rec, "added_files_count", m->added_files);
        set_int(rec, "existing_files_count", m->existing_files);
        set_int(rec, "deleted_files_count", m->deleted_files);
        set_long(rec, "added_rows_count", m->added_rows);
        set_long(rec, "existing_rows_count", m->existing_rows);
        set_long(rec, "deleted_rows_count", m->deleted_rows);
        f = get(rec, "partitions");
        {
            avro_value_t arr = set_some(&f), el = { 0 }, x = { 0 };

            for (int k = 0; k < m->nparts; k++) {
                const ice_part_summary *p = &m->parts[k];

                avro_value_append(&arr, &el, NULL);
                x = get(&el, "contains_null");
                avro_value_set_boolean(&x, p->contains_null);
                x = get(&el, "contains_nan");
                if (p->contains_nan >= 0) {
                    avro_value_t b = set_some(&x);

                    avro_value_set_boolean(&b, p->contains_nan);
                } else {
                    set_null(&x);
                }
                x = get(&el, "lower_bound");
                if (p->lower) {
                    avro_value_t b = set_some(&x);

                    avro_value_set_bytes(&b, p->lower, p->lower_n);
                } else {
                    set_null(&x);
                }
                x = get(&el, "upper_bound");
                if (p->upper) {
                    avro_value_t b = set_some(&x);

                    avro_value_set_bytes(&b, p->upper, p->upper_n);
                } else {
                    set_null(&x);
                }
            }
        }
        f = get(rec, "key_metadata");
        set_null(&f);
        if (out_record(&o, "iceberg manifest list", err) != 0) {
            cdc_err_wrap(err, "manifest %s", m->path);
            goto out;
        }
    }
    snprintf(sid, sizeof(sid), "%" PRId64, snapshot_id);
    snprintf(pid, sizeof(pid), "%" PRId64, parent_id);
    snprintf(sq, sizeof(sq), "%" PRId64, seq);
    const char *meta[] = {
        "snapshot-id", sid, "parent-snapshot-id", parent_id >= 0 ? pid : "null",
        "sequence-number", sq, "format-version", "2", NULL,
    };
    rc = out_finish(&o, meta, out, "iceberg manifest list", err);
out:
    out_free(&o);
    return rc;
}
