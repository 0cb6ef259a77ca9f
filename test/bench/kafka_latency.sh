#!/usr/bin/env bash
# Kafka latency (prints figures; not a test).  Part 1, light traffic: how long one
# committed row takes to be readable from Kafka when rows come one at a time.  Part 2,
# steady load: commit to durable in Kafka at a steady STEADY_RATE rows/s (below).
#
# A throwaway PostgreSQL 15 and one real Kafka 3.7.1 broker (test/lib/kafka.sh).  One row
# is inserted every INTERVAL_MS (default 200) by its own psql, ROWS times (default 200).
# Measured per row, from its commit timestamp (pg_xact_commit_timestamp):
#   commit -> read    until a consumer (confluent-kafka, fetch.wait.max.ms=5, assigned to
#                     the topic's end before the first insert) has the record
#   commit -> produce the record's timestamp (CreateTime: librdkafka stamps it when the
#                     agent produces it), so the part spent before the producer
# Contenders, one after the other on the same database, each with its own slot:
#   pg_recvlogical    the ceiling: test_decoding to stdout, each INSERT line timestamped as
#                     it is read (no Kafka, so "commit -> read" is walsender to client)
#   cdcagent          transport_mode kafka, serialization json, its shipped producer
#                     defaults (linger.ms 100, no compression; idle flushed by progress())
#   cdcagent linger5  the same with kafka.properties linger.ms=5 (the default before the
#                     idle flush): what a batch-only producer gives a light stream
#   cdcagent linger1000  linger.ms=1000: without the idle flush each row would wait a second
# Percentiles are over the ROWS rows (nearest rank).  The consumer's own fetch wait (up to
# 5 ms) is part of "commit -> read" for both cdcagent runs.
#
# Part 2, steady load (STEADY=0 skips it; LIGHT=0 skips part 1).  The paced source procedure
# of direct_bench.sh (test/lib/bench.sh, bench_proc_sql steady) commits STEADY_RATE rows/s
# (default 10000) in transactions of STEADY_TXN rows (10) for STEADY_SECONDS (30) into
# public.bench, while cdcagent streams it (serialization STEADY_SER, json by default, its
# shipped producer defaults plus compression.codec) once per codec in STEADY_CODECS
# (default "none lz4 zstd"), each into its own topic of STEADY_PARTITIONS partitions (1),
# created beforehand with message.timestamp.type=LogAppendTime.  Per row:
#   latency = the record's LogAppendTime (the broker's clock when it appended the record;
#             with one broker and acks=all that is when it became durable) - the row's
#             commit timestamp at the source (track_commit_timestamp; the same host's clock)
# Printed per codec: p50/p95/p99/max (ms, millisecond resolution: LogAppendTime is in ms),
# the rate the source achieved, CPU per row (us, user+sys) of the agent and of its
# walsender over the steady run, and the agent's peak RSS.  Target (issue 25): p95 <= 60 ms
# at 10,000 rows/s.  Also the broker's CPU per row.  To see where the CPU goes:
#   STEADY_VARIANTS="p=v p=v;p=v"  more runs per codec, each with those librdkafka
#                    properties added (named codec/v1, codec/v2...), in the same run
#   STEADY_STATS=1   librdkafka statistics (statistics.interval.ms=1000) in every steady run,
#                    one summary line per run (bench_stats_summary in test/lib/bench.sh)
#   STEADY_PROFILE=perf|strace  perf record -g, or strace -c -f, attached to the agent for
#                    STEADY_PROFILE_SECONDS (10) from 5 s into each steady run; the top of
#                    each profile is printed at the end (the profiler's cost is in that run's
#                    CPU figures: profile, do not time with it)
#
# Usage: test/bench/kafka_latency.sh [ROWS]   INTERVAL_MS=..., CDCAGENT=path, KEEP_TMP=1.
# Needs: java 17, python3-venv/pip (first run: PyPI), PostgreSQL 15.  Downloads are cached
# in $CDC_CACHE, like the test harness's.
set -euo pipefail

ROWS=${1:-200}
INTERVAL_MS=${INTERVAL_MS:-200}
LIGHT=${LIGHT:-1}
STEADY=${STEADY:-1}
STEADY_RATE=${STEADY_RATE:-10000}
STEADY_TXN=${STEADY_TXN:-10}
STEADY_SECONDS=${STEADY_SECONDS:-30}
STEADY_SER=${STEADY_SER:-json}
STEADY_CODECS=${STEADY_CODECS:-none lz4 zstd}
STEADY_PARTITIONS=${STEADY_PARTITIONS:-1}
STEADY_VARIANTS=${STEADY_VARIANTS:-}
STEADY_STATS=${STEADY_STATS:-0}
STEADY_PROFILE=${STEADY_PROFILE:-}
STEADY_PROFILE_SECONDS=${STEADY_PROFILE_SECONDS:-10}
AGENT_LOG_LEVEL=warn
[ "$STEADY_STATS" = 0 ] || AGENT_LOG_LEVEL=info
SRC=$(cd "$(dirname "$0")/../.." && pwd)
CDCAGENT=${CDCAGENT:-$SRC/build/cdcagent}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/klat.XXXXXX")
PGBIN=/usr/lib/postgresql/15/bin
# shellcheck source=../lib/pg.sh
. "$SRC/test/lib/pg.sh"
# shellcheck source=../lib/kafka.sh
. "$SRC/test/lib/kafka.sh"
# shellcheck source=../lib/py.sh
. "$SRC/test/lib/py.sh"
# shellcheck source=../lib/bench.sh
. "$SRC/test/lib/bench.sh"

case "$ROWS" in *[!0-9]*|"") echo "latency: ROWS must be a number" >&2; exit 2 ;; esac
case "$INTERVAL_MS" in *[!0-9]*|"") echo "latency: INTERVAL_MS must be a number" >&2; exit 2 ;; esac
for v in "$STEADY_RATE" "$STEADY_TXN" "$STEADY_SECONDS" "$STEADY_PARTITIONS" "$STEADY_PROFILE_SECONDS"; do
    case "$v" in *[!0-9]*|""|0) echo "latency: STEADY_RATE, STEADY_TXN, STEADY_SECONDS, STEADY_PARTITIONS, STEADY_PROFILE_SECONDS must be numbers >= 1" >&2; exit 2 ;; esac
done
case "$STEADY_PROFILE" in ''|perf|strace) ;; *) echo "latency: STEADY_PROFILE: perf|strace" >&2; exit 2 ;; esac
command -v "${STEADY_PROFILE:-true}" >/dev/null || { echo "latency: STEADY_PROFILE=$STEADY_PROFILE: not installed" >&2; exit 2; }

KDIR=$WORK/kafka
AGENT_PID=
BROKER_PID=
cleanup() {
    set +e
    if [ -n "$AGENT_PID" ]; then kill -TERM "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null; fi
    bench_stop_servers "$KDIR" "$BROKER_PID" "$WORK/pg"
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "latency: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() { echo "latency: $*" >&2; }
die() { say "$*"; exit 1; }

[ -x "$CDCAGENT" ] || die "$CDCAGENT not built (cmake --build build)"
chmod 755 "$WORK"

say "installing/checking Kafka and the Python client (cached)"
kafka_install || die "kafka_install"
py_env || die "py_env"

PORT=$(bench_port_pair)
# synchronous_commit on (the harness's default too, repeated because it matters here): with
# it off a commit would reach the walsender only when the WAL writer flushes (wal_writer_delay,
# 200 ms), and every contender would show that delay.  With it on, a commit returns once its WAL is flushed, and walsenders
# are woken at once.  track_commit_timestamp gives each row's commit time (the server's
# clock: the same host's).
PG_EXTRA_CONF="synchronous_commit = on
track_commit_timestamp = on" pg_start "$WORK/pg" "$PORT" >/dev/null || die "PostgreSQL did not start"
pg_setup_cdc "$PORT" >/dev/null
sql() { pg_psql "$PORT" cdc_demo "$@"; }
sql "CREATE TABLE public.lat (id int PRIMARY KEY, note text)" \
    "ALTER TABLE public.lat OWNER TO cdc_user" \
    "CREATE PUBLICATION lat_pub FOR TABLE public.lat" \
    "CREATE TABLE public.bench (id bigint PRIMARY KEY, k int NOT NULL, payload text,
         amount numeric(12,2), at timestamptz DEFAULT now())" \
    "ALTER TABLE public.bench OWNER TO cdc_user" \
    "CREATE PUBLICATION bench_pub FOR TABLE public.bench" \
    "$(bench_proc_sql steady)"

KPORT=$(bench_port_pair)
kafka_start "$KDIR" "$KPORT" || die "Kafka broker"
B=127.0.0.1:$KPORT
BROKER_PID=$(bench_broker_jvm "$KDIR") || die "cannot find the broker's JVM"
say "PostgreSQL :$PORT, Kafka $B, $ROWS rows, one every $INTERVAL_MS ms, work dir $WORK"

# lat.py MODE FIRST_ID: inserts ROWS rows (ids FIRST_ID...), one psql each, and times
# their arrival.  MODE kafka:TOPIC reads them from Kafka; MODE recv starts pg_recvlogical
# on slot lat_recv (test_decoding) and reads its lines.  Prints one JSON line of per-row latencies (ms).
cat >"$WORK/lat.py" <<'PY'
import json, os, subprocess, sys, threading, time
mode, first = sys.argv[1], int(sys.argv[2])
rows, interval = int(os.environ["ROWS"]), int(os.environ["INTERVAL_MS"]) / 1000.0
committed, seen, produced = {}, {}, {}
lock = threading.Lock()
stop = False

env = dict(os.environ, PGPASSWORD="cdc_password")
psql = [os.environ["PSQL"], "-X", "-q", "-At", "-h", "127.0.0.1", "-p", os.environ["PORT"],
        "-U", "cdc_user", "-d", "cdc_demo", "-c"]

def reader_kafka(topic):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": os.environ["B"], "group.id": "klat",
                  "enable.auto.commit": False, "fetch.wait.max.ms": 5, "log_level": 3})
    parts = None
    for _ in range(600):
        md = c.list_topics(topic, timeout=10).topics.get(topic)
        if md is not None and md.error is None and md.partitions:
            parts = sorted(md.partitions)
            break
        time.sleep(0.1)
    if parts is None:
        sys.exit("topic %s not there after a minute" % topic)
    c.assign([TopicPartition(topic, p, c.get_watermark_offsets(TopicPartition(topic, p),
                                                                timeout=10)[1]) for p in parts])
    t_end = time.time() + 1       # connected and fetching before the first insert
    while time.time() < t_end:
        c.poll(0.05)
    ready.set()
    while not stop:
        m = c.poll(0.05)
        if m is None or m.error() or m.key() is None:
            continue
        t = time.time()
        key = json.loads(m.key())
        key = key.get("payload", key)
        with lock:
            seen[key["id"]] = t
            produced[key["id"]] = m.timestamp()[1] / 1000.0
    c.close()

recv = None
def reader_recv():
    global recv
    recv = subprocess.Popen([os.environ["RECVLOGICAL"], "-h", "127.0.0.1", "-p", os.environ["PORT"],
                             "-U", "cdc_user", "-d", "cdc_demo", "--slot", "lat_recv", "--start",
                             "-f", "-"], env=env, stdout=subprocess.PIPE, text=True)
    for _ in range(600):
        if subprocess.run(psql + ["SELECT active FROM pg_replication_slots WHERE slot_name = "
                                  "'lat_recv'"], env=env, capture_output=True,
                          text=True).stdout.strip() == "t":
            break
        time.sleep(0.1)
    ready.set()
    for line in recv.stdout:      # pg_recvlogical writes each message with write(2)
        if line.startswith("table public.lat: INSERT:"):
            t = time.time()
            rid = int(line.split("id[integer]:", 1)[1].split()[0])
            with lock:
                seen[rid] = t

ready = threading.Event()
th = threading.Thread(target=reader_kafka if mode.startswith("kafka:") else reader_recv,
                      args=(mode[6:],) if mode.startswith("kafka:") else (), daemon=True)
th.start()
if not ready.wait(120):
    sys.exit("reader not ready")
for i in range(rows):
    rid = first + i
    subprocess.run(psql + ["INSERT INTO public.lat VALUES (%d, 'x')" % rid], env=env, check=True)
    with lock:
        committed[rid] = time.time()
    time.sleep(interval)
deadline = time.time() + 30
while time.time() < deadline:
    with lock:
        if all(r in seen for r in committed):
            break
    time.sleep(0.05)
# The commit time of each row, as the server recorded it (psql's exit comes later).
out = subprocess.run(psql + ["SELECT id, extract(epoch FROM pg_xact_commit_timestamp(xmin)) "
                             "FROM public.lat WHERE id BETWEEN %d AND %d" % (first, first + rows - 1)],
                     env=env, capture_output=True, text=True, check=True).stdout
for line in out.split():
    rid, ts = line.split("|")
    if ts:
        committed[int(rid)] = float(ts)
stop = True
if recv is not None:
    recv.terminate()
with lock:
    missing = [r for r in committed if r not in seen]
    read = sorted((seen[r] - committed[r]) * 1000 for r in committed if r in seen)
    prod = sorted((produced[r] - committed[r]) * 1000 for r in committed if r in produced)
print(json.dumps({"read": read, "produce": prod, "missing": len(missing)}))
PY
export ROWS INTERVAL_MS B PORT PSQL=$PGBIN/psql RECVLOGICAL=$PGBIN/pg_recvlogical

RESULTS=$WORK/results.jsonl
: >"$RESULTS"
result() {   # result NAME FILE
    python3 - "$1" "$2" >>"$RESULTS" <<'PY'
import json, sys
d = json.load(open(sys.argv[2])); d["name"] = sys.argv[1]; print(json.dumps(d))
PY
}
NEXT_ID=1

run_recvlogical() {
    PGPASSWORD=cdc_password "$PGBIN/pg_recvlogical" -h 127.0.0.1 -p "$PORT" -U cdc_user \
        -d cdc_demo --slot lat_recv --create-slot -P test_decoding >/dev/null
    "$PY" "$WORK/lat.py" recv "$NEXT_ID" >"$WORK/lat_recv.json" || die "pg_recvlogical: the latency run failed"
    result "pg_recvlogical" "$WORK/lat_recv.json"
    NEXT_ID=$((NEXT_ID + ROWS))
}

# agent_start TAG TABLE PUBLICATION SERIALIZATION PARTITIONS PROPS_YAML: cdcagent in the
# background (AGENT_PID) with topic prefix and slot TAG, once its slot is active.
agent_start() {
    local tag=$1 table=$2 pub=$3 ser=$4 nparts=$5 props=$6 i
    cat >"$WORK/p_$tag.yaml" <<YAML
pipeline_id: klat-$tag
topic_prefix: $tag
source:
  host: 127.0.0.1
  port: $PORT
  database: cdc_demo
  username: cdc_user
  password: cdc_password
  tables: [$table]
  slot_name: $tag
  publication_name: $pub
  snapshot_mode: never
sinks:
  - sink_id: unused
    sink_type: jsonl
    jsonl:
      path: /dev/null
YAML
    cat >"$WORK/platform_$tag.yaml" <<YAML
transport_mode: kafka
health_enabled: false
kafka:
  bootstrap_servers: $B
  serialization: $ser
  topic_num_partitions: $nparts
$props
agent:
  log_level: $AGENT_LOG_LEVEL
YAML
    "$CDCAGENT" run "$WORK/p_$tag.yaml" --platform-config "$WORK/platform_$tag.yaml" \
        >"$WORK/agent_$tag.log" 2>&1 &
    AGENT_PID=$!
    for ((i = 0; i < 600; i++)); do
        kill -0 "$AGENT_PID" 2>/dev/null || { tail -n 20 "$WORK/agent_$tag.log" >&2; die "cdcagent ($tag) exited"; }
        [ "$(sql "SELECT active FROM pg_replication_slots WHERE slot_name = '$tag'")" = t ] && return 0
        sleep 0.1
    done
    die "cdcagent ($tag): the slot did not become active"
}

run_agent() {   # run_agent NAME PROPS_YAML
    local name=$1 props=$2 tag=lat_${1// /_} topic
    topic="$tag.public.lat"
    agent_start "$tag" public.lat lat_pub json 1 "$props"
    "$PY" "$WORK/lat.py" "kafka:$topic" "$NEXT_ID" >"$WORK/$tag.json" \
        || die "cdcagent ($name): the latency run failed"
    kill -TERM "$AGENT_PID"
    wait "$AGENT_PID" || true
    AGENT_PID=
    result "cdcagent $name" "$WORK/$tag.json"
    NEXT_ID=$((NEXT_ID + ROWS))
}

if [ "$LIGHT" != 0 ]; then
    run_recvlogical
    run_agent "defaults" ""
    run_agent "linger5" "  properties:
    \"linger.ms\": \"5\""
    run_agent "linger1000" "  properties:
    \"linger.ms\": \"1000\""
fi

# ---------------------------------------------------------------- part 2: steady load
# steady.py consume BOOTSTRAP TOPIC N OUT: waits until the topic's end offsets sum to N (up
# to 300 s), then reads every record and writes "id<TAB>LogAppendTime seconds" lines to OUT.
# steady.py create BOOTSTRAP TOPIC PARTITIONS: the topic, with LogAppendTime.
cat >"$WORK/steady.py" <<'PY'
import json, sys, time
from confluent_kafka import Consumer, TopicPartition, TIMESTAMP_LOG_APPEND_TIME
from confluent_kafka.admin import AdminClient, NewTopic
cmd, boot, topic = sys.argv[1:4]
if cmd == "create":
    a = AdminClient({"bootstrap.servers": boot})
    f = a.create_topics([NewTopic(topic, int(sys.argv[4]), 1,
                                  config={"message.timestamp.type": "LogAppendTime"})])
    f[topic].result(30)
    sys.exit(0)
n, out = int(sys.argv[4]), sys.argv[5]
c = Consumer({"bootstrap.servers": boot, "group.id": "ksteady", "enable.auto.commit": False,
              "log_level": 3})
parts = sorted(c.list_topics(topic, timeout=10).topics[topic].partitions)
deadline = time.time() + 300
while True:
    total = sum(c.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)[1]
                for p in parts)
    if total >= n:
        break
    if time.time() > deadline:
        sys.exit("steady: %s holds %d of %d records after 300 s" % (topic, total, n))
    time.sleep(0.1)
print(time.time())      # when the last record was seen: the agent's figures are read now
sys.stdout.flush()
c.assign([TopicPartition(topic, p, 0) for p in parts])
seen = {}
while len(seen) < n:
    m = c.poll(5)
    if m is None:
        sys.exit("steady: %d of %d records read back" % (len(seen), n))
    if m.error():
        continue
    tt, ts = m.timestamp()
    if tt != TIMESTAMP_LOG_APPEND_TIME:
        sys.exit("steady: record timestamp type %d, not LogAppendTime" % tt)
    key = json.loads(m.key())
    seen[key.get("payload", key)["id"]] = ts / 1000.0
c.close()
with open(out, "w") as f:
    for k, v in seen.items():
        f.write("%d\t%.3f\n" % (k, v))
PY

# proc_cpu_hwm PID: "cpu_seconds vmhwm_kib" of a live process.
proc_cpu_hwm() {
    awk -v tick="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f ", ($12 + $13) / tick }' \
        "/proc/$1/stat"
    awk '/^VmHWM/ { print $2 }' "/proc/$1/status"
}

STEADY_OUT=$WORK/steady.tsv
: >"$STEADY_OUT"
STEADY_FIRST=1
# steady_variant N: the properties of variant N (1-based) of STEADY_VARIANTS.
steady_variant() { local IFS=';'; local -a v; read -r -a v <<<"$STEADY_VARIANTS"; echo "${v[$(($1 - 1))]}"; }
# steady_profile TAG: STEADY_PROFILE attached to the agent, in the background (PROF_PID).
steady_profile() {
    local out=$WORK/prof_$1
    case "$STEADY_PROFILE" in
    perf) (sleep 5; perf record -q -g -F 999 -p "$AGENT_PID" -o "$out.data" -- sleep "$STEADY_PROFILE_SECONDS") \
              >"$out.log" 2>&1 & ;;
    strace) (sleep 5; timeout -s INT "$STEADY_PROFILE_SECONDS" strace -c -f -p "$AGENT_PID" -o "$out.txt") \
              >"$out.log" 2>&1 & ;;
    esac
    PROF_PID=$!
}
steady_profile_report() {   # steady_profile_report TAG NAME: the top of the profile
    local out=$WORK/prof_$1
    wait "$PROF_PID" || true
    echo "== $STEADY_PROFILE: $2, ${STEADY_PROFILE_SECONDS} s of the steady run"
    case "$STEADY_PROFILE" in
    perf) perf report -i "$out.data" --no-children --sort dso,symbol --percent-limit 1.5 \
              --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' | head -n 30 ;;
    strace) head -n 25 "$out.txt" ;;
    esac
}
STEADY_EXTRA=$WORK/steady_extra.txt
: >"$STEADY_EXTRA"
run_steady() {   # run_steady CODEC [VARIANT]: VARIANT N adds STEADY_VARIANTS' Nth properties
    local codec=$1 vi=${2:-} tag=steady_$1${2:+_v$2} topic slot n t0 t1 a0 a1 w0 w1 b0 b1 wpid m cpid
    local name=$codec${2:+/v$2} kv props
    topic="$tag.public.bench"; slot=$tag
    n=$(( (STEADY_RATE * STEADY_SECONDS / STEADY_TXN) * STEADY_TXN ))
    "$PY" "$WORK/steady.py" create "$B" "$topic" "$STEADY_PARTITIONS" || die "creating $topic failed"
    props="  properties:
    \"compression.codec\": \"$codec\""
    [ "$STEADY_STATS" = 0 ] || props+=$'\n    "statistics.interval.ms": "1000"'
    for kv in ${vi:+$(steady_variant "$vi")}; do props+=$'\n'"    \"${kv%%=*}\": \"${kv#*=}\""; done
    agent_start "$tag" public.bench bench_pub "$STEADY_SER" "$STEADY_PARTITIONS" "$props"
    wpid=$(sql "SELECT active_pid FROM pg_replication_slots WHERE slot_name = '$slot' AND active")
    [ -n "$wpid" ] || die "cdcagent ($tag): the slot did not become active"
    read -r a0 _ < <(proc_cpu_hwm "$AGENT_PID")
    read -r w0 _ < <(proc_cpu_hwm "$wpid")
    read -r b0 _ < <(proc_cpu_hwm "$BROKER_PID")
    [ -z "$STEADY_PROFILE" ] || steady_profile "$tag"
    t0=$(date +%s.%N)
    sql "CALL steady($STEADY_FIRST, $STEADY_RATE, $STEADY_SECONDS, $STEADY_TXN)"
    t1=$(date +%s.%N)
    "$PY" "$WORK/steady.py" consume "$B" "$topic" "$n" "$WORK/kafka_$tag.tsv" >"$WORK/seen_$tag" &
    cpid=$!
    while [ ! -s "$WORK/seen_$tag" ] && kill -0 "$cpid" 2>/dev/null; do sleep 0.05; done
    read -r a1 m < <(proc_cpu_hwm "$AGENT_PID")
    read -r w1 _ < <(proc_cpu_hwm "$wpid")
    read -r b1 _ < <(proc_cpu_hwm "$BROKER_PID")
    wait "$cpid" || die "cdcagent ($tag): reading the topic back failed"
    [ "$STEADY_STATS" = 0 ] || bench_stats_summary "$name" "$WORK/agent_$tag.log" >>"$WORK/steady_stats.txt"
    [ -z "$STEADY_PROFILE" ] || steady_profile_report "$tag" "$name" >>"$STEADY_EXTRA"
    kill -TERM "$AGENT_PID"
    wait "$AGENT_PID" || true
    AGENT_PID=
    sql "COPY (SELECT id, extract(epoch FROM pg_xact_commit_timestamp(xmin)) FROM public.bench
               WHERE id BETWEEN $STEADY_FIRST AND $((STEADY_FIRST + n - 1))) TO STDOUT" >"$WORK/src_$tag.tsv"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$n" "$(python3 -c "print($t1 - $t0)")" \
        "$(python3 -c "print($a1 - $a0)")" "$(python3 -c "print($w1 - $w0)")" "$m" \
        "$WORK/src_$tag.tsv" "$WORK/kafka_$tag.tsv" "$STEADY_FIRST" "$(python3 -c "print($b1 - $b0)")" >>"$STEADY_OUT"
    STEADY_FIRST=$((STEADY_FIRST + n))
}

if [ "$STEADY" != 0 ]; then
    for codec in $STEADY_CODECS; do
        say "steady: $STEADY_RATE rows/s for $STEADY_SECONDS s, compression.codec $codec"
        run_steady "$codec"
        for ((vi = 1; vi <= $(awk -F';' '{ print NF }' <<<"$STEADY_VARIANTS"); vi++)); do
            say "steady: $codec, v$vi ($(steady_variant "$vi"))"
            run_steady "$codec" "$vi"
        done
    done
fi

if [ "$LIGHT" != 0 ]; then
echo "Kafka light-traffic latency: $ROWS rows, one every $INTERVAL_MS ms ($(nproc) cores)"
python3 - "$RESULTS" <<'PY'
import json, sys
def pct(v, p):
    return v[min(len(v) - 1, max(0, int(round(p / 100.0 * len(v))) - 1))] if v else float("nan")
print("%-20s %-15s %8s %8s %8s %8s %8s" % ("contender", "ms from commit", "p50", "p95", "p99", "max", "missing"))
for line in open(sys.argv[1]):
    d = json.loads(line)
    for what, key in (("to read", "read"), ("to produce", "produce")):
        v = d.get(key) or []
        if not v:
            continue
        print("%-20s %-15s %8.1f %8.1f %8.1f %8.1f %8s" % (d["name"], what, pct(v, 50), pct(v, 95),
              pct(v, 99), v[-1], d["missing"] if key == "read" else ""))
PY
fi
if [ "$STEADY" != 0 ]; then
echo
echo "Kafka steady load: $STEADY_RATE rows/s for $STEADY_SECONDS s in transactions of $STEADY_TXN rows," \
     "$STEADY_SER, $STEADY_PARTITIONS partition(s), topics with LogAppendTime ($(nproc) cores," \
     "load average $(cut -d' ' -f1-3 /proc/loadavg))"
python3 - "$STEADY_OUT" <<'PY'
import sys
print("%-8s %9s %9s %8s %8s %8s %8s %9s %10s %9s %8s" % ("codec", "rows", "rows/s", "p50 ms",
      "p95 ms", "p99 ms", "max ms", "agent us", "walsnd us", "broker us", "RSS MiB"))
for line in open(sys.argv[1]):
    codec, n, secs, acpu, wcpu, hwm, srcf, kf, first, bcpu = line.rstrip("\n").split("\t")
    n = int(n)
    src = dict(l.split("\t") for l in open(srcf).read().split("\n") if l)
    kaf = dict(l.split("\t") for l in open(kf).read().split("\n") if l)
    if len(src) != n or set(src) != set(kaf):
        sys.exit("steady %s: %d source rows, %d records, %d in common, expected %d"
                 % (codec, len(src), len(kaf), len(set(src) & set(kaf)), n))
    lat = sorted((float(kaf[k]) - float(src[k])) * 1000 for k in src)
    pct = lambda p: lat[min(len(lat) - 1, max(0, int(round(p / 100.0 * len(lat))) - 1))]
    print("%-8s %9d %9.0f %8.1f %8.1f %8.1f %8.1f %9.2f %10.2f %9.2f %8.1f" % (
        codec, n, n / float(secs), pct(50), pct(95), pct(99), lat[-1],
        float(acpu) * 1e6 / n, float(wcpu) * 1e6 / n, float(bcpu) * 1e6 / n, int(hwm) / 1024.0))
print("latency: the record's LogAppendTime - the row's commit timestamp (ms resolution); "
      "us: CPU per row (user+sys) over the steady run; target p95 <= 60 ms at 10,000 rows/s")
PY
for ((vi = 1; vi <= $(awk -F';' '{ print NF }' <<<"$STEADY_VARIANTS"); vi++)); do
    echo "v$vi: $(steady_variant "$vi")"
done
if [ "$STEADY_STATS" != 0 ]; then
    echo
    bench_stats_header
    cat "$WORK/steady_stats.txt"
    echo "(n: 1 s intervals with records sent; columns as in kafka_bench.sh STATS=1)"
fi
[ -z "$STEADY_PROFILE" ] || { echo; cat "$STEADY_EXTRA"; }
fi
