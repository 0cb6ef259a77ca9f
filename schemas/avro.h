/*
 * Debezium events as Confluent's AvroConverter writes them: the Avro schema
 * text that AvroData derives from Debezium's Connect schemas (key
 * "{topic}.Key", value "{topic}.Envelope", and MessageKey/MessageValue for
 * logical messages), and the datums in Confluent's wire format (magic 0x00,
 * 4-byte big-endian schema id, Avro binary).  CONTRACT.md sections 0.1 (the
 * per-release profiles), 2, 3.2-3.5, 4 and 8 are the specification;
 * docs/avro.md records what is emitted per profile.
 *
 * This module does not talk to a schema registry: the caller registers the
 * schema text and passes the id it got back.
 *
 * The prefix is sch_avro_, like json.h's sch_json_: avro-c owns avro_ (it
 * has avro_writer_free(), avro_writer_t, AVRO_NULL, ...).
 */
#ifndef CDC_SCHEMAS_AVRO_H
#define CDC_SCHEMAS_AVRO_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_err.h"
#include "agent/core/cdc_event.h"

/* The Debezium release whose wire format is reproduced (CONTRACT.md 0.1). */
typedef enum sch_avro_profile {
    SCH_AVRO_DBZ_2_7 = 0, /* 2.7.x: the default */
    SCH_AVRO_DBZ_1_9,     /* 1.9.x */
    SCH_AVRO_DBZ_2_0,     /* 2.0 - 2.5 */
    SCH_AVRO_DBZ_2_6,     /* 2.6.x */
    SCH_AVRO_DBZ_3_0,     /* 3.0.x: 2.7 with the full snapshot `allowed` list */
    SCH_AVRO_DBZ_3_1,     /* 3.1 - 3.4: CONTRACT.md 8.2 verbatim */
    SCH_AVRO_DBZ_3_5      /* 3.5 and later: source.origin, source.origin_lsn */
} sch_avro_profile;

/* schema.name.adjustment.mode (CONTRACT.md 3.2). */
typedef enum sch_avro_name_mode {
    SCH_AVRO_NAMES_PROFILE = 0, /* the profile's default: avro for 1.9, none after */
    SCH_AVRO_NAMES_NONE,
    SCH_AVRO_NAMES_AVRO,        /* invalid characters become '_' */
    SCH_AVRO_NAMES_AVRO_UNICODE /* invalid characters become _uXXXX */
} sch_avro_name_mode;

/*
 * Appends name as Debezium 2.7's SchemaNameAdjuster makes it (schema.name.adjustment.mode):
 * avro turns each character Avro refuses into '_' (a leading digit into '_' and the digit),
 * avro_unicode into _uXXXX (Java's lower-case hex of each UTF-16 unit); other modes append
 * it as it is.  Returns the bytes appended.
 */
size_t sch_name_adjust(sch_avro_name_mode mode, const char *name, cdc_buf *b);

/* source.schema_name_adjustment_mode's text (none, avro, avro_unicode) as a mode;
   SCH_AVRO_NAMES_PROFILE for NULL or anything else. */
sch_avro_name_mode sch_name_mode_parse(const char *mode);

typedef struct sch_avro_opts {
    sch_avro_profile   profile;
    const char        *server_name; /* topic.prefix: source.name */
    const char        *database;    /* source.db */
    const char        *version;     /* source.version; NULL: the profile's usual release */
    bool               replace_null_with_default; /* CONTRACT.md 3.5; on by default */
    const char        *unavailable_placeholder;   /* NULL: "__debezium_unavailable_value" */
    sch_avro_name_mode name_mode;
} sch_avro_opts;

/* Fills o with the 2.7 profile's defaults (server_name and database NULL). */
void sch_avro_opts_default(sch_avro_opts *o);

/*
 * Parses a Debezium version ("2.7", "3.4.3.Final", "1.9.7.Final") into the
 * profile that reproduces it.  @returns 0, or -1 for a release no profile
 * covers (before 1.9, 4.x and later, or not a version).
 */
int sch_avro_profile_parse(const char *s, sch_avro_profile *out);
/* "2.7", "3.1-3.4", ...: for messages and logs. */
const char *sch_avro_profile_name(sch_avro_profile p);

/*
 * What a profile changes in the records both converters write (JSON and
 * Avro), decided once here.  Fields added for 3.5+ were compared with
 * Debezium 3.6.1.Final (test/integration/861); docs/debezium-differences.md.
 */
typedef struct sch_dbz_shape {
    bool source_versioned; /* the Source struct carries version 1 */
    bool full_allowed;     /* snapshot `allowed` lists first, first_in_..., ... */
    bool origin;           /* Source ends with origin, origin_lsn (3.5) */
    bool message_tx;       /* MessageValue has a transaction block, and a
                              transactional message is counted in its transaction as
                              data collection LOGICAL_DECODING_MESSAGE */
    bool context_headers;  /* data change records carry __debezium.context.* headers (3.5) */
} sch_dbz_shape;

sch_dbz_shape sch_dbz_profile_shape(sch_avro_profile p);

/* The snapshot Enum's `allowed` parameter, before 3.0 and since. */
#define SCH_DBZ_ALLOWED_OLD  "true,last,false,incremental"
#define SCH_DBZ_ALLOWED_FULL \
    "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"

/*
 * Schema text, compact JSON with the properties in the order of
 * CONTRACT.md 3.3 (what AvroData's schema toString() gives), named after
 * rel->topic.  Neither is validated here; sch_avro_writer_new() parses them.
 * @returns a new string the caller frees with free(), or NULL when the
 *          relation has no key (key schema only) or memory ran out.
 * @thread any.
 */
char *sch_avro_key_schema_json(const cdc_rel *rel, const sch_avro_opts *o);
char *sch_avro_value_schema_json(const cdc_rel *rel, const sch_avro_opts *o);
/* io.debezium.connector.postgresql.MessageKey / MessageValue (CONTRACT.md 2.6). */
char *sch_avro_message_key_schema_json(const sch_avro_opts *o);
char *sch_avro_message_value_schema_json(const sch_avro_opts *o);

/*
 * The encoder for one relation version (or, with rel NULL, for logical
 * messages): both schema texts, parsed by avro-c, and reusable avro-c values.
 * The caller keeps one per (rel->relid, rel->version) and makes a new one
 * when the version changes.  rel is not kept.
 * @param o  copied; its strings are borrowed and must outlive the writer.
 * @returns a new writer, or NULL with err set (CDC_E_CONFIG names the table
 *          when avro-c rejects the schema, e.g. an invalid Avro name).
 * @thread any, but one writer is used by one thread at a time.
 */
typedef struct sch_avro_writer sch_avro_writer;

sch_avro_writer *sch_avro_writer_new(const cdc_rel *rel, const sch_avro_opts *o, cdc_err *err);
void             sch_avro_writer_free(sch_avro_writer *w); /* NULL is a no-op */

/* The schema texts the writer encodes against, to register; borrowed.  The
   key schema is NULL for a relation without a key. */
const char *sch_avro_writer_key_schema(const sch_avro_writer *w);
const char *sch_avro_writer_value_schema(const sch_avro_writer *w);

/*
 * Appends the record key as a Confluent frame (0x00, schema_id big-endian,
 * Avro binary).  Appends nothing and returns 0 when the record key is null:
 * relations without a key and truncates (CONTRACT.md 2.1, 2.5); the caller
 * then sends a null key.  A logical message's key is its MessageKey.
 * @returns 0, or -1 with err set (out is left as it was).
 */
int sch_avro_encode_key(sch_avro_writer *w, const cdc_event *ev, uint32_t schema_id, cdc_buf *out,
                        cdc_err *err);

/*
 * Appends the record value (the Envelope, or MessageValue for op m) as a
 * Confluent frame.  now_us is the processing time of ts_ms/ts_us/ts_ns.  A
 * tombstone appends nothing and returns 0: the caller sends a null value.
 * @returns 0, or -1 with err set (out is left as it was).
 */
int sch_avro_encode_value(sch_avro_writer *w, const cdc_event *ev, uint32_t schema_id,
                          int64_t now_us, cdc_buf *out, cdc_err *err);

#endif
