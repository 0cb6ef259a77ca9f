#!/usr/bin/env bash
# Exactly once through SIGKILL: the Kafka destination is killed three times while it
# writes a steady stream to a real broker, and restarted each time from the beginning of
# the stream (as PostgreSQL re-sends everything after the confirmed LSN).  Every change
# must be in its topic exactly once, each partition in position order.  Driven by
# test/tools/kafka_dest_drive (deterministic positions) until the agent opens the Kafka
# destination; then this test kills `cdcagent run` instead.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/kafka.sh"

BUILD=${CDC_BUILD:-$CDC_SRC/build}
DRIVE=$BUILD/kafka_dest_drive
KAFKA_PROBE=$BUILD/kafka_probe
KDIR=$T/kafka
ROWS=3000
trap '_rc=$?; kafka_kill "$KDIR" >/dev/null 2>&1; set +e; (exit $_rc); _cleanup' EXIT

KPORT=$(free_port)
kafka_start "$KDIR" "$KPORT"
B=127.0.0.1:$KPORT
ok "kafka broker on $B"

for round in 1 2 3; do
    # 300 transactions, 15 ms apart: about 5 s of writing; killed part-way.
    "$DRIVE" "$B" k9 "$ROWS" 3 15 >>"$T/drive.out" 2>>"$T/agent.log" &
    pid=$!
    sleep "$(python3 -c "import random; print(round(random.uniform(0.8, 2.5), 2))")"
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
    note "round $round: killed after $("$KAFKA_PROBE" -b "$B" dump k9.public.items | wc -l) records"
done
"$DRIVE" "$B" k9 "$ROWS" 3 >>"$T/drive.out" 2>>"$T/agent.log"
expect_contains "the last run reached the end" "$(cat "$T/drive.out")" "durable "

"$KAFKA_PROBE" -b "$B" dump k9.public.items k9.public.nokey k9.message >"$T/dump.jsonl"
expect_eq "record count" "$(line_count "$T/dump.jsonl")" $((ROWS + 8))
check "no duplicates, position order per partition" \
    python3 "$CDC_SRC/test/lib/kafka_records.py" exactly-once <"$T/dump.jsonl"
expect_eq "every insert exactly once" \
    "$(python3 "$CDC_SRC/test/lib/kafka_records.py" ids k9.public.items c <"$T/dump.jsonl" | tr ' ' '\n' | sort -n | uniq | wc -l)" \
    $((ROWS + 1))
check "keyed records are in murmur2(key) % 3" \
    python3 "$CDC_SRC/test/lib/kafka_records.py" check-partitions 3 <"$T/dump.jsonl"
kafka_stop "$KDIR"
done_testing
