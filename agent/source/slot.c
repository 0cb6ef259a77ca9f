#include "agent/source/slot.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_lsn.h"
#include "agent/core/net/pgconn.h"
#include "agent/source/failover.h"
#include "agent/source/pg_source.h"
#include "agent/source/publication.h"
#include "agent/source/repl.h"
#include "agent/source/slot_warn.h"

/*
 * Columns of the status query, in order.  wal_status and safe_wal_size are
 * NULL before PostgreSQL 13 (status_ws12).  The optional ones (14, 16, 17)
 * follow from COL_OPTIONAL on, only those the server has.
 */
enum {
    COL_SLOT, COL_PLUGIN, COL_ACTIVE, COL_PID, COL_RESTART, COL_CONFIRMED, COL_CURRENT,
    COL_RETAINED, COL_LAG, COL_WAL_STATUS, COL_SAFE, COL_XMIN_AGE, COL_CLIENT, COL_OPTIONAL
};

static const char status_cols[] =
    "SELECT s.slot_name, s.plugin, s.active, s.active_pid, s.restart_lsn, s.confirmed_flush_lsn,"
    "       " AGENT_PG_WAL_LSN_SQL ","
    "       pg_wal_lsn_diff(" AGENT_PG_WAL_LSN_SQL ", s.restart_lsn)::int8,"
    "       pg_wal_lsn_diff(" AGENT_PG_WAL_LSN_SQL ", s.confirmed_flush_lsn)::int8,"
    "       %s, age(s.catalog_xmin)::int8, host(r.client_addr)";
static const char status_ws[] = "s.wal_status, s.safe_wal_size";
static const char status_ws12[] = "NULL::text, NULL::int8";

static const char status_from[] =
    "  FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid";

/*
 * Columns that only newer servers have; printed when present.  column: the
 * one of pg_replication_slots it needs; expr: what is selected (NULL: the
 * column as text).
 */
static const struct opt_col {
    const char *name;
    char        kind;               /* 'b' boolean, 's' string, 'i' integer */
    const char *column;
    const char *expr;
} opt_cols[] = {
    { "two_phase", 'b', "two_phase", NULL },                      /* 14 */
    { "conflicting", 'b', "conflicting", NULL },                  /* 16 */
    { "invalidation_reason", 's', "invalidation_reason", NULL },  /* 17 */
    { "failover", 'b', "failover", NULL },                        /* 17 */
    { "synced", 'b', "synced", NULL },                            /* 17 */
    { "inactive_since", 's', "inactive_since", NULL },            /* 17 */
    { "inactive_seconds", 'i', "inactive_since",                  /* 17 */
      "extract(epoch FROM now() - s.inactive_since)::int8::text" },
};
#define NOPT ((int)(sizeof(opt_cols) / sizeof(opt_cols[0])))

/*
 * A published table whose UPDATE/DELETE PostgreSQL rejects (no identity) or
 * whose events have no key.  relreplident: d default (the primary key),
 * n nothing, f full, i index (gone when the index was dropped).
 */
static const char pub_tables_sql[] =
    "SELECT n.nspname || '.' || c.relname, c.relreplident::text,"
    "       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary),"
    "       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident),"
    "       p.pubupdate OR p.pubdelete, quote_ident(n.nspname) || '.' || quote_ident(c.relname)"
    "  FROM pg_publication p"
    "  JOIN pg_publication_tables pt ON pt.pubname = p.pubname"
    "  JOIN pg_namespace n ON n.nspname = pt.schemaname"
    "  JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename"
    " WHERE p.pubname = $1 ORDER BY 1";

/* Facts about the server that every slot shares. */
typedef struct server_facts {
    int64_t keep_size;      /* max_slot_wal_keep_size in bytes, -1: unlimited (or 12) */
    bool    has_keep_size;  /* 13 and later have the setting */
    int64_t idle_timeout;   /* idle_replication_slot_timeout in seconds (18), 0: none */
    bool    has_wal_status; /* 13 and later */
    double  rate;           /* WAL bytes per second, <0: not measured */
    double  window;         /* seconds the rate was measured over */
    bool    has_opt[NOPT];
    bool    pub_exists;
    PGresult *pub;          /* pub_tables_sql, or NULL */
} server_facts;

/* "1.5 GiB", "512 B" */
static char *
fmt_bytes(int64_t n, char *out, size_t outsz)
{
    static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
    double v = (double)n;
    int    u = -1;

    if (n > -1024 && n < 1024) {
        snprintf(out, outsz, "%lld B", (long long)n);
        return out;
    }
    while ((v >= 1024.0 || v <= -1024.0) && u < 4) {
        v /= 1024.0;
        u++;
    }
    snprintf(out, outsz, "%.1f %s", v, units[u]);
    return out;
}

/* "45 s", "12 min", "3.5 h", "2.1 days" */
static char *
fmt_duration(double s, char *out, size_t outsz)
{
    if (s < 120)
        snprintf(out, outsz, "%.0f s", s);
    else if (s < 7200)
        snprintf(out, outsz, "%.0f min", s / 60);
    else if (s < 172800)
        snprintf(out, outsz, "%.1f h", s / 3600);
    else
        snprintf(out, outsz, "%.1f days", s / 86400);
    return out;
}

static bool
isnull(PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col);
}

static int64_t
int_at(PGresult *res, int row, int col)
{
    return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static json_t *
str_or_null(PGresult *res, int row, int col)
{
    return isnull(res, row, col) ? json_null() : json_string(PQgetvalue(res, row, col));
}

static json_t *
int_or_null(PGresult *res, int row, int col)
{
    return isnull(res, row, col) ? json_null() : json_integer(int_at(res, row, col));
}

static const char *
replident_name(const char *c)
{
    switch (c[0]) {
    case 'd': return "default";
    case 'n': return "nothing";
    case 'f': return "full";
    case 'i': return "index";
    default: return c;
    }
}

static int
read_server_facts(PGconn *conn, const cfg_source *src, const agent_slot_opts *o,
                  server_facts *sf, cdc_err *err)
{
    const char *p[1] = { src->publication_name };
    PGresult   *res;
    uint64_t    a, b;

    res = agent_pg_query(conn,
                         "SELECT CASE WHEN setting::int8 < 0 THEN -1"
                         "            ELSE setting::int8 * 1024 * 1024 END"
                         "  FROM pg_settings WHERE name = 'max_slot_wal_keep_size'",
                         0, NULL, "reading max_slot_wal_keep_size", err);
    if (res == NULL)
        return -1;
    /* Before 13 there is no such setting: nothing caps a slot then either. */
    sf->has_keep_size = PQntuples(res) == 1;
    sf->keep_size = sf->has_keep_size ? int_at(res, 0, 0) : -1;
    PQclear(res);
    /* 18: a slot inactive for longer is invalidated at the next checkpoint. */
    res = agent_pg_query(conn,
                         "SELECT setting::int8 FROM pg_settings"
                         " WHERE name = 'idle_replication_slot_timeout'",
                         0, NULL, "reading idle_replication_slot_timeout", err);
    if (res == NULL)
        return -1;
    sf->idle_timeout = PQntuples(res) == 1 ? int_at(res, 0, 0) : 0;
    PQclear(res);

    res = agent_pg_query(conn,
                         "SELECT attname::text FROM pg_attribute"
                         " WHERE attrelid = 'pg_catalog.pg_replication_slots'::regclass"
                         "   AND attnum > 0 AND NOT attisdropped",
                         0, NULL, "reading the columns of pg_replication_slots", err);
    if (res == NULL)
        return -1;
    for (int r = 0; r < PQntuples(res); r++) {
        for (int i = 0; i < NOPT; i++)
            if (strcmp(PQgetvalue(res, r, 0), opt_cols[i].column) == 0)
                sf->has_opt[i] = true;
        if (strcmp(PQgetvalue(res, r, 0), "wal_status") == 0)
            sf->has_wal_status = true;
    }
    PQclear(res);

    res = agent_pg_query(conn, "SELECT 1 FROM pg_publication WHERE pubname = $1", 1, p,
                         "reading pg_publication", err);
    if (res == NULL)
        return -1;
    sf->pub_exists = PQntuples(res) == 1;
    PQclear(res);
    sf->pub = agent_pg_query(conn, pub_tables_sql, 1, p, "reading the publication's tables", err);
    if (sf->pub == NULL)
        return -1;

    /*
     * The time a slot has left only means something under a cap, so the
     * second of sampling is spent only then.
     */
    sf->rate = -1;
    sf->window = o->rate_window == 0 ? AGENT_SLOT_RATE_WINDOW_DEFAULT : o->rate_window;
    if (sf->keep_size < 0 || sf->window <= 0)
        return 0;
    for (int i = 0; i < 2; i++) {
        res = agent_pg_query(conn, "SELECT " AGENT_PG_WAL_LSN_SQL, 0, NULL,
                             "reading pg_current_wal_lsn()", err);
        if (res == NULL)
            return -1;
        if (cdc_lsn_parse(PQgetvalue(res, 0, 0), i == 0 ? &a : &b) < 0) {
            cdc_err_set(err, CDC_E_PG, "pg_current_wal_lsn() returned %s", PQgetvalue(res, 0, 0));
            PQclear(res);
            return -1;
        }
        PQclear(res);
        if (i == 0) {
            cdc_sleep_ms((int64_t) (sf->window * 1000));
        }
    }
    sf->rate = (double)(b - a) / sf->window;
    return 0;
}

/*
 * Builds one slot's object: the fields, then "warnings".  mine: this is the
 * pipeline's slot, so its publication's tables belong to it.
 */
static json_t *
slot_object(PGresult *res, int row, const server_facts *sf, const cfg_source *src,
            const agent_slot_opts *o, bool mine)
{
    json_t     *obj = json_object();
    json_t     *w = json_array();
    const char *name = PQgetvalue(res, row, COL_SLOT);
    const char *ws = isnull(res, row, COL_WAL_STATUS) ? "" : PQgetvalue(res, row, COL_WAL_STATUS);
    bool        active = PQgetvalue(res, row, COL_ACTIVE)[0] == 't';
    int64_t     warn_at = o->warn_retained_bytes > 0 ? o->warn_retained_bytes
                                                     : AGENT_SLOT_WARN_RETAINED_DEFAULT;
    char        b1[32], b2[32], b3[32];
    double      left = -1;
    int         col = COL_OPTIONAL;

    json_object_set_new(obj, "slot_name", json_string(name));
    json_object_set_new(obj, "plugin", str_or_null(res, row, COL_PLUGIN));
    json_object_set_new(obj, "active", json_boolean(active));
    json_object_set_new(obj, "active_pid", int_or_null(res, row, COL_PID));
    json_object_set_new(obj, "client_addr", str_or_null(res, row, COL_CLIENT));
    json_object_set_new(obj, "restart_lsn", str_or_null(res, row, COL_RESTART));
    json_object_set_new(obj, "confirmed_flush_lsn", str_or_null(res, row, COL_CONFIRMED));
    json_object_set_new(obj, "current_lsn", str_or_null(res, row, COL_CURRENT));
    json_object_set_new(obj, "retained_bytes", int_or_null(res, row, COL_RETAINED));
    json_object_set_new(obj, "retained",
                        isnull(res, row, COL_RETAINED) ? json_null()
                        : json_string(fmt_bytes(int_at(res, row, COL_RETAINED), b1, sizeof(b1))));
    json_object_set_new(obj, "lag_bytes", int_or_null(res, row, COL_LAG));
    json_object_set_new(obj, "lag",
                        isnull(res, row, COL_LAG) ? json_null()
                        : json_string(fmt_bytes(int_at(res, row, COL_LAG), b1, sizeof(b1))));
    json_object_set_new(obj, "wal_status", str_or_null(res, row, COL_WAL_STATUS));
    json_object_set_new(obj, "safe_wal_size", int_or_null(res, row, COL_SAFE));
    json_object_set_new(obj, "catalog_xmin_age", int_or_null(res, row, COL_XMIN_AGE));
    json_object_set_new(obj, "max_slot_wal_keep_size", json_integer(sf->keep_size));
    json_object_set_new(obj, "idle_replication_slot_timeout", json_integer(sf->idle_timeout));
    json_object_set_new(obj, "wal_rate_bytes_per_sec",
                        sf->rate < 0 ? json_null() : json_integer((json_int_t)sf->rate));
    if (sf->rate > 0 && !isnull(res, row, COL_SAFE) && int_at(res, row, COL_SAFE) > 0)
        left = (double)int_at(res, row, COL_SAFE) / sf->rate;
    json_object_set_new(obj, "time_left_seconds",
                        left < 0 ? json_null() : json_integer((json_int_t)left));
    for (int i = 0; i < NOPT; i++) {
        json_t *v;

        if (!sf->has_opt[i])
            continue;
        if (isnull(res, row, col))
            v = json_null();
        else if (opt_cols[i].kind == 'b')
            v = json_boolean(strcmp(PQgetvalue(res, row, col), "true") == 0);
        else if (opt_cols[i].kind == 'i')
            v = json_integer(int_at(res, row, col));
        else
            v = json_string(PQgetvalue(res, row, col));
        json_object_set_new(obj, opt_cols[i].name, v);
        col++;
    }

    /* The warnings, worst first; 17's invalidation_reason says more than wal_status lost. */
    if (json_is_string(json_object_get(obj, "invalidation_reason")) ||
        json_is_true(json_object_get(obj, "conflicting"))) {
        char why[400];

        agent_slot_warn(w, "slot %s was invalidated (%s): it can never stream again; "
                        "drop it and re-snapshot", name,
                        agent_slot_invalid_cause(json_is_string(json_object_get(obj, "invalidation_reason"))
                                                 ? json_string_value(json_object_get(obj, "invalidation_reason"))
                                                 : "conflicting", why, sizeof(why)));
    } else if (strcmp(ws, "lost") == 0)
        agent_slot_warn(w, "slot %s is lost (wal_status lost): its WAL was removed and it can never "
                        "stream again; drop it and let the agent create a new one with a snapshot", name);
    else if (strcmp(ws, "unreserved") == 0 ||
             (sf->keep_size > 0 && !isnull(res, row, COL_SAFE) &&
              int_at(res, row, COL_SAFE) < sf->keep_size / 5)) {
        char tl[96] = "";
        char dur[32];

        if (left >= 0)
            snprintf(tl, sizeof(tl), ", about %s at the current %s/s of WAL",
                     fmt_duration(left, dur, sizeof(dur)), fmt_bytes((int64_t)sf->rate, b3, sizeof(b3)));
        agent_slot_warn(w, "slot %s is about to be lost (wal_status %s): %s more WAL and "
                        "max_slot_wal_keep_size (%s) invalidates it%s; start its reader now",
                        name, ws[0] ? ws : "-",
                        isnull(res, row, COL_SAFE) ? "no" : fmt_bytes(int_at(res, row, COL_SAFE), b1, sizeof(b1)),
                        fmt_bytes(sf->keep_size, b2, sizeof(b2)), tl);
    }
    if (!active && !isnull(res, row, COL_RETAINED) && int_at(res, row, COL_RETAINED) > warn_at)
        agent_slot_warn(w, "slot %s is inactive and retains %s of WAL (more than %s): nobody reads it, so "
                        "the server keeps its WAL until a reader catches up or the slot is dropped",
                        name, fmt_bytes(int_at(res, row, COL_RETAINED), b1, sizeof(b1)),
                        fmt_bytes(warn_at, b2, sizeof(b2)));
    if (sf->idle_timeout > 0 && !active && strcmp(ws, "lost") != 0) {
        json_t *idle = json_object_get(obj, "inactive_seconds");
        int64_t s = json_is_integer(idle) ? json_integer_value(idle) : -1;
        char    dur[32], tmo[32];

        fmt_duration((double) sf->idle_timeout, tmo, sizeof(tmo));
        if (s >= sf->idle_timeout)
            agent_slot_warn(w, "slot %s has been inactive for %s, longer than idle_replication_slot_timeout "
                            "(%s): the next checkpoint invalidates it; start its reader now", name,
                            fmt_duration((double) s, dur, sizeof(dur)), tmo);
        else if (s >= 0)
            agent_slot_warn(w, "slot %s is inactive (for %s) and idle_replication_slot_timeout (%s) "
                            "invalidates it at the first checkpoint after about %s more; start its "
                            "reader before then", name, fmt_duration((double) s, dur, sizeof(dur)), tmo,
                            fmt_duration((double) (sf->idle_timeout - s), b3, sizeof(b3)));
    }
    if (!sf->has_keep_size)
        agent_slot_warn(w, "PostgreSQL 12 has no max_slot_wal_keep_size: a slot nobody reads retains WAL "
                        "until the disk is full; watch the WAL it retains (13 and later can cap it)");
    else if (sf->keep_size < 0)
        agent_slot_warn(w, "max_slot_wal_keep_size is -1 (unlimited): a slot nobody reads retains WAL "
                        "until the disk is full; set it to what the WAL volume can spare");

    if (mine) {
        json_t *pub = json_object();
        json_t *tabs = json_array();

        json_object_set_new(pub, "name", json_string(src->publication_name));
        json_object_set_new(pub, "exists", json_boolean(sf->pub_exists));
        for (int r = 0; r < PQntuples(sf->pub); r++) {
            json_t     *t = json_object();
            const char *tn = PQgetvalue(sf->pub, r, 0);
            char        ri = PQgetvalue(sf->pub, r, 1)[0];
            bool        pk = PQgetvalue(sf->pub, r, 2)[0] == 't';
            bool        ri_index = PQgetvalue(sf->pub, r, 3)[0] == 't';
            bool        changes = PQgetvalue(sf->pub, r, 4)[0] == 't';
            const char *sqlname = PQgetvalue(sf->pub, r, 5);   /* quoted for the statement */

            json_object_set_new(t, "table", json_string(tn));
            json_object_set_new(t, "replica_identity", json_string(replident_name(PQgetvalue(sf->pub, r, 1))));
            json_object_set_new(t, "primary_key", json_boolean(pk));
            json_array_append_new(tabs, t);
            if (!changes)
                continue;   /* an insert-only publication needs no identity */
            if (ri == 'n' || (ri == 'd' && !pk) || (ri == 'i' && !ri_index))
                agent_slot_warn(w, "table %s has no primary key and no replica identity: UPDATE and DELETE "
                                "on it fail while it is published; add a primary key or "
                                "ALTER TABLE %s REPLICA IDENTITY FULL", tn, sqlname);
            else if (ri == 'f' && !pk)
                agent_slot_warn(w, "table %s has no primary key (REPLICA IDENTITY FULL): its change events "
                                "have no key", tn);
        }
        json_object_set_new(pub, "tables", tabs);
        json_object_set_new(obj, "publication", pub);
    }
    json_object_set_new(obj, "warnings", w);
    return obj;
}

static const char *
jstr(json_t *obj, const char *key, char *buf, size_t bufsz)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL || json_is_null(v))
        return "-";
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v))
        snprintf(buf, bufsz, "%lld", (long long)json_integer_value(v));
    else
        snprintf(buf, bufsz, "%s", json_is_true(v) ? "true" : "false");
    return buf;
}

/* The agent's last report of its initial snapshot (docs/snapshots.md, Progress). */
static void
print_snapshot(json_t *s)
{
    double      rem = json_number_value(json_object_get(s, "remaining_seconds"));
    const char *table = json_string_value(json_object_get(s, "table"));
    char        b1[32];

    if (!json_is_object(s))
        return;
    printf("%-26s %s, %lld of %lld tables, %lld rows of about %lld, %.0f rows/s%s%s\n",
           "snapshot", json_string_value(json_object_get(s, "state")),
           (long long) json_integer_value(json_object_get(s, "tables_done")),
           (long long) json_integer_value(json_object_get(s, "tables_total")),
           (long long) json_integer_value(json_object_get(s, "rows")),
           (long long) json_integer_value(json_object_get(s, "rows_estimated")),
           json_number_value(json_object_get(s, "rows_per_second")),
           table ? ", reading " : "", table ? table : "");
    if (rem > 0)
        printf("%-26s about %.0f s\n", "snapshot time left", rem);
    if (json_integer_value(json_object_get(s, "wal_retained_bytes")) >= 0)
        printf("%-26s %s (at the snapshot's last report)\n", "WAL retained by snapshot",
               fmt_bytes(json_integer_value(json_object_get(s, "wal_retained_bytes")), b1,
                         sizeof(b1)));
}

/* The incremental snapshot's progress, from the slot's record (docs/snapshots.md). */
static void
print_incremental(json_t *s)
{
    const char *table = json_string_value(json_object_get(s, "table"));
    char       *after, *max;

    if (!json_is_object(s))
        return;
    printf("%-26s %s, %lld tables done, %zu remaining, %lld chunks, %lld rows (signal %s)\n",
           "incremental snapshot", json_string_value(json_object_get(s, "state")),
           (long long) json_integer_value(json_object_get(s, "tables_done")),
           json_array_size(json_object_get(s, "tables_remaining")),
           (long long) json_integer_value(json_object_get(s, "chunks")),
           (long long) json_integer_value(json_object_get(s, "rows")),
           json_string_value(json_object_get(s, "id")));
    if (table == NULL)
        return;
    after = json_dumps(json_object_get(s, "after_key"), JSON_COMPACT | JSON_ENCODE_ANY);
    max = json_dumps(json_object_get(s, "max_key"), JSON_COMPACT | JSON_ENCODE_ANY);
    printf("%-26s %s after key %s, up to key %s\n", "incremental reading", table,
           after ? after : "-", max ? max : "-");
    free(after);
    free(max);
}

/* The standby side (agent_failover_status), PostgreSQL 17+. */
static void
print_ha(json_t *ha)
{
    json_t *v;
    size_t  i;

    if (ha == NULL)
        return;
    v = json_object_get(ha, "synchronized_standby_slots");
    printf("%-26s %s\n", "synchronized_standby_slots",
           json_string_length(v) ? json_string_value(v) : "(empty)");
    json_array_foreach(json_object_get(ha, "physical_slots"), i, v)
        printf("  physical slot %-26s %s, restart_lsn %s\n",
               json_string_value(json_object_get(v, "slot_name")),
               json_is_true(json_object_get(v, "active")) ? "active" : "INACTIVE",
               json_is_string(json_object_get(v, "restart_lsn"))
                   ? json_string_value(json_object_get(v, "restart_lsn")) : "-");
    json_array_foreach(json_object_get(ha, "standbys"), i, v) {
        json_t *c = json_object_get(v, "slot");

        if (json_is_string(json_object_get(v, "error")))
            printf("  standby %-32s unreachable: %s\n", json_string_value(json_object_get(v, "host")),
                   json_string_value(json_object_get(v, "error")));
        else if (!json_is_object(c))
            printf("  standby %-32s NO COPY of the slot\n",
                   json_string_value(json_object_get(v, "host")));
        else
            printf("  standby %-32s synced %s, failover %s, confirmed_flush_lsn %s\n",
                   json_string_value(json_object_get(v, "host")),
                   json_is_true(json_object_get(c, "synced")) ? "yes" : "NO",
                   json_is_true(json_object_get(c, "failover")) ? "on" : "off",
                   json_is_string(json_object_get(c, "confirmed_flush_lsn"))
                       ? json_string_value(json_object_get(c, "confirmed_flush_lsn")) : "-");
    }
}

static void
print_table(json_t *obj, const server_facts *sf)
{
    static const struct { const char *label, *key; } rows[] = {
        { "slot", "slot_name" },
        { "plugin", "plugin" },
        { "active", "active" },
        { "active pid", "active_pid" },
        { "client address", "client_addr" },
        { "restart_lsn", "restart_lsn" },
        { "confirmed_flush_lsn", "confirmed_flush_lsn" },
        { "current WAL LSN", "current_lsn" },
        { "wal_status", "wal_status" },
        { "catalog_xmin age", "catalog_xmin_age" },
    };
    char    buf[64], b1[32], b2[32];
    json_t *v, *pub;
    size_t  i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        printf("%-26s %s\n", rows[i].label, jstr(obj, rows[i].key, buf, sizeof(buf)));
    printf("%-26s %s (%s bytes)\n", "WAL retained", jstr(obj, "retained", b1, sizeof(b1)),
           jstr(obj, "retained_bytes", buf, sizeof(buf)));
    printf("%-26s %s (%s bytes)\n", "not yet confirmed", jstr(obj, "lag", b1, sizeof(b1)),
           jstr(obj, "lag_bytes", buf, sizeof(buf)));
    v = json_object_get(obj, "safe_wal_size");
    if (json_is_integer(v))
        printf("%-26s %s (%lld bytes)\n", "safe_wal_size",
               fmt_bytes(json_integer_value(v), b1, sizeof(b1)), (long long)json_integer_value(v));
    else
        printf("%-26s -\n", "safe_wal_size");
    printf("%-26s %s\n", "max_slot_wal_keep_size",
           !sf->has_keep_size ? "- (PostgreSQL 12 has none)"
           : sf->keep_size < 0 ? "-1 (unlimited)" : fmt_bytes(sf->keep_size, b1, sizeof(b1)));
    if (sf->keep_size < 0)
        printf("%-26s - (no max_slot_wal_keep_size)\n", "time left");
    else if (sf->rate < 0)
        printf("%-26s - (WAL rate not measured)\n", "time left");
    else if (sf->rate == 0)
        printf("%-26s - (no WAL written in %.1f s)\n", "time left", sf->window);
    else if (json_is_integer(v = json_object_get(obj, "time_left_seconds")))
        printf("%-26s about %s at %s/s of WAL\n", "time left",
               fmt_duration((double)json_integer_value(v), b1, sizeof(b1)),
               fmt_bytes((int64_t)sf->rate, b2, sizeof(b2)));
    else
        printf("%-26s - (WAL %s/s)\n", "time left", fmt_bytes((int64_t)sf->rate, b2, sizeof(b2)));
    if (sf->idle_timeout > 0)
        printf("%-26s %s (idle_replication_slot_timeout)\n", "idle slot timeout",
               fmt_duration((double) sf->idle_timeout, b1, sizeof(b1)));
    for (int k = 0; k < NOPT; k++)
        if (sf->has_opt[k])
            printf("%-26s %s\n", opt_cols[k].name, jstr(obj, opt_cols[k].name, buf, sizeof(buf)));
    pub = json_object_get(obj, "publication");
    if (pub) {
        json_t *tabs = json_object_get(pub, "tables");
        size_t  n;

        printf("%-26s %s%s\n", "publication", json_string_value(json_object_get(pub, "name")),
               json_is_true(json_object_get(pub, "exists")) ? "" : " (does not exist)");
        json_array_foreach(tabs, n, v)
            printf("  %-40s replica identity %-8s %s\n",
                   json_string_value(json_object_get(v, "table")),
                   json_string_value(json_object_get(v, "replica_identity")),
                   json_is_true(json_object_get(v, "primary_key")) ? "primary key" : "NO PRIMARY KEY");
    }
    print_snapshot(json_object_get(obj, "snapshot"));
    print_incremental(json_object_get(obj, "incremental_snapshot"));
    print_ha(json_object_get(obj, "ha"));
    json_array_foreach(json_object_get(obj, "warnings"), i, v)
        printf("warning: %s\n", json_string_value(v));
}

int
agent_slot_status(const cdc_config *cfg, const agent_slot_opts *o, int *nwarnings,
                  cdc_err *err)
{
    const cfg_source *src = &cfg->pipeline.source;
    const char       *p[1] = { src->slot_name };
    server_facts      sf = { 0 };
    PGconn           *conn = agent_pg_connect(src, false, err);
    PGresult         *res = NULL;
    json_t           *all = json_array();
    char              sql[2048];
    size_t            len;
    int               rc = -1;

    *nwarnings = 0;
    if (conn == NULL)
        goto out;
    if (read_server_facts(conn, src, o, &sf, err) < 0)
        goto out;
    len = (size_t)snprintf(sql, sizeof(sql), status_cols, sf.has_wal_status ? status_ws : status_ws12);
    for (int i = 0; i < NOPT; i++) {
        if (!sf.has_opt[i])
            continue;
        if (opt_cols[i].expr)
            len += (size_t)snprintf(sql + len, sizeof(sql) - len, ", %s", opt_cols[i].expr);
        else
            len += (size_t)snprintf(sql + len, sizeof(sql) - len, ", s.%s::text", opt_cols[i].column);
    }
    snprintf(sql + len, sizeof(sql) - len, "%s WHERE %s ORDER BY s.slot_name", status_from,
             o->all ? "s.database = current_database()" : "s.slot_name = $1");
    res = agent_pg_query(conn, sql, o->all ? 0 : 1, o->all ? NULL : p,
                         "reading pg_replication_slots", err);
    if (res == NULL)
        goto out;
    if (PQntuples(res) == 0 && !o->all) {
        cdc_err_set(err, CDC_E_STATE, "slot %s does not exist in %s:%s", src->slot_name,
                    PQhost(conn), PQport(conn));
        goto out;
    }
    for (int r = 0; r < PQntuples(res); r++) {
        bool    mine = strcmp(PQgetvalue(res, r, COL_SLOT), src->slot_name) == 0;
        json_t *obj = slot_object(res, r, &sf, src, o, mine);

        if (mine && o->snapshot)
            json_object_set(obj, "snapshot", o->snapshot);
        if (mine && o->incremental)
            json_object_set(obj, "incremental_snapshot", o->incremental);
        if (mine && PQserverVersion(conn) >= AGENT_PG_FAILOVER_VERSION) {
            json_t *ha = json_object();

            agent_failover_status(conn, src, json_is_true(json_object_get(obj, "failover")), ha,
                                  json_object_get(obj, "warnings"));
            json_object_set_new(obj, "ha", ha);
        }

        *nwarnings += (int)json_array_size(json_object_get(obj, "warnings"));
        json_array_append_new(all, obj);
    }
    if (o->json) {
        char *s = json_dumps(o->all ? all : json_array_get(all, 0),
                             JSON_INDENT(2) | JSON_PRESERVE_ORDER);

        if (s)
            printf("%s\n", s);
        free(s);
    } else {
        size_t  i;
        json_t *obj;

        if (o->all && json_array_size(all) == 0)
            printf("no replication slots in database %s\n", src->database);
        json_array_foreach(all, i, obj) {
            if (i > 0)
                printf("\n");
            print_table(obj, &sf);
        }
    }
    rc = 0;
out:
    json_decref(all);
    PQclear(sf.pub);
    PQclear(res);
    PQfinish(conn);
    return rc;
}

/*
 * The lock's two keys: a constant for cdcagent and the slot name's hash.  A
 * slot name is unique in the cluster but an advisory lock is per database,
 * which is enough: a logical slot belongs to one database.  %s is the slot
 * name as a literal: the statements also run on a replication connection,
 * which takes the simple query protocol only.
 */
static const char slot_lock_sql[] =
    "SELECT pg_try_advisory_lock(hashtext('cdcagent replication slot'), hashtext(%s))";

/* The holder's connection in words; another role's is shown only by pid and role. */
static const char slot_holder_sql[] =
    "SELECT CASE WHEN a.backend_start IS NULL"
    "            THEN format('pid %%s on the server, role %%s', a.pid, a.usename)"
    "            ELSE format('pid %%s on the server, connected from %%s as application %%s "
    "since %%s', a.pid, coalesce(host(a.client_addr), 'a local socket'),"
    "                        coalesce(nullif(a.application_name, ''), '?'),"
    "                        to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS TZ')) END"
    "  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2"
    "   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    "   AND l.classid = hashtext('cdcagent replication slot')::oid"
    "   AND l.objid = hashtext(%s)::oid";

/* One of the statements above with the slot's name in it; NULL with err set. */
static PGresult *
lock_query(PGconn *conn, const char *fmt, const char *slot, const char *what, cdc_err *err)
{
    char      sql[1024];
    char     *lit = PQescapeLiteral(conn, slot, strlen(slot));
    PGresult *res;

    if (lit == NULL) {
        cdc_err_set(err, CDC_E_CONN, "slot %s: %s: %s", slot, what, PQerrorMessage(conn));
        return NULL;
    }
    snprintf(sql, sizeof(sql), fmt, lit, lit);
    PQfreemem(lit);
    res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

        cdc_err_set(err, PQstatus(conn) == CONNECTION_BAD ? CDC_E_CONN : CDC_E_PG,
                    "slot %s: %s: %s", slot, what, m ? m : PQerrorMessage(conn));
        PQclear(res);
        return NULL;
    }
    return res;
}

int
agent_slot_lock(PGconn *conn, const cfg_source *src, cdc_err *err)
{
    PGresult *res;
    bool      got;

    res = lock_query(conn, slot_lock_sql, src->slot_name, "taking the agents' lock on it", err);
    if (res == NULL)
        return -1;
    got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (got)
        return 0;
    /* Who holds it; it may be gone already, then say so rather than retry. */
    res = lock_query(conn, slot_holder_sql, src->slot_name, "reading who holds its lock", err);
    if (res == NULL)
        return cdc_err_wrap(err, "slot %s is in use by another agent", src->slot_name);
    if (PQntuples(res) == 0)
        cdc_err_set(err, CDC_E_STATE, "slot %s is in use by another agent (pid unknown: it "
                    "stopped a moment ago); run one agent per slot", src->slot_name);
    else
        cdc_err_set(err, CDC_E_STATE, "slot %s is in use by another agent (%s); run one "
                    "agent per slot", src->slot_name, PQgetvalue(res, 0, 0));
    PQclear(res);
    return -1;
}

int
agent_slot_create(const cdc_config *cfg, cdc_err *err)
{
    PGconn      *conn = agent_pg_connect(&cfg->pipeline.source, false, err);
    repl_stream *rs;
    uint64_t     cp;
    char         lsn[CDC_LSN_STRLEN];
    int          rc;

    if (conn == NULL)
        return -1;
    /* The agents' lock, held until the slot exists; then the publication first:
       pgoutput needs it to exist at the slot's start. */
    if (agent_slot_lock(conn, &cfg->pipeline.source, err) < 0 ||
        agent_ensure_publication(conn, &cfg->pipeline.source, err) < 0) {
        PQfinish(conn);
        return -1;
    }
    rs = repl_open(&cfg->pipeline.source, err);
    if (rs == NULL) {
        PQfinish(conn);
        return -1;
    }
    rc = agent_failover_prepare(conn, repl_conn(rs), &cfg->pipeline.source, false, err);
    if (rc == 0)
        agent_standby_slot_note(conn, cfg->pipeline.source.slot_name);
    if (rc == 0)
        rc = repl_create_slot(rs, cfg->pipeline.source.slot_name, false,
                              cfg->pipeline.source.slot_failover, &cp, NULL, 0, err);
    if (rc == 0)
        printf("slot %s created at %s\n", cfg->pipeline.source.slot_name, cdc_lsn_format(cp, lsn));
    repl_close(rs);
    PQfinish(conn);
    return rc;
}

int
agent_slot_drop(const cdc_config *cfg, cdc_err *err)
{
    const cfg_source *src = &cfg->pipeline.source;
    PGconn           *conn = agent_pg_connect(src, false, err);
    const char       *p[1] = { src->slot_name };
    PGresult         *res;

    if (conn == NULL)
        return -1;
    res = agent_pg_query(conn, "SELECT pg_drop_replication_slot($1)", 1, p, "dropping the slot", err);
    PQfinish(conn);
    if (res == NULL)
        return cdc_err_wrap(err, "slot %s", src->slot_name);
    PQclear(res);
    printf("slot %s dropped\n", src->slot_name);
    return 0;
}

int
agent_slot_advance(const cdc_config *cfg, const char *lsn, cdc_err *err)
{
    const cfg_source *src = &cfg->pipeline.source;
    const char       *p[2] = { src->slot_name, lsn };
    PGconn           *conn;
    PGresult         *res = NULL;
    uint64_t          target;
    char              before[CDC_LSN_STRLEN] = "-";
    int               rc = -1;

    if (cdc_lsn_parse(lsn, &target) < 0)
        return cdc_err_set(err, CDC_E_CONFIG, "\"%s\" is not an LSN (expected X/Y, as 0/16B3748)",
                           lsn);
    conn = agent_pg_connect(src, false, err);
    if (conn == NULL)
        return -1;
    res = agent_pg_query(conn, "SELECT confirmed_flush_lsn FROM pg_replication_slots"
                               " WHERE slot_name = $1", 1, p, "reading pg_replication_slots", err);
    if (res == NULL)
        goto out;
    if (PQntuples(res) == 0) {
        cdc_err_set(err, CDC_E_STATE, "slot %s does not exist in %s:%s", src->slot_name,
                    PQhost(conn), PQport(conn));
        goto out;
    }
    if (!PQgetisnull(res, 0, 0))
        snprintf(before, sizeof(before), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    /* Needs REPLICATION (or superuser); the server refuses while a reader holds the slot. */
    res = agent_pg_query(conn, "SELECT end_lsn FROM pg_replication_slot_advance($1, $2::pg_lsn)",
                         2, p, "pg_replication_slot_advance", err);
    if (res == NULL) {
        cdc_err_wrap(err, "slot %s", src->slot_name);
        goto out;
    }
    /* A target behind the slot is not an error: the slot stays where it is. */
    printf("slot %s advanced from %s to %s\n", src->slot_name, before, PQgetvalue(res, 0, 0));
    rc = 0;
out:
    PQclear(res);
    PQfinish(conn);
    return rc;
}
