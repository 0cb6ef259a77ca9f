#!/usr/bin/env bash
# 809: Debezium 2.7.4 (Kafka Connect, signal.data.collection) and cdcagent (direct, jsonl)
# stream the same table and read the same signal row: an execute-snapshot of public.items
# with an additional condition (id % 2 = 0), incremental, chunks of 250, after changes that
# both streamed.  Each writes its own watermark rows into the same signal table and ignores
# the other's.  Checks: the same set of `r` events (key and row) from both, equal to psql's
# rows under the condition; after more changes and a fence row, the same final state from
# both (each one's events replayed per key), equal to psql's rows of the keys read (even ids)
# and the fence.  Needs what 260
# needs (java 17, Maven Central, PyPI), cached.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"
# shellcheck source=SCRIPTDIR/../lib/connect.sh
. "$CDC_SRC/test/lib/connect.sh"
# shellcheck source=SCRIPTDIR/../lib/py.sh
. "$CDC_SRC/test/lib/py.sh"
# shellcheck source=SCRIPTDIR/../lib/kafka.sh
. "$CDC_SRC/test/lib/kafka.sh"

N=${IT_ROWS:-3000}
need_agent
connect_install || fail "connect_install (Kafka Connect + Debezium from Maven Central)"
py_env || fail "py_env (confluent-kafka from PyPI)"
kafka_install || fail "kafka_install"
KDIR=$T/kafka
CDIR=$T/connect
_it809_cleanup() {
    local rc=$?
    set +e
    connect_stop "$CDIR" 2>/dev/null
    kafka_stop "$KDIR" 2>/dev/null
    (exit "$rc")
    _cleanup
}
trap _it809_cleanup EXIT

pg_up
sql "CREATE TABLE items (id int PRIMARY KEY, v text, n int)" \
    "CREATE TABLE dbz_signal (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))" \
    "INSERT INTO items SELECT g, md5(g::text), g * 3 FROM generate_series(1, $N) g"
KPORT=$(free_port)
kafka_start "$KDIR" "$KPORT" || fail "Kafka broker"
BOOT=127.0.0.1:$KPORT
CPORT=$(free_port)
DBZ_EXTRA="signal.data.collection=public.dbz_signal
incremental.snapshot.chunk.size=250" \
DBZ_PORT=$PORT DBZ_PREFIX=cdc DBZ_TABLES=public.items,public.dbz_signal DBZ_SLOT=dbz_slot \
    DBZ_PUB=dbz_publication DBZ_SNAPSHOT=no_data connect_start "$CDIR" "$BOOT" "$CPORT" \
    || fail "Kafka Connect with the Debezium connector (log: $CDIR/connect.log)"
connect_wait_streaming "$CPORT" dbz_slot
ok "Debezium $DBZ_VERSION streams from dbz_slot"

P_TABLES=public.items P_SNAPSHOT=never P_SOURCE_EXTRA="signal_data_collection: public.dbz_signal
incremental_snapshot_chunk_size: 250" write_pipeline
agent_start

sql "UPDATE items SET v = 'before' WHERE id % 10 = 0" "DELETE FROM items WHERE id % 7 = 0"
sql "INSERT INTO dbz_signal VALUES ('snap-809', 'execute-snapshot', '{\"data-collections\": [\"public.items\"], \"type\": \"incremental\", \"additional-conditions\": [{\"data-collection\": \"public.items\", \"filter\": \"id % 2 = 0\"}]}')"
want=$(sql "SELECT count(*) FROM items WHERE id % 2 = 0")
sql "COPY (SELECT id, v, n FROM items WHERE id % 2 = 0 ORDER BY id) TO STDOUT WITH CSV" >"$T/snap.csv"
wait_grep "$T/agent.log" 'incremental snapshot snap-809 done' 120

dbz_dump() { "$PY" "$CDC_SRC/test/lib/kafka_dump.py" --bootstrap "$BOOT" --timeout 10 cdc.public.items 2>/dev/null || true; }
dbz_r() { dbz_dump | "$PY" -c 'import json,sys; print(sum(1 for l in sys.stdin if (json.loads(l).get("value") or {}).get("payload", {}).get("op") == "r"))'; }
deadline=$((SECONDS + 120))
until [ "$(dbz_r)" -ge "$want" ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "Debezium: $(dbz_r) r events of $want after 120 s (log: $CDIR/connect.log)"
    sleep 1
done
sql "UPDATE items SET v = 'after' WHERE id % 4 = 0" "DELETE FROM items WHERE id % 9 = 0" \
    "INSERT INTO items VALUES ($((N + 1)), 'fence', 0)"
wait_grep "$EVENTS" '"v":"fence"' 60
deadline=$((SECONDS + 60))
until dbz_dump | grep -q '"fence"'; do
    [ "$SECONDS" -lt "$deadline" ] || fail "Debezium: no fence after 60 s"
    sleep 0.5
done
agent_stop
connect_stop "$CDIR"
dbz_dump >"$T/dbz.jsonl"
sql "COPY (SELECT id, v, n FROM items ORDER BY id) TO STDOUT WITH CSV" >"$T/final.csv"

"$PY" - "$T/dbz.jsonl" "$EVENTS" "$T/snap.csv" "$T/final.csv" "$N" >"$T/compare.out" 2>&1 <<'PY' || true
import csv, json, sys
def rows(path, kafka):
    out = []
    for line in open(path):
        e = json.loads(line)
        v = e.get("value")
        if kafka:
            v = v.get("payload") if isinstance(v, dict) else None
        if v is None:
            continue            # tombstone
        out.append(v)
    return out
def row(a):
    return None if a is None else (a["id"], a["v"], a["n"])
def final(evs):
    st = {}
    for v in evs:
        if v["op"] == "d":
            st.pop(v["before"]["id"], None)
        else:
            st[v["after"]["id"]] = row(v["after"])
    return sorted(st.values())
dbz, cdc = rows(sys.argv[1], True), rows(sys.argv[2], False)
snap = [(int(a), b, int(c)) for a, b, c in csv.reader(open(sys.argv[3]))]
psql = [(int(a), b, int(c)) for a, b, c in csv.reader(open(sys.argv[4]))]
rd = sorted(row(v["after"]) for v in dbz if v["op"] == "r")
rc = sorted(row(v["after"]) for v in cdc if v["op"] == "r")
print("R debezium=%d cdcagent=%d psql=%d" % (len(rd), len(rc), len(snap)))
print("SAME_R %s" % (rd == rc))
print("R_IS_PSQL %s" % (rc == snap))
print("SAME_FINAL %s" % (final(dbz) == final(cdc)))
# the keys with events: the snapshot's (even ids) and the fence; odd ids were never read
fence = int(sys.argv[5]) + 1
print("FINAL_IS_PSQL %s" % (final(cdc) == [r for r in psql if r[0] % 2 == 0 or r[0] == fence]))
print("INCREMENTAL %s" % all(v["source"]["snapshot"] == "incremental" for v in dbz + cdc if v["op"] == "r"))
PY
cat "$T/compare.out"
expect_contains "Debezium and cdcagent emit the same set of r events" "$(cat "$T/compare.out")" "SAME_R True"
expect_contains "the r events are psql's rows under the condition" "$(cat "$T/compare.out")" "R_IS_PSQL True"
expect_contains "the same final state from both" "$(cat "$T/compare.out")" "SAME_FINAL True"
expect_contains "the final state is psql's rows of the keys read" "$(cat "$T/compare.out")" "FINAL_IS_PSQL True"
expect_contains "both mark the r events incremental" "$(cat "$T/compare.out")" "INCREMENTAL True"
done_testing
