#!/usr/bin/env bash
# 690: Spark, the second engine (pyspark 3.5.6 with Iceberg's own Java runtime 1.10.0,
# test/lib/spark.sh), and pyiceberg 0.12 (the platform's reader) read the same tables alike;
# no agent.
# - pyiceberg writes a table through its SqlCatalog on SQLite (catalog_uri sqlite:////...,
#   catalog "default", identity-partitioned): two appends, a delete and an overwrite, with
#   long, int, float, double, boolean, string, decimal(12,3), decimal(38,10), date, timestamp,
#   timestamptz, uuid, binary, list<string> and NULLs; test/tools/spark_read.py (Spark over
#   Iceberg's JdbcCatalog) and test/tools/iceberg_read.py (pyiceberg) print the same lines,
#   and both equal the rows the writer expects from what it wrote (computed without reading).
# - the same on PostgreSQL (catalog_uri postgresql://user:pw@host:port/db, this test's
#   PostgreSQL 15) and on Iceberg's own REST catalog server (test/lib/iceberg_rest.sh).
# - Spark writes a merge-on-read table (format v2, write.delete.mode and write.update.mode
#   merge-on-read): INSERT, DELETE, UPDATE -> position-delete files and no equality delete in
#   the snapshot summaries; pyiceberg reads the rows Spark reads, equal to the expectation:
#   pyiceberg applies position deletes (the sink's upsert relies on it).
# - a table whose metadata our C code wrote (test/tools/ice_table_write: schema from PostgreSQL
#   columns, bucket(4, id) + day(ts) partitions, manifests with column bounds, a
#   position-delete file; Parquet by pyarrow), registered in the catalog by pyiceberg: Spark
#   reads the rows pyiceberg reads and the writer expects, and Spark's filtered queries (which
#   prune files by our partition values and bounds) find exactly the rows they should.
# - a time column: Spark 3.5's Iceberg runtime cannot read the table at all ("Spark does not
#   support time fields"), spark_read says so (exit 4); a missing table: exit 3.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/spark.sh"
. "$CDC_SRC/test/lib/iceberg_rest.sh"

t0_all=$(date +%s)
spark_install || fail "could not install pyspark / the Iceberg Spark runtime (see above)"
ok "pyspark $("$ICEBERG_PY" -c 'import pyspark; print(pyspark.__version__)') and $(cd "$SPARK_JARS_DIR" && ls ./*.jar | tr '\n' ' ')in $(($(date +%s) - t0_all)) s; JAVA_HOME=$JAVA_HOME"

RT=$T/rest
trap '_rc=$?; icerest_kill "$RT" >/dev/null 2>&1; set +e; (exit $_rc); _cleanup' EXIT

# pyiceberg's side: writes NS.TABLE with every type through the catalog of URI (SQLite,
# PostgreSQL or REST) and prints the rows it expects to be there, rendered as iceberg_read.py
# renders them, sorted by id: computed from what it wrote, not read back.
cat >"$T/write_types.py" <<'PY'
import datetime as dt, decimal, json, os, sys, uuid
sys.path.insert(0, os.path.join(os.environ["CDC_SRC"], "test", "tools"))
from iceberg_read import plain
import pyarrow as pa
from pyiceberg.expressions import In
from pyiceberg.io.pyarrow import schema_to_pyarrow
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import IdentityTransform
from pyiceberg.types import (BinaryType, BooleanType, DateType, DecimalType, DoubleType,
                             FloatType, IntegerType, ListType, LongType, NestedField,
                             StringType, TimestampType, TimestamptzType, UUIDType)
uri, wh, name, table = sys.argv[1:5]
if uri.startswith("http"):
    from pyiceberg.catalog.rest import RestCatalog
    cat = RestCatalog(name, uri=uri)
else:
    from pyiceberg.catalog.sql import SqlCatalog
    cat = SqlCatalog(name, uri=uri, warehouse=wh)
cat.create_namespace_if_not_exists(table.split(".")[0])
schema = Schema(
    NestedField(1, "id", LongType(), required=True), NestedField(2, "i", IntegerType()),
    NestedField(3, "f", FloatType()), NestedField(4, "d", DoubleType()),
    NestedField(5, "b", BooleanType()), NestedField(6, "s", StringType()),
    NestedField(7, "dec", DecimalType(12, 3)), NestedField(8, "dec38", DecimalType(38, 10)),
    NestedField(9, "dt", DateType()), NestedField(10, "ts", TimestampType()),
    NestedField(11, "tstz", TimestamptzType()), NestedField(12, "u", UUIDType()),
    NestedField(13, "bin", BinaryType()),
    NestedField(14, "tags", ListType(15, StringType(), element_required=False)),
    identifier_field_ids=[1])
spec = PartitionSpec(PartitionField(source_id=5, field_id=1000, transform=IdentityTransform(),
                                    name="b"))
t = cat.create_table(table, schema=schema, partition_spec=spec)
asch = schema_to_pyarrow(t.schema())


def row(k):
    return {"id": k, "i": k * 7 - 20, "f": k / 4, "d": k * 1.1, "b": k % 2 == 0,
            "s": "row %d é\n\"q\"" % k, "dec": decimal.Decimal("%d.%03d" % (k * 100 - 150, k)),
            "dec38": decimal.Decimal("-1234567890123456789012345678.%010d" % k),
            "dt": dt.date(1969, 12, 25) + dt.timedelta(days=k * 40),
            "ts": dt.datetime(2024, 2, 29, 23, 59, 59, 999999) + dt.timedelta(hours=k),
            "tstz": dt.datetime(1969, 12, 31, 23, 0, tzinfo=dt.timezone.utc)
            + dt.timedelta(minutes=k * 77, microseconds=k),
            "u": uuid.UUID(int=k * 0x1000100010001 + 0x12345678), "bin": bytes([k, 0, 255, 10]),
            "tags": ["a%d" % k, None, ""] if k % 3 else []}


def nulls(k):
    return {c: (k if c == "id" else None) for c in row(1)}


want = {k: row(k) for k in range(1, 11)}
want[11] = nulls(11)
t.append(pa.Table.from_pylist(list(want.values()), schema=asch))
more = {k: row(k) for k in range(12, 21)}
t.append(pa.Table.from_pylist(list(more.values()), schema=asch))
want.update(more)
t.delete(In("id", [3, 14]))
del want[3], want[14]
over = {k: dict(row(k), s="overwritten %d" % k, tags=None) for k in (5, 6)}
t.overwrite(pa.Table.from_pylist(list(over.values()), schema=asch),
            overwrite_filter=In("id", [5, 6]))
want.update(over)
for k in sorted(want):
    print(json.dumps(plain(want[k]), sort_keys=True))
PY
export CDC_SRC

# write_types WHAT URI WH CATALOG TABLE: pyiceberg writes TABLE, $T/WHAT/want is what it
# wrote, $T/WHAT/pyiceberg what pyiceberg reads back
write_types() {
    local what=$1 uri=$2 wh=$3 cat=$4 table=$5 d=$T/$1
    mkdir -p "$d"
    "$ICEBERG_PY" "$T/write_types.py" "$uri" "$wh" "$cat" "$table" >"$d/want" ||
        fail "$what: pyiceberg could not write $table"
    iceberg_read --uri "$uri" --warehouse "$wh" --catalog "$cat" rows "$table" >"$d/pyiceberg" ||
        fail "$what: iceberg_read $table"
}

# spark WHAT URI WH CATALOG STEP...: one Spark session (spark_read.py steps), results in
# $T/WHAT/spark/
spark() {
    local what=$1 uri=$2 wh=$3 cat=$4 t1
    shift 4
    t1=$(date +%s)
    spark_read --uri "$uri" --warehouse "$wh" --catalog "$cat" steps "$T/$what/spark" "$@" \
        2>"$T/$what/spark.err" || { tail -n 20 "$T/$what/spark.err" | sed 's/^/# /'; fail "$what: Spark"; }
    note "$what: one Spark session ($# steps) in $(($(date +%s) - t1)) s"
}

# same_lines WHAT A B: files A and B are equal
same_lines() {
    if diff "$2" "$3" >"$T/diff"; then ok "$1"
    else sed 's/^/# /' "$T/diff" | head -n 20; fail "$1"; fi
}

# compare WHAT TABLE: the writer's expectation, pyiceberg's and Spark's lines are the same
compare() {
    local d=$T/$1
    expect_eq "$1: the expectation has 18 rows (2 appends of 11 + 9, 2 deleted)" "$(wc -l <"$d/want")" 18
    same_lines "$1: pyiceberg reads what was written" "$d/want" "$d/pyiceberg"
    expect_eq "$1: Spark read $2" "$(cat "$d/spark/$2.rc")" 0
    same_lines "$1: Spark reads the same lines as pyiceberg" "$d/pyiceberg" "$d/spark/$2"
}

# ---- SQLite catalog, as the platform writes catalog_uri
mkdir -p "$T/sqlite/wh"
SQ_URI=sqlite:///$T/sqlite/catalog.db
SQ_WH=file://$T/sqlite/wh
write_types sqlite "$SQ_URI" "$SQ_WH" default db.types
ops=$(iceberg_read --uri "$SQ_URI" --warehouse "$SQ_WH" snapshots db.types |
    "$ICEBERG_PY" -c 'import json,sys; print(" ".join(json.loads(l)["operation"] for l in sys.stdin))')
expect_eq "sqlite: pyiceberg's snapshots: 2 appends, the delete (files rewritten), the overwrite (the same, then its append)" \
    "$ops" "append append overwrite overwrite append"
# a time column, which Spark 3.5 cannot read
"$ICEBERG_PY" - "$SQ_URI" "$SQ_WH" <<'PY'
import datetime as dt, sys
import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.io.pyarrow import schema_to_pyarrow
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField, TimeType
t = SqlCatalog("default", uri=sys.argv[1], warehouse=sys.argv[2]).create_table(
    "db.tm", schema=Schema(NestedField(1, "id", LongType(), required=True),
                           NestedField(2, "t", TimeType())))
t.append(pa.Table.from_pylist([{"id": 1, "t": dt.time(12, 30, 1, 5)}],
                              schema=schema_to_pyarrow(t.schema())))
PY

# ---- a table whose metadata our C code wrote (test/tools/ice_table_write: schema from
# PostgreSQL columns, bucket(4, id) and day(ts) partitions, manifests with column bounds,
# manifest lists, a position-delete file), Parquet files by pyarrow, registered in the SQLite
# catalog with pyiceberg: Spark (Iceberg's Java reader, which prunes files by our partition
# values and bounds) and pyiceberg read the same rows, and Spark's filtered queries find
# exactly the rows they should.
TOOL=${CDC_BUILD:-$CDC_SRC/build}/ice_table_write
[ -x "$TOOL" ] || fail "no $TOOL: build the tree first"
mkdir -p "$T/ours"
"$ICEBERG_PY" - "$TOOL" "$T/ours" "$SQ_URI" "$SQ_WH" >"$T/ours/want" <<'PY'
import datetime as dt, decimal, json, os, subprocess, sys, uuid
sys.path.insert(0, os.path.join(os.environ["CDC_SRC"], "test", "tools"))
from iceberg_read import plain
from icecheck import UTC, columns, tool_schema, write_partitioned
import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.catalog.sql import SqlCatalog
TOOL, WORK, URI, WH = sys.argv[1:5]
# PostgreSQL columns: int4 key, text, numeric(10,2), int8, date, timestamp, timestamptz, bool,
# float8, uuid, text[]
COLUMNS = columns(without=("clock", "ratio", "blob", "huge"))


def row(i):
    if i == 7:
        return {"id": i, **{c["name"]: None for c in COLUMNS[1:]}}
    return {"id": i, "name": ["alpha", "beta", "gamma", "delta", "é€x"][i % 5] + str(i),
            "amount": decimal.Decimal(i * 137 - 500).scaleb(-2), "big": (i - 5) * 10**12,
            "day": dt.date(2017, 11, 14) + dt.timedelta(days=i % 3),
            "at": dt.datetime(1969, 12, 31, 23, 0, 0) + dt.timedelta(hours=i, microseconds=i),
            "ts": dt.datetime(2017, 11, 16, 22, 31, 8, tzinfo=UTC) + dt.timedelta(hours=9 * i),
            "flag": i % 2 == 0, "score": i / 3.0 - 1.5,
            "uid": uuid.UUID(int=(0xF79C3E09677C4BBDA4793F349CB785E7 + i * 977) % (1 << 128)),
            "tags": ["t%d" % i, "x"] if i % 3 else []}


def run(*args):
    return subprocess.run([TOOL, *args], check=True, capture_output=True, text=True).stdout


loc = os.path.join(WORK, "warehouse", "ours", "t")
os.makedirs(os.path.join(loc, "data"), exist_ok=True)
spec = {"location": "file://" + loc, "columns": COLUMNS,
        "partition_by": ["bucket(4, id)", "day(ts)"], "snapshots": []}
inp = os.path.join(WORK, "in.json")
json.dump(spec, open(inp, "w"))
schema, asch = tool_schema(TOOL, inp)


def write_data(rows, seq):
    return write_partitioned(rows, loc, seq, asch, [c["name"] for c in COLUMNS if c["name"] != "tags"])


rows1, rows2 = [row(i) for i in range(0, 8)], [row(i) for i in range(8, 13)]
files1, files2 = write_data(rows1, 1), write_data(rows2, 2)
victim_file = max(files1, key=lambda f: len(f["_rows"]))
victim = victim_file["_rows"][-1]
dsch = pa.schema([
    pa.field("file_path", pa.string(), nullable=False, metadata={"PARQUET:field_id": "2147483546"}),
    pa.field("pos", pa.int64(), nullable=False, metadata={"PARQUET:field_id": "2147483545"})])
dpath = os.path.join(loc, "data", "d3-0.parquet")
pq.write_table(pa.Table.from_pydict({"file_path": [victim_file["path"]],
                                     "pos": [len(victim_file["_rows"]) - 1]}, schema=dsch), dpath)
strip = lambda f: {k: v for k, v in f.items() if not k.startswith("_")}
spec["snapshots"] = [
    {"summary": {"cdc.position": "0/1:1"}, "files": [strip(f) for f in files1]},
    {"summary": {"cdc.position": "0/2:1"}, "files": [strip(f) for f in files2]},
    {"summary": {"cdc.position": "0/3:1"}, "files": [
        {"content": 1, "path": "file://" + dpath, "size": os.path.getsize(dpath), "records": 1,
         "partition_source": victim_file["partition_source"],
         "referenced_data_file": victim_file["path"], "stats": {}}]}]
json.dump(spec, open(inp, "w"))
meta = run("write", inp).strip()
cat = SqlCatalog("default", uri=URI, warehouse=WH)
cat.create_namespace_if_not_exists("ours")
cat.register_table("ours.t", meta)
want = sorted([r for r in rows1 + rows2 if r["id"] != victim["id"]], key=lambda r: r["id"])
for r in want:
    print(json.dumps(plain(r), sort_keys=True))
# what Spark's filtered queries must find (by file pruning on our bounds and partitions)
lim_amount = decimal.Decimal("5.00")
lim_ts = dt.datetime(2017, 11, 18, 0, 0, tzinfo=UTC)
filters = {
    "f_id": [r["id"] for r in want if r["id"] == 11],
    "f_amount": [r["id"] for r in want if r["amount"] is not None and r["amount"] > lim_amount],
    "f_ts": [r["id"] for r in want if r["ts"] is not None and r["ts"] >= lim_ts],
    "f_name": [r["id"] for r in want if r["name"] == "beta1"],
    "f_big": [r["id"] for r in want if r["big"] is not None and r["big"] < 0],
}
with open(os.path.join(WORK, "filters.want"), "w") as f:
    for k in sorted(filters):
        f.write("%s %s\n" % (k, " ".join(map(str, filters[k]))))
PY
iceberg_read --uri "$SQ_URI" --warehouse "$SQ_WH" rows ours.t >"$T/ours/pyiceberg"

# One Spark session (a JVM start costs about 5 s): reads db.types; writes db.mor in
# merge-on-read (format v2) with INSERT, DELETE, UPDATE, DELETE and reads it; reads db.tm and
# a missing table; reads ours.t whole and with filters.
M='`default`.db.mor'
O='`default`.ours.t'
spark sqlite "$SQ_URI" "$SQ_WH" default "rows:db.types" \
    "sql:CREATE TABLE $M (id bigint NOT NULL, name string, amount decimal(10,2), day date, ts timestamp)
     USING iceberg PARTITIONED BY (bucket(2, id))
     TBLPROPERTIES ('format-version'='2', 'write.delete.mode'='merge-on-read',
                    'write.update.mode'='merge-on-read', 'write.merge.mode'='merge-on-read')" \
    "sql:INSERT INTO $M VALUES
     (1, 'one', 1.10, DATE'2024-01-01', TIMESTAMP'2024-01-01 10:00:00'),
     (2, 'two', 2.20, DATE'2024-01-02', TIMESTAMP'2024-01-02 10:00:00'),
     (3, 'three', 3.30, NULL, NULL),
     (4, 'four', -4.40, DATE'1900-01-01', TIMESTAMP'1900-01-01 00:00:00.000001'),
     (5, 'five', 5.50, DATE'2024-02-29', TIMESTAMP'2024-02-29 23:59:59.999999'),
     (6, NULL, NULL, NULL, NULL),
     (7, 'seven', 7.00, DATE'2000-01-01', TIMESTAMP'2000-01-01 00:00:00')" \
    "sql:DELETE FROM $M WHERE id IN (2, 5)" \
    "sql:UPDATE $M SET name = 'three!', amount = amount + 1 WHERE id = 3" \
    "sql:DELETE FROM $M WHERE id = 7" \
    "rows:db.mor:id" "rows:db.tm" "rows:db.nope" "rows:ours.t" \
    "save:f_id:SELECT id FROM $O WHERE id = 11 ORDER BY id" \
    "save:f_amount:SELECT id FROM $O WHERE amount > 5.00 ORDER BY id" \
    "save:f_ts:SELECT id FROM $O WHERE ts >= TIMESTAMP'2017-11-18 00:00:00' ORDER BY id" \
    "save:f_name:SELECT id FROM $O WHERE name = 'beta1' ORDER BY id" \
    "save:f_big:SELECT id FROM $O WHERE big < 0 ORDER BY id"
compare sqlite db.types
head -n 1 "$T/sqlite/spark/db.types" | sed 's/^/# spark: /'

# The comparison can fail: one value changed in Spark's lines is found.
sed '1s/"i": -13/"i": -14/' "$T/sqlite/spark/db.types" >"$T/sqlite/spark.bad"
if diff -q "$T/sqlite/pyiceberg" "$T/sqlite/spark.bad" >/dev/null; then
    fail "a changed value went unnoticed"
fi
ok "a changed value in one reader's lines is a difference"

# ---- Spark's merge-on-read table: position deletes, read by pyiceberg
iceberg_read --uri "$SQ_URI" --warehouse "$SQ_WH" snapshots db.mor >"$T/mor.snaps"
sums=$("$ICEBERG_PY" - "$T/mor.snaps" <<'PY'
import json, sys
snaps = [json.loads(l) for l in open(sys.argv[1])]
pos = sum(int(s["summary"].get("added-position-delete-files", "0")) for s in snaps)
eq = sum(int(s["summary"].get("added-equality-delete-files", "0")) for s in snaps)
cur = [s for s in snaps if s["current"]][0]["summary"]
print("ops=%s position-delete-files>0=%s equality-delete-files=%d total-equality-deletes=%s"
      % (",".join(s["operation"] for s in snaps), pos > 0, eq, cur["total-equality-deletes"]))
PY
)
note "db.mor: $sums"
expect_contains "Spark's deletes are position deletes, none of them equality deletes" "$sums" \
    "position-delete-files>0=True equality-delete-files=0 total-equality-deletes=0"
cat >"$T/mor.want" <<'EOF'
{"amount": "1.10", "day": "2024-01-01", "id": 1, "name": "one", "ts": "2024-01-01T10:00:00+00:00"}
{"amount": "4.30", "day": null, "id": 3, "name": "three!", "ts": null}
{"amount": "-4.40", "day": "1900-01-01", "id": 4, "name": "four", "ts": "1900-01-01T00:00:00.000001+00:00"}
{"amount": null, "day": null, "id": 6, "name": null, "ts": null}
EOF
iceberg_read --uri "$SQ_URI" --warehouse "$SQ_WH" rows db.mor --key id >"$T/mor.pyiceberg"
same_lines "pyiceberg applies Spark's position deletes: rows 2, 5, 7 gone, 3 updated once" \
    "$T/mor.want" "$T/mor.pyiceberg"
same_lines "Spark reads db.mor as pyiceberg does" "$T/mor.pyiceberg" "$T/sqlite/spark/db.mor"

# ---- what Spark cannot read: a time column; a missing table
expect_eq "a table with a time column: Spark cannot read it (exit 4)" \
    "$(cat "$T/sqlite/spark/db.tm.rc")" 4
expect_contains "and says why" "$(cat "$T/sqlite/spark/db.tm.err")" \
    "spark_read: db.tm: Spark cannot read it: Spark does not support time fields"
expect_eq "a missing table: exit 3" "$(cat "$T/sqlite/spark/db.nope.rc")" 3
expect_contains "named" "$(cat "$T/sqlite/spark/db.nope.err")" "spark_read: db.nope: no such table"


# ---- ours.t: Spark reads what our code wrote
expect_eq "ours: 12 rows expected (13 written, 1 position-deleted)" "$(wc -l <"$T/ours/want")" 12
same_lines "ours: pyiceberg reads the table our code wrote as written" "$T/ours/want" "$T/ours/pyiceberg"
expect_eq "ours: Spark read ours.t" "$(cat "$T/sqlite/spark/ours.t.rc")" 0
same_lines "ours: Spark reads it as pyiceberg does (the position delete applied)" \
    "$T/ours/pyiceberg" "$T/sqlite/spark/ours.t"
for f in f_amount f_big f_id f_name f_ts; do
    "$ICEBERG_PY" -c 'import json,sys; print(sys.argv[1], " ".join(str(json.loads(l)["id"]) for l in open(sys.argv[2])))' \
        "$f" "$T/sqlite/spark/$f"
done >"$T/ours/filters.spark"
sed 's/^/# /' "$T/ours/filters.spark"
same_lines "ours: Spark's filtered queries (id, amount, ts, name, big) find exactly their rows" \
    "$T/ours/filters.want" "$T/ours/filters.spark"

# ---- PostgreSQL catalog
pg_up
mkdir -p "$T/pgcat/wh"
PG_URI=$(iceberg_pg_uri "$PORT")
write_types postgresql "$PG_URI" "file://$T/pgcat/wh" lake lake_ns.types
spark postgresql "$PG_URI" "file://$T/pgcat/wh" lake "rows:lake_ns.types"
compare postgresql lake_ns.types
if grep -rq cdc_password "$T/postgresql/spark.err"; then fail "the catalog password is in Spark's messages"; fi
ok "the catalog password is in none of Spark's messages"

# ---- Iceberg's REST catalog server
icerest_start "$RT" "$(free_port)" || fail "the REST catalog server did not start"
write_types rest "$ICEREST_URL" "" rest cdc.types
spark rest "$ICEREST_URL" "" rest "rows:cdc.types"
compare rest cdc.types
icerest_stop "$RT"

note "690 ran in $(($(date +%s) - t0_all)) s"
done_testing
