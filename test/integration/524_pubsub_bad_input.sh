#!/usr/bin/env bash
# Bad input for the Pub/Sub transport (REST TEST DOUBLE):
#   - a row whose message is over Pub/Sub's limits (an 11 MB text: 10 MB a message, 10 MiB
#     a REST body) goes to "cdc-public-big-dlq" with the platform's dlq.* attributes and its
#     position, without its data; the rows around it are delivered and the slot moves on;
#   - a key longer than 1,024 bytes: the ordering key is "sha256:<hex>", and a key change's
#     __debezium.newkey/oldkey over 1,024 bytes is left out and named in
#     cdc.dropped_attributes (the d, its tombstone and the c of a key change); the messages
#     are delivered;
#   - a dead-letter topic that refuses too: the agent stops, naming table, key and size, and
#     the slot stays before that row;
#   - a project that does not exist, a broken service-account key file: a clear error at
#     start naming what is wrong (and no key material in the log).
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/pubsub.sh"
. "$CDC_SRC/test/lib/pubsub_it.sh"
READ=$CDC_SRC/test/lib/pubsub_read.py
PS=$T/pubsub
PROJECT=test-project

ps_double_up

pg_up
sql "CREATE TABLE big (id int PRIMARY KEY, payload text)" \
    "CREATE TABLE longkey (k text PRIMARY KEY, v int)"
P_TABLES="public.big, public.longkey" P_SNAPSHOT=never write_pipeline
platform() {
    cat >"$T/platform.yaml" <<YAML
transport_mode: pubsub
health_enabled: false
pubsub:
  json_schemas_enable: false
  project_id: $1
  ordering_enabled: true
wal_reader:
  batch_size: 100
  batch_timeout_seconds: 0.1
retry:
  initial_wait_seconds: 0.2
  max_wait_seconds: 1
agent:
  status_interval_seconds: 1
  state_dir: $T
YAML
}
platform "$PROJECT"
ps_agent_start

sql "INSERT INTO big VALUES (1, 'small')" \
    "INSERT INTO big VALUES (2, repeat('x', 11000000))" \
    "INSERT INTO big VALUES (3, 'small again')" \
    "INSERT INTO longkey VALUES (repeat('k', 1500), 1)" \
    "UPDATE longkey SET k = repeat('j', 1500)"
END_LSN=$(sql_su "SELECT pg_current_wal_insert_lsn()")
deadline=$((SECONDS + 40))
until [ "$(sql_su "SELECT confirmed_flush_lsn >= '$END_LSN' FROM pg_replication_slots
                   WHERE slot_name = 'cdc_slot'")" = t ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "slot not confirmed up to $END_LSN after 40 s"
    sleep 0.2
done
ok "the slot moved past the oversized row"
OUT=$T/main.jsonl
DLQ=$T/dlq.jsonl
: >"$OUT"
: >"$DLQ"
python3 "$READ" pull "$PUBSUB_EMULATOR_HOST" "$PROJECT" "$OUT" cdc-public-big-cdc-platform \
    cdc-public-longkey-cdc-platform >/dev/null
python3 "$READ" pull "$PUBSUB_EMULATOR_HOST" "$PROJECT" "$DLQ" cdc-public-big-dlq-cdc-platform >/dev/null
expect_eq "rows 1 and 3 on cdc-public-big" \
    "$(python3 -c 'import json,sys; print([json.loads(l)["key"] for l in open(sys.argv[1]) if json.loads(l)["sub"].startswith("cdc-public-big")])' "$OUT")" "[1, 3]"
expect_eq "row 2 on cdc-public-big-dlq with the dlq.* attributes, without its data" \
    "$(python3 -c '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
a = r[0]["attrs"]
print(len(r), r[0]["data"] == "", a["dlq.source_topic"], a["dlq.error_type"], sorted(k for k in a if k.startswith("dlq.")) ==
      sorted(["dlq.source_topic", "dlq.source_partition", "dlq.source_offset", "dlq.error_type",
              "dlq.error_message", "dlq.stacktrace", "dlq.timestamp", "dlq.sink_id"]),
      "cdc.commit_lsn" in a, "cdc.seq" in a)' "$DLQ")" \
    "1 True cdc-public-big message_too_large True True True"
grep -Eq 'the record of table public\.big, key \{\\?"id\\?":2\}' "$T/agent.log" &&
    ok "the dead letter is logged with table and key" || fail "no dead-letter line in agent.log"
expect_eq "long key: ordering key hashed, over-long key attributes named as dropped" \
    "$(python3 -c '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if json.loads(l)["sub"].startswith("cdc-public-longkey")]
print(len(r), all(x["okey"].startswith("sha256:") and len(x["okey"]) == 71 for x in r),
      sorted(x["attrs"].get("cdc.dropped_attributes", "-") for x in r))' "$OUT")" \
    "4 True ['-', '__debezium.newkey', '__debezium.newkey', '__debezium.oldkey']"

# The dead-letter topic refuses too: stop, naming table, key and size; the slot stays.
pubsub_fault "$PS" "{\"count\": 1, \"status\": 400, \"topic\": \"projects/$PROJECT/topics/cdc-public-big-dlq\"}" >/dev/null
sql "INSERT INTO big VALUES (4, repeat('y', 11000000))"
AFTER=$(sql_su "SELECT pg_current_wal_insert_lsn()")
agent_wait_exit 40
[ "$AGENT_RC" != 0 ] && ok "the agent stopped (status $AGENT_RC)" || fail "the agent exited 0"
grep -Eq 'refused the record of table public\.big, key \{\\?"id\\?":4\} \([0-9]+ bytes\) too' "$T/agent.log" &&
    ok "the stop names table, key and size" || fail "no message naming table, key and size"
note "slot confirmed at $(slot_field cdc_slot confirmed_flush_lsn), the row's transaction ends by $AFTER"
expect_eq "the slot stayed before that row's transaction" \
    "$(sql_su "SELECT confirmed_flush_lsn < '$AFTER' FROM pg_replication_slots WHERE slot_name = 'cdc_slot'")" t

# A project that does not exist.
platform no-such-project
AGENT_NO_WAIT=1 agent_start
agent_wait_exit 40
[ "$AGENT_RC" != 0 ] && ok "wrong project: exit status $AGENT_RC" || fail "wrong project: exited 0"
grep -Eq 'pubsub\.project_id \\?"no-such-project\\?": no such project' "$T/agent.log" &&
    ok "wrong project: the error names it" || fail "wrong project: no clear error in agent.log"

# A broken service-account key file (no emulator).
platform "$PROJECT"
cat >"$T/bad-key.json" <<'JSON'
{"type": "service_account", "client_email": "sa@test-project.iam.gserviceaccount.com",
 "private_key": "-----BEGIN PRIVATE KEY-----\nTOPSECRETnotakey\n-----END PRIVATE KEY-----\n",
 "token_uri": "http://127.0.0.1:9/token"}
JSON
: >"$T/agent.log.key"
(
    unset PUBSUB_EMULATOR_HOST
    export GOOGLE_APPLICATION_CREDENTIALS=$T/bad-key.json
    "$CDCAGENT" run "$T/pipeline.yaml" --platform-config "$T/platform.yaml" \
        >/dev/null 2>"$T/agent.log.key"
) && fail "bad key file: the agent started" || ok "bad key file: the agent did not start"
grep -q "$T/bad-key.json" "$T/agent.log.key" && ok "bad key file: the error names the file" ||
    fail "bad key file: the error does not name the file: $(tail -3 "$T/agent.log.key")"
grep -q TOPSECRET "$T/agent.log.key" && fail "key material in the log" || ok "no key material in the log"
note "bad key: $(grep -i 'key' "$T/agent.log.key" | tail -1 | cut -c1-300)"
pubsub_stop "$PS"
done_testing
