#!/usr/bin/env bash
# 803: a snapshot worker that cannot connect (the role's CONNECTION LIMIT leaves no room for
# source.snapshot_max_threads more connections).  The agent stops with exit status 1 and a
# message naming the worker, the key and PostgreSQL's reason, with no password in it; nothing
# of the snapshot is kept as delivered (the slot is dropped).  With room again, the next start
# takes the whole snapshot: every row once.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_up
sql "CREATE TABLE big (id int PRIMARY KEY, s text)" \
    "INSERT INTO big SELECT i, md5(i::text) FROM generate_series(1, 20000) i"
# the agent's replication and SQL connections fit, and one worker; the second is refused
sql_su "ALTER ROLE cdc_user CONNECTION LIMIT 3"

P_TABLES=public.big P_SOURCE_EXTRA=$'snapshot_max_threads: 4' write_pipeline
write_platform
AGENT_NO_WAIT=1 agent_start
agent_wait_exit 60
expect_eq "exit status 1" "$AGENT_RC" 1
log=$(cat "$T/agent.log")
expect_contains "the message names the worker and the key" "$log" "of 4 (source.snapshot_max_threads)"
expect_contains "the message says why" "$log" "too many connections for role"
check "no password in the log" bash -c "! grep -q cdc_password '$T/agent.log'"
expect_eq "the slot was dropped" "$(sql_su "SELECT count(*) FROM pg_replication_slots")" 0

sql_su "ALTER ROLE cdc_user CONNECTION LIMIT -1"
agent_start
wait_lines "$EVENTS" 20000 60
agent_stop
jl_check "the next start delivers every row once" "$EVENTS" \
    "sorted(e['key']['id'] for e in data if get(e, 'value.op') == 'r') == list(range(1, 20001))"
done_testing
