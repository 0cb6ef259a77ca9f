#!/usr/bin/env bash
# A message the SERVICE refuses although it passed the agent's own limit checks (the REST
# TEST DOUBLE started with a 3,000-byte message limit stands in for any per-message
# INVALID_ARGUMENT): one key's run of three messages (insert, a 5,000-byte update, a small
# update, one transaction) is refused as a whole; the transport sends the three one at a
# time, the first and the third are published in order, the second goes to the dead-letter
# topic, which refuses it with its data too, so it is sent there once more without its data
# (attributes and position kept). Nothing is lost, the key is not blocked, the slot moves on.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/pubsub.sh"
. "$CDC_SRC/test/lib/pubsub_it.sh"
READ=$CDC_SRC/test/lib/pubsub_read.py
PS=$T/pubsub
PROJECT=test-project

ps_double_up --max-message-bytes 3000

pg_up
sql "CREATE TABLE refused (id int PRIMARY KEY, payload text)"
P_TABLES="public.refused" P_SNAPSHOT=never write_pipeline
cat >"$T/platform.yaml" <<YAML
transport_mode: pubsub
health_enabled: false
pubsub:
  json_schemas_enable: false
  project_id: $PROJECT
  ordering_enabled: true
wal_reader:
  batch_timeout_seconds: 0.5
agent:
  status_interval_seconds: 1
  state_dir: $T
YAML
ps_agent_start
sql "BEGIN; INSERT INTO refused VALUES (1, 'small');
            UPDATE refused SET payload = repeat('z', 5000) WHERE id = 1;
            UPDATE refused SET payload = 'small again' WHERE id = 1; COMMIT" \
    "INSERT INTO refused VALUES (2, 'after')"
END_LSN=$(sql_su "SELECT pg_current_wal_insert_lsn()")
deadline=$((SECONDS + 30))
until [ "$(sql_su "SELECT confirmed_flush_lsn >= '$END_LSN' FROM pg_replication_slots
                   WHERE slot_name = 'cdc_slot'")" = t ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "slot not confirmed up to $END_LSN after 30 s"
    sleep 0.2
done
ok "the slot moved past the refused message"
agent_stop
OUT=$T/main.jsonl
DLQ=$T/dlq.jsonl
: >"$OUT"
: >"$DLQ"
python3 "$READ" pull "$PUBSUB_EMULATOR_HOST" "$PROJECT" "$OUT" cdc-public-refused-cdc-platform >/dev/null
python3 "$READ" pull "$PUBSUB_EMULATOR_HOST" "$PROJECT" "$DLQ" cdc-public-refused-dlq-cdc-platform >/dev/null
expect_eq "cdc-public-refused: id 1's insert and last update in order; id 2 (per key)" \
    "$(python3 -c 'import json,sys; print(sorted([(r["key"], r["op"], json.loads(r["data"])["after"]["payload"]) for r in map(json.loads, open(sys.argv[1]))], key=lambda x: x[0]))' "$OUT")" \
    "[(1, 'c', 'small'), (1, 'u', 'small again'), (2, 'c', 'after')]"
expect_eq "the refused update on cdc-public-refused-dlq: without its data, refusal and position named" \
    "$(python3 -c '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
a = r[0]["attrs"]
print(len(r), r[0]["data"] == "", a["dlq.error_type"], "refused with its data" in a["dlq.error_message"],
      a["dlq.source_topic"], a["cdc.seq"])' "$DLQ")" \
    "1 True http_status_400_INVALID_ARGUMENT True cdc-public-refused 1"
grep -q "sending them one at a time" "$T/agent.log" && ok "the batch was split and logged" ||
    fail "no split logged"
pubsub_stop "$PS"
done_testing
