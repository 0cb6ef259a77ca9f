#include "agent/pipeline/incr.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_arena.h"
#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_lsn.h"
#include "agent/core/cdc_mem.h"
#include "agent/core/net/pgconn.h"
#include "agent/pipeline/capture.h"
#include "agent/pipeline/incr_int.h"
#include "agent/pipeline/watermark.h"
#include "agent/source/catalog.h"
#include "agent/source/pg_source.h"
#include "decoder/relcache.h"
#include "decoder/values.h"

/* ---- the record ---- */

static void
table_insert(agent_incr *in, int k, const char *name, const char *cond)
{
    incr_table_add(in, name, cond);
    if (k < in->ntables - 1) {
        incr_table t = in->tables[in->ntables - 1];

        memmove(&in->tables[k + 1], &in->tables[k],
                (size_t) (in->ntables - 1 - k) * sizeof(*in->tables));
        in->tables[k] = t;
    }
}

static void
table_drop(agent_incr *in, int i)
{
    free(in->tables[i].name);
    free(in->tables[i].cond);
    memmove(&in->tables[i], &in->tables[i + 1],
            (size_t) (in->ntables - i - 1) * sizeof(*in->tables));
    in->ntables--;
}

static void
set_json(json_t **slot, json_t *v)
{
    json_decref(*slot);
    *slot = v;
}

static json_t *
json_ref(json_t *v)
{
    return json_is_array(v) ? json_incref(v) : NULL;
}

static void
pend_free(incr_pend *p)
{
    free(p->table);
    free(p->cond);
    json_decref(p->from);
    json_decref(p->max);
    memset(p, 0, sizeof(*p));
}

/* Chunks whose transaction the watermark passed are durable everywhere: forgotten. */
static void
pend_prune(agent_incr *in, uint64_t flushed)
{
    int n = 0;

    while (n < in->npend && in->pend[n].at < flushed)
        pend_free(&in->pend[n++]);
    memmove(in->pend, in->pend + n, (size_t) (in->npend - n) * sizeof(*in->pend));
    in->npend -= n;
}

/* A chunk emitted at `at`, read from in->from in tables[0]; over the bound, the newest two
   become one (resumed from the older's start until the newer is durable: more repeats,
   nothing lost). */
static void
pend_push(agent_incr *in, uint64_t at)
{
    incr_pend *p = &in->pend[in->npend++];

    p->at = at;
    p->table = cdc_xstrdup(in->tables[0].name);
    p->cond = in->tables[0].cond ? cdc_xstrdup(in->tables[0].cond) : NULL;
    p->from = in->from ? json_incref(in->from) : NULL;
    p->max = in->max ? json_incref(in->max) : NULL;
    if (in->npend > INCR_PEND_MAX) {
        in->pend[in->npend - 2].at = at;
        pend_free(&in->pend[--in->npend]);
    }
}

/* The counters shown by /metrics and slot status (docs/operations.md), kept across restarts. */
static void
progress_save(const agent_incr *in, json_t *o)
{
    json_object_set_new(o, "rows", json_integer((json_int_t) in->rows_emitted));
    json_object_set_new(o, "chunks", json_integer((json_int_t) in->chunks_done));
    json_object_set_new(o, "tables_done", json_integer(in->tables_done));
    if (in->blk_id[0] != '\0') {
        json_t *tabs = json_array();

        for (int i = 0; i < in->nblk; i++)
            json_array_append_new(tabs, json_pack("{s:s,s:s?}", "table", in->blk[i].name,
                                                  "filter", in->blk[i].cond));
        json_object_set_new(o, "blocking", json_pack("{s:s,s:o}", "id", in->blk_id, "tables",
                                                     tabs));
    }
}

static void
progress_load(agent_incr *in, json_t *o)
{
    json_t *b = json_object_get(o, "blocking"), *v;
    size_t  i;

    in->rows_emitted = (uint64_t) json_integer_value(json_object_get(o, "rows"));
    in->chunks_done = (uint64_t) json_integer_value(json_object_get(o, "chunks"));
    in->tables_done = (int) json_integer_value(json_object_get(o, "tables_done"));
    if (!json_is_object(b))
        return;
    snprintf(in->blk_id, sizeof(in->blk_id), "%s",
             json_string_value(json_object_get(b, "id")) ? json_string_value(json_object_get(b, "id")) : "?");
    json_array_foreach(json_object_get(b, "tables"), i, v)
        incr_blocking_add(in, json_string_value(json_object_get(v, "table")),
                          json_string_value(json_object_get(v, "filter")));
    if (in->nblk == 0)
        in->blk_id[0] = '\0';
    else
        log_info("incr", "blocking snapshot %s of %d table(s) did not finish before the agent "
                 "stopped: it runs again", in->blk_id, in->nblk);
}

int
agent_incr_blocking_done(agent_incr *in, cdc_err *err)
{
    log_info("incr", "blocking snapshot %s: every row durable in every destination",
             in->blk_id);
    incr_blocking_clear(in);
    return incr_save(in, err);
}

void
agent_incr_get_progress(const agent_incr *in, agent_incr_progress *out)
{
    memset(out, 0, sizeof(*out));
    if (in == NULL)
        return;
    out->state = !in->running ? 0 : in->paused ? 2 : 1;
    out->tables_done = in->tables_done;
    out->tables_remaining = in->running ? in->ntables : 0;
    out->chunks = in->chunks_done;
    out->rows = in->rows_emitted;
}

/*
 * Writes the progress: the tables left (tables[0] being read, from the key
 * after `from`), and the chunks not yet durable everywhere, oldest first: a
 * restart reads again from the oldest of them the slot did not confirm.
 */
int
incr_save(agent_incr *in, cdc_err *err)
{
    json_t *o = json_object(), *tabs = json_array();
    char   *s;
    int     rc = 0;

    if (in->wm)
        pend_prune(in, agent_wm_flush_lsn(in->wm));
    json_object_set_new(o, "id", json_string(in->id));
    json_object_set_new(o, "signal", json_pack("[I,I]", (json_int_t) in->signal.lsn,
                                               (json_int_t) in->signal.seq));
    progress_save(in, o);
    if (in->running) {
        for (int i = 0; i < in->ntables; i++)
            json_array_append_new(tabs, json_pack("{s:s,s:s?}", "table", in->tables[i].name,
                                                  "filter", in->tables[i].cond));
        json_object_set_new(o, "tables", tabs);
        json_object_set_new(o, "paused", json_boolean(in->paused));
        json_object_set(o, "from", in->from ? in->from : json_null());
        json_object_set(o, "max", in->max ? in->max : json_null());
    }
    if (in->npend > 0) {
        json_t *pa = json_array();

        for (int i = 0; i < in->npend; i++)
            json_array_append_new(pa, json_pack("{s:I,s:s,s:s?,s:O?,s:O?}", "at",
                                                (json_int_t) in->pend[i].at, "table",
                                                in->pend[i].table, "filter", in->pend[i].cond,
                                                "from", in->pend[i].from, "max", in->pend[i].max));
        json_object_set_new(o, "pending", pa);
    }
    if (!in->running) {
        json_decref(tabs);
    }
    s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (s == NULL || strlen(s) >= sizeof(in->st->incr))
        rc = cdc_err_set(err, CDC_E_STATE, "incremental snapshot of %s: its progress is over "
                         "%zu bytes (too many tables or too long keys or filters)",
                         in->ntables ? in->tables[0].name : "?", sizeof(in->st->incr) - 1);
    else
        snprintf(in->st->incr, sizeof(in->st->incr), "%s", s);
    free(s);
    if (rc == 0 && agent_state_save(in->st, err) < 0)
        rc = cdc_err_wrap(err, "saving the incremental snapshot's progress");
    return rc;
}

/* Reads the record's progress; the chunk at "at" counts as delivered when confirmed passed it. */
static int
load(agent_incr *in, uint64_t confirmed, cdc_err *err)
{
    json_error_t je;
    json_t      *o, *tabs, *v;
    size_t       i;

    if (in->st->incr[0] == '\0')
        return 0;
    o = json_loads(in->st->incr, 0, &je);
    if (o == NULL || !json_is_object(o))
        return cdc_err_set(err, CDC_E_STATE, "state record %s: the incr line does not parse (%s)",
                           in->st->path, je.text);
    progress_load(in, o);
    v = json_object_get(o, "signal");
    in->signal.lsn = (uint64_t) json_integer_value(json_array_get(v, 0));
    in->signal.seq = (uint64_t) json_integer_value(json_array_get(v, 1));
    tabs = json_object_get(o, "tables");
    json_array_foreach(tabs, i, v) {
        json_t *c = json_object_get(v, "filter");

        incr_table_add(in, json_string_value(json_object_get(v, "table")),
                       json_is_string(c) ? json_string_value(c) : NULL);
    }
    in->running = in->ntables > 0;
    snprintf(in->id, sizeof(in->id), "%s", json_string_value(json_object_get(o, "id")) ?
             json_string_value(json_object_get(o, "id")) : "");
    if (in->running) {
        in->paused = json_is_true(json_object_get(o, "paused"));
        in->from = json_ref(json_object_get(o, "from"));
        in->max = json_ref(json_object_get(o, "max"));
    }
    /* The oldest chunk the slot did not confirm: reading starts again there, in its table
       (put back in front of the list with the tables after it, if the list moved on). */
    json_array_foreach(json_object_get(o, "pending"), i, v) {
        const char *t = json_string_value(json_object_get(v, "table"));
        int         x;

        if ((uint64_t) json_integer_value(json_object_get(v, "at")) < confirmed || t == NULL)
            continue;
        if (in->ntables == 0 || strcmp(in->tables[0].name, t) != 0) {
            json_t *pv;
            size_t  j;
            int     k = 0;

            /* the tables of this and the later pending chunks, in order, before the list */
            json_array_foreach(json_object_get(o, "pending"), j, pv) {
                const char *pt = json_string_value(json_object_get(pv, "table"));
                bool        have = false;

                if (j < i || pt == NULL)
                    continue;
                for (x = 0; x < in->ntables; x++)
                    have = have || strcmp(in->tables[x].name, pt) == 0;
                if (have)
                    continue;
                table_insert(in, k++, pt, json_string_value(json_object_get(pv, "filter")));
            }
        }
        set_json(&in->from, json_ref(json_object_get(v, "from")));
        set_json(&in->max, json_ref(json_object_get(v, "max")));
        in->running = true;
        break;
    }
    if (in->running) {
        char *key = in->from ? json_dumps(in->from, JSON_COMPACT) : NULL;

        log_info("incr", "incremental snapshot %s resumes: %d table(s) left, %s, in %s after "
                 "key %s", in->id, in->ntables, in->paused ? "paused" : "running",
                 in->tables[0].name, key ? key : "(none: from its first row)");
        free(key);
    }
    json_decref(o);
    return 0;
}

agent_incr *
agent_incr_new(const cfg_source *src, agent_state *st, uint64_t confirmed, int server_version,
               cdc_err *err)
{
    agent_incr *in;
    bool        sig = src->signal_data_collection != NULL && *src->signal_data_collection != '\0';

    /* Without a signal table, only a snapshot the record queued (a resumed initial one)
       runs, its windows marked by logical decoding messages (PostgreSQL 14+). */
    if (!sig && (server_version < AGENT_INCR_MSG_MARKS_VERSION || st->incr[0] == '\0'))
        return NULL;
    in = cdc_xcalloc(1, sizeof(*in));
    in->src = src;
    in->st = st;
    in->msg_marks = !sig;
    if ((sig && agent_pg_split_table(src->signal_data_collection, in->sig_schema, in->sig_table,
                                     err) < 0) ||
        load(in, confirmed, err) < 0) {
        cdc_err_wrap(err, sig ? "source.signal_data_collection" : "the slot's record");
        agent_incr_free(in);
        return NULL;
    }
    if (sig)
        agent_pg_quote_table(in->sig_schema, in->sig_table, in->sig_quoted,
                             sizeof(in->sig_quoted));
    in->arena = cdc_arena_new(64 * 1024);
    in->emit_arena = cdc_arena_new(16 * 1024);
    return in;
}

static void
window_clear(agent_incr *in)
{
    in->pending = in->open = false;
    in->rows = NULL;
    in->nrows = 0;
    set_json(&in->chunk_last, NULL);
    if (in->arena)
        cdc_arena_reset(in->arena);
}

void
agent_incr_free(agent_incr *in)
{
    if (in == NULL)
        return;
    window_clear(in);
    incr_tables_free(in);
    incr_blocking_clear(in);
    for (int i = 0; i < in->npend; i++)
        pend_free(&in->pend[i]);
    json_decref(in->from);
    json_decref(in->max);
    cdc_arena_free(in->arena);
    cdc_arena_free(in->emit_arena);
    free(in);
}

void
agent_incr_set_conn(agent_incr *in, PGconn *conn)
{
    if (in) {
        in->conn = conn;
        in->sync_set = false;
    }
}

bool
agent_incr_is_signal(const agent_incr *in, const cdc_rel *rel)
{
    return in && !in->msg_marks && strcmp(rel->nspname, in->sig_schema) == 0 &&
           strcmp(rel->relname, in->sig_table) == 0;
}

/* ---- keys ---- */

/* The key columns of rel in key order; @returns their number. */
static int
key_cols(const cdc_rel *rel, int *idx)
{
    int n = 0;

    for (int k = 1; k <= rel->nkeys && n < INCR_KEYS_MAX; k++)
        for (int i = 0; i < rel->ncols; i++)
            if (rel->cols[i].key_pos == k)
                idx[n++] = i;
    return n;
}

/* "len:text" for each key column, in key order: the same for a COPY row and a pgoutput tuple. */
static void
key_text(cdc_buf *b, const char *const *texts, const size_t *lens, int n)
{
    for (int i = 0; i < n; i++) {
        cdc_buf_printf(b, "%zu:", lens[i]);
        cdc_buf_put(b, texts[i], lens[i]);
    }
}

void
agent_incr_seen(agent_incr *in, const cdc_rel *rel, const pgo_tuple *t, uint64_t commit_lsn)
{
    int         idx[INCR_KEYS_MAX], n;
    const char *texts[INCR_KEYS_MAX];
    size_t      lens[INCR_KEYS_MAX];
    cdc_buf     b = CDC_BUF_INIT;

    /* Only transactions after the open row: the stream sends older ones again after a
       reconnect, and those came before the chunk was read. */
    if (in == NULL || !in->open || commit_lsn <= in->open_at || rel->relid != in->relid ||
        t == NULL || t->cols == NULL)
        return;
    n = key_cols(rel, idx);
    for (int i = 0; i < n; i++) {
        const pgo_datum *d = idx[i] < t->ncols ? &t->cols[idx[i]] : NULL;

        if (d == NULL || d->kind != 't')
            return;
        texts[i] = d->data;
        lens[i] = d->len;
    }
    key_text(&b, texts, lens, n);
    for (int r = 0; r < in->nrows; r++)
        if (!in->rows[r].gone && strcmp(in->rows[r].key, cdc_buf_str(&b)) == 0) {
            in->rows[r].gone = true;
            in->rows_dropped++;
            break;
        }
    cdc_buf_free(&b);
}

/* ---- reading a chunk ---- */

static const char *
table_cond(const agent_incr *in)
{
    return in->tables[0].cond;
}

/* The relation of the table being read, from the catalog if the stream has not sent it. */
static cdc_rel *
current_rel(agent_incr *in, agent_capture *cap, cdc_err *err)
{
    char      schema[64], table[64], sql[200];
    PGresult *res;
    const char *params[1];
    uint32_t  oid;
    cdc_rel  *rel;

    if (agent_pg_split_table(in->tables[0].name, schema, table, err) < 0)
        return NULL;
    params[0] = in->tables[0].name;
    snprintf(sql, sizeof(sql), "SELECT to_regclass($1)::oid");
    res = PQexecParams(in->conn, sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQgetisnull(res, 0, 0)) {
        cdc_err_set(err, CDC_E_CONFIG, "incremental snapshot %s: table %s not found%s%s",
                    in->id, in->tables[0].name, PQresultStatus(res) == PGRES_TUPLES_OK ? "" : ": ",
                    PQresultStatus(res) == PGRES_TUPLES_OK ? "" : PQresultErrorMessage(res));
        PQclear(res);
        return NULL;
    }
    oid = (uint32_t) strtoul(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    rel = pgo_rel_lookup(agent_capture_relcache(cap), oid);
    if (rel == NULL)
        rel = agent_catalog_install(in->conn, agent_capture_relcache(cap), schema, table, err);
    if (rel == NULL || agent_capture_prepare_rel(cap, rel, err) < 0)
        return NULL;
    return rel;
}

/* "(k1, k2)" quoted. */
static void
key_list(cdc_buf *q, PGconn *conn, const cdc_rel *rel, const int *idx, int n, const char *suffix)
{
    char ident[300];

    cdc_buf_putc(q, '(');
    for (int i = 0; i < n; i++)
        cdc_buf_printf(q, "%s%s%s", i ? ", " : "",
                       agent_pg_quote_ident(conn, rel->cols[idx[i]].name, ident, sizeof(ident)),
                       suffix);
    cdc_buf_putc(q, ')');
}

/* "(cast($a AS T), ...)" for parameters first.. in key order. */
static void
key_params(cdc_buf *q, const cdc_rel *rel, const int *idx, int n, int first)
{
    cdc_buf_putc(q, '(');
    for (int i = 0; i < n; i++)
        cdc_buf_printf(q, "%s$%d::%s", i ? ", " : "", first + i,
                       rel->cols[idx[i]].type_name ? rel->cols[idx[i]].type_name : "text");
    cdc_buf_putc(q, ')');
}

static void
where_head(agent_incr *in, cdc_buf *q, const cdc_rel *rel)
{
    char        tq[300];
    const char *rf = cfg_row_filter(in->src, rel->nspname, rel->relname);

    cdc_buf_printf(q, " FROM %s WHERE (%s) AND (%s)",
                   agent_pg_quote_table(rel->nspname, rel->relname, tq, sizeof(tq)),
                   rf ? rf : "true", table_cond(in) ? table_cond(in) : "true");
}

static int
exec_ok(agent_incr *in, PGresult *res, ExecStatusType want, const char *what, cdc_err *err)
{
    const char *state;

    if (PQresultStatus(res) == want)
        return 0;
    /* Classes 22 and 42 (bad data, syntax, unknown names): the signal's condition, a
       user's error that a retry would meet again; CDC_E_CONFIG skips the table. */
    state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    cdc_err_set(err, state && (strncmp(state, "42", 2) == 0 || strncmp(state, "22", 2) == 0)
                     ? CDC_E_CONFIG : CDC_E_PG, "incremental snapshot %s of %s: %s: %s",
                in->id, in->tables[0].name, what, PQresultErrorMessage(res));
    PQclear(res);
    return -1;
}

/* A user's error in a table's snapshot (gone, a bad condition): logged, the table skipped.
   @returns true when it was one. */
static bool
skip_table(agent_incr *in, cdc_err *err)
{
    if (err->code != CDC_E_CONFIG)
        return false;
    log_error("incr", "%s; the table is skipped", err->msg);
    cdc_err_clear(err);
    table_drop(in, 0);
    set_json(&in->from, NULL);
    set_json(&in->max, NULL);
    window_clear(in);
    return true;
}

/* The table's largest key under its filters; max stays NULL for an empty table. */
static int
read_max(agent_incr *in, const cdc_rel *rel, const int *idx, int n, cdc_err *err)
{
    cdc_buf   q = CDC_BUF_INIT;
    PGresult *res;

    cdc_buf_puts(&q, "SELECT ");
    for (int i = 0; i < n; i++) {
        char ident[300];

        cdc_buf_printf(&q, "%s%s", i ? ", " : "", agent_pg_quote_ident(in->conn,
                       rel->cols[idx[i]].name, ident, sizeof(ident)));
    }
    where_head(in, &q, rel);
    cdc_buf_puts(&q, " ORDER BY ");
    for (int i = 0; i < n; i++) {
        char ident[300];

        cdc_buf_printf(&q, "%s%s DESC", i ? ", " : "", agent_pg_quote_ident(in->conn,
                       rel->cols[idx[i]].name, ident, sizeof(ident)));
    }
    cdc_buf_puts(&q, " LIMIT 1");
    res = PQexec(in->conn, cdc_buf_str(&q));
    cdc_buf_free(&q);
    if (exec_ok(in, res, PGRES_TUPLES_OK, "reading its largest key", err) < 0)
        return -1;
    set_json(&in->max, NULL);
    if (PQntuples(res) == 1) {
        in->max = json_array();
        for (int i = 0; i < n; i++)
            json_array_append_new(in->max, json_string(PQgetvalue(res, 0, i)));
    }
    PQclear(res);
    return 0;
}

/*
 * A window marker as a logical decoding message: content "<slot>/<chunk id>-open|close".
 * Transactional, so that it reaches the stream where its transaction commits, in commit
 * order like the signal table's row, with a transaction to emit the chunk into; and its
 * commit (synchronous_commit on) flushes it, where a non-transactional message waits in
 * the WAL buffers for the WAL writer before the walsender may send it.
 */
static int
emit_mark(agent_incr *in, const char *id, cdc_err *err)
{
    char        content[256];
    const char *params[2] = { AGENT_CAPTURE_WM_PREFIX, content };
    PGresult   *res;

    snprintf(content, sizeof(content), "%s/%s", in->src->slot_name, id);
    res = PQexecParams(in->conn, "SELECT pg_logical_emit_message(true, $1, $2)", 2, NULL, params,
                       NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        cdc_err_set(err, CDC_E_PG, "incremental snapshot %s: writing the watermark %s as a "
                    "logical decoding message (pg_logical_emit_message; without "
                    "source.signal_data_collection): %s", in->id, id,
                    PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }
    PQclear(res);
    return 0;
}

static int
insert_marker(agent_incr *in, const char *kind, cdc_err *err)
{
    char        id[96], data[96];
    const char *params[3] = { id, kind, data };
    char        sql[400];
    PGresult   *res;

    snprintf(id, sizeof(id), "%s-%s", in->chunk_id, strcmp(kind, "snapshot-window-open") == 0 ?
             "open" : "close");
    snprintf(data, sizeof(data), "{\"%sWindowTimestamp\": %" PRId64 "}",
             strcmp(kind, "snapshot-window-open") == 0 ? "open" : "close", cdc_wall_us() / 1000);
    snprintf(sql, sizeof(sql), "INSERT INTO %s VALUES ($1, $2, $3)", in->sig_quoted);
    /* The stream sends a transaction once its WAL is flushed: with synchronous_commit off,
       a marker could wait for the WAL writer, and the window with it. */
    if (!in->sync_set) {
        PQclear(PQexec(in->conn, "SET synchronous_commit = on"));
        in->sync_set = true;
    }
    if (in->msg_marks)
        return emit_mark(in, id, err);
    res = PQexecParams(in->conn, sql, 3, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        cdc_err_set(err, CDC_E_PG, "incremental snapshot %s: writing the watermark %s into the "
                    "signal table %s (source.signal_data_collection; the agent's user needs "
                    "INSERT on it): %s", in->id, id, in->src->signal_data_collection,
                    PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }
    PQclear(res);
    return 0;
}

/*
 * Opens a window: writes the open marker, reads the next chunk of the table
 * being read, writes the close marker.  A table without a key, or a table
 * with nothing left, is done: the next one is read.
 */
int
incr_read_chunk(agent_incr *in, agent_capture *cap, cdc_err *err)
{
    while (in->running && !in->paused && !in->pending) {
        int         idx[INCR_KEYS_MAX], n, np = 0, nparams;
        const char *params[2 * INCR_KEYS_MAX];
        cdc_buf     q = CDC_BUF_INIT;
        PGresult   *res;
        cdc_rel    *rel;

        if (in->ntables == 0) {
            log_info("incr", "incremental snapshot %s done: %" PRIu64 " rows emitted, %" PRIu64
                     " left out for a streamed change of their key in the window", in->id,
                     in->rows_emitted, in->rows_dropped);
            in->running = false;
            return incr_save(in, err);
        }
        rel = current_rel(in, cap, err);
        if (rel == NULL) {
            if (skip_table(in, err))
                continue;
            return -1;
        }
        n = key_cols(rel, idx);
        if (n == 0) {
            log_warn("incr", "incremental snapshot %s: table %s has no primary key (nor replica "
                     "identity index): skipped", in->id, in->tables[0].name);
            table_drop(in, 0);
            continue;
        }
        if (in->max == NULL && in->from == NULL) {
            if (read_max(in, rel, idx, n, err) < 0) {
                if (skip_table(in, err))
                    continue;
                return -1;
            }
            if (in->max == NULL) {
                log_info("incr", "incremental snapshot %s: table %s has no rows: done", in->id,
                         in->tables[0].name);
                table_drop(in, 0);
                continue;
            }
            log_info("incr", "incremental snapshot %s: reading table %s", in->id,
                     in->tables[0].name);
        }
        snprintf(in->chunk_id, sizeof(in->chunk_id), "%" PRIx64 "-%" PRIu64,
                 (uint64_t) cdc_wall_us(), ++in->chunk_no);
        window_clear(in);
        if (insert_marker(in, "snapshot-window-open", err) < 0)
            return -1;
        cdc_buf_puts(&q, "SELECT ");
        for (int i = 0; i < rel->ncols; i++) {
            char ident[300];

            cdc_buf_printf(&q, "%s%s", i ? ", " : "", rel->cols[i].filtered ? "NULL" :
                           agent_pg_quote_ident(in->conn, rel->cols[i].name, ident, sizeof(ident)));
        }
        where_head(in, &q, rel);
        if (in->from) {
            cdc_buf_puts(&q, " AND ");
            key_list(&q, in->conn, rel, idx, n, "");
            cdc_buf_puts(&q, " > ");
            key_params(&q, rel, idx, n, 1);
            for (int i = 0; i < n; i++)
                params[np++] = json_string_value(json_array_get(in->from, (size_t) i));
        }
        cdc_buf_puts(&q, " AND ");
        key_list(&q, in->conn, rel, idx, n, "");
        cdc_buf_puts(&q, " <= ");
        key_params(&q, rel, idx, n, np + 1);
        for (int i = 0; i < n; i++)
            params[np++] = json_string_value(json_array_get(in->max, (size_t) i));
        cdc_buf_puts(&q, " ORDER BY ");
        key_list(&q, in->conn, rel, idx, n, "");
        /* ORDER BY (a, b) would sort by the row value: the same order */
        cdc_buf_printf(&q, " LIMIT %d", in->src->incremental_snapshot_chunk_size);
        nparams = np;
        res = PQexecParams(in->conn, cdc_buf_str(&q), nparams, NULL, params, NULL, NULL, 0);
        cdc_buf_free(&q);
        if (exec_ok(in, res, PGRES_TUPLES_OK, "reading a chunk", err) < 0) {
            if (skip_table(in, err))
                continue;
            return -1;
        }
        in->relid = rel->relid;
        in->ncols = rel->ncols;
        in->nrows = PQntuples(res);
        in->rows = cdc_arena_alloc(in->arena,
                                   (size_t) (in->nrows ? in->nrows : 1) * sizeof(*in->rows));
        for (int r = 0; r < in->nrows; r++) {
            incr_row   *row = &in->rows[r];
            const char *texts[INCR_KEYS_MAX];
            size_t      lens[INCR_KEYS_MAX];
            cdc_buf     kb = CDC_BUF_INIT;

            row->gone = false;
            row->vals = cdc_arena_alloc(in->arena, (size_t) (rel->ncols ? rel->ncols : 1) *
                                                   sizeof(char *));
            for (int c = 0; c < rel->ncols; c++) {
                size_t len = (size_t) PQgetlength(res, r, c);

                row->vals[c] = NULL;
                if (!PQgetisnull(res, r, c)) {
                    row->vals[c] = cdc_arena_alloc(in->arena, len + 1);
                    memcpy(row->vals[c], PQgetvalue(res, r, c), len + 1);
                }
            }
            for (int i = 0; i < n; i++) {
                texts[i] = PQgetvalue(res, r, idx[i]);
                lens[i] = (size_t) PQgetlength(res, r, idx[i]);
            }
            key_text(&kb, texts, lens, n);
            row->key = cdc_arena_alloc(in->arena, kb.len + 1);
            memcpy(row->key, cdc_buf_str(&kb), kb.len + 1);
            cdc_buf_free(&kb);
        }
        if (in->nrows > 0) {
            in->chunk_last = json_array();
            for (int i = 0; i < n; i++)
                json_array_append_new(in->chunk_last,
                                      json_string(PQgetvalue(res, in->nrows - 1, idx[i])));
        }
        in->table_done = in->nrows < in->src->incremental_snapshot_chunk_size;
        PQclear(res);
        if (insert_marker(in, "snapshot-window-close", err) < 0)
            return -1;
        in->pending = true;
        log_debug("incr", "incremental snapshot %s: chunk %s of %s: %d rows", in->id,
                  in->chunk_id, in->tables[0].name, in->nrows);
    }
    return 0;
}

/* ---- the window's close: emit the rows left ---- */

static int
emit_chunk(agent_incr *in, agent_capture *cap, uint64_t lsn, cdc_err *err)
{
    cdc_rel *rel = pgo_rel_lookup(agent_capture_relcache(cap), in->relid);

    if (rel == NULL || rel->ncols != in->ncols)
        return cdc_err_set(err, CDC_E_STATE, "incremental snapshot %s: table %s changed its "
                           "columns during a chunk; restart the agent to read the chunk again",
                           in->id, in->tables[0].name);
    if (agent_capture_prepare_rel(cap, rel, err) < 0)
        return -1;
    for (int r = 0; r < in->nrows; r++) {
        cdc_event  ev = { 0 };
        cdc_value *vals;

        if (in->rows[r].gone)
            continue;
        cdc_arena_reset(in->emit_arena);
        vals = cdc_arena_alloc(in->emit_arena,
                               sizeof(*vals) * (size_t) (rel->ncols ? rel->ncols : 1));
        memset(vals, 0, sizeof(*vals) * (size_t) (rel->ncols ? rel->ncols : 1));
        for (int c = 0; c < rel->ncols; c++) {
            const char *t = in->rows[r].vals[c];
            size_t      len;
            char       *text;

            if (t == NULL || !rel->cols[c].ctype.supported)
                continue;
            len = strlen(t);
            text = cdc_arena_alloc(in->emit_arena, len + 1);
            memcpy(text, t, len + 1);
            if (pgo_value_from_text_borrow(&rel->cols[c], text, len,
                                           agent_capture_type_opts(cap), in->emit_arena,
                                           &vals[c], err) < 0)
                return cdc_err_wrap(err, "incremental snapshot of table %s.%s", rel->nspname,
                                    rel->relname);
        }
        pgo_utf8_check_row(rel, vals);
        ev.op = CDC_OP_READ;
        ev.rel = rel;
        ev.lsn = lsn;
        ev.snapshot = "incremental";
        ev.after = vals;
        ev.key = vals;
        if (agent_capture_emit(cap, &ev, err) < 0)
            return -1;
        in->rows_emitted++;
    }
    return 0;
}

static int
window_close(agent_incr *in, agent_capture *cap, uint64_t commit_lsn, uint64_t lsn, cdc_err *err)
{
    bool end = in->table_done || in->chunk_last == NULL;

    if (emit_chunk(in, cap, lsn, err) < 0)
        return -1;
    pend_push(in, commit_lsn);
    in->chunks_done++;
    if (end) {
        log_info("incr", "incremental snapshot %s: table %s done", in->id, in->tables[0].name);
        in->tables_done++;
        table_drop(in, 0);
        set_json(&in->from, NULL);
        set_json(&in->max, NULL);
    } else {
        set_json(&in->from, json_incref(in->chunk_last));
    }
    window_clear(in);
    /* Saved before the transaction carrying the chunk can be confirmed. */
    if (incr_save(in, err) < 0)
        return -1;
    return incr_read_chunk(in, cap, err);
}

/* A window marker "<chunk id>-open|close" (len bytes) arrived: only the current chunk's
   count; its close emits the chunk. */
int
incr_window_mark(agent_incr *in, agent_capture *cap, const char *id, size_t len,
                 uint64_t commit_lsn, uint64_t lsn, cdc_err *err)
{
    size_t n = strlen(in->chunk_id);

    if (!in->pending || n == 0 || len <= n || strncmp(id, in->chunk_id, n) != 0 ||
        id[n] != '-')
        return 0;
    if (len - n - 1 == 4 && strncmp(id + n + 1, "open", 4) == 0) {
        if (!in->open)
            in->open_at = commit_lsn;
        in->open = true;
        return 0;
    }
    if (len - n - 1 != 5 || strncmp(id + n + 1, "close", 5) != 0)
        return 0;
    in->open = false;
    return window_close(in, cap, commit_lsn, lsn, err);
}

/* Table t leaves the snapshot (the one being read: its window and position too). */
void
incr_drop_table(agent_incr *in, int t)
{
    if (t == 0) {
        window_clear(in);
        set_json(&in->from, NULL);
        set_json(&in->max, NULL);
    }
    table_drop(in, t);
}

/* No table left after a stop-snapshot: nothing to read again after a restart. */
void
incr_stopped(agent_incr *in)
{
    window_clear(in);
    set_json(&in->from, NULL);
    set_json(&in->max, NULL);
    in->running = false;
    in->paused = false;
    for (int p = 0; p < in->npend; p++)
        pend_free(&in->pend[p]);
    in->npend = 0;
}

int
agent_incr_start(agent_incr *in, agent_capture *cap, PGconn *conn, cdc_err *err)
{
    const char *params[3] = { NULL, in->sig_schema, in->sig_table };
    PGresult   *res;
    bool        found;

    in->conn = conn;
    in->wm = agent_capture_router(cap)->wm;
    window_clear(in);
    if (in->msg_marks)
        return incr_read_chunk(in, cap, err);
    params[0] = in->src->publication_name;
    res = PQexecParams(conn, "SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND "
                       "schemaname = $2 AND tablename = $3", 3, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        cdc_err_set(err, CDC_E_PG, "source.signal_data_collection: looking %s up in publication "
                    "%s: %s", in->src->signal_data_collection, in->src->publication_name,
                    PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }
    found = PQntuples(res) > 0;
    PQclear(res);
    if (!found)
        return cdc_err_set(err, CDC_E_CONFIG, "source.signal_data_collection: the signal table "
                           "%s is not in publication %s: its rows would never arrive (ALTER "
                           "PUBLICATION %s ADD TABLE %s)", in->src->signal_data_collection,
                           in->src->publication_name, in->src->publication_name,
                           in->src->signal_data_collection);
    return incr_read_chunk(in, cap, err);
}
