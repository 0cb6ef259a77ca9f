#!/usr/bin/env python3
"""dbz_diff.py DEBEZIUM.jsonl CDCAGENT.jsonl: compares two kafka_dump.py dumps record by record,
per topic and partition in offset order: the key and the value (the full JsonConverter JSON),
tombstones, record counts.  Only 260's allow-list may differ (timestamps, source.version, the
snapshot's txId/lsn/sequence).  Prints one DIFF line per difference, then
"COMPARED N records, M differences"; always exits 0 (the caller counts the DIFF lines)."""
import json, sys
from collections import defaultdict
ALLOW = [("*", "ts_ms"), ("*", "ts_us"), ("*", "ts_ns"), ("*", "source.version"),
         ("r", "source.ts_ms"), ("r", "source.ts_us"), ("r", "source.ts_ns"), ("r", "source.txId"),
         ("r", "source.lsn"), ("r", "source.sequence")]
def load(path):
    by = defaultdict(list)
    for line in open(path):
        r = json.loads(line)
        if r["topic"].endswith(".dlq") or r["topic"].startswith("__"):
            continue
        by[(r["topic"], r["partition"])].append(r)
    return by
def strip(v):
    if not isinstance(v, dict) or not isinstance(v.get("payload"), dict):
        return v
    p = v["payload"]
    op = p.get("op")
    for ops, path in ALLOW:
        if ops != "*" and ops != op:
            continue
        node, parts = p, path.split(".")
        for k in parts[:-1]:
            node = node.get(k) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(parts[-1], None)
    return v
def diff(a, b, path, out):
    if type(a) != type(b) or (not isinstance(a, (dict, list)) and a != b):
        out.append((path, a, b))
    elif isinstance(a, dict):
        for k in list(a) + [k for k in b if k not in a]:
            diff(a.get(k, "<absent>"), b.get(k, "<absent>"), path + "." + k, out)
    elif isinstance(a, list):
        if len(a) != len(b):
            out.append((path, "len %d" % len(a), "len %d" % len(b)))
        for i, (x, y) in enumerate(zip(a, b)):
            diff(x, y, "%s[%d]" % (path, i), out)
dbz, cdc = load(sys.argv[1]), load(sys.argv[2])
n = bad = 0
for tp in sorted(set(dbz) | set(cdc)):
    a, b = dbz.get(tp, []), cdc.get(tp, [])
    if len(a) != len(b):
        print("DIFF %s[%d]: %d records from Debezium, %d from cdcagent" % (tp + (len(a), len(b))))
        bad += 1
    for i, (x, y) in enumerate(zip(a, b)):
        n += 1
        out = []
        diff(x["key"], y["key"], "key", out)
        diff(strip(x["value"]), strip(y["value"]), "value", out)
        for path, va, vb in out:
            bad += 1
            print("DIFF %s[%d] #%d %s: debezium=%s cdcagent=%s" % (tp[0], tp[1], i, path,
                  json.dumps(va)[:300], json.dumps(vb)[:300]))
print("COMPARED %d records, %d differences" % (n, bad))
