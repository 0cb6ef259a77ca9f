#!/usr/bin/env bash
# 531: the Kinesis transport under injected faults (test/lib/aws_faults.py in front of moto):
# partial failures (the proxy stores the other records, as AWS does, and answers the picked
# ones with ProvisionedThroughputExceededException), whole-request throttling, HTTP 500,
# garbage 200s and dropped connections, at random while 20 keys are updated 25 times each
# in transactions of 20.  Afterwards: per key, the stream's order (shard sequence numbers)
# of the values never inverts, no change is missing and none is there twice.  Then a
# sustained outage: the slot does not move, /readyz says why, and everything arrives once
# the service answers again.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/moto.sh"

MDIR=$T/moto
trap '_rc=$?; moto_kill "$MDIR" >/dev/null 2>&1; set +e; (exit $_rc); _cleanup' EXIT

pg_up
sql "CREATE TABLE items (id int PRIMARY KEY, n int)"
moto_start "$MDIR" "$(free_port)"
FP=$(free_port)
moto_faults_start "$MDIR" "$FP"
ok "moto $MOTO_VERSION behind the fault proxy on $FP"
aws() { "$MOTO_PY" "$MOTO_AWS_READ" "$@"; }

HPORT=$(free_port)
P_TABLES="public.items" P_SNAPSHOT=never write_pipeline
cat >"$T/platform.yaml" <<YAML
transport_mode: kinesis
health_enabled: true
health_port: $HPORT
kinesis:
  json_schemas_enable: false
  shard_count: 3
wal_reader:
  batch_size: 500
retry:
  initial_wait_seconds: 0.05
  max_wait_seconds: 0.5
agent:
  status_interval_seconds: 1
  state_dir: $T
YAML
agent_start

moto_fault "$FP" '[
 {"match":"PutRecords","fault":"partial","fail":"every:3","rate":0.3,"seed":7,"times":0},
 {"match":"PutRecords","fault":"throttle","rate":0.1,"seed":8,"times":0},
 {"match":"PutRecords","fault":"http","status":500,"rate":0.05,"seed":9,"times":0},
 {"match":"PutRecords","fault":"garbage","rate":0.05,"seed":10,"times":0},
 {"match":"PutRecords","fault":"drop","rate":0.05,"seed":11,"times":0}]' >/dev/null
ins=()
for i in $(seq 1 20); do ins+=("INSERT INTO items VALUES ($i, 0)"); done
sql "${ins[@]}"
for r in $(seq 1 25); do sql "UPDATE items SET n = n + 1"; done
WANT=$((20 + 20 * 25))
for _ in $(seq 300); do
    aws read cdc-public-items >"$T/read.jsonl"
    [ "$(line_count "$T/read.jsonl")" -ge $WANT ] && break
    sleep 0.2
done
moto_fault "$FP" '[]' >/dev/null
python3 -c '
import collections, json, sys
c = collections.Counter(json.loads(l).get("fault") for l in open(sys.argv[1]) if l.strip())
print("# faults injected:", dict(sorted(c.items())))' "$MDIR/faults.jsonl"
expect_eq "faults were injected (partial failures among them)" \
    "$(grep -c '"partial"' "$MDIR/faults.jsonl" | awk '{print ($1 > 0)}')" 1
sleep 1
aws read cdc-public-items >"$T/read.jsonl"
expect_eq "every change once" "$(line_count "$T/read.jsonl")" $WANT
expect_eq "per key: n = 0..25 in shard order, nothing inverted, missing or twice" "$(python3 -c '
import json, sys
by = {}
for l in open(sys.argv[1]):
    r = json.loads(l)
    v = json.loads(r["data"])
    by.setdefault(r["key"], []).append((r["shard"], int(r["seq"]), v["after"]["n"]))
bad = [k for k, v in by.items() if len({s for s, _, _ in v}) != 1 or
       [n for _, _, n in sorted(v)] != list(range(26))]
print(len(by), len(bad))' "$T/read.jsonl")" "20 0"
expect_contains "retries were logged" "$(cat "$T/agent.log")" "retried with backoff"

# A sustained outage: every PutRecords throttled.
moto_fault "$FP" '[{"match":"PutRecords","fault":"throttle","times":0}]' >/dev/null
sleep 1
L0=$(slot_field cdc_slot confirmed_flush_lsn)
sql "UPDATE items SET n = n + 1 WHERE id = 1" "UPDATE items SET n = n + 1 WHERE id = 2"
sleep 3
expect_eq "slot does not move while nothing lands" "$(slot_field cdc_slot confirmed_flush_lsn)" "$L0"
curl -s -m 5 "http://127.0.0.1:$HPORT/readyz" >"$T/readyz.json" || true
expect_contains "/readyz says why" "$(cat "$T/readyz.json")" "ProvisionedThroughputExceededException"
moto_fault "$FP" '[]' >/dev/null
for _ in $(seq 100); do
    aws read cdc-public-items >"$T/read2.jsonl"
    [ "$(line_count "$T/read2.jsonl")" -ge $((WANT + 2)) ] && break
    sleep 0.2
done
expect_eq "both changes arrive after the outage" "$(line_count "$T/read2.jsonl")" $((WANT + 2))
for _ in $(seq 50); do
    [ "$(slot_field cdc_slot confirmed_flush_lsn)" != "$L0" ] && break
    sleep 0.2
done
expect_eq "slot moves again" "$([ "$(slot_field cdc_slot confirmed_flush_lsn)" != "$L0" ] && echo yes)" yes
agent_stop
done_testing
