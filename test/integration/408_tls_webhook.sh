#!/usr/bin/env bash
# 408: the webhook sink over HTTPS (webhook.ssl_verify, ssl_ca_location,
# ssl_certificate_location, ssl_key_location, ssl_key_password) against the test receiver
# (test/doubles/webhook_receiver.py) serving a certificate from a CA made for this test
# (test/lib/tls.sh) and requiring a client certificate signed by it.
#   1. the wrong CA: every request fails the certificate check and is retried, nothing is
#      dead-lettered, the slot is not confirmed past the changes;
#   2. the right CA but no client certificate: the receiver refuses the handshake; the same;
#   3. the right CA and the client certificate with an encrypted key and its password: the
#      held changes and new ones arrive, each once, from CN cdc_user; the receiver's 400 for
#      one row dead-letters it; the slot is confirmed;
#   4. ssl_verify false with the wrong CA: delivered, with one warning;
#   5. `cdcagent dlq replay` uses the same TLS settings: refused with the wrong CA (status 1,
#      nothing marked), delivered with the client certificate with the right one.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/tls.sh"
need_agent

RECV=$CDC_SRC/test/doubles/webhook_receiver.py
C=$T/tls
tls_make "$C" || fail "tls_make (openssl)"

recv_start() {   # recv_start LOG ARGS...: an HTTPS receiver; sets RPORT, RPID
    local log=$1
    shift
    rm -f "$T/rport"
    bg python3 "$RECV" --log "$log" --port-file "$T/rport" --cert "$C/server.pem" \
        --key "$C/server.key" --client-ca "$C/ca.pem" "$@" 2>>"$T/receiver.err"
    RPID=$!
    for _ in $(seq 50); do [ -s "$T/rport" ] && break; sleep 0.1; done
    RPORT=$(cat "$T/rport")
}

# hook_pipeline TLS-LINES: the pipeline with one webhook sink at $RPORT and these webhook: lines.
hook_pipeline() {
    P_SNAPSHOT=never P_TABLES=public.customers write_pipeline
    PL_HEAD=$(sed '/^sinks:/,$d' "$T/pipeline.yaml")
    cat >"$T/pipeline.yaml" <<YAML
$PL_HEAD
sinks:
  - sink_id: hook
    sink_type: webhook
    webhook:
      url: https://127.0.0.1:$RPORT/cdc
      timeout_seconds: 5
$(printf '%s\n' "$1" | sed 's/^/      /')
YAML
}
GOOD="ssl_ca_location: $C/ca.pem
ssl_certificate_location: $C/client.pem
ssl_key_location: $C/client-enc.key
ssl_key_password: $TLS_PASS"

# held_for WHAT ALERT: the agent keeps running and retrying (the receiver reports failed
# handshakes with ALERT, at least twice for each of the two rows), and delivers and
# confirms nothing.
held_for() {
    local what=$1 alert=$2 deadline
    deadline=$((SECONDS + 30))
    : >"$T/receiver.err"
    until [ "$(grep -c "$alert" "$T/receiver.err")" -ge 4 ]; do
        agent_alive || fail "$what: the agent exited"
        [ "$SECONDS" -lt "$deadline" ] ||
            fail "$what: $(grep -c "$alert" "$T/receiver.err") failed handshakes ($alert) after 30 s, expected >= 4"
        sleep 0.2
    done
    ok "$what: the receiver saw the requests retried and refused ($alert)"
    check "$what: the agent keeps running" agent_alive
    expect_eq "$what: the receiver logged no request" "$(line_count "$T/req.jsonl")" 0
    expect_eq "$what: nothing dead-lettered" "$(line_count "$T/dlq.jsonl")" 0
    expect_eq "$what: the slot is not confirmed past the changes" \
        "$(sql_su "SELECT confirmed_flush_lsn <= '$BEFORE' FROM pg_replication_slots WHERE slot_name = 'cdc_slot'")" t
}

pg_up
sql "CREATE TABLE customers (id int PRIMARY KEY, name text)"
recv_start "$T/req.jsonl" --reject '"key":{"id":3}'
PLATFORM_EXTRA="retry:
  initial_wait_seconds: 0.1
  max_wait_seconds: 0.5" write_platform
ok "HTTPS receiver on 127.0.0.1:$RPORT (certificate from the test CA, client certificate required)"

note "1. the wrong CA"
hook_pipeline "ssl_ca_location: $C/wrong-ca.pem
ssl_certificate_location: $C/client.pem
ssl_key_location: $C/client.key"
agent_start
BEFORE=$(sql_su "SELECT pg_current_wal_lsn()")
sql "INSERT INTO customers VALUES (1, 'a')" "INSERT INTO customers VALUES (2, 'b')"
held_for "wrong CA" TLSV1_ALERT_UNKNOWN_CA
expect_contains "wrong CA: the log says why" "$(cat "$T/agent.log")" "SSL certificate problem"
agent_kill9

note "2. no client certificate"
: >"$T/agent.log"
hook_pipeline "ssl_ca_location: $C/ca.pem"
agent_start
held_for "no client certificate" PEER_DID_NOT_RETURN_A_CERTIFICATE
agent_kill9

note "3. the right CA, a client certificate with an encrypted key"
: >"$T/agent.log"
hook_pipeline "$GOOD"
agent_start
sql "INSERT INTO customers VALUES (3, 'c')" "INSERT INTO customers VALUES (4, 'd')"
for _ in $(seq 150); do [ "$(line_count "$T/req.jsonl")" -ge 4 ] && break; sleep 0.2; done
AFTER=$(sql_su "SELECT pg_current_wal_lsn()")
deadline=$((SECONDS + 30))
until [ "$(sql_su "SELECT confirmed_flush_lsn >= '$AFTER' FROM pg_replication_slots WHERE slot_name = 'cdc_slot'")" = t ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "slot not confirmed up to $AFTER after 30 s"
    sleep 0.2
done
agent_stop
R=$T/req.jsonl
jl_check "the held rows and the new ones arrived, each once (rows go in parallel)" "$R" \
    'sorted((get(e, "body.key.id"), e["status"]) for e in evs) == [(1, 200), (2, 200), (3, 400), (4, 200)]'
jl_check "every request came with the client certificate (CN cdc_user)" "$R" \
    'all(e["client_cn"] == "cdc_user" for e in evs)'
expect_eq "the refused row was dead-lettered" "$(jl_eval "$T/dlq.jsonl" '[get(e, "record.key.id") for e in evs]')" "[3]"
ok "the slot is confirmed past every change"

note "4. ssl_verify false"
: >"$T/agent.log"
hook_pipeline "ssl_verify: false
ssl_certificate_location: $C/client.pem
ssl_key_location: $C/client.key
ssl_ca_location: $C/wrong-ca.pem"
agent_start
sql "INSERT INTO customers VALUES (5, 'e')"
for _ in $(seq 150); do [ "$(line_count "$R")" -ge 5 ] && break; sleep 0.2; done
agent_stop
jl_check "delivered without verifying the receiver" "$R" \
    'get(evs[-1], "body.key.id") == 5 and evs[-1]["status"] == 200 and len(evs) == 5'
expect_eq "one warning that certificates are not checked" \
    "$(grep -c 'ssl_verify is false' "$T/agent.log")" 1

note "5. dlq replay over HTTPS"
kill -TERM "$RPID" 2>/dev/null || true
wait "$RPID" 2>/dev/null || true
recv_start "$T/req2.jsonl" --port "$RPORT"
hook_pipeline "ssl_ca_location: $C/wrong-ca.pem
ssl_certificate_location: $C/client.pem
ssl_key_location: $C/client.key"
cdc dlq replay "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "replay with the wrong CA exits 1" "$CDC_RC" 1
expect_contains "replay with the wrong CA: the certificate check failed" "$(cat "$T/cdc.err")" \
    "SSL certificate problem"
expect_eq "replay with the wrong CA: nothing marked" "$(line_count "$T/dlq.jsonl")" 1
hook_pipeline "$GOOD"
cdc dlq replay "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "replay with the right CA exits 0" "$CDC_RC" 0
expect_contains "replay reports one" "$(cat "$T/cdc.out")" "1 replayed, 0 already replayed"
jl_check "the dead letter arrived over HTTPS with the client certificate" "$T/req2.jsonl" \
    '[(get(e, "body.key.id"), e["status"], e["client_cn"]) for e in evs] == [(3, 200, "cdc_user")]'
done_testing
