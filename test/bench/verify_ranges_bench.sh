#!/usr/bin/env bash
# verify --ranges against an Iceberg upsert table (prints figures; not a test, not run in CI):
# ROWS rows of five columns inserted in COMMITS transactions, each waited for until the table
# holds it (one data file or more per commit, keys in insert order), then `cdcagent verify`
# with the agent stopped, one pass (no --ranges) and --ranges N for each N of RANGES: wall
# time and peak RSS (/usr/bin/time), and the data files read per range (the report's note).
# Every run must find the table equal.  Uses the integration harness
# (test/integration/common.sh) for PostgreSQL and the agent.
# Environment: ROWS (200000), COMMITS (10), RANGES ("1 8 32"), CDC_BUILD, TMPDIR, KEEP_TMP=1.
. "$(dirname "$0")/../integration/common.sh"
. "$CDC_SRC/test/lib/iceberg.sh"

ROWS=${ROWS:-200000}
COMMITS=${COMMITS:-10}
RANGES=${RANGES:-1 8 32}
[ -x /usr/bin/time ] || fail "needs /usr/bin/time (apt-get install time)"
pg_up
sql "CREATE TABLE items (id int PRIMARY KEY, txt text, n bigint, amount numeric(12,2),
       ts timestamptz)"
P_TABLES="public.items" P_SNAPSHOT=initial write_pipeline
cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: lake
    sink_type: iceberg
    iceberg:
      catalog_uri: "sqlite:///$T/catalog.db"
      warehouse: "file://$T/wh"
      table_namespace: cdc
      write_mode: upsert
      batch_size: 100000
      flush_interval_seconds: 0.5
YAML
write_platform
agent_start
V="verify $T/pipeline.yaml --platform-config $T/platform.yaml --sink lake"
per=$((ROWS / COMMITS))
for i in $(seq 0 $((COMMITS - 1))); do
    sql "INSERT INTO items SELECT g, md5(g::text), g * 7, g * 0.01, timestamptz '2024-01-01+00'
           + g * interval '1 s' FROM generate_series($((i * per + 1)), $((i * per + per))) g"
    # shellcheck disable=SC2086
    cdc $V --wait 120
    [ "$CDC_RC" = 0 ] || fail "the sink did not take commit $i within 120 s"
done
agent_stop

run() {
    local label=$1 s e
    shift
    s=$(date +%s.%N)
    # shellcheck disable=SC2086
    /usr/bin/time -f %M -o "$T/rss" "$CDCAGENT" $V "$@" >"$T/out" 2>"$T/err" ||
        { cat "$T/out" "$T/err"; fail "verify $* did not find the table equal"; }
    e=$(date +%s.%N)
    printf '%-12s rows=%d  %.2f s  peak_rss=%d KiB  %s\n' "$label" "$ROWS" \
        "$(awk -v s="$s" -v e="$e" 'BEGIN { print e - s }')" "$(cat "$T/rss")" \
        "$(grep -o 'data files read per range: [^(]*' "$T/out" || echo 'one pass')"
}
run "one pass"
for n in $RANGES; do
    run "ranges $n" --ranges "$n"
done
done_testing
