#!/usr/bin/env bash
# Pub/Sub transport benchmark (prints figures; not a test).
#
# A throwaway PostgreSQL 15 and the Pub/Sub REST TEST DOUBLE (test/doubles/pubsub.py: Python,
# one process, in memory; not the service, whose network round trips it does not have).
# A backlog of ROWS inserts in transactions of 5 (ROWS/5 transactions) is written after a
# base slot was created; copies of the slot (pg_copy_logical_replication_slot) let every
# contender read the identical WAL in the same run:
#   pg_recvlogical      the ceiling: reads the slot to --endpos, decodes nothing
#   cdcagent ordered    transport_mode pubsub, ordering_enabled true (a key per row)
#   cdcagent unordered  ordering_enabled false (one lane per topic)
# Measured per contender: rows/s (process start to exit; cdcagent runs with agent.stop_lsn,
# so it exits once everything is published and confirmed), publish requests per 1,000 rows
# (the double's counter), the agent's CPU (user+system) per row, and its peak RSS.
# With the double on the same 2 cores, rows/s is bounded by the double's Python JSON and
# base64 work, not by the agent: read requests per 1,000 rows and CPU per row as the agent's
# figures.
#
# Usage: test/bench/pubsub_bench.sh [ROWS]   (default 100000; CDCAGENT=path picks a build)
set -euo pipefail

ROWS=${1:-100000}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
CDCAGENT=${CDCAGENT:-$SRC/build/cdcagent}
PORT=${BENCH_PORT:-55442}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cdcbench.XXXXXX")
PGBIN=/usr/lib/postgresql/15/bin
PROJECT=bench-project
# shellcheck source=../lib/pg.sh
. "$SRC/test/lib/pg.sh"
# shellcheck source=../lib/pubsub.sh
. "$SRC/test/lib/pubsub.sh"

cleanup() {
    pubsub_kill "$WORK/pubsub" >/dev/null 2>&1 || true
    pg_stop "$WORK/pg" >/dev/null 2>&1 || true
    [ "${KEEP_TMP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

[ -x "$CDCAGENT" ] || { echo "bench: $CDCAGENT not built" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "bench: needs /usr/bin/time" >&2; exit 1; }
chmod 755 "$WORK"
pg_start "$WORK/pg" "$PORT" >/dev/null
pg_setup_cdc "$PORT" >/dev/null
pubsub_start "$WORK/pubsub" 0 --projects "$PROJECT" >/dev/null
export PUBSUB_EMULATOR_HOST
PUBSUB_EMULATOR_HOST=$(pubsub_host "$WORK/pubsub")
sql() { pg_psql "$PORT" cdc_demo "$@"; }

sql "CREATE TABLE public.bench (id bigint PRIMARY KEY, k int NOT NULL, payload text, amount numeric(12,2), at timestamptz DEFAULT now())" \
    "ALTER TABLE public.bench OWNER TO cdc_user" \
    "CREATE PUBLICATION bench_pub FOR TABLE public.bench" >/dev/null
sql "SELECT pg_create_logical_replication_slot('base', 'pgoutput')" >/dev/null
sql "DO \$\$ BEGIN
       FOR t IN 0 .. $ROWS / 5 - 1 LOOP
         INSERT INTO public.bench (id, k, payload, amount)
           SELECT g, g % 1000, md5(g::text), (g % 10000) / 100.0
           FROM generate_series(t * 5 + 1, t * 5 + 5) g;
         COMMIT;
       END LOOP; END \$\$" >/dev/null
END=$(sql "SELECT pg_current_wal_lsn()")
for s in recv ordered unordered; do
    sql "SELECT pg_copy_logical_replication_slot('base', '$s')" >/dev/null
done

t0=$(date +%s.%N)
PGPASSWORD=cdc_password "$PGBIN/pg_recvlogical" -h 127.0.0.1 -p "$PORT" -U cdc_user -d cdc_demo \
    --slot recv --start --no-loop --endpos "$END" -f /dev/null \
    -o proto_version=2 -o publication_names=bench_pub -o streaming=on
t1=$(date +%s.%N)
printf '%-20s rows=%d  %8d rows/s\n' pg_recvlogical "$ROWS" "$(python3 -c "print(int($ROWS/($t1-$t0)))")"

requests() {
    pubsub_knob "$WORK/pubsub" GET stats |
        python3 -c 'import json,sys; print(json.load(sys.stdin).get("publish_requests", 0))'
}

run_agent() {
    local name=$1 ordering=$2 t0 t1 r0 r1
    cat >"$WORK/p_$name.yaml" <<YAML
pipeline_id: bench-$name
topic_prefix: $name
source:
  host: 127.0.0.1
  port: $PORT
  database: cdc_demo
  username: cdc_user
  password: cdc_password
  tables: [public.bench]
  slot_name: $name
  publication_name: bench_pub
  snapshot_mode: never
sinks: []
YAML
    cat >"$WORK/f_$name.yaml" <<YAML
transport_mode: pubsub
health_enabled: false
pubsub:
  project_id: $PROJECT
  ordering_enabled: $ordering
wal_reader:
  slot_name: $name
  publication_name: bench_pub
  batch_size: 1000
  batch_timeout_seconds: 0.05
agent:
  stop_lsn: "$END"
  log_level: warn
  state_dir: $WORK
YAML
    r0=$(requests)
    t0=$(date +%s.%N)
    /usr/bin/time -f "%U %S %M" -o "$WORK/time_$name" "$CDCAGENT" run "$WORK/p_$name.yaml" \
        --platform-config "$WORK/f_$name.yaml" >&2
    t1=$(date +%s.%N)
    r1=$(requests)
    read -r u s m <"$WORK/time_$name"
    printf '%-20s rows=%d  %8d rows/s  %6.1f requests/1000 rows  %6.1f us CPU/row  peak_rss=%d KiB\n' \
        "cdcagent $name" "$ROWS" "$(python3 -c "print(int($ROWS/($t1-$t0)))")" \
        "$(python3 -c "print(($r1-$r0)*1000/$ROWS)")" \
        "$(python3 -c "print(($u+$s)*1e6/$ROWS)")" "$m"
}
run_agent ordered true
run_agent unordered false
