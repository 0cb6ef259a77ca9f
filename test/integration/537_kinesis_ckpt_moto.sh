#!/usr/bin/env bash
# 537: the Kinesis transport's DynamoDB checkpoint table and restart read-back against moto,
# through agent/core/net/aws_json.c (test/tools/kin_ckpt_drive.c drives them; no agent, no
# PostgreSQL).  Checkpoint: the table is created when missing (PAY_PER_REQUEST, keys pk and
# shard, TTL on expires_at), items written per shard with the newest sequence number (a lower
# one noted later is ignored), loaded again by a new process, refused when going backwards;
# an existing table of another key schema is an error naming it.  Resume: a 2-shard stream
# holding Debezium values (a key change's d and c at one LSN, a delete and its tombstone,
# snapshot rows sharing the consistent point, a logical message, a record of another tool)
# is read back; every event is found once (a second ask says no), new ones are not; with a
# checkpoint only the records after it are read, and a checkpoint whose position the slot
# will send again is not used.  Faults (aws_faults.py): DescribeTable throttled, PutItem
# failing (logged once, written once DynamoDB answers), GetRecords throttled, garbage from
# GetShardIterator, a dropped ListShards, an expired iterator: retried, nothing missed.
# Signatures: moto checking SigV4 against IAM (INITIAL_NO_AUTH_ACTION_COUNT) accepts
# aws_json's requests; a wrong secret is a clear error (SignatureDoesNotMatch), secret-free.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/moto.sh"

MDIR=$T/moto
trap '_rc=$?; moto_kill "$MDIR" >/dev/null 2>&1; moto_kill "$T/moto-auth" >/dev/null 2>&1; set +e; (exit $_rc); _cleanup' EXIT

DRIVE=${CDC_BUILD:-$CDC_SRC/build}/kin_ckpt_drive
[ -x "$DRIVE" ] || { echo "Bail out! $DRIVE not built"; exit 1; }
MPORT=$(free_port)
moto_start "$MDIR" "$MPORT"
ok "moto $MOTO_VERSION on 127.0.0.1:$MPORT"
aws() { "$MOTO_PY" "$MOTO_AWS_READ" "$@"; }
pyq() { "$MOTO_PY" -c "
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
$2" "$1"; }

# ------------------------------------------------------------ checkpoint table
TB=cdc-kinesis-checkpoints
printf '%s\n' "note cdc-public-a shardId-000000000000 5" \
    "note cdc-public-a shardId-000000000000 3" \
    "note cdc-public-b shardId-000000000001 7" \
    "flush 1000 2" "dump" | "$DRIVE" ckpt "$TB" pipe1 3600 >"$T/c1.out" 2>"$T/c1.err"
expect_contains "table created and said so" "$(cat "$T/c1.err")" "created the DynamoDB checkpoint table $TB"
expect_contains "flush ok" "$(cat "$T/c1.out")" $'ok\n'
aws describe-table "$TB" >"$T/desc.json"
expect_eq "PAY_PER_REQUEST, keys pk HASH + shard RANGE" "$(pyq "$T/desc.json" '
d = recs[0]; print(json.dumps(d, sort_keys=True))' | "$MOTO_PY" -c '
import json, sys; d = json.loads(sys.stdin.read()); s = json.dumps(d)
print("PAY_PER_REQUEST" in s and "pk" in s and "HASH" in s and "shard" in s and "RANGE" in s)')" True
aws scan "$TB" >"$T/scan.jsonl"
expect_eq "two items: newest seqno per shard, position, expires_at" "$(pyq "$T/scan.jsonl" '
print(sorted((r["pk"], r["shard"], r["seq0"], r["lsn0"], r["pseq0"], "expires_at" in r) for r in recs))')" \
    "[('pipe1#cdc-public-a', 'shardId-000000000000', '5', 1000, 2, True), ('pipe1#cdc-public-b', 'shardId-000000000001', '7', 1000, 2, True)]"

printf '%s\n' "dump" "start cdc-public-a shardId-000000000000 2000" \
    "start cdc-public-a shardId-000000000000 1000" "note cdc-public-a shardId-000000000000 9" \
    "flush 1500 0" "dump" | "$DRIVE" ckpt "$TB" pipe1 3600 >"$T/c2.out" 2>"$T/c2.err"
expect_eq "a new process loads them; start needs lsn < resume; flushed again" "$(cat "$T/c2.out")" \
"opened $TB
cdc-public-a shardId-000000000000 5@1000
cdc-public-b shardId-000000000001 7@1000
5
none
ok
cdc-public-a shardId-000000000000 9@1500
cdc-public-b shardId-000000000001 7@1000"
expect_eq "existing table not created again" "$(grep -c 'created the DynamoDB' "$T/c2.err" || true)" 0

# after a restart: checkpoints unusable until the replay passes what was read back
printf '%s\n' "hold 3000" "note cdc-public-h shardId-000000000000 3" "flush 2500 0" "dump" \
    "start cdc-public-h shardId-000000000000 99999" \
    "note cdc-public-h shardId-000000000000 4" "flush 3100 0" "dump" \
    "start cdc-public-h shardId-000000000000 99999" | "$DRIVE" ckpt "$TB" pipe7 0 >"$T/h.out" 2>&1
expect_eq "held: written unusable, never chosen; past the hold: usable again" \
    "$(grep -v '^20' "$T/h.out")" "opened $TB
ok
cdc-public-h shardId-000000000000 3@unusable
none
ok
cdc-public-h shardId-000000000000 4@3100
4"

# another writer went ahead while this one ran: its older checkpoint is refused, not fatal
{ while [ ! -f "$T/go" ]; do sleep 0.1; done
  printf '%s\n' "note cdc-public-a shardId-000000000000 12" "flush 900 0"; } | \
    "$DRIVE" ckpt "$TB" pipe1 3600 >"$T/c3.out" 2>"$T/c3.err" &
c3=$!
for _ in $(seq 100); do grep -q opened "$T/c3.out" 2>/dev/null && break; sleep 0.1; done
"$MOTO_PY" -c '
import boto3
boto3.client("dynamodb").update_item(TableName="'"$TB"'",
    Key={"pk": {"S": "pipe1#cdc-public-a"}, "shard": {"S": "shardId-000000000000"}},
    UpdateExpression="SET wlsn = :l", ExpressionAttributeValues={":l": {"N": "5000"}})'
touch "$T/go"
wait "$c3"
printf '%s\n' "note cdc-public-a shardId-000000000000 12" "flush 900 0" | \
    "$DRIVE" ckpt "$TB" pipe2 0 >/dev/null 2>&1
aws scan "$TB" >"$T/scan2.jsonl"
expect_eq "never backwards (the item keeps the other writer's 5000); other pipeline apart" \
    "$(pyq "$T/scan2.jsonl" '
print(sorted((r["pk"], r["seq0"], r["wlsn"]) for r in recs if r["pk"].endswith("#cdc-public-a")))')" \
    "[('pipe1#cdc-public-a', '9', 5000), ('pipe2#cdc-public-a', '12', 900)]"
expect_eq "... the refused write is no error" "$(cat "$T/c3.out")" "opened $TB
ok"
expect_contains "refused write logged" "$(cat "$T/c3.err")" "holds a newer checkpoint"

"$MOTO_PY" -c '
import boto3
boto3.client("dynamodb").create_table(TableName="wrong-keys", BillingMode="PAY_PER_REQUEST",
    AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
    KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])'
rc=0
"$DRIVE" ckpt wrong-keys pipe1 0 </dev/null >/dev/null 2>"$T/c4.err" || rc=$?
expect_eq "a table of another key schema: exit 1" "$rc" 1
expect_contains "... naming the table and what to do" "$(cat "$T/c4.err")" \
    "checkpoint table wrong-keys at http://127.0.0.1:$MPORT exists with another key schema"

# ------------------------------------------------------------ resume
aws create-stream cdc-public-t1 2 >/dev/null
aws create-stream cdc-public-t1-dlq 1 >/dev/null
# value OP LSN TXID [schema]: a Debezium value as the transport sends it
"$MOTO_PY" - >"$T/put.jsonl" <<'PY'
import json
def val(op, lsn, txid, i, schema=False, snap="false"):
    p = {"before": None, "after": {"id": i}, "source": {"version": "2.7.0.Final",
         "connector": "postgresql", "snapshot": snap, "txId": txid, "lsn": lsn},
         "transaction": None, "op": op, "ts_ms": 17000 + i}
    return json.dumps({"schema": {"type": "struct"}, "payload": p} if schema else p,
                      separators=(",", ":"))
recs = []
for i in range(1, 4):                        # snapshot rows: one consistent point
    recs.append(('{"id":%d}' % i, val("r", 500, 700, i, True, "true")))
for i in range(1, 31):                       # inserts, one transaction each
    recs.append(('{"id":%d}' % i, val("c", 1000 + i * 10, 800 + i, i, True)))
recs.append(('{"id":3}', val("d", 2000, 900, 3, True)))        # key change 3 -> 33
recs.append(('{"id":3}', ""))                                 # its tombstone
recs.append(('{"id":33}', val("c", 2000, 900, 33, True)))
recs.append(('default', val("m", 2100, None, 0)))             # a non-transactional message
recs.append(('{"id":5}', "hello from another tool"))
for k, d in recs:
    print(json.dumps({"key": k, "data": d}))
PY
aws put-records cdc-public-t1 <"$T/put.jsonl" >"$T/put.out"
expect_eq "38 records in the stream" "$(line_count "$T/put.out")" 38
aws put-records cdc-public-t1-dlq <<<'{"key":"x","data":"{\"dead\":1}"}' >/dev/null

# has-lines: every put record, in put order, as write() would ask (lsn from the value)
"$MOTO_PY" - "$T/put.jsonl" >"$T/has.txt" <<'PY'
import json, sys
last = {}
for l in open(sys.argv[1]):
    r = json.loads(l)
    d = r["data"]
    try:
        v = json.loads(d)
        v = v.get("payload", v)
        lsn = v["source"]["lsn"]
        last[r["key"]] = lsn
    except Exception:
        lsn = last.get(r["key"], 0) if d == "" else 0
    print("has cdc-public-t1 %d %s %s" % (lsn, r["key"], d if d else "-"))
PY
out=$("$DRIVE" resume - pipe9 400 cdc-public-t1 cdc-public-t1-dlq <"$T/has.txt" 2>"$T/r1.err")
expect_eq "read back without checkpoint: 38 read, 37 identified, 1 foreign, dlq not read" \
    "$(head -1 <<<"$out")" "loaded read=38 ident=37 avro=0 foreign=1 left=37 newest=2100 unordered=1 holds_foreign=1"
expect_eq "every event found once (the foreign record: no)" \
    "$(tail -n +2 <<<"$out" | sort | uniq -c | tr -s ' ' | sed 's/^ //' | tr '\n' ';')" "1 left=0;1 no;37 yes;"
again=$( (cat "$T/has.txt"; cat "$T/has.txt") | "$DRIVE" resume - pipe9 400 cdc-public-t1 2>/dev/null | \
    tail -n +2 | sort | uniq -c | tr -s ' ' | sed 's/^ //' | tr '\n' ';')
expect_eq "asked twice: the second time no" "$again" "1 left=0;39 no;37 yes;"
expect_eq "a new event is not held" "$(printf '%s\n' \
    'has cdc-public-t1 5000 {"id":1} {"payload":{"op":"u","source":{"lsn":5000,"txId":1}},"schema":{}}' \
    'has cdc-public-t1 1010 {"id":1} {"payload":{"op":"u","source":{"lsn":1010,"txId":801}},"schema":{}}' | \
    "$DRIVE" resume - pipe9 400 cdc-public-t1 2>/dev/null | sed -n 2,3p | tr '\n' ' ')" "no no "

out=$("$DRIVE" resume - pipe9 400 cdc-public-nosuch cdc-public-t1 </dev/null 2>/dev/null)
expect_eq "a stream that does not exist holds nothing" "$(head -1 <<<"$out" | sed 's/ ident.*//')" \
    "loaded read=38"
out=$("$DRIVE" resume - pipe9 0 cdc-public-t1 </dev/null 2>/dev/null)
expect_eq "no slot yet (resume_lsn 0): a page per shard read, nothing kept, not empty" \
    "$(head -1 <<<"$out" | sed -n 's/^loaded read=[1-9][0-9]* .* left=\([0-9]*\) newest=[1-9][0-9]* unordered=\([01]\) .*/left=\1 unordered=\2/p')" \
    "left=0 unordered=1"

# with a checkpoint: shard by shard, after the 10th record of each
aws read cdc-public-t1 >"$T/read.jsonl"
"$MOTO_PY" - "$T/read.jsonl" >"$T/ck.txt" <<'PY'
import json, sys
by = {}
for l in open(sys.argv[1]):
    r = json.loads(l)
    by.setdefault(r["shard"], []).append(r)
for sh, rs in by.items():
    print("note cdc-public-t1 %s %s" % (sh, rs[min(9, len(rs) - 1)]["seq"]))
print("flush 1200 0")
print("# expect %d" % sum(len(rs) - min(10, len(rs)) for rs in by.values()))
PY
"$DRIVE" ckpt "$TB" pipe9 0 <"$T/ck.txt" >/dev/null 2>&1
nshards=$(grep -c '^note' "$T/ck.txt")
after=$(sed -n 's/^# expect //p' "$T/ck.txt")
out=$("$DRIVE" resume "$TB" pipe9 1300 cdc-public-t1 </dev/null 2>"$T/r2.err")
expect_eq "from the checkpoints: only the records after them read" \
    "$(head -1 <<<"$out" | sed 's/ ident.*//')" "loaded read=$after"
expect_contains "logged per stream" "$(cat "$T/r2.err")" "$nshards from their checkpoint"
out=$("$DRIVE" resume "$TB" pipe9 1200 cdc-public-t1 </dev/null 2>/dev/null)
expect_eq "a checkpoint at the slot's position is not used: everything read" \
    "$(head -1 <<<"$out" | sed 's/ ident.*//')" "loaded read=38"

# ------------------------------------------------------------ faults (test/lib/aws_faults.py)
FP=$(free_port)
moto_faults_start "$MDIR" "$FP"
moto_fault "$FP" '[{"match":"DescribeTable","fault":"throttle","times":2},
                   {"match":"PutItem","fault":"http","status":500,"times":0}]' >/dev/null
rm -f "$T/go"
{ printf '%s\n' "note cdc-public-f shardId-000000000000 4" "step 1300 0" "step 1300 0"
  while [ ! -f "$T/go" ]; do sleep 0.1; done
  printf '%s\n' "step 1300 0" "start cdc-public-f shardId-000000000000 2000"; } | \
    "$DRIVE" ckpt "$TB" pipe5 0 >"$T/f1.out" 2>"$T/f1.err" &
f1=$!
for _ in $(seq 100); do [ "$(grep -c '^error' "$T/f1.out" 2>/dev/null)" = 2 ] && break; sleep 0.1; done
moto_fault "$FP" '[]' >/dev/null
touch "$T/go"
wait "$f1"
expect_eq "DescribeTable throttled twice: opened; PutItem failing: error, then written" \
    "$(sed 's/^error dynamodb PutItem at .*: HTTP 500 InternalFailure.*/error 500/' "$T/f1.out")" \
    "opened $TB
error 500
error 500
ok
4"
expect_eq "the failure logged once, the recovery once" \
    "$(grep -c 'checkpoint table.*HTTP 500' "$T/f1.err"):$(grep -c ': written again$' "$T/f1.err")" "1:1"
moto_fault "$FP" '[{"match":"GetRecords","fault":"http","status":400,"times":1,"after":1,
                    "body":"{\"__type\":\"ExpiredIteratorException\",\"message\":\"Iterator expired\"}"},
                   {"match":"GetRecords","fault":"throttle","times":3},
                   {"match":"GetShardIterator","fault":"garbage","times":1},
                   {"match":"ListShards","fault":"drop","times":1}]' >/dev/null
out=$("$DRIVE" resume - pipe9 400 cdc-public-t1 </dev/null 2>/dev/null)
expect_eq "resume through throttling, garbage, a dropped connection, an expired iterator: all read" \
    "$(head -1 <<<"$out" | sed 's/ ident.*//')" "loaded read=38"
expect_eq "... every fault was hit" "$(curl -sf "http://127.0.0.1:$FP/__faults" | python3 -c '
import json, sys; print([r.get("hits", 0) for r in json.load(sys.stdin)["rules"]])')" "[1, 3, 1, 1]"
moto_faults_stop "$MDIR"

# ------------------------------------------------------------ signatures checked (moto + IAM)
MDIR2=$T/moto-auth
INITIAL_NO_AUTH_ACTION_COUNT=3 moto_start "$MDIR2" "$(free_port)"
"$MOTO_PY" -c '
import boto3, json
iam = boto3.client("iam")
iam.create_user(UserName="cdc")
iam.put_user_policy(UserName="cdc", PolicyName="all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
k = iam.create_access_key(UserName="cdc")["AccessKey"]
print(k["AccessKeyId"], k["SecretAccessKey"])' >"$T/key.txt"
read -r KID KSECRET <"$T/key.txt"
out=$(printf '%s\n' "note cdc-public-s shardId-000000000000 1" "flush 10 0" "dump" | \
    AWS_ACCESS_KEY_ID=$KID AWS_SECRET_ACCESS_KEY=$KSECRET "$DRIVE" ckpt "$TB" pipe8 0 2>&1)
expect_eq "signed by aws_json, checked by moto: table created, item written and read" \
    "$(grep -v '^20' <<<"$out")" "opened $TB
ok
cdc-public-s shardId-000000000000 1@10"
rc=0
AWS_ACCESS_KEY_ID=$KID AWS_SECRET_ACCESS_KEY=wrong$KSECRET "$DRIVE" ckpt "$TB" pipe8 0 \
    </dev/null >/dev/null 2>"$T/sig.err" || rc=$?
expect_eq "a wrong secret: exit 1" "$rc" 1
expect_contains "... naming the call, the endpoint and AWS's code" "$(cat "$T/sig.err")" \
    "dynamodb DescribeTable at http://127.0.0.1:"
expect_contains "... SignatureDoesNotMatch" "$(cat "$T/sig.err")" "HTTP 403 SignatureDoesNotMatch"
check "... and no secret in the message" bash -c '! grep -q -- "$1" "$2"' _ "$KSECRET" "$T/sig.err"
moto_kill "$MDIR2" >/dev/null 2>&1
done_testing
