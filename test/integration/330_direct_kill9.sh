#!/usr/bin/env bash
# 330: transport_mode direct under SIGKILL.  One pipeline fans out to two PostgreSQL sinks on
# a second, separate PostgreSQL 15 (the target): a replica of the source table and an event
# log (upsert).  A continuous load of small transactions (inserts, updates that leave a large
# out-of-line TOAST column alone, updates that change it, deletes, primary-key changes) runs
# while the agent is killed with SIGKILL three times at random moments and restarted.  Then
# the load stops, the agent catches up (the slot's confirmed_flush_lsn reaches the server's
# WAL position, which needs both sinks durable) and stops on SIGTERM.  Checks: the replica
# equals the source table in every column (both dumped as text in key order with the same
# session settings, then diffed), the TOAST column survived everywhere (also across key
# changes), and the event log holds every change exactly once: one row per position, and per
# op exactly the counts the load itself recorded in a side table outside the publication.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

KILLS=${IT_KILLS:-3}
TGT=$T/tgt
trap 'rc=$?; pg_cleanup "$TGT"; set +e; (exit $rc); _cleanup' EXIT

pg_up
TPORT=$(free_port)
pg_start "$TGT" "$TPORT" >/dev/null || fail "target PostgreSQL did not start"
note "target PostgreSQL 15 on 127.0.0.1:$TPORT"
# What the sinks do to the target, counted in the same target transactions: an event trigger
# gives each table the sinks create a row trigger that counts the rows applied per operation.
# An event applied twice shows up here even where the upsert would hide it in the data.
pg_psql "$TPORT" cdc_demo \
    "CREATE TABLE applied (tbl text, op text, n bigint NOT NULL, PRIMARY KEY (tbl, op))" \
    "CREATE FUNCTION count_applied() RETURNS trigger LANGUAGE plpgsql AS \$\$
     BEGIN
         INSERT INTO applied VALUES (TG_TABLE_NAME, TG_OP, 1)
             ON CONFLICT (tbl, op) DO UPDATE SET n = applied.n + 1;
         RETURN NULL;
     END \$\$" \
    "CREATE FUNCTION attach_counter() RETURNS event_trigger LANGUAGE plpgsql AS \$\$
     DECLARE r record;
     BEGIN
         FOR r IN SELECT object_identity FROM pg_event_trigger_ddl_commands()
                   WHERE object_type = 'table'
                     AND object_identity IN ('public.items', 'public.cdc_events') LOOP
             EXECUTE format('CREATE OR REPLACE TRIGGER count_applied AFTER INSERT OR UPDATE OR '
                            'DELETE ON %s FOR EACH ROW EXECUTE FUNCTION count_applied()',
                            r.object_identity);
         END LOOP;
     END \$\$" \
    "CREATE EVENT TRIGGER attach_counter ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
         EXECUTE FUNCTION attach_counter()"

# Same session settings on both sides for the dumps that are compared.
DUMP_OPTS='-c TimeZone=UTC -c DateStyle=ISO,YMD -c extra_float_digits=1 -c bytea_output=hex'
src_dump() { PGOPTIONS=$DUMP_OPTS pg_psql "$PORT" cdc_demo "$@"; }
tsql() { PGOPTIONS=$DUMP_OPTS pg_psql "$TPORT" cdc_demo "$@"; }

# The captured table: a few types, a primary key, and `big`, stored out of line without
# compression (STORAGE EXTERNAL, ~3.2 kB), so an update that does not set it sends it as
# "unchanged TOAST".  load_log is outside the publication: the load's own count of what it did.
sql "CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL, price numeric(12,2),
         label text, flag boolean, at timestamptz, score double precision, day date,
         raw bytea, big text)" \
    "ALTER TABLE items ALTER COLUMN big SET STORAGE EXTERNAL" \
    "CREATE SEQUENCE items_ids" \
    "CREATE TABLE load_log (id bigserial PRIMARY KEY, op text NOT NULL, n int NOT NULL)"
# One call = NOPS changes of one row each, chosen at random, each logged with its row count.
sql "CREATE FUNCTION load_step(nops int) RETURNS void LANGUAGE plpgsql AS \$\$
DECLARE
    r float8; k int; nk int; c int; kind text;
BEGIN
    FOR i IN 1 .. nops LOOP
        r := random();
        SELECT id INTO k FROM items
         WHERE id >= (SELECT floor(random() * (max(id) + 1)) FROM items) ORDER BY id LIMIT 1;
        IF k IS NULL OR r < 0.35 THEN
            kind := 'insert';
            nk := nextval('items_ids');
            INSERT INTO items VALUES (nk, (random() * 1000)::int, round((random() * 1e6)::numeric, 2),
                'row ' || nk || E' \"q\" \\\\ ' || chr(228), nk % 3 = 0, clock_timestamp(),
                random() * 1e6, DATE '2000-01-01' + nk, decode(md5(nk::text), 'hex'),
                repeat(md5(nk::text), 100));
        ELSIF r < 0.65 THEN
            kind := 'update';       -- big untouched: unchanged TOAST
            UPDATE items SET qty = qty + 1, price = price + 0.01, at = clock_timestamp(),
                   flag = NOT coalesce(flag, false), label = NULLIF(label, 'x') || '+'
             WHERE id = k;
        ELSIF r < 0.72 THEN
            kind := 'update';       -- big rewritten
            UPDATE items SET big = repeat(md5(clock_timestamp()::text), 110), score = -score
             WHERE id = k;
        ELSIF r < 0.90 THEN
            kind := 'delete';
            DELETE FROM items WHERE id = k;
        ELSE
            kind := 'pkchange';     -- new key, big untouched
            UPDATE items SET id = nextval('items_ids'), qty = qty - 1 WHERE id = k;
        END IF;
        GET DIAGNOSTICS c = ROW_COUNT;
        INSERT INTO load_log (op, n) VALUES (kind, c);
    END LOOP;
END \$\$"
# A starting population, before the slot exists: the agent's snapshot brings it over.
sql "SELECT count(load_step(1)) FROM generate_series(1, 400)" >/dev/null
LOG0=$(sql "SELECT max(id) FROM load_log")

# The pipeline: snapshot (so the replica starts complete), then the stream, to two sinks.
P_TABLES=public.items P_SNAPSHOT=initial write_pipeline
PL_HEAD=$(sed '/^sinks:/,$d' "$T/pipeline.yaml")
cat >"$T/pipeline.yaml" <<YAML
$PL_HEAD
sinks:
  - sink_id: mirror
    sink_type: postgres
    postgres:
      host: 127.0.0.1
      port: $TPORT
      database: cdc_demo
      username: postgres
      mode: replica
      batch_size: 40
  - sink_id: log
    sink_type: postgres
    postgres:
      host: 127.0.0.1
      port: $TPORT
      database: cdc_demo
      username: postgres
      mode: event_log
      target_table: public.cdc_events
      upsert: true
      batch_size: 25
YAML
write_platform
SNAP_ROWS=$(sql "SELECT count(*) FROM items")
agent_start

# The load: one to four changes per transaction, a short pause between, until $T/stop.
loader() {
    local rc
    while [ ! -e "$T/stop" ]; do
        echo "SELECT load_step(1 + (random() * 3)::int);"
        echo "SELECT pg_sleep(0.004);"
    done | user_psql >"$T/loader.log" 2>&1 && rc=0 || rc=$?
    echo "loader exit $rc" >>"$T/loader.log"
}
bg loader

for ((k = 1; k <= KILLS; k++)); do
    # A random moment: 1.5 to 5 s after the (re)start, in 10 ms steps.
    sleep "$(python3 -c "import random; print(round(random.uniform(1.5, 5.0), 2))")"
    note "kill $k after $(sql "SELECT count(*) FROM load_log") logged changes"
    restart_after_kill
done
sleep 2
touch "$T/stop"
deadline=$((SECONDS + 30))
until grep -q '^loader exit' "$T/loader.log" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || fail "the loader did not stop within 30 s"
    sleep 0.2
done
expect_eq "the loader succeeded" "$(grep '^loader exit' "$T/loader.log")" "loader exit 0"

# Catch up: the slot is confirmed only once both sinks have committed everything before it.
target=$(sql_su "SELECT pg_current_wal_lsn()")
deadline=$((SECONDS + 90))
until [ "$(sql_su "SELECT confirmed_flush_lsn >= '$target' FROM pg_replication_slots WHERE slot_name = 'cdc_slot'")" = t ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "confirmed_flush_lsn $(slot_field cdc_slot confirmed_flush_lsn) did not reach $target in 90 s"
    agent_alive || fail "the agent died while catching up"
    sleep 0.5
done
ok "caught up: confirmed_flush_lsn reached $target"
agent_stop
note "agent runs: $AGENT_RUNS"

# ---------------------------------------------------------------- the load's own figures
counts=$(sql "SELECT coalesce(sum(n) FILTER (WHERE op = 'insert'), 0), coalesce(sum(n) FILTER (WHERE op = 'update'), 0),
                     coalesce(sum(n) FILTER (WHERE op = 'delete'), 0), coalesce(sum(n) FILTER (WHERE op = 'pkchange'), 0)
              FROM load_log WHERE id > $LOG0")
IFS='|' read -r N_INS N_UPD N_DEL N_PK <<<"$counts"
note "load: $N_INS inserts, $N_UPD updates, $N_DEL deletes, $N_PK key changes (after $SNAP_ROWS snapshot rows)"
check "the load made key changes, updates and deletes" [ $((N_PK > 0 && N_UPD > 0 && N_DEL > 0)) = 1 ]
check "the load ran across the kills (>= 300 changes)" [ $((N_INS + N_UPD + N_DEL + N_PK)) -ge 300 ]
check "the source has unchanged-TOAST updates to test (big out of line)" \
    [ "$(sql "SELECT count(*) FROM items WHERE pg_column_size(big) > 3000")" -gt 0 ]

# ---------------------------------------------------------------- replica == source
COLS="id, qty, price, label, flag, at, score, day, raw, big"
src_dump "COPY (SELECT $COLS FROM items ORDER BY id) TO STDOUT" >"$T/src.txt"
tsql "COPY (SELECT $COLS FROM public.items ORDER BY id) TO STDOUT" >"$T/rep.txt"
note "source rows: $(line_count "$T/src.txt"), replica rows: $(line_count "$T/rep.txt")"
if diff -q "$T/src.txt" "$T/rep.txt" >/dev/null; then
    ok "the replica equals the source, every column (text dumps in key order)"
else
    diff "$T/src.txt" "$T/rep.txt" >"$T/replica.diff" || true
    cut -c1-300 "$T/replica.diff" | head -20 | sed 's/^/#   /'
    fail "the replica differs from the source ($(grep -c '^[<>]' "$T/replica.diff") differing lines, in $T/replica.diff)"
fi
expect_eq "no row of the replica lost its TOAST column" \
    "$(tsql "SELECT count(*) FILTER (WHERE big IS NULL OR length(big) < 3200), count(*) FROM public.items")" \
    "0|$(line_count "$T/src.txt")"

# ---------------------------------------------------------------- event log: exactly once
expect_eq "one event-log row per position" \
    "$(tsql "SELECT count(*) - count(DISTINCT (commit_lsn, seq)) FROM cdc_events")" 0
OPQ="coalesce(event_value->'payload'->>'op', event_value->>'op')"
got=$(tsql "SELECT count(*) FILTER (WHERE $OPQ = 'r'), count(*) FILTER (WHERE $OPQ = 'c'),
                   count(*) FILTER (WHERE $OPQ = 'u'), count(*) FILTER (WHERE $OPQ = 'd'),
                   count(*) FILTER (WHERE event_value IS NULL), count(*) FROM cdc_events")
# A key change is a delete of the old key (with its tombstone) and a create of the new one.
want="$SNAP_ROWS|$((N_INS + N_PK))|$N_UPD|$((N_DEL + N_PK))|$((N_DEL + N_PK))|$((SNAP_ROWS + N_INS + 3 * N_PK + N_UPD + 2 * N_DEL))"
expect_eq "event log: r|c|u|d|tombstones|all equal the load's own counts" "$got" "$want"
applied() { tsql "SELECT coalesce(sum(n), 0) FROM applied WHERE tbl = '$1' AND op = '$2'"; }
expect_eq "event log: every event inserted once, none upserted a second time (insert|update)" \
    "$(applied cdc_events INSERT)|$(applied cdc_events UPDATE)" "$(tsql "SELECT count(*) FROM cdc_events")|0"
# Replica rows applied: a create inserts (snapshot rows too), an update upserts onto the
# existing row, a key change moves the row to its new key and then upserts onto it.
expect_eq "replica: rows inserted|updated|deleted, each change applied once" \
    "$(applied items INSERT)|$(applied items UPDATE)|$(applied items DELETE)" \
    "$((SNAP_ROWS + N_INS))|$((N_UPD + 2 * N_PK))|$N_DEL"
expect_eq "the state rows of both sinks are at the same transaction" \
    "$(tsql "SELECT count(DISTINCT commit_lsn) FROM cdcagent_state WHERE sink_id IN ('mirror', 'log')")" 1

pg_cleanup "$TGT"
done_testing
