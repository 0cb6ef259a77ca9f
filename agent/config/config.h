/*
 * Configuration: the CDC platform's pipeline.yaml and platform.yaml, read
 * with libyaml into plain structs.  Every key is one row of a table
 * (agent/config/config_keys.c) that drives parsing, defaults, validation and the
 * reference in docs/configuration.md (`cdcagent help config`).
 *
 * Loading is strict: an unknown or duplicate key, a value of the wrong type,
 * a missing required key or a platform key in a pipeline file fails with
 * "<file>:<line>:<col>: <key path>: <what is wrong>" and CDC_E_CONFIG.
 * Scalar values may use ${VAR} and ${VAR:-default}; see docs/configuration.md.
 * Passwords and other secrets never appear in error messages.
 */
#ifndef CDC_AGENT_CONFIG_CONFIG_H
#define CDC_AGENT_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "agent/core/cdc_err.h"
#include "agent/core/cdc_log.h"
#include "agent/core/cdc_retry.h"

typedef enum cfg_source_type {
    CFG_SOURCE_POSTGRES = 0, CFG_SOURCE_MYSQL, CFG_SOURCE_MONGODB, CFG_SOURCE_SQLSERVER
} cfg_source_type;

/* Debezium's snapshot.mode; "never" and "no_data" are one mode. */
typedef enum cfg_snapshot_mode {
    CFG_SNAPSHOT_INITIAL = 0, CFG_SNAPSHOT_INITIAL_ONLY, CFG_SNAPSHOT_NEVER,
    CFG_SNAPSHOT_WHEN_NEEDED, CFG_SNAPSHOT_ALWAYS
} cfg_snapshot_mode;

typedef enum cfg_sink_type {
    CFG_SINK_WEBHOOK = 0, CFG_SINK_POSTGRES, CFG_SINK_ICEBERG, CFG_SINK_JSONL
} cfg_sink_type;

typedef enum cfg_transport_mode {
    CFG_TRANSPORT_KAFKA = 0, CFG_TRANSPORT_PUBSUB, CFG_TRANSPORT_KINESIS, CFG_TRANSPORT_DIRECT
} cfg_transport_mode;

typedef enum cfg_pg_sink_mode { CFG_PG_SINK_EVENT_LOG = 0, CFG_PG_SINK_REPLICA } cfg_pg_sink_mode;

typedef enum cfg_log_format { CFG_LOG_FORMAT_AUTO = 0, CFG_LOG_FORMAT_TEXT, CFG_LOG_FORMAT_JSON } cfg_log_format;

/* A YAML mapping of strings, in file order (webhook headers, kafka.properties). */
typedef enum cfg_serialization { CFG_SERIALIZATION_AVRO = 0, CFG_SERIALIZATION_JSON } cfg_serialization;

typedef struct cfg_kv { char *key; char *value; } cfg_kv;
typedef struct cfg_strmap { cfg_kv *items; int n; } cfg_strmap;

/* Optional strings without a default are NULL; every string is owned by the config. */
typedef struct cfg_source {
    cfg_source_type   source_type;
    char             *host;
    int               port;
    char             *database;
    char             *username;
    char             *password;
    char            **tables;            /* "schema.table", as written; cfg_table_split */
    int               ntables;
    char             *slot_name;
    bool              slot_failover;         /* Debezium slot.failover (PostgreSQL 17+) */
    char             *target_session_attrs;  /* libpq's; "" = read-write with several hosts */
    char             *publication_name;
    cfg_snapshot_mode snapshot_mode;
    int               snapshot_max_threads;  /* Debezium snapshot.max.threads */
    int               snapshot_chunk_mb;     /* table pages per parallel chunk */
    char             *signal_data_collection;   /* Debezium signal.data.collection; NULL: none */
    int               incremental_snapshot_chunk_size; /* incremental.snapshot.chunk.size */
    char             *sslmode;
    char             *sslrootcert, *sslcert, *sslkey;
    /* Debezium connector options, snake_case, with Debezium's defaults */
    char             *decimal_handling_mode;
    char             *time_precision_mode;
    char             *binary_handling_mode;
    char             *interval_handling_mode;
    bool              tombstones_on_delete;
    char             *skipped_operations;
    int               heartbeat_interval_ms;
    char             *heartbeat_action_query;
    bool              provide_transaction_metadata;
    char             *unavailable_value_placeholder;
    char             *message_key_columns;
    char             *schema_name_adjustment_mode;
    char             *column_include_list;   /* Debezium regex lists, schema.table.column */
    char             *column_exclude_list;
    cfg_strmap        column_masks;          /* Debezium property name -> column regex list */
    cfg_strmap        row_filters;           /* "schema.table" -> SQL condition (PG 15+) */
    char             *column_propagate_source_type;   /* regexes, schema.table.column */
    char             *datatype_propagate_source_type; /* regexes, schema.table.typname */
    /* Debezium table.include.list ... schema.exclude.list: regex lists resolved at start to
       tables (agent/source/tablepat.c); not with tables */
    char             *table_include_list, *table_exclude_list;
    char             *schema_include_list, *schema_exclude_list;
    int               table_pattern_check_ms; /* catalog re-read for new matching tables; 0: start only */
    int               money_fraction_digits;
    /* accepted for the platform's other source types; unused */
    int               mysql_server_id;
    char             *replica_set_name;
    char             *auth_source;
} cfg_source;

typedef struct cfg_retry {
    int    max_attempts;
    double initial_wait_seconds;
    double max_wait_seconds;
    double multiplier;
    bool   jitter;
} cfg_retry;

typedef struct cfg_webhook {
    char      *url;
    char      *method;                   /* POST, PUT or PATCH */
    cfg_strmap headers;
    double     timeout_seconds;
    char      *auth_token;
    bool       ssl_verify;               /* verify the server's certificate and host name */
    char      *ssl_ca_location;          /* CA bundle (PEM); empty = the system's */
    char      *ssl_certificate_location; /* client certificate (PEM) */
    char      *ssl_key_location;         /* client key (PEM) */
    char      *ssl_key_password;
    int        batch_size;               /* events per request; 1: one object each */
    int        batch_timeout_ms;         /* longest wait filling a batch */
    int        max_in_flight;            /* concurrent requests */
} cfg_webhook;

typedef struct cfg_pg_sink {
    char            *host;
    int              port;
    char            *database;
    char            *username;
    char            *password;
    char            *target_table;
    int              batch_size;
    bool             upsert;
    cfg_pg_sink_mode mode;
} cfg_pg_sink;

typedef struct cfg_iceberg_maintenance {
    bool   enabled;
    double expire_snapshots_interval_seconds;
    double expire_snapshots_older_than_seconds;
    double compaction_interval_seconds;
    int    compaction_file_threshold;
    int    compaction_max_rows_per_batch;
} cfg_iceberg_maintenance;

typedef struct cfg_iceberg {
    char                   *catalog_name;
    char                   *catalog_uri;
    char                   *warehouse;
    char                   *table_namespace;
    char                   *table_name;
    char                   *write_mode;  /* append or upsert */
    int                     batch_size;
    bool                    auto_create_table;
    char                  **partition_by;
    int                     npartition_by;
    char                   *s3_endpoint;
    char                   *s3_access_key_id;
    char                   *s3_secret_access_key;
    char                   *s3_region;
    char                   *rest_credential;   /* OAuth2 client_id:client_secret (secret) */
    char                   *rest_token;        /* a bearer token (secret) */
    char                   *rest_scope;
    char                   *rest_oauth2_server_uri;
    cfg_iceberg_maintenance maintenance;
    double                  flush_interval_seconds;
    int                     write_executor_threads;
} cfg_iceberg;

typedef struct cfg_jsonl {
    char *path;                          /* "-" is stdout */
    bool  fsync;
    int   flush_interval_ms;
} cfg_jsonl;

/* Only the member named by sink_type was given; the others hold defaults. */
typedef struct cfg_sink {
    char         *sink_id;
    cfg_sink_type sink_type;
    bool          enabled;
    cfg_retry     retry;                 /* platform retry.*, overridden per key */
    cfg_webhook   webhook;
    cfg_pg_sink   postgres;
    cfg_iceberg   iceberg;
    cfg_jsonl     jsonl;
} cfg_sink;

typedef struct cfg_pipeline {
    char      *pipeline_id;
    char      *topic_prefix;
    cfg_source source;
    cfg_sink  *sinks;
    int        nsinks;
} cfg_pipeline;

typedef struct cfg_kafka {
    char      *bootstrap_servers;
    char      *schema_registry_url;
    char      *group_id;
    char      *auto_offset_reset;
    bool       enable_idempotence;
    char      *acks;
    int        topic_num_partitions;
    int        topic_replication_factor;
    int        session_timeout_ms;
    int        max_poll_interval_ms;
    int        fetch_min_bytes;
    int        fetch_max_wait_ms;
    int        poll_batch_size;
    int        deser_pool_size;
    double     commit_interval_seconds;
    char      *security_protocol;
    char      *auth_mechanism;
    char      *sasl_username;
    char      *sasl_password;
    char      *ssl_ca_location;
    char      *ssl_certificate_location;
    char      *ssl_key_location;
    char      *aws_region;
    char      *gcp_project_id;
    cfg_strmap properties;               /* passed to rd_kafka_conf_set as they are */
    int        serialization;            /* cfg_serialization */
    bool       json_schemas_enable;
    char      *debezium_version;         /* compat profile, "2.7" */
    char      *schema_registry_username;
    char      *schema_registry_password;
    char      *schema_registry_ca_location;
    char      *schema_registry_certificate_location;   /* client certificate (mutual TLS) */
    char      *schema_registry_key_location;
} cfg_kafka;

typedef struct cfg_connector {
    char  *connect_url;
    double timeout_seconds;
    int    retry_max_attempts;
    double retry_wait_seconds;
} cfg_connector;

typedef struct cfg_dlq {
    bool   enabled;
    char  *topic_suffix;
    int    max_retries;
    bool   include_headers;
    double flush_interval_seconds;
    char  *path;                  /* direct mode: the dead-letter JSON-lines file */
    char  *postgres_conninfo;     /* direct mode: dead letters into a PostgreSQL table instead */
    char  *postgres_table;
} cfg_dlq;

typedef struct cfg_pubsub {
    char *project_id;
    bool  ordering_enabled;
    int   ack_deadline_seconds;
    int   max_messages_per_pull;
    char *group_id;
    int   max_outstanding_messages;
    int   max_delivery_attempts;
    int   serialization;            /* cfg_serialization; json by default, as Debezium Server */
    bool  json_schemas_enable;
} cfg_pubsub;

typedef struct cfg_kinesis {
    char  *region;
    int    shard_count;
    char  *group_id;
    char  *iterator_type;
    char  *checkpoint_table_name;
    double poll_interval_seconds;
    int    max_records_per_shard;
    char  *dlq_stream_suffix;
    int    dlq_shard_count;
    int    checkpoint_ttl_seconds;
    int    serialization;           /* cfg_serialization; json by default, as Debezium Server */
    bool   json_schemas_enable;
} cfg_kinesis;

typedef struct cfg_wal_reader {
    char  *publication_name;
    char  *slot_name;
    double status_interval_seconds;
    int    batch_size;
    double batch_timeout_seconds;
    int    max_retries;
} cfg_wal_reader;

typedef struct cfg_agent {
    double         status_interval_seconds;
    cdc_level      log_level;
    cfg_log_format log_format;
    int            memory_limit_mb;
    int            max_value_mb;         /* largest column value accepted */
    char          *spill_dir;            /* "" means $TMPDIR, else /tmp */
    char          *state_dir;            /* agent/pipeline/state.h's records; "" = working directory */
    double         shutdown_timeout_seconds;
    char          *stop_lsn;             /* "" or "X/Y" */
    int            reconnect_max_attempts; /* 0 = forever */
} cfg_agent;

typedef struct cfg_platform {
    cfg_transport_mode transport_mode;
    cfg_kafka          kafka;
    cfg_connector      connector;
    cfg_pubsub         pubsub;
    cfg_kinesis        kinesis;
    cfg_wal_reader     wal_reader;
    cfg_dlq            dlq;
    cfg_retry          retry;
    int                max_buffered_messages;
    double             schema_monitor_interval_seconds;
    double             lag_monitor_interval_seconds;
    bool               stop_on_incompatible_schema;
    int                health_port;
    bool               health_enabled;
    cfg_agent          agent;
} cfg_platform;

typedef struct cdc_config {
    cfg_pipeline pipeline;
    cfg_platform platform;
    char        *pipeline_path, *platform_path; /* platform_path NULL: built-in defaults */
} cdc_config;

/**
 * Reads both files into @p cfg (zeroed first), then cfg_validate()s it.
 * @param platform_path  NULL for the built-in platform defaults.
 * @returns 0, or -1 with err set (CDC_E_CONFIG, CDC_E_UNSUPPORTED, CDC_E_IO)
 *          and @p cfg freed.  The caller cfg_free()s a loaded config.
 * @thread any; reads the environment.
 */
int  cfg_load(cdc_config *cfg, const char *pipeline_path, const char *platform_path, cdc_err *err);

/* cfg_load() without cfg_validate(): what `cdcagent validate` and the tests use. */
int  cfg_parse(cdc_config *cfg, const char *pipeline_path, const char *platform_path, cdc_err *err);

/**
 * Checks that this build can run @p cfg: a PostgreSQL source, the direct
 * transport, enabled sinks of built types.  The one place to lift a
 * "not supported yet" when a transport or sink lands.
 * @returns 0, or -1 with err set (CDC_E_UNSUPPORTED or CDC_E_CONFIG).
 */
int  cfg_validate(const cdc_config *cfg, cdc_err *err);

/* PostgreSQL's longest identifier, in bytes (NAMEDATALEN - 1). */
#define CFG_NAME_MAX 63

/*
 * Splits a source.tables entry into the schema and table names as the
 * catalog holds them.  Each part is written either as it is (any characters
 * but '.' and '"', case kept) or in SQL's double quotes with "" for a quote:
 * my schema.my table, public."my.table", "a""b".t, public.Café.
 * @param schema, table  at least CFG_NAME_MAX + 1 bytes each.
 * @returns NULL, or what is wrong with the entry (a static string).
 */
const char *cfg_table_split(const char *spelled, char *schema, char *table);

/* Whether tables are chosen by pattern (source.table_include_list and the like). */
bool cfg_source_by_pattern(const cfg_source *s);

/* The source.row_filters condition of schema.table, or NULL. */
const char *cfg_row_filter(const cfg_source *s, const char *schema, const char *table);

/* Frees every string and array; the struct is zeroed.  NULL is a no-op. */
void cfg_free(cdc_config *cfg);

/* Markdown reference of every key (type, default, description): docs/configuration.md. */
void cfg_print_reference(FILE *out);

/* libpq PQconnectdbParams() arrays for the source; keys and vals end with NULL. */
#define CFG_CONN_MAX_PARAMS 16
#define CFG_HOSTS_MAX 1024              /* source.host, as libpq's host list */
typedef struct cfg_conn_params {
    const char *keys[CFG_CONN_MAX_PARAMS];
    const char *vals[CFG_CONN_MAX_PARAMS];  /* borrowed from the cfg_source, or below */
    char        host[CFG_HOSTS_MAX];        /* "a,b" */
    char        port[CFG_HOSTS_MAX / 4];    /* "5432,5433" */
} cfg_conn_params;

/**
 * source.host as libpq's lists: "a" or several, "a:5432,b:5433,[::1]:5434";
 * a host without ":port" takes @p port.  @p hosts gets "a,b,::1", @p ports
 * "5432,5433,5434".  @returns NULL, or why the value is not such a list.
 */
const char *cfg_host_list(const char *spelled, int port, char *hosts, size_t hsz, char *ports,
                          size_t psz, int *nhosts);

/**
 * Fills @p p for @p s: host, port, dbname, user, password, the ssl* keys that
 * are set, application_name=cdcagent, session options that fix the text
 * form of values, and replication=database when @p replication.  Several
 * hosts (cfg_host_list) go to libpq as its lists, with target_session_attrs
 * read-write unless source.target_session_attrs says otherwise, so that a
 * reconnection finds the primary after a failover.
 * @returns the number of pairs.  @p p borrows from @p s: keep s alive.
 */
int  cfg_source_conn_params(const cfg_source *s, bool replication, cfg_conn_params *p);

const char *cfg_sink_type_name(cfg_sink_type t);
const char *cfg_transport_mode_name(cfg_transport_mode m);

/* retry.* (seconds) as the backoff rule of agent/core/cdc_retry.h takes it (ms). */
cdc_retry_conf cfg_retry_conf(const cfg_retry *r);

#endif
