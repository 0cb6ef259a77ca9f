#!/usr/bin/env bash
# 802: SIGKILL twice in the middle of a parallel snapshot (4 threads).  The exported snapshot
# dies with the agent, so each restart notices the unfinished snapshot and takes it again on a
# new slot (docs/snapshots.md, "After a crash"): every row arrives, the last snapshot is
# complete and in order, and what repeats is bounded by what was delivered before the kills.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

N=${IT_SNAPSHOT_ROWS:-200000}
pg_up
sql "CREATE TABLE big (id int PRIMARY KEY, payload text)" \
    "INSERT INTO big SELECT i, repeat(md5(i::text), 2) FROM generate_series(1, $N) i"

P_TABLES=public.big P_SOURCE_EXTRA=$'snapshot_max_threads: 4\nsnapshot_chunk_mb: 1' write_pipeline
write_platform
AGENT_NO_WAIT=1 agent_start
wait_lines "$EVENTS" 2000 120
agent_kill9
first=$(line_count "$EVENTS")
note "lines before the first kill: $first"
check "the first kill landed during the snapshot" [ "$first" -lt "$N" ]

AGENT_NO_WAIT=1 agent_start
wait_lines "$EVENTS" $((first + 5000)) 120
agent_kill9
second=$(line_count "$EVENTS")
note "lines before the second kill: $second"
check "the second kill landed during the second snapshot" [ "$second" -lt $((first + N)) ]

agent_start
sql "INSERT INTO big VALUES ($((N + 1)), 'after the restarts')"
wait_lines "$EVENTS" $((second + N + 1)) 240
sleep 1
agent_stop

F=$EVENTS
jl_check "every row 1..$N arrives as op r" "$F" \
    "set(e['key']['id'] for e in data if get(e, 'value.op') == 'r') == set(range(1, $N + 1))"
jl_check "the last snapshot is whole: ids 1..$N once each, in order, first ... last" "$F" \
    "(lambda r: (lambda i: [e['key']['id'] for e in r[i:]] == list(range(1, $N + 1)) and get(r[i], 'value.source.snapshot') == 'first' and get(r[-1], 'value.source.snapshot') == 'last')(max(k for k, e in enumerate(r) if get(e, 'value.source.snapshot') == 'first')))([e for e in data if get(e, 'value.op') == 'r'])"
jl_check "the row written after the restarts arrives once as op c" "$F" \
    "[e['key']['id'] for e in data if get(e, 'value.op') == 'c'] == [$((N + 1))]"
jl_check "repeats are limited to the rows delivered before the kills ($second)" "$F" \
    "len(data) - ($N + 1) <= $second"
grep -q "4 threads" "$T/agent.log" || fail "the log does not show the 4-thread snapshot"
ok "the snapshots ran with 4 threads"
done_testing
