#!/usr/bin/env bash
# 706: compaction of a partitioned upsert table (partition_by ["bucket(2, id)"], SQLite
# catalog): each partition's small files and its delete files are rewritten into files of
# that partition (one per partition here), which pyiceberg reads equal to SELECT * of the
# source -- also through a filtered scan that prunes by the new files' partition values --
# and the agent then resumes on the compacted table.  A column is added half-way (files of
# both schemas are rewritten together), and a partial pass (--max-rows) comes first.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/iceberg.sh"

iceberg_install || fail "could not install pyiceberg $ICEBERG_VERSION (see above)"
CHECK=$CDC_SRC/test/tools/iceberg_sink_check.py
DRIVE=${CDC_BUILD:-$CDC_SRC/build}/ice_compact_drive
[ -x "$DRIVE" ] || fail "no $DRIVE (build the tools)"
pg_up

WH=file://$T/wh
CAT_URI="sqlite:///$T/catalog.db"
chk() { "$ICEBERG_PY" "$CHECK" --uri "$CAT_URI" --warehouse "$WH" "$@"; }
pgjson() { PGTZ=UTC sql "SELECT row_to_json(t) FROM $1 t ORDER BY id"; }
# "<data files> <delete files> <partitions of the data files>"
files() {
    "$ICEBERG_PY" - "$CAT_URI" "$WH" <<'PY'
import sys
from pyiceberg.catalog.sql import SqlCatalog
t = SqlCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2]).load_table("cdc.public_items")
data, dels, parts = set(), set(), set()
for task in t.scan().plan_files():
    data.add(task.file.file_path)
    parts.add(tuple(task.file.partition))
    for d in task.delete_files:
        dels.add(d.file_path)
print(len(data), len(dels), len(parts))
PY
}

sql "CREATE TABLE items (id int PRIMARY KEY, region text NOT NULL, amount int)"
P_TABLES="public.items" P_SNAPSHOT=initial write_pipeline
cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: lake
    sink_type: iceberg
    iceberg:
      catalog_uri: "$CAT_URI"
      warehouse: "$WH"
      table_namespace: cdc
      write_mode: upsert
      partition_by: ["bucket(2, id)"]
      batch_size: 4
      flush_interval_seconds: 0.2
YAML
write_platform
agent_start
{
    for i in $(seq 1 60); do
        echo "BEGIN;"
        echo "INSERT INTO items VALUES ($((i * 2)), 'r$((i % 3))', $i), ($((i * 2 + 1)), 'r$((i % 5))', -$i);"
        echo "UPDATE items SET amount = amount + 100 WHERE id = $((i + 1));"
        [ $((i % 4)) -eq 0 ] && echo "DELETE FROM items WHERE id = $((i - 1));"
        echo "COMMIT;"
        # a column added half-way: older files lack it (read as null, written by the rewrite)
        [ "$i" -eq 30 ] && echo "ALTER TABLE items ADD COLUMN note text;"
        [ "$i" -gt 30 ] && echo "UPDATE items SET note = 'n$i' WHERE id = $((i * 2));"
        echo "SELECT pg_sleep(0.1);"
    done
    echo "INSERT INTO items VALUES (1000000, 'sentinel', 0, NULL);"
} >"$T/load.sql"
PGPASSWORD=cdc_password "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" \
    -U cdc_user -d cdc_demo -f "$T/load.sql" >/dev/null || fail "the workload failed"
for _ in $(seq 300); do grep -q '"sentinel"' "$EVENTS" && break; sleep 0.2; done
pgjson items >"$T/items.pg"
for _ in $(seq 150); do
    chk cdc.public_items upsert --pg "$T/items.pg" >/dev/null 2>&1 && break
    sleep 0.3
done
agent_stop
check "before compaction: items == SELECT *" chk cdc.public_items upsert --pg "$T/items.pg"
read -r D0 X0 P0 <<<"$(files)"
note "before: $D0 data files, $X0 delete files, $P0 partitions"
expect_eq "two partitions" "$P0" 2

# a partial pass first: at most 20 rows (record counts) -- the oldest few files of each
# partition; delete files that also name files left behind stay
"$DRIVE" "$T/pipeline.yaml" cdc.public_items --threshold 5 --max-rows 20 >"$T/p.json" \
    2>"$T/p.err" || fail "compaction failed: $(cat "$T/p.err")"
cat "$T/p.json"
read -r DP XP PP <<<"$(files)"
note "after the partial pass: $DP data files, $XP delete files"
check "a partial pass: items == SELECT *" chk cdc.public_items upsert --pg "$T/items.pg"
check "it rewrote some files only" test "$(jq -r .data_files_removed "$T/p.json")" -ge 2 -a "$DP" -gt 2
expect_eq "data files: before - removed + added" "$DP" \
    "$((D0 - $(jq -r .data_files_removed "$T/p.json") + $(jq -r .files_added "$T/p.json")))"

"$DRIVE" "$T/pipeline.yaml" cdc.public_items --threshold 5 >"$T/c.json" 2>"$T/c.err" ||
    fail "compaction failed: $(cat "$T/c.err")"
cat "$T/c.json"
read -r D1 X1 P1 <<<"$(files)"
note "after: $D1 data files, $X1 delete files, $P1 partitions"
check "after compaction: items == SELECT *" chk cdc.public_items upsert --pg "$T/items.pg"
expect_eq "both partitions compacted, one file each" \
    "$(jq -r '"\(.partitions) \(.files_added)"' "$T/c.json")" "2 2"
expect_eq "one data file per partition, no delete files left" "$D1 $X1 $P1" "2 0 2"
expect_eq "every delete file went, those kept by the partial pass too" \
    "$(jq -r .delete_files_removed "$T/c.json")" "$(jq -r .delete_files_before "$T/c.json")"
check "filtered scans (partition pruning on the new files) find each row" \
    "$ICEBERG_PY" - "$CAT_URI" "$WH" "$T/items.pg" <<'PY'
import json, sys
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.expressions import EqualTo
t = SqlCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2]).load_table("cdc.public_items")
rows = [json.loads(l) for l in open(sys.argv[3]) if l.strip()]
for r in rows[::7]:
    got = t.scan(row_filter=EqualTo("id", r["id"])).to_arrow().to_pylist()
    assert len(got) == 1 and got[0]["region"] == r["region"] and got[0]["amount"] == r["amount"], (r, got)
PY

agent_start
sql "UPDATE items SET amount = 0 WHERE id % 3 = 0" "DELETE FROM items WHERE id % 7 = 0" \
    "INSERT INTO items VALUES (1000001, 'sentinel 2', 0, 'x')"
for _ in $(seq 300); do grep -q '"sentinel 2"' "$EVENTS" && break; sleep 0.2; done
pgjson items >"$T/items.pg"
for _ in $(seq 150); do
    chk cdc.public_items upsert --pg "$T/items.pg" >/dev/null 2>&1 && break
    sleep 0.3
done
agent_stop
check "after the resume: items == SELECT *, no key twice" chk cdc.public_items upsert --pg "$T/items.pg"
done_testing
