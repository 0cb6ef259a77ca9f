#!/usr/bin/env bash
# Taking over from Debezium: before registering a subject that already exists, the agent
# says which Debezium profile its latest version matches.  Run 1 registers with the 3.4
# profile; run 2 (same profile) reports a match; run 3 (configured 2.7) names the 3.1-3.4
# profile and warns that a new version would follow.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/kafka.sh"

KDIR=$T/kafka
trap '_rc=$?; kafka_kill "$KDIR" >/dev/null 2>&1; set +e; (exit $_rc); _cleanup' EXIT
KPORT=$(free_port)
kafka_start "$KDIR" "$KPORT"
SRPORT=$(free_port)
bg python3 "$CDC_SRC/test/doubles/schema_registry.py" --port "$SRPORT"
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$SRPORT/subjects" >/dev/null && break; sleep 0.1; done

pg_up
sql "CREATE TABLE customers (id serial PRIMARY KEY, name text)"
P_TABLES=public.customers P_SNAPSHOT=never write_pipeline
platform() {
    cat >"$T/platform.yaml" <<YAML
transport_mode: kafka
health_enabled: false
kafka:
  bootstrap_servers: 127.0.0.1:$KPORT
  schema_registry_url: http://127.0.0.1:$SRPORT
  debezium_version: "$1"
agent:
  status_interval_seconds: 1
YAML
}
run_once() {
    platform "$1"
    : >"$T/agent.log"
    agent_start
    sql "INSERT INTO customers (name) VALUES ('$2')"
    for _ in $(seq 100); do grep -q 'subject cdc.public.customers-value: schema id' "$T/agent.log" && break; sleep 0.2; done
    agent_stop
}
run_once 3.4 first
expect_eq "run 1 registered version 1" \
    "$(curl -sf "http://127.0.0.1:$SRPORT/subjects/cdc.public.customers-value/versions" | tr -d ' ')" "[1]"
run_once 3.4 second
expect_contains "run 2: the latest version matches the configured profile" "$(cat "$T/agent.log")" \
    "latest version 1 matches the configured Debezium 3.1-3.4 profile"
run_once 2.7 third
expect_contains "run 3: the latest version is named as the 3.1-3.4 profile's" "$(cat "$T/agent.log")" \
    "latest version 1 was written by Debezium's 3.1-3.4 profile, not the configured 2.7"
done_testing
