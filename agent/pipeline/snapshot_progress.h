/*
 * The initial snapshot's progress, made visible three ways: a log line per
 * table and every agent.status_interval_seconds (rows and tables done and
 * remaining, rows/s, an estimate of the time left, the WAL the slot retains),
 * the cdcagent_snapshot_* families of /metrics, and a small JSON file beside
 * the state record (<state_dir>/cdcagent-<slot>.snapshot.json) that
 * `cdcagent slot status` shows.  Rows expected come from pg_class.reltuples,
 * so the estimate is as good as the tables' statistics.
 */
#ifndef CDC_AGENT_PIPELINE_SNAPSHOT_PROGRESS_H
#define CDC_AGENT_PIPELINE_SNAPSHOT_PROGRESS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/config/config.h"
#include "agent/ops/metrics.h"
#include "agent/pipeline/state.h"

/* Where and how often the snapshot reports; every field may be zero / NULL. */
typedef struct agent_snapshot_env {
    agent_metrics *metrics;
    const char    *state_dir;   /* the progress file goes there; NULL: no file */
    double         every_s;     /* seconds between progress lines; <= 0: 10 */
    agent_state   *state;       /* the slot's record: durable chunks go there
                                   (agent/pipeline/snapshot_resume.h); NULL: none */
    /* While streaming is paused for the read (a blocking snapshot, snapshot_mode always on
       an existing slot): called about once a second, it keeps the replication connection
       answered (status updates within wal_sender_timeout).  NULL: nothing to keep. */
    int          (*service)(void *arg, cdc_err *err);
    void          *service_arg;
} agent_snapshot_env;

typedef struct snap_progress snap_progress;

snap_progress *snap_progress_new(const agent_snapshot_env *env, const cfg_source *src,
                                 int ntables, uint64_t rows_estimated);
/* Table `table` (the index-th, 0-based) starts. */
void snap_progress_table(snap_progress *p, int index, const char *table);
/* rows in all: reports when the interval has passed (cheap otherwise). */
/* env.service, if set and a second has passed since its last call.  @returns its result. */
int  snap_progress_service(snap_progress *p, cdc_err *err);
void snap_progress_rows(snap_progress *p, uint64_t rows);
/* The current table ended with table_rows rows, rows in all: its log line. */
void snap_progress_table_done(snap_progress *p, uint64_t table_rows, uint64_t rows);
/* The snapshot ended: state "done", "stopped" or "failed"; frees p. */
void snap_progress_end(snap_progress *p, const char *state, uint64_t rows);

/* The progress file's path for src's slot under state_dir ("" = the working directory). */
void agent_snapshot_progress_path(const char *state_dir, const char *slot, char *out,
                                  size_t outsz);

/* The last progress the agent saved for cfg's slot, as a JSON object; NULL: none. */
json_t *agent_snapshot_progress_load(const cdc_config *cfg);

#endif
