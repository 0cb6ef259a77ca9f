/*
 * The PostgreSQL sink's runs of rows and its batch in flight (see
 * postgres.c for the whole and postgres.h for the exactly-once rule).
 *
 * A run of rows goes in by one COPY: into the table itself when its rows
 * are all new to the target (the fast path), else into a staging table per
 * shape followed by one INSERT ... SELECT ... ON CONFLICT.  A batch that is
 * one run is sent as one simple query and left in flight while the agent
 * decodes the next (pg_fly_start, pg_fly_poll).
 */
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"
#include "sinks/postgres/pg_int.h"

/* ---------------------------------------------------------------- runs of rows */

/* Adds a key hash to the group's set; @returns false when it is there already. */
static bool
pg_group_add_key(pgsink *p, uint64_t h)
{
    for (size_t k = (size_t) h & (PG_GROUP_SET - 1);; k = (k + 1) & (PG_GROUP_SET - 1)) {
        if (p->gset[k] == h)
            return false;
        if (p->gset[k] == 0) {
            p->gset[k] = h;
            return true;
        }
    }
}

/*
 * Can ops[j] join the group that ops[first] starts?  event_log rows always
 * can; replica upserts when they have the same statement (table, columns)
 * and a key not yet in the group: ON CONFLICT DO UPDATE cannot touch one row
 * twice in a statement.
 */
static bool
pg_group_fits(pgsink *p, const pg_op *first, const pg_op *op)
{
    if (!op->is_event || op->deadmsg)
        return false;
    if (p->mode == DEST_PG_EVENT_LOG)
        return op->sql == NULL;
    if (!op->upsert || op->nparams != first->nparams || strcmp(op->sql, first->sql) != 0)
        return false;
    return !op->keyed || pg_group_add_key(p, op->khash);
}

/* COPY ... FROM STDIN with data (COPY's text format). */
static int
pg_copy_in(pgsink *p, const char *copy, const cdc_buf *data, char *pgerr, size_t errn)
{
    PGresult *res = PQexec(p->conn, copy);
    int       rc = 0;

    if (PQresultStatus(res) != PGRES_COPY_IN) {
        rc = pg_result_err(p, res, pgerr, errn);
        PQclear(res);
        return rc;
    }
    PQclear(res);
    if (PQputCopyData(p->conn, (const char *) data->data, (int) data->len) != 1 ||
        PQputCopyEnd(p->conn, NULL) != 1)
        rc = pg_result_err(p, NULL, pgerr, errn);
    while ((res = PQgetResult(p->conn)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == 0)
            rc = pg_result_err(p, res, pgerr, errn);
        PQclear(res);
    }
    return rc;
}

static bool
pg_stage_known(const pgsink *p, uint64_t h)
{
    for (int k = 0; k < p->nstages; k++)
        if (p->stages[k] == h)
            return true;
    return false;
}

/* Notes that this connection has the staging table of shape h (or is making it). */
static void
pg_stage_add(pgsink *p, uint64_t h)
{
    p->stages = cdc_xrealloc(p->stages, (size_t) (p->nstages + 1) * sizeof(*p->stages));
    p->stages[p->nstages++] = h;
}

static void pg_fast_failed(pgsink *p);

/* A run of rows that goes in as one COPY (and, with a staging table, one INSERT ... SELECT). */
typedef struct pg_group {
    int      end;           /* the first op after it */
    uint64_t shape;         /* names the staging table */
    cdc_buf  data;          /* the rows in COPY's text format */
    char    *create;        /* the staging table's CREATE, NULL when the connection has it */
    char    *copy, *apply;  /* apply NULL: the COPY fills the target table itself */
    bool     fast;          /* the fast path: a COPY into the table instead of the staging */
} pg_group;

static void
pg_group_free(pg_group *g)
{
    cdc_buf_free(&g->data);
    free(g->create);
    free(g->copy);
    free(g->apply);
}

/*
 * Collects the group that ops[i] starts (the ends of transactions between
 * its rows do nothing at apply time, so they join it): its rows in COPY
 * format and its statements.  The staging table's name comes from a hash of
 * the shape (the statement up to VALUES: table and columns), so forgetting
 * which ones the connection has (after a rollback, which may have undone a
 * CREATE) is always safe.  fast: when every row is new to the target (all
 * event_log rows with upsert; replica creates and reads), COPY them into the
 * table itself (g->fast): the same rows as the upsert as long as none is
 * there yet, and a unique violation otherwise, after which the caller
 * applies the group the staging way.  @returns false when ops[i] starts no
 * group.
 */
static bool
pg_group_collect(pgsink *p, int i, pg_group *g, bool fast)
{
    const pg_op  *first = &p->ops[i];
    int           per = p->mode == DEST_PG_EVENT_LOG ? 7 : first->nparams;
    char          stage[40];
    int           j, n = 0;
    bool          inserts = p->mode == DEST_PG_EVENT_LOG ? p->upsert : true;

    memset(g, 0, sizeof(*g));
    if (per == 0 || !first->is_event || first->deadmsg ||
        (p->mode == DEST_PG_EVENT_LOG ? first->sql != NULL : !first->upsert))
        return false;
    memset(p->gset, 0, sizeof(p->gset));
    pg_group_fits(p, first, first);     /* enters its key */
    for (j = i; j < p->nops && n < PG_GROUP_ROWS; j++) {
        const pg_op *op = &p->ops[j];

        if (!op->is_event && !op->ddl && op->sql == NULL && !op->deadmsg)
            continue;       /* a transaction's end */
        if (j > i && !pg_group_fits(p, first, op))
            break;
        pg_copy_row(&g->data, op->params, per);
        inserts = inserts && (p->mode == DEST_PG_EVENT_LOG || op->insert);
        n++;
    }
    g->end = j;
    if (fast && inserts && p->fast_rest > 0)
        p->fast_rest--;
    else if (fast && inserts) {
        g->fast = true;
        p->nfast++;
        g->copy = p->mode == DEST_PG_EVENT_LOG ? pg_sql_copy_event_log(p)
                                               : pg_sql_copy_replica(first);
        return true;
    }
    g->shape = 0xcbf29ce484222325ull;
    if (p->mode == DEST_PG_REPLICA)
        for (int c = 0; c < first->values_at; c++)
            g->shape = (g->shape ^ (uint8_t) first->sql[c]) * 0x100000001b3ull;
    snprintf(stage, sizeof(stage), "pg_temp.cdc_stage_%016" PRIx64, g->shape);
    if (p->mode == DEST_PG_EVENT_LOG)
        pg_sql_stage_event_log(p, stage, &g->create, &g->copy, &g->apply);
    else
        pg_sql_stage_replica(first, stage, &g->create, &g->copy, &g->apply);
    if (g->create && pg_stage_known(p, g->shape)) {
        free(g->create);
        g->create = NULL;
    }
    return true;
}

/*
 * Runs the group ops[*i] starts, if it starts one.  @returns 1 ran (*i moved
 * past the group), 0 not a group start, -1 a statement failed (pgerr set).
 */
int
pg_apply_group(pgsink *p, int *i, char *pgerr, size_t errn)
{
    pg_group g;
    int      rc = 0;

    if (!pg_group_collect(p, *i, &g, true))
        return 0;
    if (g.fast) {
        /* into the table itself; if that fails, back to the savepoint and the staging way */
        if (pg_run(p, "SAVEPOINT cdc_fast", 0, NULL, pgerr, errn) == 0 &&
            pg_copy_in(p, g.copy, &g.data, pgerr, errn) == 0 &&
            pg_run(p, "RELEASE SAVEPOINT cdc_fast", 0, NULL, pgerr, errn) == 0) {
            p->fast_backoff = 0;
            *i = g.end;
            pg_group_free(&g);
            return 1;
        }
        pg_group_free(&g);
        if (pg_lost(p) || pg_run(p, "ROLLBACK TO SAVEPOINT cdc_fast", 0, NULL, pgerr, errn) < 0)
            return -1;
        pg_fast_failed(p);
        pg_group_collect(p, *i, &g, false);
    }
    if (g.create) {
        rc = pg_run(p, g.create, 0, NULL, pgerr, errn);
        if (rc == 0)
            pg_stage_add(p, g.shape);
    }
    if (rc == 0)
        rc = pg_copy_in(p, g.copy, &g.data, pgerr, errn);
    if (rc == 0 && g.apply)
        rc = pg_run(p, g.apply, 0, NULL, pgerr, errn);
    if (rc == 0)
        *i = g.end;
    pg_group_free(&g);
    return rc < 0 ? -1 : 1;
}

/* ---------------------------------------------------------------- a batch in flight */

static bool
pg_is_txn_end(const pg_op *op)
{
    return !op->is_event && !op->ddl && op->sql == NULL && !op->deadmsg;
}

/*
 * While the target applies one batch, the agent decodes the next.  A queue
 * that is one group (a run of upserts of one shape with distinct keys, or of
 * event_log rows: the bulk of a backlog) goes out as one simple query, BEGIN;
 * [CREATE staging;] COPY ... FROM STDIN; [INSERT ... SELECT;] the state row;
 * COMMIT, with its rows behind it, and the caller returns at once.  Its ops
 * wait in p->fly until every result is back; only then do state and durable
 * move (the state row is in the same transaction: exactly once as before).
 * Anything else (DDL, deletes, key changes, a batch that failed) goes the
 * synchronous way, once the batch in flight is done.  @returns true sent.
 */
bool
pg_fly_start(pgsink *p)
{
    pg_group  g;
    cdc_buf   q = CDC_BUF_INIT;
    PGresult *res;
    char     *lit;
    int       f = 0;
    bool      sent = false;

    if (p->nfly || p->no_fly || p->conn == NULL || PQstatus(p->conn) != CONNECTION_OK ||
        p->st.failing || PQtransactionStatus(p->conn) != PQTRANS_IDLE)
        return false;
    while (f < p->nops && pg_is_txn_end(&p->ops[f]))
        f++;
    if (f == p->nops || !pg_group_collect(p, f, &g, true))
        return false;
    for (int j = g.end; j < p->nops; j++)
        if (!pg_is_txn_end(&p->ops[j])) {
            pg_group_free(&g);
            return false;
        }
    lit = PQescapeLiteral(p->conn, p->sink_id, strlen(p->sink_id));
    if (lit == NULL) {
        pg_group_free(&g);
        return false;
    }
    p->fly_last = p->ops[p->nops - 1].pos;
    p->fly_commit = false;
    p->fly_fast = g.fast;
    cdc_buf_puts(&q, "BEGIN; ");
    if (g.create)
        cdc_buf_printf(&q, "%s; ", g.create);
    cdc_buf_printf(&q, "%s; ", g.copy);
    if (g.apply)
        cdc_buf_printf(&q, "%s; ", g.apply);
    cdc_buf_printf(&q, "INSERT INTO cdcagent_state (sink_id, commit_lsn, seq) VALUES (%s, %" PRId64
                   ", %" PRId64 ")" PG_STATE_UPSERT "; COMMIT", lit, (int64_t) p->fly_last.lsn,
                   (int64_t) p->fly_last.seq);
    PQfreemem(lit);
    if (g.create)
        pg_stage_add(p, g.shape);
    if (PQsendQuery(p->conn, cdc_buf_str(&q))) {
        /* BEGIN and CREATE answer at once; COPY then waits for its rows */
        while ((res = PQgetResult(p->conn)) != NULL) {
            ExecStatusType st = PQresultStatus(res);

            PQclear(res);
            if (st == PGRES_COPY_IN) {
                sent = PQputCopyData(p->conn, (const char *) g.data.data, (int) g.data.len) == 1
                       && PQputCopyEnd(p->conn, NULL) == 1;
                break;
            }
        }
    }
    cdc_buf_free(&q);
    pg_group_free(&g);
    /* the ops move to p->fly even when sending failed: pg_fly_poll() sees it and gives them back */
    p->fly = p->ops;
    p->nfly = p->nops;
    p->nflyevents = p->nevents;
    p->ops = NULL;
    p->nops = p->cap = p->nevents = 0;
    if (!sent)
        p->no_fly = true;
    return true;
}

/*
 * A batch that went the fast way failed (a row already in the target, or a
 * refused one): the synchronous retry goes the staging way, and so do the
 * next fast_rest batches in flight, doubling after each failure up to
 * PG_FAST_REST_MAX, so a target that already holds the rows (a snapshot
 * read again into a filled table) costs one failed COPY per that many
 * batches.  A fast batch that commits starts the count again.
 */
static void
pg_fast_failed(pgsink *p)
{
    p->nfast_failed++;
    p->fast_backoff = p->fast_backoff ? p->fast_backoff * 2 : 4;
    if (p->fast_backoff > PG_FAST_REST_MAX)
        p->fast_backoff = PG_FAST_REST_MAX;
    p->fast_rest = p->fast_backoff;
    log_debug(PG_FAC, "%s: a batch COPYed into the table itself failed; it goes through the "
              "staging table, and so do the next %d", p->label, p->fast_rest);
}

/*
 * Collects the results of the batch in flight: waits for them when block,
 * else takes only what has arrived.  Committed: state and durable move.  Any
 * failure: rolled back, its ops go back to the queue's head, and the next
 * apply is synchronous (savepoints, dead letters, reconnecting).  @returns 1
 * still in flight (only when !block), 0 none in flight now.
 */
int
pg_fly_poll(pgsink *p, bool block)
{
    PGresult *res;

    if (p->nfly == 0)
        return 0;
    for (;;) {
        if (!block && (PQconsumeInput(p->conn) == 0 || PQstatus(p->conn) != CONNECTION_OK)) {
            p->no_fly = true;
            break;
        }
        if (!block && PQisBusy(p->conn))
            return 1;
        if ((res = PQgetResult(p->conn)) == NULL)
            break;
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            if (!p->no_fly)
                log_debug(PG_FAC, "%s: the batch in flight failed (%.*s); applying it again "
                          "synchronously (the staging way, then row by row if that fails)", p->label,
                          (int) strcspn(PQresultErrorMessage(res), "\n"),
                          PQresultErrorMessage(res));
            p->no_fly = true;
        }
        /* kept in p: the COMMIT may come in one call and the end of results in the next */
        p->fly_commit = !p->no_fly && strcmp(PQcmdStatus(res), "COMMIT") == 0;
        PQclear(res);
    }
    if (p->fly_commit && !p->no_fly) {
        if (p->fly_fast)
            p->fast_backoff = 0;
        for (int i = 0; i < p->nfly; i++)
            pg_op_free(&p->fly[i]);
        p->state = p->fly_last;
        if (cdc_pos_cmp(p->state, p->durable) > 0)
            p->durable = p->state;
        p->napplied += (uint64_t) p->nflyevents;
        p->ntx++;
    } else {
        /* give the ops back, ahead of those queued since */
        p->no_fly = true;
        if (p->fly_fast)
            pg_fast_failed(p);
        p->nstages = 0;     /* the rollback may have undone a CREATE of a staging table */
        if (PQstatus(p->conn) == CONNECTION_OK && PQtransactionStatus(p->conn) != PQTRANS_IDLE)
            PQclear(PQexec(p->conn, "ROLLBACK"));
        p->fly = cdc_xrealloc(p->fly, (size_t) (p->nfly + p->nops + 1) * sizeof(*p->fly));
        if (p->nops)
            memcpy(p->fly + p->nfly, p->ops, (size_t) p->nops * sizeof(*p->ops));
        free(p->ops);
        p->ops = p->fly;
        p->fly = NULL;
        p->nops += p->nfly;
        p->cap = p->nops + 1;
        p->nevents += p->nflyevents;
        /* what the target committed is what its state row says, whatever the results said */
        if (PQstatus(p->conn) == CONNECTION_OK && PQtransactionStatus(p->conn) == PQTRANS_IDLE) {
            cdc_err e = { 0 };

            if (pg_prepare_target(p, &e) == 0)
                pg_drop_committed(p);
        }
    }
    free(p->fly);
    p->fly = NULL;
    p->nfly = p->nflyevents = 0;
    return 0;
}
