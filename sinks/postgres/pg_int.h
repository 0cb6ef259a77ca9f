/*
 * Inside the PostgreSQL sink: its state and its queue of ops, shared by
 * postgres.c (the sink's calls, connecting, applying a batch, dead letters),
 * pg_conn.c (statements on the connection, the state row read), pg_batch.c
 * (runs of rows by COPY, the batch in flight) and pg_sql.c (identifiers, and
 * events turned into ops: SQL text and parameters).
 */
#ifndef CDC_SINKS_POSTGRES_PG_INT_H
#define CDC_SINKS_POSTGRES_PG_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_event.h"
#include "agent/core/cdc_retry.h"
#include "agent/core/dest/dlq.h"
#include "agent/core/dest/status.h"
#include "schemas/json.h"
#include "sinks/postgres/postgres.h"

#define PG_FAC "dest.postgres"
#define PG_GROUP_ROWS 1000          /* rows per multi-row statement */
#define PG_FAST_REST_MAX 256       /* batches without the fast path after failures */
#define PG_GROUP_SET  2048          /* open-addressing set for their keys: a power of 2 */

/* Why a replica-mode sink replays no dead letter (dlq replay says it per letter). */
#define PG_NO_REPLAY "a postgres sink in replica mode cannot replay a dead letter: its SQL " \
    "needs the source's column types, which the JSON record lacks; apply the change by hand " \
    "and leave the letter, or exclude it with --sink"

/* What a replica op keeps to write its dead-letter record if refused (pg_evcopy.c). */
typedef struct pg_evcopy pg_evcopy;

typedef struct pg_op {
    cdc_pos  pos;
    char    *sql;           /* NULL: no statement (transaction end, or a dead letter) */
    int      nparams;
    char   **params;        /* NULL entries are SQL NULL */
    char   **pnames;        /* the column each parameter goes to (NULL: not a column's) */
    bool     ddl;           /* failure is fatal, never a dead letter */
    bool     is_event;      /* counts toward batch_size */
    char    *deadmsg;       /* dead-letter this op instead of running it */
    char    *topic;
    uint64_t offset;
    char    *record;        /* {key,value,metadata} for the dead-letter file, made when a row
                               is refused: event_log from the parameters
                               (pg_sql_event_log_record), replica from evc */
    pg_evcopy *evc;         /* replica with a dead-letter file: the event, owned */
    /* replica upserts: sql is "<head>VALUES (<row>)<tail>"; several rows of the same sql
       and distinct keys can share one statement */
    bool     upsert;
    bool     keyed;         /* the table has a key: khash identifies the row */
    bool     insert;        /* a create or a read: the target should not have the row yet */
    int      cols_at, values_at, tail_at;     /* <head>(<cols>) VALUES (<row>)<tail> */
    uint64_t khash;
} pg_op;

/* The last upsert statement built for a relation slot (pg_sql.c: pg_sql_upsert). */
#define PG_SQLC 16
typedef struct pg_sqlc {
    uint32_t relid, version;
    int      ncols;
    uint8_t *incl;          /* the columns present, one byte each */
    char    *ident;         /* schema\0table\0 then each present column's name\0 key_pos */
    char    *sql;
    int      cols_at, values_at, tail_at;
} pg_sqlc;

typedef struct pg_relver {
    uint32_t relid, version;
} pg_relver;

typedef struct pgsink {
    char           *conninfo, *label, *sink_id, *prefix, *database;
    char           *table;          /* event_log: quoted [schema.]table */
    char           *index_name;     /* event_log: quoted unique index name */
    dest_pg_mode    mode;
    bool            upsert;
    int             batch_size, flush_ms;
    cdc_retry_conf retry;
    dest_dlq       *dlq;
    sch_json_opts   jopts;
    PGconn         *conn;
    pg_op          *ops;
    int             nops, cap, nevents;
    int64_t         first_ms;       /* when the oldest queued op came */
    cdc_pos         state;          /* committed in cdcagent_state */
    cdc_pos         durable;        /* state, or a later transaction end with nothing to write */
    pg_sqlc         sqlc[PG_SQLC];  /* upsert statements by relid % PG_SQLC */
    pg_relver      *known;
    int             nknown;
    uint64_t        gset[PG_GROUP_SET];     /* key hashes of the group being built */
    pg_op          *fly;            /* the batch in flight (postgres.c: pg_fly_start) */
    int             nfly, nflyevents;
    cdc_pos         fly_last;       /* its state row */
    bool            fly_commit;     /* the last result of the batch in flight was its COMMIT */
    bool            no_fly;         /* the last batch in flight failed: next one synchronous */
    bool            fly_fast;       /* the batch in flight COPYs into the table itself */
    int             fast_rest;      /* batches to fly the staging way before the next fast one */
    int             fast_backoff;   /* fast_rest after the next fast batch that fails */
    uint64_t        nfast, nfast_failed;
    uint64_t       *stages;         /* staging tables this connection has (hashes of shapes) */
    int             nstages;
    int             attempts;
    int64_t         next_try_ms;
    uint64_t        rng;
    uint64_t        napplied, nskipped, ndead, ntx;
    dest_status     st;             /* failing, fatal and the last failure */
} pgsink;

/* The state row's upsert (postgres.c and pg_batch.c). */
#define PG_STATE_UPSERT " ON CONFLICT (sink_id) DO UPDATE SET commit_lsn = EXCLUDED.commit_lsn, " \
    "seq = EXCLUDED.seq, updated_at = now()"

/* pg_conn.c */
int     pg_prepare_target(pgsink *p, cdc_err *err);
void    pg_drop_committed(pgsink *p);
int     pg_result_err(pgsink *p, const PGresult *res, char *pgerr, size_t errn);
int     pg_run(pgsink *p, const char *sql, int n, const char *const *params, char *pgerr,
               size_t errn);
bool    pg_lost(pgsink *p);

/* pg_batch.c */
int     pg_apply_group(pgsink *p, int *i, char *pgerr, size_t errn);
bool    pg_fly_start(pgsink *p);
int     pg_fly_poll(pgsink *p, bool block);

/* pg_evcopy.c */
pg_evcopy *pg_evcopy_new(const cdc_event *ev, int64_t now_us);
void       pg_evcopy_record(cdc_buf *b, const pg_evcopy *c, const sch_json_opts *o,
                            const char *topic);
void       pg_evcopy_free(pg_evcopy *c);

/* pg_sql.c */
char   *pg_quote_qualified(const char *name);
char   *pg_index_name(const char *name);
char   *pg_buf_take(cdc_buf *b);
pg_op  *pg_op_new(pgsink *p, cdc_pos pos);
void    pg_op_free(pg_op *op);
void    pg_queue_ddl(pgsink *p, const cdc_event *ev);
void    pg_sqlc_free(pg_sqlc *e);
void    pg_queue_replica(pgsink *p, const cdc_event *ev, pg_op *op);
void    pg_queue_event_log(pgsink *p, const cdc_event *ev, pg_op *op);
char   *pg_sql_event_log(pgsink *p, int nrows);
char   *pg_sql_event_log_record(const pg_op *op);
void    pg_copy_field(cdc_buf *b, const char *s);
void    pg_copy_row(cdc_buf *b, char *const *fields, int n);
void    pg_sql_stage_replica(const pg_op *op, const char *stage, char **create, char **copy,
                             char **apply);
void    pg_sql_stage_event_log(const pgsink *p, const char *stage, char **create, char **copy,
                               char **apply);
char   *pg_sql_copy_replica(const pg_op *op);
char   *pg_sql_copy_event_log(const pgsink *p);

#endif
