/*
 * The PostgreSQL sink (see postgres.h for the two modes and the exactly-once
 * rule).
 *
 * write() turns each event into an owned "op" (SQL text and text
 * parameters, or a dead letter decided up front) and queues it; relation
 * metadata is borrowed only during write(), so replica DDL is queued as an
 * op too, ahead of the first row of a new relation version.  apply() runs
 * the queue as one target transaction ending with the state row update.  If
 * a statement fails for a reason other than the connection, the transaction
 * is rolled back and run again with a savepoint per op, so only the refused
 * rows are dead-lettered.  Runs of rows go in by COPY (text format): into a
 * temporary staging table per shape (table and columns sent), then one
 * INSERT ... SELECT ... ON CONFLICT moves them into the table (event_log
 * without upsert: COPY into the table itself).  A run is event_log rows, or
 * replica upserts with the same statement text and no key twice (ON
 * CONFLICT DO UPDATE refuses to touch a row twice); transaction ends
 * between them do nothing and are absorbed.  A run whose rows are all new
 * to the target (creates and reads; event_log rows) takes the fast path: a
 * COPY into the table itself, and the staging way only if that fails (a row
 * already there: pg_group_collect, pg_fast_failed, in pg_batch.c with the
 * batch in flight; pg_conn.c runs the statements).  A batch that is one run is
 * sent as one simple query with its rows behind it and left in flight
 * while the agent decodes the next (pg_fly_start); everything else, and a
 * batch in flight that failed, runs synchronously, a batch of round trips
 * bounded by batch_size and the server's statement_timeout.
 *
 * A key change arrives as a delete of the old key and a create of the new
 * one (Debezium's shape).  In replica mode the delete becomes an UPDATE of
 * the key, so the columns the create lacks (unchanged TOAST) keep their
 * values in the target row; the create then upserts onto it.
 */
#include "sinks/postgres/postgres.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"
#include "agent/core/dest/status.h"
#include "schemas/json.h"
#include "schemas/topic.h"
#include "sinks/postgres/pg_int.h"

/* ---------------------------------------------------------------- connection */

static int
pg_connect(pgsink *p, cdc_err *err)
{
    bool started;

    if (p->conn && PQstatus(p->conn) == CONNECTION_OK)
        return 0;
    if (cdc_mono_ms() < p->next_try_ms)
        return cdc_err_set(err, CDC_E_CONN, "postgres %s: %s", p->label, p->st.lasterr);
    started = !p->st.failing;
    PQfinish(p->conn);
    p->conn = PQconnectdb(p->conninfo);
    p->nstages = 0;     /* temporary tables die with their session */
    if (PQstatus(p->conn) != CONNECTION_OK) {
        dest_status_failing(&p->st, "connection failed: %.*s",
                            (int) strcspn(PQerrorMessage(p->conn), "\n"),
                            PQerrorMessage(p->conn));
        goto fail;
    }
    PQclear(PQexec(p->conn, "SET client_min_messages = warning"));  /* no IF NOT EXISTS NOTICEs */
    /*
     * The statements carry UTF-8 (values, JSON): say so, whatever the target's encoding or
     * PGCLIENTENCODING, so a LATIN1 target converts them instead of storing 'cafÃ©'.  A
     * character its encoding cannot hold is then refused by the server (22P05) and
     * dead-lettered naming the table and column (pg_dead_letter).
     */
    if (PQsetClientEncoding(p->conn, "UTF8") != 0) {
        dest_status_failing(&p->st, "cannot set client_encoding to UTF8: %.*s",
                            (int) strcspn(PQerrorMessage(p->conn), "\n"),
                            PQerrorMessage(p->conn));
        goto fail;
    }
    if (pg_prepare_target(p, err) < 0) {
        dest_status_failing(&p->st, "%s", err ? err->msg : "setup failed");
        goto fail;
    }
    if (dest_status_ok(&p->st))
        log_info(PG_FAC, "%s: connected again; committed up to " CDC_LSN_FMT " seq %" PRId64,
                 p->label, CDC_LSN_ARGS(p->state.lsn), (int64_t) p->state.seq);
    p->attempts = 0;
    pg_drop_committed(p);
    return 0;
fail:
    p->attempts++;
    p->next_try_ms = cdc_mono_ms() + cdc_retry_delay_ms(&p->retry, p->attempts, &p->rng);
    if (started || p->attempts == 1)
        log_warn(PG_FAC, "%s: %s; retrying", p->label, p->st.lasterr);
    PQfinish(p->conn);
    p->conn = NULL;
    return cdc_err_set(err, CDC_E_CONN, "postgres %s: %s", p->label, p->st.lasterr);
}

/* ---------------------------------------------------------------- open */

static char *
pg_build_conninfo(const dest_postgres_conf *c)
{
    cdc_buf     b = CDC_BUF_INIT;
    const char *keys[] = { "host", "dbname", "user", "password" };
    const char *vals[] = { c->host, c->database, c->username, c->password };

    for (int i = 0; i < 4; i++) {
        if (vals[i] == NULL)
            continue;
        cdc_buf_printf(&b, "%s='", keys[i]);
        for (const char *s = vals[i]; *s; s++) {
            if (*s == '\'' || *s == '\\')
                cdc_buf_putc(&b, '\\');
            cdc_buf_putc(&b, *s);
        }
        cdc_buf_puts(&b, "' ");
    }
    if (c->port > 0)
        cdc_buf_printf(&b, "port=%d ", c->port);
    cdc_buf_puts(&b, "connect_timeout=10 application_name=cdcagent");
    return pg_buf_take(&b);
}

/* host:port/dbname, never the password. */
static char *
pg_label(const char *conninfo)
{
    PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
    const char       *host = "localhost", *port = "5432", *db = "?";
    cdc_buf           b = CDC_BUF_INIT;

    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (o->val == NULL)
            continue;
        if (!strcmp(o->keyword, "host"))
            host = o->val;
        else if (!strcmp(o->keyword, "port"))
            port = o->val;
        else if (!strcmp(o->keyword, "dbname"))
            db = o->val;
    }
    cdc_buf_printf(&b, "%s:%s/%s", host, port, db);
    PQconninfoFree(opts);
    return pg_buf_take(&b);
}

static int
pg_open(cdc_dest *d, const void *conf, const cdc_dest_env *env, cdc_err *err)
{
    const dest_postgres_conf *c = conf;
    pgsink                   *p;
    const char               *table;

    if (c == NULL)
        return cdc_err_set(err, CDC_E_CONFIG, "postgres: no configuration");
    p = cdc_xcalloc(1, sizeof(*p));
    p->conninfo = c->conninfo ? cdc_xstrdup(c->conninfo) : pg_build_conninfo(c);
    p->label = pg_label(p->conninfo);
    p->sink_id = cdc_xstrdup(d->id ? d->id : "postgres");
    p->mode = c->mode;
    p->upsert = c->upsert;
    p->batch_size = c->batch_size > 0 ? c->batch_size : 500;
    p->flush_ms = c->flush_interval_ms > 0 ? c->flush_interval_ms : 1000;
    p->retry = c->retry;
    p->dlq = c->dlq;
    table = c->target_table && c->target_table[0] ? c->target_table : "cdc_events";
    p->table = pg_quote_qualified(table);
    p->index_name = pg_index_name(table);
    p->prefix = cdc_xstrdup(env && env->topic_prefix ? env->topic_prefix : "");
    if (env && env->encode_opts) {
        p->jopts = *(const sch_json_opts *) env->encode_opts;
    } else {
        sch_json_opts_default(&p->jopts);
        p->database = cdc_xstrdup(env && env->database ? env->database : "");
        p->jopts.server_name = p->prefix;
        p->jopts.database = p->database;
    }
    p->rng = cdc_rng_seed();
    dest_status_init(&p->st, p->label);
    d->impl = p;
    if (env && env->replay_only) {     /* dlq replay: connects at its first letter */
        if (p->mode != DEST_PG_REPLICA)
            return 0;
        cdc_err_set(err, CDC_E_UNSUPPORTED, "%s", PG_NO_REPLAY);
        d->ops->close(d);
        return -1;
    }
    /* The target must be reachable at start: resume_from() needs its state row. */
    for (int i = 0; i < 3; i++) {
        p->next_try_ms = 0;
        if (pg_connect(p, err) == 0)
            break;
        if (i == 2) {
            cdc_err_wrap(err, "sink %s", p->sink_id);
            d->ops->close(d);
            return -1;
        }
        cdc_sleep_ms(1000);
    }
    log_info(PG_FAC, "%s: %s mode, committed up to " CDC_LSN_FMT " seq %" PRId64, p->label,
             p->mode == DEST_PG_REPLICA ? "replica" : "event_log", CDC_LSN_ARGS(p->state.lsn),
             (int64_t) p->state.seq);
    return 0;
}

static int
pg_resume_from(cdc_dest *d, cdc_pos *last_done, cdc_err *err)
{
    pgsink *p = d->impl;

    (void) err;
    *last_done = p->state;
    return 0;
}

/* ---------------------------------------------------------------- replay */

/* Member @p name of the stored record as its raw text; NULL when absent or null. */
static char *
record_member(const cdc_dest_letter *l, const char *name)
{
    size_t off, len;

    if (dest_dlq_json_member(l->record, l->len, name, &off, &len) != 1 ||
        (len == 4 && memcmp(l->record + off, "null", 4) == 0))
        return NULL;
    return cdc_xstrndup(l->record + off, len);
}

/* The connection of `dlq replay`: no state row, no tables created, no retries. */
static int
pg_replay_connect(pgsink *p, cdc_err *err)
{
    if (p->conn && PQstatus(p->conn) == CONNECTION_OK)
        return 0;
    PQfinish(p->conn);
    p->conn = PQconnectdb(p->conninfo);
    if (PQstatus(p->conn) != CONNECTION_OK || PQsetClientEncoding(p->conn, "UTF8") != 0) {
        cdc_err_set(err, CDC_E_CONN, "postgres connection failed: %.*s",
                    (int) strcspn(PQerrorMessage(p->conn), "\n"), PQerrorMessage(p->conn));
        PQfinish(p->conn);
        p->conn = NULL;
        return -1;
    }
    return 0;
}

/*
 * event_log: the stored row into the table, one statement (the INSERT the
 * sink runs), committed when it returns COMMAND_OK.  replica: refused, the
 * JSON record cannot be turned back into the table's SQL.
 */
static int
pg_replay(cdc_dest *d, const cdc_dest_letter *l, cdc_err *err)
{
    pgsink     *p = d->impl;
    size_t      koff, klen;
    char       *ktext = NULL, *vtext = NULL, *sql = NULL;
    char        part[16], off[24], lsn[24], seq[24];
    const char *params[7];
    PGresult   *res = NULL;
    int         rc = -1;

    if (p->mode == DEST_PG_REPLICA)
        return cdc_err_set(err, CDC_E_UNSUPPORTED, "sink %s: %s", p->sink_id, PG_NO_REPLAY);
    if (!dest_dlq_record_is_json(l->record, l->len) ||
        dest_dlq_json_member(l->record, l->len, "key", &koff, &klen) < 0)
        return cdc_err_set(err, CDC_E_DEST, "the stored record is not a {key, value, metadata} "
                           "object");
    if (pg_replay_connect(p, err) < 0)
        return -1;
    ktext = record_member(l, "key");
    vtext = record_member(l, "value");
    snprintf(part, sizeof(part), "%d", l->partition);
    snprintf(off, sizeof(off), "%" PRIu64, l->offset);
    snprintf(lsn, sizeof(lsn), "%" PRId64, (int64_t) l->pos.lsn);
    snprintf(seq, sizeof(seq), "%" PRId64, (int64_t) l->pos.seq);
    params[0] = ktext;
    params[1] = vtext;
    params[2] = l->topic;
    params[3] = part;
    params[4] = off;
    params[5] = lsn;
    params[6] = seq;
    sql = pg_sql_event_log(p, 1);
    res = PQexecParams(p->conn, sql, 7, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

        if (msg == NULL)
            msg = PQerrorMessage(p->conn);
        cdc_err_set(err, CDC_E_PG, "target refused the row: %s %.*s", state ? state : "",
                    (int) strcspn(msg, "\n"), msg);
        if (PQstatus(p->conn) != CONNECTION_OK) {
            PQfinish(p->conn);
            p->conn = NULL;
        }
        goto out;
    }
    rc = 0;
out:
    PQclear(res);
    free(sql);
    free(ktext);
    free(vtext);
    return rc;
}

/* ---------------------------------------------------------------- apply */

/* The table an op writes, as quoted in its statement (replica) or configured (event_log). */
static void
pg_op_table(const pgsink *p, const pg_op *op, char *out, size_t n)
{
    static const char *const heads[] = { "INSERT INTO ", "DELETE FROM ", "UPDATE ", "TRUNCATE " };
    const char *s = NULL, *e;

    snprintf(out, n, "%s", p->mode == DEST_PG_EVENT_LOG ? p->table : "?");
    if (p->mode == DEST_PG_EVENT_LOG || op->sql == NULL)
        return;
    for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]) && s == NULL; i++)
        if (strncmp(op->sql, heads[i], strlen(heads[i])) == 0)
            s = op->sql + strlen(heads[i]);
    if (s == NULL)
        return;
    /* "schema"."table": two quoted identifiers ("" is a quote inside one) */
    e = s;
    for (int part = 0; part < 2 && *e == '"'; part++) {
        for (e++; *e && !(*e == '"' && e[1] != '"'); e += *e == '"' ? 2 : 1)
            ;
        if (*e == '"')
            e++;
        if (part == 0 && *e == '.')
            e++;
    }
    snprintf(out, n, "%.*s", (int) (e - s), s);
}

/*
 * The column a refused character came from: PostgreSQL names only the bytes ("character
 * with byte sequence 0xf0 0x9f 0x98 0x80 in encoding "UTF8" has no equivalent in encoding
 * "LATIN1""), so the parameter holding them is looked for; failing that (a JSON \u escape
 * the target cannot hold), the first one with non-ASCII text or a \u escape.
 */
static const char *
pg_refused_column(const pg_op *op, const char *msg)
{
    static const char *const evlog[] = { "event_key", "event_value", "source_topic" };
    unsigned char bytes[8];
    size_t        nb = 0;
    const char   *q = strstr(msg, "byte sequence ");
    int           hit = -1;

    for (q = q ? q + 14 : NULL; q && nb < sizeof(bytes) && q[0] == '0' && q[1] == 'x'; ) {
        char *end;
        long  v = strtol(q + 2, &end, 16);

        if (end == q + 2)
            break;
        bytes[nb++] = (unsigned char) v;
        q = end + (*end == ' ');
    }
    for (int i = 0; i < op->nparams && hit < 0; i++)
        if (op->params[i] && nb > 0 && memmem(op->params[i], strlen(op->params[i]), bytes, nb))
            hit = i;
    for (int i = 0; i < op->nparams && hit < 0; i++) {
        for (const unsigned char *c = (const unsigned char *) op->params[i]; c && *c; c++)
            if (*c >= 0x80 || (c[0] == '\\' && c[1] == 'u')) {
                hit = i;
                break;
            }
    }
    if (hit < 0)
        return NULL;
    if (op->pnames[hit])
        return op->pnames[hit];
    return hit < 3 && op->sql == NULL ? evlog[hit] : NULL;
}

static int
pg_dead_letter(pgsink *p, pg_op *op, const char *pgerr, cdc_err *err)
{
    char          type[40], table[200], msg[600];
    const char   *bar = strchr(pgerr, '|');
    dest_dlq_rec  rec = { .sink_id = p->sink_id, .topic = op->topic, .offset = op->offset,
                          .pos = op->pos, .code = CDC_E_PG, .error_type = type,
                          .where = "sinks/postgres/postgres.c:pg_apply",
                          .error_message = bar ? bar + 1 : pgerr, .record = op->record,
                          .record_len = op->record ? strlen(op->record) : 0 };

    if (op->record == NULL && (op->evc || (p->mode == DEST_PG_EVENT_LOG && op->is_event))) {
        cdc_buf made = CDC_BUF_INIT;

        if (op->evc) {
            pg_evcopy_record(&made, op->evc, &p->jopts, op->topic);
            op->record = pg_buf_take(&made);
        } else {
            op->record = pg_sql_event_log_record(op);
        }
        rec.record = op->record;
        rec.record_len = op->record ? strlen(op->record) : 0;
    }
    snprintf(type, sizeof(type), "pg_%.*s", bar ? (int) (bar - pgerr) : 0, pgerr);
    /* A character the target's encoding cannot hold: say where it was. */
    if (strncmp(pgerr, "22P05|", 6) == 0 || strncmp(pgerr, "22021|", 6) == 0) {
        const char *col = pg_refused_column(op, pgerr + 6);

        pg_op_table(p, op, table, sizeof(table));
        snprintf(msg, sizeof(msg), "table %s%s%s: %s (the target database's encoding cannot "
                 "hold it)", table, col ? " column " : "", col ? col : "", pgerr + 6);
        rec.error_message = msg;
    }
    if (p->dlq == NULL) {
        dest_status_fatal(&p->st, "target refused an event and no dead-letter file is "
                          "configured: %s", rec.error_message);
        return cdc_err_set(err, CDC_E_DEST, "postgres %s: %s", p->label, p->st.lasterr);
    }
    if (dest_dlq_append(p->dlq, &rec, err) < 0)
        return -1;
    p->ndead++;
    return 0;
}

/*
 * One attempt at the queue in one transaction.  careful: a savepoint per op,
 * refused ops dead-lettered.  @returns 0 committed, 1 a statement failed
 * (not careful), -1 error (connection, DDL, dead-letter file).
 */
static int
pg_apply_once(pgsink *p, bool careful, cdc_err *err)
{
    char    pgerr[300];
    cdc_pos last = p->ops[p->nops - 1].pos;
    char    lsn[24], seq[24];
    const char *sp[3] = { p->sink_id, lsn, seq };
    int     i = 0;

    if (pg_run(p, "BEGIN", 0, NULL, pgerr, sizeof(pgerr)) < 0)
        goto fail;
    while (i < p->nops) {
        pg_op *op = &p->ops[i];
        int    g;

        /* Runs of rows in multi-row statements; one by one when careful. */
        if (!careful && (g = pg_apply_group(p, &i, pgerr, sizeof(pgerr))) != 0) {
            if (g < 0)
                goto failed_stmt;
            continue;
        }
        if (op->deadmsg) {
            snprintf(pgerr, sizeof(pgerr), "unsupported|%s", op->deadmsg);
            if (pg_dead_letter(p, op, pgerr, err) < 0)
                goto rollback;
        } else if (op->sql || (op->is_event && p->mode == DEST_PG_EVENT_LOG)) {
            char *one = op->sql ? NULL : pg_sql_event_log(p, 1);
            int   rc;

            if (careful && !op->ddl &&
                pg_run(p, "SAVEPOINT cdc_row", 0, NULL, pgerr, sizeof(pgerr)) < 0) {
                free(one);
                goto failed_stmt;
            }
            rc = pg_run(p, one ? one : op->sql, op->nparams, (const char *const *) op->params,
                        pgerr, sizeof(pgerr));
            free(one);
            if (rc < 0 && (!careful || op->ddl || pg_lost(p)))
                goto failed_stmt;
            if (rc < 0) {
                if (pg_run(p, "ROLLBACK TO SAVEPOINT cdc_row", 0, NULL, pgerr + 150, 150) < 0 ||
                    pg_dead_letter(p, op, pgerr, err) < 0)
                    goto rollback;
            } else if (careful && !op->ddl) {
                pg_run(p, "RELEASE SAVEPOINT cdc_row", 0, NULL, pgerr, sizeof(pgerr));
            }
        }
        i++;
    }
    snprintf(lsn, sizeof(lsn), "%" PRId64, (int64_t) last.lsn);
    snprintf(seq, sizeof(seq), "%" PRId64, (int64_t) last.seq);
    if (pg_run(p, "INSERT INTO cdcagent_state (sink_id, commit_lsn, seq) VALUES ($1, $2, $3)"
               PG_STATE_UPSERT, 3, sp, pgerr, sizeof(pgerr)) < 0 ||
        pg_run(p, "COMMIT", 0, NULL, pgerr, sizeof(pgerr)) < 0)
        goto fail;
    p->state = last;
    return 0;
failed_stmt:
    if (!pg_lost(p) && !p->ops[i].ddl) {
        pg_run(p, "ROLLBACK", 0, NULL, pgerr + 150, 150);
        if (!pg_lost(p))
            return 1;
    }
fail:
    if (pg_lost(p))
        return cdc_err_set(err, CDC_E_CONN, "postgres %s: connection lost: %s", p->label,
                           strchr(pgerr, '|') ? strchr(pgerr, '|') + 1 : pgerr);
    if (p->ops[i < p->nops ? i : p->nops - 1].ddl) {
        dest_status_fatal(&p->st, "creating or altering a table: %s",
                          strchr(pgerr, '|') ? strchr(pgerr, '|') + 1 : pgerr);
        return cdc_err_set(err, CDC_E_PG, "postgres %s: %s", p->label, p->st.lasterr);
    }
    return cdc_err_set(err, CDC_E_PG, "postgres %s: %s", p->label, pgerr);
rollback:
    pg_run(p, "ROLLBACK", 0, NULL, pgerr, sizeof(pgerr));
    return -1;
}

static void
pg_clear_ops(pgsink *p)
{
    for (int i = 0; i < p->nops; i++)
        pg_op_free(&p->ops[i]);
    p->nops = 0;
    p->nevents = 0;
}

/* Applies the queue.  @returns 0 (also when the target is down: retried later), -1 fatal. */
static int
pg_apply(pgsink *p, cdc_err *err)
{
    cdc_err e = { 0 };
    int     rc;
    bool    rows = false;

    if (p->nops == 0)
        return 0;
    for (int i = 0; i < p->nops && !rows; i++)
        rows = p->ops[i].is_event || p->ops[i].ddl;
    if (!rows) {    /* transaction ends only: nothing to write */
        if (cdc_pos_cmp(p->ops[p->nops - 1].pos, p->durable) > 0)
            p->durable = p->ops[p->nops - 1].pos;
        pg_clear_ops(p);
        return 0;
    }
    if (pg_connect(p, &e) < 0)
        return 0;
    if (p->nops == 0)
        return 0;
    rc = pg_apply_once(p, false, &e);
    if (rc != 0)
        p->nstages = 0;     /* the rollback may have undone a CREATE of a staging table */
    if (rc == 1)
        rc = pg_apply_once(p, true, &e);
    if (rc == 0) {
        p->napplied += (uint64_t) p->nevents;
        p->ntx++;
        if (cdc_pos_cmp(p->state, p->durable) > 0)
            p->durable = p->state;
        pg_clear_ops(p);
        return 0;
    }
    if (p->st.fatal)
        return cdc_err_set(err, e.code, "%s", e.msg);
    /* Connection lost (or the dead-letter file failed): keep the queue, retry later. */
    if (dest_status_failing(&p->st, "%s", e.msg))
        log_warn(PG_FAC, "%s: %s; retrying", p->label, e.msg);
    p->attempts++;
    p->next_try_ms = cdc_mono_ms() + cdc_retry_delay_ms(&p->retry, p->attempts, &p->rng);
    PQfinish(p->conn);
    p->conn = NULL;
    return 0;
}

/*
 * Applies the queue: in flight when it can (pg_fly_start), else at once.
 * Whatever is in flight is finished first.  @returns as pg_apply().
 */
static int
pg_submit(pgsink *p, cdc_err *err)
{
    pg_fly_poll(p, true);
    if (p->nops == 0 || pg_fly_start(p))
        return 0;
    if (pg_apply(p, err) < 0)
        return -1;
    if (p->nops == 0)
        p->no_fly = false;  /* applied: the next batch may fly again */
    return 0;
}

/* ---------------------------------------------------------------- ops */

static int
pg_write(cdc_dest *d, const cdc_event *ev, cdc_err *err)
{
    pgsink *p = d->impl;
    pg_op  *op;
    char    topic[300];

    if (p->st.fatal)
        return cdc_err_set(err, CDC_E_DEST, "postgres %s: %s", p->label, p->st.lasterr);
    if (cdc_pos_cmp(ev->pos, p->state) <= 0) {
        p->nskipped++;
        return 0;
    }
    if (ev->op == CDC_OP_TOMBSTONE || ev->op == CDC_OP_MESSAGE || ev->rel == NULL) {
        if (p->mode == DEST_PG_REPLICA)
            return 0;       /* nothing to mirror; the transaction end covers it */
    }
    if (p->nevents >= p->batch_size) {
        if (pg_submit(p, err) < 0)
            return -1;
        if (p->nevents >= 4 * p->batch_size)
            return cdc_err_set(err, CDC_E_QUEUE_FULL, "postgres %s: %d events waiting: %s",
                               p->label, p->nevents, p->st.lasterr);
    }
    if (p->mode == DEST_PG_REPLICA && ev->rel)
        pg_queue_ddl(p, ev);
    op = pg_op_new(p, ev->pos);
    op->is_event = true;
    op->offset = ev->lsn;
    sch_event_topic(ev, p->prefix, topic, sizeof(topic));
    op->topic = cdc_xstrdup(topic);
    if (p->mode == DEST_PG_EVENT_LOG) {
        pg_queue_event_log(p, ev, op);
    } else {
        /* without a dead-letter file a refused row stops the sink instead */
        if (p->dlq)
            op->evc = pg_evcopy_new(ev, cdc_wall_us());
        pg_queue_replica(p, ev, op);
    }
    p->nevents++;
    return 0;
}

static int
pg_commit_txn(cdc_dest *d, const cdc_txn *txn, cdc_err *err)
{
    pgsink *p = d->impl;

    (void) err;
    pg_op_new(p, (cdc_pos) { txn->commit_lsn, CDC_SEQ_END });
    return 0;
}

static int
pg_progress(cdc_dest *d, cdc_pos *durable, cdc_err *err)
{
    pgsink *p = d->impl;

    if (p->st.fatal)
        return cdc_err_set(err, CDC_E_DEST, "postgres %s: %s", p->label, p->st.lasterr);
    pg_fly_poll(p, false);
    if (p->nops > 0 && p->nfly == 0 &&
        (p->nevents >= p->batch_size || cdc_mono_ms() - p->first_ms >= p->flush_ms) &&
        pg_submit(p, err) < 0)
        return -1;
    *durable = p->durable;
    return 0;
}

static int
pg_flush(cdc_dest *d, int timeout_ms, cdc_err *err)
{
    pgsink *p = d->impl;
    int64_t deadline = cdc_mono_ms() + timeout_ms;

    for (;;) {
        if (pg_submit(p, err) < 0)
            return -1;
        pg_fly_poll(p, true);
        if (p->nops == 0)
            return 0;
        if (cdc_mono_ms() >= deadline)
            return cdc_err_set(err, CDC_E_TIMEOUT, "postgres %s: %d events not committed: %s",
                               p->label, p->nevents, p->st.lasterr);
        {
            int64_t wait = p->next_try_ms - cdc_mono_ms();

            if (wait > deadline - cdc_mono_ms())
                wait = deadline - cdc_mono_ms();
            if (wait < 10)
                wait = 10;
            cdc_sleep_ms(wait);
        }
    }
}

static void
pg_health(cdc_dest *d, cdc_health *h)
{
    pgsink *p = d->impl;

    dest_status_health(&p->st, h);
    if (!p->st.fatal && !p->st.failing)
        snprintf(h->detail, sizeof(h->detail), "%s: %llu applied in %llu transactions, "
                 "%llu skipped, %llu dead letters, %d waiting", p->label,
                 (unsigned long long) p->napplied, (unsigned long long) p->ntx,
                 (unsigned long long) p->nskipped, (unsigned long long) p->ndead,
                 p->nevents + p->nflyevents);
}

static void
pg_close(cdc_dest *d)
{
    pgsink *p = d->impl;

    if (p == NULL)
        return;
    if (p->nevents > 0)
        log_warn(PG_FAC, "%s: closing with %d events not committed (they are re-sent after the "
                 "restart)", p->label, p->nevents);
    pg_fly_poll(p, true);      /* its COMMIT may be on its way: let the state row say */
    log_debug(PG_FAC, "%s: %llu batches COPYed into their table itself, %llu of them failed",
              p->label, (unsigned long long) p->nfast, (unsigned long long) p->nfast_failed);
    pg_clear_ops(p);
    free(p->ops);
    PQfinish(p->conn);
    for (int i = 0; i < PG_SQLC; i++)
        pg_sqlc_free(&p->sqlc[i]);
    free(p->known);
    free(p->stages);
    free(p->conninfo);
    free(p->label);
    free(p->sink_id);
    free(p->prefix);
    free(p->database);
    free(p->table);
    free(p->index_name);
    free(p);
    d->impl = NULL;
}

const cdc_dest_ops dest_postgres_ops = {
    .kind = "postgres",
    .open = pg_open,
    .resume_from = pg_resume_from,
    .write = pg_write,
    .commit_txn = pg_commit_txn,
    .progress = pg_progress,
    .flush = pg_flush,
    .health = pg_health,
    .replay = pg_replay,
    .close = pg_close,
};
