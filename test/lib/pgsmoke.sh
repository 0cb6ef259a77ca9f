# shellcheck shell=bash
# The version matrix's smoke set, one server start per test (820-828 set PG_MAJOR, source
# common.sh and this file, and call pgsmoke_run).  Against the server PG_MAJOR names:
#
#  1. snapshot then stream: three customers rows snapshotted (op r), compared with psql's;
#     on 18 the stored generated column `gen` is in streamed rows too (the agent creates the
#     publication with publish_generated_columns = stored), before 18 only in snapshot rows
#  2. every type: test/fixtures/debezium_workload.sh's every_type rows 1-5 streamed, each
#     column compared with the Debezium value computed from psql's text (every_type_check.py)
#  3. a large transaction (5000 rows, > logical_decoding_work_mem 64kB): streamed in chunks
#     on 14 and later, and one as large rolled back (Stream Abort, with its LSN and time
#     under 16's streaming 'parallel'); on 12-13 decoded whole at commit
#  4. TOAST: an unchanged out-of-line value in an update is the unavailable-value placeholder
#  5. the protocol the agent chose, from its log: 1 on 12-13, 2 streaming on on 14-15,
#     4 streaming parallel on 16+
#  6. slot status --json with the agent stopped: the optional fields are exactly the
#     pg_replication_slots columns psql finds on this server, confirmed_flush_lsn is psql's;
#     on 18 the idle_replication_slot_timeout warning (set to 1 h)
#  7. kill -9 while single-row transactions stream, restart: every row exactly once
#  8. on 14, 16, 17, 18 (15: 818): an initial snapshot killed once part of it is durable,
#     restarted WITHOUT a signal table while a writer changes the table, resumes on the same
#     slot with logical decoding messages as window markers (test/lib/snapresume.sh)
# shellcheck source=SCRIPTDIR/../fixtures/debezium_workload.sh
. "$CDC_SRC/test/fixtures/debezium_workload.sh"
# shellcheck source=SCRIPTDIR/every_type.sh
. "$CDC_SRC/test/lib/every_type.sh"
# shellcheck source=SCRIPTDIR/snapresume.sh
. "$CDC_SRC/test/lib/snapresume.sh"

PGSMOKE_BIG=5000

# _pgsmoke_topic TOPIC OUT: the events of one topic (tombstones included) into OUT.
_pgsmoke_topic() {
    python3 - "$EVENTS" "$1" "$2" <<'PY'
import json, sys
with open(sys.argv[1]) as f, open(sys.argv[3], "w") as out:
    for line in f:
        if line.strip() and json.loads(line).get("metadata", {}).get("topic") == sys.argv[2]:
            out.write(line)
PY
}

pgsmoke_run() {
    local major=$PG_MAJOR want_proto want_stream n ver
    case "$major" in
        12|13) want_proto=1 want_stream="" ;;
        14|15) want_proto=2 want_stream=", streaming on" ;;
        *) want_proto=4 want_stream=", streaming parallel" ;;
    esac
    if [ "$major" -ge 18 ]; then PG_EXTRA_CONF="idle_replication_slot_timeout = 3600"; fi
    pg_up
    ver=$(sql "SHOW server_version_num")
    expect_eq "the server is PostgreSQL $major" "$((ver / 10000))" "$major"

    fixture_every_type_table
    sql "CREATE TABLE customers (id int PRIMARY KEY, name text,
                                 gen int GENERATED ALWAYS AS (id * 10) STORED)" \
        "INSERT INTO customers (id, name) VALUES (1, 'ann'), (2, 'bob'), (3, 'cid')" \
        "CREATE TABLE docs (id int PRIMARY KEY, body text, note text)" \
        "ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL" \
        "CREATE TABLE big (id int PRIMARY KEY, payload text)"
    P_TABLES="public.customers, public.every_type, public.docs, public.big" write_pipeline
    write_platform
    agent_start
    wait_lines "$EVENTS" 3 60

    # Streamed: every type, TOAST, the large transactions, an update of a customer.
    sql "INSERT INTO every_type VALUES $ROW1, $ROW2, $ROW3, $ROW4"
    sql "INSERT INTO every_type (id, c_varbit) VALUES (5, B'')"
    sql "INSERT INTO docs SELECT 1, string_agg(md5(i::text), '' ORDER BY i), 'v1'
           FROM generate_series(1, 400) i" \
        "UPDATE docs SET note = 'v2' WHERE id = 1"
    sql "INSERT INTO big SELECT i, repeat(md5(i::text), 2) FROM generate_series(1, $PGSMOKE_BIG) i"
    # Rolled back only once the walsender has decoded (so streamed, on 14+) 4000 of its rows
    # (200 kB, beyond logical_decoding_work_mem): 18 skips a transaction already aborted when
    # it would stream it, and this must not depend on timing.  The walwriter flushes only
    # whole pages of an open transaction's WAL, hence the 1000 rows after the mark.
    sql_su "BEGIN;
            INSERT INTO big SELECT i, 'gone' FROM generate_series(100001, 104000) i;
            CREATE TEMP TABLE mark AS SELECT pg_current_wal_insert_lsn() AS upto;
            INSERT INTO big SELECT i, 'gone' FROM generate_series(104001, 105000) i;
            DO \$\$ DECLARE upto pg_lsn := (SELECT upto FROM mark); BEGIN
              FOR i IN 1..1200 LOOP
                EXIT WHEN (SELECT r.sent_lsn >= upto FROM pg_stat_replication r
                             JOIN pg_replication_slots s ON s.active_pid = r.pid
                            WHERE s.slot_name = 'cdc_slot');
                PERFORM pg_sleep(0.05);
              END LOOP; END \$\$;
            ROLLBACK;"
    sql "UPDATE customers SET name = 'ann2' WHERE id = 1"
    n=$((3 + 5 + 2 + PGSMOKE_BIG + 1))
    wait_lines "$EVENTS" "$n" 120
    agent_stop
    expect_eq "$n events, nothing more" "$(line_count "$EVENTS")" "$n"

    # 5. The protocol.
    expect_contains "pgoutput protocol $want_proto$want_stream on PostgreSQL $major" \
        "$(grep -o '"msg":"slot cdc_slot: streaming from [^"]*"' "$T/agent.log")" \
        "pgoutput proto $want_proto$want_stream)"
    if [ "$want_proto" -ge 2 ]; then
        expect_contains "the large transaction arrived streamed" "$(cat "$T/agent.log")" "(1 streamed)"
        local abort
        abort=$(grep -o '"msg":"streamed transaction [0-9]* rolled back[^"]*"' "$T/agent.log" || true)
        expect_contains "the rolled-back one was streamed and aborted" "$abort" "rolled back"
        if [ "$want_proto" -ge 4 ]; then
            # Stream Abort's LSN and time (protocol 4): the LSN lies between two of the server's.
            local lsn
            lsn=$(sed -n 's/.*rolled back at \([0-9A-F]*\/[0-9A-F]*\), 20[0-9-]*T[0-9:]*Z.*/\1/p' <<<"$abort")
            [ -n "$lsn" ] || fail "no abort LSN and time in: $abort"
            expect_eq "the abort LSN $lsn lies after the large commit and before the current WAL" \
                "$(sql_su "SELECT '$lsn'::pg_lsn > '0/0'::pg_lsn + $(jl_eval "$EVENTS" "[get(e, 'metadata.commit_lsn') for e in data if get(e, 'value.source.table') == 'big'][-1]") AND '$lsn'::pg_lsn < pg_current_wal_lsn()")" t
        fi
    else
        expect_contains "no streaming before 14" "$(cat "$T/agent.log")" "(0 streamed)"
    fi

    # 1. Snapshot then stream, against psql.
    local gen_streamed
    jl_check "three op r events, then streaming" "$EVENTS" \
        '[get(e, "value.op") for e in data[:3]] == ["r"] * 3 and get(data[3], "value.op") == "c"'
    PSQL_ROWS=$(sql "SELECT json_agg(json_build_object('id', id, 'name', CASE WHEN id = 1 THEN 'ann' ELSE name END, 'gen', gen) ORDER BY id) FROM customers")
    jl_check "snapshot rows equal psql's (generated column included)" "$EVENTS" \
        "sorted([get(e, 'value.after') for e in data[:3]], key=lambda r: r['id']) == $PSQL_ROWS"
    gen_streamed=$([ "$major" -ge 18 ] && echo True || echo False)
    jl_check "streamed customer update: name ann2, gen in it only on 18 ($gen_streamed)" "$EVENTS" \
        "get(data[-1], 'value.after.name') == 'ann2' and ('gen' in get(data[-1], 'value.after')) == $gen_streamed and get(data[-1], 'value.after').get('gen', 10) == 10"

    # 2. Every type.
    _pgsmoke_topic cdc.public.every_type "$T/every_type.jsonl"
    every_type_source "$T/every_type.psql"
    every_type_compare "$T/every_type.psql" "$T/every_type.jsonl"
    expect_eq "every type: 5 rows x 55 columns compared" "$((ET_CMP + ET_CMP5))" 275
    expect_eq "every type: no mismatch with the Debezium values computed from psql's rows" \
        "$((ET_BAD + ET_BAD5))" 0

    # 3. The large transaction.
    _pgsmoke_topic cdc.public.big "$T/big.jsonl"
    jl_check "large transaction: ids 1..$PGSMOKE_BIG once each, in order, one txId, nothing rolled back" \
        "$T/big.jsonl" \
        "[e['key']['id'] for e in data] == list(range(1, $PGSMOKE_BIG + 1)) and len(set(get(e, 'value.source.txId') for e in data)) == 1"

    # 4. TOAST.
    _pgsmoke_topic cdc.public.docs "$T/docs.jsonl"
    jl_check "TOAST: the insert has the whole body, the update the placeholder" "$T/docs.jsonl" \
        "len(get(data[0], 'value.after.body')) == 12800 and get(data[1], 'value.after') == {'id': 1, 'body': '__debezium_unavailable_value', 'note': 'v2'}"

    # 6. slot status.
    pgsmoke_slot_status "$major"

    # 7. kill -9 and restart while rows stream in.
    local base i
    base=$(line_count "$EVENTS")
    agent_start
    for i in $(seq 200001 200300); do echo "INSERT INTO big VALUES ($i, 'k');"; done >"$T/load.sql"
    bg load_file "$T/load.sql"
    wait_lines "$EVENTS" $((base + 50)) 60
    restart_after_kill
    wait_lines "$EVENTS" $((base + 300)) 60
    agent_stop
    _pgsmoke_topic cdc.public.big "$T/big.jsonl"
    jl_check "after kill -9 and restart: every row once" "$T/big.jsonl" \
        "sorted(e['key']['id'] for e in data) == list(range(1, $PGSMOKE_BIG + 1)) + list(range(200001, 200301))"

    # 8. The initial snapshot resumed without a signal table.
    if [ "$major" -ge 14 ] && [ "$major" != 15 ]; then rs_resume_no_signal; fi
}

# _pgsmoke_json KEY: a field of slot status' JSON in $T/cdc.out (booleans as true/false).
_pgsmoke_json() {
    python3 -c 'import json, sys; v = json.load(open(sys.argv[1]))[sys.argv[2]]
print(json.dumps(v) if isinstance(v, bool) else v)' "$T/cdc.out" "$1"
}

# pgsmoke_slot_status MAJOR: slot status --json against psql's pg_replication_slots.
pgsmoke_slot_status() {
    local major=$1 cols want
    cdc slot status "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --json
    [ "$CDC_RC" = 0 ] || [ "$CDC_RC" = 3 ] || fail "slot status exited $CDC_RC: $(cat "$T/cdc.err")"
    cols=$(sql_su "SELECT string_agg(attname, ' ' ORDER BY attname) FROM pg_attribute
                   WHERE attrelid = 'pg_replication_slots'::regclass AND attnum > 0
                     AND attname IN ('wal_status', 'safe_wal_size', 'two_phase', 'conflicting',
                                     'invalidation_reason', 'failover', 'synced', 'inactive_since')")
    note "pg_replication_slots has: $cols"
    want=$(python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))             # one object, indented over many lines
opt = ["two_phase", "conflicting", "invalidation_reason", "failover", "synced", "inactive_since"]
have = [k for k in opt if k in o]
# wal_status and safe_wal_size are always in the object: null before 13 (the slot is never
# reserved/lost there), set on 13+ (wal_status is "reserved" for a healthy slot).
have += [k for k in ("wal_status", "safe_wal_size") if o.get("wal_status") is not None and k in o]
print(" ".join(sorted(have)))' "$T/cdc.out")
    expect_eq "slot status shows exactly the columns psql finds in pg_replication_slots" "$want" "$cols"
    expect_eq "slot status: confirmed_flush_lsn and active as psql has them" \
        "$(_pgsmoke_json confirmed_flush_lsn) $(_pgsmoke_json active)" \
        "$(slot_field cdc_slot confirmed_flush_lsn) false"
    if [ "$major" -ge 17 ]; then
        expect_eq "slot status: inactive_since is psql's (compared by the server)" \
            "$(slot_field cdc_slot "inactive_since = '$(_pgsmoke_json inactive_since)'::timestamptz")" t
    fi
    if [ "$major" -ge 18 ]; then
        expect_contains "slot status warns of idle_replication_slot_timeout" "$(cat "$T/cdc.out")" \
            "idle_replication_slot_timeout (60 min) invalidates it"
        expect_eq "exit status 3 with warnings" "$CDC_RC" 3
    fi
}
