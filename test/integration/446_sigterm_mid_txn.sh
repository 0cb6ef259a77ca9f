#!/usr/bin/env bash
# 446: SIGTERM while one big plain (not streamed) transaction is being delivered.  Part of
# it is already in the sink when the signal comes; the agent reads on to its COMMIT (which
# the server has, since it sends a plain transaction only once committed), so the sink
# ends at a transaction boundary and the slot is confirmed past all of it.  Without that,
# the sink would hold a partial transaction the slot does not cover until the next run
# (445 caught this once, under load, by chance; here it is forced).
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"
ROWS=150000
pg_up
# Big enough that the transaction is not streamed in chunks: it is decoded at its commit.
sql_su "ALTER SYSTEM SET logical_decoding_work_mem = '512MB'" "SELECT pg_reload_conf()" >/dev/null
sql "CREATE TABLE items (id int PRIMARY KEY, payload text)"
P_TABLES=public.items P_SNAPSHOT=never write_pipeline
write_platform
# reading on to the commit may take a quarter of this (a slow sanitizer build needs seconds)
sed -i '/status_interval_seconds/a\  shutdown_timeout_seconds: 60' "$T/platform.yaml"
agent_start
sql "INSERT INTO items VALUES (0, 'first')"
wait_lines "$EVENTS" 1 30
sql "INSERT INTO items SELECT g, 'x' FROM generate_series(1, $ROWS) g"
wait_lines "$EVENTS" 1000 60
kill -TERM "$AGENT_PID"
n_at_signal=$(line_count "$EVENTS")
agent_wait_exit 60
n=$(line_count "$EVENTS")
note "SIGTERM with $n_at_signal of $((ROWS + 1)) lines in the sink; $n at exit"
[ "$n_at_signal" -lt $((ROWS + 1)) ] || fail "the whole transaction was delivered before the signal (test setup: raise ROWS)"
expect_eq "exit status 0" "$AGENT_RC" 0
expect_contains "the stop waited for the transaction's commit" "$(cat "$T/agent.log")" \
    "reading on to its commit"
expect_eq "the sink holds the whole transaction" "$n" $((ROWS + 1))
confirmed=$(lsn_num "$(slot_field cdc_slot confirmed_flush_lsn)")
last_commit=$(jl_eval "$EVENTS" 'max(get(e, "metadata.commit_lsn") for e in evs)')
check "confirmed_flush_lsn ($confirmed) >= the transaction's commit_lsn ($last_commit)" \
    [ "$confirmed" -ge "$last_commit" ]

agent_start
sql "INSERT INTO items VALUES ($((ROWS + 1)), 'after')"
wait_lines "$EVENTS" $((ROWS + 2)) 60
sleep 1
agent_stop
expect_eq "the next run adds only the new row" "$(line_count "$EVENTS")" $((ROWS + 2))
jl_check "every row exactly once" "$EVENTS" \
    "sorted(e['key']['id'] for e in evs) == list(range($((ROWS + 2))))"
done_testing
