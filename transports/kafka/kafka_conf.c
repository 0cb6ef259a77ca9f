/*
 * The Kafka destination (see kafka_int.h): the librdkafka configuration of
 * its producer and of the consumers that read records back.
 */
#include "transports/kafka/kafka_int.h"

#include <string.h>

#include "agent/core/cdc_log.h"

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

static bool
kafka_secret(const char *name)
{
    return strstr(name, "password") != NULL || strstr(name, "secret") != NULL ||
           strcmp(name, "sasl.oauthbearer.config") == 0;
}

int
kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, cdc_err *err)
{
    char errstr[256];

    if (value == NULL)
        return 0;
    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
        return cdc_err_set(err, CDC_E_CONFIG, "kafka property %s%s%s: %s", name,
                           kafka_secret(name) ? "" : "=", kafka_secret(name) ? "" : value,
                           errstr);
    return 0;
}

/* auth_mechanism as the platform names it -> sasl.mechanism. */
static int
kafka_conf_auth(rd_kafka_conf_t *conf, const dest_kafka_cluster *kc, cdc_err *err)
{
    static const struct { const char *cfg, *sasl; } mechs[] = {
        { "sasl_plain", "PLAIN" },           { "sasl_scram_256", "SCRAM-SHA-256" },
        { "sasl_scram_512", "SCRAM-SHA-512" }, { "sasl_oauthbearer", "OAUTHBEARER" },
    };
    const char *m = kc->auth_mechanism;

    if (m == NULL || strcmp(m, "none") == 0)
        return 0;
    if (strcmp(m, "sasl_iam") == 0)
        return cdc_err_set(err, CDC_E_UNSUPPORTED,
                           "kafka.auth_mechanism sasl_iam (AWS MSK IAM) is not built yet");
    for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
        if (strcmp(m, mechs[i].cfg) == 0)
            return kafka_conf_set(conf, "sasl.mechanism", mechs[i].sasl, err) ||
                           kafka_conf_set(conf, "sasl.username", kc->sasl_username, err) ||
                           kafka_conf_set(conf, "sasl.password", kc->sasl_password, err)
                       ? -1
                       : 0;
    return cdc_err_set(err, CDC_E_CONFIG, "kafka.auth_mechanism %s: unknown", m);
}

/*
 * librdkafka's own log lines (called from its threads; cdc_log writes each
 * line with one write()).  Syslog levels: 0-3 error, 4 warning, 5-6 info.
 * The consumers that read records back share the producer's properties, so
 * librdkafka's remark that a producer property means nothing to a consumer
 * is dropped.
 */
static void
kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    cdc_level lvl = level <= 3 ? CDC_LOG_ERROR : level == 4 ? CDC_LOG_WARN
                  : level <= 6 ? CDC_LOG_INFO : CDC_LOG_DEBUG;

    if (rd_kafka_type(rk) == RD_KAFKA_CONSUMER && strcmp(fac, "CONFWARN") == 0 &&
        strstr(buf, "is a producer property") != NULL)
        return;
    cdc_log(lvl, KAFKA_FAC, "librdkafka %s %s: %s", rd_kafka_name(rk), fac, buf);
}

/*
 * The connection settings shared by the producer and the resume consumer:
 * bootstrap servers, security, then kafka.properties as given (last, so they
 * override our defaults).
 */
static int
kafka_conf_apply(rd_kafka_conf_t *conf, const dest_kafka_cluster *kc, cdc_err *err)
{
    if (kc->bootstrap_servers == NULL || kc->bootstrap_servers[0] == '\0')
        return cdc_err_set(err, CDC_E_CONFIG, "kafka.bootstrap_servers is required");
    rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
    if (kafka_conf_set(conf, "bootstrap.servers", kc->bootstrap_servers, err) ||
        kafka_conf_set(conf, "client.id", "cdcagent", err) ||
        kafka_conf_set(conf, "security.protocol", kc->security_protocol, err) ||
        kafka_conf_set(conf, "ssl.ca.location", kc->ssl_ca_location, err) ||
        kafka_conf_set(conf, "ssl.certificate.location", kc->ssl_certificate_location, err) ||
        kafka_conf_set(conf, "ssl.key.location", kc->ssl_key_location, err) ||
        kafka_conf_auth(conf, kc, err))
        return -1;
    for (int i = 0; i < kc->properties.n; i++)
        if (kafka_conf_set(conf, kc->properties.items[i].key, kc->properties.items[i].value,
                           err))
            return -1;
    return 0;
}

rd_kafka_conf_t *
kafka_conf_base(const dest_kafka_cluster *kc, cdc_err *err)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    if (kafka_conf_apply(conf, kc, err) == 0)
        return conf;
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* Properties that would void the durability and ordering this file relies on. */
int
kafka_check_props(const dest_kafka_cluster *kc, cdc_err *err)
{
    for (int i = 0; i < kc->properties.n; i++) {
        const char *n = kc->properties.items[i].key, *v = kc->properties.items[i].value;

        if ((strcmp(n, "acks") == 0 || strcmp(n, "request.required.acks") == 0) &&
            strcmp(v, "all") != 0 && strcmp(v, "-1") != 0)
            return cdc_err_set(err, CDC_E_CONFIG, "kafka property %s=%s: the agent needs "
                               "acks=all to count a record as durable", n, v);
        if (strcmp(n, "enable.idempotence") == 0 && strcmp(v, "true") != 0)
            return cdc_err_set(err, CDC_E_CONFIG, "kafka property %s=%s: the agent needs the "
                               "idempotent producer (ordered, no duplicates per partition)", n, v);
        if (strcmp(n, "transactional.id") == 0)
            return cdc_err_set(err, CDC_E_CONFIG, "kafka property %s: Kafka transactions are "
                               "not used (see docs/kafka.md)", n);
    }
    return 0;
}

rd_kafka_conf_t *
kafka_conf_producer(kafka *k, const dest_kafka_cluster *kc, cdc_err *err)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    /* Our defaults first, so kafka.properties can override what it may
       (linger, compression, sizes); kafka_check_props() guards the rest. */
    if (kafka_conf_set(conf, "enable.idempotence", "true", err) ||
        kafka_conf_set(conf, "acks", "all", err) ||
        kafka_conf_set(conf, "partitioner", "murmur2_random", err) ||
        /* While a request is in flight and a batch waits, librdkafka's broker thread
           sleeps until the oldest waiting record is linger.ms old, then polls without
           sleeping until the response comes.  Under load records wait longer than
           5 ms, so that thread spun (JSON: 713k poll calls for 200k rows, 43% of the
           agent's CPU).  100 ms keeps it asleep.  When the stream goes idle,
           progress() flushes, so light traffic does not wait for the linger. */
        kafka_conf_set(conf, "linger.ms", "100", err) ||
        /* No compression, like Debezium's producer (Connect's compression.type
           none): every consumer that read Debezium's topics reads these, including
           clients without an lz4 codec (kafkajs: "LZ4 compression not implemented").
           lz4 is one property away (docs/kafka.md): JSON with schemas is repetitive
           and a partition moves one batch.size per round trip, so lz4 takes the
           1M-row bench from 2.1x to ~6x Debezium's rows/s (3.2 GB -> 157 MB). */
        kafka_conf_set(conf, "compression.codec", "none", err) ||
        /* Bound the producer's own buffer (librdkafka's default is 1 GiB): past it,
           writes report a full queue and the agent waits (kafka_bench: 397 -> 56 MiB).
           8 MiB, not more: a partition sends one batch of at most message.max.bytes
           (1 MB, uncompressed) per round trip, so a fuller queue only makes records
           wait past linger.ms, and then the broker thread spins (see above).  Measured
           with uncompressed JSON, 32 MiB -> 8 MiB: 1.1-2.3x rows/s, 60-80% less agent
           CPU per row; with lz4 and Avro no change beyond noise (docs/kafka.md). */
        kafka_conf_set(conf, "queue.buffering.max.kbytes", "8192", err) ||
        /* Topics are created here with the configured partition count, never
           by the broker's auto-creation with its defaults. */
        kafka_conf_set(conf, "allow.auto.create.topics", "false", err) ||
        /* 0 is infinite: a broker that is down makes the agent wait, never drop. */
        kafka_conf_set(conf, "message.timeout.ms", "0", err))
        goto fail;
    if (kafka_conf_apply(conf, kc, err) != 0)
        goto fail;
    rd_kafka_conf_set_opaque(conf, k);
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}
