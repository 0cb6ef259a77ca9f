#!/usr/bin/env bash
# `cdcagent run` with transport_mode pubsub against the Pub/Sub REST TEST DOUBLE
# (test/doubles/pubsub.py; not the service, which cannot run here): a snapshot, inserts, an
# update, a delete with its tombstone, a primary-key change and a keyless table land on
# "cdc-public-<table>" with Debezium's JSON value as data, the position attributes
# (cdc.commit_lsn, cdc.seq, cdc.xid), the content type, __debezium.newkey/oldkey on a key
# change, and the key's JSON as ordering key ("default" for a null key). Start-up created
# each topic, its -dlq companion and the subscriptions (ordering, dead-letter policy). Read
# back through the double's pull API: per key the positions increase, replaying the values
# gives the SELECT, and the slot confirms the end of the load. Heartbeats go to
# "debezium-heartbeat-cdc" (a Pub/Sub id starts with a letter), transaction metadata to
# "cdc-transaction".
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/pubsub.sh"
. "$CDC_SRC/test/lib/pubsub_it.sh"
READ=$CDC_SRC/test/lib/pubsub_read.py
PS=$T/pubsub
PROJECT=test-project

ps_double_up --ordering-check strict
ok "Pub/Sub double on $PUBSUB_EMULATOR_HOST"

pg_up
sql "CREATE TABLE customers (id int PRIMARY KEY, name text, note text)" \
    "CREATE TABLE nokey (v int)" \
    "INSERT INTO customers SELECT g, 'name ' || g, NULL FROM generate_series(1, 3) g"
P_TABLES="public.customers, public.nokey" P_SNAPSHOT=initial \
    P_SOURCE_EXTRA="heartbeat_interval_ms: 300
provide_transaction_metadata: true" write_pipeline
cat >"$T/platform.yaml" <<YAML
transport_mode: pubsub
health_enabled: false
pubsub:
  json_schemas_enable: false
  project_id: $PROJECT
  ordering_enabled: true
wal_reader:
  slot_name: cdc_slot
  publication_name: cdc_publication
  batch_size: 100
  batch_timeout_seconds: 0.2
agent:
  status_interval_seconds: 1
  state_dir: $T
YAML
ps_agent_start

sql "INSERT INTO customers SELECT g, 'name ' || g, 'ü \"quoted\" 😀' FROM generate_series(4, 50) g" \
    "UPDATE customers SET name = 'changed' WHERE id = 2" \
    "DELETE FROM customers WHERE id = 1" \
    "UPDATE customers SET id = 52 WHERE id = 3" \
    "INSERT INTO nokey VALUES (7)"
END_LSN=$(sql_su "SELECT pg_current_wal_insert_lsn()")

SUBS="cdc-public-customers-cdc-platform cdc-public-nokey-cdc-platform"
OUT=$T/pulled.jsonl
: >"$OUT"
want=57     # customers: 3 r + 47 c + u + d + T + (d, T, c) of the key change; nokey: 1 c
deadline=$((SECONDS + 40))
# shellcheck disable=SC2086
while n=$(python3 "$READ" pull "$PUBSUB_EMULATOR_HOST" "$PROJECT" "$OUT" $SUBS); [ "$n" -lt "$want" ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "only $n of $want messages pulled after 40 s"
    sleep 0.3
done
deadline=$((SECONDS + 20))
until [ "$(sql_su "SELECT confirmed_flush_lsn >= '$END_LSN' FROM pg_replication_slots
                   WHERE slot_name = 'cdc_slot'")" = t ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "slot not confirmed up to $END_LSN after 20 s"
    sleep 0.2
done
ok "the slot confirmed the end of the load ($END_LSN)"
sleep 0.5
# shellcheck disable=SC2086
expect_eq "message count (nothing more arrives)" \
    "$(python3 "$READ" pull "$PUBSUB_EMULATOR_HOST" "$PROJECT" "$OUT" $SUBS)" "$want"

subs=$(pubsub_api "$PS" GET "/v1/projects/$PROJECT/subscriptions")
q() { python3 -c "
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
subs = json.loads(sys.argv[2]).get('subscriptions', [])
$1" "$OUT" "$subs"; }
topics=$(pubsub_api "$PS" GET "/v1/projects/$PROJECT/topics")
for t in cdc-public-customers cdc-public-customers-dlq cdc-public-nokey cdc-public-nokey-dlq; do
    expect_contains "topic $t created" "$topics" "\"projects/$PROJECT/topics/$t\""
done
expect_eq "subscription of cdc-public-customers: ordering, dead-letter policy, ack deadline" \
    "$(q 's = [s for s in subs if s["name"].endswith("/cdc-public-customers-cdc-platform")][0]
print(s["topic"].split("/")[-1], s.get("enableMessageOrdering"), s["deadLetterPolicy"]["deadLetterTopic"].split("/")[-1], s["deadLetterPolicy"]["maxDeliveryAttempts"], s["ackDeadlineSeconds"])')" \
    "cdc-public-customers True cdc-public-customers-dlq 5 600"
expect_eq "the dead-letter topic has a subscription too" \
    "$(q 'print(any(s["name"].endswith("/cdc-public-customers-dlq-cdc-platform") for s in subs))')" True
grep -q "created topic projects/$PROJECT/topics/cdc-public-customers" "$T/agent.log" &&
    ok "the agent logged what it created" || fail "no 'created topic' line in agent.log"

check "per ordering key the positions strictly increase, no duplicate" \
    python3 "$READ" order "$OUT"
expect_eq "ops of customers 1 (snapshot, delete, tombstone)" \
    "$(q 'print([r["op"] for r in recs if r["sub"].startswith("cdc-public-customers") and r["key"] == 1])')" \
    "['r', 'd', 'T']"
expect_eq "ordering key is the key's JSON" \
    "$(q 'print(sorted({r["okey"] for r in recs if r["key"] == 2}))')" "['{\"id\":2}']"
expect_eq "keyless table: ordering key \"default\" (Debezium Server's null.key)" \
    "$(q 'print([r["okey"] for r in recs if r["sub"].startswith("cdc-public-nokey")])')" "['default']"
expect_eq "attributes of a streamed change" \
    "$(q 'r = [r for r in recs if r["op"] == "u"][0]; print(sorted(r["attrs"]))')" \
    "['cdc.commit_lsn', 'cdc.content_type', 'cdc.seq', 'cdc.xid']"
expect_eq "content type" "$(q 'print({r["attrs"]["cdc.content_type"] for r in recs})')" \
    "{'application/json'}"
expect_eq "key change: d carries __debezium.newkey, c carries __debezium.oldkey" \
    "$(q '
d = [r for r in recs if "__debezium.newkey" in r["attrs"]]
c = [r for r in recs if "__debezium.oldkey" in r["attrs"]]
print(d[0]["attrs"]["__debezium.newkey"], d[0]["op"], c[0]["attrs"]["__debezium.oldkey"], c[0]["op"])')" \
    '{"id":52} d {"id":3} c'
expect_eq "tombstone: empty data, same ordering key, after its delete" \
    "$(q 'ts = [r for r in recs if r["op"] == "T"]; print(len(ts), sorted(r["okey"] for r in ts))')" \
    "2 ['{\"id\":1}', '{\"id\":3}']"
expect_eq "value is Debezium's envelope (source.name, source.table, non-ASCII kept)" \
    "$(q 'r = [r for r in recs if r["key"] == 4][0]; v = json.loads(r["data"]); print(v["source"]["name"], v["source"]["table"], v["after"]["note"])')" \
    'cdc customers ü "quoted" 😀'
sql_su "SELECT json_build_object('customers', (SELECT coalesce(json_agg(c), '[]') FROM customers c))" \
    >"$T/source.json"
expect_eq "replaying the values gives the table" \
    "$(q '
src = json.load(open("'"$T"'/source.json"))["customers"]
rows = {}
for r in recs:
    if not r["sub"].startswith("cdc-public-customers"): continue
    v = json.loads(r["data"]) if r["data"] else None
    if v and v["op"] in "cru": rows[v["after"]["id"]] = v["after"]
    elif v and v["op"] == "d": rows.pop(v["before"]["id"], None)
print(sorted(rows.values(), key=lambda x: x["id"]) == sorted(src, key=lambda x: x["id"]), len(rows))')" \
    "True 49"
HB=$T/heartbeats.jsonl
: >"$HB"
python3 "$READ" pull "$PUBSUB_EMULATOR_HOST" "$PROJECT" "$HB" debezium-heartbeat-cdc-cdc-platform >/dev/null
expect_eq "heartbeats on debezium-heartbeat-cdc (Debezium's Heartbeat value)" \
    "$(python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; print(len(r) > 0, all(sorted(json.loads(x["data"])) == ["ts_ms"] for x in r))' "$HB")" \
    "True True"
TX=$T/tx.jsonl
: >"$TX"
python3 "$READ" pull "$PUBSUB_EMULATOR_HOST" "$PROJECT" "$TX" cdc-transaction-cdc-platform >/dev/null
expect_eq "transaction metadata on cdc-transaction: BEGIN, END of the 5 transactions in commit order" \
    "$(python3 -c '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
v = [json.loads(x["data"]) for x in r]
print([x["status"] for x in v] == ["BEGIN", "END"] * 5,
      all(v[i]["id"].split(":")[0] == v[i + 1]["id"].split(":")[0] for i in range(0, len(v), 2)),
      [x["event_count"] for x in v if x["status"] == "END"], {x["okey"] for x in r},
      [(x["lsn"], x["seq"]) for x in r] == sorted((x["lsn"], x["seq"]) for x in r))' "$TX")" \
    "True True [47, 1, 1, 2, 1] {'default'} True"
expect_eq "data events carry the envelope's transaction block" \
    "$(q 'print(all(json.loads(r["data"]).get("transaction") for r in recs if r["op"] in ("c", "u", "d")))')" True
stats=$(pubsub_knob "$PS" GET stats)
expect_eq "no ordering violation seen by the double's strict check" \
    "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("ordering_violations", 0))' "$stats")" 0
agent_stop
pubsub_stop "$PS"
done_testing
