#!/usr/bin/env bash
# 530: `cdcagent run` with transport_mode kinesis against moto (test/lib/moto.sh): the
# streams are created (2 shards, "cdc-public-items"), a snapshot, inserts, multi-row
# transactions, updates, a delete with its tombstone, a primary-key change and a keyless
# row land as one record each: Data = Debezium's JSON value, PartitionKey = the JsonConverter
# key text ("default" without a key), a tombstone = empty Data.  Per key the records are in
# one shard in source order; replaying the stream gives SELECT's rows; a clean restart adds
# nothing; an existing stream is used as it is; heartbeats go to __debezium-heartbeat-cdc;
# transaction metadata (BEGIN/END) to cdc-transaction.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/moto.sh"

MDIR=$T/moto
trap '_rc=$?; moto_kill "$MDIR" >/dev/null 2>&1; set +e; (exit $_rc); _cleanup' EXIT

pg_up
sql "CREATE TABLE items (id int PRIMARY KEY, name text, n int)" \
    "CREATE TABLE nokey (a int, b text)" \
    "INSERT INTO items VALUES (1, 'one', 0), (2, 'two', 0)"
moto_start "$MDIR" "$(free_port)"
ok "moto $MOTO_VERSION"
aws() { "$MOTO_PY" "$MOTO_AWS_READ" "$@"; }
# aws_read STREAM OUT: read a whole stream, asking again if one read fails (moto is busy
# answering the agent's own read-back at a restart)
aws_read() {
    local i
    for i in 1 2 3 4 5; do
        aws read "$1" >"$2" 2>"$T/aws_read.err" && return 0
        sleep 0.5
    done
    fail "reading stream $1: $(cat "$T/aws_read.err")"
}
# The keyless table's stream exists already (1 shard): it must be used, not touched.
aws create-stream cdc-public-nokey 1 >/dev/null

P_TABLES="public.items, public.nokey" P_SOURCE_EXTRA="heartbeat_interval_ms: 500
provide_transaction_metadata: true" write_pipeline
cat >"$T/platform.yaml" <<YAML
transport_mode: kinesis
health_enabled: false
kinesis:
  region: eu-west-3
  shard_count: 2
  json_schemas_enable: true
wal_reader:
  slot_name: cdc_slot
  publication_name: cdc_publication
  batch_size: 50
agent:
  status_interval_seconds: 1
  state_dir: $T
YAML
agent_start
expect_contains "items stream created with 2 shards" "$(cat "$T/agent.log")" \
    "created stream cdc-public-items with 2 shards"
expect_contains "existing stream used as it is" "$(cat "$T/agent.log")" \
    "stream cdc-public-nokey exists (ACTIVE): used as it is"

ins=()
for i in $(seq 3 40); do ins+=("INSERT INTO items VALUES ($i, 'n$i', 0)"); done
sql "${ins[@]}"
sql "BEGIN; UPDATE items SET n = n + 1 WHERE id <= 20; UPDATE items SET n = n + 1 WHERE id <= 10; COMMIT;"
sql "DELETE FROM items WHERE id = 5"
sql "UPDATE items SET id = 100 WHERE id = 6"
sql "INSERT INTO nokey VALUES (1, 'x'), (2, 'y')"
sql "UPDATE items SET name = 'last' WHERE id = 1"
# 2 reads + 38 c + 20 u + 10 u + (d + tombstone) + (d + tombstone + c) + 1 u = 76 on items
WANT=76
for _ in $(seq 150); do
    aws_read cdc-public-items "$T/items.jsonl"
    [ "$(line_count "$T/items.jsonl")" -ge $WANT ] && break
    sleep 0.2
done
expect_eq "items records" "$(line_count "$T/items.jsonl")" $WANT
aws_read cdc-public-nokey "$T/nokey.jsonl"
expect_eq "nokey records (snapshot had none)" "$(line_count "$T/nokey.jsonl")" 2
expect_eq "items stream: 2 shards" \
    "$(aws describe-stream cdc-public-items | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["shards"]))')" 2
expect_eq "nokey stream untouched: 1 shard" \
    "$(aws describe-stream cdc-public-nokey | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["shards"]))')" 1

q() { python3 -c "
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
for r in recs:
    r['v'] = json.loads(r['data']) if r['data'] else None
    r['k'] = json.loads(r['key']) if r['key'] != 'default' else None
$2" "$1"; }

expect_eq "partition key is the JsonConverter key with schema" "$(q "$T/items.jsonl" '
r = recs[0]; print(sorted(r["k"]), r["k"]["schema"]["name"])')" "['payload', 'schema'] cdc.public.items.Key"
expect_eq "value is the Envelope with schema" "$(q "$T/items.jsonl" '
v = [r["v"] for r in recs if r["v"]][0]; print(v["schema"]["name"], v["payload"]["source"]["table"])')" \
    "cdc.public.items.Envelope items"
expect_eq "per key: one shard, source order never inverted" "$(q "$T/items.jsonl" '
by = {}
for r in recs:
    by.setdefault(r["key"], []).append(r)
bad = 0
for v in by.values():
    if len({r["shard"] for r in v}) != 1: bad += 1
    v.sort(key=lambda r: int(r["seq"]))
    pos = [(r["v"]["payload"]["source"]["lsn"] or 0) for r in v if r["v"]]
    if pos != sorted(pos): bad += 1
print(bad)')" 0
expect_eq "delete of 5: c u u d, then the tombstone (empty data, same key)" "$(q "$T/items.jsonl" '
v = sorted([r for r in recs if r["k"]["payload"]["id"] == 5], key=lambda r: int(r["seq"]))
print([r["v"]["payload"]["op"] if r["v"] else repr(r["data"]) for r in v])')" "['c', 'u', 'u', 'd', \"''\"]"
expect_eq "key change 6 -> 100: d + tombstone on 6, c on 100" "$(q "$T/items.jsonl" '
a = [r["v"]["payload"]["op"] if r["v"] else None for r in sorted([r for r in recs if r["k"]["payload"]["id"] == 6], key=lambda r: int(r["seq"]))]
b = [r["v"]["payload"]["op"] for r in recs if r["k"]["payload"]["id"] == 100]
print(a, b)')" "['c', 'u', 'u', 'd', None] ['c']"
expect_eq "keyless rows: partition key default" "$(q "$T/nokey.jsonl" '
print(sorted(r["key"] for r in recs), sorted(r["v"]["payload"]["after"]["a"] for r in recs))')" \
    "['default', 'default'] [1, 2]"
# Replay: the last record of each key gives the table.
expect_eq "replaying the stream gives SELECT" "$(q "$T/items.jsonl" '
state = {}
for r in sorted(recs, key=lambda r: (r["shard"], int(r["seq"]))):
    k = r["k"]["payload"]["id"]
    if r["v"] is None or r["v"]["payload"]["op"] == "d": state.pop(k, None)
    else: state[k] = r["v"]["payload"]["after"]
print("|".join("%d,%s,%d" % (a["id"], a["name"], a["n"]) for _, a in sorted(state.items())))')" \
    "$(sql "SELECT string_agg(format('%s,%s,%s', id, name, n), '|' ORDER BY id) FROM items")"

agent_stop
agent_start
sql "INSERT INTO items VALUES (200, 'after restart', 0)"
for _ in $(seq 100); do
    aws_read cdc-public-items "$T/items2.jsonl"
    [ "$(line_count "$T/items2.jsonl")" -ge $((WANT + 1)) ] && break
    sleep 0.2
done
sleep 1
aws_read cdc-public-items "$T/items2.jsonl"
expect_eq "a clean restart re-sends nothing" "$(line_count "$T/items2.jsonl")" $((WANT + 1))
aws_read cdc-transaction "$T/tx.jsonl"
# BEGIN and END of a transaction have different ids, so different partition keys (Debezium
# 2.7 names them "xid:lsn" with BEGIN's and END's own LSN): their relative order is not kept.
expect_eq "transaction metadata: one BEGIN and one END per transaction, END's count = its events in cdc-public-items" "$(python3 -c '
import json, sys
tx = [json.loads(l) for l in open(sys.argv[1])]
items = [json.loads(l) for l in open(sys.argv[2])]
by = {}
for r in sorted(tx, key=lambda r: (r["shard"], int(r["seq"]))):
    v = json.loads(r["data"])["payload"]
    by.setdefault(v["id"].split(":")[0], []).append(v)   # Debezium: "xid:lsn", lsn differs
n = {}
for r in items:
    if r["data"]:
        t = json.loads(r["data"])["payload"].get("transaction")
        if t: n[t["id"].split(":")[0]] = n.get(t["id"].split(":")[0], 0) + 1
bad = [i for i, v in by.items() if sorted(x["status"] for x in v) != ["BEGIN", "END"] or
       sum(c["event_count"] for x in v if x["status"] == "END" for c in x["data_collections"]
           if c["data_collection"] == "public.items") != n.get(i, 0)]
print(len(by) >= 6, bad)' "$T/tx.jsonl" "$T/items2.jsonl")" "True []"
aws_read __debezium-heartbeat-cdc "$T/hb.jsonl"
expect_eq "heartbeats in __debezium-heartbeat-cdc: ServerNameKey, Heartbeat ts_ms" "$(python3 -c '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
k = json.loads(recs[0]["key"]); v = json.loads(recs[0]["data"])
print(len(recs) > 0, k["payload"], sorted(v["payload"]))' "$T/hb.jsonl")" "True {'serverName': 'cdc'} ['ts_ms']"
agent_stop
done_testing
