#!/usr/bin/env bash
# 905: the health server of a running agent (jsonl sink, health_enabled on a free port):
#   - /healthz 200 and /readyz 200 with the platform's body while it streams;
#   - /metrics, read with prometheus_client's parser: events_total by table and op grows by
#     exactly the rows of a batch, the lag gauges are there, consumer.lag JSON log lines
#     carry total_lag;
#   - PostgreSQL stopped: /readyz turns 503 within 20 s with a body whose source names the
#     connection error, /healthz stays 200, cdcagent_ready 0 and the reconnecting state;
#   - PostgreSQL back: /readyz 200 again, rows inserted just before the stop and after
#     the restart all arrive (none lost), and the counters go on growing.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

PROMCLIENT_VERSION=0.20.0
VENV=$CDC_SRC/.cache/venv-promclient-$PROMCLIENT_VERSION

pg_up
sql "CREATE TABLE customers (id int PRIMARY KEY, name text)"
sql "CREATE TABLE orders (id int PRIMARY KEY, customer_id int, amount numeric)"
sql "INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 4) g"

HPORT=$(free_port)
write_pipeline
PLATFORM_EXTRA="health_port: $HPORT
lag_monitor_interval_seconds: 1
retry:
  initial_wait_seconds: 0.5
  max_wait_seconds: 1" write_platform
sed -i -e 's/^health_enabled: false$/health_enabled: true/' \
    -e 's/^agent:$/agent:\n  log_format: json/' "$T/platform.yaml"
grep -q '^health_enabled: true$' "$T/platform.yaml" || fail "could not enable health in platform.yaml"
note "health server on 127.0.0.1:$HPORT"

# http PATH: sets CODE and BODY ($T/http.body); CODE 000 when nothing answered.
http() {
    CODE=$(curl -s -m 5 -o "$T/http.body" -w '%{http_code}' "http://127.0.0.1:$HPORT$1" || true)
    BODY=$(cat "$T/http.body" 2>/dev/null || true)
}

# wait_http PATH CODE TIMEOUT: until PATH answers CODE.
wait_http() {
    local deadline=$((SECONDS + $3))
    while http "$1"; [ "$CODE" != "$2" ]; do
        [ "$SECONDS" -lt "$deadline" ] || fail "$1 answered $CODE, not $2, after $3 s: $BODY"
        agent_alive || fail "agent exited while waiting for $1 to answer $2"
        sleep 0.2
    done
}

# health_get PATH(dotted): a member of the last /readyz body.
health_get() {
    python3 -c 'import json, sys
o = json.loads(sys.argv[1])
for k in sys.argv[2].split("."):
    o = o[int(k)] if isinstance(o, list) else o[k]
print(o if isinstance(o, str) else json.dumps(o))' "$BODY" "$1"
}

# ---------------------------------------------------------------- the parser
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import prometheus_client' 2>/dev/null; then
    note "installing prometheus-client==$PROMCLIENT_VERSION into $VENV"
    python3 -m venv "$VENV" >"$T/venv.log" 2>&1 &&
        "$VENV/bin/pip" install --quiet --disable-pip-version-check \
            "prometheus-client==$PROMCLIENT_VERSION" >>"$T/venv.log" 2>&1 ||
        fail "could not install prometheus-client: $(tail -2 "$T/venv.log")"
fi

# metric NAME [label=value ...]: the one sample's value from /metrics, parsed by
# prometheus_client ("absent" when there is no such sample; fails on a parse error).
metric() {
    http /metrics
    [ "$CODE" = 200 ] || fail "/metrics answered $CODE"
    "$VENV/bin/python" - "$T/http.body" "$@" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
fams = list(text_string_to_metric_families(open(sys.argv[1]).read()))
name, want = sys.argv[2], dict(a.split("=", 1) for a in sys.argv[3:])
got = [s.value for f in fams for s in f.samples if s.name == name and s.labels == want]
assert len(got) <= 1, f"{name}{want}: {len(got)} samples"
v = got[0] if got else None
print("absent" if v is None else (int(v) if v == int(v) else v))
PY
}

# ---------------------------------------------------------------- streaming
agent_start
wait_lines "$EVENTS" 4 30
wait_http /readyz 200 20
ok "/readyz 200 while streaming"
expect_eq "/readyz status" "$(health_get status)" ok
expect_eq "/readyz source state" "$(health_get source.state)" streaming
expect_eq "/readyz sink" "$(health_get sinks.0.sink_id)/$(health_get sinks.0.status)" local/running
expect_eq "/readyz consumer_lag names the sink" "$(health_get consumer_lag.0.sink_id)" local
http /healthz
expect_eq "/healthz 200" "$CODE" 200

expect_eq "snapshot rows counted as op r" \
    "$(metric cdcagent_events_total table=cdc.public.customers op=r)" 4
c0=$(metric cdcagent_events_total table=cdc.public.customers op=c)
[ "$c0" = absent ] && c0=0
expect_eq "the lag gauge is exported" "$(metric cdcagent_replication_lag_bytes | grep -c '^[0-9]')" 1
check "the lag-seconds gauge is exported" test "$(metric cdcagent_replication_lag_seconds)" != absent
expect_eq "cdcagent_ready 1" "$(metric cdcagent_ready)" 1

sql "INSERT INTO customers SELECT g, 'c' || g FROM generate_series(5, 11) g"
sql "INSERT INTO orders SELECT g, 1, g * 10 FROM generate_series(1, 3) g"
sql "UPDATE orders SET amount = amount + 1 WHERE id <= 2"
sql "DELETE FROM orders WHERE id = 3"
wait_lines "$EVENTS" $((4 + 7 + 3 + 2 + 1)) 30
sleep 1.5                   # the registry is updated about once a second
expect_eq "events_total customers/c grew by the 7 inserts" \
    "$(metric cdcagent_events_total table=cdc.public.customers op=c)" $((c0 + 7))
expect_eq "events_total orders/c" "$(metric cdcagent_events_total table=cdc.public.orders op=c)" 3
expect_eq "events_total orders/u" "$(metric cdcagent_events_total table=cdc.public.orders op=u)" 2
expect_eq "events_total orders/d" "$(metric cdcagent_events_total table=cdc.public.orders op=d)" 1
check "received bytes counted" test "$(metric cdcagent_received_bytes_total)" -gt 0

# consumer.lag: JSON log lines with the platform's event name and total_lag.
deadline=$((SECONDS + 10))
until grep -q '"event":"consumer.lag"' "$T/agent.log"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "no consumer.lag line in the agent's log after 10 s"
    sleep 0.2
done
check "consumer.lag lines are JSON with total_lag and per-sink lag" python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if "\"consumer.lag\"" in l]
for e in lines:
    assert e["level"] == "info" and e["logger"] == "lag", e
    assert isinstance(e["total_lag"], int) and e["total_lag"] >= 0, e
    assert [d["sink_id"] for d in e["lag"]] == ["local"], e
    assert "total_lag=%d" % e["total_lag"] in e["msg"], e
' "$T/agent.log"

# ---------------------------------------------------------------- PostgreSQL stopped
# A last batch just before the stop: whether or not it reaches the file before the
# server goes, it must be there after the restart.
sql "INSERT INTO customers SELECT g, 'c' || g FROM generate_series(12, 15) g"
pg_stop "$PGDIR"
note "PostgreSQL stopped"
t0=$SECONDS
wait_http /readyz 503 20
ok "/readyz 503 $((SECONDS - t0)) s after PostgreSQL stopped"
expect_eq "/readyz status error" "$(health_get status)" error
expect_eq "/readyz source status" "$(health_get source.status)" error
expect_eq "/readyz source state" "$(health_get source.state)" reconnecting
detail=$(health_get source.detail)
note "source detail: $detail"
check "the source detail names the connection error" python3 -c '
import sys
d = sys.argv[1].lower()
assert d and any(w in d for w in ("connect", "server", "terminat", "closed")), d' "$detail"
http /healthz
expect_eq "/healthz still 200 (alive, reconnecting)" "$CODE" 200
check "agent still running" agent_alive
expect_eq "cdcagent_ready 0" "$(metric cdcagent_ready)" 0
expect_eq "replication_state reconnecting" "$(metric cdcagent_replication_state state=reconnecting)" 1
check "a connection error counted" test "$(metric cdcagent_errors_total kind=conn)" -ge 1

# ---------------------------------------------------------------- back
pg_start "$PGDIR" "$PORT" || fail "could not restart PostgreSQL on port $PORT"
note "PostgreSQL restarted"
t0=$SECONDS
wait_http /readyz 200 40
ok "/readyz 200 again $((SECONDS - t0)) s after PostgreSQL restarted"
expect_eq "/readyz source state" "$(health_get source.state)" streaming
wait_slot_active cdc_slot 30
sql "INSERT INTO customers SELECT g, 'c' || g FROM generate_series(16, 20) g"
deadline=$((SECONDS + 30))
until [ "$(jl_eval "$EVENTS" 'len({e["key"]["id"] for e in data if get(e, "metadata.topic") == "cdc.public.customers"})')" = 20 ]; do
    [ "$SECONDS" -lt "$deadline" ] || break
    sleep 0.2
done
jl_check "customers 1..20 all arrived (none lost over the outage)" "$EVENTS" \
    'sorted({e["key"]["id"] for e in data if get(e, "metadata.topic") == "cdc.public.customers"}) == list(range(1, 21))'
sleep 1.5
check "events_total customers/c grew past the outage (>= $((c0 + 16)))" \
    test "$(metric cdcagent_events_total table=cdc.public.customers op=c)" -ge $((c0 + 16))
expect_eq "cdcagent_ready 1 again" "$(metric cdcagent_ready)" 1
agent_stop
note "duplicates re-sent over the outage: $(jl_eval "$EVENTS" 'len(data) - len({(get(e, "metadata.topic"), json.dumps(e["key"]), get(e, "value.op")) for e in data})')"
done_testing
