#!/usr/bin/env bash
# `cdcagent run` with transport_mode kafka and serialization avro, against a real Kafka 3.7.1
# broker and the Schema Registry double (test/doubles/schema_registry.py): the platform's
# own consumer stack (confluent-kafka's DeserializingConsumer with AvroDeserializer) reads
# back what Debezium would have written for the same changes; the subjects are registered
# under {topic}-key / {topic}-value; an ALTER TABLE registers a new version; a SIGKILL and
# restart leave every change in the topic exactly once.  Transaction metadata is on: the
# envelope's transaction block and the BEGIN/END records of cdc.transaction decode with the
# registered schemas, and the restart writes none of them twice.
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
sql "CREATE TABLE customers (id serial PRIMARY KEY, name text, email varchar(255),
                             balance numeric(10,2), created_at timestamptz)"
P_TABLES=public.customers P_SNAPSHOT=never P_SOURCE_EXTRA='provide_transaction_metadata: true' \
    write_pipeline
cat >"$T/platform.yaml" <<YAML
transport_mode: kafka
health_enabled: false
kafka:
  bootstrap_servers: $B
  schema_registry_url: $SR
  topic_num_partitions: 3
agent:
  status_interval_seconds: 1
YAML
agent_start
sql "INSERT INTO customers (name, email, balance, created_at)
     VALUES ('Alice', 'alice@example.com', 12.50, '2024-05-01 10:15:30.123456+00')" \
    "UPDATE customers SET balance = 99.99, email = 'a@x.io' WHERE id = 1" \
    "DELETE FROM customers WHERE id = 1" \
    "ALTER TABLE customers ADD COLUMN tier int" \
    "INSERT INTO customers (name, tier) SELECT 'n' || i, i FROM generate_series(2, 41) i"

consume() {     # consume N [TOPIC]
    "$PY" - "$B" "$SR" "$1" "${2:-cdc.public.customers}" <<'PY'
import json, sys, time
from decimal import Decimal
from confluent_kafka import DeserializingConsumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
b, sr, want, topic = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
src = SchemaRegistryClient({"url": sr})
c = DeserializingConsumer({"bootstrap.servers": b, "group.id": "it230-%f" % time.time(),
                           "auto.offset.reset": "earliest",
                           "key.deserializer": AvroDeserializer(src),
                           "value.deserializer": AvroDeserializer(src)})
c.subscribe([topic])
out, deadline = [], time.time() + 60
while len(out) < want and time.time() < deadline:
    m = c.poll(0.5)
    if m is None or m.error():
        continue
    out.append({"key": m.key(), "value": m.value(), "partition": m.partition(),
                "headers": {k: v.decode() for k, v in (m.headers() or [])}})
c.close()
def enc(o):
    if isinstance(o, Decimal):
        return "Decimal:" + str(o)
    raise TypeError(repr(o))
for r in sorted(out, key=lambda r: (int(r["headers"]["cdc.commit_lsn"]), int(r["headers"]["cdc.seq"]))):
    print(json.dumps(r, default=enc))
PY
}
consume 44 >"$T/records.jsonl"
F=$T/records.jsonl
expect_eq "44 records (c, u, d, tombstone, 40 c)" "$(line_count "$F")" 44
jl_check "ops in order: c u d tombstone c*40" "$F" \
    '[(e["value"] or {}).get("op", "T") for e in evs] == ["c", "u", "d", "T"] + ["c"] * 40'
jl_check "the insert as the platform's Avro consumer decodes it" "$F" \
    'evs[0]["key"] == {"id": 1} and evs[0]["value"]["after"] == {"id": 1, "name": "Alice", "email": "alice@example.com", "balance": "Decimal:12.50", "created_at": "2024-05-01T10:15:30.123456Z"}'
jl_check "source block (2.7 profile) and the update's new values" "$F" \
    'evs[1]["value"]["source"]["connector"] == "postgresql" and evs[1]["value"]["source"]["snapshot"] == "false" and evs[1]["value"]["after"]["balance"] == "Decimal:99.99" and evs[1]["value"]["before"] is None'
jl_check "the delete has the key in before; the tombstone has the key and no value" "$F" \
    'evs[2]["value"]["before"]["id"] == 1 and evs[3]["key"] == {"id": 1} and evs[3]["value"] is None'
jl_check "rows after ALTER TABLE carry the new column" "$F" \
    'all(e["value"]["after"]["tier"] == e["key"]["id"] for e in evs[4:])'
jl_check "every streamed event carries its transaction block (id xid:lsn, orders from 1)" "$F" \
    'all(e["value"] is None or (e["value"]["transaction"]["id"] == e["headers"]["cdc.xid"] + ":" + str(e["value"]["source"]["lsn"]) and e["value"]["transaction"]["total_order"] == e["value"]["transaction"]["data_collection_order"]) for e in evs) and [e["value"]["transaction"]["total_order"] for e in evs[4:]] == list(range(1, 41))'
subjects=$(curl -sf "$SR/subjects")
expect_contains "key subject registered" "$subjects" '"cdc.public.customers-key"'
expect_contains "value subject registered" "$subjects" '"cdc.public.customers-value"'
expect_eq "ALTER TABLE registered a second value version" \
    "$(curl -sf "$SR/subjects/cdc.public.customers-value/versions" | tr -d " ")" "[1,2]"
expect_eq "the key schema did not change" \
    "$(curl -sf "$SR/subjects/cdc.public.customers-key/versions" | tr -d " ")" "[1]"

# Exactly once across a SIGKILL: kill, write more, restart; every id appears once as c.
agent_kill9
deadline=$((SECONDS + 30))
while [ "$(slot_field cdc_slot active)" = t ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "slot still active 30 s after kill -9"; sleep 0.2
done
sql "INSERT INTO customers (name, tier) SELECT 'm' || i, i FROM generate_series(42, 61) i"
agent_start
consume 64 >"$T/records2.jsonl"
agent_stop
jl_check "64 records after the restart; ids 2..61 created exactly once" "$T/records2.jsonl" \
    'len(evs) == 64 and sorted(e["key"]["id"] for e in evs[4:]) == list(range(2, 62))'
# Five transactions with events (insert, update, delete, 40 inserts, 20 inserts): a BEGIN
# and an END each, once, in order; END counts the events per table.
consume 10 cdc.transaction >"$T/tx.jsonl"
jl_check "cdc.transaction: BEGIN/END of each transaction exactly once across the SIGKILL" "$T/tx.jsonl" \
    '[e["value"]["status"] for e in evs] == ["BEGIN", "END"] * 5 and len({e["headers"]["cdc.xid"] for e in evs}) == 5 and all(e["key"]["id"] == e["value"]["id"] and e["value"]["id"].split(":")[0] == e["headers"]["cdc.xid"] for e in evs)'
jl_check "END records: event_count and data_collections per transaction" "$T/tx.jsonl" \
    '[(e["value"]["event_count"], e["value"]["data_collections"]) for e in evs[1::2]] == [(n, [{"data_collection": "public.customers", "event_count": n}]) for n in (1, 1, 1, 40, 20)] and all(e["value"]["event_count"] is None and e["value"]["data_collections"] is None for e in evs[0::2])'
expect_eq "and nothing more in cdc.transaction" \
    "$("$PY" "$CDC_SRC/test/lib/kafka_dump.py" --bootstrap "$B" --timeout 10 cdc.transaction | wc -l)" 10
expect_contains "the transaction topic's subjects are registered" "$(curl -sf "$SR/subjects")" '"cdc.transaction-value"'
done_testing
