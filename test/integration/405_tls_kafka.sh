#!/usr/bin/env bash
# 405: transport_mode kafka over TLS, against the real Kafka 3.7.1 broker of test/lib/kafka.sh
# started with kafka_start_tls (an SSL listener that requires a client certificate, and a
# SASL_SSL listener with SCRAM-SHA-512), and the Schema Registry double over HTTPS; all
# certificates come from a CA made for this test (test/lib/tls.sh).  Serialization avro.
#   1. SSL with kafka.ssl_ca_location / ssl_certificate_location / ssl_key_location, the
#      registry at https:// with kafka.schema_registry_ca_location: the records read back
#      over TLS by the platform's own client (confluent-kafka, Avro through the registry over
#      HTTPS) are the changes made;
#   2. SASL_SSL with auth_mechanism sasl_scram_512 and a wrong password: the agent logs that
#      the authentication failed and stops with status 1 (after librdkafka's metadata
#      timeout, about 10 s); nothing reaches the topic, the slot is not confirmed;
#   3. the right password: the held change and a new one arrive, each once;
#   4. the registry's certificate checked against the wrong CA: status 2 with a message
#      naming the registry, nothing sent, nothing confirmed.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/tls.sh"
. "$CDC_SRC/test/lib/kafka.sh"
. "$CDC_SRC/test/lib/py.sh"
need_agent

KDIR=$T/kafka
# (set +e first: under errexit, "(exit $_rc)" would end the trap before _cleanup runs)
# shellcheck disable=SC2154  # _rc is assigned inside the trap
trap '_rc=$?; set +e; kafka_kill "$KDIR" >/dev/null 2>&1; (exit $_rc); _cleanup' EXIT
C=$T/tls
tls_make "$C" || fail "tls_make (openssl)"
py_env || fail "py_env (confluent-kafka[avro] from PyPI)"

KPORT=$(free_port)
SPORT=$(free_port)
kafka_start_tls "$KDIR" "$KPORT" "$SPORT" "$C" || fail "kafka_start_tls"
SSL_B=127.0.0.1:$SPORT
SASL_B=127.0.0.1:$((SPORT + 1))
SRPORT=$(free_port)
bg python3 "$CDC_SRC/test/doubles/schema_registry.py" --port "$SRPORT" --cert "$C/server.pem" \
    --key "$C/server.key" >"$T/registry.out"
SR=https://127.0.0.1:$SRPORT
for _ in $(seq 50); do curl -sf --cacert "$C/ca.pem" "$SR/subjects" >/dev/null && break; sleep 0.1; done
curl -sf --cacert "$C/ca.pem" "$SR/subjects" >/dev/null || fail "registry double not answering on $SR"
ok "kafka: SSL on $SSL_B, SASL_SSL/SCRAM-SHA-512 on $SASL_B; registry double on $SR"

pg_up
sql "CREATE TABLE customers (id int PRIMARY KEY, name text)"
P_TABLES=public.customers P_SNAPSHOT=never write_pipeline

# kafka_platform BOOTSTRAP LINES: platform.yaml for Kafka with these extra kafka: lines.
kafka_platform() {
    cat >"$T/platform.yaml" <<YAML
transport_mode: kafka
health_enabled: false
kafka:
  bootstrap_servers: $1
  serialization: avro
  schema_registry_url: $SR
$(printf '%s\n' "$2" | sed 's/^/  /')
agent:
  status_interval_seconds: 1
YAML
}
SSL_LINES="security_protocol: SSL
ssl_ca_location: $C/ca.pem
ssl_certificate_location: $C/client.pem
ssl_key_location: $C/client.key
schema_registry_ca_location: $C/ca.pem"
SASL_LINES="security_protocol: SASL_SSL
auth_mechanism: sasl_scram_512
sasl_username: $KAFKA_SCRAM_USER
ssl_ca_location: $C/ca.pem
schema_registry_ca_location: $C/ca.pem"

# consume WANT [SECONDS]: every record of cdc.public.customers, read over SASL_SSL and decoded
# with the registry over HTTPS, as JSON lines {"key", "value"} in offset order; stops at WANT
# records or after SECONDS (30).
consume() {
    # requests (inside SchemaRegistryClient) lets REQUESTS_CA_BUNDLE override ssl.ca.location
    REQUESTS_CA_BUNDLE=$C/ca.pem "$PY" - "$SASL_B" "$SR" "$C/ca.pem" "$KAFKA_SCRAM_USER" "$KAFKA_SCRAM_PASSWORD" "$1" "${2:-30}" <<'PY'
import json, sys, time
from confluent_kafka import DeserializingConsumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
b, sr, ca, user, pw, want, secs = sys.argv[1:8]
src = SchemaRegistryClient({"url": sr, "ssl.ca.location": ca})
c = DeserializingConsumer({"bootstrap.servers": b, "group.id": "it405-%f" % time.time(),
                           "security.protocol": "SASL_SSL", "ssl.ca.location": ca,
                           "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": user,
                           "sasl.password": pw, "auto.offset.reset": "earliest",
                           "key.deserializer": AvroDeserializer(src),
                           "value.deserializer": AvroDeserializer(src)})
c.subscribe(["cdc.public.customers"])
out, deadline = [], time.time() + float(secs)
while len(out) < int(want) and time.time() < deadline:
    m = c.poll(0.5)
    if m is None:
        continue
    if m.error():
        print("consumer: %s" % m.error(), file=sys.stderr)
        continue
    out.append((m.offset(), {"key": m.key(), "value": m.value()}))
c.close()
for _, r in sorted(out, key=lambda t: t[0]):
    print(json.dumps(r))
PY
}

# not_confirmed_past LSN: the slot's confirmed_flush_lsn <= LSN.
not_confirmed_past() {
    [ "$(sql_su "SELECT confirmed_flush_lsn <= '$1' FROM pg_replication_slots WHERE slot_name = 'cdc_slot'")" = t ]
}

note "1. SSL with a client certificate; the registry over HTTPS"
kafka_platform "$SSL_B" "$SSL_LINES"
agent_start
sql "INSERT INTO customers VALUES (1, 'a'), (2, 'b')" "UPDATE customers SET name = 'c' WHERE id = 1"
consume 3 >"$T/r1.jsonl"
agent_stop
jl_check "3 records over SSL: c c u with their rows" "$T/r1.jsonl" \
    '[(e["value"]["op"], e["key"]["id"], e["value"]["after"]["name"]) for e in evs] == [("c", 1, "a"), ("c", 2, "b"), ("u", 1, "c")]'
expect_contains "the value schema was registered over HTTPS" "$(curl -sf --cacert "$C/ca.pem" "$SR/subjects")" \
    '"cdc.public.customers-value"'
# The same listener without a client certificate must refuse: what makes the one above count.
"$PY" - "$SSL_B" "$C/ca.pem" >"$T/nocert.out" 2>&1 <<'PY' || fail "SSL listener without a client certificate: $(tail -3 "$T/nocert.out")"
import sys
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
try:
    AdminClient({"bootstrap.servers": sys.argv[1], "security.protocol": "SSL",
                 "ssl.ca.location": sys.argv[2]}).list_topics(timeout=5)
except KafkaException as e:
    print("refused: %s" % e)
    sys.exit(0)
sys.exit("the SSL listener answered a client without a certificate")
PY
ok "the SSL listener refuses a client without a certificate"

note "2. SASL_SSL/SCRAM-SHA-512 with a wrong password"
kafka_platform "$SASL_B" "$SASL_LINES
sasl_password: not-the-password"
BEFORE=$(sql_su "SELECT pg_current_wal_lsn()")
sql "INSERT INTO customers VALUES (3, 'held')"
AGENT_NO_WAIT=1 agent_start
agent_wait_exit 60
expect_eq "the agent gives up with status 1" "$AGENT_RC" 1
expect_contains "its log says the SCRAM authentication failed" "$(grep '"dest.kafka"' "$T/agent.log")" \
    "_AUTHENTICATION: sasl_ssl://$SASL_B/bootstrap: SASL authentication error: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512"
check "nothing confirmed past the held change" not_confirmed_past "$BEFORE"
consume 4 5 >"$T/r2.jsonl"
expect_eq "nothing new in the topic" "$(line_count "$T/r2.jsonl")" 3

note "3. SASL_SSL/SCRAM-SHA-512 with the right password"
kafka_platform "$SASL_B" "$SASL_LINES
sasl_password: $KAFKA_SCRAM_PASSWORD"
agent_start
sql "INSERT INTO customers VALUES (4, 'd')"
consume 5 >"$T/r3.jsonl"
agent_stop
jl_check "the held change and the new one arrived, each once" "$T/r3.jsonl" \
    '[(e["value"]["op"], e["key"]["id"]) for e in evs] == [("c", 1), ("c", 2), ("u", 1), ("c", 3), ("c", 4)]'
AFTER=$(sql_su "SELECT pg_current_wal_lsn()")

note "4. the registry's certificate against the wrong CA"
kafka_platform "$SASL_B" "$SASL_LINES
sasl_password: $KAFKA_SCRAM_PASSWORD"
sed -i "s#schema_registry_ca_location: .*#schema_registry_ca_location: $C/wrong-ca.pem#" "$T/platform.yaml"
sql "ALTER TABLE customers ADD COLUMN tier int" "INSERT INTO customers VALUES (5, 'e', 1)"
AGENT_NO_WAIT=1 agent_start
agent_wait_exit 60
# schemas/registry.c counts a failed certificate check as final and as configuration (CA file).
expect_eq "the agent stops with status 2 (configuration)" "$AGENT_RC" 2
expect_contains "the message names the registry and the certificate problem" "$(cat "$T/agent.log")" \
    "schema registry at $SR: SSL certificate problem: unable to get local issuer certificate"
check "nothing confirmed past the change it could not encode" not_confirmed_past "$AFTER"
consume 6 5 >"$T/r4.jsonl"
expect_eq "nothing new in the topic" "$(line_count "$T/r4.jsonl")" 5

note "5. a registry that requires a client certificate (mutual TLS)"
MPORT=$(free_port)
bg python3 "$CDC_SRC/test/doubles/schema_registry.py" --port "$MPORT" --cert "$C/server.pem" \
    --key "$C/server.key" --client-ca "$C/ca.pem" >"$T/registry2.out"
MSR=https://127.0.0.1:$MPORT
for _ in $(seq 50); do curl -sf --cacert "$C/ca.pem" --cert "$C/client.pem" --key "$C/client.key" "$MSR/subjects" >/dev/null && break; sleep 0.1; done
kafka_platform "$SASL_B" "$SASL_LINES
sasl_password: $KAFKA_SCRAM_PASSWORD"
sed -i "s#schema_registry_url: .*#schema_registry_url: $MSR#" "$T/platform.yaml"
agent_start
# TLS 1.3 reports the refusal after the handshake, so it looks like a transport failure: the
# agent warns and keeps retrying (nothing is published or confirmed) until it is stopped.
# Whether curl sees the server's alert or only a reset connection is a race, so the agent
# names the likely cause itself when it has no client certificate configured.
for _ in $(seq 300); do grep -q "schema registry at $MSR.*schema_registry_certificate_location" "$T/agent.log" && break; sleep 0.1; done
expect_contains "without a client certificate the registry refuses the agent, and the log says why" \
    "$(grep "schema registry at $MSR" "$T/agent.log" | head -n 1)" \
    "if the registry requires a client certificate, set kafka.schema_registry_certificate_location"
agent_stop
expect_eq "without a client certificate nothing was registered" \
    "$(curl -sf --cacert "$C/ca.pem" --cert "$C/client.pem" --key "$C/client.key" "$MSR/subjects")" "[]"
kafka_platform "$SASL_B" "$SASL_LINES
sasl_password: $KAFKA_SCRAM_PASSWORD
schema_registry_certificate_location: $C/client.pem
schema_registry_key_location: $C/client.key"
sed -i "s#schema_registry_url: .*#schema_registry_url: $MSR#" "$T/platform.yaml"
agent_start
for _ in $(seq 100); do
    curl -sf --cacert "$C/ca.pem" --cert "$C/client.pem" --key "$C/client.key" "$MSR/subjects" | grep -q 'cdc.public.customers-value' && break
    sleep 0.2
done
agent_stop
expect_contains "with the client certificate the agent registers its schemas" \
    "$(curl -sf --cacert "$C/ca.pem" --cert "$C/client.pem" --key "$C/client.key" "$MSR/subjects")" \
    '"cdc.public.customers-value"'
done_testing
