#!/usr/bin/env bash
# 010: the CLI basics, and `cdcagent validate` on bad configuration: each mistake ends in
# exit status 2 with a message on stderr that names the file and the key path.
# No server is needed: validate only reads the files.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

PORT=5499
write_pipeline
write_platform
cp "$T/pipeline.yaml" "$T/good_pipeline.yaml"

cdc version
expect_eq "cdcagent version exits 0" "$CDC_RC" 0
expect_contains "cdcagent version prints the version" "$(cat "$T/cdc.out")" "0.1.0"
cdc help
expect_eq "cdcagent help exits 0" "$CDC_RC" 0
cdc
expect_eq "cdcagent without a command exits 2" "$CDC_RC" 2
cdc no-such-command
expect_eq "an unknown command exits 2" "$CDC_RC" 2
cdc validate "$T/does_not_exist.yaml"
expect_eq "a missing file exits 2" "$CDC_RC" 2
expect_contains "a missing file is named" "$(cat "$T/cdc.err")" "does_not_exist.yaml"

cdc validate "$T/good_pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "the good configuration validates (exit 0)" "$CDC_RC" 0

# bad_pipeline NAME KEYPATH [EXTRA_NEEDLE] < yaml: validate it with the good platform.yaml.
bad_pipeline() {
    local name=$1 key=$2 extra=${3:-} err
    write_file "$T/$name.yaml"
    cdc validate "$T/$name.yaml" --platform-config "$T/platform.yaml"
    err=$(cat "$T/cdc.err")
    expect_eq "$name: exit 2" "$CDC_RC" 2
    expect_contains "$name: stderr names the file" "$err" "$name.yaml"
    expect_contains "$name: stderr names the key $key" "$err" "$key"
    if [ -n "$extra" ]; then expect_contains "$name: stderr mentions $extra" "$err" "$extra"; fi
}

# bad_platform NAME KEYPATH < yaml: the good pipeline.yaml with this platform file.
bad_platform() {
    local name=$1 key=$2 err
    write_file "$T/$name.yaml"
    cdc validate "$T/good_pipeline.yaml" --platform-config "$T/$name.yaml"
    err=$(cat "$T/cdc.err")
    expect_eq "$name: exit 2" "$CDC_RC" 2
    expect_contains "$name: stderr names the file" "$err" "$name.yaml"
    expect_contains "$name: stderr names the key $key" "$err" "$key"
}

note "unknown key"
bad_pipeline unknown_key source.hostname <<'YAML'
pipeline_id: demo
topic_prefix: cdc
source:
  hostname: 127.0.0.1
  database: cdc_demo
  tables: [public.customers]
sinks:
  - sink_id: local
    sink_type: jsonl
    jsonl:
      path: "-"
YAML

note "wrong type"
bad_pipeline wrong_type source.port <<'YAML'
pipeline_id: demo
topic_prefix: cdc
source:
  host: 127.0.0.1
  port: not-a-number
  database: cdc_demo
  tables: [public.customers]
sinks:
  - sink_id: local
    sink_type: jsonl
    jsonl:
      path: "-"
YAML

note "missing required key"
bad_pipeline missing_database source.database <<'YAML'
pipeline_id: demo
topic_prefix: cdc
source:
  host: 127.0.0.1
  port: 5499
  tables: [public.customers]
sinks:
  - sink_id: local
    sink_type: jsonl
    jsonl:
      path: "-"
YAML

note "platform section in a pipeline file"
bad_pipeline kafka_in_pipeline kafka <<'YAML'
pipeline_id: demo
topic_prefix: cdc
source:
  host: 127.0.0.1
  database: cdc_demo
  tables: [public.customers]
kafka:
  bootstrap_servers: localhost:9092
sinks:
  - sink_id: local
    sink_type: jsonl
    jsonl:
      path: "-"
YAML

note "environment variable that is not set and has no default"
unset CDC_IT_UNSET_VARIABLE
bad_pipeline bad_env_var source.password CDC_IT_UNSET_VARIABLE <<'YAML'
pipeline_id: demo
topic_prefix: cdc
source:
  host: 127.0.0.1
  database: cdc_demo
  password: ${CDC_IT_UNSET_VARIABLE}
  tables: [public.customers]
sinks:
  - sink_id: local
    sink_type: jsonl
    jsonl:
      path: "-"
YAML

note "a \${VAR:-default} with VAR unset is fine"
write_file "$T/env_default.yaml" <<'YAML'
pipeline_id: demo
topic_prefix: cdc
source:
  host: 127.0.0.1
  port: ${CDC_IT_UNSET_PORT:-5499}
  database: ${CDC_IT_UNSET_DB:-cdc_demo}
  tables: [public.customers]
sinks:
  - sink_id: local
    sink_type: jsonl
    jsonl:
      path: "-"
YAML
cdc validate "$T/env_default.yaml" --platform-config "$T/platform.yaml"
expect_eq "env_default: exit 0" "$CDC_RC" 0

note "unknown sink type"
bad_pipeline bad_sink_type sink_type <<'YAML'
pipeline_id: demo
topic_prefix: cdc
source:
  host: 127.0.0.1
  database: cdc_demo
  tables: [public.customers]
sinks:
  - sink_id: local
    sink_type: no-such-sink
YAML

note "platform file: unknown key, wrong type, bad LSN"
bad_platform unknown_platform_key agent.stop_lsnn <<'YAML'
transport_mode: direct
agent:
  stop_lsnn: "0/1000"
YAML
bad_platform wrong_platform_type agent.status_interval_seconds <<'YAML'
transport_mode: direct
agent:
  status_interval_seconds: soon
YAML
bad_platform bad_stop_lsn agent.stop_lsn <<'YAML'
transport_mode: direct
agent:
  stop_lsn: "not-an-lsn"
YAML
bad_platform bad_transport_mode transport_mode <<'YAML'
transport_mode: carrier-pigeon
YAML

done_testing
