#!/usr/bin/env bash
# 817: the initial snapshot of a table of 3,000,000 rows (IT_SNAPSHOT_ROWS) of mixed types
# (bigint key, int, text with escapes, numeric, timestamptz, NULLs) read with
# source.snapshot_max_threads 1, 2 and 4, one agent run each on a fresh slot, while one writer
# commits UPDATE/DELETE/INSERT transactions one after another, then streaming after it.
#
# The reference is independent of the agent: psql's COPY of the table before each run (no
# writer then) and the writer's own transactions, which are deterministic (transaction J sets
# n = -J on two keys, deletes one key, inserts key 10^9 + J) and logged once committed.  The
# one writer commits serially, so the slot's exported snapshot is "the table before, with
# transactions 1..S applied" for some S.  Python replays the writer's transactions itself and
# checks, with S taken from the first streamed transaction:
#   - every row of that state is in the snapshot exactly once, as an `r` event with the values
#     psql printed (numeric as a string, timestamptz in UTC), and no other row is;
#   - the stream after the snapshot is exactly the events of transactions S+1 .. K (K the
#     writer's last), in order, with their values: no gap, no overlap;
#   - the table psql shows at the end is the replay of all K (the writer's log is right).
# The events file is deleted after each run (about 1.9 GB at 3M rows).
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

N=${IT_SNAPSHOT_ROWS:-3000000}
pg_up
sql "CREATE TABLE big (id int8 PRIMARY KEY, n int, s text, amount numeric(12,2), at timestamptz)" \
    "ALTER TABLE big SET (autovacuum_enabled = false)" \
    "CREATE TABLE side (id int PRIMARY KEY)" \
    "INSERT INTO big SELECT i, i % 100000,
       CASE WHEN i % 17 = 0 THEN NULL WHEN i % 101 = 0 THEN 'e' || i || E'\\t\\\\\"\\n'
            ELSE 'r' || i END,
       CASE WHEN i % 13 = 0 THEN NULL ELSE ((i * 7) % 1000000) / 100.0 - 5000 END,
       CASE WHEN i % 11 = 0 THEN NULL
            ELSE '2020-01-01 00:00:00+00'::timestamptz + i * interval '1 second'
                 + (i % 1000000) * interval '1 microsecond' END
     FROM generate_series(1, $N) i" \
    "VACUUM ANALYZE big"
note "table big: $N rows, $(sql "SELECT pg_size_pretty(pg_relation_size('big'))")"

# The columns as the agent writes them with decimal_handling_mode string, printed by the server.
REF_SQL="COPY (SELECT id, n, s, amount::text,
    to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM big) TO STDOUT"

# writer RUN: transaction J = RUN * 1000000 + j for j = 1, 2, ... until stop_writer exists;
# each committed J is appended to $T/writer_RUN.log.
writer() {
    local run=$1 j=0 J a b d
    while [ ! -f "$T/stop_writer" ]; do
        j=$((j + 1))
        J=$((run * 1000000 + j))
        a=$(((J * 7919) % N + 1)); b=$((N - (J * 104729) % N)); d=$(((J * 15485863) % N + 1))
        sql "BEGIN; UPDATE big SET n = -$J WHERE id IN ($a, $b);
             DELETE FROM big WHERE id = $d;
             INSERT INTO big (id, n, s) VALUES ($((1000000000 + J)), -$J, 'w$J');
             COMMIT" >/dev/null || return 0
        echo "$J" >>"$T/writer_$run.log"
    done
}

for threads in 1 2 4; do
    note "---- snapshot_max_threads $threads"
    rm -f "$T/stop_writer" "$T/writer_$threads.log"
    : >"$T/writer_$threads.log"
    sql "$REF_SQL" >"$T/before.tsv"
    EVENTS=$T/events.jsonl
    : >"$EVENTS"
    P_TABLES="public.big, public.side" P_SLOT=slot_$threads \
        P_SOURCE_EXTRA=$'decimal_handling_mode: string\nsnapshot_max_threads: '"$threads" \
        write_pipeline
    write_platform
    snapshot_under_writer "slot_$threads" "$N" 300 writer "$threads"
    sql "INSERT INTO side VALUES (900000000 + $threads)"   # a last change to wait for
    sql "$REF_SQL" >"$T/after.tsv"
    deadline=$((SECONDS + 120))
    until tail -c 100000 "$EVENTS" | grep -q "\"after\":{\"id\":$((900000000 + threads))}"; do
        [ $SECONDS -lt $deadline ] || fail "the stream never caught up with the side insert"
        sleep 0.2
    done
    agent_stop
    grep -q "$threads thread" "$T/agent.log" || fail "the log does not say $threads thread(s)"
    note "events: $(line_count "$EVENTS") lines, $(du -m "$EVENTS" | cut -f1) MB; writer: $(wc -l <"$T/writer_$threads.log") transactions"
    python3 - "$EVENTS" "$T/before.tsv" "$T/after.tsv" "$T/writer_$threads.log" "$N" <<'PY' ||
import json, sys
events, before, after, wlog, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
bad = []

def load(path):
    """psql's COPY text: id -> (n, s, amount, at) as strings, None for NULL."""
    rows = {}
    with open(path) as f:
        for line in f:
            k, rest = line.rstrip("\n").split("\t", 1)
            rows[int(k)] = rest
    return rows

def unesc(s):
    if s == "\\N":
        return None
    if "\\" not in s:
        return s
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            i += 1
            c = {"t": "\t", "n": "\n", "r": "\r", "b": "\b", "f": "\f", "v": "\v"}.get(s[i], s[i])
        out.append(c)
        i += 1
    return "".join(out)

def cols(rest):
    v = [unesc(x) for x in rest.split("\t")]
    return (None if v[0] is None else int(v[0]), v[1], v[2], v[3])

def row_of(after):
    return (after["n"], after["s"], after["amount"], after["at"])

js = [int(x) for x in open(wlog)]
if not js or js != list(range(js[0], js[0] + len(js))):
    bad.append("the writer's log is not 1..K: %s" % js[:5])

def txn(J):
    """The writer's transaction J as (ids updated, id deleted, id inserted)."""
    return ((J * 7919) % n + 1, n - (J * 104729) % n), (J * 15485863) % n + 1, 1000000000 + J

def apply(state, J, out=None):
    """Applies J to state (id -> COPY text rest); out gets the events it makes."""
    upd, d, ins = txn(J)
    for k in sorted(set(upd)):     # one UPDATE statement: the server's order is not ours
        if k in state:
            c = state[k].split("\t")
            c[0] = str(-J)
            state[k] = "\t".join(c)
            if out is not None:
                out.append(("u", k, state[k]))
    if d in state:
        del state[d]
        if out is not None:
            out.append(("d", d, None))
    state[ins] = "%d\tw%d\t\\N\t\\N" % (-J, J)
    if out is not None:
        out.append(("c", ins, state[ins]))

state = load(before)
# the snapshot and the stream from the events file
snap = {}
dups = 0
stream = []         # (commit_lsn, op, id, row)
pos_prev = None
order_bad = False
with open(events) as f:
    for line in f:
        e = json.loads(line)
        v = e.get("value")
        if v is None:
            continue
        pos = (e["metadata"]["commit_lsn"], e["metadata"]["seq"])
        if pos_prev is not None and pos <= pos_prev:
            order_bad = True
        pos_prev = pos
        if v["source"]["table"] != "big":
            continue
        op = v["op"]
        if op == "r":
            if stream:
                bad.append("an r event after streamed changes"); break
            a = v["after"]
            if a["id"] in snap:
                dups += 1
            snap[a["id"]] = row_of(a)
        elif op == "d":
            stream.append((pos[0], "d", v["before"]["id"], None))
        else:
            a = v["after"]
            stream.append((pos[0], op, a["id"], row_of(a)))
if order_bad:
    bad.append("positions (commit_lsn, seq) not strictly increasing")
if dups:
    bad.append("%d snapshot rows repeated" % dups)
if not stream:
    bad.append("no change was streamed: the writer did not overlap the snapshot")
    S = js[-1] if js else 0
else:
    first = next(r for r in stream if r[1] == "c")
    S = -first[3][0] - 1
# the state at the snapshot: before + writer transactions up to S
for J in js:
    if J > S:
        break
    apply(state, J)
want = {k: cols(r) for k, r in state.items()}
if snap != want:
    miss = set(want) - set(snap); extra = set(snap) - set(want)
    diff = sorted(k for k in set(want) & set(snap) if want[k] != snap[k])
    bad.append("snapshot differs from the state after transaction %d: %d missing, %d extra, "
               "%d different (e.g. %s)" % (S, len(miss), len(extra), len(diff),
                                           sorted(miss | extra)[:5] + diff[:5]))
    for k in diff[:3]:
        print("# id %d: snapshot %r, reference %r" % (k, snap[k], want[k]))
nsnap = len(snap)
del want, snap
# the stream: exactly transactions S+1..K, each one commit, in order (the rows of one UPDATE
# come in the server's order: sorted within a transaction by (u, d, c), id)
RANK = {"u": 0, "d": 1, "c": 2}
def norm(evs):
    return sorted(evs, key=lambda x: (RANK[x[0]], x[1]))
expect = []
for J in js:
    if J > S:
        ev = []
        apply(state, J, ev)
        expect.append(norm([(op, k, None if r is None else cols(r)) for op, k, r in ev]))
got, lsn_prev = [], None
for lsn, op, k, r in stream:
    if lsn != lsn_prev:
        got.append([])
        lsn_prev = lsn
    got[-1].append((op, k, r))
got = [norm(g) for g in got]
if got != expect:
    i = next((i for i, (g, x) in enumerate(zip(got, expect)) if g != x), min(len(got), len(expect)))
    bad.append("stream differs from transactions %d..%d at transaction %d of %d (expected %d): "
               "got %r, expected %r" % (S + 1, js[-1], i, len(got), len(expect),
                                        got[i] if i < len(got) else None,
                                        expect[i] if i < len(expect) else None))
# the end: psql's table is the replay of every committed transaction
if load(after) != state:
    bad.append("psql's table at the end is not the replay of the writer's %d transactions" % len(js))
print("# snapshot at writer transaction %d of %d: %d rows; %d changes streamed"
      % (S, js[-1] if js else 0, nsnap, len(stream)))
for b in bad:
    print("not ok:", b)
sys.exit(1 if bad else 0)
PY
        fail "threads $threads: see above"
    ok "threads $threads: every row of the snapshot once with psql's values, the stream after it exact"
    rm -f "$EVENTS" "$T/before.tsv" "$T/after.tsv"
    sql_su "SELECT pg_drop_replication_slot('slot_$threads')" >/dev/null
done
done_testing
