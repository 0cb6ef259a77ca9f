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

# The pipeline file the cases below start from; each case changes one thing in it.
BASE_PIPELINE='pipeline_id: demo
topic_prefix: cdc
source:
  host: 127.0.0.1
  database: cdc_demo
  tables: [public.customers]
sinks:
  - sink_id: local
    sink_type: jsonl
    jsonl:
      path: "-"'

# One bad pipeline file a row: NAME|KEY PATH|EXTRA NEEDLE|sed script applied to BASE_PIPELINE|note.
# The table is read on fd 3: cdcagent inherits stdin.
unset CDC_IT_UNSET_VARIABLE
while IFS='|' read -r name key extra edit what <&3; do
    note "$what"
    bad_pipeline "$name" "$key" "$extra" < <(sed -e "$edit" <<<"$BASE_PIPELINE")
done 3<<'CASES'
unknown_key|source.hostname||s/^  host:/  hostname:/|unknown key
wrong_type|source.port||/^  host:/a\  port: not-a-number|wrong type
missing_database|source.database||s/^  database: cdc_demo$/  port: 5499/|missing required key
kafka_in_pipeline|kafka||/^sinks:/i\kafka:\n  bootstrap_servers: localhost:9092|platform section in a pipeline file
bad_env_var|source.password|CDC_IT_UNSET_VARIABLE|/^  database:/a\  password: ${CDC_IT_UNSET_VARIABLE}|environment variable that is not set and has no default
bad_sink_type|sink_type||/sink_type: jsonl/,$c\    sink_type: no-such-sink|unknown sink type
CASES

note "a \${VAR:-default} with VAR unset is fine"
# shellcheck disable=SC2016  # the ${...} are for cdcagent, not for the shell
sed -e '/^  host:/a\  port: ${CDC_IT_UNSET_PORT:-5499}' \
    -e 's/^  database: cdc_demo$/  database: ${CDC_IT_UNSET_DB:-cdc_demo}/' \
    <<<"$BASE_PIPELINE" | write_file "$T/env_default.yaml"
cdc validate "$T/env_default.yaml" --platform-config "$T/platform.yaml"
expect_eq "env_default: exit 0" "$CDC_RC" 0

note "platform file: unknown key, wrong type, bad LSN"
# One bad platform file a row: NAME|KEY PATH|the file, with \n between lines.
while IFS='|' read -r name key yaml <&3; do
    bad_platform "$name" "$key" < <(printf '%b\n' "$yaml")
done 3<<'CASES'
unknown_platform_key|agent.stop_lsnn|transport_mode: direct\nagent:\n  stop_lsnn: "0/1000"
wrong_platform_type|agent.status_interval_seconds|transport_mode: direct\nagent:\n  status_interval_seconds: soon
bad_stop_lsn|agent.stop_lsn|transport_mode: direct\nagent:\n  stop_lsn: "not-an-lsn"
bad_transport_mode|transport_mode|transport_mode: carrier-pigeon
CASES

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
# One command line a row: NEEDLE|ARGS (split at spaces; $P and $T stand for themselves).
while IFS='|' read -r needle line <&3; do
    read -ra args <<<"$line"
    args=("${args[@]//'$P'/$P}")
    args=("${args[@]//'$T'/$T}")
    bad_args "$needle" "${args[@]}"
done 3<<'CASES'
--platform-config: missing value|run $P --platform-config --log-level debug
--warn-retained-bytes: missing value, expected BYTES|slot status $P --warn-retained-bytes
--warn-retained-bytes 1e6: expected BYTES (a whole number above 0)|slot status $P --warn-retained-bytes 1e6
--rate-window: missing value, expected SECONDS|slot status $P --rate-window
--rate-window 601: expected SECONDS (a number from 0 to 600)|slot status $P --rate-window 601
--sink: missing value, expected ID|dlq list $P --sink
--table: missing value, expected SCHEMA.TABLE|dlq list $P --table
--error-type: missing value, expected TYPE|dlq list $P --error-type
--id: missing value, expected ID|dlq replay $P --id
--sink: missing value, expected ID|verify $P --sink
--table: missing value, expected SCHEMA.TABLE|verify $P --table
--ranges: missing value, expected N|verify $P --ranges
--ranges 0: expected N (a whole number from 1 to 1000)|verify $P --ranges 0
--wait: missing value, expected SECONDS|verify $P --wait
--wait soon: expected SECONDS (a number from 0 to 86400)|verify $P --wait soon
unknown option --frob|run $P --frob
run: unexpected argument "extra.yaml"|run $P extra.yaml
slot advance: unexpected argument "extra"|slot advance $P 0/1 extra
slot: missing subcommand (status, create, drop or advance)|slot
dlq: missing subcommand (list or replay)|dlq
unknown command "slot frob"|slot frob $P
unknown command "no-such-command"|no-such-command
missing PIPELINE.yaml|run --platform-config $T/platform.yaml
CASES
cdc validate "$P" --platform-config "$T/platform.yaml" --log-level debug
expect_eq "every option with its value: validate still exits 0" "$CDC_RC" 0

done_testing
