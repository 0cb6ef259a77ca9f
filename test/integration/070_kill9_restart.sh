#!/usr/bin/env bash
# 070: kill -9 the agent twice while rows stream in, restart it each time: every row
# appears exactly once as op c in the jsonl file (the sink appends to the same file and
# skips on restart what it already has; the slot re-sends from its confirmed LSN).
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

N=${IT_ROWS:-3000}
pg_up
sql "CREATE TABLE items (id int PRIMARY KEY, batch int, payload text)"

P_TABLES=public.items P_SNAPSHOT=never write_pipeline
write_platform
agent_start

# The loader: numbered rows, most one per transaction, every 10th step a transaction of
# five rows (so a kill can land inside a transaction's events), a short pause between.
loader() {
    local i=1 b=0 j rc
    while [ "$i" -le "$N" ]; do
        b=$((b + 1))
        if [ $((b % 10)) -eq 0 ] && [ $((i + 4)) -le "$N" ]; then
            echo "BEGIN;"
            for j in 0 1 2 3 4; do
                echo "INSERT INTO items VALUES ($((i + j)), $b, repeat('x', 100));"
            done
            echo "COMMIT;"
            i=$((i + 5))
        else
            echo "INSERT INTO items VALUES ($i, $b, repeat('x', 100));"
            i=$((i + 1))
        fi
        echo "SELECT pg_sleep(0.003);"
    done | user_psql >"$T/loader.log" 2>&1 && rc=0 || rc=$?
    echo "loader exit $rc" >>"$T/loader.log"
}
bg loader

wait_lines "$EVENTS" 300 120
note "lines before the first kill: $(line_count "$EVENTS")"
restart_after_kill
wait_lines "$EVENTS" $(( $(line_count "$EVENTS") + 500 )) 120
note "lines before the second kill: $(line_count "$EVENTS")"
restart_after_kill

deadline=$((SECONDS + 300))
until grep -q '^loader exit' "$T/loader.log" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || fail "loader did not finish in 300 s"
    sleep 0.5
done
expect_eq "the loader succeeded" "$(grep '^loader exit' "$T/loader.log")" "loader exit 0"
expect_eq "the loader inserted $N rows" "$(sql "SELECT count(*) FROM items")" "$N"
wait_lines "$EVENTS" "$N" 120
sleep 2                     # anything duplicated would arrive now
agent_stop
note "agent runs: $AGENT_RUNS, lines: $(line_count "$EVENTS")"

F=$EVENTS
jl_check "every line is an op c event of items" "$F" \
    'all(get(e, "value.op") == "c" and get(e, "metadata.topic") == "cdc.public.items" for e in evs)'
jl_check "no id appears twice" "$F" \
    'len(evs) == len(set(e["key"]["id"] for e in evs))'
jl_check "every id 1..$N appears exactly once" "$F" \
    "sorted(e['key']['id'] for e in evs) == list(range(1, $N + 1))"
jl_check "(commit_lsn, seq) strictly increasing across the restarts" "$F" \
    'all((get(a, "metadata.commit_lsn"), get(a, "metadata.seq")) < (get(b, "metadata.commit_lsn"), get(b, "metadata.seq")) for a, b in zip(evs, evs[1:]))'
jl_check "rows of one transaction stay together and in order" "$F" \
    'all(get(e, "value.after.id") == e["key"]["id"] for e in evs)'

done_testing
