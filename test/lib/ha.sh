# shellcheck shell=bash disable=SC2034  # a library: its variables are the tests'
# A primary and a physical standby for the high-availability tests (84x; docs/ha.md), on
# top of common.sh (source that first, with PG_MAJOR set: 17 or newer for failover slots).
# Debian's pg_basebackup (15) refuses newer servers, so the standby is a cold copy of the
# stopped primary's data directory plus standby.signal and primary_conninfo.
#
#   ha_up [PHYS_SLOT]    the primary ($PORT, $PGDIR) and a standby of it ($SB_PORT, $SB_DIR)
#                        streaming through physical slot PHYS_SLOT (default standby1), with
#                        sync_replication_slots, hot_standby_feedback and primary_slot_name
#                        set on the standby (17+) and synchronized_standby_slots on the primary
#   sb_sql SQL...        psql as superuser on the standby
#   ha_wait_synced SLOT TIMEOUT   until the standby holds a synced, persistent copy of SLOT
#   ha_failover          stop the primary (fast: it sends the standby all of its WAL first),
#                        promote the standby; then PORT/PGDIR are the new primary's
#   ha_hosts             "127.0.0.1:PRIMARY,127.0.0.1:STANDBY" (source.host)

SB_DIR=$T/sb
SB_PORT=
HA_OLD_PORT=
HA_OLD_DIR=

sb_sql() { pg_psql "$SB_PORT" cdc_demo "$@"; }

ha_up() {
    local phys=${1:-standby1}
    pg_up
    HA_OLD_PORT=$PORT
    HA_OLD_DIR=$PGDIR
    pg_psql "$PORT" postgres "SELECT pg_create_physical_replication_slot('$phys', true)" >/dev/null
    # The cold copy: a clean stop leaves nothing to replay.
    pg_stop "$PGDIR" || fail "ha_up: could not stop the primary for the copy"
    mkdir -p "$SB_DIR"
    PG_EXTRA_DIRS+=("$SB_DIR" "$HA_OLD_DIR")     # common.sh's cleanup stops them
    cp -a "$PGDIR/data" "$SB_DIR/data"
    rm -rf "$SB_DIR/data/pg_replslot/$phys"      # the standby's own copy of its slot is no use
    SB_PORT=$(free_port)
    sed -i "s|^unix_socket_directories = .*|unix_socket_directories = '$SB_DIR'|" \
        "$SB_DIR/data/postgresql.conf"
    cat >>"$SB_DIR/data/postgresql.conf" <<CONF
# --- test/lib/ha.sh: a standby of 127.0.0.1:$PORT ---
primary_conninfo = 'host=127.0.0.1 port=$PORT user=postgres dbname=cdc_demo application_name=$phys'
primary_slot_name = '$phys'
hot_standby = on
hot_standby_feedback = on
CONF
    if [ "$(pg_server_major)" -ge 17 ]; then
        echo "sync_replication_slots = on" >>"$SB_DIR/data/postgresql.conf"
    fi
    touch "$SB_DIR/data/standby.signal"
    pg_chown "$SB_DIR"
    pg_start "$PGDIR" "$PORT" || fail "ha_up: the primary did not start again"
    pg_start "$SB_DIR" "$SB_PORT" || fail "ha_up: the standby did not start"
    if [ "$(pg_server_major)" -ge 17 ]; then
        pg_psql "$PORT" postgres "ALTER SYSTEM SET synchronized_standby_slots = '$phys'" \
            "SELECT pg_reload_conf()" >/dev/null
    fi
    local deadline=$((SECONDS + 30))
    until [ "$(pg_psql "$PORT" postgres "SELECT count(*) FROM pg_stat_replication WHERE application_name = '$phys' AND state = 'streaming'")" = 1 ]; do
        [ "$SECONDS" -lt "$deadline" ] || fail "ha_up: the standby is not streaming after 30 s"
        sleep 0.2
    done
    note "standby of $PORT on 127.0.0.1:$SB_PORT ($SB_DIR), physical slot $phys"
}

ha_hosts() { echo "127.0.0.1:$HA_OLD_PORT,127.0.0.1:$SB_PORT"; }

ha_wait_synced() {
    local slot=$1 timeout=$2 deadline
    deadline=$((SECONDS + timeout))
    until [ "$(sb_sql "SELECT synced AND NOT temporary AND invalidation_reason IS NULL FROM pg_replication_slots WHERE slot_name = '$slot'")" = t ]; do
        [ "$SECONDS" -lt "$deadline" ] || fail "the standby has no synced copy of slot $slot after ${timeout}s: $(sb_sql "SELECT row(synced, temporary, invalidation_reason) FROM pg_replication_slots WHERE slot_name = '$slot'")"
        sleep 0.2
    done
}

ha_failover() {
    pg_stop "$HA_OLD_DIR" || fail "ha_failover: the primary did not stop"
    pg_as_user "$PG_BIN/pg_ctl" -D "$SB_DIR/data" -w -t 60 promote >/dev/null ||
        fail "ha_failover: the standby was not promoted"
    PORT=$SB_PORT
    PGDIR=$SB_DIR
    note "failover: 127.0.0.1:$HA_OLD_PORT stopped, 127.0.0.1:$SB_PORT promoted"
}
