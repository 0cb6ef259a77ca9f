/*
 * `cdcagent verify`: which sink, which tables, how many passes, and what is
 * printed.  The comparisons themselves are in verify_pg.c (a replica),
 * verify_jsonl.c (a JSON-lines file) and verify_iceberg.c (Iceberg tables);
 * see verify.h and docs/verify.md.
 *
 * Relations are described by the agent's own code (agent_catalog_install,
 * agent_capture_prepare_rel): the same columns, key, supported types and
 * topic names the running agent uses, so verify compares what the agent
 * would have delivered.
 */
#include "agent/cmd/verify.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/source/catalog.h"
#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"
#include "agent/core/net/pgconn.h"
#include "agent/source/pg_source.h"
#include "agent/cmd/verify_int.h"

#define VERIFY_FAC "verify"

/* ---------------------------------------------------------------- the request */

static const cfg_sink *
pick_sink(const cdc_config *cfg, const char *id, cdc_err *err)
{
    const cfg_pipeline *p = &cfg->pipeline;
    const cfg_sink     *s = NULL;

    for (int i = 0; i < p->nsinks; i++)
        if (id ? strcmp(p->sinks[i].sink_id, id) == 0 : p->nsinks == 1)
            s = &p->sinks[i];
    if (s == NULL && id)
        cdc_err_set(err, CDC_E_CONFIG, "the pipeline has no sink \"%s\"", id);
    else if (s == NULL)
        cdc_err_set(err, CDC_E_CONFIG, "the pipeline has %d sinks: choose one with --sink ID",
                    p->nsinks);
    else if (s->sink_type != CFG_SINK_POSTGRES && s->sink_type != CFG_SINK_JSONL &&
             s->sink_type != CFG_SINK_ICEBERG)
        cdc_err_set(err, CDC_E_UNSUPPORTED, "sink %s: verify does not support sink type %s "
                    "(only postgres in replica mode, jsonl and iceberg)", s->sink_id,
                    cfg_sink_type_name(s->sink_type));
    else if (s->sink_type == CFG_SINK_POSTGRES && s->postgres.mode != CFG_PG_SINK_REPLICA)
        cdc_err_set(err, CDC_E_UNSUPPORTED, "sink %s: verify reads postgres sinks in mode "
                    "replica only (this one is an event_log)", s->sink_id);
    else if (s->sink_type == CFG_SINK_JSONL && strcmp(s->jsonl.path, "-") == 0)
        cdc_err_set(err, CDC_E_UNSUPPORTED, "sink %s: writes to stdout; there is no file to "
                    "verify", s->sink_id);
    else
        return s;
    return NULL;
}

/* The tables to compare: the requested ones, each of source.tables, or all of them. */
static int
pick_tables(const cdc_config *cfg, const agent_verify_opts *o, const char **out, int *n,
            cdc_err *err)
{
    const cfg_source *src = &cfg->pipeline.source;

    *n = 0;
    if (o->ntables == 0) {
        for (int i = 0; i < src->ntables && i < AGENT_VERIFY_MAX_TABLES; i++)
            out[(*n)++] = src->tables[i];
        return 0;
    }
    for (int i = 0; i < o->ntables; i++) {
        char        os[CFG_NAME_MAX + 1], ot[CFG_NAME_MAX + 1];
        const char *why = cfg_table_split(o->tables[i], os, ot);
        int         j = 0;

        if (why != NULL)
            return cdc_err_set(err, CDC_E_CONFIG, "--table %s %s", o->tables[i], why);
        /* The same table however it is spelled: public.t and "public"."t" alike. */
        for (; j < src->ntables; j++) {
            char ss[CFG_NAME_MAX + 1], st[CFG_NAME_MAX + 1];

            if (cfg_table_split(src->tables[j], ss, st) == NULL && strcmp(ss, os) == 0 &&
                strcmp(st, ot) == 0)
                break;
        }
        if (j == src->ntables)
            return cdc_err_set(err, CDC_E_CONFIG, "--table %s: not in the pipeline's "
                               "source.tables", o->tables[i]);
        out[(*n)++] = src->tables[j];
    }
    return 0;
}

/* ---------------------------------------------------------------- one pass */

static PGconn *
connect_target(const cfg_sink *sink, cdc_err *err)
{
    const cfg_pg_sink *p = &sink->postgres;
    cfg_source         t = { 0 };

    /* The source's session settings; any version (the agent's 12+ is the source's). */
    t.host = p->host;
    t.port = p->port;
    t.database = p->database;
    t.username = p->username;
    t.password = p->password;
    return agent_pg_connect_any(&t, false, err);
}

static cdc_rel *
describe(verify_ctx *vc, const char *table, cdc_err *err)
{
    char     schema[64], name[64];
    cdc_rel *rel;

    if (agent_pg_split_table(table, schema, name, err) < 0)
        return NULL;
    rel = agent_catalog_install(vc->src, agent_capture_relcache(vc->cap), schema, name, err);
    if (rel == NULL || agent_capture_prepare_rel(vc->cap, rel, err) < 0)
        return NULL;
    /* A stored generated column is in snapshot rows only (pgoutput does not stream it
       before PostgreSQL 18): verify leaves it out on both sides, like an unsupported type
       (verify_jsonl.c drops it from the replayed rows too). */
    for (int i = 0; i < rel->ncols; i++)
        if (rel->cols[i].generated && rel->cols[i].key_pos == 0)
            rel->cols[i].ctype.supported = false;
    /* A masked, hashed or truncated column differs from the source by design: verify
       leaves it out (filtered columns are out already) */
    for (int i = 0; i < rel->ncols; i++)
        if (rel->cols[i].mapper > 0)
            rel->cols[i].ctype.supported = false;
    return rel;
}

/* One table against a replica, in a repeatable-read snapshot on each side. */
static int
pg_one(verify_ctx *vc, const cdc_rel *rel, verify_table *t, cdc_err *err)
{
    static const char begin[] = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
    cdc_err           ignored;
    int               rc;

    if (agent_pg_exec(vc->src, begin, "verify: source", err) < 0)
        return -1;
    if (agent_pg_exec(vc->dst, begin, "verify: destination", err) < 0) {
        agent_pg_exec(vc->src, "ROLLBACK", "verify", &ignored);
        return -1;
    }
    rc = verify_pg_table(vc, rel, t, err);
    agent_pg_exec(vc->src, "COMMIT", "verify", &ignored);
    agent_pg_exec(vc->dst, "COMMIT", "verify", &ignored);
    return rc;
}

static int
run_pass(const cdc_config *cfg, const cfg_sink *sink, const char **tables, int n,
         const agent_verify_opts *o, verify_table *ts, cdc_err *err)
{
    verify_ctx vc = { .cfg = cfg, .sink = sink, .ranges_set = o->ranges > 0,
                      .ranges = o->ranges > 0 ? o->ranges : AGENT_VERIFY_RANGES_DEFAULT };
    cdc_rel   *rels[AGENT_VERIFY_MAX_TABLES];
    int        rc = -1;

    vc.src = agent_pg_connect(&cfg->pipeline.source, false, err);
    if (vc.src == NULL)
        return -1;
    if (sink->sink_type == CFG_SINK_POSTGRES && (vc.dst = connect_target(sink, err)) == NULL)
        goto out;
    vc.cap = agent_capture_new(cfg, vc.src, NULL, 1, err);
    if (vc.cap == NULL)
        goto out;
    for (int i = 0; i < n; i++) {
        snprintf(ts[i].name, sizeof(ts[i].name), "%s", tables[i]);
        if ((rels[i] = describe(&vc, tables[i], err)) == NULL)
            goto out;
    }
    if (sink->sink_type == CFG_SINK_JSONL)
        rc = verify_jsonl_tables(&vc, rels, n, ts, err);
    else if (sink->sink_type == CFG_SINK_ICEBERG)
        rc = verify_iceberg_tables(&vc, rels, n, ts, err);
    else {
        rc = 0;
        for (int i = 0; i < n && rc == 0; i++)
            rc = pg_one(&vc, rels[i], &ts[i], err);
    }
out:
    agent_capture_free(vc.cap);
    PQfinish(vc.dst);
    PQfinish(vc.src);
    return rc;
}

/* ---------------------------------------------------------------- output */

static const char *const kind_words[] = {
    [VERIFY_MISSING] = "missing in the destination",
    [VERIFY_EXTRA] = "extra in the destination",
    [VERIFY_DIFFERS] = "values differ",
};
static const char *const kind_names[] = {
    [VERIFY_MISSING] = "missing", [VERIFY_EXTRA] = "extra", [VERIFY_DIFFERS] = "differs",
};

/* "id=5, region=eu" from a key object; strings bare, the rest as JSON. */
static void
print_key(const json_t *key)
{
    const char *col;
    json_t     *v;
    bool        first = true;

    json_object_foreach((json_t *) key, col, v) {
        char *s = json_is_string(v) ? NULL : verify_canonical(v);

        printf("%s%s=%s", first ? "" : ", ", col, s ? s : json_string_value(v));
        free(s);
        first = false;
    }
}

static void
print_diff(const verify_diff *d)
{
    printf("    ");
    if (d->key)
        print_key(d->key);
    else
        printf("row %.200s%s", d->row, strlen(d->row) > 200 ? "..." : "");
    printf("  %s", kind_words[d->kind]);
    if (d->detail && *d->detail)
        printf(d->kind == VERIFY_DIFFERS ? ": %s" : " (%s)", d->detail);
    putchar('\n');
}

static void
print_compared(const verify_table *t)
{
    if (strcmp(t->method, "key_ranges") == 0) {
        printf("  compared     %d ranges of key (%s): %d differ", t->ranges, t->keycols,
               t->ranges_differing);
        /* iceberg counts every key; a replica narrows down only what it lists */
        printf(t->keys_differing >= 0 ? ", %lld keys differ\n" : "\n",
               (long long) t->keys_differing);
    } else if (strcmp(t->method, "keys") == 0)
        printf("  compared     key by key (%s): %lld keys differ\n", t->keycols,
               (long long) t->keys_differing);
    else
        printf("  compared     as a multiset of rows (the table has no key): %lld rows "
               "differ\n", (long long) (t->keys_differing));
}

static void
print_table(const verify_table *t)
{
    printf("table %s: %s\n", t->name, t->equal ? "equal" : "DIFFERS");
    printf("  rows         source %lld, destination %lld\n", (long long) t->src_rows,
           (long long) t->dst_rows);
    if (t->dest_name[0] && t->snapshot_id >= 0)
        printf("  destination  Iceberg table %s, snapshot %lld, cdc.position %s\n",
               t->dest_name, (long long) t->snapshot_id, t->position[0] ? t->position : "none");
    else if (t->dest_name[0])
        printf("  destination  Iceberg table %s, no snapshot yet\n", t->dest_name);
    if (t->source_lsn[0])
        printf("  source       read at WAL position %s\n", t->source_lsn);
    if (t->method)
        print_compared(t);
    if (t->note[0])
        printf("  note         %s\n", t->note);
    if (t->toast_merged > 0)
        printf("  note         %lld unchanged-TOAST placeholders were filled from the key's "
               "earlier event\n", (long long) t->toast_merged);
    if (t->ndiffs > 0)
        printf("  first differing %s:\n", t->diffs[0].key ? "keys" : "rows");
    for (int i = 0; i < t->ndiffs; i++)
        print_diff(&t->diffs[i]);
    if (t->more)
        printf("    ... and more\n");
}

static json_t *
table_json(const verify_table *t)
{
    json_t *diffs = json_array();

    for (int i = 0; i < t->ndiffs; i++) {
        const verify_diff *d = &t->diffs[i];

        json_array_append_new(diffs, json_pack("{s:s, s:O?, s:s?, s:s?}", "kind",
                                               kind_names[d->kind], "key", d->key, "row",
                                               d->row, "detail", d->detail));
    }
    json_t *j;

    j = json_pack("{s:s, s:b, s:s?, s:s, s:I, s:I, s:i, s:i, s:o, s:I, s:s?, s:o, s:b}",
                     "table", t->name, "equal", t->equal, "method", t->method,
                     "key_columns", t->keycols, "source_rows", (json_int_t) t->src_rows,
                     "destination_rows", (json_int_t) t->dst_rows, "ranges", t->ranges,
                     "ranges_differing", t->ranges_differing, "keys_differing",
                     t->keys_differing >= 0 ? json_integer(t->keys_differing) : json_null(),
                     "toast_merged", (json_int_t) t->toast_merged,
                     "note", t->note[0] ? t->note : NULL, "differences", diffs, "more", t->more);
    if (j && t->dest_name[0]) {
        json_object_set_new(j, "destination_table", json_string(t->dest_name));
        json_object_set_new(j, "destination_snapshot", t->snapshot_id >= 0
                            ? json_integer(t->snapshot_id) : json_null());
        json_object_set_new(j, "destination_position", t->position[0]
                            ? json_string(t->position) : json_null());
        json_object_set_new(j, "source_lsn", t->source_lsn[0] ? json_string(t->source_lsn)
                                                             : json_null());
    }
    return j;
}

static void
print_result(const cdc_config *cfg, const cfg_sink *sink, const verify_table *ts, int n,
             int ndiff, int attempts, bool json)
{
    if (json) {
        json_t *tables = json_array();
        json_t *top;

        for (int i = 0; i < n; i++)
            json_array_append_new(tables, table_json(&ts[i]));
        top = json_pack("{s:s, s:s, s:s, s:b, s:i, s:i, s:o}", "pipeline_id",
                        cfg->pipeline.pipeline_id, "sink_id", sink->sink_id, "sink_type",
                        cfg_sink_type_name(sink->sink_type), "equal", ndiff == 0,
                        "tables_differing", ndiff, "attempts", attempts, "tables", tables);
        json_dumpf(top, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        putchar('\n');
        json_decref(top);
        return;
    }
    if (sink->sink_type == CFG_SINK_POSTGRES)
        printf("sink %s: postgres replica, database %s at %s:%d\n\n", sink->sink_id,
               sink->postgres.database, sink->postgres.host, sink->postgres.port);
    else if (sink->sink_type == CFG_SINK_ICEBERG)
        printf("sink %s: iceberg %s, warehouse %s, namespace %s\n\n", sink->sink_id,
               sink->iceberg.write_mode && strcmp(sink->iceberg.write_mode, "upsert") == 0
               ? "upsert" : "append", sink->iceberg.warehouse ? sink->iceberg.warehouse : "",
               sink->iceberg.table_namespace && *sink->iceberg.table_namespace
               ? sink->iceberg.table_namespace : "default");
    else
        printf("sink %s: jsonl file %s, replayed by key\n\n", sink->sink_id, sink->jsonl.path);
    for (int i = 0; i < n; i++)
        print_table(&ts[i]);
    printf("\n%d of %d tables differ%s", ndiff, n, attempts > 1 ? "" : "\n");
    if (attempts > 1)
        printf(" (after %d comparisons)\n", attempts);
}

/* ---------------------------------------------------------------- the command */

int
agent_verify(const cdc_config *cfg, const agent_verify_opts *o, int *ndiffering, cdc_err *err)
{
    const char     *tables[AGENT_VERIFY_MAX_TABLES];
    verify_table   *ts = cdc_xcalloc(AGENT_VERIFY_MAX_TABLES, sizeof(*ts));
    const cfg_sink *sink = pick_sink(cfg, o->sink_id, err);
    int             n = 0;
    int             attempts = 0, ndiff = 0, rc = -1;
    double          deadline = cdc_mono_s() + o->wait_seconds;

    if (sink == NULL || pick_tables(cfg, o, tables, &n, err) < 0)
        goto out;
    for (;;) {
        double left;

        attempts++;
        if (run_pass(cfg, sink, tables, n, o, ts, err) < 0)
            goto out;
        ndiff = 0;
        for (int i = 0; i < n; i++)
            ndiff += !ts[i].equal;
        if (ndiff == 0 || cdc_mono_s() >= deadline)
            break;
        log_info(VERIFY_FAC, "sink %s: %d of %d tables differ; comparing again (--wait, "
                 "%.0f s left)", sink->sink_id, ndiff, n, deadline - cdc_mono_s());
        for (int i = 0; i < n; i++)
            verify_table_clear(&ts[i]);
        left = deadline - cdc_mono_s();
        cdc_sleep_ms((int64_t) ((left < 1.0 ? left : 1.0) * 1000));
    }
    print_result(cfg, sink, ts, n, ndiff, attempts, o->json);
    *ndiffering = ndiff;
    rc = 0;
out:
    for (int i = 0; i < n; i++)
        verify_table_clear(&ts[i]);
    free(ts);
    return rc;
}
