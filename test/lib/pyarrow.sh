# shellcheck shell=bash
# A Python virtual environment with pyarrow, the independent Parquet reader of the Parquet
# writer's tests (sinks/iceberg/parquet/), in the git-ignored cache.
#
#   pyarrow_env   creates (once) $PYARROW_VENV with the pinned packages below and prints
#                 nothing; afterwards $PYARROW_PY is its python3.
#
# Pinned: pyarrow 17.0.0 and the numpy it was built against, and DuckDB 1.1.3, a second reader
# with a Parquet implementation of its own (manylinux wheels, no compiler).

CDC_CACHE=${CDC_CACHE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.cache}
PYARROW_PACKAGES=(pyarrow==17.0.0 numpy==1.26.4 duckdb==1.1.3)
PYARROW_VENV=$CDC_CACHE/venv-pyarrow-17.0.0
PYARROW_PY=$PYARROW_VENV/bin/python3

pyarrow_env() {
    local stamp=$PYARROW_VENV/.installed log=$PYARROW_VENV.log
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "${PYARROW_PACKAGES[*]}" ]; then return 0; fi
    mkdir -p "$CDC_CACHE" || return 1
    rm -rf "$PYARROW_VENV"
    if ! python3 -m venv "$PYARROW_VENV" >"$log" 2>&1; then
        echo "pyarrow.sh: python3 -m venv failed (apt-get install python3-venv); see $log" >&2
        return 1
    fi
    if ! "$PYARROW_PY" -m pip install -q --disable-pip-version-check --only-binary=:all: \
            "${PYARROW_PACKAGES[@]}" >>"$log" 2>&1; then
        echo "pyarrow.sh: pip install ${PYARROW_PACKAGES[*]} failed; see $log" >&2
        tail -n 10 "$log" >&2
        return 1
    fi
    echo "${PYARROW_PACKAGES[*]}" >"$stamp"
}
