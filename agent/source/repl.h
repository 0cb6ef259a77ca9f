/*
 * The walsender side of logical replication: a replication connection,
 * IDENTIFY_SYSTEM, CREATE_REPLICATION_SLOT, START_REPLICATION with pgoutput,
 * the CopyBoth stream of XLogData ('w') and keepalive ('k') messages, and
 * standby status updates ('r').  Protocol: "Streaming Replication Protocol"
 * in the PostgreSQL manual; pg_recvlogical.c is the model.
 *
 * It reports two positions, never confusing them: `written` is what was
 * received and `flushed` is what the destinations made durable (the
 * watermark).  The slot's confirmed_flush_lsn follows `flushed` only.
 */
#ifndef CDC_AGENT_SOURCE_REPL_H
#define CDC_AGENT_SOURCE_REPL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/config/config.h"
#include "agent/core/cdc_err.h"

typedef struct repl_stream repl_stream;

typedef struct repl_msg {
    char           kind;            /* 'w' XLogData, 'k' keepalive */
    uint64_t       data_start;      /* 'w': WAL position of this message */
    uint64_t       wal_end;         /* server's WAL end (keepalive: its send position) */
    bool           reply_requested; /* 'k' */
    const uint8_t *data;            /* 'w': the pgoutput message; valid until the next read */
    size_t         len;
} repl_msg;

/* Connects (replication=database) and runs IDENTIFY_SYSTEM. */
repl_stream *repl_open(const cfg_source *src, cdc_err *err);
void         repl_close(repl_stream *rs);          /* NULL is a no-op */

int repl_server_version(const repl_stream *rs);    /* e.g. 150004 */
/* The server's timeline at connect (IDENTIFY_SYSTEM): a promotion raises it. */
unsigned repl_timeline(const repl_stream *rs);
/* The connection, for commands run before START_REPLICATION. */
PGconn *repl_conn(repl_stream *rs);

/*
 * CREATE_REPLICATION_SLOT <slot> LOGICAL pgoutput, exporting a snapshot when
 * asked.  The snapshot stays valid until the next command on this connection.
 * failover: (FAILOVER true), PostgreSQL 17+ (agent_failover_prepare checked).
 */
int repl_create_slot(repl_stream *rs, const char *slot, bool export_snapshot, bool failover,
                     uint64_t *consistent_point, char *snapshot_name, size_t snapsz,
                     cdc_err *err);

/*
 * CREATE_REPLICATION_SLOT <slot> TEMPORARY LOGICAL pgoutput EXPORT_SNAPSHOT:
 * a snapshot at an exact WAL position (the consistent point) while another
 * slot streams.  The slot goes away with the connection.
 */
int repl_create_temp_slot(repl_stream *rs, const char *slot, uint64_t *consistent_point,
                          char *snapshot_name, size_t snapsz, cdc_err *err);

/*
 * What the agent asks pgoutput for, the best each server offers
 * (docs/postgresql-versions.md): protocol 1 on 12-13; 2 with streaming 'on'
 * and messages on 14-15; 4 with streaming 'parallel' (Stream Abort then
 * carries the abort LSN and time) and origin 'any' on 16 and later.
 */
typedef struct repl_proto {
    int         version;        /* proto_version */
    const char *streaming;      /* NULL (not asked), "on" or "parallel" */
    bool        messages;       /* messages 'true' (logical decoding messages) */
    bool        origin_any;     /* origin 'any': changes applied by a subscription too */
} repl_proto;

repl_proto repl_proto_for(int server_version);

/* START_REPLICATION SLOT <slot> LOGICAL <start> with pgoutput's options. */
int repl_start(repl_stream *rs, const char *slot, uint64_t start, const char *publication,
               const repl_proto *proto, cdc_err *err);

/*
 * Waits up to timeout_ms for the next message.
 * @returns 1 with *msg filled, 0 when nothing arrived in time, -1 with err
 * set when the stream ended or failed (CDC_E_CONN when the connection is gone).
 */
int repl_read(repl_stream *rs, repl_msg *msg, int timeout_ms, cdc_err *err);

/*
 * For a loop that cannot handle messages now (it is waiting for a
 * destination inside the handling of one): reads what the server sent
 * without waiting, and keeps it, in order, for the next repl_read() calls
 * (at most a few MiB are read ahead; beyond that the socket holds the rest).
 * Never fails: a lost connection or an ended stream is reported by the
 * repl_read() that reaches it.  Sets *reply_due when the server asked for a
 * reply meanwhile, or when the last status update is half the server's
 * timeout old: the caller then sends a status update now.
 */
void repl_service(repl_stream *rs, bool *reply_due);

/* Sends a standby status update. */
int repl_send_status(repl_stream *rs, uint64_t written, uint64_t flushed, bool reply_requested,
                     cdc_err *err);

/* Ends the copy stream cleanly (after the final status update). */
int repl_finish(repl_stream *rs, cdc_err *err);

/* Microseconds since 2000-01-01, PostgreSQL's epoch. */
int64_t repl_pg_now(void);

#endif
