/*
 * A webhook receiver for test/bench/direct_bench.sh: answers 200 to every
 * request as fast as it can and counts the events it got (one per
 * "metadata" object in the body, so a batched JSON array counts each of its
 * elements).  Not a test double: it checks nothing and keeps nothing; the
 * recording receiver the tests use is test/doubles/webhook_receiver.py,
 * which is too slow for a million requests.
 *
 * Usage: bench_webhook_recv PORT COUNT_FILE
 * Runs until SIGTERM or SIGINT, then writes "<requests> <events>" to
 * COUNT_FILE.  While running it rewrites COUNT_FILE about once a second.
 */
#include <microhttpd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop;
static atomic_ullong nreq, nevents;

static void
on_signal(int sig)
{
    (void) sig;
    stop = 1;
}

/* Events in one chunk of a body; a needle cut between two chunks is counted by the carry. */
static unsigned long long
count_events(const char *data, size_t n, char *carry, size_t *ncarry)
{
    static const char  needle[] = "\"metadata\":";
    const size_t       nl = sizeof(needle) - 1;
    char               buf[4096 + 16];
    unsigned long long c = 0;

    while (n > 0) {
        size_t take = n > 4096 ? 4096 : n;
        size_t len;

        memcpy(buf, carry, *ncarry);
        memcpy(buf + *ncarry, data, take);
        len = *ncarry + take;
        for (const char *p = buf; (p = memmem(p, (size_t) (buf + len - p), needle, nl));
             p += nl)
            c++;
        *ncarry = len < nl - 1 ? len : nl - 1;
        memcpy(carry, buf + len - *ncarry, *ncarry);
        data += take;
        n -= take;
    }
    return c;
}

typedef struct req_state {
    char   carry[16];
    size_t ncarry;
} req_state;

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    static const char   ok[] = "{\"ok\":true}";
    req_state          *st = *con_cls;
    struct MHD_Response *resp;
    enum MHD_Result      rc;

    (void) cls, (void) url, (void) method, (void) version;
    if (st == NULL) {
        st = calloc(1, sizeof(*st));
        if (st == NULL)
            return MHD_NO;
        *con_cls = st;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        atomic_fetch_add(&nevents, count_events(upload, *upload_size, st->carry, &st->ncarry));
        *upload_size = 0;
        return MHD_YES;
    }
    atomic_fetch_add(&nreq, 1);
    resp = MHD_create_response_from_buffer(sizeof(ok) - 1, (void *) ok, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    rc = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return rc;
}

static void
on_done(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode t)
{
    (void) cls, (void) conn, (void) t;
    free(*con_cls);
    *con_cls = NULL;
}

static int
write_counts(const char *path)
{
    char  tmp[1024];
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "%llu %llu\n", (unsigned long long) atomic_load(&nreq),
            (unsigned long long) atomic_load(&nevents));
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, path);
}

int
main(int argc, char **argv)
{
    struct MHD_Daemon *d;
    struct sigaction   sa;
    int                port;

    if (argc != 3 || (port = atoi(argv[1])) <= 0 || port > 65535) {
        fprintf(stderr, "usage: bench_webhook_recv PORT COUNT_FILE\n");
        return 2;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, (uint16_t) port,
                         NULL, NULL, on_request, NULL,
                         MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
                         MHD_OPTION_CONNECTION_LIMIT, 256u, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "bench_webhook_recv: cannot listen on port %d\n", port);
        return 1;
    }
    while (!stop) {
        struct timespec ts = { 1, 0 };

        if (write_counts(argv[2]) < 0) {
            fprintf(stderr, "bench_webhook_recv: cannot write %s\n", argv[2]);
            break;
        }
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(d);
    return write_counts(argv[2]) < 0 ? 1 : 0;
}
