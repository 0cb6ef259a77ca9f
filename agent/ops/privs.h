/*
 * Checks on the process's own privileges, made before the agent starts
 * capturing.  Today one rule: inside the container image, which sets
 * CDCAGENT_REFUSE_ROOT=1 and runs as the unprivileged user cdcagent
 * (uid 10001), `cdcagent run` refuses an effective uid of 0, so that a
 * `docker run --user 0` or a pod without runAsNonRoot is noticed instead of
 * silently running a network-facing daemon as root.  Outside the image the
 * variable is unset and nothing is refused; an operator who really means to
 * run the image as root unsets it.
 *
 * Not here: database privileges (agent/source/publication.c checks those against the
 * server) and file permissions of the configuration.
 *
 * @thread any (reads the environment and the process's uid only).
 */
#ifndef CDC_AGENT_OPS_PRIVS_H
#define CDC_AGENT_OPS_PRIVS_H

#include <sys/types.h>

#include "agent/core/cdc_err.h"

/* The environment variable the container image sets. */
#define AGENT_PRIVS_REFUSE_ROOT_ENV "CDCAGENT_REFUSE_ROOT"

/**
 * The rule itself, without looking at the process: refuses when @p euid is 0
 * and @p refuse_env (the variable's value, NULL when unset) is exactly "1".
 * @returns 0 when allowed, or -1 with err set (CDC_E_CONFIG) saying what to do.
 */
int agent_privs_check_root(uid_t euid, const char *refuse_env, cdc_err *err);

/**
 * agent_privs_check_root() for this process: geteuid() and
 * getenv(CDCAGENT_REFUSE_ROOT).
 * @returns 0 when allowed, or -1 with err set (CDC_E_CONFIG).
 */
int agent_privs_refuse_root(cdc_err *err);

#endif
