#!/usr/bin/env bash
# 600: the Parquet writer (sinks/iceberg/parquet/) read back by pyarrow, an independent
# reader, no PostgreSQL and no agent: test/tools/parquet_write writes eight files (every
# column kind, nulls, empty strings and lists, zstd / snappy / uncompressed, dictionary,
# plain, a dictionary that falls back to PLAIN, several row groups and pages, a page per
# row, one row, no row) and test/tools/parquet_check.py (pyarrow 26.0.1 from test/lib/iceberg.sh's pinned
# venv) compares every value, the schema with its field ids, the logical types, each row
# group's statistics, the pages, and the writer's parquet_result; DuckDB 1.1.3 (same venv), a
# second reader with its own Parquet code, reads every value and field id again.  Then a
# changed expectation must be refused by the checker (the check can fail).
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/iceberg.sh"

CDC_BUILD=${CDC_BUILD:-$CDC_SRC/build}
WRITER=$CDC_BUILD/parquet_write
[ -x "$WRITER" ] || fail "no $WRITER: build the tree first"

iceberg_install || fail "the pyarrow venv (test/lib/iceberg.sh)"
ok "pyarrow venv $ICEBERG_VENV"

mkdir -p "$T/pq"
check "parquet_write writes the eight files" "$WRITER" "$T/pq"

if out=$("$ICEBERG_PY" "$CDC_SRC/test/tools/parquet_check.py" "$T/pq" 2>&1); then
    printf '%s\n' "$out" | sed 's/^/# /'
    ok "pyarrow reads every file as written"
else
    printf '%s\n' "$out" | sed 's/^/# /'
    fail "pyarrow disagrees with the writer"
fi
expect_contains "all eight files checked" "$out" "parquet_check: 8 files OK"

# The checker is not vacuous: one value changed in the expectations must be found.
mkdir -p "$T/bad"
cp "$T/pq/zstd_dict.parquet" "$T/bad/"
"$ICEBERG_PY" - "$T/pq/zstd_dict.json" "$T/bad/zstd_dict.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["rows"][17][1] += 1          # column i32 (required) of row 17
json.dump(d, open(sys.argv[2], "w"))
PY
if out=$("$ICEBERG_PY" "$CDC_SRC/test/tools/parquet_check.py" "$T/bad" 2>&1); then
    fail "the checker accepted a changed value: $out"
fi
expect_contains "the checker names the changed value" "$out" "row 17 column i32"

done_testing
