# shellcheck shell=bash
# moto's server (PyPI, pinned, cached) as the tests' Kinesis, DynamoDB, STS and S3, on loopback.
#
#   . test/lib/moto.sh
#   moto_install               once: a venv $MOTO_VENV with the pins below (git-ignored cache)
#   moto_start DIR PORT        moto_server on 127.0.0.1:PORT, log DIR/moto.log, pid DIR/pid;
#                              returns once /moto-api/ answers; then calls moto_env PORT
#   moto_env PORT              exports what the agent and boto3 use: AWS_ENDPOINT_URL,
#                              AWS_REGION (+AWS_DEFAULT_REGION), dummy AWS_ACCESS_KEY_ID and
#                              AWS_SECRET_ACCESS_KEY; unsets AWS_SESSION_TOKEN, AWS_PROFILE
#                              and the per-service AWS_ENDPOINT_URL_*; points
#                              AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE at /dev/null
#                              so nothing of the host's ~/.aws leaks in
#   moto_reset PORT            forgets every stream, table and role (POST /moto-api/reset)
#   moto_stop DIR              SIGTERM to moto, waits (a fault proxy, below, stays: a test can
#                              restart moto behind it); moto_kill DIR: SIGKILL to both
#   $MOTO_PY test/lib/aws_read.py ...   read back streams and tables (see its --help)
#
# Faults (moto has none of its own, see below): a proxy, test/lib/aws_faults.py, in front:
#   moto_faults_start DIR PORT  the proxy on 127.0.0.1:PORT forwarding to DIR's moto; log of
#                              injected faults DIR/faults.jsonl; AWS_ENDPOINT_URL -> the proxy
#   moto_fault PORT 'RULES'    sets the rules (JSON list, see aws_faults.py), prints the state:
#     moto_fault "$FP" '[{"match":"PutRecords","fault":"throttle","times":3}]'
#     moto_fault "$FP" '[{"match":"PutRecords","fault":"partial","fail":"keys:k7"}]'
#     moto_fault "$FP" '[]'    clears them
#   moto_faults_stop DIR       stops the proxy; AWS_ENDPOINT_URL back to moto itself
#
# What moto 5.2.6 does with what issue 19 needs (read in moto's source, kinesis/models.py,
# kinesis/utils.py, sts/responses.py, dynamodb/responses.py, iam/access_control.py,
# moto_api/_internal/urls.py, and checked by test/integration/509_moto_harness.sh):
# - PutRecords limits ARE enforced, each for the WHOLE request (never per record):
#   > 500 records -> 400 ValidationException; sum of Data+PartitionKey bytes > 5 MiB
#   (5,242,880) -> 400 InvalidArgumentException "Records size exceeds 5 MB limit"; one
#   record's Data+PartitionKey > 1 MiB (1,048,576) -> 400 ValidationException naming
#   records.N.member.data.  A partition key longer than 256 characters -> 400
#   InvalidArgumentException.  PutRecord, the single-record call, checks the key length but
#   no size: it stores a 2 MiB record.  Empty Data is accepted by both.  A missing stream
#   -> 400 ResourceNotFoundException.
# - PutRecords NEVER answers a partial failure (FailedRecordCount is always 0) and moto never
#   throttles (no ProvisionedThroughputExceededException anywhere in its Kinesis code).
#   moto has NO fault injection: its /moto-api/ endpoints are reset, seed, config, data.json,
#   static results for a few other services (athena, sagemaker, ...), state-manager
#   transitions, proxy passthrough and a request recorder; none touches Kinesis or DynamoDB.
#   Throttling, partial failures and broken answers come from test/lib/aws_faults.py (below).
# - Shard iterators: TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER and
#   AT_TIMESTAMP all work.  Sequence numbers are per-SHARD counters "1", "2", ... (AWS: long
#   decimal strings, increasing within a shard): compare them as integers, per shard.
# - STS AssumeRoleWithWebIdentity answers with temporary credentials (AccessKeyId starting
#   "ASIA", SecretAccessKey, SessionToken, Expiration); it does NOT check the web-identity
#   token or that the role exists.  AssumeRole and GetCallerIdentity (account 123456789012)
#   answer too.  Stream ARNs: arn:aws:kinesis:REGION:123456789012:stream/NAME.
# - DynamoDB conditional writes work: PutItem/UpdateItem with ConditionExpression
#   (attribute_not_exists, comparisons) answer ConditionalCheckFailedException when false.
# - Signatures: by default moto accepts any credentials and never checks SigV4.  With the
#   environment variable INITIAL_NO_AUTH_ACTION_COUNT=N (set before moto_start), requests
#   after the first N are authenticated against IAM users moto holds: a wrong secret gets
#   403 SignatureDoesNotMatch, an unknown key 403 InvalidClientTokenId (iam/access_control.py):
#   a real check of our SigV4 signing.  Unlike AWS, these 403s come with an XML ErrorResponse
#   body (<Code>SignatureDoesNotMatch</Code>) even from the JSON services Kinesis and DynamoDB,
#   where AWS answers JSON {"__type": ...}: an error parser must cope with both.
# - Concurrency: moto's Kinesis is not safe for concurrent writes to one shard (measured:
#   12,000 records sent by 8 threads, 11,983 stored, all 12,000 answered as stored), so
#   moto_start runs it through test/lib/moto_server.py, one request at a time.
# - State is in memory: a moto restart forgets every stream and table (a "server restart"
#   test must re-create them, or use the recorder's replay).
# - S3 (read in moto's s3/models.py and s3/responses.py, checked by
#   test/integration/660_s3_store_moto.sh): path-style requests on the same port; bucket
#   names of 3 to 63 characters (a 2-character name is 400 InvalidBucketName); ListObjectsV2
#   pages at 1,000 keys with a continuation token; a part smaller than 5 MiB (but the last)
#   is refused only at CompleteMultipartUpload (400 EntityTooSmall); an UploadPart to an
#   upload moto no longer knows (after a restart) answers 500 with an HTML page, not AWS's
#   404 NoSuchUpload; parts sent with libcurl's default Content-Type
#   (application/x-www-form-urlencoded, werkzeug reads such a body as a form) made moto
#   refuse the completion with EntityTooSmall, and the same parts as
#   application/octet-stream go through: every body must carry its own Content-Type.  With INITIAL_NO_AUTH_ACTION_COUNT, S3
#   checks signatures too (403 SignatureDoesNotMatch with an XML <Error> as AWS does).
#
# Debezium Server for the reference: test/lib/dbz_server.sh (debezium-server-dist 2.7.3.Final
# from Maven Central; its dist and kinesis artifacts are not there at 2.7.4.Final, although
# debezium-server-core is), run against moto by 511.  Its AWS SDK (2.13)
# speaks CBOR to Kinesis unless aws.cborEnabled=false, and moto answers CBOR with 500.

_MOTO_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CDC_CACHE=${CDC_CACHE:-$_MOTO_REPO/.cache}
# shellcheck source=SCRIPTDIR/py.sh
. "$_MOTO_REPO/test/lib/py.sh"    # py_venv_install
MOTO_VERSION=5.2.6
# boto3 and botocore pinned to what pip resolved with moto 5.2.6 on 2026-12-06.
MOTO_PACKAGES=("moto[server]==$MOTO_VERSION" boto3==1.44.18 botocore==1.44.18)
MOTO_VENV=$CDC_CACHE/venv-moto-$MOTO_VERSION
MOTO_PY=$MOTO_VENV/bin/python3
MOTO_AWS_READ=$_MOTO_REPO/test/lib/aws_read.py

_moto_err() { echo "moto.sh: $*" >&2; }

moto_install() {
    py_venv_install moto.sh "$MOTO_VENV" "$MOTO_VENV/.installed" "$MOTO_VENV.log" \
        -- "${MOTO_PACKAGES[@]}"
}

moto_env() {
    local port=${1:?moto_env PORT} v
    export AWS_ENDPOINT_URL=http://127.0.0.1:$port
    export AWS_REGION=${MOTO_REGION:-us-east-1}
    export AWS_DEFAULT_REGION=$AWS_REGION
    # Dummy credentials: moto accepts any unless INITIAL_NO_AUTH_ACTION_COUNT is set.
    export AWS_ACCESS_KEY_ID=AKIAMOTOTESTKEY00001
    export AWS_SECRET_ACCESS_KEY=moto-dummy-secret-not-a-real-one
    export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
    unset AWS_SESSION_TOKEN AWS_PROFILE AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN
    for v in KINESIS DYNAMODB STS S3; do unset "AWS_ENDPOINT_URL_$v"; done
}

# _moto_up PORT: true once moto's own API answers on PORT.
_moto_up() {
    curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$1/moto-api/data.json"
}

moto_start() {
    local dir=${1:?moto_start DIR PORT} port=${2:?moto_start DIR PORT} i pid
    moto_install || return 1
    mkdir -p "$dir"
    if _moto_up "$port"; then
        _moto_err "something already answers on 127.0.0.1:$port"
        return 1
    fi
    echo "$port" >"$dir/port"
    # exec: $! is python's own pid, so moto_stop signals the server itself.
    # moto_server.py: moto.server with one request at a time (moto loses records when two
    # PutRecords reach one shard at once; see that file).
    (exec "$MOTO_PY" "$_MOTO_REPO/test/lib/moto_server.py" -H 127.0.0.1 -p "$port" \
        >"$dir/moto.log" 2>&1) &
    pid=$!
    echo "$pid" >"$dir/pid"
    for ((i = 0; i < 300; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            _moto_err "moto_server exited; last lines of $dir/moto.log:"
            tail -n 20 "$dir/moto.log" >&2
            return 1
        fi
        if _moto_up "$port"; then
            moto_env "$port"
            return 0
        fi
        sleep 0.1
    done
    _moto_err "moto_server on 127.0.0.1:$port not answering after 30 s; see $dir/moto.log"
    return 1
}

moto_reset() {
    curl -sf -o /dev/null -X POST "http://127.0.0.1:${1:?moto_reset PORT}/moto-api/reset"
}

# _moto_signal DIR SIG [PIDFILE]: signals the process of DIR/PIDFILE (pid), waits for it.
_moto_signal() {
    local dir=$1 sig=$2 pf=$1/${3:-pid} pid i
    [ -f "$pf" ] || return 0
    pid=$(cat "$pf")
    kill "-$sig" "$pid" 2>/dev/null || { rm -f "$pf"; return 0; }
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null || true   # only a child of this shell can be waited for
    rm -f "$pf"
    return 0
}

moto_stop() { _moto_signal "${1:?moto_stop DIR}" TERM; }
moto_kill() {
    _moto_signal "${1:?moto_kill DIR}" KILL faults.pid
    _moto_signal "$1" KILL
}

moto_faults_start() {
    local dir=${1:?moto_faults_start DIR PORT} port=${2:?moto_faults_start DIR PORT} i pid
    [ -f "$dir/port" ] || { _moto_err "no moto started in $dir"; return 1; }
    (exec "$MOTO_PY" "$_MOTO_REPO/test/lib/aws_faults.py" "$port" "$(cat "$dir/port")" \
        "$dir/faults.jsonl" >"$dir/faults.log" 2>&1) &
    pid=$!
    echo "$pid" >"$dir/faults.pid"
    echo "$port" >"$dir/faults.port"
    for ((i = 0; i < 100; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            _moto_err "aws_faults.py exited; see $dir/faults.log:"
            tail -n 20 "$dir/faults.log" >&2
            return 1
        fi
        if curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$port/__health"; then
            export AWS_ENDPOINT_URL=http://127.0.0.1:$port
            return 0
        fi
        sleep 0.1
    done
    _moto_err "aws_faults.py on 127.0.0.1:$port not answering after 10 s"
    return 1
}

moto_fault() {
    curl -sf --max-time 5 -X POST --data-binary "${2:?moto_fault PORT RULES}" \
        "http://127.0.0.1:${1:?moto_fault PORT RULES}/__faults" || {
        _moto_err "rules refused by the proxy on port $1: $2"
        return 1
    }
}

moto_faults_stop() {
    local dir=${1:?moto_faults_stop DIR}
    _moto_signal "$dir" TERM faults.pid
    [ -f "$dir/port" ] && export AWS_ENDPOINT_URL=http://127.0.0.1:$(cat "$dir/port")
    return 0
}
