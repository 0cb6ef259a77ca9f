/*
 * Restart of the Kinesis transport: what the streams already hold of the
 * events PostgreSQL will send again, so that write() skips exactly those
 * (as the Kafka transport reads back its partitions, kafka_resume.c).
 *
 * Reading.  For each stream (the streams of source.tables, plus those with
 * items in the checkpoint table) and each of its shards (ListShards, closed
 * parents included), GetShardIterator AFTER_SEQUENCE_NUMBER of the shard's
 * usable checkpoint (kinesis_ckpt_start), or TRIM_HORIZON when there is
 * none, then GetRecords to the end of the shard.  Dead-letter streams
 * ("<stream>-<dlq suffix>") are not read: their records are envelopes, never
 * sent again by a restart.
 *
 * Identity.  Kinesis records carry no headers, so a record's identity comes
 * from its data, Debezium's value (JSON, with or without {schema,payload}):
 *     stream | op | source.lsn | source.txId [| partition key, for op "r"]
 * source.lsn is the change's own LSN (cdc_event.lsn): each change of a
 * transaction has its own, so (lsn, txId) names one change; op separates the
 * events one change gives (an UPDATE that changes the key: a "d" and a "c"
 * at one LSN, plus a tombstone); the stream separates the tables of one
 * TRUNCATE (one LSN, one event per table); a logical message is op "m" at its
 * own LSN, txId null when it is not transactional.  Snapshot rows ("r") all
 * share the consistent point as source.lsn, so their identity adds the
 * partition key (the row's key); rows of a table without a key share the
 * partition key "default", so identities are counted (a multiset): n held
 * copies skip n events.  A tombstone (empty data) takes the identity of the
 * delete before it of the same partition key in the same stream, with op
 * "T": per key, order is kept both in the shard and in what write() sees.
 * The transaction topic's records ({"status":"BEGIN"|"END","id":...}) are
 * identified by status and id.
 *
 * Avro.  An Avro value (Confluent framing: magic byte 0, schema id) cannot
 * be read without the registry's schema: such records are counted, logged
 * once ("at-least-once after a restart with Avro"), and never skipped: a
 * restart may write again the events in flight at the crash.
 *
 * A tombstone whose delete precedes where the read began (the pair was
 * durable before the checkpoint, so neither comes again) is only counted.
 * Anything else (records another tool wrote that are not Debezium values)
 * sets holds_foreign.  The destination's newest_held is the newest position
 * the checkpoint items name, or the newest source.lsn read (a lower bound of
 * its commit position) with seq 0; held_unordered is set whenever anything
 * is held (shards fill independently).
 *
 * How the write path uses it (with kinesis_ckpt.h):
 *     open:        ckpt = kinesis_ckpt_open(ddb, &conf, err); keep env->resume_lsn
 *     resume_from: *last_done = {0,0}; r = kin_resume_load(&rc, d, err)
 *     write:       after encoding, before queueing:
 *                    if (kin_resume_has(r, stream, ev->lsn, pkey, pklen, value, len))
 *                        { t = dest_acks_push(&acks, ev->pos); dest_acks_done(&acks, t);
 *                          return 0; }          -- already there: done at once
 *                    written = ev->pos           -- newest accepted
 *     a record's SequenceNumber: kinesis_ckpt_note(ckpt, stream, shard, pos, seqno)
 *                    (not for dead-letter streams)
 *     progress:    kinesis_ckpt_flush(ckpt, written, false, &e)  (never blocks)
 *     flush:       kinesis_ckpt_flush(ckpt, written, true, err) once nothing waits
 *     close:       kin_resume_free(r); kinesis_ckpt_close(ckpt)
 * (test/integration/538 passed with exactly this wiring on i19-kinesis + i19-enc.)
 *
 * @locality the agent's loop; kin_resume_load blocks (start-up only).
 */
#ifndef CDC_TRANSPORTS_KINESIS_KINESIS_RESUME_H
#define CDC_TRANSPORTS_KINESIS_KINESIS_RESUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_err.h"
#include "agent/core/cdc_event.h"
#include "agent/core/cdc_retry.h"
#include "agent/core/dest/cdc_dest.h"
#include "agent/core/net/aws_json.h"
#include "transports/kinesis/kinesis_ckpt.h"

typedef struct kin_resume_conf {
    cdc_aws_json         *kinesis;      /* a Kinesis client (JSON 1.1), borrowed */
    kin_ckpt             *ckpt;         /* loaded checkpoints (and held while the replay runs:
                                           kinesis_ckpt_hold); NULL: every shard from its start */
    const char *const    *streams;      /* stream names to read (source.tables'), borrowed */
    int                   nstreams;
    const char           *dlq_suffix;   /* NULL: "dlq" */
    uint64_t              resume_lsn;   /* env->resume_lsn: 0 = no slot yet, nothing is read */
    const cdc_retry_conf *retry;        /* each call; NULL: 8 attempts from 200 ms */
    int                   get_limit;    /* GetRecords Limit; <= 0: 10000 */
} kin_resume_conf;

typedef struct kin_resume kin_resume;

/*
 * Reads what the streams hold (see the top) and fills d->newest_held,
 * d->held_unordered, d->holds_foreign.  A stream that does not exist holds
 * nothing.  @returns the set (possibly empty), or NULL with err set.
 */
kin_resume *kin_resume_load(const kin_resume_conf *c, cdc_dest *d, cdc_err *err);
void        kin_resume_free(kin_resume *r);   /* NULL is a no-op */

/*
 * Is the record write() is about to send for an event already in the stream?
 * stream: its stream's name; lsn: the event's own LSN (cdc_event.lsn, what
 * source.lsn shows; 0: unknown); pkey: its partition key; data/len: its data
 * exactly as it would be sent (len 0: a tombstone).  Only events whose LSN
 * is among those read at start are parsed: for the others the answer is a
 * hash lookup.  A "yes" consumes one held copy, so a "yes" must end the
 * event's write (done at once, as in the usage above); a "no" may be asked
 * again (a write retried after CDC_E_QUEUE_FULL).  r NULL or empty: false,
 * cheap.
 */
bool kin_resume_has(kin_resume *r, const char *stream, uint64_t lsn, const char *pkey,
                    size_t pklen, const void *data, size_t len);

/* Held copies not yet matched by kin_resume_has (0 once the replay is past them). */
size_t kin_resume_left(const kin_resume *r);
/* Records read at load, and of them: identified, Avro (not identifiable), foreign. */
void   kin_resume_counts(const kin_resume *r, size_t *read, size_t *ident, size_t *avro,
                         size_t *foreign);

/* ---- pure: identities (unit-tested) ------------------------------------- */

/* Tracks the last delete per (stream, partition key) so a tombstone gets its identity. */
typedef struct kin_ident_state kin_ident_state;
kin_ident_state *kin_ident_state_new(void);
void             kin_ident_state_free(kin_ident_state *s);

typedef enum kin_ident_kind {
    KIN_IDENT_OK = 0,       /* out holds the identity */
    KIN_IDENT_AVRO,         /* Confluent-framed Avro: not identifiable here */
    KIN_IDENT_FOREIGN,      /* not a Debezium value (or a tombstone without its delete) */
} kin_ident_kind;

/*
 * The identity of a record (see the top) into out (NUL-terminated, cut to
 * n).  *lsn_out (may be NULL): its source.lsn, 0 when none.
 */
kin_ident_kind kin_ident(kin_ident_state *s, const char *stream, const char *pkey, size_t pklen,
                         const void *data, size_t len, char *out, size_t n,
                         uint64_t *lsn_out);

#endif
