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

#endif
