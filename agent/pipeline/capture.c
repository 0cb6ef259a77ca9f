#include "agent/pipeline/capture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/core/cdc_clock.h"
#include "agent/source/catalog.h"
#include "agent/core/cdc_arena.h"
#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"
#include "agent/core/net/pgconn.h"
#include "agent/source/colfilter.h"
#include "agent/pipeline/txbuf.h"
#include "decoder/values.h"
#include "schemas/topic.h"

struct agent_capture {
    const cdc_config   *cfg;
    PGconn             *catalog;
    agent_router       *router;
    pgo_decoder        *dec;
    cdc_arena          *arena;
    agent_txbuf        *txbuf;
    pgo_type_opts       topts;
    cdc_txn             txn;            /* the transaction being delivered */
    bool                in_txn;
    uint64_t            seq;            /* next event ordinal in txn */
    uint64_t            last_commit;    /* newest commit LSN announced to the watermark */
    bool                in_stream;      /* between STREAM START and STOP */
    uint32_t            stream_xid;
    bool                skip[128];      /* skipped_operations, indexed by op char */
    uint32_t           *leaves;         /* unlisted partitions of listed tables (relids) */
    int                 nleaves;
    uint32_t           *listed;         /* relids known to be listed tables, by any name */
    int                 nlisted;
    bool                listed_resolved;    /* source.tables looked up in the catalog once */
    bool                tombstones;
    agent_colfilter    *colfilter;      /* column.include/exclude.list and the mappers */
    cdc_arena          *map_arena;      /* mapped rows of the event being emitted */
    agent_capture_stats stats;
    agent_capture_change_hook change_hook;  /* sees every row change first, or NULL */
    void               *change_arg;
};

static int resolve_listed(agent_capture *cap, cdc_err *err);

static int
parse_skipped(agent_capture *cap, const char *list, cdc_err *err)
{
    if (list == NULL || strcmp(list, "none") == 0)
        return 0;
    for (const char *p = list; *p; p++) {
        if (*p == ',' || *p == ' ')
            continue;
        if (strchr("cudt", *p) == NULL || (p[1] && p[1] != ',' && p[1] != ' '))
            return cdc_err_set(err, CDC_E_CONFIG, "source.skipped_operations: \"%s\" is not a "
                               "comma-separated list of c, u, d, t", list);
        cap->skip[(unsigned char) *p] = true;
    }
    return 0;
}

static int
parse_type_opts(const cfg_source *s, pgo_type_opts *o, cdc_err *err)
{
    memset(o, 0, sizeof(*o));
    o->money_fraction_digits = s->money_fraction_digits;
    if (pgo_decimal_mode_parse(s->decimal_handling_mode, &o->decimal_mode) < 0)
        return cdc_err_set(err, CDC_E_CONFIG, "source.decimal_handling_mode: unknown mode \"%s\"",
                           s->decimal_handling_mode);
    if (pgo_time_mode_parse(s->time_precision_mode, &o->time_mode) < 0)
        return cdc_err_set(err, CDC_E_CONFIG, "source.time_precision_mode: unknown mode \"%s\"",
                           s->time_precision_mode);
    if (pgo_binary_mode_parse(s->binary_handling_mode, &o->binary_mode) < 0)
        return cdc_err_set(err, CDC_E_CONFIG, "source.binary_handling_mode: unknown mode \"%s\"",
                           s->binary_handling_mode);
    if (pgo_interval_mode_parse(s->interval_handling_mode, &o->interval_mode) < 0)
        return cdc_err_set(err, CDC_E_CONFIG, "source.interval_handling_mode: unknown mode \"%s\"",
                           s->interval_handling_mode);
    return 0;
}

static agent_txbuf *
new_txbuf(agent_capture *cap, cdc_err *err)
{
    const cfg_agent *ag = &cap->cfg->platform.agent;
    const char      *dir = ag->spill_dir && *ag->spill_dir ? ag->spill_dir : getenv("TMPDIR");

    return agent_txbuf_new((size_t) ag->memory_limit_mb * 1024 * 1024,
                           dir && *dir ? dir : "/tmp", err);
}

/*
 * A streamed transaction rolled back (info: its changes were received and
 * are dropped), or one of its subtransactions (debug).  From PostgreSQL 16
 * (protocol 4, streaming 'parallel') the server says where and when.
 */
static void
log_stream_abort(const pgo_msg *m)
{
    bool      top = m->u.stream_abort.subxid == m->xid;
    char      when[80] = "";
    time_t    secs = (time_t) (m->u.stream_abort.abort_ts_us / 1000000);
    struct tm tm;

    if (m->u.stream_abort.abort_lsn != 0 && gmtime_r(&secs, &tm) != NULL)
        snprintf(when, sizeof(when), " at " CDC_LSN_FMT ", %04d-%02d-%02dT%02d:%02d:%02dZ",
                 CDC_LSN_ARGS(m->u.stream_abort.abort_lsn), tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (top)
        log_info("capture", "streamed transaction %u rolled back%s: its changes are dropped",
                 m->xid, when);
    else
        log_debug("capture", "streamed transaction %u: subtransaction %u rolled back%s", m->xid,
                  m->u.stream_abort.subxid, when);
}

/*
 * At start, every captured table as the stream will describe it goes through the column
 * filter and mappers once: a mask on a key column, or a regex that matches no column, stops
 * the start instead of the first change of that table.
 */
static int
check_columns(agent_capture *cap, cdc_err *err)
{
    const cfg_source *src = &cap->cfg->pipeline.source;
    pgo_relcache     *rc;
    cdc_buf           names = { 0 };
    int               r = 0;

    if (cap->catalog == NULL || (!(src->column_include_list && *src->column_include_list) &&
                                 !(src->column_exclude_list && *src->column_exclude_list) &&
                                 !(src->message_key_columns && *src->message_key_columns) &&
                                 src->column_masks.n == 0))
        return 0;
    rc = pgo_relcache_new();
    for (int i = 0; i < src->ntables && r == 0; i++) {
        char     schema[CFG_NAME_MAX + 1], table[CFG_NAME_MAX + 1];
        cdc_rel *rel;

        if (cfg_table_split(src->tables[i], schema, table) != NULL)
            continue;
        cdc_buf_printf(&names, "%s%s.%s", i ? ", " : "", schema, table);
        rel = agent_catalog_install(cap->catalog, rc, schema, table, err);
        if (rel == NULL)
            r = -1;
        else if (agent_catalog_enrich(cap->catalog, rel, err) < 0 ||
                 pgo_typemap_rel(rel, &cap->topts, err) < 0 ||
                 agent_colfilter_apply_rel(cap->colfilter, rel, src->binary_handling_mode,
                                           err) < 0)
            r = -1;
    }
    if (r == 0)
        r = agent_colfilter_unmatched(cap->colfilter, cdc_buf_str(&names), err);
    cdc_buf_free(&names);
    pgo_relcache_free(rc);
    return r;
}

agent_capture *
agent_capture_new(const cdc_config *cfg, PGconn *catalog, agent_router *router,
                  int proto_version, cdc_err *err)
{
    agent_capture *cap = cdc_xcalloc(1, sizeof(*cap));
    /* The agent asks for protocol 4 always with streaming 'parallel' (repl_proto_for). */
    pgo_opts       po = { .proto_version = proto_version,
                          .stream_abort_info = proto_version >= 4 };

    cap->cfg = cfg;
    cap->catalog = catalog;
    cap->router = router;
    cap->tombstones = cfg->pipeline.source.tombstones_on_delete;
    if (parse_skipped(cap, cfg->pipeline.source.skipped_operations, err) < 0 ||
        parse_type_opts(&cfg->pipeline.source, &cap->topts, err) < 0)
        goto fail;
    cap->topts.max_value_bytes = (size_t) cfg->platform.agent.max_value_mb * 1024 * 1024;
    cap->dec = pgo_decoder_new(&po, err);
    if (cap->dec == NULL)
        goto fail;
    cap->txbuf = new_txbuf(cap, err);
    if (cap->txbuf == NULL)
        goto fail;
    cap->arena = cdc_arena_new(64 * 1024);
    cap->map_arena = cdc_arena_new(16 * 1024);
    cap->colfilter = agent_colfilter_new(&cfg->pipeline.source, err);
    if (cap->colfilter == NULL || resolve_listed(cap, err) < 0 || check_columns(cap, err) < 0)
        goto fail;
    return cap;
fail:
    agent_capture_free(cap);
    return NULL;
}

void
agent_capture_free(agent_capture *cap)
{
    if (cap == NULL)
        return;
    pgo_decoder_free(cap->dec);
    agent_txbuf_free(cap->txbuf);
    cdc_arena_free(cap->arena);
    cdc_arena_free(cap->map_arena);
    agent_colfilter_free(cap->colfilter);
    free(cap->leaves);
    free(cap->listed);
    free(cap);
}

bool
agent_capture_in_txn(const agent_capture *cap)
{
    return cap->in_txn || cap->in_stream;
}

bool
agent_capture_in_plain_txn(const agent_capture *cap)
{
    return cap->in_txn && !cap->in_stream;
}

pgo_relcache *
agent_capture_relcache(agent_capture *cap)
{
    return pgo_decoder_relcache(cap->dec);
}

const pgo_type_opts *
agent_capture_type_opts(const agent_capture *cap)
{
    return &cap->topts;
}

const agent_capture_stats *
agent_capture_get_stats(const agent_capture *cap)
{
    return &cap->stats;
}

agent_router *
agent_capture_router(agent_capture *cap)
{
    return cap->router;
}

static bool
table_configured(const cfg_source *src, const char *nspname, const char *relname)
{
    for (int i = 0; i < src->ntables; i++) {
        char schema[CFG_NAME_MAX + 1], table[CFG_NAME_MAX + 1];

        if (cfg_table_split(src->tables[i], schema, table) == NULL &&
            strcmp(schema, nspname) == 0 && strcmp(table, relname) == 0)
            return true;
    }
    return false;
}

/* The partitioned tables @p relid is a partition of, nearest first (PostgreSQL 12+). */
static const char ancestors_sql[] =
    "SELECT an.nspname, ac.relname"
    "  FROM pg_partition_ancestors($1::oid::regclass) WITH ORDINALITY AS a(relid, ord)"
    "  JOIN pg_class ac ON ac.oid = a.relid JOIN pg_namespace an ON an.oid = ac.relnamespace"
    " WHERE a.relid <> $1::oid ORDER BY a.ord";

static bool
in_set(const uint32_t *set, int n, uint32_t relid)
{
    for (int i = 0; i < n; i++)
        if (set[i] == relid)
            return true;
    return false;
}

static void
add_listed(agent_capture *cap, uint32_t relid)
{
    if (relid == 0 || in_set(cap->listed, cap->nlisted, relid))
        return;
    cap->listed = cdc_xrealloc(cap->listed, (size_t) (cap->nlisted + 1) * sizeof(uint32_t));
    cap->listed[cap->nlisted++] = relid;
}

static const char listed_oid_sql[] =
    "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = $1 AND c.relname = $2";

/*
 * A relation whose name is not in source.tables may still be a listed table:
 * renamed after the change was written (the Relation message carries the
 * name as of the change) or while the agent streams.  Tables are the same
 * table by oid, so such a change is captured, under the name it carries,
 * rather than dropped.  Listed oids come from looking source.tables up in
 * the catalog when capture starts (before any rename it has to follow) and
 * from the relations prepared since.
 */
static int
resolve_listed(agent_capture *cap, cdc_err *err)
{
    const cfg_source *src = &cap->cfg->pipeline.source;

    if (cap->listed_resolved || cap->catalog == NULL)
        return 0;
    for (int i = 0; i < src->ntables; i++) {
        char        schema[CFG_NAME_MAX + 1], table[CFG_NAME_MAX + 1];
        const char *p[2] = { schema, table };
        PGresult   *res;

        if (cfg_table_split(src->tables[i], schema, table) != NULL)
            continue;
        res = agent_pg_query(cap->catalog, listed_oid_sql, 2, p, "looking up a captured table",
                             err);
        if (res == NULL)
            return cdc_err_wrap(err, "table %s", src->tables[i]);
        if (PQntuples(res) == 1)
            add_listed(cap, (uint32_t) strtoul(PQgetvalue(res, 0, 0), NULL, 10));
        PQclear(res);
    }
    cap->listed_resolved = true;
    return 0;
}

static int
listed_by_oid(agent_capture *cap, const cdc_rel *rel, bool *listed, cdc_err *err)
{
    *listed = in_set(cap->listed, cap->nlisted, rel->relid);
    if (*listed || cap->listed_resolved)
        return 0;
    if (resolve_listed(cap, err) < 0)
        return -1;
    *listed = in_set(cap->listed, cap->nlisted, rel->relid);
    return 0;
}

static bool
is_leaf(const agent_capture *cap, uint32_t relid)
{
    return in_set(cap->leaves, cap->nleaves, relid);
}

/*
 * A published table that source.tables does not list is ignored, unless it
 * is a partition of a listed table.  pgoutput sends such a partition's
 * Relation message even when it publishes via the partition root (then the
 * changes name the root); without publish_via_partition_root its changes
 * name the partition, belong to the listed table and must never be dropped:
 * remembered here, refused in unlisted_change().
 */
static int
note_unlisted(agent_capture *cap, const cdc_rel *rel, cdc_err *err)
{
    const cfg_source *src = &cap->cfg->pipeline.source;
    char              relid[16];
    const char       *p[1] = { relid };
    PGresult         *res;
    bool              leaf = false;

    if (cap->catalog == NULL || PQserverVersion(cap->catalog) < 120000)
        return 0;
    snprintf(relid, sizeof(relid), "%u", rel->relid);
    res = agent_pg_query(cap->catalog, ancestors_sql, 1, p, "reading the partition tree of a "
                         "published table", err);
    if (res == NULL)
        return cdc_err_wrap(err, "table %s.%s", rel->nspname, rel->relname);
    for (int r = 0; r < PQntuples(res) && !leaf; r++)
        leaf = table_configured(src, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
    PQclear(res);
    if (leaf && !is_leaf(cap, rel->relid)) {
        cap->leaves = cdc_xrealloc(cap->leaves, (size_t) (cap->nleaves + 1) * sizeof(uint32_t));
        cap->leaves[cap->nleaves++] = rel->relid;
    } else if (!leaf) {
        for (int i = 0; i < cap->nleaves; i++)
            if (cap->leaves[i] == rel->relid)
                cap->leaves[i--] = cap->leaves[--cap->nleaves];
    }
    if (leaf)
        log_debug("capture", "table %s.%s is a partition of a table in source.tables: its "
                  "changes are captured under that table's name", rel->nspname, rel->relname);
    else
        log_info("capture", "table %s.%s is published but not in source.tables: ignoring it",
                 rel->nspname, rel->relname);
    return 0;
}

/*
 * A change of an excluded relation: ignored, or the agent stops
 * (note_unlisted).  A partition noted as such may have been detached since
 * (a FOR ALL TABLES publication then publishes it on its own, without a new
 * Relation message): asked again before stopping.
 */
static int
unlisted_change(agent_capture *cap, const cdc_rel *rel, uint64_t lsn, cdc_err *err)
{
    const char *pub = cap->cfg->pipeline.source.publication_name;

    if (!is_leaf(cap, rel->relid))
        return 0;
    if (note_unlisted(cap, rel, err) < 0)
        return -1;
    if (!is_leaf(cap, rel->relid))
        return 0;
    log_error("capture", "table %s.%s is a partition of a table in source.tables, but "
              "publication %s sends its change at %X/%X under the partition's name "
              "(publish_via_partition_root is off), so it cannot be captured as the listed "
              "table's; nothing from it on was confirmed. Run ALTER PUBLICATION %s SET "
              "(publish_via_partition_root = true) and start again; changes written while it was "
              "off keep the partition's name, so if this stops again, drop the slot and start "
              "with a new snapshot", rel->nspname, rel->relname, pub, (unsigned) (lsn >> 32),
              (unsigned) lsn, pub);
    return cdc_err_set(err, CDC_E_CONFIG, "change at %X/%X of partition %s.%s comes under its "
                       "own name, not its listed root's: publication %s needs "
                       "publish_via_partition_root = true", (unsigned) (lsn >> 32),
                       (unsigned) lsn, rel->nspname, rel->relname, pub);
}

const cdc_config *
agent_capture_config(const agent_capture *cap)
{
    return cap->cfg;
}

void
agent_capture_set_catalog(agent_capture *cap, PGconn *catalog)
{
    cap->catalog = catalog;
}

int
agent_capture_prepare_rel(agent_capture *cap, cdc_rel *rel, cdc_err *err)
{
    char topic[256];

    if (rel->topic != NULL)
        return 0;
    if (!table_configured(&cap->cfg->pipeline.source, rel->nspname, rel->relname)) {
        bool listed;

        if (listed_by_oid(cap, rel, &listed, err) < 0)
            return -1;
        if (listed) {
            log_warn("capture", "table %s.%s (oid %u) is a table of source.tables under another "
                     "name (renamed): its events carry the name %s.%s, on that name's topic; "
                     "list the table under its current name", rel->nspname, rel->relname,
                     rel->relid, rel->nspname, rel->relname);
        } else {
            if (note_unlisted(cap, rel, err) < 0)
                return -1;
            rel->excluded = true;
            rel->topic = pgo_rel_strdup(rel, "");
            return 0;
        }
    }
    add_listed(cap, rel->relid);
    if (agent_catalog_enrich(cap->catalog, rel, err) < 0)
        return -1;
    if (pgo_typemap_rel(rel, &cap->topts, err) < 0)
        return cdc_err_wrap(err, "table %s.%s", rel->nspname, rel->relname);
    if (agent_colfilter_apply_rel(cap->colfilter, rel, cap->cfg->pipeline.source.
                                  binary_handling_mode, err) < 0)
        return -1;
    sch_topic_name(cap->cfg->pipeline.topic_prefix, rel->nspname, rel->relname, topic,
                   sizeof(topic));
    rel->topic = pgo_rel_strdup(rel, topic);
    for (int i = 0; i < rel->ncols; i++)
        if (!rel->cols[i].ctype.supported && !rel->cols[i].filtered)
            log_warn("capture", "table %s.%s: column %s of type %s is not supported and is "
                     "left out of events", rel->nspname, rel->relname, rel->cols[i].name,
                     rel->cols[i].type_name ? rel->cols[i].type_name : "?");
    log_info("capture", "table %s.%s -> topic %s (relation version %u, %d columns, %d key "
             "columns)", rel->nspname, rel->relname, rel->topic, rel->version, rel->ncols,
             rel->nkeys);
    return 0;
}

/* A copy of one row with the column mappers applied, in the map arena. */
static const cdc_value *
mapped_row(agent_capture *cap, const cdc_rel *rel, const cdc_value *row)
{
    cdc_value *copy;

    if (row == NULL)
        return NULL;
    copy = cdc_arena_alloc(cap->map_arena, (size_t) rel->ncols * sizeof(*copy));
    memcpy(copy, row, (size_t) rel->ncols * sizeof(*copy));
    agent_colfilter_map_row(cap->colfilter, rel, copy,
                            cap->cfg->pipeline.source.unavailable_value_placeholder,
                            cap->map_arena);
    return copy;
}

/* Hands one event to the router with the next position of the transaction. */
static int
emit(agent_capture *cap, cdc_event *ev, cdc_err *err)
{
    ev->pos.lsn = cap->txn.commit_lsn;
    ev->pos.seq = cap->seq++;
    if (ev->op == CDC_OP_READ && ev->snapshot && strcmp(ev->snapshot, "last") == 0)
        ev->pos.seq = CDC_SEQ_SNAPSHOT_LAST;
    ev->txn = &cap->txn;
    if (ev->source_ts_us == 0)
        ev->source_ts_us = cap->txn.commit_ts_us;
    /* Masks and truncations act on copies: the rows stay as decoded for the next event
       (an update that changes the key emits its rows twice) */
    if (ev->rel != NULL && agent_colfilter_maps(ev->rel)) {
        cdc_event mapped = *ev;

        cdc_arena_reset(cap->map_arena);
        mapped.before = mapped_row(cap, ev->rel, ev->before);
        mapped.after = mapped_row(cap, ev->rel, ev->after);
        return agent_router_write(cap->router, &mapped, err);
    }
    return agent_router_write(cap->router, ev, err);
}

static bool
key_changed(const cdc_rel *rel, const pgo_tuple *oldt, const pgo_tuple *newt)
{
    for (int i = 0; i < rel->ncols; i++) {
        const pgo_datum *o = &oldt->cols[i], *n = &newt->cols[i];

        if (rel->cols[i].key_pos == 0 || o->kind != 't' || n->kind != 't')
            continue;
        if (o->len != n->len || memcmp(o->data, n->data, o->len) != 0)
            return true;
    }
    return false;
}

static int
emit_delete(agent_capture *cap, cdc_event *ev, const cdc_value *newkey, cdc_err *err)
{
    ev->op = CDC_OP_DELETE;
    ev->pk_change_newkey = newkey;
    if (!cap->skip['d'] && emit(cap, ev, err) < 0)
        return -1;
    if (cap->tombstones && !cap->skip['d']) {
        cdc_event t = *ev;

        t.op = CDC_OP_TOMBSTONE;
        t.before = t.after = NULL;      /* Debezium keeps __debezium.newkey on the tombstone */
        return emit(cap, &t, err);
    }
    return 0;
}

static int
handle_update(agent_capture *cap, const pgo_msg *m, cdc_event *ev, cdc_err *err)
{
    const cdc_rel *rel = m->u.change.rel;
    cdc_value     *before = NULL, *after;

    after = pgo_tuple_values(rel, &m->u.change.newtup, &cap->topts, cap->arena, err);
    if (after == NULL)
        return -1;
    if (m->u.change.old_kind) {
        before = pgo_tuple_values_old(rel, &m->u.change.oldtup, after, &cap->topts, cap->arena,
                                      err);     /* invalid UTF-8 counted once per event */
        if (before == NULL)
            return -1;
        /* Unchanged TOAST in the new row: the full old row (identity FULL) has the value. */
        for (int i = 0; i < rel->ncols; i++)
            if (after[i].state == CDC_VAL_UNCHANGED && before[i].state == CDC_VAL_PRESENT)
                after[i] = before[i];
    }
    if (before && rel->nkeys > 0 && key_changed(rel, &m->u.change.oldtup, &m->u.change.newtup)) {
        /* Debezium: a key change is a delete of the old key and a create of the new one. */
        ev->before = before;
        ev->key = before;
        if (emit_delete(cap, ev, after, err) < 0)
            return -1;
        ev->op = CDC_OP_CREATE;
        ev->before = NULL;
        ev->after = after;
        ev->key = after;
        ev->pk_change_newkey = NULL;
        ev->pk_change_oldkey = before;
        return cap->skip['c'] ? 0 : emit(cap, ev, err);
    }
    if (cap->skip['u'])
        return 0;
    ev->op = CDC_OP_UPDATE;
    ev->before = m->u.change.old_kind == 'O' ? before : NULL;
    ev->after = after;
    ev->key = after;
    return emit(cap, ev, err);
}

static int
handle_change(agent_capture *cap, const pgo_msg *m, uint64_t lsn, cdc_err *err)
{
    cdc_event ev = { 0 };

    ev.rel = m->u.change.rel;
    ev.lsn = lsn;
    if (cap->change_hook && cap->change_hook(cap->change_arg, cap, m, cap->txn.commit_lsn, lsn,
                                             err) < 0)
        return -1;
    if (ev.rel->excluded)
        return unlisted_change(cap, ev.rel, lsn, err);
    cap->stats.changes++;
    switch (m->type) {
    case PGO_INSERT:
        if (cap->skip['c'])
            return 0;
        ev.op = CDC_OP_CREATE;
        ev.after = pgo_tuple_values(ev.rel, &m->u.change.newtup, &cap->topts, cap->arena, err);
        ev.key = ev.after;
        return ev.after ? emit(cap, &ev, err) : -1;
    case PGO_UPDATE:
        return handle_update(cap, m, &ev, err);
    case PGO_DELETE:
        ev.before = pgo_tuple_values(ev.rel, &m->u.change.oldtup, &cap->topts, cap->arena, err);
        ev.key = ev.before;
        return ev.before ? emit_delete(cap, &ev, NULL, err) : -1;
    default:
        return cdc_err_set(err, CDC_E_INVAL, "not a row change: %c", m->type);
    }
}

static int
handle_truncate(agent_capture *cap, const pgo_msg *m, uint64_t lsn, cdc_err *err)
{
    if (cap->skip['t'])
        return 0;
    for (int i = 0; i < m->u.truncate.nrels; i++) {
        cdc_event ev = { 0 };

        ev.op = CDC_OP_TRUNCATE;
        ev.rel = m->u.truncate.rels[i];
        if (ev.rel->excluded) {
            if (unlisted_change(cap, ev.rel, lsn, err) < 0)
                return -1;
            continue;
        }
        ev.lsn = lsn;
        if (emit(cap, &ev, err) < 0)
            return -1;
    }
    return 0;
}

static int
begin_txn(agent_capture *cap, uint32_t xid, uint64_t commit_lsn, int64_t ts_us, cdc_err *err)
{
    if (cap->in_txn)
        return cdc_err_set(err, CDC_E_PROTO, "BEGIN of xid %u inside transaction %u", xid,
                           cap->txn.xid);
    cap->in_txn = true;
    cap->seq = 0;
    cap->txn.xid = xid;
    cap->txn.commit_lsn = commit_lsn;
    cap->txn.end_lsn = 0;
    cap->txn.commit_ts_us = ts_us;
    cap->txn.begin_lsn = 0;
    cap->txn.nevents = 0;
    /* After a reconnect the server re-sends transactions the watermark already tracks. */
    if (commit_lsn > cap->last_commit)
        return agent_wm_begin(cap->router->wm, commit_lsn, err);
    return 0;
}

static int
commit_txn(agent_capture *cap, uint64_t commit_lsn, uint64_t end_lsn, cdc_err *err)
{
    if (!cap->in_txn || commit_lsn != cap->txn.commit_lsn)
        return cdc_err_set(err, CDC_E_PROTO, "COMMIT at %X/%X does not match the open "
                           "transaction (%X/%X)", (unsigned) (commit_lsn >> 32),
                           (unsigned) commit_lsn, (unsigned) (cap->txn.commit_lsn >> 32),
                           (unsigned) cap->txn.commit_lsn);
    cap->txn.end_lsn = end_lsn;
    cap->txn.nevents = cap->seq;
    if (agent_router_commit(cap->router, &cap->txn, err) < 0)
        return -1;
    if (commit_lsn > cap->last_commit) {
        agent_wm_commit(cap->router->wm, commit_lsn, end_lsn);
        cap->last_commit = commit_lsn;
        agent_metrics_txn_committed(cap->router->metrics, end_lsn);
        if (cap->txn.commit_ts_us > 0)
            agent_metrics_set_lag_seconds(cap->router->metrics,
                                          (double) (cdc_wall_us() - cap->txn.commit_ts_us) / 1e6);
    }
    /* source.sequence's first element: where the last commit record ended (Debezium's lastCommitLsn). */
    cap->txn.prev_commit_lsn = end_lsn;
    cap->in_txn = false;
    cap->stats.txns++;
    return 0;
}

/*
 * A non-transactional logical message is a transaction of its own at its
 * LSN.  Debezium treats it as a commit there: its source.sequence is
 * ["L","L"], the next transaction's sequence starts from L, and its
 * source.ts is the commit time of the last transaction decoded.  The
 * incremental snapshot's own window markers (AGENT_CAPTURE_WM_PREFIX) are
 * never events: a transactional one goes to the change hook, any other is dropped.
 */
static int
handle_message(agent_capture *cap, const pgo_msg *m, uint64_t lsn, cdc_err *err)
{
    cdc_event ev = { 0 };
    int64_t   last_ts = cap->txn.commit_ts_us;
    int       rc;

    if (m->u.message.prefix && strcmp(m->u.message.prefix, AGENT_CAPTURE_WM_PREFIX) == 0) {
        if (m->u.message.transactional && cap->in_txn && cap->change_hook)
            return cap->change_hook(cap->change_arg, cap, m, cap->txn.commit_lsn, lsn, err);
        return 0;
    }
    ev.op = CDC_OP_MESSAGE;
    ev.lsn = m->u.message.lsn ? m->u.message.lsn : lsn;
    ev.msg_prefix = m->u.message.prefix;
    ev.msg_content = m->u.message.content;
    ev.msg_len = m->u.message.len;
    ev.msg_transactional = m->u.message.transactional;
    if (m->u.message.transactional)
        return emit(cap, &ev, err);
    if (begin_txn(cap, 0, ev.lsn, last_ts ? last_ts : cdc_wall_us(), err) < 0)
        return -1;
    cap->txn.prev_commit_lsn = ev.lsn;
    rc = emit(cap, &ev, err);
    if (rc == 0)
        rc = commit_txn(cap, ev.lsn, ev.lsn, err);
    return rc;
}

/* Everything that may appear both in a plain transaction and in a streamed one. */
/*
 * PostgreSQL 15's pgoutput sends a transaction's BEGIN just before its first
 * change or message, at that change's LSN; a streamed transaction's first
 * change has the same LSN.  Debezium names the transaction after it.
 */
static void
note_first(agent_capture *cap, uint64_t lsn)
{
    if (cap->in_txn && cap->txn.begin_lsn == 0)
        cap->txn.begin_lsn = lsn;
}

static int
dispatch(agent_capture *cap, const pgo_msg *m, uint64_t lsn, cdc_err *err)
{
    cdc_rel *rel;

    switch (m->type) {
    case PGO_RELATION:
        rel = pgo_rel_lookup(agent_capture_relcache(cap), m->u.relation.rel->relid);
        return rel ? agent_capture_prepare_rel(cap, rel, err) : 0;
    case PGO_TYPE:
    case PGO_ORIGIN:
        return 0;
    case PGO_INSERT:
    case PGO_UPDATE:
    case PGO_DELETE:
        if (!cap->in_txn)
            return cdc_err_set(err, CDC_E_PROTO, "row change outside a transaction at %X/%X",
                               (unsigned) (lsn >> 32), (unsigned) lsn);
        note_first(cap, lsn);
        return handle_change(cap, m, lsn, err);
    case PGO_TRUNCATE:
        note_first(cap, lsn);
        return handle_truncate(cap, m, lsn, err);
    case PGO_MESSAGE:
        /* A window marker of ours is no content of its transaction: one that holds only
           markers (and the chunk's snapshot rows) gets no BEGIN/END record. */
        if (m->u.message.transactional &&
            !(m->u.message.prefix && strcmp(m->u.message.prefix, AGENT_CAPTURE_WM_PREFIX) == 0))
            note_first(cap, lsn);
        return handle_message(cap, m, lsn, err);
    default:
        return cdc_err_set(err, CDC_E_PROTO, "unexpected message '%c' at %X/%X", m->type,
                           (unsigned) (lsn >> 32), (unsigned) lsn);
    }
}

typedef struct replay_ctx {
    agent_capture *cap;
    cdc_err       *err;
} replay_ctx;

static int
replay_one(void *arg, uint32_t msg_xid, const uint8_t *msg, size_t len, uint64_t wal_lsn)
{
    replay_ctx    *rc = arg;
    agent_capture *cap = rc->cap;
    pgo_msg        m;
    int            r;

    (void) msg_xid;
    r = pgo_decode(cap->dec, msg, len, &m, cap->arena, rc->err);
    if (r == 0)
        r = dispatch(cap, &m, wal_lsn, rc->err);
    cdc_arena_reset(cap->arena);
    return r;
}

/* Feeds the decoder a synthetic STREAM START or STOP so replayed messages parse with their xid. */
static int
decode_stream_marker(agent_capture *cap, bool start, uint32_t xid, cdc_err *err)
{
    uint8_t buf[6] = { start ? 'S' : 'E', (uint8_t) (xid >> 24), (uint8_t) (xid >> 16),
                       (uint8_t) (xid >> 8), (uint8_t) xid, 0 };
    pgo_msg m;

    return pgo_decode(cap->dec, buf, start ? 6 : 1, &m, cap->arena, err);
}

static int
stream_commit(agent_capture *cap, const pgo_msg *m, cdc_err *err)
{
    uint32_t   xid = m->xid;
    uint64_t   commit_lsn = m->u.stream_commit.commit_lsn, end_lsn = m->u.stream_commit.end_lsn;
    replay_ctx rc = { cap, err };

    if (begin_txn(cap, xid, commit_lsn, m->u.stream_commit.commit_ts_us, err) < 0)
        return -1;
    cdc_arena_reset(cap->arena);
    if (decode_stream_marker(cap, true, xid, err) < 0 ||
        agent_txbuf_replay(cap->txbuf, xid, replay_one, &rc, err) < 0 ||
        decode_stream_marker(cap, false, xid, err) < 0)
        return cdc_err_wrap(err, "streamed transaction %u", xid);
    agent_txbuf_discard(cap->txbuf, xid);
    cap->stats.streamed_txns++;
    return commit_txn(cap, commit_lsn, end_lsn, err);
}

/* Inside STREAM START..STOP: keep the raw message for replay at STREAM COMMIT. */
static int
stash_streamed(agent_capture *cap, const uint8_t *data, size_t len, uint64_t lsn, cdc_err *err)
{
    uint32_t xid;

    if (len < 5)
        return cdc_err_set(err, CDC_E_PROTO, "streamed message '%c' of %zu bytes at %X/%X has "
                           "no xid", len ? data[0] : '?', len, (unsigned) (lsn >> 32),
                           (unsigned) lsn);
    xid = (uint32_t) data[1] << 24 | (uint32_t) data[2] << 16 | (uint32_t) data[3] << 8 | data[4];
    return agent_txbuf_append(cap->txbuf, cap->stream_xid, xid, data, len, lsn, err);
}

static int
handle_plain(agent_capture *cap, const pgo_msg *m, uint64_t lsn, cdc_err *err)
{
    switch (m->type) {
    case PGO_BEGIN:
        return begin_txn(cap, m->u.begin.xid, m->u.begin.final_lsn, m->u.begin.commit_ts_us, err);
    case PGO_COMMIT:
        return commit_txn(cap, m->u.commit.commit_lsn, m->u.commit.end_lsn, err);
    case PGO_STREAM_START:
        cap->in_stream = true;
        cap->stream_xid = m->xid;
        /* A first segment starts the transaction over: nothing stashed before belongs to it. */
        if (m->u.stream_start.first_segment)
            agent_txbuf_discard(cap->txbuf, m->xid);
        return 0;
    case PGO_STREAM_STOP:
        cap->in_stream = false;
        return 0;
    case PGO_STREAM_COMMIT:
        return stream_commit(cap, m, err);
    case PGO_STREAM_ABORT:
        cap->stats.aborted_streams += m->u.stream_abort.subxid == m->xid;
        log_stream_abort(m);
        return agent_txbuf_abort(cap->txbuf, m->xid, m->u.stream_abort.subxid, err);
    default:
        return dispatch(cap, m, lsn, err);
    }
}

int
agent_capture_handle(agent_capture *cap, const uint8_t *data, size_t len, uint64_t wal_lsn,
                     cdc_err *err)
{
    pgo_msg m;
    int     rc;

    if (cap->in_stream && len > 0 && data[0] != PGO_STREAM_STOP)
        return stash_streamed(cap, data, len, wal_lsn, err);
    rc = pgo_decode(cap->dec, data, len, &m, cap->arena, err);
    if (rc == 0)
        rc = handle_plain(cap, &m, wal_lsn, err);
    cdc_arena_reset(cap->arena);
    return rc;
}

int
agent_capture_txn_begin(agent_capture *cap, uint32_t xid, uint64_t commit_lsn, int64_t ts_us,
                        cdc_err *err)
{
    return begin_txn(cap, xid, commit_lsn, ts_us, err);
}

int
agent_capture_emit(agent_capture *cap, cdc_event *ev, cdc_err *err)
{
    return emit(cap, ev, err);
}

int
agent_capture_txn_commit(agent_capture *cap, uint64_t end_lsn, cdc_err *err)
{
    int rc = commit_txn(cap, cap->txn.commit_lsn, end_lsn, err);

    /* The snapshot is not a commit: the first streamed transaction has no lastCommitLsn. */
    cap->txn.prev_commit_lsn = 0;
    return rc;
}

void
agent_capture_set_change_hook(agent_capture *cap, agent_capture_change_hook fn, void *arg)
{
    cap->change_hook = fn;
    cap->change_arg = arg;
}

void
agent_capture_reset_stream(agent_capture *cap)
{
    cdc_err ignored;

    /* A new walsender starts outside any transaction and re-sends what was not confirmed. */
    if (cap->in_stream)
        decode_stream_marker(cap, false, cap->stream_xid, &ignored);
    cap->in_stream = false;
    cap->in_txn = false;
    /*
     * Always: the new walsender streams every open transaction again from its
     * first segment, so a stash kept here would replay its first changes twice.
     * No counter or memory figure tells reliably whether one is open (a last
     * message of 8 MiB or more left nothing in memory).
     */
    agent_txbuf_clear(cap->txbuf);
    cdc_arena_reset(cap->arena);
}
