/*
 * Dead letters in direct mode: a JSON-lines file that every sink appends
 * the events it gave up on to, with the diagnostic fields the platform puts
 * on its DLQ topics as Kafka headers (dlq.source_topic, dlq.source_partition,
 * dlq.source_offset, dlq.error_type, dlq.error_message, dlq.stacktrace,
 * dlq.timestamp, dlq.sink_id).  One line per dead letter:
 *
 *   {"id":"<sink_id>-<commit_lsn hex>-<seq>","sink_id":...,"commit_lsn":N,"seq":N,
 *    "headers":{"dlq.source_topic":"...",...},"record":{"key":K,"value":V,"metadata":{...}}}
 *
 * and, once `cdcagent dlq replay` re-delivered it, a marker line
 *   {"replayed":"<id>","timestamp":"..."}
 * so that replay is idempotent (agent/dlq_cli.c).  There is no C stack
 * trace: dlq.stacktrace holds the error code name and where it was raised
 * ("CDC_E_DEST at sinks/webhook.c:req_done").
 *
 * Durability: each append is one write(2) of the whole line followed by
 * fdatasync, before the sink reports the event durable; dead letters are
 * rare, so the cost does not matter.  The file is opened O_APPEND, so sinks
 * of one agent may share one handle or open the same path each.
 */
#ifndef CDC_SINKS_DLQ_H
#define CDC_SINKS_DLQ_H

#include <stddef.h>
#include <stdint.h>

#include "../agent/core/cdc_err.h"
#include "../agent/core/cdc_event.h"

typedef struct dest_dlq dest_dlq;

/* One failed event.  Every pointer is borrowed for the call. */
typedef struct dest_dlq_rec {
    const char *sink_id;
    const char *topic;          /* dlq.source_topic */
    int         partition;      /* dlq.source_partition (always 0 in direct mode) */
    uint64_t    offset;         /* dlq.source_offset: the change's LSN */
    cdc_pos     pos;            /* (commit_lsn, seq) */
    const char *error_type;     /* e.g. "http_status_400", "pg_23505" */
    const char *error_message;  /* one line; never holds a secret */
    cdc_rc      code;           /* for dlq.stacktrace */
    const char *where;          /* "sinks/webhook.c:req_done" */
    const char *record;         /* the record as JSON text {key,value,metadata}, or NULL */
    size_t      record_len;
} dest_dlq_rec;

/**
 * Opens (creating) the dead-letter file at @p path.
 * @returns a new handle freed with dest_dlq_close(), or NULL with err set.
 * @thread any; one handle is used by one thread.
 */
dest_dlq *dest_dlq_open(const char *path, cdc_err *err);

/* Appends one dead letter, written and fdatasync'ed.  @returns 0, or -1 with err set. */
int dest_dlq_append(dest_dlq *q, const dest_dlq_rec *r, cdc_err *err);

/* Appends a replay marker for @p id (agent/dlq_cli.c).  @returns 0, or -1 with err set. */
int dest_dlq_mark_replayed(dest_dlq *q, const char *id, cdc_err *err);

const char *dest_dlq_path(const dest_dlq *q);
uint64_t    dest_dlq_count(const dest_dlq *q);    /* appended through this handle */

/* NULL is a no-op. */
void dest_dlq_close(dest_dlq *q);

#endif
