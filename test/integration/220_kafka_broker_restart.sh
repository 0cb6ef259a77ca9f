#!/usr/bin/env bash
# The broker goes away mid-stream and comes back: the destination waits (librdkafka
# retries without a message timeout), nothing is dropped, and the idempotent producer
# writes nothing twice.  The durable position must not move while the broker is down.
# Driven by test/tools/kafka_dest_drive until the agent opens the Kafka destination.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/kafka.sh"

BUILD=${CDC_BUILD:-$CDC_SRC/build}
DRIVE=$BUILD/kafka_dest_drive
KAFKA_PROBE=$BUILD/kafka_probe
KDIR=$T/kafka
ROWS=4000
trap '_rc=$?; kafka_kill "$KDIR" >/dev/null 2>&1; set +e; (exit $_rc); _cleanup' EXIT

KPORT=$(free_port)
kafka_start "$KDIR" "$KPORT"
B=127.0.0.1:$KPORT
ok "kafka broker on $B"

"$DRIVE" "$B" br "$ROWS" 3 20 >"$T/drive.out" 2>"$T/agent.log" &
pid=$!
BG_PIDS+=("$pid")
sleep 1.5
kafka_stop "$KDIR"
ok "broker stopped mid-stream"
sleep 4
check "the writer is still waiting, not failed" kill -0 "$pid"
kafka_restart "$KDIR"
ok "broker restarted"
wait "$pid"
expect_contains "the writer reached the end" "$(cat "$T/drive.out")" "durable "

"$KAFKA_PROBE" -b "$B" dump br.public.items br.public.nokey br.message >"$T/dump.jsonl"
expect_eq "record count" "$(line_count "$T/dump.jsonl")" $((ROWS + 8))
check "no duplicates, position order per partition" \
    python3 "$CDC_SRC/test/lib/kafka_records.py" exactly-once <"$T/dump.jsonl"
kafka_stop "$KDIR"
done_testing
