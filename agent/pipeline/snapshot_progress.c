#include "agent/pipeline/snapshot_progress.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"
#include "agent/core/net/pgconn.h"
#include "agent/source/pg_source.h"

struct snap_progress {
    agent_snapshot_env env;
    const cfg_source  *src;
    char               path[1100];      /* "" when there is no file */
    PGconn            *mon;             /* for the WAL retained; NULL until first used */
    bool               mon_failed;
    agent_snapshot_progress m;
    char               table[300];
    double             t0, table_t0, last_t;
    double             serviced_t;      /* env.service's last call */
    uint64_t           last_rows;
    double             rate;            /* rows/s over the last interval */
};

void
agent_snapshot_progress_path(const char *state_dir, const char *slot, char *out, size_t outsz)
{
    const char *d = state_dir ? state_dir : "";
    size_t      n = strlen(d);

    snprintf(out, outsz, "%s%scdcagent-%s.snapshot.json", d, n && d[n - 1] != '/' ? "/" : "",
             slot);
}

/* pg_current_wal_lsn() - restart_lsn of the slot, from a connection of its own (the
   snapshot's are in COPY); -1 when it cannot be read (said once). */
static int64_t
wal_retained(snap_progress *p)
{
    const char *params[] = { p->src->slot_name };
    PGresult   *res;
    cdc_err     err = { 0 };
    int64_t     v = -1;

    if (p->mon_failed)
        return -1;
    if (p->mon == NULL && (p->mon = agent_pg_connect(p->src, false, &err)) == NULL) {
        log_warn("snapshot", "progress: cannot read the WAL the slot retains: %s", err.msg);
        p->mon_failed = true;
        return -1;
    }
    res = agent_pg_query(p->mon, "SELECT (" AGENT_PG_WAL_LSN_SQL " - restart_lsn)::int8 "
                         "FROM pg_replication_slots WHERE slot_name = $1", 1, params,
                         "the WAL the slot retains", &err);
    if (res == NULL) {
        log_warn("snapshot", "progress: %s", err.msg);
        p->mon_failed = true;
        return -1;
    }
    if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
        v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return v;
}

static void
save(snap_progress *p, const char *state)
{
    json_t *o;
    char    tmp[1200];

    agent_metrics_set_snapshot(p->env.metrics, &p->m);
    if (p->path[0] == '\0')
        return;
    o = json_pack("{s:s, s:s, s:s, s:i, s:s, s:I, s:I, s:I, s:i, s:i, s:f, s:f, s:f, s:I}",
                  "state", state, "slot", p->src->slot_name, "host", p->src->host,
                  "port", p->src->port, "database", p->src->database,
                  "updated_unix_ms", (json_int_t) cdc_wall_ms(),
                  "rows", (json_int_t) p->m.rows,
                  "rows_estimated", (json_int_t) p->m.rows_estimated,
                  "tables_done", p->m.tables_done, "tables_total", p->m.tables_total,
                  "rows_per_second", p->rate, "elapsed_seconds", cdc_mono_s() - p->t0,
                  "remaining_seconds", p->m.remaining_seconds,
                  "wal_retained_bytes", (json_int_t) p->m.wal_retained_bytes);
    if (o && p->table[0] && strcmp(state, "running") == 0)
        json_object_set_new(o, "table", json_string(p->table));
    snprintf(tmp, sizeof(tmp), "%s.tmp", p->path);
    if (o == NULL || json_dump_file(o, tmp, JSON_COMPACT) != 0 || rename(tmp, p->path) != 0) {
        log_warn("snapshot", "progress file %s: cannot write it; slot status will not show "
                 "the snapshot's progress", p->path);
        p->path[0] = '\0';
    }
    json_decref(o);
}

snap_progress *
snap_progress_new(const agent_snapshot_env *env, const cfg_source *src, int ntables,
                  uint64_t rows_estimated)
{
    snap_progress *p = cdc_xcalloc(1, sizeof(*p));

    if (env)
        p->env = *env;
    if (p->env.every_s <= 0)
        p->env.every_s = 10;
    p->src = src;
    if (p->env.state_dir)
        agent_snapshot_progress_path(p->env.state_dir, src->slot_name, p->path,
                                     sizeof(p->path));
    p->m.rows_estimated = rows_estimated;
    p->m.tables_total = ntables;
    p->m.remaining_seconds = -1;
    p->m.wal_retained_bytes = -1;
    p->t0 = p->table_t0 = p->last_t = cdc_mono_s();
    save(p, "running");
    return p;
}

void
snap_progress_table(snap_progress *p, int index, const char *table)
{
    snprintf(p->table, sizeof(p->table), "%s", table);
    p->m.tables_done = index;
    p->table_t0 = cdc_mono_s();
    if (index > 0) {
        /* once per table: what slot status and /metrics show is current at its boundaries */
        if (p->last_rows == 0 && p->table_t0 > p->t0)   /* no periodic report yet */
            p->rate = (double) p->m.rows / (p->table_t0 - p->t0);
        p->m.wal_retained_bytes = wal_retained(p);
        save(p, "running");
    }
}

static void
report(snap_progress *p, uint64_t rows, double now)
{
    char eta[48] = "-", est[48];

    if (now > p->last_t && rows >= p->last_rows)
        p->rate = (double) (rows - p->last_rows) / (now - p->last_t);
    p->last_t = now;
    p->last_rows = rows;
    p->m.rows = rows;
    p->m.remaining_seconds = p->rate > 0 && p->m.rows_estimated > rows
                           ? (double) (p->m.rows_estimated - rows) / p->rate : -1;
    p->m.wal_retained_bytes = wal_retained(p);
    if (p->m.remaining_seconds >= 0)
        snprintf(eta, sizeof(eta), "about %.0f s", p->m.remaining_seconds);
    if (p->m.rows_estimated > 0)
        snprintf(est, sizeof(est), " of about %" PRIu64 " (%.0f%%)", p->m.rows_estimated,
                 100.0 * (double) rows / (double) p->m.rows_estimated);
    else
        snprintf(est, sizeof(est), " (no estimate: tables never analyzed)");
    log_info("snapshot", "progress: %d of %d tables done, %" PRIu64 " rows%s, %.0f rows/s, "
             "%s left, WAL retained by the slot %lld bytes; reading %s", p->m.tables_done,
             p->m.tables_total, rows, est, p->rate, eta, (long long) p->m.wal_retained_bytes,
             p->table);
    save(p, "running");
}

int
snap_progress_service(snap_progress *p, cdc_err *err)
{
    double now;

    if (p == NULL || p->env.service == NULL)
        return 0;
    now = cdc_mono_s();
    if (now - p->serviced_t < 1.0)
        return 0;
    p->serviced_t = now;
    return p->env.service(p->env.service_arg, err);
}

void
snap_progress_rows(snap_progress *p, uint64_t rows)
{
    double now = cdc_mono_s();

    p->m.rows = rows;
    if (now - p->last_t >= p->env.every_s)
        report(p, rows, now);
}

void
snap_progress_table_done(snap_progress *p, uint64_t table_rows, uint64_t rows)
{
    double now = cdc_mono_s(), dt = now - p->table_t0;

    p->m.tables_done++;
    p->m.rows = rows;
    log_info("snapshot", "table %s: %" PRIu64 " rows in %.1f s (%.0f rows/s); %d of %d "
             "tables done, %d remaining, %" PRIu64 " rows in all", p->table, table_rows, dt,
             dt > 0 ? (double) table_rows / dt : 0.0, p->m.tables_done, p->m.tables_total,
             p->m.tables_total - p->m.tables_done, rows);
    agent_metrics_set_snapshot(p->env.metrics, &p->m);
}

void
snap_progress_end(snap_progress *p, const char *state, uint64_t rows)
{
    double dt;

    if (p == NULL)
        return;
    dt = cdc_mono_s() - p->t0;
    p->m.rows = rows;
    p->rate = dt > 0 ? (double) rows / dt : 0;
    p->m.remaining_seconds = 0;
    p->m.wal_retained_bytes = wal_retained(p);
    save(p, state);
    if (p->mon)
        PQfinish(p->mon);
    free(p);
}

json_t *
agent_snapshot_progress_load(const cdc_config *cfg)
{
    char    path[1100];
    json_t *o;

    agent_snapshot_progress_path(cfg->platform.agent.state_dir, cfg->pipeline.source.slot_name,
                                 path, sizeof(path));
    o = json_load_file(path, 0, NULL);
    if (o && !json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    if (o) {
        const cfg_source *src = &cfg->pipeline.source;
        const char       *host = json_string_value(json_object_get(o, "host"));
        const char       *db = json_string_value(json_object_get(o, "database"));

        /* A file of another database's slot of the same name is not this slot's. */
        if (!host || !db || strcmp(host, src->host) != 0 || strcmp(db, src->database) != 0 ||
            json_integer_value(json_object_get(o, "port")) != src->port) {
            json_decref(o);
            return NULL;
        }
        json_object_set_new(o, "file", json_string(path));
    }
    return o;
}
