#!/usr/bin/env python3
"""Checks what the Iceberg sink wrote, read through pyiceberg (the platform's own reader),
against PostgreSQL and the agent's jsonl sink (an independent path: the decoder's JSON).

    iceberg_sink_check.py --uri URI --warehouse WH TABLE count
        the number of rows pyiceberg scans (0 when the table does not exist)
    ... TABLE append --events EVENTS.jsonl --topic TOPIC --pg PG.jsonl --key id
        append mode: every change of TOPIC in EVENTS appears exactly once (op, change LSN,
        key), _cdc_topic/_cdc_partition/_cdc_lsn are right, and the table's last image per
        key (ordered by _cdc_lsn, _cdc_offset; a delete removes it) equals PG.jsonl
    ... TABLE upsert --pg PG.jsonl --key id
        upsert mode: the rows equal PG.jsonl, and no key appears twice
    ... TABLE summaries --pipeline ID
        every snapshot's summary holds cdc.position (LSN/LSN:seq) and cdc.pipeline = ID,
        positions never go back; prints the number of snapshots

PG.jsonl: one `SELECT row_to_json(t) FROM t` line per row (run with PGTZ=UTC).
Exit status 1 with a message on the first difference.
"""
import argparse
import base64
import datetime
import decimal
import json
import re
import sys
import uuid


def die(msg):
    print("iceberg_sink_check: " + msg, file=sys.stderr)
    sys.exit(1)


def load(args):
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.exceptions import NoSuchTableError
    props = {}
    if args.s3_endpoint:
        import os
        props = {"s3.endpoint": args.s3_endpoint, "s3.region": os.environ.get("AWS_REGION", "us-east-1"),
                 "s3.access-key-id": os.environ["AWS_ACCESS_KEY_ID"],
                 "s3.secret-access-key": os.environ["AWS_SECRET_ACCESS_KEY"]}
    if args.rest:
        from pyiceberg.catalog.rest import RestCatalog
        cat = RestCatalog("rest", uri=args.uri, **props)
    else:
        cat = SqlCatalog(args.catalog, uri=args.uri, warehouse=args.warehouse, **props)
    try:
        return cat.load_table(args.table)
    except NoSuchTableError:
        return None


def rows_of(tbl):
    if tbl is None:
        return []
    return tbl.scan().to_arrow().to_pylist()


def pg_rows(path):
    out = []
    with open(path) as f:
        for line in f:
            if line.strip():
                out.append(json.loads(line, parse_float=decimal.Decimal))
    return out


def same(iv, pv):
    """Whether pyiceberg's value iv is PostgreSQL's row_to_json value pv."""
    if iv is None or pv is None:
        return iv is None and pv is None
    if isinstance(iv, bool) or isinstance(pv, bool):
        return iv == pv
    if isinstance(iv, decimal.Decimal):
        return iv == decimal.Decimal(str(pv))
    if isinstance(iv, float):
        p = float(pv)
        return iv == p or abs(iv - p) <= 1e-6 * max(abs(iv), abs(p))
    if isinstance(iv, int):
        return iv == int(pv)
    if isinstance(iv, datetime.datetime):
        p = datetime.datetime.fromisoformat(pv)
        return iv == p
    if isinstance(iv, datetime.date):
        return iv == datetime.date.fromisoformat(pv)
    if isinstance(iv, datetime.time):
        return iv == datetime.time.fromisoformat(pv)
    if isinstance(iv, uuid.UUID):
        return str(iv) == pv
    if isinstance(iv, (bytes, bytearray)):
        if isinstance(pv, str) and pv.startswith("\\x"):
            return bytes(iv) == bytes.fromhex(pv[2:])
        if isinstance(pv, str) and len(iv) == 16:     # a uuid as fixed[16]
            return str(uuid.UUID(bytes=bytes(iv))) == pv
        return False
    if isinstance(iv, list):
        return isinstance(pv, list) and len(iv) == len(pv) and all(
            same(a, b) for a, b in zip(iv, pv))
    if isinstance(iv, str):
        if isinstance(pv, decimal.Decimal):        # numeric without precision: its text
            try:
                return decimal.Decimal(iv) == pv and "e" not in iv.lower()
            except decimal.InvalidOperation:
                return False
        if isinstance(pv, (dict, list)):           # json / jsonb: compare the documents
            try:
                return json.loads(iv, parse_float=decimal.Decimal) == pv
            except ValueError:
                return False
        return iv == pv
    return iv == pv


def show(v):
    if isinstance(v, (bytes, bytearray)):
        return "b64:" + base64.b64encode(bytes(v)).decode()
    return repr(v)


def compare_state(state, pg, key, what):
    pgk = {}
    for r in pg:
        pgk[r[key]] = r
    if sorted(state) != sorted(pgk):
        missing = sorted(set(pgk) - set(state))[:5]
        extra = sorted(set(state) - set(pgk))[:5]
        die(f"{what}: keys differ: missing in Iceberg {missing}, extra {extra}")
    for k, prow in pgk.items():
        irow = state[k]
        for col, pv in prow.items():
            if col not in irow:
                die(f"{what}: key {k}: column {col} is not in the Iceberg table")
            if not same(irow[col], pv):
                die(f"{what}: key {k} column {col}: Iceberg {show(irow[col])}, "
                    f"PostgreSQL {pv!r}")


def cmd_append(args, tbl):
    rows = rows_of(tbl)
    key = args.key
    want = {}
    for line in open(args.events):
        if not line.strip():
            continue
        e = json.loads(line)
        v = e.get("value") or {}
        md = e.get("metadata") or {}
        if md.get("topic") != args.topic or v.get("op") not in ("c", "u", "d", "r"):
            continue
        img = v.get("after") if v.get("op") != "d" else v.get("before")
        t = (v.get("op"), int(md["offset"]), img[key])
        want[t] = want.get(t, 0) + 1
    got = {}
    for r in rows:
        t = (r["_cdc_op"], r["_cdc_offset"], r[key])
        got[t] = got.get(t, 0) + 1
        if r["_cdc_topic"] != args.topic or r["_cdc_partition"] != 0:
            die(f"row {t}: _cdc_topic {r['_cdc_topic']!r} _cdc_partition {r['_cdc_partition']!r}")
        if r["_cdc_lsn"] is None or r["_cdc_ts"] is None:
            die(f"row {t}: _cdc_lsn or _cdc_ts is null")
    dup = [t for t, n in got.items() if n > 1]
    if dup:
        die(f"{len(dup)} change(s) appear more than once, e.g. {dup[:3]}")
    if got != want:
        miss = [t for t in want if t not in got][:5]
        extra = [t for t in got if t not in want][:5]
        die(f"changes differ from the jsonl sink's ({len(want)} there, {len(rows)} in Iceberg): "
            f"missing {miss}, extra {extra}")
    state = {}
    for r in sorted(rows, key=lambda r: (r["_cdc_lsn"], r["_cdc_offset"])):
        if r["_cdc_op"] == "d":
            state.pop(r[key], None)
        else:
            state[r[key]] = r
    compare_state(state, pg_rows(args.pg), key, "last image per key")
    print(len(rows))


def cmd_upsert(args, tbl):
    rows = rows_of(tbl)
    state = {}
    for r in rows:
        if r[args.key] in state:
            die(f"key {r[args.key]} appears twice")
        state[r[args.key]] = r
    compare_state(state, pg_rows(args.pg), args.key, "rows")
    print(len(rows))


def cmd_summaries(args, tbl):
    if tbl is None:
        die("no such table")
    last = None
    snaps = sorted(tbl.metadata.snapshots, key=lambda s: s.sequence_number)
    for s in snaps:
        summ = s.summary.additional_properties if s.summary else {}
        pos = summ.get("cdc.position")
        m = re.fullmatch(r"([0-9A-F]+)/([0-9A-F]+):([0-9]+)", pos or "")
        if not m:
            die(f"snapshot {s.snapshot_id}: cdc.position {pos!r}")
        if summ.get("cdc.pipeline") != args.pipeline:
            die(f"snapshot {s.snapshot_id}: cdc.pipeline {summ.get('cdc.pipeline')!r}")
        p = ((int(m.group(1), 16) << 32) | int(m.group(2), 16), int(m.group(3)))
        if last is not None and p < last:
            die(f"snapshot {s.snapshot_id}: position {pos} before the previous one")
        last = p
    print(len(snaps))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uri", required=True)
    ap.add_argument("--warehouse", required=True)
    ap.add_argument("--catalog", default="default")
    ap.add_argument("--rest", action="store_true", help="URI is a REST catalog's")
    ap.add_argument("--s3-endpoint", help="an S3 warehouse's endpoint (keys from AWS_* variables)")
    ap.add_argument("table")
    ap.add_argument("cmd", choices=["count", "append", "upsert", "summaries"])
    ap.add_argument("--events")
    ap.add_argument("--topic")
    ap.add_argument("--pg")
    ap.add_argument("--key", default="id")
    ap.add_argument("--pipeline")
    args = ap.parse_args()
    tbl = load(args)
    if args.cmd == "count":
        print(len(rows_of(tbl)))
    elif args.cmd == "append":
        cmd_append(args, tbl)
    elif args.cmd == "upsert":
        cmd_upsert(args, tbl)
    else:
        cmd_summaries(args, tbl)


if __name__ == "__main__":
    main()
