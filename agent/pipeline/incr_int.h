/*
 * The incremental snapshot's state, shared by incr.c (signals, the watermark
 * windows, the record), incr_blocking.c (the blocking snapshot asked for by a
 * signal), incr_collections.c (the tables a signal names, the table list)
 * and incr_signal.c (the signals, the change hook).  Calls go one way:
 * incr_signal.c -> incr.c -> incr_blocking.c -> incr_collections.c.
 * Not for use outside agent/pipeline/incr*.c.
 */
#ifndef CDC_AGENT_PIPELINE_INCR_INT_H
#define CDC_AGENT_PIPELINE_INCR_INT_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/core/cdc_arena.h"
#include "agent/pipeline/incr.h"
#include "agent/pipeline/watermark.h"

#define INCR_KEYS_MAX 32

typedef struct incr_table {
    char *name;             /* "schema.table" as the signal wrote it */
    char *cond;             /* additional-conditions filter, or NULL */
} incr_table;

/* A chunk emitted and not yet durable in every destination: where reading it began. */
typedef struct incr_pend {
    uint64_t at;            /* commit LSN of the transaction that carries it */
    char    *table;
    char    *cond;          /* the table's additional condition, or NULL */
    json_t  *from, *max;
} incr_pend;

#define INCR_PEND_MAX 32

/* One row of the open chunk: its columns' text (NULL: SQL NULL) and its key's text. */
typedef struct incr_row {
    char **vals;
    char  *key;
    bool   gone;            /* a streamed change to its key arrived while the window was open */
} incr_row;

struct agent_incr {
    const cfg_source *src;
    agent_state      *st;
    PGconn           *conn;
    const agent_wm   *wm;           /* what every destination made durable */
    bool              sync_set;     /* conn has synchronous_commit on */
    char              sig_schema[64], sig_table[64];
    char              sig_quoted[300];
    bool              msg_marks;    /* no signal table: the window's markers are logical
                                       decoding messages (PostgreSQL 14+) */

    /* The snapshot (saved in the record) */
    bool        running, paused;
    cdc_pos     signal;         /* the last signal handled: (commit LSN, change LSN) */
    char        id[128];        /* the execute-snapshot signal's id */
    incr_table *tables;         /* [0] is the one being read */
    int         ntables;
    json_t     *from;           /* the key after which the next chunk starts; NULL: start */
    json_t     *max;            /* the table's largest key when its reading began */
    incr_pend   pend[INCR_PEND_MAX + 1];    /* oldest first */
    int         npend;

    /* The window of the chunk read last */
    bool        pending;        /* markers written, its close not reached yet */
    bool        open;
    uint64_t    open_at;        /* commit LSN of the open row's transaction */
    char        chunk_id[64];
    uint64_t    chunk_no;
    uint32_t    relid;
    int         ncols;
    incr_row   *rows;
    int         nrows;
    json_t     *chunk_last;     /* the chunk's last key; NULL when it was empty */
    bool        table_done;     /* the chunk is the table's last */
    cdc_arena  *arena;          /* the chunk's text */
    cdc_arena  *emit_arena;     /* values of the row being emitted */
    uint64_t    rows_emitted;
    uint64_t    rows_dropped;   /* chunk rows a streamed change in the window replaced */
    uint64_t    chunks_done;    /* windows closed by the current snapshot (in the record) */
    int         tables_done;    /* its tables read to the end (in the record) */

    /* A blocking snapshot asked for and not yet durable everywhere (in the record) */
    char        blk_id[128];    /* "": none */
    incr_table *blk;
    int         nblk;
};

/* incr.c */
int         incr_save(agent_incr *in, cdc_err *err);
/* Reads the next chunk and writes its window's markers, while running, not paused and no
   window is pending. */
int         incr_read_chunk(agent_incr *in, agent_capture *cap, cdc_err *err);
/* A window marker "<chunk id>-open|close" (len bytes, in the transaction committing at
   commit_lsn): only the current chunk's count; its close emits the chunk. */
int         incr_window_mark(agent_incr *in, agent_capture *cap, const char *id, size_t len,
                             uint64_t commit_lsn, uint64_t lsn, cdc_err *err);
void        incr_drop_table(agent_incr *in, int t);
void        incr_stopped(agent_incr *in);

/* incr_collections.c (calls nothing in incr.c or incr_blocking.c) */
void        incr_tables_free(agent_incr *in);
void        incr_table_add(agent_incr *in, const char *name, const char *cond);
/*
 * The data-collections of a signal as Debezium expands them: each entry a
 * Java regular expression matched against the whole "schema.table" of every
 * table of source.tables, case-sensitive; an entry that matches none is kept
 * when it names such a table.  What matches nothing or does not compile is
 * logged (signal id) and skipped.
 * @returns a new JSON array of table names, in order, each once.
 */
json_t     *incr_expand(const agent_incr *in, const char *id, json_t *dcs);
/* The filter of the first additional-conditions entry whose data-collection (a regex, as
   above) matches table name, else the old additional-condition, else NULL. */
const char *incr_condition_for(const agent_incr *in, const char *id, json_t *data,
                               const char *name);

/* incr_blocking.c (calls nothing in incr.c) */
void incr_blocking_clear(agent_incr *in);
void incr_blocking_add(agent_incr *in, const char *name, const char *cond);
/* execute-snapshot of type blocking: recorded (@returns 1: the caller saves the record; 0:
   ignored, logged), then run.c pauses the stream to read them. */
int  incr_blocking_request(agent_incr *in, const char *id, json_t *data);

#endif
