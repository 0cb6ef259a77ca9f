#!/usr/bin/env bash
# 421: the replication connection is lost in the middle of a large transaction.
#  1. A plain transaction (logical_decoding_work_mem = 1GB, so it is not streamed) of
#     200,000 rows: the agent is paused (SIGSTOP) once some 20,000 of them are in the
#     jsonl, its walsender is terminated (pg_terminate_backend), the agent resumes. It
#     must reconnect, the server sends the transaction again from its BEGIN, and the rows
#     the sink already has are skipped by position: every row arrives exactly once.
#     (It used to end with "error:" and nothing after it: the watermark refused the
#     re-sent BEGIN of the transaction it still held open, without a message.)
#  2. A streamed transaction (protocol 2, logical_decoding_work_mem = 64kB): the walsender
#     is terminated while the transaction, still open on the server, is being streamed;
#     after its COMMIT every row arrives exactly once.
#     2a. Before it, the run's first streamed transaction is cut right after a message of
#     8 MiB or more reached the spill file (nothing of it left in memory): every row once.
#  3. A plain transaction again, and the agent paused (SIGSTOP) for 8 s with
#     wal_sender_timeout at 3 s: the server ends the walsender; once resumed the agent
#     reconnects and every row arrives exactly once.
# Then SIGTERM: exit 0.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

PG_EXTRA_CONF="logical_decoding_work_mem = 1GB" pg_up
sql "CREATE TABLE t (id int PRIMARY KEY, payload text)"
P_TABLES=public.t P_SNAPSHOT=never write_pipeline
PLATFORM_EXTRA=$'retry:\n  initial_wait_seconds: 0.25\n  max_wait_seconds: 1\n  jitter: false' \
    write_platform
agent_start

walsender_pid() { slot_field cdc_slot active_pid; }

# all_once N DESC: the jsonl holds ids 1..N, each exactly once, in order.
all_once() {
    wait_lines "$EVENTS" "$1" 120
    sleep 1                                 # anything sent twice would be here by now
    expect_eq "$2: $1 lines" "$(line_count "$EVENTS")" "$1"
    jl_check "$2: ids 1..$1, each exactly once, in order" "$EVENTS" \
        "[e['key']['id'] for e in data] == list(range(1, $1 + 1))"
}

note "part 1: a plain transaction of 200,000 rows, cut after ~20,000"
N1=200000
sql "INSERT INTO t SELECT i, repeat(md5(i::text), 3) FROM generate_series(1, $N1) i"
# Poll often: at full speed the agent writes the whole transaction in a few seconds.
deadline=$((SECONDS + 60))
while [ "$(line_count "$EVENTS")" -lt 20000 ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "fewer than 20000 lines after 60 s"
    agent_alive || fail "agent exited before the cut"
    sleep 0.02
done
kill -STOP "$AGENT_PID"
at_cut=$(line_count "$EVENTS")
note "agent paused at $at_cut lines; terminating walsender $(walsender_pid)"
[ "$at_cut" -lt "$N1" ] || fail "the agent wrote the whole transaction before the cut ($at_cut lines): the test proves nothing"
expect_eq "pg_terminate_backend on the walsender" \
    "$(sql_su "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'cdc_slot'")" t
kill -CONT "$AGENT_PID"
all_once "$N1" "after the cut inside a plain transaction"
check "the agent reconnected" grep -q 'reconnecting in' "$T/agent.log"
check "the agent is still running" agent_alive
check "no error was logged" bash -c "! grep -q '\"level\":\"error\"' '$T/agent.log'"

note "part 2: streamed transactions (logical_decoding_work_mem = 64kB)"
sql_su "ALTER SYSTEM SET logical_decoding_work_mem = '64kB'" >/dev/null
sql_su "SELECT pg_reload_conf()" >/dev/null
# Take the new setting into a fresh walsender (the agent reconnects once more).
sql_su "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'cdc_slot'" >/dev/null
sleep 1
wait_slot_active cdc_slot 30

note "part 2a: the run's first streamed transaction, cut right after a message of 8 MiB or more"
# That message goes straight to the spill file, so nothing of the transaction is left in
# memory and no streamed transaction has completed yet: the old buffer, with the half-received
# transaction, was kept and the re-streamed first segment appended to it (each of its rows
# twice at COMMIT). The cut is made once the agent's spill file holds the large message.
NA=$((N1 + 2001))
(
    {
        echo "BEGIN;"
        echo "INSERT INTO t SELECT i, repeat(md5(i::text), 3) FROM generate_series($((N1 + 1)), $((NA - 1))) i;"
        echo "INSERT INTO t SELECT $NA, string_agg(md5(i::text), '') FROM generate_series(1, 300000) i;"
        echo "\\! while [ ! -e '$T/commit_a' ]; do sleep 0.1; done"
        echo "COMMIT;"
    } | PGPASSWORD=cdc_password "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 \
        -p "$PORT" -U cdc_user -d cdc_demo >"$T/txna.out" 2>&1
    echo "$?" >"$T/txna.rc"
) &
BG_PIDS+=($!)
# spill_size: bytes in the agent's (unlinked) spill files, 0 when there is none.
spill_size() {
    local f total=0 sz
    for f in /proc/"$AGENT_PID"/fd/*; do
        case "$(readlink "$f" 2>/dev/null)" in
        *cdcagent-xid*) sz=$(stat -L -c %s "$f" 2>/dev/null || echo 0); total=$((total + sz)) ;;
        esac
    done
    echo "$total"
}
deadline=$((SECONDS + 60))
until [ "$(spill_size)" -ge $((9 * 1024 * 1024)) ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "the large message was not in the agent's spill file within 60 s"
    agent_alive || fail "agent exited before the cut"
    sleep 0.1
done
note "the large message is spilled ($(spill_size) bytes); terminating walsender $(walsender_pid)"
expect_eq "pg_terminate_backend on the walsender (part 2a)" \
    "$(sql_su "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'cdc_slot'")" t
sleep 1
wait_slot_active cdc_slot 30
touch "$T/commit_a"
deadline=$((SECONDS + 60))
until [ -s "$T/txna.rc" ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "the streamed transaction of part 2a did not commit"
    sleep 0.1
done
expect_eq "the streamed transaction of part 2a committed" "$(cat "$T/txna.rc")" 0
all_once "$NA" "after the cut behind a large streamed message"
check "the agent is still running" agent_alive

note "part 2b: a streamed transaction, cut while it is being streamed"
streamed0=$(sql_su "SELECT stream_txns FROM pg_stat_replication_slots WHERE slot_name = 'cdc_slot'")
N2=260000
# The transaction stays open until $T/commit exists, so it is cut while in progress.
(
    {
        echo "BEGIN;"
        echo "INSERT INTO t SELECT i, repeat(md5(i::text), 3) FROM generate_series($((NA + 1)), $N2) i;"
        echo "\\! while [ ! -e '$T/commit' ]; do sleep 0.1; done"
        echo "COMMIT;"
    } | PGPASSWORD=cdc_password "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 \
        -p "$PORT" -U cdc_user -d cdc_demo >"$T/txn2.out" 2>&1
    echo "$?" >"$T/txn2.rc"
) &
BG_PIDS+=($!)
deadline=$((SECONDS + 60))
until [ "$(sql_su "SELECT stream_txns FROM pg_stat_replication_slots WHERE slot_name = 'cdc_slot'")" -gt "$streamed0" ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "the open transaction was not streamed within 60 s"
    sleep 0.2
done
note "the open transaction is being streamed; terminating walsender $(walsender_pid)"
expect_eq "pg_terminate_backend on the walsender" \
    "$(sql_su "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'cdc_slot'")" t
sleep 1
wait_slot_active cdc_slot 30
touch "$T/commit"
deadline=$((SECONDS + 60))
until [ -s "$T/txn2.rc" ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "the streamed transaction did not commit"
    sleep 0.1
done
expect_eq "the streamed transaction committed" "$(cat "$T/txn2.rc")" 0
all_once "$N2" "after the cut inside a streamed transaction"
check "the agent is still running" agent_alive

note "part 3: the agent stopped (SIGSTOP) past wal_sender_timeout inside a plain transaction"
sql_su "ALTER SYSTEM SET logical_decoding_work_mem = '1GB'" >/dev/null
sql_su "ALTER SYSTEM SET wal_sender_timeout = '3s'" >/dev/null
sql_su "SELECT pg_reload_conf()" >/dev/null
sql_su "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'cdc_slot'" >/dev/null
sleep 1
wait_slot_active cdc_slot 30
N3=460000
sql "INSERT INTO t SELECT i, repeat(md5(i::text), 3) FROM generate_series($((N2 + 1)), $N3) i"
deadline=$((SECONDS + 60))
while [ "$(line_count "$EVENTS")" -lt $((N2 + 20000)) ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "fewer than $((N2 + 20000)) lines after 60 s"
    agent_alive || fail "agent exited before the pause"
    sleep 0.02
done
kill -STOP "$AGENT_PID"
at_cut=$(line_count "$EVENTS")
note "agent paused at $at_cut lines for 8 s (wal_sender_timeout 3 s)"
[ "$at_cut" -lt "$N3" ] || fail "the agent wrote the whole transaction before the pause ($at_cut lines): the test proves nothing"
sleep 8
kill -CONT "$AGENT_PID"
all_once "$N3" "after a pause past wal_sender_timeout inside a plain transaction"
check "the server ended the walsender for replication timeout" \
    grep -q 'terminating walsender process due to replication timeout' "$PGDIR/log/postgresql.log"
check "the agent is still running" agent_alive
agent_stop
summary=$(grep -o '[0-9]* transactions ([0-9]* streamed)[^"]*' "$T/agent.log" | tail -n 1)
note "summary: $summary"
check "the re-sent events the sink had were skipped (already held > 0)" \
    python3 -c "import re,sys; m = re.search(r'(\d+) already held', sys.argv[1]); sys.exit(0 if m and int(m.group(1)) > 0 else 1)" "$summary"
check "no error was logged" bash -c "! grep -q '\"level\":\"error\"' '$T/agent.log'"
done_testing
