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

note "command line: each mistake names the option or argument and what it wants (exit 2)"
# bad_args NEEDLE ARGS...: cdcagent ARGS exits 2 and its first stderr line contains NEEDLE.
bad_args() {
    local needle=$1
    shift
    cdc "$@"
    expect_eq "cdcagent $*: exit 2" "$CDC_RC" 2
    expect_contains "cdcagent $*: says what is wrong" "$(head -n 1 "$T/cdc.err")" "$needle"
}
P=$T/good_pipeline.yaml
for c in run validate "slot status" "slot create" "slot drop" "slot advance" "dlq list" \
         "dlq replay" verify; do
    # shellcheck disable=SC2086  # $c is one or two words on purpose
    bad_args "--platform-config: missing value, expected FILE (platform.yaml)" $c "$P" --platform-config
    # shellcheck disable=SC2086
    bad_args "--log-level: missing value, expected LEVEL (debug, info, warn or error)" \
        $c "$P" --log-level
done
bad_args "--platform-config: missing value" run "$P" --platform-config --log-level debug
bad_args "--warn-retained-bytes: missing value, expected BYTES" slot status "$P" --warn-retained-bytes
bad_args "--warn-retained-bytes 1e6: expected BYTES (a whole number above 0)" \
    slot status "$P" --warn-retained-bytes 1e6
bad_args "--rate-window: missing value, expected SECONDS" slot status "$P" --rate-window
bad_args "--rate-window 601: expected SECONDS (a number from 0 to 600)" \
    slot status "$P" --rate-window 601
bad_args "--sink: missing value, expected ID" dlq list "$P" --sink
bad_args "--table: missing value, expected SCHEMA.TABLE" dlq list "$P" --table
bad_args "--error-type: missing value, expected TYPE" dlq list "$P" --error-type
bad_args "--id: missing value, expected ID" dlq replay "$P" --id
bad_args "--sink: missing value, expected ID" verify "$P" --sink
bad_args "--table: missing value, expected SCHEMA.TABLE" verify "$P" --table
bad_args "--ranges: missing value, expected N" verify "$P" --ranges
bad_args "--ranges 0: expected N (a whole number from 1 to 1000)" verify "$P" --ranges 0
bad_args "--wait: missing value, expected SECONDS" verify "$P" --wait
bad_args "--wait soon: expected SECONDS (a number from 0 to 86400)" verify "$P" --wait soon
bad_args "unknown option --frob" run "$P" --frob
bad_args 'run: unexpected argument "extra.yaml"' run "$P" extra.yaml
bad_args 'slot advance: unexpected argument "extra"' slot advance "$P" 0/1 extra
bad_args "slot: missing subcommand (status, create, drop or advance)" slot
bad_args "dlq: missing subcommand (list or replay)" dlq
bad_args 'unknown command "slot frob"' slot frob "$P"
bad_args 'unknown command "no-such-command"' no-such-command
bad_args "missing PIPELINE.yaml" run --platform-config "$T/platform.yaml"
cdc validate "$P" --platform-config "$T/platform.yaml" --log-level debug
expect_eq "every option with its value: validate still exits 0" "$CDC_RC" 0

done_testing
