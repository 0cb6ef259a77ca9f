# shellcheck shell=bash
# For the Pub/Sub integration tests (520-529), sourced after test/integration/common.sh.
#
#   ps_agent_start   agent_start, then waits until this run logged "slot <slot>: streaming
#                    from": common.sh's wait for the slot to be active returns while
#                    CREATE_REPLICATION_SLOT is still waiting for its consistent point (the
#                    creating walsender holds the slot), so rows written right then can fall
#                    before that point and never be sent (snapshot_mode never).

ps_agent_start() {
    local deadline
    agent_start
    deadline=$((SECONDS + 30))
    until [ "$(grep -c "\"slot [^ ]*: streaming from" "$T/agent.log")" -ge "$AGENT_RUNS" ]; do
        agent_alive || fail "agent exited before streaming (see agent.log)"
        [ "$SECONDS" -lt "$deadline" ] || fail "agent not streaming 30 s after start"
        sleep 0.1
    done
}
