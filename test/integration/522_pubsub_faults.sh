#!/usr/bin/env bash
# The Pub/Sub transport against a failing service (the REST TEST DOUBLE's injected faults):
#   1. an outage (every publish answers 503 UNAVAILABLE): /readyz says why, the slot does
#      not move past what was published, memory stays bounded; after the outage everything
#      is delivered;
#   2. a burst of 429 RESOURCE_EXHAUSTED and dropped connections;
#   3. slow answers (2 s each);
#   4. errors after the publish was carried out ("when": "after": the service kept the
#      messages, the client saw an error): sent again, so duplicates, never a gap.
# Ordering is off here (520, 521 and 523 run with it): messages carry no ordering key, each
# topic is one lane, and tombstones are not sent (without a key they name no row). At the end every change is there in order, nothing lost, and the
# replay equals the source tables.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/pubsub.sh"
. "$CDC_SRC/test/lib/pubsub_it.sh"
READ=$CDC_SRC/test/lib/pubsub_read.py
LOAD=$CDC_SRC/test/lib/kafka_load.py
PS=$T/pubsub
PROJECT=test-project

ps_double_up

pg_up
sql "CREATE TABLE items (id int PRIMARY KEY, batch int, payload text)" \
    "CREATE TABLE accounts (id int PRIMARY KEY, balance int)"
P_TABLES="public.items, public.accounts" P_SNAPSHOT=never write_pipeline
HPORT=$(free_port)
cat >"$T/platform.yaml" <<YAML
transport_mode: pubsub
health_enabled: true
health_port: $HPORT
pubsub:
  json_schemas_enable: false
  project_id: $PROJECT
  ordering_enabled: false
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
NREC=$(python3 "$LOAD" gen 400 522 "$T" 4)
note "load: 400 steps in 4 parts, $NREC records expected"
ps_agent_start

run_part() {
    PGPASSWORD=cdc_password "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 \
        -p "$PORT" -U cdc_user -d cdc_demo -f "$T/load.$1.sql" >/dev/null
}
readyz() { curl -s -m 5 "http://127.0.0.1:$HPORT/readyz" || true; }
SUBS="cdc-public-items-cdc-platform cdc-public-accounts-cdc-platform"
OUT=$T/pulled.jsonl
: >"$OUT"
# shellcheck disable=SC2086
pull() { python3 "$READ" pull "$PUBSUB_EMULATOR_HOST" "$PROJECT" "$OUT" $SUBS; }

# 1. outage
pubsub_fault "$PS" '{"count": 100000, "status": 503}' >/dev/null
BEFORE=$(sql_su "SELECT pg_current_wal_insert_lsn()")
run_part 1
deadline=$((SECONDS + 20))
until readyz | grep -q 'UNAVAILABLE'; do
    [ "$SECONDS" -lt "$deadline" ] || fail "/readyz does not name the failure after 20 s: $(readyz)"
    sleep 0.3
done
ok "/readyz says why while publishing fails"
note "/readyz: $(readyz | head -c 400)"
sleep 2
expect_eq "the slot did not move past what was published during the outage" \
    "$(sql_su "SELECT confirmed_flush_lsn <= '$BEFORE' FROM pg_replication_slots WHERE slot_name = 'cdc_slot'")" t
expect_eq "nothing published during the outage" "$(pull)" 0
rss=$(awk '/VmRSS/ {print $2}' "/proc/$AGENT_PID/status")
note "agent RSS during the outage: $rss kB"
[ "$rss" -lt 200000 ] && ok "memory bounded during the outage" || fail "agent RSS $rss kB"
pubsub_api "$PS" DELETE /_double/fault >/dev/null
deadline=$((SECONDS + 30))
until readyz | grep -q '"status": *"ok"\|"status":"ok"'; do
    [ "$SECONDS" -lt "$deadline" ] || fail "/readyz not ok 30 s after the outage: $(readyz)"
    sleep 0.3
done
ok "/readyz ok again after the outage"

# 2. throttling and dropped connections
pubsub_fault "$PS" '{"count": 5, "status": 429}' >/dev/null
pubsub_fault "$PS" '{"count": 3, "mode": "drop"}' >/dev/null
run_part 2
# 3. slow answers
pubsub_fault "$PS" '{"count": 3, "mode": "latency", "delay_s": 2}' >/dev/null
run_part 3
# 4. errors after the publish happened
pubsub_fault "$PS" '{"count": 3, "status": 500, "when": "after"}' >/dev/null
run_part 4

END_LSN=$(sql_su "SELECT pg_current_wal_insert_lsn()")
deadline=$((SECONDS + 40))
until [ "$(sql_su "SELECT confirmed_flush_lsn >= '$END_LSN' FROM pg_replication_slots
                   WHERE slot_name = 'cdc_slot'")" = t ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "slot not confirmed up to $END_LSN after 40 s"
    sleep 0.2
done
ok "the slot confirmed the end of the load after the faults"
stats=$(pubsub_knob "$PS" GET stats)
note "double: $(python3 -c 'import json,sys; s=json.loads(sys.argv[1]); print("faults fired", s.get("faults_fired"), "publish requests", s.get("publish_requests"))' "$stats")"
agent_stop
n=$(pull)
note "$n messages pulled for $NREC changes"
sql_su "SELECT json_build_object(
          'items', (SELECT coalesce(json_agg(t), '[]') FROM items t),
          'accounts', (SELECT coalesce(json_agg(a), '[]') FROM accounts a))" >"$T/source.json"
check "nothing lost: per key the expected ops in order; replay equals the source" \
    python3 "$READ" ops "$OUT" "$T/expected.json" "$T/source.json" --no-tombstones
expect_eq "no ordering keys without ordering" \
    "$(python3 -c 'import json,sys; print({json.loads(l)["okey"] for l in open(sys.argv[1])})' "$OUT")" "{None}"
check "per topic nothing new before something older (one lane a topic)" \
    python3 "$READ" order "$OUT" --dups
grep -q "retrying" "$T/agent.log" && ok "the agent logged the retries" || fail "no retry logged"
pubsub_stop "$PS"
done_testing
