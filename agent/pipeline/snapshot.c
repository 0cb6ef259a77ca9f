#include "agent/pipeline/snapshot.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/source/catalog.h"
#include "agent/core/cdc_arena.h"
#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_lsn.h"
#include "agent/core/net/pgconn.h"
#include "agent/pipeline/snapshot_par.h"
#include "agent/pipeline/snapshot_progress.h"
#include "agent/pipeline/snapshot_resume.h"
#include "agent/source/pg_source.h"
#include "agent/source/slot_warn.h"
#include "decoder/values.h"

/* One decoded row waiting for the next, so the last row of the snapshot can be marked. */
typedef struct snap_state {
    agent_capture *cap;
    cdc_arena     *arenas[2];
    int            cur;
    bool           have_pending;
    cdc_event      pending;
    bool           pending_first_table;     /* the pending row belongs to the first table */
    bool           pending_first_in_table;
    bool           pending_last_in_table;   /* set when its table ended after it */
    int            table;                   /* index of the table being read */
    uint64_t       table_rows;              /* rows read from it so far */
    uint64_t       cp;
    uint64_t       rows;
    snap_par      *par;                     /* snapshot_max_threads > 1: the workers */
    cdc_arena     *kept;                    /* par: the arena of the pending row's chunk */
    snap_progress *prog;
    int64_t        chunk_bytes;             /* table pages per parallel chunk */
    snap_resume   *resume;                  /* durable chunks into the record; NULL: none */
    const char *const *conds;               /* per table: ANDed to its rows; NULL: none */
} snap_state;

/* Undoes COPY's text-format escaping of one field into out; returns its length. */
static size_t
copy_unescape(const char *s, size_t n, char *out)
{
    size_t      o = 0;
    const char *bs = memchr(s, '\\', n);

    if (bs == NULL) {       /* the usual field: nothing escaped */
        memcpy(out, s, n);
        return n;
    }
    o = (size_t) (bs - s);
    memcpy(out, s, o);
    for (size_t i = o; i < n; i++) {
        char c = s[i];

        if (c != '\\' || i + 1 >= n) {
            out[o++] = c;
            continue;
        }
        c = s[++i];
        switch (c) {
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'v': out[o++] = '\v'; break;
        case 'x': {
            int v = 0, k = 0;

            while (k < 2 && i + 1 < n && cdc_hexval(s[i + 1]) >= 0)
                v = v * 16 + cdc_hexval(s[++i]), k++;
            out[o++] = k ? (char) v : 'x';
            break;
        }
        default:
            if (c >= '0' && c <= '7') {
                int v = c - '0', k = 1;

                while (k < 3 && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '7')
                    v = v * 8 + (s[++i] - '0'), k++;
                out[o++] = (char) v;
            } else {
                out[o++] = c;
            }
        }
    }
    return o;
}

/* What decoding a table's rows needs: read-only while the table is read (worker threads). */
typedef struct row_ctx {
    const cdc_rel       *rel;
    const pgo_type_opts *topts;
} row_ctx;

/* Decodes one COPY text row of rel into values in arena a (snap_par_decode_fn). */
static cdc_value *
decode_row(const void *ctx, const char *row, size_t len, cdc_arena *a, cdc_err *err)
{
    const cdc_rel       *rel = ((const row_ctx *) ctx)->rel;
    const pgo_type_opts *topts = ((const row_ctx *) ctx)->topts;
    cdc_value           *vals = cdc_arena_zalloc(a, sizeof(cdc_value) * (size_t) (rel->ncols ? rel->ncols : 1));
    const char          *p = row, *end = row + len;
    /* The fields' text, unescaped and each ended by a NUL, one after another: a field is
       never longer unescaped, and its tab or the row's end makes room for its NUL. One
       allocation a row, not one a field (the parallel readers hold many rows). */
    char                *text = cdc_arena_alloc(a, len + 1);
    int                  col = 0;

    if (len > 0 && end[-1] == '\n')
        end--;
    while (col < rel->ncols) {
        const char *f = p;
        size_t      flen;

        while (p < end && *p != '\t')
            p++;
        flen = (size_t) (p - f);
        if (!(flen == 2 && f[0] == '\\' && f[1] == 'N') && rel->cols[col].ctype.supported) {
            flen = copy_unescape(f, flen, text);
            text[flen] = '\0';
            /* text is in a, as the values are: they may point into it. */
            if (pgo_value_from_text_borrow(&rel->cols[col], text, flen, topts, a, &vals[col],
                                           err) < 0) {
                cdc_err_wrap(err, "snapshot of table %s.%s", rel->nspname, rel->relname);
                return NULL;
            }
            text += flen + 1;
        }
        col++;
        if (p < end)
            p++;
        else
            break;
    }
    if (col != rel->ncols || p != end) {
        cdc_err_set(err, CDC_E_PROTO, "table %s.%s: COPY row has a different number of columns "
                    "than the table (%d)", rel->nspname, rel->relname, rel->ncols);
        return NULL;
    }
    pgo_utf8_check_row(rel, vals);  /* a SQL_ASCII database: warn and count (values_utf8.c) */
    return vals;
}

/*
 * Debezium's markers (RelationalSnapshotChangeEventSource.setSnapshotMarker),
 * in its order of precedence: the last row of the snapshot is "last", the
 * first row of the first table "first", then the last and first rows of
 * every table "last_in_data_collection" / "first_in_data_collection".
 */
static const char *
marker_for(const snap_state *st, bool last_overall)
{
    if (last_overall)
        return "last";
    if (st->pending_first_table && st->pending_first_in_table)
        return "first";
    if (st->pending_last_in_table)
        return "last_in_data_collection";
    if (st->pending_first_in_table)
        return "first_in_data_collection";
    return "true";
}

static int
flush_pending(snap_state *st, bool last_overall, cdc_err *err)
{
    int rc;

    if (!st->have_pending)
        return 0;
    st->pending.snapshot = marker_for(st, last_overall);
    rc = agent_capture_emit(st->cap, &st->pending, err);
    if (rc == 0)
        snap_resume_emitted(st->resume, st->pending.pos);
    st->have_pending = false;
    cdc_arena_reset(st->arenas[1 - st->cur]);
    if (rc == 0 && ++st->rows % 1000 == 0) {
        rc = agent_router_poll(agent_capture_router(st->cap), err);
        if (rc == 0)
            rc = snap_progress_service(st->prog, err);
        snap_progress_rows(st->prog, st->rows);
    }
    return rc;
}

/* Makes rel's row vals the pending event (the one before it was emitted). */
static void
set_pending(snap_state *st, cdc_rel *rel, int64_t ts_us, cdc_value *vals)
{
    st->pending_first_table = st->table == 0;
    st->pending_first_in_table = st->table_rows++ == 0;
    st->pending_last_in_table = false;
    memset(&st->pending, 0, sizeof(st->pending));
    st->pending.op = CDC_OP_READ;
    st->pending.rel = rel;
    st->pending.lsn = st->cp;
    st->pending.source_ts_us = ts_us;
    st->pending.after = vals;
    st->pending.key = vals;
    st->have_pending = true;
}

/*
 * Decodes one COPY text row and makes it the pending event, emitting the one
 * before it.  @returns 0 or -1 with err set.
 */
static int
take_row(snap_state *st, cdc_rel *rel, int64_t ts_us, const char *row, size_t n, cdc_err *err)
{
    row_ctx    rc = { rel, agent_capture_type_opts(st->cap) };
    cdc_value *vals = decode_row(&rc, row, n, st->arenas[st->cur], err);

    if (vals == NULL || flush_pending(st, false, err) < 0)
        return -1;
    set_pending(st, rel, ts_us, vals);
    st->cur = 1 - st->cur;
    return 0;
}

/*
 * take_row for a row a worker decoded into arena a: the arena of the row
 * before it is given back once that row is emitted, if it is another.
 */
static int
take_decoded(snap_state *st, cdc_rel *rel, int64_t ts_us, cdc_value *vals, cdc_arena *a,
             cdc_err *err)
{
    if (flush_pending(st, false, err) < 0)
        return -1;
    if (st->kept != a) {
        snap_par_recycle(st->par, st->kept);
        st->kept = a;
    }
    set_pending(st, rel, ts_us, vals);
    return 0;
}

/* "COPY (SELECT <columns> FROM <table>", without the closing part. */
static void
copy_head(cdc_buf *q, PGconn *conn, snap_state *st, const cdc_rel *rel)
{
    char        ident[300];
    const char *where = cfg_row_filter(&agent_capture_config(st->cap)->pipeline.source,
                                       rel->nspname, rel->relname);

    cdc_buf_puts(q, "COPY (SELECT ");
    for (int i = 0; i < rel->ncols; i++)   /* a filtered column (issue 24) is not read */
        cdc_buf_printf(q, "%s%s", i ? ", " : "", rel->cols[i].filtered ? "NULL" :
                       agent_pg_quote_ident(conn, rel->cols[i].name, ident, sizeof(ident)));
    cdc_buf_printf(q, " FROM %s",
                   agent_pg_quote_table(rel->nspname, rel->relname, ident, sizeof(ident)));
    /* the publication's row filter of the table, on the snapshot too; the parallel reader
       ANDs its ctid range to it */
    cdc_buf_printf(q, " WHERE (%s)", where ? where : "true");
    if (st->conds && st->conds[st->table])
        cdc_buf_printf(q, " AND (%s)", st->conds[st->table]);
}

static int
copy_table(snap_state *st, PGconn *conn, cdc_rel *rel, int64_t ts_us,
           volatile sig_atomic_t *stop, cdc_err *err)
{
    cdc_buf   q = CDC_BUF_INIT;
    PGresult *res;
    char     *row = NULL;
    int       n, rc = -1;

    copy_head(&q, conn, st, rel);
    cdc_buf_puts(&q, ") TO STDOUT");
    res = PQexec(conn, cdc_buf_str(&q));
    if (PQresultStatus(res) != PGRES_COPY_OUT) {
        cdc_err_set(err, CDC_E_PG, "snapshot of %s.%s: %s", rel->nspname, rel->relname,
                    PQresultErrorMessage(res));
        PQclear(res);
        goto out;
    }
    PQclear(res);
    while ((n = PQgetCopyData(conn, &row, 0)) > 0) {
        int trc = take_row(st, rel, ts_us, row, (size_t) n, err);

        PQfreemem(row);
        if (trc < 0 || *stop)
            goto drain;
    }
    if (n == -2) {
        cdc_err_set(err, CDC_E_CONN, "snapshot of %s.%s: %s", rel->nspname, rel->relname,
                    PQerrorMessage(conn));
        goto out;
    }
    res = PQgetResult(conn);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        cdc_err_set(err, CDC_E_PG, "snapshot of %s.%s: %s", rel->nspname, rel->relname,
                    PQresultErrorMessage(res));
    else
        rc = 0;
    PQclear(res);
    goto out;
drain:
    /* Leave the connection usable: cancel the COPY and swallow what is in flight. */
    {
        PGcancel *c = PQgetCancel(conn);
        char      ebuf[128];

        if (c) {
            PQcancel(c, ebuf, sizeof(ebuf));
            PQfreeCancel(c);
        }
        while ((n = PQgetCopyData(conn, &row, 0)) > 0)
            PQfreemem(row);
        while ((res = PQgetResult(conn)) != NULL)
            PQclear(res);
        if (*stop && (err == NULL || err->code == CDC_OK))
            rc = 1;
    }
out:
    cdc_buf_free(&q);
    return rc;
}

/*
 * The table's pages now (never fewer than at the snapshot: VACUUM keeps what it shows), and
 * the pages a chunk reads: snapshot_chunk_mb of them, or fewer where the rows would decode to
 * more than SNAP_PAR_CHUNK_DECODED (docs/snapshots.md, "Memory").  A decoded row is a value
 * per column, a pointer, and its text (about its share of the page, taken as 1.5 times for the
 * text form's longer numbers and dates).  Rows per page come from the statistics, or, for a
 * table never analyzed, as if every column were 8 bytes wide: narrow rows decode to the most.
 */
static int
table_pages(PGconn *conn, const cdc_rel *rel, int64_t chunk_bytes, int64_t *pages,
            int64_t *chunk_pages, cdc_err *err)
{
    char        oid[16];
    const char *params[] = { oid };
    PGresult   *res;
    int64_t     bs, cap;
    double      tuples, relpages, per_page, per_row;

    snprintf(oid, sizeof(oid), "%u", rel->relid);
    res = agent_pg_query(conn, "SELECT pg_relation_size(c.oid), current_setting('block_size')::int8, "
                         "c.reltuples, c.relpages FROM pg_class c WHERE c.oid = $1::oid",
                         1, params, "snapshot", err);
    if (res == NULL)
        return cdc_err_wrap(err, "the size of table %s.%s", rel->nspname, rel->relname);
    if (PQntuples(res) != 1) {
        PQclear(res);
        return cdc_err_set(err, CDC_E_PG, "the size of table %s.%s: it is gone (oid %s)",
                           rel->nspname, rel->relname, oid);
    }
    bs = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    if (bs <= 0)
        bs = 8192;
    *pages = strtoll(PQgetvalue(res, 0, 0), NULL, 10) / bs;
    tuples = strtod(PQgetvalue(res, 0, 2), NULL);
    relpages = strtod(PQgetvalue(res, 0, 3), NULL);
    PQclear(res);
    per_page = tuples > 0 && relpages > 0 ? tuples / relpages
                                          : (double) bs / (28.0 + 8.0 * rel->ncols);
    per_row = (double) rel->ncols * sizeof(cdc_value) + sizeof(cdc_value *) + 32.0;
    cap = (int64_t) ((double) SNAP_PAR_CHUNK_DECODED / (per_page * per_row + 1.5 * (double) bs));
    *chunk_pages = chunk_bytes / bs > 0 ? chunk_bytes / bs : 1;
    if (cap < 1)
        cap = 1;
    if (cap < *chunk_pages) {
        log_info("snapshot", "table %s.%s: chunks of %" PRId64 " pages rather than %" PRId64
                 " (source.snapshot_chunk_mb): about %.0f rows a page would decode to more "
                 "than %zu MiB a chunk", rel->nspname, rel->relname, cap, *chunk_pages,
                 per_page, SNAP_PAR_CHUNK_DECODED >> 20);
        *chunk_pages = cap;
    }
    return 0;
}

/*
 * copy_table with the workers: chunks of key ranges (a table with a usable key:
 * snapshot_resume.h), else of ctid ranges, their rows taken in chunk order.
 */
static int
copy_table_par(snap_state *st, PGconn *conn, cdc_rel *rel, int64_t ts_us,
               volatile sig_atomic_t *stop, cdc_err *err)
{
    cdc_buf     q = CDC_BUF_INIT;
    char        name[300];
    int64_t     pages = 0, chunk_pages = 1;
    row_ctx     rctx = { rel, agent_capture_type_opts(st->cap) };
    snap_rows   r = { 0 };
    char      **conds = NULL, **rests = NULL;
    int         rc, nkc;

    if (table_pages(conn, rel, st->chunk_bytes, &pages, &chunk_pages, err) < 0)
        return -1;
    copy_head(&q, conn, st, rel);
    snprintf(name, sizeof(name), "%s.%s", rel->nspname, rel->relname);
    nkc = snap_key_chunks(conn, rel, cfg_row_filter(&agent_capture_config(st->cap)->pipeline.source,
                                                    rel->nspname, rel->relname),
                          pages, (pages + chunk_pages - 1) / chunk_pages, &conds, &rests, err);
    if (nkc < 0) {
        cdc_buf_free(&q);
        return -1;
    }
    if (nkc > 0)
        snap_par_table_conds(st->par, name, cdc_buf_str(&q), conds, nkc, decode_row, &rctx);
    else
        snap_par_table(st->par, name, cdc_buf_str(&q), pages, chunk_pages, decode_row, &rctx);
    cdc_buf_free(&q);
    while ((rc = snap_par_next(st->par, &r, stop, err)) == 1 || rc == 3) {
        int64_t held = snap_par_held(st->par);

        if (rc == 3) {      /* waiting for a chunk: destinations and progress go on */
            if (agent_router_poll(agent_capture_router(st->cap), err) < 0 ||
                snap_progress_service(st->prog, err) < 0 ||
                snap_resume_poll(st->resume, err) < 0) {
                rc = -1;
                break;
            }
            snap_progress_rows(st->prog, st->rows + st->have_pending);
            continue;
        }

        for (size_t i = 0; i < r.n; i++) {
            if (take_decoded(st, rel, ts_us, r.rows[i], r.arena, err) < 0) {
                rc = -1;
                goto out;
            }
            if (*stop) {
                rc = 2;
                goto out;
            }
        }
        if (r.arena != st->kept)    /* no row of it is held back */
            snap_par_recycle(st->par, r.arena);
        r.arena = NULL;
        /* A key range's rows are all handed out: the rows after it are the rest. */
        if (rests && held >= 0 && held < nkc && rests[held])
            snap_resume_chunk(st->resume, rests[held], st->have_pending);
        if (snap_resume_poll(st->resume, err) < 0) {
            rc = -1;
            break;
        }
    }
out:
    if (r.arena != st->kept)
        snap_par_recycle(st->par, r.arena);
    snap_key_chunks_free(conds, nkc);
    snap_key_chunks_free(rests, nkc);
    return rc == 2 ? 1 : rc;
}

static int
read_int8(PGconn *conn, const char *sql, int64_t *out, cdc_err *err)
{
    PGresult *res = agent_pg_query(conn, sql, 0, NULL, "snapshot", err);

    if (res == NULL)
        return -1;
    *out = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return 0;
}

static int
snapshot_tables(snap_state *st, PGconn *conn, const cfg_source *src, volatile sig_atomic_t *stop,
                cdc_err *err)
{
    for (int i = 0; i < src->ntables; i++) {
        char     schema[64], table[64];
        int64_t  ts_us;
        cdc_rel *rel;
        int      rc;

        if (agent_pg_split_table(src->tables[i], schema, table, err) < 0)
            return -1;
        rel = agent_catalog_install(conn, agent_capture_relcache(st->cap), schema, table, err);
        if (rel == NULL || agent_capture_prepare_rel(st->cap, rel, err) < 0)
            return -1;
        if (read_int8(conn, "SELECT (extract(epoch FROM current_timestamp) * 1000000)::int8",
                      &ts_us, err) < 0)
            return -1;
        st->table = i;
        st->table_rows = 0;
        snap_progress_table(st->prog, i, src->tables[i]);
        snap_resume_table(st->resume, src->tables[i]);
        rc = st->par ? copy_table_par(st, conn, rel, ts_us, stop, err)
                     : copy_table(st, conn, rel, ts_us, stop, err);
        if (rc != 0)
            return rc;
        if (st->table_rows > 0)
            st->pending_last_in_table = true;
        snap_resume_chunk(st->resume, NULL, st->have_pending);
        if (snap_resume_poll(st->resume, err) < 0)
            return -1;
        snap_progress_table_done(st->prog, st->table_rows, st->rows + st->have_pending);
    }
    return 0;
}

/*
 * Rows the snapshot expects, from pg_class.reltuples (the partitions' for a
 * partitioned table): to_regclass, so that a missing table does not abort the
 * snapshot's transaction here (it is reported where it is read).
 */
static uint64_t
rows_estimated(PGconn *conn, const cfg_source *src)
{
    const char *sql = PQserverVersion(conn) >= 120000
        ? "SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::int8 FROM pg_class c "
          "WHERE c.oid = to_regclass($1) "
          "OR c.oid IN (SELECT relid FROM pg_partition_tree(to_regclass($1)))"
        : "SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::int8 FROM pg_class c "
          "WHERE c.oid = to_regclass($1)";
    uint64_t    n = 0;

    for (int i = 0; i < src->ntables; i++) {
        char        schema[64], table[64], q[300];
        const char *params[1] = { q };
        PGresult   *res;
        cdc_err     e = { 0 };

        if (agent_pg_split_table(src->tables[i], schema, table, &e) < 0)
            continue;
        agent_pg_quote_table(schema, table, q, sizeof(q));
        res = agent_pg_query(conn, sql, 1, params, "snapshot estimate", &e);
        if (res == NULL)
            return n;
        n += strtoull(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
    }
    return n;
}

/*
 * Starts snapshot_max_threads workers in the snapshot conn's transaction
 * holds (the slot's, or one it exports when there is none).  Before
 * PostgreSQL 14 a ctid range is a whole-table scan per chunk: one COPY then.
 */
static int
start_workers(snap_state *st, PGconn *conn, const cfg_source *src, const char *snapshot_name,
              cdc_err *err)
{
    char exported[128];

    if (PQserverVersion(conn) < 140000) {
        log_warn("snapshot", "source.snapshot_max_threads %d: PostgreSQL %d has no TID range "
                 "scan (14 or newer), so each table is read with one COPY",
                 src->snapshot_max_threads, PQserverVersion(conn) / 10000);
        return 0;
    }
    if (snapshot_name == NULL || *snapshot_name == '\0') {
        PGresult *res = agent_pg_query(conn, "SELECT pg_export_snapshot()", 0, NULL,
                                       "exporting the snapshot for the workers", err);

        if (res == NULL)
            return -1;
        snprintf(exported, sizeof(exported), "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
        snapshot_name = exported;
    }
    st->chunk_bytes = (int64_t) src->snapshot_chunk_mb << 20;
    st->par = snap_par_start(src, snapshot_name, src->snapshot_max_threads, err);
    return st->par ? 0 : -1;
}

int
agent_snapshot_run(agent_capture *cap, PGconn *conn, const cfg_source *src,
                   const char *snapshot_name, uint64_t cp, volatile sig_atomic_t *stop,
                   const agent_snapshot_env *env, cdc_err *err)
{
    return agent_snapshot_run_where(cap, conn, src, snapshot_name, cp, stop, env, NULL, err);
}

int
agent_snapshot_run_where(agent_capture *cap, PGconn *conn, const cfg_source *src,
                         const char *snapshot_name, uint64_t cp, volatile sig_atomic_t *stop,
                         const agent_snapshot_env *env, const char *const *conds, cdc_err *err)
{
    snap_state st = { .cap = cap, .cp = cp, .conds = conds };
    char       sql[200];
    int64_t    xid, ts_us;
    int        rc = -1;

    st.arenas[0] = cdc_arena_new(64 * 1024);
    st.arenas[1] = cdc_arena_new(64 * 1024);
    if (agent_pg_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ", "snapshot", err) < 0)
        goto out;
    if (snapshot_name && *snapshot_name) {
        snprintf(sql, sizeof(sql), "SET TRANSACTION SNAPSHOT '%s'", snapshot_name);
        if (agent_pg_exec(conn, sql, "importing the slot's snapshot", err) < 0)
            goto out;
    }
    if (src->snapshot_max_threads > 1 && start_workers(&st, conn, src, snapshot_name, err) < 0)
        goto out;
    /* A standby assigns no transaction ids: the oldest one the snapshot sees stands in. */
    if (read_int8(conn, "SELECT CASE WHEN pg_is_in_recovery() THEN "
                        "txid_snapshot_xmin(txid_current_snapshot()) ELSE txid_current() END",
                  &xid, err) < 0 ||
        read_int8(conn, "SELECT (extract(epoch FROM current_timestamp) * 1000000)::int8", &ts_us,
                  err) < 0)
        goto out;
    log_info("snapshot", "reading %d tables at " CDC_LSN_FMT " (snapshot %s, xid %lld, "
             "%d thread%s)", src->ntables, CDC_LSN_ARGS(cp),
             snapshot_name && *snapshot_name ? snapshot_name : "-", (long long) xid,
             st.par ? src->snapshot_max_threads : 1, st.par ? "s" : "");
    /*
     * Snapshot rows are positioned just before the consistent point: a
     * transaction whose commit record starts exactly there is streamed
     * afterwards and must not share the snapshot's positions.
     */
    if (agent_capture_txn_begin(cap, (uint32_t) xid, cp - 1, ts_us, err) < 0)
        goto out;
    st.prog = snap_progress_new(env, src, src->ntables, rows_estimated(conn, src));
    if (env && env->state)
        st.resume = snap_resume_new(env->state, agent_capture_router(cap), src, cp);
    rc = snapshot_tables(&st, conn, src, stop, err);
    if (rc == 0 && flush_pending(&st, true, err) < 0)
        rc = -1;
    if (rc == 0 && agent_capture_txn_commit(cap, cp, err) < 0)
        rc = -1;
    if (rc == 0)
        log_info("snapshot", "done: %llu rows", (unsigned long long) st.rows);
out:
    {
        cdc_err ignored;

        agent_pg_exec(conn, rc == 0 ? "COMMIT" : "ROLLBACK", "snapshot", &ignored);
    }
    if (st.par)
        snap_par_recycle(st.par, st.kept);
    snap_par_free(st.par);
    snap_resume_free(st.resume);
    snap_progress_end(st.prog, rc == 0 ? "done" : rc == 1 ? "stopped" : "failed", st.rows);
    cdc_arena_free(st.arenas[0]);
    cdc_arena_free(st.arenas[1]);
    return rc;
}

static bool
snapshot_wanted(const cfg_source *src)
{
    return src->snapshot_mode != CFG_SNAPSHOT_NEVER;
}

int
agent_snapshot_plan(const cfg_source *src, const agent_slot_facts *f, agent_slot_plan *plan,
                    cdc_err *err)
{
    bool when_needed = src->snapshot_mode == CFG_SNAPSHOT_WHEN_NEEDED;

    *plan = AGENT_SLOT_STREAM;
    if (f->exists && f->lost) {
        char why[400];

        agent_slot_invalid_cause(f->invalid_reason, why, sizeof(why));
        if (!when_needed)
            return cdc_err_set(err, CDC_E_STATE, "slot %s was invalidated by PostgreSQL "
                               "(%s) and the changes it kept are gone; to recover, drop the slot "
                               "(cdcagent slot drop --yes) and start again with snapshot_mode "
                               "when_needed", src->slot_name, why);
        log_warn("agent", "slot %s was invalidated (%s) and the changes it kept "
                 "are gone; snapshot_mode when_needed: dropping the slot and taking a new "
                 "snapshot (rows already delivered arrive again as op r)", src->slot_name, why);
        *plan = AGENT_SLOT_RECREATE;
        return 0;
    }
    if (f->exists) {
        /*
         * A slot no destination has anything from, under a mode that takes a
         * snapshot: the run that created it stopped before the first
         * snapshot row was durable.  Streaming from it would skip the
         * snapshot; nothing is held anywhere, so taking it again loses and
         * duplicates nothing.
         */
        if (snapshot_wanted(src) && src->snapshot_mode != CFG_SNAPSHOT_ALWAYS &&
            f->dests_remember && f->held_lsn == 0 && !f->held_foreign) {
            log_warn("agent", "slot %s exists but no destination holds any event: the snapshot "
                     "was never delivered (an earlier run stopped before its first row was "
                     "durable); dropping the slot and taking the snapshot again",
                     src->slot_name);
            *plan = AGENT_SLOT_RECREATE;
            return 0;
        }
        /* always reads every table again anyway, after the changes the slot holds. */
        if (snapshot_wanted(src) && f->snapshot_unproven &&
            src->snapshot_mode != CFG_SNAPSHOT_ALWAYS) {
            /*
             * Snapshot rows are not in the WAL: the slot cannot send again the
             * ones a destination never made durable, so the only way to deliver
             * them is a new snapshot on a new slot.  Destinations that have some
             * of them get them again (jsonl: a second line; PostgreSQL: the same
             * upsert; webhook: a new Idempotency-Key, the positions being new).
             */
            log_warn("agent", "slot %s: %s; dropping the slot and taking the snapshot again: "
                     "rows already delivered arrive a second time (op r)", src->slot_name,
                     f->snapshot_unproven);
            *plan = AGENT_SLOT_RECREATE;
            return 0;
        }
        return 0;
    }
    *plan = AGENT_SLOT_CREATE;
    if (f->held_lsn == 0 && !f->held_foreign)
        return 0;
    /* No slot, but a destination holds events: the slot was dropped behind our back. */
    if (!when_needed)
        return cdc_err_set(err, CDC_E_STATE, "slot %s does not exist, but destination %s holds "
                           "events up to " CDC_LSN_FMT ": the slot was dropped and the changes "
                           "since are lost; not starting over silently: set snapshot_mode "
                           "when_needed to take a new snapshot, or empty the destinations",
                           src->slot_name, f->held_by ? f->held_by : "?",
                           CDC_LSN_ARGS(f->held_lsn));
    log_warn("agent", "slot %s does not exist, but destination %s holds events up to "
             CDC_LSN_FMT ": the slot was dropped and changes since are lost; snapshot_mode "
             "when_needed: creating it and taking a new snapshot (rows already delivered "
             "arrive again as op r)", src->slot_name, f->held_by ? f->held_by : "?",
             CDC_LSN_ARGS(f->held_lsn));
    return 0;
}

/* A jsonl file reports what it holds; stdout and pipes cannot. */
static bool
jsonl_remembers(const cfg_jsonl *j)
{
    struct stat st;

    if (j->path == NULL || strcmp(j->path, "-") == 0)
        return false;
    return stat(j->path, &st) != 0 || S_ISREG(st.st_mode);
}

bool
agent_snapshot_dest_remembers(const cdc_config *cfg, const char *id)
{
    const cfg_pipeline *pl = &cfg->pipeline;

    if (cfg->platform.transport_mode != CFG_TRANSPORT_DIRECT)
        return false;
    for (int i = 0; i < pl->nsinks; i++) {
        const cfg_sink *s = &pl->sinks[i];

        if (s->enabled && s->sink_id && strcmp(s->sink_id, id) == 0)
            return s->sink_type == CFG_SINK_JSONL ? jsonl_remembers(&s->jsonl)
                                                  : s->sink_type == CFG_SINK_POSTGRES;
    }
    return false;
}

const char *
agent_snapshot_unproven(const cfg_source *src, const agent_state *st, uint64_t confirmed,
                        bool dests_remember, bool all_hold_last, char *buf, size_t bufsz)
{
    if (!snapshot_wanted(src))
        return NULL;
    if (!st->loaded) {
        /*
         * No record: the first start after upgrading from a version that kept
         * none, or agent.state_dir is not persistent.  Destinations that all
         * report what they hold vouch for it.  Otherwise only when_needed
         * retakes it: dropping the slot loses the changes it holds (deletes
         * would never reach the receiver), so under every other mode the
         * caller warns and streams on, as the versions before the record did.
         */
        if (dests_remember || src->snapshot_mode != CFG_SNAPSHOT_WHEN_NEEDED)
            return NULL;
        snprintf(buf, bufsz, "there is no record of its snapshot (%s), so nothing proves that "
                 "every destination received it (a webhook or stdout cannot say what it holds; "
                 "keep agent.state_dir on persistent storage); snapshot_mode when_needed",
                 st->path);
        return buf;
    }
    if (st->snapshot != AGENT_SNAP_PENDING)
        return NULL;
    if (st->cp != 0 && confirmed > st->cp)
        return NULL;
    if (st->cp != 0 && dests_remember && all_hold_last)
        return NULL;
    snprintf(buf, bufsz, "the previous run stopped before every destination had made the "
             "snapshot durable (record %s: snapshot at %X/%X pending, slot confirmed at %X/%X)",
             st->path, CDC_LSN_ARGS(st->cp), CDC_LSN_ARGS(confirmed));
    return buf;
}

bool
agent_snapshot_dests_remember(const cdc_config *cfg)
{
    const cfg_pipeline *pl = &cfg->pipeline;

    if (cfg->platform.transport_mode != CFG_TRANSPORT_DIRECT)
        return cfg->platform.transport_mode == CFG_TRANSPORT_KAFKA;
    for (int i = 0; i < pl->nsinks; i++) {
        const cfg_sink *s = &pl->sinks[i];

        if (!s->enabled)
            continue;
        if (s->sink_type == CFG_SINK_JSONL ? !jsonl_remembers(&s->jsonl)
                                           : s->sink_type != CFG_SINK_POSTGRES)
            return false;
    }
    return true;
}
