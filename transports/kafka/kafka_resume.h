/*
 * What the Kafka destination's partitions already hold, for the restart
 * skip (kafka.c, resume_from): the position headers every record carries
 * (cdc.commit_lsn, cdc.seq), the set of positions a partition holds at or
 * after the resume floor, and the backwards scan that collects them.
 */
#ifndef CDC_TRANSPORTS_KAFKA_KAFKA_RESUME_H
#define CDC_TRANSPORTS_KAFKA_KAFKA_RESUME_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_err.h"
#include "agent/core/cdc_event.h"

/* The position headers of a record: false when either is missing or not a number. */
bool kafka_hdr_pos(rd_kafka_headers_t *h, cdc_pos *out);

/* The positions a partition held at start, at or after the resume floor. */
typedef struct kafka_held {
    cdc_pos *pos;       /* sorted once the scan is over (kafka_held_sort) */
    size_t   n, cap;
    cdc_pos  max;
} kafka_held;

void kafka_held_add(kafka_held *h, cdc_pos p);
void kafka_held_sort(kafka_held *h);
/* Does the partition hold the record of position p?  (h sorted) */
bool kafka_held_has(const kafka_held *h, cdc_pos p);

/* One partition to read backwards, window by window, down to the resume floor. */
typedef struct kafka_scan {
    const char  *topic;
    int32_t      part;
    kafka_held  *held;          /* where its positions go */
    cdc_pos     *newest;        /* the newest position seen in any record read */
    bool        *foreign;       /* set when a record without position headers is read */
    int64_t      lo;            /* the partition's low watermark */
    int64_t      start, end;    /* the window being read: [start, end) */
    bool         window_done;   /* every record of the window seen */
    bool         below_floor;   /* the window's first record is older than the floor */
    bool         done;          /* nothing older can be at or after the floor */
} kafka_scan;

/*
 * Collects, for every partition in scans, the positions of its records at
 * or after `floor` (an LSN), reading each backwards in growing windows from
 * [start, end) until a window starts with a record older than the floor or
 * the partition's start is reached.  Each window round may take up to
 * timeout_ms.  conf: a consumer configuration (auto commit off, a group id,
 * partition EOF on), consumed.  @returns 0, or -1 with err set.
 */
int kafka_read_held(rd_kafka_conf_t *conf, kafka_scan *scans, int n, uint64_t floor,
                    int timeout_ms, cdc_err *err);

#endif
