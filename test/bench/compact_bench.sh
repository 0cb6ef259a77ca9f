#!/usr/bin/env bash
# Compaction benchmark (prints figures; not a test, not run in CI): an upsert table written by
# cdcagent with COMMITS small commits of upserts (ROWS_PER_COMMIT rows each, keys drawn from
# KEYS, so updates add position deletes), then one compaction pass (test/tools/
# ice_compact_drive, sinks/iceberg/ice_compact) with the agent stopped.  Printed: data and
# delete files before and after, the pass's rows/s (rows rewritten / its wall time, planning,
# reading, writing and the catalog commit included), and pyiceberg 0.12's full scan
# (to_arrow) time before and after, best of SCANS runs; the scanned rows must equal the
# source's count both times.  Uses the integration harness (test/integration/common.sh) for
# PostgreSQL and the agent.
# Environment: COMMITS (200), ROWS_PER_COMMIT (500), KEYS (50000), SCANS (3), CDC_BUILD,
# TMPDIR, KEEP_TMP=1.
. "$(dirname "$0")/../integration/common.sh"
. "$CDC_SRC/test/lib/iceberg.sh"

COMMITS=${COMMITS:-200}
ROWS_PER_COMMIT=${ROWS_PER_COMMIT:-500}
KEYS=${KEYS:-50000}
SCANS=${SCANS:-3}
DRIVE=${CDC_BUILD:-$CDC_SRC/build}/ice_compact_drive
iceberg_install || fail "could not install pyiceberg"
pg_up
WH=file://$T/wh
CAT_URI="sqlite:///$T/catalog.db"

sql "CREATE TABLE items (id int PRIMARY KEY, txt text, n bigint, amount numeric(12,2))"
P_TABLES="public.items" P_SNAPSHOT=initial write_pipeline
cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: lake
    sink_type: iceberg
    iceberg:
      catalog_uri: "$CAT_URI"
      warehouse: "$WH"
      table_namespace: cdc
      write_mode: upsert
      batch_size: $ROWS_PER_COMMIT
      flush_interval_seconds: 0.2
YAML
write_platform
agent_start
{
    for i in $(seq 1 "$COMMITS"); do
        echo "INSERT INTO items SELECT DISTINCT ON (k) k, md5(k::text || '$i'), $i, k * 0.01
              FROM (SELECT (random() * ($KEYS - 1))::int + 1 AS k
                    FROM generate_series(1, $ROWS_PER_COMMIT)) s
              ON CONFLICT (id) DO UPDATE SET txt = excluded.txt, n = excluded.n;"
        echo "SELECT pg_sleep(0.2);"
    done
    echo "INSERT INTO items (id, txt) VALUES ($((KEYS + 1)), 'sentinel');"
} >"$T/load.sql"
PGPASSWORD=cdc_password "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" \
    -U cdc_user -d cdc_demo -f "$T/load.sql" >/dev/null || fail "the workload failed"
for _ in $(seq 600); do grep -q '"sentinel"' "$EVENTS" && break; sleep 0.2; done
SRC_ROWS=$(sql "SELECT count(*) FROM items")
scan() {
    "$ICEBERG_PY" - "$CAT_URI" "$WH" "$SCANS" <<'PY'
import sys, time
from pyiceberg.catalog.sql import SqlCatalog
t = SqlCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2]).load_table("cdc.public_items")
best = None
for _ in range(int(sys.argv[3])):
    t0 = time.monotonic()
    n = t.scan().to_arrow().num_rows
    dt = time.monotonic() - t0
    best = dt if best is None or dt < best else best
data, dels = set(), set()
for task in t.scan().plan_files():
    data.add(task.file.file_path)
    dels.update(d.file_path for d in task.delete_files)
print(n, len(data), len(dels), "%.3f" % best)
PY
}
for _ in $(seq 300); do
    [ "$(scan | cut -d' ' -f1)" = "$SRC_ROWS" ] && break
    sleep 0.5
done
agent_stop
read -r N0 D0 X0 S0 <<<"$(scan)"
"$DRIVE" "$T/pipeline.yaml" cdc.public_items --threshold 10 --max-rows 100000000 >"$T/c.json" ||
    fail "compaction failed"
read -r N1 D1 X1 S1 <<<"$(scan)"
[ "$N0" = "$SRC_ROWS" ] && [ "$N1" = "$SRC_ROWS" ] || fail "rows: source $SRC_ROWS, before $N0, after $N1"
ROWS=$(jq -r .rows "$T/c.json")
SECS=$(jq -r .seconds "$T/c.json")
echo "# compaction of $COMMITS commits x $ROWS_PER_COMMIT upserts ($SRC_ROWS live rows)"
printf '%-28s %12s %12s\n' "" before after
printf '%-28s %12s %12s\n' "data files" "$D0" "$D1"
printf '%-28s %12s %12s\n' "delete files" "$X0" "$X1"
printf '%-28s %12s %12s\n' "pyiceberg scan (s, best)" "$S0" "$S1"
echo "compaction: $ROWS rows in ${SECS}s = $(awk -v r="$ROWS" -v s="$SECS" 'BEGIN { printf "%.0f", r / s }') rows/s"
cat "$T/c.json"
ok "benchmark done"
done_testing
