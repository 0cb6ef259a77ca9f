/*
 * A destination's health as the agent reports it (/readyz, cdcagent_dest_*
 * metrics): the destinations fill it (agent/core/dest/cdc_dest.h, health op),
 * operations show it (agent/ops/).  In core so that both can name it.
 */
#ifndef CDC_AGENT_CORE_CDC_HEALTH_H
#define CDC_AGENT_CORE_CDC_HEALTH_H

typedef enum cdc_dest_state { CDC_DEST_OK = 0, CDC_DEST_DEGRADED, CDC_DEST_ERROR } cdc_dest_state;

typedef struct cdc_health {
    cdc_dest_state state;
    char           detail[200];
} cdc_health;

#endif
