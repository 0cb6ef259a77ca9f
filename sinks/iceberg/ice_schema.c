/*
 * Iceberg types, the PostgreSQL mapping, schemas as JSON and their evolution.
 * See ice_schema.h; the mapping table is docs/iceberg-types.md.
 */
#include "sinks/iceberg/ice_schema.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_mem.h"

/* ---- type names ---- */

static const char *const kind_names[] = {
    [ICE_BOOLEAN] = "boolean",     [ICE_INT] = "int",       [ICE_LONG] = "long",
    [ICE_FLOAT] = "float",         [ICE_DOUBLE] = "double", [ICE_DECIMAL] = "decimal",
    [ICE_DATE] = "date",           [ICE_TIME] = "time",     [ICE_TIMESTAMP] = "timestamp",
    [ICE_TIMESTAMPTZ] = "timestamptz", [ICE_STRING] = "string", [ICE_UUID] = "uuid",
    [ICE_FIXED] = "fixed",         [ICE_BINARY] = "binary", [ICE_LIST] = "list",
};

static const char *
prim_str(uint8_t kind, int32_t p, int32_t s, int32_t len, char *buf, size_t size)
{
    if (kind == ICE_DECIMAL)
        snprintf(buf, size, "decimal(%d, %d)", (int) p, (int) s);
    else if (kind == ICE_FIXED)
        snprintf(buf, size, "fixed[%d]", (int) len);
    else if (kind > ICE_NONE && kind < ICE_LIST)
        snprintf(buf, size, "%s", kind_names[kind]);
    else
        snprintf(buf, size, "?");
    return buf;
}

const char *
ice_type_str(const ice_type *t, char *buf, size_t size)
{
    if (t->kind == ICE_LIST) {
        char e[64];

        prim_str(t->elem_kind, t->precision, t->scale, t->length, e, sizeof(e));
        snprintf(buf, size, "list<%s>", e);
        return buf;
    }
    return prim_str(t->kind, t->precision, t->scale, t->length, buf, size);
}

int
ice_type_parse(const char *s, ice_type *t, cdc_err *err)
{
    int p, sc, n = 0;

    memset(t, 0, sizeof(*t));
    if (sscanf(s, "decimal(%d ,%d )%n", &p, &sc, &n) == 2 && s[n] == '\0') {
        if (p < 1 || p > ICE_DECIMAL_MAX_PRECISION || sc < 0 || sc > p)
            return cdc_err_set(err, CDC_E_DEST, "iceberg type \"%s\": precision or scale out of range", s);
        t->kind = ICE_DECIMAL;
        t->precision = p;
        t->scale = sc;
        return 0;
    }
    if (sscanf(s, "fixed[%d]%n", &p, &n) == 1 && s[n] == '\0' && p > 0) {
        t->kind = ICE_FIXED;
        t->length = p;
        return 0;
    }
    for (int k = ICE_BOOLEAN; k < ICE_LIST; k++)
        if (k != ICE_DECIMAL && k != ICE_FIXED && strcmp(s, kind_names[k]) == 0) {
            t->kind = (uint8_t) k;
            return 0;
        }
    return cdc_err_set(err, CDC_E_DEST, "iceberg type \"%s\" is not one this sink reads", s);
}

bool
ice_type_equal(const ice_type *a, const ice_type *b)
{
    if (a->kind != b->kind)
        return false;
    uint8_t k = a->kind;
    if (k == ICE_LIST) {
        if (a->elem_kind != b->elem_kind || a->elem_required != b->elem_required)
            return false;
        k = a->elem_kind;
    }
    if (k == ICE_DECIMAL)
        return a->precision == b->precision && a->scale == b->scale;
    if (k == ICE_FIXED)
        return a->length == b->length;
    return true;
}

static bool
prim_promotable(uint8_t from, int32_t fp, int32_t fs, uint8_t to, int32_t tp, int32_t ts)
{
    if (from == to)
        return from != ICE_DECIMAL || (fs == ts && tp >= fp);
    return (from == ICE_INT && to == ICE_LONG) || (from == ICE_FLOAT && to == ICE_DOUBLE);
}

bool
ice_type_promotable(const ice_type *from, const ice_type *to)
{
    if (from->kind == ICE_LIST || to->kind == ICE_LIST) {
        if (from->kind != to->kind || from->elem_required != to->elem_required)
            return false;
        return prim_promotable(from->elem_kind, from->precision, from->scale, to->elem_kind,
                               to->precision, to->scale) &&
               (from->elem_kind != ICE_FIXED || from->length == to->length);
    }
    if (from->kind == ICE_FIXED || to->kind == ICE_FIXED)
        return from->kind == to->kind && from->length == to->length;
    return prim_promotable(from->kind, from->precision, from->scale, to->kind, to->precision,
                           to->scale);
}

/* ---- PostgreSQL to Iceberg ---- */

enum {
    PG_BOOL = 16, PG_BYTEA = 17, PG_NAME = 19, PG_INT8 = 20, PG_INT2 = 21, PG_INT4 = 23,
    PG_TEXT = 25, PG_OID = 26, PG_FLOAT4 = 700, PG_FLOAT8 = 701, PG_MONEY = 790,
    PG_BPCHAR = 1042, PG_VARCHAR = 1043, PG_DATE = 1082, PG_TIME = 1083,
    PG_TIMESTAMP = 1114, PG_TIMESTAMPTZ = 1184, PG_NUMERIC = 1700, PG_UUID = 2950,
    PG_CHAR = 18,
};

/* The Iceberg type of one scalar PostgreSQL type; NULL or a note. */
static const char *
scalar_from_pg(uint32_t oid, int32_t typmod, char typtype, uint8_t *kind, int32_t *p,
               int32_t *s)
{
    *p = 0;
    *s = 0;
    switch (oid) {
    case PG_BOOL: *kind = ICE_BOOLEAN; return NULL;
    case PG_INT2:
    case PG_INT4: *kind = ICE_INT; return NULL;
    case PG_INT8: *kind = ICE_LONG; return NULL;
    case PG_OID: *kind = ICE_LONG; return NULL;
    case PG_FLOAT4: *kind = ICE_FLOAT; return NULL;
    case PG_FLOAT8: *kind = ICE_DOUBLE; return NULL;
    case PG_MONEY:
        /* an int8 count of cents (with the default lc_monetary): 19 digits */
        *kind = ICE_DECIMAL;
        *p = 19;
        *s = 2;
        return NULL;
    case PG_NUMERIC:
        if (typmod >= 4) {
            int32_t prec = ((typmod - 4) >> 16) & 0xffff;
            int32_t scale = (int32_t) (int16_t) ((typmod - 4) & 0xffff);

            if (prec >= 1 && prec <= ICE_DECIMAL_MAX_PRECISION && scale >= 0 && scale <= prec) {
                *kind = ICE_DECIMAL;
                *p = prec;
                *s = scale;
                return NULL;
            }
            *kind = ICE_STRING;
            return prec > ICE_DECIMAL_MAX_PRECISION ? "numeric beyond precision 38: string"
                                                    : "numeric with a negative scale: string";
        }
        *kind = ICE_STRING;
        return "numeric without precision: string (its scale varies per value)";
    case PG_BPCHAR:
    case PG_VARCHAR:
    case PG_TEXT:
    case PG_NAME:
    case PG_CHAR: *kind = ICE_STRING; return NULL;
    case PG_BYTEA: *kind = ICE_BINARY; return NULL;
    case PG_DATE: *kind = ICE_DATE; return NULL;
    case PG_TIME: *kind = ICE_TIME; return NULL;
    case PG_TIMESTAMP: *kind = ICE_TIMESTAMP; return NULL;
    case PG_TIMESTAMPTZ: *kind = ICE_TIMESTAMPTZ; return NULL;
    case PG_UUID: *kind = ICE_UUID; return NULL;
    default:
        *kind = ICE_STRING;
        /* json, jsonb, xml, interval, timetz, inet, cidr, macaddr, bit, varbit, geometric
           types, ranges, tsvector, enums and extension types: their text output.  These
           are string on purpose, not a fallback: Iceberg has no closer type. */
        (void) typtype;
        return NULL;
    }
}

/* The element type of PostgreSQL's built-in array types, for a column whose
   catalog entry was not looked up; 0 for anything else. */
static uint32_t
builtin_array_elem(uint32_t oid)
{
    static const uint32_t map[][2] = {
        { 1000, PG_BOOL },  { 1001, PG_BYTEA },     { 1002, PG_CHAR },   { 1003, PG_NAME },
        { 1005, PG_INT2 },  { 1007, PG_INT4 },      { 1009, PG_TEXT },   { 1014, PG_BPCHAR },
        { 1015, PG_VARCHAR }, { 1016, PG_INT8 },    { 1021, PG_FLOAT4 }, { 1022, PG_FLOAT8 },
        { 1028, PG_OID },   { 1115, PG_TIMESTAMP }, { 1182, PG_DATE },   { 1183, PG_TIME },
        { 1185, PG_TIMESTAMPTZ }, { 1231, PG_NUMERIC }, { 2951, PG_UUID }, { 791, PG_MONEY },
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (map[i][0] == oid)
            return map[i][1];
    return 0;
}

const char *
ice_type_from_pg(const cdc_col *col, ice_type *out)
{
    uint32_t oid = col->catalog_known && col->base_oid ? col->base_oid : col->type_oid;
    int32_t typmod = col->typmod;
    uint32_t elem = col->catalog_known && col->elem_oid ? col->elem_oid : builtin_array_elem(oid);

    memset(out, 0, sizeof(*out));
    if (elem) {
        uint8_t ek;
        int32_t p, s;
        const char *note = scalar_from_pg(elem, typmod, 'b', &ek, &p, &s);

        out->kind = ICE_LIST;
        out->elem_kind = ek;
        out->elem_required = false;
        out->precision = p;
        out->scale = s;
        return note;
    }
    uint8_t k;
    const char *note = scalar_from_pg(oid, typmod, col->typtype, &k, &out->precision, &out->scale);
    out->kind = k;
    return note;
}

/* ---- schemas ---- */

ice_schema *
ice_schema_new(int32_t schema_id)
{
    ice_schema *s = cdc_xcalloc(1, sizeof(*s));

    s->schema_id = schema_id;
    return s;
}

void
ice_schema_free(ice_schema *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < s->nfields; i++)
        free(s->fields[i].name);
    free(s->fields);
    free(s->ident_ids);
    free(s);
}

ice_schema *
ice_schema_dup(const ice_schema *s)
{
    ice_schema *d = ice_schema_new(s->schema_id);

    d->nfields = s->nfields;
    d->fields = cdc_xcalloc((size_t) s->nfields + 1, sizeof(ice_field));
    for (int i = 0; i < s->nfields; i++) {
        d->fields[i] = s->fields[i];
        d->fields[i].name = cdc_xstrdup(s->fields[i].name);
    }
    d->nident = s->nident;
    d->ident_ids = cdc_xcalloc((size_t) s->nident + 1, sizeof(int32_t));
    if (s->nident)
        memcpy(d->ident_ids, s->ident_ids, (size_t) s->nident * sizeof(int32_t));
    return d;
}

const ice_field *
ice_schema_find(const ice_schema *s, const char *name)
{
    for (int i = 0; i < s->nfields; i++)
        if (strcmp(s->fields[i].name, name) == 0)
            return &s->fields[i];
    return NULL;
}

const ice_field *
ice_schema_find_id(const ice_schema *s, int32_t id)
{
    for (int i = 0; i < s->nfields; i++)
        if (s->fields[i].id == id)
            return &s->fields[i];
    return NULL;
}

static void
push_field(ice_schema *s, const ice_field *f)
{
    s->fields = cdc_xrealloc(s->fields, ((size_t) s->nfields + 1) * sizeof(ice_field));
    s->fields[s->nfields] = *f;
    s->fields[s->nfields].name = cdc_xstrdup(f->name);
    s->nfields++;
}

int
ice_schema_add(ice_schema *s, const char *name, const ice_type *t, bool required,
               int32_t *last_column_id, cdc_err *err)
{
    ice_field f = { .name = (char *) name, .required = required, .type = *t };

    if (ice_schema_find(s, name))
        return cdc_err_set(err, CDC_E_DEST, "iceberg schema: column \"%s\" appears twice", name);
    f.id = ++*last_column_id;
    if (t->kind == ICE_LIST)
        f.type.elem_id = ++*last_column_id;
    push_field(s, &f);
    return 0;
}

int32_t
ice_schema_max_id(const ice_schema *s)
{
    int32_t m = 0;

    for (int i = 0; i < s->nfields; i++) {
        if (s->fields[i].id > m)
            m = s->fields[i].id;
        if (s->fields[i].type.kind == ICE_LIST && s->fields[i].type.elem_id > m)
            m = s->fields[i].type.elem_id;
    }
    return m;
}

ice_schema *
ice_schema_from_rel(const cdc_rel *rel, int32_t schema_id, bool identifier,
                    int32_t *last_column_id, cdc_err *err)
{
    ice_schema *s = ice_schema_new(schema_id);

    for (int i = 0; i < rel->ncols; i++) {
        const cdc_col *c = &rel->cols[i];
        ice_type t;
        bool key = identifier && c->key_pos > 0;

        if (c->filtered)        /* source.column_*_list left it out: absent, as in events */
            continue;
        (void) ice_type_from_pg(c, &t);
        if (ice_schema_add(s, c->name, &t, key, last_column_id, err) != 0) {
            cdc_err_wrap(err, "table %s.%s", rel->nspname ? rel->nspname : "?",
                         rel->relname ? rel->relname : "?");
            ice_schema_free(s);
            return NULL;
        }
    }
    if (identifier && rel->nkeys > 0) {
        s->ident_ids = cdc_xcalloc((size_t) rel->nkeys, sizeof(int32_t));
        for (int pos = 1; pos <= rel->nkeys; pos++)
            for (int i = 0; i < rel->ncols; i++)
                if (rel->cols[i].key_pos == pos) {
                    if (s->fields[i].type.kind == ICE_LIST || s->fields[i].type.kind == ICE_FLOAT ||
                        s->fields[i].type.kind == ICE_DOUBLE) {
                        cdc_err_set(err, CDC_E_DEST,
                                    "table %s.%s: key column \"%s\" is %s, which Iceberg does not "
                                    "allow as an identifier field",
                                    rel->nspname, rel->relname, rel->cols[i].name,
                                    s->fields[i].type.kind == ICE_LIST ? "an array" : "floating point");
                        ice_schema_free(s);
                        return NULL;
                    }
                    s->ident_ids[s->nident++] = s->fields[i].id;
                }
    }
    return s;
}

ice_schema *
ice_schema_evolve(const ice_schema *cur, const ice_schema *want, const char *table,
                  int32_t new_schema_id, int32_t *last_column_id, bool *changed, cdc_err *err)
{
    ice_schema *n = ice_schema_new(new_schema_id);
    bool diff = want->nfields != cur->nfields;

    for (int i = 0; i < want->nfields; i++) {
        const ice_field *w = &want->fields[i];
        const ice_field *c = ice_schema_find(cur, w->name);

        if (c == NULL) {
            if (ice_schema_add(n, w->name, &w->type, false, last_column_id, err) != 0)
                goto fail;
            diff = true;
            continue;
        }
        if (!ice_type_promotable(&c->type, &w->type)) {
            char a[64], b[64];

            cdc_err_set(err, CDC_E_DEST,
                        "table %s, column \"%s\": type change from %s to %s is not a widening "
                        "Iceberg allows (int to long, float to double, decimal precision up)",
                        table, w->name, ice_type_str(&c->type, a, sizeof(a)),
                        ice_type_str(&w->type, b, sizeof(b)));
            goto fail;
        }
        ice_field f = *c;

        f.type = w->type;
        f.type.elem_id = c->type.elem_id;
        /* a required column may become optional, never the reverse */
        f.required = c->required && w->required;
        if (!ice_type_equal(&c->type, &f.type) || f.required != c->required ||
            (cur->nfields > i && strcmp(cur->fields[i].name, w->name) != 0))
            diff = true;
        push_field(n, &f);
    }
    /* identifier fields: the new key, by name.  Iceberg wants them required, and a field
       never becomes required again: a key column that is optional in the table (added by
       ALTER TABLE, or nullable before) cannot be one. */
    n->ident_ids = cdc_xcalloc((size_t) want->nident + 1, sizeof(int32_t));
    for (int k = 0; k < want->nident; k++) {
        const ice_field *wf = ice_schema_find_id(want, want->ident_ids[k]);
        const ice_field *nf = wf ? ice_schema_find(n, wf->name) : NULL;

        if (nf == NULL)
            continue;
        if (!nf->required) {
            cdc_err_set(err, CDC_E_DEST,
                        "table %s, column \"%s\": the new primary key includes it, but the "
                        "Iceberg table has it optional and identifier fields must be required",
                        table, nf->name);
            goto fail;
        }
        n->ident_ids[n->nident++] = nf->id;
    }
    if (n->nident != cur->nident)
        diff = true;
    else
        for (int k = 0; k < n->nident; k++)
            if (n->ident_ids[k] != cur->ident_ids[k])
                diff = true;
    if (!diff)
        n->schema_id = cur->schema_id;
    if (changed)
        *changed = diff;
    return n;
fail:
    ice_schema_free(n);
    return NULL;
}

bool
ice_schema_equal(const ice_schema *a, const ice_schema *b)
{
    if (a->nfields != b->nfields || a->nident != b->nident)
        return false;
    for (int i = 0; i < a->nfields; i++) {
        const ice_field *x = &a->fields[i], *y = &b->fields[i];

        if (x->id != y->id || strcmp(x->name, y->name) != 0 || x->required != y->required ||
            !ice_type_equal(&x->type, &y->type) ||
            (x->type.kind == ICE_LIST && x->type.elem_id != y->type.elem_id))
            return false;
    }
    for (int k = 0; k < a->nident; k++)
        if (a->ident_ids[k] != b->ident_ids[k])
            return false;
    return true;
}

/* ---- JSON ---- */

static json_t *
type_json(const ice_type *t)
{
    char buf[64];

    if (t->kind == ICE_LIST)
        return json_pack("{s:s, s:i, s:s, s:b}", "type", "list", "element-id", (int) t->elem_id,
                         "element",
                         prim_str(t->elem_kind, t->precision, t->scale, t->length, buf, sizeof(buf)),
                         "element-required", t->elem_required);
    return json_string(ice_type_str(t, buf, sizeof(buf)));
}

json_t *
ice_schema_to_json(const ice_schema *s)
{
    json_t *fields = json_array(), *ids = json_array();

    for (int i = 0; i < s->nfields; i++) {
        const ice_field *f = &s->fields[i];

        json_array_append_new(fields, json_pack("{s:i, s:s, s:b, s:o}", "id", (int) f->id, "name",
                                                f->name, "required", f->required, "type",
                                                type_json(&f->type)));
    }
    for (int k = 0; k < s->nident; k++)
        json_array_append_new(ids, json_integer(s->ident_ids[k]));
    return json_pack("{s:s, s:i, s:o, s:o}", "type", "struct", "schema-id", (int) s->schema_id,
                     "identifier-field-ids", ids, "fields", fields);
}

static int
type_from_json(const json_t *j, ice_type *t, const char *name, cdc_err *err)
{
    if (json_is_string(j)) {
        if (ice_type_parse(json_string_value(j), t, err) != 0)
            return cdc_err_wrap(err, "column \"%s\"", name);
        return 0;
    }
    const char *ty = NULL, *elem = NULL;
    int eid = 0, ereq = 0;

    if (!json_is_object(j) ||
        json_unpack((json_t *) j, "{s:s, s:i, s:s, s:b}", "type", &ty, "element-id", &eid, "element", &elem,
                    "element-required", &ereq) != 0 ||
        strcmp(ty, "list") != 0)
        return cdc_err_set(err, CDC_E_DEST,
                           "column \"%s\": a nested type other than a list of a primitive, which "
                           "this sink does not write", name);
    ice_type e;

    if (ice_type_parse(elem, &e, err) != 0)
        return cdc_err_wrap(err, "column \"%s\" element", name);
    *t = e;
    t->kind = ICE_LIST;
    t->elem_kind = e.kind;
    t->elem_id = eid;
    t->elem_required = ereq;
    return 0;
}

ice_schema *
ice_schema_from_json(const json_t *j, cdc_err *err)
{
    json_t *fields = json_object_get(j, "fields"), *ids = json_object_get(j, "identifier-field-ids");
    json_t *sid = json_object_get(j, "schema-id");
    ice_schema *s = ice_schema_new(json_is_integer(sid) ? (int32_t) json_integer_value(sid) : 0);
    size_t i;
    json_t *v;

    if (!json_is_array(fields)) {
        cdc_err_set(err, CDC_E_DEST, "iceberg schema %d has no \"fields\" array", (int) s->schema_id);
        goto fail;
    }
    json_array_foreach(fields, i, v) {
        ice_field f = { 0 };
        const char *name = NULL;
        int id = 0, req = 0;
        json_t *ty = NULL;

        if (json_unpack(v, "{s:i, s:s, s:b, s:o}", "id", &id, "name", &name, "required", &req,
                        "type", &ty) != 0) {
            cdc_err_set(err, CDC_E_DEST, "iceberg schema %d: field %zu lacks id, name, required "
                        "or type", (int) s->schema_id, i);
            goto fail;
        }
        f.id = id;
        f.name = (char *) name;
        f.required = req;
        if (type_from_json(ty, &f.type, name, err) != 0) {
            cdc_err_wrap(err, "iceberg schema %d", (int) s->schema_id);
            goto fail;
        }
        push_field(s, &f);
    }
    s->ident_ids = cdc_xcalloc(json_is_array(ids) ? json_array_size(ids) + 1 : 1, sizeof(int32_t));
    if (json_is_array(ids))
        json_array_foreach(ids, i, v) s->ident_ids[s->nident++] = (int32_t) json_integer_value(v);
    return s;
fail:
    ice_schema_free(s);
    return NULL;
}
