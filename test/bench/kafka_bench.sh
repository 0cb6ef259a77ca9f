#!/usr/bin/env bash
# Kafka end-to-end benchmark: cdcagent against Debezium 2.7 on Kafka Connect, into the same
# real broker, in the same run (prints figures; not a test).
#
# A throwaway PostgreSQL 15, one real Kafka 3.7.1 broker (test/lib/kafka.sh), the Schema
# Registry double (test/doubles/schema_registry.py).  For each backlog shape
#   big   - one transaction of ROWS inserts
#   small - ROWS/5 transactions of 5 inserts each (200,000 for the default 1,000,000)
# a base slot is created before the backlog is written; after it, four copies of it are made
# (pg_copy_logical_replication_slot), so every contender decodes the identical WAL:
#   pg_recvlogical   the ceiling: reads the slot to --endpos, decodes nothing, no Kafka
#   cdcagent avro    transport_mode kafka, serialization avro (registry double)
#   cdcagent json    transport_mode kafka, serialization json (JsonConverter, schemas on)
#   debezium json    Debezium's PostgreSQL connector on Kafka Connect 3.7.1 standalone,
#                    JsonConverter with schemas (the same bytes cdcagent json writes), once
#                    per release in DBZ_VERSIONS (default "2.7.4.Final 3.6.1.Final": what the
#                    platform runs and the current release, test/lib/connect.sh pins both)
# each with its own topic prefix (bench_<shape>_<ser>_<codec>, dbz_<shape>_<version>), run
# one after the other, topics with PARTITIONS partitions each (default 1; the records' keys
# spread over them: cdcagent's murmur2 partitioner, Debezium's Connect default).
#
# What is measured, per contender:
#   rows/s     ROWS / the time until every record is acknowledged by the broker:
#              cdcagent: process start to exit; it runs with agent.stop_lsn = the WAL
#                end after the backlog, so it exits once everything is durable in Kafka
#                (and confirmed to PostgreSQL).  The topic's end offset is checked after.
#              Debezium: Kafka Connect (the JVM, the worker, plugin scanning, REST) is started
#                FIRST with no connector; the clock starts when the connector is created
#                through the REST API (POST /connectors) and stops when a poller sees the
#                topic's end offsets sum to ROWS.  So JVM start-up is not counted, while
#                the connector's own start (connecting, reading the slot and the schema) is,
#                as cdcagent's is.
#              pg_recvlogical: process start to exit (--endpos).
#   rows/s@1st ROWS / (all acknowledged - the moment the poller first saw a record in the
#              topic): throughput with every start-up cost removed, for both Kafka tools.
#   CPU s      user+system seconds of the process over the measured interval (cdcagent,
#              pg_recvlogical: /usr/bin/time; Debezium: /proc/<pid>/stat utime+stime
#              from the POST to the last record, so JVM start-up CPU is excluded).
#   broker CPU the broker JVM's user+system seconds over the same interval.
#   walsender  the source server's CPU seconds (postmaster, backends, walsenders, exited ones
#              included: bench_cluster_cpu) over the same interval: the walsender's decoding.
#   us/row     CPU seconds / ROWS, in microseconds: for the contender itself (agent), the
#              source server (walsnd) and the broker; comparable across a loaded machine
#              where rows/s is not.
#   peak RSS   VmHWM: /usr/bin/time %M for cdcagent and pg_recvlogical; for Debezium, the
#              Connect JVM's VmHWM read when the last record is seen (its whole lifetime).
#
# Debezium's throughput settings (documented ones; override with the DBZ_* variables):
#   connector  max.batch.size=20480, max.queue.size=81920, poll.interval.ms=100
#   worker     producer.linger.ms=10, producer.batch.size=262144, offset.flush.interval.ms=10000
#   JVM        -Xms256m -Xmx1g, the JDK's default collector (G1) and full JIT (C2)
# Connect's own producer defaults (acks=all, max.in.flight=1 for ordering) are left alone.
# Compression is the same on both sides unless told otherwise: COMPRESSION (default lz4,
# cdcagent's opt-in; its shipped default is none) is cdcagent's compression.codec,
# DBZ_COMPRESSION (default: the same) Connect's producer.compression.type.  none is both
# tools' out-of-the-box producer, so COMPRESSION=none DBZ_COMPRESSION=none compares defaults.
# cdcagent runs with its shipped producer defaults (linger.ms=100, librdkafka's 1 MB batches,
# acks=all, idempotence; compression as above) and agent.memory_limit_mb=$AGENT_MEMORY_MB (16, as capture_bench.sh:
# bigger transactions spill to disk).
#
# Usage: test/bench/kafka_bench.sh [ROWS]          (default 1000000; e.g. 100000 for a quick
#        check).  CODECS="none lz4 zstd" runs cdcagent once per codec (default: COMPRESSION),
#        SERS="avro json" (default both), SHAPES="big small" (default both), PARTITIONS=N
#        (default 1), so one run compares codecs, serializations and the ceiling; e.g.
#          DBZ=0 CODECS="none lz4 zstd" PARTITIONS=4 test/bench/kafka_bench.sh 300000
#        ROUNDS=N (default 3): N interleaved rounds, each running every contender once in
#        the same order on fresh slot copies and topics; the table prints per contender the
#        median of each figure, x recv as the ratio of the medians and "x range" as the
#        lowest and highest per-round ratio (ROUNDS=1: one run each, as before).
#        STATS=1 turns on librdkafka's statistics (statistics.interval.ms=500) in every
#        cdcagent run and prints a summary per run (batch sizes, requests in flight, rtt,
#        int_latency, outbuf: see "kafka statistics" in docs/kafka.md).
#        VARIANTS="batch.size=4000000;linger.ms=20" adds cdcagent runs with those properties
#        (v1, v2... with their ratio to the plain run); PERF=1 profiles cdcagent (perf).  CDCAGENT=path picks a build; KEEP_TMP=1 keeps the work directory;
#        AGENT_KAFKA_PROPS="queue.buffering.max.kbytes=65536 ..." passes librdkafka
#        properties to cdcagent (kafka.properties); DBZ_* and AGENT_MEMORY_MB as above.
#        CDCAGENT_BASE=path adds a second build ("base avro", "base json" rows and the
#        this/base ratios) on copies of the same slot; DBZ=0 leaves Debezium out.
#        The first Kafka contender of a run meets a cold broker (its JIT, the coordinator
#        still loading): in six 1M-row runs it showed ~2x broker CPU and ~20 MiB more agent
#        RSS whichever build it was.  For before/after, run again with the two swapped.
# Needs: java 17, mvn (first run: Maven Central), python3-venv/pip (first run: PyPI),
# /usr/bin/time, curl, PostgreSQL 15.  Everything downloaded is cached in $CDC_CACHE.
set -euo pipefail

ROWS=${1:-1000000}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
CDCAGENT=${CDCAGENT:-$SRC/build/cdcagent}
CDCAGENT_BASE=${CDCAGENT_BASE:-}   # a second build, run on its own slot copies (before/after)
DBZ=${DBZ:-1}                     # 0: leave Debezium out (a quick before/after of two builds)
DBZ_VERSIONS=${DBZ_VERSIONS:-2.7.4.Final 3.6.1.Final}
AGENT_MEMORY_MB=${AGENT_MEMORY_MB:-16}
DBZ_MAX_BATCH=${DBZ_MAX_BATCH:-20480}
DBZ_MAX_QUEUE=${DBZ_MAX_QUEUE:-81920}
DBZ_LINGER_MS=${DBZ_LINGER_MS:-10}
DBZ_BATCH_BYTES=${DBZ_BATCH_BYTES:-262144}
COMPRESSION=${COMPRESSION:-lz4}
DBZ_COMPRESSION=${DBZ_COMPRESSION:-$COMPRESSION}
CODECS=${CODECS:-$COMPRESSION}
SERS=${SERS:-avro json}
SHAPES=${SHAPES:-big small}
PARTITIONS=${PARTITIONS:-1}
STATS=${STATS:-0}
# ROUNDS=N: every contender runs N times, interleaved (round 1 runs each once in order, then
# round 2...), each run on its own slot copy and topics; the table prints medians.
ROUNDS=${ROUNDS:-3}
RND=1   # the round being run: a suffix (_rN) of every slot, topic prefix and file of a run
case "$ROUNDS" in ''|*[!0-9]*|0) echo "bench: ROUNDS must be a number >= 1" >&2; exit 2 ;; esac
case "$PARTITIONS" in ''|*[!0-9]*|0) echo "bench: PARTITIONS must be a number >= 1" >&2; exit 2 ;; esac
for c in $SERS; do
    case "$c" in avro|json) ;; *) echo "bench: SERS: avro|json" >&2; exit 2 ;; esac
done
for c in $SHAPES; do
    case "$c" in big|small) ;; *) echo "bench: SHAPES: big|small" >&2; exit 2 ;; esac
done
for c in $CODECS "$DBZ_COMPRESSION"; do
    case "$c" in none|gzip|snappy|lz4|zstd) ;; *) echo "bench: CODECS, COMPRESSION, DBZ_COMPRESSION: none|gzip|snappy|lz4|zstd" >&2; exit 2 ;; esac
done
DBZ_JVM=${DBZ_JVM:--Xms256m -Xmx1g}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-900}
# AGENT_KAFKA_PROPS="name=value ...": librdkafka properties for cdcagent (kafka.properties).
AGENT_KAFKA_PROPS=${AGENT_KAFKA_PROPS:-}
[ "$STATS" = 0 ] || AGENT_KAFKA_PROPS="statistics.interval.ms=500 $AGENT_KAFKA_PROPS"
# VARIANTS="p=v p=v;p=v": more cdcagent runs of the same build, one per ';'-separated set
# of librdkafka properties added to AGENT_KAFKA_PROPS, named v1, v2... in the table.
VARIANTS=${VARIANTS:-}
# agent_kafka_yaml CODEC [EXTRA_PROPS]: the properties: block of cdcagent's kafka: section.
agent_kafka_yaml() {
    local kv
    printf '  properties:\n    "compression.codec": "%s"\n' "$1"
    for kv in $AGENT_KAFKA_PROPS ${2:-}; do printf '    "%s": "%s"\n' "${kv%%=*}" "${kv#*=}"; done
}
# variant N: the properties of variant N (1-based) of VARIANTS.
variant() { local IFS=';'; local -a v; read -r -a v <<<"$VARIANTS"; echo "${v[$(($1 - 1))]}"; }
NVARIANTS=0
[ -z "$VARIANTS" ] || NVARIANTS=$(awk -F';' '{ print NF }' <<<"$VARIANTS")
# PERF=1: cdcagent runs under perf record (-g, 999 Hz); the top of each profile is printed at
# the end.  perf's own cost is in the CPU figures of such a run: profile, do not time with it.
PERF=${PERF:-0}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kbench.XXXXXX")
PGBIN=/usr/lib/postgresql/15/bin
# shellcheck source=../lib/pg.sh
. "$SRC/test/lib/pg.sh"
# shellcheck source=../lib/kafka.sh
. "$SRC/test/lib/kafka.sh"
# shellcheck source=../lib/connect.sh
. "$SRC/test/lib/connect.sh"
# shellcheck source=../lib/py.sh
. "$SRC/test/lib/py.sh"
# shellcheck source=../lib/bench.sh
. "$SRC/test/lib/bench.sh"

case "$ROWS" in *[!0-9]*|"") echo "bench: ROWS must be a number" >&2; exit 2 ;; esac
[ "$ROWS" -ge 5 ] || { echo "bench: ROWS must be >= 5" >&2; exit 2; }
ROWS=$((ROWS / 5 * 5))

KDIR=$WORK/kafka
CONNECT_PID=
BROKER_PID=
SR_PID=
POLL_PID=
cleanup() {
    set +e
    [ -n "$POLL_PID" ] && kill "$POLL_PID" 2>/dev/null
    if [ -n "$CONNECT_PID" ] && kill -0 "$CONNECT_PID" 2>/dev/null; then
        kill -KILL "$CONNECT_PID" 2>/dev/null; wait "$CONNECT_PID" 2>/dev/null
    fi
    [ -n "$SR_PID" ] && { kill "$SR_PID" 2>/dev/null; wait "$SR_PID" 2>/dev/null; }
    bench_stop_servers "$KDIR" "$BROKER_PID" "$WORK/pg"
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "bench: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() { echo "bench: $*" >&2; }
die() { say "$*"; exit 1; }

[ -x "$CDCAGENT" ] || die "$CDCAGENT not built (cmake --build build)"
command -v /usr/bin/time >/dev/null || die "needs /usr/bin/time (apt-get install time)"
command -v curl >/dev/null || die "needs curl"
chmod 755 "$WORK"

# user+system seconds of a live process, from /proc/PID/stat (fields 14 and 15).
proc_cpu() {
    python3 - "$1" <<'PY'
import os, sys
f = open("/proc/%s/stat" % sys.argv[1]).read().rsplit(")", 1)[1].split()
print((int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK"))
PY
}
now() { date +%s.%N; }

say "installing/checking Kafka, Kafka Connect + Debezium $DBZ_VERSIONS, the Python client (cached)"
kafka_install || die "kafka_install"
for v in $DBZ_VERSIONS; do
    connect_select "$v" || die "DBZ_VERSIONS: $v is not pinned in test/lib/connect.sh"
    connect_install || die "connect_install ($v)"
done
py_env || die "py_env"
kafka_probe_bin >/dev/null || die "kafka_probe not built (cmake --build build)"

# ---------------------------------------------------------------- PostgreSQL, Kafka, registry
PORT=$(bench_port_pair)
PG_EXTRA_CONF="logical_decoding_work_mem = 64MB
max_wal_size = 8GB
checkpoint_timeout = 30min" pg_start "$WORK/pg" "$PORT" >/dev/null
pg_setup_cdc "$PORT" >/dev/null
sql() { pg_psql "$PORT" cdc_demo "$@"; }
sql "CREATE TABLE public.bench (id bigint PRIMARY KEY, k int NOT NULL, payload text, amount numeric(12,2), at timestamptz DEFAULT now())" \
    "ALTER TABLE public.bench OWNER TO cdc_user" \
    "CREATE PUBLICATION bench_pub FOR TABLE public.bench"

KPORT=$(bench_port_pair)
kafka_start "$KDIR" "$KPORT" || die "Kafka broker"
B=127.0.0.1:$KPORT
BROKER_PID=$(bench_broker_jvm "$KDIR") || die "cannot find the broker's JVM"
SRPORT=$(bench_port_pair)
python3 "$SRC/test/doubles/schema_registry.py" --port "$SRPORT" >"$WORK/registry.log" 2>&1 &
SR_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$SRPORT/subjects" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$SRPORT/subjects" >/dev/null || die "registry double did not start"
SR=http://127.0.0.1:$SRPORT
CPORT=$(bench_port_pair)
say "PostgreSQL :$PORT, Kafka $B (pid $BROKER_PID), registry $SR, work dir $WORK"

# ---------------------------------------------------------------- the end-offset poller
# poll.py BOOTSTRAP TOPIC ROWS TIMEOUT [PID]: waits until the end offsets of TOPIC sum to
# ROWS; prints one JSON line: first (time a record was first seen), done (time all were),
# count, and, with PID, that process's CPU seconds and VmHWM (KiB) at "done".  Creates
# $OUT.ready once connected.  Exit 1 on timeout.
cat >"$WORK/poll.py" <<'PY'
import json, os, sys, time
from confluent_kafka import Consumer, KafkaException, TopicPartition
boot, topic, rows, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
pid = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] else None
ready = sys.argv[6] if len(sys.argv) > 6 else None
c = Consumer({"bootstrap.servers": boot, "group.id": "kbench-poll", "enable.auto.commit": False,
              "log_level": 3})
c.list_topics(timeout=10)
if ready:
    open(ready, "w").close()
def cpu_hwm():
    if not pid:
        return None, None
    f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
    cpu = (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    hwm = None
    for line in open("/proc/%s/status" % pid):
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1])
    return cpu, hwm
deadline = time.time() + timeout
first, parts, total = None, None, 0
while time.time() < deadline:
    if parts is None:
        md = c.list_topics(topic, timeout=5).topics.get(topic)
        if md is not None and md.error is None and md.partitions:
            parts = sorted(md.partitions)
        else:
            time.sleep(0.05)
            continue
    total = 0
    try:
        for p in parts:
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=5, cached=False)
            total += hi
    except KafkaException:      # a topic just created: no leader yet, and the like
        time.sleep(0.05)
        continue
    t = time.time()
    if total > 0 and first is None:
        first = t
    if total >= rows:
        cpu, hwm = cpu_hwm()
        print(json.dumps({"first": first, "done": t, "count": total, "cpu": cpu, "hwm": hwm}))
        sys.exit(0)
    time.sleep(0.05)
print(json.dumps({"first": first, "done": None, "count": total, "cpu": None, "hwm": None}))
sys.exit(1)
PY
# poll_start OUT TOPIC [PID]: the poller in the background, connected when this returns.
poll_start() {
    local out=$1 topic=$2 pid=${3:-} i
    rm -f "$out" "$out.ready"
    "$PY" "$WORK/poll.py" "$B" "$topic" "$ROWS" "$DRAIN_TIMEOUT" "$pid" "$out.ready" >"$out" 2>"$out.err" &
    POLL_PID=$!
    for ((i = 0; i < 200; i++)); do [ -f "$out.ready" ] && return 0; sleep 0.05; done
    die "poller did not connect: $(cat "$out.err")"
}
poll_wait() {
    wait "$POLL_PID" || { POLL_PID=; return 1; }
    POLL_PID=
}
jget() {
    python3 -c 'import json,sys
try: v = json.load(open(sys.argv[1])).get(sys.argv[2])
except Exception: v = None
print("" if v is None else v)' "$1" "$2"
}

# One result line: shape tool rows_per_s rows_per_s_from_first wall cpu broker_cpu rss_kib
# walsender_cpu, then the round
RESULTS=$WORK/results.tsv
: >"$RESULTS"
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" "$RND" >>"$RESULTS"; }

# ---------------------------------------------------------------- the contenders
run_recvlogical() {
    local shape=$1 end=$2 t0 t1 u s m w0 r=${1}_r$RND
    w0=$(bench_cluster_cpu "$WORK/pg")
    t0=$(now)
    PGPASSWORD=cdc_password /usr/bin/time -f "%U %S %M" -o "$WORK/time_recv_$r" \
        "$PGBIN/pg_recvlogical" -h 127.0.0.1 -p "$PORT" -U cdc_user -d cdc_demo \
        --slot "recv_$r" --start --no-loop --endpos "$end" -f /dev/null \
        -o proto_version=2 -o publication_names=bench_pub -o streaming=on
    t1=$(now)
    read -r u s m <"$WORK/time_recv_$r"
    record "$shape" "pg_recvlogical" "$(python3 -c "print($ROWS/($t1-$t0))")" "" \
        "$(python3 -c "print($t1-$t0)")" "$(python3 -c "print($u+$s)")" "" "$m" \
        "$(python3 -c "print($(bench_cluster_cpu "$WORK/pg")-$w0)")"
}

# run_agent SHAPE SER CODEC END [BINARY TAG EXTRA_PROPS]: TAG names a second build
# (CDCAGENT_BASE: "base") or a variant (v1...: EXTRA_PROPS).
run_agent() {
    local shape=$1 ser=$2 codec=$3 end=$4 bin=${5:-$CDCAGENT} tag=${6:-} extra=${7:-}
    local -a wrap=()
    local shape_ser="${tag:+${tag}_}${shape}_${ser}_${codec}_r$RND"
    local slot="agent_$shape_ser" prefix="bench_$shape_ser" t0 t1 u s m b0 b1 w0 w1
    local topic="$prefix.public.bench"
    cat >"$WORK/p_$shape_ser.yaml" <<YAML
pipeline_id: kbench-$shape_ser
topic_prefix: $prefix
source:
  host: 127.0.0.1
  port: $PORT
  database: cdc_demo
  username: cdc_user
  password: cdc_password
  tables: [public.bench]
  slot_name: $slot
  publication_name: bench_pub
  snapshot_mode: never
sinks:
  - sink_id: unused
    sink_type: jsonl
    jsonl:
      path: /dev/null
      fsync: false
YAML
    cat >"$WORK/platform_$shape_ser.yaml" <<YAML
transport_mode: kafka
health_enabled: false
kafka:
  bootstrap_servers: $B
  schema_registry_url: $SR
  serialization: $ser
  topic_num_partitions: $PARTITIONS
$(agent_kafka_yaml "$codec" "$extra")
agent:
  stop_lsn: "$end"
  memory_limit_mb: $AGENT_MEMORY_MB
  log_level: $([ "$STATS" = 0 ] && echo warn || echo info)
YAML
    poll_start "$WORK/poll_$shape_ser" "$topic"
    b0=$(proc_cpu "$BROKER_PID")
    w0=$(bench_cluster_cpu "$WORK/pg")
    t0=$(now)
    [ "$PERF" = 0 ] || wrap=(perf record -q -g -F 999 -o "$WORK/perf_$shape_ser.data" --)
    /usr/bin/time -f "%U %S %M" -o "$WORK/time_$shape_ser" "${wrap[@]}" "$bin" run \
        "$WORK/p_$shape_ser.yaml" --platform-config "$WORK/platform_$shape_ser.yaml" \
        >"$WORK/agent_$shape_ser.log" 2>&1 \
        || { tail -n 20 "$WORK/agent_$shape_ser.log" >&2; die "$bin ($shape, $ser, $codec) failed"; }
    t1=$(now)
    b1=$(proc_cpu "$BROKER_PID")
    w1=$(bench_cluster_cpu "$WORK/pg")
    # Everything was acknowledged before the agent exited: the poller must see it all now.
    if ! poll_wait; then
        die "cdcagent ($shape, $ser, $codec) exited but $topic holds $(jget "$WORK/poll_$shape_ser" count) of $ROWS records"
    fi
    read -r u s m <"$WORK/time_$shape_ser"
    record "$shape" "${tag:-cdcagent} $ser $codec" "$(python3 -c "print($ROWS/($t1-$t0))")" \
        "$(python3 -c "print($ROWS/($t1-$(jget "$WORK/poll_$shape_ser" first)))")" \
        "$(python3 -c "print($t1-$t0)")" "$(python3 -c "print($u+$s)")" \
        "$(python3 -c "print($b1-$b0)")" "$m" "$(python3 -c "print($w1-$w0)")"
    [ "$STATS" = 0 ] || bench_stats_summary "$shape ${tag:-cdcagent} $ser $codec r$RND" "$WORK/agent_$shape_ser.log" >>"$WORK/stats.txt"
    if [ "$PERF" != 0 ]; then
        { echo "== perf: $shape ${tag:-cdcagent} $ser $codec, round $RND (self %, top symbols)"
          perf report -i "$WORK/perf_$shape_ser.data" --no-children --sort dso,symbol \
              --percent-limit 1.5 --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' | head -n 25
        } >>"$WORK/perf.txt"
    fi
}

connect_up() {   # connect_up DIR: Kafka Connect standalone, no connector yet; REST answers.
    local dir=$1 i
    mkdir -p "$dir"
    cat >"$dir/worker.properties" <<PROPS
bootstrap.servers=$B
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=true
value.converter.schemas.enable=true
offset.storage.file.filename=$dir/connect.offsets
offset.flush.interval.ms=10000
listeners=http://127.0.0.1:$CPORT
rest.advertised.host.name=127.0.0.1
plugin.path=$DBZ_PLUGINS
task.shutdown.graceful.timeout.ms=5000
producer.linger.ms=$DBZ_LINGER_MS
producer.batch.size=$DBZ_BATCH_BYTES
producer.compression.type=$DBZ_COMPRESSION
PROPS
    cat >"$dir/log4j.properties" <<PROPS
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$dir/connect.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.org.reflections=ERROR
PROPS
    # shellcheck disable=SC2086  # DBZ_JVM is a list of JVM options
    java $DBZ_JVM -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
        -Dlog4j.configuration="file:$dir/log4j.properties" \
        -cp "$CONNECT_HOME/lib/*" org.apache.kafka.connect.cli.ConnectStandalone \
        "$dir/worker.properties" >"$dir/connect.stdout" 2>&1 &
    CONNECT_PID=$!
    for ((i = 0; i < 1200; i++)); do
        kill -0 "$CONNECT_PID" 2>/dev/null || { tail -n 30 "$dir/connect.log" "$dir/connect.stdout" >&2; die "Kafka Connect exited"; }
        [ "$(curl -sf --max-time 2 "http://127.0.0.1:$CPORT/connectors" 2>/dev/null)" = "[]" ] && return 0
        sleep 0.1
    done
    die "Kafka Connect REST not up after 120 s"
}

connect_down() {
    local i
    [ -n "$CONNECT_PID" ] || return 0
    kill -TERM "$CONNECT_PID" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do kill -0 "$CONNECT_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$CONNECT_PID" 2>/dev/null || true
    wait "$CONNECT_PID" 2>/dev/null || true
    CONNECT_PID=
}

# run_debezium SHAPE VERSION: one Debezium release (connect_select) on its own slot copy.
run_debezium() {
    local shape=$1 v=${2%%.Final} dir=$WORK/connect_$1_${2%%.Final}_r$RND t0 c0 b0 b1 w0 w1 st
    local name=${1}_${v//./}_r$RND out=$WORK/poll_${1}_${2%%.Final}_r${RND}_dbz
    connect_select "$2"
    connect_up "$dir"
    cat >"$dir/connector.json" <<JSON
{"name": "dbz-bench-$name", "config": {
  "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
  "tasks.max": "1",
  "plugin.name": "pgoutput",
  "database.hostname": "127.0.0.1",
  "database.port": "$PORT",
  "database.dbname": "cdc_demo",
  "database.user": "cdc_user",
  "database.password": "cdc_password",
  "topic.prefix": "dbz_$name",
  "slot.name": "dbz_$name",
  "publication.name": "bench_pub",
  "publication.autocreate.mode": "disabled",
  "table.include.list": "public.bench",
  "snapshot.mode": "no_data",
  "max.batch.size": "$DBZ_MAX_BATCH",
  "max.queue.size": "$DBZ_MAX_QUEUE",
  "poll.interval.ms": "100",
  "topic.creation.default.replication.factor": "1",
  "topic.creation.default.partitions": "$PARTITIONS"}}
JSON
    poll_start "$out" "dbz_$name.public.bench" "$CONNECT_PID"
    c0=$(proc_cpu "$CONNECT_PID")
    b0=$(proc_cpu "$BROKER_PID")
    w0=$(bench_cluster_cpu "$WORK/pg")
    t0=$(now)
    curl -sf --max-time 30 -X POST -H 'Content-Type: application/json' \
        --data @"$dir/connector.json" "http://127.0.0.1:$CPORT/connectors" >"$dir/post.out" \
        || die "creating the Debezium connector failed: $(cat "$dir/post.out")"
    # Wait for the poller, watching for a failed connector meanwhile.
    while kill -0 "$POLL_PID" 2>/dev/null; do
        st=$(curl -sf --max-time 5 "http://127.0.0.1:$CPORT/connectors/dbz-bench-$name/status" 2>/dev/null || true)
        case "$st" in *FAILED*) die "Debezium connector failed: $(printf '%s' "$st" | head -c 2000)" ;; esac
        kill -0 "$CONNECT_PID" 2>/dev/null || die "Kafka Connect died (log: $dir/connect.log)"
        sleep 0.5
    done
    b1=$(proc_cpu "$BROKER_PID")
    w1=$(bench_cluster_cpu "$WORK/pg")
    poll_wait || die "Debezium ($shape): the poller failed with $(jget "$out" count) of $ROWS records: $(tail -n 1 "$out.err")"
    connect_down
    local t_done first cpu hwm
    t_done=$(jget "$out" "done"); first=$(jget "$out" first); cpu=$(jget "$out" cpu); hwm=$(jget "$out" hwm)
    record "$shape" "debezium $v" "$(python3 -c "print($ROWS/($t_done-$t0))")" \
        "$(python3 -c "print($ROWS/($t_done-$first))")" "$(python3 -c "print($t_done-$t0)")" \
        "$(python3 -c "print($cpu-$c0)")" "$(python3 -c "print($b1-$b0)")" "$hwm" \
        "$(python3 -c "print($w1-$w0)")"
}

run_shape() {
    local shape=$1 fill=$2 end t0
    sql "TRUNCATE public.bench" >/dev/null
    sql "SELECT pg_create_logical_replication_slot('base_$shape', 'pgoutput')" >/dev/null
    say "$shape: writing the backlog ($ROWS rows)"
    t0=$SECONDS
    sql "$fill" >/dev/null
    end=$(sql "SELECT pg_current_wal_lsn()")
    say "$shape: backlog written in $((SECONDS - t0)) s, WAL end $end"
    local s ser codec vi slots
    for ((RND = 1; RND <= ROUNDS; RND++)); do
        slots="recv_${shape}_r$RND"
        for ser in $SERS; do
            for codec in $CODECS; do
                slots+=" agent_${shape}_${ser}_${codec}_r$RND"
                [ -z "$CDCAGENT_BASE" ] || slots+=" agent_base_${shape}_${ser}_${codec}_r$RND"
                for ((vi = 1; vi <= NVARIANTS; vi++)); do
                    slots+=" agent_v${vi}_${shape}_${ser}_${codec}_r$RND"
                done
            done
        done
        if [ "$DBZ" != 0 ]; then
            for v in $DBZ_VERSIONS; do v=${v%%.Final}; slots+=" dbz_${shape}_${v//./}_r$RND"; done
        fi
        for s in $slots; do
            sql "SELECT pg_copy_logical_replication_slot('base_$shape', '$s')" >/dev/null
        done
        say "$shape, round $RND of $ROUNDS: pg_recvlogical"; run_recvlogical "$shape" "$end"
        for ser in $SERS; do
            for codec in $CODECS; do
                say "$shape, round $RND: cdcagent $ser $codec"
                run_agent "$shape" "$ser" "$codec" "$end"
                if [ -n "$CDCAGENT_BASE" ]; then
                    say "$shape, round $RND: base $ser $codec"
                    run_agent "$shape" "$ser" "$codec" "$end" "$CDCAGENT_BASE" base
                fi
                for ((vi = 1; vi <= NVARIANTS; vi++)); do
                    say "$shape, round $RND: v$vi $ser $codec ($(variant "$vi"))"
                    run_agent "$shape" "$ser" "$codec" "$end" "$CDCAGENT" "v$vi" "$(variant "$vi")"
                done
            done
        done
        if [ "$DBZ" != 0 ]; then
            for v in $DBZ_VERSIONS; do
                say "$shape, round $RND: debezium $v"; run_debezium "$shape" "$v"
            done
        fi
        for s in $slots; do
            sql "SELECT pg_drop_replication_slot('$s')" >/dev/null
        done
    done
    RND=1
    sql "SELECT pg_drop_replication_slot('base_$shape')" >/dev/null
    sql "CHECKPOINT" >/dev/null
}

T_START=$SECONDS
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
[[ " $SHAPES " == *" big "* ]] &&
run_shape big "INSERT INTO public.bench (id, k, payload, amount)
               SELECT g, g % 1000, md5(g::text), (g % 10000) / 100.0 FROM generate_series(1, $ROWS) g"
[[ " $SHAPES " == *" small "* ]] &&
run_shape small "DO \$\$ BEGIN
                   FOR t IN 0 .. $ROWS / 5 - 1 LOOP
                     INSERT INTO public.bench (id, k, payload, amount)
                       SELECT g, g % 1000, md5(g::text), (g % 10000) / 100.0
                       FROM generate_series(t * 5 + 1, t * 5 + 5) g;
                     COMMIT;
                   END LOOP; END \$\$"

# ---------------------------------------------------------------- the table
python3 - "$RESULTS" "$ROWS" "$AGENT_MEMORY_MB" "$DBZ_MAX_BATCH" "$DBZ_MAX_QUEUE" "$DBZ_LINGER_MS" \
    "$DBZ_BATCH_BYTES" "$DBZ_JVM" "$((SECONDS - T_START))" "$(nproc)" "$LOAD_START" \
    "$(cut -d' ' -f1-3 /proc/loadavg)" "$AGENT_KAFKA_PROPS" "$CODECS" "$DBZ_COMPRESSION" \
    "$PARTITIONS" "$VARIANTS" "$ROUNDS" <<'PY'
import statistics, sys
(path, rows, mem, mb, mq, linger, bbytes, jvm, secs, ncpu, load0, load1, aprops, codecs, dcomp,
 parts, variants, rounds) = sys.argv[1:19]
rows = int(rows)
runs = {}       # (shape, tool) -> {round: figures}
order = []
for line in open(path):
    shape, tool, rps, rps1, wall, cpu, bcpu, rss, wcpu, rnd = line.rstrip("\n").split("\t")
    f = lambda v: float(v) if v else None
    if (shape, tool) not in runs:
        runs[(shape, tool)] = {}
        order.append((shape, tool))
    runs[(shape, tool)][rnd] = dict(rps=f(rps), rps1=f(rps1), wall=f(wall), cpu=f(cpu),
                                    bcpu=f(bcpu), rss=f(rss), wcpu=f(wcpu))
def median(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None
# res: the median of each figure over the rounds, on its own (not one round's figures)
res = {k: {m: median(r[m] for r in v.values()) for m in next(iter(v.values()))}
       for k, v in runs.items()}
def xrange(k):   # the lowest and highest per-round ratio to pg_recvlogical (same round)
    p = runs.get((k[0], "pg_recvlogical"), {})
    xs = [r["rps"] / p[n]["rps"] for n, r in runs[k].items()
          if n in p and r["rps"] and p[n]["rps"]]
    return "%.2f-%.2f" % (min(xs), max(xs)) if len(xs) > 1 else "-"
def num(v, fmt):
    return "-" if v is None else fmt % v
def us(v):
    return None if v is None else v * 1e6 / rows
print("kafka_bench: %d rows per shape, %s partition(s) per topic, %s CPUs; cdcagent "
      "memory_limit_mb=%s; Debezium max.batch.size=%s max.queue.size=%s producer.linger.ms=%s "
      "producer.batch.size=%s, JVM %s" % (rows, parts, ncpu, mem, mb, mq, linger, bbytes, jvm))
print("compression: cdcagent %s (compression.codec, one run each per round), Debezium %s "
      "(Connect producer.compression.type)" % (codecs, dcomp))
print("%s round(s), interleaved (each round runs every contender once, in this order, on its "
      "own slot copy); every figure is the median over the rounds" % rounds)
if aprops:
    print("cdcagent kafka.properties: %s" % aprops)
for i, v in enumerate(variants.split(";") if variants else []):
    print("v%d: cdcagent with %s" % (i + 1, v))
print("rows/s: until every record is acknowledged by the broker (cdcagent: process start to "
      "exit at stop_lsn; Debezium: connector POST on an already-started Connect to last record);")
print("x recv: median rows/s / pg_recvlogical's median of the same shape; x range: the lowest "
      "and highest of the per-round ratios; @1st: rows/s from the first record seen in the topic;")
print("us/row: CPU microseconds (user+sys) per row of the contender itself (Debezium: JVM "
      "start-up excluded), of the source server (walsnd) and of the broker; RSS: peak (VmHWM)")
print()
fmt = "%-6s %-21s %9s %6s %9s %9s %8s %9s %9s %9s %8s"
hdr = fmt % ("shape", "tool", "rows/s", "x recv", "x range", "@1st", "wall s", "agent us",
             "walsnd us", "broker us", "RSS MiB")
print(hdr)
print("-" * len(hdr))
for k in order:
    r = res[k]
    p = res.get((k[0], "pg_recvlogical"))
    print(fmt % (k[0], k[1], num(r["rps"], "%.0f"),
                 num(r["rps"] / p["rps"] if p and r["rps"] else None, "%.2f"),
                 xrange(k) if p and k[1] != "pg_recvlogical" else "-", num(r["rps1"], "%.0f"),
                 num(r["wall"], "%.2f"), num(us(r["cpu"]), "%.2f"), num(us(r["wcpu"]), "%.2f"), num(us(r["bcpu"]), "%.2f"),
                 num(r["rss"] / 1024, "%.1f")))
print()
for shape in ("big", "small"):
    for dtool in [t for s, t in order if s == shape and t.startswith("debezium ")]:
        d = res[(shape, dtool)]
        for ser in ("avro", "json"):
            a = res.get((shape, "cdcagent %s %s" % (ser, dcomp)))
            if not (a and d):
                continue
            print("%-5s cdcagent %-4s %-4s: %5.2fx %s rows/s (%5.2fx from 1st record), Debezium "
                  "RSS / cdcagent RSS = %5.1f, Debezium CPU / cdcagent CPU = %5.1f"
                  % (shape, ser, dcomp, a["rps"] / d["rps"], dtool, a["rps1"] / d["rps1"],
                     d["rss"] / a["rss"], d["cpu"] / a["cpu"]))
for shape, tool in order:
    if tool.startswith("cdcagent ") or tool == "pg_recvlogical":
        continue
    tag, rest = tool.split(" ", 1)
    a, b = res[(shape, tool)], res.get((shape, "cdcagent " + rest))
    if b:
        print("%-5s %-13s %s / cdcagent: rows/s %.3f, CPU s %.3f, peak RSS %.3f"
              % (shape, rest, tag, a["rps"] / b["rps"], a["cpu"] / b["cpu"], a["rss"] / b["rss"]))
print("targets: cdcagent >= 1.0x pg_recvlogical (x recv) with compression; >= 5x Debezium's "
      "rows/s with <= 1/10 of its memory")
print("(measured part of the run: %s s; load average at its start %s, at its end %s)"
      % (secs, load0, load1))
PY
if [ "$STATS" != 0 ]; then
    echo
    bench_stats_header
    cat "$WORK/stats.txt"
    echo "(n: 500 ms intervals with records sent; rec/req, KiB/req: records and their"
    echo " uncompressed bytes per Produce request; inflt, infl_r: Produce requests and records"
    echo " awaiting the broker's response (mean); rtt: round trip (ms, mean and worst p99);"
    echo " batch, KiB/b: records and compressed bytes per batch (mean); queued, qd KiB: records"
    echo " and KiB in the producer's queue (mean; queue.buffering.max.kbytes bounds the KiB))"
fi
[ "$PERF" = 0 ] || { echo; cat "$WORK/perf.txt"; }
