#!/usr/bin/env python3
"""Writes Iceberg tables through pyiceberg's SqlCatalog, as the other writer in catalog tests.

    iceberg_write.py --uri URI --warehouse WH [--catalog NAME] create NS.TABLE
        creates the namespace when missing and the table (id long required, the identifier
        field; name string); prints the metadata location
    iceberg_write.py ... append NS.TABLE ID NAME [--race CMD] [--retries N]
        appends one row with pyiceberg's own commit.  --race: CMD (a shell command: another
        writer's commit) runs once, after pyiceberg has loaded the table and written its new
        metadata file and before its UPDATE of iceberg_tables, so pyiceberg's compare-and-swap
        loses.  pyiceberg 0.12 then retries by itself (it refreshes the table and commits
        again, logging "Commit failed due to a concurrent update, retrying (1/N)" on stderr)
        up to the table property commit.retry.num-retries, default 4; --retries N replaces
        that default (0: the CommitFailedException is reported and the exit status is 5).

URI and CATALOG as in iceberg_read.py.  Runs in the venv of test/lib/iceberg.sh.
"""
import argparse
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uri", required=True)
    ap.add_argument("--warehouse", required=True)
    ap.add_argument("--catalog", default="default")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("create")
    c.add_argument("table")
    a = sub.add_parser("append")
    a.add_argument("table")
    a.add_argument("id", type=int)
    a.add_argument("name")
    a.add_argument("--race", default=None)
    a.add_argument("--retries", type=int, default=None)
    args = ap.parse_args()

    import pyarrow as pa
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.exceptions import CommitFailedException
    from pyiceberg.schema import Schema
    from pyiceberg.types import LongType, NestedField, StringType

    cat = SqlCatalog(args.catalog, uri=args.uri, warehouse=args.warehouse)
    if args.cmd == "create":
        ns = args.table.rsplit(".", 1)[0]
        cat.create_namespace_if_not_exists(ns)
        schema = Schema(NestedField(1, "id", LongType(), required=True),
                        NestedField(2, "name", StringType(), required=False),
                        identifier_field_ids=[1])
        tbl = cat.create_table(args.table, schema=schema)
        print(tbl.metadata_location)
        return 0

    raced = [False]
    if args.race:
        orig = SqlCatalog._write_metadata

        def write_then_race(*a, **kw):  # a staticmethod in pyiceberg 0.12
            orig(*a, **kw)
            if not raced[0]:
                raced[0] = True
                subprocess.run(args.race, shell=True, check=True)
        SqlCatalog._write_metadata = staticmethod(write_then_race)

    if args.retries is not None:
        from pyiceberg.table import TableProperties
        TableProperties.COMMIT_NUM_RETRIES_DEFAULT = args.retries

    arrow_schema = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("name", pa.string())])
    rows = pa.Table.from_pylist([{"id": args.id, "name": args.name}], schema=arrow_schema)
    tbl = cat.load_table(args.table)
    try:
        tbl.append(rows)
    except CommitFailedException as e:
        print(f"iceberg_write: CommitFailedException: {e}", file=sys.stderr)
        return 5
    return 0


if __name__ == "__main__":
    sys.exit(main())
