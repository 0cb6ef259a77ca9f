/*
 * Avro schema text for Debezium's Connect schemas, as Confluent's AvroData
 * (fromConnectSchema) builds it and Avro Java's Schema.toString() prints it:
 * compact JSON, object members in a fixed order.  The order matters more
 * than it should: the registry is safest fed the very text the
 * AvroConverter would register (CONTRACT.md 3.4, 9.1), so this file writes
 * JSON by hand into a cdc_buf instead of going through a JSON tree.
 *
 * The rules, from CONTRACT.md 3.2/3.3 and Avro Java's Schema.toJson:
 * - a primitive without properties is a bare string ("int"); with
 *   properties {"type":T, then Decimal's "scale","precision", then
 *   connect.doc, connect.version, connect.parameters, connect.default,
 *   connect.name, connect.type, logicalType};
 * - a record is {"type":"record","name","namespace" (only when it differs
 *   from the enclosing one),"fields":[...], then its connect.* props};
 * - a field is {"name","type","default"}; optional fields are unions,
 *   ["null",T] without a default and [T,"null"] with one;
 * - a named type used again is referred to by name, short when its
 *   namespace is the enclosing one.
 * The Connect type tables agree with json_schema.c (JsonConverter).
 */
#include "schemas/avro.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/avro_int.h"
#include "schemas/debezium.h"
#include "schemas/json.h"
#include "schemas/json_int.h"

#define SOURCE_NS    "io.debezium.connector.postgresql"

/* ------------------------------------------------------------------ */
/* Profiles                                                            */
/* ------------------------------------------------------------------ */

void
sch_avro_opts_default(sch_avro_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->profile = SCH_AVRO_DBZ_2_7;
    o->replace_null_with_default = true;
    o->name_mode = SCH_AVRO_NAMES_PROFILE;
}

int
sch_avro_profile_parse(const char *s, sch_avro_profile *out)
{
    char *end;
    long  major, minor;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    major = strtol(s, &end, 10);
    if (*end != '.' || end[1] < '0' || end[1] > '9')
        return -1;
    minor = strtol(end + 1, &end, 10);
    if (*end != '\0' && *end != '.')
        return -1;
    if (major == 1 && minor == 9)
        *out = SCH_AVRO_DBZ_1_9;
    else if (major == 2 && minor <= 5)
        *out = SCH_AVRO_DBZ_2_0;
    else if (major == 2 && minor == 6)
        *out = SCH_AVRO_DBZ_2_6;
    else if (major == 2)
        *out = SCH_AVRO_DBZ_2_7;
    else if (major == 3 && minor == 0)
        *out = SCH_AVRO_DBZ_3_0;
    else if (major == 3 && minor <= 4)
        *out = SCH_AVRO_DBZ_3_1;
    else if (major == 3)
        *out = SCH_AVRO_DBZ_3_5;
    else
        return -1;
    return 0;
}

const char *
sch_avro_profile_name(sch_avro_profile p)
{
    switch (p) {
    case SCH_AVRO_DBZ_1_9: return "1.9";
    case SCH_AVRO_DBZ_2_0: return "2.0-2.5";
    case SCH_AVRO_DBZ_2_6: return "2.6";
    case SCH_AVRO_DBZ_2_7: return "2.7";
    case SCH_AVRO_DBZ_3_0: return "3.0";
    case SCH_AVRO_DBZ_3_1: return "3.1-3.4";
    case SCH_AVRO_DBZ_3_5: return "3.5+";
    }
    return "?";
}

void
sch_avro_traits_get(const sch_avro_opts *o, sch_avro_traits *t)
{
    sch_avro_profile p = o->profile;
    bool         ts_us = p != SCH_AVRO_DBZ_1_9 && p != SCH_AVRO_DBZ_2_0;
    int          n = 0;
    sch_dbz_shape sh = sch_dbz_profile_shape(p);

    memset(t, 0, sizeof(*t));
    t->env_version = p == SCH_AVRO_DBZ_1_9 ? 0 : p == SCH_AVRO_DBZ_2_0 ? 1 : 2;
    t->source_versioned = sh.source_versioned;
    t->message_tx = sh.message_tx;
    t->full_allowed = sh.full_allowed;
    t->names = o->name_mode != SCH_AVRO_NAMES_PROFILE ? o->name_mode
               : p == SCH_AVRO_DBZ_1_9                ? SCH_AVRO_NAMES_AVRO
                                                  : SCH_AVRO_NAMES_NONE;
    switch (p) {
    case SCH_AVRO_DBZ_1_9: t->version = "1.9.7.Final"; break;
    case SCH_AVRO_DBZ_2_0: t->version = "2.5.4.Final"; break;
    case SCH_AVRO_DBZ_2_6: t->version = "2.6.2.Final"; break;
    case SCH_AVRO_DBZ_2_7: t->version = "2.7.3.Final"; break;
    case SCH_AVRO_DBZ_3_0: t->version = "3.0.8.Final"; break;
    case SCH_AVRO_DBZ_3_1: t->version = "3.4.3.Final"; break;
    case SCH_AVRO_DBZ_3_5: t->version = "3.5.0.Final"; break;
    }

    t->env[n++] = SCH_AVRO_ENV_BEFORE;
    t->env[n++] = SCH_AVRO_ENV_AFTER;
    t->env[n++] = SCH_AVRO_ENV_SOURCE;
    if (p != SCH_AVRO_DBZ_1_9 && p != SCH_AVRO_DBZ_2_0 && p != SCH_AVRO_DBZ_2_6)
        t->env[n++] = SCH_AVRO_ENV_TRANSACTION;     /* 2.7 moved it before op */
    t->env[n++] = SCH_AVRO_ENV_OP;
    t->env[n++] = SCH_AVRO_ENV_TS_MS;
    if (ts_us) {
        t->env[n++] = SCH_AVRO_ENV_TS_US;
        t->env[n++] = SCH_AVRO_ENV_TS_NS;
    }
    if (p == SCH_AVRO_DBZ_1_9 || p == SCH_AVRO_DBZ_2_0 || p == SCH_AVRO_DBZ_2_6)
        t->env[n++] = SCH_AVRO_ENV_TRANSACTION;
    t->nenv = n;

    n = 0;
    for (int f = SCH_AVRO_SRC_VERSION; f < SCH_AVRO_SRC__COUNT; f++) {
        if ((f == SCH_AVRO_SRC_TS_US || f == SCH_AVRO_SRC_TS_NS) && !ts_us)
            continue;
        if ((f == SCH_AVRO_SRC_ORIGIN || f == SCH_AVRO_SRC_ORIGIN_LSN) && !sh.origin)
            continue;
        t->src[n++] = (sch_avro_src_field) f;
    }
    t->nsrc = n;
}

/* ------------------------------------------------------------------ */
/* Columns                                                             */
/* ------------------------------------------------------------------ */

const cdc_value *
sch_avro_col_default(const cdc_col *col)
{
    if (!col->has_default)
        return NULL;
    /* Only scalars, arrays and VariableScaleDecimal have a JSON default that
       fits their Avro type; Debezium parses no default for the rest. */
    if (col->ctype.kind == CDC_CT_MAP ||
        (col->ctype.kind == CDC_CT_STRUCT && col->ctype.sem != CDC_SEM_VARIABLE_DECIMAL))
        return NULL;
    return &col->def;
}

sch_avro_shape
sch_avro_col_shape(const cdc_col *col)
{
    if (col->not_null)
        return SCH_AVRO_REQUIRED;
    return sch_avro_col_default(col) ? SCH_AVRO_NULL_SECOND : SCH_AVRO_NULL_FIRST;
}

/* ------------------------------------------------------------------ */
/* Writer state                                                        */
/* ------------------------------------------------------------------ */

typedef struct sw {
    cdc_buf           *b;
    const sch_avro_opts   *o;
    const sch_avro_traits *t;
    const char        *space;       /* enclosing namespace; NULL at the top */
    bool               vsd_done;    /* io.debezium.data.VariableScaleDecimal defined */
    bool               point_done;  /* io.debezium.data.geometry.Point defined */
} sw;

static void
put_str(cdc_buf *b, const char *s)
{
    /* Avro's Schema.toString() writes through a Writer: non-BMP characters stay raw. */
    sch_json_put_string_raw(b, s ? s : "", s ? strlen(s) : 0);
}

/* Semantic names, by cdc_sem (the same table as json_schema.c). */
static const char *const sem_names[CDC_SEM__COUNT] = {
    [CDC_SEM_DECIMAL] = "org.apache.kafka.connect.data.Decimal",
    [CDC_SEM_VARIABLE_DECIMAL] = "io.debezium.data.VariableScaleDecimal",
    [CDC_SEM_BITS] = "io.debezium.data.Bits",
    [CDC_SEM_JSON] = "io.debezium.data.Json",
    [CDC_SEM_XML] = "io.debezium.data.Xml",
    [CDC_SEM_UUID] = "io.debezium.data.Uuid",
    [CDC_SEM_ENUM] = "io.debezium.data.Enum",
    [CDC_SEM_LTREE] = "io.debezium.data.Ltree",
    [CDC_SEM_DATE] = "io.debezium.time.Date",
    [CDC_SEM_TIME] = "io.debezium.time.Time",
    [CDC_SEM_MICRO_TIME] = "io.debezium.time.MicroTime",
    [CDC_SEM_NANO_TIME] = "io.debezium.time.NanoTime",
    [CDC_SEM_ZONED_TIME] = "io.debezium.time.ZonedTime",
    [CDC_SEM_TIMESTAMP] = "io.debezium.time.Timestamp",
    [CDC_SEM_MICRO_TIMESTAMP] = "io.debezium.time.MicroTimestamp",
    [CDC_SEM_NANO_TIMESTAMP] = "io.debezium.time.NanoTimestamp",
    [CDC_SEM_ZONED_TIMESTAMP] = "io.debezium.time.ZonedTimestamp",
    [CDC_SEM_MICRO_DURATION] = "io.debezium.time.MicroDuration",
    [CDC_SEM_INTERVAL] = "io.debezium.time.Interval",
    [CDC_SEM_CONNECT_DATE] = "org.apache.kafka.connect.data.Date",
    [CDC_SEM_CONNECT_TIME] = "org.apache.kafka.connect.data.Time",
    [CDC_SEM_CONNECT_TIMESTAMP] = "org.apache.kafka.connect.data.Timestamp",
    [CDC_SEM_POINT] = "io.debezium.data.geometry.Point",
};

/* Avro base types, by cdc_ctkind (CONTRACT.md 3.3). */
static const char *const avro_base[] = {
    [CDC_CT_NONE] = "string",   [CDC_CT_BOOLEAN] = "boolean", [CDC_CT_INT8] = "int",
    [CDC_CT_INT16] = "int",     [CDC_CT_INT32] = "int",       [CDC_CT_INT64] = "long",
    [CDC_CT_FLOAT32] = "float", [CDC_CT_FLOAT64] = "double",  [CDC_CT_STRING] = "string",
    [CDC_CT_BYTES] = "bytes",   [CDC_CT_ARRAY] = "array",     [CDC_CT_MAP] = "map",
    [CDC_CT_STRUCT] = "record",
};

/* ------------------------------------------------------------------ */
/* Defaults                                                            */
/* ------------------------------------------------------------------ */

/* Bytes as an ISO-8859-1 string, the Avro convention for bytes in JSON. */
static void
put_latin1(cdc_buf *b, const void *p, size_t n)
{
    const unsigned char *s = p;
    cdc_buf              tmp = CDC_BUF_INIT;

    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x80) {
            cdc_buf_putc(&tmp, (char) s[i]);
        } else {
            cdc_buf_putc(&tmp, (char) (0xC0 | (s[i] >> 6)));
            cdc_buf_putc(&tmp, (char) (0x80 | (s[i] & 0x3F)));
        }
    }
    if (cdc_buf_failed(&tmp))
        b->failed = true;
    else
        sch_json_put_string_raw(b, cdc_buf_str(&tmp), tmp.len);
    cdc_buf_free(&tmp);
}

/* A Connect default as AvroData's defaultValueFromConnect renders it. */
static void
put_default(cdc_buf *b, const cdc_ctype *ct, const cdc_value *v)
{
    sch_json_opts jo;

    switch ((cdc_ctkind) ct->kind) {
    case CDC_CT_BYTES:
        put_latin1(b, v->u.s.p, v->u.s.n);
        return;
    case CDC_CT_STRUCT:     /* VariableScaleDecimal: sch_avro_col_default() lets no other through */
        cdc_buf_puts(b, "{\"scale\":");
        cdc_buf_put_i64(b, v->u.s.scale);
        cdc_buf_puts(b, ",\"value\":");
        put_latin1(b, v->u.s.p, v->u.s.n);
        cdc_buf_putc(b, '}');
        return;
    case CDC_CT_ARRAY: {
        cdc_ctype e = cdc_ctype_elem(ct);

        cdc_buf_putc(b, '[');
        for (size_t i = 0; i < v->u.arr.n; i++) {
            if (i > 0)
                cdc_buf_putc(b, ',');
            if (v->u.arr.items[i].state == CDC_VAL_PRESENT && e.kind != CDC_CT_STRUCT)
                put_default(b, &e, &v->u.arr.items[i]);
            else
                cdc_buf_puts(b, "null");
        }
        cdc_buf_putc(b, ']');
        return;
    }
    case CDC_CT_STRING:
        sch_json_put_string_raw(b, v->u.s.p, v->u.s.n);
        return;
    default:
        /* numbers and booleans are written as JsonConverter writes them */
        sch_json_opts_default(&jo);
        sch_json_put_present(b, ct, v, &jo);
        return;
    }
}

/* ------------------------------------------------------------------ */
/* Types                                                               */
/* ------------------------------------------------------------------ */

/* Writes the name of a type already defined, as Avro Java's writeNameRef. */
static void
put_name_ref(sw *s, const char *space, const char *name)
{
    cdc_buf_putc(s->b, '"');
    if (s->space == NULL || strcmp(s->space, space) != 0) {
        cdc_buf_puts(s->b, space);
        cdc_buf_putc(s->b, '.');
    }
    cdc_buf_puts(s->b, name);
    cdc_buf_putc(s->b, '"');
}

/* `"type":"record","name":N[,"namespace":S],"fields":[`; enters S. */
static const char *
open_record(sw *s, const char *space, const char *name)
{
    const char *saved = s->space;

    cdc_buf_puts(s->b, "{\"type\":\"record\",\"name\":");
    put_str(s->b, name);
    if (s->space == NULL || strcmp(s->space, space) != 0) {
        cdc_buf_puts(s->b, ",\"namespace\":");
        put_str(s->b, space);
    }
    cdc_buf_puts(s->b, ",\"fields\":[");
    s->space = space;
    return saved;
}

static void put_type(sw *s, const cdc_ctype *ct, const char *labels, const cdc_value *def);

/* The two Debezium structs a column can be: defined once, then named. */
static void
put_struct(sw *s, const cdc_ctype *ct)
{
    const char *saved;

    if (ct->sem == CDC_SEM_VARIABLE_DECIMAL) {
        if (s->vsd_done) {
            put_name_ref(s, "io.debezium.data", "VariableScaleDecimal");
            return;
        }
        s->vsd_done = true;
        saved = open_record(s, "io.debezium.data", "VariableScaleDecimal");
        cdc_buf_puts(s->b, "{\"name\":\"scale\",\"type\":\"int\"},"
                           "{\"name\":\"value\",\"type\":\"bytes\"}],"
                           "\"connect.doc\":\"Variable scaled decimal\",\"connect.version\":1,"
                           "\"connect.name\":\"io.debezium.data.VariableScaleDecimal\"}");
        s->space = saved;
        return;
    }
    if (s->point_done) {
        put_name_ref(s, "io.debezium.data.geometry", "Point");
        return;
    }
    s->point_done = true;
    saved = open_record(s, "io.debezium.data.geometry", "Point");
    cdc_buf_puts(s->b, "{\"name\":\"x\",\"type\":\"double\"},"
                       "{\"name\":\"y\",\"type\":\"double\"},"
                       "{\"name\":\"wkb\",\"type\":[\"null\",\"bytes\"],\"default\":null},"
                       "{\"name\":\"srid\",\"type\":[\"null\",\"int\"],\"default\":null}],"
                       "\"connect.doc\":\"Geometry (POINT)\",\"connect.version\":1,"
                       "\"connect.name\":\"io.debezium.data.geometry.Point\"}");
    s->space = saved;
}

/* connect.version .. logicalType, after the type and its own members. */
static void
put_connect_props(sw *s, const cdc_ctype *ct, const char *labels, const cdc_value *def)
{
    cdc_buf    *b = s->b;
    unsigned    sem = ct->sem < CDC_SEM__COUNT ? ct->sem : CDC_SEM_NONE;
    const char *name = sem_names[sem];
    int         n = 0;

    if (name)
        cdc_buf_puts(b, ",\"connect.version\":1");
    if (sem == CDC_SEM_DECIMAL) {
        cdc_buf_puts(b, ",\"connect.parameters\":{");
        sch_json_put_param_int(b, "scale", ct->scale);
        if (ct->precision >= 0) {   /* money has none */
            cdc_buf_putc(b, ',');
            sch_json_put_param_int(b, "connect.decimal.precision", ct->precision);
        }
        n = 1;
    } else if (sem == CDC_SEM_BITS) {
        cdc_buf_puts(b, ",\"connect.parameters\":{");
        sch_json_put_param_int(b, "length", ct->length);
        n = 1;
    } else if (sem == CDC_SEM_ENUM) {
        cdc_buf_puts(b, ",\"connect.parameters\":{\"allowed\":");
        put_str(b, labels);
        n = 1;
    }
    sch_json_close_params(b, ct, n, ",\"connect.parameters\":{");
    if (def) {
        cdc_buf_puts(b, ",\"connect.default\":");
        put_default(b, ct, def);
    }
    if (name) {
        cdc_buf_puts(b, ",\"connect.name\":");
        put_str(b, name);
    }
    if (ct->kind == CDC_CT_INT8)
        cdc_buf_puts(b, ",\"connect.type\":\"int8\"");
    else if (ct->kind == CDC_CT_INT16)
        cdc_buf_puts(b, ",\"connect.type\":\"int16\"");
    if (sem == CDC_SEM_DECIMAL) {
        int32_t prec = ct->precision >= 0 ? ct->precision : 64;

        if (ct->scale >= 0 && ct->scale <= prec)
            cdc_buf_puts(b, ",\"logicalType\":\"decimal\"");
    } else if (sem == CDC_SEM_CONNECT_DATE) {
        cdc_buf_puts(b, ",\"logicalType\":\"date\"");
    } else if (sem == CDC_SEM_CONNECT_TIME) {
        cdc_buf_puts(b, ",\"logicalType\":\"time-millis\"");
    } else if (sem == CDC_SEM_CONNECT_TIMESTAMP) {
        cdc_buf_puts(b, ",\"logicalType\":\"timestamp-millis\"");
    }
}

/* A column type, not wrapped in a union; def is its connect.default or NULL. */
static void
put_type(sw *s, const cdc_ctype *ct, const char *labels, const cdc_value *def)
{
    cdc_buf *b = s->b;
    unsigned kind = ct->kind < sizeof(avro_base) / sizeof(avro_base[0]) ? ct->kind : 0;

    if (kind == CDC_CT_STRUCT) {
        put_struct(s, ct);
        return;
    }
    if (kind == CDC_CT_ARRAY) {
        cdc_ctype e = cdc_ctype_elem(ct);

        /* Elements are optional, except an enum's (Debezium: Enum.builder without .optional()). */
        if (e.sem == CDC_SEM_ENUM) {
            cdc_buf_puts(b, "{\"type\":\"array\",\"items\":");
            put_type(s, &e, labels, NULL);
        } else {
            cdc_buf_puts(b, "{\"type\":\"array\",\"items\":[\"null\",");
            put_type(s, &e, labels, NULL);
            cdc_buf_putc(b, ']');
        }
        put_connect_props(s, ct, labels, def);
        cdc_buf_putc(b, '}');
        return;
    }
    if (kind == CDC_CT_MAP) {
        /* hstore.handling.mode=map: MAP<string, optional string> */
        cdc_buf_puts(b, "{\"type\":\"map\",\"values\":[\"null\",\"string\"]}");
        return;
    }
    if (ct->sem == CDC_SEM_NONE && def == NULL && kind != CDC_CT_INT8 && kind != CDC_CT_INT16 &&
        ct->mapped == CDC_MAP_NONE) {
        cdc_buf_putc(b, '"');
        cdc_buf_puts(b, avro_base[kind]);
        cdc_buf_putc(b, '"');
        return;
    }
    cdc_buf_puts(b, "{\"type\":\"");
    cdc_buf_puts(b, avro_base[kind]);
    cdc_buf_putc(b, '"');
    if (ct->sem == CDC_SEM_DECIMAL) {
        cdc_buf_puts(b, ",\"scale\":");
        cdc_buf_put_i64(b, ct->scale);
        cdc_buf_puts(b, ",\"precision\":");
        cdc_buf_put_i64(b, ct->precision >= 0 ? ct->precision : 64);
    }
    put_connect_props(s, ct, labels, def);
    cdc_buf_putc(b, '}');
}

/* The key's fields carry no source type parameters: Debezium's key schema has no mapper. */
static void
put_col_field(sw *s, const cdc_col *column, bool key)
{
    cdc_col          c = *column;
    const cdc_col   *col = &c;
    const cdc_value *def = sch_avro_col_default(col);

    if (key && c.ctype.mapped == CDC_MAP_SOURCE_TYPE)
        c.ctype.mapped = CDC_MAP_NONE;

    cdc_buf_puts(s->b, "{\"name\":");
    put_str(s->b, col->name);
    cdc_buf_puts(s->b, ",\"type\":");
    switch (sch_avro_col_shape(col)) {
    case SCH_AVRO_REQUIRED:
        put_type(s, &col->ctype, col->enum_labels, def);
        break;
    case SCH_AVRO_NULL_FIRST:
        cdc_buf_puts(s->b, "[\"null\",");
        put_type(s, &col->ctype, col->enum_labels, NULL);
        cdc_buf_puts(s->b, "],\"default\":null}");
        return;
    case SCH_AVRO_NULL_SECOND:
        cdc_buf_putc(s->b, '[');
        put_type(s, &col->ctype, col->enum_labels, def);
        cdc_buf_puts(s->b, ",\"null\"]");
        break;
    }
    if (def) {
        cdc_buf_puts(s->b, ",\"default\":");
        put_default(s->b, &col->ctype, def);
    }
    cdc_buf_putc(s->b, '}');
}

/* ------------------------------------------------------------------ */
/* Names                                                               */
/* ------------------------------------------------------------------ */

/*
 * "{topic}{suffix}" through the schema-name adjuster (sch_name_adjust), into out;
 * NULL when it does not fit.
 */
char *
sch_avro_full_name(const sch_avro_traits *t, const char *topic, const char *suffix, char *out, size_t outsz)
{
    char    raw[600];
    cdc_buf b = CDC_BUF_INIT;
    char   *r = out;

    if (snprintf(raw, sizeof(raw), "%s%s", topic ? topic : "", suffix) >= (int) sizeof(raw))
        return NULL;
    sch_name_adjust(t->names, raw, &b);
    if (b.len >= outsz || cdc_buf_failed(&b))
        r = NULL;
    else
        memcpy(out, cdc_buf_str(&b), b.len + 1);
    cdc_buf_free(&b);
    return r;
}

/* Splits a full name at its last dot, as AvroData's splitName. */
static void
split_name(char *full, const char **space, const char **name)
{
    char *dot = strrchr(full, '.');

    if (dot == NULL) {
        *space = "";
        *name = full;
        return;
    }
    *dot = '\0';
    *space = full;
    *name = dot + 1;
}

/* ------------------------------------------------------------------ */
/* Key, Source, Envelope                                               */
/* ------------------------------------------------------------------ */

static char *
finish(cdc_buf *b)
{
    if (cdc_buf_failed(b)) {
        cdc_buf_free(b);
        return NULL;
    }
    return (char *) b->data;
}

char *
sch_avro_key_schema_json(const cdc_rel *rel, const sch_avro_opts *o)
{
    cdc_buf     b = CDC_BUF_INIT;
    sch_avro_traits t;
    sw          s = { .b = &b, .o = o, .t = &t };
    char        full[1024], cname[1024];
    const char *space, *name;

    if (rel == NULL || rel->nkeys == 0)
        return NULL;
    sch_avro_traits_get(o, &t);
    if (sch_avro_full_name(&t, rel->topic, ".Key", full, sizeof(full)) == NULL)
        return NULL;
    memcpy(cname, full, strlen(full) + 1);
    split_name(full, &space, &name);
    open_record(&s, space, name);
    for (int k = 0, i, n = 0; (i = sch_dbz_key_next(rel, &k)) >= 0; n++) {
        if (n > 0)
            cdc_buf_putc(&b, ',');
        put_col_field(&s, &rel->cols[i], true);
    }
    cdc_buf_puts(&b, "],\"connect.name\":");
    put_str(&b, cname);
    cdc_buf_putc(&b, '}');
    return finish(&b);
}

static void
put_snapshot_type(sw *s)
{
    cdc_buf_puts(s->b, "[{\"type\":\"string\"");
    if (s->t->source_versioned)
        cdc_buf_puts(s->b, ",\"connect.version\":1");
    cdc_buf_puts(s->b, ",\"connect.parameters\":{\"allowed\":\"");
    cdc_buf_puts(s->b, s->t->full_allowed ? SCH_DBZ_ALLOWED_FULL : SCH_DBZ_ALLOWED_OLD);
    cdc_buf_puts(s->b, "\"},\"connect.default\":\"false\",\"connect.name\":"
                       "\"io.debezium.data.Enum\"},\"null\"],\"default\":\"false\"}");
}

/* io.debezium.connector.postgresql.Source (CONTRACT.md 2.3), as a field type. */
static void
put_source(sw *s)
{
    static const char *const req_string = "\"type\":\"string\"}";
    static const char *const opt_long = "\"type\":[\"null\",\"long\"],\"default\":null}";
    static const char *const opt_string = "\"type\":[\"null\",\"string\"],\"default\":null}";
    static const struct {
        const char *name, *rest;
    } f[SCH_AVRO_SRC__COUNT] = {
        [SCH_AVRO_SRC_VERSION] = { "version", NULL },     [SCH_AVRO_SRC_CONNECTOR] = { "connector", NULL },
        [SCH_AVRO_SRC_NAME] = { "name", NULL },
        [SCH_AVRO_SRC_TS_MS] = { "ts_ms", "\"type\":\"long\"}" },
        [SCH_AVRO_SRC_SNAPSHOT] = { "snapshot", "" },     [SCH_AVRO_SRC_DB] = { "db", NULL },
        [SCH_AVRO_SRC_SEQUENCE] = { "sequence", "s" },    [SCH_AVRO_SRC_TS_US] = { "ts_us", "l" },
        [SCH_AVRO_SRC_TS_NS] = { "ts_ns", "l" },          [SCH_AVRO_SRC_SCHEMA] = { "schema", NULL },
        [SCH_AVRO_SRC_TABLE] = { "table", NULL },         [SCH_AVRO_SRC_TXID] = { "txId", "l" },
        [SCH_AVRO_SRC_LSN] = { "lsn", "l" },              [SCH_AVRO_SRC_XMIN] = { "xmin", "l" },
        [SCH_AVRO_SRC_ORIGIN] = { "origin", "s" },        [SCH_AVRO_SRC_ORIGIN_LSN] = { "origin_lsn", "l" },
    };
    const char *saved = open_record(s, SOURCE_NS, "Source");

    for (int i = 0; i < s->t->nsrc; i++) {
        const char *rest = f[s->t->src[i]].rest;

        if (i > 0)
            cdc_buf_putc(s->b, ',');
        cdc_buf_puts(s->b, "{\"name\":\"");
        cdc_buf_puts(s->b, f[s->t->src[i]].name);
        cdc_buf_puts(s->b, "\",");
        if (rest == NULL)
            cdc_buf_puts(s->b, req_string);
        else if (strcmp(rest, "l") == 0)
            cdc_buf_puts(s->b, opt_long);
        else if (strcmp(rest, "s") == 0)
            cdc_buf_puts(s->b, opt_string);
        else if (*rest == '\0') {
            cdc_buf_puts(s->b, "\"type\":");
            put_snapshot_type(s);
        } else
            cdc_buf_puts(s->b, rest);
    }
    cdc_buf_puts(s->b, "]");
    if (s->t->source_versioned)
        cdc_buf_puts(s->b, ",\"connect.version\":1");
    cdc_buf_puts(s->b, ",\"connect.name\":\"" SOURCE_NS ".Source\"}");
    s->space = saved;
}

static const char transaction_field[] =
    "{\"name\":\"transaction\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"block\","
    "\"namespace\":\"event\",\"fields\":[{\"name\":\"id\",\"type\":\"string\"},"
    "{\"name\":\"total_order\",\"type\":\"long\"},"
    "{\"name\":\"data_collection_order\",\"type\":\"long\"}],"
    "\"connect.version\":1,\"connect.name\":\"event.block\"}],\"default\":null}";

/* The optional {topic}.Value record: defined in `before`, named in `after`. */
static void
put_value_field(sw *s, const cdc_rel *rel, const char *field, const char *space,
                const char *name, const char *cname, bool define)
{
    const char *saved;
    bool        first = true;

    cdc_buf_puts(s->b, "{\"name\":\"");
    cdc_buf_puts(s->b, field);
    cdc_buf_puts(s->b, "\",\"type\":[\"null\",");
    if (!define) {
        put_name_ref(s, space, name);
        cdc_buf_puts(s->b, "],\"default\":null}");
        return;
    }
    saved = open_record(s, space, name);
    for (int i = 0; i < rel->ncols; i++) {
        if (!rel->cols[i].ctype.supported)
            continue;
        if (!first)
            cdc_buf_putc(s->b, ',');
        first = false;
        put_col_field(s, &rel->cols[i], false);
    }
    cdc_buf_puts(s->b, "],\"connect.name\":");
    put_str(s->b, cname);
    cdc_buf_puts(s->b, "}],\"default\":null}");
    s->space = saved;
}

char *
sch_avro_value_schema_json(const cdc_rel *rel, const sch_avro_opts *o)
{
    cdc_buf     b = CDC_BUF_INIT;
    sch_avro_traits t;
    sw          s = { .b = &b, .o = o, .t = &t };
    char        env[1024], env_cname[1024], val[1024], val_cname[1024];
    const char *env_space, *env_name, *val_space, *val_name;
    bool        value_defined = false;

    if (rel == NULL)
        return NULL;
    sch_avro_traits_get(o, &t);
    if (sch_avro_full_name(&t, rel->topic, ".Envelope", env, sizeof(env)) == NULL ||
        sch_avro_full_name(&t, rel->topic, ".Value", val, sizeof(val)) == NULL)
        return NULL;
    memcpy(env_cname, env, strlen(env) + 1);
    memcpy(val_cname, val, strlen(val) + 1);
    split_name(env, &env_space, &env_name);
    split_name(val, &val_space, &val_name);

    open_record(&s, env_space, env_name);
    for (int i = 0; i < t.nenv; i++) {
        if (i > 0)
            cdc_buf_putc(&b, ',');
        switch (t.env[i]) {
        case SCH_AVRO_ENV_BEFORE:
        case SCH_AVRO_ENV_AFTER:
            put_value_field(&s, rel, t.env[i] == SCH_AVRO_ENV_BEFORE ? "before" : "after",
                            val_space, val_name, val_cname, !value_defined);
            value_defined = true;
            break;
        case SCH_AVRO_ENV_SOURCE:
            cdc_buf_puts(&b, "{\"name\":\"source\",\"type\":");
            put_source(&s);
            cdc_buf_putc(&b, '}');
            break;
        case SCH_AVRO_ENV_TRANSACTION:
            cdc_buf_puts(&b, transaction_field);
            break;
        case SCH_AVRO_ENV_OP:
            cdc_buf_puts(&b, "{\"name\":\"op\",\"type\":\"string\"}");
            break;
        case SCH_AVRO_ENV_TS_MS:
        case SCH_AVRO_ENV_TS_US:
        case SCH_AVRO_ENV_TS_NS:
            cdc_buf_puts(&b, t.env[i] == SCH_AVRO_ENV_TS_MS   ? "{\"name\":\"ts_ms\""
                             : t.env[i] == SCH_AVRO_ENV_TS_US ? "{\"name\":\"ts_us\""
                                                          : "{\"name\":\"ts_ns\"");
            cdc_buf_puts(&b, ",\"type\":[\"null\",\"long\"],\"default\":null}");
            break;
        case SCH_AVRO_ENV__COUNT:
            break;
        }
    }
    cdc_buf_putc(&b, ']');
    if (t.env_version > 0) {
        cdc_buf_puts(&b, ",\"connect.version\":");
        cdc_buf_put_i64(&b, t.env_version);
    }
    cdc_buf_puts(&b, ",\"connect.name\":");
    put_str(&b, env_cname);
    cdc_buf_putc(&b, '}');
    return finish(&b);
}

/* ------------------------------------------------------------------ */
/* Logical messages (CONTRACT.md 2.6)                                  */
/* ------------------------------------------------------------------ */

char *
sch_avro_message_key_schema_json(const sch_avro_opts *o)
{
    cdc_buf b = CDC_BUF_INIT;

    (void) o;
    cdc_buf_puts(&b, "{\"type\":\"record\",\"name\":\"MessageKey\",\"namespace\":\"" SOURCE_NS
                     "\",\"fields\":[{\"name\":\"prefix\",\"type\":[\"null\",\"string\"],"
                     "\"default\":null}],\"connect.version\":1,\"connect.name\":\"" SOURCE_NS
                     ".MessageKey\"}");
    return finish(&b);
}

char *
sch_avro_message_value_schema_json(const sch_avro_opts *o)
{
    cdc_buf     b = CDC_BUF_INIT;
    sch_avro_traits t;
    sw          s = { .b = &b, .o = o, .t = &t };

    sch_avro_traits_get(o, &t);
    open_record(&s, SOURCE_NS, "MessageValue");
    cdc_buf_puts(&b, "{\"name\":\"op\",\"type\":\"string\"},"
                     "{\"name\":\"ts_ms\",\"type\":[\"null\",\"long\"],\"default\":null},"
                     "{\"name\":\"source\",\"type\":");
    put_source(&s);
    cdc_buf_putc(&b, '}');
    if (t.message_tx) {
        cdc_buf_putc(&b, ',');
        cdc_buf_puts(&b, transaction_field);
    }
    cdc_buf_puts(&b, ",{\"name\":\"message\",\"type\":{\"type\":\"record\",\"name\":\"Message\","
                     "\"fields\":[{\"name\":\"prefix\",\"type\":[\"null\",\"string\"],"
                     "\"default\":null},{\"name\":\"content\",\"type\":[\"null\",\"bytes\"],"
                     "\"default\":null}],\"connect.version\":1,\"connect.name\":\"" SOURCE_NS
                     ".Message\"}}],\"connect.version\":1,\"connect.name\":\"" SOURCE_NS
                     ".MessageValue\"}");
    return finish(&b);
}
