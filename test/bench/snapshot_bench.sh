#!/usr/bin/env bash
# Initial-snapshot benchmark (prints figures; not a test).
#
# Fills one table of ROWS rows in a throwaway PostgreSQL 15, then in the same run:
#   copy      - psql -c "COPY bench TO STDOUT" > /dev/null: the database's own ceiling
#   threads=N - cdcagent with snapshot_mode initial_only and source.snapshot_max_threads N
#               (1, 2, 4; THREADS overrides), a jsonl sink on /dev/null, on a new slot each
# Prints rows/s for each, the ratio to COPY, and the agent's peak RSS.  The agent's time
# includes connecting, creating the slot and exiting.
#
# Usage: test/bench/snapshot_bench.sh [ROWS]   (CDCAGENT=path/to/cdcagent to pick a build;
#        CHUNK_MB sets source.snapshot_chunk_mb, default 8; KEYLESS=1 makes the table
#        without a primary key, so its chunks are ctid ranges instead of key ranges)
set -euo pipefail

ROWS=${1:-1000000}
THREADS=${THREADS:-1 2 4}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
CDCAGENT=${CDCAGENT:-$SRC/build/cdcagent}
PORT=${BENCH_PORT:-55433}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cdcbench.XXXXXX")
PGBIN=/usr/lib/postgresql/15/bin
# shellcheck source=../lib/pg.sh
. "$SRC/test/lib/pg.sh"

cleanup() { pg_stop "$WORK/pg" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT

[ -x "$CDCAGENT" ] || { echo "bench: $CDCAGENT not built (cmake --build build)" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "bench: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
chmod 755 "$WORK"

PG_EXTRA_CONF="max_wal_size = 8GB
checkpoint_timeout = 30min" pg_start "$WORK/pg" "$PORT" >/dev/null
pg_setup_cdc "$PORT" >/dev/null

sql() { pg_psql "$PORT" cdc_demo "$@"; }

PK="PRIMARY KEY"
[ "${KEYLESS:-0}" = 1 ] && PK="NOT NULL"
sql "CREATE TABLE public.bench (id bigint $PK, k int NOT NULL, payload text, amount numeric(12,2), at timestamptz DEFAULT now())" \
    "ALTER TABLE public.bench OWNER TO cdc_user" \
    "CREATE PUBLICATION bench_pub FOR TABLE public.bench" \
    "INSERT INTO public.bench (id, k, payload, amount)
       SELECT g, g % 1000, md5(g::text), (g % 10000) / 100.0 FROM generate_series(1, $ROWS) g" \
    "VACUUM ANALYZE public.bench" >/dev/null
echo "table: $ROWS rows ($([ "${KEYLESS:-0}" = 1 ] && echo "no key: ctid chunks" || echo "primary key: key-range chunks")), $(sql "SELECT pg_size_pretty(pg_relation_size('public.bench'))")"

cat > "$WORK/platform.yaml" <<YAML
transport_mode: direct
health_enabled: false
agent:
  log_level: warn
  state_dir: $WORK
YAML

t0=$(date +%s.%N)
PGPASSWORD=cdc_password "$PGBIN/psql" -X -q -h 127.0.0.1 -p "$PORT" -U cdc_user -d cdc_demo \
    -c "COPY public.bench TO STDOUT" >/dev/null
t1=$(date +%s.%N)
copy=$(python3 -c "print(int($ROWS/($t1-$t0)))")
printf '%-10s rows=%d  %d rows/s\n' copy "$ROWS" "$copy"

# The server's side of the two ways of cutting the table (docs/snapshots.md, "Threads and
# chunks"), one session, chunks of CHUNK_MB (8) MiB of pages read one after another: COPY of
# key ranges (boundaries at even percentiles of id) against COPY of ctid ranges.
pages=$(sql "SELECT pg_relation_size('public.bench') / current_setting('block_size')::int")
per=$(( ${CHUNK_MB:-8} * 1024 * 1024 / 8192 ))
nch=$(( (pages + per - 1) / per ))
if [ "$nch" -ge 2 ]; then
    bounds=$(sql "SELECT string_agg(b::text, ' ') FROM (SELECT unnest(percentile_disc(
                    (SELECT array_agg(i::float8 / $nch) FROM generate_series(1, $nch - 1) i))
                    WITHIN GROUP (ORDER BY id)) AS b FROM public.bench) s")
    : >"$WORK/key.sql"; : >"$WORK/ctid.sql"
    lo=""
    for b in $bounds ""; do
        w=${lo:+id > $lo}; [ -n "$b" ] && w="${w:+$w AND }id <= $b"
        echo "COPY (SELECT * FROM public.bench WHERE ${w:-true}) TO STDOUT;" >>"$WORK/key.sql"
        lo=$b
    done
    for ((i = 0; i < nch; i++)); do
        w="ctid >= '($((i * per)),0)'::tid"; [ $((i + 1)) -lt "$nch" ] && w="$w AND ctid < '($(((i + 1) * per)),0)'::tid"
        echo "COPY (SELECT * FROM public.bench WHERE $w) TO STDOUT;" >>"$WORK/ctid.sql"
    done
    for kind in key ctid; do
        t0=$(date +%s.%N)
        PGPASSWORD=cdc_password "$PGBIN/psql" -X -q -h 127.0.0.1 -p "$PORT" -U cdc_user -d cdc_demo \
            -f "$WORK/$kind.sql" >/dev/null
        t1=$(date +%s.%N)
        printf '%-10s rows=%d  %d rows/s  (%d chunks, one session)\n' "chunks_$kind" "$ROWS" \
            "$(python3 -c "print(int($ROWS/($t1-$t0)))")" "$nch"
    done
fi

for n in $THREADS; do
    cat > "$WORK/p_$n.yaml" <<YAML
pipeline_id: bench
topic_prefix: bench
source:
  host: 127.0.0.1
  port: $PORT
  database: cdc_demo
  username: cdc_user
  password: cdc_password
  tables: [public.bench]
  slot_name: snap_$n
  publication_name: bench_pub
  snapshot_mode: initial_only
  snapshot_max_threads: $n
  snapshot_chunk_mb: ${CHUNK_MB:-8}
sinks:
  - sink_id: devnull
    sink_type: jsonl
    jsonl:
      path: /dev/null
      fsync: false
YAML
    t0=$(date +%s.%N)
    /usr/bin/time -f "%M" -o "$WORK/rss_$n" "$CDCAGENT" run "$WORK/p_$n.yaml" \
        --platform-config "$WORK/platform.yaml" >&2
    t1=$(date +%s.%N)
    sql "SELECT pg_drop_replication_slot('snap_$n')" >/dev/null
    ra=$(python3 -c "print(int($ROWS/($t1-$t0)))")
    printf '%-10s rows=%d  %d rows/s  ratio_to_copy=%.2f  cdcagent_peak_rss=%d KiB\n' \
        "threads=$n" "$ROWS" "$ra" "$(python3 -c "print($ra/$copy)")" "$(cat "$WORK/rss_$n")"
done
