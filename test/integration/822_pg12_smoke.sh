#!/usr/bin/env bash
# 822: the version matrix's smoke set on PostgreSQL 12 (test/lib/pgver.sh's pinned package):
# snapshot then stream, every type, a streamed large transaction and a rolled-back one,
# TOAST, the protocol the agent chose, slot status against psql, kill -9 and restart
# (test/lib/pgsmoke.sh says what each step checks).
PG_MAJOR=12
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"
# shellcheck source=SCRIPTDIR/../lib/pgsmoke.sh
. "$CDC_SRC/test/lib/pgsmoke.sh"

pgsmoke_run
done_testing
