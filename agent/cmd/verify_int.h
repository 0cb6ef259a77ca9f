/*
 * Internals of `cdcagent verify` shared by its files: verify.c (the command:
 * sink choice, retries, output), verify_pg.c (a postgres replica compared in
 * SQL), verify_jsonl.c (a JSON-lines file against the source encoded by the
 * agent's own encoder), verify_iceberg.c (an Iceberg table read back)
 * and verify_replay.c (the file replayed by key; no I/O
 * but a FILE, so the unit tests drive it).  What a comparison found is the
 * report (verify_report.h).  Not for use outside agent/cmd/.
 */
#ifndef CDC_AGENT_CMD_VERIFY_INT_H
#define CDC_AGENT_CMD_VERIFY_INT_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "agent/pipeline/capture.h"
#include "agent/config/config.h"
#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_err.h"
#include "agent/core/cdc_rel.h"
#include "agent/cmd/verify_report.h"

/* What one comparison pass needs; verify.c owns every member. */
typedef struct verify_ctx {
    const cdc_config *cfg;
    const cfg_sink   *sink;
    PGconn           *src;      /* the source, a plain connection */
    PGconn           *dst;      /* the replica's database; NULL for jsonl */
    agent_capture    *cap;      /* relations and type options as the agent has them */
    int               ranges;
    bool              ranges_set;   /* --ranges was given (iceberg: else one pass for small tables) */
} verify_ctx;

/* Compares one table with a replica in ctx->dst.  @returns 0 or -1 with err set. */
int verify_pg_table(verify_ctx *vc, const cdc_rel *rel, verify_table *t, cdc_err *err);

/*
 * Compares every table of rels with the jsonl file of ctx->sink (read once).
 * @returns 0 or -1 with err set (unreadable file, a line that is not JSON).
 */
int verify_jsonl_tables(verify_ctx *vc, cdc_rel *const *rels, int n, verify_table *ts,
                        cdc_err *err);

/*
 * Compares every table of rels with its Iceberg table of ctx->sink (an
 * iceberg sink), read through the sink's catalog and warehouse.
 * @returns 0 or -1 with err set (catalog or warehouse unreadable).
 */
int verify_iceberg_tables(verify_ctx *vc, cdc_rel *const *rels, int n, verify_table *ts,
                          cdc_err *err);

/* ---- the source's key order and ranges, as verify_pg.c builds them (also used by
   verify_iceberg.c's --ranges) ---- */

/* The SQL pieces of one table; verify_pg_sql_init fills them, verify_pg_sql_free frees. */
typedef struct pg_sql {
    const cdc_rel *rel;
    char           from[300];   /* "schema"."table" */
    char          *src_from;    /* the source through source.row_filters, or NULL: from */
    cdc_buf        row;         /* ROW(c1, ...)::text */
    cdc_buf        cols;        /* c1::text, c2::text, ... */
    cdc_buf        keyrow;      /* ROW(k1, ...)::text: equal keys, equal text */
    cdc_buf        keytext;     /* k1::text, k2::text */
    cdc_buf        order;       /* e1, e2: the key in a collation-proof order */
    char         **ord;         /* e1, e2 one by one */
    int            nkeys;
    int           *keycol;      /* column index of each key, in key order */
} pg_sql;

/* Reads which key columns are collated (text-like keys are ordered in "C").  @returns 0 or -1. */
int       verify_pg_sql_init(pg_sql *s, PGconn *conn, const cdc_rel *rel, cdc_err *err);
void      verify_pg_sql_free(pg_sql *s);
/* "(e1, e2) op ($p, $p+1)": the key against parameters first_param.., row-wise. */
void      verify_pg_key_cmp(cdc_buf *q, const pg_sql *s, const char *op, int first_param);
/* count(*) of the table on conn (side names it in messages); -1 with err set. */
int64_t   verify_pg_count(PGconn *conn, const char *side, const pg_sql *s, cdc_err *err);
/* Every step-th key of the source's n rows as text (step = n / vc->ranges, rounded up), in
   key order: the inclusive upper bounds of the ranges but the last.  NULL with err set. */
PGresult *verify_pg_bounds(verify_ctx *vc, const pg_sql *s, int64_t n, cdc_err *err);

/* ---- replay of a JSON-lines file (verify_replay.c) ---- */

typedef struct verify_replay verify_replay;

/*
 * A replay of the events of one topic.
 * @param keyed         the table has a key: the state is "last after per key";
 *                      otherwise a multiset of rows (before removed, after added).
 * @param placeholders  borrowed object: column -> the JSON the encoder writes for
 *                      an unchanged TOAST value of that column.
 */
verify_replay *verify_replay_new(const char *topic, bool keyed, const json_t *placeholders);
void           verify_replay_free(verify_replay *r);     /* NULL is a no-op */
/* Leaves column out of the rows of a multiset replay (stored generated columns). */
void           verify_replay_ignore(verify_replay *r, const char *column);

/* Applies one parsed line if it belongs to the replay's topic.  @returns 0 or -1 with err set. */
int verify_replay_event(verify_replay *r, const json_t *line, cdc_err *err);

/*
 * The state: keyed, an object canonical-key -> {"key": K, "after": A};
 * otherwise canonical-row -> {"row": A, "n": count}.  Borrowed; the
 * comparison removes what it matched.
 */
json_t *verify_replay_state(verify_replay *r);

/* Placeholders filled from the key's earlier state (counted, not hidden). */
int64_t verify_replay_toast_merged(const verify_replay *r);

/*
 * Reads a JSON-lines file and hands each line to every replay (by topic).
 * A last line without a newline (torn by a crash; the sink cuts it off at
 * restart) is skipped and *torn set.
 * @returns 0 or -1 with err set naming the file and line.
 */
int verify_replay_file(FILE *f, const char *label, verify_replay **rs, int n, bool *torn,
                       cdc_err *err);

/* Canonical text of a JSON value (compact, sorted keys); the caller frees it. */
char *verify_canonical(const json_t *v);

/*
 * source.row_filters: " WHERE (condition)" for rel into q, so the source side reads the rows
 * the publication and the snapshot let through.  @returns whether a condition was put.
 */
bool verify_put_row_filter(const verify_ctx *vc, const cdc_rel *rel, cdc_buf *q);

#endif
