#!/usr/bin/env bash
# 837: a masked or excluded column's value appears nowhere in what the agent sends or logs
# (issue 24).  One distinctive secret S is written into an excluded column (secret), a
# character-masked one (ssn), a hashed one (email, v2) and a truncated one (bio) of every row,
# snapshot and stream (inserts, an update of each, a delete).  Two pipelines carry the filtered
# table, both at agent.log_level debug with the health server on:
#   kafka : transport_mode kafka, JSON with schemas: every record's key and value (kafka_dump.py)
#   direct: a webhook sink whose receiver refuses row 3 (so it becomes a dead letter) and a jsonl
#           sink: the request bodies and headers, the dead-letter file, `dlq list --json`
# and /metrics and /healthz are read while each runs.  S is searched for in all of it, and in
# the logs and stdout: zero hits.  The control: the same two pipelines without the column
# settings (new slots and publications, same rows) carry S in Kafka records, webhook bodies and
# the dead letter, so the search can fail.  (The logs and /metrics hold no row values in either
# run, so there is no control for them: their search only shows nothing leaks there.)
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"
# shellcheck source=SCRIPTDIR/../lib/py.sh
. "$CDC_SRC/test/lib/py.sh"
# shellcheck source=SCRIPTDIR/../lib/kafka.sh
. "$CDC_SRC/test/lib/kafka.sh"

RECV=$CDC_SRC/test/doubles/webhook_receiver.py
S="Sk7-${RANDOM}${RANDOM}-QZXsecret"
SALT=CzQMA0cB5K
need_agent
py_env || fail "py_env (confluent-kafka from PyPI)"
kafka_install || fail "kafka_install"
KDIR=$T/kafka
_it837_cleanup() {
    local rc=$?
    set +e
    kafka_stop "$KDIR" 2>/dev/null
    (exit "$rc")
    _cleanup
}
trap _it837_cleanup EXIT

pg_up
sql "CREATE TABLE customers (id int PRIMARY KEY, name text, secret text, ssn text, email text,
                             bio text)"
sql "INSERT INTO customers VALUES (1, 'Alice', '$S', '$S', '$S', '$S'), (2, 'Bob', '$S', '$S', '$S', '$S')"
KPORT=$(free_port)
kafka_start "$KDIR" "$KPORT" || fail "Kafka broker"
rm -f "$T/rport"
bg python3 "$RECV" --log "$T/req.jsonl" --port-file "$T/rport" --reject '"key":{"id":3}'
for _ in $(seq 50); do [ -s "$T/rport" ] && break; sleep 0.1; done
RPORT=$(cat "$T/rport")

FILTERS="column_exclude_list: \"public\\\\.customers\\\\.secret\"
column_masks:
  column.mask.with.5.chars: public.customers.ssn
  column.mask.hash.v2.SHA-256.with.salt.$SALT: public.customers.email
  column.truncate.to.3.chars: public.customers.bio"

# run_pair NAME SOURCE_EXTRA: the kafka and the direct pipeline with SOURCE_EXTRA, each through
# the snapshot and the same stream of changes; their outputs go to $T/NAME/.
run_pair() {
    local name=$1 extra=$2 out=$T/$1 hport
    mkdir -p "$out"
    sql "DELETE FROM customers WHERE id = 3"     # the workload inserts it (before any slot)
    # Kafka, JSON with schemas
    hport=$(free_port)
    EVENTS=$out/unused.jsonl P_SLOT=${name}_k P_PUB=${name}_kpub P_TABLES=public.customers \
        P_SOURCE_EXTRA=$extra write_pipeline
    sed -i "s/^topic_prefix: cdc/topic_prefix: $name/" "$T/pipeline.yaml"
    cat >"$T/platform.yaml" <<YAML
transport_mode: kafka
health_enabled: true
health_port: $hport
kafka:
  bootstrap_servers: 127.0.0.1:$KPORT
  serialization: json
  json_schemas_enable: true
agent:
  log_level: debug
  status_interval_seconds: 1
  state_dir: $T
YAML
    : >"$T/agent.log"
    P_SLOT=${name}_k agent_start
    sql "INSERT INTO customers VALUES (3, 'Carol', '$S', '$S', '$S', '$S')" \
        "UPDATE customers SET secret = '$S!', ssn = '$S!', email = '$S!', bio = '$S!'" \
        "DELETE FROM customers WHERE id = 2" \
        "INSERT INTO customers VALUES (2, 'Bob', '$S', '$S', '$S', '$S')"
    local deadline=$((SECONDS + 60))
    until "$PY" "$CDC_SRC/test/lib/kafka_dump.py" --bootstrap "127.0.0.1:$KPORT" --timeout 10 \
            --prefix "$name." >"$out/kafka.jsonl" 2>/dev/null &&
          [ "$(line_count "$out/kafka.jsonl")" -ge 9 ]; do
        [ "$SECONDS" -lt "$deadline" ] || fail "$name: Kafka holds $(line_count "$out/kafka.jsonl") records, not 9"
        sleep 0.5
    done
    curl -s "http://127.0.0.1:$hport/metrics" >"$out/kafka-metrics.txt"
    curl -s "http://127.0.0.1:$hport/healthz" >"$out/kafka-healthz.txt"
    agent_stop
    cp "$T/agent.log" "$out/kafka-agent.log"
    cp "$T/agent.stdout" "$out/kafka-agent.stdout" 2>/dev/null || true
    # direct: webhook (row 3 refused: a dead letter) and jsonl
    hport=$(free_port)
    EVENTS=$out/events.jsonl P_SLOT=${name}_d P_PUB=${name}_dpub P_TABLES=public.customers \
        P_SOURCE_EXTRA=$extra write_pipeline
    cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: hook
    sink_type: webhook
    webhook:
      url: http://127.0.0.1:$RPORT/$name
      timeout_seconds: 5
YAML
    cat >"$T/platform.yaml" <<YAML
transport_mode: direct
health_enabled: true
health_port: $hport
agent:
  log_level: debug
  status_interval_seconds: 1
  state_dir: $T
retry:
  initial_wait_seconds: 0.1
  max_wait_seconds: 0.3
  max_attempts: 2
dlq:
  path: $out/dlq.jsonl
YAML
    : >"$T/agent.log"
    : >"$T/req.jsonl"
    P_SLOT=${name}_d agent_start
    sql "UPDATE customers SET name = name || '.'"
    wait_lines "$out/events.jsonl" 6 60
    deadline=$((SECONDS + 60))
    until [ "$(line_count "$out/dlq.jsonl")" -ge 1 ] && [ "$(line_count "$T/req.jsonl")" -ge 6 ]; do
        [ "$SECONDS" -lt "$deadline" ] || fail "$name: no dead letter or too few webhook requests"
        sleep 0.2
    done
    curl -s "http://127.0.0.1:$hport/metrics" >"$out/direct-metrics.txt"
    curl -s "http://127.0.0.1:$hport/healthz" >"$out/direct-healthz.txt"
    agent_stop
    cp "$T/req.jsonl" "$out/webhook.jsonl"
    cp "$T/agent.log" "$out/direct-agent.log"
    cdc dlq list "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --json --all
    expect_eq "$name: dlq list exits 0" "$CDC_RC" 0
    cp "$T/cdc.out" "$out/dlq-list.json"
    cp "$T/cdc.err" "$out/dlq-list.err"
    expect_contains "$name: the dead letter is row 3's" "$(cat "$out/dlq.jsonl")" '"id":3'
}
hits() {  # hits FILE...: how many lines hold S
    cat "$@" | grep -cF -- "$S" || true
}

note "the filtered pipelines"
run_pair masked "$FILTERS"
expect_eq "the agent logged at debug level" \
    "$(grep -c '"level":"debug"' "$T/masked/kafka-agent.log" | awk '$1 > 0 {print "yes"}')" yes
expect_contains "/metrics answered" "$(cat "$T/masked/kafka-metrics.txt" "$T/masked/direct-metrics.txt")" \
    "# TYPE"
imgs="[i for r in data for i in (r['value']['payload']['before'], r['value']['payload']['after']) if i]"
jl_check "Kafka: the masked values, as set, in every image" "$T/masked/kafka.jsonl" "
len($imgs) >= 8 and all('secret' not in i and i['ssn'] == '*****' and i['bio'] in ('Sk7', None)
                        and (i['email'] is None or len(i['email']) == 64) for i in $imgs)
and sum(i['bio'] == 'Sk7' for i in $imgs) >= 7"
for f in "$T"/masked/*; do
    expect_eq "S appears nowhere in $(basename "$f") ($(wc -l <"$f") lines)" "$(hits "$f")" 0
done

note "the control: the same pipelines without the column settings"
run_pair plain ""
expect_eq "control: S is in the Kafka records" "$(hits "$T/plain/kafka.jsonl" | awk '$1 > 0 {print "found"}')" found
expect_eq "control: S is in the webhook bodies" "$(hits "$T/plain/webhook.jsonl" | awk '$1 > 0 {print "found"}')" found
expect_eq "control: S is in the dead letter" "$(hits "$T/plain/dlq.jsonl" | awk '$1 > 0 {print "found"}')" found
expect_eq "control: S is in the jsonl sink" "$(hits "$T/plain/events.jsonl" | awk '$1 > 0 {print "found"}')" found
expect_eq "control: and in dlq list --json" "$(hits "$T/plain/dlq-list.json" | awk '$1 > 0 {print "found"}')" found

done_testing
