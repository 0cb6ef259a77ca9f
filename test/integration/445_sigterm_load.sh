#!/usr/bin/env bash
# 445: SIGTERM while a continuous load runs (080 covers an idle agent).  The agent drains,
# confirms and exits 0 within agent.shutdown_timeout_seconds; the slot's confirmed_flush_lsn
# covers every transaction in the sink and none that is not (the first transaction the next
# run delivers commits after it); the restart delivers the rest, nothing twice.  Done twice,
# once with the sink's fsync on a flush interval of 1 s (so a lot is buffered at the signal).
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_up
sql "CREATE TABLE items (id int PRIMARY KEY, payload text)"
P_TABLES=public.items P_SNAPSHOT=never write_pipeline
echo "      flush_interval_ms: 1000" >>"$T/pipeline.yaml"
write_platform
sed -i '/status_interval_seconds/a\  shutdown_timeout_seconds: 10' "$T/platform.yaml"

# loader: batches of 50 single-row transactions and one 500-row transaction, until $T/stop.
loader() {
    local i=1 j
    while [ ! -e "$T/stop" ]; do
        {
            for ((j = 0; j < 50; j++)); do
                echo "INSERT INTO items VALUES ($((i + j)), repeat('y', 80));"
            done
            echo "INSERT INTO items SELECT g, 'bulk' FROM generate_series($((i + 50)), $((i + 549))) g;"
        } | user_psql >/dev/null 2>&1 || sleep 0.2
        i=$((i + 550))
    done
    echo done >"$T/loader.done"
}
for round in 1 2; do
    agent_start
    [ "$round" = 2 ] || bg loader
    n0=$(line_count "$EVENTS")
    wait_lines "$EVENTS" $((n0 + 1500 + RANDOM % 1500)) 60
    t0=$(date +%s%N)
    kill -TERM "$AGENT_PID"
    for ((w = 0; w < 150; w++)); do agent_alive || break; sleep 0.1; done
    if agent_alive && command -v gdb >/dev/null; then
        # Where it hangs, for the report.
        gdb -p "$AGENT_PID" -batch -ex 'thread apply all bt' 2>/dev/null | grep '^#' | sed 's/^/# /'
    fi
    agent_wait_exit 5
    ms=$((($(date +%s%N) - t0) / 1000000))
    note "round $round: exit $AGENT_RC ${ms} ms after SIGTERM, $(line_count "$EVENTS") lines"
    expect_eq "round $round: exit status 0 under load" "$AGENT_RC" 0
    check "round $round: exited within shutdown_timeout_seconds (10 s): ${ms} ms" [ "$ms" -lt 10000 ]
    expect_contains "round $round: the last log line confirms the slot" \
        "$(tail -n 1 "$T/agent.log")" "at shutdown"
    confirmed=$(lsn_num "$(slot_field cdc_slot confirmed_flush_lsn)")
    last_commit=$(jl_eval "$EVENTS" 'max(get(e, "metadata.commit_lsn") for e in evs)')
    check "round $round: confirmed_flush_lsn ($confirmed) >= last commit_lsn in the sink ($last_commit)" \
        [ "$confirmed" -ge "$last_commit" ]
    echo "$confirmed $(line_count "$EVENTS")" >"$T/round$round"
done

touch "$T/stop"
deadline=$((SECONDS + 30))
until [ -e "$T/loader.done" ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "loader did not stop"
    sleep 0.1
done
agent_start
n=$(sql "SELECT count(*) FROM items")
wait_lines "$EVENTS" "$n" 90
sleep 1
agent_stop

for round in 1 2; do
    read -r confirmed lines <"$T/round$round"
    jl_check "round $round: the first transaction after the stop commits after confirmed_flush_lsn" \
        "$EVENTS" "get(evs[$lines], 'metadata.commit_lsn') > $confirmed"
    jl_check "round $round: every transaction before the stop committed at or before it" \
        "$EVENTS" "all(get(e, 'metadata.commit_lsn') <= $confirmed for e in evs[:$lines])"
done
sql "COPY (SELECT id FROM items ORDER BY id) TO STDOUT" >"$T/ids.txt"
jl_check "every committed row exactly once ($n rows)" "$EVENTS" \
    "sorted(e['key']['id'] for e in evs) == [int(x) for x in open('$T/ids.txt').read().split()]"
done_testing
