# shellcheck shell=bash
# A throwaway PostgreSQL for the tests and the demo: Debian's 15, or the server whose bin
# directory PG_BIN names (test/lib/pgver.sh; PG_MAJOR in common.sh).  Source it, then:
#
#   pg_start DIR PORT    initdb (once) into DIR/data and start a server listening on
#                        127.0.0.1:PORT and on a unix socket in DIR; logs in DIR/log
#   pg_stop DIR          fast shutdown (waits)
#   pg_kill DIR          immediate shutdown (a crash, as far as the server is concerned)
#   pg_psql PORT DB SQL... run each SQL as superuser "postgres"; -X -q -v ON_ERROR_STOP=1 -At
#   pg_is_running DIR
#
# The cluster has superuser "postgres" (trusted over the socket and from 127.0.0.1) and the
# role cdc_user / cdc_password (REPLICATION LOGIN, scram over TCP) owning database cdc_demo.
# Settings: wal_level=logical, 20 slots and walsenders, logical_decoding_work_mem=64kB
# (13 and later; 12 streams nothing and spills at its fixed 4096 changes), fsync off,
# synchronous_commit on (so pg_current_wal_lsn(), the write position, is past every commit
# that returned: tests wait for the slot to reach it; with it off the WAL writer writes up
# to 200 ms later and a loaded run could stop the agent before it had the last commits; on
# costs one write() per commit here, since fsync is off); add
# more with PG_EXTRA_CONF="name = value" lines.  PG_EXTRA_HBA lines go into pg_hba.conf after
# the superuser's lines and before the password lines for everyone else (first match wins,
# so they can require SSL or reject a role).  Both apply at initdb only.
#
# initdb refuses to run as root, so as root the server runs as PG_OS_USER: "postgres" if
# that user exists, else "cdcagent-test" (created on first use).  DIR and every directory
# above it must be searchable by that user; pg_start says so when they are not.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_SUPERUSER=postgres
PG_EXTRA_CONF=${PG_EXTRA_CONF:-}
PG_EXTRA_HBA=${PG_EXTRA_HBA:-}

_pg_err() { echo "pg.sh: $*" >&2; }

# The OS user that owns and runs the server ("" means: the current user).
pg_os_user() {
    if [ "$(id -u)" -ne 0 ]; then
        echo ""
    elif [ -n "${PG_OS_USER:-}" ]; then
        echo "$PG_OS_USER"
    elif id postgres >/dev/null 2>&1; then
        echo postgres
    else
        if ! id cdcagent-test >/dev/null 2>&1; then
            useradd --system --user-group --no-create-home --home-dir /nonexistent \
                    --shell /usr/sbin/nologin cdcagent-test >/dev/null 2>&1 || true
            id cdcagent-test >/dev/null 2>&1 || { _pg_err "cannot create user cdcagent-test"; return 1; }
        fi
        echo cdcagent-test
    fi
}

# Run a command as the server's OS user, from / (so that a cwd it cannot read is harmless).
pg_as_user() {
    local u
    u=$(pg_os_user) || return 1
    if [ -z "$u" ]; then
        (cd / && "$@")
    else
        (cd / && runuser -u "$u" -- "$@")
    fi
}

# Give DIR to the server's OS user (when running as root).
pg_chown() {
    local u
    u=$(pg_os_user) || return 1
    if [ -n "$u" ]; then chown -R "$u:" "$@"; fi
}

# The major version of the server in PG_BIN (12, 15, 18...).
pg_server_major() {
    local v
    v=$("$PG_BIN/postgres" --version 2>/dev/null) || return 1
    v=${v##* }
    echo "${v%%.*}"
}

pg_is_running() {
    [ -f "$1/data/postmaster.pid" ] && pg_as_user "$PG_BIN/pg_ctl" -D "$1/data" status >/dev/null 2>&1
}

pg_start() {
    local dir=${1:?pg_start DIR PORT} port=${2:?pg_start DIR PORT}
    if [ ! -x "$PG_BIN/initdb" ]; then
        _pg_err "no PostgreSQL server in $PG_BIN (install postgresql-15: deploy/local/deps.sh)"
        return 1
    fi
    mkdir -p "$dir" || return 1
    dir=$(cd "$dir" && pwd) || return 1
    # A unix socket path is limited to 107 bytes.
    if [ "${#dir}" -gt 80 ]; then
        _pg_err "directory path too long for a unix socket (${#dir} > 80 chars): $dir"
        return 1
    fi
    pg_chown "$dir" || return 1
    if ! pg_as_user test -w "$dir" -a -x "$dir"; then
        _pg_err "$dir is not writable by user '$(pg_os_user)'; a parent directory is" \
                "probably not searchable by it (chmod o+x the parents, or use another directory)"
        return 1
    fi
    if pg_is_running "$dir"; then
        _pg_err "a server is already running in $dir"
        return 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        _pg_err "port $port on 127.0.0.1 is already in use"
        return 1
    fi

    if [ ! -f "$dir/data/PG_VERSION" ]; then
        local work_mem="logical_decoding_work_mem = 64kB"     # 13 and later
        if [ "$(pg_server_major)" -lt 13 ]; then work_mem=""; fi
        if ! pg_as_user "$PG_BIN/initdb" -D "$dir/data" -U "$PG_SUPERUSER" -A trust \
                -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1; then
            _pg_err "initdb failed; $dir/initdb.log says:"
            tail -n 20 "$dir/initdb.log" >&2
            return 1
        fi
        cat >>"$dir/data/postgresql.conf" <<CONF

# --- test/lib/pg.sh ---
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
wal_level = logical
max_replication_slots = 20
max_wal_senders = 20
$work_mem
fsync = off
synchronous_commit = on
full_page_writes = off
password_encryption = 'scram-sha-256'
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
log_min_messages = warning
log_connections = off
wal_sender_timeout = 60s
max_connections = 50
shared_buffers = 32MB
$PG_EXTRA_CONF
CONF
        cat >"$dir/data/pg_hba.conf" <<HBA
# --- test/lib/pg.sh: the superuser is trusted locally; everyone else uses a password ---
local   all             all                                     trust
local   replication     all                                     trust
host    all             $PG_SUPERUSER       127.0.0.1/32        trust
host    replication     $PG_SUPERUSER       127.0.0.1/32        trust
HBA
        if [ -n "$PG_EXTRA_HBA" ]; then printf '%s\n' "$PG_EXTRA_HBA" >>"$dir/data/pg_hba.conf"; fi
        cat >>"$dir/data/pg_hba.conf" <<HBA
host    all             all                 127.0.0.1/32        scram-sha-256
host    replication     all                 127.0.0.1/32        scram-sha-256
HBA
        pg_chown "$dir/data"
    else
        # Reusing a cluster: only the port may have changed.
        sed -i "s/^port = .*/port = $port/" "$dir/data/postgresql.conf"
    fi

    mkdir -p "$dir/log" && pg_chown "$dir/log"
    if ! pg_as_user "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/log/postgresql.log" \
            -o "-p $port" -w -t 60 start >"$dir/log/pg_ctl.log" 2>&1; then
        _pg_err "server in $dir did not start; $dir/log/postgresql.log says:"
        tail -n 20 "$dir/log/postgresql.log" >&2 2>/dev/null || cat "$dir/log/pg_ctl.log" >&2
        return 1
    fi
    local i
    for ((i = 0; i < 300; i++)); do
        if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U "$PG_SUPERUSER" -d postgres; then
            break
        fi
        sleep 0.1
    done
    if ! "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U "$PG_SUPERUSER" -d postgres; then
        _pg_err "server in $dir is not ready on port $port after 30 s"
        tail -n 20 "$dir/log/postgresql.log" >&2
        return 1
    fi
    echo "$port" >"$dir/port"
    pg_setup_cdc "$port"
}

# Role cdc_user and database cdc_demo (idempotent).
pg_setup_cdc() {
    local port=$1
    pg_psql "$port" postgres "DO \$\$ BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cdc_user') THEN
            CREATE ROLE cdc_user WITH LOGIN REPLICATION PASSWORD 'cdc_password';
        END IF; END \$\$;" || return 1
    if [ -z "$(pg_psql "$port" postgres "SELECT 1 FROM pg_database WHERE datname = 'cdc_demo'")" ]; then
        pg_psql "$port" postgres "CREATE DATABASE cdc_demo OWNER cdc_user" || return 1
    fi
}

pg_psql() {
    local port=${1:?pg_psql PORT DB SQL...} db=${2:?pg_psql PORT DB SQL...}
    shift 2
    local args=() sql
    for sql in "$@"; do args+=(-c "$sql"); done
    PGCONNECT_TIMEOUT=10 "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 \
        -h 127.0.0.1 -p "$port" -U "$PG_SUPERUSER" -d "$db" "${args[@]}"
}

# psql as cdc_user (a non-superuser, over TCP with its password).
pg_psql_user() {
    local port=${1:?} db=${2:?}
    shift 2
    local args=() sql
    for sql in "$@"; do args+=(-c "$sql"); done
    PGPASSWORD=cdc_password PGCONNECT_TIMEOUT=10 "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 \
        -h 127.0.0.1 -p "$port" -U cdc_user -d "$db" "${args[@]}"
}

_pg_ctl_stop() {
    local dir=$1 mode=$2
    [ -d "$dir/data" ] || return 0
    pg_is_running "$dir" || return 0
    if ! pg_as_user "$PG_BIN/pg_ctl" -D "$dir/data" -m "$mode" -w -t 60 stop >/dev/null 2>&1; then
        _pg_err "pg_ctl stop -m $mode failed for $dir"
        return 1
    fi
}

pg_stop() { _pg_ctl_stop "${1:?pg_stop DIR}" fast; }
pg_kill() { _pg_ctl_stop "${1:?pg_kill DIR}" immediate; }

# For an EXIT trap: stop quietly whatever is running in DIR, never fail.
pg_cleanup() {
    local dir=$1
    [ -n "$dir" ] || return 0
    pg_stop "$dir" 2>/dev/null || pg_kill "$dir" 2>/dev/null || true
}
