#!/usr/bin/env bash
# `cdcagent run` (transport_mode kafka, serialization json with schemas, 3 partitions per
# topic) is killed with SIGKILL three times at random moments while a continuous load of
# inserts, multi-row transactions, updates and deletes runs into two tables; it is
# restarted each time.  At the end every change is in its topic exactly once: per key the
# ops are the expected sequence (c, u..., d, tombstone), per partition the positions
# (cdc.commit_lsn, cdc.seq) strictly increase and never repeat, every record is in
# murmur2(key) % 3, replaying the topics gives the source tables, and the slot catches up.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/kafka.sh"

BUILD=${CDC_BUILD:-$CDC_SRC/build}
KAFKA_PROBE=$BUILD/kafka_probe
KDIR=$T/kafka
STEPS=${IT_STEPS:-3000}
LOAD=$CDC_SRC/test/lib/kafka_load.py
trap '_rc=$?; kafka_kill "$KDIR" >/dev/null 2>&1; set +e; (exit $_rc); _cleanup' EXIT

KPORT=$(free_port)
kafka_start "$KDIR" "$KPORT"
B=127.0.0.1:$KPORT
ok "kafka broker on $B"

pg_up
sql "CREATE TABLE items (id int PRIMARY KEY, batch int, payload text)" \
    "CREATE TABLE accounts (id int PRIMARY KEY, balance int)"
P_TABLES="public.items, public.accounts" P_SNAPSHOT=never write_pipeline
cat >"$T/platform.yaml" <<YAML
transport_mode: kafka
health_enabled: false
kafka:
  bootstrap_servers: $B
  serialization: json
  json_schemas_enable: true
  topic_num_partitions: 3
agent:
  status_interval_seconds: 1
YAML
NREC=$(python3 "$LOAD" gen "$STEPS" 240 "$T")
note "load: $STEPS steps, $NREC records expected"
agent_start

bg load_file "$T/load.1.sql"


# The agent stops by itself when a record the broker acknowledged is not where the broker
# said (transports/kafka/kafka.c, kafka_check_first); a supervisor restarts it. So does this test,
# once per occurrence, and says so.
revive() {
    agent_alive && return 0
    local rc=0
    wait "$AGENT_PID" || rc=$?
    AGENT_PID=
    grep -q "stopping before the slot moves past it" "$T/agent.log" ||
        fail "$1: the agent died by itself (status $rc, see agent.log)"
    note "$1: the agent stopped on an acknowledged record it could not read back (status $rc); restarting it"
    REVIVED=$((REVIVED + 1))
    agent_start
}
REVIVED=0

count_records() {
    "$KAFKA_PROBE" -b "$B" dump cdc.public.items cdc.public.accounts 2>/dev/null | wc -l
}

for round in 1 2 3; do
    sleep "$(python3 -c "import random; print(round(random.uniform(1.0, 2.5), 2))")"
    grep -q '^loader exit' "$T/loader.log" 2>/dev/null && note "round $round: the load has already ended"
    revive "round $round"
    restart_after_kill
    note "round $round: killed and restarted with $(count_records) records in Kafka"
done

deadline=$((SECONDS + 90))
until grep -q '^loader exit' "$T/loader.log" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || fail "the loader did not finish in 90 s"
    sleep 0.2
done
expect_eq "the loader succeeded" "$(grep '^loader exit' "$T/loader.log")" "loader exit 0"
END_LSN=$(sql_su "SELECT pg_current_wal_lsn()")
source_json() {
    sql_su "SELECT json_build_object(
              'items', (SELECT coalesce(json_agg(t), '[]') FROM items t),
              'accounts', (SELECT coalesce(json_agg(a), '[]') FROM accounts a))" >"$T/source.json"
}
deadline=$((SECONDS + 60))
while [ "$(count_records)" -lt "$NREC" ]; do
    revive "catching up"
    if [ "$SECONDS" -ge "$deadline" ]; then
        # Name what is missing before failing: the per-key check over what is there.
        "$KAFKA_PROBE" -b "$B" dump cdc.public.items cdc.public.accounts >"$T/dump.jsonl"
        source_json
        python3 "$LOAD" from-dump <"$T/dump.jsonl" >"$T/records.jsonl"
        python3 "$LOAD" check "$T/expected.json" "$T/source.json" 3 <"$T/records.jsonl" 2>&1 |
            sed 's/^/# /' || true
        fail "only $(count_records) of $NREC records in Kafka after 60 s"
    fi
    sleep 0.5
done
deadline=$((SECONDS + 30))
until [ "$(sql_su "SELECT confirmed_flush_lsn >= '$END_LSN' FROM pg_replication_slots
                   WHERE slot_name = 'cdc_slot'")" = t ]; do
    [ "$SECONDS" -lt "$deadline" ] ||
        fail "slot confirmed_flush_lsn $(slot_field cdc_slot confirmed_flush_lsn) < $END_LSN after 30 s"
    sleep 0.2
done
ok "the slot confirmed everything up to the end of the load ($END_LSN)"
sleep 1                     # anything duplicated would arrive now
agent_stop
note "agent runs: $AGENT_RUNS ($REVIVED after a record failed its read-back check)"

"$KAFKA_PROBE" -b "$B" dump cdc.public.items cdc.public.accounts >"$T/dump.jsonl"
expect_eq "record count" "$(line_count "$T/dump.jsonl")" "$NREC"
check "no duplicates, position order per partition (kafka_records.py)" \
    python3 "$CDC_SRC/test/lib/kafka_records.py" exactly-once <"$T/dump.jsonl"
check "keyed records are in murmur2(key) % 3 (kafka_records.py)" \
    python3 "$CDC_SRC/test/lib/kafka_records.py" check-partitions 3 <"$T/dump.jsonl"
expect_eq "all 3 partitions of both topics used" \
    "$(python3 -c 'import json,sys; print(len({(json.loads(l)["topic"], json.loads(l)["partition"]) for l in sys.stdin}))' <"$T/dump.jsonl")" 6
source_json
python3 "$LOAD" from-dump <"$T/dump.jsonl" >"$T/records.jsonl"
check "per key the expected ops exactly once, in commit order; replay equals the source" \
    python3 "$LOAD" check "$T/expected.json" "$T/source.json" 3 <"$T/records.jsonl"
kafka_stop "$KDIR"
done_testing
