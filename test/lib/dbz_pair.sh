# shellcheck shell=bash
# Debezium beside cdcagent on two Kafka brokers, for the differential tests of issue 24 (832,
# 850); sourced after test/integration/common.sh, with PREFIX (the topic prefix) set.
#
#   dbz_pair_install   connect.sh, py.sh and kafka.sh installed (cached), or the test fails;
#                      KDIR_A, KDIR_B, CDIR set and an EXIT trap that stops them all
#   dbz_pair_brokers   starts broker A (Debezium's) and B (the agent's): BOOT_A, BOOT_B
#   dbz_pair_platform  $T/platform.yaml: the agent to broker B, JSON with schemas (as Kafka
#                      Connect's JsonConverter schemas.enable=true), NPARTS partitions a topic
#   dbz_pair_compare TOPIC VALUE
#                      waits until both brokers hold a record of TOPIC whose dump contains
#                      VALUE (the fence, written last), stops the agent and Kafka Connect,
#                      dumps both (dbz.jsonl, cdc.jsonl) and compares them with dbz_diff.py
#                      (compare.out); checks there is no DIFF line; sets DBZ_COMPARED (count)
# shellcheck source=SCRIPTDIR/connect.sh
. "$CDC_SRC/test/lib/connect.sh"
# shellcheck source=SCRIPTDIR/py.sh
. "$CDC_SRC/test/lib/py.sh"
# shellcheck source=SCRIPTDIR/kafka.sh
. "$CDC_SRC/test/lib/kafka.sh"

_dbz_pair_cleanup() {
    local rc=$?
    set +e
    connect_stop "$CDIR" 2>/dev/null
    kafka_stop "$KDIR_A" 2>/dev/null
    kafka_stop "$KDIR_B" 2>/dev/null
    (exit "$rc")
    _cleanup
}

dbz_pair_install() {
    need_agent
    connect_install || fail "connect_install (Kafka Connect + Debezium from Maven Central)"
    py_env || fail "py_env (confluent-kafka from PyPI)"
    kafka_install || fail "kafka_install"
    KDIR_A=$T/kafka-a
    KDIR_B=$T/kafka-b
    CDIR=$T/connect
    trap _dbz_pair_cleanup EXIT
}

dbz_pair_brokers() {
    local port
    port=$(free_port)
    kafka_start "$KDIR_A" "$port" || fail "Kafka broker A"
    BOOT_A=127.0.0.1:$port
    port=$(free_port)
    kafka_start "$KDIR_B" "$port" || fail "Kafka broker B"
    BOOT_B=127.0.0.1:$port
}

dbz_pair_platform() {
    cat >"$T/platform.yaml" <<YAML
transport_mode: kafka
health_enabled: false
kafka:
  bootstrap_servers: $BOOT_B
  serialization: json
  json_schemas_enable: true
  topic_num_partitions: $NPARTS
agent:
  log_level: info
  status_interval_seconds: 1
  state_dir: $T
YAML
}

_dbz_fence_seen() {   # the whole dump first: grep -q under pipefail would fail on SIGPIPE
    local d
    d=$("$PY" "$CDC_SRC/test/lib/kafka_dump.py" --bootstrap "$1" --timeout 10 "$2" 2>/dev/null) || true
    [[ $d == *"$3"* ]]
}

dbz_pair_compare() {
    local topic=$1 value=$2 deadline
    deadline=$((SECONDS + 60))
    until _dbz_fence_seen "$BOOT_B" "$topic" "$value"; do
        [ "$SECONDS" -lt "$deadline" ] || fail "cdcagent: no fence after 60 s; broker B holds: $("$PY" "$CDC_SRC/test/lib/kafka_dump.py" --bootstrap "$BOOT_B" --prefix "$PREFIX." 2>&1 | cut -c1-200 | tail -20)"
        agent_alive || fail "cdcagent exited during the workload"
        sleep 0.5
    done
    deadline=$((SECONDS + 60))
    until _dbz_fence_seen "$BOOT_A" "$topic" "$value"; do
        [ "$SECONDS" -lt "$deadline" ] || fail "Debezium: no fence after 60 s"
        sleep 0.5
    done
    agent_stop
    connect_stop "$CDIR"
    ok "both wrote the fence; both stopped"
    "$PY" "$CDC_SRC/test/lib/kafka_dump.py" --bootstrap "$BOOT_A" --prefix "$PREFIX." >"$T/dbz.jsonl"
    "$PY" "$CDC_SRC/test/lib/kafka_dump.py" --bootstrap "$BOOT_B" --prefix "$PREFIX." >"$T/cdc.jsonl"
    "$PY" "$CDC_SRC/test/lib/dbz_diff.py" "$T/dbz.jsonl" "$T/cdc.jsonl" >"$T/compare.out" 2>&1 || true
    head -60 "$T/compare.out"
    expect_contains "records were compared" "$(cat "$T/compare.out")" "COMPARED"
    expect_eq "no difference from Debezium $DBZ_VERSION outside the allow-list" \
        "$(grep -c '^DIFF' "$T/compare.out" || true)" 0
    DBZ_COMPARED=$(sed -n 's/^COMPARED \([0-9]*\) records.*/\1/p' "$T/compare.out")
}
