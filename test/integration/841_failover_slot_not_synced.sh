#!/usr/bin/env bash
# 841: a failover that loses the slot is an error naming the cause, never a silent new
# snapshot (PostgreSQL 17, docs/ha.md).  The same primary and standby as 840, but the slot is
# created without failover (source.slot_failover false, the default), so the standby never
# gets a copy: `slot status` warns that a failover now would lose the slot (and psql on the
# standby shows no copy).  After the failover the agent reconnects to the new primary, finds
# no slot there and exits 1 saying it was a failover (the timeline went up) and that the slot
# had no failover; a restart stops too (the destination holds events, the slot is gone)
# rather than create a new slot and snapshot again; no slot was created on the new primary.
# With both servers down, the connection error names the host list.
PG_MAJOR=${PG_MAJOR:-17}
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"
# shellcheck source=SCRIPTDIR/../lib/ha.sh
. "$CDC_SRC/test/lib/ha.sh"

ha_up standby1
sql "CREATE TABLE items (id int PRIMARY KEY, payload text)" \
    "INSERT INTO items SELECT g, 'before' FROM generate_series(1, 20) g"
P_TABLES=public.items write_pipeline
sed -i "s|^  host: .*|  host: \"$(ha_hosts)\"|" "$T/pipeline.yaml"
PLATFORM_EXTRA=$'retry:\n  initial_wait_seconds: 0.25\n  max_wait_seconds: 1\n  multiplier: 2\n  jitter: false' \
    write_platform
agent_start
sql "INSERT INTO items SELECT g, 'streamed' FROM generate_series(21, 40) g"
wait_lines "$EVENTS" 40 30
expect_eq "the slot has failover off (psql, primary)" "$(slot_field cdc_slot failover)" f

cdc slot status "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "slot status exits 3 (warnings)" "$CDC_RC" 3
expect_contains "slot status warns that a failover now loses the slot" "$(cat "$T/cdc.out")" \
    "slot cdc_slot has failover off: no standby gets a copy of it, so a failover now loses the slot"
expect_contains "slot status names the standby without a copy" "$(cat "$T/cdc.out")" \
    "standby 127.0.0.1:$SB_PORT has no copy of slot cdc_slot"
expect_eq "psql on the standby: no copy of the slot" \
    "$(sb_sql "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'cdc_slot'")" 0

ha_failover
agent_wait_exit 60
expect_eq "the agent exits 1 after the failover" "$AGENT_RC" 1
log=$(cat "$T/agent.log")
expect_contains "the error says it was a failover" "$log" \
    "after a failover (127.0.0.1:$SB_PORT was promoted: timeline 2, the agent streamed on 1)"
expect_contains "the error names the cause" "$log" \
    "the slot had no failover (source.slot_failover: false), so no standby had a copy"
expect_contains "the error names the slot and the server" "$log" \
    "slot cdc_slot does not exist on 127.0.0.1:$SB_PORT"
expect_contains "the error ends with the server's own words" "$log" \
    'replication slot \"cdc_slot\" does not exist)"}'

AGENT_NO_WAIT=1 agent_start
agent_wait_exit 60
expect_eq "a restart stops too (exit 1)" "$AGENT_RC" 1
expect_contains "the restart says the slot is gone and refuses to start over silently" \
    "$(sed -n '/=== run 2/,$p' "$T/agent.log")" "slot cdc_slot does not exist, but destination local holds events"
expect_eq "no slot was created on the new primary" "$(slot_field cdc_slot slot_name)" ""
jl_check "no second snapshot: 20 op r events, then the 20 streamed rows, nothing more" "$EVENTS" \
    "[get(e, 'value.op') for e in evs] == ['r'] * 20 + ['c'] * 20"

# Neither host answers: the message names the list as configured.
pg_stop "$SB_DIR"
cdc slot status "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "slot status with no server up exits 1" "$CDC_RC" 1
expect_contains "the message names both hosts" "$(cat "$T/cdc.err")" \
    "cannot connect to PostgreSQL at $(ha_hosts) database cdc_demo as cdc_user"
done_testing
