#!/usr/bin/env bash
# 097: agent.max_value_mb.  With a limit of 1 MB, a 0.75 MB bytea (1.5 MB of hex on the wire:
# bytea is counted in bytes) and small rows go through; a 2 MB text value stops the agent with
# an error naming the table, column, size, limit and key, exit 2, and the slot is not
# confirmed past its transaction.  With the limit raised the next run delivers that row and
# what followed it, once each.  A snapshot is held to the same limit.  An array counts its
# text form, and the error says so.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_up
sql "CREATE TABLE t (id int PRIMARY KEY, body text, bin bytea)"
P_TABLES=public.t P_SNAPSHOT=never write_pipeline
set_max_value() {
    write_platform
    sed -i "s/^agent:\$/agent:\n  max_value_mb: $1/" "$T/platform.yaml"
    grep -q "max_value_mb: $1" "$T/platform.yaml" || fail "could not set agent.max_value_mb"
}
set_max_value 1
agent_start

sql "INSERT INTO t VALUES (1, 'small', NULL)"
sql "INSERT INTO t VALUES (2, NULL, decode(repeat('ab', 786432), 'hex'))"
wait_lines "$EVENTS" 2 60
before=$(slot_field cdc_slot confirmed_flush_lsn)
sql "INSERT INTO t VALUES (3, repeat('x', 2097152), NULL)"
big_lsn=$(sql_su "SELECT pg_current_wal_insert_lsn()")
sql "INSERT INTO t VALUES (4, 'after', NULL)"

agent_wait_exit 60
expect_eq "the agent stops with exit 2 (a configuration limit)" "$AGENT_RC" 2
log=$(cat "$T/agent.log")
expect_contains "the error names the table and column" "$log" "public.t: column body"
expect_contains "the error gives the value's size" "$log" "a value of 2.0 MB (2097152 bytes)"
expect_contains "the error names the limit and the key to raise" "$log" \
    "is over agent.max_value_mb (1); raise it in platform.yaml (at most 1024) to capture the row"
expect_eq "the rows before it were delivered, not the large one" "$(line_count "$EVENTS")" 2
expect_eq "the 0.75 MB bytea arrived whole (base64 of 786432 bytes)" \
    "$(jl_eval "$EVENTS" 'len(get(data[1], "value.after.bin"))')" 1048576
confirmed=$(slot_field cdc_slot confirmed_flush_lsn)
note "confirmed before the large row $before, after the stop $confirmed; its commit ends before $big_lsn"
check "the slot is not confirmed past the large row's transaction" \
    test "$(lsn_num "$confirmed")" -lt "$(lsn_num "$big_lsn")"

set_max_value 3
agent_start
wait_lines "$EVENTS" 4 60
agent_stop
jl_check "each row exactly once, in order" "$EVENTS" '[e["key"]["id"] for e in data] == [1, 2, 3, 4]'
jl_check "the 2 MB value arrived whole" "$EVENTS" \
    'get(data[2], "value.after.body") == "x" * 2097152'

sql "CREATE TABLE s (id int PRIMARY KEY, body text)"
sql "INSERT INTO s VALUES (1, repeat('y', 2097152))"
P_TABLES=public.s P_SNAPSHOT=initial P_SLOT=snap_slot P_PUB=snap_pub P_OUT=$T/snap.jsonl \
    write_pipeline
set_max_value 1
AGENT_NO_WAIT=1 agent_start
agent_wait_exit 60
expect_eq "a snapshot row over the limit stops the agent with exit 2" "$AGENT_RC" 2
expect_contains "the error names the snapshot's table, column and size" "$(cat "$T/agent.log")" \
    "snapshot of table public.s: column body: a value of 2.0 MB (2097152 bytes) is over agent.max_value_mb (1)"
expect_eq "nothing of that snapshot was delivered" "$(line_count "$T/snap.jsonl")" 0

# An array is counted on its text form: a bytea[] of 0.6 MB is 1.2 MB of quoted hex, and
# the error says so instead of calling it a value of 1.2 MB.
sql "CREATE TABLE a (id int PRIMARY KEY, bins bytea[])"
sql "INSERT INTO a VALUES (1, ARRAY[decode(repeat('ab', 629146), 'hex')])"
P_TABLES=public.a P_SNAPSHOT=initial P_SLOT=arr_slot P_PUB=arr_pub P_OUT=$T/arr.jsonl \
    write_pipeline
: >"$T/agent.log"
AGENT_NO_WAIT=1 agent_start
agent_wait_exit 60
expect_eq "an array over the limit stops the agent with exit 2" "$AGENT_RC" 2
expect_contains "the error says the array's text form was counted" "$(cat "$T/agent.log")" \
    "snapshot of table public.a: column bins: an array whose text form is of 1.2 MB"
done_testing
