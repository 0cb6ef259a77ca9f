#!/usr/bin/env bash
# 840: a failover under load with a failover slot (PostgreSQL 17, docs/ha.md).  A primary
# and a physical standby (cold copy, physical slot standby1, sync_replication_slots = on,
# hot_standby_feedback = on, synchronized_standby_slots = standby1 on the primary); the
# agent, given both hosts (source.host a:p,b:q; target_session_attrs read-write) and
# source.slot_failover: true, snapshots 50 rows then streams a continuous load into a jsonl
# file and a PostgreSQL replica (sink mode replica, a third server).  `slot status` shows the standby's synced copy (checked against psql on the
# standby).  Then the primary is stopped (fast: the standby receives all of its WAL) and the
# standby promoted; the loader moves to the new primary by itself (libpq's host list).
# Checked: the agent resumes on the new primary (the seconds from the stop to the
# reconnection are printed; asserted loosely, < 60 s), no second snapshot is taken (50 op r
# events, all before the failover, and one "reading N tables" line in the log), the jsonl
# file holds every row of the new primary's table exactly once, in commit order, and the
# replica's table equals the new primary's (psql on both).  The loader records the ids whose
# INSERT returned (acknowledged commits): after a fast stop every one of them is on the new
# primary; 844 runs this script with HA_STOP_MODE=immediate (a crash), where the
# acknowledged rows the asynchronous standby had not received are lost (counted, printed).  Before the failover the standby stops
# syncing for a moment, so that its copy of the slot lags what the jsonl file holds: the
# new primary sends those transactions again and the sink skips them.  Last, a slot whose
# failover was turned off gets it back at the agent's next start, which warns that the new
# primary has no standby to copy it to.
PG_MAJOR=${PG_MAJOR:-17}
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"
# shellcheck source=SCRIPTDIR/../lib/ha.sh
. "$CDC_SRC/test/lib/ha.sh"

ha_up standby1
TGT=$T/tgt
PG_EXTRA_DIRS+=("$TGT")
TPORT=$(free_port)
pg_start "$TGT" "$TPORT" >/dev/null || fail "the replica's PostgreSQL did not start"
pg_psql "$TPORT" cdc_demo "CREATE DATABASE mirror" >/dev/null
sql "CREATE TABLE items (id int PRIMARY KEY, payload text)" \
    "INSERT INTO items SELECT g, 'before' FROM generate_series(1, 50) g"
P_TABLES=public.items P_SOURCE_EXTRA="slot_failover: true" write_pipeline
sed -i "s|^  host: .*|  host: \"$(ha_hosts)\"|" "$T/pipeline.yaml"
add_pg_replica mirror "$TPORT" mirror
PLATFORM_EXTRA=$'retry:\n  initial_wait_seconds: 0.25\n  max_wait_seconds: 1\n  multiplier: 2\n  jitter: false' \
    write_platform
agent_start
expect_eq "the slot has failover on (psql, primary)" "$(slot_field cdc_slot failover)" t
wait_lines "$EVENTS" 50 30

# loader: ids 1001, 1002... ten single-row transactions per psql call through libpq's host
# list, so that after the failover it writes to the new primary.  A failed call is not
# repeated: what it did not commit is simply not in the table.  Each INSERT returns its id
# once committed: $T/acked.txt holds the acknowledged ones.
loader() {
    local i=1001 j
    while [ ! -e "$T/stop" ]; do
        for ((j = 0; j < 10; j++)); do
            echo "INSERT INTO items VALUES ($((i + j)), 'load') RETURNING id;"
        done | PGPASSWORD=cdc_password PGCONNECT_TIMEOUT=2 "$PG_BIN/psql" -X -q -At \
            -v ON_ERROR_STOP=1 -U cdc_user -d "host=127.0.0.1,127.0.0.1 port=$HA_OLD_PORT,$SB_PORT dbname=cdc_demo target_session_attrs=read-write" \
            >>"$T/acked.txt" 2>/dev/null || sleep 0.2
        i=$((i + 10))
        sleep 0.02
    done
    echo done >"$T/loader.done"
}
bg loader
wait_lines "$EVENTS" 300 60
ha_wait_synced cdc_slot 30
ok "the standby holds a synced copy of slot cdc_slot"

cdc slot status "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --json
sb_synced=$(sb_sql "SELECT synced FROM pg_replication_slots WHERE slot_name = 'cdc_slot'")
python3 - "$T/cdc.out" "$SB_PORT" "$sb_synced" <<'PY' >"$T/status_check.txt" 2>&1 || fail "slot status's standby side: $(cat "$T/status_check.txt")"
import json, sys
o = json.load(open(sys.argv[1]))
ha = o["ha"]
assert ha["synchronized_standby_slots"] == "standby1", ha
assert [p["slot_name"] for p in ha["physical_slots"]] == ["standby1"], ha
assert ha["physical_slots"][0]["active"] is True, ha
sb = [s for s in ha["standbys"] if s["host"].endswith(":" + sys.argv[2])]
assert len(sb) == 1 and len(ha["standbys"]) == 1, ha["standbys"]
assert sb[0]["slot"]["synced"] == (sys.argv[3] == "t") and sb[0]["slot"]["failover"] is True, sb
assert sb[0]["sync_replication_slots"] == "on" and sb[0]["hot_standby_feedback"] == "on", sb
assert not [w for w in o["warnings"] if "failover" in w or "standby" in w], o["warnings"]
PY
ok "slot status shows the standby's synced copy as psql does, and no failover warning"

# The copy must lag what the agent delivered, so that the failover replays transactions
# the jsonl file already holds: the standby stops syncing (the primary's walsender still
# waits for its physical slot, synchronized_standby_slots) while the load goes on.
sb_sql "ALTER SYSTEM SET sync_replication_slots = off" "SELECT pg_reload_conf()" >/dev/null
sleep 2
copy_lsn=$(sb_sql "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'cdc_slot'")
wait_lines "$EVENTS" $(($(line_count "$EVENTS") + 50)) 30
n_before=$(line_count "$EVENTS")
replayed=$(jl_eval "$EVENTS" "sum(1 for e in evs if lsn(get(e, 'metadata.commit_lsn')) >= lsn('$copy_lsn'))")
note "the standby's copy is confirmed up to $copy_lsn; $replayed of the $n_before events the jsonl file holds come after it"
[ "$replayed" -gt 0 ] || fail "the copy does not lag the jsonl file: the replay would not be tested"
t0=$(date +%s.%N)
ha_failover
deadline=$((SECONDS + 60))
until grep -q "reconnected to 127.0.0.1:$SB_PORT on timeline" "$T/agent.log"; do
    agent_alive || fail "the agent exited after the failover"
    [ "$SECONDS" -lt "$deadline" ] || fail "the agent did not reconnect to the new primary within 60 s of the stop"
    sleep 0.2
done
resumed=$(python3 -c "import sys, time; print('%.1f' % (time.time() - float(sys.argv[1])))" "$t0")
ok "the agent resumed on the new primary (127.0.0.1:$SB_PORT) $resumed s after the old one was stopped (-m ${HA_STOP_MODE:-fast}, promote included; < 60 s)"
wait_slot_active cdc_slot 30
n_mid=$(sql "SELECT count(*) FROM items")
wait_lines "$EVENTS" "$n_mid" 30
# Some load on the new primary, then stop.
deadline=$((SECONDS + 20))
until [ "$(sql "SELECT count(*) FROM items")" -ge $((n_mid + 100)) ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "the loader wrote nothing to the new primary"
    sleep 0.2
done
loader_stop
n=$(sql "SELECT count(*) FROM items")
wait_lines "$EVENTS" "$n" 60
sleep 1                                 # anything sent twice would be here by now
sql "COPY (SELECT id FROM items ORDER BY id) TO STDOUT" >"$T/ids.txt"
note "$n rows on the new primary, $n_before events before the failover, $(line_count "$EVENTS") after"
jl_check "the jsonl file holds every row of the new primary once ($n rows, psql)" "$EVENTS" \
    "sorted(e['key']['id'] for e in evs) == [int(x) for x in open('$T/ids.txt').read().split()]"
jl_check "no second snapshot: 50 op r events, all before the failover" "$EVENTS" \
    "[i for i, e in enumerate(evs) if e['value']['op'] == 'r'] == list(range(50))"
expect_eq "no second snapshot: one \"reading 1 tables\" line in the log" \
    "$(grep -c '"msg":"reading [0-9]* tables at' "$T/agent.log")" 1
# The replica: every row of the new primary, as psql reads them on both servers.
tsql() { pg_psql "$TPORT" mirror "$@"; }
sql "COPY (SELECT id, payload FROM items ORDER BY id) TO STDOUT" >"$T/rows.txt"
deadline=$((SECONDS + 60))
until tsql "COPY (SELECT id, payload FROM public.items ORDER BY id) TO STDOUT" >"$T/mirror.txt" 2>/dev/null &&
    cmp -s "$T/rows.txt" "$T/mirror.txt"; do
    [ "$SECONDS" -lt "$deadline" ] || break
    sleep 0.2
done
check "the PostgreSQL replica's table equals the new primary's ($n rows, psql on both)" \
    diff "$T/rows.txt" "$T/mirror.txt"
# Acknowledged commits the new primary lacks: none after a fast stop; after a crash, what
# the asynchronous standby had not received (docs/ha.md, "Crash failover").
lost=$(comm -23 <(sort "$T/acked.txt") <(sort "$T/ids.txt") | wc -l)
note "$(line_count "$T/acked.txt") acknowledged loader commits, $lost of them not on the new primary"
if [ "${HA_STOP_MODE:-fast}" = fast ]; then
    expect_eq "a switchover (fast stop) loses no acknowledged commit" "$lost" 0
fi
jl_check "(commit_lsn, seq) strictly increasing across the failover" "$EVENTS" \
    'all((get(a, "metadata.commit_lsn"), get(a, "metadata.seq")) < (get(b, "metadata.commit_lsn"), get(b, "metadata.seq")) for a, b in zip(evs, evs[1:]))'
expect_eq "the new primary's slot is the synced copy, failover on" \
    "$(slot_field cdc_slot "synced::text || ' ' || failover::text")" "true true"
agent_stop

# An existing slot without failover gets it at the next start; the new primary has no
# standby yet, which the start's warning says.
"$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 \
    "host=127.0.0.1 port=$PORT user=postgres dbname=cdc_demo replication=database" \
    -c "ALTER_REPLICATION_SLOT cdc_slot (FAILOVER false)" >/dev/null
expect_eq "the slot's failover is off (psql)" "$(slot_field cdc_slot failover)" f
agent_start
expect_eq "the agent turned it on again (psql)" "$(slot_field cdc_slot failover)" t
log2=$(sed -n '/=== run 2/,$p' "$T/agent.log")
expect_contains "and said so" "$log2" "slot cdc_slot: failover turned on (source.slot_failover)"
expect_contains "the start warns that no standby would get the slot" "$log2" \
    "slot cdc_slot has failover on, but no standby replicates through a physical slot of 127.0.0.1:$PORT"
agent_stop
done_testing
