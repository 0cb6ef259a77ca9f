#!/usr/bin/env bash
# `cdcagent run` (transport_mode kafka, serialization avro, the Schema Registry double)
# under a continuous load of inserts, multi-row transactions, updates and deletes into two
# tables, through two outages:
#   1. the broker is stopped while the database keeps being written: the agent waits (it
#      stays alive, the slot's confirmed_flush_lsn does not move), then the broker is
#      restarted and the slot advances again;
#   2. the registry double is stopped and an ALTER TABLE forces a new value schema: the
#      agent waits (alive, the slot stays before the ALTER), the registry is restarted with
#      its previous subjects and ids (as a real registry keeps them in _schemas), and the
#      agent registers the new version and goes on.
# At the end, read back with confluent-kafka's AvroDeserializer: every change exactly once,
# per key the expected ops in commit order, positions strictly increasing per partition,
# partitions = murmur2(key bytes) % 3, and replaying the topics gives the source tables.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/kafka.sh"
. "$CDC_SRC/test/lib/py.sh"

KDIR=$T/kafka
STEPS=${IT_STEPS:-3000}
LOAD=$CDC_SRC/test/lib/kafka_load.py
SR_PID=
stop_registry() {
    if [ -n "$SR_PID" ]; then kill -TERM "$SR_PID" 2>/dev/null || true; wait "$SR_PID" 2>/dev/null || true; fi
    SR_PID=
}
trap '_rc=$?; stop_registry; kafka_kill "$KDIR" >/dev/null 2>&1; set +e; (exit $_rc); _cleanup' EXIT
py_env || fail "py_env (confluent-kafka[avro] from PyPI)"

KPORT=$(free_port)
kafka_start "$KDIR" "$KPORT"
B=127.0.0.1:$KPORT
SRPORT=$(free_port)
SR=http://127.0.0.1:$SRPORT
start_registry() {
    python3 "$CDC_SRC/test/doubles/schema_registry.py" --port "$SRPORT" >>"$T/registry.log" 2>&1 &
    SR_PID=$!
    for _ in $(seq 100); do curl -sf "$SR/subjects" >/dev/null && return 0; sleep 0.1; done
    fail "registry double not answering on $SR"
}
start_registry
ok "kafka on $B, registry double on $SR"

pg_up
sql "CREATE TABLE items (id int PRIMARY KEY, batch int, payload text)" \
    "CREATE TABLE accounts (id int PRIMARY KEY, balance int)"
P_TABLES="public.items, public.accounts" P_SNAPSHOT=never write_pipeline
cat >"$T/platform.yaml" <<YAML
transport_mode: kafka
health_enabled: false
kafka:
  bootstrap_servers: $B
  serialization: avro
  schema_registry_url: $SR
  topic_num_partitions: 3
agent:
  status_interval_seconds: 1
YAML
NREC=$(python3 "$LOAD" gen "$STEPS" 245 "$T" 3)
note "load: $STEPS steps in 3 chunks, $NREC records expected"
agent_start

# load N: chunk N of the load, in the background; load_wait N: until it has ended, rc 0.
load() {
    (
        rc=0
        PGPASSWORD=cdc_password "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 \
            -p "$PORT" -U cdc_user -d cdc_demo -f "$T/load.$1.sql" >/dev/null 2>>"$T/loader.log" || rc=$?
        echo "loader $1 exit $rc" >>"$T/loader.log"
    ) &
    BG_PIDS+=($!)
}
load_wait() {
    local deadline=$((SECONDS + 60))
    until grep -q "^loader $1 exit" "$T/loader.log" 2>/dev/null; do
        [ "$SECONDS" -lt "$deadline" ] || fail "load chunk $1 did not end in 60 s"
        sleep 0.2
    done
    expect_eq "load chunk $1 succeeded" "$(grep "^loader $1 exit" "$T/loader.log")" "loader $1 exit 0"
}
confirmed() { slot_field cdc_slot confirmed_flush_lsn; }
lsn_ge() { [ "$(sql_su "SELECT '$1'::pg_lsn >= '$2'::pg_lsn")" = t ]; }
# wait_confirmed LSN TIMEOUT: until the slot has confirmed LSN.
wait_confirmed() {
    local deadline=$((SECONDS + $2))
    until lsn_ge "$(confirmed)" "$1"; do
        agent_alive || fail "the agent exited (see agent.log)"
        [ "$SECONDS" -lt "$deadline" ] || fail "slot confirmed_flush_lsn $(confirmed) < $1 after $2 s"
        sleep 0.2
    done
}

# ---- 1. the broker goes away under load
: >"$T/loader.log"
load 1
sleep 1.5
kafka_stop "$KDIR"
ok "broker stopped mid-stream"
sleep 2                                 # one status interval for what was acked before
L1=$(confirmed)
note "confirmed_flush_lsn with the broker down: $L1"
down_until=$((SECONDS + 6))
while [ "$SECONDS" -lt "$down_until" ]; do
    agent_alive || fail "the agent exited while the broker was down"
    c=$(confirmed); echo "$(date +%T.%N) $c" >>"$T/confirmed.log"
    [ "$c" = "$L1" ] || fail "confirmed_flush_lsn moved from $L1 to $c with the broker down"
    sleep 0.5
done
load_wait 1
W1=$(sql_su "SELECT pg_current_wal_lsn()")
check "the database was written while the broker was down ($W1 > $L1)" \
    [ "$(sql_su "SELECT '$W1'::pg_lsn > '$L1'::pg_lsn")" = t ]
check "the agent is still running" agent_alive
expect_eq "the slot still stands at $L1" "$(confirmed)" "$L1"
kafka_restart "$KDIR"
ok "broker restarted"
wait_confirmed "$W1" 60
ok "the slot advanced to the end of chunk 1 after the restart ($(confirmed))"

# ---- 2. the registry goes away while an ALTER TABLE needs a new registration
load 2
sleep 1
"$PY" - "$SR" save >"$T/registry.state" <<'PY'
import json, sys, urllib.request
sr = sys.argv[1]
get = lambda p: json.load(urllib.request.urlopen(sr + p))
out = []
for s in get("/subjects"):
    for v in get(f"/subjects/{s}/versions"):
        r = get(f"/subjects/{s}/versions/{v}")
        out.append({"subject": s, "version": v, "id": r["id"], "schema": r["schema"]})
print(json.dumps(sorted(out, key=lambda r: (r["id"], r["subject"], r["version"]))))
PY
stop_registry
ok "registry stopped with $("$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))' <"$T/registry.state") registered versions"
sql "ALTER TABLE items ADD COLUMN tier int"
LA=$(sql_su "SELECT pg_current_wal_lsn()")
load_wait 2
sleep 3
check "the agent is still running with the registry down" agent_alive
check "the slot stays before the ALTER TABLE ($(confirmed) < $LA)" \
    [ "$(sql_su "SELECT confirmed_flush_lsn < '$LA'::pg_lsn FROM pg_replication_slots WHERE slot_name = 'cdc_slot'")" = t ]
expect_contains "the agent says it waits for the registry" "$(cat "$T/agent.log")" "schema registry at $SR"
# The double keeps nothing across a restart; a real registry keeps its subjects and ids in
# _schemas.  Restore them before the agent can register anything: it is frozen (SIGSTOP)
# from just before the double starts until the old versions are back under their ids.
kill -STOP "$AGENT_PID"
start_registry
"$PY" - "$SR" "$T/registry.state" <<'PY' || { kill -CONT "$AGENT_PID"; fail "restoring the registry's subjects"; }
import json, sys, urllib.request
sr = sys.argv[1]
for r in json.load(open(sys.argv[2])):
    req = urllib.request.Request(f"{sr}/subjects/{r['subject']}/versions", method="POST",
                                 data=json.dumps({"schema": r["schema"]}).encode(),
                                 headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})
    got = json.load(urllib.request.urlopen(req))["id"]
    assert got == r["id"], f"{r['subject']} v{r['version']}: id {got}, was {r['id']}"
PY
kill -CONT "$AGENT_PID"
ok "registry restarted with its subjects and ids"
load 3
load_wait 3
END=$(sql_su "SELECT pg_current_wal_lsn()")
wait_confirmed "$END" 60
ok "the slot confirmed everything up to the end of the load ($END)"
expect_eq "ALTER TABLE registered a second items value version" \
    "$(curl -sf "$SR/subjects/cdc.public.items-value/versions" | tr -d " ")" "[1,2]"

# ---- read back with the platform's Avro consumer stack
"$PY" - "$B" "$SR" "$NREC" >"$T/records.jsonl" 2>"$T/consume.err" <<'PY' || fail "consumer: $(tail -n 5 "$T/consume.err")"
import json, sys, time
from decimal import Decimal
from confluent_kafka import Consumer
from confluent_kafka.serialization import SerializationContext, MessageField
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
b, sr, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
de = AvroDeserializer(SchemaRegistryClient({"url": sr}))
c = Consumer({"bootstrap.servers": b, "group.id": "it245-%f" % time.time(),
              "auto.offset.reset": "earliest", "enable.auto.commit": False})
c.subscribe(["cdc.public.items", "cdc.public.accounts"])
out, deadline, extra = [], time.time() + 60, None
while time.time() < deadline and (extra is None or time.time() < extra):
    m = c.poll(0.5)
    if m is None or m.error():
        continue
    t = m.topic()
    key = de(m.key(), SerializationContext(t, MessageField.KEY))
    val = de(m.value(), SerializationContext(t, MessageField.VALUE)) if m.value() is not None else None
    out.append({"topic": t, "partition": m.partition(), "offset": m.offset(),
                "table": t.rsplit(".", 1)[1], "id": key["id"],
                "op": val["op"] if val else "T", "after": val["after"] if val else None,
                "headers": {k: v.decode() for k, v in (m.headers() or [])},
                "keyhex": m.key().hex()})
    if len(out) >= want and extra is None:
        extra = time.time() + 2        # anything duplicated would arrive now
c.close()
for r in out:
    print(json.dumps(r, default=lambda o: str(o) if isinstance(o, Decimal) else repr(o)))
PY
expect_eq "record count (AvroDeserializer)" "$(line_count "$T/records.jsonl")" "$NREC"
sql_su "SELECT json_build_object(
          'items', (SELECT coalesce(json_agg(t), '[]') FROM (SELECT id, batch, payload FROM items) t),
          'accounts', (SELECT coalesce(json_agg(a), '[]') FROM accounts a))" >"$T/source.json"
check "per key the expected ops exactly once, in commit order; partitions; replay equals the source" \
    python3 "$LOAD" check "$T/expected.json" "$T/source.json" 3 <"$T/records.jsonl"
jl_check "items records after the ALTER TABLE carry tier" "$T/records.jsonl" \
    'any(e["table"] == "items" and e["after"] and "tier" in e["after"] for e in evs) and any(e["table"] == "items" and e["after"] and "tier" not in e["after"] for e in evs)'
agent_stop
kafka_stop "$KDIR"
done_testing
