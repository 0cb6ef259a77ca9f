#!/usr/bin/env bash
# Kinesis end-to-end benchmark against moto (test/lib/moto.sh) on loopback (prints figures;
# not a test).  A throwaway PostgreSQL 15 and moto; for each backlog shape
#   keys  - ROWS inserts of distinct keys, in transactions of 100
#   hot   - ROWS updates of ONE row, in transactions of 100 (one partition key)
# a slot is created before the backlog is written, then cdcagent (transport_mode kinesis,
# JSON with schemas, 4 shards) runs with agent.stop_lsn = the WAL end after the backlog, so
# it exits once every record has its SequenceNumber; pg_recvlogical reads a copy of the
# same slot to the same end, as the ceiling.  Reported per contender: rows/s (process start
# to exit), CPU seconds (user+system, /usr/bin/time) and per row, and for cdcagent PutRecords requests
# per 1,000 rows (its closing log line).  moto is single-threaded Python: it, not the agent,
# bounds the many-keys figure; the hot-key figure is the cost of one record per round trip.
#   test/bench/kinesis_bench.sh [ROWS]      (default 5000)
set -euo pipefail
CDC_SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$CDC_SRC/test/integration/common.sh"
. "$CDC_SRC/test/lib/moto.sh"
ROWS=${1:-5000}
MDIR=$T/moto
trap '_rc=$?; moto_kill "$MDIR" >/dev/null 2>&1; set +e; (exit $_rc); _cleanup' EXIT
pg_up
moto_start "$MDIR" "$(free_port)"
printf '%-8s %-15s %10s %10s %8s %11s %14s\n' shape contender rows rows/s "CPU s" "CPU us/row" "req/1000 rows"
for shape in keys hot; do
    sql "CREATE TABLE b_$shape (id int PRIMARY KEY, n int, pad text)"
    [ "$shape" = hot ] && sql "INSERT INTO b_hot VALUES (1, 0, 'x')"
    sql_su "SELECT pg_create_logical_replication_slot('s_$shape', 'pgoutput')" >/dev/null
    sql_su "SELECT pg_create_logical_replication_slot('r_$shape', 'pgoutput')" >/dev/null
    sql_su "CREATE PUBLICATION p_$shape FOR TABLE b_$shape" >/dev/null
    for ((i = 0; i < ROWS; i += 100)); do
        if [ "$shape" = keys ]; then
            sql "INSERT INTO b_keys SELECT g, 0, repeat('p', 200) FROM generate_series($i + 1, $i + 100) g"
        else
            sql "DO \$\$ BEGIN FOR j IN 1..100 LOOP UPDATE b_hot SET n = n + 1 WHERE id = 1; END LOOP; END \$\$"
        fi
    done
    END=$(sql_su "SELECT pg_current_wal_lsn()")
    # pg_recvlogical: the ceiling
    /usr/bin/time -f '%e %U %S' -o "$T/time.r" "$PG_BIN/pg_recvlogical" -h 127.0.0.1 -p "$PORT" \
        -U postgres -d cdc_demo -S "r_$shape" --start -o proto_version=1 \
        -o "publication_names=p_$shape" --endpos "$END" -f /dev/null 2>/dev/null || true
    read -r el us sy <"$T/time.r"
    printf '%-8s %-15s %10d %10.0f %8.2f %11.1f %14s\n' "$shape" pg_recvlogical "$ROWS" \
        "$(echo "$ROWS / $el" | bc -l)" "$(echo "$us + $sy" | bc -l)" \
        "$(echo "($us + $sy) * 1000000 / $ROWS" | bc -l)" -
    P_TABLES="public.b_$shape" P_SLOT="s_$shape" P_PUB="p_$shape" P_SNAPSHOT=never write_pipeline
    cat >"$T/platform.yaml" <<YAML
transport_mode: kinesis
health_enabled: false
kinesis:
  shard_count: 4
  json_schemas_enable: true
wal_reader:
  slot_name: s_$shape
  publication_name: p_$shape
  batch_size: 500
agent:
  stop_lsn: "$END"
  state_dir: $T
YAML
    /usr/bin/time -f '%e %U %S' -o "$T/time.c" "$CDCAGENT" run "$T/pipeline.yaml" \
        --platform-config "$T/platform.yaml" >/dev/null 2>"$T/agent.$shape.log"
    read -r el us sy <"$T/time.c"
    req=$(grep -o '[0-9]* records in [0-9]* PutRecords' "$T/agent.$shape.log" | tail -1 | awk '{print $4}')
    printf '%-8s %-15s %10d %10.0f %8.2f %11.1f %14.1f\n' "$shape" cdcagent "$ROWS" \
        "$(echo "$ROWS / $el" | bc -l)" "$(echo "$us + $sy" | bc -l)" \
        "$(echo "($us + $sy) * 1000000 / $ROWS" | bc -l)" \
        "$(echo "${req:-0} * 1000 / $ROWS" | bc -l)"
done
