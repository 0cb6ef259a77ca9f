#include "agent/ops/metrics.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/core/cdc_counters.h"
#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_lsn.h"
#include "agent/core/cdc_mem.h"
#include "agent/ops/metrics_int.h"

/* The op label values are the envelope's op codes (CONTRACT.md 2.2). */
static const char op_codes[] = METRICS_OP_CODES;

/* Upper bounds of commit_to_durable_seconds, in seconds; +Inf is implicit. */
static const double bucket_le[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                    1, 2.5, 5, 10, 30, 60, 120 };
_Static_assert(sizeof(bucket_le) / sizeof(bucket_le[0]) == NBUCKETS, "NBUCKETS");

agent_metrics *
agent_metrics_new(const char *pipeline_id, const char *slot)
{
    agent_metrics *m = cdc_xcalloc(1, sizeof(*m));

    m->pipeline_id = cdc_xstrdup(pipeline_id ? pipeline_id : "");
    m->slot = cdc_xstrdup(slot ? slot : "");
    m->start_time = cdc_wall_ms() / 1000;
    pthread_mutex_init(&m->lock, NULL);
    return m;
}

void
agent_metrics_free(agent_metrics *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < SERIES_SLOTS; i++)
        free(m->slots[i].table);
    for (int i = 0; i < AGENT_METRICS_MAX_DESTS; i++) {
        free(m->dests[i].id);
        free(m->dests[i].kind);
    }
    pthread_mutex_destroy(&m->lock);
    free(m->pipeline_id);
    free(m->slot);
    free(m);
}

/* ------------------------------------------------------------------ counters */

static uint32_t
hash_key(const char *s, int op)
{
    uint32_t h = 2166136261u ^ (uint32_t) op;   /* FNV-1a */

    for (; *s; s++)
        h = (h ^ (uint8_t) *s) * 16777619u;
    return h;
}

/* The series for (table, op), created if there is room; NULL when full. */
static series *
find_series(agent_metrics *m, const char *table, int op)
{
    uint32_t i = hash_key(table, op) & (SERIES_SLOTS - 1);
    int      n = atomic_load_explicit(&m->nseries, relaxed);   /* we are the writer */

    for (;; i = (i + 1) & (SERIES_SLOTS - 1)) {
        series *s = &m->slots[i];

        if (s->table == NULL)
            break;
        if (s->op == op && strcmp(s->table, table) == 0)
            return s;
    }
    if (n == AGENT_METRICS_MAX_SERIES)
        return NULL;
    m->slots[i].table = cdc_xstrdup(table);
    m->slots[i].op = op;
    m->order[n] = (int) i;
    atomic_store_explicit(&m->nseries, n + 1, memory_order_release);
    return &m->slots[i];
}

void
agent_metrics_event(agent_metrics *m, const char *table, cdc_op op)
{
    const char *p;
    series     *s;
    int         opi;

    if (m == NULL || op == CDC_OP_TOMBSTONE || (p = strchr(op_codes, (int) op)) == NULL)
        return;
    opi = (int) (p - op_codes);
    table = table ? table : "_message";
    /* Events come in runs of one table and op: skip the hash for a run's next event. */
    s = m->last;
    if (s == NULL || s->op != opi || m->last_name != table || strcmp(s->table, table) != 0) {
        s = find_series(m, table, opi);
        m->last = s;
        m->last_name = table;
    }
    if (s != NULL)
        atomic_fetch_add_explicit(&s->n, 1, relaxed);
    else
        atomic_fetch_add_explicit(&m->overflow[opi], 1, relaxed);
}

void
agent_metrics_add_bytes(agent_metrics *m, uint64_t n)
{
    if (m)
        atomic_fetch_add_explicit(&m->bytes, n, relaxed);
}

void
agent_metrics_error(agent_metrics *m, cdc_rc code)
{
    if (m && code > CDC_OK && code < CDC_RC__COUNT)
        atomic_fetch_add_explicit(&m->errors[code], 1, relaxed);
}

/* -------------------------------------------------------------------- gauges */

void
agent_metrics_set_received_lsn(agent_metrics *m, uint64_t lsn)
{
    if (m)
        atomic_store_explicit(&m->received_lsn, lsn, relaxed);
}

void
agent_metrics_set_server_lsn(agent_metrics *m, uint64_t lsn)
{
    if (m)
        atomic_store_explicit(&m->server_lsn, lsn, relaxed);
}

void
agent_metrics_set_incr(agent_metrics *m, const agent_incr_progress *p)
{
    if (m == NULL)
        return;
    atomic_store_explicit(&m->incr_state, p->state, relaxed);
    atomic_store_explicit(&m->incr_tables_done, p->tables_done, relaxed);
    atomic_store_explicit(&m->incr_tables_remaining, p->tables_remaining, relaxed);
    atomic_store_explicit(&m->incr_chunks, p->chunks, relaxed);
    atomic_store_explicit(&m->incr_rows, p->rows, relaxed);
}

void
agent_metrics_set_snapshot(agent_metrics *m, const agent_snapshot_progress *p)
{
    uint64_t bits;
    double   rem = p->remaining_seconds;

    if (m == NULL)
        return;
    memcpy(&bits, &rem, sizeof(bits));
    atomic_store_explicit(&m->snap_rows, p->rows, relaxed);
    atomic_store_explicit(&m->snap_rows_estimated, p->rows_estimated, relaxed);
    atomic_store_explicit(&m->snap_tables_done, p->tables_done, relaxed);
    atomic_store_explicit(&m->snap_tables_total, p->tables_total, relaxed);
    atomic_store_explicit(&m->snap_remaining_bits, bits, relaxed);
    atomic_store_explicit(&m->snap_wal_retained, p->wal_retained_bytes, relaxed);
}

void
agent_metrics_set_queue_depth(agent_metrics *m, uint64_t txns_in_flight)
{
    if (m)
        atomic_store_explicit(&m->queue_depth, txns_in_flight, relaxed);
}

void
agent_metrics_set_lag_seconds(agent_metrics *m, double seconds)
{
    uint64_t bits;

    if (m == NULL)
        return;
    if (!(seconds > 0))     /* clocks apart by a little, or NaN */
        seconds = 0;
    memcpy(&bits, &seconds, sizeof(bits));
    atomic_store_explicit(&m->lag_seconds_bits, bits, relaxed);
}

/* ----------------------------------------------------------------- histogram */

void
agent_metrics_observe_commit_to_durable(agent_metrics *m, double seconds)
{
    size_t b = 0;

    if (m == NULL)
        return;
    if (!(seconds > 0))
        seconds = 0;
    while (b < NBUCKETS && seconds > bucket_le[b])
        b++;
    atomic_fetch_add_explicit(&m->sum_ns, (uint64_t) (seconds * 1e9), relaxed);
    atomic_fetch_add_explicit(&m->bucket[b], 1, relaxed);
}

void
agent_metrics_txn_committed(agent_metrics *m, uint64_t end_lsn)
{
    size_t tail;

    if (m == NULL)
        return;
    if (m->txn_count == TXN_RING) {     /* never confirmed for a long while: forget the oldest */
        m->txn_head = (m->txn_head + 1) % TXN_RING;
        m->txn_count--;
    }
    tail = (m->txn_head + m->txn_count) % TXN_RING;
    m->txns[tail].end_lsn = end_lsn;
    m->txns[tail].at_ns = cdc_mono_ns();
    m->txn_count++;
}

void
agent_metrics_confirmed(agent_metrics *m, uint64_t flush_lsn)
{
    int64_t now;

    if (m == NULL)
        return;
    atomic_store_explicit(&m->confirmed_lsn, flush_lsn, relaxed);
    if (m->txn_count == 0 || m->txns[m->txn_head].end_lsn > flush_lsn)
        return;
    now = cdc_mono_ns();
    while (m->txn_count > 0 && m->txns[m->txn_head].end_lsn <= flush_lsn) {
        agent_metrics_observe_commit_to_durable(m, (double) (now - m->txns[m->txn_head].at_ns) / 1e9);
        m->txn_head = (m->txn_head + 1) % TXN_RING;
        m->txn_count--;
    }
}

/* ------------------------------------------------------- destinations, health */

int
agent_metrics_add_dest(agent_metrics *m, const char *id, const char *kind)
{
    int n;

    if (m == NULL)
        return -1;
    n = atomic_load_explicit(&m->ndests, relaxed);
    if (n == AGENT_METRICS_MAX_DESTS)
        return -1;
    m->dests[n].id = cdc_xstrdup(id ? id : "");
    m->dests[n].kind = cdc_xstrdup(kind ? kind : "");
    atomic_store_explicit(&m->ndests, n + 1, memory_order_release);
    return n;
}

void
agent_metrics_set_dest(agent_metrics *m, int i, cdc_pos durable, const cdc_health *h)
{
    dest_metrics *d;

    if (m == NULL || i < 0 || i >= atomic_load_explicit(&m->ndests, relaxed))
        return;
    d = &m->dests[i];
    atomic_store_explicit(&d->durable_lsn, durable.lsn, relaxed);
    atomic_store_explicit(&d->durable_seq, durable.seq, relaxed);
    if (h == NULL)
        return;
    /* Only this thread writes detail, so reading it here needs no lock. */
    if ((int) h->state == atomic_load_explicit(&d->state, relaxed) &&
        strncmp(h->detail, d->detail, sizeof(d->detail)) == 0)
        return;
    pthread_mutex_lock(&m->lock);
    atomic_store_explicit(&d->state, (int) h->state, relaxed);
    snprintf(d->detail, sizeof(d->detail), "%s", h->detail);
    pthread_mutex_unlock(&m->lock);
}

void
agent_metrics_set_repl_state(agent_metrics *m, agent_repl_state st, const char *detail)
{
    if (m == NULL || st < 0 || st >= AGENT_REPL__COUNT)
        return;
    if (detail == NULL)
        detail = "";
    if ((int) st == atomic_load_explicit(&m->repl_state, relaxed) &&
        strncmp(detail, m->repl_detail, sizeof(m->repl_detail)) == 0)
        return;
    pthread_mutex_lock(&m->lock);
    atomic_store_explicit(&m->repl_state, (int) st, relaxed);
    snprintf(m->repl_detail, sizeof(m->repl_detail), "%s", detail);
    pthread_mutex_unlock(&m->lock);
}
