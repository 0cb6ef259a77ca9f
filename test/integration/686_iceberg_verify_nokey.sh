#!/usr/bin/env bash
# 686: cdcagent verify against append-mode Iceberg tables of source tables without a key
# (SQLite catalog, file:// warehouse; the tables partitioned by msg (identity), so rows
# are spread over several data files).  Such a table is compared as a multiset of rows: c and r
# add a row, d removes one (REPLICA IDENTITY FULL gives the whole before image).  logs gets
# equal rows, inserts and deletes: verify exits 0.  pyiceberg then appends a copy of one of
# its change rows: verify exits 4 naming the row as written twice.  logs2 takes an UPDATE,
# which an append row cannot replay (no before image): verify says it is not compared.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/iceberg.sh"

iceberg_install || fail "could not install pyiceberg $ICEBERG_VERSION (see above)"
pg_up

WH=file://$T/wh
URI=sqlite:///$T/cat.db

sql "CREATE TABLE logs (msg text, n int)" "ALTER TABLE logs REPLICA IDENTITY FULL" \
    "CREATE TABLE logs2 (msg text, n int)" "ALTER TABLE logs2 REPLICA IDENTITY FULL" \
    "INSERT INTO logs VALUES ('a', 1), ('a', 1), ('b', NULL)" \
    "INSERT INTO logs2 VALUES ('x', 1)"
P_TABLES="public.logs, public.logs2" P_SNAPSHOT=initial write_pipeline
cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: lake
    sink_type: iceberg
    iceberg:
      catalog_uri: "$URI"
      warehouse: "$WH"
      write_mode: append
      partition_by: ["msg"]
      batch_size: 5
      flush_interval_seconds: 0.5
YAML
write_platform
agent_start
sql "INSERT INTO logs VALUES ('c', 3), ('c', 3), ('c', 3), ('d', 4), ('a', 1)" \
    "DELETE FROM logs WHERE msg = 'b'" \
    "DELETE FROM logs WHERE ctid = (SELECT min(ctid) FROM logs WHERE msg = 'c')" \
    "UPDATE logs2 SET n = 2"

V="verify $T/pipeline.yaml --platform-config $T/platform.yaml --sink lake"
# shellcheck disable=SC2086
cdc $V --table public.logs --wait 90
expect_eq "a table without a key: verify --wait exits 0 once the sink caught up" "$CDC_RC" 0
cat "$T/cdc.out"
expect_contains "compared as a multiset" "$(cat "$T/cdc.out")" \
    "as a multiset of rows (the table has no key): 0 rows differ"
expect_contains "6 rows on each side" "$(cat "$T/cdc.out")" "source 6, destination 6"
# Wait for logs2's update to be committed too before stopping.
for _ in $(seq 100); do
    cdc $V --table public.logs2
    grep -q "are updates" "$T/cdc.out" && break
    sleep 0.3
done
agent_stop

# shellcheck disable=SC2086
cdc $V --table public.logs2
expect_eq "a table without a key holding an update: exit 4" "$CDC_RC" 4
expect_contains "it says why it is not compared" "$(cat "$T/cdc.out")" \
    "1 of its 2 change rows are updates, which hold no before image"
expect_contains "with the source's row count and the table's change rows" "$(cat "$T/cdc.out")" \
    "source 1, destination 2"

note "pyiceberg appends a second copy of the change row that inserted ('d', 4)"
"$ICEBERG_PY" - "$URI" "$WH" <<'PY' || fail "pyiceberg could not change the table"
import sys
import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog
t = SqlCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2]).load_table("default.public_logs")
rows = [r for r in t.scan().to_arrow().to_pylist() if r["msg"] == "d"]
assert len(rows) == 1 and rows[0]["_cdc_op"] == "c", rows
t.append(pa.Table.from_pylist(rows, schema=t.schema().as_arrow()))
PY
# shellcheck disable=SC2086
cdc $V --table public.logs
expect_eq "a change row written twice: exit 4" "$CDC_RC" 4
cat "$T/cdc.out"
expect_contains "the duplicate is named" "$(cat "$T/cdc.out")" \
    "row (d,4)  extra in the destination (duplicate row: _cdc_lsn"
expect_contains "and the extra copy" "$(cat "$T/cdc.out")" \
    "row (d,4)  extra in the destination"
expect_contains "2 differences" "$(cat "$T/cdc.out")" "multiset of rows (the table has no key): 2 rows differ"
check "the table is partitioned (one data file per partition and batch)" \
    "$ICEBERG_PY" - "$URI" "$WH" <<'PY'
import sys
from pyiceberg.catalog.sql import SqlCatalog
t = SqlCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2]).load_table("default.public_logs")
assert len(t.spec().fields) == 1, t.spec()
files = [task.file for task in t.scan().plan_files()]
assert len({str(f.partition) for f in files}) >= 4, [f.partition for f in files]
PY
done_testing
