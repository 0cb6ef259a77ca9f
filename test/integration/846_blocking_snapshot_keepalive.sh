#!/usr/bin/env bash
# 846: a blocking snapshot that takes longer than wal_sender_timeout.  Streaming pauses while
# the rows are read, but the replication connection stays open, and the walsender ends it
# when it hears nothing for wal_sender_timeout.  The read must keep answering it (the
# snapshot's progress tick services the connection about once a second), so the agent never
# reconnects.  Here wal_sender_timeout is 3 s and the read takes about 6 s: each row of the
# table passes a condition that sleeps 1 ms.  Checked: every row once as op r, the change
# after the snapshot streamed, no reconnect in the agent's log and no replication timeout in
# the server's.  Before the fix, the agent reconnected once or twice during the read.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

N=6000
pg_up
sql "CREATE TABLE s (id int PRIMARY KEY, v text)" \
    "INSERT INTO s SELECT g, 'v' || g FROM generate_series(1, $N) g" \
    "CREATE TABLE dbz_signal (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))" \
    "CREATE FUNCTION slow_true() RETURNS bool LANGUAGE plpgsql VOLATILE AS \$\$ BEGIN PERFORM pg_sleep(0.001); RETURN true; END \$\$"
sql_su "ALTER SYSTEM SET wal_sender_timeout = '3s'" >/dev/null
sql_su "SELECT pg_reload_conf()" >/dev/null
P_TABLES=public.s P_SNAPSHOT=never P_SOURCE_EXTRA="signal_data_collection: public.dbz_signal" \
    write_pipeline
write_platform
agent_start
sql "INSERT INTO dbz_signal VALUES ('blk-slow', 'execute-snapshot', '{\"data-collections\": [\"public.s\"], \"type\": \"blocking\", \"additional-conditions\": [{\"data-collection\": \"public.s\", \"filter\": \"slow_true()\"}]}')"
wait_grep "$T/agent.log" 'blocking snapshot done; streaming resumes' 120
sql "INSERT INTO s VALUES ($((N + 1)), 'after')"
wait_grep "$EVENTS" "\"id\":$((N + 1))" 30
agent_stop

jl_check "every row once as op r" "$EVENTS" \
    "sorted(e['key']['id'] for e in data if get(e, 'value.op') == 'r') == list(range(1, $N + 1))"
jl_check "the insert after the snapshot streamed once" "$EVENTS" \
    "[e['key']['id'] for e in data if get(e, 'value.op') == 'c'] == [$((N + 1))]"
check "the read took longer than wal_sender_timeout (else this test proves nothing)" \
    python3 - "$T/agent.log" <<'PY'
import json, sys, datetime
ts = {}
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    m = e.get("msg", "")
    t = datetime.datetime.fromisoformat(e["ts"].replace("Z", "+00:00"))
    if "blocking snapshot of" in m and "start" not in ts:
        ts["start"] = t
    if "blocking snapshot done" in m:
        ts["end"] = t
sys.exit(0 if (ts["end"] - ts["start"]).total_seconds() > 3.5 else 1)
PY
expect_eq "no reconnect during the read" "$(grep -c 'reconnecting in' "$T/agent.log" || true)" 0
expect_eq "no replication timeout on the server" \
    "$(grep -c 'terminating walsender process due to replication timeout' "$PGDIR/log/postgresql.log" || true)" 0
done_testing
