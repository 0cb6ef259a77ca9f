"""What the Iceberg checkers share (test/lib/ice_meta_check.py, test/tools/ice_scan_check.py).

The test table's columns as test/tools/ice_table_write takes them, the schema it maps them
to (read by pyiceberg), rows into a pyarrow table of that schema, and the two text forms a
value is compared in: the bound text ice_table_write takes (stat_text) and the form
test/tools/ice_scan_dump prints a row in (dump_text); row_diff names the columns where two
such rows differ.
"""
import datetime as dt
import decimal
import json
import math
import subprocess
import uuid

import pyarrow as pa
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
