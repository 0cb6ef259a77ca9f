#!/usr/bin/env bash
# Capture-path benchmark (prints figures; not a test).
#
# Builds a backlog of ROWS row changes in a throwaway PostgreSQL 15, twice:
#   big   - one transaction of ROWS inserts
#   small - ROWS/5 transactions of 5 inserts each (200,000 for the default 1,000,000)
# For each, the slot is copied with pg_copy_logical_replication_slot once per contender and
# round, so that pg_recvlogical (the ceiling: it decodes nothing) and cdcagent (jsonl sink to
# /dev/null) read identical WAL in the same run.  The clock stops when pg_replication_slots
# shows the contender's slot confirmed up to the server's WAL end after the backlog
# (pg_current_wal_insert_lsn()): what operators and cut-over scripts wait for (issue 25).
# After each backlog a small transaction on a table outside the publication puts WAL past
# the last captured commit, as a live server does (running_xacts, other tables); the slot
# can show that end only once the agent confirms a keepalive position (TAIL=0: no such WAL).
# pg_recvlogical runs with --endpos at that LSN (its exit time is printed too); cdcagent runs
# without stop_lsn and is stopped once its slot shows the end.  Contenders:
#   recv     pg_recvlogical at its defaults (protocol 2, streaming on)
#   default  cdcagent at its defaults (jsonl fsync on, status_interval_seconds 10,
#            memory_limit_mb 256)
#   tuned    cdcagent with jsonl fsync off, memory_limit_mb 16, status_interval_seconds 1
# ROUNDS rounds (default 3), interleaved (each round starts with another contender); prints
# every run, then medians, ratios against pg_recvlogical and the agent's peak RSS.
#
# Usage: test/bench/capture_bench.sh [ROWS]     (CDCAGENT=path/to/cdcagent to pick a build)
# CDCAGENT_BASE=path/to/another/cdcagent adds that build's default and tuned runs as
# contenders base_default and base_tuned, in the same rounds (before/after comparisons).
# CASES="big small" picks the cases.
set -euo pipefail

ROWS=${1:-1000000}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
CDCAGENT=${CDCAGENT:-$SRC/build/cdcagent}
PORT=${BENCH_PORT:-55432}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cdcbench.XXXXXX")
PGBIN=/usr/lib/postgresql/15/bin
# shellcheck source=../lib/pg.sh
. "$SRC/test/lib/pg.sh"

cleanup() { pg_stop "$WORK/pg" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT

[ -x "$CDCAGENT" ] || { echo "bench: $CDCAGENT not built (cmake --build build)" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "bench: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
chmod 755 "$WORK"

# The walsender's own reorder buffer keeps big transactions in memory up to this size.
PG_EXTRA_CONF="logical_decoding_work_mem = 64MB
max_wal_size = 8GB
checkpoint_timeout = 30min" pg_start "$WORK/pg" "$PORT" >/dev/null
pg_setup_cdc "$PORT" >/dev/null

sql() { pg_psql "$PORT" cdc_demo "$@"; }

sql "CREATE TABLE public.bench (id bigint PRIMARY KEY, k int NOT NULL, payload text, amount numeric(12,2), at timestamptz DEFAULT now())" \
    "ALTER TABLE public.bench OWNER TO cdc_user" \
    "CREATE PUBLICATION bench_pub FOR TABLE public.bench" \
    "CREATE TABLE public.other (i int)"

cat > "$WORK/pipeline.yaml" <<YAML
pipeline_id: bench
topic_prefix: bench
source:
  host: 127.0.0.1
  port: $PORT
  database: cdc_demo
  username: cdc_user
  password: cdc_password
  tables: [public.bench]
  slot_name: SLOT
  publication_name: bench_pub
  snapshot_mode: never
sinks:
  - sink_id: devnull
    sink_type: jsonl
    jsonl:
      path: /dev/null
      fsync: false
YAML

contenders=(recv default tuned)
[ -z "${CDCAGENT_BASE:-}" ] || contenders+=(base_default base_tuned)
ROUNDS=${ROUNDS:-3}

cat > "$WORK/platform_default.yaml" <<YAML
transport_mode: direct
health_enabled: false
agent:
  log_level: warn
YAML
cat > "$WORK/platform_tuned.yaml" <<YAML
transport_mode: direct
health_enabled: false
agent:
  memory_limit_mb: 16
  status_interval_seconds: 1
  log_level: warn
YAML

# wait_caught_up SLOT END [TIMEOUT]: returns when SLOT's confirmed_flush_lsn reaches END
# (server-side loop, polled every 20 ms); fails after TIMEOUT (default 10min).
wait_caught_up() {
    sql "SET statement_timeout = '${3:-10min}'" "DO \$\$ BEGIN
           WHILE coalesce((SELECT confirmed_flush_lsn < '$2' FROM pg_replication_slots
                           WHERE slot_name = '$1'), true) LOOP
             PERFORM pg_sleep(0.02);
           END LOOP; END \$\$" >/dev/null
}

# run_one CONTENDER SLOT END: one timed run; prints "seconds_to_caught_up [seconds_to_exit]".
run_one() {
    local who=$1 slot=$2 end=$3 bin=$CDCAGENT settings t0 t1 te tpid apid
    t0=$(date +%s.%N)
    if [ "$who" = recv ]; then
        PGPASSWORD=cdc_password "$PGBIN/pg_recvlogical" -h 127.0.0.1 -p "$PORT" -U cdc_user \
            -d cdc_demo --slot "$slot" --start --no-loop --endpos "$end" -f /dev/null \
            -o proto_version=2 -o publication_names=bench_pub -o streaming=on &
        tpid=$!
        wait "$tpid"
        te=$(date +%s.%N)
        if wait_caught_up "$slot" "$end" 60s 2>/dev/null; then t1=$(date +%s.%N); else t1=nan; fi
        python3 -c "print('%.3f %.3f' % (float('$t1') - $t0, $te - $t0))"
        return
    fi
    case $who in base_*) bin=$CDCAGENT_BASE ;; esac
    settings=${who#base_}
    sed -e "s/SLOT/$slot/" "$WORK/pipeline.yaml" > "$WORK/p_$slot.yaml"
    [ "$settings" = tuned ] || sed -i '/fsync: false/d' "$WORK/p_$slot.yaml"
    /usr/bin/time -f "%M" -o "$WORK/rss_$slot" "$bin" run "$WORK/p_$slot.yaml" \
        --platform-config "$WORK/platform_$settings.yaml" >&2 &
    tpid=$!
    wait_caught_up "$slot" "$end"
    t1=$(date +%s.%N)
    apid=$(pgrep -P "$tpid" || true)
    [ -z "$apid" ] || kill -TERM "$apid"
    wait "$tpid" || { echo "bench: $who on $slot failed" >&2; exit 1; }
    python3 -c "print('%.3f' % ($t1 - $t0))"
}

run_case() {
    local name=$1 fill=$2 end r i c slot out
    sql "TRUNCATE public.bench" >/dev/null
    sql "SELECT pg_create_logical_replication_slot('origin_$name', 'pgoutput')" >/dev/null
    sql "$fill" >/dev/null
    # WAL past the last captured commit that sends nothing but a keepalive (a transaction on
    # a table outside the publication), as on a live server: TAIL=0 leaves it out.
    [ "${TAIL:-1}" = 0 ] || sql "INSERT INTO public.other SELECT generate_series(1, 10)" >/dev/null
    end=$(sql "SELECT pg_current_wal_insert_lsn()")
    for ((r = 1; r <= ROUNDS; r++)); do
        for c in "${contenders[@]}"; do
            sql "SELECT pg_copy_logical_replication_slot('origin_$name', '${c}_${name}_$r')" >/dev/null
        done
    done
    sql "SELECT pg_drop_replication_slot('origin_$name')" >/dev/null
    : > "$WORK/times_$name"
    for ((r = 1; r <= ROUNDS; r++)); do
        for ((i = 0; i < ${#contenders[@]}; i++)); do
            c=${contenders[$(((i + r - 1) % ${#contenders[@]}))]}
            slot=${c}_${name}_$r
            out=$(run_one "$c" "$slot" "$end")
            sql "SELECT pg_drop_replication_slot('$slot')" >/dev/null
            printf '%-6s round %d %-12s caught up in %s s%s%s\n' "$name" "$r" "$c" "${out%% *}" \
                "$([ "$c" = recv ] && echo " (exited after ${out#* } s)")" \
                "$([ "$c" != recv ] && echo ", peak RSS $(cat "$WORK/rss_$slot") KiB")"
            echo "$c ${out%% *} $([ "$c" = recv ] && echo "${out#* }" || cat "$WORK/rss_$slot")" \
                >> "$WORK/times_$name"
        done
    done
    python3 - "$name" "$ROWS" "$WORK/times_$name" <<'PY'
import statistics, sys
name, rows, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
runs = {}
for line in open(path):
    who, secs, extra = line.split()
    runs.setdefault(who, []).append((float(secs), float(extra)))
med = {w: statistics.median(s for s, _ in r) for w, r in runs.items()}
recv = rows / med["recv"]
print("%-6s rows=%d, medians of %d, until the slot shows the end LSN:" % (name, rows, len(runs["recv"])))
print("       pg_recvlogical %7d rows/s (%.2f s; exits after %.2f s)"
      % (recv, med["recv"], statistics.median(e for _, e in runs["recv"])))
for w in runs:
    if w == "recv":
        continue
    print("       %-14s %7d rows/s (%.2f s)  ratio=%.2f  peak_rss=%d KiB"
          % (w, rows / med[w], med[w], (rows / med[w]) / recv, max(e for _, e in runs[w])))
PY
}

for c in ${CASES:-big small}; do
    case $c in
    big) run_case big "INSERT INTO public.bench (id, k, payload, amount)
              SELECT g, g % 1000, md5(g::text), (g % 10000) / 100.0 FROM generate_series(1, $ROWS) g" ;;
    small) run_case small "DO \$\$ BEGIN
                  FOR t IN 0 .. $ROWS / 5 - 1 LOOP
                    INSERT INTO public.bench (id, k, payload, amount)
                      SELECT g, g % 1000, md5(g::text), (g % 10000) / 100.0
                      FROM generate_series(t * 5 + 1, t * 5 + 5) g;
                    COMMIT;
                  END LOOP; END \$\$" ;;
    esac
done
