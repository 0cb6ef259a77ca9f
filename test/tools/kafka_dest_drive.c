/*
 * kafka_dest_drive: drives the Kafka destination (transports/kafka/kafka.c) directly with a
 * deterministic stream of synthetic events, for the real-broker tests before the agent's
 * run loop opens it.  Every run produces the same events at the same positions, and it
 * calls resume_from() first, so running it again after a kill -9 must add exactly what
 * was missing.
 *
 *   kafka_dest_drive BOOTSTRAP PREFIX ROWS [PARTITIONS [SLEEP_MS_PER_TXN]]
 *
 * Stream: ROWS inserts into public.items (id bigint key, name text), 10 per transaction;
 * then one transaction each with: an update of id 0; a delete of id 1 and its tombstone;
 * a key change 2 -> ROWS+2 (delete with __debezium.newkey, tombstone, create with
 * __debezium.oldkey); an insert into public.nokey (no key: null record key); a logical
 * message with prefix "p".  Prints "durable LSN SEQ" at the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/core/cdc_log.h"
#include "transports/kafka/kafka.h"

static cdc_col  items_cols[2], nokey_cols[1];
static cdc_rel  items, nokey;
static cdc_txn  txn;
static uint64_t seq;
static char     names[2][32];

static cdc_value
v_int(int64_t i)
{
    cdc_value v = { .state = CDC_VAL_PRESENT };

    v.u.i = i;
    return v;
}

static cdc_value
v_str(const char *s)
{
    cdc_value v = { .state = CDC_VAL_PRESENT };

    v.u.s.p = s;
    v.u.s.n = strlen(s);
    return v;
}

static void
setup_rels(const char *prefix)
{
    static char t1[300], t2[300];
    cdc_ctype   i64 = { .supported = true, .kind = CDC_CT_INT64, .precision = -1 };
    cdc_ctype   str = { .supported = true, .kind = CDC_CT_STRING, .precision = -1 };

    items_cols[0] = (cdc_col) { .name = "id", .not_null = true, .key_pos = 1, .ctype = i64 };
    items_cols[1] = (cdc_col) { .name = "name", .ctype = str };
    nokey_cols[0] = (cdc_col) { .name = "note", .ctype = str };
    snprintf(t1, sizeof(t1), "%s.public.items", prefix);
    snprintf(t2, sizeof(t2), "%s.public.nokey", prefix);
    items = (cdc_rel) { .relid = 1, .nspname = "public", .relname = "items", .replident = 'd',
                        .ncols = 2, .cols = items_cols, .nkeys = 1, .topic = t1 };
    nokey = (cdc_rel) { .relid = 2, .nspname = "public", .relname = "nokey", .replident = 'd',
                        .ncols = 1, .cols = nokey_cols, .nkeys = 0, .topic = t2 };
}

static void
begin(uint64_t n)
{
    txn = (cdc_txn) { .xid = (uint32_t) (500 + n), .commit_lsn = 0x1000000 + n * 0x100,
                      .end_lsn = 0x1000000 + n * 0x100 + 8, .commit_ts_us = 1700000000000000 };
    seq = 0;
}

static int
put(cdc_dest *d, cdc_event *ev)
{
    cdc_err err = { 0 };

    ev->txn = &txn;
    ev->pos = (cdc_pos) { txn.commit_lsn, seq++ };
    ev->lsn = txn.commit_lsn - 0x10;
    ev->source_ts_us = txn.commit_ts_us;
    for (int attempt = 0;; attempt++) {
        if (d->ops->write(d, ev, &err) == 0)
            return 0;
        if (err.code != CDC_E_QUEUE_FULL || attempt > 1000)
            break;
        d->ops->flush(d, 1000, &err);
    }
    fprintf(stderr, "kafka_dest_drive: write: %s\n", err.msg);
    return -1;
}

static int
commit(cdc_dest *d, int sleep_ms)
{
    cdc_err err = { 0 };
    cdc_pos p;

    txn.nevents = seq;
    if (d->ops->commit_txn(d, &txn, &err) != 0 || d->ops->progress(d, &p, &err) != 0) {
        fprintf(stderr, "kafka_dest_drive: %s\n", err.msg);
        return -1;
    }
    if (sleep_ms > 0) {
        struct timespec ts = { sleep_ms / 1000, (sleep_ms % 1000) * 1000000L };

        nanosleep(&ts, NULL);
    }
    return 0;
}

/* A row event on items with (id, name) as after/before and key. */
static cdc_event
row(cdc_op op, cdc_value *vals, int64_t id, const char *name)
{
    cdc_event ev = { .op = op, .rel = &items };

    vals[0] = v_int(id);
    vals[1] = v_str(name);
    if (op == CDC_OP_DELETE || op == CDC_OP_TOMBSTONE)
        ev.before = vals;
    else
        ev.after = vals;
    ev.key = vals;
    return ev;
}

static int
drive(cdc_dest *d, long rows, int sleep_ms)
{
    cdc_value a[2], b[2], k[2], n[1];
    cdc_event ev;
    uint64_t  t = 0;

    for (long id = 0; id < rows; t++) {
        begin(t);
        for (int i = 0; i < 10 && id < rows; i++, id++) {
            snprintf(names[0], sizeof(names[0]), "name-%ld", id);
            ev = row(CDC_OP_CREATE, a, id, names[0]);
            if (put(d, &ev))
                return -1;
        }
        if (commit(d, sleep_ms))
            return -1;
    }
    begin(t++);
    ev = row(CDC_OP_UPDATE, a, 0, "updated");
    if (put(d, &ev) || commit(d, 0))
        return -1;
    begin(t++);
    ev = row(CDC_OP_DELETE, a, 1, "name-1");
    if (put(d, &ev))
        return -1;
    ev = row(CDC_OP_TOMBSTONE, a, 1, "name-1");
    if (put(d, &ev) || commit(d, 0))
        return -1;
    begin(t++);
    k[0] = v_int(rows + 2);
    k[1] = v_str("");
    ev = row(CDC_OP_DELETE, a, 2, "name-2");
    ev.pk_change_newkey = k;
    if (put(d, &ev))
        return -1;
    ev = row(CDC_OP_TOMBSTONE, a, 2, "name-2");
    if (put(d, &ev))
        return -1;
    ev = row(CDC_OP_CREATE, b, rows + 2, "name-2");
    b[0] = v_int(rows + 2);
    a[0] = v_int(2);
    ev.pk_change_oldkey = a;
    if (put(d, &ev) || commit(d, 0))
        return -1;
    begin(t++);
    n[0] = v_str("no key here");
    ev = (cdc_event) { .op = CDC_OP_CREATE, .rel = &nokey, .after = n };
    if (put(d, &ev) || commit(d, 0))
        return -1;
    begin(t++);
    ev = (cdc_event) { .op = CDC_OP_MESSAGE, .msg_prefix = "p",
                       .msg_content = (const uint8_t *) "hello", .msg_len = 5,
                       .msg_transactional = true };
    return put(d, &ev) || commit(d, 0) ? -1 : 0;
}

int
main(int argc, char **argv)
{
    dest_kafka_cluster kc = { 0 };
    dest_kafka_conf    c = { .kafka = &kc, .json_schemas_enable = true, .dlq_suffix = "dlq",
                             .dlq_enabled = true };
    /* Every run starts from the first position, as if the slot had never moved. */
    cdc_dest_env       env = { .pipeline_id = "drive", .database = "cdc_demo", .resume_lsn = 1 };
    cdc_dest           d = { .ops = &dest_kafka_ops, .id = "kafka" };
    cdc_err            err = { 0 };
    cdc_pos            last, p = { 0, 0 };
    int                rc = 1;

    if (argc < 4) {
        fprintf(stderr, "usage: kafka_dest_drive BOOTSTRAP PREFIX ROWS [PARTITIONS [SLEEP_MS]]\n");
        return 2;
    }
    kc.bootstrap_servers = argv[1];
    kc.topic_num_partitions = argc > 4 ? atoi(argv[4]) : 3;
    kc.topic_replication_factor = 1;
    c.topic_prefix = env.topic_prefix = argv[2];
    setup_rels(argv[2]);
    if (d.ops->open(&d, &c, &env, &err) != 0) {
        fprintf(stderr, "kafka_dest_drive: open: %s\n", err.msg);
        return 1;
    }
    if (d.ops->resume_from(&d, &last, &err) != 0) {
        fprintf(stderr, "kafka_dest_drive: resume: %s\n", err.msg);
        goto out;
    }
    if (drive(&d, atol(argv[3]), argc > 5 ? atoi(argv[5]) : 0) != 0)
        goto out;
    if (d.ops->flush(&d, 60000, &err) != 0 || d.ops->progress(&d, &p, &err) != 0) {
        fprintf(stderr, "kafka_dest_drive: flush: %s\n", err.msg);
        goto out;
    }
    printf("durable %llu %llu\n", (unsigned long long) p.lsn, (unsigned long long) p.seq);
    rc = 0;
out:
    d.ops->close(&d);
    return rc;
}
