#!/usr/bin/env bash
# 310: the PostgreSQL sink against a second, real PostgreSQL 15 (the target).
# Part 1 drives sinks/postgres/postgres.c directly (test/tools/sink_drive): event_log rows with
# upsert and the state row; replica mode mirrors c/u/d with unchanged-TOAST updates into
# exactly the rows the model expects; a re-run with resume_from writes nothing twice; a row
# the target refuses (CHECK) is dead-lettered and the rest goes on; a target restart
# mid-stream only delays.  Part 2 runs cdcagent with sink_type postgres (skipped until
# agent/pipeline/dest_registry.c opens postgres sinks).
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_sink_target

note "event_log"
"$DRIVE" postgres "$CI" --mode event_log --table public.cdc_events --upsert --events 100 \
    --txn 10 --batch 30 --sink-id log >"$T/d1.out" 2>"$T/agent.log" || fail "sink_drive event_log failed"
expect_eq "100 rows, one per position" "$(tsql "SELECT count(*), count(DISTINCT (commit_lsn, seq)) FROM cdc_events")" "100|100"
expect_eq "columns of the platform's event log" \
    "$(tsql "SELECT source_topic, source_partition, event_key::text FROM cdc_events WHERE commit_lsn = 1000000 AND seq = 3")" \
    'it.public.items|0|{"id": 3}'
expect_eq "state row holds the last transaction" "$(tsql "SELECT commit_lsn FROM cdcagent_state WHERE sink_id = 'log'")" 1009000
"$DRIVE" postgres "$CI" --mode event_log --table public.cdc_events --upsert --events 120 \
    --txn 10 --batch 30 --sink-id log --resume >"$T/d2.out" 2>>"$T/agent.log" || fail "resume run failed"
expect_eq "a resumed run adds only the 20 new events" "$(tsql "SELECT count(*) FROM cdc_events")" 120

note "replica"
"$DRIVE" postgres "$CI" --mode replica --events 200 --txn 10 --keys 10 --batch 40 \
    --sink-id rep >"$T/d3.out" 2>>"$T/agent.log" || fail "sink_drive replica failed"
"$DRIVE" postgres x --mode replica --events 200 --txn 10 --keys 10 --expect >"$T/want.txt"
tsql "SELECT * FROM public.items ORDER BY id" >"$T/got.txt"
check "replica rows equal the model (values, deletes, unchanged TOAST kept)" diff "$T/got.txt" "$T/want.txt"
expect_eq "primary key mirrored" "$(tsql "SELECT count(*) FROM pg_index WHERE indrelid = 'public.items'::regclass AND indisprimary")" 1

note "a refused row is dead-lettered"
tsql "TRUNCATE public.items" "DELETE FROM cdcagent_state WHERE sink_id = 'rep'" \
     "ALTER TABLE public.items ADD CONSTRAINT no3 CHECK (id <> 3)"
"$DRIVE" postgres "$CI" --mode replica --events 200 --txn 10 --keys 10 --batch 40 \
    --sink-id rep --dlq "$T/dlq.jsonl" >"$T/d4.out" 2>>"$T/agent.log" || fail "sink_drive with a CHECK failed"
expect_eq "no row of id 3, the others there" "$(tsql "SELECT count(*) FILTER (WHERE id = 3), count(*) FROM public.items")" \
    "0|$(grep -vc '^3|' "$T/want.txt")"
jl_check "dead letters name the SQLSTATE (23514) and the sink" "$T/dlq.jsonl" \
    'len(evs) > 0 and all(e["headers"]["dlq.error_type"] == "pg_23514" and e["headers"]["dlq.sink_id"] == "rep" for e in evs)'
# The record is made when the row is refused, from the sink's own copy of the event
# (sinks/postgres/pg_evcopy.c): the last letter of id 3 decoded back to psql's text forms
# must be the model's row 3, and its metadata the letter's position.
python3 - "$T/dlq.jsonl" "$T/want.txt" <<'PY' || fail "the dead letters' records do not hold the refused rows"
import base64, datetime, json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
want = [l.rstrip("\n").split("|") for l in open(sys.argv[2]) if l.startswith("3|")][0]
assert all(e["record"]["key"] == {"id": 3} for e in evs), "a letter of another key"
for e in evs:
    m = e["record"]["metadata"]
    assert (m["commit_lsn"], m["seq"], m["topic"]) == (e["commit_lsn"], e["seq"], "it.public.items"), m
    assert e["record"]["value"]["source"]["lsn"] == m["offset"], e["record"]["value"]["source"]
last = max(evs, key=lambda e: (e["commit_lsn"], e["seq"]))["record"]["value"]
a = last["after"]
assert last["op"] in ("c", "u") and a["id"] == 3, last
amount = int.from_bytes(base64.b64decode(a["amount"]), "big", signed=True)
got = [str(a["id"]), a["name"], "%d.%02d" % divmod(amount, 100),
       str(datetime.date(1970, 1, 1) + datetime.timedelta(days=a["born"])),
       str(datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=a["ts"])),
       "t" if a["ok"] else "f", "\\x" + base64.b64decode(a["raw"]).hex(), a["score"], a["note"]]
got[4] = got[4].rstrip("0").rstrip(".") if "." in got[4] else got[4]   # psql's text
want[7] = float(want[7])
if a["note"] == "__debezium_unavailable_value":
    got[8] = want[8]                    # an unchanged TOAST value: the target kept the old one
assert got == want, (got, want)
print(len(evs), "letters; the last:", got)
PY
ok "each record is its letter's event; the last one of id 3 is the model's row"

note "target restart mid-stream"
tsql "ALTER TABLE public.items DROP CONSTRAINT no3"
"$DRIVE" postgres "$CI" --mode replica --events 400 --txn 10 --keys 10 --batch 20 \
    --sink-id rep2 --initial-ms 200 --max-ms 500 --deadline-ms 60000 --pace-ms 50 \
    >"$T/d5.out" 2>>"$T/agent.log" &
DPID=$!
for _ in $(seq 100); do [ -n "$(tsql "SELECT 1 FROM cdcagent_state WHERE sink_id = 'rep2'")" ] && break; sleep 0.05; done
pg_stop "$TGT"
sleep 2
pg_start "$TGT" "$TPORT" >/dev/null || fail "target did not restart"
wait "$DPID" || fail "sink_drive did not finish after the target restarted"
"$DRIVE" postgres x --mode replica --events 400 --txn 10 --keys 10 --expect >"$T/want2.txt"
tsql "SELECT * FROM public.items ORDER BY id" >"$T/got2.txt"
check "after the restart the replica equals the model" diff "$T/got2.txt" "$T/want2.txt"
expect_contains "the sink saw the target go away and retried" "$(cat "$T/agent.log")" "retrying"
expect_eq "state row at the end" "$(tsql "SELECT commit_lsn FROM cdcagent_state WHERE sink_id = 'rep2'")" 1039000

note "part 2: cdcagent run with sink_type postgres"
pg_up
sql "CREATE TABLE customers (id serial PRIMARY KEY, name text, balance numeric(10,2))" \
    "CREATE TABLE orders (id serial PRIMARY KEY)"
P_SNAPSHOT=never write_pipeline
# (read the head first: the redirection below empties the file before the here-document expands)
PL_HEAD=$(sed '/^sinks:/,$d' "$T/pipeline.yaml")
cat >"$T/pipeline.yaml" <<YAML
$PL_HEAD
sinks:
  - sink_id: mirror
    sink_type: postgres
    postgres:
      host: 127.0.0.1
      port: $TPORT
      database: cdc_demo
      username: postgres
      mode: replica
      batch_size: 10
YAML
write_platform
agent_start
sql "INSERT INTO customers (name, balance) VALUES ('a', 1.50), ('b', -2.25)" \
    "UPDATE customers SET name = 'c' WHERE id = 1" "DELETE FROM customers WHERE id = 2"
for _ in $(seq 100); do [ "$(tsql "SELECT count(*) FROM cdcagent_state WHERE sink_id = 'mirror'" 2>/dev/null)" = 1 ] && \
    [ "$(tsql "SELECT string_agg(id || ':' || name || ':' || balance, ',') FROM public.customers" 2>/dev/null)" = "1:c:1.50" ] && break; sleep 0.2; done
agent_stop
expect_eq "the mirror holds the source's rows" "$(tsql "SELECT string_agg(id || ':' || name || ':' || balance, ',') FROM public.customers")" "1:c:1.50"
pg_cleanup "$TGT"
done_testing
