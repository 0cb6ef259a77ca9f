#include "agent/pipeline/run.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_retry.h"
#include "agent/pipeline/capture.h"
#include "agent/pipeline/run_int.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_lsn.h"
#include "agent/pipeline/dest_registry.h"
#include "agent/ops/health.h"
#include "agent/pipeline/heartbeat.h"
#include "agent/source/publication.h"
#include "agent/source/tablepat.h"
#include "agent/ops/metrics.h"
#include "agent/core/net/pgconn.h"
#include "agent/source/pg_source.h"
#include "agent/source/publication.h"
#include "agent/source/repl.h"
#include "agent/pipeline/router.h"
#include "agent/ops/sdnotify.h"
#include "agent/source/slot.h"
#include "schemas/avro.h"
#include "agent/pipeline/snapshot.h"
#include "agent/pipeline/state.h"
#include "agent/pipeline/watermark.h"
#include "schemas/avro.h"
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

    run_update_metrics(ag);
    if (agent_router_poll(&ag->router, err) < 0)
        return -1;
    if (ag->rs == NULL)
        return 0;
    repl_service(ag->rs, &reply_due);
    /* A lost connection shows in the next repl_read(), after what was read ahead. */
    if (run_send_status(ag, reply_due, false, &serr) < 0)
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
    /*
     * Keepalive outside a transaction: the server's position is confirmed at
     * once with nothing in flight, else as soon as what is in flight is durable.
     * The walsender sends such a keepalive once after catching up and not again
     * while our reported write position covers it, so dropping it left the slot
     * at the last commit until its next ping (wal_sender_timeout / 2) or new WAL.
     */
    if (!agent_capture_in_txn(ag->cap)) {
        if (m->wal_end > ag->received)
            ag->received = m->wal_end;
        agent_wm_idle_advance(ag->wm, m->wal_end);
    }
    return m->reply_requested ? run_send_status(ag, true, false, err) : 0;
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
        ag->stop_seen_ms = cdc_mono_ms();
        log_info("agent", "stop requested inside a transaction; reading on to its commit "
                 "(at most %lld ms)", (long long) limit);
    }
    return cdc_mono_ms() - ag->stop_seen_ms >= limit;
}

/*
 * Tables by pattern: every source.table_pattern_check_ms, the catalog is read for new
 * matching tables, which join source.tables (the capture then takes their Relation
 * messages) and the publication.  pgoutput decides membership as of each change's WAL
 * position, so the new table's changes committed after the ALTER PUBLICATION are
 * captured; those before it are not (issue 22's incremental snapshot would read them).
 */
static int
follow_tables(agent *ag, cdc_err *err)
{
    int64_t now = cdc_mono_ms();
    int     from = ag->src->ntables, n;

    if (!cfg_source_by_pattern(ag->src) || ag->src->table_pattern_check_ms <= 0 ||
        now - ag->tables_checked_ms < ag->src->table_pattern_check_ms)
        return 0;
    ag->tables_checked_ms = now;
    n = agent_tablepat_new_tables(ag->sql, ag->tables_src, err);
    if (n <= 0)
        return n;
    if (agent_publication_add_tables(ag->sql, ag->src, from, from + n, err) == 0)
        return 0;
    if (err->code != CDC_E_TIMEOUT)
        return cdc_err_wrap(err, "following a new table chosen by pattern");
    /* a transaction holds one of the tables: forget them, the next check tries again */
    log_warn("agent", "%s; trying again in %d ms", err->msg, ag->src->table_pattern_check_ms);
    cdc_err_clear(err);
    while (ag->tables_src->ntables > from)
        free(ag->tables_src->tables[--ag->tables_src->ntables]);
    return 0;
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
        if (run_blocking_check(ag, err) < 0 ||
            (run_snapshot_due(ag, NULL) && run_pending_snapshot(ag, err) < 0))
            return -1;
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
                if (run_snapshot_due(ag, &m) && run_pending_snapshot(ag, err) < 0)
                    return -1;
                if (handle_repl_msg(ag, &m, err) < 0 || run_blocking_check(ag, err) < 0) {
                    if (stop_requested)
                        return 0;       /* a stop cut a wait short */
                    return cdc_err_ensure(err, "handling the replication message at " CDC_LSN_FMT,
                                          CDC_LSN_ARGS(m.kind == 'w' ? m.data_start : m.wal_end));
                }
            }
        }
        if (agent_router_poll(&ag->router, err) < 0 || run_send_status(ag, false, false, err) < 0)
            return cdc_err_ensure(err, "polling the destinations or sending a status update");
        agent_heartbeat_tick(ag->heartbeat, &ag->router, agent_capture_in_txn(ag->cap));
        if (follow_tables(ag, err) < 0)
            return -1;
        run_update_metrics(ag);
    }
}

static int
start_stream(agent *ag, cdc_err *err)
{
    repl_proto proto = repl_proto_for(repl_server_version(ag->rs));

    /* A reconnection may reach another server (an upgrade): the decoder was made for ag->proto. */
    if (proto.version != ag->proto)
        return cdc_err_set(err, CDC_E_STATE, "the server now offers pgoutput protocol %d, the "
                           "agent started with %d (was PostgreSQL upgraded?); restart the agent",
                           proto.version, ag->proto);
    return repl_start(ag->rs, ag->src->slot_name, 0, ag->src->publication_name, &proto, err);
}

/* Reconnects after a lost connection, waiting by the retry.* rule (agent/core/cdc_retry.h). */
static int
reconnect(agent *ag, cdc_err *err)
{
    cdc_retry_conf rule = cfg_retry_conf(&ag->cfg->platform.retry);
    int            max = ag->cfg->platform.agent.reconnect_max_attempts;

    for (int attempt = 1; !stop_requested && (max == 0 || attempt <= max); attempt++) {
        double sleep_s = (double) cdc_retry_delay_ms(&rule, attempt, &ag->rng) / 1000;

        log_warn("agent", "%s; reconnecting in %.1f s (attempt %d)", err->msg, sleep_s, attempt);
        agent_metrics_error(ag->metrics, err->code);
        agent_metrics_set_repl_state(ag->metrics, AGENT_REPL_RECONNECTING, err->msg);
        agent_sd_status("reconnecting (attempt %d): %s", attempt, err->msg);
        agent_sd_sleep(sleep_s, &stop_requested);
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
            if (err->code != CDC_E_STATE)
                continue;
            /* The slot is gone or invalidated: retrying cannot help. */
            if (ag->rs != NULL && repl_timeline(ag->rs) != ag->timeline)
                cdc_err_wrap(err, "after a failover (%s:%s was promoted: timeline %u, the "
                             "agent streamed on %u), %s", PQhost(repl_conn(ag->rs)),
                             PQport(repl_conn(ag->rs)), repl_timeline(ag->rs), ag->timeline,
                             ag->src->slot_failover
                                 ? "the new primary had no synced copy of the slot (sync_"
                                   "replication_slots, primary_slot_name, hot_standby_feedback "
                                   "on the standby? slot status shows each standby's copy)"
                                 : "the slot had no failover (source.slot_failover: false), so "
                                   "no standby had a copy");
            return -1;
        }
        if (repl_timeline(ag->rs) != ag->timeline)
            log_warn("agent", "reconnected to %s:%s on timeline %u (was %u: a failover): "
                     "streaming from its copy of slot %s; what the copy replays again that "
                     "the destinations hold is skipped", PQhost(repl_conn(ag->rs)),
                     PQport(repl_conn(ag->rs)), repl_timeline(ag->rs), ag->timeline,
                     ag->src->slot_name);
        ag->timeline = repl_timeline(ag->rs);
        agent_capture_set_catalog(ag->cap, ag->sql);
        agent_incr_set_conn(ag->incr, ag->sql);
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
    if (ag->rs && run_send_status(ag, true, false, &ferr) == 0) {
        repl_finish(ag->rs, &ferr);
        log_info("agent", "slot %s: confirmed " CDC_LSN_FMT " at shutdown", ag->src->slot_name,
                 CDC_LSN_ARGS(ag->sent_flush));
    }
    agent_router_poll(&ag->router, &ferr);
    run_note_state(ag, true);
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
    ag->timeline = repl_timeline(ag->rs);
    /* Where PostgreSQL will resume: destinations that hold positions per
       partition (Kafka) look for what they already have from there on. */
    if (run_read_slot(ag, &slot, err) < 0)
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
    ag->proto = repl_proto_for(repl_server_version(ag->rs)).version;
    ag->cap = agent_capture_new(ag->cfg, ag->sql, &ag->router, ag->proto, err);
    if (ag->cap == NULL || run_prepare_source(ag, &done, err) < 0)
        return -1;
    if (done) {
        log_info("agent", "snapshot_mode initial_only: snapshot complete, not streaming");
        return shutdown_agent(ag, err);
    }
    cdc_err_clear(err);     /* agent_incr_new tells "none" from "failed" by err */
    ag->incr = agent_incr_new(ag->src, &ag->state, ag->resume_lsn, repl_server_version(ag->rs),
                              err);
    if (ag->incr == NULL && err->code != CDC_OK)
        return -1;
    if (ag->incr)
        agent_capture_set_change_hook(ag->cap, agent_incr_on_change, ag->incr);
    if (start_stream(ag, err) < 0 ||
        (ag->incr && agent_incr_start(ag->incr, ag->cap, ag->sql, err) < 0))
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
        log_warn("agent", "source.provide_transaction_metadata applies to the transports "
                 "(kafka, pubsub, kinesis) only; the direct-mode sinks ignore it (events carry "
                 "transaction: null)");
    for (int i = 0; i < cfg->pipeline.nsinks; i++) {
        const cfg_sink *sk = &cfg->pipeline.sinks[i];

        if (!sk->enabled || sk->sink_type != CFG_SINK_ICEBERG)
            continue;
        if (sk->iceberg.write_executor_threads > 0)
            log_warn("agent", "sink %s: iceberg.write_executor_threads has no effect: one "
                     "commit thread per sink writes", sk->sink_id);
    }
}

int
agent_run(cdc_config *cfg, cdc_err *err)
{
    agent            ag = { 0 };
    int              rc = -1;
    sch_avro_profile profile;

    ag.cfg = cfg;
    ag.src = &cfg->pipeline.source;
    ag.tables_src = &cfg->pipeline.source;
    ag.tables_checked_ms = cdc_mono_ms();
    stop_requested = 0;
    install_signals();
    warn_unbuilt(cfg);
    ag.rng = cdc_rng_seed();
    if (cfg->platform.agent.stop_lsn && *cfg->platform.agent.stop_lsn &&
        cdc_lsn_parse(cfg->platform.agent.stop_lsn, &ag.stop_lsn) < 0)
        return cdc_err_set(err, CDC_E_CONFIG, "agent.stop_lsn: \"%s\" is not an LSN (X/Y)",
                           cfg->platform.agent.stop_lsn);
    sch_json_opts_default(&ag.json);
    ag.json.server_name = cfg->pipeline.topic_prefix;
    ag.json.database = ag.src->database;
    ag.json.version = DEBEZIUM_VERSION;
    ag.json.unavailable_placeholder = ag.src->unavailable_value_placeholder;
    ag.json.name_mode = sch_name_mode_parse(ag.src->schema_name_adjustment_mode);
    /* every destination that writes Debezium's JSON follows kafka.debezium_version */
    if (sch_avro_profile_parse(cfg->platform.kafka.debezium_version, &profile) < 0)
        return cdc_err_set(err, CDC_E_CONFIG, "kafka.debezium_version: no compat profile for "
                           "Debezium \"%s\" (1.9 to 3.x are known)",
                           cfg->platform.kafka.debezium_version);
    ag.json.profile = (int) profile;
    ag.metrics = agent_metrics_new(cfg->pipeline.pipeline_id, ag.src->slot_name);
    agent_metrics_set_repl_state(ag.metrics, AGENT_REPL_CONNECTING, NULL);
    ag.router.metrics = ag.metrics;
    ag.router.stop = &stop_requested;
    ag.stop = &stop_requested;
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
    agent_incr_free(ag.incr);
    repl_close(ag.rs);
    repl_close(ag.snap_tmp);
    PQfinish(ag.sql);
    agent_wm_free(ag.wm);
    agent_health_stop(ag.health);
    agent_metrics_free(ag.metrics);
    return rc;
}
