#!/usr/bin/env bash
# 105: cdcagent slot status warnings and exit codes (0 no warning, 3 warnings), and slot
# advance (refused without --yes, exit 2).
#   - a published table without primary key or replica identity: warning, exit 3
#   - an inactive slot retaining more than --warn-retained-bytes: warning
#   - max_slot_wal_keep_size unset (-1): warning; set (a second server, 64MB): no such
#     warning, and a time-left estimate while WAL is being written
#   - a slot close to max_slot_wal_keep_size: "about to be lost"
# On PostgreSQL 12 (PG_MAJOR=12), which has no max_slot_wal_keep_size: the warning says so,
# and the second server's part (the cap set) does not apply.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_up
sql "CREATE TABLE customers (id serial PRIMARY KEY, name text)" \
    "CREATE TABLE nopk (id int, name text)"
export P_SLOT=it_warn_slot
P_TABLES="public.customers, public.nopk" P_SNAPSHOT=never write_pipeline
write_platform
ARGS=("$T/pipeline.yaml" --platform-config "$T/platform.yaml")

# status_json ARGS...: slot status --json, its output as one line in $T/st.jsonl (for jl_check).
status_json() {
    cdc slot status "${ARGS[@]}" --json "$@"
    if [ "$CDC_RC" = 0 ] || [ "$CDC_RC" = 3 ]; then
        python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))))' \
            "$T/cdc.out" >"$T/st.jsonl"
    fi
}

cdc slot create "${ARGS[@]}"
expect_eq "slot create exits 0" "$CDC_RC" 0

cdc slot status "${ARGS[@]}"
note "$(sed 's/^/  /' "$T/cdc.out")"
expect_eq "warnings present: slot status exits 3" "$CDC_RC" 3
expect_contains "the table without primary key is named" "$(cat "$T/cdc.out")" \
    "warning: table public.nopk has no primary key and no replica identity"
expect_contains "and listed without one" "$(cat "$T/cdc.out")" "NO PRIMARY KEY"
if [ "$(pg_server_major)" -ge 13 ]; then
    expect_contains "max_slot_wal_keep_size unset is a warning" "$(cat "$T/cdc.out")" \
        "warning: max_slot_wal_keep_size is -1 (unlimited)"
else
    expect_contains "no max_slot_wal_keep_size on 12 is a warning" "$(cat "$T/cdc.out")" \
        "warning: PostgreSQL 12 has no max_slot_wal_keep_size: a slot nobody reads retains WAL until the disk is full"
fi
expect_contains "time left: none without a cap" "$(cat "$T/cdc.out")" "no max_slot_wal_keep_size"

status_json
expect_eq "slot status --json exits 3 too" "$CDC_RC" 3
jl_check "the JSON warnings name the table and the setting" "$T/st.jsonl" \
    'any("public.nopk" in w for w in evs[0]["warnings"]) and any("max_slot_wal_keep_size" in w for w in evs[0]["warnings"])'
jl_check "and the table has primary_key false" "$T/st.jsonl" \
    '[t["primary_key"] for t in evs[0]["publication"]["tables"]] == [True, False]'
jl_check "no inactive-slot warning below the default 1 GiB" "$T/st.jsonl" \
    'not any("is inactive" in w for w in evs[0]["warnings"])'

# The slot is inactive; give it WAL to retain.
sql "INSERT INTO customers (name) SELECT 'n' || i FROM generate_series(1, 500) i"
# Under synchronous_commit off the WAL writer writes it out a little later (pg_current_wal_lsn
# is the write position): wait until psql sees the slot retain it.
deadline=$((SECONDS + 30))
until [ "$(slot_field it_warn_slot "pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) > 1000")" = t ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "the slot retains no more than 1000 bytes after 30 s (psql)"
    sleep 0.1
done
status_json --warn-retained-bytes 1000
expect_eq "--warn-retained-bytes 1000: exit 3" "$CDC_RC" 3
jl_check "an inactive slot retaining more than 1000 bytes is a warning" "$T/st.jsonl" \
    'any("it_warn_slot is inactive and retains" in w for w in evs[0]["warnings"])'
cdc slot status "${ARGS[@]}" --warn-retained-bytes nope
expect_eq "--warn-retained-bytes nope: usage error (exit 2)" "$CDC_RC" 2

# The publication without the table: only the unset cap is left to warn about.
sql "ALTER PUBLICATION cdc_publication DROP TABLE public.nopk"
status_json
jl_check "without the table, only the max_slot_wal_keep_size warning is left" "$T/st.jsonl" \
    'len(evs[0]["warnings"]) == 1 and "max_slot_wal_keep_size" in evs[0]["warnings"][0]'

# ---- slot advance
target=$(sql_su "SELECT pg_current_wal_lsn()")
before=$(slot_field it_warn_slot confirmed_flush_lsn)
cdc slot advance "${ARGS[@]}" "$target"
expect_eq "slot advance without --yes is refused (exit 2)" "$CDC_RC" 2
expect_contains "and says why and how" "$(cat "$T/cdc.err")" "add --yes"
expect_eq "and the slot did not move" "$(slot_field it_warn_slot confirmed_flush_lsn)" "$before"
cdc slot advance "${ARGS[@]}" --yes
expect_eq "slot advance without an LSN: usage error (exit 2)" "$CDC_RC" 2
cdc slot advance "${ARGS[@]}" not-an-lsn --yes
expect_eq "slot advance to a malformed LSN: exit 2" "$CDC_RC" 2
cdc slot advance "${ARGS[@]}" "$target" --yes
expect_eq "slot advance --yes exits 0" "$CDC_RC" 0
note "$(cat "$T/cdc.out")"
expect_eq "the slot's confirmed_flush_lsn is the target" \
    "$(sql_su "SELECT confirmed_flush_lsn = '$target' FROM pg_replication_slots WHERE slot_name = 'it_warn_slot'")" t
expect_contains "and it says so" "$(cat "$T/cdc.out")" "advanced from $before to $target"

# ---- a second server, with max_slot_wal_keep_size set
if [ "$(pg_server_major)" -lt 13 ]; then
    note "PostgreSQL 12 has no max_slot_wal_keep_size: the rest (the cap set) does not apply"
    done_testing
    exit 0
fi
pg_stop "$PGDIR"
PGDIR=$T/pg2
PG_EXTRA_CONF="max_slot_wal_keep_size = 64MB" pg_up
sql "CREATE TABLE customers (id serial PRIMARY KEY, name text)"
P_TABLES=public.customers P_SNAPSHOT=never write_pipeline
cdc slot create "${ARGS[@]}"
expect_eq "slot create on the second server exits 0" "$CDC_RC" 0

wal_writer() {
    while :; do
        sql "INSERT INTO customers (name) SELECT 'w' || i FROM generate_series(1, 200) i" || true
        sleep 0.05
    done
}
bg wal_writer
WRITER=${BG_PIDS[-1]}
sleep 0.5
cdc slot status "${ARGS[@]}" --rate-window 2
note "$(sed 's/^/  /' "$T/cdc.out")"
expect_eq "max_slot_wal_keep_size set, a PK table, little retained: exit 0" "$CDC_RC" 0
case "$(cat "$T/cdc.out")" in
    *"max_slot_wal_keep_size is -1"*) fail "no max_slot_wal_keep_size warning once it is set" ;;
    *) ok "no max_slot_wal_keep_size warning once it is set" ;;
esac
check "a time-left estimate while WAL is written" \
    grep -Eq '^time left +about [0-9.]+ (s|min|h|days) at [0-9.]+ (B|KiB|MiB)/s of WAL$' "$T/cdc.out"
status_json
jl_check "JSON: time_left_seconds and the WAL rate are positive numbers" "$T/st.jsonl" \
    'evs[0]["time_left_seconds"] > 0 and evs[0]["wal_rate_bytes_per_sec"] > 0 and evs[0]["max_slot_wal_keep_size"] == 64 * 1024 * 1024'
kill "$WRITER" 2>/dev/null || true
wait "$WRITER" 2>/dev/null || true

# Write WAL (about 4MB a round) until the inactive slot has less than 10MB left before the
# 64MB cap (or was already invalidated: safe_wal_size NULL).
for _ in $(seq 40); do
    safe=$(slot_field it_warn_slot safe_wal_size)
    if [ -z "$safe" ] || [ "$safe" -lt $((10 * 1024 * 1024)) ]; then break; fi
    sql "INSERT INTO customers (name) SELECT repeat('x', 1000) FROM generate_series(1, 4000)"
done
note "wal_status $(slot_field it_warn_slot wal_status), safe_wal_size $(slot_field it_warn_slot safe_wal_size)"
status_json
expect_eq "a slot close to the cap: exit 3" "$CDC_RC" 3
jl_check "and the warning says it is about to be lost" "$T/st.jsonl" \
    'any("it_warn_slot is about to be lost" in w or "it_warn_slot is lost" in w for w in evs[0]["warnings"])'

done_testing
