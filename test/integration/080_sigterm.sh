#!/usr/bin/env bash
# 080: SIGTERM drains and exits 0, and the slot's confirmed_flush_lsn afterwards is at or
# past every event written; a restart then writes nothing twice.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_up
sql "CREATE TABLE items (id int PRIMARY KEY, payload text)"

P_TABLES=public.items P_SNAPSHOT=never write_pipeline
write_platform
agent_start

for i in $(seq 1 20); do
    sql "INSERT INTO items VALUES ($i, 'row $i')"
done
sql "INSERT INTO items SELECT i, 'bulk' FROM generate_series(21, 220) i"
wait_lines "$EVENTS" 220 60
agent_stop

F=$EVENTS
expect_eq "220 events" "$(line_count "$F")" 220
expect_eq "slot inactive after exit" "$(slot_field cdc_slot active)" f
CONFIRMED=$(lsn_num "$(slot_field cdc_slot confirmed_flush_lsn)")
LAST_LSN=$(jl_eval "$F" 'max(get(e, "value.source.lsn") for e in evs)')
LAST_COMMIT=$(jl_eval "$F" 'max(get(e, "metadata.commit_lsn") for e in evs)')
note "confirmed_flush_lsn=$CONFIRMED last source.lsn=$LAST_LSN last commit_lsn=$LAST_COMMIT"
check "confirmed_flush_lsn >= lsn of the last event" [ "$CONFIRMED" -ge "$LAST_LSN" ]
check "confirmed_flush_lsn >= commit_lsn of the last event" [ "$CONFIRMED" -ge "$LAST_COMMIT" ]

note "restart: nothing is written twice, new rows arrive"
agent_start
sql "INSERT INTO items VALUES (221, 'after restart')"
wait_lines "$EVENTS" 221 60
sleep 2
agent_stop
jl_check "ids 1..221 exactly once" "$F" "sorted(e['key']['id'] for e in evs) == list(range(1, 222))"

done_testing
