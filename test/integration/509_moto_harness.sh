#!/usr/bin/env bash
# 509: the moto harness itself (test/lib/moto.sh, test/lib/aws_read.py), no agent yet:
# moto's server starts on loopback from the pinned cache, a 2-shard stream takes 200 records
# of 20 keys through boto3's PutRecords, aws_read.py reads every one back (per key in put
# order, one shard per key, data intact), and the facts moto.sh's header states about moto
# hold: concurrent writers lose nothing (through moto_server.py), PutRecords limits, AT/AFTER_SEQUENCE_NUMBER, STS AssumeRoleWithWebIdentity, DynamoDB
# conditional writes, reset, and SigV4 checking with INITIAL_NO_AUTH_ACTION_COUNT.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/moto.sh"

MDIR=$T/moto
MDIR2=$T/moto-auth
trap '_rc=$?; moto_kill "$MDIR" >/dev/null 2>&1; moto_kill "$MDIR2" >/dev/null 2>&1; set +e; (exit $_rc); _cleanup' EXIT

MPORT=$(free_port)
moto_start "$MDIR" "$MPORT"
ok "moto $MOTO_VERSION on 127.0.0.1:$MPORT"
expect_eq "AWS_ENDPOINT_URL exported" "$AWS_ENDPOINT_URL" "http://127.0.0.1:$MPORT"

aws() { "$MOTO_PY" "$MOTO_AWS_READ" "$@"; }
# pyq FILE 'python using recs (the JSON lines of FILE)'
pyq() { "$MOTO_PY" -c "
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
$2" "$1"; }
# boto 'python with k = kinesis, d = dynamodb, s = sts clients': AWS_ENDPOINT_URL routes them.
boto() { "$MOTO_PY" -c "
import boto3, botocore, json, sys
from botocore.config import Config
c = Config(retries={'total_max_attempts': 1, 'mode': 'standard'})
k, d, s = (boto3.client(n, config=c) for n in ('kinesis', 'dynamodb', 'sts'))
def code(f):
    try:
        f()
        return 'OK'
    except botocore.exceptions.ClientError as e:
        err = e.response['Error']
        # moto answers auth failures of JSON services (Kinesis, DynamoDB) with an XML
        # ErrorResponse body, which botocore leaves unparsed: code '403', XML as the message.
        if err['Code'].isdigit() and '<Code>' in err.get('Message', ''):
            return 'xml:' + err['Message'].split('<Code>')[1].split('</Code>')[0]
        return err['Code']
    except Exception as e:  # a dropped connection, an unparsable answer
        return type(e).__name__
$1"; }

# ------------------------------------------------------------ round trip
aws create-stream cdc-public-items 2 >"$T/desc.json"
expect_eq "stream ACTIVE with 2 shards" \
    "$(pyq "$T/desc.json" 'd = recs[0]; print(d["status"], len(d["shards"]))')" "ACTIVE 2"

"$MOTO_PY" -c '
import json
for i in range(200):
    k = "key-%02d" % (i % 20)
    print(json.dumps({"key": k, "data": json.dumps({"k": k, "i": i, "txt": "é\u00e9"})}))' \
    >"$T/put.jsonl"
aws put-records cdc-public-items <"$T/put.jsonl" >"$T/put.out"
expect_eq "200 records accepted" "$(pyq "$T/put.out" 'print(sum(1 for r in recs if r["seq"] and not r["error"]))')" 200

aws read cdc-public-items >"$T/read.jsonl"
expect_eq "read back 200 records" "$(line_count "$T/read.jsonl")" 200
expect_eq "both shards carry records" \
    "$(pyq "$T/read.jsonl" 'print(len({r["shard"] for r in recs}))')" 2
expect_eq "every (key, i) once, data decoded equals base64" "$(pyq "$T/read.jsonl" '
import base64
seen = sorted(json.loads(r["data"])["i"] for r in recs)
print(seen == list(range(200)) and all(base64.b64decode(r["data_b64"]).decode() == r["data"] for r in recs)
      and all(json.loads(r["data"])["k"] == r["key"] for r in recs))')" True
expect_eq "each key in one shard, in put order, sequence numbers increasing" "$(pyq "$T/read.jsonl" '
by = {}
for r in recs:
    by.setdefault(r["key"], []).append(r)
print(all(len({r["shard"] for r in v}) == 1 and
          [json.loads(r["data"])["i"] for r in v] == sorted(json.loads(r["data"])["i"] for r in v) and
          [int(r["seq"]) for r in v] == sorted(int(r["seq"]) for r in v) for v in by.values()))')" True
expect_eq "put-records shard and seq equal what read saw" "$(
    "$MOTO_PY" - "$T/put.out" "$T/read.jsonl" <<'PY'
import json, sys
put = {(r["shard"], r["seq"]) for r in map(json.loads, open(sys.argv[1]))}
got = {(r["shard"], r["seq"]) for r in map(json.loads, open(sys.argv[2]))}
print(put == got)
PY
)" True

# ------------------------------------------------------------ concurrent writers, one shard
# moto alone loses records here (same sequence number twice); moto_server.py serializes.
aws create-stream race 1 >/dev/null
boto '
import threading
def w(t):
    c1 = boto3.client("kinesis", config=c)
    for j in range(10):
        c1.put_records(StreamName="race", Records=[{"PartitionKey": "k%d" % t, "Data": b"%d-%d-%d" % (t, j, i)} for i in range(50)])
ts = [threading.Thread(target=w, args=(t,)) for t in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]'
aws read race >"$T/race.jsonl"
expect_eq "8 concurrent writers to one shard: 4000 records stored, sequence numbers unique" \
    "$(pyq "$T/race.jsonl" 'print(len(recs), len({r["seq"] for r in recs}), len({r["data"] for r in recs}))')" "4000 4000 4000"

# ------------------------------------------------------------ by sequence number
read -r SH SEQ NEXT N <<<"$(pyq "$T/read.jsonl" '
sh = recs[0]["shard"]; mine = [r for r in recs if r["shard"] == sh]
print(sh, mine[9]["seq"], mine[10]["seq"], len(mine))')"
aws read cdc-public-items --after "$SH=$SEQ" >"$T/after.jsonl"
expect_eq "AFTER_SEQUENCE_NUMBER: that shard resumes at the next record" \
    "$(pyq "$T/after.jsonl" "mine = [r for r in recs if r['shard'] == '$SH']; print(mine[0]['seq'], len(mine))")" \
    "$NEXT $((N - 10))"
aws read cdc-public-items --at "$SH=$SEQ" >"$T/at.jsonl"
expect_eq "AT_SEQUENCE_NUMBER: that shard resumes at the record itself" \
    "$(pyq "$T/at.jsonl" "mine = [r for r in recs if r['shard'] == '$SH']; print(mine[0]['seq'], len(mine))")" \
    "$SEQ $((N - 9))"

# ------------------------------------------------------------ PutRecords limits
expect_eq "PutRecords limits (501 records; 6 x 900 KB; 1 MiB + 1 data; 257-char key)" "$(boto '
st = "cdc-public-items"
rec = lambda data, key="k": {"PartitionKey": key, "Data": data}
print(code(lambda: k.put_records(StreamName=st, Records=[rec(b"x")] * 501)),
      code(lambda: k.put_records(StreamName=st, Records=[rec(b"x" * 900000)] * 6)),
      code(lambda: k.put_records(StreamName=st, Records=[rec(b"x"), rec(b"x" * 1048577)])),
      code(lambda: k.put_records(StreamName=st, Records=[rec(b"x", "k" * 257)])),
      code(lambda: k.put_records(StreamName=st, Records=[rec(b"x" * 1048575, "k")] * 5)))')" \
    "ValidationException InvalidArgumentException ValidationException InvalidArgumentException OK"
aws read cdc-public-items >"$T/read2.jsonl"
expect_eq "refused requests stored nothing (200 + the 5 accepted)" "$(line_count "$T/read2.jsonl")" 205

# ------------------------------------------------------------ STS
expect_eq "STS AssumeRoleWithWebIdentity answers temporary credentials" "$(boto '
r = s.assume_role_with_web_identity(RoleArn="arn:aws:iam::123456789012:role/cdc",
        RoleSessionName="cdcagent", WebIdentityToken="not-checked-by-moto")
c = r["Credentials"]
print(c["AccessKeyId"][:4], bool(c["SecretAccessKey"]), bool(c["SessionToken"]), "Expiration" in c)')" \
    "ASIA True True True"

# ------------------------------------------------------------ DynamoDB
expect_eq "DynamoDB conditional put: first wins, second refused" "$(boto '
d.create_table(TableName="cdc-checkpoints", BillingMode="PAY_PER_REQUEST",
    KeySchema=[{"AttributeName": "stream", "KeyType": "HASH"}, {"AttributeName": "shard", "KeyType": "RANGE"}],
    AttributeDefinitions=[{"AttributeName": "stream", "AttributeType": "S"}, {"AttributeName": "shard", "AttributeType": "S"}])
item = {"stream": {"S": "cdc-public-items"}, "shard": {"S": "shardId-000000000000"}, "seq": {"S": "1"}, "lsn": {"N": "42"}}
put = lambda: d.put_item(TableName="cdc-checkpoints", Item=item, ConditionExpression="attribute_not_exists(#s)", ExpressionAttributeNames={"#s": "stream"})
upd = lambda v, old: d.update_item(TableName="cdc-checkpoints", Key={"stream": item["stream"], "shard": item["shard"]},
    UpdateExpression="SET lsn = :v", ConditionExpression="lsn < :v", ExpressionAttributeValues={":v": {"N": str(v)}})
print(code(put), code(put), code(lambda: upd(50, 42)), code(lambda: upd(45, 50)))')" \
    "OK ConditionalCheckFailedException OK ConditionalCheckFailedException"
aws scan cdc-checkpoints >"$T/scan.jsonl"
expect_eq "scan prints the item as plain JSON" "$(cat "$T/scan.jsonl")" \
    '{"lsn": 50, "seq": "1", "shard": "shardId-000000000000", "stream": "cdc-public-items"}'
expect_eq "describe-table" "$(aws describe-table cdc-checkpoints)" \
    '{"attributes": {"shard": "S", "stream": "S"}, "billing": "PAY_PER_REQUEST", "keys": [["stream", "HASH"], ["shard", "RANGE"]], "name": "cdc-checkpoints", "status": "ACTIVE"}'

# ------------------------------------------------------------ errors name what and where
rc=0
msg=$(aws read no-such-stream 2>&1 >/dev/null) || rc=$?
expect_eq "read of a missing stream exits 1" "$rc" 1
expect_contains "and names it" "$msg" "no-such-stream: ResourceNotFoundException"

# ------------------------------------------------------------ faults, through the proxy
FPORT=$(free_port)
moto_faults_start "$MDIR" "$FPORT"
expect_eq "AWS_ENDPOINT_URL now the fault proxy" "$AWS_ENDPOINT_URL" "http://127.0.0.1:$FPORT"
PUT20='recs = [{"PartitionKey": "key-%02d" % i, "Data": b"f%d" % i} for i in range(20)]
put = lambda: k.put_records(StreamName="cdc-public-items", Records=recs)'
moto_fault "$FPORT" '[{"match":"PutRecords","fault":"throttle","times":2}]' >/dev/null
expect_eq "throttle x2: two ProvisionedThroughputExceededException, then through" "$(boto "$PUT20
print(code(put), code(put), code(put), code(lambda: k.list_streams()))")" \
    "ProvisionedThroughputExceededException ProvisionedThroughputExceededException OK OK"
moto_fault "$FPORT" '[{"match":"PutRecords","fault":"partial","fail":"keys:key-03,key-11"}]' >/dev/null
expect_eq "partial failure: FailedRecordCount 2, ErrorCode at indexes 3 and 11, the rest sequenced" "$(boto "$PUT20
r = k.put_records(StreamName='cdc-public-items', Records=recs)
print(r['FailedRecordCount'], [i for i, x in enumerate(r['Records']) if x.get('ErrorCode') == 'ProvisionedThroughputExceededException'],
      sum(1 for x in r['Records'] if x.get('SequenceNumber')))")" "2 [3, 11] 18"
aws read cdc-public-items >"$T/read3.jsonl"
expect_eq "moto stored the 20 of the throttled-then-accepted put and the 18 that succeeded" "$(pyq "$T/read3.jsonl" '
from collections import Counter
n = Counter(r["key"] for r in recs if r["data"].startswith("f"))
print(sum(n.values()), sorted(k for k, v in n.items() if v == 1))')" \
    "38 ['key-03', 'key-11']"
moto_fault "$FPORT" '[{"match":"*","fault":"http","status":503,"times":1},
                      {"match":"ListStreams","fault":"garbage","times":1},
                      {"match":"ListStreams","fault":"drop","times":1},
                      {"match":"DynamoDB_20120810.PutItem","fault":"throttle","times":1},
                      {"match":"ListStreams","fault":"delay","seconds":1,"times":1}]' >/dev/null
expect_eq "503, garbage, dropped connection, DynamoDB throttle, delay" "$(boto '
ls = lambda: k.list_streams()
t0 = __import__("time").monotonic()
a = [code(ls)]
g = k.list_streams()  # botocore takes a 200 that is not JSON as an empty answer
a += ["no-StreamNames" if "StreamNames" not in g else "parsed", code(ls)]
pi = lambda: d.put_item(TableName="cdc-checkpoints", Item={"stream": {"S": "x"}, "shard": {"S": "y"}})
a += [code(pi), code(pi)]
t1 = __import__("time").monotonic(); a.append(code(ls)); a.append(__import__("time").monotonic() - t1 >= 1)
print(*a)')" "InternalFailure no-StreamNames ConnectionClosedError ProvisionedThroughputExceededException OK OK True"
expect_eq "the proxy counted every hit" "$(curl -sf "$AWS_ENDPOINT_URL/__faults" | "$MOTO_PY" -c '
import json, sys; print([r.get("hits", 0) for r in json.load(sys.stdin)["rules"]])')" "[1, 1, 1, 1, 1]"
expect_eq "and logged 8 injected faults (2 throttles, 1 partial, 5 above)" "$(line_count "$MDIR/faults.jsonl")" 8
expect_contains "the partial one with its keys" "$(cat "$MDIR/faults.jsonl")" '"keys": ["key-03", "key-11"]'
moto_fault "$FPORT" '[]' >/dev/null
bad=$(curl -s -w ' %{http_code}' -X POST --data-binary '[{"fault":"nope"}]' "$AWS_ENDPOINT_URL/__faults")
expect_eq "a bad rule is refused, naming it" "$bad" "bad rules: unknown fault 'nope'
 400"
moto_faults_stop "$MDIR"
expect_eq "moto_faults_stop: AWS_ENDPOINT_URL back to moto" "$AWS_ENDPOINT_URL" "http://127.0.0.1:$MPORT"

# ------------------------------------------------------------ reset, stop
moto_reset "$MPORT"
expect_eq "moto_reset forgets the stream" "$(boto 'print(k.list_streams()["StreamNames"])')" "[]"
moto_stop "$MDIR"
if curl -sf -o /dev/null --max-time 2 "$AWS_ENDPOINT_URL/moto-api/data.json"; then
    fail "moto still answers after moto_stop"
fi
ok "moto_stop: nothing answers on $MPORT"

# ------------------------------------------------------------ SigV4 is checked on request
MPORT2=$(free_port)
INITIAL_NO_AUTH_ACTION_COUNT=3 moto_start "$MDIR2" "$MPORT2"
ok "moto with INITIAL_NO_AUTH_ACTION_COUNT=3 on 127.0.0.1:$MPORT2"
expect_eq "after 3 unauthenticated actions: right key OK, wrong secret SignatureDoesNotMatch, unknown key InvalidClientTokenId (XML bodies)" "$(boto '
iam = boto3.client("iam", config=c)
iam.create_user(UserName="cdc")
iam.put_user_policy(UserName="cdc", PolicyName="all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
key = iam.create_access_key(UserName="cdc")["AccessKey"]
mk = lambda kid, sec: boto3.client("kinesis", aws_access_key_id=kid, aws_secret_access_key=sec, config=c)
print(code(lambda: mk(key["AccessKeyId"], key["SecretAccessKey"]).list_streams()),
      code(lambda: mk(key["AccessKeyId"], "wrong" + key["SecretAccessKey"]).list_streams()),
      code(lambda: mk("AKIANOSUCHKEY0000000", "x").list_streams()))')" \
    "OK xml:SignatureDoesNotMatch xml:InvalidClientTokenId"
moto_stop "$MDIR2"

done_testing
