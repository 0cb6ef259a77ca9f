#!/usr/bin/env bash
# 802: SIGKILL in the middle of a parallel snapshot (4 threads) of a keyed table while
# another session writes, then twice more in its resumed part, and the snapshot resumes each
# time (docs/snapshots.md, "After a crash").
# The table is read in key-range chunks; a row-level security policy makes the workers'
# COPY of the upper half wait for an advisory lock the test holds, so the first kill lands,
# deterministically, after some chunks are durable and before the snapshot ends.  The
# restart keeps the slot (not created again), streams, and reads the rest as an
# incremental snapshot; a second kill lands right after that restart (the file's newest
# event is still a snapshot row: the record, not the file, says the snapshot is handed
# over), a third 20,000 lines into the resumed part.  Checks: the slot was created once;
# the rows delivered twice are only rows of chunks emitted but not durable at a kill (ids
# the file held above the key range the record called durable); `cdcagent verify` finds the
# file equal to psql's table (every row, the writer's changes, nothing missing); a row
# written after the restarts arrives once as op c (the stream goes on, no gap).
# 818 runs this with IT_802_NO_SIGNAL=1: no source.signal_data_collection, so the resumed
# part's window markers are transactional logical decoding messages (PostgreSQL 14+); then
# also: the resume says so, a probe slot (test_decoding, PostgreSQL's own decoder) created
# before the restarts sees the agent's cdcagent-watermark messages, none reaches the file
# while an application's own message does, and the signal table stays empty.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

N=${IT_SNAPSHOT_ROWS:-200000}
H=$((N / 2))
pg_up
sql "CREATE TABLE big (id int PRIMARY KEY, payload text, n int NOT NULL DEFAULT 0)" \
    "INSERT INTO big SELECT i, repeat(md5(i::text), 2) FROM generate_series(1, $N) i" \
    "CREATE TABLE dbz_signal (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))" \
    "VACUUM ANALYZE big"
copy_gate big "id <= $H" 802

# The writer: updates, deletes and inserts across the whole key range until $T/stop.
writer() {
    local i=0 id
    while [ ! -e "$T/stop" ]; do
        i=$((i + 1))
        id=$(( (i * 7919) % N + 1 ))
        user_psql -c "UPDATE big SET n = n + 1 WHERE id = $id" \
            -c "DELETE FROM big WHERE id = $(( (i * 104729) % N + 1 ))" \
            -c "INSERT INTO big VALUES ($((N + i)), 'new $i')" >/dev/null 2>>"$T/writer.log" || true
        sleep 0.05
    done
    touch "$T/loader.done"
}
bg writer

NO_SIGNAL=${IT_802_NO_SIGNAL:-0}
SIGNAL_LINE=$'\nsignal_data_collection: public.dbz_signal'
[ "$NO_SIGNAL" = 0 ] || SIGNAL_LINE=
P_TABLES=public.big P_SOURCE_EXTRA=$'snapshot_max_threads: 4\nsnapshot_chunk_mb: 1\nincremental_snapshot_chunk_size: 500'"$SIGNAL_LINE" write_pipeline
write_platform
AGENT_NO_WAIT=1 agent_start
state_file() { ls "$T"/cdcagent-*-cdc_slot.state 2>/dev/null | head -1; }
rest_key() { sed -n 's/^snap .*"rest":"(\\"id\\") > (\x27\([0-9]*\)\x27::integer)".*/\1/p' "$(state_file)"; }
deadline=$((SECONDS + 120))
until [ -n "$(state_file)" ] && [ -n "$(rest_key)" ] && \
      [ "$(copy_gate_count 802 NOT)" -ge 1 ]; do
    [ $SECONDS -lt $deadline ] || fail "no durable key range in the record, or no worker waiting, after 120 s"
    agent_alive || fail "the agent exited"
    sleep 0.2
done
sleep 1     # what the destination makes durable meanwhile is recorded
agent_kill9
k1=$(rest_key)
cp "$EVENTS" "$T/at_kill1.jsonl"
note "kill 1: the file holds $(line_count "$EVENTS") lines; the record says ids <= $k1 durable"
check "the first kill landed during the snapshot" [ "$(line_count "$EVENTS")" -lt "$N" ]
check "the record called part of the table durable" [ "$k1" -gt 0 -a "$k1" -lt "$H" ]
grep -q '^snapshot pending' "$(state_file)" || fail "the record does not say the snapshot is pending"
ok "the record says the snapshot is pending"
grep -q "chunks by key range" "$T/agent.log" || fail "the log does not show key-range chunks"
ok "the table was read in key ranges"
copy_gate_open 802
# The probe: every logical message from here on, decoded by test_decoding.
[ "$NO_SIGNAL" = 0 ] || sql_su "SELECT 1 FROM pg_create_logical_replication_slot('wm_probe', 'test_decoding')" >/dev/null

start_after_kill() { wait_slot_released; AGENT_NO_WAIT=1 agent_start; }
# Kill 2 right after the resume starts, before anything streamed is durable (the file's
# newest event is still a snapshot row); kill 3 in the resumed part, 20,000 lines later.
kill_saving() {   # N: kill -9, keeping the file, the incr line and the slot's position
    agent_kill9
    cp "$EVENTS" "$T/at_kill$1.jsonl"
    grep '^incr ' "$(state_file)" | cut -c6- >"$T/incr$1.json"
    slot_field cdc_slot "(confirmed_flush_lsn - '0/0')::int8" >"$T/confirmed$1"
    note "kill $1: the file holds $(line_count "$EVENTS") lines"
}
start_after_kill
wait_grep "$T/agent.log" 'resuming it: streaming from the slot' 60
if [ "$NO_SIGNAL" = 1 ]; then
    grep -q 'window markers: logical decoding messages' "$T/agent.log" || \
        fail "the resume does not say its window markers are logical messages"
    ok "the resume marks its windows with logical decoding messages"
fi
kill_saving 2
start_after_kill
wait_grep "$T/agent.log" 'incremental snapshot initial-resume-[0-9a-f]* resumes' 60
before=$(line_count "$EVENTS")
wait_lines "$EVENTS" $((before + 20000)) 120
kill_saving 3
if grep -q 'incremental snapshot initial-resume-.* done' "$T/agent.log"; then
    fail "the resumed part was done before the third kill"
fi
ok "the third kill landed in the resumed part"

start_after_kill
wait_grep "$T/agent.log" 'incremental snapshot initial-resume-.* done' 180
loader_stop
sql "INSERT INTO big VALUES (0, 'after the restarts')"
[ "$NO_SIGNAL" = 0 ] || sql_su "SELECT 1 FROM pg_logical_emit_message(true, 'app', 'hello')" >/dev/null
cdc verify "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --sink local --wait 60
expect_eq "verify: the file equals psql's table ($(head -c 300 "$T/cdc.err"))" "$CDC_RC" 0
[ "$NO_SIGNAL" = 0 ] || wait_grep "$EVENTS" '"prefix":"app"' 30
agent_stop

expect_eq "the slot was created once" "$(grep -c 'slot cdc_slot: created' "$T/agent.log")" 1
if grep -q 'dropping slot\|dropping the slot' "$T/agent.log"; then fail "a slot was dropped"; fi
ok "no slot was dropped"
F=$EVENTS
jl_check "the row written after the restarts arrives once, as op c" "$F" \
    "[get(e, 'value.op') for e in data if (e.get('key') or {}).get('id') == 0] == ['c']"
# Rows that may repeat: kill 1, the ids the file held above the durable key range; kill 2,
# the ids of the incremental chunks the slot had not confirmed (its record's oldest pending
# chunk, or its current position).
python3 - "$T" "$k1" >"$T/bound.txt" <<'PY' || fail "the repeats exceed the chunks in flight: $(cat "$T/bound.txt")"
import json, sys
t, k1 = sys.argv[1], int(sys.argv[2])
def rows(path):
    out = []
    for line in open(path):
        if not line.endswith('\n'):
            continue        # a line cut by the kill
        e = json.loads(line)
        v = e.get('value') or {}
        if v.get('op') == 'r':
            out.append((e['key']['id'], v['source'].get('snapshot')))
    return out
inflight = {i for i, s in rows(t + '/at_kill1.jsonl') if i > k1}
why = ["kill 1: %d (ids > %d)" % (len(inflight), k1)]
for k in (2, 3):
    # where the next start resumes the incremental snapshot: its oldest chunk the slot
    # had not confirmed, else its next key (incr.c's load)
    txt = open('%s/incr%d.json' % (t, k)).read().strip()
    inc = json.loads(txt) if txt else {}
    confirmed = int(open('%s/confirmed%d' % (t, k)).read())
    frm = inc.get('from')
    for p in inc.get('pending', []):
        if p['at'] >= confirmed:
            frm = p.get('from')
            break
    f = int(frm[0]) if frm else k1
    a = {i for i, s in rows('%s/at_kill%d.jsonl' % (t, k)) if s == 'incremental' and i > f}
    inflight |= a
    why.append("kill %d: %d (ids > %d)" % (k, len(a), f))
ids = [i for i, s in rows(t + '/events.jsonl')]
seen, dup = set(), set()
for i in ids:
    (dup if i in seen else seen).add(i)
print("repeated %d ids; in flight at %s" % (len(dup), ", ".join(why)))
sys.exit(0 if dup <= inflight else 1)
PY
note "$(cat "$T/bound.txt")"
ok "the rows delivered twice are rows of chunks in flight at the kills"
jl_check "no row of the durable key range (ids <= $k1) is read twice" "$F" \
    "(lambda ids: len(ids) == len(set(ids)))([get(e, 'key.id') for e in data if get(e, 'value.op') == 'r' and get(e, 'key.id') <= $k1])"
if [ "$NO_SIGNAL" = 1 ]; then
    probe=$(sql_su "SELECT count(*) FROM pg_logical_slot_peek_changes('wm_probe', NULL, NULL)
                    WHERE data LIKE 'message: transactional: 1 prefix: cdcagent-watermark, %'")
    sql_su "SELECT pg_drop_replication_slot('wm_probe')" >/dev/null
    note "watermark messages the probe slot decoded: $probe"
    check "the agent wrote its watermarks as transactional logical messages" [ "$probe" -ge 4 ]
    expect_eq "no watermark message reached the file" "$(grep -c 'cdcagent-watermark' "$F" || true)" 0
    jl_check "the application's own logical message reached the file, once" "$F" \
        "[get(e, 'value.message.prefix') for e in data if get(e, 'value.op') == 'm'] == ['app']"
    expect_eq "no window marker in the signal table" "$(sql "SELECT count(*) FROM dbz_signal")" 0
fi
done_testing
