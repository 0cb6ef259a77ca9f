#!/usr/bin/env bash
# 687: cdcagent verify against an Iceberg table in a REST catalog: Apache Iceberg's own
# RESTCatalogServer (test/lib/iceberg_rest.sh).  The upsert sink writes through it; verify
# loads the table through the same REST catalog (as the sink opens it) and exits 0; after
# pyiceberg's RestCatalog deletes id=3 and appends a bogus id=777, verify exits 4 naming both.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/iceberg.sh"
. "$CDC_SRC/test/lib/iceberg_rest.sh"

iceberg_install || fail "could not install pyiceberg $ICEBERG_VERSION (see above)"
RDIR=$T/rest
trap 'rc=$?; icerest_kill "$RDIR" >/dev/null 2>&1; set +e; (exit $rc); _cleanup' EXIT
RPORT=$(free_port)
icerest_start "$RDIR" "$RPORT" || fail "the REST catalog server did not start"
ok "REST catalog server at $ICEREST_URL"
pg_up

WH=file://$RDIR/warehouse
sql "CREATE TABLE items (id int PRIMARY KEY, txt text, n bigint, ts timestamptz)" \
    "INSERT INTO items SELECT g, 'item ' || g, g * 10, '2024-01-01 00:00:00+00' FROM generate_series(1, 10) g"
P_TABLES="public.items" P_SNAPSHOT=initial write_pipeline
cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: lake
    sink_type: iceberg
    iceberg:
      catalog_uri: "$ICEREST_URL"
      warehouse: "$WH"
      table_namespace: rns
      write_mode: upsert
      batch_size: 5
      flush_interval_seconds: 0.3
YAML
write_platform
agent_start
sql "UPDATE items SET txt = 'changed' WHERE id <= 4" "DELETE FROM items WHERE id = 10" \
    "UPDATE items SET id = 50 WHERE id = 9"

V="verify $T/pipeline.yaml --platform-config $T/platform.yaml --sink lake"
# shellcheck disable=SC2086
cdc $V --wait 90
expect_eq "verify --wait through the REST catalog exits 0 once the sink caught up" "$CDC_RC" 0
cat "$T/cdc.out"
[ "$CDC_RC" = 0 ] || cat "$T/cdc.err"
agent_stop

note "pyiceberg's RestCatalog deletes id=3 and appends id=777"
"$ICEBERG_PY" - "$ICEREST_URL" "$WH" <<'PY' || fail "pyiceberg could not change the table"
import sys
import pyarrow as pa
from pyiceberg.catalog.rest import RestCatalog
t = RestCatalog("rest", uri=sys.argv[1], warehouse=sys.argv[2]).load_table("rns.public_items")
t.delete("id == 3")
t.append(pa.Table.from_pylist([{"id": 777, "txt": "bogus", "n": None, "ts": None}],
                              schema=t.schema().as_arrow()))
PY
# shellcheck disable=SC2086
cdc $V --json
expect_eq "verify exits 4 after the damage" "$CDC_RC" 4
check "it names id=3 missing and id=777 extra, and the REST catalog's current snapshot" \
    "$ICEBERG_PY" - "$ICEREST_URL" "$WH" "$T/cdc.out" <<'PY'
import json, sys
from pyiceberg.catalog.rest import RestCatalog
t = RestCatalog("rest", uri=sys.argv[1], warehouse=sys.argv[2]).load_table("rns.public_items")
r = json.load(open(sys.argv[3]))["tables"][0]
assert sorted((d["kind"], d["key"]["id"]) for d in r["differences"]) == \
    [("extra", "777"), ("missing", "3")], r["differences"]
assert r["destination_snapshot"] == t.current_snapshot().snapshot_id, r
PY
done_testing
