/*
 * The watermark: which LSN the agent may report to PostgreSQL as flushed.
 *
 * It keeps a ring of the transactions in flight, oldest first, and the
 * durable position each destination has reported.  A transaction is done
 * when the main loop has handed all its events to the destinations
 * (agent_wm_commit) and every destination's durable position has reached
 * (commit_lsn, CDC_SEQ_END).  The flush LSN is the end_lsn of the newest
 * transaction that is done together with all earlier ones.
 *
 * Invariant: the flush LSN never passes a transaction that is not durable in
 * every destination.  It only grows, and never falls below the start LSN.
 * The one exception to "only past delivered transactions" is the idle case:
 * with nothing in flight and no transaction open, the server's keepalive WAL
 * end may be confirmed, so an idle publication does not retain WAL.  A
 * keepalive that comes while transactions are still in flight is kept and
 * confirmed as soon as the last of them is durable everywhere (the slot shows
 * the server's end right after a backlog, not at the walsender's next ping).
 *
 * It is not the destinations' bookkeeping: a destination that skips a
 * transaction it already has (on resume) simply reports a durable position at
 * or past it, like any other.  This module is pure: no I/O, no clock.
 * DESIGN.md "Positions, acknowledgement, exactly once" has the reasoning.
 *
 * @thread main loop only; nothing here locks.
 */
#ifndef CDC_AGENT_PIPELINE_WATERMARK_H
#define CDC_AGENT_PIPELINE_WATERMARK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_err.h"
#include "agent/core/cdc_event.h"

typedef struct agent_wm agent_wm;

/**
 * Creates a watermark for @p ndests destinations and at most @p max_inflight
 * transactions in flight.  With ndests == 0 a transaction is done as soon as
 * it is committed (every destination of none has it).
 * @returns a new handle the caller frees with agent_wm_free(), or NULL when
 *          ndests < 0 or max_inflight == 0.  Aborts on out-of-memory.
 */
agent_wm *agent_wm_new(int ndests, size_t max_inflight);
void      agent_wm_free(agent_wm *wm);      /* NULL is a no-op */

/**
 * The initial flush LSN: the slot's confirmed_flush_lsn at start.  The flush
 * LSN is never reported below it.  Call it before the first transaction.
 */
void agent_wm_set_start(agent_wm *wm, uint64_t lsn);

/**
 * A transaction starts being delivered; @p commit_lsn is BEGIN's final_lsn.
 * The BEGIN of the open transaction again (same commit_lsn: the server
 * re-sends it after a reconnect) is accepted and changes nothing.
 * @returns 0, or -1 with err set when commit_lsn is not greater than the
 *          previous transaction's, when another transaction is still open
 *          (begun, not committed), or when the ring is full (check
 *          agent_wm_full() first).
 */
int agent_wm_begin(agent_wm *wm, uint64_t commit_lsn, cdc_err *err);

/**
 * All events of the open transaction have been handed to the destinations;
 * @p end_lsn is the end of its commit record, the LSN that gets confirmed.
 * A call that does not match the open transaction is logged and ignored:
 * the transaction then stays in flight, which stalls the flush LSN rather
 * than confirming something undelivered.
 */
void agent_wm_commit(agent_wm *wm, uint64_t commit_lsn, uint64_t end_lsn);

/**
 * Destination @p dest_index (0 .. ndests-1) reports the highest position it
 * has made durable.  Positions are monotonic per destination; a regression
 * is ignored and counted (agent_wm_regressions()).
 */
void agent_wm_dest_progress(agent_wm *wm, int dest_index, cdc_pos durable);

/**
 * The LSN to report as flushed: the end_lsn of the newest transaction that,
 * with all earlier ones, is committed and durable everywhere; the start LSN
 * (0 if unset) until then.  The ring is advanced by the calls that change
 * it, so this is a plain read.
 */
uint64_t agent_wm_flush_lsn(const agent_wm *wm);

/**
 * A keepalive outside any transaction: the server has sent everything before
 * @p wal_end.  Confirms it at once when nothing is in flight; with committed
 * transactions still in flight, keeps it and confirms it when the last of
 * them is durable everywhere (unless a later transaction has begun by then,
 * whose own commit moves the flush LSN past it).  Ignored while a
 * transaction is open.  Never moves the flush LSN back.
 */
void agent_wm_idle_advance(agent_wm *wm, uint64_t wal_end);

/* Transactions begun and not yet done, the open one included. */
size_t agent_wm_inflight(const agent_wm *wm);
/*
 * max_inflight transactions are in flight and none is open: stop reading from
 * PostgreSQL (backpressure) but keep sending status updates.  An open
 * transaction in the last slot does not make the ring full: the loop must read
 * on to its commit, or with nothing else to drain it would wait forever.
 */
bool   agent_wm_full(const agent_wm *wm);
/* Nothing in flight and not inside a transaction. */
bool   agent_wm_idle(const agent_wm *wm);

/* Durable position last reported by a destination ({0, 0} before the first
 * report or for an index out of range); for health and metrics. */
cdc_pos  agent_wm_dest_pos(const agent_wm *wm, int dest_index);
/* Progress reports ignored because they went backwards. */
uint64_t agent_wm_regressions(const agent_wm *wm);

#endif
