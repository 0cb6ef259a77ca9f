/*
 * Avro datums for Debezium events, in Confluent's wire format: magic byte
 * 0x00, the schema id as a big-endian int32, then the Avro binary encoding
 * of the key or value (CONTRACT.md 3.4).  The values are built with avro-c's
 * generic value interface against the schema text avro_schema.c writes,
 * which avro-c parses first (and so validates); the generic values are kept
 * in the writer and reset for each event.
 *
 * Which value goes into a field follows json.c exactly (JsonConverter and
 * AvroData both read a Struct through Struct.get): the null-replaced-by-
 * default rule (CONTRACT.md 3.5), the NOT NULL fallbacks, and Debezium's
 * placeholders for unchanged TOAST values (4.6).  The one difference is
 * forced by Avro: a required field cannot hold null, so where json.c writes
 * null into a required field (an unchanged TOAST value of a type with no
 * placeholder) this file writes the type's fallback.
 *
 * avro-c notes (avro/value.h, avro-c's generic.c and value-write.c): a
 * string's size includes a NUL terminator, which the encoder drops, so
 * strings are copied into a scratch buffer first; avro_value_write into a
 * memory writer fails with ENOSPC when the buffer is too small.
 */
#include "schemas/avro.h"

#include <avro.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/avro_int.h"
#include "schemas/debezium.h"

#define PLACEHOLDER_DEFAULT "__debezium_unavailable_value"
/* UUID.nameUUIDFromBytes("__debezium_unavailable_value"), as in json.c. */
#define PLACEHOLDER_UUID "b68a35a7-17ad-35b3-af2a-ae46edb4545a"
/* A datum bigger than this is refused rather than grown into. */
#define DATUM_MAX ((size_t) 1 << 30)

/* One schema and a reusable value of it. */
typedef struct avro_part {
    char               *text;
    avro_schema_t       schema;
    avro_value_iface_t *iface;
    avro_value_t        val;
    bool                has_val;
    size_t              last_size;  /* size of the last datum: the first guess next time */
} avro_part;

struct sch_avro_writer {
    sch_avro_opts   o;
    sch_avro_traits t;
    bool            message;        /* built for logical messages (rel NULL) */
    uint32_t        relid, relver;
    int             ncols;
    avro_part       key, value;
    int             env_idx[SCH_AVRO_ENV__COUNT];
    int             src_idx[SCH_AVRO_SRC__COUNT];
    avro_writer_t   mem;
    cdc_buf         scratch;
};

/* Per-encode state: the first avro-c error wins, later calls do nothing. */
typedef struct enc {
    sch_avro_writer *w;
    int              rc;
    const char      *what;          /* the field being written when it failed */
} enc;

/* ------------------------------------------------------------------ */
/* Writer                                                              */
/* ------------------------------------------------------------------ */

static int
part_init(avro_part *p, char *text, const char *what, const cdc_rel *rel, cdc_err *err)
{
    p->text = text;
    if (text == NULL)
        return cdc_err_set(err, CDC_E_NOMEM, "avro: %s schema: out of memory or name too long",
                           what);
    if (avro_schema_from_json_length(text, strlen(text), &p->schema) != 0)
        return cdc_err_set(err, CDC_E_CONFIG, "avro: %s schema of %s.%s (topic %s) is invalid: %s",
                           what, rel ? rel->nspname : "", rel ? rel->relname : "message",
                           rel && rel->topic ? rel->topic : "-", avro_strerror());
    p->iface = avro_generic_class_from_schema(p->schema);
    if (p->iface == NULL || avro_generic_value_new(p->iface, &p->val) != 0)
        return cdc_err_set(err, CDC_E_NOMEM, "avro: %s value: %s", what, avro_strerror());
    p->has_val = true;
    return 0;
}

static void
part_done(avro_part *p)
{
    if (p->has_val)
        avro_value_decref(&p->val);
    if (p->iface)
        avro_value_iface_decref(p->iface);
    if (p->schema)
        avro_schema_decref(p->schema);
    free(p->text);
}

/* Field positions of the Envelope (or MessageValue) and of its Source. */
static int
find_indexes(sch_avro_writer *w, cdc_err *err)
{
    static const char *const env_names[SCH_AVRO_ENV__COUNT] = {
        "before", "after", "source", "transaction", "op", "ts_ms", "ts_us", "ts_ns",
    };
    static const char *const src_names[SCH_AVRO_SRC__COUNT] = {
        "version", "connector", "name", "ts_ms", "snapshot", "db", "sequence", "ts_us",
        "ts_ns", "schema", "table", "txId", "lsn", "xmin", "origin", "origin_lsn",
    };
    avro_schema_t src;

    for (int i = 0; i < SCH_AVRO_ENV__COUNT; i++)
        w->env_idx[i] = avro_schema_record_field_get_index(w->value.schema, env_names[i]);
    src = avro_schema_record_field_get(w->value.schema, "source");
    if (src == NULL || w->env_idx[SCH_AVRO_ENV_OP] < 0)
        return cdc_err_set(err, CDC_E_INVAL, "avro: value schema has no source or op");
    for (int i = 0; i < SCH_AVRO_SRC__COUNT; i++)
        w->src_idx[i] = avro_schema_record_field_get_index(src, src_names[i]);
    return 0;
}

/* One dotted part of an Avro name: [A-Za-z_][A-Za-z0-9_]* (Avro spec, "Names"). */
static bool
avro_name_ok(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';

        if (!alpha && (i == 0 || c < '0' || c > '9'))
            return false;
    }
    return true;
}

static bool
avro_fullname_ok(const char *s)
{
    const char *dot;

    while ((dot = strchr(s, '.')) != NULL) {
        if (!avro_name_ok(s, (size_t) (dot - s)))
            return false;
        s = dot + 1;
    }
    return avro_name_ok(s, strlen(s));
}

/*
 * avro-c does not check names, but Avro Java (in the registry and in every
 * consumer) rejects the schema, so fail here, before anything is sent: a
 * topic prefix with '-' under schema.name.adjustment.mode=none, or a column
 * named "my-col" (CONTRACT.md 3.2).
 */
static int
check_names(const sch_avro_writer *w, const cdc_rel *rel, cdc_err *err)
{
    char name[1024];

    if (sch_avro_full_name(&w->t, rel->topic, ".Envelope", name, sizeof(name)) == NULL ||
        !avro_fullname_ok(name))
        return cdc_err_set(err, CDC_E_CONFIG,
                           "avro: table %s.%s: schema name \"%s.Envelope\" is not a valid Avro "
                           "name (set schema_name_adjustment_mode: avro)",
                           rel->nspname, rel->relname, rel->topic ? rel->topic : "");
    for (int i = 0; i < rel->ncols; i++) {
        const char *col = rel->cols[i].name;

        if (rel->cols[i].ctype.supported && !avro_name_ok(col, strlen(col)))
            return cdc_err_set(err, CDC_E_CONFIG,
                               "avro: table %s.%s: column \"%s\" is not a valid Avro field name",
                               rel->nspname, rel->relname, col);
    }
    return 0;
}

sch_avro_writer *
sch_avro_writer_new(const cdc_rel *rel, const sch_avro_opts *o, cdc_err *err)
{
    sch_avro_writer *w = calloc(1, sizeof(*w));

    if (w == NULL) {
        cdc_err_set(err, CDC_E_NOMEM, "avro: writer: out of memory");
        return NULL;
    }
    w->o = *o;
    if (w->o.unavailable_placeholder == NULL)
        w->o.unavailable_placeholder = PLACEHOLDER_DEFAULT;
    sch_avro_traits_get(o, &w->t);
    if (w->o.version == NULL)
        w->o.version = w->t.version;
    w->message = rel == NULL;
    if (rel) {
        w->relid = rel->relid;
        w->relver = rel->version;
        w->ncols = rel->ncols;
        if (check_names(w, rel, err) != 0)
            goto fail;
        if (rel->nkeys > 0 &&
            part_init(&w->key, sch_avro_key_schema_json(rel, o), "key", rel, err) != 0)
            goto fail;
        if (part_init(&w->value, sch_avro_value_schema_json(rel, o), "value", rel, err) != 0)
            goto fail;
    } else {
        if (part_init(&w->key, sch_avro_message_key_schema_json(o), "message key", NULL,
                      err) != 0 ||
            part_init(&w->value, sch_avro_message_value_schema_json(o), "message value", NULL,
                      err) != 0)
            goto fail;
    }
    if (find_indexes(w, err) != 0)
        goto fail;
    w->mem = avro_writer_memory("", 0);
    if (w->mem == NULL) {
        cdc_err_set(err, CDC_E_NOMEM, "avro: memory writer: %s", avro_strerror());
        goto fail;
    }
    return w;
fail:
    sch_avro_writer_free(w);
    return NULL;
}

void
sch_avro_writer_free(sch_avro_writer *w)
{
    if (w == NULL)
        return;
    part_done(&w->key);
    part_done(&w->value);
    if (w->mem)
        avro_writer_free(w->mem);
    cdc_buf_free(&w->scratch);
    free(w);
}

const char *
sch_avro_writer_key_schema(const sch_avro_writer *w)
{
    return w->key.text;
}

const char *
sch_avro_writer_value_schema(const sch_avro_writer *w)
{
    return w->value.text;
}

/* ------------------------------------------------------------------ */
/* Setting avro-c values                                               */
/* ------------------------------------------------------------------ */

static bool
ok(enc *e, int rc, const char *what)
{
    if (rc != 0 && e->rc == 0) {
        e->rc = rc;
        e->what = what;
    }
    return e->rc == 0;
}

/* out = field idx of rec; false (and e failed) when it cannot be had. */
static bool
field(enc *e, avro_value_t *rec, int idx, avro_value_t *out)
{
    if (e->rc != 0)
        return false;
    if (idx < 0)
        return ok(e, EINVAL, "field index");
    return ok(e, avro_value_get_by_index(rec, (size_t) idx, out, NULL), "field");
}

/* out = branch disc of the union u, selected. */
static bool
branch(enc *e, avro_value_t *u, int disc, avro_value_t *out)
{
    if (e->rc != 0)
        return false;
    return ok(e, avro_value_set_branch(u, disc, out), "union branch");
}

static void
set_null_branch(enc *e, avro_value_t *u, int disc)
{
    avro_value_t b;

    if (branch(e, u, disc, &b))
        ok(e, avro_value_set_null(&b), "null");
}

/* avro-c counts a string's NUL terminator in its size (avro/value.h). */
static void
set_str(enc *e, avro_value_t *v, const char *p, size_t n)
{
    cdc_buf *s = &e->w->scratch;

    if (e->rc != 0)
        return;
    cdc_buf_reset(s);
    cdc_buf_put(s, p ? p : "", n);
    if (cdc_buf_failed(s)) {
        ok(e, ENOMEM, "string");
        return;
    }
    ok(e, avro_value_set_string_len(v, cdc_buf_str(s), n + 1), "string");
}

static void
set_cstr(enc *e, avro_value_t *v, const char *s)
{
    set_str(e, v, s ? s : "", s ? strlen(s) : 0);
}

static void
set_bytes(enc *e, avro_value_t *v, const void *p, size_t n)
{
    if (e->rc != 0)
        return;
    /* avro-c copies; never hand it NULL, even for zero bytes */
    ok(e, avro_value_set_bytes(v, (void *) (p ? p : ""), n), "bytes");
}

static void
set_opt_long(enc *e, avro_value_t *rec, int idx, bool present, int64_t v)
{
    avro_value_t f, b;

    if (idx < 0)
        return;     /* not in this profile */
    if (!field(e, rec, idx, &f))
        return;
    if (!present) {
        set_null_branch(e, &f, 0);
        return;
    }
    if (branch(e, &f, 1, &b))
        ok(e, avro_value_set_long(&b, v), "long");
}

static void
set_opt_str(enc *e, avro_value_t *rec, int idx, const char *s, size_t n)
{
    avro_value_t f, b;

    if (idx < 0 || !field(e, rec, idx, &f))
        return;
    if (s == NULL) {
        set_null_branch(e, &f, 0);
        return;
    }
    if (branch(e, &f, 1, &b))
        set_str(e, &b, s, n);
}

/* ------------------------------------------------------------------ */
/* Column values                                                       */
/* ------------------------------------------------------------------ */

/* io.debezium.data.geometry.Point {x, y, wkb, srid}; srid is null for point. */
static void
set_point(enc *e, avro_value_t *v, double x, double y)
{
    unsigned char wkb[21];
    avro_value_t  f, b;

    sch_dbz_wkb_point(wkb, x, y);
    if (field(e, v, 0, &f))
        ok(e, avro_value_set_double(&f, x), "x");
    if (field(e, v, 1, &f))
        ok(e, avro_value_set_double(&f, y), "y");
    if (field(e, v, 2, &f) && branch(e, &f, 1, &b))
        set_bytes(e, &b, wkb, sizeof(wkb));
    if (field(e, v, 3, &f))
        set_null_branch(e, &f, 0);
}

/* io.debezium.data.VariableScaleDecimal {scale, value}. */
static void
set_vsd(enc *e, avro_value_t *v, int32_t scale, const void *p, size_t n)
{
    avro_value_t f;

    if (field(e, v, 0, &f))
        ok(e, avro_value_set_int(&f, scale), "scale");
    if (field(e, v, 1, &f))
        set_bytes(e, &f, p, n);
}

static void
set_present(enc *e, avro_value_t *v, const cdc_ctype *ct, const cdc_value *val)
{
    if (e->rc != 0)
        return;
    switch ((cdc_ctkind) ct->kind) {
    case CDC_CT_BOOLEAN:
        ok(e, avro_value_set_boolean(v, val->u.b), "boolean");
        return;
    case CDC_CT_INT8:
    case CDC_CT_INT16:
    case CDC_CT_INT32:
        ok(e, avro_value_set_int(v, (int32_t) val->u.i), "int");
        return;
    case CDC_CT_INT64:
        ok(e, avro_value_set_long(v, val->u.i), "long");
        return;
    case CDC_CT_FLOAT32:
        ok(e, avro_value_set_float(v, (float) val->u.f), "float");
        return;
    case CDC_CT_FLOAT64:
        ok(e, avro_value_set_double(v, val->u.f), "double");
        return;
    case CDC_CT_STRING:
        set_str(e, v, val->u.s.p, val->u.s.n);
        return;
    case CDC_CT_BYTES:
        set_bytes(e, v, val->u.s.p, val->u.s.n);
        return;
    case CDC_CT_STRUCT:
        if (ct->sem == CDC_SEM_POINT)
            set_point(e, v, val->u.pt.x, val->u.pt.y);
        else
            set_vsd(e, v, val->u.s.scale, val->u.s.p, val->u.s.n);
        return;
    case CDC_CT_ARRAY: {
        cdc_ctype    el = cdc_ctype_elem(ct);
        avro_value_t item, b;

        for (size_t i = 0; i < val->u.arr.n && e->rc == 0; i++) {
            const cdc_value *it = &val->u.arr.items[i];

            if (!ok(e, avro_value_append(v, &item, NULL), "array item"))
                return;
            if (el.sem == CDC_SEM_ENUM) {
                /* required items: a NULL element (Debezium would fail the record) becomes "" */
                if (it->state == CDC_VAL_PRESENT)
                    set_present(e, &item, &el, it);
                else
                    set_str(e, &item, "", 0);
                continue;
            }
            /* items are ["null", E] */
            if (it->state == CDC_VAL_PRESENT) {
                if (branch(e, &item, 1, &b))
                    set_present(e, &b, &el, it);
            } else {
                set_null_branch(e, &item, 0);
            }
        }
        return;
    }
    default:
        /* MAP (hstore.handling.mode=map) has no cdc_value form yet: an empty map */
        return;
    }
}

/*
 * An unchanged TOAST value the old tuple could not supply, as json.c's
 * put_unavailable (CONTRACT.md 4.6).  @returns false for the types that
 * have no placeholder: the caller writes null (or the fallback).
 */
static bool
set_unavailable(enc *e, avro_value_t *v, const cdc_ctype *ct)
{
    const char  *ph = e->w->o.unavailable_placeholder;
    size_t       n = strlen(ph);
    avro_value_t item, b;

    switch ((cdc_ctkind) ct->kind) {
    case CDC_CT_STRING:
        set_str(e, v, ph, n);
        return true;
    case CDC_CT_BYTES:
        set_bytes(e, v, ph, n);
        return true;
    case CDC_CT_ARRAY:
        if (ct->elem_kind == CDC_CT_STRING && ct->elem_sem == CDC_SEM_ENUM) {
            if (ok(e, avro_value_append(v, &item, NULL), "array item"))
                set_str(e, &item, ph, n);
            return true;
        }
        if (ct->elem_kind == CDC_CT_STRING) {
            if (ok(e, avro_value_append(v, &item, NULL), "array item") &&
                branch(e, &item, 1, &b)) {
                if (ct->elem_sem == CDC_SEM_UUID && strcmp(ph, PLACEHOLDER_DEFAULT) == 0)
                    set_cstr(e, &b, PLACEHOLDER_UUID);
                else
                    set_str(e, &b, ph, n);
            }
            return true;
        }
        if (ct->elem_kind == CDC_CT_INT16 || ct->elem_kind == CDC_CT_INT32 ||
            ct->elem_kind == CDC_CT_INT64) {
            for (size_t i = 0; i < n && e->rc == 0; i++) {
                int64_t byte = (signed char) ph[i];     /* Java bytes are signed */

                if (!ok(e, avro_value_append(v, &item, NULL), "array item") ||
                    !branch(e, &item, 1, &b))
                    break;
                if (ct->elem_kind == CDC_CT_INT64)
                    ok(e, avro_value_set_long(&b, byte), "long");
                else
                    ok(e, avro_value_set_int(&b, (int32_t) byte), "int");
            }
            return true;
        }
        return false;
    default:
        return false;
    }
}

/*
 * A required field with no value and no default: JdbcValueConverters'
 * per-type fallback, as json.c's put_fallback (0, false, "", epoch, an
 * empty array, Decimal 0).  Structs get zeros: Avro cannot hold null there.
 */
static void
set_fallback(enc *e, avro_value_t *v, const cdc_ctype *ct)
{
    static const uint8_t zero = 0;
    char                 ts[40] = "1970-01-01T00:00:00";

    switch ((cdc_ctkind) ct->kind) {
    case CDC_CT_BOOLEAN:
        ok(e, avro_value_set_boolean(v, 0), "boolean");
        return;
    case CDC_CT_INT8:
    case CDC_CT_INT16:
    case CDC_CT_INT32:
        ok(e, avro_value_set_int(v, 0), "int");
        return;
    case CDC_CT_INT64:
        ok(e, avro_value_set_long(v, 0), "long");
        return;
    case CDC_CT_FLOAT32:
        ok(e, avro_value_set_float(v, 0), "float");
        return;
    case CDC_CT_FLOAT64:
        ok(e, avro_value_set_double(v, 0), "double");
        return;
    case CDC_CT_STRING:
        if (ct->sem == CDC_SEM_ZONED_TIMESTAMP) {
            size_t n = strlen(ts);

            if (ct->length > 0) {
                ts[n++] = '.';
                for (int i = 0; i < ct->length && i < 9; i++)
                    ts[n++] = '0';
            }
            ts[n++] = 'Z';
            ts[n] = '\0';
            set_cstr(e, v, ts);
        } else {
            set_cstr(e, v, ct->sem == CDC_SEM_ZONED_TIME ? "00:00:00Z" : "");
        }
        return;
    case CDC_CT_BYTES:
        set_bytes(e, v, &zero, ct->sem == CDC_SEM_DECIMAL ? 1 : 0);
        return;
    case CDC_CT_STRUCT:
        if (ct->sem == CDC_SEM_POINT)
            set_point(e, v, 0, 0);
        else
            set_vsd(e, v, 0, &zero, 1);
        return;
    default:
        return;     /* arrays and maps: empty */
    }
}

/* What goes into one column's field (json.c's put_col_value). */
static void
set_col(enc *e, avro_value_t *f, const cdc_col *col, const cdc_value *val)
{
    sch_avro_shape   shape = sch_avro_col_shape(col);
    const cdc_value *def = sch_avro_col_default(col);
    int              vb = shape == SCH_AVRO_NULL_SECOND ? 0 : 1;    /* the value's branch */
    avro_value_t     b, *t = f;

    if (e->rc != 0)
        return;
    if (shape != SCH_AVRO_REQUIRED) {
        if (!branch(e, f, vb, &b))
            return;
        t = &b;
    }
    switch ((cdc_vstate) val->state) {
    case CDC_VAL_PRESENT:
        set_present(e, t, &col->ctype, val);
        return;
    case CDC_VAL_UNCHANGED:
        if (set_unavailable(e, t, &col->ctype))
            return;
        break;
    case CDC_VAL_NULL:
    default:
        /* A required field holds its default (or fallback) already in
           Debezium's Struct, whatever the converter's replace option says. */
        if (def && (e->w->o.replace_null_with_default || col->not_null)) {
            set_present(e, t, &col->ctype, def);
            return;
        }
        break;
    }
    if (shape == SCH_AVRO_REQUIRED)
        set_fallback(e, t, &col->ctype);
    else
        set_null_branch(e, f, 1 - vb);
}

/* A literal null, whatever the default says; the fallback when required. */
static void
set_col_null(enc *e, avro_value_t *f, const cdc_col *col)
{
    sch_avro_shape shape = sch_avro_col_shape(col);
    avro_value_t   b;

    if (shape == SCH_AVRO_REQUIRED)
        set_fallback(e, f, &col->ctype);
    else if (shape == SCH_AVRO_NULL_FIRST)
        set_null_branch(e, f, 0);
    else if (branch(e, f, 1, &b))
        ok(e, avro_value_set_null(&b), "null");
}

/* The {topic}.Value record: every supported column, in ordinal order. */
static void
set_row(enc *e, avro_value_t *rec, const cdc_rel *rel, const cdc_value *vals, bool streamed)
{
    avro_value_t f;
    int          idx = 0;

    for (int i = 0; i < rel->ncols && e->rc == 0; i++) {
        const cdc_col *col = &rel->cols[i];

        if (!col->ctype.supported)
            continue;
        if (!field(e, rec, idx++, &f))
            break;
        /* Debezium 2.7 streams every `name` column (oid 19) as null: its
           pgoutput value resolver has no case for the type (json.c, seen in
           test/integration/250_debezium_reference.sh); its snapshot has it.
           A NOT NULL one gets the fallback here: Avro cannot hold null. */
        if (streamed && (col->catalog_known ? col->base_oid : col->type_oid) == 19)
            set_col_null(e, &f, col);
        else
            set_col(e, &f, col, &vals[i]);
    }
}

/* An optional Value field of the Envelope: null, or the row. */
static void
set_opt_row(enc *e, avro_value_t *env, int idx, const cdc_rel *rel, const cdc_value *vals,
            bool streamed)
{
    avro_value_t f, b;

    if (!field(e, env, idx, &f))
        return;
    if (vals == NULL)
        set_null_branch(e, &f, 0);
    else if (branch(e, &f, 1, &b))
        set_row(e, &b, rel, vals, streamed);
}

/* ------------------------------------------------------------------ */
/* Source block                                                        */
/* ------------------------------------------------------------------ */

static void
set_source(enc *e, avro_value_t *src, const cdc_event *ev, const char *schema,
           const char *table)
{
    const sch_avro_writer *w = e->w;
    const int             *ix = w->src_idx;
    avro_value_t f, b;
    char         seq[SCH_DBZ_SEQUENCE_MAX];
    size_t       seqn = sch_dbz_sequence(ev, seq);

    if (field(e, src, ix[SCH_AVRO_SRC_VERSION], &f))
        set_cstr(e, &f, w->o.version);
    if (field(e, src, ix[SCH_AVRO_SRC_CONNECTOR], &f))
        set_cstr(e, &f, "postgresql");
    if (field(e, src, ix[SCH_AVRO_SRC_NAME], &f))
        set_cstr(e, &f, w->o.server_name);
    if (field(e, src, ix[SCH_AVRO_SRC_TS_MS], &f))
        ok(e, avro_value_set_long(&f, cdc_us_to_ms(ev->source_ts_us)), "source.ts_ms");
    /* [Enum string, "null"]: "false" (the schema default) while streaming */
    if (field(e, src, ix[SCH_AVRO_SRC_SNAPSHOT], &f) && branch(e, &f, 0, &b))
        set_cstr(e, &b, ev->snapshot ? ev->snapshot : "false");
    if (field(e, src, ix[SCH_AVRO_SRC_DB], &f))
        set_cstr(e, &f, w->o.database);
    set_opt_str(e, src, ix[SCH_AVRO_SRC_SEQUENCE], seq, seqn);
    set_opt_long(e, src, ix[SCH_AVRO_SRC_TS_US], true, ev->source_ts_us);
    set_opt_long(e, src, ix[SCH_AVRO_SRC_TS_NS], sch_dbz_ns_fits(ev->source_ts_us),
                 sch_dbz_ns_fits(ev->source_ts_us) ? ev->source_ts_us * 1000 : 0);
    if (field(e, src, ix[SCH_AVRO_SRC_SCHEMA], &f))
        set_cstr(e, &f, schema);
    if (field(e, src, ix[SCH_AVRO_SRC_TABLE], &f))
        set_cstr(e, &f, table);
    set_opt_long(e, src, ix[SCH_AVRO_SRC_TXID], sch_dbz_source_has_txid(ev),
                 ev->txn ? (int64_t) ev->txn->xid : 0);
    set_opt_long(e, src, ix[SCH_AVRO_SRC_LSN], sch_dbz_source_has_lsn(ev), (int64_t) ev->lsn);
    set_opt_long(e, src, ix[SCH_AVRO_SRC_XMIN], false, 0);
    set_opt_str(e, src, ix[SCH_AVRO_SRC_ORIGIN], NULL, 0);
    set_opt_long(e, src, ix[SCH_AVRO_SRC_ORIGIN_LSN], false, 0);
}

/* ------------------------------------------------------------------ */
/* Framing                                                             */
/* ------------------------------------------------------------------ */

/*
 * Appends 0x00, the id, and the Avro binary of p->val.  The memory writer
 * is pointed at the free end of out; ENOSPC means "grow and try again".
 */
static int
put_frame(sch_avro_writer *w, avro_part *p, uint32_t schema_id, cdc_buf *out, cdc_err *err)
{
    size_t start = out->len;
    size_t room = p->last_size > 0 ? p->last_size + p->last_size / 2 + 64 : 512;
    int    rc;

    for (;;) {
        if (!cdc_buf_reserve(out, 5 + room)) {
            out->len = start;
            return cdc_err_set(err, CDC_E_NOMEM, "avro: datum of %zu bytes: out of memory",
                               room);
        }
        cdc_buf_put_u8(out, 0);
        cdc_buf_put_u32be(out, schema_id);
        avro_writer_memory_set_dest(w->mem, (const char *) out->data + out->len, (int64_t) room);
        rc = avro_value_write(w->mem, &p->val);
        if (rc == 0)
            break;
        out->len = start;
        if (rc != ENOSPC || room >= DATUM_MAX)
            return cdc_err_set(err, rc == ENOSPC ? CDC_E_DEST : CDC_E_INVAL,
                               "avro: cannot encode datum: %s", avro_strerror());
        room *= 2;
    }
    p->last_size = (size_t) avro_writer_tell(w->mem);
    out->len += p->last_size;
    out->data[out->len] = '\0';
    return 0;
}

static int
encode_failed(const enc *e, const cdc_event *ev, cdc_err *err)
{
    const cdc_rel *rel = ev->rel;

    return cdc_err_set(err, e->rc == ENOMEM ? CDC_E_NOMEM : CDC_E_INVAL,
                       "avro: %s.%s: cannot set %s: %s", rel ? rel->nspname : "",
                       rel ? rel->relname : "message", e->what ? e->what : "value",
                       avro_strerror());
}

static int
check_rel(const sch_avro_writer *w, const cdc_event *ev, cdc_err *err)
{
    const cdc_rel *rel = ev->rel;

    if (w->message != (ev->op == CDC_OP_MESSAGE) ||
        (rel && (rel->relid != w->relid || rel->version != w->relver || rel->ncols != w->ncols)))
        return cdc_err_set(err, CDC_E_INVAL,
                           "avro: writer built for relation %u version %u used for %s.%s",
                           w->relid, w->relver, rel ? rel->nspname : "",
                           rel ? rel->relname : "a message");
    return 0;
}

/* ------------------------------------------------------------------ */
/* Key and value                                                       */
/* ------------------------------------------------------------------ */

int
sch_avro_encode_key(sch_avro_writer *w, const cdc_event *ev, uint32_t schema_id, cdc_buf *out,
                    cdc_err *err)
{
    const cdc_rel   *rel = ev->rel;
    const cdc_value *vals;
    enc              e = { .w = w };
    avro_value_t    *k = &w->key.val;
    avro_value_t     f;
    int              idx = 0;

    if (check_rel(w, ev, err) != 0)
        return -1;
    if (w->message) {
        avro_value_reset(k);
        set_opt_str(&e, k, 0, ev->msg_prefix, ev->msg_prefix ? strlen(ev->msg_prefix) : 0);
        if (e.rc != 0)
            return encode_failed(&e, ev, err);
        return put_frame(w, &w->key, schema_id, out, err);
    }
    vals = ev->key ? ev->key : ev->after ? ev->after : ev->before;
    if (ev->op == CDC_OP_TRUNCATE || rel->nkeys == 0 || vals == NULL || !w->key.has_val)
        return 0;   /* a null record key */
    avro_value_reset(k);
    /* key columns in key_pos order */
    for (int kp = 0, i; e.rc == 0 && (i = sch_dbz_key_next(rel, &kp)) >= 0; )
        if (field(&e, k, idx++, &f))
            set_col(&e, &f, &rel->cols[i], &vals[i]);
    if (e.rc != 0)
        return encode_failed(&e, ev, err);
    return put_frame(w, &w->key, schema_id, out, err);
}

/* The envelope's optional event.block: id, total_order, data_collection_order. */
static void
set_tx_block(enc *e, avro_value_t *u, const cdc_tx_block *t)
{
    avro_value_t blk, f;

    if (t == NULL) {
        set_null_branch(e, u, 0);
        return;
    }
    if (!branch(e, u, 1, &blk))
        return;
    if (field(e, &blk, 0, &f))
        set_cstr(e, &f, t->id);
    if (field(e, &blk, 1, &f))
        ok(e, avro_value_set_long(&f, t->total_order), "transaction.total_order");
    if (field(e, &blk, 2, &f))
        ok(e, avro_value_set_long(&f, t->data_collection_order),
           "transaction.data_collection_order");
}

/* MessageValue (CONTRACT.md 2.6): op, ts_ms, source, transaction, message. */
static void
set_message_value(enc *e, avro_value_t *v, const cdc_event *ev, int64_t now_us)
{
    avro_value_t f, b;

    if (field(e, v, e->w->env_idx[SCH_AVRO_ENV_OP], &f))
        set_cstr(e, &f, "m");
    set_opt_long(e, v, e->w->env_idx[SCH_AVRO_ENV_TS_MS], true, cdc_us_to_ms(now_us));
    if (field(e, v, e->w->env_idx[SCH_AVRO_ENV_SOURCE], &f))
        set_source(e, &f, ev, "", "");
    if (e->w->env_idx[SCH_AVRO_ENV_TRANSACTION] >= 0 &&
        field(e, v, e->w->env_idx[SCH_AVRO_ENV_TRANSACTION], &f))
        set_tx_block(e, &f, ev->tx_block);
    if (!field(e, v, avro_schema_record_field_get_index(e->w->value.schema, "message"), &f))
        return;
    set_opt_str(e, &f, 0, ev->msg_prefix, ev->msg_prefix ? strlen(ev->msg_prefix) : 0);
    if (!field(e, &f, 1, &b))
        return;
    if (ev->msg_content || ev->msg_len == 0) {
        avro_value_t c;

        if (branch(e, &b, 1, &c))
            set_bytes(e, &c, ev->msg_content, ev->msg_len);
    } else {
        set_null_branch(e, &b, 0);
    }
}

int
sch_avro_encode_value(sch_avro_writer *w, const cdc_event *ev, uint32_t schema_id,
                      int64_t now_us, cdc_buf *out, cdc_err *err)
{
    const cdc_rel *rel = ev->rel;
    enc            e = { .w = w };
    avro_value_t  *v = &w->value.val;
    avro_value_t   f;
    const int     *ix = w->env_idx;
    char           op[2] = { (char) ev->op, '\0' };

    if (ev->op == CDC_OP_TOMBSTONE)
        return 0;   /* a null record value */
    if (check_rel(w, ev, err) != 0)
        return -1;
    avro_value_reset(v);
    if (w->message) {
        set_message_value(&e, v, ev, now_us);
    } else {
        bool trunc = ev->op == CDC_OP_TRUNCATE;

        set_opt_row(&e, v, ix[SCH_AVRO_ENV_BEFORE], rel, trunc ? NULL : ev->before,
                    ev->snapshot == NULL);
        set_opt_row(&e, v, ix[SCH_AVRO_ENV_AFTER], rel, trunc ? NULL : ev->after,
                    ev->snapshot == NULL);
        if (field(&e, v, ix[SCH_AVRO_ENV_SOURCE], &f))
            set_source(&e, &f, ev, rel->nspname, rel->relname);
        if (field(&e, v, ix[SCH_AVRO_ENV_TRANSACTION], &f))
            set_tx_block(&e, &f, ev->tx_block);
        if (field(&e, v, ix[SCH_AVRO_ENV_OP], &f))
            set_cstr(&e, &f, op);
        set_opt_long(&e, v, ix[SCH_AVRO_ENV_TS_MS], true, cdc_us_to_ms(now_us));
        set_opt_long(&e, v, ix[SCH_AVRO_ENV_TS_US], true, now_us);
        set_opt_long(&e, v, ix[SCH_AVRO_ENV_TS_NS], sch_dbz_ns_fits(now_us),
                     sch_dbz_ns_fits(now_us) ? now_us * 1000 : 0);
    }
    if (e.rc != 0)
        return encode_failed(&e, ev, err);
    return put_frame(w, &w->value, schema_id, out, err);
}
