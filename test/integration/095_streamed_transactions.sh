#!/usr/bin/env bash
# 095: transactions larger than logical_decoding_work_mem (64kB in the test servers) arrive
# in protocol-2 stream chunks.  A committed one is delivered whole at its commit, an aborted
# one not at all, and a rolled-back subtransaction inside a committed one only loses its own
# rows.  The agent's buffer is limited to 1 MiB, so the big transaction spills to disk.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_up
sql "CREATE TABLE t (id int PRIMARY KEY, payload text)"
P_TABLES=public.t P_SNAPSHOT=never write_pipeline
write_platform
sed -i 's/^agent:$/agent:\n  memory_limit_mb: 1/' "$T/platform.yaml"
grep -q 'memory_limit_mb: 1' "$T/platform.yaml" || fail "could not set agent.memory_limit_mb"
agent_start

sql "INSERT INTO t SELECT i, repeat(md5(i::text), 4) FROM generate_series(1, 20000) i"
sql "BEGIN; INSERT INTO t SELECT i, repeat('a', 100) FROM generate_series(100001, 110000) i; ROLLBACK;"
sql "BEGIN;
     INSERT INTO t SELECT i, 'kept' FROM generate_series(20001, 25000) i;
     SAVEPOINT s;
     INSERT INTO t SELECT i, 'gone' FROM generate_series(200001, 205000) i;
     ROLLBACK TO SAVEPOINT s;
     INSERT INTO t SELECT i, 'kept' FROM generate_series(25001, 26000) i;
     COMMIT;"
wait_lines "$EVENTS" 26000 120
sleep 1
agent_stop

F=$EVENTS
expect_eq "26000 events" "$(line_count "$F")" 26000
jl_check "ids 1..26000 exactly once, in commit order" "$F" \
    '[e["key"]["id"] for e in data] == list(range(1, 26001))'
jl_check "nothing from the aborted transaction or the rolled-back savepoint" "$F" \
    'all(get(e, "value.after.payload") != "gone" and e["key"]["id"] < 100001 for e in data)'
jl_check "the streamed transactions keep one txId each" "$F" \
    'len(set(get(e, "value.source.txId") for e in data)) == 2'
expect_contains "the agent says it received streamed transactions" "$(cat "$T/agent.log")" '(2 streamed)'
done_testing
