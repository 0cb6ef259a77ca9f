#!/usr/bin/env bash
# 839: bad filter settings (issue 24) refused the same way by `cdcagent validate --connect` and
# at `cdcagent run` start: exit 2, a message naming the key and the table, and nothing created
# (no publication, no slot).  The cases: a table pattern that matches nothing, a column regex
# that matches no column (a misspelt column), a row filter with a mutable function (PostgreSQL's
# own refusal), a row filter on a column outside the replica identity, a mask on a key column
# (Debezium sends keys unmasked: TableSchemaBuilder builds the key without column mappers) and
# an excluded key column (Debezium would keep it in the key only).  Plain `validate` (no
# database) accepts each of them, and `validate --connect` accepts a good configuration.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_up
sql "CREATE TABLE customers (id int PRIMARY KEY, name text, email text)" \
    "CREATE TABLE orders (id int PRIMARY KEY, region text, amount int)"
write_platform
nothing_made() {
    expect_eq "$1: no publication and no slot were made" \
        "$(sql_su "SELECT (SELECT count(*) FROM pg_publication) + (SELECT count(*) FROM pg_replication_slots)")" 0
}

# bad NAME SOURCE_EXTRA MESSAGE [P_NO_TABLES]
bad() {
    P_NO_TABLES=${4:-0} P_SOURCE_EXTRA=$2 write_pipeline
    cdc validate "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
    expect_eq "$1: plain validate (no database) accepts it" "$CDC_RC" 0
    cdc validate "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --connect
    expect_eq "$1: validate --connect exits 2" "$CDC_RC" 2
    expect_contains "$1: validate --connect names the key and the table" "$(cat "$T/cdc.err")" "$3"
    : >"$T/agent.log"
    agent_start_refused "$1: run" "$3"
    nothing_made "$1"
}

bad "a pattern that matches nothing" 'table_include_list: "public\\.customers, public\\.custmers"' \
    'source.table_include_list: "public\.custmers" matches no table of database cdc_demo' 1
bad "a column that does not exist" 'column_exclude_list: "public\\.customers\\.emial"' \
    'source.column_exclude_list: "public\.customers\.emial" matches no column of the captured tables'
bad "a row filter with a mutable function" 'row_filters:
  public.orders: "amount > random()"' \
    'source.row_filters: PostgreSQL refused the publication cdc_publication with the row filters (public.orders: amount > random())'
expect_contains "  PostgreSQL's reason is given" "$(cat "$T/cdc.err")" \
    "User-defined or built-in mutable functions are not allowed"
bad "a row filter outside the replica identity" "row_filters:
  public.orders: \"region = 'eu'\"" \
    "source.row_filters: the row filter of table public.orders uses column region, which is not in the table's replica identity"
bad "a mask on a key column" 'column_masks:
  column.mask.with.3.chars: "public\\.customers\\.(id|name)"' \
    'source.column_masks: column.mask.with.3.chars matches column id of table public.customers, which is in the message key'
bad "an excluded key column" 'column_exclude_list: "public\\.orders\\.(id|amount)"' \
    'source.column_exclude_list leaves out column id of table public.orders, which is in the message key'

note "a good configuration"
P_SOURCE_EXTRA='column_exclude_list: "public\\.customers\\.email"
row_filters:
  public.orders: "id > 10"' write_pipeline
cdc validate "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --connect
expect_eq "validate --connect accepts it" "$CDC_RC" 0
expect_contains "and says it checked the source" "$(cat "$T/cdc.out")" "2 tables; checked against the source"
nothing_made "validate --connect on a good configuration"
agent_start
agent_stop
expect_eq "run makes the publication validate tried" \
    "$(sql_su "SELECT string_agg(tablename || coalesce(' ' || rowfilter, ''), ', ' ORDER BY tablename)
               FROM pg_publication_tables WHERE pubname = 'cdc_publication'")" \
    "customers, orders (id > 10)"
P_SOURCE_EXTRA='row_filters:
  public.orders: "id > 10"
  public.customers: "id > 5"' write_pipeline
cdc validate "$T/pipeline.yaml" --platform-config "$T/platform.yaml" --connect
expect_eq "the existing publication without customers' new filter is refused (it is never altered)" \
    "$CDC_RC" 2
expect_contains "  naming the key, the table and what to run" "$(cat "$T/cdc.err")" \
    "source.row_filters: publication cdc_publication exists and publishes table public.customers without a row filter"

done_testing
