/*
 * The Iceberg sink's table maintenance, run on its commit thread between batches
 * (ice_worker.h): the tables the worker knows, and each one's compaction (ice_compact.h)
 * and snapshot expiry (ice_expire.h), on their own intervals.
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_counters.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"
#include "sinks/iceberg/ice_compact.h"
#include "sinks/iceberg/ice_expire.h"
#include "sinks/iceberg/ice_meta.h"
#include "sinks/iceberg/ice_worker_impl.h"

void
ice_maint_schedule(ice_worker *w, const char *name)
{
    int64_t now = cdc_wall_ms();

    if (!w->expire && !w->compact)
        return;
    for (int i = 0; i < w->nsched; i++)
        if (strcmp(w->sched[i].name, name) == 0)
            return;
    w->sched = cdc_xrealloc(w->sched, (size_t) (w->nsched + 1) * sizeof(*w->sched));
    w->sched[w->nsched++] = (sched) {
        cdc_xstrdup(name),
        w->expire ? now + w->expire_interval_ms : INT64_MAX,
        w->compact ? now + w->compact_interval_ms : INT64_MAX,
    };
}

known *
ice_known_find(ice_worker *w, const char *name)
{
    for (int i = 0; i < w->nknown; i++)
        if (strcmp(w->known[i].name, name) == 0)
            return &w->known[i];
    return NULL;
}

void
ice_known_set(ice_worker *w, const char *name, const char *location, ice_meta *m)
{
    known *k = ice_known_find(w, name);

    if (k == NULL) {
        w->known = cdc_xrealloc(w->known, (size_t) (w->nknown + 1) * sizeof(*w->known));
        k = &w->known[w->nknown++];
        k->name = cdc_xstrdup(name);
        k->location = NULL;
        k->m = NULL;
        ice_maint_schedule(w, name);
    }
    free(k->location);
    k->location = cdc_xstrdup(location ? location : "");
    ice_meta_free(k->m);
    k->m = m;
}

void
ice_known_forget(ice_worker *w, const char *name)
{
    known *k = ice_known_find(w, name);

    if (k == NULL)
        return;
    free(k->name);
    free(k->location);
    ice_meta_free(k->m);
    *k = w->known[--w->nknown];
}

int64_t
ice_maint_next_due(ice_worker *w)
{
    int64_t due = INT64_MAX;

    if (w->fatal || w->nmoved > 0 || w->claimed)     /* a claimed batch goes first */
        return due;
    for (int i = 0; i < w->nsched; i++) {
        if (w->sched[i].due_ms < due)
            due = w->sched[i].due_ms;
        if (w->sched[i].compact_ms < due)
            due = w->sched[i].compact_ms;
    }
    return due;
}

static void
compact_hook(void *arg)
{
    ice_worker *w = arg;

    if (w->compact_crash) {
        log_warn(ICE_FAC, "%s: test hook: killed before a compaction commit", w->label);
        raise(SIGKILL);
    }
}

/* One compaction pass over table k (see ice_compact.h).  A failure is logged and tried again
   an interval later. */
static void
compact_one(ice_worker *w, sched *k, int64_t now)
{
    ice_cat_ident      id = { w->ns, k->name };
    ice_compact_opts   o = { .file_threshold = w->compact_threshold,
                             .max_rows = w->compact_max_rows, .codec = PARQUET_ZSTD,
                             .before_commit = compact_hook, .hook_arg = w };
    ice_compact_stats  r;
    ice_compact_moves *mv;
    cdc_err            err = { 0 };
    char               label[CDC_COUNTERS_LABEL_MAX];
    int64_t            t0 = cdc_mono_ms();
    int                rc;

    k->compact_ms = now + w->compact_interval_ms;
    pthread_mutex_lock(&w->mu);
    if (w->job != NULL || w->claimed) {     /* a batch handed over meanwhile goes first */
        pthread_mutex_unlock(&w->mu);
        k->compact_ms = now;
        return;
    }
    mv = w->compact_moves ? ice_compact_moves_new() : NULL;
    w->compacting = true;
    snprintf(w->state, sizeof(w->state), "compacting %s.%s", w->ns, k->name);
    pthread_mutex_unlock(&w->mu);
    rc = ice_compact_run(w->cat, w->st, &id, &o, mv ? ice_compact_moves_add : NULL, mv, &r,
                         &err);
    if (rc != 0) {
        ice_compact_moves_free(mv);
        pthread_mutex_lock(&w->mu);
        w->compacting = false;
        pthread_mutex_unlock(&w->mu);
        log_warn(ICE_FAC, "%s: compaction of table %s.%s: %s (tried again in %" PRId64 " s)",
                 w->label, w->ns, k->name, err.msg, w->compact_interval_ms / 1000);
        return;
    }
    snprintf(label, sizeof(label), "%s.%s", w->ns, k->name);
    if (r.snapshot_id < 0) {
        ice_compact_moves_free(mv);
        pthread_mutex_lock(&w->mu);
        w->compacting = false;
        pthread_mutex_unlock(&w->mu);
        cdc_counter_set(CDC_CTR_ICE_DATA_FILES, label, (uint64_t) r.data_files_before);
        cdc_counter_set(CDC_CTR_ICE_DELETE_FILES, label, (uint64_t) r.delete_files_before);
        return;
    }
    cdc_counter_set(CDC_CTR_ICE_DATA_FILES, label,
                    (uint64_t) (r.data_files_before - r.data_files_removed + r.files_added));
    cdc_counter_set(CDC_CTR_ICE_DELETE_FILES, label,
                    (uint64_t) (r.delete_files_before - r.delete_files_removed));
    cdc_counter_add(CDC_CTR_ICE_COMPACTIONS, label, 1);
    cdc_counter_add(CDC_CTR_ICE_COMPACTED_FILES, label,
                    (uint64_t) (r.data_files_removed + r.delete_files_removed));
    cdc_counter_add(CDC_CTR_ICE_COMPACTED_ROWS, label, (uint64_t) r.rows);
    log_info(ICE_FAC, "%s: table %s.%s: compaction: %" PRId64 " data file(s) and %" PRId64
             " delete file(s) of %" PRId64 " partition(s) replaced by %" PRId64 " file(s), %"
             PRId64 " rows, %" PRId64 " -> %" PRId64 " bytes, snapshot %" PRId64 ", %d replan(s), "
             "%.1f s; %" PRId64 " data and %" PRId64 " delete file(s) live", w->label, w->ns,
             k->name, r.data_files_removed, r.delete_files_removed, r.partitions, r.files_added,
             r.rows, r.bytes_read, r.bytes_written, r.snapshot_id, r.replans,
             (double) (cdc_mono_ms() - t0) / 1000.0,
             r.data_files_before - r.data_files_removed + r.files_added,
             r.delete_files_before - r.delete_files_removed);
    pthread_mutex_lock(&w->mu);
    ice_known_forget(w, k->name);       /* the next commit loads the compacted table */
    w->cmp_runs++;
    w->cmp_files += r.data_files_removed + r.delete_files_removed;
    w->cmp_rows += r.rows;
    w->last_compact_ms = now;
    if (mv && ice_compact_moves_count(mv) > 0) {
        w->moved = cdc_xrealloc(w->moved, (size_t) (w->nmoved + 1) * sizeof(*w->moved));
        w->moved[w->nmoved++] = (moved) { cdc_xstrdup(k->name), mv };
        mv = NULL;
    }
    w->compacting = false;
    pthread_mutex_unlock(&w->mu);
    ice_compact_moves_free(mv);
}

static bool
stopping(ice_worker *w)
{
    bool stop;

    pthread_mutex_lock(&w->mu);
    stop = w->stop;
    pthread_mutex_unlock(&w->mu);
    return stop;
}

void
ice_maint_run(ice_worker *w)
{
    for (int i = 0; i < w->nsched; i++) {
        sched            *k = &w->sched[i];
        int64_t           now = cdc_wall_ms();
        ice_expire_result r;
        ice_meta         *after = NULL;
        cdc_err           err = { 0 };
        int               rc;

        if (stopping(w))
            return;
        if (k->compact_ms <= now) {
            bool wait;

            compact_one(w, k, now);
            pthread_mutex_lock(&w->mu);
            wait = w->nmoved > 0;
            pthread_mutex_unlock(&w->mu);
            if (wait)
                return;
        }
        if (k->due_ms > now)
            continue;
        k->due_ms = now + w->expire_interval_ms;
        pthread_mutex_lock(&w->mu);
        if (w->job == NULL)
            snprintf(w->state, sizeof(w->state), "expiring snapshots of %s.%s", w->ns, k->name);
        pthread_mutex_unlock(&w->mu);
        {
            ice_cat_ident   id = { w->ns, k->name };
            ice_expire_conf ec = { .now_ms = now, .older_than_ms = w->expire_older_than_ms,
                                   .orphan_age_ms = w->orphan_age_ms,
                                   .pipeline_id = w->pipeline_id,
                                   .crash_after_deletes = w->expire_crash_after };

            rc = ice_expire_table(w->cat, w->st, &id, &ec, &r, &after, &err);
        }
        if (rc != 0) {
            if (rc == ICE_CAT_NOT_FOUND)    /* not there (yet): nothing to do */
                continue;
            log_warn(ICE_FAC, "%s: snapshot expiry of table %s.%s: %s (tried again in %" PRId64
                     " s)", w->label, w->ns, k->name, err.msg, w->expire_interval_ms / 1000);
            continue;
        }
        pthread_mutex_lock(&w->mu);
        {
            known *kn = ice_known_find(w, k->name);

            if (after && kn) {
                ice_meta_free(kn->m);
                kn->m = after;
                after = NULL;
            }
            ice_meta_free(after);
        }
        w->exp_runs++;
        w->exp_snapshots += r.snapshots_expired;
        w->exp_files += r.files_removed + r.orphans_removed;
        w->exp_bytes += r.bytes_removed + r.orphan_bytes_removed;
        w->exp_orphans += r.orphans_removed;
        w->last_expire_ms = now;
        pthread_mutex_unlock(&w->mu);
        {
            char label[CDC_COUNTERS_LABEL_MAX];

            snprintf(label, sizeof(label), "%s.%s", w->ns, k->name);
            if (r.snapshots_expired > 0)
                cdc_counter_add(CDC_CTR_ICE_EXPIRED_SNAPSHOTS, label,
                                (uint64_t) r.snapshots_expired);
            if (r.files_removed + r.orphans_removed > 0) {
                cdc_counter_add(CDC_CTR_ICE_REMOVED_FILES, label,
                                (uint64_t) (r.files_removed + r.orphans_removed));
                cdc_counter_add(CDC_CTR_ICE_REMOVED_BYTES, label,
                                (uint64_t) (r.bytes_removed + r.orphan_bytes_removed));
            }
        }
        if (r.snapshots_expired > 0 || r.orphans_removed > 0)
            log_info(ICE_FAC, "%s: table %s.%s: snapshot expiry: %d snapshot(s) expired, %d "
                     "kept; %" PRId64 " unreferenced file(s) removed (%" PRId64 " bytes), %"
                     PRId64 " orphan file(s) (%" PRId64 " bytes)", w->label, w->ns, k->name,
                     r.snapshots_expired, r.snapshots_kept, r.files_removed, r.bytes_removed,
                     r.orphans_removed, r.orphan_bytes_removed);
    }
}
