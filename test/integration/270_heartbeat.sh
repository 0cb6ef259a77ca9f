#!/usr/bin/env bash
# Heartbeats (source.heartbeat_interval_ms, source.heartbeat_action_query), on a real broker:
#  1. Kafka, JSON with schemas: an idle agent writes Debezium's heartbeat records to
#     __debezium-heartbeat.cdc, partition 0, key ServerNameKey{serverName: "cdc"}, value
#     Heartbeat{ts_ms} with the Connect schemas Debezium 2.7 writes (CONTRACT 1.2); the action
#     query runs on the source at each beat and its change is captured like any other; the slot
#     moves past WAL written to a table nobody captures.
#  2. Kafka, Avro: the heartbeat subjects are registered in the Schema Registry double and the
#     platform's consumer stack (AvroDeserializer) reads the records back.
#  3. Direct mode (jsonl): no heartbeat records in the sink, but the action query runs.
#  4. An action query that fails (a missing table) is logged and retried; the agent streams on.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/kafka.sh"
. "$CDC_SRC/test/lib/py.sh"

KDIR=$T/kafka
trap '_rc=$?; kafka_kill "$KDIR" >/dev/null 2>&1; set +e; (exit $_rc); _cleanup' EXIT
py_env || fail "py_env (confluent-kafka[avro] from PyPI)"
KPORT=$(free_port)
kafka_start "$KDIR" "$KPORT"
B=127.0.0.1:$KPORT
SRPORT=$(free_port)
bg python3 "$CDC_SRC/test/doubles/schema_registry.py" --port "$SRPORT"
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$SRPORT/subjects" >/dev/null && break; sleep 0.1; done
SR=http://127.0.0.1:$SRPORT
ok "kafka on $B, registry double on $SR"

pg_up
sql "CREATE TABLE customers (id int PRIMARY KEY, name text)" \
    "CREATE TABLE hb (id int PRIMARY KEY, beats bigint NOT NULL DEFAULT 0)" \
    "CREATE TABLE noise (id serial PRIMARY KEY, pad text)"
HBQ="INSERT INTO hb (id, beats) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET beats = hb.beats + 1"

platform() {   # platform SERIALIZATION
    cat >"$T/platform.yaml" <<YAML
transport_mode: kafka
health_enabled: false
kafka:
  bootstrap_servers: $B
  schema_registry_url: $SR
  serialization: $1
  topic_num_partitions: 3
agent:
  status_interval_seconds: 1
YAML
}

dump() { "$PY" "$CDC_SRC/test/lib/kafka_dump.py" --bootstrap "$B" "$@"; }

note "1. Kafka, JSON"
P_TABLES="public.customers, public.hb"; P_SNAPSHOT=never; P_SLOT=s_json
P_SOURCE_EXTRA="heartbeat_interval_ms: 300
heartbeat_action_query: \"$HBQ\""
write_pipeline
platform json
T0=$(date +%s%3N)
agent_start
sql "INSERT INTO customers VALUES (1, 'a')"
sleep 3
# WAL that nobody captures: the slot must still move past it
before=$(sql_su "SELECT pg_current_wal_lsn()")
sql "INSERT INTO noise (pad) SELECT repeat('x', 200) FROM generate_series(1, 2000)"
after=$(sql_su "SELECT pg_current_wal_lsn()")
for _ in $(seq 100); do
    [ "$(sql_su "SELECT confirmed_flush_lsn >= '$after' FROM pg_replication_slots WHERE slot_name = 's_json'")" = t ] && break
    sleep 0.1
done
expect_eq "slot moved past uncaptured WAL ($before .. $after)" \
    "$(sql_su "SELECT confirmed_flush_lsn >= '$after' FROM pg_replication_slots WHERE slot_name = 's_json'")" t
agent_stop
T1=$(date +%s%3N)
dump __debezium-heartbeat.cdc >"$T/hb.jsonl"
beats=$(line_count "$T/hb.jsonl")
check "at least 5 heartbeats in 3 s at 300 ms (got $beats)" test "$beats" -ge 5
jl_check "heartbeat records: partition 0, Debezium's key and value with Connect schemas" "$T/hb.jsonl" "
all(e['partition'] == 0 for e in evs) and
all(e['key'] == {'schema': {'type': 'struct', 'fields': [{'type': 'string', 'optional': False,
      'field': 'serverName'}], 'optional': False,
      'name': 'io.debezium.connector.common.ServerNameKey', 'version': 1},
    'payload': {'serverName': 'cdc'}} for e in evs) and
all(e['value']['schema'] == {'type': 'struct', 'fields': [{'type': 'int64', 'optional': False,
      'field': 'ts_ms'}], 'optional': False,
      'name': 'io.debezium.connector.common.Heartbeat', 'version': 1} for e in evs) and
all($T0 <= e['value']['payload']['ts_ms'] <= $T1 for e in evs) and
all(e['headers'] in (None, []) for e in evs)"
n=$(sql "SELECT beats FROM hb WHERE id = 1")
check "the action query ran at each beat ($n times for $beats beats)" test "$n" -ge "$((beats - 1))"
dump cdc.public.hb >"$T/hbtable.jsonl"
jl_check "the action query's changes were captured (c then u)" "$T/hbtable.jsonl" "
len(evs) >= 2 and sorted(e['value']['payload']['op'] for e in evs)[0] == 'c' and
any(e['value']['payload']['op'] == 'u' for e in evs)"
expect_contains "the log says heartbeats are on" "$(grep heartbeat "$T/agent.log")" "every 300 ms"

note "2. Kafka, Avro"
sql "DELETE FROM hb"
P_TABLES="public.customers"; P_SLOT=s_avro; P_SOURCE_EXTRA="heartbeat_interval_ms: 200"
write_pipeline
sed -i 's/^topic_prefix: cdc/topic_prefix: cdca/' "$T/pipeline.yaml"
platform avro
agent_start
sleep 2
agent_stop
expect_eq "heartbeat subjects registered" \
    "$(curl -sf "$SR/subjects" | python3 -c 'import json,sys; print(" ".join(sorted(s for s in json.load(sys.stdin) if s.startswith("__debezium"))))')" \
    "__debezium-heartbeat.cdca-key __debezium-heartbeat.cdca-value"
curl -sf "$SR/subjects/__debezium-heartbeat.cdca-value/versions/latest" >"$T/hbschema.json"
jl_check "value schema: io.debezium.connector.common.Heartbeat {ts_ms: long}" "$T/hbschema.json" "
(lambda s: s['name'] == 'Heartbeat' and s['namespace'] == 'io.debezium.connector.common' and
 s['fields'] == [{'name': 'ts_ms', 'type': 'long'}] and s['connect.version'] == 1 and
 s['connect.name'] == 'io.debezium.connector.common.Heartbeat')(json.loads(evs[0]['schema']))"
"$PY" - "$B" "$SR" >"$T/hbavro.jsonl" <<'PY'
import json, sys, time
from confluent_kafka import DeserializingConsumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
b, sr = sys.argv[1], sys.argv[2]
src = SchemaRegistryClient({"url": sr})
c = DeserializingConsumer({"bootstrap.servers": b, "group.id": "it270-%f" % time.time(),
                           "auto.offset.reset": "earliest",
                           "key.deserializer": AvroDeserializer(src),
                           "value.deserializer": AvroDeserializer(src)})
c.subscribe(["__debezium-heartbeat.cdca"])
n, deadline = 0, time.time() + 30
while n < 3 and time.time() < deadline:
    m = c.poll(0.5)
    if m is None or m.error():
        continue
    print(json.dumps({"key": m.key(), "value": m.value(), "partition": m.partition()}))
    n += 1
c.close()
PY
jl_check "AvroDeserializer reads the heartbeats" "$T/hbavro.jsonl" "
len(evs) == 3 and all(e['key'] == {'serverName': 'cdca'} and e['partition'] == 0 and
                      isinstance(e['value']['ts_ms'], int) and e['value']['ts_ms'] > 1.7e12 for e in evs)"

note "3. direct mode: the action query runs, no heartbeat records in the sink"
: >"$EVENTS"
P_TABLES="public.hb"; P_SLOT=s_direct
P_SOURCE_EXTRA="heartbeat_interval_ms: 200
heartbeat_action_query: \"$HBQ\""
write_pipeline
write_platform
agent_start
wait_lines "$EVENTS" 3 20
agent_stop
jl_check "only hb rows in the jsonl sink, first a create" "$EVENTS" "
all(e['value']['source']['table'] == 'hb' for e in data) and data[0]['value']['op'] == 'c'"

note "4. a failing action query is logged, retried, and harms nothing"
# The file is emptied on purpose, so the agent's record of slot s_direct goes too: it
# would rightly stop the start (a destination that went backwards, see 042).
: >"$EVENTS"
rm -f "$T"/cdcagent-*-s_direct.state
P_TABLES="public.customers"
P_SOURCE_EXTRA="heartbeat_interval_ms: 200
heartbeat_action_query: \"UPDATE no_such_table SET x = 1\""
write_pipeline
agent_start
sleep 1
sql "INSERT INTO customers VALUES (2, 'b')"
wait_lines "$EVENTS" 1 20
sleep 1
agent_stop
expect_eq "one warning for the streak, naming the query's error" \
    "$(grep -c 'heartbeat_action_query.*no_such_table' "$T/agent.log")" 1
jl_check "the change still arrived" "$EVENTS" "data[-1]['value']['after']['id'] == 2"
done_testing
