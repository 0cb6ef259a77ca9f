#!/usr/bin/env bash
# 830: column.exclude.list / column.include.list and Debezium's column mappers on a jsonl
# sink, snapshot and stream alike: an excluded column is absent from every event; ssn is
# masked with 5 asterisks (NULL too, as Debezium's MaskingValueConverter does); email is
# hashed with HashingByteArrayStrategy V1 and card (varchar(24)) with V2, cut to 24
# characters; bio is truncated to 4 characters (UTF-16 units).  The expected values are
# computed here with Python's hashlib from the rows psql reads back, following
# MaskStrings.HashValueConverter step by step (salt bytes, then Java's serialization of the
# String for V1 or its UTF-8 bytes for V2, lower-case hex).  Then none of the raw values of
# the excluded or masked columns appears in the events, the dead letters or the agent's
# debug log; on PostgreSQL 15 the publication's column list leaves the excluded column on
# the server, and the snapshot reads NULL in its place.  A mask on a key column and a bad regex are refused at validate or start.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

pg_up
sql "CREATE TABLE customers (id serial PRIMARY KEY, name text, email varchar(255), ssn text,
                             card varchar(24), bio text, secret text)" \
    "CREATE TABLE orders (id serial PRIMARY KEY, customer_id int, status text)"
sql "INSERT INTO customers (name, email, ssn, card, bio, secret) VALUES
     ('Alice', 'alice-s3@example.com', 'SSN-111-22-3333', 'C4111111111111111',
      'Zo😀 loves cheese', 'TOPSECRET-alpha')"

SALT=CzQMA0cB5K
P_SOURCE_EXTRA="column_exclude_list: \"public\\\\.customers\\\\.secret\"
column_masks:
  column.mask.with.5.chars: public.customers.ssn
  column.mask.hash.SHA-256.with.salt.$SALT: public\\.customers\\.email
  column.mask.hash.v2.SHA-256.with.salt.$SALT: \"public.customers.card, public.orders.st.*\"
  column.truncate.to.4.chars: PUBLIC.CUSTOMERS.BIO" write_pipeline
AGENT_LOG_LEVEL=debug write_platform

cdc validate "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "validate accepts the settings" "$CDC_RC" 0

agent_start
expect_eq "PostgreSQL 15: the publication's column list leaves secret on the server" \
    "$(sql_su "SELECT tablename || ':' || array_to_string(attnames, ',') FROM pg_publication_tables
               WHERE pubname = 'cdc_publication' ORDER BY tablename")" \
    "$(printf 'customers:id,name,email,ssn,card,bio\norders:id,customer_id,status')"
sql "INSERT INTO customers (name, email, ssn, card, bio, secret) VALUES
     ('Bob', 'bob-s3@example.com', NULL, 'C5500000000000004', NULL, 'TOPSECRET-bravo')"
sql "UPDATE customers SET email = 'alice-new-s3@example.com', bio = 'ab' WHERE id = 1"
sql "INSERT INTO orders (customer_id, status) VALUES (1, 'new')"
sql "DELETE FROM customers WHERE id = 2"
wait_lines "$EVENTS" 5 60
sleep 1
agent_stop
# A restart finds the publication with its column list: the start checks still pass.
agent_start
sql "INSERT INTO orders (customer_id, status) VALUES (2, 'later')"
wait_lines "$EVENTS" 7 60
agent_stop

F=$EVENTS
expect_eq "events r c u c d, then after the restart c" "$(jl_ops "$F")" "r c u c d c"

# The expected after images, from psql's rows and hashlib (independent of the agent).
rows=$(sql_su "COPY (SELECT id, name, email, ssn, card, bio FROM customers
                     UNION ALL SELECT 2, 'Bob', 'bob-s3@example.com', NULL,
                                      'C5500000000000004', NULL ORDER BY 1)
               TO STDOUT WITH (FORMAT csv)")
cat >"$T/expect.py" <<'PY'
import csv, hashlib, io, json, sys
salt = sys.argv[1].encode()
def java_ser(s):            # ObjectOutputStream.writeObject(String)
    mu = bytearray()
    for ch in s.encode("utf-16-be", "surrogatepass").decode("utf-16-be", "surrogatepass"):
        for u in ([ord(ch)] if ord(ch) < 0x10000 else
                  [0xd800 + ((ord(ch) - 0x10000) >> 10), 0xdc00 + ((ord(ch) - 0x10000) & 0x3ff)]):
            if 0 < u < 0x80: mu.append(u)
            elif u < 0x800: mu += bytes([0xc0 | u >> 6, 0x80 | u & 0x3f])
            else: mu += bytes([0xe0 | u >> 12, 0x80 | (u >> 6) & 0x3f, 0x80 | u & 0x3f])
    assert len(mu) <= 0xffff
    return b"\xac\xed\x00\x05\x74" + len(mu).to_bytes(2, "big") + bytes(mu)
def h(data, cut=None):
    x = hashlib.sha256(salt + data).hexdigest()
    return x[:cut] if cut else x
def trunc(s, n):            # String.substring(0, n) in UTF-16 units
    u = s.encode("utf-16-le", "surrogatepass")
    return u[:2 * n].decode("utf-16-le", "surrogatepass")
out = {}
for r in csv.reader(io.StringIO(sys.stdin.read())):
    r = [None if v == "" else v for v in r]
    i, name, email, ssn, card, bio = r
    out[i] = {"id": int(i), "name": name, "email": h(java_ser(email)) if email else None,
              "ssn": "*****", "card": h(card.encode(), 24) if card else None,
              "bio": trunc(bio, 4) if bio is not None else None}
print(json.dumps(out))
PY
printf '%s\n' "$rows" | python3 "$T/expect.py" "$SALT" >"$T/expect.json"
note "expected: $(cat "$T/expect.json")"
# The first image of Alice (snapshot) had the old email and bio.
printf '1,Alice,alice-s3@example.com,,C4111111111111111,Zo😀 loves cheese\n' |
    python3 "$T/expect.py" "$SALT" >"$T/first.json"
expect="json.load(open('$T/expect.json'))"
first="json.load(open('$T/first.json'))"

jl_check "snapshot row: hashed, masked, truncated, secret absent" "$F" \
    "get(data[0], 'value.after') == $first['1']"
jl_check "insert: NULL ssn is masked (Debezium masks NULL), NULL bio stays null" "$F" \
    "get(data[1], 'value.after') == $expect['2']"
jl_check "update: the new email hashed (v1), bio 'ab' shorter than 4" "$F" \
    "get(data[2], 'value.after') == $expect['1']"
jl_check "orders: status is text, hashed with v2 (public.orders.st.*), other columns as they are" "$F" \
    "get(data[3], 'value.after') == {'id': 1, 'customer_id': 1,
                                     'status': __import__('hashlib').sha256(b'$SALT' + b'new').hexdigest()}"
jl_check "delete: key-only before, ssn masked there too, as Debezium's converter sees null" "$F" \
    "get(data[4], 'value.before') == {'id': 2, 'name': None, 'email': None, 'ssn': '*****',
                                      'card': None, 'bio': None}"
jl_check "no event carries the excluded column" "$F" \
    "all('secret' not in (get(e, 'value.after') or {}) and 'secret' not in (get(e, 'value.before') or {}) for e in data)"
jl_check "the truncated bio counts UTF-16 units as Java does (Z, o and 😀 are 4)" "$F" \
    "get(data[0], 'value.after.bio') == 'Zo😀'"

note "no raw value of an excluded or masked column leaves the agent"
leaks=""
for v in TOPSECRET SSN-111 alice-s3@ alice-new-s3@ bob-s3@ C4111111 C5500000 'loves cheese' "$SALT"; do
    for f in "$F" "$T/agent.log" "$T/agent.stdout" "$T/dlq.jsonl"; do
        [ -f "$f" ] && grep -qF -- "$v" "$f" && leaks="$leaks $v in $(basename "$f");"
    done
done
expect_eq "no leak in events, debug log, stdout, dead letters" "$leaks" ""
expect_eq "the agent logged at debug level" "$(grep -ci debug "$T/agent.log" | awk '$1 > 0 {print "yes"}')" yes

cdc verify "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "verify finds the jsonl sink equal to the source, masked and excluded columns left out" \
    "$CDC_RC" 0

note "refusals"
P_SOURCE_EXTRA="column_masks:
  column.mask.with.3.chars: public\\.customers\\.(id|name)" write_pipeline
sql "SELECT pg_drop_replication_slot('cdc_slot')" >/dev/null
agent_start_refused "a mask on the key column" \
    "column.mask.with.3.chars matches column id of table public.customers"
P_SOURCE_EXTRA="column_exclude_list: \"public.customers.secret, public.nothing.x\"" write_pipeline
agent_start_refused "a regex that matches no column" \
    'source.column_exclude_list: "public.nothing.x" matches no column of the captured tables'
P_SOURCE_EXTRA="column_exclude_list: \"public.customers.(\"" write_pipeline
cdc validate "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "a bad regex fails validate with exit 2" "$CDC_RC" 2
expect_contains "it names the key and the regex" "$(cat "$T/cdc.err")" \
    'source.column_exclude_list: the regular expression "public.customers.(" is invalid'
P_SOURCE_EXTRA="column_masks:
  column.mask.hash.SHA-3.with.salt.HushHush: public.customers.email" write_pipeline
cdc validate "$T/pipeline.yaml" --platform-config "$T/platform.yaml"
expect_eq "an unknown algorithm fails validate" "$CDC_RC" 2
expect_contains "it names the algorithm" "$(cat "$T/cdc.err")" 'unknown hash algorithm "SHA-3"'
expect_eq "the salt is not echoed" "$(grep -c HushHush "$T/cdc.err" || true)" 0

done_testing
