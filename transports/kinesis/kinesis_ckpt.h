/*
 * The Kinesis transport's checkpoint table in DynamoDB
 * (kinesis.checkpoint_table_name, default "cdc-kinesis-checkpoints"): per
 * stream and shard, how far the shard is known to hold only events the slot
 * will not send again, so that a restart reads each shard forward from there
 * (kinesis_resume.c) instead of from its start.
 *
 * Table: created when missing (PAY_PER_REQUEST), never altered when it
 * exists.  Keys: partition key "pk" (S) = "<pipeline_id>#<stream>", sort key
 * "shard" (S) = the shard id: one item per shard, the items of one stream
 * together, several pipelines in one table.  With checkpoint_ttl_seconds > 0
 * the table gets TTL on "expires_at" (when created here) and each item
 * expires_at = written + ttl: an idle stream's items go away, and a shard
 * without an item is read from TRIM_HORIZON at restart (correct, slower).
 *
 * What an item says.  A checkpoint (seqno S, position P) of a shard means:
 * every record of the shard up to sequence number S belongs to an event at
 * or before P.  The write path notes each record that PutRecords returned
 * (kinesis_ckpt_note: the shard's newest sequence number); at flush P is the
 * newest position write() has accepted so far (every record sent, in flight
 * or landed, is at or before it).  At restart, a shard may be read from S
 * only if the slot will not send P again (P.lsn < the slot's confirmed
 * position); since the slot is confirmed a little after the write path made
 * things durable, an item keeps the last KIN_CKPT_GENS checkpoints, at least
 * KIN_CKPT_SPACING_MS apart, and resume takes the newest that qualifies
 * (none: TRIM_HORIZON).  Correctness never rests on timing: only how far back
 * a restart reads does.
 *
 * After a restart.  The records the previous run left after its checkpoints
 * may be at positions beyond anything this run has accepted yet (PostgreSQL
 * sends them again, write() skips them): until write() has accepted a
 * position past the newest source.lsn read back (kinesis_ckpt_hold, called
 * by kin_resume_load), new checkpoints are written as KIN_CKPT_UNUSABLE: a
 * crash during that replay makes the next restart use an older checkpoint or
 * read the shard from its start, never skip what it must read.
 *
 * Writes: PutItem of each changed shard, conditional on not going backwards
 * (attribute_not_exists(pk) OR wlsn <= :w), one at a time on the
 * checkpoint's own cdc_http_multi: kinesis_ckpt_flush() never blocks the
 * loop (it starts a round of writes at most every flush_every_ms and drives
 * the one in flight), except when forced (the transport's flush and close),
 * which waits for the round up to 10 s.  A failed write is returned
 * (retryable) and the next round writes the newest state anyway: a
 * checkpoint is an optimisation of restart, never needed for correctness.
 * A refused condition (another agent wrote a newer checkpoint: two agents on
 * one pipeline) is logged, not fatal.
 *
 * @locality the agent's loop.
 */
#ifndef CDC_TRANSPORTS_KINESIS_KINESIS_CKPT_H
#define CDC_TRANSPORTS_KINESIS_KINESIS_CKPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_err.h"
#include "agent/core/cdc_event.h"
#include "agent/core/cdc_retry.h"
#include "agent/core/net/aws_json.h"

#define KIN_CKPT_TABLE_DEFAULT "cdc-kinesis-checkpoints"
#define KIN_CKPT_GENS          4
#define KIN_CKPT_SPACING_MS    5000
#define KIN_CKPT_SEQNO_MAX     136      /* Kinesis sequence numbers: up to 128 digits */

typedef struct kin_ckpt_conf {
    const char           *table;          /* NULL or "": KIN_CKPT_TABLE_DEFAULT */
    const char           *pipeline_id;    /* required: the items' partition key prefix */
    int                   ttl_s;          /* checkpoint_ttl_seconds; <= 0: items never expire */
    int                   flush_every_ms; /* <= 0: 1000 */
    const cdc_retry_conf *retry;          /* start-up calls; NULL: 6 attempts from 200 ms */
    int                   active_wait_ms; /* how long CreateTable may take; <= 0: 60000 */
} kin_ckpt_conf;

/* One checkpoint of a shard. */
typedef struct kin_ckpt_gen {
    char    seqno[KIN_CKPT_SEQNO_MAX];
    cdc_pos pos;
    int64_t at_ms;          /* wall clock when written */
} kin_ckpt_gen;

/* The position of a checkpoint written while a restart's replay was not over: never used. */
#define KIN_CKPT_UNUSABLE ((cdc_pos) { UINT64_MAX, UINT64_MAX })

/* One item: a shard's checkpoints, newest first. */
typedef struct kin_ckpt_item {
    char         stream[160];
    char         shard[128];
    kin_ckpt_gen gen[KIN_CKPT_GENS];
    int          ngen;
    cdc_pos      w;          /* the newest position accepted when last written ("wlsn",
                                "wseq"): what the conditional write compares */
    int64_t      expires_s;  /* expires_at (Unix seconds); 0: none */
} kin_ckpt_item;

typedef struct kin_ckpt kin_ckpt;

/*
 * Makes sure the table exists (DescribeTable; CreateTable when missing, then
 * waits for ACTIVE; UpdateTimeToLive when ttl_s > 0 on a table created here;
 * logs what was created) and loads this pipeline's items (Scan, filtered on
 * the pipeline's prefix).  ddb: a DynamoDB client (JSON 1.0), borrowed.
 * @returns the checkpoint, or NULL with err set: CDC_E_CONFIG for refused
 * credentials or rights (naming the table and the region's endpoint),
 * CDC_E_CONN/CDC_E_TIMEOUT when DynamoDB did not answer within the retries.
 */
kin_ckpt *kinesis_ckpt_open(cdc_aws_json *ddb, const kin_ckpt_conf *c, cdc_err *err);
void      kinesis_ckpt_close(kin_ckpt *k);   /* no write: flush first; NULL is a no-op */

/* The table's name. */
const char *kinesis_ckpt_table(const kin_ckpt *k);

/*
 * Records that a record of `stream` landed in `shard` with sequence number
 * seqno (as PutRecords returned it), for event position pos.  Keeps the
 * newest sequence number per shard (numeric order).  Memory only; cheap.
 */
void kinesis_ckpt_note(kin_ckpt *k, const char *stream, const char *shard, cdc_pos pos,
                       const char *seqno);

/*
 * Writes the shards noted since their last write (see the top): call it
 * from the loop as often as convenient (it starts a round at most every
 * flush_every_ms and otherwise only drives the request in flight), and with
 * force at the transport's flush.  written: the newest position write() has
 * accepted so far.  @returns 0, or -1 with err set when a write failed (the
 * shard stays changed: a later round writes it again; not fatal).  The
 * checkpoint logs the first failure and the recovery itself: the caller need
 * not log each -1.
 */
int kinesis_ckpt_flush(kin_ckpt *k, cdc_pos written, bool force, cdc_err *err);

/* ---- for resume --------------------------------------------------------- */

/* Checkpoints are written unusable until write() accepts a position past lsn (see the top;
   kin_resume_load calls it with the newest source.lsn it read).  k NULL: no-op. */
void kinesis_ckpt_hold(kin_ckpt *k, uint64_t lsn);

/* The loaded items of this pipeline (their count; *items borrowed from k); k NULL: 0. */
size_t kinesis_ckpt_items(const kin_ckpt *k, const kin_ckpt_item **items);

/*
 * Where to read a shard from after a restart whose slot resumes after
 * resume_lsn: the newest checkpoint of the shard with pos.lsn < resume_lsn.
 * @returns it (borrowed), or NULL: no such checkpoint (read the whole shard).
 */
const kin_ckpt_gen *kinesis_ckpt_start(const kin_ckpt *k, const char *stream,
                                       const char *shard, uint64_t resume_lsn);

/* ---- pure: the item's encoding (unit-tested) ---------------------------- */

/* PutItem's request body for it (table, pipeline_id), conditional on not going backwards. */
void kin_ckpt_put_body(const char *table, const char *pipeline_id, const kin_ckpt_item *it,
                       cdc_buf *out);
/* An item of a Scan/GetItem answer (DynamoDB's typed JSON) into *it; false when it is
   not one of pipeline_id's checkpoint items. */
bool kin_ckpt_item_decode(const char *pipeline_id, json_t *item, kin_ckpt_item *it);
/* Adds checkpoint g as the item's newest: replaces the newest one when it is younger than
   spacing_ms, else shifts the older ones down (the oldest goes). */
void kin_ckpt_item_push(kin_ckpt_item *it, const kin_ckpt_gen *g, int64_t spacing_ms);
/* Numeric order of two Kinesis sequence numbers (decimal strings): <0, 0, >0. */
int  kin_seqno_cmp(const char *a, const char *b);

#endif
