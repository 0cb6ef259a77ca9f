#!/usr/bin/env bash
# 700: snapshot expiry and file cleanup inside the agent (iceberg.maintenance).  One pipeline,
# two Iceberg sinks on one SQLite catalog and file:// warehouse, both with maintenance on and
# tiny intervals (expire every 0.5 s what is older than 2 s: the config's ranges allow it, no
# test override): `app` (append) and `ups` (upsert: position deletes, so data files, delete
# files and merged manifests pile up).  Many small commits (batches of 5 rows, 0.2 s).
# - Phase 1: the agent kills itself in the middle of an expiry, after its commit and two file
#   deletes (CDCAGENT_TEST_ICEBERG_CRASH=during_expire:2).  pyiceberg reads both tables and
#   every file the metadata references (manifest lists, manifests, data and delete files) is
#   there.
# - Phase 2: restarted, the rest of the load; then, once expiry has run after the last
#   commit: tables == SELECT (append: every change exactly once), the snapshots pyiceberg saw
#   in the middle of the load are gone from the metadata and their manifest lists from the
#   warehouse, the current snapshot holds cdc.position, every referenced file exists, and no
#   .parquet/.avro file is left that the metadata does not reference except a planted orphan
#   younger than the default safety age (a day); an orphan planted two days old is gone;
#   /metrics counts expired snapshots, removed files and bytes per table.
# - Phase 3: a restart still delivers exactly once (maintenance off for it).
# - Phase 4: maintenance on, no change captured: the tables holding this pipeline's position
#   are expired from the start (down to their current snapshot), == SELECT, nothing missing.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/iceberg.sh"

iceberg_install || fail "could not install pyiceberg $ICEBERG_VERSION (see above)"
CHECK=$CDC_SRC/test/tools/iceberg_sink_check.py
pg_up

WH=file://$T/wh
CAT_URI=sqlite:///$T/catalog.db
chk() { "$ICEBERG_PY" "$CHECK" --uri "$CAT_URI" --warehouse "$WH" "$@"; }
count() { chk app.public_load count 2>/dev/null || echo 0; }
N=160

# What the metadata references and what the warehouse holds, through pyiceberg.
cat >"$T/files.py" <<'PY'
import json, os, sys
from pyiceberg.catalog.sql import SqlCatalog
cat = SqlCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2])
def local(p):
    for pre in ("file://", "file:"):
        if p.startswith(pre):
            return p[len(pre):]
    return p
out = {}
ids_only = sys.argv[3] == "--ids"
for name in sys.argv[3 + ids_only:]:
    t = cat.load_table(name)
    md = t.metadata
    if ids_only:    # while the agent runs: an expiry may remove an old snapshot's files meanwhile
        out[name] = {"snapshots": [s.snapshot_id for s in md.snapshots],
                     "lists": {str(s.snapshot_id): local(s.manifest_list) for s in md.snapshots}}
        continue
    ref, missing = set(), []
    for s in md.snapshots:
        ref.add(local(s.manifest_list))
        for m in s.manifests(t.io):
            ref.add(local(m.manifest_path))
            for e in m.fetch_manifest_entry(t.io, discard_deleted=False):
                ref.add(local(e.data_file.file_path))
    ref_all = set(ref) | {local(t.metadata_location)} | {local(e.metadata_file) for e in md.metadata_log}
    missing = sorted(p for p in ref_all if not os.path.exists(p))
    loc = local(md.location)
    stray = []
    for d, _, fs in os.walk(loc):
        for f in fs:
            p = os.path.join(d, f)
            if (f.endswith(".parquet") or f.endswith(".avro")) and p not in ref:
                stray.append(p)
    cur = md.current_snapshot()
    out[name] = {
        "snapshots": [s.snapshot_id for s in md.snapshots],
        "lists": {str(s.snapshot_id): local(s.manifest_list) for s in md.snapshots},
        "current_position": (cur.summary.additional_properties.get("cdc.position") if cur else None),
        "referenced": len(ref), "missing": missing, "stray": sorted(stray),
        "rows": t.scan().to_arrow().num_rows,
    }
print(json.dumps(out))
PY
files() { "$ICEBERG_PY" "$T/files.py" "$CAT_URI" "$WH" "$@" app.public_load ups.public_load; }
jq_py() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

sql "CREATE TABLE load (id int PRIMARY KEY, v int NOT NULL, note text)"
P_TABLES="public.load" P_SNAPSHOT=never write_pipeline
for s in app ups; do
    mode=append
    [ $s = ups ] && mode=upsert
    cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: $s
    sink_type: iceberg
    iceberg:
      catalog_uri: "$CAT_URI"
      warehouse: "$WH"
      table_namespace: $s
      table_name: public_load
      write_mode: $mode
      batch_size: 5
      flush_interval_seconds: 0.2
      maintenance:
        enabled: true
        expire_snapshots_interval_seconds: 0.5
        expire_snapshots_older_than_seconds: 2
YAML
done
HPORT=$(free_port)
PLATFORM_EXTRA="health_port: $HPORT" write_platform
sed -i 's/^health_enabled: false$/health_enabled: true/' "$T/platform.yaml"

for i in $(seq "$N"); do
    echo "BEGIN; INSERT INTO load VALUES ($i, 0, 'row $i');"
    echo "UPDATE load SET v = v + 1, note = 'touched by $i' WHERE id = $(((i + 1) / 2)); COMMIT;"
    echo "SELECT pg_sleep(0.05);"
done >"$T/load.sql"
half=$((N / 2))
head -n $((3 * half)) "$T/load.sql" >"$T/load1.sql"
tail -n +$((3 * half + 1)) "$T/load.sql" >"$T/load2.sql"

# ---- phase 1: killed in the middle of an expiry
CDCAGENT_TEST_ICEBERG_CRASH=during_expire:2 agent_start
user_psql -f "$T/load1.sql" -o /dev/null || fail "load 1 failed"
for _ in $(seq 300); do agent_alive || break; sleep 0.1; done
agent_alive && fail "the agent did not kill itself during an expiry"
wait "$AGENT_PID" 2>/dev/null || true
AGENT_PID=
expect_contains "the crash hook fired during an expiry" "$(cat "$T/agent.log")" \
    "CDCAGENT_TEST_ICEBERG_CRASH=during_expire"
expect_contains "it had expired snapshots before" "$(cat "$T/agent.log")" "snapshot(s) expired"
files >"$T/f1.json" || fail "pyiceberg cannot read the tables after the crash"
expect_eq "after the crash: no referenced file missing (app)" \
    "$(jq_py "$T/f1.json" 'd["app.public_load"]["missing"]')" "[]"
expect_eq "after the crash: no referenced file missing (ups)" \
    "$(jq_py "$T/f1.json" 'd["ups.public_load"]["missing"]')" "[]"
note "after the crash: $(jq_py "$T/f1.json" 'len(d["ups.public_load"]["snapshots"])') snapshots in ups, $(jq_py "$T/f1.json" 'len(d["ups.public_load"]["stray"])') unreferenced files"

# orphans: one two days old (goes), one fresh (stays: the safety age is a day)
LOC=$T/wh/ups.db/public_load
[ -d "$LOC/data" ] || fail "no table location $LOC/data"
echo x >"$LOC/data/00000-9-old-orphan.parquet"
touch -d '2 days ago' "$LOC/data/00000-9-old-orphan.parquet"
echo x >"$LOC/data/00000-9-young-orphan.parquet"

# ---- phase 2: the rest of the load; expiry keeps going
agent_start
bg user_psql -f "$T/load2.sql" -o /dev/null
LOAD_PID=${BG_PIDS[-1]}
sleep 2
files --ids >"$T/fmid.json" || fail "pyiceberg cannot read the tables mid-load"
wait "$LOAD_PID" || fail "load 2 failed"
PGTZ=UTC sql "SELECT row_to_json(t) FROM load t ORDER BY id" >"$T/load.pg"
for _ in $(seq 100); do [ "$(count)" = $((2 * N)) ] && break; sleep 0.3; done
for _ in $(seq 100); do chk ups.public_load upsert --pg "$T/load.pg" >/dev/null 2>&1 && break; sleep 0.3; done
# the newest commit is older than 2 s and an expiry ran after it: everything mid-load is gone
sleep 4
files >"$T/f2.json" || fail "pyiceberg cannot read the tables after expiry"

expect_eq "append: every change there ($((2 * N)))" "$(count)" $((2 * N))
check "upsert: table == SELECT *, no key twice" chk ups.public_load upsert --pg "$T/load.pg"
for tb in app.public_load ups.public_load; do
    check "$tb: the snapshots of mid-load are gone from the metadata, their lists from the warehouse" \
        python3 - "$T/fmid.json" "$T/f2.json" "$tb" <<'PY'
import json, os, sys
mid, end, tb = json.load(open(sys.argv[1]))[sys.argv[3]], json.load(open(sys.argv[2]))[sys.argv[3]], sys.argv[3]
gone = [s for s in mid["snapshots"] if s not in end["snapshots"]]
assert len(gone) >= 3, ("few snapshots expired", mid["snapshots"], end["snapshots"])
for s in gone:
    l = mid["lists"][str(s)]
    assert not os.path.exists(l), ("an expired snapshot's manifest list is still there", l)
assert len(end["snapshots"]) < len(mid["snapshots"]) + 10, (len(mid["snapshots"]), len(end["snapshots"]))
PY
    expect_eq "$tb: the current snapshot holds cdc.position" \
        "$(jq_py "$T/f2.json" "d['$tb']['current_position'] is not None")" "True"
    expect_eq "$tb: no referenced file missing" "$(jq_py "$T/f2.json" "d['$tb']['missing']")" "[]"
done
check "unreferenced files left: only what the killed expiry left (younger than the safety age) and the young orphan" \
    python3 - "$T/f1.json" "$T/f2.json" "$LOC" <<'PY'
import json, os, sys
f1, f2, loc = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
young = os.path.join(loc, "data", "00000-9-young-orphan.parquet")
old = os.path.join(loc, "data", "00000-9-old-orphan.parquet")
assert not os.path.exists(old), "the two days old orphan is still there"
assert young in f2["ups.public_load"]["stray"], "the young orphan was removed"
for tb in f2:
    extra = set(f2[tb]["stray"]) - set(f1[tb]["stray"]) - {young}
    assert not extra, (tb, sorted(extra))
PY
expect_contains "expiry is logged with its effect" "$(cat "$T/agent.log")" "unreferenced file(s) removed"
curl -s -m 5 "http://127.0.0.1:$HPORT/metrics" >"$T/metrics.txt" || true
check "/metrics counts expired snapshots and removed files per table" python3 - "$T/metrics.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
for fam in ("expired_snapshots", "removed_files", "removed_bytes"):
    for tb in ("app.public_load", "ups.public_load"):
        m = re.search(r'^cdcagent_iceberg_%s_total\{table="%s"\} (\d+)$' % (fam, re.escape(tb)), text, re.M)
        assert m and int(m.group(1)) > 0, (fam, tb, [l for l in text.splitlines() if "iceberg" in l])
PY

# ---- phase 3: a restart is still exactly once (maintenance off: the snapshot before the
# sentinel's stays for phase 4)
agent_stop
sed -i 's/^        enabled: true$/        enabled: false/' "$T/pipeline.yaml"
agent_start
sql "INSERT INTO load VALUES (100000, 0, 'sentinel')"
for _ in $(seq 100); do [ "$(count)" = $((2 * N + 1)) ] && break; sleep 0.3; done
PGTZ=UTC sql "SELECT row_to_json(t) FROM load t ORDER BY id" >"$T/load.pg"
for _ in $(seq 100); do chk ups.public_load upsert --pg "$T/load.pg" >/dev/null 2>&1 && break; sleep 0.3; done
agent_stop
expect_eq "append after restart: every change exactly once ($((2 * N + 1)))" "$(count)" $((2 * N + 1))
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
pg = {json.loads(l)["id"]: json.loads(l) for l in open(sys.argv[3])}
assert sorted(last) == sorted(pg), (len(last), len(pg))
for k, p in pg.items():
    assert (last[k]["v"], last[k]["note"]) == (p["v"], p["note"]), (k, last[k], p)
PY
check "upsert after restart: table == SELECT *, no key twice" chk ups.public_load upsert --pg "$T/load.pg"

# ---- phase 4: maintenance on again, no change at all: the tables holding this pipeline's
# position are expired from the start, not only once the sink writes to them
files --ids >"$T/f3.json" || fail "pyiceberg cannot read the tables after phase 3"
sed -i 's/^        enabled: false$/        enabled: true/' "$T/pipeline.yaml"
L=$(wc -l <"$T/agent.log")
agent_start
for _ in $(seq 100); do
    new=$(tail -n +"$((L + 1))" "$T/agent.log")
    case "$new" in *"table app.public_load: snapshot expiry"*) ;; *) sleep 0.2; continue ;; esac
    case "$new" in *"table ups.public_load: snapshot expiry"*) break ;; esac
    sleep 0.2
done
agent_stop
files >"$T/f4.json" || fail "pyiceberg cannot read the tables after phase 4"
check "phase 4: both tables expired without a commit; one snapshot left, nothing missing, == SELECT" \
    python3 - "$T/f3.json" "$T/f4.json" <<'PY'
import json, sys
f3, f4 = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
for tb in ("app.public_load", "ups.public_load"):
    assert len(f3[tb]["snapshots"]) >= 2, (tb, f3[tb]["snapshots"])
    assert f4[tb]["snapshots"] == f3[tb]["snapshots"][-1:], (tb, f3[tb]["snapshots"], f4[tb]["snapshots"])
    assert f4[tb]["missing"] == [], f4[tb]["missing"]
    assert f4[tb]["current_position"], tb
PY
check "phase 4: upsert table == SELECT *" chk ups.public_load upsert --pg "$T/load.pg"
expect_eq "phase 4: append: every change exactly once" "$(count)" $((2 * N + 1))
done_testing
