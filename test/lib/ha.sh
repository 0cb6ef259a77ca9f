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
#   ha_failover          stop the primary (HA_STOP_MODE, default fast: it sends the standby
#                        all of its WAL first; immediate: a crash, the standby keeps only
#                        what it had received), promote the standby; then PORT/PGDIR are
#                        the new primary's
#   ha_hosts             "127.0.0.1:PRIMARY,127.0.0.1:STANDBY" (source.host)
#   ha_standby_setup TABLE_SQL...  standby capture (842, 845): on the primary the SQL, then the
#                        publication cdc_publication FOR TABLE items; waits until the standby
#                        has replayed it; PRIMARY_PORT is the primary's, PORT the standby's
#   ha_standby_agent_start  agent_start against the standby, with pg_log_standby_snapshot()
#                        on the primary every 0.5 s until the slot is made (its creation on a
#                        standby waits for the primary's next running-transactions record)

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
    local mode=${HA_STOP_MODE:-fast}
    _pg_ctl_stop "$HA_OLD_DIR" "$mode" || fail "ha_failover: the primary did not stop (-m $mode)"
    pg_as_user "$PG_BIN/pg_ctl" -D "$SB_DIR/data" -w -t 60 promote >/dev/null ||
        fail "ha_failover: the standby was not promoted"
    PORT=$SB_PORT
    PGDIR=$SB_DIR
    note "failover: 127.0.0.1:$HA_OLD_PORT stopped (-m $mode), 127.0.0.1:$SB_PORT promoted"
}

ha_standby_setup() {
    PRIMARY_PORT=$PORT
    sql "$@" "CREATE PUBLICATION cdc_publication FOR TABLE items"
    # The agent reads the standby: its PORT; the workload writes to the primary.
    PORT=$SB_PORT
    # The publication comes last: once the standby has replayed it, it has the rows too.
    local deadline=$((SECONDS + 30))
    until [ "$(sb_sql "SELECT count(*) FROM pg_publication WHERE pubname = 'cdc_publication'")" = 1 ]; do
        [ "$SECONDS" -lt "$deadline" ] || fail "the standby has not replayed the publication after 30 s"
        sleep 0.1
    done
}

_ha_hurry() {
    while [ ! -e "$T/stop_hurry" ]; do
        pg_psql "$PRIMARY_PORT" cdc_demo "SELECT pg_log_standby_snapshot()" >/dev/null 2>&1 || true
        sleep 0.5
    done
}

ha_standby_agent_start() {
    rm -f "$T/stop_hurry"
    bg _ha_hurry
    agent_start
    touch "$T/stop_hurry"
}
