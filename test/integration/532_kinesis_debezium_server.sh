#!/usr/bin/env bash
# 532: REFERENCE test: Debezium Server 2.7.3 with its Kinesis sink (test/lib/dbz_server.sh,
# as 511) and cdcagent with transport_mode kinesis capture the same database at the same
# time into the same moto, each with its own slot and publication, JSON with schemas on both
# sides.  Workload: a snapshot of two rows, inserts, a multi-row transaction, updates, a
# delete (with its tombstone), a primary-key change and rows of a table without a key.
# Per table, the records are compared in stream order: PartitionKey byte for byte, Data as
# JSON (schema and payload) except for the fields of ALLOW, each explained in
# docs/kinesis.md ("Compared with Debezium Server").  Stream names differ by design:
# Debezium Server writes "{prefix}.{schema}.{table}" (and creates nothing), cdcagent
# "{prefix}-{schema}-{table}" as the platform's provisioner names them.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/moto.sh"
. "$CDC_SRC/test/lib/dbz_server.sh"

MDIR=$T/moto
DDIR=$T/dbzs
trap '_rc=$?; dbzs_stop "$DDIR" >/dev/null 2>&1; moto_kill "$MDIR" >/dev/null 2>&1; set +e; (exit $_rc); _cleanup' EXIT

# OPS PATH: fields that differ by run (processing time, version, snapshot positions).
ALLOW='
*  payload.ts_ms
*  payload.ts_us
*  payload.ts_ns
*  payload.source.version
r  payload.source.ts_ms
r  payload.source.ts_us
r  payload.source.ts_ns
r  payload.source.txId
r  payload.source.lsn
r  payload.source.sequence
r  payload.source.snapshot
'

pg_up
sql "CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(10,2), at timestamptz)" \
    "CREATE TABLE nokey (a int, b text)" \
    "INSERT INTO items VALUES (1, 'one', 1.50, '2024-01-02 03:04:05+00'), (2, 'two', NULL, NULL)"
moto_start "$MDIR" "$(free_port)"
aws() { "$MOTO_PY" "$MOTO_AWS_READ" "$@"; }
aws create-stream cdc.public.items 1 >/dev/null
aws create-stream cdc.public.nokey 1 >/dev/null
DBZ_PORT=$PORT DBZ_TABLES=public.items,public.nokey dbzs_start "$DDIR"
ok "Debezium Server $DBZS_VERSION streams into moto"

P_TABLES="public.items, public.nokey" write_pipeline
cat >"$T/platform.yaml" <<YAML
transport_mode: kinesis
health_enabled: false
kinesis:
  shard_count: 1
  json_schemas_enable: true
wal_reader:
  slot_name: cdc_slot
  publication_name: cdc_publication
agent:
  status_interval_seconds: 1
  state_dir: $T
YAML
agent_start

sql "INSERT INTO items VALUES (3, 'three', 3.25, now())" \
    "BEGIN; INSERT INTO items VALUES (4, 'four', 4, now()); INSERT INTO items VALUES (5, 'fünf ✓', 5.5, now()); COMMIT;" \
    "UPDATE items SET name = 'uno', price = 1.75 WHERE id = 1" \
    "DELETE FROM items WHERE id = 2" \
    "UPDATE items SET id = 30 WHERE id = 3" \
    "INSERT INTO nokey VALUES (1, 'a'), (2, NULL)"
# items: 2 r + 3 c + u + (d + tombstone) + (d + tombstone + c) = 11; nokey: 2
wait_both() {
    local s=$1 want=$2
    for _ in $(seq 150); do
        aws read "cdc.$s" >"$T/dbz.$s.jsonl" 2>/dev/null || true
        aws read "cdc-${s/./-}" >"$T/cdc.$s.jsonl" 2>/dev/null || true
        [ "$(line_count "$T/dbz.$s.jsonl")" -ge "$want" ] &&
            [ "$(line_count "$T/cdc.$s.jsonl")" -ge "$want" ] && break
        sleep 0.2
    done
    expect_eq "$s: Debezium Server records" "$(line_count "$T/dbz.$s.jsonl")" "$want"
    expect_eq "$s: cdcagent records" "$(line_count "$T/cdc.$s.jsonl")" "$want"
}
wait_both public.items 11
wait_both public.nokey 2

for s in public.items public.nokey; do
    python3 - "$T/dbz.$s.jsonl" "$T/cdc.$s.jsonl" "$ALLOW" >"$T/compare.$s.out" 2>&1 <<'PY' || true
import json, sys
dbz = [json.loads(l) for l in open(sys.argv[1])]
cdc = [json.loads(l) for l in open(sys.argv[2])]
allow = [l.split() for l in sys.argv[3].splitlines() if l.strip()]

def flat(v, p=""):
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            out.update(flat(x, p + "." + k if p else k))
        return out
    return {p: v}

# Per partition key in stream order (different keys go in parallel: their relative order
# is not defined); records without a key ("default") are not ordered among themselves by
# cdcagent, so those are compared sorted by source.lsn.
def groups(recs):
    g = {}
    for r in recs:
        g.setdefault(r["key"], []).append(r)
    for k, v in g.items():
        v.sort(key=lambda r: int(r["seq"]))
        if k == "default":
            v.sort(key=lambda r: json.loads(r["data"])["payload"]["source"]["lsn"] if r["data"] else 0)
    return g

ga, gb = groups(dbz), groups(cdc)
diffs = 0
if sorted(ga) != sorted(gb):
    print("DIFF partition keys", sorted(ga), sorted(gb)); diffs += 1
pairs = []
for k in sorted(set(ga) & set(gb)):
    if len(ga[k]) != len(gb[k]):
        print("DIFF", k, "records", len(ga[k]), len(gb[k])); diffs += 1
    pairs += list(zip(ga[k], gb[k]))
for i, (a, b) in enumerate(pairs):
    va = json.loads(a["data"]) if a["data"] else None
    vb = json.loads(b["data"]) if b["data"] else None
    if (va is None) != (vb is None):
        print("DIFF", a["key"][-30:], i, "Data", a["data"][:80], b["data"][:80]); diffs += 1
        continue
    if va is None:
        continue
    op = va["payload"].get("op")
    fa, fb = flat(va["payload"], "payload"), flat(vb["payload"], "payload")
    for path in sorted(set(fa) | set(fb)):
        if fa.get(path) == fb.get(path):
            continue
        if any((o == "*" or op in o.split(",")) and path == p for o, p in allow):
            continue
        print("DIFF", i, path, json.dumps(fa.get(path)), json.dumps(fb.get(path))); diffs += 1
    if va["schema"] != vb["schema"]:
        print("DIFF", i, "schema", json.dumps(va["schema"])[:200], json.dumps(vb["schema"])[:200]); diffs += 1
print("diffs", diffs)
PY
    sed 's/^/# /' "$T/compare.$s.out" | head -20
    expect_eq "$s: Data and PartitionKey equal but for the allow-list" \
        "$(tail -1 "$T/compare.$s.out")" "diffs 0"
done
agent_stop
dbzs_stop "$DDIR"
done_testing
