/*
 * Debezium's transaction metadata for every bus
 * (source.provide_transaction_metadata; CONTRACT.md 1.3): a BEGIN record on
 * "{prefix}.transaction" before a transaction's first event, the envelope's
 * "transaction" block on each data event, and an END record with the counts
 * per table at commit.
 *
 * Debezium 2.7 names a PostgreSQL transaction "{xid}:{lsn}" where lsn is the
 * position of the record being written: BEGIN carries the LSN pgoutput sent
 * its BEGIN at (the first change's), a data event its own source.lsn, END the
 * commit record's end.  Snapshot rows and non-transactional logical messages
 * take no part; logical messages inside a transaction get no block and are
 * not counted, like tombstones, unless count_messages is set.  Debezium 3.x
 * counts each as a data collection of its own, named by the default
 * Object.toString() of a new LogicalDecodingMessageId: "io.debezium.connector.
 * postgresql.LogicalDecodingMessageMonitor$LogicalDecodingMessageId@" and a
 * JVM identity hash (random, 31 bits, lower-case hex), so each message is a
 * data_collections entry with event_count 1 at a run-specific place
 * (seen with 3.6.1.Final in test/integration/861).
 *
 * This file only keeps the counts and renders records; schemas/message.h
 * wraps it for the buses (sch_msg_tx_*), which decide when to write them.
 */
#ifndef CDC_SCHEMAS_TXMETA_H
#define CDC_SCHEMAS_TXMETA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_event.h"

typedef struct sch_txm_coll {
    char    *name;      /* "schema.table" (Debezium's TableId) */
    int64_t  count;
    uint32_t hash;      /* Java's String.hashCode of name */
} sch_txm_coll;

typedef struct sch_txm {
    uint64_t      commit_lsn;   /* the transaction being counted; 0: none */
    bool          begun;        /* its BEGIN record is written (or already held) */
    bool          ended;        /* its END record is written (or already held) */
    int64_t       total;
    sch_txm_coll *colls;        /* in first-seen order */
    size_t        ncolls, cap;
    size_t        hash_cap;     /* the capacity Java's HashMap would have grown to */
    bool          have_last;
    cdc_pos       last;         /* the last event counted: a retried write is not counted twice */
    cdc_tx_block  block;        /* ... and its block */
    bool          count_messages;   /* 3.x: transactional logical messages take part */
    uint64_t      rng;              /* their identity hashes; seeded on first use */
} sch_txm;

/* A logical message's data collection name, before its identity hash. */
#define SCH_TXM_MESSAGE_ID \
    "io.debezium.connector.postgresql.LogicalDecodingMessageMonitor$LogicalDecodingMessageId@"

/* True when ev belongs to a transaction Debezium reports (streamed, with an xid). */
bool sch_txm_applies(const cdc_event *ev);

/* Starts counting the transaction committing at commit_lsn unless it is the current one. */
void sch_txm_enter(sch_txm *t, uint64_t commit_lsn);

/* Counts ev (a data event, or with count_messages a transactional logical message) once
   and returns its block; NULL for events that get none. */
const cdc_tx_block *sch_txm_count(sch_txm *t, const cdc_event *ev);

/* "xid:lsn" into out. */
void sch_txm_id(char *out, size_t outsz, uint32_t xid, uint64_t lsn);

/*
 * The record's key and value as Kafka's JsonConverter writes them
 * (schemas_enable: with the Connect schema).  end: an END record with the
 * counts of t, else BEGIN.
 */
void sch_txm_json(cdc_buf *kbuf, cdc_buf *vbuf, const sch_txm *t, bool end, const char *id,
                  int64_t ts_ms, bool schemas_enable);

/* The Avro schemas AvroConverter derives from Debezium's Connect schemas. */
extern const char sch_txm_avro_key_schema[];
extern const char sch_txm_avro_value_schema[];

/* The same record in Confluent's Avro wire format, with the given schema ids. */
void sch_txm_avro(cdc_buf *kbuf, cdc_buf *vbuf, const sch_txm *t, bool end, const char *id,
                  int64_t ts_ms, uint32_t key_id, uint32_t value_id);

void sch_txm_free(sch_txm *t);

#endif
