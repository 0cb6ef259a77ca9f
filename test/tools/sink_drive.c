/*
 * sink_drive: feeds synthetic events to one sink (webhook or postgres)
 * through its cdc_dest_ops, exactly as the agent's router does, and waits
 * until they are durable.  The integration tests 3NN use it to exercise the
 * sinks against a real HTTP receiver and a real target PostgreSQL without
 * the capture path.
 *
 *   sink_drive webhook URL [opts]      sink_drive postgres CONNINFO [opts]
 *   --events N (100)  --txn K events per transaction (10)  --keys M distinct ids (10)
 *   --lsn L first commit LSN (1000000)  --mode event_log|replica  --table T
 *   --batch B  --inflight F  --attempts A  --initial-ms MS  --max-ms MS  --timeout-ms MS
 *   --dlq PATH  --pipeline ID  --sink-id ID  --upsert  --resume (skip what resume_from holds)
 *   --deadline-ms MS (60000)  --pace-ms MS (wait between transactions, running progress())  --expect (print the expected replica rows instead, and exit)
 *
 * Events: id = i % M; the first event of an id is c, then u, and every 7th
 * event is d (the id starts again with c).  Rows of relation public.items
 * (id int4 pk, name text, amount numeric(10,2), born date, ts timestamp,
 * ok bool, raw bytea, score float8, note text).  An update whose i % 5 == 0
 * sends note as unchanged TOAST.  Prints "durable LSN SEQ" at the end; exit
 * status 0 when the last transaction is durable.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/core/cdc_log.h"
#include "schemas/json.h"
#include "agent/core/dest/dlq.h"
#include "sinks/postgres/postgres.h"
#include "sinks/webhook/webhook.h"

#define NCOLS 9

static cdc_col cols[NCOLS] = {
    { .name = "id", .type_name = "integer", .catalog_known = true, .key_pos = 1, .not_null = true,
      .ctype = { .supported = true, .kind = CDC_CT_INT32 } },
    { .name = "name", .type_name = "text", .catalog_known = true,
      .ctype = { .supported = true, .kind = CDC_CT_STRING } },
    { .name = "amount", .type_name = "numeric(10,2)", .catalog_known = true,
      .ctype = { .supported = true, .kind = CDC_CT_BYTES, .sem = CDC_SEM_DECIMAL, .scale = 2,
                 .precision = 10 } },
    { .name = "born", .type_name = "date", .catalog_known = true,
      .ctype = { .supported = true, .kind = CDC_CT_INT32, .sem = CDC_SEM_DATE } },
    { .name = "ts", .type_name = "timestamp without time zone", .catalog_known = true,
      .ctype = { .supported = true, .kind = CDC_CT_INT64, .sem = CDC_SEM_MICRO_TIMESTAMP } },
    { .name = "ok", .type_name = "boolean", .catalog_known = true,
      .ctype = { .supported = true, .kind = CDC_CT_BOOLEAN } },
    { .name = "raw", .type_name = "bytea", .catalog_known = true,
      .ctype = { .supported = true, .kind = CDC_CT_BYTES } },
    { .name = "score", .type_name = "double precision", .catalog_known = true,
      .ctype = { .supported = true, .kind = CDC_CT_FLOAT64 } },
    { .name = "note", .type_name = "text", .catalog_known = true,
      .ctype = { .supported = true, .kind = CDC_CT_STRING } },
};
static cdc_rel rel = { .relid = 16400, .nspname = "public", .relname = "items", .replident = 'd',
                       .ncols = NCOLS, .cols = cols, .version = 1, .nkeys = 1,
                       .topic = "it.public.items" };

typedef struct row {
    bool    live;
    int     id;
    int64_t v;      /* the event number that wrote it */
    int64_t note_v; /* the event number that last wrote note */
} row;

static int64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Fills vals for event number v of id. */
static void
fill(cdc_value *vals, int id, int64_t v, char *name, char *note, uint8_t *amount, uint8_t *raw,
     bool toast)
{
    int64_t unscaled = v * 125 + 1;   /* amount = v * 1.25 + 0.01 */

    sprintf(name, "name-%d-%" PRId64 " 'q\"", id, v);
    sprintf(note, "note-%" PRId64, v);
    for (int i = 0; i < 8; i++)
        amount[i] = (uint8_t) (unscaled >> (56 - 8 * i));
    raw[0] = (uint8_t) id;
    raw[1] = (uint8_t) v;
    raw[2] = 0;
    vals[0] = (cdc_value) { .state = CDC_VAL_PRESENT, .u.i = id };
    vals[1] = (cdc_value) { .state = CDC_VAL_PRESENT, .u.s = { name, strlen(name), 0 } };
    vals[2] = (cdc_value) { .state = CDC_VAL_PRESENT, .u.s = { (char *) amount, 8, 2 } };
    vals[3] = (cdc_value) { .state = CDC_VAL_PRESENT, .u.i = 19000 + v };
    vals[4] = (cdc_value) { .state = CDC_VAL_PRESENT,
                            .u.i = 1714558530123456 + v * 1000001 };
    vals[5] = (cdc_value) { .state = CDC_VAL_PRESENT, .u.b = v % 2 == 0 };
    vals[6] = (cdc_value) { .state = CDC_VAL_PRESENT, .u.s = { (char *) raw, 3, 0 } };
    vals[7] = (cdc_value) { .state = CDC_VAL_PRESENT, .u.f = (double) v / 4 };
    vals[8] = toast ? (cdc_value) { .state = CDC_VAL_UNCHANGED }
                    : (cdc_value) { .state = CDC_VAL_PRESENT, .u.s = { note, strlen(note), 0 } };
}

static const char *
arg(int *i, int argc, char **argv)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "sink_drive: %s needs a value\n", argv[*i]);
        exit(2);
    }
    return argv[++*i];
}

int
main(int argc, char **argv)
{
    const char        *kind, *target, *mode = "event_log", *table = NULL, *dlqpath = NULL;
    const char        *pipeline = "it", *sink_id = "sink";
    long               nev = 100, per_txn = 10, nkeys = 10, batch = 0, inflight = 0;
    long               attempts = 3, initial_ms = 100, max_ms = 1000, timeout_ms = 5000;
    long               deadline_ms = 60000, pace_ms = 0;
    uint64_t           lsn0 = 1000000;
    bool               upsert = false, resume = false, expect = false;
    cdc_dest           d = { .id = NULL };
    cdc_err            err = { 0 };
    sch_json_opts      jopts;
    dest_dlq          *dlq = NULL;
    cdc_pos            held = { 0, 0 }, durable = { 0, 0 }, last = { 0, 0 };
    row               *rows;
    int64_t            deadline;
    int                rc = 1;

    if (argc < 3) {
        fprintf(stderr, "usage: sink_drive webhook|postgres URL|CONNINFO [options]\n");
        return 2;
    }
    kind = argv[1];
    target = argv[2];
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i];

        if (!strcmp(a, "--events")) nev = atol(arg(&i, argc, argv));
        else if (!strcmp(a, "--txn")) per_txn = atol(arg(&i, argc, argv));
        else if (!strcmp(a, "--keys")) nkeys = atol(arg(&i, argc, argv));
        else if (!strcmp(a, "--lsn")) lsn0 = strtoull(arg(&i, argc, argv), NULL, 10);
        else if (!strcmp(a, "--mode")) mode = arg(&i, argc, argv);
        else if (!strcmp(a, "--table")) table = arg(&i, argc, argv);
        else if (!strcmp(a, "--batch")) batch = atol(arg(&i, argc, argv));
        else if (!strcmp(a, "--inflight")) inflight = atol(arg(&i, argc, argv));
        else if (!strcmp(a, "--attempts")) attempts = atol(arg(&i, argc, argv));
        else if (!strcmp(a, "--initial-ms")) initial_ms = atol(arg(&i, argc, argv));
        else if (!strcmp(a, "--max-ms")) max_ms = atol(arg(&i, argc, argv));
        else if (!strcmp(a, "--timeout-ms")) timeout_ms = atol(arg(&i, argc, argv));
        else if (!strcmp(a, "--deadline-ms")) deadline_ms = atol(arg(&i, argc, argv));
        else if (!strcmp(a, "--dlq")) dlqpath = arg(&i, argc, argv);
        else if (!strcmp(a, "--pipeline")) pipeline = arg(&i, argc, argv);
        else if (!strcmp(a, "--sink-id")) sink_id = arg(&i, argc, argv);
        else if (!strcmp(a, "--upsert")) upsert = true;
        else if (!strcmp(a, "--resume")) resume = true;
        else if (!strcmp(a, "--expect")) expect = true;
        else if (!strcmp(a, "--pace-ms")) pace_ms = atol(arg(&i, argc, argv));
        else {
            fprintf(stderr, "sink_drive: unknown option %s\n", a);
            return 2;
        }
    }
    cdc_log_set_level(getenv("SINK_DRIVE_DEBUG") ? CDC_LOG_DEBUG : CDC_LOG_INFO);
    rows = calloc((size_t) nkeys, sizeof(*rows));
    sch_json_opts_default(&jopts);
    jopts.server_name = "it";
    jopts.database = "src";
    cdc_dest_env env = { .pipeline_id = pipeline, .topic_prefix = "it", .database = "src",
                         .encode_opts = &jopts };
    cdc_retry_conf retry = { .max_attempts = (int) attempts, .initial_ms = (int) initial_ms,
                              .max_ms = (int) max_ms, .multiplier = 2.0, .jitter = true };

    if (!expect && dlqpath && (dlq = dest_dlq_open(dlqpath, &err)) == NULL)
        goto fail;
    d.id = sink_id;
    if (expect) {
        d.ops = NULL;
    } else if (!strcmp(kind, "webhook")) {
        dest_webhook_conf c = { .url = target, .timeout_ms = (int) timeout_ms,
                                .batch_max = (int) batch, .max_in_flight = (int) inflight,
                                .retry = retry, .dlq = dlq };

        d.ops = &dest_webhook_ops;
        if (d.ops->open(&d, &c, &env, &err) < 0)
            goto fail;
    } else {
        dest_postgres_conf c = { .conninfo = target, .target_table = table,
                                 .mode = !strcmp(mode, "replica") ? DEST_PG_REPLICA
                                                                  : DEST_PG_EVENT_LOG,
                                 .batch_size = (int) batch, .upsert = upsert, .retry = retry,
                                 .dlq = dlq, .flush_interval_ms = 200 };

        d.ops = &dest_postgres_ops;
        if (d.ops->open(&d, &c, &env, &err) < 0)
            goto fail;
    }
    if (d.ops && resume && d.ops->resume_from(&d, &held, &err) < 0)
        goto fail;
    deadline = mono_ms() + deadline_ms;
    for (long t = 0; t * per_txn < nev; t++) {
        cdc_txn txn = { .xid = (uint32_t) (700 + t), .commit_lsn = lsn0 + (uint64_t) t * 1000,
                        .commit_ts_us = 1714558530000000 + t };

        for (long s = 0; s < per_txn && t * per_txn + s < nev; s++) {
            int64_t   v = t * per_txn + s;
            int       id = (int) (v % nkeys);
            row      *r = &rows[id];
            cdc_value vals[NCOLS], keyv[NCOLS] = { { 0 } };
            char      name[80], note[40];
            uint8_t   amount[8], raw[3];
            cdc_op    op = !r->live ? CDC_OP_CREATE : v % 7 == 0 ? CDC_OP_DELETE : CDC_OP_UPDATE;
            bool      toast = op == CDC_OP_UPDATE && v % 5 == 0;
            cdc_event ev = { .op = op, .txn = &txn, .rel = &rel,
                             .pos = { txn.commit_lsn, (uint64_t) s },
                             .lsn = txn.commit_lsn - 500 + (uint64_t) s,
                             .source_ts_us = txn.commit_ts_us };

            fill(vals, id, v, name, note, amount, raw, toast);
            keyv[0] = vals[0];
            ev.key = keyv;
            if (op == CDC_OP_DELETE) {
                ev.before = keyv;
                r->live = false;
            } else {
                ev.after = vals;
                r->live = true;
                r->id = id;
                r->v = v;
                if (!toast)
                    r->note_v = v;
            }
            if (expect || cdc_pos_cmp(ev.pos, held) <= 0)
                continue;
            for (;;) {
                if (cdc_dest_write(&d, &ev, &err) == 0)
                    break;
                if (err.code != CDC_E_QUEUE_FULL)
                    goto fail;
                if (cdc_dest_flush(&d, 1000, &err) < 0 && err.code != CDC_E_TIMEOUT)
                    goto fail;
            }
            if (cdc_dest_progress(&d, &durable, &err) < 0)
                goto fail;
        }
        last = (cdc_pos) { txn.commit_lsn, CDC_SEQ_END };
        if (pace_ms > 0 && !expect) {   /* a slow source: progress() keeps running */
            for (int64_t until = mono_ms() + pace_ms; mono_ms() < until;) {
                if (cdc_dest_progress(&d, &durable, &err) < 0)
                    goto fail;
                usleep(10000);
            }
        }
        if (!expect && cdc_pos_cmp(last, held) > 0 && cdc_dest_commit_txn(&d, &txn, &err) < 0)
            goto fail;
    }
    if (expect) {
        /* psql -At -F'|' of SELECT * ORDER BY id, with TimeZone UTC */
        for (long k = 0; k < nkeys; k++) {
            row    *r = &rows[k];
            int64_t u = r->v * 125 + 1, us = 1714558530123456 + r->v * 1000001;
            time_t  sec = (time_t) (us / 1000000);
            time_t  day = (time_t) (19000 + r->v) * 86400;
            struct tm tm, dm;
            char    tsb[40], db[20], frac[16];

            if (!r->live)
                continue;
            gmtime_r(&sec, &tm);
            gmtime_r(&day, &dm);
            strftime(tsb, sizeof(tsb), "%Y-%m-%d %H:%M:%S", &tm);
            strftime(db, sizeof(db), "%Y-%m-%d", &dm);
            snprintf(frac, sizeof(frac), ".%06d", (int) (us % 1000000));
            for (size_t n = strlen(frac); n > 1 && frac[n - 1] == '0'; n--)
                frac[n - 1] = '\0';
            if (strlen(frac) == 1)
                frac[0] = '\0';
            printf("%d|name-%d-%" PRId64 " 'q\"|%" PRId64 ".%02d|%s|%s%s|%s|\\x%02x%02x00|%g|"
                   "note-%" PRId64 "\n", r->id, r->id, r->v, u / 100, (int) (u % 100), db, tsb,
                   frac, r->v % 2 == 0 ? "t" : "f", (unsigned) r->id,
                   (unsigned) (uint8_t) r->v, (double) r->v / 4, r->note_v);
        }
        free(rows);
        return 0;
    }
    while (mono_ms() < deadline) {
        if (cdc_dest_flush(&d, 500, &err) < 0 && err.code != CDC_E_TIMEOUT)
            goto fail;
        if (cdc_dest_progress(&d, &durable, &err) < 0)
            goto fail;
        if (cdc_pos_cmp(durable, last) >= 0)
            break;
    }
    printf("durable %" PRIu64 " %" PRId64 "\n", durable.lsn, (int64_t) durable.seq);
    rc = cdc_pos_cmp(durable, last) >= 0 ? 0 : 1;
    if (rc)
        fprintf(stderr, "sink_drive: not durable by the deadline (last %" PRIu64 ")\n", last.lsn);
    d.ops->close(&d);
    dest_dlq_close(dlq);
    free(rows);
    return rc;
fail:
    fprintf(stderr, "sink_drive: %s: %s\n", cdc_rc_name(err.code), err.msg);
    if (d.ops && d.impl)
        d.ops->close(&d);
    dest_dlq_close(dlq);
    free(rows);
    return 1;
}
