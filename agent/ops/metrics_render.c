/*
 * The reading side of agent/ops/metrics.h: the Prometheus text (/metrics)
 * and the /readyz JSON, rendered on the health server's thread from the
 * atomics and the strings the main loop writes (metrics.c), and the
 * consumer.lag log line, written by the main loop every
 * lag_monitor_interval_seconds.
 */
#include "agent/ops/metrics.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "agent/core/cdc_counters.h"
#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_lsn.h"
#include "agent/core/cdc_mem.h"
#include "agent/ops/metrics_int.h"

/* The op label values are the envelope's op codes (CONTRACT.md 2.2). */
static const char op_codes[] = METRICS_OP_CODES;

static const char *const bucket_le_text[] = { "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                                              "0.5", "1", "2.5", "5", "10", "30", "60", "120" };
_Static_assert(sizeof(bucket_le_text) / sizeof(bucket_le_text[0]) == NBUCKETS, "NBUCKETS");

static double
lag_seconds(agent_metrics *m)
{
    uint64_t bits = atomic_load_explicit(&m->lag_seconds_bits, relaxed);
    double   d;

    memcpy(&d, &bits, sizeof(d));
    return d;
}

/* The newest WAL position known: the server's end, or what was received if later. */
static uint64_t
wal_end(agent_metrics *m)
{
    uint64_t end = atomic_load_explicit(&m->server_lsn, relaxed);
    uint64_t recv = atomic_load_explicit(&m->received_lsn, relaxed);

    return recv > end ? recv : end;
}

/* Bytes of WAL the slot holds beyond what is confirmed. */
static uint64_t
lag_bytes(agent_metrics *m)
{
    uint64_t end = wal_end(m);
    uint64_t conf = atomic_load_explicit(&m->confirmed_lsn, relaxed);

    return end > conf && conf != 0 ? end - conf : 0;
}

/*
 * Bytes of WAL destination @p i is behind: from its durable position, or the
 * confirmed one when that is later (an idle slot advances past the last event).
 */
static uint64_t
dest_lag_bytes(agent_metrics *m, int i)
{
    uint64_t end = wal_end(m);
    uint64_t pos = atomic_load_explicit(&m->dests[i].durable_lsn, relaxed);
    uint64_t conf = atomic_load_explicit(&m->confirmed_lsn, relaxed);

    if (conf > pos)
        pos = conf;
    return end > pos && pos != 0 ? end - pos : 0;
}

const char *
agent_repl_state_name(agent_repl_state st)
{
    static const char *const names[AGENT_REPL__COUNT] = {
        [AGENT_REPL_CONNECTING] = "connecting",
        [AGENT_REPL_STREAMING] = "streaming",
        [AGENT_REPL_RECONNECTING] = "reconnecting",
        [AGENT_REPL_ERROR] = "error",
        [AGENT_REPL_STOPPING] = "stopping",
    };

    return st >= 0 && st < AGENT_REPL__COUNT ? names[st] : "unknown";
}

static const char *
dest_state_name(int st)
{
    switch (st) {
    case CDC_DEST_OK:       return "running";
    case CDC_DEST_DEGRADED: return "degraded";
    default:                return "error";
    }
}

/* A consistent copy of the strings and states, taken under the lock. */
typedef struct health_snap {
    int  repl_state;
    char repl_detail[256];
    int  ndests;
    int  dest_state[AGENT_METRICS_MAX_DESTS];
    char dest_detail[AGENT_METRICS_MAX_DESTS][200];
} health_snap;

static void
take_snap(agent_metrics *m, health_snap *hs)
{
    hs->ndests = atomic_load_explicit(&m->ndests, memory_order_acquire);
    pthread_mutex_lock(&m->lock);
    hs->repl_state = atomic_load_explicit(&m->repl_state, relaxed);
    memcpy(hs->repl_detail, m->repl_detail, sizeof(hs->repl_detail));
    for (int i = 0; i < hs->ndests; i++) {
        hs->dest_state[i] = atomic_load_explicit(&m->dests[i].state, relaxed);
        memcpy(hs->dest_detail[i], m->dests[i].detail, sizeof(hs->dest_detail[i]));
    }
    pthread_mutex_unlock(&m->lock);
}

static bool
snap_ready(const health_snap *hs)
{
    /* Reconnecting means the source is unreachable now: not ready until it is back. */
    if (hs->repl_state == AGENT_REPL_ERROR || hs->repl_state == AGENT_REPL_STOPPING ||
        hs->repl_state == AGENT_REPL_RECONNECTING)
        return false;
    for (int i = 0; i < hs->ndests; i++)
        if (hs->dest_state[i] == CDC_DEST_ERROR)
            return false;
    return true;
}

/* ------------------------------------------------------------- exposition */

/* Label values escape \, " and newline (exposition format 0.0.4). */
static void
put_label_value(cdc_buf *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            cdc_buf_puts(out, "\\\\");
        else if (*s == '"')
            cdc_buf_puts(out, "\\\"");
        else if (*s == '\n')
            cdc_buf_puts(out, "\\n");
        else
            cdc_buf_putc(out, *s);
    }
}

static void
put_header(cdc_buf *out, const char *name, const char *type, const char *help)
{
    cdc_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
put_u64(cdc_buf *out, const char *name, const char *type, const char *help, uint64_t v)
{
    put_header(out, name, type, help);
    cdc_buf_printf(out, "%s %llu\n", name, (unsigned long long) v);
}

/* "conn" for CDC_E_CONN: the error kinds as labels. */
static void
put_error_kind(cdc_buf *out, cdc_rc code)
{
    const char *name = cdc_rc_name(code);

    if (strncmp(name, "CDC_E_", 6) == 0)
        name += 6;
    for (; *name; name++)
        cdc_buf_putc(out, (char) tolower((unsigned char) *name));
}

static void
render_events(agent_metrics *m, cdc_buf *out)
{
    int n = atomic_load_explicit(&m->nseries, memory_order_acquire);

    put_header(out, "cdcagent_events_total", "counter",
               "Change events handed to the destinations, by table (topic) and op.");
    for (int k = 0; k < n; k++) {
        series *s = &m->slots[m->order[k]];

        cdc_buf_puts(out, "cdcagent_events_total{table=\"");
        put_label_value(out, s->table);
        cdc_buf_printf(out, "\",op=\"%c\"} %llu\n", op_codes[s->op],
                       (unsigned long long) atomic_load_explicit(&s->n, relaxed));
    }
    for (int op = 0; op < NOPS; op++) {
        uint64_t v = atomic_load_explicit(&m->overflow[op], relaxed);

        if (v > 0)
            cdc_buf_printf(out, "cdcagent_events_total{table=\"_overflow\",op=\"%c\"} %llu\n",
                           op_codes[op], (unsigned long long) v);
    }
}

/* A process-wide family of agent/core/cdc_counters.h, one label. */
static void
render_family_as(cdc_buf *out, cdc_counter_family fam, const char *type, const char *name,
                 const char *label, const char *help)
{
    int      n = cdc_counter_labels(fam);
    uint64_t over = cdc_counter_overflow(fam);

    put_header(out, name, type, help);
    for (int i = 0; i < n; i++) {
        cdc_buf_printf(out, "%s{%s=\"", name, label);
        put_label_value(out, cdc_counter_label(fam, i));
        cdc_buf_printf(out, "\"} %llu\n", (unsigned long long) cdc_counter_value(fam, i));
    }
    if (over > 0)
        cdc_buf_printf(out, "%s{%s=\"_overflow\"} %llu\n", name, label, (unsigned long long) over);
}

static void
render_family(cdc_buf *out, cdc_counter_family fam, const char *name, const char *label,
              const char *help)
{
    render_family_as(out, fam, "counter", name, label, help);
}

static void
render_counters(agent_metrics *m, cdc_buf *out)
{
    render_events(m, out);
    put_u64(out, "cdcagent_received_bytes_total", "counter",
            "Bytes of replication payload received from PostgreSQL.",
            atomic_load_explicit(&m->bytes, relaxed));
    put_header(out, "cdcagent_errors_total", "counter", "Errors met by the agent, by kind.");
    for (int c = CDC_OK + 1; c < CDC_RC__COUNT; c++) {
        cdc_buf_puts(out, "cdcagent_errors_total{kind=\"");
        put_error_kind(out, (cdc_rc) c);
        cdc_buf_printf(out, "\"} %llu\n",
                       (unsigned long long) atomic_load_explicit(&m->errors[c], relaxed));
    }
    render_family(out, CDC_CTR_DLQ, "cdcagent_dlq_events_total", "sink",
                  "Events routed to the dead-letter destination, by sink.");
    render_family(out, CDC_CTR_SCHEMA_REG, "cdcagent_schema_registrations_total", "subject",
                  "New schema versions registered with the schema registry, by subject.");
    render_family(out, CDC_CTR_INVALID_UTF8, "cdcagent_invalid_utf8_values_total", "table",
                  "String values that are not valid UTF-8 (a database whose encoding is not "
                  "UTF8, e.g. SQL_ASCII), by table; written with U+FFFD in their place.");
    render_family(out, CDC_CTR_ICE_EXPIRED_SNAPSHOTS, "cdcagent_iceberg_expired_snapshots_total",
                  "table", "Iceberg snapshots removed by snapshot expiry (maintenance), by table.");
    render_family(out, CDC_CTR_ICE_REMOVED_FILES, "cdcagent_iceberg_removed_files_total", "table",
                  "Files snapshot expiry deleted from the warehouse (those no remaining snapshot "
                  "references, and orphans), by table.");
    render_family(out, CDC_CTR_ICE_REMOVED_BYTES, "cdcagent_iceberg_removed_bytes_total", "table",
                  "Bytes of the files snapshot expiry deleted, by table.");
    render_family(out, CDC_CTR_ICE_COMPACTIONS, "cdcagent_iceberg_compactions_total", "table",
                  "Compaction commits (replace snapshots) of Iceberg tables, by table.");
    render_family(out, CDC_CTR_ICE_COMPACTED_FILES, "cdcagent_iceberg_compacted_files_total",
                  "table", "Data and delete files replaced by compaction, by table.");
    render_family(out, CDC_CTR_ICE_COMPACTED_ROWS, "cdcagent_iceberg_compacted_rows_total",
                  "table", "Rows rewritten by compaction, by table.");
    render_family_as(out, CDC_CTR_ICE_DATA_FILES, "gauge", "cdcagent_iceberg_data_files",
                     "table", "Live data files of an Iceberg table at the last compaction check "
                     "(maintenance), by table.");
    render_family_as(out, CDC_CTR_ICE_DELETE_FILES, "gauge", "cdcagent_iceberg_delete_files",
                     "table", "Live delete files of an Iceberg table at the last compaction "
                     "check (maintenance), by table.");
}

/* The initial snapshot's progress: all zero until one starts, the last figures after it. */
static void
render_snapshot(agent_metrics *m, cdc_buf *out)
{
    uint64_t bits = atomic_load_explicit(&m->snap_remaining_bits, relaxed);
    int      done = atomic_load_explicit(&m->snap_tables_done, relaxed);
    int      total = atomic_load_explicit(&m->snap_tables_total, relaxed);
    int64_t  wal = atomic_load_explicit(&m->snap_wal_retained, relaxed);
    double   rem;

    memcpy(&rem, &bits, sizeof(rem));
    put_u64(out, "cdcagent_snapshot_rows_total", "counter",
            "Rows the initial snapshot read (op r events handed out).",
            atomic_load_explicit(&m->snap_rows, relaxed));
    put_u64(out, "cdcagent_snapshot_rows_estimated", "gauge",
            "Rows the initial snapshot expects to read: pg_class.reltuples of its tables.",
            atomic_load_explicit(&m->snap_rows_estimated, relaxed));
    put_header(out, "cdcagent_snapshot_tables", "gauge",
               "Tables of the initial snapshot, read (done) and not yet read (remaining).");
    cdc_buf_printf(out, "cdcagent_snapshot_tables{state=\"done\"} %d\n", done);
    cdc_buf_printf(out, "cdcagent_snapshot_tables{state=\"remaining\"} %d\n", total - done);
    put_header(out, "cdcagent_snapshot_remaining_seconds", "gauge",
               "Estimated seconds until the initial snapshot is read, at its recent rate; "
               "-1 unknown, 0 when none runs.");
    cdc_buf_printf(out, "cdcagent_snapshot_remaining_seconds %.9g\n", rem);
    put_header(out, "cdcagent_snapshot_wal_retained_bytes", "gauge",
               "WAL the slot retained (current WAL LSN minus its restart_lsn) at the "
               "snapshot's last progress report; -1 unknown.");
    cdc_buf_printf(out, "cdcagent_snapshot_wal_retained_bytes %lld\n", (long long) wal);
}

/* The incremental snapshot (signals): all zero while none ran, the last figures after. */
static void
render_incr(agent_metrics *m, cdc_buf *out)
{
    int state = atomic_load_explicit(&m->incr_state, relaxed);

    put_header(out, "cdcagent_incremental_snapshot_running", "gauge",
               "1 while an incremental snapshot runs, by state (running, paused); 0 otherwise.");
    cdc_buf_printf(out, "cdcagent_incremental_snapshot_running{state=\"running\"} %d\n",
                   state == 1);
    cdc_buf_printf(out, "cdcagent_incremental_snapshot_running{state=\"paused\"} %d\n",
                   state == 2);
    put_header(out, "cdcagent_incremental_snapshot_tables", "gauge",
               "Tables of the current incremental snapshot, read (done) and not yet read "
               "(remaining, the one being read included).");
    cdc_buf_printf(out, "cdcagent_incremental_snapshot_tables{state=\"done\"} %d\n",
                   atomic_load_explicit(&m->incr_tables_done, relaxed));
    cdc_buf_printf(out, "cdcagent_incremental_snapshot_tables{state=\"remaining\"} %d\n",
                   atomic_load_explicit(&m->incr_tables_remaining, relaxed));
    put_u64(out, "cdcagent_incremental_snapshot_chunks_total", "counter",
            "Chunks the current incremental snapshot emitted (windows closed).",
            atomic_load_explicit(&m->incr_chunks, relaxed));
    put_u64(out, "cdcagent_incremental_snapshot_rows_total", "counter",
            "Rows the current incremental snapshot emitted (op r events).",
            atomic_load_explicit(&m->incr_rows, relaxed));
}

static void
render_gauges(agent_metrics *m, const health_snap *hs, cdc_buf *out)
{
    put_u64(out, "cdcagent_replication_lag_bytes", "gauge",
            "WAL bytes between the server's current position and the confirmed LSN.",
            lag_bytes(m));
    put_header(out, "cdcagent_replication_lag_seconds", "gauge",
               "Receipt time minus commit time of the last transaction received.");
    cdc_buf_printf(out, "cdcagent_replication_lag_seconds %.9g\n", lag_seconds(m));
    put_u64(out, "cdcagent_confirmed_lsn", "gauge",
            "LSN confirmed to the replication slot (confirmed_flush_lsn), as a number.",
            atomic_load_explicit(&m->confirmed_lsn, relaxed));
    put_u64(out, "cdcagent_received_lsn", "gauge", "Newest WAL position received, as a number.",
            atomic_load_explicit(&m->received_lsn, relaxed));
    put_u64(out, "cdcagent_queue_depth", "gauge",
            "Transactions in flight: handed out, not yet durable in every destination.",
            atomic_load_explicit(&m->queue_depth, relaxed));
    put_header(out, "cdcagent_replication_state", "gauge",
               "Replication connection state: 1 for the current state, 0 for the others.");
    for (int st = 0; st < AGENT_REPL__COUNT; st++)
        cdc_buf_printf(out, "cdcagent_replication_state{state=\"%s\"} %d\n",
                       agent_repl_state_name((agent_repl_state) st), st == hs->repl_state);
}

static void
render_dests(agent_metrics *m, const health_snap *hs, cdc_buf *out)
{
    static const int states[] = { CDC_DEST_OK, CDC_DEST_DEGRADED, CDC_DEST_ERROR };

    put_header(out, "cdcagent_destination_durable_lsn", "gauge",
               "Commit LSN of the newest position the destination has made durable.");
    for (int i = 0; i < hs->ndests; i++) {
        cdc_buf_puts(out, "cdcagent_destination_durable_lsn{destination=\"");
        put_label_value(out, m->dests[i].id);
        cdc_buf_puts(out, "\",kind=\"");
        put_label_value(out, m->dests[i].kind);
        cdc_buf_printf(out, "\"} %llu\n", (unsigned long long)
                       atomic_load_explicit(&m->dests[i].durable_lsn, relaxed));
    }
    put_header(out, "cdcagent_destination_state", "gauge",
               "Destination health: 1 for the current state, 0 for the others.");
    for (int i = 0; i < hs->ndests; i++)
        for (size_t k = 0; k < sizeof(states) / sizeof(states[0]); k++) {
            cdc_buf_puts(out, "cdcagent_destination_state{destination=\"");
            put_label_value(out, m->dests[i].id);
            cdc_buf_printf(out, "\",state=\"%s\"} %d\n", dest_state_name(states[k]),
                           hs->dest_state[i] == states[k]);
        }
}

static void
render_histogram(agent_metrics *m, cdc_buf *out)
{
    uint64_t cum = 0;

    put_header(out, "cdcagent_commit_to_durable_seconds", "histogram",
               "Time from a transaction's commit being received to its confirmation to the slot.");
    for (size_t b = 0; b <= NBUCKETS; b++) {
        cum += atomic_load_explicit(&m->bucket[b], relaxed);
        cdc_buf_printf(out, "cdcagent_commit_to_durable_seconds_bucket{le=\"%s\"} %llu\n",
                       b < NBUCKETS ? bucket_le_text[b] : "+Inf", (unsigned long long) cum);
    }
    /* _count is the +Inf bucket, so the two agree even while the loop observes. */
    cdc_buf_printf(out, "cdcagent_commit_to_durable_seconds_sum %.9g\n",
                   (double) atomic_load_explicit(&m->sum_ns, relaxed) / 1e9);
    cdc_buf_printf(out, "cdcagent_commit_to_durable_seconds_count %llu\n", (unsigned long long) cum);
}

void
agent_metrics_render(agent_metrics *m, cdc_buf *out)
{
    health_snap hs;

    take_snap(m, &hs);
    put_header(out, "cdcagent_info", "gauge", "Build and pipeline of this agent; always 1.");
    cdc_buf_puts(out, "cdcagent_info{version=\"" CDC_VERSION "\",pipeline_id=\"");
    put_label_value(out, m->pipeline_id);
    cdc_buf_puts(out, "\",slot=\"");
    put_label_value(out, m->slot);
    cdc_buf_puts(out, "\"} 1\n");
    put_u64(out, "cdcagent_start_time_seconds", "gauge", "Start time of the agent, Unix seconds.",
            (uint64_t) m->start_time);
    put_header(out, "cdcagent_ready", "gauge", "1 when /readyz answers 200, else 0.");
    cdc_buf_printf(out, "cdcagent_ready %d\n", snap_ready(&hs));
    render_counters(m, out);
    render_gauges(m, &hs, out);
    render_snapshot(m, out);
    render_incr(m, out);
    render_dests(m, &hs, out);
    render_histogram(m, out);
}

/* ------------------------------------------------------------------ /readyz */

static const char *
source_status(int st)
{
    switch (st) {
    case AGENT_REPL_CONNECTING:   return "starting";
    case AGENT_REPL_STREAMING:    return "running";
    case AGENT_REPL_STOPPING:     return "stopping";
    default:                      return "error";
    }
}

/* A JSON string of @p s; bytes that are not valid UTF-8 become '?'. */
static json_t *
jstr(const char *s)
{
    json_t *j = json_string(s);
    char   *copy;

    if (j != NULL)
        return j;
    copy = cdc_xstrdup(s);
    for (char *p = copy; *p; p++)
        if ((unsigned char) *p >= 0x80)
            *p = '?';
    j = json_string(copy);
    free(copy);
    return j;
}

static json_t *
health_source(agent_metrics *m, const health_snap *hs)
{
    char recv[CDC_LSN_STRLEN], conf[CDC_LSN_STRLEN];

    cdc_lsn_format(atomic_load_explicit(&m->received_lsn, relaxed), recv);
    cdc_lsn_format(atomic_load_explicit(&m->confirmed_lsn, relaxed), conf);
    return json_pack("{s:s, s:o, s:s, s:s, s:o, s:I, s:f, s:s, s:s}",
                     "type", "postgres", "slot", jstr(m->slot),
                     "status", source_status(hs->repl_state),
                     "state", agent_repl_state_name((agent_repl_state) hs->repl_state),
                     "detail", jstr(hs->repl_detail), "lag_bytes", (json_int_t) lag_bytes(m),
                     "lag_seconds", lag_seconds(m), "received_lsn", recv, "confirmed_lsn", conf);
}

static json_t *
health_sinks(agent_metrics *m, const health_snap *hs)
{
    json_t *arr = json_array();

    for (int i = 0; i < hs->ndests && arr; i++) {
        char lsn[CDC_LSN_STRLEN];

        cdc_lsn_format(atomic_load_explicit(&m->dests[i].durable_lsn, relaxed), lsn);
        json_array_append_new(arr, json_pack("{s:o, s:s, s:s, s:o, s:s}",
                                             "sink_id", jstr(m->dests[i].id), "kind", m->dests[i].kind,
                                             "status", dest_state_name(hs->dest_state[i]),
                                             "detail", jstr(hs->dest_detail[i]), "durable_lsn", lsn));
    }
    return arr;
}

/* Per destination: {"sink_id", "lag" (WAL bytes behind), "durable_lsn"}. */
static json_t *
dest_lags(agent_metrics *m, int ndests)
{
    json_t *arr = json_array();

    for (int i = 0; i < ndests && arr; i++) {
        char lsn[CDC_LSN_STRLEN];

        cdc_lsn_format(atomic_load_explicit(&m->dests[i].durable_lsn, relaxed), lsn);
        json_array_append_new(arr, json_pack("{s:o, s:I, s:s}", "sink_id", jstr(m->dests[i].id),
                                             "lag", (json_int_t) dest_lag_bytes(m, i),
                                             "durable_lsn", lsn));
    }
    return arr;
}

bool
agent_metrics_render_health(agent_metrics *m, cdc_buf *out)
{
    health_snap hs;
    bool        ready;
    json_t     *body;
    char       *text;

    take_snap(m, &hs);
    ready = snap_ready(&hs);
    body = json_pack("{s:s, s:o, s:o, s:o, s:o}", "status", ready ? "ok" : "error",
                     "pipeline_id", jstr(m->pipeline_id), "source", health_source(m, &hs),
                     "sinks", health_sinks(m, &hs), "consumer_lag", dest_lags(m, hs.ndests));
    text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (text == NULL)
        out->failed = true;     /* json_pack fails only on out-of-memory or invalid UTF-8 */
    else
        cdc_buf_puts(out, text);
    free(text);
    json_decref(body);
    return ready;
}

/* ---------------------------------------------------------------- consumer.lag */

/* The "consumer.lag" line: figures in the message, and as members of a JSON line. */
static void
log_lag(agent_metrics *m)
{
    int      n = atomic_load_explicit(&m->ndests, relaxed);    /* we are the writer */
    uint64_t total = lag_bytes(m);
    double   secs = lag_seconds(m);
    char     conf[CDC_LSN_STRLEN], end[CDC_LSN_STRLEN];
    cdc_buf  msg = CDC_BUF_INIT;
    json_t  *fields;
    char    *ftext;

    cdc_lsn_format(atomic_load_explicit(&m->confirmed_lsn, relaxed), conf);
    cdc_lsn_format(wal_end(m), end);
    cdc_buf_printf(&msg, "slot %s: total_lag=%llu bytes (server %s, confirmed %s), "
                   "lag_seconds=%.3f", m->slot, (unsigned long long) total, end, conf, secs);
    for (int i = 0; i < n; i++)
        cdc_buf_printf(&msg, "%s%s=%llu", i == 0 ? "; by destination: " : ", ", m->dests[i].id,
                       (unsigned long long) dest_lag_bytes(m, i));
    fields = json_pack("{s:o, s:o, s:I, s:f, s:s, s:s, s:o}", "pipeline_id", jstr(m->pipeline_id),
                       "slot", jstr(m->slot), "total_lag", (json_int_t) total, "lag_seconds", secs,
                       "server_lsn", end, "confirmed_lsn", conf, "lag", dest_lags(m, n));
    ftext = fields ? json_dumps(fields, JSON_COMPACT) : NULL;
    cdc_log_event_fields(CDC_LOG_INFO, "lag", "consumer.lag", ftext, "%s",
                         cdc_buf_failed(&msg) ? "lag report" : cdc_buf_str(&msg));
    free(ftext);
    json_decref(fields);
    cdc_buf_free(&msg);
}

void
agent_metrics_lag_report(agent_metrics *m, double interval_seconds)
{
    int64_t now;

    if (m == NULL || !(interval_seconds > 0))
        return;
    now = cdc_mono_ns();
    if (m->last_lag_report_ns == 0) {   /* the first report comes one interval after the start */
        m->last_lag_report_ns = now;
        return;
    }
    if (now - m->last_lag_report_ns < (int64_t) (interval_seconds * 1e9))
        return;
    m->last_lag_report_ns = now;
    log_lag(m);
}
