# shellcheck shell=bash
# The Google Cloud Pub/Sub REST TEST DOUBLE (test/doubles/pubsub.py) for the tests: not the
# service and not Google's emulator (neither runs here). Python 3's standard library only;
# everything lives in memory, so a stop or a kill loses every topic and message.
#
#   . test/lib/pubsub.sh
#   pubsub_start "$T/pubsub" 18085 [ARGS...]   # on 127.0.0.1:18085 (0: a free port); ARGS go to
#                                              # the double: --ordering-check strict,
#                                              # --token T, --projects a,b, --max-messages N ...
#   pubsub_host  "$T/pubsub"                   # 127.0.0.1:PORT, for PUBSUB_EMULATOR_HOST
#   pubsub_api   "$T/pubsub" METHOD PATH [JSON]  # one REST call (PATH from /v1/...), body on
#                                              # stdout, fails on a non-2xx answer
#   pubsub_fault "$T/pubsub" '{"count": 3, "status": 503}'   # POST /_double/fault
#   pubsub_knob  "$T/pubsub" METHOD WHAT [JSON]  # any /_double/WHAT knob (stats, config,
#                                              # resume, reset, messages?topic=...)
#   pubsub_pull_all "$T/pubsub" projects/P/subscriptions/S   # pulls and acks until empty;
#                                              # one JSON message a line, in delivery order
#   pubsub_stop  "$T/pubsub"                   # SIGTERM, waits; pubsub_kill: SIGKILL
#
# DIR holds pid, port and log. pubsub_start adds the pid to BG_PIDS when the caller has that
# array (test/integration/common.sh), so the test's cleanup stops the double too.
#
# The double serves the routes and request schemas of a committed subset of Google's
# discovery document, test/fixtures/pubsub/pubsub.v1.subset.json. pubsub_discovery_refresh
# makes it again from the pinned PyPI package below (pip download into the cache, no
# install), and says when the full document's checksum differs from the pinned one.

_PUBSUB_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PUBSUB_DOUBLE=$_PUBSUB_REPO/test/doubles/pubsub.py
PUBSUB_DISCOVERY_PACKAGE=google-api-python-client==2.202.0
PUBSUB_DISCOVERY_SHA256=d4347b02b05bc69cc256d7fd1ba6bc0e2ddbb1acd20669b8e41890fcea5fb983

_pubsub_err() { echo "pubsub.sh: $*" >&2; }

# pubsub_start DIR PORT [ARGS...]: starts the double, waits until it listens (10 s at most).
pubsub_start() {
    local dir=${1:?pubsub_start DIR PORT} port=${2:?pubsub_start DIR PORT} pid i p
    shift 2
    mkdir -p "$dir" || return 1
    : >"$dir/log"
    python3 "$PUBSUB_DOUBLE" --host 127.0.0.1 --port "$port" "$@" >"$dir/log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/pid"
    if declare -p BG_PIDS >/dev/null 2>&1; then BG_PIDS+=("$pid"); fi
    for ((i = 0; i < 100; i++)); do
        p=$(sed -n 's/^PORT \([0-9]*\)$/\1/p' "$dir/log" 2>/dev/null | head -n 1)
        if [ -n "$p" ]; then
            echo "$p" >"$dir/port"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            _pubsub_err "the double exited at start (port $port); its log:"
            tail -n 20 "$dir/log" >&2
            rm -f "$dir/pid"
            return 1
        fi
        sleep 0.1
    done
    _pubsub_err "the double did not listen on port $port within 10 s (log: $dir/log)"
    kill -KILL "$pid" 2>/dev/null
    rm -f "$dir/pid"
    return 1
}

pubsub_host() { echo "127.0.0.1:$(cat "${1:?pubsub_host DIR}/port")"; }

# pubsub_api DIR METHOD PATH [JSON]: prints the answer's body; non-zero on a non-2xx answer
# (the body, Google's {"error": ...}, goes to stderr then).
pubsub_api() {
    local dir=${1:?pubsub_api DIR METHOD PATH [JSON]} method=${2:?} path=${3:?} body=${4:-} out code
    out=$(curl -sS -X "$method" -H 'Content-Type: application/json' ${body:+--data-binary "$body"} \
        -w '\n%{http_code}' "http://$(pubsub_host "$dir")$path") || {
        _pubsub_err "$method $path: no answer from the double"
        return 1
    }
    code=${out##*$'\n'}
    out=${out%$'\n'*}
    if [ "${code:0:1}" != 2 ]; then
        _pubsub_err "$method $path: HTTP $code: $out"
        return 1
    fi
    printf '%s\n' "$out"
}

pubsub_knob() {
    local dir=${1:?pubsub_knob DIR METHOD WHAT [JSON]} method=${2:?} what=${3:?}
    pubsub_api "$dir" "$method" "/_double/$what" "${4:-}"
}

pubsub_fault() { pubsub_knob "${1:?pubsub_fault DIR JSON}" POST fault "${2:?pubsub_fault DIR JSON}"; }

# pubsub_pull_all DIR SUBSCRIPTION: everything the subscription has now, acknowledged as it
# is read; one message (the PubsubMessage JSON) a line, in delivery order. A message the
# service redelivers (after an ack deadline passed) comes twice, with one messageId.
pubsub_pull_all() {
    local dir=${1:?pubsub_pull_all DIR SUBSCRIPTION} sub=${2:?pubsub_pull_all DIR SUBSCRIPTION}
    python3 - "$(pubsub_host "$dir")" "$sub" <<'PY'
import http.client, json, sys
host, sub = sys.argv[1], sys.argv[2]
def call(verb, body):
    c = http.client.HTTPConnection(host, timeout=30)
    c.request("POST", "/v1/%s:%s" % (sub, verb), json.dumps(body),
              {"Content-Type": "application/json"})
    r = c.getresponse()
    out = r.read()
    if r.status != 200:
        sys.exit("pubsub_pull_all: %s %s: HTTP %d: %s" % (verb, sub, r.status, out[:500]))
    return json.loads(out or b"{}")
while True:
    got = call("pull", {"maxMessages": 1000, "returnImmediately": True}).get("receivedMessages", [])
    if not got:
        break
    for m in got:
        print(json.dumps(m["message"], sort_keys=True))
    call("acknowledge", {"ackIds": [m["ackId"] for m in got]})
PY
}

_pubsub_signal() {
    local dir=$1 sig=$2 pid i
    [ -f "$dir/pid" ] || return 0
    pid=$(cat "$dir/pid")
    kill "-$sig" "$pid" 2>/dev/null || { rm -f "$dir/pid"; return 0; }
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$dir/pid"; return 0; }
        sleep 0.1
    done
    _pubsub_err "double $pid still running after SIG$sig; killing"
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$dir/pid"
}

pubsub_stop() { _pubsub_signal "${1:?pubsub_stop DIR}" TERM; }
pubsub_kill() { _pubsub_signal "${1:?pubsub_kill DIR}" KILL; }

# pubsub_discovery_refresh: downloads the pinned google-api-python-client wheel into the
# cache (pip download, nothing installed) and writes the fixture subset again from its
# pubsub.v1.json. The fixture changes only when the pin does; review the diff.
pubsub_discovery_refresh() {
    local cache=${CDC_CACHE:-$_PUBSUB_REPO/.cache}/pubsub-discovery wheel full sum
    mkdir -p "$cache" || return 1
    if ! python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
            -d "$cache" "$PUBSUB_DISCOVERY_PACKAGE" >"$cache/pip.log" 2>&1; then
        _pubsub_err "pip download $PUBSUB_DISCOVERY_PACKAGE failed; see $cache/pip.log"
        return 1
    fi
    wheel=$(ls "$cache"/google_api_python_client-"${PUBSUB_DISCOVERY_PACKAGE##*==}"-*.whl | head -n 1)
    full=$cache/pubsub.v1.json
    python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(
        "googleapiclient/discovery_cache/documents/pubsub.v1.json"))' "$wheel" >"$full" || return 1
    sum=$(sha256sum "$full" | cut -d' ' -f1)
    [ "$sum" = "$PUBSUB_DISCOVERY_SHA256" ] ||
        _pubsub_err "pubsub.v1.json in $PUBSUB_DISCOVERY_PACKAGE has sha256 $sum, not the pinned $PUBSUB_DISCOVERY_SHA256: update the pin after reviewing the fixture's diff"
    local rev
    rev=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["revision"])' "$full")
    python3 "$PUBSUB_DOUBLE" --make-fixture "$full" "$_PUBSUB_REPO/test/fixtures/pubsub/pubsub.v1.subset.json" \
        --source-note "googleapiclient/discovery_cache/documents/pubsub.v1.json from PyPI $PUBSUB_DISCOVERY_PACKAGE (revision $rev)"
}
