#!/usr/bin/env bash
# 400: the agent's connections to PostgreSQL over TLS (source.sslmode, sslrootcert, sslcert,
# sslkey, handed to libpq).  The server runs with ssl=on and a certificate from a CA made
# for this test (test/lib/tls.sh); pg_hba.conf lets cdc_user in only over SSL with a client
# certificate whose CN is the role name (hostssl ... clientcert=verify-full) and rejects it
# without SSL.  With sslmode verify-full, the CA and the client certificate the agent
# streams inserts, updates and deletes, and the server sees its walsender on TLS with that
# certificate.  A wrong CA, no client certificate, a client certificate from another CA, and
# sslmode disable each stop `cdcagent run` with status 1 and a message naming the source and
# the reason.  Finally the server presents a certificate for another host name:
# verify-full refuses it, verify-ca accepts it and streaming resumes with nothing lost.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"
. "$CDC_SRC/test/lib/tls.sh"
need_agent

C=$T/tls
tls_make "$C" || fail "tls_make (openssl)"
# The server's copies: pg_start gives everything under $PGDIR to the server's OS user.
mkdir -p "$PGDIR/tls"
cp "$C/server.pem" "$C/server.key" "$C/otherhost.pem" "$C/otherhost.key" "$C/ca.pem" "$PGDIR/tls/"
chmod 600 "$PGDIR/tls/"*.key
PG_EXTRA_CONF="ssl = on
ssl_cert_file = '$PGDIR/tls/server.pem'
ssl_key_file = '$PGDIR/tls/server.key'
ssl_ca_file = '$PGDIR/tls/ca.pem'"
PG_EXTRA_HBA="hostssl   all          cdc_user  127.0.0.1/32  scram-sha-256  clientcert=verify-full
hostssl   replication  cdc_user  127.0.0.1/32  scram-sha-256  clientcert=verify-full
hostnossl all          cdc_user  127.0.0.1/32  reject
hostnossl replication  cdc_user  127.0.0.1/32  reject"
pg_up
ok "PostgreSQL with ssl=on; cdc_user only over SSL with a client certificate"

# cdc_user's own psql needs the certificate too (only here: the agent must not see these).
sql() {
    PGSSLMODE=verify-full PGSSLROOTCERT=$C/ca.pem PGSSLCERT=$C/client.pem PGSSLKEY=$C/client.key \
        pg_psql_user "$PORT" cdc_demo "$@"
}
sql "CREATE TABLE customers (id int PRIMARY KEY, name text)"

# tls_pipeline LINES: the pipeline with these source: lines (sslmode and friends).
tls_pipeline() { P_TABLES=public.customers P_SNAPSHOT=never P_SOURCE_EXTRA=$1 write_pipeline; }
GOOD="sslmode: verify-full
sslrootcert: $C/ca.pem
sslcert: $C/client.pem
sslkey: $C/client.key"

note "verify-full with the CA and a client certificate"
tls_pipeline "$GOOD"
write_platform
agent_start
sql "INSERT INTO customers VALUES (1, 'a'), (2, 'b')" "UPDATE customers SET name = 'c' WHERE id = 1" \
    "DELETE FROM customers WHERE id = 2"
wait_lines "$EVENTS" 5 30
expect_eq "c c u d (and the delete's tombstone) streamed over TLS" "$(jl_ops "$EVENTS")" "c c u d"
jl_check "the values came through" "$EVENTS" \
    '[get(e, "value.after.name") for e in data[:3]] == ["a", "b", "c"] and get(data[3], "value.before.id") == 2'
WS=$(sql_su "SELECT s.ssl, s.version LIKE 'TLSv1.%', s.client_dn FROM pg_stat_ssl s
             JOIN pg_stat_activity a USING (pid)
             WHERE a.usename = 'cdc_user' AND a.backend_type = 'walsender'")
expect_eq "the walsender is on TLS with the client certificate (pg_stat_ssl)" \
    "$WS" "t|t|/O=cdcagent tests/CN=cdc_user"
agent_stop
CONFIRMED=$(slot_field cdc_slot confirmed_flush_lsn)

# run_refused WHAT: cdcagent run in the foreground must fail; its stderr in $T/refused.err.
run_refused() {
    local rc=0
    timeout 60 "$CDCAGENT" run "$T/pipeline.yaml" --platform-config "$T/platform.yaml" \
        >"$T/refused.out" 2>"$T/refused.err" || rc=$?
    cat "$T/refused.err" >>"$T/agent.log"
    expect_eq "$1: cdcagent run exits with status 1" "$rc" 1
    REFUSED=$(cat "$T/refused.err")
    expect_contains "$1: the message names the source" "$REFUSED" \
        "cannot connect to PostgreSQL at 127.0.0.1:$PORT database cdc_demo as cdc_user"
}

note "refused connections"
sql "INSERT INTO customers VALUES (3, 'while refused')"
tls_pipeline "sslmode: verify-full
sslrootcert: $C/wrong-ca.pem
sslcert: $C/client.pem
sslkey: $C/client.key"
run_refused "wrong CA"
expect_contains "wrong CA: the reason is the server certificate" "$REFUSED" "certificate verify failed"

tls_pipeline "sslmode: verify-full
sslrootcert: $C/ca.pem"
run_refused "no client certificate"
expect_contains "no client certificate: the server asks for one" "$REFUSED" \
    "connection requires a valid client certificate"

tls_pipeline "sslmode: verify-full
sslrootcert: $C/ca.pem
sslcert: $C/wrong-client.pem
sslkey: $C/wrong-client.key"
run_refused "client certificate from another CA"
expect_contains "client certificate from another CA: the server rejects it" "$REFUSED" "unknown ca"

tls_pipeline "sslmode: disable"
run_refused "sslmode disable"
expect_contains "sslmode disable: pg_hba.conf rejects a connection without encryption" "$REFUSED" \
    'pg_hba.conf rejects connection for host "127.0.0.1", user "cdc_user", database "cdc_demo", no encryption'
expect_eq "nothing was confirmed while refused" "$(slot_field cdc_slot confirmed_flush_lsn)" "$CONFIRMED"
expect_eq "no events while refused" "$(line_count "$EVENTS")" 5

note "the server presents a certificate for db.invalid"
sql_su "ALTER SYSTEM SET ssl_cert_file = '$PGDIR/tls/otherhost.pem'" \
       "ALTER SYSTEM SET ssl_key_file = '$PGDIR/tls/otherhost.key'" "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 50); do
    [ "$(sql_su "SHOW ssl_cert_file")" = "$PGDIR/tls/otherhost.pem" ] && break
    sleep 0.1
done
tls_pipeline "$GOOD"
run_refused "host name mismatch, verify-full"
expect_contains "verify-full: the host name check fails" "$REFUSED" 'server certificate for "db.invalid"'
expect_contains "verify-full: ... against the host connected to" "$REFUSED" 'does not match host name "127.0.0.1"'
tls_pipeline "sslmode: verify-ca
sslrootcert: $C/ca.pem
sslcert: $C/client.pem
sslkey: $C/client.key"
agent_start
sql_su "INSERT INTO customers VALUES (4, 'after')"
wait_lines "$EVENTS" 7 30
agent_stop
jl_check "verify-ca accepts it (the CA signed it): the row written while refused, then the new one" \
    "$EVENTS" '[(get(e, "value.op"), get(e, "value.after.id")) for e in data[4:]] == [("c", 3), ("c", 4)]'
done_testing
