/*
 * What the Kafka destination's partitions already hold (see
 * kafka_resume.h): position headers, held-position sets, and the backwards
 * scan run once at start by kafka.c's resume_from.
 */
#include "transports/kafka/kafka_resume.h"

#include <stdlib.h>
#include <string.h>

#include "agent/core/cdc_clock.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"

#define KAFKA_RESUME_FAC "dest.kafka"

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
                log_warn(KAFKA_RESUME_FAC, "resume: %s", rd_kafka_message_errstr(m));
            if (sc->window_done)
                left--;
        } else if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            log_warn(KAFKA_RESUME_FAC, "resume: %s", rd_kafka_message_errstr(m));
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
