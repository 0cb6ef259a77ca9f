#!/usr/bin/env python3
"""Reads Iceberg tables back through pyiceberg (SqlCatalog, or RestCatalog for http URIs), the platform's own reader.

    iceberg_read.py --uri URI --warehouse WH [--catalog NAME] rows NS.TABLE [--key a,b]
        every row of the current snapshot as one JSON object per line, sorted by the key
        columns (default: the table's identifier fields, else every column in order)
    iceberg_read.py ... snapshots NS.TABLE
        one JSON line per snapshot: snapshot_id, parent_id, sequence_number, timestamp_ms,
        operation, summary (a dict), current (bool)
    iceberg_read.py ... location NS.TABLE      the current metadata location
    iceberg_read.py ... property NS.TABLE KEY  a table property ("" when absent)
    iceberg_read.py ... tables NS              the table names of a namespace, one a line
    iceberg_read.py ... state NS.TABLE [--property KEY] [--column COL]
        what location, property and rows tell, from one load in one process (a test that
        needs several of them at one point starts pyiceberg once): three lines, the
        current metadata location, the property KEY ("" when absent or not asked for), and
        the values of COL (default id) of every row, sorted as rows sorts them, space
        separated

URI is the platform's catalog_uri (sqlite:////abs.db, postgresql://user:pass@host:port/db:
pyiceberg's SqlCatalog; http(s)://host:port: its RestCatalog, with ICE_REST_CREDENTIAL
"id:secret" as the OAuth2 credential when set); CATALOG the catalog_name column (default
"default").  Exit 3 when the table does not exist.
Runs in the venv of test/lib/iceberg.sh (pinned pyiceberg).
"""
import argparse
import base64
import datetime
import decimal
import json
import sys
import uuid


def catalog(args):
    if args.uri.startswith(("http://", "https://")):
        import os
        from pyiceberg.catalog.rest import RestCatalog
        props = {"uri": args.uri}
        if args.warehouse:
            props["warehouse"] = args.warehouse
        if os.environ.get("ICE_REST_CREDENTIAL"):
            props["credential"] = os.environ["ICE_REST_CREDENTIAL"]
        return RestCatalog(args.catalog, **props)
    from pyiceberg.catalog.sql import SqlCatalog
    return SqlCatalog(args.catalog, uri=args.uri, warehouse=args.warehouse)


def plain(v):
    if isinstance(v, (datetime.datetime, datetime.date, datetime.time)):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, (bytes, bytearray)):
        return base64.b64encode(bytes(v)).decode()
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    return v


def sort_key(row, cols):
    # None sorts first, then by type name so mixed types never compare.
    return [(row.get(c) is not None, type(row.get(c)).__name__, row.get(c)) for c in cols]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uri", required=True)
    ap.add_argument("--warehouse", required=True)
    ap.add_argument("--catalog", default="default")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("rows")
    r.add_argument("table")
    r.add_argument("--key", default="")
    s = sub.add_parser("snapshots")
    s.add_argument("table")
    lo = sub.add_parser("location")
    lo.add_argument("table")
    pr = sub.add_parser("property")
    pr.add_argument("table")
    pr.add_argument("key")
    tb = sub.add_parser("tables")
    tb.add_argument("namespace")
    st = sub.add_parser("state")
    st.add_argument("table")
    st.add_argument("--property", default="")
    st.add_argument("--column", default="id")
    args = ap.parse_args()

    from pyiceberg.exceptions import NoSuchTableError
    cat = catalog(args)
    if args.cmd == "tables":
        for ident in cat.list_tables(args.namespace):
            print(ident[-1])
        return 0
    try:
        tbl = cat.load_table(args.table)
    except NoSuchTableError as e:
        print(f"iceberg_read: {e}", file=sys.stderr)
        return 3
    if args.cmd == "location":
        print(tbl.metadata_location)
    elif args.cmd == "property":
        print(tbl.metadata.properties.get(args.key, ""))
    elif args.cmd == "snapshots":
        cur = tbl.metadata.current_snapshot_id
        for snap in tbl.metadata.snapshots:
            summary = snap.summary.model_dump() if snap.summary is not None else {}
            op = summary.pop("operation", None)
            print(json.dumps({
                "snapshot_id": snap.snapshot_id,
                "parent_id": snap.parent_snapshot_id,
                "sequence_number": snap.sequence_number,
                "timestamp_ms": snap.timestamp_ms,
                "operation": str(op.value if hasattr(op, "value") else op) if op is not None else None,
                "summary": {k: str(v) for k, v in summary.items()},
                "current": snap.snapshot_id == cur,
            }, sort_keys=True))
    elif args.cmd == "state":
        print(tbl.metadata_location)
        print(tbl.metadata.properties.get(args.property, "") if args.property else "")
        print(" ".join(str(plain(row[args.column])) for row in sorted_rows(tbl, "")))
    else:
        for row in sorted_rows(tbl, args.key):
            print(json.dumps(plain(row), sort_keys=True))
    return 0


def sorted_rows(tbl, key):
    """The current snapshot's rows, sorted by KEY (columns, comma separated), else by the
    table's identifier fields, else by every column in order."""
    rows = tbl.scan().to_arrow().to_pylist()
    if key:
        cols = key.split(",")
    else:
        schema = tbl.schema()
        cols = [schema.find_column_name(i) for i in schema.identifier_field_ids] or \
            [f.name for f in schema.fields]
    rows.sort(key=lambda row: sort_key(row, cols))
    return rows


if __name__ == "__main__":
    sys.exit(main())
