#!/usr/bin/env bash
# 673: the Iceberg sink with an s3:// warehouse on moto's S3 server (test/lib/moto.sh) and
# pyiceberg's SQL catalog on SQLite: upsert mode, inserts, updates, deletes; pyiceberg, reading
# the files through S3, scans the table == SELECT *.  The S3 secret given in the pipeline
# never appears in the agent's log.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/moto.sh"
. "$CDC_SRC/test/lib/iceberg.sh"

iceberg_install || fail "could not install pyiceberg $ICEBERG_VERSION (see above)"
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
ICE_CHK_ARGS=(--s3-endpoint "http://127.0.0.1:$MPORT")

sql "CREATE TABLE items (id int PRIMARY KEY, txt text, n numeric(8,2))" \
    "INSERT INTO items SELECT g, 'item ' || g, g FROM generate_series(1, 20) g"
P_TABLES="public.items" P_SNAPSHOT=initial write_pipeline
cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: lake
    sink_type: iceberg
    iceberg:
      catalog_uri: "$CAT_URI"
      warehouse: "$WH"
      write_mode: upsert
      batch_size: 10
      flush_interval_seconds: 0.5
      s3_endpoint: "http://127.0.0.1:$MPORT"
      s3_access_key_id: "$AWS_ACCESS_KEY_ID"
      s3_secret_access_key: "$SECRET"
      s3_region: us-east-1
YAML
write_platform
agent_start
sql "UPDATE items SET txt = 'changed' WHERE id % 3 = 0" "DELETE FROM items WHERE id > 15" \
    "INSERT INTO items VALUES (100, NULL, 1.5)" "UPDATE items SET id = 200 WHERE id = 1" \
    "INSERT INTO items VALUES (999, 'sentinel', 0)"
for _ in $(seq 150); do grep -q '"sentinel"' "$EVENTS" && break; sleep 0.2; done
PGTZ=UTC sql "SELECT row_to_json(t) FROM items t ORDER BY id" >"$T/items.pg"
for _ in $(seq 100); do chk default.public_items upsert --pg "$T/items.pg" >/dev/null 2>&1 && break; sleep 0.3; done
agent_stop
check "pyiceberg through S3: the table == SELECT *" chk default.public_items upsert --pg "$T/items.pg"
expect_eq "data files are in the bucket" "$("$MOTO_PY" -c "
import boto3
s = boto3.client('s3', endpoint_url='http://127.0.0.1:$MPORT')
keys = [o['Key'] for o in s.list_objects_v2(Bucket='lake', Prefix='wh/default.db/public_items/data/')['Contents']]
print(any(k.endswith('-deletes.parquet') for k in keys) and any(not k.endswith('-deletes.parquet') for k in keys))")" True
if grep -q -- "$SECRET" "$T/agent.log" "$T/agent.stdout"; then fail "the S3 secret appears in the agent's output"; fi
ok "the S3 secret is not in the agent's output"
done_testing
