#!/usr/bin/env bash
# 100: cdcagent slot create / status --json / drop --yes.  The status keys slot_name, plugin,
# active, active_pid, restart_lsn, confirmed_flush_lsn, current_lsn, retained_bytes and
# lag_bytes agree with pg_replication_slots and pg_current_wal_lsn().
# LSNs may be printed as "X/Y" text or as numbers; both are accepted.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_up
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
    expect_eq "$what: slot status exits 0" "$CDC_RC" 0
    cp "$T/cdc.out" "$T/status.json"
    note "$what: $(cat "$T/status.json")"
    row=$(sql_su "SELECT json_build_object('slot_name', slot_name, 'plugin', plugin, 'active', active,
                    'active_pid', active_pid,
                    'restart_lsn', (restart_lsn - '0/0')::bigint,
                    'confirmed_flush_lsn', (confirmed_flush_lsn - '0/0')::bigint)
                  FROM pg_replication_slots WHERE slot_name = 'it_status_slot'")
    python3 - "$T/status.json" "$row" "$before" "$after" "$what" <<'PY' || fail "$what: slot status disagrees with the server (above)"
import json, sys
def lsn(v):
    if isinstance(v, int):
        return v
    hi, lo = str(v).split("/")
    return (int(hi, 16) << 32) | int(lo, 16)
with open(sys.argv[1]) as f:
    st = json.loads(f.read())
pg = json.loads(sys.argv[2])
before, after, what = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
bad = []
for k in ("slot_name", "plugin", "active", "active_pid", "restart_lsn", "confirmed_flush_lsn",
          "current_lsn", "retained_bytes", "lag_bytes"):
    if k not in st:
        bad.append("missing key " + k)
if not bad:
    for k in ("slot_name", "plugin", "active", "active_pid"):
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
