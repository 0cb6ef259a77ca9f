#!/usr/bin/env bash
# 701: snapshot expiry on a REST catalog (Apache Iceberg's RESTCatalogServer,
# test/lib/iceberg_rest.sh): the sink sends a remove-snapshots update with its requirements,
# the server drops the snapshots, the sink deletes what no remaining snapshot references.
# Upsert mode, maintenance on with tiny intervals (every 0.5 s, older than 2 s), many small
# commits.  pyiceberg's RestCatalog: the table == SELECT *, the snapshots seen mid-load are
# gone from the metadata and their manifest lists from the warehouse, the current snapshot
# holds cdc.position, every referenced file exists; a restart goes on exactly.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/iceberg.sh"
. "$CDC_SRC/test/lib/iceberg_rest.sh"

iceberg_install || fail "could not install pyiceberg $ICEBERG_VERSION (see above)"
CHECK=$CDC_SRC/test/tools/iceberg_sink_check.py
RDIR=$T/rest
trap 'rc=$?; icerest_kill "$RDIR" >/dev/null 2>&1; set +e; (exit $rc); _cleanup' EXIT
RPORT=$(free_port)
icerest_start "$RDIR" "$RPORT" || fail "the REST catalog server did not start"
ok "REST catalog server at $ICEREST_URL"
pg_up

WH=file://$RDIR/warehouse
chk() { "$ICEBERG_PY" "$CHECK" --rest --uri "$ICEREST_URL" --warehouse "$WH" "$@"; }
N=80

cat >"$T/files.py" <<'PY'
import json, os, sys
from pyiceberg.catalog.rest import RestCatalog
t = RestCatalog("rest", uri=sys.argv[1], warehouse=sys.argv[2]).load_table(sys.argv[3])
def local(p):
    for pre in ("file://", "file:"):
        if p.startswith(pre):
            return p[len(pre):]
    return p
md = t.metadata
out = {"snapshots": [s.snapshot_id for s in md.snapshots],
       "lists": {str(s.snapshot_id): local(s.manifest_list) for s in md.snapshots}}
if len(sys.argv) < 5:
    ref = set()
    for s in md.snapshots:
        ref.add(local(s.manifest_list))
        for m in s.manifests(t.io):
            ref.add(local(m.manifest_path))
            for e in m.fetch_manifest_entry(t.io, discard_deleted=False):
                ref.add(local(e.data_file.file_path))
    out["missing"] = sorted(p for p in ref if not os.path.exists(p))
    cur = md.current_snapshot()
    out["current_position"] = cur.summary.additional_properties.get("cdc.position") if cur else None
print(json.dumps(out))
PY
files() { "$ICEBERG_PY" "$T/files.py" "$ICEREST_URL" "$WH" rns.public_load "$@"; }

sql "CREATE TABLE load (id int PRIMARY KEY, v int NOT NULL, note text)"
P_TABLES="public.load" P_SNAPSHOT=never write_pipeline
cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: lake
    sink_type: iceberg
    iceberg:
      catalog_uri: "$ICEREST_URL"
      warehouse: "$WH"
      table_namespace: rns
      write_mode: upsert
      batch_size: 5
      flush_interval_seconds: 0.2
      maintenance:
        enabled: true
        expire_snapshots_interval_seconds: 0.5
        expire_snapshots_older_than_seconds: 2
YAML
write_platform
for i in $(seq "$N"); do
    echo "BEGIN; INSERT INTO load VALUES ($i, 0, 'row $i');"
    echo "UPDATE load SET v = v + 1, note = 'touched by $i' WHERE id = $(((i + 1) / 2)); COMMIT;"
    echo "SELECT pg_sleep(0.05);"
done >"$T/load.sql"

agent_start
bg user_psql -f "$T/load.sql" -o /dev/null
LOAD_PID=${BG_PIDS[-1]}
for _ in $(seq 100); do files --ids >"$T/fmid.json" 2>/dev/null && \
    [ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["snapshots"]))' "$T/fmid.json")" -ge 5 ] && break; sleep 0.3; done
wait "$LOAD_PID" || fail "the load failed"
PGTZ=UTC sql "SELECT row_to_json(t) FROM load t ORDER BY id" >"$T/load.pg"
for _ in $(seq 100); do chk rns.public_load upsert --pg "$T/load.pg" >/dev/null 2>&1 && break; sleep 0.3; done
sleep 4
agent_stop
files >"$T/f2.json" || fail "pyiceberg cannot read the table after expiry"

check "the table == SELECT *, no key twice" chk rns.public_load upsert --pg "$T/load.pg"
expect_contains "expiry ran and removed files" "$(cat "$T/agent.log")" "unreferenced file(s) removed"
check "the snapshots of mid-load are gone from the metadata, their lists from the warehouse; nothing referenced missing; the position kept" \
    python3 - "$T/fmid.json" "$T/f2.json" <<'PY'
import json, os, sys
mid, end = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
gone = [s for s in mid["snapshots"] if s not in end["snapshots"]]
assert len(gone) >= 3, ("few snapshots expired", mid["snapshots"], end["snapshots"])
for s in gone:
    assert not os.path.exists(mid["lists"][str(s)]), ("list still there", s)
assert end["missing"] == [], end["missing"]
assert end["current_position"], "no cdc.position in the current snapshot"
PY

agent_start
sql "UPDATE load SET note = 'after restart' WHERE id <= 3" "INSERT INTO load VALUES (100000, 0, 'sentinel')"
PGTZ=UTC sql "SELECT row_to_json(t) FROM load t ORDER BY id" >"$T/load.pg"
for _ in $(seq 100); do chk rns.public_load upsert --pg "$T/load.pg" >/dev/null 2>&1 && break; sleep 0.3; done
agent_stop
check "after a restart: the table == SELECT *, no key twice" chk rns.public_load upsert --pg "$T/load.pg"
done_testing
