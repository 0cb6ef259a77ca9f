#!/usr/bin/env bash
# Iceberg sink benchmark (prints figures; not a test, not run in CI).  Issue 20's targets:
# append >= 0.8x and upsert >= 0.5x pg_recvlogical's rows/s on the same backlog, peak RSS
# printed (target <= 256 MiB), and at a steady 10,000 rows/s a commit-to-visible p95 <=
# flush_interval_seconds + 1 s.
#
# Part 1, throughput from a backlog (the shape of direct_bench.sh).  With no agent running, a
# logical slot is created and ROWS inserts are committed in transactions of TXN rows.  The slot
# is copied with pg_copy_logical_replication_slot so that every contender reads the same WAL:
#   pg_recvlogical     decodes nothing, writes to /dev/null: the ceiling; it runs before
#                      the agents and again after them (recv_after): the machine is shared,
#                      so rows/s are compared with the median of its runs (recv_ref)
#   append             cdcagent, sink_type iceberg, write_mode append
#   upsert             cdcagent, sink_type iceberg, write_mode upsert (key index, position
#                      deletes; the backlog is inserts, so this measures the index, not deletes)
# REPEAT (1) rounds of the three, each on its own slot copy: with REPEAT > 1 the medians are
# printed too (the machine is shared: single runs vary by a fifth or more).
# Every agent run uses pyiceberg's SQL catalog on SQLite and a file:// warehouse of their own.
# Each agent run ends at agent.stop_lsn (the backlog's end): its wall time covers connecting,
# draining and committing everything.  Printed: rows/s, the ratio to recv_ref, CPU seconds
# (user+sys) and peak RSS (/usr/bin/time) of each process, and what pyiceberg 0.12 finds
# in each table (rows scanned, distinct ids: both must be ROWS; an md5 of every row's id, k,
# payload and amount must equal the source's; snapshots, files, bytes).
#
# Part 1b, updates into the upsert table (UPDATES > 0).  A second backlog of UPDATES updates
# (amount and payload; keys spread over the whole table, transactions of TXN rows) on a new
# slot and its copy; pg_recvlogical drains one, and cdcagent in upsert mode the other into
# part 1's upsert table: its start rebuilds the key index from the table's ROWS live rows (the
# time is printed, from the agent's log), every update adds a position delete.  pyiceberg's
# scan (position deletes applied) must again hold ROWS rows equal to the source's.
#
# Part 2, latency under a steady load.  The agent streams (append mode) while a procedure on
# the source commits RATE rows/s in transactions of STEADY_TXN rows for STEADY_SECONDS.  The
# source runs with track_commit_timestamp = on.  For every row: visible = timestamp-ms of the
# first snapshot whose added data files hold it (read with pyiceberg from the table metadata,
# the rows of each file with pyarrow), latency = visible - the row's commit time at the source
# (pg_xact_commit_timestamp of its xmin).  The snapshot's timestamp is taken by the agent just
# before its catalog commit (a SQLite transaction), so "visible" is early by that commit's
# duration.  Printed: p50, p95, p99, max, and the rate the source achieved.
#
# Environment: ROWS (1000000), TXN (10), UPDATES (ROWS / 2; 0 skips part 1b), BATCH
# (iceberg.batch_size; 50000), FLUSH (iceberg.flush_interval_seconds; 1), UPSERT=0 skips the
# upsert contenders (parts 1 and 1b), REPEAT (1), STEADY=0 skips
# part 2, RATE (10000), STEADY_SECONDS (30), STEADY_TXN (10), STEADY_BATCH (batch_size in
# part 2; BATCH), CDCAGENT / CDC_BUILD (the build), BENCH_PORT (57350), KEEP=1 keeps the work
# directory.  Needs /usr/bin/time and the venv of test/lib/iceberg.sh (installed on first use).
set -euo pipefail

ROWS=${ROWS:-1000000}
UPDATES=${UPDATES:-$((ROWS / 2))}
REPEAT=${REPEAT:-1}
TXN=${TXN:-10}
BATCH=${BATCH:-50000}
FLUSH=${FLUSH:-1}
RATE=${RATE:-10000}
STEADY_SECONDS=${STEADY_SECONDS:-30}
STEADY_TXN=${STEADY_TXN:-10}
STEADY_BATCH=${STEADY_BATCH:-$BATCH}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
CDC_BUILD=${CDC_BUILD:-$SRC/build}
CDCAGENT=${CDCAGENT:-$CDC_BUILD/cdcagent}
PORT=${BENCH_PORT:-57350}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cdciceb.XXXXXX")
PGBIN=/usr/lib/postgresql/15/bin
AGENT_PID=
# shellcheck source=SCRIPTDIR/../lib/pg.sh
. "$SRC/test/lib/pg.sh"
# shellcheck source=SCRIPTDIR/../lib/bench.sh
. "$SRC/test/lib/bench.sh"
# shellcheck source=SCRIPTDIR/../lib/iceberg.sh
. "$SRC/test/lib/iceberg.sh"

cleanup() {
    set +e
    [ -n "$AGENT_PID" ] && kill -TERM "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
    pg_stop "$WORK/src" >/dev/null 2>&1
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

die() { echo "iceberg_bench: $*" >&2; exit 1; }
[ -x "$CDCAGENT" ] || die "$CDCAGENT not built (ninja -C build cdcagent)"
command -v /usr/bin/time >/dev/null || die "needs /usr/bin/time (apt-get install time)"
iceberg_install || die "could not install the pyiceberg venv (test/lib/iceberg.sh)"
chmod 755 "$WORK"

CONF="logical_decoding_work_mem = 64MB
max_wal_size = 8GB
checkpoint_timeout = 30min
track_commit_timestamp = on
synchronous_commit = on"
PG_EXTRA_CONF=$CONF pg_start "$WORK/src" "$PORT" >/dev/null || die "source PostgreSQL did not start"

sql()  { pg_psql "$PORT" cdc_demo "$@"; }
now()  { date +%s.%N; }
calc() { python3 -c "print($1)"; }
ib()   { local n=$1; shift; "$ICEBERG_PY" "$SRC/test/bench/iceberg_bench.py" \
             --uri "sqlite:///$WORK/$n.db" --warehouse "file://$WORK/wh_$n" "$@"; }

sql "CREATE TABLE public.bench (id bigint PRIMARY KEY, k int NOT NULL, payload text,
         amount numeric(12,2), at timestamptz DEFAULT now())" \
    "ALTER TABLE public.bench OWNER TO cdc_user" \
    "CREATE PUBLICATION bench_pub FOR TABLE public.bench" \
    "$(bench_proc_sql fill)" \
    "CREATE PROCEDURE churn(n bigint, nrows bigint, per_txn int) LANGUAGE plpgsql AS \$\$
     BEGIN
         FOR t IN 0 .. (n + per_txn - 1) / per_txn - 1 LOOP
             UPDATE public.bench SET amount = amount + 1, payload = md5(payload)
              WHERE id IN (SELECT (g * 48271) % nrows + 1
                             FROM generate_series(t * per_txn, least(n, (t + 1) * per_txn) - 1) g);
             COMMIT;
         END LOOP;
     END \$\$" \
    "$(bench_proc_sql steady)"

# pipeline NAME SLOT MODE BATCH: pipeline.yaml with one iceberg sink, catalog and warehouse NAME.
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
  slot_name: $2
  publication_name: bench_pub
  snapshot_mode: never
sinks:
  - sink_id: lake
    sink_type: iceberg
    iceberg:
      catalog_uri: "sqlite:///$WORK/$1.db"
      warehouse: "file://$WORK/wh_$1"
      write_mode: $3
      batch_size: $4
      flush_interval_seconds: $FLUSH
YAML
}

platform() {  # platform [STOP_LSN [LOG_LEVEL]]
    cat <<YAML
transport_mode: direct
health_enabled: false
agent:
  log_level: ${2:-warn}
  status_interval_seconds: 1
${1:+  stop_lsn: \"$1\"}
dlq:
  path: $WORK/dlq.jsonl
YAML
}

# ---------------------------------------------------------------- part 1: the backlog

echo "# building a backlog of $ROWS inserts in transactions of $TXN rows"
sql "SELECT pg_create_logical_replication_slot('b_recv', 'pgoutput')" >/dev/null
t0=$(now)
sql "CALL fill(1, $ROWS, $TXN)"
echo "# backlog built in $(calc "round($(now) - $t0, 1)") s"
END=$(sql "SELECT pg_current_wal_lsn()")
# The digest iceberg_bench.py count computes from the table: every row, ordered by id.
src_md5() {
    sql "SELECT md5(string_agg(id || '|' || k || '|' || payload || '|' || amount || E'\\n', '' ORDER BY id))
           FROM public.bench"
}
SRC_MD5=$(src_md5)
for s in b_append b_upsert b_recv2 $(for i in $(seq 2 "$REPEAT"); do echo "b_recv_$i b_append_$i b_upsert_$i"; done); do
    sql "SELECT pg_copy_logical_replication_slot('b_recv', '$s')" >/dev/null
done

declare -A RPS CPU RSS WALL INFO
# recv NAME SLOT END ROWS: pg_recvlogical from SLOT up to END; sets RPS, WALL, CPU, RSS, INFO.
recv() {
    local name=$1 t u s m
    t=$(now)
    PGPASSWORD=cdc_password /usr/bin/time -f "%U %S %M" -o "$WORK/$name.time" \
        "$PGBIN/pg_recvlogical" -h 127.0.0.1 -p "$PORT" -U cdc_user -d cdc_demo \
        --slot "$2" --start --no-loop --endpos "$3" -f /dev/null \
        -o proto_version=2 -o publication_names=bench_pub -o streaming=on ||
        die "pg_recvlogical on $2 failed"
    WALL[$name]=$(calc "round($(now) - $t, 1)")
    RPS[$name]=$(calc "int($4 / ($(now) - $t))")
    read -r u s m <"$WORK/$name.time"
    CPU[$name]=$(calc "round($u + $s, 1)")
    RSS[$name]=$(calc "round($m / 1024.0, 1)")
    INFO[$name]=-
}

# The machine is shared: pg_recvlogical runs before the agents (each round) and after them,
# and the ratios are to the median of its rates (recv_ref).

# run_agent NAME MODE SLOT END ROWS [CATALOG]: cdcagent from SLOT up to END into catalog and
# warehouse CATALOG (default NAME), then pyiceberg must scan ROWS rows, ROWS distinct ids and
# the source's digest SRC_MD5; sets RPS (of ROWS), WALL, CPU, RSS, INFO[NAME].
run_agent() {
    local name=$1 mode=$2 slot=$3 end=$4 rows=$5 cat=${6:-$1} t u s m info r d
    pipeline "$cat" "$slot" "$mode" "$BATCH" >"$WORK/$name.yaml"
    platform "$end" info >"$WORK/$name.platform.yaml"
    echo "# $name: draining the backlog"
    t=$(now)
    /usr/bin/time -f "%U %S %M" -o "$WORK/$name.time" "$CDCAGENT" run "$WORK/$name.yaml" \
        --platform-config "$WORK/$name.platform.yaml" 2>"$WORK/$name.log" ||
        die "agent run $name failed: $(tail -3 "$WORK/$name.log")"
    WALL[$name]=$(calc "round($(now) - $t, 1)")
    RPS[$name]=$(calc "int($rows / ($(now) - $t))")
    read -r u s m <"$WORK/$name.time"
    CPU[$name]=$(calc "round($u + $s, 1)")
    RSS[$name]=$(calc "round($m / 1024.0, 1)")
    info=$(ib "$cat" count default.public_bench) || die "pyiceberg could not read $name's table"
    echo "#   pyiceberg: $info"
    read -r _ r _ d _ <<<"$info"
    [ "$r" = "$ROWS" ] || die "$name: pyiceberg scans $r rows, expected $ROWS"
    [ "$d" = "$ROWS" ] || die "$name: $d distinct ids, expected $ROWS"
    [ "${info##* }" = "$SRC_MD5" ] || die "$name: the table's rows differ from the source's (md5)"
    INFO[$name]=$(awk '{ printf "%s snaps, %s files + %s deletes, %.1f MiB", $6, $8, $10, $12 / 1048576 }' <<<"$info")
}

# table REF NAME...: the figures of these contenders, rows/s as a ratio to REF's.
table() {
    local recv=$1 c
    shift
    printf '%-15s %9s %9s %7s %7s %9s  %s\n' contender rows/s "x recvlog" wall_s cpu_s rss_MiB "pyiceberg: table"
    for c in "$@"; do
        printf '%-15s %9s %9s %7s %7s %9s  %s\n' "$c" "${RPS[$c]}" \
            "$(calc "'%.2f' % (${RPS[$c]} / ${RPS[$recv]})")" "${WALL[$c]}" "${CPU[$c]}" \
            "${RSS[$c]}" "${INFO[$c]}"
    done
}

# median NAME RUN...: RPS[NAME] = the median of RPS[RUN...] (the mean of the middle two).
median() {
    local name=$1
    shift
    RPS[$name]=$(python3 -c "import statistics, sys; print(int(statistics.median(map(float, sys.argv[1:]))))" \
                 $(for r in "$@"; do echo "${RPS[$r]}"; done))
    WALL[$name]=- CPU[$name]=- RSS[$name]=- INFO[$name]="median of $*"
}

# REPEAT rounds of pg_recvlogical, append, upsert on copies of the slot (the first round's
# tables are the ones part 1b updates); then pg_recvlogical once more.
CONTENDERS= RECVS= APPENDS= UPSERTS=
for i in $(seq "$REPEAT"); do
    sfx=; [ "$i" -gt 1 ] && sfx=_$i
    recv "pg_recvlogical$sfx" "b_recv$sfx" "$END" "$ROWS"
    run_agent "append$sfx" append "b_append$sfx" "$END" "$ROWS"
    CONTENDERS="$CONTENDERS pg_recvlogical$sfx append$sfx" RECVS="$RECVS pg_recvlogical$sfx"
    APPENDS="$APPENDS append$sfx"
    if [ "${UPSERT:-1}" = 1 ]; then
        run_agent "upsert$sfx" upsert "b_upsert$sfx" "$END" "$ROWS"
        CONTENDERS="$CONTENDERS upsert$sfx" UPSERTS="$UPSERTS upsert$sfx"
    fi
done
[ "${UPSERT:-1}" = 1 ] || echo "upsert: skipped (UPSERT=0)"

echo
echo "backlog: $ROWS inserts in transactions of $TXN rows; iceberg batch_size $BATCH," \
     "flush_interval_seconds $FLUSH; SQLite catalog, file:// warehouse"
recv recv_after b_recv2 "$END" "$ROWS"
# shellcheck disable=SC2086
median recv_ref $RECVS recv_after
INFO[recv_ref]="the reference for x recvlog: ${INFO[recv_ref]}"
MEDIANS=
if [ "$REPEAT" -gt 1 ]; then
    # shellcheck disable=SC2086
    median append_median $APPENDS
    MEDIANS=append_median
    if [ "${UPSERT:-1}" = 1 ]; then
        # shellcheck disable=SC2086
        median upsert_median $UPSERTS
        MEDIANS="$MEDIANS upsert_median"
    fi
fi
# shellcheck disable=SC2086
table recv_ref $CONTENDERS recv_after recv_ref $MEDIANS

# ---------------------------------------------------------------- part 1b: updates (upsert)

if [ "${UPSERT:-1}" = 1 ] && [ "$UPDATES" -gt 0 ]; then
    echo
    echo "# a second backlog: $UPDATES updates of rows spread over the table, transactions of $TXN"
    sql "SELECT pg_create_logical_replication_slot('u_recv', 'pgoutput')" >/dev/null
    sql "SELECT pg_copy_logical_replication_slot('u_recv', 'u_upsert')" >/dev/null
    sql "SELECT pg_copy_logical_replication_slot('u_recv', 'u_recv2')" >/dev/null
    t0=$(now)
    sql "CALL churn($UPDATES, $ROWS, $TXN)"
    echo "# built in $(calc "round($(now) - $t0, 1)") s"
    END2=$(sql "SELECT pg_current_wal_lsn()")
    SRC_MD5=$(src_md5)
    recv u_recvlogical u_recv "$END2" "$UPDATES"
    # The upsert table of part 1: the start rebuilds its key index from its ROWS live rows.
    run_agent u_upsert upsert u_upsert "$END2" "$UPDATES" upsert
    rebuild=$(grep -o 'key index rebuilt[^"]*' "$WORK/u_upsert.log" | head -1) ||
        die "the upsert run did not say it rebuilt its key index"
    echo
    echo "updates: $UPDATES updates in transactions of $TXN rows into part 1's upsert table" \
         "($ROWS rows); $rebuild"
    recv u_recv_after u_recv2 "$END2" "$UPDATES"
    median u_recv_ref u_recvlogical u_recv_after
    table u_recv_ref u_recvlogical u_upsert u_recv_after u_recv_ref
fi

[ "${STEADY:-1}" = 1 ] || exit 0

# ---------------------------------------------------------------- part 2: steady load

echo
echo "# steady load: $RATE rows/s for $STEADY_SECONDS s in transactions of $STEADY_TXN rows," \
     "append, batch_size $STEADY_BATCH, flush_interval_seconds $FLUSH"
pipeline steady b_steady append "$STEADY_BATCH" >"$WORK/steady.yaml"
platform >"$WORK/steady.platform.yaml"
"$CDCAGENT" run "$WORK/steady.yaml" --platform-config "$WORK/steady.platform.yaml" \
    2>"$WORK/steady.log" &
AGENT_PID=$!
for _ in $(seq 300); do
    [ "$(sql "SELECT active FROM pg_replication_slots WHERE slot_name = 'b_steady'")" = t ] && break
    kill -0 "$AGENT_PID" 2>/dev/null || die "the agent exited: $(tail -3 "$WORK/steady.log")"
    sleep 0.1
done
FIRST=$((ROWS + 1))
NSTEADY=$(( (RATE * STEADY_SECONDS / STEADY_TXN) * STEADY_TXN ))
t0=$(now)
sql "CALL steady($FIRST, $RATE, $STEADY_SECONDS, $STEADY_TXN)"
t1=$(now)
# Wait until pyiceberg sees every steady row (the agent commits a partial batch after
# flush_interval_seconds).
for _ in $(seq 300); do
    r=$(ib steady count default.public_bench 2>/dev/null | awk '{ print $2 }') || r=
    [ "$r" = "$NSTEADY" ] && break
    kill -0 "$AGENT_PID" 2>/dev/null || die "the agent exited: $(tail -3 "$WORK/steady.log")"
    sleep 0.5
done
read -r u s < <(awk '{ print $14, $15 }' "/proc/$AGENT_PID/stat")
TICK=$(getconf CLK_TCK)
m=$(awk '/^VmHWM/ { print $2 }' "/proc/$AGENT_PID/status")
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || die "the steady agent did not exit 0: $(tail -3 "$WORK/steady.log")"
AGENT_PID=
sql "COPY (SELECT id, extract(epoch FROM pg_xact_commit_timestamp(xmin)) FROM public.bench
           WHERE id >= $FIRST) TO STDOUT" >"$WORK/src_ts.txt"
echo "steady: $NSTEADY rows in $(calc "round($t1 - $t0, 1)") s at the source" \
     "($(calc "int($NSTEADY / ($t1 - $t0))") rows/s achieved)"
ib steady latency default.public_bench "$WORK/src_ts.txt" "$FIRST" "$NSTEADY" ||
    die "the steady table is not what the source committed"
echo "target: p95 <= flush_interval_seconds + 1 s = $(calc "$FLUSH * 1000 + 1000") ms"
echo "agent during the steady run: cpu $(calc "round(($u + $s) / $TICK, 1)") s," \
     "peak RSS $(calc "round($m / 1024.0, 1)") MiB"
