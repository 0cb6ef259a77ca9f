#!/usr/bin/env bash
#
# Runs every unit test binary of a build (test_* in BUILD_DIR, built without
# sanitizers: valgrind and ASan do not mix) under valgrind memcheck, with
# Check's fork mode off so that the tests run inside the checked process.
# Any memcheck error or definite leak fails the binary; the script exits
# non-zero when any binary failed.  The logs stay in BUILD_DIR/valgrind/.
#
# Usage: test/valgrind.sh [BUILD_DIR]     (default: build)
#   VALGRIND_TESTS  space-separated subset, e.g. "test_values test_json"
#   VALGRIND_JOBS   binaries run at once (default: the number of cores)
#   VALGRIND_SLOW   binaries started first (default: the four slowest under memcheck)
#   VALGRIND_SPLIT  binaries whose test cases run as separate processes (test_ice_kidx)
set -uo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib/pool.sh
. "$src/test/lib/pool.sh"
build=$(cd "${1:-$src/build}" 2>/dev/null && pwd) || {
    echo "valgrind.sh: no build directory ${1:-$src/build} (cmake -S . -B build -G Ninja && ninja -C build)" >&2
    exit 2
}

if ! command -v valgrind >/dev/null; then
    if [[ $(id -u) -eq 0 ]]; then
        apt-get install -y valgrind >/dev/null || exit 2
    else
        echo "valgrind.sh: valgrind not found (apt-get install valgrind)" >&2
        exit 2
    fi
fi

if grep -q -- '-fsanitize=' "$build/CMakeCache.txt" 2>/dev/null ||
   grep -q '^CDC_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
    echo "valgrind.sh: $build is a sanitizer build; use one without CDC_SANITIZE" >&2
    exit 2
fi

tests=()
if [[ -n "${VALGRIND_TESTS:-}" ]]; then
    for t in $VALGRIND_TESTS; do tests+=("$build/$t"); done
else
    for t in "$build"/test_*; do
        [[ -f "$t" && -x "$t" ]] && tests+=("$t")
    done
fi
((${#tests[@]})) || { echo "valgrind.sh: no test_* binaries in $build" >&2; exit 2; }

logs=$build/valgrind
mkdir -p "$logs"

# The work, in the order it starts: the binaries slowest under memcheck first (seconds with
# two at once on a loaded 2-core machine: test_ice_kidx 368, test_parquet_read 79, test_keyq
# 58, test_avro 55; the rest 1-27), so that no core is left with a long one at the end; and
# test_ice_kidx's test cases as separate processes (CK_RUN_CASE=<its tcase>), each an item
# "BINARY@CASE".  A binary run whole runs every test case in one process, as before.
VALGRIND_SLOW=${VALGRIND_SLOW:-"test_ice_kidx test_parquet_read test_keyq test_avro"}
VALGRIND_SPLIT=${VALGRIND_SPLIT:-test_ice_kidx}
items=()
add_item() {
    local t=$1 name c
    name=$(basename "$t")
    if [[ " $VALGRIND_SPLIT " == *" $name "* && -f "$src/test/unit/$name.c" ]]; then
        for c in $(sed -n 's/.*tcase_create("\([A-Za-z0-9_]*\)").*/\1/p' "$src/test/unit/$name.c"); do
            items+=("$t@$c")
        done
    else
        items+=("$t")
    fi
}
for t in "${tests[@]}"; do
    [[ " $VALGRIND_SLOW " == *" $(basename "$t") "* ]] && add_item "$t"
done
for t in "${tests[@]}"; do
    [[ " $VALGRIND_SLOW " == *" $(basename "$t") "* ]] || add_item "$t"
done

# vg ITEM LOG [OPTION...]: ITEM (BINARY or BINARY@CASE) under memcheck, its report in LOG,
# the binary's output in LOG's name with .out.
vg() {
    local t=${1%@*} log=$2
    # Tests find their fixtures through the compiled-in path; run from the source tree
    # like ctest would run from the build tree, and give a generous Check timeout.
    local envs=(CK_FORK=no CK_DEFAULT_TIMEOUT=600 CK_VERBOSITY=silent)
    [[ $1 == *@* ]] && envs+=("CK_RUN_CASE=${1##*@}")
    shift 2
    (cd "$build" && env "${envs[@]}" \
        valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
                 --show-leak-kinds=definite --num-callers=30 "$@" \
                 --log-file="$log" "$t" >"${log%.log}.out" 2>&1)
}

# vg_one ITEM: one item under memcheck; prints its ok/FAIL report.  The run has no
# --track-origins: memcheck finds the same errors without it (it only adds where an
# uninitialised value came from) in about half the time.  An item that fails on an
# uninitialised value runs once more with --track-origins=yes, and its report quotes that
# run (LOG.origins) too.
vg_one() {
    local item=$1 name log rc t0=$SECONDS
    name=$(basename "${item/@/.}")
    log=$logs/$name.log
    if vg "$item" "$log" && { [[ $item != *@* ]] || grep -q 'Checks: [1-9]' "$logs/$name.out"; }; then
        echo "ok   $name ($((SECONDS - t0)) s)"
    else
        rc=$?
        echo "FAIL $name (exit $rc, $((SECONDS - t0)) s): $log"
        [[ $item == *@* ]] && ! grep -q 'Checks: [1-9]' "$logs/$name.out" &&
            echo "    test case ${item##*@} ran no test"
        grep -E '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|Source and|[0-9,]+ bytes in [0-9,]+ blocks are definitely)|ERROR SUMMARY' \
            "$log" | head -n 8 | sed 's/^/    /'
        tail -n 3 "$logs/$name.out" | sed 's/^/    /'
        if grep -qE '^==[0-9]+== (Conditional|Use of uninitialised|Syscall param)' "$log"; then
            vg "$item" "$log.origins" --track-origins=yes || true
            echo "    where the uninitialised values came from (--track-origins=yes): $log.origins"
            grep -E '^==[0-9]+== +(Uninitialised value was created|(at|by) )' "$log.origins" |
                grep -A3 'Uninitialised value was created' | head -n 8 | sed 's/^/    /'
        fi
    fi
}

# valgrind runs a program on one core: VALGRIND_JOBS items at once (default: the number of
# cores), each under the same memcheck as alone; the reports come in the items' order.
vg_report() { vg_one "$1" >"$logs/$(basename "${1/@/.}").report" 2>&1; }
pool_run "$(pool_jobs VALGRIND_JOBS)" vg_report "${items[@]}"
failed=()
for item in "${items[@]}"; do
    name=$(basename "${item/@/.}")
    cat "$logs/$name.report"
    head -n 1 "$logs/$name.report" | grep -q '^ok ' || failed+=("$name")
done

if ((${#failed[@]})); then
    echo "valgrind.sh: ${#failed[@]} of ${#items[@]} failed: ${failed[*]}"
    exit 1
fi
echo "valgrind.sh: all ${#items[@]} clean (${#tests[@]} binaries)"
