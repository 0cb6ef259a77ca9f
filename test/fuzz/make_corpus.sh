#!/usr/bin/env bash
#
# Regenerates the seed corpora in test/fuzz/corpus/<target>/ from the
# captured pgoutput fixtures and the configuration fixtures, plus hand-written
# values.  Each file follows its target's input format (see the comment at the
# top of test/fuzz/fuzz_<target>.c).  The corpora are committed; fuzzing runs
# work on copies (test/fuzz/run.sh), so they stay this small.
#
# Usage: test/fuzz/make_corpus.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
fx=$here/../fixtures
out=$here/corpus

rm -rf "$out"
mkdir -p "$out"/{pgoutput,values,config,json,parquet}

# Writes each decimal argument as one byte.
bytes() {
    local x
    for x in "$@"; do printf "\\$(printf %03o $((x & 255)))"; done
}
# Writes a 32-bit big-endian number.
be32() {
    bytes $(($1 >> 24)) $(($1 >> 16)) $(($1 >> 8)) "$1"
}

# --- pgoutput: [mode][modes][message] or [mode|4][modes]([len][message])* ---
pgo=$out/pgoutput
for f in "$fx"/pgoutput/*.bin; do
    n=$(basename "$f" .bin)
    { printf '\x01\x00'; cat "$f"; } >"$pgo/$n"
done
# the protocol 4 forms and the other handling modes on a few
for n in stream_abort_subxact stream_commit stream_start; do
    { printf '\x03\x00'; cat "$fx/pgoutput/$n.bin"; } >"$pgo/${n}_v4"
done
{ printf '\x05\x00'; cat "$fx/pgoutput/session.seq"; } >"$pgo/seq_session"
{ printf '\x15\x26'; cat "$fx/pgoutput/session.seq"; } >"$pgo/seq_session_schemas"
{ printf '\x0d\x00'; cat "$fx/pgoutput/session.seq"; } >"$pgo/seq_session_nocatalog"
seq() {     # seq NAME MODE MODES fixture...
    local name=$1 mode=$2 modes=$3 f
    shift 3
    {
        printf "$mode$modes"
        for f in "$@"; do
            be32 "$(stat -c %s "$fx/pgoutput/$f.bin")"
            cat "$fx/pgoutput/$f.bin"
        done
    } >"$pgo/seq_$name"
}
seq insert '\x05' '\x00' begin relation_customers insert_two_cols commit
seq update '\x05' '\x00' begin relation_customers update_simple delete_key commit
seq full '\x15' '\x00' begin relation_audit_full update_full delete_full commit
seq toast '\x05' '\x30' begin relation_docs update_toast_unchanged commit
seq keychange '\x25' '\x00' begin relation_accounts update_key_change commit
seq nulls '\x05' '\x40' begin relation_nulls insert_nulls commit
seq truncate '\x05' '\x00' begin relation_parents relation_children truncate_two commit
seq enum '\x05' '\x00' begin type_mood relation_moods insert_enum commit
seq messages '\x15' '\x00' message_nontransactional begin message_transactional origin commit
seq stream '\x05' '\x00' stream_start stream_relation_big stream_insert stream_stop \
    stream_start_next stream_commit
seq stream_abort '\x07' '\x00' stream_start stream_relation_big stream_insert stream_stop \
    stream_abort_subxact stream_commit_after_subabort
seq events_v2 '\x05' '\x00' begin relation_events relation_events_v2 commit

# --- values: [type][typmod 4][modes][flags][text] (type: index in fz_types) ---
val=$out/values
v() {       # v NAME TYPE TYPMOD MODES FLAGS TEXT
    { bytes "$2"; be32 "$3"; bytes "$4" "$5"; printf '%s' "$6"; } >"$val/$1"
}
num102=$(((10 << 16 | 2) + 4))
v bool_t 0 -1 0 0 't'
v bytea_hex 1 -1 0 0 '\x0aff00'
v bytea_b64 1 -1 16 0 '\xdeadbeef01'
v bytea_b64url 1 -1 32 0 '\xfbff'
v bytea_hexmode 1 -1 48 0 '\x00'
v int2_max 5 -1 0 0 '32767'
v int4_min 6 -1 0 0 '-2147483648'
v int8_max 4 -1 0 0 '9223372036854775807'
v oid_max 8 -1 0 0 '4294967295'
v float4 13 -1 0 0 '3.4028235e+38'
v float8 14 -1 0 0 '-1.7976931348623157e-308'
v float8_nan 14 -1 0 0 'NaN'
v point 11 -1 0 0 '(1.5,-2e-3)'
v money 16 -1 0 0 '-$1,234.56'
v money_double 16 -1 1 0 '$0.99'
v numeric_var 29 -1 0 0 '-0.000001234'
v numeric_nan 29 -1 0 0 'NaN'
v numeric_inf 29 -1 2 0 '-Infinity'
v numeric_102 29 $num102 0 0 '99.99'
v numeric_102_double 29 $num102 1 0 '12345678.90'
v numeric_102_string 29 $num102 2 0 '-0.50'
v date 21 -1 0 0 '2024-05-01'
v date_bc 21 -1 0 0 '0044-03-15 BC'
v date_inf 21 -1 4 0 'infinity'
v time 22 -1 0 0 '10:15:30.123456'
v time_24 22 3 8 0 '24:00:00'
v timetz 26 -1 0 0 '10:15:30.5+05:30'
v ts 23 3 0 0 '2024-05-01 10:15:30.123'
v ts_max 23 -1 4 0 '294276-12-31 23:59:59.999999'
v tstz 24 -1 0 0 '2024-05-01 10:15:30.123456+00'
v tstz_bc 24 -1 0 0 '4713-01-01 00:00:00+00 BC'
v tstz_neginf 24 -1 8 0 '-infinity'
v interval 25 -1 0 0 '1 year 2 mons -3 days 04:05:06.789'
v interval_str 25 -1 64 0 '-178956970 years -8 mons -2147483648 days -2562047788:00:54.775808'
v bit1 27 1 0 0 '1'
v bit16 27 16 0 0 '0000000100000000'
v varbit_empty 28 -1 0 0 ''
v uuid 30 -1 0 0 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'
v json 9 -1 0 0 '{"a": [1, 2, "\u00e9"]}'
v int4range 32 -1 0 0 '[1,10)'
v int4_arr 44 -1 0 0 '{1,2,NULL,4}'
v text_arr 45 -1 0 0 '{"a b","c\"d",NULL,"NULL",""}'
v numeric_arr 67 -1 0 0 '[0:1]={1.5,NaN}'
v ts_arr 61 -1 0 0 '{"2024-05-01 10:15:30","infinity"}'
v time_arr 60 -1 0 0 '{10:15:30,23:59:59.999999}'
v bytea_arr 39 -1 16 0 '{"\\x00ff",NULL}'
v uuid_arr 68 -1 0 0 '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'
v mood 76 -1 0 0 'happy'
v mood_arr 77 -1 0 0 '{sad,ok}'
v citext 78 -1 0 0 'Hello'
v ltree_arr 81 -1 0 0 '{a.b.c,d}'
v domain_numeric 83 -1 0 0 '1.23'
v def_int4 6 -1 0 1 '42'
v def_text 7 -1 0 1 "'it''s'::text"
v def_now 24 -1 0 1 'now()'
v def_current_date 21 -1 0 1 'CURRENT_DATE'
v def_interval 25 -1 0 1 "'1 day'::interval"
v def_mood 76 -1 0 1 "'ok'::mood"
v def_bool 0 -1 0 1 'true'
v def_bit1 27 1 0 1 "B'1'::\"bit\""
v def_uuid 30 -1 0 1 "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'::uuid"
v def_numeric 29 $num102 0 1 "'12.5'::numeric"
v def_null 6 -1 0 1 'NULL::integer'
v wire_int4_arr 44 -1 0 2 '{7}'
v wire_numeric 29 $num102 0 2 '3.14'

# --- config: [flags][pipeline] or [flags|1][pipeline NUL platform] ---
cfg=$out/config
for f in "$fx"/config/*pipeline*.yaml; do
    n=$(basename "$f" .yaml)
    { printf '\x00'; cat "$f"; } >"$cfg/$n"
    { printf '\x06'; cat "$f"; } >"$cfg/${n}_parse_builtin"
done
pair() {    # pair NAME FLAGS PIPELINE PLATFORM
    { printf "$2"; cat "$fx/config/$3.yaml"; printf '\0'; cat "$fx/config/$4.yaml"; } >"$cfg/$1"
}
pair direct '\x01' direct_pipeline direct_platform
pair readme '\x05' readme_pipeline readme_platform
pair readme_env '\x05' readme_env_pipeline readme_env_platform
pair configmap '\x05' deploy_configmap_pipeline deploy_configmap_platform
pair all '\x05' pipeline_all platform_all
for p in deploy_platform_defaults deploy_platform_gcp_kafka deploy_platform_kinesis \
         deploy_platform_msk deploy_platform_pubsub; do
    pair "$p" '\x05' direct_pipeline "$p"
done
printf '\x00pipeline_id: p\nsource:\n  host: ${CDC_SOURCE_HOST}\n  port: ${CDC_PORT}\n  database: ${CDC_MISSING:-d\\}b}\n  tables: [public.t]\nsinks:\n  - {sink_id: s, sink_type: jsonl, jsonl: {path: "${CDC_EMPTY}-"}}\n' >"$cfg/env_refs"
printf '\x00a: &x [1, 2]\nb: *x\n? [complex, key]\n: v\n--- \n...\n' >"$cfg/yaml_oddities"

# --- json: [ncols][types][typmods][modes][flags][keys][defaults][values NUL-separated] ---
js=$out/json
# j NAME "TYPES" "TYPMODS" MODES FLAGS KEYS DEFAULTS VALUE...   (decimal numbers)
j() {
    local name=$1 types=($2) mods=($3) x first=1
    shift 3
    bytes $((${#types[@]} - 1)) "${types[@]}" "${mods[@]}" "$1" "$2" "$3" "$4" >"$js/$name"
    shift 4
    for x in "$@"; do
        [[ $first == 1 ]] || printf '\0' >>"$js/$name"
        first=0
        printf '%s' "$x" >>"$js/$name"
    done
}
# customers: int4 key, text, text, numeric(10,2) (typmod byte 89), timestamptz
ct='6 7 7 29 24' cm='0 0 0 89 0'
j cust_create "$ct" "$cm" 0 0 1 0 1 Alice alice@example.com 12.50 '2024-05-01 10:15:30.123456+00'
j cust_create_schemas "$ct" "$cm" 0 8 1 0 1 Alice alice@example.com 12.50 '2024-05-01 10:15:30+00'
j cust_update "$ct" "$cm" 0 1 1 0 1 'Alice B' $'\x01' 99.99 $'\x02' 1 Alice a@b 12.50 '2024-05-01 10:15:30+00'
j cust_delete "$ct" "$cm" 0 10 1 0 1 Alice a@b 0.01 '2024-05-01 10:15:30+00'
j cust_read_last "$ct" "$cm" 0 67 1 0 1 'Al"ice\' $'\xff\xfe\x7f' 1.5 'infinity'
j cust_truncate "$ct" "$cm" 0 4 1 0
j cust_tombstone "$ct" "$cm" 0 5 1 0 1
j cust_defaults "$ct" "$cm" 0 8 1 6 "'anon'::text" "'x@y'::text" $'\x01' $'\x01' $'\x01' 2 $'\x01'
j message '7' '0' 0 14 0 0 prefix 'some content'
j message_schemas '7' '0' 0 78 0 0 'pre"fix' $'\x01binary'
# bytea, bit(16), point, interval, money, numeric (variable), uuid
mt='1 27 11 25 16 29 30' mm='0 17 0 0 0 0 0'
j misc "$mt" "$mm" 0 8 1 0 '\x00ff' 0000000100000001 '(1,2)' '1 day 02:00:00' '$5.00' '-3.25' 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'
j misc_modes "$mt" "$mm" 118 8 1 0 '\x00ff' 0000000000000000 '(NaN,Infinity)' '-1 years' '-$5.00' 'NaN' 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'
# arrays, enum, json, float4, float8, bool
j arrays '44 45 77 76 9 13 14 0' '0 0 0 0 0 0 0 0' 0 8 3 0 '{1,NULL}' '{"a\"b",c}' '{sad}' ok '{"k": "\u0000"}' '-0' '1e-320' t
j times '0 21 22 26 61 23' '0 0 7 0 0 4' 12 8 1 0 f '2024-02-29' '23:59:59.999999' '00:00:00-14:59' '{"2000-01-01 00:00:00"}' '1999-12-31 23:59:59.999'
j nocatalog '6 44 29' '0 0 0' 0 40 1 0 5 '{1,2}' 1e3

# --- parquet: whole files (pyarrow's and our writer's, test/fixtures/parquet/) ---
cp "$fx"/parquet/*.parquet "$out/parquet/"
