#!/usr/bin/env bash
# `cdcagent run` (transport_mode pubsub, ordering on) is killed with SIGKILL three times at
# random moments while a continuous load of inserts, multi-row transactions, updates and
# deletes runs into two tables, and restarted each time; the Pub/Sub REST TEST DOUBLE keeps
# running. Pub/Sub cannot be read back, so the transport is at least once: after a crash
# PostgreSQL sends again every transaction the slot had not confirmed, and those are
# published again. Measured here: 0 lost (every change, in order per key, replaying gives
# the source tables), and every duplicate is a position the slot had not confirmed at a kill
# (at most as many as those); the duplicates are counted and reported.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/pubsub.sh"
. "$CDC_SRC/test/lib/pubsub_it.sh"
READ=$CDC_SRC/test/lib/pubsub_read.py
LOAD=$CDC_SRC/test/lib/kafka_load.py
STEPS=${IT_STEPS:-2000}
PS=$T/pubsub
PROJECT=test-project

ps_double_up

pg_up
sql "CREATE TABLE items (id int PRIMARY KEY, batch int, payload text)" \
    "CREATE TABLE accounts (id int PRIMARY KEY, balance int)"
P_TABLES="public.items, public.accounts" P_SNAPSHOT=never write_pipeline
cat >"$T/platform.yaml" <<YAML
transport_mode: pubsub
health_enabled: false
pubsub:
  json_schemas_enable: false
  project_id: $PROJECT
  ordering_enabled: true
wal_reader:
  batch_size: 200
  batch_timeout_seconds: 0.1
agent:
  status_interval_seconds: 1
  state_dir: $T
YAML
NREC=$(python3 "$LOAD" gen "$STEPS" 521 "$T")
note "load: $STEPS steps, $NREC records expected"
ps_agent_start

bg load_file "$T/load.1.sql"

SUBS="cdc-public-items-cdc-platform cdc-public-accounts-cdc-platform"
OUT=$T/pulled.jsonl
: >"$OUT"
# shellcheck disable=SC2086
pull() { python3 "$READ" pull "$PUBSUB_EMULATOR_HOST" "$PROJECT" "$OUT" $SUBS; }
# The double may still be carrying out a request the killed agent sent: wait until its
# count of publish requests stops moving, so the pull below sees all the killed run did.
settle() {
    local a b
    a=$(pubsub_knob "$PS" GET stats)
    while sleep 0.3; b=$(pubsub_knob "$PS" GET stats); [ "$a" != "$b" ]; do a=$b; done
}
KILLS=()
for round in 1 2 3; do
    sleep "$(python3 -c "import random; print(round(random.uniform(0.8, 2.0), 2))")"
    grep -q '^loader exit' "$T/loader.log" 2>/dev/null && note "round $round: the load has already ended"
    agent_alive || fail "round $round: the agent died by itself (see agent.log)"
    agent_kill9
    deadline=$((SECONDS + 30))
    while [ "$(slot_field cdc_slot active)" = t ]; do
        [ "$SECONDS" -lt "$deadline" ] || fail "slot still active 30 s after kill -9"
        sleep 0.1
    done
    conf=$(lsn_num "$(slot_field cdc_slot confirmed_flush_lsn)")
    settle
    n=$(pull)
    KILLS+=("$n:$conf")
    note "round $round: killed with $n messages published, slot confirmed at $conf"
    ps_agent_start
done

deadline=$((SECONDS + 90))
until grep -q '^loader exit' "$T/loader.log" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || fail "the loader did not finish in 90 s"
    sleep 0.2
done
expect_eq "the loader succeeded" "$(grep '^loader exit' "$T/loader.log")" "loader exit 0"
END_LSN=$(sql_su "SELECT pg_current_wal_insert_lsn()")
deadline=$((SECONDS + 60))
until [ "$(sql_su "SELECT confirmed_flush_lsn >= '$END_LSN' FROM pg_replication_slots
                   WHERE slot_name = 'cdc_slot'")" = t ]; do
    [ "$SECONDS" -lt "$deadline" ] ||
        fail "slot confirmed_flush_lsn $(slot_field cdc_slot confirmed_flush_lsn) < $END_LSN after 60 s"
    sleep 0.2
done
ok "the slot confirmed everything up to the end of the load ($END_LSN)"
agent_stop
n=$(pull)
note "$n messages pulled for $NREC changes"
sql_su "SELECT json_build_object(
          'items', (SELECT coalesce(json_agg(t), '[]') FROM items t),
          'accounts', (SELECT coalesce(json_agg(a), '[]') FROM accounts a))" >"$T/source.json"
check "0 lost: per key the expected ops once each in commit order; replay equals the source" \
    python3 "$READ" ops "$OUT" "$T/expected.json" "$T/source.json"
check "per ordering key nothing new before something older (re-sends allowed)" \
    python3 "$READ" order "$OUT" --dups
res=$(python3 "$READ" dupbound "$OUT" "${KILLS[@]}") || fail "duplicates: $res"
ok "every duplicate is a position the slot had not confirmed at a kill ($res)"
note "measured: $res over 3 kills (the bound counts the published, unconfirmed positions)"
pubsub_stop "$PS"
done_testing
