#!/usr/bin/env python3
"""Reads what cdcagent's Pub/Sub transport published to the TEST DOUBLE (test/doubles/pubsub.py),
through its pull API, and checks it (integration tests 520-524).

    pubsub_read.py pull HOST PROJECT OUT SUB...
        pulls and acknowledges everything the subscriptions have now and appends one
        normalised line a message to OUT; prints how many lines OUT holds.
        Line: {"sub", "id", "okey" (orderingKey or null), "attrs", "data" (text; "" empty;
        "base64:..." when not UTF-8),
        "lsn", "seq" (from cdc.commit_lsn / cdc.seq), "op" (value.payload.op, "T" for a
        tombstone, null otherwise), "key" (the id of the key payload or null), "table"}.
    pubsub_read.py order FILE [--dups]
        per (subscription, ordering key) the positions (lsn, seq) strictly increase in
        delivery order; with --dups a position seen before may come again (a re-publish
        after a crash) but nothing new may come before an older one.  Prints
        "keys N messages M duplicates D".
    pubsub_read.py ops FILE EXPECTED.json SOURCE.json [--no-tombstones]
        with kafka_load.py's expected ops per "table:id" (c, u, d, T): each position once
        (duplicates by position dropped and counted), the ops per key as expected, the
        replayed after-images equal SOURCE.json's rows.  Prints "duplicates D".
        --no-tombstones: expect none (ordering off: the transport sends no tombstones).
    pubsub_read.py dupbound FILE N1:LSN1 [N2:LSN2 ...]
        after kill i, FILE held Ni lines and the slot was confirmed up to LSNi (a number):
        PostgreSQL sends again every transaction whose commit LSN is >= LSNi, so only
        positions among the first Ni lines with lsn >= LSNi may come twice.  Fails when a
        duplicate is not one of those or there are more than their count.  Prints
        "duplicates D bound B".
"""
import base64
import http.client
import json
import sys


def call(host, sub, verb, body):
    c = http.client.HTTPConnection(host, timeout=30)
    c.request("POST", "/v1/%s:%s" % (sub, verb), json.dumps(body),
              {"Content-Type": "application/json"})
    r = c.getresponse()
    out = r.read()
    if r.status != 200:
        sys.exit("pubsub_read: %s %s: HTTP %d: %s" % (verb, sub, r.status, out[:300]))
    return json.loads(out or b"{}")


def norm(sub, m):
    raw = base64.b64decode(m.get("data", ""))
    try:
        data = raw.decode("utf-8")
    except UnicodeDecodeError:      # Avro: binary, kept as base64
        data = "base64:" + m["data"]
    attrs = m.get("attributes", {})
    op, key, table = None, None, None
    if data and not data.startswith("base64:"):
        try:
            v = json.loads(data)
            p = v.get("payload", v) if isinstance(v, dict) else None
            if isinstance(p, dict):
                op = p.get("op")
                row = p.get("after") or p.get("before") or {}
                key = row.get("id")
                src = p.get("source") or {}
                table = src.get("table")
        except ValueError:
            pass
    elif not data:
        op = "T"
    if key is None and m.get("orderingKey") not in (None, "", "default"):
        try:
            k = json.loads(m["orderingKey"])
            k = k.get("payload", k)
            key = k.get("id")
        except (ValueError, AttributeError):
            pass
    return {"sub": sub, "id": m.get("messageId"), "okey": m.get("orderingKey"),
            "attrs": attrs, "data": data, "op": op, "key": key, "table": table,
            "lsn": int(attrs.get("cdc.commit_lsn", "0")), "seq": int(attrs.get("cdc.seq", "0"))}


def pull(host, project, out, subs):
    with open(out, "a") as f:
        for s in subs:
            sub = "projects/%s/subscriptions/%s" % (project, s)
            while True:
                got = call(host, sub, "pull", {"maxMessages": 1000,
                                               "returnImmediately": True}).get("receivedMessages", [])
                if not got:
                    break
                for m in got:
                    f.write(json.dumps(norm(s, m["message"]), sort_keys=True) + "\n")
                call(host, sub, "acknowledge", {"ackIds": [m["ackId"] for m in got]})
    print(sum(1 for _ in open(out)))


def load(path):
    return [json.loads(line) for line in open(path) if line.strip()]


def order(path, dups):
    recs = load(path)
    last, seen, nd, bad = {}, set(), 0, []
    for r in recs:
        k = (r["sub"], r["okey"])
        pos = (r["lsn"], r["seq"])
        if (r["sub"], pos) in seen:
            nd += 1
            if not dups:
                bad.append("duplicate %s %s" % (k, pos))
            continue
        seen.add((r["sub"], pos))
        if k in last and pos <= last[k]:
            bad.append("key %s: %s after %s" % (k, pos, last[k]))
        last[k] = pos
    if bad:
        sys.exit("order: %d problems, first: %s" % (len(bad), "; ".join(bad[:5])))
    print("keys %d messages %d duplicates %d" % (len(last), len(recs), nd))


def ops(path, expected_path, source_path, no_tombstones=False):
    exp = json.load(open(expected_path))
    if no_tombstones:
        exp = {k: [o for o in v if o != "T"] for k, v in exp.items()}
    src = json.load(open(source_path))
    got, seen, nd, rows = {}, set(), 0, {}
    for r in load(path):
        pos = (r["sub"], r["lsn"], r["seq"])
        if pos in seen:
            nd += 1
            continue
        seen.add(pos)
        table = r["sub"].split("-")[2]
        got.setdefault("%s:%s" % (table, r["key"]), []).append((r["lsn"], r["seq"], r["op"]))
        if r["op"] in ("c", "u", "r"):
            v = json.loads(r["data"])
            rows.setdefault(table, {})[r["key"]] = v.get("payload", v)["after"]
        elif r["op"] == "d":
            rows.setdefault(table, {}).pop(r["key"], None)
    bad = []
    for k, want in exp.items():
        have = [o for _, _, o in sorted(got.get(k, []))]
        if have != want:
            bad.append("%s: %s, expected %s" % (k, have, want))
    for k in got:
        if k not in exp:
            bad.append("%s: unexpected" % k)
    for table, want in src.items():
        have = sorted(rows.get(table, {}).values(), key=lambda r: r["id"])
        want = sorted(want, key=lambda r: r["id"])
        if have != want:
            bad.append("table %s: replay has %d rows, source %d (or values differ)" %
                       (table, len(have), len(want)))
    if bad:
        sys.exit("ops: %d problems, first: %s" % (len(bad), "; ".join(bad[:5])))
    print("duplicates %d" % nd)


def dupbound(path, kills):
    recs = load(path)
    allowed, bound = set(), 0
    for k in kills:
        n, lsn = (int(x) for x in k.split(":"))
        now = {(r["sub"], r["lsn"], r["seq"]) for r in recs[:n] if r["lsn"] >= lsn}
        bound += len(now)
        allowed |= now
    seen, dups, bad = set(), 0, []
    for r in recs:
        pos = (r["sub"], r["lsn"], r["seq"])
        if pos in seen:
            dups += 1
            if pos not in allowed:
                bad.append(pos)
        seen.add(pos)
    if bad:
        sys.exit("dupbound: %d duplicates of positions the slot had confirmed, first %s" %
                 (len(bad), bad[:3]))
    if dups > bound:
        sys.exit("dupbound: %d duplicates, more than the %d unconfirmed positions" % (dups, bound))
    print("duplicates %d bound %d" % (dups, bound))


def main():
    cmd = sys.argv[1]
    if cmd == "pull":
        pull(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    elif cmd == "order":
        order(sys.argv[2], "--dups" in sys.argv[3:])
    elif cmd == "dupbound":
        dupbound(sys.argv[2], sys.argv[3:])
    elif cmd == "ops":
        ops(sys.argv[2], sys.argv[3], sys.argv[4], "--no-tombstones" in sys.argv[5:])
    else:
        sys.exit("pubsub_read.py: unknown command %s" % cmd)


if __name__ == "__main__":
    main()
