#!/usr/bin/env bash
# 870: the PostgreSQL sink's batches in flight (issue 25).  A batch that is one run of rows
# (event-log rows; replica inserts of distinct keys) is sent as one query, BEGIN; COPY ...;
# [INSERT ... SELECT;] state row; COMMIT, and left in flight while the caller goes on (the COPY
# goes into the table itself while no batch failed, into a staging table for a few batches
# after one did: 871 tests that choice).  Driven
# directly (test/tools/sink_drive) against a real PostgreSQL 15 target whose server log
# records every statement, so the test sees that the batches really went that way:
# - event log: a CHECK on the target refuses one row inside a batch in flight; the batch is
#   rolled back, applied again statement by statement, and only that row is dead-lettered;
#   every other position is there exactly once and the state row is at the last transaction;
# - replica: inserts of distinct keys (fewer than 256: the model formats a bytea from the id)
#   equal the model (sink_drive --expect, computed without
#   the sink), then again with a CHECK refusing one id (one dead letter, the rest there);
# - a target restart while batches fly: the replica still equals the model at the end.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_sink_target
tsql "ALTER SYSTEM SET log_statement = 'all'" "SELECT pg_reload_conf()" >/dev/null
LOG=$TGT/log/postgresql.log

note "event log: a refused row inside a batch in flight"
tsql "CREATE TABLE public.cdc_events (id bigserial PRIMARY KEY, event_key jsonb, event_value jsonb,
          source_topic text NOT NULL, source_partition integer NOT NULL,
          source_offset bigint NOT NULL, commit_lsn bigint, seq bigint,
          written_at timestamptz NOT NULL DEFAULT now(),
          CONSTRAINT not_this_one CHECK (NOT (commit_lsn = 1003000 AND seq = 3)))"
"$DRIVE" postgres "$CI" --mode event_log --table public.cdc_events --upsert --events 100 \
    --txn 10 --batch 30 --sink-id log --dlq "$T/dlq1.jsonl" >"$T/d1.out" 2>"$T/agent.log" ||
    fail "sink_drive event_log failed"
expect_contains "batches went in flight (one query: BEGIN; COPY into the table ...)" \
    "$(cat "$LOG")" 'BEGIN; COPY "public"."cdc_events" ('
expect_contains "after the refused row, in flight the staging way" \
    "$(cat "$LOG")" "BEGIN; CREATE TEMP TABLE IF NOT EXISTS pg_temp.cdc_stage_"
expect_eq "99 rows, one per position, not the refused one" \
    "$(tsql "SELECT count(*), count(DISTINCT (commit_lsn, seq)), count(*) FILTER (WHERE commit_lsn = 1003000 AND seq = 3) FROM cdc_events")" \
    "99|99|0"
jl_check "one dead letter, the refused row, naming the constraint's SQLSTATE" "$T/dlq1.jsonl" \
    'len(evs) == 1 and evs[0]["headers"]["dlq.error_type"] == "pg_23514"'
jl_check "its record is the refused row's {key, value, metadata}" "$T/dlq1.jsonl" \
    'evs[0]["record"]["key"] == {"id": 3} and evs[0]["record"]["value"]["after"]["id"] == 3
     and evs[0]["record"]["metadata"] == {"topic": "it.public.items", "partition": 0,
         "offset": int(evs[0]["headers"]["dlq.source_offset"]), "commit_lsn": 1003000, "seq": 3}'
expect_eq "state row at the last transaction" \
    "$(tsql "SELECT commit_lsn FROM cdcagent_state WHERE sink_id = 'log'")" 1009000

note "replica: inserts of distinct keys in flight equal the model"
"$DRIVE" postgres "$CI" --mode replica --events 240 --txn 10 --keys 250 --batch 40 \
    --sink-id rep >"$T/d2.out" 2>>"$T/agent.log" || fail "sink_drive replica failed"
"$DRIVE" postgres x --mode replica --events 240 --txn 10 --keys 250 --expect >"$T/want.txt"
tsql "SELECT * FROM public.items ORDER BY id" >"$T/got.txt"
check "replica rows equal the model" diff "$T/got.txt" "$T/want.txt"
expect_contains "replica batches went in flight" "$(cat "$LOG")" 'BEGIN; COPY "public"."items" ('

note "replica: a refused row inside a batch in flight"
tsql "TRUNCATE public.items" "DELETE FROM cdcagent_state WHERE sink_id = 'rep'" \
     "ALTER TABLE public.items ADD CONSTRAINT no77 CHECK (id <> 77)"
"$DRIVE" postgres "$CI" --mode replica --events 240 --txn 10 --keys 250 --batch 40 \
    --sink-id rep --dlq "$T/dlq2.jsonl" >"$T/d3.out" 2>>"$T/agent.log" ||
    fail "sink_drive with a CHECK failed"
grep -v '^77|' "$T/want.txt" >"$T/want77.txt"
tsql "SELECT * FROM public.items ORDER BY id" >"$T/got77.txt"
check "all rows but id 77, as the model has them" diff "$T/got77.txt" "$T/want77.txt"
jl_check "one dead letter (23514)" "$T/dlq2.jsonl" \
    'len(evs) == 1 and evs[0]["headers"]["dlq.error_type"] == "pg_23514"'

note "a target restart while batches fly"
tsql "ALTER TABLE public.items DROP CONSTRAINT no77" "TRUNCATE public.items"
"$DRIVE" postgres "$CI" --mode replica --events 240 --txn 10 --keys 250 --batch 20 \
    --sink-id rep2 --initial-ms 200 --max-ms 500 --deadline-ms 60000 --pace-ms 50 \
    >"$T/d4.out" 2>>"$T/agent.log" &
DPID=$!
for _ in $(seq 100); do [ -n "$(tsql "SELECT 1 FROM cdcagent_state WHERE sink_id = 'rep2'")" ] && break; sleep 0.05; done
pg_stop "$TGT"
sleep 2
pg_start "$TGT" "$TPORT" >/dev/null || fail "target did not restart"
wait "$DPID" || fail "sink_drive did not finish after the target restarted"
"$DRIVE" postgres x --mode replica --events 240 --txn 10 --keys 250 --expect >"$T/want2.txt"
tsql "SELECT * FROM public.items ORDER BY id" >"$T/got2.txt"
check "after the restart the replica equals the model" diff "$T/got2.txt" "$T/want2.txt"
expect_eq "state row at the end" "$(tsql "SELECT commit_lsn FROM cdcagent_state WHERE sink_id = 'rep2'")" 1023000
done_testing
