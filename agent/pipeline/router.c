#include "agent/pipeline/router.h"

#include <stdlib.h>
#include <time.h>

#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_log.h"

int
agent_router_resume(agent_router *r, cdc_err *err)
{
    for (int i = 0; i < r->ndests; i++) {
        cdc_dest *d = r->dests[i];
        cdc_pos   p = { 0, 0 };

        if (d->ops->resume_from(d, &p, err) < 0)
            return cdc_err_wrap(err, "destination %s", d->id);
        r->written[i] = p;
        agent_wm_dest_progress(r->wm, i, p);
        if (p.lsn)
            log_info("router", "destination %s holds events up to %X/%X #%llu", d->id,
                     (unsigned) (p.lsn >> 32), (unsigned) p.lsn, (unsigned long long) p.seq);
    }
    return 0;
}

#define ROUTER_WAIT_LOG_MS 30000    /* how often a long wait for a destination is logged */

/*
 * Offers ev (or, when ev is NULL, the commit of txn) to destination i until
 * it takes it.  A destination that is down makes the agent wait, never drop
 * (DESIGN.md): the wait has no limit of its own; the destination ends it by
 * taking the event or by failing for good (its retry.max_attempts, dead
 * letters).  Meanwhile the wait hook keeps the replication connection alive.
 */
static int
write_one(agent_router *r, int i, const cdc_event *ev, const cdc_txn *txn, cdc_err *err)
{
    cdc_dest *d = r->dests[i];
    int64_t   since = 0, logged = 0;

    for (;;) {
        if ((ev ? cdc_dest_write(d, ev, err) : cdc_dest_commit_txn(d, txn, err)) == 0) {
            if (logged)
                log_info("router", "destination %s takes events again after %lld s",
                         d->id, (long long) ((cdc_mono_ms() - since) / 1000));
            return 0;
        }
        if (err == NULL || err->code != CDC_E_QUEUE_FULL)
            return cdc_err_wrap(err, "destination %s", d->id);
        if (r->stop && *r->stop)
            return cdc_err_set(err, CDC_E_STATE, "stopping while destination %s still refuses "
                               "new events (%s)", d->id, err->msg);
        if (since == 0)
            since = cdc_mono_ms();
        else if (cdc_mono_ms() - (logged ? logged : since) >= ROUTER_WAIT_LOG_MS) {
            logged = cdc_mono_ms();
            log_warn("router", "destination %s has not taken new events for %lld s (%s); "
                     "waiting for it", d->id, (long long) ((logged - since) / 1000), err->msg);
        }
        /* Backpressure: let the destination drain before offering the event again. */
        if (cdc_dest_flush(d, 1000, err) < 0) {
            if (err->code != CDC_E_TIMEOUT)
                return cdc_err_wrap(err, "destination %s", d->id);
            cdc_err_clear(err);     /* still draining: offered again below */
        }
        if (r->wait_hook && r->wait_hook(r->wait_arg, err) < 0)
            return cdc_err_ensure(err, "waiting for destination %s", d->id);
    }
}

int
agent_router_write(agent_router *r, const cdc_event *ev, cdc_err *err)
{
    bool any = false;

    for (int i = 0; i < r->ndests; i++) {
        if (cdc_pos_cmp(ev->pos, r->written[i]) <= 0)
            continue;
        if (write_one(r, i, ev, NULL, err) < 0)
            return -1;
        r->written[i] = ev->pos;
        any = true;
    }
    if (ev->op != CDC_OP_MESSAGE && ev->op != CDC_OP_TOMBSTONE &&
        cdc_pos_cmp(ev->pos, r->last_row) > 0)
        r->last_row = ev->pos;
    if (any) {
        r->events++;
        agent_metrics_event(r->metrics, ev->rel ? ev->rel->topic : NULL, ev->op);
    }
    else
        r->skipped++;
    return 0;
}

int
agent_router_commit(agent_router *r, const cdc_txn *txn, cdc_err *err)
{
    cdc_pos end = { txn->commit_lsn, CDC_SEQ_END };

    for (int i = 0; i < r->ndests; i++) {
        /* A destination that already held the whole transaction is told nothing new. */
        if (cdc_pos_cmp(end, r->written[i]) <= 0)
            continue;
        if (write_one(r, i, NULL, txn, err) < 0)
            return -1;
        r->written[i] = end;
    }
    return 0;
}

int
agent_router_poll(agent_router *r, cdc_err *err)
{
    for (int i = 0; i < r->ndests; i++) {
        cdc_pos p = { 0, 0 };

        if (cdc_dest_progress(r->dests[i], &p, err) < 0)
            return cdc_err_wrap(err, "destination %s", r->dests[i]->id);
        agent_wm_dest_progress(r->wm, i, p);
    }
    return 0;
}

int
agent_router_flush(agent_router *r, int timeout_ms, cdc_err *err)
{
    int     rc = 0;
    cdc_err first = { 0 };

    /*
     * Every destination is flushed; the error reported is the first one that
     * is not a timeout (a timeout is the destination still pushing back, which
     * callers tolerate), else the first timeout: a later destination's timeout
     * must not hide an earlier one's failure.
     */
    for (int i = 0; i < r->ndests; i++) {
        cdc_err e = { 0 };

        if (cdc_dest_flush(r->dests[i], timeout_ms, &e) >= 0)
            continue;
        cdc_err_ensure(&e, "flush failed");
        cdc_err_wrap(&e, "destination %s", r->dests[i]->id);
        if (rc == 0 || (first.code == CDC_E_TIMEOUT && e.code != CDC_E_TIMEOUT))
            first = e;
        rc = -1;
    }
    if (rc < 0) {
        if (err)
            *err = first;
        return -1;
    }
    return agent_router_poll(r, err);
}

void
agent_router_heartbeat(agent_router *r, int64_t ts_ms)
{
    for (int i = 0; i < r->ndests; i++) {
        cdc_dest *d = r->dests[i];
        cdc_err   err = { 0 };

        if (d->ops->heartbeat && d->ops->heartbeat(d, ts_ms, &err) < 0)
            log_warn("agent", "destination %s: heartbeat not sent: %s", d->id, err.msg);
    }
}

void
agent_router_close(agent_router *r)
{
    for (int i = 0; i < r->ndests; i++) {
        r->dests[i]->ops->close(r->dests[i]);
        free(r->dests[i]);
        r->dests[i] = NULL;
    }
    r->ndests = 0;
}
