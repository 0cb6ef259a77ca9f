#!/usr/bin/env bash
# 113: the PostgreSQL sink writing into a LATIN1 target database (createdb -E LATIN1 -T
# template0 -l C), replica and event_log, from a UTF8 source.  The sink says its statements
# are UTF-8 (SET client_encoding), so the server converts: 'café' is stored as 'café', not
# 'cafÃ©' (the mojibake of UTF-8 bytes read as LATIN1, before the fix), in the snapshot and
# streamed, in replica rows and in the event log's jsonb.  A character LATIN1 cannot hold
# (an emoji) is refused by the server and dead-lettered with a message naming the table and
# the column; the other rows go on.  Without a dead-letter queue it stops the agent with an
# error naming the table and column.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

TGT=$T/tgt
trap 'rc=$?; pg_cleanup "$TGT"; set +e; (exit $rc); _cleanup' EXIT
TPORT=$(free_port)
pg_start "$TGT" "$TPORT" >/dev/null || fail "target PostgreSQL did not start"
pg_psql "$TPORT" postgres "CREATE DATABASE tgt_latin1 ENCODING 'LATIN1' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'"
tsql() { PGCLIENTENCODING=UTF8 PGTZ=UTC pg_psql "$TPORT" tgt_latin1 "$@"; }
expect_eq "the target database's encoding" "$(tsql "SHOW server_encoding")" LATIN1

pg_up
sql "CREATE TABLE t (id int PRIMARY KEY, name text)" "INSERT INTO t VALUES (1, 'café')"
P_TABLES=public.t write_pipeline
cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: mirror
    sink_type: postgres
    postgres:
      host: 127.0.0.1
      port: $TPORT
      database: tgt_latin1
      username: postgres
      mode: replica
      batch_size: 10
  - sink_id: log
    sink_type: postgres
    postgres:
      host: 127.0.0.1
      port: $TPORT
      database: tgt_latin1
      username: postgres
      mode: event_log
      target_table: public.cdc_events
      batch_size: 10
YAML
write_platform
agent_start
sql "INSERT INTO t VALUES (2, 'déjà vu')" "INSERT INTO t VALUES (3, 'smile 😀')" \
    "INSERT INTO t VALUES (4, 'last')"
wait_lines "$EVENTS" 4 30 || fail "expected 4 events in the jsonl sink"
for _ in $(seq 150); do
    [ "$(tsql "SELECT count(*) FROM cdcagent_state WHERE commit_lsn > 0" 2>/dev/null)" = 2 ] && \
        [ "$(tsql "SELECT count(*) FROM public.t" 2>/dev/null)" = 3 ] && \
        [ "$(tsql "SELECT count(*) FROM public.cdc_events" 2>/dev/null)" = 3 ] && \
        [ "$(line_count "$T/dlq.jsonl" 2>/dev/null)" = 2 ] && break
    sleep 0.2
done
agent_stop
expect_eq "replica: the rows LATIN1 can hold, converted (no mojibake)" \
    "$(tsql "SELECT string_agg(id || ':' || name || ':' || octet_length(name), ',' ORDER BY id) FROM public.t")" \
    "1:café:4,2:déjà vu:7,4:last:4"
expect_eq "event_log: the jsonb values converted" \
    "$(tsql "SELECT string_agg(event_value->'after'->>'name', ',' ORDER BY commit_lsn, seq) FROM public.cdc_events")" \
    "café,déjà vu,last"
expect_eq "nothing stored as UTF-8 bytes read as LATIN1" \
    "$(tsql "SELECT count(*) FROM public.t WHERE name LIKE '%Ã%'") $(tsql "SELECT count(*) FROM public.cdc_events WHERE event_value::text LIKE '%Ã%'")" "0 0"
note "$(jl_eval "$T/dlq.jsonl" '[e["headers"]["dlq.error_message"] for e in evs]' 2>/dev/null || true)"
jl_check "the emoji row is dead-lettered by each sink, naming the table and the column" "$T/dlq.jsonl" \
    'sorted(e["headers"]["dlq.sink_id"] for e in evs) == ["log", "mirror"] and all(e["headers"]["dlq.error_type"] == "pg_22P05" for e in evs) and [e["headers"]["dlq.error_message"].split(":")[0] for e in sorted(evs, key=lambda e: e["headers"]["dlq.sink_id"])] == ["table \"public\".\"cdc_events\" column event_value", "table \"public\".\"t\" column name"]'

# Without a dead-letter queue the refused row stops the agent, with an error that names the
# table and column (and the slot stays before it).
PL_HEAD=$(P_TABLES=public.t P_SLOT=nodlq_slot P_PUB=nodlq_pub P_SNAPSHOT=never write_pipeline; sed '/^sinks:/,$d' "$T/pipeline.yaml")
cat >"$T/pipeline.yaml" <<YAML
$PL_HEAD
sinks:
  - sink_id: log2
    sink_type: postgres
    postgres:
      host: 127.0.0.1
      port: $TPORT
      database: tgt_latin1
      username: postgres
      mode: event_log
      target_table: public.ev2
YAML
PLATFORM_EXTRA=$'dlq:\n  enabled: false' write_platform
: >"$T/agent.log"
P_SLOT=nodlq_slot agent_start
sql "INSERT INTO t VALUES (5, 'wink 😉')"
agent_wait_exit 60
check "without a dead-letter queue the agent stops (status $AGENT_RC)" test "$AGENT_RC" != 0
expect_contains "the error names the table, the column and the reason" "$(cat "$T/agent.log")" \
    'no dead-letter file is configured: table \"public\".\"ev2\" column event_value: character with byte sequence 0xf0 0x9f 0x98 0x89 in encoding \"UTF8\" has no equivalent in encoding \"LATIN1\"'
done_testing
