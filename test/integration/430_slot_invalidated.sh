#!/usr/bin/env bash
# 430: the slot invalidated by max_slot_wal_keep_size while the agent is stopped
# (wal_status 'lost').  The agent refuses to start (exit 1) with an error naming the slot, the
# reason and the recovery; `cdcagent slot status` reports it (exit 3); the documented recovery
# (snapshot_mode when_needed) takes a new snapshot and streams on.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

PG_EXTRA_CONF="max_slot_wal_keep_size = 1MB" pg_up
sql "CREATE TABLE items (id int PRIMARY KEY, payload text)" \
    "CREATE TABLE filler (id serial PRIMARY KEY, payload text)" \
    "INSERT INTO items SELECT i, 'row ' || i FROM generate_series(1, 3) i"
P_TABLES=public.items P_SNAPSHOT=initial write_pipeline
write_platform
agent_start
wait_lines "$EVENTS" 3 30
agent_stop
expect_eq "slot reserved before the WAL burst" "$(slot_field cdc_slot wal_status)" reserved

sql "INSERT INTO items VALUES (4, 'lost with the slot')"
# Several 16 MB segments past the slot, then a checkpoint: the server invalidates it.
for round in 1 2 3 4 5 6; do
    sql "INSERT INTO filler (payload) SELECT repeat('w', 1000) FROM generate_series(1, 3000)" \
        >/dev/null
    sql_su "SELECT pg_switch_wal()" >/dev/null
    sql_su "CHECKPOINT"
    [ "$(slot_field cdc_slot wal_status)" = lost ] && break
done
expect_eq "the slot is invalidated (wal_status lost, after $round rounds)" \
    "$(slot_field cdc_slot wal_status)" lost

# The cause as the agent names it: 17+ has invalidation_reason, older servers wal_status only.
if [ "$(pg_server_major)" -ge 17 ]; then cause="invalidation_reason wal_removed: it fell behind max_slot_wal_keep_size"
else cause="wal_status lost: it fell behind max_slot_wal_keep_size"; fi
for mode in initial never; do
    P_TABLES=public.items P_SNAPSHOT=$mode write_pipeline
    AGENT_NO_WAIT=1 agent_start
    agent_wait_exit 30
    expect_eq "snapshot_mode $mode: exit status 1" "$AGENT_RC" 1
    msg=$(grep -v '^===' "$T/agent.log" | tail -n 2)
    expect_contains "snapshot_mode $mode: names the slot and the reason" "$msg" \
        "slot cdc_slot was invalidated by PostgreSQL ($cause"
    expect_contains "snapshot_mode $mode: gives the recovery" "$msg" \
        "drop the slot (cdcagent slot drop --yes) and start again with snapshot_mode when_needed"
    expect_eq "snapshot_mode $mode: nothing written" "$(line_count "$EVENTS")" 3
done

cdc slot status "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "slot status exits 3 (warnings)" "$CDC_RC" 3
expect_contains "slot status says the slot is lost" "$(cat "$T/cdc.out" "$T/cdc.err")" "lost"

note "recovery: snapshot_mode when_needed"
P_TABLES=public.items P_SNAPSHOT=when_needed write_pipeline
agent_start
wait_lines "$EVENTS" 7 30
sql "INSERT INTO items VALUES (5, 'after the recovery')"
wait_lines "$EVENTS" 8 30
agent_stop
expect_eq "when_needed: the re-snapshot is a warning naming the slot" \
    "$(grep -c "\"level\":\"warn\".*slot cdc_slot was invalidated ($cause.*when_needed: dropping the slot and taking a new snapshot" "$T/agent.log")" 1
jl_check "rows 1..4 arrive again as op r, then 5 as op c" "$EVENTS" \
    "[(e['key']['id'], get(e, 'value.op')) for e in data[3:]] == [(1, 'r'), (2, 'r'), (3, 'r'), (4, 'r'), (5, 'c')]"
expect_eq "the new slot is healthy" "$(slot_field cdc_slot wal_status)" reserved
done_testing
