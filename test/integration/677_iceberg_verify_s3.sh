#!/usr/bin/env bash
# 677: cdcagent verify against an Iceberg table in an s3:// warehouse (moto's S3 server,
# test/lib/moto.sh) with pyiceberg's SQL catalog on SQLite.  The upsert sink writes data and
# position-delete files to the bucket; verify reads them through S3 (the sink's s3_* keys)
# and exits 0; after pyiceberg deletes id=5 through S3, verify exits 4 naming id=5.  The S3
# secret never appears in verify's output.
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

sql "CREATE TABLE items (id int PRIMARY KEY, txt text, n numeric(8,2), ts timestamptz)" \
    "INSERT INTO items SELECT g, 'item ' || g, g, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 min'
       FROM generate_series(1, 20) g"
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
    "INSERT INTO items VALUES (100, NULL, 1.5, NULL)" "UPDATE items SET id = 200 WHERE id = 1"

V="verify $T/pipeline.yaml --platform-config $T/platform.yaml --sink lake"
# shellcheck disable=SC2086
cdc $V --wait 90
expect_eq "verify --wait through S3 exits 0 once the sink caught up" "$CDC_RC" 0
[ "$CDC_RC" = 0 ] || cat "$T/cdc.out" "$T/cdc.err"
agent_stop
# shellcheck disable=SC2086
cdc $V --json
expect_eq "verify through S3 exits 0 after the agent stopped" "$CDC_RC" 0
check "it read the live rows (position deletes applied): 16 rows, the current snapshot" \
    "$ICEBERG_PY" - "$CAT_URI" "$WH" "$MPORT" "$T/cdc.out" <<'PY'
import json, os, sys
from pyiceberg.catalog.sql import SqlCatalog
cat = SqlCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2], **{
    "s3.endpoint": "http://127.0.0.1:" + sys.argv[3], "s3.region": "us-east-1",
    "s3.access-key-id": os.environ["AWS_ACCESS_KEY_ID"],
    "s3.secret-access-key": os.environ["AWS_SECRET_ACCESS_KEY"]})
t = cat.load_table("default.public_items")
r = json.load(open(sys.argv[4]))["tables"][0]
assert r["destination_rows"] == 16 == t.scan().to_arrow().num_rows, r
assert r["destination_snapshot"] == t.current_snapshot().snapshot_id, r
PY

note "pyiceberg deletes id=5 through S3"
"$ICEBERG_PY" - "$CAT_URI" "$WH" "$MPORT" <<'PY' || fail "pyiceberg could not delete id=5"
import os, sys
from pyiceberg.catalog.sql import SqlCatalog
cat = SqlCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2], **{
    "s3.endpoint": "http://127.0.0.1:" + sys.argv[3], "s3.region": "us-east-1",
    "s3.access-key-id": os.environ["AWS_ACCESS_KEY_ID"],
    "s3.secret-access-key": os.environ["AWS_SECRET_ACCESS_KEY"]})
cat.load_table("default.public_items").delete("id == 5")
PY
# shellcheck disable=SC2086
cdc $V
expect_eq "verify exits 4 after the delete" "$CDC_RC" 4
cat "$T/cdc.out"
expect_contains "it names id=5" "$(cat "$T/cdc.out")" "id=5  missing in the destination"
expect_contains "only id=5" "$(cat "$T/cdc.out")" "key by key (id): 1 keys differ"
if grep -q -- "$SECRET" "$T/cdc.out" "$T/cdc.err"; then fail "the S3 secret appears in verify's output"; fi
ok "the S3 secret is not in verify's output"
done_testing
