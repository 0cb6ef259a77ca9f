#!/usr/bin/env bash
# 300: the webhook sink against a real HTTP receiver (test/doubles/webhook_receiver.py).
# Part 1 drives sinks/webhook/webhook.c directly (test/tools/sink_drive): the first requests get
# 500 and are retried, every event of id 7 gets 400 and is dead-lettered with the dlq.*
# fields, per-key order holds with several requests in flight, Idempotency-Key is
# <pipeline>-<commit_lsn hex>-<seq>; then a receiver that is not up yet (connection
# refused) only delays delivery.  Part 2 runs cdcagent with transport_mode direct and
# sink_type webhook, and is skipped while this build's config rejects that sink.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

DRIVE=${CDC_BUILD:-$CDC_SRC/build}/sink_drive
RECV=$CDC_SRC/test/doubles/webhook_receiver.py
[ -x "$DRIVE" ] || fail "no $DRIVE (build the test tools)"

recv_start() {   # recv_start LOG ARGS...: sets RPORT
    local log=$1
    shift
    rm -f "$T/rport"
    bg python3 "$RECV" --log "$log" --port-file "$T/rport" "$@"
    for _ in $(seq 50); do [ -s "$T/rport" ] && break; sleep 0.1; done
    RPORT=$(cat "$T/rport")
}

note "part 1: retries, dead letters, order"
recv_start "$T/req1.jsonl" --fail-first 4 --reject '"key":{"id":7}'
"$DRIVE" webhook "http://127.0.0.1:$RPORT/events" --events 200 --txn 10 --keys 10 \
    --inflight 8 --attempts 3 --initial-ms 50 --max-ms 200 --dlq "$T/dlq.jsonl" \
    --pipeline it-300 >"$T/drive1.out" 2>"$T/agent.log" || fail "sink_drive failed: $(tail -3 "$T/agent.log")"
expect_contains "everything durable, up to the last transaction's end" "$(cat "$T/drive1.out")" \
    "durable 1019000 -1"
R=$T/req1.jsonl
jl_check "4 requests were answered 500" "$R" 'sum(e["status"] == 500 for e in evs) == 4'
jl_check "every event not of id 7 was delivered with 2xx exactly once or more" "$R" \
    'sorted(set((e["body"]["metadata"]["commit_lsn"], e["body"]["metadata"]["seq"]) for e in evs if e["status"] == 200)) ==
     sorted((1000000 + t*1000, s) for t in range(20) for s in range(10) if (t*10+s) % 10 != 7)'
jl_check "per-key order: 2xx deliveries of one key in position order" "$R" \
    'all(a < b for k in range(10) for a, b in zip(
         [p for p in [(e["body"]["metadata"]["commit_lsn"], e["body"]["metadata"]["seq"]) for e in evs if e["status"] == 200 and e["body"]["key"] == {"id": k}]],
         [p for p in [(e["body"]["metadata"]["commit_lsn"], e["body"]["metadata"]["seq"]) for e in evs if e["status"] == 200 and e["body"]["key"] == {"id": k}]][1:]))'
jl_check "Idempotency-Key is <pipeline>-<commit_lsn %016X>-<seq>" "$R" \
    'all(e["headers"]["Idempotency-Key"] == "it-300-%016X-%d" % (e["body"]["metadata"]["commit_lsn"], e["body"]["metadata"]["seq"]) for e in evs)'
jl_check "payload has key, value, metadata {topic, partition 0, offset}" "$R" \
    'all(get(e, "body.metadata.topic") == "it.public.items" and get(e, "body.metadata.partition") == 0
         and isinstance(get(e, "body.metadata.offset"), int) for e in evs)'
jl_check "a retried request carries the same Idempotency-Key" "$R" \
    'all(e["headers"]["Idempotency-Key"] in [f["headers"]["Idempotency-Key"] for f in evs if f["status"] == 200] for e in evs if e["status"] == 500)'
D=$T/dlq.jsonl
expect_eq "20 dead letters (every event of id 7)" "$(line_count "$D")" 20
jl_check "dead letters carry the platform's dlq.* fields" "$D" \
    'all(set(e["headers"]) == {"dlq.source_topic", "dlq.source_partition", "dlq.source_offset", "dlq.error_type",
         "dlq.error_message", "dlq.stacktrace", "dlq.timestamp", "dlq.sink_id"} for e in evs)'
jl_check "dead letters: error type, topic, the record itself" "$D" \
    'all(e["headers"]["dlq.error_type"] == "http_status_400" and e["headers"]["dlq.source_topic"] == "it.public.items"
         and e["record"]["key"] == {"id": 7} for e in evs)'

note "part 1b: the receiver comes up late (connection refused), then sleeps"
LATE=$(free_port)
"$DRIVE" webhook "http://127.0.0.1:$LATE/events" --events 30 --txn 5 --keys 3 \
    --initial-ms 100 --max-ms 300 --pipeline it-300 >"$T/drive2.out" 2>>"$T/agent.log" &
DPID=$!
sleep 1.5
bg python3 "$RECV" --log "$T/req2.jsonl" --port "$LATE" --sleep-ms 50
wait "$DPID" || fail "sink_drive with a late receiver failed"
expect_contains "all durable once the receiver is up" "$(cat "$T/drive2.out")" "durable 1005000 -1"
jl_check "all 30 events arrived" "$T/req2.jsonl" \
    'len(set((get(e, "body.metadata.commit_lsn"), get(e, "body.metadata.seq")) for e in evs)) == 30'

note "part 1c: the receiver answers too late (timeouts), then in time"
SLOW=$(free_port)
bg python3 "$RECV" --log "$T/req_slow.jsonl" --port "$SLOW" --sleep-ms 3000
SLOW_PID=$!
for _ in $(seq 50); do _port_free "$SLOW" || break; sleep 0.1; done
"$DRIVE" webhook "http://127.0.0.1:$SLOW/events" --events 20 --txn 5 --keys 4 --timeout-ms 300 \
    --initial-ms 100 --max-ms 300 --dlq "$T/dlq_slow.jsonl" --pipeline it-300 \
    >"$T/drive3.out" 2>>"$T/agent.log" &
DPID=$!
sleep 2
kill "$SLOW_PID"
for _ in $(seq 50); do _port_free "$SLOW" && break; sleep 0.1; done
bg python3 "$RECV" --log "$T/req_fast.jsonl" --port "$SLOW"
wait "$DPID" || fail "sink_drive with a slow receiver failed"
check "requests timed out against the slow receiver" \
    grep -q "127.0.0.1:$SLOW/events: request .* failed .*: Operation timed out" "$T/agent.log"
expect_contains "timeouts only delay: all durable" "$(cat "$T/drive3.out")" "durable 1003000 -1"
check "timeouts are not dead-lettered" test ! -s "$T/dlq_slow.jsonl"
jl_check "all 20 events arrived at the prompt receiver, with the same Idempotency-Key as their timed-out tries" "$T/req_fast.jsonl" \
    'len(set((get(e, "body.metadata.commit_lsn"), get(e, "body.metadata.seq")) for e in evs)) == 20'

note "part 2: cdcagent run with sink_type webhook"
pg_up
sql "CREATE TABLE customers (id serial PRIMARY KEY, name text)" "CREATE TABLE orders (id serial PRIMARY KEY)"
recv_start "$T/req3.jsonl" --fail-first 2
P_SNAPSHOT=never write_pipeline
# (read the head first: the redirection below empties the file before the here-document expands)
PL_HEAD=$(sed '/^sinks:/,$d' "$T/pipeline.yaml")
cat >"$T/pipeline.yaml" <<YAML
$PL_HEAD
sinks:
  - sink_id: hook
    sink_type: webhook
    webhook:
      url: http://127.0.0.1:$RPORT/cdc
      method: POST
      headers:
        X-Source: cdc-platform
      timeout_seconds: 5
YAML
write_platform
PLATFORM_EXTRA="retry:
  initial_wait_seconds: 0.1
  max_wait_seconds: 0.5" write_platform
agent_start
sql "INSERT INTO customers (name) VALUES ('a'), ('b')" "UPDATE customers SET name = 'c' WHERE id = 1"
for _ in $(seq 100); do [ "$(jl_eval "$T/req3.jsonl" 'sum(1 for e in evs if e["status"] == 200)')" -ge 3 ] && break; sleep 0.2; done
agent_stop
# Requests for different keys run concurrently: only the order per key is fixed.
jl_check "c c u delivered (c before u for id 1), with X-Source and Idempotency-Key" "$T/req3.jsonl" \
    'sorted(get(e, "body.value.op") for e in evs if e["status"] == 200) == ["c", "c", "u"]
     and [get(e, "body.value.op") for e in evs if e["status"] == 200 and get(e, "body.key.id") == 1] == ["c", "u"]
     and all(e["headers"].get("X-Source") == "cdc-platform" and e["headers"]["Idempotency-Key"].startswith("it-300-") for e in evs)'

note "part 3: batching (webhook.batch_size 10)"
recv_start "$T/req4.jsonl"
sed -i "s|url: http://127.0.0.1:[0-9]*/cdc|url: http://127.0.0.1:$RPORT/cdc|; s|      timeout_seconds: 5|      timeout_seconds: 5\n      batch_size: 10\n      batch_timeout_ms: 50|" "$T/pipeline.yaml"
agent_start
sql "INSERT INTO customers (name) SELECT 'n' || i FROM generate_series(1, 25) i"
sql "UPDATE customers SET name = 'z' WHERE name LIKE 'n%'"
for _ in $(seq 100); do [ "$(jl_eval "$T/req4.jsonl" 'sum(len(e["body"]) for e in evs if e["status"] == 200)')" -ge 50 ] && break; sleep 0.2; done
agent_stop
jl_check "arrays of at most 10 events, each event once, c before u per key, keys with both ends" "$T/req4.jsonl" '
all(isinstance(e["body"], list) and 1 <= len(e["body"]) <= 10 for e in evs) and
(lambda ks: len(ks) == 25 and
 all([x["value"]["op"] for e in evs for x in e["body"] if x["key"]["id"] == k] == ["c", "u"] for k in ks))(
    set(x["key"]["id"] for e in evs for x in e["body"])) and
all(len(e["headers"]["Idempotency-Key"].split("-")) == 6 for e in evs if len(e["body"]) > 1) and
any(len(e["body"]) > 1 for e in evs)'
done_testing
