/*
 * ice_scan_dump: reads an Iceberg table with sinks/iceberg/ice_scan, for
 * test/integration/625_iceberg_scan_pyiceberg.sh to compare with pyiceberg.
 *
 *   ice_scan_dump rows META.json          every live row of the current snapshot, one JSON
 *                                         line each: {"file", "pos", "row": {name: value}}
 *                                         (every field but lists), then a last line
 *                                         {"stats": {"data_files", "delete_files", "rows",
 *                                         "deleted"}}
 *   ice_scan_dump keys META.json ID...    the same for those field ids only
 *   ice_scan_dump row META.json FILE POS  {"row": {...}}: ice_scan_row of every field
 *   ice_scan_dump list META.json FILE POS ID  {"list": [...] or null}: ice_scan_row_list
 *
 * Values: null, true/false, numbers (int, long; float and double as %.17g, "NaN",
 * "Infinity", "-Infinity" as strings), strings as JSON strings, and as text: decimals
 * (plain), dates "YYYY-MM-DD", times "HH:MM:SS.ffffff", timestamps "YYYY-MM-DD
 * HH:MM:SS.ffffff" (timestamptz in UTC), UUIDs; binary and fixed as hex.
 * Every value of a type PostgreSQL text can give (all but floats, binary and fixed) is
 * also parsed back from that text with ice_value_parse: its ice_value_bound must equal
 * that of the value read, else the tool fails (the scan's values are typed as the
 * table's schema types them).
 * Errors: "ice_scan_dump: <message>" on stderr, exit status 1.
 */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_mem.h"
#include "sinks/iceberg/ice_meta.h"
#include "sinks/iceberg/ice_scan.h"
#include "sinks/iceberg/ice_value.h"
#include "sinks/iceberg/store/store.h"

static int
die(const char *what, const cdc_err *err)
{
    fprintf(stderr, "ice_scan_dump: %s%s%s\n", what, err ? ": " : "", err ? err->msg : "");
    exit(1);
}

/* days since 1970-01-01 -> y, m, d (H. Hinnant's civil_from_days) */
static void
civil(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t  era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t  doe = z - era * 146097;
    int64_t  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t  mp = (5 * doy + 2) / 153;

    *d = (int) (doy - (153 * mp + 2) / 5 + 1);
    *m = (int) (mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static void
put_date(cdc_buf *b, int64_t days)
{
    int64_t y;
    int     m, d;

    civil(days, &y, &m, &d);
    cdc_buf_printf(b, "%04" PRId64 "-%02d-%02d", y, m, d);
}

static void
put_time(cdc_buf *b, int64_t us)
{
    cdc_buf_printf(b, "%02d:%02d:%02d.%06d", (int) (us / 3600000000LL),
                   (int) (us / 60000000LL % 60), (int) (us / 1000000 % 60),
                   (int) (us % 1000000));
}

/* The value as text (types PostgreSQL text can give), or NULL for others. */
static json_t *
render(const ice_type *t, const ice_value *v, cdc_buf *txt)
{
    cdc_buf_reset(txt);
    if (v->null)
        return json_null();
    switch (t->kind) {
    case ICE_BOOLEAN:
        cdc_buf_puts(txt, v->b ? "true" : "false");
        return json_boolean(v->b);
    case ICE_INT:
    case ICE_LONG:
        cdc_buf_printf(txt, "%" PRId64, v->i);
        return json_integer(v->i);
    case ICE_FLOAT:
    case ICE_DOUBLE: {
        char f[40];

        if (isnan(v->f))
            return json_string("NaN");
        if (isinf(v->f))
            return json_string(v->f > 0 ? "Infinity" : "-Infinity");
        snprintf(f, sizeof(f), "%.17g", v->f);
        return json_real(strtod(f, NULL));
    }
    case ICE_DECIMAL: {
        uint8_t b[16];
        size_t  n = ice_decimal_bytes(v->d, b);

        ice_decimal_text(b, n, t->scale, txt);
        break;
    }
    case ICE_DATE:
        put_date(txt, v->i);
        break;
    case ICE_TIME:
        put_time(txt, v->i);
        break;
    case ICE_TIMESTAMP:
    case ICE_TIMESTAMPTZ: {
        int64_t day = v->i / 86400000000LL - (v->i % 86400000000LL < 0);

        put_date(txt, day);
        cdc_buf_putc(txt, ' ');
        put_time(txt, v->i - day * 86400000000LL);
        break;
    }
    case ICE_STRING:
        cdc_buf_put(txt, v->p, v->n);
        return json_stringn((const char *) v->p, v->n);
    case ICE_UUID:
        for (size_t k = 0; k < v->n; k++)
            cdc_buf_printf(txt, "%s%02x", k == 4 || k == 6 || k == 8 || k == 10 ? "-" : "",
                           v->p[k]);
        break;
    default:
        cdc_buf_reset(txt);
        for (size_t k = 0; k < v->n; k++)
            cdc_buf_printf(txt, "%02x", v->p[k]);
        {
            json_t *j = json_string(cdc_buf_str(txt));

            cdc_buf_reset(txt);
            return j;
        }
    }
    return json_string(cdc_buf_str(txt));
}

/* The value parsed back from its text has the same bound bytes. */
static void
check_bound(const ice_field *f, const ice_value *v, cdc_buf *txt)
{
    cdc_buf   a = CDC_BUF_INIT, b = CDC_BUF_INIT;
    ice_value p;
    uint8_t   scratch[16];
    cdc_err   err = { 0 };

    if (v->null || txt->len == 0 || f->type.kind == ICE_FLOAT || f->type.kind == ICE_DOUBLE
        || f->type.kind == ICE_BINARY || f->type.kind == ICE_FIXED)
        return;
    if (f->type.kind == ICE_TIMESTAMPTZ)
        cdc_buf_puts(txt, "+00");
    if (ice_value_parse(&f->type, cdc_buf_str(txt), scratch, &p, &err) != 0) {
        fprintf(stderr, "ice_scan_dump: field %s: %s does not parse: %s\n", f->name,
                cdc_buf_str(txt), err.msg);
        exit(1);
    }
    ice_value_bound(&a, &f->type, v);
    ice_value_bound(&b, &f->type, &p);
    if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0) {
        fprintf(stderr, "ice_scan_dump: field %s: the bound of the value read differs from "
                "that of its text %s\n", f->name, cdc_buf_str(txt));
        exit(1);
    }
    cdc_buf_free(&a);
    cdc_buf_free(&b);
}

typedef struct dump {
    const ice_field **fields;
    int               n;
    cdc_buf           txt;
} dump;

static json_t *
row_json(dump *d, const ice_value *vals)
{
    json_t *row = json_object();

    for (int i = 0; i < d->n; i++) {
        if (d->fields[i] == NULL)
            continue;
        json_object_set_new(row, d->fields[i]->name, render(&d->fields[i]->type, &vals[i],
                                                            &d->txt));
        check_bound(d->fields[i], &vals[i], &d->txt);
    }
    return row;
}

static int
on_row(void *arg, const char *file, int64_t pos, const ice_value *vals, cdc_err *err)
{
    dump   *d = arg;
    json_t *o = json_object();
    char   *s;

    (void) err;
    json_object_set_new(o, "file", json_string(file));
    json_object_set_new(o, "pos", json_integer(pos));
    json_object_set_new(o, "row", row_json(d, vals));
    s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    puts(s);
    free(s);
    json_decref(o);
    return 0;
}

static ice_meta *
load_meta(const char *path)
{
    cdc_buf   b = CDC_BUF_INIT;
    FILE     *f = fopen(strncmp(path, "file://", 7) == 0 ? path + 7 : path, "rb");
    char      chunk[65536];
    size_t    n;
    cdc_err   err = { 0 };
    ice_meta *m;

    if (f == NULL)
        die(path, NULL);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        cdc_buf_put(&b, chunk, n);
    fclose(f);
    m = ice_meta_from_json((const char *) b.data, b.len, path, &err);
    if (m == NULL)
        die("metadata", &err);
    cdc_buf_free(&b);
    return m;
}

int
main(int argc, char **argv)
{
    ice_store_conf  c = { 0 };
    cdc_err         err = { 0 };
    ice_store      *st;
    ice_meta       *m;
    const ice_schema *s;
    dump            d = { .txt = CDC_BUF_INIT };
    int32_t        *ids;

    if (argc < 3)
        die("usage: ice_scan_dump rows|keys|row META.json ...", NULL);
    st = ice_store_new(&c, &err);
    if (st == NULL)
        die("store", &err);
    m = load_meta(argv[2]);
    s = ice_meta_schema(m, m->current_schema_id);
    if (s == NULL)
        die("no current schema", NULL);
    d.fields = cdc_xcalloc((size_t) s->nfields + (size_t) argc, sizeof(*d.fields));
    ids = cdc_xcalloc((size_t) s->nfields + (size_t) argc, sizeof(*ids));

    if (strcmp(argv[1], "rows") == 0 || strcmp(argv[1], "keys") == 0) {
        ice_scan_stats stats;
        json_t        *o;
        char          *txt;

        if (strcmp(argv[1], "rows") == 0) {
            for (int i = 0; i < s->nfields; i++)
                if (s->fields[i].type.kind != ICE_LIST) {
                    d.fields[d.n] = &s->fields[i];
                    ids[d.n++] = s->fields[i].id;
                }
        } else {
            for (int i = 3; i < argc; i++) {
                ids[d.n] = (int32_t) atoi(argv[i]);
                d.fields[d.n] = ice_schema_find_id(s, ids[d.n]);
                d.n++;
            }
        }
        if (ice_scan_rows(st, m, ids, d.n, on_row, &d, &stats, &err) != 0)
            die("scan", &err);
        o = json_pack("{s:{s:I,s:I,s:I,s:I}}", "stats", "data_files",
                      (json_int_t) stats.data_files, "delete_files",
                      (json_int_t) stats.delete_files, "rows", (json_int_t) stats.rows,
                      "deleted", (json_int_t) stats.deleted);
        txt = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        puts(txt);
        free(txt);
        json_decref(o);
    } else if (strcmp(argv[1], "row") == 0 && argc == 5) {
        ice_value *vals = cdc_xcalloc((size_t) s->nfields + 1, sizeof(*vals));
        cdc_buf    mem = CDC_BUF_INIT;
        json_t    *o;
        char      *txt;
        int        rc = ice_scan_row(st, m, argv[3], strtoll(argv[4], NULL, 10), NULL, 0, vals,
                                     &mem, &err);

        if (rc != 0)
            die(rc == 1 ? "no such row" : "row", &err);
        for (int i = 0; i < s->nfields; i++)
            d.fields[d.n++] = s->fields[i].type.kind == ICE_LIST ? NULL : &s->fields[i];
        o = json_object();
        json_object_set_new(o, "row", row_json(&d, vals));
        txt = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        puts(txt);
        free(txt);
        json_decref(o);
        cdc_buf_free(&mem);
        free(vals);
    } else if (strcmp(argv[1], "list") == 0 && argc == 6) {
        const ice_field *f = ice_schema_find_id(s, (int32_t) atoi(argv[5]));
        ice_value       *el = NULL;
        size_t           n = 0;
        bool             is_null;
        cdc_buf          mem = CDC_BUF_INIT;
        json_t          *o, *arr;
        char            *txt;
        ice_type         et;
        ice_field        ef;
        int              rc = ice_scan_row_list(st, m, argv[3], strtoll(argv[4], NULL, 10),
                                                (int32_t) atoi(argv[5]), &is_null, &el, &n, &mem,
                                                &err);

        if (rc != 0)
            die(rc == 1 ? "no such row" : "list", &err);
        memset(&et, 0, sizeof(et));
        et.kind = f->type.elem_kind;
        et.precision = f->type.precision;
        et.scale = f->type.scale;
        et.length = f->type.length;
        ef = (ice_field) { .id = f->type.elem_id, .name = f->name, .type = et };
        arr = is_null ? json_null() : json_array();
        for (size_t k = 0; k < n; k++) {
            json_array_append_new(arr, render(&et, &el[k], &d.txt));
            check_bound(&ef, &el[k], &d.txt);
        }
        o = json_object();
        json_object_set_new(o, "list", arr);
        txt = json_dumps(o, JSON_COMPACT | JSON_ENCODE_ANY);
        puts(txt);
        free(txt);
        json_decref(o);
        free(el);
        cdc_buf_free(&mem);
    } else {
        die("usage: ice_scan_dump rows|keys|row|list META.json ...", NULL);
    }
    cdc_buf_free(&d.txt);
    free(d.fields);
    free(ids);
    ice_meta_free(m);
    ice_store_free(st);
    return 0;
}
