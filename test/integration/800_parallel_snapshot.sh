#!/usr/bin/env bash
# 800: the initial snapshot of one table read by 1, 2 and 4 threads (source.snapshot_max_threads,
# chunks of ctid ranges in the slot's exported snapshot), with updates, deletes and inserts
# running while it is read.  For each thread count, against psql: every row of the snapshot
# exactly once, in the table's physical order (chunks in order), values as psql shows them;
# the stream after it (no gap, no overlap) replayed over the snapshot gives the table psql shows
# at the end; the markers first ... last as Debezium 2.7 sets them; positions increasing.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

N=${IT_SNAPSHOT_ROWS:-300000}
pg_up
sql "CREATE TABLE big (id int8 PRIMARY KEY, n int, s text)" \
    "ALTER TABLE big SET (autovacuum_enabled = false)" \
    "CREATE TABLE side (id int PRIMARY KEY)"
# fill: the same rows before each run (no slot exists then, so nothing streams them)
fill() {
    sql "TRUNCATE big, side" \
        "INSERT INTO big SELECT i, i % 1000, 'r' || i || E'\\t' || repeat('x', i % 7)
           FROM generate_series(1, $N) i" \
        "INSERT INTO side VALUES (1), (2)"
    note "table big: $N rows, $(sql "SELECT pg_relation_size('big') / 8192") pages"
}

# The writer: one transaction after another, from before the slot exists until after the
# snapshot, each touching both ends of the table (some land in chunks not read yet, some in
# chunks already read) and never the ids N/4 .. N/2 - 1, whose snapshot values are checked.
writer() {
    local i=0
    while [ ! -f "$T/stop_writer" ]; do
        i=$((i + 1))
        sql "BEGIN; UPDATE big SET n = n + 1 WHERE id IN ($i, $((N - i)));
             DELETE FROM big WHERE id = $((N / 2 + i));
             INSERT INTO big VALUES ($((N + i)), -1, 'new $i'); COMMIT" >/dev/null || return 0
    done
}

for threads in 1 2 4; do
    note "---- snapshot_max_threads $threads"
    rm -f "$T/stop_writer"
    fill
    EVENTS=$T/events_$threads.jsonl
    P_TABLES="public.big, public.side" P_SLOT=slot_$threads \
        P_SOURCE_EXTRA=$'snapshot_max_threads: '"$threads"$'\nsnapshot_chunk_mb: 1' write_pipeline
    write_platform
    snapshot_under_writer "slot_$threads" "$N" 120 writer
    sql "INSERT INTO side VALUES (900000000 + $threads)"   # a last change to wait for
    last=$(sql "SELECT count(*) FROM big")
    note "rows at the end: $last"
    sql "COPY big TO STDOUT" >"$T/after_$threads.tsv"
    # wait until the stream caught up: the side insert is the last change
    deadline=$((SECONDS + 60))
    until grep -q "\"after\":{\"id\":$((900000000 + threads))}" "$EVENTS" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || fail "the stream never caught up with the side insert"
        sleep 0.2
    done
    agent_stop
    grep -q "$threads thread" "$T/agent.log" || fail "the log does not say $threads thread(s)"
    python3 - "$EVENTS" "$T/after_$threads.tsv" "$N" <<'PY' || fail "threads $threads: see above"
import json, sys
path, after, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def unesc(s):
    return s.replace("\\t", "\t").replace("\\\\", "\\")
evs = [json.loads(l) for l in open(path) if l.strip()]
data = [e for e in evs if e.get("value") is not None]
big = [e for e in data if e["value"]["source"]["table"] == "big"]
snap = [e for e in big if e["value"]["op"] == "r"]
ids = [e["key"]["id"] for e in snap]
bad = []
# rows the writer never touched: all there, in the table's physical order (= id order)
if len(ids) != len(set(ids)):
    bad.append("snapshot has %d rows but %d distinct ids" % (len(ids), len(set(ids))))
quiet = [i for i in ids if n // 4 <= i < n // 2]
if quiet != list(range(n // 4, n // 2)):
    bad.append("the untouched ids %d..%d are not all in the snapshot in physical order "
               "(%d of %d; chunks out of order?)" % (n // 4, n // 2 - 1, len(quiet), n // 2 - n // 4))
for e in snap:
    a = e["value"]["after"]; i = a["id"]
    if n // 4 <= i < n // 2 and (a["n"], a["s"]) != (i % 1000, "r%d\t%s" % (i, "x" * (i % 7))):
        bad.append("snapshot row %d differs from what was inserted: %r" % (i, a)); break
marks = [e["value"]["source"]["snapshot"] for e in snap]
if marks[0] != "first" or marks[-1] != "last_in_data_collection" or set(marks[1:-1]) != {"true"}:
    bad.append("markers: %s ... %s" % (marks[:2], marks[-2:]))
if [e["value"]["op"] for e in data[:len(snap)]] != ["r"] * len(snap):
    bad.append("snapshot rows do not all come first")
side = [e["value"]["source"]["snapshot"] for e in data if e["value"]["source"]["table"] == "side" and e["value"]["op"] == "r"]
if side != ["first_in_data_collection", "last"]:
    bad.append("markers of the second table: %s" % side)
pos = [(e["metadata"]["commit_lsn"], e["metadata"]["seq"]) for e in data]
if any(a >= b for a, b in zip(pos, pos[1:])):
    bad.append("positions not strictly increasing")
# replay: snapshot, then the stream, must give the table psql shows now
state = {}
for e in big:
    v = e["value"]; op = v["op"]
    if op == "d":
        state.pop(v["before"]["id"], None)
    else:
        a = v["after"]; state[a["id"]] = (a["n"], a["s"])
want = {}
for line in open(after):
    i, nn, s = line.rstrip("\n").split("\t")
    want[int(i)] = (int(nn), unesc(s))
if state != want:
    miss = set(want) - set(state); extra = set(state) - set(want)
    diff = [k for k in set(want) & set(state) if want[k] != state[k]]
    bad.append("replay differs from psql: %d missing, %d extra, %d different (e.g. %s)"
               % (len(miss), len(extra), len(diff), sorted(miss | extra | set(diff))[:5]))
streamed = len(big) - len(snap)
print("# threads: snapshot %d rows, %d streamed changes, final %d rows" % (len(snap), streamed, len(want)))
if streamed == 0:
    bad.append("no change was streamed: the writer did not overlap the snapshot")
for b in bad:
    print("not ok:", b)
sys.exit(1 if bad else 0)
PY
    ok "threads $threads: every snapshot row once, in order, stream after it replays to psql's table"
    sql_su "SELECT pg_drop_replication_slot('slot_$threads')" >/dev/null
done
done_testing
