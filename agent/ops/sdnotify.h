/*
 * The systemd notification protocol (sd_notify(3)) without libsystemd, for
 * Type=notify units (deploy/systemd/cdcagent.service).  When NOTIFY_SOCKET
 * is set, each call sends one datagram of newline-separated VAR=value
 * assignments to that AF_UNIX socket: a path, or an abstract name written
 * with a leading '@'.  Without NOTIFY_SOCKET every call does nothing, so the
 * agent calls them unconditionally.
 *
 * What the agent sends: READY=1 once it streams (after the snapshot, with the
 * slot and the destinations open), STATUS=... on state changes, WATCHDOG=1
 * at half of WATCHDOG_USEC when the unit sets WatchdogSec=, and STOPPING=1
 * when a stop was requested.  A failed send is logged once and otherwise
 * ignored: notification must never stop the agent.
 *
 * @thread main loop (the state is process-wide and unlocked).
 */
#ifndef CDC_AGENT_OPS_SDNOTIFY_H
#define CDC_AGENT_OPS_SDNOTIFY_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "agent/core/cdc_err.h"

/**
 * Turns a NOTIFY_SOCKET value into a socket address: "/run/systemd/notify"
 * (a path) or "@name" (the abstract name "\0name").
 * @returns 0 with *addr and *len set, or -1 with err set (CDC_E_CONFIG) for an
 *          empty value, a relative path, a name too long for sun_path, or an
 *          address family this code does not speak (vsock:).
 */
int agent_sd_address(const char *value, struct sockaddr_un *addr, socklen_t *len, cdc_err *err);

/**
 * Sends @p state ("READY=1\nSTATUS=streaming") as one datagram.
 * @returns 1 when sent, 0 when NOTIFY_SOCKET is unset, -1 when sending failed
 *          (logged the first time only).
 */
int agent_sd_notify(const char *state);

/* STATUS=<text>, formatted; newlines in the text become spaces. */
void agent_sd_status(const char *fmt, ...) CDC_PRINTF(1, 2);

/* READY=1 with a STATUS line, formatted. */
void agent_sd_ready(const char *fmt, ...) CDC_PRINTF(1, 2);

/* STOPPING=1 with a STATUS line, formatted. */
void agent_sd_stopping(const char *fmt, ...) CDC_PRINTF(1, 2);

/*
 * WATCHDOG=1 when the service manager asked for it (WATCHDOG_USEC, and
 * WATCHDOG_PID unset or ours) and half its interval has passed since the
 * last one.  Cheap: call it from the loop as often as convenient.
 */
void agent_sd_watchdog(void);

/* The watchdog interval asked for, in microseconds; 0 when none. */
uint64_t agent_sd_watchdog_usec(void);

/*
 * Sleeps @p seconds in slices of at most 250 ms (and a quarter of the
 * watchdog interval), keeping the watchdog fed,
 * and returns early once *stop is non-zero (stop may be NULL).
 */
void agent_sd_sleep(double seconds, volatile sig_atomic_t *stop);

/* Forgets the cached socket and watchdog settings (tests change the environment). */
void agent_sd_reset(void);

#endif
