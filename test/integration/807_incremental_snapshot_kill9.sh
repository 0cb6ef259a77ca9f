#!/usr/bin/env bash
# 807: kill -9 in the middle of an incremental snapshot, then restart: it resumes from the
# oldest chunk the slot had not confirmed, not from the start (issue 22).  10000 rows read in
# chunks of 200 (each chunk slowed by an additional condition so the kill lands mid-way),
# into a jsonl file.  Checks: the restart logs that it resumes; every row arrives as `r` at
# least once, equal to psql's row; the first chunk's rows exactly once (it was confirmed
# before the kill); the rows delivered twice form one key range of at most 33 chunks (the
# chunks in flight at the kill: docs/snapshots.md); the execute-snapshot signal ran once;
# `cdcagent verify` finds the file equal to the source.  The sink writes its file every 2 s
# and the kill lands between two writes, so chunks emitted but never durable are read again.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

N=${IT_ROWS:-10000}
CH=200
pg_up
sql "CREATE TABLE items (id int PRIMARY KEY, v text, n bigint)"
sql "CREATE TABLE dbz_signal (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))"
sql "INSERT INTO items SELECT g, md5(g::text), g * 7 FROM generate_series(1, $N) g"
sql "ANALYZE items"     # chunks by index: the slow condition on the chunk's rows only

P_TABLES=public.items P_SNAPSHOT=never P_SOURCE_EXTRA="signal_data_collection: public.dbz_signal
incremental_snapshot_chunk_size: $CH" write_pipeline
# The file takes lines every 2 s: at the kill, the chunks emitted since the last write were
# never durable, and the restart must read them again (the record's pending chunks).
sed -i 's|^      path: .*|&\n      flush_interval_ms: 2000|' "$T/pipeline.yaml"
agent_start
sql "INSERT INTO dbz_signal VALUES ('snap-1', 'execute-snapshot', '{\"data-collections\": [\"public.items\"], \"additional-conditions\": [{\"data-collection\": \"public.items\", \"filter\": \"pg_sleep(0.0001) IS NOT NULL\"}]}')"
wait_lines "$EVENTS" $((N / 5)) 120
sleep 1                 # between two writes of the file
agent_kill9
note "lines at the kill: $(line_count "$EVENTS")"
held=$(jl_eval "$EVENTS" 'max(get(e, "key.id") for e in data)')
deadline=$((SECONDS + 30))
while [ "$(slot_field cdc_slot active)" = t ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "slot still active 30 s after kill -9"
    sleep 0.1
done
if grep -q 'incremental snapshot snap-1 done' "$T/agent.log"; then
    fail "the snapshot was done before the kill"
fi
ok "the snapshot was not done at the kill"
agent_start
wait_grep "$T/agent.log" 'incremental snapshot snap-1 done' 180
expect_contains "the restart resumes the snapshot" "$(sed -n '/^=== run 2 /,$p' "$T/agent.log")" "incremental snapshot snap-1 resumes"
from=$(sed -n '/^=== run 2 /,$p' "$T/agent.log" | sed -n 's/.*resumes: .* after key \[\\"\([0-9]*\)\\"\].*/\1/p')
note "the file held ids up to $held at the kill; the restart resumed after key ${from:-?}"
check "it resumed after a chunk boundary at or before the last row the file held" \
    test -n "$from" -a "${from:-0}" -le "$held" -a $((${from:-1} % CH)) -eq 0
expect_eq "the execute-snapshot signal ran once" "$(grep -c 'signal snap-1: incremental snapshot of' "$T/agent.log")" 1
cdc verify "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --sink local --wait 60
expect_eq "verify: the file equals the source ($(head -c 300 "$T/cdc.err"))" "$CDC_RC" 0
agent_stop

sql "COPY (SELECT id, v, n FROM items ORDER BY id) TO STDOUT WITH CSV" >"$T/items.csv"
F=$EVENTS
jl_check "every row arrives as r, equal to psql's row" "$F" "
sorted(set((get(e, 'value.after.id'), get(e, 'value.after.v'), get(e, 'value.after.n')) for e in data if get(e, 'value.op') == 'r'))
== [(int(a), b, int(c)) for a, b, c in (l.rstrip('\n').split(',', 2) for l in open('$T/items.csv'))]"
jl_check "the first chunk's rows arrive exactly once" "$F" "
sorted(get(e, 'key.id') for e in data if get(e, 'value.op') == 'r' and get(e, 'key.id') <= $CH) == list(range(1, $CH + 1))"
rep=$(jl_eval "$F" "(lambda ids: sorted(i for i in set(ids) if ids.count(i) > 1))([get(e, 'key.id') for e in data if get(e, 'value.op') == 'r'])")
nrep=$(jl_eval "$F" "(lambda ids: len([i for i in set(ids) if ids.count(i) > 1]))([get(e, 'key.id') for e in data if get(e, 'value.op') == 'r'])")
note "rows delivered twice: $nrep"
jl_check "the rows delivered twice form one key range of at most 33 chunks" "$F" "
(lambda rep: rep == list(range(rep[0], rep[0] + len(rep))) and len(rep) <= 33 * $CH if rep else True)($rep)"
done_testing
