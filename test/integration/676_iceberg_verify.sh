#!/usr/bin/env bash
# 676: cdcagent verify against Iceberg tables.  One agent run feeds two Iceberg sinks (SQLite
# catalogs, file:// warehouse): lake_u in write_mode upsert, lake_a in append.  After a
# snapshot, inserts, updates (most mapped types, NULLs), deletes, a primary-key change, a
# text[] column (not compared yet: the report says so) and a composite-key table,
# `verify --wait` exits 0 for both, and again after the agent stopped.
# pyiceberg (the independent writer) then damages the tables:
# - upsert: deletes id=5, rewrites id=6 with another txt, appends a bogus id=9999;
# - append: writes one change row twice (id=3), adds a newer delete row for id=1 and a newer
#   create row for id=7777;
# and verify exits 4 naming exactly those keys, with --json giving the snapshot it read.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/iceberg.sh"

iceberg_install || fail "could not install pyiceberg $ICEBERG_VERSION (see above)"
pg_up

WH=file://$T/wh
URI_U=sqlite:///$T/cat_u.db
URI_A=sqlite:///$T/cat_a.db

sql "CREATE TABLE items (id int PRIMARY KEY, b boolean, i2 smallint, i8 bigint, r real,
       d double precision, n numeric(12,3), nv numeric, txt text, vc varchar(20), dt date,
       tm time, ts timestamp, tstz timestamptz, u uuid, by bytea, j jsonb, tags text[])" \
    "CREATE TABLE pairs (a int, b text, v bigint, PRIMARY KEY (a, b))" \
    "INSERT INTO items (id, b, i2, i8, r, d, n, nv, txt, vc, dt, tm, ts, tstz, u, by, j)
     SELECT g, g % 2 = 0, -g, 9000000000 + g, g + 0.5, g * 2.25, g * 1.125, 3.14159265358979 * g,
            'item ' || g, 'v' || g, date '2024-02-29' + g, time '12:34:56.789' + g * interval '1 s',
            timestamp '2024-01-02 03:04:05.123456' + g * interval '1 day',
            timestamptz '2024-01-02 03:04:05.5+02' + g * interval '1 hour',
            md5(g::text)::uuid, decode(md5(g::text), 'hex'), jsonb_build_object('g', g)
       FROM generate_series(1, 20) g" \
    "UPDATE items SET tags = ARRAY['t' || id, NULL] WHERE id % 4 = 0" \
    "INSERT INTO items (id) VALUES (21)" \
    "INSERT INTO pairs SELECT g, 'k' || g, g * 10 FROM generate_series(1, 5) g"

P_TABLES="public.items, public.pairs" P_SNAPSHOT=initial write_pipeline
cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: lake_u
    sink_type: iceberg
    iceberg:
      catalog_uri: "$URI_U"
      warehouse: "$WH"
      table_namespace: ups
      write_mode: upsert
      batch_size: 7
      flush_interval_seconds: 0.5
  - sink_id: lake_a
    sink_type: iceberg
    iceberg:
      catalog_uri: "$URI_A"
      warehouse: "$WH"
      table_namespace: app
      write_mode: append
      batch_size: 7
      flush_interval_seconds: 0.5
YAML
write_platform
agent_start

sql "UPDATE items SET txt = 'one', n = NULL, tstz = NULL WHERE id = 1" \
    "DELETE FROM items WHERE id = 8" \
    "BEGIN; UPDATE items SET n = 1 WHERE id = 3; UPDATE items SET n = 2.5, b = NULL WHERE id = 3;
     UPDATE items SET id = 100 WHERE id = 2; DELETE FROM items WHERE id = 4;
     INSERT INTO items (id, txt) VALUES (4, 'four again'); COMMIT" \
    "INSERT INTO items (id, txt, i8) SELECT g, 'bulk ' || g, g FROM generate_series(30, 60) g" \
    "UPDATE items SET r = r * 2, j = '{\"x\": [1, 2]}' WHERE id % 3 = 0" \
    "DELETE FROM items WHERE id BETWEEN 40 AND 45" \
    "UPDATE pairs SET b = 'moved' WHERE a = 2" \
    "UPDATE pairs SET v = -1 WHERE a = 3" \
    "DELETE FROM pairs WHERE a = 4"

V="verify $T/pipeline.yaml --platform-config $T/platform.yaml"
# shellcheck disable=SC2086
cdc $V --sink lake_u --wait 90
expect_eq "upsert: verify --wait exits 0 once the sink caught up (agent running)" "$CDC_RC" 0
[ "$CDC_RC" = 0 ] || { cat "$T/cdc.out" "$T/cdc.err"; }
# shellcheck disable=SC2086
cdc $V --sink lake_a --wait 90
expect_eq "append: verify --wait exits 0 once the sink caught up (agent running)" "$CDC_RC" 0
[ "$CDC_RC" = 0 ] || { cat "$T/cdc.out" "$T/cdc.err"; }
agent_stop

for s in lake_u lake_a; do
    # shellcheck disable=SC2086
    cdc $V --sink $s
    expect_eq "$s: verify exits 0 after the agent stopped" "$CDC_RC" 0
    expect_contains "$s: the report names the Iceberg snapshot and its cdc.position" \
        "$(cat "$T/cdc.out")" "snapshot "
    expect_contains "$s: and the source's WAL position" "$(cat "$T/cdc.out")" \
        "source       read at WAL position "
done
cat "$T/cdc.out"
expect_contains "a list column is named as not compared" "$(cat "$T/cdc.out")" \
    "column tags (a list) is not compared"
expect_contains "append: a key change's d and c rows are not duplicates" \
    "$(cat "$T/cdc.out")" "pairs: equal"

note "pyiceberg damages the upsert table: deletes id=5, changes id=6's txt, adds id=9999"
"$ICEBERG_PY" - "$URI_U" "$WH" <<'PY' || fail "pyiceberg could not change the upsert table"
import sys
import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog
t = SqlCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2]).load_table("ups.public_items")
six = t.scan(row_filter="id == 6").to_arrow().to_pylist()
assert len(six) == 1, six
t.delete("id == 5")
t.delete("id == 6")
six[0]["txt"] = "tampered"
bogus = {k: None for k in six[0]}
bogus["id"] = 9999
t.append(pa.Table.from_pylist([six[0], bogus], schema=t.schema().as_arrow()))
PY
# shellcheck disable=SC2086
cdc $V --sink lake_u
expect_eq "upsert: verify exits 4 after the damage" "$CDC_RC" 4
out=$(cat "$T/cdc.out")
printf '%s\n' "$out"
expect_contains "id=5 is missing" "$out" "id=5  missing in the destination"
expect_contains "id=6 differs in txt only" "$out" "id=6  values differ: txt"
expect_contains "id=9999 is extra" "$out" "id=9999  extra in the destination"
expect_contains "3 keys differ" "$out" "key by key (id): 3 keys differ"
expect_contains "pairs is still equal" "$out" "table public.pairs: equal"
# shellcheck disable=SC2086
cdc $V --sink lake_u --json
expect_eq "upsert --json: exit 4" "$CDC_RC" 4
check "--json names the Iceberg table, snapshot id and position" python3 - "$T/cdc.out" "$URI_U" <<'PY'
import json, sys, sqlite3
r = json.load(open(sys.argv[1]))
t = [x for x in r["tables"] if x["table"] == "public.items"][0]
assert t["destination_table"] == "ups.public_items", t
assert isinstance(t["destination_snapshot"], int), t
assert t["destination_position"] is not None, t
assert sorted((d["kind"], d["key"]["id"]) for d in t["differences"]) == \
    [("differs", "6"), ("extra", "9999"), ("missing", "5")], t["differences"]
assert t["keys_differing"] == 3, t
lsn = lambda x: (lambda h, l: (int(h, 16) << 32) + int(l, 16))(*x.split(":")[0].split("/"))
# the source was read after everything the table holds was committed
assert t["source_lsn"] and lsn(t["destination_position"]) <= lsn(t["source_lsn"]), t
# the snapshot it read is the table's current one (pyiceberg's own metadata pointer)
PY
check "the reported snapshot is pyiceberg's current snapshot" "$ICEBERG_PY" - "$URI_U" "$WH" "$T/cdc.out" <<'PY'
import json, sys
from pyiceberg.catalog.sql import SqlCatalog
t = SqlCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2]).load_table("ups.public_items")
r = json.load(open(sys.argv[3]))
x = [x for x in r["tables"] if x["table"] == "public.items"][0]
assert x["destination_snapshot"] == t.current_snapshot().snapshot_id, (x, t.current_snapshot())
PY

note "pyiceberg damages the append table: id=3's last change twice, a newer d for id=1, a c for id=7777"
"$ICEBERG_PY" - "$URI_A" "$WH" <<'PY' || fail "pyiceberg could not change the append table"
import sys
import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog
t = SqlCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2]).load_table("app.public_items")
rows = t.scan().to_arrow().to_pylist()
top = max((r["_cdc_lsn"], r["_cdc_offset"]) for r in rows)
three = max((r for r in rows if r["id"] == 3), key=lambda r: (r["_cdc_lsn"], r["_cdc_offset"]))
one = dict(max((r for r in rows if r["id"] == 1), key=lambda r: (r["_cdc_lsn"], r["_cdc_offset"])))
one.update(_cdc_op="d", _cdc_lsn=top[0] + 1, _cdc_offset=top[1] + 1)
new = {k: None for k in three}
new.update(id=7777, txt="bogus", _cdc_op="c", _cdc_lsn=top[0] + 1, _cdc_offset=top[1] + 2,
           _cdc_topic=three["_cdc_topic"], _cdc_partition=0, _cdc_ts=three["_cdc_ts"])
t.append(pa.Table.from_pylist([three, one, new], schema=t.schema().as_arrow()))
PY
# shellcheck disable=SC2086
cdc $V --sink lake_a --table public.items
expect_eq "append: verify exits 4 after the damage" "$CDC_RC" 4
out=$(cat "$T/cdc.out")
printf '%s\n' "$out"
expect_contains "id=3 written twice" "$out" "id=3  extra in the destination (duplicate row"
expect_contains "id=1 deleted by the bogus row" "$out" "id=1  missing in the destination"
expect_contains "id=7777 is extra" "$out" "id=7777  extra in the destination"
expect_contains "3 keys differ" "$out" "key by key (id): 3 keys differ"
case "$out" in *pairs*) fail "--table public.items compared public.pairs too" ;; esac
ok "--table limits the comparison"

note "a source column the Iceberg table does not have (added while the agent is stopped)"
sql "ALTER TABLE pairs ADD COLUMN extra int"
# shellcheck disable=SC2086
cdc $V --sink lake_u --table public.pairs
expect_eq "a missing column: exit 4" "$CDC_RC" 4
expect_contains "the note names the column" "$(cat "$T/cdc.out")" \
    "column extra is not in the Iceberg table"

note "a namespace without the tables, a catalog that cannot be reached"
sed -e 's/table_namespace: ups/table_namespace: nope/' "$T/pipeline.yaml" >"$T/nope.yaml"
cdc verify "$T/nope.yaml" --platform-config "$T/platform.yaml" --sink lake_u --table public.items
expect_eq "a table missing in the catalog: exit 4" "$CDC_RC" 4
expect_contains "it says which table is missing" "$(cat "$T/cdc.out")" \
    "the Iceberg table nope.public_items does not exist"
DEAD=$(free_port)
sed -e "s|catalog_uri: \"$URI_U\"|catalog_uri: \"postgresql://cdc_user:s3cr3t-pw@127.0.0.1:$DEAD/cdc_demo\"|" \
    "$T/pipeline.yaml" >"$T/dead.yaml"
grep -q s3cr3t-pw "$T/dead.yaml" || fail "the test could not point the catalog elsewhere"
cdc verify "$T/dead.yaml" --platform-config "$T/platform.yaml" --sink lake_u
expect_eq "a catalog that cannot be reached: exit 1" "$CDC_RC" 1
cat "$T/cdc.err"
expect_contains "the error names the sink" "$(cat "$T/cdc.err")" "lake_u"
case "$(cat "$T/cdc.out" "$T/cdc.err")" in
    *s3cr3t-pw*) fail "the catalog's password is in verify's output" ;;
esac
ok "the catalog's password is not in verify's output"
done_testing
