#include "agent/pipeline/snapshot_resume.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_lsn.h"
#include "agent/core/cdc_mem.h"
#include "agent/core/net/pgconn.h"
#include "agent/pipeline/incr.h"
#include "agent/pipeline/router.h"
#include "agent/pipeline/watermark.h"
#include "agent/source/catalog.h"
#include "agent/source/pg_source.h"

#define KEYS_MAX 32

/* ---- key ranges ---- */

/* The key columns of rel in key order; @returns their number (0: none usable). */
static int
key_cols(const cdc_rel *rel, int *idx)
{
    int n = 0;

    for (int k = 1; k <= rel->nkeys && n < KEYS_MAX; k++)
        for (int i = 0; i < rel->ncols; i++)
            if (rel->cols[i].key_pos == k) {
                if (!rel->cols[i].not_null)
                    return 0;
                idx[n++] = i;
            }
    return n == rel->nkeys ? n : 0;
}

bool
snap_key_usable(const cdc_rel *rel)
{
    int idx[KEYS_MAX];

    return key_cols(rel, idx) > 0;
}

/* "(k1, k2)" quoted. */
static void
put_key(cdc_buf *b, PGconn *conn, const cdc_rel *rel, const int *idx, int n)
{
    char ident[300];

    cdc_buf_putc(b, '(');
    for (int i = 0; i < n; i++)
        cdc_buf_printf(b, "%s%s", i ? ", " : "",
                       agent_pg_quote_ident(conn, rel->cols[idx[i]].name, ident, sizeof(ident)));
    cdc_buf_putc(b, ')');
}

/* "('v1'::type1, 'v2'::type2)": row r of res, its first n columns. */
static int
put_value(cdc_buf *b, PGconn *conn, const cdc_rel *rel, const int *idx, int n,
          const PGresult *res, int r, cdc_err *err)
{
    cdc_buf_putc(b, '(');
    for (int i = 0; i < n; i++) {
        char *lit = PQescapeLiteral(conn, PQgetvalue(res, r, i), (size_t) PQgetlength(res, r, i));

        if (lit == NULL)
            return cdc_err_set(err, CDC_E_PG, "snapshot of %s.%s: quoting a key of column %s: "
                               "%s", rel->nspname, rel->relname, rel->cols[idx[i]].name,
                               PQerrorMessage(conn));
        cdc_buf_printf(b, "%s%s::%s", i ? ", " : "", lit,
                       rel->cols[idx[i]].type_name ? rel->cols[idx[i]].type_name : "text");
        PQfreemem(lit);
    }
    cdc_buf_putc(b, ')');
    return 0;
}

void
snap_key_chunks_free(char **v, int n)
{
    for (int i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

int
snap_key_chunks(PGconn *conn, const cdc_rel *rel, const char *where, int64_t pages,
                int64_t want, char ***conds, char ***rests, cdc_err *err)
{
    int       idx[KEYS_MAX], n = key_cols(rel, idx), m, nch;
    cdc_buf   q = CDC_BUF_INIT, key = CDC_BUF_INIT;
    char      tq[300];
    char    **bounds;
    PGresult *res;
    double    pct;
    int64_t   sample;

    *conds = *rests = NULL;
    if (n == 0 || want < 2 || pages < 2)
        return 0;
    /* About 16 pages of sample per chunk, at least 256 and at most 4096 (the keys of that
       many pages come to the agent): enough for even ranges, cheap. */
    sample = want * 16 < 256 ? 256 : want * 16 > 4096 ? 4096 : want * 16;
    pct = 100.0 * (double) sample / (double) pages;
    put_key(&key, conn, rel, idx, n);
    cdc_buf_puts(&q, "SELECT ");
    for (int i = 0; i < n; i++)
        cdc_buf_printf(&q, "%s%s", i ? ", " : "",
                       agent_pg_quote_ident(conn, rel->cols[idx[i]].name, tq, sizeof(tq)));
    cdc_buf_printf(&q, " FROM %s", agent_pg_quote_table(rel->nspname, rel->relname, tq,
                                                        sizeof(tq)));
    if (pct < 100.0)
        cdc_buf_printf(&q, " TABLESAMPLE SYSTEM (%.6f)", pct);
    cdc_buf_printf(&q, " WHERE (%s) ORDER BY ", where ? where : "true");
    for (int i = 0; i < n; i++)
        cdc_buf_printf(&q, "%s%s", i ? ", " : "",
                       agent_pg_quote_ident(conn, rel->cols[idx[i]].name, tq, sizeof(tq)));
    res = agent_pg_query(conn, cdc_buf_str(&q), 0, NULL, "snapshot: sampling the keys", err);
    cdc_buf_free(&q);
    if (res == NULL) {
        cdc_buf_free(&key);
        return cdc_err_wrap(err, "snapshot of %s.%s: its key ranges", rel->nspname,
                            rel->relname);
    }
    m = PQntuples(res);
    nch = (int) (want < m ? want : m);
    if (nch < 2) {
        PQclear(res);
        cdc_buf_free(&key);
        return 0;
    }
    /* chunk j ends at the sampled key j * m / nch (keys are unique: strictly increasing) */
    bounds = cdc_xcalloc((size_t) nch, sizeof(char *));
    for (int j = 1; j < nch; j++) {
        cdc_buf b = CDC_BUF_INIT;

        if (put_value(&b, conn, rel, idx, n, res, (int) ((int64_t) j * m / nch), err) < 0) {
            cdc_buf_free(&b);
            PQclear(res);
            cdc_buf_free(&key);
            snap_key_chunks_free(bounds, nch);
            return -1;
        }
        bounds[j - 1] = cdc_xstrdup(cdc_buf_str(&b));
        cdc_buf_free(&b);
    }
    PQclear(res);
    *conds = cdc_xcalloc((size_t) nch, sizeof(char *));
    *rests = cdc_xcalloc((size_t) nch, sizeof(char *));
    for (int i = 0; i < nch; i++) {
        cdc_buf c = CDC_BUF_INIT;

        if (i > 0)
            cdc_buf_printf(&c, "%s > %s", cdc_buf_str(&key), bounds[i - 1]);
        if (i + 1 < nch) {
            cdc_buf r = CDC_BUF_INIT;

            cdc_buf_printf(&c, "%s%s <= %s", i > 0 ? " AND " : "", cdc_buf_str(&key), bounds[i]);
            cdc_buf_printf(&r, "%s > %s", cdc_buf_str(&key), bounds[i]);
            (*rests)[i] = cdc_xstrdup(cdc_buf_str(&r));
            cdc_buf_free(&r);
        }
        (*conds)[i] = cdc_xstrdup(cdc_buf_str(&c));
        cdc_buf_free(&c);
    }
    snap_key_chunks_free(bounds, nch);
    log_info("snapshot", "table %s.%s: %d chunks by key range %s (from %d sampled keys)",
             rel->nspname, rel->relname, nch, cdc_buf_str(&key), m);
    cdc_buf_free(&key);
    return nch;
}

/* ---- the record's snap line ---- */

static json_t *
line_load(const agent_state *st)
{
    json_t *o = st->snap[0] ? json_loads(st->snap, 0, NULL) : NULL;

    if (o != NULL && !json_is_object(o)) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

/* Puts o in st (not saved); @returns 0, or -1 with err set when it does not fit. */
static int
line_put(agent_state *st, const char *line_name, char *dst, size_t dstsz, json_t *o,
         cdc_err *err)
{
    char *s = json_dumps(o, JSON_COMPACT);
    int   rc = 0;

    if (s == NULL || strlen(s) >= dstsz)
        rc = cdc_err_set(err, CDC_E_STATE, "state record %s: the %s line would be over %zu "
                         "bytes (too many tables, or too long keys)", st->path, line_name,
                         dstsz - 1);
    else
        snprintf(dst, dstsz, "%s", s);
    free(s);
    return rc;
}

static bool
listed(json_t *arr, const char *name)
{
    size_t  i;
    json_t *v;

    json_array_foreach(arr, i, v)
        if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
            return true;
    return false;
}

/* ---- progress during the snapshot ---- */

typedef struct snap_bound {
    char   *table;
    char   *rest;       /* NULL: the table is done */
    cdc_pos pos;        /* its last row's position */
    bool    known;      /* pos is set (the row is handed out) */
} snap_bound;

struct snap_resume {
    agent_state  *st;
    agent_router *router;
    json_t       *rec;
    char         *table;
    cdc_pos       last;         /* the last row handed out; {0,0}: none */
    snap_bound   *q;            /* chunks handed out, not yet durable everywhere */
    int           nq, capq;
    bool          failing;      /* a save failed: logged once */
};

snap_resume *
snap_resume_new(agent_state *st, agent_router *router, const cfg_source *src, uint64_t cp)
{
    snap_resume *r = cdc_xcalloc(1, sizeof(*r));
    json_t      *tabs = json_array();
    cdc_err      e = { 0 };

    r->st = st;
    r->router = router;
    for (int i = 0; i < src->ntables; i++)
        json_array_append_new(tabs, json_string(src->tables[i]));
    r->rec = json_pack("{s:I,s:o,s:[]}", "cp", (json_int_t) cp, "tables", tabs, "done");
    if (line_put(st, "snap", st->snap, sizeof(st->snap), r->rec, &e) < 0 ||
        agent_state_save(st, &e) < 0) {
        log_warn("snapshot", "%s: a crash during this snapshot will take it again whole", e.msg);
        r->failing = true;
    }
    return r;
}

void
snap_resume_free(snap_resume *r)
{
    if (r == NULL)
        return;
    for (int i = 0; i < r->nq; i++) {
        free(r->q[i].table);
        free(r->q[i].rest);
    }
    free(r->q);
    free(r->table);
    json_decref(r->rec);
    free(r);
}

void
snap_resume_table(snap_resume *r, const char *table)
{
    if (r == NULL)
        return;
    free(r->table);
    r->table = cdc_xstrdup(table);
}

void
snap_resume_chunk(snap_resume *r, const char *rest, bool row_pending)
{
    snap_bound *b;

    if (r == NULL || r->table == NULL)
        return;
    if (r->nq == r->capq) {
        r->capq = r->capq ? 2 * r->capq : 16;
        r->q = cdc_xrealloc(r->q, (size_t) r->capq * sizeof(*r->q));
    }
    b = &r->q[r->nq++];
    b->table = cdc_xstrdup(r->table);
    b->rest = rest ? cdc_xstrdup(rest) : NULL;
    b->pos = r->last;
    b->known = !row_pending;
}

void
snap_resume_emitted(snap_resume *r, cdc_pos pos)
{
    if (r == NULL)
        return;
    r->last = pos;
    for (int i = r->nq - 1; i >= 0 && !r->q[i].known; i--) {
        r->q[i].pos = pos;
        r->q[i].known = true;
    }
}

int
snap_resume_poll(snap_resume *r, cdc_err *err)
{
    cdc_pos durable = { UINT64_MAX, UINT64_MAX };
    int     n = 0;
    cdc_err e = { 0 };

    if (r == NULL || r->nq == 0)
        return 0;
    for (int i = 0; i < r->router->ndests; i++) {
        cdc_pos p = agent_wm_dest_pos(r->router->wm, i);

        if (cdc_pos_cmp(p, durable) < 0)
            durable = p;
    }
    for (; n < r->nq && r->q[n].known && cdc_pos_cmp(r->q[n].pos, durable) <= 0; n++) {
        snap_bound *b = &r->q[n];

        if (b->rest == NULL) {
            json_array_append_new(json_object_get(r->rec, "done"), json_string(b->table));
            json_object_del(r->rec, "table");
            json_object_del(r->rec, "rest");
        } else {
            json_object_set_new(r->rec, "table", json_string(b->table));
            json_object_set_new(r->rec, "rest", json_string(b->rest));
        }
        free(b->table);
        free(b->rest);
    }
    if (n == 0)
        return 0;
    memmove(r->q, r->q + n, (size_t) (r->nq - n) * sizeof(*r->q));
    r->nq -= n;
    if (line_put(r->st, "snap", r->st->snap, sizeof(r->st->snap), r->rec, &e) == 0 &&
        agent_state_save(r->st, &e) == 0)
        return 0;
    /* The record is what proves the snapshot: a destination that cannot say what it holds
       needs it (as at start); otherwise a crash just takes the snapshot again whole. */
    if (!r->failing)
        log_warn("snapshot", "%s: its progress is not recorded (a crash takes the snapshot "
                 "again whole)", e.msg);
    r->failing = true;
    (void) err;
    return 0;
}

/* ---- at start ---- */

/*
 * Adds tables (names[i], with the condition filters[i] or none) to the incremental
 * snapshot in st->incr: after the running one's tables, or as a new one named id.
 */
static int
incr_queue(agent_state *st, const char *id, const char *const *names,
           const char *const *filters, int n, cdc_err *err)
{
    json_t *o = st->incr[0] ? json_loads(st->incr, 0, NULL) : NULL;
    json_t *tabs;
    int     rc;

    if (o == NULL || !json_is_object(o)) {
        json_decref(o);
        o = json_pack("{s:[I,I]}", "signal", (json_int_t) 0, (json_int_t) 0);
    }
    tabs = json_object_get(o, "tables");
    if (!json_is_array(tabs) || json_array_size(tabs) == 0) {
        json_object_set_new(o, "id", json_string(id));
        json_object_set_new(o, "paused", json_false());
        json_object_set_new(o, "from", json_null());
        json_object_set_new(o, "max", json_null());
        tabs = json_array();
        json_object_set_new(o, "tables", tabs);
    }
    for (int i = 0; i < n; i++)
        json_array_append_new(tabs, filters[i]
                              ? json_pack("{s:s,s:s}", "table", names[i], "filter", filters[i])
                              : json_pack("{s:s}", "table", names[i]));
    rc = line_put(st, "incr", st->incr, sizeof(st->incr), o, err);
    json_decref(o);
    return rc;
}

static bool
signals_on(const cfg_source *src)
{
    return src->signal_data_collection != NULL && *src->signal_data_collection != '\0';
}

/*
 * Why the incremental snapshot's windows cannot be marked without a signal
 * table on conn's server, or NULL when they can: pgoutput sends logical
 * decoding messages from PostgreSQL 14 on, a standby cannot write them, and
 * the agent's user needs EXECUTE on pg_logical_emit_message (text content:
 * (boolean, text, text), and on 17+ its flush argument).  The reason is
 * written into buf.
 */
static const char *
no_msg_marks(PGconn *conn, char *buf, size_t bufsz)
{
    PGresult *res;
    bool      primary, can;

    if (conn == NULL || PQserverVersion(conn) < AGENT_INCR_MSG_MARKS_VERSION)
        return "before PostgreSQL 14, pgoutput sends no logical decoding messages";
    res = PQexec(conn, "SELECT pg_is_in_recovery(), coalesce(bool_and(has_function_privilege("
                       "p.oid, 'EXECUTE')), false), current_user, min(p.oid::regprocedure::text) "
                       "FROM pg_catalog.pg_proc p WHERE p.proname = 'pg_logical_emit_message' "
                       "AND p.pronamespace = 'pg_catalog'::regnamespace "
                       "AND p.proargtypes[2] = 'text'::regtype");
    primary = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
              strcmp(PQgetvalue(res, 0, 0), "f") == 0;
    can = primary && strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    if (primary && !can)
        snprintf(buf, bufsz, "the agent's user %s may not EXECUTE %s, the function that writes "
                 "them (GRANT EXECUTE ON FUNCTION %s TO %s allows it)", PQgetvalue(res, 0, 2),
                 PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 2));
    PQclear(res);
    if (!primary)
        return "the server is a standby (or did not answer pg_is_in_recovery()), where no "
               "logical decoding message can be written";
    return can ? NULL : buf;
}

int
agent_snapshot_resume(PGconn *conn, agent_capture *cap, const cfg_source *src, agent_state *st,
                      uint64_t confirmed, cdc_err *err)
{
    json_t      *rec;
    const char **names, **filters;
    const char  *cur, *rest, *why;
    int          n = 0, rc = 0;
    cdc_buf      list = CDC_BUF_INIT;
    char         id[64], whybuf[400];

    if (!st->loaded || st->snapshot != AGENT_SNAP_PENDING || st->cp == 0 ||
        confirmed > st->cp || (src->snapshot_mode != CFG_SNAPSHOT_INITIAL &&
                               src->snapshot_mode != CFG_SNAPSHOT_WHEN_NEEDED))
        return 0;
    rec = line_load(st);
    if (rec == NULL || (uint64_t) json_integer_value(json_object_get(rec, "cp")) != st->cp) {
        json_decref(rec);
        return 0;
    }
    if (!signals_on(src) && (why = no_msg_marks(conn, whybuf, sizeof(whybuf))) != NULL) {
        log_warn("agent", "slot %s: the initial snapshot did not finish; it cannot be resumed "
                 "without source.signal_data_collection (the rest is read with the incremental "
                 "snapshot's watermark windows, marked by rows of that table or, without it, by "
                 "logical decoding messages, and %s): the slot is dropped and the snapshot "
                 "taken again whole, rows already delivered arrive again; setting "
                 "source.signal_data_collection avoids this", src->slot_name, why);
        json_decref(rec);
        return 0;
    }
    cur = json_string_value(json_object_get(rec, "table"));
    rest = json_string_value(json_object_get(rec, "rest"));
    names = cdc_xcalloc((size_t) src->ntables + 1, sizeof(char *));
    filters = cdc_xcalloc((size_t) src->ntables + 1, sizeof(char *));
    for (int i = 0; i < src->ntables && rc == 0; i++) {
        char     schema[64], table[64];
        cdc_rel *rel;

        if (listed(json_object_get(rec, "done"), src->tables[i]))
            continue;
        if (agent_pg_split_table(src->tables[i], schema, table, err) < 0 ||
            (rel = agent_catalog_install(conn, agent_capture_relcache(cap), schema, table,
                                         err)) == NULL ||
            agent_capture_prepare_rel(cap, rel, err) < 0) {
            rc = cdc_err_wrap(err, "resuming the initial snapshot of slot %s", src->slot_name);
            break;
        }
        if (!snap_key_usable(rel)) {
            log_warn("agent", "slot %s: the initial snapshot did not finish, and table %s, not "
                     "yet delivered whole, has no primary key (nor a unique index on NOT NULL "
                     "columns): its rest cannot be read while streaming without delivering its "
                     "changes twice (no key tells a streamed row from a read one), so the slot "
                     "is dropped and the snapshot of every table taken again whole (rows already "
                     "delivered arrive again); a key on %s avoids this",
                     src->slot_name, src->tables[i], src->tables[i]);
            rc = 1;
            break;
        }
        names[n] = src->tables[i];
        filters[n] = cur && rest && strcmp(cur, src->tables[i]) == 0 ? rest : NULL;
        cdc_buf_printf(&list, "%s%s%s%s", n ? ", " : "", src->tables[i],
                       filters[n] ? " where " : "", filters[n] ? filters[n] : "");
        n++;
    }
    if (rc != 0) {
        free(names);
        free(filters);
        json_decref(rec);
        cdc_buf_free(&list);
        return rc < 0 ? -1 : 0;
    }
    snprintf(id, sizeof(id), "initial-resume-%" PRIx64, st->cp);
    if (n > 0)
        rc = incr_queue(st, id, names, filters, n, err);
    if (rc == 0) {
        json_t *tabs = json_object_get(rec, "tables");

        for (int i = 0; i < src->ntables; i++)
            if (json_is_array(tabs) && !listed(tabs, src->tables[i]))
                json_array_append_new(tabs, json_string(src->tables[i]));
        st->snapshot = AGENT_SNAP_DELIVERED;
        rc = line_put(st, "snap", st->snap, sizeof(st->snap), rec, err);
    }
    if (rc == 0 && agent_state_save(st, err) < 0)
        rc = cdc_err_wrap(err, "resuming the initial snapshot");
    if (rc == 0)
        log_warn("agent", "slot %s: the initial snapshot at " CDC_LSN_FMT " did not finish; "
                 "resuming it: streaming from the slot, and reading what no destination made "
                 "durable as incremental snapshot %s (op r, interleaved with the changes): %s. "
                 "Rows of the chunks emitted but not durable at the stop arrive a second time; "
                 "window markers: %s",
                 src->slot_name, CDC_LSN_ARGS(st->cp), id,
                 n ? cdc_buf_str(&list) : "nothing left",
                 signals_on(src) ? "rows of source.signal_data_collection" :
                 "logical decoding messages (no signal table)");
    free(names);
    free(filters);
    json_decref(rec);
    cdc_buf_free(&list);
    return rc < 0 ? -1 : 1;
}

int
agent_snapshot_added_tables(PGconn *conn, const cfg_source *src, agent_state *st, cdc_err *err)
{
    json_t      *rec, *tabs;
    const char **names, *why;
    int          n = 0, rc = 0;
    char         id[64], whybuf[400];

    if (!st->loaded || st->snapshot != AGENT_SNAP_DELIVERED ||
        src->snapshot_mode == CFG_SNAPSHOT_NEVER)
        return 0;
    rec = line_load(st);
    tabs = rec ? json_object_get(rec, "tables") : NULL;
    if (!json_is_array(tabs)) {
        /* A record from before the agent listed its snapshot's tables: start the list. */
        json_decref(rec);
        tabs = json_array();
        for (int i = 0; i < src->ntables; i++)
            json_array_append_new(tabs, json_string(src->tables[i]));
        rec = json_pack("{s:I,s:o}", "cp", (json_int_t) st->cp, "tables", tabs);
        rc = line_put(st, "snap", st->snap, sizeof(st->snap), rec, err);
        json_decref(rec);
        return rc;
    }
    names = cdc_xcalloc((size_t) src->ntables + 1, sizeof(char *));
    for (int i = 0; i < src->ntables; i++)
        if (!listed(tabs, src->tables[i]))
            names[n++] = src->tables[i];
    snprintf(id, sizeof(id), "added-tables-%" PRIx64, (uint64_t) cdc_wall_us());
    why = n == 0 || signals_on(src) ? NULL : no_msg_marks(conn, whybuf, sizeof(whybuf));
    for (int i = 0; i < n && rc == 0; i++) {
        const char *none = NULL;

        if (why == NULL) {
            rc = incr_queue(st, id, &names[i], &none, 1, err);
            if (rc == 0)
                log_info("agent", "table %s was added to source.tables after slot %s's "
                         "snapshot: reading it by itself as incremental snapshot %s while the "
                         "other tables stream", names[i], src->slot_name, id);
        } else {
            log_warn("agent", "table %s was added to source.tables after slot %s's snapshot: "
                     "it is not snapshotted (only its changes from now on are captured): its "
                     "incremental snapshot needs source.signal_data_collection for its window "
                     "markers, as %s", names[i], src->slot_name, why);
        }
        if (rc == 0)
            json_array_append_new(tabs, json_string(names[i]));
    }
    if (rc == 0 && n > 0)
        rc = line_put(st, "snap", st->snap, sizeof(st->snap), rec, err);
    if (rc == 0 && n > 0 && agent_state_save(st, err) < 0)
        rc = cdc_err_wrap(err, "recording the tables added to source.tables");
    free(names);
    json_decref(rec);
    return rc;
}
