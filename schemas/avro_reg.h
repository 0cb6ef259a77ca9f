/*
 * Avro serialization for every bus (Kafka, Pub/Sub, Kinesis; message.h
 * wraps it), as Confluent's AvroConverter does it behind Debezium: one
 * encoder per relation version, its key and value schemas registered under
 * "{topic}-key" / "{topic}-value" before the first record that uses them,
 * ids cached, records framed with the ids.
 * A schema change (a new relation version after ALTER TABLE) registers a new
 * version and, with stop_on_incompatible, refuses one that readers of the
 * previous version could not read.
 */
#ifndef CDC_SCHEMAS_AVRO_REG_H
#define CDC_SCHEMAS_AVRO_REG_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_err.h"
#include "agent/core/cdc_event.h"
#include "schemas/avro.h"
#include "schemas/registry.h"

typedef struct sch_avro_reg sch_avro_reg;

/* @param rc, o  copied; their strings are borrowed and must outlive the handle. */
sch_avro_reg *sch_avro_reg_new(const sr_conf *rc, const sch_avro_opts *o, bool stop_on_incompatible,
                           cdc_err *err);
void        sch_avro_reg_free(sch_avro_reg *ar);     /* NULL is a no-op */

/*
 * Appends the framed key and value of ev to kbuf and vbuf; a buffer left
 * empty means a null key or value (no key columns, truncate, tombstone).
 * @returns 0, or -1 with err set: CDC_E_CONN/CDC_E_TIMEOUT when the registry
 * cannot be reached (retriable), CDC_E_DEST when it refuses a schema.
 */
int sch_avro_reg_encode(sch_avro_reg *ar, const cdc_event *ev, const char *topic, int64_t now_us,
                      cdc_buf *kbuf, cdc_buf *vbuf, cdc_err *err);

/*
 * A Debezium heartbeat record (key ServerNameKey{serverName}, value
 * Heartbeat{ts_ms}) for `topic`, registering both subjects on first use.
 */
int sch_avro_reg_heartbeat(sch_avro_reg *ar, const char *topic, const char *server_name,
                         int64_t ts_ms, cdc_buf *kbuf, cdc_buf *vbuf, cdc_err *err);

/*
 * Registers fixed key and value schemas (records the transport makes itself,
 * such as the transaction topic's) under "{topic}-key" and "{topic}-value".
 */
int sch_avro_reg_register_pair(sch_avro_reg *ar, const char *topic, const char *key_schema,
                             const char *value_schema, uint32_t *key_id, uint32_t *value_id,
                             cdc_err *err);

/* Appends v as Avro's long (zig-zag, base-128 groups, low first). */
void sch_avro_reg_put_long(cdc_buf *b, int64_t v);

/* Schemas registered so far (a counter for metrics and logs). */
uint64_t sch_avro_reg_registrations(const sch_avro_reg *ar);

#endif
