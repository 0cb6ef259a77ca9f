#!/usr/bin/env bash
# Soak: the agent under a continuous mixed load (inserts, updates with a TOASTed column left
# alone, deletes, a streamed large transaction now and then) for SOAK_SECONDS (default 45 in
# the suite; run it for hours by hand: SOAK_SECONDS=7200), its resident memory sampled every
# SOAK_SAMPLE seconds from /proc.  Memory must stay flat: after a warm-up (the first quarter),
# the mean of the last quarter of samples may exceed the mean of the second quarter by at
# most SOAK_GROWTH_KIB (default 4096 KiB).  Every change must have arrived at the end.
# Prints the RSS series ("# rss t=… kib=…") so a long run can be plotted.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

SECS=${SOAK_SECONDS:-45}
EVERY=${SOAK_SAMPLE:-1}
GROWTH=${SOAK_GROWTH_KIB:-4096}

pg_up
sql "CREATE TABLE soak (id int PRIMARY KEY, n int NOT NULL, big text)" \
    "ALTER TABLE soak ALTER COLUMN big SET STORAGE EXTERNAL"
P_TABLES=public.soak P_SNAPSHOT=never write_pipeline
# streamed transactions (over logical_decoding_work_mem) go through the agent's spill buffer
sql_su "ALTER SYSTEM SET logical_decoding_work_mem = '64kB'" "SELECT pg_reload_conf()"
agent_start

loader() {
    local i=0 end=$((SECONDS + SECS))
    while [ "$SECONDS" -lt "$end" ]; do
        i=$((i + 1))
        echo "INSERT INTO soak VALUES ($i, 0, repeat('x', 3000)) ON CONFLICT (id) DO UPDATE SET n = soak.n + 1;"
        echo "UPDATE soak SET n = n + 1 WHERE id = $((RANDOM % i + 1));"
        if [ $((i % 5)) = 0 ]; then echo "DELETE FROM soak WHERE id = $((i - 3));"; fi
        if [ $((i % 500)) = 0 ]; then
            echo "BEGIN; UPDATE soak SET n = n + 1; INSERT INTO soak SELECT g, 0, 'b' FROM generate_series(1000000 + $i, 1002000 + $i) g; DELETE FROM soak WHERE id >= 1000000; COMMIT;"
        fi
        if [ $((i % 50)) = 0 ]; then echo "SELECT pg_sleep(0.02);"; fi
    done | user_psql >"$T/loader.log" 2>&1
    echo "loader exit $?" >>"$T/loader.log"
}
bg loader

: >"$T/rss.txt"
t0=$SECONDS
while ! grep -q '^loader exit' "$T/loader.log" 2>/dev/null; do
    agent_alive || fail "the agent exited during the soak"
    kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$AGENT_PID/status")
    echo "$((SECONDS - t0)) $kib" >>"$T/rss.txt"
    note "rss t=$((SECONDS - t0)) kib=$kib"
    sleep "$EVERY"
done
expect_eq "the load ran to its end" "$(grep '^loader exit' "$T/loader.log")" "loader exit 0"
# the insert position: with synchronous_commit off the write position can lag the last commits,
# and the agent would be stopped before it received them (the slot keeps them; the replay
# below would miss them)
lsn=$(sql_su "SELECT pg_current_wal_insert_lsn()")
for _ in $(seq 300); do
    [ "$(slot_field cdc_slot "confirmed_flush_lsn >= '$lsn'")" = t ] && break
    sleep 0.2
done
expect_eq "the agent caught up with the load" "$(slot_field cdc_slot "confirmed_flush_lsn >= '$lsn'")" t
agent_stop

verdict=$(python3 - "$T/rss.txt" "$GROWTH" <<'PY'
import sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
kib = [r[1] for r in rows]
q = len(kib) // 4
if q < 2:
    print("too few samples (%d)" % len(kib)); sys.exit()
second = sum(kib[q:2 * q]) / q
last = sum(kib[-q:]) / q
print("%s second-quarter mean %.0f KiB, last-quarter mean %.0f KiB, growth %.0f KiB (limit %s), "
      "peak %d KiB over %d samples" % ("flat:" if last - second <= int(sys.argv[2]) else "GROWS:",
      second, last, last - second, sys.argv[2], max(kib), len(kib)))
PY
)
note "$verdict"
if grep -q __asan_init "$CDCAGENT"; then
    # AddressSanitizer keeps freed memory in quarantine (256 MB by default), so resident
    # memory grows whatever the agent does; LeakSanitizer checks for leaks at exit instead.
    note "an ASan build: its RSS says nothing about the agent's memory; not judged"
else
    expect_contains "resident memory stays flat under load" "$verdict" "flat:"
fi
# every change arrived: the sink's last state per key equals the table
python3 - "$EVENTS" >"$T/replayed.txt" <<'PY'
import json, sys
rows = {}
for l in open(sys.argv[1]):
    e = json.loads(l)
    v = e.get("value")
    if v is None:
        continue
    if v["op"] == "d":
        rows.pop(v["before"]["id"], None)
    else:
        a = v["after"]
        rows[a["id"]] = a["n"]
for k in sorted(rows):
    print("%d|%d" % (k, rows[k]))
PY
sql "SELECT id, n FROM soak ORDER BY id" >"$T/table.txt"
check "the sink replayed by key equals the table ($(line_count "$T/table.txt") rows)" \
    diff -q "$T/table.txt" "$T/replayed.txt"
done_testing
