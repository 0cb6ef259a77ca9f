#!/usr/bin/env bash
# 835: tables by pattern (source.table_include_list / table_exclude_list / schema_include_list
# / schema_exclude_list, Debezium's table.include.list and the like): the tables the agent
# puts in the publication are compared with what psql's catalog gives for the same regexes
# (PostgreSQL's ~* anchored ^(...)$, an independent matcher: Debezium matches whole and
# case-insensitively), for an include list, a schema list with a table exclude list, and a
# schema exclude list; a partition is captured through its matching root; the captured
# events come from exactly those tables.  A restart with a publication that lacks a newly
# created matching table adds it (publication.autocreate.mode=filtered).  Refused: a pattern
# that matches nothing (at start, named); PostGIS's spatial_ref_sys is never chosen (Debezium's
# SystemTablesPredicate), an invalid regex, both lists of one kind, tables
# beside a pattern (at validate).
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_up
sql_su "CREATE SCHEMA sales AUTHORIZATION cdc_user" "CREATE SCHEMA archive AUTHORIZATION cdc_user" \
       "CREATE SCHEMA \"Mixed\" AUTHORIZATION cdc_user"
sql "CREATE TABLE customers (id int PRIMARY KEY, name text)" \
    "CREATE TABLE customers_eu (id int PRIMARY KEY, name text)" \
    "CREATE TABLE orders (id int PRIMARY KEY, amount int)" \
    "CREATE TABLE notes (id int PRIMARY KEY, body text)" \
    "CREATE TABLE sales.orders (id int PRIMARY KEY, amount int)" \
    "CREATE TABLE sales.items (id int PRIMARY KEY, sku text)" \
    "CREATE TABLE archive.old_orders (id int PRIMARY KEY, amount int)" \
    "CREATE TABLE \"Mixed\".\"Odd.Name\" (id int PRIMARY KEY)" \
    "CREATE TABLE archive.spatial_ref_sys (srid int PRIMARY KEY)" \
    "CREATE TABLE sales.events (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)" \
    "CREATE TABLE sales.events_2024 PARTITION OF sales.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')"
for t in customers customers_eu orders notes sales.orders sales.items archive.old_orders \
         '"Mixed"."Odd.Name"'; do
    sql "INSERT INTO $t (id) VALUES (1)"
done
sql "INSERT INTO sales.events VALUES (1, '2024-05-01')"

# psql's answer: the ordinary and partitioned tables outside PostgreSQL's schemas whose
# schema.table (or schema) the regexes match whole, case-insensitively; a partition whose
# root also matches is left out (the root captures its rows).  PostgreSQL 12 cannot publish a
# partitioned table: there its partitions are chosen instead.
catalog_tables() {  # WHERE condition on s (schema) and n (schema.table)
    local root_cond
    root_cond=$(echo "$1" | sed 's/\bs\b/r.s/g; s/\bn\b/r.n/g')
    sql_su "WITH t AS (SELECT c.oid, ns.nspname AS s, ns.nspname || '.' || c.relname AS n,
                              c.relispartition AS part, c.relkind = 'p' AS parted
                         FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
                        WHERE c.relkind IN ('r', 'p')
                          AND ns.nspname NOT IN ('pg_catalog', 'information_schema')
                          AND ns.nspname NOT LIKE 'pg\\_%' AND c.relname <> 'spatial_ref_sys'),
                 v AS (SELECT current_setting('server_version_num')::int < 130000 AS old)
            SELECT n FROM t, v
             WHERE CASE WHEN v.old
                   THEN NOT parted AND (($1) OR (part AND EXISTS (SELECT 1 FROM t r
                            WHERE r.oid = pg_partition_root(t.oid) AND ($root_cond))))
                   ELSE ($1) AND NOT (part AND EXISTS (SELECT 1 FROM t r
                            WHERE r.oid = pg_partition_root(t.oid) AND r.oid <> t.oid
                              AND ($root_cond)))
                   END
             ORDER BY 1"
}
pub_tables() {
    sql_su "SELECT schemaname || '.' || tablename FROM pg_publication_tables
             WHERE pubname = '$1' ORDER BY 1"
}
captured() {  # the tables of the events from line ${1:-1} on, sorted
    jl_eval "$EVENTS" '"\n".join(sorted({get(e, "value.source.schema") + "." +
                                         get(e, "value.source.table")
                                         for e in data['"$((${1:-1} - 1))"':]}))'
}

run_config() {  # NAME PUB SLOT SOURCE_EXTRA PSQL_CONDITION
    note "$1"
    EVENTS=$T/$3.jsonl
    P_NO_TABLES=1 P_PUB=$2 P_SLOT=$3 P_SOURCE_EXTRA=$4 write_pipeline
    cdc validate "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
    expect_eq "$1: validate accepts it" "$CDC_RC" 0
    expect_contains "$1: validate says the tables are chosen at start" "$(cat "$T/cdc.out")" \
        "tables by pattern: chosen at start"
    P_SLOT=$3 agent_start
    want=$(catalog_tables "$5")
    wait_lines "$EVENTS" "$(printf '%s\n' "$want" | wc -l)" 60
    sleep 1
    agent_stop
    expect_eq "$1: the publication's tables are psql's matches" "$(pub_tables "$2")" "$want"
    expect_eq "$1: the snapshot's events come from those tables" "$(captured)" "$want"
}

write_platform
run_config "include list" pub_inc slot_inc \
    'table_include_list: "public\\.CUST.*, sales\\..*, Mixed\\.odd\\.name"' \
    "n ~* '^(public\\.CUST.*)\$' OR n ~* '^(sales\\..*)\$' OR n ~* '^(Mixed\\.odd\\.name)\$'"
[ "${PG_MAJOR:-15}" -lt 13 ] ||
    expect_contains "include list: the chosen tables are logged" "$(cat "$T/agent.log")" \
        'tables chosen by pattern (6): Mixed.\"Odd.Name\", public.customers, public.customers_eu, sales.events, sales.items, sales.orders'
run_config "schema include list with a table exclude list" pub_sx slot_sx \
    "$(printf '%s\n%s' 'schema_include_list: "sales|archive"' 'table_exclude_list: "sales\\.items"')" \
    "s ~* '^(sales|archive)\$' AND NOT n ~* '^(sales\\.items)\$'"
run_config "schema exclude list" pub_se slot_se 'schema_exclude_list: "public, sales"' \
    "NOT s ~* '^(public)\$' AND NOT s ~* '^(sales)\$'"

note "a restart: a new matching table joins the existing publication"
sql "CREATE TABLE customers_us (id int PRIMARY KEY, name text)"
EVENTS=$T/slot_inc.jsonl
P_NO_TABLES=1 P_PUB=pub_inc P_SLOT=slot_inc \
    P_SOURCE_EXTRA='table_include_list: "public\\.CUST.*, sales\\..*, Mixed\\.odd\\.name"' \
    write_pipeline
P_SLOT=slot_inc agent_start
sql "INSERT INTO customers_us VALUES (7, 'new')" "INSERT INTO notes VALUES (7, 'not matched')"
wait_lines "$EVENTS" 7 60
sleep 1
agent_stop
expect_eq "restart: the publication gained customers_us" \
    "$(pub_tables pub_inc)" \
    "$(catalog_tables "n ~* '^(public\\.CUST.*)\$' OR n ~* '^(sales\\..*)\$' OR n ~* '^(Mixed\\.odd\\.name)\$'")"
expect_eq "restart: its insert is captured, notes' is not" "$(captured 7)" "public.customers_us"
expect_contains "restart: the addition is logged" "$(cat "$T/agent.log")" \
    "publication pub_inc: added table public.customers_us (chosen by pattern)"

note "refusals"
P_NO_TABLES=1 P_PUB=pub_bad P_SLOT=slot_bad \
    P_SOURCE_EXTRA='table_include_list: "public\\.customers, public\\.nosuch"' write_pipeline
P_SLOT=slot_bad agent_start_refused "a pattern that matches nothing" \
    'source.table_include_list: "public\.nosuch" matches no table of database cdc_demo'
expect_eq "no slot was created" "$(slot_field slot_bad slot_name)" ""
P_NO_TABLES=1 P_SOURCE_EXTRA='schema_include_list: "nosuchschema"' write_pipeline
P_SLOT=slot_bad agent_start_refused "a schema pattern that matches nothing" \
    'source.schema_include_list: "nosuchschema" matches no table'
P_NO_TABLES=1 P_SOURCE_EXTRA='table_include_list: "public\\.(cust"' write_pipeline
cdc validate "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "an invalid regex fails validate" "$CDC_RC" 2
expect_contains "the invalid regex is named" "$(cat "$T/cdc.err")" \
    'source.table_include_list: the regular expression "public\.(cust" is invalid'
P_NO_TABLES=1 P_SOURCE_EXTRA="$(printf '%s\n%s' 'table_include_list: "a\\.b"' \
    'table_exclude_list: "c\\.d"')" write_pipeline
cdc validate "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "both table lists fail validate" "$CDC_RC" 2
expect_contains "both table lists: the message" "$(cat "$T/cdc.err")" \
    "source.table_exclude_list"
P_TABLES=public.customers P_SOURCE_EXTRA='schema_include_list: "sales"' write_pipeline
cdc validate "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "tables beside a pattern fail validate" "$CDC_RC" 2
expect_contains "tables beside a pattern: the message" "$(cat "$T/cdc.err")" \
    "cannot be set with source.schema_include_list"

done_testing
