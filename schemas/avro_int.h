/*
 * Internals shared by the two halves of the Avro encoder: avro_schema.c
 * (schema text) and avro_enc.c (datums).  Both walk the same field lists,
 * so the per-profile field order is defined once, here.  Not for use
 * outside schemas/.
 */
#ifndef CDC_SCHEMAS_AVRO_INT_H
#define CDC_SCHEMAS_AVRO_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/core/cdc_rel.h"
#include "schemas/avro.h"

/* Envelope fields. */
typedef enum sch_avro_env_field {
    SCH_AVRO_ENV_BEFORE,
    SCH_AVRO_ENV_AFTER,
    SCH_AVRO_ENV_SOURCE,
    SCH_AVRO_ENV_TRANSACTION,
    SCH_AVRO_ENV_OP,
    SCH_AVRO_ENV_TS_MS,
    SCH_AVRO_ENV_TS_US,
    SCH_AVRO_ENV_TS_NS,
    SCH_AVRO_ENV__COUNT
} sch_avro_env_field;

/* io.debezium.connector.postgresql.Source fields. */
typedef enum sch_avro_src_field {
    SCH_AVRO_SRC_VERSION,
    SCH_AVRO_SRC_CONNECTOR,
    SCH_AVRO_SRC_NAME,
    SCH_AVRO_SRC_TS_MS,
    SCH_AVRO_SRC_SNAPSHOT,
    SCH_AVRO_SRC_DB,
    SCH_AVRO_SRC_SEQUENCE,
    SCH_AVRO_SRC_TS_US,
    SCH_AVRO_SRC_TS_NS,
    SCH_AVRO_SRC_SCHEMA,
    SCH_AVRO_SRC_TABLE,
    SCH_AVRO_SRC_TXID,
    SCH_AVRO_SRC_LSN,
    SCH_AVRO_SRC_XMIN,
    SCH_AVRO_SRC_ORIGIN,
    SCH_AVRO_SRC_ORIGIN_LSN,
    SCH_AVRO_SRC__COUNT
} sch_avro_src_field;

/* What a profile changes (CONTRACT.md 0.1 and the deltas under 8.2). */
typedef struct sch_avro_traits {
    int                env_version;      /* Envelope connect.version, 0 for none */
    bool               source_versioned; /* Source and its snapshot Enum carry connect.version 1 */
    bool               full_allowed;     /* snapshot `allowed` lists first, first_in_..., ... */
    sch_avro_name_mode names;            /* the resolved schema.name.adjustment.mode */
    const char        *version;          /* source.version when the options give none */
    bool               message_tx;       /* MessageValue has a transaction block */
    int                nenv;             /* Envelope fields, in order */
    sch_avro_env_field env[SCH_AVRO_ENV__COUNT];
    int                nsrc; /* Source fields, in order */
    sch_avro_src_field src[SCH_AVRO_SRC__COUNT];
} sch_avro_traits;

void sch_avro_traits_get(const sch_avro_opts *o, sch_avro_traits *t);

/* How a column's field is shaped (CONTRACT.md 3.3 "Optionality"). */
typedef enum sch_avro_shape {
    SCH_AVRO_REQUIRED,   /* T (with connect.default when there is one) */
    SCH_AVRO_NULL_FIRST, /* ["null",T], default null */
    SCH_AVRO_NULL_SECOND /* [T,"null"]: optional with a default */
} sch_avro_shape;

/* The Connect default of a column as it appears in the schema, or NULL. */
const cdc_value *sch_avro_col_default(const cdc_col *col);
sch_avro_shape   sch_avro_col_shape(const cdc_col *col);

/* "{topic}{suffix}" through the schema-name adjuster, into out; NULL when it
   does not fit. */
char *sch_avro_full_name(const sch_avro_traits *t, const char *topic, const char *suffix, char *out,
                         size_t outsz);

#endif
