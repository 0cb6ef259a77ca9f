/*
 * The incremental snapshot's progress as `cdcagent slot status` shows it
 * (docs/snapshots.md, "Progress and restarts").
 */
#ifndef CDC_AGENT_PIPELINE_INCR_STATUS_H
#define CDC_AGENT_PIPELINE_INCR_STATUS_H

#include <jansson.h>

#include "agent/config/config.h"

/*
 * Reads the slot's record: state (running, paused, idle), the signal's id,
 * tables_remaining (the one being read first), tables_done, chunks, rows,
 * and while running the table, after_key and max_key.
 * @returns a new object, or NULL when there is no signal table, no record or
 * no incremental snapshot in it.
 */
json_t *agent_incr_status_load(const cdc_config *cfg);

#endif
