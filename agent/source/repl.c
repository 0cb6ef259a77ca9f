#include "agent/source/repl.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_lsn.h"
#include "agent/core/cdc_mem.h"
#include "agent/source/slot_warn.h"
#include "agent/core/net/pgconn.h"
#include "agent/source/pg_source.h"

#define PG_EPOCH_OFFSET_US INT64_C(946684800000000)

/*
 * While the stream is busy, the socket's receive low-water mark makes poll()
 * wake only once this much has arrived, so each wake-up and each read moves a
 * large batch (and the walsender's sends coalesce).  When the stream turns
 * quiet the mark is dropped again, so a lone change is not held back.
 */
#define REPL_LOWAT_BYTES   (64 * 1024)
#define REPL_LOWAT_WAIT_MS 10

/*
 * A connection that goes silent (a cut network that drops packets, a proxy
 * that stops forwarding) is noticed the way PostgreSQL's walreceiver does it:
 * after half the timeout without a message the agent asks the server for a
 * reply, and when none arrives within the other half the connection counts
 * as lost and the agent reconnects.  The timeout is the server's own
 * wal_sender_timeout (the server drops us after that much silence too), or
 * this when it is disabled or unreadable.
 */
#define REPL_TIMEOUT_DEFAULT_MS 60000
#define REPL_TIMEOUT_MIN_MS     2000
#define REPL_FINISH_MS          3000    /* longest wait for the server to end the stream */
#define REPL_AHEAD_MAX_BYTES    (8 * 1024 * 1024)   /* read ahead by repl_service() */

/* PQgetCopyData's results kept by repl_service(): a buffer, or an end (len <= 0). */
#define REPL_AHEAD_LOST (-3)    /* PQconsumeInput failed */
typedef struct repl_ahead {
    char *buf;
    int   len;          /* > 0: a message; -1: stream ended; -2: read error; REPL_AHEAD_LOST */
} repl_ahead;

struct repl_stream {
    PGconn *conn;
    bool    lowat;          /* SO_RCVLOWAT raised */
    char   *copybuf;        /* last buffer from PQgetCopyData, freed on the next read */
    int     server_version;
    unsigned timeline;      /* IDENTIFY_SYSTEM's: a promotion (failover) raises it */
    char    slot[64];
    int64_t timeout_ms;     /* silence after which the connection counts as dead */
    int64_t last_recv_ms;   /* monotonic time of the last message from the server */
    int64_t ping_ms;        /* when a reply was asked for; 0: not asked */
    uint64_t last_written, last_flushed;    /* last status sent, repeated in pings */
    int64_t last_status_ms; /* when the last status update went out */
    repl_ahead *ahead;      /* read ahead by repl_service(), oldest at ahead_head */
    size_t  nahead, ahead_head, ahead_cap, ahead_bytes;
    bool    ahead_end;      /* the read-ahead reached the end of the stream */
};

/* Parses a SHOW value of a time setting ("60s", "1min", "500ms", "0") into ms; -1 if not one. */
static int64_t
parse_pg_ms(const char *v)
{
    char     *end;
    long long n = strtoll(v, &end, 10);

    if (end == v || n < 0)
        return -1;
    if (*end == '\0' || strcmp(end, "ms") == 0)
        return n;
    if (strcmp(end, "s") == 0)
        return n * 1000;
    if (strcmp(end, "min") == 0)
        return n * 60000;
    if (strcmp(end, "h") == 0)
        return n * 3600000;
    return -1;
}

/* The server's wal_sender_timeout, or the default; never below the minimum. */
static int64_t
read_timeout(PGconn *conn)
{
    PGresult *res = PQexec(conn, "SHOW wal_sender_timeout");
    int64_t   ms = -1;

    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        ms = parse_pg_ms(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (ms <= 0)
        return REPL_TIMEOUT_DEFAULT_MS;
    return ms < REPL_TIMEOUT_MIN_MS ? REPL_TIMEOUT_MIN_MS : ms;
}

int64_t
repl_pg_now(void)
{
    return cdc_wall_us() - PG_EPOCH_OFFSET_US;
}

static uint64_t
get_u64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

repl_stream *
repl_open(const cfg_source *src, cdc_err *err)
{
    repl_stream *rs;
    PGconn      *conn;
    PGresult    *res;

    conn = agent_pg_connect(src, true, err);
    if (conn == NULL)
        return NULL;
    res = PQexec(conn, "IDENTIFY_SYSTEM");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) < 4) {
        cdc_err_set(err, CDC_E_PG, "IDENTIFY_SYSTEM on %s:%s failed: %s", PQhost(conn), PQport(conn),
                    PQresultErrorMessage(res));
        PQclear(res);
        PQfinish(conn);
        return NULL;
    }
    if (PQgetisnull(res, 0, 3) || strcmp(PQgetvalue(res, 0, 3), src->database) != 0) {
        cdc_err_set(err, CDC_E_PG, "replication connection to %s:%s is not bound to database %s",
                    PQhost(conn), PQport(conn), src->database);
        PQclear(res);
        PQfinish(conn);
        return NULL;
    }
    /* The server reached, not the list: with several hosts it says which one. */
    log_info("repl", "connected to %s:%s database %s, system %s, timeline %s, WAL at %s",
             PQhost(conn), PQport(conn), src->database, PQgetvalue(res, 0, 0),
             PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
    rs = cdc_xcalloc(1, sizeof(*rs));
    rs->timeline = (unsigned) strtoul(PQgetvalue(res, 0, 1), NULL, 10);
    PQclear(res);
    rs->conn = conn;
    rs->server_version = PQserverVersion(conn);
    rs->timeout_ms = read_timeout(conn);
    return rs;
}

void
repl_close(repl_stream *rs)
{
    if (rs == NULL)
        return;
    if (rs->copybuf)
        PQfreemem(rs->copybuf);
    for (size_t i = rs->ahead_head; i < rs->nahead; i++)
        if (rs->ahead[i].buf)
            PQfreemem(rs->ahead[i].buf);
    free(rs->ahead);
    PQfinish(rs->conn);
    free(rs);
}

int
repl_server_version(const repl_stream *rs)
{
    return rs->server_version;
}

unsigned
repl_timeline(const repl_stream *rs)
{
    return rs->timeline;
}

PGconn *
repl_conn(repl_stream *rs)
{
    return rs->conn;
}

/* Runs a CREATE_REPLICATION_SLOT command and reads its consistent point and snapshot. */
static int
create_slot(repl_stream *rs, const char *slot, const char *sql, const char *what,
            uint64_t *consistent_point, char *snapshot_name, size_t snapsz, cdc_err *err)
{
    PGresult *res = PQexec(rs->conn, sql);
    int       rc = -1;

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

        /* 42710: created by someone else since we looked (two agents are kept
           apart by agent_slot_lock; this is another tool or a DBA). */
        if (state && strcmp(state, "42710") == 0)
            cdc_err_set(err, CDC_E_STATE, "slot %s is in use by another agent or tool: it was "
                        "created by someone else while this agent was starting; run one agent "
                        "per slot (slot status shows who holds it)", slot);
        else
            cdc_err_set(err, CDC_E_PG, "creating replication slot %s: %s", slot,
                        PQresultErrorMessage(res));
        goto out;
    }
    if (cdc_lsn_parse(PQgetvalue(res, 0, 1), consistent_point) < 0) {
        cdc_err_set(err, CDC_E_PROTO, "creating replication slot %s: bad consistent point \"%s\"",
                    slot, PQgetvalue(res, 0, 1));
        goto out;
    }
    if (snapshot_name)
        snprintf(snapshot_name, snapsz, "%s", PQgetisnull(res, 0, 2) ? "" : PQgetvalue(res, 0, 2));
    log_info("repl", "slot %s: created%s, consistent at " CDC_LSN_FMT "%s%s", slot, what,
             CDC_LSN_ARGS(*consistent_point), snapshot_name && snapshot_name[0] ? ", snapshot " : "",
             snapshot_name ? snapshot_name : "");
    rc = 0;
out:
    PQclear(res);
    return rc;
}

/* The slot was invalidated (@p reason from agent_slot_invalid_reason_from_error). */
static void
slot_invalidated(repl_stream *rs, const char *slot, const char *reason, const char *what,
                 const char *msg, cdc_err *err)
{
    char why[400];

    cdc_err_set(err, CDC_E_STATE, "slot %s on %s:%s cannot be used: PostgreSQL invalidated it "
                "(%s); its changes are lost; see docs/fault-matrix.md for the recovery "
                "(%s: %s)", slot, PQhost(rs->conn), PQport(rs->conn),
                agent_slot_invalid_cause(reason, why, sizeof(why)), what, msg);
}

int
repl_create_slot(repl_stream *rs, const char *slot, bool export_snapshot, bool failover,
                 uint64_t *consistent_point, char *snapshot_name, size_t snapsz, cdc_err *err)
{
    char ident[160], sql[256];

    agent_pg_quote_ident(rs->conn, slot, ident, sizeof(ident));
    /* The options list is 15's; FAILOVER 17's.  The older spelling otherwise. */
    if (failover)
        snprintf(sql, sizeof(sql), "CREATE_REPLICATION_SLOT %s LOGICAL pgoutput "
                 "(SNAPSHOT '%s', FAILOVER true)", ident, export_snapshot ? "export" : "nothing");
    else
        snprintf(sql, sizeof(sql), "CREATE_REPLICATION_SLOT %s LOGICAL pgoutput %s", ident,
                 export_snapshot ? "EXPORT_SNAPSHOT" : "NOEXPORT_SNAPSHOT");
    return create_slot(rs, slot, sql, failover ? " with failover" : "", consistent_point,
                       export_snapshot ? snapshot_name : NULL, snapsz, err);
}

int
repl_create_temp_slot(repl_stream *rs, const char *slot, uint64_t *consistent_point,
                      char *snapshot_name, size_t snapsz, cdc_err *err)
{
    char ident[160], sql[256];

    agent_pg_quote_ident(rs->conn, slot, ident, sizeof(ident));
    snprintf(sql, sizeof(sql), "CREATE_REPLICATION_SLOT %s TEMPORARY LOGICAL pgoutput "
             "EXPORT_SNAPSHOT", ident);
    return create_slot(rs, slot, sql, " (temporary)", consistent_point, snapshot_name, snapsz,
                       err);
}

/*
 * START_REPLICATION refused.  A slot that is gone or invalidated will not come
 * back by retrying (CDC_E_STATE); one still held by a walsender is usually our
 * own previous connection that the server has not yet noticed is dead, so that
 * is worth retrying (CDC_E_CONN).
 */
static void
start_failed(repl_stream *rs, const char *slot, const PGresult *res, cdc_err *err)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    char        msg[200];
    char       *nl;

    snprintf(msg, sizeof(msg), "%s", res ? PQresultErrorMessage(res) : PQerrorMessage(rs->conn));
    while ((nl = strchr(msg, '\n')) != NULL)
        *nl = nl[1] ? ' ' : '\0';
    if (state && strcmp(state, "42704") == 0)
        cdc_err_set(err, CDC_E_STATE, "slot %s does not exist on %s:%s (dropped while the agent "
                    "ran, or a failover reached a server without a synced copy); its changes "
                    "are lost and the agent does not start over silently: docs/ha.md, "
                    "docs/fault-matrix.md (START_REPLICATION: %s)", slot, PQhost(rs->conn),
                    PQport(rs->conn), msg);
    else if (state && strcmp(state, "55000") == 0) {
        char reason[48];

        agent_slot_invalid_reason_from_error(msg, reason, sizeof(reason));
        if (reason[0])
            slot_invalidated(rs, slot, reason, "START_REPLICATION", msg, err);
        else
            cdc_err_set(err, CDC_E_STATE, "slot %s cannot be used (invalidated: it fell behind "
                        "max_slot_wal_keep_size?); see docs/fault-matrix.md for the recovery "
                        "(START_REPLICATION: %s)", slot, msg);
    }
    else if (state && strcmp(state, "55006") == 0)
        cdc_err_set(err, CDC_E_CONN, "slot %s is in use by another process (pid %s on the "
                    "server: another agent or tool, or this agent's previous connection not "
                    "yet ended) (START_REPLICATION: %s)", slot,
                    strstr(msg, "PID ") ? strstr(msg, "PID ") + 4 : "?", msg);
    else
        cdc_err_set(err, PQstatus(rs->conn) == CONNECTION_BAD ? CDC_E_CONN : CDC_E_PG,
                    "slot %s: START_REPLICATION: %s", slot, msg);
}

repl_proto
repl_proto_for(int server_version)
{
    repl_proto p = { .version = 1 };

    if (server_version >= 160000) {
        p.version = 4;          /* LOGICALREP_PROTO_STREAM_PARALLEL_VERSION_NUM */
        p.streaming = "parallel";
        p.origin_any = true;
    } else if (server_version >= 140000) {
        p.version = 2;          /* LOGICALREP_PROTO_STREAM_VERSION_NUM */
        p.streaming = "on";
    }
    p.messages = server_version >= 140000;
    return p;
}

int
repl_start(repl_stream *rs, const char *slot, uint64_t start, const char *publication,
           const repl_proto *proto, cdc_err *err)
{
    char      ident[160], pub[300], *publit;
    cdc_buf   q = CDC_BUF_INIT;
    PGresult *res = NULL;
    int       rc = -1;

    agent_pg_quote_ident(rs->conn, slot, ident, sizeof(ident));
    /* publication_names is itself a list of identifiers inside a string literal. */
    agent_pg_quote_ident(rs->conn, publication, pub, sizeof(pub));
    publit = PQescapeLiteral(rs->conn, pub, strlen(pub));
    cdc_buf_printf(&q, "START_REPLICATION SLOT %s LOGICAL %X/%X (proto_version '%d', "
                   "publication_names %s", ident, (unsigned) (start >> 32), (unsigned) start,
                   proto->version, publit ? publit : "''");
    if (proto->messages)
        cdc_buf_puts(&q, ", messages 'true'");
    if (proto->streaming)
        cdc_buf_printf(&q, ", streaming '%s'", proto->streaming);
    if (proto->origin_any)
        cdc_buf_puts(&q, ", origin 'any'");
    cdc_buf_puts(&q, ")");
    PQfreemem(publit);
    if (cdc_buf_failed(&q)) {
        cdc_err_set(err, CDC_E_NOMEM, "START_REPLICATION: out of memory");
        goto out;
    }
    res = PQexec(rs->conn, cdc_buf_str(&q));
    if (PQresultStatus(res) != PGRES_COPY_BOTH) {
        start_failed(rs, slot, res, err);
        goto out;
    }
    rs->last_recv_ms = cdc_mono_ms();
    rs->ping_ms = 0;
    snprintf(rs->slot, sizeof(rs->slot), "%s", slot);
    log_info("repl", "slot %s: streaming from " CDC_LSN_FMT " (PostgreSQL %d, pgoutput proto %d%s%s)",
             slot, CDC_LSN_ARGS(start), rs->server_version, proto->version,
             proto->streaming ? ", streaming " : "", proto->streaming ? proto->streaming : "");
    rc = 0;
out:
    PQclear(res);
    cdc_buf_free(&q);
    return rc;
}

static int
stream_ended(repl_stream *rs, cdc_err *err)
{
    PGresult   *res = PQgetResult(rs->conn);
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    bool        bad = PQstatus(rs->conn) == CONNECTION_BAD;

    /* The server ending the stream without an error (a fast shutdown stops the
       walsender so), or an operator-intervention error (class 57: shutdown,
       terminated), is a lost connection to retry, not a failure. */
    if (res == NULL || PQresultStatus(res) != PGRES_FATAL_ERROR || (state && strncmp(state, "57", 2) == 0))
        bad = true;
    const char *msg = res && *PQresultErrorMessage(res) ? PQresultErrorMessage(res)
                      : *PQerrorMessage(rs->conn) ? PQerrorMessage(rs->conn)
                      : "the server closed it (shutting down?)";
    char        reason[48];

    /* A standby invalidating the slot under the walsender (a recovery conflict):
       retrying cannot help, and the cause must be named. */
    agent_slot_invalid_reason_from_error(msg, reason, sizeof(reason));
    if (reason[0])
        slot_invalidated(rs, rs->slot, reason, "the replication stream ended", msg, err);
    else
        cdc_err_set(err, bad ? CDC_E_CONN : CDC_E_PG, "slot %s: replication stream ended: %s",
                    rs->slot, msg);
    /* Keep the message on one line. */
    for (char *p = err ? err->msg : NULL; p && *p; p++)
        if (*p == '\n')
            *p = ' ';
    PQclear(res);
    return -1;
}

static int
parse_copy(repl_stream *rs, const uint8_t *p, int n, repl_msg *msg, cdc_err *err)
{
    if (n >= 25 && p[0] == 'w') {
        msg->kind = 'w';
        msg->data_start = get_u64(p + 1);
        msg->wal_end = get_u64(p + 9);
        msg->data = p + 25;
        msg->len = (size_t) n - 25;
        msg->reply_requested = false;
        return 1;
    }
    if (n >= 18 && p[0] == 'k') {
        msg->kind = 'k';
        msg->wal_end = get_u64(p + 1);
        msg->reply_requested = p[17] != 0;
        msg->data = NULL;
        msg->len = 0;
        return 1;
    }
    return cdc_err_set(err, CDC_E_PROTO, "slot %s: unexpected copy message 0x%02x of %d bytes",
                       rs->slot, n > 0 ? p[0] : 0, n);
}

static void
set_lowat(repl_stream *rs, bool on)
{
    int v = on ? REPL_LOWAT_BYTES : 1;

    if (on != rs->lowat &&
        setsockopt(PQsocket(rs->conn), SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v)) == 0)
        rs->lowat = on;
}

/* Waits for input; @returns 1 when some is there to consume, 0 on timeout or signal. */
static int
wait_input(repl_stream *rs, int timeout_ms, cdc_err *err)
{
    struct pollfd pfd = { .fd = PQsocket(rs->conn), .events = POLLIN };
    int           avail = 0, n;

    n = poll(&pfd, 1, rs->lowat && timeout_ms > REPL_LOWAT_WAIT_MS ? REPL_LOWAT_WAIT_MS : timeout_ms);
    if (n < 0 && errno != EINTR)
        return cdc_err_set(err, CDC_E_IO, "poll: %s", strerror(errno));
    if (n == 0 && rs->lowat) {
        /* Quiet: take what is there below the mark, and stop batching. */
        set_lowat(rs, false);
        return 1;
    }
    if (n <= 0)
        return 0;
    if (!rs->lowat && ioctl(pfd.fd, FIONREAD, &avail) == 0 && avail >= REPL_LOWAT_BYTES / 2)
        set_lowat(rs, true);
    return 1;
}

static int
check_silence(repl_stream *rs, cdc_err *err)
{
    int64_t now = cdc_mono_ms();

    if (rs->ping_ms == 0) {
        if (now - rs->last_recv_ms < rs->timeout_ms / 2)
            return 0;
        rs->ping_ms = now;
        log_debug("repl", "slot %s: nothing from the server for %lld ms; asking for a reply",
                  rs->slot, (long long) (now - rs->last_recv_ms));
        return repl_send_status(rs, rs->last_written, rs->last_flushed, true, err);
    }
    if (now - rs->ping_ms < rs->timeout_ms / 2)
        return 0;
    return cdc_err_set(err, CDC_E_CONN, "slot %s: no reply from the server for %lld ms "
                       "(timeout %lld ms, from wal_sender_timeout): the connection looks "
                       "dead", rs->slot, (long long) (now - rs->last_recv_ms),
                       (long long) rs->timeout_ms);
}

static void
ahead_push(repl_stream *rs, char *buf, int len)
{
    if (rs->nahead == rs->ahead_cap && rs->ahead_head > 0) {
        /* Reads and reads ahead can interleave without the queue ever running
           empty: reuse the slots already handed out before growing. */
        memmove(rs->ahead, rs->ahead + rs->ahead_head,
                (rs->nahead - rs->ahead_head) * sizeof(*rs->ahead));
        rs->nahead -= rs->ahead_head;
        rs->ahead_head = 0;
    }
    if (rs->nahead == rs->ahead_cap) {
        rs->ahead_cap = rs->ahead_cap ? rs->ahead_cap * 2 : 64;
        rs->ahead = cdc_xrealloc(rs->ahead, rs->ahead_cap * sizeof(*rs->ahead));
    }
    rs->ahead[rs->nahead++] = (repl_ahead) { buf, len };
    if (len > 0)
        rs->ahead_bytes += (size_t) len;
    else
        rs->ahead_end = true;
}

void
repl_service(repl_stream *rs, bool *reply_due)
{
    int64_t now = cdc_mono_ms();

    *reply_due = now - rs->last_status_ms >= rs->timeout_ms / 2;
    /*
     * With the queue full, leave the socket alone: PQconsumeInput would grow
     * libpq's input buffer without bound for as long as a destination pushes
     * back.  The server then blocks on its send, still reading our status
     * updates, which the caller sends on the timer above.
     */
    if (rs->ahead_end || rs->ahead_bytes >= REPL_AHEAD_MAX_BYTES)
        return;
    if (PQconsumeInput(rs->conn) == 0) {
        ahead_push(rs, NULL, REPL_AHEAD_LOST);
        return;
    }
    while (rs->ahead_bytes < REPL_AHEAD_MAX_BYTES) {
        char *buf = NULL;
        int   n = PQgetCopyData(rs->conn, &buf, 1);

        if (n == 0)
            break;
        if (n < 0) {
            ahead_push(rs, NULL, n);    /* repl_read() looks at why, in its turn */
            break;
        }
        rs->last_recv_ms = now;
        rs->ping_ms = 0;
        if (n >= 18 && buf[0] == 'k' && buf[17]) {
            /* Answered now (by the caller); the loop sees a plain keepalive later. */
            *reply_due = true;
            buf[17] = 0;
        }
        ahead_push(rs, buf, n);
    }
}

/* The oldest message read ahead, if any: returns like repl_read(), 2 when none is kept. */
static int
ahead_pop(repl_stream *rs, repl_msg *msg, cdc_err *err)
{
    repl_ahead a;

    if (rs->ahead_head == rs->nahead)
        return 2;
    a = rs->ahead[rs->ahead_head++];
    if (rs->ahead_head == rs->nahead)
        rs->ahead_head = rs->nahead = 0;
    if (a.len > 0) {
        rs->ahead_bytes -= (size_t) a.len;
        rs->copybuf = a.buf;
        return parse_copy(rs, (const uint8_t *) a.buf, a.len, msg, err);
    }
    rs->ahead_end = false;
    if (a.len == -1)
        return stream_ended(rs, err);
    if (a.len == -2)
        return cdc_err_set(err, CDC_E_CONN, "slot %s: reading the replication stream: %s",
                           rs->slot, PQerrorMessage(rs->conn));
    return cdc_err_set(err, CDC_E_CONN, "slot %s: connection lost: %s", rs->slot,
                       PQerrorMessage(rs->conn));
}

int
repl_read(repl_stream *rs, repl_msg *msg, int timeout_ms, cdc_err *err)
{
    int n;

    if (rs->copybuf) {
        PQfreemem(rs->copybuf);
        rs->copybuf = NULL;
    }
    n = ahead_pop(rs, msg, err);
    if (n != 2)
        return n;
    for (;;) {
        n = PQgetCopyData(rs->conn, &rs->copybuf, 1);
        if (n > 0) {
            rs->last_recv_ms = cdc_mono_ms();
            rs->ping_ms = 0;
            return parse_copy(rs, (const uint8_t *) rs->copybuf, n, msg, err);
        }
        if (n == -1)
            return stream_ended(rs, err);
        if (n == -2)
            return cdc_err_set(err, CDC_E_CONN, "slot %s: reading the replication stream: %s",
                               rs->slot, PQerrorMessage(rs->conn));
        if (timeout_ms == 0)
            return 0;
        n = wait_input(rs, timeout_ms, err);
        if (n == 0)
            return check_silence(rs, err); /* timed out, or a signal */
        if (n < 0)
            return n;
        if (PQconsumeInput(rs->conn) == 0)
            return cdc_err_set(err, CDC_E_CONN, "slot %s: connection lost: %s", rs->slot,
                               PQerrorMessage(rs->conn));
        timeout_ms = 0; /* data arrived: drain without waiting again */
    }
}

int
repl_send_status(repl_stream *rs, uint64_t written, uint64_t flushed, bool reply_requested,
                 cdc_err *err)
{
    cdc_buf b = CDC_BUF_INIT;
    int     rc = 0;

    cdc_buf_put_u8(&b, 'r');
    cdc_buf_put_u64be(&b, written);
    cdc_buf_put_u64be(&b, flushed);
    cdc_buf_put_u64be(&b, flushed);     /* applied: for us, the same as flushed */
    cdc_buf_put_u64be(&b, (uint64_t) repl_pg_now());
    cdc_buf_put_u8(&b, reply_requested ? 1 : 0);
    if (cdc_buf_failed(&b))
        rc = cdc_err_set(err, CDC_E_NOMEM, "status update: out of memory");
    else if (PQputCopyData(rs->conn, (const char *) b.data, (int) b.len) <= 0 ||
             PQflush(rs->conn) < 0)
        rc = cdc_err_set(err, CDC_E_CONN, "slot %s: sending status update: %s", rs->slot,
                         PQerrorMessage(rs->conn));
    cdc_buf_free(&b);
    if (rc == 0) {
        rs->last_written = written;
        rs->last_flushed = flushed;
        rs->last_status_ms = cdc_mono_ms();
    }
    return rc;
}

/*
 * Ends the stream: CopyDone, then what the server still sends is read and
 * dropped until it ends its side.  Bounded: a walsender busy decoding under
 * load can take long to answer, and the final status update has already
 * gone out ahead of the CopyDone, so past the bound the connection is simply
 * closed by repl_close().
 */
int
repl_finish(repl_stream *rs, cdc_err *err)
{
    int64_t deadline = cdc_mono_ms() + REPL_FINISH_MS;
    char   *buf;
    int     n;
    bool    copying = false;

    /* The server's last messages are smaller than a raised low-water mark:
       with it, poll() would not see them and every stop would wait the
       whole REPL_FINISH_MS. */
    set_lowat(rs, false);
    if (PQputCopyEnd(rs->conn, NULL) <= 0 || PQflush(rs->conn) < 0)
        return cdc_err_set(err, CDC_E_CONN, "slot %s: ending the stream: %s", rs->slot,
                           PQerrorMessage(rs->conn));
    for (;;) {
        struct pollfd pfd = { .fd = PQsocket(rs->conn), .events = POLLIN };
        int64_t       left;

        while ((n = PQgetCopyData(rs->conn, &buf, 1)) > 0)
            PQfreemem(buf);
        if (n == -2)
            return cdc_err_set(err, CDC_E_CONN, "slot %s: ending the stream: %s", rs->slot,
                               PQerrorMessage(rs->conn));
        while (n == -1 && !PQisBusy(rs->conn)) {
            PGresult *res = PQgetResult(rs->conn);

            if (res == NULL)
                return 0;
            copying = PQresultStatus(res) == PGRES_COPY_BOTH || PQresultStatus(res) == PGRES_COPY_OUT;
            PQclear(res);
            if (copying)
                break;
        }
        if (copying) {
            copying = false;
            continue;
        }
        left = deadline - cdc_mono_ms();
        if (left <= 0) {
            log_warn("repl", "slot %s: the server did not end the stream within %d ms; closing "
                     "the connection (the final status update was sent)", rs->slot,
                     REPL_FINISH_MS);
            return cdc_err_set(err, CDC_E_TIMEOUT, "slot %s: the server did not end the stream "
                               "within %d ms", rs->slot, REPL_FINISH_MS);
        }
        if (poll(&pfd, 1, (int) left) < 0 && errno != EINTR)
            return cdc_err_set(err, CDC_E_IO, "poll: %s", strerror(errno));
        if (PQconsumeInput(rs->conn) == 0)
            return cdc_err_set(err, CDC_E_CONN, "slot %s: ending the stream: %s", rs->slot,
                               PQerrorMessage(rs->conn));
    }
}
