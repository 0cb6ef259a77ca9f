#!/usr/bin/env bash
# 705: compaction of an upsert table (sinks/iceberg/ice_compact, run by
# test/tools/ice_compact_drive through the sink's catalog and warehouse).  The agent writes
# table items with 200 small commits (batch_size 5: inserts, updates, deletes, so position
# deletes pile up) and is stopped.  Then, each checked with pyiceberg (an independent reader)
# against SELECT * of the source:
#  - a compaction pass killed (SIGKILL) after writing its files, before its commit: the table
#    is unchanged and readable;
#  - a compaction pass during which pyiceberg appends a row (the commit conflicts and rebuilds
#    on top): the appended row is there, nothing lost; the data and delete files drop to what
#    the pass says; the snapshot is a "replace";
#  - a pass during which pyiceberg deletes a row (copy-on-write: it removes a file the pass
#    is rewriting): the pass abandons its plan and plans again, the row stays deleted;
#  - the agent resumes on the compacted table (its key index rebuilt from the new files):
#    updates and deletes of moved rows keep the table equal to the source, no key twice;
#  - the running agent commits an update (a position delete naming a file the pass is
#    rewriting) between the pass's plan and its commit: the pass plans again, the update
#    stays.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/iceberg.sh"

iceberg_install || fail "could not install pyiceberg $ICEBERG_VERSION (see above)"
CHECK=$CDC_SRC/test/tools/iceberg_sink_check.py
DRIVE=${CDC_BUILD:-$CDC_SRC/build}/ice_compact_drive
[ -x "$DRIVE" ] || fail "no $DRIVE (build the tools)"
pg_up

WH=file://$T/wh
CAT_URI=$(iceberg_pg_uri "$PORT")
chk() { "$ICEBERG_PY" "$CHECK" --uri "$CAT_URI" --warehouse "$WH" "$@"; }
pgjson() { PGTZ=UTC sql "SELECT row_to_json(t) FROM $1 t ORDER BY id"; }
# "<data files> <delete files> <current snapshot's operation>" as pyiceberg plans the scan
files() {
    "$ICEBERG_PY" - "$CAT_URI" "$WH" "$1" <<'PY'
import sys
from pyiceberg.catalog.sql import SqlCatalog
t = SqlCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2]).load_table(sys.argv[3])
data, dels = set(), set()
for task in t.scan().plan_files():
    data.add(task.file.file_path)
    for d in task.delete_files:
        dels.add(d.file_path)
print(len(data), len(dels), t.current_snapshot().summary.operation.value)
PY
}

sql "CREATE TABLE items (id int PRIMARY KEY, txt text, n bigint, ts timestamptz, amount numeric(12,2))"

P_TABLES="public.items" P_SNAPSHOT=initial write_pipeline
cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: lake
    sink_type: iceberg
    iceberg:
      catalog_uri: "$CAT_URI"
      warehouse: "$WH"
      table_namespace: cdc
      write_mode: upsert
      batch_size: 5
      flush_interval_seconds: 0.2
      maintenance:
        compaction_file_threshold: 10
        compaction_max_rows_per_batch: 100000
YAML
write_platform
agent_start

# 200 transactions of up to 5 changes, paced: batch_size 5 makes each (about) one Iceberg
# commit (the sink may still put several in one: only "many" files are asserted)
{
    for i in $(seq 1 200); do
        a=$((i * 3)); b=$((i * 3 + 1)); c=$((i * 3 + 2)); u=$(((i * 7) % (i * 3) + 1))
        echo "BEGIN;"
        echo "INSERT INTO items VALUES ($a, 'a$i', $i, '2024-01-01 00:00:00+00'::timestamptz + $i * interval '1 minute', $i.25);"
        echo "INSERT INTO items VALUES ($b, 'b$i', $i, NULL, NULL);"
        echo "INSERT INTO items VALUES ($c, 'c$i', -$i, now(), 0);"
        echo "UPDATE items SET txt = txt || '+', n = n + 1 WHERE id = $u;"
        if [ $((i % 3)) -eq 0 ]; then echo "DELETE FROM items WHERE id = $b;"
        else echo "UPDATE items SET amount = 1.5 WHERE id = $a;"; fi
        echo "COMMIT;"
        echo "SELECT pg_sleep(0.15);"   # lets (most) batches be commits of their own
    done
    echo "INSERT INTO items (id, txt) VALUES (1000000, 'sentinel');"
} >"$T/load.sql"
PGPASSWORD=cdc_password "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" \
    -U cdc_user -d cdc_demo -f "$T/load.sql" >/dev/null || fail "the workload failed"

for _ in $(seq 300); do grep -q '"sentinel"' "$EVENTS" && break; sleep 0.2; done
grep -q '"sentinel"' "$EVENTS" || fail "the sentinel never reached the jsonl sink"
pgjson items >"$T/items.pg"
for _ in $(seq 150); do
    chk cdc.public_items upsert --pg "$T/items.pg" >/dev/null 2>&1 && break
    sleep 0.3
done
agent_stop
check "before compaction: items == SELECT *" chk cdc.public_items upsert --pg "$T/items.pg"
read -r D0 X0 OP0 <<<"$(files cdc.public_items)"
note "before: $D0 data files, $X0 delete files ($OP0)"
[ "$D0" -ge 50 ] || fail "expected many small data files, got $D0"
[ "$X0" -ge 10 ] || fail "expected many delete files, got $X0"

note "SIGKILL after the new files are written, before the commit"
rm -f "$T/pause"
"$DRIVE" "$T/pipeline.yaml" cdc.public_items --pause-before-commit "$T/pause" \
    >"$T/kill.out" 2>&1 &
KPID=$!
for _ in $(seq 600); do [ -f "$T/pause" ] && break; sleep 0.1; done
[ -f "$T/pause" ] || fail "the compaction never reached its commit: $(cat "$T/kill.out")"
kill -KILL "$KPID"
wait "$KPID" 2>/dev/null || true
rm -f "$T/pause"
check "after the killed pass: items == SELECT * (readable, unchanged)" \
    chk cdc.public_items upsert --pg "$T/items.pg"
read -r D1 X1 OP1 <<<"$(files cdc.public_items)"
expect_eq "the killed pass committed nothing" "$D1 $X1 $OP1" "$D0 $X0 $OP0"

note "a pyiceberg append while the pass is between its files and its commit"
"$DRIVE" "$T/pipeline.yaml" cdc.public_items --pause-before-commit "$T/pause" \
    --moves "$T/moves" >"$T/c1.json" 2>"$T/c1.err" &
CPID=$!
for _ in $(seq 600); do [ -f "$T/pause" ] && break; sleep 0.1; done
[ -f "$T/pause" ] || fail "the compaction never reached its commit: $(cat "$T/c1.err")"
check "pyiceberg appends a row meanwhile" "$ICEBERG_PY" - "$CAT_URI" "$WH" <<'PY'
import sys
import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog
t = SqlCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2]).load_table("cdc.public_items")
schema = t.schema().as_arrow()
row = {f.name: [None] for f in schema}
row["id"] = [2000000]
row["txt"] = ["appended by pyiceberg"]
t.append(pa.table(row, schema=schema))
PY
rm -f "$T/pause"
wait "$CPID" || fail "the compaction failed: $(cat "$T/c1.err")"
cat "$T/c1.json"
C1=$(cat "$T/c1.json")
read -r D2 X2 OP2 <<<"$(files cdc.public_items)"
note "after: $D2 data files, $X2 delete files ($OP2)"
{ cat "$T/items.pg"; echo '{"id":2000000,"txt":"appended by pyiceberg","n":null,"ts":null,"amount":null}'; } \
    >"$T/items+1.pg"
check "after compaction: items == SELECT * plus the concurrent append" \
    chk cdc.public_items upsert --pg "$T/items+1.pg"
expect_eq "the current snapshot is the compaction's replace" "$OP2" "replace"
REMOVED=$(jq -r .data_files_removed <<<"$C1")
ADDED=$(jq -r .files_added <<<"$C1")
DREM=$(jq -r .delete_files_removed <<<"$C1")
expect_eq "data files: before - removed + added + the append" "$D2" "$((D0 - REMOVED + ADDED + 1))"
check "most data files were compacted ($REMOVED of $D0 into $ADDED)" \
    test "$REMOVED" -ge $((D0 - 10)) -a "$ADDED" -le 2
expect_eq "delete files: before - removed" "$X2" "$((X0 - DREM))"
check "the delete files drop to a few ($X0 -> $X2)" test "$X2" -le 2
check "the moved-row map covers every rewritten row" \
    test "$(wc -l <"$T/moves")" -eq "$(jq -r .rows <<<"$C1")"
check "each move's old row (pyarrow, the removed file) equals its new row" \
    "$ICEBERG_PY" - "$T/moves" <<'PY'
import sys
import pyarrow.parquet as pq
files = {}
def rows(uri):
    if uri not in files:
        files[uri] = pq.read_table(uri[len("file://"):]).to_pylist()
    return files[uri]
n = 0
for line in open(sys.argv[1]):
    of, op, nf, np_ = line.split()
    old, new = rows(of)[int(op)], rows(nf)[int(np_)]
    assert old == new, (line, old, new)
    n += 1
assert n > 0
PY

note "a pyiceberg delete (copy-on-write) of a row the next pass rewrites"
"$ICEBERG_PY" - "$CAT_URI" "$WH" <<'PY' || fail "pyiceberg appends"
import sys
import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog
t = SqlCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2]).load_table("cdc.public_items")
schema = t.schema().as_arrow()
for k in range(12):   # enough small files for the threshold
    row = {f.name: [None] for f in schema}
    row["id"] = [2000001 + k]
    row["txt"] = ["extra"]
    t.append(pa.table(row, schema=schema))
PY
"$DRIVE" "$T/pipeline.yaml" cdc.public_items --pause-before-commit "$T/pause" \
    >"$T/c2.json" 2>"$T/c2.err" &
CPID=$!
for _ in $(seq 600); do [ -f "$T/pause" ] && break; sleep 0.1; done
[ -f "$T/pause" ] || fail "the compaction never reached its commit: $(cat "$T/c2.err")"
check "pyiceberg deletes id 2000001 meanwhile" "$ICEBERG_PY" - "$CAT_URI" "$WH" <<'PY'
import sys
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.expressions import EqualTo
t = SqlCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2]).load_table("cdc.public_items")
t.delete(EqualTo("id", 2000001))
PY
rm -f "$T/pause"
# the second plan pauses again: let it through
for _ in $(seq 100); do
    [ -f "$T/pause" ] && rm -f "$T/pause"
    kill -0 "$CPID" 2>/dev/null || break
    sleep 0.1
done
wait "$CPID" || fail "the compaction failed: $(cat "$T/c2.err")"
cat "$T/c2.json"
check "the pass planned again after the concurrent delete" \
    test "$(jq -r .replans "$T/c2.json")" -ge 1
{
    cat "$T/items+1.pg"
    for k in $(seq 1 11); do
        echo "{\"id\":$((2000001 + k)),\"txt\":\"extra\",\"n\":null,\"ts\":null,\"amount\":null}"
    done
} >"$T/items+12.pg"
check "items == SELECT * plus the appends, the deleted row stays deleted" \
    chk cdc.public_items upsert --pg "$T/items+12.pg"

note "the agent resumes on the compacted table"
agent_start
sql "UPDATE items SET txt = 'after compaction' WHERE id % 10 = 0" \
    "DELETE FROM items WHERE id % 10 = 1" \
    "UPDATE items SET id = id + 5000000 WHERE id BETWEEN 100 AND 110" \
    "INSERT INTO items (id, txt) VALUES (1000001, 'sentinel 2')"
for _ in $(seq 300); do grep -q '"sentinel 2"' "$EVENTS" && break; sleep 0.2; done
pgjson items >"$T/items.pg"
{ cat "$T/items.pg"; tail -n 11 "$T/items+12.pg"; echo '{"id":2000000,"txt":"appended by pyiceberg","n":null,"ts":null,"amount":null}'; } \
    >"$T/items2.pg"
for _ in $(seq 150); do
    chk cdc.public_items upsert --pg "$T/items2.pg" >/dev/null 2>&1 && break
    sleep 0.3
done
agent_stop
check "after the resume: items == SELECT * (plus pyiceberg's rows), no key twice" \
    chk cdc.public_items upsert --pg "$T/items2.pg"
expect_contains "the start rebuilt the key index" "$(cat "$T/agent.log")" "key index rebuilt"

note "the sink commits a delete against a file the pass is rewriting, between its plan and commit"
agent_start
"$DRIVE" "$T/pipeline.yaml" cdc.public_items --threshold 2 --pause-before-commit "$T/pause" \
    >"$T/c3.json" 2>"$T/c3.err" &
CPID=$!
for _ in $(seq 600); do [ -f "$T/pause" ] && break; sleep 0.1; done
[ -f "$T/pause" ] || fail "the compaction never reached its commit: $(cat "$T/c3.err")"
sql "UPDATE items SET txt = 'during compaction' WHERE id = (SELECT min(id) FROM items)" \
    "INSERT INTO items (id, txt) VALUES (1000002, 'sentinel 3')"
for _ in $(seq 300); do grep -q '"sentinel 3"' "$EVENTS" && break; sleep 0.2; done
pgjson items >"$T/items.pg"
{ cat "$T/items.pg"; tail -n 11 "$T/items+12.pg"; echo '{"id":2000000,"txt":"appended by pyiceberg","n":null,"ts":null,"amount":null}'; } \
    >"$T/items3.pg"
for _ in $(seq 150); do     # the sink's commit (its position delete) is in the table
    chk cdc.public_items upsert --pg "$T/items3.pg" >/dev/null 2>&1 && break
    sleep 0.3
done
check "the sink committed the update while the pass waited" \
    chk cdc.public_items upsert --pg "$T/items3.pg"
rm -f "$T/pause"
for _ in $(seq 100); do
    [ -f "$T/pause" ] && rm -f "$T/pause"
    kill -0 "$CPID" 2>/dev/null || break
    sleep 0.1
done
wait "$CPID" || fail "the compaction failed: $(cat "$T/c3.err")"
cat "$T/c3.json"
check "the pass planned again: the sink's delete may apply to a file it removes" \
    test "$(jq -r .replans "$T/c3.json")" -ge 1
# the running sink's index still names the removed files (no scheduler applies the moves
# yet): stop it before any other change, the next start rebuilds the index
agent_stop
check "after the replanned pass: items == SELECT * (the update kept), no key twice" \
    chk cdc.public_items upsert --pg "$T/items3.pg"
agent_start
sql "UPDATE items SET txt = 'last' WHERE id = (SELECT min(id) FROM items)" \
    "INSERT INTO items (id, txt) VALUES (1000003, 'sentinel 4')"
for _ in $(seq 300); do grep -q '"sentinel 4"' "$EVENTS" && break; sleep 0.2; done
pgjson items >"$T/items.pg"
{ cat "$T/items.pg"; tail -n 11 "$T/items+12.pg"; echo '{"id":2000000,"txt":"appended by pyiceberg","n":null,"ts":null,"amount":null}'; } \
    >"$T/items4.pg"
for _ in $(seq 150); do
    chk cdc.public_items upsert --pg "$T/items4.pg" >/dev/null 2>&1 && break
    sleep 0.3
done
agent_stop
check "and after one more start: items == SELECT *, no key twice" \
    chk cdc.public_items upsert --pg "$T/items4.pg"
done_testing
