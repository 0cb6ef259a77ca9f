/*
 * Fan-out of events to every destination, and collection of their durable
 * positions into the watermark.  Each destination also has a `written`
 * position: the last event already handed to it (or already held by it at
 * start, from resume_from).  Events at or before it are not written again,
 * which is what makes replay after a restart or reconnect free of
 * duplicates.  @thread main loop only.
 */
#ifndef CDC_AGENT_PIPELINE_ROUTER_H
#define CDC_AGENT_PIPELINE_ROUTER_H

#include <signal.h>

#include "agent/core/dest/cdc_dest.h"
#include "agent/core/cdc_err.h"
#include "agent/core/cdc_event.h"
#include "agent/ops/metrics.h"
#include "agent/pipeline/watermark.h"

#define AGENT_MAX_DESTS 16

typedef struct agent_router {
    cdc_dest  *dests[AGENT_MAX_DESTS];
    cdc_pos    written[AGENT_MAX_DESTS];
    int        ndests;
    agent_wm  *wm;              /* borrowed */
    agent_metrics *metrics;     /* borrowed; NULL counts nothing */
    uint64_t   events;          /* handed to at least one destination */
    uint64_t   skipped;         /* already held by every destination */
    cdc_pos    last_row;        /* newest row event (not a message) written or skipped: a
                                   destination durable at or past it holds it (agent/pipeline/state.h) */
    const volatile sig_atomic_t *stop;  /* set by SIGTERM: stop waiting on a full destination */
    /*
     * Called about once a second while a destination refuses new events
     * (backpressure) and the router waits for it inside a write: the loop
     * keeps PostgreSQL informed there (standby status updates, keepalive
     * replies), or the walsender would end the connection for silence.
     * NULL: nothing.  -1 (err set) ends the wait with that error.
     */
    int      (*wait_hook)(void *arg, cdc_err *err);
    void      *wait_arg;
} agent_router;

/* Asks every destination where it stands; sets written[] and reports progress. */
int  agent_router_resume(agent_router *r, cdc_err *err);
int  agent_router_write(agent_router *r, const cdc_event *ev, cdc_err *err);
int  agent_router_commit(agent_router *r, const cdc_txn *txn, cdc_err *err);
/* Polls every destination's durable position into the watermark. */
int  agent_router_poll(agent_router *r, cdc_err *err);
/* Sends a heartbeat to every destination that has them; failures are logged. */
void agent_router_heartbeat(agent_router *r, int64_t ts_ms);
int  agent_router_flush(agent_router *r, int timeout_ms, cdc_err *err);
void agent_router_close(agent_router *r);

#endif
