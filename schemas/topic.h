/*
 * Topic names as Debezium's default SchemaTopicNamingStrategy builds them
 * (CONTRACT.md 1.1): "{prefix}.{schema}.{table}", blank parts dropped,
 * characters outside [A-Za-z0-9._-] replaced by '_', cut to 249 characters.
 */
#ifndef CDC_SCHEMAS_TOPIC_H
#define CDC_SCHEMAS_TOPIC_H

#include <stddef.h>

/* Writes the sanitised topic name into out (size outsz, at least 250); returns out. */
char *sch_topic_name(const char *prefix, const char *schema, const char *table, char *out,
                     size_t outsz);

#endif
