# shellcheck shell=bash
# An initial snapshot cut by kill -9 once part of it is durable, then restarted while
# another session writes to the same table, WITHOUT source.signal_data_collection
# (docs/snapshots.md, "After a crash"): test/lib/pgsmoke.sh runs it on PostgreSQL 14, 16,
# 17 and 18 (818 covers 15); 847 runs it with EXECUTE on pg_logical_emit_message revoked.
# After common.sh and pg_up (the agent stopped); uses its own slot, publication, table,
# sink file and log, so that it can follow another scenario on the same server.
#
#   rs_kill_during_snapshot   table rs (RS_ROWS narrow rows), a 2-thread snapshot in 1 MB
#                             chunks whose COPY of the upper half waits (copy_gate), kill -9
#                             once the record calls a key range durable; sets RS_K1
#   rs_writer_start           a writer (updates, deletes, inserts of rs) logging each change
#                             psql reports (RETURNING) to $T/rs_writes; waits for 30 of them
#   rs_finish                 stops the writer, writes the sentinel row 0, waits for it,
#                             stops the agent
#   rs_check_file             the file replayed by key equals psql's COPY of rs; every
#                             change the writer made streamed exactly once, none other
#   rs_check_repeats          rows read twice are only ids the file held above RS_K1 at the
#                             kill (the chunks emitted but not durable)

RS_ROWS=${RS_ROWS:-240000}

_rs_state() { ls "$T"/cdcagent-*-rs_slot.state 2>/dev/null | head -1; }
_rs_rest_key() {
    local f
    f=$(_rs_state)
    [ -n "$f" ] || return 0
    sed -n 's/^snap .*"rest":"(\\"id\\") > (\x27\([0-9]*\)\x27::integer)".*/\1/p' "$f"
}

rs_kill_during_snapshot() {
    local deadline
    if [ -n "$AGENT_PID" ]; then agent_stop; fi
    if [ -f "$T/agent.log" ]; then mv "$T/agent.log" "$T/agent.before_rs.log"; fi
    P_SLOT=rs_slot
    EVENTS=$T/rs.jsonl
    : >"$EVENTS"
    sql "CREATE TABLE rs (id int PRIMARY KEY, n int NOT NULL DEFAULT 0)" \
        "INSERT INTO rs SELECT i, 0 FROM generate_series(1, $RS_ROWS) i" \
        "VACUUM ANALYZE rs"
    copy_gate rs "id <= $((RS_ROWS / 2))" 847
    P_TABLES=public.rs P_PUB=rs_pub \
        P_SOURCE_EXTRA=$'snapshot_max_threads: 2\nsnapshot_chunk_mb: 1\nincremental_snapshot_chunk_size: 1024'"${RS_SOURCE_EXTRA:+$'\n'$RS_SOURCE_EXTRA}" \
        write_pipeline
    write_platform
    AGENT_NO_WAIT=1 agent_start
    deadline=$((SECONDS + 120))
    until [ -n "$(_rs_rest_key)" ] && [ "$(copy_gate_count 847 NOT)" -ge 1 ]; do
        [ $SECONDS -lt $deadline ] || fail "no durable key range in the record, or no worker waiting, after 120 s"
        agent_alive || fail "the agent exited during the snapshot"
        sleep 0.2
    done
    agent_kill9
    RS_K1=$(_rs_rest_key)
    cp "$EVENTS" "$T/rs_at_kill.jsonl"
    note "kill: the file holds $(line_count "$EVENTS") lines; the record says ids <= $RS_K1 durable"
    check "the kill landed during the snapshot, with a durable key range" \
        [ "$(line_count "$EVENTS")" -lt "$RS_ROWS" -a "$RS_K1" -gt 0 -a "$RS_K1" -lt "$((RS_ROWS / 2))" ]
    grep -q '^snapshot pending' "$(_rs_state)" || fail "the record does not say the snapshot is pending"
    grep -q "chunks by key range" "$T/agent.log" || fail "the log does not show key-range chunks"
    ok "the record says the snapshot is pending, read in key ranges"
    copy_gate_open 847
    wait_slot_released
}

_rs_writer() {
    local i=0
    while [ ! -e "$T/rs_stop" ]; do
        i=$((i + 1))
        user_psql -c "UPDATE rs SET n = n + 1 WHERE id = $(( (i * 7919) % RS_ROWS + 1 )) RETURNING 'u', id, n" \
            -c "DELETE FROM rs WHERE id = $(( (i * 104729) % RS_ROWS + 1 )) RETURNING 'd', id, 0" \
            -c "INSERT INTO rs VALUES ($((RS_ROWS + i)), 1) RETURNING 'c', id, n" \
            >>"$T/rs_writes" 2>>"$T/rs_writer.err" || true
        sleep 0.02
    done
    touch "$T/rs_writer.done"
}

rs_writer_start() {
    local deadline=$((SECONDS + 60))
    rm -f "$T/rs_stop" "$T/rs_writer.done"
    : >"$T/rs_writes"
    bg _rs_writer
    until [ "$(line_count "$T/rs_writes")" -ge 30 ]; do
        [ $SECONDS -lt $deadline ] || fail "the writer wrote $(line_count "$T/rs_writes") changes in 60 s: $(head -c 300 "$T/rs_writer.err")"
        sleep 0.1
    done
}

rs_finish() {
    local deadline=$((SECONDS + 30))
    touch "$T/rs_stop"
    [ -s "$T/rs_writes" ] || touch "$T/rs_writer.done"     # none started
    until [ -e "$T/rs_writer.done" ]; do
        [ $SECONDS -lt $deadline ] || fail "the writer did not stop"
        sleep 0.1
    done
    [ ! -s "$T/rs_writer.err" ] || fail "the writer failed: $(head -c 300 "$T/rs_writer.err")"
    sql "INSERT INTO rs VALUES (0, 0)"
    wait_grep "$EVENTS" '"key":{"id":0}' 60
    agent_stop
    note "the writer made $(line_count "$T/rs_writes") changes"
}

rs_check_file() {
    sql "COPY (SELECT id, n FROM rs ORDER BY id) TO STDOUT" >"$T/rs_psql.tsv"
    python3 - "$EVENTS" "$T/rs_psql.tsv" "$T/rs_writes" >"$T/rs_cmp.txt" <<'PY' || fail "$(cat "$T/rs_cmp.txt")"
import json, sys
rows, streamed = {}, []
for line in open(sys.argv[1]):
    e = json.loads(line)
    v = e.get("value")
    if v is None:
        continue
    if v["op"] == "d":
        rows.pop(v["before"]["id"], None)
    else:
        rows[v["after"]["id"]] = v["after"]["n"]
    r = v["after"] or v["before"]
    if v["op"] in ("c", "u", "d") and r["id"] != 0:     # 0: the sentinel
        streamed.append("%s|%d|%d" % (v["op"], r["id"], r["n"] if v["op"] != "d" else 0))
ref = {}
for line in open(sys.argv[2]):
    i, n = line.split()
    ref[int(i)] = int(n)
writes = sorted(l.strip() for l in open(sys.argv[3]) if l.strip())
bad = []
if rows != ref:
    miss = sorted(set(ref) - set(rows))[:5]
    extra = sorted(set(rows) - set(ref))[:5]
    diff = sorted(k for k in set(ref) & set(rows) if ref[k] != rows[k])[:5]
    bad.append("replay != psql COPY: %d vs %d rows; missing %s, extra %s, differing %s"
               % (len(rows), len(ref), miss, extra, diff))
if sorted(streamed) != writes:
    import collections
    a, b = collections.Counter(streamed), collections.Counter(writes)
    bad.append("streamed changes != the writer's: twice or more %s; not streamed %s; not written %s"
               % (sorted(k for k in a if a[k] > 1)[:5], sorted((b - a).elements())[:5],
                  sorted((a - b).elements())[:5]))
print("%d rows, %d streamed changes; %s" % (len(ref), len(streamed), "; ".join(bad) or "equal"))
sys.exit(1 if bad else 0)
PY
    ok "the file replayed by key equals psql's COPY, every change the writer made streamed once ($(cat "$T/rs_cmp.txt"))"
}

rs_check_repeats() {
    python3 - "$T/rs_at_kill.jsonl" "$EVENTS" "$RS_K1" >"$T/rs_bound.txt" <<'PY' || fail "rows read twice beyond the chunks in flight: $(cat "$T/rs_bound.txt")"
import json, sys
def reads(path):
    out = []
    for line in open(path):
        if line.endswith("\n"):
            e = json.loads(line)
            if (e.get("value") or {}).get("op") == "r":
                out.append(e["key"]["id"])
    return out
k1 = int(sys.argv[3])
inflight = {i for i in reads(sys.argv[1]) if i > k1}
seen, dup = set(), set()
for i in reads(sys.argv[2]):
    (dup if i in seen else seen).add(i)
print("%d ids read twice, %d in flight at the kill (ids > %d), %d of them <= %d"
      % (len(dup), len(inflight), k1, len([i for i in dup if i <= k1]), k1))
sys.exit(0 if dup <= inflight else 1)
PY
    ok "rows read twice are only rows of chunks in flight at the kill: $(cat "$T/rs_bound.txt")"
}

# rs_resume_no_signal: the scenario for pgsmoke (PostgreSQL 14+): kill, writer, restart;
# the snapshot resumes on the same slot with logical decoding messages as window markers.
rs_resume_no_signal() {
    rs_kill_during_snapshot
    rs_writer_start
    AGENT_NO_WAIT=1 agent_start
    wait_grep "$T/agent.log" 'resuming it: streaming from the slot' 60
    grep -q 'window markers: logical decoding messages' "$T/agent.log" || \
        fail "the resume does not say its window markers are logical messages"
    ok "the snapshot resumes on the same slot, window markers: logical decoding messages"
    wait_grep "$T/agent.log" 'incremental snapshot initial-resume-[0-9a-f]* done' 180
    rs_finish
    expect_eq "the slot was created once" "$(grep -c 'slot rs_slot: created' "$T/agent.log")" 1
    if grep -q 'taken again whole\|dropping slot\|dropping the slot' "$T/agent.log"; then
        fail "the snapshot was taken again / a slot was dropped"
    fi
    ok "no slot dropped, the snapshot not taken again"
    rs_check_file
    rs_check_repeats
    note "streamed changes between the resumed part's first and last row: $(jl_eval "$EVENTS" \
        "(lambda o: o[o.index('i'):len(o) - o[::-1].index('i')].count('s'))(''.join('i' if get(e, 'value.source.snapshot') == 'incremental' else 's' if get(e, 'value.op') in ('c', 'u', 'd') else '' for e in data))")"
    expect_eq "no watermark message reached the file" "$(grep -c 'cdcagent-watermark' "$EVENTS" || true)" 0
}
