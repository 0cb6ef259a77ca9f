#!/usr/bin/env bash
# 538: `cdcagent run` (transport_mode kinesis against moto, 2 shards per stream, JSON values
# with schemas) is killed with SIGKILL three times at random moments while a continuous load
# of inserts, multi-row transactions, updates and deletes (3,000 steps) runs into two tables;
# it is restarted each time and, on each restart, reads the shards forward from the DynamoDB
# checkpoint table (transports/kinesis/kinesis_resume.c) to skip what is already there.
# At the end, read back with test/lib/aws_read.py: every change is in its stream exactly
# once (0 lost, 0 duplicated, by the identity source.lsn + txId + op, and per key the
# expected ops c, u..., d, tombstone in shard order), replaying the streams gives SELECT,
# the transaction stream (provide_transaction_metadata) holds one BEGIN and one END per
# transaction, none twice, the checkpoint table holds an item per shard, and the slot catches
# up.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/moto.sh"

MDIR=$T/moto
STEPS=${IT_STEPS:-3000}
LOAD=$CDC_SRC/test/lib/kafka_load.py
trap '_rc=$?; moto_kill "$MDIR" >/dev/null 2>&1; set +e; (exit $_rc); _cleanup' EXIT

pg_up
sql "CREATE TABLE items (id int PRIMARY KEY, batch int, payload text)" \
    "CREATE TABLE accounts (id int PRIMARY KEY, balance int)"
moto_start "$MDIR" "$(free_port)"
ok "moto $MOTO_VERSION"
aws() { "$MOTO_PY" "$MOTO_AWS_READ" "$@"; }

P_TABLES="public.items, public.accounts" P_SNAPSHOT=never \
    P_SOURCE_EXTRA="provide_transaction_metadata: true" write_pipeline
cat >"$T/platform.yaml" <<YAML
transport_mode: kinesis
health_enabled: false
kinesis:
  region: eu-west-3
  shard_count: 2
  json_schemas_enable: true
  checkpoint_table_name: cdc-kinesis-checkpoints
wal_reader:
  slot_name: cdc_slot
  publication_name: cdc_publication
  batch_size: 100
agent:
  status_interval_seconds: 1
  state_dir: $T
YAML
NREC=$(python3 "$LOAD" gen "$STEPS" 538 "$T")
note "load: $STEPS steps, $NREC records expected"
agent_start

bg load_file "$T/load.1.sql"

read_all() {
    aws read cdc-public-items >"$T/items.jsonl"
    aws read cdc-public-accounts >"$T/accounts.jsonl"
    cat "$T/items.jsonl" "$T/accounts.jsonl" >"$T/all.jsonl"
}
count_records() { read_all >/dev/null 2>&1 || true; line_count "$T/all.jsonl"; }


for round in 1 2 3; do
    sleep "$(python3 -c "import random; print(round(random.uniform(1.0, 2.5), 2))")"
    grep -q '^loader exit' "$T/loader.log" 2>/dev/null && note "round $round: the load has already ended"
    agent_alive || fail "round $round: the agent died by itself (see agent.log)"
    restart_after_kill
    note "round $round: killed and restarted with $(count_records) records in the streams"
done
expect_contains "restarts read the streams back" "$(cat "$T/agent.log")" "resume:"

deadline=$((SECONDS + 90))
until grep -q '^loader exit' "$T/loader.log" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || fail "the loader did not finish in 90 s"
    sleep 0.2
done
expect_eq "the loader succeeded" "$(grep '^loader exit' "$T/loader.log")" "loader exit 0"
END_LSN=$(sql_su "SELECT pg_current_wal_lsn()")
deadline=$((SECONDS + 60))
while [ "$(count_records)" -lt "$NREC" ]; do
    agent_alive || fail "the agent died while catching up (see agent.log)"
    [ "$SECONDS" -lt "$deadline" ] || break
    sleep 0.5
done
deadline=$((SECONDS + 30))
until [ "$(sql_su "SELECT confirmed_flush_lsn >= '$END_LSN' FROM pg_replication_slots
                   WHERE slot_name = 'cdc_slot'")" = t ]; do
    [ "$SECONDS" -lt "$deadline" ] ||
        fail "slot confirmed_flush_lsn $(slot_field cdc_slot confirmed_flush_lsn) < $END_LSN after 30 s"
    sleep 0.2
done
ok "the slot confirmed everything up to the end of the load ($END_LSN)"
sleep 1                     # anything duplicated would arrive now
agent_stop
note "agent runs: $AGENT_RUNS"
read_all
sql_su "SELECT json_build_object(
          'items', (SELECT coalesce(json_agg(t), '[]') FROM items t),
          'accounts', (SELECT coalesce(json_agg(a), '[]') FROM accounts a))" >"$T/source.json"

# Normalise: per stream and shard in sequence order; identity (table, lsn, txId, op); the
# tombstone takes its delete's identity with op T.
python3 - "$T/all.jsonl" >"$T/records.jsonl" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
recs.sort(key=lambda r: (r["stream"], r["shard"], int(r["seq"])))
last_d = {}
for r in recs:
    table = r["stream"].rsplit("-", 1)[1]
    k = json.loads(r["key"])
    k = k.get("payload", k)
    if not r["data"]:
        op, after, ident = "T", None, None
        d = last_d.pop((table, r["key"]), None)
        ident = [table, d[1], d[2], "T"] if d else [table, None, None, "T?"]
    else:
        v = json.loads(r["data"])
        v = v.get("payload", v)
        op, after = v["op"], v["after"]
        ident = [table, v["source"]["lsn"], v["source"]["txId"], op]
        if op == "d":
            last_d[(table, r["key"])] = ident
    print(json.dumps({"table": table, "id": k["id"], "op": op, "after": after,
                      "shard": r["shard"], "seq": int(r["seq"]), "ident": ident}))
PY
expect_eq "record count (0 lost, 0 duplicated)" "$(line_count "$T/records.jsonl")" "$NREC"
check "every change exactly once; per key the expected ops in shard order, one shard; replay equals SELECT" \
    python3 - "$T/expected.json" "$T/source.json" "$T/records.jsonl" <<'PY'
import json, sys
exp = json.load(open(sys.argv[1]))
src = json.load(open(sys.argv[2]))
recs = [json.loads(l) for l in open(sys.argv[3])]
errors = []
ids = {}
for r in recs:
    ids.setdefault(json.dumps(r["ident"]), []).append(r)
dups = [k for k, v in ids.items() if len(v) > 1]
if dups:
    errors.append("%d identities more than once: %s" % (len(dups), dups[:5]))
got, shards = {}, {}
for r in recs:       # already in (stream, shard, seq) order
    got.setdefault("%s:%d" % (r["table"], r["id"]), []).append(r["op"])
    shards.setdefault("%s:%d" % (r["table"], r["id"]), set()).add(r["shard"])
missing = [k for k in exp if k not in got]
extra = [k for k in got if k not in exp]
wrong = [(k, got[k], exp[k]) for k in exp if k in got and got[k] != exp[k]]
if missing or extra or wrong:
    errors.append("ops per key: %d keys missing %s, %d unexpected %s, %d wrong %s"
                  % (len(missing), missing[:5], len(extra), extra[:5], len(wrong), wrong[:5]))
multi = [k for k, v in shards.items() if len(v) > 1]
if multi:
    errors.append("%d keys in more than one shard: %s" % (len(multi), multi[:5]))
for table in ("items", "accounts"):
    state = {}
    for r in recs:
        if r["table"] != table:
            continue
        if r["op"] in ("d", "T"):
            state.pop(r["id"], None)
        else:
            state[r["id"]] = r["after"]
    want = {row["id"]: row for row in src[table]}
    if state != want:
        diff = [k for k in set(state) | set(want) if state.get(k) != want.get(k)]
        errors.append("replay of %s differs from SELECT on %d keys: %s" % (table, len(diff), diff[:5]))
for e in errors:
    print("# " + e)
sys.exit(1 if errors else 0)
PY
aws read cdc-transaction >"$T/tx.jsonl"
check "transaction stream: one BEGIN and one END per transaction, none twice" \
    python3 - "$T/tx.jsonl" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
seen, by = {}, {}
for r in recs:
    v = json.loads(r["data"])
    v = v.get("payload", v)
    seen[(v["status"], v["id"])] = seen.get((v["status"], v["id"]), 0) + 1
    # ids are "xid:lsn", the LSN of BEGIN or END: pair them by xid
    by.setdefault(v["id"].split(":")[0], []).append(v["status"])
dups = [k for k, n in seen.items() if n > 1]
bad = [k for k, v in by.items() if sorted(v) != ["BEGIN", "END"]]
print("# %d transactions, %d records, %d twice %s, %d not BEGIN+END %s"
      % (len(by), len(recs), len(dups), dups[:3], len(bad), bad[:3]))
sys.exit(1 if dups or bad or not recs else 0)
PY
aws scan cdc-kinesis-checkpoints >"$T/ckpt.jsonl"
expect_eq "the checkpoint table holds an item per shard (3 streams x 2 shards)" \
    "$(python3 -c 'import json,sys; print(len({(json.loads(l)["pk"], json.loads(l)["shard"]) for l in sys.stdin}))' <"$T/ckpt.jsonl")" 6
done_testing
