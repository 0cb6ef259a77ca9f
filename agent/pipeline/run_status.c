/*
 * `cdcagent run`, what the loop reports: destination states for /metrics and
 * /readyz, the slot's record, and standby status updates that confirm the
 * watermark to the slot.
 */
#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_lsn.h"
#include "agent/ops/sdnotify.h"
#include "agent/pipeline/run_int.h"

/* Destination states and positions for /readyz and /metrics, about once a second. */
void
run_update_metrics(agent *ag)
{
    int64_t now = cdc_mono_ms();

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
    if (ag->incr) {
        agent_incr_progress ip;

        agent_incr_get_progress(ag->incr, &ip);
        agent_metrics_set_incr(ag->metrics, &ip);
    }
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
void
run_note_state(agent *ag, bool force)
{
    int64_t now = cdc_mono_ms();
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

int
run_send_status(agent *ag, bool force, bool reply, cdc_err *err)
{
    uint64_t flush = agent_wm_flush_lsn(ag->wm);
    int64_t  now = cdc_mono_ms();
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
    run_note_state(ag, false);
    return 0;
}
