#!/usr/bin/env bash
# 065: issue 17's tables through the Kafka transport with Avro (real Kafka 3.7.1, the Schema
# Registry double): a partitioned table, a table whose schema and name hold spaces, one with
# a double quote and one with a dot in its name.  Each goes to the topic Debezium's sanitising
# gives ([A-Za-z0-9._-], anything else '_'), its subjects are registered under that topic, the
# platform's AvroDeserializer reads the snapshot and the streamed changes back with the real
# names in source.schema/source.table, and the partitioned table's rows - a row moved between
# partitions included - are on the root's topic only.
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
sql "CREATE TABLE m (id int NOT NULL, region int NOT NULL, v text, PRIMARY KEY (id, region))
       PARTITION BY RANGE (region)" \
    "CREATE TABLE m_p1 PARTITION OF m FOR VALUES FROM (0) TO (10)" \
    "CREATE TABLE m_p2 PARTITION OF m FOR VALUES FROM (10) TO (20)" \
    'CREATE SCHEMA "my schema"' \
    'CREATE TABLE "my schema"."my table" (id int PRIMARY KEY, v text)' \
    'CREATE TABLE public."quo""te" (id int PRIMARY KEY, v text)' \
    'CREATE TABLE public."my.table" (id int PRIMARY KEY, v text)' \
    "INSERT INTO m VALUES (1, 1, 'snap')" \
    "INSERT INTO \"my schema\".\"my table\" VALUES (1, 'snap')"

P_TABLES="public.m, my schema.my table, 'public.\"quo\"\"te\"', 'public.\"my.table\"'" \
    P_SNAPSHOT=initial write_pipeline
cat >"$T/platform.yaml" <<YAML
transport_mode: kafka
health_enabled: false
kafka:
  bootstrap_servers: $B
  schema_registry_url: $SR
agent:
  status_interval_seconds: 1
YAML
cdc validate "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "validate accepts the names" "$CDC_RC" 0
agent_start
sql "INSERT INTO m VALUES (2, 12, 'stream')" "UPDATE m SET region = 3 WHERE id = 2" \
    "INSERT INTO \"my schema\".\"my table\" VALUES (2, 'stream')" \
    "INSERT INTO public.\"quo\"\"te\" VALUES (1, 'q')" \
    "INSERT INTO public.\"my.table\" VALUES (1, 'd')"

consume() {     # consume N TOPIC...
    "$PY" - "$B" "$SR" "$@" <<'PY'
import json, sys, time
from confluent_kafka import DeserializingConsumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
b, sr, want, topics = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
src = SchemaRegistryClient({"url": sr})
c = DeserializingConsumer({"bootstrap.servers": b, "group.id": "it065-%f" % time.time(),
                           "auto.offset.reset": "earliest",
                           "key.deserializer": AvroDeserializer(src),
                           "value.deserializer": AvroDeserializer(src)})
c.subscribe(topics)
out, deadline = [], time.time() + 90
while len(out) < want and time.time() < deadline:
    m = c.poll(0.5)
    if m is None or m.error():
        continue
    out.append({"topic": m.topic(), "key": m.key(), "value": m.value(),
                "headers": {k: v.decode() for k, v in (m.headers() or [])}})
c.close()
for r in sorted(out, key=lambda r: (int(r["headers"]["cdc.commit_lsn"]), int(r["headers"]["cdc.seq"]))):
    print(json.dumps(r))
PY
}
# m: r, c, then the move: d, tombstone, c; my table: r, c; quo"te: c; my.table: c (9)
consume 9 cdc.public.m cdc.my_schema.my_table cdc.public.quo_te cdc.public.my.table \
    >"$T/records.jsonl"
agent_stop
F=$T/records.jsonl
expect_eq "9 records" "$(line_count "$F")" 9
jl_check "topics as Debezium sanitises the names" "$F" \
    'sorted({e["topic"] for e in evs}) == ["cdc.my_schema.my_table", "cdc.public.m", "cdc.public.my.table", "cdc.public.quo_te"]'
jl_check "source.schema/table carry the real names" "$F" \
    'sorted({(e["value"]["source"]["schema"], e["value"]["source"]["table"]) for e in evs if e["value"]}) == [("my schema", "my table"), ("public", "m"), ("public", "my.table"), ("public", "quo\"te")]'
jl_check "the partitioned table: snapshot row, insert, and the row moved from m_p2 to m_p1 as d + c, all on m" "$F" \
    '[((e["value"] or {}).get("op", "T"), e["key"]) for e in evs if e["topic"] == "cdc.public.m"] == [("r", {"id": 1, "region": 1}), ("c", {"id": 2, "region": 12}), ("d", {"id": 2, "region": 12}), ("T", {"id": 2, "region": 12}), ("c", {"id": 2, "region": 3})]'
subjects=$(curl -sf "$SR/subjects")
for s in cdc.public.m cdc.my_schema.my_table cdc.public.quo_te cdc.public.my.table; do
    expect_contains "subjects of $s registered" "$subjects" "\"$s-value\""
done
check "no topic for a partition" bash -c "! '$PY' - '$B' <<'PY' | grep -q m_p
import sys
from confluent_kafka.admin import AdminClient
print('\n'.join(AdminClient({'bootstrap.servers': sys.argv[1]}).list_topics(timeout=10).topics))
PY"

done_testing
