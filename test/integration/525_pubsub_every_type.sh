#!/usr/bin/env bash
# Every type through Pub/Sub: the every_type fixture's rows (a column of every type
# CONTRACT.md 4.1 maps: test/fixtures/debezium_workload.sh, checked field by field against a
# SELECT by 110) are snapshotted twice from the same database: once by `cdcagent run` in
# direct mode into the jsonl sink (the JsonConverter rendering that 110 checks and that the
# Kafka transport sends), once in transport_mode pubsub into the REST TEST DOUBLE, each on
# its own slot. The `after` of every row read back from Pub/Sub (base64 data decoded) must be
# identical to the jsonl sink's, and the key the same as the ordering key: nothing is lost
# or changed on the way through the REST API (non-ASCII, huge numerics, NaN, bytes...).
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/pubsub.sh"
. "$CDC_SRC/test/lib/pubsub_it.sh"
# shellcheck source=SCRIPTDIR/../fixtures/debezium_workload.sh
. "$CDC_SRC/test/fixtures/debezium_workload.sh"
READ=$CDC_SRC/test/lib/pubsub_read.py
PS=$T/pubsub
PROJECT=test-project

pg_up
fixture_every_type_table
sql "INSERT INTO every_type VALUES $ROW1, $ROW2, $ROW3, $ROW4"
sql "INSERT INTO every_type (id, c_varbit) VALUES (5, B'')"

# 1. direct mode, jsonl sink, slot cdc_slot
P_TABLES=public.every_type P_SNAPSHOT=initial write_pipeline
write_platform
ps_agent_start
wait_lines "$EVENTS" 5 60
agent_stop

# 2. pubsub, slot cdc_slot2
ps_double_up
P_TABLES=public.every_type P_SNAPSHOT=initial P_SLOT=cdc_slot2 write_pipeline
cat >"$T/platform.yaml" <<YAML
transport_mode: pubsub
health_enabled: false
pubsub:
  json_schemas_enable: false
  project_id: $PROJECT
wal_reader:
  slot_name: cdc_slot2
  publication_name: cdc_publication
  batch_timeout_seconds: 0.1
agent:
  status_interval_seconds: 1
  state_dir: $T/ps
YAML
mkdir -p "$T/ps"
P_SLOT=cdc_slot2 ps_agent_start
OUT=$T/pulled.jsonl
: >"$OUT"
deadline=$((SECONDS + 40))
while n=$(python3 "$READ" pull "$PUBSUB_EMULATOR_HOST" "$PROJECT" "$OUT" cdc-public-every_type-cdc-platform);
      [ "$n" -lt 5 ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "only $n of 5 rows pulled after 40 s"
    sleep 0.3
done
agent_stop
expect_eq "5 messages" "$n" 5
res=$(python3 - "$EVENTS" "$OUT" <<'PY'
import json, sys
jl = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ps = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
want = {e["value"]["after"]["id"]: e for e in jl if e["value"]["op"] == "r"}
bad = []
for r in ps:
    v = json.loads(r["data"])
    i = v["after"]["id"]
    w = want.get(i)
    if w is None:
        bad.append("id %s not in the jsonl output" % i)
        continue
    if v["after"] != w["value"]["after"]:
        diff = [k for k in v["after"] if v["after"][k] != w["value"]["after"].get(k)]
        bad.append("id %s: columns differ: %s" % (i, diff))
    if json.loads(r["okey"]) != w["key"]:
        bad.append("id %s: ordering key %s, jsonl key %s" % (i, r["okey"], w["key"]))
    if v["op"] != "r" or v["source"]["table"] != "every_type":
        bad.append("id %s: op %s" % (i, v["op"]))
print("; ".join(bad) if bad else "same")
PY
)
expect_eq "Pub/Sub's after-images and keys equal the jsonl sink's, column by column" "$res" same
pubsub_stop "$PS"
done_testing
