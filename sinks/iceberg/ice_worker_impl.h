/*
 * The Iceberg commit thread's insides, shared by ice_worker.c (batches) and ice_maint.c
 * (maintenance between batches).  Nothing else includes this.
 */
#ifndef CDC_SINKS_ICEBERG_ICE_WORKER_IMPL_H
#define CDC_SINKS_ICEBERG_ICE_WORKER_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/core/cdc_retry.h"
#include "sinks/iceberg/ice_compact.h"
#include "sinks/iceberg/ice_meta.h"
#include "sinks/iceberg/ice_worker.h"

#define ICE_FAC "iceberg"

typedef struct known {
    char     *name;
    char     *location;
    ice_meta *m;            /* the table as last loaded or committed, or NULL */
} known;

/* A table maintenance looks after (each table known, and those named at start). */
typedef struct sched {
    char    *name;
    int64_t  due_ms;        /* wall clock: the next expiry */
    int64_t  compact_ms;    /* the next compaction check */
} sched;

/* A compaction's moves the main loop has not taken yet. */
typedef struct moved {
    char              *table;
    ice_compact_moves *mv;
} moved;

struct ice_worker {
    ice_cat        *cat;
    ice_store      *st;
    char           *ns;
    char           *pipeline_id;
    char           *sink_id;
    char           *label;
    bool            auto_create;
    cdc_retry_conf  retry;
    uint64_t        rng;
    int             crash_at;       /* test hook: 0 = off */
    int             ncommits;

    known          *known;
    int             nknown;
    sched          *sched;
    int             nsched;

    /* maintenance (ice_expire) */
    bool            expire;
    int64_t         expire_interval_ms;
    int64_t         expire_older_than_ms;
    int64_t         orphan_age_ms;
    int             expire_crash_after;     /* test hook: deletes before SIGKILL, 0 = off */
    bool            maint;                  /* running: the main loop must not read tables */
    int64_t         exp_snapshots, exp_files, exp_bytes, exp_orphans, exp_runs;
    int64_t         last_expire_ms;
    bool            compact;
    int64_t         compact_interval_ms;
    int             compact_threshold;
    int64_t         compact_max_rows;
    bool            compact_moves;
    bool            compact_crash;          /* test hook: SIGKILL before a compaction commit */
    int64_t         cmp_runs, cmp_files, cmp_rows, last_compact_ms;
    bool            claimed;                /* ice_worker_claim: a batch is being handed over */
    bool            compacting;             /* no batch is taken meanwhile (its deletes name
                                               rows the compaction may move) */
    moved          *moved;                  /* waiting for ice_worker_take_moves */
    int             nmoved;

    pthread_t       thr;
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    bool            started;
    bool            stop;
    ice_batch      *job;
    cdc_pos         durable;
    bool            fatal;
    cdc_err         fatal_err;
    bool            failing;
    char            state[200];
    int64_t         last_commit_ms;
    uint64_t        nbatches;
};

/* ice_maint.c: the tables the worker knows and their maintenance schedules. */

/* The table `name` the worker remembers, or NULL. */
known *ice_known_find(ice_worker *w, const char *name);
/* Remembers table `name` (and schedules its maintenance); takes m (may be NULL). */
void ice_known_set(ice_worker *w, const char *name, const char *location, ice_meta *m);
/* Forgets table `name` (the next commit loads it again). */
void ice_known_forget(ice_worker *w, const char *name);
/* Schedules table `name`'s maintenance one interval from now unless it is scheduled
   already (nothing when maintenance is off). */
void ice_maint_schedule(ice_worker *w, const char *name);

/* The wall-clock time maintenance is next due (w->mu held); INT64_MAX: none, or not now
   (a fatal error, a batch the main loop has claimed, or a compaction's moves not yet
   taken). */
int64_t ice_maint_next_due(ice_worker *w);
/* Compacts, then expires the snapshots of, each known table whose time has come (w->maint
   set: the main loop leaves the tables alone).  A failure is logged and tried again an
   interval later: maintenance never stops the sink.  After a compaction of an upsert table,
   nothing more until the main loop has taken its moves. */
void ice_maint_run(ice_worker *w);

#endif
