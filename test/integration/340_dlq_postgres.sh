#!/usr/bin/env bash
# 340: dead letters in a PostgreSQL table (platform dlq.postgres_conninfo, agent/core/dest/dlq_pg.c).
# A source PostgreSQL, a second PostgreSQL for the dead-letter table, a webhook sink whose
# receiver (test/doubles/webhook_receiver.py) answers 400 to every body with "poison" in it.
#   1. The refused events land in the table with every diagnostic field, their record the
#      exact bytes the receiver refused (a float8 1.1 stays 1.1); the other rows go on; the
#      log has pipeline.sink_write_error; /metrics counts them per sink; the conninfo's
#      password is in no log.
#   2. SIGKILL right after a dead letter (the slot not yet confirmed past it), restart: the
#      event is refused again and stays one row.
#   3. The dead-letter database is down while a poison event arrives: the agent retries,
#      the slot is not confirmed past that event; once the database is back the letter is
#      stored and the slot moves on.
#   4. `dlq list --json` reads the table (records verbatim); `dlq replay` against a fixed
#      receiver sends each letter once with byte-identical bodies and marks replayed_at; a
#      second replay sends nothing.
#   5. test_dlq_store's table cases (exact round trip of 1.1, 1e300, -0.0,
#      12345678901234567890 through the table) against the same server.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

RECV=$CDC_SRC/test/doubles/webhook_receiver.py
need_agent
DLQDB=$T/dlqdb
trap 'rc=$?; set +e; pg_cleanup "$DLQDB"; (exit $rc); _cleanup' EXIT

recv_start() {   # recv_start LOG ARGS...: sets RPORT, RPID
    local log=$1
    shift
    rm -f "$T/rport"
    bg python3 "$RECV" --log "$log" --port-file "$T/rport" "$@"
    RPID=$!
    for _ in $(seq 50); do [ -s "$T/rport" ] && break; sleep 0.1; done
    RPORT=$(cat "$T/rport")
}

# write_hook_pipeline PORT [HOLD_PORT]: one webhook sink at PORT; with HOLD_PORT a second
# one there, where nothing listens: it never makes anything durable, so the slot stays put.
write_hook_pipeline() {
    P_SNAPSHOT=never P_TABLES=public.customers write_pipeline
    PL_HEAD=$(sed '/^sinks:/,$d' "$T/pipeline.yaml")
    cat >"$T/pipeline.yaml" <<YAML
$PL_HEAD
sinks:
  - sink_id: hook
    sink_type: webhook
    webhook:
      url: http://127.0.0.1:$1/cdc
      timeout_seconds: 5
YAML
    if [ -n "${2:-}" ]; then
        cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: hold
    sink_type: webhook
    webhook:
      url: http://127.0.0.1:$2/nobody
      timeout_seconds: 1
YAML
    fi
}

dsql() { PGTZ=UTC pg_psql "$DPORT" cdc_demo "$@"; }
dlq_rows() { dsql "SELECT count(*) FROM public.dead_letters" 2>/dev/null || echo -1; }
# wait_for DESC TIMEOUT CMD...: until CMD succeeds
wait_for() {
    local desc=$1 timeout=$2 deadline
    shift 2
    deadline=$((SECONDS + timeout))
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || fail "$desc: not after ${timeout}s"
        agent_alive || fail "$desc: the agent exited"
        sleep 0.1
    done
}
rows_are() { [ "$(dlq_rows)" = "$1" ]; }
confirmed_num() { lsn_num "$(slot_field cdc_slot confirmed_flush_lsn)"; }

pg_up
DPORT=$(free_port)
pg_start "$DLQDB" "$DPORT" >/dev/null || fail "the dead-letter PostgreSQL did not start"
note "dead-letter PostgreSQL on 127.0.0.1:$DPORT"
sql "CREATE TABLE customers (id int PRIMARY KEY, x float8, name text)"
recv_start "$T/req1.jsonl" --reject poison
write_hook_pipeline "$RPORT"
HPORT=$(free_port)
PLATFORM_EXTRA="dlq:
  postgres_conninfo: \"host=127.0.0.1 port=$DPORT dbname=cdc_demo user=cdc_user password=cdc_password\"
  postgres_table: public.dead_letters
retry:
  initial_wait_seconds: 0.1
  max_wait_seconds: 0.5" write_platform
sed -i "s/^health_enabled: false/health_enabled: true\nhealth_port: $HPORT/" "$T/platform.yaml"

note "1. refused events go to the table, the rest goes on"
agent_start
sql "INSERT INTO customers VALUES (1, 0.5, 'a'), (2, 1.1, 'poison-2'), (3, 2.5, 'c'),
     (4, 1e300, 'poison-4'), (5, -0.0, 'e')"
wait_for "two dead letters" 30 rows_are 2
for _ in $(seq 100); do [ "$(line_count "$T/req1.jsonl")" -ge 5 ] && break; sleep 0.1; done
jl_check "rows 1, 3 and 5 delivered" "$T/req1.jsonl" \
    'sorted(e["body"]["key"]["id"] for e in evs if e["status"] == 200) == [1, 3, 5]'
expect_eq "one row per refused event, every diagnostic field set" "$(dsql "SELECT string_agg(concat_ws('|',
    sink_id, source_topic, source_partition, source_offset > 0, commit_lsn > 0, seq >= 0, error_type,
    error_message LIKE 'HTTP 400%', stacktrace LIKE 'CDC_E_DEST at sinks/webhook/webhook.c:%',
    dlq_timestamp > now() - interval '5 minutes', event_key::text, event_value->'after'->>'name',
    replayed_at IS NULL), ';' ORDER BY id) FROM public.dead_letters")" \
    'hook|cdc.public.customers|0|t|t|t|http_status_400|t|t|t|{"id":2}|poison-2|t;hook|cdc.public.customers|0|t|t|t|http_status_400|t|t|t|{"id":4}|poison-4|t'
dsql "SELECT record FROM public.dead_letters ORDER BY id" >"$T/records1.txt"
python3 - "$T/req1.jsonl" "$T/records1.txt" <<'PY' || fail "stored records differ from the refused bodies"
import json, sys
refused = [e["raw"] for e in map(json.loads, open(sys.argv[1])) if e["status"] == 400]
stored = open(sys.argv[2]).read().splitlines()
assert sorted(set(refused)) == sorted(stored), (refused, stored)
assert any('"x":1.1,' in r for r in stored), stored     # jansson would write 1.1000000000000001
PY
ok "each stored record is byte for byte the body the receiver refused (1.1 kept)"
expect_eq "offset and position agree with the record's metadata" \
    "$(dsql "SELECT bool_and(source_offset = (record::json->'metadata'->>'offset')::bigint
             AND commit_lsn = (record::json->'metadata'->>'commit_lsn')::bigint
             AND seq = (record::json->'metadata'->>'seq')::bigint) FROM public.dead_letters")" t
expect_contains "each dead letter logged as pipeline.sink_write_error" "$(cat "$T/agent.log")" \
    "pipeline.sink_write_error"
expect_contains "/metrics counts them for the sink" \
    "$(curl -sf "http://127.0.0.1:$HPORT/metrics" | grep '^cdcagent_dlq_events_total')" \
    'cdcagent_dlq_events_total{sink="hook"} 2'

note "2. SIGKILL right after a dead letter: no second row after the restart"
agent_stop
# a second sink that delivers nothing keeps the slot before the poison event, so the
# restarted agent gets it again
write_hook_pipeline "$RPORT" "$(free_port)"
agent_start
sql "INSERT INTO customers VALUES (6, 6.6, 'poison-6')"
wait_for "the third dead letter" 30 rows_are 3
agent_kill9
LSN6=$(dsql "SELECT commit_lsn FROM public.dead_letters WHERE event_key->>'id' = '6'")
[ "$(confirmed_num)" -lt "$LSN6" ] || fail "the slot was confirmed past the dead letter before the kill (test setup)"
agent_start
for _ in $(seq 150); do
    [ "$(grep -c '"poison-6"' "$T/req1.jsonl")" -ge 2 ] && grep -q "already there" "$T/agent.log" && break
    sleep 0.1
done
expect_eq "the restarted agent re-sent the event and it was refused again" \
    "$(grep -c '"poison-6"' "$T/req1.jsonl" | awk '{print ($1 >= 2)}')" 1
expect_contains "the store saw it was already there" "$(cat "$T/agent.log")" "already there: stored by an earlier run"
expect_eq "still one row per dead letter" "$(dsql "SELECT count(*), count(DISTINCT (sink_id, commit_lsn, seq)) FROM public.dead_letters")" "3|3"
agent_kill9
write_hook_pipeline "$RPORT"
agent_start

note "3. the dead-letter database is down when a poison event arrives"
pg_stop "$DLQDB"
BEFORE=$(lsn_num "$(sql_su "SELECT pg_current_wal_lsn()")")
sql "INSERT INTO customers VALUES (7, 7.7, 'poison-7')"
sql "INSERT INTO customers VALUES (8, 8.8, 'h')"
AFTER=$(lsn_num "$(sql_su "SELECT pg_current_wal_lsn()")")
for _ in $(seq 100); do
    [ "$(grep -c '"id": 8' "$T/req1.jsonl")" -ge 1 ] && grep -q "dead-letter table public.dead_letters: cannot connect" "$T/agent.log" && break
    sleep 0.1
done
expect_contains "the store failure is logged, the agent retries" "$(cat "$T/agent.log")" \
    "dead-letter table public.dead_letters: cannot connect"
expect_eq "row 8, after the poison event, was delivered meanwhile" \
    "$(grep -c '"id": 8' "$T/req1.jsonl" | awk '{print ($1 >= 1)}')" 1
sleep 4     # several status intervals and retries while the database is down
check "the agent is still running" agent_alive
C=$(confirmed_num)
[ "$C" -le "$BEFORE" ] || fail "slot confirmed to $C, past the unstored dead letter (before it: $BEFORE)"
ok "the slot is not confirmed past the unstored dead letter ($C <= $BEFORE)"
pg_start "$DLQDB" "$DPORT" >/dev/null || fail "the dead-letter PostgreSQL did not restart"
wait_for "the fourth dead letter once the database is back" 30 rows_are 4
for _ in $(seq 100); do [ "$(confirmed_num)" -ge "$AFTER" ] && break; sleep 0.1; done
[ "$(confirmed_num)" -ge "$AFTER" ] || fail "slot not confirmed past the stored dead letter: $(confirmed_num) < $AFTER"
ok "once stored, the slot moves past it"
expect_eq "no duplicate after the retries" "$(dsql "SELECT count(*), count(DISTINCT (sink_id, commit_lsn, seq)) FROM public.dead_letters")" "4|4"
PW=$(grep -c cdc_password "$T/agent.log" || true)
expect_eq "the conninfo's password is in no log line" "$PW" 0
agent_stop
kill -TERM "$RPID" 2>/dev/null || true

note "4. dlq list and dlq replay from the table"
cdc dlq list "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --json
expect_eq "dlq list exits 0" "$CDC_RC" 0
cp "$T/cdc.out" "$T/list1.json"
dsql "SELECT record FROM public.dead_letters ORDER BY id" >"$T/records.txt"
python3 - "$T/list1.json" "$T/req1.jsonl" "$T/records.txt" <<'PY' || fail "dlq list --json: $(head -c 3000 "$T/list1.json")"
import json, sys
# numbers kept as their text: a re-encoded record would not compare equal
exact = lambda s: json.loads(s, parse_float=lambda t: ("f", t), parse_int=lambda t: ("i", t))
ls = json.load(open(sys.argv[1]))
assert len(ls) == 4, ls
assert sorted(l["record"]["key"]["id"] for l in ls) == [2, 4, 6, 7], ls
for l in ls:
    assert l["sink_id"] == "hook" and l["topic"] == "cdc.public.customers", l
    assert l["error_type"] == "http_status_400" and l["replayed"] is False, l
    assert l["row_id"] > 0 and l["id"].startswith("hook-") and l["stacktrace"], l
# a re-sent event is encoded again (its ts_ms differs): the table keeps the first refusal
refused = {e["raw"] for e in map(json.loads, open(sys.argv[2])) if e["status"] == 400}
stored = open(sys.argv[3]).read().splitlines()
assert len(stored) == 4 and set(stored) <= refused, (stored, refused)
canon = lambda v: json.dumps(v, sort_keys=True)
listed = [canon(l["record"]) for l in exact(open(sys.argv[1]).read())]
assert listed == [canon(exact(r)) for r in stored], (listed, stored)
PY
ok "dlq list --json shows the four letters from the table, records with their exact numbers"
cdc dlq list "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --error-type http_status_500 --json
expect_eq "a filter that selects nothing gives []" "$(tr -d ' \n' <"$T/cdc.out")" "[]"
cdc dlq list "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --table public.customers
expect_contains "the text listing names the table store" "$(cat "$T/cdc.out")" "4 dead letters in table public.dead_letters"

recv_start "$T/req2.jsonl"
write_hook_pipeline "$RPORT"
cdc dlq replay "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "replay exits 0" "$CDC_RC" 0
expect_contains "replay reports four" "$(cat "$T/cdc.out")" "4 replayed, 0 already replayed"
python3 - "$T/records.txt" "$T/req2.jsonl" <<'PY' || fail "replayed bodies differ from the refused ones"
import json, sys
stored = open(sys.argv[1]).read().splitlines()
again = [json.loads(l) for l in open(sys.argv[2])]
assert len(again) == 4, again
assert sorted(e["raw"] for e in again) == sorted(stored), (stored, again)
for e in again:
    m = e["body"]["metadata"]
    assert e["headers"]["Idempotency-Key"] == "it-340-%016X-%d" % (m["commit_lsn"], m["seq"]), e
PY
ok "each letter delivered once, byte for byte the refused body, with its Idempotency-Key"
expect_eq "replayed_at set on every row" "$(dsql "SELECT count(*) FROM public.dead_letters WHERE replayed_at IS NOT NULL")" 4
cdc dlq replay "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "second replay exits 0" "$CDC_RC" 0
expect_contains "second replay skips all four" "$(cat "$T/cdc.out")" "0 replayed, 4 already replayed"
expect_eq "second replay delivers nothing" "$(line_count "$T/req2.jsonl")" 4
cdc dlq list "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --json
expect_eq "dlq list (not replayed) is empty" "$(tr -d ' \n' <"$T/cdc.out")" "[]"

note "5. exact round trip of awkward numbers through the table (test_dlq_store)"
STORE=${CDC_BUILD:-$CDC_SRC/build}/test_dlq_store
[ -x "$STORE" ] || fail "no $STORE (build the unit tests)"
CDC_TEST_DLQ_CONNINFO="host=127.0.0.1 port=$DPORT dbname=cdc_demo user=postgres" \
    "$STORE" >"$T/store.out" 2>&1 || fail "test_dlq_store: $(tail -5 "$T/store.out")"
expect_contains "test_dlq_store ran its table cases" "$(cat "$T/store.out")" "Checks: 9, Failures: 0, Errors: 0"
done_testing
