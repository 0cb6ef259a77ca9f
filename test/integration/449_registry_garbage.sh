#!/usr/bin/env bash
# 449: a Schema Registry that answers with garbage.  A small HTTP server written here (Python
# standard library) stands between the agent and the registry double
# (test/doubles/schema_registry.py) and answers the endpoints the agent uses in one mode at a
# time (read from $T/sr_mode at each request):
#   nonjson      200 with a body that is not JSON, on every endpoint
#   html         200 with an HTML page (what a misrouted proxy returns), on every endpoint
#   id_string    GET .../versions/latest says "no such subject", POST .../versions answers
#   id_negative  {"id": "abc"}, {"id": -1} or {"id": 1e99}
#   id_huge
#   truncated    200 with a Content-Length larger than the body, then the connection closes
#   flaky N      500 for the first N requests, then the double's answers
# One row is inserted once; the agent (transport_mode kafka, serialization avro, real Kafka
# broker) is run against each mode in turn, so the same pending change meets every kind of
# garbage.  For the garbage modes: the agent does not crash; it logs what was wrong and the
# registry URL without the password; nothing reaches the topic; the slot's
# confirmed_flush_lsn stays before the change.  A 200 answer that is garbage is final: the
# agent exits 1.  A truncated body is a failed transfer: the agent keeps retrying with backoff
# and stays up.  With the flaky registry the agent retries and the record arrives once.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/kafka.sh"
. "$CDC_SRC/test/lib/py.sh"

KDIR=$T/kafka
trap '_rc=$?; kafka_kill "$KDIR" >/dev/null 2>&1; (exit $_rc); _cleanup' EXIT
need_agent
py_env || fail "py_env (confluent-kafka[avro] from PyPI)"

KPORT=$(free_port)
kafka_start "$KDIR" "$KPORT"
B=127.0.0.1:$KPORT
DPORT=$(free_port)
bg python3 "$CDC_SRC/test/doubles/schema_registry.py" --port "$DPORT"
GPORT=$(free_port)
cat >"$T/garbage_sr.py" <<'PY'
import http.server, json, os, sys, threading, urllib.error, urllib.request
port, upstream, mode_file, log_file = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
lock = threading.Lock()
state = {"mode": None, "n": 0}
HTML = (b"<!DOCTYPE html>\n<html><head><title>Welcome</title></head>\n"
        b"<body><h1>It works!</h1><p>This is the default page.</p></body></html>\n")

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def send(self, status, body, ctype="application/vnd.schemaregistry.v1+json", length=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        if length is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        if length is not None:
            self.close_connection = True
        with open(log_file, "a") as f:
            f.write("%s %s %s %d\n" % (state["mode"], self.command, self.path, status))
    def forward(self, body):
        req = urllib.request.Request(upstream + self.path, data=body, method=self.command,
                                     headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                self.send(r.status, r.read())
        except urllib.error.HTTPError as e:
            self.send(e.code, e.read())
    def handle_one(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        with open(mode_file) as f:
            words = f.read().split()
        with lock:
            if words != state["mode"]:
                state["mode"], state["n"] = words, 0
            state["n"] += 1
            count = state["n"]
        mode = words[0]
        p = self.path
        register = self.command == "POST" and p.startswith("/subjects/") and p.endswith("/versions")
        latest = self.command == "GET" and p.endswith("/versions/latest")
        if mode == "ok":
            return self.forward(body)
        if mode == "nonjson":
            return self.send(200, b"id=1 version=1 OK\n", "text/plain")
        if mode == "html":
            return self.send(200, HTML, "text/html")
        if mode == "truncated":
            return self.send(200, b'{"id": 1', length=1000)
        if mode == "flaky":
            if count <= int(words[1]):
                return self.send(500, b'{"error_code": 50001, "message": "store error"}')
            return self.forward(body)
        if mode.startswith("id_"):
            if latest:
                return self.send(404, b'{"error_code": 40401, "message": "Subject not found."}')
            if register:
                return self.send(200, {"id_string": b'{"id": "abc"}', "id_negative": b'{"id": -1}',
                                       "id_huge": b'{"id": 1e99}'}[mode])
            return self.forward(body)
        self.send(500, b"unknown mode")
    do_GET = do_POST = do_PUT = do_DELETE = handle_one

http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
echo nonjson >"$T/sr_mode"
bg python3 "$T/garbage_sr.py" "$GPORT" "http://127.0.0.1:$DPORT" "$T/sr_mode" "$T/sr_requests.log"
for _ in $(seq 50); do
    curl -sf "http://127.0.0.1:$DPORT/subjects" >/dev/null && curl -s "http://127.0.0.1:$GPORT/" >/dev/null && break
    sleep 0.1
done
# The URL carries a password: no log line may show it.
SECRET=sr-pass-449
SR_SHOWN="http://***@127.0.0.1:$GPORT"
ok "kafka on $B, registry double on $DPORT, garbage registry on $GPORT"

pg_up
sql "CREATE TABLE customers (id int PRIMARY KEY, name text)"
P_TABLES=public.customers P_SNAPSHOT=never write_pipeline
cat >"$T/platform.yaml" <<YAML
transport_mode: kafka
health_enabled: false
kafka:
  bootstrap_servers: $B
  schema_registry_url: http://sr-user:$SECRET@127.0.0.1:$GPORT
retry:
  max_attempts: 5
  initial_wait_seconds: 0.2
  max_wait_seconds: 1
agent:
  status_interval_seconds: 1
YAML
TOPIC=cdc.public.customers

# records [--decode]: how many records the topic holds (0 when it does not exist yet); with
# --decode, each record as JSON, read with the platform's Avro deserializer from the double.
records() {
    "$PY" - "$B" "http://127.0.0.1:$DPORT" "$TOPIC" "${1:-}" <<'PY'
import json, sys, time
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext
b, sr, topic, decode = sys.argv[1:5]
c = Consumer({"bootstrap.servers": b, "group.id": "it449-%f" % time.time(),
              "enable.auto.commit": False})
md = c.list_topics(timeout=10)
if topic not in md.topics or md.topics[topic].error is not None:
    print(0)
    sys.exit(0)
parts = [TopicPartition(topic, p, 0) for p in md.topics[topic].partitions]
want = sum(c.get_watermark_offsets(tp, timeout=10)[1] for tp in parts)
if decode != "--decode":
    print(want)
    sys.exit(0)
d = AvroDeserializer(SchemaRegistryClient({"url": sr}))
c.assign(parts)
out, deadline = [], time.time() + 30
while len(out) < want and time.time() < deadline:
    m = c.poll(0.5)
    if m is None or m.error():
        continue
    out.append({"key": d(m.key(), SerializationContext(topic, MessageField.KEY)),
                "value": d(m.value(), SerializationContext(topic, MessageField.VALUE))})
c.close()
for r in out:
    print(json.dumps(r))
PY
}
confirmed() { lsn_num "$(slot_field cdc_slot confirmed_flush_lsn)"; }
log_of_run() { awk -v r="=== run $1 " 'index($0, r) == 1 { on = 1; next } /^=== run / { on = 0 } on' "$T/agent.log"; }

# The first run creates the slot; the change is made while it streams.
agent_start
# (pg_current_wal_lsn() is the write position, which trails with synchronous_commit off.)
CHANGE=$(lsn_num "$(sql_su "SELECT pg_current_wal_insert_lsn()")")   # where the change starts
sql "INSERT INTO customers VALUES (1, 'Alice')"

# garbage_run MODE NEEDLE: the run for MODE (already started) exits 1 within 60 s; its log
# names the registry without the password and says NEEDLE; nothing published or confirmed.
garbage_run() {
    local mode=$1 needle=$2 log
    agent_wait_exit 60
    log=$(log_of_run "$AGENT_RUNS")
    note "$mode: exit $AGENT_RC: $(printf '%s' "$log" | grep -v '"level":"info"' | tail -n 2 | cut -c1-400)"
    expect_eq "$mode: the agent exits 1" "$AGENT_RC" 1
    expect_contains "$mode: the error names the registry (password hidden)" "$log" "registry at $SR_SHOWN"
    expect_contains "$mode: the error says what was wrong" "$log" "$needle"
    expect_contains "$mode: the error names the subject" "$log" "subject $TOPIC-"
    case "$log" in *"$SECRET"*) fail "$mode: the password is in the log" ;; esac
    ok "$mode: the password appears nowhere in the log"
    expect_eq "$mode: no record in $TOPIC" "$(records)" 0
    check "$mode: confirmed_flush_lsn stays before the change" test "$(confirmed)" -le "$CHANGE"
}

garbage_run nonjson 'answer is not JSON, so no \"id\" (an integer from 0 to 2^31-1); the answer starts \"id=1 version=1 OK'
start_mode() {
    echo "$1" >"$T/sr_mode"
    AGENT_NO_WAIT=1 agent_start
}
start_mode html
garbage_run html 'answer is not JSON, so no \"id\" (an integer from 0 to 2^31-1); the answer starts \"<!DOCTYPE html> <html>'
start_mode id_string
garbage_run id_string 'answer has no valid \"id\" (an integer from 0 to 2^31-1); the answer starts \"{\"id\": \"abc\"}'
start_mode id_negative
garbage_run id_negative 'answer has no valid \"id\"'
start_mode id_huge
garbage_run id_huge 'answer has no valid \"id\"'

note "truncated body: a failed transfer, retried with backoff"
start_mode truncated
deadline=$((SECONDS + 60))
until [ "$(log_of_run "$AGENT_RUNS" | grep -c 'retrying')" -ge 2 ]; do
    agent_alive || { agent_wait_exit 1; fail "truncated: the agent exited (status $AGENT_RC)"; }
    [ "$SECONDS" -lt "$deadline" ] || fail "truncated: no second 'retrying' within 60 s"
    sleep 0.5
done
log=$(log_of_run "$AGENT_RUNS")
check "truncated: the agent is still running" agent_alive
expect_contains "truncated: the warning names the registry and the cut-off transfer" "$log" \
    "schema registry at $SR_SHOWN: GET /subjects/$TOPIC-key/versions/latest: transfer closed with 992 bytes remaining to read"
expect_contains "truncated: each request is tried 5 times" "$log" "(attempt 4 of 5)"
case "$log" in *"$SECRET"*) fail "truncated: the password is in the log" ;; esac
expect_eq "truncated: no record in $TOPIC" "$(records)" 0
check "truncated: confirmed_flush_lsn stays before the change" test "$(confirmed)" -le "$CHANGE"
# SIGTERM while the router offers the event again and again: the stop flag cuts the wait.
kill -TERM "$AGENT_PID"
for ((i = 0; i < 300; i++)); do agent_alive || break; sleep 0.1; done
check "truncated: SIGTERM stops the agent while it retries the registry (within 30 s)" test "$i" -lt 300
agent_wait_exit 5
expect_eq "truncated: exit status 0 after SIGTERM" "$AGENT_RC" 0
note "stopped $((i / 10)) s after SIGTERM"
check "truncated: still nothing confirmed past the change" test "$(confirmed)" -le "$CHANGE"

note "500 three times, then correct answers: retried, the record arrives once"
: >"$T/sr_requests.log"
start_mode "flaky 3"
deadline=$((SECONDS + 60))
until [ "$(records)" -ge 1 ]; do
    agent_alive || { agent_wait_exit 1; fail "flaky: the agent exited (status $AGENT_RC)"; }
    [ "$SECONDS" -lt "$deadline" ] || fail "flaky: no record within 60 s"
    sleep 0.5
done
deadline=$((SECONDS + 30))
until [ "$(confirmed)" -gt "$CHANGE" ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "flaky: confirmed_flush_lsn not past the change after 30 s"
    sleep 0.5
done
ok "flaky: confirmed_flush_lsn moved past the change"
sleep 2
expect_eq "flaky: exactly one record in $TOPIC" "$(records)" 1
expect_eq "flaky: the registry answered 500 three times" "$(grep -c ' 500$' "$T/sr_requests.log")" 3
log=$(log_of_run "$AGENT_RUNS")
expect_contains "flaky: the 500s were logged as retried" "$log" "answered 500 (attempt 3 of 5)"
check "flaky: the agent is still running" agent_alive
agent_stop
expect_eq "flaky: the key subject is registered in the double" \
    "$(curl -sf "http://127.0.0.1:$DPORT/subjects/$TOPIC-key/versions")" "[1]"
records --decode >"$T/records.jsonl"
jl_check "flaky: the record is the insert of id 1, as the platform's Avro consumer reads it" \
    "$T/records.jsonl" 'len(evs) == 1 and evs[0]["key"] == {"id": 1} and evs[0]["value"]["op"] == "c" and evs[0]["value"]["after"] == {"id": 1, "name": "Alice"}'
case "$(cat "$T/agent.log")" in *"$SECRET"*) fail "the password is in the agent's log" ;; esac
ok "the password appears nowhere in the agent's log"
done_testing
