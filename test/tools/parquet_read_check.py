#!/usr/bin/env python3
"""Our Parquet reader (sinks/iceberg/parquet/parquet_read, through test/tools/parquet_read_dump)
against pyarrow, an independent reader.

    parquet_read_check.py write DIR     pyarrow writes DIR/pa_*.parquet with several options
                                        (codecs, dictionary or not, data pages V1 and V2,
                                        several row groups and pages, field ids, every flat
                                        type Iceberg uses, a list of ints, nulls, NaN, -0.0,
                                        empty strings and lists)
    parquet_read_check.py check DUMPER DIR   every DIR/*.parquet: DUMPER's values (lists'
                                        elements too), field ids, row groups and logical
                                        types == pyarrow's
    parquet_read_check.py refuse DUMPER DIR  files our reader must refuse with a message
                                        naming the column (INT96, DELTA encodings, gzip)

Prints one line per file; exits 1 on the first difference, naming file, column and row.
"""
import datetime
import decimal
import json
import os
import random
import struct
import subprocess
import sys
import uuid
import zlib

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


def fid(name, typ, i, nullable=True):
    return pa.field(name, typ, nullable=nullable, metadata={b"PARQUET:field_id": str(i).encode()})


SCHEMA = pa.schema([
    fid("id", pa.int64(), 1, nullable=False),
    fid("b", pa.bool_(), 2),
    fid("i32", pa.int32(), 3),
    fid("i64", pa.int64(), 4),
    fid("f", pa.float32(), 5),
    fid("d", pa.float64(), 6),
    fid("s", pa.string(), 7),
    fid("bin", pa.binary(), 8),
    fid("dec9", pa.decimal128(9, 2), 9),
    fid("dec18", pa.decimal128(18, 4), 10),
    fid("dec38", pa.decimal128(38, 10), 11),
    fid("dt", pa.date32(), 12),
    fid("tm", pa.time64("us"), 13),
    fid("ts", pa.timestamp("us"), 14),
    fid("tstz", pa.timestamp("us", tz="UTC"), 15),
    fid("fx", pa.binary(16), 16),
    fid("i16", pa.int16(), 17),
    fid("lowcard", pa.string(), 18),
    fid("tsms", pa.timestamp("ms"), 19),
    fid("allnull", pa.int32(), 20),
    fid("ints", pa.list_(pa.field("element", pa.int32(), metadata={b"PARQUET:field_id": b"22"})), 21),
])


def rows(n, seed):
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        def maybe(v, p=0.15):
            return None if rnd.random() < p else v
        fl = rnd.choice([0.0, -0.0, 1.5, float("nan"), float("inf"), rnd.uniform(-1e6, 1e6)])
        out.append({
            "id": i,
            "b": maybe(rnd.random() < 0.5),
            "i32": maybe(rnd.randint(-2**31, 2**31 - 1)),
            "i64": maybe(rnd.randint(-2**63, 2**63 - 1)),
            "f": maybe(struct.unpack("<f", struct.pack("<f", fl))[0]),
            "d": maybe(rnd.choice([fl, rnd.uniform(-1e300, 1e300), 5e-324])),
            "s": maybe(rnd.choice(["", "a", "héllo ✓", "x" * rnd.randint(0, 300), str(i)])),
            "bin": maybe(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 40)))),
            "dec9": maybe(decimal.Decimal(rnd.randint(-10**9 + 1, 10**9 - 1)).scaleb(-2)),
            "dec18": maybe(decimal.Decimal(rnd.randint(-10**18 + 1, 10**18 - 1)).scaleb(-4)),
            "dec38": maybe(decimal.Decimal(rnd.randint(-10**38 + 1, 10**38 - 1)).scaleb(-10)),
            "dt": maybe(datetime.date(1970, 1, 1) + datetime.timedelta(days=rnd.randint(-700000, 2900000))),
            "tm": maybe(datetime.time(rnd.randint(0, 23), rnd.randint(0, 59), rnd.randint(0, 59),
                                      rnd.randint(0, 999999))),
            "ts": maybe(datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=rnd.randint(-2**50, 2**50))),
            "tstz": maybe(datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
                          + datetime.timedelta(microseconds=rnd.randint(-2**45, 2**45))),
            "fx": maybe(uuid.UUID(int=rnd.getrandbits(128)).bytes),
            "i16": maybe(rnd.randint(-32768, 32767)),
            "lowcard": maybe(rnd.choice(["red", "green", "blue"])),
            "tsms": maybe(datetime.datetime(2000, 1, 1) + datetime.timedelta(milliseconds=rnd.randint(0, 2**40))),
            "allnull": None,
            "ints": maybe([rnd.randint(0, 9) for _ in range(rnd.randint(0, 3))]),
        })
    return out


# name: (rows, pq.write_table options)
VARIANTS = {
    "pa_default": (3000, {}),
    "pa_snappy_plain": (2500, {"compression": "snappy", "use_dictionary": False}),
    "pa_none_v2": (2000, {"compression": "none", "data_page_version": "2.0"}),
    "pa_zstd_v2_groups": (5000, {"compression": "zstd", "data_page_version": "2.0",
                                 "row_group_size": 1200, "data_page_size": 2048}),
    "pa_zstd_small_pages": (4000, {"compression": "zstd", "data_page_size": 512,
                                   "write_batch_size": 64, "row_group_size": 1500}),
    "pa_dict_some": (3000, {"use_dictionary": ["lowcard", "s", "i32"], "compression": "snappy",
                            "data_page_version": "2.0"}),
    "pa_v1_format": (1000, {"version": "1.0", "compression": "zstd"}),
    "pa_one_row": (1, {}),
    "pa_empty": (0, {}),
}


def write(d):
    os.makedirs(d, exist_ok=True)
    for name, (n, opts) in VARIANTS.items():
        schema = SCHEMA
        if opts.get("version") == "1.0":
            # format 1.0 has no UINT/INT16 annotations beyond the converted types: keep it simple
            schema = pa.schema([f for f in SCHEMA if f.name not in ("tm", "tstz", "tsms")])
        t = pa.Table.from_pylist(rows(n, zlib.crc32(name.encode())), schema=schema)
        pq.write_table(t, os.path.join(d, name + ".parquet"), **opts)
    print("wrote %d files" % len(VARIANTS))


def dbl(v):
    return "d:" + struct.pack("<d", float(v)).hex()


def physical_values(col, field, scale):
    """pyarrow's values of one column in the dumper's form."""
    t = field.type
    if pa.types.is_timestamp(t) or pa.types.is_time64(t):
        return col.cast(pa.int64()).to_pylist()
    if pa.types.is_date32(t) or pa.types.is_time32(t):
        return col.cast(pa.int32()).to_pylist()
    out = []
    for v in col.to_pylist():
        if v is None:
            out.append(None)
        elif pa.types.is_decimal(t):
            out.append(int(v.scaleb(scale, decimal.Context(prec=100))))
        elif pa.types.is_floating(t):
            out.append(dbl(v))
        elif pa.types.is_string(t) or pa.types.is_large_string(t):
            out.append(v.encode().hex())
        elif isinstance(v, uuid.UUID):
            out.append(v.bytes.hex())
        elif isinstance(v, (bytes, bytearray)):
            out.append(bytes(v).hex())
        else:
            out.append(v)
    return out


def check_file(dumper, path):
    name = os.path.basename(path)
    p = subprocess.run([dumper, path], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("%s: our reader failed: %s" % (name, p.stderr.strip()))
    ours = json.loads(p.stdout)
    pf = pq.ParquetFile(path)
    md = pf.metadata
    if ours["rows"] != md.num_rows:
        sys.exit("%s: rows %d, pyarrow %d" % (name, ours["rows"], md.num_rows))
    want_rg = [md.row_group(i).num_rows for i in range(md.num_row_groups)]
    if ours["row_groups"] != want_rg:
        sys.exit("%s: row groups %s, pyarrow %s" % (name, ours["row_groups"], want_rg))
    table = pf.read()
    schema = pf.schema_arrow
    bycol = {c["name"]: c for c in ours["columns"]}
    checked = 0
    for i in range(md.num_columns):
        pcol = pf.schema.column(i)
        path_s = pcol.path
        c = bycol.get(path_s)
        if c is None:
            sys.exit("%s: our reader has no column %s (it has %s)" % (name, path_s, list(bycol)))
        top = path_s.split(".")[0]
        field = schema.field(top)
        want_id = int((field.metadata or {}).get(b"PARQUET:field_id", b"-1"))
        if pcol.max_repetition_level > 0:
            vf = field.type.value_field
            eid = int((vf.metadata or {}).get(b"PARQUET:field_id", b"-1"))
            if c["field_id"] != eid:
                sys.exit("%s: list column %s element field id %d, pyarrow %d"
                         % (name, path_s, c["field_id"], eid))
            escale = getattr(vf.type, "scale", 0)
            want = []
            for v in table.column(top).to_pylist():
                if v is None:
                    want.append(None)
                else:
                    want.append(physical_values(pa.array(v, vf.type), vf, escale))
            got = c["values"]
            if got != want:
                bad = next(r for r, (g, w) in enumerate(zip(got, want)) if g != w) if len(got) == len(want) else -1
                sys.exit("%s: list column %s differs at row %d: ours %r, pyarrow %r"
                         % (name, path_s, bad, got[bad] if bad >= 0 else len(got),
                            want[bad] if bad >= 0 else len(want)))
            checked += 1
            continue
        if c["field_id"] != want_id:
            sys.exit("%s: column %s field id %d, pyarrow %d" % (name, path_s, c["field_id"], want_id))
        if c["optional"] != (pcol.max_definition_level > 0):
            sys.exit("%s: column %s optional %s" % (name, path_s, c["optional"]))
        scale = getattr(field.type, "scale", 0)
        want = physical_values(table.column(top), field, scale)
        got = c["values"]
        if len(got) != len(want):
            sys.exit("%s: column %s: %d values, pyarrow %d" % (name, path_s, len(got), len(want)))
        for r, (g, w) in enumerate(zip(got, want)):
            if g != w:
                sys.exit("%s: row %d column %s: ours %r, pyarrow %r" % (name, r, path_s, g, w))
        if pa.types.is_decimal(field.type) and (c["precision"], c["scale"]) != (field.type.precision, field.type.scale):
            sys.exit("%s: column %s decimal(%d,%d)" % (name, path_s, c["precision"], c["scale"]))
        checked += 1
    encs = sorted({e for g in range(md.num_row_groups) for k in range(md.num_columns)
                   for e in md.row_group(g).column(k).encodings})
    codecs = sorted({md.row_group(g).column(k).compression for g in range(md.num_row_groups)
                     for k in range(md.num_columns)})
    print("%s: %d rows, %d row groups, %d columns equal; encodings %s, codecs %s"
          % (name, md.num_rows, md.num_row_groups, checked, ",".join(encs), ",".join(codecs)))


def check(dumper, d):
    files = sorted(f for f in os.listdir(d) if f.endswith(".parquet"))
    for f in files:
        check_file(dumper, os.path.join(d, f))
    print("parquet_read_check: %d files OK" % len(files))


def refuse(dumper, d):
    os.makedirs(d, exist_ok=True)
    n = 50
    t = pa.table({"k": pa.array(range(n), pa.int64()),
                  "v": pa.array([i * 3 for i in range(n)], pa.int64())})
    cases = {
        "int96": (pa.table({"when": pa.array([datetime.datetime(2020, 1, 1)] * n, pa.timestamp("ns"))}),
                  {"use_deprecated_int96_timestamps": True}, "INT96"),
        "delta": (t, {"use_dictionary": False, "column_encoding": {"k": "DELTA_BINARY_PACKED",
                                                                  "v": "PLAIN"}},
                  "encoding 5 is not supported"),
        "gzip": (t, {"compression": "gzip"}, "codec 2 is not supported"),
    }
    for name, (tab, opts, needle) in cases.items():
        path = os.path.join(d, "refuse_%s.parquet" % name)
        pq.write_table(tab, path, **opts)
        p = subprocess.run([dumper, path], capture_output=True, text=True)
        if p.returncode == 0 or needle not in p.stderr or path not in p.stderr:
            sys.exit("%s: not refused as expected (rc %d): %s" % (name, p.returncode, p.stderr))
        print("%s refused: %s" % (name, p.stderr.strip()))
    print("parquet_read_check: %d refusals OK" % len(cases))


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2])
    elif sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "refuse":
        refuse(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
