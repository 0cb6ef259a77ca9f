/*
 * The record every message bus carries for one event: Debezium's key and
 * value (JSON as JsonConverter writes them, or Avro in Confluent's wire
 * format with the schemas registered), plus the headers the Kafka transport
 * sends (cdc.commit_lsn, cdc.seq, cdc.xid, __debezium.newkey/oldkey).  Kafka
 * sends them as record headers, Pub/Sub as message attributes, Kinesis
 * inside the record (it has no headers).
 *
 * One encoder per destination; everything it hands out (sch_msg's pointers)
 * stays valid until the next call on the same encoder.  Nothing here talks to
 * the network except the Schema Registry client used for Avro.
 */
#ifndef CDC_SCHEMAS_MESSAGE_H
#define CDC_SCHEMAS_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_err.h"
#include "agent/core/cdc_event.h"
#include "schemas/avro.h"
#include "schemas/json.h"
#include "schemas/registry.h"

#define SCH_MSG_HDRS 12

/* One header: a name and a value of len bytes (not NUL-terminated in general). */
typedef struct sch_hdr {
    const char *name;
    const char *value;
    size_t      len;
} sch_hdr;

typedef struct sch_msg {
    const char *key;            /* NULL with null_key */
    size_t      key_len;
    bool        null_key;       /* no key columns, a truncate, a logical message's rule */
    const char *value;          /* NULL with null_value */
    size_t      value_len;
    bool        null_value;     /* a tombstone */
    sch_hdr     hdrs[SCH_MSG_HDRS];
    int         nhdrs;
    const char *content_type;   /* "application/json" or "application/avro" (Confluent framing) */
    uint32_t    key_schema_id;  /* Avro: the registry's ids; 0 with JSON */
    uint32_t    value_schema_id;
} sch_msg;

typedef struct sch_msg_conf {
    sch_json_opts        json;            /* JSON: the converter's options (schemas_enable...) */
    const sr_conf       *registry;        /* non-NULL: Avro, schemas registered here */
    const sch_avro_opts *avro;            /* with registry */
    bool                 stop_on_incompatible;
} sch_msg_conf;

typedef struct sch_msg_enc sch_msg_enc;

sch_msg_enc *sch_msg_enc_new(const sch_msg_conf *c, cdc_err *err);
void         sch_msg_enc_free(sch_msg_enc *e);     /* NULL is a no-op */

/*
 * Encodes ev for `topic` (Avro subjects are "<topic>-key" and "<topic>-value")
 * into *m.  @returns 0, or -1 with err set: CDC_E_CONN/CDC_E_TIMEOUT when the
 * Schema Registry could not be reached (retry later), anything else for good.
 */
int sch_msg_encode(sch_msg_enc *e, const cdc_event *ev, const char *topic, sch_msg *m,
                   cdc_err *err);

/* Debezium's heartbeat record (ServerNameKey{serverName}, Heartbeat{ts_ms}) for `topic`. */
int sch_msg_heartbeat(sch_msg_enc *e, const char *topic, const char *server_name, int64_t ts_ms,
                      sch_msg *m, cdc_err *err);

/*
 * The name of ev's topic, stream or Pub/Sub topic on a bus that names them as
 * the platform's provisioner does: Debezium's topic name (sch_event_topic)
 * with each '.' replaced by `sep` ('-' for Pub/Sub and Kinesis:
 * "cdc-public-customers").  @returns out.
 */
char *sch_msg_bus_name(const cdc_event *ev, const char *prefix, char sep, char *out,
                       size_t outsz);

/*
 * Transaction metadata (source.provide_transaction_metadata; CONTRACT.md 1.3,
 * schemas/txmeta.h): a BEGIN record on "{prefix}.transaction" before the
 * first event of a transaction, the envelope's "transaction" block on each of
 * its data events, an END record with the counts per table at commit.  The
 * encoder keeps the count of the current transaction; the bus decides when to
 * write, as the Kafka transport does:
 *
 *   write(ev):    if (tx_on && sch_msg_tx_applies(ev)) {
 *                     if (sch_msg_tx_due(e, ev->pos.lsn, false)) {
 *                         sch_msg_tx_record(e, ev->txn, false, txtopic, &m, err); send m;
 *                         sch_msg_tx_written(e, false);      (only once it was sent)
 *                     }
 *                     copy = *ev; copy.tx_block = sch_msg_tx_count(e, ev); ev = &copy;
 *                 }
 *                 sch_msg_encode(e, ev, ...)
 *   commit(txn):  if (tx_on && txn->xid != 0 && txn->begin_lsn != 0)
 *                     the same for BEGIN with txn->commit_lsn, then for END (end true)
 *
 * A write that fails and is retried neither counts twice nor repeats a
 * record marked written.  The records carry the position headers
 * cdc.commit_lsn = txn->commit_lsn and cdc.seq = SCH_MSG_SEQ_TX_BEGIN/END
 * (ordinals no event uses), and cdc.xid.
 */
#define SCH_MSG_TX_TOPIC     "transaction"      /* Debezium's topic.transaction default */
#define SCH_MSG_SEQ_TX_BEGIN (CDC_SEQ_END - 3)
#define SCH_MSG_SEQ_TX_END   (CDC_SEQ_END - 2)

/* "{prefix}.transaction" with each '.' replaced by sep (as sch_msg_bus_name).  @returns out. */
char *sch_msg_tx_name(const char *prefix, char sep, char *out, size_t outsz);

/* True when ev takes part: streamed, in a transaction with an xid. */
bool sch_msg_tx_applies(const cdc_event *ev);

/*
 * Makes the transaction committing at commit_lsn the one counted (a no-op if
 * it is already) and @returns whether its BEGIN (end false) or END record is
 * still to be written.
 */
bool sch_msg_tx_due(sch_msg_enc *e, uint64_t commit_lsn, bool end);

/* Marks the current transaction's BEGIN or END record as written (or already held). */
void sch_msg_tx_written(sch_msg_enc *e, bool end);

/* Counts ev once and @returns its envelope block; NULL for events that get none. */
const cdc_tx_block *sch_msg_tx_count(sch_msg_enc *e, const cdc_event *ev);

/*
 * The BEGIN or END record of txn (the current transaction) for `topic`
 * ("{prefix}.transaction", or its bus name): key {"id"}, value {status, id,
 * event_count, data_collections, ts_ms} in JSON or Avro (both subjects
 * registered on first use).  @returns 0, or -1 with err set as sch_msg_encode.
 */
int sch_msg_tx_record(sch_msg_enc *e, const cdc_txn *txn, bool end, const char *topic,
                      sch_msg *m, cdc_err *err);

#endif
