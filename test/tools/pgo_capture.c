/*
 * pgo_capture: records raw pgoutput payloads from a real server, for the
 * decoder's byte fixtures (test/fixtures/pgoutput/regen.sh drives it).
 *
 * Connects with libpq in replication=database mode, runs START_REPLICATION
 * on an existing pgoutput slot with the given plugin options, and writes
 * each XLogData payload to <outdir>/<NNNN>.bin (1-based), plus one line per
 * payload to <outdir>/index.txt: "NNNN <type byte> <length> <wal_start>".
 * With --seq, the payloads are also appended to one file as a u32
 * big-endian length followed by the bytes (a whole session for sequence
 * tests).  Stops at --endpos (like pg_recvlogical: a payload starting past
 * it is not written; a keepalive at or past it ends the run) or after
 * --count payloads, or at a non-transactional logical message whose prefix
 * is --stop-message (not written: a script emits it once its scenario is
 * over, which works while the capture runs concurrently), then confirms
 * what it received so the slot advances.
 *
 * A test tool, not the agent: it has its own small loop and exits on error.
 */
#include <errno.h>
#include <getopt.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <time.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_lsn.h"

#define PG_EPOCH_DIFF_US INT64_C(946684800000000)

typedef struct capture {
    const char *conninfo, *slot, *outdir, *seqfile;
    const char *proto, *publications, *streaming, *stop_prefix;
    bool        messages;
    uint64_t    endpos;     /* 0: none */
    long        count;      /* 0: no limit */
    int         timeout_s;

    PGconn     *conn;
    FILE       *index, *seq;
    long        written;
    uint64_t    received;   /* highest wal_end seen */
} capture;

static uint64_t
get_u64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static int64_t
pg_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - PG_EPOCH_DIFF_US;
}

/* Standby status update; write and flush positions are the same here. */
static int
send_feedback(capture *c, uint64_t lsn)
{
    cdc_buf b = CDC_BUF_INIT;
    int     rc = -1;

    cdc_buf_put_u8(&b, 'r');
    cdc_buf_put_u64be(&b, lsn);
    cdc_buf_put_u64be(&b, lsn);
    cdc_buf_put_u64be(&b, 0);           /* apply position: unused for logical */
    cdc_buf_put_u64be(&b, (uint64_t) pg_now_us());
    cdc_buf_put_u8(&b, 0);
    if (cdc_buf_failed(&b)) {
        fprintf(stderr, "pgo_capture: out of memory\n");
        goto out;
    }
    if (PQputCopyData(c->conn, (const char *) b.data, (int) b.len) != 1 || PQflush(c->conn) != 0) {
        fprintf(stderr, "pgo_capture: feedback: %s", PQerrorMessage(c->conn));
        goto out;
    }
    rc = 0;
out:
    cdc_buf_free(&b);
    return rc;
}

static int
write_payload(capture *c, const uint8_t *p, size_t n, uint64_t wal_start)
{
    char  path[4096], lsn[CDC_LSN_STRLEN];
    FILE *fp;
    uint8_t hdr[4] = { (uint8_t) (n >> 24), (uint8_t) (n >> 16), (uint8_t) (n >> 8), (uint8_t) n };

    c->written++;
    snprintf(path, sizeof(path), "%s/%04ld.bin", c->outdir, c->written);
    fp = fopen(path, "wb");
    if (fp == NULL || fwrite(p, 1, n, fp) != n || fclose(fp) != 0) {
        fprintf(stderr, "pgo_capture: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(c->index, "%04ld %c %zu %s\n", c->written, n ? (char) p[0] : '-', n,
            cdc_lsn_format(wal_start, lsn));
    if (c->seq != NULL && (fwrite(hdr, 1, 4, c->seq) != 4 || fwrite(p, 1, n, c->seq) != n)) {
        fprintf(stderr, "pgo_capture: %s: %s\n", c->seqfile, strerror(errno));
        return -1;
    }
    return 0;
}

/* A non-transactional MESSAGE outside a stream: 'M', flags 0, lsn, prefix. */
static bool
is_stop_message(const capture *c, const uint8_t *p, size_t n)
{
    size_t plen;

    if (c->stop_prefix == NULL || n < 10 || p[0] != 'M' || p[1] != 0)
        return false;
    plen = strlen(c->stop_prefix) + 1;
    return n >= 10 + plen && memcmp(p + 10, c->stop_prefix, plen) == 0;
}

/*
 * Handles one CopyData message.  Returns 1 when the run is complete, 0 to
 * go on, -1 on error.
 */
static int
handle_copy(capture *c, const uint8_t *m, int n)
{
    if (n >= 18 && m[0] == 'k') {
        uint64_t wal_end = get_u64(m + 1);

        if (c->endpos && wal_end >= c->endpos)
            return 1;
        /* Otherwise wal_sender_timeout would end the session. */
        if (m[17] && send_feedback(c, c->received) < 0)
            return -1;
        return 0;
    }
    if (n >= 25 && m[0] == 'w') {
        uint64_t wal_start = get_u64(m + 1);
        uint64_t wal_end = get_u64(m + 9);

        if ((c->endpos && wal_start > c->endpos) || is_stop_message(c, m + 25, (size_t) n - 25))
            return 1;
        if (write_payload(c, m + 25, (size_t) n - 25, wal_start) < 0)
            return -1;
        if (wal_end > c->received)
            c->received = wal_end;
        return c->count && c->written >= c->count ? 1 : 0;
    }
    fprintf(stderr, "pgo_capture: unexpected CopyData message '%c' (%d bytes)\n", m[0], n);
    return -1;
}

/* Waits for the socket to be readable, up to one second. */
static int
wait_socket(capture *c)
{
    int            fd = PQsocket(c->conn);
    fd_set         rfds;
    struct timeval tv = { 1, 0 };

    FD_ZERO(&rfds);
    FD_SET(fd, &rfds);
    if (select(fd + 1, &rfds, NULL, NULL, &tv) < 0 && errno != EINTR) {
        fprintf(stderr, "pgo_capture: select: %s\n", strerror(errno));
        return -1;
    }
    if (PQconsumeInput(c->conn) == 0) {
        fprintf(stderr, "pgo_capture: %s", PQerrorMessage(c->conn));
        return -1;
    }
    return 0;
}

static int
stream(capture *c)
{
    time_t deadline = time(NULL) + c->timeout_s;
    int    done = 0;

    while (!done) {
        char *buf = NULL;
        int   n = PQgetCopyData(c->conn, &buf, 1);

        if (n == 0) {
            if (time(NULL) > deadline) {
                fprintf(stderr, "pgo_capture: timed out after %d s\n", c->timeout_s);
                return -1;
            }
            if (wait_socket(c) < 0)
                return -1;
            continue;
        }
        if (n < 0) {
            fprintf(stderr, "pgo_capture: stream ended: %s", PQerrorMessage(c->conn));
            return -1;
        }
        done = handle_copy(c, (const uint8_t *) buf, n);
        PQfreemem(buf);
        if (done < 0)
            return -1;
    }
    return 0;
}

/* Confirms what was received, ends COPY and drains the server's side. */
static int
finish(capture *c)
{
    PGresult *res;
    char     *buf;

    if (send_feedback(c, c->endpos > c->received ? c->endpos : c->received) < 0)
        return -1;
    if (PQputCopyEnd(c->conn, NULL) != 1 || PQflush(c->conn) != 0)
        return -1;
    while (PQgetCopyData(c->conn, &buf, 0) > 0)
        PQfreemem(buf);
    while ((res = PQgetResult(c->conn)) != NULL)
        PQclear(res);
    return 0;
}

static int
start(capture *c)
{
    const char *keys[] = { "dbname", "replication", NULL };
    const char *vals[] = { c->conninfo, "database", NULL };
    char        q[1024];
    PGresult   *res;
    int         rc = -1;

    c->conn = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(c->conn) != CONNECTION_OK) {
        fprintf(stderr, "pgo_capture: connect: %s", PQerrorMessage(c->conn));
        return -1;
    }
    snprintf(q, sizeof(q),
             "START_REPLICATION SLOT \"%s\" LOGICAL 0/0 (proto_version '%s', "
             "publication_names '%s', messages '%s'%s%s%s)",
             c->slot, c->proto, c->publications, c->messages ? "true" : "false",
             c->streaming ? ", streaming '" : "", c->streaming ? c->streaming : "",
             c->streaming ? "'" : "");
    res = PQexec(c->conn, q);
    if (PQresultStatus(res) != PGRES_COPY_BOTH) {
        fprintf(stderr, "pgo_capture: %s: %s", q, PQresultErrorMessage(res));
        goto out;
    }
    rc = 0;
out:
    PQclear(res);
    return rc;
}

static void
usage(void)
{
    fprintf(stderr,
            "usage: pgo_capture -d CONNINFO -S SLOT -o OUTDIR -P PUBLICATIONS\n"
            "         [--proto-version N] [--messages] [--streaming on|off]\n"
            "         [--endpos LSN] [--count N] [--stop-message PREFIX] [--seq FILE]\n"
            "         [--timeout SECONDS]\n");
}

static int
parse_args(capture *c, int argc, char **argv)
{
    static const struct option opts[] = {
        { "dbname", required_argument, NULL, 'd' },  { "slot", required_argument, NULL, 'S' },
        { "outdir", required_argument, NULL, 'o' },  { "publication", required_argument, NULL, 'P' },
        { "proto-version", required_argument, NULL, 'v' },
        { "messages", no_argument, NULL, 'm' },      { "streaming", required_argument, NULL, 's' },
        { "endpos", required_argument, NULL, 'E' },  { "count", required_argument, NULL, 'n' },
        { "seq", required_argument, NULL, 'q' },     { "timeout", required_argument, NULL, 't' },
        { "stop-message", required_argument, NULL, 'x' },
        { NULL, 0, NULL, 0 }
    };
    int ch;

    while ((ch = getopt_long(argc, argv, "d:S:o:P:v:ms:E:n:q:t:x:", opts, NULL)) != -1) {
        switch (ch) {
        case 'd': c->conninfo = optarg; break;
        case 'S': c->slot = optarg; break;
        case 'o': c->outdir = optarg; break;
        case 'P': c->publications = optarg; break;
        case 'v': c->proto = optarg; break;
        case 'm': c->messages = true; break;
        case 's': c->streaming = optarg; break;
        case 'E':
            if (cdc_lsn_parse(optarg, &c->endpos) < 0) {
                fprintf(stderr, "pgo_capture: bad LSN %s\n", optarg);
                return -1;
            }
            break;
        case 'n': c->count = atol(optarg); break;
        case 'q': c->seqfile = optarg; break;
        case 't': c->timeout_s = atoi(optarg); break;
        case 'x': c->stop_prefix = optarg; break;
        default: return -1;
        }
    }
    if (!c->conninfo || !c->slot || !c->outdir || !c->publications || (!c->endpos && !c->count && !c->stop_prefix))
        return -1;
    /* Values go inside single quotes in the command: refuse what would break out. */
    if (strpbrk(c->slot, "\"") || strpbrk(c->publications, "'") || strpbrk(c->proto, "'") ||
        (c->streaming && strpbrk(c->streaming, "'")))
        return -1;
    return 0;
}

int
main(int argc, char **argv)
{
    capture c = { .proto = "1", .timeout_s = 60 };
    char    path[4096];
    int     rc = 1;

    if (parse_args(&c, argc, argv) < 0) {
        usage();
        return 2;
    }
    mkdir(c.outdir, 0777);
    snprintf(path, sizeof(path), "%s/index.txt", c.outdir);
    c.index = fopen(path, "w");
    c.seq = c.seqfile ? fopen(c.seqfile, "wb") : NULL;
    if (c.index == NULL || (c.seqfile && c.seq == NULL)) {
        fprintf(stderr, "pgo_capture: cannot create output: %s\n", strerror(errno));
        goto out;
    }
    if (start(&c) < 0 || stream(&c) < 0 || finish(&c) < 0)
        goto out;
    fprintf(stderr, "pgo_capture: %ld payloads in %s\n", c.written, c.outdir);
    rc = 0;
out:
    if (c.index)
        fclose(c.index);
    if (c.seq)
        fclose(c.seq);
    PQfinish(c.conn);
    return rc;
}
