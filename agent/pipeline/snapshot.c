#include "agent/pipeline/snapshot.h"

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
#include "agent/source/pg_source.h"
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
} snap_state;

/* Undoes COPY's text-format escaping of one field into out; returns its length. */
static size_t
copy_unescape(const char *s, size_t n, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
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

/* Decodes one COPY text row of rel into values in arena a. */
static cdc_value *
decode_row(snap_state *st, const cdc_rel *rel, const char *row, size_t len, cdc_arena *a,
           cdc_err *err)
{
    const pgo_type_opts *topts = agent_capture_type_opts(st->cap);
    cdc_value           *vals = cdc_arena_zalloc(a, sizeof(cdc_value) * (size_t) (rel->ncols ? rel->ncols : 1));
    const char          *p = row, *end = row + len;
    int                  col = 0;

    if (len > 0 && end[-1] == '\n')
        end--;
    while (col < rel->ncols) {
        const char *f = p;
        char       *text;
        size_t      flen;

        while (p < end && *p != '\t')
            p++;
        flen = (size_t) (p - f);
        if (!(flen == 2 && f[0] == '\\' && f[1] == 'N') && rel->cols[col].ctype.supported) {
            text = cdc_arena_alloc(a, flen + 1);
            flen = copy_unescape(f, flen, text);
            text[flen] = '\0';
            /* text is in a, as the values are: they may point into it. */
            if (pgo_value_from_text_borrow(&rel->cols[col], text, flen, topts, a, &vals[col],
                                           err) < 0) {
                cdc_err_wrap(err, "snapshot of table %s.%s", rel->nspname, rel->relname);
                return NULL;
            }
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
    st->have_pending = false;
    cdc_arena_reset(st->arenas[1 - st->cur]);
    if (rc == 0 && ++st->rows % 1000 == 0)
        rc = agent_router_poll(agent_capture_router(st->cap), err);
    return rc;
}

static int
copy_table(snap_state *st, PGconn *conn, cdc_rel *rel, int64_t ts_us,
           volatile sig_atomic_t *stop, cdc_err *err)
{
    cdc_buf   q = CDC_BUF_INIT;
    char      ident[300];
    PGresult *res;
    char     *row = NULL;
    int       n, rc = -1;

    cdc_buf_puts(&q, "COPY (SELECT ");
    for (int i = 0; i < rel->ncols; i++)   /* issue 24: a filtered column is not read */
        cdc_buf_printf(&q, "%s%s", i ? ", " : "", rel->cols[i].filtered ? "NULL" :
                       agent_pg_quote_ident(conn, rel->cols[i].name, ident, sizeof(ident)));
    cdc_buf_printf(&q, " FROM %s",
                   agent_pg_quote_table(rel->nspname, rel->relname, ident, sizeof(ident)));
    {   /* issue 24: the publication's row filter of the table, on the snapshot too */
        const char *where = cfg_row_filter(&agent_capture_config(st->cap)->pipeline.source,
                                           rel->nspname, rel->relname);

        if (where != NULL)
            cdc_buf_printf(&q, " WHERE (%s)", where);
    }
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
        cdc_arena *a = st->arenas[st->cur];
        cdc_value *vals = decode_row(st, rel, row, (size_t) n, a, err);

        PQfreemem(row);
        if (vals == NULL || flush_pending(st, false, err) < 0)
            goto drain;
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
        st->cur = 1 - st->cur;
        if (*stop)
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
        rc = copy_table(st, conn, rel, ts_us, stop, err);
        if (rc != 0)
            return rc;
        if (st->table_rows > 0)
            st->pending_last_in_table = true;
        log_info("snapshot", "table %s: %llu rows", src->tables[i],
                 (unsigned long long) st->table_rows);
    }
    return 0;
}

int
agent_snapshot_run(agent_capture *cap, PGconn *conn, const cfg_source *src,
                   const char *snapshot_name, uint64_t cp, volatile sig_atomic_t *stop,
                   cdc_err *err)
{
    snap_state st = { .cap = cap, .cp = cp };
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
    if (read_int8(conn, "SELECT txid_current()", &xid, err) < 0 ||
        read_int8(conn, "SELECT (extract(epoch FROM current_timestamp) * 1000000)::int8", &ts_us,
                  err) < 0)
        goto out;
    log_info("snapshot", "reading %d tables at " CDC_LSN_FMT " (snapshot %s, xid %lld)",
             src->ntables, CDC_LSN_ARGS(cp), snapshot_name && *snapshot_name ? snapshot_name : "-",
             (long long) xid);
    /*
     * Snapshot rows are positioned just before the consistent point: a
     * transaction whose commit record starts exactly there is streamed
     * afterwards and must not share the snapshot's positions.
     */
    if (agent_capture_txn_begin(cap, (uint32_t) xid, cp - 1, ts_us, err) < 0)
        goto out;
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
        if (!when_needed)
            return cdc_err_set(err, CDC_E_STATE, "slot %s was invalidated by PostgreSQL "
                               "(wal_status lost: it fell behind max_slot_wal_keep_size) and "
                               "the changes it kept are gone; to recover, drop the slot "
                               "(cdcagent slot drop --yes) and start again with snapshot_mode "
                               "when_needed", src->slot_name);
        log_warn("agent", "slot %s was invalidated (wal_status lost) and the changes it kept "
                 "are gone; snapshot_mode when_needed: dropping the slot and taking a new "
                 "snapshot (rows already delivered arrive again as op r)", src->slot_name);
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
        if (snapshot_wanted(src) && f->snapshot_unproven) {
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
