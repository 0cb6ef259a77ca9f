#!/usr/bin/env bash
# 043: no record of the slot's snapshot (agent.state_dir lost, or the first start after
# upgrading from a version that kept none), with a destination that cannot say what it holds
# (a webhook) beside a jsonl file.  Nothing proves the webhook received the snapshot, but the
# slot holds changes made while the agent was stopped (a delete among them):
#   1. snapshot_mode initial: the slot is kept, a warning names the webhook, the record's path
#      and why; no second snapshot; the changes held in the slot arrive, the delete included;
#      the record is written again, the snapshot delivered (a later start says nothing);
#   2. snapshot_mode when_needed: the slot is dropped and the snapshot taken again (op r).
#   3. agent.state_dir unwritable: with only destinations that report what they hold (jsonl)
#      the agent warns and runs (the record is only evidence there); with a webhook it refuses.
#   4. snapshot_mode when_needed, no record, but the jsonl file's newest event is the
#      snapshot's last row and the slot is confirmed past it: that proves delivery, no retake.
# (Before: the start dropped the slot under any mode and retook the snapshot: the delete
# never reached the webhook or the jsonl file.)
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

RECV=$CDC_SRC/test/doubles/webhook_receiver.py
pg_up
sql "CREATE TABLE t (id int PRIMARY KEY, v text)" \
    "INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 5) i"
rm -f "$T/rport"
bg python3 "$RECV" --log "$T/req.jsonl" --port-file "$T/rport"
for _ in $(seq 50); do [ -s "$T/rport" ] && break; sleep 0.1; done
RPORT=$(cat "$T/rport")

pipeline() {   # pipeline MODE
    P_TABLES=public.t P_SNAPSHOT=$1 write_pipeline
    cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: hook
    sink_type: webhook
    webhook:
      url: http://127.0.0.1:$RPORT/cdc
      batch_size: 10
      batch_timeout_ms: 20
YAML
}
this_run() { sed -n "/^=== run $AGENT_RUNS /,\$p" "$T/agent.log"; }
record() { ls "$T"/cdcagent-*.state 2>/dev/null | head -n 1; }
# hook_ops: the webhook's events' ops in arrival order, de-duplicated by position
hook_ops() {
    [ -s "$T/req.jsonl" ] || { echo; return 0; }
    jl_eval "$T/req.jsonl" '" ".join(x["value"]["op"] for x in dict(((get(x, "metadata.commit_lsn"), get(x, "metadata.seq")), x) for e in evs if e["status"] == 200 for x in (e["body"] if isinstance(e["body"], list) else [e["body"]])).values() if x.get("value") is not None)'
}
wait_hook_events() {   # wait_hook_events N
    local got
    for _ in $(seq 300); do
        got=$( (hook_ops 2>/dev/null || true) | wc -w)
        [ "$got" -ge "$1" ] && return 0
        sleep 0.1
    done
    fail "the webhook received $got events, not $1"
}

pipeline initial
write_platform
agent_start
wait_lines "$EVENTS" 5 60
wait_hook_events 5
agent_stop
rec=$(record)
[ -n "$rec" ] || fail "no record in $T"
slot0=$(sql_su "SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'cdc_slot'")

note "part 1: record removed, changes in the slot, snapshot_mode initial"
rm -f "$rec"
sql "DELETE FROM t WHERE id = 2" "INSERT INTO t VALUES (6, 'v6')"
agent_start
wait_lines "$EVENTS" 8 60
wait_hook_events 7
log=$(this_run)
expect_contains "the warning names the webhook" "$log" "Destination(s) hook (webhook) cannot say what they hold"
expect_contains "the warning names the record's path" "$log" "there is no record of its snapshot ($rec)"
check "the slot was not dropped" bash -c "! grep -q 'dropping the slot' <<<\"\$1\"" _ "$log"
expect_eq "the same slot (restart_lsn not before the old one)" \
    "$(sql_su "SELECT restart_lsn >= '$slot0' FROM pg_replication_slots WHERE slot_name = 'cdc_slot'")" t
expect_eq "jsonl: the snapshot once, then the delete and the insert" "$(jl_ops "$EVENTS")" "r r r r r d c"
expect_eq "webhook: the snapshot once, then the delete and the insert" "$(hook_ops)" "r r r r r d c"
agent_stop
check "the record is written again" [ -f "$rec" ]
agent_start
sql "INSERT INTO t VALUES (7, 'v7')"
wait_lines "$EVENTS" 9 60
check "a later start has the record: no warning" bash -c "! grep -q 'no record of its snapshot' <<<\"\$1\"" _ "$(this_run)"
agent_stop

note "part 2: record removed, snapshot_mode when_needed: taken again"
rm -f "$rec"
sql "UPDATE t SET v = 'w1' WHERE id = 1"
pipeline when_needed
agent_start
wait_lines "$EVENTS" 15 60
log=$(this_run)
expect_contains "the slot is dropped, saying why" "$log" "there is no record of its snapshot ($rec)"
expect_contains "and the snapshot is taken again" "$log" "dropping the slot and taking the snapshot again"
expect_eq "jsonl: a second snapshot of the 6 rows" "$(jl_ops "$EVENTS")" "r r r r r d c c r r r r r r"
agent_stop

note "part 3: agent.state_dir unwritable (a path under a regular file)"
: >"$T/notadir"
sed -i "s|^  state_dir: .*|  state_dir: $T/notadir/state|" "$T/platform.yaml"
P_TABLES=public.t P_SNAPSHOT=initial write_pipeline     # the jsonl file only: it reports
agent_start
sql "INSERT INTO t VALUES (8, 'v8')"
wait_lines "$EVENTS" 16 60
expect_contains "destinations that all report: a warning, and it runs" "$(this_run)" \
    "every destination reports what it holds, so the agent goes on without its record"
agent_stop
pipeline initial                                        # with the webhook: refused
AGENT_NO_WAIT=1 agent_start
agent_wait_exit 30
expect_eq "with a webhook: exit status" "$AGENT_RC" 1
expect_contains "the error names the record and state_dir" "$(this_run)" "$T/notadir/state/cdcagent-"

note "part 4: when_needed, no record, but the jsonl file's newest event is the snapshot's last row and the slot moved past it"
sed -i "s|^  state_dir: .*|  state_dir: $T|" "$T/platform.yaml"
sql "CREATE TABLE t2 (id int PRIMARY KEY)" "INSERT INTO t2 VALUES (1), (2), (3)"
P_SLOT=s2 P_PUB=p2 P_TABLES=public.t2 P_OUT=$T/out2.jsonl P_SNAPSHOT=when_needed write_pipeline
cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: hook
    sink_type: webhook
    webhook:
      url: http://127.0.0.1:$RPORT/cdc2
YAML
P_SLOT=s2 agent_start
wait_lines "$T/out2.jsonl" 3 60
sql "INSERT INTO t VALUES (9, 'not in this pipeline')"
target=$(sql_su "SELECT pg_current_wal_lsn()")
deadline=$((SECONDS + 60))
until [ "$(sql_su "SELECT confirmed_flush_lsn >= '$target' FROM pg_replication_slots WHERE slot_name = 's2'")" = t ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "slot s2 was not confirmed past $target in 60 s"
    sleep 0.2
done
P_SLOT=s2 agent_stop
rm -f "$T"/cdcagent-*-s2.state
P_SLOT=s2 agent_start
sql "INSERT INTO t2 VALUES (4)"
wait_lines "$T/out2.jsonl" 4 60
P_SLOT=s2 agent_stop
log=$(this_run)
expect_contains "the proof is named" "$log" "holds the snapshot's last row and the slot is confirmed past it"
check "no second snapshot" bash -c "! grep -q 'taking the snapshot again' <<<\"\$1\"" _ "$log"
expect_eq "jsonl: the snapshot once, then the insert" "$(jl_ops "$T/out2.jsonl")" "r r r c"
done_testing
