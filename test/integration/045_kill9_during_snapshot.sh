#!/usr/bin/env bash
# 045: kill -9 the agent in the middle of the initial snapshot, after part of it reached the
# sink.  The restarted agent must notice that the snapshot never finished (the state record
# says so, and the slot never moved) and resume it on the same slot, reading what was not
# durable with the incremental algorithm (docs/snapshots.md, "After a crash": PostgreSQL 14+ needs
# no signal table): every row arrives; rows delivered before the kill may arrive twice
# (documented), changes made meanwhile arrive as op c.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

N=${IT_SNAPSHOT_ROWS:-200000}
pg_up
sql "CREATE TABLE big (id int PRIMARY KEY, payload text)" \
    "INSERT INTO big SELECT i, repeat(md5(i::text), 4) FROM generate_series(1, $N) i"

P_TABLES=public.big P_SNAPSHOT=initial write_pipeline
write_platform
AGENT_NO_WAIT=1 agent_start
wait_lines "$EVENTS" 2000 120
agent_kill9
partial=$(line_count "$EVENTS")
note "lines before the kill: $partial"
check "the kill landed during the snapshot" [ "$partial" -lt "$N" ]

agent_start
sql "INSERT INTO big VALUES ($((N + 1)), 'after the restart')"
wait_lines "$EVENTS" $((N + 1)) 240
sleep 1
agent_stop

F=$EVENTS
jl_check "every row 1..$N arrives as op r at least once" "$F" \
    "set(e['key']['id'] for e in data if get(e, 'value.op') == 'r') == set(range(1, $N + 1))"
expect_contains "the restart resumes the snapshot on the same slot" "$(cat "$T/agent.log")" \
    "did not finish; resuming it"
jl_check "the rows read after the restart are the resumed (incremental) snapshot's" "$F" \
    "[get(e, 'value.source.snapshot') for e in data if get(e, 'value.op') == 'r'][-1] == 'incremental'"
jl_check "the row written after the restart arrives once as op c" "$F" \
    "[e['key']['id'] for e in data if get(e, 'value.op') == 'c'] == [$((N + 1))]"
jl_check "duplicates are limited to rows delivered before the kill" "$F" \
    "len(data) - ($N + 1) <= $partial"
done_testing
