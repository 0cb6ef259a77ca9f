#!/usr/bin/env bash
# 711: `cdcagent lakehouse` through a REST catalog (Apache Iceberg's RESTCatalogServer,
# test/lib/iceberg_rest.sh): the rollback is a set-snapshot-ref update of main with
# assert-ref-snapshot-id, applied by the server.  The upsert sink writes S1 (snapshot rows)
# and S2 (updates, a delete); with the agent stopped, `lakehouse snapshots` == pyiceberg's
# RestCatalog snapshots, `query` at S1 == pyiceberg's scan of S1, `rollback` to S1 makes
# pyiceberg see S1 (main, snapshot-log, rows); the agent then refuses the table; rolling
# forward lets it resume and verify passes.
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
TBL=rns.public_items
sql "CREATE TABLE items (id int PRIMARY KEY, txt text)" \
    "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 6) g"
P_TABLES="public.items" P_SNAPSHOT=initial write_pipeline
cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: lake
    sink_type: iceberg
    iceberg:
      catalog_uri: "$ICEREST_URL"
      warehouse: "$WH"
      table_namespace: rns
      write_mode: upsert
      batch_size: 100
      flush_interval_seconds: 0.3
YAML
write_platform
P="$T/pipeline.yaml --platform-config $T/platform.yaml"
py() { "$ICEBERG_PY" - "$ICEREST_URL" "$WH" "$TBL" "$@"; }
cur() {
    py <<'PY'
import sys
from pyiceberg.catalog.rest import RestCatalog
s = RestCatalog("rest", uri=sys.argv[1], warehouse=sys.argv[2]).load_table(sys.argv[3]).current_snapshot()
print(s.snapshot_id if s else "")
PY
}
caught_up() {
    # shellcheck disable=SC2086
    cdc verify $P --sink lake --wait 90
    expect_eq "$1: verify --wait says the table caught up" "$CDC_RC" 0
    [ "$CDC_RC" = 0 ] || cat "$T/cdc.out" "$T/cdc.err"
}

agent_start
caught_up "snapshot rows"
S1=$(cur)
sql "UPDATE items SET txt = 'changed' WHERE id <= 2" "DELETE FROM items WHERE id = 6"
caught_up "updates and a delete"
S2=$(cur)
[ -n "$S1" ] && [ "$S1" != "$S2" ] || fail "two snapshots expected ($S1, $S2)"
agent_stop

# shellcheck disable=SC2086
cdc lakehouse snapshots $P --json
expect_eq "snapshots --json exits 0" "$CDC_RC" 0
cp "$T/cdc.out" "$T/snaps.json"
check "snapshots == pyiceberg's (REST)" py "$T/snaps.json" <<'PY'
import json, sys
from pyiceberg.catalog.rest import RestCatalog
t = RestCatalog("rest", uri=sys.argv[1], warehouse=sys.argv[2]).load_table(sys.argv[3])
ours = json.load(open(sys.argv[4]))[0]["snapshots"]
assert [(o["snapshot_id"], o["timestamp_ms"], o["cdc_position"]) for o in ours] == \
    [(s.snapshot_id, s.timestamp_ms, s.summary.get("cdc.position")) for s in t.metadata.snapshots], ours
PY
# shellcheck disable=SC2086
cdc lakehouse query $P --snapshot-id "$S1"
cp "$T/cdc.out" "$T/q1"
check "query at S1 == pyiceberg scan(snapshot_id=S1) (REST)" py "$S1" "$T/q1" <<'PY'
import json, sys
from pyiceberg.catalog.rest import RestCatalog
t = RestCatalog("rest", uri=sys.argv[1], warehouse=sys.argv[2]).load_table(sys.argv[3])
theirs = sorted(t.scan(snapshot_id=int(sys.argv[4])).to_arrow().to_pylist(), key=lambda r: r["id"])
ours = sorted((json.loads(l) for l in open(sys.argv[5])), key=lambda r: r["id"])
assert ours == theirs and len(ours) == 6, (ours, theirs)
PY

# shellcheck disable=SC2086
cdc lakehouse rollback $P --snapshot-id "$S1" --yes
expect_eq "rollback to S1 through the REST catalog: exit 0" "$CDC_RC" 0
cat "$T/cdc.out" "$T/cdc.err"
expect_contains "it says the sink refuses" "$(cat "$T/cdc.out")" "Next: the sink refuses"
check "pyiceberg (REST) shows S1: main, snapshot-log, rows; S2 kept" py "$S1" "$S2" "$T/q1" <<'PY'
import json, sys
from pyiceberg.catalog.rest import RestCatalog
t = RestCatalog("rest", uri=sys.argv[1], warehouse=sys.argv[2]).load_table(sys.argv[3])
s1, s2 = int(sys.argv[4]), int(sys.argv[5])
assert t.current_snapshot().snapshot_id == s1 and t.metadata.refs["main"].snapshot_id == s1
assert t.metadata.snapshot_log[-1].snapshot_id == s1, t.metadata.snapshot_log
assert s2 in [s.snapshot_id for s in t.metadata.snapshots]
rows = sorted(t.scan().to_arrow().to_pylist(), key=lambda r: r["id"])
assert rows == sorted((json.loads(l) for l in open(sys.argv[6])), key=lambda r: r["id"]), rows
PY

AGENT_NO_WAIT=1 agent_start
agent_wait_exit 60
[ "$AGENT_RC" != 0 ] || fail "the agent started on a rolled-back table"
ok "the agent does not start on the rolled-back table (exit $AGENT_RC)"
expect_contains "naming the table and both snapshots" "$(cat "$T/agent.log")" \
    "Iceberg table rns.public_items was rolled back to snapshot $S1"

# shellcheck disable=SC2086
cdc lakehouse rollback $P --snapshot-id "$S2" --yes
expect_eq "roll forward to S2: exit 0" "$CDC_RC" 0
expect_contains "the sink resumes" "$(cat "$T/cdc.out")" "Next: the sink resumes"
agent_start
sql "INSERT INTO items VALUES (7, 'after')"
caught_up "after rolling forward"
agent_stop
done_testing
