#!/usr/bin/env bash
# Direct-mode benchmark (prints figures; not a test, not run in CI).
#
# Part 1, throughput from a backlog.  With the agent stopped, a logical slot is created and
# ROWS inserts are committed in transactions of TXN rows.  The slot is then copied with
# pg_copy_logical_replication_slot so that every contestant reads the same WAL in the same run:
#   pg_recvlogical     decodes nothing, writes to /dev/null: the ceiling
#   replica            cdcagent, postgres sink mode replica, into a second PostgreSQL 15
#   event_log          cdcagent, postgres sink mode event_log (upsert), same target server
#   webhook            cdcagent, webhook sink, into test/tools/bench_webhook_recv (C, answers
#                      200 at once); WEBHOOK_EXTRA adds lines to its webhook: section
# Each agent run ends at agent.stop_lsn (the backlog's end), so its wall time covers
# connecting, draining and confirming.  Printed: rows/s, the ratio to pg_recvlogical, the
# agent's CPU seconds (user+sys) and peak RSS; each target's row count is checked.
#
# Part 2, latency under a steady load.  The agent streams (replica sink) while a procedure
# on the source commits RATE rows/s in transactions of STEADY_TXN rows for SECONDS seconds.
# Both servers run with track_commit_timestamp = on and share this machine's clock, so for
# every row: latency = commit time on the target (pg_xact_commit_timestamp of the row's
# xmin: the moment it became durable there) - commit time on the source.  Printed: p50, p95,
# p99 and max, and the rate the source really achieved.
#
# Environment: WEBHOOK=0 skips the webhook contestant, WEBHOOK_BATCH (events per request; 200), ROWS (1000000), TXN (10), BATCH (the sinks' batch_size; 500), RATE (10000),
# SECONDS (30; bash's own SECONDS counter is read before it moves), STEADY_TXN (10),
# CDCAGENT / CDC_BUILD (the build to use), BENCH_PORT (55440; the target gets +2, the webhook
# receiver +4), KEEP=1 keeps the work directory.  Both servers are test servers with fsync
# off and synchronous_commit on (test/lib/pg.sh; repeated below because it matters here: with
# it off, a commit reaches the walsender only when the WAL writer flushes, wal_writer_delay,
# 200 ms, which would be counted as the agent's latency).  "Durable" means COMMIT returned on the target.
STEADY_SECONDS=${STEADY_SECONDS:-$SECONDS}
[ "$STEADY_SECONDS" -gt 0 ] 2>/dev/null || STEADY_SECONDS=30
set -euo pipefail

ROWS=${ROWS:-1000000}
TXN=${TXN:-10}
BATCH=${BATCH:-500}
RATE=${RATE:-10000}
STEADY_TXN=${STEADY_TXN:-10}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
CDC_BUILD=${CDC_BUILD:-$SRC/build}
CDCAGENT=${CDCAGENT:-$CDC_BUILD/cdcagent}
RECV=$CDC_BUILD/bench_webhook_recv
PORT=${BENCH_PORT:-55440}
TPORT=$((PORT + 2))
HPORT=$((PORT + 4))
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cdcdirect.XXXXXX")
mkdir -p "$WORK/state"
PGBIN=/usr/lib/postgresql/15/bin
RECV_PID=
AGENT_PID=
# shellcheck source=SCRIPTDIR/../lib/pg.sh
. "$SRC/test/lib/pg.sh"
# shellcheck source=SCRIPTDIR/../lib/bench.sh
. "$SRC/test/lib/bench.sh"

cleanup() {
    set +e
    [ -n "$AGENT_PID" ] && kill -TERM "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
    [ -n "$RECV_PID" ] && kill -TERM "$RECV_PID" 2>/dev/null && wait "$RECV_PID" 2>/dev/null
    pg_stop "$WORK/src" >/dev/null 2>&1
    pg_stop "$WORK/tgt" >/dev/null 2>&1
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

die() { echo "direct_bench: $*" >&2; exit 1; }
[ -x "$CDCAGENT" ] || die "$CDCAGENT not built (ninja -C build)"
[ -x "$RECV" ] || die "$RECV not built (it is a test tool: ninja -C $CDC_BUILD bench_webhook_recv)"
command -v /usr/bin/time >/dev/null || die "needs /usr/bin/time (apt-get install time)"
chmod 755 "$WORK"

CONF="logical_decoding_work_mem = 64MB
max_wal_size = 8GB
checkpoint_timeout = 30min
track_commit_timestamp = on
synchronous_commit = on"
PG_EXTRA_CONF=$CONF pg_start "$WORK/src" "$PORT" >/dev/null || die "source PostgreSQL did not start"
PG_EXTRA_CONF=$CONF pg_start "$WORK/tgt" "$TPORT" >/dev/null || die "target PostgreSQL did not start"

sql()  { pg_psql "$PORT" cdc_demo "$@"; }
tsql() { pg_psql "$TPORT" cdc_demo "$@"; }
now()  { date +%s.%N; }
calc() { python3 -c "print($1)"; }

sql "CREATE TABLE public.bench (id bigint PRIMARY KEY, k int NOT NULL, payload text,
         amount numeric(12,2), at timestamptz DEFAULT now())" \
    "ALTER TABLE public.bench OWNER TO cdc_user" \
    "CREATE PUBLICATION bench_pub FOR TABLE public.bench" \
    "$(bench_proc_sql fill)" "$(bench_proc_sql steady)"

# pipeline.yaml for one run: SLOT, the sinks section as $2.
pipeline() {
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
  slot_name: $1
  publication_name: bench_pub
  snapshot_mode: never
sinks:
$2
YAML
}

pg_sink() {   # pg_sink ID MODE [extra lines]
    cat <<YAML
  - sink_id: $1
    sink_type: postgres
    postgres:
      host: 127.0.0.1
      port: $TPORT
      database: cdc_demo
      username: postgres
      mode: $2
      batch_size: $BATCH
${3:-}
YAML
}

platform() {  # platform [STOP_LSN]
    cat <<YAML
transport_mode: direct
health_enabled: false
agent:
  log_level: warn
  status_interval_seconds: 1
  state_dir: $WORK/state
${1:+  stop_lsn: \"$1\"}
dlq:
  path: $WORK/dlq.jsonl
YAML
}

# ---------------------------------------------------------------- part 1: the backlog

# The contestants of every round: pg_recvlogical, then the agent's replica and event_log
# runs; with BASE=<another cdcagent binary>, the same two runs of that build too
# (replica_base, event_log_base), so a change is measured against its base in one run.
CONTESTANTS="pg_recvlogical replica event_log"
[ -n "${BASE:-}" ] && CONTESTANTS="$CONTESTANTS replica_base event_log_base"
[ "${WEBHOOK:-1}" = 1 ] && CONTESTANTS="$CONTESTANTS webhook"
ROUNDS=${ROUNDS:-3}
TXNS=${TXNS:-"$TXN $ROWS"}

RESULTS=$WORK/results.txt
: >"$RESULTS"

# run_agent NAME BINARY: the agent on $WORK/NAME.yaml to stop_lsn END; appends a result line.
run_agent() {
    local name=$1 bin=$2 t s0 t0 u s m
    platform "$END" >"$WORK/$name.platform.yaml"
    s0=$(bench_cluster_cpu "$WORK/src"); t0=$(bench_cluster_cpu "$WORK/tgt")
    t=$(now)
    /usr/bin/time -f "%U %S %M" -o "$WORK/$name.time" "$bin" run "$WORK/$name.yaml" \
        --platform-config "$WORK/$name.platform.yaml" 2>"$WORK/$name.log" ||
        die "agent run $name failed: $(tail -3 "$WORK/$name.log")"
    t=$(calc "$(now) - $t")
    read -r u s m <"$WORK/$name.time"
    echo "$TXN_NOW $ROUND $name $t $(calc "$u + $s") $m $(calc "$(bench_cluster_cpu "$WORK/src") - $s0") $(calc "$(bench_cluster_cpu "$WORK/tgt") - $t0")" >>"$RESULTS"
}

first=1
for TXN_NOW in $TXNS; do
    echo "# building a backlog of $ROWS inserts in transactions of $TXN_NOW rows"
    sql "SELECT pg_create_logical_replication_slot('b_origin', 'pgoutput')" >/dev/null
    t0=$(now)
    sql "CALL fill($first, $ROWS, $TXN_NOW)"
    echo "# backlog built in $(calc "round($(now) - $t0, 1)") s"
    END=$(sql "SELECT pg_current_wal_lsn()")
    for ROUND in $(seq "$ROUNDS"); do
        for c in $CONTESTANTS; do
            slot=b_${c}_${TXN_NOW}_$ROUND
            sql "SELECT pg_copy_logical_replication_slot('b_origin', '$slot')" >/dev/null
            tsql "DROP TABLE IF EXISTS public.bench, public.bench_events" \
                 "DROP TABLE IF EXISTS cdcagent_state" >/dev/null 2>&1
            bin=$CDCAGENT
            case $c in *_base) bin=$BASE ;; esac
            case $c in
            pg_recvlogical)
                s0=$(bench_cluster_cpu "$WORK/src"); t=$(now)
                PGPASSWORD=cdc_password "$PGBIN/pg_recvlogical" -h 127.0.0.1 -p "$PORT" \
                    -U cdc_user -d cdc_demo --slot "$slot" --start --no-loop --endpos "$END" \
                    -f /dev/null -o proto_version=2 -o publication_names=bench_pub -o streaming=on
                echo "$TXN_NOW $ROUND $c $(calc "$(now) - $t") 0 0 $(calc "$(bench_cluster_cpu "$WORK/src") - $s0") 0" >>"$RESULTS"
                ;;
            replica|replica_base)
                pipeline "$slot" "$(pg_sink rep replica)" >"$WORK/$c.yaml"
                run_agent "$c" "$bin"
                n=$(tsql "SELECT count(*) FROM public.bench")
                [ "$n" = "$ROWS" ] || die "$c holds $n rows, expected $ROWS"
                ;;
            event_log|event_log_base)
                pipeline "$slot" "$(pg_sink log event_log "      target_table: public.bench_events
      upsert: true")" >"$WORK/$c.yaml"
                run_agent "$c" "$bin"
                n=$(tsql "SELECT count(*) FROM public.bench_events")
                [ "$n" = "$ROWS" ] || die "$c holds $n rows, expected $ROWS"
                ;;
            webhook)
                "$RECV" "$HPORT" "$WORK/hook.count" &
                RECV_PID=$!
                sleep 0.3
                pipeline "$slot" "  - sink_id: hook
    sink_type: webhook
    webhook:
      url: http://127.0.0.1:$HPORT/events
      batch_size: ${WEBHOOK_BATCH:-200}
${WEBHOOK_EXTRA:-}" >"$WORK/webhook.yaml"
                run_agent webhook "$CDCAGENT"
                kill -TERM "$RECV_PID"
                wait "$RECV_PID" || die "the webhook receiver failed"
                RECV_PID=
                read -r _ nev <"$WORK/hook.count"
                [ "$nev" -ge "$ROWS" ] || die "the webhook receiver counted $nev events, expected $ROWS"
                ;;
            esac
            sql "SELECT pg_drop_replication_slot('$slot')" >/dev/null
            tail -1 "$RESULTS" | sed 's/^/# /'
        done
    done
    sql "SELECT pg_drop_replication_slot('b_origin')" >/dev/null
    first=$((first + ROWS))
done

echo
echo "backlog: $ROWS inserts; postgres batch_size $BATCH; medians of $ROUNDS interleaved rounds;"
echo "ratios against pg_recvlogical in the same run; CPU per row in microseconds (user + system)"
python3 - "$RESULTS" "$ROWS" "$CONTESTANTS" <<'PY'
import sys, statistics as st
rows = int(sys.argv[2]); order = sys.argv[3].split()
res = {}
for l in open(sys.argv[1]):
    txn, rnd, name, wall, cpu, rss, src, tgt = l.split()
    res.setdefault((int(txn), name), []).append((float(wall), float(cpu), int(rss), float(src), float(tgt)))
print("%-10s %-16s %10s %9s %12s %13s %13s %12s" % ("txn_rows", "contestant", "rows/s", "x recvlog",
      "agent_us/row", "walsnd_us/row", "target_us/row", "peak_rss_KiB"))
for txn in sorted({k[0] for k in res}):
    ref = st.median(rows / r[0] for r in res[(txn, "pg_recvlogical")])
    for name in order:
        rs = res.get((txn, name))
        if not rs:
            continue
        rps = st.median(rows / r[0] for r in rs)
        med = lambda i: st.median(r[i] for r in rs) * 1e6 / rows
        print("%-10d %-16s %10.0f %9.2f %12s %13.2f %13s %12s" % (txn, name, rps, rps / ref,
              "-" if name == "pg_recvlogical" else "%.2f" % med(1), med(3),
              "-" if name == "pg_recvlogical" else "%.2f" % med(4),
              "-" if name == "pg_recvlogical" else max(r[2] for r in rs)))
PY

# ---------------------------------------------------------------- part 2: steady load

echo
echo "# steady load: $RATE rows/s for $STEADY_SECONDS s in transactions of $STEADY_TXN rows, replica sink"
pipeline b_steady "$(pg_sink steady replica)" >"$WORK/steady.yaml"
platform >"$WORK/steady.platform.yaml"
"$CDCAGENT" run "$WORK/steady.yaml" --platform-config "$WORK/steady.platform.yaml" \
    2>"$WORK/steady.log" &
AGENT_PID=$!
for _ in $(seq 300); do
    [ "$(sql "SELECT active FROM pg_replication_slots WHERE slot_name = 'b_steady'")" = t ] && break
    kill -0 "$AGENT_PID" 2>/dev/null || die "the agent exited: $(tail -3 "$WORK/steady.log")"
    sleep 0.1
done
FIRST=$first
NSTEADY=$(( (RATE * STEADY_SECONDS / STEADY_TXN) * STEADY_TXN ))
t0=$(now)
sql "CALL steady($FIRST, $RATE, $STEADY_SECONDS, $STEADY_TXN)"
t1=$(now)
for _ in $(seq 600); do
    [ "$(tsql "SELECT count(*) FROM public.bench WHERE id >= $FIRST")" = "$NSTEADY" ] && break
    sleep 0.1
done
# CPU seconds (utime + stime, in clock ticks) and peak RSS, read before the agent stops.
read -r u s < <(awk '{ print $14, $15 }' "/proc/$AGENT_PID/stat")
TICK=$(getconf CLK_TCK)
u=$(calc "$u / $TICK"); s=$(calc "$s / $TICK")
m=$(awk '/^VmHWM/ { print $2 }' "/proc/$AGENT_PID/status")
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || die "the steady agent did not exit 0: $(tail -3 "$WORK/steady.log")"
AGENT_PID=
n=$(tsql "SELECT count(*) FROM public.bench WHERE id >= $FIRST")
[ "$n" = "$NSTEADY" ] || die "the replica holds $n of the $NSTEADY steady rows"
sql "COPY (SELECT id, extract(epoch FROM pg_xact_commit_timestamp(xmin)) FROM public.bench
           WHERE id >= $FIRST) TO STDOUT" >"$WORK/src_ts.txt"
tsql "COPY (SELECT id, extract(epoch FROM pg_xact_commit_timestamp(xmin)) FROM public.bench
            WHERE id >= $FIRST) TO STDOUT" >"$WORK/tgt_ts.txt"
python3 - "$WORK/src_ts.txt" "$WORK/tgt_ts.txt" "$NSTEADY" "$(calc "$t1 - $t0")" "$u" "$s" "$m" <<'PY'
import sys
src = dict(l.split("\t") for l in open(sys.argv[1]).read().split("\n") if l)
tgt = dict(l.split("\t") for l in open(sys.argv[2]).read().split("\n") if l)
lat = sorted((float(tgt[k]) - float(src[k])) * 1000 for k in src if k in tgt)
n, secs = int(sys.argv[3]), float(sys.argv[4])
if len(lat) != n:
    sys.exit("direct_bench: %d latencies for %d rows" % (len(lat), n))
pct = lambda p: lat[min(len(lat) - 1, int(p / 100.0 * len(lat)))]
print("steady: %d rows in %.1f s at the source (%.0f rows/s achieved)" % (n, secs, n / secs))
print("commit-to-durable latency, ms:  p50 %.1f  p95 %.1f  p99 %.1f  max %.1f" %
      (pct(50), pct(95), pct(99), lat[-1]))
print("agent during the steady run: cpu %.1f s, peak RSS %s KiB" %
      (float(sys.argv[5]) + float(sys.argv[6]), sys.argv[7]))
PY
