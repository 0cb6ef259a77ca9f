/*
 * The Kafka destination (see kafka_int.h): reading back the first
 * acknowledged record of each partition before its slot counts as durable.
 */
#include "transports/kafka/kafka_int.h"

#include <inttypes.h>
#include <stdlib.h>

#include "agent/core/cdc_log.h"
#include "agent/core/cdc_mem.h"

/* ------------------------------------------------------------------ */
/* Reading back the first acknowledged record of each partition        */
/* ------------------------------------------------------------------ */

/*
 * Twice in this project's fault tests the first records a new producer sent
 * to a partition were acknowledged (delivery report without error) and yet
 * never stored; the slot would have been confirmed past them.  The cause
 * lies in the client (librdkafka 2.0.2, idempotent, a broker that had just
 * started) and was not pinned down.  So the first record each producer
 * instance gets acknowledged on a partition is read back at the offset the
 * broker reported, and its position headers are compared with what was
 * sent.  Until then its slot stays unfinished, so nothing past it is
 * confirmed.  The reading never blocks: a consumer (the simple one, without
 * group assignment: rebalancing assign() calls made librdkafka 2.0.2 abort)
 * fetches each pending offset and is polled with the producer (on every
 * write while one is pending).  A different record at that offset stops the
 * agent: the restart sends it again, and resume fills the hole.
 */

/* Stops reading check i and forgets it. */
void
kafka_check_drop(kafka *k, size_t i)
{
    rd_kafka_consume_stop(k->checks[i].crkt, k->checks[i].part);
    rd_kafka_topic_destroy(k->checks[i].crkt);
    k->checks[i] = k->checks[--k->nchecks];
}

/* Checks the delivered record m if it is the first of its partition.
   @returns true when its slot may be finished now. */
bool
kafka_check_delivered(kafka *k, const rd_kafka_message_t *m, uint64_t slot)
{
    kafka_topic        *t;
    rd_kafka_headers_t *h = NULL;
    kafka_check         c;
    char                errstr[256] = "";

    if (k->unchecked == 0)
        return true;    /* every partition known has been read back: no lookup per record */
    t = kafka_topic_find(k, rd_kafka_topic_name(m->rkt));
    if (t == NULL || m->partition < 0 || m->partition >= t->nparts)
        return true;
    if (t->checked == NULL)
        t->checked = cdc_xcalloc((size_t) t->nparts, sizeof(*t->checked));
    if (t->checked[m->partition])
        return true;
    t->checked[m->partition] = true;
    k->unchecked--;
    c = (kafka_check) { .t = t, .part = m->partition, .offset = m->offset, .slot = slot };
    if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        !kafka_hdr_pos(h, &c.want))
        return true;    /* nothing to compare with */
    if (m->offset < 0) {
        kafka_set_fatal(k, "kafka %s partition %d: the broker acknowledged position "
                        CDC_LSN_FMT " #%llu without an offset; stopping before the slot moves "
                        "past it (a restart sends it again)", t->name, (int) m->partition,
                        CDC_LSN_ARGS(c.want.lsn), (unsigned long long) c.want.seq);
        return false;
    }
    if (k->check_rk == NULL) {
        rd_kafka_conf_t *cc = rd_kafka_conf_dup(k->base_conf);

        if (kafka_conf_set(cc, "enable.auto.commit", "false", NULL) ||
            (k->check_rk = rd_kafka_new(RD_KAFKA_CONSUMER, cc, errstr, sizeof(errstr))) == NULL) {
            rd_kafka_conf_destroy(cc);
            kafka_set_fatal(k, "kafka: cannot read records back: %s", errstr);
            return false;
        }
    }
    c.crkt = rd_kafka_topic_new(k->check_rk, t->name, NULL);
    if (c.crkt == NULL || rd_kafka_consume_start(c.crkt, c.part, c.offset) != 0) {
        kafka_set_fatal(k, "kafka %s partition %d: cannot read offset %" PRId64 " back: %s",
                        t->name, (int) c.part, c.offset, rd_kafka_err2str(rd_kafka_last_error()));
        if (c.crkt)
            rd_kafka_topic_destroy(c.crkt);
        return false;
    }
    k->checks = cdc_xrealloc(k->checks, (k->nchecks + 1) * sizeof(*k->checks));
    k->checks[k->nchecks++] = c;
    return false;
}

/* Serves the read-backs that have arrived; never waits. */
void
kafka_checks_poll(kafka *k)
{
    for (size_t i = 0; i < k->nchecks && !k->st.fatal;) {
        kafka_check        *c = &k->checks[i];
        rd_kafka_message_t *r;
        int                 verdict = 0;     /* 1: there, -1: another record there */

        while (verdict == 0 && (r = rd_kafka_consume(c->crkt, c->part, 0)) != NULL) {
            rd_kafka_headers_t *rh = NULL;
            cdc_pos             got = { 0, 0 };

            if (r->err == RD_KAFKA_RESP_ERR_NO_ERROR && r->offset == c->offset)
                verdict = rd_kafka_message_headers(r, &rh) == RD_KAFKA_RESP_ERR_NO_ERROR &&
                                  kafka_hdr_pos(rh, &got) && cdc_pos_cmp(got, c->want) == 0
                              ? 1 : -1;
            rd_kafka_message_destroy(r);
        }
        if (verdict == 0) {
            i++;
            continue;
        }
        if (verdict > 0)
            dest_acks_done(&k->acks, c->slot);
        else
            kafka_set_fatal(k, "kafka %s partition %d: the broker acknowledged position "
                            CDC_LSN_FMT " #%llu at offset %" PRId64 " but another record is "
                            "there; stopping before the slot moves past it (a restart sends "
                            "it again)", c->t->name, (int) c->part, CDC_LSN_ARGS(c->want.lsn),
                            (unsigned long long) c->want.seq, c->offset);
        kafka_check_drop(k, i);
    }
}
