/*
 * What needs no YAML at hand: the spelling of source.tables entries, what
 * this build can run (cfg_validate), and small helpers for users of a loaded
 * configuration.
 */
#include "agent/config/config.h"

#include <stdio.h>
#include <string.h>

/* One part of a source.tables entry into out (at most 63 bytes); returns its end or NULL. */
static const char *
table_part(const char *p, char *out, const char **why)
{
    size_t n = 0;

    if (*p == '"') {
        for (p++;; p++) {
            if (*p == '\0') {
                *why = "has a double quote that is not closed (write a quote inside a quoted "
                       "name as \"\")";
                return NULL;
            }
            if (*p == '"' && p[1] != '"')
                break;
            if (*p == '"')
                p++;                    /* "" is one quote */
            if (n == CFG_NAME_MAX) {
                *why = "has a schema or table name longer than 63 bytes (PostgreSQL's limit)";
                return NULL;
            }
            out[n++] = *p;
        }
        p++;
        if (n == 0) {
            *why = "has an empty quoted name";
            return NULL;
        }
    } else {
        for (; *p && *p != '.'; p++) {
            if (*p == '"') {
                *why = "has a double quote inside an unquoted name (quote the whole name "
                       "and double the quote: public.\"my\"\"table\")";
                return NULL;
            }
            if (n == CFG_NAME_MAX) {
                *why = "has a schema or table name longer than 63 bytes (PostgreSQL's limit)";
                return NULL;
            }
            out[n++] = *p;
        }
        if (n == 0) {
            *why = "must be schema-qualified, schema.table (e.g. public.customers)";
            return NULL;
        }
        if (strchr(" \t\r\n", out[0]) || strchr(" \t\r\n", out[n - 1])) {
            *why = "has a name that starts or ends with white space (quote it as in SQL if "
                   "that is its real name)";
            return NULL;
        }
    }
    out[n] = '\0';
    return p;
}

/*
 * source.tables entries: schema.table, each part either as written (any
 * characters but '.' and '"', case kept: it is not folded to lower case
 * as SQL would) or in SQL's double quotes with "" for a quote, which a name
 * containing a dot or a quote needs.  See cfg_table_split in config.h.
 */
const char *
cfg_table_split(const char *spelled, char *schema, char *table)
{
    const char *why = NULL;
    const char *p = table_part(spelled, schema, &why);

    if (p == NULL)
        return why;
    if (*p != '.')
        return *p == '\0' ? "must be schema-qualified, schema.table (e.g. public.customers)"
                            : "has text after a quoted name (a quoted name ends the schema or "
                              "the table)";
    p = table_part(p + 1, table, &why);
    if (p == NULL)
        return why;
    if (*p == '.')
        return "has more than one '.': quote a schema or table name that contains a dot, "
               "e.g. public.\"my.table\"";
    if (*p != '\0')
        return "has text after a quoted name (a quoted name ends the schema or the table)";
    return NULL;
}

bool
cfg_source_by_pattern(const cfg_source *s)
{
    return (s->table_include_list && *s->table_include_list) ||
           (s->table_exclude_list && *s->table_exclude_list) ||
           (s->schema_include_list && *s->schema_include_list) ||
           (s->schema_exclude_list && *s->schema_exclude_list);
}

const char *
cfg_row_filter(const cfg_source *s, const char *schema, const char *table)
{
    for (int i = 0; i < s->row_filters.n; i++) {
        char fs[CFG_NAME_MAX + 1], ft[CFG_NAME_MAX + 1];

        if (cfg_table_split(s->row_filters.items[i].key, fs, ft) == NULL &&
            strcmp(fs, schema) == 0 && strcmp(ft, table) == 0)
            return s->row_filters.items[i].value;
    }
    return NULL;
}

/* Every source.row_filters key names a table of source.tables. */
static int
check_row_filters(const cdc_config *cfg, cdc_err *err)
{
    const cfg_source *s = &cfg->pipeline.source;

    for (int i = 0; i < s->row_filters.n; i++) {
        const char *key = s->row_filters.items[i].key, *why;
        char        fs[CFG_NAME_MAX + 1], ft[CFG_NAME_MAX + 1];
        bool        listed = false;

        if ((why = cfg_table_split(key, fs, ft)) != NULL)
            return cdc_err_set(err, CDC_E_CONFIG, "%s: source.row_filters: key \"%s\" %s",
                               cfg->pipeline_path, key, why);
        for (int t = 0; t < s->ntables && !listed; t++) {
            char ts[CFG_NAME_MAX + 1], tt[CFG_NAME_MAX + 1];

            listed = cfg_table_split(s->tables[t], ts, tt) == NULL && strcmp(ts, fs) == 0 &&
                     strcmp(tt, ft) == 0;
        }
        /* by pattern, the tables are known at start: agent_tablepat_resolve() checks */
        if (!listed && !cfg_source_by_pattern(s))
            return cdc_err_set(err, CDC_E_CONFIG, "%s: source.row_filters: table %s is not "
                               "in source.tables", cfg->pipeline_path, key);
        if (!*s->row_filters.items[i].value)
            return cdc_err_set(err, CDC_E_CONFIG, "%s: source.row_filters: the condition of "
                               "table %s is empty", cfg->pipeline_path, key);
    }
    return 0;
}

/*
 * What this build can run.  Every "not supported yet" lives here: lift a
 * line when its transport or sink lands.
 */
int
cfg_validate(const cdc_config *cfg, cdc_err *err)
{
    const cfg_pipeline *pl = &cfg->pipeline;
    int                 enabled = 0;

    if (pl->source.source_type != CFG_SOURCE_POSTGRES)
        return cdc_err_set(err, CDC_E_UNSUPPORTED, "%s: source.source_type: %s is not "
                           "supported: cdcagent captures PostgreSQL only", cfg->pipeline_path,
                           pl->source.source_type == CFG_SOURCE_MYSQL ? "mysql"
                           : pl->source.source_type == CFG_SOURCE_MONGODB ? "mongodb"
                                                                          : "sqlserver");
    if (check_row_filters(cfg, err) < 0)
        return -1;
    /* With a transport, the platform's consumers feed the sinks: cdcagent only publishes. */
    if (cfg->platform.transport_mode == CFG_TRANSPORT_KAFKA ||
        cfg->platform.transport_mode == CFG_TRANSPORT_PUBSUB ||
        cfg->platform.transport_mode == CFG_TRANSPORT_KINESIS)
        return 0;
    for (int i = 0; i < pl->nsinks; i++) {
        const cfg_sink *sk = &pl->sinks[i];

        if (!sk->enabled)
            continue;
        if (sk->sink_type == CFG_SINK_POSTGRES && sk->postgres.mode == CFG_PG_SINK_EVENT_LOG &&
            (sk->postgres.target_table == NULL || !*sk->postgres.target_table))
            return cdc_err_set(err, CDC_E_CONFIG, "%s: sinks[%d] (sink_id %s): "
                               "postgres.target_table is required with mode event_log",
                               cfg->pipeline_path, i, sk->sink_id);
        if (sk->sink_type == CFG_SINK_ICEBERG && sk->iceberg.table_name &&
            sk->iceberg.table_name[0] && pl->source.ntables != 1)
            return cdc_err_set(err, CDC_E_CONFIG, "%s: sinks[%d] (sink_id %s): "
                               "iceberg.table_name (%s) names one table, but source.tables "
                               "captures %d: leave table_name out to get one Iceberg table per "
                               "source table (<schema>_<table>)", cfg->pipeline_path, i,
                               sk->sink_id, sk->iceberg.table_name, pl->source.ntables);
        enabled++;
    }
    if (enabled == 0)
        return cdc_err_set(err, CDC_E_CONFIG, "%s: sinks: transport_mode direct needs at least "
                           "one enabled sink", cfg->pipeline_path);
    return 0;
}


/* ---- small helpers for users of the config ---- */

/* Session settings that fix the text form of every value the decoder parses. */
#define CFG_SESSION_OPTIONS \
    "-c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3 " \
    "-c TimeZone=UTC -c bytea_output=hex -c lc_monetary=C"

/* Appends "sep" and n bytes of v to out (of size sz, holding used); false when it does not fit. */
static bool
list_add(char *out, size_t sz, size_t *used, const char *v, size_t n)
{
    int w = snprintf(out + *used, sz - *used, "%s%.*s", *used ? "," : "", (int) n, v);

    if (w < 0 || (size_t) w >= sz - *used)
        return false;
    *used += (size_t) w;
    return true;
}

const char *
cfg_host_list(const char *spelled, int port, char *hosts, size_t hsz, char *ports, size_t psz,
              int *nhosts)
{
    const char *p = spelled;
    size_t      hu = 0, pu = 0;
    char        dflt[8];

    snprintf(dflt, sizeof(dflt), "%d", port);
    *nhosts = 0;
    hosts[0] = ports[0] = '\0';
    if (*spelled == '\0') {                    /* libpq's default: the local socket */
        snprintf(ports, psz, "%s", dflt);
        *nhosts = 1;
        return NULL;
    }
    for (;;) {
        const char *end = p + strcspn(p, ",");
        const char *h = p, *hend = end, *colon = NULL, *pp = dflt;
        size_t      pn = strlen(dflt);

        if (*p == '[') {                        /* [IPv6]:port */
            const char *rb = memchr(p, ']', (size_t) (end - p));

            if (rb == NULL)
                return "has a '[' without its ']' (write an IPv6 address as [::1]:5432)";
            h = p + 1, hend = rb;
            if (rb + 1 < end) {
                if (rb[1] != ':')
                    return "has something other than :port after an IPv6 address in []";
                colon = rb + 1;
            }
        } else {
            colon = memchr(p, ':', (size_t) (end - p));
            /* A bare IPv6 address (several colons) is a host without a port. */
            if (colon && memchr(colon + 1, ':', (size_t) (end - colon - 1)))
                colon = NULL;
            if (colon)
                hend = colon;
        }
        if (hend == h)
            return "has an empty host (write host or host:port, separated by commas)";
        if (colon) {
            long v = 0;

            pp = colon + 1, pn = (size_t) (end - pp);
            for (size_t i = 0; i < pn; i++)
                v = (pp[i] >= '0' && pp[i] <= '9' && v < 100000) ? v * 10 + (pp[i] - '0') : -1;
            if (pn == 0 || pn > 5 || v < 1 || v > 65535)
                return "has a port that is not a number from 1 to 65535 (host:port)";
        }
        if (!list_add(hosts, hsz, &hu, h, (size_t) (hend - h)) ||
            !list_add(ports, psz, &pu, pp, pn))
            return "lists more hosts than fit (at most about 1000 characters)";
        (*nhosts)++;
        if (*end == '\0')
            return NULL;
        p = end + 1;
    }
}

int
cfg_source_conn_params(const cfg_source *s, bool replication, cfg_conn_params *p)
{
    int n = 0, nhosts = 1;

    /* config.c checked the spelling (source.host); an unparsable one passes as written. */
    if (cfg_host_list(s->host, s->port, p->host, sizeof(p->host), p->port, sizeof(p->port),
                      &nhosts) != NULL) {
        snprintf(p->host, sizeof(p->host), "%s", s->host);
        snprintf(p->port, sizeof(p->port), "%d", s->port);
        nhosts = 1;
    }
    p->keys[n] = "host", p->vals[n++] = p->host;
    p->keys[n] = "port", p->vals[n++] = p->port;
    if (s->target_session_attrs && *s->target_session_attrs)
        p->keys[n] = "target_session_attrs", p->vals[n++] = s->target_session_attrs;
    else if (nhosts > 1)
        p->keys[n] = "target_session_attrs", p->vals[n++] = "read-write";
    p->keys[n] = "dbname", p->vals[n++] = s->database;
    p->keys[n] = "user", p->vals[n++] = s->username;
    p->keys[n] = "password", p->vals[n++] = s->password;
    p->keys[n] = "application_name", p->vals[n++] = "cdcagent";
    /* libpq passes options to the server, which splits it at spaces (pg_split_opts) */
    p->keys[n] = "options", p->vals[n++] = CFG_SESSION_OPTIONS;
    p->keys[n] = "connect_timeout", p->vals[n++] = "10";
    if (s->sslmode && *s->sslmode)
        p->keys[n] = "sslmode", p->vals[n++] = s->sslmode;
    if (s->sslrootcert && *s->sslrootcert)
        p->keys[n] = "sslrootcert", p->vals[n++] = s->sslrootcert;
    if (s->sslcert && *s->sslcert)
        p->keys[n] = "sslcert", p->vals[n++] = s->sslcert;
    if (s->sslkey && *s->sslkey)
        p->keys[n] = "sslkey", p->vals[n++] = s->sslkey;
    if (replication)
        p->keys[n] = "replication", p->vals[n++] = "database";
    p->keys[n] = NULL;
    p->vals[n] = NULL;
    return n;
}

const char *
cfg_sink_type_name(cfg_sink_type t)
{
    static const char *const names[] = {
        [CFG_SINK_WEBHOOK] = "webhook", [CFG_SINK_POSTGRES] = "postgres",
        [CFG_SINK_ICEBERG] = "iceberg", [CFG_SINK_JSONL] = "jsonl",
    };

    return (unsigned) t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

const char *
cfg_transport_mode_name(cfg_transport_mode m)
{
    static const char *const names[] = {
        [CFG_TRANSPORT_KAFKA] = "kafka", [CFG_TRANSPORT_PUBSUB] = "pubsub",
        [CFG_TRANSPORT_KINESIS] = "kinesis", [CFG_TRANSPORT_DIRECT] = "direct",
    };

    return (unsigned) m < sizeof(names) / sizeof(names[0]) ? names[m] : "?";
}

cdc_retry_conf
cfg_retry_conf(const cfg_retry *r)
{
    return (cdc_retry_conf) {
        .max_attempts = r->max_attempts,
        .initial_ms = (int) (r->initial_wait_seconds * 1000),
        .max_ms = (int) (r->max_wait_seconds * 1000),
        .multiplier = r->multiplier,
        .jitter = r->jitter,
    };
}
