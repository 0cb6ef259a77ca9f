#!/usr/bin/env bash
# The test command:  bash test/run.sh
#
# 1. installs what is missing (deploy/local/deps.sh --test)
# 2. configures and builds in build/, builds everything once more with clang in
#    build-clang/ (warnings are errors; nothing is run there), runs the unit tests and the
#    integration tests (test/integration/NNN_*.sh, each against its own throwaway PostgreSQL 15)
# 3. builds again with AddressSanitizer + UBSan in build-asan/ and runs both suites there
# Exits non-zero if anything failed, after a one-line summary.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
START=$SECONDS
JOBS=$(nproc 2>/dev/null || echo 2)
FAILED=()

step() { printf '\n=== %s\n' "$*"; }

# run NAME COMMAND...: run a step, remember its failure, go on.
run() {
    local name=$1
    shift
    if ! "$@"; then
        FAILED+=("$name")
        return 1
    fi
}

summary() {
    local t=$((SECONDS - START))
    echo
    if [ "${#FAILED[@]}" -eq 0 ]; then
        echo "test/run.sh: PASS (gcc and clang builds, unit, integration, both again under ASan+UBSan, valgrind, fuzzing) in ${t}s"
        exit 0
    fi
    echo "test/run.sh: FAIL (${FAILED[*]}) in ${t}s"
    exit 1
}

step "dependencies"
run deps deploy/local/deps.sh --test || summary

step "build (build/)"
run configure cmake -S . -B build -G Ninja || summary
run build ninja -C build || summary

step "build with clang (build-clang/): agent, tools and tests, warnings are errors"
# Built only, not run again: it catches what gcc lets by (e.g. -Wsometimes-uninitialized).
if command -v clang >/dev/null; then
    run configure-clang env CC=clang cmake -S . -B build-clang -G Ninja -DCDC_WERROR=ON &&
        run build-clang ninja -C build-clang
else
    echo "clang is not installed (deploy/local/deps.sh --test installs it)"
    FAILED+=("clang-missing")
fi

step "unit tests"
run unit ctest --test-dir build --output-on-failure -L unit -j "$JOBS"

step "integration tests"
run integration ctest --test-dir build --output-on-failure -L integration

step "build with ASan + UBSan (build-asan/)"
if run configure-asan cmake -S . -B build-asan -G Ninja -DCDC_SANITIZE=ON &&
   run build-asan ninja -C build-asan; then
    step "unit tests under ASan + UBSan"
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        run unit-asan ctest --test-dir build-asan --output-on-failure -L unit -j "$JOBS"
    step "integration tests against the ASan + UBSan agent"
    # A sanitizer report makes the agent exit non-zero, which every test checks on stop.
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        run integration-asan ctest --test-dir build-asan --output-on-failure -L integration \
            -E 'it_(20[0-9]|21[0-9]|22[0-9]|250|260|405|447|480|509|511|532|60[05]|62[05]|64[05]|650|660|677|679|68[67]|690|9[0-9][0-9])_'
    # Left out there, because they drive no agent code the others do not already drive
    # under ASan: the Kafka transport tests driven by test tools (20x-22x); the Debezium and
    # Debezium Server reference runs (250, 260, 511, 532); the moto harness's self-test
    # (509); TLS to Kafka (405: librdkafka's code); the random-kill test (447: SIGKILLed
    # agents report nothing; 240 and 330 restart after kills under ASan); the soak (480: it
    # measures memory, which ASan's allocator distorts; its paths run in the 4xx tests); the
    # Iceberg building blocks driven by test tools (600-660: their C code runs under ASan in
    # the unit tests); the verify variants beside 676 (677, 686, 687); and Spark reading
    # Iceberg (679, 690: the agent part is 675's).  The deploy/metrics lint (9xx) runs once.
fi

step "valgrind memcheck on the unit tests"
run valgrind bash test/valgrind.sh build

step "fuzzing: saved crashers replayed, then ${CDC_FUZZ_SECONDS:-30} s per target"
run fuzz bash test/fuzz/run.sh "${CDC_FUZZ_SECONDS:-30}"

summary
