#!/usr/bin/env python3
"""Reads what test/bench/iceberg_bench.sh's agent runs wrote, with pyiceberg 0.12 (the table,
its snapshots and manifests, position deletes applied by its scan) and pyarrow (each data
file's rows): independent of the agent's own reader.

    iceberg_bench.py --uri URI --warehouse WH count NS.TABLE
        one line: "rows R distinct_ids D snapshots S data_files F delete_files X bytes B"
        (R: the rows pyiceberg's scan returns, D: distinct values of column id among them;
        F: the live data files of the current snapshot, X: the position-delete files that
        apply to them, B: the data files' total size) and
        "md5 M": the md5 of the lines "id|k|payload|amount" of every row ordered by id, which
        iceberg_bench.sh compares with the same digest computed by the source PostgreSQL
    iceberg_bench.py ... latency NS.TABLE SRC_TS FIRST N
        the steady run's commit-to-visible latency.  SRC_TS: "id<TAB>epoch seconds" lines,
        the source's commit time of every row with id >= FIRST (pg_xact_commit_timestamp).
        A row is visible from the first snapshot whose added data files hold it (its
        timestamp-ms); every data file is read with pyarrow.  Checks that each of the N
        source rows is in exactly one data file, then prints the percentiles, the number of
        snapshots and rows per snapshot, and how far the rows' _cdc_ts (the commit time as
        the agent decoded it) is from the source's commit time.
Runs in the venv of test/lib/iceberg.sh.
"""
import argparse
import hashlib
import sys


def die(msg):
    print("iceberg_bench.py: " + msg, file=sys.stderr)
    sys.exit(1)


def load(args):
    from pyiceberg.catalog.sql import SqlCatalog
    return SqlCatalog("default", uri=args.uri, warehouse=args.warehouse).load_table(args.table)


def local(path):
    return path[len("file://"):] if path.startswith("file://") else path


def count(args):
    import pyarrow.compute as pc
    t = load(args)
    tab = t.scan(selected_fields=("id", "k", "payload", "amount")).to_arrow().sort_by("id")
    ids = tab.column("id")
    h = hashlib.md5()
    for i, k, p, a in zip(ids.to_pylist(), tab.column("k").to_pylist(),
                          tab.column("payload").to_pylist(), tab.column("amount").to_pylist()):
        h.update(("%d|%d|%s|%s\n" % (i, k, p, a)).encode())
    nfiles = nbytes = 0
    dels = set()
    for task in t.scan().plan_files():
        nfiles += 1
        nbytes += task.file.file_size_in_bytes
        dels.update(d.file_path for d in task.delete_files)
    ndel = len(dels)
    print("rows %d distinct_ids %d snapshots %d data_files %d delete_files %d bytes %d md5 %s" %
          (len(ids), pc.count_distinct(ids).as_py(), len(t.metadata.snapshots), nfiles, ndel,
           nbytes, h.hexdigest()))


def latency(args):
    import pyarrow.parquet as pq
    from pyiceberg.manifest import DataFileContent, ManifestContent
    t = load(args)
    first = {}      # data file path -> timestamp_ms of the first snapshot that holds it
    snap_rows = []
    for s in sorted(t.metadata.snapshots, key=lambda s: s.timestamp_ms):
        if s.summary is not None and s.summary.get("added-records") is not None:
            snap_rows.append(int(s.summary.get("added-records")))
        for m in s.manifests(t.io):
            if m.content != ManifestContent.DATA:
                continue
            for e in m.fetch_manifest_entry(t.io, discard_deleted=True):
                if e.data_file.content == DataFileContent.DATA:
                    first.setdefault(e.data_file.file_path, s.timestamp_ms)
    src = {}
    with open(args.src_ts) as f:
        for line in f:
            if line.strip():
                k, v = line.split("\t")
                src[int(k)] = float(v) * 1000.0
    lat, skew, seen = [], [], set()
    for path, ts_ms in first.items():
        tab = pq.read_table(local(path), columns=["id", "_cdc_ts"])
        for i, cts in zip(tab.column("id").to_pylist(), tab.column("_cdc_ts").to_pylist()):
            if i < args.first:
                continue
            if i in seen:
                die("row id %d is in two data files" % i)
            seen.add(i)
            if i not in src:
                die("row id %d is in the table but not in the source" % i)
            lat.append(ts_ms - src[i])
            skew.append(abs(cts.timestamp() * 1000.0 - src[i]))
    if len(seen) != args.n:
        die("the table holds %d of the %d steady rows" % (len(seen), args.n))
    lat.sort()
    pct = lambda p: lat[min(len(lat) - 1, int(p / 100.0 * len(lat)))]
    print("commit-to-visible latency, ms:  p50 %.0f  p95 %.0f  p99 %.0f  max %.0f" %
          (pct(50), pct(95), pct(99), lat[-1]))
    steady_snaps = len(snap_rows)
    print("snapshots %d, rows per snapshot: min %d max %d; _cdc_ts vs source commit time: "
          "max %.3f ms apart" % (steady_snaps, min(snap_rows or [0]), max(snap_rows or [0]),
                                 max(skew)))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uri", required=True)
    ap.add_argument("--warehouse", required=True)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("count")
    c.add_argument("table")
    la = sub.add_parser("latency")
    la.add_argument("table")
    la.add_argument("src_ts")
    la.add_argument("first", type=int)
    la.add_argument("n", type=int)
    args = ap.parse_args()
    {"count": count, "latency": latency}[args.cmd](args)


if __name__ == "__main__":
    main()
