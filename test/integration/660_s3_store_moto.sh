#!/usr/bin/env bash
# 660: the Iceberg warehouse store's s3:// side (agent/core/net/s3.c through
# sinks/iceberg/store/, driven by test/tools/ice_store_drive) against moto's S3 server,
# read back with boto3 as the independent reader: put/get/range/exists/list/delete, a key
# that needs encoding, a 20 MiB file put from disk part by part in bounded memory, a listing of 1,005 keys (ListObjectsV2 pages of 1,000 and a
# continuation token), a 20 MiB file uploaded in parts and read back byte for byte, a
# multipart upload aborted when a part is refused (test/lib/aws_faults.py in front), a moto
# restart in the middle of an upload (retried and started over), a writer killed with
# SIGKILL mid-upload (its open upload reported and aborted), and a wrong secret
# (moto checking signatures): a clear error naming the bucket, never the secret.
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/moto.sh"

CDC_BUILD=${CDC_BUILD:-$CDC_SRC/build}
DRIVE=$CDC_BUILD/ice_store_drive
[ -x "$DRIVE" ] || fail "no $DRIVE (ninja -C build ice_store_drive)"
MDIR=$T/moto
MDIR2=$T/moto-auth
trap '_rc=$?; moto_kill "$MDIR" >/dev/null 2>&1; moto_kill "$MDIR2" >/dev/null 2>&1; set +e; (exit $_rc); _cleanup' EXIT

MPORT=$(free_port)
moto_start "$MDIR" "$MPORT"
ok "moto $MOTO_VERSION on 127.0.0.1:$MPORT"
# The agent's S3 endpoint as the platform's s3_endpoint would give it: AWS_ENDPOINT_URL_S3.
export AWS_ENDPOINT_URL_S3=$AWS_ENDPOINT_URL
export ICE_S3_RETRY_MS=200 ICE_S3_RETRY_MAX_MS=1000

# boto 'python with s = an s3 client on moto itself (never through the fault proxy)'
boto() { "$MOTO_PY" -c "
import boto3, hashlib, json, sys
from botocore.config import Config
s = boto3.client('s3', endpoint_url='http://127.0.0.1:$MPORT',
                 config=Config(retries={'total_max_attempts': 1, 'mode': 'standard'}))
$1" "${@:2}"; }

drive() { "$DRIVE" "$@"; }

# ---- the basics
drive mkbucket whse
boto "s.head_bucket(Bucket='whse')"
ok "bucket made through CreateBucket"
printf 'hello warehouse' >"$T/small"
drive put s3://whse/w/t/metadata/v1.json "$T/small"
expect_eq "PutObject read back by boto3" \
    "$(boto "sys.stdout.write(s.get_object(Bucket='whse', Key='w/t/metadata/v1.json')['Body'].read().decode())")" \
    "hello warehouse"
drive get s3://whse/w/t/metadata/v1.json "$T/small.back"
check "GetObject whole" cmp -s "$T/small" "$T/small.back"
drive get s3://whse/w/t/metadata/v1.json "$T/range" 6 9
expect_eq "GetObject range 6+9" "$(cat "$T/range")" "warehouse"
expect_eq "HeadObject of it" "$(drive exists s3://whse/w/t/metadata/v1.json)" "yes 15"
expect_eq "HeadObject of a missing key" "$(drive exists s3://whse/w/t/metadata/v9.json)" "no"
rc=0
drive get s3://whse/w/t/metadata/v9.json "$T/none" 2>"$T/none.err" || rc=$?
expect_eq "GetObject of a missing key: exit 2" "$rc" 2
expect_contains "... naming the URI" "$(cat "$T/none.err")" "s3://whse/w/t/metadata/v9.json"

KEY='w/t/data/a b/é+x=1&y.parquet'
drive put "s3://whse/$KEY" "$T/small"
expect_eq "a key needing encoding, as boto3 sees it" \
    "$(boto "sys.stdout.write(str(s.head_object(Bucket='whse', Key=sys.argv[1])['ContentLength']))" "$KEY")" 15

drive ls s3://whse/w/t/ >"$T/ls"
expect_eq "ListObjectsV2 of w/t/" "$(cat "$T/ls")" \
"s3://whse/w/t/data/a b/é+x=1&y.parquet 15
s3://whse/w/t/metadata/v1.json 15"
drive rm "s3://whse/$KEY"
drive rm "s3://whse/$KEY"
expect_eq "DeleteObject (twice: fine)" "$(drive exists "s3://whse/$KEY")" "no"

# ---- a listing over several pages (moto pages at 1,000 keys)
boto "
for i in range(1005):
    s.put_object(Bucket='whse', Key='many/k%05d' % i, Body=b'x' * (i % 7))"
drive ls s3://whse/many/ >"$T/many"
expect_eq "1,005 keys listed across pages" "$(wc -l <"$T/many")" 1005
expect_eq "... in order, sizes right" "$(sed -n '1p;1005p' "$T/many")" \
"s3://whse/many/k00000 0
s3://whse/many/k01004 3"

# ---- 20 MiB in parts, read back by boto3
head -c $((20 << 20)) /dev/urandom >"$T/big"
drive put s3://whse/w/t/data/big.parquet "$T/big"
boto "
o = s.get_object(Bucket='whse', Key='w/t/data/big.parquet')
body = o['Body'].read()
want = open(sys.argv[1], 'rb').read()
assert body == want, (len(body), len(want))
print(o['ETag'])" "$T/big" >"$T/big.etag"
ok "20 MiB multipart upload read back by boto3 byte for byte"
expect_contains "... uploaded in 3 parts of 8 MiB (ETag -3)" "$(cat "$T/big.etag")" '-3"'
drive get s3://whse/w/t/data/big.parquet "$T/big.tail" $(((20 << 20) - 100)) -1
check "... its last 100 bytes by range" cmp -s "$T/big.tail" <(tail -c 100 "$T/big")
# The same from the file, part by part: the memory of one part, not of the file.
/usr/bin/time -f '%M' -o "$T/rss.mem" "$DRIVE" put s3://whse/w/t/data/mem.parquet "$T/big"
ICE_S3_PART_MB=5 /usr/bin/time -f '%M' -o "$T/rss.file" "$DRIVE" putfile \
    s3://whse/w/t/data/file.parquet "$T/big"
boto "
o = s.get_object(Bucket='whse', Key='w/t/data/file.parquet')
assert o['Body'].read() == open(sys.argv[1], 'rb').read()
assert o['ETag'].endswith('-4\"'), o['ETag']" "$T/big"
ok "20 MiB from a file in 4 parts of 5 MiB, read back by boto3 byte for byte"
RSS_MEM=$(tail -n 1 "$T/rss.mem") RSS_FILE=$(tail -n 1 "$T/rss.file")
note "max RSS: put from memory ${RSS_MEM} KiB, putfile ${RSS_FILE} KiB"
check "... with at least 12 MiB less memory than from memory" [ $((RSS_MEM - RSS_FILE)) -ge 12288 ]
expect_eq "no multipart upload left open" \
    "$(boto "print(len(s.list_multipart_uploads(Bucket='whse').get('Uploads', [])))")" 0

# ---- a refused part: the upload is aborted
FPORT=$(free_port)
moto_faults_start "$MDIR" "$FPORT"
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$FPORT
moto_fault "$FPORT" '[{"match":"s3:UploadPart","fault":"http","status":400,"after":1,"times":1,"body":"<?xml version=\"1.0\"?><Error><Code>InvalidPart</Code><Message>injected</Message></Error>"}]' >/dev/null
rc=0
drive put s3://whse/w/t/data/refused.parquet "$T/big" 2>"$T/refused.err" || rc=$?
expect_eq "a refused part fails the put" "$rc" 1
expect_contains "... naming the part and the URI" "$(cat "$T/refused.err")" \
    "part 2 of 3: s3 UploadPart s3://whse/w/t/data/refused.parquet"
expect_eq "... the upload aborted: none left open" \
    "$(boto "print(len(s.list_multipart_uploads(Bucket='whse').get('Uploads', [])))")" 0
expect_eq "... no object under the name" "$(drive exists s3://whse/w/t/data/refused.parquet)" "no"
expect_eq "... the refusal injected once" "$(grep -c '"target": "s3:UploadPart"' "$MDIR/faults.jsonl")" 1

# ---- 503s then success: retried
moto_fault "$FPORT" '[{"match":"s3:PutObject","fault":"http","status":503,"times":2,"body":"<Error><Code>SlowDown</Code><Message>injected</Message></Error>"}]' >/dev/null
drive put s3://whse/w/t/metadata/v2.json "$T/small"
expect_eq "two SlowDown answers, then stored" "$(drive exists s3://whse/w/t/metadata/v2.json)" "yes 15"
expect_eq "... both injected" "$(grep -c '"status": 503' "$MDIR/faults.jsonl")" 2

# ---- moto restarted in the middle of an upload: retried, started over, whole
moto_fault "$FPORT" '[{"match":"s3:UploadPart","fault":"delay","seconds":3,"after":1,"times":1}]' >/dev/null
# 20 attempts of 0.2-1 s outlast the restart; moto 5.2.6 then answers 500 (not NoSuchUpload)
# to the lost upload's parts, and the client starts the upload over.
(trap - ERR; ICE_S3_RETRIES=20 "$DRIVE" put s3://whse/w/t/data/restart.parquet "$T/big" \
    2>"$T/restart.err") &
UP=$!
BG_PIDS+=("$UP")
for _ in $(seq 100); do
    grep -q '"fault": "delay"' "$MDIR/faults.jsonl" && break
    sleep 0.1
done
grep -q '"fault": "delay"' "$MDIR/faults.jsonl" || fail "the upload never reached part 2"
# Every S3 call answers 503 while moto is away and until the bucket is back.
moto_fault "$FPORT" '[{"match":"*","fault":"http","status":503,"times":0,"body":"<Error><Code>ServiceUnavailable</Code><Message>moto restarting</Message></Error>"}]' >/dev/null
moto_stop "$MDIR"
sleep 3     # the delayed part meets no moto (connection refused: no answer), then 503s
moto_start "$MDIR" "$MPORT"
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$FPORT
boto "s.create_bucket(Bucket='whse')"
moto_fault "$FPORT" '[]' >/dev/null
ok "moto restarted (its state gone) while part 2 was in flight"
if wait "$UP"; then ok "the put finished"; else fail "the put failed: $(cat "$T/restart.err")"; fi
boto "
body = s.get_object(Bucket='whse', Key='w/t/data/restart.parquet')['Body'].read()
assert body == open(sys.argv[1], 'rb').read()" "$T/big"
ok "... and the object is whole (boto3)"
# moto.log is the restarted moto's: the upload began again there.
check "... begun again on the new moto (CreateMultipartUpload in its log)" \
    grep -q 'POST /whse/w/t/data/restart.parquet?uploads' "$MDIR/moto.log"

# ---- a writer killed (SIGKILL) in the middle: its open upload is found and aborted
moto_fault "$FPORT" '[{"match":"s3:UploadPart","fault":"delay","seconds":20,"after":1,"times":1}]' >/dev/null
(trap - ERR; exec "$DRIVE" putfile s3://whse/w/t/data/killed.parquet "$T/big" 2>/dev/null) &
KP=$!
for _ in $(seq 100); do
    [ "$(grep -c '"fault": "delay"' "$MDIR/faults.jsonl")" -ge 2 ] && break
    sleep 0.1
done
kill -KILL "$KP"
{ wait "$KP"; } 2>/dev/null || true
expect_eq "a killed writer leaves its upload open (boto3)" \
    "$(boto "print([u['Key'] for u in s.list_multipart_uploads(Bucket='whse')['Uploads']])")" \
    "['w/t/data/killed.parquet']"
expect_eq "... reported by the store" "$(drive incomplete s3://whse/w/)" \
    "s3://whse/w/t/data/killed.parquet -1"
drive clean s3://whse/w/ >/dev/null
expect_eq "... and aborted: none left open" \
    "$(boto "print(len(s.list_multipart_uploads(Bucket='whse').get('Uploads', [])))")" 0
expect_eq "... nothing under its name" "$(drive exists s3://whse/w/t/data/killed.parquet)" "no"
moto_fault "$FPORT" '[]' >/dev/null
moto_faults_stop "$MDIR"

# ---- a wrong secret, with moto checking signatures
MPORT2=$(free_port)
INITIAL_NO_AUTH_ACTION_COUNT=3 moto_start "$MDIR2" "$MPORT2"
"$MOTO_PY" -c "
import boto3, json
from botocore.config import Config
c = Config(retries={'total_max_attempts': 1, 'mode': 'standard'})
iam = boto3.client('iam', endpoint_url='http://127.0.0.1:$MPORT2', config=c)
iam.create_user(UserName='cdc')
iam.put_user_policy(UserName='cdc', PolicyName='all', PolicyDocument=json.dumps(
    {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': '*', 'Resource': '*'}]}))
k = iam.create_access_key(UserName='cdc')['AccessKey']
print(k['AccessKeyId'], k['SecretAccessKey'])" >"$T/key"
read -r KID KSECRET <"$T/key"
export ICE_S3_ENDPOINT=http://127.0.0.1:$MPORT2 ICE_S3_ACCESS_KEY_ID=$KID
ICE_S3_SECRET_ACCESS_KEY=$KSECRET drive mkbucket lake
ICE_S3_SECRET_ACCESS_KEY=$KSECRET drive put s3://lake/w/ok.json "$T/small"
ok "the right key (s3_access_key_id / s3_secret_access_key) is accepted"
# Every operation's signature checked by moto: queries (uploads, partNumber&uploadId,
# list-type&prefix), a Range header, a multipart upload read from a file.
export ICE_S3_SECRET_ACCESS_KEY=$KSECRET
drive putfile s3://lake/w/big.parquet "$T/big"
drive get s3://lake/w/big.parquet "$T/lake.range" 1000 24
head -c 1024 "$T/big" | tail -c 24 >"$T/lake.want"
check "signed multipart upload and ranged GetObject" cmp -s "$T/lake.range" "$T/lake.want"
expect_eq "signed ListObjectsV2 with a prefix" "$(drive ls s3://lake/w/)" \
"s3://lake/w/big.parquet 20971520
s3://lake/w/ok.json 15"
drive rm s3://lake/w/big.parquet
expect_eq "signed DeleteObject and HeadObject" "$(drive exists s3://lake/w/big.parquet)" "no"
unset ICE_S3_SECRET_ACCESS_KEY
WRONG="wrong-${KSECRET:6}"
rc=0
ICE_S3_SECRET_ACCESS_KEY=$WRONG drive put s3://lake/w/x.json "$T/small" >"$T/wrong.out" 2>&1 || rc=$?
expect_eq "a wrong secret fails" "$rc" 1
expect_contains "... naming the bucket and the key" "$(cat "$T/wrong.out")" "s3://lake/w/x.json"
expect_contains "... and S3's reason" "$(cat "$T/wrong.out")" "403 SignatureDoesNotMatch"
if grep -qF -e "$WRONG" -e "$KSECRET" "$T/wrong.out"; then
    fail "a secret in the message: $(cat "$T/wrong.out")"
fi
ok "... without the secret: $(cut -c1-200 "$T/wrong.out")"
unset ICE_S3_ENDPOINT ICE_S3_ACCESS_KEY_ID

done_testing
