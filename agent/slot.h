/*
 * `cdcagent slot status|create|drop`: what a DBA needs to see and do about
 * the pipeline's replication slot, with the agent's own credentials.
 */
#ifndef CDC_AGENT_SLOT_H
#define CDC_AGENT_SLOT_H

#include <stdbool.h>

#include "agent/config.h"
#include "agent/core/cdc_err.h"

/* Prints the slot's state (a table, or one JSON object).  @returns 0, or -1 with err set. */
int agent_slot_status(const cdc_config *cfg, bool json, cdc_err *err);
int agent_slot_create(const cdc_config *cfg, cdc_err *err);
int agent_slot_drop(const cdc_config *cfg, cdc_err *err);

#endif
