#!/usr/bin/env bash
# 672: exactly once across SIGKILL.  One pipeline, two Iceberg sinks on one SQLite catalog and
# file:// warehouse: `app` (append, partitioned by bucket(4, id) and truncate(2, note)) and
# `ups` (upsert).  A load of 300 small transactions
# (an insert and an update of an older row each) runs while the agent is killed four times:
# once by itself between writing a commit's files and asking the catalog
# (CDCAGENT_TEST_ICEBERG_CRASH=before_commit:3), three times with SIGKILL once the tables
# have moved.  After the load and a clean stop, pyiceberg reads:
# - append: exactly 600 changes, none twice (op, change LSN, key), last image per key ==
#   SELECT;
# - upsert: the table == SELECT *, no key twice;
# - the start after the crash reported the files the interrupted commit left.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/iceberg.sh"

iceberg_install || fail "could not install pyiceberg $ICEBERG_VERSION (see above)"
pg_up

WH=file://$T/wh
CAT_URI=sqlite:///$T/catalog.db
count() { chk app.public_load count 2>/dev/null || echo 0; }
# the append table's current metadata file, straight from the SQLite catalog (fast to poll)
meta_loc() {
    python3 -c 'import sqlite3, sys
try:
    r = sqlite3.connect(sys.argv[1]).execute("SELECT metadata_location FROM iceberg_tables "
        "WHERE table_namespace = ? AND table_name = ?", ("app", "public_load")).fetchone()
except sqlite3.Error:
    r = None
print(r[0] if r else "")' "$T/catalog.db"
}
N=300

sql "CREATE TABLE load (id int PRIMARY KEY, v int NOT NULL, note text)"
P_TABLES="public.load" P_SNAPSHOT=never write_pipeline
cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: app
    sink_type: iceberg
    iceberg:
      catalog_uri: "$CAT_URI"
      warehouse: "$WH"
      table_namespace: app
      table_name: public_load
      partition_by: ["bucket(4, id)", "truncate(2, note)"]
      batch_size: 20
      flush_interval_seconds: 0.2
  - sink_id: ups
    sink_type: iceberg
    iceberg:
      catalog_uri: "$CAT_URI"
      warehouse: "$WH"
      table_namespace: ups
      write_mode: upsert
      batch_size: 20
      flush_interval_seconds: 0.2
YAML
write_platform

for i in $(seq "$N"); do
    echo "BEGIN; INSERT INTO load VALUES ($i, 0, 'row $i');"
    echo "UPDATE load SET v = v + 1, note = 'touched by $i' WHERE id = $(((i + 1) / 2)); COMMIT;"
    echo "SELECT pg_sleep(0.04);"
done >"$T/load.sql"

CDCAGENT_TEST_ICEBERG_CRASH=before_commit:3 agent_start
bg user_psql -f "$T/load.sql" -o /dev/null
LOAD_PID=${BG_PIDS[-1]}
for _ in $(seq 300); do agent_alive || break; sleep 0.1; done
agent_alive && fail "the agent did not kill itself at its third commit"
wait "$AGENT_PID" 2>/dev/null || true
AGENT_PID=
expect_contains "the crash hook fired between files and commit" "$(cat "$T/agent.log")" \
    "CDCAGENT_TEST_ICEBERG_CRASH=before_commit"

for k in 1 2 3; do
    agent_start
    before=$(meta_loc)
    for _ in $(seq 100); do [ "$(meta_loc)" != "$before" ] && break; sleep 0.1; done
    agent_kill9
    note "kill $k after a commit ($(meta_loc | sed 's|.*/||'))"
done
expect_contains "the start after the crash reports the interrupted commit's files" \
    "$(cat "$T/agent.log")" "are not in the table"

agent_start
wait "$LOAD_PID" || fail "the load failed"
sql "INSERT INTO load VALUES (100000, 0, 'sentinel')"
for _ in $(seq 100); do [ "$(count)" = $((2 * N + 1)) ] && break; sleep 0.3; done
PGTZ=UTC sql "SELECT row_to_json(t) FROM load t ORDER BY id" >"$T/load.pg"
for _ in $(seq 100); do chk ups.public_load upsert --pg "$T/load.pg" >/dev/null 2>&1 && break; sleep 0.3; done
agent_stop

expect_eq "append: every change there ($((2 * N + 1)))" "$(count)" $((2 * N + 1))
check "append: no change twice, last image per key == SELECT" "$ICEBERG_PY" - "$CAT_URI" "$WH" "$T/load.pg" <<'PY'
import json, sys
from pyiceberg.catalog.sql import SqlCatalog
rows = SqlCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2]).load_table("app.public_load").scan().to_arrow().to_pylist()
seen = {}
for r in rows:
    t = (r["_cdc_op"], r["_cdc_offset"], r["id"])
    assert t not in seen, f"twice: {t}"
    seen[t] = r
last = {}
for r in sorted(rows, key=lambda r: (r["_cdc_lsn"], r["_cdc_offset"])):
    last[r["id"]] = r
pg = {}
for line in open(sys.argv[3]):
    p = json.loads(line)
    pg[p["id"]] = p
assert sorted(last) == sorted(pg), (len(last), len(pg))
for k, p in pg.items():
    assert (last[k]["v"], last[k]["note"]) == (p["v"], p["note"]), (k, last[k], p)
PY
check "upsert: table == SELECT *, no key twice" chk ups.public_load upsert --pg "$T/load.pg"
check "append is partitioned: files per partition, filtered scans agree" "$ICEBERG_PY" - "$CAT_URI" "$WH" <<'PY'
import sys
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.expressions import EqualTo, And, GreaterThanOrEqual
t = SqlCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2]).load_table("app.public_load")
spec = t.spec()
assert [str(f.transform) for f in spec.fields] == ["bucket[4]", "truncate[2]"], spec
rows = t.scan().to_arrow().to_pylist()
parts = {tuple(task.file.partition) for task in t.scan().plan_files()}
assert len(parts) >= 4, parts
for k in (1, 7, 150, 300):
    got = t.scan(row_filter=EqualTo("id", k)).to_arrow().num_rows
    want = sum(1 for r in rows if r["id"] == k)
    assert got == want and want > 0, (k, got, want)
    files = list(t.scan(row_filter=EqualTo("id", k)).plan_files())
    assert len(files) < len(list(t.scan().plan_files())), "no pruning"
PY
done_testing
