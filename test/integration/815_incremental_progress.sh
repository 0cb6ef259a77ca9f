#!/usr/bin/env bash
# 815: the incremental snapshot's progress in /metrics (cdcagent_incremental_snapshot_*) and
# in `cdcagent slot status` (text and --json), read while it is paused, deterministically:
# execute-snapshot of two tables and pause-snapshot in one transaction emit exactly one chunk
# of the first table.  The figures are checked against the file's r events; then resume, and
# the figures at the end (2 tables done, 0 remaining, every row) against psql's counts.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

CH=100
pg_up
sql "CREATE TABLE a (id int PRIMARY KEY, v text)" "CREATE TABLE b (id int PRIMARY KEY, v text)" \
    "INSERT INTO a SELECT g, 'a' || g FROM generate_series(1, 450) g" \
    "INSERT INTO b SELECT g, 'b' || g FROM generate_series(1, 120) g" \
    "CREATE TABLE dbz_signal (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))"
HPORT=$(free_port)
P_TABLES="public.a, public.b" P_SNAPSHOT=never \
    P_SOURCE_EXTRA="signal_data_collection: public.dbz_signal
incremental_snapshot_chunk_size: $CH" write_pipeline
PLATFORM_EXTRA="health_port: $HPORT" write_platform
sed -i 's/^health_enabled: false$/health_enabled: true/' "$T/platform.yaml"
agent_start

r_count() { jl_eval "$EVENTS" "sum(1 for e in data if get(e, 'value.op') == 'r')"; }
marker() {    # marker TEXT: a log signal, and the wait for it (everything before it is handled)
    sql "INSERT INTO dbz_signal VALUES ('m-$RANDOM$RANDOM', 'log', '{\"message\": \"$1\"}')"
    wait_grep "$T/agent.log" "$1" 60
}
# metrics: /metrics once the agent's figures (refreshed every second) show state $1.
metrics() {
    local deadline=$((SECONDS + 30))
    until curl -sf "http://127.0.0.1:$HPORT/metrics" >"$T/metrics.txt" &&
        [ "$(metric "cdcagent_incremental_snapshot_running{state=\"$1\"}")" = 1 ]; do
        [ $SECONDS -lt $deadline ] || fail "/metrics never showed an incremental snapshot $1"
        sleep 0.2
    done
}
metric() { awk -v k="$1" '$1 == k { print $2 }' "$T/metrics.txt"; }
status() { cdc slot status "$T/pipeline.yaml" --platform-config "$T/platform.yaml" "$@"; }
sj() { python3 -c "import json,sys; print(json.dumps(json.load(open(sys.argv[1]))['incremental_snapshot'].get(sys.argv[2])))" "$T/cdc.out" "$1"; }

curl -sf "http://127.0.0.1:$HPORT/metrics" >"$T/metrics.txt" || fail "no /metrics on port $HPORT"
expect_eq "/metrics before any signal: not running" \
    "$(metric 'cdcagent_incremental_snapshot_running{state="running"}') $(metric 'cdcagent_incremental_snapshot_running{state="paused"}') $(metric cdcagent_incremental_snapshot_rows_total)" "0 0 0"

sql "BEGIN; INSERT INTO dbz_signal VALUES ('snap-ab', 'execute-snapshot', '{\"data-collections\": [\"public.a\", \"public.b\"]}'); INSERT INTO dbz_signal VALUES ('pause-1', 'pause-snapshot', NULL); COMMIT;"
wait_grep "$T/agent.log" 'incremental snapshot snap-ab paused' 60
marker "paused"
expect_eq "paused: the file holds one chunk of a" "$(r_count)" $CH
metrics paused
expect_eq "/metrics paused: not running" "$(metric 'cdcagent_incremental_snapshot_running{state="running"}')" 0
expect_eq "/metrics paused: rows = the file's r events" "$(metric cdcagent_incremental_snapshot_rows_total)" "$(r_count)"
expect_eq "/metrics paused: 1 chunk" "$(metric cdcagent_incremental_snapshot_chunks_total)" 1
expect_eq "/metrics paused: 0 tables done, 2 remaining" \
    "$(metric 'cdcagent_incremental_snapshot_tables{state="done"}') $(metric 'cdcagent_incremental_snapshot_tables{state="remaining"}')" "0 2"

status
note "slot status exit $CDC_RC: $(grep ^warning "$T/cdc.out" | head -3)"
check "slot status ran (0, or 3 with warnings)" test "$CDC_RC" -eq 0 -o "$CDC_RC" -eq 3
line=$(grep '^incremental snapshot ' "$T/cdc.out" || true)
expect_contains "slot status text: the state and counts" "$line" "paused, 0 tables done, 2 remaining, 1 chunks, $CH rows (signal snap-ab)"
expect_contains "slot status text: where reading goes on" "$(cat "$T/cdc.out")" "public.a after key [\"$CH\"], up to key [\"450\"]"
status --json
expect_eq "slot status --json: state" "$(sj state)" '"paused"'
expect_eq "slot status --json: rows" "$(sj rows)" "$CH"
expect_eq "slot status --json: tables remaining" "$(sj tables_remaining)" '["public.a", "public.b"]'
expect_eq "slot status --json: after_key, max_key" "$(sj after_key) $(sj max_key)" "[\"$CH\"] [\"450\"]"

note "a restart keeps the figures (they are in the slot's record)"
agent_stop
status --json
expect_eq "slot status with the agent stopped: rows and chunks" "$(sj rows) $(sj chunks)" "$CH 1"
agent_start
metrics paused
expect_eq "/metrics after the restart: rows" "$(metric cdcagent_incremental_snapshot_rows_total)" "$CH"

sql "INSERT INTO dbz_signal VALUES ('resume-1', 'resume-snapshot', NULL)"
wait_grep "$T/agent.log" 'incremental snapshot snap-ab done' 60
marker "after resume"
n_psql=$(sql "SELECT (SELECT count(*) FROM a) + (SELECT count(*) FROM b)")
expect_eq "every row as r once" "$(r_count)" "$n_psql"
deadline=$((SECONDS + 30))
until curl -sf "http://127.0.0.1:$HPORT/metrics" >"$T/metrics.txt" &&
    [ "$(metric 'cdcagent_incremental_snapshot_tables{state="done"}')" = 2 ]; do
    [ $SECONDS -lt $deadline ] || fail "/metrics never showed 2 tables done"
    sleep 0.2
done
expect_eq "/metrics at the end: rows = psql's count, 0 remaining, not running" \
    "$(metric cdcagent_incremental_snapshot_rows_total) $(metric 'cdcagent_incremental_snapshot_tables{state="remaining"}') $(metric 'cdcagent_incremental_snapshot_running{state="running"}')" "$n_psql 0 0"
# chunks of 100 rows up to the largest key read at each table's start: a (450 rows) in 5,
# b (120) in 2
expect_eq "/metrics at the end: 7 chunks" "$(metric cdcagent_incremental_snapshot_chunks_total)" 7
status
expect_contains "slot status at the end: idle with the totals" "$(grep '^incremental snapshot ' "$T/cdc.out")" "idle, 2 tables done, 0 remaining"
agent_stop

done_testing
