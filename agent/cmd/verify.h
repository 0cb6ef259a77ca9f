/*
 * `cdcagent verify`: compares the source tables of a pipeline with what one
 * of its sinks holds now, table by table, and says whether they are equal.
 *
 * Two kinds of destination are understood: a `postgres` sink in `replica`
 * mode (the mirror tables are compared in SQL, as row counts and md5
 * checksums per range of primary-key values, and differing ranges are
 * narrowed down to keys), and a `jsonl` file (replayed by key: the last
 * event of a key wins; the source is encoded the way the agent encodes
 * snapshot rows and the `after` objects are compared key by key).  Tables
 * without a key are compared as multisets of rows.  See docs/verify.md.
 *
 * Verify compares current states: a destination that lags behind the source
 * differs until it has caught up (see `wait_seconds`).
 */
#ifndef CDC_AGENT_CMD_VERIFY_H
#define CDC_AGENT_CMD_VERIFY_H

#include <stdbool.h>

#include "agent/config/config.h"
#include "agent/core/cdc_err.h"

#define AGENT_VERIFY_MAX_TABLES    64
#define AGENT_VERIFY_RANGES_DEFAULT 16
#define AGENT_VERIFY_RANGES_MAX    1000

/* Options of `verify`; zero-initialised means: every table, the only sink, 16 ranges. */
typedef struct agent_verify_opts {
    const char *sink_id;             /* NULL: the pipeline's only sink */
    const char *tables[AGENT_VERIFY_MAX_TABLES];  /* "schema.table" from source.tables */
    int         ntables;             /* 0: every table of source.tables */
    int         ranges;              /* key ranges per table (replica, iceberg); 0: the default
                                        (replica 16; iceberg one pass unless the table is large) */
    double      wait_seconds;        /* re-compare until equal or this much time passed */
    bool        json;                /* one JSON object on stdout instead of the table */
} agent_verify_opts;

/**
 * Compares and prints the result on stdout.
 * @param ndiffering  set to the number of tables that differ (0: all equal).
 * @returns 0 when the comparison ran (whatever it found), or -1 with err set:
 *          CDC_E_CONFIG / CDC_E_UNSUPPORTED for a wrong request (unknown sink
 *          or table, a sink type verify cannot read), others at run time.
 * @thread main only.
 */
int agent_verify(const cdc_config *cfg, const agent_verify_opts *o, int *ndiffering,
                 cdc_err *err);

#endif
