"""What the Iceberg checkers share (test/lib/ice_meta_check.py, test/tools/ice_scan_check.py).

The test table's columns as test/tools/ice_table_write takes them, the schema it maps them
to (read by pyiceberg), rows into a pyarrow table of that schema, and the two text forms a
value is compared in: the bound text ice_table_write takes (stat_text) and the form
test/tools/ice_scan_dump prints a row in (dump_text); row_diff names the columns where two
such rows differ; write_partitioned writes rows as partitioned Parquet files with the stats
ice_table_write takes (also used by test/integration/690's table of our own).
"""
import datetime as dt
import decimal
import json
import math
import os
import subprocess
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.io.pyarrow import schema_to_pyarrow
from pyiceberg.schema import Schema

UTC = dt.timezone.utc
NUMERIC_10_2 = ((10 << 16) | 2) + 4

# Every flat type the sink maps, a list and a numeric beyond Iceberg's precision (a string),
# as PostgreSQL describes them (type OIDs and typmods).
COLUMNS = [
    {"name": "id", "oid": 23, "key": 1},
    {"name": "name", "oid": 25},
    {"name": "amount", "oid": 1700, "typmod": NUMERIC_10_2},
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


def columns(without=()):
    """COLUMNS in their order, but those named in without."""
    return [c for c in COLUMNS if c["name"] not in without]


def tool_schema(tool, spec_path):
    """The schema ice_table_write maps the columns of the spec at spec_path to, as pyiceberg
    reads it, and its pyarrow form."""
    out = subprocess.run([tool, "schema", spec_path], check=True, capture_output=True,
                         text=True).stdout
    schema = Schema.model_validate_json(out)
    return schema, schema_to_pyarrow(schema)


def write_spec(path, spec):
    with open(path, "w") as f:
        json.dump(spec, f)


def to_arrow(rows, arrow_schema):
    """rows (dicts of Python values, uid a uuid.UUID) as a pyarrow table of arrow_schema."""
    cols = {}
    for f in arrow_schema:
        vals = [r[f.name] for r in rows]
        if f.name == "uid":
            vals = [v.bytes if v is not None else None for v in vals]
        cols[f.name] = vals
    return pa.Table.from_pydict(cols, schema=arrow_schema)


def micros(ts):
    """A timestamp with zone as microseconds since the epoch."""
    return (ts - dt.datetime(1970, 1, 1, tzinfo=UTC)) // dt.timedelta(microseconds=1)


def stat_text(v):
    """A value as the text ice_table_write takes for bounds and partition sources."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, float):
        return repr(v)
    return str(v)


def dump_text(v, name):
    """pyiceberg's value of column name in ice_scan_dump's form."""
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


def dump_row(r, without=()):
    """A pyiceberg row (dict) in ice_scan_dump's form, but the columns named in without."""
    return {k: dump_text(v, k) for k, v in r.items() if k not in without}


def row_diff(got, want):
    """{column: (got, want)} for every column where two rows differ."""
    return {k: (got.get(k), want.get(k)) for k in set(got) | set(want)
            if got.get(k) != want.get(k)}


def column_stats(md, name, vals, bounded=True):
    """ice_table_write's stats of column name, holding vals, in the Parquet file whose metadata
    is md: value and null counts, its compressed size over every row group, no NaN for the
    float8 column score, and min and max (stat_text) when bounded and not all null."""
    nn = [v for v in vals if v is not None]
    ci = [i for i in range(md.num_columns)
          if md.row_group(0).column(i).path_in_schema == name][0]
    st = {"values": len(vals), "nulls": len(vals) - len(nn),
          "size": sum(md.row_group(g).column(ci).total_compressed_size
                      for g in range(md.num_row_groups))}
    if name == "score":
        st["nans"] = 0
    if nn and bounded:
        st["min"], st["max"] = stat_text(min(nn)), stat_text(max(nn))
    return st


def write_partitioned(rows, loc_dir, seqno, arrow_schema, names, bounded=lambda name: True):
    """rows as one pyarrow-written Parquet file per partition of bucket(4, id), day(ts) under
    loc_dir/data (s<seqno>-<k>.parquet); for each, ice_table_write's file description (the
    stats of the columns in names) with the partition in _partition and the rows in _rows."""
    from pyiceberg.transforms import BucketTransform, DayTransform
    from pyiceberg.types import IntegerType, TimestamptzType

    bucket = BucketTransform(4).transform(IntegerType())
    day = DayTransform().transform(TimestamptzType())
    groups = {}
    for r in rows:
        groups.setdefault((bucket(r["id"]), day(micros(r["ts"])) if r["ts"] else None), []).append(r)
    files = []
    for k, (key, grp) in enumerate(sorted(groups.items(), key=lambda kv: str(kv[0]))):
        path = os.path.join(loc_dir, "data", "s%d-%d.parquet" % (seqno, k))
        pq.write_table(to_arrow(grp, arrow_schema), path)
        md = pq.ParquetFile(path).metadata
        stats = {name: column_stats(md, name, [r[name] for r in grp], bounded(name))
                 for name in names}
        files.append({"path": "file://" + path, "size": os.path.getsize(path),
                      "records": len(grp), "stats": stats,
                      "partition_source": {"id": str(grp[0]["id"]),
                                           **({"ts": stat_text(grp[0]["ts"])} if grp[0]["ts"] else {})},
                      "_partition": key, "_rows": grp})
    return files
