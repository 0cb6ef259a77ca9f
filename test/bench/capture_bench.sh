#!/usr/bin/env bash
# Capture-path benchmark (prints figures; not a test).
#
# Builds a backlog of ROWS row changes in a throwaway PostgreSQL 15, twice:
#   big   - one transaction of ROWS inserts
#   small - ROWS/5 transactions of 5 inserts each (200,000 for the default 1,000,000)
# For each, the agent's slot is copied with pg_copy_logical_replication_slot so that
# pg_recvlogical (the ceiling: it decodes nothing) and cdcagent (jsonl sink to /dev/null)
# read identical WAL in the same run.  Prints rows/s for both, the ratio, and the agent's
# peak RSS.
#
# Usage: test/bench/capture_bench.sh [ROWS]     (CDCAGENT=path/to/cdcagent to pick a build)
# CDCAGENT_BASE=path/to/another/cdcagent adds that build as a second contender on a third
# copy of the slot, in the same run (before/after comparisons): it prints its own line and
# the ratio of the two builds' rows/s.
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
    "CREATE PUBLICATION bench_pub FOR TABLE public.bench"

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

run_case() {
    local name=$1 fill=$2 end t0 t1 rr ra rb rss
    sql "TRUNCATE public.bench" >/dev/null
    sql "SELECT pg_create_logical_replication_slot('agent_$name', 'pgoutput')" >/dev/null
    sql "$fill" >/dev/null
    end=$(sql "SELECT pg_current_wal_lsn()")
    sql "SELECT pg_copy_logical_replication_slot('agent_$name', 'recv_$name')" >/dev/null
    [ -z "${CDCAGENT_BASE:-}" ] ||
        sql "SELECT pg_copy_logical_replication_slot('agent_$name', 'base_$name')" >/dev/null

    t0=$(date +%s.%N)
    PGPASSWORD=cdc_password "$PGBIN/pg_recvlogical" -h 127.0.0.1 -p "$PORT" -U cdc_user -d cdc_demo \
        --slot "recv_$name" --start --no-loop --endpos "$end" -f /dev/null \
        -o proto_version=2 -o publication_names=bench_pub -o streaming=on
    t1=$(date +%s.%N)
    rr=$(python3 -c "print(int($ROWS/($t1-$t0)))")

    cat > "$WORK/platform_$name.yaml" <<YAML
transport_mode: direct
health_enabled: false
agent:
  stop_lsn: "$end"
  memory_limit_mb: 16
  log_level: warn
YAML
    ra=$(run_agent "$CDCAGENT" "agent_$name")
    rss=$(cat "$WORK/rss_agent_$name")
    printf '%-6s rows=%d  pg_recvlogical=%d rows/s  cdcagent=%d rows/s  ratio=%.2f  cdcagent_peak_rss=%d KiB\n' \
        "$name" "$ROWS" "$rr" "$ra" "$(python3 -c "print($ra/$rr)")" "$rss"
    if [ -n "${CDCAGENT_BASE:-}" ]; then
        rb=$(run_agent "$CDCAGENT_BASE" "base_$name")
        printf '%-6s rows=%d  pg_recvlogical=%d rows/s  base cdcagent=%d rows/s  ratio=%.2f  peak_rss=%d KiB  this/base=%.3f\n' \
            "$name" "$ROWS" "$rr" "$rb" "$(python3 -c "print($rb/$rr)")" \
            "$(cat "$WORK/rss_base_$name")" "$(python3 -c "print($ra/$rb)")"
    fi
}

# run_agent BINARY SLOT: runs one agent on SLOT up to the case's end; prints its rows/s.
run_agent() {
    local bin=$1 slot=$2 t0 t1
    sed "s/SLOT/$slot/" "$WORK/pipeline.yaml" > "$WORK/p_$slot.yaml"
    t0=$(date +%s.%N)
    /usr/bin/time -f "%M" -o "$WORK/rss_$slot" "$bin" run "$WORK/p_$slot.yaml" \
        --platform-config "$WORK/platform_$name.yaml" >&2
    t1=$(date +%s.%N)
    python3 -c "print(int($ROWS/($t1-$t0)))"
}

run_case big "INSERT INTO public.bench (id, k, payload, amount)
              SELECT g, g % 1000, md5(g::text), (g % 10000) / 100.0 FROM generate_series(1, $ROWS) g"
run_case small "DO \$\$ BEGIN
                  FOR t IN 0 .. $ROWS / 5 - 1 LOOP
                    INSERT INTO public.bench (id, k, payload, amount)
                      SELECT g, g % 1000, md5(g::text), (g % 10000) / 100.0
                      FROM generate_series(t * 5 + 1, t * 5 + 5) g;
                    COMMIT;
                  END LOOP; END \$\$"
