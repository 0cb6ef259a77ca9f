#!/usr/bin/env bash
# Pub/Sub and Kinesis end-to-end benchmark: cdcagent transport_mode pubsub against the Pub/Sub
# REST test double and transport_mode kinesis against moto, beside pg_recvlogical, in the same
# run (prints figures; not a test, not registered in ctest).
#
# A throwaway PostgreSQL 15, the Pub/Sub double (test/doubles/pubsub.py via
# test/lib/pubsub.sh, reached through PUBSUB_EMULATOR_HOST; a fresh double for every Pub/Sub
# contender, so its memory and CPU belong to that run alone) and moto's server
# (test/lib/moto.sh; moto_reset between contenders) behind a byte relay that counts the
# requests (below, "the counting relay").  For each backlog shape
#   big   - one transaction of ROWS inserts
#   small - ROWS/5 transactions of 5 inserts each
#   hot   - HOT_ROWS updates of 10 rows only, in transactions of 10 (one update of each key):
#           for Kinesis it shows what one record per key in flight costs (10 keys in all, so
#           at most 10 records are ever in flight); Pub/Sub ordered runs it too, for contrast
#           (one request per key in flight, but a request holds a run of the key's messages)
# a base slot is created before the backlog is written; after it, one copy of it per
# contender is made (pg_copy_logical_replication_slot), so every contender decodes the
# identical WAL:
#   pg_recvlogical   the ceiling: reads the slot to --endpos, decodes nothing, publishes nothing
#   pubsub ordered   transport_mode pubsub, pubsub.ordering_enabled true: one ordering key a
#                    request (the service's rule), so distinct keys cost one request each
#   pubsub unordered pubsub.ordering_enabled false: requests of up to batch_size messages
#   kinesis          transport_mode kinesis, PutRecords of up to batch_size records
# run one after the other, each with its own topic prefix (so its own topics or streams).
# Serialization: json (the transports' default, Debezium Server's), {schema, payload} as
# Debezium Server writes it (json_schemas_enable JSON_SCHEMAS, default true, the shipped one).
#
# What is measured, per contender:
#   rows/s       ROWS / (process start to exit).  cdcagent runs with agent.stop_lsn = the WAL
#                end after the backlog, so it exits once every message is acknowledged by the
#                server (and confirmed to PostgreSQL); start-up (connecting, creating topics,
#                subscriptions or streams) is included.  pg_recvlogical: start to exit
#                (--endpos).  After each agent run the server is asked what it holds (Pub/Sub:
#                published messages and the -dlq topic; Kinesis: the stream read back with
#                test/lib/aws_read.py, VERIFY=0 skips that) and a shortfall stops the bench.
#   req/1k rows  publish requests per 1,000 rows, counted by the SERVER side, not the agent:
#                Pub/Sub: the double's GET /_double/stats, by_method["topics.publish"];
#                Kinesis: PutRecords requests seen by the counting relay in front of moto
#                (every other AWS call, ListStreams, CreateStream, DescribeStreamSummary,
#                DynamoDB checkpoints..., is counted apart as "other").  The agent's own
#                closing line ("N messages in M requests") is kept in its log for a cross-check.
#   CPU s, µs/row  the agent's user+system seconds (/usr/bin/time), and per row.
#   peak RSS     the agent's VmHWM (/usr/bin/time %M).
#   server CPU   user+system seconds of the server process(es) over the run, from
#                /proc/PID/stat: the double; for Kinesis moto plus (after the "+") the relay.
# READ THIS BEFORE QUOTING A FIGURE: the double and moto are single-threaded Python (the
# double holds one lock over its state, moto_server.py runs one request at a time) on the
# same cores as the agent and PostgreSQL.  They, not cdcagent, are the likely bottleneck: when
# server CPU s is close to wall s, the rows/s figure is the server's, and only the agent's CPU
# per row and its requests per 1,000 rows say something about cdcagent.  Real Pub/Sub and
# Kinesis answer in milliseconds over a network instead, where requests per row and the
# requests in flight matter more than here.
#
# Agent settings: wal_reader.batch_size = the service's limit (PUBSUB_BATCH 1000,
# KINESIS_BATCH 500; the shipped default is 100), wal_reader.batch_timeout_seconds
# BATCH_TIMEOUT (0.1; default 1.0: only the last, partial batch waits for it),
# kinesis.shard_count KINESIS_SHARDS (4), agent.memory_limit_mb AGENT_MEMORY_MB (16, as
# kafka_bench.sh and capture_bench.sh: bigger transactions spill to disk).
#
# Usage: test/bench/bus_bench.sh [ROWS]     (default 100000; a few minutes on 2 cores)
#        CDCAGENT=path picks a build; HOT_ROWS (default ROWS/5, at least 10) the hot shape's
#        updates; SHAPES="big small hot" and CONTENDERS="recv ps_ord ps_unord kinesis" pick
#        a subset; VERIFY=0 skips reading the streams back; KEEP_TMP=1 keeps the work
#        directory; AGENT_TIMEOUT (900 s) bounds each agent run; JSON_SCHEMAS=false sends the
#        payload alone.
# Needs: PostgreSQL 15, /usr/bin/time, curl, python3; moto from PyPI in a venv (first run;
# cached in $CDC_CACHE, see test/lib/moto.sh).
set -euo pipefail

ROWS=${1:-100000}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
CDCAGENT=${CDCAGENT:-$SRC/build/cdcagent}
AGENT_MEMORY_MB=${AGENT_MEMORY_MB:-16}
PUBSUB_BATCH=${PUBSUB_BATCH:-1000}
KINESIS_BATCH=${KINESIS_BATCH:-500}
BATCH_TIMEOUT=${BATCH_TIMEOUT:-0.1}
KINESIS_SHARDS=${KINESIS_SHARDS:-4}
AGENT_TIMEOUT=${AGENT_TIMEOUT:-900}
SHAPES=${SHAPES:-big small hot}
CONTENDERS=${CONTENDERS:-recv ps_ord ps_unord kinesis}
VERIFY=${VERIFY:-1}
JSON_SCHEMAS=${JSON_SCHEMAS:-true}
case "$JSON_SCHEMAS" in true|false) ;; *) echo "bench: JSON_SCHEMAS: true|false" >&2; exit 2 ;; esac
PROJECT=bench-project
WORK=$(mktemp -d "${TMPDIR:-/tmp}/busbench.XXXXXX")
PGBIN=/usr/lib/postgresql/15/bin
# shellcheck source=../lib/pg.sh
. "$SRC/test/lib/pg.sh"
# shellcheck source=../lib/pubsub.sh
. "$SRC/test/lib/pubsub.sh"
# shellcheck source=../lib/moto.sh
. "$SRC/test/lib/moto.sh"
# shellcheck source=../lib/bench.sh
. "$SRC/test/lib/bench.sh"

case "$ROWS" in *[!0-9]*|"") echo "bench: ROWS must be a number" >&2; exit 2 ;; esac
[ "$ROWS" -ge 10 ] || { echo "bench: ROWS must be >= 10" >&2; exit 2; }
ROWS=$((ROWS / 10 * 10))
HOT_ROWS=${HOT_ROWS:-$((ROWS / 5))}
case "$HOT_ROWS" in *[!0-9]*|"") echo "bench: HOT_ROWS must be a number" >&2; exit 2 ;; esac
HOT_ROWS=$((HOT_ROWS / 10 * 10))
[ "$HOT_ROWS" -ge 10 ] || HOT_ROWS=10

MDIR=$WORK/moto
PSDIR=
RELAY_PID=
RELAY_PORT=
cleanup() {
    set +e
    [ -n "$PSDIR" ] && pubsub_kill "$PSDIR" >/dev/null 2>&1
    [ -n "$RELAY_PID" ] && kill -KILL "$RELAY_PID" 2>/dev/null
    moto_kill "$MDIR" >/dev/null 2>&1
    pg_stop "$WORK/pg" >/dev/null 2>&1 || pg_kill "$WORK/pg" >/dev/null 2>&1
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "bench: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() { echo "bench: $*" >&2; }
die() { say "$*"; exit 1; }
want() { case " $CONTENDERS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

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
calc() { python3 -c "print($1)"; }
# jq-less JSON lookups: jpath FILE EXPR (EXPR on the parsed value d)
jpath() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# ---------------------------------------------------------------- PostgreSQL, moto
if want kinesis; then
    say "installing/checking moto (cached in ${CDC_CACHE})"
    moto_install || die "moto_install"
fi
PORT=$(bench_port_pair)
PG_EXTRA_CONF="logical_decoding_work_mem = 64MB
max_wal_size = 8GB
checkpoint_timeout = 30min" pg_start "$WORK/pg" "$PORT" >/dev/null
pg_setup_cdc "$PORT" >/dev/null
sql() { pg_psql "$PORT" cdc_demo "$@"; }
sql "CREATE TABLE public.bench (id bigint PRIMARY KEY, k int NOT NULL, payload text, amount numeric(12,2), at timestamptz DEFAULT now())" \
    "ALTER TABLE public.bench OWNER TO cdc_user" \
    "CREATE PUBLICATION bench_pub FOR TABLE public.bench"

MOTO_PID=
if want kinesis; then
    moto_start "$MDIR" "$(bench_port_pair)" || die "moto did not start"
    MOTO_PID=$(cat "$MDIR/pid")
    say "moto :$(cat "$MDIR/port") (pid $MOTO_PID)"
fi

# ---------------------------------------------------------------- the counting relay
# relay.py UPSTREAM_PORT OUT: a byte relay to moto on a free port (printed "PORT n"),
# TCP_NODELAY both ways, nothing parsed or rewritten, that counts in what the client sends
# the request lines, the PutRecords targets and the DynamoDB ones; on SIGTERM it writes
# {"requests": N, "PutRecords": M, "DynamoDB": D} to OUT and exits.  Why not test/lib/aws_faults.py in
# pass-through mode: it answers with two writes (headers, then body) on a socket without
# TCP_NODELAY, so an answer can wait for the client's delayed ACK (measured: 1,000 hot-key
# rows took 6.7 s through it, 1.55 s straight to moto, 144 PutRecords either way).
cat >"$WORK/relay.py" <<'PY'
import json, signal, socket, sys, threading
upstream, out = int(sys.argv[1]), sys.argv[2]
PATS = {"requests": b" http/1.1\r\n",
        "PutRecords": b"\r\nx-amz-target: kinesis_20131202.putrecords\r\n",
        "DynamoDB": b"\r\nx-amz-target: dynamodb_20120810."}
COUNT = {k: 0 for k in PATS}
LOCK = threading.Lock()
def pump(src, dst, count):
    carry = {k: b"" for k in PATS}
    try:
        while True:
            data = src.recv(262144)
            if not data:
                break
            if count:
                low = data.lower()
                for k, p in PATS.items():
                    buf = carry[k] + low
                    n = buf.count(p)
                    if n:
                        with LOCK:
                            COUNT[k] += n
                    carry[k] = buf[-(len(p) - 1):]
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
def serve(c):
    try:
        u = socket.create_connection(("127.0.0.1", upstream))
    except OSError:
        c.close()
        return
    for s in (c, u):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    threading.Thread(target=pump, args=(u, c, False), daemon=True).start()
    pump(c, u, True)
def stop(*_):
    with LOCK:
        with open(out, "w") as f:
            f.write(json.dumps(COUNT))
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0))
ls.listen(64)
print("PORT %d" % ls.getsockname()[1], flush=True)
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
# relay_start NAME: a fresh relay for one run; sets RELAY_PID, RELAY_PORT.
relay_start() {
    local i
    : >"$WORK/relay_$1.log"
    python3 "$WORK/relay.py" "$(cat "$MDIR/port")" "$WORK/relay_$1.json" >"$WORK/relay_$1.log" 2>&1 &
    RELAY_PID=$!
    for ((i = 0; i < 100; i++)); do
        RELAY_PORT=$(sed -n 's/^PORT \([0-9]*\)$/\1/p' "$WORK/relay_$1.log")
        [ -n "$RELAY_PORT" ] && return 0
        kill -0 "$RELAY_PID" 2>/dev/null || break
        sleep 0.05
    done
    die "the counting relay did not start: $(cat "$WORK/relay_$1.log")"
}
relay_stop() {
    kill -TERM "$RELAY_PID" 2>/dev/null || true
    wait "$RELAY_PID" 2>/dev/null || true
    RELAY_PID=
}
say "PostgreSQL :$PORT, work dir $WORK"

# One result line: shape tool rows rows_per_s wall cpu rss_kib publish_req other_req
# server_cpu relay_cpu agent_line ddb_req
RESULTS=$WORK/results.tsv
: >"$RESULTS"
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"; }

# ---------------------------------------------------------------- the contenders
run_recvlogical() {
    local shape=$1 end=$2 rows=$3 t0 t1 u s m
    t0=$(now)
    PGPASSWORD=cdc_password /usr/bin/time -f "%U %S %M" -o "$WORK/time_recv_$shape" \
        "$PGBIN/pg_recvlogical" -h 127.0.0.1 -p "$PORT" -U cdc_user -d cdc_demo \
        --slot "recv_$shape" --start --no-loop --endpos "$end" -f /dev/null \
        -o proto_version=2 -o publication_names=bench_pub -o streaming=on
    t1=$(now)
    read -r u s m <"$WORK/time_recv_$shape"
    record "$shape" "pg_recvlogical" "$rows" "$(calc "$rows/($t1-$t0)")" "$(calc "$t1-$t0")" \
        "$(calc "$u+$s")" "$m" "" "" "" "" "" ""
}

# write_configs NAME SLOT PREFIX END PLATFORM_BODY: the pipeline and platform files of a run.
write_configs() {
    local name=$1 slot=$2 prefix=$3 end=$4 body=$5
    mkdir -p "$WORK/state_$name"
    cat >"$WORK/p_$name.yaml" <<YAML
pipeline_id: busbench-$name
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
    cat >"$WORK/platform_$name.yaml" <<YAML
health_enabled: false
$body
agent:
  stop_lsn: "$end"
  memory_limit_mb: $AGENT_MEMORY_MB
  state_dir: $WORK/state_$name
  log_level: info
YAML
}

# agent_run NAME: runs cdcagent to its stop_lsn under /usr/bin/time; sets T0 T1 U S M.
agent_run() {
    local name=$1
    T0=$(now)
    /usr/bin/time -f "%U %S %M" -o "$WORK/time_$name" timeout -s KILL "$AGENT_TIMEOUT" \
        "$CDCAGENT" run "$WORK/p_$name.yaml" --platform-config "$WORK/platform_$name.yaml" \
        >"$WORK/agent_$name.log" 2>&1 \
        || { tail -n 20 "$WORK/agent_$name.log" >&2; die "cdcagent ($name) failed or timed out (log above)"; }
    T1=$(now)
    read -r U S M <"$WORK/time_$name"
}

# The agent's own closing count ("N messages in M requests" / "N records in M PutRecords").
agent_line() {
    grep -oE '[0-9]+ (messages|records) in [0-9]+ (requests|PutRecords requests)' "$WORK/agent_$1.log" \
        | tail -n 1 || true
}

# run_pubsub SHAPE END ROWS ORDERED(true|false)
run_pubsub() {
    local shape=$1 end=$2 rows=$3 ordered=$4 tag c0 c1 name prefix pub got dlq
    tag=$([ "$ordered" = true ] && echo ord || echo unord)
    name=ps_${tag}_$shape
    prefix=bps-$shape-$tag
    PSDIR=$WORK/double_$name
    pubsub_start "$PSDIR" 0 --projects "$PROJECT" >/dev/null || die "the Pub/Sub double did not start"
    export PUBSUB_EMULATOR_HOST
    PUBSUB_EMULATOR_HOST=$(pubsub_host "$PSDIR")
    write_configs "$name" "$name" "$prefix" "$end" "transport_mode: pubsub
pubsub:
  project_id: $PROJECT
  ordering_enabled: $ordered
  json_schemas_enable: $JSON_SCHEMAS
wal_reader:
  slot_name: $name
  publication_name: bench_pub
  batch_size: $PUBSUB_BATCH
  batch_timeout_seconds: $BATCH_TIMEOUT"
    c0=$(proc_cpu "$(cat "$PSDIR/pid")")
    agent_run "$name"
    c1=$(proc_cpu "$(cat "$PSDIR/pid")")
    pubsub_knob "$PSDIR" GET stats >"$WORK/stats_$name.json" || die "GET /_double/stats failed"
    pub=$(jpath "$WORK/stats_$name.json" 'd["by_method"].get("topics.publish", 0)')
    got=$(jpath "$WORK/stats_$name.json" 'd["published_messages"]')
    dlq=$(pubsub_knob "$PSDIR" GET "messages?topic=projects/$PROJECT/topics/$prefix-public-bench-dlq" \
        | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["messages"]))') \
        || die "cannot read the dead-letter topic $prefix-public-bench-dlq"
    [ "$dlq" = 0 ] || die "pubsub $tag ($shape): $dlq messages went to the dead-letter topic"
    [ "$got" -ge "$rows" ] || die "pubsub $tag ($shape): the double holds $got published messages, not $rows"
    [ "$got" = "$rows" ] || say "pubsub $tag ($shape): $got messages published for $rows rows (duplicates?)"
    pubsub_stop "$PSDIR"
    PSDIR=
    record "$shape" "pubsub $tag" "$rows" "$(calc "$rows/($T1-$T0)")" "$(calc "$T1-$T0")" \
        "$(calc "$U+$S")" "$M" "$pub" \
        "$(jpath "$WORK/stats_$name.json" 'd["requests"] - d["by_method"].get("topics.publish", 0)')" \
        "$(calc "$c1-$c0")" "" "$(agent_line "$name")" ""
}

# run_kinesis SHAPE END ROWS
run_kinesis() {
    local shape=$1 end=$2 rows=$3 name=kin_$1 prefix=bkin-$1 m0 m1 p0 p1 got direct
    direct=$AWS_ENDPOINT_URL
    moto_reset "$(cat "$MDIR/port")" || die "moto reset failed"
    write_configs "$name" "$name" "$prefix" "$end" "transport_mode: kinesis
kinesis:
  region: ${AWS_REGION:-us-east-1}
  shard_count: $KINESIS_SHARDS
  json_schemas_enable: $JSON_SCHEMAS
wal_reader:
  slot_name: $name
  publication_name: bench_pub
  batch_size: $KINESIS_BATCH
  batch_timeout_seconds: $BATCH_TIMEOUT"
    relay_start "$name"
    export AWS_ENDPOINT_URL=http://127.0.0.1:$RELAY_PORT
    m0=$(proc_cpu "$MOTO_PID"); p0=$(proc_cpu "$RELAY_PID")
    agent_run "$name"
    m1=$(proc_cpu "$MOTO_PID"); p1=$(proc_cpu "$RELAY_PID")
    export AWS_ENDPOINT_URL=$direct
    relay_stop
    [ -s "$WORK/relay_$name.json" ] || die "the counting relay wrote no counts"
    if [ "$VERIFY" != 0 ]; then
        got=$("$MOTO_PY" "$MOTO_AWS_READ" read "$prefix-public-bench" | wc -l) \
            || die "cannot read the stream $prefix-public-bench back"
        [ "$got" -ge "$rows" ] || die "kinesis ($shape): the stream holds $got records, not $rows"
        [ "$got" = "$rows" ] || say "kinesis ($shape): the stream holds $got records for $rows rows"
    fi
    record "$shape" "kinesis" "$rows" "$(calc "$rows/($T1-$T0)")" "$(calc "$T1-$T0")" \
        "$(calc "$U+$S")" "$M" "$(jpath "$WORK/relay_$name.json" 'd["PutRecords"]')" \
        "$(jpath "$WORK/relay_$name.json" 'd["requests"] - d["PutRecords"]')" \
        "$(calc "$m1-$m0")" "$(calc "$p1-$p0")" "$(agent_line "$name")" \
        "$(jpath "$WORK/relay_$name.json" 'd["DynamoDB"]')"
}

# run_shape SHAPE ROWS PREP FILL CONTENDERS...
run_shape() {
    local shape=$1 rows=$2 prep=$3 fill=$4 end t0 s slots=""
    shift 4
    sql "TRUNCATE public.bench" >/dev/null
    [ -z "$prep" ] || sql "$prep" >/dev/null
    sql "SELECT pg_create_logical_replication_slot('base_$shape', 'pgoutput')" >/dev/null
    say "$shape: writing the backlog ($rows row changes)"
    t0=$SECONDS
    sql "$fill" >/dev/null
    end=$(sql "SELECT pg_current_wal_lsn()")
    say "$shape: backlog written in $((SECONDS - t0)) s, WAL end $end"
    for s in "$@"; do
        case $s in
            recv) slots+=" recv_$shape" ;;
            ps_ord|ps_unord) slots+=" ${s}_$shape" ;;
            kinesis) slots+=" kin_$shape" ;;
        esac
    done
    for s in $slots; do
        sql "SELECT pg_copy_logical_replication_slot('base_$shape', '$s')" >/dev/null
    done
    for s in "$@"; do
        say "$shape: $s"
        case $s in
            recv)     run_recvlogical "$shape" "$end" "$rows" ;;
            ps_ord)   run_pubsub "$shape" "$end" "$rows" true ;;
            ps_unord) run_pubsub "$shape" "$end" "$rows" false ;;
            kinesis)  run_kinesis "$shape" "$end" "$rows" ;;
        esac
    done
    for s in base_$shape $slots; do
        sql "SELECT pg_drop_replication_slot('$s')" >/dev/null
    done
    sql "CHECKPOINT" >/dev/null
}

contenders_of() {   # the wanted contenders among "$@"
    local c out=""
    for c in "$@"; do want "$c" && out+=" $c"; done
    echo "$out"
}

T_START=$SECONDS
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for shape in $SHAPES; do
    case $shape in
        big)
            # shellcheck disable=SC2046
            run_shape big "$ROWS" "" "INSERT INTO public.bench (id, k, payload, amount)
                SELECT g, g % 1000, md5(g::text), (g % 10000) / 100.0 FROM generate_series(1, $ROWS) g" \
                $(contenders_of recv ps_ord ps_unord kinesis) ;;
        small)
            # shellcheck disable=SC2046
            run_shape small "$ROWS" "" "DO \$\$ BEGIN
                FOR t IN 0 .. $ROWS / 5 - 1 LOOP
                  INSERT INTO public.bench (id, k, payload, amount)
                    SELECT g, g % 1000, md5(g::text), (g % 10000) / 100.0
                    FROM generate_series(t * 5 + 1, t * 5 + 5) g;
                  COMMIT;
                END LOOP; END \$\$" \
                $(contenders_of recv ps_ord ps_unord kinesis) ;;
        hot)
            # shellcheck disable=SC2046
            run_shape hot "$HOT_ROWS" "INSERT INTO public.bench (id, k, payload, amount)
                SELECT g, g, md5(g::text), 0 FROM generate_series(1, 10) g" "DO \$\$ BEGIN
                FOR t IN 1 .. $HOT_ROWS / 10 LOOP
                  UPDATE public.bench SET amount = amount + 1, k = t WHERE id <= 10;
                  COMMIT;
                END LOOP; END \$\$" \
                $(contenders_of recv ps_ord kinesis) ;;
        *) die "SHAPES: big, small, hot (not $shape)" ;;
    esac
done

# ---------------------------------------------------------------- the table
python3 - "$RESULTS" "$ROWS" "$HOT_ROWS" "$AGENT_MEMORY_MB" "$PUBSUB_BATCH" "$KINESIS_BATCH" \
    "$BATCH_TIMEOUT" "$KINESIS_SHARDS" "$((SECONDS - T_START))" "$(nproc)" "$LOAD_START" \
    "$(cut -d' ' -f1-3 /proc/loadavg)" "$CDCAGENT" "$JSON_SCHEMAS" <<'PY'
import sys
(path, rows, hot_rows, mem, psb, kb, bt, shards, secs, ncpu, load0, load1,
 agent, schemas) = sys.argv[1:15]
res, order = {}, []
for line in open(path):
    (shape, tool, n, rps, wall, cpu, rss, req, oreq, scpu, pcpu,
     aline, ddb) = line.rstrip("\n").split("\t")
    f = lambda v: float(v) if v else None
    res[(shape, tool)] = dict(n=int(n), rps=f(rps), wall=f(wall), cpu=f(cpu), rss=f(rss),
                              req=f(req), oreq=f(oreq), scpu=f(scpu), pcpu=f(pcpu), aline=aline,
                              ddb=ddb)
    order.append((shape, tool))
def num(v, fmt):
    return "-" if v is None else fmt % v
print("bus_bench: %s rows (big, small), %s updates on 10 keys (hot), %s CPUs; %s" %
      (rows, hot_rows, ncpu, agent))
print("cdcagent: serialization json, json_schemas_enable=%s, memory_limit_mb=%s, batch_size %s "
      "(pubsub) / %s (kinesis), batch_timeout_seconds=%s, kinesis shard_count=%s"
      % (schemas, mem, psb, kb, bt, shards))
print("rows/s: process start to exit (cdcagent: at stop_lsn, everything acknowledged); "
      "req/1k: publish requests (topics.publish, PutRecords) per 1,000 rows, counted by the "
      "server side;")
print("other: every other call (creates, describes, checkpoints); server CPU: the Pub/Sub "
      "double, or moto+relay; both are single-threaded Python: the likely bottleneck")
print()
hdr = "%-6s %-17s %8s %9s %7s %8s %6s %7s %8s %8s %13s %7s" % (
    "shape", "contender", "rows", "rows/s", "wall s", "req/1k", "other", "CPU s", "us/row",
    "RSS MiB", "server CPU s", "x recv")
print(hdr)
print("-" * len(hdr))
for k in order:
    r = res[k]
    p = res.get((k[0], "pg_recvlogical"))
    srv = "-" if r["scpu"] is None else (
        "%.2f" % r["scpu"] if r["pcpu"] is None else "%.2f+%.2f" % (r["scpu"], r["pcpu"]))
    print("%-6s %-17s %8d %9s %7s %8s %6s %7s %8s %8s %13s %7s" % (
        k[0], k[1], r["n"], num(r["rps"], "%.0f"), num(r["wall"], "%.2f"),
        num(None if r["req"] is None else r["req"] * 1000 / r["n"], "%.1f"),
        num(r["oreq"], "%.0f"), num(r["cpu"], "%.2f"),
        num(r["cpu"] * 1e6 / r["n"], "%.1f"), num(r["rss"] / 1024, "%.1f"), srv,
        "-" if not p or k[1] == "pg_recvlogical" else "%.3f" % (r["rps"] / p["rps"])))
print()
for k in order:
    if res[k]["aline"] or res[k]["ddb"]:
        print("%-6s %-17s agent's own count: %s%s" % (
            k[0], k[1], res[k]["aline"] or "-",
            "; of the other requests, %s to DynamoDB (checkpoints)" % res[k]["ddb"]
            if res[k]["ddb"] else ""))
print("x recv: rows/s as a fraction of pg_recvlogical's on the same WAL (it decodes and "
      "publishes nothing: the ceiling)")
print("(measured part of the run: %s s; load average at its start %s, at its end %s)"
      % (secs, load0, load1))
PY
