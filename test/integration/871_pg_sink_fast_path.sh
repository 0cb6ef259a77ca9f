#!/usr/bin/env bash
# 871: the PostgreSQL sink's fast path (issue 25).  A batch in flight whose rows are all new to
# the target (replica creates and reads; event-log rows with upsert) is COPYed into the table
# itself, BEGIN; COPY <table> FROM STDIN; state row; COMMIT, without the staging table and its
# INSERT ... SELECT.  If a row is already there (unique violation), the batch is rolled back and
# applied the staging way (ON CONFLICT), so the result is the upsert path's.  Driven directly
# (test/tools/sink_drive) against a real PostgreSQL 15 target that logs every statement:
# - replica inserts go the fast way and equal the model (sink_drive --expect, computed
#   without the sink), with no staging table used;
# - the same inserts into a target that already holds stale rows for a third of the keys: the
#   server refuses the fast COPY (duplicate key), the rows then equal the model (the stale
#   values overwritten, as the upsert path does), the state row is at the end;
# - event log: positions already in the table (some with a stale value) collide; afterwards
#   every position is there exactly once with the value of the first run;
# - kill -9 of the driver while fast batches fly, then a resumed run: the replica equals the
#   model, and the resumed run hit no duplicate key (the state row was committed with its rows).
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_sink_target
tsql "ALTER SYSTEM SET log_statement = 'all'" "SELECT pg_reload_conf()" >/dev/null
LOG=$TGT/log/postgresql.log
# the server log from byte $1 on
log_since() { tail -c +"$(($1 + 1))" "$LOG"; }
log_at() { wc -c <"$LOG" | tr -d ' '; }
DUP="duplicate key value violates unique constraint"

"$DRIVE" postgres x --mode replica --events 240 --txn 10 --keys 250 --expect >"$T/want.txt"

note "replica: inserts go straight into the table"
AT=$(log_at)
"$DRIVE" postgres "$CI" --mode replica --events 240 --txn 10 --keys 250 --batch 40 \
    --sink-id rep >"$T/d1.out" 2>"$T/agent.log" || fail "sink_drive replica failed"
tsql "SELECT * FROM public.items ORDER BY id" >"$T/got1.txt"
check "replica rows equal the model" diff "$T/got1.txt" "$T/want.txt"
expect_contains "batches were COPYed into the table in flight" "$(log_since "$AT")" \
    'BEGIN; COPY "public"."items" ('
expect_eq "no staging table, no duplicate key" \
    "$(log_since "$AT" | { grep -c -e cdc_stage_ -e "$DUP" || true; })" 0

note "replica: the target already holds stale rows for a third of the keys"
tsql "TRUNCATE public.items" "DELETE FROM cdcagent_state WHERE sink_id = 'rep'" \
     "INSERT INTO public.items (id, name, note) SELECT i, 'stale', 'stale' FROM generate_series(0, 239, 3) i"
AT=$(log_at)
"$DRIVE" postgres "$CI" --mode replica --events 240 --txn 10 --keys 250 --batch 40 \
    --sink-id rep >"$T/d2.out" 2>>"$T/agent.log" || fail "sink_drive onto stale rows failed"
tsql "SELECT * FROM public.items ORDER BY id" >"$T/got2.txt"
check "replica rows equal the model (stale values overwritten)" diff "$T/got2.txt" "$T/want.txt"
expect_contains "the fast COPY collided" "$(log_since "$AT")" "$DUP"
expect_contains "and the batch went the staging way" "$(log_since "$AT")" "COPY pg_temp.cdc_stage_"
expect_eq "state row at the last transaction" \
    "$(tsql "SELECT commit_lsn FROM cdcagent_state WHERE sink_id = 'rep'")" 1023000

note "event log: positions already in the table"
tsql "CREATE TABLE public.cdc_events (id bigserial PRIMARY KEY, event_key jsonb, event_value jsonb,
          source_topic text NOT NULL, source_partition integer NOT NULL,
          source_offset bigint NOT NULL, commit_lsn bigint, seq bigint,
          written_at timestamptz NOT NULL DEFAULT now())" \
     "CREATE UNIQUE INDEX cdc_events_position ON public.cdc_events
          (source_topic, source_partition, source_offset, seq)"
LOGQ="SELECT source_topic, source_partition, source_offset, commit_lsn, seq, event_key,
             event_value->'after' FROM cdc_events ORDER BY commit_lsn, seq"
AT=$(log_at)
"$DRIVE" postgres "$CI" --mode event_log --table public.cdc_events --upsert --events 100 \
    --txn 10 --batch 30 --sink-id log >"$T/d3.out" 2>>"$T/agent.log" ||
    fail "sink_drive event_log failed"
expect_contains "event-log batches were COPYed into the table in flight" "$(log_since "$AT")" \
    'BEGIN; COPY "public"."cdc_events" (event_key,'
tsql "$LOGQ" >"$T/log1.txt"
expect_eq "100 positions" "$(wc -l <"$T/log1.txt" | tr -d ' ')" 100
expect_eq "the values carry rows" "$(tsql "SELECT count(*) FROM cdc_events WHERE event_value->'after' IS NOT NULL AND event_value->'after' <> 'null'")" \
    "$(tsql "SELECT count(*) FROM cdc_events WHERE event_value->>'op' <> 'd'")"
tsql "DELETE FROM cdc_events WHERE seq % 3 <> 0" \
     "UPDATE cdc_events SET event_value = '{\"stale\": true}' WHERE seq % 2 = 0" \
     "DELETE FROM cdcagent_state WHERE sink_id = 'log'"
AT=$(log_at)
"$DRIVE" postgres "$CI" --mode event_log --table public.cdc_events --upsert --events 100 \
    --txn 10 --batch 30 --sink-id log >"$T/d4.out" 2>>"$T/agent.log" ||
    fail "sink_drive event_log onto existing positions failed"
expect_contains "the fast COPY collided" "$(log_since "$AT")" "$DUP"
tsql "$LOGQ" >"$T/log2.txt"
check "every position once, with the first run's values" diff "$T/log2.txt" "$T/log1.txt"
expect_eq "state row at the last transaction" \
    "$(tsql "SELECT commit_lsn FROM cdcagent_state WHERE sink_id = 'log'")" 1009000

note "kill -9 while fast batches fly, then resume"
tsql "TRUNCATE public.items" "DELETE FROM cdcagent_state WHERE sink_id = 'rep'"
"$DRIVE" postgres "$CI" --mode replica --events 240 --txn 10 --keys 250 --batch 20 \
    --sink-id rep --pace-ms 100 >"$T/d5.out" 2>>"$T/agent.log" &
DPID=$!
for _ in $(seq 500); do
    [ "$(tsql "SELECT coalesce(max(commit_lsn), 0) >= 1005000 FROM cdcagent_state WHERE sink_id = 'rep'")" = t ] && break
    sleep 0.02
done
kill -9 "$DPID"
wait "$DPID" 2>/dev/null || true     # killed: 137
MID=$(tsql "SELECT commit_lsn FROM cdcagent_state WHERE sink_id = 'rep'")
[ -n "$MID" ] && [ "$MID" -lt 1023000 ] || fail "the kill did not land mid-stream (state row at '$MID')"
expect_eq "the rows match the state row (transactions of 10 rows: LSN 1000000 + 1000 per txn)" \
    "$(tsql "SELECT count(*) FROM public.items")" "$(( (MID - 1000000) / 1000 * 10 + 10 ))"
AT=$(log_at)
"$DRIVE" postgres "$CI" --mode replica --events 240 --txn 10 --keys 250 --batch 20 \
    --sink-id rep --resume >"$T/d6.out" 2>>"$T/agent.log" || fail "the resumed sink_drive failed"
tsql "SELECT * FROM public.items ORDER BY id" >"$T/got3.txt"
check "after kill -9 and resume the replica equals the model" diff "$T/got3.txt" "$T/want.txt"
expect_eq "the resumed run sent nothing twice (no duplicate key)" \
    "$(log_since "$AT" | { grep -c "$DUP" || true; })" 0
done_testing
