#!/usr/bin/env bash
# Kafka and the initial snapshot across restarts (real broker, JSON):
#  1. snapshot, stream, SIGTERM, restart: no second snapshot, the stream goes on, every row once;
#  2. SIGKILL right after the snapshot, before the slot moved: the agent streams only once
#     Kafka acknowledged every snapshot row, and records it (agent.state_dir).  If the kill
#     came before that record, the partitions cannot prove that every snapshot row arrived,
#     so the snapshot is resumed on the same slot: what no destination made durable is read
#     again as an incremental snapshot (rows arrive twice at most, at new positions; docs/
#     snapshots.md, "After a crash").  Either way none is missing;
#  3. topics that already hold records without cdcagent's position headers (Debezium's,
#     before a switch) and the slot exists: the agent streams from the slot, it does not
#     drop it to take a snapshot;
#  4. SIGKILL while the broker is paused (SIGSTOP) during a 120,000-row snapshot, before
#     Kafka acknowledged it: the record says pending, so the snapshot is resumed.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/kafka.sh"
. "$CDC_SRC/test/lib/py.sh"

KDIR=$T/kafka
trap '_rc=$?; kafka_kill "$KDIR" >/dev/null 2>&1; set +e; (exit $_rc); _cleanup' EXIT
py_env || fail "py_env (confluent-kafka from PyPI)"
KPORT=$(free_port)
kafka_start "$KDIR" "$KPORT"
B=127.0.0.1:$KPORT
ok "kafka on $B"

pg_up
sql "CREATE TABLE items (id int PRIMARY KEY, v text)" \
    "INSERT INTO items SELECT i, 'v' || i FROM generate_series(1, 500) i"
platform() {   # platform PREFIX
    cat >"$T/platform.yaml" <<YAML
transport_mode: kafka
health_enabled: false
kafka:
  bootstrap_servers: $B
  serialization: json
  topic_num_partitions: 3
agent:
  status_interval_seconds: 1
  state_dir: $T
YAML
}
dump() { "$PY" "$CDC_SRC/test/lib/kafka_dump.py" --bootstrap "$B" "$@"; }
# counts OPS TOPIC FILE: "r=N c=N" and the ids missing from 1..N_EXPECTED
ops() {
    python3 - "$1" <<'PY'
import collections, json, sys
c = collections.Counter()
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["value"] is not None:
        c[r["value"]["payload"]["op"]] += 1
print(" ".join("%s=%d" % kv for kv in sorted(c.items())))
PY
}
ids_once() {   # ids_once FILE N: every id 1..N among r/c records, how many distinct
    python3 - "$1" "$2" <<'PY'
import json, sys
seen = set()
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["value"] is not None and r["value"]["payload"]["op"] in ("r", "c"):
        seen.add(r["value"]["payload"]["after"]["id"])
n = int(sys.argv[2])
missing = [i for i in range(1, n + 1) if i not in seen]
print("missing=%d" % len(missing))
PY
}

note "1. snapshot, SIGTERM, restart: no second snapshot"
P_TABLES=public.items; P_SNAPSHOT=initial; P_SLOT=s1
write_pipeline
sed -i 's/^topic_prefix: cdc/topic_prefix: k1/' "$T/pipeline.yaml"
platform
agent_start
sql "INSERT INTO items VALUES (501, 'a')"
for _ in $(seq 100); do dump k1.public.items >"$T/d1.jsonl"; [ "$(line_count "$T/d1.jsonl")" -ge 501 ] && break; sleep 0.2; done
agent_stop
agent_start
sql "INSERT INTO items VALUES (502, 'b')"
for _ in $(seq 100); do dump k1.public.items >"$T/d1.jsonl"; [ "$(line_count "$T/d1.jsonl")" -ge 502 ] && break; sleep 0.2; done
agent_stop
expect_eq "500 snapshot rows and 2 inserts, once each" "$(ops "$T/d1.jsonl")" "c=2 r=500"
expect_eq "the slot was kept" "$(grep -c 'dropping the slot' "$T/agent.log" || true)" 0

note "2. SIGKILL after the snapshot, before the slot moved: resumed"
P_SLOT=s2
write_pipeline
sed -i 's/^topic_prefix: cdc/topic_prefix: k2/' "$T/pipeline.yaml"
agent_start
for _ in $(seq 200); do grep -q '"snapshot".*done' "$T/agent.log" && break; sleep 0.05; done
for _ in $(seq 100); do dump k2.public.items >"$T/d2.jsonl"; [ "$(line_count "$T/d2.jsonl")" -ge 502 ] && break; sleep 0.1; done
agent_kill9
cp=$(grep -o 'slot s2: created, consistent at [0-9A-F/]*' "$T/agent.log" | awk '{print $NF}')
moved=$(sql_su "SELECT confirmed_flush_lsn > '$cp' FROM pg_replication_slots WHERE slot_name = 's2'")
# The agent's record: "snapshot delivered" once every row was acknowledged, before streaming.
recorded=$(grep -h '^snapshot ' "$T"/cdcagent-*-s2.state | awk '{print $2}')
note "at the kill: slot moved past $cp: $moved; record: snapshot $recorded"
if [ "$recorded" != delivered ] && [ "$moved" = t ]; then
    fail "the slot moved past the snapshot before the record said delivered"
fi
[ "$recorded" = delivered ] && moved=t
agent_start
want=502
for _ in $(seq 100); do dump k2.public.items >"$T/d2.jsonl"; [ "$(line_count "$T/d2.jsonl")" -ge "$want" ] && break; sleep 0.2; done
sql "INSERT INTO items VALUES (503, 'c')"
for _ in $(seq 100); do dump k2.public.items >"$T/d2.jsonl"; [ "$(line_count "$T/d2.jsonl")" -ge $((want + 1)) ] && break; sleep 0.2; done
agent_stop
if [ "$moved" = f ]; then
    expect_contains "slot still at its consistent point $cp, record pending: the snapshot is resumed" \
        "$(grep 'did not finish; resuming it' "$T/agent.log" || true)" "resuming it"
    r2=$(ops "$T/d2.jsonl" | grep -o 'r=[0-9]*' | cut -d= -f2)
    check "502 to 1004 snapshot records (the repeats are what was not durable), then the insert" \
        bash -c "[ '$(ops "$T/d2.jsonl" | grep -o 'c=[0-9]*')' = c=1 ] && [ '$r2' -ge 502 ] && [ '$r2' -le 1004 ]"
else
    note "the record (or the slot) proved the snapshot complete before the kill: not retaken"
    expect_eq "no second snapshot" "$(grep -c 'taking the snapshot again\|resuming it' "$T/agent.log" || true)" 0
    expect_eq "one snapshot of 502 rows, then the insert" "$(ops "$T/d2.jsonl")" "c=1 r=502"
fi
expect_eq "no row missing" "$(ids_once "$T/d2.jsonl" 503)" "missing=0"

note "3. topics holding another tool's records, slot present: stream, no snapshot"
P_SLOT=s3; P_SNAPSHOT=never
write_pipeline
sed -i 's/^topic_prefix: cdc/topic_prefix: k3/' "$T/pipeline.yaml"
agent_start          # creates slot s3 (no snapshot), then stops
agent_stop
"$PY" - "$B" <<'PY'
import sys
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
b = sys.argv[1]
admin = AdminClient({"bootstrap.servers": b})   # kept: its futures need the handle alive
try:                 # the agent's first run may have created it already (topics of source.tables)
    admin.create_topics([NewTopic("k3.public.items", 3, 1)])["k3.public.items"].result()
except Exception as e:
    if "TOPIC_ALREADY_EXISTS" not in str(e):
        raise
p = Producer({"bootstrap.servers": b})
for i in range(5):   # no cdc.* headers: what Debezium wrote before the switch
    p.produce("k3.public.items", key=b'{"id":%d}' % i, value=b'{"op":"r"}', partition=i % 3)
p.flush(10)
PY
P_SNAPSHOT=initial
write_pipeline
sed -i 's/^topic_prefix: cdc/topic_prefix: k3/' "$T/pipeline.yaml"
sql "INSERT INTO items VALUES (504, 'd')"
agent_start
for _ in $(seq 100); do dump k3.public.items >"$T/d3.jsonl"; [ "$(line_count "$T/d3.jsonl")" -ge 6 ] && break; sleep 0.2; done
agent_stop
expect_eq "5 foreign records and the insert, no snapshot" "$(line_count "$T/d3.jsonl")" 6
expect_eq "slot s3 kept (not dropped for a snapshot)" \
    "$(sed -n "/=== run $AGENT_RUNS /,\$p" "$T/agent.log" | grep -c 'dropping the slot\|taking the snapshot' || true)" 0
note "4. SIGKILL while the broker is paused: the snapshot read, not acknowledged, taken again"
# A snapshot long enough (120,000 rows) to pause the broker (SIGSTOP) once it has begun: the
# rows pile up in the producer (it stalls when its queue is full), none acknowledged since.
N4=120000
sql "CREATE TABLE big4 (id int PRIMARY KEY, v text)" \
    "INSERT INTO big4 SELECT i, 'v' || i FROM generate_series(1, $N4) i"
P_TABLES=public.big4; P_SLOT=s4; P_PUB=p4; P_SNAPSHOT=initial
write_pipeline
sed -i 's/^topic_prefix: cdc/topic_prefix: k4/' "$T/pipeline.yaml"
BPID=$(cat "$KDIR/pid")
AGENT_NO_WAIT=1 agent_start
this_run() { sed -n "/=== run $AGENT_RUNS /,\$p" "$T/agent.log"; }
for _ in $(seq 1000); do this_run | grep -q 'reading 1 tables' && break; sleep 0.01; done
kill -STOP "$BPID"
for _ in $(seq 30); do this_run | grep -q '"snapshot".*done' && break; sleep 0.1; done
sleep 1
recorded=$(cat "$T"/cdcagent-*-s4.state 2>/dev/null | awk '/^snapshot /{print $2}')
agent_kill9
kill -CONT "$BPID"
note "at the kill: $(this_run | grep -c '"snapshot".*done' || true) 'snapshot done' lines; record: snapshot $recorded"
agent_start
sql "INSERT INTO big4 VALUES ($((N4 + 1)), 'e')"
for _ in $(seq 150); do
    dump k4.public.big4 >"$T/d4.jsonl"
    [ "$(ids_once "$T/d4.jsonl" $((N4 + 1)))" = missing=0 ] && break
    sleep 1
done
agent_stop
if [ "$recorded" = pending ]; then
    expect_contains "the record said pending: the snapshot is resumed" \
        "$(this_run | grep 'did not finish; resuming it' || true)" "resuming it"
else
    note "the broker acknowledged the whole snapshot before the pause: not retaken (nothing to check there)"
fi
note "k4: $(ops "$T/d4.jsonl") (rows the broker had taken before the pause arrive twice)"
expect_eq "no row missing" "$(ids_once "$T/d4.jsonl" $((N4 + 1)))" "missing=0"
done_testing
