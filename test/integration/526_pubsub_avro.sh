#!/usr/bin/env bash
# pubsub.serialization avro: the data of every message is Confluent's Avro wire format (magic
# byte, schema id, Avro binary) with the schemas registered with the Schema Registry double
# (test/doubles/schema_registry.py) under Debezium's subjects ("cdc.public.customers-value"),
# the attributes carry cdc.content_type application/avro and the key and value schema ids,
# and the ordering key is "sha256:<hex>" of the binary key (Pub/Sub ordering keys are text).
# Decoded independently with fastavro and the registry's schema: the rows that were written.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/pubsub.sh"
. "$CDC_SRC/test/lib/pubsub_it.sh"
. "$CDC_SRC/test/lib/py.sh"
READ=$CDC_SRC/test/lib/pubsub_read.py
PS=$T/pubsub
PROJECT=test-project

py_env || fail "python venv with fastavro"
SRPORT=$(free_port)
bg python3 "$CDC_SRC/test/doubles/schema_registry.py" --port "$SRPORT"
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$SRPORT/subjects" >/dev/null && break; sleep 0.1; done
SR=http://127.0.0.1:$SRPORT
ps_double_up

pg_up
sql "CREATE TABLE customers (id int PRIMARY KEY, name text, balance numeric(10,2))"
P_TABLES=public.customers P_SNAPSHOT=never write_pipeline
cat >"$T/platform.yaml" <<YAML
transport_mode: pubsub
health_enabled: false
pubsub:
  json_schemas_enable: false
  project_id: $PROJECT
  serialization: avro
kafka:
  schema_registry_url: $SR
wal_reader:
  batch_timeout_seconds: 0.1
agent:
  status_interval_seconds: 1
  state_dir: $T
YAML
ps_agent_start
sql "INSERT INTO customers VALUES (1, 'Alice', 12.50), (2, 'Bob', 3.00)" \
    "UPDATE customers SET name = 'Bobby' WHERE id = 2"
OUT=$T/pulled.jsonl
: >"$OUT"
deadline=$((SECONDS + 30))
while n=$(python3 "$READ" pull "$PUBSUB_EMULATOR_HOST" "$PROJECT" "$OUT" cdc-public-customers-cdc-platform);
      [ "$n" -lt 3 ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "only $n of 3 messages after 30 s"
    sleep 0.3
done
agent_stop
expect_contains "subjects registered under Debezium's topic name" \
    "$(curl -s "$SR/subjects")" '"cdc.public.customers-value"'
res=$("$PY" - "$OUT" "$SR" <<'PY'
import io, json, struct, sys, urllib.request
import fastavro
recs = [json.loads(l) for l in open(sys.argv[1])]
out = []
for r in recs:
    a = r["attrs"]
    out.append((a["cdc.content_type"], "cdc.key_schema_id" in a, "cdc.value_schema_id" in a,
                r["okey"].startswith("sha256:") and len(r["okey"]) == 71))
print(sorted(set(out)))
PY
)
expect_eq "Avro attributes and hashed ordering keys" "$res" "[('application/avro', True, True, True)]"
res=$("$PY" - "$PUBSUB_EMULATOR_HOST" "$PROJECT" "$SR" <<'PY'
import base64, io, json, struct, sys, urllib.request
import fastavro
host, project, sr = sys.argv[1:4]
msgs = json.load(urllib.request.urlopen(
    "http://%s/_double/messages?topic=projects/%s/topics/cdc-public-customers" % (host, project)))["messages"]
rows = []
for m in msgs:
    data = base64.b64decode(m["data"])
    magic, sid = struct.unpack(">bI", data[:5])
    assert magic == 0 and str(sid) == m["attributes"]["cdc.value_schema_id"], (magic, sid)
    schema = json.loads(json.load(urllib.request.urlopen("%s/schemas/ids/%d" % (sr, sid)))["schema"])
    v = fastavro.schemaless_reader(io.BytesIO(data[5:]), fastavro.parse_schema(schema))
    rows.append((v["op"], v["after"]["id"], v["after"]["name"]))
# Pub/Sub orders messages per ordering key only (the agent publishes keys concurrently): a
# stable sort by key keeps each key's own order and compares that
rows.sort(key=lambda r: r[1])
print(rows)
PY
)
expect_eq "decoded with fastavro and the registry's schema" "$res" \
    "[('c', 1, 'Alice'), ('c', 2, 'Bob'), ('u', 2, 'Bobby')]"
pubsub_stop "$PS"
done_testing
