#!/usr/bin/env bash
# 801: the snapshot's progress is visible while it runs and after it.  The second table's rows
# sit behind a row-level security policy that waits for an advisory lock the test holds, so
# the snapshot (2 threads) stops, deterministically, after the first table: then /metrics,
# `slot status` (text and --json) and the log must say 1 of 2 tables done, the first table's
# rows read out of the rows expected (pg_class.reltuples after VACUUM, so exact), and the WAL
# the slot retains, compared with what psql reads from pg_replication_slots.  A SIGTERM then
# stops it although a worker's COPY waits (it is cancelled); with the gate open the next
# start's snapshot ends and slot status says done with every row.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

N=${IT_SNAPSHOT_ROWS:-200000}
pg_up
sql "CREATE TABLE big (id int PRIMARY KEY, s text)" \
    "INSERT INTO big SELECT i, md5(i::text) FROM generate_series(1, $N) i" \
    "CREATE TABLE gate (id int PRIMARY KEY)" "INSERT INTO gate VALUES (1), (2)" \
    "ALTER TABLE gate ENABLE ROW LEVEL SECURITY" "ALTER TABLE gate FORCE ROW LEVEL SECURITY" \
    "CREATE POLICY wait_for_the_test ON gate
       USING ((SELECT true FROM pg_advisory_xact_lock_shared(801)))" \
    "VACUUM ANALYZE big" "VACUUM ANALYZE gate"
# ended by pg_terminate_backend below
hold_lock() { sql "SELECT pg_advisory_lock(801), pg_sleep(3600)" >/dev/null 2>&1 || true; }
bg hold_lock
deadline=$((SECONDS + 30))
until [ "$(sql_su "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 801 AND granted")" = 1 ]; do
    [ $SECONDS -lt $deadline ] || fail "the test's advisory lock was never granted"
    sleep 0.1
done

HPORT=$(free_port)
P_TABLES="public.big, public.gate" \
    P_SOURCE_EXTRA=$'snapshot_max_threads: 2\nsnapshot_chunk_mb: 1' write_pipeline
PLATFORM_EXTRA="health_port: $HPORT" write_platform
sed -i 's/^health_enabled: false$/health_enabled: true/' "$T/platform.yaml"
AGENT_NO_WAIT=1 agent_start

# Blocked in the second table: a snapshot connection waits for the advisory lock.
deadline=$((SECONDS + 60))
until [ "$(sql_su "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 801 AND NOT granted")" -ge 1 ]; do
    [ $SECONDS -lt $deadline ] || fail "the snapshot never reached table gate"
    agent_alive || fail "the agent exited"
    sleep 0.2
done
wal_psql=$(sql_su "SELECT (pg_current_wal_lsn() - restart_lsn)::int8 FROM pg_replication_slots WHERE slot_name = 'cdc_slot'")
curl -sf "http://127.0.0.1:$HPORT/metrics" >"$T/metrics.txt" || fail "no /metrics on port $HPORT"
metric() { awk -v k="$1" '$1 == k { print $2 }' "$T/metrics.txt"; }
expect_eq "/metrics: snapshot rows read = the first table's" "$(metric cdcagent_snapshot_rows_total)" "$N"
expect_eq "/metrics: rows expected = reltuples of both tables" \
    "$(metric cdcagent_snapshot_rows_estimated)" "$(sql "SELECT sum(reltuples)::int8 FROM pg_class WHERE relname IN ('big', 'gate')")"
expect_eq "/metrics: 1 table done" "$(metric 'cdcagent_snapshot_tables{state="done"}')" 1
expect_eq "/metrics: 1 table remaining" "$(metric 'cdcagent_snapshot_tables{state="remaining"}')" 1
wal_metric=$(metric cdcagent_snapshot_wal_retained_bytes)
note "WAL retained: /metrics $wal_metric, psql $wal_psql"
check "/metrics: WAL retained is psql's figure, within 1 MiB" \
    python3 -c "import sys; m, p = int(sys.argv[1]), int(sys.argv[2]); sys.exit(not (0 <= m <= p and p - m < 1 << 20))" "$wal_metric" "$wal_psql"

cdc slot status "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
sed 's/^/#   /' "$T/cdc.out"
expect_contains "slot status: snapshot running, 1 of 2 tables, rows read of rows expected" \
    "$(cat "$T/cdc.out")" "running, 1 of 2 tables, $N rows of about $((N + 2)), "
expect_contains "slot status: the table being read" "$(cat "$T/cdc.out")" "reading public.gate"
expect_contains "slot status: WAL retained by the snapshot" "$(cat "$T/cdc.out")" "WAL retained by snapshot"
expect_contains "log: the first table's line" "$(cat "$T/agent.log")" \
    "table public.big: $N rows in"
expect_contains "log: tables done and remaining" "$(cat "$T/agent.log")" \
    "1 of 2 tables done, 1 remaining, $N rows in all"

# While it waits for the chunk, the progress line still comes every status interval (1 s).
deadline=$((SECONDS + 30))
until grep -q "progress: 1 of 2 tables done, $N rows of about $((N + 2)) .*reading public.gate" "$T/agent.log"; do
    [ $SECONDS -lt $deadline ] || fail "no progress line while the snapshot waits in table gate"
    sleep 0.2
done
ok "log: a progress line while the snapshot waits: $(grep -o 'progress: [^"]*' "$T/agent.log" | tail -1)"

# SIGTERM while a worker's COPY waits in the gate: the COPY is cancelled and the agent stops
# (exit 1: the snapshot starts over on the next run); the progress file says "stopped".
kill -TERM "$AGENT_PID"
agent_wait_exit 60
expect_eq "SIGTERM during the snapshot: exit status 1" "$AGENT_RC" 1
expect_contains "the log says the snapshot starts over" "$(cat "$T/agent.log")" \
    "stopped during the snapshot; it starts over on the next run"
expect_eq "the progress file says stopped" \
    "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["state"])' "$T/cdcagent-cdc_slot.snapshot.json")" stopped
before=$(line_count "$EVENTS")

# Release the gate: the next start's snapshot ends.
sql_su "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = 801 AND granted" >/dev/null
AGENT_NO_WAIT=1 agent_start
wait_lines "$EVENTS" $((before + N + 2)) 60
agent_stop
cdc slot status "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --json
python3 - "$T/cdc.out" "$N" <<'PY' || fail "slot status --json after the snapshot: $(cat "$T/cdc.out")"
import json, sys
s = json.load(open(sys.argv[1]))["snapshot"]
n = int(sys.argv[2])
assert s["state"] == "done", s
assert (s["tables_done"], s["tables_total"], s["rows"]) == (2, 2, n + 2), s
assert s["wal_retained_bytes"] >= 0, s
PY
ok "slot status --json: snapshot done, 2 of 2 tables, every row"
expect_contains "the second start says why it takes the snapshot again" "$(cat "$T/agent.log")" \
    "holds only rows of its snapshot, which never finished"
jl_check "the second snapshot: every row of both tables once" "$EVENTS" \
    "sorted((get(e, 'value.source.table'), e['key']['id']) for e in data[$before:]) == [('big', i) for i in range(1, $N + 1)] + [('gate', 1), ('gate', 2)]"
done_testing
