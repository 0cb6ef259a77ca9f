# shellcheck shell=bash
# For the Pub/Sub integration tests (520-529), sourced after test/integration/common.sh.
#
#   ps_double_up ARGS...  starts the Pub/Sub double in $PS for project $PROJECT (pubsub_start
#                    with ARGS added) and exports PUBSUB_EMULATOR_HOST for the agent.
#   ps_agent_start   agent_start, then waits until this run logged "slot <slot>: streaming
#                    from" (written before common.sh's wait_slot_active also waited for the
#                    slot's consistent point; kept: the log line is this run's own).

ps_double_up() {
    pubsub_start "$PS" 0 --projects "$PROJECT" "$@"
    export PUBSUB_EMULATOR_HOST
    PUBSUB_EMULATOR_HOST=$(pubsub_host "$PS")
}

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
