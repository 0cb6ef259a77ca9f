#!/usr/bin/env bash
# 605: our Parquet reader (sinks/iceberg/parquet/parquet_read) against pyarrow, an independent
# reader, no PostgreSQL and no agent.  pyarrow (test/lib/iceberg.sh's pinned venv) writes nine
# files with several options (snappy, zstd, uncompressed; dictionary, plain, dictionary on some
# columns; data pages V1 and V2; several row groups and small pages; format 1.0's converted
# types; one row; no row) over every flat type Iceberg uses and a list of ints, nulls, NaN,
# -0.0, empty strings and lists; test/tools/parquet_read_dump prints what our reader reads and
# test/tools/parquet_read_check.py compares every value, field id, row group and decimal type
# with pyarrow's (lists element by element).  The same for the eight files of our own writer
# (test/tools/parquet_write, lists of ints and of strings included).
# Files our reader refuses (INT96, a DELTA encoding, gzip) must be refused with a message
# naming the file and the column; and a changed value must be found (the check can fail).
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/iceberg.sh"

CDC_BUILD=${CDC_BUILD:-$CDC_SRC/build}
DUMP=$CDC_BUILD/parquet_read_dump
CHECK=$CDC_SRC/test/tools/parquet_read_check.py
[ -x "$DUMP" ] || fail "no $DUMP: build the tree first"
[ -x "$CDC_BUILD/parquet_write" ] || fail "no $CDC_BUILD/parquet_write: build the tree first"

iceberg_install || fail "the pyiceberg venv (test/lib/iceberg.sh)"
ok "pyiceberg venv $ICEBERG_VENV"

check "pyarrow writes nine files" "$ICEBERG_PY" "$CHECK" write "$T/pa"
if out=$("$ICEBERG_PY" "$CHECK" check "$DUMP" "$T/pa" 2>&1); then
    printf '%s\n' "$out" | sed 's/^/# /'
    ok "our reader reads pyarrow's files as pyarrow does"
else
    printf '%s\n' "$out" | sed 's/^/# /'
    fail "our reader disagrees with pyarrow on pyarrow's files"
fi
expect_contains "all nine pyarrow files checked" "$out" "parquet_read_check: 9 files OK"
expect_contains "data pages V2 were read" "$out" "pa_zstd_v2_groups.parquet: 5000 rows, 5 row groups, 21 columns equal"

mkdir -p "$T/pq"
check "parquet_write writes its eight files" "$CDC_BUILD/parquet_write" "$T/pq"
if out=$("$ICEBERG_PY" "$CHECK" check "$DUMP" "$T/pq" 2>&1); then
    printf '%s\n' "$out" | sed 's/^/# /'
    ok "our reader reads our writer's files as pyarrow does"
else
    printf '%s\n' "$out" | sed 's/^/# /'
    fail "our reader disagrees with pyarrow on our writer's files"
fi
expect_contains "all eight files of our writer checked" "$out" "parquet_read_check: 8 files OK"

if out=$("$ICEBERG_PY" "$CHECK" refuse "$DUMP" "$T/refuse" 2>&1); then
    printf '%s\n' "$out" | sed 's/^/# /'
    ok "INT96, DELTA_BINARY_PACKED and gzip are refused naming file and column"
else
    printf '%s\n' "$out" | sed 's/^/# /'
    fail "a file that must be refused was not"
fi

# The check is not vacuous: a file with one value changed must be found different.
mkdir -p "$T/bad"
"$ICEBERG_PY" - "$T/pa/pa_default.parquet" "$T/bad/pa_default.parquet" <<'PY'
import sys
import pyarrow as pa, pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
ids = t.column("i64").to_pylist()
ids[17] = 12345 if ids[17] != 12345 else 54321
t = t.set_column(t.schema.get_field_index("i64"), t.schema.field("i64"), pa.array(ids, pa.int64()))
pq.write_table(t, sys.argv[2])
PY
# The dump of the changed file is compared with the original file's pyarrow values.
"$DUMP" "$T/bad/pa_default.parquet" >"$T/bad.json" || fail "dump of the changed file"
if out=$("$ICEBERG_PY" - "$T/bad.json" "$T/pa/pa_default.parquet" <<'PY' 2>&1
import json, sys
import pyarrow.parquet as pq
ours = {c["name"]: c["values"] for c in json.load(open(sys.argv[1]))["columns"]}
want = pq.read_table(sys.argv[2]).column("i64").to_pylist()
for r, (g, w) in enumerate(zip(ours["i64"], want)):
    if g != w:
        sys.exit("row %d column i64 differs" % r)
PY
); then
    fail "a changed value was not found"
fi
expect_contains "the changed value is found" "$out" "row 17 column i64 differs"

done_testing
