/*
 * Partition transforms and specs; see ice_transform.h.
 */
#include "sinks/iceberg/ice_transform.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_mem.h"

#define US_PER_DAY  86400000000LL
#define US_PER_HOUR 3600000000LL


static uint8_t
prim_kind(const ice_type *t)
{
    return t->kind == ICE_LIST ? t->elem_kind : t->kind;
}

/* ---- hashing ---- */

static uint32_t
rotl32(uint32_t x, int r)
{
    return (x << r) | (x >> (32 - r));
}

int32_t
ice_murmur3_32(const void *data, size_t n)
{
    const uint8_t *b = data;
    const uint32_t c1 = 0xcc9e2d51, c2 = 0x1b873593;
    uint32_t h = 0, k;
    size_t i, nblocks = n / 4;

    for (i = 0; i < nblocks; i++) {
        k = (uint32_t) b[4 * i] | (uint32_t) b[4 * i + 1] << 8 | (uint32_t) b[4 * i + 2] << 16 |
            (uint32_t) b[4 * i + 3] << 24;
        k *= c1;
        k = rotl32(k, 15);
        k *= c2;
        h ^= k;
        h = rotl32(h, 13);
        h = h * 5 + 0xe6546b64;
    }
    const uint8_t *tail = b + nblocks * 4;
    k = 0;
    switch (n & 3) {
    case 3: k ^= (uint32_t) tail[2] << 16; /* fall through */
    case 2: k ^= (uint32_t) tail[1] << 8;  /* fall through */
    case 1:
        k ^= tail[0];
        k *= c1;
        k = rotl32(k, 15);
        k *= c2;
        h ^= k;
    }
    h ^= (uint32_t) n;
    h ^= h >> 16;
    h *= 0x85ebca6b;
    h ^= h >> 13;
    h *= 0xc2b2ae35;
    h ^= h >> 16;
    return (int32_t) h;
}

static int32_t
hash_long(int64_t v)
{
    uint8_t b[8];

    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t) ((uint64_t) v >> (8 * i));
    return ice_murmur3_32(b, 8);
}

int32_t
ice_hash(const ice_type *t, const ice_value *v)
{
    switch (prim_kind(t)) {
    case ICE_BOOLEAN: return hash_long(v->b ? 1 : 0);
    case ICE_INT: case ICE_LONG: case ICE_DATE: case ICE_TIME: case ICE_TIMESTAMP:
    case ICE_TIMESTAMPTZ:
        return hash_long(v->i);
    case ICE_FLOAT:
    case ICE_DOUBLE: {
        double f = isnan(v->f) ? NAN : (v->f == 0.0 ? 0.0 : v->f);
        uint64_t bits;

        if (isnan(v->f))
            bits = 0x7ff8000000000000ULL;
        else
            memcpy(&bits, &f, 8);
        return hash_long((int64_t) bits);
    }
    case ICE_DECIMAL: {
        uint8_t b[16];
        size_t n = ice_decimal_bytes(v->d, b);

        return ice_murmur3_32(b, n);
    }
    default: return ice_murmur3_32(v->p, v->n);
    }
}

/* ---- transforms ---- */

static const char *const tnames[] = {
    [ICE_T_IDENTITY] = "identity", [ICE_T_BUCKET] = "bucket", [ICE_T_TRUNCATE] = "truncate",
    [ICE_T_YEAR] = "year",         [ICE_T_MONTH] = "month",   [ICE_T_DAY] = "day",
    [ICE_T_HOUR] = "hour",         [ICE_T_VOID] = "void",
};

const char *
ice_transform_str(const ice_transform *tr, char *buf, size_t size)
{
    if (tr->kind == ICE_T_BUCKET || tr->kind == ICE_T_TRUNCATE)
        snprintf(buf, size, "%s[%d]", tnames[tr->kind], (int) tr->param);
    else if (tr->kind >= ICE_T_IDENTITY && tr->kind <= ICE_T_VOID)
        snprintf(buf, size, "%s", tnames[tr->kind]);
    else
        snprintf(buf, size, "?");
    return buf;
}

int
ice_transform_parse(const char *s, ice_transform *tr, cdc_err *err)
{
    int n = 0, w;

    memset(tr, 0, sizeof(*tr));
    if (sscanf(s, "bucket[%d]%n", &w, &n) == 1 && s[n] == '\0' && w > 0) {
        tr->kind = ICE_T_BUCKET;
        tr->param = w;
        return 0;
    }
    if (sscanf(s, "truncate[%d]%n", &w, &n) == 1 && s[n] == '\0' && w > 0) {
        tr->kind = ICE_T_TRUNCATE;
        tr->param = w;
        return 0;
    }
    for (int k = ICE_T_IDENTITY; k <= ICE_T_VOID; k++)
        if (k != ICE_T_BUCKET && k != ICE_T_TRUNCATE && strcmp(s, tnames[k]) == 0) {
            tr->kind = (uint8_t) k;
            return 0;
        }
    return cdc_err_set(err, CDC_E_DEST, "partition transform \"%s\" is not one this sink knows", s);
}

bool
ice_transform_accepts(const ice_transform *tr, const ice_type *t)
{
    uint8_t k = t->kind;

    if (k == ICE_LIST)
        return tr->kind == ICE_T_VOID;
    switch (tr->kind) {
    case ICE_T_IDENTITY:
    case ICE_T_VOID: return true;
    case ICE_T_BUCKET:
        return k != ICE_BOOLEAN && k != ICE_FLOAT && k != ICE_DOUBLE;
    case ICE_T_TRUNCATE:
        return k == ICE_INT || k == ICE_LONG || k == ICE_DECIMAL || k == ICE_STRING ||
               k == ICE_BINARY;
    case ICE_T_YEAR:
    case ICE_T_MONTH:
    case ICE_T_DAY: return k == ICE_DATE || k == ICE_TIMESTAMP || k == ICE_TIMESTAMPTZ;
    case ICE_T_HOUR: return k == ICE_TIMESTAMP || k == ICE_TIMESTAMPTZ;
    default: return false;
    }
}

void
ice_transform_result_type(const ice_transform *tr, const ice_type *src, ice_type *out)
{
    memset(out, 0, sizeof(*out));
    switch (tr->kind) {
    case ICE_T_IDENTITY:
    case ICE_T_TRUNCATE:
    case ICE_T_VOID: *out = *src; break;
    /* Java and pyiceberg give day() a date result (the spec says int: the same
       Avro int, days since the epoch). */
    case ICE_T_DAY: out->kind = ICE_DATE; break;
    default: out->kind = ICE_INT; break;
    }
}

void
ice_transform_apply(const ice_transform *tr, const ice_type *t, const ice_value *in,
                    ice_value *out)
{
    *out = *in;
    if (in->null)
        return;
    int64_t days;
    int64_t y;
    int m, d;

    switch (tr->kind) {
    case ICE_T_IDENTITY: break;
    case ICE_T_VOID: out->null = true; break;
    case ICE_T_BUCKET:
        memset(out, 0, sizeof(*out));
        out->i = (int64_t) ((ice_hash(t, in) & INT32_MAX) % tr->param);
        break;
    case ICE_T_TRUNCATE:
        switch (t->kind) {
        case ICE_INT:
        case ICE_LONG: out->i = in->i - (((in->i % tr->param) + tr->param) % tr->param); break;
        case ICE_DECIMAL: out->d = in->d - (((in->d % tr->param) + tr->param) % tr->param); break;
        case ICE_STRING: {
            size_t i = 0;
            int cps = 0;

            while (i < in->n && cps < tr->param) {
                i++;
                while (i < in->n && (in->p[i] & 0xc0) == 0x80)
                    i++;
                cps++;
            }
            out->n = i;
            break;
        }
        default:
            if (out->n > (size_t) tr->param)
                out->n = (size_t) tr->param;
            break;
        }
        break;
    default:
        days = t->kind == ICE_DATE ? in->i : ice_floor_div(in->i, US_PER_DAY);
        memset(out, 0, sizeof(*out));
        if (tr->kind == ICE_T_DAY) {
            out->i = days;
            break;
        }
        if (tr->kind == ICE_T_HOUR) {
            out->i = ice_floor_div(in->i, US_PER_HOUR);
            break;
        }
        ice_civil_from_days(days, &y, &m, &d);
        out->i = tr->kind == ICE_T_YEAR ? y - 1970 : (y - 1970) * 12 + (m - 1);
        break;
    }
}

/* ---- specs ---- */

ice_spec *
ice_spec_new(int32_t spec_id)
{
    ice_spec *sp = cdc_xcalloc(1, sizeof(*sp));

    sp->spec_id = spec_id;
    return sp;
}

void
ice_spec_free(ice_spec *sp)
{
    if (sp == NULL)
        return;
    for (int i = 0; i < sp->nfields; i++)
        free(sp->fields[i].name);
    free(sp->fields);
    free(sp);
}

static void
spec_push(ice_spec *sp, const ice_pfield *f)
{
    sp->fields = cdc_xrealloc(sp->fields, ((size_t) sp->nfields + 1) * sizeof(*f));
    sp->fields[sp->nfields] = *f;
    sp->fields[sp->nfields].name = cdc_xstrdup(f->name);
    sp->nfields++;
}

ice_spec *
ice_spec_dup(const ice_spec *sp)
{
    ice_spec *d = ice_spec_new(sp->spec_id);

    for (int i = 0; i < sp->nfields; i++)
        spec_push(d, &sp->fields[i]);
    return d;
}

static void
trim(char *s)
{
    size_t n = strlen(s), i = 0;

    while (n && isspace((unsigned char) s[n - 1]))
        s[--n] = '\0';
    while (isspace((unsigned char) s[i]))
        i++;
    memmove(s, s + i, n - i + 1);
}

/* One partition_by entry into a transform and a column name (in col). */
static int
parse_entry(const char *entry, ice_transform *tr, char *col, size_t colsize)
{
    char buf[256], fn[64];
    const char *open = strchr(entry, '('), *close = strrchr(entry, ')');

    memset(tr, 0, sizeof(*tr));
    if (strlen(entry) >= sizeof(buf))
        return -1;
    if (open == NULL) {
        snprintf(col, colsize, "%s", entry);
        trim(col);
        tr->kind = ICE_T_IDENTITY;
        return col[0] ? 0 : -1;
    }
    if (close == NULL || close < open || close[1] != '\0' || (size_t) (open - entry) >= sizeof(fn))
        return -1;
    memcpy(fn, entry, (size_t) (open - entry));
    fn[open - entry] = '\0';
    trim(fn);
    memcpy(buf, open + 1, (size_t) (close - open - 1));
    buf[close - open - 1] = '\0';

    int param = 0;
    char *comma = strchr(buf, ',');
    char *br = strchr(fn, '[');
    if (br) {   /* bucket[16](col) */
        char *e;
        long v = strtol(br + 1, &e, 10);

        if (*e != ']' || e[1] != '\0' || v <= 0 || v > INT32_MAX)
            return -1;
        param = (int) v;
        *br = '\0';
        snprintf(col, colsize, "%s", buf);
    } else if (comma) {     /* bucket(16, col) */
        char *e;

        *comma = '\0';
        trim(buf);
        long v = strtol(buf, &e, 10);
        if (*e || e == buf || v <= 0 || v > INT32_MAX)
            return -1;
        param = (int) v;
        snprintf(col, colsize, "%s", comma + 1);
    } else {
        snprintf(col, colsize, "%s", buf);
    }
    trim(col);
    if (!col[0])
        return -1;

    static const struct { const char *name; uint8_t kind; bool param; } fns[] = {
        { "identity", ICE_T_IDENTITY, false }, { "bucket", ICE_T_BUCKET, true },
        { "truncate", ICE_T_TRUNCATE, true },  { "year", ICE_T_YEAR, false },
        { "years", ICE_T_YEAR, false },        { "month", ICE_T_MONTH, false },
        { "months", ICE_T_MONTH, false },      { "day", ICE_T_DAY, false },
        { "days", ICE_T_DAY, false },          { "hour", ICE_T_HOUR, false },
        { "hours", ICE_T_HOUR, false },
    };
    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
        if (strcmp(fn, fns[i].name) == 0) {
            if (fns[i].param != (param > 0))
                return -1;
            tr->kind = fns[i].kind;
            tr->param = param;
            return 0;
        }
    return -1;
}

static const char *const name_suffix[] = {
    [ICE_T_IDENTITY] = "", [ICE_T_BUCKET] = "_bucket", [ICE_T_TRUNCATE] = "_trunc",
    [ICE_T_YEAR] = "_year", [ICE_T_MONTH] = "_month", [ICE_T_DAY] = "_day",
    [ICE_T_HOUR] = "_hour", [ICE_T_VOID] = "_null",
};

ice_spec *
ice_spec_from_partition_by(const char *const *entries, int n, const ice_schema *s,
                           const char *table, int32_t spec_id, int32_t *last_partition_id,
                           cdc_err *err)
{
    ice_spec *sp = ice_spec_new(spec_id);

    for (int i = 0; i < n; i++) {
        ice_pfield f = { 0 };
        char col[256], name[300], tb[64], trb[64];
        const ice_field *src;

        if (parse_entry(entries[i], &f.tr, col, sizeof(col)) != 0) {
            cdc_err_set(err, CDC_E_CONFIG,
                        "table %s: partition_by entry \"%s\" is not col, bucket(N, col), "
                        "truncate(W, col), year(col), month(col), day(col) or hour(col)",
                        table, entries[i]);
            goto fail;
        }
        if ((src = ice_schema_find(s, col)) == NULL) {
            cdc_err_set(err, CDC_E_CONFIG, "table %s: partition_by entry \"%s\" names no column "
                        "of the table", table, entries[i]);
            goto fail;
        }
        if (!ice_transform_accepts(&f.tr, &src->type)) {
            cdc_err_set(err, CDC_E_CONFIG, "table %s: partition_by entry \"%s\": %s does not apply "
                        "to column \"%s\" of type %s", table, entries[i],
                        ice_transform_str(&f.tr, trb, sizeof(trb)), col,
                        ice_type_str(&src->type, tb, sizeof(tb)));
            goto fail;
        }
        snprintf(name, sizeof(name), "%s%s", col, name_suffix[f.tr.kind]);
        for (int k = 0; k < sp->nfields; k++)
            if (strcmp(sp->fields[k].name, name) == 0) {
                cdc_err_set(err, CDC_E_CONFIG, "table %s: partition_by entry \"%s\" repeats "
                            "partition field \"%s\"", table, entries[i], name);
                goto fail;
            }
        f.source_id = src->id;
        f.field_id = ++*last_partition_id;
        f.name = name;
        spec_push(sp, &f);
    }
    return sp;
fail:
    ice_spec_free(sp);
    return NULL;
}

int
ice_spec_check(const ice_spec *sp, const ice_schema *s, const char *table, cdc_err *err)
{
    for (int i = 0; i < sp->nfields; i++) {
        const ice_pfield *f = &sp->fields[i];
        const ice_field *src = ice_schema_find_id(s, f->source_id);
        char tb[64], trb[64];

        if (src == NULL)
            return cdc_err_set(err, CDC_E_DEST, "table %s: partition field \"%s\" is computed "
                               "from column id %d, which the new schema drops; Iceberg keeps "
                               "partition source columns", table, f->name, (int) f->source_id);
        if (!ice_transform_accepts(&f->tr, &src->type))
            return cdc_err_set(err, CDC_E_DEST, "table %s: partition field \"%s\": %s does not "
                               "apply to column \"%s\" of type %s", table, f->name,
                               ice_transform_str(&f->tr, trb, sizeof(trb)), src->name,
                               ice_type_str(&src->type, tb, sizeof(tb)));
    }
    return 0;
}

int
ice_spec_types(const ice_spec *sp, const ice_schema *s, ice_type *out, cdc_err *err)
{
    for (int i = 0; i < sp->nfields; i++) {
        const ice_field *src = ice_schema_find_id(s, sp->fields[i].source_id);

        if (src == NULL)
            return cdc_err_set(err, CDC_E_DEST, "partition field \"%s\" refers to column id %d, "
                               "which schema %d does not have", sp->fields[i].name,
                               (int) sp->fields[i].source_id, (int) s->schema_id);
        ice_transform_result_type(&sp->fields[i].tr, &src->type, &out[i]);
    }
    return 0;
}

json_t *
ice_spec_fields_json(const ice_spec *sp)
{
    json_t *a = json_array();
    char tb[64];

    for (int i = 0; i < sp->nfields; i++) {
        const ice_pfield *f = &sp->fields[i];

        json_array_append_new(a, json_pack("{s:s, s:s, s:i, s:i}", "name", f->name, "transform",
                                           ice_transform_str(&f->tr, tb, sizeof(tb)), "source-id",
                                           (int) f->source_id, "field-id", (int) f->field_id));
    }
    return a;
}

json_t *
ice_spec_to_json(const ice_spec *sp)
{
    return json_pack("{s:i, s:o}", "spec-id", (int) sp->spec_id, "fields", ice_spec_fields_json(sp));
}

ice_spec *
ice_spec_from_json(const json_t *j, cdc_err *err)
{
    json_t *fields = json_object_get(j, "fields"), *v;
    json_t *sid = json_object_get(j, "spec-id");
    ice_spec *sp = ice_spec_new(json_is_integer(sid) ? (int32_t) json_integer_value(sid) : 0);
    size_t i;

    if (!json_is_array(fields)) {
        cdc_err_set(err, CDC_E_DEST, "partition spec %d has no \"fields\" array", (int) sp->spec_id);
        goto fail;
    }
    json_array_foreach(fields, i, v) {
        ice_pfield f = { 0 };
        const char *name, *tr;
        int src, fid;

        if (json_unpack(v, "{s:s, s:s, s:i, s:i}", "name", &name, "transform", &tr, "source-id",
                        &src, "field-id", &fid) != 0) {
            cdc_err_set(err, CDC_E_DEST, "partition spec %d: field %zu lacks name, transform, "
                        "source-id or field-id", (int) sp->spec_id, i);
            goto fail;
        }
        if (ice_transform_parse(tr, &f.tr, err) != 0) {
            cdc_err_wrap(err, "partition spec %d, field \"%s\"", (int) sp->spec_id, name);
            goto fail;
        }
        f.source_id = src;
        f.field_id = fid;
        f.name = (char *) name;
        spec_push(sp, &f);
    }
    return sp;
fail:
    ice_spec_free(sp);
    return NULL;
}
