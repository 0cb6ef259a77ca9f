/*
 * `cdcagent lakehouse`: snapshots, query (time travel) and rollback of the
 * Iceberg tables of a pipeline (see lakehouse.h and docs/lakehouse.md).
 */
#include "agent/cmd/lakehouse.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_mem.h"
#include "agent/core/net/pgconn.h"
#include "agent/pipeline/dest_registry.h"
#include "agent/source/pg_source.h"
#include "sinks/iceberg/ice_commit.h"
#include "sinks/iceberg/ice_open.h"
#include "sinks/iceberg/ice_scan.h"
#include "sinks/iceberg/ice_table.h"
#include "sinks/iceberg/ice_value.h"

/* One Iceberg sink, opened. */
typedef struct lake_sink {
    const cfg_sink   *sink;
    ice_store        *st;
    ice_cat          *cat;
    cdc_aws_provider *aws;
} lake_sink;

/* One table: the source table and its Iceberg table in a sink. */
typedef struct lake_tbl {
    char src[2 * CFG_NAME_MAX + 2];
    char ns[200];
    char name[300];
} lake_tbl;

static int
sink_open(lake_sink *ls, const cfg_sink *sink, cdc_err *err)
{
    dest_iceberg_conf c;
    char             *wh = cdc_xstrdup(sink->iceberg.warehouse ? sink->iceberg.warehouse : "");
    size_t            n = strlen(wh);
    int               rc = 0;

    memset(ls, 0, sizeof(*ls));
    ls->sink = sink;
    agent_iceberg_conf(sink, NULL, &c);
    while (n > 0 && wh[n - 1] == '/')
        wh[--n] = '\0';
    if (ice_open_store(&c, wh, NULL, &ls->st, &ls->aws, err) < 0 ||
        ice_open_catalog(&c, wh, &ls->cat, err) < 0)
        rc = cdc_err_wrap(err, "sink %s", sink->sink_id);
    free(wh);
    return rc;
}

static void
sink_close(lake_sink *ls)
{
    ice_cat_close(ls->cat);
    ice_store_free(ls->st);
    cdc_aws_provider_free(ls->aws);
    memset(ls, 0, sizeof(*ls));
}

/* The tables of sink s: every source table, or only o->table; as the sink names them. */
static int
pick_tables(const cdc_config *cfg, const cfg_sink *s, const char *only, lake_tbl **out, int *n,
            cdc_err *err)
{
    const cfg_source *src = &cfg->pipeline.source;
    char              os[CFG_NAME_MAX + 1] = "", ot[CFG_NAME_MAX + 1] = "";
    const char       *why;

    *out = cdc_xcalloc((size_t) src->ntables + 1, sizeof(lake_tbl));
    *n = 0;
    if (only && (why = cfg_table_split(only, os, ot)) != NULL)
        return cdc_err_set(err, CDC_E_CONFIG, "--table %s %s", only, why);
    for (int i = 0; i < src->ntables; i++) {
        char      ss[CFG_NAME_MAX + 1], st[CFG_NAME_MAX + 1];
        lake_tbl *t = &(*out)[*n];

        if (cfg_table_split(src->tables[i], ss, st) != NULL)
            continue;
        if (only && (strcmp(ss, os) != 0 || strcmp(st, ot) != 0))
            continue;
        snprintf(t->src, sizeof(t->src), "%s.%s", ss, st);
        snprintf(t->ns, sizeof(t->ns), "%s", s->iceberg.table_namespace &&
                 *s->iceberg.table_namespace ? s->iceberg.table_namespace : "default");
        if (s->iceberg.table_name && *s->iceberg.table_name)
            snprintf(t->name, sizeof(t->name), "%s", s->iceberg.table_name);
        else
            snprintf(t->name, sizeof(t->name), "%s_%s", ss, st);
        (*n)++;
        if (s->iceberg.table_name && *s->iceberg.table_name)
            break;      /* one Iceberg table for every source table */
    }
    if (only && *n == 0)
        return cdc_err_set(err, CDC_E_CONFIG, "--table %s: not in the pipeline's source.tables",
                           only);
    return 0;
}

/* "2026-12-07T00:57:35.123Z" */
static void
fmt_ms(int64_t ms, char *out, size_t n)
{
    time_t    s = (time_t) ice_floor_div(ms, 1000);
    struct tm tm;

    gmtime_r(&s, &tm);
    snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int) (ms - (int64_t) s * 1000));
}

static int64_t
sum_i64(const ice_snapshot *s, const char *key)
{
    const char *v = ice_snapshot_get(s, key);

    return v ? strtoll(v, NULL, 10) : 0;
}

static const ice_snapshot *
snap_by_id(const ice_meta *m, int64_t id)
{
    for (int i = 0; i < m->nsnapshots; i++)
        if (m->snapshots[i].id == id)
            return &m->snapshots[i];
    return NULL;
}

/* Whether snapshot id is the current one or one of its ancestors. */
static bool
on_main(const ice_meta *m, int64_t id)
{
    const ice_snapshot *s = ice_meta_current(m);

    for (int guard = 0; s != NULL && guard <= m->nsnapshots; guard++) {
        if (s->id == id)
            return true;
        s = s->parent_id >= 0 ? snap_by_id(m, s->parent_id) : NULL;
    }
    return false;
}

/* This pipeline's position of snapshot s (or its nearest ancestor that has one). */
static const char *
lineage_position(const ice_meta *m, const ice_snapshot *s, const char *pipeline_id,
                 cdc_pos *out)
{
    for (int guard = 0; s != NULL && guard <= m->nsnapshots; guard++) {
        const char *pid = ice_snapshot_get(s, "cdc.pipeline");
        const char *pos = ice_snapshot_get(s, "cdc.position");

        if (pid && pos && strcmp(pid, pipeline_id) == 0 && ice_pos_parse(pos, out) == 0)
            return pos;
        s = s->parent_id >= 0 ? snap_by_id(m, s->parent_id) : NULL;
    }
    return NULL;
}

/* The snapshot of this pipeline with the highest position, anywhere in the metadata. */
static const ice_snapshot *
newest_of_pipeline(const ice_meta *m, const char *pipeline_id, cdc_pos *out)
{
    const ice_snapshot *best = NULL;

    for (int i = 0; i < m->nsnapshots; i++) {
        const char *pid = ice_snapshot_get(&m->snapshots[i], "cdc.pipeline");
        const char *pos = ice_snapshot_get(&m->snapshots[i], "cdc.position");
        cdc_pos     p;

        if (pid && pos && strcmp(pid, pipeline_id) == 0 && ice_pos_parse(pos, &p) == 0 &&
            (best == NULL || cdc_pos_cmp(p, *out) > 0)) {
            best = &m->snapshots[i];
            *out = p;
        }
    }
    return best;
}

/* @returns 0 with *m, 1 when the table does not exist (err says so), -1 with err. */
static int
load(lake_sink *ls, const lake_tbl *t, ice_meta **m, cdc_err *err)
{
    ice_cat_ident id = { t->ns, t->name };
    char         *loc = NULL;
    int           rc = ice_commit_load(ls->cat, ls->st, &id, m, &loc, err);

    free(loc);
    if (rc == ICE_CAT_NOT_FOUND) {
        cdc_err_set(err, CDC_E_CONFIG, "sink %s: the Iceberg table %s.%s (of %s) does not exist "
                    "(yet: the sink creates it with its first change)", ls->sink->sink_id, t->ns,
                    t->name, t->src);
        return 1;
    }
    if (rc != ICE_CAT_OK)
        return cdc_err_wrap(err, "sink %s: loading Iceberg table %s.%s", ls->sink->sink_id,
                            t->ns, t->name);
    return 0;
}

/* ---------------------------------------------------------------- snapshots */

static json_t *
snapshot_obj(const ice_meta *m, const ice_snapshot *s)
{
    const char *op = ice_snapshot_get(s, "operation");
    const char *pos = ice_snapshot_get(s, "cdc.position");
    const char *pid = ice_snapshot_get(s, "cdc.pipeline");
    char        tm[40];

    fmt_ms(s->timestamp_ms, tm, sizeof(tm));
    return json_pack("{s:I, s:o, s:I, s:s, s:s?, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s?, s:s?,"
                     " s:b, s:b}",
                     "snapshot_id", (json_int_t) s->id,
                     "parent_id", s->parent_id >= 0 ? json_integer(s->parent_id) : json_null(),
                     "timestamp_ms", (json_int_t) s->timestamp_ms, "time", tm,
                     "operation", op,
                     "added_records", (json_int_t) sum_i64(s, "added-records"),
                     "deleted_records", (json_int_t) sum_i64(s, "deleted-records"),
                     "added_position_deletes", (json_int_t) sum_i64(s, "added-position-deletes"),
                     "added_data_files", (json_int_t) sum_i64(s, "added-data-files"),
                     "deleted_data_files", (json_int_t) sum_i64(s, "deleted-data-files"),
                     "added_delete_files", (json_int_t) sum_i64(s, "added-delete-files"),
                     "removed_delete_files", (json_int_t) sum_i64(s, "removed-delete-files"),
                     "cdc_position", pos, "cdc_pipeline", pid,
                     "current", s->id == m->current_snapshot_id,
                     "on_main", on_main(m, s->id));
}

static int
cmd_snapshots(const cdc_config *cfg, lake_sink *ls, const lake_tbl *ts, int n, json_t *out,
              cdc_err *err)
{
    (void) cfg;
    for (int k = 0; k < n; k++) {
        const lake_tbl *t = &ts[k];
        ice_meta       *m = NULL;
        json_t         *arr = json_array();

        int     lr = load(ls, t, &m, err);

        if (lr < 0) {
            json_decref(arr);
            return -1;
        }
        if (lr == 1) {
            /* not created yet: listed as such, the other tables still are */
            json_decref(arr);
            if (out)
                json_array_append_new(out, json_pack("{s:s, s:s, s:s+++, s:n, s:[], s:b}", "sink",
                                                     ls->sink->sink_id, "table", t->src,
                                                     "iceberg_table", t->ns, ".", t->name, "",
                                                     "current_snapshot_id", "snapshots",
                                                     "exists", 0));
            else
                printf("%s (Iceberg table %s.%s, sink %s): does not exist yet\n", t->src, t->ns,
                       t->name, ls->sink->sink_id);
            cdc_err_clear(err);
            continue;
        }
        for (int i = 0; i < m->nsnapshots; i++)
            json_array_append_new(arr, snapshot_obj(m, &m->snapshots[i]));
        if (out) {
            json_array_append_new(out, json_pack("{s:s, s:s, s:s+++, s:o, s:o, s:b}", "sink",
                                                 ls->sink->sink_id, "table", t->src,
                                                 "iceberg_table", t->ns, ".", t->name, "",
                                                 "current_snapshot_id",
                                                 m->current_snapshot_id >= 0
                                                 ? json_integer(m->current_snapshot_id)
                                                 : json_null(), "snapshots", arr, "exists", 1));
        } else {
            size_t  i;
            json_t *s;

            printf("%s (Iceberg table %s.%s, sink %s): %d snapshot(s)\n", t->src, t->ns, t->name,
                   ls->sink->sink_id, m->nsnapshots);
            printf("  %-20s %-24s %-10s %9s %9s %6s %6s  %s\n", "snapshot_id", "time (UTC)",
                   "operation", "+rows", "-rows", "+files", "-files", "cdc.position");
            json_array_foreach(arr, i, s) {
                const char *pos = json_string_value(json_object_get(s, "cdc_position"));
                const char *op = json_string_value(json_object_get(s, "operation"));
                json_int_t  del = json_integer_value(json_object_get(s, "deleted_records")) +
                                  json_integer_value(json_object_get(s, "added_position_deletes"));
                json_int_t  af = json_integer_value(json_object_get(s, "added_data_files")) +
                                 json_integer_value(json_object_get(s, "added_delete_files"));
                json_int_t  df = json_integer_value(json_object_get(s, "deleted_data_files")) +
                                 json_integer_value(json_object_get(s, "removed_delete_files"));

                printf("  %-20" JSON_INTEGER_FORMAT " %-24s %-10s %9" JSON_INTEGER_FORMAT
                       " %9" JSON_INTEGER_FORMAT " %6" JSON_INTEGER_FORMAT " %6"
                       JSON_INTEGER_FORMAT "  %s%s%s\n",
                       json_integer_value(json_object_get(s, "snapshot_id")),
                       json_string_value(json_object_get(s, "time")), op ? op : "-",
                       json_integer_value(json_object_get(s, "added_records")), del, af, df,
                       pos ? pos : "-",
                       json_is_true(json_object_get(s, "current")) ? "  (current)" : "",
                       json_is_true(json_object_get(s, "on_main")) ? "" : "  (not on main)");
            }
            json_decref(arr);
        }
        ice_meta_free(m);
    }
    return 0;
}

/* ---------------------------------------------------------------- query */

static json_t *
value_json(const ice_type *t, const ice_value *v, cdc_buf *tmp)
{
    char    b[64];
    int64_t y;
    int     mo, d;

    if (v->null)
        return json_null();
    switch (t->kind) {
    case ICE_BOOLEAN:
        return json_boolean(v->b);
    case ICE_INT:
    case ICE_LONG:
        return json_integer((json_int_t) v->i);
    case ICE_FLOAT:
    case ICE_DOUBLE:
        if (v->f != v->f || v->f > 1.7976931348623157e308 || v->f < -1.7976931348623157e308) {
            snprintf(b, sizeof(b), "%s", v->f != v->f ? "NaN" : v->f > 0 ? "Infinity"
                                                                          : "-Infinity");
            return json_string(b);
        }
        return json_real(v->f);
    case ICE_DECIMAL: {
        uint8_t bytes[16];
        size_t  n = ice_decimal_bytes(v->d, bytes);

        tmp->len = 0;
        ice_decimal_text(bytes, n, t->scale, tmp);
        return json_stringn(tmp->data ? (const char *) tmp->data : "", tmp->len);
    }
    case ICE_DATE:
        ice_civil_from_days(v->i, &y, &mo, &d);
        snprintf(b, sizeof(b), "%04" PRId64 "-%02d-%02d", y, mo, d);
        return json_string(b);
    case ICE_TIME: {
        int64_t us = v->i;

        snprintf(b, sizeof(b), "%02d:%02d:%02d.%06d", (int) (us / 3600000000LL),
                 (int) (us / 60000000LL % 60), (int) (us / 1000000 % 60), (int) (us % 1000000));
        return json_string(b);
    }
    case ICE_TIMESTAMP:
    case ICE_TIMESTAMPTZ: {
        int64_t days = ice_floor_div(v->i, 86400000000LL), us = v->i - days * 86400000000LL;

        ice_civil_from_days(days, &y, &mo, &d);
        snprintf(b, sizeof(b), "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d.%06d%s", y, mo, d,
                 (int) (us / 3600000000LL), (int) (us / 60000000LL % 60),
                 (int) (us / 1000000 % 60), (int) (us % 1000000),
                 t->kind == ICE_TIMESTAMPTZ ? "+00:00" : "");
        return json_string(b);
    }
    case ICE_STRING:
        return json_stringn(v->n ? (const char *) v->p : "", v->n);
    case ICE_UUID:
        if (v->n == 16) {
            const uint8_t *p = v->p;

            snprintf(b, sizeof(b), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                     "%02x%02x%02x%02x%02x%02x", p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7],
                     p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15]);
            return json_string(b);
        }
        /* fall through */
    default:
        /* binary, fixed: lowercase hex */
        tmp->len = 0;
        for (size_t i = 0; i < v->n; i++)
            cdc_buf_printf(tmp, "%02x", v->p[i]);
        return json_stringn(tmp->data ? (const char *) tmp->data : "", tmp->len);
    }
}

typedef struct qctx {
    const ice_field **fields;   /* scanned fields */
    int               n;
    int               where_idx;    /* -1: no filter */
    ice_value         where_val;
    int64_t           limit, printed;
    cdc_buf           tmp;
} qctx;

static int
query_row(void *arg, const char *file, int64_t pos, const ice_value *vals, cdc_err *err)
{
    qctx   *q = arg;
    json_t *o;
    char   *line;

    (void) file;
    (void) pos;
    (void) err;
    if (q->where_idx >= 0 &&
        (vals[q->where_idx].null ||
         ice_value_cmp(&q->fields[q->where_idx]->type, &vals[q->where_idx], &q->where_val) != 0))
        return 0;
    o = json_object();
    for (int i = 0; i < q->n; i++)
        json_object_set_new(o, q->fields[i]->name, value_json(&q->fields[i]->type, &vals[i],
                                                              &q->tmp));
    line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (line == NULL)
        return cdc_err_set(err, CDC_E_NOMEM, "query: row JSON");
    puts(line);
    free(line);
    q->printed++;
    return q->limit >= 0 && q->printed >= q->limit ? 1 : 0;
}

/* The snapshot the main branch pointed at at time as_of_ms (the snapshot-log); -1: none. */
static int64_t
snapshot_as_of(const ice_meta *m, int64_t as_of_ms)
{
    int64_t id = -1, best = INT64_MIN;

    if (m->nsnaplog > 0) {
        for (int i = 0; i < m->nsnaplog; i++)
            if (m->snaplog[i].timestamp_ms <= as_of_ms)
                id = m->snaplog[i].snapshot_id;
        return id;
    }
    for (int i = 0; i < m->nsnapshots; i++)
        if (m->snapshots[i].timestamp_ms <= as_of_ms && m->snapshots[i].timestamp_ms >= best) {
            best = m->snapshots[i].timestamp_ms;
            id = m->snapshots[i].id;
        }
    return id;
}

/* "1733532000000" (milliseconds), or ISO-8601 "2026-12-07T00:57:35[.fff][Z|+hh[:mm]]" (no
   zone: UTC). */
static int
parse_as_of(const char *s, int64_t *ms, cdc_err *err)
{
    ice_type  t = { .kind = ICE_TIMESTAMPTZ };
    ice_value v;
    uint8_t   scratch[16];
    char     *end;
    cdc_err   e2 = { 0 };

    if (*s >= '0' && *s <= '9' && strchr(s, '-') == NULL) {
        long long x = strtoll(s, &end, 10);

        if (*end == '\0') {
            *ms = x;
            return 0;
        }
    }
    if (ice_value_parse(&t, s, scratch, &v, &e2) != 0)
        return cdc_err_set(err, CDC_E_CONFIG, "--as-of %s: expected a time like "
                           "2026-12-07T00:57:35Z or milliseconds since 1970 (%s)", s, e2.msg);
    *ms = ice_floor_div(v.i, 1000);
    return 0;
}

static int
cmd_query(const cdc_config *cfg, lake_sink *ls, const lake_tbl *t, const agent_lake_opts *o,
          cdc_err *err)
{
    ice_meta         *m = NULL;
    const ice_schema *s;
    qctx              q = { .where_idx = -1, .limit = o->limit };
    int32_t          *ids = NULL;
    int64_t           snap = o->snapshot_id;
    uint8_t           scratch[16];
    char             *wcol = NULL;
    int               rc = -1;
    ice_scan_stats    stats;

    (void) cfg;
    if (load(ls, t, &m, err) != 0)
        return -1;
    if ((s = ice_meta_schema(m, m->current_schema_id)) == NULL) {
        cdc_err_set(err, CDC_E_STATE, "Iceberg table %s.%s: no current schema", t->ns, t->name);
        goto out;
    }
    if (o->as_of) {
        int64_t ms = 0;

        if (parse_as_of(o->as_of, &ms, err) < 0)
            goto out;
        if ((snap = snapshot_as_of(m, ms)) < 0) {
            char tm[40];

            fmt_ms(ms, tm, sizeof(tm));
            cdc_err_set(err, CDC_E_CONFIG, "--as-of %s: Iceberg table %s.%s had no snapshot "
                        "yet at %s", o->as_of, t->ns, t->name, tm);
            goto out;
        }
    }
    if (snap_by_id(m, snap) == NULL) {
        cdc_err_set(err, CDC_E_CONFIG, "--snapshot-id %" PRId64 ": Iceberg table %s.%s has no "
                    "such snapshot (lakehouse snapshots lists them)", snap, t->ns, t->name);
        goto out;
    }
    {
        /* The snapshot's own columns (as pyiceberg projects a time-travel scan), typed as
           the current schema types them (the sink only adds and widens columns). */
        const ice_snapshot *sn = snap_by_id(m, snap);
        const ice_schema   *ss = sn->schema_id >= 0 ? ice_meta_schema(m, sn->schema_id) : NULL;

        if (ss == NULL)
            ss = s;
        q.fields = cdc_xcalloc((size_t) ss->nfields + 1, sizeof(*q.fields));
        ids = cdc_xcalloc((size_t) ss->nfields + 1, sizeof(*ids));
        for (int i = 0; i < ss->nfields; i++) {
            const ice_field *f = ice_schema_find_id(s, ss->fields[i].id);

            if (f != NULL && f->type.kind != ICE_LIST) {
                q.fields[q.n] = f;
                ids[q.n++] = f->id;
            }
        }
    }
    if (o->where) {
        const char *eq = strchr(o->where, '=');

        if (eq == NULL || eq == o->where) {
            cdc_err_set(err, CDC_E_CONFIG, "--where %s: expected COLUMN=VALUE", o->where);
            goto out;
        }
        wcol = cdc_xstrndup(o->where, (size_t) (eq - o->where));
        for (int i = 0; i < q.n; i++)
            if (strcmp(q.fields[i]->name, wcol) == 0)
                q.where_idx = i;
        if (q.where_idx < 0) {
            cdc_err_set(err, CDC_E_CONFIG, "--where %s: Iceberg table %s.%s has no column %s "
                        "(or it is a list)", o->where, t->ns, t->name, wcol);
            goto out;
        }
        if (ice_value_parse(&q.fields[q.where_idx]->type, eq + 1, scratch, &q.where_val,
                            err) != 0) {
            char tb[64];

            cdc_err_wrap(err, "--where %s: column %s of Iceberg table %s.%s is %s", o->where,
                         wcol, t->ns, t->name,
                         ice_type_str(&q.fields[q.where_idx]->type, tb, sizeof(tb)));
            err->code = CDC_E_CONFIG;
            goto out;
        }
    }
    if (o->limit == 0) {
        rc = 0;
        goto out;
    }
    if (ice_scan_rows_at(ls->st, m, snap, ids, q.n, query_row, &q, &stats, err) < 0) {
        cdc_err_wrap(err, "sink %s: reading Iceberg table %s.%s at snapshot %" PRId64,
                     ls->sink->sink_id, t->ns, t->name, snap);
        goto out;
    }
    fflush(stdout);
    if (!o->json)
        fprintf(stderr, "cdcagent: lakehouse query: %lld row(s) of %s.%s at snapshot %" PRId64
                " (%lld data file(s), %lld delete file(s))\n", (long long) q.printed, t->ns,
                t->name, snap, (long long) stats.data_files, (long long) stats.delete_files);
    rc = 0;
out:
    free(wcol);
    free(ids);
    free(q.fields);
    cdc_buf_free(&q.tmp);
    ice_meta_free(m);
    return rc;
}

/* ---------------------------------------------------------------- rollback */

/* Whether the pipeline's slot is active: 1 yes (*pid), 0 no, -1 cannot tell (err). */
static int
slot_active(const cdc_config *cfg, char *pid, size_t pidsz, char *confirmed, size_t csz,
            cdc_err *err)
{
    const cfg_source *src = &cfg->pipeline.source;
    const char       *p[1] = { src->slot_name };
    PGconn           *conn = agent_pg_connect(src, false, err);
    PGresult         *res;
    int               rc;

    if (conn == NULL)
        return -1;
    res = agent_pg_query(conn, "SELECT active, active_pid, confirmed_flush_lsn "
                         "FROM pg_replication_slots WHERE slot_name = $1", 1, p,
                         "reading the replication slot", err);
    if (res == NULL) {
        PQfinish(conn);
        return -1;
    }
    rc = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    snprintf(pid, pidsz, "%s", PQntuples(res) == 1 ? PQgetvalue(res, 0, 1) : "");
    snprintf(confirmed, csz, "%s", PQntuples(res) == 1 && !PQgetisnull(res, 0, 2)
             ? PQgetvalue(res, 0, 2) : "none");
    PQclear(res);
    PQfinish(conn);
    return rc;
}

static int
cmd_rollback(const cdc_config *cfg, lake_sink *ls, const lake_tbl *t, const agent_lake_opts *o,
             cdc_err *err)
{
    const char         *pipeline = cfg->pipeline.pipeline_id ? cfg->pipeline.pipeline_id : "";
    ice_cat_ident       id = { t->ns, t->name };
    ice_meta           *m = NULL, *after = NULL;
    const ice_snapshot *target, *from, *newest;
    const char         *tpos, *fpos;
    cdc_pos             tp = { 0, 0 }, fp = { 0, 0 }, np = { 0, 0 };
    char                pid[32] = "", confirmed[64] = "unknown", npos[64] = "";
    cdc_err             serr = { 0 };
    int                 active, rc = -1;
    bool                refuses;
    cdc_buf             msg = CDC_BUF_INIT;

    if (load(ls, t, &m, err) != 0)
        return -1;
    if ((target = snap_by_id(m, o->snapshot_id)) == NULL) {
        cdc_err_set(err, CDC_E_CONFIG, "--snapshot-id %" PRId64 ": Iceberg table %s.%s has no "
                    "such snapshot (lakehouse snapshots lists them)", o->snapshot_id, t->ns,
                    t->name);
        goto out;
    }
    from = ice_meta_current(m);
    if (from && from->id == target->id) {
        printf("%s.%s: snapshot %" PRId64 " is already current; nothing to do\n", t->ns, t->name,
               target->id);
        rc = 0;
        goto out;
    }
    active = slot_active(cfg, pid, sizeof(pid), confirmed, sizeof(confirmed), &serr);
    if (active != 0 && !o->force) {
        if (active < 0)
            cdc_err_set(err, CDC_E_STATE, "cannot tell whether an agent is writing Iceberg "
                        "table %s.%s (%s); not rolling back (--force to do it anyway, with the "
                        "agent stopped)", t->ns, t->name, serr.msg);
        else
            cdc_err_set(err, CDC_E_STATE, "replication slot %s is active (pid %s): an agent is "
                        "running this pipeline and writing Iceberg table %s.%s; stop it first "
                        "(--force rolls back anyway: the running sink then stops at its next "
                        "commit of this table, see docs/lakehouse.md)",
                        cfg->pipeline.source.slot_name, pid, t->ns, t->name);
        goto out;
    }
    if (!o->yes) {
        cdc_err_set(err, CDC_E_CONFIG, "rolling Iceberg table %s.%s back from snapshot %" PRId64
                    " to %" PRId64 " changes what every reader sees; add --yes to do it",
                    t->ns, t->name, from ? from->id : -1, target->id);
        goto out;
    }
    tpos = lineage_position(m, target, pipeline, &tp);
    fpos = lineage_position(m, from, pipeline, &fp);
    newest = newest_of_pipeline(m, pipeline, &np);
    if (newest)
        ice_pos_format(np, npos, sizeof(npos));
    rc = ice_commit_set_main(ls->cat, ls->st, &id, target->id, from ? from->id : -1, &after,
                             err);
    if (rc != ICE_CAT_OK) {
        cdc_err_wrap(err, "sink %s: rolling back Iceberg table %s.%s", ls->sink->sink_id, t->ns,
                     t->name);
        rc = -1;
        goto out;
    }
    /* The rule of iceberg.c's check_rolled_back: a newer position of ours off the branch. */
    refuses = newest != NULL && (tpos == NULL || cdc_pos_cmp(np, tp) > 0);
    cdc_buf_printf(&msg, "rolled back Iceberg table %s.%s (%s, sink %s) from snapshot %" PRId64
                   " (position %s) to snapshot %" PRId64 " (position %s); slot %s is confirmed "
                   "at %s%s. ", t->ns, t->name, t->src, ls->sink->sink_id, from ? from->id : -1,
                   fpos ? fpos : "none", target->id, tpos ? tpos : "none",
                   cfg->pipeline.source.slot_name, confirmed,
                   active > 0 ? " and ACTIVE (--force)" : "");
    if (refuses)
        cdc_buf_printf(&msg, "Next: the sink refuses to start on this table: snapshot %" PRId64
                       " held changes up to %s, which were acknowledged to PostgreSQL and are "
                       "not sent again. To go on, roll forward (cdcagent lakehouse rollback "
                       "PIPELINE.yaml --table %s --snapshot-id %" PRId64 " --yes) or re-snapshot "
                       "the table (docs/lakehouse.md).", newest->id, npos, t->src, newest->id);
    else
        cdc_buf_printf(&msg, "Next: the sink resumes this table after position %s, the newest "
                       "this pipeline wrote to it: nothing is skipped or written twice.",
                       tpos ? tpos : "none");
    if (active > 0)
        cdc_buf_printf(&msg, " WARNING: an agent is running (pid %s): it keeps its state of "
                       "the table from before the rollback and %s; stop it now.", pid,
                       refuses ? "stops at its next commit of this table"
                               : "does not know the table moved");
    if (o->json) {
        json_t *j = json_pack("{s:s, s:s+++, s:s, s:o, s:I, s:s?, s:s?, s:s, s:b, s:s, s:o, s:s}",
                              "table", t->src, "iceberg_table", t->ns, ".", t->name, "",
                              "sink", ls->sink->sink_id,
                              "from_snapshot_id", from ? json_integer(from->id) : json_null(),
                              "to_snapshot_id", (json_int_t) target->id,
                              "from_position", fpos, "to_position", tpos,
                              "slot_confirmed_lsn", confirmed, "slot_active", active > 0,
                              "sink_next", refuses ? "refuses" : "resumes",
                              "roll_forward_snapshot_id",
                              refuses ? json_integer(newest->id) : json_null(),
                              "message", cdc_buf_str(&msg));
        char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);

        puts(s ? s : "{}");
        free(s);
        json_decref(j);
    } else {
        puts(cdc_buf_str(&msg));
    }
    rc = 0;
out:
    cdc_buf_free(&msg);
    ice_meta_free(after);
    ice_meta_free(m);
    return rc;
}

/* ---------------------------------------------------------------- the command */

int
agent_lakehouse(const cdc_config *cfg, const agent_lake_opts *o, cdc_err *err)
{
    const cfg_pipeline *p = &cfg->pipeline;
    json_t             *out = o->json && strcmp(o->sub, "snapshots") == 0 ? json_array() : NULL;
    int                 nsinks = 0, rc = 0;

    if (strcmp(o->sub, "snapshots") != 0 && o->snapshot_id < 0 && o->as_of == NULL)
        return cdc_err_set(err, CDC_E_CONFIG, "lakehouse %s: --snapshot-id N%s is required",
                           o->sub, strcmp(o->sub, "query") == 0 ? " (or --as-of TIME)" : "");
    if (o->snapshot_id >= 0 && o->as_of)
        return cdc_err_set(err, CDC_E_CONFIG, "lakehouse %s: --snapshot-id and --as-of "
                           "exclude each other", o->sub);
    if (strcmp(o->sub, "query") != 0 && (o->as_of || o->where || o->limit >= 0))
        return cdc_err_set(err, CDC_E_CONFIG, "lakehouse %s: --as-of, --where and --limit are "
                           "options of lakehouse query", o->sub);
    for (int i = 0; i < p->nsinks; i++) {
        const cfg_sink *s = &p->sinks[i];

        if (s->sink_type != CFG_SINK_ICEBERG || (o->sink_id && strcmp(s->sink_id, o->sink_id)))
            continue;
        nsinks++;
    }
    if (nsinks == 0) {
        json_decref(out);
        return o->sink_id ? cdc_err_set(err, CDC_E_CONFIG, "the pipeline has no iceberg sink "
                                        "\"%s\"", o->sink_id)
                          : cdc_err_set(err, CDC_E_CONFIG, "the pipeline has no iceberg sink");
    }
    if (nsinks > 1 && strcmp(o->sub, "snapshots") != 0) {
        json_decref(out);
        return cdc_err_set(err, CDC_E_CONFIG, "lakehouse %s: the pipeline has %d iceberg sinks: "
                           "choose one with --sink ID", o->sub, nsinks);
    }
    for (int i = 0; i < p->nsinks && rc == 0; i++) {
        const cfg_sink *s = &p->sinks[i];
        lake_sink       ls = { 0 };
        lake_tbl       *ts = NULL;
        int             n = 0;

        if (s->sink_type != CFG_SINK_ICEBERG || (o->sink_id && strcmp(s->sink_id, o->sink_id)))
            continue;
        rc = pick_tables(cfg, s, o->table, &ts, &n, err);
        if (rc == 0 && n == 0)
            rc = cdc_err_set(err, CDC_E_CONFIG, "lakehouse %s: the pipeline captures no table",
                             o->sub);
        if (rc == 0 && n > 1 && strcmp(o->sub, "snapshots") != 0)
            rc = cdc_err_set(err, CDC_E_CONFIG, "lakehouse %s: the pipeline captures %d tables: "
                             "choose one with --table SCHEMA.TABLE", o->sub, n);
        if (rc == 0 && (rc = sink_open(&ls, s, err)) == 0) {
            if (strcmp(o->sub, "snapshots") == 0)
                rc = cmd_snapshots(cfg, &ls, ts, n, out, err);
            else if (strcmp(o->sub, "query") == 0)
                rc = cmd_query(cfg, &ls, &ts[0], o, err);
            else
                rc = cmd_rollback(cfg, &ls, &ts[0], o, err);
        }
        sink_close(&ls);
        free(ts);
    }
    if (rc == 0 && out) {
        char *s = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

        puts(s ? s : "[]");
        free(s);
    }
    json_decref(out);
    return rc;
}
