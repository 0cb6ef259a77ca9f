/*
 * `cdcagent run`: the agent's one event loop.  It prepares the source
 * (publication, slot, snapshot), opens the destinations, then streams:
 * reading the replication socket in bursts, handing changes to the capture
 * path, polling destinations for what is durable, and confirming the
 * watermark to the slot.  A lost connection is retried with backoff; the
 * destinations skip what they already hold, so nothing is lost or doubled.
 * SIGTERM/SIGINT stop reading, flush, confirm, and return 0.
 */
#ifndef CDC_AGENT_PIPELINE_RUN_H
#define CDC_AGENT_PIPELINE_RUN_H

#include "agent/config/config.h"
#include "agent/core/cdc_err.h"

/* @returns 0 after a clean stop, or -1 with err set. */
int agent_run(cdc_config *cfg, cdc_err *err);   /* tables by pattern may grow its list */

#endif
