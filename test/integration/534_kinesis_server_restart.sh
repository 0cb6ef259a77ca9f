#!/usr/bin/env bash
# 534: the Kinesis service goes away and comes back (moto stopped, then started again on the
# same port, empty, as after a restart without persistence).  While it is down (connection
# refused) the agent waits: the slot does not move and /readyz says why.  When it is back,
# the streams are gone: the agent creates them again (logged) and the changes made during
# the outage arrive, per key in order, each once.  max_buffered_messages 20 < the 30 changes:
# the agent holds at most 20 records and stops reading meanwhile (backpressure).
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/moto.sh"

MDIR=$T/moto
trap '_rc=$?; moto_kill "$MDIR" >/dev/null 2>&1; set +e; (exit $_rc); _cleanup' EXIT

pg_up
sql "CREATE TABLE items (id int PRIMARY KEY, n int)"
MPORT=$(free_port)
moto_start "$MDIR" "$MPORT"
aws() { "$MOTO_PY" "$MOTO_AWS_READ" "$@"; }
HPORT=$(free_port)
P_TABLES="public.items" P_SNAPSHOT=never write_pipeline
cat >"$T/platform.yaml" <<YAML
transport_mode: kinesis
health_enabled: true
health_port: $HPORT
max_buffered_messages: 20
kinesis:
  json_schemas_enable: false
  shard_count: 2
wal_reader:
  slot_name: cdc_slot
  publication_name: cdc_publication
retry:
  initial_wait_seconds: 0.1
  max_wait_seconds: 1
agent:
  status_interval_seconds: 1
  state_dir: $T
YAML
agent_start
sql "INSERT INTO items SELECT g, 0 FROM generate_series(1, 10) g"
for _ in $(seq 100); do
    aws read cdc-public-items >"$T/r1.jsonl" 2>/dev/null || true
    [ "$(line_count "$T/r1.jsonl")" -ge 10 ] && break
    sleep 0.2
done
expect_eq "before: 10 records" "$(line_count "$T/r1.jsonl")" 10
sleep 1.5     # the slot confirms them

moto_stop "$MDIR"
L0=$(slot_field cdc_slot confirmed_flush_lsn)
for r in 1 2 3; do sql "UPDATE items SET n = n + 1"; done
sleep 3
expect_eq "slot does not move while Kinesis is down" "$(slot_field cdc_slot confirmed_flush_lsn)" "$L0"
curl -s -m 5 "http://127.0.0.1:$HPORT/readyz" >"$T/readyz.json" || true
expect_contains "/readyz says why" "$(cat "$T/readyz.json")" "PutRecords to cdc-public-items"
expect_eq "the agent waits (still running)" "$(agent_alive && echo yes)" yes

moto_start "$MDIR" "$MPORT"
for _ in $(seq 150); do
    aws read cdc-public-items >"$T/r2.jsonl" 2>/dev/null || true
    [ "$(line_count "$T/r2.jsonl")" -ge 30 ] && break
    sleep 0.2
done
expect_contains "the stream is created again" "$(cat "$T/agent.log")" "created stream cdc-public-items with 2 shards"
expect_eq "the outage's 30 changes arrive, per key n = 1, 2, 3 in order, each once" "$(python3 -c '
import json, sys
by = {}
for l in open(sys.argv[1]):
    r = json.loads(l)
    by.setdefault(r["key"], []).append((r["shard"], int(r["seq"]), json.loads(r["data"])["after"]["n"]))
print(len(by), sorted({tuple(n for _, _, n in sorted(v)) for v in by.values()}))' "$T/r2.jsonl")" \
    "10 [(1, 2, 3)]"
for _ in $(seq 50); do
    [ "$(slot_field cdc_slot confirmed_flush_lsn)" != "$L0" ] && break
    sleep 0.2
done
expect_eq "slot moves again" "$([ "$(slot_field cdc_slot confirmed_flush_lsn)" != "$L0" ] && echo yes)" yes
agent_stop
done_testing
