#!/usr/bin/env bash
# 847: an initial snapshot killed once part of it is durable, restarted WITHOUT
# source.signal_data_collection on PostgreSQL 15 while the agent's user may not EXECUTE
# pg_logical_emit_message (revoked from PUBLIC and from cdc_user): the resumed part's window
# markers cannot be written, so the agent warns, naming the function, the user and the
# GRANT that allows it, and takes the snapshot again whole on a new slot (docs/snapshots.md,
# "When it does not resume").  Checks: the warning, the slot created again, the file
# replayed by key equals psql's COPY of the table (nothing lost), no change streamed twice.
# Then transaction metadata around window markers (Pub/Sub double, below).
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"
# shellcheck source=SCRIPTDIR/../lib/snapresume.sh
. "$CDC_SRC/test/lib/snapresume.sh"

RS_ROWS=120000
pg_up
sql_su "REVOKE EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text) FROM PUBLIC" \
       "REVOKE EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, bytea) FROM PUBLIC" \
       "REVOKE EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text) FROM cdc_user"
expect_eq "psql: cdc_user may not EXECUTE pg_logical_emit_message" \
    "$(sql "SELECT has_function_privilege('pg_logical_emit_message(boolean, text, text)', 'EXECUTE')")" f

rs_kill_during_snapshot
: >"$T/rs_writes"          # no writer: every change after the restart is the sentinel's
agent_start
rs_finish
expect_contains "the log says why it cannot resume, naming the function and what it does instead" \
    "$(cat "$T/agent.log")" \
    "and the agent's user cdc_user may not EXECUTE pg_logical_emit_message(boolean,text,text), the function that writes them (GRANT EXECUTE ON FUNCTION pg_logical_emit_message(boolean,text,text) TO cdc_user allows it)): the slot is dropped and the snapshot taken again whole, rows already delivered arrive again"
expect_eq "the slot was created again" "$(grep -c 'slot rs_slot: created' "$T/agent.log")" 2
if grep -q 'resuming it: streaming from the slot' "$T/agent.log"; then fail "it resumed"; fi
ok "it did not resume"
rs_check_file
jl_check "the last snapshot is whole: ids 1..$RS_ROWS after the last first marker" "$EVENTS" \
    "(lambda r: (lambda i: sorted(e['after']['id'] for e in (x['value'] for x in r[i:])) == list(range(1, $RS_ROWS + 1)))(max(k for k, e in enumerate(r) if get(e, 'value.source.snapshot') == 'first')))([e for e in data if get(e, 'value.op') == 'r'])"

# Transaction metadata (provide_transaction_metadata, transport pubsub against the Pub/Sub
# double): with EXECUTE granted again, a table added to source.tables is read as an
# incremental snapshot whose window markers are logical decoding messages, each in a
# transaction of its own (the close marker's also carries the chunk's snapshot rows).
# Those transactions get no BEGIN/END record: the BEGIN/END records are exactly those of
# the application's transactions (their xids as psql's xmin of the rows they wrote).
. "$CDC_SRC/test/lib/pubsub.sh"
. "$CDC_SRC/test/lib/pubsub_it.sh"
PS=$T/pubsub
PROJECT=test-project
sql_su "GRANT EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text) TO cdc_user"
ps_double_up
sql "CREATE TABLE txa (id int PRIMARY KEY)" "INSERT INTO txa VALUES (1)"     "CREATE TABLE txb (id int PRIMARY KEY, v text)"     "INSERT INTO txb SELECT i, md5(i::text) FROM generate_series(1, 1000) i"
mv "$T/agent.log" "$T/agent.rs.log"
AGENT_RUNS=0               # ps_agent_start counts this log's runs
tx_pipeline() {
    P_SLOT=tx_slot P_PUB=tx_pub P_TABLES=$1 \
        P_SOURCE_EXTRA=$'provide_transaction_metadata: true\nincremental_snapshot_chunk_size: 100' \
        write_pipeline
}
P_SLOT=tx_slot
tx_pipeline public.txa
cat >"$T/platform.yaml" <<YAML
transport_mode: pubsub
health_enabled: false
pubsub:
  json_schemas_enable: false
  project_id: $PROJECT
wal_reader:
  slot_name: tx_slot
  publication_name: tx_pub
  batch_size: 100
  batch_timeout_seconds: 0.2
agent:
  status_interval_seconds: 1
  state_dir: $T
YAML
ps_agent_start
agent_stop
tx_pipeline "public.txa, public.txb"
sql_su "SELECT 1 FROM pg_create_logical_replication_slot('wm_probe', 'test_decoding')" >/dev/null
xids=$(sql "INSERT INTO txa VALUES (2) RETURNING xmin" | tr -d ' ')
ps_agent_start
wait_grep "$T/agent.log" 'incremental snapshot added-tables-[0-9a-f]* done' 60
xids="$xids $(sql "INSERT INTO txa VALUES (3) RETURNING xmin" | tr -d ' ')"
TX=$T/tx.jsonl
# "BEGIN:xid END:xid ...": the transaction records pulled so far, in order.
tx_list() {
    python3 -c '
import json, sys
v = [json.loads(json.loads(l)["data"]) for l in open(sys.argv[1])]
print(" ".join("%s:%s" % (x["status"], x["id"].split(":")[0]) for x in v))' "$TX"
}
: >"$TX"
deadline=$((SECONDS + 60))
until python3 "$CDC_SRC/test/lib/pubsub_read.py" pull "$PUBSUB_EMULATOR_HOST" "$PROJECT" "$TX" \
        cdc-transaction-cdc-platform >/dev/null && [[ "$(tx_list)" == *"END:${xids##* }"* ]]; do
    [ $SECONDS -lt $deadline ] || fail "no transaction record of xid ${xids##* } after 60 s: $(head -c 600 "$TX")"
    sleep 0.3
done
agent_stop
pubsub_stop "$PS"
probe=$(sql_su "SELECT count(*) FROM pg_logical_slot_peek_changes('wm_probe', NULL, NULL)
                WHERE data LIKE 'message: transactional: 1 prefix: cdcagent-watermark, %'")
sql_su "SELECT pg_drop_replication_slot('wm_probe')" >/dev/null
check "the added table's incremental snapshot wrote window markers ($probe logical messages)" [ "$probe" -ge 4 ]
expect_eq "BEGIN/END records only for the application's transactions (xids $xids), none for a window marker's" \
    "$(tx_list)" \
    "$(for x in $xids; do printf 'BEGIN:%s END:%s ' "$x" "$x"; done | sed 's/ $//')"
done_testing
