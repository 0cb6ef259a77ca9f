#!/usr/bin/env bash
# The test command:  bash test/run.sh
#
# 1. installs what is missing (deploy/local/deps.sh --test)
# 2. configures and builds in build/, runs the unit tests and the integration tests
#    (test/integration/NNN_*.sh, each against its own throwaway PostgreSQL) while building
#    everything once more with clang in build-clang/ (warnings are errors; nothing is run
#    there) and with AddressSanitizer + UBSan in build-asan/, in the background
# 3. runs the unit tests and the integration tests that drive agent code no other one drives
#    under ASan (below) against build-asan/
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

# The clang and the ASan builds run in the background, niced and one compiler at a time,
# while the unit and integration tests run (those mostly wait on servers and timers): that
# takes their three to four minutes of two cores off the run's wall time.  Their output goes
# to build/background-clang.log and build/background-asan.log, shown when a build fails.
background_builds() {
    if command -v clang >/dev/null; then
        { env CC=clang cmake -S . -B build-clang -G Ninja -DCDC_WERROR=ON &&
            nice -n 19 ninja -C build-clang -j 1; } >build/background-clang.log 2>&1
        echo $? >build/background-clang.status
    else
        echo "clang is not installed (deploy/local/deps.sh --test installs it)" >build/background-clang.log
        echo 127 >build/background-clang.status
    fi
    { cmake -S . -B build-asan -G Ninja -DCDC_SANITIZE=ON &&
        nice -n 19 ninja -C build-asan -j 1; } >build/background-asan.log 2>&1
    echo $? >build/background-asan.status
}
rm -f build/background-clang.status build/background-asan.status
background_builds &
BUILDS_PID=$!

# background_result NAME: 0 when the background build NAME (clang, asan) succeeded; else its
# log's end is shown and 1 returned.
background_result() {
    if [ "$(cat "build/background-$1.status" 2>/dev/null)" = 0 ]; then
        tail -n 1 "build/background-$1.log"
        return 0
    fi
    tail -n 40 "build/background-$1.log"
    return 1
}

step "unit tests"
run unit ctest --test-dir build --output-on-failure -L unit -j "$JOBS"

step "test tools (pinned, into .cache; one after the other)"
# The tests install what they use on first use, and two installers of the same tool at once
# would break each other: everything is installed here first, so the tests can run two at a
# time below.
run prefetch bash test/lib/prefetch.sh

step "integration tests"
# Two (the cores) at a time, as the ASan pass below: the ports are reserved across tests
# (common.sh), one JVM test at a time and the load and timing tests alone (CMakeLists.txt).
run integration ctest --test-dir build --output-on-failure -L integration -j "$JOBS"

wait "$BUILDS_PID"
step "build with clang (build-clang/, in the background above): agent, tools and tests, warnings are errors"
# Built only, not run: it catches what gcc lets by (e.g. -Wsometimes-uninitialized).
run build-clang background_result clang

step "build with ASan + UBSan (build-asan/, in the background above)"
if run build-asan background_result asan; then
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
        # their time; the agent's part runs here in 230, 240, 530, 805-808 for 809, and
        # 830, 833, 835 and 837 for 850's include lists, row filters and hashes; 861 is 260
        # against Debezium 3.6.1).
        250 260 511 532 809 850 861
        # 250 on PostgreSQL 17 (843): the same agent code as 250 and 827's every-type step.
        843
        # The crash failover (844): 840's script with the old primary stopped -m immediate;
        # the agent's reconnect and replay-skip run under ASan in 840.
        844
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
        # after that here, with three kinds of sink; 811 is that path for a keyless table in
        # parallel (802 runs the resumed snapshot here).
        045 811
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
        # The parallel snapshot's progress report (801: the same reader code as 800, which
        # runs here, plus timers), its kill -9 twice (802: the restart decisions run here in
        # 807 and 041), its memory bound (804: ASan's allocator distorts RSS), and signals
        # sent while the agent was down (806: the same incremental code as 805 and 807).
        801 802 804 806
        # Three million rows read three times (817): 800 runs the same code at 200k rows.
        817
        # 802 without a signal table (818: its watermark messages run here in 813, 810 without
        # a signal table) and 811 on PostgreSQL 13 (820: the version matrix, below).
        818 820
        # The PostgreSQL version matrix (821-828: each a real server of that version; what
        # differs per version in the agent is the protocol's parsing, run under ASan by
        # test_pgoutput, test_repl_proto and fuzz_pgoutput, and a few catalog queries).
        # 824 and 826-828 also resume a snapshot without a signal table (pgsmoke step 8):
        # per version: plain pass only (813 runs the watermark messages under ASan, 847 the
        # fallback when they cannot be written and the transaction records around them).
        '82[1-8]'
        # Filters beside 830, 833 and 835 (which run here): message key columns (831: the key
        # code of 830), the Debezium comparison (832: the JVM's time), the PostgreSQL 14
        # refusal (834), the publication following new tables (836: the ALTER of 835 on a
        # timer).
        831 832 834 836
        # Capture from a PostgreSQL 16 standby (842): the same capture code as everywhere;
        # the failover code runs here in 840 and 841.
        842
        # The deploy/metrics lint and other 9xx checks run once.
        '9[0-9][0-9]'
    )
    asan_skip_re="it_($(IFS='|'; echo "${asan_skip[*]}"))_"
    # A sanitizer report makes the agent exit non-zero, which every test checks on stop.
    # Two at a time, as the plain pass.
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        run integration-asan ctest --test-dir build-asan --output-on-failure -L integration \
            -j "$JOBS" -E "$asan_skip_re"
fi

step "valgrind memcheck on the unit tests"
run valgrind bash test/valgrind.sh build

step "fuzzing: saved crashers replayed, then ${CDC_FUZZ_SECONDS:-30} s per target"
run fuzz bash test/fuzz/run.sh "${CDC_FUZZ_SECONDS:-30}"

summary
