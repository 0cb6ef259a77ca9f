#!/usr/bin/env bash
# Initial-snapshot benchmark (prints figures; not a test).
#
# Fills one table of ROWS rows in a throwaway PostgreSQL 15, then runs ROUNDS interleaved
# rounds (default 3) of, in this order:
#   copy        psql -c "COPY bench TO STDOUT" > /dev/null: the database's own ceiling; and,
#               apart, the CPU its backend spends on the same COPY (backend_us_row, from /proc)
#   pg_dump     pg_dump -t public.bench | psql into a new database
#   jsonl/N     cdcagent, snapshot_mode initial_only, source.snapshot_max_threads N (THREADS,
#               default "1 2 4"), a jsonl sink on /dev/null, on a new slot each time
#   replica/N   the same into the PostgreSQL sink (mode replica, batch_size 500) in a new
#               database (PG_SINK=0 leaves it out)
#   debezium    Debezium 2.7.4 on Kafka Connect 3.7.1 standalone (test/lib/connect.sh, the
#               JVM's default options, JsonConverter with schemas) with snapshot.mode
#               initial_only into a local Kafka 3.7.1 broker: the time from the connector's
#               task running until the topic's end offsets reach ROWS (polled every 0.2 s),
#               so the JVM's and Connect's start are not counted (printed apart).
#               DEBEZIUM=0 leaves it out.
# and prints, per kind, the median of the rounds: rows/s, peak RSS (the agent's; psql's for
# copy; the largest process of pg_dump | psql; the Connect JVM's VmHWM for debezium), and
# the ratios to COPY and to Debezium; for the agent also its rows per second of its own CPU
# time (user + system), which a machine shared with other work changes less than the wall
# clock.  The agent's time includes connecting, creating the slot
# and exiting; the replica's includes the destination's final commit.
#
# Usage: test/bench/snapshot_bench.sh [ROWS]   (CDCAGENT=path/to/cdcagent to pick a build;
#        CHUNK_MB sets source.snapshot_chunk_mb, default 8; KEYLESS=1 makes the table
#        without a primary key, so its chunks are ctid ranges instead of key ranges;
#        PERF=1 runs each agent under `perf record` and adds main_us_row: the main thread's
#        share of the agent's user-mode samples times its user CPU, per row, i.e. the part
#        the readers cannot take over; agent_us_row is user + system CPU per row;
#        PERF_OUT=path keeps each run's perf.data as path.SINK.THREADS)
set -euo pipefail

ROWS=${1:-1000000}
THREADS=${THREADS:-1 2 4}
ROUNDS=${ROUNDS:-3}
DEBEZIUM=${DEBEZIUM:-1}
PG_SINK=${PG_SINK:-1}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
CDCAGENT=${CDCAGENT:-$SRC/build/cdcagent}
PORT=${BENCH_PORT:-55433}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cdcbench.XXXXXX")
PGBIN=/usr/lib/postgresql/15/bin
export CDC_CACHE=${CDC_CACHE:-$SRC/.cache}
export CDC_BUILD=${CDC_BUILD:-$(dirname "$CDCAGENT")}
# shellcheck source=../lib/pg.sh
. "$SRC/test/lib/pg.sh"

KDIR=$WORK/kafka
CDIR=$WORK/connect
cleanup() {
    set +e
    if [ "$DEBEZIUM" = 1 ]; then
        connect_stop "$CDIR" >/dev/null 2>&1
        kafka_stop "$KDIR" >/dev/null 2>&1
    fi
    pg_stop "$WORK/pg" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

[ -x "$CDCAGENT" ] || { echo "bench: $CDCAGENT not built (cmake --build build)" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "bench: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
chmod 755 "$WORK"

PG_EXTRA_CONF="max_wal_size = 8GB
checkpoint_timeout = 30min" pg_start "$WORK/pg" "$PORT" >/dev/null
pg_setup_cdc "$PORT" >/dev/null

sql() { pg_psql "$PORT" cdc_demo "$@"; }
now() { date +%s.%N; }
RES=$WORK/results           # "kind seconds rss_kib [user_s sys_s]" per run
record() { echo "$1 $(python3 -c "print($3 - $2)") ${*:4}" >>"$RES"; }

PK="PRIMARY KEY"
[ "${KEYLESS:-0}" = 1 ] && PK="NOT NULL"
sql "CREATE TABLE public.bench (id bigint $PK, k int NOT NULL, payload text, amount numeric(12,2), at timestamptz DEFAULT now())" \
    "ALTER TABLE public.bench OWNER TO cdc_user" \
    "CREATE PUBLICATION bench_pub FOR TABLE public.bench" \
    "INSERT INTO public.bench (id, k, payload, amount)
       SELECT g, g % 1000, md5(g::text), (g % 10000) / 100.0 FROM generate_series(1, $ROWS) g" \
    "VACUUM ANALYZE public.bench" >/dev/null
echo "table: $ROWS rows ($([ "${KEYLESS:-0}" = 1 ] && echo "no key: ctid chunks" || echo "primary key: key-range chunks")), $(sql "SELECT pg_size_pretty(pg_relation_size('public.bench'))"); $ROUNDS rounds; medians"

cat > "$WORK/platform.yaml" <<YAML
transport_mode: direct
health_enabled: false
agent:
  log_level: warn
  state_dir: $WORK
YAML

run_copy() {
    local t0 t1
    t0=$(now)
    PGPASSWORD=cdc_password /usr/bin/time -f "%M" -o "$WORK/rss" "$PGBIN/psql" -X -q \
        -h 127.0.0.1 -p "$PORT" -U cdc_user -d cdc_demo -c "COPY public.bench TO STDOUT" >/dev/null
    t1=$(now)
    record copy "$t0" "$t1" "$(cat "$WORK/rss")"
}

# The server's side of COPY alone: the CPU time (user + system, from /proc, in clock ticks)
# its backend spends on "COPY public.bench TO STDOUT" into psql's \o /dev/null; printed as
# backend_us_row on the copy line.
run_copy_backend() {
    local tck
    tck=$(getconf CLK_TCK)
    cat >"$WORK/copy.sql" <<SQL
\\o $WORK/pid
SELECT pg_backend_pid();
\\o /dev/null
\\! awk '{ print \$14 + \$15 }' /proc/\$(cat $WORK/pid)/stat > $WORK/cpu0
COPY public.bench TO STDOUT;
\\o
\\! awk '{ print \$14 + \$15 }' /proc/\$(cat $WORK/pid)/stat > $WORK/cpu1
SQL
    PGPASSWORD=cdc_password "$PGBIN/psql" -X -q -At -h 127.0.0.1 -p "$PORT" -U cdc_user -d cdc_demo \
        -f "$WORK/copy.sql" >/dev/null
    echo "copy_backend 0 0 $(python3 -c "print(($(cat "$WORK/cpu1") - $(cat "$WORK/cpu0")) / $tck)")" \
        >>"$RES"
}

run_dump() {
    local t0 t1
    pg_psql "$PORT" postgres "DROP DATABASE IF EXISTS dumpdst" "CREATE DATABASE dumpdst" >/dev/null
    t0=$(now)
    /usr/bin/time -f "%M" -o "$WORK/rss" bash -c "set -o pipefail
        '$PGBIN/pg_dump' -h 127.0.0.1 -p $PORT -U '$PG_SUPERUSER' -t public.bench cdc_demo |
        '$PGBIN/psql' -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p $PORT -U '$PG_SUPERUSER' -d dumpdst >/dev/null"
    t1=$(now)
    [ "$(pg_psql "$PORT" dumpdst "SELECT count(*) FROM public.bench")" = "$ROWS" ] ||
        { echo "bench: pg_dump | psql did not copy $ROWS rows" >&2; exit 1; }
    record pg_dump "$t0" "$t1" "$(cat "$WORK/rss")"
}

# run_agent SINK N: one snapshot with N threads into SINK (jsonl or replica).
run_agent() {
    local sink=$1 n=$2 slot="snap_$1_$2" t0 t1
    {
        cat <<YAML
pipeline_id: bench
topic_prefix: bench
source:
  host: 127.0.0.1
  port: $PORT
  database: cdc_demo
  username: cdc_user
  password: cdc_password
  tables: [public.bench]
  slot_name: $slot
  publication_name: bench_pub
  snapshot_mode: initial_only
  snapshot_max_threads: $n
  snapshot_chunk_mb: ${CHUNK_MB:-8}
sinks:
YAML
        if [ "$sink" = jsonl ]; then
            cat <<YAML
  - sink_id: devnull
    sink_type: jsonl
    jsonl:
      path: /dev/null
      fsync: false
YAML
        else
            cat <<YAML
  - sink_id: replica
    sink_type: postgres
    postgres:
      host: 127.0.0.1
      port: $PORT
      database: repdst
      username: $PG_SUPERUSER
      mode: replica
      batch_size: 500
YAML
        fi
    } >"$WORK/p.yaml"
    if [ "$sink" = replica ]; then
        pg_psql "$PORT" postgres "DROP DATABASE IF EXISTS repdst" "CREATE DATABASE repdst" >/dev/null
    fi
    local perf=()
    [ "${PERF:-0}" = 1 ] && perf=(perf record -q -F "${PERF_FREQ:-999}" -o "$WORK/perf.data" --)
    t0=$(now)
    (cd "$WORK" && "${perf[@]}" /usr/bin/time -f "%M %U %S" -o "$WORK/rss" "$CDCAGENT" run \
        "$WORK/p.yaml" --platform-config "$WORK/platform.yaml" >&2)
    t1=$(now)
    local share=""
    if [ "${PERF:-0}" = 1 ]; then
        # samples per thread ("pct tid:comm"; comm: the binary's name, at most 15 bytes):
        # the main thread is the agent's first
        share=$(perf report -i "$WORK/perf.data" --stdio -q --sort pid 2>/dev/null |
            awk -v c=":$(basename "$CDCAGENT" | cut -c1-15)" '
                 substr($2, length($2) - length(c) + 1) == c {
                                     split($2, t, ":"); v = $1 + 0; all += v
                                     if (first == "" || t[1] + 0 < first) { first = t[1] + 0; main = v } }
                 END { printf "%.4f", (all > 0 ? main / all : 0) }')
        [ -z "${PERF_OUT:-}" ] || cp "$WORK/perf.data" "$PERF_OUT.$sink.$n"
    fi
    sql "SELECT pg_drop_replication_slot('$slot')" >/dev/null
    rm -f "$WORK"/cdcagent-"$slot"*
    if [ "$sink" = replica ]; then
        [ "$(pg_psql "$PORT" repdst "SELECT count(*) FROM public.bench")" = "$ROWS" ] ||
            { echo "bench: the replica sink did not write $ROWS rows" >&2; exit 1; }
    fi
    # shellcheck disable=SC2046
    record "$sink/$n" "$t0" "$t1" $(cat "$WORK/rss") $share
}

DBZ_WHY=
if [ "$DEBEZIUM" = 1 ]; then
    # shellcheck source=../lib/kafka.sh
    . "$SRC/test/lib/kafka.sh"
    # shellcheck source=../lib/connect.sh
    . "$SRC/test/lib/connect.sh"
    # shellcheck source=../lib/py.sh
    . "$SRC/test/lib/py.sh"
    if ! kafka_probe_bin >/dev/null; then
        DBZ_WHY="test/tools/kafka_probe not built in $CDC_BUILD"
    elif ! connect_install >&2 || ! kafka_install >&2 || ! py_env >&2; then
        DBZ_WHY="Kafka Connect, Kafka or confluent-kafka could not be installed"
    elif ! kafka_start "$KDIR" "$((PORT + 2))" >&2; then
        DBZ_WHY="the Kafka broker did not start ($KDIR/server.log)"
    fi
    [ -z "$DBZ_WHY" ] || DEBEZIUM=0
fi

# Counts the topic's records (end offsets) until there are ROWS; prints the time then.
cat >"$WORK/count.py" <<'PY'
import sys, time
from confluent_kafka import Consumer, TopicPartition
boot, topic, rows, limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
c = Consumer({"bootstrap.servers": boot, "group.id": "bench-count"})
deadline, n = time.time() + limit, 0
while time.time() < deadline:
    try:
        md = c.list_topics(topic, timeout=5).topics.get(topic)
        if md is not None and md.error is None:
            n = sum(c.get_watermark_offsets(TopicPartition(topic, p), timeout=5)[1]
                    for p in md.partitions)
    except Exception:
        pass
    if n >= rows:
        print("%.6f" % time.time())
        sys.exit(0)
    time.sleep(0.2)
sys.stderr.write("count.py: %s has %d of %d records after %.0f s\n" % (topic, n, rows, limit))
sys.exit(1)
PY

# run_debezium R: one snapshot by Debezium on a new slot, publication and topic.
run_debezium() {
    local r=$1 t0 t1 t2 cport rss
    rm -rf "$CDIR"
    cport=$((PORT + 4))
    t0=$(now)
    CONNECT_JAVA_OPTS="-Xms64m" DBZ_PORT=$PORT DBZ_PREFIX="dbz$r" DBZ_TABLES=public.bench \
        DBZ_SLOT="dbz_$r" DBZ_PUB="dbz_pub_$r" DBZ_SNAPSHOT=initial_only \
        connect_start "$CDIR" "127.0.0.1:$((PORT + 2))" "$cport" >&2 ||
        { echo "bench: Kafka Connect did not start ($CDIR/connect.log)" >&2; exit 1; }
    t1=$(now)
    t2=$("$PY" "$WORK/count.py" "127.0.0.1:$((PORT + 2))" "dbz$r.public.bench" "$ROWS" 1800) ||
        { echo "bench: Debezium did not produce $ROWS records ($CDIR/connect.log)" >&2; exit 1; }
    rss=$(awk '/VmHWM/ { print $2 }' "/proc/$(cat "$CDIR/connect.pid")/status")
    connect_stop "$CDIR" >/dev/null 2>&1
    sql "SELECT pg_drop_replication_slot('dbz_$r')" >/dev/null 2>&1 || true
    record debezium "$t1" "$t2" "$rss"
    record debezium_start "$t0" "$t1" 0
}

KINDS="copy pg_dump"
for n in $THREADS; do KINDS="$KINDS jsonl/$n"; done
if [ "$PG_SINK" = 1 ]; then for n in $THREADS; do KINDS="$KINDS replica/$n"; done; fi
[ "$DEBEZIUM" = 1 ] && KINDS="$KINDS debezium"

for ((r = 1; r <= ROUNDS; r++)); do
    run_copy
    run_copy_backend
    run_dump
    for n in $THREADS; do run_agent jsonl "$n"; done
    if [ "$PG_SINK" = 1 ]; then for n in $THREADS; do run_agent replica "$n"; done; fi
    if [ "$DEBEZIUM" = 1 ]; then run_debezium "$r"; fi
    echo "round $r of $ROUNDS done" >&2
done

python3 - "$RES" "$ROWS" "$KINDS" "${DBZ_WHY:-}" <<'PY'
import statistics, sys
path, rows, kinds, why = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4]
runs = {}
cpu = {}
us_row = {}
main_us_row = {}
backend = []
for line in open(path):
    k, secs, rss, *used = line.split()
    if k == "copy_backend":
        backend.append(float(used[0]) * 1e6 / rows)
        continue
    runs.setdefault(k, []).append((float(secs), int(rss)))
    if used:
        cpu.setdefault(k, []).append(rows / max(float(used[0]) + float(used[1]), 0.001))
        us_row.setdefault(k, []).append((float(used[0]) + float(used[1])) * 1e6 / rows)
    if len(used) > 2:
        main_us_row.setdefault(k, []).append(float(used[0]) * float(used[2]) * 1e6 / rows)
rate = {k: statistics.median(rows / s for s, _ in v) for k, v in runs.items()}
for k in kinds:
    v = runs[k]
    line = "%-12s %9d rows/s  peak_rss=%7d KiB  ratio_to_copy=%.2f" % (
        k, rate[k], statistics.median(m for _, m in v), rate[k] / rate["copy"])
    if k == "copy" and backend:
        line += "  backend_us_row=%.3f" % statistics.median(backend)
    if "debezium" in rate and k != "debezium":
        line += "  ratio_to_debezium=%.2f" % (rate[k] / rate["debezium"])
    if k in cpu:
        line += "  agent_cpu=%d rows/cpu-s agent_us_row=%.3f" % (statistics.median(cpu[k]),
                                                                statistics.median(us_row[k]))
    if k in main_us_row:
        line += "  main_us_row=%.3f" % statistics.median(main_us_row[k])
    print(line)
if "debezium" in runs:
    print("%-12s Kafka Connect's start until the connector's task ran, not counted above: %.1f s"
          % ("debezium", statistics.median(s for s, _ in runs["debezium_start"])))
else:
    print("%-12s not measured: %s" % ("debezium", why or "DEBEZIUM=0"))
PY
