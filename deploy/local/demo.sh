#!/usr/bin/env bash
# The demo:  bash deploy/local/demo.sh
#
# Installs what is missing, builds cdcagent, starts a throwaway PostgreSQL 15 under
# .cache/demo/pg on port ${CDC_DEMO_PORT:-5499}, creates cdc_demo with customers and
# orders, runs cdcagent (deploy/local/pipeline.yaml + platform.yaml: transport_mode
# direct, JSON lines to stdout) and makes a few changes a couple of seconds apart, so you
# see them arrive.  Then it stops the agent with SIGTERM and removes everything it started.
# CDC_DEMO_RAW=1 prints the JSON lines as they are instead of a summary per change;
# CDCAGENT=/path/to/cdcagent uses that binary instead of building one; CDC_DEMO_WORK=DIR
# keeps the demo's files (removed at the end) in DIR instead of .cache/demo.
# Decimals print as text ("12.50"): the demo's pipeline sets decimal_handling_mode: string;
# the default, precise, writes Debezium's base64 bytes ("BOI=").
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=SCRIPTDIR/../../test/lib/pg.sh
. "$ROOT/test/lib/pg.sh"

export CDC_DEMO_PORT=${CDC_DEMO_PORT:-5499}
PAUSE=${CDC_DEMO_PAUSE:-2}
WORK=${CDC_DEMO_WORK:-$ROOT/.cache/demo}
PGD=$WORK/pg
AGENT_PID=
PRINTER_PID=

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    if [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
        kill -TERM "$AGENT_PID" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$AGENT_PID" 2>/dev/null
    fi
    [ -n "$PRINTER_PID" ] && kill "$PRINTER_PID" 2>/dev/null
    wait 2>/dev/null
    pg_cleanup "$PGD"
    rm -rf "$WORK"
    rmdir "$ROOT/.cache" 2>/dev/null
    [ "$PGD" = "$WORK/pg" ] || rm -rf "$(dirname "$PGD")"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "dependencies"
deploy/local/deps.sh

if [ -n "${CDCAGENT:-}" ]; then
    BIN=$CDCAGENT                    # a binary built elsewhere
else
    say "build"
    cmake -S . -B build -G Ninja >/dev/null
    ninja -C build cdcagent
    BIN=$ROOT/build/cdcagent
fi

say "PostgreSQL 15 on 127.0.0.1:$CDC_DEMO_PORT"
rm -rf "$WORK"
mkdir -p "$WORK"
chmod 755 "$WORK"
case $WORK in "$ROOT/.cache/"*) chmod 755 "$ROOT/.cache" ;; esac
# The server runs as an unprivileged user; when this checkout is somewhere it cannot
# reach (a home directory of mode 700, say), keep the server's files in /tmp instead.
if ! pg_as_user test -x "$WORK"; then
    PGD=$(mktemp -d /tmp/cdcagent-demo.XXXXXX)/pg
    chmod 755 "$(dirname "$PGD")"
    echo "($WORK is not reachable by user '$(pg_os_user)'; the server lives in $PGD)"
fi
if (exec 3<>"/dev/tcp/127.0.0.1/$CDC_DEMO_PORT") 2>/dev/null; then
    echo "port $CDC_DEMO_PORT is in use; choose another with CDC_DEMO_PORT=..." >&2
    exit 1
fi
pg_start "$PGD" "$CDC_DEMO_PORT"
sqlu() {
    echo "  SQL> $*"
    pg_psql_user "$CDC_DEMO_PORT" cdc_demo "$@"
}
pg_psql_user "$CDC_DEMO_PORT" cdc_demo \
    "CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email varchar(255),
                             balance numeric(10,2), created_at timestamptz DEFAULT now())" \
    "CREATE TABLE orders (id serial PRIMARY KEY, customer_id int REFERENCES customers (id),
                          amount numeric(10,2), status text NOT NULL DEFAULT 'new')" \
    "INSERT INTO customers (name, email, balance)
     VALUES ('Alice', 'alice@example.com', 12.50), ('Bob', 'bob@example.com', 100.00)"
echo "created customers and orders in cdc_demo, with two customers already there"

say "cdcagent run deploy/local/pipeline.yaml --platform-config deploy/local/platform.yaml"
mkfifo "$WORK/events"
# One line per change: op, table, key, after (CDC_DEMO_RAW=1: the JSON as it is).
python3 -u -c '
import json, sys, os
raw = os.environ.get("CDC_DEMO_RAW") == "1"
names = {"r": "snapshot", "c": "insert", "u": "update", "d": "delete", "t": "truncate"}
for line in sys.stdin:
    if raw:
        print(line, end="")
        continue
    try:
        e = json.loads(line)
    except ValueError:
        print("  (not JSON) " + line, end="")
        continue
    v = e.get("value")
    if v is None:
        print("  %-9s key=%s" % ("tombstone", json.dumps(e.get("key"))))
        continue
    src = v.get("source") or {}
    print("  %-9s %-16s key=%-10s after=%s" % (
        names.get(v.get("op"), v.get("op")), src.get("schema", "") + "." + src.get("table", ""),
        json.dumps(e.get("key")), json.dumps(v.get("after"))))
' <"$WORK/events" &
PRINTER_PID=$!
"$BIN" run deploy/local/pipeline.yaml --platform-config deploy/local/platform.yaml \
    >"$WORK/events" 2>"$WORK/agent.log" &
AGENT_PID=$!

agent_failed() {
    echo "cdcagent stopped unexpectedly; its log ($WORK/agent.log):" >&2
    tail -n 30 "$WORK/agent.log" >&2
    exit 1
}
for _ in $(seq 300); do
    kill -0 "$AGENT_PID" 2>/dev/null || agent_failed
    active=$(pg_psql "$CDC_DEMO_PORT" cdc_demo \
        "SELECT active FROM pg_replication_slots WHERE slot_name = 'cdc_demo_slot'")
    [ "$active" = t ] && break
    sleep 0.1
done
[ "$active" = t ] || { echo "cdcagent did not start streaming within 30 s" >&2; agent_failed; }
echo "(streaming from slot cdc_demo_slot; the two existing customers came from the snapshot;"
echo " decimals are shown as text by decimal_handling_mode: string in deploy/local/pipeline.yaml)"

say "changes, ${PAUSE}s apart"
steps=(
    "INSERT INTO customers (name, email, balance) VALUES ('Carol', 'carol@example.com', 7.25)"
    "INSERT INTO orders (customer_id, amount) VALUES (3, 19.99), (1, 5.00)"
    "UPDATE customers SET balance = balance + 10, email = 'alice@new.example.com' WHERE name = 'Alice'"
    "UPDATE orders SET status = 'shipped' WHERE id = 1"
    "DELETE FROM orders WHERE id = 2"
    "DELETE FROM customers WHERE name = 'Bob'"
)
for s in "${steps[@]}"; do
    sleep "$PAUSE"
    kill -0 "$AGENT_PID" 2>/dev/null || agent_failed
    sqlu "$s"
done
sleep "$PAUSE"

say "stopping cdcagent (SIGTERM)"
kill -TERM "$AGENT_PID"
rc=0
wait "$AGENT_PID" || rc=$?
AGENT_PID=
wait "$PRINTER_PID" 2>/dev/null || true
PRINTER_PID=
echo "cdcagent exited with status $rc"
pg_psql "$CDC_DEMO_PORT" cdc_demo \
    "SELECT 'slot ' || slot_name || ': confirmed_flush_lsn ' || confirmed_flush_lsn
       || ', current ' || pg_current_wal_lsn() FROM pg_replication_slots"
say "done; removing the demo database"
exit "$rc"
