/*
 * High availability on the source (docs/ha.md): failover slots that
 * PostgreSQL 17+ synchronises to its standbys (source.slot_failover), what
 * a failover needs on the standby side, and the slot that is missing on the
 * server the agent reached after one.
 */
#ifndef CDC_AGENT_SOURCE_FAILOVER_H
#define CDC_AGENT_SOURCE_FAILOVER_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "agent/config/config.h"
#include "agent/core/cdc_err.h"

/* The first server with failover slots (PQserverVersion form). */
#define AGENT_PG_FAILOVER_VERSION 170000

/*
 * At start, with source.slot_failover: refuses a server older than 17
 * (CDC_E_CONFIG naming the key, host and version); gives an existing slot
 * without failover its failover (ALTER_REPLICATION_SLOT on @p repl); logs a
 * warning for each thing a failover now would lose the slot or changes by
 * (agent_failover_warnings).  Without the key: nothing.
 * @returns 0, or -1 with err set.
 */
int agent_failover_prepare(PGconn *sql, PGconn *repl, const cfg_source *src, bool slot_exists,
                           cdc_err *err);

/*
 * The standby side of the slot as `slot status` shows it, in @p obj: the
 * primary's synchronized_standby_slots, its physical slots (the standbys),
 * and for every other host of source.host that answers, the slot there
 * (failover, synced, confirmed_flush_lsn).  Warnings go to @p warnings (an
 * array of strings): a failover now would lose the slot, or changes.
 * Only on 17+; @p failover is the slot's pg_replication_slots.failover.
 */
void agent_failover_status(PGconn *conn, const cfg_source *src, bool failover, json_t *obj,
                           json_t *warnings);

/*
 * Before a slot is created: on a standby (16+) the creation waits for the
 * primary's next running-transactions record; says so in the log, with how
 * to shorten the wait (pg_log_standby_snapshot() on the primary).
 */
void agent_standby_slot_note(PGconn *sql, const char *slot);

#endif
