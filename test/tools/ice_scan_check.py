#!/usr/bin/env python3
"""Our table scan (sinks/iceberg/ice_scan, through test/tools/ice_scan_dump) against pyiceberg.

    ice_scan_check.py TABLE_WRITE SCAN_DUMP WORKDIR

pyarrow writes the data files of a 15-column table (every flat type the sink maps, NULLs,
NaN, a list column our scan leaves out) and position-delete files (file_path, pos with
Iceberg's reserved field ids); test/tools/ice_table_write (our manifest and metadata
writers) commits them in five snapshots:
  1. delete file D3 naming positions of data file C, which does not exist yet
  2. data file A (300 rows, three row groups)
  3. data file B (200 rows) and delete file D1: rows of A (one per row group), of B, and
     of a file that is not in the table
  4. delete file D2 (referenced_data_file A): the whole second row group of A, and one
     position D1 already deletes
  5. data file C (100 rows): D3's sequence number is lower, so it must not apply to C
(D3 comes first because pyiceberg 0.12 applies every row of a delete file it reads for
any data file to whichever data file the row names: with D3 at sequence number 4 it would
delete C's rows through A's and B's tasks, against the spec's sequence number rule.  As
the first snapshot it applies to no data file and pyiceberg never reads it.)
pyiceberg 0.12's StaticTable scans the table; our scan must give the same rows (every value),
each from the file and position pyarrow wrote it at; ice_scan_row of some of them must give
the same row, ice_scan_row_list the same list; a key-only scan the same keys.  A table pyiceberg writes itself (appends, a
copy-on-write delete, a column added and an int widened to long, another append) must scan
equal too.  The expected ids are also computed here from
what was written, so that pyiceberg is checked too.  Then a table whose delete manifest
holds an equality-delete file must be refused, naming it, and a data file gone from the
warehouse must be an error naming it.
Prints what it checked; exits 1 on the first difference.  With ICE_SCAN_CHECK_TAMPER=1
one of pyiceberg's values is changed before the comparison (which must then fail).
"""
import datetime as dt
import decimal
import json
import math
import os
import subprocess
import sys
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.io.pyarrow import schema_to_pyarrow
from pyiceberg.schema import Schema
from pyiceberg.table import StaticTable

TOOL, DUMP, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
UTC = dt.timezone.utc

COLUMNS = [
    {"name": "id", "oid": 23, "key": 1},
    {"name": "name", "oid": 25},
    {"name": "amount", "oid": 1700, "typmod": ((10 << 16) | 2) + 4},
    {"name": "big", "oid": 20},
    {"name": "day", "oid": 1082},
    {"name": "at", "oid": 1114},
    {"name": "ts", "oid": 1184},
    {"name": "clock", "oid": 1083},
    {"name": "flag", "oid": 16},
    {"name": "score", "oid": 701},
    {"name": "ratio", "oid": 700},
    {"name": "uid", "oid": 2950},
    {"name": "blob", "oid": 17},
    {"name": "tags", "oid": 1009, "elem_oid": 25},
    {"name": "huge", "oid": 1700, "typmod": ((40 << 16) | 0) + 4},
]


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def row(i):
    if i % 17 == 7:
        return {"id": i, **{c["name"]: None for c in COLUMNS[1:]}}
    return {
        "id": i,
        "name": ["alpha", "beta", "", "delta", "é€x \"q\"\n"][i % 5] + str(i),
        "amount": decimal.Decimal(i * 137 - 50000).scaleb(-2),
        "big": (i - 250) * 10**15 + i,
        "day": dt.date(1969, 12, 25) + dt.timedelta(days=i * 37),
        "at": dt.datetime(1969, 12, 31, 23, 0, 0) + dt.timedelta(hours=i * 5, microseconds=i),
        "ts": dt.datetime(2017, 11, 16, 22, 31, 8, tzinfo=UTC) + dt.timedelta(hours=9 * i, microseconds=3 * i),
        "clock": dt.time(i % 24, (i * 7) % 60, 8, i * 11 % 1000000),
        "flag": i % 2 == 0,
        "score": float("nan") if i % 50 == 3 else i / 3.0 - 1.5,
        "ratio": float(pa.scalar(i / 7.0, pa.float32()).as_py()),
        "uid": uuid.UUID(int=(0xF79C3E09677C4BBDA4793F349CB785E7 + i * 977) % (1 << 128)),
        "blob": bytes([i % 256, 0, 255]) * (i % 4),
        "tags": ["t%d" % i, "x"] if i % 3 else [],
        "huge": str(10**39 + i),
    }


def run(*args, ok=True):
    p = subprocess.run(list(args), capture_output=True, text=True)
    if ok and p.returncode != 0:
        fail("%s failed: %s" % (" ".join(args[:2]), p.stderr.strip()))
    return p


loc_dir = os.path.join(WORK, "warehouse", "db", "t")
data_dir = os.path.join(loc_dir, "data")
os.makedirs(data_dir, exist_ok=True)
base = {"location": "file://" + loc_dir, "columns": COLUMNS, "partition_by": [], "snapshots": []}
with open(os.path.join(WORK, "in.json"), "w") as f:
    json.dump(base, f)
schema = Schema.model_validate_json(run(TOOL, "schema", os.path.join(WORK, "in.json")).stdout)
arrow_schema = schema_to_pyarrow(schema)


def to_arrow(rows):
    cols = {}
    for f in arrow_schema:
        vals = [r[f.name] for r in rows]
        if f.name == "uid":
            vals = [v.bytes if v is not None else None for v in vals]
        cols[f.name] = vals
    return pa.Table.from_pydict(cols, schema=arrow_schema)


def write_data(name, ids, row_group_size):
    path = os.path.join(data_dir, name + ".parquet")
    pq.write_table(to_arrow([row(i) for i in ids]), path, row_group_size=row_group_size,
                   compression="zstd")
    return {"content": 0, "path": "file://" + path, "size": os.path.getsize(path),
            "records": len(ids)}


DEL_SCHEMA = pa.schema([
    pa.field("file_path", pa.string(), nullable=False,
             metadata={b"PARQUET:field_id": b"2147483546"}),
    pa.field("pos", pa.int64(), nullable=False, metadata={b"PARQUET:field_id": b"2147483545"}),
])


def write_deletes(name, pairs, ref=None):
    pairs = sorted(pairs)
    path = os.path.join(data_dir, name + ".parquet")
    t = pa.Table.from_pydict({"file_path": [p for p, _ in pairs], "pos": [q for _, q in pairs]},
                             schema=DEL_SCHEMA)
    pq.write_table(t, path, row_group_size=3)   # several row groups: bounds skip some
    d = {"content": 1, "path": "file://" + path, "size": os.path.getsize(path),
         "records": len(pairs)}
    if ref:
        d["referenced_data_file"] = ref
    return d


ids_a = list(range(0, 300))
ids_b = list(range(300, 500))
ids_c = list(range(500, 600))
A = write_data("a", ids_a, 100)
B = write_data("b", ids_b, 1000)
C_path = "file://" + os.path.join(data_dir, "c.parquet")
del_a1 = [0, 5, 150, 299]
del_b = [1, 2]
del_a2 = list(range(100, 200)) + [5]
del_c = [0, 1]
D1 = write_deletes("d1", [(A["path"], p) for p in del_a1] + [(B["path"], p) for p in del_b]
                   + [("file:///nowhere/x.parquet", 3)])
D2 = write_deletes("d2", [(A["path"], p) for p in del_a2], ref=A["path"])
D3 = write_deletes("d3", [(C_path, p) for p in del_c])
C = write_data("c", ids_c, 40)

spec = dict(base)
spec["snapshots"] = [
    {"summary": {"step": "1"}, "files": [D3]},
    {"summary": {"step": "2"}, "files": [A]},
    {"summary": {"step": "3"}, "files": [B, D1]},
    {"summary": {"step": "4"}, "files": [D2]},
    {"summary": {"step": "5"}, "files": [C]},
]
with open(os.path.join(WORK, "in.json"), "w") as f:
    json.dump(spec, f)
meta = run(TOOL, "write", os.path.join(WORK, "in.json")).stdout.strip()
print("metadata:", meta)

deleted_a = set(del_a1) | set(del_a2)
expect = {}
for pos, i in enumerate(ids_a):
    if pos not in deleted_a:
        expect[i] = (A["path"], pos)
for pos, i in enumerate(ids_b):
    if pos not in del_b:
        expect[i] = (B["path"], pos)
for pos, i in enumerate(ids_c):
    expect[i] = (C["path"], pos)            # D3 is older than C: nothing deleted


def text(v, name):
    """pyiceberg's value in ice_scan_dump's form."""
    if v is None or isinstance(v, (bool, int, str)) and name not in ("uid", "blob"):
        return v
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        return v
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(UTC)
        return "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (v.year, v.month, v.day, v.hour, v.minute,
                                                        v.second, v.microsecond)
    if isinstance(v, dt.date):
        return "%04d-%02d-%02d" % (v.year, v.month, v.day)
    if isinstance(v, dt.time):
        return "%02d:%02d:%02d.%06d" % (v.hour, v.minute, v.second, v.microsecond)
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, (bytes, bytearray)):
        return str(uuid.UUID(bytes=bytes(v))) if name == "uid" else bytes(v).hex()
    return v


table = StaticTable.from_metadata(meta)
pyi = table.scan().to_arrow().to_pylist()
pyi_rows = {r["id"]: {k: text(v, k) for k, v in r.items() if k != "tags"} for r in pyi}
if set(pyi_rows) != set(expect):
    fail("pyiceberg's ids differ from the expected ones: %d vs %d rows, missing %s, extra %s"
         % (len(pyi_rows), len(expect), sorted(set(expect) - set(pyi_rows))[:10],
            sorted(set(pyi_rows) - set(expect))[:10]))
print("pyiceberg: %d live rows, as expected from the deletes written" % len(pyi_rows))
if os.environ.get("ICE_SCAN_CHECK_TAMPER"):     # the test shows the check can fail
    pyi_rows[2]["amount"] = "1.00"

out = run(DUMP, "rows", meta).stdout.splitlines()
stats = json.loads(out[-1])["stats"]
ours = [json.loads(x) for x in out[:-1]]
print("ice_scan stats:", stats)
if stats != {"data_files": 3, "delete_files": 3, "rows": len(expect),
             "deleted": len(deleted_a) + len(del_b)}:
    fail("stats %s" % stats)
seen = set()
for o in ours:
    i = o["row"]["id"]
    if i in seen:
        fail("id %d twice" % i)
    seen.add(i)
    if i not in pyi_rows:
        fail("our scan has id %d, pyiceberg does not" % i)
    if (o["file"], o["pos"]) != expect[i]:
        fail("id %d at %s:%d, written at %s:%d" % (i, o["file"], o["pos"], *expect[i]))
    want = pyi_rows[i]
    if o["row"] != want:
        diff = {k: (o["row"].get(k), want.get(k)) for k in set(o["row"]) | set(want)
                if o["row"].get(k) != want.get(k)}
        fail("id %d: ours != pyiceberg's: %s" % (i, diff))
if seen != set(pyi_rows):
    fail("our scan lacks ids %s" % sorted(set(pyi_rows) - seen)[:10])
print("ice_scan_rows: %d rows equal to pyiceberg's, every value, file and position" % len(seen))

# ice_scan_row: whole rows by (file, pos)
picked = [o for o in ours if o["row"]["id"] in (1, 7, 201, 299 - 1, 303, 499, 500, 501, 599)]
for o in picked:
    r = json.loads(run(DUMP, "row", meta, o["file"], str(o["pos"])).stdout)["row"]
    if r != pyi_rows[o["row"]["id"]]:
        fail("ice_scan_row %s:%d != pyiceberg's row %d" % (o["file"], o["pos"], o["row"]["id"]))
print("ice_scan_row: %d rows equal to pyiceberg's" % len(picked))
# ice_scan_row_list: the list column (tags) of every row, against pyiceberg's
tags_id = schema.find_field("tags").field_id
pyi_tags = {r["id"]: r["tags"] for r in pyi}
for o in ours[:60] + ours[-20:]:
    got = json.loads(run(DUMP, "list", meta, o["file"], str(o["pos"]), str(tags_id)).stdout)["list"]
    if got != pyi_tags[o["row"]["id"]]:
        fail("ice_scan_row_list %s:%d: %r, pyiceberg %r" % (o["file"], o["pos"], got,
                                                            pyi_tags[o["row"]["id"]]))
print("ice_scan_row_list: 80 lists (null, empty, two strings) equal to pyiceberg's")
p = run(DUMP, "row", meta, A["path"], "300", ok=False)
if p.returncode == 0 or "has no row 300" not in p.stderr:
    fail("ice_scan_row past the end: %s" % p.stderr)

# a key-only scan (what the sink's key index rebuild reads)
key_id = schema.find_field("id").field_id
keys = run(DUMP, "keys", meta, str(key_id)).stdout.splitlines()[:-1]
got = sorted(json.loads(x)["row"]["id"] for x in keys)
if got != sorted(pyi_rows):
    fail("key scan differs")
print("key scan: %d keys" % len(got))

# a table pyiceberg writes itself (its Parquet files, manifests and metadata, through its
# SqlCatalog on SQLite): three appends, a delete (copy-on-write in 0.12: files rewritten,
# entries DELETED and EXISTING), a schema change (a column added, int widened to long),
# an append after it; our scan of every field must equal pyiceberg's scan
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.expressions import In
from pyiceberg.types import LongType, StringType

pw = os.path.join(WORK, "pyiceberg")
os.makedirs(pw, exist_ok=True)
cat = SqlCatalog("c", uri="sqlite:///" + os.path.join(pw, "cat.db"), warehouse="file://" + pw)
cat.create_namespace("db")
psch = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("name", pa.string()),
                  pa.field("n", pa.int32()), pa.field("amount", pa.decimal128(12, 3)),
                  pa.field("at", pa.timestamp("us")), pa.field("flag", pa.bool_()),
                  pa.field("score", pa.float64()), pa.field("blob", pa.binary())])


def prow(i):
    if i % 11 == 4:
        return {"id": i, "name": None, "n": None, "amount": None, "at": None, "flag": None,
                "score": None, "blob": None}
    return {"id": i, "name": "p%d" % i, "n": i * 3 - 100, "amount": decimal.Decimal(i * 7919 - 99999).scaleb(-3),
            "at": dt.datetime(2024, 2, 29, 12, 0) + dt.timedelta(minutes=i * 13, microseconds=i),
            "flag": i % 3 == 0, "score": i * 0.25, "blob": bytes([i % 256]) * (i % 3)}


pt = cat.create_table("db.p", schema=psch)
for lo, hi in ((0, 40), (40, 90), (90, 100)):
    pt.append(pa.Table.from_pylist([prow(i) for i in range(lo, hi)], schema=psch))
pt.delete(In("id", [3, 41, 42, 95]))
with pt.update_schema() as u:
    u.add_column("extra", StringType())
    u.update_column("n", LongType())
pt = cat.load_table("db.p")
psch2 = pt.schema().as_arrow()
more = []
for i in range(100, 120):
    r = prow(i)
    r["extra"] = "x%d" % i
    more.append(r)
pt.append(pa.Table.from_pylist(more, schema=psch2))
pt = cat.load_table("db.p")
pmeta = pt.metadata_location
want = {r["id"]: {k: text(v, k) for k, v in r.items()} for r in pt.scan().to_arrow().to_pylist()}
out = run(DUMP, "rows", pmeta).stdout.splitlines()
pstats = json.loads(out[-1])["stats"]
got = {}
for x in out[:-1]:
    o = json.loads(x)
    if o["row"]["id"] in got:
        fail("pyiceberg's table: id %d twice" % o["row"]["id"])
    got[o["row"]["id"]] = o["row"]
if set(got) != set(want) or len(want) != 116:
    fail("pyiceberg's table: ids differ (ours %d, pyiceberg %d)" % (len(got), len(want)))
for i, w in want.items():
    if got[i] != w:
        diff = {k: (got[i].get(k), w.get(k)) for k in set(got[i]) | set(w) if got[i].get(k) != w.get(k)}
        fail("pyiceberg's table: id %d differs: %s" % (i, diff))
print("pyiceberg's own table (appends, a copy-on-write delete, int widened to long, a column "
      "added): %d rows equal, %d data files" % (len(got), pstats["data_files"]))

# equality deletes: refused
eq_path = os.path.join(data_dir, "eq.parquet")
pq.write_table(pa.table({"id": pa.array([1], pa.int32())}), eq_path)
spec2 = dict(base)
spec2["location"] = "file://" + os.path.join(WORK, "warehouse", "db", "eq")
os.makedirs(os.path.join(WORK, "warehouse", "db", "eq"), exist_ok=True)
spec2["snapshots"] = [{"summary": {}, "files": [A]},
                      {"summary": {}, "files": [{"content": 2, "path": "file://" + eq_path,
                                                 "size": os.path.getsize(eq_path),
                                                 "records": 1}]}]
with open(os.path.join(WORK, "eq.json"), "w") as f:
    json.dump(spec2, f)
p = run(TOOL, "write", os.path.join(WORK, "eq.json"), ok=False)
if p.returncode == 0:
    meta2 = p.stdout.strip()
    p = run(DUMP, "rows", meta2, ok=False)
    if p.returncode == 0 or "equality deletes" not in p.stderr or "eq.parquet" not in p.stderr:
        fail("equality deletes not refused: %s" % p.stderr)
    print("equality deletes refused:", p.stderr.strip())
else:
    print("note: ice_table_write cannot write an equality-delete entry:", p.stderr.strip())
# a data file gone from the warehouse: an error naming it
os.rename(os.path.join(data_dir, "c.parquet"), os.path.join(data_dir, "c.moved"))
p = run(DUMP, "rows", meta, ok=False)
os.rename(os.path.join(data_dir, "c.moved"), os.path.join(data_dir, "c.parquet"))
if p.returncode == 0 or "c.parquet" not in p.stderr:
    fail("a missing data file was not an error naming it: %s" % p.stderr)
print("missing data file:", p.stderr.strip())
print("ice_scan_check: OK")
