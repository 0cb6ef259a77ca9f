#!/usr/bin/env python3
"""Checks on a kafka_probe dump (JSON lines) for the Kafka integration tests.

    kafka_records.py check-partitions NPARTS < dump   every keyed record is in the partition the
                                                      Java producer's default partitioner picks
    kafka_records.py exactly-once < dump              no (topic, commit_lsn, seq) twice; per
                                                      partition positions strictly increase
    kafka_records.py ids TOPIC OP < dump              sorted payload ids of records with value.op

murmur2 is Kafka's org.apache.kafka.common.utils.Utils.murmur2, written out independently of
librdkafka so that the partition check means something; Utils.toPositive(h) % n is the
partition (BuiltInPartitioner.partitionForKey).
"""
import json
import sys


def murmur2(data: bytes) -> int:
    length = len(data)
    seed = 0x9747B28C
    m = 0x5BD1E995
    r = 24
    h = (seed ^ length) & 0xFFFFFFFF
    length4 = length // 4
    for i in range(length4):
        i4 = i * 4
        k = (data[i4] & 0xFF) + ((data[i4 + 1] & 0xFF) << 8) + \
            ((data[i4 + 2] & 0xFF) << 16) + ((data[i4 + 3] & 0xFF) << 24)
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    rest = length % 4
    base = length & ~3
    if rest == 3:
        h ^= (data[base + 2] & 0xFF) << 16
    if rest >= 2:
        h ^= (data[base + 1] & 0xFF) << 8
    if rest >= 1:
        h ^= data[base] & 0xFF
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h  # as unsigned 32 bits; Java's int is the same bits


def partition_for(key: bytes, n: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % n


def records():
    return [json.loads(line) for line in sys.stdin if line.strip()]


def main():
    cmd = sys.argv[1]
    recs = records()
    if cmd == "check-partitions":
        # Known answers from Kafka's UtilsTest.testMurmur2 keep the hash honest.
        assert murmur2(b"21") == (-973932308) & 0xFFFFFFFF
        assert murmur2(b"foobar") == (-790332482) & 0xFFFFFFFF
        n = int(sys.argv[2])
        bad = [(r["topic"], r["offset"], r["partition"]) for r in recs
               if r["key"] is not None
               and partition_for(r["key"].encode(), n) != r["partition"]]
        print(f"# {len(recs)} records, {len(bad)} in the wrong partition {bad[:5]}")
        sys.exit(1 if bad else 0)
    if cmd == "exactly-once":
        seen = {}
        last = {}
        dups = []
        order = []
        for r in sorted(recs, key=lambda r: (r["topic"], r["partition"], r["offset"])):
            h = r["headers"]
            pos = (int(h["cdc.commit_lsn"]), int(h["cdc.seq"]))
            k = (r["topic"], pos)
            if k in seen:
                dups.append(k)
            seen[k] = True
            tp = (r["topic"], r["partition"])
            if tp in last and last[tp] >= pos:
                order.append((tp, last[tp], pos))
            last[tp] = pos
        print(f"# {len(recs)} records, {len(dups)} duplicated, {len(order)} out of order "
              f"{dups[:3]} {order[:3]}")
        sys.exit(1 if dups or order else 0)
    if cmd == "ids":
        topic, op = sys.argv[2], sys.argv[3]
        ids = []
        for r in recs:
            if r["topic"] != topic or r["value"] is None:
                continue
            v = json.loads(r["value"])
            p = v.get("payload", v)
            if p["op"] == op:
                ids.append((p["after"] or p["before"])["id"])
        print(" ".join(str(i) for i in sorted(ids)))
        return
    sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
