/*
 * The Iceberg sink's commit thread.  The main loop fills a batch (closed
 * Parquet files per table, and the position up to which the batch holds
 * every change) and hands it over; the worker, the only user of the catalog
 * and store handles after open, then for each table in turn: loads it (or
 * creates it), uploads the files, commits them with the batch's position in
 * the snapshot summary (compare-and-swap through ice_commit: a conflict
 * reloads and rebuilds), and once every table is in, publishes the batch's
 * position as durable.  A retriable failure (catalog or store down) waits
 * with cdc_retry backoff, for ever, and health says why; anything else stops
 * the sink (fatal) with the batch never made durable.
 *
 * At most one batch is in the worker; the main loop keeps one filling.
 *
 * Between batches it looks after the tables (iceberg.maintenance): compaction
 * (ice_compact.h) and snapshot expiry (ice_expire.h), each table on its own
 * interval.  A compaction of an upsert table moves rows the main loop's key
 * index points at: its moves wait for the main loop (ice_worker_take_moves)
 * and no batch is taken before they are applied.
 *
 * Test hooks (CDCAGENT_TEST_ICEBERG_CRASH): before_commit[:N] kills the
 * process (SIGKILL) after the files of the N-th commit (default 1) are
 * written and before the catalog is asked to commit them; during_compact
 * after a compaction's new files are written, before its commit;
 * during_expire[:N] after N deletions of an expiry.
 */
#ifndef CDC_SINKS_ICEBERG_ICE_WORKER_H
#define CDC_SINKS_ICEBERG_ICE_WORKER_H

#include <stdbool.h>

#include "agent/core/cdc_err.h"
#include "agent/core/cdc_event.h"
#include "agent/core/cdc_health.h"
#include "agent/core/cdc_retry.h"
#include "sinks/iceberg/catalog/ice_catalog.h"
#include "sinks/iceberg/ice_table.h"
#include "sinks/iceberg/store/store.h"

/* One table's part of a batch (owned by the batch). */
typedef struct ice_wtable {
    char       *name;
    char       *location;       /* where a table created now is put */
    ice_schema *schema;         /* the table's schema after this batch */
    ice_spec   *spec;           /* its partition spec (a table created now), or NULL */
    bool        set_schema;     /* the commit adds it and makes it current */
    bool        is_new;         /* not in the catalog at start: create it, or check an existing
                                   one has exactly this schema */
    ice_file   *files;
    int         nfiles;
    int         nuploaded;
    ice_posdel **pd;            /* upsert: position deletes to write and commit, one set per
                                   partition (pdtuple[i], NULL unpartitioned) */
    ice_value  **pdtuple;
    int          npd;
    int64_t     rows;
} ice_wtable;

typedef struct ice_batch {
    cdc_pos     pos;            /* the batch holds every change up to here */
    ice_wtable *t;
    int         n;
    int64_t     rows;
} ice_batch;

void ice_batch_free(ice_batch *b);

typedef struct ice_worker_conf {
    ice_cat        *cat;            /* taken over (closed by ice_worker_stop) */
    ice_store      *store;          /* taken over */
    const char     *ns;
    const char     *pipeline_id;
    const char     *sink_id;
    const char     *label;          /* "iceberg sink 'lake'" */
    bool            auto_create;
    cdc_retry_conf  retry;
    /* maintenance: snapshot expiry and file cleanup (ice_expire.h) of every table this
       worker has loaded or committed and of expire_tables (this pipeline's tables found at
       start), each at most once per interval (the first one interval after start or first
       sight), between batches */
    bool               expire;
    double             expire_interval_s;   /* <= 0: 3600 */
    double             expire_older_than_s; /* <= 0: 86400 */
    const char *const *expire_tables;       /* borrowed for the call */
    int                nexpire_tables;
    /* compaction (ice_compact.h) of the same tables, each at most once per interval, between
       batches; with compact_moves (upsert) the moves of each compaction wait for the main
       loop (ice_worker_take_moves), and the worker is not idle until it has taken them */
    bool               compact;
    double             compact_interval_s;  /* <= 0: 7200 */
    int                compact_file_threshold;  /* <= 0: 10 */
    int64_t            compact_max_rows;    /* <= 0: 500000 */
    bool               compact_moves;
} ice_worker_conf;

typedef struct ice_worker ice_worker;

ice_worker *ice_worker_start(const ice_worker_conf *c, cdc_err *err);
/* Stops the thread (a batch being retried is abandoned: it was never durable), frees all. */
void        ice_worker_stop(ice_worker *w);

/* Whether a batch can be handed over now. */
bool ice_worker_idle(ice_worker *w);
/*
 * The moves of a compaction of table *table (both the caller's to free), or NULL when none
 * waits.  Apply them to the table's key index (ice_tbl_apply_moves) and to the deletes of the
 * batch being filled (ice_compact_moves_posdel) before the next batch is handed over.
 */
struct ice_compact_moves *ice_worker_take_moves(ice_worker *w, char **table);
/*
 * Whether a batch can be handed over now, like ice_worker_idle; when true, the worker starts
 * no compaction until ice_worker_submit or ice_worker_release (a batch built from the key
 * index must not wait behind a compaction that moves its rows).
 */
bool ice_worker_claim(ice_worker *w);
void ice_worker_release(ice_worker *w);
/* Hands b over (the worker frees it); only after ice_worker_claim. */
void ice_worker_submit(ice_worker *w, ice_batch *b);
/* The position of the last batch committed ({0,0} if none); -1 with err once fatal. */
int  ice_worker_poll(ice_worker *w, cdc_pos *durable, cdc_err *err);
/* Waits until idle (or fatal) up to timeout_ms; true when idle. */
bool ice_worker_wait(ice_worker *w, int timeout_ms);
void ice_worker_health(ice_worker *w, cdc_health *h);

/*
 * Upsert's unchanged TOAST values: the fields `ids` of the row at (file, pos) of table
 * ns.table as the catalog has it (ice_scan_row), from the main loop while the worker is idle
 * (CDC_E_QUEUE_FULL when it is not: try again after the commit).  Values point into mem.
 */
int ice_worker_read_row(ice_worker *w, const char *ns, const char *table, const char *file,
                        int64_t pos, const int32_t *ids, int n, ice_value *out, cdc_buf *mem,
                        cdc_err *err);
/* The same for one list field (ice_scan_row_list): *elems is the caller's to free. */
int ice_worker_read_list(ice_worker *w, const char *ns, const char *table, const char *file,
                         int64_t pos, int32_t field_id, bool *is_null, ice_value **elems,
                         size_t *nelems, cdc_buf *mem, cdc_err *err);

#endif
