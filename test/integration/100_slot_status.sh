#!/usr/bin/env bash
# 100: cdcagent slot create / status --json / drop --yes.  The status keys slot_name, plugin,
# active, active_pid, restart_lsn, confirmed_flush_lsn, current_lsn, retained_bytes and
# lag_bytes agree with pg_replication_slots and pg_current_wal_lsn().
# LSNs may be printed as "X/Y" text or as numbers; both are accepted.
# Also: wal_status, safe_wal_size and catalog_xmin_age agree with the server, and --all lists
# every slot of the database (one active, one inactive) as a JSON array.
# max_slot_wal_keep_size is set, so that "exits 0" means no warning (unset warns: exit 3).
# On PostgreSQL 12 (PG_MAJOR=12), which has no max_slot_wal_keep_size, wal_status nor
# safe_wal_size: those are null, and the one warning (exit 3) is that nothing caps the WAL.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

if [ "$(pg_server_major)" -ge 13 ]; then
    PG_EXTRA_CONF="max_slot_wal_keep_size = 1GB" pg_up
    RC_OK=0 WAL_COLS="wal_status, 'safe_wal_size', safe_wal_size"
else
    pg_up
    RC_OK=3 WAL_COLS="NULL::text, 'safe_wal_size', NULL::bigint"
fi
sql "CREATE TABLE customers (id serial PRIMARY KEY, name text)"
export P_SLOT=it_status_slot
P_TABLES=public.customers P_SNAPSHOT=never write_pipeline
write_platform
ARGS=("$T/pipeline.yaml" --platform-config "$T/platform.yaml")

cdc slot create "${ARGS[@]}"
expect_eq "slot create exits 0" "$CDC_RC" 0
expect_eq "the slot exists, logical, pgoutput, in cdc_demo" \
    "$(sql_su "SELECT slot_type || ' ' || plugin || ' ' || database FROM pg_replication_slots WHERE slot_name = 'it_status_slot'")" \
    "logical pgoutput cdc_demo"

# Move the server's WAL position away from the slot's, so the byte counts are not 0.
sql "INSERT INTO customers (name) SELECT 'n' || i FROM generate_series(1, 500) i"

# status_check: run slot status --json between two readings of pg_current_wal_lsn() and
# compare with pg_replication_slots.
status_check() {
    local what=$1 before after row
    before=$(lsn_num "$(sql_su "SELECT pg_current_wal_lsn()")")
    cdc slot status "${ARGS[@]}" --json
    after=$(lsn_num "$(sql_su "SELECT pg_current_wal_lsn()")")
    expect_eq "$what: slot status exits $RC_OK" "$CDC_RC" "$RC_OK"
    cp "$T/cdc.out" "$T/status.json"
    note "$what: $(cat "$T/status.json")"
    row=$(sql_su "SELECT json_build_object('slot_name', slot_name, 'plugin', plugin, 'active', active,
                    'active_pid', active_pid,
                    'restart_lsn', (restart_lsn - '0/0')::bigint,
                    'confirmed_flush_lsn', (confirmed_flush_lsn - '0/0')::bigint,
                    'wal_status', $WAL_COLS,
                    'catalog_xmin_age', age(catalog_xmin))
                  FROM pg_replication_slots WHERE slot_name = 'it_status_slot'")
    python3 - "$T/status.json" "$row" "$before" "$after" "$what" "$(pg_server_major)" <<'PY' || fail "$what: slot status disagrees with the server (above)"
import json, sys
def lsn(v):
    if isinstance(v, int):
        return v
    hi, lo = str(v).split("/")
    return (int(hi, 16) << 32) | int(lo, 16)
with open(sys.argv[1]) as f:
    st = json.loads(f.read())
pg = json.loads(sys.argv[2])
before, after, what, major = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], int(sys.argv[6])
bad = []
for k in ("slot_name", "plugin", "active", "active_pid", "restart_lsn", "confirmed_flush_lsn",
          "current_lsn", "retained_bytes", "lag_bytes", "wal_status", "safe_wal_size",
          "catalog_xmin_age", "client_addr", "retained", "lag", "warnings"):
    if k not in st:
        bad.append("missing key " + k)
if not bad:
    for k in ("slot_name", "plugin", "active", "active_pid", "wal_status"):
        if st[k] != pg[k]:
            bad.append("%s: %r, server says %r" % (k, st[k], pg[k]))
    if not st["active"]:
        # Nobody moves an inactive slot: its LSNs must match exactly.
        for k in ("restart_lsn", "confirmed_flush_lsn"):
            if lsn(st[k]) != pg[k]:
                bad.append("%s: %r, server says %r" % (k, st[k], pg[k]))
    cur = lsn(st["current_lsn"])
    if not before <= cur <= after:
        bad.append("current_lsn %r not within [%d, %d]" % (st["current_lsn"], before, after))
    if st["retained_bytes"] != cur - lsn(st["restart_lsn"]):
        bad.append("retained_bytes %r != current_lsn - restart_lsn" % st["retained_bytes"])
    if st["lag_bytes"] != cur - lsn(st["confirmed_flush_lsn"]):
        bad.append("lag_bytes %r != current_lsn - confirmed_flush_lsn" % st["lag_bytes"])
    if major < 13:
        if st["safe_wal_size"] is not None:
            bad.append("safe_wal_size %r: PostgreSQL 12 has none" % st["safe_wal_size"])
    elif not isinstance(st["safe_wal_size"], int) or st["safe_wal_size"] <= 0:
        bad.append("safe_wal_size %r: expected a positive number under max_slot_wal_keep_size"
                   % st["safe_wal_size"])
    # The age grows as transactions are assigned ids; the server was read after the agent.
    if not isinstance(st["catalog_xmin_age"], int) or not 0 <= st["catalog_xmin_age"] <= pg["catalog_xmin_age"]:
        bad.append("catalog_xmin_age %r, server says %r" % (st["catalog_xmin_age"], pg["catalog_xmin_age"]))
    if major < 13:
        if len(st["warnings"]) != 1 or "PostgreSQL 12 has no max_slot_wal_keep_size" not in st["warnings"][0]:
            bad.append("expected only the no-max_slot_wal_keep_size warning: %r" % st["warnings"])
    elif st["warnings"]:
        bad.append("unexpected warnings: %r" % st["warnings"])
    if what == "new slot" and (st["retained_bytes"] <= 0 or st["lag_bytes"] <= 0):
        bad.append("expected positive retained_bytes and lag_bytes after 500 inserts")
for b in bad:
    print("# " + what + ": " + b)
sys.exit(1 if bad else 0)
PY
    ok "$what: slot status --json matches pg_replication_slots"
}

status_check "new slot"

note "with the agent streaming from the slot"
agent_start
status_check "active slot"

# --all: the pipeline's (active) slot and another (inactive) one, in slot_name order.
sql_su "SELECT pg_create_logical_replication_slot('it_other_slot', 'pgoutput')" >/dev/null
cdc slot status "${ARGS[@]}" --json --all
expect_eq "slot status --all exits $RC_OK" "$CDC_RC" "$RC_OK"
note "--all: $(tr -d '\n ' <"$T/cdc.out" | head -c 600)"
expect_eq "--all lists both slots, in order, active and inactive" \
    "$(python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); print(" ".join("%s:%s:%s" % (o["slot_name"], o["active"], "publication" in o) for o in a))' "$T/cdc.out")" \
    "it_other_slot:False:False it_status_slot:True:True"
expect_eq "the active slot's pid is the walsender's" \
    "$(python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); print(a[1]["active_pid"], a[1]["client_addr"])' "$T/cdc.out")" \
    "$(sql_su "SELECT s.active_pid || ' ' || host(r.client_addr) FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid WHERE slot_name = 'it_status_slot'")"
expect_eq "the publication's table, with its replica identity and primary key" \
    "$(python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); print(json.dumps(a[1]["publication"]["tables"]))' "$T/cdc.out")" \
    '[{"table": "public.customers", "replica_identity": "default", "primary_key": true}]'
cdc slot status "${ARGS[@]}" --all
expect_eq "slot status --all (table) exits $RC_OK" "$CDC_RC" "$RC_OK"
note "$(sed 's/^/  /' "$T/cdc.out")"
expect_contains "the table names the other slot" "$(cat "$T/cdc.out")" "it_other_slot"
check "and shows WAL retained in human units and bytes" \
    grep -Eq '^WAL retained +[0-9.]+ (B|KiB|MiB|GiB) \([0-9]+ bytes\)$' "$T/cdc.out"
expect_contains "and the catalog_xmin age" "$(cat "$T/cdc.out")" "catalog_xmin age"
expect_contains "and the client address" "$(cat "$T/cdc.out")" "127.0.0.1"
sql_su "SELECT pg_drop_replication_slot('it_other_slot')" >/dev/null
agent_stop
status_check "inactive again"

cdc slot drop "${ARGS[@]}"
expect_eq "slot drop without --yes is refused (exit 2)" "$CDC_RC" 2
expect_eq "and the slot is still there" "$(slot_field it_status_slot slot_name)" it_status_slot
cdc slot drop "${ARGS[@]}" --yes
expect_eq "slot drop --yes exits 0" "$CDC_RC" 0
expect_eq "the slot is gone" "$(slot_field it_status_slot slot_name)" ""
cdc slot status "${ARGS[@]}" --json
expect_eq "slot status on a missing slot exits 1" "$CDC_RC" 1
expect_contains "and names the slot" "$(cat "$T/cdc.err")" it_status_slot

done_testing
