#!/usr/bin/env bash
# 838: every destination applies the column settings the same way (issue 24).  One table, one
# filtered and masked configuration (secret excluded, ssn masked with 5 characters, email
# hashed v2 SHA-256, bio truncated to 3 characters; a row filter keeps region 'eu'), three runs
# from the same source, each with its own slot and publication:
#   Pub/Sub (the double, test/lib/pubsub.sh), Kinesis (moto, test/lib/moto.sh), and an Iceberg
#   sink in upsert mode (SQLite catalog, read back with pyiceberg) beside a jsonl sink and a
#   PostgreSQL replica sink.
# Each destination's final row per key (the last after-image for the message transports, the
# table's rows for Iceberg) is compared with the expected rows computed here from psql's rows
# with Python's hashlib (independent of the agent): secret absent everywhere, the masked,
# hashed and truncated values identical, the rows outside the filter absent.  Then
# `cdcagent verify` passes on the Iceberg and the replica sink (it skips the masked columns
# and reads the source through the row filter) and, as a control, finds a difference once a
# name changed at the source while the agent was stopped.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/pubsub.sh"
. "$CDC_SRC/test/lib/pubsub_it.sh"
. "$CDC_SRC/test/lib/moto.sh"
. "$CDC_SRC/test/lib/iceberg.sh"

READ=$CDC_SRC/test/lib/pubsub_read.py
PS=$T/pubsub
PROJECT=test-project
MDIR=$T/moto
SALT=CzQMA0cB5K
trap '_rc=$?; moto_kill "$MDIR" >/dev/null 2>&1; set +e; (exit $_rc); _cleanup' EXIT
iceberg_install || fail "could not install pyiceberg $ICEBERG_VERSION (see above)"

pg_up
sql "CREATE TABLE customers (id int PRIMARY KEY, region text NOT NULL, name text, secret text,
                             ssn text, email text, bio text)" \
    "ALTER TABLE customers REPLICA IDENTITY FULL" \
    "INSERT INTO customers VALUES (1, 'eu', 'Alice', 's-1', '111-22', 'alice@example.com', 'Zoë likes tea'),
                                  (2, 'us', 'Bob', 's-2', '222-33', 'bob@example.com', 'bob'),
                                  (3, 'eu', 'Carol', 's-3', NULL, NULL, NULL)"
FILTERS="column_exclude_list: \"public\\\\.customers\\\\.secret\"
column_masks:
  column.mask.with.5.chars: public.customers.ssn
  column.mask.hash.v2.SHA-256.with.salt.$SALT: public.customers.email
  column.truncate.to.3.chars: public.customers.bio
row_filters:
  public.customers: \"region = 'eu'\""
# the same changes after each run's snapshot: undone at the end of each run
workload() {
    sql "INSERT INTO customers VALUES (4, 'eu', 'Dan', 's-4', '444', 'dan@example.com', 'hello world')" \
        "UPDATE customers SET email = 'alice2@example.com', secret = 's-1b', bio = 'ab' WHERE id = 1" \
        "UPDATE customers SET name = 'Bobby' WHERE id = 2" \
        "DELETE FROM customers WHERE id = 3" \
        "INSERT INTO customers VALUES (5, 'us', 'Eve', 's-5', '555', 'eve@example.com', 'x')"
}
undo() {
    sql "DELETE FROM customers WHERE id IN (4, 5)" \
        "UPDATE customers SET email = 'alice@example.com', secret = 's-1', bio = 'Zoë likes tea' WHERE id = 1" \
        "UPDATE customers SET name = 'Bob' WHERE id = 2" \
        "INSERT INTO customers VALUES (3, 'eu', 'Carol', 's-3', NULL, NULL, NULL)"
}
# expected final rows, from psql's rows after the workload and hashlib
expected() {
    sql_su "COPY (SELECT id, region, name, ssn, email, bio FROM customers WHERE region = 'eu'
                  ORDER BY id) TO STDOUT WITH (FORMAT csv)" | python3 -c '
import csv, hashlib, json, sys
salt = sys.argv[1].encode()
def trunc(s, n):
    u = s.encode("utf-16-le", "surrogatepass")
    return u[:2 * n].decode("utf-16-le", "surrogatepass")
for r in csv.reader(sys.stdin):
    i, region, name, ssn, email, bio = [None if v == "" else v for v in r]
    print(json.dumps({"id": int(i), "region": region, "name": name, "ssn": "*****",
                      "email": hashlib.sha256(salt + email.encode()).hexdigest() if email else None,
                      "bio": trunc(bio, 3) if bio is not None else None}, sort_keys=True))' "$SALT"
}
# final_rows FORMAT FILE: the last after-image per key, one sorted JSON line a row
final_rows() {
    python3 - "$1" "$2" <<'PY'
import json, sys
fmt, path = sys.argv[1], sys.argv[2]
last = {}
for line in open(path):
    r = json.loads(line)
    if fmt == "iceberg":
        last[r["id"]] = {k: v for k, v in r.items() if not k.startswith("_cdc")}
        continue
    if not r["data"]:
        continue        # a tombstone
    v = json.loads(r["data"])
    p = v.get("payload", v)
    key = (p["after"] or p["before"])["id"]
    last[key] = p["after"]
for k in sorted(last):
    if last[k] is not None:
        print(json.dumps(last[k], sort_keys=True))
PY
}

ps_read()  { python3 "$READ" pull "$PUBSUB_EMULATOR_HOST" "$PROJECT" "$T/ps.jsonl" \
                 cdc-public-customers-cdc-platform >/dev/null; }
kin_read() { "$MOTO_PY" "$MOTO_AWS_READ" read cdc-public-customers >"$T/kin.jsonl" 2>/dev/null; }
# check_transport NAME FILE READER: the workload through the running agent; READER refreshes
# FILE until it holds the 6 messages (snapshot r1 r3; c4, u1, d3 + tombstone: the filter drops
# 2 and 5); then the agent stops, the workload is undone, and FILE's final rows and text are
# checked.  Sets WANT.
check_transport() {
    local name=$1 file=$2 reader=$3 deadline=$((SECONDS + 40))
    workload
    WANT=$(expected)
    until $reader && [ "$(line_count "$file")" -ge 6 ]; do
        [ "$SECONDS" -lt "$deadline" ] || fail "$name: fewer than 6 messages after 40 s"
        sleep 0.3
    done
    agent_stop
    undo
    expect_eq "$name: the final rows are the expected ones" "$(final_rows msg "$file")" "$WANT"
    expect_eq "$name: no message carries secret" "$(grep -c '\\"secret\\"\|s-[0-9]' "$file" || true)" 0
}

note "Pub/Sub (the double)"
ps_double_up
P_SLOT=ps_slot P_PUB=ps_pub P_TABLES=public.customers P_SOURCE_EXTRA=$FILTERS write_pipeline
cat >"$T/platform.yaml" <<YAML
transport_mode: pubsub
health_enabled: false
pubsub:
  json_schemas_enable: false
  project_id: $PROJECT
  ordering_enabled: true
wal_reader:
  slot_name: ps_slot
  publication_name: ps_pub
  batch_timeout_seconds: 0.2
agent:
  status_interval_seconds: 1
  state_dir: $T
YAML
P_SLOT=ps_slot ps_agent_start
check_transport Pub/Sub "$T/ps.jsonl" ps_read

note "Kinesis (moto)"
moto_start "$MDIR" "$(free_port)"
P_SLOT=k_slot P_PUB=k_pub P_TABLES=public.customers P_SOURCE_EXTRA=$FILTERS write_pipeline
cat >"$T/platform.yaml" <<YAML
transport_mode: kinesis
health_enabled: false
kinesis:
  shard_count: 1
  json_schemas_enable: true
wal_reader:
  slot_name: k_slot
  publication_name: k_pub
agent:
  status_interval_seconds: 1
  state_dir: $T
YAML
P_SLOT=k_slot agent_start
check_transport Kinesis "$T/kin.jsonl" kin_read

note "Iceberg (upsert) beside jsonl"
WH=file://$T/wh
URI=sqlite:///$T/cat.db
P_SLOT=i_slot P_PUB=i_pub P_TABLES=public.customers P_SOURCE_EXTRA=$FILTERS write_pipeline
cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: lake
    sink_type: iceberg
    iceberg:
      catalog_uri: "$URI"
      warehouse: "$WH"
      table_namespace: ns
      write_mode: upsert
      batch_size: 5
      flush_interval_seconds: 0.5
YAML
sql_su "CREATE DATABASE sinkdb"
add_pg_replica replica "$PORT" sinkdb
write_platform
P_SLOT=i_slot agent_start
workload
V="verify $T/pipeline.yaml --platform-config $T/platform.yaml"
# shellcheck disable=SC2086
cdc $V --sink lake --wait 90
expect_eq "Iceberg: verify passes (masked columns skipped)" "$CDC_RC" 0
[ "$CDC_RC" = 0 ] || cat "$T/cdc.out" "$T/cdc.err"
# shellcheck disable=SC2086
cdc $V --sink replica --wait 60
expect_eq "PostgreSQL replica: verify passes (masked columns skipped, the source read through the row filter)" "$CDC_RC" 0
[ "$CDC_RC" = 0 ] || cat "$T/cdc.out" "$T/cdc.err"
agent_stop
iceberg_read --uri "$URI" --warehouse "$WH" rows ns.public_customers >"$T/ice.jsonl" ||
    fail "reading the Iceberg table"
expect_eq "Iceberg: the table's rows are the expected ones" "$(final_rows iceberg "$T/ice.jsonl")" "$WANT"
expect_eq "Iceberg: the table has no secret column" \
    "$(python3 -c 'import json,sys; print(sorted(json.loads(open(sys.argv[1]).readline())))' "$T/ice.jsonl" | grep -c secret || true)" 0
sql "UPDATE customers SET name = 'changed at the source' WHERE id = 4"
# shellcheck disable=SC2086
cdc $V --sink lake
expect_eq "control: verify sees a changed name (exit 4)" "$CDC_RC" 4
expect_contains "  naming the key" "$(cat "$T/cdc.out")" "id=4"
# shellcheck disable=SC2086
cdc $V --sink replica
expect_eq "control: verify of the replica sees it too (exit 4)" "$CDC_RC" 4

done_testing
