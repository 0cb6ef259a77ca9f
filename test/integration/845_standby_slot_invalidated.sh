#!/usr/bin/env bash
# 845: a slot on a standby invalidated by a recovery conflict is detected and named
# (PostgreSQL 16; PG_MAJOR=17/18 run it too; docs/ha.md "A slot invalidated on the
# standby").  842's setup: the agent captures from a hot standby, the workload writes to the
# primary.  The conflict, made deterministic: the primary restarts with wal_level = replica;
# replaying its parameter-change record, the standby invalidates every logical slot
# (wal_level_insufficient), terminating the agent's walsender.  (The other recovery
# conflict, rows_removed, needs VACUUM to remove catalog rows the slot needs while
# hot_standby_feedback is off: timing-dependent, so it is covered by test_slot_invalid's
# texts.)  Checked: the agent stops (exit 1), naming the slot, the server and the cause;
# psql on the standby shows the slot conflicting (16+) with invalidation_reason
# wal_level_insufficient (17+); `slot status` exits 3 with a warning naming the cause and
# --json's conflicting true; a restart is refused at start with the cause and the recovery;
# what the agent delivered before the conflict is in the jsonl file once.
PG_MAJOR=${PG_MAJOR:-16}
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"
# shellcheck source=SCRIPTDIR/../lib/ha.sh
. "$CDC_SRC/test/lib/ha.sh"

major=$(pg_server_major)
ha_up standby1
ha_standby_setup "CREATE TABLE items (id int PRIMARY KEY, payload text)" \
    "INSERT INTO items SELECT g, 'before' FROM generate_series(1, 20) g"
P_TABLES=public.items write_pipeline
PLATFORM_EXTRA=$'retry:\n  initial_wait_seconds: 0.25\n  max_wait_seconds: 1\n  multiplier: 2\n  jitter: false' \
    write_platform
ha_standby_agent_start
pg_psql "$PRIMARY_PORT" cdc_demo "INSERT INTO items SELECT g, 'streamed' FROM generate_series(101, 110) g"
wait_lines "$EVENTS" 30 60
ok "the agent captured 20 snapshot rows and 10 streamed ones from the standby"

# The conflict: the primary's wal_level below logical.
pg_psql "$PRIMARY_PORT" postgres "ALTER SYSTEM SET wal_level = replica" >/dev/null
pg_stop "$HA_OLD_DIR" || fail "the primary did not stop"
pg_start "$HA_OLD_DIR" "$PRIMARY_PORT" >/dev/null || fail "the primary did not start with wal_level replica"
expect_eq "the primary runs with wal_level replica (psql)" \
    "$(pg_psql "$PRIMARY_PORT" postgres "SHOW wal_level")" replica
pg_psql "$PRIMARY_PORT" cdc_demo "INSERT INTO items VALUES (999, 'after the conflict')"
agent_wait_exit 60
expect_eq "the agent stops: exit status 1" "$AGENT_RC" 1
log=$(cat "$T/agent.log")
expect_eq "the standby's slot is conflicting (psql)" "$(sb_sql "SELECT conflicting FROM pg_replication_slots WHERE slot_name = 'cdc_slot'")" t
if [ "$major" -ge 17 ]; then
    expect_eq "its invalidation_reason (psql)" \
        "$(sb_sql "SELECT invalidation_reason FROM pg_replication_slots WHERE slot_name = 'cdc_slot'")" \
        wal_level_insufficient
fi
# The standby ends the walsender's stream with "User was using a logical replication slot
# that must be invalidated" (16-18), which says a recovery conflict but not which.
expect_contains "the agent's error names the slot, the standby and the cause" "$log" \
    "slot cdc_slot on 127.0.0.1:$SB_PORT cannot be used: PostgreSQL invalidated it (conflicting with recovery: a recovery conflict on the standby"
jl_check "what was delivered before the conflict is in the jsonl file once (20 r, 10 c)" "$EVENTS" \
    "sorted(e['key']['id'] for e in evs) == list(range(1, 21)) + list(range(101, 111))"

cdc slot status "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --json
expect_eq "slot status: exit status 3 (warnings)" "$CDC_RC" 3
if [ "$major" -ge 17 ]; then want="invalidation_reason wal_level_insufficient: a recovery conflict on the standby"
else want="conflicting with recovery: a recovery conflict on the standby"; fi
python3 - "$T/cdc.out" "slot cdc_slot was invalidated ($want" <<'PY' >"$T/status_check.txt" 2>&1 ||
import json, sys
o = json.load(open(sys.argv[1]))
assert o["conflicting"] is True, o
assert [w for w in o["warnings"] if w.startswith(sys.argv[2])], o["warnings"]
PY
    fail "slot status --json: $(cat "$T/status_check.txt")"
ok "slot status --json: conflicting true and the warning \"slot cdc_slot was invalidated ($want ...\""
cdc slot status "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_contains "slot status (text) names it too" "$(cat "$T/cdc.out" "$T/cdc.err")" "slot cdc_slot was invalidated ($want"

AGENT_NO_WAIT=1 agent_start
agent_wait_exit 60
expect_eq "a restart is refused: exit status 1" "$AGENT_RC" 1
expect_contains "with the cause and the recovery" "$(sed -n "/^=== run 2 /,\$p" "$T/agent.log")" \
    "slot cdc_slot was invalidated by PostgreSQL ($want"
expect_contains "... and the recovery" "$(sed -n "/^=== run 2 /,\$p" "$T/agent.log")" \
    "start again with snapshot_mode when_needed"
done_testing
