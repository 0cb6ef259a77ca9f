#!/usr/bin/env bash
# 511: the reference for the Kinesis transport: Debezium Server 2.7.3 (Maven Central; same
# major as our Debezium profile) with its Kinesis sink, pointed at moto (test/lib/moto.sh,
# test/lib/dbz_server.sh).  Snapshot of two rows, then an insert, an update and a delete;
# read back with aws_read.py.  Records what Debezium Server writes, for the transport's
# comparison: stream "{prefix}.{schema}.{table}", partition key = the JsonConverter key WITH
# its schema (so it grows with the key's columns; Kinesis refuses keys over 256 characters),
# one shard per key in order, and the delete's tombstone as a record with EMPTY data.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/moto.sh"
. "$CDC_SRC/test/lib/dbz_server.sh"

MDIR=$T/moto
DDIR=$T/dbzs
trap '_rc=$?; dbzs_stop "$DDIR" >/dev/null 2>&1; moto_kill "$MDIR" >/dev/null 2>&1; set +e; (exit $_rc); _cleanup' EXIT

pg_up
sql "CREATE TABLE items (id int PRIMARY KEY, name text)"
sql "INSERT INTO items VALUES (1, 'one'), (2, 'two')"
moto_start "$MDIR" "$(free_port)"
"$MOTO_PY" "$MOTO_AWS_READ" create-stream it.public.items 2 >/dev/null
ok "moto $MOTO_VERSION, stream it.public.items with 2 shards"

DBZ_PORT=$PORT DBZ_PREFIX=it DBZ_TABLES=public.items dbzs_start "$DDIR"
ok "Debezium Server $DBZS_VERSION streams into moto"
sql "INSERT INTO items VALUES (3, 'three')"
sql "UPDATE items SET name = 'uno' WHERE id = 1"
sql "DELETE FROM items WHERE id = 2"
for _ in $(seq 120); do
    "$MOTO_PY" "$MOTO_AWS_READ" read it.public.items >"$T/read.jsonl"
    [ "$(line_count "$T/read.jsonl")" -ge 6 ] && break
    sleep 0.5
done
expect_eq "6 records (2 snapshot reads, c, u, d, tombstone)" "$(line_count "$T/read.jsonl")" 6
expect_eq "no PutRecord failed" "$(grep -c 'Failed to send' "$DDIR/server.log" || true)" 0

q() { "$MOTO_PY" -c "
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
for r in recs:
    r['k'] = json.loads(r['key'])
    r['v'] = json.loads(r['data']) if r['data'] else None
$1" "$T/read.jsonl"; }

expect_eq "per key, in shard order: ops" "$(q '
by = {}
for r in recs:
    by.setdefault(r["k"]["payload"]["id"], []).append(r)
print(sorted((i, len({r["shard"] for r in v}), [r["v"]["payload"]["op"] if r["v"] else None for r in v]) for i, v in by.items()))')" \
    "[(1, 1, ['r', 'u']), (2, 1, ['r', 'd', None]), (3, 1, ['c'])]"
expect_eq "partition key is the JsonConverter key with schema" "$(q '
r = recs[0]; print(sorted(r["k"]), r["k"]["schema"]["name"], len(r["key"]))')" \
    "['payload', 'schema'] it.public.items.Key 151"
expect_eq "tombstone: empty data, same partition key" "$(q '
t = [r for r in recs if not r["data_b64"]]
d = [r for r in recs if r["v"] and r["v"]["payload"]["op"] == "d"]
print(len(t), t[0]["key"] == d[0]["key"], t[0]["data"] == "")')" "1 True True"
expect_eq "value: Envelope with schema, source.version $DBZS_VERSION" "$(q '
v = [r["v"] for r in recs if r["v"] and r["v"]["payload"]["op"] == "c"][0]
print(v["schema"]["name"], v["payload"]["source"]["version"], v["payload"]["after"])')" \
    "it.public.items.Envelope $DBZS_VERSION {'id': 3, 'name': 'three'}"
cp "$T/read.jsonl" "$T/debezium-server-kinesis.jsonl"
note "records in $T/debezium-server-kinesis.jsonl (KEEP_TMP=1 keeps them)"
dbzs_stop "$DDIR"
ok "Debezium Server stopped"
done_testing
