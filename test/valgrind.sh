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
set -uo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
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
failed=()
for t in "${tests[@]}"; do
    name=$(basename "$t")
    log=$logs/$name.log
    # Tests find their fixtures through the compiled-in path; run from the source tree
    # like ctest would run from the build tree, and give a generous Check timeout.
    if (cd "$build" && CK_FORK=no CK_DEFAULT_TIMEOUT=600 CK_VERBOSITY=silent \
        valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
                 --show-leak-kinds=definite --track-origins=yes --num-callers=30 \
                 --log-file="$log" "$t" >"$logs/$name.out" 2>&1); then
        echo "ok   $name"
    else
        rc=$?
        echo "FAIL $name (exit $rc): $log"
        grep -E '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|Source and|[0-9,]+ bytes in [0-9,]+ blocks are definitely)|ERROR SUMMARY' \
            "$log" | head -n 8 | sed 's/^/    /'
        tail -n 3 "$logs/$name.out" | sed 's/^/    /'
        failed+=("$name")
    fi
done

if ((${#failed[@]})); then
    echo "valgrind.sh: ${#failed[@]} of ${#tests[@]} failed: ${failed[*]}"
    exit 1
fi
echo "valgrind.sh: all ${#tests[@]} clean"
