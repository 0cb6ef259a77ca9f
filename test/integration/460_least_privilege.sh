#!/usr/bin/env bash
# 460: least privilege.  The superuser creates the tables (it owns them) and, when asked,
# the publication; the agent runs as cdc_min: LOGIN REPLICATION, SELECT on the captured
# tables, nothing else (not superuser, not an owner, no CREATE on the database or the
# schema; the test asserts these facts against the catalog first).
#   - publication missing: `run` exits 2 before creating a slot, saying cdc_min cannot
#     create it and which statement the owner must run; that statement, run verbatim by the
#     superuser, is what makes the next start work.
#   - a configured table without SELECT, and one whose schema lacks USAGE: exit 2 before
#     any slot, naming the table and the missing privilege; the GRANT it prints is valid.
#   - with the publication in place: snapshot (op r) then streaming (c, u, d) as cdc_min;
#     `slot status` and `slot status --json` with cdc_min's credentials, while it streams
#     (client_addr is visible: a role sees its own walsender) and after it stopped;
#     `slot drop --yes` as cdc_min.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

# A WAL cap, so that slot status has nothing to warn about and must exit 0.
PG_EXTRA_CONF="max_slot_wal_keep_size = 1GB" pg_up
MIN_PW=cdc_min_pw
sql_su "CREATE TABLE customers (id int PRIMARY KEY, name text)" \
       "CREATE TABLE orders (id int PRIMARY KEY, customer_id int, amount numeric(10,2))" \
       "CREATE TABLE secret_t (id int PRIMARY KEY, v text)" \
       "CREATE SCHEMA hidden" \
       "CREATE TABLE hidden.t1 (id int PRIMARY KEY)" \
       "INSERT INTO customers SELECT i, 'c' || i FROM generate_series(1, 5) i" \
       "INSERT INTO orders SELECT i, i, i * 1.5 FROM generate_series(1, 3) i" \
       "CREATE ROLE cdc_min WITH LOGIN REPLICATION PASSWORD '$MIN_PW'" \
       "GRANT SELECT ON public.customers, public.orders, hidden.t1 TO cdc_min" \
       "CREATE PUBLICATION pub_secret FOR TABLE public.customers, public.secret_t" \
       "CREATE PUBLICATION pub_hidden FOR TABLE hidden.t1"

# What cdc_min may do, from the catalog: exactly the least the docs promise.
expect_eq "cdc_min: login, replication, not superuser, cannot create roles or databases" \
    "$(sql_su "SELECT rolcanlogin, rolreplication, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = 'cdc_min'")" \
    "t|t|f|f|f"
expect_eq "cdc_min: no CREATE on database cdc_demo nor on schema public; owns nothing" \
    "$(sql_su "SELECT has_database_privilege('cdc_min', 'cdc_demo', 'CREATE'),
                      has_schema_privilege('cdc_min', 'public', 'CREATE'),
                      (SELECT count(*) FROM pg_class WHERE relowner = 'cdc_min'::regrole)")" \
    "f|f|0"
expect_eq "cdc_min: SELECT on customers and orders only; not on secret_t" \
    "$(sql_su "SELECT has_table_privilege('cdc_min', 'public.customers', 'SELECT'),
                      has_table_privilege('cdc_min', 'public.orders', 'SELECT'),
                      has_table_privilege('cdc_min', 'public.secret_t', 'SELECT'),
                      has_table_privilege('cdc_min', 'public.customers', 'INSERT')")" \
    "t|t|f|f"

# min_pipeline PUB TABLES: $T/pipeline.yaml with cdc_min's credentials.
min_pipeline() {
    P_PUB=$1 P_TABLES=$2 write_pipeline
    sed -i "s/^  username: cdc_user\$/  username: cdc_min/; s/^  password: cdc_password\$/  password: $MIN_PW/" \
        "$T/pipeline.yaml"
    grep -q '^  username: cdc_min$' "$T/pipeline.yaml" || fail "pipeline.yaml: username not replaced"
}
write_platform
ARGS=("$T/pipeline.yaml" --platform-config "$T/platform.yaml")
nslots() { sql_su "SELECT count(*) FROM pg_replication_slots"; }

# ---------------------------------------------------------------- no SELECT, no USAGE
min_pipeline pub_secret "public.customers, public.secret_t"
cdc run "${ARGS[@]}"
msg=$(cat "$T/cdc.err")
note "no SELECT: $msg"
expect_eq "table without SELECT: run exits 2" "$CDC_RC" 2
expect_contains "the message names the table, the role and the privilege" "$msg" \
    "table public.secret_t: role cdc_min lacks the SELECT privilege"
expect_eq "no slot was created" "$(nslots)" 0
grant=$(printf '%s\n' "$msg" | sed -n 's/.*run: \(GRANT SELECT ON [^;]*\);.*/\1/p')
expect_eq "it prints the GRANT to run" "$grant" 'GRANT SELECT ON "public"."secret_t" TO cdc_min'
sql_su "BEGIN" "$grant" "ROLLBACK"      # valid SQL, as printed
ok "the printed GRANT is valid SQL"

sql_su "REVOKE USAGE ON SCHEMA hidden FROM PUBLIC"
min_pipeline pub_hidden "hidden.t1"
cdc run "${ARGS[@]}"
msg=$(cat "$T/cdc.err")
note "no USAGE: $msg"
expect_eq "schema without USAGE: run exits 2" "$CDC_RC" 2
expect_contains "the message names the table and the schema privilege" "$msg" \
    "table hidden.t1: role cdc_min lacks the USAGE privilege on schema hidden"
expect_eq "no slot was created" "$(nslots)" 0

# ---------------------------------------------------------------- no publication
min_pipeline pub_min "public.customers, public.orders"
cdc run "${ARGS[@]}"
msg=$(cat "$T/cdc.err")
note "no publication: $msg"
expect_eq "publication missing, role may not create it: run exits 2" "$CDC_RC" 2
expect_contains "the message says the role cannot create it" "$msg" \
    "publication pub_min does not exist and role cdc_min cannot create it"
expect_eq "no slot was created, no publication either" "$(nslots) $(sql_su "SELECT count(*) FROM pg_publication WHERE pubname = 'pub_min'")" "0 0"
create=$(printf '%s\n' "$msg" | sed -n 's/.*owner run: \(CREATE PUBLICATION [^;]*\);.*/\1/p')
expect_eq "it prints the CREATE PUBLICATION for the owner" "$create" \
    'CREATE PUBLICATION "pub_min" FOR TABLE "public"."customers", "public"."orders"'
# The owner runs exactly that.
sql_su "$create"
expect_eq "the owner's publication publishes both tables" \
    "$(sql_su "SELECT string_agg(schemaname || '.' || tablename, ',' ORDER BY tablename) FROM pg_publication_tables WHERE pubname = 'pub_min'")" \
    "public.customers,public.orders"

# ---------------------------------------------------------------- snapshot and streaming
agent_start
wait_lines "$EVENTS" 8 60
sql_su "INSERT INTO customers VALUES (6, 'c6')" \
       "UPDATE orders SET amount = 9.25 WHERE id = 2" \
       "DELETE FROM customers WHERE id = 1"
wait_lines "$EVENTS" 11 30
jl_check "8 snapshot rows (5 customers, 3 orders), then c, u, d" "$EVENTS" \
    '[get(e, "value.op") for e in data] == ["r"] * 8 + ["c", "u", "d"]'
jl_check "snapshot keys: customers 1..5, orders 1..3" "$EVENTS" \
    'sorted((get(e, "value.source.table"), e["key"]["id"]) for e in data[:8]) == [("customers", i) for i in range(1, 6)] + [("orders", i) for i in range(1, 4)]'
jl_check "streamed changes: customers 6 created, orders 2 updated, customers 1 deleted" "$EVENTS" \
    '[(get(e, "value.source.table"), e["key"]["id"]) for e in data[8:]] == [("customers", 6), ("orders", 2), ("customers", 1)]'
expect_eq "the slot belongs to cdc_demo and streams to cdc_min" \
    "$(sql_su "SELECT s.database || ' ' || r.usename FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid WHERE s.slot_name = 'cdc_slot'")" \
    "cdc_demo cdc_min"

# ---------------------------------------------------------------- slot status as cdc_min
cdc slot status "${ARGS[@]}" --rate-window 0
note "slot status: $(head -c 600 "$T/cdc.out" | tr '\n' '|') stderr: $(head -c 300 "$T/cdc.err")"
expect_eq "slot status as cdc_min exits 0 ($(head -c 300 "$T/cdc.err"))" "$CDC_RC" 0
expect_contains "slot status as cdc_min shows the client address" "$(cat "$T/cdc.out")" "127.0.0.1"
cdc slot status "${ARGS[@]}" --json --rate-window 0
expect_eq "slot status --json as cdc_min exits 0 ($(head -c 300 "$T/cdc.err"))" "$CDC_RC" 0
cp "$T/cdc.out" "$T/status.json"
want=$(sql_su "SELECT json_build_object('slot_name', slot_name, 'active', active, 'active_pid', active_pid)
                 FROM pg_replication_slots WHERE slot_name = 'cdc_slot'")
python3 - "$T/status.json" "$want" <<'PY' || fail "slot status --json as cdc_min disagrees with the server"
import json, sys
st = json.load(open(sys.argv[1]))
want = json.loads(sys.argv[2])
for k, v in want.items():
    assert st[k] == v, (k, st[k], v)
# A role sees its own walsender in pg_stat_replication: no pg_read_all_stats needed.
assert st["client_addr"] == "127.0.0.1", st["client_addr"]
pub = st["publication"]
assert pub["name"] == "pub_min" and pub["exists"] is True, pub
assert sorted(t["table"] for t in pub["tables"]) == ["public.customers", "public.orders"], pub
PY
ok "slot status --json as cdc_min: slot, active pid, client_addr 127.0.0.1 and the publication's tables"

agent_stop
cdc slot status "${ARGS[@]}" --json --rate-window 0
expect_eq "slot status --json as cdc_min with the agent stopped exits 0 ($(head -c 300 "$T/cdc.err"))" "$CDC_RC" 0
python3 -c 'import json, sys; st = json.load(open(sys.argv[1])); sys.exit(not (st["active"] is False and st["client_addr"] is None))' \
    "$T/cdc.out" || fail "stopped: slot status --json should show active false, client_addr null: $(cat "$T/cdc.out")"
ok "stopped: active false, client_addr null"

# ---------------------------------------------------------------- restart, then drop
agent_start
sql_su "INSERT INTO orders VALUES (4, 4, 4)"
wait_lines "$EVENTS" 13 30       # 11 changes and the delete's tombstone were there
jl_check "after a restart as cdc_min: orders 4 arrives once" "$EVENTS" \
    '[(get(e, "value.op"), e["key"]["id"]) for e in data[11:]] == [("c", 4)]'
agent_stop
cdc slot drop "${ARGS[@]}" --yes
expect_eq "slot drop --yes as cdc_min exits 0 ($(head -c 300 "$T/cdc.err"))" "$CDC_RC" 0
expect_eq "the slot is gone" "$(nslots)" 0

done_testing
