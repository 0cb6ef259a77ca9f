/*
 * Topic names as Debezium's default SchemaTopicNamingStrategy builds them
 * (CONTRACT.md 1.1): "{prefix}.{schema}.{table}", blank parts dropped,
 * characters outside [A-Za-z0-9._-] replaced by '_', cut to 249 characters.
 */
#ifndef CDC_SCHEMAS_TOPIC_H
#define CDC_SCHEMAS_TOPIC_H

#include <stddef.h>

#include "agent/core/cdc_event.h"

/* Writes the sanitised topic name into out (size outsz, at least 250); returns out. */
char *sch_topic_name(const char *prefix, const char *schema, const char *table, char *out,
                     size_t outsz);

/*
 * The topic of one event, the same for every destination: the relation's own
 * topic when it has one (rel->topic), "<prefix>.message" for a logical
 * decoding message (Debezium's LogicalDecodingMessageMonitor: unsanitised),
 * else sch_topic_name(prefix, schema, table).  @returns out.
 */
char *sch_event_topic(const cdc_event *ev, const char *prefix, char *out, size_t outsz);
/* The same text without the copy: rel->topic itself when it fits in outsz, else
   what sch_event_topic() writes into out. */
const char *sch_event_topic_ref(const cdc_event *ev, const char *prefix, char *out,
                                size_t outsz);

#endif
