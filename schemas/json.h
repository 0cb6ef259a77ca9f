/*
 * Debezium events as Kafka Connect's JsonConverter writes them: the key and
 * the value Envelope payloads (schemas.enable=false), and optionally the
 * {"schema":..., "payload":...} wrapping (schemas.enable=true).  Written
 * straight into a cdc_buf with no intermediate JSON tree: this is on the
 * per-event path.  Field order, number formats and the null-replaced-by-
 * default rule follow CONTRACT.md sections 2, 3.5 and 3.6.
 */
#ifndef CDC_SCHEMAS_JSON_H
#define CDC_SCHEMAS_JSON_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_event.h"

typedef struct sch_json_opts {
    const char *server_name;        /* topic.prefix: source.name */
    const char *database;           /* source.db */
    const char *version;            /* source.version, e.g. "2.7.3.Final" */
    bool        schemas_enable;     /* wrap as {"schema":S,"payload":P} */
    bool        replace_null_with_default;  /* CONTRACT.md 3.5; true by default */
    const char *unavailable_placeholder;    /* "__debezium_unavailable_value" by default */
    bool        raw_non_bmp;        /* characters outside the BMP as raw UTF-8, not escaped
                                       surrogates: the text Connect's SimpleHeaderConverter
                                       makes of a key (__debezium.oldkey/newkey headers) */
    int         name_mode;          /* schema.name.adjustment.mode, a sch_avro_name_mode
                                       (schemas/avro.h): 0 or NONE leaves names as they are */
    int         profile;            /* kafka.debezium_version, a sch_avro_profile
                                       (schemas/avro.h): 0 is 2.7; sch_dbz_profile_shape
                                       says what the others change */
} sch_json_opts;

/*
 * Fills o with Debezium 2.7's defaults (server_name and database left NULL):
 * version "2.7.3.Final", replace_null_with_default on, the standard
 * placeholder.  schemas_enable is left off (payload only); JsonConverter's
 * own default is on, so the agent's config sets it explicitly.
 */
void sch_json_opts_default(sch_json_opts *o);

/*
 * The options a destination encodes with: a copy of @p given (the pipeline's,
 * cdc_dest_env.encode_opts) when non-NULL, else the defaults naming @p prefix
 * as the server and a copy of @p database (NULL: "") in *owned, which the
 * destination frees when it closes (*owned stays NULL when nothing was copied).
 * @p prefix must outlive the options.
 */
void sch_json_opts_for(sch_json_opts *o, const void *given, const char *prefix,
                       const char *database, char **owned);

/*
 * Appends the record key: a JSON object of the key columns in key order, or
 * `null` when the relation has no key and for truncate events (2.5).  A
 * logical message's key is the MessageKey struct {"prefix": ...} (2.6).
 * @thread any; b is the caller's.
 */
void sch_json_key(cdc_buf *b, const cdc_event *ev, const sch_json_opts *o);

/*
 * Appends the record value: the Envelope (or MessageValue for op m), or
 * `null` for a tombstone.  now_us is the processing time for ts_ms/us/ns.
 */
void sch_json_value(cdc_buf *b, const cdc_event *ev, const sch_json_opts *o, int64_t now_us);

/*
 * The schema nodes alone ({"type":"struct",...} of "{topic}.Key" and
 * "{topic}.Envelope"), for callers that render them once per relation
 * version and wrap payloads themselves: {"schema":S,"payload":P}.
 */
void sch_json_key_schema(cdc_buf *b, const cdc_rel *rel, const sch_json_opts *o);
void sch_json_value_schema(cdc_buf *b, const cdc_rel *rel, const sch_json_opts *o);

/*
 * Appends s as a JSON string literal the way Kafka Connect's JsonConverter
 * (Jackson's UTF8JsonGenerator) writes it: quotes and controls escaped,
 * characters outside the BMP as two escaped UTF-16 surrogates
 * ("\uD83D\uDE00"), other non-ASCII as raw UTF-8, invalid UTF-8 replaced
 * by U+FFFD.  Every JSON destination uses it, so keys have Debezium's bytes.
 */
void sch_json_put_string(cdc_buf *b, const char *s, size_t n);

/* The same, with characters outside the BMP left as raw UTF-8: the text of
   an Avro schema, as Avro's Schema.toString() writes it. */
void sch_json_put_string_raw(cdc_buf *b, const char *s, size_t n);

#endif
