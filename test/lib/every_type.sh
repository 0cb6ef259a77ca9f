# shellcheck shell=bash
# The every_type table's rows as the source has them, and their comparison with the agent's
# events (test/lib/every_type_check.py).  Source after common.sh and
# test/fixtures/debezium_workload.sh:
#
#   every_type_source OUT            one JSON object a row (ordered by id) into OUT
#   every_type_compare SRC EVENTS    runs the comparison into $T/compare.out and prints its
#                                    mismatch lines; sets ET_CMP ET_BAD ET_CMP5 ET_BAD5 (the
#                                    RESULT line), or fails when the script did not finish

# The source rows, read with the agent's session settings (agent/config/config.c) so that the
# text forms match what pgoutput sends it.  format('%s', v) gives the type's output function
# (v::text differs for inet, which gains /128, and for char(n), which loses its padding).
# Arrays come as JSON arrays of element texts.
every_type_source() {
    local cols
    sql "CREATE FUNCTION arr_txt(a anyarray) RETURNS json LANGUAGE sql IMMUTABLE AS \$\$
           SELECT CASE WHEN a IS NULL THEN NULL
                       ELSE coalesce((SELECT json_agg(CASE WHEN x IS NOT NULL THEN format('%s', x) END ORDER BY o)
                                      FROM unnest(a) WITH ORDINALITY AS u(x, o)), '[]'::json) END \$\$"
    cols=$(sql "SELECT string_agg(CASE
              WHEN t.typcategory = 'A' THEN format('arr_txt(%I) AS %I', a.attname, a.attname)
              WHEN t.typname = 'money' THEN format('%I::numeric::text AS %I', a.attname, a.attname)
              ELSE format('CASE WHEN %I IS NOT NULL THEN format(''%%s'', %I) END AS %I',
                          a.attname, a.attname, a.attname) END, ', ' ORDER BY a.attnum)
            FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
            WHERE a.attrelid = 'every_type'::regclass AND a.attnum > 0 AND NOT a.attisdropped")
    PGOPTIONS="-c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3 -c TimeZone=UTC -c bytea_output=hex -c lc_monetary=C" \
        sql "SELECT row_to_json(s) FROM (
               SELECT $cols,
                      json_build_array(extract(year FROM c_interval), extract(month FROM c_interval),
                                       extract(day FROM c_interval), extract(hour FROM c_interval),
                                       extract(minute FROM c_interval),
                                       extract(microseconds FROM c_interval)) AS x_interval_parts,
                      CASE WHEN isfinite(c_date) THEN c_date - date '1970-01-01' END AS x_date_days,
                      (SELECT json_agg(atttypid::regtype::text ORDER BY attnum) FROM pg_attribute
                       WHERE attrelid = 'every_type'::regclass AND attnum > 0) AS x_types
               FROM every_type ORDER BY id) s" >"$1"
}

every_type_compare() {
    local result
    python3 "$CDC_SRC/test/lib/every_type_check.py" "$1" "$2" >"$T/compare.out" 2>&1 || true
    grep '^# ' "$T/compare.out" || true
    result=$(grep '^RESULT ' "$T/compare.out" || true)
    if [ -z "$result" ]; then
        sed 's/^/# /' "$T/compare.out"
        fail "the comparison script did not finish"
    fi
    read -r _ ET_CMP ET_BAD ET_CMP5 ET_BAD5 <<<"$result"
}
