/*
 * The Kinesis transport's inside, shared by its files and by nothing outside
 * transports/kinesis/ (the interface is kinesis.h):
 *   kinesis.c         the destination: open, resume_from, write, commit_txn,
 *                     progress, flush, health, close
 *   kinesis_rec.c     partition keys, the per-key queue a record enters, dead
 *                     letters, transaction metadata, heartbeats
 *   kinesis_put.c     PutRecords on cdc_http_multi: which records go in which
 *                     request (per-key order through dest_keyq), the request
 *                     body, what comes back, retries
 *   kinesis_stream.c  synchronous calls (DescribeStreamSummary, CreateStream,
 *                     ListStreams) through aws_json, streams made when
 *                     missing, the checks at start
 *   kinesis_ckpt.c, kinesis_resume.c  (engineer ddb) the DynamoDB checkpoint
 *                     table and what a restart finds already written
 * Everything runs on the agent's main loop: nothing here locks.
 */
#ifndef CDC_TRANSPORTS_KINESIS_KINESIS_INT_H
#define CDC_TRANSPORTS_KINESIS_KINESIS_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_err.h"
#include "agent/core/cdc_event.h"
#include "agent/core/cdc_retry.h"
#include "agent/core/dest/acks.h"
#include "agent/core/dest/keyq.h"
#include "agent/core/dest/status.h"
#include "agent/core/net/aws_creds.h"
#include "agent/core/net/aws_json.h"
#include "agent/core/net/http.h"
#include "schemas/message.h"
#include "transports/kinesis/kinesis.h"
#include "transports/kinesis/kinesis_ckpt.h"
#include "transports/kinesis/kinesis_resume.h"

#define KIN_FAC          "dest.kinesis"
#define KIN_TARGET       "Kinesis_20131202."
#define KIN_CALL_MS      10000      /* each synchronous call (describe, create) */
#define KIN_ACTIVE_MS    120000     /* waiting for a stream created here to be ACTIVE */
#define KIN_ENSURE_RETRY_MS 2000    /* a stream whose check failed is asked again after */
#define KIN_NO_TICKET    UINT64_MAX /* a record outside the event stream (a heartbeat) */
#define KIN_HB_PREFIX    "__debezium-heartbeat"

/* A stream this transport writes (or its dead-letter companion). */
typedef struct kin_stream {
    struct kin_stream *next;
    char              *name;
    bool               ready;       /* exists and is writable */
    bool               dlq;         /* a dead-letter stream */
    bool               hb;          /* the heartbeat stream (1 shard when created) */
    int64_t            next_try_ms; /* not ready: when to ask again */
    struct kin_req    *building;    /* the request being filled (kinesis_put.c) */
} kin_stream;

/* One record from write() until Kinesis returned its SequenceNumber. */
typedef struct kin_rec {
    cdc_pos         pos;
    uint64_t        ticket;     /* in k->acks */
    kin_stream     *st;         /* where it goes (a dead letter: the -dlq stream) */
    char           *pkey;       /* the partition key (<= 256 characters) */
    size_t          pklen;
    char           *data;       /* the record's bytes; NULL with dlen 0 (a tombstone) */
    size_t          dlen;
    int             attempts;   /* failed attempts so far */
    dest_keyq_key  *key;        /* its key while in flight */
} kin_rec;

/* One PutRecords request: records of distinct keys, all for one stream. */
typedef struct kin_req {
    struct kin_req *next;       /* in a building list, k->running or k->free_reqs */
    kin_stream     *st;
    kin_rec       **recs;
    int             n, cap;
    size_t          bytes;      /* data + partition keys, for the 5 MiB limit */
    cdc_aws_call    call;       /* body, answer, signed lines (agent/core/net/aws_json.h) */
    cdc_http_xfer  *x;
    int64_t         sent_ms;
} kin_req;

typedef struct kinesis {
    cdc_aws_provider *aws;
    char             *endpoint;     /* https://kinesis.<region>.amazonaws.com or the override */
    char             *label;        /* the endpoint without credentials, for messages */
    char             *region;
    char             *prefix, *database, *dlq_suffix, *sink_id;
    bool              dlq_enabled;
    int               shard_count, dlq_shard_count;
    int               batch_max, max_inflight, max_records, timeout_ms;
    size_t            max_bytes;
    cdc_retry_conf    retry;
    uint64_t          rng;
    sch_json_opts     jopts;
    sch_msg_enc      *enc;
    kin_stream       *streams;
    cdc_http_multi   *multi;
    dest_keyq        *q;
    dest_acks         acks;
    kin_req          *free_reqs;
    kin_req          *running;      /* requests in flight (to free them at close) */
    int               inflight;     /* requests running */
    size_t            nrecs, bytes; /* records held (waiting or in flight) and their bytes */
    cdc_aws_json     *kj, *ddb;     /* Kinesis and DynamoDB clients (resume, checkpoint) */
    kin_ckpt         *ckpt;         /* the DynamoDB checkpoint table; NULL: replay only */
    kin_resume       *resume;       /* what the streams held at start */
    char            **tstreams;     /* the streams of source.tables (resume reads them) */
    int               ntstreams;
    uint64_t          resume_lsn;
    cdc_pos           written;      /* the newest position write() queued */
    bool              tx_on;        /* provide_transaction_metadata */
    uint64_t          nput, nreq, nretries, nthrottled, ndlq, nskipped, nhb, nhb_lost;
    int64_t           last_ok_ms;
    int64_t           stream_wait_ms;  /* write() waits for a stream until then (flush sleeps) */
    dest_status       st;
    char              stlabel[300];
} kinesis;

/* An AWS answer to a synchronous call. */
typedef struct kin_answer {
    bool  answered;
    long  status;
    char  type[96];       /* "ResourceNotFoundException" (after '#'), "" when none */
    char  msg[300];       /* AWS's message, or the transport error */
    bool  retry;          /* worth another attempt (no answer, 5xx, throttling) */
} kin_answer;

/* kinesis_stream.c */
/* One synchronous call; a 2xx answer's JSON into *out (may be NULL; json_decref it).
   @returns 0 (see *a), or -1 with err set when it could not be made at all. */
int  kin_call(kinesis *k, const char *target, const char *body, json_t **out, kin_answer *a,
              cdc_err *err);
/* s[0..n) as a JSON string (escaped) appended to b. */
void kin_json_str(cdc_buf *b, const char *s, size_t n);
/* The stream named name (added when new). */
kin_stream *kin_stream_get(kinesis *k, const char *name, bool dlq);
/* Makes sure st exists and is ACTIVE (creating it when missing); with block
   (open() only) it waits up to KIN_ACTIVE_MS for ACTIVE, else a stream still
   being created is CDC_E_CONN at once (the agent's loop must not stop).
   @returns 0, or -1 with err: CDC_E_CONFIG/CDC_E_DEST for good (credentials,
   rights), CDC_E_CONN/CDC_E_TIMEOUT when worth another try later. */
int  kin_stream_ensure(kinesis *k, kin_stream *st, bool block, cdc_err *err);
/* The check at start: credentials, region and endpoint answer. */
int  kin_check_start(kinesis *k, cdc_err *err);

/* Makes st usable for write(): a transient failure is CDC_E_QUEUE_FULL (the router waits
   and asks again; k->stream_wait_ms says until when), anything else fails the destination
   (unless quiet: the caller fails it with its own message). */
int  kin_stream_ready_as(kinesis *k, kin_stream *st, bool quiet, cdc_err *err);
int  kin_stream_ready(kinesis *k, kin_stream *st, cdc_err *err);

/* kinesis_rec.c */
/* The partition key of a record: JSON text, or Avro bytes (kinesis.h). */
size_t kin_pkey(const sch_msg *m, char *out, size_t outsz);
/* Queues a record behind the earlier ones of its unit of order (stream `order` + partition
   key; keyless: the position alone).  Takes data.  ticket: its ring slot or KIN_NO_TICKET. */
void   kin_queue(kinesis *k, kin_stream *to, const char *order, bool keyless, cdc_pos pos,
                 const char *pkey, size_t pklen, char *data, size_t dlen, uint64_t ticket);
/* A copy of the value's bytes; NULL for a tombstone or an empty value. */
char  *kin_copy_value(const sch_msg *m, size_t *len);
/* The small JSON dead letter standing in for a record of size bytes over 1 MiB. */
char  *kin_dead_letter(kinesis *k, const cdc_event *ev, const char *stream, const sch_msg *m,
                       size_t size, size_t *len);
/* "schema.table" of ev, for messages. */
void   kin_table_of(const cdc_event *ev, char *out, size_t n);
/* BEGIN or END of txn in "<prefix>-transaction", at ring position ring_pos. */
int    kin_tx_record(kinesis *k, const cdc_txn *txn, bool end, cdc_pos ring_pos, cdc_err *err);
/* The heartbeat op. */
int    kin_heartbeat(cdc_dest *d, int64_t ts_ms, cdc_err *err);

/* kinesis_put.c */
void kin_rec_free(kin_rec *r);
/* Everything that can happen without waiting: finished requests, new ones. */
int  kin_pump(kinesis *k, cdc_err *err);
void kin_req_free(kin_req *r);

#endif
