/*
 * The Kafka destination (see kafka_int.h): topics, their names and
 * partitions, the table of those it writes, and their creation.
 */
#include "transports/kafka/kafka_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"
#include "schemas/topic.h"

/* ------------------------------------------------------------------ */
/* Topics                                                              */
/* ------------------------------------------------------------------ */

static uint64_t
kafka_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s; s++)
        h = (h ^ (uint8_t) *s) * 1099511628211ULL;
    return h;
}

kafka_topic *
kafka_topic_find(kafka *k, const char *name)
{
    if (k->topics_cap == 0)
        return NULL;
    for (size_t i = kafka_hash(name) & (k->topics_cap - 1);; i = (i + 1) & (k->topics_cap - 1)) {
        if (k->topics[i] == NULL)
            return NULL;
        if (strcmp(k->topics[i]->name, name) == 0)
            return k->topics[i];
    }
}

static void
kafka_topic_insert(kafka *k, kafka_topic *t)
{
    if ((k->ntopics + 1) * 2 > k->topics_cap) {
        size_t        cap = k->topics_cap ? k->topics_cap * 2 : 16;
        kafka_topic **old = k->topics;
        size_t        oldcap = k->topics_cap;

        k->topics = cdc_xcalloc(cap, sizeof(*k->topics));
        k->topics_cap = cap;
        k->ntopics = 0;
        for (size_t i = 0; i < oldcap; i++)
            if (old[i])
                kafka_topic_insert(k, old[i]);
        free(old);
    }
    for (size_t i = kafka_hash(t->name) & (k->topics_cap - 1);; i = (i + 1) & (k->topics_cap - 1))
        if (k->topics[i] == NULL) {
            k->topics[i] = t;
            k->ntopics++;
            return;
        }
}

/* read_back: whether the first record of each partition is read back
   (kafka_check_delivered); counted in k->unchecked until it is. */
kafka_topic *
kafka_topic_add(kafka *k, const char *name, int32_t nparts, bool read_back)
{
    kafka_topic *t = cdc_xcalloc(1, sizeof(*t));

    t->name = cdc_xstrdup(name);
    t->nparts = nparts;
    t->rkt = rd_kafka_topic_new(k->rk, name, NULL);
    kafka_topic_insert(k, t);
    if (read_back)
        k->unchecked += (size_t) nparts;
    return t;
}

/* Creates topic `name` when missing (TOPIC_ALREADY_EXISTS is success). */
int
kafka_create_topic(kafka *k, const char *name, int nparts, cdc_err *err)
{
    char                  errstr[256];
    rd_kafka_NewTopic_t  *nt;
    rd_kafka_AdminOptions_t *opts = NULL;
    rd_kafka_queue_t     *q = NULL;
    rd_kafka_event_t     *ev = NULL;
    const rd_kafka_topic_result_t **res;
    size_t                nres = 0;
    int                   rc = -1;

    nt = rd_kafka_NewTopic_new(name, nparts, k->rf_new, errstr, sizeof(errstr));
    if (nt == NULL)
        return cdc_err_set(err, CDC_E_CONFIG, "kafka topic %s: %s", name, errstr);
    opts = rd_kafka_AdminOptions_new(k->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opts, KAFKA_META_MS, errstr, sizeof(errstr));
    rd_kafka_AdminOptions_set_request_timeout(opts, KAFKA_META_MS, errstr, sizeof(errstr));
    q = rd_kafka_queue_new(k->rk);
    rd_kafka_CreateTopics(k->rk, &nt, 1, opts, q);
    ev = rd_kafka_queue_poll(q, KAFKA_META_MS + 2000);
    if (ev == NULL) {
        cdc_err_set(err, CDC_E_CONN, "kafka topic %s: CreateTopics timed out", name);
        goto out;
    }
    if (rd_kafka_event_error(ev)) {
        rd_kafka_resp_err_t e = rd_kafka_event_error(ev);

        cdc_err_set(err, e == RD_KAFKA_RESP_ERR__TIMED_OUT || e == RD_KAFKA_RESP_ERR__TRANSPORT
                    ? CDC_E_CONN : CDC_E_DEST, "kafka topic %s: CreateTopics: %s", name,
                    rd_kafka_event_error_string(ev));
        goto out;
    }
    res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &nres);
    if (nres == 1 && rd_kafka_topic_result_error(res[0]) != RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_topic_result_error(res[0]) != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        cdc_err_set(err, CDC_E_DEST, "kafka topic %s: CreateTopics: %s", name,
                    rd_kafka_topic_result_error_string(res[0]));
        goto out;
    }
    if (nres == 1 && rd_kafka_topic_result_error(res[0]) == RD_KAFKA_RESP_ERR_NO_ERROR)
        log_info(KAFKA_FAC, "%s: created with %d partitions, replication factor %d", name,
                 k->nparts_new, k->rf_new);
    rc = 0;
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    if (q)
        rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_NewTopic_destroy(nt);
    return rc;
}

/* Every partition of the topic has a leader (a just-created topic elects them one by one). */
static bool
kafka_md_led(const struct rd_kafka_metadata_topic *mt)
{
    for (int i = 0; i < mt->partition_cnt; i++)
        if (mt->partitions[i].err != RD_KAFKA_RESP_ERR_NO_ERROR || mt->partitions[i].leader < 0)
            return false;
    return true;
}

/*
 * The partition count of `name`, asking up to `tries` times 200 ms apart (a
 * just-created topic takes a moment to show up in the metadata).  With
 * `led`, only once every partition has a leader that answers for it: the
 * first records of a topic are not produced while its partitions are still
 * being set up (240 lost the first record of a partition created that way,
 * in 2 runs of about 20 under load, librdkafka 2.0.2's idempotent producer
 * having reported it delivered; the cause inside the client is not known).
 * @returns the count (> 0), or -1 with err set.
 */
int32_t
kafka_topic_nparts(kafka *k, const char *name, int tries, bool led, cdc_err *err)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(k->rk, name, NULL);
    int32_t           n = -1;

    for (int attempt = 0; attempt < tries && n < 0; attempt++) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(k->rk, 0, rkt, &md, KAFKA_META_MS);

        if (e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 && md->topics[0].err == 0 &&
            md->topics[0].partition_cnt > 0 && (!led || kafka_md_led(&md->topics[0])))
            n = md->topics[0].partition_cnt;
        /* The metadata names a leader before the leader has set the partition up; a
           ListOffsets answer (it is served by the partition itself) means it has. */
        for (int32_t p = 0; led && n > 0 && p < md->topics[0].partition_cnt; p++) {
            int64_t lo, hi;

            if (rd_kafka_query_watermark_offsets(k->rk, name, p, &lo, &hi, KAFKA_META_MS) !=
                RD_KAFKA_RESP_ERR_NO_ERROR)
                n = -1;
        }
        if (n < 0 && attempt == tries - 1)
            cdc_err_set(err, e ? CDC_E_CONN : CDC_E_DEST, "kafka topic %s: %s", name,
                        e || !md->topic_cnt || md->topics[0].err
                            ? rd_kafka_err2str(e ? e : md->topic_cnt ? md->topics[0].err
                                                                     : RD_KAFKA_RESP_ERR_UNKNOWN)
                            : "its partitions have no leader ready");
        if (md)
            rd_kafka_metadata_destroy(md);
        if (n < 0 && attempt < tries - 1)
            cdc_sleep_ms(200);
    }
    rd_kafka_topic_destroy(rkt);
    return n;
}

/* The topic handle for `name`, creating the topic (and its DLQ) at first use. */
kafka_topic *
kafka_topic_get(kafka *k, const char *name, cdc_err *err)
{
    kafka_topic *t = kafka_topic_find(k, name);
    int32_t      n;
    char         dlq[320];

    if (t && (t->dlq_ready || !k->dlq_enabled))
        return t;
    /* An existing topic is used as it is (its partition count included):
       creating needs rights a managed cluster may not grant. */
    if (t == NULL) {
        if ((n = kafka_topic_nparts(k, name, 1, false, NULL)) < 0 &&
            (kafka_create_topic(k, name, k->nparts_new, err) != 0 ||
             (n = kafka_topic_nparts(k, name, 50, true, err)) < 0))
            return NULL;
        t = kafka_topic_add(k, name, n, true);
    }
    if (k->dlq_enabled) {
        snprintf(dlq, sizeof(dlq), "%s.%s", name, k->dlq_suffix);
        if (kafka_topic_nparts(k, dlq, 1, false, NULL) < 0 &&
            (kafka_create_topic(k, dlq, k->nparts_new, err) != 0 ||
             kafka_topic_nparts(k, dlq, 50, true, err) < 0))
            return NULL;
        t->dlq_ready = true;
    }
    return t;
}

/* Is `name` one of this pipeline's data topics ("{prefix}.*", not a DLQ)? */
bool
kafka_ours(const kafka *k, const char *name)
{
    size_t pl = strlen(k->prefix), nl = strlen(name), sl = strlen(k->dlq_suffix);

    if (nl <= pl + 1 || strncmp(name, k->prefix, pl) != 0 || name[pl] != '.')
        return false;
    return !(nl > sl + 1 && name[nl - sl - 1] == '.' && strcmp(name + nl - sl, k->dlq_suffix) == 0);
}

/*
 * Creates, before anything streams, the topics of the configured tables (and
 * the transaction topic), so that no record waits on a topic being set up.
 * Best effort: a topic that cannot be created now is tried again, with its
 * error, at its first record.  Names written with quotes are left to then.
 */
void
kafka_create_known(kafka *k)
{
    char name[300];

    for (int i = 0; i <= k->ntables; i++) {
        const char *t = i < k->ntables ? k->tables[i] : NULL;
        const char *dot = t ? strchr(t, '.') : NULL;
        cdc_err     err = { 0 };

        if (t == NULL) {
            if (!k->tx_on)
                break;
            snprintf(name, sizeof(name), "%s.%s", k->prefix, KAFKA_TX_TOPIC);
        } else {
            char nsp[128];

            if (dot == NULL || strchr(t, '"') || (size_t) (dot - t) >= sizeof(nsp))
                continue;
            snprintf(nsp, sizeof(nsp), "%.*s", (int) (dot - t), t);
            sch_topic_name(k->prefix, nsp, dot + 1, name, sizeof(name));
        }
        if (kafka_topic_get(k, name, &err) == NULL)
            log_warn(KAFKA_FAC, "%s: not created at start (%s); trying again at its first "
                     "record", name, err.msg);
    }
}

/* ------------------------------------------------------------------ */
/* The topic and the partition of a record                             */
/* ------------------------------------------------------------------ */

/*
 * The partition for an event: murmur2 of the key bytes as the Java
 * producer's default partitioner computes it; a keyless record's partition
 * comes from its position so that a re-sent copy goes where the first did.
 */
int32_t
kafka_partition(const kafka_topic *t, const cdc_event *ev, const void *key, size_t klen,
                bool nullkey)
{
    uint64_t h;

    if (!nullkey)
        return rd_kafka_msg_partitioner_murmur2(t->rkt, key, klen, t->nparts, NULL, NULL);
    h = (ev->pos.lsn ^ (ev->pos.seq * 0x9E3779B97F4A7C15ULL)) * 0xff51afd7ed558ccdULL;
    return (int32_t) ((h >> 33) % (uint64_t) t->nparts);
}
