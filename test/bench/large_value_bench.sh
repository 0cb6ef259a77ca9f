#!/usr/bin/env bash
# Peak memory against the size of one large value (prints figures; not a test, not run by CI).
#
# For each case one transaction inserts one row holding one large value into a throwaway
# PostgreSQL 15.  The agent's slot is copied with pg_copy_logical_replication_slot so that
# pg_recvlogical (the reference: it holds one CopyData message at a time and decodes
# nothing) and cdcagent (jsonl sink to /dev/null) read identical WAL.  Prints both peak RSS
# (/usr/bin/time) and cdcagent's RSS / value.
#
# A transaction whose one large change is still being reassembled from TOAST cannot be
# streamed, so the server sends these as ordinary transactions whatever its
# logical_decoding_work_mem.  The stream- cases make the server stream it anyway (the
# walsender's logical_decoding_work_mem at 64kB, and 2,000 small rows after the large one
# in the same transaction), so that the value goes through the agent's transaction buffer
# (agent.memory_limit_mb, then the spill file).
#
# The snap- cases read the row in an initial snapshot instead (snapshot_mode initial_only,
# COPY); their reference is psql's COPY of the same table to /dev/null.
#
# Usage: test/bench/large_value_bench.sh [CASE...]
#   CASE is textN or byteaN (N in MB), both (200 MB text + 100 MB bytea in one row), each
#   optionally prefixed stream- or snap-; default: text10 text50 text100 text200 bytea100
#   both stream-text200 stream-bytea100 snap-text200 snap-bytea100.
#   CDCAGENT=path/to/cdcagent, MEMORY_LIMITS="256 16" (agent.memory_limit_mb values to run),
#   BENCH_PORT (default 55442).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
CDCAGENT=${CDCAGENT:-$SRC/build/cdcagent}
PORT=${BENCH_PORT:-55442}
MEMORY_LIMITS=${MEMORY_LIMITS:-256 16}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cdcbench.XXXXXX")
PGBIN=/usr/lib/postgresql/15/bin
# shellcheck source=../lib/pg.sh
. "$SRC/test/lib/pg.sh"

if [ $# -gt 0 ]; then CASES=("$@"); else
    CASES=(text10 text50 text100 text200 bytea100 both stream-text200 stream-bytea100
           snap-text200 snap-bytea100)
fi

cleanup() { pg_stop "$WORK/pg" >/dev/null 2>&1 || true; [ "${KEEP_TMP:-0}" = 1 ] || rm -rf "$WORK"; }
trap cleanup EXIT

[ -x "$CDCAGENT" ] || { echo "bench: $CDCAGENT not built (cmake --build build)" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "bench: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
chmod 755 "$WORK"

PG_EXTRA_CONF="logical_decoding_work_mem = 64MB
max_wal_size = 8GB
checkpoint_timeout = 30min" pg_start "$WORK/pg" "$PORT" >/dev/null
pg_setup_cdc "$PORT" >/dev/null

sql() { pg_psql "$PORT" cdc_demo "$@"; }
# Builds from before agent.max_value_mb (for comparisons) do not know the key.
MAXV=""
if grep -q agent.max_value_mb "$CDCAGENT"; then MAXV="  max_value_mb: 1024
"; fi

sql "CREATE TABLE public.big (id bigint PRIMARY KEY, t text, b bytea)" \
    "ALTER TABLE public.big OWNER TO cdc_user" \
    "ALTER TABLE public.big ALTER COLUMN t SET STORAGE EXTERNAL" \
    "ALTER TABLE public.big ALTER COLUMN b SET STORAGE EXTERNAL" \
    "CREATE PUBLICATION big_pub FOR TABLE public.big"

mib() { python3 -c "print(f'{$1/1024:.0f}')"; }

printf '%-16s %9s %9s %18s %14s %7s\n' case value_MB limit_MB pg_recvlogical_MiB cdcagent_MiB ratio
n=0
for c in "${CASES[@]}"; do
    stream=0 snap=0
    name=$c
    case $c in
    stream-*) stream=1; name=${c#stream-} ;;
    snap-*) snap=1; name=${c#snap-} ;;
    esac
    case $name in
    text*)  mb=${name#text};  row="repeat('0123456789abcdef', $mb * 65536), NULL" ;;
    bytea*) mb=${name#bytea}; row="NULL, decode(repeat('0123456789abcdef', $mb * 131072), 'hex')" ;;
    both)   mb=300;           row="repeat('0123456789abcdef', 200 * 65536), decode(repeat('0123456789abcdef', 100 * 131072), 'hex')" ;;
    *) echo "bench: unknown case $c" >&2; exit 2 ;;
    esac
    for limit in $MEMORY_LIMITS; do
        n=$((n + 1))
        sql "TRUNCATE public.big" >/dev/null
        [ $snap = 1 ] || sql "SELECT pg_create_logical_replication_slot('agent_$n', 'pgoutput')" >/dev/null
        if [ $stream = 1 ]; then
            sql "BEGIN; INSERT INTO public.big VALUES ($n, $row);
                 INSERT INTO public.big SELECT g, 'small', NULL FROM generate_series(1000001, 1002000) g;
                 COMMIT" >/dev/null
        else
            sql "INSERT INTO public.big VALUES ($n, $row)" >/dev/null
        fi
        end=$(sql "SELECT pg_current_wal_insert_lsn()")
        [ $snap = 1 ] || sql "SELECT pg_copy_logical_replication_slot('agent_$n', 'recv_$n')" >/dev/null
        # A walsender reads logical_decoding_work_mem from its role's settings at start.
        if [ $stream = 1 ]; then
            sql "ALTER ROLE cdc_user SET logical_decoding_work_mem = '64kB'" >/dev/null
        else
            sql "ALTER ROLE cdc_user RESET logical_decoding_work_mem" >/dev/null
        fi

        if [ $snap = 1 ]; then
            PGPASSWORD=cdc_password /usr/bin/time -f "%M" -o "$WORK/rss_recv_$n" \
                "$PGBIN/psql" -X -q -h 127.0.0.1 -p "$PORT" -U cdc_user -d cdc_demo \
                -c "COPY public.big TO STDOUT" >/dev/null
        else
            PGPASSWORD=cdc_password /usr/bin/time -f "%M" -o "$WORK/rss_recv_$n" \
                "$PGBIN/pg_recvlogical" -h 127.0.0.1 -p "$PORT" -U cdc_user -d cdc_demo \
                --slot "recv_$n" --start --no-loop --endpos "$end" -f /dev/null \
                -o proto_version=2 -o publication_names=big_pub -o streaming=on
        fi

        cat >"$WORK/p_$n.yaml" <<YAML
pipeline_id: bench
topic_prefix: bench
source:
  host: 127.0.0.1
  port: $PORT
  database: cdc_demo
  username: cdc_user
  password: cdc_password
  tables: [public.big]
  slot_name: agent_$n
  publication_name: big_pub
  snapshot_mode: $([ $snap = 1 ] && echo initial_only || echo never)
sinks:
  - sink_id: devnull
    sink_type: jsonl
    jsonl:
      path: ${JSONL_OUT:-/dev/null}
      fsync: false
YAML
        cat >"$WORK/platform_$n.yaml" <<YAML
transport_mode: direct
health_enabled: false
agent:
  stop_lsn: "$end"
  memory_limit_mb: $limit
$MAXV  log_level: ${AGENT_LOG_LEVEL:-warn}
  spill_dir: $WORK
YAML
        if ! /usr/bin/time -f "%M" -o "$WORK/rss_agent_$n" "$CDCAGENT" run "$WORK/p_$n.yaml" \
            --platform-config "$WORK/platform_$n.yaml"; then
            echo "bench: cdcagent failed on case $c" >&2
            exit 1
        fi
        ra=$(tail -1 "$WORK/rss_agent_$n")
        rr=$(tail -1 "$WORK/rss_recv_$n")
        printf '%-16s %9d %9d %18s %14s %7s\n' "$c" "$mb" "$limit" "$(mib "$rr")" "$(mib "$ra")" \
            "$(python3 -c "print(f'{$ra/1024/$mb:.2f}')")"
        sql "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
             WHERE slot_name IN ('agent_$n', 'recv_$n')" >/dev/null
    done
done
sql "ALTER ROLE cdc_user RESET logical_decoding_work_mem" >/dev/null
