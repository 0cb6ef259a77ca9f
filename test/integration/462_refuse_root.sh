#!/usr/bin/env bash
# 462: the container image sets CDCAGENT_REFUSE_ROOT=1 (deploy/docker/Dockerfile).  With it,
# `cdcagent run` as root exits 2 with a message saying what to do, before it reads the
# configuration or connects anywhere; validate, version, help and help config still work.
# Without it (unset, or any value but 1), and for a non-root user even with it, run goes on
# (here: to "cannot connect", exit 1, since nothing listens on the configured port).
# Needs no PostgreSQL.  The root cases need root; the non-root case needs root to switch
# to the user pg.sh runs servers as (runuser); each is a TAP SKIP otherwise.
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "$0")/common.sh"

need_agent
PORT=$(free_port)               # nothing listens there: run gets as far as connecting
P_SNAPSHOT=never write_pipeline
write_platform
ARGS=("$T/pipeline.yaml" --platform-config "$T/platform.yaml")
WANT="cdcagent: run: refusing to run as root inside the container image; run as the image's cdcagent user (uid 10001) or unset CDCAGENT_REFUSE_ROOT"

# run_as ENV_VALUE [USER]: cdcagent run with CDCAGENT_REFUSE_ROOT=ENV_VALUE ("-": unset),
# as USER when given; sets RC and OUT (stdout and stderr).
run_as() {
    local val=$1 user=${2:-} envs=(env -u CDCAGENT_REFUSE_ROOT)
    [ "$val" = - ] || envs+=("CDCAGENT_REFUSE_ROOT=$val")
    RC=0
    if [ -n "$user" ]; then
        OUT=$(cd / && runuser -u "$user" -- "${envs[@]}" "$CDCAGENT" run "${ARGS[@]}" 2>&1) || RC=$?
    else
        OUT=$("${envs[@]}" "$CDCAGENT" run "${ARGS[@]}" 2>&1) || RC=$?
    fi
}

if [ "$(id -u)" -ne 0 ]; then
    ok "# SKIP the root cases: this test runs as uid $(id -u)"
    run_as 1
    expect_eq "non-root with CDCAGENT_REFUSE_ROOT=1: not refused (exit 1: cannot connect)" "$RC" 1
    done_testing
    exit 0
fi

run_as 1
expect_eq "root + CDCAGENT_REFUSE_ROOT=1: run exits 2" "$RC" 2
expect_eq "root + CDCAGENT_REFUSE_ROOT=1: the message, alone (nothing read, nothing connected)" "$OUT" "$WANT"

# The same process environment: the other commands are not refused.
export CDCAGENT_REFUSE_ROOT=1
for cmd in "validate ${ARGS[*]}" version help "help config"; do
    # shellcheck disable=SC2086  # word splitting wanted: the command and its arguments
    cdc $cmd
    expect_eq "root + CDCAGENT_REFUSE_ROOT=1: '$cmd' exits 0 ($(head -c 200 "$T/cdc.err"))" "$CDC_RC" 0
    if grep -q "refusing" "$T/cdc.out" "$T/cdc.err"; then fail "'$cmd' printed a refusal"; fi
done
expect_contains "validate still says valid" "$(cd / && "$CDCAGENT" validate "${ARGS[@]}" 2>&1)" "valid"
unset CDCAGENT_REFUSE_ROOT

for val in - 0 "" yes; do
    run_as "$val"
    case "$OUT" in *refusing*) fail "root + CDCAGENT_REFUSE_ROOT='$val': refused: $OUT" ;; esac
    expect_eq "root + CDCAGENT_REFUSE_ROOT='$val' (- = unset): not refused, run exits 1 ($(printf '%s' "$OUT" | grep -o 'cannot connect[^:]*' | head -1))" "$RC" 1
    expect_contains "  ... because it went on to connect" "$OUT" "cannot connect to PostgreSQL at 127.0.0.1:$PORT"
done

# A non-root user with the image's setting: not refused.
user=$(pg_os_user)
if [ -n "$user" ] && runuser -u "$user" -- test -x "$CDCAGENT" && runuser -u "$user" -- test -r "$T/pipeline.yaml"; then
    run_as 1 "$user"
    expect_eq "user $user (uid $(id -u "$user")) + CDCAGENT_REFUSE_ROOT=1: not refused, run exits 1" "$RC" 1
    expect_contains "  ... because it went on to connect" "$OUT" "cannot connect to PostgreSQL at 127.0.0.1:$PORT"
else
    ok "# SKIP non-root case: no user to switch to, or it cannot read $CDCAGENT / $T"
fi

done_testing
