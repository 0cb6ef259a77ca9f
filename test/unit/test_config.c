/*
 * Unit tests for agent/config/config.c: the platform's documented examples load,
 * every key is read, defaults hold without a platform file, ${VAR}
 * substitution, and each malformed configuration fails with the file, line,
 * column and key path it is about.  Bad configurations are inline YAML (so
 * the expected line:col can be read off the case) written to a temporary
 * pipeline.yaml / platform.yaml; good ones are test/fixtures/config/.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/config/config.h"
#include "agent/config/config_int.h"

#define FIX(name) CDC_FIXTURES "/config/" name
#define DOC_PATH  CDC_FIXTURES "/../../docs/configuration.md"

/* A valid pipeline; lines 1-5, so case text appended starts at line 6 inside source:. */
#define PL_HEAD "pipeline_id: p\nsource:\n  database: d\n  password: s3cr3t-pw\n  tables: [public.t]\n"
#define PL_SECRET "s3cr3t-pw"

static char tmpdir[64];

static void
tmp_setup(void)
{
    strcpy(tmpdir, "/tmp/cdc_cfg_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
tmp_teardown(void)
{
    char path[128];

    snprintf(path, sizeof(path), "%s/pipeline.yaml", tmpdir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/platform.yaml", tmpdir);
    unlink(path);
    rmdir(tmpdir);
}

/* Writes text to <tmpdir>/<name> and returns the path (static per name). */
static const char *
write_tmp(const char *name, const char *text)
{
    static char paths[2][128];
    char       *path = paths[strcmp(name, "platform.yaml") == 0];
    FILE       *f;

    snprintf(path, 128, "%s/%s", tmpdir, name);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* ---- malformed configurations: cfg_parse() must name file:line:col and key ---- */

typedef struct bad_case {
    const char *pipeline;   /* pipeline.yaml text */
    const char *platform;   /* platform.yaml text, or NULL for none */
    const char *expect;     /* substring of the message, from the file name on */
} bad_case;

static const bad_case bad_cases[] = {
    /* keys */
    { PL_HEAD "bogus: 1\n", NULL, "pipeline.yaml:6:1: bogus: unknown key" },
    { PL_HEAD "  hostname: x\n", NULL, "pipeline.yaml:6:3: source.hostname: unknown key" },
    { PL_HEAD "source.port: 5\n", NULL, "pipeline.yaml:6:1: source.port: unknown key" },
    { PL_HEAD "  port: 1\n  port: 2\n", NULL,
      "pipeline.yaml:7:3: source.port: duplicate key (first at line 6)" },
    { PL_HEAD "pipeline_id: q\n", NULL,
      "pipeline.yaml:6:1: pipeline_id: duplicate key (first at line 1)" },
    /* platform keys in a pipeline file */
    { PL_HEAD "kafka:\n  acks: all\n", NULL,
      "pipeline.yaml:6:1: kafka: is a platform setting; it belongs in platform.yaml" },
    { PL_HEAD "connector: {}\n", NULL, "pipeline.yaml:6:1: connector: is a platform setting" },
    { PL_HEAD "dlq: {enabled: false}\n", NULL, "pipeline.yaml:6:1: dlq: is a platform setting" },
    { PL_HEAD "retry: {max_attempts: 1}\n", NULL,
      "pipeline.yaml:6:1: retry: is a platform setting" },
    { PL_HEAD "transport_mode: direct\n", NULL,
      "pipeline.yaml:6:1: transport_mode: is a platform setting" },
    { PL_HEAD "health_port: 1\n", NULL, "pipeline.yaml:6:1: health_port: is a platform setting" },
    /* required */
    { "pipeline_id: p\nsource:\n  tables: [public.t]\n", NULL,
      "pipeline.yaml:2:1: source.database: required key is missing" },
    { "source:\n  database: d\n  tables: [a.b]\n", NULL,
      "pipeline.yaml:1:1: pipeline_id: required key is missing" },
    { "pipeline_id: p\n", NULL, "pipeline.yaml:1:1: source: required section is missing" },
    { "", NULL, "pipeline.yaml:1:1: pipeline_id: required key is missing" },
    { "pipeline_id: p\nsource:\n  database: ~\n  tables: [a.b]\n", NULL,
      "pipeline.yaml:3:13: source.database: a value is required here, got null" },
    /* types and ranges */
    { PL_HEAD "  port: abc\n", NULL,
      "pipeline.yaml:6:9: source.port: expected an integer, got \"abc\"" },
    { PL_HEAD "  port: 5432.0\n", NULL,
      "pipeline.yaml:6:9: source.port: expected an integer, got \"5432.0\"" },
    { PL_HEAD "  port: 70000\n", NULL,
      "pipeline.yaml:6:9: source.port: must be between 1 and 65535, got \"70000\"" },
    { PL_HEAD "  port: [1]\n", NULL,
      "pipeline.yaml:6:9: source.port: expected an integer, got a list" },
    { PL_HEAD "  money_fraction_digits: 1e2\n", NULL,
      "pipeline.yaml:6:26: source.money_fraction_digits: expected an integer, got \"1e2\"" },
    { PL_HEAD "  heartbeat_interval_ms: -1\n", NULL,
      "pipeline.yaml:6:26: source.heartbeat_interval_ms: must be at least 0, got \"-1\"" },
    { PL_HEAD "  tombstones_on_delete: maybe\n", NULL,
      "pipeline.yaml:6:25: source.tombstones_on_delete: expected true or false, got \"maybe\"" },
    { PL_HEAD "  provide_transaction_metadata: 1\n", NULL,
      "pipeline.yaml:6:33: source.provide_transaction_metadata: expected true or false, "
      "got \"1\"" },
    { "pipeline_id: p\nsource:\n  database: d\n  tables: [a.b]\n  password: [s3cr3t-pw]\n", NULL,
      "pipeline.yaml:5:13: source.password: expected a string, got a list" },
    /* enumerations and value checks */
    { PL_HEAD "  snapshot_mode: sometimes\n", NULL,
      "pipeline.yaml:6:18: source.snapshot_mode: must be one of: initial, initial_only, never, "
      "no_data, when_needed, always, got \"sometimes\"" },
    { PL_HEAD "  sslmode: maybe\n", NULL, "pipeline.yaml:6:12: source.sslmode: must be one of: " },
    { PL_HEAD "  decimal_handling_mode: exact\n", NULL,
      "pipeline.yaml:6:26: source.decimal_handling_mode: must be one of: precise, double, "
      "string, got \"exact\"" },
    { PL_HEAD "  source_type: oracle\n", NULL,
      "pipeline.yaml:6:16: source.source_type: must be one of: postgres, mysql, mongodb, "
      "sqlserver, got \"oracle\"" },
    { PL_HEAD "  slot_name: Bad-Slot\n", NULL,
      "pipeline.yaml:6:14: source.slot_name: must be 1 to 63 characters of a-z, 0-9 and _" },
    { PL_HEAD "  slot_name: "
              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", NULL,
      "pipeline.yaml:6:14: source.slot_name: must be 1 to 63 characters" },
    { PL_HEAD "  skipped_operations: x\n", NULL,
      "pipeline.yaml:6:23: source.skipped_operations: must be \"none\" or a comma-separated "
      "list of c, u, d, t, got \"x\"" },
    { PL_HEAD "  message_key_columns: public.t\n", NULL,
      "pipeline.yaml:6:24: source.message_key_columns: must be \"schema.table:col1,col2;" },
    { PL_HEAD "topic_prefix: 1abc\n", NULL,
      "pipeline.yaml:6:15: topic_prefix: must start with a letter" },
    /* tables */
    { "pipeline_id: p\nsource:\n  database: d\n  tables: []\n", NULL,
      "pipeline.yaml:4:3: source.tables: at least one table is required" },
    { "pipeline_id: p\nsource:\n  database: d\n", NULL,
      "pipeline.yaml:2:1: source.tables: at least one table is required" },
    { "pipeline_id: p\nsource:\n  database: d\n  tables:\n    - customers\n", NULL,
      "pipeline.yaml:5:7: source.tables[0]: must be schema-qualified" },
    { "pipeline_id: p\nsource:\n  database: d\n  tables: [public.t, a.b.c]\n", NULL,
      "pipeline.yaml:4:22: source.tables[1]: has more than one '.': quote a schema or table "
      "name that contains a dot, e.g. public.\"my.table\"" },
    { "pipeline_id: p\nsource:\n  database: d\n  tables: ['\"open.t']\n", NULL,
      "pipeline.yaml:4:12: source.tables[0]: has a double quote that is not closed" },
    { "pipeline_id: p\nsource:\n  database: d\n  tables: ['public.a\"b']\n", NULL,
      "pipeline.yaml:4:12: source.tables[0]: has a double quote inside an unquoted name" },
    { "pipeline_id: p\nsource:\n  database: d\n  tables: ['\"a\"x.t']\n", NULL,
      "pipeline.yaml:4:12: source.tables[0]: has text after a quoted name" },
    { "pipeline_id: p\nsource:\n  database: d\n  tables: ['public. t']\n", NULL,
      "pipeline.yaml:4:12: source.tables[0]: has a name that starts or ends with white space" },
    { "pipeline_id: p\nsource:\n  database: d\n  tables: ['public.\"\"']\n", NULL,
      "pipeline.yaml:4:12: source.tables[0]: has an empty quoted name" },
    { "pipeline_id: p\nsource:\n  database: d\n  tables: [public.t, 'public.\"t\"']\n", NULL,
      "pipeline.yaml:4:3: source.tables: \"public.t\" and \"public.\"t\"\" name the same table" },
    { "pipeline_id: p\nsource:\n  database: d\n  tables: public.t\n", NULL,
      "pipeline.yaml:4:11: source.tables: expected a list, got a scalar" },
    /* sinks */
    { PL_HEAD "sinks:\n"
              "  - sink_id: a\n"
              "    sink_type: jsonl\n"
              "    jsonl: {path: out.jsonl}\n"
              "  - sink_id: b\n"
              "    sink_type: webhook\n"
              "    webhook:\n"
              "      url: http://x\n"
              "      timeout_seconds: ten\n", NULL,
      "pipeline.yaml:14:24: sinks[1].webhook.timeout_seconds: expected a number, got \"ten\"" },
    { PL_HEAD "sinks:\n  - sink_id: a\n    sink_type: kafka\n", NULL,
      "pipeline.yaml:8:16: sinks[0].sink_type: must be one of: webhook, postgres, iceberg, "
      "jsonl, got \"kafka\"" },
    { PL_HEAD "sinks:\n  - sink_id: a\n    sink_type: jsonl\n    jsonl: {path: x}\n"
              "    webhook: {url: http://x}\n", NULL,
      "pipeline.yaml:10:5: sinks[0].webhook: section does not match sink_type jsonl" },
    { PL_HEAD "sinks:\n  - sink_id: a\n    sink_type: jsonl\n", NULL,
      "pipeline.yaml:7:5: sinks[0].jsonl: required for sink_type jsonl" },
    { PL_HEAD "sinks:\n  - sink_type: jsonl\n    jsonl: {path: x}\n", NULL,
      "pipeline.yaml:7:5: sinks[0].sink_id: required key is missing" },
    /* the state record keeps 127 bytes of a sink_id (agent/pipeline/state.h) */
    { PL_HEAD "sinks:\n  - sink_id: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
              "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n    sink_type: jsonl\n    jsonl: {path: x}\n", NULL,
      "pipeline.yaml:7:14: sinks[0].sink_id: is longer than 127 bytes" },
    { PL_HEAD "sinks:\n  - sink_id: a\n    sink_type: jsonl\n    jsonl: {fsync: true}\n", NULL,
      "pipeline.yaml:9:5: sinks[0].jsonl.path: required key is missing" },
    { PL_HEAD "sinks:\n  - {sink_id: a, sink_type: jsonl, jsonl: {path: x}}\n"
              "  - {sink_id: a, sink_type: jsonl, jsonl: {path: y}}\n", NULL,
      "pipeline.yaml:8:6: sinks[1].sink_id: duplicate sink_id \"a\" (first at line 7)" },
    { PL_HEAD "sinks: {a: 1}\n", NULL, "pipeline.yaml:6:8: sinks: expected a list, got a mapping" },
    { PL_HEAD "sinks: [x]\n", NULL, "pipeline.yaml:6:9: sinks[0]: expected a mapping, got a scalar" },
    { PL_HEAD "sinks:\n  - sink_id: w\n    sink_type: webhook\n    webhook:\n"
              "      url: http://x\n      headers: [a]\n", NULL,
      "pipeline.yaml:11:16: sinks[0].webhook.headers: expected a mapping, got a list" },
    { PL_HEAD "sinks:\n  - sink_id: w\n    sink_type: webhook\n    webhook:\n"
              "      url: http://x\n      headers: {A: x, A: y}\n", NULL,
      "pipeline.yaml:11:23: sinks[0].webhook.headers.A: duplicate key" },
    { PL_HEAD "sinks:\n  - sink_id: w\n    sink_type: webhook\n    webhook:\n"
              "      url: http://x\n      method: GET\n", NULL,
      "pipeline.yaml:11:15: sinks[0].webhook.method: must be one of: POST, PUT, PATCH, "
      "got \"GET\"" },
    { PL_HEAD "sinks:\n  - sink_id: pg\n    sink_type: postgres\n    postgres:\n"
              "      database: a\n      target_table: public.t\n      batch_size: 1.5\n", NULL,
      "pipeline.yaml:12:19: sinks[0].postgres.batch_size: expected an integer, got \"1.5\"" },
    { PL_HEAD "sinks:\n  - sink_id: pg\n    sink_type: postgres\n    postgres:\n"
              "      database: a\n      target_table: cdc_events\n", NULL,
      "pipeline.yaml:11:21: sinks[0].postgres.target_table: must be schema-qualified" },
    { PL_HEAD "sinks:\n  - sink_id: lake\n    sink_type: iceberg\n    iceberg:\n"
              "      warehouse: w\n      table_name: t\n", NULL,
      "pipeline.yaml:9:5: sinks[0].iceberg.catalog_uri: required key is missing" },
    { PL_HEAD "sinks:\n  - sink_id: lake\n    sink_type: iceberg\n    iceberg:\n"
              "      catalog_uri: c\n      warehouse: w\n      table_name: t\n"
              "      maintenance: yes\n", NULL,
      "pipeline.yaml:13:20: sinks[0].iceberg.maintenance: expected a mapping, got a scalar" },
    { PL_HEAD "sinks:\n  - sink_id: lake\n    sink_type: iceberg\n    iceberg:\n"
              "      catalog_uri: c\n      warehouse: w\n      table_name: t\n"
              "      write_mode: merge\n", NULL,
      "pipeline.yaml:13:19: sinks[0].iceberg.write_mode: must be one of: append, upsert" },
    { PL_HEAD "sinks:\n  - sink_id: a\n    sink_type: jsonl\n    jsonl: {path: x}\n"
              "    retry: {max_attempts: 0}\n", NULL,
      "pipeline.yaml:10:27: sinks[0].retry.max_attempts: must be at least 1, got \"0\"" },
    /* environment */
    { "pipeline_id: p\nsource:\n  database: ${CDC_TEST_SURELY_UNSET}\n  tables: [a.b]\n", NULL,
      "pipeline.yaml:3:13: source.database: environment variable CDC_TEST_SURELY_UNSET is "
      "not set" },
    { PL_HEAD "sinks:\n  - sink_id: w\n    sink_type: webhook\n    webhook:\n"
              "      url: \"${CDC_TEST_SURELY_UNSET}/x\"\n", NULL,
      "pipeline.yaml:10:12: sinks[0].webhook.url: environment variable CDC_TEST_SURELY_UNSET" },
    /* documents */
    { "- a\n- b\n", NULL, "pipeline.yaml:1:1: expected a mapping of keys at the top, got a list" },
    { PL_HEAD "---\npipeline_id: q\n", NULL, "pipeline.yaml:6:1: only one YAML document is allowed" },
    { "pipeline_id: p\nsource: [unclosed\n", NULL, "pipeline.yaml:3:1: invalid YAML: " },
    { "pipeline_id: p\n\tsource: {}\n", NULL, "pipeline.yaml:2:1: invalid YAML: " },

    /* platform.yaml */
    { PL_HEAD, "transport_mode: embedded\n",
      "platform.yaml:1:17: transport_mode: must be one of: kafka, pubsub, kinesis, direct, "
      "got \"embedded\"" },
    { PL_HEAD, "kafka:\n  bootstrap: x\n", "platform.yaml:2:3: kafka.bootstrap: unknown key" },
    { PL_HEAD, "health_port: abc\n",
      "platform.yaml:1:14: health_port: expected an integer, got \"abc\"" },
    { PL_HEAD, "source:\n  database: d\n",
      "platform.yaml:1:1: source: is a pipeline setting; it belongs in pipeline.yaml" },
    { PL_HEAD, "sinks: []\n", "platform.yaml:1:1: sinks: is a pipeline setting" },
    { PL_HEAD, "agent:\n  log_level: verbose\n",
      "platform.yaml:2:14: agent.log_level: must be one of: debug, info, warn, error, "
      "got \"verbose\"" },
    { PL_HEAD, "agent:\n  log_format: xml\n",
      "platform.yaml:2:15: agent.log_format: must be one of: auto, text, json" },
    { PL_HEAD, "agent:\n  memory_limit_mb: 0\n",
      "platform.yaml:2:20: agent.memory_limit_mb: must be at least 1, got \"0\"" },
    { PL_HEAD, "agent:\n  stop_lsn: zz\n",
      "platform.yaml:2:13: agent.stop_lsn: must be an LSN such as 0/16B3748, or empty" },
    { PL_HEAD, "agent:\n  status_interval_seconds: fast\n",
      "platform.yaml:2:28: agent.status_interval_seconds: expected a number, got \"fast\"" },
    { PL_HEAD, "agent: [1]\n", "platform.yaml:1:8: agent: expected a mapping, got a list" },
    { PL_HEAD, "agent:\n  workers: 4\n", "platform.yaml:2:3: agent.workers: unknown key" },
    { PL_HEAD, "dlq:\n  topic_suffix: \"\"\n",
      "platform.yaml:2:17: dlq.topic_suffix: must not be empty" },
    { PL_HEAD, "retry:\n  multiplier: 0.5\n",
      "platform.yaml:2:15: retry.multiplier: must be at least 1, got \"0.5\"" },
    { PL_HEAD, "retry:\n  jitter: maybe\n",
      "platform.yaml:2:11: retry.jitter: expected true or false, got \"maybe\"" },
    { PL_HEAD, "schema_monitor_interval_seconds: 0\n",
      "platform.yaml:1:34: schema_monitor_interval_seconds: must be greater than 0, got \"0\"" },
    { PL_HEAD, "max_buffered_messages: 1.5\n",
      "platform.yaml:1:24: max_buffered_messages: expected an integer, got \"1.5\"" },
    { PL_HEAD, "transport_mode: pubsub\nwal_reader: {}\n",
      "platform.yaml:1:1: pubsub: section required when transport_mode is pubsub" },
    { PL_HEAD, "transport_mode: kinesis\nkinesis: {}\n",
      "platform.yaml:1:1: wal_reader: section required when transport_mode is kinesis" },
    { PL_HEAD, "transport_mode: pubsub\npubsub:\n  ordering_enabled: true\nwal_reader: {}\n",
      "platform.yaml:2:1: pubsub.project_id: required key is missing" },
    { PL_HEAD, "pubsub:\n  project_id: x\n  ack_deadline_seconds: 601\n",
      "platform.yaml:3:25: pubsub.ack_deadline_seconds: must be between 10 and 600, got \"601\"" },
    { PL_HEAD, "kafka:\n  auth_mechanism: sasl_iam\n",
      "platform.yaml:2:3: kafka.aws_region: required when auth_mechanism is sasl_iam" },
    { PL_HEAD, "kafka:\n  auth_mechanism: sasl_plain\n  sasl_username: u\n",
      "platform.yaml:2:3: kafka.sasl_username: sasl_username and sasl_password are required" },
    { PL_HEAD, "kafka:\n  properties:\n    linger.ms: [5]\n",
      "platform.yaml:3:16: kafka.properties.linger.ms: expected a string, got a list" },
    { PL_HEAD, "kafka:\n  sasl_password: [x]\n",
      "platform.yaml:2:18: kafka.sasl_password: expected a string, got a list" },
    { PL_HEAD, "kafka:\n  acks: 2\n", "platform.yaml:2:9: kafka.acks: must be one of: all, -1, 0, 1" },
    { PL_HEAD, "wal_reader:\n  slot_name: Slot\n",
      "platform.yaml:2:14: wal_reader.slot_name: must be 1 to 63 characters" },
};

/* source.tables spellings: plain, SQL-quoted, and what each names in the catalog. */
START_TEST(table_names)
{
    static const struct { const char *in, *schema, *table; } ok[] = {
        { "public.customers", "public", "customers" },
        { "public.Customers", "public", "Customers" },           /* case kept */
        { "my schema.my table", "my schema", "my table" },
        { "\"my schema\".\"my table\"", "my schema", "my table" },
        { "public.\"my.table\"", "public", "my.table" },
        { "\"a\"\"b\".\"c\"\"\"", "a\"b", "c\"" },
        { "public.Café", "public", "Café" },
        { "\"sch.x\".t", "sch.x", "t" },
        { "\"\"\"\".\".\"", "\"", "." },
    };
    static const char *const bad[] = {
        "customers", ".t", "s.", "a.b.c", "\"a.b", "a.\"b", "a.b\"c", "\"\".t", "\"a\"b.t",
        "a.\"b\"c", " a.b", "a.b ",
        "s.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",   /* 64 bytes */
    };
    char schema[CFG_NAME_MAX + 1], table[CFG_NAME_MAX + 1];

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        const char *why = cfg_table_split(ok[i].in, schema, table);

        ck_assert_msg(why == NULL, "%s: %s", ok[i].in, why);
        ck_assert_str_eq(schema, ok[i].schema);
        ck_assert_str_eq(table, ok[i].table);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(cfg_table_split(bad[i], schema, table) != NULL, "accepted: %s", bad[i]);
    /* 63 bytes is PostgreSQL's limit, and fits */
    ck_assert_ptr_null(cfg_table_split(
        "s.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", schema, table));
}
END_TEST

START_TEST(rejects_bad_config)
{
    const bad_case *bc = &bad_cases[_i];
    const char     *pl = write_tmp("pipeline.yaml", bc->pipeline);
    const char     *pf = bc->platform ? write_tmp("platform.yaml", bc->platform) : NULL;
    cdc_config      cfg;
    cdc_err         err = { 0 };

    ck_assert_int_eq(cfg_parse(&cfg, pl, pf, &err), -1);
    ck_assert_msg(err.code == CDC_E_CONFIG, "case %d: code %s: %s", _i, cdc_rc_name(err.code),
                  err.msg);
    ck_assert_msg(strstr(err.msg, bc->expect) != NULL, "case %d:\n  want: %s\n  got:  %s", _i,
                  bc->expect, err.msg);
    ck_assert_msg(strncmp(err.msg, tmpdir, strlen(tmpdir)) == 0, "no file path: %s", err.msg);
    ck_assert_msg(strstr(err.msg, PL_SECRET) == NULL, "secret in message: %s", err.msg);
    ck_assert_ptr_null(cfg.pipeline_path);   /* freed on failure */
}
END_TEST

/* ---- well-formed but not runnable by this build: cfg_load() ---- */

typedef struct load_case {
    const char *pipeline;
    const char *platform;   /* NULL: built-in defaults */
    cdc_rc      code;       /* CDC_OK: loads */
    const char *expect;
} load_case;

#define JSONL_SINK "sinks:\n  - {sink_id: out, sink_type: jsonl, jsonl: {path: \"-\"}}\n"
#define DIRECT     "transport_mode: direct\n"

static const load_case load_cases[] = {
    { PL_HEAD JSONL_SINK, NULL, CDC_OK, NULL },   /* kafka, the default, publishes only */
    { PL_HEAD, NULL, CDC_OK, NULL },              /* ... and needs no sink */
    { PL_HEAD JSONL_SINK, "transport_mode: kinesis\nkinesis: {}\nwal_reader: {}\n", CDC_OK,
      NULL },                                     /* kinesis publishes only, like kafka */
    { PL_HEAD JSONL_SINK, "transport_mode: pubsub\npubsub: {project_id: p}\nwal_reader: {}\n",
      CDC_OK, NULL },                             /* pubsub publishes only, like kafka */
    { PL_HEAD "sinks:\n  - {sink_id: wh, sink_type: webhook, webhook: {url: http://x}}\n", DIRECT,
      CDC_OK, NULL },
    { PL_HEAD "sinks:\n  - {sink_id: pg, sink_type: postgres, postgres: {host: h, database: d}}\n", DIRECT,
      CDC_E_CONFIG, "pipeline.yaml: sinks[0] (sink_id pg): postgres.target_table is required "
      "with mode event_log" },
    { PL_HEAD "sinks:\n  - {sink_id: pg, sink_type: postgres, postgres: {host: h, database: d, mode: replica}}\n",
      DIRECT, CDC_OK, NULL },
    { PL_HEAD JSONL_SINK "  - {sink_id: lake, sink_type: iceberg, iceberg: "
      "{catalog_uri: c, warehouse: w, table_name: t}}\n", DIRECT, CDC_OK, NULL },
    { "pipeline_id: p\nsource:\n  database: d\n  password: x\n  tables: [public.a, public.b]\n"
      "sinks:\n  - {sink_id: lake, sink_type: iceberg, iceberg: "
      "{catalog_uri: c, warehouse: w, table_name: t}}\n", DIRECT, CDC_E_CONFIG,
      "pipeline.yaml: sinks[0] (sink_id lake): iceberg.table_name (t) names one table, but "
      "source.tables captures 2: leave table_name out to get one Iceberg table per source table "
      "(<schema>_<table>)" },
    { "pipeline_id: p\nsource:\n  database: d\n  password: x\n  tables: [public.a, public.b]\n"
      "sinks:\n  - {sink_id: lake, sink_type: iceberg, iceberg: "
      "{catalog_uri: c, warehouse: w}}\n", DIRECT, CDC_OK, NULL },
    { PL_HEAD "sinks:\n  - {sink_id: out, sink_type: jsonl, enabled: false, jsonl: {path: x}}\n",
      DIRECT, CDC_E_CONFIG, "pipeline.yaml: sinks: transport_mode direct needs at least one "
      "enabled sink" },
    { PL_HEAD, DIRECT, CDC_E_CONFIG, "needs at least one enabled sink" },
    { PL_HEAD "  source_type: mysql\n" JSONL_SINK, DIRECT, CDC_E_UNSUPPORTED,
      "pipeline.yaml: source.source_type: mysql is not supported: cdcagent captures "
      "PostgreSQL only" },
    { PL_HEAD JSONL_SINK, DIRECT, CDC_OK, NULL },
    { PL_HEAD JSONL_SINK "  - {sink_id: wh, sink_type: webhook, enabled: no, "
      "webhook: {url: http://x}}\n", DIRECT, CDC_OK, NULL },
};

START_TEST(load_validates)
{
    const load_case *lc = &load_cases[_i];
    const char      *pl = write_tmp("pipeline.yaml", lc->pipeline);
    const char      *pf = lc->platform ? write_tmp("platform.yaml", lc->platform) : NULL;
    cdc_config       cfg;
    cdc_err          err = { 0 };
    int              rc = cfg_load(&cfg, pl, pf, &err);

    if (lc->code == CDC_OK) {
        ck_assert_msg(rc == 0, "case %d: %s", _i, err.msg);
        cfg_free(&cfg);
        return;
    }
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(err.code == lc->code, "case %d: code %s: %s", _i, cdc_rc_name(err.code),
                  err.msg);
    ck_assert_msg(strstr(err.msg, lc->expect) != NULL, "case %d:\n  want: %s\n  got:  %s", _i,
                  lc->expect, err.msg);
    ck_assert_msg(strstr(err.msg, PL_SECRET) == NULL, "secret in message: %s", err.msg);
}
END_TEST

START_TEST(missing_file)
{
    cdc_config cfg;
    cdc_err    err = { 0 };

    ck_assert_int_eq(cfg_parse(&cfg, "/nonexistent/pipeline.yaml", NULL, &err), -1);
    ck_assert_int_eq(err.code, CDC_E_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/pipeline.yaml: cannot open"));
    ck_assert_int_eq(cfg_parse(&cfg, FIX("direct_pipeline.yaml"), "/nonexistent/p.yaml", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/p.yaml: cannot open"));
}
END_TEST

/* ---- the documented examples ---- */

static const struct {
    const char *pipeline, *platform;
} doc_examples[] = {
    { "readme_pipeline.yaml", "readme_platform.yaml" },
    { "readme_env_pipeline.yaml", "readme_env_platform.yaml" },
    { "deploy_pipeline_annotated.yaml", "deploy_platform_defaults.yaml" },
    { "deploy_configmap_pipeline.yaml", "deploy_configmap_platform.yaml" },
    { "readme_pipeline.yaml", "deploy_platform_msk.yaml" },
    { "readme_pipeline.yaml", "deploy_platform_gcp_kafka.yaml" },
    { "readme_pipeline.yaml", "deploy_platform_pubsub.yaml" },
    { "readme_pipeline.yaml", "deploy_platform_kinesis.yaml" },
    { "direct_pipeline.yaml", "direct_platform.yaml" },
    { "pipeline_all.yaml", "platform_all.yaml" },
};

/* The deployment guide's examples take their secrets from the environment. */
static void
docs_env(void)
{
    static const char *const vars[][2] = {
        { "CDC_SOURCE_HOST", "db.example" },     { "CDC_SOURCE_DB", "production_db" },
        { "CDC_SOURCE_USER", "cdc_user" },        { "CDC_SOURCE_PASSWORD", "supersecret" },
        { "ICEBERG_CATALOG_URI", "postgresql://catalog:5432/iceberg" },
        { "ICEBERG_WAREHOUSE", "s3://my-bucket/warehouse" }, { "S3_ENDPOINT", "http://minio:9000" },
        { "S3_ACCESS_KEY_ID", "minio" },          { "S3_SECRET_ACCESS_KEY", "minio123" },
    };

    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        setenv(vars[i][0], vars[i][1], 1);
}

START_TEST(documented_examples_parse)
{
    char       pl[512], pf[512];
    cdc_config cfg;
    cdc_err    err = { 0 };

    docs_env();
    snprintf(pl, sizeof(pl), "%s", FIX("") );
    strncat(pl, doc_examples[_i].pipeline, sizeof(pl) - strlen(pl) - 1);
    snprintf(pf, sizeof(pf), "%s", FIX(""));
    strncat(pf, doc_examples[_i].platform, sizeof(pf) - strlen(pf) - 1);
    ck_assert_msg(cfg_parse(&cfg, pl, pf, &err) == 0, "%s", err.msg);
    cfg_free(&cfg);
}
END_TEST

START_TEST(readme_example_values)
{
    cdc_config      cfg;
    cdc_err         err = { 0 };
    const cfg_sink *s;

    ck_assert_msg(cfg_parse(&cfg, FIX("readme_pipeline.yaml"), FIX("readme_platform.yaml"),
                            &err) == 0, "%s", err.msg);
    ck_assert_str_eq(cfg.pipeline.pipeline_id, "demo");
    ck_assert_int_eq(cfg.pipeline.source.ntables, 2);
    ck_assert_str_eq(cfg.pipeline.source.tables[1], "public.orders");
    ck_assert_int_eq(cfg.pipeline.nsinks, 3);
    s = &cfg.pipeline.sinks[0];
    ck_assert_int_eq(s->sink_type, CFG_SINK_WEBHOOK);
    ck_assert_str_eq(s->webhook.url, "http://localhost:8000/cdc-events");
    ck_assert_int_eq(s->webhook.headers.n, 1);
    ck_assert_str_eq(s->webhook.headers.items[0].key, "X-Source");
    ck_assert_str_eq(s->webhook.headers.items[0].value, "cdc-platform");
    ck_assert_double_eq(s->webhook.timeout_seconds, 10.0);
    s = &cfg.pipeline.sinks[1];
    ck_assert(!s->enabled);
    ck_assert_int_eq(s->postgres.port, 5433);
    ck_assert_int_eq(s->postgres.batch_size, 50);
    ck_assert(s->postgres.upsert);
    s = &cfg.pipeline.sinks[2];
    ck_assert_str_eq(s->iceberg.catalog_uri, "sqlite:////tmp/cdc_catalog.db");
    ck_assert_str_eq(s->iceberg.catalog_name, "default");
    ck_assert_int_eq(s->iceberg.batch_size, 500);
    ck_assert_str_eq(cfg.platform.kafka.bootstrap_servers, "kafka-prod:9092");
    ck_assert_str_eq(cfg.platform.connector.connect_url, "http://connect-prod:8083");
    ck_assert_str_eq(cfg.platform.kafka.group_id, "cdc-platform");     /* default kept */
    cfg_free(&cfg);
}
END_TEST

START_TEST(deploy_example_values)
{
    cdc_config         cfg;
    cdc_err            err = { 0 };
    const cfg_iceberg *ib;

    docs_env();
    ck_assert_msg(cfg_parse(&cfg, FIX("deploy_pipeline_annotated.yaml"),
                            FIX("deploy_platform_pubsub.yaml"), &err) == 0, "%s", err.msg);
    ck_assert_str_eq(cfg.pipeline.source.host, "db.example");
    ck_assert_str_eq(cfg.pipeline.source.password, "supersecret");
    /* transport_mode pubsub: the platform's wal_reader names the slot and publication */
    ck_assert_str_eq(cfg.pipeline.source.slot_name, "cdc_slot");
    ck_assert_str_eq(cfg.pipeline.source.publication_name, "cdc_publication");
    ib = &cfg.pipeline.sinks[0].iceberg;
    ck_assert_str_eq(ib->write_mode, "upsert");
    ck_assert_str_eq(ib->s3_secret_access_key, "minio123");
    ck_assert(ib->maintenance.enabled);
    ck_assert_double_eq(ib->maintenance.compaction_interval_seconds, 3600.0);
    ck_assert_double_eq(ib->maintenance.expire_snapshots_older_than_seconds, 86400.0);
    ck_assert_int_eq(cfg.platform.transport_mode, CFG_TRANSPORT_PUBSUB);
    ck_assert_str_eq(cfg.platform.pubsub.project_id, "my-gcp-project");
    ck_assert_int_eq(cfg.platform.pubsub.max_messages_per_pull, 100);
    ck_assert_double_eq(cfg.platform.wal_reader.batch_timeout_seconds, 1.0);
    cfg_free(&cfg);
}
END_TEST

/* ---- defaults ---- */

START_TEST(defaults_without_platform_file)
{
    const char       *pl = write_tmp("pipeline.yaml", PL_HEAD);
    cdc_config        cfg;
    cdc_err           err = { 0 };
    const cfg_source *s = &cfg.pipeline.source;
    const cfg_platform *p = &cfg.platform;

    ck_assert_msg(cfg_parse(&cfg, pl, NULL, &err) == 0, "%s", err.msg);
    ck_assert_ptr_null(cfg.platform_path);
    ck_assert_str_eq(cfg.pipeline.topic_prefix, "cdc");
    ck_assert_int_eq(cfg.pipeline.nsinks, 0);
    ck_assert_int_eq(s->source_type, CFG_SOURCE_POSTGRES);
    ck_assert_str_eq(s->host, "localhost");
    ck_assert_int_eq(s->port, 5432);
    ck_assert_str_eq(s->username, "cdc_user");
    ck_assert_str_eq(s->slot_name, "cdc_slot");
    ck_assert_str_eq(s->publication_name, "cdc_publication");
    ck_assert_int_eq(s->snapshot_mode, CFG_SNAPSHOT_INITIAL);
    ck_assert_str_eq(s->sslmode, "prefer");
    ck_assert_ptr_null(s->sslrootcert);
    ck_assert_ptr_null(s->sslcert);
    ck_assert_ptr_null(s->sslkey);
    ck_assert_str_eq(s->decimal_handling_mode, "precise");
    ck_assert_str_eq(s->time_precision_mode, "adaptive");
    ck_assert_str_eq(s->binary_handling_mode, "bytes");
    ck_assert_str_eq(s->interval_handling_mode, "numeric");
    ck_assert(s->tombstones_on_delete);
    ck_assert_str_eq(s->skipped_operations, "t");
    ck_assert_int_eq(s->heartbeat_interval_ms, 0);
    ck_assert(!s->provide_transaction_metadata);
    ck_assert_str_eq(s->unavailable_value_placeholder, "__debezium_unavailable_value");
    ck_assert_str_eq(s->message_key_columns, "");
    ck_assert_str_eq(s->schema_name_adjustment_mode, "none");
    ck_assert_int_eq(s->money_fraction_digits, 2);

    ck_assert_int_eq(p->transport_mode, CFG_TRANSPORT_KAFKA);
    ck_assert_str_eq(p->kafka.bootstrap_servers, "localhost:9092");
    ck_assert_str_eq(p->kafka.schema_registry_url, "http://localhost:8081");
    ck_assert_str_eq(p->kafka.group_id, "cdc-platform");
    ck_assert_str_eq(p->kafka.auto_offset_reset, "earliest");
    ck_assert(p->kafka.enable_idempotence);
    ck_assert_str_eq(p->kafka.acks, "all");
    ck_assert_int_eq(p->kafka.topic_num_partitions, 1);
    ck_assert_int_eq(p->kafka.topic_replication_factor, 1);
    ck_assert_int_eq(p->kafka.poll_batch_size, 1);
    ck_assert_int_eq(p->kafka.deser_pool_size, 1);
    ck_assert_double_eq(p->kafka.commit_interval_seconds, 0.0);
    ck_assert_int_eq(p->kafka.properties.n, 0);
    ck_assert_str_eq(p->connector.connect_url, "http://localhost:8083");
    ck_assert_double_eq(p->connector.timeout_seconds, 30.0);
    ck_assert_int_eq(p->connector.retry_max_attempts, 5);
    ck_assert_double_eq(p->connector.retry_wait_seconds, 2.0);
    ck_assert(p->dlq.enabled);
    ck_assert_str_eq(p->dlq.topic_suffix, "dlq");
    ck_assert_int_eq(p->dlq.max_retries, 3);
    ck_assert(p->dlq.include_headers);
    ck_assert_double_eq(p->dlq.flush_interval_seconds, 0.0);
    ck_assert_int_eq(p->retry.max_attempts, 5);
    ck_assert_double_eq(p->retry.initial_wait_seconds, 1.0);
    ck_assert_double_eq(p->retry.max_wait_seconds, 60.0);
    ck_assert_double_eq(p->retry.multiplier, 2.0);
    ck_assert(p->retry.jitter);
    ck_assert_int_eq(p->max_buffered_messages, 1000);
    ck_assert_double_eq(p->schema_monitor_interval_seconds, 30.0);
    ck_assert_double_eq(p->lag_monitor_interval_seconds, 15.0);
    ck_assert(!p->stop_on_incompatible_schema);
    ck_assert_int_eq(p->health_port, 8080);
    ck_assert(p->health_enabled);

    ck_assert_double_eq(p->agent.status_interval_seconds, 10.0);
    ck_assert_int_eq(p->agent.log_level, CDC_LOG_INFO);
    ck_assert_int_eq(p->agent.log_format, CFG_LOG_FORMAT_AUTO);
    ck_assert_int_eq(p->agent.memory_limit_mb, 256);
    ck_assert_str_eq(p->agent.spill_dir, "");
    ck_assert_double_eq(p->agent.shutdown_timeout_seconds, 30.0);
    ck_assert_str_eq(p->agent.stop_lsn, "");
    ck_assert_int_eq(p->agent.reconnect_max_attempts, 0);
    cfg_free(&cfg);
    ck_assert_ptr_null(cfg.pipeline_path);
}
END_TEST

START_TEST(sink_defaults_and_retry_inheritance)
{
    const char *pl = write_tmp("pipeline.yaml", PL_HEAD
                               "sinks:\n"
                               "  - {sink_id: a, sink_type: jsonl, jsonl: {path: out.jsonl}}\n"
                               "  - sink_id: b\n"
                               "    sink_type: jsonl\n"
                               "    jsonl: {path: \"-\"}\n"
                               "    retry: {max_attempts: 2}\n");
    const char *pf = write_tmp("platform.yaml", "retry:\n  max_attempts: 7\n  multiplier: 3\n");
    cdc_config  cfg;
    cdc_err     err = { 0 };

    ck_assert_msg(cfg_parse(&cfg, pl, pf, &err) == 0, "%s", err.msg);
    ck_assert(cfg.pipeline.sinks[0].enabled);
    ck_assert(cfg.pipeline.sinks[0].jsonl.fsync);
    ck_assert_int_eq(cfg.pipeline.sinks[0].jsonl.flush_interval_ms, 200);
    ck_assert_int_eq(cfg.pipeline.sinks[0].retry.max_attempts, 7);
    ck_assert_double_eq(cfg.pipeline.sinks[0].retry.multiplier, 3.0);
    ck_assert_int_eq(cfg.pipeline.sinks[1].retry.max_attempts, 2);
    ck_assert_double_eq(cfg.pipeline.sinks[1].retry.multiplier, 3.0);
    ck_assert_str_eq(cfg.pipeline.sinks[1].jsonl.path, "-");
    /* defaults of the sections a sink does not use are there too */
    ck_assert_str_eq(cfg.pipeline.sinks[0].webhook.method, "POST");
    ck_assert_double_eq(cfg.pipeline.sinks[0].webhook.timeout_seconds, 30.0);
    ck_assert_int_eq(cfg.pipeline.sinks[0].postgres.batch_size, 100);
    ck_assert_int_eq(cfg.pipeline.sinks[0].postgres.mode, CFG_PG_SINK_EVENT_LOG);
    cfg_free(&cfg);
}
END_TEST

/*
 * pipeline_all.yaml and platform_all.yaml set every key to something other
 * than its default: compare field by field, driven by the key tables, so a
 * key added to a table without being readable fails here.
 */
static bool
field_differs(const cfg_key *k, const void *a, const void *b)
{
    const void *fa = (const char *) a + k->off, *fb = (const char *) b + k->off;

    switch (k->type) {
    case CFG_STR: {
        const char *sa = *(char *const *) fa, *sb = *(char *const *) fb;

        return (sa == NULL) != (sb == NULL) || (sa && strcmp(sa, sb) != 0);
    }
    case CFG_INT:
    case CFG_ENUM:
        return *(const int *) fa != *(const int *) fb;
    case CFG_DOUBLE:
        return *(const double *) fa != *(const double *) fb;
    case CFG_BOOL:
        return *(const bool *) fa != *(const bool *) fb;
    case CFG_STRLIST:
    case CFG_LIST:
        return *(const int *) ((const char *) a + k->off_n) !=
               *(const int *) ((const char *) b + k->off_n);
    case CFG_STRMAP:
        return ((const cfg_strmap *) fa)->n != ((const cfg_strmap *) fb)->n;
    default:
        return true;
    }
}

static bool
is_pattern_key(const char *name)
{
    return strcmp(name, "source.table_include_list") == 0 ||
           strcmp(name, "source.table_exclude_list") == 0 ||
           strcmp(name, "source.schema_include_list") == 0 ||
           strcmp(name, "source.schema_exclude_list") == 0;
}

START_TEST(every_key_is_read)
{
    const char *pl = write_tmp("pipeline.yaml", PL_HEAD
                               "sinks:\n  - {sink_id: a, sink_type: jsonl, jsonl: {path: x}}\n");
    cdc_config  all, def;
    cdc_err     err = { 0 };

    ck_assert_msg(cfg_parse(&all, FIX("pipeline_all.yaml"), FIX("platform_all.yaml"), &err) == 0,
                  "%s", err.msg);
    ck_assert_msg(cfg_parse(&def, pl, NULL, &err) == 0, "%s", err.msg);
    for (const cfg_key *k = cfg_platform_table.keys; k->name; k++)
        if (k->type != CFG_SECTION)
            ck_assert_msg(field_differs(k, &all.platform, &def.platform),
                          "platform key %s not read from platform_all.yaml", k->name);
    for (const cfg_key *k = cfg_pipeline_table.keys; k->name; k++)
        if (k->type != CFG_SECTION && !is_pattern_key(k->name))
            ck_assert_msg(field_differs(k, &all.pipeline, &def.pipeline),
                          "pipeline key %s not read from pipeline_all.yaml", k->name);
    /* tables by pattern exclude source.tables and each other's opposite list: two files */
    for (int f = 0; f < 2; f++) {
        const char *pp = write_tmp("pat.yaml", f == 0
            ? "pipeline_id: p\nsource:\n  database: d\n  table_include_list: \"a\\\\..*\"\n"
              "  schema_exclude_list: x\nsinks:\n  - {sink_id: a, sink_type: jsonl, jsonl: {path: x}}\n"
            : "pipeline_id: p\nsource:\n  database: d\n  table_exclude_list: \"a\\\\.b\"\n"
              "  schema_include_list: y\nsinks:\n  - {sink_id: a, sink_type: jsonl, jsonl: {path: x}}\n");
        cdc_config pat;

        ck_assert_msg(cfg_parse(&pat, pp, NULL, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(pat.pipeline.source.ntables, 0);
        for (const cfg_key *k = cfg_pipeline_table.keys; k->name; k++)
            if (is_pattern_key(k->name) &&
                (strstr(k->name, f == 0 ? "table_include" : "table_exclude") ||
                 strstr(k->name, f == 0 ? "schema_exclude" : "schema_include")))
                ck_assert_msg(field_differs(k, &pat.pipeline, &def.pipeline), "%s not read", k->name);
        cfg_free(&pat);
    }
    for (const cfg_key *k = cfg_sink_table.keys; k->name; k++) {
        bool differs = false;

        if (k->type == CFG_SECTION)
            continue;
        for (int i = 0; i < all.pipeline.nsinks; i++)
            differs |= field_differs(k, &all.pipeline.sinks[i], &def.pipeline.sinks[0]);
        ck_assert_msg(differs, "sink key %s not read from pipeline_all.yaml", k->name);
    }
    ck_assert_str_eq(all.pipeline.source.tables[1], "\"Sales\".\"Order Items\"");
    /* transport_mode pubsub: the capture side takes wal_reader's slot and publication */
    ck_assert_str_eq(all.pipeline.source.slot_name, "wal_slot");
    ck_assert_str_eq(all.pipeline.source.publication_name, "wal_pub");
    ck_assert_int_eq(all.platform.pubsub.serialization, CFG_SERIALIZATION_AVRO);
    ck_assert_int_eq(def.platform.kinesis.serialization, CFG_SERIALIZATION_JSON);
    /* JSON with {schema, payload} by default on both buses, as Debezium Server's JsonConverter */
    ck_assert(def.platform.pubsub.json_schemas_enable);
    ck_assert(def.platform.kinesis.json_schemas_enable);
    ck_assert_int_eq(all.platform.kafka.properties.n, 2);
    ck_assert_str_eq(all.platform.kafka.properties.items[0].key, "linger.ms");
    ck_assert_str_eq(all.platform.kafka.properties.items[0].value, "5");
    ck_assert_int_eq(all.platform.agent.log_level, CDC_LOG_DEBUG);
    ck_assert_int_eq(all.pipeline.sinks[2].iceberg.npartition_by, 2);
    ck_assert_str_eq(all.pipeline.sinks[2].iceberg.partition_by[1], "day");
    cfg_free(&all);
    cfg_free(&def);
}
END_TEST

START_TEST(defaults_are_valid)
{
    /* every table default converts: cfg_parse applies them all, even unused sections */
    const char *pl = write_tmp("pipeline.yaml", PL_HEAD);
    cdc_config  cfg;
    cdc_err     err = { 0 };

    ck_assert_msg(cfg_parse(&cfg, pl, NULL, &err) == 0, "%s", err.msg);
    for (const cfg_key *k = cfg_platform_table.keys; k->name; k++)
        ck_assert_msg(k->desc && *k->desc, "%s has no description", k->name);
    for (const cfg_key *k = cfg_pipeline_table.keys; k->name; k++)
        ck_assert_msg(k->desc && *k->desc, "%s has no description", k->name);
    for (const cfg_key *k = cfg_sink_table.keys; k->name; k++)
        ck_assert_msg(k->desc && *k->desc, "%s has no description", k->name);
    cfg_free(&cfg);
    cfg_free(&cfg);                          /* twice is harmless */
    cfg_free(NULL);
}
END_TEST

/* ---- environment ---- */

START_TEST(env_substitution)
{
    const char *pl = write_tmp("pipeline.yaml",
        "pipeline_id: ${CDC_T_ID}\n"
        "topic_prefix: ${CDC_T_UNSET:-fallback}\n"
        "source:\n"
        "  host: \"${CDC_T_EMPTY:-notused}\"\n"
        "  port: ${CDC_T_PORT:-5432}\n"
        "  database: db-${CDC_T_ID}-x\n"
        "  username: ${CDC_T_UNSET:-a\\}b}\n"
        "  password: pa$$word$${CDC_T_ID}\n"
        "  publication_name: \"cost: $5 ${ not a ref ${:-x} ${A:b}\"\n"
        "  tombstones_on_delete: ${CDC_T_BOOL}\n"
        "  tables: [\"${CDC_T_SCHEMA:-public}.t\"]\n"
        "  unavailable_value_placeholder: ${CDC_T_ID}${CDC_T_ID}\n"
        "  sslrootcert: '${CDC_T_UNSET:-}'\n");
    cdc_config  cfg;
    cdc_err     err = { 0 };
    const cfg_source *s = &cfg.pipeline.source;

    setenv("CDC_T_ID", "pid", 1);
    setenv("CDC_T_EMPTY", "", 1);
    setenv("CDC_T_PORT", "6000", 1);
    setenv("CDC_T_BOOL", "no", 1);
    unsetenv("CDC_T_UNSET");
    unsetenv("CDC_T_SCHEMA");
    ck_assert_msg(cfg_parse(&cfg, pl, NULL, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(cfg.pipeline.pipeline_id, "pid");
    ck_assert_str_eq(cfg.pipeline.topic_prefix, "fallback");
    ck_assert_str_eq(s->host, "");                 /* set but empty counts as set */
    ck_assert_int_eq(s->port, 6000);
    ck_assert_str_eq(s->database, "db-pid-x");
    ck_assert_str_eq(s->username, "a}b");
    ck_assert_str_eq(s->password, "pa$$word${CDC_T_ID}");
    ck_assert_str_eq(s->publication_name, "cost: $5 ${ not a ref ${:-x} ${A:b}");
    ck_assert(!s->tombstones_on_delete);
    ck_assert_str_eq(s->tables[0], "public.t");
    ck_assert_str_eq(s->unavailable_value_placeholder, "pidpid");
    ck_assert_str_eq(s->sslrootcert, "");
    cfg_free(&cfg);

    /* a substituted value is typed after substitution */
    setenv("CDC_T_PORT", "nope", 1);
    pl = write_tmp("pipeline.yaml", PL_HEAD "  port: ${CDC_T_PORT}\n");
    ck_assert_int_eq(cfg_parse(&cfg, pl, NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, "pipeline.yaml:6:9: source.port: expected an integer, "
                                  "got \"nope\"") != NULL, "%s", err.msg);
}
END_TEST

/* ---- helpers for users ---- */

START_TEST(conn_params)
{
    cdc_config      cfg;
    cdc_err         err = { 0 };
    cfg_conn_params p;
    int             n;
    const char     *pl = write_tmp("pipeline.yaml", PL_HEAD "  port: \"6543\"\n  sslmode: require\n"
                                                    "  sslrootcert: /ca.pem\n");
    bool            repl = false, opts = false;

    ck_assert_msg(cfg_parse(&cfg, pl, NULL, &err) == 0, "%s", err.msg);
    n = cfg_source_conn_params(&cfg.pipeline.source, true, &p);
    ck_assert_int_lt(n, CFG_CONN_MAX_PARAMS);
    ck_assert_ptr_null(p.keys[n]);
    ck_assert_ptr_null(p.vals[n]);
    for (int i = 0; i < n; i++) {
        if (strcmp(p.keys[i], "port") == 0)
            ck_assert_str_eq(p.vals[i], "6543");
        if (strcmp(p.keys[i], "dbname") == 0)
            ck_assert_str_eq(p.vals[i], "d");
        if (strcmp(p.keys[i], "sslmode") == 0)
            ck_assert_str_eq(p.vals[i], "require");
        if (strcmp(p.keys[i], "sslcert") == 0)
            ck_abort_msg("sslcert is unset and must not be passed");
        if (strcmp(p.keys[i], "replication") == 0)
            repl = strcmp(p.vals[i], "database") == 0;
        if (strcmp(p.keys[i], "options") == 0)
            opts = strstr(p.vals[i], "-c DateStyle=ISO") && strstr(p.vals[i], "-c TimeZone=UTC");
    }
    ck_assert(repl);
    ck_assert(opts);
    n = cfg_source_conn_params(&cfg.pipeline.source, false, &p);
    for (int i = 0; i < n; i++)
        ck_assert_str_ne(p.keys[i], "replication");
    cfg_free(&cfg);
}
END_TEST

/* source.host with several hosts: libpq's lists, read-write unless told otherwise. */
START_TEST(conn_params_hosts)
{
    cdc_config      cfg;
    cdc_err         err = { 0 };
    cfg_conn_params p;
    char            h[64], ports[32];
    int             n, nh;
    const char     *host = NULL, *port = NULL, *tsa = NULL;
    const char     *pl = write_tmp("pipeline.yaml", PL_HEAD "  host: \"a:5433,b,[::1]:5434\"\n"
                                                    "  port: 6000\n");

    ck_assert_msg(cfg_parse(&cfg, pl, NULL, &err) == 0, "%s", err.msg);
    n = cfg_source_conn_params(&cfg.pipeline.source, false, &p);
    for (int i = 0; i < n; i++) {
        if (strcmp(p.keys[i], "host") == 0)
            host = p.vals[i];
        if (strcmp(p.keys[i], "port") == 0)
            port = p.vals[i];
        if (strcmp(p.keys[i], "target_session_attrs") == 0)
            tsa = p.vals[i];
    }
    ck_assert_str_eq(host, "a,b,::1");
    ck_assert_str_eq(port, "5433,6000,5434");
    ck_assert_str_eq(tsa, "read-write");
    cfg_free(&cfg);

    /* one host: no target_session_attrs unless set */
    ck_assert_ptr_null(cfg_host_list("db.example", 5432, h, sizeof(h), ports, sizeof(ports), &nh));
    ck_assert_str_eq(h, "db.example");
    ck_assert_str_eq(ports, "5432");
    ck_assert_int_eq(nh, 1);
    ck_assert_ptr_null(cfg_host_list("fe80::1", 5432, h, sizeof(h), ports, sizeof(ports), &nh));
    ck_assert_str_eq(h, "fe80::1");
    ck_assert_ptr_nonnull(cfg_host_list("a:0", 5432, h, sizeof(h), ports, sizeof(ports), &nh));
    ck_assert_ptr_nonnull(cfg_host_list("a:x", 5432, h, sizeof(h), ports, sizeof(ports), &nh));
    ck_assert_ptr_nonnull(cfg_host_list("a,,b", 5432, h, sizeof(h), ports, sizeof(ports), &nh));
    ck_assert_ptr_nonnull(cfg_host_list("[::1", 5432, h, sizeof(h), ports, sizeof(ports), &nh));

    /* a bad list names the key and the file */
    pl = write_tmp("pipeline.yaml", PL_HEAD "  host: \"a:99999,b\"\n");
    ck_assert_int_ne(cfg_parse(&cfg, pl, NULL, &err), 0);
    ck_assert_msg(strstr(err.msg, "source.host") && strstr(err.msg, "port"), "%s", err.msg);

    /* capture from a standby: the user's choice passes through */
    pl = write_tmp("pipeline.yaml", PL_HEAD "  host: \"a,b\"\n  target_session_attrs: standby\n"
                                    "  slot_failover: true\n");
    ck_assert_msg(cfg_parse(&cfg, pl, NULL, &err) == 0, "%s", err.msg);
    ck_assert(cfg.pipeline.source.slot_failover);
    n = cfg_source_conn_params(&cfg.pipeline.source, true, &p);
    tsa = NULL;
    for (int i = 0; i < n; i++)
        if (strcmp(p.keys[i], "target_session_attrs") == 0)
            tsa = p.vals[i];
    ck_assert_str_eq(tsa, "standby");
    cfg_free(&cfg);
}
END_TEST

START_TEST(names)
{
    ck_assert_str_eq(cfg_sink_type_name(CFG_SINK_JSONL), "jsonl");
    ck_assert_str_eq(cfg_sink_type_name(CFG_SINK_WEBHOOK), "webhook");
    ck_assert_str_eq(cfg_transport_mode_name(CFG_TRANSPORT_DIRECT), "direct");
    ck_assert_str_eq(cfg_transport_mode_name(CFG_TRANSPORT_KAFKA), "kafka");
}
END_TEST

/*
 * docs/configuration.md is cfg_print_reference()'s output, committed.  Run
 * with CDC_UPDATE_DOCS=1 to rewrite it after changing a table.
 */
START_TEST(reference_doc_is_current)
{
    char   *want = NULL, *have = NULL;
    size_t  wlen = 0, hlen = 0;
    FILE   *mem = open_memstream(&want, &wlen);
    FILE   *f;

    cfg_print_reference(mem);
    fclose(mem);
    ck_assert_ptr_nonnull(strstr(want, "| `source.port` | integer (1 to 65535) | `5432` |"));
    ck_assert_ptr_nonnull(strstr(want, "| `sinks[].webhook.url` | string | *(required)* |"));
    ck_assert_ptr_nonnull(strstr(want, "| `agent.stop_lsn` |"));
    if (getenv("CDC_UPDATE_DOCS")) {
        f = fopen(DOC_PATH, "w");
        ck_assert_ptr_nonnull(f);
        fputs(want, f);
        fclose(f);
    }
    f = fopen(DOC_PATH, "r");
    ck_assert_msg(f != NULL, "%s missing: run test_config with CDC_UPDATE_DOCS=1", DOC_PATH);
    mem = open_memstream(&have, &hlen);
    for (int ch; (ch = fgetc(f)) != EOF;)
        fputc(ch, mem);
    fclose(mem);
    fclose(f);
    ck_assert_msg(strcmp(want, have) == 0,
                  "docs/configuration.md is stale: run test_config with CDC_UPDATE_DOCS=1");
    free(want);
    free(have);
}
END_TEST

static Suite *
config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc;

    tc = tcase_create("malformed");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_loop_test(tc, rejects_bad_config, 0, (int) (sizeof(bad_cases) / sizeof(bad_cases[0])));
    tcase_add_test(tc, missing_file);
    suite_add_tcase(s, tc);

    tc = tcase_create("validate");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_loop_test(tc, load_validates, 0, (int) (sizeof(load_cases) / sizeof(load_cases[0])));
    suite_add_tcase(s, tc);

    tc = tcase_create("documented");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_loop_test(tc, documented_examples_parse, 0,
                        (int) (sizeof(doc_examples) / sizeof(doc_examples[0])));
    tcase_add_test(tc, readme_example_values);
    tcase_add_test(tc, deploy_example_values);
    tcase_add_test(tc, every_key_is_read);
    suite_add_tcase(s, tc);

    tc = tcase_create("defaults");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, defaults_without_platform_file);
    tcase_add_test(tc, sink_defaults_and_retry_inheritance);
    tcase_add_test(tc, defaults_are_valid);
    suite_add_tcase(s, tc);

    tc = tcase_create("env");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, env_substitution);
    suite_add_tcase(s, tc);

    tc = tcase_create("helpers");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, conn_params);
    tcase_add_test(tc, conn_params_hosts);
    tcase_add_test(tc, names);
    tcase_add_test(tc, table_names);
    tcase_add_test(tc, reference_doc_is_current);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(config_suite());
    int      nfailed;

    srunner_run_all(sr, CK_ENV);
    nfailed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
