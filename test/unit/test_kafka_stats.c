/*
 * Suite "kafka_stats": librdkafka's statistics as the agent logs them
 * (transports/kafka/kafka_stats.c, statistics.interval.ms).  Once on a
 * hand-written excerpt of the format in librdkafka's STATISTICS.md, each
 * figure checked against the number written there; once on the JSON a real
 * producer of this librdkafka emits against its mock cluster, so a field
 * that this version names otherwise (read as 0) fails the test.
 */
#include <check.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transports/kafka/kafka_int.h"

static const char excerpt[] =
    "{\"name\":\"cdcagent#producer-1\",\"type\":\"producer\",\"msg_cnt\":120,"
    "\"msg_size\":409600,\"txmsgs\":5000,\"txmsg_bytes\":1500000,"
    "\"brokers\":{"
    " \"127.0.0.1:9092/bootstrap\":{\"nodeid\":-1,\"outbuf_cnt\":9},"
    " \"127.0.0.1:9092/1\":{\"nodeid\":1,\"outbuf_cnt\":2,\"outbuf_msg_cnt\":700,"
    "  \"waitresp_cnt\":1,\"waitresp_msg_cnt\":350,\"req\":{\"Produce\":42,\"Metadata\":3},"
    "  \"rtt\":{\"avg\":2500,\"p99\":9000,\"cnt\":40},"
    "  \"int_latency\":{\"avg\":101000,\"p99\":150500,\"cnt\":5000},"
    "  \"outbuf_latency\":{\"avg\":20,\"p99\":80,\"cnt\":42}}},"
    "\"topics\":{\"p.public.t\":{\"topic\":\"p.public.t\","
    " \"batchsize\":{\"avg\":350000,\"p99\":999000,\"cnt\":14},"
    " \"batchcnt\":{\"avg\":350,\"p99\":1000,\"cnt\":14},"
    " \"partitions\":{\"0\":{\"partition\":0,\"msgq_cnt\":10,\"xmit_msgq_cnt\":20,"
    "   \"msgs_inflight\":350},"
    "  \"-1\":{\"partition\":-1,\"msgq_cnt\":0,\"xmit_msgq_cnt\":0,\"msgs_inflight\":0}}}}}";

static bool
has(const char *line, const char *tok)
{
    size_t      n = strlen(tok);
    const char *p = line;

    while ((p = strstr(p, tok)) != NULL) {
        if ((p == line || p[-1] == ' ' || p[-1] == '\n') && (p[n] == ' ' || p[n] == '\n' ||
                                                             p[n] == '\0'))
            return true;
        p += n;
    }
    return false;
}

START_TEST(excerpt_figures)
{
    cdc_buf     out = CDC_BUF_INIT;
    const char *want[] = {
        "msgq=120", "msgq_kb=400", "txmsgs=5000", "txmsg_bytes=1500000",
        "b1.produce_reqs=42", "b1.outbuf=2", "b1.outbuf_msgs=700", "b1.waitresp=1",
        "b1.waitresp_msgs=350", "b1.rtt_avg_ms=2.50", "b1.rtt_p99_ms=9.00", "b1.rtt_n=40",
        "b1.int_latency_avg_ms=101.00", "b1.int_latency_p99_ms=150.50",
        "b1.outbuf_latency_avg_ms=0.02", "topic=p.public.t",
        "batchsize_avg=350000", "batchsize_p99=999000", "batchcnt_avg=350", "batchcnt_n=14",
        "p0.msgq=10", "p0.xmit_msgq=20", "p0.msgs_inflight=350",
    };

    ck_assert_int_eq(kafka_stats_line(excerpt, strlen(excerpt), &out), 0);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        ck_assert_msg(has((char *)out.data, want[i]), "%s not in: %s", want[i], out.data);
    /* The bootstrap address and the unassigned partition are left out. */
    ck_assert_ptr_null(strstr((char *)out.data, "b-1."));
    ck_assert_ptr_null(strstr((char *)out.data, "p-1."));
    /* Two lines: the producer with its broker, the topic. */
    ck_assert_ptr_nonnull(strchr((char *)out.data, '\n'));
    ck_assert_ptr_null(strchr(strchr((char *)out.data, '\n') + 1, '\n'));
    cdc_buf_free(&out);

    ck_assert_int_eq(kafka_stats_line("not json", 8, &out), -1);
    cdc_buf_free(&out);
}
END_TEST

static char *real_json;
static bool  flushed;

/* The first statistics after every record was acknowledged. */
static int
grab(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (flushed && real_json == NULL)
        real_json = strndup(json, len);
    return 0;
}

START_TEST(real_producer_fields)
{
    rd_kafka_conf_t         *conf = rd_kafka_conf_new();
    rd_kafka_mock_cluster_t *mc;
    rd_kafka_t              *mrk, *rk;
    cdc_buf                  out = CDC_BUF_INIT;
    char                     errstr[256];
    const char              *line;

    mrk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    ck_assert_ptr_nonnull(mrk);
    mc = rd_kafka_mock_cluster_new(mrk, 1);
    ck_assert_ptr_nonnull(mc);
    rd_kafka_mock_topic_create(mc, "p.public.t", 1, 1);
    conf = rd_kafka_conf_new();
    ck_assert_int_eq(rd_kafka_conf_set(conf, "bootstrap.servers",
                                       rd_kafka_mock_cluster_bootstraps(mc), errstr,
                                       sizeof(errstr)), RD_KAFKA_CONF_OK);
    ck_assert_int_eq(rd_kafka_conf_set(conf, "statistics.interval.ms", "100", errstr,
                                       sizeof(errstr)), RD_KAFKA_CONF_OK);
    ck_assert_int_eq(rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr,
                                       sizeof(errstr)), RD_KAFKA_CONF_OK);
    rd_kafka_conf_set_stats_cb(conf, grab);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    ck_assert_ptr_nonnull(rk);
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("p.public.t"),
                                           RD_KAFKA_V_PARTITION(0),
                                           RD_KAFKA_V_VALUE("value", 5), RD_KAFKA_V_END),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
    ck_assert_int_eq(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    flushed = true;
    for (int i = 0; i < 100 && real_json == NULL; i++)
        rd_kafka_poll(rk, 50);
    ck_assert_ptr_nonnull(real_json);
    ck_assert_int_eq(kafka_stats_line(real_json, strlen(real_json), &out), 0);
    line = (const char *)out.data;
    /* The mock cluster's broker ids start at 1; 100 records were acknowledged. */
    ck_assert_msg(has(line, "txmsgs=100"), "%s", line);
    ck_assert_msg(strstr(line, " b1.produce_reqs=") != NULL &&
                  !has(line, "b1.produce_reqs=0"), "%s", line);
    ck_assert_msg(strstr(line, " b1.rtt_avg_ms=") != NULL, "%s", line);
    ck_assert_msg(strstr(line, " b1.int_latency_p99_ms=") != NULL, "%s", line);
    ck_assert_msg(strstr(line, "topic=p.public.t") != NULL, "%s", line);
    ck_assert_msg(strstr(line, " p0.msgs_inflight=") != NULL, "%s", line);
    ck_assert_msg(strstr(line, " batchcnt_avg=") != NULL, "%s", line);
    cdc_buf_free(&out);
    free(real_json);
    rd_kafka_destroy(rk);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(mrk);
}
END_TEST

static Suite *
kafka_stats_suite(void)
{
    Suite *s = suite_create("kafka_stats");
    TCase *t = tcase_create("stats");

    tcase_set_timeout(t, 60);
    tcase_add_test(t, excerpt_figures);
    tcase_add_test(t, real_producer_fields);
    suite_add_tcase(s, t);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(kafka_stats_suite());
    int      failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
