#!/usr/bin/env bash
# 435: the network between the agent and PostgreSQL cut, through a TCP proxy the test
# controls (test/lib/tcpproxy.py; both agent connections go through it).
#  1. Reset (SIGUSR1) while a 200k-row transaction is being delivered, healed 2 s later.
#  2. Reset during a stream of small transactions.
#  3. Blackholed (SIGHUP: open connections, nothing forwarded) during small transactions: the
#     agent notices the silence within wal_sender_timeout (4 s here: it asks the server for
#     a reply at half of it, gives up at the other half) and reconnects once healed.
# Every row arrives exactly once, in commit order.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

PG_EXTRA_CONF="wal_sender_timeout = 4s" pg_up
sql "CREATE TABLE items (id int PRIMARY KEY, payload text)"
PROXY_PORT=$(free_port)
python3 -u "$CDC_SRC/test/lib/tcpproxy.py" "$PROXY_PORT" "$PORT" >"$T/proxy.log" 2>&1 &
PROXY_PID=$!
BG_PIDS+=("$PROXY_PID")
deadline=$((SECONDS + 10))
until grep -q listening "$T/proxy.log"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "the proxy did not start"
    sleep 0.1
done
REAL_PORT=$PORT
PORT=$PROXY_PORT P_TABLES=public.items P_SNAPSHOT=never write_pipeline
PORT=$REAL_PORT
PLATFORM_EXTRA=$'retry:\n  initial_wait_seconds: 0.5\n  max_wait_seconds: 2' write_platform
agent_start

proxy() { kill "-$1" "$PROXY_PID"; note "proxy: $1 ($2)"; }
all_once() {
    local n
    n=$(sql "SELECT count(*) FROM items")
    wait_lines "$EVENTS" "$n" 90
    sleep 1
    expect_eq "$1: lines = rows ($n)" "$(line_count "$EVENTS")" "$n"
    jl_check "$1: every id exactly once" "$EVENTS" \
        "sorted(e['key']['id'] for e in evs) == list(range(1, $n + 1))"
    jl_check "$1: commit order" "$EVENTS" \
        'all((get(a, "metadata.commit_lsn"), get(a, "metadata.seq")) < (get(b, "metadata.commit_lsn"), get(b, "metadata.seq")) for a, b in zip(evs, evs[1:]))'
}
small_txns() {   # small_txns FROM TO: one row per transaction, a little apart
    local i
    for ((i = $1; i <= $2; i++)); do
        echo "INSERT INTO items VALUES ($i, 'small'); SELECT pg_sleep(0.005);"
    done | PGPASSWORD=cdc_password "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 \
        -h 127.0.0.1 -p "$REAL_PORT" -U cdc_user -d cdc_demo >/dev/null
}

note "1: reset in the middle of a large transaction"
sql "INSERT INTO items SELECT i, repeat('L', 40) FROM generate_series(1, 200000) i"
wait_lines "$EVENTS" 30000 60
proxy USR1 "reset at $(line_count "$EVENTS") lines"
sleep 2
check "1: the agent survives the cut" agent_alive
proxy USR2 healed
all_once "1 (large transaction)"

note "2: reset during small transactions"
small_txns 200001 200600 &
loader=$!
sleep 1
proxy USR1 "reset at $(line_count "$EVENTS") lines"
sleep 2
proxy USR2 healed
wait "$loader"
all_once "2 (small transactions)"

note "3: blackhole during small transactions"
small_txns 200601 201000 &
loader=$!
sleep 0.5
proxy HUP "blackhole at $(line_count "$EVENTS") lines"
t0=$SECONDS
deadline=$((SECONDS + 20))
until grep -q 'the connection looks dead' "$T/agent.log"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "3: the silent connection was not detected within 20 s"
    sleep 0.2
done
note "3: detected after ~$((SECONDS - t0)) s: $(grep -o 'no reply from the server for [0-9]* ms' "$T/agent.log" | tail -n 1)"
check "3: detected within 2 x wal_sender_timeout" [ $((SECONDS - t0)) -le 8 ]
proxy USR2 healed
wait "$loader"
all_once "3 (blackhole)"
agent_stop
done_testing
