/*
 * What the Kafka destination's partitions already hold (see
 * kafka_resume.h): position headers, held-position sets, the backwards
 * scan, and the destination's resume_from that runs it once at start.
 */
#include "transports/kafka/kafka_resume.h"

#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"
#include "transports/kafka/kafka_int.h"

static bool
kafka_hdr_u64(rd_kafka_headers_t *h, const char *name, uint64_t *out)
{
    const void *v;
    size_t      n;
    char        tmp[32], *end;

    if (h == NULL || rd_kafka_header_get_last(h, name, &v, &n) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        v == NULL || n == 0 || n >= sizeof(tmp))
        return false;
    memcpy(tmp, v, n);
    tmp[n] = '\0';
    *out = strtoull(tmp, &end, 10);
    return *end == '\0';
}

bool
kafka_hdr_pos(rd_kafka_headers_t *h, cdc_pos *out)
{
    return kafka_hdr_u64(h, "cdc.commit_lsn", &out->lsn) && kafka_hdr_u64(h, "cdc.seq", &out->seq);
}

void
kafka_held_add(kafka_held *h, cdc_pos p)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->pos = cdc_xrealloc(h->pos, h->cap * sizeof(*h->pos));
    }
    h->pos[h->n++] = p;
    if (cdc_pos_cmp(p, h->max) > 0)
        h->max = p;
}

static int
kafka_pos_order(const void *a, const void *b)
{
    return cdc_pos_cmp(*(const cdc_pos *) a, *(const cdc_pos *) b);
}

void
kafka_held_sort(kafka_held *h)
{
    if (h->n > 1)
        qsort(h->pos, h->n, sizeof(*h->pos), kafka_pos_order);
}

bool
kafka_held_has(const kafka_held *h, cdc_pos p)
{
    size_t lo = 0, hi = h->n;

    if (h->n == 0 || cdc_pos_cmp(p, h->max) > 0)
        return false;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int    c = cdc_pos_cmp(h->pos[mid], p);

        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* One record read while scanning: remember its position if it may come again. */
static void
kafka_scan_record(kafka_scan *sc, const rd_kafka_message_t *m, uint64_t floor)
{
    rd_kafka_headers_t *h = NULL;
    cdc_pos             p;
    bool                ours;

    if (m->offset < sc->start || m->offset >= sc->end) {
        if (m->offset >= sc->end)
            sc->window_done = true;
        return;
    }
    rd_kafka_message_headers(m, &h);
    ours = kafka_hdr_pos(h, &p);
    if (!ours)
        *sc->foreign = true;
    if (m->offset == sc->start && (!ours || p.lsn < floor))
        sc->below_floor = true;
    if (ours && cdc_pos_cmp(p, *sc->newest) > 0)
        *sc->newest = p;
    if (ours && p.lsn >= floor)
        kafka_held_add(sc->held, p);
    if (m->offset == sc->end - 1)
        sc->window_done = true;
}

/* Reads every unfinished scan's window once.  @returns 0, or -1 with err set. */
static int
kafka_scan_windows(rd_kafka_t *rc, kafka_scan *scans, int n, uint64_t floor, int timeout_ms,
                   cdc_err *err)
{
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(n);
    int                              left = 0, rcode = -1;
    int64_t                          t0;

    for (int i = 0; i < n; i++)
        if (!scans[i].done) {
            rd_kafka_topic_partition_list_add(parts, scans[i].topic, scans[i].part)->offset =
                scans[i].start;
            scans[i].window_done = scans[i].below_floor = false;
            left++;
        }
    if (rd_kafka_assign(rc, parts) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        cdc_err_set(err, CDC_E_DEST, "kafka resume: assign failed");
        goto out;
    }
    t0 = cdc_mono_ms();
    while (left > 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rc, 200);
        kafka_scan         *sc = NULL;

        if (cdc_mono_ms() - t0 > timeout_ms) {
            cdc_err_set(err, CDC_E_TIMEOUT, "kafka resume: %d partition(s) were not read within "
                        "%d ms", left, timeout_ms);
            if (m)
                rd_kafka_message_destroy(m);
            goto out;
        }
        if (m == NULL)
            continue;
        for (int i = 0; i < n && m->rkt; i++)
            if (!scans[i].done && !scans[i].window_done && scans[i].part == m->partition &&
                strcmp(scans[i].topic, rd_kafka_topic_name(m->rkt)) == 0)
                sc = &scans[i];
        if (sc != NULL) {
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                sc->window_done = true;     /* the window reaches the end of the partition */
            else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
                kafka_scan_record(sc, m, floor);
            else
                log_warn(KAFKA_FAC, "resume: %s", rd_kafka_message_errstr(m));
            if (sc->window_done)
                left--;
        } else if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            log_warn(KAFKA_FAC, "resume: %s", rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
    }
    rcode = 0;
out:
    rd_kafka_topic_partition_list_destroy(parts);
    return rcode;
}

int
kafka_read_held(rd_kafka_conf_t *conf, kafka_scan *scans, int n, uint64_t floor, int timeout_ms,
                cdc_err *err)
{
    rd_kafka_t *rc;
    char        errstr[512];
    int         rcode = -1;

    rc = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (rc == NULL) {
        rd_kafka_conf_destroy(conf);
        return cdc_err_set(err, CDC_E_DEST, "kafka resume: creating a consumer: %s", errstr);
    }
    for (int active = n; active > 0;) {
        if (kafka_scan_windows(rc, scans, n, floor, timeout_ms, err) != 0)
            goto out;
        active = 0;
        for (int i = 0; i < n; i++) {
            kafka_scan *sc = &scans[i];
            int64_t     width = sc->end - sc->start;

            if (sc->done)
                continue;
            if (sc->below_floor || sc->start <= sc->lo) {
                sc->done = true;
                continue;
            }
            sc->end = sc->start;
            sc->start = sc->start - width * 2 > sc->lo ? sc->start - width * 2 : sc->lo;
            active++;
        }
    }
    rcode = 0;
out:
    rd_kafka_consumer_close(rc);
    rd_kafka_destroy(rc);
    return rcode;
}

/* ------------------------------------------------------------------ */
/* resume_from: the last record of every partition                     */
/* ------------------------------------------------------------------ */

/*
 * Restart: PostgreSQL sends again every transaction after the slot's
 * confirmed position (env->resume_lsn, "the floor").  For each partition
 * of this pipeline's topics, the positions of the records it holds at or
 * after the floor are collected, and write() skips exactly those.  A set,
 * not a "last position" threshold: a record whose delivery failed while
 * later ones to the same partition succeeded (a local error before the
 * record was sent, for instance) leaves a hole that must be filled, not
 * jumped over.  The newest position found in any partition is reported in
 * d->newest_held, so the agent knows whether the topics hold events at all.
 */
int
kafka_resume_from(cdc_dest *d, cdc_pos *last_done, cdc_err *err)
{
    kafka                           *k = d->impl;
    const struct rd_kafka_metadata  *md = NULL;
    rd_kafka_resp_err_t              e;
    kafka_scan                      *scans = NULL;
    int                              nscans = 0, rc = -1;
    size_t                           nheld = 0;
    uint64_t                         floor;

    /* The router passes every event; write() decides per partition. */
    last_done->lsn = last_done->seq = 0;
    /* No slot: nothing will be sent again, so nothing is collected; the last
       records are still read, so the agent knows the topics hold events. */
    floor = k->resume_lsn > 0 ? k->resume_lsn - 1 : UINT64_MAX;
    e = rd_kafka_metadata(k->rk, 1, NULL, &md, KAFKA_META_MS);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        /* The cause (an authentication or TLS failure, ...) came through the error
           callback; the metadata call only says the broker could not be reached. */
        rd_kafka_poll(k->rk, 0);
        cdc_err_set(err, CDC_E_CONN, "kafka resume: listing topics: %s%s%s", rd_kafka_err2str(e),
                    k->st.failing ? "; last broker error: " : "",
                    k->st.failing ? k->st.lasterr : "");
        goto out;
    }
    for (int i = 0; i < md->topic_cnt; i++) {
        const struct rd_kafka_metadata_topic *mt = &md->topics[i];
        kafka_topic                          *t;

        if (mt->err || mt->partition_cnt <= 0 || !kafka_ours(k, mt->topic) ||
            kafka_topic_find(k, mt->topic))
            continue;
        t = kafka_topic_add(k, mt->topic, mt->partition_cnt, true);
        t->held = cdc_xcalloc((size_t) t->nparts, sizeof(*t->held));
        scans = cdc_xrealloc(scans, (size_t) (nscans + t->nparts) * sizeof(*scans));
        for (int32_t p = 0; p < t->nparts; p++) {
            int64_t lo = 0, hi = 0;

            e = rd_kafka_query_watermark_offsets(k->rk, t->name, p, &lo, &hi, KAFKA_META_MS);
            if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
                cdc_err_set(err, CDC_E_CONN, "kafka resume: %s partition %d: offsets: %s",
                            t->name, (int) p, rd_kafka_err2str(e));
                goto out;
            }
            if (hi > lo)
                scans[nscans++] = (kafka_scan) { .topic = t->name, .part = p,
                                                 .held = &t->held[p], .newest = &d->newest_held,
                                                 .foreign = &d->holds_foreign,
                                                 .lo = lo, .end = hi,
                                                 .start = hi - 64 > lo ? hi - 64 : lo };
        }
    }
    /* From one below the slot's position: the snapshot's rows sit at (consistent point - 1). */
    if (nscans > 0) {
        rd_kafka_conf_t *cc = rd_kafka_conf_dup(k->base_conf);

        if (kafka_conf_set(cc, "enable.auto.commit", "false", err) ||
            kafka_conf_set(cc, "auto.offset.reset", "earliest", err) ||
            kafka_conf_set(cc, "group.id", "cdcagent-resume", err) ||
            kafka_conf_set(cc, "enable.partition.eof", "true", err)) {
            rd_kafka_conf_destroy(cc);
            goto out;
        }
        if (kafka_read_held(cc, scans, nscans, floor, KAFKA_RESUME_MS, err) != 0)
            goto out;
    }
    for (int i = 0; i < nscans; i++) {
        kafka_held *h = scans[i].held;

        if (h->n == 0)
            continue;
        kafka_held_sort(h);
        nheld += h->n;
        d->held_unordered = true;
        log_info(KAFKA_FAC, "%s partition %d holds %zu event(s) at or after " CDC_LSN_FMT
                 ", up to " CDC_LSN_FMT " #%llu", scans[i].topic, (int) scans[i].part, h->n,
                 CDC_LSN_ARGS(k->resume_lsn), CDC_LSN_ARGS(h->max.lsn),
                 (unsigned long long) h->max.seq);
    }
    if (k->resume_lsn > 0)
        log_info(KAFKA_FAC, "resume: %zu event(s) after the slot's position " CDC_LSN_FMT
                 " are already in Kafka and will not be written again", nheld,
                 CDC_LSN_ARGS(k->resume_lsn));
    if (d->newest_held.lsn)
        log_info(KAFKA_FAC, "resume: the newest event in the topics is at " CDC_LSN_FMT " #%llu",
                 CDC_LSN_ARGS(d->newest_held.lsn), (unsigned long long) d->newest_held.seq);
    kafka_create_known(k);
    rc = 0;
out:
    free(scans);
    if (md)
        rd_kafka_metadata_destroy(md);
    return rc;
}
