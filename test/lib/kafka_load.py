#!/usr/bin/env python3
"""A deterministic mixed load for the agent's Kafka fault tests (240, 245), and its checks.

    kafka_load.py gen STEPS SEED OUTDIR [CHUNKS]
        writes OUTDIR/load.N.sql (CHUNKS psql scripts, split by step, for cdc_user in
        cdc_demo on tables items(id int PK, batch int, payload text) and
        accounts(id int PK, balance int)) and OUTDIR/expected.json: for every
        "table:id", the ops its topic must carry in order (c, u, d, T = tombstone).
        Most steps are one insert; every 10th is a transaction of 3 items + 2 accounts
        inserts and an update of an earlier account; every 7th step updates an earlier
        item, every 11th deletes one, every 23rd deletes an account.

    kafka_load.py from-dump < kafka_probe-dump        normalise a JsonConverter dump
    kafka_load.py check EXPECTED.json SOURCE.json NPARTS < normalised
        every change exactly once, ops per key as expected, positions (cdc.commit_lsn,
        cdc.seq) strictly increasing per partition and unique per topic, partition ==
        murmur2(raw key) % NPARTS, and the replayed after-images equal the source rows.

Normalised record (one JSON line): {"topic", "partition", "offset", "table", "id", "op",
"after", "headers", "keyhex"}; op is c/u/d/r or T for a tombstone.
"""
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kafka_records import murmur2  # noqa: E402


def gen(steps, seed, outdir, chunks=1):
    rnd = random.Random(seed)
    exp = {}
    alive = {"items": [], "accounts": []}
    nxt = {"items": 1, "accounts": 1}
    out = [[] for _ in range(chunks)]

    def ins(t, lines):
        i = nxt[t]
        nxt[t] += 1
        if t == "items":
            lines.append(f"INSERT INTO items VALUES ({i}, {i % 97}, 'p{i}');")
        else:
            lines.append(f"INSERT INTO accounts VALUES ({i}, {i * 10});")
        alive[t].append(i)
        exp.setdefault(f"{t}:{i}", []).append("c")

    def upd(t, lines):
        if not alive[t]:
            return
        i = rnd.choice(alive[t])
        col = "batch" if t == "items" else "balance"
        lines.append(f"UPDATE {t} SET {col} = {col} + 1000 WHERE id = {i};")
        exp[f"{t}:{i}"].append("u")

    def dele(t, lines):
        if len(alive[t]) < 5:
            return
        i = alive[t].pop(rnd.randrange(len(alive[t]) - 3))  # not the newest few
        lines.append(f"DELETE FROM {t} WHERE id = {i};")
        exp[f"{t}:{i}"] += ["d", "T"]

    for s in range(1, steps + 1):
        lines = out[min(chunks - 1, (s - 1) * chunks // steps)]
        if s % 10 == 0:
            lines.append("BEGIN;")
            for _ in range(3):
                ins("items", lines)
            for _ in range(2):
                ins("accounts", lines)
            upd("accounts", lines)
            lines.append("COMMIT;")
        else:
            ins("items", lines)
        if s % 7 == 0:
            upd("items", lines)
        if s % 11 == 0:
            dele("items", lines)
        if s % 23 == 0:
            dele("accounts", lines)
        lines.append("SELECT pg_sleep(0.004);")
    for n, lines in enumerate(out, 1):
        with open(os.path.join(outdir, f"load.{n}.sql"), "w") as f:
            f.write("\n".join(lines) + "\n")
    with open(os.path.join(outdir, "expected.json"), "w") as f:
        json.dump(exp, f)
    print(sum(len(v) for v in exp.values()))  # the number of records to expect


def from_dump():
    for line in sys.stdin:
        if not line.strip():
            continue
        r = json.loads(line)
        key = json.loads(r["key"])
        key = key.get("payload", key) if "schema" in key else key
        if r["value"] is None:
            op, after = "T", None
        else:
            v = json.loads(r["value"])
            v = v["payload"] if "schema" in v and "payload" in v else v
            op, after = v["op"], v["after"]
        print(json.dumps({"topic": r["topic"], "partition": r["partition"],
                          "offset": r["offset"], "table": r["topic"].rsplit(".", 1)[1],
                          "id": key["id"], "op": op, "after": after, "headers": r["headers"],
                          "keyhex": r["key"].encode().hex()}))


def check(expected_path, source_path, nparts):
    with open(expected_path) as f:
        exp = json.load(f)
    with open(source_path) as f:
        src = json.load(f)  # {"items": [{"id":..,"batch":..,"payload":..}], "accounts": [...]}
    recs = [json.loads(line) for line in sys.stdin if line.strip()]
    recs.sort(key=lambda r: (r["topic"], r["partition"], r["offset"]))
    errors = []
    # 1. ops per key, in the partition's order
    got = {}
    for r in recs:
        got.setdefault(f"{r['table']}:{r['id']}", []).append(r["op"])
    missing = [k for k in exp if k not in got]
    extra = [k for k in got if k not in exp]
    wrong = [(k, got[k], exp[k]) for k in exp if k in got and got[k] != exp[k]]
    if missing or extra or wrong:
        errors.append(f"ops per key: {len(missing)} keys missing {missing[:5]}, {len(extra)} "
                      f"unexpected {extra[:5]}, {len(wrong)} wrong {wrong[:5]}")
    nexp = sum(len(v) for v in exp.values())
    if len(recs) != nexp:
        errors.append(f"{len(recs)} records, expected {nexp}")
    # 2. positions: unique per topic, strictly increasing per partition
    seen, last, dups, order = set(), {}, [], []
    for r in recs:
        pos = (int(r["headers"]["cdc.commit_lsn"]), int(r["headers"]["cdc.seq"]))
        if (r["topic"], pos) in seen:
            dups.append((r["topic"], pos))
        seen.add((r["topic"], pos))
        tp = (r["topic"], r["partition"])
        if tp in last and last[tp] >= pos:
            order.append((tp, last[tp], pos))
        last[tp] = pos
    if dups or order:
        errors.append(f"positions: {len(dups)} duplicated {dups[:3]}, {len(order)} out of "
                      f"order {order[:3]}")
    # 3. partitions: Kafka's Java murmur2 of the raw key bytes
    badp = [(r["topic"], r["offset"], r["partition"]) for r in recs
            if (murmur2(bytes.fromhex(r["keyhex"])) & 0x7FFFFFFF) % nparts != r["partition"]]
    if badp:
        errors.append(f"partitions: {len(badp)} records not in murmur2(key) % {nparts}: {badp[:5]}")
    used = {(r["topic"], r["partition"]) for r in recs}
    # 4. replaying the topics gives the source tables
    for table, rows in src.items():
        state = {}
        for r in recs:
            if r["table"] != table:
                continue
            if r["op"] in ("c", "u", "r"):
                state[r["id"]] = r["after"]
            elif r["op"] == "d":
                state.pop(r["id"], None)
        want = {row["id"]: row for row in rows}
        if set(state) != set(want):
            errors.append(f"{table}: replayed ids differ from the source: only in Kafka "
                          f"{sorted(set(state) - set(want))[:5]}, only in the source "
                          f"{sorted(set(want) - set(state))[:5]}")
            continue
        diff = [(i, state[i], want[i]) for i in want
                if any(state[i].get(c) != v for c, v in want[i].items())]
        if diff:
            errors.append(f"{table}: {len(diff)} rows differ from the source: {diff[:3]}")
    print(f"# {len(recs)} records in {len(used)} partitions, {len(exp)} keys; "
          f"{'OK' if not errors else 'ERRORS:'}")
    for e in errors:
        print("# " + e)
    sys.exit(1 if errors else 0)


def main():
    cmd = sys.argv[1]
    if cmd == "gen":
        gen(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4],
            int(sys.argv[5]) if len(sys.argv) > 5 else 1)
    elif cmd == "from-dump":
        from_dump()
    elif cmd == "check":
        check(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
