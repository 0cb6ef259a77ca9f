#!/usr/bin/env bash
# 707: compaction on a REST catalog (Apache Iceberg's RESTCatalogServer, test/lib/
# iceberg_rest.sh): the replace commit goes as requirements (assert-table-uuid,
# assert-ref-snapshot-id main) and updates (add-snapshot, set-snapshot-ref); a pyiceberg
# RestCatalog append between the pass's files and its commit makes the server refuse the
# first attempt, which rebuilds on top.  pyiceberg reads the table == SELECT * (plus the
# appended row); Spark with Iceberg's Java runtime (a second, stricter reader of our
# manifests: the rewritten ones with DELETED entries) reads the same rows and sees the
# replace snapshot; the agent resumes on it.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/iceberg.sh"
. "$CDC_SRC/test/lib/iceberg_rest.sh"
. "$CDC_SRC/test/lib/spark.sh"

iceberg_install || fail "could not install pyiceberg $ICEBERG_VERSION (see above)"
spark_install || fail "could not install pyspark / the Iceberg Spark runtime (see above)"
CHECK=$CDC_SRC/test/tools/iceberg_sink_check.py
DRIVE=${CDC_BUILD:-$CDC_SRC/build}/ice_compact_drive
[ -x "$DRIVE" ] || fail "no $DRIVE (build the tools)"
RDIR=$T/rest
trap 'rc=$?; icerest_kill "$RDIR" >/dev/null 2>&1; set +e; (exit $rc); _cleanup' EXIT
RPORT=$(free_port)
icerest_start "$RDIR" "$RPORT" || fail "the REST catalog server did not start"
ok "REST catalog server at $ICEREST_URL"
pg_up

WH=file://$RDIR/warehouse
chk() { "$ICEBERG_PY" "$CHECK" --rest --uri "$ICEREST_URL" --warehouse "$WH" "$@"; }
pgjson() { PGTZ=UTC sql "SELECT row_to_json(t) FROM $1 t ORDER BY id"; }
files() {
    "$ICEBERG_PY" - "$ICEREST_URL" "$WH" <<'PY'
import sys
from pyiceberg.catalog.rest import RestCatalog
t = RestCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2]).load_table("rns.public_items")
data, dels = set(), set()
for task in t.scan().plan_files():
    data.add(task.file.file_path)
    dels.update(d.file_path for d in task.delete_files)
print(len(data), len(dels), t.current_snapshot().summary.operation.value)
PY
}

sql "CREATE TABLE items (id int PRIMARY KEY, txt text, n bigint)"
P_TABLES="public.items" P_SNAPSHOT=initial write_pipeline
cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: lake
    sink_type: iceberg
    iceberg:
      catalog_uri: "$ICEREST_URL"
      warehouse: "$WH"
      table_namespace: rns
      write_mode: upsert
      batch_size: 4
      flush_interval_seconds: 0.2
YAML
write_platform
agent_start
{
    for i in $(seq 1 40); do
        echo "BEGIN; INSERT INTO items VALUES ($((i * 2)), 'a$i', $i), ($((i * 2 + 1)), 'b$i', $i);"
        echo "UPDATE items SET n = n + 1 WHERE id = $((i + 1)); COMMIT;"
        echo "SELECT pg_sleep(0.15);"
    done
    echo "INSERT INTO items VALUES (1000000, 'sentinel', 0);"
} >"$T/load.sql"
PGPASSWORD=cdc_password "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" \
    -U cdc_user -d cdc_demo -f "$T/load.sql" >/dev/null || fail "the workload failed"
for _ in $(seq 300); do grep -q '"sentinel"' "$EVENTS" && break; sleep 0.2; done
pgjson items >"$T/items.pg"
for _ in $(seq 150); do chk rns.public_items upsert --pg "$T/items.pg" >/dev/null 2>&1 && break; sleep 0.3; done
agent_stop
check "before compaction: items == SELECT *" chk rns.public_items upsert --pg "$T/items.pg"
read -r D0 X0 OP0 <<<"$(files)"
note "before: $D0 data files, $X0 delete files ($OP0)"

rm -f "$T/pause"
"$DRIVE" "$T/pipeline.yaml" rns.public_items --threshold 5 --pause-before-commit "$T/pause" \
    >"$T/c.json" 2>"$T/c.err" &
CPID=$!
for _ in $(seq 600); do [ -f "$T/pause" ] && break; sleep 0.1; done
[ -f "$T/pause" ] || fail "the compaction never reached its commit: $(cat "$T/c.err")"
check "pyiceberg appends a row meanwhile" "$ICEBERG_PY" - "$ICEREST_URL" "$WH" <<'PY'
import sys
import pyarrow as pa
from pyiceberg.catalog.rest import RestCatalog
t = RestCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2]).load_table("rns.public_items")
schema = t.schema().as_arrow()
t.append(pa.table({"id": [2000000], "txt": ["appended"], "n": [None]}, schema=schema))
PY
rm -f "$T/pause"
wait "$CPID" || fail "the compaction failed: $(cat "$T/c.err")"
cat "$T/c.json"
read -r D1 X1 OP1 <<<"$(files)"
note "after: $D1 data files, $X1 delete files ($OP1)"
{ cat "$T/items.pg"; echo '{"id":2000000,"txt":"appended","n":null}'; } >"$T/items+1.pg"
check "after compaction: items == SELECT * plus the concurrent append" \
    chk rns.public_items upsert --pg "$T/items+1.pg"
expect_eq "the current snapshot is the replace" "$OP1" replace
expect_eq "data files: compacted into one, plus the append" "$D1 $X1" "2 0"

mkdir -p "$T/py"
iceberg_read --uri "$ICEREST_URL" --warehouse "$WH" rows rns.public_items >"$T/py/rns.public_items" ||
    fail "pyiceberg could not read the table"
spark_read --uri "$ICEREST_URL" --warehouse "$WH" --catalog lake steps "$T/spark" \
    rows:rns.public_items \
    "save:ops:SELECT operation FROM lake.rns.public_items.snapshots ORDER BY committed_at" \
    "save:files:SELECT content, count(*) AS n FROM lake.rns.public_items.files GROUP BY content" \
    2>"$T/spark.err" ||
    { tail -n 20 "$T/spark.err" | sed 's/^/# /'; fail "Spark could not read the table"; }
expect_eq "Spark read the compacted table" "$(cat "$T/spark/rns.public_items.rc")" 0
check "Spark's rows == pyiceberg's rows ($(wc -l <"$T/py/rns.public_items"))" \
    diff "$T/py/rns.public_items" "$T/spark/rns.public_items"
expect_eq "Spark's last snapshot is the replace" "$(tail -n 1 "$T/spark/ops")" '{"operation": "replace"}'
expect_eq "Spark's files table: two data files, no delete file" "$(cat "$T/spark/files")" \
    '{"content": 0, "n": 2}'

agent_start
sql "UPDATE items SET txt = 'after' WHERE id % 3 = 0" "DELETE FROM items WHERE id % 5 = 0" \
    "INSERT INTO items VALUES (1000001, 'sentinel 2', 0)"
for _ in $(seq 300); do grep -q '"sentinel 2"' "$EVENTS" && break; sleep 0.2; done
pgjson items >"$T/items.pg"
{ cat "$T/items.pg"; echo '{"id":2000000,"txt":"appended","n":null}'; } >"$T/items+1.pg"
for _ in $(seq 150); do chk rns.public_items upsert --pg "$T/items+1.pg" >/dev/null 2>&1 && break; sleep 0.3; done
agent_stop
check "after the resume: items == SELECT * (plus the append), no key twice" \
    chk rns.public_items upsert --pg "$T/items+1.pg"
done_testing
