/*
 * The dead-letter table (dlq.h describes the guarantees).  One blocking
 * libpq connection, opened on demand; every statement is one autocommit
 * statement, so a 0 return means committed (synchronous_commit is forced on
 * for the session).  Text that is not valid UTF-8 (a refusing receiver's
 * answer cut in the middle of a character) is stored with the bad bytes
 * replaced by U+FFFD: a server in UTF8 would refuse it, and a statement the
 * server refuses every time would stop the pipeline for good.
 */
#include "agent/core/dest/dlq_int.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"
#include "agent/core/net/pgconn.h"

#define DLQ_FAC "dest.dlq"

struct dlq_pg {
    char   *conninfo;       /* a secret: never in a message */
    char   *qtable;         /* the table name, quoted for SQL */
    char   *label;          /* "table <name>" */
    PGconn *conn;
};

/* "name" or "schema.name", each part quoted; a name with a quote in it is taken as written. */
static char *
quote_table(const char *name)
{
    const char *dot = strchr(name, '.');
    size_t      n = 2 * strlen(name) + 8;
    char       *out;

    if (strchr(name, '"'))
        return cdc_xstrdup(name);
    out = cdc_xmalloc(n);
    if (dot == NULL) {
        agent_pg_quote_table(NULL, name, out, n);
    } else {
        char *schema = cdc_xstrndup(name, (size_t) (dot - name));

        agent_pg_quote_table(schema, dot + 1, out, n);
        free(schema);
    }
    return out;
}

dlq_pg *
dlq_pg_open(const char *conninfo, const char *table, cdc_err *err)
{
    PQconninfoOption *opts;
    char             *perr = NULL;
    dlq_pg           *p;
    cdc_err           e = { 0 };

    if (table == NULL || table[0] == '\0') {
        cdc_err_set(err, CDC_E_CONFIG, "dlq.postgres_table: empty");
        return NULL;
    }
    opts = PQconninfoParse(conninfo ? conninfo : "", &perr);
    if (opts == NULL) {
        /* perr may quote part of the string, which may hold a password: not shown */
        PQfreemem(perr);
        cdc_err_set(err, CDC_E_CONFIG, "dlq.postgres_conninfo: not a connection string libpq "
                    "can parse (key=value pairs or a postgresql:// URI)");
        return NULL;
    }
    PQconninfoFree(opts);
    p = cdc_xcalloc(1, sizeof(*p));
    p->conninfo = cdc_xstrdup(conninfo);
    p->qtable = quote_table(table);
    p->label = cdc_xmalloc(strlen(table) + 8);
    sprintf(p->label, "table %s", table);
    if (dlq_pg_scan(p, NULL, NULL, &e) < 0)
        log_warn(DLQ_FAC, "%s; dead letters will be stored once it is reachable", e.msg);
    return p;
}

/* ---------------------------------------------------------------- text */

/* Length of the valid UTF-8 sequence at s[0..n), or 0 (as PostgreSQL's verifier). */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
    size_t need;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        need = 2;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        need = 3;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        need = 4;
    else
        return 0;
    if (n < need)
        return 0;
    for (size_t i = 1; i < need; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] > 0x9F) ||
        (s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] > 0x8F))
        return 0;
    return need;
}

/* s[0..n) as a NUL-terminated string for the server; @returns it (malloc'd). */
static char *
utf8_clean(const char *s, size_t n, bool *changed)
{
    char  *out = cdc_xmalloc(3 * n + 1), *o = out;
    size_t i = 0;

    while (i < n) {
        size_t k = s[i] ? utf8_len((const unsigned char *) s + i, n - i) : 0;

        if (k == 0) {
            memcpy(o, "\xEF\xBF\xBD", 3);     /* U+FFFD */
            o += 3;
            *changed = true;
            i++;
            continue;
        }
        memcpy(o, s + i, k);
        o += k;
        i += k;
    }
    *o = '\0';
    return out;
}

static char *
clean_str(const char *s, bool *changed)
{
    return utf8_clean(s ? s : "", s ? strlen(s) : 0, changed);
}

/* ---------------------------------------------------------------- statements */

static void
first_line(char *msg)
{
    msg[strcspn(msg, "\r\n")] = '\0';
}

static int
pg_setup(dlq_pg *p, cdc_err *err)
{
    static const char create[] =
        "CREATE TABLE %s (\n"
        "  id               bigserial PRIMARY KEY,\n"
        "  sink_id          text NOT NULL,\n"
        "  source_topic     text NOT NULL,\n"
        "  source_partition integer NOT NULL,\n"
        "  source_offset    bigint NOT NULL,\n"
        "  commit_lsn       bigint NOT NULL,\n"
        "  seq              bigint NOT NULL,\n"
        "  error_type       text NOT NULL,\n"
        "  error_message    text NOT NULL,\n"
        "  stacktrace       text NOT NULL,\n"
        "  dlq_timestamp    timestamptz NOT NULL,\n"
        "  event_key        json,\n"
        "  event_value      json,\n"
        "  record           text,\n"
        "  replayed_at      timestamptz,\n"
        "  UNIQUE (sink_id, commit_lsn, seq))";
    const char *param = p->qtable;
    PGresult   *res;
    cdc_buf     sql = CDC_BUF_INIT;
    bool        exists;
    int         rc = 0;

    res = PQexec(p->conn, "SET synchronous_commit TO on; SET client_encoding TO 'UTF8'");
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = -1;
    PQclear(res);
    if (rc < 0)
        goto failed;
    /* to_regclass first: creating needs a privilege that using an existing table does not */
    res = PQexecParams(p->conn, "SELECT to_regclass($1) IS NOT NULL", 1, NULL, &param, NULL,
                       NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        goto failed;
    }
    exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (exists)
        return 0;
    cdc_buf_printf(&sql, create, p->qtable);
    res = PQexec(p->conn, cdc_buf_str(&sql));
    cdc_buf_free(&sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

        /* another agent created it in between: fine */
        rc = state && (strcmp(state, "42P07") == 0 || strcmp(state, "23505") == 0) ? 0 : -1;
        PQclear(res);
        if (rc < 0)
            goto failed;
        return 0;
    }
    PQclear(res);
    log_info(DLQ_FAC, "created the dead-letter %s", p->label);
    return 0;
failed:
    {
        char msg[300];

        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(p->conn));
        first_line(msg);
        return cdc_err_set(err, CDC_E_PG, "dead-letter %s: creating or checking the table: %s",
                           p->label, msg);
    }
}

static int
pg_connect(dlq_pg *p, cdc_err *err)
{
    /* the conninfo is expanded in place of dbname: what it sets wins over these defaults */
    const char *keys[] = { "connect_timeout", "application_name", "dbname", NULL };
    const char *vals[] = { "10", "cdcagent-dlq", p->conninfo, NULL };
    char        msg[300];

    if (p->conn && PQstatus(p->conn) == CONNECTION_OK)
        return 0;
    PQfinish(p->conn);
    p->conn = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(p->conn) != CONNECTION_OK) {
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(p->conn));
        first_line(msg);
        PQfinish(p->conn);
        p->conn = NULL;
        return cdc_err_set(err, CDC_E_CONN, "dead-letter %s: cannot connect: %s", p->label, msg);
    }
    if (pg_setup(p, err) < 0) {
        PQfinish(p->conn);
        p->conn = NULL;
        return -1;
    }
    return 0;
}

/*
 * One statement; a connection found lost is reopened and the statement sent
 * once more (an idle connection does not notice a server restart until it
 * is used).  @returns the result (COMMAND_OK or TUPLES_OK), or NULL with err set.
 */
static PGresult *
pg_exec(dlq_pg *p, const char *sql, int n, const char *const *params, cdc_err *err)
{
    for (int attempt = 0; ; attempt++) {
        PGresult   *res;
        const char *state, *msg;
        char        text[400];

        if (pg_connect(p, err) < 0)
            return NULL;
        res = PQexecParams(p->conn, sql, n, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK)
            return res;
        state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        snprintf(text, sizeof(text), "%s%s%s", state ? state : "", state ? " " : "",
                 msg ? msg : PQerrorMessage(p->conn));
        first_line(text);
        PQclear(res);
        if (PQstatus(p->conn) == CONNECTION_OK) {
            cdc_err_set(err, CDC_E_PG, "dead-letter %s: %s", p->label, text);
            return NULL;
        }
        PQfinish(p->conn);
        p->conn = NULL;
        if (attempt > 0) {
            cdc_err_set(err, CDC_E_CONN, "dead-letter %s: connection lost: %s", p->label, text);
            return NULL;
        }
    }
}

/* The raw key and value of a JSON record, for the json columns; NULL when absent or null. */
static char *
record_member(const dest_dlq_rec *r, const dlq_extra *x, const char *name)
{
    size_t off, len;

    if (!x->record_json ||
        dest_dlq_json_member(r->record, r->record_len, name, &off, &len) != 1 ||
        (len == 4 && memcmp(r->record + off, "null", 4) == 0))
        return NULL;
    return cdc_xstrndup(r->record + off, len);
}

int
dlq_pg_append(dlq_pg *p, const dest_dlq_rec *r, const dlq_extra *x, bool *dup, cdc_err *err)
{
    static const char sql[] =
        "INSERT INTO %s (sink_id, source_topic, source_partition, source_offset, commit_lsn, "
        "seq, error_type, error_message, stacktrace, dlq_timestamp, event_key, event_value, "
        "record) VALUES ($1, $2, $3::integer, $4::bigint, $5::bigint, $6::bigint, $7, $8, $9, "
        "$10::timestamptz, $11::json, $12::json, $13) "
        "ON CONFLICT (sink_id, commit_lsn, seq) DO NOTHING RETURNING id";
    char        part[16], off[24], lsn[24], seq[24];
    bool        changed = false, rchanged = false;
    char       *v[13] = { 0 };
    cdc_buf     q = CDC_BUF_INIT, msg = CDC_BUF_INIT;
    PGresult   *res;

    snprintf(part, sizeof(part), "%d", r->partition);
    snprintf(off, sizeof(off), "%" PRId64, (int64_t) r->offset);
    snprintf(lsn, sizeof(lsn), "%" PRId64, (int64_t) r->pos.lsn);
    snprintf(seq, sizeof(seq), "%" PRId64, (int64_t) r->pos.seq);
    v[0] = clean_str(r->sink_id, &changed);
    v[1] = clean_str(r->topic, &changed);
    v[6] = clean_str(r->error_type, &changed);
    v[8] = clean_str(x->stacktrace, &changed);
    v[10] = record_member(r, x, "key");
    v[11] = record_member(r, x, "value");
    if (r->record)
        v[12] = utf8_clean(r->record, r->record_len, &rchanged);
    cdc_buf_puts(&msg, r->error_message ? r->error_message : "");
    if (rchanged)
        cdc_buf_puts(&msg, " [the record was not valid UTF-8: invalid bytes stored as U+FFFD]");
    v[7] = utf8_clean((const char *) msg.data, msg.len, &changed);
    cdc_buf_printf(&q, sql, p->qtable);
    {
        const char *params[13] = { v[0], v[1], part, off, lsn, seq, v[6], v[7], v[8],
                                   x->timestamp, v[10], v[11], v[12] };

        res = pg_exec(p, cdc_buf_str(&q), 13, params, err);
    }
    for (int i = 0; i < 13; i++)
        free(v[i]);
    cdc_buf_free(&q);
    cdc_buf_free(&msg);
    if (res == NULL)
        return -1;
    *dup = PQntuples(res) == 0;
    PQclear(res);
    return 0;
}

int
dlq_pg_mark(dlq_pg *p, const char *sink_id, cdc_pos pos, cdc_err *err)
{
    char        lsn[24], seq[24];
    const char *params[3] = { sink_id, lsn, seq };
    cdc_buf     q = CDC_BUF_INIT;
    PGresult   *res;

    snprintf(lsn, sizeof(lsn), "%" PRId64, (int64_t) pos.lsn);
    snprintf(seq, sizeof(seq), "%" PRId64, (int64_t) pos.seq);
    cdc_buf_printf(&q, "UPDATE %s SET replayed_at = now() WHERE sink_id = $1 AND "
                   "commit_lsn = $2::bigint AND seq = $3::bigint AND replayed_at IS NULL",
                   p->qtable);
    res = pg_exec(p, cdc_buf_str(&q), 3, params, err);
    cdc_buf_free(&q);
    if (res == NULL)
        return -1;
    PQclear(res);
    return 0;
}

static const char *
col(PGresult *res, int row, int c)
{
    return PQgetisnull(res, row, c) ? NULL : PQgetvalue(res, row, c);
}

/* fn NULL: only connect (and create the table), as open does. */
int
dlq_pg_scan(dlq_pg *p, int (*fn)(void *arg, const dest_dlq_row *row), void *arg, cdc_err *err)
{
#define DLQ_TS(c) "to_char(" c " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
    cdc_buf   q = CDC_BUF_INIT;
    PGresult *res;
    int       rc = 0;

    if (fn == NULL)
        return pg_connect(p, err);
    cdc_buf_printf(&q, "SELECT id, sink_id, source_topic, source_partition, source_offset, "
                   "commit_lsn, seq, error_type, error_message, stacktrace, "
                   DLQ_TS("dlq_timestamp") ", record, " DLQ_TS("replayed_at")
                   " FROM %s ORDER BY id", p->qtable);
#undef DLQ_TS
    res = pg_exec(p, cdc_buf_str(&q), 0, NULL, err);
    cdc_buf_free(&q);
    if (res == NULL)
        return -1;
    for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
        dest_dlq_row row = {
            .row_id = strtoll(col(res, i, 0), NULL, 10),
            .sink_id = col(res, i, 1), .topic = col(res, i, 2),
            .partition = (int) strtol(col(res, i, 3), NULL, 10),
            .offset = (uint64_t) strtoll(col(res, i, 4), NULL, 10),
            .pos = { (uint64_t) strtoll(col(res, i, 5), NULL, 10),
                     (uint64_t) strtoll(col(res, i, 6), NULL, 10) },
            .error_type = col(res, i, 7), .error_message = col(res, i, 8),
            .stacktrace = col(res, i, 9), .timestamp = col(res, i, 10),
            .record = col(res, i, 11), .replayed_at = col(res, i, 12),
        };

        rc = fn(arg, &row);
    }
    PQclear(res);
    return rc;
}

const char *
dlq_pg_label(const dlq_pg *p)
{
    return p->label;
}

void
dlq_pg_close(dlq_pg *p)
{
    if (p == NULL)
        return;
    PQfinish(p->conn);
    free(p->conninfo);
    free(p->qtable);
    free(p->label);
    free(p);
}
