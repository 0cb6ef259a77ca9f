"""End-to-end check of sinks/iceberg's metadata with independent readers.

pyarrow writes the Parquet data files (and one position-delete file) of a
small table whose schema comes from test/tools/ice_table_write; that tool
(our C code: schema, partition spec, manifests, manifest lists, metadata
JSON) writes the table's metadata; then pyiceberg's StaticTable scans it and
reads every manifest entry, and fastavro reads the manifests and lists.
Every check compares what they read with what was written.

usage: ice_meta_check.py TOOL WORKDIR
"""
import datetime as dt
import decimal
import json
import os
import subprocess
import sys
import uuid

import fastavro
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.conversions import to_bytes
from pyiceberg.expressions import EqualTo, GreaterThan
from pyiceberg.schema import Schema
from pyiceberg.table import StaticTable
from pyiceberg.transforms import IdentityTransform
from pyiceberg.types import (BooleanType, DateType, DecimalType, DoubleType, IntegerType,
                             LongType, StringType, TimestampType, TimestamptzType, TimeType,
                             UUIDType)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from icecheck import (UTC, columns, micros, to_arrow, tool_schema,  # noqa: E402
                      write_partitioned)

TOOL, WORK = sys.argv[1], sys.argv[2]
FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what)


COLUMNS = columns(without=("ratio", "blob"))
PARTITION_BY = ["bucket(4, id)", "day(ts)"]


def row(i):
    if i == 7:      # NULLs everywhere but the key
        return {"id": i, **{c["name"]: None for c in COLUMNS[1:]}}
    return {
        "id": i,
        "name": ["alpha", "beta", "gamma", "delta", "é€x"][i % 5] + str(i),
        "amount": decimal.Decimal(i * 137 - 500).scaleb(-2),
        "big": (i - 5) * 10**12,
        "day": dt.date(2017, 11, 14) + dt.timedelta(days=i % 3),
        "at": dt.datetime(1969, 12, 31, 23, 0, 0) + dt.timedelta(hours=i, microseconds=i),
        "ts": dt.datetime(2017, 11, 16, 22, 31, 8, tzinfo=UTC) + dt.timedelta(hours=9 * i),
        "clock": dt.time(i % 24, 31, 8, i),
        "flag": i % 2 == 0,
        "score": i / 3.0 - 1.5,
        "uid": uuid.UUID(int=(0xF79C3E09677C4BBDA4793F349CB785E7 + i * 977) % (1 << 128)),
        "tags": ["t%d" % i, "x"] if i % 3 else [],
        "huge": str(10**39 + i),
    }


def run(*args):
    return subprocess.run([TOOL, *args], check=True, capture_output=True, text=True).stdout


loc_dir = os.path.join(WORK, "warehouse", "db", "t")
os.makedirs(os.path.join(loc_dir, "data"), exist_ok=True)
spec = {"location": "file://" + loc_dir, "columns": COLUMNS, "partition_by": PARTITION_BY,
        "snapshots": []}
with open(os.path.join(WORK, "in.json"), "w") as f:
    json.dump(spec, f)

# 1. the schema our code maps the columns to, read by pyiceberg
schema, arrow_schema = tool_schema(TOOL, os.path.join(WORK, "in.json"))
print("schema:", schema)
want_types = {"id": IntegerType(), "name": StringType(), "amount": DecimalType(10, 2),
              "big": LongType(), "day": DateType(), "at": TimestampType(),
              "ts": TimestamptzType(), "clock": TimeType(), "flag": BooleanType(),
              "score": DoubleType(), "uid": UUIDType(), "huge": StringType()}
for name, t in want_types.items():
    check(schema.find_field(name).field_type == t, f"type of {name}: {schema.find_field(name)}")
check(schema.identifier_field_names() == {"id"}, "identifier fields")
check(str(schema.find_field("tags").field_type) == "list<string>", "tags is list<string>")


def write_data(rows, seqno):
    """One Parquet file per partition; returns the files' descriptions and expectations
    (the bounds' values in _lo and _hi, the field id in _id)."""
    # huge: a string too long to be worth a bound, left out
    files = write_partitioned(rows, loc_dir, seqno, arrow_schema, want_types,
                              bounded=lambda name: name != "huge")
    for f in files:
        for name, st in f["stats"].items():
            nn = [r[name] for r in f["_rows"] if r[name] is not None]
            if "min" in st:
                st["_lo"], st["_hi"] = min(nn), max(nn)
            st["_id"] = schema.find_field(name).field_id
    return files


rows1 = [row(i) for i in range(0, 8)]
rows2 = [row(i) for i in range(8, 13)]
files1 = write_data(rows1, 1)
files2 = write_data(rows2, 2)

# 3. a position delete: the second row of the first file of snapshot 1
victim_file = files1[0]
victim = victim_file["_rows"][1] if len(victim_file["_rows"]) > 1 else victim_file["_rows"][0]
victim_pos = victim_file["_rows"].index(victim)
del_schema = pa.schema([
    pa.field("file_path", pa.string(), nullable=False, metadata={"PARQUET:field_id": "2147483546"}),
    pa.field("pos", pa.int64(), nullable=False, metadata={"PARQUET:field_id": "2147483545"}),
])
del_path = os.path.join(loc_dir, "data", "d3-0.parquet")
pq.write_table(pa.Table.from_pydict({"file_path": [victim_file["path"]], "pos": [victim_pos]},
                                    schema=del_schema), del_path)
del_file = {"content": 1, "path": "file://" + del_path, "size": os.path.getsize(del_path),
            "records": 1, "partition_source": victim_file["partition_source"],
            "referenced_data_file": victim_file["path"], "stats": {}}


def strip(f):
    return {k: ({c: {kk: vv for kk, vv in s.items() if not kk.startswith("_")}
                 for c, s in v.items()} if k == "stats" else v)
            for k, v in f.items() if not k.startswith("_")}


spec["snapshots"] = [
    {"summary": {"cdc.position": "0/16B3748:1"}, "files": [strip(f) for f in files1]},
    {"summary": {"cdc.position": "0/16B3800:5"}, "files": [strip(f) for f in files2]},
    {"summary": {"cdc.position": "0/16B3900:1"}, "files": [del_file]},
]
with open(os.path.join(WORK, "in.json"), "w") as f:
    json.dump(spec, f)
meta_path = run("write", os.path.join(WORK, "in.json")).strip()
print("metadata:", meta_path)

# 4. pyiceberg scans the table
tbl = StaticTable.from_metadata(meta_path)
check(tbl.metadata.format_version == 2, "format version")
check(tbl.schema() == schema, "pyiceberg's table schema is the one the tool printed")
check(str(tbl.spec()) == "[\n  1000: id_bucket: bucket[4](1)\n  1001: ts_day: day(7)\n]",
      f"spec {tbl.spec()}")
snap = tbl.current_snapshot()
check(snap.summary["cdc.position"] == "0/16B3900:1", "current summary position")
check(snap.summary["total-records"] == "13" and snap.summary["total-position-deletes"] == "1"
      and snap.summary["total-data-files"] == str(len(files1) + len(files2))
      and snap.summary.operation.value == "overwrite", f"summary totals {snap.summary}")
check(tbl.metadata.snapshots[0].summary["added-records"] == "8", "first summary")
check(snap.sequence_number == 3 and tbl.metadata.last_sequence_number == 3, "sequence numbers")
check(len(tbl.metadata.snapshots) == 3 and tbl.metadata.snapshots[1].parent_snapshot_id ==
      tbl.metadata.snapshots[0].snapshot_id, "snapshot chain")
check(len(tbl.metadata.snapshot_log) == 3, "snapshot log")
check(tbl.metadata.refs["main"].snapshot_id == snap.snapshot_id, "refs main")

got = tbl.scan().to_arrow().sort_by("id").to_pylist()
expect = sorted([r for r in rows1 + rows2 if r["id"] != victim["id"]], key=lambda r: r["id"])
check(len(got) == len(expect), f"row count {len(got)} != {len(expect)}")
for g, e in zip(got, expect):
    for k, v in e.items():
        gv = g[k]
        if k == "uid" and gv is not None:
            gv = uuid.UUID(bytes=gv) if isinstance(gv, bytes) else uuid.UUID(str(gv))
        if gv != v:
            check(False, f"row {e['id']} column {k}: {gv!r} != {v!r}")
print("scanned", len(got), "rows; deleted id", victim["id"])

# an older snapshot still shows the deleted row
old = tbl.scan(snapshot_id=tbl.metadata.snapshots[1].snapshot_id).to_arrow()
check(old.num_rows == len(rows1) + len(rows2), "snapshot 2 holds every row")

# partition pruning and metrics pruning use what we wrote
all_files = len(tbl.scan().plan_files())
one = tbl.scan(row_filter=EqualTo("id", 11)).to_arrow()
check(one.num_rows == 1 and one["id"][0].as_py() == 11, "filter id = 11")
pruned = len(tbl.scan(row_filter=EqualTo("id", 11)).plan_files())
check(pruned < all_files, f"bucket pruning: {pruned} of {all_files} files")
print(f"plan: {all_files} files, id = 11 plans {pruned}")
big_amount = max(r["amount"] for r in rows1 + rows2 if r["amount"] is not None)
check(len(tbl.scan(row_filter=GreaterThan("amount", float(big_amount))).plan_files()) == 0,
      "amount bounds prune every file above the maximum")

# 5. every manifest entry as pyiceberg reads it, against what was written
expected = {f["path"]: f for f in files1 + files2}
seen = 0
for mf in snap.manifests(tbl.io):
    for entry in mf.fetch_manifest_entry(tbl.io, discard_deleted=False):
        df = entry.data_file
        if df.content != 0:
            check(df.file_path == del_file["path"] and df.record_count == 1, "delete file entry")
            check(mf.content == 1, "delete file in a deletes manifest")
            continue
        seen += 1
        f = expected[df.file_path]
        check(df.record_count == f["records"], f"{df.file_path} record_count")
        check(df.file_size_in_bytes == f["size"], f"{df.file_path} size")
        check(tuple(df.partition) == f["_partition"],
              f"{df.file_path} partition {tuple(df.partition)} != {f['_partition']}")
        for name, st in f["stats"].items():
            fid, ft = st["_id"], schema.find_field(name).field_type
            check(df.value_counts.get(fid) == st["values"], f"{name} value count")
            check(df.null_value_counts.get(fid) == st["nulls"], f"{name} null count")
            check(df.column_sizes.get(fid) == st["size"], f"{name} column size")
            if "_lo" in st:
                lo, hi = st["_lo"], st["_hi"]
                if name in ("ts", "at"):
                    lo, hi = micros(lo if lo.tzinfo else lo.replace(tzinfo=UTC)), \
                        micros(hi if hi.tzinfo else hi.replace(tzinfo=UTC))
                elif name == "day":
                    lo, hi = (lo - dt.date(1970, 1, 1)).days, (hi - dt.date(1970, 1, 1)).days
                elif name == "clock":
                    lo, hi = [(t.hour * 3600 + t.minute * 60 + t.second) * 10**6 + t.microsecond
                              for t in (lo, hi)]
                check(df.lower_bounds.get(fid) == to_bytes(ft, lo),
                      f"{name} lower bound {df.lower_bounds.get(fid)!r} != {to_bytes(ft, lo)!r}")
                check(df.upper_bounds.get(fid) == to_bytes(ft, hi),
                      f"{name} upper bound {df.upper_bounds.get(fid)!r} != {to_bytes(ft, hi)!r}")
            else:
                check(fid not in (df.lower_bounds or {}), f"{name} has no bound")
check(seen == len(expected), f"{seen} data entries, want {len(expected)}")
print(f"{seen} data file entries compared (counts, sizes, partitions, bounds)")
nulls = 0
for mf in snap.manifests(tbl.io):
    check(mf.sequence_number in (1, 2, 3) and mf.min_sequence_number == mf.sequence_number,
          "manifest sequence numbers")
    for e in mf.fetch_manifest_entry(tbl.io, discard_deleted=False):
        check(e.snapshot_id == mf.added_snapshot_id and e.sequence_number == mf.sequence_number,
              "entry snapshot id and sequence number (written or inherited)")
    with open(mf.manifest_path[len("file://"):], "rb") as fo:
        nulls += sum(r["snapshot_id"] is None for r in fastavro.reader(fo))
check(nulls == len(files2), f"snapshot 2's {len(files2)} entries leave snapshot_id null ({nulls})")

# 6. fastavro reads the manifest lists and manifests, and their Iceberg keys
for s in tbl.metadata.snapshots:
    with open(s.manifest_list[len("file://"):], "rb") as fo:
        rd = fastavro.reader(fo)
        recs = list(rd)
        check(rd.metadata.get("snapshot-id") == str(s.snapshot_id), "list snapshot-id key")
        check(rd.metadata.get("format-version") == "2", "list format-version key")
        check(rd.writer_schema["fields"][0].get("field-id") == 500, "list field ids")
    for r in recs:
        with open(r["manifest_path"][len("file://"):], "rb") as fo:
            check(os.path.getsize(fo.name) == r["manifest_length"], "manifest_length")
            rd = fastavro.reader(fo)
            ents = list(rd)
            md = rd.metadata
            check(json.loads(md["schema"])["identifier-field-ids"] == [1], "manifest schema key")
            check(md["partition-spec-id"] == "0" and md["format-version"] == "2", "manifest keys")
            check(md["content"] == ("deletes" if r["content"] else "data"), "manifest content key")
            check(len(json.loads(md["partition-spec"])) == 2, "manifest partition-spec key")
            check(len(ents) == r["added_files_count"] + r["existing_files_count"] +
                  r["deleted_files_count"], "manifest entry count")
            check(sum(e["data_file"]["record_count"] for e in ents) == r["added_rows_count"],
                  "added rows")
            parts = r["partitions"]
            check(len(parts) == 2 and parts[0]["lower_bound"] is not None, "partition summaries")

# 7. our own reader finds the current snapshot and its position
sid, pos = run("read", meta_path, "cdc.position").split()
check(int(sid) == snap.snapshot_id and pos == "0/16B3900:1", f"ice_meta_from_json: {sid} {pos}")



# 8. our manifest readers against pyiceberg's view: of our table, and of one pyiceberg writes
def entries_by_pyiceberg(t):
    out = []
    for mf in t.current_snapshot().manifests(t.io):
        for e in mf.fetch_manifest_entry(t.io, discard_deleted=False):
            out.append({"content": int(e.data_file.content), "status": int(e.status),
                        "sequence_number": e.sequence_number,
                        "file_sequence_number": e.file_sequence_number,
                        "snapshot_id": e.snapshot_id, "record_count": e.data_file.record_count,
                        "file_size": e.data_file.file_size_in_bytes,
                        "path": e.data_file.file_path,
                        "partition": list(e.data_file.partition),
                        "manifest_content": int(mf.content)})
    return sorted(out, key=lambda e: (e["path"], e["status"]))


def entries_by_us(meta):
    return sorted((json.loads(line) for line in run("files", meta).splitlines()),
                  key=lambda e: (e["path"], e["status"]))


ours, theirs = entries_by_us(meta_path), entries_by_pyiceberg(tbl)
check(ours == theirs, f"our reader on our table: {ours[:2]} vs {theirs[:2]}")
print(f"our manifest reader: {len(ours)} entries of our table as pyiceberg reads them")

from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.partitioning import PartitionField, PartitionSpec

cat = SqlCatalog("t", uri=f"sqlite:///{WORK}/catalog.db", warehouse=f"file://{WORK}/pyw")
cat.create_namespace("db")
# (pyiceberg computes bucket and day partitions only with pyiceberg-core, a Rust wheel: identity)
pspec = PartitionSpec(PartitionField(source_id=9, field_id=1000, transform=IdentityTransform(),
                                     name="flag"),
                      PartitionField(source_id=5, field_id=1001, transform=IdentityTransform(),
                                     name="day"))
# (pyiceberg 0.12's append trips over the list column's element name: left out here)
flat = Schema(*[f for f in schema.fields if f.name != "tags"], identifier_field_ids=[1])
pt = cat.create_table("db.p", schema=flat, partition_spec=pspec)
pt.append(to_arrow(rows1, arrow_schema).drop_columns(["tags"]))
pt.append(to_arrow(rows2, arrow_schema).drop_columns(["tags"]))
pt.delete(EqualTo("id", 3))     # copy-on-write: DELETED and EXISTING entries
pt = cat.load_table("db.p")
ours, theirs = entries_by_us(pt.metadata_location[len("file://"):]), entries_by_pyiceberg(pt)
check(ours == theirs, f"our reader on pyiceberg's table: {ours[:2]} vs {theirs[:2]}")
check({e["status"] for e in theirs} >= {0, 1}, f"statuses {sorted({e['status'] for e in theirs})}")
with open(pt.current_snapshot().manifest_list[len("file://"):], "rb") as fo:
    codec = fastavro.reader(fo).metadata.get("avro.codec")
print(f"our manifest reader: {len(ours)} entries of pyiceberg's table (codec {codec}, "
      f"statuses {sorted({e['status'] for e in theirs})})")
sid, _ = run("read", pt.metadata_location[len("file://"):], "operation").split()
check(int(sid) == pt.current_snapshot().snapshot_id, "ice_meta_from_json on pyiceberg's metadata")

print("checks failed:", len(FAILS))
sys.exit(1 if FAILS else 0)
