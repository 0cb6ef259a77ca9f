/*
 * Typed column values as Debezium presents them (Kafka Connect's data
 * model), and the type descriptors that say how a PostgreSQL column maps to
 * one.  The decoder turns pgoutput's text into these; the schema layer turns
 * them into Avro or JSON; sinks read them.  No I/O, no allocation here, and
 * the helpers at the end are pure.
 *
 * The mapping itself (which PostgreSQL type becomes which cdc_ctype under
 * which *_handling_mode) lives in decoder/typemap.c; CONTRACT.md section 4
 * is its specification.
 */
#ifndef CDC_AGENT_CORE_CDC_VALUE_H
#define CDC_AGENT_CORE_CDC_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Connect schema types (org.apache.kafka.connect.data.Schema.Type). */
typedef enum cdc_ctkind {
    CDC_CT_NONE = 0,
    CDC_CT_BOOLEAN,
    CDC_CT_INT8,
    CDC_CT_INT16,
    CDC_CT_INT32,
    CDC_CT_INT64,
    CDC_CT_FLOAT32,
    CDC_CT_FLOAT64,
    CDC_CT_STRING,
    CDC_CT_BYTES,
    CDC_CT_ARRAY,
    CDC_CT_MAP,
    CDC_CT_STRUCT
} cdc_ctkind;

/* Semantic (named) Connect types that Debezium's PostgreSQL connector uses. */
typedef enum cdc_sem {
    CDC_SEM_NONE = 0,
    CDC_SEM_DECIMAL,            /* org.apache.kafka.connect.data.Decimal (BYTES) */
    CDC_SEM_VARIABLE_DECIMAL,   /* io.debezium.data.VariableScaleDecimal (STRUCT scale,value) */
    CDC_SEM_BITS,               /* io.debezium.data.Bits (BYTES), param length */
    CDC_SEM_JSON,               /* io.debezium.data.Json (STRING) */
    CDC_SEM_XML,                /* io.debezium.data.Xml */
    CDC_SEM_UUID,               /* io.debezium.data.Uuid */
    CDC_SEM_ENUM,               /* io.debezium.data.Enum, param allowed */
    CDC_SEM_LTREE,              /* io.debezium.data.Ltree */
    CDC_SEM_DATE,               /* io.debezium.time.Date (INT32 days) */
    CDC_SEM_TIME,               /* io.debezium.time.Time (INT32 ms) */
    CDC_SEM_MICRO_TIME,         /* io.debezium.time.MicroTime (INT64 us) */
    CDC_SEM_NANO_TIME,          /* io.debezium.time.NanoTime (INT64 ns) */
    CDC_SEM_ZONED_TIME,         /* io.debezium.time.ZonedTime (STRING) */
    CDC_SEM_TIMESTAMP,          /* io.debezium.time.Timestamp (INT64 ms) */
    CDC_SEM_MICRO_TIMESTAMP,    /* io.debezium.time.MicroTimestamp (INT64 us) */
    CDC_SEM_NANO_TIMESTAMP,     /* io.debezium.time.NanoTimestamp (INT64 ns) */
    CDC_SEM_ZONED_TIMESTAMP,    /* io.debezium.time.ZonedTimestamp (STRING) */
    CDC_SEM_MICRO_DURATION,     /* io.debezium.time.MicroDuration (INT64 us) */
    CDC_SEM_INTERVAL,           /* io.debezium.time.Interval (STRING, ISO-8601) */
    CDC_SEM_CONNECT_DATE,       /* org.apache.kafka.connect.data.Date (INT32 days) */
    CDC_SEM_CONNECT_TIME,       /* org.apache.kafka.connect.data.Time (INT32 ms) */
    CDC_SEM_CONNECT_TIMESTAMP,  /* org.apache.kafka.connect.data.Timestamp (INT64 ms) */
    CDC_SEM_POINT,              /* io.debezium.data.geometry.Point (STRUCT x,y,wkb,srid) */
    CDC_SEM__COUNT
} cdc_sem;

/*
 * How one column (or one array element) is presented.  For CDC_CT_ARRAY the
 * element type is in elem_kind/elem_sem (elements are always optional).
 */
typedef struct cdc_ctype {
    bool     supported;     /* false: Debezium omits the column */
    uint8_t  kind;          /* cdc_ctkind */
    uint8_t  sem;           /* cdc_sem */
    uint8_t  elem_kind;     /* arrays only */
    uint8_t  elem_sem;      /* arrays only */
    int32_t  scale;         /* DECIMAL scale */
    int32_t  precision;     /* DECIMAL precision; -1 when absent (money) */
    int32_t  length;        /* BITS: bit length; ZONED_TIMESTAMP: fraction digits */
    /* Debezium's column mappers (agent/source/colfilter.c) add schema parameters:
       "masked":"true", "truncateLength":"<trunc_len>" or the source type's (below) on the
       value's field (never the key's); CDC_MAP_NONE otherwise */
    uint8_t  mapped;        /* cdc_mapped */
    int32_t  trunc_len;
    /* CDC_MAP_SOURCE_TYPE: Debezium's PropagateSourceMetadataToSchemaParameter parameters
       __debezium.source.column.type / .length / .scale / .name (strings owned by the rel) */
    const char *src_type;   /* pg_type.typname, written in upper case: INT4, VARCHAR, _INT4 */
    int32_t     src_length;
    int32_t     src_scale;      /* CDC_SRC_SCALE_NONE: no scale parameter */
    const char *src_column;
} cdc_ctype;

#define CDC_SRC_SCALE_NONE INT32_MIN

typedef enum cdc_mapped {
    CDC_MAP_NONE = 0,
    CDC_MAP_MASKED,         /* column.mask.with.N.chars, column.mask.hash.* */
    CDC_MAP_TRUNCATED,      /* column.truncate.to.N.chars */
    CDC_MAP_SOURCE_TYPE     /* column.propagate.source.type, datatype.propagate.source.type */
} cdc_mapped;

typedef enum cdc_vstate {
    CDC_VAL_NULL = 0,       /* SQL NULL (or not sent) */
    CDC_VAL_PRESENT,
    CDC_VAL_UNCHANGED       /* unchanged TOAST: the server did not send the value */
} cdc_vstate;

/*
 * One value.  Which union member is meaningful follows from the column's
 * cdc_ctype (or elem_kind for array items):
 *   BOOLEAN                         b
 *   INT8..INT64 (dates, times, ...) i
 *   FLOAT32/FLOAT64                 f
 *   STRING                          s (UTF-8, not NUL-terminated)
 *   BYTES (Decimal: unscaled two's-complement big-endian; Bits; bytea)  s
 *   STRUCT VariableScaleDecimal     s = unscaled bytes, scale
 *   STRUCT Point                    pt
 *   ARRAY                           arr
 * Pointers reference the per-change arena or the relcache.
 */
typedef struct cdc_value {
    uint8_t state;          /* cdc_vstate */
    union {
        bool    b;
        int64_t i;
        double  f;
        struct {
            const char *p;
            size_t      n;
            int32_t     scale;
        } s;
        struct {
            double x, y;
        } pt;
        struct {
            const struct cdc_value *items;
            size_t                  n;
        } arr;
    } u;
} cdc_value;

/*
 * Microseconds since the epoch to milliseconds, rounding toward negative
 * infinity as java.time.Instant.toEpochMilli does (-1 us is -1 ms, not 0):
 * io.debezium.time.Timestamp values and every ts_ms field.
 */
static inline int64_t
cdc_us_to_ms(int64_t us)
{
    return us / 1000 - (us % 1000 < 0 ? 1 : 0);
}

/* The type of an array type's elements, as a cdc_ctype of its own (no element type). */
static inline cdc_ctype
cdc_ctype_elem(const cdc_ctype *ct)
{
    cdc_ctype e = *ct;

    e.kind = ct->elem_kind;
    e.sem = ct->elem_sem;
    e.elem_kind = CDC_CT_NONE;
    e.elem_sem = CDC_SEM_NONE;
    if (e.mapped == CDC_MAP_SOURCE_TYPE)
        e.mapped = CDC_MAP_NONE;        /* the array's parameters, not its items' */
    return e;
}

#endif
