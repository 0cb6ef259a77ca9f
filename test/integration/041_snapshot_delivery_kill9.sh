#!/usr/bin/env bash
# 041: the snapshot reaches every direct-mode sink across a SIGKILL at each phase (issue 17,
# item 1).  Snapshot rows are not in the WAL: once the agent is gone, the slot cannot send
# the rows a sink had not made durable, and a webhook cannot say which ones it has.  Three
# sinks per pipeline: jsonl (remembers its position), webhook (cannot), postgres replica
# (remembers, in its state row).  The receiver answers 500 while a flag file exists, so the
# webhook lags exactly as long as the test wants.  Phases, each on its own table, slot,
# receiver and target database:
#   1. kill during the snapshot (the webhook's queue is full, the snapshot cannot end), with
#      the webhook as the only sink: nothing else could say the snapshot was cut short;
#   2. kill between the snapshot's end and the first commit: jsonl and the replica hold the
#      whole snapshot, the webhook none of it;
#   3. kill mid-stream, while the webhook fails, with inserts, updates and deletes.
# Then the flag goes, the agent restarts, more changes come, the slot catches up.  Checks:
# every snapshot row reached the webhook as op r; what each sink received, applied in position
# order, equals the source table (jsonl, webhook), and the replica equals it.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

RECV=$CDC_SRC/test/doubles/webhook_receiver.py
TGT=$T/tgt
trap 'rc=$?; pg_cleanup "$TGT"; set +e; (exit $rc); _cleanup' EXIT

pg_up
TPORT=$(free_port)
pg_start "$TGT" "$TPORT" >/dev/null || fail "target PostgreSQL did not start"
note "target PostgreSQL 15 on 127.0.0.1:$TPORT"

recv_start() {   # recv_start PHASE: a receiver failing while $T/fail.PHASE exists; sets RPORT
    rm -f "$T/rport"
    bg python3 "$RECV" --log "$T/req.$1.jsonl" --port-file "$T/rport" --fail-while "$T/fail.$1"
    for _ in $(seq 50); do [ -s "$T/rport" ] && break; sleep 0.1; done
    RPORT=$(cat "$T/rport")
}

# pipeline PHASE SINKS: table tPHASE, slot sPHASE, publication pPHASE; SINKS: "all" or "webhook"
pipeline() {
    local ph=$1 sinks=$2 head
    P_SLOT=s$ph     # also for agent_start's wait
    P_TABLES=public.t$ph P_PUB=p$ph P_OUT=$T/out.$ph.jsonl write_pipeline
    head=$(sed '/^sinks:/,$d' "$T/pipeline.yaml")
    {
        echo "$head"
        echo "sinks:"
        cat <<YAML
  - sink_id: hook$ph
    sink_type: webhook
    webhook:
      url: http://127.0.0.1:$RPORT/p$ph
      batch_size: 50
      batch_timeout_ms: 20
YAML
        if [ "$sinks" = all ]; then
            cat <<YAML
  - sink_id: file$ph
    sink_type: jsonl
    jsonl:
      path: "$T/out.$ph.jsonl"
  - sink_id: mirror$ph
    sink_type: postgres
    postgres:
      host: 127.0.0.1
      port: $TPORT
      database: db$ph
      username: postgres
      mode: replica
      batch_size: 200
YAML
        fi
    } >"$T/pipeline.yaml.new"
    mv "$T/pipeline.yaml.new" "$T/pipeline.yaml"
    pg_psql "$TPORT" cdc_demo "CREATE DATABASE db$ph" >/dev/null
}

PLATFORM_EXTRA="retry:
  initial_wait_seconds: 0.1
  max_wait_seconds: 0.3
  max_attempts: 100000" write_platform

# Waits until the slot is confirmed at the server's current WAL position: every sink durable.
# The insert position: with synchronous_commit off, pg_current_wal_lsn() (the position written
# out) can still be before the last commits, and the wait ended before they were delivered.
catch_up() {
    local slot=$1 target deadline
    target=$(sql_su "SELECT pg_current_wal_insert_lsn()")
    deadline=$((SECONDS + 120))
    until [ "$(sql_su "SELECT confirmed_flush_lsn >= '$target' FROM pg_replication_slots WHERE slot_name = '$slot'")" = t ]; do
        [ "$SECONDS" -lt "$deadline" ] || fail "slot $slot: confirmed $(slot_field "$slot" confirmed_flush_lsn) did not reach $target in 120 s"
        agent_alive || fail "the agent died while catching up"
        sleep 0.3
    done
}

wait_log() {   # wait_log TEXT TIMEOUT: until the agent's log of this run has TEXT
    local deadline=$((SECONDS + $2))
    until sed -n "/^=== run $AGENT_RUNS /,\$p" "$T/agent.log" | grep -q -- "$1"; do
        [ "$SECONDS" -lt "$deadline" ] || fail "no \"$1\" in the agent log after $2 s"
        agent_alive || fail "the agent exited while waiting for \"$1\""
        sleep 0.1
    done
}

wait_requests() {   # wait_requests PHASE N: until the receiver got N requests
    local deadline=$((SECONDS + 60))
    until [ "$(line_count "$T/req.$1.jsonl")" -ge "$2" ]; do
        [ "$SECONDS" -lt "$deadline" ] || fail "receiver $1: fewer than $2 requests in 60 s"
        sleep 0.1
    done
}

workload() {   # workload PHASE BASE: inserts, updates and deletes on tPHASE
    sql "INSERT INTO t$1 SELECT $2 + i, 'new ' || i FROM generate_series(1, 150) i" \
        "UPDATE t$1 SET v = v || ' upd' WHERE id % 7 = 0" \
        "DELETE FROM t$1 WHERE id % 11 = 0" \
        "INSERT INTO t$1 VALUES ($2 + 1000, 'one more')" >/dev/null
}

# The Python side: what a sink received, applied in position order, against the source.
APPLY='
import json, sys
def rows_of(kind, path):
    out = []
    for line in open(path):
        if not line.strip():
            continue
        e = json.loads(line)
        if kind == "recv":
            if not 200 <= e["status"] < 300:
                continue
            body = e["body"]
            out.extend(body if isinstance(body, list) else [body])
        else:
            out.append(e)
    return [e for e in out if e.get("value") is not None]
kind, path, src = sys.argv[1], sys.argv[2], sys.argv[3]
evs = rows_of(kind, path)
evs.sort(key=lambda e: (e["metadata"]["commit_lsn"], e["metadata"]["seq"]))
state = {}
for e in evs:
    v = e["value"]
    if v["op"] in ("r", "c", "u"):
        state[v["after"]["id"]] = v["after"]["v"]
    elif v["op"] == "d":
        state.pop(v["before"]["id"], None)
want = {}
for line in open(src):
    i, v = line.rstrip("\n").split("\t", 1)
    want[int(i)] = v
snap = set(int(x) for x in sys.argv[4].split(",")) if len(sys.argv) > 4 else set()
got_r = set(e["value"]["after"]["id"] for e in evs if e["value"]["op"] == "r")
# A snapshot cut by kill -9 resumes with the incremental algorithm (docs/snapshots.md,
# "After a crash"): a row whose key a streamed UPDATE or DELETE touched while its chunk window was
# open arrives as that change instead of op r (the rule of Debezium: the streamed change wins).
changed = set((e["value"]["after"] or e["value"]["before"])["id"] for e in evs
              if e["value"]["op"] in ("u", "d"))
problems = []
if snap - got_r - changed:
    lost = snap - got_r - changed
    problems.append("%d snapshot rows never arrived as op r nor as a later change (e.g. %s)" % (len(lost), sorted(lost)[:5]))
if state != want:
    missing = sorted(set(want) - set(state)); extra = sorted(set(state) - set(want))
    wrong = sorted(k for k in set(want) & set(state) if want[k] != state[k])
    problems.append("state differs: %d missing (e.g. %s), %d extra (e.g. %s), %d with another value (e.g. %s)"
                    % (len(missing), missing[:5], len(extra), extra[:5], len(wrong), wrong[:5]))
print("; ".join(problems) if problems else "ok %d events, %d rows, %d snapshot rows" % (len(evs), len(state), len(snap)))
'

# check_phase PHASE SINKS SNAPSHOT_IDS_FILE
check_phase() {
    local ph=$1 sinks=$2 out
    sql "COPY (SELECT id, v FROM t$ph ORDER BY id) TO STDOUT" >"$T/src.$ph.txt"
    out=$(python3 -c "$APPLY" recv "$T/req.$ph.jsonl" "$T/src.$ph.txt" "$(cat "$T/snap.$ph")")
    expect_contains "phase $ph: the webhook got every snapshot row and ends equal to the source" "$out" "ok "
    note "phase $ph webhook: $out"
    if [ "$sinks" = all ]; then
        out=$(python3 -c "$APPLY" jsonl "$T/out.$ph.jsonl" "$T/src.$ph.txt" "$(cat "$T/snap.$ph")")
        expect_contains "phase $ph: the jsonl file got every snapshot row and ends equal to the source" "$out" "ok "
        pg_psql "$TPORT" "db$ph" "COPY (SELECT id, v FROM public.t$ph ORDER BY id) TO STDOUT" >"$T/rep.$ph.txt"
        if diff -q "$T/src.$ph.txt" "$T/rep.$ph.txt" >/dev/null; then
            ok "phase $ph: the replica equals the source ($(line_count "$T/src.$ph.txt") rows)"
        else
            fail "phase $ph: the replica differs from the source: $(diff "$T/src.$ph.txt" "$T/rep.$ph.txt" | head -5 | tr '\n' ' ')"
        fi
    fi
}

setup_table() {   # setup_table PHASE ROWS
    sql "CREATE TABLE t$1 (id int PRIMARY KEY, v text NOT NULL)" \
        "INSERT INTO t$1 SELECT i, 'row ' || i FROM generate_series(1, $2) i" >/dev/null
    sql "SELECT string_agg(id::text, ',') FROM t$1" >"$T/snap.$1"
}

restart_released() {   # kill, remove the flag, start again
    local ph=$1
    agent_kill9
    local deadline=$((SECONDS + 30))
    while [ "$(slot_field "s$ph" active)" = t ]; do
        [ "$SECONDS" -lt "$deadline" ] || fail "slot s$ph still active 30 s after kill -9"
        sleep 0.1
    done
    rm -f "$T/fail.$ph"
    agent_start
}

PHASES=" ${IT_PHASES:-1 2 3} "     # IT_PHASES="2" runs phase 2 alone

# ---------------------------------------------------------------- phase 1: during the snapshot
if [[ $PHASES == *" 1 "* ]]; then
note "phase 1: SIGKILL during the snapshot, webhook the only sink"
setup_table 1 12000
touch "$T/fail.1"
recv_start 1
pipeline 1 webhook
AGENT_NO_WAIT=1 agent_start
# The webhook queues at most 10,000 events and answers nothing but 500: the snapshot stalls.
wait_log "reading 1 tables" 60
wait_requests 1 20
sleep 1
if sed -n "/^=== run $AGENT_RUNS /,\$p" "$T/agent.log" | grep -q "snapshot.*done:"; then
    fail "phase 1: the snapshot ended before the kill"
fi
ok "phase 1: the kill lands during the snapshot"
restart_released 1
workload 1 20000
catch_up s1
agent_stop
check_phase 1 webhook
fi

# ---------------------------------------------------------------- phase 2: after the snapshot
if [[ $PHASES == *" 2 "* ]]; then
note "phase 2: SIGKILL between the snapshot's end and the first commit"
setup_table 2 3000
touch "$T/fail.2"
recv_start 2
pipeline 2 all
AGENT_NO_WAIT=1 agent_start
wait_log "snapshot.*done:" 60
wait_requests 2 10
# jsonl and the replica make the snapshot durable; the webhook has none of it.
deadline=$((SECONDS + 30))
until [ "$(line_count "$T/out.2.jsonl")" -ge 3000 ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "phase 2: the jsonl file did not get the snapshot"
    sleep 0.1
done
sleep 1
ok "phase 2: the kill lands after the snapshot was read, before any commit"
restart_released 2
workload 2 20000
catch_up s2
agent_stop
check_phase 2 all
fi

# ---------------------------------------------------------------- phase 3: mid-stream
if [[ $PHASES == *" 3 "* ]]; then
note "phase 3: SIGKILL mid-stream while the webhook fails"
setup_table 3 2000
recv_start 3
pipeline 3 all
agent_start
catch_up s3
touch "$T/fail.3"
workload 3 20000
wait_lines "$T/out.3.jsonl" 2300 60
restart_released 3
workload 3 30000
catch_up s3
agent_stop
check_phase 3 all
fi

done_testing
