/*
 * `cdcagent dlq list|replay`: what an operator needs to see and do about the
 * dead letters of a direct-mode pipeline (agent/core/dest/dlq.h has both stores: the
 * JSON-lines file, or the PostgreSQL table when platform
 * dlq.postgres_conninfo is set; every command reads the one the agent
 * writes).
 *
 * list prints the dead letters, as a table or a JSON array; replay
 * re-delivers the stored record of each selected letter to the sink that
 * refused it, and marks it replayed only after the sink accepted it (a
 * {"replayed": id} line in the file, replayed_at in the table) (webhook: a
 * 2xx answer to the stored body, byte for byte, sent with the same
 * Idempotency-Key; postgres event_log: the stored row INSERTed and
 * committed).  A marked letter is never sent again, so running replay
 * twice delivers nothing the second time.  A postgres sink in replica mode
 * cannot be replayed: its SQL needs the source's column types, which the
 * JSON record does not carry; such letters are refused, each with a message
 * saying so.
 */
#ifndef CDC_AGENT_CMD_DLQ_CLI_H
#define CDC_AGENT_CMD_DLQ_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/config/config.h"
#include "agent/core/cdc_err.h"
#include "agent/core/dest/dlq.h"

/* Which dead letters a command works on; every member is optional (NULL / 0). */
typedef struct agent_dlq_filter {
    const char        *sink_id;     /* only this sink's */
    const char        *table;       /* "schema.table": the topic ends with ".schema.table" */
    const char        *error_type;  /* e.g. "http_status_400", "pg_23505" */
    bool               all;         /* list: include the replayed ones too */
    const char *const *ids;         /* only these ids (replay --id); the table's row id
                                       (decimal) selects a table letter too */
    int                nids;
} agent_dlq_filter;

/* One dead letter as read back; every string is owned by its set. */
typedef struct agent_dlq_letter {
    char    *id;                /* "<sink_id>-<commit_lsn %016X>-<seq>" */
    int64_t  row_id;            /* the table's id; 0 for the file */
    char    *sink_id;
    char    *topic;             /* dlq.source_topic */
    int      partition;
    uint64_t offset;            /* dlq.source_offset */
    uint64_t commit_lsn, seq;   /* seq may be UINT64_MAX (a transaction end) */
    char    *error_type;
    char    *error_message;
    char    *stacktrace;        /* dlq.stacktrace */
    char    *timestamp;         /* dlq.timestamp */
    char    *record;            /* the record's text exactly as the sink sent it, or NULL */
    bool     replayed;
    char    *replayed_at;       /* the marker's timestamp, or NULL */
    int      line;              /* 1-based line of the letter in the file; 0 for the table */
} agent_dlq_letter;

typedef struct agent_dlq_set {
    agent_dlq_letter *v;
    int               n, cap;
    int               nbad;     /* lines that were not JSON (a torn last line) */
} agent_dlq_set;

/*
 * The dead-letter file of @p cfg: platform dlq.path, else
 * "<pipeline_id>.dlq.jsonl" in the working directory, as agent/pipeline/run.c opens it.
 */
void agent_dlq_file_path(const cdc_config *cfg, char *out, size_t n);

/**
 * Reads @p path into @p set (zeroed first), in file order; a letter that
 * appears twice (re-sent after a crash and refused again) is kept once, and
 * replay markers set `replayed`.  A missing file is an empty set.
 * @returns 0, or -1 with err set (CDC_E_IO).  Free with agent_dlq_set_free().
 */
int  agent_dlq_read(const char *path, agent_dlq_set *set, cdc_err *err);

/* True when @p cfg's dead letters are in a table (platform dlq.postgres_conninfo set). */
bool agent_dlq_uses_table(const cdc_config *cfg);

/**
 * Reads every row of the table store @p q (dest_dlq_open_pg) into @p set
 * (zeroed first), in id order.  @returns 0, or -1 with err set.
 */
int  agent_dlq_read_table(dest_dlq *q, agent_dlq_set *set, cdc_err *err);
void agent_dlq_set_free(agent_dlq_set *set);

/* True when @p l is selected by @p f (a replayed letter only with f->all). */
bool agent_dlq_match(const agent_dlq_letter *l, const agent_dlq_filter *f);

/* Prints the selected dead letters (a table, or one JSON array).  @returns 0, or -1. */
int agent_dlq_list(const cdc_config *cfg, const agent_dlq_filter *f, bool json, cdc_err *err);

/**
 * Re-delivers the selected letters that are not replayed yet, in store order,
 * and marks each one after its sink accepted it.  A letter that fails is
 * reported on stderr and counted in @p failed; the others still go.
 * @param dry_run  print what would be sent, send and mark nothing.
 * @returns 0 (check *failed), or -1 with err set when the store cannot be
 *          read or marked.
 */
int agent_dlq_replay(const cdc_config *cfg, const agent_dlq_filter *f, bool dry_run,
                     int *failed, cdc_err *err);

#endif
