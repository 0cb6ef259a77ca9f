#!/usr/bin/env bash
# 044: SIGTERM while the agent waits for every destination to make the snapshot durable
# (the rows are all read; a webhook answers 500 while a flag file exists).
#   1. The receiver recovers just as the stop comes: the agent flushes the destinations for
#      up to agent.shutdown_timeout_seconds, finds the snapshot durable everywhere, records it
#      delivered and stops normally (exit 0); the next start streams, no second snapshot.
#   2. The receiver keeps failing: after shutdown_timeout the agent exits 1 saying the
#      snapshot is not delivered, and the next start resumes it on the same slot.
# (Before: the stop returned at once, exit 1, and the snapshot was thrown away even when the
# destinations could have made it durable.)
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

RECV=$CDC_SRC/test/doubles/webhook_receiver.py
pg_up
sql "CREATE TABLE t1 (id int PRIMARY KEY)" "INSERT INTO t1 SELECT generate_series(1, 50)" \
    "CREATE TABLE t2 (id int PRIMARY KEY)" "INSERT INTO t2 SELECT generate_series(1, 50)"
touch "$T/fail"
rm -f "$T/rport"
bg python3 "$RECV" --log "$T/req.jsonl" --port-file "$T/rport" --fail-while "$T/fail"
for _ in $(seq 50); do [ -s "$T/rport" ] && break; sleep 0.1; done
RPORT=$(cat "$T/rport")

pipeline() {   # pipeline N: table tN, slot sN, publication pN
    P_SLOT=s$1
    P_TABLES=public.t$1 P_PUB=p$1 P_OUT=$T/out.$1.jsonl write_pipeline
    cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: hook
    sink_type: webhook
    webhook:
      url: http://127.0.0.1:$RPORT/cdc
      batch_size: 100
      batch_timeout_ms: 20
YAML
}
this_run() { sed -n "/^=== run $AGENT_RUNS /,\$p" "$T/agent.log"; }
wait_snapshot_read() {
    for _ in $(seq 300); do
        this_run | grep -q '"done: 50 rows' && return 0
        agent_alive || fail "the agent exited during the snapshot"
        sleep 0.1
    done
    fail "the snapshot was not read within 30 s"
}
# hook_ids TABLE: ids of TABLE's events the webhook accepted, sorted, unique
hook_ids() {
    jl_eval "$T/req.jsonl" "sorted(set(get(x, 'key.id') for e in evs if e['status'] == 200 for x in (e['body'] if isinstance(e['body'], list) else [e['body']]) if get(x, 'value.source.table') == '$1'))"
}
# retry.initial_wait_seconds 1: the webhook's next attempt comes after the stop.
PLATFORM_EXTRA=$'retry:\n  max_attempts: 1000\n  initial_wait_seconds: 1\n  max_wait_seconds: 1\n  jitter: false' \
    write_platform

note "part 1: SIGTERM as the receiver recovers"
pipeline 1
AGENT_NO_WAIT=1 agent_start
wait_snapshot_read
sleep 0.5
check "the webhook was refused so far" bash -c "[ -s '$T/req.jsonl' ] && ! grep -q '\"status\": *200' '$T/req.jsonl'"
rm -f "$T/fail"
kill -TERM "$AGENT_PID"
agent_wait_exit 60
expect_eq "a normal stop: exit status" "$AGENT_RC" 0
log=$(this_run)
expect_contains "the stop flushed the destinations" "$log" "stop requested while the snapshot is made durable; flushing the destinations"
expect_contains "and found the snapshot durable" "$log" "snapshot: every row durable in every destination"
expect_eq "the record says delivered" "$(awk '/^snapshot /{print $2}' "$T"/cdcagent-*-s1.state)" delivered
expect_eq "the webhook has every snapshot row" "$(hook_ids t1)" "$(python3 -c 'print(str(list(range(1, 51))).replace(" ", ""))')"
agent_start
sql "INSERT INTO t1 VALUES (51)"
wait_lines "$T/out.1.jsonl" 51 30
agent_stop
log=$(this_run)
check "no second snapshot" bash -c "! grep -q 'taking the snapshot again' <<<\"\$1\"" _ "$log"
expect_eq "jsonl: 50 snapshot rows once, then the insert" "$(line_count "$T/out.1.jsonl")" 51

note "part 2: SIGTERM while the receiver keeps failing"
touch "$T/fail"
pipeline 2
PLATFORM_EXTRA=$'retry:\n  max_attempts: 1000\n  initial_wait_seconds: 1\n  max_wait_seconds: 1\n  jitter: false' \
    write_platform
sed -i 's/^agent:$/agent:\n  shutdown_timeout_seconds: 2/' "$T/platform.yaml"
AGENT_NO_WAIT=1 agent_start
wait_snapshot_read
kill -TERM "$AGENT_PID"
agent_wait_exit 60
expect_eq "exit status" "$AGENT_RC" 1
log=$(this_run)
expect_contains "the log names the destination" "$log" "snapshot: destination hook did not make every row durable within agent.shutdown_timeout_seconds of the stop; the next start reads again what is not durable"
expect_contains "the error says what the next start does" "$log" "stopped before every destination had made the snapshot durable; the next start reads again what is not durable"
rm -f "$T/fail"
AGENT_NO_WAIT=1 agent_start
wait_slot_active s2 60
expect_contains "the next start resumes it on the same slot" "$(this_run)" "did not finish; resuming it"
for _ in $(seq 100); do [ "$(hook_ids t2 | tr -cd ',' | wc -c)" -ge 49 ] && break; sleep 0.1; done
expect_eq "the webhook has every snapshot row" "$(hook_ids t2)" "$(python3 -c 'print(str(list(range(1, 51))).replace(" ", ""))')"
agent_stop
done_testing
