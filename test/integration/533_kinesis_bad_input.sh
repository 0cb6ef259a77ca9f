#!/usr/bin/env bash
# 533: bad input and start errors of the Kinesis transport (moto, test/lib/moto.sh).
# - A row whose record is over Kinesis's 1 MiB limit: a dead letter (a small JSON object
#   with the platform's dlq.* fields, its position, key, value size and SHA-256) goes to
#   "cdc-public-big-dlq" in its place, and the key's later changes follow in order.
# - The same with dlq.enabled false: the agent stops, naming the table, the key and the
#   size; the slot stays before the row, and a restart with dead letters on delivers it.
# - A dead-letter stream that may not be created: the agent stops naming table, key, size.
# - At start, with moto checking signatures (INITIAL_NO_AUTH_ACTION_COUNT): a wrong secret,
#   an unknown access key, and credentials that may not create a missing stream are clear
#   errors naming what to fix; a region without an endpoint (AWS_ENDPOINT_URL unset, region
#   "eu-wst-1") says the endpoint does not resolve and names kinesis.region.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/moto.sh"

MDIR=$T/moto
MDIR2=$T/moto-auth
trap '_rc=$?; moto_kill "$MDIR" >/dev/null 2>&1; moto_kill "$MDIR2" >/dev/null 2>&1; set +e; (exit $_rc); _cleanup' EXIT

pg_up
sql "CREATE TABLE big (id int PRIMARY KEY, body text)"
MPORT=$(free_port)
moto_start "$MDIR" "$MPORT"
aws() { "$MOTO_PY" "$MOTO_AWS_READ" "$@"; }

P_TABLES="public.big" P_SNAPSHOT=never write_pipeline
platform() {
    cat >"$T/platform.yaml" <<YAML
transport_mode: kinesis
health_enabled: false
kinesis:
  json_schemas_enable: false
  shard_count: 1
dlq:
  enabled: $1
wal_reader:
  batch_size: 100
retry:
  initial_wait_seconds: 0.1
  max_wait_seconds: 1
agent:
  status_interval_seconds: 1
  state_dir: $T
YAML
}
platform true
agent_start
# 1.2 MB of text that PostgreSQL compresses but the record carries whole
sql "INSERT INTO big VALUES (1, 'small')" \
    "UPDATE big SET body = repeat('x', 1200000) WHERE id = 1" \
    "UPDATE big SET body = 'small again' WHERE id = 1"
for _ in $(seq 100); do
    aws read cdc-public-big >"$T/big.jsonl" 2>/dev/null || true
    [ "$(line_count "$T/big.jsonl")" -ge 2 ] && break
    sleep 0.2
done
expect_eq "the stream holds the two small changes" "$(python3 -c '
import json, sys
print([json.loads(json.loads(l)["data"])["op"] for l in open(sys.argv[1])])' "$T/big.jsonl")" "['c', 'u']"
aws read cdc-public-big-dlq >"$T/dlq.jsonl"
expect_eq "one dead letter" "$(line_count "$T/dlq.jsonl")" 1
expect_eq "dead letter: dlq.* fields, key, sizes" "$(python3 -c '
import json, sys
r = json.loads(open(sys.argv[1]).readline())
d = json.loads(r["data"])
print(r["key"], d["dlq.source_topic"], d["dlq.error_type"], d["dlq.sink_id"], d["key"],
      d["op"], d["value_size"] > 1048576, len(d["value_sha256"]), len(r["data"]) < 4096)' "$T/dlq.jsonl")" \
    '{"id":1} cdc-public-big record_too_large kinesis {'"'"'id'"'"': 1} u True 64 True'
expect_contains "the dead letter is logged with table, key and size" "$(cat "$T/agent.log")" \
    'a record of table public.big, key {\"id\":1}, is '
agent_stop

# dead letters off: stop, naming table, key and size; nothing lost
platform false
agent_start
sql "INSERT INTO big VALUES (2, repeat('y', 1200000))"
L_ROW=$(sql_su "SELECT pg_current_wal_lsn()")
agent_wait_exit 30
expect_eq "the agent stops" "$([ "$AGENT_RC" -ne 0 ] && echo yes)" yes
expect_contains "... naming table, key and size" "$(cat "$T/agent.log")" \
    'a record of table public.big, key {\"id\":2}, is 1200'
expect_contains "... and why" "$(cat "$T/agent.log")" "dlq.enabled is false"
expect_eq "slot stays before the row" \
    "$(sql_su "SELECT confirmed_flush_lsn < '$L_ROW' FROM pg_replication_slots WHERE slot_name = 'cdc_slot'")" t
platform true
agent_start
for _ in $(seq 100); do
    aws read cdc-public-big-dlq >"$T/dlq.jsonl"
    [ "$(line_count "$T/dlq.jsonl")" -ge 2 ] && break
    sleep 0.2
done
expect_eq "after the restart with dead letters on, the row is a dead letter" \
    "$(line_count "$T/dlq.jsonl")" 2
agent_stop

# ---------------------------------------------------------------- start errors
MPORT2=$(free_port)
INITIAL_NO_AUTH_ACTION_COUNT=6 moto_start "$MDIR2" "$MPORT2"
read -r KID SEC RKID RSEC < <("$MOTO_PY" -c '
import boto3, json
iam = boto3.client("iam")
iam.create_user(UserName="cdc")
iam.put_user_policy(UserName="cdc", PolicyName="all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
k = iam.create_access_key(UserName="cdc")["AccessKey"]
iam.create_user(UserName="ro")
iam.put_user_policy(UserName="ro", PolicyName="write", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
        "kinesis:ListStreams", "kinesis:DescribeStreamSummary", "kinesis:PutRecords",
        "kinesis:ListShards", "kinesis:GetShardIterator", "kinesis:GetRecords", "dynamodb:*"]}]}))
r = iam.create_access_key(UserName="ro")["AccessKey"]
print(k["AccessKeyId"], k["SecretAccessKey"], r["AccessKeyId"], r["SecretAccessKey"])')
[ -n "$RSEC" ] || fail "no IAM users made in moto"
sql "CREATE TABLE other (id int PRIMARY KEY)"
P_TABLES="public.other" P_SLOT=slot2 P_PUB=pub2 P_SNAPSHOT=never write_pipeline
start_fails() {   # start_fails WHAT EXPECTED...: the agent must exit at start with EXPECTED
    local what=$1
    shift
    cat "$T/agent.log" >>"$T/agent.all.log"
    : >"$T/agent.log"
    AGENT_NO_WAIT=1 agent_start
    agent_wait_exit 40
    expect_eq "$what: the agent exits at start" "$([ "$AGENT_RC" -ne 0 ] && echo yes)" yes
    for e in "$@"; do expect_contains "$what: says $e" "$(cat "$T/agent.log")" "$e"; done
}
platform true
sed -i 's/^wal_reader:$/wal_reader:\n  slot_name: slot2\n  publication_name: pub2/' "$T/platform.yaml"
OK_KID=$AWS_ACCESS_KEY_ID OK_SEC=$AWS_SECRET_ACCESS_KEY OK_EP=$AWS_ENDPOINT_URL
export AWS_ACCESS_KEY_ID=$KID AWS_SECRET_ACCESS_KEY="wrong$SEC"
start_fails "wrong secret" "refused the credentials" "SignatureDoesNotMatch" "environment"
export AWS_ACCESS_KEY_ID=AKIANOSUCHKEY0000000 AWS_SECRET_ACCESS_KEY=x
start_fails "unknown key" "refused the credentials" "InvalidClientTokenId"
export AWS_ACCESS_KEY_ID=$RKID AWS_SECRET_ACCESS_KEY=$RSEC
start_fails "no right to create the missing stream" "stream cdc-public-other is missing" \
    "kinesis:CreateStream" "not allowed"
# The table's stream exists, its dead-letter stream does not and may not be created: a row
# over 1 MiB stops the agent, naming table, key and size, and why.
AWS_ACCESS_KEY_ID=$KID AWS_SECRET_ACCESS_KEY=$SEC aws create-stream cdc-public-other 1 >/dev/null
sql "ALTER TABLE other ADD COLUMN body text"
cat "$T/agent.log" >>"$T/agent.all.log"
: >"$T/agent.log"
P_SLOT=slot2 agent_start
sql "INSERT INTO other VALUES (1, repeat('z', 1100000))"
agent_wait_exit 40
expect_eq "dead-letter stream refused: the agent stops" "$([ "$AGENT_RC" -ne 0 ] && echo yes)" yes
expect_contains "... naming table, key and size" "$(cat "$T/agent.log")" \
    'a record of table public.other, key {\"id\":1}, is 1100'
expect_contains "... and the dead-letter stream" "$(cat "$T/agent.log")" \
    "its dead-letter stream cdc-public-other-dlq cannot be used"
export AWS_ACCESS_KEY_ID=$OK_KID AWS_SECRET_ACCESS_KEY=$OK_SEC AWS_REGION=eu-wst-1 \
    AWS_DEFAULT_REGION=eu-wst-1
unset AWS_ENDPOINT_URL
start_fails "region typo" "does not resolve" "kinesis.region" "eu-wst-1"
export AWS_ENDPOINT_URL=$OK_EP
cat "$T/agent.log" >>"$T/agent.all.log"
expect_eq "no secret in any log" "$(grep -c -e "$SEC" -e "$RSEC" "$T/agent.all.log" || true)" 0
moto_stop "$MDIR2"
done_testing
