#!/usr/bin/env bash
# 812: a parallel snapshot of a table whose primary key has two columns, text first, with
# values that need quoting (quotes, backslashes, spaces, non-ASCII), is cut into key ranges
# with row comparisons ((k, n) > ('...'::text, ...)) and still reads every row exactly once
# (docs/snapshots.md, "Threads and chunks").  Checks: the log shows the key-range chunks;
# the snapshot's (k, n) pairs equal psql's, each once.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

N=${IT_ROWS:-60000}
pg_up
sql "CREATE TABLE ck (k text, n int, payload text, PRIMARY KEY (k, n))" \
    "INSERT INTO ck SELECT (ARRAY['it''s', 'back\\slash', 'two words', 'é-accent', 'zz'])[1 + g % 5] || (g % 97),
            g, repeat(md5(g::text), 3) FROM generate_series(1, $N) g" \
    "VACUUM ANALYZE ck"
P_TABLES=public.ck P_SNAPSHOT=initial_only P_SOURCE_EXTRA=$'snapshot_max_threads: 4\nsnapshot_chunk_mb: 1' write_pipeline
write_platform
AGENT_NO_WAIT=1 agent_start
agent_wait_exit 120
expect_eq "initial_only: the agent exits 0 after the snapshot" "$AGENT_RC" 0
grep -q 'chunks by key range (\\"k\\", \\"n\\")' "$T/agent.log" || fail "no key-range chunks of (k, n) in the log"
ok "chunks by key range (k, n)"
sql "COPY (SELECT k, n FROM ck) TO STDOUT WITH CSV" >"$T/ck.csv"
jl_check "every (k, n) exactly once, as psql has them" "$EVENTS" "
sorted((get(e, 'key.k'), get(e, 'key.n')) for e in data if get(e, 'value.op') == 'r')
== sorted((r[0], int(r[1])) for r in __import__('csv').reader(open('$T/ck.csv')))"
done_testing
