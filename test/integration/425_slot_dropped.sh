#!/usr/bin/env bash
# 425: the replication slot dropped by a DBA.
#  - while the agent is stopped, snapshot_mode initial and never: the start fails (exit 1) with
#    an error naming the slot and the destination's position; no slot is created, nothing is
#    written (a silent new snapshot or a silent jump to "now" would hide the lost changes);
#  - snapshot_mode when_needed: the agent says loudly that it takes a new snapshot, and does;
#  - while the agent runs (walsender terminated, slot dropped before the agent reconnects):
#    the agent stops retrying and exits 1 with an error naming the slot.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_up
sql "CREATE TABLE items (id int PRIMARY KEY, payload text)" \
    "INSERT INTO items SELECT i, 'row ' || i FROM generate_series(1, 3) i"
P_TABLES=public.items P_SNAPSHOT=initial write_pipeline
write_platform
agent_start
wait_lines "$EVENTS" 3 30
sql "INSERT INTO items VALUES (4, 'row 4'), (5, 'row 5')"
wait_lines "$EVENTS" 5 30
agent_stop

drop_slot() { sql_su "SELECT pg_drop_replication_slot('cdc_slot')" >/dev/null; }
drop_slot
sql "INSERT INTO items VALUES (6, 'lost: made while there was no slot')"

for mode in initial never; do
    P_TABLES=public.items P_SNAPSHOT=$mode write_pipeline
    AGENT_NO_WAIT=1 agent_start
    agent_wait_exit 30
    expect_eq "snapshot_mode $mode, slot dropped while stopped: exit status 1" "$AGENT_RC" 1
    expect_contains "snapshot_mode $mode: the error names the slot and what the sink holds" \
        "$(tail -n 3 "$T/agent.log")" "slot cdc_slot does not exist, but destination local holds events up to"
    expect_contains "snapshot_mode $mode: the error says how to go on" \
        "$(tail -n 3 "$T/agent.log")" "set snapshot_mode when_needed"
    expect_eq "snapshot_mode $mode: no slot was created" "$(slot_field cdc_slot slot_name)" ""
    expect_eq "snapshot_mode $mode: nothing written" "$(line_count "$EVENTS")" 5
done

P_TABLES=public.items P_SNAPSHOT=when_needed write_pipeline
agent_start
wait_lines "$EVENTS" 11 30
sql "INSERT INTO items VALUES (7, 'after the new snapshot')"
wait_lines "$EVENTS" 12 30
agent_stop
expect_eq "when_needed: the new snapshot is announced as a warning" \
    "$(grep -c '"level":"warn".*slot cdc_slot does not exist, but destination local holds events.*when_needed: creating it and taking a new snapshot' "$T/agent.log")" 1
jl_check "when_needed: the new snapshot has rows 1..6 (6 included), then 7 streams as op c" "$EVENTS" \
    "[(e['key']['id'], get(e, 'value.op')) for e in data[5:]] == [(i, 'r') for i in range(1, 7)] + [(7, 'c')]"

note "the slot dropped while the agent runs"
agent_start
sql "INSERT INTO items VALUES (8, 'x')"
wait_lines "$EVENTS" 13 30
# Terminate the walsender and drop the slot before the agent's reconnect (>= 0.5 s later)
# takes it again.
sql_su "DO \$\$
DECLARE done boolean := false;
BEGIN
  FOR i IN 1..200 LOOP
    PERFORM pg_terminate_backend(active_pid) FROM pg_replication_slots
      WHERE slot_name = 'cdc_slot' AND active_pid IS NOT NULL;
    BEGIN
      PERFORM pg_drop_replication_slot('cdc_slot');
      done := true;
    EXCEPTION WHEN object_in_use THEN
      PERFORM pg_sleep(0.02);
    END;
    EXIT WHEN done;
  END LOOP;
  IF NOT done THEN RAISE EXCEPTION 'could not drop the slot'; END IF;
END \$\$" >/dev/null
t0=$SECONDS
agent_wait_exit 60
note "the agent exited $((SECONDS - t0)) s after the drop"
expect_eq "slot dropped while running: exit status 1" "$AGENT_RC" 1
expect_contains "the error names the slot and says it does not exist" \
    "$(grep '"level":"error"' "$T/agent.log" | tail -n 1)" "slot cdc_slot does not exist on 127.0.0.1:$PORT (dropped while the agent ran"
expect_eq "it did not keep retrying (one failed START_REPLICATION)" \
    "$(grep -c 'replication slot \\"cdc_slot\\" does not exist' "$T/agent.log")" 1
expect_eq "no slot was created behind the DBA's back" "$(slot_field cdc_slot slot_name)" ""
done_testing
