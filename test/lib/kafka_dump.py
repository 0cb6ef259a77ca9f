#!/usr/bin/env python3
"""Dump every record of the given Kafka topics as JSON lines, in topic, partition, offset order.

    kafka_dump.py --bootstrap HOST:PORT [--prefix P] [TOPIC ...] [--timeout S]

Topics are the ones named, plus (with --prefix) every topic whose name starts with P.  Reads
from the beginning of each partition to the high watermark that stands when the dump starts
(no consumer group: partitions are assigned, nothing is committed).  One line per record:

    {"topic", "partition", "offset", "timestamp": [type, ms], "key", "value", "headers"}

key and value are the record bytes parsed as JSON when they are UTF-8 JSON (the JsonConverter's
output), else {"base64": "..."}; a null key or value (a tombstone) is null.  headers is a list
of [name, value] with the value as a UTF-8 string (or {"base64": ...}, or null).
Needs confluent-kafka (test/lib/py.sh).
"""
import argparse
import base64
import json
import sys
import time

from confluent_kafka import Consumer, KafkaException, TopicPartition


def decode(b, as_json):
    if b is None:
        return None
    try:
        s = b.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(b).decode()}
    if not as_json:
        return s
    try:
        return json.loads(s)
    except ValueError:
        return {"base64": base64.b64encode(b).decode()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--prefix", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("topics", nargs="*")
    a = ap.parse_args()

    c = Consumer({"bootstrap.servers": a.bootstrap, "group.id": "kafka_dump",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "enable.partition.eof": False})
    md = c.list_topics(timeout=a.timeout)
    topics = set(a.topics)
    for t in md.topics:
        if any(t.startswith(p) for p in a.prefix):
            topics.add(t)
    missing = [t for t in a.topics if t not in md.topics]
    if missing:
        sys.exit("kafka_dump: no such topic(s): %s" % ", ".join(missing))

    deadline = time.monotonic() + a.timeout
    for topic in sorted(topics):
        for p in sorted(md.topics[topic].partitions):
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=a.timeout)
            if hi <= lo:
                continue
            c.assign([TopicPartition(topic, p, lo)])
            nxt = lo
            while nxt < hi:
                if time.monotonic() > deadline:
                    sys.exit("kafka_dump: timed out reading %s[%d] at offset %d of %d" % (topic, p, nxt, hi))
                m = c.poll(0.5)
                if m is None:
                    continue
                if m.error():
                    raise KafkaException(m.error())
                nxt = m.offset() + 1
                hdrs = [[k, decode(v, False)] for k, v in (m.headers() or [])]
                ts = m.timestamp()
                print(json.dumps({"topic": m.topic(), "partition": m.partition(), "offset": m.offset(),
                                  "timestamp": [ts[0], ts[1]], "key": decode(m.key(), True),
                                  "value": decode(m.value(), True), "headers": hdrs},
                                 separators=(",", ":"), ensure_ascii=False))
            c.unassign()
    c.close()


if __name__ == "__main__":
    main()
