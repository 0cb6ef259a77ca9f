#!/usr/bin/env bash
# The Kafka destination against a real Apache Kafka 3.7.1 broker (KRaft, test/lib/kafka.sh):
# inserts, an update, a delete with its tombstone, a primary-key change and a keyless row land
# in "{prefix}.{schema}.{table}" with JsonConverter keys (schemas.enable=true), in the
# partition Kafka's Java producer would pick (murmur2 of the key bytes, computed here in
# Python), with the cdc.* position headers and Debezium's __debezium.oldkey/newkey headers.
# Driven by test/tools/kafka_dest_drive until the agent's run loop opens the Kafka
# destination; then the same checks apply to `cdcagent run` with transport_mode: kafka.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/kafka.sh"

BUILD=${CDC_BUILD:-$CDC_SRC/build}
DRIVE=$BUILD/kafka_dest_drive
KAFKA_PROBE=$BUILD/kafka_probe
KDIR=$T/kafka
trap '_rc=$?; kafka_kill "$KDIR" >/dev/null 2>&1; set +e; (exit $_rc); _cleanup' EXIT

KPORT=$(free_port)
kafka_start "$KDIR" "$KPORT"
ok "kafka $KAFKA_VERSION broker on 127.0.0.1:$KPORT"
B=127.0.0.1:$KPORT

"$DRIVE" "$B" it 50 4 >"$T/drive.out" 2>"$T/agent.log"
expect_contains "driver reached the end" "$(cat "$T/drive.out")" "durable "

topics=$("$KAFKA_PROBE" -b "$B" topics)
for t in it.public.items it.public.items.dlq it.public.nokey it.message; do
    expect_contains "topic $t exists" "$topics" "\"topic\":\"$t\",\"partitions\":4"
done

"$KAFKA_PROBE" -b "$B" dump it.public.items it.public.nokey it.message >"$T/dump.jsonl"
expect_eq "record count" "$(line_count "$T/dump.jsonl")" 58
check "keyed records are in murmur2(key) % 4" \
    python3 "$CDC_SRC/test/lib/kafka_records.py" check-partitions 4 <"$T/dump.jsonl"
check "positions unique and ordered per partition" \
    python3 "$CDC_SRC/test/lib/kafka_records.py" exactly-once <"$T/dump.jsonl"

q() { python3 -c "
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
$1" "$T/dump.jsonl"; }

expect_eq "creates" "$(python3 "$CDC_SRC/test/lib/kafka_records.py" ids it.public.items c <"$T/dump.jsonl" | wc -w)" 51
expect_eq "key is the JsonConverter key with schema" \
    "$(q 'r = [r for r in recs if r["topic"] == "it.public.items"][0]; k = json.loads(r["key"]); print(k["schema"]["name"], sorted(k["payload"]))')" \
    "it.public.items.Key ['id']"
expect_eq "value has schema and payload" \
    "$(q 'r = [r for r in recs if r["topic"] == "it.public.items" and r["value"]][0]; v = json.loads(r["value"]); print(v["schema"]["name"], v["payload"]["source"]["name"])')" \
    "it.public.items.Envelope it"
expect_eq "every record has cdc.commit_lsn, cdc.seq, cdc.xid" \
    "$(q 'print(all(set(["cdc.commit_lsn", "cdc.seq", "cdc.xid"]) <= set(r["headers"]) for r in recs))')" True
expect_eq "delete of id 1 is followed by its tombstone (same key, null value)" \
    "$(q '
k1 = [r for r in recs if r["topic"] == "it.public.items" and json.loads(r["key"])["payload"]["id"] == 1]
k1.sort(key=lambda r: r["offset"])
print([json.loads(r["value"])["payload"]["op"] if r["value"] else None for r in k1])')" \
    "['c', 'd', None]"
expect_eq "key change: d carries __debezium.newkey, c carries __debezium.oldkey" \
    "$(q '
d = [r for r in recs if r["headers"].get("__debezium.newkey")]
c = [r for r in recs if r["headers"].get("__debezium.oldkey")]
print(d[0]["headers"]["__debezium.newkey"], json.loads(d[0]["value"])["payload"]["op"],
      c[0]["headers"]["__debezium.oldkey"], json.loads(c[0]["value"])["payload"]["op"])')" \
    '{"id":52} d {"id":2} c'
expect_eq "keyless row has a null key" \
    "$(q 'print([r["key"] for r in recs if r["topic"] == "it.public.nokey"])')" "[None]"
expect_eq "logical message on {prefix}.message with MessageKey" \
    "$(q 'r = [r for r in recs if r["topic"] == "it.message"][0]; print(json.loads(r["key"])["payload"])')" \
    "{'prefix': 'p'}"

# A second run re-sends the same stream: every partition already holds it.
"$DRIVE" "$B" it 50 4 >"$T/drive2.out" 2>>"$T/agent.log"
"$KAFKA_PROBE" -b "$B" dump it.public.items it.public.nokey it.message >"$T/dump2.jsonl"
expect_eq "replaying the stream adds nothing" "$(line_count "$T/dump2.jsonl")" 58

kafka_stop "$KDIR"
done_testing
