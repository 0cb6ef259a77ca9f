#!/usr/bin/env bash
# 805: an incremental snapshot through Debezium's signal table, under heavy concurrent updates,
# deletes and re-inserts of the same keys (issue 22).  The agent streams (snapshot_mode never)
# into a jsonl file and a PostgreSQL replica; a row inserted into public.dbz_signal asks for
# an incremental snapshot of public.items in chunks of 300 rows while a writer hammers the
# table's keys.  Checks: `cdcagent verify` finds the file and the replica equal to the source
# (an `r` row that went back in time behind a streamed change would differ); every row the
# writer never touched has exactly one `r` event, with the row psql shows; the `r` events
# carry source.snapshot "incremental" and no id twice within one chunk; the `log` signal's
# message is in the agent's log; the window markers are in the signal table.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

N=${IT_ROWS:-6000}
TGT=$T/tgt
trap 'rc=$?; pg_cleanup "$TGT"; set +e; (exit $rc); _cleanup' EXIT

pg_up
TPORT=$(free_port)
pg_start "$TGT" "$TPORT" >/dev/null || fail "target PostgreSQL did not start"
pg_psql "$TPORT" postgres "CREATE DATABASE mirror" >/dev/null
sql "CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL, note text)"
sql "CREATE TABLE dbz_signal (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))"
sql "INSERT INTO items SELECT g, 0, 'row ' || g FROM generate_series(1, $N) g"
sql "ANALYZE items"     # chunks by index: the slow condition on the chunk's rows only

P_TABLES=public.items P_SNAPSHOT=never P_SOURCE_EXTRA="signal_data_collection: public.dbz_signal
incremental_snapshot_chunk_size: 300" write_pipeline
add_pg_replica mirror "$TPORT" mirror
agent_start

# The writer: batches of small transactions on keys 1..N/2 only (so the upper half stays
# untouched): updates, deletes, re-inserts of deleted keys, updates of ranges; the same keys
# many times over.  It runs until the snapshot is done (at least two batches).
batch_sql() {
    python3 - "$N" "$1" <<'PY'
import random, sys
n = int(sys.argv[1]); half = n // 2
r = random.Random(int(sys.argv[2]))
for i in range(50):
    k = r.randint(1, half)
    c = r.random()
    if c < 0.5:
        print("UPDATE items SET v = v + 1, note = 'u%d' WHERE id = %d;" % (i, k))
    elif c < 0.7:
        print("DELETE FROM items WHERE id = %d;" % k)
    elif c < 0.9:
        print("INSERT INTO items VALUES (%d, %d, 'i%d') ON CONFLICT (id) DO UPDATE SET v = items.v + 1000, note = 'c%d';" % (k, i, i, i))
    else:
        print("BEGIN; UPDATE items SET v = v + 7 WHERE id BETWEEN %d AND %d; COMMIT;" % (min(k, half - 20), min(k, half - 20) + 20))
print("SELECT pg_sleep(0.2);")
PY
}
writer() {
    local rc=0 b=0
    while [ "$b" -lt 2 ] || ! grep -q 'incremental snapshot adhoc-1 done' "$T/agent.log"; do
        b=$((b + 1))
        batch_sql "$b" | user_psql >>"$T/writer.log" 2>&1 || { rc=$?; break; }
        [ "$b" -lt 400 ] || { rc=99; break; }
    done
    echo "writer exit $rc after $b batches" >>"$T/writer.log"
}
sql "INSERT INTO dbz_signal VALUES ('log-1', 'log', '{\"message\": \"hello from 805\"}')"
bg writer
sleep 0.3
sql "INSERT INTO dbz_signal VALUES ('adhoc-1', 'execute-snapshot', '{\"data-collections\": [\"public.items\"], \"type\": \"incremental\", \"additional-conditions\": [{\"data-collection\": \"public.items\", \"filter\": \"pg_sleep(0.0002) IS NOT NULL\"}]}')"

wait_grep "$T/agent.log" 'incremental snapshot adhoc-1 done' 240
wait_grep "$T/writer.log" '^writer exit' 120
dropped=$(sed -n 's/.*incremental snapshot adhoc-1 done: [0-9]* rows emitted, \([0-9]*\) left out.*/\1/p' "$T/agent.log")
note "chunk rows left out for a streamed change in their window: $dropped"
check "streamed changes landed in open windows (the writer overlapped the snapshot)" [ "${dropped:-0}" -gt 0 ]
expect_contains "the writer succeeded" "$(grep '^writer exit' "$T/writer.log")" "writer exit 0 "
expect_contains "the log signal's message is logged" "$(cat "$T/agent.log")" "hello from 805"
sql "INSERT INTO dbz_signal VALUES ('log-2', 'log', '{\"message\": \"end of 805\"}')"
wait_grep "$T/agent.log" 'end of 805' 60
markers=$(sql "SELECT count(*) FROM dbz_signal WHERE type = 'snapshot-window-close'")
note "window-close markers: $markers"
check "the snapshot took several chunks" [ "$markers" -ge $((N / 600)) ]

cdc verify "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --sink local --wait 60
expect_eq "verify: the jsonl file equals the source ($(head -c 400 "$T/cdc.err"))" "$CDC_RC" 0
cdc verify "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --sink mirror --wait 60
expect_eq "verify: the replica equals the source ($(head -c 400 "$T/cdc.err"))" "$CDC_RC" 0
agent_stop

sql "COPY (SELECT id, v, note FROM items WHERE id > $((N / 2)) ORDER BY id) TO STDOUT WITH CSV" >"$T/untouched.csv"
F=$EVENTS
jl_check "every r event is an incremental snapshot row of items" "$F" \
    'all(get(e, "value.source.snapshot") == "incremental" and get(e, "metadata.topic") == "cdc.public.items" for e in data if get(e, "value.op") == "r")'
jl_check "every untouched row has exactly one r event, equal to psql's row" "$F" "
sorted((get(e, 'value.after.id'), get(e, 'value.after.v'), get(e, 'value.after.note')) for e in data if get(e, 'value.op') == 'r' and get(e, 'value.after.id') > $((N / 2)))
== [(int(a), int(b), c) for a, b, c in (l.rstrip('\n').split(',', 2) for l in open('$T/untouched.csv'))]"
# A row never goes back in time: each r event equals the row the stream had made of its key
# by then in the file (the initial row when none), and no r follows a delete of its key.
jl_check "every r event equals the key's row as the stream left it before it" "$F" "
(lambda st: all((lambda k, op, row: (st.__setitem__(k, row) or True) if op != 'r' else
    st.get(k, (k, 0, 'row %d' % k)) == row)(
    get(e, 'key.id'), get(e, 'value.op'),
    None if get(e, 'value.after') is None else (get(e, 'value.after.id'), get(e, 'value.after.v'), get(e, 'value.after.note')))
    for e in data))({})"
note "r events: $(jl_eval "$F" 'sum(1 for e in data if get(e, "value.op") == "r")'), streamed: $(jl_eval "$F" 'sum(1 for e in data if get(e, "value.op") != "r")')"
done_testing
