/*
 * The warnings of `slot status` (agent/source/slot.c) and of the standby side
 * of a failover slot (agent/source/failover.c): plain sentences in a JSON
 * array, printed as "warning: ..." or kept in --json's "warnings".
 */
#ifndef CDC_AGENT_SOURCE_SLOT_WARN_H
#define CDC_AGENT_SOURCE_SLOT_WARN_H

#include <jansson.h>

#include "agent/core/cdc_err.h"

/* Appends one warning (printf-style, cut at 640 bytes) to @p w. */
void agent_slot_warn(json_t *w, const char *fmt, ...) CDC_PRINTF(2, 3);

#endif
