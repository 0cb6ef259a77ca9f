/*
 * The report of `cdcagent verify`: per table, how it was compared, the row
 * counts and the differing keys.  verify_pg.c and verify_jsonl.c fill it,
 * verify.c prints it.  Not for use outside agent/cmd/verify*.c.
 */
#ifndef CDC_AGENT_CMD_VERIFY_REPORT_H
#define CDC_AGENT_CMD_VERIFY_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/cdc_rel.h"

#define VERIFY_MAX_DIFFS 10     /* differing keys listed per table */

typedef enum verify_kind {
    VERIFY_MISSING = 0,         /* in the source, not in the destination */
    VERIFY_EXTRA,               /* in the destination, not in the source */
    VERIFY_DIFFERS              /* in both, with other values */
} verify_kind;

/* One differing key (or, without a key, one differing row). */
typedef struct verify_diff {
    verify_kind kind;
    json_t     *key;            /* owned: object of key columns; NULL for a row */
    char       *row;            /* owned: the row's text (tables without a key); NULL otherwise */
    char       *detail;         /* owned: "balance, note" or "2 copies in the source, 1 ..." */
} verify_diff;

/* What was found for one table; zero-initialised by the caller. */
typedef struct verify_table {
    char        name[140];      /* schema.table as configured */
    const char *method;         /* "key_ranges", "keys", "multiset"; NULL: not compared */
    char        keycols[200];   /* "id" or "a, b"; "" without a key */
    int64_t     src_rows, dst_rows;
    int         ranges, ranges_differing;   /* key_ranges only */
    int64_t     keys_differing; /* keys and multiset: exact; key_ranges: -1 (not counted) */
    int         ndiffs;
    verify_diff diffs[VERIFY_MAX_DIFFS];
    bool        more;           /* there are differences beyond those listed */
    int64_t     toast_merged;   /* jsonl: placeholders filled from an earlier event of the key */
    char        note[400];      /* why it differs when no key can say it, or "" */
    char        dest_name[300]; /* iceberg: namespace.table compared with, or "" */
    int64_t     snapshot_id;    /* iceberg: the snapshot read (-1: none) */
    char        position[64];   /* iceberg: its cdc.position ("" when none) */
    char        source_lsn[32]; /* iceberg: the source's WAL position when it was read, or "" */
    bool        equal;
} verify_table;

/* Appends a difference unless VERIFY_MAX_DIFFS are listed (then sets t->more).
   key, row and detail are taken (freed when not kept). */
void verify_add_diff(verify_table *t, verify_kind kind, json_t *key, char *row, char *detail);
void verify_table_clear(verify_table *t);

/* Names of rel's key columns in key order, joined with ", " ("" without a key). */
void verify_key_names(const cdc_rel *rel, char *out, size_t outsz);

#endif
