#!/usr/bin/env bash
# 625: our table scan (sinks/iceberg/ice_scan: live data files from the manifests, position
# deletes applied by sequence number, values typed as the table schema) against pyiceberg
# 0.12's scan, no PostgreSQL and no agent.  pyarrow writes three data files (every flat
# type the sink maps, NULLs, NaN, several row groups) and three position-delete files;
# test/tools/ice_table_write (our manifest and metadata writers) commits them in five
# snapshots (pyiceberg 0.12 writes no position deletes: its deletes are copy-on-write);
# test/tools/ice_scan_check.py then compares every row test/tools/ice_scan_dump reads (file,
# position, every value; values parsed back from their PostgreSQL-style text must have the
# same bound bytes) with pyiceberg's StaticTable scan and with the rows expected from what
# was written: a delete file older than a data file does not apply to it, a whole deleted
# row group is skipped, a duplicate delete counts once.  ice_scan_row must give the same rows
# by (file, position), a key-only scan the same keys; a table pyiceberg writes itself through
# its SqlCatalog (appends, a copy-on-write delete, a column added and int widened to long,
# another append) must scan equal too; and a table with an equality-delete
# file must be refused naming it.  Then a changed expectation must be found (the check can
# fail), and a delete file changed behind the manifest's back must be an error naming it.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/iceberg.sh"

CDC_BUILD=${CDC_BUILD:-$CDC_SRC/build}
DUMP=$CDC_BUILD/ice_scan_dump
TOOL=$CDC_BUILD/ice_table_write
CHECK=$CDC_SRC/test/tools/ice_scan_check.py
check "ice_scan_dump and ice_table_write are built" test -x "$DUMP" -a -x "$TOOL"
iceberg_install || fail "the pyiceberg venv (test/lib/iceberg.sh)"
ok "pyiceberg venv $ICEBERG_VENV"

mkdir -p "$T/w"
if out=$("$ICEBERG_PY" "$CHECK" "$TOOL" "$DUMP" "$T/w" 2>&1); then
    printf '%s\n' "$out" | sed 's/^/# /'
    ok "our scan reads the table as pyiceberg does"
else
    printf '%s\n' "$out" | sed 's/^/# /' | tail -n 30
    fail "our scan disagrees with pyiceberg (see the lines above)"
fi
expect_contains "every check ran" "$out" "ice_scan_check: OK"
expect_contains "rows compared" "$out" "ice_scan_rows: 495 rows equal to pyiceberg's"
expect_contains "pyiceberg's own table compared" "$out" "pyiceberg's own table"
expect_contains "equality deletes refused" "$out" "equality deletes refused"

# The comparison is not vacuous: one of pyiceberg's values changed must be found.
if out=$(ICE_SCAN_CHECK_TAMPER=1 "$ICEBERG_PY" "$CHECK" "$TOOL" "$DUMP" "$T/w2" 2>&1); then
    fail "the check accepted a changed value"
fi
expect_contains "the changed value is found" "$out" "id 2: ours != pyiceberg's"

# A delete file changed after its commit (its size no longer the manifest's) is an error
# naming it, not a crash nor a silently different scan.
meta=$(ls "$T"/w/warehouse/db/t/metadata/00001-*.metadata.json)
"$ICEBERG_PY" - "$T/w/warehouse/db/t/data/d2.parquet" <<'PY'
import sys
import pyarrow as pa, pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
rows = t.to_pylist()
extra = dict(rows[0]); extra["pos"] = 250
rows = sorted(rows + [extra], key=lambda r: (r["file_path"], r["pos"]))
pq.write_table(pa.Table.from_pylist(rows, schema=t.schema), sys.argv[1], row_group_size=3)
PY
if out=$("$DUMP" rows "$meta" 2>&1); then
    fail "a delete file whose size differs from its manifest entry was read"
fi
expect_contains "a changed delete file is an error naming it" "$out" "d2.parquet"
note "$(printf '%s' "$out" | tail -n 1)"

done_testing
