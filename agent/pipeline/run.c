#include "agent/pipeline/run.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/pipeline/capture.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_lsn.h"
#include "agent/pipeline/dest_registry.h"
#include "agent/ops/health.h"
#include "agent/pipeline/heartbeat.h"
#include "agent/ops/metrics.h"
#include "agent/core/net/pgconn.h"
#include "agent/source/pg_source.h"
#include "agent/source/publication.h"
#include "agent/source/repl.h"
#include "agent/pipeline/router.h"
#include "agent/ops/sdnotify.h"
#include "agent/source/slot.h"
#include "agent/pipeline/snapshot.h"
#include "agent/pipeline/state.h"
#include "agent/pipeline/watermark.h"
#include "schemas/json.h"

#define DEBEZIUM_VERSION "2.7.3.Final"

/* Set by the signal handler, read by the loop: the only state a handler touches. */
static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
    (void) sig;
    stop_requested = 1;
}

typedef struct agent {
    const cdc_config *cfg;
    const cfg_source *src;
    PGconn           *sql;          /* catalog, publication, snapshot */
    repl_stream      *rs;
    agent_wm         *wm;
    agent_router      router;
    agent_capture    *cap;
    sch_json_opts     json;
    int               proto;
    uint64_t          received;     /* newest WAL position received */
    uint64_t          sent_flush;   /* flush LSN last reported to the server */
    uint64_t          stop_lsn;     /* 0: none */
    uint64_t          resume_lsn;   /* the slot's confirmed position at start; 0: no slot */
    int64_t           last_status_ms;
    int64_t           last_metrics_ms;
    int64_t           stop_seen_ms;   /* a stop found the stream inside a transaction */
    dest_dlq         *dlq;          /* direct mode: where refused events go */
    agent_metrics    *metrics;
    agent_health     *health;
    agent_heartbeat  *heartbeat;    /* NULL: source.heartbeat_interval_ms is 0 */
    agent_state       state;        /* the slot's record (agent/pipeline/state.h) */
    bool              state_on;     /* kept: prepare_source() wrote it once */
    bool              state_failing;/* the last save failed (logged once) */
    bool              lock_lost;    /* a reconnect could not take the slot's lock again */
    int64_t           state_saved_ms;
    cdc_pos           state_cand;   /* router.last_row at the previous note_state() */
    bool              remembers[AGENT_MAX_DESTS];  /* reports what it holds, in order */
} agent;

static int64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int
check_server(agent *ag, cdc_err *err)
{
    PGresult *res = agent_pg_query(ag->sql, "SELECT current_setting('wal_level')", 0, NULL,
                                   "checking wal_level", err);
    int       rc = 0;

    if (res == NULL)
        return -1;
    if (strcmp(PQgetvalue(res, 0, 0), "logical") != 0)
        rc = cdc_err_set(err, CDC_E_CONFIG, "PostgreSQL at %s:%d has wal_level=%s; logical "
                         "replication needs wal_level=logical (set it and restart the server)",
                         ag->src->host, ag->src->port, PQgetvalue(res, 0, 0));
    PQclear(res);
    if (rc == 0 && PQserverVersion(ag->sql) < 100000)
        rc = cdc_err_set(err, CDC_E_UNSUPPORTED, "PostgreSQL %d is too old: pgoutput needs 10 or "
                         "newer", PQserverVersion(ag->sql));
    return rc;
}

typedef struct slot_row {
    bool     exists;
    bool     lost;          /* invalidated: wal_status 'lost' */
    uint64_t confirmed;
} slot_row;

static int
read_slot(agent *ag, slot_row *out, cdc_err *err)
{
    const char *p[1] = { ag->src->slot_name };
    PGresult   *res;
    int         rc = 0;

    res = agent_pg_query(ag->sql, "SELECT plugin, database, active, active_pid, "
                         "confirmed_flush_lsn, slot_type, wal_status FROM pg_replication_slots "
                         "WHERE slot_name = $1", 1, p, "reading the replication slot", err);
    if (res == NULL)
        return -1;
    out->exists = PQntuples(res) == 1;
    out->confirmed = 0;
    out->lost = false;
    if (!out->exists)
        goto out;
    out->lost = strcmp(PQgetvalue(res, 0, 6), "lost") == 0;
    if (strcmp(PQgetvalue(res, 0, 5), "logical") != 0 || strcmp(PQgetvalue(res, 0, 0), "pgoutput") != 0)
        rc = cdc_err_set(err, CDC_E_CONFIG, "slot %s exists but is a %s slot with plugin %s; "
                         "cdcagent needs a logical pgoutput slot", ag->src->slot_name,
                         PQgetvalue(res, 0, 5), PQgetvalue(res, 0, 0));
    else if (strcmp(PQgetvalue(res, 0, 1), ag->src->database) != 0)
        rc = cdc_err_set(err, CDC_E_CONFIG, "slot %s belongs to database %s, not %s",
                         ag->src->slot_name, PQgetvalue(res, 0, 1), ag->src->database);
    else if (PQgetvalue(res, 0, 2)[0] == 't')
        rc = cdc_err_set(err, CDC_E_CONN, "slot %s is in use by another process (pid %s)",
                         ag->src->slot_name, PQgetvalue(res, 0, 3));
    else if (!PQgetisnull(res, 0, 4))
        cdc_lsn_parse(PQgetvalue(res, 0, 4), &out->confirmed);
out:
    PQclear(res);
    return rc;
}

static int
add_destination(agent *ag, cdc_dest *d, cdc_err *err)
{
    if (ag->router.ndests == AGENT_MAX_DESTS) {
        d->ops->close(d);
        free(d);
        return cdc_err_set(err, CDC_E_CONFIG, "at most %d enabled sinks", AGENT_MAX_DESTS);
    }
    ag->router.dests[ag->router.ndests++] = d;
    agent_metrics_add_dest(ag->metrics, d->id, d->ops->kind);
    return 0;
}

/* Direct mode: events refused for good by a webhook or PostgreSQL sink go to one file. */
static int
open_dlq(agent *ag, cdc_err *err)
{
    const cfg_platform *pf = &ag->cfg->platform;
    char                path[512];

    bool                needed = false;

    /* Only webhook and PostgreSQL sinks dead-letter; a jsonl file refuses everything or nothing. */
    for (int i = 0; i < ag->cfg->pipeline.nsinks; i++)
        needed |= ag->cfg->pipeline.sinks[i].enabled &&
                  ag->cfg->pipeline.sinks[i].sink_type != CFG_SINK_JSONL;
    if (!pf->dlq.enabled || !needed)
        return 0;
    if (pf->dlq.path && *pf->dlq.path)
        snprintf(path, sizeof(path), "%s", pf->dlq.path);
    else
        snprintf(path, sizeof(path), "%s.dlq.jsonl", ag->cfg->pipeline.pipeline_id);
    if (pf->dlq.postgres_conninfo && *pf->dlq.postgres_conninfo)
        ag->dlq = dest_dlq_open_pg(pf->dlq.postgres_conninfo, pf->dlq.postgres_table, err);
    else
        ag->dlq = dest_dlq_open(path, err);
    if (ag->dlq == NULL)
        return cdc_err_wrap(err, "dlq");
    log_info("agent", "dead letters go to %s", dest_dlq_path(ag->dlq));
    return 0;
}

static int
open_destinations(agent *ag, cdc_err *err)
{
    const cfg_pipeline *pl = &ag->cfg->pipeline;
    cdc_dest_env        env = { pl->pipeline_id, pl->topic_prefix, ag->src->database, &ag->json,
                                ag->resume_lsn, false };
    cdc_dest           *d;

    if (ag->cfg->platform.transport_mode != CFG_TRANSPORT_DIRECT) {
        if (pl->nsinks > 0)
            log_info("agent", "transport_mode %s: cdcagent publishes; the pipeline's %d sinks "
                     "are fed by the platform's consumers",
                     cfg_transport_mode_name(ag->cfg->platform.transport_mode), pl->nsinks);
        d = agent_transport_open(ag->cfg, &env, err);
        return d ? add_destination(ag, d, err) : -1;
    }
    if (open_dlq(ag, err) < 0)
        return -1;
    for (int i = 0; i < pl->nsinks; i++) {
        if (!pl->sinks[i].enabled)
            continue;
        d = agent_dest_open(&pl->sinks[i], &env, ag->dlq, err);
        if (d == NULL || add_destination(ag, d, err) < 0)
            return -1;
    }
    return 0;
}

/* Destination states and positions for /readyz and /metrics, about once a second. */
static void
update_metrics(agent *ag)
{
    int64_t now = mono_ms();

    agent_sd_watchdog();
    if (ag->metrics == NULL || now - ag->last_metrics_ms < 1000)
        return;
    ag->last_metrics_ms = now;
    agent_metrics_lag_report(ag->metrics, ag->cfg->platform.lag_monitor_interval_seconds);
    for (int i = 0; i < ag->router.ndests; i++) {
        cdc_dest  *d = ag->router.dests[i];
        cdc_health h = { 0 };

        d->ops->health(d, &h);
        agent_metrics_set_dest(ag->metrics, i, agent_wm_dest_pos(ag->wm, i), &h);
    }
    agent_metrics_set_queue_depth(ag->metrics, agent_wm_inflight(ag->wm));
    agent_metrics_set_received_lsn(ag->metrics, ag->received);
}

/*
 * Refreshes the record's evidence (agent/pipeline/state.h) and saves it when it
 * changed, at most once per status interval unless forced.  For each
 * destination that reports what it holds, the newest row event it is known
 * to hold: the router's newest row event once its durable position reached
 * it, or the one seen at the previous call (under a steady load the newest
 * is rarely durable yet, the previous one usually is).  A failed save is
 * logged and the record understates, which is safe.
 */
static void
note_state(agent *ag, bool force)
{
    int64_t now = mono_ms();
    bool    changed = force;
    int64_t every = (int64_t) (ag->cfg->platform.agent.status_interval_seconds * 1000);
    cdc_pos last = ag->router.last_row;
    cdc_err e = { 0 };

    if (!ag->state_on || (!force && now - ag->state_saved_ms < every))
        return;
    ag->state_saved_ms = now;
    for (int i = 0; i < ag->router.ndests; i++) {
        cdc_pos           dur = agent_wm_dest_pos(ag->wm, i);
        cdc_pos           held = cdc_pos_cmp(dur, last) >= 0 ? last : ag->state_cand;
        agent_state_dest *sd;

        if (!ag->remembers[i] || held.lsn == 0 || cdc_pos_cmp(dur, held) < 0)
            continue;
        sd = agent_state_dest_get(&ag->state, ag->router.dests[i]->id,
                                  ag->router.dests[i]->ops->kind, true);
        if (sd && cdc_pos_cmp(held, sd->held) > 0) {
            sd->held = held;
            changed = true;
        }
    }
    ag->state_cand = last;
    if (!changed)
        return;
    if (agent_state_save(&ag->state, &e) < 0) {
        if (!ag->state_failing)
            log_warn("agent", "%s; the record stays as it was (a restart may take the "
                     "snapshot again or check destinations against older positions)", e.msg);
        ag->state_failing = true;
        return;
    }
    if (ag->state_failing)
        log_info("agent", "state record %s written again", ag->state.path);
    ag->state_failing = false;
}

static int
send_status(agent *ag, bool force, bool reply, cdc_err *err)
{
    uint64_t flush = agent_wm_flush_lsn(ag->wm);
    int64_t  now = mono_ms();
    int64_t  interval = (int64_t) (ag->cfg->platform.agent.status_interval_seconds * 1000);

    /* Report a new watermark promptly, otherwise at the configured interval. */
    if (!force && !(flush > ag->sent_flush && now - ag->last_status_ms >= 100) &&
        now - ag->last_status_ms < interval)
        return 0;
    if (repl_send_status(ag->rs, ag->received > flush ? ag->received : flush, flush, reply, err) < 0)
        return -1;
    agent_metrics_confirmed(ag->metrics, flush);
    if (flush != ag->sent_flush)
        log_debug("repl", "slot %s: confirmed " CDC_LSN_FMT, ag->src->slot_name, CDC_LSN_ARGS(flush));
    ag->sent_flush = flush;
    ag->last_status_ms = now;
    note_state(ag, false);
    return 0;
}

/*
 * The router's wait hook: a destination pushes back and the router waits for
 * it in the middle of handling a message.  PostgreSQL must still hear from
 * us: without a status update within wal_sender_timeout the walsender ends
 * the connection, and docs/dba.md promises one every status_interval_seconds.
 * What the server sends meanwhile is read ahead and handled later, in order
 * (repl_service); a keepalive that asks for a reply is answered here.  The
 * watermark reported is whatever the destinations made durable so far: at
 * most up to the transactions before the one being written.
 */
static int
wait_service(void *arg, cdc_err *err)
{
    agent  *ag = arg;
    bool    reply_due = false;
    cdc_err serr = { 0 };

    update_metrics(ag);
    if (agent_router_poll(&ag->router, err) < 0)
        return -1;
    if (ag->rs == NULL)
        return 0;
    repl_service(ag->rs, &reply_due);
    /* A lost connection shows in the next repl_read(), after what was read ahead. */
    if (send_status(ag, reply_due, false, &serr) < 0)
        log_debug("repl", "status update while waiting for a destination: %s", serr.msg);
    return 0;
}

static int
handle_repl_msg(agent *ag, const repl_msg *m, cdc_err *err)
{
    agent_metrics_set_server_lsn(ag->metrics, m->wal_end);
    if (m->kind == 'w') {
        agent_metrics_add_bytes(ag->metrics, m->len);
        if (m->data_start > ag->received)
            ag->received = m->data_start;
        return agent_capture_handle(ag->cap, m->data, m->len, m->data_start, err);
    }
    /* Keepalive: with nothing in flight, the server's position can be confirmed as is. */
    if (m->wal_end > ag->received && !agent_capture_in_txn(ag->cap))
        ag->received = m->wal_end;
    if (!agent_capture_in_txn(ag->cap) && agent_wm_idle(ag->wm))
        agent_wm_idle_advance(ag->wm, m->wal_end);
    return m->reply_requested ? send_status(ag, true, false, err) : 0;
}

/*
 * A stop was requested: may the stream end here?  Not in the middle of a
 * plain transaction: part of it may be in the destinations already, and the
 * slot cannot be confirmed past it until its COMMIT is read, so the sinks
 * would keep a partial transaction until the next run.  Its COMMIT is in the
 * WAL already, so finishing it takes moments; still, after a quarter of the
 * shutdown timeout the stream ends anyway (the next run delivers the rest
 * and skips what is there).
 */
static bool
stop_now(agent *ag)
{
    int64_t limit = (int64_t) (ag->cfg->platform.agent.shutdown_timeout_seconds * 250);

    if (!stop_requested)
        return false;
    if (!agent_capture_in_plain_txn(ag->cap))
        return true;
    if (ag->stop_seen_ms == 0) {
        ag->stop_seen_ms = mono_ms();
        log_info("agent", "stop requested inside a transaction; reading on to its commit "
                 "(at most %lld ms)", (long long) limit);
    }
    return mono_ms() - ag->stop_seen_ms >= limit;
}

/* Streams until stopped or failed.  @returns 0 on a requested stop. */
static int
stream(agent *ag, cdc_err *err)
{
    repl_msg m;
    int      n;

    for (;;) {
        if (stop_now(ag))
            return 0;
        if (ag->stop_lsn && agent_wm_flush_lsn(ag->wm) >= ag->stop_lsn) {
            log_info("agent", "reached stop_lsn " CDC_LSN_FMT, CDC_LSN_ARGS(ag->stop_lsn));
            return 0;
        }
        if (agent_wm_full(ag->wm)) {
            /* Backpressure: stop reading until destinations make room.  A flush
               that times out is the destination still pushing back: wait on (it
               used to count as a lost connection, and the agent reconnected
               every 0.3 s for as long as the destination refused). */
            if (agent_router_flush(&ag->router, 100, err) < 0) {
                if (err->code != CDC_E_TIMEOUT)
                    return cdc_err_ensure(err, "waiting for the destinations to make room");
                cdc_err_clear(err);     /* tolerated: no stale message for a later failure */
            }
            if (wait_service(ag, err) < 0)
                return cdc_err_ensure(err, "waiting for the destinations to make room");
        } else {
            /* Drain what is buffered, up to a bound, before looking at timers. */
            for (int burst = 0; burst < 4096 && !agent_wm_full(ag->wm) && !stop_now(ag);
                 burst++) {
                /* With events in flight, come back soon to collect the destinations'
                   acknowledgements (webhook responses, Kafka delivery reports). */
                n = repl_read(ag->rs, &m,
                              burst > 0 ? 0 : agent_wm_inflight(ag->wm) > 0 ? 5 : 100, err);
                if (n < 0)
                    return cdc_err_ensure(err, "reading the replication stream");
                if (n == 0)
                    break;
                if (handle_repl_msg(ag, &m, err) < 0) {
                    if (stop_requested)
                        return 0;       /* a stop cut a wait short */
                    return cdc_err_ensure(err, "handling the replication message at " CDC_LSN_FMT,
                                          CDC_LSN_ARGS(m.kind == 'w' ? m.data_start : m.wal_end));
                }
            }
        }
        if (agent_router_poll(&ag->router, err) < 0 || send_status(ag, false, false, err) < 0)
            return cdc_err_ensure(err, "polling the destinations or sending a status update");
        agent_heartbeat_tick(ag->heartbeat, &ag->router, agent_capture_in_txn(ag->cap));
        update_metrics(ag);
    }
}

static int
start_stream(agent *ag, cdc_err *err)
{
    int ver = repl_server_version(ag->rs);

    ag->proto = ver >= 140000 ? 2 : 1;
    return repl_start(ag->rs, ag->src->slot_name, 0, ag->src->publication_name, ag->proto,
                      ag->proto >= 2, ver >= 140000, err);
}

/* Reconnects after a lost connection, with capped exponential backoff and jitter. */
static int
reconnect(agent *ag, cdc_err *err)
{
    const cfg_retry *rt = &ag->cfg->platform.retry;
    double           wait = rt->initial_wait_seconds > 0 ? rt->initial_wait_seconds : 1;
    int              max = ag->cfg->platform.agent.reconnect_max_attempts;

    for (int attempt = 1; !stop_requested && (max == 0 || attempt <= max); attempt++) {
        double sleep_s = wait * (rt->jitter ? 0.5 + (double) rand() / RAND_MAX / 2 : 1);

        log_warn("agent", "%s; reconnecting in %.1f s (attempt %d)", err->msg, sleep_s, attempt);
        agent_metrics_error(ag->metrics, err->code);
        agent_metrics_set_repl_state(ag->metrics, AGENT_REPL_RECONNECTING, err->msg);
        agent_sd_status("reconnecting (attempt %d): %s", attempt, err->msg);
        agent_sd_sleep(sleep_s, &stop_requested);
        wait = wait * (rt->multiplier > 1 ? rt->multiplier : 2);
        if (wait > rt->max_wait_seconds)
            wait = rt->max_wait_seconds;
        repl_close(ag->rs);
        ag->rs = NULL;
        PQfinish(ag->sql);
        ag->sql = agent_pg_connect(ag->src, false, err);
        if (ag->sql == NULL)
            continue;
        ag->rs = repl_open(ag->src, err);
        /* The agents' lock, as at start.  Our own previous connection holds it until
           the server sees it gone (wal_sender_timeout), so a refusal is retried. */
        if (ag->rs != NULL && agent_slot_lock(repl_conn(ag->rs), ag->src, err) < 0) {
            ag->lock_lost = true;
            err->code = CDC_E_CONN;
            continue;
        }
        ag->lock_lost = false;
        if (ag->rs == NULL || start_stream(ag, err) < 0) {
            if (err->code == CDC_E_STATE)
                return -1;      /* the slot is gone or invalidated: retrying cannot help */
            continue;
        }
        agent_capture_set_catalog(ag->cap, ag->sql);
        agent_capture_reset_stream(ag->cap);
        cdc_err_clear(err);
        agent_metrics_set_repl_state(ag->metrics, AGENT_REPL_STREAMING, NULL);
        agent_sd_status("streaming from slot %s (reconnected)", ag->src->slot_name);
        return 0;
    }
    if (stop_requested)
        return 1;
    return cdc_err_wrap(err, "giving up after %d reconnect attempts (agent.reconnect_max_attempts)",
                        max);
}

static int
drop_slot(agent *ag, cdc_err *err)
{
    char ident[160], sql[200];

    snprintf(sql, sizeof(sql), "DROP_REPLICATION_SLOT %s",
             agent_pg_quote_ident(repl_conn(ag->rs), ag->src->slot_name, ident, sizeof(ident)));
    return agent_pg_exec(repl_conn(ag->rs), sql, "dropping the slot", err);
}

/*
 * Snapshot rows sit at (consistent point - 1, ordinal) and the slot does not
 * move until something after the snapshot is confirmed, so a destination
 * whose last event is a snapshot row of this slot, other than the last one,
 * shows a snapshot that never finished.
 */
static bool
snapshot_interrupted(const agent *ag, const slot_row *slot)
{
    if (ag->src->snapshot_mode == CFG_SNAPSHOT_NEVER || slot->confirmed == 0)
        return false;
    for (int i = 0; i < ag->router.ndests; i++) {
        const cdc_dest *d = ag->router.dests[i];
        cdc_pos         p = ag->router.written[i];

        if (cdc_pos_cmp(d->newest_held, p) > 0)
            p = d->newest_held;
        if (p.lsn + 1 != slot->confirmed)
            continue;
        /* Kafka: partitions fill independently, so even the last snapshot row
           does not prove the others arrived; the slot has not moved since. */
        if (d->held_unordered || (p.seq != CDC_SEQ_SNAPSHOT_LAST && p.seq != CDC_SEQ_END))
            return true;
    }
    return false;
}

/* What destination i holds at start: its resume position, or beyond (Kafka's partitions). */
static cdc_pos
held_at_start(const agent *ag, int i)
{
    cdc_pos p = ag->router.written[i];

    if (cdc_pos_cmp(ag->router.dests[i]->newest_held, p) > 0)
        p = ag->router.dests[i]->newest_held;
    return p;
}

/* The slot and what the destinations hold, for agent_snapshot_plan(). */
static int
plan_slot(agent *ag, const slot_row *slot, agent_slot_plan *plan, cdc_err *err)
{
    agent_slot_facts f = { .exists = slot->exists, .lost = slot->lost,
                           .dests_remember = agent_snapshot_dests_remember(ag->cfg) };
    cdc_pos          last = { ag->state.cp - 1, CDC_SEQ_SNAPSHOT_LAST };
    bool             all_last = ag->state.cp != 0;
    char             why[600];

    for (int i = 0; i < ag->router.ndests; i++) {
        /* Kafka reports {0,0} as written and what its partitions hold apart. */
        uint64_t lsn = ag->router.written[i].lsn > ag->router.dests[i]->newest_held.lsn
                           ? ag->router.written[i].lsn : ag->router.dests[i]->newest_held.lsn;

        if (lsn > f.held_lsn) {
            f.held_lsn = lsn;
            f.held_by = ag->router.dests[i]->id;
        }
        if (ag->router.dests[i]->holds_foreign && f.held_by == NULL) {
            f.held_foreign = true;
            f.held_by = ag->router.dests[i]->id;
        }
        /* In stream order, holding the snapshot's last row means holding all of it. */
        if (ag->router.dests[i]->held_unordered || cdc_pos_cmp(held_at_start(ag, i), last) < 0)
            all_last = false;
    }
    if (slot->exists && !slot->lost)
        f.snapshot_unproven = agent_snapshot_unproven(ag->src, &ag->state, slot->confirmed,
                                                      f.dests_remember, all_last, why,
                                                      sizeof(why));
    if (slot->exists && !slot->lost && !ag->state.loaded && f.snapshot_unproven != NULL) {
        /*
         * No record, under when_needed: a destination that reports, holding the
         * snapshot's last row as its newest event, with the slot confirmed past
         * that snapshot's consistent point, is the proof there is (the slot moves
         * past it only once every destination made the snapshot durable).
         */
        for (int i = 0; i < ag->router.ndests; i++) {
            cdc_pos p = held_at_start(ag, i);

            if (!ag->remembers[i] || ag->router.dests[i]->held_unordered ||
                p.seq != CDC_SEQ_SNAPSHOT_LAST || p.lsn == 0 || slot->confirmed <= p.lsn + 1)
                continue;
            log_info("agent", "slot %s: no record of its snapshot (%s), but destination %s holds "
                     "the snapshot's last row and the slot is confirmed past it (" CDC_LSN_FMT
                     "): the snapshot was delivered", ag->src->slot_name, ag->state.path,
                     ag->router.dests[i]->id, CDC_LSN_ARGS(slot->confirmed));
            f.snapshot_unproven = NULL;
            break;
        }
    }
    if (slot->exists && !slot->lost && !ag->state.loaded && !f.dests_remember &&
        f.snapshot_unproven == NULL && ag->src->snapshot_mode != CFG_SNAPSHOT_WHEN_NEEDED && ag->src->snapshot_mode != CFG_SNAPSHOT_NEVER &&
        ag->src->snapshot_mode != CFG_SNAPSHOT_ALWAYS) {
        char names[300] = "";
        size_t used = 0;

        for (int i = 0; i < ag->router.ndests && used < sizeof(names); i++)
            if (!ag->remembers[i])
                used += (size_t) snprintf(names + used, sizeof(names) - used, "%s%s (%s)",
                                          used ? ", " : "", ag->router.dests[i]->id,
                                          ag->router.dests[i]->ops->kind);
        log_warn("agent", "slot %s exists but there is no record of its snapshot (%s): the "
                 "first start after upgrading from a version that kept none, or agent.state_dir "
                 "is not on persistent storage. Destination(s) %s cannot say what they hold, so "
                 "nothing proves they received the snapshot; keeping the slot (dropping it would "
                 "lose the changes it holds) and assuming the snapshot was delivered, as earlier "
                 "versions did. To give them the snapshot again: cdcagent slot drop PIPELINE "
                 "--yes, then start with snapshot_mode when_needed", ag->src->slot_name,
                 ag->state.path, names);
    }
    return agent_snapshot_plan(ag->src, &f, plan, err);
}

/* The server's system identifier: the record of a slot is named after it and the slot. */
static int
read_system(agent *ag, char *out, size_t n, cdc_err *err)
{
    PGresult *res = PQexec(repl_conn(ag->rs), "IDENTIFY_SYSTEM");
    int       rc = 0;

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        rc = cdc_err_set(err, CDC_E_PG, "IDENTIFY_SYSTEM on %s:%d: %s", ag->src->host,
                         ag->src->port, PQresultErrorMessage(res));
    else
        snprintf(out, n, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return rc;
}

/*
 * A destination that holds less than the record says it held went backwards:
 * a file cut short or emptied, a database restored from an older backup.  The
 * slot sends again only transactions that commit at or after its confirmed
 * LSN, so what the destination lost before that never comes back: the loss is
 * proven when the newest event it was known to hold lies before the confirmed
 * LSN.  (That the slot is confirmed past the newest event a destination holds
 * proves nothing by itself: idle confirms and transactions with no published
 * row move it too; the record is the evidence.)
 */
static int
check_dests_held(agent *ag, const slot_row *slot, cdc_err *err)
{
    for (int i = 0; i < ag->router.ndests; i++) {
        const cdc_dest   *d = ag->router.dests[i];
        agent_state_dest *sd = agent_state_dest_get(&ag->state, d->id, d->ops->kind, false);
        cdc_pos           now = held_at_start(ag, i);

        if (sd == NULL || !ag->remembers[i] || cdc_pos_cmp(now, sd->held) >= 0)
            continue;
        if (now.lsn >= slot->confirmed) {
            log_warn("agent", "destination %s holds events up to " CDC_LSN_FMT " #%llu, less "
                     "than the " CDC_LSN_FMT " #%llu it held before (%s); the slot sends "
                     "everything after " CDC_LSN_FMT " again, so nothing is missing",
                     d->id, CDC_LSN_ARGS(now.lsn), (unsigned long long) now.seq,
                     CDC_LSN_ARGS(sd->held.lsn), (unsigned long long) sd->held.seq,
                     ag->state.path, CDC_LSN_ARGS(slot->confirmed));
            continue;
        }
        if (sd->held.lsn >= slot->confirmed) {
            log_warn("agent", "destination %s holds events up to " CDC_LSN_FMT " #%llu, less "
                     "than the " CDC_LSN_FMT " #%llu it held before (%s); the slot sends again "
                     "what committed from " CDC_LSN_FMT " on: events between its last one and "
                     "that may be missing from it", d->id, CDC_LSN_ARGS(now.lsn),
                     (unsigned long long) now.seq, CDC_LSN_ARGS(sd->held.lsn),
                     (unsigned long long) sd->held.seq, ag->state.path,
                     CDC_LSN_ARGS(slot->confirmed));
            continue;
        }
        log_error("agent", "destination %s (%s) holds events up to " CDC_LSN_FMT " #%llu%s, but "
                  "it held events up to " CDC_LSN_FMT " #%llu (agent record %s) and slot %s is "
                  "confirmed up to " CDC_LSN_FMT ", so PostgreSQL will not send the missing "
                  "events again. Something removed them (a file cut short or emptied, a database "
                  "restored from an older backup). To recover: restore the destination to what "
                  "it held; or drop the slot (cdcagent slot drop PIPELINE --yes) and start with "
                  "snapshot_mode when_needed to take a new snapshot (rows arrive again as op r); "
                  "or, to accept the loss and go on from what it holds, delete %s",
                  d->id, d->ops->kind, CDC_LSN_ARGS(now.lsn), (unsigned long long) now.seq,
                  now.lsn == 0 ? " (nothing)" : "", CDC_LSN_ARGS(sd->held.lsn),
                  (unsigned long long) sd->held.seq, ag->state.path, ag->src->slot_name,
                  CDC_LSN_ARGS(slot->confirmed), ag->state.path);
        return cdc_err_set(err, CDC_E_STATE, "destination %s went backwards: it holds events up "
                           "to " CDC_LSN_FMT " but held up to " CDC_LSN_FMT ", and the slot will "
                           "not send the rest again; not starting (the log says how to recover)",
                           d->id, CDC_LSN_ARGS(now.lsn), CDC_LSN_ARGS(sd->held.lsn));
    }
    return 0;
}

/*
 * Starts keeping the record: what each destination that reports its position
 * holds now is evidence too.  Written before anything else happens, so that
 * an unwritable agent.state_dir stops the start rather than a later restart.
 */
static bool
dest_configured(void *arg, const char *id, const char *kind)
{
    const agent *ag = arg;

    for (int i = 0; i < ag->router.ndests; i++)
        if (strcmp(ag->router.dests[i]->id, id) == 0 &&
            strcmp(ag->router.dests[i]->ops->kind, kind) == 0)
            return true;
    return false;
}

/*
 * A write of the record at start.  When a destination cannot say what it
 * holds, the record is the only proof of the snapshot: a failure stops the
 * start.  When every destination reports its position, the record is only
 * evidence (of a destination that went backwards): warn and go on.
 */
static int
save_at_start(agent *ag, cdc_err *err)
{
    cdc_err e = { 0 };

    if (agent_state_save(&ag->state, &e) == 0)
        return 0;
    cdc_err_ensure(&e, "writing the state record %s", ag->state.path);
    if (!agent_snapshot_dests_remember(ag->cfg)) {
        *err = e;
        return -1;
    }
    if (!ag->state_failing)
        log_warn("agent", "%s; every destination reports what it holds, so the agent goes on "
                 "without its record (a destination that goes backwards may then go unnoticed)",
                 e.msg);
    ag->state_failing = true;
    return 0;
}

static int
start_state(agent *ag, cdc_err *err)
{
    for (int i = 0; i < ag->router.ndests; i++) {
        cdc_pos           now = held_at_start(ag, i);
        agent_state_dest *sd;

        if (!ag->remembers[i] || now.lsn == 0)
            continue;
        sd = agent_state_dest_get(&ag->state, ag->router.dests[i]->id,
                                  ag->router.dests[i]->ops->kind, true);
        if (sd && cdc_pos_cmp(now, sd->held) > 0)
            sd->held = now;
    }
    /* Destinations no longer configured: their entries would stand for nothing. */
    agent_state_retain(&ag->state, dest_configured, ag);
    if (save_at_start(ag, err) < 0)
        return -1;
    ag->state_on = true;
    ag->state_saved_ms = mono_ms();
    return 0;
}

/*
 * The record lists every destination the snapshot was delivered to (those that
 * cannot report positions too, with none).  One configured since has only the
 * changes from its first start on: said once, when warn is set, with the way
 * to give it the snapshot.
 */
static void
note_snapshot_dests(agent *ag, bool warn)
{
    for (int i = 0; i < ag->router.ndests; i++) {
        const cdc_dest *d = ag->router.dests[i];

        if (agent_state_dest_get(&ag->state, d->id, d->ops->kind, false) != NULL)
            continue;
        if (warn)
            log_warn("agent", "destination %s (%s) was added after slot %s's snapshot was "
                     "delivered: it gets the changes from now on, not the rows from before. To "
                     "give it the snapshot, drop the slot (cdcagent slot drop PIPELINE --yes) "
                     "and start with snapshot_mode when_needed (every destination then gets the "
                     "rows again as op r)", d->id, d->ops->kind, ag->src->slot_name);
        agent_state_dest_get(&ag->state, d->id, d->ops->kind, true);
    }
}

/*
 * The snapshot's rows are all handed out: wait until every destination made
 * them durable, then record it, before streaming.  Until then a restart must
 * take the snapshot again, since the slot cannot send those rows (nothing
 * after the snapshot is read meanwhile, so nothing else waits on this).
 * @returns 0, 1 when a stop came first, or -1 with err set.
 */
static int
wait_snapshot_durable(agent *ag, uint64_t cp, cdc_err *err)
{
    cdc_pos target = { cp - 1, CDC_SEQ_END };
    int64_t since = mono_ms(), logged = since;
    bool    flushed = false;

    for (;;) {
        int slow = -1;

        if (agent_router_poll(&ag->router, err) < 0)
            return -1;
        for (int i = 0; i < ag->router.ndests && slow < 0; i++)
            if (cdc_pos_cmp(agent_wm_dest_pos(ag->wm, i), target) < 0)
                slow = i;
        if (slow < 0)
            break;
        if (stop_requested) {
            /* As at any stop: give the destinations shutdown_timeout to make it durable;
               if they do, the snapshot is delivered and this is a normal stop. */
            int     timeout = (int) (ag->cfg->platform.agent.shutdown_timeout_seconds * 1000);
            cdc_err ferr = { 0 };

            if (flushed) {
                log_error("agent", "snapshot: destination %s did not make every row durable "
                          "within agent.shutdown_timeout_seconds of the stop; the next start "
                          "takes the snapshot again", ag->router.dests[slow]->id);
                return 1;
            }
            flushed = true;
            log_info("agent", "stop requested while the snapshot is made durable; flushing the "
                     "destinations (at most %d ms)", timeout);
            if (agent_router_flush(&ag->router, timeout, &ferr) < 0)
                log_warn("agent", "flushing the destinations at stop: %s",
                         ferr.msg[0] ? ferr.msg : "failed");
            continue;       /* poll once more, then decide */
        }
        if (mono_ms() - logged >= 10000) {
            logged = mono_ms();
            log_info("agent", "snapshot: waiting %lld s for destination %s to make every row "
                     "durable before streaming", (long long) ((logged - since) / 1000),
                     ag->router.dests[slow]->id);
        }
        /* Each destination makes things durable at its own pace (flush intervals, batches,
           retries): poll, do not force a flush. */
        update_metrics(ag);
        nanosleep(&(struct timespec) { 0, 20 * 1000 * 1000 }, NULL);
    }
    ag->state.snapshot = AGENT_SNAP_DELIVERED;
    note_snapshot_dests(ag, false);
    note_state(ag, true);
    log_info("agent", "snapshot: every row durable in every destination");
    return 0;
}

static int
prepare_source(agent *ag, bool *snapshot_only_done, cdc_err *err)
{
    const cfg_source *src = ag->src;
    slot_row          slot;
    agent_slot_plan   plan;
    uint64_t          cp = 0;
    char              snapname[128] = "", sysid[32];
    bool              snap;
    int               rc;

    *snapshot_only_done = false;
    if (check_server(ag, err) < 0 || agent_ensure_publication(ag->sql, ag->src, err) < 0 || read_slot(ag, &slot, err) < 0)
        return -1;
    if (read_system(ag, sysid, sizeof(sysid), err) < 0 ||
        agent_state_load(&ag->state, ag->cfg->platform.agent.state_dir, sysid, src->slot_name,
                         err) < 0)
        return -1;
    for (int i = 0; i < ag->router.ndests; i++)
        ag->remembers[i] = agent_snapshot_dest_remembers(ag->cfg, ag->router.dests[i]->id);
    if (slot.exists && !slot.lost && check_dests_held(ag, &slot, err) < 0)
        return -1;
    if (plan_slot(ag, &slot, &plan, err) < 0)
        return -1;
    if (plan == AGENT_SLOT_RECREATE) {
        if (drop_slot(ag, err) < 0)
            return -1;
        slot.exists = false;
    }
    if (slot.exists && snapshot_interrupted(ag, &slot)) {
        /*
         * A destination holds part of the snapshot and nothing after it: the
         * run that created the slot died mid-snapshot.  Streaming from the slot
         * would lose the rows never read, so take the snapshot again on a new
         * slot; the rows already delivered arrive a second time.
         */
        log_warn("agent", "slot %s: the previous run stopped during the snapshot; dropping the "
                 "slot and taking the snapshot again (rows already delivered are delivered "
                 "again)", src->slot_name);
        if (drop_slot(ag, err) < 0)
            return -1;
        slot.exists = false;
    }
    if (slot.exists) {
        if (src->snapshot_mode == CFG_SNAPSHOT_ALWAYS)
            return cdc_err_set(err, CDC_E_UNSUPPORTED, "snapshot_mode always with an existing "
                               "slot (%s) is not supported yet: a snapshot consistent with the "
                               "slot needs a new slot", src->slot_name);
        log_info("agent", "slot %s: exists, confirmed up to " CDC_LSN_FMT, src->slot_name,
                 CDC_LSN_ARGS(slot.confirmed));
        /* Streaming on means the snapshot is proven (agent_snapshot_unproven said so), or,
           without a record, vouched for by destinations that all remember. */
        note_snapshot_dests(ag, ag->state.loaded && ag->state.snapshot == AGENT_SNAP_DELIVERED);
        if (!ag->state.loaded || ag->state.snapshot == AGENT_SNAP_PENDING)
            ag->state.snapshot = src->snapshot_mode == CFG_SNAPSHOT_NEVER && !ag->state.loaded
                                     ? AGENT_SNAP_NONE : AGENT_SNAP_DELIVERED;
        if (start_state(ag, err) < 0)
            return -1;
        agent_wm_set_start(ag->wm, slot.confirmed);
        *snapshot_only_done = src->snapshot_mode == CFG_SNAPSHOT_INITIAL_ONLY;
        return 0;
    }
    snap = src->snapshot_mode != CFG_SNAPSHOT_NEVER;
    /* Recorded before the slot exists: a crash between the two leaves "pending", which a
       restart reads as "not delivered", never an older slot's "delivered". */
    ag->state.snapshot = snap ? AGENT_SNAP_PENDING : AGENT_SNAP_NONE;
    ag->state.cp = 0;
    /* What the destinations held belongs to the old slot: kept, a kill before the new
       snapshot's first durable row would read an emptied destination as gone backwards. */
    for (int i = 0; i < ag->state.ndests; i++)
        ag->state.dests[i].held = (cdc_pos) { 0, 0 };
    if (start_state(ag, err) < 0)
        return -1;
    if (repl_create_slot(ag->rs, src->slot_name, snap, &cp, snapname, sizeof(snapname), err) < 0)
        return -1;
    ag->state.cp = cp;
    if (save_at_start(ag, err) < 0)
        return -1;
    agent_wm_set_start(ag->wm, cp);
    if (!snap)
        return 0;
    rc = agent_snapshot_run(ag->cap, ag->sql, src, snapname, cp, &stop_requested, err);
    if (rc != 0) {
        cdc_err keep = *err;

        /* A half-taken snapshot cannot be resumed: drop the slot so the next start redoes it. */
        cdc_err ignored;

        log_error("agent", "snapshot %s; dropping slot %s so the next start takes it again",
                  rc > 0 ? "interrupted" : "failed", src->slot_name);
        drop_slot(ag, &ignored);
        if (rc > 0)
            return cdc_err_set(err, CDC_E_STATE, "stopped during the snapshot; it starts over "
                               "on the next run");
        *err = keep;
        return -1;
    }
    rc = wait_snapshot_durable(ag, cp, err);
    if (rc > 0)
        return cdc_err_set(err, CDC_E_STATE, "stopped before every destination had made the "
                           "snapshot durable; the next start takes it again");
    if (rc < 0)
        return cdc_err_wrap(err, "waiting for the snapshot to be durable");
    *snapshot_only_done = src->snapshot_mode == CFG_SNAPSHOT_INITIAL_ONLY;
    return 0;
}

static int
shutdown_agent(agent *ag, cdc_err *err)
{
    int     timeout = (int) (ag->cfg->platform.agent.shutdown_timeout_seconds * 1000);
    cdc_err ferr = { 0 };
    int     rc = 0;

    if (ag->lock_lost) {
        /* Another agent may own the slot, its destinations and its record now: writing
           lines, confirming or saving from here could cut into what it writes. */
        log_warn("agent", "slot %s: the agents' lock could not be taken again after the "
                 "connection was lost; stopping without flushing the destinations, confirming "
                 "or writing the record (the next start resends what was not confirmed)",
                 ag->src->slot_name);
        return 0;
    }
    if (agent_router_flush(&ag->router, timeout, &ferr) < 0) {
        log_error("agent", "flushing destinations: %s", ferr.msg);
        *err = ferr;
        rc = -1;
    }
    if (ag->rs && send_status(ag, true, false, &ferr) == 0) {
        repl_finish(ag->rs, &ferr);
        log_info("agent", "slot %s: confirmed " CDC_LSN_FMT " at shutdown", ag->src->slot_name,
                 CDC_LSN_ARGS(ag->sent_flush));
    }
    agent_router_poll(&ag->router, &ferr);
    note_state(ag, true);
    return rc;
}

static void
log_summary(agent *ag)
{
    const agent_capture_stats *st = agent_capture_get_stats(ag->cap);

    log_info("agent", "%llu transactions (%llu streamed), %llu changes, %llu events delivered, "
             "%llu already held", (unsigned long long) st->txns,
             (unsigned long long) st->streamed_txns, (unsigned long long) st->changes,
             (unsigned long long) ag->router.events, (unsigned long long) ag->router.skipped);
}

static int
run_agent(agent *ag, cdc_err *err)
{
    slot_row slot;
    bool     done = false;
    int  rc;

    /* One agent per slot, decided before anything is touched: the destinations (a
       jsonl file's torn-line repair at open would cut the other agent's line in
       half), the publication, the slot, the state record.  The lock lives as long
       as the replication connection (agent/source/slot.h). */
    ag->rs = repl_open(ag->src, err);
    if (ag->rs == NULL || agent_slot_lock(repl_conn(ag->rs), ag->src, err) < 0)
        return -1;
    /* Where PostgreSQL will resume: destinations that hold positions per
       partition (Kafka) look for what they already have from there on. */
    if (read_slot(ag, &slot, err) < 0)
        return -1;
    ag->resume_lsn = slot.exists ? slot.confirmed : 0;
    if (open_destinations(ag, err) < 0)
        return -1;
    /* In flight: transactions handed out but not yet durable everywhere. */
    ag->wm = agent_wm_new(ag->router.ndests,
                          (size_t) ag->cfg->platform.max_buffered_messages * 16);
    ag->router.wm = ag->wm;
    if (agent_router_resume(&ag->router, err) < 0)
        return -1;
    ag->proto = repl_server_version(ag->rs) >= 140000 ? 2 : 1;
    ag->cap = agent_capture_new(ag->cfg, ag->sql, &ag->router, ag->proto, err);
    if (ag->cap == NULL || prepare_source(ag, &done, err) < 0)
        return -1;
    if (done) {
        log_info("agent", "snapshot_mode initial_only: snapshot complete, not streaming");
        return shutdown_agent(ag, err);
    }
    if (start_stream(ag, err) < 0)
        return -1;
    ag->heartbeat = agent_heartbeat_new(ag->src);
    agent_metrics_set_repl_state(ag->metrics, AGENT_REPL_STREAMING, NULL);
    agent_sd_ready("streaming from slot %s", ag->src->slot_name);
    /* From here on (not during the snapshot) a wait for a destination keeps the stream alive. */
    ag->router.wait_hook = wait_service;
    ag->router.wait_arg = ag;
    for (;;) {
        rc = stream(ag, err);
        if (rc == 0 || !cdc_rc_retriable(err->code) || stop_requested)
            break;
        rc = reconnect(ag, err);
        if (rc != 0) {
            rc = rc > 0 ? 0 : -1;
            break;
        }
    }
    if (rc < 0) {
        cdc_err keep;

        cdc_err_ensure(err, "streaming from slot %s", ag->src->slot_name);
        keep = *err;
        log_error("agent", "%s", err->msg);
        shutdown_agent(ag, err);
        *err = keep;
        log_summary(ag);
        return -1;
    }
    log_summary(ag);
    agent_metrics_set_repl_state(ag->metrics, AGENT_REPL_STOPPING, "draining");
    agent_sd_stopping("stopping: flushing destinations and confirming slot %s", ag->src->slot_name);
    return shutdown_agent(ag, err);
}

/* Settings that parse but change nothing yet: say so where the user will look. */
static void
warn_unbuilt(const cdc_config *cfg)
{
    const cfg_source *src = &cfg->pipeline.source;

    if (src->provide_transaction_metadata && cfg->platform.transport_mode == CFG_TRANSPORT_DIRECT)
        log_warn("agent", "source.provide_transaction_metadata applies to transport_mode kafka "
                 "only; the direct-mode sinks ignore it (events carry transaction: null)");
    if (src->message_key_columns && *src->message_key_columns)
        log_warn("agent", "source.message_key_columns is not supported yet and is ignored: keys "
                 "are the primary key or the first unique index");
    if (src->schema_name_adjustment_mode && strcmp(src->schema_name_adjustment_mode, "none") != 0)
        log_warn("agent", "source.schema_name_adjustment_mode %s is not supported yet and is "
                 "ignored", src->schema_name_adjustment_mode);
}

int
agent_run(const cdc_config *cfg, cdc_err *err)
{
    agent ag = { 0 };
    int   rc = -1;

    ag.cfg = cfg;
    ag.src = &cfg->pipeline.source;
    stop_requested = 0;
    install_signals();
    warn_unbuilt(cfg);
    srand((unsigned) time(NULL) ^ (unsigned) getpid());
    if (cfg->platform.agent.stop_lsn && *cfg->platform.agent.stop_lsn &&
        cdc_lsn_parse(cfg->platform.agent.stop_lsn, &ag.stop_lsn) < 0)
        return cdc_err_set(err, CDC_E_CONFIG, "agent.stop_lsn: \"%s\" is not an LSN (X/Y)",
                           cfg->platform.agent.stop_lsn);
    sch_json_opts_default(&ag.json);
    ag.json.server_name = cfg->pipeline.topic_prefix;
    ag.json.database = ag.src->database;
    ag.json.version = DEBEZIUM_VERSION;
    ag.json.unavailable_placeholder = ag.src->unavailable_value_placeholder;
    ag.metrics = agent_metrics_new(cfg->pipeline.pipeline_id, ag.src->slot_name);
    agent_metrics_set_repl_state(ag.metrics, AGENT_REPL_CONNECTING, NULL);
    ag.router.metrics = ag.metrics;
    ag.router.stop = &stop_requested;
    if (cfg->platform.health_enabled) {
        agent_health_conf hc = { NULL, cfg->platform.health_port };

        ag.health = agent_health_start(&hc, ag.metrics, err);
        if (ag.health == NULL) {
            agent_metrics_free(ag.metrics);
            return -1;
        }
    }
    ag.sql = agent_pg_connect(ag.src, false, err);
    if (ag.sql != NULL)
        rc = run_agent(&ag, err);
    if (rc < 0) {
        cdc_err_ensure(err, "agent_run");
        agent_metrics_error(ag.metrics, err->code);
        agent_metrics_set_repl_state(ag.metrics, AGENT_REPL_ERROR, err->msg);
    }
    agent_heartbeat_free(ag.heartbeat);
    agent_router_close(&ag.router);
    dest_dlq_close(ag.dlq);
    agent_capture_free(ag.cap);
    repl_close(ag.rs);
    PQfinish(ag.sql);
    agent_wm_free(ag.wm);
    agent_health_stop(ag.health);
    agent_metrics_free(ag.metrics);
    return rc;
}
