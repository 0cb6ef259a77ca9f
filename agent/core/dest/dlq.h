/*
 * Dead letters in direct mode: every sink appends the events it gave up on
 * to one store, with the diagnostic fields the platform puts on its DLQ
 * topics as Kafka headers (dlq.source_topic, dlq.source_partition,
 * dlq.source_offset, dlq.error_type, dlq.error_message, dlq.stacktrace,
 * dlq.timestamp, dlq.sink_id).  There is no C stack trace: dlq.stacktrace
 * holds the error code name and where it was raised
 * ("CDC_E_DEST at sinks/webhook/webhook.c:req_done").
 *
 * The record (the {key,value,metadata} JSON text the sink sent or applied)
 * is kept byte for byte, never re-encoded, so a replay sends exactly what
 * was refused (1.1 stays 1.1, 12345678901234567890 stays that integer).
 *
 * Two stores behind one handle:
 *
 * - A JSON-lines file (dest_dlq_open), one line per dead letter:
 *
 *     {"id":"<sink_id>-<commit_lsn %016X>-<seq>","sink_id":...,"commit_lsn":N,"seq":N,
 *      "headers":{"dlq.source_topic":"...",...},"record":<the record's text verbatim>}
 *
 *   "record" is the last member and holds the sink's own text.  A record
 *   that is not one line of JSON (jansson cannot read it, or it holds a line
 *   break) is kept as a JSON string in "record_text" instead, with
 *   "record":null.  Once `cdcagent dlq replay` re-delivered a letter, a
 *   marker line {"replayed":"<id>","timestamp":"..."} makes replay
 *   idempotent.  Each append is one write(2) of the whole line and
 *   fdatasync, before the sink reports the event durable.  The file is
 *   opened O_APPEND, so sinks of one agent may share one handle.
 *
 * - A PostgreSQL table (dest_dlq_open_pg, agent/core/dest/dlq_pg.c), created when
 *   missing, one row per dead letter with UNIQUE (sink_id, commit_lsn, seq):
 *   an event re-sent after a crash and refused again is inserted with
 *   ON CONFLICT DO NOTHING, so it stays one row.  The INSERT runs in
 *   autocommit with synchronous_commit on: it is committed when append
 *   returns 0.  A lost connection is reopened once at once; if that fails
 *   too, append returns -1 (CDC_E_CONN) and the sink keeps the event and
 *   tries again after its retry.* backoff, so nothing is dropped and the
 *   slot is never confirmed past a dead letter that is not stored.
 *
 * Each stored dead letter is logged at ERROR with the platform's event
 * name pipeline.sink_write_error.
 */
#ifndef CDC_AGENT_CORE_DEST_DLQ_H
#define CDC_AGENT_CORE_DEST_DLQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_err.h"
#include "agent/core/cdc_event.h"

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
    const char *where;          /* "sinks/webhook/webhook.c:req_done" */
    const char *record;         /* the record as JSON text {key,value,metadata}, or NULL */
    size_t      record_len;
} dest_dlq_rec;

/**
 * Opens (creating) the dead-letter file at @p path.
 * @returns a new handle freed with dest_dlq_close(), or NULL with err set.
 * @thread any; one handle is used by one thread.
 */
dest_dlq *dest_dlq_open(const char *path, cdc_err *err);

/**
 * The dead-letter table @p table ("name" or "schema.name"; quoted as
 * identifiers) in the database of @p conninfo (a libpq connection string or
 * URI; never logged: it may hold a password).  Connects and creates the
 * table when it can; when the database is unreachable the handle is still
 * returned (with a warning) and every later call connects again.
 * @returns a new handle, or NULL with err set (CDC_E_CONFIG: a conninfo
 *          libpq cannot parse, or no table name).
 */
dest_dlq *dest_dlq_open_pg(const char *conninfo, const char *table, cdc_err *err);

/* Stores one dead letter (written and fdatasync'ed, or committed).  @returns 0, or -1 with
   err set: the event is not stored, the caller keeps it and tries again later. */
int dest_dlq_append(dest_dlq *q, const dest_dlq_rec *r, cdc_err *err);

/**
 * Marks the dead letter of @p sink_id at @p pos replayed: the file gets a
 * marker line, the table sets replayed_at (only where it is still NULL).
 * @returns 0, or -1 with err set.
 */
int dest_dlq_mark_replayed(dest_dlq *q, const char *sink_id, cdc_pos pos, cdc_err *err);

/* "<sink_id>-<commit_lsn %016X>-<seq>", the letter's id in both stores. */
void dest_dlq_letter_id(const char *sink_id, cdc_pos pos, char *out, size_t n);

/* One dead letter read back from the table; every pointer lives for the callback only. */
typedef struct dest_dlq_row {
    int64_t     row_id;         /* the table's id */
    const char *sink_id;
    const char *topic;
    int         partition;
    uint64_t    offset;
    cdc_pos     pos;
    const char *error_type;
    const char *error_message;
    const char *stacktrace;
    const char *timestamp;      /* ISO-8601 UTC with milliseconds, as dlq.timestamp */
    const char *record;         /* the stored text, or NULL */
    const char *replayed_at;    /* NULL until replayed */
} dest_dlq_row;

/**
 * Calls @p fn for every row of the table store, in id order (a file store
 * is an error: agent/cmd/dlq_cli.c reads files itself).  @p fn returns 0 to go
 * on.  @returns 0, or -1 with err set.
 */
int dest_dlq_scan(dest_dlq *q, int (*fn)(void *arg, const dest_dlq_row *row), void *arg,
                  cdc_err *err);

bool        dest_dlq_is_table(const dest_dlq *q);
const char *dest_dlq_path(const dest_dlq *q);     /* the file, or "table <name>" */
uint64_t    dest_dlq_count(const dest_dlq *q);    /* appended through this handle */

/*
 * Finds the member @p name of the JSON object in @p text[0..n) without
 * decoding anything, so numbers keep their exact text.  On 1 *off and *len
 * give the raw value (no surrounding blanks).  @returns 1 found, 0 absent,
 * -1 not a well-framed object.
 */
int dest_dlq_json_member(const char *text, size_t n, const char *name, size_t *off,
                         size_t *len);

/*
 * True when @p rec[0..n) is JSON that jansson reads (numbers read as reals,
 * so an integer of any size passes) and holds no line break: it can be
 * copied verbatim into a JSON line (and a json column).
 */
bool dest_dlq_record_is_json(const char *rec, size_t n);

/* NULL is a no-op. */
void dest_dlq_close(dest_dlq *q);

#endif
