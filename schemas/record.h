/*
 * The platform's {key,value,metadata} record of one event, the same for
 * every destination that writes JSON records (webhook bodies, the
 * PostgreSQL event log's dead letters, the JSON-lines file):
 *   {"key":K,"value":V,"metadata":{"topic":T,"partition":0,"offset":<lsn>,
 *    "commit_lsn":N,"seq":N}}
 * K and V as Kafka's JsonConverter writes them (schemas/json.h).  With
 * SCH_RECORD_DETAIL the metadata also carries "lsn" (text, after offset),
 * "xid" and "op" (after seq): the JSON-lines sink's line.
 */
#ifndef CDC_SCHEMAS_RECORD_H
#define CDC_SCHEMAS_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_event.h"
#include "schemas/json.h"

#define SCH_RECORD_DETAIL 0x1u      /* metadata also has lsn, xid and op */

/*
 * Appends one event's record to b, for @p topic (sch_event_topic()); now_us
 * is the wall-clock time of the value's ts_ms.  *key_end (when non-NULL)
 * gets the offset in b where the key JSON ends.
 */
void sch_record_put(cdc_buf *b, const cdc_event *ev, const sch_json_opts *o, const char *topic,
                    int64_t now_us, unsigned flags, size_t *key_end);

#endif
