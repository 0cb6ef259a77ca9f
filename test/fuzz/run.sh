#!/usr/bin/env bash
#
# Builds the libFuzzer targets (test/fuzz/fuzz_*.c) with clang, ASan and
# UBSan in build-fuzz/, replays every saved crasher in
# test/fuzz/regressions/<target>/ through its target, then fuzzes each
# target for SECONDS (default 60) starting from a copy of its seed corpus
# (test/fuzz/corpus/<target>/ is never written).  Exits non-zero on any
# crash, leak, UBSan report, timeout or out-of-memory, and prints the path
# of the input that caused it.  docs/fuzzing.md has the longer local run.
#
# Usage: test/fuzz/run.sh [SECONDS]
#   CDC_FUZZ_BUILD   build directory (default: build-fuzz in the source tree)
#   CDC_FUZZ_TARGETS space-separated subset, e.g. "pgoutput values"
#   CDC_FUZZ_JOBS    targets fuzzed at once (default: the number of cores; each gets
#                    SECONDS of one core whatever this is)
set -uo pipefail

secs=${1:-60}
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${CDC_FUZZ_BUILD:-$src/build-fuzz}
fuzzdir=$src/test/fuzz
# shellcheck source=../lib/pool.sh
. "$src/test/lib/pool.sh"
opts=(-timeout=10 -rss_limit_mb=2048)

command -v clang >/dev/null || {
    echo "run.sh: clang not found (apt-get install -y clang libclang-rt-14-dev)" >&2
    exit 2
}
CC=clang cmake -S "$src" -B "$build" -G Ninja -DCDC_FUZZ=ON -DCDC_TESTS=OFF >/dev/null || exit 2

targets=()
if [[ -n "${CDC_FUZZ_TARGETS:-}" ]]; then
    for t in $CDC_FUZZ_TARGETS; do targets+=("$t"); done
else
    for f in "$fuzzdir"/fuzz_*.c; do
        n=$(basename "$f" .c)
        targets+=("${n#fuzz_}")
    done
fi
if ! ninja -C "$build" "${targets[@]/#/fuzz_}" >"$build/fuzz-build.log" 2>&1; then
    tail -n 40 "$build/fuzz-build.log"
    exit 2
fi

failed=()

# 1. Regressions: every saved input must now run clean.
for t in "${targets[@]}"; do
    [[ -d "$fuzzdir/regressions/$t" ]] || continue
    for f in "$fuzzdir/regressions/$t"/*; do
        [[ -f "$f" ]] || continue
        if ! "$build/fuzz_$t" "${opts[@]}" "$f" >"$build/fuzz-replay.log" 2>&1; then
            echo "FAIL regression $t: $f"
            grep -E 'ERROR: |runtime error|SUMMARY' "$build/fuzz-replay.log" | head -n 5 | sed 's/^/    /'
            failed+=("$f")
        fi
    done
done

# 2. Fuzzing, from a fresh copy of each seed corpus.  A libFuzzer run uses one core, so the
# targets run CDC_FUZZ_JOBS at a time (default: the number of cores): each still gets SECONDS
# of a core to itself, as when they ran one after the other, in less wall time.  Their
# reports are printed in the targets' order once all have ended.
fuzz_one() {
    local t=$1 corpus=$build/fuzz-corpus/$1 artifacts=$build/fuzz-artifacts/$1
    local log=$build/fuzz-$1.log status stats
    rm -rf "$corpus"
    mkdir -p "$corpus" "$artifacts"
    cp -r "$fuzzdir/corpus/$t/." "$corpus/"
    if "$build/fuzz_$t" "${opts[@]}" -max_total_time="$secs" -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1; then
        status=ok
    else
        status=FAIL
    fi
    stats=$(grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -n 1 | sed 's/^#\([0-9]*\)[[:space:]]*[A-Z]*/runs=\1/')
    echo "$status fuzz_$t ${secs}s: $stats"
    if [[ $status == FAIL ]]; then
        grep -E 'ERROR: |runtime error|SUMMARY|Test unit written' "$log" | head -n 6 | sed 's/^/    /'
        for a in "$artifacts"/*; do [[ -f "$a" ]] && echo "    crasher: $a"; done
        echo "    log: $log"
    fi
}

fuzz_report() { fuzz_one "$1" >"$build/fuzz-$1.report" 2>&1; }
pool_run "$(pool_jobs CDC_FUZZ_JOBS)" fuzz_report "${targets[@]}"
for t in "${targets[@]}"; do
    cat "$build/fuzz-$t.report"
    head -n 1 "$build/fuzz-$t.report" | grep -q '^ok ' || failed+=("fuzz_$t")
done

if ((${#failed[@]})); then
    echo "run.sh: ${#failed[@]} failure(s): ${failed[*]}"
    exit 1
fi
echo "run.sh: all clean (${#targets[@]} targets, ${secs}s each)"
