# shellcheck shell=bash
# A pool of background jobs for the test scripts that run many single-threaded programs
# (test/valgrind.sh, test/fuzz/run.sh): each program keeps one core to itself, as many run at
# once as there are cores.
#
#   . test/lib/pool.sh
#   pool_run JOBS COMMAND ITEM...   runs COMMAND ITEM for every ITEM, in the background, at
#                                   most JOBS at once (1 if JOBS is less), in the items'
#                                   order; returns once all have ended.  COMMAND writes its
#                                   own report (its exit status is not kept).
#   pool_jobs VAR                   the number of jobs: $VAR when set, else the cores

pool_run() {
    local max=$1 cmd=$2 running=0 item
    shift 2
    ((max >= 1)) || max=1
    for item in "$@"; do
        if ((running >= max)); then
            wait -n
            running=$((running - 1))
        fi
        "$cmd" "$item" &
        running=$((running + 1))
    done
    wait
}

pool_jobs() {
    local v=${!1:-}
    if [[ -n $v ]]; then echo "$v"; else nproc 2>/dev/null || echo 1; fi
}
