/*
 * The JSON-lines destination: one line per event,
 *   {"key":K,"value":V,"metadata":{"topic":...,"partition":0,"offset":...,
 *    "lsn":"X/Y","commit_lsn":N,"seq":N,"xid":N|null,"op":"c"}}
 * with K and V exactly as Kafka's JsonConverter would have written the
 * record (schemas/json.h), appended to a file or written to stdout.
 *
 * Durability: lines are buffered in memory and written out past 1 MiB, on
 * flush(), and on progress() once flush_interval_ms has passed; a position
 * counts as durable only after its line is written and fsync'ed (when fsync
 * is on).  On restart, resume_from() reads the file's last complete line
 * and the sink skips every event at or before that position, so a crash in
 * the middle of a transaction neither loses nor repeats a line.
 */
#ifndef CDC_SINKS_JSONL_JSONL_H
#define CDC_SINKS_JSONL_JSONL_H

#include <stdbool.h>

#include "agent/core/dest/cdc_dest.h"

/* The sink's configuration; the agent fills it from its cfg_jsonl. */
typedef struct dest_jsonl_conf {
    const char *path;               /* file path, or "-" for stdout */
    bool        fsync;              /* fsync after each write-out */
    int         flush_interval_ms;  /* upper bound on buffering; <= 0 means at every progress() */
} dest_jsonl_conf;

/* open() takes a const dest_jsonl_conf * as conf (copied), and the JSON
   options from env->encode_opts (borrowed: they must outlive the sink), or
   Debezium 2.7's defaults with env->topic_prefix and env->database. */
extern const cdc_dest_ops dest_jsonl_ops;

#endif
