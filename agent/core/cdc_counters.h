/*
 * Process-wide labelled counters for the layers below agent/ (sinks/,
 * schemas/, transports/), which cannot reach the agent's metrics registry
 * (agent/ops/metrics.h).  A sink calls cdc_metrics_dlq_inc("wh1") when it
 * dead-letters an event; agent/ops/metrics_render.c reads the families when it renders
 * /metrics (cdcagent_dlq_events_total{sink}, cdcagent_schema_registrations_total
 * {subject}).
 *
 * Bounded: each family keeps at most CDC_COUNTERS_MAX_LABELS label values;
 * later ones count under the label "_overflow".  Label values longer than
 * CDC_COUNTERS_LABEL_MAX - 1 bytes are cut.
 *
 * @thread any: counts are atomics; a new label is added under a mutex and
 * published with a release store, and a published label never changes.
 */
#ifndef CDC_AGENT_CORE_CDC_COUNTERS_H
#define CDC_AGENT_CORE_CDC_COUNTERS_H

#include <stdint.h>

#define CDC_COUNTERS_MAX_LABELS 64
#define CDC_COUNTERS_LABEL_MAX  160

typedef enum cdc_counter_family {
    CDC_CTR_DLQ = 0,        /* events dead-lettered, by sink_id */
    CDC_CTR_SCHEMA_REG,     /* new schema versions registered, by subject */
    CDC_CTR_INVALID_UTF8,   /* string values that are not UTF-8, by table (decoder/values_utf8.c) */
    CDC_CTR_ICE_EXPIRED_SNAPSHOTS,  /* Iceberg snapshots expired, by table "ns.name" */
    CDC_CTR_ICE_REMOVED_FILES,      /* files expiry removed (orphans included), by table */
    CDC_CTR_ICE_REMOVED_BYTES,      /* their bytes, by table */
    CDC_CTR_ICE_COMPACTIONS,        /* compaction commits, by table */
    CDC_CTR_ICE_COMPACTED_FILES,    /* data and delete files a compaction replaced, by table */
    CDC_CTR_ICE_COMPACTED_ROWS,     /* rows a compaction rewrote, by table */
    CDC_CTR_ICE_DATA_FILES,         /* gauge (cdc_counter_set): live data files, by table */
    CDC_CTR_ICE_DELETE_FILES,       /* gauge: live delete files, by table */
    CDC_CTR__COUNT
} cdc_counter_family;

/* Adds @p n to @p fam's counter for @p label (NULL is taken as ""). */
void cdc_counter_add(cdc_counter_family fam, const char *label, uint64_t n);

/* Sets @p fam's value for @p label: the families that are gauges (a later set replaces it). */
void cdc_counter_set(cdc_counter_family fam, const char *label, uint64_t v);

/* One event of sink @p sink_id went to the dead-letter destination. */
void cdc_metrics_dlq_inc(const char *sink_id);
/* A new schema version was registered under @p subject ("cdc.public.t-value"). */
void cdc_metrics_schema_registered(const char *subject);

/*
 * Reading, for the exposition: labels 0 .. cdc_counter_labels(fam) - 1 in
 * the order they first appeared, then the overflow count.
 */
int         cdc_counter_labels(cdc_counter_family fam);
const char *cdc_counter_label(cdc_counter_family fam, int i);
uint64_t    cdc_counter_value(cdc_counter_family fam, int i);
uint64_t    cdc_counter_overflow(cdc_counter_family fam);
/* The count for @p label (0 when it has none). */
uint64_t    cdc_counter_get(cdc_counter_family fam, const char *label);
/* Sum over every label and the overflow. */
uint64_t    cdc_counter_total(cdc_counter_family fam);

/* Forgets every label and count.  Tests only: no other thread may count meanwhile. */
void cdc_counters_reset(void);

#endif
