/*
 * Every configuration key, one row each: the single place that says what
 * pipeline.yaml and platform.yaml may contain, their defaults and what the
 * keys mean.  The loader (config.c) walks these tables; cfg_print_reference()
 * prints them as docs/configuration.md.  Names and defaults follow the CDC
 * platform's documentation (cdc-platform-README.md, deployment.md) and its
 * Pydantic models; the Debezium options take Debezium 2.7's defaults.
 */
#include "agent/config/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "agent/config/config_int.h"
#include "agent/core/cdc_lsn.h"

/* ---- value checks: NULL when fine, else what is wrong ---- */

static bool
is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
is_ident_char(char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

/*
 * One identifier as PostgreSQL's scanner reads it: unquoted letters, digits,
 * '_' and '$' not starting with a digit or '$', or "double quoted" with ""
 * for a quote.  Returns the end of the identifier, or NULL.
 */
static const char *
scan_ident(const char *p)
{
    if (*p == '"') {
        const char *start = ++p;

        for (;;) {
            if (*p == '\0')
                return NULL;
            if (*p == '"' && p[1] == '"')
                p += 2;
            else if (*p == '"')
                return p == start ? NULL : p + 1;
            else
                p++;
        }
    }
    if (!is_ident_start(*p))
        return NULL;
    while (is_ident_char(*p))
        p++;
    return p;
}

static const char *
check_qualified_name(const char *v)
{
    const char *p = scan_ident(v);

    if (p == NULL || *p != '.' || (p = scan_ident(p + 1)) == NULL || *p != '\0')
        return "must be schema-qualified, schema.table (e.g. public.customers; quote "
               "identifiers with \"\" as in SQL)";
    return NULL;
}

/* A source.tables entry: see cfg_table_split (config.c). */
static const char *
check_table_name(const char *v)
{
    char schema[CFG_NAME_MAX + 1], table[CFG_NAME_MAX + 1];

    return cfg_table_split(v, schema, table);
}

static const char *
check_slot_name(const char *v)
{
    size_t n = strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789_");

    if (n == 0 || v[n] != '\0' || n > 63)
        return "must be 1 to 63 characters of a-z, 0-9 and _ (a PostgreSQL slot name)";
    return NULL;
}

/* source.host: one host or a list, cfg_host_list. */
static const char *
check_source_host(const char *v)
{
    char hosts[CFG_HOSTS_MAX], ports[CFG_HOSTS_MAX / 4];
    int  n;

    return cfg_host_list(v, 5432, hosts, sizeof(hosts), ports, sizeof(ports), &n);
}

static const char *
check_topic_prefix(const char *v)
{
    if (!((v[0] >= 'a' && v[0] <= 'z') || (v[0] >= 'A' && v[0] <= 'Z')) ||
        v[strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")] != '\0')
        return "must start with a letter and contain only letters, digits, '.', '_' and '-'";
    return NULL;
}

static const char *
check_nonempty(const char *v)
{
    return *v ? NULL : "must not be empty";
}

/* A sink_id names the sink in logs, metrics and the agent's state record (agent/pipeline/state.h:
   127 bytes, one line): a longer one would be cut there and match no sink again. */
static const char *
check_sink_id(const char *v)
{
    if (!*v)
        return "must not be empty";
    if (strlen(v) > 127)
        return "is longer than 127 bytes";
    for (const char *p = v; *p; p++)
        if ((unsigned char) *p < 0x20 || *p == 0x7f)
            return "must not contain control characters (a line break, a tab)";
    return NULL;
}

/* Debezium's skipped.operations: "none", or a comma list of c, u, d, t. */
static const char *
check_skipped_operations(const char *v)
{
    const char *p = v;

    if (strcmp(v, "none") == 0)
        return NULL;
    for (;;) {
        p += strspn(p, " ");
        if (*p != 'c' && *p != 'u' && *p != 'd' && *p != 't')
            return "must be \"none\" or a comma-separated list of c, u, d, t";
        p++;
        p += strspn(p, " ");
        if (*p == '\0')
            return NULL;
        if (*p++ != ',')
            return "must be \"none\" or a comma-separated list of c, u, d, t";
    }
}

/* Debezium's message.key.columns: "table:col,col;table:col", tables as regexes. */
static const char *
check_message_key_columns(const char *v)
{
    const char *p = v;

    while (*p) {
        size_t      len = strcspn(p, ";");
        const char *colon = memchr(p, ':', len);

        if (colon == NULL || colon == p || colon + 1 == p + len)
            return "must be \"schema.table:col1,col2;schema.table2:col\"";
        p += len;
        if (*p == ';')
            p++;
    }
    return NULL;
}

static const char *
check_lsn(const char *v)
{
    uint64_t lsn;

    if (*v && cdc_lsn_parse(v, &lsn) != 0)
        return "must be an LSN such as 0/16B3748, or empty";
    return NULL;
}

/* ---- enumerations ---- */

static const cfg_enum source_types[] = {
    { "postgres", CFG_SOURCE_POSTGRES }, { "mysql", CFG_SOURCE_MYSQL },
    { "mongodb", CFG_SOURCE_MONGODB },   { "sqlserver", CFG_SOURCE_SQLSERVER }, { NULL, 0 }
};
static const cfg_enum snapshot_modes[] = {
    { "initial", CFG_SNAPSHOT_INITIAL },         { "initial_only", CFG_SNAPSHOT_INITIAL_ONLY },
    { "never", CFG_SNAPSHOT_NEVER },             { "no_data", CFG_SNAPSHOT_NEVER },
    { "when_needed", CFG_SNAPSHOT_WHEN_NEEDED }, { "always", CFG_SNAPSHOT_ALWAYS }, { NULL, 0 }
};
static const cfg_enum sslmodes[] = {
    { "disable", 0 }, { "allow", 0 }, { "prefer", 0 }, { "require", 0 },
    { "verify-ca", 0 }, { "verify-full", 0 }, { NULL, 0 }
};
static const cfg_enum session_attrs[] = {
    { "", 0 }, { "any", 0 }, { "read-write", 0 }, { "read-only", 0 }, { "primary", 0 },
    { "standby", 0 }, { "prefer-standby", 0 }, { NULL, 0 }
};
static const cfg_enum decimal_modes[] = {
    { "precise", 0 }, { "double", 0 }, { "string", 0 }, { NULL, 0 }
};
static const cfg_enum time_modes[] = {
    { "adaptive", 0 }, { "adaptive_time_microseconds", 0 }, { "connect", 0 }, { NULL, 0 }
};
static const cfg_enum binary_modes[] = {
    { "bytes", 0 }, { "base64", 0 }, { "base64-url-safe", 0 }, { "hex", 0 }, { NULL, 0 }
};
static const cfg_enum interval_modes[] = { { "numeric", 0 }, { "string", 0 }, { NULL, 0 } };
static const cfg_enum name_adjust_modes[] = {
    { "none", 0 }, { "avro", 0 }, { "avro_unicode", 0 }, { NULL, 0 }
};
static const cfg_enum sink_types[] = {
    { "webhook", CFG_SINK_WEBHOOK }, { "postgres", CFG_SINK_POSTGRES },
    { "iceberg", CFG_SINK_ICEBERG }, { "jsonl", CFG_SINK_JSONL },     { NULL, 0 }
};
static const cfg_enum http_methods[] = { { "POST", 0 }, { "PUT", 0 }, { "PATCH", 0 }, { NULL, 0 } };
static const cfg_enum pg_sink_modes[] = {
    { "event_log", CFG_PG_SINK_EVENT_LOG }, { "replica", CFG_PG_SINK_REPLICA }, { NULL, 0 }
};
static const cfg_enum write_modes[] = { { "append", 0 }, { "upsert", 0 }, { NULL, 0 } };
static const cfg_enum transport_modes[] = {
    { "kafka", CFG_TRANSPORT_KAFKA },     { "pubsub", CFG_TRANSPORT_PUBSUB },
    { "kinesis", CFG_TRANSPORT_KINESIS }, { "direct", CFG_TRANSPORT_DIRECT }, { NULL, 0 }
};
static const cfg_enum serializations[] = {
    { "avro", CFG_SERIALIZATION_AVRO }, { "json", CFG_SERIALIZATION_JSON }, { NULL, 0 }
};

/* librdkafka's auto.offset.reset values */
static const cfg_enum offset_resets[] = {
    { "earliest", 0 }, { "latest", 0 }, { "smallest", 0 }, { "largest", 0 },
    { "beginning", 0 }, { "end", 0 }, { "error", 0 }, { NULL, 0 }
};
static const cfg_enum kafka_acks[] = { { "all", 0 }, { "-1", 0 }, { "0", 0 }, { "1", 0 }, { NULL, 0 } };
static const cfg_enum security_protocols[] = {
    { "PLAINTEXT", 0 }, { "SSL", 0 }, { "SASL_PLAINTEXT", 0 }, { "SASL_SSL", 0 }, { NULL, 0 }
};
static const cfg_enum auth_mechanisms[] = {
    { "none", 0 }, { "sasl_plain", 0 }, { "sasl_scram_256", 0 }, { "sasl_scram_512", 0 },
    { "sasl_iam", 0 }, { "sasl_oauthbearer", 0 }, { NULL, 0 }
};
static const cfg_enum iterator_types[] = {
    { "TRIM_HORIZON", 0 }, { "LATEST", 0 }, { NULL, 0 }
};
static const cfg_enum log_levels[] = {
    { "debug", CDC_LOG_DEBUG }, { "info", CDC_LOG_INFO }, { "warn", CDC_LOG_WARN },
    { "error", CDC_LOG_ERROR }, { NULL, 0 }
};
static const cfg_enum log_formats[] = {
    { "auto", CFG_LOG_FORMAT_AUTO }, { "text", CFG_LOG_FORMAT_TEXT },
    { "json", CFG_LOG_FORMAT_JSON }, { NULL, 0 }
};

/* ---- pipeline.yaml ---- */

#define PL(f)  offsetof(cfg_pipeline, f)
#define SK(f)  offsetof(cfg_sink, f)
#define PF(f)  offsetof(cfg_platform, f)

static const cfg_key sink_keys[] = {
    { .name = "sink_id", .type = CFG_STR, .off = SK(sink_id), .flags = CFG_F_REQUIRED,
      .check = check_sink_id,
      .desc = "Unique name of this sink within the pipeline (at most 127 bytes, no control "
              "characters)." },
    { .name = "sink_type", .type = CFG_ENUM, .off = SK(sink_type), .flags = CFG_F_REQUIRED,
      .choices = sink_types,
      .desc = "Kind of destination; the section of the same name configures it." },
    { .name = "enabled", .type = CFG_BOOL, .off = SK(enabled), .def = "true",
      .desc = "A disabled sink is checked but not opened." },

    { .name = "retry", .type = CFG_SECTION,
      .desc = "Per-sink retry policy; each key defaults to the platform's retry.* value." },
    { .name = "retry.max_attempts", .type = CFG_INT, .off = SK(retry.max_attempts), .def = "5",
      .range = "1..", .desc = "Attempts per write before it goes to the DLQ." },
    { .name = "retry.initial_wait_seconds", .type = CFG_DOUBLE,
      .off = SK(retry.initial_wait_seconds), .def = "1.0", .range = ">0",
      .desc = "First backoff delay." },
    { .name = "retry.max_wait_seconds", .type = CFG_DOUBLE, .off = SK(retry.max_wait_seconds),
      .def = "60.0", .range = ">0", .desc = "Longest backoff delay." },
    { .name = "retry.multiplier", .type = CFG_DOUBLE, .off = SK(retry.multiplier), .def = "2.0",
      .range = "1..", .desc = "Backoff growth per attempt." },
    { .name = "retry.jitter", .type = CFG_BOOL, .off = SK(retry.jitter), .def = "true",
      .desc = "Randomise each delay." },

    { .name = "webhook", .type = CFG_SECTION,
      .desc = "HTTP destination: one request per event, payload {key, value, metadata}." },
    { .name = "webhook.url", .type = CFG_STR, .off = SK(webhook.url), .flags = CFG_F_REQUIRED,
      .check = check_nonempty, .desc = "Endpoint URL." },
    { .name = "webhook.method", .type = CFG_STR, .off = SK(webhook.method), .def = "POST",
      .choices = http_methods, .desc = "HTTP method." },
    { .name = "webhook.headers", .type = CFG_STRMAP, .off = SK(webhook.headers),
      .desc = "Extra request headers, name: value." },
    { .name = "webhook.timeout_seconds", .type = CFG_DOUBLE, .off = SK(webhook.timeout_seconds),
      .def = "30.0", .range = ">0", .desc = "Request timeout." },
    { .name = "webhook.auth_token", .type = CFG_STR, .off = SK(webhook.auth_token),
      .flags = CFG_F_SECRET, .desc = "Sent as `Authorization: Bearer <token>` when set." },
    { .name = "webhook.ssl_verify", .type = CFG_BOOL, .off = SK(webhook.ssl_verify),
      .def = "true", .desc = "Verify the server's certificate and host name (https)." },
    { .name = "webhook.ssl_ca_location", .type = CFG_STR, .off = SK(webhook.ssl_ca_location),
      .desc = "CA bundle (PEM) to verify the server with; empty = the system's." },
    { .name = "webhook.ssl_certificate_location", .type = CFG_STR,
      .off = SK(webhook.ssl_certificate_location), .desc = "Client certificate (PEM)." },
    { .name = "webhook.ssl_key_location", .type = CFG_STR, .off = SK(webhook.ssl_key_location),
      .desc = "Client private key (PEM)." },
    { .name = "webhook.ssl_key_password", .type = CFG_STR, .off = SK(webhook.ssl_key_password),
      .flags = CFG_F_SECRET, .desc = "Passphrase of the client key." },
    { .name = "webhook.batch_size", .type = CFG_INT, .off = SK(webhook.batch_size), .def = "1",
      .range = "1..10000",
      .desc = "Events per request: 1 sends one JSON object per event; more sends a JSON "
              "array of up to this many (events of one key stay in order)." },
    { .name = "webhook.batch_timeout_ms", .type = CFG_INT, .off = SK(webhook.batch_timeout_ms),
      .def = "100", .range = "1..60000",
      .desc = "Longest wait for a batch to fill before it is sent as it is." },
    { .name = "webhook.max_in_flight", .type = CFG_INT, .off = SK(webhook.max_in_flight),
      .def = "8", .range = "1..256",
      .desc = "Concurrent requests (different keys; one key has one request at a time)." },

    { .name = "postgres", .type = CFG_SECTION,
      .desc = "PostgreSQL destination: batched inserts into target_table." },
    { .name = "postgres.host", .type = CFG_STR, .off = SK(postgres.host), .def = "localhost",
      .desc = "Database host." },
    { .name = "postgres.port", .type = CFG_INT, .off = SK(postgres.port), .def = "5432",
      .range = "1..65535", .desc = "Database port." },
    { .name = "postgres.database", .type = CFG_STR, .off = SK(postgres.database),
      .flags = CFG_F_REQUIRED, .check = check_nonempty, .desc = "Database name." },
    { .name = "postgres.username", .type = CFG_STR, .off = SK(postgres.username),
      .def = "cdc_user", .desc = "Database user." },
    { .name = "postgres.password", .type = CFG_STR, .off = SK(postgres.password),
      .def = "cdc_password", .flags = CFG_F_SECRET, .desc = "Database password." },
    { .name = "postgres.target_table", .type = CFG_STR, .off = SK(postgres.target_table),
      .check = check_qualified_name,
      .desc = "Schema-qualified table the events go to (mode event_log, where it is required)." },
    { .name = "postgres.batch_size", .type = CFG_INT, .off = SK(postgres.batch_size),
      .def = "100", .range = "1..", .desc = "Rows per INSERT batch." },
    { .name = "postgres.upsert", .type = CFG_BOOL, .off = SK(postgres.upsert), .def = "false",
      .desc = "Idempotent writes with ON CONFLICT (source_topic, source_partition, "
              "source_offset)." },
    { .name = "postgres.mode", .type = CFG_ENUM, .off = SK(postgres.mode), .def = "event_log",
      .choices = pg_sink_modes,
      .desc = "event_log: one row per event (the platform's columns); replica: apply the "
              "changes to same-named tables." },

    { .name = "iceberg", .type = CFG_SECTION,
      .desc = "Apache Iceberg destination: batched appends or upserts." },
    { .name = "iceberg.catalog_name", .type = CFG_STR, .off = SK(iceberg.catalog_name),
      .def = "default", .desc = "Catalog name." },
    { .name = "iceberg.catalog_uri", .type = CFG_STR, .off = SK(iceberg.catalog_uri),
      .flags = CFG_F_REQUIRED, .check = check_nonempty, .desc = "Catalog URI." },
    { .name = "iceberg.warehouse", .type = CFG_STR, .off = SK(iceberg.warehouse),
      .flags = CFG_F_REQUIRED, .check = check_nonempty,
      .desc = "Warehouse location (file:// or s3://)." },
    { .name = "iceberg.table_namespace", .type = CFG_STR, .off = SK(iceberg.table_namespace),
      .def = "default", .desc = "Namespace of the table." },
    { .name = "iceberg.table_name", .type = CFG_STR, .off = SK(iceberg.table_name),
      .desc = "Table name (one captured table); unset: <schema>_<table> of each." },
    { .name = "iceberg.write_mode", .type = CFG_STR, .off = SK(iceberg.write_mode),
      .def = "append", .choices = write_modes, .desc = "append, or upsert (idempotent)." },
    { .name = "iceberg.batch_size", .type = CFG_INT, .off = SK(iceberg.batch_size),
      .def = "1000", .range = "1..", .desc = "Rows per commit." },
    { .name = "iceberg.auto_create_table", .type = CFG_BOOL,
      .off = SK(iceberg.auto_create_table), .def = "true",
      .desc = "Create the table when it does not exist." },
    { .name = "iceberg.partition_by", .type = CFG_STRLIST, .off = SK(iceberg.partition_by),
      .off_n = SK(iceberg.npartition_by), .desc = "Partition columns." },
    { .name = "iceberg.s3_endpoint", .type = CFG_STR, .off = SK(iceberg.s3_endpoint),
      .desc = "S3 endpoint (MinIO and the like)." },
    { .name = "iceberg.s3_access_key_id", .type = CFG_STR, .off = SK(iceberg.s3_access_key_id),
      .desc = "S3 access key id." },
    { .name = "iceberg.s3_secret_access_key", .type = CFG_STR,
      .off = SK(iceberg.s3_secret_access_key), .flags = CFG_F_SECRET,
      .desc = "S3 secret access key." },
    { .name = "iceberg.s3_region", .type = CFG_STR, .off = SK(iceberg.s3_region),
      .def = "us-east-1", .desc = "S3 region." },
    { .name = "iceberg.rest_credential", .type = CFG_STR, .off = SK(iceberg.rest_credential),
      .flags = CFG_F_SECRET,
      .desc = "REST catalog: OAuth2 client credentials, client_id:client_secret." },
    { .name = "iceberg.rest_token", .type = CFG_STR, .off = SK(iceberg.rest_token),
      .flags = CFG_F_SECRET, .desc = "REST catalog: a bearer token used as it is." },
    { .name = "iceberg.rest_scope", .type = CFG_STR, .off = SK(iceberg.rest_scope),
      .desc = "REST catalog: OAuth2 scope; unset: catalog." },
    { .name = "iceberg.rest_oauth2_server_uri", .type = CFG_STR,
      .off = SK(iceberg.rest_oauth2_server_uri),
      .desc = "REST catalog: the token endpoint; unset: <catalog_uri>/v1/oauth/tokens." },
    { .name = "iceberg.flush_interval_seconds", .type = CFG_DOUBLE,
      .off = SK(iceberg.flush_interval_seconds), .def = "0.0", .range = "0..",
      .desc = "Commit a partial batch after this long; 0 = the default, 5 s." },
    { .name = "iceberg.write_executor_threads", .type = CFG_INT,
      .off = SK(iceberg.write_executor_threads), .def = "0", .range = "0..",
      .desc = "Writer threads; 0 = write on the main loop." },
    { .name = "iceberg.maintenance", .type = CFG_SECTION,
      .desc = "Background compaction and snapshot expiry." },
    { .name = "iceberg.maintenance.enabled", .type = CFG_BOOL,
      .off = SK(iceberg.maintenance.enabled), .def = "false",
      .desc = "Run table maintenance." },
    { .name = "iceberg.maintenance.expire_snapshots_interval_seconds", .type = CFG_DOUBLE,
      .off = SK(iceberg.maintenance.expire_snapshots_interval_seconds), .def = "3600.0",
      .range = ">0", .desc = "Snapshot expiry poll interval." },
    { .name = "iceberg.maintenance.expire_snapshots_older_than_seconds", .type = CFG_DOUBLE,
      .off = SK(iceberg.maintenance.expire_snapshots_older_than_seconds), .def = "86400.0",
      .range = ">0", .desc = "Expire snapshots older than this." },
    { .name = "iceberg.maintenance.compaction_interval_seconds", .type = CFG_DOUBLE,
      .off = SK(iceberg.maintenance.compaction_interval_seconds), .def = "7200.0",
      .range = ">0", .desc = "Compaction poll interval." },
    { .name = "iceberg.maintenance.compaction_file_threshold", .type = CFG_INT,
      .off = SK(iceberg.maintenance.compaction_file_threshold), .def = "10", .range = "1..",
      .desc = "Data files before compaction starts." },
    { .name = "iceberg.maintenance.compaction_max_rows_per_batch", .type = CFG_INT,
      .off = SK(iceberg.maintenance.compaction_max_rows_per_batch), .def = "500000",
      .range = "1..", .desc = "Row limit per compaction pass." },

    { .name = "jsonl", .type = CFG_SECTION,
      .desc = "JSON-lines destination: one event per line, to a file or stdout." },
    { .name = "jsonl.path", .type = CFG_STR, .off = SK(jsonl.path), .flags = CFG_F_REQUIRED,
      .check = check_nonempty, .desc = "File to append to; \"-\" is standard output." },
    { .name = "jsonl.fsync", .type = CFG_BOOL, .off = SK(jsonl.fsync), .def = "true",
      .desc = "fsync before reporting events durable (else a flush is enough)." },
    { .name = "jsonl.flush_interval_ms", .type = CFG_INT, .off = SK(jsonl.flush_interval_ms),
      .def = "200", .range = "0..", .desc = "Longest time lines wait in the buffer." },
    { .name = NULL }
};

const cfg_table cfg_sink_table = { "sinks[]", sink_keys, sizeof(cfg_sink) };

static const cfg_key pipeline_keys[] = {
    { .name = "pipeline_id", .type = CFG_STR, .off = PL(pipeline_id), .flags = CFG_F_REQUIRED,
      .check = check_nonempty, .desc = "Unique identifier of this pipeline." },
    { .name = "topic_prefix", .type = CFG_STR, .off = PL(topic_prefix), .def = "cdc",
      .check = check_topic_prefix,
      .desc = "Debezium topic.prefix: topics are `<prefix>.<schema>.<table>`." },

    { .name = "source", .type = CFG_SECTION, .flags = CFG_F_REQUIRED,
      .desc = "The PostgreSQL database changes are captured from." },
    { .name = "source.source_type", .type = CFG_ENUM, .off = PL(source.source_type),
      .def = "postgres", .choices = source_types,
      .desc = "Source database type; cdcagent captures PostgreSQL only." },
    { .name = "source.host", .type = CFG_STR, .off = PL(source.host), .def = "localhost",
      .check = check_source_host,
      .desc = "Database host, or several as host:port,host:port (a host without a port takes "
              "source.port): the agent connects to the first that is the primary (libpq's "
              "target_session_attrs, read-write by default) and, after a failover, reconnects "
              "to the new one (docs/ha.md)." },
    { .name = "source.target_session_attrs", .type = CFG_STR,
      .off = PL(source.target_session_attrs), .def = "", .choices = session_attrs,
      .desc = "libpq target_session_attrs: which of the hosts to use; empty means read-write "
              "with several hosts, any with one (standby to capture from a standby, "
              "docs/ha.md)." },
    { .name = "source.port", .type = CFG_INT, .off = PL(source.port), .def = "5432",
      .range = "1..65535", .desc = "Database port." },
    { .name = "source.database", .type = CFG_STR, .off = PL(source.database),
      .flags = CFG_F_REQUIRED, .check = check_nonempty, .desc = "Database name." },
    { .name = "source.username", .type = CFG_STR, .off = PL(source.username), .def = "cdc_user",
      .desc = "User with the REPLICATION attribute and SELECT on the tables." },
    { .name = "source.password", .type = CFG_STR, .off = PL(source.password),
      .def = "cdc_password", .flags = CFG_F_SECRET, .desc = "Database password." },
    { .name = "source.tables", .type = CFG_STRLIST, .off = PL(source.tables),
      .off_n = PL(source.ntables), .check = check_table_name,
      .desc = "Schema-qualified tables to capture (e.g. public.customers); at least one, "
              "unless the tables are chosen by pattern (table_include_list ...). "
              "Names are matched as written (case kept); a name containing a dot or a "
              "double quote is written in SQL's double quotes, with \"\" for a quote: "
              "public.\"my.table\", \"my schema\".\"a\"\"b\". A partitioned table is "
              "captured through its root (publish_via_partition_root)." },
    { .name = "source.slot_name", .type = CFG_STR, .off = PL(source.slot_name),
      .def = "cdc_slot", .check = check_slot_name,
      .desc = "Logical replication slot; unique per pipeline." },
    { .name = "source.slot_failover", .type = CFG_BOOL, .off = PL(source.slot_failover),
      .def = "false",
      .desc = "Debezium slot.failover: create the slot with failover enabled so that "
              "PostgreSQL 17+ synchronises it to standbys (sync_replication_slots) and the "
              "agent goes on after a failover; refused below 17 (docs/ha.md)." },
    { .name = "source.publication_name", .type = CFG_STR, .off = PL(source.publication_name),
      .def = "cdc_publication", .check = check_nonempty, .desc = "Publication to stream." },
    { .name = "source.snapshot_mode", .type = CFG_ENUM, .off = PL(source.snapshot_mode),
      .def = "initial", .choices = snapshot_modes,
      .desc = "Debezium 2.7's snapshot.mode. initial: a snapshot when the slot is created, "
              "then streaming. initial_only: the same snapshot, then the agent exits 0 (with "
              "an existing slot, at once). never and its newer name no_data: no snapshot. "
              "when_needed: as initial, and a new snapshot on a new slot when the slot was "
              "dropped or invalidated or its snapshot is not proven delivered. always: every "
              "start reads every table again, also with an existing slot "
              "(docs/snapshots.md, \"Snapshot modes\")." },
    { .name = "source.snapshot_max_threads", .type = CFG_INT,
      .off = PL(source.snapshot_max_threads), .def = "1", .range = "1..16",
      .desc = "Debezium snapshot.max.threads: connections that read one table's chunks in "
              "parallel in the slot's exported snapshot (PostgreSQL 14 or newer; 1: one COPY "
              "per table, docs/snapshots.md)." },
    { .name = "source.snapshot_chunk_mb", .type = CFG_INT,
      .off = PL(source.snapshot_chunk_mb), .def = "8", .range = "1..16",
      .desc = "With snapshot_max_threads above 1: MiB of table pages each parallel COPY reads "
              "(a ctid or key range); fewer where the rows would decode to more than 16 MiB "
              "(docs/snapshots.md, \"Memory\")." },
    { .name = "source.signal_data_collection", .type = CFG_STR,
      .off = PL(source.signal_data_collection), .check = check_table_name,
      .desc = "Debezium signal.data.collection: the schema-qualified signal table (id, type, "
              "data text columns; in the publication) whose inserted rows are signals: log, "
              "execute-snapshot (incremental), stop-snapshot, pause-snapshot, resume-snapshot "
              "(docs/snapshots.md)." },
    { .name = "source.incremental_snapshot_chunk_size", .type = CFG_INT,
      .off = PL(source.incremental_snapshot_chunk_size), .def = "1024", .range = "1..",
      .desc = "Debezium incremental.snapshot.chunk.size: rows one incremental snapshot chunk "
              "reads, by primary key." },
    { .name = "source.sslmode", .type = CFG_STR, .off = PL(source.sslmode), .def = "prefer",
      .choices = sslmodes, .desc = "libpq sslmode." },
    { .name = "source.sslrootcert", .type = CFG_STR, .off = PL(source.sslrootcert),
      .desc = "libpq sslrootcert: CA certificate file." },
    { .name = "source.sslcert", .type = CFG_STR, .off = PL(source.sslcert),
      .desc = "libpq sslcert: client certificate file." },
    { .name = "source.sslkey", .type = CFG_STR, .off = PL(source.sslkey),
      .desc = "libpq sslkey: client key file." },
    { .name = "source.decimal_handling_mode", .type = CFG_STR,
      .off = PL(source.decimal_handling_mode), .def = "precise", .choices = decimal_modes,
      .desc = "Debezium decimal.handling.mode." },
    { .name = "source.time_precision_mode", .type = CFG_STR,
      .off = PL(source.time_precision_mode), .def = "adaptive", .choices = time_modes,
      .desc = "Debezium time.precision.mode." },
    { .name = "source.binary_handling_mode", .type = CFG_STR,
      .off = PL(source.binary_handling_mode), .def = "bytes", .choices = binary_modes,
      .desc = "Debezium binary.handling.mode." },
    { .name = "source.interval_handling_mode", .type = CFG_STR,
      .off = PL(source.interval_handling_mode), .def = "numeric", .choices = interval_modes,
      .desc = "Debezium interval.handling.mode." },
    { .name = "source.tombstones_on_delete", .type = CFG_BOOL,
      .off = PL(source.tombstones_on_delete), .def = "true",
      .desc = "Debezium tombstones.on.delete: a null-value record after each delete." },
    { .name = "source.skipped_operations", .type = CFG_STR, .off = PL(source.skipped_operations),
      .def = "t", .check = check_skipped_operations,
      .desc = "Debezium skipped.operations: c, u, d, t (comma list) or none." },
    { .name = "source.heartbeat_interval_ms", .type = CFG_INT,
      .off = PL(source.heartbeat_interval_ms), .def = "0", .range = "0..",
      .desc = "Debezium heartbeat.interval.ms; 0 = no heartbeats." },
    { .name = "source.heartbeat_action_query", .type = CFG_STR,
      .off = PL(source.heartbeat_action_query),
      .desc = "Debezium heartbeat.action.query: run on the source at each heartbeat, so "
              "a database whose captured tables are quiet still produces WAL to confirm." },
    { .name = "source.provide_transaction_metadata", .type = CFG_BOOL,
      .off = PL(source.provide_transaction_metadata), .def = "false",
      .desc = "Debezium provide.transaction.metadata: BEGIN/END records on "
              "{prefix}.transaction and the envelope's transaction block (transport_mode "
              "kafka only; see kafka.md)." },
    { .name = "source.unavailable_value_placeholder", .type = CFG_STR,
      .off = PL(source.unavailable_value_placeholder), .def = "__debezium_unavailable_value",
      .desc = "Debezium unavailable.value.placeholder: stands in for unchanged TOAST values." },
    { .name = "source.message_key_columns", .type = CFG_STR,
      .off = PL(source.message_key_columns), .def = "", .check = check_message_key_columns,
      .desc = "Debezium message.key.columns: \"schema.table:col1,col2;...\" (regexes): the "
              "message key, and so the Kafka partition, of the tables it names "
              "(docs/filters-and-masking.md)." },
    { .name = "source.schema_name_adjustment_mode", .type = CFG_STR,
      .off = PL(source.schema_name_adjustment_mode), .def = "none", .choices = name_adjust_modes,
      .desc = "Debezium schema.name.adjustment.mode: none, avro (invalid characters become _) "
              "or avro_unicode (_uXXXX), for the Key, Value and Envelope schema names of "
              "JSON and Avro." },
    { .name = "source.column_include_list", .type = CFG_STR,
      .off = PL(source.column_include_list), .def = "",
      .desc = "Debezium column.include.list: comma-separated regexes matched whole, "
              "case-insensitively, against schema.table.column; other columns are left out "
              "of values and schemas, and of the publication on PostgreSQL 15+ "
              "(docs/filters-and-masking.md)." },
    { .name = "source.column_exclude_list", .type = CFG_STR,
      .off = PL(source.column_exclude_list), .def = "",
      .desc = "Debezium column.exclude.list: the columns to leave out (not with "
              "column_include_list)." },
    { .name = "source.column_masks", .type = CFG_STRMAP, .off = PL(source.column_masks),
      .desc = "Debezium's column.truncate.to.N.chars, column.mask.with.N.chars and "
              "column.mask.hash[.v2].ALGORITHM.with.salt.SALT: property name -> column regex "
              "list (docs/filters-and-masking.md)." },
    { .name = "source.row_filters", .type = CFG_STRMAP, .off = PL(source.row_filters),
      .desc = "Per-table row filter, schema.table: SQL condition, as a PostgreSQL 15+ "
              "publication row filter (WHERE) and in the snapshot's query "
              "(docs/filters-and-masking.md)." },
    { .name = "source.column_propagate_source_type", .type = CFG_STR,
      .off = PL(source.column_propagate_source_type), .def = "",
      .desc = "Debezium column.propagate.source.type: regexes matched whole, "
              "case-insensitively, against schema.table.column; the value schema of each "
              "matching column carries __debezium.source.column.type, .length, .scale and "
              ".name (docs/filters-and-masking.md)." },
    { .name = "source.datatype_propagate_source_type", .type = CFG_STR,
      .off = PL(source.datatype_propagate_source_type), .def = "",
      .desc = "Debezium datatype.propagate.source.type: the same parameters for the columns "
              "whose schema.table.typename (PostgreSQL's type name: int4, varchar, _int4, an "
              "enum's or domain's name) a regex matches." },
    { .name = "source.table_include_list", .type = CFG_STR,
      .off = PL(source.table_include_list), .def = "",
      .desc = "Debezium table.include.list: comma-separated regexes matched whole, "
              "case-insensitively, against schema.table; the matching tables are captured "
              "(resolved at start, and the publication follows tables created later; not "
              "with tables; docs/filters-and-masking.md)." },
    { .name = "source.table_exclude_list", .type = CFG_STR,
      .off = PL(source.table_exclude_list), .def = "",
      .desc = "Debezium table.exclude.list: every table but those matched (not with "
              "table_include_list nor tables)." },
    { .name = "source.schema_include_list", .type = CFG_STR,
      .off = PL(source.schema_include_list), .def = "",
      .desc = "Debezium schema.include.list: regexes matched whole, case-insensitively, "
              "against the schema name; with a table list, a table must pass both." },
    { .name = "source.schema_exclude_list", .type = CFG_STR,
      .off = PL(source.schema_exclude_list), .def = "",
      .desc = "Debezium schema.exclude.list: every schema but those matched (not with "
              "schema_include_list nor tables)." },
    { .name = "source.table_pattern_check_ms", .type = CFG_INT,
      .off = PL(source.table_pattern_check_ms), .def = "10000", .range = "0..",
      .desc = "With table_include_list and the like: how often, while streaming, the catalog "
              "is read for new matching tables, which are then added to the publication and "
              "captured from that moment (0: only at start; docs/filters-and-masking.md)." },
    { .name = "source.money_fraction_digits", .type = CFG_INT,
      .off = PL(source.money_fraction_digits), .def = "2", .range = "0..",
      .desc = "Debezium money.fraction.digits." },
    { .name = "source.mysql_server_id", .type = CFG_INT, .off = PL(source.mysql_server_id),
      .def = "1", .range = "1..", .desc = "MySQL only; accepted and ignored." },
    { .name = "source.replica_set_name", .type = CFG_STR, .off = PL(source.replica_set_name),
      .desc = "MongoDB only; accepted and ignored." },
    { .name = "source.auth_source", .type = CFG_STR, .off = PL(source.auth_source),
      .def = "admin", .desc = "MongoDB only; accepted and ignored." },

    { .name = "sinks", .type = CFG_LIST, .off = PL(sinks), .off_n = PL(nsinks),
      .sub = &cfg_sink_table,
      .desc = "Destinations; every enabled sink receives every event." },
    { .name = NULL }
};

const cfg_table cfg_pipeline_table = { "pipeline.yaml", pipeline_keys, sizeof(cfg_pipeline) };

/* ---- platform.yaml ---- */

static const cfg_key platform_keys[] = {
    { .name = "transport_mode", .type = CFG_ENUM, .off = PF(transport_mode), .def = "kafka",
      .choices = transport_modes,
      .desc = "kafka, pubsub or kinesis publish Debezium-format events; direct writes to "
              "the pipeline's sinks." },

    { .name = "kafka", .type = CFG_SECTION, .desc = "Kafka transport." },
    { .name = "kafka.bootstrap_servers", .type = CFG_STR, .off = PF(kafka.bootstrap_servers),
      .def = "localhost:9092", .desc = "Kafka brokers." },
    { .name = "kafka.schema_registry_url", .type = CFG_STR,
      .off = PF(kafka.schema_registry_url), .def = "http://localhost:8081",
      .desc = "Confluent Schema Registry URL." },
    { .name = "kafka.group_id", .type = CFG_STR, .off = PF(kafka.group_id),
      .def = "cdc-platform", .desc = "Consumer group of the platform's consumers." },
    { .name = "kafka.auto_offset_reset", .type = CFG_STR, .off = PF(kafka.auto_offset_reset),
      .def = "earliest", .choices = offset_resets,
      .desc = "Where consumers start without a committed offset." },
    { .name = "kafka.enable_idempotence", .type = CFG_BOOL, .off = PF(kafka.enable_idempotence),
      .def = "true", .desc = "Idempotent producer." },
    { .name = "kafka.acks", .type = CFG_STR, .off = PF(kafka.acks), .def = "all",
      .choices = kafka_acks, .desc = "Producer acknowledgement level." },
    { .name = "kafka.topic_num_partitions", .type = CFG_INT,
      .off = PF(kafka.topic_num_partitions), .def = "1", .range = "1..",
      .desc = "Partitions of auto-created topics." },
    { .name = "kafka.topic_replication_factor", .type = CFG_INT,
      .off = PF(kafka.topic_replication_factor), .def = "1", .range = "1..",
      .desc = "Replication factor of auto-created topics." },
    { .name = "kafka.session_timeout_ms", .type = CFG_INT, .off = PF(kafka.session_timeout_ms),
      .def = "45000", .range = "1000..", .desc = "Consumer session timeout." },
    { .name = "kafka.max_poll_interval_ms", .type = CFG_INT,
      .off = PF(kafka.max_poll_interval_ms), .def = "300000", .range = "1000..",
      .desc = "Consumer max.poll.interval.ms." },
    { .name = "kafka.fetch_min_bytes", .type = CFG_INT, .off = PF(kafka.fetch_min_bytes),
      .def = "1", .range = "1..", .desc = "Consumer fetch.min.bytes." },
    { .name = "kafka.fetch_max_wait_ms", .type = CFG_INT, .off = PF(kafka.fetch_max_wait_ms),
      .def = "500", .range = "0..", .desc = "Consumer fetch.wait.max.ms." },
    { .name = "kafka.poll_batch_size", .type = CFG_INT, .off = PF(kafka.poll_batch_size),
      .def = "1", .range = "1..", .desc = "Messages per consumer poll." },
    { .name = "kafka.deser_pool_size", .type = CFG_INT, .off = PF(kafka.deser_pool_size),
      .def = "1", .range = "1..", .desc = "Deserialisation threads (1 = none)." },
    { .name = "kafka.commit_interval_seconds", .type = CFG_DOUBLE,
      .off = PF(kafka.commit_interval_seconds), .def = "0.0", .range = "0..",
      .desc = "0 = commit per event; >0 = periodic asynchronous commits." },
    { .name = "kafka.security_protocol", .type = CFG_STR, .off = PF(kafka.security_protocol),
      .def = "PLAINTEXT", .choices = security_protocols, .desc = "security.protocol." },
    { .name = "kafka.auth_mechanism", .type = CFG_STR, .off = PF(kafka.auth_mechanism),
      .def = "none", .choices = auth_mechanisms, .desc = "SASL mechanism." },
    { .name = "kafka.sasl_username", .type = CFG_STR, .off = PF(kafka.sasl_username),
      .desc = "SASL user (sasl_plain, sasl_scram_*)." },
    { .name = "kafka.sasl_password", .type = CFG_STR, .off = PF(kafka.sasl_password),
      .flags = CFG_F_SECRET, .desc = "SASL password (sasl_plain, sasl_scram_*)." },
    { .name = "kafka.ssl_ca_location", .type = CFG_STR, .off = PF(kafka.ssl_ca_location),
      .desc = "CA certificate file." },
    { .name = "kafka.ssl_certificate_location", .type = CFG_STR,
      .off = PF(kafka.ssl_certificate_location), .desc = "Client certificate file." },
    { .name = "kafka.ssl_key_location", .type = CFG_STR, .off = PF(kafka.ssl_key_location),
      .desc = "Client key file." },
    { .name = "kafka.aws_region", .type = CFG_STR, .off = PF(kafka.aws_region),
      .desc = "AWS region (required for sasl_iam)." },
    { .name = "kafka.gcp_project_id", .type = CFG_STR, .off = PF(kafka.gcp_project_id),
      .desc = "GCP project (sasl_oauthbearer on GCP Managed Kafka)." },
    { .name = "kafka.serialization", .type = CFG_ENUM, .off = PF(kafka.serialization),
      .def = "avro", .choices = serializations,
      .desc = "avro: Confluent Avro with the Schema Registry (Debezium with AvroConverter); "
              "json: Kafka's JsonConverter." },
    { .name = "kafka.json_schemas_enable", .type = CFG_BOOL, .off = PF(kafka.json_schemas_enable),
      .def = "true", .desc = "With serialization json: wrap records as {schema, payload}." },
    { .name = "kafka.debezium_version", .type = CFG_STR, .off = PF(kafka.debezium_version),
      .def = "2.7", .desc = "The Debezium release whose wire format to reproduce (compat profile): Kafka's "
              "Avro and JSON, and the JSON of every other destination. `3.6` (any 3.5+) matches "
              "Debezium 3.6.1 (test 861; docs/debezium-differences.md, \"Debezium 3.6.1\")." },
    { .name = "kafka.schema_registry_username", .type = CFG_STR,
      .off = PF(kafka.schema_registry_username), .desc = "Schema Registry basic-auth user." },
    { .name = "kafka.schema_registry_password", .type = CFG_STR,
      .off = PF(kafka.schema_registry_password), .flags = CFG_F_SECRET,
      .desc = "Schema Registry basic-auth password." },
    { .name = "kafka.schema_registry_ca_location", .type = CFG_STR,
      .off = PF(kafka.schema_registry_ca_location),
      .desc = "CA bundle for the Schema Registry's TLS certificate." },
    { .name = "kafka.schema_registry_certificate_location", .type = CFG_STR,
      .off = PF(kafka.schema_registry_certificate_location),
      .desc = "Client certificate (PEM) for a registry that requires mutual TLS." },
    { .name = "kafka.schema_registry_key_location", .type = CFG_STR,
      .off = PF(kafka.schema_registry_key_location),
      .desc = "Private key (PEM, unencrypted) of the registry client certificate." },
    { .name = "kafka.properties", .type = CFG_STRMAP, .off = PF(kafka.properties),
      .desc = "librdkafka properties passed through as they are (\"linger.ms\": \"5\")." },

    { .name = "connector", .type = CFG_SECTION,
      .desc = "Kafka Connect settings of the platform; accepted, unused by cdcagent." },
    { .name = "connector.connect_url", .type = CFG_STR, .off = PF(connector.connect_url),
      .def = "http://localhost:8083", .desc = "Kafka Connect REST endpoint." },
    { .name = "connector.timeout_seconds", .type = CFG_DOUBLE,
      .off = PF(connector.timeout_seconds), .def = "30.0", .range = ">0",
      .desc = "HTTP timeout for Connect calls." },
    { .name = "connector.retry_max_attempts", .type = CFG_INT,
      .off = PF(connector.retry_max_attempts), .def = "5", .range = "1..",
      .desc = "Retries on connector deployment." },
    { .name = "connector.retry_wait_seconds", .type = CFG_DOUBLE,
      .off = PF(connector.retry_wait_seconds), .def = "2.0", .range = ">0",
      .desc = "Wait between retries." },

    { .name = "pubsub", .type = CFG_SECTION, .desc = "Google Pub/Sub transport." },
    { .name = "pubsub.project_id", .type = CFG_STR, .off = PF(pubsub.project_id),
      .flags = CFG_F_REQUIRED, .check = check_nonempty, .desc = "GCP project." },
    { .name = "pubsub.ordering_enabled", .type = CFG_BOOL, .off = PF(pubsub.ordering_enabled),
      .def = "true", .desc = "Ordered delivery per key." },
    { .name = "pubsub.ack_deadline_seconds", .type = CFG_INT,
      .off = PF(pubsub.ack_deadline_seconds), .def = "600", .range = "10..600",
      .desc = "Subscription ack deadline." },
    { .name = "pubsub.max_messages_per_pull", .type = CFG_INT,
      .off = PF(pubsub.max_messages_per_pull), .def = "100", .range = "1..",
      .desc = "Messages per pull." },
    { .name = "pubsub.group_id", .type = CFG_STR, .off = PF(pubsub.group_id),
      .def = "cdc-platform", .desc = "Subscription name prefix." },
    { .name = "pubsub.max_outstanding_messages", .type = CFG_INT,
      .off = PF(pubsub.max_outstanding_messages), .def = "1000", .range = "1..",
      .desc = "Flow control limit." },
    { .name = "pubsub.max_delivery_attempts", .type = CFG_INT,
      .off = PF(pubsub.max_delivery_attempts), .def = "5", .range = "1..",
      .desc = "Deliveries before the dead-letter topic." },
    { .name = "pubsub.serialization", .type = CFG_ENUM, .off = PF(pubsub.serialization),
      .def = "json", .choices = serializations,
      .desc = "json (Debezium Server's default) or avro (Confluent framing; the schemas are "
              "registered with kafka.schema_registry_url)." },
    { .name = "pubsub.json_schemas_enable", .type = CFG_BOOL,
      .off = PF(pubsub.json_schemas_enable), .def = "true",
      .desc = "With serialization json: wrap records as {schema, payload} (Debezium Server's "
              "default: its JsonConverter has schemas.enable on)." },

    { .name = "kinesis", .type = CFG_SECTION, .desc = "Amazon Kinesis transport." },
    { .name = "kinesis.region", .type = CFG_STR, .off = PF(kinesis.region), .def = "us-east-1",
      .desc = "AWS region." },
    { .name = "kinesis.shard_count", .type = CFG_INT, .off = PF(kinesis.shard_count), .def = "1",
      .range = "1..", .desc = "Shards per created stream." },
    { .name = "kinesis.group_id", .type = CFG_STR, .off = PF(kinesis.group_id),
      .def = "cdc-platform", .desc = "Consumer group name." },
    { .name = "kinesis.iterator_type", .type = CFG_STR, .off = PF(kinesis.iterator_type),
      .def = "TRIM_HORIZON", .choices = iterator_types, .desc = "Shard iterator type." },
    { .name = "kinesis.checkpoint_table_name", .type = CFG_STR,
      .off = PF(kinesis.checkpoint_table_name), .def = "cdc-kinesis-checkpoints",
      .desc = "DynamoDB checkpoint table." },
    { .name = "kinesis.poll_interval_seconds", .type = CFG_DOUBLE,
      .off = PF(kinesis.poll_interval_seconds), .def = "1.0", .range = ">0",
      .desc = "Poll interval." },
    { .name = "kinesis.max_records_per_shard", .type = CFG_INT,
      .off = PF(kinesis.max_records_per_shard), .def = "100", .range = "1..",
      .desc = "Records per GetRecords." },
    { .name = "kinesis.dlq_stream_suffix", .type = CFG_STR, .off = PF(kinesis.dlq_stream_suffix),
      .def = "dlq", .desc = "Suffix of dead-letter streams." },
    { .name = "kinesis.dlq_shard_count", .type = CFG_INT, .off = PF(kinesis.dlq_shard_count),
      .def = "1", .range = "1..", .desc = "Shards per dead-letter stream." },
    { .name = "kinesis.checkpoint_ttl_seconds", .type = CFG_INT,
      .off = PF(kinesis.checkpoint_ttl_seconds), .def = "604800", .range = "0..",
      .desc = "Checkpoint TTL; 0 = none." },
    { .name = "kinesis.serialization", .type = CFG_ENUM, .off = PF(kinesis.serialization),
      .def = "json", .choices = serializations,
      .desc = "json (Debezium Server's default) or avro (Confluent framing; the schemas are "
              "registered with kafka.schema_registry_url)." },
    { .name = "kinesis.json_schemas_enable", .type = CFG_BOOL,
      .off = PF(kinesis.json_schemas_enable), .def = "true",
      .desc = "With serialization json: wrap records as {schema, payload} (Debezium Server's "
              "default: its JsonConverter has schemas.enable on)." },

    { .name = "wal_reader", .type = CFG_SECTION,
      .desc = "With transport_mode pubsub or kinesis: the slot and publication (they replace "
              "source.slot_name and source.publication_name) and the publish batches." },
    { .name = "wal_reader.publication_name", .type = CFG_STR,
      .off = PF(wal_reader.publication_name), .def = "cdc_publication", .desc = "Publication." },
    { .name = "wal_reader.slot_name", .type = CFG_STR, .off = PF(wal_reader.slot_name),
      .def = "cdc_slot", .check = check_slot_name, .desc = "Replication slot." },
    { .name = "wal_reader.status_interval_seconds", .type = CFG_DOUBLE,
      .off = PF(wal_reader.status_interval_seconds), .def = "10.0", .range = ">0",
      .desc = "Standby status interval." },
    { .name = "wal_reader.batch_size", .type = CFG_INT, .off = PF(wal_reader.batch_size),
      .def = "100", .range = "1..",
      .desc = "Messages per publish request (capped at the service's limit)." },
    { .name = "wal_reader.batch_timeout_seconds", .type = CFG_DOUBLE,
      .off = PF(wal_reader.batch_timeout_seconds), .def = "1.0", .range = ">0",
      .desc = "Longest an open publish batch waits to fill." },
    { .name = "wal_reader.max_retries", .type = CFG_INT, .off = PF(wal_reader.max_retries),
      .def = "0", .range = "0..", .desc = "Reconnect attempts; 0 = unlimited." },

    { .name = "dlq", .type = CFG_SECTION,
      .desc = "Dead-letter routing of events a sink keeps failing." },
    { .name = "dlq.enabled", .type = CFG_BOOL, .off = PF(dlq.enabled), .def = "true",
      .desc = "Route failed events to a dead-letter destination." },
    { .name = "dlq.topic_suffix", .type = CFG_STR, .off = PF(dlq.topic_suffix), .def = "dlq",
      .check = check_nonempty, .desc = "Appended to the source topic: `<topic>.<suffix>`." },
    { .name = "dlq.max_retries", .type = CFG_INT, .off = PF(dlq.max_retries), .def = "3",
      .range = "0..", .desc = "Retries before an event goes to the DLQ." },
    { .name = "dlq.include_headers", .type = CFG_BOOL, .off = PF(dlq.include_headers),
      .def = "true", .desc = "Add diagnostic headers (dlq.*)." },
    { .name = "dlq.flush_interval_seconds", .type = CFG_DOUBLE,
      .off = PF(dlq.flush_interval_seconds), .def = "0.0", .range = "0..",
      .desc = "0 = flush per message; >0 = non-blocking, flushed this often." },
    { .name = "dlq.path", .type = CFG_STR, .off = PF(dlq.path), .def = "",
      .desc = "transport_mode direct: the JSON-lines file dead letters go to; empty means "
              "<pipeline_id>.dlq.jsonl in the working directory." },
    { .name = "dlq.postgres_conninfo", .type = CFG_STR, .off = PF(dlq.postgres_conninfo),
      .def = "", .flags = CFG_F_SECRET,
      .desc = "transport_mode direct: a libpq connection string; when set, dead letters go "
              "to dlq.postgres_table in that database instead of the dlq.path file." },
    { .name = "dlq.postgres_table", .type = CFG_STR, .off = PF(dlq.postgres_table),
      .def = "cdcagent_dlq", .desc = "Table for dlq.postgres_conninfo, created when missing." },

    { .name = "retry", .type = CFG_SECTION,
      .desc = "Backoff for sink writes; the default for every sink's retry.*." },
    { .name = "retry.max_attempts", .type = CFG_INT, .off = PF(retry.max_attempts), .def = "5",
      .range = "1..", .desc = "Maximum attempts." },
    { .name = "retry.initial_wait_seconds", .type = CFG_DOUBLE,
      .off = PF(retry.initial_wait_seconds), .def = "1.0", .range = ">0",
      .desc = "Initial backoff delay." },
    { .name = "retry.max_wait_seconds", .type = CFG_DOUBLE, .off = PF(retry.max_wait_seconds),
      .def = "60.0", .range = ">0", .desc = "Maximum backoff delay." },
    { .name = "retry.multiplier", .type = CFG_DOUBLE, .off = PF(retry.multiplier), .def = "2.0",
      .range = "1..", .desc = "Exponential multiplier." },
    { .name = "retry.jitter", .type = CFG_BOOL, .off = PF(retry.jitter), .def = "true",
      .desc = "Randomised jitter." },

    { .name = "max_buffered_messages", .type = CFG_INT, .off = PF(max_buffered_messages),
      .def = "1000", .range = "1..", .desc = "Events queued per destination before backpressure." },
    { .name = "schema_monitor_interval_seconds", .type = CFG_DOUBLE,
      .off = PF(schema_monitor_interval_seconds), .def = "30.0", .range = ">0",
      .desc = "Schema Registry poll interval." },
    { .name = "lag_monitor_interval_seconds", .type = CFG_DOUBLE,
      .off = PF(lag_monitor_interval_seconds), .def = "15.0", .range = ">0",
      .desc = "Lag report interval." },
    { .name = "stop_on_incompatible_schema", .type = CFG_BOOL,
      .off = PF(stop_on_incompatible_schema), .def = "false",
      .desc = "Stop on a backward-incompatible schema change instead of logging it." },
    { .name = "health_port", .type = CFG_INT, .off = PF(health_port), .def = "8080",
      .range = "1..65535", .desc = "Port of the HTTP health server (/healthz, /readyz)." },
    { .name = "health_enabled", .type = CFG_BOOL, .off = PF(health_enabled), .def = "true",
      .desc = "Serve /healthz and /readyz." },

    { .name = "agent", .type = CFG_SECTION, .desc = "cdcagent's own settings." },
    { .name = "agent.status_interval_seconds", .type = CFG_DOUBLE,
      .off = PF(agent.status_interval_seconds), .def = "10.0", .range = ">0",
      .desc = "Longest time between standby status updates to PostgreSQL." },
    { .name = "agent.log_level", .type = CFG_ENUM, .off = PF(agent.log_level), .def = "info",
      .choices = log_levels, .desc = "Least severe level logged." },
    { .name = "agent.log_format", .type = CFG_ENUM, .off = PF(agent.log_format), .def = "auto",
      .choices = log_formats, .desc = "auto: text on a terminal, else JSON lines." },
    { .name = "agent.memory_limit_mb", .type = CFG_INT, .off = PF(agent.memory_limit_mb),
      .def = "256", .range = "1..",
      .desc = "Memory for buffering streamed transactions before they spill to disk (a "
              "message of 8 MiB or more, one large value, goes to disk at once)." },
    { .name = "agent.max_value_mb", .type = CFG_INT, .off = PF(agent.max_value_mb),
      .def = "512", .range = "1..1024",
      .desc = "Largest column value (octet_length: text, json, bytea, ...) the agent "
              "accepts; a larger one stops it (exit 2) naming the table, column and size, "
              "and the slot stays before that transaction. Peak memory is about 2 x the "
              "largest text value or 5 x the largest bytea, plus memory_limit_mb "
              "(docs/operations.md)." },
    { .name = "agent.spill_dir", .type = CFG_STR, .off = PF(agent.spill_dir), .def = "",
      .desc = "Directory for spilled transactions; empty = $TMPDIR, else /tmp." },
    { .name = "agent.state_dir", .type = CFG_STR, .off = PF(agent.state_dir), .def = "",
      .desc = "Directory of the agent's record of each slot (cdcagent-<system id>-<slot>.state): "
              "whether the snapshot reached every sink, and what each sink was last known to "
              "hold. Empty = the working directory. Keep it on persistent storage: without the "
              "record, a pipeline with a sink that cannot say what it holds (webhook, stdout) "
              "takes its snapshot again at start (docs/fault-matrix.md)." },
    { .name = "agent.shutdown_timeout_seconds", .type = CFG_DOUBLE,
      .off = PF(agent.shutdown_timeout_seconds), .def = "30.0", .range = "0..",
      .desc = "Time to drain and flush destinations on SIGTERM." },
    { .name = "agent.stop_lsn", .type = CFG_STR, .off = PF(agent.stop_lsn), .def = "",
      .check = check_lsn,
      .desc = "Stop once this LSN (X/Y) is confirmed; for tests. Empty = run on." },
    { .name = "agent.reconnect_max_attempts", .type = CFG_INT,
      .off = PF(agent.reconnect_max_attempts), .def = "0", .range = "0..",
      .desc = "Reconnects to PostgreSQL before giving up; 0 = forever." },
    { .name = NULL }
};

const cfg_table cfg_platform_table = { "platform.yaml", platform_keys, sizeof(cfg_platform) };

/* ---- the reference ---- */

static void
print_type(FILE *out, const cfg_key *k)
{
    static const char *const names[] = {
        [CFG_SECTION] = "section", [CFG_STR] = "string",     [CFG_INT] = "integer",
        [CFG_DOUBLE] = "number",   [CFG_BOOL] = "boolean",   [CFG_ENUM] = "string",
        [CFG_STRLIST] = "list of strings", [CFG_STRMAP] = "map of strings",
        [CFG_LIST] = "list of sinks",
    };

    const char *dots = k->range ? strstr(k->range, "..") : NULL;

    fputs(names[k->type], out);
    if (k->range && k->range[0] == '>')
        fprintf(out, " (> %s)", k->range + 1);
    else if (dots && dots[2] == '\0')
        fprintf(out, " (>= %.*s)", (int) (dots - k->range), k->range);
    else if (dots)
        fprintf(out, " (%.*s to %s)", (int) (dots - k->range), k->range, dots + 2);
    if (k->choices) {
        fputs(": ", out);
        for (const cfg_enum *e = k->choices; e->name; e++)
            fprintf(out, "%s`%s`", e == k->choices ? "" : " \\| ", e->name);
    }
}

static void
print_default(FILE *out, const cfg_key *k)
{
    if (k->flags & CFG_F_REQUIRED)
        fputs("*(required)*", out);
    else if (k->type == CFG_SECTION)
        fputs("", out);
    else if (k->def == NULL)
        fputs(k->type == CFG_STRLIST || k->type == CFG_LIST ? "`[]`"
              : k->type == CFG_STRMAP                       ? "`{}`"
                                                            : "*(unset)*", out);
    else if (k->def[0] == '\0')
        fputs("`\"\"`", out);
    else
        fprintf(out, "`%s`", k->def);
}

static void
print_rows(FILE *out, const cfg_table *t, const char *prefix)
{
    for (const cfg_key *k = t->keys; k->name; k++) {
        fprintf(out, "| `%s%s` | ", prefix, k->name);
        print_type(out, k);
        fputs(" | ", out);
        print_default(out, k);
        fprintf(out, " | %s |\n", k->desc);
        if (k->type == CFG_LIST)
            print_rows(out, k->sub, "sinks[].");
    }
}

void
cfg_print_reference(FILE *out)
{
    static const char *const tables_intro =
        "| Key | Type | Default | Description |\n|---|---|---|---|\n";

    fputs("# cdcagent configuration reference\n\n"
          "<!-- Generated by `cdcagent help config` (cfg_print_reference in "
          "agent/config/config_keys.c); edit the table there, not this file. -->\n\n"
          "cdcagent reads the CDC platform's two files: `pipeline.yaml` (what to capture and "
          "where to send it) and `platform.yaml` (optional: transport, tuning, and cdcagent's "
          "own `agent:` section).  Loading is strict: an unknown or duplicate key, a value of "
          "the wrong type or outside its range, a missing required key, or a platform key in "
          "a pipeline file is an error that names the file, line, column and key, e.g.\n\n"
          "    pipeline.yaml:12:5: sinks[1].webhook.timeout_seconds: expected a number, "
          "got \"ten\"\n\n"
          "## Values\n\n"
          "- **boolean**: `true`/`false`, `yes`/`no`, `on`/`off` (also Capitalised or UPPER "
          "case), as in YAML 1.1.\n"
          "- **integer**: decimal digits with an optional sign; `5.0` is not an integer.\n"
          "- **number**: an integer or a decimal fraction (`1`, `0.5`, `1e3`).\n"
          "- Quoted scalars are accepted for numbers and booleans (`port: \"5432\"`), as "
          "the platform accepts them.  `~`, `null` or nothing leaves an optional value unset.\n"
          "- A string key with listed values takes exactly one of them (case matters).\n"
          "- Limits, so that a hostile file costs nothing: at most 1 MiB per file, at most "
          "16 MiB of values per file once `${VAR}` are substituted, nesting at most 32 deep, "
          "at most 100 anchors, no NUL bytes.\n\n"
          "## Environment variables\n\n"
          "Every scalar value (not keys) may refer to the environment, as in the platform:\n\n"
          "- `${VAR}` is replaced by the value of `VAR`; it is an error if `VAR` is unset "
          "(the message names the variable, file and line).  A variable set to the empty "
          "string counts as set.\n"
          "- `${VAR:-default}` uses `default` when `VAR` is unset; `\\}` writes a `}` in "
          "the default.\n"
          "- `VAR` is a shell variable name: letters, digits and `_`, not starting with a "
          "digit.\n"
          "- `$${` writes a literal `${`.  Any other `$` is left alone (`pa$$word` stays "
          "`pa$$word`), and so is a `${` that does not form a reference (`${1}`, `${A:b}`).\n"
          "- Substitution happens before the type check, so `port: ${PGPORT:-5432}` is an "
          "integer.  Substituted text is never parsed as YAML.\n\n", out);

    fputs("## pipeline.yaml\n\n", out);
    fputs(tables_intro, out);
    print_rows(out, &cfg_pipeline_table, "");
    fputs("\nA sink needs the section named by its `sink_type` and no other type's "
          "section.  Sink ids are unique.  `source.tables` must list at least one table.\n"
          "The platform keys (`transport_mode`, `kafka`, `connector`, `dlq`, `retry`, ...) "
          "are rejected in a pipeline file: they belong in platform.yaml.\n\n", out);

    fputs("## platform.yaml\n\n"
          "Optional: without it every key takes its default.\n\n", out);
    fputs(tables_intro, out);
    print_rows(out, &cfg_platform_table, "");
    fputs("\n## What this build runs\n\n"
          "The whole format above is accepted, but a configuration must also be one this "
          "build can run (cfg_validate in agent/config/config_check.c): a `postgres` source, "
          "`transport_mode: direct`, and at least one enabled sink, every enabled sink of "
          "type `jsonl`.  Anything else fails with CDC_E_UNSUPPORTED and a \"not supported "
          "yet\" message.\n",
          out);
}
