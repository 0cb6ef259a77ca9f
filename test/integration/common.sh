# shellcheck shell=bash disable=SC2034  # a library: its variables are the tests'
# Helpers for the numbered integration tests (test/integration/NNN_name.sh).
#
# A test sources this file, then typically:
#   pg_up                              # a fresh PostgreSQL ($PG_MAJOR, 15) on a free port ($PORT)
#   sql "CREATE TABLE ..."             # as cdc_user in cdc_demo (sql_su: as superuser)
#   write_pipeline; write_platform     # $T/pipeline.yaml, $T/platform.yaml
#   agent_start                        # cdcagent run ... in the background, waits for the slot
#   wait_lines "$EVENTS" 3 30
#   expect_eq "op of event 1" "$(jl_field "$EVENTS" 1 value.op)" c
#   agent_stop                         # SIGTERM, asserts exit 0
#   done_testing
#
# Environment: CDCAGENT (the binary; default $CDC_SRC/build/cdcagent), CDC_SRC (source
# tree), KEEP_TMP=1 (keep the per-test directory), TMPDIR, PG_MAJOR (12 to 18: pg_up starts
# that PostgreSQL, fetched once by test/lib/pgver.sh; default 15, Debian's).
# Output is TAP: "ok N - what", "not ok N - what", "# notes", and a final "1..N".

set -Eeuo pipefail

IT_NAME=$(basename "$0" .sh)
IT_NUM=${IT_NAME%%_*}
case "$IT_NUM" in *[!0-9]*|"") IT_NUM=999 ;; esac
CDC_SRC=${CDC_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
CDCAGENT=${CDCAGENT:-$CDC_SRC/build/cdcagent}
# shellcheck source=SCRIPTDIR/../lib/pg.sh
. "$CDC_SRC/test/lib/pg.sh"
PG_MAJOR=${PG_MAJOR:-15}
if [ "$PG_MAJOR" != 15 ]; then
    # shellcheck source=SCRIPTDIR/../lib/pgver.sh
    . "$CDC_SRC/test/lib/pgver.sh"
    PG_BIN=$(pgver_install "$PG_MAJOR") || { echo "not ok 1 - PostgreSQL $PG_MAJOR is not available"; exit 1; }
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/cdcit.$IT_NUM.XXXXXX")
chmod 755 "$T"                    # the server's OS user writes under $T/pg
PGDIR=$T/pg
PORT=
AGENT_PID=
AGENT_RUNS=0
BG_PIDS=()
PG_EXTRA_DIRS=()                  # more servers' directories for cleanup (test/lib/ha.sh)
TAP_N=0
EVENTS=$T/events.jsonl            # where write_pipeline points the jsonl sink
CDC_RC=''                         # set by cdc, read by the tests
AGENT_RC=''                       # set by agent_wait_exit
: >"$EVENTS"

echo "# $IT_NAME: cdcagent=$CDCAGENT tmp=$T"

# ---------------------------------------------------------------- TAP and failure

note() { echo "# $*"; }

ok() {
    TAP_N=$((TAP_N + 1))
    echo "ok $TAP_N - $*"
}

_context() {
    local f seen=" "
    for f in "$T/agent.log" "$T/agent.stdout" "$EVENTS" "$PGDIR/log/postgresql.log"; do
        case "$seen" in *" $f "*) continue ;; esac
        seen="$seen$f "
        if [ -s "$f" ]; then
            echo "# --- last lines of $f ---"
            tail -n 25 "$f" | sed 's/^/#   /' | cut -c1-400
        fi
    done
}

fail() {
    TAP_N=$((TAP_N + 1))
    echo "not ok $TAP_N - $*"
    _context
    trap - ERR
    exit 1
}

_on_err() {
    local line=$1 cmd=$2 i where=""
    trap - ERR
    # Where in the test: the innermost frame of the test script itself.
    for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
        if [ "${BASH_SOURCE[$i]}" = "$0" ]; then
            where=" (test line ${BASH_LINENO[$((i - 1))]})"
            break
        fi
    done
    TAP_N=$((TAP_N + 1))
    echo "not ok $TAP_N - command failed at $(basename "${BASH_SOURCE[1]}"):$line$where: $cmd"
    _context
    exit 1
}
trap '_on_err "$LINENO" "$BASH_COMMAND"' ERR

# check DESCRIPTION COMMAND...: ok if COMMAND succeeds, else fail.
check() {
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else fail "$desc"; fi
}

# expect_eq DESCRIPTION ACTUAL EXPECTED
expect_eq() {
    if [ "$2" == "$3" ]; then
        ok "$1"
    else
        fail "$1: got '$2', expected '$3'"
    fi
}

# expect_contains DESCRIPTION HAYSTACK NEEDLE
expect_contains() {
    case "$2" in
        *"$3"*) ok "$1" ;;
        *) fail "$1: '$3' not found in: $(printf '%s' "$2" | head -c 2000)" ;;
    esac
}

done_testing() {
    echo "1..$TAP_N"
}

# ---------------------------------------------------------------- cleanup

_cleanup() {
    local rc=$?
    trap - ERR
    set +e
    if [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
        kill -TERM "$AGENT_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$AGENT_PID" 2>/dev/null
        wait "$AGENT_PID" 2>/dev/null
    fi
    local p
    for p in "${BG_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    pg_cleanup "$PGDIR"
    for p in "${PG_EXTRA_DIRS[@]}"; do pg_cleanup "$p"; done
    _ports_release
    if [ "${KEEP_TMP:-0}" = 1 ]; then
        echo "# kept $T"
    else
        rm -rf "$T"
    fi
    exit "$rc"
}
trap _cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- PostgreSQL

_port_free() {
    python3 - "$1" <<'PY' 2>/dev/null
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.close()
PY
}

# Ports handed out are also reserved across the tests that run at once (the ASan pass runs
# two at a time, test/run.sh): a directory per port under CDC_PORT_DIR, made with mkdir (which
# only one can do), holding the reserving test's pid, removed when the test ends; one left by
# a test that died is taken over.
CDC_PORT_DIR=${CDC_PORT_DIR:-${TMPDIR:-/tmp}/cdcagent-ports}
_port_reserve() {   # _port_reserve PORT: 0 when this test holds PORT now
    local d=$CDC_PORT_DIR/$1 owner
    mkdir -p "$CDC_PORT_DIR" 2>/dev/null
    if mkdir "$d" 2>/dev/null; then
        echo $$ >"$d/pid"
        return 0
    fi
    owner=$(cat "$d/pid" 2>/dev/null)
    if [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; then
        rm -rf "$d"
        if mkdir "$d" 2>/dev/null; then
            echo $$ >"$d/pid"
            return 0
        fi
    fi
    return 1
}
_ports_release() {
    local p d
    [ -f "$T/.ports" ] || return 0
    while read -r p; do
        for d in "$CDC_PORT_DIR/$p" "$CDC_PORT_DIR/$((p + 1))"; do
            [ "$(cat "$d/pid" 2>/dev/null)" = $$ ] && rm -rf "$d"
        done
    done <"$T/.ports"
}

# A free TCP port, from a range that depends on the test number. The ranges (10000-29999)
# stay below the kernel's ephemeral ports (32768 and up by default): an outgoing connection,
# the agent's own to PostgreSQL for one, takes a port from there, and a health port handed
# out in that range was once taken that way between free_port and the agent's bind.
free_port() {
    local p i
    for ((i = 0; i < 50; i++)); do
        # Even ports only, with the next one free too: a Kafka broker takes PORT and PORT+1,
        # and no other free_port of the test can hand out that second one.
        # Never the same port twice in one test (one handed out earlier may be unbound
        # right now, e.g. the health port while the agent is stopped); $(free_port) runs
        # in a subshell, so the record is a file.
        p=$((10000 + (10#$IT_NUM % 200) * 100 + (RANDOM % 50) * 2))
        if grep -qx "$p" "$T/.ports" 2>/dev/null; then continue; fi
        if _port_free "$p" && _port_free $((p + 1)) && _port_reserve "$p"; then
            if ! _port_reserve $((p + 1)); then
                rm -rf "${CDC_PORT_DIR:?}/$p"
                continue
            fi
            echo "$p" >>"$T/.ports"
            echo "$p"
            return 0
        fi
    done
    echo "common.sh: no free port found" >&2
    return 1
}

# Start the test's PostgreSQL; sets PORT.
pg_up() {
    local i
    for ((i = 0; i < 3; i++)); do
        PORT=$(free_port)
        if pg_start "$PGDIR" "$PORT"; then
            note "PostgreSQL $(pg_psql "$PORT" postgres "SHOW server_version") on 127.0.0.1:$PORT ($PGDIR)"
            return 0
        fi
        pg_kill "$PGDIR" 2>/dev/null || true
    done
    fail "could not start PostgreSQL (see messages above)"
}

# SQL in cdc_demo as cdc_user (the owner of the tables) or as the superuser.
sql()    { pg_psql_user "$PORT" cdc_demo "$@"; }
sql_su() { pg_psql "$PORT" cdc_demo "$@"; }

# Numeric value of an LSN ('0/16B3748' -> 23803720), computed by the server.
lsn_num() { sql_su "SELECT ('$1'::pg_lsn - '0/0'::pg_lsn)::bigint"; }

# slot_field SLOT COLUMN: one column of pg_replication_slots ("" when there is no such slot).
slot_field() { sql_su "SELECT $2 FROM pg_replication_slots WHERE slot_name = '$1'"; }

# ---------------------------------------------------------------- configuration

# write_file PATH <<'YAML' ... YAML
write_file() { cat >"$1"; }

# write_pipeline: $T/pipeline.yaml from these variables (all optional):
#   P_TABLES (YAML list body, default "public.customers, public.orders"), P_SNAPSHOT
#   (initial), P_SLOT (cdc_slot), P_PUB (cdc_publication), P_OUT (sink path, default
#   $EVENTS; "-" writes to the agent's stdout, then EVENTS becomes $T/agent.stdout),
#   P_SOURCE_EXTRA (more lines for the source: section, unindented), P_NO_TABLES=1 (no
#   tables: line, for tables chosen by pattern).
write_pipeline() {
    local out=${P_OUT:-$EVENTS}
    if [ "$out" = "-" ]; then EVENTS=$T/agent.stdout; : >"$EVENTS"; fi
    {
        cat <<YAML
pipeline_id: it-$IT_NUM
topic_prefix: cdc
source:
  host: 127.0.0.1
  port: $PORT
  database: cdc_demo
  username: cdc_user
  password: cdc_password
$( [ "${P_NO_TABLES:-0}" = 1 ] || echo "  tables: [${P_TABLES:-public.customers, public.orders}]")
  slot_name: ${P_SLOT:-cdc_slot}
  publication_name: ${P_PUB:-cdc_publication}
  snapshot_mode: ${P_SNAPSHOT:-initial}
YAML
        if [ -n "${P_SOURCE_EXTRA:-}" ]; then printf '%s\n' "$P_SOURCE_EXTRA" | sed 's/^/  /'; fi
        cat <<YAML
sinks:
  - sink_id: local
    sink_type: jsonl
    jsonl:
      path: "$out"
YAML
    } >"$T/pipeline.yaml"
}

# add_pg_replica SINK_ID PORT DATABASE: a PostgreSQL sink in replica mode (as the superuser of
# the target server on 127.0.0.1:PORT) at the end of $T/pipeline.yaml's sinks.
add_pg_replica() {
    cat >>"$T/pipeline.yaml" <<YAML
  - sink_id: $1
    sink_type: postgres
    postgres:
      host: 127.0.0.1
      port: $2
      database: $3
      username: postgres
      mode: replica
YAML
}

# write_platform: $T/platform.yaml; STOP_LSN sets agent.stop_lsn, PLATFORM_EXTRA adds
# top-level lines.
write_platform() {
    {
        cat <<YAML
transport_mode: direct
health_enabled: false
agent:
  log_level: ${AGENT_LOG_LEVEL:-info}
  status_interval_seconds: 1
  state_dir: $T
YAML
        if [ -n "${STOP_LSN:-}" ]; then echo "  stop_lsn: \"$STOP_LSN\""; fi
        # Dead letters stay in the test's directory.
        case "${PLATFORM_EXTRA:-}" in *dlq:*) ;; *) printf 'dlq:\n  path: %s\n' "$T/dlq.jsonl" ;; esac
        if [ -n "${PLATFORM_EXTRA:-}" ]; then printf '%s\n' "$PLATFORM_EXTRA"; fi
    } >"$T/platform.yaml"
}

# ---------------------------------------------------------------- the agent

need_agent() {
    [ -x "$CDCAGENT" ] || fail "no cdcagent binary at $CDCAGENT (build it, or set CDCAGENT)"
}

# cdc CMD ARGS...: run cdcagent in the foreground with the test's platform config;
# stdout in $T/cdc.out, stderr in $T/cdc.err, exit code in CDC_RC.
cdc() {
    need_agent
    CDC_RC=0
    "$CDCAGENT" "$@" >"$T/cdc.out" 2>"$T/cdc.err" || CDC_RC=$?
}

# agent_sanitized: whether $CDCAGENT is an ASan build (its memory figures are not the
# release build's).  ldd's whole output is read: `ldd | grep -q` under pipefail fails when
# grep exits at the first match and ldd, still writing, dies of SIGPIPE.
agent_sanitized() {
    local libs
    libs=$(ldd "$CDCAGENT" 2>/dev/null) || true
    [[ $libs == *libasan* ]]
}

agent_alive() { [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; }

# agent_start: cdcagent run in the background (stdout appended to $T/agent.stdout,
# stderr to $T/agent.log); then waits until its slot is active (unless AGENT_NO_WAIT=1).
agent_start() {
    need_agent
    [ -f "$T/platform.yaml" ] || write_platform
    AGENT_RUNS=$((AGENT_RUNS + 1))
    echo "=== run $AGENT_RUNS $(date +%T.%N) ===" >>"$T/agent.log"
    "$CDCAGENT" run "$T/pipeline.yaml" --platform-config "$T/platform.yaml" \
        >>"$T/agent.stdout" 2>>"$T/agent.log" &
    AGENT_PID=$!
    note "agent started (run $AGENT_RUNS, pid $AGENT_PID)"
    if [ "${AGENT_NO_WAIT:-0}" != 1 ]; then
        wait_slot_active "${P_SLOT:-cdc_slot}" 60
    fi
}

# wait_slot_active SLOT TIMEOUT: until the agent streams from SLOT.  A slot being created is
# already active (its walsender holds it) but has no confirmed_flush_lsn until it reaches its
# consistent point: changes committed before that point are not in its stream, so wait for both.
wait_slot_active() {
    local slot=$1 timeout=$2 deadline
    deadline=$((SECONDS + timeout))
    while [ "$(slot_field "$slot" "active AND confirmed_flush_lsn IS NOT NULL")" != t ]; do
        if ! agent_alive; then
            local rc=0
            wait "$AGENT_PID" || rc=$?
            AGENT_PID=
            fail "agent exited (status $rc) before slot $slot became active"
        fi
        [ "$SECONDS" -lt "$deadline" ] || fail "slot $slot not active after ${timeout}s"
        sleep 0.2
    done
}

# agent_stop: SIGTERM, wait up to 30 s, assert exit status 0.
agent_stop() {
    local rc=0 i
    [ -n "$AGENT_PID" ] || fail "agent_stop: no agent running"
    kill -TERM "$AGENT_PID" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
        agent_alive || break
        sleep 0.1
    done
    if agent_alive; then
        kill -KILL "$AGENT_PID" 2>/dev/null || true
        wait "$AGENT_PID" 2>/dev/null || true
        AGENT_PID=
        fail "agent did not exit within 30 s of SIGTERM"
    fi
    wait "$AGENT_PID" || rc=$?
    AGENT_PID=
    expect_eq "agent exits with status 0 on SIGTERM" "$rc" 0
}

# restart_after_kill: kill -9 the agent, wait until the server has noticed the dead
# connection and released the slot (up to 30 s), start the agent again.
restart_after_kill() {
    agent_kill9
    wait_slot_released
    agent_start
}

# wait_slot_released: after a kill -9, until the server has released the slot (up to 30 s).
wait_slot_released() {
    local deadline=$((SECONDS + 30))
    while [ "$(slot_field "${P_SLOT:-cdc_slot}" active)" = t ]; do
        [ "$SECONDS" -lt "$deadline" ] || fail "slot still active 30 s after kill -9"
        sleep 0.1
    done
}

# pg_sink_target: for a test that drives a sink directly (test/tools/sink_drive) into a target
# PostgreSQL of its own: sets DRIVE, TGT, TPORT and CI (the target's conninfo), defines tsql
# (psql on the target, TimeZone UTC), starts the target and stops it at exit.
pg_sink_target() {
    DRIVE=${CDC_BUILD:-$(dirname "$CDCAGENT")}/sink_drive
    [ -x "$DRIVE" ] || fail "no $DRIVE (build the test tools)"
    TGT=$T/tgt
    trap 'rc=$?; pg_cleanup "$TGT"; set +e; (exit $rc); _cleanup' EXIT
    TPORT=$(free_port)
    pg_start "$TGT" "$TPORT" >/dev/null || fail "target PostgreSQL did not start"
    CI="host=127.0.0.1 port=$TPORT dbname=cdc_demo user=postgres"
    tsql() { PGTZ=UTC pg_psql "$TPORT" cdc_demo "$@"; }
}

# copy_gate TABLE CONDITION LOCK: a row-level security policy on TABLE (owned by cdc_user)
# makes a COPY of its rows where CONDITION is false wait for advisory lock LOCK, which a
# background session of the test takes here and holds until copy_gate_open LOCK; other
# statements (SELECT, writes) pass.  Holds a parallel snapshot's workers at a known place.
copy_gate() {
    sql "ALTER TABLE $1 ENABLE ROW LEVEL SECURITY" "ALTER TABLE $1 FORCE ROW LEVEL SECURITY" \
        "CREATE POLICY copy_gate ON $1 USING ($2 OR current_query() NOT LIKE 'COPY%'
           OR (SELECT true FROM pg_advisory_xact_lock_shared($3))) WITH CHECK (true)"
    bg _copy_gate_hold "$3"
    local deadline=$((SECONDS + 30))
    until [ "$(copy_gate_count "$3" "")" = 1 ]; do
        [ $SECONDS -lt $deadline ] || fail "the test's advisory lock $3 was never granted"
        sleep 0.1
    done
}
_copy_gate_hold() { sql "SELECT pg_advisory_lock($1), pg_sleep(3600)" >/dev/null 2>&1 || true; }
# copy_gate_count LOCK [NOT]: sessions holding ("") or waiting for ("NOT") the lock.
copy_gate_count() {
    sql_su "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND $2 granted"
}
copy_gate_open() {
    sql_su "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted" >/dev/null
}

# agent_wait_exit TIMEOUT: for a run that ends by itself (stop_lsn); sets AGENT_RC.
agent_wait_exit() {
    local timeout=$1 deadline
    deadline=$((SECONDS + timeout))
    while agent_alive; do
        [ "$SECONDS" -lt "$deadline" ] || fail "agent still running after ${timeout}s"
        sleep 0.1
    done
    AGENT_RC=0
    wait "$AGENT_PID" || AGENT_RC=$?
    AGENT_PID=
}

# agent_start_refused DESCRIPTION TEXT: cdcagent run with the current files must stop at start
# with exit 2 and TEXT in its log.
agent_start_refused() {
    AGENT_NO_WAIT=1 agent_start
    agent_wait_exit 60
    expect_eq "$1: the start stops with exit 2" "$AGENT_RC" 2
    expect_contains "$1: the message" "$(cat "$T/agent.log")" "$2"
}

agent_kill9() {
    [ -n "$AGENT_PID" ] || fail "agent_kill9: no agent running"
    kill -KILL "$AGENT_PID" 2>/dev/null || true
    wait "$AGENT_PID" 2>/dev/null || true
    AGENT_PID=
    note "agent killed with SIGKILL"
}

# user_psql ARGS...: psql as the application's user (cdc_user), stopping at the first error:
# what the tests' loaders write through.
user_psql() {
    PGPASSWORD=cdc_password "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 \
        -p "$PORT" -U cdc_user -d cdc_demo "$@"
}

# load_file FILE: runs the SQL file as cdc_user (run it with bg); $T/loader.log gets psql's
# errors and ends with "loader exit N".
load_file() {
    local rc=0
    user_psql -f "$1" >/dev/null 2>"$T/loader.log" || rc=$?
    echo "loader exit $rc" >>"$T/loader.log"
}

# loader_stop: for a loader that runs until $T/stop exists and then writes $T/loader.done:
# ask it to stop and wait (up to 30 s) until it has.
loader_stop() {
    local deadline=$((SECONDS + 30))
    touch "$T/stop"
    until [ -e "$T/loader.done" ]; do
        [ "$SECONDS" -lt "$deadline" ] || fail "loader did not stop"
        sleep 0.1
    done
}

# bg CMD...: a background helper that cleanup stops.
bg() {
    "$@" &
    BG_PIDS+=($!)
}

# snapshot_under_writer SLOT N TIMEOUT WRITER...: runs WRITER... in the background (it stops
# when $T/stop_writer exists) and starts the agent, waits until SLOT is active and $EVENTS has
# N lines (TIMEOUT seconds), then stops the writer and waits for it.
snapshot_under_writer() {
    local slot=$1 n=$2 timeout=$3
    shift 3
    rm -f "$T/stop_writer"
    bg "$@"
    AGENT_NO_WAIT=1 agent_start
    wait_slot_active "$slot" 120
    wait_lines "$EVENTS" "$n" "$timeout"
    touch "$T/stop_writer"
    wait "${BG_PIDS[@]}" 2>/dev/null || true
    BG_PIDS=()
}

# ---------------------------------------------------------------- JSON lines

line_count() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }

# wait_lines FILE N TIMEOUT: until FILE has at least N complete lines.
wait_lines() {
    local file=$1 n=$2 timeout=$3 deadline
    deadline=$((SECONDS + timeout))
    while [ "$(line_count "$file")" -lt "$n" ]; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            fail "$(basename "$file") has $(line_count "$file") lines after ${timeout}s, expected >= $n"
        fi
        if [ -n "$AGENT_PID" ] && ! agent_alive; then
            local rc=0
            wait "$AGENT_PID" || rc=$?
            AGENT_PID=
            fail "agent exited (status $rc) while waiting for $n lines in $(basename "$file") (has $(line_count "$file"))"
        fi
        sleep 0.1
    done
}

# wait_grep FILE PATTERN TIMEOUT: until grep finds PATTERN (a basic regular expression) in FILE;
# fails after TIMEOUT seconds, or when the agent started by agent_start exits meanwhile.
wait_grep() {
    local file=$1 pattern=$2 deadline=$((SECONDS + $3))
    until grep -q -- "$pattern" "$file" 2>/dev/null; do
        [ "$SECONDS" -lt "$deadline" ] || fail "no \"$pattern\" in $(basename "$file") after $3 s"
        if [ -n "$AGENT_PID" ] && ! agent_alive; then
            fail "the agent exited while waiting for \"$pattern\" in $(basename "$file")"
        fi
        sleep 0.2
    done
}

# The Python side of the JSON checks (python3 is on every machine we run on; jq may not be).
# Within expressions: evs = list of parsed lines (tombstones included), ev = one event,
# data = rows without tombstones, get(obj, "a.b.c"), lsn("0/16B3748") -> int.
_JL_PY='
import json, sys
def get(o, path):
    for part in path.split("."):
        if part == "":
            continue
        if isinstance(o, list):
            o = o[int(part)]
        elif isinstance(o, dict):
            if part not in o:
                raise KeyError(path)
            o = o[part]
        else:
            raise KeyError(path)
    return o
def lsn(v):
    if isinstance(v, int):
        return v
    hi, lo = str(v).split("/")
    return (int(hi, 16) << 32) | int(lo, 16)
def show(v):
    return v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
def load(path):
    out = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except ValueError as e:
                    sys.exit("line %d of %s is not JSON (%s): %s" % (n, path, e, line[:200]))
    return out
'

# jl_field FILE LINE PATH: the value at PATH (dotted) of line LINE (1-based; -1 = last).
# Strings print bare, everything else as compact JSON (null, numbers, objects).
jl_field() {
    python3 -c "$_JL_PY
evs = load(sys.argv[1]); i = int(sys.argv[2])
ev = evs[i - 1 if i > 0 else i]
print(show(get(ev, sys.argv[3])))" "$1" "$2" "$3"
}

# jl_eval FILE EXPR: print show(EXPR) where evs/data are the file's events.
jl_eval() {
    python3 -c "$_JL_PY
evs = load(sys.argv[1])
data = [e for e in evs if e.get(\"value\") is not None]
print(show(eval(sys.argv[2])))" "$1" "$2"
}

# jl_check DESCRIPTION FILE EXPR: ok when the Python EXPR is true, else fail with it.
jl_check() {
    local desc=$1 out
    if out=$(jl_eval "$2" "bool($3)" 2>&1) && [ "$out" = true ]; then
        ok "$desc"
    else
        fail "$desc: ($3) is ${out:-false}"
    fi
}

# jl_replay FILE TABLE: "id:n ..." of TABLE's rows after applying FILE's events in order
# (r/c/u set the row, d removes it), for tables (id int key, n int): compare with
# psql_id_n TABLE.
jl_replay() {
    python3 - "$1" "$2" <<'PY'
import json, sys
rows = {}
for line in open(sys.argv[1]):
    v = json.loads(line).get("value")
    if v is None or v["source"]["table"] != sys.argv[2]:
        continue
    if v["op"] == "d":
        rows.pop(v["before"]["id"], None)
    else:
        rows[v["after"]["id"]] = v["after"]["n"]
print(" ".join("%d:%d" % kv for kv in sorted(rows.items())))
PY
}
psql_id_n() { sql "SELECT string_agg(id || ':' || n, ' ' ORDER BY id) FROM $1"; }

# jl_backwards FILE: the rows (table.id) whose counter n goes back from one event of FILE to
# the next, for tables (id int key, n int) that a writer only increments (a delete forgets
# the row); "" when none: no event shows an older row than one before it.
jl_backwards() {
    python3 - "$1" <<'PY'
import json, sys
last, bad = {}, []
for line in open(sys.argv[1]):
    v = json.loads(line).get("value")
    row = v and (v["after"] or v["before"])
    if not row or "id" not in row:
        continue
    k = (v["source"]["table"], row["id"])
    if v["op"] == "d":
        last.pop(k, None)
        continue
    if "n" not in v["after"]:
        continue
    if last.get(k, -1) > v["after"]["n"]:
        bad.append("%s.%s:%d<%d" % (k + (v["after"]["n"], last[k])))
    last[k] = v["after"]["n"]
print(" ".join(bad))
PY
}

# jl_ops FILE: the op of every data event (tombstones skipped), space separated.
jl_ops() { jl_eval "$1" '" ".join(get(e, "value.op") for e in data)'; }
