/*
 * The Kafka destination (see kafka_int.h): librdkafka's statistics, when
 * kafka.properties sets statistics.interval.ms, as one log line per interval
 * (level info) with what limits a partition: the producer's queue, per
 * broker the Produce requests sent, waiting to be sent (outbuf) and waiting
 * for a response (waitresp), the round trip and the time a record waits in
 * the producer (int_latency), per topic the batch sizes, per partition the
 * records queued, being sent and in flight.  librdkafka's field names are
 * kept (its STATISTICS.md); times in milliseconds; one line for the
 * producer and its brokers (bN.), one per topic (topic=, its partitions
 * pN.; a log line holds 2 kB); window statistics
 * (rtt, int_latency, outbuf_latency, batchsize, batchcnt) cover the last
 * interval: _n is the window's sample count, 0 in an idle one.
 */
#include "transports/kafka/kafka_int.h"

#include <jansson.h>
#include <string.h>

#include "agent/core/cdc_log.h"

static long long
num(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/* A window statistic (microseconds, or a count/size with div 1). */
static void
window(cdc_buf *out, const char *pre, const json_t *o, const char *key, double div,
       const char *unit)
{
    const json_t *w = json_object_get(o, key);

    if (!json_is_object(w))
        return;
    cdc_buf_printf(out, " %s%s_avg%s=%.*f %s%s_p99%s=%.*f %s%s_n=%lld", pre, key, unit,
                   div > 1 ? 2 : 0, (double)num(w, "avg") / div, pre, key, unit,
                   div > 1 ? 2 : 0, (double)num(w, "p99") / div, pre, key, num(w, "cnt"));
}

/* The statistics JSON as lines of name=value (see the top); -1 if it is not JSON. */
int
kafka_stats_line(const char *json, size_t len, cdc_buf *out)
{
    json_t     *root = json_loadb(json, len, 0, NULL);
    const char *name;
    json_t     *v;

    if (!json_is_object(root)) {
        json_decref(root);
        return -1;
    }
    cdc_buf_printf(out, "msgq=%lld msgq_kb=%lld txmsgs=%lld txmsg_bytes=%lld",
                   num(root, "msg_cnt"), num(root, "msg_size") / 1024, num(root, "txmsgs"),
                   num(root, "txmsg_bytes"));
    json_object_foreach(json_object_get(root, "brokers"), name, v) {
        char pre[32];

        if (num(v, "nodeid") < 0)     /* a bootstrap address, not a broker */
            continue;
        snprintf(pre, sizeof(pre), "b%lld.", num(v, "nodeid"));
        cdc_buf_printf(out, " %sproduce_reqs=%lld %soutbuf=%lld %soutbuf_msgs=%lld"
                       " %swaitresp=%lld %swaitresp_msgs=%lld", pre,
                       num(json_object_get(v, "req"), "Produce"), pre, num(v, "outbuf_cnt"),
                       pre, num(v, "outbuf_msg_cnt"), pre, num(v, "waitresp_cnt"), pre,
                       num(v, "waitresp_msg_cnt"));
        window(out, pre, v, "rtt", 1000.0, "_ms");
        window(out, pre, v, "int_latency", 1000.0, "_ms");
        window(out, pre, v, "outbuf_latency", 1000.0, "_ms");
    }
    json_object_foreach(json_object_get(root, "topics"), name, v) {
        const char *pname;
        json_t     *p;

        cdc_buf_printf(out, "\ntopic=%s", name);
        window(out, "", v, "batchsize", 1.0, "");
        window(out, "", v, "batchcnt", 1.0, "");
        json_object_foreach(json_object_get(v, "partitions"), pname, p) {
            if (num(p, "partition") < 0)  /* librdkafka's UA partition */
                continue;
            cdc_buf_printf(out, " p%s.msgq=%lld p%s.xmit_msgq=%lld p%s.msgs_inflight=%lld",
                           pname, num(p, "msgq_cnt"), pname, num(p, "xmit_msgq_cnt"), pname,
                           num(p, "msgs_inflight"));
        }
    }
    json_decref(root);
    return cdc_buf_failed(out) ? -1 : 0;
}

/* rd_kafka_conf_set_stats_cb: the lines above, logged. */
int
kafka_stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    cdc_buf out = CDC_BUF_INIT;

    (void)rk;
    (void)opaque;
    if (kafka_stats_line(json, len, &out) == 0) {
        char *save = NULL;

        for (char *l = strtok_r((char *)out.data, "\n", &save); l != NULL;
             l = strtok_r(NULL, "\n", &save))
            cdc_log(CDC_LOG_INFO, KAFKA_FAC, "kafka statistics: %s", l);
    }
    cdc_buf_free(&out);
    return 0;   /* librdkafka frees json */
}
