#!/usr/bin/env bash
# The test command:  bash test/run.sh
#
# 1. installs what is missing (deploy/local/deps.sh --test)
# 2. configures and builds in build/, builds everything once more with clang in
#    build-clang/ (warnings are errors; nothing is run there), runs the unit tests and the
#    integration tests (test/integration/NNN_*.sh, each against its own throwaway PostgreSQL 15)
# 3. builds again with AddressSanitizer + UBSan in build-asan/ and runs the unit tests and
#    the integration tests that drive agent code no other one drives under ASan (below)
# 4. runs the unit tests under valgrind and fuzzes each target
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
        echo "test/run.sh: PASS (gcc and clang builds, unit, integration, unit and the ASan list of integration again under ASan+UBSan, valgrind, fuzzing) in ${t}s"
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
    # The rule: every integration test has run once already (above); this pass repeats the
    # ones that drive agent code no other test drives under ASan - each sink's and
    # transport's write, restart (kill -9) and failure paths, the decoder's types, the
    # Iceberg sink's append/upsert/partition/REST/S3 paths once, error and garbage input
    # paths - and leaves out a test when what it adds is the same code again, code run by
    # test tools whose C code the unit tests run under ASan, or mostly time spent waiting
    # (a JVM, Python, a timer).  A new test runs here unless it is listed below with its
    # reason (README, "what runs twice", says the same).
    asan_skip=(
        # The Kafka transport tests driven by test tools (20x-22x: no agent).
        '20[0-9]' '21[0-9]' '22[0-9]'
        # The Debezium and Debezium Server reference runs (the reference's JVM is most of
        # their time; the agent's part runs here in 230, 240, 530, and 805-808 for 809;
        # 861 is 260 against Debezium 3.6.1).
        250 260 511 532 809 861
        # TLS to Kafka (librdkafka's code; the agent's TLS settings run in 400 and 408).
        405
        # The random-kill test (SIGKILLed agents report nothing; 070, 240, 330, 521, 538 and
        # 672 restart after kills here).
        447
        # The soak (it measures memory, which ASan's allocator distorts; its paths run in the
        # 4xx tests).
        480
        # The moto harness's self-test (no agent).
        509
        # The Iceberg building blocks driven by test tools (600-660: their C code runs under
        # ASan in the unit tests).
        '60[05]' '62[05]' '64[05]' 650 660
        # The verify variants beside 676 (677 S3, 686 no key, 687 REST: verify's own code
        # runs in 676; S3 and REST reads in 673 and 675).
        677 686 687
        # Spark reading Iceberg (the agent part is 675's; the rest is the JVM).
        679 690
        # A snapshot cut short by kill -9: 041 (phase 1) and 042 (the last part) restart
        # after that here, with three kinds of sink.
        045
        # Kafka and the snapshot across restarts: the Kafka restart path runs in 240 and 245,
        # the snapshot-record decisions in 041 and 042.
        248
        # PostgreSQL restarted (420) and the network cut (435): the reconnects, the re-sent
        # transactions skipped and the reconnect mid-transaction (plain, streamed, spilled)
        # run in 421; what remains of theirs is waiting on timers (back-off, the silence
        # detector).
        420 435
        # SIGTERM under a continuous load: the drain runs here in 446 (mid-transaction) and
        # 080 (idle), with the same code.
        445
        # Back-pressure for longer than wal_sender_timeout: 40 s of waiting by design; a
        # destination refusing while the agent waits runs in 300, 522, 534 and 674, and its
        # memory check is skipped under ASan anyway.
        422
        # The Kafka producer's default compression: librdkafka's settings, no code of ours
        # beyond 230's.
        450
        # Compaction of a partitioned table (706), with an s3:// warehouse (708) and on a
        # REST catalog (707): the compaction and its re-plans run here in 705, partitioned
        # writes in 678, S3 in 673, REST commits in 675 (their shapes in test_ice_rest).
        706 707 708
        # Snapshot expiry (701) and `cdcagent lakehouse` (711) through a REST catalog: the
        # expiry runs here in 700 (remove-snapshots in test_ice_expire), the lakehouse
        # commands in 710, REST commits in 675.
        701 711
        # The deploy/metrics lint and other 9xx checks run once.
        '9[0-9][0-9]'
    )
    asan_skip_re="it_($(IFS='|'; echo "${asan_skip[*]}"))_"
    # A sanitizer report makes the agent exit non-zero, which every test checks on stop.
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        run integration-asan ctest --test-dir build-asan --output-on-failure -L integration \
            -E "$asan_skip_re"
fi

step "valgrind memcheck on the unit tests"
run valgrind bash test/valgrind.sh build

step "fuzzing: saved crashers replayed, then ${CDC_FUZZ_SECONDS:-30} s per target"
run fuzz bash test/fuzz/run.sh "${CDC_FUZZ_SECONDS:-30}"

summary
