#!/usr/bin/env bash
# 440: the jsonl sink's disk fills up (an 8 MB tmpfs, most of it taken by a filler file).
#  A. Briefly full: the agent logs one warning naming the file and the error, keeps the
#     lines buffered (below the sink's 1 MiB buffer), confirms nothing past the disk, and
#     carries on by itself once the filler is deleted.
#  B. Full for longer than the buffer can hold: the agent exits 1 with an error naming the
#     file and "No space left on device"; after space is made, a restart delivers the rest.
# Both end with every row exactly once and no torn line (docs/fault-matrix.md).
# Needs root (mount); skipped otherwise.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

if [ "$(id -u)" != 0 ]; then
    echo "1..0 # SKIP needs root to mount a tmpfs"
    exit 0
fi
FULL=$T/full
mkdir -p "$FULL"
mount -t tmpfs -o size=8m tmpfs "$FULL"
trap 'umount "$FULL" 2>/dev/null; _cleanup' EXIT

pg_up
sql "CREATE TABLE items (id int PRIMARY KEY, payload text)"
EVENTS=$FULL/events.jsonl
P_TABLES=public.items P_SNAPSHOT=never P_OUT=$EVENTS write_pipeline
write_platform
next=1
# insert N: N single-row transactions with ~400-byte payloads, ids continuing.
insert() {
    local n=$1
    sql "DO \$\$ BEGIN FOR i IN $next..$((next + n - 1)) LOOP
           INSERT INTO items VALUES (i, repeat(md5(i::text), 12)); COMMIT; END LOOP; END \$\$"
    next=$((next + n))
}
free_kb() { df -k --output=avail "$FULL" | tail -n 1 | tr -d ' '; }
# all_once DESC: every row of the table exactly once in the sink, every line whole.
all_once() {
    sql "COPY (SELECT id FROM items ORDER BY id) TO STDOUT" >"$T/ids.txt"
    jl_check "$1: every row exactly once" "$EVENTS" \
        "sorted(e['key']['id'] for e in evs) == [int(x) for x in open('$T/ids.txt').read().split()]"
    check "$1: the file ends with a complete line" [ "$(tail -c 1 "$EVENTS" | od -An -c | tr -d ' ')" = '\n' ]
}

agent_start
insert 100
wait_lines "$EVENTS" 100 30

note "A: fill the disk, leaving ~40 KB"
dd if=/dev/zero of="$FULL/filler" bs=1k count=$(( $(free_kb) - 40 )) status=none 2>/dev/null || true
insert 300                           # ~250 KB of lines: the disk fills, the rest is buffered
deadline=$((SECONDS + 30))
until grep -q 'events.jsonl: write: No space left on device' "$T/agent.log"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "no ENOSPC warning after 30 s"
    sleep 0.2
done
sleep 2
check "A: the agent is still running with the disk full" agent_alive
expect_eq "A: the warning is logged once, naming the file" \
    "$(grep -c "\"level\":\"warn\".*$EVENTS: write: No space left on device" "$T/agent.log")" 1
confirmed=$(lsn_num "$(slot_field cdc_slot confirmed_flush_lsn)")
on_disk=$(line_count "$EVENTS")
note "A: $on_disk complete lines on disk of $((next - 1)), confirmed_flush_lsn $confirmed"
check "A: not everything reached the disk" [ "$on_disk" -lt $((next - 1)) ]
rm -f "$FULL/filler"
wait_lines "$EVENTS" $((next - 1)) 30
sleep 1
check "A: the agent carried on without a restart" agent_alive
all_once "A"
jl_check "A: the slot was not confirmed past the disk (row $((on_disk + 1)), the first not on disk, commits after $confirmed)" \
    "$EVENTS" "min(get(e, 'metadata.commit_lsn') for e in evs if e['key']['id'] > $on_disk) > $confirmed"

note "B: full for longer than the buffer holds"
dd if=/dev/zero of="$FULL/filler" bs=1k count=$(( $(free_kb) - 40 )) status=none 2>/dev/null || true
insert 2000                          # ~2 MB of lines: more than the 1 MiB buffer
agent_wait_exit 60
expect_eq "B: the agent exits 1" "$AGENT_RC" 1
expect_contains "B: the error names the file and ENOSPC" \
    "$(grep '"level":"error"' "$T/agent.log" | tail -n 1)" "$EVENTS: write: No space left on device"
confirmed=$(lsn_num "$(slot_field cdc_slot confirmed_flush_lsn)")
head -n "$(line_count "$EVENTS")" "$EVENTS" >"$T/complete.jsonl"      # a torn last line is cut at restart
last_on_disk=$(jl_eval "$T/complete.jsonl" "max(get(e, 'metadata.commit_lsn') for e in evs)")
note "B: $(line_count "$EVENTS") lines on disk, last commit_lsn $last_on_disk, confirmed $confirmed"
rm -f "$FULL/filler"
agent_start
wait_lines "$EVENTS" $((next - 1)) 60
sleep 1
agent_stop
note "torn line cut at restart: $(grep -c 'last line is incomplete' "$T/agent.log") time(s)"
jl_check "B: the first transaction delivered after the restart commits after the confirmed position" \
    "$EVENTS" "min(get(e, 'metadata.commit_lsn') for e in evs if get(e, 'metadata.commit_lsn') > $last_on_disk) > $confirmed"
all_once "B"
done_testing
