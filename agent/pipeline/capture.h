/*
 * The capture path between the replication stream and the router: each
 * pgoutput message is decoded, its relation enriched from the catalog when
 * it changes, its tuples turned into typed values, and each row change into
 * one or more Debezium events (an UPDATE that changes the key becomes a
 * delete, a tombstone and a create).  Transactions are announced to the
 * watermark as they begin and commit.  Streamed in-progress transactions
 * (protocol 2) are kept in a spill-capable buffer and replayed at Stream
 * Commit, or dropped at Stream Abort.
 *
 * Memory: decoded values live in a per-change arena that is reset after
 * every change, so a transaction of any size passes through in constant
 * memory.  @thread main loop only.
 */
#ifndef CDC_AGENT_PIPELINE_CAPTURE_H
#define CDC_AGENT_PIPELINE_CAPTURE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/config/config.h"
#include "agent/core/cdc_err.h"
#include "agent/core/cdc_event.h"
#include "agent/pipeline/router.h"
#include "decoder/pgoutput.h"
#include "decoder/typemap.h"

typedef struct agent_capture agent_capture;

typedef struct agent_capture_stats {
    uint64_t txns;
    uint64_t changes;
    uint64_t streamed_txns;
    uint64_t aborted_streams;
} agent_capture_stats;

/*
 * @param catalog  borrowed plain connection for catalog look-ups.
 * @param router   borrowed; events go there.
 */
agent_capture *agent_capture_new(const cdc_config *cfg, PGconn *catalog, agent_router *router,
                                 int proto_version, cdc_err *err);
void           agent_capture_free(agent_capture *cap);   /* NULL is a no-op */

/* Handles one XLogData payload whose frame starts at wal_lsn. */
int agent_capture_handle(agent_capture *cap, const uint8_t *data, size_t len, uint64_t wal_lsn,
                         cdc_err *err);

/* True between BEGIN and COMMIT (the stream is mid-transaction). */
bool agent_capture_in_txn(const agent_capture *cap);

/* True between a plain transaction's BEGIN and COMMIT: some of its events may
   have reached the destinations, and its COMMIT is already in the WAL (the
   server sends a transaction that is not streamed only once it committed). */
bool agent_capture_in_plain_txn(const agent_capture *cap);

/* The relation cache, for the snapshot (which installs tables before streaming). */
pgo_relcache *agent_capture_relcache(agent_capture *cap);

/* Enriches rel from the catalog and maps its types, if not done yet for this version. */
int agent_capture_prepare_rel(agent_capture *cap, cdc_rel *rel, cdc_err *err);

const pgo_type_opts *agent_capture_type_opts(const agent_capture *cap);
const agent_capture_stats *agent_capture_get_stats(const agent_capture *cap);
const cdc_config          *agent_capture_config(const agent_capture *cap);

agent_router *agent_capture_router(agent_capture *cap);

/*
 * For events that do not come from the stream (the snapshot): open a
 * transaction at commit_lsn, emit events in it (positions assigned here;
 * ev->source_ts_us kept when set), and commit it with end_lsn.
 */
int agent_capture_txn_begin(agent_capture *cap, uint32_t xid, uint64_t commit_lsn, int64_t ts_us,
                            cdc_err *err);
int agent_capture_emit(agent_capture *cap, cdc_event *ev, cdc_err *err);
int agent_capture_txn_commit(agent_capture *cap, uint64_t end_lsn, cdc_err *err);

/*
 * A function that sees every row change of the stream (and the window markers
 * of AGENT_CAPTURE_WM_PREFIX) before it becomes events
 * (agent/pipeline/incr.h: signals and the incremental snapshot's window), in
 * the transaction committing at commit_lsn, at the change's lsn.  It may emit
 * events into that transaction.  @returns 0, or -1 with err set (the change fails).
 */
/*
 * The prefix of the incremental snapshot's window markers when they are
 * logical decoding messages (incr.h): such a message is never an event; a
 * transactional one goes to the change hook (m->type PGO_MESSAGE).
 */
#define AGENT_CAPTURE_WM_PREFIX "cdcagent-watermark"

typedef int (*agent_capture_change_hook)(void *arg, agent_capture *cap, const pgo_msg *m,
                                         uint64_t commit_lsn, uint64_t lsn, cdc_err *err);
void agent_capture_set_change_hook(agent_capture *cap, agent_capture_change_hook fn, void *arg);

/* Replaces the catalog connection (after a reconnect). */
void agent_capture_set_catalog(agent_capture *cap, PGconn *catalog);

/* Forgets a half-received transaction after the replication connection was lost. */
void agent_capture_reset_stream(agent_capture *cap);

#endif
