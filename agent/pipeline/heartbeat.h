/*
 * Heartbeats (Debezium's heartbeat.interval.ms and heartbeat.action.query).
 *
 * Every interval, between transactions: destinations that have a heartbeat
 * record get one (Kafka: "__debezium-heartbeat.{prefix}"), and the action
 * query, when configured, runs on the source over its own connection.  The
 * query is what keeps a slot moving on a database whose captured tables are
 * quiet while other tables write WAL: it makes a change the slot can
 * confirm.  Neither ever stops the agent: failures are logged and retried at
 * the next beat.  @thread main loop only.
 */
#ifndef CDC_AGENT_PIPELINE_HEARTBEAT_H
#define CDC_AGENT_PIPELINE_HEARTBEAT_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/config/config.h"
#include "agent/pipeline/router.h"

typedef struct agent_heartbeat agent_heartbeat;

/* @returns NULL when heartbeats are off (interval 0). */
agent_heartbeat *agent_heartbeat_new(const cfg_source *src);
void             agent_heartbeat_free(agent_heartbeat *hb);     /* NULL is a no-op */

/* Beats when the interval has passed; in_txn defers it to the next call. */
void agent_heartbeat_tick(agent_heartbeat *hb, agent_router *r, bool in_txn);

/* Beats sent and action queries that failed, for logs and tests. */
uint64_t agent_heartbeat_count(const agent_heartbeat *hb);
uint64_t agent_heartbeat_failures(const agent_heartbeat *hb);

#endif
