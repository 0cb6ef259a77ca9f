#!/usr/bin/env bash
# 620: the Iceberg metadata of sinks/iceberg/ read by independent readers, no agent yet.
# test/lib/ice_meta_check.py has pyarrow write the Parquet files of a 13-column table (every
# mapped type, NULLs, a list, numeric beyond precision 38) partitioned by bucket(4, id) and
# day(ts), in two append snapshots and a third that adds a position-delete file;
# test/tools/ice_table_write (our C code only) writes the schema, partition spec, manifests,
# manifest lists and metadata JSON.  pyiceberg 0.12's StaticTable must then scan the rows back
# (the deleted one gone, still there in the older snapshot), prune by partition and by
# column bounds, and read in every manifest entry the counts, sizes, partition tuple and
# bounds that were written (bounds compared with pyiceberg's own to_bytes); fastavro reads
# every manifest and list with their Iceberg metadata keys; ice_meta_from_json reads the
# current snapshot's summary back.  Our manifest readers then list every entry of the current
# snapshot as pyiceberg does, of this table and of one pyiceberg writes through its SqlCatalog
# (SQLite; deflate-coded manifests, entries ADDED, EXISTING and DELETED after a delete).
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/iceberg.sh"

TOOL=${CDC_BUILD:-$CDC_SRC/build}/ice_table_write
check "ice_table_write is built" test -x "$TOOL"
check "pinned pyiceberg venv ($ICEBERG_VENV)" iceberg_install

OUT=$T/check.out
if "$ICEBERG_PY" "$CDC_SRC/test/lib/ice_meta_check.py" "$TOOL" "$T" >"$OUT" 2>&1; then
    sed 's/^/# /' "$OUT"
    ok "pyiceberg scans, bounds and partitions; fastavro reads manifests; our reader finds the summary"
else
    sed 's/^/# /' "$OUT" | tail -n 40
    fail "ice_meta_check.py (see the lines above)"
fi
expect_contains "every check ran" "$(cat "$OUT")" "checks failed: 0"
done_testing
