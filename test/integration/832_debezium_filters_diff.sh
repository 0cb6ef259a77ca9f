#!/usr/bin/env bash
# 832: the Debezium differential with the column settings of issue 24.  Debezium 2.7.4 (Kafka
# Connect, JsonConverter schemas.enable=true) into broker A and cdcagent (serialization json,
# json_schemas_enable) into broker B capture the same tables at the same time, with
#   column.exclude.list                                     (customers.secret)
#   column.mask.with.5.chars                                (customers.ssn)
#   column.mask.hash.SHA-256.with.salt.S                    (customers.email, v1)
#   column.mask.hash.v2.SHA-256.with.salt.S                 (customers.card, varchar(24))
#   column.truncate.to.4.chars                              (customers.bio, unchanged TOAST too)
#   message.key.columns                                     (orders: no primary key)
#   schema.name.adjustment.mode=avro                        (a table named my-table)
#   column.propagate.source.type                            (typed: one column of each kind)
#   datatype.propagate.source.type                          (orders' int4 columns)
# and then every record of every topic is compared, per partition in offset order: the key
# and the value as the FULL JsonConverter JSON (schemas with their masked / truncateLength
# parameters and adjusted names, payloads with hashed values), the partition, tombstones;
# only the run-specific fields of 260's allow-list may differ (timestamps, the snapshot's
# txId/lsn/sequence).  The source type parameters differ between Debezium's snapshot (JDBC's
# metadata: SERIAL, an unbounded numeric's length 0 and no scale) and its stream (INT4,
# 131089, 0): both are compared.  Needs what 260 needs (java 17, Maven Central, PyPI), cached.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"
# shellcheck source=SCRIPTDIR/../lib/dbz_pair.sh
. "$CDC_SRC/test/lib/dbz_pair.sh"

PREFIX=cdc
NPARTS=3
SALT=CzQMA0cB5K
TABLES="public.customers,public.orders,public.my-table,public.typed"

dbz_pair_install

pg_up
sql "CREATE TABLE customers (id serial PRIMARY KEY, name text, email varchar(255), ssn text,
                             card varchar(24), bio text, secret text)" \
    "CREATE TABLE orders (region text NOT NULL, id int NOT NULL, amount int)" \
    "ALTER TABLE orders REPLICA IDENTITY FULL" \
    "CREATE TABLE \"my-table\" (id int PRIMARY KEY, v text)"
sql "INSERT INTO customers (name, email, ssn, card, bio, secret) VALUES
       ('Alice', 'alice@example.com', '111-22-3333', 'C4111111111111111', 'Zo😀 loves cheese', 's1'),
       ('Bob', NULL, NULL, NULL, NULL, NULL)" \
    "INSERT INTO orders VALUES ('eu', 1, 10), ('us', 2, 20)" \
    "INSERT INTO \"my-table\" VALUES (1, 'one')"
sql "CREATE TABLE typed (id serial PRIMARY KEY, i int4, b bigint, s smallint, n numeric(10,2),
                         nn numeric, v varchar(20), vv varchar, c char(3), t text, ts timestamp(3),
                         ts6 timestamp, tz timestamptz, tm time, d date, bo bool, f float8,
                         r real, u uuid, j jsonb, by bytea, arr int[], bi bit(4), iv interval,
                         m money, x xml)" \
    "INSERT INTO typed (i, n, v, arr) VALUES (1, 1.5, 'v', '{1,2}')"

dbz_pair_brokers

CPORT=$(free_port)
DBZ_EXTRA="topic.creation.default.partitions=$NPARTS
topic.creation.default.replication.factor=1
column.exclude.list=public.customers.secret
column.mask.with.5.chars=public.customers.ssn
column.mask.hash.SHA-256.with.salt.$SALT=public.customers.email
column.mask.hash.v2.SHA-256.with.salt.$SALT=public.customers.card
column.truncate.to.4.chars=public.customers.bio
message.key.columns=public.orders:id,region
schema.name.adjustment.mode=avro
column.propagate.source.type=public.typed.*
datatype.propagate.source.type=public\\.orders\\.int4" \
DBZ_PORT=$PORT DBZ_PREFIX=$PREFIX DBZ_TABLES=$TABLES DBZ_SLOT=dbz_slot DBZ_PUB=dbz_publication \
    DBZ_SNAPSHOT=initial DBZ_SKIPPED=none connect_start "$CDIR" "$BOOT_A" "$CPORT" \
    || fail "Kafka Connect with the Debezium connector (log: $CDIR/connect.log)"
connect_wait_streaming "$CPORT" dbz_slot
ok "Debezium $DBZ_VERSION streams from dbz_slot"

P_TABLES="public.customers, public.orders, public.\"my-table\", public.typed" P_SNAPSHOT=initial \
P_SOURCE_EXTRA="skipped_operations: none
column_exclude_list: public.customers.secret
column_masks:
  column.mask.with.5.chars: public.customers.ssn
  column.mask.hash.SHA-256.with.salt.$SALT: public.customers.email
  column.mask.hash.v2.SHA-256.with.salt.$SALT: public.customers.card
  column.truncate.to.4.chars: public.customers.bio
message_key_columns: \"public.orders:id,region\"
schema_name_adjustment_mode: avro
column_propagate_source_type: public.typed.*
datatype_propagate_source_type: \"public\\\\.orders\\\\.int4\"" write_pipeline
dbz_pair_platform
agent_start

big=$(sql_su "SELECT string_agg(md5(i::text), '') FROM generate_series(1, 300) i")
sql "INSERT INTO customers (name, email, ssn, card, bio, secret)
     VALUES ('Carol', 'carol@example.com', '999', 'C5500000000000004', 'é$big', 's3')" \
    "UPDATE customers SET name = 'Carol C' WHERE name = 'Carol'" \
    "UPDATE customers SET email = 'alice2@example.com', bio = 'ab' WHERE id = 1" \
    "DELETE FROM customers WHERE id = 2" \
    "INSERT INTO orders VALUES ('ap', 3, 30)" \
    "UPDATE orders SET amount = 11 WHERE id = 1" \
    "DELETE FROM orders WHERE id = 2" \
    "INSERT INTO typed (i, nn, tz) VALUES (2, 3.25, now())" \
    "INSERT INTO \"my-table\" VALUES (2, 'fence')"

dbz_pair_compare "$PREFIX.public.my-table" '"fence"'
n=$DBZ_COMPARED
jl_dbz_params() {  # the parameters Debezium gave typed's columns in its OP record
    "$PY" - "$T/dbz.jsonl" "$1" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["topic"].endswith(".typed") and r["value"] and r["value"]["payload"]["op"] == sys.argv[2]:
        after = [f for f in r["value"]["schema"]["fields"] if f["field"] == "after"][0]
        print(" ".join("%s=%s/%s/%s" % (f["field"], *(f["parameters"].get("__debezium.source.column." + k, "-")
                       for k in ("type", "length", "scale"))) for f in after["fields"]))
        break
PY
}
expect_contains "Debezium's stream gives typed's columns their source type (the reference is not empty)" \
    "$(jl_dbz_params c)" "id=INT4/10/0 i=INT4/10/0 b=INT8/19/0"
expect_contains "Debezium's snapshot gives JDBC's: SERIAL, an unbounded numeric without scale" \
    "$(jl_dbz_params r)" "id=SERIAL/10/0 i=INT4/10/0 b=INT8/19/0 s=INT2/5/0 n=NUMERIC/10/2 nn=NUMERIC/0/-"
[ "${n:-0}" -ge 14 ] && ok "$n records compared" || fail "only ${n:-0} records compared"

done_testing
