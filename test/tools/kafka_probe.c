/*
 * kafka_probe: a small librdkafka client for the tests (test/lib/kafka.sh).
 *
 *   kafka_probe -b BOOTSTRAP topics          one JSON line per topic: {"topic","partitions"}
 *   kafka_probe -b BOOTSTRAP dump TOPIC...   every record, partition by partition, as
 *       {"topic","partition","offset","key","value","headers":{name:value}}
 *       (key and value are the record bytes as JSON strings, or null)
 *
 * It reads each partition from its low to its high watermark as they are when it starts,
 * so a dump is a snapshot.  Exit status 0, or 1 with a message on stderr.
 */
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBE_MS 10000

static rd_kafka_t *
probe_client(rd_kafka_type_t type, const char *bootstrap)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char             errstr[512];
    rd_kafka_t      *rk;

    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof(errstr)) ||
        rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)) ||
        (type == RD_KAFKA_CONSUMER &&
         (rd_kafka_conf_set(conf, "group.id", "kafka_probe", errstr, sizeof(errstr)) ||
          rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr))))) {
        fprintf(stderr, "kafka_probe: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
    if (rk == NULL)
        fprintf(stderr, "kafka_probe: %s\n", errstr);
    return rk;
}

static int
probe_topics(const char *bootstrap)
{
    rd_kafka_t                     *rk = probe_client(RD_KAFKA_PRODUCER, bootstrap);
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t             e;

    if (rk == NULL)
        return 1;
    e = rd_kafka_metadata(rk, 1, NULL, &md, PROBE_MS);
    if (e) {
        fprintf(stderr, "kafka_probe: metadata: %s\n", rd_kafka_err2str(e));
        rd_kafka_destroy(rk);
        return 1;
    }
    for (int i = 0; i < md->topic_cnt; i++)
        printf("{\"topic\":\"%s\",\"partitions\":%d}\n", md->topics[i].topic,
               md->topics[i].partition_cnt);
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return 0;
}

/* Bytes as a JSON string when they are UTF-8 (JsonConverter), else {"hex": "..."} (Avro). */
static json_t *
probe_bytes(const void *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *b = p;
    json_t              *s;
    char                *hex;

    if (p == NULL)
        return json_null();
    if ((s = json_stringn(p, n)) != NULL)
        return s;
    hex = malloc(n * 2 + 1);
    if (hex == NULL)
        return json_null();
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = digits[b[i] >> 4];
        hex[2 * i + 1] = digits[b[i] & 15];
    }
    hex[2 * n] = '\0';
    s = json_pack("{s:s}", "hex", hex);
    free(hex);
    return s;
}

static void
probe_print(const rd_kafka_message_t *m)
{
    json_t             *o = json_object(), *h = json_object();
    rd_kafka_headers_t *hdrs = NULL;
    char               *s;

    json_object_set_new(o, "topic", json_string(rd_kafka_topic_name(m->rkt)));
    json_object_set_new(o, "partition", json_integer(m->partition));
    json_object_set_new(o, "offset", json_integer(m->offset));
    json_object_set_new(o, "key", probe_bytes(m->key, m->key_len));
    json_object_set_new(o, "value", probe_bytes(m->payload, m->len));
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char *name;
        const void *v;
        size_t      n;

        for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &v, &n) == 0; i++)
            json_object_set_new(h, name, probe_bytes(v, n));
    }
    json_object_set_new(o, "headers", h);
    s = json_dumps(o, JSON_COMPACT);
    if (s != NULL)
        printf("%s\n", s);
    else
        fprintf(stderr, "kafka_probe: %s/%d@%lld: cannot render the record\n",
                rd_kafka_topic_name(m->rkt), (int) m->partition, (long long) m->offset);
    free(s);
    json_decref(o);
}

static int
probe_dump(const char *bootstrap, char **topics, int ntopics)
{
    rd_kafka_t                      *rk = probe_client(RD_KAFKA_CONSUMER, bootstrap);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(8);
    const struct rd_kafka_metadata  *md = NULL;
    int64_t                          want = 0;
    int                              rc = 1;

    if (rk == NULL)
        goto out;
    if (rd_kafka_metadata(rk, 1, NULL, &md, PROBE_MS)) {
        fprintf(stderr, "kafka_probe: metadata failed\n");
        goto out;
    }
    for (int t = 0; t < ntopics; t++) {
        const struct rd_kafka_metadata_topic *mt = NULL;

        for (int i = 0; i < md->topic_cnt; i++)
            if (strcmp(md->topics[i].topic, topics[t]) == 0)
                mt = &md->topics[i];
        if (mt == NULL) {
            fprintf(stderr, "kafka_probe: no topic %s\n", topics[t]);
            goto out;
        }
        for (int p = 0; p < mt->partition_cnt; p++) {
            int64_t lo, hi;

            if (rd_kafka_query_watermark_offsets(rk, topics[t], p, &lo, &hi, PROBE_MS)) {
                fprintf(stderr, "kafka_probe: %s/%d: watermarks failed\n", topics[t], p);
                goto out;
            }
            if (hi > lo) {
                rd_kafka_topic_partition_t *tp =
                    rd_kafka_topic_partition_list_add(parts, topics[t], p);

                tp->offset = lo;
                want += hi - lo;
                /* remember where to stop */
                tp->opaque = (void *) (intptr_t) hi;
            }
        }
    }
    if (parts->cnt > 0 && rd_kafka_assign(rk, parts)) {
        fprintf(stderr, "kafka_probe: assign failed\n");
        goto out;
    }
    for (int idle = 0; want > 0 && idle < 100;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);

        if (m == NULL) {
            idle++;
            continue;
        }
        idle = 0;
        if (m->err == 0) {
            rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(
                parts, rd_kafka_topic_name(m->rkt), m->partition);

            if (tp && m->offset < (int64_t) (intptr_t) tp->opaque) {
                probe_print(m);
                want--;
            }
        }
        rd_kafka_message_destroy(m);
    }
    if (want > 0) {
        fprintf(stderr, "kafka_probe: %lld record(s) not read\n", (long long) want);
        goto out;
    }
    rc = 0;
out:
    fflush(stdout);
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_partition_list_destroy(parts);
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    return rc;
}

int
main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "-b") == 0 && strcmp(argv[3], "topics") == 0)
        return probe_topics(argv[2]);
    if (argc >= 5 && strcmp(argv[1], "-b") == 0 && strcmp(argv[3], "dump") == 0)
        return probe_dump(argv[2], argv + 4, argc - 4);
    fprintf(stderr, "usage: kafka_probe -b BOOTSTRAP topics | dump TOPIC...\n");
    return 2;
}
