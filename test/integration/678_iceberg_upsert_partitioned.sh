#!/usr/bin/env bash
# 678: write_mode upsert with partition_by ["region", "bucket(4, id)"] on pyiceberg's SQL
# catalog (SQLite) and a file:// warehouse.  Data files are written per partition; every
# position delete goes into a delete file of its data file's partition (one per partition
# touched: pyiceberg, like Java and Spark, applies a delete file only to data files of its own
# partition, so a delete in the wrong partition would leave the old row visible).  The workload
# moves rows across partitions (a region change: same key, another partition; a primary-key
# change: another bucket), updates and deletes rows written by earlier commits, collapses
# several changes to one key in one transaction, and after a restart (the key index and each
# file's partition read back from the table) updates and deletes old rows again.  pyiceberg
# (test/tools/iceberg_sink_check.py) scans the table: == SELECT * of the source, no key twice;
# every delete file's partition is that of the data files it deletes from; a filtered scan
# prunes by partition and still equals the source's filtered rows.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/iceberg.sh"

iceberg_install || fail "could not install pyiceberg $ICEBERG_VERSION (see above)"
pg_up

WH=file://$T/wh
CAT_URI=sqlite:///$T/catalog.db

sql "CREATE TABLE items (id int PRIMARY KEY, region text NOT NULL, amount int, note text)" \
    "INSERT INTO items SELECT g, (ARRAY['eu','us','ap'])[g % 3 + 1], g * 10, 'snap ' || g
       FROM generate_series(1, 12) g"

P_TABLES="public.items" P_SNAPSHOT=initial write_pipeline
cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: lake
    sink_type: iceberg
    iceberg:
      catalog_uri: "$CAT_URI"
      warehouse: "$WH"
      table_namespace: cdc
      write_mode: upsert
      partition_by: ["region", "bucket(4, id)"]
      batch_size: 5
      flush_interval_seconds: 0.5
YAML
write_platform
agent_start

sql "UPDATE items SET amount = -1 WHERE id IN (1, 2, 3)" \
    "UPDATE items SET region = 'us' WHERE id = 4" \
    "UPDATE items SET id = 104 WHERE id = 5" \
    "DELETE FROM items WHERE id = 6" \
    "BEGIN; UPDATE items SET region = 'ap' WHERE id = 7; UPDATE items SET region = 'eu', note = 'back' WHERE id = 7;
     UPDATE items SET id = 107, region = 'us' WHERE id = 8; DELETE FROM items WHERE id = 9;
     INSERT INTO items VALUES (9, 'ap', 9, 'nine again'); COMMIT" \
    "INSERT INTO items SELECT g, (ARRAY['eu','us','ap'])[g % 3 + 1], g, 'bulk ' || g FROM generate_series(20, 49) g" \
    "UPDATE items SET region = CASE region WHEN 'eu' THEN 'us' WHEN 'us' THEN 'ap' ELSE 'eu' END WHERE id % 4 = 0" \
    "DELETE FROM items WHERE id BETWEEN 30 AND 33" \
    "UPDATE items SET id = id + 1000 WHERE id BETWEEN 40 AND 42" \
    "INSERT INTO items VALUES (999, 'eu', 0, 'sentinel')"
for _ in $(seq 150); do grep -q '"sentinel"' "$EVENTS" && break; sleep 0.2; done
grep -q '"sentinel"' "$EVENTS" || fail "the sentinel never reached the jsonl sink"
pgjson items >"$T/items.pg"
for _ in $(seq 100); do chk cdc.public_items upsert --pg "$T/items.pg" >/dev/null 2>&1 && break; sleep 0.3; done
agent_stop
check "items == SELECT * (rows moved across partitions, key changes, collapsed changes)" \
    chk cdc.public_items upsert --pg "$T/items.pg"

partition_checks() {
    "$ICEBERG_PY" - "$CAT_URI" "$WH" "$T/items.pg" <<'PY'
import json, sys
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.expressions import EqualTo
from pyiceberg.manifest import DataFileContent
t = SqlCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2]).load_table("cdc.public_items")
assert [f.name for f in t.spec().fields] == ["region", "id_bucket"], t.spec()
pg = [json.loads(l) for l in open(sys.argv[3])]
# every delete file's partition is its data files' partition, and only position deletes
tasks = list(t.scan().plan_files())
ndel = 0
for task in tasks:
    for d in task.delete_files:
        assert d.content == DataFileContent.POSITION_DELETES, d
        assert tuple(d.partition) == tuple(task.file.partition), (d.file_path, d.partition, task.file.partition)
        ndel += 1
assert ndel > 0, "no delete file applies to any data file"
# delete files of more than one partition (one per partition touched)
import pyarrow.compute as pc
ents = t.inspect.entries().to_pylist()
del_parts = {tuple(sorted(e["data_file"]["partition"].items())) for e in ents
             if e["status"] != 2 and e["data_file"]["content"] == 1}
assert len(del_parts) > 1, del_parts
# filtered scans prune by partition and equal the source's rows
for region in ("eu", "us", "ap"):
    files = list(t.scan(row_filter=EqualTo("region", region)).plan_files())
    assert all(f.file.partition[0] == region for f in files), region
    assert len(files) < len(tasks), "no pruning"
    got = sorted(r["id"] for r in t.scan(row_filter=EqualTo("region", region)).to_arrow().to_pylist())
    want = sorted(r["id"] for r in pg if r["region"] == region)
    assert got == want, (region, got, want)
print(len(tasks), "data files,", ndel, "delete files applied,", len(del_parts), "delete partitions")
PY
}
check "delete files in their data files' partitions; filtered scans prune and match" partition_checks

note "restart: the key index and each file's partition are read back from the table"
agent_start
sql "UPDATE items SET amount = 5 WHERE id IN (1, 4, 20, 104)" \
    "UPDATE items SET region = 'ap' WHERE id IN (2, 21)" \
    "DELETE FROM items WHERE id IN (3, 22, 107)" \
    "UPDATE items SET id = 2000 WHERE id = 23" \
    "INSERT INTO items VALUES (998, 'us', 0, 'sentinel 2')"
for _ in $(seq 150); do grep -q '"sentinel 2"' "$EVENTS" && break; sleep 0.2; done
pgjson items >"$T/items.pg"
for _ in $(seq 100); do chk cdc.public_items upsert --pg "$T/items.pg" >/dev/null 2>&1 && break; sleep 0.3; done
agent_stop
check "items == SELECT * after the restart (old rows deleted in their own partitions)" \
    chk cdc.public_items upsert --pg "$T/items.pg"
check "after the restart: delete files in their partitions; filtered scans match" partition_checks
expect_contains "the start rebuilt the key index" "$(cat "$T/agent.log")" "key index rebuilt"
done_testing
