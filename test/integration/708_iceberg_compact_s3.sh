#!/usr/bin/env bash
# 708: compaction with an s3:// warehouse (moto's S3 server, test/lib/moto.sh) and pyiceberg's
# SQL catalog on SQLite: the pass reads the small files and their deletes through S3, writes
# the new file there, and pyiceberg (reading through S3) scans the table == SELECT * with
# fewer files; the agent resumes on it.  The S3 secret appears in no output of the tool.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/moto.sh"
. "$CDC_SRC/test/lib/iceberg.sh"

iceberg_install || fail "could not install pyiceberg $ICEBERG_VERSION (see above)"
CHECK=$CDC_SRC/test/tools/iceberg_sink_check.py
DRIVE=${CDC_BUILD:-$CDC_SRC/build}/ice_compact_drive
[ -x "$DRIVE" ] || fail "no $DRIVE (build the tools)"
MDIR=$T/moto
trap '_rc=$?; moto_kill "$MDIR" >/dev/null 2>&1; set +e; (exit $_rc); _cleanup' EXIT
MPORT=$(free_port)
moto_start "$MDIR" "$MPORT" || fail "moto did not start"
"$MOTO_PY" -c "import boto3; boto3.client('s3', endpoint_url='http://127.0.0.1:$MPORT').create_bucket(Bucket='lake')" \
    || fail "could not create the bucket"
SECRET=$AWS_SECRET_ACCESS_KEY
pg_up

WH=s3://lake/wh
CAT_URI=sqlite:///$T/catalog.db
chk() { "$ICEBERG_PY" "$CHECK" --uri "$CAT_URI" --warehouse "$WH" --s3-endpoint "http://127.0.0.1:$MPORT" "$@"; }
pgjson() { PGTZ=UTC sql "SELECT row_to_json(t) FROM $1 t ORDER BY id"; }

sql "CREATE TABLE items (id int PRIMARY KEY, txt text, n numeric(8,2))"
P_TABLES="public.items" P_SNAPSHOT=initial write_pipeline
cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: lake
    sink_type: iceberg
    iceberg:
      catalog_uri: "$CAT_URI"
      warehouse: "$WH"
      write_mode: upsert
      batch_size: 4
      flush_interval_seconds: 0.2
      s3_endpoint: "http://127.0.0.1:$MPORT"
      s3_access_key_id: "$AWS_ACCESS_KEY_ID"
      s3_secret_access_key: "$SECRET"
      s3_region: us-east-1
YAML
write_platform
agent_start
{
    for i in $(seq 1 30); do
        echo "BEGIN; INSERT INTO items VALUES ($((i * 2)), 'a$i', $i), ($((i * 2 + 1)), NULL, -$i);"
        echo "UPDATE items SET txt = 'u$i' WHERE id = $((i + 1)); COMMIT;"
        echo "SELECT pg_sleep(0.15);"
    done
    echo "INSERT INTO items VALUES (999999, 'sentinel', 0);"
} >"$T/load.sql"
PGPASSWORD=cdc_password "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" \
    -U cdc_user -d cdc_demo -f "$T/load.sql" >/dev/null || fail "the workload failed"
for _ in $(seq 300); do grep -q '"sentinel"' "$EVENTS" && break; sleep 0.2; done
pgjson items >"$T/items.pg"
for _ in $(seq 150); do chk default.public_items upsert --pg "$T/items.pg" >/dev/null 2>&1 && break; sleep 0.3; done
agent_stop
check "before compaction: items == SELECT *" chk default.public_items upsert --pg "$T/items.pg"

"$DRIVE" "$T/pipeline.yaml" default.public_items --threshold 5 >"$T/c.json" 2>"$T/c.err" ||
    fail "compaction failed: $(cat "$T/c.err")"
cat "$T/c.json"
check "after compaction: items == SELECT * (read through S3)" \
    chk default.public_items upsert --pg "$T/items.pg"
check "the pass rewrote many files into one" \
    test "$(jq -r .data_files_removed "$T/c.json")" -ge 5 -a "$(jq -r .files_added "$T/c.json")" -eq 1
check "the new file is in the bucket" "$MOTO_PY" - "$MPORT" <<'PY'
import sys, boto3
s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:" + sys.argv[1])
keys = [o["Key"] for o in s3.list_objects_v2(Bucket="lake", Prefix="wh/")["Contents"]]
assert any("/data/00000-c-" in k for k in keys), keys
PY
check "the S3 secret is in no output of the tool" bash -c "! grep -q '$SECRET' '$T/c.json' '$T/c.err'"

agent_start
sql "UPDATE items SET txt = 'after' WHERE id % 3 = 0" "DELETE FROM items WHERE id % 4 = 0" \
    "INSERT INTO items VALUES (1000000, 'sentinel 2', 0)"
for _ in $(seq 300); do grep -q '"sentinel 2"' "$EVENTS" && break; sleep 0.2; done
pgjson items >"$T/items.pg"
for _ in $(seq 150); do chk default.public_items upsert --pg "$T/items.pg" >/dev/null 2>&1 && break; sleep 0.3; done
agent_stop
check "after the resume: items == SELECT *, no key twice" chk default.public_items upsert --pg "$T/items.pg"
done_testing
