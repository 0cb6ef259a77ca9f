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
 * rows are dead-lettered.  libpq is used synchronously: an apply is one
 * batch of round trips, bounded by batch_size and the server's
 * statement_timeout.  Round trips are what limits the rate, so runs of
 * rows go out as one multi-row statement: event_log rows always, replica
 * upserts when they share a statement text (same table and columns) and no
 * key appears twice in the run (ON CONFLICT DO UPDATE refuses to touch a
 * row twice).  Transaction ends between them do nothing and are absorbed.
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
#include "schemas/record.h"
#include "schemas/topic.h"
#include "sinks/postgres/pg_values.h"

#define PG_FAC "dest.postgres"
#define PG_GROUP_ROWS 1000          /* rows per multi-row statement */
#define PG_GROUP_SET  2048          /* open-addressing set for their keys: a power of 2 */
#define PG_MAX_PARAMS 65535         /* the protocol's limit per statement */

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
    char    *record;        /* {key,value,metadata} for the dead-letter file */
    /* replica upserts: sql is "<head>VALUES (<row>)<tail>"; several rows of the same sql
       and distinct keys can share one statement */
    bool     upsert;
    bool     keyed;         /* the table has a key: khash identifies the row */
    int      values_at, tail_at;
    uint64_t khash;
} pg_op;

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
    pg_relver      *known;
    int             nknown;
    uint64_t        gset[PG_GROUP_SET];     /* key hashes of the group being built */
    int             attempts;
    int64_t         next_try_ms;
    uint64_t        rng;
    uint64_t        napplied, nskipped, ndead, ntx;
    dest_status     st;             /* failing, fatal and the last failure */
} pgsink;

static void
pg_quote_ident(cdc_buf *b, const char *s, size_t n)
{
    cdc_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            cdc_buf_putc(b, '"');
        cdc_buf_putc(b, s[i]);
    }
    cdc_buf_putc(b, '"');
}

static void
pg_put_ident(cdc_buf *b, const char *s)
{
    pg_quote_ident(b, s, strlen(s));
}

/*
 * [schema.]table from the configuration (SQL spelling, checked by the
 * config): each part quoted, a part already in double quotes kept as it is
 * ("" inside it is a quote, a dot inside it is part of the name).
 */
static char *
pg_quote_qualified(const char *name)
{
    cdc_buf     b = CDC_BUF_INIT;
    const char *p = name;

    for (;;) {
        const char *start = p;

        if (*p == '"') {
            for (p++; *p && !(*p == '"' && p[1] != '"'); p += *p == '"' ? 2 : 1)
                ;
            if (*p == '"')
                p++;
            cdc_buf_put(&b, start, (size_t) (p - start));
        } else {
            p += strcspn(p, ".");
            pg_quote_ident(&b, start, (size_t) (p - start));
        }
        if (*p != '.')
            break;
        cdc_buf_putc(&b, *p++);
    }
    cdc_buf_putc(&b, '\0');
    return (char *) b.data;
}

static void
pg_op_free(pg_op *op)
{
    for (int i = 0; i < op->nparams; i++)
        free(op->params[i]), free(op->pnames[i]);
    free(op->params);
    free(op->pnames);
    free(op->sql);
    free(op->deadmsg);
    free(op->topic);
    free(op->record);
    memset(op, 0, sizeof(*op));
}

static pg_op *
pg_op_new(pgsink *p, cdc_pos pos)
{
    if (p->nops == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->ops = cdc_xrealloc(p->ops, (size_t) p->cap * sizeof(*p->ops));
    }
    if (p->nops == 0)
        p->first_ms = cdc_mono_ms();
    memset(&p->ops[p->nops], 0, sizeof(pg_op));
    p->ops[p->nops].pos = pos;
    return &p->ops[p->nops++];
}

static void
pg_op_param(pg_op *op, const char *s, size_t n)
{
    op->params = cdc_xrealloc(op->params, (size_t) (op->nparams + 1) * sizeof(char *));
    op->pnames = cdc_xrealloc(op->pnames, (size_t) (op->nparams + 1) * sizeof(char *));
    op->pnames[op->nparams] = NULL;
    op->params[op->nparams++] = s ? cdc_xstrndup(s, n) : NULL;
}

static char *
pg_buf_take(cdc_buf *b)
{
    char *s;

    cdc_buf_putc(b, '\0');
    s = (char *) b->data;
    *b = (cdc_buf) CDC_BUF_INIT;
    return s;
}

/*
 * The event_log's unique index: <table>_cdc_position_key, from the table part of the
 * configured name as the server knows it (quotes removed, "" a quote, a dot inside quotes
 * part of it), quoted.  A name over PostgreSQL's 63 bytes is shortened (at a character's
 * start) and given a hash of the whole table name, so two long names that begin alike do
 * not get the same index name (CREATE UNIQUE INDEX IF NOT EXISTS would skip the second).
 */
static char *
pg_index_name(const char *name)
{
    static const char suffix[] = "_cdc_position_key";
    cdc_buf     rel = CDC_BUF_INIT, b = CDC_BUF_INIT;
    const char *p = name, *r;
    size_t      n;

    for (;;) {      /* the last part: parsed as pg_quote_qualified() splits */
        cdc_buf_reset(&rel);
        if (*p == '"') {
            for (p++; *p && !(*p == '"' && p[1] != '"'); p++) {
                if (*p == '"')
                    p++;
                cdc_buf_putc(&rel, *p);
            }
            if (*p == '"')
                p++;
        } else {
            n = strcspn(p, ".");
            cdc_buf_put(&rel, p, n);
            p += n;
        }
        if (*p != '.')
            break;
        p++;
    }
    r = rel.data ? (const char *) rel.data : "";
    n = rel.len;
    if (n + sizeof(suffix) - 1 <= 63) {
        cdc_buf_put(&b, r, n);
    } else {
        uint32_t h = 0x811c9dc5u;

        for (size_t i = 0; i < n; i++)
            h = (h ^ (uint8_t) r[i]) * 0x01000193u;
        n = 63 - (sizeof(suffix) - 1) - 9;
        while (n > 0 && ((uint8_t) r[n] & 0xC0) == 0x80)
            n--;        /* not inside a UTF-8 character */
        cdc_buf_put(&b, r, n);
        cdc_buf_printf(&b, "_%08x", h);
    }
    cdc_buf_puts(&b, suffix);
    cdc_buf_reset(&rel);
    pg_quote_ident(&rel, (const char *) b.data, b.len);
    cdc_buf_free(&b);
    return pg_buf_take(&rel);
}

/* ---------------------------------------------------------------- connection */

static int
pg_exec_ok(pgsink *p, const char *sql, cdc_err *err)
{
    PGresult *res = PQexec(p->conn, sql);
    int       rc = 0;

    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        rc = cdc_err_set(err, PQstatus(p->conn) == CONNECTION_OK ? CDC_E_PG : CDC_E_CONN,
                         "postgres %s: %s", p->label, PQresultErrorMessage(res));
    PQclear(res);
    return rc;
}

/* The state table, the event_log table, and this sink's committed position. */
static int
pg_prepare_target(pgsink *p, cdc_err *err)
{
    cdc_buf     q = CDC_BUF_INIT;
    const char *vals[1] = { p->sink_id };
    PGresult   *res;
    int         rc = -1;

    if (pg_exec_ok(p, "CREATE TABLE IF NOT EXISTS cdcagent_state (sink_id text PRIMARY KEY, "
                   "commit_lsn bigint NOT NULL, seq bigint NOT NULL, "
                   "updated_at timestamptz NOT NULL DEFAULT now())", err) < 0)
        return -1;
    if (p->mode == DEST_PG_EVENT_LOG) {
        cdc_buf_printf(&q, "CREATE TABLE IF NOT EXISTS %s (id bigserial PRIMARY KEY, "
                       "event_key jsonb, event_value jsonb, source_topic text NOT NULL, "
                       "source_partition integer NOT NULL, source_offset bigint NOT NULL, "
                       "commit_lsn bigint, seq bigint, written_at timestamptz NOT NULL "
                       "DEFAULT now()); "
                       "ALTER TABLE %s ADD COLUMN IF NOT EXISTS commit_lsn bigint, "
                       "ADD COLUMN IF NOT EXISTS seq bigint; "
                       "CREATE UNIQUE INDEX IF NOT EXISTS %s ON %s (source_topic, "
                       "source_partition, source_offset, seq)",
                       p->table, p->table, p->index_name, p->table);
        if (pg_exec_ok(p, cdc_buf_str(&q), err) < 0)
            goto out;
    }
    res = PQexecParams(p->conn, "SELECT commit_lsn, seq FROM cdcagent_state WHERE sink_id = $1",
                       1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        cdc_err_set(err, CDC_E_PG, "postgres %s: reading cdcagent_state: %s", p->label,
                    PQresultErrorMessage(res));
        PQclear(res);
        goto out;
    }
    if (PQntuples(res) == 1) {
        p->state.lsn = (uint64_t) strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        p->state.seq = (uint64_t) strtoll(PQgetvalue(res, 0, 1), NULL, 10);  /* -1 is END */
    }
    PQclear(res);
    if (cdc_pos_cmp(p->state, p->durable) > 0)
        p->durable = p->state;
    rc = 0;
out:
    cdc_buf_free(&q);
    return rc;
}

/* Drops queued ops the target already committed (a COMMIT whose reply was lost). */
static void
pg_drop_committed(pgsink *p)
{
    int k = 0;

    for (int i = 0; i < p->nops; i++) {
        if (cdc_pos_cmp(p->ops[i].pos, p->state) <= 0 && !p->ops[i].ddl) {
            p->nevents -= p->ops[i].is_event;
            pg_op_free(&p->ops[i]);
        } else {
            p->ops[k++] = p->ops[i];
        }
    }
    p->nops = k;
}

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

/* ---------------------------------------------------------------- events to ops */

static void
pg_put_table(cdc_buf *b, const cdc_rel *rel)
{
    pg_put_ident(b, rel->nspname);
    cdc_buf_putc(b, '.');
    pg_put_ident(b, rel->relname);
}

/* The target type of a column: the source's, or text for types the target lacks. */
static void
pg_put_coltype(cdc_buf *b, const cdc_col *c)
{
    bool user = !c->catalog_known || c->type_name == NULL || c->enum_labels != NULL ||
                c->typtype == 'e' || c->typtype == 'c' || c->typtype == 'd';

    if (!user)
        cdc_buf_puts(b, c->type_name);
    else
        cdc_buf_puts(b, c->ctype.kind == CDC_CT_ARRAY ? "text[]" : "text");
}

/* CREATE TABLE IF NOT EXISTS + ADD COLUMN IF NOT EXISTS, when the relation version is new. */
static void
pg_queue_ddl(pgsink *p, const cdc_event *ev)
{
    const cdc_rel *rel = ev->rel;
    cdc_buf        b = CDC_BUF_INIT;
    pg_op         *op;
    bool           first = true;
    int            i;

    for (i = 0; i < p->nknown; i++)
        if (p->known[i].relid == rel->relid)
            break;
    if (i < p->nknown && p->known[i].version == rel->version)
        return;
    if (i == p->nknown) {
        p->known = cdc_xrealloc(p->known, (size_t) (p->nknown + 1) * sizeof(*p->known));
        p->nknown++;
    }
    p->known[i] = (pg_relver) { rel->relid, rel->version };
    cdc_buf_puts(&b, "CREATE SCHEMA IF NOT EXISTS ");
    pg_put_ident(&b, rel->nspname);
    cdc_buf_puts(&b, "; CREATE TABLE IF NOT EXISTS ");
    pg_put_table(&b, rel);
    cdc_buf_puts(&b, " (");
    for (int c = 0; c < rel->ncols; c++) {
        /* a stored generated column (in snapshot rows only) is left to the target to compute */
        if (!rel->cols[c].ctype.supported || (rel->cols[c].generated && !rel->cols[c].key_pos))
            continue;
        if (!first)
            cdc_buf_puts(&b, ", ");
        first = false;
        pg_put_ident(&b, rel->cols[c].name);
        cdc_buf_putc(&b, ' ');
        pg_put_coltype(&b, &rel->cols[c]);
    }
    if (rel->nkeys > 0) {
        cdc_buf_puts(&b, ", PRIMARY KEY (");
        for (int k = 1, n = 0; k <= rel->nkeys; k++)
            for (int c = 0; c < rel->ncols; c++)
                if (rel->cols[c].key_pos == k) {
                    if (n++)
                        cdc_buf_puts(&b, ", ");
                    pg_put_ident(&b, rel->cols[c].name);
                }
        cdc_buf_putc(&b, ')');
    }
    cdc_buf_puts(&b, "); ALTER TABLE ");
    pg_put_table(&b, rel);
    first = true;
    for (int c = 0; c < rel->ncols; c++) {
        if (!rel->cols[c].ctype.supported || (rel->cols[c].generated && !rel->cols[c].key_pos))
            continue;
        cdc_buf_puts(&b, first ? " ADD COLUMN IF NOT EXISTS " : ", ADD COLUMN IF NOT EXISTS ");
        first = false;
        pg_put_ident(&b, rel->cols[c].name);
        cdc_buf_putc(&b, ' ');
        pg_put_coltype(&b, &rel->cols[c]);
    }
    op = pg_op_new(p, ev->pos);
    op->ddl = true;
    op->sql = pg_buf_take(&b);
}

/* Adds a value as a parameter; @returns -1 when it cannot be converted. */
static int
pg_param_value(pg_op *op, const cdc_col *col, const cdc_value *v)
{
    cdc_buf t = CDC_BUF_INIT;

    if (v->state == CDC_VAL_NULL) {
        pg_op_param(op, NULL, 0);
        return 0;
    }
    if (dest_pg_value_text(col, v, &t) < 0 || cdc_buf_failed(&t)) {
        cdc_buf_free(&t);
        return -1;
    }
    pg_op_param(op, (const char *) t.data ? (const char *) t.data : "", t.len);
    op->pnames[op->nparams - 1] = cdc_xstrdup(col->name);
    cdc_buf_free(&t);
    return 0;
}

/* FNV-1a over a parameter (NULL distinct from every string), chained from h. */
static uint64_t
pg_hash_param(uint64_t h, const char *s)
{
    if (s == NULL)
        return (h ^ 0xffu) * 0x100000001b3ull;
    for (; *s; s++)
        h = (h ^ (uint8_t) *s) * 0x100000001b3ull;
    return (h ^ 0x1fu) * 0x100000001b3ull;     /* separator */
}

static void
pg_sql_upsert(pg_op *op, const cdc_event *ev, const char **why)
{
    const cdc_rel *rel = ev->rel;
    cdc_buf        b = CDC_BUF_INIT, sets = CDC_BUF_INIT;
    int            n = 0;
    uint64_t       h = 0xcbf29ce484222325ull;

    cdc_buf_puts(&b, "INSERT INTO ");
    pg_put_table(&b, rel);
    cdc_buf_puts(&b, " (");
    for (int c = 0; c < rel->ncols; c++) {
        const cdc_col *col = &rel->cols[c];

        if (!col->ctype.supported || ev->after[c].state == CDC_VAL_UNCHANGED ||
            (col->generated && !col->key_pos))
            continue;
        if (pg_param_value(op, col, &ev->after[c]) < 0) {
            *why = "a value cannot be converted to PostgreSQL text";
            goto out;
        }
        if (n++)
            cdc_buf_puts(&b, ", ");
        pg_put_ident(&b, col->name);
        if (col->key_pos != 0)
            h = pg_hash_param(h, op->params[op->nparams - 1]);
        if (col->key_pos == 0) {
            cdc_buf_puts(&sets, sets.len ? ", " : "");
            pg_put_ident(&sets, col->name);
            cdc_buf_puts(&sets, " = EXCLUDED.");
            pg_put_ident(&sets, col->name);
        }
    }
    cdc_buf_puts(&b, ") ");
    op->values_at = (int) b.len;
    cdc_buf_puts(&b, "VALUES (");
    for (int i = 1; i <= n; i++)
        cdc_buf_printf(&b, i > 1 ? ", $%d" : "$%d", i);
    cdc_buf_putc(&b, ')');
    op->tail_at = (int) b.len;
    op->upsert = n > 0;
    op->keyed = rel->nkeys > 0;
    op->khash = h | 1;              /* 0 marks a free slot of gset */
    if (rel->nkeys > 0) {
        cdc_buf_puts(&b, " ON CONFLICT (");
        for (int k = 1, m = 0; k <= rel->nkeys; k++)
            for (int c = 0; c < rel->ncols; c++)
                if (rel->cols[c].key_pos == k) {
                    if (m++)
                        cdc_buf_puts(&b, ", ");
                    pg_put_ident(&b, rel->cols[c].name);
                }
        cdc_buf_puts(&b, sets.len ? ") DO UPDATE SET " : ") DO NOTHING");
        if (sets.len)
            cdc_buf_put(&b, sets.data, sets.len);
    }
    op->sql = pg_buf_take(&b);
out:
    cdc_buf_free(&b);
    cdc_buf_free(&sets);
}

static void
pg_sql_delete(pg_op *op, const cdc_event *ev, const char **why)
{
    const cdc_rel   *rel = ev->rel;
    const cdc_value *kv = ev->key ? ev->key : ev->before;
    cdc_buf          b = CDC_BUF_INIT;
    int              n = 0;

    cdc_buf_puts(&b, "DELETE FROM ");
    pg_put_table(&b, rel);
    for (int c = 0; c < rel->ncols; c++) {
        if (rel->cols[c].key_pos == 0)
            continue;
        if (kv == NULL || pg_param_value(op, &rel->cols[c], &kv[c]) < 0) {
            *why = "the delete carries no usable key";
            goto out;
        }
        cdc_buf_puts(&b, n++ ? " AND " : " WHERE ");
        pg_put_ident(&b, rel->cols[c].name);
        cdc_buf_printf(&b, " = $%d", n);
    }
    op->sql = pg_buf_take(&b);
out:
    cdc_buf_free(&b);
}

/*
 * The delete half of a key change (the create with the new key follows):
 * move the row to its new key instead of deleting it, so that the columns
 * the create does not carry (unchanged TOAST) keep their values.  If the
 * target has no row at the old key, nothing happens and the create inserts.
 */
static void
pg_sql_rekey(pg_op *op, const cdc_event *ev, const char **why)
{
    const cdc_rel   *rel = ev->rel;
    const cdc_value *kv = ev->key ? ev->key : ev->before;
    cdc_buf          b = CDC_BUF_INIT;
    int              n = 0;

    cdc_buf_puts(&b, "UPDATE ");
    pg_put_table(&b, rel);
    for (int c = 0; c < rel->ncols; c++) {
        if (rel->cols[c].key_pos == 0)
            continue;
        if (pg_param_value(op, &rel->cols[c], &ev->pk_change_newkey[c]) < 0) {
            *why = "the key change carries no usable new key";
            goto out;
        }
        cdc_buf_puts(&b, n++ ? ", " : " SET ");
        pg_put_ident(&b, rel->cols[c].name);
        cdc_buf_printf(&b, " = $%d", n);
    }
    for (int c = 0, m = 0; c < rel->ncols; c++) {
        if (rel->cols[c].key_pos == 0)
            continue;
        if (kv == NULL || pg_param_value(op, &rel->cols[c], &kv[c]) < 0) {
            *why = "the key change carries no usable old key";
            goto out;
        }
        cdc_buf_puts(&b, m++ ? " AND " : " WHERE ");
        pg_put_ident(&b, rel->cols[c].name);
        cdc_buf_printf(&b, " = $%d", n + m);
    }
    op->sql = pg_buf_take(&b);
out:
    cdc_buf_free(&b);
}

static void
pg_queue_replica(pgsink *p, const cdc_event *ev, pg_op *op)
{
    const char *why = NULL;
    cdc_buf     b = CDC_BUF_INIT;

    switch (ev->op) {
    case CDC_OP_CREATE:
    case CDC_OP_READ:
    case CDC_OP_UPDATE:
        if (ev->rel->nkeys == 0 && ev->op == CDC_OP_UPDATE)
            why = "the table has no primary key: updates cannot be mirrored";
        else if (ev->after == NULL)
            why = "the change carries no new row";
        else
            pg_sql_upsert(op, ev, &why);
        break;
    case CDC_OP_DELETE:
        if (ev->rel->nkeys == 0)
            why = "the table has no primary key: deletes cannot be mirrored";
        else if (ev->pk_change_newkey)
            pg_sql_rekey(op, ev, &why);
        else
            pg_sql_delete(op, ev, &why);
        break;
    case CDC_OP_TRUNCATE:
        cdc_buf_puts(&b, "TRUNCATE ");
        pg_put_table(&b, ev->rel);
        op->sql = pg_buf_take(&b);
        break;
    default:
        break;
    }
    (void) p;
    if (why && op->sql == NULL)
        op->deadmsg = cdc_xstrdup(why);
}

static void
pg_queue_event_log(pgsink *p, const cdc_event *ev, pg_op *op)
{
    cdc_buf b = CDC_BUF_INIT;
    char    num[24];

    sch_json_key(&b, ev, &p->jopts);
    pg_op_param(op, b.len == 4 && !memcmp(b.data, "null", 4) ? NULL : (const char *) b.data,
                b.len);
    cdc_buf_reset(&b);
    sch_json_value(&b, ev, &p->jopts, cdc_wall_us());
    pg_op_param(op, b.len == 4 && !memcmp(b.data, "null", 4) ? NULL : (const char *) b.data,
                b.len);
    cdc_buf_free(&b);
    pg_op_param(op, op->topic, strlen(op->topic));
    pg_op_param(op, "0", 1);
    snprintf(num, sizeof(num), "%" PRIu64, ev->lsn);
    pg_op_param(op, num, strlen(num));
    snprintf(num, sizeof(num), "%" PRId64, (int64_t) ev->pos.lsn);
    pg_op_param(op, num, strlen(num));
    snprintf(num, sizeof(num), "%" PRId64, (int64_t) ev->pos.seq);
    pg_op_param(op, num, strlen(num));
}

/* ---------------------------------------------------------------- apply */

/* INSERT for ops[from..to) of event_log; one row when to == from + 1. */
static char *
pg_sql_event_log(pgsink *p, int nrows)
{
    cdc_buf b = CDC_BUF_INIT;

    cdc_buf_printf(&b, "INSERT INTO %s (event_key, event_value, source_topic, source_partition, "
                   "source_offset, commit_lsn, seq) VALUES ", p->table);
    for (int r = 0; r < nrows; r++)
        cdc_buf_printf(&b, "%s($%d::jsonb, $%d::jsonb, $%d, $%d::integer, $%d::bigint, "
                       "$%d::bigint, $%d::bigint)", r ? ", " : "", r * 7 + 1, r * 7 + 2,
                       r * 7 + 3, r * 7 + 4, r * 7 + 5, r * 7 + 6, r * 7 + 7);
    if (p->upsert)
        cdc_buf_puts(&b, " ON CONFLICT (source_topic, source_partition, source_offset, seq) "
                     "DO UPDATE SET event_key = EXCLUDED.event_key, "
                     "event_value = EXCLUDED.event_value, commit_lsn = EXCLUDED.commit_lsn");
    return pg_buf_take(&b);
}

/* Runs one statement; *pgerr gets the SQLSTATE-tagged message on failure. */
static int
pg_run(pgsink *p, const char *sql, int n, const char *const *params, char *pgerr, size_t errn)
{
    PGresult *res = n > 0 || params ? PQexecParams(p->conn, sql, n, NULL, params, NULL, NULL, 0)
                                    : PQexec(p->conn, sql);
    int       rc = 0;

    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

        snprintf(pgerr, errn, "%s|%s", state ? state : "?????",
                 msg ? msg : PQerrorMessage(p->conn));
        pgerr[strcspn(pgerr, "\n")] = '\0';
        rc = -1;
    }
    PQclear(res);
    return rc;
}

static bool
pg_lost(pgsink *p)
{
    return p->conn == NULL || PQstatus(p->conn) != CONNECTION_OK;
}

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

/* The replica statement for nrows rows shaped like op. */
static char *
pg_sql_replica_rows(const pg_op *op, int nrows)
{
    cdc_buf b = CDC_BUF_INIT;

    cdc_buf_put(&b, op->sql, (size_t) op->values_at);
    cdc_buf_puts(&b, "VALUES ");
    for (int r = 0; r < nrows; r++) {
        cdc_buf_puts(&b, r ? ", (" : "(");
        for (int c = 0; c < op->nparams; c++)
            cdc_buf_printf(&b, c ? ", $%d" : "$%d", r * op->nparams + c + 1);
        cdc_buf_putc(&b, ')');
    }
    cdc_buf_puts(&b, op->sql + op->tail_at);
    return pg_buf_take(&b);
}

/*
 * Runs ops[*i..] as one multi-row statement when ops[*i] starts a group (the
 * ends of transactions between its rows do nothing at apply time, so they
 * join it).  @returns 1 ran (*i moved past the group), 0 not a group start,
 * -1 the statement failed (pgerr set).
 */
static int
pg_apply_group(pgsink *p, int *i, char *pgerr, size_t errn)
{
    const pg_op  *first = &p->ops[*i];
    int           per = p->mode == DEST_PG_EVENT_LOG ? 7 : first->nparams;
    int           max = per > 0 && PG_MAX_PARAMS / per < PG_GROUP_ROWS ? PG_MAX_PARAMS / per
                                                                         : PG_GROUP_ROWS;
    const char  **params;
    char         *sql;
    int           j, n = 0, k = 0, rc;

    if (per == 0 || !first->is_event || first->deadmsg ||
        (p->mode == DEST_PG_EVENT_LOG ? first->sql != NULL : !first->upsert))
        return 0;
    memset(p->gset, 0, sizeof(p->gset));
    pg_group_fits(p, first, first);     /* enters its key */
    params = cdc_xmalloc((size_t) max * (size_t) per * sizeof(*params));
    for (j = *i; j < p->nops && n < max; j++) {
        const pg_op *op = &p->ops[j];

        if (!op->is_event && !op->ddl && op->sql == NULL && !op->deadmsg)
            continue;       /* a transaction's end */
        if (j > *i && !pg_group_fits(p, first, op))
            break;
        for (int c = 0; c < per; c++)
            params[k++] = op->params[c];
        n++;
    }
    sql = p->mode == DEST_PG_EVENT_LOG ? pg_sql_event_log(p, n) : pg_sql_replica_rows(first, n);
    rc = pg_run(p, sql, k, params, pgerr, errn);
    free(sql);
    free(params);
    if (rc < 0)
        return -1;
    *i = j;
    return 1;
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
    if (pg_run(p, "INSERT INTO cdcagent_state (sink_id, commit_lsn, seq) VALUES ($1, $2, $3) "
               "ON CONFLICT (sink_id) DO UPDATE SET commit_lsn = EXCLUDED.commit_lsn, "
               "seq = EXCLUDED.seq, updated_at = now()", 3, sp, pgerr, sizeof(pgerr)) < 0 ||
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

/* ---------------------------------------------------------------- ops */

static int
pg_write(cdc_dest *d, const cdc_event *ev, cdc_err *err)
{
    pgsink *p = d->impl;
    pg_op  *op;
    char    topic[300];
    cdc_buf rec = CDC_BUF_INIT;

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
        if (pg_apply(p, err) < 0)
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
    sch_record_put(&rec, ev, &p->jopts, topic, cdc_wall_us(), 0, NULL);
    op->record = pg_buf_take(&rec);
    op->topic = cdc_xstrdup(topic);
    if (p->mode == DEST_PG_EVENT_LOG)
        pg_queue_event_log(p, ev, op);
    else
        pg_queue_replica(p, ev, op);
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
    if (p->nops > 0 && (p->nevents >= p->batch_size || cdc_mono_ms() - p->first_ms >= p->flush_ms)
        && pg_apply(p, err) < 0)
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
        if (pg_apply(p, err) < 0)
            return -1;
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
                 (unsigned long long) p->nskipped, (unsigned long long) p->ndead, p->nevents);
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
    pg_clear_ops(p);
    free(p->ops);
    PQfinish(p->conn);
    free(p->known);
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
    .close = pg_close,
};
