#!/usr/bin/env python3
"""Checks the Parquet files of test/tools/parquet_write with pyarrow, an independent reader.

    parquet_check.py DIR      every DIR/NAME.parquet against DIR/NAME.json

For each file: the Arrow schema (types, nullability, the field id of every column and list
element in the field metadata "PARQUET:field_id"), the Parquet logical and physical types,
every value of every row, each row group's statistics (min, max, null count, value count) as
pyarrow reports them against those computed here from the values written, the pages of every
column chunk (walked here with a small Thrift compact reader: a dictionary page first when
there is one, data page encodings, value counts), and the writer's own parquet_result
(file size, rows, split offsets, per-column counts, sizes and raw bounds).
Then DuckDB, a second reader with a Parquet implementation of its own, reads every value
and the field ids again (its parquet_metadata() is not used: DuckDB 1.1.3 fails with an
internal error on the statistics of a UUID column, whoever wrote the file).
Prints one line per file; exits 1 on the first difference, naming file, row group, column.
"""
import datetime
import decimal
import json
import math
import os
import struct
import sys

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

EPOCH_D = datetime.date(1970, 1, 1)
EPOCH = datetime.datetime(1970, 1, 1)
EPOCH_TZ = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
US = datetime.timedelta(microseconds=1)

# name: (arrow type, nullable, field id, physical, logical type text, kind)
COLS = {
    "b": (pa.bool_(), True, 1, "BOOLEAN", "None", "bool"),
    "i32": (pa.int32(), False, 2, "INT32", "None", "int"),
    "i64": (pa.int64(), True, 3, "INT64", "None", "int"),
    "f": (pa.float32(), True, 4, "FLOAT", "None", "float"),
    "d": (pa.float64(), True, 5, "DOUBLE", "None", "double"),
    "s": (pa.string(), True, 6, "BYTE_ARRAY", "String", "str"),
    "bin": (pa.binary(), True, 7, "BYTE_ARRAY", "None", "bytes"),
    "dec9": (pa.decimal128(9, 2), True, 8, "INT32", "Decimal(precision=9, scale=2)", "dec"),
    "dec18": (pa.decimal128(18, 4), True, 9, "INT64", "Decimal(precision=18, scale=4)", "dec"),
    "dec38": (pa.decimal128(38, 10), True, 10, "FIXED_LEN_BYTE_ARRAY",
              "Decimal(precision=38, scale=10)", "dec"),
    "dt": (pa.date32(), True, 11, "INT32", "Date", "date"),
    "tm": (pa.time64("us"), True, 12, "INT64",
           "Time(isAdjustedToUTC=false, timeUnit=microseconds)", "time"),
    "ts": (pa.timestamp("us"), True, 13, "INT64",
           "Timestamp(isAdjustedToUTC=false, timeUnit=microseconds", "ts"),
    "tstz": (pa.timestamp("us", tz="UTC"), True, 14, "INT64",
             "Timestamp(isAdjustedToUTC=true, timeUnit=microseconds", "tstz"),
    # pyarrow >= 18 reads the UUID logical type as its arrow.uuid extension type
    # (storage fixed_size_binary[16]), older ones as the plain fixed_size_binary[16]
    "u": (pa.uuid() if hasattr(pa, "uuid") else pa.binary(16), True, 15,
          "FIXED_LEN_BYTE_ARRAY", "UUID", "bytes"),
    "i8": (pa.int8(), True, 16, "INT32", "Int(bitWidth=8, isSigned=true)", "int"),
    "i16": (pa.int16(), True, 17, "INT32", "Int(bitWidth=16, isSigned=true)", "int"),
    "fx": (pa.binary(3), True, 18, "FIXED_LEN_BYTE_ARRAY", "None", "bytes"),
    "ints": (pa.list_(pa.field("element", pa.int32(), True)), True, 19, "INT32", "None",
             "int"),
    "strs": (pa.list_(pa.field("element", pa.string(), False)), False, 21, "BYTE_ARRAY",
             "String", "str"),
    "dec25": (pa.decimal128(25, 0), True, 23, "FIXED_LEN_BYTE_ARRAY",
              "Decimal(precision=25, scale=0)", "dec"),
}
ELEMENT_IDS = {"ints": 20, "strs": 22}
# the legacy converted types (TIME_MICROS and TIMESTAMP_MICROS mean UTC-adjusted)
CONVERTED = {"s": "UTF8", "dec9": "DECIMAL", "dec38": "DECIMAL", "dt": "DATE", "tm": "NONE",
             "ts": "NONE", "tstz": "TIMESTAMP_MICROS", "u": "NONE", "i16": "INT_16",
             "i32": "NONE"}
NAMES = list(COLS)
PHYS_FMT = {"INT32": "<i", "INT64": "<q", "FLOAT": "<f", "DOUBLE": "<d"}


class Bad(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise Bad(what)


# ---------------------------------------------------------------- canonical values
# Everything is compared as a plain Python value: ints (decimals unscaled, dates in days,
# times and timestamps in microseconds), bytes (strings as UTF-8), floats, bools.

def from_json(name, v):
    kind = COLS[name][5]
    if v is None:
        return None
    if kind in ("float", "double"):
        return struct.unpack("<f" if kind == "float" else "<d", bytes.fromhex(v))[0]
    if kind in ("str", "bytes"):
        return bytes.fromhex(v)
    if kind == "dec" and isinstance(v, dict):
        return int.from_bytes(bytes.fromhex(v["be"]), "big", signed=True)
    return v


def from_arrow(name, v):
    kind = COLS[name][5]
    if v is None:
        return None
    if kind == "str":
        return v.encode("utf-8")
    if kind == "dec":
        scale = COLS[name][0].scale
        return int(v.scaleb(scale, context=decimal.Context(prec=80)))
    if kind == "date":
        return (v - EPOCH_D).days
    if kind == "time":
        return ((v.hour * 60 + v.minute) * 60 + v.second) * 1000000 + v.microsecond
    if kind == "ts":
        return (v - EPOCH) // US
    if kind == "tstz":
        return (v - EPOCH_TZ) // US
    if kind == "bytes" and not isinstance(v, bytes):
        return v.bytes      # a uuid.UUID, should pyarrow map UUID to its extension type
    return v


def from_duck(name, v):
    if COLS[name][5] in ("ts", "tstz"):
        return v        # already epoch microseconds
    return from_arrow(name, v)


def from_raw(name, raw):
    """The writer's parquet_result bounds: PLAIN bytes of the physical type."""
    phys = COLS[name][3]
    if phys in PHYS_FMT:
        return struct.unpack(PHYS_FMT[phys], raw)[0]
    if phys == "BOOLEAN":
        return bool(raw[0])
    if COLS[name][5] == "dec":
        return int.from_bytes(raw, "big", signed=True)
    return raw


def stat_value(name, st, which):
    """A statistic in the canonical form.  Some pyarrow versions (17) cannot convert the
    statistics of decimals on INT32/INT64 ("Cannot extract statistics"): their raw value is the unscaled
    integer, which is the canonical form anyway."""
    try:
        return from_arrow(name, getattr(st, which))
    except pa.ArrowNotImplementedError:
        expect(COLS[name][5] == "dec", "%s: pyarrow cannot read its %s" % (name, which))
        return getattr(st, which + "_raw")


def same(name, a, b):
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b


# ---------------------------------------------------------------- expected statistics

def same_cell(col, want, have, read):
    """(ok, want, have): whether the value a reader read (have, converted by read) is the one
    written (want, JSON), a list element by element; want and have as compared."""
    if col in ELEMENT_IDS and want is not None:
        want = [from_json(col, x) for x in want]
        have = None if have is None else [read(col, x) for x in have]
        ok = have is not None and len(want) == len(have) and all(
            same(col, a, b) for a, b in zip(want, have))
    else:
        want, have = from_json(col, want), read(col, have)
        ok = same(col, want, have)
    return ok, want, have


def leaf_values(name, rows_of_col):
    """(entries, nulls, nans, non-null non-NaN values) of a leaf over some rows."""
    entries = nulls = nans = 0
    vals = []
    is_list = name in ELEMENT_IDS
    for v in rows_of_col:
        items = [v] if not is_list else (v if v else [None])  # null/empty list: one null entry
        for x in items:
            entries += 1
            if x is None:
                nulls += 1
            elif isinstance(x, float) and math.isnan(x):
                nans += 1
            else:
                vals.append(x)
    return entries, nulls, nans, vals


def bounds(vals):
    if not vals:
        return None, None
    lo, hi = min(vals), max(vals)
    if isinstance(lo, float) and lo == 0:
        lo = -0.0
    if isinstance(hi, float) and hi == 0:
        hi = 0.0
    return lo, hi


# ---------------------------------------------------------------- pages

def varint(b, i):
    shift = v = 0
    while True:
        x = b[i]
        i += 1
        v |= (x & 0x7F) << shift
        shift += 7
        if x < 0x80:
            return v, i


def zz(v):
    return (v >> 1) ^ -(v & 1)


def read_value(b, i, t):
    if t in (1, 2):
        return t == 1, i
    if t == 3:
        return b[i], i + 1
    if t in (4, 5, 6):
        v, i = varint(b, i)
        return zz(v), i
    if t == 7:
        return struct.unpack("<d", b[i:i + 8])[0], i + 8
    if t == 8:
        n, i = varint(b, i)
        return b[i:i + n], i + n
    if t in (9, 10):
        h = b[i]
        i += 1
        n, et = h >> 4, h & 0x0F
        if n == 15:
            n, i = varint(b, i)
        out = []
        for _ in range(n):
            if et in (1, 2):        # a bool element is one byte
                out.append(b[i] == 1)
                i += 1
            else:
                x, i = read_value(b, i, et)
                out.append(x)
        return out, i
    if t == 12:
        return read_struct(b, i)
    raise Bad("thrift type %d at %d" % (t, i))


def read_struct(b, i):
    fields, last = {}, 0
    while True:
        h = b[i]
        i += 1
        if h == 0:
            return fields, i
        delta, t = h >> 4, h & 0x0F
        if delta == 0:
            fid, i = varint(b, i)
            fid = zz(fid)
        else:
            fid = last + delta
        last = fid
        fields[fid], i = read_value(b, i, t)


def pages(data, start, size):
    """[(page type, encoding, num_values)] of a column chunk."""
    out, i = [], start
    while i < start + size:
        h, j = read_struct(data, i)
        if h[1] == 2:
            out.append(("dict", h[7][2], h[7][1]))
        elif h[1] == 0:
            out.append(("data", h[5][2], h[5][1]))
        else:
            raise Bad("page type %d at %d" % (h[1], i))
        i = j + h[3]
    expect(i == start + size, "pages end at %d, the chunk at %d" % (i, start + size))
    return out


# ---------------------------------------------------------------- one file

def check_file(path_parquet, path_json):
    with open(path_json) as f:
        exp = json.load(f)
    name = exp["name"]
    rows = exp["rows"]
    res = exp["result"]
    pf = pq.ParquetFile(path_parquet)
    md = pf.metadata
    table = pf.read()
    data = open(path_parquet, "rb").read()

    # schema
    expect(table.schema.names == NAMES, "columns %s" % table.schema.names)
    for i, col in enumerate(NAMES):
        typ, nullable, fid, phys, logical, _ = COLS[col]
        fld = table.schema.field(col)
        expect(fld.type == typ, "%s: arrow type %s, wanted %s" % (col, fld.type, typ))
        expect(fld.nullable == nullable, "%s: nullable %s" % (col, fld.nullable))
        expect(fld.metadata == {b"PARQUET:field_id": str(fid).encode()},
               "%s: field metadata %s" % (col, fld.metadata))
        if col in ELEMENT_IDS:
            el = fld.type.value_field
            expect(el.metadata == {b"PARQUET:field_id": str(ELEMENT_IDS[col]).encode()},
                   "%s.element: field metadata %s" % (col, el.metadata))
        pc = pf.schema.column(i)
        expect(pc.physical_type == phys, "%s: physical %s" % (col, pc.physical_type))
        expect(str(pc.logical_type).startswith(logical),
               "%s: logical type %s, wanted %s" % (col, pc.logical_type, logical))
        if col in CONVERTED:
            expect(pc.converted_type == CONVERTED[col],
                   "%s: converted type %s, wanted %s" % (col, pc.converted_type, CONVERTED[col]))
    expect(md.metadata.get(b"iceberg.schema") == b'{"type":"struct"}', "key_value_metadata")
    expect(md.created_by.startswith("cdcagent version "), "created_by %s" % md.created_by)

    # values
    expect(table.num_rows == len(rows) == md.num_rows, "rows %d" % table.num_rows)
    for c, col in enumerate(NAMES):
        got = table.column(col).to_pylist()
        for r, row in enumerate(rows):
            ok, want, have = same_cell(col, row[c], got[r], from_arrow)
            expect(ok, "row %d column %s: read %r, wrote %r" % (r, col, have, want))

    # row groups: statistics and pages
    first = 0
    totals = {col: [0, 0] for col in NAMES}
    splits = []
    for g in range(md.num_row_groups):
        rg = md.row_group(g)
        n = rg.num_rows
        for c, col in enumerate(NAMES):
            cc = rg.column(c)
            where = "row group %d column %s" % (g, col)
            vals = [row[c] for row in rows[first:first + n]]
            if col in ELEMENT_IDS:
                vals = [None if v is None else [from_json(col, x) for x in v] for v in vals]
            else:
                vals = [from_json(col, v) for v in vals]
            entries, nulls, _, nonnull = leaf_values(col, vals)
            lo, hi = bounds(nonnull)
            st = cc.statistics
            expect(cc.num_values == entries, "%s: num_values %d, wanted %d"
                   % (where, cc.num_values, entries))
            expect(st is not None and st.null_count == nulls,
                   "%s: null_count %s, wanted %d" % (where, st and st.null_count, nulls))
            expect(st.has_min_max == (lo is not None), "%s: has_min_max" % where)
            if lo is not None:
                expect(same(col, stat_value(col, st, "min"), lo),
                       "%s: min %r, wanted %r" % (where, stat_value(col, st, "min"), lo))
                expect(same(col, stat_value(col, st, "max"), hi),
                       "%s: max %r, wanted %r" % (where, stat_value(col, st, "max"), hi))
            start = cc.dictionary_page_offset if cc.has_dictionary_page else cc.data_page_offset
            if c == 0:
                splits.append(start)
            pl = pages(data, start, cc.total_compressed_size)
            kinds = [p[0] for p in pl]
            expect(sum(p[2] for p in pl if p[0] == "data") == entries,
                   "%s: data pages hold %d values" % (where, sum(p[2] for p in pl)))
            expect("dict" not in kinds[1:], "%s: a dictionary page after a data page" % where)
            encs = [p[1] for p in pl if p[0] == "data"]
            dict_scenario = "dict" in name and col != "b"
            if dict_scenario and nonnull:
                # a page of nulls only is PLAIN (it has no index to write)
                expect(kinds[0] == "dict" and 8 in encs,
                       "%s: no dictionary (pages %s)" % (where, pl))
            if not dict_scenario:
                expect("dict" not in kinds and set(encs) <= {0},
                       "%s: dictionary in a plain file (pages %s)" % (where, pl))
            if name == "zstd_dict_fallback" and col == "s" and g == 0:
                expect(encs[0] == 8 and encs[-1] == 0 and len(pl) > 2,
                       "%s: no fallback to PLAIN (pages %s)" % (where, pl))
            totals[col][0] += cc.total_compressed_size
            totals[col][1] += cc.total_uncompressed_size
        first += n

    # a second reader: DuckDB (timestamps as epoch microseconds: no pytz needed)
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    sch = con.execute("SELECT name, field_id FROM parquet_schema(?) WHERE field_id IS NOT NULL",
                      [path_parquet]).fetchall()
    want_ids = []
    for col in NAMES:
        want_ids.append((col, COLS[col][2]))
        if col in ELEMENT_IDS:
            want_ids.append(("element", ELEMENT_IDS[col]))
    expect(sch == want_ids, "duckdb: field ids %s" % sch)
    got = con.execute("SELECT * REPLACE (epoch_us(ts) AS ts, epoch_us(tstz) AS tstz) "
                      "FROM read_parquet(?)", [path_parquet]).fetchall()
    expect(len(got) == len(rows), "duckdb: %d rows" % len(got))
    for r, row in enumerate(rows):
        for c, col in enumerate(NAMES):
            ok, want, have = same_cell(col, row[c], got[r][c], from_duck)
            expect(ok, "duckdb: row %d column %s: read %r, wrote %r" % (r, col, have, want))
    con.close()

    # the writer's parquet_result
    expect(res["file_size"] == os.path.getsize(path_parquet), "result file_size")
    expect(res["row_count"] == len(rows), "result row_count")
    expect(res["split_offsets"] == splits, "result split_offsets %s, row groups start at %s"
           % (res["split_offsets"], splits))
    for c, col in enumerate(NAMES):
        rc = res["cols"][c]
        where = "result column %s" % col
        vals = [row[c] for row in rows]
        if col in ELEMENT_IDS:
            vals = [None if v is None else [from_json(col, x) for x in v] for v in vals]
        else:
            vals = [from_json(col, v) for v in vals]
        entries, nulls, nans, nonnull = leaf_values(col, vals)
        lo, hi = bounds(nonnull)
        expect(rc["name"] == col, where + " name")
        expect(rc["field_id"] == ELEMENT_IDS.get(col, COLS[col][2]), where + " field_id")
        expect((rc["value_count"], rc["null_count"], rc["nan_count"]) == (entries, nulls, nans),
               "%s: counts %s, wanted %s" % (where, (rc["value_count"], rc["null_count"],
                                                     rc["nan_count"]), (entries, nulls, nans)))
        expect([rc["compressed_size"], rc["uncompressed_size"]] == totals[col],
               "%s: sizes %s, footer says %s" % (where, [rc["compressed_size"],
                                                       rc["uncompressed_size"]], totals[col]))
        expect(("min" in rc) == (lo is not None), where + " has bounds")
        if lo is not None:
            rmin = from_raw(col, bytes.fromhex(rc["min"]))
            rmax = from_raw(col, bytes.fromhex(rc["max"]))
            expect(same(col, rmin, lo), "%s: min %r, wanted %r" % (where, rmin, lo))
            expect(same(col, rmax, hi), "%s: max %r, wanted %r" % (where, rmax, hi))
    return "%s: %d rows, %d row groups, %d bytes: values, schema, statistics, pages and " \
           "result agree; duckdb reads the same" % (name, len(rows), md.num_row_groups,
                                                   res["file_size"])


def main():
    d = sys.argv[1]
    names = sorted(f[:-8] for f in os.listdir(d) if f.endswith(".parquet"))
    if not names:
        print("parquet_check: no .parquet files in %s" % d, file=sys.stderr)
        return 1
    for n in names:
        try:
            print(check_file(os.path.join(d, n + ".parquet"), os.path.join(d, n + ".json")))
        except Bad as e:
            print("parquet_check: %s: %s" % (n, e), file=sys.stderr)
            return 1
    print("parquet_check: %d files OK (pyarrow %s, duckdb %s)" % (len(names), pa.__version__,
                                                                  duckdb.__version__))
    return 0


if __name__ == "__main__":
    sys.exit(main())
