/*
 * Buffer for streamed in-progress transactions (pgoutput protocol version 2
 * with `streaming on`).  Between Stream Start and Stream Stop the server sends
 * chunks of changes of a transaction that has not committed yet, chunks of
 * several transactions interleaved; at Stream Commit the transaction's
 * changes are replayed in order, at Stream Abort they are dropped.  See the
 * "Logical Streaming Replication Protocol" chapter of the PostgreSQL manual.
 *
 * What is stored is the raw protocol message, copied, with the xid it
 * carried (a subtransaction's changes carry the subtransaction's xid) and the
 * LSN of its XLogData frame.  This module does not decode anything.
 *
 * Memory is bounded: when the buffered transactions would need more than the
 * limit, the largest one's in-memory part is appended to its spill file,
 * created in the spill directory and unlinked at once, so a crash leaves
 * nothing behind.  A message of 8 MiB or more (a large column value) is
 * written to the file at once, never copied in memory.  Replay reads the
 * file back in chunks (a larger message alone, into memory given back after
 * it), then the in-memory tail.  A subtransaction abort never rewrites a file: its xid is remembered
 * and its messages are skipped at replay.
 *
 * @thread main loop only; nothing here locks.
 */
#ifndef CDC_AGENT_PIPELINE_TXBUF_H
#define CDC_AGENT_PIPELINE_TXBUF_H

#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_err.h"

typedef struct agent_txbuf agent_txbuf;

/* Called once per stored message, in order; returns 0 to go on, -1 to stop.
 * @p msg is borrowed and valid only during the call. */
typedef int agent_txbuf_fn(void *arg, uint32_t msg_xid, const uint8_t *msg, size_t len,
                           uint64_t wal_lsn);

/**
 * @param mem_limit_bytes  upper bound of agent_txbuf_mem(); 0 sends every
 *                         message straight to disk.
 * @param spill_dir        borrowed (copied); must be a writable directory.
 * @returns a new buffer the caller frees with agent_txbuf_free(), or NULL with
 *          err set (CDC_E_INVAL, or CDC_E_IO naming spill_dir).
 */
agent_txbuf *agent_txbuf_new(size_t mem_limit_bytes, const char *spill_dir, cdc_err *err);
/* Discards every transaction and closes their spill files; NULL is a no-op. */
void         agent_txbuf_free(agent_txbuf *tb);

/**
 * Stores a copy of one message of @p toplevel_xid that carried @p msg_xid.
 * May spill this or another transaction to disk first.
 * @returns 0, or -1 with err set: CDC_E_INVAL for xid 0 or a message over
 *          4 GiB, CDC_E_IO (naming the spill directory) when spilling fails;
 *          the message is then not stored and earlier ones are kept.
 */
int agent_txbuf_append(agent_txbuf *tb, uint32_t toplevel_xid, uint32_t msg_xid,
                       const uint8_t *msg, size_t len, uint64_t wal_lsn, cdc_err *err);

/**
 * Stream Abort: subxid == toplevel_xid drops the whole transaction; any other
 * subxid drops the messages that carried it.  Unknown xids are not an error.
 * @returns 0, or -1 with err set (CDC_E_INVAL for xid 0).
 */
int agent_txbuf_abort(agent_txbuf *tb, uint32_t toplevel_xid, uint32_t subxid, cdc_err *err);

/**
 * Calls @p fn for each stored message of @p xid in order, skipping aborted
 * subtransactions; memory stays bounded (the spill file is read in chunks).
 * The transaction is kept: call agent_txbuf_discard() afterwards.  An unknown
 * xid replays nothing.
 * @returns 0; -1 when fn returned -1 (err untouched: fn reports its own
 *          error through arg); -1 with err set to CDC_E_IO when the spill
 *          file cannot be read.
 */
int agent_txbuf_replay(agent_txbuf *tb, uint32_t xid, agent_txbuf_fn *fn, void *arg,
                       cdc_err *err);

/* Forgets @p xid: frees its memory, closes its spill file.  Unknown: no-op. */
void agent_txbuf_discard(agent_txbuf *tb, uint32_t xid);

/* Forgets every transaction (a new walsender re-sends them from their first
 * segment); the buffer stays usable.  NULL is a no-op. */
void   agent_txbuf_clear(agent_txbuf *tb);
/* Transactions held, in memory or spilled. */
size_t agent_txbuf_count(const agent_txbuf *tb);

/* Bytes of message storage held in memory over all transactions (always
 * <= mem_limit_bytes); a few dozen bytes of bookkeeping per transaction are
 * not counted. */
size_t   agent_txbuf_mem(const agent_txbuf *tb);
/* Bytes written to spill files since creation, for metrics. */
uint64_t agent_txbuf_spilled(const agent_txbuf *tb);

#endif
