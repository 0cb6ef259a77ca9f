/*
 * The warnings of `slot status` (agent/source/slot.c) and of the standby side
 * of a failover slot (agent/source/failover.c): plain sentences in a JSON
 * array, printed as "warning: ..." or kept in --json's "warnings".
 */
#ifndef CDC_AGENT_SOURCE_SLOT_WARN_H
#define CDC_AGENT_SOURCE_SLOT_WARN_H

#include <stddef.h>

#include <jansson.h>

#include "agent/core/cdc_err.h"

/* Appends one warning (printf-style, cut at 640 bytes) to @p w. */
void agent_slot_warn(json_t *w, const char *fmt, ...) CDC_PRINTF(2, 3);

/*
 * Why PostgreSQL invalidated a slot, as a phrase for messages (written into
 * @p buf, returned).  @p reason: pg_replication_slots.invalidation_reason
 * (17+: wal_removed, rows_removed, wal_level_insufficient, idle_timeout),
 * "conflicting" (16: only the conflicting column says it was a recovery
 * conflict), or NULL/"" (wal_status lost, all 13-15 can tell).
 */
const char *agent_slot_invalid_cause(const char *reason, char *buf, size_t n);

/*
 * The invalidation reason in a server's refusal to stream from a slot (SQLSTATE
 * 55000, "can no longer get changes from replication slot"; its DETAIL differs by
 * version), or ending a stream (16+: a standby terminating the walsender of a slot
 * it invalidates, "User was using a logical replication slot that must be
 * invalidated."): "wal_removed", "conflicting" (16-17: "conflicting with recovery"),
 * the name 18 quotes ("invalidated due to \"rows_removed\""), or "" when the
 * message does not say.  Written into @p out (at most @p n bytes).
 */
void agent_slot_invalid_reason_from_error(const char *msg, char *out, size_t n);

#endif
