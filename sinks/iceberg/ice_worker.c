#include "sinks/iceberg/ice_worker.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/core/cdc_buf.h"
#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_counters.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"
#include "sinks/iceberg/ice_commit.h"
#include "sinks/iceberg/ice_compact.h"
#include "sinks/iceberg/ice_expire.h"
#include "sinks/iceberg/ice_meta.h"
#include "sinks/iceberg/ice_scan.h"

#include "sinks/iceberg/ice_worker_impl.h"

void
ice_batch_free(ice_batch *b)
{
    if (b == NULL)
        return;
    for (int i = 0; i < b->n; i++) {
        ice_wtable *t = &b->t[i];

        for (int k = 0; k < t->nfiles; k++)
            ice_file_clear(&t->files[k]);
        free(t->files);
        for (int k = 0; k < t->npd; k++) {
            ice_posdel_free(t->pd[k]);
            free(t->pdtuple[k]);
        }
        free(t->pd);
        free(t->pdtuple);
        ice_spec_free(t->spec);
        free(t->name);
        free(t->location);
        ice_schema_free(t->schema);
    }
    free(b->t);
    free(b);
}

static void
set_state(ice_worker *w, bool failing, const char *fmt, ...) CDC_PRINTF(3, 4);

static void
set_state(ice_worker *w, bool failing, const char *fmt, ...)
{
    va_list ap;

    pthread_mutex_lock(&w->mu);
    va_start(ap, fmt);
    vsnprintf(w->state, sizeof(w->state), fmt, ap);
    va_end(ap);
    w->failing = failing;
    pthread_mutex_unlock(&w->mu);
}

/* Loads or creates table t; remembers its location.  -1 with err (fatal unless retriable). */
static int
ensure_table(ice_worker *w, ice_wtable *t, cdc_err *err)
{
    ice_cat_ident id = { w->ns, t->name };
    ice_meta     *m = NULL;
    char         *loc = NULL;
    int           rc;

    if (ice_known_find(w, t->name))
        return 0;
    rc = ice_commit_load(w->cat, w->st, &id, &m, &loc, err);
    if (rc == ICE_CAT_NOT_FOUND) {
        ice_spec *sp;

        if (!w->auto_create)
            return cdc_err_set(err, CDC_E_CONFIG, "Iceberg table %s.%s does not exist and "
                               "auto_create_table is false", w->ns, t->name);
        sp = t->spec ? ice_spec_dup(t->spec) : ice_spec_new(0);
        rc = ice_commit_create_table(w->cat, w->st, &id, t->location, t->schema, sp, NULL, 0,
                                     &m, err);
        ice_spec_free(sp);
        if (rc == ICE_CAT_OK && m != NULL) {
            const ice_schema *cur = ice_meta_schema(m, m->current_schema_id);

            /* A REST catalog assigns the field ids afresh: the rows are written with ours. */
            if (cur == NULL || !ice_schema_equal(cur, t->schema)) {
                char why[300] = "no current schema";

                if (cur)
                    ice_schema_diff(cur, t->schema, why, sizeof(why));
                cdc_err_set(err, CDC_E_UNSUPPORTED, "Iceberg table %s.%s was created by the "
                            "catalog with other field ids or types than the sink's (%s); this "
                            "build cannot write to it", w->ns, t->name, why);
                ice_meta_free(m);
                free(loc);
                return -1;
            }
        }
        if (rc == ICE_CAT_OK) {
            log_info(ICE_FAC, "%s: created Iceberg table %s.%s at %s", w->label, w->ns, t->name,
                     m && m->location ? m->location : t->location);
            ice_known_set(w, t->name, m && m->location ? m->location : t->location, m);
            free(loc);
            return 0;
        }
        if (rc != ICE_CAT_EXISTS)
            return rc < 0 ? -1 : cdc_err_set(err, CDC_E_CONN, "creating %s.%s: %s", w->ns,
                                             t->name, err->msg);
        rc = ice_commit_load(w->cat, w->st, &id, &m, &loc, err);
    }
    if (rc != ICE_CAT_OK) {
        if (rc > 0)
            err->code = CDC_E_CONN;     /* dropped meanwhile: look again */
        return -1;
    }
    if (t->is_new) {
        const ice_schema *cur = ice_meta_schema(m, m->current_schema_id);

        if (cur == NULL || !ice_schema_equal(cur, t->schema)) {
            char why[300] = "no current schema";

            if (cur)
                ice_schema_diff(cur, t->schema, why, sizeof(why));
            cdc_err_set(err, CDC_E_CONFIG, "Iceberg table %s.%s was created by someone else "
                        "with another schema than the source's: %s", w->ns, t->name, why);
            ice_meta_free(m);
            free(loc);
            return -1;
        }
    }
    ice_known_set(w, t->name, m->location, m);
    free(loc);
    return 0;
}

static void
crash_hook(ice_worker *w)
{
    if (w->crash_at > 0 && ++w->ncommits == w->crash_at) {
        log_warn(ICE_FAC, "%s: CDCAGENT_TEST_ICEBERG_CRASH=before_commit: killing the process "
                 "after writing the files of commit %d", w->label, w->ncommits);
        raise(SIGKILL);
    }
}

/* Uploads t's files and commits them.  @returns 0, or -1 with err. */
static int
commit_table(ice_worker *w, const ice_batch *b, ice_wtable *t, ice_commit **cp, cdc_err *err)
{
    ice_cat_ident id = { w->ns, t->name };
    char          pos[64];
    int           rc;

    if (t->nfiles == 0 && !t->set_schema && t->npd == 0)
        return 0;
    set_state(w, false, "committing %" PRId64 " rows to table %s", t->rows, t->name);
    if (ensure_table(w, t, err) < 0)
        return -1;
    for (; t->nuploaded < t->nfiles; t->nuploaded++) {
        ice_file *f = &t->files[t->nuploaded];

        if (ice_store_put(w->st, f->uri, f->bytes.data, f->bytes.len, err) < 0)
            return -1;
        cdc_buf_free(&f->bytes);    /* durable in the warehouse: the memory can go */
    }
    if (*cp == NULL) {
        ice_commit *c = ice_commit_new(w->cat, w->st, &id, err);

        if (c == NULL)
            return -1;
        for (int i = 0; i < t->nfiles; i++) {
            ice_datafile df;
            ice_colstat *cols = NULL;
            cdc_buf      store = CDC_BUF_INIT;

            rc = ice_tbl_datafile(&t->files[i], &df, &cols, &store, err);
            if (rc == 0)
                rc = ice_commit_add_file(c, &df, err);
            free(cols);
            cdc_buf_free(&store);
            if (rc < 0) {
                ice_commit_free(c);
                return -1;
            }
        }
        for (int k = 0; k < t->npd; k++) {
            ice_datafile df;
            char         uuid[37], uri[1300];

            ice_uuid4(uuid);
            snprintf(uri, sizeof(uri), "%s/data/00000-1-%s-deletes.parquet", t->location, uuid);
            if (ice_posdel_write(t->pd[k], w->st, uri, &df, err) < 0) {
                ice_commit_free(c);
                return -1;
            }
            df.partition = t->pdtuple[k];   /* its data files' partition (NULL: none) */
            if (ice_commit_add_file(c, &df, err) < 0) {
                ice_commit_free(c);
                return -1;
            }
        }
        ice_pos_format(b->pos, pos, sizeof(pos));
        if ((t->set_schema && ice_commit_set_schema(c, t->schema, err) < 0) ||
            ice_commit_summary(c, "cdc.position", pos, err) < 0 ||
            ice_commit_summary(c, "cdc.pipeline", w->pipeline_id, err) < 0 ||
            ice_commit_summary(c, "cdc.sink", w->sink_id, err) < 0) {
            ice_commit_free(c);
            return -1;
        }
        *cp = c;
        crash_hook(w);
    }
    {
        ice_meta *committed = NULL;

        rc = ice_commit_run(*cp, 10, &committed, err);
        if (rc == ICE_CAT_OK && committed) {
            known *k = ice_known_find(w, t->name);

            if (k) {
                pthread_mutex_lock(&w->mu);
                ice_meta_free(k->m);
                k->m = committed;
                pthread_mutex_unlock(&w->mu);
            } else {
                ice_meta_free(committed);
            }
        }
    }
    if (rc == ICE_CAT_OK) {
        ice_commit_free(*cp);
        *cp = NULL;
        return 0;
    }
    if (rc == ICE_CAT_NOT_FOUND) {      /* dropped under us: create it again */
        ice_known_forget(w, t->name);
        ice_commit_free(*cp);
        *cp = NULL;
        t->nuploaded = 0;
        return cdc_err_set(err, CDC_E_CONN, "table %s.%s disappeared from the catalog while "
                           "committing; it is created again", w->ns, t->name);
    }
    if (rc == ICE_CAT_CONFLICT)
        err->code = CDC_E_CONN;         /* lost every race: wait and try again */
    return -1;
}

/* Waits ms unless stopped.  @returns true when stopped. */
static bool
nap(ice_worker *w, int64_t ms)
{
    struct timespec ts;
    bool            stop;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&w->mu);
    while (!w->stop && pthread_cond_timedwait(&w->cv, &w->mu, &ts) != ETIMEDOUT) {
    }
    stop = w->stop;
    pthread_mutex_unlock(&w->mu);
    return stop;
}

static void
run_batch(ice_worker *w, ice_batch *b)
{
    for (int i = 0; i < b->n; i++) {
        ice_wtable *t = &b->t[i];
        ice_commit *c = NULL;
        int         attempt = 0;
        cdc_err     err = { 0 };

        while (commit_table(w, b, t, &c, &err) < 0) {
            int64_t ms;

            if (!cdc_rc_retriable(err.code)) {
                ice_commit_free(c);
                log_error(ICE_FAC, "%s: %s", w->label, err.msg);
                pthread_mutex_lock(&w->mu);
                w->fatal = true;
                w->fatal_err = err;
                snprintf(w->state, sizeof(w->state), "stopped: %s", err.msg);
                pthread_cond_broadcast(&w->cv);
                pthread_mutex_unlock(&w->mu);
                return;
            }
            ms = cdc_retry_delay_ms(&w->retry, attempt++, &w->rng);
            if (attempt == 1 || attempt % 10 == 0)
                log_warn(ICE_FAC, "%s: table %s: %s (attempt %d, again in %" PRId64 " ms)",
                         w->label, t->name, err.msg, attempt, ms);
            set_state(w, true, "waiting for the catalog or warehouse: %s", err.msg);
            if (nap(w, ms)) {
                ice_commit_free(c);
                return;
            }
        }
    }
    pthread_mutex_lock(&w->mu);
    if (cdc_pos_cmp(b->pos, w->durable) > 0)
        w->durable = b->pos;
    w->job = NULL;
    w->failing = false;
    w->last_commit_ms = cdc_wall_ms();
    w->nbatches++;
    snprintf(w->state, sizeof(w->state), "idle");
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    log_debug(ICE_FAC, "%s: batch of %" PRId64 " rows committed", w->label, b->rows);
    ice_batch_free(b);
}

static void *
worker_main(void *arg)
{
    ice_worker *w = arg;

    for (;;) {
        ice_batch *b;
        bool       maintain = false;

        pthread_mutex_lock(&w->mu);
        while (!w->stop && (w->job == NULL || w->fatal)) {
            int64_t due = ice_maint_next_due(w);

            if (due == INT64_MAX) {
                pthread_cond_wait(&w->cv, &w->mu);
                continue;
            }
            if (due <= cdc_wall_ms()) {
                maintain = true;
                break;
            }
            struct timespec ts = { .tv_sec = (time_t) (due / 1000),
                                   .tv_nsec = (long) (due % 1000) * 1000000 };

            (void) pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        }
        if (w->stop) {
            pthread_mutex_unlock(&w->mu);
            return NULL;
        }
        if (maintain) {
            w->maint = true;
            pthread_mutex_unlock(&w->mu);
            ice_maint_run(w);
            pthread_mutex_lock(&w->mu);
            w->maint = false;
            if (w->job == NULL && !w->fatal)
                snprintf(w->state, sizeof(w->state), "idle");
            pthread_cond_broadcast(&w->cv);
            pthread_mutex_unlock(&w->mu);
            continue;
        }
        b = w->job;
        pthread_mutex_unlock(&w->mu);
        run_batch(w, b);
    }
}

ice_worker *
ice_worker_start(const ice_worker_conf *c, cdc_err *err)
{
    ice_worker *w = cdc_xcalloc(1, sizeof(*w));
    const char *hook = getenv("CDCAGENT_TEST_ICEBERG_CRASH");

    w->cat = c->cat;
    w->st = c->store;
    w->ns = cdc_xstrdup(c->ns);
    w->pipeline_id = cdc_xstrdup(c->pipeline_id ? c->pipeline_id : "");
    w->sink_id = cdc_xstrdup(c->sink_id ? c->sink_id : "");
    w->label = cdc_xstrdup(c->label ? c->label : "iceberg sink");
    w->auto_create = c->auto_create;
    w->retry = c->retry;
    w->rng = cdc_rng_seed();
    if (hook && strncmp(hook, "before_commit", 13) == 0)
        w->crash_at = hook[13] == ':' ? atoi(hook + 14) : 1;
    if (hook && strncmp(hook, "during_expire", 13) == 0)
        w->expire_crash_after = hook[13] == ':' ? atoi(hook + 14) : 1;
    w->compact_crash = hook && strcmp(hook, "during_compact") == 0;
    w->compact = c->compact;
    w->compact_interval_ms = (int64_t) ((c->compact_interval_s > 0 ? c->compact_interval_s
                                                                   : 7200.0) * 1000);
    w->compact_threshold = c->compact_file_threshold;
    w->compact_max_rows = c->compact_max_rows;
    w->compact_moves = c->compact_moves;
    w->expire = c->expire;
    w->expire_interval_ms = (int64_t) ((c->expire_interval_s > 0 ? c->expire_interval_s
                                                                 : 3600.0) * 1000);
    w->expire_older_than_ms = (int64_t) ((c->expire_older_than_s > 0 ? c->expire_older_than_s
                                                                     : 86400.0) * 1000);
    w->orphan_age_ms = ICE_EXPIRE_ORPHAN_AGE_MS_DEFAULT;
    {
        /* tests only: a shorter safety age for orphan files (seconds) */
        const char *oa = getenv("CDCAGENT_TEST_ICEBERG_ORPHAN_AGE_SECONDS");

        if (oa && *oa)
            w->orphan_age_ms = (int64_t) (atof(oa) * 1000);
    }
    for (int i = 0; i < c->nexpire_tables; i++)
        ice_maint_schedule(w, c->expire_tables[i]);
    snprintf(w->state, sizeof(w->state), "idle");
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thr, NULL, worker_main, w) != 0) {
        cdc_err_set(err, CDC_E_NOMEM, "%s: cannot start the commit thread", w->label);
        w->cat = NULL;
        w->st = NULL;
        ice_worker_stop(w);
        return NULL;
    }
    w->started = true;
    return w;
}

void
ice_worker_stop(ice_worker *w)
{
    if (w == NULL)
        return;
    if (w->started) {
        pthread_mutex_lock(&w->mu);
        w->stop = true;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thr, NULL);
    }
    ice_batch_free(w->job);
    ice_cat_close(w->cat);
    ice_store_free(w->st);
    for (int i = 0; i < w->nknown; i++) {
        free(w->known[i].name);
        free(w->known[i].location);
        ice_meta_free(w->known[i].m);
    }
    free(w->known);
    for (int i = 0; i < w->nsched; i++)
        free(w->sched[i].name);
    free(w->sched);
    for (int i = 0; i < w->nmoved; i++) {
        free(w->moved[i].table);
        ice_compact_moves_free(w->moved[i].mv);
    }
    free(w->moved);
    free(w->ns);
    free(w->pipeline_id);
    free(w->sink_id);
    free(w->label);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

bool
ice_worker_idle(ice_worker *w)
{
    bool idle;

    pthread_mutex_lock(&w->mu);
    idle = w->job == NULL && !w->fatal && !w->compacting && w->nmoved == 0;
    pthread_mutex_unlock(&w->mu);
    return idle;
}

bool
ice_worker_claim(ice_worker *w)
{
    bool idle;

    pthread_mutex_lock(&w->mu);
    idle = w->job == NULL && !w->fatal && !w->compacting && w->nmoved == 0;
    w->claimed = idle;
    pthread_mutex_unlock(&w->mu);
    return idle;
}

void
ice_worker_release(ice_worker *w)
{
    pthread_mutex_lock(&w->mu);
    w->claimed = false;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

ice_compact_moves *
ice_worker_take_moves(ice_worker *w, char **table)
{
    ice_compact_moves *mv = NULL;

    pthread_mutex_lock(&w->mu);
    if (w->nmoved > 0) {
        mv = w->moved[0].mv;
        *table = w->moved[0].table;
        memmove(w->moved, w->moved + 1, (size_t) (w->nmoved - 1) * sizeof(*w->moved));
        if (--w->nmoved == 0)
            pthread_cond_broadcast(&w->cv);     /* maintenance may go on */
    }
    pthread_mutex_unlock(&w->mu);
    return mv;
}

void
ice_worker_submit(ice_worker *w, ice_batch *b)
{
    pthread_mutex_lock(&w->mu);
    w->job = b;
    w->claimed = false;
    snprintf(w->state, sizeof(w->state), "committing a batch of %" PRId64 " rows", b->rows);
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int
ice_worker_poll(ice_worker *w, cdc_pos *durable, cdc_err *err)
{
    int rc = 0;

    pthread_mutex_lock(&w->mu);
    *durable = w->durable;
    if (w->fatal) {
        if (err)
            *err = w->fatal_err;
        rc = -1;
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

bool
ice_worker_wait(ice_worker *w, int timeout_ms)
{
    int64_t deadline = cdc_mono_ms() + timeout_ms;
    bool    idle;

    for (;;) {
        pthread_mutex_lock(&w->mu);
        idle = w->job == NULL;
        if (idle || w->fatal) {
            pthread_mutex_unlock(&w->mu);
            return idle;
        }
        pthread_mutex_unlock(&w->mu);
        if (cdc_mono_ms() >= deadline)
            return false;
        cdc_sleep_ms(10);
    }
}

void
ice_worker_health(ice_worker *w, cdc_health *h)
{
    char last[48] = "never";

    pthread_mutex_lock(&w->mu);
    if (w->last_commit_ms > 0) {
        time_t    s = (time_t) (w->last_commit_ms / 1000);
        struct tm tm;

        gmtime_r(&s, &tm);
        strftime(last, sizeof(last), "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    /* Waiting for the catalog or warehouse is "error" too, so that /readyz says not ready
       (and why) while nothing can be committed; the detail says it is being retried. */
    h->state = w->fatal || w->failing ? CDC_DEST_ERROR : CDC_DEST_OK;
    {
        cdc_buf d = { 0 };

        cdc_buf_printf(&d, "%s: %s; %llu batches committed, last at %s", w->label, w->state,
                       (unsigned long long) w->nbatches, last);
        if (w->cmp_runs > 0)
            cdc_buf_printf(&d, "; compaction: %" PRId64 " runs, %" PRId64 " files replaced, %"
                           PRId64 " rows rewritten", w->cmp_runs, w->cmp_files, w->cmp_rows);
        if (w->exp_runs > 0)
            cdc_buf_printf(&d, "; snapshot expiry: %" PRId64 " snapshots expired, %" PRId64
                           " files (%" PRId64 " bytes) removed, %" PRId64 " of them orphans",
                           w->exp_snapshots, w->exp_files, w->exp_bytes, w->exp_orphans);
        snprintf(h->detail, sizeof(h->detail), "%.*s", (int) d.len, d.data ? (const char *) d.data : "");
        cdc_buf_free(&d);
    }
    pthread_mutex_unlock(&w->mu);
}

/* The table's metadata as last loaded or committed; w->mu held and the worker idle. */
static int
idle_meta(ice_worker *w, const char *ns, const char *table, ice_meta **m, cdc_err *err)
{
    known *k;

    if (w->job != NULL || w->fatal || w->maint || w->nmoved > 0)
        return cdc_err_set(err, CDC_E_QUEUE_FULL, "%s: a commit or table maintenance is in "
                           "progress", w->label);
    /* Idle: the worker thread waits on the condition and touches nothing until a batch
       comes, which only this thread hands over. */
    k = ice_known_find(w, table);
    if (k == NULL || k->m == NULL) {
        ice_cat_ident id = { ns, table };
        ice_meta     *lm = NULL;
        char         *loc = NULL;
        int           rc = ice_commit_load(w->cat, w->st, &id, &lm, &loc, err);

        free(loc);
        if (rc != ICE_CAT_OK) {
            if (rc > 0)
                err->code = CDC_E_STATE;
            return -1;
        }
        ice_known_set(w, table, lm->location, lm);
        k = ice_known_find(w, table);
    }
    *m = k->m;
    return 0;
}

int
ice_worker_read_row(ice_worker *w, const char *ns, const char *table, const char *file,
                    int64_t pos, const int32_t *ids, int n, ice_value *out, cdc_buf *mem,
                    cdc_err *err)
{
    ice_meta *m;
    int       rc;

    pthread_mutex_lock(&w->mu);
    rc = idle_meta(w, ns, table, &m, err);
    if (rc == 0)
        rc = ice_scan_row(w->st, m, file, pos, ids, n, out, mem, err);
    pthread_mutex_unlock(&w->mu);
    if (rc == 1) {
        err->code = CDC_E_STATE;
        return -1;
    }
    return rc;
}

int
ice_worker_read_list(ice_worker *w, const char *ns, const char *table, const char *file,
                     int64_t pos, int32_t field_id, bool *is_null, ice_value **elems,
                     size_t *nelems, cdc_buf *mem, cdc_err *err)
{
    ice_meta *m;
    int       rc;

    pthread_mutex_lock(&w->mu);
    rc = idle_meta(w, ns, table, &m, err);
    if (rc == 0)
        rc = ice_scan_row_list(w->st, m, file, pos, field_id, is_null, elems, nelems, mem, err);
    pthread_mutex_unlock(&w->mu);
    if (rc == 1) {
        err->code = CDC_E_STATE;
        return -1;
    }
    return rc;
}
