#!/usr/bin/env bash
# 535: kinesis.serialization avro against moto and the Schema Registry double
# (test/doubles/schema_registry.py): Data is Confluent-framed Avro (magic 0, the value
# subject's schema id, Avro binary) that decodes with the registered schema to Debezium's
# envelope; the partition key is the base64 of the key's Avro bytes (one shard per key, in
# order); subjects "cdc.public.items-key"/"-value" are registered; a tombstone is empty Data.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/moto.sh"

MDIR=$T/moto
trap '_rc=$?; moto_kill "$MDIR" >/dev/null 2>&1; set +e; (exit $_rc); _cleanup' EXIT

SRPORT=$(free_port)
bg python3 "$CDC_SRC/test/doubles/schema_registry.py" --port "$SRPORT"
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$SRPORT/subjects" >/dev/null && break; sleep 0.1; done
SR=http://127.0.0.1:$SRPORT
pg_up
sql "CREATE TABLE items (id int PRIMARY KEY, name text)"
moto_start "$MDIR" "$(free_port)"
aws() { "$MOTO_PY" "$MOTO_AWS_READ" "$@"; }
P_TABLES="public.items" P_SNAPSHOT=never write_pipeline
cat >"$T/platform.yaml" <<YAML
transport_mode: kinesis
health_enabled: false
kafka:
  schema_registry_url: $SR
kinesis:
  json_schemas_enable: false
  shard_count: 2
  serialization: avro
wal_reader:
  slot_name: cdc_slot
  publication_name: cdc_publication
agent:
  status_interval_seconds: 1
  state_dir: $T
YAML
agent_start
sql "INSERT INTO items VALUES (1, 'one'), (2, 'two')" \
    "UPDATE items SET name = 'uno' WHERE id = 1" \
    "DELETE FROM items WHERE id = 2"
for _ in $(seq 100); do
    aws read cdc-public-items >"$T/r.jsonl" 2>/dev/null || true
    [ "$(line_count "$T/r.jsonl")" -ge 5 ] && break
    sleep 0.2
done
expect_eq "5 records (c, c, u, d, tombstone)" "$(line_count "$T/r.jsonl")" 5
expect_eq "subjects registered" "$(curl -sf "$SR/subjects" | python3 -c 'import json,sys; print(sorted(json.load(sys.stdin)))')" \
    "['cdc.public.items-key', 'cdc.public.items-value']"
expect_eq "Data: Confluent framing with the value subject's id; keys base64 Avro, in order per key" "$("$MOTO_PY" - "$T/r.jsonl" "$SR" <<'PY'
import base64, json, struct, sys, urllib.request
recs = [json.loads(l) for l in open(sys.argv[1])]
sr = sys.argv[2]
vid = json.load(urllib.request.urlopen(sr + "/subjects/cdc.public.items-value/versions/latest"))["id"]
ops, ok = {}, True
for r in sorted(recs, key=lambda r: (r["shard"], int(r["seq"]))):
    d = base64.b64decode(r["data_b64"])
    k = base64.b64decode(r["key"])          # the key's Avro bytes: id as a zigzag varint
    kid = (k[0] >> 1) ^ -(k[0] & 1)
    if d:
        ok &= d[0] == 0 and struct.unpack(">I", d[1:5])[0] == vid
    ops.setdefault(kid, []).append(len(d) > 0)
print(ok, sorted(ops.items()))
PY
)" "True [(1, [True, True]), (2, [True, True, False])]"
agent_stop
done_testing
