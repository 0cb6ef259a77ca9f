#!/usr/bin/env bash
# 420: PostgreSQL goes away under a continuous load.
#  1. crashed (pg_ctl stop -m immediate) mid-stream and started again 3 s later, then shut
#     down cleanly (-m fast) and started 2 s later: the agent stays up, logs its reconnect
#     attempts with growing waits, resumes; every committed row is in the sink exactly once
#     and in commit order (a crash can move the slot back to its last checkpointed position:
#     the server sends some transactions again and the sink skips them);
#  2. with agent.reconnect_max_attempts 3, PostgreSQL stays down: the agent gives up, exits 1
#     with a message saying so; rows committed after the server returns arrive on the next
#     start, none lost, none twice.
# The truth is the table itself: the loader's transactions that committed are its rows.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_up
sql "CREATE TABLE items (id int PRIMARY KEY, payload text)"
P_TABLES=public.items P_SNAPSHOT=never write_pipeline
PLATFORM_EXTRA=$'retry:\n  initial_wait_seconds: 0.25\n  max_wait_seconds: 2\n  multiplier: 2\n  jitter: false' \
    write_platform
agent_start

# loader: ids 1, 2, 3... ten single-row transactions per psql call, until $T/stop exists.
# A call that fails (server down) is not repeated: the rows it did not commit are simply not
# in the table; ON CONFLICT is never needed because ids are never reused.
loader() {
    local i=1 j
    while [ ! -e "$T/stop" ]; do
        for ((j = 0; j < 10; j++)); do
            echo "INSERT INTO items VALUES ($((i + j)), repeat('x', 60));"
        done | PGPASSWORD=cdc_password PGCONNECT_TIMEOUT=2 "$PG_BIN/psql" -X -q -At \
            -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U cdc_user -d cdc_demo \
            >/dev/null 2>&1 || sleep 0.2
        i=$((i + 10))
        sleep 0.01
    done
    echo done >"$T/loader.done"
}
stop_loader() {
    touch "$T/stop"
    local deadline=$((SECONDS + 30))
    until [ -e "$T/loader.done" ]; do
        [ "$SECONDS" -lt "$deadline" ] || fail "loader did not stop"
        sleep 0.1
    done
    rm -f "$T/stop" "$T/loader.done"
}
# all_rows_once DESC: the sink holds every row of the table exactly once, in commit order.
all_rows_once() {
    local n
    n=$(sql "SELECT count(*) FROM items")
    wait_lines "$EVENTS" "$n" 60
    sleep 1                                 # anything sent twice would be here by now
    sql "COPY (SELECT id FROM items ORDER BY id) TO STDOUT" >"$T/ids.txt"
    jl_check "$1: the sink's ids are the table's ($n rows), each once" "$EVENTS" \
        "sorted(e['key']['id'] for e in evs) == [int(x) for x in open('$T/ids.txt').read().split()]"
    jl_check "$1: (commit_lsn, seq) strictly increasing" "$EVENTS" \
        'all((get(a, "metadata.commit_lsn"), get(a, "metadata.seq")) < (get(b, "metadata.commit_lsn"), get(b, "metadata.seq")) for a, b in zip(evs, evs[1:]))'
}

bg loader
wait_lines "$EVENTS" 200 60
note "crash: pg_ctl stop -m immediate at $(line_count "$EVENTS") lines"
pg_kill "$PGDIR"
sleep 3
check "the agent survives the crash" agent_alive
pg_start "$PGDIR" "$PORT" >/dev/null || fail "PostgreSQL did not start again"
wait_slot_active cdc_slot 30
n0=$(line_count "$EVENTS")
wait_lines "$EVENTS" $((n0 + 200)) 60
note "clean shutdown: pg_ctl stop -m fast at $(line_count "$EVENTS") lines"
pg_stop "$PGDIR"
sleep 2
check "the agent survives the shutdown" agent_alive
pg_start "$PGDIR" "$PORT" >/dev/null || fail "PostgreSQL did not start again"
wait_slot_active cdc_slot 30
n0=$(line_count "$EVENTS")
wait_lines "$EVENTS" $((n0 + 200)) 60
stop_loader
all_rows_once "after a crash and a clean restart"
agent_stop

grep 'reconnecting in' "$T/agent.log" | sed 's/.*"msg":"//' | cut -c1-200 | sed 's/^/#   /'
waits=$(grep -o 'reconnecting in [0-9.]* s (attempt [0-9]*)' "$T/agent.log" | awk '{print $3}' | tr '\n' ' ')
note "reconnect waits: $waits"
check "reconnect attempts are logged (at least 2 per outage)" \
    [ "$(grep -c 'reconnecting in' "$T/agent.log")" -ge 4 ]
check "the waits back off: 0.25 s, then 0.5 s, then 1.0 s" \
    grep -q 'reconnecting in 1.0 s (attempt 3)' "$T/agent.log"
check "the waits are capped at max_wait_seconds (2 s)" \
    python3 -c "import sys; sys.exit(0 if all(float(w) <= 2.0 for w in sys.argv[1:]) else 1)" $waits

note "part 2: agent.reconnect_max_attempts 3 while PostgreSQL stays down"
sed -i '/status_interval_seconds/a\  reconnect_max_attempts: 3' "$T/platform.yaml"
agent_start
bg loader
n0=$(line_count "$EVENTS")
wait_lines "$EVENTS" $((n0 + 100)) 60
pg_stop "$PGDIR"
t0=$SECONDS
agent_wait_exit 30
note "the agent gave up after $((SECONDS - t0)) s"
expect_eq "the agent exits 1 when the attempts are used up" "$AGENT_RC" 1
expect_contains "the error says it gave up and why" \
    "$(grep '"level":"error"' "$T/agent.log" | tail -n 1)" \
    "giving up after 3 reconnect attempts (agent.reconnect_max_attempts): cannot connect to PostgreSQL at 127.0.0.1:$PORT"
pg_start "$PGDIR" "$PORT" >/dev/null || fail "PostgreSQL did not start again"
sleep 2                                      # the loader commits more rows, no agent running
stop_loader
agent_start
all_rows_once "after giving up and starting again"
agent_stop
done_testing
