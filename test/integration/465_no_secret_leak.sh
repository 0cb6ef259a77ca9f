#!/usr/bin/env bash
# 465: secrets are never printed.  One distinctive password PW (with '+' and '/', so its
# URL-encoded form differs) is the source role's password (scram over TCP), the postgres
# sink's password (a real sink database owned by the same role), webhook.auth_token, the
# password inside the webhook URL's user-info (URL-encoded), kafka.sasl_password and
# kafka.schema_registry_password (accepted by validation; no broker or registry here).
# Most of them come through ${CDC_TEST_PW} substitution, the rest literally.
# Everything the agent prints is captured and searched for PW, its URL-encoded form, the
# base64 of PW and of "user:PW" (HTTP basic auth), and the fragment "5ecr3t":
#   validate (ok; errors in other keys; a misspelled key holding the secret), help config,
#   run with agent.log_level debug in text and in JSON format (snapshot, streaming, a
#   webhook dead letter), the /metrics, /healthz and /readyz bodies while it runs, the DLQ
#   file and `dlq list --json`, the JSONL sink's file, the postgres sink's rows,
#   slot status (text and --json), run against a server that refuses the password, run
#   against a closed port and an unresolvable host, and run with an unreachable postgres
#   sink.  cdcagent has no option to read a secret from a file (only ${ENV}); see
#   docs/security-secrets.md.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

RECV=$CDC_SRC/test/doubles/webhook_receiver.py
need_agent
PW="Pw-5ecr3t+${RANDOM}/xyz"
export CDC_TEST_PW=$PW
PW_URL=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$PW")
[ "$PW_URL" != "$PW" ] || fail "the URL-encoded password should differ from the password"
OUT=$T/out                      # every captured output goes here, one file each
mkdir -p "$OUT"
note "password under test: $PW (URL-encoded $PW_URL)"

pg_up
sql_su "CREATE TABLE customers (id int PRIMARY KEY, name text)" \
       "INSERT INTO customers VALUES (1, 'one'), (2, 'two')" \
       "CREATE ROLE cdc_sec WITH LOGIN REPLICATION PASSWORD '$PW'" \
       "GRANT SELECT ON customers TO cdc_sec" \
       "CREATE PUBLICATION sec_pub FOR TABLE public.customers" \
       "CREATE DATABASE sinkdb OWNER cdc_sec"
# The password really is the role's, over TCP with scram (pg.sh's pg_hba.conf).
expect_eq "psql as cdc_sec with PW over 127.0.0.1 (scram)" \
    "$(PGPASSWORD=$PW "$PG_BIN/psql" -X -At -h 127.0.0.1 -p "$PORT" -U cdc_sec -d cdc_demo -c 'SELECT current_user')" cdc_sec

rm -f "$T/rport"
bg python3 "$RECV" --log "$T/req.jsonl" --port-file "$T/rport" --reject '"key":{"id":3}'
for _ in $(seq 50); do [ -s "$T/rport" ] && break; sleep 0.1; done
RPORT=$(cat "$T/rport")
HPORT=$(free_port)

# sec_pipeline [SOURCE_PORT [SOURCE_HOST [SINK_PG_PORT]]]
sec_pipeline() {
    local sport=${1:-$PORT} shost=${2:-127.0.0.1} kport=${3:-$PORT}
    cat >"$T/pipeline.yaml" <<YAML
pipeline_id: it-465
topic_prefix: cdc
source:
  host: $shost
  port: $sport
  database: cdc_demo
  username: cdc_sec
  password: "\${CDC_TEST_PW}"
  tables: [public.customers]
  slot_name: sec_slot
  publication_name: sec_pub
  snapshot_mode: initial
sinks:
  - sink_id: local
    sink_type: jsonl
    jsonl:
      path: "$EVENTS"
  - sink_id: hook
    sink_type: webhook
    webhook:
      url: "http://hookuser:$PW_URL@127.0.0.1:$RPORT/cdc"
      auth_token: "\${CDC_TEST_PW}"
      timeout_seconds: 5
  - sink_id: pgsink
    sink_type: postgres
    postgres:
      host: 127.0.0.1
      port: $kport
      database: sinkdb
      username: cdc_sec
      password: "$PW"
      target_table: public.cdc_events
YAML
}

# sec_platform FORMAT
sec_platform() {
    cat >"$T/platform.yaml" <<YAML
transport_mode: direct
health_enabled: true
health_port: $HPORT
agent:
  log_level: debug
  log_format: $1
  status_interval_seconds: 1
  reconnect_max_attempts: 1
retry:
  initial_wait_seconds: 0.1
  max_wait_seconds: 0.3
  max_attempts: 2
dlq:
  path: $T/dlq.jsonl
kafka:
  bootstrap_servers: 127.0.0.1:9
  auth_mechanism: sasl_scram_512
  sasl_username: kuser
  sasl_password: "\${CDC_TEST_PW}"
  schema_registry_url: http://127.0.0.1:9
  schema_registry_username: sruser
  schema_registry_password: "$PW"
YAML
}
ARGS=("$T/pipeline.yaml" --platform-config "$T/platform.yaml")

# subst FILE OLD NEW: FILE with every OLD replaced by NEW, on stdout (no sed: PW has a '/').
subst() {
    python3 -c 'import sys; sys.stdout.write(open(sys.argv[1]).read().replace(sys.argv[2], sys.argv[3]))' "$@"
}

# capture NAME CMD...: cdcagent CMD with stdout+stderr into $OUT/NAME; sets CDC_RC.
capture() {
    local name=$1
    shift
    CDC_RC=0
    "$CDCAGENT" "$@" >"$OUT/$name" 2>&1 || CDC_RC=$?
}

# ---------------------------------------------------------------- validate, help
sec_pipeline
sec_platform text
capture validate-ok validate "${ARGS[@]}"
expect_eq "validate with every secret set exits 0 ($(head -c 200 "$OUT/validate-ok"))" "$CDC_RC" 0

sed 's/^  port: [0-9]*$/  port: not-a-port/' "$T/pipeline.yaml" >"$T/bad-pipeline.yaml"
capture validate-bad-port validate "$T/bad-pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "validate: bad source.port beside the secrets exits 2" "$CDC_RC" 2
expect_contains "  ... and names the key" "$(cat "$OUT/validate-bad-port")" "source.port"

sed 's/^  log_level: debug$/  log_level: loud/' "$T/platform.yaml" >"$T/bad-platform.yaml"
capture validate-bad-level validate "$T/pipeline.yaml" --platform-config "$T/bad-platform.yaml"
expect_eq "validate: bad agent.log_level beside the secrets exits 2" "$CDC_RC" 2

sed 's/^  auth_mechanism: sasl_scram_512$/  auth_mechanism: sasl_scram_999/' "$T/platform.yaml" >"$T/bad-mech.yaml"
capture validate-bad-mech validate "$T/pipeline.yaml" --platform-config "$T/bad-mech.yaml"
expect_eq "validate: bad kafka.auth_mechanism exits 2" "$CDC_RC" 2

# The secret under a misspelled key: the unknown key is named, its value is not.
# shellcheck disable=SC2016  # the literal ${CDC_TEST_PW} of the file
subst "$T/pipeline.yaml" '  password: "${CDC_TEST_PW}"' "  passwrd: \"$PW\"" >"$T/typo.yaml"
grep -q '^  passwrd: ' "$T/typo.yaml" || fail "typo.yaml: the password line was not renamed"
capture validate-typo validate "$T/typo.yaml" --platform-config "$T/platform.yaml"
expect_eq "validate: the secret under a misspelled key exits 2" "$CDC_RC" 2
expect_contains "  ... naming the key" "$(cat "$OUT/validate-typo")" "passwrd"

# A secret of the wrong shape: a list where the password goes.
# shellcheck disable=SC2016
subst "$T/pipeline.yaml" '  password: "${CDC_TEST_PW}"' "  password: [\"$PW\", x]" >"$T/shape.yaml"
capture validate-shape validate "$T/shape.yaml" --platform-config "$T/platform.yaml"
expect_eq "validate: a list as source.password exits 2" "$CDC_RC" 2

capture help-config help config
expect_eq "help config exits 0" "$CDC_RC" 0

# ---------------------------------------------------------------- run, text logs
http_get() {    # http_get PATH NAME: the body (and status line) of GET PATH on the health port
    curl -s -o "$OUT/$2" -w '%{http_code}' "http://127.0.0.1:$HPORT$1" || true
}

P_SLOT=sec_slot
"$CDCAGENT" run "${ARGS[@]}" >"$OUT/run-text.stdout" 2>"$OUT/run-text.stderr" &
AGENT_PID=$!
wait_slot_active sec_slot 60
wait_lines "$EVENTS" 2 30
sql_su "INSERT INTO customers VALUES (3, 'refused by the webhook'), (4, 'four')" \
       "UPDATE customers SET name = 'uno' WHERE id = 1"
wait_lines "$EVENTS" 5 30
for _ in $(seq 100); do [ "$(line_count "$T/dlq.jsonl")" -ge 1 ] && break; sleep 0.1; done
expect_eq "the webhook's refusal of row 3 is a dead letter" "$(line_count "$T/dlq.jsonl")" 1
for _ in $(seq 100); do
    [ "$(PGPASSWORD=$PW "$PG_BIN/psql" -X -At -h 127.0.0.1 -p "$PORT" -U cdc_sec -d sinkdb \
          -c 'SELECT count(*) FROM public.cdc_events' 2>/dev/null)" = 5 ] && break
    sleep 0.1
done
expect_eq "the postgres sink (as cdc_sec with PW) holds the 5 events" \
    "$(PGPASSWORD=$PW "$PG_BIN/psql" -X -At -h 127.0.0.1 -p "$PORT" -U cdc_sec -d sinkdb -c 'SELECT count(*) FROM public.cdc_events')" 5
PGPASSWORD=$PW "$PG_BIN/psql" -X -At -h 127.0.0.1 -p "$PORT" -U cdc_sec -d sinkdb \
    -c 'SELECT row_to_json(e) FROM public.cdc_events e' >"$OUT/pgsink-rows"
expect_eq "the webhook receiver got >= 5 requests, each with Authorization: Bearer PW" \
    "$(python3 - "$T/req.jsonl" "$PW" <<'PY'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
auth = [r["headers"].get("Authorization", r["headers"].get("authorization")) for r in reqs]
print("yes" if len(reqs) >= 5 and all(a == "Bearer " + sys.argv[2] for a in auth) else "no: %d %s" % (len(reqs), auth[:2]))
PY
)" yes
expect_eq "/metrics answers 200" "$(http_get /metrics metrics)" 200
expect_eq "/healthz answers 200" "$(http_get /healthz healthz)" 200
expect_eq "/readyz answers 200" "$(http_get /readyz readyz)" 200
capture slot-status slot status "${ARGS[@]}" --rate-window 0
capture slot-status-json slot status "${ARGS[@]}" --json --rate-window 0
case "$CDC_RC" in 0 | 3) ok "slot status --json with the password from \${CDC_TEST_PW} exits $CDC_RC" ;;
    *) fail "slot status exits $CDC_RC: $(cat "$OUT/slot-status-json")" ;; esac
agent_stop
cp "$T/dlq.jsonl" "$OUT/dlq-file"
cp "$EVENTS" "$OUT/events-file"
capture dlq-list dlq list "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --json --all
expect_eq "dlq list exits 0" "$CDC_RC" 0
grep -q "debug" "$OUT/run-text.stderr" || fail "the text run logged nothing at debug level"
ok "run with debug logs in text: $(wc -l <"$OUT/run-text.stderr") log lines"

# ---------------------------------------------------------------- run, JSON logs
sec_platform json
"$CDCAGENT" run "${ARGS[@]}" >"$OUT/run-json.stdout" 2>"$OUT/run-json.stderr" &
AGENT_PID=$!
wait_slot_active sec_slot 60
sql_su "INSERT INTO customers VALUES (5, 'five')"
wait_lines "$EVENTS" 6 30          # 2 snapshot rows, 3 changes, then this one
http_get /metrics metrics-json-run >/dev/null
http_get /readyz readyz-json-run >/dev/null
agent_stop
python3 -c '
import json, sys
n = 0
for line in open(sys.argv[1]):
    if line.startswith("{"):
        json.loads(line); n += 1
sys.exit(n == 0)' "$OUT/run-json.stderr" || fail "the JSON run logged no JSON lines"
ok "run with debug logs in JSON: $(wc -l <"$OUT/run-json.stderr") log lines"

# ---------------------------------------------------------------- failures
sql_su "ALTER ROLE cdc_sec PASSWORD 'not-the-configured-one'"
capture run-wrong-password run "${ARGS[@]}"
expect_eq "run against a server that refuses the password exits 1" "$CDC_RC" 1
expect_contains "  ... saying so" "$(cat "$OUT/run-wrong-password")" "password authentication failed"
capture slot-status-wrong-password slot status "${ARGS[@]}" --json
expect_eq "slot status with a refused password exits 1" "$CDC_RC" 1
sql_su "ALTER ROLE cdc_sec PASSWORD '$PW'"

sec_pipeline "$(free_port)"
capture run-closed-port run "${ARGS[@]}"
expect_eq "run against a closed port exits 1" "$CDC_RC" 1
sec_pipeline "$PORT" no-such-host.invalid
capture run-bad-host run "${ARGS[@]}"
expect_eq "run against an unresolvable host exits 1" "$CDC_RC" 1
expect_contains "  ... naming the host" "$(cat "$OUT/run-bad-host")" "no-such-host.invalid"
sec_pipeline "$PORT" 127.0.0.1 "$(free_port)"
capture run-pgsink-down run "${ARGS[@]}"
note "run with the postgres sink down exits $CDC_RC"
[ "$CDC_RC" -ne 0 ] || fail "run with an unreachable postgres sink should fail"
ok "run with an unreachable postgres sink fails (exit $CDC_RC)"

# Dead letters to a PostgreSQL table: a conninfo holding PW, unreachable (the agent warns
# and goes on), then one libpq cannot parse (the agent stops).
sec_pipeline
sec_platform text
DLQ_DOWN=$(free_port)
subst "$T/platform.yaml" "  path: $T/dlq.jsonl" \
    "  postgres_conninfo: \"host=127.0.0.1 port=$DLQ_DOWN dbname=x user=cdc_sec password=\${CDC_TEST_PW}\"" \
    >"$T/dlq-down.yaml"
grep -q "port=$DLQ_DOWN" "$T/dlq-down.yaml" || fail "dlq-down.yaml: conninfo not written"
"$CDCAGENT" run "$T/pipeline.yaml" --platform-config "$T/dlq-down.yaml" \
    >"$OUT/run-dlq-down.stdout" 2>"$OUT/run-dlq-down.stderr" &
AGENT_PID=$!
wait_slot_active sec_slot 60
agent_stop
expect_contains "the unreachable dead-letter database is reported" "$(cat "$OUT/run-dlq-down.stderr")" "$DLQ_DOWN"
subst "$T/platform.yaml" "  path: $T/dlq.jsonl" \
    "  postgres_conninfo: \"host=127.0.0.1 password='\${CDC_TEST_PW} bogus\"" >"$T/dlq-bad.yaml"
capture run-dlq-unparsable run "$T/pipeline.yaml" --platform-config "$T/dlq-bad.yaml"
expect_eq "run with an unparsable dlq.postgres_conninfo exits 2 ($(head -c 200 "$OUT/run-dlq-unparsable"))" "$CDC_RC" 2

# ---------------------------------------------------------------- the search
ls "$OUT" >"$T/outputs.txt"
note "searched outputs: $(tr '\n' ' ' <"$T/outputs.txt")"
python3 - "$OUT" "$PW" <<'PY' || fail "a secret was printed (above)"
import base64, os, sys, urllib.parse
out, pw = sys.argv[1], sys.argv[2]
b64 = lambda s: base64.b64encode(s.encode()).decode()
needles = {
    "password": pw,
    "URL-encoded": urllib.parse.quote(pw, safe=""),
    "URL-encoded (form)": urllib.parse.quote_plus(pw),
    "base64": b64(pw),
    "base64 without padding": b64(pw).rstrip("="),
    "basic auth hookuser": b64("hookuser:" + pw),
    "basic auth sruser": b64("sruser:" + pw),
    "SASL PLAIN": b64("\0kuser\0" + pw),
    "fragment": "5ecr3t",
}
bad = 0
total = 0
for name in sorted(os.listdir(out)):
    data = open(os.path.join(out, name), "rb").read().decode("utf-8", "replace")
    total += len(data)
    for what, needle in needles.items():
        i = data.find(needle)
        if i >= 0:
            bad += 1
            print("# LEAK: %s (%s) in %s: ...%s..." % (what, needle, name,
                  data[max(0, i - 80):i + 40].replace("\n", "|")))
print("# searched %d files, %d bytes, for %d forms" % (len(os.listdir(out)), total, len(needles)))
sys.exit(1 if bad else 0)
PY
ok "no form of the password in anything the agent printed, served or wrote"

done_testing
