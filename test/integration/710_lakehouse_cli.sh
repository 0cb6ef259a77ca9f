#!/usr/bin/env bash
# 710: `cdcagent lakehouse snapshots | query | rollback` on an upsert Iceberg table the agent
# writes (SQLite catalog, file:// warehouse), checked against pyiceberg (the independent
# reader):
# - three steps (snapshot rows; inserts; updates + deletes), each waited for with verify, give
#   snapshots S1..S3 (and more); `lakehouse snapshots --json` == pyiceberg's snapshots (ids,
#   parents, times, operation, summary counts, cdc.position);
# - `lakehouse query` at S1, S2 and S3 (and after a column was added, at S1 and S5: each
#   snapshot with its own columns) == pyiceberg's table.scan(snapshot_id=...); --as-of the
#   time of S2's snapshot-log entry == S2; --where and --limit;
# - rollback is refused while the agent runs (its slot is active) and without --yes; with
#   --force under the running agent, its next commit is refused (not put on top of S1: the
#   agent stops), and after rolling forward the change made meanwhile arrives (S4);
# - rollback to S1 with the agent stopped: pyiceberg then shows S1 as current, S1's rows;
# - the rule after a rollback: the agent does not start on the table (the changes after S1
#   were acknowledged and are never sent again), naming both snapshots; the slot stays where
#   it was; rolling forward to the newest snapshot lets it resume, and the table then equals
#   the source.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/iceberg.sh"

iceberg_install || fail "could not install pyiceberg $ICEBERG_VERSION (see above)"
pg_up

WH=file://$T/wh
URI=sqlite:///$T/cat.db
TBL=lake.public_items

sql "CREATE TABLE items (id int PRIMARY KEY, v text, n numeric(10,2), ts timestamptz)" \
    "INSERT INTO items SELECT g, 'v' || g, g * 1.25, timestamptz '2024-01-02 03:04:05.5+00'
       + g * interval '1 hour' FROM generate_series(1, 5) g"
P_TABLES="public.items" P_SNAPSHOT=initial write_pipeline
cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: lake
    sink_type: iceberg
    iceberg:
      catalog_uri: "$URI"
      warehouse: "$WH"
      table_namespace: lake
      write_mode: upsert
      batch_size: 100
      flush_interval_seconds: 0.3
YAML
write_platform
P="$T/pipeline.yaml --platform-config $T/platform.yaml"
# the table's current snapshot id, from pyiceberg
cur() {
    "$ICEBERG_PY" - "$URI" "$WH" "$TBL" <<'PY'
import sys
from pyiceberg.catalog.sql import SqlCatalog
s = SqlCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2]).load_table(sys.argv[3]).current_snapshot()
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
sql "INSERT INTO items SELECT g, 'v' || g, g * 1.25, NULL FROM generate_series(6, 9) g"
caught_up "inserts"
S2=$(cur)
sql "UPDATE items SET v = 'changed', n = -0.5 WHERE id IN (2, 7)" "DELETE FROM items WHERE id = 3"
caught_up "updates and deletes"
S3=$(cur)
note "snapshots: S1=$S1 S2=$S2 S3=$S3"
[ -n "$S1" ] && [ "$S1" != "$S2" ] && [ "$S2" != "$S3" ] || fail "three different snapshots expected"

# shellcheck disable=SC2086
cdc lakehouse rollback $P --snapshot-id "$S1" --yes
expect_eq "rollback while the agent runs: refused (exit 1)" "$CDC_RC" 1
expect_contains "it names the active slot" "$(cat "$T/cdc.err")" "replication slot cdc_slot is active"
expect_eq "the table did not move" "$(cur)" "$S3"

note "--force under the running agent: its next commit must not go on top of S1"
# shellcheck disable=SC2086
cdc lakehouse rollback $P --snapshot-id "$S1" --yes --force
expect_eq "rollback --force while the agent runs: exit 0" "$CDC_RC" 0
expect_contains "it warns that an agent is running" "$(cat "$T/cdc.out")" "WARNING: an agent is running"
sql "INSERT INTO items VALUES (50, 'during', 0, NULL)"
agent_wait_exit 60
[ "$AGENT_RC" != 0 ] || fail "the agent went on after the forced rollback"
ok "the running sink stops at its next commit (exit $AGENT_RC)"
expect_contains "naming the rollback" "$(cat "$T/agent.log")" \
    "was rolled back under the sink to snapshot $S1"
expect_eq "nothing was committed on top of S1" "$(cur)" "$S1"
# shellcheck disable=SC2086
cdc lakehouse rollback $P --snapshot-id "$S3" --yes
expect_eq "roll forward to S3: exit 0" "$CDC_RC" 0
agent_start
caught_up "after rolling forward: the insert made during the forced rollback arrives"
S4=$(cur)
agent_stop
CONFIRMED=$(slot_field cdc_slot confirmed_flush_lsn)

# ---- snapshots
# shellcheck disable=SC2086
cdc lakehouse snapshots $P --json
expect_eq "lakehouse snapshots --json exits 0" "$CDC_RC" 0
expect_eq "the table is at S4" "$(cur)" "$S4"
cp "$T/cdc.out" "$T/snaps.json"
check "lakehouse snapshots == pyiceberg's snapshots" "$ICEBERG_PY" - "$URI" "$WH" "$TBL" "$T/snaps.json" <<'PY'
import json, sys
from pyiceberg.catalog.sql import SqlCatalog
t = SqlCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2]).load_table(sys.argv[3])
ours = json.load(open(sys.argv[4]))
assert len(ours) == 1 and ours[0]["table"] == "public.items" and ours[0]["iceberg_table"] == sys.argv[3], ours
ours = ours[0]
assert ours["current_snapshot_id"] == t.current_snapshot().snapshot_id
theirs = t.metadata.snapshots
assert [s["snapshot_id"] for s in ours["snapshots"]] == [s.snapshot_id for s in theirs]
for o, s in zip(ours["snapshots"], theirs):
    sm = s.summary
    assert o["parent_id"] == s.parent_snapshot_id, (o, s)
    assert o["timestamp_ms"] == s.timestamp_ms, (o, s)
    assert o["operation"] == sm.operation.value, (o, sm)
    for k in ("added-records", "deleted-records", "added-position-deletes", "added-data-files",
              "deleted-data-files", "added-delete-files", "removed-delete-files"):
        assert o[k.replace("-", "_")] == int(sm.get(k) or 0), (k, o, sm)
    assert o["cdc_position"] == sm.get("cdc.position"), (o, sm)
    assert o["on_main"] is True
print(len(theirs), "snapshots agree")
PY
# shellcheck disable=SC2086
cdc lakehouse snapshots $P
expect_contains "text: a line per snapshot, the current one marked" "$(cat "$T/cdc.out")" "$S3"
expect_contains "text: the current one marked" "$(cat "$T/cdc.out")" "(current)"

# a second source table with no Iceberg table yet: listed as such; query wants --table
sed 's/tables: \[public.items\]/tables: [public.items, public.nothere]/' "$T/pipeline.yaml" >"$T/two.yaml"
grep -q "public.nothere" "$T/two.yaml" || fail "could not write two.yaml"
cdc lakehouse snapshots "$T/two.yaml" --platform-config "$T/platform.yaml"
expect_eq "snapshots with a table not created yet: exit 0" "$CDC_RC" 0
expect_contains "it is listed as not existing" "$(cat "$T/cdc.out")" \
    "public.nothere (Iceberg table lake.public_nothere, sink lake): does not exist yet"
expect_contains "the other table is listed" "$(cat "$T/cdc.out")" "$S4  "
cdc lakehouse query "$T/two.yaml" --platform-config "$T/platform.yaml" --snapshot-id "$S1"
expect_eq "query without --table on two tables: exit 2" "$CDC_RC" 2
expect_contains "asking for --table" "$(cat "$T/cdc.err")" "choose one with --table"
cdc lakehouse query "$T/two.yaml" --platform-config "$T/platform.yaml" --snapshot-id "$S1" \
    --table public.nothere
expect_eq "query of a table not created yet: exit 2" "$CDC_RC" 2
expect_contains "saying so" "$(cat "$T/cdc.err")" "does not exist (yet"

# ---- query at three snapshots == pyiceberg's scan of them
for s in "$S1" "$S2" "$S3"; do
    # shellcheck disable=SC2086
    cdc lakehouse query $P --snapshot-id "$s"
    expect_eq "query --snapshot-id $s exits 0" "$CDC_RC" 0
    cp "$T/cdc.out" "$T/q.$s"
done
# cmp.py DIR SID...: `lakehouse query` output DIR/q.SID == pyiceberg's scan(snapshot_id=SID)
# (same columns, values compared typed); prints the row counts
cat >"$T/cmp.py" <<'PY'
import datetime, decimal, json, sys
from pyiceberg.catalog.sql import SqlCatalog
t = SqlCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2]).load_table(sys.argv[3])
def same(o, r):
    if o is None or r is None:
        return o is None and r is None
    if isinstance(r, decimal.Decimal):
        return decimal.Decimal(o) == r
    if isinstance(r, datetime.datetime):
        return datetime.datetime.fromisoformat(o) == r
    return o == r
counts = []
for sid in sys.argv[5:]:
    theirs = sorted(t.scan(snapshot_id=int(sid)).to_arrow().to_pylist(), key=lambda r: r["id"])
    ours = sorted((json.loads(l) for l in open(f"{sys.argv[4]}/q.{sid}")), key=lambda r: r["id"])
    assert len(ours) == len(theirs), (sid, len(ours), len(theirs))
    for o, r in zip(ours, theirs):
        assert list(o) == list(r), (sid, list(o), list(r))
        for k in r:
            assert same(o[k], r[k]), (sid, k, o, r)
    counts.append(len(ours))
print(" ".join(map(str, counts)))
PY
cmp_snaps() { "$ICEBERG_PY" "$T/cmp.py" "$URI" "$WH" "$TBL" "$T" "$@"; }
expect_eq "query at S1, S2, S3 == pyiceberg scan(snapshot_id=...): 5, 9, 8 rows" \
    "$(cmp_snaps "$S1" "$S2" "$S3")" "5 9 8"

# --as-of: the snapshot-log time of S2 (and one millisecond before S3's) reads S2
AS_OF=$("$ICEBERG_PY" - "$URI" "$WH" "$TBL" "$S2" <<'PY'
import sys
from pyiceberg.catalog.sql import SqlCatalog
t = SqlCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2]).load_table(sys.argv[3])
e = [e for e in t.metadata.snapshot_log if e.snapshot_id == int(sys.argv[4])][0]
assert t.snapshot_as_of_timestamp(e.timestamp_ms).snapshot_id == int(sys.argv[4])
print(e.timestamp_ms)
PY
)
# shellcheck disable=SC2086
cdc lakehouse query $P --as-of "$AS_OF" --json
expect_eq "query --as-of (milliseconds) reads S2" "$(sort "$T/cdc.out")" "$(sort "$T/q.$S2")"
ISO=$(python3 -c 'import datetime, sys; print(datetime.datetime.fromtimestamp(int(sys.argv[1]) / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z")' "$AS_OF")
# shellcheck disable=SC2086
cdc lakehouse query $P --as-of "$ISO"
expect_eq "query --as-of $ISO reads S2" "$(sort "$T/cdc.out")" "$(sort "$T/q.$S2")"
# shellcheck disable=SC2086
cdc lakehouse query $P --as-of 2000-01-01T00:00:00Z
expect_eq "query --as-of before the first snapshot: exit 2" "$CDC_RC" 2
expect_contains "and says so" "$(cat "$T/cdc.err")" "had no snapshot yet"
# shellcheck disable=SC2086
cdc lakehouse query $P --snapshot-id "$S3" --where id=7
expect_eq "--where id=7 at S3: one row, changed" "$(cat "$T/cdc.out")" \
    "$(grep '"id":7,' "$T/q.$S3")"
expect_contains "the changed row" "$(cat "$T/cdc.out")" '"v":"changed"'
# shellcheck disable=SC2086
cdc lakehouse query $P --snapshot-id "$S3" --where n=-0.50
expect_eq "--where n=-0.50 (typed: decimal) finds both changed rows" "$(wc -l <"$T/cdc.out")" 2
# shellcheck disable=SC2086
cdc lakehouse query $P --snapshot-id "$S3" --where n=abc
expect_eq "--where with a value of the wrong type: exit 2" "$CDC_RC" 2
expect_contains "naming the column and its type" "$(cat "$T/cdc.err")" "column n"
# shellcheck disable=SC2086
cdc lakehouse query $P --snapshot-id "$S2" --limit 3
expect_eq "--limit 3" "$(wc -l <"$T/cdc.out")" 3
# shellcheck disable=SC2086
cdc lakehouse query $P --snapshot-id 12345
expect_eq "an unknown snapshot id: exit 2" "$CDC_RC" 2

# ---- rollback
# shellcheck disable=SC2086
cdc lakehouse rollback $P --snapshot-id "$S1"
expect_eq "rollback without --yes: exit 2" "$CDC_RC" 2
expect_eq "the table did not move" "$(cur)" "$S4"
# shellcheck disable=SC2086
cdc lakehouse rollback $P --snapshot-id "$S1" --yes --json
expect_eq "rollback to S1 (agent stopped): exit 0" "$CDC_RC" 0
cat "$T/cdc.out" "$T/cdc.err"
cp "$T/cdc.out" "$T/rb.json"
check "pyiceberg shows S1: current, main, snapshot-log, S1's rows; the report says the sink refuses" \
    "$ICEBERG_PY" - "$URI" "$WH" "$TBL" "$S1" "$S4" "$T/rb.json" "$T/q.$S1" <<'PY'
import json, sys
from pyiceberg.catalog.sql import SqlCatalog
t = SqlCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2]).load_table(sys.argv[3])
s1, s3 = int(sys.argv[4]), int(sys.argv[5])
assert t.current_snapshot().snapshot_id == s1
assert t.metadata.refs["main"].snapshot_id == s1
assert t.metadata.snapshot_log[-1].snapshot_id == s1
assert s3 in [s.snapshot_id for s in t.metadata.snapshots], "no snapshot may be removed"
rows = sorted(t.scan().to_arrow().to_pylist(), key=lambda r: r["id"])
ours = sorted((json.loads(l) for l in open(sys.argv[7])), key=lambda r: r["id"])
assert [(r["id"], r["v"]) for r in rows] == [(o["id"], o["v"]) for o in ours], (rows, ours)
rb = json.load(open(sys.argv[6]))
assert rb["from_snapshot_id"] == s3 and rb["to_snapshot_id"] == s1, rb
assert rb["sink_next"] == "refuses" and rb["roll_forward_snapshot_id"] == s3, rb
PY

note "the rule: the sink must not resume from S1's position (the slot is past S3's changes)"
AGENT_NO_WAIT=1 agent_start
agent_wait_exit 60
[ "$AGENT_RC" != 0 ] || fail "the agent started on a rolled-back table"
ok "the agent does not start on the rolled-back table (exit $AGENT_RC)"
expect_contains "its message names the table and both snapshots" "$(cat "$T/agent.log")" \
    "Iceberg table lake.public_items was rolled back to snapshot $S1"
expect_contains "and the way forward" "$(cat "$T/agent.log")" "--snapshot-id $S4 --yes"
expect_eq "the slot did not move" "$(slot_field cdc_slot confirmed_flush_lsn)" "$CONFIRMED"
expect_eq "the table still shows S1" "$(cur)" "$S1"
grep "was rolled back" "$T/agent.log" | tail -1

# ---- roll forward: the sink resumes and the table equals the source again
# shellcheck disable=SC2086
cdc lakehouse rollback $P --snapshot-id "$S4" --yes
expect_eq "roll forward to S4: exit 0" "$CDC_RC" 0
expect_contains "the sink resumes" "$(cat "$T/cdc.out")" "Next: the sink resumes"
agent_start
sql "INSERT INTO items VALUES (10, 'after', 1, NULL)"
caught_up "after rolling forward"
sql "ALTER TABLE items ADD COLUMN extra bigint" "UPDATE items SET extra = 7 WHERE id = 1"
caught_up "after a column was added"
S5=$(cur)
agent_stop
for s in "$S1" "$S5"; do
    # shellcheck disable=SC2086
    cdc lakehouse query $P --snapshot-id "$s"
    cp "$T/cdc.out" "$T/q.$s"
done
expect_eq "after a schema change, query at S1 (old schema) and S5 (new) == pyiceberg" \
    "$(cmp_snaps "$S1" "$S5")" "5 10"
expect_contains "S5 has the new column" "$(cat "$T/q.$S5")" '"extra":7'
check "pyiceberg: the table == SELECT" "$ICEBERG_PY" - "$URI" "$WH" "$TBL" \
    "$(sql "SELECT string_agg(id || ':' || coalesce(v, ''), ',' ORDER BY id) FROM items")" <<'PY'
import sys
from pyiceberg.catalog.sql import SqlCatalog
t = SqlCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2]).load_table(sys.argv[3])
got = ",".join(f"{r['id']}:{r['v'] or ''}" for r in sorted(t.scan().to_arrow().to_pylist(), key=lambda r: r["id"]))
assert got == sys.argv[4], (got, sys.argv[4])
PY
done_testing
