#!/usr/bin/env bash
# 645: commits built by sinks/iceberg/ice_commit.c (driven by test/tools/ice_commit_drive:
# Parquet data files written with parquet.h, position-delete files with ice_posdel, a column
# added), read by pyiceberg 0.12 through the same catalog: the SQL catalog on SQLite and on
# PostgreSQL (SqlCatalog), and Iceberg's own REST catalog server (RESTCatalogServer, RestCatalog).
# Each backend: create (again: exists); two appends; position deletes on rows of both files;
# pyiceberg's own append after ours and ours after pyiceberg's; races (pyiceberg commits
# between our load and our commit: ours reloads and rebuilds on top; on SQL also the other way
# round: pyiceberg retries on top of ours); a column added; a row with it.  Then
# pyiceberg's scan equals the expected rows (deleted rows gone, nothing twice), every snapshot
# is there with its parent, sequence number and operation, and ours carry the summary pairs.
# pyarrow reads a position-delete file directly (reserved field ids, sorted rows).  Manifests
# merged as Java's MergeAppend merges them, another writer's entries included.  Last, an
# s3:// warehouse (moto's server): manifests, lists and metadata through the S3 store, read by
# pyiceberg from S3.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/iceberg.sh"
. "$CDC_SRC/test/lib/iceberg_rest.sh"

. "$CDC_SRC/test/lib/moto.sh"

RDIR=$T/rest MDIR=$T/moto
trap '_rc=$?; icerest_kill "$RDIR" >/dev/null 2>&1; moto_kill "$MDIR" >/dev/null 2>&1; set +e; (exit $_rc); _cleanup' EXIT

BUILD=${CDC_BUILD:-$(dirname "$CDCAGENT")}
DRIVE=$BUILD/ice_commit_drive
[ -x "$DRIVE" ] || fail "no $DRIVE: build the tree first"
iceberg_install || fail "could not install pyiceberg $ICEBERG_VERSION (see above)"
ok "pyiceberg $("$ICEBERG_PY" -c 'import pyiceberg; print(pyiceberg.__version__)')"
export ICE_CATALOG_NAME=lake

# rows_sql URI WH: the table's rows as pyiceberg's SqlCatalog scans them, "id:name:age" joined by ' '
rows_sql() {
    iceberg_read --uri "$1" --warehouse "$2" --catalog lake rows db.items --key id |
        "$ICEBERG_PY" -c 'import json,sys
print(" ".join("%s:%s:%s" % (r["id"], r.get("name"), r.get("age")) for r in map(json.loads, sys.stdin)))'
}
snaps_sql() { iceberg_read --uri "$1" --warehouse "$2" --catalog lake snapshots db.items; }

# check_history SNAPSHOT_JSON_LINES EXPECTED_OPS: the chain is whole (each parent the one before,
# sequence numbers 1..n, the last current), operations as expected, and every snapshot of ours
# (cdc.position set) has the position we gave it
check_history() {
    "$ICEBERG_PY" - "$1" "$2" <<'PY'
import json, sys
snaps = [json.loads(l) for l in sys.argv[1].splitlines() if l.strip()]
ops = sys.argv[2].split()
assert [s["operation"] for s in snaps] == ops, ([s["operation"] for s in snaps], ops)
prev = None
for i, s in enumerate(snaps):
    assert s["parent_id"] == prev, (i, s, prev)
    assert s["sequence_number"] == i + 1, (i, s)
    prev = s["snapshot_id"]
assert snaps[-1]["current"], snaps[-1]
pos = [s["summary"].get("cdc.position") for s in snaps]
assert pos == ["0/100", "0/200", "0/300", None, "0/500", "0/600", None, None, "0/650", "0/700"], pos
# totals as Java writes them, carried over pyiceberg's snapshot
last = snaps[-1]["summary"]
assert int(last["total-position-deletes"]) == 3, last
PY
}

run_sql_backend() {
    local be=$1 uri=$2 wh=$3
    local loc=$wh/db/items d=$wh/db/items/data out
    note "---- $be: ${uri/:cdc_password@/:***@}"
    mkdir -p "${wh#file://}"
    c() { "$DRIVE" "$uri" "$@"; }

    expect_eq "$be: create" "$(c create db items "$loc")" "created"
    expect_eq "$be: create again: exists" "$(c create db items "$loc")" "exists"
    out=$(c append db items "$d/f1.parquet" '[{"id":1,"name":"one"},{"id":2,"name":"two"},{"id":3,"name":"three"},{"id":4,"name":"four"}]' cdc.position=0/100 cdc.pipeline=p645)
    expect_contains "$be: append 1" "$out" "seq=1 op=append"
    c append db items "$d/f2.parquet" '[{"id":5,"name":"five"},{"id":6,"name":"six"},{"id":7,"name":"seven"}]' cdc.position=0/200 >/dev/null
    expect_eq "$be: pyiceberg scans both files" "$(rows_sql "$uri" "$wh")" \
        "1:one:None 2:two:None 3:three:None 4:four:None 5:five:None 6:six:None 7:seven:None"
    # rows 2 and 4 of f1 (positions 1, 3) and 5 of f2 (position 0)
    out=$(c delete db items "$d/del1.parquet" "$d/f1.parquet:3,1" "$d/f2.parquet:0" cdc.position=0/300)
    expect_contains "$be: position deletes: a delete snapshot" "$out" "seq=3 op=delete"
    expect_eq "$be: pyiceberg applies them" "$(rows_sql "$uri" "$wh")" \
        "1:one:None 3:three:None 6:six:None 7:seven:None"
    # interleaving writers
    iceberg_write --uri "$uri" --warehouse "$wh" --catalog lake append db.items 8 eight >/dev/null
    c append db items "$d/f3.parquet" '[{"id":9,"name":"nine"}]' cdc.position=0/500 >/dev/null
    expect_eq "$be: pyiceberg's append after ours, ours after pyiceberg's: every row" \
        "$(rows_sql "$uri" "$wh")" "1:one:None 3:three:None 6:six:None 7:seven:None 8:eight:None 9:nine:None"
    # pyiceberg loses a race to ours (ours commits between its load and its swap) and retries
    iceberg_write --uri "$uri" --warehouse "$wh" --catalog lake append db.items 11 eleven \
        --race "'$DRIVE' '$uri' append db items '$d/f4.parquet' '[{\"id\":12,\"name\":\"twelve\"}]' cdc.position=0/600 >/dev/null" \
        >/dev/null 2>"$T/race.err"
    expect_contains "$be: pyiceberg lost the race to ours and retried" "$(cat "$T/race.err")" \
        "concurrent update, retrying"
    expect_eq "$be: ... both rows there" "$(rows_sql "$uri" "$wh")" \
        "1:one:None 3:three:None 6:six:None 7:seven:None 8:eight:None 9:nine:None 11:eleven:None 12:twelve:None"
    # ours loses a race to pyiceberg (it commits between our load and our swap): we rebuild
    ICE_DRIVE_RACE="'$ICEBERG_PY' '$CDC_SRC/test/tools/iceberg_write.py' --uri '$uri' --warehouse '$wh' --catalog lake append db.items 14 fourteen >/dev/null" \
        c append db items "$d/f6.parquet" '[{"id":15,"name":"fifteen"}]' cdc.position=0/650 >/dev/null 2>"$T/race2.err"
    expect_eq "$be: ours lost the race to pyiceberg and rebuilt on top" "$(cat "$T/race2.err")" "attempts 2"
    expect_eq "$be: ... both rows there" "$(rows_sql "$uri" "$wh")" \
        "1:one:None 3:three:None 6:six:None 7:seven:None 8:eight:None 9:nine:None 11:eleven:None 12:twelve:None 14:fourteen:None 15:fifteen:None"
    # a column added, then a row with it
    c addcol db items age int >/dev/null
    c append db items "$d/f5.parquet" '[{"id":13,"name":"thirteen","age":30}]' cdc.position=0/700 >/dev/null
    expect_eq "$be: the new column: null in old rows, set in the new one" "$(rows_sql "$uri" "$wh")" \
        "1:one:None 3:three:None 6:six:None 7:seven:None 8:eight:None 9:nine:None 11:eleven:None 12:twelve:None 13:thirteen:30 14:fourteen:None 15:fifteen:None"
    expect_eq "$be: our snapshot names schema 1" "$(c snapshot db items | cut -d' ' -f2-)" "10 1 append"
    check "$be: history: 10 snapshots chained, operations, our positions, totals" \
        check_history "$(snaps_sql "$uri" "$wh")" "append append delete append append append append append append append"
    check "$be: the summary keeps the pipeline pair of the first commit" \
        "$ICEBERG_PY" -c 'import json,sys; s=json.loads(sys.argv[1].splitlines()[0]); assert s["summary"]["cdc.pipeline"]=="p645", s' \
        "$(snaps_sql "$uri" "$wh")"
}

run_sql_backend sqlite "sqlite:///$T/catalog.db" "file://$T/wh-sqlite"

# pyarrow reads a position-delete file directly
check "pyarrow: the delete file's columns, field ids and sorted rows" \
    "$ICEBERG_PY" - "$T/wh-sqlite/db/items/data/del1.parquet" "file://$T/wh-sqlite/db/items/data" <<'PY'
import sys, pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
f = t.schema
assert f.names == ["file_path", "pos"], f.names
assert f.field("file_path").metadata[b"PARQUET:field_id"] == b"2147483546", f
assert f.field("pos").metadata[b"PARQUET:field_id"] == b"2147483545", f
d = sys.argv[2]
rows = list(zip(t.column("file_path").to_pylist(), t.column("pos").to_pylist()))
assert rows == [(d + "/f1.parquet", 1), (d + "/f1.parquet", 3), (d + "/f2.parquet", 0)], rows
PY

# A partitioned table (identity(name), bucket(2, id)): pyiceberg prunes by our manifests'
# partition tuples and the lists' partition summaries; a filtered scan that loses a row means a
# wrong tuple or summary.  The position-delete file carries its data file's partition.
P="sqlite:///$T/catalog.db" PW=file://$T/wh-sqlite PD=file://$T/wh-sqlite/db/parts/data
expect_eq "partitioned: create" "$("$DRIVE" "$P" create db parts "$PW/db/parts" name "bucket(2, id)")" created
"$DRIVE" "$P" append db parts "$PD/a1.parquet" '[{"id":1,"name":"a"}]' cdc.position=0/1 >/dev/null
"$DRIVE" "$P" append db parts "$PD/a2.parquet" '[{"id":2,"name":"a"}]' cdc.position=0/2 >/dev/null
"$DRIVE" "$P" append db parts "$PD/b3.parquet" '[{"id":3,"name":"b"}]' cdc.position=0/3 >/dev/null
"$DRIVE" "$P" append db parts "$PD/b4.parquet" '[{"id":4,"name":"b"}]' cdc.position=0/4 >/dev/null
out=$("$DRIVE" "$P" delete db parts "$PD/del-b3.parquet" 'part:{"id":3,"name":"b"}' "$PD/b3.parquet:0" cdc.position=0/5)
expect_contains "partitioned: a position delete" "$out" "op=delete"
check "partitioned: pyiceberg's filtered scans find every row in its partition, the deleted one gone" \
    "$ICEBERG_PY" - "$P" "$PW" <<'PY'
import sys
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.expressions import EqualTo
t = SqlCatalog("lake", uri=sys.argv[1], warehouse=sys.argv[2]).load_table("db.parts")
assert [f.name for f in t.spec().fields] == ["name", "id_bucket"], t.spec()
ids = lambda f: sorted(r["id"] for r in t.scan(row_filter=f).to_arrow().to_pylist())
assert ids(EqualTo("name", "a")) == [1, 2], ids(EqualTo("name", "a"))
assert ids(EqualTo("name", "b")) == [4], ids(EqualTo("name", "b"))
for i in (1, 2, 4):
    assert ids(EqualTo("id", i)) == [i], (i, ids(EqualTo("id", i)))
assert ids(EqualTo("id", 3)) == [], ids(EqualTo("id", 3))
assert ids(EqualTo("name", "c")) == []
parts = {r["file_path"].rsplit("/", 1)[1]: (r["partition"]["name"], r["partition"]["id_bucket"], r["content"])
         for r in t.inspect.files().to_pylist()}
assert parts["del-b3.parquet"][:2] == parts["b3.parquet"][:2] and parts["del-b3.parquet"][2] == 1, parts
from pyiceberg.transforms import BucketTransform
from pyiceberg.types import LongType
bucket = BucketTransform(2).transform(LongType())
for name, i in (("a", 1), ("a", 2), ("b", 3), ("b", 4)):
    assert parts["%s%d.parquet" % (name, i)] == (name, bucket(i), 0), (name, i, parts)
PY

# Manifests merged (commit.manifest.min-count-to-merge=3, as Java's MergeAppend): ours, then
# pyiceberg's append, a position delete, more of ours; the merged manifests carry pyiceberg's
# entries too, with their sequence numbers and bounds: pyiceberg's filtered scans (pruning by
# our rewritten bounds) find every row, the deleted one is gone, few manifests are left.
MD=$PW/db/merged/data
expect_eq "merge: create" "$("$DRIVE" "$P" create db merged "$PW/db/merged" commit.manifest.min-count-to-merge=3)" created
for i in 1 2; do
    "$DRIVE" "$P" append db merged "$MD/m$i.parquet" "[{\"id\":$i,\"name\":\"n$i\"},{\"id\":$((i + 10)),\"name\":\"n$((i + 10))\"}]" cdc.position=0/$i >/dev/null
done
iceberg_write --uri "$P" --warehouse "$PW" --catalog lake append db.merged 3 n3 >/dev/null
"$DRIVE" "$P" delete db merged "$MD/del.parquet" "$MD/m1.parquet:1" cdc.position=0/4 >/dev/null
for i in 5 6 7; do
    "$DRIVE" "$P" append db merged "$MD/m$i.parquet" "[{\"id\":$i,\"name\":\"n$i\"}]" cdc.position=0/$i >/dev/null
done
check "merge: pyiceberg reads the merged table whole and filtered; few manifests" \
    "$ICEBERG_PY" - "$P" "$PW" <<'PY'
import sys
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.expressions import EqualTo
t = SqlCatalog("lake", uri=sys.argv[1], warehouse=sys.argv[2]).load_table("db.merged")
ids = lambda f=None: sorted(r["id"] for r in (t.scan(row_filter=f) if f else t.scan()).to_arrow().to_pylist())
assert ids() == [1, 2, 3, 5, 6, 7, 12], ids()
for i in (1, 2, 3, 5, 6, 7, 12):
    assert ids(EqualTo("id", i)) == [i], (i, ids(EqualTo("id", i)))
assert ids(EqualTo("id", 11)) == []
ms = t.current_snapshot().manifests(t.io)
data = [m for m in ms if m.content == 0]
assert len(data) <= 2, [(m.manifest_path, m.added_files_count, m.existing_files_count) for m in ms]
assert sum(m.added_files_count + m.existing_files_count for m in data) == 6, data
assert len(t.snapshots()) == 7, t.snapshots()
PY

pg_up
PGURI=$(iceberg_pg_uri "$PORT")
run_sql_backend postgresql "$PGURI" "file://$T/wh-pg"

# ---- REST: Iceberg's RESTCatalogServer, pyiceberg's RestCatalog
RPORT=$(free_port)
icerest_start "$RDIR" "$RPORT" || fail "the REST catalog server did not start"
icerest_py_env || fail "the pyiceberg venv for REST"
export ICE_REST_CREDENTIAL="cdc-client:secret-645"
U=$ICEREST_URL
note "---- rest: $U"
r() { "$DRIVE" "$U" "$@"; }
rows_rest() {
    "$ICEREST_PY" - "$U" <<'PY'
import os, sys
from pyiceberg.catalog.rest import RestCatalog
cat = RestCatalog("rest", uri=sys.argv[1], credential=os.environ["ICE_REST_CREDENTIAL"])
rows = sorted(cat.load_table("cdc.items").scan().to_arrow().to_pylist(), key=lambda r: r["id"])
print(" ".join("%s:%s:%s" % (r["id"], r.get("name"), r.get("age")) for r in rows))
PY
}
RL=file://$RDIR/warehouse/cdc/items
expect_eq "rest: create" "$(r create cdc items "$RL")" "created"
expect_eq "rest: create again: exists" "$(r create cdc items "$RL")" "exists"
out=$(r append cdc items "$RL/data/f1.parquet" '[{"id":1,"name":"one"},{"id":2,"name":"two"},{"id":3,"name":"three"}]' cdc.position=0/100)
expect_contains "rest: append" "$out" "seq=1 op=append"
r delete cdc items "$RL/data/del1.parquet" "$RL/data/f1.parquet:1" cdc.position=0/200 >/dev/null
expect_eq "rest: pyiceberg applies the position delete" "$(rows_rest)" "1:one:None 3:three:None"
"$ICEREST_PY" "$CDC_SRC/test/tools/iceberg_rest_read.py" append "$U" cdc.items 20 2 >/dev/null
r append cdc items "$RL/data/f2.parquet" '[{"id":30,"name":"thirty"}]' cdc.position=0/300 >/dev/null
expect_eq "rest: pyiceberg's append after ours, ours after pyiceberg's" "$(rows_rest)" \
    "1:one:None 3:three:None 20:row20:None 21:row21:None 30:thirty:None"
ICE_DRIVE_RACE="'$ICEREST_PY' '$CDC_SRC/test/tools/iceberg_rest_read.py' append '$U' cdc.items 50 1 >/dev/null" \
    r append cdc items "$RL/data/f4.parquet" '[{"id":60,"name":"sixty"}]' cdc.position=0/350 >/dev/null 2>"$T/race3.err"
expect_eq "rest: ours lost the race to pyiceberg (409) and rebuilt on top" "$(cat "$T/race3.err")" "attempts 2"
r addcol cdc items age int >/dev/null
r append cdc items "$RL/data/f3.parquet" '[{"id":40,"name":"forty","age":4}]' cdc.position=0/400 >/dev/null
expect_eq "rest: the new column, the racing rows" "$(rows_rest)" \
    "1:one:None 3:three:None 20:row20:None 21:row21:None 30:thirty:None 40:forty:4 50:row50:None 60:sixty:None"
py=$("$ICEREST_PY" "$CDC_SRC/test/tools/iceberg_rest_read.py" table "$U" cdc.items)
check "rest: pyiceberg sees 7 chained snapshots, ours with their positions, the new field" \
    "$ICEREST_PY" - "$py" <<'PY'
import json, sys
t = json.loads(sys.argv[1])
snaps = t["snapshots"]
assert [s[3] for s in snaps] == ["append", "delete", "append", "append", "append", "append", "append"], snaps
prev = None
for i, s in enumerate(snaps):
    assert s[1] == prev and s[2] == i + 1, (i, s)
    prev = s[0]
assert [s[4].get("cdc.position") for s in snaps] == ["0/100", "0/200", None, "0/300", None, "0/350", "0/400"], snaps
assert t["current_snapshot_id"] == prev, t
assert t["fields"][-1] == [3, "age", "int", False], t["fields"]
assert t["identifier_field_ids"] == [1], t
assert t["rows"] == 8, t
PY

# ---- an s3:// warehouse on moto, the SQL catalog on SQLite
MPORT=$(free_port)
moto_start "$MDIR" "$MPORT" || fail "moto did not start"
export AWS_ENDPOINT_URL_S3=$AWS_ENDPOINT_URL
unset ICE_REST_CREDENTIAL
note "---- s3: moto at $AWS_ENDPOINT_URL"
"$BUILD/ice_store_drive" mkbucket whse >/dev/null || fail "mkbucket"
S=sqlite:///$T/catalog-s3.db SL=s3://whse/db/s3t
expect_eq "s3: create" "$("$DRIVE" "$S" create db s3t "$SL")" created
"$DRIVE" "$S" append db s3t "$SL/data/f1.parquet" '[{"id":1,"name":"one"},{"id":2,"name":"two"},{"id":3,"name":"three"}]' cdc.position=0/1 >/dev/null
"$DRIVE" "$S" append db s3t "$SL/data/f2.parquet" '[{"id":4,"name":"four"}]' cdc.position=0/2 >/dev/null
out=$("$DRIVE" "$S" delete db s3t "$SL/data/del.parquet" "$SL/data/f1.parquet:1" cdc.position=0/3)
expect_contains "s3: a position delete" "$out" "seq=3 op=delete"
check "s3: pyiceberg reads the table from S3: rows, deletes applied, our metadata there" \
    "$ICEBERG_PY" - "$S" "$AWS_ENDPOINT_URL" <<'PY'
import os, sys
from pyiceberg.catalog.sql import SqlCatalog
cat = SqlCatalog("lake", uri=sys.argv[1], warehouse="s3://whse", **{
    "s3.endpoint": sys.argv[2], "s3.region": os.environ["AWS_REGION"],
    "s3.access-key-id": os.environ["AWS_ACCESS_KEY_ID"],
    "s3.secret-access-key": os.environ["AWS_SECRET_ACCESS_KEY"]})
t = cat.load_table("db.s3t")
assert t.metadata_location.startswith("s3://whse/db/s3t/metadata/00003-"), t.metadata_location
rows = sorted((r["id"], r["name"]) for r in t.scan().to_arrow().to_pylist())
assert rows == [(1, "one"), (3, "three"), (4, "four")], rows
ml = t.current_snapshot().manifest_list
assert ml.startswith("s3://whse/db/s3t/metadata/snap-"), ml
assert t.current_snapshot().summary["cdc.position"] == "0/3", t.current_snapshot().summary
PY
done_testing
