/*
 * Debezium's transaction metadata for the Kafka transport
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
 * not counted, like tombstones.
 *
 * This file only keeps the counts and renders records; transports/kafka/kafka.c
 * decides when to write them.
 */
#ifndef CDC_TRANSPORTS_KAFKA_KAFKA_TXMETA_H
#define CDC_TRANSPORTS_KAFKA_KAFKA_TXMETA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_event.h"

typedef struct ktx_coll {
    char    *name;      /* "schema.table" (Debezium's TableId) */
    int64_t  count;
    uint32_t hash;      /* Java's String.hashCode of name */
} ktx_coll;

typedef struct ktx {
    uint64_t     commit_lsn;    /* the transaction being counted; 0: none */
    bool         begun;         /* its BEGIN record is written (or already held) */
    bool         ended;         /* its END record is written (or already held) */
    int64_t      total;
    ktx_coll    *colls;         /* in first-seen order */
    size_t       ncolls, cap;
    size_t       hash_cap;      /* the capacity Java's HashMap would have grown to */
    bool         have_last;
    cdc_pos      last;          /* the last event counted: a retried write is not counted twice */
    cdc_tx_block block;         /* ... and its block */
} ktx;

/* True when ev belongs to a transaction Debezium reports (streamed, with an xid). */
bool ktx_applies(const cdc_event *ev);

/* Starts counting the transaction committing at commit_lsn unless it is the current one. */
void ktx_enter(ktx *t, uint64_t commit_lsn);

/* Counts ev (a data event) once and returns its block; NULL for events that get none. */
const cdc_tx_block *ktx_count(ktx *t, const cdc_event *ev);

/* "xid:lsn" into out. */
void ktx_id(char *out, size_t outsz, uint32_t xid, uint64_t lsn);

/*
 * The record's key and value as Kafka's JsonConverter writes them
 * (schemas_enable: with the Connect schema).  end: an END record with the
 * counts of t, else BEGIN.
 */
void ktx_json(cdc_buf *kbuf, cdc_buf *vbuf, const ktx *t, bool end, const char *id,
              int64_t ts_ms, bool schemas_enable);

/* The Avro schemas AvroConverter derives from Debezium's Connect schemas. */
extern const char ktx_avro_key_schema[];
extern const char ktx_avro_value_schema[];

/* The same record in Confluent's Avro wire format, with the given schema ids. */
void ktx_avro(cdc_buf *kbuf, cdc_buf *vbuf, const ktx *t, bool end, const char *id,
              int64_t ts_ms, uint32_t key_id, uint32_t value_id);

void ktx_free(ktx *t);

#endif
