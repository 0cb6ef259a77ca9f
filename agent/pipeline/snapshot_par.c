#include "agent/pipeline/snapshot_par.h"

#include <errno.h>
#include <inttypes.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/core/cdc_arena.h"
#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"
#include "agent/core/net/pgconn.h"
#include "agent/source/pg_source.h"

enum { CHUNK_FREE = 0, CHUNK_READING, CHUNK_READY };

typedef struct snap_chunk {
    int64_t    idx;     /* which chunk of the table the slot holds */
    int        state;
    cdc_arena *arena;   /* the decoded rows' values; handed to the caller with the chunk */
    cdc_buf    rows;    /* cdc_value * per row, into arena */
    size_t     raw;     /* COPY bytes decoded since the last account() */
    size_t     counted; /* bytes of arena and rows added to snap_par.buffered */
} snap_chunk;

/* Arenas kept for reuse beyond the ring's (each keeps its first block, ARENA_BLOCK). */
#define ARENA_BLOCK  ((size_t) 1 << 20)

typedef struct snap_worker {
    snap_par *p;
    int       id;
    PGconn   *conn;
    PGcancel *cancel;   /* made before the thread starts: stops a COPY that waits */
    pthread_t tid;
    bool      started;
} snap_worker;

struct snap_par {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    int             nworkers;
    snap_worker    *workers;
    int             ring;           /* chunks claimed ahead of the one read, at most */
    snap_chunk     *chunks;
    size_t          buffered;       /* bytes of decoded rows held, the caller's arenas too */
    cdc_arena     **spare;          /* arenas given back, reset, for the next chunks */
    int             nspare, maxspare;
    /* the table being read */
    char           *table;
    char           *head;
    snap_par_decode_fn decode;
    const void     *dctx;
    int64_t         nchunks, chunk_blocks;
    char          **conds;          /* chunk i's condition (a key range); NULL: ctid ranges */
    int64_t         next_claim;     /* next chunk a worker takes */
    int64_t         emitted;        /* chunks the caller has finished with */
    bool            holding;        /* the caller holds chunk `emitted` */
    bool            quit, failed;
    cdc_err         err;
};

/* The bytes a chunk holds (its arena's blocks and its row list). Called with p->mu held. */
static void
recount(snap_par *p, snap_chunk *c)
{
    size_t now = cdc_arena_footprint(c->arena) + c->rows.len;

    p->buffered += now - c->counted;
    c->counted = now;
}

/* Adds a chunk's new bytes to the budget and, unless it is the next one read, waits for room. */
static void
account(snap_par *p, snap_chunk *c)
{
    pthread_mutex_lock(&p->mu);
    recount(p, c);
    while (!p->quit && !p->failed && c->idx != p->emitted && p->buffered > SNAP_PAR_BUDGET)
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

static void
cancel_copy(PGconn *conn)
{
    PGcancel *c = PQgetCancel(conn);
    PGresult *res;
    char      ebuf[128], *row;

    if (c) {
        PQcancel(c, ebuf, sizeof(ebuf));
        PQfreeCancel(c);
    }
    while (PQgetCopyData(conn, &row, 0) > 0)
        PQfreemem(row);
    while ((res = PQgetResult(conn)) != NULL)
        PQclear(res);
}

/* Reads and decodes one chunk's rows (decode: the table's, taken when the chunk was claimed). */
static int
read_chunk(snap_worker *w, const char *sql, snap_chunk *c, snap_par_decode_fn decode,
           const void *dctx, cdc_err *err)
{
    snap_par *p = w->p;
    PGresult *res = PQexec(w->conn, sql);
    char     *row = NULL;
    int       n;

    if (PQresultStatus(res) != PGRES_COPY_OUT) {
        cdc_err_set(err, CDC_E_PG, "%s", PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }
    PQclear(res);
    while ((n = PQgetCopyData(w->conn, &row, 0)) > 0) {
        cdc_value *vals = decode(dctx, row, (size_t) n, c->arena, err);

        PQfreemem(row);
        if (vals == NULL) {
            cancel_copy(w->conn);
            return -1;
        }
        cdc_buf_put(&c->rows, &vals, sizeof(vals));
        c->raw += (size_t) n;
        if (c->raw >= (256u << 10)) {
            c->raw = 0;
            account(p, c);
            if (p->quit || p->failed) {
                cancel_copy(w->conn);
                return 1;
            }
        }
    }
    if (n == -2) {
        cdc_err_set(err, CDC_E_CONN, "%s", PQerrorMessage(w->conn));
        return -1;
    }
    if (cdc_buf_failed(&c->rows)) {
        cancel_copy(w->conn);
        return cdc_err_set(err, CDC_E_NOMEM, "out of memory listing %zu rows",
                           c->rows.len / sizeof(cdc_value *));
    }
    res = PQgetResult(w->conn);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        cdc_err_set(err, CDC_E_PG, "%s", PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }
    PQclear(res);
    while ((res = PQgetResult(w->conn)) != NULL)
        PQclear(res);
    return 0;
}

static bool
can_claim(const snap_par *p)
{
    return p->head != NULL && p->next_claim < p->nchunks &&
           p->next_claim < p->emitted + p->ring &&
           (p->buffered < SNAP_PAR_BUDGET || p->next_claim == p->emitted);
}

static void *
worker_main(void *arg)
{
    snap_worker *w = arg;
    snap_par    *p = w->p;
    cdc_buf      sql = CDC_BUF_INIT;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        snap_chunk        *c;
        int64_t            i, lo, hi;
        cdc_err            e;
        int                rc;
        snap_par_decode_fn decode;
        const void        *dctx;

        while (!p->quit && !p->failed && !can_claim(p))
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->quit || p->failed)
            break;
        i = p->next_claim++;
        decode = p->decode;
        dctx = p->dctx;
        c = &p->chunks[i % p->ring];
        c->idx = i;
        c->state = CHUNK_READING;
        cdc_buf_reset(&c->rows);
        c->raw = 0;
        c->counted = 0;
        if (c->arena == NULL && p->nspare > 0)
            c->arena = p->spare[--p->nspare];
        if (c->arena != NULL)
            recount(p, c);
        lo = i * p->chunk_blocks;
        hi = lo + p->chunk_blocks;
        cdc_buf_reset(&sql);
        cdc_buf_puts(&sql, p->head);
        if (p->conds && p->conds[i])
            cdc_buf_printf(&sql, " AND %s", p->conds[i]);
        if (!p->conds && i > 0)
            cdc_buf_printf(&sql, " AND ctid >= '(%" PRId64 ",0)'::tid", lo);
        if (!p->conds && i + 1 < p->nchunks)
            cdc_buf_printf(&sql, " AND ctid < '(%" PRId64 ",0)'::tid", hi);
        cdc_buf_puts(&sql, ") TO STDOUT");
        pthread_mutex_unlock(&p->mu);

        if (c->arena == NULL)   /* counted from the first account() */
            c->arena = cdc_arena_new(ARENA_BLOCK);

        cdc_err_clear(&e);
        rc = read_chunk(w, cdc_buf_str(&sql), c, decode, dctx, &e);

        pthread_mutex_lock(&p->mu);
        recount(p, c);
        if (rc < 0 && !p->failed && !p->quit) {
            p->failed = true;
            p->err = e;
            if (p->conds)
                cdc_err_wrap(&p->err, "snapshot of %s, chunk %" PRId64 " of %" PRId64
                             " (%s, worker %d)", p->table, i + 1, p->nchunks,
                             p->conds[i] ? p->conds[i] : "all rows", w->id);
            else
                cdc_err_wrap(&p->err, "snapshot of %s, chunk %" PRId64 " of %" PRId64
                             " (pages %" PRId64 "-%s, worker %d)", p->table, i + 1, p->nchunks,
                             lo, i + 1 < p->nchunks ? "" : "end", w->id);
        } else if (rc == 0) {
            c->state = CHUNK_READY;
        }
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    cdc_buf_free(&sql);
    return NULL;
}

snap_par *
snap_par_start(const cfg_source *src, const char *snapshot_name, int nthreads, cdc_err *err)
{
    snap_par *p = cdc_xcalloc(1, sizeof(*p));
    char      sql[200];

#ifdef __GLIBC__
    /* The workers' chunk buffers grow to megabytes and are freed once emitted.  glibc raises
       its mmap threshold after each such free (up to 32 MiB), so later buffers would come
       from the threads' heaps and stay in the RSS when freed; a fixed threshold keeps every
       buffer over 1 MiB in its own mapping, given back on free (804 measured up to 137 MiB
       peak without it). */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->nworkers = nthreads;
    p->ring = nthreads + 1;
    p->maxspare = p->ring + 2;
    p->spare = cdc_xcalloc((size_t) p->maxspare, sizeof(cdc_arena *));
    p->workers = cdc_xcalloc((size_t) nthreads, sizeof(snap_worker));
    p->chunks = cdc_xcalloc((size_t) p->ring, sizeof(snap_chunk));
    snprintf(sql, sizeof(sql), "SET TRANSACTION SNAPSHOT '%s'", snapshot_name);
    for (int i = 0; i < nthreads; i++) {
        snap_worker *w = &p->workers[i];

        w->p = p;
        w->id = i + 1;
        w->conn = agent_pg_connect(src, false, err);
        if (w->conn == NULL ||
            agent_pg_exec(w->conn, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
                          "snapshot", err) < 0 ||
            agent_pg_exec(w->conn, sql, "importing the snapshot", err) < 0) {
            cdc_err_wrap(err, "snapshot worker %d of %d (source.snapshot_max_threads)", i + 1,
                         nthreads);
            snap_par_free(p);
            return NULL;
        }
        w->cancel = PQgetCancel(w->conn);
        if (pthread_create(&w->tid, NULL, worker_main, w) != 0) {
            cdc_err_set(err, CDC_E_NOMEM, "snapshot worker %d of %d: cannot start a thread: %s",
                        i + 1, nthreads, strerror(errno));
            snap_par_free(p);
            return NULL;
        }
        w->started = true;
    }
    return p;
}

static void
conds_free(snap_par *p)
{
    for (int64_t i = 0; p->conds && i < p->nchunks; i++)
        free(p->conds[i]);
    free(p->conds);
    p->conds = NULL;
}

/* The table's chunks: ctid ranges (conds NULL) or one condition each. */
static int64_t
table_start(snap_par *p, const char *table, const char *copy_head, int64_t nblocks,
            int64_t chunk_blocks, char *const *conds, int64_t nconds, snap_par_decode_fn decode,
            const void *dctx)
{
    pthread_mutex_lock(&p->mu);
    p->decode = decode;
    p->dctx = dctx;
    free(p->table);
    free(p->head);
    conds_free(p);
    p->table = cdc_xstrdup(table);
    p->head = cdc_xstrdup(copy_head);
    p->chunk_blocks = chunk_blocks > 0 ? chunk_blocks : 1;
    p->nchunks = nblocks > 0 ? (nblocks + p->chunk_blocks - 1) / p->chunk_blocks : 1;
    if (conds && nconds > 0) {
        p->nchunks = nconds;
        p->conds = cdc_xcalloc((size_t) nconds, sizeof(char *));
        for (int64_t i = 0; i < nconds; i++)
            p->conds[i] = conds[i] ? cdc_xstrdup(conds[i]) : NULL;
    }
    p->next_claim = 0;
    p->emitted = 0;
    p->holding = false;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return p->nchunks;
}

int64_t
snap_par_table(snap_par *p, const char *table, const char *copy_head, int64_t nblocks,
               int64_t chunk_blocks, snap_par_decode_fn decode, const void *dctx)
{
    return table_start(p, table, copy_head, nblocks, chunk_blocks, NULL, 0, decode, dctx);
}

int64_t
snap_par_table_conds(snap_par *p, const char *table, const char *copy_head, char *const *conds,
                     int64_t n, snap_par_decode_fn decode, const void *dctx)
{
    return table_start(p, table, copy_head, 0, 1, conds, n, decode, dctx);
}

int64_t
snap_par_held(snap_par *p)
{
    int64_t i;

    pthread_mutex_lock(&p->mu);
    i = p->holding ? p->emitted : -1;
    pthread_mutex_unlock(&p->mu);
    return i;
}

/* Gives the caller's chunk back. Called with p->mu held. */
static void
release(snap_par *p)
{
    snap_chunk *c;

    if (!p->holding)
        return;
    c = &p->chunks[p->emitted % p->ring];
    p->buffered -= c->counted;  /* the row list's: the arena was counted out when handed over */
    c->counted = 0;
    c->state = CHUNK_FREE;
    cdc_buf_free(&c->rows);     /* kept, ring slots would hold chunks beyond the budget */
    p->emitted++;
    p->holding = false;
    pthread_cond_broadcast(&p->cv);
}

void
snap_par_recycle(snap_par *p, cdc_arena *a)
{
    size_t fp;

    if (a == NULL)
        return;
    fp = cdc_arena_footprint(a);    /* counted since it was handed out */
    /* Reset here, at once: a spare waiting for a worker would keep its blocks. */
    cdc_arena_reset(a);
    pthread_mutex_lock(&p->mu);
    p->buffered -= fp;
    if (p->nspare < p->maxspare) {
        p->spare[p->nspare++] = a;
        a = NULL;
    }
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    cdc_arena_free(a);
}

int
snap_par_next(snap_par *p, snap_rows *out, volatile sig_atomic_t *stop, cdc_err *err)
{
    snap_chunk *c;
    int         rc;
    bool        waited = false;

    pthread_mutex_lock(&p->mu);
    release(p);
    for (;;) {
        if (p->failed) {
            *err = p->err;
            rc = -1;
            break;
        }
        if (p->emitted >= p->nchunks) {
            rc = 0;
            break;
        }
        if (stop && *stop) {
            rc = 2;
            break;
        }
        c = &p->chunks[p->emitted % p->ring];
        if (c->idx == p->emitted && c->state == CHUNK_READY) {
            size_t fp = cdc_arena_footprint(c->arena);

            out->rows = (cdc_value *const *) (void *) c->rows.data;
            out->n = c->rows.len / sizeof(cdc_value *);
            out->arena = c->arena;      /* the caller's now, counted until recycled */
            c->arena = NULL;
            c->counted -= fp;
            p->holding = true;
            rc = 1;
            break;
        }
        if (waited) {
            rc = 3;
            break;
        }
        {
            struct timespec ts;

            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 200 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            waited = pthread_cond_timedwait(&p->cv, &p->mu, &ts) == ETIMEDOUT;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void
snap_par_free(snap_par *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nworkers; i++) {
        snap_worker *w = &p->workers[i];
        char         ebuf[128];

        /* A COPY waiting on the server (a lock, a slow function) would keep the join
           waiting: cancel it, again each second in case the COPY started after the
           cancel; a worker that is idle gets nothing from a cancel. */
        while (w->started) {
            struct timespec ts;

            if (w->cancel)
                PQcancel(w->cancel, ebuf, sizeof(ebuf));
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            if (pthread_timedjoin_np(w->tid, NULL, &ts) == 0)
                break;
        }
        if (w->cancel)
            PQfreeCancel(w->cancel);
        if (w->conn)
            PQfinish(w->conn);
    }
    for (int i = 0; i < p->ring; i++) {
        cdc_buf_free(&p->chunks[i].rows);
        cdc_arena_free(p->chunks[i].arena);
    }
    for (int i = 0; i < p->nspare; i++)
        cdc_arena_free(p->spare[i]);
    free(p->spare);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    conds_free(p);
    free(p->workers);
    free(p->chunks);
    free(p->table);
    free(p->head);
    free(p);
}
